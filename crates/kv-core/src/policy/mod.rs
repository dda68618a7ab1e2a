//! The store-policy protocol: how policies decide over the store's entries.
//!
//! The store has two policy slots and a listener, filled through one type parameter
//! ([`Policies`], implemented by [`Slots`]), whose per-entry hooks run inside the shard's
//! critical section, so every per-entry decision is atomic with the operation that made it:
//!
//! - [`Expiry`] (`expiry.rs`) decides when an entry stops being live (is it expired? does this
//!   read use up the entry?) and reclaims expired entries: `kv-ttl` implements it.
//! - [`Eviction`] (`eviction.rs`) is told of every use, decides whether an entry may be stored at
//!   all, and which entry goes when the store is over its capacity: `kv-lru` implements it.
//! - [`Listener`] (`listener.rs`) receives the store's events.
//! - [`Refreshing`] (`refresh.rs`) wraps an expiry policy to give entries a refresh point: a
//!   read past it says [`Read::Refresh`], and the store starts a reload (refresh-ahead).
//!
//! The store knows neither deadlines nor recency nor capacity: each policy keeps its per-entry
//! state in the entry (an associated `State` type the store stores opaquely) and its own index
//! of entries ([`PolicyIndex`], a [`queue::LazyQueue`] of records naming entries by
//! [`EntryRef`]). To act on an entry, a policy asks the store through its [`Host`]
//! ([`EvictionHost`] for eviction: `host.rs`), which takes the entry's shard lock, shows the
//! policy the entry's state, and removes the entry when the policy's [`Verdict`] says so,
//! keeping the counters and events. A policy that is off ([`NoExpiry`], [`NoEviction`],
//! [`NoListener`]) is a zero-sized type whose hooks compile to nothing. Lock order: a policy's
//! lock, then a shard's lock; never the reverse.

mod entry;
mod eviction;
mod expiry;
mod host;
mod index;
mod listener;
pub mod queue;
mod refresh;
mod slots;

pub use entry::{EntryRef, Read, Under, Verdict};
pub use eviction::{Capacity, Eviction, NoEviction};
pub use expiry::{DefaultTtl, Expiry, NoExpiry};
pub use host::{EvictionHost, Host};
pub use index::PolicyIndex;
pub use listener::{EventKind, Listener, NoListener};
pub use refresh::{RefreshState, Refreshing};
pub use slots::{Policies, Slots};
