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

/// The queue; callers hold it under their own lock.
#[derive(Debug, Default)]
pub struct LazyQueue {
    heap: BinaryHeap<Reverse<(u64, EntryRef)>>,
}

/// Records beyond this many over twice the live count trigger a compaction.
const SLACK: usize = 64;

impl LazyQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record.
    pub fn push(&mut self, priority: u64, entry: EntryRef) {
        self.heap.push(Reverse((priority, entry)));
    }

    /// The smallest priority queued.
    pub fn min_priority(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((p, _))| *p)
    }

    /// Records held (dead ones included).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Drops every record.
    pub fn clear(&mut self) {
        self.heap.clear();
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
            let Some(&Reverse((priority, entry))) = self.heap.peek() else {
                break;
            };
            if priority > bound {
                break;
            }
            self.heap.pop();
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
    /// queue ever reaches (deletes, consumed tokens) cannot grow it without bound.
    pub fn compact_if_sparse(
        &mut self,
        live: usize,
        scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64)),
    ) {
        if self.heap.len() > live.saturating_mul(2).saturating_add(SLACK) {
            self.rebuild(scan);
        }
    }

    /// Replaces every record with one per entry that `scan` reports.
    pub fn rebuild(&mut self, scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64))) {
        // Reuses the heap's buffer: a fresh multi-megabyte buffer at every rebuild fragments
        // the allocator's heap, and resident memory crept up over a long soak.
        let mut records = std::mem::take(&mut self.heap).into_vec();
        records.clear();
        scan(&mut |entry, priority| records.push(Reverse((priority, entry))));
        self.heap = BinaryHeap::from(records);
    }

    /// Every record, for `validate()`.
    pub fn records(&self) -> Vec<(EntryRef, u64)> {
        self.heap.iter().map(|Reverse((p, e))| (*e, *p)).collect()
    }
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
        EntryRef { hash: id, id }
    }

    /// A long soak under TTL churn showed resident memory creeping up while entries and records
    /// stayed bounded: every rebuild allocated a fresh buffer of megabytes. It reuses its own.
    #[test]
    fn rebuild_keeps_the_buffer_it_had() {
        let mut q = LazyQueue::new();
        for i in 0..10_000 {
            q.push(i, entry(i));
        }
        let (capacity, address) = (q.heap.capacity(), q.heap.as_slice().as_ptr());
        q.rebuild(|f| (0..100).for_each(|i| f(entry(i), i)));
        assert_eq!(q.len(), 100);
        assert_eq!(q.heap.capacity(), capacity);
        assert_eq!(q.heap.as_slice().as_ptr(), address);
        assert_eq!(q.min_priority(), Some(0));
    }
}
