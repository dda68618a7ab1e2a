//! The options of a `put` into a store with expiry: `Ttl::Options`. A store without expiry takes
//! `()` as its options, so these cannot be passed to it: the mistake does not compile.

use std::time::Duration;

/// How a `put` should treat its entry: time to live, sliding refresh, read budget.
///
/// Options apply in order; a later option of the same kind replaces an earlier one, except that
/// `with_max_reads(0)` after a positive budget keeps the positive budget (as the original store
/// did). A `put` always replaces the whole entry, options included.
///
/// ```
/// use std::time::Duration;
/// use kv_ttl::PutOptions;
///
/// // A session entry: lives 30 minutes after its last read.
/// let session = PutOptions::new()
///     .with_ttl(Duration::from_secs(30 * 60))
///     .with_sliding_ttl();
/// assert_eq!(session.ttl(), Some(Duration::from_secs(1800)));
/// assert!(session.is_sliding());
///
/// // A one-shot token: gone after its first read.
/// let token = PutOptions::new().with_max_reads(1);
/// assert_eq!(token.max_reads(), Some(1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PutOptions {
    ttl: Option<Duration>,
    sliding: bool,
    max_reads: Option<usize>,
}

impl PutOptions {
    /// No TTL, no sliding, no read budget: the entry lives until removed or evicted.
    pub const fn new() -> Self {
        Self {
            ttl: None,
            sliding: false,
            max_reads: None,
        }
    }

    /// The entry expires `ttl` after the put (at exactly that instant). `Duration::ZERO` means no
    /// TTL; a TTL too long for the clock means the entry never expires.
    #[must_use]
    pub const fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = if ttl.is_zero() { None } else { Some(ttl) };
        self
    }

    /// Each successful `get` resets the deadline to now plus the original TTL. Without a TTL it
    /// does nothing.
    #[must_use]
    pub const fn with_sliding_ttl(mut self) -> Self {
        self.sliding = true;
        self
    }

    /// The entry is removed by its `n`-th successful `get`, which still returns the value. `0`
    /// means no limit, and does not clear a positive budget set earlier.
    #[must_use]
    pub const fn with_max_reads(mut self, n: usize) -> Self {
        if n > 0 {
            self.max_reads = Some(n);
        }
        self
    }

    /// The TTL, if any.
    pub const fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// Whether a successful `get` refreshes the deadline (only meaningful with a TTL).
    pub const fn is_sliding(&self) -> bool {
        self.sliding
    }

    /// The read budget, if any.
    pub const fn max_reads(&self) -> Option<usize> {
        self.max_reads
    }
}
