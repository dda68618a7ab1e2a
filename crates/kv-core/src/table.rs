//! One shard's entries: a slab of slots and a compact hash index into it.
//!
//! The index holds 8-byte words (part of the key hash and a slab position), not the slots
//! themselves (72 bytes with the default policies). It is a ninth of the size, so it mostly stays
//! in cache, and its slack costs little: a hash table sized for churn (growth by doubling,
//! tombstones) is mostly empty buckets, which with slots inside cost more memory than the
//! entries. A removed slot's position is reused by the next insert, so a store that churns
//! (one-shot tokens, eviction) writes into memory it touched recently instead of a cold bucket:
//! `put` had waited at its unlock for that cold write to complete.

/// One stored entry.
pub(crate) struct Slot<K, V, XS, ES> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// The key hash's low 32 bits: the index's bits (the rest picked the shard). A policy's
    /// record carries 16 of them as a tag (see `EntryRef`).
    pub(crate) hash: u32,
    pub(crate) expiry: XS,
    pub(crate) eviction: ES,
}

/// A slot's position in its table; valid until the slot is removed.
pub(crate) type At = u32;

/// A slot found by key, with its position.
pub(crate) type Found<S> = (At, S);

/// The entries of one shard.
pub(crate) struct Table<K, V, XS, ES> {
    /// Slab positions, by their slot's key hash.
    index: Index,
    /// The slots; a removed slot leaves `None` until an insert reuses its position.
    slab: Vec<Option<Slot<K, V, XS, ES>>>,
    /// Positions of removed slots, the most recently freed last.
    free: Vec<At>,
}

impl<K, V, XS, ES> Table<K, V, XS, ES> {
    pub(crate) fn new() -> Self {
        Self {
            index: Index::new(),
            slab: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.index.len
    }

    /// The position of the slot with this hash that `eq` accepts.
    #[inline]
    pub(crate) fn find(&self, hash: u64, eq: impl Fn(&Slot<K, V, XS, ES>) -> bool) -> Option<At> {
        let slab = &self.slab;
        self.index
            .find(hash, |at| slab[at as usize].as_ref().is_some_and(&eq))
    }

    /// The slot with this hash that `eq` accepts, with its position.
    #[inline]
    pub(crate) fn lookup(
        &self,
        hash: u64,
        eq: impl Fn(&Slot<K, V, XS, ES>) -> bool,
    ) -> Option<Found<&Slot<K, V, XS, ES>>> {
        let at = self.find(hash, eq)?;
        Some((at, self.get(at)?))
    }

    /// [`Table::lookup`], to change the slot's policy state.
    #[inline]
    pub(crate) fn lookup_mut(
        &mut self,
        hash: u64,
        eq: impl Fn(&Slot<K, V, XS, ES>) -> bool,
    ) -> Option<Found<&mut Slot<K, V, XS, ES>>> {
        let at = self.find(hash, eq)?;
        Some((at, self.get_mut(at)?))
    }

    /// Starts loading the index bucket where the probe for a key hash with these low 16 bits
    /// begins, without waiting for it: a victim named by a policy's record (position and tag) is
    /// removed by loading its slot, then its index word, two cache misses one after the other
    /// since the slot holds the hash. Started first, the bucket's load overlaps the slot's
    /// (W3 1T: 1.10x). Only an index of at most 65,536 words has its bucket picked by 16 bits.
    #[inline]
    pub(crate) fn warm_bucket(&self, low_bits: u16) {
        self.index.warm(u64::from(low_bits));
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
        let hash = u64::from(slot.hash);
        let at = match self.free.pop() {
            Some(at) => {
                self.slab[at as usize] = Some(slot);
                at
            }
            None => {
                let at = At::try_from(self.slab.len())
                    .ok()
                    .filter(|&at| at != NO_SLOT)
                    .expect("a shard holds fewer than 2^32 - 1 entries");
                self.slab.push(Some(slot));
                at
            }
        };
        self.index.insert(hash, at);
        at
    }

    /// Removes and returns the slot at `at`.
    pub(crate) fn remove(&mut self, at: At) -> Option<Slot<K, V, XS, ES>> {
        let hash = u64::from(self.get(at)?.hash);
        if !self.index.remove(hash, at) {
            return None;
        }
        self.free.push(at);
        let slot = self.slab[at as usize].take();
        if self.index.len == 0 && self.slab.len() > KEEP_WHEN_EMPTY {
            // The last entry of a big table went: give its buffers back, so memory after mass
            // deletes returns to an empty store's. (Records still naming old positions find no
            // slot there, which policies take as a removed entry.)
            self.index = Index::new();
            self.free = Vec::new();
            self.slab = Vec::new();
        }
        slot
    }

    /// Every slot, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot<K, V, XS, ES>> {
        self.slab.iter().flatten()
    }

    /// Every slot with its position.
    pub(crate) fn positions(&self) -> impl Iterator<Item = (At, &Slot<K, V, XS, ES>)> {
        (0..)
            .zip(&self.slab)
            .filter_map(|(at, s)| Some((at, s.as_ref()?)))
    }

    /// Empties the table, handing back the slots it held.
    pub(crate) fn take_all(
        &mut self,
    ) -> impl Iterator<Item = Slot<K, V, XS, ES>> + use<K, V, XS, ES> {
        self.index = Index::new();
        self.free = Vec::new();
        std::mem::take(&mut self.slab).into_iter().flatten()
    }
}

/// Slab positions an empty table keeps rather than freeing its buffers (churn around empty must
/// not reallocate at every insert).
const KEEP_WHEN_EMPTY: usize = 1024;

/// A position no slot has: with the low hash bits all ones it would spell [`EMPTY`].
const NO_SLOT: At = At::MAX;

/// An index word with no entry.
const EMPTY: u64 = u64::MAX;

/// The slab positions by key hash: open addressing with linear probing over words that pack the
/// low 32 bits of the hash (above the position). A lookup usually reads one cache line and then
/// the slot; the hash bits in the word both pick the home bucket (so growing never reads a slot)
/// and filter candidates before a key is compared. Removal shifts the following words back
/// instead of leaving tombstones, so churn never lengthens lookups or forces a rehash.
///
/// `find`, `place` and `position` each write out the same probe loop: one shared probe taking a
/// closure measured about 15% slower on W3 (`compare run kvstore W3 1`, 4 interleaved runs).
struct Index {
    words: Box<[u64]>,
    len: usize,
}

impl Index {
    fn new() -> Self {
        Self {
            words: Box::new([]),
            len: 0,
        }
    }

    #[inline]
    fn word(hash: u64, at: At) -> u64 {
        (hash & 0xffff_ffff) << 32 | u64::from(at)
    }

    #[inline]
    fn mask(&self) -> usize {
        self.words.len().wrapping_sub(1)
    }

    /// The bucket a word's probe starts from (`bits`: the hash's low 32 bits).
    #[inline]
    fn home(&self, bits: u64) -> usize {
        bits as usize & self.mask()
    }

    #[inline]
    fn find(&self, hash: u64, eq: impl Fn(At) -> bool) -> Option<At> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let bits = hash & 0xffff_ffff;
        let mut i = self.home(bits);
        loop {
            let word = self.words[i];
            if word == EMPTY {
                return None;
            }
            if word >> 32 == bits && eq(word as At) {
                return Some(word as At);
            }
            i = (i + 1) & mask;
        }
    }

    /// Loads the home bucket of `low_bits` (the hash's low 16 bits) if they pick it alone. The
    /// value is unused: `black_box` keeps the load, and nothing waits for it.
    #[inline]
    fn warm(&self, low_bits: u64) {
        let mask = self.mask();
        if mask <= 0xffff {
            if let Some(&word) = self.words.get(self.home(low_bits)) {
                std::hint::black_box(word);
            }
        }
    }

    fn insert(&mut self, hash: u64, at: At) {
        // At most three quarters full, so probe runs stay a cache line or two long.
        if (self.len + 1) * 4 > self.words.len() * 3 {
            self.grow();
        }
        self.place(Self::word(hash, at));
        self.len += 1;
    }

    /// Puts a word in the first empty bucket from its home.
    fn place(&mut self, word: u64) {
        let mask = self.mask();
        let mut i = self.home(word >> 32);
        while self.words[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.words[i] = word;
    }

    fn grow(&mut self) {
        let size = (self.words.len() * 2).max(8);
        let old = std::mem::replace(&mut self.words, vec![EMPTY; size].into_boxed_slice());
        for word in old.iter().copied().filter(|&w| w != EMPTY) {
            self.place(word);
        }
    }

    /// Removes the word for `at`; false if there is none.
    fn remove(&mut self, hash: u64, at: At) -> bool {
        let Some(mut hole) = self.position(Self::word(hash, at)) else {
            return false;
        };
        // Shift back each later word of the run that may live in the hole: one whose home does
        // not lie after the hole (cyclically, up to the word's own bucket).
        let mask = self.mask();
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let word = self.words[i];
            if word == EMPTY {
                break;
            }
            let home = self.home(word >> 32);
            if i.wrapping_sub(home) & mask >= i.wrapping_sub(hole) & mask {
                self.words[hole] = word;
                hole = i;
            }
        }
        self.words[hole] = EMPTY;
        self.len -= 1;
        true
    }

    /// The bucket holding exactly `word`.
    fn position(&self, word: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(word >> 32);
        loop {
            match self.words[i] {
                w if w == word => return Some(i),
                EMPTY => return None,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: &'static str, hash: u32, value: u32) -> Slot<&'static str, u32, (), ()> {
        Slot {
            key,
            value,
            hash,
            expiry: (),
            eviction: (),
        }
    }

    /// A slot is its key, value and policy states plus 8 bytes (32-bit hash bits, and padding): with
    /// `String` keys, `u64` values and the TTL and LRU states, 72 bytes.
    #[test]
    fn a_slot_adds_eight_bytes_to_what_it_holds() {
        type Ttl = [u64; 3];
        type Stamp = u64;
        assert_eq!(std::mem::size_of::<Slot<String, u64, Ttl, Stamp>>(), 72);
        assert_eq!(
            std::mem::size_of::<Option<Slot<String, u64, Ttl, Stamp>>>(),
            72
        );
    }

    /// A policy's record keeps 16 bits of its entry's hash: they must be the ones that pick the
    /// entry's home bucket in an index of up to 65,536 words, or `warm_bucket` loads the wrong
    /// one (no wrong answer, only the overlap lost).
    #[test]
    fn a_records_tag_picks_its_entrys_home_bucket_in_an_index_of_up_to_65536_words() {
        let mut index = Index::new();
        for at in 0..40_000_u32 {
            index.insert(u64::from(at.wrapping_mul(0x9e37_79b9)), at);
        }
        assert_eq!(index.words.len(), 65_536);
        for hash in [0_u32, 1, 0xffff, 0x1_0000, 0xdead_beef, u32::MAX] {
            let tag = crate::policy::EntryRef::new(3, 7, hash).tag();
            assert_eq!(
                index.home(u64::from(tag)),
                index.home(u64::from(hash)),
                "{hash:#x}"
            );
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
        assert_eq!(t.get(c).map(|s| s.value), Some(2));
        let mut keys: Vec<_> = t.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["b", "c", "d"]);
        assert_eq!(t.take_all().count(), 3);
        assert_eq!(t.len(), 0);
        assert_eq!(t.iter().count(), 0);
    }

    /// Removing from the middle of a probe run keeps every other word of the run reachable
    /// (backward shift), including a run that wraps around the end of the index.
    #[test]
    fn removal_inside_a_wrapping_run_keeps_the_rest_findable() {
        let mut index = Index::new();
        for at in 0..5 {
            index.insert(7, at);
        }
        // Eight buckets: home 7 is the last, so the run wraps to buckets 0..=3.
        assert_eq!(index.words.len(), 8);
        index.insert(0, 5);
        assert!(index.remove(7, 1));
        assert!(!index.remove(7, 1));
        for at in [0, 2, 3, 4] {
            assert_eq!(index.find(7, |a| a == at), Some(at), "position {at}");
        }
        assert_eq!(index.find(0, |a| a == 5), Some(5));
        assert_eq!(index.find(7, |a| a == 1), None);
        assert_eq!(index.len, 5);
    }

    /// Many inserts and removals keep the index and the slab in step (the index grows and
    /// rehashes from the hash bits it keeps).
    #[test]
    fn index_and_slab_agree_through_growth_and_churn() {
        let mut t: Table<u32, u32, (), ()> = Table::new();
        let mut live = std::collections::HashMap::new();
        for i in 0..20_000_u32 {
            let hash = i.wrapping_mul(0x9e37_79b9);
            let at = t.insert(Slot {
                key: i,
                value: i,
                hash,
                expiry: (),
                eviction: (),
            });
            live.insert(i, (hash, at));
            if i % 3 == 0 {
                let (h, at) = live.remove(&(i / 2)).unwrap_or((0, At::MAX));
                if at != At::MAX {
                    assert_eq!(t.remove(at).map(|s| s.key), Some(i / 2));
                    assert_eq!(t.find(u64::from(h), |s| s.key == i / 2), None);
                }
            }
        }
        assert_eq!(t.len(), live.len());
        for (&k, &(h, at)) in &live {
            assert_eq!(t.find(u64::from(h), |s| s.key == k), Some(at));
        }
    }
}
