//! The human report: progress while the cases run (a bar redrawn in place on a terminal, one
//! plain line per case otherwise), every failure with its file, line, expected and actual values,
//! and the closing line `N passed, N failed`.

use std::io::Write;

use crate::discover::Source;
use crate::parse::Case;
use crate::runner::{CaseResult, Observer, Plan, Summary};

/// Width of the progress bar, in cells.
const BAR: usize = 24;
/// Longest label (file and case) shown after the bar, in characters.
const LABEL: usize = 48;

/// Writes the human report to `out`.
pub struct HumanReport<W: Write> {
    out: W,
    /// Redraw a progress bar (a terminal) instead of printing a line per case.
    bar: bool,
    total: usize,
    done: usize,
    failures: Vec<CaseResult>,
}

impl<W: Write> HumanReport<W> {
    /// A report to `out`; `bar` draws a progress bar in place (use it when `out` is a terminal).
    pub fn new(out: W, bar: bool) -> Self {
        Self {
            out,
            bar,
            total: 0,
            done: 0,
            failures: Vec::new(),
        }
    }

    /// The writer, back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn draw_bar(&mut self, now: &str) {
        // Keep the line short enough not to wrap, or `\r` could not redraw it in place.
        let count = now.chars().count();
        let now = if count > LABEL {
            let tail: String = now.chars().skip(count - (LABEL - 1)).collect();
            format!("…{tail}")
        } else {
            now.to_string()
        };
        let filled = (self.done * BAR).checked_div(self.total).unwrap_or(BAR);
        let _ = write!(
            self.out,
            "\r\x1b[2K[{}{}] {}/{} {now}",
            "#".repeat(filled),
            "-".repeat(BAR - filled),
            self.done,
            self.total
        );
        let _ = self.out.flush();
    }

    fn clear_bar(&mut self) {
        if self.bar {
            let _ = write!(self.out, "\r\x1b[2K");
        }
    }
}

// Write errors (a closed pipe, say) are ignored: the report is a courtesy; the exit status and the
// artifacts carry the result.
impl<W: Write> Observer for HumanReport<W> {
    fn run_start(&mut self, plan: &Plan) {
        self.total = plan.cases;
        let _ = writeln!(
            self.out,
            "running {} case{} from {} file{}",
            plan.cases,
            plural(plan.cases),
            plan.files,
            plural(plan.files)
        );
        if self.bar {
            self.draw_bar("");
        }
    }

    fn case_start(&mut self, source: &Source, case: &Case) {
        if self.bar {
            self.draw_bar(&format!("{} {}", source.path.display(), case.name));
        }
    }

    fn case_end(&mut self, result: &CaseResult) {
        self.done += 1;
        let status = if result.passed() { "ok  " } else { "FAIL" };
        // `file:line case`: the line of its `test:case`, so terminals and editors can jump there.
        let line = format!(
            "{status} {}:{} {}",
            result.path.display(),
            result.line,
            result.case
        );
        if self.bar {
            // On a terminal only failures get a line of their own; the bar shows the rest.
            if !result.passed() {
                self.clear_bar();
                let _ = writeln!(self.out, "{line}");
            }
            self.draw_bar("");
        } else {
            let _ = writeln!(self.out, "{line}");
        }
        if !result.passed() {
            self.failures.push(result.clone());
        }
    }

    fn run_end(&mut self, summary: &Summary) {
        self.clear_bar();
        if !self.failures.is_empty() {
            let _ = writeln!(self.out, "\nfailures:");
            for f in &self.failures {
                let _ = writeln!(self.out, "\n{}", describe_failure(f));
            }
        }
        if summary.not_run > 0 {
            let _ = writeln!(
                self.out,
                "\nstopped at the first failure (--failfast): {} case{} not run",
                summary.not_run,
                plural(summary.not_run)
            );
        }
        let _ = writeln!(
            self.out,
            "\n{} passed, {} failed",
            summary.passed(),
            summary.failed()
        );
        let _ = self.out.flush();
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A failed case as a few lines: where (`file:line`), which directive, what went wrong, and the
/// expected and actual values. Empty for a case that passed.
pub fn describe_failure(result: &CaseResult) -> String {
    let Some(f) = result.failure() else {
        return String::new();
    };
    format!(
        "{}:{}: case `{}` failed at `{}`\n  {}\n  expected: {}\n  actual:   {}",
        result.path.display(),
        f.line,
        result.case,
        f.directive,
        f.message,
        f.expected,
        f.actual
    )
}
