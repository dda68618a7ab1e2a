//! The committed schemas match the code, and the records the code writes validate against them.

use std::fs;
use std::path::PathBuf;

use kv_core::Metrics;
use kv_metrics::{CaseRef, DiagRecord, DumpRecord, MetricsRecord, Timestamp, schemas};
use serde_json::{Value, json};

fn committed_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn committed(name: &str) -> Value {
    let path = committed_folder().join(format!("{name}.schema.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask schemas` and commit schemas/",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("committed schema is JSON")
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&committed(name))
        .expect("committed schema is a valid JSON Schema")
}

fn assert_valid(schema: &str, line: &str) {
    let v: Value = serde_json::from_str(line).unwrap();
    let errors: Vec<String> = validator(schema)
        .iter_errors(&v)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{line} against {schema}: {errors:?}");
}

fn assert_invalid(schema: &str, record: Value) {
    assert!(
        !validator(schema).is_valid(&record),
        "{schema} accepted {record}"
    );
}

#[test]
fn committed_schemas_match_the_generated_ones() {
    for schema in schemas() {
        let path = committed_folder().join(schema.file_name());
        let on_disk = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == schema.json,
            "{} differs from what kv-metrics generates: run `cargo xtask schemas` and commit it",
            path.display()
        );
    }
    // Other tools may commit their own schemas beside these; ours are the kv.* and diag.* ones.
    let ours: Vec<String> = fs::read_dir(committed_folder())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("kv.") || n.starts_with("diag."))
        .collect();
    assert_eq!(
        ours.len(),
        schemas().len(),
        "schemas/ holds a stale kv-metrics schema: {ours:?}"
    );
}

#[test]
fn each_schema_is_named_after_its_record() {
    let names: Vec<_> = schemas().into_iter().map(|s| s.file_name()).collect();
    assert_eq!(
        names,
        [
            "kv.metrics.v1.schema.json",
            "kv.dump.v1.schema.json",
            "diag.v1.schema.json"
        ]
    );
    for s in schemas() {
        let v: Value = serde_json::from_str(&s.json).unwrap();
        assert_eq!(v["title"], s.name);
    }
}

fn samples() -> (Metrics, Vec<&'static str>) {
    let m = Metrics {
        hits: 3,
        misses: 1,
        expirations: 2,
        evictions: u64::MAX,
        current_size: 0,
    };
    (m, vec!["b", "a\n\u{1}", "caf\u{e9}", ""])
}

#[test]
fn written_records_validate_against_the_committed_schemas() {
    let (m, keys) = samples();
    let case = CaseRef {
        file: "dir_kv_test.ami",
        case: "c \"1\"",
        ns: "p1/n1",
    };
    for at in [Timestamp::now(), Timestamp::from_unix_millis(0)] {
        assert_valid("kv.metrics.v1", &MetricsRecord::new(&m, at).to_json_line());
        assert_valid("kv.dump.v1", &DumpRecord::new(&keys, at).to_json_line());
        assert_valid(
            "kv.dump.v1",
            &DumpRecord::new(Vec::<String>::new(), at).to_json_line(),
        );
        assert_valid(
            "diag.v1",
            &DiagRecord::kv_metrics(case, &m, at).to_json_line(),
        );
        assert_valid(
            "diag.v1",
            &DiagRecord::kv_dump(case, &keys, at).to_json_line(),
        );
    }
}

#[test]
fn the_documented_examples_validate() {
    // The lines of docs/case-format.md, "Artifacts" (with a real timestamp in the diag ones).
    assert_valid(
        "kv.metrics.v1",
        r#"{"currentSize":2,"evictions":0,"expirations":0,"hits":2,"misses":0,"schema":"kv.metrics.v1","timestamp":"2025-09-29T19:50:12.345Z"}"#,
    );
    assert_valid(
        "kv.dump.v1",
        r#"{"keys":["a","b"],"schema":"kv.dump.v1","size":2,"timestamp":"2025-09-29T19:50:12.345Z"}"#,
    );
    assert_valid(
        "diag.v1",
        r#"{"schema":"diag.v1","timestamp":"2025-09-29T19:50:12.345Z","level":"info","code":"KV_METRICS","message":"kv metrics","file":"rt_kv_events_test.ami","data":{"case":"c1","currentSize":1,"evictions":0,"expirations":0,"hits":1,"misses":0,"ns":"p1/n1"}}"#,
    );
    assert_valid(
        "diag.v1",
        r#"{"schema":"diag.v1","timestamp":"2025-09-29T19:50:12.345Z","level":"info","code":"KV_DUMP","message":"kv dump","file":"rt_kv_events_test.ami","data":{"case":"c1","keys":["x"],"ns":"p1/n1","size":1}}"#,
    );
}

#[test]
fn the_schemas_reject_what_the_records_never_write() {
    let good = json!({"currentSize":2,"evictions":0,"expirations":0,"hits":2,"misses":0,
        "schema":"kv.metrics.v1","timestamp":"2025-09-29T19:50:12.345Z"});
    let with = |k: &str, v: Value| {
        let mut r = good.clone();
        r[k] = v;
        r
    };
    assert_invalid("kv.metrics.v1", with("hits", json!(-1)));
    assert_invalid("kv.metrics.v1", with("hits", json!(1.5)));
    assert_invalid("kv.metrics.v1", with("schema", json!("kv.metrics.v2")));
    assert_invalid(
        "kv.metrics.v1",
        with("timestamp", json!("2025-09-29T19:50:12Z")),
    );
    assert_invalid(
        "kv.metrics.v1",
        with("timestamp", json!("2025-09-29T19:50:12.345+02:00")),
    );
    assert_invalid("kv.metrics.v1", with("extra", json!(0)));
    assert_invalid(
        "kv.dump.v1",
        json!({"keys":null,"schema":"kv.dump.v1","size":0,"timestamp":"2025-09-29T19:50:12.345Z"}),
    );
    assert_invalid(
        "kv.dump.v1",
        json!({"keys":["a","a"],"schema":"kv.dump.v1","size":2,"timestamp":"2025-09-29T19:50:12.345Z"}),
    );
    // A KV_METRICS record whose data is a dump's.
    assert_invalid(
        "diag.v1",
        json!({"schema":"diag.v1","timestamp":"2025-09-29T19:50:12.345Z","level":"info",
            "code":"KV_METRICS","message":"kv metrics","file":"f",
            "data":{"case":"c1","keys":["x"],"ns":"","size":1}}),
    );
}
