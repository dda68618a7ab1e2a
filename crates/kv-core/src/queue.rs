//! A lazy min-queue of entry records, shared by the expiry index and the LRU order.
//!
//! A record `(priority, entry)` promises only that the entry's current priority is at least
//! `priority`: entries move later (a sliding refresh, a `get`) without touching the queue, and a
//! record whose entry is gone stays until it is reached or the queue is compacted. Popping the
//! smallest record and asking the store about its entry therefore finds the true minimum: every
//! other entry's priority is at least its record's, which is at least the popped one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::policy::{EntryRef, Host, Probe};

type Record = (u64, EntryRef);

/// The queue; callers hold it under their own lock.
///
/// A radix heap: both users push priorities that only grow (a new stamp is the newest, a
/// requeue is at the entry's current priority, above the record just popped; a new deadline lies
/// after `now`, past every deadline already drained), so records sit in buckets by the highest bit
/// in which they differ from `floor`, the last minimum. A push appends to a vector; finding the
/// minimum empties the lowest non-empty bucket into lower ones. Each record moves down at most
/// 64 times, through contiguous memory: the binary heap this replaces spent most of an evicting
/// `put` in cache misses sifting down a heap of 100,000 records. A record below `floor` (racing
/// stamps can produce one) goes to a small binary heap beside the buckets, so the minimum is
/// always exact.
#[derive(Debug)]
pub struct LazyQueue {
    /// `buckets[0]` holds records equal to `floor`; `buckets[i]`, those whose highest bit
    /// differing from `floor` is bit `i - 1`.
    buckets: Box<[Vec<Record>; 65]>,
    floor: u64,
    /// Records pushed below `floor`.
    below: BinaryHeap<Reverse<Record>>,
    len: usize,
    /// The live count the last compaction check saw (see [`LazyQueue::compact_if_sparse`]).
    live_seen: usize,
}

/// Records beyond this many over one and a half times the live count trigger a compaction.
const SLACK: usize = 64;

impl Default for LazyQueue {
    fn default() -> Self {
        Self {
            buckets: Box::new(std::array::from_fn(|_| Vec::new())),
            floor: 0,
            below: BinaryHeap::new(),
            len: 0,
            live_seen: 0,
        }
    }
}

impl LazyQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn bucket(&self, priority: u64) -> usize {
        (u64::BITS - (priority ^ self.floor).leading_zeros()) as usize
    }

    /// Adds a record.
    pub fn push(&mut self, priority: u64, entry: EntryRef) {
        if priority < self.floor {
            self.below.push(Reverse((priority, entry)));
        } else {
            let b = self.bucket(priority);
            self.buckets[b].push((priority, entry));
        }
        self.len += 1;
    }

    /// Raises `floor` to the smallest bucketed record, so that `buckets[0]` holds it. Returns
    /// false when no record is bucketed.
    fn settle(&mut self) -> bool {
        if !self.buckets[0].is_empty() {
            return true;
        }
        let Some(i) = self.buckets.iter().position(|b| !b.is_empty()) else {
            return false;
        };
        let mut moving = std::mem::take(&mut self.buckets[i]);
        self.floor = moving.iter().map(|r| r.0).min().unwrap_or(self.floor);
        for record in moving.drain(..) {
            let b = self.bucket(record.0);
            self.buckets[b].push(record);
        }
        // Every record moved to a lower bucket. The emptied buffer is kept for later pushes
        // while the buffers together stay within twice the records (plus some): buffers that
        // each kept the most they ever held would add up to several times the records.
        let kept: usize = self.buckets.iter().map(Vec::capacity).sum();
        if kept + moving.capacity() <= self.len.saturating_mul(2).saturating_add(4096) {
            self.buckets[i] = moving;
        }
        true
    }

    /// Removes and returns the smallest record.
    fn pop_min(&mut self) -> Option<Record> {
        let bucketed = self.settle();
        let from_below = match self.below.peek() {
            Some(Reverse((p, _))) => !bucketed || *p < self.floor,
            None => false,
        };
        let record = if from_below {
            self.below.pop().map(|Reverse(r)| r)
        } else if bucketed {
            self.buckets[0].pop()
        } else {
            None
        };
        if record.is_some() {
            self.len -= 1;
        }
        record
    }

    /// The smallest priority queued.
    pub fn min_priority(&mut self) -> Option<u64> {
        let bucketed = self.settle().then_some(self.floor);
        let below = self.below.peek().map(|Reverse((p, _))| *p);
        match (bucketed, below) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Records held (dead ones included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every record.
    pub fn clear(&mut self) {
        self.buckets.iter_mut().for_each(Vec::clear);
        self.below.clear();
        self.floor = 0;
        self.len = 0;
    }

    /// Pops records with priority `<= bound` and hands each entry to `probe` until `probe` has
    /// removed `limit` entries or nothing at or below `bound` is left. Returns how many it removed.
    pub fn drain_upto(
        &mut self,
        bound: u64,
        limit: usize,
        mut probe: impl FnMut(EntryRef, u64) -> Probe,
    ) -> usize {
        let mut removed = 0;
        while removed < limit {
            match self.min_priority() {
                Some(p) if p <= bound => {}
                _ => break,
            }
            let Some((priority, entry)) = self.pop_min() else {
                break;
            };
            match probe(entry, priority) {
                Probe::Gone => {}
                Probe::Removed => removed += 1,
                Probe::Requeue(p) => self.push(p, entry),
                Probe::Enough => {
                    self.push(priority, entry);
                    break;
                }
            }
        }
        removed
    }

    /// Rebuilds from the store when dead records outnumber live entries, so removals that no
    /// queue ever reaches (deletes, consumed tokens) cannot grow it without bound. `live` (the
    /// store's entry count, a sum over shards) is asked for only when the records outgrow the
    /// count seen last time, not at every push.
    pub fn compact_if_sparse(
        &mut self,
        live: impl FnOnce() -> usize,
        scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64)),
    ) {
        if self.len <= sparse_above(self.live_seen) {
            return;
        }
        self.live_seen = live();
        if self.len > sparse_above(self.live_seen) {
            self.rebuild(scan);
        }
    }

    /// Replaces every record with one per entry that `scan` reports.
    pub fn rebuild(&mut self, scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64))) {
        // Straight into the buckets, which keep their buffers: no second copy of the records
        // (resident memory is a peak), and no fresh multi-megabyte buffers at every rebuild,
        // which fragmented the allocator's heap until resident memory crept up over a long soak.
        // With `floor` at 0 a record's bucket is its bit length; `settle` splits the lowest
        // bucket when the minimum is first asked for.
        self.clear();
        let mut count = 0;
        scan(&mut |entry, priority| {
            let b = (u64::BITS - priority.leading_zeros()) as usize;
            self.buckets[b].push((priority, entry));
            count += 1;
        });
        self.len = count;
        self.live_seen = count;
    }

    /// Every record, for `validate()`.
    pub fn records(&self) -> Vec<(EntryRef, u64)> {
        self.buckets
            .iter()
            .flatten()
            .chain(self.below.iter().map(|Reverse(r)| r))
            .map(|&(p, e)| (e, p))
            .collect()
    }
}

/// The record count above which a queue for `live` entries counts as sparse.
fn sparse_above(live: usize) -> usize {
    live.saturating_add(live / 2).saturating_add(SLACK)
}

/// Convenience for policies: the host's deadlines as a scan.
pub fn scan_deadlines(host: &dyn Host) -> impl FnOnce(&mut dyn FnMut(EntryRef, u64)) + '_ {
    move |f| host.scan_deadlines(f)
}

/// Convenience for policies: the host's recency stamps as a scan.
pub fn scan_stamps(host: &dyn Host) -> impl FnOnce(&mut dyn FnMut(EntryRef, u64)) + '_ {
    move |f| host.scan_stamps(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> EntryRef {
        EntryRef::new(0, id as u32, id as u32)
    }

    fn capacity(q: &LazyQueue) -> usize {
        q.buckets.iter().map(Vec::capacity).sum()
    }

    /// A long soak under TTL churn showed resident memory creeping up while entries and records
    /// stayed bounded: every rebuild allocated a fresh buffer of megabytes. It reuses its own.
    #[test]
    fn rebuild_keeps_the_buffers_it_had() {
        let mut q = LazyQueue::new();
        for i in 0..10_000 {
            q.push(i, entry(i));
        }
        let before = capacity(&q);
        q.rebuild(|f| (0..100).for_each(|i| f(entry(i), i)));
        assert_eq!(q.len(), 100);
        assert_eq!(capacity(&q), before);
        assert_eq!(q.min_priority(), Some(0));
    }

    /// The queue pops records in the order a binary heap would, for pushes that follow the
    /// minimum (the common case) and for pushes below it (racing stamps).
    #[test]
    fn pops_in_priority_order_like_a_binary_heap() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut q = LazyQueue::new();
        let mut reference = BinaryHeap::new();
        let mut last = 0;
        for step in 0..50_000 {
            let r = next();
            if r % 3 == 0 && !reference.is_empty() {
                let Reverse((p, _)) = reference.pop().unwrap();
                let mut got = None;
                q.drain_upto(NEVER_FOR_TEST, 1, |_, priority| {
                    got = Some(priority);
                    Probe::Removed
                });
                assert_eq!(got, Some(p), "step {step}");
                last = p;
            } else {
                // Mostly at or above the last minimum, sometimes below it, sometimes far above.
                let p = match r % 17 {
                    0 => last.saturating_sub(r % 50),
                    1 => last + (r % (1 << 40)),
                    _ => last + r % 1_000,
                };
                q.push(p, entry(step));
                reference.push(Reverse((p, step)));
            }
            assert_eq!(q.len(), reference.len());
            assert_eq!(
                q.min_priority(),
                reference.peek().map(|Reverse((p, _))| *p),
                "step {step}"
            );
        }
    }

    const NEVER_FOR_TEST: u64 = u64::MAX;

    /// `drain_upto` stops at its bound, and a record handed back as `Enough` stays queued.
    #[test]
    fn drain_stops_at_the_bound_and_keeps_what_is_enough() {
        let mut q = LazyQueue::new();
        for p in [5, 3, 9, 7] {
            q.push(p, entry(p));
        }
        let mut seen = Vec::new();
        let removed = q.drain_upto(7, usize::MAX, |e, p| {
            seen.push((u64::from(e.at()), p));
            if p == 7 {
                Probe::Enough
            } else {
                Probe::Removed
            }
        });
        assert_eq!(removed, 2);
        assert_eq!(seen, vec![(3, 3), (5, 5), (7, 7)]);
        assert_eq!(q.len(), 2);
        assert_eq!(q.min_priority(), Some(7));
    }
}
