//! What a case file means: its cases and their steps, and the per-file `test:runtime` and
//! `test:kv` settings, read from the directive lines (`case-format.md`).
//!
//! Every problem in a file is collected, each with its line and column, so one run reports all
//! of them; a file with any problem yields no cases.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use kvstore::PutOptions;
use serde_json::{Map, Value};

use crate::FileError;
use crate::syntax::{self, Arg, SyntaxError};

/// The runtime stand-in's default time limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// A parsed case file.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseFile {
    /// The cases, in file order.
    pub cases: Vec<Case>,
    /// The runtime stand-in's settings for every case of the file.
    pub runtime: RuntimeSpec,
    /// The `test:kv` settings for every case of the file.
    pub kv: KvSpec,
    /// Lines that look like directives but are not (`#pragma  test:case`, `#Pragma test:case`):
    /// ignored, as the format says, and reported as warnings with their positions.
    pub warnings: Vec<FileError>,
}

/// One `#pragma test:case` and the steps below it.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The case's name, unique within its file.
    pub name: String,
    /// The line of its `test:case` directive.
    pub line: usize,
    /// Its steps, in file order.
    pub steps: Vec<Step>,
}

/// One `#pragma test:step` directive.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Its line in the file.
    pub line: usize,
    /// The directive as written after `test:step` (`get key=a expect=1`), for messages.
    pub text: String,
    /// What it does.
    pub op: Op,
}

/// What a step does and checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A put with options.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// TTL, sliding, read budget.
        options: PutOptions,
    },
    /// A get, checked when `expect` is set.
    Get {
        /// The key.
        key: String,
        /// What the get must return.
        expect: Option<GetExpect>,
    },
    /// A get-or-insert: the live value (a hit), else one miss and a put of `value` with
    /// `options`; the value returned is checked when `expect` is set.
    GetOrInsert {
        /// The key.
        key: String,
        /// The value stored when the key holds no live entry.
        value: String,
        /// TTL, sliding, read budget of that put.
        options: PutOptions,
        /// What the call must return.
        expect: Option<String>,
    },
    /// Checks `has`.
    Has {
        /// The key.
        key: String,
        /// Whether the key must be live.
        expect: bool,
    },
    /// A delete, checked when `expect` is set.
    Del {
        /// The key.
        key: String,
        /// Whether a live entry must have been removed.
        expect: Option<bool>,
    },
    /// A remove (a delete that returns the value), checked when `expect` is set.
    Remove {
        /// The key.
        key: String,
        /// The value it must return ([`GetExpect::Miss`]: none, no live entry was removed).
        expect: Option<GetExpect>,
    },
    /// Removes every live entry whose key starts with `drop_prefix` (the store trait's
    /// `remove_prefix`), checking how many when `expect_removed` is set.
    Retain {
        /// Entries whose keys start with this go; the others stay.
        drop_prefix: String,
        /// How many live entries it must remove.
        expect_removed: Option<usize>,
    },
    /// Checks the live keys, compared sorted.
    Keys {
        /// The keys, sorted.
        expect: Vec<String>,
        /// The `expect=` value as written, for messages.
        written: String,
    },
    /// Moves the case's manual clock forward.
    Advance {
        /// How far.
        by: Duration,
    },
    /// Sets the capacity (0: unbounded).
    Capacity {
        /// The new capacity.
        n: usize,
    },
    /// Reclaims expired entries now.
    Purge,
    /// Checks the counters that are given.
    Metrics(MetricsExpect),
}

/// What a `get` or `remove` step expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetExpect {
    /// This value.
    Value(String),
    /// No live entry (`expect_miss=true` of `get`, `expect_none=true` of `remove`).
    Miss,
}

/// The counters a `metrics` step checks; `None` is not checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsExpect {
    /// `hits=`
    pub hits: Option<u64>,
    /// `misses=`
    pub misses: Option<u64>,
    /// `expirations=`
    pub expirations: Option<u64>,
    /// `evictions=`
    pub evictions: Option<u64>,
    /// `currentSize=`
    pub current_size: Option<u64>,
}

/// The runtime stand-in's settings (`#pragma test:runtime`), the same for every case of a file.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeSpec {
    /// The input object (reserved keys `sleep_ms` and `error_code` included).
    pub input: Option<Map<String, Value>>,
    /// The output the stand-in must produce (compared by deep equality).
    pub output: Option<Value>,
    /// The error code the stand-in must fail with.
    pub expect_error: Option<String>,
    /// The time limit; `None` when `timeout=0` turned it off.
    pub timeout: Option<Duration>,
    /// The line of the last `test:runtime` directive, if any (where runtime failures point).
    pub line: Option<usize>,
}

impl Default for RuntimeSpec {
    fn default() -> Self {
        Self {
            input: None,
            output: None,
            expect_error: None,
            timeout: Some(DEFAULT_TIMEOUT),
            line: None,
        }
    }
}

/// The `#pragma test:kv` settings, merged over every such line of a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvSpec {
    /// The namespace (`""`: the default store).
    pub ns: String,
    /// Puts made before each case, in first-mention order (a later value for a key wins).
    pub puts: Vec<(String, String)>,
    /// Keys read after each case.
    pub gets: Vec<String>,
    /// Whether every case writes its per-case artifacts.
    pub emit: bool,
    /// The line of the first `test:kv` directive, if any.
    pub line: Option<usize>,
}

/// Parses the text of a case file. `path` is used only in error messages.
pub fn parse_file(path: &Path, text: &str) -> Result<CaseFile, Vec<FileError>> {
    let mut p = Parser {
        path,
        file: CaseFile {
            cases: Vec::new(),
            runtime: RuntimeSpec::default(),
            kv: KvSpec::default(),
            warnings: Vec::new(),
        },
        names: HashMap::new(),
        errors: Vec::new(),
    };
    for (i, line) in text.lines().enumerate() {
        p.line(i + 1, line);
    }
    if p.errors.is_empty() {
        Ok(p.file)
    } else {
        Err(p.errors)
    }
}

struct Parser<'a> {
    path: &'a Path,
    file: CaseFile,
    /// Case name → line of its declaration.
    names: HashMap<String, usize>,
    errors: Vec<FileError>,
}

impl Parser<'_> {
    fn error(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.errors
            .push(FileError::at(self.path, line, column, message));
    }

    fn line(&mut self, n: usize, line: &str) {
        let Some(head) = syntax::head(line) else {
            if let Some(column) = syntax::near_miss(line) {
                self.file.warnings.push(FileError::at(
                    self.path,
                    n,
                    column,
                    format!(
                        "`{}` looks like a directive but is not one, so it is ignored (a directive starts with `#pragma test:` exactly: lower case, one space)",
                        line.trim()
                    ),
                ));
            }
            return;
        };
        let result = match head.kind {
            "case" => self.case(n, line, head.rest),
            "runtime" => self.runtime(n, line, head.rest),
            "kv" => self.kv(n, line, head.rest),
            "step" => self.step(n, line, head.rest),
            other => Err(SyntaxError {
                column: head.kind_col,
                message: format!(
                    "unknown directive `test:{other}` (expected test:case, test:runtime, test:kv or test:step)"
                ),
            }),
        };
        if let Err(e) = result {
            self.error(n, e.column, e.message);
        }
    }

    fn case(&mut self, n: usize, line: &str, rest: usize) -> Result<(), SyntaxError> {
        let (name, col) = syntax::whole_value(line, rest)?;
        if name.is_empty() {
            return Err(SyntaxError {
                column: col,
                message: "missing case name (expected #pragma test:case <name>)".into(),
            });
        }
        if let Some(first) = self.names.get(&name) {
            return Err(SyntaxError {
                column: col,
                message: format!(
                    "duplicate case name `{name}` (first declared on line {first}; names are unique within a file)"
                ),
            });
        }
        self.names.insert(name.clone(), n);
        self.file.cases.push(Case {
            name,
            line: n,
            steps: Vec::new(),
        });
        Ok(())
    }

    fn runtime(&mut self, n: usize, line: &str, rest: usize) -> Result<(), SyntaxError> {
        let args = Args::new(syntax::args(line, rest)?, "test:runtime")?;
        args.only(&["input", "output", "expect_error", "timeout"])?;
        let spec = &mut self.file.runtime;
        // As in the original harness, each line sets the keys it gives (non-empty), later lines
        // overriding earlier ones.
        if let Some(a) = args.get("input").filter(|a| !a.value.is_empty()) {
            let value = json(a)?;
            let Value::Object(map) = value else {
                return Err(at(a, "input= must be a JSON object, like {\"x\":1}"));
            };
            check_reserved(a, &map)?;
            spec.input = Some(map);
        }
        if let Some(a) = args.get("output").filter(|a| !a.value.is_empty()) {
            spec.output = Some(json(a)?);
        }
        if let Some(a) = args.get("expect_error").filter(|a| !a.value.is_empty()) {
            spec.expect_error = Some(a.value.clone());
        }
        if let Some(a) = args.get("timeout").filter(|a| !a.value.is_empty()) {
            let t = match a.value.parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => duration(a)?,
            };
            spec.timeout = (!t.is_zero()).then_some(t);
        }
        spec.line = Some(n);
        Ok(())
    }

    fn kv(&mut self, n: usize, line: &str, rest: usize) -> Result<(), SyntaxError> {
        let args = Args::new(syntax::args(line, rest)?, "test:kv")?;
        args.only(&["ns", "put", "get", "emit"])?;
        let spec = &mut self.file.kv;
        spec.line.get_or_insert(n);
        if let Some(a) = args.get("ns").filter(|a| !a.value.is_empty()) {
            spec.ns = a.value.clone();
        }
        if let Some(a) = args.get("put") {
            for pair in a.value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let Some((k, v)) = pair.split_once('=') else {
                    return Err(at(
                        a,
                        format!("bad put `{pair}` (expected put=\"k1=v1;k2=v2\")"),
                    ));
                };
                match spec.puts.iter_mut().find(|(key, _)| key == k) {
                    Some(existing) => existing.1 = v.to_string(),
                    None => spec.puts.push((k.to_string(), v.to_string())),
                }
            }
        }
        if let Some(a) = args.get("get") {
            spec.gets.extend(
                a.value
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(String::from),
            );
        }
        if let Some(a) = args.get("emit") {
            spec.emit |= boolean(a)?;
        }
        Ok(())
    }

    fn step(&mut self, n: usize, line: &str, rest: usize) -> Result<(), SyntaxError> {
        let at_op = line[rest..]
            .find(|c: char| !c.is_whitespace())
            .map_or(line.len(), |i| rest + i);
        let op_end = line[at_op..]
            .find(char::is_whitespace)
            .map_or(line.len(), |i| at_op + i);
        let op_name = &line[at_op..op_end];
        let op_col = syntax::column(line, at_op);
        let args = syntax::args(line, op_end)?;
        if self.file.cases.is_empty() {
            return Err(SyntaxError {
                column: syntax::column(line, line.len() - line.trim_start().len()),
                message: "step before any case (put a `#pragma test:case <name>` above it)".into(),
            });
        }
        let what = format!("step {op_name}");
        let args = Args::new(args, &what)?;
        let op = match op_name {
            "put" => {
                args.only(&["key", "value", "ttl", "sliding", "max_reads"])?;
                Op::Put {
                    key: args.required("key", op_col)?.value.clone(),
                    value: args.required("value", op_col)?.value.clone(),
                    options: put_options(&args)?,
                }
            }
            "get" => {
                args.only(&["key", "expect", "expect_miss"])?;
                Op::Get {
                    key: args.required("key", op_col)?.value.clone(),
                    expect: value_or_none(&args, "expect_miss")?,
                }
            }
            "get_or_insert" => {
                args.only(&["key", "value", "ttl", "sliding", "max_reads", "expect"])?;
                Op::GetOrInsert {
                    key: args.required("key", op_col)?.value.clone(),
                    value: args.required("value", op_col)?.value.clone(),
                    options: put_options(&args)?,
                    expect: args.get("expect").map(|a| a.value.clone()),
                }
            }
            "remove" => {
                args.only(&["key", "expect", "expect_none"])?;
                Op::Remove {
                    key: args.required("key", op_col)?.value.clone(),
                    expect: value_or_none(&args, "expect_none")?,
                }
            }
            "retain" => {
                args.only(&["drop_prefix", "expect_removed"])?;
                Op::Retain {
                    drop_prefix: args.required("drop_prefix", op_col)?.value.clone(),
                    expect_removed: args.get("expect_removed").map(number).transpose()?,
                }
            }
            "has" => {
                args.only(&["key", "expect"])?;
                Op::Has {
                    key: args.required("key", op_col)?.value.clone(),
                    expect: boolean(args.required("expect", op_col)?)?,
                }
            }
            "del" => {
                args.only(&["key", "expect"])?;
                Op::Del {
                    key: args.required("key", op_col)?.value.clone(),
                    expect: args.get("expect").map(boolean).transpose()?,
                }
            }
            "keys" => {
                args.only(&["expect"])?;
                let written = args.required("expect", op_col)?.value.clone();
                let mut expect: Vec<String> = written
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(String::from)
                    .collect();
                expect.sort();
                Op::Keys { expect, written }
            }
            "advance" => {
                args.only(&["by"])?;
                Op::Advance {
                    by: duration(args.required("by", op_col)?)?,
                }
            }
            "capacity" => {
                args.only(&["n"])?;
                Op::Capacity {
                    n: number(args.required("n", op_col)?)?,
                }
            }
            "purge" => {
                args.only(&[])?;
                Op::Purge
            }
            "metrics" => {
                args.only(&["hits", "misses", "expirations", "evictions", "currentSize"])?;
                let get = |k| args.get(k).map(number::<u64>).transpose();
                Op::Metrics(MetricsExpect {
                    hits: get("hits")?,
                    misses: get("misses")?,
                    expirations: get("expirations")?,
                    evictions: get("evictions")?,
                    current_size: get("currentSize")?,
                })
            }
            "" => {
                return Err(SyntaxError {
                    column: op_col,
                    message: format!("missing step op (expected one of {OPS})"),
                });
            }
            other => {
                return Err(SyntaxError {
                    column: op_col,
                    message: format!("unknown step op `{other}` (expected one of {OPS})"),
                });
            }
        };
        let text = line[at_op..].trim_end().to_string();
        if let Some(case) = self.file.cases.last_mut() {
            case.steps.push(Step { line: n, text, op });
        }
        Ok(())
    }
}

const OPS: &str =
    "put, get, get_or_insert, has, del, remove, retain, keys, advance, capacity, purge, metrics";

/// The options of a put: `ttl=`, `sliding=true`, `max_reads=` (of `put` and `get_or_insert`).
fn put_options(args: &Args) -> Result<PutOptions, SyntaxError> {
    let mut options = PutOptions::new();
    if let Some(a) = args.get("ttl") {
        options = options.with_ttl(duration(a)?);
    }
    if args.get("sliding").map(boolean).transpose()? == Some(true) {
        options = options.with_sliding_ttl();
    }
    if let Some(a) = args.get("max_reads") {
        options = options.with_max_reads(number(a)?);
    }
    Ok(options)
}

/// What a step that returns a value expects: `expect=<value>`, or `<none>=true` (`expect_miss`
/// of `get`, `expect_none` of `remove`) for no value, or nothing checked.
fn value_or_none(args: &Args, none: &str) -> Result<Option<GetExpect>, SyntaxError> {
    let nothing = match args.get(none) {
        Some(a) => boolean(a)?,
        None => false,
    };
    match (args.get("expect"), nothing) {
        (Some(a), true) => Err(at(a, format!("give expect= or {none}=true, not both"))),
        (Some(a), false) => Ok(Some(GetExpect::Value(a.value.clone()))),
        (None, true) => Ok(Some(GetExpect::Miss)),
        (None, false) => Ok(None),
    }
}

/// A directive's arguments, each given at most once.
struct Args {
    args: Vec<Arg>,
    what: String,
}

impl Args {
    fn new(args: Vec<Arg>, what: &str) -> Result<Self, SyntaxError> {
        for (i, a) in args.iter().enumerate() {
            if args[..i].iter().any(|b| b.key == a.key) {
                return Err(SyntaxError {
                    column: a.key_col,
                    message: format!("`{}` is given twice in this {what}", a.key),
                });
            }
        }
        Ok(Self {
            args,
            what: what.to_string(),
        })
    }

    fn only(&self, known: &[&str]) -> Result<(), SyntaxError> {
        match self.args.iter().find(|a| !known.contains(&a.key.as_str())) {
            None => Ok(()),
            Some(a) => Err(SyntaxError {
                column: a.key_col,
                message: if known.is_empty() {
                    format!("unknown argument `{}`: {} takes none", a.key, self.what)
                } else {
                    format!(
                        "unknown argument `{}` for {} (expected {})",
                        a.key,
                        self.what,
                        known.join(", ")
                    )
                },
            }),
        }
    }

    fn get(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.key == key)
    }

    fn required(&self, key: &str, column: usize) -> Result<&Arg, SyntaxError> {
        self.get(key).ok_or_else(|| SyntaxError {
            column,
            message: format!("{} needs {key}=", self.what),
        })
    }
}

fn at(a: &Arg, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        column: a.value_col,
        message: message.into(),
    }
}

fn boolean(a: &Arg) -> Result<bool, SyntaxError> {
    match a.value.as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(at(
            a,
            format!(
                "bad boolean \"{other}\" for {} (expected true or false)",
                a.key
            ),
        )),
    }
}

fn number<T: std::str::FromStr>(a: &Arg) -> Result<T, SyntaxError> {
    let v = a.value.as_str();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = v.parse() {
            return Ok(n);
        }
        return Err(at(a, format!("number \"{v}\" for {} is too large", a.key)));
    }
    Err(at(
        a,
        format!(
            "bad number \"{v}\" for {} (expected a whole number, like 3)",
            a.key
        ),
    ))
}

/// A duration: a whole number and a unit (`250ms`, `5s`, `2m`).
fn duration(a: &Arg) -> Result<Duration, SyntaxError> {
    let v = a.value.as_str();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    if digits.is_empty() {
        return Err(at(
            a,
            format!(
                "bad duration \"{v}\" for {} (expected a whole number and a unit, like 250ms or 5s)",
                a.key
            ),
        ));
    }
    let unit_col = a.value_col + digits.chars().count();
    let Ok(n) = digits.parse::<u64>() else {
        return Err(at(a, format!("duration \"{v}\" is too large")));
    };
    let per_unit: u64 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => {
            return Err(SyntaxError {
                column: unit_col,
                message: format!(
                    "duration \"{v}\" has no unit (expected ns, us, ms, s, m, h, as in {v}ms)"
                ),
            });
        }
        other => {
            return Err(SyntaxError {
                column: unit_col,
                message: format!(
                    "unknown duration unit \"{other}\" (expected ns, us, ms, s, m, h)"
                ),
            });
        }
    };
    // Durations past u64 nanoseconds (584 years) saturate: for a TTL that means "never expires".
    Ok(Duration::from_nanos(n.saturating_mul(per_unit)))
}

/// A JSON value, with serde's position mapped onto the line.
fn json(a: &Arg) -> Result<Value, SyntaxError> {
    serde_json::from_str(&a.value).map_err(|e| {
        // The value sits on one line, so serde's column is an offset into it.
        let offset = e.column().saturating_sub(1);
        let msg = e.to_string();
        let reason = msg.split(" at line ").next().unwrap_or(&msg);
        SyntaxError {
            column: a.value_col + offset,
            message: format!("invalid JSON in {}=: {reason}", a.key),
        }
    })
}

/// The reserved input keys must have the types the stand-in can use.
fn check_reserved(a: &Arg, input: &Map<String, Value>) -> Result<(), SyntaxError> {
    if let Some(v) = input.get("sleep_ms").filter(|v| v.as_u64().is_none()) {
        return Err(at(
            a,
            format!("input sleep_ms must be a whole number of milliseconds, not {v}"),
        ));
    }
    if let Some(v) = input.get("error_code").filter(|v| !v.is_string()) {
        return Err(at(
            a,
            format!("input error_code must be a string, like \"E_BAD\", not {v}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CaseFile, Vec<String>> {
        parse_file(Path::new("f_test.kv"), text)
            .map_err(|es| es.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn reads_the_reference_original_file() {
        let f = parse(
            "// comment\n#pragma test:case c1\n#pragma test:runtime input={\"x\":1} output={\"x\":1}\n#pragma test:kv ns=\"P1/N1\" put=\"a=1;b=2\" get=\"a\" emit=true\n",
        )
        .unwrap();
        assert_eq!(f.cases.len(), 1);
        assert_eq!(f.kv.ns, "P1/N1");
        assert_eq!(
            f.kv.puts,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(f.kv.gets, vec!["a".to_string()]);
        assert!(f.kv.emit);
        assert_eq!(f.runtime.output, Some(serde_json::json!({"x": 1})));
        assert_eq!(f.runtime.timeout, Some(DEFAULT_TIMEOUT));
    }

    #[test]
    fn near_miss_directives_are_warnings_with_their_line() {
        let f = parse("#pragma test:case a\n#pragma  test:case b\n#Pragma test:case c\n").unwrap();
        assert_eq!(
            f.cases.len(),
            1,
            "near misses are ignored, as the format says"
        );
        let warnings: Vec<String> = f.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("f_test.kv:2:1: `#pragma  test:case b` looks like a directive"),
            "{warnings:?}"
        );
        assert!(warnings[1].starts_with("f_test.kv:3:1: `#Pragma test:case c`"));
    }

    #[test]
    fn kv_lines_merge() {
        let f = parse(
            "#pragma test:kv ns=a put=\"k=1;j=2\" get=k emit=1\n#pragma test:kv ns=\"\" put=\"k=3\" get=\"j, k\" emit=false\n",
        )
        .unwrap();
        assert_eq!(f.kv.ns, "a", "the last non-empty ns wins");
        assert_eq!(
            f.kv.puts,
            vec![("k".into(), "3".into()), ("j".into(), "2".into())]
        );
        assert_eq!(f.kv.gets, ["k", "j", "k"]);
        assert!(f.kv.emit, "emit stays true once set");
    }

    #[test]
    fn steps_belong_to_the_case_above() {
        let f = parse(
            "#pragma test:case a\n#pragma test:step put key=k value=v ttl=2m sliding=true max_reads=3\n#pragma test:case b\n#pragma test:step keys expect=\"b,a\"\n#pragma test:step metrics hits=1 currentSize=0\n",
        )
        .unwrap();
        assert_eq!(f.cases[0].steps.len(), 1);
        let Op::Put { options, .. } = &f.cases[0].steps[0].op else {
            panic!("a put")
        };
        assert_eq!(options.ttl(), Some(Duration::from_secs(120)));
        assert!(options.is_sliding());
        assert_eq!(options.max_reads(), Some(3));
        assert_eq!(
            f.cases[1].steps[0].op,
            Op::Keys {
                expect: vec!["a".into(), "b".into()],
                written: "b,a".into(),
            }
        );
        assert_eq!(
            f.cases[1].steps[1].op,
            Op::Metrics(MetricsExpect {
                hits: Some(1),
                current_size: Some(0),
                ..Default::default()
            })
        );
    }

    #[test]
    fn the_added_store_operations_parse_with_their_options() {
        let f = parse(concat!(
            "#pragma test:case c\n",
            "#pragma test:step get_or_insert key=k value=v ttl=1s sliding=true max_reads=2 expect=v\n",
            "#pragma test:step get_or_insert key=k value=v\n",
            "#pragma test:step remove key=k expect=v\n",
            "#pragma test:step remove key=k expect_none=true\n",
            "#pragma test:step remove key=k\n",
            "#pragma test:step retain drop_prefix=\"user:\" expect_removed=3\n",
            "#pragma test:step retain drop_prefix=\"\"\n",
        ))
        .unwrap();
        let ops: Vec<&Op> = f.cases[0].steps.iter().map(|s| &s.op).collect();
        let Op::GetOrInsert {
            key,
            value,
            options,
            expect,
        } = ops[0]
        else {
            panic!("a get_or_insert: {:?}", ops[0])
        };
        assert_eq!((key.as_str(), value.as_str()), ("k", "v"));
        assert_eq!(options.ttl(), Some(Duration::from_secs(1)));
        assert!(options.is_sliding());
        assert_eq!(options.max_reads(), Some(2));
        assert_eq!(expect.as_deref(), Some("v"));
        assert!(
            matches!(ops[1], Op::GetOrInsert { expect: None, options, .. } if options.ttl().is_none())
        );
        let remove = |expect| Op::Remove {
            key: "k".into(),
            expect,
        };
        assert_eq!(ops[2], &remove(Some(GetExpect::Value("v".into()))));
        assert_eq!(ops[3], &remove(Some(GetExpect::Miss)));
        assert_eq!(ops[4], &remove(None));
        assert_eq!(
            ops[5],
            &Op::Retain {
                drop_prefix: "user:".into(),
                expect_removed: Some(3),
            }
        );
        assert_eq!(
            ops[6],
            &Op::Retain {
                drop_prefix: String::new(),
                expect_removed: None,
            }
        );
    }

    #[test]
    fn the_added_store_operations_say_what_is_wrong_and_where() {
        let errs = parse(concat!(
            "#pragma test:case c\n",
            "#pragma test:step get_or_insert key=k\n",
            "#pragma test:step get_or_insert value=v\n",
            "#pragma test:step get_or_insert key=k value=v expect_miss=true\n",
            "#pragma test:step get_or_insert key=k value=v ttl=5\n",
            "#pragma test:step remove key=k expect=1 expect_none=true\n",
            "#pragma test:step remove key=k expect_none=yes\n",
            "#pragma test:step remove\n",
            "#pragma test:step retain prefix=user:\n",
            "#pragma test:step retain\n",
            "#pragma test:step retain drop_prefix=a expect_removed=-1\n",
        ))
        .unwrap_err();
        assert_eq!(
            errs,
            [
                "f_test.kv:2:19: step get_or_insert needs value=",
                "f_test.kv:3:19: step get_or_insert needs key=",
                "f_test.kv:4:47: unknown argument `expect_miss` for step get_or_insert (expected key, value, ttl, sliding, max_reads, expect)",
                "f_test.kv:5:52: duration \"5\" has no unit (expected ns, us, ms, s, m, h, as in 5ms)",
                "f_test.kv:6:39: give expect= or expect_none=true, not both",
                "f_test.kv:7:44: bad boolean \"yes\" for expect_none (expected true or false)",
                "f_test.kv:8:19: step remove needs key=",
                "f_test.kv:9:26: unknown argument `prefix` for step retain (expected drop_prefix, expect_removed)",
                "f_test.kv:10:19: step retain needs drop_prefix=",
                "f_test.kv:11:55: bad number \"-1\" for expect_removed (expected a whole number, like 3)",
            ]
        );
    }

    #[test]
    fn unknown_duration_unit_names_its_column() {
        let errs =
            parse("#pragma test:case c\n\n#pragma test:step advance by=3parsecs\n").unwrap_err();
        assert_eq!(
            errs,
            ["f_test.kv:3:31: unknown duration unit \"parsecs\" (expected ns, us, ms, s, m, h)"]
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let errs = parse(concat!(
            "#pragma test:step get key=a\n",
            "#pragma test:case c\n",
            "#pragma test:case c\n",
            "#pragma test:nope\n",
            "#pragma test:step fly key=a\n",
            "#pragma test:step capacity n=-1\n",
            "#pragma test:runtime input={\"x\":}\n",
            "#pragma test:step get key=a expect=1 expect_miss=true\n",
            "#pragma test:step put key=a\n",
            "#pragma test:step put key=a value=1 key=b\n",
        ))
        .unwrap_err();
        assert_eq!(errs.len(), 9, "{errs:#?}");
        assert!(errs[0].starts_with("f_test.kv:1:1: step before any case"));
        assert!(
            errs[1]
                .starts_with("f_test.kv:3:19: duplicate case name `c` (first declared on line 2")
        );
        assert!(errs[2].starts_with("f_test.kv:4:14: unknown directive `test:nope`"));
        assert!(errs[3].starts_with("f_test.kv:5:19: unknown step op `fly`"));
        assert!(errs[4].starts_with("f_test.kv:6:30: bad number \"-1\" for n"));
        assert!(
            errs[5].starts_with("f_test.kv:7:33: invalid JSON in input=: expected value"),
            "{}",
            errs[5]
        );
        assert!(errs[6].contains("not both"));
        assert!(errs[7].ends_with("step put needs value="));
        assert!(errs[8].contains("`key` is given twice"));
    }

    #[test]
    fn runtime_lines_override_key_by_key() {
        let f = parse(
            "#pragma test:runtime input={\"a\": 1, \"sleep_ms\": 5} timeout=10\n#pragma test:runtime expect_error=E_X timeout=0\n",
        )
        .unwrap();
        assert_eq!(f.runtime.input.unwrap()["a"], 1);
        assert_eq!(f.runtime.expect_error.as_deref(), Some("E_X"));
        assert_eq!(f.runtime.timeout, None, "timeout=0 turns the limit off");
        let errs = parse("#pragma test:runtime input=[1]\n").unwrap_err();
        assert!(errs[0].contains("must be a JSON object"), "{errs:?}");
        let errs = parse("#pragma test:runtime input={\"sleep_ms\":\"x\"}\n").unwrap_err();
        assert!(
            errs[0].contains("sleep_ms must be a whole number"),
            "{errs:?}"
        );
    }
}
