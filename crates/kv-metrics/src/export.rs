//! Publishing a store's counters through the [`metrics`] facade, so whatever exporter a program
//! installs (Prometheus, StatsD, ...) picks them up with no glue. Feature `metrics`.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `kv_hits_total`, `kv_misses_total`, `kv_expirations_total`, `kv_evictions_total` | counter | `ns` |
//! | `kv_current_size`, `kv_capacity` (0: unbounded) | gauge | `ns` |
//!
//! The store's counters are exact and already cumulative, so publishing sets each counter to the
//! store's value ([`metrics::Counter::absolute`]) instead of adding to it: publishing twice
//! counts nothing twice. A counter must never go backwards (Prometheus reads a drop as a restart,
//! and many recorders ignore a lower value), so the figures published under one namespace must
//! only grow: `kvstore::publish_metrics` keeps them growing when a store is replaced.

use kv_core::Metrics;

/// `kv_hits_total`: successful reads.
pub const HITS: &str = "kv_hits_total";
/// `kv_misses_total`: reads that found nothing live.
pub const MISSES: &str = "kv_misses_total";
/// `kv_expirations_total`: expired entries reclaimed.
pub const EXPIRATIONS: &str = "kv_expirations_total";
/// `kv_evictions_total`: live entries evicted to respect the capacity.
pub const EVICTIONS: &str = "kv_evictions_total";
/// `kv_current_size`: entries held in memory now.
pub const CURRENT_SIZE: &str = "kv_current_size";
/// `kv_capacity`: the most entries (or total weight, for a store with a weigher) the store holds
/// before evicting; 0 means unbounded.
pub const CAPACITY: &str = "kv_capacity";
/// The label naming the store's namespace (`""` for the default store).
pub const NAMESPACE_LABEL: &str = "ns";

/// Publishes the counters and gauges of the store of `namespace` to the installed recorder:
/// `metrics` and `capacity` (0: unbounded).
///
/// ```
/// let store: kv_core::Store<String, u32> = kv_core::Store::new();
/// store.put("k".into(), 1);
/// kv_metrics::publish("pipeline/node", &store.metrics(), 0); // a no-op until a recorder is set
/// ```
pub fn publish(namespace: &str, metrics: &Metrics, capacity: usize) {
    let ns = namespace.to_owned();
    metrics::counter!(HITS, NAMESPACE_LABEL => ns.clone()).absolute(metrics.hits);
    metrics::counter!(MISSES, NAMESPACE_LABEL => ns.clone()).absolute(metrics.misses);
    metrics::counter!(EXPIRATIONS, NAMESPACE_LABEL => ns.clone()).absolute(metrics.expirations);
    metrics::counter!(EVICTIONS, NAMESPACE_LABEL => ns.clone()).absolute(metrics.evictions);
    // Gauges are f64; sizes past 2^53 lose precision, far beyond what memory holds.
    metrics::gauge!(CURRENT_SIZE, NAMESPACE_LABEL => ns.clone()).set(metrics.current_size as f64);
    metrics::gauge!(CAPACITY, NAMESPACE_LABEL => ns).set(capacity as f64);
}

/// Describes the six metrics to the installed recorder (help text and units). Call it once after
/// installing an exporter.
pub fn describe() {
    use metrics::Unit;
    metrics::describe_counter!(HITS, Unit::Count, "Successful reads of a kv store.");
    metrics::describe_counter!(
        MISSES,
        Unit::Count,
        "Reads of a kv store that found nothing live."
    );
    metrics::describe_counter!(
        EXPIRATIONS,
        Unit::Count,
        "Expired entries a kv store reclaimed."
    );
    metrics::describe_counter!(
        EVICTIONS,
        Unit::Count,
        "Live entries a kv store evicted to respect its capacity."
    );
    metrics::describe_gauge!(
        CURRENT_SIZE,
        Unit::Count,
        "Entries a kv store holds in memory, expired ones not yet reclaimed included."
    );
    metrics::describe_gauge!(
        CAPACITY,
        Unit::Count,
        "Entries (or total weight, with a weigher) a kv store holds before evicting; 0 means unbounded."
    );
}
