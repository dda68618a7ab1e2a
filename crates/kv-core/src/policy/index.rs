//! A policy's index of entries: the lazy queue under the policy's lock, and the removal
//! counting that keeps its dead records bounded.

use super::EntryRef;
use super::queue::LazyQueue;
use crate::sync::{self, AtomicUsize, Mutex, MutexGuard, Ordering};

/// How many removals an index lets pass between checks for dead records.
const CHECK_EVERY_REMOVALS: usize = 256;

/// A [`LazyQueue`] of a policy's records (kv-ttl's deadlines, kv-lru's recency order) under the
/// policy's own lock, with the count of removals the queue does not drive (deletes, consumed
/// reads, expirations found by reads): every 256 of them it is compacted if most of its records
/// are dead, so mass deletes free the records too.
#[derive(Debug, Default)]
pub struct PolicyIndex {
    queue: Mutex<LazyQueue>,
    /// Removals counted since the index was made (wrapping).
    removals: AtomicUsize,
}

impl PolicyIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The queue, locked for one of the short sections many threads run (a put's push, a
    /// reclaim): spinning before it sleeps (see [`sync::lock_spinning`]).
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, LazyQueue> {
        sync::lock_spinning(&self.queue)
    }

    /// The queue, locked for a rare section (clearing, a new capacity, a check).
    pub fn lock_rarely(&self) -> MutexGuard<'_, LazyQueue> {
        sync::lock(&self.queue)
    }

    /// Records held (some may be of removed entries, until reached or compacted).
    pub fn len(&self) -> usize {
        self.lock_rarely().len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts an entry removed by a way the queue did not drive. Every 256th removal compacts the
    /// queue if most of its records are dead (`live` is the store's entry count, `scan` reports
    /// the policy's records of the entries) and hands the queue back, still locked, for the
    /// policy to update what it derives from it.
    pub fn count_removal(
        &self,
        live: impl FnOnce() -> usize,
        scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64)),
    ) -> Option<MutexGuard<'_, LazyQueue>> {
        if self.removals.fetch_add(1, Ordering::Relaxed) % CHECK_EVERY_REMOVALS
            != CHECK_EVERY_REMOVALS - 1
        {
            return None;
        }
        let mut queue = self.lock();
        queue.compact_now_if_sparse(live, scan);
        Some(queue)
    }
}
