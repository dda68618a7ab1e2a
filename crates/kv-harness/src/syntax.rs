//! The text of one directive line: `#pragma test:<kind> <k>=<v> <k>=<v> ...`, split into its kind
//! and its arguments, with quoting as `case-format.md` gives it. Knows nothing of what the
//! directives mean (that is `parse`).
//!
//! - A value may be wrapped in `"` or `'` and then may hold spaces; inside `"..."`, `\"` and `\\`
//!   are escapes (any other backslash is kept as written). Inside `'...'` nothing is an escape.
//! - An unquoted value ends at white space.
//! - The values of `input=` and `output=` that start with `{` run to the matching `}` (braces inside
//!   JSON strings do not count), so JSON may contain spaces.

/// The prefix that makes a line a directive (after leading white space).
pub(crate) const PREFIX: &str = "#pragma test:";

/// A problem in a line's text, at a 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub column: usize,
    pub message: String,
}

/// One `key=value` argument, with the columns of the key and of the value (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arg {
    pub key: String,
    pub key_col: usize,
    pub value: String,
    pub value_col: usize,
}

/// A directive line's kind (`case`, `step`, ...) and where the rest of the line starts (a byte
/// offset), or `None` when the line is not a directive.
pub(crate) struct Head<'a> {
    pub kind: &'a str,
    pub kind_col: usize,
    pub rest: usize,
}

/// Splits off the kind of a directive line; `None` for every other line.
pub(crate) fn head(line: &str) -> Option<Head<'_>> {
    let indent = line.len() - line.trim_start().len();
    if !line[indent..].starts_with(PREFIX) {
        return None;
    }
    let start = indent + PREFIX.len();
    let end = line[start..]
        .find(char::is_whitespace)
        .map_or(line.len(), |i| start + i);
    Some(Head {
        kind: &line[start..end],
        kind_col: column(line, start),
        rest: end,
    })
}

/// Whether a line that is not a directive looks like one misspelled (`#pragma  test:case`,
/// `#Pragma test:case`, `# pragma test:step`, `#pragma test case`): returns the column of its `#`.
/// Lines that merely mention a directive (`// #pragma test:case`) are not near misses.
pub(crate) fn near_miss(line: &str) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let text = &line[indent..];
    if text.starts_with(PREFIX) {
        return None;
    }
    let rest = text.strip_prefix('#')?.trim_start();
    let word_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if !rest[..word_end].eq_ignore_ascii_case("pragma") {
        return None;
    }
    let rest = rest[word_end..].trim_start();
    let word_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if !rest[..word_end].eq_ignore_ascii_case("test") {
        return None;
    }
    let rest = rest[word_end..].trim_start();
    let kind_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let kind = rest[..kind_end].to_ascii_lowercase();
    let looks_like =
        rest.starts_with(':') || matches!(kind.as_str(), "case" | "step" | "kv" | "runtime");
    looks_like.then(|| column(line, indent))
}

/// The 1-based character column of byte offset `at` in `line`.
pub(crate) fn column(line: &str, at: usize) -> usize {
    line[..at].chars().count() + 1
}

/// The rest of a line from byte `start` as one value: quoted (and then nothing may follow) or the
/// trimmed text. Used for case names. Returns the value and its column.
pub(crate) fn whole_value(line: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let at = skip_space(line, start);
    let col = column(line, at);
    match line[at..].chars().next() {
        Some(q @ ('"' | '\'')) => {
            let (value, end) = quoted(line, at, q)?;
            let after = skip_space(line, end);
            if after < line.len() {
                return Err(SyntaxError {
                    column: column(line, after),
                    message: format!(
                        "unexpected text after the quoted name: `{}`",
                        line[after..].trim_end()
                    ),
                });
            }
            Ok((value, col))
        }
        _ => Ok((line[at..].trim_end().to_string(), col)),
    }
}

/// The `key=value` arguments of a line from byte `start` on.
pub(crate) fn args(line: &str, start: usize) -> Result<Vec<Arg>, SyntaxError> {
    let mut out = Vec::new();
    let mut at = skip_space(line, start);
    while at < line.len() {
        let key_end = line[at..]
            .find(|c: char| c == '=' || c.is_whitespace())
            .map_or(line.len(), |i| at + i);
        if !line[key_end..].starts_with('=') {
            return Err(SyntaxError {
                column: column(line, at),
                message: format!("expected key=value, found `{}`", &line[at..key_end]),
            });
        }
        if key_end == at {
            return Err(SyntaxError {
                column: column(line, at),
                message: "missing the argument's name before `=` (expected key=value)".into(),
            });
        }
        let key = &line[at..key_end];
        let value_at = key_end + 1;
        let (value, end) = value(line, value_at, key)?;
        if end < line.len() && !line[end..].starts_with(char::is_whitespace) {
            return Err(SyntaxError {
                column: column(line, end),
                message: format!(
                    "expected a space after the value of `{key}`, found `{}`",
                    line[end..].chars().next().unwrap_or(' ')
                ),
            });
        }
        out.push(Arg {
            key: key.to_string(),
            key_col: column(line, at),
            value,
            value_col: column(line, value_at),
        });
        at = skip_space(line, end);
    }
    Ok(out)
}

fn skip_space(line: &str, from: usize) -> usize {
    line[from..]
        .find(|c: char| !c.is_whitespace())
        .map_or(line.len(), |i| from + i)
}

/// One value starting at byte `at`; returns it and the byte offset just past it.
fn value(line: &str, at: usize, key: &str) -> Result<(String, usize), SyntaxError> {
    match line[at..].chars().next() {
        Some(q @ ('"' | '\'')) => quoted(line, at, q),
        Some('{') if key == "input" || key == "output" => {
            let end = json_object_end(line, at)?;
            Ok((line[at..end].to_string(), end))
        }
        _ => {
            let end = line[at..]
                .find(char::is_whitespace)
                .map_or(line.len(), |i| at + i);
            Ok((line[at..end].to_string(), end))
        }
    }
}

/// A value in quotes `q` whose opening quote is at byte `at`.
fn quoted(line: &str, at: usize, q: char) -> Result<(String, usize), SyntaxError> {
    let mut out = String::new();
    let mut chars = line[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((out, at + 1 + i + 1));
        }
        if c == '\\' && q == '"' {
            match chars.clone().next() {
                Some((_, e @ ('"' | '\\'))) => {
                    out.push(e);
                    chars.next();
                    continue;
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    Err(SyntaxError {
        column: column(line, at),
        message: format!("unterminated quote: this {q} is never closed on its line"),
    })
}

/// The byte offset just past the `}` that closes the `{` at byte `at`, skipping braces inside
/// JSON strings.
fn json_object_end(line: &str, at: usize) -> Result<usize, SyntaxError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line[at..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(at + i + 1);
                }
            }
            _ => {}
        }
    }
    Err(SyntaxError {
        column: column(line, at),
        message: "unterminated JSON object: no matching `}` on this line".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments of a directive line (after the op, for a step).
    fn parse(line: &str) -> Result<Vec<(String, String)>, SyntaxError> {
        let h = head(line).expect("a directive");
        let mut start = h.rest;
        if h.kind == "step" {
            start = skip_space(line, start);
            start = line[start..]
                .find(char::is_whitespace)
                .map_or(line.len(), |i| start + i);
        }
        Ok(args(line, start)?
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_prefixed_lines_are_directives() {
        assert!(head("// #pragma test:case x").is_none());
        assert!(head("#pragma testcase x").is_none());
        let h = head("   #pragma test:case x").unwrap();
        assert_eq!((h.kind, h.kind_col), ("case", 17));
    }

    #[test]
    fn near_misses_are_spotted_and_mentions_are_not() {
        for line in [
            "#pragma  test:case c",
            "#Pragma test:case c",
            "  # pragma test:step put key=a value=1",
            "#PRAGMA TEST:case c",
            "#pragma test :case c",
            "#pragma test case c",
        ] {
            assert!(near_miss(line).is_some(), "{line}");
        }
        assert_eq!(near_miss("  #pragma  test:case c"), Some(3));
        for line in [
            "#pragma test:case c",
            "// #pragma test:case c",
            "#pragma once",
            "#pragma testing:case",
            "#include <x>",
            "",
        ] {
            assert_eq!(near_miss(line), None, "{line}");
        }
    }

    #[test]
    fn quoting_rules() {
        let got = parse(r#"#pragma test:kv ns="a b" put='k=v;x=\y' get=k emit=true"#).unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("ns", "a b"),
                ("put", r"k=v;x=\y"),
                ("get", "k"),
                ("emit", "true")
            ])
        );
        let got = parse(r#"#pragma test:step put key=k value="say \"hi\" \\ \n""#).unwrap();
        assert_eq!(got, pairs(&[("key", "k"), ("value", r#"say "hi" \ \n"#)]));
        assert_eq!(
            parse(r#"#pragma test:step put key=k value="""#).unwrap(),
            pairs(&[("key", "k"), ("value", "")])
        );
    }

    #[test]
    fn json_values_run_to_the_matching_brace() {
        let got = parse(r#"#pragma test:runtime input={"a": {"b": "}"}, "c": [1, 2]} output={}"#)
            .unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("input", r#"{"a": {"b": "}"}, "c": [1, 2]}"#),
                ("output", "{}")
            ])
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse(r#"#pragma test:step put key=k value="abc"#).unwrap_err();
        assert_eq!(e.column, 35);
        assert!(e.message.contains("unterminated quote"), "{}", e.message);
        let e = parse("#pragma test:step put key").unwrap_err();
        assert_eq!(
            (e.column, e.message.as_str()),
            (23, "expected key=value, found `key`")
        );
        let e = parse(r#"#pragma test:step put key="a"b"#).unwrap_err();
        assert_eq!(e.column, 30);
        let e = parse(r#"#pragma test:runtime input={"a":1"#).unwrap_err();
        assert!(e.message.contains("unterminated JSON"), "{}", e.message);
        let e = parse("#pragma test:step put =x").unwrap_err();
        assert_eq!(e.column, 23);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let line = "#pragma test:step put key=é value=\"x";
        let e = parse(line).unwrap_err();
        assert_eq!(e.column, 35);
    }

    #[test]
    fn whole_values_for_names() {
        assert_eq!(
            whole_value("#pragma test:case  my case ", 17).unwrap(),
            ("my case".to_string(), 20)
        );
        assert_eq!(whole_value(r#"x "a b""#, 1).unwrap().0, "a b");
        assert!(whole_value(r#"x "a b" c"#, 1).is_err());
    }
}
