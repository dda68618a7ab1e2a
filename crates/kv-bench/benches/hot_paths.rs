//! Micro-benchmarks of the store's hot paths, one thread, so a change's effect shows without the
//! whole comparison: `cargo bench -p kv-bench --bench hot_paths`.
//!
//! Every path runs on each configuration: the bare engine, the facade unbounded and bounded, the
//! facade with TTL + sliding on every entry, and the facade with an event subscriber.
// Bench code (outside the sync-facade rule): the subscriber's counter is a plain std atomic.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use divan::Bencher;
use kv_core::{EventKind, Listener, Slots, StoreBuilder};
use kvstore::{Lru, PutOptions, Ttl};

fn main() {
    divan::main();
}

/// Keys present in the store before a benchmark.
const PRESENT: usize = 10_000;
/// Capacity of the bounded configurations (equal to the present keys: every new key evicts).
const CAPACITY: usize = PRESENT;
/// Fresh keys a `put_new` cycles through.
const FRESH: usize = 1_000_000;

/// A subscriber that counts events: the cheapest listener that is active.
#[derive(Default)]
struct Counting(AtomicU64);

impl Listener<String> for Counting {
    fn is_active(&self) -> bool {
        true
    }
    fn on_event(&self, _: EventKind, _: &String) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

type WithEvents = kv_core::Store<String, u64, Slots<Ttl, Lru, Counting>>;

enum Subject {
    Bare(kv_core::Store<String, u64>),
    Facade(kvstore::Store<String, u64>, PutOptions),
    Events(WithEvents),
}

#[derive(Clone, Copy, Debug)]
enum Config {
    Bare,
    Unbounded,
    Bounded,
    Ttl,
    Subscriber,
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Config::Bare => "kv_core bare",
            Config::Unbounded => "unbounded",
            Config::Bounded => "capacity",
            Config::Ttl => "capacity+ttl sliding",
            Config::Subscriber => "capacity+subscriber",
        };
        f.write_str(name)
    }
}

const CONFIGS: [Config; 5] = [
    Config::Bare,
    Config::Unbounded,
    Config::Bounded,
    Config::Ttl,
    Config::Subscriber,
];

impl Subject {
    fn new(config: Config) -> Self {
        let plain = PutOptions::new();
        let s = match config {
            Config::Bare => Subject::Bare(kv_core::Store::new()),
            Config::Unbounded => Subject::Facade(kvstore::Store::new(), plain),
            Config::Bounded => {
                Subject::Facade(kvstore::Store::builder().capacity(CAPACITY).build(), plain)
            }
            Config::Ttl => Subject::Facade(
                kvstore::Store::builder().capacity(CAPACITY).build(),
                plain
                    .with_ttl(Duration::from_secs(3_600))
                    .with_sliding_ttl(),
            ),
            Config::Subscriber => Subject::Events(
                StoreBuilder::new()
                    .expiry(Ttl::new())
                    .eviction(Lru::new(CAPACITY))
                    .listener(Counting::default())
                    .build(),
            ),
        };
        for i in 0..PRESENT {
            s.put(format!("key-{i}"), i as u64);
        }
        s
    }

    #[inline]
    fn put(&self, key: String, value: u64) {
        match self {
            Subject::Bare(s) => {
                s.put(key, value);
            }
            Subject::Facade(s, opts) => {
                s.put_with(key, value, opts);
            }
            Subject::Events(s) => {
                s.put(key, value);
            }
        }
    }

    #[inline]
    fn get(&self, key: &str) -> Option<u64> {
        match self {
            Subject::Bare(s) => s.get(key),
            Subject::Facade(s, _) => s.get(key),
            Subject::Events(s) => s.get(key),
        }
    }
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[divan::bench(args = CONFIGS)]
fn get_hit(bencher: Bencher, config: Config) {
    let store = Subject::new(config);
    let keys = keys("key", PRESENT);
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % PRESENT;
        assert!(store.get(&keys[i]).is_some());
    });
}

#[divan::bench(args = CONFIGS)]
fn get_miss(bencher: Bencher, config: Config) {
    let store = Subject::new(config);
    let keys = keys("absent", PRESENT);
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % PRESENT;
        assert!(store.get(&keys[i]).is_none());
    });
}

#[divan::bench(args = CONFIGS)]
fn put_overwrite(bencher: Bencher, config: Config) {
    let store = Subject::new(config);
    let keys = keys("key", PRESENT);
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % PRESENT;
        store.put(keys[i].clone(), i as u64);
    });
}

/// A key not stored yet (drawn from a pool of a million): in the bounded configurations every
/// one evicts the least recently used entry.
#[divan::bench(args = CONFIGS)]
fn put_new(bencher: Bencher, config: Config) {
    let store = Subject::new(config);
    let keys = keys("fresh", FRESH);
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % FRESH;
        store.put(keys[i].clone(), i as u64);
    });
}
