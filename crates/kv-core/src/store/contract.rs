//! The [`Backend`] trait on the in-memory store: the inherent methods, with
//! [`Infallible`] errors.

use std::convert::Infallible;

use super::Store;
use crate::policy::{Capacity, Expiry, Policies};
use crate::{Backend, Dump, Metrics, StoreHasher, StoreKey, StoreValue};

impl<K, V, P, S> Backend for Store<K, V, P, S>
where
    K: StoreKey + Ord + Clone,
    V: StoreValue + Clone,
    P: Policies<K, Eviction: Capacity>,
    S: StoreHasher,
{
    type Key = K;
    type Value = V;
    type Options = <P::Expiry as Expiry>::Options;
    type Error = Infallible;

    fn put(
        &self,
        key: K,
        value: V,
        options: &<P::Expiry as Expiry>::Options,
    ) -> Result<(), Self::Error> {
        self.put_with(key, value, options);
        Ok(())
    }
    fn get(&self, key: &K) -> Result<Option<V>, Self::Error> {
        Ok(Store::get(self, key))
    }
    fn has(&self, key: &K) -> Result<bool, Self::Error> {
        Ok(Store::has(self, key))
    }
    fn del(&self, key: &K) -> Result<bool, Self::Error> {
        Ok(Store::del(self, key))
    }
    fn get_or_insert(
        &self,
        key: K,
        value: V,
        options: &<P::Expiry as Expiry>::Options,
    ) -> Result<V, Self::Error> {
        self.try_get_or_insert_with_options(key, options, || Ok(value))
    }
    fn remove(&self, key: &K) -> Result<Option<V>, Self::Error> {
        Ok(Store::remove(self, key))
    }
    fn remove_prefix(&self, prefix: &str) -> Result<usize, Self::Error>
    where
        K: AsRef<str>,
    {
        // `retain` shows `keep` live entries only, and removes exactly those it says no to.
        let mut removed = 0;
        self.retain(|key, _| {
            let keep = !key.as_ref().starts_with(prefix);
            removed += usize::from(!keep);
            keep
        });
        Ok(removed)
    }
    fn keys(&self) -> Result<Vec<K>, Self::Error> {
        Ok(Store::keys(self))
    }
    fn metrics(&self) -> Result<Metrics, Self::Error> {
        Ok(Store::metrics(self))
    }
    fn purge_expired(&self) -> Result<usize, Self::Error> {
        Ok(Store::purge_expired(self))
    }
    fn capacity(&self) -> Result<usize, Self::Error> {
        Ok(Store::capacity(self))
    }
    fn set_capacity(&self, capacity: usize) -> Result<(), Self::Error> {
        Store::set_capacity(self, capacity);
        Ok(())
    }
    fn clear(&self) -> Result<(), Self::Error> {
        Store::clear(self);
        Ok(())
    }
    fn dump(&self) -> Result<Dump<K>, Self::Error> {
        let mut keys = Store::keys(self);
        keys.sort_unstable();
        Ok(Dump {
            keys,
            metrics: Store::metrics(self),
        })
    }
}
