//! An in-memory, concurrency-safe key/value store for ephemeral state: a store per namespace and a
//! process-global default, per-entry TTL, sliding TTL, delete-on-read after `n` reads, optional
//! capacity with exact LRU eviction, and exact metrics.
//!
//! Two ways in:
//!
//! - The **typed** [`Store<K, V>`](Store): build one, share clones of it. Every method takes
//!   `&self`.
//! - The **global** stores: [`default()`] and [`namespace`]`("pipeline/node")`, holding values of
//!   any `Send + Sync + 'static` type, with the seed's convenience functions ([`put`], [`get`],
//!   [`del`], [`has`], [`keys`], [`stats`], [`set_capacity`]).
//!
//! # Session-like entries: sliding TTL
//!
//! ```
//! use std::time::Duration;
//! use kvstore::{ManualClock, PutOptions, Store};
//!
//! let clock = ManualClock::new();
//! let sessions: Store<String, String> = Store::builder().clock(clock.clone()).build();
//! let idle_30m = PutOptions::new().with_ttl(Duration::from_secs(1800)).with_sliding_ttl();
//! sessions.put_with("sid-1".into(), "alice".into(), &idle_30m);
//! clock.advance(Duration::from_secs(1700));
//! assert!(sessions.get("sid-1").is_some()); // a read keeps it alive another 30 minutes
//! clock.advance(Duration::from_secs(1700));
//! assert!(sessions.get("sid-1").is_some());
//! ```
//!
//! # One-shot tokens: delete on read
//!
//! ```
//! use kvstore::PutOptions;
//!
//! let tokens = kvstore::namespace("auth/tokens");
//! tokens.put_with("tok-9f2", "user-42".to_string(), &PutOptions::new().with_max_reads(1));
//! assert_eq!(tokens.get::<String>("tok-9f2").as_deref().map(String::as_str), Some("user-42"));
//! assert!(tokens.get::<String>("tok-9f2").is_none()); // spent
//! ```
//!
//! # A capped per-node store: LRU
//!
//! ```
//! let node = kvstore::namespace("pipeline/node-7");
//! node.set_capacity(2);
//! node.put("a", 1_u32);
//! node.put("b", 2_u32);
//! node.put("c", 3_u32); // evicts "a", the least recently used
//! assert_eq!(node.keys(), ["b", "c"]);
//! assert_eq!(node.metrics().evictions, 1);
//! ```
//!
//! # Coming from moka or quick_cache
//!
//! | moka `sync::Cache` / quick_cache `sync::Cache` | kvstore `Store<K, V>` |
//! |---|---|
//! | `Cache::new(n)` / `Cache::new(n)` | `Store::builder().capacity(n).build()` (exact LRU; 0: unbounded) |
//! | `builder().time_to_live(d)` | `builder().time_to_live(d)` |
//! | `builder().time_to_idle(d)` | `builder().time_to_idle(d)` |
//! | `insert(k, v)` | `put(k, v)` (returns the displaced live value) |
//! | per-entry expiry (`Expiry` trait) | `put_with(k, v, &PutOptions::new().with_ttl(d))`, `.with_sliding_ttl()` |
//! | (none) | `.with_max_reads(n)`: one-shot and n-shot entries |
//! | `get(&k)` | `get(&k)` (clones: store `Arc<T>` for large values) |
//! | `get_with(k, f)` / `get_or_insert_with(&k, f)` | `get_or_insert_with(k, f)` (one loader per key) |
//! | `try_get_with(k, f)` / `get_or_insert_with` (fallible) | `try_get_or_insert_with(k, f)` |
//! | moka `future::Cache::get_with(k, fut).await` / quick_cache `get_value_or_guard_async(&k).await` | `get_or_insert_async(k, fut).await` (any runtime; one load per key; a cancelled or panicking load is taken over by a waiter) |
//! | moka `future::Cache::try_get_with(k, fut).await` | `try_get_or_insert_async(k, fut).await` (the error, as `Arc<E>`, reaches every waiter of the load) |
//! | Caffeine `refreshAfterWrite(d)` with a `CacheLoader` (moka and quick_cache have none) | `builder().refresh_after(d, Reloader::sync(f))` or `Reloader::spawned(async_f, spawn)`: a read past the refresh point returns the current value at once and starts one reload; a put in between wins ([`RefreshingStore`]) |
//! | (no load statistics in either) | `load_metrics()`: loads started, succeeded, failed, cancelled, panicked, refreshed (and reloads dropped), and their time |
//! | `contains_key(&k)` | `has(&k)` (not a read: no hit, no refresh, no LRU move) |
//! | `remove(&k)` | `remove(&k)` (`del(&k)` for a `bool`) |
//! | `invalidate_all()` / `clear()` | `clear()` |
//! | `iter()` | `iter()` (clones, shard by shard) |
//! | `retain` (quick_cache) / `invalidate_entries_if` | `retain(\|k, v\| keep)` |
//! | `entry_count()` / `len()` | `len()` (`metrics().current_size`) |
//! | hit and miss counts (not kept by moka) | `metrics()`: exact hits, misses, expirations, evictions |
//! | `policy().max_capacity()` | `capacity()`, and `set_capacity(n)` at run time |
//! | `eviction_listener(\|k, v, cause\| ..)` / `Lifecycle` | `removal_listener(\|k, v, cause\| ..)` ([`RemovalCause`]) |
//! | `weigher(\|k, v\| w)` / `Weighter` | `weigher(\|k, v\| w)`: capacity bounds the total weight |
//!
//! # Caching a slow async lookup
//!
//! `get_or_insert_async` runs on any runtime (plain futures). Concurrent callers of one key
//! share one load and wait without blocking their thread; a caller that gives up (a timeout
//! shorter than the load) does not stop the others: one of them runs its own load. The sync
//! `get_or_insert_with` and this do not share loads (`docs/semantics.md` says why). The
//! `async_loader` example runs 64 requests, a timeout and a failing lookup on tokio.
//!
//! ```
//! use std::sync::Arc;
//! use kvstore::Store;
//!
//! async fn fetch_profile(user: &str) -> Result<String, std::io::Error> {
//!     Ok(format!("profile of {user}")) // a database or HTTP call in real life
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let profiles: Store<String, String> = Store::new();
//! let p = profiles.try_get_or_insert_async("alice".into(), fetch_profile("alice")).await;
//! assert_eq!(p.unwrap(), "profile of alice");
//! // Cached now: the lookup is not run again.
//! let p = profiles.try_get_or_insert_async("alice".into(), fetch_profile("alice")).await;
//! assert_eq!(p.unwrap(), "profile of alice");
//! let failed: Result<String, Arc<&str>> =
//!     profiles.try_get_or_insert_async("bob".into(), async { Err("down") }).await;
//! assert_eq!(*failed.unwrap_err(), "down");
//! let loads = profiles.load_metrics();
//! assert_eq!((loads.started, loads.succeeded, loads.failed), (2, 1, 1));
//! # });
//! ```
//!
//! # Refresh-ahead: reloading hot entries before they go stale
//!
//! `refresh_after(d, reloader)` gives every entry a refresh point `d` after its put. The first
//! read at or after it returns the current value at once, as any read does, and starts one
//! reload in the background (on a thread, a pool, or your runtime: [`Reloader`]); a later read
//! sees the reloaded value. A put in between wins: the reload's value is then dropped. A failed
//! reload keeps the old value (until its TTL) and is tried again a period later. Entries with a
//! read budget are never refreshed. The store's type gains the refresh points:
//! [`RefreshingStore`]. The `refresh_ahead` example runs it on tokio.
//!
//! ```
//! use std::time::Duration;
//! use kvstore::{ManualClock, Reloader, ReloadJob, RefreshingStore, Store};
//!
//! let clock = ManualClock::new();
//! let prices: RefreshingStore<String, u64> = Store::builder()
//!     .clock(clock.clone())
//!     .time_to_live(Duration::from_secs(300)) // stale after 5 minutes at worst
//!     .refresh_after(
//!         Duration::from_secs(60),
//!         // A sync lookup; here run at once on the reading thread (`Reloader::sync` runs each
//!         // reload on a thread of its own).
//!         Reloader::sync_with(|item: &String| Ok::<_, String>(item.len() as u64 * 100),
//!                             |reload: ReloadJob| reload()),
//!     )
//!     .build();
//! prices.put("apple".into(), 400);
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(prices.get("apple"), Some(400)); // at once, the current value; a reload starts
//! assert_eq!(prices.get("apple"), Some(500)); // the reloaded value
//! assert_eq!(prices.load_metrics().refreshed, 1);
//! ```
//!
//! # Cleanup when entries go: the removal listener
//!
//! The listener receives the key, the value and the [`RemovalCause`] of every entry that leaves,
//! once, after the store released its locks (it may use the store), one key's removals in order.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use kvstore::{ManualClock, RemovalCause, Store};
//!
//! struct Conn(u32); // a handle to close when its entry goes
//! let closed = Arc::new(Mutex::new(Vec::new()));
//! let log = Arc::clone(&closed);
//! let clock = ManualClock::new();
//! let conns: Store<String, Arc<Conn>> = Store::builder()
//!     .clock(clock.clone())
//!     .time_to_idle(Duration::from_secs(60))
//!     .removal_listener(move |_key, conn: Arc<Conn>, cause| {
//!         if cause != RemovalCause::Replaced {
//!             log.lock().unwrap().push(conn.0); // conn.close() in real life
//!         }
//!     })
//!     .build();
//! conns.put("peer-a".into(), Arc::new(Conn(1)));
//! clock.advance(Duration::from_secs(60));
//! conns.purge_expired(); // or any operation that finds it, or the sweeper
//! assert_eq!(*closed.lock().unwrap(), [1]);
//! ```
//!
//! # A byte-bounded cache: the weigher
//!
//! ```
//! use kvstore::Store;
//!
//! let blobs: Store<String, Vec<u8>> = Store::builder()
//!     .capacity(1 << 20) // 1 MiB of values
//!     .weigher(|_key, blob: &Vec<u8>| blob.len() as u64)
//!     .build();
//! blobs.put("a".into(), vec![0; 600 << 10]);
//! blobs.put("b".into(), vec![0; 600 << 10]); // evicts "a", the least recently used
//! assert_eq!(blobs.keys(), ["b"]);
//! assert_eq!(blobs.weight(), 600 << 10);
//! blobs.put("huge".into(), vec![0; 2 << 20]); // heavier than the capacity: not stored,
//! assert!(!blobs.has("huge")); // counted as one eviction
//! assert_eq!(blobs.metrics().evictions, 2);
//! ```
//!
//! # What the store is made of
//!
//! [`Store`] is `kv_core::Store` with its two policy slots filled ([`StorePolicies`]): expiry by
//! [`Ttl`] (feature `ttl`: TTL, sliding TTL, read budgets, and the [`PutOptions`] that carry
//! them), eviction by [`Lru`] (feature `lru`: capacity and exact LRU), and an [`EventHub`] as its
//! listener. Each feature can be left out; a store without
//! it pays nothing for it, and without `ttl` there are no put options to pass (the mistake does
//! not compile). Code that must run on any backend, in memory or on Redis, takes a [`Backend`].
//!
//! # Watching a store: events
//!
//! Every store can hand out [`Subscription`]s that receive what happens to its keys as it
//! happens, with the store's namespace. Buffers are bounded: a subscriber that falls behind loses
//! events (and is told how many) instead of blocking the store or growing its memory; each event
//! offered to a subscriber still costs the store a little (a store with one subscriber that never
//! reads runs about a third slower in `kv-metrics`' `event_cost` example). A store nobody
//! subscribes to pays nothing measurable.
//!
//! ```
//! use kvstore::EventKind;
//!
//! let node = kvstore::namespace("pipeline/node-3");
//! let events = node.subscribe();
//! node.put("state", "ready".to_string());
//! let _ = node.get::<String>("state");
//! let event = events.try_recv().unwrap();
//! assert_eq!((event.kind, event.key.as_str(), &*event.namespace), (EventKind::Inserted, "state", "pipeline/node-3"));
//! assert_eq!(events.try_recv().unwrap().kind, EventKind::Hit);
//! ```
//!
//! # Metrics for Prometheus (feature `metrics`)
//!
//! `publish_metrics()` hands every store's counters and gauges, labelled `ns`, to the exporter
//! installed through the `metrics` crate; `register_metrics(&store)` adds a typed store; call
//! `describe_metrics()` once after installing the exporter. The load statistics go with them
//! (`kv_loads_started_total`, `kv_loads_total` by `outcome`, `kv_load_seconds_total`). Published
//! counters never go backwards, also across resets. The `prometheus` example serves them at `/metrics`.

mod any;
mod registry;
mod shortcuts;

pub use any::{AnyStore, Value, WrongType};
/// Describes the published metrics (help text, units) to the installed recorder: call once after
/// installing an exporter, then [`publish_metrics`] periodically (feature `metrics`).
#[cfg(feature = "metrics")]
pub use kv_metrics::describe_metrics;
/// The wire forms of the counters and keys (feature `json`): `MetricsRecord::new(&metrics,
/// Timestamp::now())` is a serialisable `kv.metrics.v1` record of a [`Metrics`].
#[cfg(feature = "json")]
pub use kv_metrics::{ArtifactError, DumpRecord, MetricsRecord, Timestamp, write_artifact};
pub use registry::{default, namespace, reset_default, reset_namespaces};
#[cfg(all(feature = "metrics", not(kv_loom)))]
pub use registry::{publish_metrics, register_metrics};
#[cfg(feature = "ttl")]
pub use shortcuts::put_with;
#[cfg(feature = "lru")]
pub use shortcuts::set_capacity;
#[cfg(feature = "json")]
pub use shortcuts::{ArtifactsOnDrop, write_artifacts};
pub use shortcuts::{del, get, has, keys, put, stats};

pub use kv_core::{
    Backend, BoxError, Boxed, Clock, CoarseClock, DefaultHashBuilder, Dump, DynBackend, EventKind,
    KeyQuery, Listener, LoadMetrics, ManualClock, Metrics, Refreshing, Refused, ReloadFuture,
    ReloadJob, Reloader, RemovalCause, StoreBuilder, SystemClock, infallible,
};
#[cfg(feature = "lru")]
pub use kv_lru::Lru;
pub use kv_metrics::{Event, EventHub, Subscribe, Subscription};
/// The Redis backend (feature `redis`): the `kv-redis` crate, so one dependency is all a user names.
#[cfg(feature = "redis")]
pub use kv_redis as redis;
#[cfg(feature = "ttl")]
pub use kv_ttl::{PutOptions, Ttl};
#[cfg(all(feature = "ttl", not(kv_loom)))]
pub use kv_ttl::{Sweep, Sweeper};

/// The expiry policy of [`Store`]: [`Ttl`] with the `ttl` feature, none without.
#[cfg(feature = "ttl")]
pub type StoreExpiry = kv_ttl::Ttl;
/// The expiry policy of [`Store`]: [`Ttl`] with the `ttl` feature, none without.
#[cfg(not(feature = "ttl"))]
pub type StoreExpiry = kv_core::NoExpiry;

/// The eviction policy of [`Store`]: [`Lru`] with the `lru` feature, none without.
#[cfg(feature = "lru")]
pub type StoreEviction = kv_lru::Lru;
/// The eviction policy of [`Store`]: [`Lru`] with the `lru` feature, none without.
#[cfg(not(feature = "lru"))]
pub type StoreEviction = kv_core::NoEviction;

/// What fills the policy slots of [`Store`]: [`StoreExpiry`], [`StoreEviction`], and an
/// [`EventHub`] handing out [`Subscription`]s as its listener. Name a typed store's namespace
/// with `Store::builder().listener(EventHub::new("ns"))`. Subscribing needs `K: Clone` (each
/// event carries its own copy of the key); the hub itself does not, so `put`, `has` and `del`
/// work on keys that are not `Clone`. (`get` needs a key it can name in a miss event: see
/// [`KeyQuery`].)
///
/// ```
/// #[derive(Hash, PartialEq, Eq)]
/// struct Handle(u64); // not Clone
///
/// let store: kvstore::Store<Handle, u32> = kvstore::Store::new();
/// store.put(Handle(1), 7);
/// assert!(store.has(&Handle(1)));
/// assert!(store.del(&Handle(1)));
/// ```
pub type StorePolicies<K = String> = kv_core::Slots<StoreExpiry, StoreEviction, EventHub<K>>;

/// The typed store: keys `K`, values `V` (`get` returns clones; use `Arc<T>` for big values).
///
/// ```
/// use std::time::Duration;
/// use kvstore::Store;
///
/// let store = Store::<String, u64>::builder()
///     .capacity(10_000)
///     .time_to_idle(Duration::from_secs(60))
///     .build();
/// store.put("hits".into(), 1);
/// assert_eq!(store.get("hits"), Some(1));
/// ```
pub type Store<K = String, V = String> = kv_core::Store<K, V, StorePolicies<K>, DefaultHashBuilder>;

/// What fills the policy slots of a [`RefreshingStore`]: [`StorePolicies`] with its expiry
/// policy wrapped in [`Refreshing`], which gives each entry a refresh point.
pub type RefreshingPolicies<K = String> =
    kv_core::Slots<Refreshing<StoreExpiry>, StoreEviction, EventHub<K>>;

/// A [`Store`] built with `refresh_after` (refresh-ahead): every method of [`Store`], and
/// entries that a read past their refresh point reloads in the background. Its entries are 24
/// bytes larger (the refresh point, the period, the entry's id); a plain [`Store`] carries none
/// and pays nothing.
///
/// ```
/// use std::time::Duration;
/// use kvstore::{RefreshingStore, Reloader, Store};
///
/// let store: RefreshingStore<String, String> = Store::builder()
///     .refresh_after(Duration::from_secs(30), Reloader::sync(|key: &String| {
///         Ok::<_, std::io::Error>(format!("fresh {key}"))
///     }))
///     .build();
/// store.put("a".into(), "first".into());
/// assert_eq!(store.get("a").as_deref(), Some("first"));
/// ```
pub type RefreshingStore<K = String, V = String> =
    kv_core::Store<K, V, RefreshingPolicies<K>, DefaultHashBuilder>;

/// A typed store with the facade's eviction and listener and the expiry policy `X`: [`Store`]
/// (`X` = [`StoreExpiry`]) or [`RefreshingStore`] (`X` = [`Refreshing`]`<StoreExpiry>`). What
/// `register_metrics` takes.
pub type TypedStore<K, V, X> =
    kv_core::Store<K, V, kv_core::Slots<X, StoreEviction, EventHub<K>>, DefaultHashBuilder>;

/// The builder of [`Store`].
pub type Builder<K = String, V = String> = StoreBuilder<K, V, StorePolicies<K>, DefaultHashBuilder>;
