//! The operations of the contract (`docs/semantics.md`): each takes its shard's lock, asks the
//! policies' per-entry hooks inside it, and calls their store-wide hooks after releasing it.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use super::Store;
use super::host::HostCall;
use crate::KeyQuery;
use crate::metrics::{Counters, Metrics};
use crate::policy::{Capacity, EntryRef, EventKind, Eviction, Expiry, Listener, Read};
use crate::sync;
use crate::table::Slot;

/// The answer of [`Store::get_accepted`] for a live value the caller refused: nothing was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stored value is not one the caller accepts; nothing was read")
    }
}

impl std::error::Error for Refused {}

/// What a `put` found under its key.
enum Displaced<T> {
    Nothing,
    Live(T),
    Expired(T),
}

impl<K, V, X, E, L, S> Store<K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher + Send + Sync + 'static,
{
    /// Stores `value` under `key` with default options, replacing any entry. Returns the value
    /// it displaced, if that entry was live.
    pub fn put(&self, key: K, value: V) -> Option<V> {
        self.put_with(key, value, &X::Options::default())
    }

    /// Stores `value` under `key` with `options` (the expiry policy's: `kv_ttl::PutOptions` with
    /// `kv_ttl::Ttl`), replacing the whole entry. Returns the value it displaced, if that entry
    /// was live.
    pub fn put_with(&self, key: K, value: V, options: &X::Options) -> Option<V> {
        let inner = &*self.inner;
        let now = inner.now_for_put(options);
        let hash = inner.hasher.hash_one(&key);
        let shard_index = inner.shard_index(hash);
        let shard = &inner.shards[shard_index];
        let expiry = inner.expiry.new_state(options, now);
        let eviction = inner.eviction.new_state(&shard.eviction);
        let (expiry_note, eviction_note) = (X::note(&expiry), E::note(&eviction));
        let (entry, displaced) = {
            let mut table = sync::write(&shard.table);
            let id = table.next_id();
            let slot = Slot {
                key,
                value,
                hash: hash as u32,
                id,
                expiry,
                eviction,
            };
            let found = table.find(hash, |s| s.key == slot.key);
            let (at, displaced) = match found {
                Some(at) => {
                    let Some(old) = table.replace(at, slot) else {
                        unreachable!("a slot just found is in its table");
                    };
                    let key = &old.key;
                    // `now` was read before waiting for the lock: an entry that may expire and
                    // looks live is checked again at the current time.
                    let expired = X::is_expired(&old.expiry, now)
                        || (X::may_expire(&old.expiry) && X::is_expired(&old.expiry, inner.now()));
                    if expired {
                        // Overwriting an expired entry reclaims it: its Expiration counts.
                        Counters::bump(&shard.counters.expirations);
                        inner.emit(EventKind::Expired, key);
                        inner.emit(EventKind::Inserted, key);
                        (at, Displaced::Expired(old))
                    } else {
                        inner.emit(EventKind::Replaced, key);
                        (at, Displaced::Live(old))
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
            (EntryRef::new(shard_index as u16, at, id), displaced)
        };
        let host = HostCall::new(inner);
        inner.expiry.inserted(entry, expiry_note, &host);
        inner.eviction.inserted(entry, eviction_note, &host);
        if X::USES_CLOCK && inner.expiry.may_have_expired(now) {
            // Incremental reclaiming: a little at every write, so unread entries do not pile up.
            inner.expiry.reclaim(now, 2, &host);
        }
        drop(host);
        match displaced {
            Displaced::Live(old) => Some(old.value),
            Displaced::Expired(_) | Displaced::Nothing => None,
        }
    }

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
        self.read::<Q, true>(key, accept)
    }

    /// The read behind `get`; a miss is counted (and reported) only if `COUNT_MISS`: a loader
    /// that finds nothing counts its one miss itself.
    pub(super) fn read<Q, const COUNT_MISS: bool>(
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
                    if X::read_shared(&slot.expiry, inner.now_for(at_start, &slot.expiry)) =>
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
        let now = inner.now_for(at_start, &slot.expiry);
        Ok(match X::read_exclusive(&mut slot.expiry, now) {
            Read::Live => {
                inner.eviction.touch(&shard.eviction, &slot.eviction);
                Counters::bump(&shard.counters.hits);
                inner.emit(EventKind::Hit, &slot.key);
                Some(slot.value.clone())
            }
            Read::Consumed => {
                Counters::bump(&shard.counters.hits);
                inner.emit(EventKind::Hit, &slot.key);
                let slot = inner
                    .remove_and_unlock(shard, table, at, EventKind::Consumed)
                    .expect("the entry just read is in its table");
                Some(slot.value)
            }
            Read::Expired => {
                let slot = inner.remove(shard, &mut table, at, EventKind::Expired);
                if COUNT_MISS {
                    inner.miss(shard, key);
                }
                drop(table);
                if let Some(slot) = slot {
                    inner.tell_removed(&slot);
                }
                None
            }
        })
    }

    /// Whether `key` holds a live entry. Not a read: no hit or miss, nothing told to the
    /// policies. An expired entry found here is reclaimed.
    pub fn has<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let now = inner.now();
        let hash = inner.hasher.hash_one(key);
        let shard = inner.shard(hash);
        {
            let table = sync::read(&shard.table);
            match table.lookup(hash, |s| s.key.borrow() == key) {
                None => return false,
                Some((_, slot)) if !X::is_expired(&slot.expiry, now) => return true,
                Some(_) => {}
            }
        }
        // Expired: reclaim it under the exclusive lock, checking again (a put may have won).
        let table = sync::write(&shard.table);
        let Some((at, slot)) = table.lookup(hash, |s| s.key.borrow() == key) else {
            return false;
        };
        if !X::is_expired(&slot.expiry, now) {
            return true;
        }
        inner.remove_and_unlock(shard, table, at, EventKind::Expired);
        false
    }

    /// Removes `key`. Returns `true` if a live entry was removed; an expired entry is reclaimed
    /// (one Expiration) and gives `false`.
    pub fn del<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.take(key).is_some_and(|(live, _)| live)
    }

    /// Removes `key` and returns its value if the entry was live: `del` that hands the value
    /// back. Not a read (no hit or miss, no use); an expired entry is reclaimed (one
    /// Expiration) and gives `None`.
    ///
    /// ```
    /// use kv_core::Store;
    ///
    /// let store: Store<String, u64> = Store::new();
    /// store.put("a".into(), 1);
    /// assert_eq!(store.remove("a"), Some(1));
    /// assert_eq!(store.remove("a"), None);
    /// assert_eq!(store.metrics().hits + store.metrics().misses, 0);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.take(key)
            .and_then(|(live, value)| live.then_some(value))
    }

    /// Removes `key`'s entry, live or expired (counted as a reclaim), and hands back whether it
    /// was live with its value, to drop after the lock is released.
    fn take<Q>(&self, key: &Q) -> Option<(bool, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let now = inner.now();
        let hash = inner.hasher.hash_one(key);
        let shard = inner.shard(hash);
        let table = sync::write(&shard.table);
        let (at, slot) = table.lookup(hash, |s| s.key.borrow() == key)?;
        let live = !X::is_expired(&slot.expiry, now);
        let why = if live {
            EventKind::Removed
        } else {
            EventKind::Expired
        };
        let slot = inner.remove_and_unlock(shard, table, at, why)?;
        Some((live, slot.value))
    }

    /// The live keys, in no particular order.
    pub fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        let now = self.inner.now();
        let mut keys = Vec::with_capacity(self.len());
        for shard in self.inner.shards.iter() {
            let table = sync::read(&shard.table);
            keys.extend(
                table
                    .iter()
                    .filter(|s| !X::is_expired(&s.expiry, now))
                    .map(|s| s.key.clone()),
            );
        }
        keys
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::default();
        for shard in self.inner.shards.iter() {
            shard.counters.add_to(&mut m);
        }
        m.current_size = self.inner.stored() as u64;
        m
    }

    /// Entries held in memory (expired ones not yet reclaimed included).
    pub fn len(&self) -> usize {
        self.inner.stored()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reclaims every expired entry now (each one Expiration). Returns how many.
    pub fn purge_expired(&self) -> usize {
        let inner = &*self.inner;
        if !X::USES_CLOCK {
            return 0;
        }
        let now = inner.now();
        let host = HostCall::new(inner);
        inner.expiry.reclaim(now, usize::MAX, &host)
    }

    /// Removes every entry (counted by no counter; listeners see `Cleared`). The policies drop
    /// their records of them at once.
    pub fn clear(&self) {
        let inner = &*self.inner;
        for shard in inner.shards.iter() {
            let mut table = sync::write(&shard.table);
            shard.shrink(table.len());
            let slots: Vec<_> = table.take_all().collect();
            if inner.listener.is_active() {
                for s in &slots {
                    inner.listener.on_event(EventKind::Cleared, &s.key);
                }
            }
            drop(table);
            drop(slots);
        }
        let host = HostCall::new(inner);
        inner.expiry.cleared(&host);
        inner.eviction.cleared(&host);
    }

    /// The store's current time in nanoseconds on its clock (never going backwards).
    pub fn now_nanos(&self) -> u64 {
        self.inner.clock.now()
    }

    /// A handle that does not keep the store alive (for background work such as a sweeper).
    #[cfg(not(kv_loom))]
    pub fn downgrade(&self) -> super::WeakStore<K, V, X, E, L, S> {
        super::WeakStore {
            inner: sync::Arc::downgrade(&self.inner),
        }
    }

    /// The expiry policy.
    pub fn expiry(&self) -> &X {
        &self.inner.expiry
    }

    /// The eviction policy.
    pub fn eviction(&self) -> &E {
        &self.inner.eviction
    }

    /// The listener.
    pub fn listener(&self) -> &L {
        &self.inner.listener
    }
}

impl<K, V, X, E, L, S> Store<K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Capacity,
    L: Listener<K>,
    S: BuildHasher + Send + Sync + 'static,
{
    /// The capacity; 0 is unbounded.
    pub fn capacity(&self) -> usize {
        self.inner.eviction.capacity()
    }

    /// Sets the capacity (0 is unbounded). Shrinking evicts at once, expired entries first, then
    /// the eviction policy's victims; each eviction counts.
    pub fn set_capacity(&self, capacity: usize) {
        let inner = &*self.inner;
        let host = HostCall::new(inner);
        inner.eviction.set_capacity(capacity, &host);
    }
}
