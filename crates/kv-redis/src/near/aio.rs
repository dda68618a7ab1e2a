//! [`AsyncNearCache`]: the near cache on the async store (feature `tokio`). The near tier, the
//! read fence and the invalidation connection (a thread of its own, as for the sync cache) are
//! the same; only the server's calls are async.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::TryRecvError;
use std::time::Duration;

use kv_core::{AsyncBackend, BoxFuture, Dump, Metrics};
use kv_ttl::PutOptions;

use super::tier::Tier;
use super::{NearMetrics, listen, source};
use crate::ops::Exec;
use crate::scripts::Scripts;
use crate::{AsyncRedisStore, RedisStoreError};

/// How often [`AsyncNearCache::new`] looks whether tracking is on yet, without blocking its
/// task's thread.
const FIRST_POLL: Duration = Duration::from_millis(2);

/// An [`AsyncRedisStore`] namespace with a near tier: [`NearCache`](crate::NearCache)'s rules
/// for tokio services (feature `tokio`). The invalidation connection is a thread of its own,
/// not a task, so it keeps the near tier fresh whatever the runtime is doing.
///
/// ```no_run
/// use kv_core::AsyncBackend;
/// use kv_redis::{AsyncNearCache, AsyncRedisServer};
/// use kv_ttl::PutOptions;
///
/// # async fn run() -> Result<(), kv_redis::RedisStoreError> {
/// let server = AsyncRedisServer::connect("redis://127.0.0.1:6379").await?;
/// let flags = AsyncNearCache::new(server.namespace("feature-flags"), 10_000).await?;
/// flags.put("dark-mode".into(), b"on".to_vec(), &PutOptions::new()).await?;
/// assert_eq!(flags.get(&"dark-mode".into()).await?.as_deref(), Some(&b"on"[..]));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncNearCache {
    store: AsyncRedisStore,
    tier: Arc<Tier>,
}

impl fmt::Debug for AsyncNearCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncNearCache")
            .field("store", &self.store)
            .field("near", &self.tier.metrics())
            .finish()
    }
}

impl AsyncNearCache {
    /// Puts a near tier holding at most `capacity` entries (0: unbounded) in front of `store`,
    /// and turns tracking on: returns once the invalidation connection is subscribed, or its
    /// error.
    pub async fn new(store: AsyncRedisStore, capacity: usize) -> Result<Self, RedisStoreError> {
        let tier = Arc::new(Tier::new(capacity));
        let (url, timeouts, trust) = store.server().url_timeouts_trust();
        let source = source(url, timeouts, trust, store.ops().names, store.namespace());
        let first = listen::start(&tier, source)?;
        loop {
            match first.try_recv() {
                Ok(outcome) => {
                    listen::first_outcome(Ok(outcome))?;
                    break;
                }
                Err(TryRecvError::Empty) => tokio::time::sleep(FIRST_POLL).await,
                Err(TryRecvError::Disconnected) => {
                    listen::first_outcome(Err(std::sync::mpsc::RecvError))?
                }
            }
        }
        Ok(Self { store, tier })
    }

    /// The namespace on the server, without the near tier.
    pub fn store(&self) -> &AsyncRedisStore {
        &self.store
    }

    /// The near tier's counters (no round trip).
    pub fn near_metrics(&self) -> NearMetrics {
        self.tier.metrics()
    }

    /// [`AsyncRedisStore::advance`], then empties this process's near tier (see
    /// [`NearCache::advance`](crate::NearCache::advance)).
    pub async fn advance(&self, by: Duration) -> Result<(), RedisStoreError> {
        let done = self.store.advance(by).await;
        self.tier.empty();
        done
    }

    async fn read_through(&self, key: &str) -> Result<Option<Vec<u8>>, RedisStoreError> {
        let ticket = self.tier.ticket();
        let ops = self.store.ops();
        let reply = ops
            .exec
            .eval(&ops.key_call(&Scripts::get().near_get, key))
            .await;
        self.tier.fill_from(ticket, key, reply?)
    }

    /// Runs a write of `key`, then drops its near copy (also when the write failed).
    async fn write<T>(&self, key: &str, write: BoxFuture<'_, T>) -> T {
        let done = write.await;
        self.tier.invalidate(key, false);
        done
    }

    /// Runs an operation that may remove entries it does not name, then empties the near tier.
    async fn bulk<T>(&self, op: BoxFuture<'_, T>) -> T {
        let done = op.await;
        self.tier.empty();
        done
    }
}

type Fut<'a, T> = BoxFuture<'a, Result<T, RedisStoreError>>;

impl AsyncBackend for AsyncNearCache {
    type Key = String;
    type Value = Vec<u8>;
    type Options = PutOptions;
    type Error = RedisStoreError;

    fn put<'a>(&'a self, key: String, value: Vec<u8>, options: &'a PutOptions) -> Fut<'a, ()> {
        Box::pin(async move {
            let k = key.clone();
            self.write(&k, self.store.put(key, value, options)).await
        })
    }
    /// From the near tier when it holds `key` or knows it absent, otherwise from the server.
    fn get<'a>(&'a self, key: &'a String) -> Fut<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            match self.tier.get(key) {
                Some(found) => Ok(found),
                None => self.read_through(key).await,
            }
        })
    }
    fn has<'a>(&'a self, key: &'a String) -> Fut<'a, bool> {
        self.store.has(key)
    }
    fn del<'a>(&'a self, key: &'a String) -> Fut<'a, bool> {
        Box::pin(self.write(key, self.store.del(key)))
    }
    fn get_or_insert<'a>(
        &'a self,
        key: String,
        value: Vec<u8>,
        options: &'a PutOptions,
    ) -> Fut<'a, Vec<u8>> {
        Box::pin(async move {
            let k = key.clone();
            self.write(&k, self.store.get_or_insert(key, value, options))
                .await
        })
    }
    fn remove<'a>(&'a self, key: &'a String) -> Fut<'a, Option<Vec<u8>>> {
        Box::pin(self.write(key, self.store.remove(key)))
    }
    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> Fut<'a, usize> {
        Box::pin(self.bulk(self.store.remove_prefix(prefix)))
    }
    fn keys(&self) -> Fut<'_, Vec<String>> {
        self.store.keys()
    }
    /// The server's counters: near hits are not in them (see
    /// [`near_metrics`](AsyncNearCache::near_metrics)).
    fn metrics(&self) -> Fut<'_, Metrics> {
        self.store.metrics()
    }
    fn purge_expired(&self) -> Fut<'_, usize> {
        self.store.purge_expired()
    }
    fn capacity(&self) -> Fut<'_, usize> {
        self.store.capacity()
    }
    fn set_capacity(&self, capacity: usize) -> Fut<'_, ()> {
        Box::pin(self.bulk(self.store.set_capacity(capacity)))
    }
    fn clear(&self) -> Fut<'_, ()> {
        Box::pin(self.bulk(self.store.clear()))
    }
    fn dump(&self) -> Fut<'_, Dump<String>> {
        self.store.dump()
    }
}
