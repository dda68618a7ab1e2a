//! The process-global stores: the default store and the namespace registry.
//!
//! The registry is process-wide bookkeeping, not part of any store's concurrency, so it uses the
//! standard library's lock directly (outside every loom model).
#![allow(
    clippy::disallowed_types,
    reason = "the namespace registry is process-wide bookkeeping outside every loom model"
)]

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

#[cfg(feature = "ttl")]
use crate::PutOptions;
use crate::{AnyStore, Metrics};

static DEFAULT: LazyLock<RwLock<AnyStore>> = LazyLock::new(|| RwLock::new(AnyStore::new()));
static NAMESPACES: LazyLock<RwLock<HashMap<String, AnyStore>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// The process-global default store: distinct from every namespace, `namespace("")` included.
///
/// Returns a handle (cheap to clone); keep it on hot paths instead of calling the free functions,
/// which look the store up every time.
pub fn default() -> AnyStore {
    DEFAULT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The store of namespace `ns`: the same store for the same name for the life of the process
/// (until [`reset_namespaces`]); different names are isolated, each with its own capacity and
/// metrics. Any string is a valid name; the store's events carry it.
pub fn namespace(ns: &str) -> AnyStore {
    if let Some(store) = NAMESPACES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(ns)
    {
        return store.clone();
    }
    NAMESPACES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(ns.to_owned())
        .or_insert_with(|| AnyStore::named(ns))
        .clone()
}

/// Replaces the default store with a fresh one (for tests). Handles taken earlier keep working on
/// the old store. Published counters carry on from the old store's (`publish_metrics`, feature
/// `metrics`).
pub fn reset_default() {
    forget(|| {
        let mut default = DEFAULT.write().unwrap_or_else(PoisonError::into_inner);
        [std::mem::take(&mut *default)]
    });
}

/// Forgets every namespace (for tests): the next `namespace(ns)` returns a fresh store. Handles
/// taken earlier keep working on the old stores. Published counters carry on from the old
/// stores' (`publish_metrics`, feature `metrics`).
pub fn reset_namespaces() {
    forget(|| {
        let mut namespaces = NAMESPACES.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *namespaces).into_values()
    });
}

/// Runs `take`, which takes stores out of the registry; with feature `metrics`, the publisher
/// keeps their counters.
fn forget<I: IntoIterator<Item = AnyStore>>(take: impl FnOnce() -> I) {
    #[cfg(all(feature = "metrics", not(kv_loom)))]
    crate::publish::retire(take);
    #[cfg(not(all(feature = "metrics", not(kv_loom))))]
    drop(take());
}

/// The stores that have a name now, with it: the default store (`""`) and every namespace.
#[cfg(all(feature = "metrics", not(kv_loom)))]
pub(crate) fn named_stores() -> Vec<(String, AnyStore)> {
    let default = default();
    let namespaces = NAMESPACES.read().unwrap_or_else(PoisonError::into_inner);
    std::iter::once((String::new(), default))
        .chain(
            namespaces
                .iter()
                .map(|(ns, store)| (ns.clone(), store.clone())),
        )
        .collect()
}

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
    let stores: Vec<AnyStore> = std::iter::once(default())
        .chain(
            NAMESPACES
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned(),
        )
        .collect();
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
