//! Loom models of the store's concurrency kernels: `reliability.md` items 1–5. Small on purpose
//! (2–3 threads, a few operations, capacity 1–2); run by `cargo xtask loom` in release with
//! `LOOM_MAX_PREEMPTIONS=2` and `--cfg kv_loom`, which turns every lock and atomic of the store
//! into loom's.

use std::time::Duration;

use kvstore::{ManualClock, PutOptions, Store};
use loom::thread;

type S = Store<String, String>;

fn store(clock: &ManualClock, capacity: usize) -> S {
    Store::builder()
        .clock(clock.clone())
        .capacity(capacity)
        .shards(2)
        .build()
}

/// A store (capacity `capacity`) whose only entry, `key`, expired a moment ago and is not
/// reclaimed yet.
fn store_holding_an_expired_entry(capacity: usize, key: &str, value: &str) -> S {
    let clock = ManualClock::new();
    let s = store(&clock, capacity);
    put(
        &s,
        key,
        value,
        PutOptions::new().with_ttl(Duration::from_secs(1)),
    );
    clock.advance(Duration::from_secs(1));
    s
}

fn put(s: &S, k: &str, v: &str, o: PutOptions) {
    s.put_with(k.to_string(), v.to_string(), &o);
}

/// `readers` threads each get a `max_reads(budget)` entry once; returns how many got the value,
/// after checking the books: a hit per winner, a miss per loser, the entry gone.
fn race_readers_of_a_budget(budget: usize, readers: usize) -> usize {
    let clock = ManualClock::new();
    let s = store(&clock, 0);
    put(&s, "tok", "v", PutOptions::new().with_max_reads(budget));
    let threads: Vec<_> = (0..readers)
        .map(|_| {
            let s = s.clone();
            thread::spawn(move || s.get("tok").is_some())
        })
        .collect();
    let winners = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&w| w)
        .count();
    let m = s.metrics();
    assert_eq!(
        (m.hits, m.misses),
        (winners as u64, (readers - winners) as u64)
    );
    assert_eq!(m.current_size, 0, "the last read removed the entry, once");
    assert!(!s.has("tok"));
    winners
}

/// Item 1: two concurrent gets of a `max_reads(1)` entry: exactly one wins.
#[test]
fn loom_one_shot_token_read_by_two_threads_has_exactly_one_winner() {
    loom::model(|| assert_eq!(race_readers_of_a_budget(1, 2), 1));
}

/// Item 1, second part: three readers of a `max_reads(2)` entry: exactly two win.
#[test]
fn loom_read_budget_of_two_read_by_three_threads_has_exactly_two_winners() {
    loom::model(|| assert_eq!(race_readers_of_a_budget(2, 3), 2));
}

/// Item 2: capacity 1, two concurrent inserts: the bound holds and the counts add up.
#[test]
fn loom_two_inserts_into_capacity_one_keep_the_bound_and_exact_counts() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 1);
        let writers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|k| {
                let s = s.clone();
                thread::spawn(move || put(&s, k, "v", PutOptions::new()))
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let stored = s.keys().len();
        let m = s.metrics();
        assert!(stored <= 1, "stored {stored} > capacity 1");
        assert_eq!(m.current_size as usize, stored);
        assert_eq!(m.evictions as usize, 2 - stored);
        s.validate().unwrap();
    });
}

/// Item 3: a get racing a purge of an expired entry: one Expiration, and the get misses.
#[test]
fn loom_get_racing_purge_of_an_expired_entry_counts_one_expiration() {
    loom::model(|| {
        let s = store_holding_an_expired_entry(0, "k", "v");
        let purger = {
            let s = s.clone();
            thread::spawn(move || s.purge_expired())
        };
        let got = s.get("k");
        purger.join().unwrap();
        assert_eq!(got, None);
        let m = s.metrics();
        assert_eq!((m.expirations, m.misses, m.current_size), (1, 1, 0));
    });
}

/// Item 3, insert-triggered: a get racing an insert that reclaims the expired entry for room.
#[test]
fn loom_get_racing_an_insert_that_reclaims_for_room_counts_one_expiration() {
    loom::model(|| {
        let s = store_holding_an_expired_entry(1, "old", "v");
        let writer = {
            let s = s.clone();
            thread::spawn(move || put(&s, "new", "v", PutOptions::new()))
        };
        let got = s.get("old");
        writer.join().unwrap();
        assert_eq!(got, None);
        let m = s.metrics();
        assert_eq!((m.expirations, m.evictions, m.current_size), (1, 0, 1));
    });
}

/// Item 4: a sliding-TTL get racing the clock's move past the deadline and a purge: either the
/// read came first and refreshed the entry (which then survives), or the entry was reclaimed and
/// the read missed. Never both: a reclaimed entry is not revived.
#[test]
fn loom_sliding_get_racing_reclaim_never_revives_the_entry() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 0);
        let sliding = PutOptions::new()
            .with_ttl(Duration::from_secs(5))
            .with_sliding_ttl();
        put(&s, "k", "v", sliding);
        clock.advance(Duration::from_secs(4));
        let reclaimer = {
            let s = s.clone();
            let clock = clock.clone();
            thread::spawn(move || {
                clock.advance(Duration::from_secs(1));
                s.purge_expired()
            })
        };
        let hit = s.get("k").is_some();
        let purged = reclaimer.join().unwrap();
        let m = s.metrics();
        if hit && purged == 0 {
            // read before the deadline, refreshed to 4 + 5 = 9: still live at 5
            assert!(s.has("k"));
            assert_eq!(m.expirations, 0);
        } else {
            assert!(!hit, "a reclaimed entry was read");
            assert!(!s.has("k"), "a reclaimed entry came back");
            assert_eq!(m.expirations, 1);
        }
    });
}

/// Item 5: `put` racing `has` on an expired key: has never removes the fresh value.
#[test]
fn loom_put_racing_has_on_an_expired_key_loses_no_write() {
    loom::model(|| {
        let s = store_holding_an_expired_entry(0, "k", "old");
        let writer = {
            let s = s.clone();
            thread::spawn(move || put(&s, "k", "new", PutOptions::new()))
        };
        s.has("k");
        writer.join().unwrap();
        assert_eq!(s.get("k").as_deref(), Some("new"));
        assert_eq!(s.metrics().expirations, 1);
    });
}

/// Item 5: `put` racing `del`: the result is one of the two orders, never a half.
#[test]
fn loom_put_racing_del_is_one_order_or_the_other() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 0);
        put(&s, "k", "old", PutOptions::new());
        let writer = {
            let s = s.clone();
            thread::spawn(move || put(&s, "k", "new", PutOptions::new()))
        };
        let deleted = s.del("k");
        writer.join().unwrap();
        assert!(deleted, "some live value was there to delete either way");
        let now = s.get("k");
        // del first: the put's value stays; put first: del removed "new".
        assert!(now.is_none() || now.as_deref() == Some("new"));
        assert_eq!(s.len(), usize::from(now.is_some()));
        s.validate().unwrap();
    });
}
