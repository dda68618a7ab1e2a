//! Malformed files stop the run with exit status 2 before any case runs, every problem reported
//! with its file, line and column; bad input never panics.

use std::fs;
use std::path::Path;

use crate::support::{FIXTURES, harness, scratch};

/// Each malformed fixture and the exact message it must give.
const EXPECTED: [(&str, &str); 10] = [
    (
        "bad_duration_test.kv",
        "3:31: unknown duration unit \"parsecs\" (expected ns, us, ms, s, m, h)",
    ),
    (
        "bad_duration_test.kv",
        "4:42: duration \"5\" has no unit (expected ns, us, ms, s, m, h, as in 5ms)",
    ),
    (
        "bad_number_test.kv",
        "2:30: bad number \"lots\" for n (expected a whole number, like 3)",
    ),
    (
        "bad_number_test.kv",
        "3:32: bad number \"-1\" for hits (expected a whole number, like 3)",
    ),
    (
        "duplicate_case_test.kv",
        "3:19: duplicate case name `same` (first declared on line 1; names are unique within a file)",
    ),
    (
        "invalid_json_test.ami",
        "2:36: invalid JSON in input=: trailing comma",
    ),
    (
        "step_before_case_test.kv",
        "1:1: step before any case (put a `#pragma test:case <name>` above it)",
    ),
    (
        "unknown_directive_test.kv",
        "2:14: unknown directive `test:teardown` (expected test:case, test:runtime, test:kv or test:step)",
    ),
    (
        "unknown_op_test.kv",
        "2:19: unknown step op `fetch` (expected one of put, get, get_or_insert, has, del, remove, retain, keys, advance, capacity, purge, metrics)",
    ),
    (
        "unterminated_quote_test.kv",
        "2:35: unterminated quote: this \" is never closed on its line",
    ),
];

#[test]
fn each_malformed_file_exits_2_with_its_position() {
    for (file, message) in EXPECTED {
        let path = format!("{FIXTURES}/malformed/{file}");
        let run = harness(&["test", &path]);
        assert_eq!(run.code, 2, "{path}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{path}:{message}\n")),
            "{path}: expected `{message}` in:\n{}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "no case runs");
    }
}

#[test]
fn all_problems_of_all_files_are_reported_before_anything_runs() {
    let good = "examples/cases/basics_test.kv";
    let run = harness(&["test", good, &format!("{FIXTURES}/malformed")]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "", "the good file did not run either");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), EXPECTED.len() + 1, "{}", run.stderr);
    for ((file, message), line) in EXPECTED.iter().zip(&lines) {
        assert_eq!(*line, format!("{FIXTURES}/malformed/{file}:{message}"));
    }
    assert_eq!(
        lines.last(),
        Some(&"10 problems in the case files; no case was run")
    );
}

#[test]
fn a_file_that_is_not_utf8_is_reported_at_the_bad_byte() {
    let dir = scratch("not-utf8");
    let path = dir.join("latin1_test.kv");
    fs::write(
        &path,
        b"#pragma test:case c\n#pragma test:step put key=caf\xe9 value=1\n",
    )
    .unwrap();
    let run = harness(&["test", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "{}:2:30: not UTF-8 text: byte 0xE9 cannot start a character (save the file as UTF-8)",
            path.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_line() {
    let dir = scratch("bom");
    let path = dir.join("bom_test.kv");
    fs::write(&path, b"\xef\xbb\xbf#pragma test:case first_line\n").unwrap();
    let files = kv_harness::load(&[path]).unwrap();
    assert_eq!(files[0].file.cases[0].name, "first_line");
}

#[test]
fn a_missing_path_is_named_and_is_not_a_case_file_problem() {
    let run = harness(&["test", "no/such/cases", "examples/cases"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "kv-harness: no/such/cases: no such file or folder (check the path)\n"
    );
    assert_eq!(run.stdout, "", "no case runs");
}

#[test]
fn an_output_folder_that_cannot_be_written_stops_the_run_first() {
    // A regular file where the build folder should be: no folder can be made under it.
    let dir = scratch("unwritable");
    let blocker = dir.join("build");
    fs::write(&blocker, "not a folder").unwrap();
    let run = harness(&["test", "examples/cases", "--out", blocker.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(&format!(
            "kv-harness: cannot write artifacts to {}",
            Path::new(&blocker).join("test").join("kv").display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("choose a writable folder with --out DIR")
    );
    assert_eq!(run.stdout, "", "no case runs");
}

#[test]
fn cases_whose_artifacts_would_collide_are_refused() {
    let dir = scratch("collide");
    fs::create_dir_all(dir.join("a")).unwrap();
    fs::write(
        dir.join("a/b_test.kv"),
        "#pragma test:case c\n#pragma test:kv emit=true\n",
    )
    .unwrap();
    fs::write(dir.join("a_b_test.kv"), "#pragma test:case c\n").unwrap();
    let out = dir.join("out");
    let run = harness(&[
        "test",
        dir.to_str().unwrap(),
        "--verbose",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(&format!(
            "{}:1:1: the artifacts of case `c` would overwrite those of case `c` of {} (both named a_b_test.kv_c)",
            dir.join("a_b_test.kv").display(),
            dir.join("a/b_test.kv").display()
        )),
        "{}",
        run.stderr
    );
    assert!(!out.exists(), "nothing was written");
    // Only one of them asks for artifacts without --verbose: nothing collides, both run.
    assert_eq!(
        harness(&[
            "test",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap()
        ])
        .code,
        0
    );
}

#[test]
fn a_bad_command_line_exits_2() {
    for (args, message) in [
        (
            &["test", "--parallel", "zero"][..],
            "invalid value 'zero' for '--parallel <N>': expected a whole number of workers, at least 1",
        ),
        (&["test", "--bogus"][..], "unexpected argument '--bogus'"),
        (&["run"][..], "unrecognized subcommand 'run'"),
        (&["test", "--kv-events"][..], "--json"),
        (&["test", "-j", "0"][..], "at least 1"),
    ] {
        let run = harness(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn hostile_lines_never_panic() {
    let lines = [
        "#pragma test:",
        "#pragma test: ",
        "#pragma test:case",
        "#pragma test:case \"",
        "#pragma test:case 'x' y",
        "#pragma test:step",
        "#pragma test:step put key=\"\\",
        "#pragma test:step put key=\"a\\\"",
        "#pragma test:runtime input={",
        "#pragma test:runtime input={\"a\":\"}",
        "#pragma test:runtime input={]}",
        "#pragma test:runtime input=}{ output={}}",
        "#pragma test:runtime timeout=99999999999999999999999",
        "#pragma test:step advance by=99999999999999999999h",
        "#pragma test:step advance by=18446744073709551615h",
        "#pragma test:step capacity n=18446744073709551616",
        "#pragma test:kv put=\";;=;a\" get=\",,\" ns=''",
        "#pragma test:step put key=é value=ü ttl=1µs",
        "#pragma test:step = = =",
        "\u{feff}#pragma test:case bom",
        "#pragma test:step metrics currentSize=0x10",
    ];
    for line in lines {
        let text = format!("#pragma test:case c\n{line}\n");
        // Ok or a positioned error; never a panic.
        if let Err(errors) = kv_harness::parse_file(Path::new("h_test.kv"), &text) {
            for e in errors {
                assert!(e.line.is_some() && e.column.is_some(), "{e}");
            }
        }
    }
}

/// A small deterministic generator (xorshift64*), so the test needs no dependency and every run
/// checks the same inputs.
struct Lines(u64);

impl Lines {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

#[test]
fn random_directive_lines_never_panic_and_errors_stay_on_their_line() {
    const PIECES: [&str; 40] = [
        "#pragma test:",
        "#pragma test:case ",
        "#pragma test:step ",
        "#pragma test:kv ",
        "#pragma test:runtime ",
        "case",
        "step",
        "put ",
        "get ",
        "has ",
        "del ",
        "keys ",
        "advance ",
        "capacity ",
        "purge",
        "metrics ",
        "key=",
        "value=",
        "ttl=",
        "by=",
        "n=",
        "expect=",
        "input=",
        "output=",
        "ns=",
        "\"",
        "'",
        "\\",
        "{",
        "}",
        "[",
        "]",
        "=",
        " ",
        "5",
        "ms",
        "é",
        "\t",
        "18446744073709551616",
        ",;:",
    ];
    let mut rng = Lines(0x9e37_79b9_7f4a_7c15);
    let (mut parsed, mut rejected) = (0, 0);
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..1 + rng.next(5) {
            // Most lines start as a directive, so the parser (not the line filter) sees them.
            text.push_str(PIECES[rng.next(5)]);
            for _ in 0..rng.next(9) {
                text.push_str(PIECES[rng.next(PIECES.len())]);
            }
            text.push('\n');
        }
        let lines: Vec<&str> = text.lines().collect();
        match kv_harness::parse_file(Path::new("r_test.kv"), &text) {
            Err(errors) => {
                rejected += 1;
                for e in errors {
                    let (line, column) = (e.line.unwrap(), e.column.unwrap());
                    assert!(line >= 1 && line <= lines.len(), "{e}\n{text}");
                    assert!(
                        column >= 1 && column <= lines[line - 1].chars().count() + 1,
                        "{e}\n{text}"
                    );
                }
            }
            Ok(file) => {
                parsed += 1;
                // Running what parsed must not panic either (never sleeping: no runtime input).
                if file.runtime.input.is_none() {
                    for case in &file.cases {
                        let _ = kv_harness::run_case(&file, case);
                    }
                }
            }
        }
    }
    assert!(
        parsed > 100 && rejected > 100,
        "both paths exercised: {parsed} parsed, {rejected} rejected"
    );
}
