//! Cases with wrong expectations fail, each naming its file, line, expected and actual values.

use crate::support::{FIXTURES, harness, scratch};

#[test]
fn a_wrong_expectation_shows_expected_and_actual() {
    let out = scratch("failing");
    let run = harness(&[
        "test",
        &format!("{FIXTURES}/failing"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let file = format!("{FIXTURES}/failing/wrong_expectations_test.kv");
    for block in [
        format!(
            "{file}:4: case `wrong_value` failed at `get key=a expect=2`\n  get `a` returned the wrong value\n  expected: \"2\"\n  actual:   \"1\""
        ),
        format!(
            "{file}:9: case `wrong_metrics` failed at `metrics hits=1 misses=3`\n  the counters differ\n  expected: hits=1 misses=3\n  actual:   hits=1 misses=0"
        ),
        format!(
            "{file}:13: case `wrong_keys` failed at `keys expect=\"a,b\"`\n  the live keys differ\n  expected: \"a,b\"\n  actual:   \"a\""
        ),
        format!(
            "{file}:17: case `expected_miss` failed at `get key=a expect_miss=true`\n  get `a` returned the wrong value\n  expected: a miss (no live entry)\n  actual:   \"1\""
        ),
        format!(
            "{FIXTURES}/failing/output_mismatch_test.ami:2: case `c1` failed at `test:runtime`\n  the runtime's output differs from output=\n  expected: {{\"x\":2}}\n  actual:   {{\"x\":1}}"
        ),
    ] {
        assert!(
            run.stdout.contains(&block),
            "missing:\n{block}\n\nin:\n{}",
            run.stdout
        );
    }
    assert_eq!(run.stdout.lines().last(), Some("1 passed, 5 failed"));
}

#[test]
fn failfast_stops_starting_cases() {
    let run = harness(&[
        "test",
        &format!("{FIXTURES}/failfast"),
        "--failfast",
        "--json",
    ]);
    assert_eq!(run.code, 1);
    let last = crate::support::redact(run.stdout.lines().last().unwrap());
    assert_eq!(
        last,
        r#"{"schema":"test.v1","type":"run_end","timestamp":"[timestamp]","passed":0,"failed":1,"not_run":2,"duration_ms":0}"#
    );
    let ran = harness(&["test", &format!("{FIXTURES}/failfast")]);
    assert_eq!(ran.stdout.lines().last(), Some("2 passed, 1 failed"));
}

#[test]
fn a_runtime_timeout_fails_unless_expected() {
    let summary = kv_harness::run_script(
        "slow_test.ami",
        "#pragma test:case slow\n#pragma test:runtime input={\"sleep_ms\":5000} timeout=10\n",
        &kv_harness::Options::default(),
    )
    .unwrap();
    let failure = summary.results[0].failure().expect("the case times out");
    assert_eq!(
        failure.message,
        "the runtime timed out after 10 ms (input sleep_ms exceeds timeout)"
    );
    assert_eq!(
        (failure.expected.as_str(), failure.actual.as_str()),
        ("no error", "error E_TIMEOUT")
    );
}

#[test]
fn the_added_store_operations_fail_with_expected_and_actual() {
    let summary = kv_harness::run_script(
        "added_ops_test.kv",
        concat!(
            "#pragma test:case get_or_insert\n",
            "#pragma test:step put key=a value=1\n",
            "#pragma test:step get_or_insert key=a value=2 expect=2\n",
            "#pragma test:case remove_value\n",
            "#pragma test:step remove key=a expect=1\n",
            "#pragma test:case remove_none\n",
            "#pragma test:step put key=a value=1\n",
            "#pragma test:step remove key=a expect_none=true\n",
            "#pragma test:case retain\n",
            "#pragma test:step put key=u:1 value=1\n",
            "#pragma test:step put key=u:2 value=1\n",
            "#pragma test:step retain drop_prefix=u: expect_removed=1\n",
        ),
        &kv_harness::Options::default(),
    )
    .unwrap();
    let failures: Vec<(usize, &str, &str, &str)> = summary
        .results
        .iter()
        .map(|r| {
            let f = r.failure().expect("every case fails");
            (
                f.line,
                f.message.as_str(),
                f.expected.as_str(),
                f.actual.as_str(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        [
            (
                3,
                "get_or_insert `a` returned the wrong value",
                "\"2\"",
                "\"1\""
            ),
            (
                5,
                "remove `a` returned the wrong value",
                "\"1\"",
                "none (no live entry removed)"
            ),
            (
                8,
                "remove `a` returned the wrong value",
                "none (no live entry removed)",
                "\"1\""
            ),
            (
                12,
                "retain drop_prefix=\"u:\" removed 2 live entries",
                "1",
                "2"
            ),
        ]
    );
}
