//! The case-file parser on arbitrary text: it returns a parsed file or errors that each name a
//! line and column, and never panics.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // the harness reads files as UTF-8 first and reports bad bytes before parsing
    };
    if let Err(errors) = kv_harness::parse_file(Path::new("fuzz_test.kv"), text) {
        assert!(!errors.is_empty(), "a failed parse must say why");
        for e in errors {
            assert!(
                e.line.is_some() && e.column.is_some(),
                "a parse error without a position: {e}"
            );
        }
    }
});
