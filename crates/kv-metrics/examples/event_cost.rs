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
//!
//! Wall-clock figures are noisy on a shared machine; `event_cost only none|hub|idle` runs one
//! variant once on one thread, for counting instructions under
//! `valgrind --tool=cachegrind`, which noise does not move.

use std::hint::black_box;
use std::time::Instant;

use kv_core::{Listener, NoListener, Slots, StoreBuilder};
use kv_lru::Lru;
use kv_metrics::EventHub;
use kv_ttl::Ttl;

const KEYS: u64 = 100_000;
const OPS: u64 = 4_000_000;

fn build<L: Listener<String>>(listener: L) -> kv_core::Store<String, u64, Slots<Ttl, Lru, L>> {
    StoreBuilder::new()
        .expiry(Ttl::new())
        .eviction(Lru::new(200_000))
        .listener(listener)
        .build()
}

/// 90% get, 10% put over `KEYS` keys, a fixed pseudo-random sequence per thread, `OPS` in all
/// split over `threads`; returns Mops/s.
fn run<L: Listener<String>>(
    store: &kv_core::Store<String, u64, Slots<Ttl, Lru, L>>,
    keys: &[String],
    threads: u64,
) -> f64 {
    for (i, k) in keys.iter().enumerate() {
        store.put(k.clone(), i as u64);
    }
    let barrier = std::sync::Barrier::new(threads as usize + 1);
    let elapsed = std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (t + 1);
                barrier.wait();
                for i in 0..OPS / threads {
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
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope ends when every thread is done.
        start
    });
    OPS as f64 / elapsed.elapsed().as_secs_f64() / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let keys: Vec<String> = (0..KEYS).map(|n| format!("key-{n}")).collect();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 2 && args[0] == "only" {
        let variant = &args[1];
        let rate = match variant.as_str() {
            "none" => run(&build(NoListener), &keys, 1),
            "hub" => run(&build(EventHub::new("bench")), &keys, 1),
            "idle" => {
                let store = build(EventHub::new("bench"));
                let _sub = store.listener().subscribe_with_buffer(1024);
                run(&store, &keys, 1)
            }
            other => {
                eprintln!("event_cost: unknown variant `{other}`: use none, hub or idle");
                std::process::exit(2);
            }
        };
        println!("{variant}: {rate:.2} Mops/s");
        return;
    }
    println!("get 90% / put 10%, {KEYS} keys, {OPS} ops, Mops/s (median of 5 interleaved rounds)");
    for threads in [1, 2] {
        let (mut none, mut idle_hub, mut idle_sub) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = (0, 0);
        for _ in 0..5 {
            none.push(run(&build(NoListener), &keys, threads));
            idle_hub.push(run(&build(EventHub::new("bench")), &keys, threads));
            let store = build(EventHub::new("bench"));
            let sub = store.listener().subscribe_with_buffer(1024);
            idle_sub.push(run(&store, &keys, threads));
            last = (sub.len(), sub.missed());
        }
        println!("{threads} thread(s):");
        println!("  no listener                 {:.2}", median(none));
        println!("  EventHub, no subscriber     {:.2}", median(idle_hub));
        println!("  EventHub, 1 idle subscriber {:.2}", median(idle_sub));
        println!(
            "  idle subscriber: {} events buffered (bound 1024), {} lost and counted",
            last.0, last.1
        );
    }
}
