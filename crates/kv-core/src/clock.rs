//! Where a store's time comes from.
//!
//! Store logic never calls `Instant::now()`: it asks its [`Clock`]. Time is a count of nanoseconds
//! since the clock's own start, so deadlines are plain `u64`s and "never" is `u64::MAX`.
//!
//! A clock has two readings: [`Clock::now_nanos`], exact, which writes (a put's deadline) use, and
//! [`Clock::recent_nanos`], which may trail it by at most [`Clock::recent_lag_nanos`] and which
//! reads (expiry checks, sliding refreshes) use. The default store clock, [`CoarseClock`], makes
//! the second a plain load of a time a background thread refreshes: an exact reading of the
//! system clock fences the CPU (`lfence; rdtsc`), which kept the cache misses of consecutive
//! reads from overlapping.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::{Arc, AtomicU64, Ordering};

/// A source of monotonic time for a store.
///
/// Implement it to drive a store from your own notion of time. A clock that goes backwards is
/// tolerated: the store never lets its view of time go back, so nothing expired comes back.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since an arbitrary, fixed start.
    fn now_nanos(&self) -> u64;

    /// A cheaper reading for reads: never ahead of [`Clock::now_nanos`], and behind it by at most
    /// [`Clock::recent_lag_nanos`]. The default is the exact reading.
    fn recent_nanos(&self) -> u64 {
        self.now_nanos()
    }

    /// The most [`Clock::recent_nanos`] may trail the exact time (0: it is exact). A constant of
    /// the clock: the store reads it once. A sliding refresh made at a recent reading `r` sets
    /// the deadline from `r` plus this lag, so a recent reading never shortens a TTL.
    fn recent_lag_nanos(&self) -> u64 {
        0
    }
}

/// The system's monotonic clock (`std::time::Instant`), the default.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    pub(crate) start: Instant,
}

impl SystemClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        // `Instant` is monotonic; 2^64 ns is 584 years, so saturation is theoretical.
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The system's monotonic clock, read coarsely by reads: the store's default clock.
///
/// Exact readings ([`Clock::now_nanos`]) are the system clock's, as [`SystemClock`]. Recent
/// readings ([`Clock::recent_nanos`]) are a plain atomic load of the time a background thread
/// (one per process and tick, named `kvstore-clock`, started by the first recent reading and
/// ended when no clock uses it) stores every half tick. So a read may judge expiry by a time up to half a tick old, and a sliding refresh
/// adds half a tick to the deadline it sets: an entry lives at most one tick longer than its
/// TTL, never shorter (`docs/semantics.md`, Time). The bound holds while the thread runs on
/// time; when a loaded machine delays it, an exact reading (every put with a TTL makes one)
/// brings the recent time forward.
///
/// ```
/// use std::time::Duration;
/// use kv_core::{Clock, CoarseClock};
///
/// let clock = CoarseClock::new(Duration::from_millis(1));
/// assert!(clock.recent_nanos() <= clock.now_nanos());
/// assert_eq!(clock.recent_lag_nanos(), 500_000); // half the tick
/// ```
#[derive(Clone, Debug)]
pub struct CoarseClock {
    exact: SystemClock,
    /// Half the tick: the most a recent reading trails an exact one (0: readings are exact).
    lag: u64,
    /// Where recent readings come from, set up by the first one, so a store that never meets a
    /// deadline starts no thread (`None` inside: no thread could be started, readings are
    /// exact).
    recent: std::sync::OnceLock<Option<Recent>>,
}

/// A [`CoarseClock`]'s recent readings: its ticker, and its own start on the ticker's time line.
#[derive(Clone, Debug)]
#[allow(
    clippy::disallowed_types,
    reason = "the ticker is std's thread and atomics, never started in loom builds"
)]
struct Recent {
    ticker: std::sync::Arc<ticker::Ticker>,
    /// Added to a ticker reading...
    after_start: u64,
    /// ...and taken off it (one of the two is 0).
    before_start: u64,
}

impl CoarseClock {
    /// A clock whose zero is now, with recent readings at most half of `tick` old. A `tick`
    /// under a microsecond makes every reading exact (and so do loom builds, whose models
    /// cannot run a background thread).
    pub fn new(tick: Duration) -> Self {
        let lag = duration_to_nanos(tick) / 2;
        Self {
            exact: SystemClock::new(),
            lag: if cfg!(kv_loom) || lag < 500 { 0 } else { lag },
            recent: std::sync::OnceLock::new(),
        }
    }

    /// The recent readings' source, started by the first call.
    #[inline]
    fn recent(&self) -> Option<&Recent> {
        self.recent
            .get_or_init(|| {
                let ticker = ticker::Ticker::shared(Duration::from_nanos(self.lag))?;
                // A ticker shared with other clocks may be late right now (a loaded machine):
                // bring it forward, so the first recent reading keeps the bound too.
                ticker.catch_up(ticker::since_epoch(), self.lag);
                let (epoch, start) = (ticker::epoch(), self.exact.start);
                Some(Recent {
                    ticker,
                    after_start: duration_to_nanos(epoch.saturating_duration_since(start)),
                    before_start: duration_to_nanos(start.saturating_duration_since(epoch)),
                })
            })
            .as_ref()
    }
}

impl Default for CoarseClock {
    /// A tick of one millisecond.
    fn default() -> Self {
        Self::new(DEFAULT_TICK)
    }
}

/// The default tick of [`CoarseClock`]: reads judge expiry by a time at most 0.5 ms old.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

impl Clock for CoarseClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        let now = self.exact.now_nanos();
        if let Some(Some(r)) = self.recent.get() {
            // A late ticker (a loaded machine) is brought forward by exact readings, so the
            // recent time trails the last exact one by at most a lag.
            r.ticker.catch_up(
                now.saturating_add(r.before_start)
                    .saturating_sub(r.after_start),
                self.lag,
            );
        }
        now
    }

    #[inline]
    fn recent_nanos(&self) -> u64 {
        match self.lag {
            0 => self.exact.now_nanos(),
            _ => match self.recent() {
                Some(r) => r
                    .ticker
                    .recent()
                    .saturating_add(r.after_start)
                    .saturating_sub(r.before_start),
                None => self.exact.now_nanos(),
            },
        }
    }

    fn recent_lag_nanos(&self) -> u64 {
        self.lag
    }
}

/// The background thread behind [`CoarseClock`]'s recent readings.
mod ticker {
    // The ticker is a plain thread and atomics outside every store lock, never started in loom
    // builds (their clocks are exact), so it takes std's types directly.
    #![allow(clippy::disallowed_types)]

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    use std::thread;
    use std::time::{Duration, Instant};

    use crossbeam_utils::CachePadded;

    /// The start of every ticker's time line.
    pub(super) fn epoch() -> Instant {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        *EPOCH.get_or_init(Instant::now)
    }

    pub(super) fn since_epoch() -> u64 {
        super::duration_to_nanos(epoch().elapsed())
    }

    /// The recent time, on its own cache line: readers load it, the thread stores it every
    /// period.
    #[derive(Debug)]
    pub(super) struct Ticker {
        recent: CachePadded<AtomicU64>,
        period: Duration,
    }

    impl Ticker {
        /// The running ticker of this period, started if none is.
        pub(super) fn shared(period: Duration) -> Option<Arc<Ticker>> {
            static TICKERS: Mutex<Vec<Weak<Ticker>>> = Mutex::new(Vec::new());
            let mut tickers = TICKERS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            tickers.retain(|t| t.strong_count() > 0);
            if let Some(t) = tickers
                .iter()
                .filter_map(Weak::upgrade)
                .find(|t| t.period == period)
            {
                return Some(t);
            }
            let ticker = Arc::new(Ticker {
                recent: CachePadded::new(AtomicU64::new(since_epoch())),
                period,
            });
            // The thread holds the ticker weakly: it ends within a period of the last clock.
            let weak = Arc::downgrade(&ticker);
            thread::Builder::new()
                .name("kvstore-clock".into())
                .spawn(move || {
                    while let Some(ticker) = weak.upgrade() {
                        ticker.recent.fetch_max(since_epoch(), Ordering::Release);
                        let period = ticker.period;
                        drop(ticker);
                        thread::sleep(period);
                    }
                })
                .ok()?;
            tickers.push(Arc::downgrade(&ticker));
            Some(ticker)
        }

        #[inline]
        pub(super) fn recent(&self) -> u64 {
            self.recent.load(Ordering::Acquire)
        }

        /// Raises the recent time to `exact` if it trails it by more than `lag` (a plain load
        /// otherwise, so puts write no shared line while the thread keeps time).
        #[inline]
        pub(super) fn catch_up(&self, exact: u64, lag: u64) {
            if self.recent() < exact.saturating_sub(lag) {
                self.recent.fetch_max(exact, Ordering::Release);
            }
        }
    }
}

/// A clock that moves only when a test moves it. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use kv_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now_nanos(), 5_000_000_000);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::starting_at(0)
    }

    /// A clock at `nanos` (to test clocks started near their maximum, for instance).
    pub fn starting_at(nanos: u64) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(nanos)),
        }
    }

    /// Moves the clock forward by `by`, saturating at the end of time.
    pub fn advance(&self, by: Duration) {
        let by = duration_to_nanos(by);
        let mut cur = self.nanos.load(Ordering::Relaxed);
        loop {
            let next = cur.saturating_add(by);
            match self
                .nanos
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Sets the clock to `nanos`, backwards included (to test a misbehaving clock).
    pub fn set(&self, nanos: u64) {
        self.nanos.store(nanos, Ordering::Release);
    }

    /// The clock's current reading as a `Duration` since zero.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("nanos", &self.now_nanos())
            .finish()
    }
}

/// The end of time on a store's clock: as a deadline, "never". The store's time stops one
/// nanosecond short of it.
pub const NEVER: u64 = u64::MAX;

/// A duration in nanoseconds, saturating at `u64::MAX` (which means "never" as a deadline).
pub fn duration_to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The clock a store runs on: the system clock (exact, or coarse for reads) needs no guarding;
/// any other clock is read through a high-water mark so that the store's time never goes
/// backwards.
pub(crate) enum StoreClock {
    System(SystemClock),
    Coarse(CoarseClock),
    Guarded {
        clock: Box<dyn Clock>,
        high_water: AtomicU64,
        /// The clock's [`Clock::recent_lag_nanos`], read once.
        lag: u64,
    },
}

impl StoreClock {
    pub(crate) fn guarded(clock: Box<dyn Clock>) -> Self {
        Self::Guarded {
            lag: clock.recent_lag_nanos(),
            clock,
            high_water: AtomicU64::new(0),
        }
    }

    /// The system clock, coarse for reads with this tick (exact for a zero tick).
    pub(crate) fn system(tick: Duration) -> Self {
        let coarse = CoarseClock::new(tick);
        if coarse.recent_lag_nanos() == 0 {
            Self::System(coarse.exact)
        } else {
            Self::Coarse(coarse)
        }
    }

    /// The store's time: never going backwards, and never reaching `NEVER` (`u64::MAX`), so an
    /// entry without a deadline cannot expire even on a clock that runs to its end.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        let t = match self {
            Self::System(c) => c.now_nanos(),
            Self::Coarse(c) => c.now_nanos(),
            Self::Guarded {
                clock, high_water, ..
            } => Self::guard(clock.now_nanos(), high_water),
        };
        t.min(NEVER - 1)
    }

    /// The store's time for a read: [`StoreClock::now`], or up to [`StoreClock::lag`] behind it.
    #[inline]
    pub(crate) fn recent(&self) -> u64 {
        let t = match self {
            Self::System(c) => c.now_nanos(),
            Self::Coarse(c) => c.recent_nanos(),
            Self::Guarded {
                clock,
                high_water,
                lag: 0,
            } => Self::guard(clock.now_nanos(), high_water),
            Self::Guarded {
                clock, high_water, ..
            } => Self::guard(clock.recent_nanos(), high_water),
        };
        t.min(NEVER - 1)
    }

    /// The most [`StoreClock::recent`] trails the true time.
    #[inline]
    pub(crate) fn lag(&self) -> u64 {
        match self {
            Self::System(_) => 0,
            Self::Coarse(c) => c.recent_lag_nanos(),
            Self::Guarded { lag, .. } => *lag,
        }
    }

    /// Whether a reading fences the CPU (the system clock's exact readings): such a clock is
    /// read only when an operation may meet an entry that can expire.
    #[inline]
    pub(crate) fn is_system(&self) -> bool {
        matches!(self, Self::System(_) | Self::Coarse(_))
    }

    #[inline]
    fn guard(t: u64, high_water: &AtomicU64) -> u64 {
        // Raise the mark only when the clock passed it: a locked fetch_max at every reading is
        // a shared write and a CPU fence per operation (W4 of the benchmark runs on a manual
        // clock). fetch_max returns the previous mark; the store's time is the larger of the
        // two.
        let mark = high_water.load(Ordering::Acquire);
        if t > mark {
            t.max(high_water.fetch_max(t, Ordering::AcqRel))
        } else {
            mark
        }
    }
}
