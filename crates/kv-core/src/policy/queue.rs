//! A lazy min-queue of entry records: a toolkit for policies that order entries by a `u64`
//! priority (kv-ttl's deadlines, kv-lru's recency stamps). It knows neither.
//!
//! A record `(priority, entry)` promises only that the entry's current priority is at least
//! `priority`: entries move later (a sliding refresh, a `get`) without touching the queue, and a
//! record whose entry is gone stays until it is reached or the queue is compacted. Popping the
//! smallest record and asking the store about its entry therefore finds the true minimum: every
//! other entry's priority is at least its record's, which is at least the popped one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::{EntryRef, Verdict};

type Record = (u64, EntryRef);

/// The queue; callers hold it under their own lock.
///
/// Records pushed in order (each at or above the last one kept so) go to `run`, a sorted FIFO:
/// appending and popping its front cost a few instructions and walk memory in order. That is
/// most records: a new entry's stamp is the newest, and a fixed TTL's deadlines follow their
/// puts. The rest (a requeue at an entry's current stamp, a deadline nearer than the last one
/// pushed) go to the radix heap below, and a pop takes the smaller of the two minimums. Before
/// the run, every record went through the heap, and finding and settling the heap's lowest
/// bucket took more than a cache miss per evicting put.
///
/// The radix heap: both users push priorities at or above the last one popped (a new stamp is the
/// newest, a requeue is at the entry's current priority, above the record just popped; a new
/// deadline lies after `now`, and only deadlines up to `now` are popped), so records sit in
/// buckets by the highest bit in which they differ from `floor`, the last priority popped. A
/// push appends to a vector; popping empties the lowest non-empty bucket into lower ones. Each
/// record moves down at most 64 times, through contiguous memory: the binary heap this replaces
/// spent most of an evicting `put` in cache misses sifting down a heap of 100,000 records. A
/// record below `floor` (racing stamps, a deadline already past) goes to a binary heap beside the
/// buckets, so the minimum is always exact; in the store's use it holds few records.
#[derive(Debug)]
pub struct LazyQueue {
    /// Records pushed in priority order, oldest first.
    run: VecDeque<Record>,
    /// `buckets[0]` holds records equal to `floor`; `buckets[i]`, those whose highest bit
    /// differing from `floor` is bit `i - 1`.
    buckets: Box<[Vec<Record>; 65]>,
    floor: u64,
    /// Records pushed below `floor`.
    below: BinaryHeap<Reverse<Record>>,
    /// The lowest non-empty bucket and its smallest priority, when known (see
    /// [`LazyQueue::bucketed_min`]).
    lowest: Option<(usize, u64)>,
    len: usize,
    /// The live count the last compaction check saw, and the calls since (see
    /// [`LazyQueue::compact_if_sparse`]).
    live_seen: usize,
    calls_since_check: usize,
}

/// Records beyond this many over one and a half times the live count trigger a compaction.
const SLACK: usize = 64;

/// Records a bucket's buffer keeps when the buffers together are over their budget (1,024
/// records, 16 KiB).
const SPARE_BUFFER: usize = 1024;

/// Records (16 bytes each) of buffer a rebuild leaves alone beyond eight per record it keeps:
/// 1 MiB.
const SHRINK_ABOVE: usize = 1 << 16;

/// [`LazyQueue::compact_if_sparse`] reads the live count at least once per this many calls.
pub const RECHECK_EVERY: usize = 1024;

impl Default for LazyQueue {
    fn default() -> Self {
        Self {
            run: VecDeque::new(),
            buckets: Box::new(std::array::from_fn(|_| Vec::new())),
            floor: 0,
            below: BinaryHeap::new(),
            lowest: None,
            len: 0,
            live_seen: 0,
            calls_since_check: 0,
        }
    }
}

impl LazyQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn bucket(&self, priority: u64) -> usize {
        (u64::BITS - (priority ^ self.floor).leading_zeros()) as usize
    }

    /// The oldest record pushed in order, which is usually the next one popped: a hint for
    /// [`EvictionHost::warm`](super::EvictionHost::warm), not the exact minimum.
    #[inline]
    pub fn front_of_run(&self) -> Option<EntryRef> {
        self.run.front().map(|&(_, entry)| entry)
    }

    /// Adds a record.
    pub fn push(&mut self, priority: u64, entry: EntryRef) {
        self.len += 1;
        if self.run.back().is_none_or(|&(last, _)| priority >= last) {
            self.run.push_back((priority, entry));
            return;
        }
        self.push_to_heap(priority, entry);
    }

    /// Adds a record out of order: to the buckets, or beside them if below `floor`.
    fn push_to_heap(&mut self, priority: u64, entry: EntryRef) {
        if priority < self.floor {
            self.below.push(Reverse((priority, entry)));
            return;
        }
        let b = self.bucket(priority);
        self.buckets[b].push((priority, entry));
        self.lowest = match self.lowest {
            // Bucket `b` was empty (`i` was the lowest non-empty one): `priority` is its minimum.
            Some((i, _)) if b < i => Some((b, priority)),
            Some((i, m)) if b == i => Some((i, m.min(priority))),
            other => other,
        };
    }

    /// The lowest non-empty bucket and the smallest priority in it (the smallest bucketed),
    /// found without moving any record. Finding it never raises `floor`: only a pop does, to
    /// the priority it pops, so a TTL index's floor never passes `now` and later deadlines keep
    /// landing in the buckets.
    fn bucketed_min(&mut self) -> Option<(usize, u64)> {
        if !self.buckets[0].is_empty() {
            return Some((0, self.floor));
        }
        if self.lowest.is_none() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let m = self.buckets[i].iter().map(|r| r.0).min()?;
            self.lowest = Some((i, m));
        }
        self.lowest
    }

    /// Moves bucket `i`, whose smallest priority is `min`, down below a floor raised to `min`:
    /// its records then sit in `buckets[0]` (those equal to `min`) and lower buckets.
    fn settle(&mut self, i: usize, min: u64) {
        let mut moving = std::mem::take(&mut self.buckets[i]);
        self.floor = min;
        for record in moving.drain(..) {
            let b = self.bucket(record.0);
            self.buckets[b].push(record);
        }
        // The emptied buffer is kept for later pushes while the buffers together stay within
        // twice the records (plus some): every bucket keeping the most it ever held would add
        // up to several times the records.
        if moving.capacity() > SPARE_BUFFER && self.buffers_over_budget(moving.capacity()) {
            // Shrunk in place, not freed: glibc's malloc maps a big buffer of its own and, once
            // one is freed, raises the size it maps from, so that later big buffers come from
            // the heap and fragment it (resident memory crept up by megabytes a minute in the
            // soak). Shrinking a mapped buffer remaps it and returns the rest to the system.
            moving.shrink_to(SPARE_BUFFER);
        }
        self.buckets[i] = moving;
    }

    /// Whether the buckets' buffers plus `more` exceed twice the records (plus some).
    fn buffers_over_budget(&self, more: usize) -> bool {
        let kept: usize = self.buckets.iter().map(Vec::capacity).sum();
        kept + more > self.len.saturating_mul(2).saturating_add(4096)
    }

    /// Removes and returns the smallest record if its priority is at most `bound`.
    fn pop_min_upto(&mut self, bound: u64) -> Option<Record> {
        let front = self.run.front().map(|&(p, _)| p);
        let from_run = match (front, self.heap_min()) {
            (Some(f), Some(h)) => (f <= h).then_some(f).ok_or(h),
            (Some(f), None) => Ok(f),
            (None, Some(h)) => Err(h),
            (None, None) => return None,
        };
        let record = match from_run {
            Ok(p) if p <= bound => self.run.pop_front(),
            Err(p) if p <= bound => self.pop_heap_min(),
            _ => return None,
        };
        if record.is_some() {
            self.len -= 1;
        }
        record
    }

    /// The smallest priority in the buckets or beside them.
    #[inline]
    fn heap_min(&mut self) -> Option<u64> {
        if self.len == self.run.len() {
            return None; // all in the run: no bucket to look through
        }
        let bucketed = self.bucketed_min().map(|(_, m)| m);
        let below = self.below.peek().map(|Reverse((p, _))| *p);
        match (bucketed, below) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes the smallest record of the buckets or beside them.
    fn pop_heap_min(&mut self) -> Option<Record> {
        let bucketed = self.bucketed_min();
        let below = self.below.peek().map(|Reverse((p, _))| *p);
        match (bucketed, below) {
            (Some((_, m)), Some(b)) if b < m => self.below.pop().map(|Reverse(r)| r),
            (None, Some(_)) => self.below.pop().map(|Reverse(r)| r),
            (Some((i, m)), _) => {
                if i != 0 {
                    self.settle(i, m);
                }
                self.lowest = None;
                self.buckets[0].pop()
            }
            (None, None) => None,
        }
    }

    /// The smallest priority queued.
    pub fn min_priority(&mut self) -> Option<u64> {
        let front = self.run.front().map(|&(p, _)| p);
        match (front, self.heap_min()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Records held (dead ones included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every record.
    pub fn clear(&mut self) {
        self.run.clear();
        self.buckets.iter_mut().for_each(Vec::clear);
        self.below.clear();
        self.lowest = None;
        self.floor = 0;
        self.len = 0;
    }

    /// Pops records with priority `<= bound` and hands each entry to `probe`, which says what
    /// became of it (see [`Verdict`]), until `probe` has removed `limit` entries, says
    /// [`Verdict::Stop`], or nothing at or below `bound` is left. Returns how many it removed.
    pub fn drain_upto(
        &mut self,
        bound: u64,
        limit: usize,
        mut probe: impl FnMut(EntryRef, u64) -> Verdict,
    ) -> usize {
        let mut removed = 0;
        while removed < limit {
            let Some((priority, entry)) = self.pop_min_upto(bound) else {
                break;
            };
            match probe(entry, priority) {
                Verdict::Forget => {}
                Verdict::Remove => removed += 1,
                Verdict::Keep(p) => self.push(p, entry),
                Verdict::Stop => {
                    self.push(priority, entry);
                    break;
                }
            }
        }
        removed
    }

    /// Rebuilds from the store when dead records outnumber live entries, so removals that no
    /// queue ever reaches (deletes, consumed tokens) cannot grow it without bound. `live` (the
    /// store's entry count, a sum over shards) is asked for when the records outgrow the count
    /// seen last time, and every [`RECHECK_EVERY`] calls (the store may have shrunk since), not
    /// at every push.
    pub fn compact_if_sparse(
        &mut self,
        live: impl FnOnce() -> usize,
        scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64)),
    ) {
        self.calls_since_check += 1;
        if self.len <= sparse_above(self.live_seen) && self.calls_since_check < RECHECK_EVERY {
            return;
        }
        self.calls_since_check = 0;
        self.live_seen = live();
        if self.len > sparse_above(self.live_seen) {
            self.rebuild(scan);
        }
    }

    /// Rebuilds at once if dead records outnumber live entries (see
    /// [`LazyQueue::compact_if_sparse`]): for a policy told of removals the queue never reaches.
    pub fn compact_now_if_sparse(
        &mut self,
        live: impl FnOnce() -> usize,
        scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64)),
    ) {
        self.calls_since_check = RECHECK_EVERY;
        self.compact_if_sparse(live, scan);
    }

    /// Drops every record and gives the buffers' memory back (a cleared store), then takes one
    /// record per entry that `scan` reports (those inserted since).
    pub fn reset(&mut self, scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64))) {
        self.run = VecDeque::new();
        self.buckets.iter_mut().for_each(|b| *b = Vec::new());
        self.below = BinaryHeap::new();
        self.rebuild(scan);
    }

    /// Replaces every record with one per entry that `scan` reports.
    pub fn rebuild(&mut self, scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64))) {
        // Straight into the buckets, which keep their buffers: no second copy of the records
        // (resident memory is a peak), and no fresh multi-megabyte buffers at every rebuild,
        // which fragmented the allocator's heap until resident memory crept up over a long soak.
        // With `floor` at 0 a record's bucket is its bit length; the first pop splits the
        // lowest bucket. (Sorting them into the run instead cost more than it saved: a store
        // with steady replacements compacts every few thousand puts.)
        self.clear();
        let mut count = 0;
        scan(&mut |entry, priority| {
            let b = (u64::BITS - priority.leading_zeros()) as usize;
            self.buckets[b].push((priority, entry));
            count += 1;
        });
        self.len = count;
        self.live_seen = count;
        // Buffers far bigger than the records (the store lost most of its entries) give their
        // memory back, shrunk in place (see `settle`); a rebuild that keeps a similar count keeps
        // them, so steady churn allocates nothing.
        let kept = self.run.capacity() + self.buckets.iter().map(Vec::capacity).sum::<usize>();
        if kept > count.saturating_mul(8).saturating_add(SHRINK_ABOVE) {
            self.run.shrink_to(SPARE_BUFFER);
            for b in self.buckets.iter_mut() {
                b.shrink_to(b.len().max(SPARE_BUFFER));
            }
        }
    }

    /// Checks that every entry `scan` reports with its priority has a record at or below that
    /// priority (the queue's promise); for `validate()`. Records name entries by position and a
    /// 16-bit tag, so a stale record whose tag matches can stand in for a missing one: the check
    /// is strong, not airtight.
    pub fn check_covers(
        &self,
        what: &str,
        scan: impl FnOnce(&mut dyn FnMut(EntryRef, u64)),
    ) -> Result<(), String> {
        let mut lowest = std::collections::HashMap::<EntryRef, u64>::new();
        for (entry, p) in self.records() {
            let low = lowest.entry(entry).or_insert(p);
            *low = (*low).min(p);
        }
        let mut missing = None;
        scan(&mut |entry, priority| {
            if missing.is_none() && lowest.get(&entry).is_none_or(|&low| low > priority) {
                missing = Some((entry, priority));
            }
        });
        match missing {
            None => Ok(()),
            Some((entry, p)) => Err(format!(
                "entry {entry:?} (priority {p}) has no record at or below it in the {what}"
            )),
        }
    }

    /// Every record, for `validate()`.
    pub fn records(&self) -> Vec<(EntryRef, u64)> {
        self.run
            .iter()
            .chain(self.buckets.iter().flatten())
            .chain(self.below.iter().map(|Reverse(r)| r))
            .map(|&(p, e)| (e, p))
            .collect()
    }
}

/// The record count above which a queue for `live` entries counts as sparse.
fn sparse_above(live: usize) -> usize {
    live.saturating_add(live / 2).saturating_add(SLACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> EntryRef {
        EntryRef::new(0, id as u32, id as u32)
    }

    fn capacity(q: &LazyQueue) -> usize {
        q.run.capacity() + q.buckets.iter().map(Vec::capacity).sum::<usize>()
    }

    /// A long soak under TTL churn showed resident memory creeping up while entries and records
    /// stayed bounded: every rebuild allocated a fresh buffer of megabytes. It reuses its own.
    #[test]
    fn rebuild_keeps_the_buffers_it_had() {
        let mut q = LazyQueue::new();
        for i in 0..10_000 {
            q.push(i, entry(i));
        }
        q.rebuild(|f| (0..10_000).for_each(|i| f(entry(i), i)));
        let before = capacity(&q);
        q.rebuild(|f| (0..100).for_each(|i| f(entry(i), i)));
        assert_eq!(q.len(), 100);
        assert_eq!(capacity(&q), before);
        assert_eq!(q.min_priority(), Some(0));
    }

    /// After mass removals, a rebuild down to a few records gives the buffers' memory back (the
    /// store's memory follows its entries).
    #[test]
    fn rebuild_after_mass_removals_gives_the_buffers_back() {
        let mut q = LazyQueue::new();
        for i in 0..300_000 {
            q.push(i, entry(i));
        }
        q.rebuild(|f| (0..64).for_each(|i| f(entry(i), i)));
        assert_eq!(q.len(), 64);
        assert!(capacity(&q) <= 64 * SPARE_BUFFER, "kept {}", capacity(&q));
        assert_eq!(q.min_priority(), Some(0));
    }

    /// The queue pops records in the order a binary heap would, for pushes that follow the
    /// minimum (the common case) and for pushes below it (racing stamps).
    #[test]
    fn pops_in_priority_order_like_a_binary_heap() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut q = LazyQueue::new();
        let mut reference = BinaryHeap::new();
        let mut last = 0;
        for step in 0..50_000 {
            let r = next();
            if r % 3 == 0 && !reference.is_empty() {
                let Reverse((p, _)) = reference.pop().unwrap();
                let mut got = None;
                q.drain_upto(NEVER_FOR_TEST, 1, |_, priority| {
                    got = Some(priority);
                    Verdict::Remove
                });
                assert_eq!(got, Some(p), "step {step}");
                last = p;
            } else {
                // Mostly at or above the last minimum, sometimes below it, sometimes far above.
                let p = match r % 17 {
                    0 => last.saturating_sub(r % 50),
                    1 => last + (r % (1 << 40)),
                    _ => last + r % 1_000,
                };
                q.push(p, entry(step));
                reference.push(Reverse((p, step)));
            }
            assert_eq!(q.len(), reference.len());
            assert_eq!(
                q.min_priority(),
                reference.peek().map(|Reverse((p, _))| *p),
                "step {step}"
            );
        }
    }

    const NEVER_FOR_TEST: u64 = u64::MAX;

    /// An expiry index with one far deadline and many near ones pushed after it (mixed TTLs):
    /// asking for the minimum must not raise the floor past the near deadlines, or every later
    /// push would fall into the binary heap beside the buckets.
    #[test]
    fn a_far_record_does_not_push_nearer_later_records_below_the_floor() {
        let mut q = LazyQueue::new();
        q.push(3_600_000, entry(0));
        assert_eq!(q.min_priority(), Some(3_600_000));
        for t in 1..=1_000 {
            q.push(1_000 + t, entry(t));
            assert_eq!(q.min_priority(), Some(1_001));
        }
        assert_eq!(q.below.len(), 0, "near deadlines stay in the buckets");
        let mut drained = Vec::new();
        q.drain_upto(1_500, usize::MAX, |_, p| {
            drained.push(p);
            Verdict::Remove
        });
        assert_eq!(drained, (1_001..=1_500).collect::<Vec<_>>());
        for t in 0..100 {
            q.push(1_600 + t, entry(t));
        }
        assert_eq!(
            q.below.len(),
            0,
            "deadlines after the last one drained stay bucketed"
        );
        assert_eq!(q.min_priority(), Some(1_501));
    }

    /// The live count is read again now and then even while records do not grow, so a store that
    /// shrank (mass deletes, `clear`) gets its dead records compacted within a bounded number of
    /// pushes, not only once records outgrow the old live count.
    #[test]
    fn compaction_notices_a_store_that_shrank() {
        let mut q = LazyQueue::new();
        q.rebuild(|f| (0..10_000).for_each(|i| f(entry(i), i)));
        let mut calls = 0;
        let mut rebuilt = false;
        while !rebuilt && calls <= RECHECK_EVERY {
            q.push(20_000 + calls as u64, entry(calls as u64));
            calls += 1;
            q.compact_if_sparse(
                || 1,
                |f| {
                    rebuilt = true;
                    f(entry(0), 30_000);
                },
            );
        }
        assert!(rebuilt, "no compaction after {calls} pushes");
        assert_eq!(q.len(), 1);
    }

    /// Records pushed in order (new stamps, deadlines of one TTL) never enter the radix heap:
    /// they go to the run and leave it from the front, so no record is moved between buckets.
    #[test]
    fn records_pushed_in_order_bypass_the_buckets() {
        let mut q = LazyQueue::new();
        for p in 0..10_000 {
            q.push(p, entry(p));
        }
        let mut popped = Vec::new();
        q.drain_upto(NEVER_FOR_TEST, 2_000, |_, p| {
            popped.push(p);
            // Every tenth record was used since: requeued at a later stamp, out of order (none
            // is reached again in this drain).
            if p % 10 == 0 {
                Verdict::Keep(p + 3_000)
            } else {
                Verdict::Remove
            }
        });
        assert_eq!(
            q.run.len() + q.buckets.iter().map(Vec::len).sum::<usize>(),
            q.len()
        );
        assert!(q.below.is_empty());
        let requeued = popped.iter().filter(|&&p| p % 10 == 0).count();
        assert_eq!(
            q.buckets.iter().map(Vec::len).sum::<usize>(),
            requeued,
            "only the requeues"
        );
        // The requeued records come out among the in-order ones, by priority.
        let mut rest = Vec::new();
        q.drain_upto(NEVER_FOR_TEST, usize::MAX, |_, p| {
            rest.push(p);
            Verdict::Remove
        });
        assert!(rest.is_sorted(), "pops in priority order");
        assert_eq!(popped.len() + rest.len(), 10_000 + requeued);
        assert_eq!(q.len(), 0);
    }

    /// After a rebuild (a capacity set on an unbounded store, a compaction) the records come out
    /// in priority order, whatever order the scan reported them in, also while in-order pushes
    /// fill the run again.
    #[test]
    fn a_rebuilt_queue_pops_in_order_with_the_run() {
        let mut q = LazyQueue::new();
        q.rebuild(|f| (0..1_000u64).for_each(|i| f(entry(i), (i * 7_919) % 1_000)));
        for p in 500..1_500 {
            q.push(p, entry(p));
        }
        let mut popped = Vec::new();
        q.drain_upto(NEVER_FOR_TEST, usize::MAX, |_, p| {
            popped.push(p);
            Verdict::Remove
        });
        let mut expected: Vec<u64> = (0..1_000).chain(500..1_500).collect();
        expected.sort_unstable();
        assert_eq!(popped, expected);
    }

    /// `drain_upto` stops at its bound, and a record handed back as `Stop` stays queued.
    #[test]
    fn drain_stops_at_the_bound_and_keeps_the_record_it_stops_at() {
        let mut q = LazyQueue::new();
        for p in [5, 3, 9, 7] {
            q.push(p, entry(p));
        }
        let mut seen = Vec::new();
        let removed = q.drain_upto(7, usize::MAX, |e, p| {
            seen.push((u64::from(e.at()), p));
            if p == 7 {
                Verdict::Stop
            } else {
                Verdict::Remove
            }
        });
        assert_eq!(removed, 2);
        assert_eq!(seen, vec![(3, 3), (5, 5), (7, 7)]);
        assert_eq!(q.len(), 2);
        assert_eq!(q.min_priority(), Some(7));
    }
}
