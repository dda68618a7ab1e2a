//! Snapshots of each record (timestamps redacted) and of each generated schema. Changing a wire
//! form changes these files: review the diff with `cargo insta review`, and bump the schema
//! version when a reader could break.

use kv_core::Metrics;
use kv_metrics::{CaseRef, DiagRecord, DumpRecord, MetricsRecord, Timestamp, schemas};

fn metrics() -> Metrics {
    Metrics {
        hits: 7,
        misses: 2,
        expirations: 1,
        evictions: 3,
        current_size: 4,
    }
}

const CASE: CaseRef<'static> = CaseRef {
    file: "rt_kv_events_test.ami",
    case: "c1",
    ns: "p1/n1",
};

#[test]
fn metrics_record() {
    let record = MetricsRecord::new(&metrics(), Timestamp::now());
    insta::assert_json_snapshot!(record, { ".timestamp" => "[timestamp]" });
}

#[test]
fn dump_record() {
    let record = DumpRecord::new(["session", "auth/tok", "a\tb"], Timestamp::now());
    insta::assert_json_snapshot!(record, { ".timestamp" => "[timestamp]" });
}

#[test]
fn empty_dump_record() {
    let record = DumpRecord::new(Vec::<String>::new(), Timestamp::now());
    insta::assert_json_snapshot!(record, { ".timestamp" => "[timestamp]" });
}

#[test]
fn diag_kv_metrics_record() {
    let record = DiagRecord::kv_metrics(CASE, &metrics(), Timestamp::now());
    insta::assert_json_snapshot!(record, { ".timestamp" => "[timestamp]" });
}

#[test]
fn diag_kv_dump_record() {
    let record = DiagRecord::kv_dump(CASE, ["x", "y"], Timestamp::now());
    insta::assert_json_snapshot!(record, { ".timestamp" => "[timestamp]" });
}

/// The exact compact lines, with the timestamp replaced, so the key order on the wire is pinned.
#[test]
fn compact_lines() {
    let now = Timestamp::now();
    let lines = [
        MetricsRecord::new(&metrics(), now).to_json_line(),
        DumpRecord::new(["b", "a"], now).to_json_line(),
        DiagRecord::kv_metrics(CASE, &metrics(), now).to_json_line(),
        DiagRecord::kv_dump(CASE, ["x"], now).to_json_line(),
    ]
    .concat()
    .replace(&now.to_string(), "[timestamp]");
    insta::assert_snapshot!(lines);
}

#[test]
fn generated_schemas() {
    for schema in schemas() {
        insta::assert_snapshot!(schema.file_name(), schema.json);
    }
}
