//! The write path: `put`, and the put of an entry heavier than the capacity. It takes its
//! shard's lock, asks the policies' per-entry hooks inside it, and calls their store-wide hooks
//! after releasing it.

use super::Store;
use super::host::HostCall;
use crate::metrics::Counters;
use crate::policy::{EntryRef, EventKind, Eviction, Expiry, Policies};
use crate::removal::RemovalCause;
use crate::sync;
use crate::table::Slot;
use crate::{StoreHasher, StoreKey, StoreValue};

/// What a `put` found under its key.
enum Displaced<T> {
    Nothing,
    Live(T),
    Expired(T),
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Store<K, V, P, S> {
    /// Stores `value` under `key` with default options, replacing any entry. Returns the value
    /// it displaced, if that entry was live.
    pub fn put(&self, key: K, value: V) -> Option<V> {
        self.put_with(key, value, &<P::Expiry as Expiry>::Options::default())
    }

    /// Stores `value` under `key` with `options` (the expiry policy's: `kv_ttl::PutOptions` with
    /// `kv_ttl::Ttl`), replacing the whole entry. Returns the value it displaced, if that entry
    /// was live.
    pub fn put_with(
        &self,
        key: K,
        value: V,
        options: &<P::Expiry as Expiry>::Options,
    ) -> Option<V> {
        let displaced = self.insert(key, value, options);
        self.inner.deliver_removals();
        displaced
    }

    /// `put_with`, leaving the removal listener's notifications queued (a loader delivers them
    /// after releasing its lock).
    pub(super) fn insert(
        &self,
        key: K,
        value: V,
        options: &<P::Expiry as Expiry>::Options,
    ) -> Option<V> {
        self.write::<false>(key, value, options, 0).flatten()
    }

    /// A reload's put: it replaces the entry only if that is still the live entry `id`
    /// ([`Expiry::entry_id`]), the one the reload was started for; otherwise (a put, a delete
    /// or an expiry came first) the value is dropped and `None` returned. A value heavier than
    /// the whole capacity is dropped too, and the entry kept: unlike a put's, it replaces
    /// nothing. Notifications stay queued as with `insert`.
    pub(super) fn insert_over(
        &self,
        id: u64,
        key: K,
        value: V,
        options: &<P::Expiry as Expiry>::Options,
    ) -> Option<Option<V>> {
        self.write::<true>(key, value, options, id)
    }

    /// The put behind both: `OVER` makes it conditional on the live entry `over`, and on the
    /// value fitting the capacity (`None`: not stored); a plain put always stores (`Some`).
    #[inline]
    fn write<const OVER: bool>(
        &self,
        key: K,
        value: V,
        options: &<P::Expiry as Expiry>::Options,
        over: u64,
    ) -> Option<Option<V>> {
        let inner = &*self.inner;
        let weight = inner.weigher.as_ref().map(|w| w(&key, &value));
        if let Some(weight) = weight
            && !inner.eviction.admits(weight)
        {
            if OVER {
                // A reload's value that can never be stored: dropped, and the entry it was
                // started for stays as it is (a put would remove it). The store is not
                // touched, so no write to the key can race with this.
                return None;
            }
            return Some(self.refuse(key, value));
        }
        let now = inner.now_for_put(options);
        let hash = inner.hasher.hash_one(&key);
        let shard_index = inner.shard_index(hash);
        let shard = &inner.shards[shard_index];
        let expiry = inner.expiry.new_state(options, now);
        let eviction = inner.eviction.new_state(&shard.eviction);
        let (expiry_summary, eviction_summary) =
            (P::Expiry::summary(&expiry), P::Eviction::summary(&eviction));
        let (entry, displaced) = {
            let mut table = sync::write(&shard.table);
            let slot = Slot {
                key,
                value,
                hash: hash as u32,
                expiry,
                eviction,
            };
            let found = table.find(hash, |s| s.key == slot.key);
            if OVER
                && !found.and_then(|at| table.get(at)).is_some_and(|old| {
                    P::Expiry::entry_id(&old.expiry) == over
                        && !P::Expiry::is_expired(&old.expiry, inner.now())
                })
            {
                // Written since the reload started: the write wins. The value goes after the
                // lock is released.
                drop(table);
                drop(slot);
                return None;
            }
            if let Some(weight) = weight {
                shard.reweigh(weight, 0);
            }
            let (at, displaced) = match found {
                Some(at) => {
                    let Some(old) = table.replace(at, slot) else {
                        unreachable!("a slot just found is in its table");
                    };
                    // `now` was read before waiting for the lock: an entry that may expire and
                    // looks live is checked again at the recent time (judged like a read; see
                    // `time`), which a long wait has moved on.
                    let expired = P::Expiry::is_expired(&old.expiry, now)
                        || (P::Expiry::may_expire(&old.expiry)
                            && P::Expiry::is_expired(&old.expiry, inner.recent()));
                    if expired {
                        // Overwriting an expired entry reclaims it: its Expiration counts.
                        Counters::bump(&shard.counters.expirations);
                        let gone = inner.finish_removal(shard, old, RemovalCause::Expired, false);
                        if let Some(slot) = table.get(at) {
                            inner.emit(EventKind::Inserted, &slot.key);
                        }
                        (at, Displaced::Expired(gone))
                    } else {
                        (
                            at,
                            Displaced::Live(inner.finish_removal(
                                shard,
                                old,
                                RemovalCause::Replaced,
                                true,
                            )),
                        )
                    }
                }
                None => {
                    let at = table.insert(slot);
                    shard.grow(1);
                    if let Some(slot) = table.get(at) {
                        inner.emit(EventKind::Inserted, &slot.key);
                    }
                    (at, Displaced::Nothing)
                }
            };
            (
                EntryRef::new(shard_index as u16, at, hash as u32),
                displaced,
            )
        };
        let host = HostCall::new(inner);
        match &displaced {
            Displaced::Nothing => {
                inner
                    .expiry
                    .inserted(entry, expiry_summary, &host.for_expiry());
                inner
                    .eviction
                    .inserted(entry, eviction_summary, &host.for_eviction());
            }
            // The replaced entry's records name the newcomer (same position and key).
            Displaced::Live(old) | Displaced::Expired(old) => {
                inner
                    .expiry
                    .replaced(entry, expiry_summary, old.expiry(), &host.for_expiry());
                inner
                    .eviction
                    .replaced(entry, eviction_summary, &host.for_eviction());
            }
        }
        if P::Expiry::uses_clock() && inner.expiry.may_have_expired(now) {
            // Incremental reclaiming: a little at every write, so unread entries do not pile up.
            inner.expiry.reclaim(now, 2, &host.for_expiry());
        }
        drop(host);
        Some(match displaced {
            Displaced::Live(old) => old.into_value(),
            Displaced::Expired(_) | Displaced::Nothing => None,
        })
    }

    /// A put of an entry heavier than the whole capacity: it is not stored. Whatever `key`
    /// held is replaced all the same (a put replaces the entry), and the newcomer counts as
    /// evicted at once (one Eviction, `Evicted` to both listeners).
    #[cold]
    fn refuse(&self, key: K, value: V) -> Option<V> {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(&key);
        let shard = inner.shard(hash);
        let mut table = sync::write(&shard.table);
        let old = table.find(hash, |s| s.key == key).map(|at| {
            let live = table
                .get(at)
                .is_some_and(|s| !P::Expiry::is_expired(&s.expiry, inner.now()));
            let cause = if live {
                RemovalCause::Replaced
            } else {
                RemovalCause::Expired
            };
            (live, inner.remove(shard, &mut table, at, cause, live))
        });
        Counters::bump(&shard.counters.evictions);
        inner.emit(EventKind::Evicted, &key);
        let newcomer = match &inner.removals {
            Some(removals) => {
                removals.push(key, value, RemovalCause::Evicted);
                None
            }
            None => Some((key, value)),
        };
        drop(table);
        drop(newcomer);
        let displaced = match old {
            Some((live, Some(gone))) => {
                inner.tell_removed(&gone);
                if live { gone.into_value() } else { None }
            }
            _ => None,
        };
        inner.deliver_removals();
        displaced
    }
}
