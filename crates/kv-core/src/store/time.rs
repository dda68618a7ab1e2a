//! When an operation reads the store's clock, and which reading it takes.
//!
//! Writes take the exact time (a put's deadline counts from it); reads take the recent time
//! ([`StoreClock::recent`](crate::clock::StoreClock::recent)), which on the default clock is a
//! plain load of a time a background thread keeps, up to half a tick old. So does a write
//! judging whether an entry it meets has expired (one it replaces, a victim it evicts, the
//! expired entries it reclaims to make room): that is a judgment of expiry like a read's, and the
//! two exact readings an evicting put took per victim were 9% of W3's instructions with a TTL on
//! every put (see design.md, Time). An exact reading of the system clock fences the CPU
//! (`lfence; rdtsc` on x86), which kept memory-bound reads from overlapping and made a read of an
//! entry with a deadline 0.4x a plain read; so an operation that cannot meet an entry that may
//! expire reads no clock at all. Any other clock is read at every operation, because each reading
//! raises the store's high-water mark of time (a clock set backwards must not revive anything).

use super::Inner;
use crate::policy::{Expiry, Policies};

/// A read's time: what it judges expiry by, and how far that may trail the true time (a sliding
/// refresh adds it, so a late reading never shortens a TTL).
#[derive(Clone, Copy, Debug)]
pub(super) struct ReadTime {
    pub(super) now: u64,
    pub(super) lag: u64,
}

impl<K, V, P: Policies<K>, S> Inner<K, V, P, S> {
    /// The store's exact time (0 for a store whose expiry uses no clock): for writes.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        if P::Expiry::uses_clock() {
            self.clock.now()
        } else {
            0
        }
    }

    /// The store's recent time (0 for a store whose expiry uses no clock): for reads that judge
    /// liveness (`has`, `keys`, `iter`). At most [`StoreClock::lag`] behind [`Inner::now`].
    ///
    /// [`StoreClock::lag`]: crate::clock::StoreClock::lag
    #[inline]
    pub(super) fn recent(&self) -> u64 {
        if P::Expiry::uses_clock() {
            self.clock.recent()
        } else {
            0
        }
    }

    /// The time at the start of a read, when it must be taken there; `None` on the system
    /// clock, where [`Inner::now_for`] reads it only for an entry that may expire.
    #[inline]
    pub(super) fn now_at_start(&self) -> Option<ReadTime> {
        if P::Expiry::uses_clock() && self.clock.is_system() {
            None
        } else {
            Some(ReadTime {
                now: self.recent(),
                lag: self.clock.lag(),
            })
        }
    }

    /// The time a put with `options` needs: none (0) on the system clock when neither its own
    /// entry nor anything it replaces or makes room for can be expired.
    #[inline]
    pub(super) fn now_for_put(&self, options: &<P::Expiry as Expiry>::Options) -> u64 {
        if P::Expiry::uses_clock()
            && self.clock.is_system()
            && !self.expiry.put_needs_time(options)
            && !self.expiry.may_expire_any()
        {
            0
        } else {
            self.now()
        }
    }

    /// The time a read of an entry in this expiry state needs (see [`Inner::now_at_start`]).
    #[inline]
    pub(super) fn now_for(
        &self,
        at_start: Option<ReadTime>,
        state: &super::ExpiryState<K, P>,
    ) -> ReadTime {
        match at_start {
            Some(time) => time,
            None if !P::Expiry::may_expire(state) => ReadTime { now: 0, lag: 0 },
            None => ReadTime {
                now: self.clock.recent(),
                lag: self.clock.lag(),
            },
        }
    }
}
