//! The [`Backend`] trait: the contract's operations (`docs/semantics.md`), as every backend offers
//! them. The in-memory [`Store`](crate::Store) implements it with [`Infallible`] errors; a remote
//! backend (Redis) implements it with its own error type. Code that must run on any backend, such
//! as the case-file harness, takes a `Backend` (or a [`DynBackend`]) and nothing else.

use std::convert::Infallible;
use std::error::Error;
use std::fmt;

use crate::Metrics;

/// An error of any backend, boxed (what [`DynBackend`] reports). Its `Display` and `source` are
/// the backend's own error's.
#[derive(Debug)]
pub struct BoxError(Box<dyn Error + Send + Sync + 'static>);

impl BoxError {
    /// Boxes `error`.
    pub fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }

    /// The backend's own error, to downcast.
    pub fn inner(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for BoxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for BoxError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// The operations of the contract, rule by rule as `docs/semantics.md` states them.
///
/// Every method is fallible in the way a remote backend needs; the in-memory store's error type
/// is [`Infallible`], and its inherent methods of the same names return plain values, so
/// in-memory callers never unwrap. The trait is object safe: `&dyn Backend<Key = .., ..>` works
/// wherever one backend must be chosen at run time (see [`DynBackend`] to unify error types).
///
/// The in-memory store implements it when it has an eviction policy with a capacity (the
/// contract's `set_capacity`): the `kvstore` facade's `Store` does.
///
/// ```
/// use kv_core::Backend;
///
/// /// Works on the in-memory store and on Redis alike.
/// fn count_live<B: Backend<Key = String>>(store: &B) -> Result<usize, B::Error> {
///     Ok(store.keys()?.len())
/// }
/// ```
pub trait Backend {
    /// The key type.
    type Key;
    /// The value type (`get` returns an owned copy).
    type Value;
    /// What a `put` can say about its entry beyond key and value (TTL, sliding refresh, read
    /// budget for a store with expiry; `()` for one without, so expiry options given to a store
    /// that cannot honour them do not compile).
    type Options: Default;
    /// What can go wrong: [`Infallible`] for the in-memory store.
    type Error: Error + Send + Sync + 'static;

    /// Stores `value` under `key`, replacing the whole entry (value and options).
    fn put(
        &self,
        key: Self::Key,
        value: Self::Value,
        options: &Self::Options,
    ) -> Result<(), Self::Error>;
    /// The value if `key` holds a live entry: a read (hit or miss counted, a read budget spent, a
    /// sliding TTL refreshed, a use for LRU).
    fn get(&self, key: &Self::Key) -> Result<Option<Self::Value>, Self::Error>;
    /// Whether `key` holds a live entry. Not a read.
    fn has(&self, key: &Self::Key) -> Result<bool, Self::Error>;
    /// Removes `key`; `true` if a live entry was removed.
    fn del(&self, key: &Self::Key) -> Result<bool, Self::Error>;
    /// The live value of `key`, read as by [`get`](Backend::get) (a hit, with its effects: a
    /// read budget spent, a sliding TTL refreshed, a use for LRU); otherwise one miss, then
    /// `value` is stored with `options` (a [`put`](Backend::put)) and returned.
    ///
    /// Atomicity: on Redis it is one script, so nothing else happens to `key` between the look
    /// and the insert. The in-memory store serialises it only with other get-or-inserts of
    /// `key` (its loader lock): two of them never both insert, but a concurrent `put` or `del`
    /// of `key` may land between the look and the insert, and the later write wins. The value
    /// is made before the call, so it is wasted on a hit; to make it only on a miss, once per
    /// key however many threads ask, use the in-memory store's `get_or_insert_with`.
    fn get_or_insert(
        &self,
        key: Self::Key,
        value: Self::Value,
        options: &Self::Options,
    ) -> Result<Self::Value, Self::Error>;
    /// Removes `key` and returns its value if the entry was live: [`del`](Backend::del) that
    /// hands the value back. Not a read (no hit or miss); an expired entry is reclaimed (one
    /// Expiration) and gives `None`.
    fn remove(&self, key: &Self::Key) -> Result<Option<Self::Value>, Self::Error>;
    /// Removes every live entry whose key starts with `prefix` (compared as text, byte by byte;
    /// `""` matches every key) and returns how many it removed: the contract's `retain` with
    /// the test "the key does not start with `prefix`", in a form a remote backend can run
    /// where the data is (a closure cannot travel to a server). Removals count nothing, as
    /// [`del`](Backend::del); expired entries met on the way, whatever their keys, are reclaimed
    /// (one Expiration each) and not counted in the result. Not a read, not a use.
    ///
    /// Atomicity: the in-memory store goes shard by shard, each shard judged at one instant
    /// (an entry put into a shard already done survives). Redis removes up to 10,000 entries
    /// per script, each script atomic: a namespace with fewer matching and expired entries is
    /// done in one atomic step; a larger one in several, between which other clients' puts may
    /// land (and survive if their shard of the work is done).
    fn remove_prefix(&self, prefix: &str) -> Result<usize, Self::Error>
    where
        Self::Key: AsRef<str>;
    /// The live keys, in no particular order.
    fn keys(&self) -> Result<Vec<Self::Key>, Self::Error>;
    /// A snapshot of the counters.
    fn metrics(&self) -> Result<Metrics, Self::Error>;
    /// Reclaims every expired entry now; returns how many.
    fn purge_expired(&self) -> Result<usize, Self::Error>;
    /// The capacity; 0 is unbounded.
    fn capacity(&self) -> Result<usize, Self::Error>;
    /// Sets the capacity (0: unbounded); shrinking evicts at once.
    fn set_capacity(&self, capacity: usize) -> Result<(), Self::Error>;
    /// Removes every entry (counted by no counter).
    fn clear(&self) -> Result<(), Self::Error>;
    /// What a `kv.dump.v1` artifact shows: the live keys, sorted, with the counters taken after
    /// them.
    fn dump(&self) -> Result<Dump<Self::Key>, Self::Error>;
}

/// A store's contents as an artifact shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dump<K> {
    /// The live keys, sorted.
    pub keys: Vec<K>,
    /// The counters, read after the keys.
    pub metrics: Metrics,
}

/// Any backend of these keys, values and options, its errors boxed: what a program that picks its
/// backend at run time holds (`Box<DynBackend<..>>`). Wrap a backend with [`Boxed`] to get one.
pub type DynBackend<K, V, O> = dyn Backend<Key = K, Value = V, Options = O, Error = BoxError>;

/// A backend whose errors are boxed, so backends with different error types fit one
/// [`DynBackend`].
///
/// ```
/// use kv_core::{Backend, Boxed, DynBackend};
///
/// /// Picks a backend at run time; the caller sees one type whatever was picked.
/// fn open<B>(backend: B) -> Box<DynBackend<String, u64, B::Options>>
/// where
///     B: Backend<Key = String, Value = u64> + 'static,
/// {
///     Box::new(Boxed(backend))
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Boxed<B>(pub B);

fn boxed<T, E: Error + Send + Sync + 'static>(r: Result<T, E>) -> Result<T, BoxError> {
    r.map_err(BoxError::new)
}

impl<B: Backend> Backend for Boxed<B> {
    type Key = B::Key;
    type Value = B::Value;
    type Options = B::Options;
    type Error = BoxError;

    fn put(&self, key: B::Key, value: B::Value, options: &B::Options) -> Result<(), BoxError> {
        boxed(self.0.put(key, value, options))
    }
    fn get(&self, key: &B::Key) -> Result<Option<B::Value>, BoxError> {
        boxed(self.0.get(key))
    }
    fn has(&self, key: &B::Key) -> Result<bool, BoxError> {
        boxed(self.0.has(key))
    }
    fn del(&self, key: &B::Key) -> Result<bool, BoxError> {
        boxed(self.0.del(key))
    }
    fn get_or_insert(
        &self,
        key: B::Key,
        value: B::Value,
        options: &B::Options,
    ) -> Result<B::Value, BoxError> {
        boxed(self.0.get_or_insert(key, value, options))
    }
    fn remove(&self, key: &B::Key) -> Result<Option<B::Value>, BoxError> {
        boxed(self.0.remove(key))
    }
    fn remove_prefix(&self, prefix: &str) -> Result<usize, BoxError>
    where
        B::Key: AsRef<str>,
    {
        boxed(self.0.remove_prefix(prefix))
    }
    fn keys(&self) -> Result<Vec<B::Key>, BoxError> {
        boxed(self.0.keys())
    }
    fn metrics(&self) -> Result<Metrics, BoxError> {
        boxed(self.0.metrics())
    }
    fn purge_expired(&self) -> Result<usize, BoxError> {
        boxed(self.0.purge_expired())
    }
    fn capacity(&self) -> Result<usize, BoxError> {
        boxed(self.0.capacity())
    }
    fn set_capacity(&self, capacity: usize) -> Result<(), BoxError> {
        boxed(self.0.set_capacity(capacity))
    }
    fn clear(&self) -> Result<(), BoxError> {
        boxed(self.0.clear())
    }
    fn dump(&self) -> Result<Dump<B::Key>, BoxError> {
        boxed(self.0.dump())
    }
}

impl<K: fmt::Display> fmt::Display for Dump<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} live keys [", self.keys.len())?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}")?;
        }
        write!(f, "]; {}", self.metrics)
    }
}

/// Unwraps a result that cannot fail (the in-memory store's), without a panic path.
pub fn infallible<T>(r: Result<T, Infallible>) -> T {
    match r {
        Ok(t) => t,
        Err(never) => match never {},
    }
}
