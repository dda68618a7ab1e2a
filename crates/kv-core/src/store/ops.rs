//! The operations of the contract (`docs/semantics.md`): each takes its shard's lock, asks the
//! policies' per-entry hooks inside it, and calls their store-wide hooks after releasing it.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use super::Store;
use super::host::HostCall;
use crate::KeyQuery;
use crate::metrics::{Counters, Metrics};
use crate::policy::{Capacity, EntryRef, EventKind, Eviction, Expiry, Listener, Read};
use crate::removal::RemovalCause;
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
        let displaced = self.insert(key, value, options);
        self.inner.deliver_removals();
        displaced
    }

    /// `put_with`, leaving the removal listener's notifications queued (a loader delivers them
    /// after releasing its lock).
    pub(super) fn insert(&self, key: K, value: V, options: &X::Options) -> Option<V> {
        let inner = &*self.inner;
        let weight = inner.weigher.as_ref().map(|w| w(&key, &value));
        if let Some(weight) = weight
            && !inner.eviction.admits(weight)
        {
            return self.refuse(key, value);
        }
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
            if let Some(weight) = weight {
                shard.reweigh(weight, 0);
            }
            let (at, displaced) = match found {
                Some(at) => {
                    let Some(old) = table.replace(at, slot) else {
                        unreachable!("a slot just found is in its table");
                    };
                    // `now` was read before waiting for the lock: an entry that may expire and
                    // looks live is checked again at the current time.
                    let expired = X::is_expired(&old.expiry, now)
                        || (X::may_expire(&old.expiry) && X::is_expired(&old.expiry, inner.now()));
                    if expired {
                        // Overwriting an expired entry reclaims it: its Expiration counts.
                        Counters::bump(&shard.counters.expirations);
                        let gone = inner.part(shard, old, RemovalCause::Expired, false);
                        if let Some(slot) = table.get(at) {
                            inner.emit(EventKind::Inserted, &slot.key);
                        }
                        (at, Displaced::Expired(gone))
                    } else {
                        (
                            at,
                            Displaced::Live(inner.part(shard, old, RemovalCause::Replaced, true)),
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
            Displaced::Live(old) => old.into_value(),
            Displaced::Expired(_) | Displaced::Nothing => None,
        }
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
                .is_some_and(|s| !X::is_expired(&s.expiry, inner.now()));
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
        self.read::<Q, false>(key, accept)
    }

    /// The read behind `get`. For a loader (`LOADER`), which holds its loader lock, a miss is
    /// not counted (a loader that finds nothing counts its one miss itself) and the removal
    /// listener's notifications are left queued (it delivers them after releasing the lock).
    pub(super) fn read<Q, const LOADER: bool>(
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
                    if !LOADER {
                        inner.miss(shard, key);
                    }
                    drop(table);
                    return Ok(None);
                }
                Some((_, slot)) if !accept(&slot.value) => return Err(Refused),
                Some((_, slot))
                    if {
                        let time = inner.now_for(at_start, &slot.expiry);
                        X::read_shared(&slot.expiry, time.now, time.lag)
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
            if !LOADER {
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
            match X::read_exclusive(&mut slot.expiry, time.now, time.lag) {
                Read::Live => {
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
                    if !LOADER {
                        inner.deliver_removals();
                    }
                    value
                }
                Read::Expired => {
                    let gone = inner.remove(shard, &mut table, at, RemovalCause::Expired, false);
                    if !LOADER {
                        inner.miss(shard, key);
                    }
                    drop(table);
                    if let Some(gone) = gone {
                        inner.tell_removed(&gone);
                    }
                    if !LOADER {
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
        inner.remove_and_unlock(shard, table, at, RemovalCause::Expired, false);
        inner.deliver_removals();
        false
    }

    /// Removes `key`. Returns `true` if a live entry was removed; an expired entry is reclaimed
    /// (one Expiration) and gives `false`.
    pub fn del<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.take(key, false).is_some_and(|(live, _)| live)
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
        self.take(key, true)
            .and_then(|(live, value)| if live { value } else { None })
    }

    /// Removes `key`'s entry, live or expired (counted as a reclaim), and hands back whether it
    /// was live with its value, if kept (`keep_value`) or not taken by the removal listener, to
    /// drop after the lock is released.
    fn take<Q>(&self, key: &Q, keep_value: bool) -> Option<(bool, Option<V>)>
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
        let cause = if live {
            RemovalCause::Deleted
        } else {
            RemovalCause::Expired
        };
        let gone = inner.remove_and_unlock(shard, table, at, cause, keep_value && live)?;
        inner.deliver_removals();
        Some((live, gone.into_value()))
    }

    /// The live keys, in no particular order.
    pub fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        let now = self.inner.recent();
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

    /// What the capacity bounds: the entries' total weight for a store with a weigher, their
    /// number ([`Store::len`]) otherwise.
    ///
    /// ```
    /// use kv_core::Store;
    ///
    /// let store: Store<String, u64> = Store::new(); // no weigher: each entry weighs 1
    /// store.put("a".into(), 1);
    /// assert_eq!(store.weight(), 1);
    /// ```
    pub fn weight(&self) -> u64 {
        self.inner.load() as u64
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
        let reclaimed = inner.expiry.reclaim(now, usize::MAX, &host);
        drop(host);
        inner.deliver_removals();
        reclaimed
    }

    /// Removes every entry (counted by no counter; listeners see `Cleared`). The policies drop
    /// their records of them at once.
    pub fn clear(&self) {
        let inner = &*self.inner;
        for shard in inner.shards.iter() {
            let mut table = sync::write(&shard.table);
            shard.shrink(table.len());
            let gone: Vec<_> = table
                .take_all()
                .map(|slot| inner.part(shard, slot, RemovalCause::Cleared, false))
                .collect();
            drop(table);
            drop(gone);
        }
        let host = HostCall::new(inner);
        inner.expiry.cleared(&host);
        inner.eviction.cleared(&host);
        drop(host);
        inner.deliver_removals();
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
        drop(host);
        inner.deliver_removals();
    }
}
