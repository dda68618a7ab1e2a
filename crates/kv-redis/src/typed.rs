//! Typed values on top of the byte store: each value is stored as its JSON text (serde_json), so
//! any program with the same type reads it, and a value of the wrong shape is an error, not a
//! panic.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use kv_core::{Backend, Dump, Metrics};
use kv_ttl::PutOptions;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{RedisServer, RedisStore, RedisStoreError};

/// A [`RedisStore`] whose values are `V`, stored as JSON: `TypedRedisStore<String>` is the
/// `Backend<Key = String, Value = String>` that the case-file harness drives.
pub struct TypedRedisStore<V> {
    inner: RedisStore,
    _values: PhantomData<fn(V) -> V>,
}

impl<V> Clone for TypedRedisStore<V> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<V> fmt::Debug for TypedRedisStore<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TypedRedisStore").field(&self.inner).finish()
    }
}

impl<V> TypedRedisStore<V> {
    /// Wraps a byte store.
    pub fn new(inner: RedisStore) -> Self {
        Self {
            inner,
            _values: PhantomData,
        }
    }

    /// Connects to `url` and opens `namespace` there.
    pub fn open(url: &str, namespace: &str) -> Result<Self, RedisStoreError> {
        Ok(Self::new(RedisServer::connect(url)?.namespace(namespace)))
    }

    /// The byte store underneath.
    pub fn get_ref(&self) -> &RedisStore {
        &self.inner
    }

    /// The byte store underneath.
    pub fn into_inner(self) -> RedisStore {
        self.inner
    }

    /// Moves the namespace's clock forward: see [`RedisStore::advance`].
    pub fn advance(&self, by: Duration) -> Result<(), RedisStoreError> {
        self.inner.advance(by)
    }

    /// Makes the namespace's clock a manual one: see [`RedisStore::freeze_clock`].
    pub fn freeze_clock(&self) -> Result<(), RedisStoreError> {
        self.inner.freeze_clock()
    }
}

pub(crate) fn encode_json<V: Serialize>(value: &V) -> Result<Vec<u8>, RedisStoreError> {
    serde_json::to_vec(value).map_err(|e| RedisStoreError::Decode {
        reason: format!("the value does not serialize as JSON: {e}"),
    })
}

pub(crate) fn decode_json<V: DeserializeOwned>(bytes: &[u8]) -> Result<V, RedisStoreError> {
    serde_json::from_slice(bytes).map_err(|e| RedisStoreError::Decode {
        reason: format!(
            "a stored value is not the JSON of {}: {e}",
            std::any::type_name::<V>()
        ),
    })
}

/// A value a read may have found, decoded.
pub(crate) fn decode_found<V: DeserializeOwned>(
    found: Option<Vec<u8>>,
) -> Result<Option<V>, RedisStoreError> {
    found.map(|b| decode_json(&b)).transpose()
}

/// What a get-or-insert returns: the value it found, decoded, or the one it stored, as given.
pub(crate) fn found_or_stored<V: DeserializeOwned>(
    found: Option<Vec<u8>>,
    stored: V,
) -> Result<V, RedisStoreError> {
    found.map_or(Ok(stored), |b| decode_json(&b))
}

impl<V: Serialize + DeserializeOwned> Backend for TypedRedisStore<V> {
    type Key = String;
    type Value = V;
    type Options = PutOptions;
    type Error = RedisStoreError;

    fn put(&self, key: String, value: V, options: &PutOptions) -> Result<(), RedisStoreError> {
        self.inner.put(key, encode_json(&value)?, options)
    }
    fn get(&self, key: &String) -> Result<Option<V>, RedisStoreError> {
        decode_found(self.inner.get(key)?)
    }
    fn has(&self, key: &String) -> Result<bool, RedisStoreError> {
        self.inner.has(key)
    }
    fn del(&self, key: &String) -> Result<bool, RedisStoreError> {
        self.inner.del(key)
    }
    /// A value found is decoded; a value stored is handed back as given.
    fn get_or_insert(
        &self,
        key: String,
        value: V,
        options: &PutOptions,
    ) -> Result<V, RedisStoreError> {
        let found = self
            .inner
            .get_or_insert_found(&key, &encode_json(&value)?, options)?;
        found_or_stored(found, value)
    }
    fn remove(&self, key: &String) -> Result<Option<V>, RedisStoreError> {
        decode_found(self.inner.remove(key)?)
    }
    fn remove_prefix(&self, prefix: &str) -> Result<usize, RedisStoreError> {
        self.inner.remove_prefix(prefix)
    }
    fn keys(&self) -> Result<Vec<String>, RedisStoreError> {
        self.inner.keys()
    }
    fn metrics(&self) -> Result<Metrics, RedisStoreError> {
        self.inner.metrics()
    }
    fn purge_expired(&self) -> Result<usize, RedisStoreError> {
        self.inner.purge_expired()
    }
    fn capacity(&self) -> Result<usize, RedisStoreError> {
        self.inner.capacity()
    }
    fn set_capacity(&self, capacity: usize) -> Result<(), RedisStoreError> {
        self.inner.set_capacity(capacity)
    }
    fn clear(&self) -> Result<(), RedisStoreError> {
        self.inner.clear()
    }
    fn dump(&self) -> Result<Dump<String>, RedisStoreError> {
        self.inner.dump()
    }
}
