//! The human report: progress while the cases run (on a terminal, an `indicatif` bar that fits
//! the width and redraws at most 20 times a second; otherwise one plain line per case), every
//! failure with its file, line, expected and actual values, and the closing line
//! `N passed, N failed`. Warnings go to stderr, before the first case.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::FileError;
use crate::discover::Source;
use crate::parse::Case;
use crate::runner::{CaseResult, Observer, Plan, Summary};

/// Most redraws of the bar per second.
const REDRAWS_PER_SECOND: u8 = 20;

/// The bar: a fixed-width gauge, the count, and the running case in whatever width is left (cut
/// to fit, so the line never wraps).
const TEMPLATE: &str = "[{bar:20}] {pos}/{len} {wide_msg}";
/// On a terminal too narrow for the gauge and a useful part of the case's name: the count and
/// what room is left.
const NARROW_TEMPLATE: &str = "{pos}/{len} {wide_msg}";
/// Columns below which the gauge gives way to the count.
const NARROW: u16 = 60;

/// Writes the human report to `out`.
pub struct HumanReport<W: Write> {
    out: W,
    /// Draw a progress bar on the terminal's stdout instead of printing a line per case.
    want_bar: bool,
    bar: Option<ProgressBar>,
    color: bool,
    failures: Vec<CaseResult>,
}

impl<W: Write> HumanReport<W> {
    /// A report to `out`; `bar` draws a progress bar on the terminal's stdout (use it only when
    /// `out` is that stdout and it is a terminal).
    pub fn new(out: W, bar: bool) -> Self {
        Self {
            out,
            want_bar: bar,
            bar: None,
            color: false,
            failures: Vec::new(),
        }
    }

    /// Colours `ok` green and `FAIL` red (`--color`); off by default.
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// The writer, back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn status(&self, passed: bool) -> &'static str {
        match (passed, self.color) {
            (true, false) => "ok  ",
            (false, false) => "FAIL",
            (true, true) => "\x1b[32mok\x1b[0m  ",
            (false, true) => "\x1b[1;31mFAIL\x1b[0m",
        }
    }
}

// Write errors (a closed pipe, say) are ignored: the report is a courtesy; the exit status and the
// artifacts carry the result.
impl<W: Write> Observer for HumanReport<W> {
    fn warning(&mut self, warning: &FileError) {
        let label = if self.color {
            "\x1b[1;33mwarning\x1b[0m"
        } else {
            "warning"
        };
        let _ = writeln!(std::io::stderr(), "{label}: {warning}");
    }

    fn run_start(&mut self, plan: &Plan) {
        let _ = writeln!(
            self.out,
            "running {} case{} from {} file{}",
            plan.cases,
            plural(plan.cases),
            plan.files,
            plural(plan.files)
        );
        let _ = self.out.flush();
        if self.want_bar {
            let width = console::Term::stdout()
                .size_checked()
                .map_or(80, |(_, w)| w);
            let template = if width < NARROW {
                NARROW_TEMPLATE
            } else {
                TEMPLATE
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("#>-");
            let target = ProgressDrawTarget::stdout_with_hz(REDRAWS_PER_SECOND);
            let bar = ProgressBar::with_draw_target(Some(plan.cases as u64), target);
            bar.set_style(style);
            self.bar = Some(bar);
        }
    }

    fn case_start(&mut self, source: &Source, case: &Case) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} {}", source.name, case.name));
        }
    }

    fn case_end(&mut self, result: &CaseResult) {
        // `file:line case`: the line of its `test:case`, so terminals and editors can jump there.
        let line = format!(
            "{} {}:{} {}",
            self.status(result.passed()),
            result.path.display(),
            result.line,
            result.case
        );
        let Self { out, bar, .. } = self;
        match bar {
            // On a terminal only failures get a line of their own; the bar shows the rest.
            Some(bar) => {
                if !result.passed() {
                    bar.suspend(|| {
                        let _ = writeln!(out, "{line}");
                        let _ = out.flush();
                    });
                }
                bar.inc(1);
            }
            None => {
                let _ = writeln!(out, "{line}");
            }
        }
        if !result.passed() {
            self.failures.push(result.clone());
        }
    }

    fn run_end(&mut self, summary: &Summary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
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
