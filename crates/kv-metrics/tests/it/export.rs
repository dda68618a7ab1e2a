//! The `metrics` feature: the counters and gauges reach an installed recorder, labelled by namespace.
//! A test recorder made of std locks and Arcs.
#![allow(
    clippy::disallowed_types,
    reason = "test code: the recorder is not store code"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kv_core::{LoadMetrics, Metrics};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};

/// What the recorder saw: metric name (with its `outcome` label, if any, as in
/// `kv_loads_total{outcome="failed"}`) and `ns` label → last value.
type Seen = Arc<Mutex<BTreeMap<(String, String), f64>>>;

#[derive(Default)]
struct TestRecorder {
    seen: Seen,
    described: Mutex<Vec<String>>,
}

struct Cell {
    seen: Seen,
    id: (String, String),
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        *self
            .seen
            .lock()
            .unwrap()
            .entry(self.id.clone())
            .or_default() += value as f64;
    }
    fn absolute(&self, value: u64) {
        self.seen
            .lock()
            .unwrap()
            .insert(self.id.clone(), value as f64);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        *self
            .seen
            .lock()
            .unwrap()
            .entry(self.id.clone())
            .or_default() += value;
    }
    fn decrement(&self, value: f64) {
        *self
            .seen
            .lock()
            .unwrap()
            .entry(self.id.clone())
            .or_default() -= value;
    }
    fn set(&self, value: f64) {
        self.seen.lock().unwrap().insert(self.id.clone(), value);
    }
}

impl TestRecorder {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let ns = key
            .labels()
            .find(|l| l.key() == "ns")
            .map(|l| l.value().to_owned())
            .expect("every kv metric carries the ns label");
        let name = match key.labels().find(|l| l.key() == "outcome") {
            Some(outcome) => format!("{}{{outcome=\"{}\"}}", key.name(), outcome.value()),
            None => key.name().to_owned(),
        };
        Arc::new(Cell {
            seen: Arc::clone(&self.seen),
            id: (name, ns),
        })
    }

    fn value(&self, name: &str, ns: &str) -> Option<f64> {
        let seen = self.seen.lock().unwrap();
        seen.get(&(name.to_owned(), ns.to_owned())).copied()
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_owned());
    }
    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_owned());
    }
    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_owned());
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn publish_sets_the_counters_and_gauges_per_namespace() {
    let recorder = TestRecorder::default();
    let a = Metrics {
        hits: 5,
        misses: 1,
        expirations: 2,
        evictions: 3,
        current_size: 4,
    };
    let b = Metrics {
        hits: 9,
        ..Default::default()
    };
    metrics::with_local_recorder(&recorder, || {
        kv_metrics::publish("p1/n1", &a, 8);
        kv_metrics::publish("", &b, 0);
        // Publishing again sets, it does not add: the store's counters are already cumulative.
        kv_metrics::publish("p1/n1", &a, 8);
    });
    assert_eq!(recorder.value("kv_hits_total", "p1/n1"), Some(5.0));
    assert_eq!(recorder.value("kv_misses_total", "p1/n1"), Some(1.0));
    assert_eq!(recorder.value("kv_expirations_total", "p1/n1"), Some(2.0));
    assert_eq!(recorder.value("kv_evictions_total", "p1/n1"), Some(3.0));
    assert_eq!(recorder.value("kv_current_size", "p1/n1"), Some(4.0));
    assert_eq!(recorder.value("kv_capacity", "p1/n1"), Some(8.0));
    assert_eq!(recorder.value("kv_hits_total", ""), Some(9.0));
    assert_eq!(recorder.value("kv_current_size", ""), Some(0.0));
    assert_eq!(recorder.value("kv_capacity", ""), Some(0.0));
}

#[test]
fn describe_names_every_metric() {
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, kv_metrics::describe_metrics);
    let mut described = recorder.described.lock().unwrap().clone();
    described.sort();
    assert_eq!(
        described,
        [
            "kv_capacity",
            "kv_current_size",
            "kv_evictions_total",
            "kv_expirations_total",
            "kv_hits_total",
            "kv_load_seconds_total",
            "kv_loads_started_total",
            "kv_loads_total",
            "kv_misses_total"
        ]
    );
}

#[test]
fn publish_loads_sets_started_each_outcome_and_the_seconds() {
    let recorder = TestRecorder::default();
    let loads = LoadMetrics {
        started: 11,
        succeeded: 5,
        failed: 3,
        cancelled: 2,
        panicked: 1,
        refreshed: 4,
        refresh_dropped: 6,
        load_time: std::time::Duration::from_millis(2_500),
    };
    metrics::with_local_recorder(&recorder, || {
        kv_metrics::publish_loads("p1/n1", &loads);
        kv_metrics::publish_loads("p1/n1", &loads); // sets, does not add
    });
    let outcome = |o: &str| recorder.value(&format!("kv_loads_total{{outcome=\"{o}\"}}"), "p1/n1");
    assert_eq!(
        recorder.value("kv_loads_started_total", "p1/n1"),
        Some(11.0)
    );
    assert_eq!(outcome("succeeded"), Some(5.0));
    assert_eq!(outcome("failed"), Some(3.0));
    assert_eq!(outcome("cancelled"), Some(2.0));
    assert_eq!(outcome("panicked"), Some(1.0));
    assert_eq!(outcome("refreshed"), Some(4.0));
    assert_eq!(outcome("refresh_dropped"), Some(6.0));
    assert_eq!(recorder.value("kv_load_seconds_total", "p1/n1"), Some(2.5));
}
