//! Removing one key: `del` and `remove`.

use std::borrow::Borrow;
use std::hash::Hash;

use super::Store;
use crate::policy::{Expiry, Policies};
use crate::removal::RemovalCause;
use crate::sync;
use crate::{StoreHasher, StoreKey, StoreValue};

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Store<K, V, P, S> {
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
        let live = !P::Expiry::is_expired(&slot.expiry, now);
        let cause = if live {
            RemovalCause::Deleted
        } else {
            RemovalCause::Expired
        };
        let gone = inner.remove_and_unlock(shard, table, at, cause, keep_value && live)?;
        inner.deliver_removals();
        Some((live, gone.into_value()))
    }
}
