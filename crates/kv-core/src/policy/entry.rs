//! How a policy names an entry, and what it and the store say about one.

/// Names one stored entry for a policy's queue, in 8 bytes (queues hold a record per entry): the
/// shard, the entry's position in the shard's slab, and a tag of 16 bits of its key's hash.
///
/// A put that replaces an entry keeps its position and key, so the records of the entry it
/// replaces name the newcomer: an LRU order needs no new record for a replacement (its old
/// record's stamp is below the newcomer's), which keeps replacing puts from filling the order
/// with dead records. A record of a removed entry names an entry of another key at the same
/// position once in 65,536 such reuses, and one of the same key re-inserted there always. Either
/// way the host shows the policy that entry's own state and the policy judges by it, not by the
/// record (see [`Verdict`]): a record below the entry's priority is requeued at it, and one above
/// it (a deadline the newcomer does not have) finds the newcomer live until its own record, which
/// its insert queued, comes first. No record leads to a wrong removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryRef(u64);

impl EntryRef {
    /// The entry at position `at` of shard `shard`, whose key hash (the bits the store keeps)
    /// is `hash`.
    pub fn new(shard: u16, at: u32, hash: u32) -> Self {
        Self(u64::from(shard) << 48 | u64::from(at) << 16 | u64::from(hash & 0xffff))
    }

    /// The shard.
    pub fn shard(self) -> usize {
        (self.0 >> 48) as usize
    }

    /// The position in the shard's slab.
    pub fn at(self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// The 16 bits of the key hash it keeps: the low ones, which also pick the entry's bucket in
    /// a shard's index of up to 65,536 words (see `Table::warm_bucket`).
    pub(crate) fn tag(self) -> u16 {
        self.0 as u16
    }

    /// Whether an entry with this key hash could be the one named.
    pub fn matches(self, hash: u32) -> bool {
        self.0 & 0xffff == u64::from(hash & 0xffff)
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

/// Which of the entry's shard locks a judge is asked under (see [`Host::remove_if`]).
///
/// [`Host::remove_if`]: super::Host::remove_if
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Under {
    /// The shared lock: readers may be changing what the judge reads, and a
    /// [`Verdict::Remove`] is asked again under the exclusive lock before it is acted on. A
    /// judge can leave checks that only matter for the removal itself to that second asking,
    /// and must: a value read here may still move (a deadline only later; an LRU stamp, stored
    /// plainly by racing readers, back as well), so record nothing read here that readers can
    /// move back.
    Shared,
    /// The exclusive lock: a [`Verdict::Remove`] now removes the entry.
    Exclusive,
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
