//! What events cost the store: the same get/put mix on the same stack (TTL + LRU) with no
//! listener at all, with an `EventHub` nobody subscribes to, and with one subscriber that never
//! reads (so every event is offered and lost). Run in release:
//!
//! ```sh
//! cargo run --release -p kv-metrics --example event_cost
//! ```
//!
//! Prints million operations per second, the median of 5 interleaved rounds, and the idle
//! subscriber's buffered and lost event counts (the buffer stays at its bound).

use std::hint::black_box;
use std::time::Instant;

use kv_core::{Listener, NoListener, StoreBuilder};
use kv_lru::LruLayer;
use kv_metrics::EventHub;
use kv_ttl::TtlLayer;

const KEYS: u64 = 100_000;
const OPS: u64 = 4_000_000;

fn build<L: Listener<String>>(
    listener: L,
) -> kv_core::Store<String, u64, kv_ttl::Ttl, kv_lru::Lru, L> {
    StoreBuilder::new()
        .layer(TtlLayer::new())
        .layer(LruLayer::with_capacity(200_000))
        .listener(listener)
        .build()
}

/// 90% get, 10% put over `KEYS` keys, a fixed pseudo-random sequence; returns Mops/s.
fn run<L: Listener<String>>(
    store: &kv_core::Store<String, u64, kv_ttl::Ttl, kv_lru::Lru, L>,
    keys: &[String],
) -> f64 {
    for (i, k) in keys.iter().enumerate() {
        store.put(k.clone(), i as u64);
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let start = Instant::now();
    for i in 0..OPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = &keys[(x % KEYS) as usize];
        if i % 10 == 0 {
            store.put(k.clone(), i);
        } else {
            black_box(store.get(k.as_str()));
        }
    }
    OPS as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let keys: Vec<String> = (0..KEYS).map(|n| format!("key-{n}")).collect();
    let (mut none, mut idle_hub, mut idle_sub) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = (0, 0);
    for _ in 0..5 {
        none.push(run(&build(NoListener), &keys));
        idle_hub.push(run(&build(EventHub::new("bench")), &keys));
        let store = build(EventHub::new("bench"));
        let sub = store.listener().subscribe_with_buffer(1024);
        idle_sub.push(run(&store, &keys));
        last = (sub.len(), sub.missed());
    }
    println!("get 90% / put 10%, {KEYS} keys, {OPS} ops, 1 thread, Mops/s (median of 5)");
    println!("no listener                 {:.2}", median(none));
    println!("EventHub, no subscriber     {:.2}", median(idle_hub));
    println!("EventHub, 1 idle subscriber {:.2}", median(idle_sub));
    println!(
        "idle subscriber: {} events buffered (bound 1024), {} lost and counted",
        last.0, last.1
    );
}
