//! The facade's integration tests, one binary (see style.md): the contract rule by rule, the loom
//! models (only under `--cfg kv_loom`), and the reliability suites.
#![allow(
    clippy::disallowed_types,
    reason = "tests drive the store from std threads and share std Arcs"
)]

/// The process-global stores (the default store and the namespace registry) are shared by every
/// test in this binary. A test that touches them (`default()`, `namespace()`, the free functions,
/// a reset, `publish_metrics`) holds this guard for its whole body, so another test's reset never
/// lands between its look-ups.
#[cfg(not(kv_loom))]
#[allow(dead_code)] // feature subsets compile none of the modules that use it
fn global_stores() -> std::sync::MutexGuard<'static, ()> {
    static GLOBAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GLOBAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// The contract needs both policies (the feature subsets are checked by clippy and unit tests).
#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod semantics;

// The reliability suites drive every option and the capacity: they need both policies.
#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod model;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod edge_inputs;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod linearizability;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod thrash;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod recency;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod races;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod events;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod reuse;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod async_loading;

#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod refresh;

// The five programs issue 13 asks a user to write from the docs alone.
#[cfg(all(not(kv_loom), feature = "ttl", feature = "lru"))]
mod recipes;

#[cfg(all(not(kv_loom), feature = "metrics"))]
mod export;

#[cfg(all(not(kv_loom), feature = "json"))]
mod artifacts;

#[cfg(kv_loom)]
mod loom;

#[cfg(kv_loom)]
mod loom_recency;

#[cfg(kv_loom)]
mod loom_loading;

#[cfg(kv_loom)]
mod loom_refresh;
