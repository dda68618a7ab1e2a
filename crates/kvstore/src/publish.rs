//! What [`publish_metrics`] publishes: per `ns` label, every store that ever had that name.
//!
//! A Prometheus counter never goes backwards and must show every new hit, but the stores behind a
//! name change: a reset replaces the global ones, and a registered typed store is dropped. So a
//! published counter is not one store's figure; it is the sum over every store ever published
//! under that name. A store that loses its name (a reset forgets it) is still read while a handle
//! to it lives, since old handles keep working; once it is dropped, its figures as last read stay
//! in the name's `gone` total. The gauges count only the stores that have the name now.
//!
//! The publisher is process-wide bookkeeping outside every loom model, so it uses the standard
//! library's lock directly, as the registry in `global.rs` does.
#![allow(
    clippy::disallowed_types,
    reason = "the publisher is process-wide bookkeeping outside every loom model"
)]

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{AnyStore, Metrics, Store, global};

/// The lock order is this one first, then the registry's (`publish_metrics`, and a reset that
/// hands its stores over here): a store is always in exactly one of the registry and `sources`.
static PUBLISHER: Mutex<Publisher> = Mutex::new(Publisher {
    gone: BTreeMap::new(),
    sources: Vec::new(),
});

struct Publisher {
    /// Per name: the counters of its stores that no longer exist, as last read.
    gone: BTreeMap<String, Metrics>,
    /// Stores published that are not in the registry: registered typed stores (which have their
    /// name) and stores a reset forgot (which do not).
    sources: Vec<Source>,
}

/// A store that [`publish_metrics`] reads through a handle that does not keep it alive.
struct Source {
    name: String,
    id: StoreId,
    read: Box<dyn Fn() -> Option<Reading> + Send>,
    /// What `read` returned last: what the store leaves behind when it is dropped.
    last: Metrics,
    /// Whether it still has its name (registered), so its size and capacity count.
    named: bool,
}

/// One store's figures.
struct Reading {
    metrics: Metrics,
    capacity: usize,
}

/// Names a store while a handle to it (strong or weak) exists: the address of its listener, which
/// lives in the store's shared allocation, and a weak handle keeps that allocation from reuse.
type StoreId = usize;

fn id<K, V>(store: &Store<K, V>) -> StoreId
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    std::ptr::from_ref(store.listener()).addr()
}

fn read<K, V>(store: &Store<K, V>) -> Reading
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    #[cfg(feature = "lru")]
    let capacity = store.capacity();
    #[cfg(not(feature = "lru"))]
    let capacity = 0;
    Reading {
        metrics: store.metrics(),
        capacity,
    }
}

impl Source {
    fn new<K, V>(store: &Store<K, V>, named: bool) -> Self
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let weak = store.downgrade();
        Self {
            name: store.listener().namespace().to_owned(),
            id: id(store),
            read: Box::new(move || weak.upgrade().map(|store| read(&store))),
            last: store.metrics(),
            named,
        }
    }
}

fn publisher() -> MutexGuard<'static, Publisher> {
    PUBLISHER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What one name publishes, summed over its stores.
#[derive(Default)]
struct Series {
    /// Counters of every store; `current_size` of the named ones only.
    metrics: Metrics,
    /// `None` while no store has the name; `Some(0)` once one of them is unbounded.
    capacity: Option<usize>,
}

/// The counters of `metrics`, without its size.
fn counters(metrics: Metrics) -> Metrics {
    Metrics {
        current_size: 0,
        ..metrics
    }
}

impl Series {
    fn add_counters(&mut self, metrics: Metrics) {
        self.metrics = self.metrics + counters(metrics);
    }

    fn add_named(&mut self, reading: &Reading) {
        self.metrics = self.metrics + reading.metrics;
        self.capacity = Some(match self.capacity {
            None => reading.capacity,
            Some(0) => 0,
            Some(_) if reading.capacity == 0 => 0,
            Some(sum) => sum.saturating_add(reading.capacity),
        });
    }
}

/// Publishes the counters and gauges of every store through the `metrics` facade crate, labelled
/// `ns` with the store's name (feature `metrics`; `kv_metrics::export` has the names): the
/// default store and every namespace, and the typed stores given to [`register_metrics`]. Call it
/// periodically, or before each scrape; callers on several threads at once are served one at a
/// time.
///
/// What a Prometheus user can rely on:
/// - A counter is the total over every store that has had the name: it never goes backwards and
///   every new hit shows. When a reset ([`reset_namespaces`](crate::reset_namespaces),
///   [`reset_default`](crate::reset_default)) replaces a store, or a registered store is dropped,
///   its figures stay in the total; a forgotten store still used through an old handle keeps
///   counting until it is dropped. Only what a store counts after the last publish before it is
///   dropped is lost.
/// - `kv_current_size` and `kv_capacity` are those of the stores that have the name now. A name
///   whose stores are all gone keeps its counters and reads 0 in both gauges (the `metrics` facade
///   cannot remove a series); `kv_capacity` is otherwise 0 only for an unbounded store.
/// - Stores that share a name are published together: the default store and `namespace("")`
///   under `ns=""`, a registered store with a namespace of the same name. Their capacities add
///   up, to 0 if one is unbounded.
pub fn publish_metrics() {
    let mut publisher = publisher();
    let Publisher { gone, sources } = &mut *publisher;
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    for (name, metrics) in gone.iter() {
        series
            .entry(name.clone())
            .or_default()
            .add_counters(*metrics);
    }
    let in_registry = global::named_stores();
    let registry_ids: HashSet<StoreId> = in_registry
        .iter()
        .map(|(_, store)| id(store.as_store()))
        .collect();
    sources.retain_mut(|source| {
        let entry = series.entry(source.name.clone()).or_default();
        let Some(reading) = (source.read)() else {
            let left = gone.entry(source.name.clone()).or_default();
            *left = *left + counters(source.last);
            entry.add_counters(source.last);
            return false;
        };
        source.last = reading.metrics;
        // A registered store that is also in the registry is counted there, once.
        if !registry_ids.contains(&source.id) {
            if source.named {
                entry.add_named(&reading);
            } else {
                entry.add_counters(reading.metrics);
            }
        }
        true
    });
    for (name, store) in &in_registry {
        let reading = read(store.as_store());
        series.entry(name.clone()).or_default().add_named(&reading);
    }
    for (name, series) in &series {
        kv_metrics::publish(name, &series.metrics, series.capacity.unwrap_or(0));
    }
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
pub fn register_metrics<K, V>(store: &Store<K, V>)
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let mut publisher = publisher();
    let id = id(store);
    if !publisher.sources.iter().any(|source| source.id == id) {
        publisher.sources.push(Source::new(store, true));
    }
}

/// Runs `forget`, which takes stores out of the registry, and keeps publishing their counters
/// under their names (they keep no size or capacity there). Holding the publisher's lock across
/// both, no publish sees the stores in neither place.
pub(crate) fn retire<I: IntoIterator<Item = AnyStore>>(forget: impl FnOnce() -> I) {
    let mut publisher = publisher();
    for store in forget() {
        let id = id(store.as_store());
        // A registered store keeps its registration (and with it its name).
        if !publisher.sources.iter().any(|source| source.id == id) {
            publisher.sources.push(Source::new(store.as_store(), false));
        }
    }
}
