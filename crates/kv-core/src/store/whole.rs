//! Operations on the store as a whole: keys, counters, size, purging, clearing, capacity, and
//! the store's parts.

use super::Store;
use super::host::HostCall;
use crate::metrics::Metrics;
use crate::policy::{Capacity, Eviction, Expiry, Policies};
use crate::removal::RemovalCause;
use crate::sync;
use crate::{StoreHasher, StoreKey, StoreValue};

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Store<K, V, P, S> {
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
                    .filter(|s| !P::Expiry::is_expired(&s.expiry, now))
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
        self.inner.occupancy() as u64
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
        if !P::Expiry::uses_clock() {
            return 0;
        }
        let now = inner.now();
        let host = HostCall::new(inner);
        let reclaimed = inner.expiry.reclaim(now, usize::MAX, &host.for_expiry());
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
                .map(|slot| inner.finish_removal(shard, slot, RemovalCause::Cleared, false))
                .collect();
            drop(table);
            drop(gone);
        }
        let host = HostCall::new(inner);
        inner.expiry.cleared(&host.for_expiry());
        inner.eviction.cleared(&host.for_eviction());
        drop(host);
        inner.deliver_removals();
    }
}

impl<K, V, P, S> Store<K, V, P, S>
where
    K: StoreKey,
    V: StoreValue,
    P: Policies<K, Eviction: Capacity>,
    S: StoreHasher,
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
        inner.eviction.set_capacity(capacity, &host.for_eviction());
        drop(host);
        inner.deliver_removals();
    }
}

/// The store's parts: they need nothing of the keys, values or hasher.
impl<K, V, P: Policies<K>, S> Store<K, V, P, S> {
    /// Which store this is: the same for all its clones, different for every other store.
    pub fn id(&self) -> super::StoreId {
        self.inner.id
    }

    /// The store's current time in nanoseconds on its clock (never going backwards).
    pub fn now_nanos(&self) -> u64 {
        self.inner.clock.now()
    }

    /// A handle that does not keep the store alive (for background work such as a sweeper).
    #[cfg(not(kv_loom))]
    pub fn downgrade(&self) -> super::WeakStore<K, V, P, S> {
        super::WeakStore {
            inner: sync::Arc::downgrade(&self.inner),
        }
    }

    /// The expiry policy.
    pub fn expiry(&self) -> &P::Expiry {
        &self.inner.expiry
    }

    /// The eviction policy.
    pub fn eviction(&self) -> &P::Eviction {
        &self.inner.eviction
    }

    /// The listener.
    pub fn listener(&self) -> &P::Listener {
        &self.inner.listener
    }
}
