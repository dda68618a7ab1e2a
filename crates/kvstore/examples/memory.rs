//! Memory follows entries: resident memory of a bounded store with TTLs when empty, after a
//! million puts, after `clear()`, after refilling, and after deleting every entry one by one.
//!
//! `cargo run --release -p kvstore --example memory` (Linux: reads `/proc/self/statm`).

use std::time::Duration;

use kvstore::{PutOptions, Store};

fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn report(stage: &str, store: &Store<String, u64>) {
    println!(
        "{stage:<32} resident {:>7.1} MiB   entries {:>8}   expiry records {:>8}   LRU records {:>8}",
        resident_mib(),
        store.len(),
        store.expiry().indexed(),
        store.eviction().ordered(),
    );
}

fn fill(store: &Store<String, u64>, n: u64) {
    let ttl = PutOptions::new().with_ttl(Duration::from_secs(3_600));
    for i in 0..n {
        store.put_with(format!("key-{i}"), i, &ttl);
    }
}

fn main() {
    const N: u64 = 1_000_000;
    let store: Store<String, u64> = Store::builder().capacity(2 * N as usize).build();
    report("empty", &store);
    fill(&store, N);
    report("1M entries with TTL", &store);
    store.clear();
    report("after clear()", &store);
    fill(&store, N);
    report("refilled", &store);
    for i in 0..N {
        store.del(&format!("key-{i}"));
    }
    report("after deleting every entry", &store);
}
