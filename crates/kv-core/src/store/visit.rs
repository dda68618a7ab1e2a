//! Operations over every entry: `retain` and `iter`. Both go shard by shard, so they see each
//! shard at one instant but not the store as a whole (weakly consistent), and neither is a read:
//! no hit or miss, no budget spent, no sliding refresh, no use.

use super::Store;
use crate::policy::{Expiry, Policies};
use crate::removal::RemovalCause;
use crate::sync;
use crate::{StoreHasher, StoreKey, StoreValue};

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Store<K, V, P, S> {
    /// Keeps the live entries for which `keep(key, value)` is true and removes the others (like
    /// `del`: no counter; listeners see `Removed`). Expired entries met on the way are reclaimed
    /// (one Expiration each) without being shown to `keep`. `keep` runs under a shard's
    /// exclusive lock: it must be quick and must not call back into the store.
    ///
    /// ```
    /// use kv_core::Store;
    ///
    /// let sessions: Store<(u32, u32), &str> = Store::new(); // (user, session)
    /// sessions.put((42, 1), "a");
    /// sessions.put((42, 2), "b");
    /// sessions.put((7, 1), "c");
    /// sessions.retain(|&(user, _), _| user != 42); // every session of user 42
    /// assert_eq!(sessions.keys(), [(7, 1)]);
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        let inner = &*self.inner;
        let now = inner.now();
        let mut removed = Vec::new();
        for shard in inner.shards.iter() {
            let mut table = sync::write(&shard.table);
            let doomed: Vec<_> = table
                .positions()
                .filter_map(|(at, s)| {
                    if P::Expiry::is_expired(&s.expiry, now) {
                        Some((at, RemovalCause::Expired))
                    } else if keep(&s.key, &s.value) {
                        None
                    } else {
                        Some((at, RemovalCause::Deleted))
                    }
                })
                .collect();
            for (at, why) in doomed {
                removed.extend(inner.remove(shard, &mut table, at, why, false));
            }
            drop(table);
            for slot in removed.drain(..) {
                inner.tell_removed(&slot);
            }
        }
        inner.deliver_removals();
    }

    /// The live entries, cloned, shard by shard: each shard is copied under its shared lock,
    /// which is released before its entries are handed out, so the loop's body may use the
    /// store. Entries put or removed meanwhile may or may not be seen.
    ///
    /// ```
    /// use kv_core::Store;
    ///
    /// let store: Store<String, u64> = Store::new();
    /// store.put("a".into(), 1);
    /// store.put("b".into(), 2);
    /// let mut all: Vec<(String, u64)> = store.iter().collect();
    /// all.sort();
    /// assert_eq!(all, [("a".to_string(), 1), ("b".to_string(), 2)]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, P, S>
    where
        K: Clone,
        V: Clone,
    {
        Iter {
            store: self,
            next_shard: 0,
            buffer: Vec::new(),
        }
    }
}

/// The iterator of [`Store::iter`].
pub struct Iter<'a, K, V, P: Policies<K>, S> {
    store: &'a Store<K, V, P, S>,
    next_shard: usize,
    /// The rest of the current shard's entries, last first.
    buffer: Vec<(K, V)>,
}

impl<K: Clone, V: Clone, P: Policies<K>, S> Iterator for Iter<'_, K, V, P, S> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        let inner = &*self.store.inner;
        while self.buffer.is_empty() {
            let shard = inner.shards.get(self.next_shard)?;
            self.next_shard += 1;
            let now = inner.recent();
            let table = sync::read(&shard.table);
            self.buffer.extend(
                table
                    .iter()
                    .filter(|s| !P::Expiry::is_expired(&s.expiry, now))
                    .map(|s| (s.key.clone(), s.value.clone())),
            );
        }
        self.buffer.pop()
    }
}
