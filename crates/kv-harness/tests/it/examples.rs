//! Every example case passes, through the binary as the README runs it and through the library.

use crate::support::{harness, root, scratch};

#[test]
fn every_example_case_passes_through_the_readme_command() {
    let out = scratch("examples");
    let run = harness(&["test", "examples/cases", "--out", out.to_str().unwrap()]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let last = run.stdout.lines().last().unwrap_or_default();
    let files = kv_harness::load(&[root().join("examples/cases")]).unwrap();
    let cases: usize = files.iter().map(|f| f.file.cases.len()).sum();
    assert_eq!(last, format!("{cases} passed, 0 failed"));
    assert!(
        cases >= 20,
        "the examples cover every feature: {cases} cases"
    );
}

#[test]
fn every_example_case_passes_through_the_library() {
    let summary = kv_harness::assert_files_pass(&[root().join("examples/cases")]);
    assert_eq!(summary.failed(), 0);
    // The reference cases of the project are among them, unchanged.
    let names: Vec<&str> = summary.results.iter().map(|r| r.file.as_str()).collect();
    for reference in [
        "basics_test.kv",
        "lru_test.kv",
        "original_test.ami",
        "ttl_test.kv",
    ] {
        assert!(names.contains(&reference), "{reference} is run");
    }
}

#[test]
fn parallel_workers_report_in_the_same_order() {
    let run = |n: &str| {
        let out = scratch(&format!("parallel-{n}"));
        let run = harness(&[
            "test",
            "examples/cases",
            "--json",
            "--parallel",
            n,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        // Keep the order of (type, file, case, status), which must not depend on the workers.
        run.stdout
            .lines()
            .filter(|l| !l.contains("run_start"))
            .map(crate::support::redact)
            .collect::<Vec<_>>()
    };
    assert_eq!(run("1"), run("4"));
}
