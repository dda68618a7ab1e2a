//! The TTL policy: per-entry deadlines and read budgets, and the expiry index.

use kv_core::policy::queue::LazyQueue;
use kv_core::sync::{AtomicU64, Ordering};
use kv_core::{DefaultTtl, EntryRef, Expiry, Host, NEVER, PolicyIndex, Read, Verdict};

use crate::PutOptions;

/// The expiry policy: deadlines, sliding refresh and read budgets in each entry, and the expiry
/// index (a lazy queue of deadlines) under its own lock. Put it in a store's expiry slot with
/// `StoreBuilder::expiry(Ttl::new())`.
#[derive(Debug)]
pub struct Ttl {
    /// The entries that may expire, by deadline.
    index: PolicyIndex,
    /// A lower bound of every deadline in the index, readable without the lock: writes skip
    /// reclaiming altogether while `now` is below it.
    earliest: AtomicU64,
    /// The TTL of a put that names none, in nanoseconds (0: none), and whether it slides.
    default_ttl: u64,
    default_sliding: bool,
}

impl Default for Ttl {
    /// [`Ttl::new`]: an empty index whose earliest deadline is "never" (a derived default
    /// would start it at 0, so every write would look for expired entries until the first
    /// deadline was indexed).
    fn default() -> Self {
        Self::new()
    }
}

impl Ttl {
    /// Records the expiry index holds (some may be of removed entries, until reached or
    /// compacted): for diagnostics and memory checks.
    pub fn indexed(&self) -> usize {
        self.index.len()
    }

    /// A policy with an empty index.
    pub fn new() -> Self {
        Self {
            index: PolicyIndex::new(),
            earliest: AtomicU64::new(NEVER),
            default_ttl: 0,
            default_sliding: false,
        }
    }

    /// Puts that name no TTL expire `ttl` after the put (moka's `time_to_live`). Replaces an
    /// earlier [`Ttl::with_time_to_idle`]; `Duration::ZERO` removes the default.
    #[must_use]
    pub fn with_time_to_live(mut self, ttl: std::time::Duration) -> Self {
        self.default_ttl = kv_core::duration_to_nanos(ttl);
        self.default_sliding = false;
        self
    }

    /// Puts that name no TTL expire `idle` after their last successful `get` (a sliding TTL:
    /// moka's `time_to_idle`). Replaces an earlier [`Ttl::with_time_to_live`];
    /// `Duration::ZERO` removes the default.
    #[must_use]
    pub fn with_time_to_idle(mut self, idle: std::time::Duration) -> Self {
        self.default_ttl = kv_core::duration_to_nanos(idle);
        self.default_sliding = true;
        self
    }

    fn publish_earliest(&self, index: &mut LazyQueue) {
        self.earliest
            .store(index.min_priority().unwrap_or(NEVER), Ordering::Release);
    }
}

/// An entry's expiry state.
#[derive(Debug)]
pub struct TtlState {
    /// When the entry expires ([`NEVER`] for no TTL); atomic because a sliding refresh happens
    /// under the shard's shared lock. It only ever moves later.
    deadline: AtomicU64,
    /// The TTL in nanoseconds if a read refreshes it (sliding); 0 otherwise. A fixed TTL needs
    /// no length once its deadline is set, and one field for both keeps the state at 24 bytes.
    sliding_ttl: u64,
    /// Reads left before the entry is consumed; 0 means no budget. Spent only under the shard's
    /// exclusive lock, so it needs no atomic.
    reads_left: usize,
}

fn deadline_after(now: u64, ttl: u64) -> u64 {
    // A deadline past the end of the clock means never (a `Duration::MAX` TTL must not panic).
    now.checked_add(ttl).unwrap_or(NEVER)
}

impl TtlState {
    /// When the entry expires ([`NEVER`]: it does not).
    #[inline]
    fn deadline(&self) -> u64 {
        self.deadline.load(Ordering::Acquire)
    }

    /// A sliding entry's deadline moves to `from` + its TTL. Reads on a coarse clock share one
    /// `from` for a tick, so the locked `fetch_max` runs only when the deadline would move.
    #[inline]
    fn refresh(&self, from: u64) {
        if self.sliding_ttl != 0 {
            let deadline = deadline_after(from, self.sliding_ttl);
            if deadline > self.deadline() {
                self.deadline.fetch_max(deadline, Ordering::AcqRel);
            }
        }
    }

    /// Reads left before the entry is consumed (`None`: no budget).
    pub fn reads_left(&self) -> Option<usize> {
        (self.reads_left != 0).then_some(self.reads_left)
    }
}

/// The expiry index's records as a scan of the entries that may expire.
fn deadlines(host: &dyn Host<TtlState>) -> impl FnOnce(&mut dyn FnMut(EntryRef, u64)) + '_ {
    move |f| {
        host.scan(&mut |entry, state| {
            let deadline = state.deadline();
            if deadline != NEVER {
                f(entry, deadline);
            }
        })
    }
}

impl Expiry for Ttl {
    type State = TtlState;
    type Options = PutOptions;
    /// The deadline ([`NEVER`]: not indexed).
    type Summary = u64;

    #[inline]
    fn uses_clock() -> bool {
        true
    }

    #[inline]
    fn may_expire_any(&self) -> bool {
        // `earliest` is a lower bound of the indexed deadlines: "never" while none is indexed.
        self.earliest.load(Ordering::Acquire) != NEVER
    }

    fn new_state(&self, opts: &PutOptions, now: u64) -> TtlState {
        // A put's own TTL wins; one that names none takes the store's default, sliding if the
        // default is a time to idle (or the put asks for sliding).
        let (ttl, sliding) = match opts.ttl() {
            Some(ttl) => (kv_core::duration_to_nanos(ttl), opts.is_sliding()),
            None => (self.default_ttl, self.default_sliding || opts.is_sliding()),
        };
        TtlState {
            deadline: AtomicU64::new(if ttl == 0 {
                NEVER
            } else {
                deadline_after(now, ttl)
            }),
            sliding_ttl: if sliding { ttl } else { 0 },
            reads_left: opts.max_reads().unwrap_or(0),
        }
    }

    #[inline]
    fn summary(state: &TtlState) -> u64 {
        state.deadline()
    }

    #[inline]
    fn put_needs_time(&self, opts: &PutOptions) -> bool {
        opts.ttl().is_some() || self.default_ttl != 0
    }

    #[inline]
    fn may_expire(state: &TtlState) -> bool {
        state.deadline() != NEVER
    }

    #[inline]
    fn is_expired(state: &TtlState, now: u64) -> bool {
        // Expired at exactly its deadline.
        state.deadline() <= now
    }

    #[inline]
    fn read_shared(state: &TtlState, now: u64, lag: u64) -> bool {
        if state.reads_left != 0 || state.deadline() <= now {
            return false;
        }
        state.refresh(now.saturating_add(lag));
        true
    }

    fn read_exclusive(state: &mut TtlState, now: u64, lag: u64) -> Read {
        if state.deadline() <= now {
            return Read::Expired;
        }
        state.refresh(now.saturating_add(lag));
        match state.reads_left {
            0 => Read::Live,
            1 => Read::Consumed,
            _ => {
                state.reads_left -= 1;
                Read::Live
            }
        }
    }

    fn inserted(&self, entry: EntryRef, deadline: u64, host: &dyn Host<TtlState>) {
        if deadline == NEVER {
            return;
        }
        let mut index = self.index.lock();
        index.push(deadline, entry);
        index.compact_if_sparse(|| host.stored(), deadlines(host));
        self.publish_earliest(&mut index);
    }

    #[inline]
    fn replaced(&self, entry: EntryRef, deadline: u64, replaced: u64, host: &dyn Host<TtlState>) {
        // The replaced entry's record (at or before its deadline) names the newcomer, so it
        // covers a deadline no earlier than that one: a put that renews a TTL adds no record
        // (before, each left a dead one behind, and the index was rebuilt from every slot once
        // they outnumbered half the entries). An earlier deadline needs its own record.
        if deadline == NEVER || (replaced != NEVER && deadline >= replaced) {
            return;
        }
        self.inserted(entry, deadline, host);
    }

    fn may_have_expired(&self, now: u64) -> bool {
        self.earliest.load(Ordering::Acquire) <= now
    }

    fn reclaim(&self, now: u64, limit: usize, host: &dyn Host<TtlState>) -> usize {
        if !self.may_have_expired(now) {
            return 0;
        }
        let mut index = self.index.lock();
        let removed = index.drain_upto(now, limit, |entry, _| {
            host.remove_if(entry, &mut |state, _| match state.deadline() {
                // A record left by an entry whose position a newcomer without TTL took: the
                // newcomer needs no record in the expiry index.
                NEVER => Verdict::Forget,
                deadline if deadline > now => Verdict::Keep(deadline),
                _ => Verdict::Remove,
            })
        });
        self.publish_earliest(&mut index);
        removed
    }

    fn removed(&self, deadline: u64, host: &dyn Host<TtlState>) {
        if deadline == NEVER {
            return; // never indexed
        }
        if let Some(mut index) = self.index.count_removal(|| host.stored(), deadlines(host)) {
            self.publish_earliest(&mut index);
        }
    }

    fn cleared(&self, host: &dyn Host<TtlState>) {
        let mut index = self.index.lock_rarely();
        index.reset(deadlines(host));
        self.publish_earliest(&mut index);
    }

    fn validate(&self, host: &dyn Host<TtlState>) -> Result<(), String> {
        self.index
            .lock_rarely()
            .check_covers("expiry index", deadlines(host))
    }

    /// An entry with a read budget is never refreshed: a reload would reset its budget.
    #[inline]
    fn refreshable(state: &TtlState) -> bool {
        state.reads_left == 0
    }
}

/// Store-wide TTL defaults: with [`Ttl`] in a store's expiry slot, the builder's
/// `time_to_live` and `time_to_idle` set them (no import needed). A put's own TTL overrides them.
///
/// ```
/// use std::time::Duration;
/// use kv_core::{ManualClock, StoreBuilder};
/// use kv_ttl::{PutOptions, Ttl};
///
/// let clock = ManualClock::new();
/// let sessions = StoreBuilder::<String, u32>::new()
///     .expiry(Ttl::new())
///     .time_to_idle(Duration::from_secs(60))
///     .clock(clock.clone())
///     .build();
/// sessions.put("sid".into(), 7); // no options: idles out after 60 s
/// clock.advance(Duration::from_secs(50));
/// assert_eq!(sessions.get("sid"), Some(7)); // a read keeps it 60 s more
/// clock.advance(Duration::from_secs(50));
/// assert_eq!(sessions.get("sid"), Some(7));
/// // Its own options win: a fixed 5 s TTL.
/// sessions.put_with("short".into(), 1, &PutOptions::new().with_ttl(Duration::from_secs(5)));
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(sessions.get("short"), None);
/// ```
impl DefaultTtl for Ttl {
    fn with_time_to_live(self, ttl: std::time::Duration) -> Self {
        Ttl::with_time_to_live(self, ttl)
    }

    fn with_time_to_idle(self, idle: std::time::Duration) -> Self {
        Ttl::with_time_to_idle(self, idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry carries this state, so its size is a memory budget: the deadline, the TTL if
    /// sliding, and the read budget, 8 bytes each.
    #[test]
    fn expiry_state_is_three_words() {
        assert_eq!(std::mem::size_of::<TtlState>(), 24);
    }

    /// A sliding entry's read pushes its deadline to now + TTL; a fixed one's never moves.
    #[test]
    fn only_sliding_entries_refresh_their_deadline() {
        let ttl = PutOptions::new().with_ttl(std::time::Duration::from_nanos(100));
        let fixed = Ttl::default().new_state(&ttl, 0);
        let sliding = Ttl::default().new_state(&ttl.with_sliding_ttl(), 0);
        assert!(Ttl::read_shared(&fixed, 50, 0));
        assert!(Ttl::read_shared(&sliding, 50, 0));
        assert_eq!(fixed.deadline(), 100);
        assert_eq!(sliding.deadline(), 150);
        // A read at a recent time that may trail the true one by 5 refreshes from 55: a lagging
        // clock never shortens the TTL.
        assert!(Ttl::read_shared(&sliding, 50, 5));
        assert_eq!(sliding.deadline(), 155);
        // Liveness is judged by the reading itself, not by the reading plus its lag.
        assert!(!Ttl::read_shared(&fixed, 100, 5));
    }
}
