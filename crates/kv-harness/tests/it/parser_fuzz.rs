//! The case-file fuzz target (`fuzz/fuzz_targets/case_file.rs`) in proptest form, so it runs
//! wherever `cargo test` does: arbitrary text, and text built from the format's own pieces (which
//! reaches much deeper than random bytes), must parse or fail with positioned errors, and a file
//! that parses must run without a panic. `KV_SOAK_SCALE=<n>` multiplies the case counts.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

fn config(cases: u32) -> Config {
    let scale = std::env::var("KV_SOAK_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    Config {
        cases: cases.saturating_mul(scale),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Parses `text`; if it parses, runs it. Either must end without a panic, and every parse error
/// must name its line and column.
fn parse_and_run(text: &str) -> Result<(), TestCaseError> {
    match kv_harness::parse_file(Path::new("fuzz_test.kv"), text) {
        Err(errors) => {
            prop_assert!(!errors.is_empty(), "a failed parse must say why");
            for e in errors {
                prop_assert!(
                    e.line.is_some() && e.column.is_some(),
                    "a parse error without a position: {e}"
                );
            }
        }
        Ok(_) => {
            let options = kv_harness::Options {
                out: std::env::temp_dir().join("kv-harness-parser-fuzz"),
                ..kv_harness::Options::default()
            };
            // Passing or failing cases are both fine; only a panic is not.
            let _ = kv_harness::run_script("fuzz_test.kv", text, &options);
        }
    }
    Ok(())
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // numbers, in range and out of it
        prop::sample::select(vec![
            "0",
            "1",
            "3",
            "-1",
            "18446744073709551615",
            "18446744073709551616",
            "1e3",
            "0x10",
        ])
        .prop_map(str::to_string),
        // durations, good and bad
        prop::sample::select(vec![
            "5ms",
            "1ns",
            "2us",
            "1s",
            "2m",
            "1h",
            "0s",
            "250",
            "ms",
            "1.5s",
            "5parsecs",
            "18446744073709551615h",
            "99999999999999999999ns",
        ])
        .prop_map(str::to_string),
        // booleans and words
        prop::sample::select(vec![
            "true",
            "false",
            "1",
            "yes",
            "",
            "a,b,c",
            "k1=v1;k2=v2",
            ";;=;"
        ])
        .prop_map(str::to_string),
        // quoted values with escapes, closed or not
        "[a-z \\\\\"']{0,8}".prop_map(|s| format!("\"{s}\"")),
        "[a-z \"]{0,8}".prop_map(|s| format!("'{s}'")),
        "[a-z]{0,4}".prop_map(|s| format!("\"{s}")),
        // JSON, well formed or not
        prop::sample::select(vec![
            "{}",
            "{\"a\":1}",
            "{\"a\": [1, {\"b\": null}], \"c\": \"x y\"}",
            "{\"error_code\":\"E_X\"}",
            "{",
            "{\"a\":}",
            "{\"a\":\"}",
            "}{",
            "{\"a\":1,}",
        ])
        .prop_map(str::to_string),
        // anything at all
        any::<String>(),
    ]
}

fn argument() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "key",
        "value",
        "ttl",
        "sliding",
        "max_reads",
        "expect",
        "expect_miss",
        "by",
        "n",
        "hits",
        "misses",
        "expirations",
        "evictions",
        "currentSize",
        "ns",
        "put",
        "get",
        "emit",
        "input",
        "output",
        "expect_error",
        "timeout",
        "",
        "=",
    ]);
    (keys, value()).prop_map(|(k, v)| format!("{k}={v}"))
}

fn line() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec![
        "case",
        "runtime",
        "kv",
        "step",
        "teardown",
        "",
        "case ",
        "step put",
        "step get",
        "step has",
        "step del",
        "step keys",
        "step advance",
        "step capacity",
        "step purge",
        "step metrics",
        "step fetch",
    ]);
    let prefix = prop::sample::select(vec!["#pragma test:", "  #pragma test:", "#pragma  test:"]);
    prop_oneof![
        6 => (prefix, kind, prop::collection::vec(argument(), 0..5))
            .prop_map(|(p, k, args)| format!("{p}{k} {}", args.join(" "))),
        1 => "[a-z_]{1,10}".prop_map(|name| format!("#pragma test:case {name}")),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(500))]

    /// Any text at all: no panic, positioned errors.
    #[test]
    fn arbitrary_text_parses_or_fails_with_positions(text in any::<String>()) {
        parse_and_run(&text)?;
    }
}

proptest! {
    #![proptest_config(config(1_000))]

    /// Text built from the format's pieces, so most lines are directives: no panic, positioned
    /// errors, and a file that parses runs without a panic.
    #[test]
    fn directive_soup_parses_or_fails_with_positions(
        lines in prop::collection::vec(line(), 0..12),
    ) {
        parse_and_run(&lines.join("\n"))?;
    }
}
