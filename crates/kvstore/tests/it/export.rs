//! `publish_metrics` (feature `metrics`): every namespace's counters reach the installed
//! recorder, labelled by name. The test recorder uses std locks (test code).

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
        self.0
            .0
            .lock()
            .unwrap()
            .insert(self.1.clone(), value as f64);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        self.0.0.lock().unwrap().insert(self.1.clone(), value);
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

    fn cell(&self, key: &Key) -> Cell {
        let ns = key.labels().find(|l| l.key() == "ns").map(|l| l.value());
        let ns = ns.expect("every kv metric has the ns label").to_owned();
        Cell(self.clone(), (key.name().to_owned(), ns))
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
fn describe_metrics_is_reachable_from_kvstore_and_describes_all_six() {
    let values = Values::default();
    metrics::with_local_recorder(&values, kvstore::describe_metrics);
    for name in [
        "kv_hits_total",
        "kv_misses_total",
        "kv_expirations_total",
        "kv_evictions_total",
        "kv_current_size",
        "kv_capacity",
    ] {
        assert_eq!(values.get(name, DESCRIBED), Some(1.0), "{name} described");
    }
}
