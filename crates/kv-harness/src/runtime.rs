//! The runtime stand-in of the original harness: it copies `input` to its output, sleeps
//! `sleep_ms` when asked, fails with `error_code` when asked, and is checked against `output`,
//! `expect_error` and `timeout`.
//!
//! The time limit is enforced by never sleeping past it: a case whose `sleep_ms` is longer than its
//! timeout sleeps only until the limit and fails, so a slow case holds only its own worker and only
//! for as long as its limit.

use std::thread;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::parse::RuntimeSpec;

/// The error code of a case that ran past its limit; `expect_error=E_TIMEOUT` expects it.
pub const TIMEOUT_CODE: &str = "E_TIMEOUT";

/// Input keys that steer the stand-in and are not copied to its output.
const RESERVED: [&str; 2] = ["sleep_ms", "error_code"];

/// Why the stand-in's result did not match the expectations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub message: String,
    pub expected: String,
    pub actual: String,
}

/// Runs the stand-in with `spec` and checks its result.
pub(crate) fn run(spec: &RuntimeSpec) -> Result<(), Mismatch> {
    let input = spec.input.clone().unwrap_or_default();
    let sleep = input
        .get("sleep_ms")
        .and_then(Value::as_u64)
        .map(Duration::from_millis)
        .unwrap_or_default();
    let expect_error = spec.expect_error.as_deref();

    let error = match spec.timeout {
        Some(limit) if sleep > limit => {
            thread::sleep(limit);
            Some(TIMEOUT_CODE.to_string())
        }
        _ => {
            thread::sleep(sleep);
            input
                .get("error_code")
                .and_then(Value::as_str)
                .map(String::from)
        }
    };

    if let Some(code) = error {
        // The original compares the timeout code without regard to case.
        let matches = expect_error.is_some_and(|want| {
            want == code || (code == TIMEOUT_CODE && want.eq_ignore_ascii_case(TIMEOUT_CODE))
        });
        if matches {
            return Ok(());
        }
        let ms = spec.timeout.unwrap_or_default().as_millis();
        return Err(Mismatch {
            message: if code == TIMEOUT_CODE {
                format!("the runtime timed out after {ms} ms (input sleep_ms exceeds timeout)")
            } else {
                format!("the runtime failed with error {code}")
            },
            expected: expect_error.map_or_else(|| "no error".to_string(), |e| format!("error {e}")),
            actual: format!("error {code}"),
        });
    }
    if let Some(want) = expect_error {
        return Err(Mismatch {
            message: "the runtime produced no error".into(),
            expected: format!("error {want}"),
            actual: "no error".into(),
        });
    }
    let output = Value::Object(strip_reserved(input));
    match &spec.output {
        Some(want) if *want != output => Err(Mismatch {
            message: "the runtime's output differs from output=".into(),
            expected: want.to_string(),
            actual: output.to_string(),
        }),
        _ => Ok(()),
    }
}

fn strip_reserved(mut input: Map<String, Value>) -> Map<String, Value> {
    for key in RESERVED {
        input.remove(key);
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(input: Value, output: Option<Value>, expect_error: Option<&str>) -> RuntimeSpec {
        RuntimeSpec {
            input: input.as_object().cloned(),
            output,
            expect_error: expect_error.map(String::from),
            timeout: Some(Duration::from_millis(20)),
            line: None,
        }
    }

    #[test]
    fn copies_input_to_output_without_reserved_keys() {
        assert_eq!(
            run(&spec(
                json!({"x": 1, "sleep_ms": 0}),
                Some(json!({"x": 1})),
                None
            )),
            Ok(())
        );
        let err = run(&spec(json!({"x": 1}), Some(json!({"x": 2})), None)).unwrap_err();
        assert_eq!(
            (err.expected.as_str(), err.actual.as_str()),
            (r#"{"x":2}"#, r#"{"x":1}"#)
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            run(&spec(json!({"error_code": "E_X"}), None, Some("E_X"))),
            Ok(())
        );
        let err = run(&spec(json!({"error_code": "E_X"}), None, None)).unwrap_err();
        assert_eq!(err.actual, "error E_X");
        let err = run(&spec(json!({}), None, Some("E_X"))).unwrap_err();
        assert_eq!(err.message, "the runtime produced no error");
    }

    #[test]
    fn sleeping_past_the_limit_times_out() {
        let err = run(&spec(json!({"sleep_ms": 10_000}), None, None)).unwrap_err();
        assert!(
            err.message.contains("timed out after 20 ms"),
            "{}",
            err.message
        );
        assert_eq!(
            run(&spec(json!({"sleep_ms": 10_000}), None, Some("e_timeout"))),
            Ok(())
        );
    }
}
