//! The store as its policies see it during one call: the [`Host`]s of `policy`.

use std::cell::RefCell;

use super::{EvictionState, ExpiryState, GoneOf, Inner, ShardOf, SlotOf, TableOf};
use crate::policy::{EntryRef, Eviction, EvictionHost, Expiry, Host, Policies, Under, Verdict};
use crate::removal::RemovalCause;
use crate::sync;
use crate::table::At;
use crate::{StoreHasher, StoreKey, StoreValue};

/// The store during one call. Entries it removes are kept here and dropped when the call is over,
/// after every lock is released, so a value's `Drop` never runs under one. Each policy sees it
/// through its own view ([`HostCall::for_expiry`], [`HostCall::for_eviction`]): the two hosts
/// differ in what a removal counts as, and their states may be the same type.
pub(super) struct HostCall<'a, K, V, P: Policies<K>, S> {
    inner: &'a Inner<K, V, P, S>,
    /// The first entry removed: a put evicts one at most, and keeping it here spares a `Vec`
    /// allocation per evicting put.
    first_removed: RefCell<Option<GoneOf<K, V, P>>>,
    /// The entries removed after the first.
    more_removed: RefCell<Vec<GoneOf<K, V, P>>>,
}

/// A [`HostCall`] as the expiry policy's [`Host`]: its removals are Expirations.
pub(super) struct ExpiryView<'c, 'a, K, V, P: Policies<K>, S>(&'c HostCall<'a, K, V, P, S>);

/// A [`HostCall`] as the eviction policy's [`EvictionHost`]: its removals are Evictions.
pub(super) struct EvictionView<'c, 'a, K, V, P: Policies<K>, S>(&'c HostCall<'a, K, V, P, S>);

impl<'a, K, V, P: Policies<K>, S> HostCall<'a, K, V, P, S> {
    pub(super) fn new(inner: &'a Inner<K, V, P, S>) -> Self {
        Self {
            inner,
            first_removed: RefCell::new(None),
            more_removed: RefCell::new(Vec::new()),
        }
    }

    /// The host the expiry policy is given.
    pub(super) fn for_expiry(&self) -> ExpiryView<'_, 'a, K, V, P, S> {
        ExpiryView(self)
    }

    /// The host the eviction policy is given.
    pub(super) fn for_eviction(&self) -> EvictionView<'_, 'a, K, V, P, S> {
        EvictionView(self)
    }

    /// Keeps a removed entry until the call is over.
    fn hold_until_done(&self, gone: Option<GoneOf<K, V, P>>) {
        let Some(gone) = gone else { return };
        let mut first = self.first_removed.borrow_mut();
        if first.is_none() {
            *first = Some(gone);
        } else {
            self.more_removed.borrow_mut().push(gone);
        }
    }

    /// Calls `f` with each entry's position and slot, each shard under its exclusive lock: a
    /// read may change a policy's state with a plain load and store under the shared lock, so
    /// a scan that records what it read waits those reads out.
    fn scan_slots(&self, mut f: impl FnMut(EntryRef, &SlotOf<K, V, P>)) {
        for (index, shard) in self.inner.shards.iter().enumerate() {
            let table = sync::write(&shard.table);
            for (at, s) in table.positions() {
                f(EntryRef::new(index as u16, at, s.hash), s);
            }
        }
    }
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> HostCall<'_, K, V, P, S> {
    /// Finds the entry a record names and lets `decide` remove it: `decide` returns why, or
    /// what becomes of the record instead. It is asked first under the shard's shared lock, so
    /// a probe that keeps the entry (the common answer while readers use it) does not wait for
    /// them; only a removal takes the exclusive lock, and asks again under it. Sound for a
    /// judge whose state only moves one way under the shared lock (a deadline's `fetch_max`);
    /// one whose state racing readers may move back (kv-lru's plain stamp stores) decides only
    /// under [`Under::Exclusive`] and answers `Remove` under the shared lock to be asked again.
    fn judge(
        &self,
        entry: EntryRef,
        mut decide: impl FnMut(&SlotOf<K, V, P>, Under) -> Result<RemovalCause, Verdict>,
    ) -> Verdict {
        let inner = self.inner;
        let Some(shard) = inner.shards.get(entry.shard()) else {
            return Verdict::Forget;
        };
        let at: At = entry.at();
        // Nobody on the shard (always, at one thread): judge once, under the exclusive lock. A
        // busy shard is judged under its shared lock first, so that a record the judge keeps
        // or forgets (a stale one) holds up no reader there.
        let mut table = match sync::try_write(&shard.table) {
            Some(table) => table,
            None => {
                {
                    let table = sync::read(&shard.table);
                    let Some(slot) = table.get(at).filter(|s| entry.matches(s.hash)) else {
                        return Verdict::Forget;
                    };
                    if let Err(verdict) = decide(slot, Under::Shared) {
                        return verdict;
                    }
                }
                sync::write(&shard.table)
            }
        };
        // The victim's index word is loaded at its removal; start that load beside the slot's.
        table.warm_bucket(entry.tag());
        let Some(slot) = table.get(at).filter(|s| entry.matches(s.hash)) else {
            return Verdict::Forget;
        };
        match decide(slot, Under::Exclusive) {
            Err(verdict) => verdict,
            Ok(why) => {
                let gone = inner.remove(shard, &mut table, at, why, false);
                drop(table);
                self.hold_until_done(gone);
                Verdict::Remove
            }
        }
    }
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Inner<K, V, P, S> {
    /// The way out of an operation that removes the entry at `at` itself (not through a
    /// policy): removes it under the exclusive lock it was found under, releases the lock, then
    /// tells both policies. The caller drops (or returns) what is left, outside the lock.
    pub(super) fn remove_and_unlock(
        &self,
        shard: &ShardOf<K, V, P>,
        mut table: sync::RwLockWriteGuard<'_, TableOf<K, V, P>>,
        at: At,
        why: RemovalCause,
        keep_value: bool,
    ) -> Option<GoneOf<K, V, P>> {
        let gone = self.remove(shard, &mut table, at, why, keep_value);
        drop(table);
        if let Some(gone) = &gone {
            self.tell_removed(gone);
        }
        gone
    }

    /// Tells both policies that an entry left the store by a way they did not drive (call after
    /// releasing its shard lock).
    pub(super) fn tell_removed(&self, gone: &GoneOf<K, V, P>) {
        let host = HostCall::new(self);
        self.expiry.removed(gone.expiry, &host.for_expiry());
        self.eviction.removed(gone.eviction, &host.for_eviction());
    }
}

/// What `judge` said, as the answer of a probe: a removal, or what becomes of the record.
fn removal(verdict: Verdict, cause: RemovalCause) -> Result<RemovalCause, Verdict> {
    match verdict {
        Verdict::Remove => Ok(cause),
        other => Err(other),
    }
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Host<ExpiryState<K, P>>
    for ExpiryView<'_, '_, K, V, P, S>
{
    fn stored(&self) -> usize {
        self.0.inner.stored()
    }

    fn remove_if(
        &self,
        entry: EntryRef,
        judge: &mut dyn FnMut(&ExpiryState<K, P>, Under) -> Verdict,
    ) -> Verdict {
        self.0.judge(entry, |slot, under| {
            removal(judge(&slot.expiry, under), RemovalCause::Expired)
        })
    }

    fn scan(&self, f: &mut dyn FnMut(EntryRef, &ExpiryState<K, P>)) {
        self.0.scan_slots(|entry, slot| f(entry, &slot.expiry));
    }
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Host<EvictionState<K, P>>
    for EvictionView<'_, '_, K, V, P, S>
{
    fn stored(&self) -> usize {
        self.0.inner.stored()
    }

    fn remove_if(
        &self,
        entry: EntryRef,
        judge: &mut dyn FnMut(&EvictionState<K, P>, Under) -> Verdict,
    ) -> Verdict {
        let inner = self.0.inner;
        self.0.judge(entry, |slot, under| {
            removal(judge(&slot.eviction, under), RemovalCause::Evicted)?;
            // A victim that expired while the evictor waited is an Expiration, not an Eviction.
            // Judged like a read, by the recent time (see `time`).
            let expired = P::Expiry::may_expire(&slot.expiry)
                && P::Expiry::is_expired(&slot.expiry, inner.recent());
            Ok(if expired {
                RemovalCause::Expired
            } else {
                RemovalCause::Evicted
            })
        })
    }

    fn scan(&self, f: &mut dyn FnMut(EntryRef, &EvictionState<K, P>)) {
        self.0.scan_slots(|entry, slot| f(entry, &slot.eviction));
    }
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> EvictionHost<EvictionState<K, P>>
    for EvictionView<'_, '_, K, V, P, S>
{
    fn occupancy(&self) -> usize {
        self.0.inner.occupancy()
    }

    fn weighs(&self) -> bool {
        self.0.inner.weigher.is_some()
    }

    fn reclaim_one_expired(&self) -> bool {
        // Nothing that may expire, no clock read: eviction asks this at every victim.
        let expiry = &self.0.inner.expiry;
        if !P::Expiry::uses_clock() || !expiry.may_expire_any() {
            return false;
        }
        // Judged like a read, by the recent time (see `time`): no exact reading per victim.
        let now = self.0.inner.recent();
        expiry.may_have_expired(now) && expiry.reclaim(now, 1, &self.0.for_expiry()) == 1
    }

    #[inline]
    fn warm(&self, entry: EntryRef) {
        let Some(shard) = self.0.inner.shards.get(entry.shard()) else {
            return;
        };
        if let Some(table) = sync::try_read(&shard.table) {
            table.warm_slot(entry.at());
            table.warm_bucket(entry.tag());
        }
    }
}
