//! `publish_metrics` (feature `metrics`): every namespace's counters reach the installed
//! recorder, labelled by name, and stay trustworthy across resets, dropped stores and concurrent
//! publishers. The test recorder uses std locks (test code) and fails any test in which a
//! counter (or a gauge named `_total`, `kv_load_seconds_total`) goes backwards.

// The `prometheus` example, scraped over HTTP.
#[cfg(feature = "lru")]
mod prometheus;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};

/// Last value per (metric name, `ns` label).
#[derive(Clone, Default)]
struct Values(Arc<Mutex<BTreeMap<(String, String), f64>>>);

struct Cell(Values, (String, String));

impl CounterFn for Cell {
    fn increment(&self, _: u64) {
        panic!("publish_metrics must set counters, not add to them");
    }
    fn absolute(&self, value: u64) {
        let previous = self
            .0
            .0
            .lock()
            .unwrap()
            .insert(self.1.clone(), value as f64);
        if let Some(previous) = previous {
            assert!(
                previous <= value as f64,
                "{:?} went backwards: {previous} then {value}",
                self.1
            );
        }
    }
}

impl GaugeFn for Cell {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        let previous = self.0.0.lock().unwrap().insert(self.1.clone(), value);
        if let Some(previous) = previous.filter(|_| self.1.0.ends_with("_total")) {
            assert!(
                previous <= value,
                "{:?} went backwards: {previous} then {value}",
                self.1
            );
        }
    }
}

impl Recorder for Values {
    fn describe_counter(&self, name: KeyName, _: Option<Unit>, _: SharedString) {
        self.described(name);
    }
    fn describe_gauge(&self, name: KeyName, _: Option<Unit>, _: SharedString) {
        self.described(name);
    }
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(self.cell(key)))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(self.cell(key)))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// The label under which a described metric is noted (no real namespace has it).
const DESCRIBED: &str = "(described)";

impl Values {
    fn described(&self, name: KeyName) {
        let key = (name.as_str().to_owned(), DESCRIBED.to_owned());
        self.0.lock().unwrap().insert(key, 1.0);
    }

    /// The cell of `key`, noted under its name with its other labels than `ns`, as in
    /// `kv_loads_total{outcome="failed"}`.
    fn cell(&self, key: &Key) -> Cell {
        let ns = key.labels().find(|l| l.key() == "ns").map(|l| l.value());
        let ns = ns.expect("every kv metric has the ns label").to_owned();
        let others: Vec<String> = key
            .labels()
            .filter(|l| l.key() != "ns")
            .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
            .collect();
        let name = if others.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), others.join(","))
        };
        Cell(self.clone(), (name, ns))
    }

    fn get(&self, name: &str, ns: &str) -> Option<f64> {
        let values = self.0.lock().unwrap();
        values.get(&(name.to_owned(), ns.to_owned())).copied()
    }
}

#[test]
fn publish_metrics_sets_each_namespaces_counters() {
    let _global = crate::global_stores();
    let ns = "export-test/node";
    let store = kvstore::namespace(ns);
    store.put("a", 1_u8);
    store.put("b", 2_u8);
    let _ = store.get::<u8>("a");
    let _ = store.get::<u8>("missing");
    let values = Values::default();
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(1.0));
    assert_eq!(values.get("kv_misses_total", ns), Some(1.0));
    assert_eq!(values.get("kv_expirations_total", ns), Some(0.0));
    assert_eq!(values.get("kv_evictions_total", ns), Some(0.0));
    assert_eq!(values.get("kv_current_size", ns), Some(2.0));
    // The default store is published too, under the empty name.
    assert!(values.get("kv_hits_total", "").is_some());
}

#[test]
#[cfg(feature = "lru")] // sets a capacity
fn capacity_gauge_reads_each_namespaces_capacity_and_zero_when_unbounded() {
    let _global = crate::global_stores();
    let (capped, unbounded) = ("export-test/capped", "export-test/unbounded");
    kvstore::namespace(capped).set_capacity(3);
    kvstore::namespace(unbounded).put("a", 1_u8);
    let values = Values::default();
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_capacity", capped), Some(3.0));
    assert_eq!(values.get("kv_capacity", unbounded), Some(0.0));
}

#[test]
fn describe_metrics_is_reachable_from_kvstore_and_describes_all_nine() {
    let values = Values::default();
    metrics::with_local_recorder(&values, kvstore::describe_metrics);
    for name in [
        "kv_hits_total",
        "kv_misses_total",
        "kv_expirations_total",
        "kv_evictions_total",
        "kv_current_size",
        "kv_capacity",
        "kv_loads_started_total",
        "kv_loads_total",
        "kv_load_seconds_total",
    ] {
        assert_eq!(values.get(name, DESCRIBED), Some(1.0), "{name} described");
    }
}

#[test]
fn counters_keep_rising_across_reset_namespaces_and_reset_default() {
    let _global = crate::global_stores();
    let ns = "export-test/reset";
    let hits = |values: &Values, ns: &str| values.get("kv_hits_total", ns);
    let values = Values::default();
    let store = kvstore::namespace(ns);
    store.put("a", 1_u8);
    let _ = store.get::<u8>("a");
    let _ = store.get::<u8>("a");
    drop(store);
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(hits(&values, ns), Some(2.0));

    kvstore::reset_namespaces();
    let fresh = kvstore::namespace(ns);
    fresh.put("a", 1_u8);
    let _ = fresh.get::<u8>("a");
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(
        hits(&values, ns),
        Some(3.0),
        "the new store's hit shows at once"
    );

    // The default store: the same, under ns="".
    kvstore::put("export-test/reset", 1_u8);
    let _ = kvstore::get::<u8>("export-test/reset");
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    let before = hits(&values, "").unwrap();
    kvstore::reset_default();
    kvstore::put("export-test/reset", 1_u8);
    let _ = kvstore::get::<u8>("export-test/reset");
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(hits(&values, ""), Some(before + 1.0));
}

#[test]
fn forgotten_stores_handles_keep_counting_until_dropped() {
    let _global = crate::global_stores();
    let ns = "export-test/old-handle";
    let values = Values::default();
    let old = kvstore::namespace(ns);
    old.put("a", 1_u8);
    kvstore::reset_namespaces();
    let _ = old.get::<u8>("a"); // an old handle still works, and its hit counts
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(1.0));
    drop(old);
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(1.0));
}

#[test]
#[cfg(feature = "lru")] // sets a capacity
fn forgotten_namespace_size_and_capacity_gauges_read_zero() {
    let _global = crate::global_stores();
    let ns = "export-test/forgotten";
    let values = Values::default();
    let store = kvstore::namespace(ns);
    store.set_capacity(5);
    store.put("a", 1_u8);
    let _ = store.get::<u8>("a");
    drop(store);
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_current_size", ns), Some(1.0));
    assert_eq!(values.get("kv_capacity", ns), Some(5.0));
    kvstore::reset_namespaces();
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_current_size", ns), Some(0.0));
    assert_eq!(values.get("kv_capacity", ns), Some(0.0));
    assert_eq!(values.get("kv_hits_total", ns), Some(1.0), "counters stay");
}

#[test]
#[cfg(feature = "lru")] // sets a capacity
fn register_metrics_publishes_typed_stores_and_forgets_dropped_ones() {
    let _global = crate::global_stores(); // publish_metrics reads the global stores too
    let ns = "export-test/typed";
    let values = Values::default();
    let store: kvstore::Store<String, u32> = kvstore::Store::builder()
        .listener(kvstore::EventHub::new(ns))
        .capacity(4)
        .build();
    kvstore::register_metrics(&store);
    kvstore::register_metrics(&store.clone()); // the same store: counted once
    store.put("a".into(), 1);
    let _ = store.get("a");
    let _ = store.get("b");
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(1.0));
    assert_eq!(values.get("kv_misses_total", ns), Some(1.0));
    assert_eq!(values.get("kv_current_size", ns), Some(1.0));
    assert_eq!(values.get("kv_capacity", ns), Some(4.0));
    drop(store);
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(1.0), "counters stay");
    assert_eq!(values.get("kv_current_size", ns), Some(0.0));
    assert_eq!(values.get("kv_capacity", ns), Some(0.0));
}

#[test]
fn register_metrics_of_a_namespace_store_counts_it_once() {
    let _global = crate::global_stores();
    let ns = "export-test/registered-namespace";
    let values = Values::default();
    let store = kvstore::namespace(ns);
    kvstore::register_metrics(store.as_store());
    store.put("a", 1_u8);
    let _ = store.get::<u8>("a");
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(1.0));
    assert_eq!(values.get("kv_current_size", ns), Some(1.0));
    // Registered, it keeps its name across a reset; a fresh namespace store joins it.
    kvstore::reset_namespaces();
    let _ = kvstore::namespace(ns).get::<u8>("a");
    let _ = store.get::<u8>("a");
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(2.0));
    assert_eq!(values.get("kv_misses_total", ns), Some(1.0));
    assert_eq!(values.get("kv_current_size", ns), Some(1.0));
}

#[test]
fn concurrent_publishers_and_resets_never_double_count() {
    let _global = crate::global_stores();
    let ns = "export-test/concurrent";
    let values = Values::default();
    let (threads, rounds) = (4, 50);
    let outcomes = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let values = values.clone();
                s.spawn(move || {
                    // Handles stay alive until the last publish: a store dropped between two
                    // publishes takes its latest counts with it (documented).
                    let mut handles = Vec::new();
                    let (mut hits, mut misses) = (0, 0);
                    for round in 0..rounds {
                        let store = kvstore::namespace(ns);
                        store.put(format!("{t}"), round);
                        match store.get::<i32>(&format!("{t}")) {
                            Some(_) => hits += 1,
                            None => misses += 1,
                        }
                        if round % 10 == t {
                            kvstore::reset_namespaces();
                        }
                        metrics::with_local_recorder(&values, kvstore::publish_metrics);
                        handles.push(store);
                    }
                    (hits, misses, handles)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    let hits: i32 = outcomes.iter().map(|o| o.0).sum();
    let misses: i32 = outcomes.iter().map(|o| o.1).sum();
    assert_eq!(hits + misses, threads * rounds);
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(f64::from(hits)));
    assert_eq!(values.get("kv_misses_total", ns), Some(f64::from(misses)));
    drop(outcomes);
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(values.get("kv_hits_total", ns), Some(f64::from(hits)));
}

/// The published load figures of `ns`: started, then ended by outcome (succeeded, failed,
/// cancelled, panicked), then the seconds.
fn loads(values: &Values, ns: &str) -> (Option<f64>, [Option<f64>; 4], Option<f64>) {
    let outcome = |o: &str| values.get(&format!("kv_loads_total{{outcome=\"{o}\"}}"), ns);
    (
        values.get("kv_loads_started_total", ns),
        [
            outcome("succeeded"),
            outcome("failed"),
            outcome("cancelled"),
            outcome("panicked"),
        ],
        values.get("kv_load_seconds_total", ns),
    )
}

#[test]
fn publish_metrics_exports_each_load_by_outcome_and_the_load_seconds_after_real_loads() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    let _global = crate::global_stores();
    let ns = "export-test/loads";
    let values = Values::default();
    let clock = kvstore::ManualClock::new();
    let store: kvstore::Store<String, u32> = kvstore::Store::builder()
        .listener(kvstore::EventHub::new(ns))
        .clock(clock.clone())
        .build();
    kvstore::register_metrics(&store);
    let advance = |secs: f64| clock.advance(Duration::from_secs_f64(secs));
    store.get_or_insert_with("a".into(), || {
        advance(1.5);
        1
    });
    let _ = store.try_get_or_insert_with("b".into(), || {
        advance(0.25);
        Err("down")
    });
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.get_or_insert_with("c".into(), || panic!("loader bug"))
    }));
    assert!(panicked.is_err());
    // An async load polled once, then dropped (its caller cancelled): counted as cancelled.
    let mut load = Box::pin(store.get_or_insert_async("d".into(), std::future::pending()));
    let polled = load.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    assert!(polled == Poll::Pending);
    drop(load);
    let _ = store.get("a"); // a hit runs no load
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    let one = Some(1.0);
    assert_eq!(
        loads(&values, ns),
        (Some(4.0), [one, one, one, one], Some(1.75))
    );

    // A dropped store leaves its figures in the totals.
    drop(store);
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(
        loads(&values, ns),
        (Some(4.0), [one, one, one, one], Some(1.75))
    );
}

#[test]
fn load_counters_keep_rising_across_reset_namespaces() {
    let _global = crate::global_stores();
    let ns = "export-test/loads-reset";
    let values = Values::default();
    let fail = || {
        let store = kvstore::namespace(ns);
        let failed = store
            .as_store()
            .try_get_or_insert_with("k".into(), || Err("down"));
        assert!(failed.is_err());
    };
    fail();
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    assert_eq!(loads(&values, ns).1[1], Some(1.0));
    kvstore::reset_namespaces();
    fail();
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    let (started, [succeeded, failed, ..], _) = loads(&values, ns);
    assert_eq!(
        (started, succeeded, failed),
        (Some(2.0), Some(0.0), Some(2.0))
    );
}

#[test]
fn publish_metrics_exports_the_reloads_of_a_registered_refreshing_store_by_outcome() {
    use std::time::Duration;

    let _global = crate::global_stores();
    let ns = "export-test/refresh";
    let values = Values::default();
    let clock = kvstore::ManualClock::new();
    let period = Duration::from_secs(60);
    let store: kvstore::RefreshingStore<String, u32> = kvstore::Store::builder()
        .listener(kvstore::EventHub::new(ns))
        .clock(clock.clone())
        .refresh_after(
            period,
            kvstore::Reloader::sync_with(
                |key: &String| if key == "down" { Err("down") } else { Ok(2) },
                |reload: kvstore::ReloadJob| reload(),
            ),
        )
        .build();
    kvstore::register_metrics(&store);
    store.put("up".into(), 1);
    store.put("down".into(), 1);
    clock.advance(period);
    assert_eq!(store.get("up"), Some(1)); // reloaded at once by the inline runner
    assert_eq!(store.get("down"), Some(1)); // its reload fails
    metrics::with_local_recorder(&values, kvstore::publish_metrics);
    let outcome = |o: &str| values.get(&format!("kv_loads_total{{outcome=\"{o}\"}}"), ns);
    assert_eq!(values.get("kv_loads_started_total", ns), Some(2.0));
    assert_eq!(outcome("refreshed"), Some(1.0));
    assert_eq!(outcome("failed"), Some(1.0));
    assert_eq!(outcome("refresh_dropped"), Some(0.0));
    assert_eq!(outcome("succeeded"), Some(0.0));
}
