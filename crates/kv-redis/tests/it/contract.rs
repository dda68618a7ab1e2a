//! The contract (`docs/semantics.md`), rule by rule, as one function per rule run on three
//! backends: the in-memory store (the reference), one Redis server and a Redis Cluster; with the
//! `tokio` feature also on the async stores and the in-memory store through `AsyncBackend`. A
//! test named `memory::x`, `single::x` and `cluster::x` checks rule `x` on each.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use kv_redis::{RedisServer, TypedRedisStore};
use kvstore::{Backend, Boxed, ManualClock, Metrics, PutOptions, Store};

use crate::support;

type Dyn = dyn Backend<Key = String, Value = String, Options = PutOptions, Error = kvstore::BoxError>
    + Send
    + Sync;

/// A fresh store and its manual clock; the Redis namespace is removed when it is dropped.
pub struct Case {
    pub store: Arc<Dyn>,
    advance: Box<dyn Fn(Duration) + Send + Sync>,
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl Case {
    fn advance(&self, by: Duration) {
        (self.advance)(by)
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if let Some(f) = self.cleanup.take() {
            f()
        }
    }
}

pub fn memory(_test: &str) -> Option<Case> {
    let clock = ManualClock::new();
    let store: Store<String, String> = Store::builder().clock(clock.clone()).build();
    Some(Case {
        store: Arc::new(Boxed(store)),
        advance: Box::new(move |d| clock.advance(d)),
        cleanup: None,
    })
}

fn redis_case(url: Option<String>, test: &str) -> Option<Case> {
    let server = RedisServer::connect(&url?).expect("the test server answers");
    let store = TypedRedisStore::<String>::new(server.namespace(&support::unique_ns(test)));
    store.freeze_clock().expect("a manual clock");
    let (a, c) = (store.clone(), store.clone());
    Some(Case {
        store: Arc::new(Boxed(store)),
        advance: Box::new(move |d| a.advance(d).expect("advance")),
        cleanup: Some(Box::new(move || {
            c.get_ref().drop_namespace().expect("drop the namespace");
        })),
    })
}

/// The async backends, driven from the rules' threads through [`Blocking`], which runs each call
/// on one shared tokio runtime: the same rules check `AsyncRedisStore`'s code paths (its
/// multiplexed connection, its own timeouts) and the in-memory store's ready futures.
#[cfg(feature = "tokio")]
mod on_async {
    use std::sync::OnceLock;

    use kv_core::{AsyncBackend, Dump};
    use kv_redis::{AsyncRedisServer, AsyncTypedRedisStore};
    use tokio::runtime::Runtime;

    use super::*;

    pub fn runtime() -> &'static Runtime {
        static RT: OnceLock<Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime")
        })
    }

    /// An async backend as a sync one: each call blocks on the shared runtime.
    pub struct Blocking<B>(pub B);

    impl<B: AsyncBackend> Backend for Blocking<B> {
        type Key = B::Key;
        type Value = B::Value;
        type Options = B::Options;
        type Error = B::Error;

        fn put(&self, k: B::Key, v: B::Value, o: &B::Options) -> Result<(), B::Error> {
            runtime().block_on(self.0.put(k, v, o))
        }
        fn get(&self, k: &B::Key) -> Result<Option<B::Value>, B::Error> {
            runtime().block_on(self.0.get(k))
        }
        fn has(&self, k: &B::Key) -> Result<bool, B::Error> {
            runtime().block_on(self.0.has(k))
        }
        fn del(&self, k: &B::Key) -> Result<bool, B::Error> {
            runtime().block_on(self.0.del(k))
        }
        fn get_or_insert(
            &self,
            k: B::Key,
            v: B::Value,
            o: &B::Options,
        ) -> Result<B::Value, B::Error> {
            runtime().block_on(self.0.get_or_insert(k, v, o))
        }
        fn remove(&self, k: &B::Key) -> Result<Option<B::Value>, B::Error> {
            runtime().block_on(self.0.remove(k))
        }
        fn remove_prefix(&self, prefix: &str) -> Result<usize, B::Error>
        where
            B::Key: AsRef<str>,
        {
            runtime().block_on(self.0.remove_prefix(prefix))
        }
        fn keys(&self) -> Result<Vec<B::Key>, B::Error> {
            runtime().block_on(self.0.keys())
        }
        fn metrics(&self) -> Result<Metrics, B::Error> {
            runtime().block_on(self.0.metrics())
        }
        fn purge_expired(&self) -> Result<usize, B::Error> {
            runtime().block_on(self.0.purge_expired())
        }
        fn capacity(&self) -> Result<usize, B::Error> {
            runtime().block_on(self.0.capacity())
        }
        fn set_capacity(&self, capacity: usize) -> Result<(), B::Error> {
            runtime().block_on(self.0.set_capacity(capacity))
        }
        fn clear(&self) -> Result<(), B::Error> {
            runtime().block_on(self.0.clear())
        }
        fn dump(&self) -> Result<Dump<B::Key>, B::Error> {
            runtime().block_on(self.0.dump())
        }
    }

    /// The in-memory store through `AsyncBackend` (its ready futures).
    pub fn async_memory(_test: &str) -> Option<Case> {
        let clock = ManualClock::new();
        let store: Store<String, String> = Store::builder().clock(clock.clone()).build();
        Some(Case {
            store: Arc::new(Boxed(Blocking(store))),
            advance: Box::new(move |d| clock.advance(d)),
            cleanup: None,
        })
    }

    fn redis_case(url: Option<String>, test: &str) -> Option<Case> {
        let rt = runtime();
        let server = rt
            .block_on(AsyncRedisServer::connect(&url?))
            .expect("the test server answers");
        let store =
            AsyncTypedRedisStore::<String>::new(server.namespace(&support::unique_ns(test)));
        rt.block_on(store.freeze_clock()).expect("a manual clock");
        let (a, c) = (store.clone(), store.clone());
        Some(Case {
            store: Arc::new(Boxed(Blocking(store))),
            advance: Box::new(move |d| runtime().block_on(a.advance(d)).expect("advance")),
            cleanup: Some(Box::new(move || {
                runtime()
                    .block_on(c.get_ref().drop_namespace())
                    .expect("drop the namespace");
            })),
        })
    }

    pub fn async_single(test: &str) -> Option<Case> {
        redis_case(support::single(), test)
    }

    pub fn async_cluster(test: &str) -> Option<Case> {
        redis_case(support::cluster(), test)
    }
}
#[cfg(feature = "tokio")]
pub use on_async::{async_cluster, async_memory, async_single, runtime as async_runtime};

pub fn single(test: &str) -> Option<Case> {
    redis_case(support::single(), test)
}

pub fn cluster(test: &str) -> Option<Case> {
    redis_case(support::cluster(), test)
}

// ---------------------------------------------------------------------------------------------
// Helpers: every store error fails the test with its message.

fn put(c: &Case, k: &str, v: &str) {
    c.store.put(k.into(), v.into(), &PutOptions::new()).unwrap();
}
fn put_with(c: &Case, k: &str, v: &str, o: PutOptions) {
    c.store.put(k.into(), v.into(), &o).unwrap();
}
fn get(c: &Case, k: &str) -> Option<String> {
    c.store.get(&k.to_string()).unwrap()
}
fn has(c: &Case, k: &str) -> bool {
    c.store.has(&k.to_string()).unwrap()
}
fn del(c: &Case, k: &str) -> bool {
    c.store.del(&k.to_string()).unwrap()
}
fn keys(c: &Case) -> Vec<String> {
    let mut k = c.store.keys().unwrap();
    k.sort();
    k
}
fn metrics(c: &Case) -> Metrics {
    c.store.metrics().unwrap()
}
fn cap(c: &Case, n: usize) {
    c.store.set_capacity(n).unwrap();
}
fn ttl(secs: u64) -> PutOptions {
    PutOptions::new().with_ttl(Duration::from_secs(secs))
}
fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
pub fn m(hits: u64, misses: u64, expirations: u64, evictions: u64, current_size: u64) -> Metrics {
    Metrics {
        hits,
        misses,
        expirations,
        evictions,
        current_size,
    }
}
fn v(s: &str) -> Option<String> {
    Some(s.to_string())
}

// ---------------------------------------------------------------------------------------------
// The rules

pub fn expired_at_exactly_the_deadline(c: &Case) {
    put_with(c, "a", "1", ttl(5));
    c.advance(Duration::from_millis(4_999));
    assert_eq!(get(c, "a"), v("1"));
    c.advance(Duration::from_millis(1));
    assert_eq!(get(c, "a"), None);
    assert_eq!(metrics(c), m(1, 1, 1, 0, 0));
}

pub fn only_live_entries_are_observable(c: &Case) {
    put_with(c, "dead", "1", ttl(1));
    put(c, "live", "2");
    c.advance(secs(1));
    assert!(!has(c, "dead"));
    assert_eq!(keys(c), ["live"]);
    assert_eq!(get(c, "dead"), None);
    assert_eq!(c.store.dump().unwrap().keys, ["live"]);
}

pub fn reclaim_counts_one_expiration_exactly_once_whoever_notices(c: &Case) {
    for k in ["get", "has", "del", "put", "purge"] {
        put_with(c, k, "x", ttl(1));
    }
    c.advance(secs(1));
    assert_eq!(get(c, "get"), None);
    assert_eq!(get(c, "get"), None);
    assert!(!has(c, "has"));
    assert!(!has(c, "has"));
    assert!(!del(c, "del"));
    put(c, "put", "y");
    // The put may already have reclaimed `purge` on its way (incremental reclaiming): the count
    // is fully determined after a purge, and a second purge finds nothing.
    assert!(c.store.purge_expired().unwrap() <= 1);
    assert_eq!(c.store.purge_expired().unwrap(), 0);
    assert_eq!(metrics(c), m(0, 2, 5, 0, 1));
}

pub fn use_is_a_put_or_a_get_hit_and_nothing_else_moves_lru_order(c: &Case) {
    put(c, "a", "1");
    put(c, "b", "2");
    put(c, "c", "3");
    assert_eq!(get(c, "a"), v("1")); // order: b c a
    assert!(has(c, "b")); // not a use
    assert_eq!(get(c, "zz"), None); // not a use
    put(c, "b", "2"); // a use: c a b
    cap(c, 1);
    assert_eq!(keys(c), ["b"]);
    assert_eq!(metrics(c).evictions, 2);
}

pub fn ttl_expires_d_after_the_put(c: &Case) {
    c.advance(secs(100));
    put_with(c, "a", "1", ttl(10));
    c.advance(secs(9));
    assert!(has(c, "a"));
    c.advance(secs(1));
    assert!(!has(c, "a"));
}

pub fn ttl_zero_means_no_ttl(c: &Case) {
    put_with(c, "a", "1", PutOptions::new().with_ttl(Duration::ZERO));
    c.advance(secs(10 * 365 * 24 * 3600));
    assert_eq!(get(c, "a"), v("1"));
}

pub fn ttl_whose_deadline_overflows_the_clock_never_expires_and_does_not_panic(c: &Case) {
    put_with(c, "a", "1", PutOptions::new().with_ttl(Duration::MAX));
    c.advance(secs(20 * 365 * 24 * 3600));
    assert_eq!(get(c, "a"), v("1"));
    c.advance(Duration::MAX);
    assert_eq!(get(c, "a"), v("1"));
}

pub fn sliding_ttl_get_resets_deadline_to_now_plus_original_ttl(c: &Case) {
    put_with(c, "s", "v", ttl(5).with_sliding_ttl());
    c.advance(secs(4));
    assert_eq!(get(c, "s"), v("v"));
    c.advance(secs(4));
    assert_eq!(get(c, "s"), v("v"));
    c.advance(secs(4));
    assert!(has(c, "s"), "has is no read and does not refresh");
    c.advance(secs(1));
    assert_eq!(get(c, "s"), None);
    assert_eq!(metrics(c), m(2, 1, 1, 0, 0));
}

pub fn sliding_ttl_without_a_ttl_does_nothing(c: &Case) {
    put_with(c, "s", "v", PutOptions::new().with_sliding_ttl());
    c.advance(secs(1_000_000));
    assert_eq!(get(c, "s"), v("v"));
}

pub fn max_reads_nth_get_returns_the_value_and_deletes_read_n_plus_1_misses(c: &Case) {
    put_with(c, "t", "x", PutOptions::new().with_max_reads(2));
    assert_eq!(get(c, "t"), v("x"));
    assert_eq!(get(c, "t"), v("x"));
    assert_eq!(get(c, "t"), None);
    assert_eq!(metrics(c), m(2, 1, 0, 0, 0));
}

pub fn max_reads_zero_means_no_limit_and_after_a_positive_one_keeps_it(c: &Case) {
    put_with(c, "u", "x", PutOptions::new().with_max_reads(0));
    for _ in 0..5 {
        assert_eq!(get(c, "u"), v("x"));
    }
    put_with(
        c,
        "t",
        "x",
        PutOptions::new().with_max_reads(1).with_max_reads(0),
    );
    assert_eq!(get(c, "t"), v("x"));
    assert_eq!(get(c, "t"), None);
}

pub fn put_always_replaces_the_whole_entry_value_deadline_sliding_and_reads_left(c: &Case) {
    put_with(c, "a", "old", ttl(5).with_sliding_ttl().with_max_reads(1));
    put(c, "a", "new");
    c.advance(secs(100));
    assert_eq!(get(c, "a"), v("new"));
    assert_eq!(
        get(c, "a"),
        v("new"),
        "the read budget went with the old entry"
    );
    put_with(c, "b", "1", ttl(5).with_sliding_ttl());
    put_with(c, "b", "2", ttl(5));
    c.advance(secs(4));
    assert_eq!(get(c, "b"), v("2"));
    c.advance(secs(1));
    assert_eq!(get(c, "b"), None, "the new entry does not slide");
}

pub fn put_over_a_live_entry_counts_nothing(c: &Case) {
    put(c, "a", "1");
    put(c, "a", "2");
    assert_eq!(metrics(c), m(0, 0, 0, 0, 1));
}

pub fn put_over_an_expired_entry_counts_its_expiration(c: &Case) {
    put_with(c, "a", "1", ttl(1));
    c.advance(secs(1));
    put(c, "a", "2");
    assert_eq!(metrics(c), m(0, 0, 1, 0, 1));
    assert_eq!(get(c, "a"), v("2"));
}

pub fn get_absent_counts_a_miss(c: &Case) {
    assert_eq!(get(c, "nope"), None);
    assert_eq!(metrics(c), m(0, 1, 0, 0, 0));
}

pub fn get_expired_counts_an_expiration_and_a_miss(c: &Case) {
    put_with(c, "a", "1", ttl(1));
    c.advance(secs(2));
    assert_eq!(get(c, "a"), None);
    assert_eq!(metrics(c), m(0, 1, 1, 0, 0));
}

pub fn has_is_not_a_read_no_budget_no_refresh_no_hit_no_lru_move(c: &Case) {
    put_with(c, "t", "x", PutOptions::new().with_max_reads(1));
    put(c, "b", "y");
    assert!(has(c, "t"));
    assert!(has(c, "t"));
    assert!(!has(c, "missing"));
    assert_eq!(metrics(c), m(0, 0, 0, 0, 2));
    cap(c, 1); // `t` is still the least recently used
    assert_eq!(keys(c), ["b"]);
}

pub fn del_returns_true_only_when_a_live_entry_was_removed(c: &Case) {
    put(c, "a", "1");
    put_with(c, "e", "1", ttl(1));
    assert!(del(c, "a"));
    assert!(!del(c, "a"));
    c.advance(secs(1));
    assert!(!del(c, "e"));
    assert_eq!(metrics(c), m(0, 0, 1, 0, 0));
}

pub fn del_removes_from_lru_order(c: &Case) {
    put(c, "a", "1");
    put(c, "b", "2");
    assert!(del(c, "a"));
    put(c, "a", "1"); // now the most recent
    cap(c, 1);
    assert_eq!(keys(c), ["a"]);
}

pub fn keys_returns_the_live_keys_only(c: &Case) {
    assert!(keys(c).is_empty());
    put(c, "b", "1");
    put_with(
        c,
        "a",
        "1",
        PutOptions::new().with_ttl(Duration::from_millis(500)),
    );
    assert_eq!(keys(c), ["a", "b"]);
    c.advance(Duration::from_millis(500));
    assert_eq!(keys(c), ["b"]);
}

pub fn set_capacity_shrinking_evicts_at_once_in_lru_order(c: &Case) {
    for k in ["a", "b", "c", "d"] {
        put(c, k, k);
    }
    assert_eq!(get(c, "a"), v("a"));
    cap(c, 2);
    assert_eq!(keys(c), ["a", "d"]);
    assert_eq!(metrics(c), m(1, 0, 0, 2, 2));
    assert_eq!(c.store.capacity().unwrap(), 2);
    put(c, "e", "e");
    assert_eq!(keys(c), ["a", "e"]);
}

pub fn capacity_zero_means_unbounded_and_is_the_default(c: &Case) {
    assert_eq!(c.store.capacity().unwrap(), 0);
    cap(c, 1);
    cap(c, 0);
    for i in 0..50 {
        put(c, &i.to_string(), "x");
    }
    assert_eq!(metrics(c), m(0, 0, 0, 0, 50));
}

pub fn over_capacity_expired_entries_are_reclaimed_first_then_the_lru_live_entry_is_evicted(
    c: &Case,
) {
    cap(c, 2);
    put_with(c, "old", "1", ttl(1));
    put(c, "live", "2");
    c.advance(secs(1));
    assert_eq!(get(c, "live"), v("2"));
    put(c, "new", "3");
    assert_eq!(keys(c), ["live", "new"]);
    assert_eq!(metrics(c), m(1, 0, 1, 0, 2));
    put(c, "newer", "4");
    assert_eq!(keys(c), ["new", "newer"]);
    assert_eq!(metrics(c), m(1, 0, 1, 1, 2));
}

pub fn a_shrink_reclaims_expired_entries_as_expirations_before_evicting(c: &Case) {
    put(c, "a", "1");
    put_with(c, "b", "2", ttl(1));
    put(c, "c", "3");
    c.advance(secs(1));
    cap(c, 1);
    assert_eq!(keys(c), ["c"]);
    assert_eq!(metrics(c), m(0, 0, 1, 1, 1));
}

pub fn purge_reclaims_unread_entries_and_says_how_many(c: &Case) {
    put_with(c, "a", "1", PutOptions::new().with_ttl(secs(60)));
    put_with(c, "b", "2", PutOptions::new().with_ttl(secs(120)));
    put(c, "c", "3");
    c.advance(secs(90));
    assert_eq!(c.store.purge_expired().unwrap(), 1);
    assert_eq!(metrics(c), m(0, 0, 1, 0, 2));
    assert_eq!(keys(c), ["b", "c"]);
}

pub fn clear_removes_every_entry_and_counts_nothing(c: &Case) {
    for i in 0..20 {
        put(c, &format!("k{i}"), "x");
    }
    c.store.clear().unwrap();
    assert!(keys(c).is_empty());
    assert_eq!(metrics(c), m(0, 0, 0, 0, 0));
    put(c, "after", "1");
    assert_eq!(get(c, "after"), v("1"));
}

pub fn dump_shows_the_sorted_live_keys_and_the_counters(c: &Case) {
    put(c, "b", "1");
    put(c, "a", "1");
    put_with(c, "z", "1", ttl(1));
    assert_eq!(get(c, "a"), v("1"));
    c.advance(secs(1));
    let d = c.store.dump().unwrap();
    assert_eq!(d.keys, ["a", "b"]);
    assert_eq!(d.metrics, m(1, 0, 0, 0, 3), "z is held until reclaimed");
}

pub fn counters_are_exact_under_concurrency_and_the_capacity_bound_holds(c: &Case) {
    cap(c, 8);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = Arc::clone(&c.store);
            thread::spawn(move || {
                for i in 0..40 {
                    let k = format!("k{}", (i * 7 + t) % 16);
                    s.put(k.clone(), "v".into(), &PutOptions::new()).unwrap();
                    let _ = s.get(&format!("k{}", (i + t) % 16)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let got = metrics(c);
    assert_eq!(got.hits + got.misses, 160);
    assert!(got.current_size <= 8, "{got:?}");
    assert_eq!(got.current_size, keys(c).len() as u64);
}

pub fn names_are_free_text(c: &Case) {
    for k in ["", "}", "{", "a:b", "line\nbreak", "ünï", "{x}:e:00"] {
        put(c, k, k);
    }
    for k in ["", "}", "{", "a:b", "line\nbreak", "ünï", "{x}:e:00"] {
        assert_eq!(get(c, k).as_deref(), Some(k));
    }
    assert_eq!(keys(c).len(), 7);
}

pub fn get_or_insert_of_a_live_entry_is_a_get_hit_with_its_effects(c: &Case) {
    let budget = PutOptions::new()
        .with_ttl(secs(10))
        .with_sliding_ttl()
        .with_max_reads(2);
    put_with(c, "a", "1", budget);
    put(c, "b", "2");
    c.advance(secs(9));
    let goi = |k: &str, v: &str| {
        c.store
            .get_or_insert(k.into(), v.into(), &PutOptions::new())
            .unwrap()
    };
    assert_eq!(goi("a", "new"), "1", "the live value, not the one offered");
    // The sliding refresh: 10 s from the hit, not from the put.
    c.advance(secs(9));
    assert!(has(c, "a"));
    // A use: `b` is now the least recently used.
    cap(c, 1);
    assert_eq!(keys(c), ["a"]);
    // The second read of a budget of 2 returns the value and removes the entry.
    assert_eq!(goi("a", "new"), "1");
    assert!(!has(c, "a"));
    assert_eq!(metrics(c), m(2, 0, 0, 1, 0));
}

pub fn get_or_insert_without_a_live_entry_counts_one_miss_and_puts_with_the_options(c: &Case) {
    let once = PutOptions::new().with_ttl(secs(5)).with_max_reads(1);
    let got = c
        .store
        .get_or_insert("a".into(), "1".into(), &once)
        .unwrap();
    assert_eq!(got, "1");
    assert_eq!(metrics(c), m(0, 1, 0, 0, 1));
    // Stored with its options: a read budget of 1 and a 5 s TTL.
    assert_eq!(get(c, "a"), v("1"));
    assert_eq!(get(c, "a"), None);
    put_with(c, "t", "old", ttl(5));
    c.advance(secs(5));
    // Over an expired entry: its Expiration, one miss, then the new value.
    let got = c
        .store
        .get_or_insert("t".into(), "new".into(), &once)
        .unwrap();
    assert_eq!(got, "new");
    assert_eq!(metrics(c), m(1, 3, 1, 0, 1));
    c.advance(Duration::from_millis(4_999));
    assert!(has(c, "t"));
    c.advance(Duration::from_millis(1));
    assert!(!has(c, "t"));
}

pub fn get_or_insert_that_needs_room_evicts_as_a_put_does(c: &Case) {
    cap(c, 2);
    put(c, "a", "1");
    put_with(c, "b", "2", ttl(1));
    put(c, "c", "3"); // evicts a
    c.advance(secs(1));
    assert_eq!(
        c.store
            .get_or_insert("d".into(), "4".into(), &PutOptions::new())
            .unwrap(),
        "4"
    );
    // The expired `b` went first (an Expiration), the live `c` stayed.
    assert_eq!(keys(c), ["c", "d"]);
    assert_eq!(metrics(c), m(0, 1, 1, 1, 2));
}

pub fn remove_returns_the_live_value_and_is_not_a_read(c: &Case) {
    put_with(c, "a", "1", PutOptions::new().with_max_reads(1));
    put_with(c, "t", "2", ttl(1));
    assert_eq!(c.store.remove(&"a".to_string()).unwrap(), v("1"));
    assert_eq!(c.store.remove(&"a".to_string()).unwrap(), None);
    c.advance(secs(1));
    // An expired entry is reclaimed (one Expiration) and gives none.
    assert_eq!(c.store.remove(&"t".to_string()).unwrap(), None);
    assert_eq!(metrics(c), m(0, 0, 1, 0, 0));
}

pub fn remove_prefix_removes_the_live_entries_under_it_and_reclaims_expired_ones(c: &Case) {
    for k in ["user:1", "user:2", "user:10", "users", "use", "admin:1"] {
        put(c, k, "x");
    }
    put_with(c, "user:old", "x", ttl(1));
    put_with(c, "admin:old", "x", ttl(1));
    c.advance(secs(1));
    assert_eq!(c.store.remove_prefix("user:").unwrap(), 3);
    assert_eq!(keys(c), ["admin:1", "use", "users"]);
    // Every expired entry met is reclaimed, whatever its key; removals count nothing.
    assert_eq!(metrics(c), m(0, 0, 2, 0, 3));
    assert_eq!(c.store.remove_prefix("nothing").unwrap(), 0);
    for k in ["ünï:a", "ü", "{x}", "{y}"] {
        put(c, k, "x");
    }
    assert_eq!(c.store.remove_prefix("ü").unwrap(), 2);
    assert_eq!(c.store.remove_prefix("{x").unwrap(), 1);
    assert_eq!(
        c.store.remove_prefix("").unwrap(),
        4,
        "every key starts with \"\""
    );
    assert!(keys(c).is_empty());
    assert_eq!(metrics(c), m(0, 0, 2, 0, 0));
}

/// Runs each rule on each backend: `memory::rule`, `single::rule`, `cluster::rule`, and with the
/// `tokio` feature `async_memory::rule`, `async_single::rule`, `async_cluster::rule`.
macro_rules! contract_tests {
    ($($rule:ident),* $(,)?) => {
        contract_tests!(@backend memory; $($rule),*);
        contract_tests!(@backend single; $($rule),*);
        contract_tests!(@backend cluster; $($rule),*);
        #[cfg(feature = "tokio")]
        contract_tests!(@backend async_memory; $($rule),*);
        #[cfg(feature = "tokio")]
        contract_tests!(@backend async_single; $($rule),*);
        #[cfg(feature = "tokio")]
        contract_tests!(@backend async_cluster; $($rule),*);
    };
    (@backend $backend:ident; $($rule:ident),*) => {
        mod $backend {
            $(
                #[test]
                fn $rule() {
                    if let Some(case) = super::$backend(stringify!($rule)) {
                        super::$rule(&case);
                    }
                }
            )*
        }
    };
}

contract_tests!(
    expired_at_exactly_the_deadline,
    only_live_entries_are_observable,
    reclaim_counts_one_expiration_exactly_once_whoever_notices,
    use_is_a_put_or_a_get_hit_and_nothing_else_moves_lru_order,
    ttl_expires_d_after_the_put,
    ttl_zero_means_no_ttl,
    ttl_whose_deadline_overflows_the_clock_never_expires_and_does_not_panic,
    sliding_ttl_get_resets_deadline_to_now_plus_original_ttl,
    sliding_ttl_without_a_ttl_does_nothing,
    max_reads_nth_get_returns_the_value_and_deletes_read_n_plus_1_misses,
    max_reads_zero_means_no_limit_and_after_a_positive_one_keeps_it,
    put_always_replaces_the_whole_entry_value_deadline_sliding_and_reads_left,
    put_over_a_live_entry_counts_nothing,
    put_over_an_expired_entry_counts_its_expiration,
    get_absent_counts_a_miss,
    get_expired_counts_an_expiration_and_a_miss,
    has_is_not_a_read_no_budget_no_refresh_no_hit_no_lru_move,
    del_returns_true_only_when_a_live_entry_was_removed,
    del_removes_from_lru_order,
    keys_returns_the_live_keys_only,
    set_capacity_shrinking_evicts_at_once_in_lru_order,
    capacity_zero_means_unbounded_and_is_the_default,
    over_capacity_expired_entries_are_reclaimed_first_then_the_lru_live_entry_is_evicted,
    a_shrink_reclaims_expired_entries_as_expirations_before_evicting,
    purge_reclaims_unread_entries_and_says_how_many,
    clear_removes_every_entry_and_counts_nothing,
    dump_shows_the_sorted_live_keys_and_the_counters,
    counters_are_exact_under_concurrency_and_the_capacity_bound_holds,
    names_are_free_text,
    get_or_insert_of_a_live_entry_is_a_get_hit_with_its_effects,
    get_or_insert_without_a_live_entry_counts_one_miss_and_puts_with_the_options,
    get_or_insert_that_needs_room_evicts_as_a_put_does,
    remove_returns_the_live_value_and_is_not_a_read,
    remove_prefix_removes_the_live_entries_under_it_and_reclaims_expired_ones,
);
