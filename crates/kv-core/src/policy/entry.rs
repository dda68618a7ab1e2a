//! How a policy names an entry, and what it and the store say about one.

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

/// What becomes of the entry a policy's record names, and of the record. A policy's judge says
/// it of the entry's state under the entry's shard lock; the host acts on it and answers with what
/// it did, which a [`LazyQueue`](super::queue::LazyQueue) drain acts on in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Remove the entry. From the host: it was removed (and counted).
    Remove,
    /// Keep the entry: its current priority in the policy's order is this one, so the record is
    /// queued again there.
    Keep(u64),
    /// Drop the record: the entry is no longer stored, or it is not one the policy keeps a
    /// record of (a newcomer at a reused position).
    Forget,
    /// Keep the entry and its record where it is, and stop draining: nothing needs removing any
    /// more (an evicting policy whose store fits again).
    Stop,
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
    /// The read succeeds, the entry stays, and its refresh point has passed: the store starts
    /// a reload of it (only a refreshing expiry policy, `Refreshing`, says this).
    Refresh,
}
