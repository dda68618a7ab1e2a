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

/// A hit through `get_or_insert_async` against a plain `get` on a store of the same
/// configuration (the facade, unbounded, [`PRESENT`] keys): the target is at most 1.2x.
/// The future is polled once with a no-op waker (a hit never waits, so no runtime is needed);
/// with `String` keys the call also pays the key's clone, since the loader API takes the key
/// by value. `crates/kvstore/examples/async_hit_cost.rs` measures the u64 pair interleaved, best
/// of 7 rounds, which a loaded machine disturbs less than these separate rows.
#[divan::bench_group]
mod async_hit {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use divan::Bencher;
    use kv_core::StoreKey;

    use super::PRESENT;

    /// A key type of the rows.
    pub trait Key: StoreKey + Clone {
        fn nth(i: usize) -> Self;
    }

    impl Key for u64 {
        fn nth(i: usize) -> Self {
            i as u64
        }
    }

    impl Key for String {
        fn nth(i: usize) -> Self {
            format!("key-{i}")
        }
    }

    fn store<K: Key>() -> (kvstore::Store<K, u64>, Vec<K>) {
        let store = kvstore::Store::new();
        let keys: Vec<K> = (0..PRESENT).map(K::nth).collect();
        for (i, key) in keys.iter().enumerate() {
            store.put(key.clone(), i as u64);
        }
        (store, keys)
    }

    /// Polls a future that is ready at once.
    fn now<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => unreachable!("a hit does not wait"),
        }
    }

    #[divan::bench(types = [u64, String])]
    fn get<K: Key>(bencher: Bencher) {
        let (store, keys) = store::<K>();
        let mut i = 0;
        bencher.bench_local(|| {
            i = (i + 1) % PRESENT;
            assert_eq!(store.get(&keys[i]), Some(i as u64));
        });
    }

    #[divan::bench(types = [u64, String])]
    fn get_or_insert_async<K: Key>(bencher: Bencher) {
        let (store, keys) = store::<K>();
        let mut i = 0;
        bencher.bench_local(|| {
            i = (i + 1) % PRESENT;
            let load = store
                .get_or_insert_async(keys[i].clone(), async { unreachable!("every key is live") });
            assert_eq!(now(load), i as u64);
        });
    }
}
