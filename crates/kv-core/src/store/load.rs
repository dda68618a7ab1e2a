//! Get-or-insert: one loader per key, however many threads ask at once.
//!
//! Callers that miss take the loader lock of the key's stripe, look again, and only then load:
//! the first runs its loader and stores the value; the others wait on the lock and then read
//! that value. A loader that fails or panics stores nothing and releases the lock (a poisoned
//! lock is taken as it is), so the next caller runs its own. Keys share a fixed number of
//! stripes, so loaders of two keys in one stripe run one after the other: a small price for not
//! keeping a map of keys being loaded.

use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::Store;
use crate::backend::infallible;
use crate::policy::{Expiry, Policies};
use crate::sync;
use crate::{StoreHasher, StoreKey, StoreValue};

impl<K, V, P, S> Store<K, V, P, S>
where
    K: StoreKey + Clone,
    V: StoreValue + Clone,
    P: Policies<K>,
    S: StoreHasher,
{
    /// The live value of `key`, or the value `load` makes, stored with default options and
    /// returned. `load` runs once per key however many threads ask at once: the others wait
    /// and receive the value it stored. Counts as `get` when a value is there (a hit, and its
    /// effects: budget, sliding refresh, use); otherwise one miss, then a `put`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use kv_core::Store;
    ///
    /// let store: Store<String, String> = Store::new();
    /// let loads = AtomicUsize::new(0);
    /// std::thread::scope(|s| {
    ///     for _ in 0..8 {
    ///         s.spawn(|| {
    ///             let v = store.get_or_insert_with("cfg".into(), || {
    ///                 loads.fetch_add(1, Ordering::Relaxed);
    ///                 "loaded".to_string()
    ///             });
    ///             assert_eq!(v, "loaded");
    ///         });
    ///     }
    /// });
    /// assert_eq!(loads.load(Ordering::Relaxed), 1);
    /// assert_eq!((store.metrics().hits, store.metrics().misses), (7, 1));
    /// ```
    pub fn get_or_insert_with(&self, key: K, load: impl FnOnce() -> V) -> V {
        infallible(
            self.try_get_or_insert_with_options(key, &Default::default(), || {
                Ok::<V, Infallible>(load())
            }),
        )
    }

    /// As [`Store::get_or_insert_with`], for a loader that can fail: its error is returned and
    /// nothing is stored, and the next caller runs its own loader.
    pub fn try_get_or_insert_with<Err>(
        &self,
        key: K,
        load: impl FnOnce() -> Result<V, Err>,
    ) -> Result<V, Err> {
        self.try_get_or_insert_with_options(key, &Default::default(), load)
    }

    /// As [`Store::try_get_or_insert_with`], storing the loaded value with `options` (a TTL, a
    /// read budget: the expiry policy's put options).
    pub fn try_get_or_insert_with_options<Err>(
        &self,
        key: K,
        options: &<P::Expiry as Expiry>::Options,
        load: impl FnOnce() -> Result<V, Err>,
    ) -> Result<V, Err> {
        let value = match self.read::<K, false, false>(&key, |_| true) {
            Ok(Some(value)) => Ok(value),
            _ => self.load_under_lock(key, options, load),
        };
        self.inner.deliver_removals();
        value
    }

    /// The slow path of get-or-insert: under the key's loader lock, look again, then load. The
    /// removal listener's notifications wait until the lock is released.
    fn load_under_lock<Err>(
        &self,
        key: K,
        options: &<P::Expiry as Expiry>::Options,
        load: impl FnOnce() -> Result<V, Err>,
    ) -> Result<V, Err> {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(&key);
        let stripe = &inner.loaders[(hash >> 32) as usize % inner.loaders.len()];
        let _loading = sync::lock(stripe);
        // Another caller may have stored it while this one waited.
        if let Ok(Some(value)) = self.read::<K, false, false>(&key, |_| true) {
            return Ok(value);
        }
        inner.miss(inner.shard(hash), &key);
        let run = inner.loads.start(&inner.clock);
        // A panic in `load` (or in storing its value: a user's `Hash`, the weigher) is counted,
        // then goes on unwinding in this caller.
        let loaded = catch_unwind(AssertUnwindSafe(|| {
            let value = load()?;
            self.insert(key, value.clone(), options);
            Ok(value)
        }));
        match loaded {
            Ok(Ok(value)) => {
                run.succeeded();
                Ok(value)
            }
            Ok(Err(error)) => {
                run.failed();
                Err(error)
            }
            Err(panic) => {
                run.panicked();
                resume_unwind(panic)
            }
        }
    }
}
