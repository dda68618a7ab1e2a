//! Writing artifact files: atomically, creating folders, and errors that name the path.

use std::fs;
use std::path::PathBuf;

use kv_core::Metrics;
use kv_metrics::{DumpRecord, MetricsRecord, Timestamp, write_artifact};

/// A fresh folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kv-metrics-it-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn record() -> MetricsRecord {
    MetricsRecord::new(&Metrics::default(), Timestamp::from_unix_millis(0))
}

#[test]
fn writes_the_line_and_creates_missing_folders() {
    let scratch = Scratch::new("folders");
    let path = scratch.0.join("build/test/kv/a_c1.metrics.json");
    write_artifact(&path, &record()).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), record().to_json_line());
}

#[test]
fn replaces_an_existing_file_and_leaves_no_temporary_file() {
    let scratch = Scratch::new("replace");
    let path = scratch.0.join("dump.json");
    fs::write(
        &path,
        "old contents, much longer than the new line will be ....",
    )
    .unwrap();
    let dump = DumpRecord::new(["k"], Timestamp::from_unix_millis(0));
    write_artifact(&path, &dump).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), dump.to_json_line());
    let names: Vec<_> = fs::read_dir(&scratch.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["dump.json"]);
}

#[test]
fn a_folder_that_cannot_be_made_is_an_error_naming_it() {
    let scratch = Scratch::new("blocked");
    let file = scratch.0.join("not-a-folder");
    fs::write(&file, "").unwrap();
    let path = file.join("metrics.json");
    let err = write_artifact(&path, &record()).unwrap_err();
    assert_eq!(err.path(), file);
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_path_that_is_a_folder_is_an_error_naming_it() {
    let scratch = Scratch::new("isdir");
    let path = scratch.0.join("metrics.json");
    fs::create_dir_all(path.join("inside")).unwrap();
    let err = write_artifact(&path, &record()).unwrap_err();
    assert_eq!(err.path(), path);
    assert!(err.to_string().contains("metrics.json"), "{err}");
    let leftovers = fs::read_dir(&scratch.0).unwrap().count();
    assert_eq!(leftovers, 1, "the temporary file was removed");
}

#[test]
fn concurrent_writers_leave_one_whole_file() {
    let scratch = Scratch::new("concurrent");
    let path = scratch.0.join("metrics.json");
    std::thread::scope(|s| {
        for n in 0..4_u64 {
            let path = &path;
            s.spawn(move || {
                for i in 0..50 {
                    let m = Metrics {
                        hits: n * 1000 + i,
                        ..Default::default()
                    };
                    write_artifact(
                        path,
                        &MetricsRecord::new(&m, Timestamp::from_unix_millis(0)),
                    )
                    .unwrap();
                    let text = fs::read_to_string(path).unwrap();
                    assert!(text.starts_with('{') && text.ends_with("}\n"), "{text:?}");
                }
            });
        }
    });
    assert_eq!(fs::read_dir(&scratch.0).unwrap().count(), 1);
}
