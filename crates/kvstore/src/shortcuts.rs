//! The seed's free functions on the default store, and the process-level artifacts of the
//! global stores.
#![allow(
    clippy::disallowed_types,
    reason = "values come back in std's `Arc`, as `AnyStore` hands them out"
)]

use std::any::Any;
use std::sync::Arc;

use crate::Metrics;
#[cfg(feature = "ttl")]
use crate::PutOptions;
use crate::registry::default;

/// `default().put(key, value)`.
pub fn put<T: Any + Send + Sync>(key: impl Into<String>, value: T) {
    default().put(key, value);
}

/// `default().put_with(key, value, options)`.
#[cfg(feature = "ttl")]
pub fn put_with<T: Any + Send + Sync>(key: impl Into<String>, value: T, options: &PutOptions) {
    default().put_with(key, value, options);
}

/// `default().get::<T>(key)`: `None` if absent, expired, spent, or not a `T`.
pub fn get<T: Any + Send + Sync>(key: &str) -> Option<Arc<T>> {
    default().get::<T>(key)
}

/// `default().del(key)`.
pub fn del(key: &str) -> bool {
    default().del(key)
}

/// `default().has(key)`.
pub fn has(key: &str) -> bool {
    default().has(key)
}

/// `default().keys()`, sorted.
pub fn keys() -> Vec<String> {
    default().keys()
}

/// `default().metrics()`.
pub fn stats() -> Metrics {
    default().metrics()
}

/// `default().set_capacity(capacity)`.
#[cfg(feature = "lru")]
pub fn set_capacity(capacity: usize) {
    default().set_capacity(capacity);
}

/// Writes the process-level artifacts of the global stores into `dir` (created if missing), as
/// the seed's `ami build --verbose` writes `build/debug/kv/`: `metrics.json` (`kv.metrics.v1`:
/// the counters of the default store and every namespace, summed) and `dump.json`
/// (`kv.dump.v1`: their live keys, sorted and deduplicated). Each file is replaced whole, never
/// half written. Feature `json`; the shapes are in `docs/artifacts.md`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("kv-doc-artifacts-{}", std::process::id()));
/// kvstore::namespace("doc/artifacts").put("job-1", 1_u32);
/// kvstore::write_artifacts(&dir)?;
/// let dump = std::fs::read_to_string(dir.join("dump.json"))?;
/// assert!(dump.contains("\"schema\":\"kv.dump.v1\"") && dump.contains("\"job-1\""));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "json")]
pub fn write_artifacts(dir: impl AsRef<std::path::Path>) -> Result<(), kv_metrics::ArtifactError> {
    let stores = crate::registry::all_stores();
    let mut metrics = Metrics::default();
    let mut keys = Vec::new();
    for store in &stores {
        keys.extend(store.keys());
        metrics = metrics + store.metrics();
    }
    let now = kv_metrics::Timestamp::now();
    let dir = dir.as_ref();
    kv_metrics::write_artifact(
        dir.join("metrics.json"),
        &kv_metrics::MetricsRecord::new(&metrics, now),
    )?;
    kv_metrics::write_artifact(
        dir.join("dump.json"),
        &kv_metrics::DumpRecord::new(keys, now),
    )
}

/// Writes the process-level artifacts ([`write_artifacts`]) when dropped: keep it alive for the
/// whole of `main` (`let _artifacts = kvstore::ArtifactsOnDrop::new("build/debug/kv");`). A
/// failure to write is reported on standard error, since a destructor cannot return it.
#[cfg(feature = "json")]
#[derive(Debug)]
pub struct ArtifactsOnDrop {
    dir: std::path::PathBuf,
}

#[cfg(feature = "json")]
impl ArtifactsOnDrop {
    /// Writes into `dir` when dropped.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[cfg(feature = "json")]
impl Drop for ArtifactsOnDrop {
    fn drop(&mut self) {
        if let Err(e) = write_artifacts(&self.dir) {
            eprintln!("kvstore: could not write the KV artifacts: {e}");
        }
    }
}
