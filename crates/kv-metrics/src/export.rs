//! Publishing a store's counters through the [`metrics`] facade, so whatever exporter a program
//! installs (Prometheus, StatsD, ...) picks them up with no glue. Feature `metrics`.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `kv_hits_total`, `kv_misses_total`, `kv_expirations_total`, `kv_evictions_total` | counter | `ns` |
//! | `kv_current_size`, `kv_capacity` (0: unbounded) | gauge | `ns` |
//! | `kv_loads_started_total` | counter | `ns` |
//! | `kv_loads_total` | counter | `ns`, `outcome`: `succeeded`, `failed`, `cancelled`, `panicked`, `refreshed`, `refresh_dropped` |
//! | `kv_load_seconds_total` | gauge (seconds, only rising) | `ns` |
//!
//! The load metrics ([`publish_loads`]) are a store's [`LoadMetrics`]. `kv_loads_total` counts
//! the loads that ended, one series per way of ending, so that summing it over `outcome` means
//! something (every ended load, once); the loads started are a counter of their own rather than
//! an `outcome="started"` series, which would count each load twice in that sum. Loads in flight
//! are `kv_loads_started_total - sum without (outcome) (kv_loads_total)`. A refresh-ahead reload
//! is a load too: it ends as `refreshed` (its value replaced the entry), `refresh_dropped` (the
//! key was written meanwhile, and the write won, or the value weighs more than the capacity),
//! or `failed`, `cancelled`, `panicked`.
//! `kv_load_seconds_total` is a gauge only because the `metrics` facade's counters hold whole
//! numbers and a whole-second total would lose every load shorter than a second; it never goes
//! backwards either, so `rate()` reads it as the counter it is.
//!
//! The store's counters are exact and already cumulative, so publishing sets each counter to the
//! store's value ([`metrics::Counter::absolute`]) instead of adding to it: publishing twice
//! counts nothing twice. A counter must never go backwards (Prometheus reads a drop as a restart,
//! and many recorders ignore a lower value), so the figures published under one namespace must
//! only grow: `kvstore::publish_metrics` keeps them growing when a store is replaced.

use kv_core::{LoadMetrics, Metrics};

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
/// `kv_loads_started_total`: loads started (a get-or-insert caller ran its loader, or a read
/// started a refresh-ahead reload).
pub const LOADS_STARTED: &str = "kv_loads_started_total";
/// `kv_loads_total`: loads that ended, labelled [`OUTCOME_LABEL`].
pub const LOADS: &str = "kv_loads_total";
/// `kv_load_seconds_total`: the time ended loads took, in seconds.
pub const LOAD_SECONDS: &str = "kv_load_seconds_total";
/// The label of [`LOADS`] saying how a load ended: `succeeded`, `failed`, `cancelled`,
/// `panicked`, `refreshed` or `refresh_dropped`.
pub const OUTCOME_LABEL: &str = "outcome";
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

/// Publishes the load metrics of the store of `namespace` to the installed recorder, set (not
/// added) like [`publish`]'s counters.
///
/// ```
/// let store: kv_core::Store<String, u32> = kv_core::Store::new();
/// store.get_or_insert_with("k".into(), || 1);
/// kv_metrics::publish_loads("pipeline/node", &store.load_metrics()); // a no-op until a recorder is set
/// ```
pub fn publish_loads(namespace: &str, loads: &LoadMetrics) {
    let ns = namespace.to_owned();
    metrics::counter!(LOADS_STARTED, NAMESPACE_LABEL => ns.clone()).absolute(loads.started);
    for (outcome, count) in [
        ("succeeded", loads.succeeded),
        ("failed", loads.failed),
        ("cancelled", loads.cancelled),
        ("panicked", loads.panicked),
        ("refreshed", loads.refreshed),
        ("refresh_dropped", loads.refresh_dropped),
    ] {
        metrics::counter!(LOADS, NAMESPACE_LABEL => ns.clone(), OUTCOME_LABEL => outcome)
            .absolute(count);
    }
    metrics::gauge!(LOAD_SECONDS, NAMESPACE_LABEL => ns).set(loads.load_time.as_secs_f64());
}

/// Describes the nine metrics to the installed recorder (help text and units). Call it once after
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
    metrics::describe_counter!(
        LOADS_STARTED,
        Unit::Count,
        "Loads a kv store's get-or-insert callers and refresh-ahead reloads started."
    );
    metrics::describe_counter!(
        LOADS,
        Unit::Count,
        "Loads of a kv store that ended, by outcome: succeeded, failed, cancelled, panicked, refreshed, refresh_dropped."
    );
    metrics::describe_gauge!(
        LOAD_SECONDS,
        Unit::Seconds,
        "Time the ended loads of a kv store took; only rises."
    );
}
