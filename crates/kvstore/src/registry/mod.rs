//! The process-global stores, under one lock: the default store, the namespaces and, with
//! feature `metrics`, the other stores [`publish_metrics`] reads (registered typed stores and
//! stores a reset forgot).
//!
//! One lock makes the publisher's invariant local: a store is in exactly one of the registry
//! and the published sources, and every change moves it under that lock. The registry is
//! process-wide bookkeeping, not part of any store's concurrency, so it uses the standard
//! library's lock directly (outside every loom model).
#![allow(
    clippy::disallowed_types,
    reason = "the registry is process-wide bookkeeping outside every loom model"
)]

#[cfg(all(feature = "metrics", not(kv_loom)))]
mod publish;

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::AnyStore;

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| {
    RwLock::new(Registry {
        default: AnyStore::new(),
        namespaces: HashMap::new(),
        #[cfg(all(feature = "metrics", not(kv_loom)))]
        published: publish::Published::default(),
    })
});

struct Registry {
    /// The default store: distinct from every namespace, `""` included.
    default: AnyStore,
    namespaces: HashMap<String, AnyStore>,
    /// The stores published besides those above.
    #[cfg(all(feature = "metrics", not(kv_loom)))]
    published: publish::Published,
}

impl Registry {
    /// Takes stores out of the registry: the publisher keeps their counters (feature
    /// `metrics`). Returns them, for the caller to drop after releasing the lock (a value's
    /// `Drop` may use the registry).
    fn forget(&mut self, stores: Vec<AnyStore>) -> Vec<AnyStore> {
        #[cfg(all(feature = "metrics", not(kv_loom)))]
        self.published.retire(&stores);
        stores
    }
}

fn read() -> RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(PoisonError::into_inner)
}

fn write() -> RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(PoisonError::into_inner)
}

/// The process-global default store: distinct from every namespace, `namespace("")` included.
///
/// Returns a handle (cheap to clone); keep it on hot paths instead of calling the free functions,
/// which look the store up every time.
pub fn default() -> AnyStore {
    read().default.clone()
}

/// The store of namespace `ns`: the same store for the same name for the life of the process
/// (until [`reset_namespaces`]); different names are isolated, each with its own capacity and
/// metrics. Any string is a valid name; the store's events carry it.
pub fn namespace(ns: &str) -> AnyStore {
    if let Some(store) = read().namespaces.get(ns) {
        return store.clone();
    }
    write()
        .namespaces
        .entry(ns.to_owned())
        .or_insert_with(|| AnyStore::named(ns))
        .clone()
}

/// Replaces the default store with a fresh one (for tests). Handles taken earlier keep working on
/// the old store. Published counters carry on from the old store's (`publish_metrics`, feature
/// `metrics`).
pub fn reset_default() {
    let forgotten = {
        let mut registry = write();
        let old = std::mem::take(&mut registry.default);
        registry.forget(vec![old])
    };
    drop(forgotten);
}

/// Forgets every namespace (for tests): the next `namespace(ns)` returns a fresh store. Handles
/// taken earlier keep working on the old stores. Published counters carry on from the old
/// stores' (`publish_metrics`, feature `metrics`).
pub fn reset_namespaces() {
    let forgotten = {
        let mut registry = write();
        let old = std::mem::take(&mut registry.namespaces)
            .into_values()
            .collect();
        registry.forget(old)
    };
    drop(forgotten);
}

/// The default store and every namespace, now.
#[cfg(feature = "json")]
pub(crate) fn all_stores() -> Vec<AnyStore> {
    let registry = read();
    std::iter::once(&registry.default)
        .chain(registry.namespaces.values())
        .cloned()
        .collect()
}

/// Publishes the counters and gauges of every store, its load statistics
/// ([`load_metrics`](crate::Store::load_metrics)) included, through the `metrics` facade crate,
/// labelled `ns` with the store's name (feature `metrics`; `kv_metrics::export` has the names): the
/// default store and every namespace, and the typed stores given to [`register_metrics`]. Call it
/// periodically, or before each scrape; callers on several threads at once are served one at a
/// time.
///
/// What a Prometheus user can rely on:
/// - A counter (and `kv_load_seconds_total`, a gauge only because the facade's counters are
///   whole numbers) is the total over every store that has had the name: it never goes backwards and
///   every new hit shows. When a reset ([`reset_namespaces`], [`reset_default`]) replaces a
///   store, or a registered store is dropped, its figures stay in the total; a forgotten store
///   still used through an old handle keeps counting until it is dropped. Only what a store
///   counts after the last publish before it is dropped is lost.
/// - `kv_current_size` and `kv_capacity` are those of the stores that have the name now. A name
///   whose stores are all gone keeps its counters and reads 0 in both gauges (the `metrics` facade
///   cannot remove a series); `kv_capacity` is otherwise 0 only for an unbounded store.
/// - Stores that share a name are published together: the default store and `namespace("")`
///   under `ns=""`, a registered store with a namespace of the same name. Their capacities add
///   up, to 0 if one is unbounded.
#[cfg(all(feature = "metrics", not(kv_loom)))]
pub fn publish_metrics() {
    let released = {
        let mut registry = write();
        let Registry {
            default,
            namespaces,
            published,
        } = &mut *registry;
        let named = std::iter::once(("", &*default))
            .chain(namespaces.iter().map(|(ns, store)| (ns.as_str(), store)));
        published.publish(named)
    };
    drop(released);
}

/// Publishes the typed `store` with the global stores from now on, until it is dropped: each
/// [`publish_metrics`] reads it through a handle that does not keep it alive. It is labelled with
/// its namespace, the name its events carry (set with the builder's `listener`, as below; `""`
/// without one). Registering a store again changes nothing. Feature `metrics`.
///
/// ```
/// use kvstore::{EventHub, Store};
///
/// let jobs: Store<String, u32> = Store::builder().listener(EventHub::new("jobs")).build();
/// kvstore::register_metrics(&jobs);
/// jobs.put("job-1".into(), 7);
/// kvstore::publish_metrics(); // publishes kv_current_size{ns="jobs"} 1, among others
/// drop(jobs); // the next publish counts its hits and misses still, and its size as 0
/// ```
#[cfg(all(feature = "metrics", not(kv_loom)))]
pub fn register_metrics<K: kv_core::StoreKey, V: kv_core::StoreValue, X: kv_core::Expiry>(
    store: &crate::TypedStore<K, V, X>,
) {
    write().published.register(store);
}
