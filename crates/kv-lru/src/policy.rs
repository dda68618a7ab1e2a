//! The LRU policy: recency stamps on entries, a lazy order queue, and the capacity loop.
//!
//! A use stores a fresh stamp into the entry if it is newer (a plain load and store under the
//! shard's shared lock: readers never take the policy's lock; stamps come from [`Stamps`], a
//! per-thread counter kept above a store-wide watermark). The order queue holds one record per
//! entry with a stamp no newer than the entry's; the victim is found by popping the oldest record
//! and requeueing it at the entry's current stamp until one still matches. While unbounded, no
//! records are kept at all: setting a capacity builds them from the entries' stamps.

use crossbeam_utils::CachePadded;
use kv_core::queue::LazyQueue;
use kv_core::sync::{self, AtomicU64, AtomicUsize, Mutex, Ordering};
use kv_core::{Capacity, EntryRef, Eviction, EvictionHost, NEVER, Verdict};

/// The LRU policy: put it in a store's eviction slot with `StoreBuilder::eviction(Lru::new(n))`.
#[derive(Debug)]
pub struct Lru {
    capacity: AtomicUsize,
    order: Mutex<LazyQueue>,
    stamps: Stamps,
}

/// Where recency stamps come from: the highest stamp handed out, as far as sequential uses need
/// to know. On its own cache line: every use writes it.
#[derive(Debug, Default)]
struct Stamps(CachePadded<AtomicU64>);

impl Stamps {
    /// The stamp of a use: one more than both the last stamp this thread took and the
    /// watermark, which it then raises. Plain loads and stores: no clock read and no locked
    /// instruction on the hot path. Sequential uses are ordered exactly, on one thread or
    /// handed over between threads (a use that happens after another sees its watermark);
    /// racing uses may tie or lower the watermark, which only makes concurrent recency
    /// approximate, as the contract allows.
    #[inline]
    fn next(&self) -> u64 {
        let seen = self.0.load(Ordering::Relaxed);
        let stamp = above_this_threads_last_stamp(seen.saturating_add(1));
        self.0.store(stamp, Ordering::Relaxed);
        stamp
    }
}

/// `floor`, or one more than the last stamp this thread took if that is higher: stamps strictly
/// increase within a thread even when racing uses lowered the store's watermark. The memory is
/// per thread, not per store (a use of one store raises the next stamp of another, harmlessly:
/// only the order of stamps within a store matters).
#[inline]
fn above_this_threads_last_stamp(floor: u64) -> u64 {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<u64> = const { Cell::new(0) };
    }
    LAST.with(|last| {
        let stamp = floor.max(last.get().saturating_add(1));
        last.set(stamp);
        stamp
    })
}

/// The order's records as a scan of every entry's stamp.
fn stamps(host: &dyn EvictionHost<Stamp>) -> impl FnOnce(&mut dyn FnMut(EntryRef, u64)) + '_ {
    move |f| host.scan(&mut |entry, stamp| f(entry, stamp.get()))
}

/// An entry's recency stamp: larger is more recent.
#[derive(Debug)]
pub struct Stamp(AtomicU64);

impl Stamp {
    #[inline]
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Lru {
    /// A policy with `capacity` (0: unbounded; recency is tracked anyway, for a later
    /// `set_capacity`).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: AtomicUsize::new(capacity),
            order: Mutex::new(LazyQueue::new()),
            stamps: Stamps::default(),
        }
    }

    /// Evicts until the store fits its capacity: expired entries first, then the oldest.
    ///
    /// The store's size (a sum over its shards) is read once; each removal then counts it down.
    /// Entries inserted meanwhile by other threads are their own puts' business (each checks
    /// after inserting, under this lock), and removals by other threads are caught by the check
    /// under the victim's lock, so nothing is evicted that need not be.
    fn shrink_to_fit(&self, order: &mut LazyQueue, host: &dyn EvictionHost<Stamp>) {
        let capacity = self.capacity.load(Ordering::Acquire);
        if capacity == 0 {
            return;
        }
        let mut over = host.stored().saturating_sub(capacity);
        while over > 0 {
            if !host.reclaim_one_expired() {
                let evicted = order.drain_upto(NEVER, 1, |entry, stamp| {
                    // Used since the record was made: requeue at its current stamp.
                    host.evict_if(entry, capacity, &mut |state| match state.get() {
                        current if current > stamp => Verdict::Keep(current),
                        _ => Verdict::Remove,
                    })
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
    /// The new entry's stamp.
    type Note = u64;

    #[inline]
    fn new_state(&self) -> Stamp {
        Stamp(AtomicU64::new(self.stamps.next()))
    }

    #[inline]
    fn note(state: &Stamp) -> u64 {
        state.get()
    }

    #[inline]
    fn touch(&self, state: &Stamp) {
        // A plain load and store (no locked instruction on the hot path): two racing uses may
        // leave the older stamp, which only makes concurrent recency approximate. Records stay
        // at or below stamps because everything that records a stamp it read (a requeue, a
        // rebuild) holds the shard's exclusive lock, which waits out uses in progress.
        let stamp = self.stamps.next();
        if stamp > state.get() {
            state.0.store(stamp, Ordering::Relaxed);
        }
    }

    fn inserted(&self, entry: EntryRef, stamp: u64, host: &dyn EvictionHost<Stamp>) {
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
        order.compact_if_sparse(|| host.stored(), stamps(host));
        self.shrink_to_fit(&mut order, host);
    }

    fn validate(&self, host: &dyn EvictionHost<Stamp>) -> Result<(), String> {
        let order = sync::lock(&self.order);
        if self.capacity.load(Ordering::Acquire) == 0 {
            return Ok(()); // unbounded: no order is kept
        }
        order.check_covers("LRU order", stamps(host))
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

    fn set_capacity(&self, capacity: usize, host: &dyn EvictionHost<Stamp>) {
        let mut order = sync::lock(&self.order);
        let before = self.capacity.swap(capacity, Ordering::AcqRel);
        if capacity == 0 {
            order.clear();
            return;
        }
        if before == 0 {
            order.rebuild(stamps(host));
        }
        self.shrink_to_fit(&mut order, host);
    }
}
