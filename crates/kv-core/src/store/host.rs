//! The store as its policies see it during one call: the hosts of `policy`.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hash};

use super::{GoneOf, Inner, ShardOf, SlotOf, TableOf};
use crate::NEVER;
use crate::policy::{
    EntryRef, Eviction, EvictionHost, Expiry, ExpiryHost, Listener, Probe, Verdict,
};
use crate::removal::RemovalCause;
use crate::sync;
use crate::table::At;

/// The store during one call. Entries it removes are kept here and dropped when the call is over,
/// after every lock is released, so a value's `Drop` never runs under one.
pub(super) struct HostCall<'a, K, V, X: Expiry, E: Eviction, L, S> {
    inner: &'a Inner<K, V, X, E, L, S>,
    /// The first entry removed: a put evicts one at most, and keeping it here spares a `Vec`
    /// allocation per evicting put.
    first_removed: RefCell<Option<GoneOf<K, V, X, E>>>,
    graveyard: RefCell<Vec<GoneOf<K, V, X, E>>>,
}

impl<'a, K, V, X: Expiry, E: Eviction, L, S> HostCall<'a, K, V, X, E, L, S> {
    pub(super) fn new(inner: &'a Inner<K, V, X, E, L, S>) -> Self {
        Self {
            inner,
            first_removed: RefCell::new(None),
            graveyard: RefCell::new(Vec::new()),
        }
    }

    /// Keeps a removed entry until the call is over.
    fn bury(&self, slot: Option<GoneOf<K, V, X, E>>) {
        let Some(slot) = slot else { return };
        let mut first = self.first_removed.borrow_mut();
        if first.is_none() {
            *first = Some(slot);
        } else {
            self.graveyard.borrow_mut().push(slot);
        }
    }

    /// Calls `f` with each entry's position and slot, each shard under its exclusive lock: a
    /// read may change a policy's state with a plain load and store under the shared lock, so
    /// a scan that records what it read waits those reads out.
    fn scan_slots(&self, mut f: impl FnMut(EntryRef, &SlotOf<K, V, X, E>)) {
        for (index, shard) in self.inner.shards.iter().enumerate() {
            let table = sync::write(&shard.table);
            for (at, s) in table.positions() {
                f(EntryRef::new(index as u16, at, s.id), s);
            }
        }
    }
}

impl<K, V, X, E, L, S> HostCall<'_, K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher,
{
    /// Finds the entry a record names and lets `decide` remove it: `decide` returns why or the
    /// probe's answer. It is asked first under the shard's shared lock, so a
    /// probe that keeps the entry (the common answer while readers use it) does not wait for
    /// them; only a removal takes the exclusive lock, and asks again under it. Sound because
    /// what policies judge by only moves one way (deadlines later, stamps higher).
    fn judge(
        &self,
        entry: EntryRef,
        mut decide: impl FnMut(&SlotOf<K, V, X, E>) -> Result<RemovalCause, Probe>,
    ) -> Probe {
        let inner = self.inner;
        let Some(shard) = inner.shards.get(entry.shard()) else {
            return Probe::Gone;
        };
        let at: At = entry.at();
        {
            let table = sync::read(&shard.table);
            let Some(slot) = table.get(at).filter(|s| entry.matches(s.id)) else {
                return Probe::Gone;
            };
            if let Err(probe) = decide(slot) {
                return probe;
            }
        }
        let mut table = sync::write(&shard.table);
        let Some(slot) = table.get(at).filter(|s| entry.matches(s.id)) else {
            return Probe::Gone;
        };
        match decide(slot) {
            Err(probe) => probe,
            Ok(why) => {
                let slot = inner.remove(shard, &mut table, at, why, false);
                drop(table);
                self.bury(slot);
                Probe::Removed
            }
        }
    }
}

impl<K, V, X, E, L, S> Inner<K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher,
{
    /// The way out of an operation that removes the entry at `at` itself (not through a
    /// policy): removes it under the exclusive lock it was found under, releases the lock, then
    /// tells both policies. The caller drops (or returns) what is left, outside the lock.
    pub(super) fn remove_and_unlock(
        &self,
        shard: &ShardOf<K, V, X, E>,
        mut table: sync::RwLockWriteGuard<'_, TableOf<K, V, X, E>>,
        at: At,
        why: RemovalCause,
        keep_value: bool,
    ) -> Option<GoneOf<K, V, X, E>> {
        let slot = self.remove(shard, &mut table, at, why, keep_value);
        drop(table);
        if let Some(slot) = &slot {
            self.tell_removed(slot);
        }
        slot
    }

    /// Tells both policies that an entry left the store by a way they did not drive (call after
    /// releasing its shard lock).
    pub(super) fn tell_removed(&self, gone: &GoneOf<K, V, X, E>) {
        let host = HostCall::new(self);
        self.expiry.removed(gone.expiry, &host);
        self.eviction.removed(gone.eviction, &host);
    }
}

/// A policy's verdict as the probe's answer, when it is not a removal.
fn kept(verdict: Verdict) -> Result<(), Probe> {
    match verdict {
        Verdict::Remove => Ok(()),
        Verdict::Keep(priority) => Err(Probe::Requeue(priority)),
        Verdict::Untracked => Err(Probe::Gone),
    }
}

impl<K, V, X, E, L, S> ExpiryHost<X::State> for HostCall<'_, K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher,
{
    fn stored(&self) -> usize {
        self.inner.stored()
    }

    fn reclaim_if(&self, entry: EntryRef, judge: &mut dyn FnMut(&X::State) -> Verdict) -> Probe {
        self.judge(entry, |slot| {
            kept(judge(&slot.expiry)).map(|()| RemovalCause::Expired)
        })
    }

    fn scan(&self, f: &mut dyn FnMut(EntryRef, &X::State)) {
        self.scan_slots(|entry, slot| f(entry, &slot.expiry));
    }
}

impl<K, V, X, E, L, S> EvictionHost<E::State> for HostCall<'_, K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher,
{
    fn stored(&self) -> usize {
        self.inner.stored()
    }

    fn load(&self) -> usize {
        self.inner.load()
    }

    fn weighs(&self) -> bool {
        self.inner.weigher.is_some()
    }

    fn evict_if(
        &self,
        entry: EntryRef,
        capacity: usize,
        judge: &mut dyn FnMut(&E::State) -> Verdict,
    ) -> Probe {
        let inner = self.inner;
        self.judge(entry, |slot| {
            kept(judge(&slot.eviction))?;
            if inner.load() <= capacity {
                return Err(Probe::Enough);
            }
            // A victim that expired while the evictor waited is an Expiration, not an Eviction.
            let expired = X::may_expire(&slot.expiry) && X::is_expired(&slot.expiry, inner.now());
            Ok(if expired {
                RemovalCause::Expired
            } else {
                RemovalCause::Evicted
            })
        })
    }

    fn reclaim_one_expired(&self) -> bool {
        // Nothing that may expire, no clock read: eviction asks this at every victim.
        let expiry = &self.inner.expiry;
        if !X::USES_CLOCK || !expiry.may_have_expired(NEVER - 1) {
            return false;
        }
        let now = self.inner.now();
        expiry.may_have_expired(now) && expiry.reclaim(now, 1, self) == 1
    }

    fn scan(&self, f: &mut dyn FnMut(EntryRef, &E::State)) {
        self.scan_slots(|entry, slot| f(entry, &slot.eviction));
    }
}
