//! The human report in a real terminal (tmux), at several widths: the progress bar fits the width
//! while cases run and leaves no line behind when the run ends. Skipped, with a message, when
//! tmux is not installed. Without a terminal there is no bar at all.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{harness, scratch};

/// A tmux server of our own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Option<Output> {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .ok()
    }

    /// The pane's text, wrapped lines joined (`-J`), so a line wider than the pane shows as one
    /// long line.
    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", "kvh"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A progress line: `[###>---] 12/345 ...` or, on a narrow terminal, `12/345 ...`.
fn is_progress(line: &str) -> bool {
    let rest = match line.strip_prefix('[') {
        Some(r) => match r.split_once("] ") {
            Some((gauge, rest)) if gauge.chars().all(|c| "#>-".contains(c)) => rest,
            _ => return false,
        },
        None => line,
    };
    let count = rest.split(' ').next().unwrap_or_default();
    matches!(count.split_once('/'), Some((a, b))
        if !a.is_empty() && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit()))
}

/// 2000 quick cases and two that sleep 1.5 s each, so the bar is on screen for seconds; every
/// name is long enough to run past 80 columns unless the bar cuts it.
fn suite(dir: &Path) -> usize {
    let mut quick = String::new();
    for i in 0..2000 {
        quick.push_str(&format!(
            "#pragma test:case quick_case_with_a_name_long_enough_to_run_past_eighty_columns_{i}\n#pragma test:step put key=k{i} value=v\n"
        ));
    }
    fs::write(dir.join("quick_test.kv"), quick).unwrap();
    fs::write(
        dir.join("slow_test.ami"),
        "#pragma test:runtime input={\"sleep_ms\":1500}\n#pragma test:case slow_case_with_a_name_long_enough_to_run_past_eighty_columns_1\n#pragma test:case slow_case_with_a_name_long_enough_to_run_past_eighty_columns_2\n",
    )
    .unwrap();
    2002
}

fn check_width(width: u16) {
    let dir = scratch(&format!("tmux-{width}"));
    let cases = suite(&dir);
    let tmux = Tmux {
        socket: format!("kv-harness-it-{}-{width}", std::process::id()),
    };
    let command = format!(
        "'{}' test '{}' --out '{}'; echo kvh-exit=$?; sleep 120",
        env!("CARGO_BIN_EXE_kv-harness"),
        dir.display(),
        dir.join("out").display()
    );
    let (w, h) = (width.to_string(), "40".to_string());
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "kvh",
        "-x",
        &w,
        "-y",
        &h,
        "sh",
        "-c",
        &command,
    ]);
    assert!(
        started.as_ref().is_some_and(|o| o.status.success()),
        "tmux could not start a session: {started:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut saw_bar = false;
    let screen = loop {
        let screen = tmux.capture();
        if screen.contains("kvh-exit=") {
            break screen;
        }
        for line in screen.lines().filter(|l| is_progress(l)) {
            saw_bar = true;
            assert!(
                line.trim_end().chars().count() <= usize::from(width),
                "at {width} columns the progress line is {} wide:\n{line}",
                line.chars().count()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the run did not end in 120 s:\n{screen}"
        );
        thread::sleep(Duration::from_millis(50));
    };
    assert!(
        saw_bar,
        "at {width} columns no progress bar was drawn:\n{screen}"
    );
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        !lines.iter().any(|l| is_progress(l)),
        "at {width} columns a progress line was left behind:\n{screen}"
    );
    let end = lines.iter().position(|l| l.starts_with("kvh-exit="));
    assert_eq!(
        end.map(|i| &lines[i - 2..=i]),
        Some(
            &[
                &*format!("running {cases} cases from 2 files"),
                &*format!("{cases} passed, 0 failed"),
                "kvh-exit=0"
            ][..]
        ),
        "at {width} columns:\n{screen}"
    );
}

#[test]
fn the_progress_bar_fits_the_terminal_and_leaves_no_stale_lines() {
    if !tmux_available() {
        eprintln!(
            "skipped: tmux is not installed, so the progress bar cannot be checked in a terminal"
        );
        return;
    }
    // The widths run side by side, each in its own tmux server.
    let widths = [80, 50, 24];
    thread::scope(|s| {
        for width in widths {
            s.spawn(move || check_width(width));
        }
    });
}

#[test]
fn the_progress_bar_is_absent_when_stdout_is_not_a_terminal() {
    let out = scratch("no-terminal");
    let run = harness(&["test", "examples/cases", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stdout.contains('\r') && !run.stdout.contains('\x1b'),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout.lines().all(|l| !is_progress(l)));
    assert!(
        run.stdout
            .contains("\nok   examples/cases/basics_test.kv:2 put_get_del\n")
    );
}

#[test]
fn the_progress_bar_redraws_at_most_20_times_a_second() {
    // `script` gives the run a pseudo-terminal and hands back every byte it wrote.
    let available = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!(
            "skipped: `script` (util-linux) is not installed, so there is no terminal to count redraws on"
        );
        return;
    }
    // Many quick cases: without a limit each would redraw the bar at least once.
    let dir = scratch("redraws");
    let cases = 20_000;
    let mut text = String::new();
    for i in 0..cases {
        text.push_str(&format!(
            "#pragma test:case c{i}\n#pragma test:step put key=k{i} value=v\n"
        ));
    }
    fs::write(dir.join("many_test.kv"), text).unwrap();
    let command = format!(
        "stty cols 80 rows 24; '{}' test '{}' --out '{}'",
        env!("CARGO_BIN_EXE_kv-harness"),
        dir.display(),
        dir.join("out").display()
    );
    let started = Instant::now();
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script runs");
    let seconds = started.elapsed().as_secs_f64();
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{raw}");
    assert!(raw.contains(&format!("{cases} passed, 0 failed")), "{raw}");
    // Every redraw starts by clearing the bar's line.
    let redraws = raw.matches("\x1b[2K").count();
    assert!(redraws > 0, "no bar was drawn:\n{raw}");
    // 20 a second, plus the burst the rate limiter allows at the start.
    let limit = (20.0 * seconds).ceil() as usize + 25;
    assert!(
        redraws <= limit,
        "{redraws} redraws in {seconds:.1} s for {cases} cases (at most {limit})"
    );
    eprintln!("{redraws} redraws in {seconds:.1} s for {cases} cases (at most {limit})");
}
