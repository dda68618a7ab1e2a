//! The LRU policy: recency stamps on entries, a lazy order queue, and the capacity loop.
//!
//! A use stores the store's stamp into the entry if it is newer (a plain load and store under the
//! shard's shared lock: readers never take the policy's lock; stamps come from
//! `Inner::stamp` in kv-core, a per-thread counter kept above a store-wide watermark). The order
//! queue holds one record per
//! entry with a stamp no newer than the entry's; the victim is found by popping the oldest record
//! and requeueing it at the entry's current stamp until one still matches. While unbounded, no
//! records are kept at all: setting a capacity builds them from the entries' stamps.

use kv_core::queue::{self, LazyQueue};
use kv_core::sync::{self, AtomicU64, AtomicUsize, Mutex, Ordering};
use kv_core::{Capacity, EntryRef, Eviction, Host, Layer, NEVER, StoreBuilder};

/// Adds capacity and LRU eviction to a store.
#[derive(Clone, Copy, Debug, Default)]
pub struct LruLayer {
    capacity: usize,
}

impl LruLayer {
    /// Unbounded to start with (recency is still tracked for a later `set_capacity`).
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `capacity` entries; 0 is unbounded.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity }
    }
}

impl<K, V, X, E, L, S> Layer<StoreBuilder<K, V, X, E, L, S>> for LruLayer {
    type Output = StoreBuilder<K, V, X, Lru, L, S>;

    fn layer(&self, inner: StoreBuilder<K, V, X, E, L, S>) -> Self::Output {
        inner.eviction(Lru::new(self.capacity))
    }
}

/// The LRU policy.
#[derive(Debug)]
pub struct Lru {
    capacity: AtomicUsize,
    order: Mutex<LazyQueue>,
}

/// An entry's recency stamp.
#[derive(Debug)]
pub struct Stamp(AtomicU64);

impl Lru {
    /// A policy with `capacity` (0: unbounded).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: AtomicUsize::new(capacity),
            order: Mutex::new(LazyQueue::new()),
        }
    }

    /// Evicts until the store fits its capacity: expired entries first, then the oldest.
    ///
    /// The store's size (a sum over its shards) is read once; each removal then counts it down.
    /// Entries inserted meanwhile by other threads are their own puts' business (each checks
    /// after inserting, under this lock), and removals by other threads are caught by the check
    /// under the victim's lock, so nothing is evicted that need not be.
    fn shrink_to_fit(&self, order: &mut LazyQueue, host: &dyn Host) {
        let capacity = self.capacity.load(Ordering::Acquire);
        if capacity == 0 {
            return;
        }
        let mut over = host.stored().saturating_sub(capacity);
        while over > 0 {
            if !host.reclaim_one_expired() {
                let evicted = order.drain_upto(NEVER, 1, |entry, stamp| {
                    host.evict_if_unused_since(entry, stamp, capacity)
                });
                if evicted == 0 {
                    // Every remaining entry is still being inserted (its put will finish the
                    // job), or the store already fits.
                    return;
                }
            }
            over -= 1;
        }
    }
}

impl Default for Lru {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Eviction for Lru {
    type State = Stamp;
    const TRACKS_RECENCY: bool = true;

    #[inline]
    fn new_state(&self, stamp: u64) -> Stamp {
        Stamp(AtomicU64::new(stamp))
    }

    #[inline]
    fn touch(&self, state: &Stamp, stamp: u64) {
        // A plain load and store (no locked instruction on the hot path): two racing uses may
        // leave the older stamp, which only makes concurrent recency approximate. Records stay
        // at or below stamps because everything that records a stamp it read (a requeue, a
        // rebuild) holds the shard's exclusive lock, which waits out uses in progress.
        if stamp > state.0.load(Ordering::Relaxed) {
            state.0.store(stamp, Ordering::Relaxed);
        }
    }

    #[inline]
    fn stamp(state: &Stamp) -> u64 {
        state.0.load(Ordering::Relaxed)
    }

    fn admit(&self, entry: EntryRef, stamp: u64, host: &dyn Host) {
        // Read after the entry was inserted: a concurrent `set_capacity` that enables the order
        // either scanned this entry or is seen here (the shard lock orders the two).
        if self.capacity.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut order = sync::lock_spinning(&self.order);
        if self.capacity.load(Ordering::Acquire) == 0 {
            return;
        }
        order.push(stamp, entry);
        order.compact_if_sparse(|| host.stored(), queue::scan_stamps(host));
        self.shrink_to_fit(&mut order, host);
    }

    fn records(&self) -> Option<Vec<(EntryRef, u64)>> {
        let order = sync::lock(&self.order);
        (self.capacity.load(Ordering::Acquire) != 0).then(|| order.records())
    }
}

impl Capacity for Lru {
    fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Acquire)
    }

    fn with_capacity(self, capacity: usize) -> Self {
        self.capacity.store(capacity, Ordering::Release);
        self
    }

    fn set_capacity(&self, capacity: usize, host: &dyn Host) {
        let mut order = sync::lock(&self.order);
        let before = self.capacity.swap(capacity, Ordering::AcqRel);
        if capacity == 0 {
            order.clear();
            return;
        }
        if before == 0 {
            order.rebuild(queue::scan_stamps(host));
        }
        self.shrink_to_fit(&mut order, host);
    }
}
