//! Every row of the comparison adapted to [`Contender`]: our store in its configurations, and the
//! peers used as their users would use them (default hasher, default features).
// Benchmark adapters (outside the sync-facade rule); `lru` in a std Mutex is the peer as users write it.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kv_bench::Contender;
use kv_bench::workload::{W4_TTL_NANOS, WARM_UP_KEYS, Workload};

pub use crate::ours::{Ours, w4_ttl};

use crate::original::{self, Original};

/// Moka's TTL and TTI when the workload is not W4: long enough never to fire, so the row shows
/// what having the feature costs.
const IDLE_HOUR: Duration = Duration::from_secs(3_600);

/// Capacity given to peers that need one in the unbounded W5: room for every warm-up key and
/// every token in flight, so nothing is evicted.
const W5_ROOM: usize = 2 * WARM_UP_KEYS;

/// The engine alone: `kv_core::Store` with no expiry, no recency, no listener.
#[derive(Clone, Default)]
pub struct Bare(kv_core::Store<String, u64>);

impl Contender for Bare {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.0.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.0.put(key.to_owned(), value);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        self.0.put(key.to_owned(), value);
        self.0.del(key)
    }
    fn entries(&mut self) -> u64 {
        self.0.len() as u64
    }
}

/// The original's design (see `original.rs`).
#[derive(Clone)]
pub struct Port(Original);

impl Port {
    pub fn new(workload: Workload) -> Self {
        Self(Original::new(workload.capacity().unwrap_or(0)))
    }
}

impl Contender for Port {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.0.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.0
            .put(key.to_owned(), value, original::Options::default());
    }
    fn put_expiring(&mut self, key: &String, value: u64) {
        let opts = original::Options {
            ttl: W4_TTL_NANOS,
            sliding: true,
            max_reads: 0,
        };
        self.0.put(key.to_owned(), value, opts);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        let opts = original::Options {
            max_reads: 1,
            ..original::Options::default()
        };
        self.0.put(key.to_owned(), value, opts);
        self.0.get(key).is_some()
    }
    fn advance(&mut self, nanos: u64) {
        self.0.advance(nanos);
    }
    fn entries(&mut self) -> u64 {
        self.0.len() as u64
    }
}

/// Which moka: plain, with time to live, or with time to idle.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MokaKind {
    Plain,
    Ttl,
    Tti,
}

/// `moka::sync::Cache`. In W4 its TTL or TTI is 1 s of real time: moka's mock clock is not
/// public, and at moka's rate 4 million operations take seconds, so its entries really expire.
#[derive(Clone)]
pub struct Moka(moka::sync::Cache<String, u64>);

impl Moka {
    pub fn new(workload: Workload, kind: MokaKind) -> Self {
        let mut b = moka::sync::Cache::builder();
        if let Some(capacity) = workload.capacity() {
            b = b.max_capacity(capacity as u64);
        }
        let d = if workload == Workload::W4 {
            w4_ttl()
        } else {
            IDLE_HOUR
        };
        b = match kind {
            MokaKind::Plain => b,
            MokaKind::Ttl => b.time_to_live(d),
            MokaKind::Tti => b.time_to_idle(d),
        };
        Self(b.build())
    }
}

impl Contender for Moka {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.0.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.0.insert(key.to_owned(), value);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        self.0.insert(key.to_owned(), value);
        self.0.remove(key).is_some()
    }
    fn settle(&mut self) {
        self.0.run_pending_tasks();
    }
    fn entries(&mut self) -> u64 {
        self.0.run_pending_tasks();
        self.0.entry_count()
    }
}

/// `mini_moka::sync::Cache`.
#[derive(Clone)]
pub struct MiniMoka(mini_moka::sync::Cache<String, u64>);

impl MiniMoka {
    pub fn new(workload: Workload) -> Self {
        let mut b = mini_moka::sync::Cache::builder();
        if let Some(capacity) = workload.capacity() {
            b = b.max_capacity(capacity as u64);
        }
        Self(b.build())
    }
}

impl Contender for MiniMoka {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.0.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.0.insert(key.to_owned(), value);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        self.0.insert(key.to_owned(), value);
        // mini_moka has no remove that returns the value: invalidate is its remove.
        self.0.invalidate(key);
        true
    }
    fn settle(&mut self) {
        use mini_moka::sync::ConcurrentCacheExt;
        self.0.sync();
    }
    fn entries(&mut self) -> u64 {
        self.settle();
        self.0.entry_count()
    }
}

/// `quick_cache::sync::Cache`.
#[derive(Clone)]
pub struct QuickCache(Arc<quick_cache::sync::Cache<String, u64>>);

impl QuickCache {
    pub fn new(workload: Workload) -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(
            workload.capacity().unwrap_or(W5_ROOM),
        )))
    }
}

impl Contender for QuickCache {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.0.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.0.insert(key.to_owned(), value);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        self.0.insert(key.to_owned(), value);
        self.0.remove(key).is_some()
    }
    fn entries(&mut self) -> u64 {
        self.0.len() as u64
    }
}

/// `lru::LruCache` in a `Mutex`: exact LRU behind one lock.
#[derive(Clone)]
pub struct Lru(Arc<Mutex<lru::LruCache<String, u64>>>);

impl Lru {
    pub fn new(workload: Workload) -> Self {
        let cache = match workload.capacity().and_then(NonZeroUsize::new) {
            Some(capacity) => lru::LruCache::new(capacity),
            None => lru::LruCache::unbounded(),
        };
        Self(Arc::new(Mutex::new(cache)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<String, u64>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Contender for Lru {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.lock().get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.lock().put(key.to_owned(), value);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        let mut cache = self.lock();
        cache.put(key.to_owned(), value);
        cache.pop(key).is_some()
    }
    fn entries(&mut self) -> u64 {
        self.lock().len() as u64
    }
}

/// `dashmap::DashMap`: a sharded map, no eviction.
#[derive(Clone, Default)]
pub struct Dash(Arc<dashmap::DashMap<String, u64>>);

impl Contender for Dash {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.0.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.0.insert(key.to_owned(), value);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        self.0.insert(key.to_owned(), value);
        self.0.remove(key).is_some()
    }
    fn entries(&mut self) -> u64 {
        self.0.len() as u64
    }
}

/// The limit row: `hashbrown::HashMap` owned by one thread, no locking, no eviction.
#[derive(Default)]
pub struct Limit(hashbrown::HashMap<String, u64>);

impl Contender for Limit {
    fn share(&self) -> Option<Self> {
        None
    }
    fn get(&mut self, key: &String) -> bool {
        self.0.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        self.0.insert(key.to_owned(), value);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        self.0.insert(key.to_owned(), value);
        self.0.remove(key).is_some()
    }
    fn entries(&mut self) -> u64 {
        self.0.len() as u64
    }
}
