//! The expiry hook: when entries stop being live, and reclaiming those that did.

use std::time::Duration;

use super::{EntryRef, Host, Read};

/// Expiry: when entries stop being live, and reclaiming those that did.
pub trait Expiry: Send + Sync + 'static {
    /// Per-entry state, stored in the entry.
    type State: Send + Sync;
    /// What a `put` can say about its entry (`()` for none, so a store without expiry takes no
    /// expiry options: passing them does not compile).
    type Options: Default;
    /// What [`Expiry::inserted`] and [`Expiry::removed`] are told of an entry: copied out of its
    /// state while the store still holds the entry's lock (kv-ttl: its deadline).
    type Summary: Copy;

    /// Whether the policy needs the clock at all: a store whose expiry says no never reads it.
    fn uses_clock() -> bool;
    /// Whether any entry may expire at all; `false` (nothing was ever given an expiry, or
    /// nothing that had one is left) lets a put and an eviction skip reading the clock.
    fn may_expire_any(&self) -> bool;
    /// The state of a new entry put with `options` at `now`.
    fn new_state(&self, options: &Self::Options, now: u64) -> Self::State;
    /// What [`Expiry::inserted`] and [`Expiry::removed`] will need of the entry.
    fn summary(state: &Self::State) -> Self::Summary;
    /// Whether a put with `options` needs the current time for its own state. `false` (and
    /// nothing it replaces or makes room for may be expired) lets a put on the system clock skip
    /// reading it.
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
    fn inserted(&self, entry: EntryRef, summary: Self::Summary, host: &dyn Host<Self::State>);
    /// A put replaced an entry (whose summary was `replaced`) with a new one at the same
    /// position: `entry` names both, so the records of the one replaced name the newcomer. By
    /// default, as [`Expiry::inserted`]; a policy whose old record still covers the newcomer
    /// need not add one.
    fn replaced(
        &self,
        entry: EntryRef,
        summary: Self::Summary,
        replaced: Self::Summary,
        host: &dyn Host<Self::State>,
    ) {
        let _ = replaced;
        self.inserted(entry, summary, host);
    }
    /// A cheap check: could anything be expired at `now`? (`false` is certain.)
    fn may_have_expired(&self, now: u64) -> bool;
    /// Reclaims up to `limit` expired entries; returns how many.
    fn reclaim(&self, now: u64, limit: usize, host: &dyn Host<Self::State>) -> usize;
    /// An entry left the store by a way the policy did not drive (`del`, a read that used it
    /// up or found it expired, a `put` over it), after its shard lock was released: a policy
    /// that keeps records reclaims those of removed entries in time proportional to removals.
    fn removed(&self, summary: Self::Summary, host: &dyn Host<Self::State>);
    /// The store was cleared (after its shards were emptied): drop every record at once.
    fn cleared(&self, host: &dyn Host<Self::State>);
    /// Checks the policy's own bookkeeping against the entries (for tests; the store is quiet).
    fn validate(&self, host: &dyn Host<Self::State>) -> Result<(), String>;
    /// Whether reads may say [`Read::Refresh`] (only `Refreshing` does): when `false` the store
    /// compiles no reload into its read path, so a store that does not refresh reads exactly
    /// as it would without the feature.
    const REFRESHES: bool = false;

    /// Which put made this entry, among every put into the store (`Refreshing` numbers them; 0
    /// for a policy that does not refresh, whose entries are never asked): a reload goes in
    /// only over the entry it was started for.
    #[inline]
    fn entry_id(_state: &Self::State) -> u64 {
        0
    }

    /// Whether a reload may replace this entry (refresh-ahead, `Refreshing`): `false` for an
    /// entry whose reads are counted to it (kv-ttl: a read budget), which a reload would reset.
    #[inline]
    fn refreshable(_state: &Self::State) -> bool {
        true
    }
}

/// An expiry policy with a store-wide default for puts that name no expiry of their own (kv-ttl's
/// `Ttl`). The builder's `time_to_live` and `time_to_idle` set it.
pub trait DefaultTtl: Expiry + Sized {
    /// Puts that name no TTL expire `ttl` after the put.
    #[must_use]
    fn with_time_to_live(self, ttl: Duration) -> Self;
    /// Puts that name no TTL expire `idle` after their last successful `get`.
    #[must_use]
    fn with_time_to_idle(self, idle: Duration) -> Self;
}

/// No expiry: entries live until removed. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExpiry;

impl Expiry for NoExpiry {
    type State = ();
    type Options = ();
    type Summary = ();

    #[inline]
    fn uses_clock() -> bool {
        false
    }
    #[inline]
    fn may_expire_any(&self) -> bool {
        false
    }
    #[inline]
    fn new_state(&self, _: &(), _: u64) {}
    #[inline]
    fn summary(_: &()) {}
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
    fn inserted(&self, _: EntryRef, _: (), _: &dyn Host<()>) {}
    #[inline]
    fn may_have_expired(&self, _: u64) -> bool {
        false
    }
    #[inline]
    fn reclaim(&self, _: u64, _: usize, _: &dyn Host<()>) -> usize {
        0
    }
    #[inline]
    fn removed(&self, _: (), _: &dyn Host<()>) {}
    fn cleared(&self, _: &dyn Host<()>) {}
    fn validate(&self, _: &dyn Host<()>) -> Result<(), String> {
        Ok(())
    }
}
