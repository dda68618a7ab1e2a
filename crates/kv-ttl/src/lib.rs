//! Expiry for `kvstore`: per-entry TTL, sliding TTL (refreshed by a successful `get`), read
//! budgets (`max_reads`: the `n`-th read removes the entry), and reclaiming expired entries
//! without reading them.
//!
//! [`TtlLayer`] puts the [`Ttl`] policy on a [`StoreBuilder`](kv_core::StoreBuilder). Expired
//! entries are reclaimed when an operation finds them, a little at every write, on
//! `purge_expired()`, and by a [`Sweeper`] if you start one.
//!
//! ```
//! use std::time::Duration;
//! use kv_core::{ManualClock, PutOptions, Store, StoreBuilder};
//! use kv_ttl::TtlLayer;
//!
//! let clock = ManualClock::new();
//! let store = StoreBuilder::<String, String>::new()
//!     .clock(clock.clone())
//!     .layer(TtlLayer::new())
//!     .build();
//! store.put_with("session".into(), "alice".into(),
//!     &PutOptions::new().with_ttl(Duration::from_secs(5)).with_sliding_ttl());
//! clock.advance(Duration::from_secs(4));
//! assert_eq!(store.get("session").as_deref(), Some("alice")); // refreshed to t = 9s
//! clock.advance(Duration::from_secs(5));
//! assert_eq!(store.get("session"), None); // expired at exactly its deadline
//! assert_eq!(store.metrics().expirations, 1);
//! ```

mod policy;
#[cfg(not(kv_loom))]
mod sweeper;

pub use policy::{Ttl, TtlLayer, TtlState};
#[cfg(not(kv_loom))]
pub use sweeper::{Sweep, Sweeper};
