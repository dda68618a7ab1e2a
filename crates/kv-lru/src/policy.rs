//! The LRU policy: recency stamps on entries, a lazy order queue, and the capacity loop.
//!
//! A use stores a fresh stamp into the entry (a plain store under the shard's shared lock: readers
//! never take the policy's lock, and take no locked instruction for recency). Stamps come from the
//! entry's shard's [`ShardClock`], the using thread's last stamp and the entry's own stamp, so a
//! use writes only its own shard's memory, never a line every shard shares. The order queue holds
//! one record per entry with a stamp no newer than the entry's; the victim is found by popping the
//! oldest record and requeueing it at the entry's current stamp until one still matches. While
//! unbounded, no records are kept at all: setting a capacity builds them from the entries' stamps.
//!
//! What is exact: a use's stamp is above the thread's previous stamp and above the used entry's own
//! stamp, and an entry's stamp only rises while no other use races it. So the uses one thread makes
//! are ordered exactly among themselves, also after a concurrent phase: a sequential run that uses
//! every entry again orders them all exactly. Entries that other threads used last, in a phase that
//! met the current thread only outside the store (a join, a task handed over), compare by the shard
//! clocks and may rank above the current thread's later uses, which the contract allows (recency
//! under concurrency may be approximate).

use kv_core::policy::queue::LazyQueue;
use kv_core::sync::{self, AtomicU64, AtomicUsize, Ordering};
use kv_core::{Capacity, EntryRef, Eviction, EvictionHost, NEVER, PolicyIndex, Under, Verdict};

/// The LRU policy: put it in a store's eviction slot with `StoreBuilder::eviction(Lru::new(n))`.
#[derive(Debug)]
pub struct Lru {
    capacity: AtomicUsize,
    /// The entries by recency stamp, oldest first (no records while unbounded).
    order: PolicyIndex,
}

/// A shard's recency clock: the last stamp handed out in the shard, kept beside the shard's lock
/// so a use writes no cache line that other shards' uses write. A plain load and store: racing
/// uses may lower it, which only loosens how uses of different threads compare (the contract
/// lets concurrent recency be approximate); it keeps threads that share shards from drifting
/// apart, which is what keeps the 2-thread hit ratio near exact LRU's.
#[derive(Debug, Default)]
pub struct ShardClock(AtomicU64);

impl ShardClock {
    /// The stamp of a use in this shard: one more than the shard's clock, this thread's last
    /// stamp and `above` (the used entry's own stamp), whichever is highest.
    #[inline]
    fn next(&self, above: u64) -> u64 {
        let floor = self.0.load(Ordering::Relaxed).max(above).saturating_add(1);
        let stamp = sync::with_thread_cell(|last| {
            let stamp = floor.max(last.get().saturating_add(1));
            last.set(stamp);
            stamp
        });
        self.0.store(stamp, Ordering::Relaxed);
        stamp
    }
}

/// The order's records as a scan of every entry's stamp.
fn stamps(host: &dyn EvictionHost<Stamp>) -> impl FnOnce(&mut dyn FnMut(EntryRef, u64)) + '_ {
    move |f| host.scan(&mut |entry, stamp| f(entry, stamp.get()))
}

/// An entry's recency stamp: larger is more recent.
#[derive(Debug)]
pub struct Stamp(AtomicU64);

impl Stamp {
    #[inline]
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Lru {
    /// A policy with `capacity` (0: unbounded; recency is tracked anyway, for a later
    /// `set_capacity`).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: AtomicUsize::new(capacity),
            order: PolicyIndex::new(),
        }
    }

    /// Records the LRU order holds (none while unbounded; some may be of removed entries, until
    /// reached or compacted): for diagnostics and memory checks.
    pub fn ordered(&self) -> usize {
        self.order.len()
    }

    /// Evicts until the store fits its capacity: expired entries first, then the oldest.
    ///
    /// The store's occupancy (its size, or total weight: a sum over its shards) is read once;
    /// each removal then counts it down (by one, or to the weight read again). Entries inserted
    /// meanwhile by other threads are their own puts' business (each checks after inserting,
    /// under this lock), and removals by other threads are caught by checking the occupancy
    /// again under the victim's lock, so nothing is evicted that need not be.
    ///
    /// `newcomer`, the entry whose insert asked for room, is never the victim: an insert is a
    /// use. (In a sequential run it is the most recent entry anyway; when another thread's uses
    /// rank above it, evicting it would make the put vanish at once.)
    fn shrink_to_fit(
        &self,
        order: &mut LazyQueue,
        host: &dyn EvictionHost<Stamp>,
        newcomer: Option<EntryRef>,
    ) -> Option<EntryRef> {
        let capacity = self.capacity.load(Ordering::Acquire);
        if capacity == 0 {
            return None;
        }
        let mut over = host.occupancy().saturating_sub(capacity);
        // The bound on an eviction's work. Each record queued now may be stale once (its entry
        // used since the record was made; requeueing it is paid for by that use), so a
        // sequential run requeues at most that many. More requeues mean uses racing this
        // eviction: after `RACING_REQUEUES` of them the record at hand is taken as the victim
        // (concurrent recency may be approximate), so readers cannot keep every put waiting.
        let mut requeues_left = order.len() + RACING_REQUEUES;
        let mut set_aside = None;
        let mut evicted_any = false;
        while over > 0 {
            if !host.reclaim_one_expired() {
                let evicted = order.drain_upto(NEVER, 1, |entry, stamp| {
                    if Some(entry) == newcomer {
                        set_aside = Some((stamp, entry));
                        return Verdict::Forget; // queued again below
                    }
                    host.remove_if(entry, &mut |state, under| match state.get() {
                        // Used since the record was made: requeue at its current stamp, read
                        // under the exclusive lock. Under the shared lock a racing use may still
                        // store a stamp below the one read here (see `touch`), and a record
                        // above its entry's stamp would rank the entry too new for good; so a
                        // busy shard's entry is judged again under the exclusive lock (the host
                        // asks again when told `Remove` under the shared lock).
                        current
                            if current > stamp
                                && requeues_left > 0
                                && under == Under::Exclusive =>
                        {
                            requeues_left -= 1;
                            Verdict::Keep(current)
                        }
                        // The store fits again (a removal elsewhere made room): no victim. Asked
                        // only where it decides the removal, under the victim's exclusive lock:
                        // the occupancy is a sum over the shards.
                        _ if under == Under::Exclusive && host.occupancy() <= capacity => {
                            Verdict::Stop
                        }
                        _ => Verdict::Remove,
                    })
                });
                evicted_any |= evicted > 0;
                if evicted == 0 {
                    // Every remaining entry is still being inserted (its put will finish the
                    // job), or the store already fits.
                    break;
                }
            }
            over = if host.weighs() {
                // An eviction frees its victim's weight: look again (at most one per unit).
                (over - 1).min(host.occupancy().saturating_sub(capacity))
            } else {
                over - 1
            };
        }
        if let Some((stamp, entry)) = set_aside {
            order.push(stamp, entry);
        }
        // The next victim, to warm once the order's lock is released (see `EvictionHost::warm`).
        order.front_of_run().filter(|_| evicted_any)
    }
}

/// Requeues an eviction allows beyond one per queued record (see [`Lru::shrink_to_fit`]).
const RACING_REQUEUES: usize = 64;

impl Default for Lru {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Eviction for Lru {
    type State = Stamp;
    type Shard = ShardClock;
    /// The new entry's stamp.
    type Summary = u64;

    #[inline]
    fn new_state(&self, shard: &ShardClock) -> Stamp {
        Stamp(AtomicU64::new(shard.next(0)))
    }

    #[inline]
    fn summary(state: &Stamp) -> u64 {
        state.get()
    }

    #[inline]
    fn touch(&self, shard: &ShardClock, state: &Stamp) {
        // A plain store, not a locked `fetch_max` (W1 1.31x at one thread on a VM whose memory
        // was slow, no difference when it was fast; see design.md): two uses
        // racing under the shared lock may leave the older of their two stamps, which the
        // contract allows (concurrent recency may be approximate). Records stay at or below
        // their entries' stamps because a stamp is recorded only under the exclusive lock (a
        // rebuild's scan, an eviction's requeue: see `shrink_to_fit`), when no use is racing,
        // and every later store is above the stamp its use loaded.
        let stamp = shard.next(state.get());
        state.0.store(stamp, Ordering::Relaxed);
    }

    fn admits(&self, weight: u64) -> bool {
        let capacity = self.capacity.load(Ordering::Acquire);
        capacity == 0 || weight <= capacity as u64
    }

    fn inserted(&self, entry: EntryRef, stamp: u64, host: &dyn EvictionHost<Stamp>) {
        // Read after the entry was inserted: a concurrent `set_capacity` that enables the order
        // either scanned this entry or is seen here (the shard lock orders the two).
        if self.capacity.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut order = self.order.lock();
        if self.capacity.load(Ordering::Acquire) == 0 {
            return;
        }
        order.push(stamp, entry);
        order.compact_if_sparse(|| host.stored(), stamps(host));
        let next = self.shrink_to_fit(&mut order, host, Some(entry));
        drop(order);
        if let Some(next) = next {
            host.warm(next);
        }
    }

    fn replaced(&self, entry: EntryRef, _: u64, host: &dyn EvictionHost<Stamp>) {
        // The replaced entry's record names the newcomer (same position and key), and its stamp
        // is below the newcomer's, which is the newest: it stands, so a replacing put adds no
        // record (before, each left a dead one, and a store with steady replacements rebuilt its
        // order from every slot every few thousand puts). Only a heavier newcomer needs room.
        if !host.weighs() || self.capacity.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut order = self.order.lock();
        if self.capacity.load(Ordering::Acquire) != 0 {
            self.shrink_to_fit(&mut order, host, Some(entry));
        }
    }

    fn removed(&self, _: u64, host: &dyn EvictionHost<Stamp>) {
        if self.capacity.load(Ordering::Relaxed) == 0 {
            return; // unbounded: no records
        }
        drop(self.order.count_removal(|| host.stored(), stamps(host)));
    }

    fn cleared(&self, host: &dyn EvictionHost<Stamp>) {
        let mut order = self.order.lock_rarely();
        if self.capacity.load(Ordering::Acquire) == 0 {
            order.reset(|_| {});
        } else {
            order.reset(stamps(host));
        }
    }

    fn validate(&self, host: &dyn EvictionHost<Stamp>) -> Result<(), String> {
        let order = self.order.lock_rarely();
        if self.capacity.load(Ordering::Acquire) == 0 {
            return Ok(()); // unbounded: no order is kept
        }
        order.check_covers("LRU order", stamps(host))
    }
}

impl Capacity for Lru {
    fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Acquire)
    }

    fn with_capacity(self, capacity: usize) -> Self {
        self.capacity.store(capacity, Ordering::Release);
        self
    }

    fn set_capacity(&self, capacity: usize, host: &dyn EvictionHost<Stamp>) {
        let mut order = self.order.lock_rarely();
        let before = self.capacity.swap(capacity, Ordering::AcqRel);
        if capacity == 0 {
            order.clear();
            return;
        }
        if before == 0 {
            order.rebuild(stamps(host));
        }
        self.shrink_to_fit(&mut order, host, None);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use kv_core::{Host, Verdict};

    use super::*;

    /// One shard's entries, as a store would show them to the policy, where a test can play the
    /// race `touch` allows: between the judge's look under the shared lock and its look under
    /// the exclusive one, a use that loaded the stamp before another use stored its newer one
    /// stores its own, older one (`lowered`: entry position and stamp).
    struct RacingShard {
        stamps: Vec<Stamp>,
        removed: Vec<Cell<bool>>,
        lowered: Cell<Option<(u32, u64)>>,
        /// Every look under the exclusive lock finds the entry used since the last look, as if
        /// readers kept using every entry while the eviction waited for each lock.
        endless_uses: Cell<bool>,
        looks: Cell<usize>,
        /// The positions `warm` was asked for, in order.
        warmed: std::cell::RefCell<Vec<u32>>,
    }

    impl RacingShard {
        fn new(stamps: &[u64]) -> Self {
            Self {
                stamps: stamps.iter().map(|&s| Stamp(AtomicU64::new(s))).collect(),
                removed: stamps.iter().map(|_| Cell::new(true)).collect(), // not put yet
                lowered: Cell::new(None),
                endless_uses: Cell::new(false),
                looks: Cell::new(0),
                warmed: std::cell::RefCell::new(Vec::new()),
            }
        }

        fn entry(at: u32) -> EntryRef {
            EntryRef::new(0, at, at)
        }

        /// Stores the entry at `at` and tells `lru`, as a put does.
        fn put(&self, lru: &Lru, at: u32) {
            self.removed[at as usize].set(false);
            lru.inserted(Self::entry(at), self.stamps[at as usize].get(), self);
        }

        fn live(&self) -> impl Iterator<Item = u32> + '_ {
            (0..self.stamps.len() as u32).filter(|&at| !self.removed[at as usize].get())
        }
    }

    impl Host<Stamp> for RacingShard {
        fn stored(&self) -> usize {
            self.live().count()
        }

        fn remove_if(
            &self,
            entry: EntryRef,
            judge: &mut dyn FnMut(&Stamp, Under) -> Verdict,
        ) -> Verdict {
            let at = entry.at();
            let state = &self.stamps[at as usize];
            // The shard is busy: asked under the shared lock first, as the store does.
            let first = judge(state, Under::Shared);
            if let Some((_, older)) = self.lowered.get().filter(|&(racer, _)| racer == at) {
                state.0.store(older, Ordering::Relaxed);
                self.lowered.set(None);
            }
            if first != Verdict::Remove {
                return first;
            }
            self.looks.set(self.looks.get() + 1);
            assert!(
                self.looks.get() < 10_000,
                "the eviction never stops requeueing"
            );
            if self.endless_uses.get() {
                state.0.store(state.get() + 1, Ordering::Relaxed);
            }
            let second = judge(state, Under::Exclusive);
            if second == Verdict::Remove {
                self.removed[at as usize].set(true);
            }
            second
        }

        fn scan(&self, f: &mut dyn FnMut(EntryRef, &Stamp)) {
            for at in self.live() {
                f(Self::entry(at), &self.stamps[at as usize]);
            }
        }
    }

    impl EvictionHost<Stamp> for RacingShard {
        fn occupancy(&self) -> usize {
            self.stored()
        }

        fn weighs(&self) -> bool {
            false
        }

        fn reclaim_one_expired(&self) -> bool {
            false
        }

        fn warm(&self, entry: EntryRef) {
            self.warmed.borrow_mut().push(entry.at());
        }
    }

    /// Why a record is requeued only at a stamp read under the exclusive lock: `a`, put first,
    /// was used by two racing gets, the newer one's stamp (10) stored first. An eviction looks
    /// under the shared lock and sees 10; then the older get stores its 5. Had the look kept
    /// `a`'s record at 10, the record would stand above its entry's stamp (`validate` rejects
    /// it) and rank `a` above later sequential uses stamped 6 to 9.
    #[test]
    fn an_eviction_requeues_a_used_entry_only_at_a_stamp_no_racing_use_can_undercut() {
        let lru = Lru::new(2);
        let shard = RacingShard::new(&[1, 2, 11]);
        let put = |at| shard.put(&lru, at);
        put(0);
        put(1);
        shard.stamps[0].0.store(10, Ordering::Relaxed);
        shard.lowered.set(Some((0, 5)));
        put(2); // over capacity: `a`, recorded at 1, is judged first
        assert!(
            shard.removed[1].get(),
            "b, never used, is the least recently used"
        );
        assert!(!shard.removed[0].get() && !shard.removed[2].get());
        assert_eq!(
            shard.looks.get(),
            2,
            "a requeue of `a`, then `b`: an unused entry is not requeued at its own stamp"
        );
        lru.validate(&shard).unwrap();
    }

    /// The kernel of exact sequential recency: a use ranks above the entry's own stamp and the
    /// thread's last use even when the shard's clock lags (racing uses may lower it).
    #[test]
    fn a_use_ranks_above_its_entry_and_the_threads_last_use_even_when_the_clock_lags() {
        let lru = Lru::new(0);
        let lagging = ShardClock(AtomicU64::new(3));
        let busy = Stamp(AtomicU64::new(1_000)); // stamped by another thread's recent use
        lru.touch(&lagging, &busy);
        assert!(
            busy.get() > 1_000,
            "the use must rank above the entry's own stamp"
        );
        let other = Stamp(AtomicU64::new(5));
        lru.touch(&lagging, &other);
        assert!(
            other.get() > busy.get(),
            "a later use on this thread ranks above its earlier use"
        );
    }

    /// Readers that use every entry again while an eviction waits for its lock cannot keep a
    /// put from evicting: after a requeue per record queued, plus `RACING_REQUEUES`, the record
    /// at hand is the victim (concurrent recency may be approximate).
    #[test]
    fn an_eviction_racing_endless_uses_still_evicts_after_its_requeue_budget() {
        let lru = Lru::new(2);
        let shard = RacingShard::new(&[1, 2, 3]);
        let put = |at| shard.put(&lru, at);
        put(0);
        put(1);
        shard.endless_uses.set(true);
        put(2);
        let removed = (0..3).filter(|&at| shard.removed[at].get()).count();
        assert_eq!(removed, 1, "one victim, to fit the capacity again");
        assert!(!shard.removed[2].get(), "never the newcomer");
        assert!(
            shard.looks.get() <= 3 + RACING_REQUEUES + 1,
            "looks: {}",
            shard.looks.get()
        );
    }

    /// An eviction names the next victim for the store to warm (its slot and index bucket start
    /// loading before the next put needs them: W3 1T 1.05-1.17x): the oldest record left, and only
    /// after evicting, so puts that evict nothing touch no other shard.
    #[test]
    fn an_eviction_asks_to_warm_the_next_least_recently_used_entry() {
        let lru = Lru::new(3);
        let shard = RacingShard::new(&[1, 2, 3, 4, 5]);
        let put = |at| shard.put(&lru, at);
        put(0);
        put(1);
        put(2);
        assert!(
            shard.warmed.borrow().is_empty(),
            "nothing evicted, nothing warmed"
        );
        lru.touch(&ShardClock(AtomicU64::new(10)), &shard.stamps[1]); // 1 is now the newest
        put(3);
        assert!(shard.removed[0].get(), "0 is the least recently used");
        // The hint is the oldest record, 1's, stale since the use (a hint need not be exact).
        // The next eviction requeues it and evicts 2; then 3's record is the oldest.
        put(4);
        assert!(shard.removed[2].get() && !shard.removed[1].get());
        assert_eq!(*shard.warmed.borrow(), vec![1, 3]);
    }
}
