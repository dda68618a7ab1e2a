//! The reference model: `docs/semantics.md` written as plainly as possible, with no concurrency
//! and no cleverness. A map of entries, an explicit recency list, counters, and the time that a
//! test's manual clock shows.
//!
//! Reclaiming is lazy here: an expired entry is removed only when the contract says an operation
//! must notice it (a `get`, `has`, `del` or `put` on its key, an insert that needs room, a purge).
//! The store may reclaim earlier (a little at every write), so the model reports what is exactly
//! determined (every return value, hits, misses, evictions) separately from what is determined
//! only up to reclaiming (`expirations`, `current_size`); see [`Model::bounds`].
//!
//! This file is also compiled into the fuzz targets (`fuzz/`), so it depends on `std` only.

use std::collections::BTreeMap;

/// Where the clock saturates: a deadline that reaches it is "never".
pub const END_OF_TIME: u64 = u64::MAX;

/// One option of a `put`, applied in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOpt {
    /// `with_ttl(Duration::from_nanos(n))`; 0 means no TTL.
    TtlNanos(u64),
    /// `with_ttl(Duration::MAX)`.
    TtlForever,
    /// `with_sliding_ttl()`.
    Sliding,
    /// `with_max_reads(n)`.
    MaxReads(usize),
}

#[derive(Clone, Debug)]
struct Entry {
    value: u32,
    /// `None`: never expires.
    deadline: Option<u64>,
    /// The TTL in nanoseconds for a sliding refresh (0: none).
    ttl: u64,
    sliding: bool,
    /// 0: no budget.
    reads_left: usize,
}

impl Entry {
    fn expired(&self, now: u64) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

fn deadline_after(now: u64, ttl: u64) -> Option<u64> {
    if ttl == 0 {
        return None;
    }
    // A deadline at or past the end of the clock is never reached: "never expires".
    now.checked_add(ttl).filter(|&d| d < END_OF_TIME)
}

/// The exact counters of the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Successful gets.
    pub hits: u64,
    /// Gets that found nothing live.
    pub misses: u64,
    /// Expired entries reclaimed by the model (lazily).
    pub expirations: u64,
    /// Live entries evicted for capacity.
    pub evictions: u64,
}

/// One namespace's store, as the contract describes it.
#[derive(Clone, Debug, Default)]
pub struct Model {
    entries: BTreeMap<String, Entry>,
    /// Least recently used first.
    recency: Vec<String>,
    capacity: usize,
    /// The counters.
    pub counters: Counters,
}

impl Model {
    /// An empty store with `capacity` (0: unbounded).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    fn touch(&mut self, key: &str) {
        self.forget(key);
        self.recency.push(key.to_owned());
    }

    fn forget(&mut self, key: &str) {
        self.recency.retain(|k| k != key);
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        self.forget(key);
        self.entries.remove(key)
    }

    /// Reclaims `key` if it holds an expired entry; returns whether it did.
    fn reclaim_if_expired(&mut self, key: &str, now: u64) -> bool {
        if self.entries.get(key).is_some_and(|e| e.expired(now)) {
            self.remove(key);
            self.counters.expirations += 1;
            true
        } else {
            false
        }
    }

    /// Expired entries first (each an Expiration), then the least recently used live entry.
    fn fit_capacity(&mut self, now: u64) {
        while self.capacity != 0 && self.entries.len() > self.capacity {
            let expired = self
                .entries
                .iter()
                .find(|(_, e)| e.expired(now))
                .map(|(k, _)| k.clone());
            if let Some(key) = expired {
                self.reclaim_if_expired(&key, now);
                continue;
            }
            let victim = self.recency[0].clone();
            self.remove(&victim);
            self.counters.evictions += 1;
        }
    }

    /// `put(key, value, opts)`: returns the displaced live value.
    pub fn put(&mut self, key: &str, value: u32, opts: &[PutOpt], now: u64) -> Option<u32> {
        let (mut ttl, mut sliding, mut reads) = (0u64, false, 0usize);
        for opt in opts {
            match *opt {
                PutOpt::TtlNanos(n) => ttl = n,
                PutOpt::TtlForever => ttl = u64::MAX,
                PutOpt::Sliding => sliding = true,
                // `max_reads(0)` after a positive budget keeps the budget.
                PutOpt::MaxReads(n) if n > 0 => reads = n,
                PutOpt::MaxReads(_) => {}
            }
        }
        let displaced = if self.reclaim_if_expired(key, now) {
            None
        } else {
            self.entries.get(key).map(|e| e.value)
        };
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                deadline: deadline_after(now, ttl),
                ttl,
                sliding,
                reads_left: reads,
            },
        );
        self.touch(key);
        self.fit_capacity(now);
        displaced
    }

    /// `get(key)`.
    pub fn get(&mut self, key: &str, now: u64) -> Option<u32> {
        self.reclaim_if_expired(key, now);
        let Some(entry) = self.entries.get_mut(key) else {
            self.counters.misses += 1;
            return None;
        };
        self.counters.hits += 1;
        let value = entry.value;
        if entry.sliding && entry.ttl != 0 {
            entry.deadline = deadline_after(now, entry.ttl);
        }
        match entry.reads_left {
            0 => self.touch(key),
            1 => {
                self.remove(key);
            }
            _ => {
                entry.reads_left -= 1;
                self.touch(key);
            }
        }
        Some(value)
    }

    /// `has(key)`: not a read.
    pub fn has(&mut self, key: &str, now: u64) -> bool {
        self.reclaim_if_expired(key, now);
        self.entries.contains_key(key)
    }

    /// `del(key)`: true if a live entry was removed.
    pub fn del(&mut self, key: &str, now: u64) -> bool {
        if self.reclaim_if_expired(key, now) {
            return false;
        }
        self.remove(key).is_some()
    }

    /// `keys()`, sorted.
    pub fn keys(&self, now: u64) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.expired(now))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// `set_capacity(n)`.
    pub fn set_capacity(&mut self, capacity: usize, now: u64) {
        self.capacity = capacity;
        self.fit_capacity(now);
    }

    /// `purge_expired()`: returns how many it reclaimed.
    pub fn purge(&mut self, now: u64) -> usize {
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expired(now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            self.reclaim_if_expired(key, now);
        }
        expired.len()
    }

    /// `clear()`: counted by nothing.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.recency.clear();
    }

    /// Entries the model still holds (expired ones it has not had to reclaim included).
    pub fn stored(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Live entries.
    pub fn live(&self, now: u64) -> u64 {
        self.entries.values().filter(|e| !e.expired(now)).count() as u64
    }

    /// What the store's `expirations` and `current_size` must satisfy. The store may have
    /// reclaimed expired entries that the model still holds, and when an insert needs room it
    /// may pick a different expired entry than the model did; so their sum is exact, and
    /// `current_size` is at least the live count.
    pub fn bounds(&self, now: u64) -> Bounds {
        Bounds {
            expirations_plus_size: self.counters.expirations + self.stored(),
            min_size: self.live(now),
        }
    }
}

/// See [`Model::bounds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// `expirations + current_size`, exactly.
    pub expirations_plus_size: u64,
    /// The least `current_size` can be.
    pub min_size: u64,
}
