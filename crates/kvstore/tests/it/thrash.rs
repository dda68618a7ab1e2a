//! Reliability items 13–15: many threads hammering a few hundred keys, unread entries that must
//! not pile up, and drop accounting: every value the store takes is dropped exactly once.
//!
//! Everything that joins threads runs under [`watchdog`], so a deadlock fails the test instead of
//! hanging CI. `KV_SOAK_SCALE` multiplies the thrash's operation count.
//! Std threads and std atomics count what the store did (test code: `main.rs` allows them).

use std::panic;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use kvstore::{EventKind, ManualClock, PutOptions, Store, Subscribe, Sweep};

use crate::model::soak_scale;

/// Runs `f` on its own thread; fails the test if it has not finished within `limit`. The limit
/// is far above any normal run: it only turns a hang into a failure.
pub fn watchdog<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = f();
        let _ = done.send(());
        out
    });
    match finished.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(out) => out,
            Err(panicked) => panic::resume_unwind(panicked),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {limit:?}; a deadlock is likely")
        }
    }
}

pub const WATCHDOG: Duration = Duration::from_secs(300);

/// Counts the values alive: created (new or cloned) minus dropped, per id and in total.
struct Ledger {
    created: AtomicU64,
    dropped: AtomicU64,
    alive: [AtomicI64; 64],
}

/// A value that reports its clones and drops to a [`Ledger`].
struct Tracked {
    id: usize,
    ledger: Arc<Ledger>,
}

impl Tracked {
    fn new(id: usize, ledger: &Arc<Ledger>) -> Self {
        ledger.created.fetch_add(1, Ordering::Relaxed);
        ledger.alive[id % 64].fetch_add(1, Ordering::Relaxed);
        Self {
            id,
            ledger: Arc::clone(ledger),
        }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Self::new(self.id, &self.ledger)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.dropped.fetch_add(1, Ordering::Relaxed);
        self.ledger.alive[self.id % 64].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            created: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            alive: std::array::from_fn(|_| AtomicI64::new(0)),
        }
    }
}

impl Ledger {
    fn alive(&self, id: usize) -> i64 {
        self.alive[id % 64].load(Ordering::Relaxed)
    }

    fn all_dropped(&self) -> bool {
        self.created.load(Ordering::Relaxed) == self.dropped.load(Ordering::Relaxed)
    }
}

/// What the callers of one thrash saw.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    new_entries: u64,
    hits: u64,
    consumed: u64,
    misses: u64,
    deleted: u64,
}

/// Keys below this are ordinary entries; from it on, one-shot tokens (`max_reads(1)`), so every
/// hit on a token is the read that consumed it.
const TOKENS_FROM: u64 = 200;
const KEYS: u64 = 300;

fn thrash(capacity: usize, toggle_capacity: bool, sweeper: bool) {
    let threads = 8; // more than the machine's cores
    let ops = 20_000 * soak_scale() as usize;
    let ledger = Arc::new(Ledger::default());
    let store: Store<u64, Tracked> = Store::builder().capacity(capacity).build();
    // A background sweeper reclaims concurrently with everything else when asked for.
    let sweeping = sweeper.then(|| store.start_sweeper(Duration::from_micros(200)));
    let barrier = Arc::new(Barrier::new(threads));
    let (s, l) = (store.clone(), ledger.clone());
    let tallies = watchdog("thrash", WATCHDOG, move || {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (store, ledger, barrier) = (s.clone(), l.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut rng = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(t as u64 + 1);
                    let mut tally = Tally::default();
                    barrier.wait();
                    for i in 0..ops {
                        let r = xorshift(&mut rng);
                        let key = r % KEYS;
                        match (r >> 32) % 16 {
                            0..=5 => {
                                let opts = if key >= TOKENS_FROM {
                                    PutOptions::new().with_max_reads(1)
                                } else if r & (1 << 20) != 0 {
                                    let ttl = PutOptions::new().with_ttl(Duration::from_millis(1));
                                    if r & (1 << 21) != 0 {
                                        ttl.with_sliding_ttl()
                                    } else {
                                        ttl
                                    }
                                } else {
                                    PutOptions::new()
                                };
                                let value = Tracked::new(i, &ledger);
                                if store.put_with(key, value, &opts).is_none() {
                                    tally.new_entries += 1;
                                }
                            }
                            6..=12 => match store.get(&key) {
                                Some(_) if key >= TOKENS_FROM => tally.consumed += 1,
                                Some(_) => tally.hits += 1,
                                None => tally.misses += 1,
                            },
                            13 => {
                                store.has(&key);
                            }
                            14 => {
                                if store.del(&key) {
                                    tally.deleted += 1;
                                }
                            }
                            _ if toggle_capacity && t == 0 => {
                                store.set_capacity([0, 16, 64, 128][(r >> 40) as usize % 4]);
                            }
                            _ if r & 0xff == 0 => {
                                store.purge_expired();
                            }
                            _ => {
                                store.keys();
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a thrash worker panicked"))
            .collect::<Vec<_>>()
    });
    let total = tallies.iter().fold(Tally::default(), |a, b| Tally {
        new_entries: a.new_entries + b.new_entries,
        hits: a.hits + b.hits,
        consumed: a.consumed + b.consumed,
        misses: a.misses + b.misses,
        deleted: a.deleted + b.deleted,
    });

    drop(sweeping); // stops and joins the sweeper thread

    // Quiet now: the bookkeeping must add up exactly.
    store.validate().unwrap();
    let m = store.metrics();
    assert_eq!(m.current_size, store.len() as u64);
    assert_eq!(m.hits, total.hits + total.consumed, "{total:?} {m}");
    assert_eq!(m.misses, total.misses, "{total:?} {m}");
    assert_eq!(
        total.new_entries,
        m.current_size + m.evictions + m.expirations + total.deleted + total.consumed,
        "every entry put is still held or left exactly one way: {total:?} {m}"
    );
    let capacity = store.capacity();
    if capacity != 0 {
        assert!(
            store.len() <= capacity,
            "{} entries, capacity {capacity}",
            store.len()
        );
    }
    // Nothing lives past the store, and nothing was dropped twice.
    drop(store);
    assert!(ledger.all_dropped(), "values leaked by the store");
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The long-run stress of `cargo xtask soak` (at `KV_SOAK_SCALE` times the rounds): 16 threads
/// (eight times the cores) on a store of capacity 8–32 over 64 keys, with TTLs of 1–3 ticks of a
/// manual clock that two of the threads move, one-shot tokens, and `set_capacity` changes. After
/// every round, once the threads have joined, the books must add up exactly: hits + misses =
/// gets, the size (after a purge) = the live entries, new entries = still held + evicted +
/// expired + deleted + consumed, the capacity bound, and `validate()`.
#[test]
fn thrash_sixteen_threads_on_a_small_store_keep_the_books_round_after_round() {
    const THREADS: usize = 16;
    const OPS: usize = 2_000;
    const KEYS: u64 = 64;
    const TOKENS_FROM: u64 = 48;
    let rounds = 3 * soak_scale() as usize;
    let clock = ManualClock::new();
    let store: Store<u64, u64> = Store::builder().capacity(16).clock(clock.clone()).build();
    let mut books = Tally::default();
    let mut gets = 0;
    for round in 0..rounds {
        let barrier = Arc::new(Barrier::new(THREADS));
        let (s, c) = (store.clone(), clock.clone());
        let tallies = watchdog("stress round", WATCHDOG, move || {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (store, clock, barrier) = (s.clone(), c.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let seed = (round * THREADS + t + 1) as u64;
                        let mut rng = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(seed);
                        let mut tally = Tally::default();
                        barrier.wait();
                        for i in 0..OPS {
                            let r = xorshift(&mut rng);
                            let key = r % KEYS;
                            match (r >> 32) % 32 {
                                0..=11 => {
                                    let opts = if key >= TOKENS_FROM {
                                        PutOptions::new().with_max_reads(1)
                                    } else {
                                        let ttl = Duration::from_secs((r >> 40) % 4);
                                        let opts = PutOptions::new().with_ttl(ttl);
                                        if r & (1 << 20) != 0 {
                                            opts.with_sliding_ttl()
                                        } else {
                                            opts
                                        }
                                    };
                                    if store.put_with(key, i as u64, &opts).is_none() {
                                        tally.new_entries += 1;
                                    }
                                }
                                12..=24 => match store.get(&key) {
                                    Some(_) if key >= TOKENS_FROM => tally.consumed += 1,
                                    Some(_) => tally.hits += 1,
                                    None => tally.misses += 1,
                                },
                                25 | 26 => {
                                    store.has(&key);
                                }
                                27 | 28 => {
                                    if store.del(&key) {
                                        tally.deleted += 1;
                                    }
                                }
                                29 if t < 2 => clock.advance(Duration::from_secs(1)),
                                30 if t == 2 => {
                                    store.set_capacity([8, 16, 32][(r >> 40) as usize % 3]);
                                }
                                30 if t == 3 => {
                                    store.purge_expired();
                                }
                                _ => {
                                    store.keys();
                                }
                            }
                        }
                        tally
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a stress worker panicked"))
                .collect::<Vec<_>>()
        });
        for t in tallies {
            books.new_entries += t.new_entries;
            books.hits += t.hits;
            books.consumed += t.consumed;
            books.misses += t.misses;
            books.deleted += t.deleted;
            gets += t.hits + t.consumed + t.misses;
        }
        // Quiet now: the books must add up exactly.
        let capacity = store.capacity();
        assert!(
            store.len() <= capacity,
            "round {round}: {} entries, capacity {capacity}",
            store.len()
        );
        let m = store.metrics();
        assert_eq!(m.hits + m.misses, gets, "round {round}: {m}");
        assert_eq!(m.hits, books.hits + books.consumed, "round {round}: {m}");
        store.purge_expired();
        let m = store.metrics();
        assert_eq!(
            m.current_size,
            store.keys().len() as u64,
            "round {round}: after a purge every entry held is live"
        );
        assert_eq!(
            books.new_entries,
            m.current_size + m.evictions + m.expirations + books.deleted + books.consumed,
            "round {round}: every entry put is still held or left exactly one way: {books:?} {m}"
        );
        store.validate().unwrap();
    }
}

#[test]
fn thrash_unbounded_store_keeps_exact_books() {
    thrash(0, false, false);
}

#[test]
fn thrash_bounded_store_keeps_exact_books_and_its_capacity() {
    thrash(64, false, false);
}

#[test]
fn thrash_with_capacity_switched_on_and_off_keeps_exact_books() {
    thrash(0, true, false);
}

#[test]
fn thrash_with_a_sweeper_running_keeps_exact_books() {
    thrash(32, false, true);
}

// Item 14: entries nobody reads do not pile up.

fn unread_entries(ledger: &Arc<Ledger>, clock: &ManualClock) -> Store<String, Tracked> {
    let store = Store::builder().clock(clock.clone()).build();
    let ttl = PutOptions::new().with_ttl(Duration::from_millis(10));
    for i in 0..100_000 {
        store.put_with(format!("key-{i}"), Tracked::new(i, ledger), &ttl);
    }
    assert_eq!(store.len(), 100_000);
    clock.advance(Duration::from_millis(10));
    store
}

#[test]
fn expired_unread_entries_are_all_reclaimed_by_a_purge() {
    let (ledger, clock) = (Arc::new(Ledger::default()), ManualClock::new());
    let store = unread_entries(&ledger, &clock);
    assert_eq!(store.purge_expired(), 100_000);
    assert_eq!(store.len(), 0);
    assert_eq!(store.metrics().expirations, 100_000);
    assert!(ledger.all_dropped(), "the store still holds values");
    store.validate().unwrap();
}

#[test]
fn expired_unread_entries_are_all_reclaimed_by_the_sweeper() {
    let (ledger, clock) = (Arc::new(Ledger::default()), ManualClock::new());
    let store = unread_entries(&ledger, &clock);
    let s = store.clone();
    watchdog("sweeper", WATCHDOG, move || {
        let _sweeper = s.start_sweeper(Duration::from_millis(1));
        while !s.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    assert_eq!(store.metrics().expirations, 100_000);
    assert!(ledger.all_dropped(), "the store still holds values");
}

// Item 15: every value the store takes is dropped exactly once, whatever removes it.

fn tracked_store(capacity: usize) -> (Store<String, Tracked>, Arc<Ledger>, ManualClock) {
    let clock = ManualClock::new();
    let store = Store::builder()
        .clock(clock.clone())
        .capacity(capacity)
        .build();
    (store, Arc::new(Ledger::default()), clock)
}

fn short_ttl() -> PutOptions {
    PutOptions::new().with_ttl(Duration::from_secs(1))
}

#[test]
fn value_is_dropped_once_on_eviction() {
    let (store, ledger, _) = tracked_store(1);
    store.put("a".into(), Tracked::new(1, &ledger));
    store.put("b".into(), Tracked::new(2, &ledger));
    assert_eq!((ledger.alive(1), ledger.alive(2)), (0, 1));
    store.set_capacity(0);
    store.put("c".into(), Tracked::new(3, &ledger));
    store.set_capacity(1); // shrinking evicts at once
    assert_eq!((ledger.alive(2), ledger.alive(3)), (0, 1));
}

#[test]
fn value_is_dropped_once_on_expiry_whatever_notices_it() {
    let (store, ledger, clock) = tracked_store(1);
    for (id, key) in [(1, "get"), (2, "has"), (3, "del"), (4, "put"), (5, "purge")] {
        store.set_capacity(0);
        store.put_with(key.into(), Tracked::new(id, &ledger), &short_ttl());
    }
    clock.advance(Duration::from_secs(1));
    assert!(store.get("get").is_none());
    assert!(!store.has("has"));
    assert!(!store.del("del"));
    assert!(store.put("put".into(), Tracked::new(6, &ledger)).is_none());
    assert_eq!(
        (ledger.alive(1), ledger.alive(2), ledger.alive(3)),
        (0, 0, 0)
    );
    assert_eq!(ledger.alive(4), 0);
    store.purge_expired();
    assert_eq!(ledger.alive(5), 0);
    // An insert that needs room reclaims an expired entry.
    store.put_with("room".into(), Tracked::new(7, &ledger), &short_ttl());
    clock.advance(Duration::from_secs(1));
    store.set_capacity(2);
    store.put("next".into(), Tracked::new(8, &ledger));
    store.put("after".into(), Tracked::new(9, &ledger));
    assert_eq!(ledger.alive(7), 0);
    assert_eq!(store.metrics().evictions, 1); // "put" (6) made room for "after"
    assert_eq!(ledger.alive(6), 0);
}

#[test]
fn value_is_dropped_once_on_delete_overwrite_and_last_read() {
    let (store, ledger, _) = tracked_store(0);
    store.put("del".into(), Tracked::new(1, &ledger));
    assert!(store.del("del"));
    assert_eq!(ledger.alive(1), 0);
    store.put("over".into(), Tracked::new(2, &ledger));
    let displaced = store.put("over".into(), Tracked::new(3, &ledger));
    assert_eq!(ledger.alive(2), 1, "handed back to the caller");
    drop(displaced);
    assert_eq!(ledger.alive(2), 0);
    store.put_with(
        "once".into(),
        Tracked::new(4, &ledger),
        &PutOptions::new().with_max_reads(1),
    );
    let last = store.get("once");
    assert_eq!(ledger.alive(4), 1, "the last read hands the value out");
    drop(last);
    assert_eq!(ledger.alive(4), 0);
    assert_eq!(ledger.alive(3), 1);
}

#[test]
fn value_is_dropped_once_on_clear_and_on_drop_of_the_store() {
    let (store, ledger, _) = tracked_store(0);
    store.put("a".into(), Tracked::new(1, &ledger));
    store.clear();
    assert_eq!(ledger.alive(1), 0);
    store.put("b".into(), Tracked::new(2, &ledger));
    store.put_with("c".into(), Tracked::new(3, &ledger), &short_ttl());
    let clone = store.clone();
    drop(store);
    assert_eq!(ledger.alive(2), 1, "a clone still holds the store");
    drop(clone);
    assert_eq!((ledger.alive(2), ledger.alive(3)), (0, 0));
    assert!(ledger.all_dropped());
}

/// A put that waited for its lock must judge the entry it replaces at the time it gets the lock,
/// not at the time it started: an entry with a 1 ns TTL written by another thread meanwhile is
/// expired by then, so it is no "displaced live value". (Found in review: a stale reading made
/// `put` return expired values.) On an exact clock: on the default coarse one the put judges
/// like a read, by the recent time, and such an entry may count as live up to a tick longer
/// (semantics.md, Time).
#[test]
fn a_put_never_returns_a_value_that_expired_while_it_waited() {
    watchdog(
        "put over a 1 ns entry",
        Duration::from_secs(300),
        put_never_returns_expired,
    );
}

fn put_never_returns_expired() {
    let store = Store::<u32, u32>::builder()
        .clock_tick(Duration::ZERO)
        .build();
    let one_ns = PutOptions::new().with_ttl(Duration::from_nanos(1));
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..100_000 {
                store.put_with(1, 7, &one_ns);
            }
        })
    };
    let stale = (0..100_000).filter(|_| store.put(1, 8) == Some(7)).count();
    writer.join().unwrap();
    assert_eq!(stale, 0, "put returned an expired value as displaced-live");
}

/// An evictor that waited for its locks must reclaim a victim that expired meanwhile as an
/// Expiration, never count it as an Eviction (semantics.md: a live entry is never evicted while
/// an expired one holds a slot; expired entries are reclaimed first). On an exact clock, as
/// above: on the coarse one the evictor judges by the recent time.
#[test]
fn an_entry_that_expired_while_the_evictor_waited_counts_as_an_expiration() {
    watchdog(
        "evictor racing a 1 ns entry",
        Duration::from_secs(300),
        expired_victim_is_expiration,
    );
}

fn expired_victim_is_expiration() {
    let store = Store::<u32, u32>::builder()
        .capacity(1)
        .clock_tick(Duration::ZERO)
        .build();
    let events = store.subscribe_with_buffer(1 << 20);
    let one_ns = PutOptions::new().with_ttl(Duration::from_nanos(1));
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..50_000 {
                store.put_with(1, 7, &one_ns);
            }
        })
    };
    for i in 0..50_000_u32 {
        store.put(2 + (i & 1), 8);
    }
    writer.join().unwrap();
    let evicted_expired_key = events
        .try_iter()
        .filter(|e| e.kind == EventKind::Evicted && e.key == 1)
        .count();
    assert_eq!(events.missed(), 0, "the subscription kept every event");
    assert_eq!(
        evicted_expired_key, 0,
        "an expired entry was counted as an Eviction"
    );
}
