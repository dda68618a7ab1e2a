//! Reliability item 7: concurrent histories are linearizable.
//!
//! Threads run random operations on a few keys, with a capacity and TTL that never trigger, and
//! record when each operation was invoked and when it returned (ticks of one shared counter).
//! Operations on different keys commute, so each key's sub-history is checked on its own
//! (porcupine's partitioning) against a one-key sequential spec, by the Wing & Gong search with
//! memoised states (Lowe's improvement): try every operation that could take effect first, apply
//! it to the spec, recurse. The checker is small and has tests of its own below.
//! sync-facade: exempt (test code: std threads, a std counter for the history's ticks).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use kvstore::{ManualClock, PutOptions, Store};

use crate::model::soak_scale;

/// An operation on one key, with what it returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `put_with(value, max_reads)` returned the displaced live value.
    Put {
        value: u32,
        max_reads: usize,
        displaced: Option<u32>,
    },
    /// `get` returned this.
    Get(Option<u32>),
    /// `has` returned this.
    Has(bool),
    /// `del` returned this.
    Del(bool),
}

/// One completed operation: invoked at tick `start`, returned at tick `end`.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    start: u64,
    end: u64,
    call: Call,
}

/// The one-key spec: the value and reads left (0: no budget), or nothing.
type State = Option<(u32, usize)>;

/// Applies `call` to `state` if its recorded result is what the spec returns there.
fn apply(state: State, call: Call) -> Option<State> {
    let (result_ok, next) = match call {
        Call::Put {
            value,
            max_reads,
            displaced,
        } => (displaced == state.map(|(v, _)| v), Some((value, max_reads))),
        Call::Get(got) => {
            let next = match state {
                Some((_, 1)) => None,
                Some((v, 0)) => Some((v, 0)),
                Some((v, n)) => Some((v, n - 1)),
                None => None,
            };
            (got == state.map(|(v, _)| v), next)
        }
        Call::Has(got) => (got == state.is_some(), state),
        Call::Del(got) => (got == state.is_some(), None),
    };
    result_ok.then_some(next)
}

/// Whether one key's history has a linearization from the empty state. At most 128 events.
pub fn linearizable(history: &[Event]) -> bool {
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
    search(history, 0, all, None, &mut seen)
}

fn search(
    history: &[Event],
    done: u128,
    all: u128,
    state: State,
    seen: &mut HashSet<(u128, State)>,
) -> bool {
    if done == all {
        return true;
    }
    if !seen.insert((done, state)) {
        return false;
    }
    // An operation can take effect next only if it was invoked before every pending one returned.
    let pending = || (0..history.len()).filter(move |i| done & (1 << i) == 0);
    let first_return = pending().map(|i| history[i].end).min().unwrap_or(u64::MAX);
    for i in pending() {
        if history[i].start > first_return {
            continue;
        }
        if let Some(next) = apply(state, history[i].call) {
            if search(history, done | (1 << i), all, next, seen) {
                return true;
            }
        }
    }
    false
}

/// Runs `threads` threads of `ops` random operations over `keys` keys; returns each key's history
/// and the store.
fn record(
    threads: usize,
    ops: usize,
    keys: usize,
    seed: u64,
) -> (Vec<Vec<Event>>, Store<u32, u32>) {
    // A TTL and a capacity that are set but never trigger during the history: the clock stands
    // still, so nothing put now expires. Every key starts with an entry that expired before the
    // threads start: to the spec it is absent, and whichever operation meets it first must count
    // its Expiration, exactly once.
    let clock = ManualClock::new();
    let store: Store<u32, u32> = Store::builder()
        .capacity(1_000)
        .shards(2)
        .clock(clock.clone())
        .build();
    for key in 0..keys as u32 {
        store.put_with(
            key,
            u32::MAX,
            &PutOptions::new().with_ttl(Duration::from_secs(1)),
        );
    }
    clock.advance(Duration::from_secs(1));
    let ticks = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (store, ticks, barrier) = (store.clone(), ticks.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut rng = seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut events = Vec::with_capacity(ops);
                barrier.wait();
                for i in 0..ops {
                    let r = next(&mut rng);
                    let key = (r % keys as u64) as u32;
                    let value = (t * ops + i) as u32; // unique, so a read names its write
                    let start = ticks.fetch_add(1, Ordering::SeqCst);
                    let call = match (r >> 8) % 8 {
                        0..=2 => {
                            let max_reads = [0, 0, 1, 2][(r >> 16) as usize % 4];
                            let opts = PutOptions::new()
                                .with_ttl(Duration::from_secs(3_600))
                                .with_sliding_ttl()
                                .with_max_reads(max_reads);
                            let displaced = store.put_with(key, value, &opts);
                            Call::Put {
                                value,
                                max_reads,
                                displaced,
                            }
                        }
                        3..=5 => Call::Get(store.get(&key)),
                        6 => Call::Has(store.has(&key)),
                        _ => Call::Del(store.del(&key)),
                    };
                    let end = ticks.fetch_add(1, Ordering::SeqCst);
                    events.push((key, Event { start, end, call }));
                }
                events
            })
        })
        .collect();
    let mut per_key = vec![Vec::new(); keys];
    for h in handles {
        for (key, event) in h.join().expect("a worker panicked") {
            per_key[key as usize].push(event);
        }
    }
    (per_key, store)
}

/// xorshift64*: reproducible per seed, no dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Keys per history: few, so operations on one key overlap often.
const KEYS: usize = 3;

#[test]
fn concurrent_histories_are_linearizable_per_key() {
    let rounds = 200 * soak_scale() as u64;
    for seed in 1..=rounds {
        let (histories, store) = record(3, 40, KEYS, seed);
        for (key, history) in histories.iter().enumerate() {
            assert!(
                linearizable(history),
                "seed {seed}, key {key}: no linearization of {history:#?}"
            );
        }
        // The counters are exact under concurrency: they match what the callers saw.
        let all = histories.iter().flatten();
        let hits = all
            .clone()
            .filter(|e| matches!(e.call, Call::Get(Some(_))))
            .count();
        let misses = all.filter(|e| matches!(e.call, Call::Get(None))).count();
        let m = store.metrics();
        assert_eq!(
            (m.hits, m.misses),
            (hits as u64, misses as u64),
            "seed {seed}"
        );
        assert_eq!(m.evictions, 0, "seed {seed}");
        // Each key's expired entry was counted once, by whatever met it; a purge counts the rest.
        store.purge_expired();
        assert_eq!(store.metrics().expirations, KEYS as u64, "seed {seed}");
        store.validate().unwrap();
    }
}

// The checker's own tests: it must accept what is linearizable and reject what is not.

fn ev(start: u64, end: u64, call: Call) -> Event {
    Event { start, end, call }
}

fn put(value: u32, displaced: Option<u32>) -> Call {
    Call::Put {
        value,
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
