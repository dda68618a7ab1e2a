//! The timed run: a store adapted to [`Contender`], its warm-up, and threads started together.
// Benchmark driver code, not store code (outside the sync-facade rule): a std Barrier.

use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::memory;
use crate::workload::{Op, Plan, W4_NANOS_PER_OP, W4_TICK_EVERY, Workload};

/// A store as the benchmark drives it. Each thread gets its own handle (see [`Contender::share`]);
/// methods take `&mut self` so a single-threaded map can take part without any locking. Keys come
/// as `&String` because one peer (mini_moka) looks up only by the owned key type: with `&str` it
/// would have to allocate on every read.
#[allow(clippy::ptr_arg)]
pub trait Contender: Send + Sized + 'static {
    /// Another handle on the same store for another thread, or `None` when the store cannot be
    /// shared (the single-threaded limit row).
    fn share(&self) -> Option<Self>;
    /// Reads `key`; `true` on a hit.
    fn get(&mut self, key: &String) -> bool;
    /// Writes `key`.
    fn put(&mut self, key: &String, value: u64);
    /// W4's write: `put` with a TTL of 1 s, sliding. Stores whose TTL is configured on the whole
    /// cache (moka) do a plain `put`.
    fn put_expiring(&mut self, key: &String, value: u64) {
        self.put(key, value);
    }
    /// W5: stores a one-shot token and reads it once; `true` when the read returned it. Stores
    /// without read budgets insert then remove.
    fn token(&mut self, key: &String, value: u64) -> bool;
    /// Moves the store's manual clock, if it runs on one (W4).
    fn advance(&mut self, _nanos: u64) {}
    /// Finishes deferred maintenance (moka's pending tasks), untimed.
    fn settle(&mut self) {}
    /// Entries held now.
    fn entries(&mut self) -> u64;
}

/// One measurement: one store, one workload, one thread count, in one process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The store's row name.
    pub store: String,
    /// The workload, `W1`..`W5`.
    pub workload: String,
    /// Threads.
    pub threads: usize,
    /// Store operations performed (a token counts two).
    pub ops: u64,
    /// Wall time from the first thread's start to the last thread's end.
    pub seconds: f64,
    /// Millions of operations per second.
    pub mops: f64,
    /// Reads that returned a value.
    pub hits: u64,
    /// Reads that returned nothing.
    pub misses: u64,
    /// Peak resident memory above the base taken before the store was built, MiB.
    pub rss_mib: Option<f64>,
    /// Entries held at the end.
    pub entries: u64,
}

impl Sample {
    /// `hits / (hits + misses)`, or `None` when the run read nothing.
    pub fn hit_ratio(&self) -> Option<f64> {
        let reads = self.hits + self.misses;
        (reads > 0).then(|| self.hits as f64 / reads as f64)
    }
}

/// Why a measurement could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The store cannot be shared between threads, and more than one was asked for.
    NotShareable {
        /// The store's row name.
        store: String,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotShareable { store } => write!(
                f,
                "`{store}` is single-threaded: measure it with --threads 1"
            ),
        }
    }
}

impl std::error::Error for RunError {}

/// Runs `plan` against the store `build` makes: resets the peak-memory mark, builds and warms the
/// store (untimed), settles it, then times the threads.
pub fn measure<C: Contender>(
    store: &str,
    plan: &Plan,
    build: impl FnOnce() -> C,
) -> Result<Sample, RunError> {
    let base = memory::reset_peak();
    let mut first = build();
    for &k in &plan.warm_up {
        let key = &plan.keys[k as usize];
        match plan.workload {
            Workload::W4 => first.put_expiring(key, u64::from(k)),
            _ => first.put(key, u64::from(k)),
        }
    }
    first.settle();
    let mut handles = Vec::with_capacity(plan.ops.len());
    handles.push(first);
    while handles.len() < plan.ops.len() {
        let next = handles[0].share().ok_or_else(|| RunError::NotShareable {
            store: store.to_string(),
        })?;
        handles.push(next);
    }
    let barrier = Barrier::new(handles.len());
    let results: Vec<(C, Instant, Instant, u64, u64)> = thread::scope(|scope| {
        let running: Vec<_> = handles
            .into_iter()
            .zip(&plan.ops)
            .map(|(mut handle, ops)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let (hits, misses) = run_ops(&mut handle, plan, ops);
                    (handle, start, Instant::now(), hits, misses)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("a benchmark thread panicked"))
            .collect()
    });
    let start = results
        .iter()
        .map(|r| r.1)
        .min()
        .expect("one thread at least");
    let end = results
        .iter()
        .map(|r| r.2)
        .max()
        .expect("one thread at least");
    let hits = results.iter().map(|r| r.3).sum();
    let misses = results.iter().map(|r| r.4).sum();
    let mut handle = results.into_iter().next().expect("one thread at least").0;
    handle.settle();
    let peak = memory::peak();
    let seconds = (end - start).as_secs_f64();
    let ops = plan.total_weight();
    Ok(Sample {
        store: store.to_string(),
        workload: plan.workload.to_string(),
        threads: plan.ops.len(),
        ops,
        seconds,
        mops: ops as f64 / seconds / 1e6,
        hits,
        misses,
        rss_mib: base
            .zip(peak)
            .map(|(b, p)| p.saturating_sub(b) as f64 / 1024.0),
        entries: handle.entries(),
    })
}

/// One thread's timed loop; returns its (hits, misses).
#[inline(never)]
fn run_ops<C: Contender>(store: &mut C, plan: &Plan, ops: &[Op]) -> (u64, u64) {
    let keys = &plan.keys;
    let (mut hits, mut misses) = (0, 0);
    let ticking = plan.workload == Workload::W4;
    for (i, &op) in ops.iter().enumerate() {
        if ticking && i % W4_TICK_EVERY == 0 {
            store.advance(W4_TICK_EVERY as u64 * W4_NANOS_PER_OP);
        }
        match op {
            Op::Get(k) => {
                if store.get(&keys[k as usize]) {
                    hits += 1;
                } else {
                    misses += 1;
                }
            }
            Op::Put(k) if ticking => store.put_expiring(&keys[k as usize], u64::from(k)),
            Op::Put(k) => store.put(&keys[k as usize], u64::from(k)),
            Op::Token(k) => {
                if store.token(&keys[k as usize], u64::from(k)) {
                    hits += 1;
                } else {
                    misses += 1;
                }
            }
        }
    }
    (hits, misses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The simplest contender: a map owned by one thread.
    struct Map(HashMap<String, u64>);

    impl Contender for Map {
        fn share(&self) -> Option<Self> {
            None
        }
        fn get(&mut self, key: &String) -> bool {
            self.0.contains_key(key)
        }
        fn put(&mut self, key: &String, value: u64) {
            self.0.insert(key.to_owned(), value);
        }
        fn token(&mut self, key: &String, value: u64) -> bool {
            self.0.insert(key.to_owned(), value);
            self.0.remove(key).is_some()
        }
        fn entries(&mut self) -> u64 {
            self.0.len() as u64
        }
    }

    #[test]
    fn a_run_counts_every_operation_and_every_read() {
        let plan = Plan::new(Workload::W1, 1, 5_000, 9);
        let sample = measure("map", &plan, || Map(HashMap::new())).unwrap();
        assert_eq!(sample.ops, 5_000);
        assert_eq!(sample.hits, 5_000, "W1 reads only present keys");
        assert_eq!(sample.misses, 0);
        assert_eq!(sample.entries, 100_000);
        assert_eq!(sample.hit_ratio(), Some(1.0));
    }

    #[test]
    fn tokens_count_two_operations_and_leave_only_the_warm_up() {
        let plan = Plan::new(Workload::W5, 1, 2_000, 9);
        let sample = measure("map", &plan, || Map(HashMap::new())).unwrap();
        assert_eq!(sample.ops, 2_000);
        assert_eq!(sample.hits, 1_000);
        assert_eq!(sample.entries, crate::workload::WARM_UP_KEYS as u64);
    }

    #[test]
    fn a_single_threaded_store_refuses_two_threads() {
        let plan = Plan::new(Workload::W1, 2, 1_000, 9);
        let err = measure("map", &plan, || Map(HashMap::new())).unwrap_err();
        assert!(err.to_string().contains("--threads 1"));
    }
}
