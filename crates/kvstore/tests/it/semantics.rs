//! One test (at least) per rule of `docs/semantics.md`, named after the rule. Sections follow the
//! document: words, options, operations, capacity and LRU, metrics, reclaiming, namespaces, time,
//! and the nine fixes of "Differs from the original"; the `Backend` trait ([`kvstore::Backend`]) gives the same answers as the inherent methods.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use kvstore::{ManualClock, Metrics, PutOptions, Store};

type S = Store<String, String>;

fn store() -> (S, ManualClock) {
    let clock = ManualClock::new();
    (Store::builder().clock(clock.clone()).build(), clock)
}

fn capped(n: usize) -> (S, ManualClock) {
    let clock = ManualClock::new();
    (
        Store::builder().clock(clock.clone()).capacity(n).build(),
        clock,
    )
}

fn put(s: &S, k: &str, v: &str) -> Option<String> {
    s.put(k.to_string(), v.to_string())
}

fn put_opts(s: &S, k: &str, v: &str, o: PutOptions) -> Option<String> {
    s.put_with(k.to_string(), v.to_string(), &o)
}

fn ttl(secs: u64) -> PutOptions {
    PutOptions::new().with_ttl(Duration::from_secs(secs))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn sorted_keys(s: &S) -> Vec<String> {
    let mut k = s.keys();
    k.sort();
    k
}

fn m(hits: u64, misses: u64, expirations: u64, evictions: u64, current_size: u64) -> Metrics {
    Metrics {
        hits,
        misses,
        expirations,
        evictions,
        current_size,
    }
}

fn valid(s: &S) {
    s.validate().expect("store bookkeeping is consistent");
}

// ---------------------------------------------------------------------------------------------
// Words

mod words {
    use super::*;

    #[test]
    fn expired_means_now_at_or_after_deadline_expired_at_exactly_deadline() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", ttl(5));
        clock.advance(Duration::from_nanos(4_999_999_999));
        assert!(s.has("a"), "one nanosecond before the deadline it is live");
        clock.advance(Duration::from_nanos(1));
        assert!(!s.has("a"), "at exactly the deadline it is expired");
    }

    #[test]
    fn only_live_entries_are_observable() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", ttl(1));
        put(&s, "b", "2");
        clock.advance(secs(1));
        assert_eq!(sorted_keys(&s), ["b"]);
        assert!(!s.has("a"));
        assert_eq!(s.get("a"), None);
    }

    #[test]
    fn reclaim_counts_one_expiration_exactly_once_whoever_notices() {
        // get, has, del, put over it, purge: each notices first in one run; the count is one.
        type Notice = fn(&S);
        let notices: [(&str, Notice); 5] = [
            ("get", |s| assert_eq!(s.get("a"), None)),
            ("has", |s| assert!(!s.has("a"))),
            ("del", |s| assert!(!s.del("a"))),
            ("put", |s| assert_eq!(put(s, "a", "new"), None)),
            ("purge", |s| assert_eq!(s.purge_expired(), 1)),
        ];
        for (name, notice) in notices {
            let (s, clock) = store();
            put_opts(&s, "a", "1", ttl(1));
            clock.advance(secs(2));
            notice(&s);
            // Everyone else who looks afterwards finds nothing more to reclaim.
            s.has("a");
            s.get("a");
            s.del("a");
            s.purge_expired();
            s.keys();
            assert_eq!(s.metrics().expirations, 1, "noticed first by {name}");
            valid(&s);
        }
    }

    #[test]
    fn reclaim_by_an_insert_that_needs_room_counts_once() {
        let (s, clock) = capped(1);
        put_opts(&s, "a", "1", ttl(1));
        clock.advance(secs(1));
        put(&s, "b", "2");
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 1));
        s.purge_expired();
        assert_eq!(s.metrics().expirations, 1);
    }

    #[test]
    fn use_is_a_put_or_a_get_hit_and_nothing_else_moves_lru_order() {
        let (s, _) = capped(3);
        put(&s, "a", "1");
        put(&s, "b", "2");
        put(&s, "c", "3");
        // has, del of another key, keys, a miss and metrics are not uses: "a" stays oldest.
        assert!(s.has("a"));
        s.keys();
        s.get("zzz");
        s.metrics();
        put(&s, "d", "4");
        assert_eq!(sorted_keys(&s), ["b", "c", "d"]);
        // A get hit is a use: "b" survives the next insert, "c" goes.
        s.get("b");
        put(&s, "e", "5");
        assert_eq!(sorted_keys(&s), ["b", "d", "e"]);
        // A put over an existing key is a use: "d" survives, "b" goes.
        put(&s, "d", "4b");
        put(&s, "f", "6");
        assert_eq!(sorted_keys(&s), ["d", "e", "f"]);
        valid(&s);
    }
}

// ---------------------------------------------------------------------------------------------
// Options of a put

mod options {
    use super::*;

    #[test]
    fn ttl_expires_d_after_the_put() {
        let (s, clock) = store();
        clock.advance(secs(100));
        put_opts(&s, "a", "1", ttl(5));
        clock.advance(secs(4));
        assert_eq!(s.get("a").as_deref(), Some("1"));
        clock.advance(secs(1));
        assert_eq!(s.get("a"), None);
    }

    #[test]
    fn ttl_zero_means_no_ttl() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", PutOptions::new().with_ttl(Duration::ZERO));
        clock.advance(secs(1_000_000));
        assert_eq!(s.get("a").as_deref(), Some("1"));
    }

    #[test]
    fn ttl_whose_deadline_overflows_the_clock_never_expires_and_does_not_panic() {
        let (s, clock) = store();
        clock.advance(secs(10));
        put_opts(&s, "max", "1", PutOptions::new().with_ttl(Duration::MAX));
        put_opts(
            &s,
            "u64",
            "1",
            PutOptions::new().with_ttl(Duration::from_nanos(u64::MAX)),
        );
        clock.set(u64::MAX - 1);
        assert!(s.has("max"));
        assert!(s.has("u64"));
        assert_eq!(s.purge_expired(), 0);
    }

    #[test]
    fn sliding_ttl_get_resets_deadline_to_now_plus_original_ttl() {
        let (s, clock) = store();
        put_opts(&s, "s", "v", ttl(5).with_sliding_ttl());
        clock.advance(secs(4));
        assert!(s.get("s").is_some()); // deadline now 4 + 5 = 9
        clock.advance(secs(4)); // t = 8
        assert!(s.get("s").is_some()); // deadline 13
        clock.advance(Duration::from_nanos(4_999_999_999)); // just before 13
        assert!(s.has("s"));
        clock.advance(Duration::from_nanos(1)); // t = 13
        assert_eq!(s.get("s"), None);
        assert_eq!(s.metrics(), m(2, 1, 1, 0, 0));
    }

    #[test]
    fn sliding_ttl_without_a_ttl_does_nothing() {
        let (s, clock) = store();
        put_opts(&s, "s", "v", PutOptions::new().with_sliding_ttl());
        clock.advance(secs(1_000));
        assert!(s.get("s").is_some());
        assert!(s.has("s"));
    }

    #[test]
    fn max_reads_nth_get_returns_the_value_and_deletes_read_n_plus_1_misses() {
        let (s, _) = store();
        put_opts(&s, "t", "v", PutOptions::new().with_max_reads(3));
        for _ in 0..3 {
            assert_eq!(s.get("t").as_deref(), Some("v"));
        }
        assert_eq!(s.get("t"), None);
        assert_eq!(s.metrics(), m(3, 1, 0, 0, 0));
        valid(&s);
    }

    #[test]
    fn max_reads_zero_means_no_limit() {
        let (s, _) = store();
        put_opts(&s, "t", "v", PutOptions::new().with_max_reads(0));
        for _ in 0..100 {
            assert!(s.get("t").is_some());
        }
    }

    #[test]
    fn options_apply_in_order_a_later_option_of_the_same_kind_replaces_an_earlier_one() {
        let (s, clock) = store();
        let o = ttl(100)
            .with_ttl(secs(2))
            .with_max_reads(5)
            .with_max_reads(1);
        assert_eq!(o.ttl(), Some(secs(2)));
        assert_eq!(o.max_reads(), Some(1));
        put_opts(&s, "a", "1", o);
        put_opts(&s, "b", "2", o);
        assert!(s.get("a").is_some());
        assert_eq!(s.get("a"), None, "max_reads(1) replaced max_reads(5)");
        clock.advance(secs(2));
        assert!(!s.has("b"), "ttl 2s replaced ttl 100s");
        // A zero TTL after a positive one means no TTL (it is a replacement too).
        assert_eq!(ttl(5).with_ttl(Duration::ZERO).ttl(), None);
    }

    #[test]
    fn max_reads_zero_after_a_positive_max_reads_leaves_the_positive_value() {
        let o = PutOptions::new().with_max_reads(2).with_max_reads(0);
        assert_eq!(o.max_reads(), Some(2));
        let (s, _) = store();
        put_opts(&s, "t", "v", o);
        assert!(s.get("t").is_some());
        assert!(s.get("t").is_some());
        assert_eq!(s.get("t"), None);
    }

    #[test]
    fn put_always_replaces_the_whole_entry_value_deadline_sliding_and_reads_left() {
        let (s, clock) = store();
        put_opts(&s, "k", "old", ttl(5).with_sliding_ttl().with_max_reads(2));
        assert!(s.get("k").is_some()); // one read spent
        put(&s, "k", "new"); // no TTL, no sliding, no budget
        clock.advance(secs(60));
        for _ in 0..5 {
            assert_eq!(s.get("k").as_deref(), Some("new"));
        }
        // And the other way: options arrive with a put over a plain entry, reads reset.
        put_opts(&s, "k", "v3", ttl(5).with_max_reads(2));
        assert!(s.get("k").is_some());
        assert!(s.get("k").is_some());
        assert_eq!(s.get("k"), None);
        // A fresh deadline: a put at t resets the deadline to t + ttl.
        put_opts(&s, "d", "1", ttl(5));
        clock.advance(secs(4));
        put_opts(&s, "d", "2", ttl(5));
        clock.advance(secs(4));
        assert_eq!(s.get("d").as_deref(), Some("2"));
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

mod operations {
    use super::*;

    #[test]
    fn put_returns_the_displaced_live_value_and_counts_nothing_over_a_live_entry() {
        let (s, _) = store();
        assert_eq!(put(&s, "a", "1"), None);
        assert_eq!(put(&s, "a", "2").as_deref(), Some("1"));
        assert_eq!(s.metrics(), m(0, 0, 0, 0, 1));
    }

    #[test]
    fn put_over_an_expired_entry_counts_its_expiration_and_returns_nothing() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", ttl(1));
        clock.advance(secs(1));
        assert_eq!(put(&s, "a", "2"), None);
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 1));
        assert_eq!(s.get("a").as_deref(), Some("2"));
    }

    #[test]
    fn put_may_evict_or_reclaim_to_make_room() {
        let (s, clock) = capped(2);
        put_opts(&s, "exp", "1", ttl(1));
        put(&s, "live", "2");
        clock.advance(secs(1));
        put(&s, "x", "3"); // reclaims the expired entry
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 2));
        put(&s, "y", "4"); // evicts the least recently used live entry
        assert_eq!(s.metrics(), m(0, 0, 1, 1, 2));
        assert_eq!(sorted_keys(&s), ["x", "y"]);
    }

    #[test]
    fn get_live_returns_value_counts_hit_spends_a_read_refreshes_and_is_a_use() {
        let (s, clock) = capped(2);
        put_opts(&s, "a", "1", ttl(5).with_sliding_ttl().with_max_reads(2));
        put(&s, "b", "2");
        clock.advance(secs(4));
        assert_eq!(s.get("a").as_deref(), Some("1"));
        assert_eq!(s.metrics().hits, 1);
        clock.advance(secs(4)); // alive thanks to the refresh
        put(&s, "c", "3"); // "a" was used after "b": "b" is evicted
        assert_eq!(sorted_keys(&s), ["a", "c"]);
        assert_eq!(s.get("a").as_deref(), Some("1")); // second and last read
        assert!(!s.has("a"));
        assert_eq!(s.metrics(), m(2, 0, 0, 1, 1));
    }

    #[test]
    fn get_absent_counts_a_miss() {
        let (s, _) = store();
        assert_eq!(s.get("nope"), None);
        assert_eq!(s.metrics(), m(0, 1, 0, 0, 0));
    }

    #[test]
    fn get_expired_counts_an_expiration_and_a_miss() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", ttl(1));
        clock.advance(secs(1));
        assert_eq!(s.get("a"), None);
        assert_eq!(s.metrics(), m(0, 1, 1, 0, 0));
    }

    #[test]
    fn has_reports_live_counts_no_hit_or_miss_and_reclaims_expired() {
        let (s, clock) = store();
        put(&s, "a", "1");
        put_opts(&s, "e", "1", ttl(1));
        assert!(s.has("a"));
        assert!(!s.has("zzz"));
        clock.advance(secs(1));
        assert!(!s.has("e"));
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 1));
    }

    #[test]
    fn has_is_not_a_read_no_budget_no_refresh_no_hit_no_lru_move() {
        let (s, clock) = capped(2);
        put_opts(&s, "a", "1", ttl(5).with_sliding_ttl().with_max_reads(1));
        put(&s, "b", "2");
        for _ in 0..10 {
            assert!(s.has("a"));
        }
        assert_eq!(s.metrics().hits, 0);
        clock.advance(secs(4));
        // no refresh: "a" still expires at 5
        put(&s, "c", "3"); // "a" is least recently used despite the has calls
        assert_eq!(sorted_keys(&s), ["b", "c"]);
        // the budget was not spent by has: a fresh token still gives its one read
        put_opts(&s, "t", "v", PutOptions::new().with_max_reads(1));
        s.has("t");
        assert_eq!(s.get("t").as_deref(), Some("v"));
        let (s2, clock2) = store();
        put_opts(&s2, "x", "1", ttl(5).with_sliding_ttl());
        clock2.advance(secs(4));
        assert!(s2.has("x"));
        clock2.advance(secs(1));
        assert!(!s2.has("x"), "has did not refresh the sliding deadline");
    }

    #[test]
    fn del_returns_true_when_a_live_entry_was_removed() {
        let (s, _) = store();
        put(&s, "a", "1");
        assert!(s.del("a"));
        assert!(!s.del("a"));
        assert!(!s.has("a"));
        assert_eq!(s.metrics(), m(0, 0, 0, 0, 0));
    }

    #[test]
    fn del_of_an_expired_entry_reclaims_it_counts_an_expiration_and_returns_false() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", ttl(1));
        clock.advance(secs(1));
        assert!(!s.del("a"));
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 0));
    }

    #[test]
    fn del_removes_from_lru_order() {
        let (s, _) = capped(2);
        put(&s, "a", "1");
        put(&s, "b", "2");
        assert!(s.del("a"));
        put(&s, "c", "3"); // fits: nothing evicted
        assert_eq!(s.metrics().evictions, 0);
        assert_eq!(sorted_keys(&s), ["b", "c"]);
        valid(&s);
    }

    #[test]
    fn keys_returns_the_live_keys_only() {
        let (s, clock) = store();
        put(&s, "a", "1");
        put_opts(&s, "b", "2", ttl(1));
        put(&s, "c", "3");
        clock.advance(secs(1));
        assert_eq!(sorted_keys(&s), ["a", "c"]);
    }

    #[test]
    fn metrics_is_a_snapshot() {
        let (s, _) = store();
        let before = s.metrics();
        put(&s, "a", "1");
        s.get("a");
        assert_eq!(before, m(0, 0, 0, 0, 0));
        assert_eq!(s.metrics(), m(1, 0, 0, 0, 1));
    }

    #[test]
    fn set_capacity_shrinking_evicts_at_once_each_counting_an_eviction() {
        let (s, _) = store();
        for k in ["a", "b", "c", "d", "e"] {
            put(&s, k, "v");
        }
        s.set_capacity(2);
        assert_eq!(s.len(), 2);
        assert_eq!(sorted_keys(&s), ["d", "e"]);
        assert_eq!(s.metrics().evictions, 3);
        valid(&s);
    }
}

// ---------------------------------------------------------------------------------------------
// Capacity and LRU

mod capacity_and_lru {
    use super::*;

    #[test]
    fn capacity_zero_means_unbounded_and_is_the_default() {
        let (s, _) = store();
        assert_eq!(s.capacity(), 0);
        for i in 0..10_000 {
            put(&s, &i.to_string(), "v");
        }
        assert_eq!(s.len(), 10_000);
        s.set_capacity(5);
        s.set_capacity(0);
        for i in 0..100 {
            put(&s, &format!("more{i}"), "v");
        }
        assert_eq!(s.len(), 105);
    }

    #[test]
    fn recency_is_tracked_without_capacity_so_a_later_capacity_evicts_in_lru_order() {
        let (s, _) = store();
        for k in ["a", "b", "c", "d"] {
            put(&s, k, "v");
        }
        s.get("a");
        s.get("b");
        s.set_capacity(2); // c and d are the least recently used
        assert_eq!(sorted_keys(&s), ["a", "b"]);
        put(&s, "e", "v"); // then a
        assert_eq!(sorted_keys(&s), ["b", "e"]);
        valid(&s);
    }

    #[test]
    fn over_capacity_expired_entries_are_reclaimed_first_then_the_lru_live_entry_is_evicted() {
        let (s, clock) = capped(3);
        put(&s, "old", "v"); // least recently used, live
        put_opts(&s, "e1", "v", ttl(1));
        put_opts(&s, "e2", "v", ttl(1));
        clock.advance(secs(1));
        // Two inserts: room comes from the two expired entries (reclaimed by the insert that
        // needs room or by the incremental reclaiming of writes), never from "old".
        put(&s, "n1", "v");
        put(&s, "n2", "v");
        assert!(s.has("old"));
        assert_eq!(s.metrics(), m(0, 0, 2, 0, 3));
        put(&s, "n3", "v"); // nothing expired left: "old" is evicted
        assert!(!s.has("old"));
        assert_eq!(s.metrics(), m(0, 0, 2, 1, 3));
    }

    #[test]
    fn the_insert_that_needs_room_reclaims_an_expired_entry_before_evicting() {
        // Incremental reclaiming cannot run first here: the expired entry is the only one.
        let (s, clock) = capped(1);
        put_opts(&s, "exp", "v", ttl(1));
        clock.advance(secs(1));
        put(&s, "new", "v");
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 1));
    }

    #[test]
    fn a_live_entry_is_never_evicted_while_an_expired_one_holds_a_slot() {
        // The expired entry is the most recently used: still it goes first.
        let (s, clock) = capped(2);
        put(&s, "live", "v");
        put_opts(&s, "exp", "v", ttl(1));
        s.get("exp");
        clock.advance(secs(1));
        put(&s, "new", "v");
        assert_eq!(sorted_keys(&s), ["live", "new"]);
        assert_eq!(s.metrics().evictions, 0);
        assert_eq!(s.metrics().expirations, 1);
    }

    #[test]
    fn in_a_sequential_run_the_victim_is_exactly_the_least_recently_used_live_entry() {
        lru_walk(&capped(8).0);
    }

    #[test]
    fn in_a_sequential_run_on_the_system_clock_the_victim_is_exactly_the_lru_entry() {
        // On the system clock recency stamps are times, not a shared counter: still exact.
        lru_walk(&Store::builder().capacity(8).build());
    }

    /// A deterministic pseudo-random walk of puts and gets on a capacity-8 store, checked against
    /// a plain LRU list after every step.
    fn lru_walk(s: &S) {
        let mut order: Vec<String> = Vec::new(); // front = least recently used
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = format!("k{}", x % 20);
            if x % 3 == 0 {
                let hit = s.get(key.as_str()).is_some();
                let pos = order.iter().position(|k| *k == key);
                assert_eq!(hit, pos.is_some(), "hit for {key}");
                if let Some(p) = pos {
                    let k = order.remove(p);
                    order.push(k);
                }
            } else {
                put(s, &key, "v");
                if let Some(p) = order.iter().position(|k| *k == key) {
                    order.remove(p);
                }
                order.push(key);
                if order.len() > 8 {
                    order.remove(0);
                }
            }
            let mut expect = order.clone();
            expect.sort();
            assert_eq!(sorted_keys(s), expect);
        }
        valid(s);
    }

    #[test]
    fn under_concurrency_the_bound_holds_once_no_put_is_in_flight() {
        let s = Arc::new(Store::<String, u64>::builder().capacity(64).build());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    for i in 0..5_000_u64 {
                        let k = format!("k{}", (i * 7 + t * 13) % 500);
                        if i % 3 == 0 {
                            s.get(&k);
                        } else {
                            s.put(k, i);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(s.len() <= 64, "stored {} > capacity 64", s.len());
        assert_eq!(s.keys().len(), s.len());
        s.validate().unwrap();
    }

    #[test]
    fn set_capacity_takes_effect_at_once_including_growing_back() {
        let (s, _) = capped(4);
        for k in ["a", "b", "c", "d"] {
            put(&s, k, "v");
        }
        s.set_capacity(1);
        assert_eq!(sorted_keys(&s), ["d"]);
        s.set_capacity(3);
        for k in ["e", "f"] {
            put(&s, k, "v");
        }
        assert_eq!(sorted_keys(&s), ["d", "e", "f"]);
        assert_eq!(s.metrics().evictions, 3);
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

mod metrics {
    use super::*;

    #[test]
    fn hits_misses_expirations_evictions_are_exact_under_concurrency() {
        let s = Arc::new(Store::<String, u64>::new());
        for i in 0..100 {
            s.put(format!("k{i}"), i);
        }
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    for i in 0..10_000 {
                        s.get(&format!("k{}", i % 200)); // half hit, half miss
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.metrics(), m(20_000, 20_000, 0, 0, 100));
    }

    #[test]
    fn current_size_counts_unreclaimed_expired_entries_while_keys_count_live_only() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", ttl(1));
        put(&s, "b", "2");
        clock.advance(secs(1));
        assert_eq!(s.metrics().current_size, 2);
        assert_eq!(s.keys().len(), 1);
        s.purge_expired();
        assert_eq!(s.metrics().current_size, 1);
    }

    #[test]
    fn overwriting_a_live_entry_changes_no_counter() {
        let (s, _) = capped(5);
        put(&s, "a", "1");
        let before = s.metrics();
        put(&s, "a", "2");
        put_opts(&s, "a", "3", ttl(9).with_max_reads(2));
        assert_eq!(s.metrics(), before);
    }

    #[test]
    fn overwriting_an_expired_entry_counts_its_expiration_whether_or_not_a_reclaim_ran_first() {
        for purge_first in [false, true] {
            let (s, clock) = store();
            put_opts(&s, "a", "1", ttl(1));
            clock.advance(secs(1));
            if purge_first {
                s.purge_expired();
            }
            put(&s, "a", "2");
            assert_eq!(s.metrics(), m(0, 0, 1, 0, 1), "purge first: {purge_first}");
        }
    }

    #[test]
    fn expirations_and_current_size_are_determined_right_after_purge_expired() {
        let (s, clock) = store();
        for i in 0..50 {
            put_opts(&s, &format!("k{i}"), "v", ttl(1));
        }
        put(&s, "stay", "v");
        clock.advance(secs(1));
        put(&s, "write", "v"); // may reclaim some incrementally
        s.purge_expired();
        assert_eq!(s.metrics(), m(0, 0, 50, 0, 2));
    }
}

// ---------------------------------------------------------------------------------------------
// Reclaiming without reads

mod reclaiming {
    use super::*;

    #[test]
    fn expired_entries_are_reclaimed_incrementally_during_writes() {
        let (s, clock) = store();
        for i in 0..100 {
            put_opts(&s, &format!("old{i}"), "v", ttl(1));
        }
        clock.advance(secs(1));
        for i in 0..100 {
            put(&s, &format!("new{i}"), "v");
        }
        assert_eq!(
            s.len(),
            100,
            "every write reclaimed some of the unread expired entries"
        );
        assert_eq!(s.metrics().expirations, 100);
        valid(&s);
    }

    #[test]
    fn purge_expired_reclaims_every_expired_entry_now() {
        let (s, clock) = store();
        for i in 0..1_000 {
            put_opts(&s, &format!("k{i}"), "v", ttl(1 + i % 3));
        }
        clock.advance(secs(2));
        let n = s.purge_expired();
        assert_eq!(n, 667); // ttl 1 and 2
        assert_eq!(s.len(), 333);
        valid(&s);
    }

    #[test]
    fn purge_expired_respects_sliding_refreshes() {
        let (s, clock) = store();
        put_opts(&s, "s", "v", ttl(5).with_sliding_ttl());
        clock.advance(secs(4));
        s.get("s");
        clock.advance(secs(4));
        assert_eq!(s.purge_expired(), 0, "refreshed to 9, now is 8");
        clock.advance(secs(1));
        assert_eq!(s.purge_expired(), 1);
    }

    #[test]
    fn background_sweeper_reclaims_without_reads_and_stops_when_its_handle_is_dropped() {
        use kvstore::Sweep;
        let (s, clock) = store();
        for i in 0..10 {
            put_opts(&s, &format!("k{i}"), "v", ttl(1));
        }
        clock.advance(secs(1));
        let sweeper = s.start_sweeper(Duration::from_millis(1));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !s.is_empty() && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(s.is_empty(), "the sweeper reclaimed every expired entry");
        assert_eq!(s.metrics().expirations, 10);
        drop(sweeper); // joins the thread: returning at all shows it stopped
        put_opts(&s, "later", "v", ttl(1));
        clock.advance(secs(1));
        thread::sleep(Duration::from_millis(20));
        assert_eq!(s.len(), 1, "no sweeping after the handle is dropped");
    }

    #[test]
    fn with_a_manual_clock_nothing_happens_behind_a_tests_back() {
        let (s, clock) = store();
        put_opts(&s, "a", "v", ttl(1));
        clock.advance(secs(10));
        thread::sleep(Duration::from_millis(5));
        assert_eq!(s.len(), 1);
        assert_eq!(s.metrics().expirations, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Namespaces and the default store

mod namespaces {
    use super::*;
    use crate::global_stores;

    #[test]
    fn a_typed_read_of_the_wrong_type_changes_nothing() {
        // Its own store, not a global one: no other test can touch it.
        let s = kvstore::AnyStore::new();
        let one_shot_sliding = PutOptions::new()
            .with_ttl(Duration::from_secs(10))
            .with_sliding_ttl()
            .with_max_reads(1);
        s.put_with("tok", "user-42", &one_shot_sliding); // a &'static str, not a String
        assert_eq!(s.get::<String>("tok"), None);
        assert_eq!(s.try_get::<String>("tok"), Err(kvstore::WrongType));
        assert_eq!(s.metrics(), m(0, 0, 0, 0, 1), "no hit, no miss");
        assert_eq!(
            s.get::<&str>("tok").as_deref(),
            Some(&"user-42"),
            "budget unspent"
        );
        assert!(!s.has("tok"), "the one read it had was the right-typed one");
        assert_eq!(
            s.try_get::<String>("tok"),
            Ok(None),
            "absent is not a wrong type"
        );
    }

    #[test]
    fn namespace_returns_the_same_store_for_the_same_name() {
        let _global = global_stores();
        let a = kvstore::namespace("semantics/same");
        a.put("k", 1_u8);
        let b = kvstore::namespace("semantics/same");
        assert_eq!(b.get::<u8>("k").as_deref(), Some(&1));
    }

    #[test]
    fn different_names_give_isolated_stores_with_own_capacity_and_metrics() {
        let _global = global_stores();
        let a = kvstore::namespace("semantics/iso-a");
        let b = kvstore::namespace("semantics/iso-b");
        a.set_capacity(1);
        a.put("k", 1_u8);
        a.put("k2", 2_u8);
        b.put("k", 3_u8);
        b.put("k2", 4_u8);
        assert_eq!(a.len(), 1);
        assert_eq!(b.len(), 2);
        assert_eq!(a.metrics().evictions, 1);
        assert_eq!(b.metrics().evictions, 0);
        assert_eq!(b.get::<u8>("k").as_deref(), Some(&3));
    }

    #[test]
    fn default_is_a_store_of_its_own_distinct_from_every_namespace_including_empty() {
        let _global = global_stores();
        kvstore::reset_default();
        kvstore::put("shared-name", "default".to_string());
        kvstore::namespace("").put("shared-name", "empty-ns".to_string());
        assert_eq!(
            kvstore::get::<String>("shared-name")
                .as_deref()
                .map(String::as_str),
            Some("default")
        );
        assert_eq!(
            kvstore::namespace("")
                .get::<String>("shared-name")
                .as_deref()
                .map(String::as_str),
            Some("empty-ns")
        );
    }

    #[test]
    fn default_store_convenience_functions_follow_the_seed() {
        let _global = global_stores();
        kvstore::reset_default();
        kvstore::put("a", 1_i32);
        kvstore::put_with("t", 2_i32, &PutOptions::new().with_max_reads(1));
        assert!(kvstore::has("a"));
        assert_eq!(kvstore::keys(), ["a", "t"]);
        assert_eq!(kvstore::get::<i32>("t").as_deref(), Some(&2));
        assert_eq!(kvstore::get::<i32>("t"), None);
        assert!(kvstore::del("a"));
        kvstore::set_capacity(1);
        kvstore::put("x", 1_i32);
        kvstore::put("y", 1_i32);
        assert_eq!(kvstore::stats(), m(1, 1, 0, 1, 1));
    }

    #[test]
    fn resets_replace_the_global_stores_and_earlier_handles_keep_working() {
        let _global = global_stores();
        let old_default = kvstore::default();
        let old_ns = kvstore::namespace("semantics/reset");
        old_default.put("k", 1_u8);
        old_ns.put("k", 1_u8);
        kvstore::reset_default();
        kvstore::reset_namespaces();
        assert!(!kvstore::has("k"));
        assert!(!kvstore::namespace("semantics/reset").has("k"));
        assert!(
            old_default.has("k"),
            "old handle still works on the old store"
        );
        assert!(old_ns.has("k"));
        old_ns.put("k2", 2_u8);
        assert!(!kvstore::namespace("semantics/reset").has("k2"));
    }

    #[test]
    fn names_are_free_text_and_no_name_is_invalid() {
        let _global = global_stores();
        for name in [
            "pipeline/node",
            "",
            " ",
            "ünï/cødé",
            "a\0b",
            "../..",
            &"x".repeat(10_000),
        ] {
            let s = kvstore::namespace(name);
            s.put("k", name.len());
            assert_eq!(
                kvstore::namespace(name).get::<usize>("k").as_deref(),
                Some(&name.len())
            );
        }
    }

    #[test]
    fn a_wrong_type_asked_of_a_global_store_is_none_not_a_panic() {
        let _global = global_stores();
        let s = kvstore::namespace("semantics/types");
        s.put("n", 7_u64);
        assert_eq!(s.get::<String>("n"), None);
        assert_eq!(s.get::<u64>("n").as_deref(), Some(&7));
    }
}

// ---------------------------------------------------------------------------------------------
// Time

mod time {
    use super::*;

    #[test]
    fn all_time_comes_from_the_stores_clock_a_manual_clock_only_moves_when_advanced() {
        let (s, clock) = store();
        put_opts(&s, "a", "v", ttl(1));
        thread::sleep(Duration::from_millis(20));
        assert!(
            s.has("a"),
            "wall time passing does not expire entries on a manual clock"
        );
        clock.advance(secs(1));
        assert!(!s.has("a"));
    }

    #[test]
    fn the_default_clock_is_the_system_monotonic_clock() {
        let s = Store::<String, String>::new();
        s.put_with(
            "a".into(),
            "v".into(),
            &PutOptions::new().with_ttl(Duration::from_millis(1)),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while s.has("a") && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(!s.has("a"));
    }

    #[test]
    fn a_clock_that_goes_backwards_causes_no_panic_and_never_revives_an_expired_entry() {
        let (s, clock) = store();
        clock.set(10_000_000_000);
        put_opts(&s, "a", "v", ttl(5)); // deadline 15s
        put_opts(&s, "s", "v", ttl(5).with_sliding_ttl());
        clock.set(20_000_000_000); // both expired now
        assert!(!s.keys().contains(&"a".to_string()));
        clock.set(0); // backwards, before the put
        assert!(!s.has("a"), "not revived");
        assert_eq!(s.get("s"), None, "not revived by a sliding read either");
        assert!(
            s.now_nanos() >= 20_000_000_000,
            "the store's time never goes back"
        );
        // New entries put while the clock lags are timed from the store's time.
        put_opts(&s, "b", "v", ttl(1));
        clock.set(20_999_999_999);
        assert!(s.has("b"));
        clock.set(21_000_000_000);
        assert!(!s.has("b"));
    }

    /// A clock whose recent reading a test sets apart from its exact one, as the default
    /// clock's background thread leaves it: `lag` is the most the recent reading may trail.
    #[derive(Clone)]
    struct Lagging {
        exact: ManualClock,
        recent: ManualClock,
        lag: u64,
    }

    impl kvstore::Clock for Lagging {
        fn now_nanos(&self) -> u64 {
            self.exact.now_nanos()
        }
        fn recent_nanos(&self) -> u64 {
            self.recent.now_nanos().min(self.exact.now_nanos())
        }
        fn recent_lag_nanos(&self) -> u64 {
            self.lag
        }
    }

    fn lagging(lag: u64) -> (S, Lagging) {
        let clock = Lagging {
            exact: ManualClock::new(),
            recent: ManualClock::new(),
            lag,
        };
        (Store::builder().clock(clock.clone()).build(), clock)
    }

    /// Sets the true time to `exact` and the recent reading to `recent` (nanoseconds).
    fn at(clock: &Lagging, exact: u64, recent: u64) {
        clock.exact.set(exact);
        clock.recent.set(recent);
    }

    #[test]
    fn coarse_clock_an_entry_lives_at_most_one_tick_longer_than_its_ttl() {
        // A tick of 10 ns: recent readings trail the true time by at most half of it.
        let (s, clock) = lagging(5);
        put_opts(
            &s,
            "fixed",
            "v",
            PutOptions::new().with_ttl(Duration::from_nanos(100)),
        );
        at(&clock, 100, 95); // truly expired; the read's time lags by half a tick
        assert_eq!(
            s.get("fixed").as_deref(),
            Some("v"),
            "may live a little longer"
        );
        at(&clock, 105, 100);
        assert_eq!(
            s.get("fixed"),
            None,
            "but not past its deadline on the recent time"
        );

        put_opts(
            &s,
            "slide",
            "v",
            PutOptions::new()
                .with_ttl(Duration::from_nanos(100))
                .with_sliding_ttl(),
        );
        at(&clock, 150, 150); // a read whose reading happens to be exact: refreshed from 155
        assert!(s.get("slide").is_some());
        // `has` judges liveness without refreshing: the deadline 255 is one tick (10) past the
        // true one (250), so the entry lives until a true time of 260 at the most.
        at(&clock, 259, 254);
        assert!(s.has("slide"));
        at(&clock, 260, 255);
        assert!(!s.has("slide"));
    }

    #[test]
    fn coarse_clock_never_makes_an_entry_live_shorter_than_its_ttl() {
        let (s, clock) = lagging(5);
        let sliding = PutOptions::new()
            .with_ttl(Duration::from_nanos(100))
            .with_sliding_ttl();
        at(&clock, 1_000, 995); // a put's deadline counts from the exact time: 1,100
        put_opts(
            &s,
            "fixed",
            "v",
            PutOptions::new().with_ttl(Duration::from_nanos(100)),
        );
        put_opts(&s, "slide", "v", sliding);
        at(&clock, 1_080, 1_075); // read when the recent reading lags by its most
        assert!(s.get("slide").is_some());
        at(&clock, 1_179, 1_179); // 99 ns after the true time of that read: still live
        assert!(
            s.get("slide").is_some(),
            "a lagging read did not shorten the sliding TTL"
        );
        assert!(!s.has("fixed"), "the fixed TTL ran out at 1,100");

        // The default clock, for real: until its TTL has surely passed, every read hits.
        let s = Store::<String, String>::new();
        let ttl = Duration::from_millis(300);
        let before_put = std::time::Instant::now();
        s.put_with("a".into(), "v".into(), &PutOptions::new().with_ttl(ttl));
        while before_put.elapsed() < ttl - Duration::from_millis(50) {
            let hit = s.get("a").is_some();
            if before_put.elapsed() < ttl {
                assert!(hit, "read {:?} after the put missed", before_put.elapsed());
            }
        }
    }

    #[test]
    fn coarse_clock_manual_clock_stays_exact() {
        let (s, clock) = store();
        put_opts(
            &s,
            "a",
            "v",
            PutOptions::new().with_ttl(Duration::from_nanos(100)),
        );
        clock.set(99);
        assert!(s.get("a").is_some());
        clock.set(100);
        assert_eq!(
            s.get("a"),
            None,
            "expired at exactly its deadline, not a tick later"
        );
    }

    #[test]
    fn coarse_clock_tick_is_configurable_and_a_recent_reading_trails_an_exact_one_by_at_most_half_of_it()
     {
        for tick in [Duration::from_millis(1), Duration::from_millis(40)] {
            let clock = kvstore::CoarseClock::new(tick);
            let lag = (tick / 2).as_nanos() as u64;
            assert_eq!(kvstore::Clock::recent_lag_nanos(&clock), lag);
            for _ in 0..1_000 {
                let exact = kvstore::Clock::now_nanos(&clock);
                let recent = kvstore::Clock::recent_nanos(&clock);
                assert!(
                    recent + lag >= exact,
                    "recent {recent} trails exact {exact} by more than {lag}"
                );
                assert!(
                    recent <= kvstore::Clock::now_nanos(&clock),
                    "recent is never ahead"
                );
            }
        }
        let exact = kvstore::CoarseClock::new(Duration::ZERO);
        assert_eq!(kvstore::Clock::recent_lag_nanos(&exact), 0);
        let s: S = Store::builder().clock_tick(Duration::ZERO).build();
        s.put_with(
            "a".into(),
            "v".into(),
            &PutOptions::new().with_ttl(Duration::from_millis(1)),
        );
        thread::sleep(Duration::from_millis(2));
        assert_eq!(s.get("a"), None, "a zero tick reads the clock exactly");
    }
}

// ---------------------------------------------------------------------------------------------
// Differs from the original: the nine fixes

mod differs_from_the_original {
    use super::*;

    #[test]
    fn fix_1_every_removal_removes_all_of_an_entry_no_stray_lru_nodes() {
        let (s, clock) = capped(2);
        // Expired entries found by get and has, and a consumed token: none leaves a node behind.
        put_opts(&s, "e1", "v", ttl(1));
        put_opts(&s, "e2", "v", ttl(1));
        clock.advance(secs(1));
        s.get("e1");
        s.has("e2");
        put_opts(&s, "t", "v", PutOptions::new().with_max_reads(1));
        s.get("t");
        valid(&s);
        // Two inserts fit in capacity 2: a stray node would be "evicted" and counted.
        put(&s, "a", "v");
        put(&s, "b", "v");
        assert_eq!(s.metrics().evictions, 0);
        assert_eq!(sorted_keys(&s), ["a", "b"]);
        valid(&s);
    }

    #[test]
    fn fix_2_has_on_an_expired_entry_counts_its_expiration() {
        let (s, clock) = store();
        put_opts(&s, "a", "v", ttl(1));
        clock.advance(secs(1));
        assert!(!s.has("a"));
        assert_eq!(s.metrics().expirations, 1);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn fix_3_del_of_an_expired_unreclaimed_entry_returns_false() {
        let (s, clock) = store();
        put_opts(&s, "a", "v", ttl(1));
        clock.advance(secs(1));
        assert!(!s.del("a"));
    }

    #[test]
    fn fix_4_capacity_loop_evicts_expired_entries_before_live_ones() {
        let (s, clock) = capped(2);
        put(&s, "lru-live", "v");
        put_opts(&s, "mru-expired", "v", ttl(1));
        clock.advance(secs(1));
        put(&s, "new", "v");
        assert!(s.has("lru-live"));
        assert_eq!(s.metrics().evictions, 0);
    }

    #[test]
    fn fix_5_expired_entries_nobody_reads_do_not_stay_in_memory() {
        let (s, clock) = store();
        for i in 0..1_000 {
            put_opts(&s, &format!("k{i}"), "v", ttl(1));
        }
        clock.advance(secs(1));
        s.purge_expired();
        assert_eq!(s.len(), 0);
        assert_eq!(s.metrics().expirations, 1_000);
    }

    #[test]
    fn fix_6_has_never_deletes_a_value_a_concurrent_put_just_wrote() {
        // The writer puts a fresh value, checks it is there, then moves the clock past its
        // deadline, and again: each value is live from its put until the writer's own advance.
        // Readers call `has` all along, so they keep meeting the expired value, and some of their
        // reclaims wait for the lock while the writer's put of the next, live, value holds it:
        // `has` must check again under the lock and leave that value alone.
        const ROUNDS: u64 = 10_000;
        let clock = ManualClock::new();
        let s: Arc<S> = Arc::new(Store::builder().clock(clock.clone()).build());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // More readers than cores: a reader descheduled between its shared look-up and its
        // exclusive lock leaves the put a wide window.
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (s, done) = (Arc::clone(&s), Arc::clone(&done));
                thread::spawn(move || {
                    let mut calls = 0_u64;
                    while !done.load(std::sync::atomic::Ordering::Acquire) {
                        s.has("k");
                        calls += 1;
                    }
                    calls
                })
            })
            .collect();
        for i in 0..ROUNDS {
            let value = format!("v{i}");
            assert_eq!(
                put_opts(&s, "k", &value, ttl(1)),
                None,
                "the previous value had expired"
            );
            assert_eq!(
                s.metrics().expirations,
                i,
                "every earlier value was counted expired once, by the put or by has"
            );
            assert_eq!(
                s.get("k"),
                Some(value),
                "round {i}: has removed the live value the put just wrote"
            );
            assert_eq!(
                s.metrics().expirations,
                i,
                "round {i}: a live value counted as expired"
            );
            clock.advance(secs(1));
            thread::yield_now(); // let a reader meet the expired value
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        for r in readers {
            r.join().unwrap();
        }
        s.purge_expired();
        assert_eq!(s.metrics().expirations, ROUNDS);
        assert!(!s.has("k"));
    }

    #[test]
    fn fix_7_put_over_an_expired_unreclaimed_entry_counts_its_expiration() {
        let (s, clock) = store();
        put_opts(&s, "a", "v", ttl(1));
        clock.advance(secs(1));
        put(&s, "a", "w");
        assert_eq!(s.metrics().expirations, 1);
    }

    #[test]
    fn fix_8_del_of_an_expired_unreclaimed_entry_counts_its_expiration() {
        let (s, clock) = store();
        put_opts(&s, "a", "v", ttl(1));
        clock.advance(secs(1));
        assert!(!s.del("a"));
        assert_eq!(s.metrics().expirations, 1);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn fix_9_capacity_loop_removing_an_expired_entry_counts_an_expiration_not_an_eviction() {
        // On an insert: the only candidate is expired, so its removal is a reclaim.
        let (s, clock) = capped(1);
        put_opts(&s, "old", "v", ttl(1));
        clock.advance(secs(1));
        put(&s, "new", "v");
        assert_eq!((s.metrics().expirations, s.metrics().evictions), (1, 0));
        // On a shrink by set_capacity: the expired entry goes as an Expiration, then one live
        // entry as an Eviction.
        let (s, clock) = capped(3);
        put(&s, "a", "v");
        put_opts(&s, "b", "v", ttl(1));
        put(&s, "c", "v");
        clock.advance(secs(1));
        s.set_capacity(1);
        assert_eq!((s.metrics().expirations, s.metrics().evictions), (1, 1));
        assert_eq!(sorted_keys(&s), ["c"]);
    }
}

// ---------------------------------------------------------------------------------------------
// The reference cases of the harness, as plain Rust (the harness runs the files themselves).

mod reference_cases {
    use super::*;

    #[test]
    fn basics_put_get_del_and_one_shot_token() {
        let (s, _) = store();
        put(&s, "greeting", "hello world");
        assert_eq!(s.get("greeting").as_deref(), Some("hello world"));
        assert!(s.has("greeting"));
        assert!(s.del("greeting"));
        assert_eq!(s.get("greeting"), None);
        assert_eq!(s.metrics(), m(1, 1, 0, 0, 0));

        let (s, _) = store();
        put_opts(&s, "tok", "abc", PutOptions::new().with_max_reads(1));
        assert_eq!(s.get("tok").as_deref(), Some("abc"));
        assert_eq!(s.get("tok"), None);
        assert_eq!(s.metrics(), m(1, 1, 0, 0, 0));
    }

    #[test]
    fn lru_evicts_oldest_and_a_get_is_a_use() {
        let (s, _) = store();
        s.set_capacity(2);
        put(&s, "a", "1");
        put(&s, "b", "2");
        put(&s, "c", "3");
        assert_eq!(sorted_keys(&s), ["b", "c"]);
        assert_eq!(s.get("b").as_deref(), Some("2"));
        put(&s, "d", "4");
        assert_eq!(sorted_keys(&s), ["b", "d"]);
        assert_eq!(s.metrics(), m(1, 0, 0, 2, 2));
    }

    #[test]
    fn ttl_fixed_and_sliding() {
        let (s, clock) = store();
        put_opts(&s, "a", "1", ttl(5));
        clock.advance(secs(4));
        assert_eq!(s.get("a").as_deref(), Some("1"));
        clock.advance(secs(1));
        assert_eq!(s.get("a"), None);
        assert_eq!(s.metrics(), m(1, 1, 1, 0, 0));

        let (s, clock) = store();
        put_opts(&s, "s", "v", ttl(5).with_sliding_ttl());
        clock.advance(secs(4));
        assert!(s.get("s").is_some());
        clock.advance(secs(4));
        assert!(s.get("s").is_some());
        clock.advance(secs(5));
        assert_eq!(s.get("s"), None);
        let got = s.metrics();
        assert_eq!((got.hits, got.misses, got.expirations), (2, 1, 1));
    }

    #[test]
    fn original_kv_directives_puts_before_gets_after() {
        let s = kvstore::AnyStore::new();
        s.put("a", "1".to_string());
        s.put("b", "2".to_string());
        assert!(s.get::<String>("a").is_some());
        assert_eq!(s.metrics(), m(1, 0, 0, 0, 2));
        assert_eq!(s.keys(), ["a", "b"]);
    }
}

// ---------------------------------------------------------------------------------------------
// The `Backend` trait: any backend runs the contract through it.

mod store_trait {
    use super::*;
    use kvstore::{Backend, Boxed, DynBackend, infallible};

    #[test]
    fn the_store_trait_gives_the_contract_through_a_dyn_handle() {
        let (s, clock) = capped(2);
        let b: Box<DynBackend<String, String, PutOptions>> = Box::new(Boxed(s.clone()));
        b.put(
            "tok".into(),
            "v".into(),
            &PutOptions::new().with_max_reads(1),
        )
        .unwrap();
        b.put("a".into(), "1".into(), &ttl(1)).unwrap();
        assert_eq!(b.get(&"tok".into()).unwrap().as_deref(), Some("v"));
        assert_eq!(b.get(&"tok".into()).unwrap(), None); // spent
        assert!(b.has(&"a".into()).unwrap());
        clock.advance(secs(1));
        assert!(!b.del(&"a".into()).unwrap()); // expired: reclaimed, not a live removal
        b.put("x".into(), "1".into(), &PutOptions::new()).unwrap();
        b.put("y".into(), "2".into(), &PutOptions::new()).unwrap();
        b.put("z".into(), "3".into(), &PutOptions::new()).unwrap();
        assert_eq!(b.capacity().unwrap(), 2);
        let dump = b.dump().unwrap();
        assert_eq!(dump.keys, ["y", "z"]);
        assert_eq!(dump.metrics, m(1, 1, 1, 1, 2));
        assert_eq!(
            dump.metrics,
            s.metrics(),
            "the trait and the store see one store"
        );
        b.set_capacity(1).unwrap();
        assert_eq!(b.keys().unwrap(), ["z"]);
        assert_eq!(b.purge_expired().unwrap(), 0);
        b.clear().unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn the_in_memory_store_trait_never_fails() {
        let (s, _) = store();
        // `infallible` unwraps without a panic path: the error type is `Infallible`.
        infallible(Backend::put(&s, "k".into(), "v".into(), &PutOptions::new()));
        assert_eq!(
            infallible(Backend::get(&s, &"k".into())).as_deref(),
            Some("v")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Operations this project adds

mod operations_this_project_adds {
    use super::*;

    #[test]
    fn remove_returns_a_live_value_and_is_not_a_read() {
        let (s, clock) = store();
        put(&s, "a", "1");
        assert_eq!(s.remove("a").as_deref(), Some("1"));
        assert_eq!(s.remove("a"), None);
        put_opts(&s, "e", "2", ttl(1));
        clock.advance(secs(1));
        assert_eq!(s.remove("e"), None, "expired: reclaimed, no value");
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 0));
        valid(&s);
    }

    #[test]
    fn retain_removes_what_keep_refuses_and_reclaims_expired_entries() {
        let (s, clock) = capped(10);
        put(&s, "user42/s1", "a");
        put(&s, "user42/s2", "b");
        put(&s, "user7/s1", "c");
        put_opts(&s, "user7/old", "d", ttl(1));
        clock.advance(secs(1));
        let mut shown = Vec::new();
        s.retain(|k, _| {
            shown.push(k.clone());
            !k.starts_with("user42/")
        });
        shown.sort();
        assert_eq!(
            shown,
            ["user42/s1", "user42/s2", "user7/s1"],
            "expired not shown"
        );
        assert_eq!(sorted_keys(&s), ["user7/s1"]);
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 1));
        valid(&s);
    }

    #[test]
    fn iter_yields_live_entries_and_is_not_a_read() {
        let (s, clock) = capped(2);
        put_opts(&s, "tok", "t", PutOptions::new().with_max_reads(1));
        put_opts(&s, "gone", "g", ttl(1));
        clock.advance(secs(1));
        let all: Vec<(String, String)> = s.iter().collect();
        assert_eq!(all, [("tok".to_string(), "t".to_string())]);
        assert_eq!(s.metrics().hits + s.metrics().misses, 0);
        assert_eq!(
            s.get("tok").as_deref(),
            Some("t"),
            "its one read is still there"
        );
        // Not a use: "a" put first stays the least recently used although iter saw it last.
        let (s, _) = capped(2);
        put(&s, "a", "1");
        put(&s, "b", "2");
        let _: Vec<_> = s.iter().collect();
        put(&s, "c", "3");
        assert_eq!(sorted_keys(&s), ["b", "c"]);
    }

    #[test]
    fn store_wide_defaults_apply_to_puts_without_their_own_ttl() {
        let clock = ManualClock::new();
        let idle: S = Store::builder()
            .clock(clock.clone())
            .time_to_idle(secs(10))
            .build();
        put(&idle, "sid", "alice");
        put_opts(&idle, "own", "x", ttl(100)); // its own fixed TTL wins
        put_opts(&idle, "tok", "t", PutOptions::new().with_max_reads(1)); // budget + default
        clock.advance(secs(9));
        assert!(
            idle.get("sid").is_some(),
            "a read slides the default deadline"
        );
        clock.advance(secs(9));
        assert!(idle.get("sid").is_some());
        assert!(!idle.has("tok"), "the default TTL applied to the token too");
        clock.advance(secs(10));
        assert!(idle.get("sid").is_none());
        assert!(idle.has("own"));
        let live: S = Store::builder()
            .clock(clock.clone())
            .time_to_idle(secs(1))
            .time_to_live(secs(10)) // the later call wins: fixed 10 s
            .build();
        put(&live, "k", "v");
        clock.advance(secs(9));
        assert!(live.get("k").is_some());
        clock.advance(secs(1));
        assert!(live.get("k").is_none(), "fixed: the read did not slide it");
    }

    #[test]
    fn get_or_insert_with_runs_one_loader_per_key_and_the_others_receive_its_value() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (s, _) = store();
        let loads = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let got: Vec<String> = (0..8)
            .map(|_| {
                let (s, loads, barrier) = (s.clone(), Arc::clone(&loads), Arc::clone(&barrier));
                thread::spawn(move || {
                    barrier.wait();
                    s.get_or_insert_with("cfg".into(), || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(20)); // let the others pile up
                        "loaded".to_string()
                    })
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(got.iter().all(|v| v == "loaded"));
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one loader for the key");
        assert_eq!(
            s.metrics(),
            m(7, 1, 0, 0, 1),
            "one miss (the loader), seven hits"
        );
    }

    #[test]
    fn a_failing_or_panicking_loader_stores_nothing_and_the_next_caller_loads() {
        let (s, _) = store();
        let failed: Result<String, &str> = s.try_get_or_insert_with("k".into(), || Err("down"));
        assert_eq!(failed, Err("down"));
        assert!(!s.has("k"));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.get_or_insert_with("k".into(), || panic!("loader bug"))
        }));
        assert!(panicked.is_err());
        assert!(!s.has("k"));
        // Nothing is poisoned: the next caller loads, and a later one reads.
        assert_eq!(s.get_or_insert_with("k".into(), || "v".into()), "v");
        assert_eq!(s.get_or_insert_with("k".into(), || "w".into()), "v");
        assert_eq!(s.metrics(), m(1, 3, 0, 0, 1));
    }

    #[test]
    fn get_or_insert_with_options_stores_with_them() {
        let (s, clock) = store();
        let one_shot = PutOptions::new().with_max_reads(1).with_ttl(secs(5));
        let v = s.try_get_or_insert_with_options("tok".into(), &one_shot, || {
            Ok::<_, ()>("t".to_string())
        });
        assert_eq!(v.as_deref(), Ok("t"));
        clock.advance(secs(4));
        assert_eq!(s.get("tok").as_deref(), Some("t"), "the budget's one read");
        assert!(!s.has("tok"));
    }
}

// ---------------------------------------------------------------------------------------------
// Operations this project adds: the removal listener and the weigher

mod removal_listener_and_weigher {
    use super::*;
    use kvstore::RemovalCause;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type Log = Arc<Mutex<Vec<(String, String, RemovalCause)>>>;

    /// A store (capacity `capacity`, manual clock) whose removal listener writes to the log.
    fn listened(capacity: usize) -> (S, ManualClock, Log) {
        let clock = ManualClock::new();
        let log: Log = Arc::default();
        let into = Arc::clone(&log);
        let s = Store::builder()
            .clock(clock.clone())
            .capacity(capacity)
            .removal_listener(move |k, v, cause| into.lock().unwrap().push((k, v, cause)))
            .build();
        (s, clock, log)
    }

    fn taken(log: &Log) -> Vec<(String, String, RemovalCause)> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    fn one(k: &str, v: &str, cause: RemovalCause) -> Vec<(String, String, RemovalCause)> {
        vec![(k.to_string(), v.to_string(), cause)]
    }

    #[test]
    fn removal_listener_is_called_once_per_removed_entry_with_its_cause() {
        use RemovalCause::*;
        let (s, clock, log) = listened(2);
        put(&s, "a", "1");
        assert_eq!(
            put(&s, "a", "2").as_deref(),
            Some("1"),
            "put still returns it"
        );
        assert_eq!(taken(&log), one("a", "1", Replaced));
        assert!(s.del("a"));
        assert_eq!(taken(&log), one("a", "2", Deleted));
        put(&s, "r", "3");
        assert_eq!(s.remove("r").as_deref(), Some("3"));
        assert_eq!(taken(&log), one("r", "3", Deleted));
        put_opts(&s, "tok", "t", PutOptions::new().with_max_reads(1));
        assert_eq!(s.get("tok").as_deref(), Some("t"));
        assert_eq!(taken(&log), one("tok", "t", Consumed));
        // Expired, found by each way there is.
        for (k, find) in [
            ("by-get", 0),
            ("by-has", 1),
            ("by-put", 2),
            ("by-purge", 3),
            ("by-del", 4),
        ] {
            put_opts(&s, k, "x", ttl(1));
            clock.advance(secs(1));
            match find {
                0 => assert_eq!(s.get(k), None),
                1 => assert!(!s.has(k)),
                2 => assert_eq!(put(&s, k, "y"), None),
                3 => assert_eq!(s.purge_expired(), 1),
                _ => assert!(!s.del(k)),
            }
            assert_eq!(taken(&log), one(k, "x", Expired), "{k}");
            s.del(k);
            taken(&log);
        }
        // Evicted (capacity 2), then Cleared.
        put(&s, "p", "1");
        put(&s, "q", "2");
        put(&s, "z", "3");
        assert_eq!(taken(&log), one("p", "1", Evicted));
        s.retain(|k, _| k != "q");
        assert_eq!(taken(&log), one("q", "2", Deleted));
        s.clear();
        assert_eq!(taken(&log), one("z", "3", Cleared));
        assert!(Expired.was_automatic() && Evicted.was_automatic() && Consumed.was_automatic());
        assert!(!Deleted.was_automatic() && !Replaced.was_automatic());
        let shown: Vec<String> = [Expired, Evicted, Deleted, Consumed, Replaced, Cleared]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "expired", "evicted", "deleted", "consumed", "replaced", "cleared"
            ],
            "causes print as a log line names them"
        );
        assert_eq!(s.metrics(), m(1, 1, 5, 1, 0), "the listener counts nothing");
        valid(&s);
    }

    #[test]
    fn removal_listener_is_called_outside_every_lock_and_may_use_the_store() {
        // The listener reads, writes and deletes in the same store, even the key being removed,
        // and loads through get-or-insert: any lock held would deadlock here.
        let store: Arc<Mutex<Option<S>>> = Arc::default();
        let inner = Arc::clone(&store);
        let s: S = Store::builder()
            .shards(1) // every key in the one shard whose lock removed the entry
            .removal_listener(move |k: String, v: String, cause| {
                let s = inner.lock().unwrap().clone().expect("set below");
                if cause == RemovalCause::Deleted && k == "a" {
                    assert_eq!(s.get(&k), None, "gone before the listener is told");
                    s.put(format!("echo/{k}"), v);
                    s.del("other");
                    s.get_or_insert_with(k, || "reloaded".into());
                }
            })
            .build();
        *store.lock().unwrap() = Some(s.clone());
        put(&s, "a", "1");
        put(&s, "other", "2");
        assert!(s.del("a"));
        assert_eq!(s.get("echo/a").as_deref(), Some("1"));
        assert_eq!(s.get("a").as_deref(), Some("reloaded"));
        assert!(!s.has("other"), "deleted from inside the listener");
        *store.lock().unwrap() = None; // the listener held no handle of its own
    }

    #[test]
    fn removal_listener_sees_one_keys_removals_in_order_and_each_exactly_once_under_concurrency() {
        // 6 threads (more than cores) overwrite 4 keys with values unique to the put; each put
        // returns what it displaced, which names the order the store applied them in: the
        // listener must see every displaced value once, and each key's in that order.
        let (s, _clock, log) = listened(0);
        let threads = 6;
        let per_thread = 3_000;
        let displaced: Vec<Vec<(String, String, String)>> = (0..threads)
            .map(|t| {
                let s = s.clone();
                thread::spawn(move || {
                    let mut seen = Vec::new();
                    for i in 0..per_thread {
                        let (k, v) = (format!("k{}", i % 4), format!("{t}-{i}"));
                        if let Some(old) = s.put(k.clone(), v.clone()) {
                            seen.push((k, old, v));
                        }
                    }
                    seen
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        s.clear();
        let log = taken(&log);
        assert_eq!(
            log.len(),
            threads * per_thread,
            "one notification per entry"
        );
        let mut values: Vec<&str> = log.iter().map(|(_, v, _)| v.as_str()).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(
            values.len(),
            threads * per_thread,
            "each value exactly once"
        );
        // successor[(k, v)] = the value that replaced v under k.
        let successor: std::collections::HashMap<(String, String), String> = displaced
            .into_iter()
            .flatten()
            .map(|(k, old, new)| ((k, old), new))
            .collect();
        for key in ["k0", "k1", "k2", "k3"] {
            let order: Vec<&(String, String, RemovalCause)> =
                log.iter().filter(|(k, _, _)| k == key).collect();
            for pair in order.windows(2) {
                let next = successor.get(&(key.to_string(), pair[0].1.clone()));
                assert_eq!(
                    next,
                    Some(&pair[1].1),
                    "{key}: {} was followed by the wrong removal",
                    pair[0].1
                );
            }
            assert_eq!(order.last().unwrap().2, RemovalCause::Cleared);
        }
    }

    #[test]
    fn removal_listener_calls_never_overlap_and_a_panicking_listener_loses_nothing_later() {
        let busy = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (b, c) = (Arc::clone(&busy), Arc::clone(&calls));
        let s: S = Store::builder()
            .capacity(8)
            .removal_listener(move |k: String, _, _| {
                assert_eq!(b.fetch_add(1, Ordering::SeqCst), 0, "two calls at once");
                c.fetch_add(1, Ordering::SeqCst);
                thread::yield_now();
                b.fetch_sub(1, Ordering::SeqCst);
                if k == "boom" {
                    panic!("a listener that panics");
                }
            })
            .build();
        let puts = 4 * 2_000;
        (0..4)
            .map(|t| {
                let s = s.clone();
                thread::spawn(move || {
                    for i in 0..2_000 {
                        s.put(format!("{t}-{i}"), String::new()); // capacity 8: evicts
                    }
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .for_each(|h| h.join().unwrap());
        assert_eq!(calls.load(Ordering::SeqCst), puts - s.len());
        put(&s, "boom", "");
        let panicked = catch_unwind(AssertUnwindSafe(|| s.del("boom")));
        assert!(panicked.is_err(), "the panic reaches the caller");
        s.clear();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            puts + 1,
            "the clear after the panic was delivered in full"
        );
        valid(&s);
    }

    /// A byte-bounded store (manual clock): capacity `bytes`, each value weighs its length.
    fn weighed(bytes: usize) -> (S, ManualClock) {
        let clock = ManualClock::new();
        let s = Store::builder()
            .clock(clock.clone())
            .capacity(bytes)
            .weigher(|_, v: &String| v.len() as u64)
            .build();
        (s, clock)
    }

    #[test]
    fn weigher_capacity_bounds_the_total_weight_evicting_lru_until_the_newcomer_fits() {
        let (s, _) = weighed(10);
        put(&s, "a", "xxx"); // 3
        put(&s, "b", "xxx"); // 6
        put(&s, "c", "xxx"); // 9
        assert_eq!(s.get("a").as_deref(), Some("xxx")); // order now b, c, a
        put(&s, "d", "xxxxxx"); // 15 > 10: b then c go
        assert_eq!(sorted_keys(&s), ["a", "d"]);
        assert_eq!(s.weight(), 9);
        assert_eq!(s.metrics(), m(1, 0, 0, 2, 2), "current_size counts entries");
        assert_eq!(
            put(&s, "a", "x").as_deref(),
            Some("xxx"),
            "replacing reweighs"
        );
        assert_eq!(s.weight(), 7);
        s.set_capacity(6);
        assert_eq!(sorted_keys(&s), ["a"], "d, the LRU entry, goes");
        put(&s, "zero", ""); // weightless entries never fill the store
        assert_eq!(s.weight(), 1);
        valid(&s);
    }

    #[test]
    fn weigher_reclaims_expired_entries_before_evicting() {
        let (s, clock) = weighed(10);
        put(&s, "old", "xxxxx");
        put_opts(&s, "tmp", "xxxxx", ttl(1));
        clock.advance(secs(1));
        put(&s, "new", "xxx");
        assert_eq!(sorted_keys(&s), ["new", "old"]);
        assert_eq!(s.metrics(), m(0, 0, 1, 0, 2));
        valid(&s);
    }

    #[test]
    fn weigher_an_entry_heavier_than_the_capacity_is_not_stored_and_counts_one_eviction() {
        let (s, _) = weighed(4);
        let log: Log = Arc::default();
        let into = Arc::clone(&log);
        let listened: S = Store::builder()
            .capacity(4)
            .weigher(|_, v: &String| v.len() as u64)
            .removal_listener(move |k, v, cause| into.lock().unwrap().push((k, v, cause)))
            .build();
        for s in [&s, &listened] {
            put(s, "k", "abc");
            put(s, "other", "d");
            assert_eq!(
                put(s, "k", "too heavy").as_deref(),
                Some("abc"),
                "the put replaced the entry all the same"
            );
            assert_eq!(s.get("k"), None);
            assert_eq!(sorted_keys(s), ["other"], "nothing else was evicted for it");
            assert_eq!(s.metrics(), m(0, 1, 0, 1, 1));
            assert_eq!(s.weight(), 1);
            valid(s);
        }
        assert_eq!(
            taken(&log),
            [
                ("k".into(), "abc".into(), RemovalCause::Replaced),
                ("k".into(), "too heavy".into(), RemovalCause::Evicted)
            ]
        );
    }

    #[test]
    fn weigher_under_concurrency_the_weight_bound_holds_once_no_put_is_in_flight() {
        let (s, _) = weighed(100);
        (0..6)
            .map(|t| {
                let s = s.clone();
                thread::spawn(move || {
                    for i in 0..3_000 {
                        let v = "x".repeat(1 + (i * 7 + t) % 30);
                        s.put(format!("{}", i % 50), v);
                        s.get(&format!("{}", (i + t) % 50));
                    }
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .for_each(|h| h.join().unwrap());
        // Weighed here, not by the store's own books, which `valid` checks separately.
        let weight: usize = s.iter().map(|(_, v)| v.len()).sum();
        assert!(weight <= 100, "weight {weight} over the capacity");
        assert_eq!(s.weight(), weight as u64);
        valid(&s);
    }
}
