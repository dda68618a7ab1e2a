//! The eviction hook: told of every use, it decides what goes when the store is over capacity.

use super::{EntryRef, EvictionHost};

/// Eviction: told of every use, it decides whether an entry may be stored at all and picks the
/// entry to remove when the store is over capacity. The store only keeps the books capacity is
/// checked against ([`EvictionHost::occupancy`]).
pub trait Eviction: Send + Sync + 'static {
    /// Per-entry state, stored in the entry.
    type State: Send + Sync;
    /// Per-shard state, stored beside the shard's lock (whose cache line every operation on the
    /// shard writes already), so a use can update it without touching a line other shards share.
    type Shard: Default + Send + Sync;
    /// What [`Eviction::inserted`] and [`Eviction::removed`] are told of an entry: copied out of
    /// its state while the store still holds the entry's lock (kv-lru: its stamp).
    type Summary: Copy;

    /// The state of a new entry in a shard with this state (a put is a use).
    fn new_state(&self, shard: &Self::Shard) -> Self::State;
    /// What [`Eviction::inserted`] and [`Eviction::removed`] will need of the entry.
    fn summary(state: &Self::State) -> Self::Summary;
    /// Marks a use (a successful `get`) of an entry of this shard, under its shared lock.
    fn touch(&self, shard: &Self::Shard, state: &Self::State);
    /// Whether an entry of this weight can be stored at all (a store with a weigher asks before
    /// every put; one refused is evicted at once instead).
    fn admits(&self, weight: u64) -> bool {
        let _ = weight;
        true
    }
    /// The store took in a new entry (after releasing its shard lock): the policy records it and
    /// evicts while the store is over capacity.
    fn inserted(
        &self,
        entry: EntryRef,
        summary: Self::Summary,
        host: &dyn EvictionHost<Self::State>,
    );
    /// A put replaced an entry with a new one at the same position (`entry` names both: the
    /// records of the one replaced name the newcomer). By default, as [`Eviction::inserted`]; a
    /// policy whose records stay valid for the newcomer (a recency stamp only rises) need not
    /// add one.
    fn replaced(
        &self,
        entry: EntryRef,
        summary: Self::Summary,
        host: &dyn EvictionHost<Self::State>,
    ) {
        self.inserted(entry, summary, host);
    }
    /// An entry left the store by a way the policy did not drive (see
    /// [`Expiry::removed`](super::Expiry::removed)).
    fn removed(&self, summary: Self::Summary, host: &dyn EvictionHost<Self::State>);
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

/// No eviction: an unbounded store that tracks no use. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEviction;

impl Eviction for NoEviction {
    type State = ();
    type Shard = ();
    type Summary = ();

    #[inline]
    fn new_state(&self, _: &()) {}
    #[inline]
    fn summary(_: &()) {}
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
