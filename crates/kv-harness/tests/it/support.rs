//! Running the `kv-harness` binary from the workspace root, scratch folders, and redaction of the
//! parts of the output that change from run to run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, where the README's command runs.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// The fixtures folder, relative to the workspace root (so messages name stable paths).
pub const FIXTURES: &str = "crates/kv-harness/tests/fixtures";

/// What a run of the binary printed, and its exit status.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `kv-harness <args>` in the workspace root.
pub fn harness(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kv-harness"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the kv-harness binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An empty scratch folder for one test, under the system's temporary directory; removed when
/// the test ends.
pub fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("kv-harness-it-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("a scratch folder");
    Scratch(dir)
}

/// A scratch folder that removes itself.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Replaces every `"timestamp":"…"` value with `[timestamp]` and every `"duration_ms":N` with 0,
/// leaving every other byte as it was.
pub fn redact(text: &str) -> String {
    let text = replace_after(text, "\"timestamp\":\"", |rest| {
        let end = rest.find('"').unwrap_or(rest.len());
        ("[timestamp]".to_string(), end)
    });
    replace_after(&text, "\"duration_ms\":", |rest| {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        ("0".to_string(), end)
    })
}

fn replace_after(text: &str, marker: &str, f: impl Fn(&str) -> (String, usize)) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        rest = &rest[i + marker.len()..];
        let (with, skip) = f(rest);
        out.push_str(&with);
        rest = &rest[skip..];
    }
    out.push_str(rest);
    out
}

#[test]
fn redaction_touches_only_the_varying_values() {
    assert_eq!(
        redact(r#"{"a":1,"timestamp":"2025-09-29T19:50:12.345Z","duration_ms":12,"b":"x"}"#),
        r#"{"a":1,"timestamp":"[timestamp]","duration_ms":0,"b":"x"}"#
    );
}
