//! The library face: the same runner from Rust, and scripted cases in a `#[test]`.

use std::path::PathBuf;

use kv_harness::{CaseResult, Observer, Options, Source};

#[test]
fn a_scripted_case_from_a_test() {
    let summary = kv_harness::assert_script(
        "tokens_test.kv",
        "#pragma test:case one_shot\n\
         #pragma test:step put key=t value=x max_reads=1\n\
         #pragma test:step get key=t expect=x\n\
         #pragma test:step get key=t expect_miss=true\n",
    );
    assert_eq!(summary.passed(), 1);
    assert_eq!(summary.results[0].run.snapshot.metrics.hits, 1);
}

#[test]
#[should_panic(expected = "tokens_test.kv:4: case `reread` failed at `get key=t expect=x`")]
fn a_failing_scripted_case_fails_the_test_with_its_report() {
    kv_harness::assert_script(
        "tokens_test.kv",
        "#pragma test:case reread\n\
         #pragma test:step put key=t value=x max_reads=1\n\
         #pragma test:step get key=t expect=x\n\
         #pragma test:step get key=t expect=x\n",
    );
}

#[test]
fn a_malformed_script_is_an_error_not_a_panic() {
    let err = kv_harness::run_script(
        "bad_test.kv",
        "#pragma test:case c\n#pragma test:step advance by=3parsecs\n",
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().starts_with(
        "bad_test.kv:2:31: unknown duration unit \"parsecs\" (expected ns, us, ms, s, m, h)"
    ));
}

/// Records what an observer hears, in order.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Observer for Recorder {
    fn case_start(&mut self, source: &Source, case: &kv_harness::Case) {
        self.0.push(format!("start {} {}", source.name, case.name));
    }
    fn case_end(&mut self, result: &CaseResult) {
        self.0.push(format!(
            "end {} {} {}",
            result.file,
            result.case,
            result.passed()
        ));
    }
}

#[test]
fn observers_hear_each_case_start_then_end_in_file_order() {
    let paths = [crate::support::root().join("crates/kv-harness/tests/fixtures/failing")];
    let mut serial = Recorder::default();
    kv_harness::run_with(&paths, &Options::default(), &mut serial).unwrap();
    let mut parallel = Recorder::default();
    let options = Options {
        parallel: 3,
        ..Options::default()
    };
    kv_harness::run_with(&paths, &options, &mut parallel).unwrap();
    assert_eq!(serial.0, parallel.0);
    assert_eq!(
        serial.0[..2],
        [
            "start output_mismatch_test.ami c1",
            "end output_mismatch_test.ami c1 false"
        ]
    );
    assert_eq!(serial.0.len(), 12);
}

#[test]
fn process_totals_sum_every_case_store() {
    let paths: Vec<PathBuf> = vec![crate::support::root().join("examples/cases/ttl_test.kv")];
    let summary = kv_harness::run(&paths, &Options::default()).unwrap();
    // fixed_ttl: hits 1, misses 1, expirations 1; sliding_ttl: hits 2, misses 1, expirations 1.
    let m = summary.totals.metrics;
    assert_eq!(
        (m.hits, m.misses, m.expirations, m.current_size),
        (3, 2, 2, 0)
    );
    assert!(summary.totals.keys.is_empty());
}
