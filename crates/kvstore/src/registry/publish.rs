//! What [`publish_metrics`](super::publish_metrics) publishes: per `ns` label, every store that
//! ever had that name (its counters and its load statistics alike).
//!
//! A Prometheus counter never goes backwards and must show every new hit, but the stores behind a
//! name change: a reset replaces the global ones, and a registered typed store is dropped. So a
//! published counter is not one store's figure; it is the sum over every store ever published
//! under that name. A store that loses its name (a reset forgets it) is still read while a handle
//! to it lives, since old handles keep working; once it is dropped, its figures as last read stay
//! in the name's `gone` total. The gauges count only the stores that have the name now.
//!
//! [`Published`] lives in the registry, under its lock; it is handed the registry's stores and
//! never reaches for them.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};

use kv_core::{Expiry, LoadMetrics, StoreId, StoreKey, StoreValue};

use crate::{AnyStore, Metrics, TypedStore};

/// The publisher's books: what is left of stores that are gone, and the stores it reads that
/// are not in the registry.
#[derive(Default)]
pub(super) struct Published {
    /// Per name: the counters of its stores that no longer exist, as last read.
    gone: BTreeMap<String, Counters>,
    /// Stores published that are not in the registry: registered typed stores (which have their
    /// name) and stores a reset forgot (which do not).
    sources: Vec<Source>,
}

/// A strong handle on a store, held only while a publish reads it.
type Held = Box<dyn Any + Send>;

/// A store that [`Published::publish`] reads through a handle that does not keep it alive.
struct Source {
    name: String,
    id: StoreId,
    /// The store's figures, with a handle that keeps it alive until the publish is over (so a
    /// store whose last handle goes meanwhile is dropped after the registry's lock is released).
    read: Box<dyn Fn() -> Option<(Reading, Held)> + Send + Sync>,
    /// What `read` returned last: what the store leaves behind when it is dropped.
    last: Counters,
    /// Whether it still has its name (registered), so its size and capacity count.
    named: bool,
}

/// One store's figures.
struct Reading {
    metrics: Metrics,
    loads: LoadMetrics,
    capacity: usize,
}

impl Reading {
    fn counters(&self) -> Counters {
        Counters {
            metrics: counters(self.metrics),
            loads: self.loads,
        }
    }
}

/// A store's counters, its size left out: what the store leaves in its name's totals.
#[derive(Clone, Copy, Default)]
struct Counters {
    /// `current_size` is 0.
    metrics: Metrics,
    loads: LoadMetrics,
}

impl std::ops::Add for Counters {
    type Output = Counters;

    fn add(self, o: Counters) -> Counters {
        Counters {
            metrics: self.metrics + o.metrics,
            loads: self.loads + o.loads,
        }
    }
}

fn read<K: StoreKey, V: StoreValue, X: Expiry>(store: &TypedStore<K, V, X>) -> Reading {
    #[cfg(feature = "lru")]
    let capacity = store.capacity();
    #[cfg(not(feature = "lru"))]
    let capacity = 0;
    Reading {
        metrics: store.metrics(),
        loads: store.load_metrics(),
        capacity,
    }
}

impl Source {
    fn new<K: StoreKey, V: StoreValue, X: Expiry>(
        store: &TypedStore<K, V, X>,
        named: bool,
    ) -> Self {
        let weak = store.downgrade();
        Self {
            name: store.listener().namespace().to_owned(),
            id: store.id(),
            read: Box::new(move || {
                let store = weak.upgrade()?;
                Some((read(&store), Box::new(store) as Held))
            }),
            last: read(store).counters(),
            named,
        }
    }
}

/// What one name publishes, summed over its stores.
#[derive(Default)]
struct Series {
    /// Counters of every store; `current_size` of the named ones only.
    metrics: Metrics,
    /// Load counters of every store.
    loads: LoadMetrics,
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
    fn add_counters(&mut self, counters: Counters) {
        self.metrics = self.metrics + counters.metrics;
        self.loads = self.loads + counters.loads;
    }

    fn add_named(&mut self, reading: &Reading) {
        self.metrics = self.metrics + reading.metrics;
        self.loads = self.loads + reading.loads;
        self.capacity = Some(match self.capacity {
            None => reading.capacity,
            Some(0) => 0,
            Some(_) if reading.capacity == 0 => 0,
            Some(sum) => sum.saturating_add(reading.capacity),
        });
    }
}

impl Published {
    /// Publishes every name's series: the registry's stores (`named`, with their names) and the
    /// sources. Returns the handles it held on the sources while reading them, to be dropped
    /// after the registry's lock is released.
    pub(super) fn publish<'a>(
        &mut self,
        named: impl Iterator<Item = (&'a str, &'a AnyStore)>,
    ) -> Vec<Held> {
        let Self { gone, sources } = self;
        let mut series: BTreeMap<String, Series> = BTreeMap::new();
        for (name, metrics) in gone.iter() {
            series
                .entry(name.clone())
                .or_default()
                .add_counters(*metrics);
        }
        let named: Vec<(&str, &AnyStore)> = named.collect();
        let registry_ids: HashSet<StoreId> = named
            .iter()
            .map(|(_, store)| store.as_store().id())
            .collect();
        let mut held = Vec::new();
        sources.retain_mut(|source| {
            let entry = series.entry(source.name.clone()).or_default();
            let Some((reading, handle)) = (source.read)() else {
                let left = gone.entry(source.name.clone()).or_default();
                *left = *left + source.last;
                entry.add_counters(source.last);
                return false;
            };
            held.push(handle);
            source.last = reading.counters();
            // A registered store that is also in the registry is counted there, once.
            if !registry_ids.contains(&source.id) {
                if source.named {
                    entry.add_named(&reading);
                } else {
                    entry.add_counters(reading.counters());
                }
            }
            true
        });
        for (name, store) in named {
            let reading = read(store.as_store());
            series
                .entry(name.to_owned())
                .or_default()
                .add_named(&reading);
        }
        for (name, series) in &series {
            kv_metrics::publish(name, &series.metrics, series.capacity.unwrap_or(0));
            kv_metrics::publish_loads(name, &series.loads);
        }
        held
    }

    /// Reads the typed `store` from now on, under its namespace; a store registered already
    /// changes nothing.
    pub(super) fn register<K: StoreKey, V: StoreValue, X: Expiry>(
        &mut self,
        store: &TypedStore<K, V, X>,
    ) {
        let id = store.id();
        if !self.sources.iter().any(|source| source.id == id) {
            self.sources.push(Source::new(store, true));
        }
    }

    /// Keeps publishing the counters of stores the registry forgets, under their names (they
    /// keep no size or capacity there).
    pub(super) fn retire(&mut self, forgotten: &[AnyStore]) {
        for store in forgotten {
            let id = store.as_store().id();
            // A registered store keeps its registration (and with it its name).
            if !self.sources.iter().any(|source| source.id == id) {
                self.sources.push(Source::new(store.as_store(), false));
            }
        }
    }
}
