//! [`NearCache`]: a Redis namespace with an in-process near tier in front of it, kept fresh by
//! Redis's server-assisted invalidation (`CLIENT TRACKING`). The rules are in
//! `docs/semantics.md`, "Near cache".

#[cfg(feature = "tokio")]
mod aio;
mod listen;
mod tier;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kv_core::{Backend, Dump, Metrics};
use kv_ttl::PutOptions;
use redis::Value;

use crate::conn::{Timeouts, Trust};
use crate::names::{Names, escape};
use crate::ops::{Exec, block, decode_value};
use crate::scripts::Scripts;
use crate::url::ConnectionUrl;
use crate::{RedisStore, RedisStoreError};

#[cfg(feature = "tokio")]
pub use aio::AsyncNearCache;
pub use tier::NearMetrics;
use tier::Tier;

/// Where the invalidation connection of namespace `namespace` (keys `names`) goes.
pub(crate) fn source(
    url: &ConnectionUrl,
    timeouts: Timeouts,
    trust: &Trust,
    names: &Names,
    namespace: &str,
) -> listen::Source {
    listen::Source {
        url: url.clone(),
        timeouts,
        trust: trust.clone(),
        slot_key: names.meta.clone(),
        prefix: names.entry_prefix.clone(),
        name: format!("kv-near:{}", escape(namespace.as_bytes())),
        asker: Default::default(),
    }
}

impl Tier {
    /// Decodes the reply of `NEAR_GET` for `key`, keeps what the server allows near (unless
    /// `ticket` was overtaken), and returns the value.
    pub(crate) fn fill_from(
        &self,
        ticket: tier::Ticket,
        key: &str,
        reply: Value,
    ) -> Result<Option<Vec<u8>>, RedisStoreError> {
        let (value, keep) = match reply {
            Value::Nil => {
                // Absent: kept near too; creating the key is a change that invalidates it.
                self.fill(ticket, key, None, None);
                return Ok(None);
            }
            Value::Array(mut pair) if pair.len() == 2 => match (pair.pop(), pair.pop()) {
                (Some(Value::Int(keep)), Some(Value::BulkString(v))) => (v, keep),
                _ => return Err(decode_value("get", &Value::Array(pair))),
            },
            other => return Err(decode_value("get", &other)),
        };
        let left = match keep {
            -1 => Some(None),
            us if us >= 0 => Some(Some(Duration::from_micros(us.unsigned_abs()))),
            _ => None,
        };
        if let Some(left) = left {
            self.fill(ticket, key, Some(value.clone()), left);
        }
        Ok(Some(value))
    }
}

/// A [`RedisStore`] namespace with a near tier: an in-process store, with its own capacity, that
/// answers repeated reads of a key without a round trip until someone changes the key.
///
/// - `get` answers from the near tier when it holds the key (or knows it absent); otherwise it
///   reads the server (a normal `get`: counted, LRU use) and keeps the value near (or that the
///   key is absent), unless the entry has a read
///   budget or a sliding TTL (every read of those must reach the server) or a deadline on a
///   frozen clock. A near copy expires no later than the entry's deadline on the server.
/// - Every write (`put`, `del`, `remove`, `get_or_insert`, `clear`, ...) goes to the server and
///   drops the near copy, so this process reads its own writes at once. Every other operation
///   goes to the server as on [`RedisStore`].
/// - Other clients' writes reach the near tier as invalidations: a connection of its own
///   subscribed to `CLIENT TRACKING` broadcasts for the namespace's keys (on a cluster, on the
///   master of the namespace's slot). Until one arrives a near copy may be stale: the delay is
///   the bound `docs/semantics.md` states. When that connection fails the near tier is emptied
///   and off (reads go to the server) until tracking is on again.
/// - [`Backend::metrics`] is the server's, counting only the reads the server saw;
///   [`near_metrics`](Self::near_metrics) counts the near tier, side by side.
///
/// Cheap to clone; clones share the near tier and its connection, which closes once the last
/// clone is dropped (within about half a second).
///
/// ```no_run
/// use kv_core::Backend;
/// use kv_redis::{NearCache, RedisServer};
/// use kv_ttl::PutOptions;
///
/// # fn main() -> Result<(), kv_redis::RedisStoreError> {
/// let server = RedisServer::connect("redis://127.0.0.1:6379")?;
/// let flags = NearCache::new(server.namespace("feature-flags"), 10_000)?;
/// flags.put("dark-mode".into(), b"on".to_vec(), &PutOptions::new())?;
/// assert_eq!(flags.get(&"dark-mode".into())?.as_deref(), Some(&b"on"[..])); // from Redis
/// assert_eq!(flags.get(&"dark-mode".into())?.as_deref(), Some(&b"on"[..])); // from the near tier
/// assert_eq!(flags.near_metrics().hits, 1);
/// assert_eq!(flags.metrics()?.hits, 1); // the server saw one read
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct NearCache {
    store: RedisStore,
    tier: Arc<Tier>,
}

impl fmt::Debug for NearCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NearCache")
            .field("store", &self.store)
            .field("near", &self.tier.metrics())
            .finish()
    }
}

impl NearCache {
    /// Puts a near tier holding at most `capacity` entries (0: unbounded) in front of `store`,
    /// and turns tracking on: returns once the invalidation connection is subscribed, or its
    /// error.
    pub fn new(store: RedisStore, capacity: usize) -> Result<Self, RedisStoreError> {
        let tier = Arc::new(Tier::new(capacity));
        let connector = &store.server().connector;
        let source = source(
            connector.url(),
            connector.timeouts(),
            connector.trust(),
            store.ops().names,
            store.namespace(),
        );
        listen::first_outcome(listen::start(&tier, source)?.recv())?;
        Ok(Self { store, tier })
    }

    /// The namespace on the server, without the near tier.
    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    /// The near tier's counters (no round trip).
    pub fn near_metrics(&self) -> NearMetrics {
        self.tier.metrics()
    }

    /// The server's counters and the near tier's, side by side.
    pub fn tier_metrics(&self) -> Result<(Metrics, NearMetrics), RedisStoreError> {
        Ok((self.store.metrics()?, self.tier.metrics()))
    }

    /// [`RedisStore::advance`], which moves the namespace's deadlines for every client, then
    /// empties this process's near tier (other processes' near copies do not see the move: see
    /// `docs/semantics.md`).
    pub fn advance(&self, by: Duration) -> Result<(), RedisStoreError> {
        let done = self.store.advance(by);
        self.tier.empty();
        done
    }

    /// Reads `key` on the server, keeping the value near if the server says it may be.
    fn read_through(&self, key: &str) -> Result<Option<Vec<u8>>, RedisStoreError> {
        let ticket = self.tier.ticket();
        let ops = self.store.ops();
        let reply = block(ops.exec.eval(&ops.key_call(&Scripts::get().near_get, key)));
        self.tier.fill_from(ticket, key, reply?)
    }

    /// Runs a write of `key` on the server, then drops its near copy (also when the write
    /// failed: it may have reached the server all the same).
    fn write<T>(&self, key: &str, write: impl FnOnce(&RedisStore) -> T) -> T {
        let done = write(&self.store);
        self.tier.invalidate(key, false);
        done
    }

    /// Runs an operation that may remove entries it does not name, then empties the near tier.
    fn bulk<T>(&self, op: impl FnOnce(&RedisStore) -> T) -> T {
        let done = op(&self.store);
        self.tier.empty();
        done
    }
}

impl Backend for NearCache {
    type Key = String;
    type Value = Vec<u8>;
    type Options = PutOptions;
    type Error = RedisStoreError;

    fn put(
        &self,
        key: String,
        value: Vec<u8>,
        options: &PutOptions,
    ) -> Result<(), RedisStoreError> {
        let k = key.clone();
        self.write(&k, |s| s.put(key, value, options))
    }

    /// From the near tier when it holds `key` or knows it absent (no round trip, not counted on
    /// the server), otherwise from the server.
    fn get(&self, key: &String) -> Result<Option<Vec<u8>>, RedisStoreError> {
        if let Some(found) = self.tier.get(key) {
            return Ok(found);
        }
        self.read_through(key)
    }

    fn has(&self, key: &String) -> Result<bool, RedisStoreError> {
        self.store.has(key)
    }

    fn del(&self, key: &String) -> Result<bool, RedisStoreError> {
        self.write(key, |s| s.del(key))
    }

    fn get_or_insert(
        &self,
        key: String,
        value: Vec<u8>,
        options: &PutOptions,
    ) -> Result<Vec<u8>, RedisStoreError> {
        let k = key.clone();
        self.write(&k, |s| s.get_or_insert(key, value, options))
    }

    fn remove(&self, key: &String) -> Result<Option<Vec<u8>>, RedisStoreError> {
        self.write(key, |s| s.remove(key))
    }

    fn remove_prefix(&self, prefix: &str) -> Result<usize, RedisStoreError> {
        self.bulk(|s| s.remove_prefix(prefix))
    }

    fn keys(&self) -> Result<Vec<String>, RedisStoreError> {
        self.store.keys()
    }

    /// The server's counters: near hits are not in them (see
    /// [`near_metrics`](NearCache::near_metrics)).
    fn metrics(&self) -> Result<Metrics, RedisStoreError> {
        self.store.metrics()
    }

    fn purge_expired(&self) -> Result<usize, RedisStoreError> {
        // Only expired entries go, and near copies expire before their server deadline.
        self.store.purge_expired()
    }

    fn capacity(&self) -> Result<usize, RedisStoreError> {
        self.store.capacity()
    }

    fn set_capacity(&self, capacity: usize) -> Result<(), RedisStoreError> {
        self.bulk(|s| s.set_capacity(capacity))
    }

    fn clear(&self) -> Result<(), RedisStoreError> {
        self.bulk(|s| s.clear())
    }

    fn dump(&self) -> Result<Dump<String>, RedisStoreError> {
        self.store.dump()
    }
}
