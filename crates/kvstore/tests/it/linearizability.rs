//! Reliability item 7: concurrent histories are linearizable.
//!
//! More threads than cores run random operations on a few keys of a small-capacity store whose
//! manual clock they move themselves: puts with TTLs (some sliding) and read budgets, gets, has,
//! del, `keys`, clock advances, purges and `set_capacity`. Each thread records when each
//! operation was invoked and returned (ticks of one shared counter) and the clock just before it.
//!
//! What is checked how (`docs/reliability.md` item 7 says why it is sound):
//!
//! - **Per key**, against a one-key sequential spec with a clock, by the Wing & Gong search with
//!   memoised states (Lowe's improvement): the key's own operations, the key's part of every
//!   `keys()` (listed or not: `keys` visits shard by shard, so only its per-key parts are
//!   atomic), every clock advance (it touches every key), and a final `has` once all threads
//!   have joined. Evictions are not operations anyone calls: the key's spec may lose its live
//!   entry at any point, exactly as many times as the store's events say that key was evicted.
//!   An operation reads the clock before it takes its lock, so it may judge expiry at any time
//!   between the clock it was invoked at and the clock where it takes effect; a put judges the
//!   entry it replaces at the latter (it checks the clock again under the lock).
//! - **As a whole**, at the end of each history: hits and misses equal what callers saw; the
//!   expirations and evictions counted equal the events; the store holds at most its capacity;
//!   every entry ever stored is accounted for exactly once (displaced, consumed, deleted,
//!   evicted, expired or still there after a purge); `validate()`.
//!
//! Std threads and a std counter for the history's ticks (test code: `main.rs` allows them).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use kvstore::{EventKind, ManualClock, PutOptions, Store, Subscribe};

use crate::model::soak_scale;

/// The clock's unit in these histories: every TTL and advance is a whole number of them.
const UNIT: Duration = Duration::from_secs(1);

/// No deadline.
const NEVER: u64 = u64::MAX;

/// An operation on one key (or the key's part of a whole-store one), with what it returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `put_with(value, ttl units (0: none), sliding, max_reads)` returned the displaced live value.
    Put {
        value: u32,
        ttl: u64,
        sliding: bool,
        max_reads: usize,
        displaced: Option<u32>,
    },
    /// `get` returned this.
    Get(Option<u32>),
    /// `has` returned this.
    Has(bool),
    /// `del` returned this.
    Del(bool),
    /// `keys()` listed the key, or not.
    Listed(bool),
    /// The clock moved this many units.
    Advance(u64),
}

/// One completed operation: invoked at tick `start` with the clock at `clock` units, returned
/// at tick `end`.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    start: u64,
    end: u64,
    clock: u64,
    call: Call,
}

/// The key's entry in the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Entry {
    value: u32,
    /// In units; [`NEVER`] for none.
    deadline: u64,
    /// The sliding TTL in units (0: not sliding).
    sliding: u64,
    /// 0: no budget.
    reads_left: usize,
}

impl Entry {
    fn live_at(&self, t: u64) -> bool {
        self.deadline > t
    }
}

/// The one-key spec: the clock, the entry (expired ones stay until something reclaims them) and
/// the evictions still to place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct State {
    now: u64,
    entry: Option<Entry>,
    evictions_left: u32,
}

/// Every state `event` can lead to from `state`, if its recorded result is what the spec
/// returns there; the choices are the time the operation judged expiry at.
fn apply(state: State, event: &Event) -> Vec<State> {
    if let Call::Advance(n) = event.call {
        return vec![State {
            now: state.now + n,
            ..state
        }];
    }
    let mut out = Vec::new();
    for t in event.clock..=state.now {
        let live = state.entry.filter(|e| e.live_at(t));
        let next = match event.call {
            Call::Put {
                value,
                ttl,
                sliding,
                max_reads,
                displaced,
            } => {
                let was = state
                    .entry
                    .filter(|e| e.live_at(state.now))
                    .map(|e| e.value);
                (displaced == was).then_some(Some(Entry {
                    value,
                    deadline: if ttl == 0 { NEVER } else { t + ttl },
                    sliding: if sliding { ttl } else { 0 },
                    reads_left: max_reads,
                }))
            }
            Call::Get(got) => (got == live.map(|e| e.value)).then(|| {
                live.and_then(|mut e| {
                    if e.sliding != 0 {
                        e.deadline = e.deadline.max(t + e.sliding);
                    }
                    match e.reads_left {
                        0 => Some(e),
                        1 => None,
                        n => Some(Entry {
                            reads_left: n - 1,
                            ..e
                        }),
                    }
                })
            }),
            // An expired entry met by has, get or del is reclaimed.
            Call::Has(got) => (got == live.is_some()).then_some(live),
            Call::Del(got) => (got == live.is_some()).then_some(None),
            Call::Listed(got) => (got == live.is_some()).then_some(state.entry),
            Call::Advance(_) => unreachable!("handled above"),
        };
        if let Some(entry) = next {
            let s = State { entry, ..state };
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Whether one key's history has a linearization from `start` that places exactly
/// `start.evictions_left` evictions. At most 128 events.
fn linearizable_from(history: &[Event], start: State) -> bool {
    assert!(
        history.len() <= 128,
        "the checker takes at most 128 events per key"
    );
    let all = if history.len() == 128 {
        u128::MAX
    } else {
        (1u128 << history.len()) - 1
    };
    let mut seen = HashSet::new();
    search(history, 0, all, start, &mut seen)
}

/// Whether one key's history (no evictions, clock at 0) has a linearization from the empty
/// state.
pub fn linearizable(history: &[Event]) -> bool {
    linearizable_from(
        history,
        State {
            now: 0,
            entry: None,
            evictions_left: 0,
        },
    )
}

fn search(
    history: &[Event],
    done: u128,
    all: u128,
    state: State,
    seen: &mut HashSet<(u128, State)>,
) -> bool {
    let evictable = state.evictions_left > 0 && state.entry.is_some_and(|e| e.live_at(state.now));
    if done == all {
        return state.evictions_left == 0 || (state.evictions_left == 1 && evictable);
    }
    if !seen.insert((done, state)) {
        return false;
    }
    if evictable {
        let evicted = State {
            entry: None,
            evictions_left: state.evictions_left - 1,
            ..state
        };
        if search(history, done, all, evicted, seen) {
            return true;
        }
    }
    // An operation can take effect next only if it was invoked before every pending one returned.
    let pending = || (0..history.len()).filter(move |i| done & (1 << i) == 0);
    let first_return = pending().map(|i| history[i].end).min().unwrap_or(u64::MAX);
    for i in pending() {
        if history[i].start > first_return {
            continue;
        }
        for next in apply(state, &history[i]) {
            if search(history, done | (1 << i), all, next, seen) {
                return true;
            }
        }
    }
    false
}

/// What one history did besides the per-key events: the figures the whole-store checks need.
#[derive(Default)]
struct Totals {
    puts: u64,
    displaced: u64,
    deleted: u64,
    hits: u64,
    misses: u64,
}

/// A recorded history: each key's events, the totals, the store, and its events (kind, key).
type Recorded = (
    Vec<Vec<Event>>,
    Totals,
    Store<u32, u32>,
    Vec<(EventKind, u32)>,
);

const KEYS: u32 = 3;
/// Below the number of keys, so inserts evict; `set_capacity` moves it between 0 (unbounded: the
/// next bounded capacity rebuilds the LRU order from the entries' stamps) and 3.
const CAPACITY: usize = 2;

/// Runs `threads` threads of `ops` random operations; returns each key's history (with its final
/// `has`), the totals, and the store with its event subscription drained into per-kind counts.
fn record(threads: usize, ops: usize, seed: u64) -> Recorded {
    // Every key starts with an entry that expired before the threads start: to the spec it is
    // absent, and whichever operation meets it first must count its Expiration, exactly once.
    let clock = ManualClock::new();
    let store: Store<u32, u32> = Store::builder().shards(2).clock(clock.clone()).build();
    let events = store.subscribe_with_buffer(1 << 16);
    for key in 0..KEYS {
        store.put_with(key, u32::MAX, &PutOptions::new().with_ttl(UNIT));
    }
    clock.advance(UNIT);
    store.set_capacity(CAPACITY); // reclaims one of the expired entries to make room
    let units = |clock: &ManualClock| clock.elapsed().as_secs();
    let ticks = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (store, clock, ticks, barrier) =
                (store.clone(), clock.clone(), ticks.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut rng = seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut events: Vec<(Option<u32>, Event)> = Vec::with_capacity(ops);
                let mut totals = Totals::default();
                barrier.wait();
                for i in 0..ops {
                    let r = next(&mut rng);
                    let key = (r % KEYS as u64) as u32;
                    let value = (t * ops + i) as u32; // unique, so a read names its write
                    let start = ticks.fetch_add(1, Ordering::SeqCst);
                    let now = units(&clock);
                    // (the key, or None for every key) and the call
                    let (on, call) = match (r >> 8) % 100 {
                        0..=29 => {
                            let ttl = [0, 1, 2, 3][(r >> 16) as usize % 4];
                            let sliding = (r >> 20) % 2 == 0;
                            let max_reads = [0, 0, 1, 2][(r >> 24) as usize % 4];
                            let mut opts = PutOptions::new().with_max_reads(max_reads);
                            if ttl != 0 {
                                opts = opts.with_ttl(UNIT * ttl as u32);
                                if sliding {
                                    opts = opts.with_sliding_ttl();
                                }
                            }
                            let displaced = store.put_with(key, value, &opts);
                            totals.puts += 1;
                            totals.displaced += u64::from(displaced.is_some());
                            let sliding = sliding && ttl != 0;
                            (
                                Some(key),
                                Some(Call::Put {
                                    value,
                                    ttl,
                                    sliding,
                                    max_reads,
                                    displaced,
                                }),
                            )
                        }
                        30..=54 => {
                            let got = store.get(&key);
                            totals.hits += u64::from(got.is_some());
                            totals.misses += u64::from(got.is_none());
                            (Some(key), Some(Call::Get(got)))
                        }
                        55..=62 => (Some(key), Some(Call::Has(store.has(&key)))),
                        63..=69 => {
                            let deleted = store.del(&key);
                            totals.deleted += u64::from(deleted);
                            (Some(key), Some(Call::Del(deleted)))
                        }
                        70..=79 => {
                            let listed = store.keys();
                            let end = ticks.fetch_add(1, Ordering::SeqCst);
                            for k in 0..KEYS {
                                let call = Call::Listed(listed.contains(&k));
                                events.push((
                                    Some(k),
                                    Event {
                                        start,
                                        end,
                                        clock: now,
                                        call,
                                    },
                                ));
                            }
                            continue;
                        }
                        80..=89 => {
                            clock.advance(UNIT);
                            (None, Some(Call::Advance(1)))
                        }
                        90..=94 => {
                            store.purge_expired();
                            (None, None)
                        }
                        _ => {
                            store.set_capacity((r >> 16) as usize % 4);
                            (None, None)
                        }
                    };
                    let end = ticks.fetch_add(1, Ordering::SeqCst);
                    if let Some(call) = call {
                        events.push((
                            on,
                            Event {
                                start,
                                end,
                                clock: now,
                                call,
                            },
                        ));
                    }
                }
                (events, totals)
            })
        })
        .collect();
    let mut per_key = vec![Vec::new(); KEYS as usize];
    let mut totals = Totals::default();
    for h in handles {
        let (events, t) = h.join().expect("a worker panicked");
        for (on, event) in events {
            match on {
                Some(k) => per_key[k as usize].push(event),
                None => per_key.iter_mut().for_each(|h| h.push(event)),
            }
        }
        totals.puts += t.puts;
        totals.displaced += t.displaced;
        totals.deleted += t.deleted;
        totals.hits += t.hits;
        totals.misses += t.misses;
    }
    // Once every thread has joined, each key's final state is pinned by a `has`.
    for (k, history) in per_key.iter_mut().enumerate() {
        let start = ticks.fetch_add(1, Ordering::SeqCst);
        let now = units(&clock);
        let call = Call::Has(store.has(&(k as u32)));
        let end = ticks.fetch_add(1, Ordering::SeqCst);
        history.push(Event {
            start,
            end,
            clock: now,
            call,
        });
    }
    assert_eq!(events.missed(), 0, "the event buffer is big enough");
    let seen = events.try_iter().map(|e| (e.kind, e.key)).collect();
    (per_key, totals, store, seen)
}

/// xorshift64*: reproducible per seed, no dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Threads per history: more than this machine's cores, so the scheduler preempts mid-operation.
const THREADS: usize = 4;
const OPS: usize = 40;

#[test]
fn concurrent_histories_with_capacity_pressure_and_a_moving_clock_are_linearizable() {
    let rounds = 200 * soak_scale() as u64;
    for seed in 1..=rounds {
        let (histories, totals, store, events) = record(THREADS, OPS, seed);
        let count = |kind: EventKind, key: Option<u32>| {
            events
                .iter()
                .filter(|(k, e)| *k == kind && key.is_none_or(|key| *e == key))
                .count() as u64
        };
        for (key, history) in histories.iter().enumerate() {
            let start = State {
                now: 1,
                entry: None,
                evictions_left: count(EventKind::Evicted, Some(key as u32)) as u32,
            };
            assert!(
                linearizable_from(history, start),
                "seed {seed}, key {key} ({} evictions): no linearization of {history:#?}",
                start.evictions_left
            );
        }
        // The whole store, now quiet.
        let m = store.metrics();
        assert_eq!(
            (m.hits, m.misses),
            (totals.hits, totals.misses),
            "seed {seed}"
        );
        assert_eq!(m.evictions, count(EventKind::Evicted, None), "seed {seed}");
        let capacity = store.capacity();
        assert!(
            capacity == 0 || store.len() <= capacity,
            "seed {seed}: {} entries over capacity {capacity}",
            store.len()
        );
        store.purge_expired();
        let m = store.metrics();
        assert_eq!(
            m.expirations,
            count(EventKind::Expired, None),
            "seed {seed}"
        );
        // Every entry stored (the seeded ones included) ended exactly once, or is still here.
        assert_eq!(
            totals.puts + u64::from(KEYS),
            totals.displaced
                + count(EventKind::Consumed, None)
                + totals.deleted
                + m.evictions
                + m.expirations
                + m.current_size,
            "seed {seed}: {m}"
        );
        assert_eq!(m.current_size as usize, store.keys().len(), "seed {seed}");
        store.validate().unwrap();
    }
}

// The checker's own tests: it must accept what is linearizable and reject what is not.

fn ev(start: u64, end: u64, call: Call) -> Event {
    Event {
        start,
        end,
        clock: 0,
        call,
    }
}

fn put(value: u32, displaced: Option<u32>) -> Call {
    Call::Put {
        value,
        ttl: 0,
        sliding: false,
        max_reads: 0,
        displaced,
    }
}

#[test]
fn checker_accepts_a_sequential_history() {
    let h = [
        ev(0, 1, put(1, None)),
        ev(2, 3, Call::Get(Some(1))),
        ev(4, 5, Call::Del(true)),
        ev(6, 7, Call::Has(false)),
    ];
    assert!(linearizable(&h));
}

#[test]
fn checker_rejects_a_read_of_a_value_never_written() {
    assert!(!linearizable(&[ev(0, 1, Call::Get(Some(9)))]));
}

#[test]
fn checker_rejects_a_lost_write() {
    // The put returned before the get started, yet the get missed.
    let h = [ev(0, 1, put(1, None)), ev(2, 3, Call::Get(None))];
    assert!(!linearizable(&h));
}

#[test]
fn checker_accepts_overlapping_calls_in_either_order() {
    // The get overlaps the put: it may see the value or not.
    for got in [None, Some(1)] {
        let h = [ev(0, 3, put(1, None)), ev(1, 2, Call::Get(got))];
        assert!(linearizable(&h), "{got:?}");
    }
}

#[test]
fn checker_rejects_two_winners_of_a_one_shot_read() {
    let h = [
        ev(
            0,
            1,
            Call::Put {
                value: 1,
                ttl: 0,
                sliding: false,
                max_reads: 1,
                displaced: None,
            },
        ),
        ev(2, 5, Call::Get(Some(1))),
        ev(3, 4, Call::Get(Some(1))),
    ];
    assert!(!linearizable(&h));
}

#[test]
fn checker_rejects_a_stale_read_after_an_overwrite() {
    let h = [
        ev(0, 1, put(1, None)),
        ev(2, 3, put(2, Some(1))),
        ev(4, 5, Call::Get(Some(1))),
    ];
    assert!(!linearizable(&h));
}

fn put_ttl(value: u32, ttl: u64, sliding: bool, displaced: Option<u32>) -> Call {
    Call::Put {
        value,
        ttl,
        sliding,
        max_reads: 0,
        displaced,
    }
}

#[test]
fn checker_rejects_a_hit_after_the_clock_passed_the_deadline() {
    let h = [
        ev(0, 1, put_ttl(1, 1, false, None)),
        ev(2, 3, Call::Advance(1)),
        Event {
            clock: 1,
            ..ev(4, 5, Call::Get(Some(1)))
        },
    ];
    assert!(!linearizable(&h));
}

#[test]
fn checker_accepts_a_hit_that_read_the_clock_before_a_concurrent_advance() {
    // The get was invoked at 0 and overlaps the advance: it may judge expiry at 0.
    let h = [
        ev(0, 1, put_ttl(1, 1, false, None)),
        ev(2, 5, Call::Get(Some(1))),
        ev(3, 4, Call::Advance(1)),
    ];
    assert!(linearizable(&h));
}

#[test]
fn checker_rejects_a_sliding_deadline_that_moved_earlier() {
    // Put at 0 with a sliding TTL of 2, read at 1 (deadline 3): still live at 2.
    let h = [
        ev(0, 1, put_ttl(1, 2, true, None)),
        ev(2, 3, Call::Advance(1)),
        Event {
            clock: 1,
            ..ev(4, 5, Call::Get(Some(1)))
        },
        ev(6, 7, Call::Advance(1)),
        Event {
            clock: 2,
            ..ev(8, 9, Call::Has(false))
        },
    ];
    assert!(!linearizable(&h));
}

#[test]
fn checker_rejects_a_put_that_displaced_an_entry_already_expired_where_it_took_effect() {
    // The listing after the advance saw the key absent, so the put came later: at 1, where the
    // old entry had expired.
    let h = [
        ev(0, 1, put_ttl(1, 1, false, None)),
        ev(2, 9, put(2, Some(1))),
        ev(3, 4, Call::Advance(1)),
        Event {
            clock: 1,
            ..ev(5, 6, Call::Listed(false))
        },
        Event {
            clock: 1,
            ..ev(10, 11, Call::Has(true))
        },
    ];
    assert!(!linearizable(&h));
}

#[test]
fn checker_places_exactly_the_evictions_it_is_given() {
    let h = [ev(0, 1, put(1, None)), ev(2, 3, Call::Get(None))];
    let start = |evictions_left| State {
        now: 0,
        entry: None,
        evictions_left,
    };
    assert!(!linearizable_from(&h, start(0)), "a lost write");
    assert!(linearizable_from(&h, start(1)), "an eviction");
    assert!(!linearizable_from(&h, start(2)), "one eviction too many");
}
