//! How expiry and eviction plug into the store.
//!
//! A policy is a generic parameter of [`Store`](crate::Store) whose hooks run inside the shard's
//! critical section, so every per-entry decision (is it expired? is this its last read? is it the
//! least recently used?) is atomic with the operation that made it. A policy that is off is a
//! zero-sized type whose hooks compile to nothing.
//!
//! Policies keep their own queues of [`EntryRef`] records (deadlines, recency stamps) and ask the
//! store, through [`Host`], to act on the entries those records name. Records are lazy: a record's
//! priority is never above its entry's current one, and a record whose entry is gone is dropped
//! when it is reached. Lock order: a policy's lock, then a shard's lock; never the reverse.

use crate::PutOptions;

/// Deadline or stamp meaning "never".
pub const NEVER: u64 = u64::MAX;

/// Names one stored entry for a policy's queue, in 8 bytes (queues hold a record per entry): the
/// shard, the entry's position in the shard's slab, and a tag from the entry's id (fresh at every
/// put), so a record of a removed entry rarely names the entry that reuses its position. When it
/// does (one newcomer in 65,536 at a reused position), no harm follows, because the store judges
/// the entry it finds by that entry's own state, not by the record: expiry removes it only if
/// its own deadline has passed (a newcomer without one drops the record), and eviction only if
/// its own stamp is no newer than the record, which in sequential use means it is the least
/// recently used (every entry has a record of its own at or below its stamp, popped first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryRef(u64);

impl EntryRef {
    /// The entry at position `at` of shard `shard`, whose id is `id`.
    pub fn new(shard: u16, at: u32, id: u32) -> Self {
        Self(u64::from(shard) << 48 | u64::from(at) << 16 | u64::from(id & 0xffff))
    }

    /// The shard.
    pub fn shard(self) -> usize {
        (self.0 >> 48) as usize
    }

    /// The position in the shard's slab.
    pub fn at(self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// Whether an entry with this id could be the one named.
    pub fn matches(self, id: u32) -> bool {
        self.0 & 0xffff == u64::from(id & 0xffff)
    }
}

/// What the store did with the entry a policy's record named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The entry is no longer stored (or was replaced): drop the record.
    Gone,
    /// The entry is still there with this newer priority: queue it again.
    Requeue(u64),
    /// The entry was removed (and counted).
    Removed,
    /// The entry stays and the record keeps its place: stop draining (nothing needs removing
    /// any more).
    Enough,
}

/// The outcome of a read decided under the shard's exclusive lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// The entry is expired: reclaim it, the read misses.
    Expired,
    /// The read succeeds and the entry stays.
    Live,
    /// The read succeeds and was the last of the entry's budget: remove it.
    Last,
}

/// What the store offers its policies. Every method takes the shard lock itself, so a policy calls
/// them while holding only its own lock.
pub trait Host {
    /// Entries held now (expired ones not yet reclaimed included).
    fn stored(&self) -> usize;
    /// Reclaims the entry if it is expired at `now` (counting one Expiration).
    fn reclaim_if_expired(&self, entry: EntryRef, now: u64) -> Probe;
    /// Evicts the entry if its recency stamp is still `stamp` and the store still holds more
    /// than `capacity` entries (counting one Eviction). The count is checked under the victim's
    /// lock, so a concurrent removal elsewhere never leads to an eviction that was not needed;
    /// and a victim found expired by then is reclaimed as an Expiration instead.
    fn evict_if_unused_since(&self, entry: EntryRef, stamp: u64, capacity: usize) -> Probe;
    /// Reclaims one expired entry, if any exists now (the store reads its clock here, so time
    /// spent waiting for locks counts). Eviction calls this first, so a live entry is never
    /// evicted while an expired one holds a slot.
    fn reclaim_one_expired(&self) -> bool;
    /// Calls `f` with every stored entry and its deadline (entries with no deadline are skipped).
    fn scan_deadlines(&self, f: &mut dyn FnMut(EntryRef, u64));
    /// Calls `f` with every stored entry and its recency stamp.
    fn scan_stamps(&self, f: &mut dyn FnMut(EntryRef, u64));
}

/// Expiry: time to live, sliding refresh, read budgets, and reclaiming expired entries.
pub trait Expiry: Send + Sync + 'static {
    /// Per-entry state.
    type State: Send + Sync;
    /// Whether the policy needs the clock at all (a store without expiry never reads it).
    const USES_CLOCK: bool;

    /// The state of a new entry put with `opts` at `now`.
    fn new_state(&self, opts: &PutOptions, now: u64) -> Self::State;
    /// A read under the shared lock: `true` when the entry is live and needs nothing exclusive
    /// (a sliding refresh is applied here); `false` sends the read to [`Expiry::read_exclusive`].
    /// For an entry whose deadline is [`NEVER`] the store skips the clock and passes `now = 0`.
    fn read_shared(state: &Self::State, now: u64) -> bool;
    /// A read under the exclusive lock.
    fn read_exclusive(state: &mut Self::State, now: u64) -> Read;
    /// The entry's deadline, [`NEVER`] when it has none.
    fn deadline(state: &Self::State) -> u64;
    /// Whether the entry is expired at `now` (expired at exactly its deadline).
    #[inline]
    fn is_expired(state: &Self::State, now: u64) -> bool {
        Self::deadline(state) <= now
    }
    /// Records a new entry with a deadline in the expiry index.
    fn track(&self, entry: EntryRef, deadline: u64, host: &dyn Host);
    /// A cheap check: could anything be expired at `now`? (`false` is certain.)
    fn may_have_expired(&self, now: u64) -> bool;
    /// Reclaims up to `limit` expired entries; returns how many.
    fn reclaim(&self, now: u64, limit: usize, host: &dyn Host) -> usize;
    /// The index's records, for `validate()`.
    fn records(&self) -> Vec<(EntryRef, u64)>;
}

/// Eviction: recency order and capacity.
pub trait Eviction: Send + Sync + 'static {
    /// Per-entry state.
    type State: Send + Sync;

    /// Whether the policy orders entries by recency; when `false` the store computes no stamps.
    const TRACKS_RECENCY: bool;

    /// The state of a new entry, used at `stamp` (a put is a use).
    fn new_state(&self, stamp: u64) -> Self::State;
    /// Marks a use (a successful `get`) at `stamp`. Stamps come from the store and grow with
    /// sequential uses; a touch must never leave the entry's stamp below the stamp it found
    /// (the order's records rely on it), but of two racing uses either stamp may stay.
    fn touch(&self, state: &Self::State, stamp: u64);
    /// The entry's recency stamp: larger is more recent.
    fn stamp(state: &Self::State) -> u64;
    /// Records a new entry and evicts while the store is over capacity.
    fn admit(&self, entry: EntryRef, stamp: u64, host: &dyn Host);
    /// The order's records, for `validate()`; `None` while it keeps none (unbounded).
    fn records(&self) -> Option<Vec<(EntryRef, u64)>>;
}

/// An eviction policy with a capacity that can change at run time.
pub trait Capacity: Eviction {
    /// The capacity; 0 is unbounded.
    fn capacity(&self) -> usize;
    /// The policy with a different capacity, before its store is built.
    fn with_capacity(self, capacity: usize) -> Self
    where
        Self: Sized;
    /// Sets the capacity and evicts at once down to it (0 is unbounded).
    fn set_capacity(&self, capacity: usize, host: &dyn Host);
}

/// No expiry: entries live until removed. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExpiry;

impl Expiry for NoExpiry {
    type State = ();
    const USES_CLOCK: bool = false;

    #[inline]
    fn new_state(&self, _: &PutOptions, _: u64) {}
    #[inline]
    fn read_shared(_: &(), _: u64) -> bool {
        true
    }
    #[inline]
    fn read_exclusive(_: &mut (), _: u64) -> Read {
        Read::Live
    }
    #[inline]
    fn deadline(_: &()) -> u64 {
        NEVER
    }
    #[inline]
    fn track(&self, _: EntryRef, _: u64, _: &dyn Host) {}
    #[inline]
    fn may_have_expired(&self, _: u64) -> bool {
        false
    }
    #[inline]
    fn reclaim(&self, _: u64, _: usize, _: &dyn Host) -> usize {
        0
    }
    fn records(&self) -> Vec<(EntryRef, u64)> {
        Vec::new()
    }
}

/// No eviction and no recency: an unbounded store. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEviction;

impl Eviction for NoEviction {
    type State = ();
    const TRACKS_RECENCY: bool = false;

    #[inline]
    fn new_state(&self, _: u64) {}
    #[inline]
    fn touch(&self, _: &(), _: u64) {}
    #[inline]
    fn stamp(_: &()) -> u64 {
        0
    }
    #[inline]
    fn admit(&self, _: EntryRef, _: u64, _: &dyn Host) {}
    fn records(&self) -> Option<Vec<(EntryRef, u64)>> {
        None
    }
}

/// What happened to an entry, for a [`Listener`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A `put` stored a key that held no live entry.
    Inserted,
    /// A `put` replaced a live entry.
    Replaced,
    /// A `get` returned the value.
    Hit,
    /// A `get` found nothing live.
    Miss,
    /// An expired entry was reclaimed.
    Expired,
    /// A live entry was evicted to respect the capacity.
    Evicted,
    /// The last read of a read budget removed the entry (after its `Hit`).
    Consumed,
    /// `del` removed a live entry.
    Removed,
    /// `clear` removed the entry.
    Cleared,
}

/// Receives the store's events, inside the critical section of the operation (so events for one
/// key arrive in the order they happened). Must be quick and must not call back into the store.
pub trait Listener<K>: Send + Sync + 'static {
    /// Whether anyone listens; when `false` the store skips building events altogether.
    fn is_active(&self) -> bool;
    /// One event.
    fn on_event(&self, kind: EventKind, key: &K);
}

/// Nobody listens. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoListener;

impl<K> Listener<K> for NoListener {
    #[inline]
    fn is_active(&self) -> bool {
        false
    }
    #[inline]
    fn on_event(&self, _: EventKind, _: &K) {}
}

/// Turns a store into a store with one more policy: the builder-level form of tower's `Layer`.
///
/// ```
/// use kv_core::{Layer, StoreBuilder};
///
/// struct Shards(usize);
/// impl<K, V> Layer<StoreBuilder<K, V>> for Shards {
///     type Output = StoreBuilder<K, V>;
///     fn layer(&self, inner: StoreBuilder<K, V>) -> Self::Output {
///         inner.shards(self.0)
///     }
/// }
/// let store = StoreBuilder::<String, u64>::new().layer(Shards(4)).build();
/// assert!(store.is_empty());
/// ```
pub trait Layer<B> {
    /// The builder with the policy applied.
    type Output;
    /// Applies the policy to `inner`.
    fn layer(&self, inner: B) -> Self::Output;
}
