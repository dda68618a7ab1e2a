//! The `--json` event stream: one JSON object a line, the `test.v1` records below in a fixed field
//! order, and with `--kv-events` the `diag.v1` records of `kv-metrics` after each `test_end`.
//!
//! ```text
//! {"schema":"test.v1","type":"run_start","timestamp":"…","files":1,"cases":2,"parallel":1}
//! {"schema":"test.v1","type":"test_start","timestamp":"…","file":"ttl_test.kv","case":"fixed_ttl","line":2}
//! {"schema":"test.v1","type":"test_end","timestamp":"…","file":"ttl_test.kv","case":"fixed_ttl","line":2,"status":"pass","duration_ms":0}
//! {"schema":"test.v1","type":"test_end",…,"status":"fail","duration_ms":0,"reason":{"line":6,"directive":"get key=a expect=2","message":"get `a` returned the wrong value","expected":"\"2\"","actual":"\"1\""}}
//! {"schema":"test.v1","type":"run_end","timestamp":"…","passed":1,"failed":1,"not_run":0,"duration_ms":3}
//! ```
//!
//! `file` is the case file relative to the directory argument (its name, for a file argument);
//! `line` is the `test:case` line; `reason` appears on failures only, its `line` the failing
//! directive's; `not_run` counts cases `--failfast` never started.
//!
//! Every problem is a `problem` record: the warnings before `run_start`, and the errors that stop
//! a run (which then has no `run_start`), one record each:
//!
//! ```text
//! {"schema":"test.v1","type":"problem","timestamp":"…","level":"error","file":"cases/bad_test.kv","line":3,"column":31,"message":"unknown duration unit \"parsecs\" (expected ns, us, ms, s, m, h)"}
//! ```
//!
//! Its `file` is the path as the user can reach it (`null` for a bad command line); `line` and
//! `column` are 1-based, `null` when the problem is not at a place in a file.

use std::io::Write;

use kv_metrics::{CaseRef, DiagRecord, Timestamp};
use serde::Serialize;

use crate::discover::Source;
use crate::error::{Error, FileError};
use crate::parse::Case;
use crate::runner::{CaseResult, Observer, Plan, Summary};

/// The schema name of the stream's own records.
pub const TEST_SCHEMA: &str = "test.v1";

/// `run_start`: before the first case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunStart {
    /// Always `test.v1`.
    pub schema: &'static str,
    /// Always `run_start`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the record was written (UTC, milliseconds).
    pub timestamp: Timestamp,
    /// Case files in the run.
    pub files: usize,
    /// Cases in the run.
    pub cases: usize,
    /// Worker threads.
    pub parallel: usize,
}

/// `test_start` (a case has started), and the head of every `test_end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestStart<'a> {
    /// Always `test.v1`.
    pub schema: &'static str,
    /// `test_start`, or `test_end` as the head of one.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the record was written.
    pub timestamp: Timestamp,
    /// The case file.
    pub file: &'a str,
    /// The case.
    pub case: &'a str,
    /// The line of the `test:case` directive.
    pub line: usize,
}

impl<'a> TestStart<'a> {
    /// The record of `kind` for the case at `file:line`, stamped now.
    fn new(kind: &'static str, file: &'a str, case: &'a str, line: usize) -> Self {
        Self {
            schema: TEST_SCHEMA,
            kind,
            timestamp: Timestamp::now(),
            file,
            case,
            line,
        }
    }
}

/// `test_end`: a case has ended, with its status and, on failure, the reason. Its first fields
/// are a `test_start`'s, with `type` set to `test_end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestEnd<'a> {
    /// Schema, type, timestamp, file, case and line.
    #[serde(flatten)]
    pub head: TestStart<'a>,
    /// `pass` or `fail`.
    pub status: &'static str,
    /// Wall time of the case, in whole milliseconds.
    pub duration_ms: u64,
    /// Why it failed; absent when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason<'a>>,
}

/// Why a case failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason<'a> {
    /// The failing directive's line.
    pub line: usize,
    /// The failing directive, as written.
    pub directive: &'a str,
    /// What went wrong.
    pub message: &'a str,
    /// What the directive expected.
    pub expected: &'a str,
    /// What happened instead.
    pub actual: &'a str,
}

/// `run_end`: after the last case, with the counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunEnd {
    /// Always `test.v1`.
    pub schema: &'static str,
    /// Always `run_end`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the record was written.
    pub timestamp: Timestamp,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases `--failfast` never started.
    pub not_run: usize,
    /// Wall time of the run, in whole milliseconds.
    pub duration_ms: u64,
}

/// `problem`: something wrong with the run's input, at a place when it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem<'a> {
    /// Always `test.v1`.
    pub schema: &'static str,
    /// Always `problem`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the record was written.
    pub timestamp: Timestamp,
    /// `error` (the run stopped, exit status 2) or `warning` (the run went on).
    pub level: &'static str,
    /// The file or folder, as the user can reach it; `None` (`null`) for a bad command line.
    pub file: Option<String>,
    /// 1-based line, when the problem is at a place in a file.
    pub line: Option<usize>,
    /// 1-based column in characters, when the problem is at a place in a file.
    pub column: Option<usize>,
    /// What is wrong and what to do.
    pub message: &'a str,
}

impl<'a> Problem<'a> {
    /// The record of `problem` at `level` (`error` or `warning`), stamped now.
    pub fn new(level: &'static str, problem: &'a FileError) -> Self {
        let file = problem.path.as_os_str();
        Self {
            schema: TEST_SCHEMA,
            kind: "problem",
            timestamp: Timestamp::now(),
            level,
            file: (!file.is_empty()).then(|| problem.path.display().to_string()),
            line: problem.line,
            column: problem.column,
            message: &problem.message,
        }
    }
}

/// Writes the `--json` stream to `out`.
pub struct JsonStream<W: Write> {
    out: W,
    kv_events: bool,
}

impl<W: Write> JsonStream<W> {
    /// A stream to `out`; `kv_events` adds the `diag.v1` `KV_METRICS` and `KV_DUMP` records.
    pub fn new(out: W, kv_events: bool) -> Self {
        Self { out, kv_events }
    }

    /// The writer, back.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes a `problem` record (level `error`) for every problem of an error that stopped the
    /// run.
    pub fn error(&mut self, error: &Error) {
        for p in error.problems() {
            self.line(&Problem::new("error", &p));
        }
        let _ = self.out.flush();
    }

    fn line<T: Serialize>(&mut self, record: &T) {
        // Cannot fail: every record is plain strings and numbers.
        if let Ok(text) = serde_json::to_string(record) {
            // A closed pipe ends the reader's interest, not the run: write errors are ignored.
            let _ = writeln!(self.out, "{text}");
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<W: Write> Observer for JsonStream<W> {
    fn warning(&mut self, warning: &FileError) {
        self.line(&Problem::new("warning", warning));
    }

    fn run_start(&mut self, plan: &Plan) {
        self.line(&RunStart {
            schema: TEST_SCHEMA,
            kind: "run_start",
            timestamp: Timestamp::now(),
            files: plan.files,
            cases: plan.cases,
            parallel: plan.parallel,
        });
    }

    fn case_start(&mut self, source: &Source, case: &Case) {
        self.line(&TestStart::new(
            "test_start",
            &source.name,
            &case.name,
            case.line,
        ));
    }

    fn case_end(&mut self, result: &CaseResult) {
        self.line(&TestEnd {
            head: TestStart::new("test_end", &result.file, &result.case, result.line),
            status: if result.passed() { "pass" } else { "fail" },
            duration_ms: millis(result.run.duration),
            reason: result.failure().map(|f| Reason {
                line: f.line,
                directive: &f.directive,
                message: &f.message,
                expected: &f.expected,
                actual: &f.actual,
            }),
        });
        if self.kv_events {
            let snap = &result.run.snapshot;
            let case = CaseRef {
                file: &result.file,
                case: &result.case,
                ns: &snap.ns,
            };
            let now = Timestamp::now();
            let metrics = DiagRecord::kv_metrics(case, &snap.metrics, now).to_json_line();
            let dump = DiagRecord::kv_dump(case, &snap.keys, now).to_json_line();
            let _ = self.out.write_all(metrics.as_bytes());
            let _ = self.out.write_all(dump.as_bytes());
        }
    }

    fn run_end(&mut self, summary: &Summary) {
        self.line(&RunEnd {
            schema: TEST_SCHEMA,
            kind: "run_end",
            timestamp: Timestamp::now(),
            passed: summary.passed(),
            failed: summary.failed(),
            not_run: summary.not_run,
            duration_ms: millis(summary.duration),
        });
        let _ = self.out.flush();
    }
}
