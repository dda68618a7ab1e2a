//! The store's self-check, for tests.

use super::Store;
use super::host::HostCall;
use crate::policy::{Eviction, Expiry, Policies};
use crate::sync::{self, Ordering};
use crate::{StoreHasher, StoreKey, StoreValue};

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Store<K, V, P, S> {
    /// Checks the store's internal bookkeeping: the entry count (and weight), that each entry sits in the
    /// shard its key hashes to with the hash bits its index uses, and then each policy's own
    /// books (kv-ttl: every entry that may expire is in the expiry index; kv-lru, when bounded:
    /// every entry is in the LRU order). Meant for tests; takes every lock in turn, so run it
    /// while the store is quiet.
    pub fn validate(&self) -> Result<(), String> {
        let inner = &*self.inner;
        let mut count = 0;
        for (index, shard) in inner.shards.iter().enumerate() {
            let table = sync::read(&shard.table);
            if let Some(weigher) = &inner.weigher {
                let weight = table
                    .iter()
                    .map(|s| weigher(&s.key, &s.value))
                    .fold(0, u64::saturating_add);
                let kept = shard.weight.load(Ordering::Relaxed);
                if weight != kept {
                    return Err(format!(
                        "shard {index}: its entries weigh {weight}, its books say {kept}"
                    ));
                }
            }
            for (at, slot) in table.positions() {
                count += 1;
                let hash = inner.hasher.hash_one(&slot.key);
                if inner.shard_index(hash) != index || hash as u32 != slot.hash {
                    return Err(format!(
                        "entry at {at} in shard {index}: its key's hash says otherwise"
                    ));
                }
            }
        }
        let len = inner.stored();
        if count != len {
            return Err(format!("counted {count} entries, current size says {len}"));
        }
        let host = HostCall::new(inner);
        inner.expiry.validate(&host.for_expiry())?;
        inner.eviction.validate(&host.for_eviction())
    }
}
