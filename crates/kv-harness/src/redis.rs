//! `--backend redis://...`: case files on Redis. Each case gets a namespace of its own, named by
//! the run and the case's number, so parallel workers and other runs never share one; its clock is
//! frozen (the contract's manual clock, moved only by `advance` steps), and the namespace is
//! removed from the server when the case's store is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kv_redis::{RedisServer, TypedRedisStore};
use kvstore::{Backend, BoxError, Boxed, Dump, Metrics, PutOptions};

use crate::case::{CaseBackend, CaseStore};

/// Cases on one Redis server or cluster.
#[derive(Debug)]
pub struct RedisCases {
    server: RedisServer,
    run: String,
    next: AtomicUsize,
}

impl RedisCases {
    /// Connects to `url` (`redis://`, `rediss://`, `redis+cluster://host:port,...`).
    pub fn connect(url: &str) -> Result<Self, BoxError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Self {
            server: RedisServer::connect(url).map_err(BoxError::new)?,
            run: format!("kv-harness/{}-{nanos}", std::process::id()),
            next: AtomicUsize::new(0),
        })
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        self.server.url()
    }
}

impl CaseBackend for RedisCases {
    fn open(&self, ns: &str) -> Result<CaseStore, BoxError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}/{n}/{ns}", self.run);
        let store = TypedRedisStore::<String>::new(self.server.namespace(&name));
        store.get_ref().drop_namespace().map_err(BoxError::new)?;
        store.freeze_clock().map_err(BoxError::new)?;
        let clock = store.clone();
        Ok(CaseStore {
            store: Box::new(Boxed(RemovedOnDrop(store))),
            advance: Box::new(move |by: Duration| clock.advance(by).map_err(BoxError::new)),
        })
    }
}

/// A case's store: the namespace goes from the server when the case is done with it.
struct RemovedOnDrop(TypedRedisStore<String>);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        // Best effort: a server that went away leaves the namespace behind, and the case has
        // already reported the error.
        let _ = self.0.get_ref().drop_namespace();
    }
}

type R<T> = Result<T, kv_redis::RedisStoreError>;

impl Backend for RemovedOnDrop {
    type Key = String;
    type Value = String;
    type Options = PutOptions;
    type Error = kv_redis::RedisStoreError;

    fn put(&self, key: String, value: String, options: &PutOptions) -> R<()> {
        self.0.put(key, value, options)
    }
    fn get(&self, key: &String) -> R<Option<String>> {
        self.0.get(key)
    }
    fn has(&self, key: &String) -> R<bool> {
        self.0.has(key)
    }
    fn del(&self, key: &String) -> R<bool> {
        self.0.del(key)
    }
    fn get_or_insert(&self, key: String, value: String, options: &PutOptions) -> R<String> {
        self.0.get_or_insert(key, value, options)
    }
    fn remove(&self, key: &String) -> R<Option<String>> {
        self.0.remove(key)
    }
    fn remove_prefix(&self, prefix: &str) -> R<usize> {
        self.0.remove_prefix(prefix)
    }
    fn keys(&self) -> R<Vec<String>> {
        self.0.keys()
    }
    fn metrics(&self) -> R<Metrics> {
        self.0.metrics()
    }
    fn purge_expired(&self) -> R<usize> {
        self.0.purge_expired()
    }
    fn capacity(&self) -> R<usize> {
        self.0.capacity()
    }
    fn set_capacity(&self, capacity: usize) -> R<()> {
        self.0.set_capacity(capacity)
    }
    fn clear(&self) -> R<()> {
        self.0.clear()
    }
    fn dump(&self) -> R<Dump<String>> {
        self.0.dump()
    }
}
