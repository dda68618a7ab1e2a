//! The hooks through which policies decide over the store's entries.
//!
//! The store has two policy slots, each a generic parameter of [`Store`](crate::Store) whose
//! hooks run inside the shard's critical section, so every per-entry decision is atomic with the
//! operation that made it:
//!
//! - [`Expiry`] decides when an entry stops being live (is it expired? does this read use up the
//!   entry?) and reclaims expired entries: `kv-ttl` implements it.
//! - [`Eviction`] is told of every use and decides which entry goes when the store is over its
//!   capacity: `kv-lru` implements it.
//!
//! The store knows neither deadlines nor recency: each policy keeps its per-entry state in the
//! entry (an associated `State` type the store stores opaquely) and its own index of entries,
//! named by [`EntryRef`]. To act on an entry, a policy asks the store through a host
//! ([`ExpiryHost`], [`EvictionHost`]), which takes the entry's shard lock, shows the policy the
//! entry's state, and removes the entry when the policy's [`Verdict`] says so, keeping the
//! counters and events. A policy that is off ([`NoExpiry`], [`NoEviction`]) is a zero-sized type
//! whose hooks compile to nothing. Lock order: a policy's lock, then a shard's lock; never the
//! reverse.

/// Names one stored entry for a policy's queue, in 8 bytes (queues hold a record per entry): the
/// shard, the entry's position in the shard's slab, and a tag from the entry's id (fresh at every
/// put), so a record of a removed entry rarely names the entry that reuses its position. When it
/// does (one newcomer in 65,536 at a reused position), the host shows the policy the newcomer's
/// own state and the policy judges by that, not by the record (see [`Verdict`]): a record that
/// never promises more than its entry's state (a deadline or stamp no later than the entry's)
/// leads to no wrong removal.
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

/// A policy's judgement of one entry, given its state under the entry's shard lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Remove it now.
    Remove,
    /// Not yet: its current priority in the policy's own order is this one.
    Keep(u64),
    /// The entry is not one the policy tracks (a newcomer at a reused position): forget the
    /// record.
    Untracked,
}

/// The outcome of a read decided under the shard's exclusive lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// The entry is expired: reclaim it, the read misses.
    Expired,
    /// The read succeeds and the entry stays.
    Live,
    /// The read succeeds and uses the entry up: remove it (counted as consumed, not as an
    /// expiration or eviction).
    Consumed,
}

/// What the store offers its expiry policy. Every method takes the shard lock itself, so the
/// policy calls them while holding only its own lock.
pub trait ExpiryHost<S> {
    /// Entries held now (expired ones not yet reclaimed included).
    fn stored(&self) -> usize;
    /// Shows the policy the entry's state under its shard's lock (shared, and exclusive again before
    /// a removal: what a policy judges by must only move one way, as deadlines and stamps do); on
    /// [`Verdict::Remove`] reclaims it (one Expiration).
    fn reclaim_if(&self, entry: EntryRef, judge: &mut dyn FnMut(&S) -> Verdict) -> Probe;
    /// Calls `f` with every stored entry and its state, each shard under its exclusive lock (so
    /// no read is half way through changing the state).
    fn scan(&self, f: &mut dyn FnMut(EntryRef, &S));
}

/// What the store offers its eviction policy. Every method takes the shard lock itself, so the
/// policy calls them while holding only its own lock.
pub trait EvictionHost<S> {
    /// Entries held now (expired ones not yet reclaimed included).
    fn stored(&self) -> usize;
    /// What capacity bounds, now: [`EvictionHost::stored`], or the entries' total weight when
    /// the store has a weigher.
    fn load(&self) -> usize;
    /// Whether the store has a weigher (an eviction then frees an entry's weight, not one).
    fn weighs(&self) -> bool;
    /// Shows the policy the entry's state under its shard's lock (shared, and exclusive again before
    /// a removal: what a policy judges by must only move one way, as deadlines and stamps do); on
    /// [`Verdict::Remove`] evicts it (one Eviction) if the store's [load](EvictionHost::load) is
    /// still over `capacity`, and answers [`Probe::Enough`] otherwise. The count is checked under
    /// the victim's lock, so a concurrent removal elsewhere never leads to an eviction that was
    /// not needed; a victim found expired by then is reclaimed as an Expiration instead.
    fn evict_if(
        &self,
        entry: EntryRef,
        capacity: usize,
        judge: &mut dyn FnMut(&S) -> Verdict,
    ) -> Probe;
    /// Reclaims one expired entry, if any exists now (through the expiry policy; the store reads
    /// its clock here, so time spent waiting for locks counts). Eviction calls this first, so a
    /// live entry is never evicted while an expired one holds a slot.
    fn reclaim_one_expired(&self) -> bool;
    /// Calls `f` with every stored entry and its state, each shard under its exclusive lock (so
    /// no use is half way through changing the state).
    fn scan(&self, f: &mut dyn FnMut(EntryRef, &S));
}

/// Expiry: when entries stop being live, and reclaiming those that did.
pub trait Expiry: Send + Sync + 'static {
    /// Per-entry state, stored in the entry.
    type State: Send + Sync;
    /// What a `put` can say about its entry (`()` for none, so a store without expiry takes no
    /// expiry options: passing them does not compile).
    type Options: Default;
    /// What the policy needs to know of a new entry after the store took it in (taken from the
    /// state before the entry moves into the store).
    type Note: Copy;
    /// Whether the policy needs the clock at all (a store without expiry never reads it).
    const USES_CLOCK: bool;

    /// The state of a new entry put with `options` at `now`.
    fn new_state(&self, options: &Self::Options, now: u64) -> Self::State;
    /// What [`Expiry::inserted`] will need of the entry.
    fn note(state: &Self::State) -> Self::Note;
    /// Whether a put with `options` needs the current time (for its own state, or to judge what
    /// it replaces). `false` lets a put on the system clock skip reading it.
    fn put_needs_time(&self, options: &Self::Options) -> bool;
    /// Whether the entry can ever expire; an entry that cannot is read without the clock.
    fn may_expire(state: &Self::State) -> bool;
    /// Whether the entry is expired at `now`.
    fn is_expired(state: &Self::State, now: u64) -> bool;
    /// A read under the shared lock: `true` when the entry is live and needs nothing exclusive
    /// (any change is made here, atomically); `false` sends the read to
    /// [`Expiry::read_exclusive`]. For an entry that cannot expire the store may pass `now = 0`.
    /// `now` may trail the true time by up to `lag` (the store's recent time): liveness is
    /// judged by `now`, and a refresh counts from `now + lag`, so it never shortens a TTL.
    fn read_shared(state: &Self::State, now: u64, lag: u64) -> bool;
    /// A read under the exclusive lock (`now` and `lag` as for [`Expiry::read_shared`]).
    fn read_exclusive(state: &mut Self::State, now: u64, lag: u64) -> Read;
    /// The store took in a new entry (after releasing its shard lock).
    fn inserted(&self, entry: EntryRef, note: Self::Note, host: &dyn ExpiryHost<Self::State>);
    /// A cheap check: could anything be expired at `now`? (`false` is certain.)
    fn may_have_expired(&self, now: u64) -> bool;
    /// Reclaims up to `limit` expired entries; returns how many.
    fn reclaim(&self, now: u64, limit: usize, host: &dyn ExpiryHost<Self::State>) -> usize;
    /// An entry left the store by a way the policy did not drive (`del`, a read that used it
    /// up or found it expired, a `put` over it), after its shard lock was released: a policy
    /// that keeps records reclaims those of removed entries in time proportional to removals.
    fn removed(&self, note: Self::Note, host: &dyn ExpiryHost<Self::State>);
    /// The store was cleared (after its shards were emptied): drop every record at once.
    fn cleared(&self, host: &dyn ExpiryHost<Self::State>);
    /// Checks the policy's own bookkeeping against the entries (for tests; the store is quiet).
    fn validate(&self, host: &dyn ExpiryHost<Self::State>) -> Result<(), String>;
}

/// Eviction: told of every use, it picks the entry to remove when the store is over capacity.
pub trait Eviction: Send + Sync + 'static {
    /// Per-entry state, stored in the entry.
    type State: Send + Sync;
    /// Per-shard state, stored beside the shard's lock (whose cache line every operation on the
    /// shard writes already), so a use can update it without touching a line other shards share.
    type Shard: Default + Send + Sync;
    /// What the policy needs to know of a new entry after the store took it in.
    type Note: Copy;

    /// The state of a new entry in a shard with this state (a put is a use).
    fn new_state(&self, shard: &Self::Shard) -> Self::State;
    /// What [`Eviction::inserted`] will need of the entry.
    fn note(state: &Self::State) -> Self::Note;
    /// Marks a use (a successful `get`) of an entry of this shard, under its shared lock.
    fn touch(&self, shard: &Self::Shard, state: &Self::State);
    /// Whether an entry of this weight can be stored at all (a store with a weigher asks before
    /// every put; one heavier than the whole capacity is evicted at once instead).
    fn admits(&self, weight: u64) -> bool {
        let _ = weight;
        true
    }
    /// The store took in a new entry (after releasing its shard lock): the policy records it and
    /// evicts while the store is over capacity.
    fn inserted(&self, entry: EntryRef, note: Self::Note, host: &dyn EvictionHost<Self::State>);
    /// An entry left the store by a way the policy did not drive (see [`Expiry::removed`]).
    fn removed(&self, note: Self::Note, host: &dyn EvictionHost<Self::State>);
    /// The store was cleared (after its shards were emptied): drop every record at once.
    fn cleared(&self, host: &dyn EvictionHost<Self::State>);
    /// Checks the policy's own bookkeeping against the entries (for tests; the store is quiet).
    fn validate(&self, host: &dyn EvictionHost<Self::State>) -> Result<(), String>;
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
    fn set_capacity(&self, capacity: usize, host: &dyn EvictionHost<Self::State>);
}

/// No expiry: entries live until removed. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExpiry;

impl Expiry for NoExpiry {
    type State = ();
    type Options = ();
    type Note = ();
    const USES_CLOCK: bool = false;

    #[inline]
    fn new_state(&self, _: &(), _: u64) {}
    #[inline]
    fn note(_: &()) {}
    #[inline]
    fn put_needs_time(&self, _: &()) -> bool {
        false
    }
    #[inline]
    fn may_expire(_: &()) -> bool {
        false
    }
    #[inline]
    fn is_expired(_: &(), _: u64) -> bool {
        false
    }
    #[inline]
    fn read_shared(_: &(), _: u64, _: u64) -> bool {
        true
    }
    #[inline]
    fn read_exclusive(_: &mut (), _: u64, _: u64) -> Read {
        Read::Live
    }
    #[inline]
    fn inserted(&self, _: EntryRef, _: (), _: &dyn ExpiryHost<()>) {}
    #[inline]
    fn may_have_expired(&self, _: u64) -> bool {
        false
    }
    #[inline]
    fn reclaim(&self, _: u64, _: usize, _: &dyn ExpiryHost<()>) -> usize {
        0
    }
    #[inline]
    fn removed(&self, _: (), _: &dyn ExpiryHost<()>) {}
    fn cleared(&self, _: &dyn ExpiryHost<()>) {}
    fn validate(&self, _: &dyn ExpiryHost<()>) -> Result<(), String> {
        Ok(())
    }
}

/// No eviction: an unbounded store that tracks no use. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEviction;

impl Eviction for NoEviction {
    type State = ();
    type Shard = ();
    type Note = ();

    #[inline]
    fn new_state(&self, _: &()) {}
    #[inline]
    fn note(_: &()) {}
    #[inline]
    fn touch(&self, _: &(), _: &()) {}
    #[inline]
    fn inserted(&self, _: EntryRef, _: (), _: &dyn EvictionHost<()>) {}
    #[inline]
    fn removed(&self, _: (), _: &dyn EvictionHost<()>) {}
    fn cleared(&self, _: &dyn EvictionHost<()>) {}
    fn validate(&self, _: &dyn EvictionHost<()>) -> Result<(), String> {
        Ok(())
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
