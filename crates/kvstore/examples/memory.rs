//! Memory follows entries: the heap a bounded store with TTLs holds, and the process's resident
//! memory, when empty, after a million puts, after `clear()`, after refilling, and after
//! deleting every entry one by one.
//!
//! `cargo run --release -p kvstore --example memory` (Linux: reads `/proc/self/statm`). The heap
//! figure counts bytes allocated and not freed (through `stats_alloc`), so it shows what the
//! store keeps; the resident figure also shows what the allocator keeps after the store freed
//! it (glibc keeps freed small blocks for reuse instead of returning them to the system).

use std::alloc::System;
use std::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

use kvstore::{PutOptions, Store};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn heap_mib() -> f64 {
    let stats = ALLOCATOR.stats();
    // A reallocation counts its growth in `bytes_allocated`, its shrinking in `bytes_deallocated`.
    stats
        .bytes_allocated
        .saturating_sub(stats.bytes_deallocated) as f64
        / (1024.0 * 1024.0)
}

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
        "{stage:<28} heap {:>6.1} MiB  resident {:>6.1} MiB  entries {:>7}  expiry records {:>7}  LRU records {:>7}",
        heap_mib(),
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
