//! What loading costs a store: the loads its get-or-insert callers ran (sync and async) and the
//! reloads refresh-ahead ran, how each ended, and the time they took.
//!
//! A sibling of [`Metrics`](crate::Metrics), not a part of it: its figures are not the
//! contract's counters, and the `kv.metrics.v1` wire form of `Metrics` stays as it is.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::clock::StoreClock;
use crate::sync::{AtomicU64, Ordering};

/// A snapshot of a store's load counters: one load is one run of a get-or-insert loader (a
/// closure of `get_or_insert_with`, a future of `get_or_insert_async`) or of a refresh-ahead
/// reloader (`StoreBuilder::refresh_after`), counted when it starts and again when it ends, by
/// how it ended: each ended load counts in exactly one of `succeeded`, `failed`, `cancelled`,
/// `panicked`, `refreshed` and `refresh_dropped`.
///
/// Each counter is exact; a snapshot taken while loads run may show a load as started and not
/// yet ended ([`LoadMetrics::in_flight`]).
///
/// ```
/// use kv_core::Store;
///
/// let store: Store<String, u64> = Store::new();
/// store.get_or_insert_with("a".into(), || 1);
/// let _ = store.try_get_or_insert_with("b".into(), || Err("down"));
/// let loads = store.load_metrics();
/// assert_eq!((loads.started, loads.succeeded, loads.failed), (2, 1, 1));
/// assert_eq!(loads.in_flight(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LoadMetrics {
    /// Loads started (a caller found nothing live and ran its loader).
    pub started: u64,
    /// Get-or-insert loads that returned a value, which was stored.
    pub succeeded: u64,
    /// Loads and reloads that returned an error (nothing stored; a reload's entry keeps its
    /// value).
    pub failed: u64,
    /// Async loads whose future was dropped before it finished (nothing stored).
    pub cancelled: u64,
    /// Loads whose loader panicked (nothing stored), and reloads that panicked anywhere, also
    /// while storing their value (in the key's `Hash` or `Eq`, the weigher: nothing stored; in
    /// the removal listener, told after the value went in: stored).
    pub panicked: u64,
    /// Reloads whose value replaced the entry they were started for.
    pub refreshed: u64,
    /// Reloads that returned a value that was dropped, their entry left as it was: it was
    /// written meanwhile (a put, a delete, an expiry: the write wins), or the value weighs
    /// more than the whole capacity.
    pub refresh_dropped: u64,
    /// The time loads took, summed over every ended load, on the store's clock.
    pub load_time: Duration,
}

impl LoadMetrics {
    /// Loads started and not ended when the snapshot was taken.
    pub fn in_flight(&self) -> u64 {
        self.started.saturating_sub(
            self.succeeded
                + self.failed
                + self.cancelled
                + self.panicked
                + self.refreshed
                + self.refresh_dropped,
        )
    }
}

impl std::ops::Add for LoadMetrics {
    type Output = LoadMetrics;

    /// The figures of two stores together (as [`Metrics`](crate::Metrics) adds up).
    fn add(self, o: LoadMetrics) -> LoadMetrics {
        LoadMetrics {
            started: self.started + o.started,
            succeeded: self.succeeded + o.succeeded,
            failed: self.failed + o.failed,
            cancelled: self.cancelled + o.cancelled,
            panicked: self.panicked + o.panicked,
            refreshed: self.refreshed + o.refreshed,
            refresh_dropped: self.refresh_dropped + o.refresh_dropped,
            load_time: self.load_time + o.load_time,
        }
    }
}

impl fmt::Display for LoadMetrics {
    /// One log-friendly line: `started=3 succeeded=1 failed=1 cancelled=1 panicked=0
    /// refreshed=0 refresh_dropped=0 load_time=1.2s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "started={} succeeded={} failed={} cancelled={} panicked={} refreshed={} \
             refresh_dropped={} load_time={:?}",
            self.started,
            self.succeeded,
            self.failed,
            self.cancelled,
            self.panicked,
            self.refreshed,
            self.refresh_dropped,
            self.load_time
        )
    }
}

/// A store's load counters. Written once per load start and end (never on a hit), so they
/// need no per-shard spreading.
#[derive(Default)]
pub(crate) struct LoadCounters {
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    panicked: AtomicU64,
    refreshed: AtomicU64,
    refresh_dropped: AtomicU64,
    nanos: AtomicU64,
}

impl LoadCounters {
    /// Counts a load started now; the returned run counts its end.
    pub(crate) fn start<'a>(&'a self, clock: &'a StoreClock) -> LoadRun<'a> {
        self.started.fetch_add(1, Ordering::Relaxed);
        LoadRun {
            counters: self,
            clock,
            started_at: clock.now(),
            ended: false,
        }
    }

    pub(crate) fn snapshot(&self) -> LoadMetrics {
        LoadMetrics {
            started: self.started.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            panicked: self.panicked.load(Ordering::Relaxed),
            refreshed: self.refreshed.load(Ordering::Relaxed),
            refresh_dropped: self.refresh_dropped.load(Ordering::Relaxed),
            load_time: Duration::from_nanos(self.nanos.load(Ordering::Relaxed)),
        }
    }
}

/// One load being run. Its runner says how it ended; a panic in the loader is caught where it
/// happens and said with [`LoadRun::panicked`] (see [`CatchUnwind`]). Dropped without an end,
/// it counts as cancelled: the only way left is an async load's future dropped, whether or not
/// the thread is unwinding from some other panic at that moment.
pub(crate) struct LoadRun<'a> {
    counters: &'a LoadCounters,
    clock: &'a StoreClock,
    started_at: u64,
    ended: bool,
}

impl LoadRun<'_> {
    pub(crate) fn succeeded(mut self) {
        self.end(|c| &c.succeeded);
    }

    pub(crate) fn failed(mut self) {
        self.end(|c| &c.failed);
    }

    /// A reload ended: its value replaced its entry (`installed`), or was dropped.
    pub(crate) fn reloaded(mut self, installed: bool) {
        if installed {
            self.end(|c| &c.refreshed);
        } else {
            self.end(|c| &c.refresh_dropped);
        }
    }

    /// The load panicked, and the panic was caught (a reload, which no caller waits for: its
    /// loader, or the store of its value).
    pub(crate) fn panicked(mut self) {
        self.end(|c| &c.panicked);
    }

    fn end(&mut self, outcome: impl FnOnce(&LoadCounters) -> &AtomicU64) {
        self.ended = true;
        let took = self.clock.now().saturating_sub(self.started_at);
        self.counters.nanos.fetch_add(took, Ordering::Relaxed);
        outcome(self.counters).fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for LoadRun<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.end(|c| &c.cancelled);
        }
    }
}

/// Polls `F`, catching a panic in its poll: a load's own panic, told apart from a load dropped
/// while its caller unwinds from another one (which `std::thread::panicking` at the drop cannot
/// tell). The store's data stays consistent across a user's panic (`sync::lock`), hence the
/// `AssertUnwindSafe`.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut self.0).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
