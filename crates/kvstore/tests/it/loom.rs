//! Loom models of the store's concurrency kernels: `reliability.md` items 1–5, and the races only
//! a moving clock, racing sliding reads, racing counters or racing stamps expose. Small on purpose
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

fn ttl(secs: u64) -> PutOptions {
    PutOptions::new().with_ttl(Duration::from_secs(secs))
}

/// A put reads the clock before it waits for the shard's lock. Here the clock passes the old
/// entry's deadline while the put waits, and `keys()` sees the key absent: the put took effect
/// after that, over an expired entry, so it displaced nothing live and counted the Expiration.
#[test]
fn loom_put_that_waits_while_the_clock_passes_the_old_deadline_counts_the_expiration() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 0);
        put(&s, "k", "old", ttl(1));
        let writer = {
            let s = s.clone();
            thread::spawn(move || s.put("k".to_string(), "new".to_string()))
        };
        clock.advance(Duration::from_secs(1));
        let listed = s.keys();
        let displaced = writer.join().unwrap();
        let expirations = s.metrics().expirations;
        if listed.is_empty() {
            assert_eq!(displaced, None, "the put came after the old entry expired");
            assert_eq!(expirations, 1);
        }
        assert_eq!(
            expirations + u64::from(displaced.is_some()),
            1,
            "the old entry ended once: displaced live or counted expired"
        );
        assert_eq!(s.get("k").as_deref(), Some("new"));
    });
}

/// Two sliding reads of one entry at different times: a read at 5 s slides the deadline to 15 s,
/// and a racing read that took its time at 0 s must not pull it back to 10 s. A sliding deadline
/// never moves earlier.
#[test]
fn loom_racing_sliding_reads_never_move_the_deadline_earlier() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 0);
        put(&s, "k", "v", ttl(10).with_sliding_ttl());
        let reader = {
            let s = s.clone();
            thread::spawn(move || s.get("k").is_some())
        };
        clock.advance(Duration::from_secs(5));
        assert!(s.get("k").is_some(), "live at 5 s, deadline at least 10 s");
        assert!(reader.join().unwrap(), "live at 0 s or 5 s");
        clock.advance(Duration::from_secs(9));
        assert!(
            s.has("k"),
            "the read at 5 s slid the deadline to 15 s; it is 14 s"
        );
        assert_eq!(s.metrics().expirations, 0);
    });
}

/// Two hits of one key race on the same shard's hit counter (both on the shared-lock path): the
/// counter is exact, so it says 2.
#[test]
fn loom_two_hits_racing_on_one_counter_both_count() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 0);
        put(&s, "k", "v", PutOptions::new());
        let other = {
            let s = s.clone();
            thread::spawn(move || s.get("k").is_some())
        };
        let mine = s.get("k").is_some();
        assert!(mine && other.join().unwrap());
        assert_eq!(s.metrics().hits, 2);
    });
}

/// The last read of a budget races a put of the same key: the read removes the entry it read
/// (under the same lock), never the value the put wrote, which has no budget and survives.
#[test]
fn loom_last_read_of_a_budget_racing_a_put_never_removes_the_new_value() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 0);
        put(&s, "tok", "old", PutOptions::new().with_max_reads(1));
        let writer = {
            let s = s.clone();
            thread::spawn(move || s.put("tok".to_string(), "new".to_string()))
        };
        let got = s.get("tok");
        let displaced = writer.join().unwrap();
        match (got.as_deref(), displaced.as_deref()) {
            (Some("old"), None) => {}        // the read spent the budget, then the put
            (Some("new"), Some("old")) => {} // the put, then a read of its value
            other => panic!("(read, displaced) = {other:?}"),
        }
        assert_eq!(s.get("tok").as_deref(), Some("new"));
        let m = s.metrics();
        assert_eq!((m.hits, m.misses, m.current_size), (2, 0, 1));
    });
}

/// `has` sees the key expired because the clock just moved, and a put writes a fresh value before
/// `has` takes the exclusive lock: `has` checks again there and leaves the fresh value alone.
#[test]
fn loom_has_racing_a_put_while_the_clock_moves_never_removes_the_fresh_value() {
    loom::model(|| {
        let clock = ManualClock::new();
        let s = store(&clock, 0);
        put(&s, "k", "old", ttl(1));
        let writer = {
            let s = s.clone();
            thread::spawn(move || {
                let opts = ttl(3_600);
                s.put_with("k".to_string(), "new".to_string(), &opts)
            })
        };
        clock.advance(Duration::from_secs(1));
        s.has("k");
        let displaced = writer.join().unwrap();
        assert_eq!(s.get("k").as_deref(), Some("new"));
        // Before the advance the put replaced a live entry; after it, an expired one.
        let expirations = s.metrics().expirations;
        assert_eq!(expirations, u64::from(displaced.is_none()));
    });
}

/// Two deletes race, each delivering its removal notification after releasing its locks: one
/// delivers while the other finds it delivering and leaves its notification to it. Whatever the
/// interleaving, when both calls have returned both notifications were delivered (none stranded
/// by a deliverer that stopped just before the other's push), once each.
#[test]
fn loom_racing_removals_deliver_every_notification_once() {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    loom::model(|| {
        let delivered = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&delivered);
        let s: S = Store::builder()
            .shards(2)
            .removal_listener(move |_, _, _| {
                count.fetch_add(1, Ordering::Relaxed);
            })
            .build();
        put(&s, "a", "1", PutOptions::new());
        put(&s, "b", "2", PutOptions::new());
        let other = {
            let s = s.clone();
            thread::spawn(move || s.del("a"))
        };
        assert!(s.del("b"));
        assert!(other.join().unwrap());
        assert_eq!(delivered.load(Ordering::Relaxed), 2);
    });
}
