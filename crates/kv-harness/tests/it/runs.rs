//! What a run does with the rest of its world: runs that find nothing, warnings, problems in the
//! JSON stream, the artifacts an earlier run left, the default path, the command line's own
//! flags, and other store backends.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kv_harness::{CaseBackend, CaseStore, InMemory, Options};
use serde_json::Value;

use crate::support::{harness, redact, scratch};

#[test]
fn a_run_that_finds_no_case_exits_2_naming_where_it_looked() {
    let dir = scratch("empty");
    fs::write(dir.join("notes.kv"), "#pragma test:case misnamed\n").unwrap();
    fs::write(dir.join("plain.ami"), "#pragma test:case misnamed\n").unwrap();
    fs::write(dir.join("readme.md"), "#pragma test:case not a case file\n").unwrap();
    fs::write(dir.join("typo_test.kv"), "#pragma  test:case spaced\n").unwrap();
    fs::create_dir_all(dir.join("sub/fixtures")).unwrap();
    fs::write(dir.join("sub/fixtures/f_test.kv"), "#pragma test:case f\n").unwrap();
    let path = dir.to_str().unwrap();
    let run = harness(&["test", path]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "", "no case runs");
    let d = dir.display();
    let expected = format!(
        "warning: {d}/typo_test.kv:1:1: `#pragma  test:case spaced` looks like a directive but is not one, so it is ignored (a directive starts with `#pragma test:` exactly: lower case, one space)\n\
         warning: {d}/typo_test.kv: no `#pragma test:case` line, so this file runs nothing\n\
         kv-harness: no case to run in {d} (folders are searched for *_test.kv and *_test.ami files holding `#pragma test:case` lines)\n  \
         skipped, the name does not end in _test.kv or _test.ami (rename it, or name the file itself):\n    \
         {d}/notes.kv\n    {d}/plain.ami\n  \
         read, but no `#pragma test:case` line in it:\n    {d}/typo_test.kv\n  \
         not searched, test fixtures (name the folder itself to run it):\n    {d}/sub/fixtures\n\
         pass --allow-empty if a run without cases is fine\n"
    );
    assert_eq!(run.stderr, expected);
}

#[test]
fn an_empty_folder_passes_with_allow_empty() {
    let dir = scratch("allow-empty");
    let path = dir.to_str().unwrap();
    let run = harness(&["test", path]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with(&format!("kv-harness: no case to run in {path} ")),
        "{}",
        run.stderr
    );
    let run = harness(&["test", path, "--allow-empty"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "running 0 cases from 0 files\n\n0 passed, 0 failed\n"
    );
}

#[test]
#[should_panic(expected = "no case to run in")]
fn assert_files_pass_fails_on_an_empty_set() {
    let dir = scratch("assert-empty");
    kv_harness::assert_files_pass(&[&*dir]);
}

#[test]
#[should_panic(expected = "no case to run")]
fn assert_script_fails_on_a_script_without_cases() {
    kv_harness::assert_script("empty_test.kv", "#pragma  test:case spaced\n");
}

#[test]
fn a_near_miss_directive_is_a_warning_with_its_line_and_the_run_goes_on() {
    let dir = scratch("near-miss");
    let file = dir.join("mixed_test.kv");
    fs::write(
        &file,
        "#pragma test:case real\n#pragma test:step put key=a value=1\n#Pragma test:case lost\n",
    )
    .unwrap();
    let run = harness(&[
        "test",
        file.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "warning: {}:3:1: `#Pragma test:case lost` looks like a directive but is not one, so it is ignored (a directive starts with `#pragma test:` exactly: lower case, one space)\n",
            file.display()
        )
    );
    assert!(run.stdout.ends_with("1 passed, 0 failed\n"));
}

fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_reports_each_problem_of_a_malformed_file_as_a_record() {
    let path = "crates/kv-harness/tests/fixtures/malformed/bad_duration_test.kv";
    let run = harness(&["test", path, "--json"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        redact(&run.stdout),
        format!(
            "{{\"schema\":\"test.v1\",\"type\":\"problem\",\"timestamp\":\"[timestamp]\",\"level\":\"error\",\"file\":\"{path}\",\"line\":3,\"column\":31,\"message\":\"unknown duration unit \\\"parsecs\\\" (expected ns, us, ms, s, m, h)\"}}\n\
             {{\"schema\":\"test.v1\",\"type\":\"problem\",\"timestamp\":\"[timestamp]\",\"level\":\"error\",\"file\":\"{path}\",\"line\":4,\"column\":42,\"message\":\"duration \\\"5\\\" has no unit (expected ns, us, ms, s, m, h, as in 5ms)\"}}\n"
        )
    );
    // The human message is still on stderr.
    assert!(
        run.stderr
            .contains(&format!("{path}:3:31: unknown duration unit"))
    );
}

#[test]
fn json_reports_a_missing_path_an_empty_run_and_warnings_as_records() {
    let run = harness(&["test", "no/such/cases", "--json"]);
    assert_eq!(run.code, 2);
    let r = records(&run.stdout);
    assert_eq!(r.len(), 1, "{}", run.stdout);
    assert_eq!(
        (
            &r[0]["type"],
            &r[0]["level"],
            &r[0]["file"],
            &r[0]["line"],
            &r[0]["column"]
        ),
        (
            &Value::from("problem"),
            &Value::from("error"),
            &Value::from("no/such/cases"),
            &Value::Null,
            &Value::Null
        )
    );
    assert_eq!(r[0]["message"], "no such file or folder (check the path)");

    let dir = scratch("json-empty");
    fs::write(dir.join("blank_test.kv"), "#pragma  test:case x\n").unwrap();
    let run = harness(&["test", dir.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 2);
    let r = records(&run.stdout);
    let levels: Vec<(&str, Value)> = r
        .iter()
        .map(|r| (r["level"].as_str().unwrap(), r["line"].clone()))
        .collect();
    assert_eq!(
        levels,
        [
            ("warning", Value::from(1)),
            ("warning", Value::Null),
            ("error", Value::Null)
        ]
    );
    assert_eq!(r[2]["file"], dir.to_str().unwrap());
    assert!(
        r[2]["message"]
            .as_str()
            .unwrap()
            .starts_with("no case to run in")
    );
}

#[test]
fn a_run_removes_the_artifacts_of_the_run_before_and_nothing_else() {
    let dir = scratch("stale");
    let out = dir.join("out");
    let kv = out.join("test/kv");
    let run = harness(&[
        "test",
        "examples/cases",
        "--verbose",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        kv.join("metrics.json").exists()
            && kv.join("basics_test.kv_put_get_del.dump.json").exists()
    );
    fs::write(kv.join("notes.txt"), "mine").unwrap();
    fs::create_dir_all(kv.join("keep.metrics.json")).unwrap();

    // A plain run writes only what its files ask for (emit=true in kv_test.ami and
    // original_test.ami).
    let run = harness(&["test", "examples/cases", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut left: Vec<String> = fs::read_dir(&kv)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "keep.metrics.json",
            "kv_test.ami_first.dump.json",
            "kv_test.ami_first.metrics.json",
            "kv_test.ami_second.dump.json",
            "kv_test.ami_second.metrics.json",
            "notes.txt",
            "original_test.ami_c1.dump.json",
            "original_test.ami_c1.metrics.json"
        ]
    );
}

#[test]
fn a_failing_keys_check_quotes_the_expectation_as_written() {
    let summary = kv_harness::run_script(
        "order_test.kv",
        "#pragma test:case c\n#pragma test:step put key=a value=1\n#pragma test:step keys expect=\"b, a\"\n#pragma test:case none\n#pragma test:step put key=a value=1\n#pragma test:step keys expect=\"\"\n",
        &Options::default(),
    )
    .unwrap();
    let f = summary.results[0].failure().unwrap();
    assert_eq!(
        (f.expected.as_str(), f.actual.as_str()),
        ("\"b, a\"", "\"a\"")
    );
    let f = summary.results[1].failure().unwrap();
    assert_eq!(
        (f.expected.as_str(), f.actual.as_str()),
        ("\"\" (no keys)", "\"a\"")
    );
}

#[test]
fn the_default_path_runs_the_examples_and_not_the_fixtures() {
    let out = scratch("default-path");
    let run = harness(&["test", "--json", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = records(&run.stdout);
    let files: std::collections::BTreeSet<&str> = r
        .iter()
        .filter(|r| r["type"] == "test_start")
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert!(files.contains("examples/cases/basics_test.kv"), "{files:?}");
    assert!(files.iter().all(|f| !f.contains("fixtures")), "{files:?}");
}

#[test]
fn version_and_help() {
    let run = harness(&["--version"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        format!("kv-harness {}\n", env!("CARGO_PKG_VERSION"))
    );
    let run = harness(&["test", "--help"]);
    assert_eq!(run.code, 0);
    for flag in [
        "-j, --parallel <N>",
        "-v, --verbose",
        "--color <WHEN>",
        "--allow-empty",
        "Examples:",
    ] {
        assert!(run.stdout.contains(flag), "{flag} in:\n{}", run.stdout);
    }
    let run = harness(&["test", "--paralel", "2"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("tip: a similar argument exists: '--parallel'"),
        "{}",
        run.stderr
    );
    let run = harness(&[
        "test",
        "-v",
        "examples/cases/ttl_test.kv",
        "--out",
        scratch("short-v").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "-v is --verbose, not a path: {}", run.stderr);
}

#[test]
fn color_always_colours_the_status_and_never_does_not() {
    let out = scratch("color");
    let args = |when| {
        [
            "test",
            "examples/cases/ttl_test.kv",
            "--color",
            when,
            "--out",
            out.to_str().unwrap(),
        ]
    };
    let run = harness(&args("always"));
    assert!(
        run.stdout
            .contains("\x1b[32mok\x1b[0m   examples/cases/ttl_test.kv:2"),
        "{:?}",
        run.stdout
    );
    let run = harness(&args("never"));
    assert!(!run.stdout.contains('\x1b'), "{:?}", run.stdout);
}

#[test]
fn a_run_of_many_cases_takes_time_in_proportion() {
    // One file of n cases; each puts its own key, and the dump keeps every key: the shape that
    // was quadratic. Doubling n must not quadruple the time (a little slack for noise: 3x).
    let dir = scratch("scale");
    let write = |n: usize| {
        let path = dir.join(format!("scale_{n}_test.kv"));
        let mut text = String::with_capacity(n * 60);
        for i in 0..n {
            text.push_str(&format!(
                "#pragma test:case c{i}\n#pragma test:step put key=k{i} value=x\n"
            ));
        }
        fs::write(&path, text).unwrap();
        path
    };
    let options = Options {
        kv_dump: true,
        keep_passed: false,
        out: dir.join("out"),
        ..Options::default()
    };
    let time = |path: &PathBuf| {
        let started = std::time::Instant::now();
        let summary = kv_harness::run(std::slice::from_ref(path), &options).unwrap();
        (started.elapsed(), summary)
    };
    let (small, large) = (write(5_000), write(20_000));
    // The best of three of each, so one descheduling does not decide.
    let best = |p: &PathBuf| (0..3).map(|_| time(p).0).min().unwrap();
    let (t_small, t_large) = (best(&small), best(&large));
    let (_, summary) = time(&large);
    assert_eq!(summary.passed(), 20_000);
    assert!(
        summary.results.is_empty(),
        "keep_passed off keeps no passing result"
    );
    assert_eq!(summary.totals.keys.len(), 20_000);
    assert!(
        t_large < t_small * 8 + Duration::from_millis(500),
        "4x the cases took {:.1}x the time ({t_small:?} -> {t_large:?})",
        t_large.as_secs_f64() / t_small.as_secs_f64()
    );
}

#[test]
fn totals_keep_keys_only_when_the_dump_is_due() {
    let path = crate::support::root().join("examples/cases/original_test.ami");
    let out = scratch("totals");
    let plain = Options {
        out: out.to_path_buf(),
        ..Options::default()
    };
    let summary = kv_harness::run(std::slice::from_ref(&path), &plain).unwrap();
    assert!(summary.totals.keys.is_empty());
    let dump = Options {
        kv_dump: true,
        ..plain
    };
    let summary = kv_harness::run(std::slice::from_ref(&path), &dump).unwrap();
    assert_eq!(summary.totals.keys.iter().collect::<Vec<_>>(), ["a", "b"]);
}

/// A backend that wraps the in-memory one and can be told to fail.
struct Flaky {
    fail_open: bool,
}

/// An error of the flaky backend.
#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused (127.0.0.1:6379)")
    }
}

impl std::error::Error for Down {}

impl CaseBackend for Flaky {
    fn open(&self, ns: &str) -> Result<CaseStore, kvstore::BoxError> {
        if self.fail_open {
            return Err(kvstore::BoxError::new(Down));
        }
        let inner = InMemory.open(ns)?;
        Ok(CaseStore {
            store: inner.store,
            advance: Box::new(|_| Err(kvstore::BoxError::new(Down))),
        })
    }
}

#[test]
fn a_backend_error_fails_the_case_with_its_message() {
    let text = "#pragma test:case c\n#pragma test:step put key=a value=1\n#pragma test:step advance by=1s\n#pragma test:step get key=a expect=1\n";
    let run = |fail_open| {
        let options = Options {
            backend: Arc::new(Flaky { fail_open }),
            ..Options::default()
        };
        kv_harness::run_script("backend_test.kv", text, &options).unwrap()
    };
    let summary = run(true);
    let f = summary.results[0].failure().expect("the case fails");
    assert_eq!(
        (f.line, f.message.as_str()),
        (
            1,
            "the backend could not open a store for namespace ``: connection refused (127.0.0.1:6379)"
        )
    );
    let summary = run(false);
    let f = summary.results[0].failure().expect("the case fails");
    assert_eq!(
        (f.line, f.directive.as_str(), f.message.as_str()),
        (
            3,
            "advance by=1s",
            "the backend failed: connection refused (127.0.0.1:6379)"
        )
    );
    // Up to the failure the case went through the backend's store.
    assert_eq!(summary.results[0].run.snapshot.keys, ["a"]);
}
