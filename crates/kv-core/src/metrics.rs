//! The exact counters of a store and their snapshot.

use std::fmt;

use crate::sync::{AtomicU64, Ordering};

/// A snapshot of a store's counters.
///
/// `hits`, `misses`, `expirations` and `evictions` are exact. `current_size` counts the entries
/// held in memory, which can include expired entries nobody has reclaimed yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Metrics {
    /// Successful `get`s.
    pub hits: u64,
    /// `get`s that found nothing live.
    pub misses: u64,
    /// Expired entries reclaimed, each counted once.
    pub expirations: u64,
    /// Live entries removed to respect the capacity.
    pub evictions: u64,
    /// Entries held in memory now.
    pub current_size: u64,
}

impl Metrics {
    /// `hits / (hits + misses)`, or `None` before the first `get`.
    pub fn hit_ratio(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 / total as f64)
    }
}

impl std::ops::Add for Metrics {
    type Output = Metrics;

    fn add(self, o: Metrics) -> Metrics {
        Metrics {
            hits: self.hits + o.hits,
            misses: self.misses + o.misses,
            expirations: self.expirations + o.expirations,
            evictions: self.evictions + o.evictions,
            current_size: self.current_size + o.current_size,
        }
    }
}

impl std::iter::Sum for Metrics {
    fn sum<I: Iterator<Item = Metrics>>(iter: I) -> Metrics {
        iter.fold(Metrics::default(), |a, b| a + b)
    }
}

impl fmt::Display for Metrics {
    /// One log-friendly line: `hits=3 misses=1 expirations=0 evictions=2 current_size=5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hits={} misses={} expirations={} evictions={} current_size={}",
            self.hits, self.misses, self.expirations, self.evictions, self.current_size
        )
    }
}

/// One shard's counters. They sit beside the shard's lock, whose cache line the operation writes
/// anyway, so counting adds no shared-line traffic of its own.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) expirations: AtomicU64,
    pub(crate) evictions: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_to(&self, m: &mut Metrics) {
        m.hits += self.hits.load(Ordering::Relaxed);
        m.misses += self.misses.load(Ordering::Relaxed);
        m.expirations += self.expirations.load(Ordering::Relaxed);
        m.evictions += self.evictions.load(Ordering::Relaxed);
    }
}
