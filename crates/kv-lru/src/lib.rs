//! Capacity and LRU eviction for `kvstore`.
//!
//! Everything about recency lives here: the per-entry [`Stamp`], where stamps come from, the LRU
//! order and the capacity loop. [`Lru`] fills a store's eviction slot
//! (`StoreBuilder::eviction`). Recency is tracked always, so a capacity set later (`set_capacity`) evicts in LRU order too; capacity 0
//! is unbounded. When an insert takes the store over capacity, expired entries are reclaimed
//! first; only then is the least recently used live entry evicted. In a sequential run the victim
//! is exactly the least recently used entry.
//!
//! ```
//! use kv_core::StoreBuilder;
//! use kv_lru::Lru;
//!
//! let store = StoreBuilder::<u32, &str>::new().eviction(Lru::new(2)).build();
//! store.put(1, "a");
//! store.put(2, "b");
//! store.get(&1);           // a use: 2 is now the least recently used
//! store.put(3, "c");       // over capacity: evicts 2
//! assert!(!store.has(&2));
//! assert_eq!(store.metrics().evictions, 1);
//! store.set_capacity(1);   // shrinking evicts at once: 1 goes
//! assert_eq!(store.keys(), vec![3]);
//! ```

mod policy;

pub use policy::{Lru, ShardClock, Stamp};
