//! When an operation reads the store's clock, and when it can skip it.
//!
//! On the system clock a reading fences the CPU (`lfence; rdtsc` on x86), which kept
//! memory-bound reads from overlapping and made a plain `get` several times slower; so an
//! operation that cannot meet an entry that may expire reads no clock. Any other clock is read at
//! every operation, because each reading raises the store's high-water mark of time (a clock set
//! backwards must not revive anything).

use super::Inner;
use crate::clock::StoreClock;
use crate::policy::{Expiry, Policies};

impl<K, V, P: Policies<K>, S> Inner<K, V, P, S> {
    /// The store's time (0 for a store whose expiry uses no clock).
    #[inline]
    pub(super) fn now(&self) -> u64 {
        if P::Expiry::uses_clock() {
            self.clock.now()
        } else {
            0
        }
    }

    /// The time at the start of a read, when it must be taken there; `None` on the system
    /// clock, where [`Inner::now_for`] reads it only for an entry that may expire.
    #[inline]
    pub(super) fn now_at_start(&self) -> Option<u64> {
        match self.clock {
            StoreClock::System(_) if P::Expiry::uses_clock() => None,
            _ => Some(self.now()),
        }
    }

    /// The time a put with `options` needs: none (0) on the system clock when neither its own
    /// entry nor anything it replaces or makes room for can be expired.
    #[inline]
    pub(super) fn now_for_put(&self, options: &<P::Expiry as Expiry>::Options) -> u64 {
        match self.clock {
            StoreClock::System(_)
                if P::Expiry::uses_clock()
                    && !self.expiry.put_needs_time(options)
                    && !self.expiry.may_expire_any() =>
            {
                0
            }
            _ => self.now(),
        }
    }

    /// The time a read of an entry in this expiry state needs (see [`Inner::now_at_start`]).
    #[inline]
    pub(super) fn now_for(&self, at_start: Option<u64>, state: &super::ExpiryState<K, P>) -> u64 {
        match at_start {
            Some(now) => now,
            None if !P::Expiry::may_expire(state) => 0,
            None => self.clock.now(),
        }
    }
}
