//! One shard's entries: a slab of slots and a compact hash index into it.
//!
//! The index holds 4-byte slab positions, not the slots themselves (88 bytes with the default
//! policies). It is a twentieth of the size, so it mostly stays in cache, and it keeps no
//! per-slot slack: a hash table sized for churn (tombstones, growth by doubling) is mostly empty
//! buckets, which with slots inside cost more memory than the entries. A removed slot's position
//! is reused by the next insert, so a store that churns (one-shot tokens, eviction) writes into
//! memory it touched recently instead of a cold bucket: `put` had waited at its unlock for that
//! cold write to complete.

use hashbrown::HashTable;

/// One stored entry.
pub(crate) struct Slot<K, V, XS, ES> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) hash: u64,
    /// Unique within the shard, so a policy's record of a replaced entry never names its
    /// successor.
    pub(crate) id: u64,
    pub(crate) expiry: XS,
    pub(crate) eviction: ES,
}

/// A slot's position in its table; valid until the slot is removed.
pub(crate) type At = u32;

/// The entries of one shard.
pub(crate) struct Table<K, V, XS, ES> {
    /// Slab positions, hashed by their slot's key hash.
    index: HashTable<At>,
    /// The slots; a removed slot leaves `None` until an insert reuses its position.
    slab: Vec<Option<Slot<K, V, XS, ES>>>,
    /// Positions of removed slots, the most recently freed last.
    free: Vec<At>,
    next_id: u64,
}

impl<K, V, XS, ES> Table<K, V, XS, ES> {
    pub(crate) fn new() -> Self {
        Self {
            index: HashTable::new(),
            slab: Vec::new(),
            free: Vec::new(),
            next_id: 0,
        }
    }

    /// A fresh entry id.
    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Every id handed out so far is below this.
    pub(crate) fn id_bound(&self) -> u64 {
        self.next_id
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The position of the slot with this hash that `eq` accepts.
    #[inline]
    pub(crate) fn find(&self, hash: u64, eq: impl Fn(&Slot<K, V, XS, ES>) -> bool) -> Option<At> {
        let slab = &self.slab;
        self.index
            .find(hash, |&at| slab[at as usize].as_ref().is_some_and(&eq))
            .copied()
    }

    /// The slot at `at` (found by [`Table::find`] under the same lock).
    #[inline]
    pub(crate) fn get(&self, at: At) -> Option<&Slot<K, V, XS, ES>> {
        self.slab.get(at as usize)?.as_ref()
    }

    /// The slot at `at`, to change its policy state.
    #[inline]
    pub(crate) fn get_mut(&mut self, at: At) -> Option<&mut Slot<K, V, XS, ES>> {
        self.slab.get_mut(at as usize)?.as_mut()
    }

    /// Puts `slot` in place of the one at `at`, which it returns. The key (and so the hash) must
    /// be the same.
    pub(crate) fn replace(
        &mut self,
        at: At,
        slot: Slot<K, V, XS, ES>,
    ) -> Option<Slot<K, V, XS, ES>> {
        self.slab.get_mut(at as usize)?.replace(slot)
    }

    /// Adds a slot whose key is not in the table, reusing the most recently freed position.
    pub(crate) fn insert(&mut self, slot: Slot<K, V, XS, ES>) -> At {
        let hash = slot.hash;
        let at = match self.free.pop() {
            Some(at) => {
                self.slab[at as usize] = Some(slot);
                at
            }
            None => {
                let at =
                    At::try_from(self.slab.len()).expect("a shard holds fewer than 2^32 entries");
                self.slab.push(Some(slot));
                at
            }
        };
        let slab = &self.slab;
        self.index.insert_unique(hash, at, |&at| {
            slab[at as usize].as_ref().map_or(0, |s| s.hash)
        });
        at
    }

    /// Removes and returns the slot at `at`.
    pub(crate) fn remove(&mut self, at: At) -> Option<Slot<K, V, XS, ES>> {
        let hash = self.get(at)?.hash;
        let Ok(entry) = self.index.find_entry(hash, |&other| other == at) else {
            return None;
        };
        entry.remove();
        self.free.push(at);
        self.slab[at as usize].take()
    }

    /// Every slot, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot<K, V, XS, ES>> {
        self.slab.iter().flatten()
    }

    /// Empties the table (ids keep counting), handing back the slots it held.
    pub(crate) fn take_all(
        &mut self,
    ) -> impl Iterator<Item = Slot<K, V, XS, ES>> + use<K, V, XS, ES> {
        self.index = HashTable::new();
        self.free = Vec::new();
        std::mem::take(&mut self.slab).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: &'static str, hash: u64, id: u64) -> Slot<&'static str, u64, (), ()> {
        Slot {
            key,
            value: id,
            hash,
            id,
            expiry: (),
            eviction: (),
        }
    }

    /// A removed slot's position is the next one an insert takes, and lookups by hash still
    /// tell colliding keys apart.
    #[test]
    fn removed_positions_are_reused_and_colliding_keys_stay_apart() {
        let mut t = Table::new();
        let a = t.insert(slot("a", 7, 0));
        let b = t.insert(slot("b", 7, 1));
        let c = t.insert(slot("c", 9, 2));
        assert_eq!(t.len(), 3);
        assert_eq!(t.find(7, |s| s.key == "b"), Some(b));
        assert_eq!(t.remove(a).map(|s| s.key), Some("a"));
        assert_eq!(t.find(7, |s| s.key == "a"), None);
        assert_eq!(t.find(7, |s| s.key == "b"), Some(b));
        assert_eq!(
            t.remove(a).map(|s| s.key),
            None,
            "removing twice finds nothing"
        );
        let d = t.insert(slot("d", 7, 3));
        assert_eq!(d, a, "the freed position is reused");
        assert_eq!(t.find(7, |s| s.key == "d"), Some(d));
        assert_eq!(t.get(c).map(|s| s.id), Some(2));
        let mut keys: Vec<_> = t.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["b", "c", "d"]);
        assert_eq!(t.take_all().count(), 3);
        assert_eq!(t.len(), 0);
        assert_eq!(t.iter().count(), 0);
        assert_eq!(t.next_id(), 0, "no id was taken through next_id");
    }

    /// Many inserts and removals keep the index and the slab in step (the index grows and
    /// rehashes using the hashes kept in the slab).
    #[test]
    fn index_and_slab_agree_through_growth_and_churn() {
        let mut t: Table<u64, u64, (), ()> = Table::new();
        let mut live = std::collections::HashMap::new();
        for i in 0..20_000_u64 {
            let hash = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let at = t.insert(Slot {
                key: i,
                value: i,
                hash,
                id: i,
                expiry: (),
                eviction: (),
            });
            live.insert(i, (hash, at));
            if i % 3 == 0 {
                let (h, at) = live.remove(&(i / 2)).unwrap_or((0, At::MAX));
                if at != At::MAX {
                    assert_eq!(t.remove(at).map(|s| s.key), Some(i / 2));
                    assert_eq!(t.find(h, |s| s.key == i / 2), None);
                }
            }
        }
        assert_eq!(t.len(), live.len());
        for (&k, &(h, at)) in &live {
            assert_eq!(t.find(h, |s| s.key == k), Some(at));
        }
    }
}
