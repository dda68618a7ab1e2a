//! One shard's entries: a slab of slots and a compact hash index into it.
//!
//! The index holds 4- or 8-byte words (part of the key hash and a slab position), not the slots
//! themselves (72 bytes with the default policies). It is an eighteenth or a ninth of the size,
//! so it mostly stays in cache, and its slack costs little: a hash table sized for churn (growth
//! by doubling, tombstones) is mostly empty buckets, which with slots inside cost more memory
//! than the entries. A removed slot's position is reused by the next insert, so a store that churns
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
        self.index.len()
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

    /// Loads the slot at `at` into the cache, for a removal soon after (see
    /// [`EvictionHost::warm`](crate::policy::EvictionHost::warm)). Its load overlaps the bucket's
    /// if [`Table::warm_bucket`] comes next; the caller's lock release then waits for both (a
    /// locked instruction waits for earlier loads), which a real prefetch would not, but that
    /// measured no faster (design.md, Measuring a change).
    #[inline]
    pub(crate) fn warm_slot(&self, at: At) {
        if let Some(slot) = self.slab.get(at as usize) {
            std::hint::black_box(slot.is_some());
        }
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
        let slab = &self.slab;
        self.index.insert(hash, at, |at| {
            slab[at as usize].as_ref().map_or(0, |s| s.hash)
        });
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
        if self.index.len() == 0 && self.slab.len() > KEEP_WHEN_EMPTY {
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

/// A position no slot has: with the hash bits all ones its wide word would spell an empty bucket.
const NO_SLOT: At = At::MAX;

/// The slab positions by key hash: open addressing with linear probing over words that pack
/// part of the hash with a position. A lookup usually reads one cache line and then the slot; the
/// hash bits in a word both pick its home bucket (so neither growing nor a removal's shift reads a
/// slot) and filter candidates before a key is compared. Removal shifts the following words back
/// instead of leaving tombstones, so churn never lengthens lookups or forces a rehash.
///
/// Words are 4 bytes while the index has at most [`NARROW_WORDS`] buckets (a shard of up to
/// 12,288 entries), 8 above: see [`Word`]. Half-size words keep twice as much of the index in
/// cache, which is what a hit waits on first.
enum Index {
    Narrow(Words<u32>),
    Wide(Words<u64>),
}

/// The most buckets an index of 4-byte words has. With 2^k buckets a word keeps `32 - k` hash
/// bits and a `k`-bit position, so `32 - 2k` bits beyond the home bucket's tell keys apart: 4 at
/// this size, a false match (a slot loaded for nothing) on about one probed word in 16.
const NARROW_WORDS: usize = 1 << 14;

impl Index {
    fn new() -> Self {
        Self::Narrow(Words::new())
    }

    fn len(&self) -> usize {
        match self {
            Self::Narrow(w) => w.len,
            Self::Wide(w) => w.len,
        }
    }

    #[inline]
    fn find(&self, hash: u64, eq: impl Fn(At) -> bool) -> Option<At> {
        match self {
            Self::Narrow(w) => w.find(hash as u32, eq),
            Self::Wide(w) => w.find(hash as u32, eq),
        }
    }

    /// Loads the home bucket of `low_bits` (the hash's low 16 bits) if they pick it alone. The
    /// value is unused: `black_box` keeps the load, and nothing waits for it.
    #[inline]
    fn warm(&self, low_bits: u64) {
        match self {
            Self::Narrow(w) => w.warm(low_bits as u32),
            Self::Wide(w) => w.warm(low_bits as u32),
        }
    }

    /// Adds the word for position `at` of a slot with this hash. `hash_of` gives the hash of a
    /// slot already indexed: narrow words keep only part of it, and the switch to wide words
    /// (once per table) reads the rest from the slots.
    fn insert(&mut self, hash: u64, at: At, hash_of: impl Fn(At) -> u32) {
        if let Self::Narrow(w) = self {
            if w.full() && w.words.len() >= NARROW_WORDS {
                let shift = w.shift;
                *self = Self::Wide(w.repacked(w.words.len() * 2, |word| hash_of(word.at(shift))));
            }
        }
        match self {
            Self::Narrow(w) => w.insert(hash as u32, at),
            Self::Wide(w) => w.insert(hash as u32, at),
        }
    }

    /// Removes the word for `at`; false if there is none.
    fn remove(&mut self, hash: u64, at: At) -> bool {
        match self {
            Self::Narrow(w) => w.remove(hash as u32, at),
            Self::Wide(w) => w.remove(hash as u32, at),
        }
    }

    /// Buckets, empty or not.
    #[cfg(test)]
    fn buckets(&self) -> usize {
        match self {
            Self::Narrow(w) => w.words.len(),
            Self::Wide(w) => w.words.len(),
        }
    }
}

/// An index word: some low bits of a slot's 32-bit hash (the home bucket's among them) and the
/// slot's position, packed; all ones is an empty bucket. `shift` is the index's bucket count's
/// log2, which only narrow words need: a `u32` keeps `32 - shift` hash bits above a
/// `shift`-bit position, a `u64` all 32 above a 32-bit one.
trait Word: Copy + Eq {
    const EMPTY: Self;
    fn pack(hash: u32, at: At, shift: u32) -> Self;
    /// The hash bits a word keeps, as `keep` gives them for the hash itself.
    fn hash_bits(self, shift: u32) -> u32;
    fn at(self, shift: u32) -> At;
    /// The bits of `hash` its word keeps.
    fn keep(hash: u32, shift: u32) -> u32;
}

impl Word for u32 {
    const EMPTY: Self = u32::MAX;

    #[inline]
    fn pack(hash: u32, at: At, shift: u32) -> Self {
        // Positions stay below the bucket count (at most 3/4 of it are used), so `at` fits in
        // `shift` bits and never spells EMPTY's all-ones position.
        debug_assert!(at < (1 << shift) - 1);
        hash << shift | at
    }

    #[inline]
    fn hash_bits(self, shift: u32) -> u32 {
        self >> shift
    }

    #[inline]
    fn at(self, shift: u32) -> At {
        self & ((1 << shift) - 1)
    }

    #[inline]
    fn keep(hash: u32, shift: u32) -> u32 {
        hash & (u32::MAX >> shift)
    }
}

impl Word for u64 {
    const EMPTY: Self = u64::MAX;

    #[inline]
    fn pack(hash: u32, at: At, _: u32) -> Self {
        u64::from(hash) << 32 | u64::from(at)
    }

    #[inline]
    fn hash_bits(self, _: u32) -> u32 {
        (self >> 32) as u32
    }

    #[inline]
    fn at(self, _: u32) -> At {
        self as At
    }

    #[inline]
    fn keep(hash: u32, _: u32) -> u32 {
        hash
    }
}

/// An index of one word size.
///
/// `find`, `place` and `position` each write out the same probe loop: one shared probe taking a
/// closure measured about 15% slower on W3 (`compare run kvstore W3 1`, 4 interleaved runs).
struct Words<W> {
    words: Box<[W]>,
    len: usize,
    /// log2 of the bucket count (0 with none).
    shift: u32,
}

impl<W: Word> Words<W> {
    fn new() -> Self {
        Self {
            words: Box::new([]),
            len: 0,
            shift: 0,
        }
    }

    fn with_buckets(size: usize) -> Self {
        Self {
            words: vec![W::EMPTY; size].into_boxed_slice(),
            len: 0,
            shift: size.trailing_zeros(),
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.words.len().wrapping_sub(1)
    }

    /// The bucket a word's probe starts from (`bits`: the hash bits it keeps).
    #[inline]
    fn home(&self, bits: u32) -> usize {
        bits as usize & self.mask()
    }

    /// Whether one more word would fill it past three quarters: probe runs stay a cache line or
    /// two long below that.
    #[inline]
    fn full(&self) -> bool {
        (self.len + 1) * 4 > self.words.len() * 3
    }

    #[inline]
    fn find(&self, hash: u32, eq: impl Fn(At) -> bool) -> Option<At> {
        if self.len == 0 {
            return None;
        }
        let (mask, shift) = (self.mask(), self.shift);
        let bits = W::keep(hash, shift);
        let mut i = self.home(bits);
        loop {
            let word = self.words[i];
            if word == W::EMPTY {
                return None;
            }
            if word.hash_bits(shift) == bits && eq(word.at(shift)) {
                return Some(word.at(shift));
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn warm(&self, low_bits: u32) {
        if self.mask() <= 0xffff {
            if let Some(&word) = self.words.get(self.home(low_bits)) {
                std::hint::black_box(word);
            }
        }
    }

    fn insert(&mut self, hash: u32, at: At) {
        if self.full() {
            self.grow();
        }
        self.place(W::pack(hash, at, self.shift));
        self.len += 1;
    }

    /// Puts a word in the first empty bucket from its home.
    fn place(&mut self, word: W) {
        let mask = self.mask();
        let mut i = self.home(word.hash_bits(self.shift));
        while self.words[i] != W::EMPTY {
            i = (i + 1) & mask;
        }
        self.words[i] = word;
    }

    /// Doubles the buckets, repacking each word for the new size (a narrow word gives up its
    /// top hash bit to the position). The home bits survive: a narrow index stops at 2^14
    /// buckets, where a word still keeps 18 hash bits.
    fn grow(&mut self) {
        let shift = self.shift;
        *self = self.repacked((self.words.len() * 2).max(8), |word| word.hash_bits(shift));
    }

    /// These words in a new index of `buckets` buckets and words of type `T`, each packed again
    /// from its position and the hash bits `hash_bits` gives for it.
    fn repacked<T: Word>(&self, buckets: usize, hash_bits: impl Fn(W) -> u32) -> Words<T> {
        let mut new = Words::<T>::with_buckets(buckets);
        for &word in self.words.iter().filter(|&&w| w != W::EMPTY) {
            new.place(T::pack(hash_bits(word), word.at(self.shift), new.shift));
        }
        new.len = self.len;
        new
    }

    /// Removes the word for `at`; false if there is none.
    fn remove(&mut self, hash: u32, at: At) -> bool {
        if self.len == 0 {
            return false;
        }
        let Some(mut hole) = self.position(W::pack(hash, at, self.shift)) else {
            return false;
        };
        // Shift back each later word of the run that may live in the hole: one whose home does
        // not lie after the hole (cyclically, up to the word's own bucket).
        let mask = self.mask();
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let word = self.words[i];
            if word == W::EMPTY {
                break;
            }
            let home = self.home(word.hash_bits(self.shift));
            if i.wrapping_sub(home) & mask >= i.wrapping_sub(hole) & mask {
                self.words[hole] = word;
                hole = i;
            }
        }
        self.words[hole] = W::EMPTY;
        self.len -= 1;
        true
    }

    /// The bucket holding exactly `word`.
    fn position(&self, word: W) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(word.hash_bits(self.shift));
        loop {
            match self.words[i] {
                w if w == word => return Some(i),
                w if w == W::EMPTY => return None,
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

    /// A warm hint may name a position a removal or a reset freed since: it loads nothing then,
    /// and never panics.
    #[test]
    fn warming_a_slot_that_is_gone_or_never_was_does_nothing() {
        let mut table = Table::<String, u64, (), ()>::new();
        table.warm_slot(0);
        let at = table.insert(Slot {
            key: "k".into(),
            value: 1,
            hash: 7,
            expiry: (),
            eviction: (),
        });
        table.warm_slot(at);
        table.remove(at);
        table.warm_slot(at);
        table.warm_slot(At::MAX);
        table.warm_bucket(u16::MAX);
        assert_eq!(table.len(), 0);
    }

    /// A policy's record keeps 16 bits of its entry's hash: they must be the ones that pick the
    /// entry's home bucket in an index of up to 65,536 words, narrow or wide, or `warm_bucket`
    /// loads the wrong one (no wrong answer, only the overlap lost).
    #[test]
    fn a_records_tag_picks_its_entrys_home_bucket_in_an_index_of_up_to_65536_words() {
        let narrow = Words::<u32>::with_buckets(NARROW_WORDS);
        let wide = Words::<u64>::with_buckets(65_536);
        for hash in [0_u32, 1, 0xffff, 0x1_0000, 0xdead_beef, u32::MAX] {
            let tag = u32::from(crate::policy::EntryRef::new(3, 7, hash).tag());
            assert_eq!(
                narrow.home(u32::keep(tag, narrow.shift)),
                narrow.home(u32::keep(hash, narrow.shift)),
                "{hash:#x}"
            );
            assert_eq!(wide.home(tag), wide.home(hash), "{hash:#x}");
        }
    }

    /// A narrow word keeps hash bits beyond its home bucket's, so a key whose hash differs from
    /// a stored one's only above the home bits is told apart without loading a slot.
    #[test]
    fn a_narrow_word_tells_keys_of_one_home_bucket_apart_without_loading_a_slot() {
        let mut index = Words::<u32>::new();
        // 16,384 buckets: the home is the low 14 bits, and a word keeps 18.
        let hashes: Vec<u32> = (0..12_000).map(|i| i << 14 | 5).collect();
        for (at, &hash) in (0..).zip(&hashes[..4]) {
            index.insert(hash, at);
        }
        for at in 4..12_000_u32 {
            // Filler, homed anywhere but bucket 5.
            let hash = at.wrapping_mul(0x9e37_79b9);
            index.insert(if hash & 0x3fff == 5 { hash ^ 1 } else { hash }, at);
        }
        assert_eq!(index.words.len(), NARROW_WORDS);
        let loads = &std::cell::Cell::new(0);
        let eq = |want: At| {
            move |at: At| {
                loads.set(loads.get() + 1);
                at == want
            }
        };
        assert_eq!(index.find(hashes[3], eq(3)), Some(3));
        assert_eq!(loads.get(), 1, "only the matching word's slot is loaded");
        assert_eq!(index.find(9 << 14 | 5, eq(0)), None);
        assert_eq!(
            loads.get(),
            1,
            "an absent key of the same home loads no slot"
        );
    }

    /// Past 16,384 buckets an index switches to 8-byte words, taking each slot's full hash from
    /// the slab, and every entry stays findable and removable by it.
    #[test]
    fn an_index_switches_to_wide_words_with_the_hashes_its_slots_hold() {
        let mut t: Table<u32, u32, (), ()> = Table::new();
        let hash = |i: u32| i.wrapping_mul(0x9e37_79b9);
        let n = 12_289_u32; // one past 3/4 of 16,384
        for i in 0..n - 1 {
            t.insert(Slot {
                key: i,
                value: i,
                hash: hash(i),
                expiry: (),
                eviction: (),
            });
        }
        assert!(matches!(t.index, Index::Narrow(_)));
        t.insert(Slot {
            key: n - 1,
            value: 0,
            hash: hash(n - 1),
            expiry: (),
            eviction: (),
        });
        assert!(matches!(t.index, Index::Wide(_)));
        assert_eq!(t.index.buckets(), 2 * NARROW_WORDS);
        for i in 0..n {
            let at = t.find(u64::from(hash(i)), |s| s.key == i);
            assert_eq!(at, Some(i), "key {i}");
        }
        for i in (0..n).step_by(2) {
            assert_eq!(t.remove(i).map(|s| s.key), Some(i));
        }
        for i in 0..n {
            let found = t.find(u64::from(hash(i)), |s| s.key == i);
            assert_eq!(found.is_some(), i % 2 == 1, "key {i}");
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
        let hash_of = |at| if at == 5 { 0 } else { 7 };
        for at in 0..5 {
            index.insert(7, at, hash_of);
        }
        // Eight buckets: home 7 is the last, so the run wraps to buckets 0..=3.
        assert_eq!(index.buckets(), 8);
        index.insert(0, 5, hash_of);
        assert!(index.remove(7, 1));
        assert!(!index.remove(7, 1));
        for at in [0, 2, 3, 4] {
            assert_eq!(index.find(7, |a| a == at), Some(at), "position {at}");
        }
        assert_eq!(index.find(0, |a| a == 5), Some(5));
        assert_eq!(index.find(7, |a| a == 1), None);
        assert_eq!(index.len(), 5);
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
        assert!(
            matches!(t.index, Index::Wide(_)),
            "the churn crossed into wide words"
        );
        for (&k, &(h, at)) in &live {
            assert_eq!(t.find(u64::from(h), |s| s.key == k), Some(at));
        }
    }
}
