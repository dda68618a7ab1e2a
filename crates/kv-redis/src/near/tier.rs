//! The near tier: an in-process store (TTL and LRU, its own capacity) and the fence that keeps a
//! fill from storing a value that an invalidation has already overtaken.
//!
//! The race it closes: a read goes to the server and gets `v1`; before its answer is stored in
//! the near tier, another client writes `v2` and the invalidation for the key arrives and finds
//! nothing to drop. Storing `v1` then would keep it until the next write. So a read takes a
//! [`Ticket`] (the invalidation sequence number) *before* it sends its request, and its fill is
//! dropped if an invalidation of that key, a local write of it, or a reset (connection lost,
//! flush) was recorded after the ticket. Invalidations, resets and fills all take the fence's
//! lock; hits do not.
// std's `Mutex` and atomics, not kv_core::sync's: the fence guards bookkeeping beside a store,
// and the loom models do not cover this crate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kv_core::{Slots, Store, StoreBuilder};
use kv_lru::Lru;
use kv_ttl::{PutOptions, Ttl};

/// How much a near copy's TTL is shortened below the server's remaining time: a margin for the
/// server's clock and ours not agreeing to the nanosecond. The tier's store reads the exact
/// clock (no coarse tick): a recent time kept by a ticker thread can trail by more than a tick
/// on a starved machine, and a near copy must never outlive its server deadline.
const NEAR_TICK: Duration = Duration::from_millis(1);

/// The most invalidated keys remembered for fills in flight. Past it the memory is dropped and
/// counts as a reset for those fills (they are then not stored, which is always safe).
const RECENT_LIMIT: usize = 4096;

/// A near copy: the value, or `None` for a key the server said it does not hold.
type NearStore = Store<String, Option<Vec<u8>>, Slots<Ttl, Lru>>;

/// What a read took before it sent its request: the invalidation sequence number at that point.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    seq: u64,
    taken: Instant,
}

#[derive(Default)]
struct Fence {
    /// Bumped by every invalidation, local write and reset.
    seq: u64,
    /// The sequence number of the last reset: tickets older than it are void.
    reset_at: u64,
    /// The sequence number at which each key was last invalidated.
    recent: HashMap<String, u64>,
}

/// Counters of the near tier beyond its store's own.
#[derive(Default)]
struct Counts {
    bypassed: AtomicU64,
    fills: AtomicU64,
    fills_dropped: AtomicU64,
    messages: AtomicU64,
    invalidations: AtomicU64,
    resets: AtomicU64,
}

/// The near tier of one [`NearCache`](crate::NearCache), shared by its handles and its
/// invalidation thread.
pub(crate) struct Tier {
    store: NearStore,
    fence: Mutex<Fence>,
    /// Whether tracking is known to be on: the invalidation connection is subscribed. While it
    /// is not, the near tier is empty and every read goes to the server.
    live: AtomicBool,
    counts: Counts,
}

impl Tier {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            store: StoreBuilder::new()
                .clock_tick(Duration::ZERO)
                .expiry(Ttl::new())
                .eviction(Lru::new(capacity))
                .build(),
            fence: Mutex::new(Fence::default()),
            live: AtomicBool::new(false),
            counts: Counts::default(),
        }
    }

    fn fence(&self) -> std::sync::MutexGuard<'_, Fence> {
        self.fence.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The near copy of `key` (`Some(None)`: known absent), if tracking is on and the tier
    /// holds a live one.
    pub(crate) fn get(&self, key: &str) -> Option<Option<Vec<u8>>> {
        if !self.live.load(Ordering::Acquire) {
            self.counts.bypassed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.store.get(key)
    }

    /// Taken before a read's request is sent.
    pub(crate) fn ticket(&self) -> Ticket {
        let fence = self.fence();
        Ticket {
            seq: fence.seq,
            taken: Instant::now(),
        }
    }

    /// Stores what a read found (`None`: nothing), unless the key was invalidated (or the tier reset) after
    /// `ticket`, or tracking is off. `left` is the entry's time to its server deadline as the
    /// server saw it (`None`: no deadline); the near copy's deadline counts from the ticket, so
    /// it comes before the server's.
    pub(crate) fn fill(
        &self,
        ticket: Ticket,
        key: &str,
        value: Option<Vec<u8>>,
        left: Option<Duration>,
    ) {
        let mut options = PutOptions::new();
        if let Some(left) = left {
            let deadline = ticket.taken + left;
            match deadline
                .checked_duration_since(Instant::now())
                .and_then(|d| d.checked_sub(NEAR_TICK))
            {
                Some(ttl) if !ttl.is_zero() => options = options.with_ttl(ttl),
                // Too close to its deadline to be worth keeping.
                _ => return,
            }
        }
        let fence = self.fence();
        let overtaken = ticket.seq < fence.reset_at
            || fence.recent.get(key).is_some_and(|&at| at > ticket.seq)
            || !self.live.load(Ordering::Acquire);
        if overtaken {
            self.counts.fills_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.store.put_with(key.to_string(), value, &options);
        self.counts.fills.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops the near copy of `key` and voids fills in flight for it. `remote`: from an
    /// invalidation message (counted), not from a write of this process.
    pub(crate) fn invalidate(&self, key: &str, remote: bool) {
        let mut fence = self.fence();
        fence.seq += 1;
        let seq = fence.seq;
        if fence.recent.len() >= RECENT_LIMIT {
            fence.recent.clear();
            fence.reset_at = seq;
        }
        fence.recent.insert(key.to_string(), seq);
        self.store.del(key);
        if remote {
            self.counts.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Empties the tier and voids every fill in flight; `live` says whether tracking is on from
    /// now on. Called by the invalidation thread when its connection is lost or set up again,
    /// and on a flush.
    pub(crate) fn reset(&self, live: bool) {
        self.reset_to(Some(live));
    }

    /// Empties the tier as [`Tier::reset`] does, leaving tracking on or off as it is: for this
    /// process's bulk operations. (Passing `is_live()` to `reset` instead raced the invalidation
    /// thread: read `true`, the connection lost and the tier switched off, then switched on
    /// again by the stale `true` with nobody listening.)
    pub(crate) fn empty(&self) {
        self.reset_to(None);
    }

    fn reset_to(&self, live: Option<bool>) {
        let mut fence = self.fence();
        // Off first, so no read is served from the tier while it is being emptied.
        if live == Some(false) {
            self.live.store(false, Ordering::Release);
        }
        fence.seq += 1;
        fence.reset_at = fence.seq;
        fence.recent.clear();
        self.store.clear();
        self.counts.resets.fetch_add(1, Ordering::Relaxed);
        if live == Some(true) {
            self.live.store(true, Ordering::Release);
        }
    }

    /// Whether tracking is on (the near tier may serve reads).
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn count_message(&self) {
        self.counts.messages.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn metrics(&self) -> NearMetrics {
        let m = self.store.metrics();
        let c = &self.counts;
        NearMetrics {
            hits: m.hits,
            misses: m.misses + c.bypassed.load(Ordering::Relaxed),
            fills: c.fills.load(Ordering::Relaxed),
            fills_dropped: c.fills_dropped.load(Ordering::Relaxed),
            expirations: m.expirations,
            evictions: m.evictions,
            invalidation_messages: c.messages.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            size: m.current_size,
            live: self.is_live(),
        }
    }
}

/// The near tier's counters, beside the server's [`Metrics`](kv_core::Metrics) (which count only
/// the reads that reached the server). Exact, read without a round trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearMetrics {
    /// Reads answered by the near tier (the server never saw them).
    pub hits: u64,
    /// Reads that went to the server: not in the near tier, or tracking was off.
    pub misses: u64,
    /// Values (or absences) the server returned that the near tier kept.
    pub fills: u64,
    /// Values (or absences) the server returned that the near tier did not keep because an invalidation, a
    /// write of this process or a reset overtook the read.
    pub fills_dropped: u64,
    /// Near copies that reached their deadline (the server's, less the round trip).
    pub expirations: u64,
    /// Near copies evicted for the near tier's capacity.
    pub evictions: u64,
    /// Invalidation messages received (one may name many keys).
    pub invalidation_messages: u64,
    /// Keys those messages named.
    pub invalidations: u64,
    /// Times the near tier was emptied as a whole: the invalidation connection lost or set up,
    /// a flush of the database, or a bulk operation of this process.
    pub resets: u64,
    /// Near copies (values and absences) held now, including expired ones not yet reclaimed.
    pub size: u64,
    /// Whether tracking is on now, so reads may be answered by the near tier.
    pub live: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_tier() -> Tier {
        let t = Tier::new(16);
        t.reset(true);
        t
    }

    #[test]
    fn a_fill_overtaken_by_an_invalidation_of_its_key_is_dropped() {
        let t = live_tier();
        let ticket = t.ticket();
        t.invalidate("k", true);
        t.fill(ticket, "k", Some(b"old".to_vec()), None);
        assert_eq!(t.get("k"), None);
        assert_eq!(t.metrics().fills_dropped, 1);
        // Another key's invalidation does not void it.
        let ticket = t.ticket();
        t.invalidate("other", true);
        t.fill(ticket, "k", Some(b"new".to_vec()), None);
        assert_eq!(t.get("k"), Some(Some(b"new".to_vec())));
    }

    #[test]
    fn a_fill_overtaken_by_a_reset_is_dropped() {
        let t = live_tier();
        let ticket = t.ticket();
        t.reset(false);
        t.reset(true);
        t.fill(ticket, "k", Some(b"v".to_vec()), None);
        assert_eq!(t.get("k"), None);
    }

    #[test]
    fn nothing_is_served_or_kept_while_tracking_is_off() {
        let t = live_tier();
        t.fill(t.ticket(), "k", Some(b"v".to_vec()), None);
        assert!(t.get("k").is_some());
        t.reset(false);
        assert_eq!(t.get("k"), None);
        t.fill(t.ticket(), "k", Some(b"v".to_vec()), None);
        assert_eq!(t.metrics().size, 0);
    }

    /// A bulk operation of this process empties the tier and leaves tracking as the
    /// invalidation thread last set it: off stays off (nothing served with nobody listening).
    #[test]
    fn emptying_the_tier_leaves_tracking_as_it_is() {
        let t = live_tier();
        t.fill(t.ticket(), "k", Some(b"v".to_vec()), None);
        t.empty();
        assert!(t.is_live());
        assert_eq!(t.metrics().size, 0);
        t.reset(false); // the connection is lost
        t.empty();
        assert!(!t.is_live());
        t.fill(t.ticket(), "k", Some(b"v".to_vec()), None);
        assert_eq!(t.get("k"), None);
    }

    #[test]
    fn a_near_copy_is_gone_by_the_deadline_counted_from_its_ticket() {
        let t = live_tier();
        let ticket = t.ticket();
        t.fill(
            ticket,
            "k",
            Some(b"v".to_vec()),
            Some(Duration::from_millis(300)),
        );
        assert!(t.get("k").is_some());
        while Instant::now() < ticket.taken + Duration::from_millis(300) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(t.get("k"), None);
        // One that is due before it could be stored is not stored.
        t.fill(t.ticket(), "j", Some(b"v".to_vec()), Some(Duration::ZERO));
        assert_eq!(t.metrics().fills, 1);
    }

    #[test]
    fn remembering_many_invalidations_voids_older_tickets_instead_of_growing() {
        let t = live_tier();
        let ticket = t.ticket();
        for i in 0..=RECENT_LIMIT {
            t.invalidate(&format!("k{i}"), true);
        }
        assert!(t.fence().recent.len() <= RECENT_LIMIT);
        t.fill(ticket, "fresh", Some(b"v".to_vec()), None);
        assert_eq!(t.get("fresh"), None);
    }
}
