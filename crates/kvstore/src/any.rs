//! A store of values of any type, handed back typed: what the global stores hold.
//!
//! Values are shared through the standard `Arc` even under loom: they are user data, not part of
//! the store's synchronisation, and `Arc<dyn Any>` needs std's unsizing and `downcast`.
//!
#![allow(
    clippy::disallowed_types,
    reason = "values are user data shared through std's `Arc<dyn Any>`, not part of the store's synchronisation"
)]

use std::any::Any;
#[cfg(feature = "ttl")]
use std::time::Duration;

use std::sync::Arc;

#[cfg(feature = "ttl")]
use crate::PutOptions;
use crate::{Clock, EventHub, Metrics, Store, Subscription};

/// What [`AnyStore::try_get`] says when the key holds a value of another type than asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

impl std::fmt::Display for WrongType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the key holds a value of another type; nothing was read")
    }
}

impl std::error::Error for WrongType {}

/// A stored value of any type.
pub type Value = Arc<dyn Any + Send + Sync>;

/// A store of `String` keys and values of any `Send + Sync + 'static` type.
///
/// `get::<T>` returns `None` when the key holds no live entry or holds a value of another type;
/// it never panics. A `get` of the wrong type is not a read: it changes nothing (no hit or miss,
/// no read budget spent, no sliding refresh, no LRU use), so asking for `String` where a `&str`
/// was stored cannot destroy a one-shot token. [`AnyStore::try_get`] says which case it was.
///
/// ```
/// use kvstore::{AnyStore, PutOptions, WrongType};
///
/// let store = AnyStore::new();
/// store.put("n", 7_u64);
/// assert_eq!(store.get::<u64>("n").as_deref(), Some(&7));
/// assert_eq!(store.get::<String>("n"), None); // wrong type: None, not a panic
///
/// store.put_with("tok", "user-42", &PutOptions::new().with_max_reads(1)); // a &'static str
/// assert_eq!(store.try_get::<String>("tok"), Err(WrongType)); // the token is still there
/// assert_eq!(store.get::<&str>("tok").as_deref(), Some(&"user-42")); // spent now
/// assert!(!store.has("tok"));
/// ```
#[derive(Clone, Debug)]
pub struct AnyStore {
    store: Store<String, Value>,
}

impl Default for AnyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl AnyStore {
    /// An unbounded store on the system clock, without a namespace (its events carry `""`).
    pub fn new() -> Self {
        Self {
            store: Store::new(),
        }
    }

    /// An unbounded store on the system clock whose events carry `namespace`.
    pub fn named(namespace: &str) -> Self {
        Self {
            store: Store::builder().listener(EventHub::new(namespace)).build(),
        }
    }

    /// The namespace its events carry (`""` for the default store).
    pub fn namespace(&self) -> &str {
        self.store.listener().namespace()
    }

    /// Events from this store from now on, buffered up to
    /// [`DEFAULT_BUFFER`](kv_metrics::DEFAULT_BUFFER); see [`Subscription`].
    pub fn subscribe(&self) -> Subscription<String> {
        self.store.listener().subscribe()
    }

    /// Events from this store from now on, buffered up to `buffer` (at least 1).
    pub fn subscribe_with_buffer(&self, buffer: usize) -> Subscription<String> {
        self.store.listener().subscribe_with_buffer(buffer)
    }

    /// A store on `clock` (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn with_clock(clock: impl Clock) -> Self {
        Self {
            store: Store::builder().clock(clock).build(),
        }
    }

    /// Wraps a typed store whose values are [`Value`]s.
    pub fn from_store(store: Store<String, Value>) -> Self {
        Self { store }
    }

    /// The typed store underneath.
    pub fn as_store(&self) -> &Store<String, Value> {
        &self.store
    }

    /// Stores `value` under `key` with no options.
    pub fn put<T: Any + Send + Sync>(&self, key: impl Into<String>, value: T) {
        self.store.put(key.into(), Arc::new(value));
    }

    /// Stores `value` under `key` with `options` (TTL, sliding TTL, read budget).
    #[cfg(feature = "ttl")]
    pub fn put_with<T: Any + Send + Sync>(
        &self,
        key: impl Into<String>,
        value: T,
        options: &PutOptions,
    ) {
        self.store.put_with(key.into(), Arc::new(value), options);
    }

    /// Stores `value` under `key`, expiring `ttl` after now.
    #[cfg(feature = "ttl")]
    pub fn put_for<T: Any + Send + Sync>(&self, key: impl Into<String>, value: T, ttl: Duration) {
        self.put_with(key, value, &PutOptions::new().with_ttl(ttl));
    }

    /// The value under `key` if it is live and a `T`; `None` otherwise. A value of another type
    /// is left as it was (see the type's docs).
    pub fn get<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        self.try_get::<T>(key).ok().flatten()
    }

    /// The value under `key` if it is live and a `T`, `Ok(None)` if nothing live is there, and
    /// `Err(WrongType)` if a value of another type is: then nothing was read (no hit or miss, no
    /// budget spent, no refresh, no use).
    pub fn try_get<T: Any + Send + Sync>(&self, key: &str) -> Result<Option<Arc<T>>, WrongType> {
        match self.store.get_accepted(key, |v| v.is::<T>()) {
            Ok(found) => Ok(found.and_then(|v| v.downcast::<T>().ok())),
            Err(kv_core::Refused) => Err(WrongType),
        }
    }

    /// The value under `key` if it is live, whatever its type.
    pub fn get_any(&self, key: &str) -> Option<Value> {
        self.store.get(key)
    }

    /// Whether `key` holds a live entry (not a read: see [`Store::has`]).
    pub fn has(&self, key: &str) -> bool {
        self.store.has(key)
    }

    /// Removes `key`; `true` if a live entry was removed.
    pub fn del(&self, key: &str) -> bool {
        self.store.del(key)
    }

    /// The live keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = self.store.keys();
        keys.sort_unstable();
        keys
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.store.metrics()
    }

    /// Entries held in memory.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Sets the capacity (0: unbounded); shrinking evicts at once.
    #[cfg(feature = "lru")]
    pub fn set_capacity(&self, capacity: usize) {
        self.store.set_capacity(capacity);
    }

    /// The capacity (0: unbounded).
    #[cfg(feature = "lru")]
    pub fn capacity(&self) -> usize {
        self.store.capacity()
    }

    /// Reclaims every expired entry now; returns how many.
    pub fn purge_expired(&self) -> usize {
        self.store.purge_expired()
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.store.clear();
    }
}
