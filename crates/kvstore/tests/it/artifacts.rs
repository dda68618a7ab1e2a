//! The seed's build integration (feature `json`): a program writes the process-level artifacts
//! of its global stores with one call, or through a guard dropped at the end of `main`.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kv-artifacts-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn read(path: PathBuf) -> Value {
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("an artifact is one JSON object")
}

// The global stores keep what earlier tests left, so this one only asserts on what it added:
// its own namespace's keys, and counters at least its own.
#[test]
fn artifacts_of_the_global_stores_are_written_with_one_call() {
    let _global = crate::global_stores();
    let ns = kvstore::namespace("artifacts/one-call");
    ns.put("artifacts-one-call-key", 1_u32);
    let _ = ns.get::<u32>("artifacts-one-call-key");
    let dir = scratch("one-call");
    kvstore::write_artifacts(&dir).unwrap();
    let metrics = read(dir.join("metrics.json"));
    assert_eq!(metrics["schema"], "kv.metrics.v1");
    assert!(metrics["hits"].as_u64().unwrap() >= 1);
    let dump = read(dir.join("dump.json"));
    assert_eq!(dump["schema"], "kv.dump.v1");
    let keys: Vec<&str> = dump["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(keys.contains(&"artifacts-one-call-key"));
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn artifacts_are_written_when_the_guard_is_dropped() {
    let _global = crate::global_stores();
    let dir = scratch("guard");
    {
        let _artifacts = kvstore::ArtifactsOnDrop::new(&dir);
        kvstore::namespace("artifacts/guard").put("artifacts-guard-key", 1_u32);
        assert!(!dir.exists(), "nothing is written before the guard drops");
    }
    let dump = read(dir.join("dump.json"));
    assert!(
        dump["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "artifacts-guard-key")
    );
    assert_eq!(read(dir.join("metrics.json"))["schema"], "kv.metrics.v1");
    fs::remove_dir_all(&dir).unwrap();
}
