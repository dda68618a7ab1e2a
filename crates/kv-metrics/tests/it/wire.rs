//! The wire forms: exact lines, key order, key escaping.

use kv_core::Metrics;
use kv_metrics::{CaseRef, DiagRecord, DumpRecord, MetricsRecord, Timestamp};
use serde_json::Value;

const T: u64 = 1_759_175_412_345; // 2025-09-29T19:50:12.345Z

fn at() -> Timestamp {
    Timestamp::from_unix_millis(T)
}

fn metrics() -> Metrics {
    Metrics {
        hits: 1,
        misses: 2,
        expirations: 3,
        evictions: 4,
        current_size: 5,
    }
}

/// Every object in `v` has its keys sorted in `line` (re-serializing through `Value`, whose maps
/// are sorted, gives back the same text).
fn assert_keys_sorted(line: &str) {
    let v: Value = serde_json::from_str(line).expect("valid JSON");
    assert_eq!(serde_json::to_string(&v).unwrap() + "\n", line);
}

#[test]
fn metrics_line_matches_the_documented_shape() {
    let m = Metrics {
        hits: 2,
        current_size: 2,
        ..Default::default()
    };
    assert_eq!(
        MetricsRecord::new(&m, at()).to_json_line(),
        "{\"currentSize\":2,\"evictions\":0,\"expirations\":0,\"hits\":2,\"misses\":0,\"schema\":\"kv.metrics.v1\",\"timestamp\":\"2025-09-29T19:50:12.345Z\"}\n"
    );
}

#[test]
fn metrics_record_keeps_every_counter() {
    let record = MetricsRecord::new(&metrics(), at());
    assert_eq!(record.metrics(), metrics());
    assert_keys_sorted(&record.to_json_line());
}

#[test]
fn dump_line_matches_the_documented_shape() {
    assert_eq!(
        DumpRecord::new(["b", "a"], at()).to_json_line(),
        "{\"keys\":[\"a\",\"b\"],\"schema\":\"kv.dump.v1\",\"size\":2,\"timestamp\":\"2025-09-29T19:50:12.345Z\"}\n"
    );
}

#[test]
fn empty_dump_has_empty_keys_not_null() {
    let line = DumpRecord::new(Vec::<String>::new(), at()).to_json_line();
    assert!(line.starts_with("{\"keys\":[],"), "{line}");
    assert!(line.contains("\"size\":0"), "{line}");
}

#[test]
fn dump_keys_are_sorted_and_deduplicated() {
    let record = DumpRecord::new(["k2", "k10", "k1", "k2"], at());
    assert_eq!(record.keys(), ["k1", "k10", "k2"]);
    assert!(record.to_json_line().contains("\"size\":3"));
}

#[test]
fn control_characters_in_keys_are_escaped() {
    let line = DumpRecord::new(
        ["a\nb", "tab\there", "nul\0", "quote\"back\\", "\u{1f}"],
        at(),
    )
    .to_json_line();
    // One line: the raw control characters never reach the output.
    assert_eq!(line.matches('\n').count(), 1);
    assert!(!line.bytes().any(|b| b < 0x20 && b != b'\n'), "{line:?}");
    assert!(line.contains(r#""a\nb""#), "{line}");
    assert!(line.contains(r#""tab\there""#), "{line}");
    assert!(line.contains(r#""nul\u0000""#), "{line}");
    assert!(line.contains(r#""quote\"back\\""#), "{line}");
    assert!(line.contains(r#""\u001f""#), "{line}");
    // And they read back as the same keys.
    let v: Value = serde_json::from_str(&line).unwrap();
    let keys: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(keys.contains(&"nul\0") && keys.contains(&"a\nb") && keys.contains(&"\u{1f}"));
}

#[test]
fn keys_that_are_not_utf8_are_escaped_not_lost() {
    let keys: [&[u8]; 3] = [b"ok", b"bad\xff\xfe", b"caf\xc3\xa9"];
    let record = DumpRecord::new(keys, at());
    assert_eq!(record.keys(), ["bad\\xFF\\xFE", "caf\u{e9}", "ok"]);
    let line = record.to_json_line();
    assert!(line.contains(r#""bad\\xFF\\xFE""#), "{line}");
    assert!(line.contains("\"caf\u{e9}\""), "{line}");
}

#[test]
fn diag_metrics_line_has_the_fixed_field_order() {
    let case = CaseRef {
        file: "rt_kv_events_test.ami",
        case: "c1",
        ns: "p1/n1",
    };
    let m = Metrics {
        hits: 1,
        current_size: 1,
        ..Default::default()
    };
    assert_eq!(
        DiagRecord::kv_metrics(case, &m, at()).to_json_line(),
        "{\"schema\":\"diag.v1\",\"timestamp\":\"2025-09-29T19:50:12.345Z\",\"level\":\"info\",\"code\":\"KV_METRICS\",\"message\":\"kv metrics\",\"file\":\"rt_kv_events_test.ami\",\"data\":{\"case\":\"c1\",\"currentSize\":1,\"evictions\":0,\"expirations\":0,\"hits\":1,\"misses\":0,\"ns\":\"p1/n1\"}}\n"
    );
}

#[test]
fn diag_dump_line_has_the_fixed_field_order() {
    let case = CaseRef {
        file: "rt_kv_events_test.ami",
        case: "c1",
        ns: "",
    };
    assert_eq!(
        DiagRecord::kv_dump(case, ["x"], at()).to_json_line(),
        "{\"schema\":\"diag.v1\",\"timestamp\":\"2025-09-29T19:50:12.345Z\",\"level\":\"info\",\"code\":\"KV_DUMP\",\"message\":\"kv dump\",\"file\":\"rt_kv_events_test.ami\",\"data\":{\"case\":\"c1\",\"keys\":[\"x\"],\"ns\":\"\",\"size\":1}}\n"
    );
}

#[test]
fn display_reads_as_one_log_line() {
    let text = MetricsRecord::new(&metrics(), at()).to_string();
    assert_eq!(
        text,
        "2025-09-29T19:50:12.345Z hits=1 misses=2 expirations=3 evictions=4 current_size=5 hit_ratio=0.333"
    );
    let fresh = MetricsRecord::new(&Metrics::default(), at()).to_string();
    assert!(fresh.ends_with("hit_ratio=-"), "{fresh}");
}
