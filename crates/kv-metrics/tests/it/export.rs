//! The `metrics` feature: the counters and gauges reach an installed recorder, labelled by namespace.
//! A test recorder made of std locks and Arcs.
#![allow(
    clippy::disallowed_types,
    reason = "test code: the recorder is not store code"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kv_core::Metrics;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};

/// What the recorder saw: metric name and `ns` label → last value.
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
        Arc::new(Cell {
            seen: Arc::clone(&self.seen),
            id: (key.name().to_owned(), ns),
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
            "kv_misses_total"
        ]
    );
}
