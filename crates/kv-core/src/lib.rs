//! The storage engine of `kvstore`: the `Backend` trait, and a sharded, concurrent key/value map
//! with two policy slots (expiry, eviction) filled through generic hooks, a clock abstraction and
//! exact counters. It knows no TTL and no LRU: `kv-ttl` and `kv-lru` fill the slots.
//!
//! Most users depend on the `kvstore` crate, which names a ready stack (TTL + LRU + events). This
//! crate is for building other stacks, for the policy crates, and for other backends.
//!
//! - [`Backend`]: the contract's operations as a trait, which the in-memory [`Store`] and the
//!   Redis backend (`kv-redis`) implement; the harness runs case files through it.
//! - [`Store`]: every operation takes `&self`; keys hash to one of many shards, each a
//!   `RwLock`ed table, so readers of different keys never wait on one lock.
//! - [`policy`]: the store-policy protocol. The [`Expiry`] and [`Eviction`] hooks, run inside a
//!   shard's critical section, [`Listener`] for events, all three one type parameter
//!   ([`Policies`], filled by [`Slots`]); the [`Host`] through which a policy acts on entries; and
//!   [`PolicyIndex`], the lazy queue of entry records policies keep. The `No*` policies cost
//!   nothing.
//! - [`StoreKey`], [`StoreValue`], [`StoreHasher`]: what a store's keys, values and hasher must
//!   be.
//! - [`Clock`]: [`SystemClock`] by default; [`ManualClock`] for tests.
//! - [`Metrics`]: hits, misses, expirations, evictions (exact) and the current size.
//!
//! ```
//! use kv_core::{Store, StoreBuilder};
//!
//! let store: Store<String, String> = StoreBuilder::new().shards(8).build();
//! store.put("pipeline/node".into(), "ready".into());
//! assert!(store.has("pipeline/node"));
//! assert_eq!(store.keys(), vec!["pipeline/node".to_string()]);
//! println!("{}", store.metrics()); // hits=0 misses=0 expirations=0 evictions=0 current_size=1
//! ```

pub mod async_backend;
pub mod backend;
mod bounds;
pub mod clock;
mod flight;
mod loads;
pub mod metrics;
pub mod policy;
pub mod removal;
pub mod store;
// Public only so this workspace's policy crates (kv-ttl, kv-lru) and the facade take their locks
// and atomics from the one place loom builds switch; not part of the API users see.
#[doc(hidden)]
pub mod sync;
mod table;

pub use async_backend::{AsyncBackend, BoxFuture, DynAsyncBackend};
pub use backend::{Backend, BoxError, Boxed, Dump, DynBackend, infallible};
pub use bounds::{KeyQuery, StoreHasher, StoreKey, StoreValue};
pub use clock::{
    Clock, CoarseClock, DEFAULT_TICK, ManualClock, NEVER, SystemClock, duration_to_nanos,
};
pub use loads::LoadMetrics;
pub use metrics::Metrics;
pub use policy::{
    Capacity, DefaultTtl, EntryRef, EventKind, Eviction, EvictionHost, Expiry, Host, Listener,
    NoEviction, NoExpiry, NoListener, Policies, PolicyIndex, Read, RefreshState, Refreshing, Slots,
    Under, Verdict,
};
pub use removal::RemovalCause;
#[cfg(not(kv_loom))]
pub use store::WeakStore;
pub use store::{
    DefaultHashBuilder, Iter, Refused, ReloadFuture, ReloadJob, Reloader, Store, StoreBuilder,
    StoreId,
};
