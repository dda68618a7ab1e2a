//! The read path: `get` (and the loaders' read), and `has`, which looks without reading.

use std::borrow::Borrow;
use std::hash::Hash;

use super::Store;
use crate::metrics::Counters;
use crate::policy::{EventKind, Eviction, Expiry, Policies, Read};
use crate::removal::RemovalCause;
use crate::sync;
use crate::{KeyQuery, StoreHasher, StoreKey, StoreValue};

/// The answer of [`Store::get_accepted`] for a live value the caller refused: nothing was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stored value is not one the caller accepts; nothing was read")
    }
}

impl std::error::Error for Refused {}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Store<K, V, P, S> {
    /// Returns a clone of the value if `key` holds a live entry. A hit tells both policies: the
    /// expiry policy may refresh a sliding TTL or spend a read budget (the last read removes
    /// the entry), and it is a use for eviction.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: KeyQuery<K> + ?Sized,
        V: Clone,
    {
        // Every value is accepted, so this is never `Err`.
        self.get_accepted(key, |_| true).unwrap_or_default()
    }

    /// A `get` of a value that `accept` takes (a value of the type the caller expects, say).
    /// For a value it refuses (live, or expired and not yet reclaimed) nothing happens: no hit
    /// or miss, no read budget spent, no sliding refresh, no use, no reclaim; the answer is
    /// `Err(Refused)`. Otherwise it is a `get`.
    ///
    /// ```
    /// use kv_core::{Refused, Store};
    ///
    /// let store: Store<String, i64> = Store::new();
    /// store.put("n".into(), -1);
    /// assert_eq!(store.get_accepted("n", |v| *v >= 0), Err(Refused));
    /// assert_eq!(store.metrics().hits + store.metrics().misses, 0); // not a read
    /// assert_eq!(store.get_accepted("n", |_| true), Ok(Some(-1)));
    /// ```
    #[inline]
    pub fn get_accepted<Q>(
        &self,
        key: &Q,
        accept: impl Fn(&V) -> bool,
    ) -> Result<Option<V>, Refused>
    where
        K: Borrow<Q>,
        Q: KeyQuery<K> + ?Sized,
        V: Clone,
    {
        self.read::<Q, true, true>(key, accept)
    }

    /// The read behind `get`. A loader's look counts no miss (`COUNT_MISS`: a loader that finds
    /// nothing counts its one miss itself); a sync loader, which holds its loader lock, leaves
    /// the removal listener's notifications queued (`DELIVER`: it delivers them after releasing
    /// the lock). Only a read that removes its entry has notifications to deliver.
    pub(super) fn read<Q, const COUNT_MISS: bool, const DELIVER: bool>(
        &self,
        key: &Q,
        accept: impl Fn(&V) -> bool,
    ) -> Result<Option<V>, Refused>
    where
        K: Borrow<Q>,
        Q: KeyQuery<K> + ?Sized,
        V: Clone,
    {
        let inner = &*self.inner;
        let at_start = inner.now_at_start();
        let hash = inner.hasher.hash_one(key);
        let shard = inner.shard(hash);
        {
            let table = sync::read(&shard.table);
            match table.lookup(hash, |s| s.key.borrow() == key) {
                None => {
                    // Reported under the lock, so a put that follows is reported after it.
                    if COUNT_MISS {
                        inner.miss(shard, key);
                    }
                    drop(table);
                    return Ok(None);
                }
                Some((_, slot)) if !accept(&slot.value) => return Err(Refused),
                Some((_, slot))
                    if {
                        let time = inner.now_for(at_start, &slot.expiry);
                        P::Expiry::read_shared(&slot.expiry, time.now, time.lag)
                    } =>
                {
                    inner.eviction.touch(&shard.eviction, &slot.eviction);
                    Counters::bump(&shard.counters.hits);
                    inner.emit(EventKind::Hit, &slot.key);
                    return Ok(Some(slot.value.clone()));
                }
                Some(_) => {}
            }
        }
        // Expired, or a read that changes the entry: decide under the exclusive lock.
        let mut table = sync::write(&shard.table);
        let Some((at, slot)) = table.lookup_mut(hash, |s| s.key.borrow() == key) else {
            if COUNT_MISS {
                inner.miss(shard, key);
            }
            drop(table);
            return Ok(None);
        };
        if !accept(&slot.value) {
            return Err(Refused); // replaced by a value the caller refuses while we waited
        }
        let time = inner.now_for(at_start, &slot.expiry);
        Ok(
            match P::Expiry::read_exclusive(&mut slot.expiry, time.now, time.lag) {
                Read::Refresh if P::Expiry::REFRESHES => self.read_and_reload(shard, table, at),
                Read::Live | Read::Refresh => {
                    inner.eviction.touch(&shard.eviction, &slot.eviction);
                    Counters::bump(&shard.counters.hits);
                    inner.emit(EventKind::Hit, &slot.key);
                    Some(slot.value.clone())
                }
                Read::Consumed => {
                    Counters::bump(&shard.counters.hits);
                    inner.emit(EventKind::Hit, &slot.key);
                    let value = inner
                        .remove_and_unlock(shard, table, at, RemovalCause::Consumed, true)
                        .and_then(|gone| gone.into_value());
                    if DELIVER {
                        inner.deliver_removals();
                    }
                    value
                }
                Read::Expired => {
                    let gone = inner.remove(shard, &mut table, at, RemovalCause::Expired, false);
                    if COUNT_MISS {
                        inner.miss(shard, key);
                    }
                    drop(table);
                    if let Some(gone) = gone {
                        inner.tell_removed(&gone);
                    }
                    if DELIVER {
                        inner.deliver_removals();
                    }
                    None
                }
            },
        )
    }

    /// Whether `key` holds a live entry. Not a read: no hit or miss, nothing told to the
    /// policies. An expired entry found here is reclaimed.
    pub fn has<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let now = inner.recent();
        let hash = inner.hasher.hash_one(key);
        let shard = inner.shard(hash);
        {
            let table = sync::read(&shard.table);
            match table.lookup(hash, |s| s.key.borrow() == key) {
                None => return false,
                Some((_, slot)) if !P::Expiry::is_expired(&slot.expiry, now) => return true,
                Some(_) => {}
            }
        }
        // Expired: reclaim it under the exclusive lock, checking again (a put may have won).
        let table = sync::write(&shard.table);
        let Some((at, slot)) = table.lookup(hash, |s| s.key.borrow() == key) else {
            return false;
        };
        if !P::Expiry::is_expired(&slot.expiry, now) {
            return true;
        }
        inner.remove_and_unlock(shard, table, at, RemovalCause::Expired, false);
        inner.deliver_removals();
        false
    }
}
