//! Expiry for `kvstore`: per-entry TTL, sliding TTL (refreshed by a successful `get`), read
//! budgets (`max_reads`: the `n`-th read removes the entry), and reclaiming expired entries
//! without reading them.
//!
//! Everything about expiry lives here: the [`PutOptions`] a put carries, the per-entry
//! [`TtlState`], the expiry index, and the [`Sweeper`]. [`Ttl`] fills a store's expiry slot
//! (`StoreBuilder::expiry`); its options become the store's put options. Expired entries are
//! reclaimed when an operation finds them, a little at every write, on `purge_expired()`, and by
//! a [`Sweeper`] if you start one.
//!
//! ```
//! use std::time::Duration;
//! use kv_core::{ManualClock, StoreBuilder};
//! use kv_ttl::{PutOptions, Ttl};
//!
//! let clock = ManualClock::new();
//! let store = StoreBuilder::<String, String>::new()
//!     .clock(clock.clone())
//!     .expiry(Ttl::new())
//!     .build();
//! store.put_with("session".into(), "alice".into(),
//!     &PutOptions::new().with_ttl(Duration::from_secs(5)).with_sliding_ttl());
//! clock.advance(Duration::from_secs(4));
//! assert_eq!(store.get("session").as_deref(), Some("alice")); // refreshed to t = 9s
//! clock.advance(Duration::from_secs(5));
//! assert_eq!(store.get("session"), None); // expired at exactly its deadline
//! assert_eq!(store.metrics().expirations, 1);
//! ```

mod options;
mod policy;
#[cfg(not(kv_loom))]
mod sweeper;

pub use options::PutOptions;
pub use policy::{Ttl, TtlState};
#[cfg(not(kv_loom))]
pub use sweeper::{Sweep, Sweeper};

/// A store without expiry takes no expiry options: passing them is a compile error, not a silent
/// no-op (`()` is its options type).
///
/// ```compile_fail,E0308
/// use std::time::Duration;
/// use kv_core::StoreBuilder;
/// use kv_ttl::PutOptions;
///
/// let store = StoreBuilder::<String, u64>::new().build(); // no expiry slot filled
/// store.put_with("a".into(), 1, &PutOptions::new().with_ttl(Duration::from_secs(1)));
/// ```
///
/// With [`Ttl`] in the slot the same call compiles:
///
/// ```
/// use std::time::Duration;
/// use kv_core::StoreBuilder;
/// use kv_ttl::{PutOptions, Ttl};
///
/// let store = StoreBuilder::<String, u64>::new().expiry(Ttl::new()).build();
/// store.put_with("a".into(), 1, &PutOptions::new().with_ttl(Duration::from_secs(1)));
/// ```
#[doc(hidden)]
pub mod compile_fail_ttl_options_without_expiry {}
