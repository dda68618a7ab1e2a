//! Where a store's time comes from.
//!
//! Store logic never calls `Instant::now()`: it asks its [`Clock`]. Time is a count of nanoseconds
//! since the clock's own start, so deadlines are plain `u64`s and "never" is `u64::MAX`.

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
}

/// The system's monotonic clock (`std::time::Instant`), the default.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    start: Instant,
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

/// The clock a store runs on: the system clock needs no guarding; any other clock is read through
/// a high-water mark so that the store's time never goes backwards.
pub(crate) enum StoreClock {
    System(SystemClock),
    Guarded {
        clock: Box<dyn Clock>,
        high_water: AtomicU64,
    },
}

impl StoreClock {
    pub(crate) fn guarded(clock: Box<dyn Clock>) -> Self {
        Self::Guarded {
            clock,
            high_water: AtomicU64::new(0),
        }
    }

    /// The store's time: never going backwards, and never reaching `NEVER` (`u64::MAX`), so an
    /// entry without a deadline cannot expire even on a clock that runs to its end.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        let t = match self {
            Self::System(c) => c.now_nanos(),
            Self::Guarded { clock, high_water } => {
                let t = clock.now_nanos();
                // Raise the mark only when the clock passed it: a locked fetch_max at every
                // reading is a shared write and a CPU fence per operation (W4 of the benchmark
                // runs on a manual clock). fetch_max returns the previous mark; the store's time
                // is the larger of the two.
                let mark = high_water.load(Ordering::Acquire);
                if t > mark {
                    t.max(high_water.fetch_max(t, Ordering::AcqRel))
                } else {
                    mark
                }
            }
        };
        t.min(NEVER - 1)
    }
}
