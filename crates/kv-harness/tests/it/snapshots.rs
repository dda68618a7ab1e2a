//! The JSON stream and the artifacts, byte for byte apart from timestamps and durations.

use std::fs;

use crate::support::{FIXTURES, harness, redact, scratch};

#[test]
fn json_stream_of_the_examples() {
    let out = scratch("stream");
    let run = harness(&[
        "test",
        "examples/cases",
        "--json",
        "--kv-events",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(redact(&run.stdout));
}

#[test]
fn json_stream_of_failures() {
    let run = harness(&["test", &format!("{FIXTURES}/failing"), "--json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!(redact(&run.stdout));
}

#[test]
fn human_report_of_failures() {
    let run = harness(&["test", &format!("{FIXTURES}/failing")]);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn artifacts_of_a_verbose_run() {
    let out = scratch("artifacts");
    let run = harness(&[
        "test",
        "examples/cases",
        "--verbose",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = out.join("test").join("kv");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut listing = String::new();
    for name in names {
        let text = fs::read_to_string(dir.join(&name)).unwrap();
        assert!(
            text.ends_with("}\n") && text.lines().count() == 1,
            "{name}: one line of JSON"
        );
        listing.push_str(&format!("{name}\n{}", redact(&text)));
    }
    insta::assert_snapshot!(listing);
}

#[test]
fn artifacts_match_the_specified_shapes() {
    // The reference case `original_test.ami` asks for its artifacts with emit=true.
    let out = scratch("shapes");
    let run = harness(&[
        "test",
        "examples/cases/original_test.ami",
        "--kv-metrics",
        "--kv-dump",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let read = |name: &str| redact(&fs::read_to_string(out.join("test/kv").join(name)).unwrap());
    let metrics = r#"{"currentSize":2,"evictions":0,"expirations":0,"hits":1,"misses":0,"schema":"kv.metrics.v1","timestamp":"[timestamp]"}"#;
    let dump = r#"{"keys":["a","b"],"schema":"kv.dump.v1","size":2,"timestamp":"[timestamp]"}"#;
    assert_eq!(
        read("original_test.ami_c1.metrics.json"),
        format!("{metrics}\n")
    );
    assert_eq!(read("original_test.ami_c1.dump.json"), format!("{dump}\n"));
    // One case: the process-level totals are that case's.
    assert_eq!(read("metrics.json"), format!("{metrics}\n"));
    assert_eq!(read("dump.json"), format!("{dump}\n"));
    // Timestamps are UTC with milliseconds and a Z.
    let raw = fs::read_to_string(out.join("test/kv/metrics.json")).unwrap();
    let ts = raw.split("\"timestamp\":\"").nth(1).unwrap();
    assert_eq!(ts.find('Z'), Some(23), "{ts}");
    assert_eq!(&ts[19..20], ".");
}

#[test]
fn the_kv_events_example_of_the_spec_byte_for_byte() {
    // The original harness's own test of --kv-events, and the two records case-format.md shows.
    let dir = scratch("spec-events");
    fs::write(
        dir.join("rt_kv_events_test.ami"),
        "#pragma test:case c1\n#pragma test:runtime input={}\n#pragma test:kv ns=\"p1/n1\" put=\"x=1\" get=\"x\" emit=false\n",
    )
    .unwrap();
    let run = harness(&["test", dir.to_str().unwrap(), "--json", "--kv-events"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let redacted = redact(&run.stdout);
    let diag: Vec<&str> = redacted
        .lines()
        .filter(|l| l.contains("\"diag.v1\""))
        .collect();
    assert_eq!(
        diag,
        [
            r#"{"schema":"diag.v1","timestamp":"[timestamp]","level":"info","code":"KV_METRICS","message":"kv metrics","file":"rt_kv_events_test.ami","data":{"case":"c1","currentSize":1,"evictions":0,"expirations":0,"hits":1,"misses":0,"ns":"p1/n1"}}"#,
            r#"{"schema":"diag.v1","timestamp":"[timestamp]","level":"info","code":"KV_DUMP","message":"kv dump","file":"rt_kv_events_test.ami","data":{"case":"c1","keys":["x"],"ns":"p1/n1","size":1}}"#,
        ]
    );
    // They follow the case's test_end.
    let lines: Vec<&str> = redacted.lines().collect();
    assert!(
        lines[2].contains("\"type\":\"test_end\"") && lines[3] == diag[0] && lines[4] == diag[1]
    );
}
