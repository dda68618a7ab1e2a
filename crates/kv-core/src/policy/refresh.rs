//! Refresh points: an expiry policy wrapped so that a read of an entry older than its refresh
//! point says so ([`Read::Refresh`]), and the store starts a reload of it.
//!
//! Knows nothing of loaders: it keeps each entry's refresh point and hands everything else to
//! the policy it wraps. A store that does not refresh does not have it in its expiry slot, so
//! its entries carry no refresh point and its reads test none.

use std::time::Duration;

use super::{DefaultTtl, EntryRef, Expiry, Host, Read, Under, Verdict};
use crate::clock::{NEVER, duration_to_nanos};
use crate::sync::{AtomicU64, Ordering};

/// An expiry policy `X` whose entries also have a refresh point, `period` after their put: the
/// first read at or after it returns the value as usual and makes the store start one reload
/// of the entry (the store's builder sets this up with `refresh_after`, with the loader). The
/// read that starts a reload moves the refresh point a period on, so a failed reload is tried
/// again a period later, and readers meanwhile start none. Entries `X` says are not
/// [`refreshable`](Expiry::refreshable) (a read budget) get no refresh point.
///
/// ```
/// use std::time::Duration;
/// use kv_core::{Expiry, NoExpiry, Read, Refreshing};
///
/// let policy = Refreshing::new(NoExpiry, Duration::from_nanos(100));
/// let mut entry = policy.new_state(&(), 0);
/// assert!(Refreshing::<NoExpiry>::read_shared(&entry, 99, 0)); // before its refresh point
/// assert!(!Refreshing::<NoExpiry>::read_shared(&entry, 100, 0)); // due: decided exclusively
/// assert_eq!(Refreshing::<NoExpiry>::read_exclusive(&mut entry, 100, 0), Read::Refresh);
/// assert_eq!(Refreshing::<NoExpiry>::read_exclusive(&mut entry, 150, 0), Read::Live);
/// ```
#[derive(Debug)]
pub struct Refreshing<X> {
    expiry: X,
    /// Nanoseconds from a put (or a claimed refresh) to the next refresh point; 0: none.
    period: u64,
    /// Puts so far: numbers each entry, so a reload can tell its entry from a newer one.
    puts: AtomicU64,
}

impl<X> Refreshing<X> {
    /// `expiry`'s entries, refreshed `period` after their put. `Duration::ZERO` gives no
    /// entry a refresh point.
    pub fn new(expiry: X, period: Duration) -> Self {
        Self {
            expiry,
            period: duration_to_nanos(period),
            puts: AtomicU64::new(1),
        }
    }

    /// The policy it wraps.
    pub fn get_ref(&self) -> &X {
        &self.expiry
    }

    /// The time from a put to its entry's refresh point.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }
}

/// An entry's state under [`Refreshing`]: the wrapped policy's, and the refresh point.
#[derive(Debug)]
pub struct RefreshState<S> {
    expiry: S,
    /// When a read starts a reload ([`NEVER`]: none). Written only under the shard's exclusive
    /// lock, read under the shared one, so a plain field: the exclusive lock is what lets one
    /// reader, and only one, start the reload.
    refresh_at: u64,
    /// How far a started reload moves `refresh_at` on (the store's period, kept per entry
    /// because a read's hooks see the entry, not the policy).
    period: u64,
    /// Which put made the entry ([`Expiry::entry_id`]; 0 for one that is never refreshed).
    id: u64,
}

impl<S> RefreshState<S> {
    /// The wrapped policy's state.
    pub fn get_ref(&self) -> &S {
        &self.expiry
    }
}

fn after(now: u64, period: u64) -> u64 {
    now.checked_add(period).unwrap_or(NEVER)
}

/// The store's host, as the wrapped policy sees it: the same entries, its own part of their
/// state.
struct Inside<'h, S>(&'h dyn Host<RefreshState<S>>);

impl<S> Host<S> for Inside<'_, S> {
    fn stored(&self) -> usize {
        self.0.stored()
    }

    fn remove_if(&self, entry: EntryRef, judge: &mut dyn FnMut(&S, Under) -> Verdict) -> Verdict {
        self.0
            .remove_if(entry, &mut |state, under| judge(&state.expiry, under))
    }

    fn scan(&self, f: &mut dyn FnMut(EntryRef, &S)) {
        self.0.scan(&mut |entry, state| f(entry, &state.expiry));
    }
}

impl<X: Expiry> Expiry for Refreshing<X> {
    type State = RefreshState<X::State>;
    type Options = X::Options;
    type Summary = X::Summary;

    const REFRESHES: bool = true;

    #[inline]
    fn uses_clock() -> bool {
        true
    }

    #[inline]
    fn may_expire_any(&self) -> bool {
        self.expiry.may_expire_any()
    }

    fn new_state(&self, options: &X::Options, now: u64) -> Self::State {
        let expiry = self.expiry.new_state(options, now);
        let (refresh_at, id) = if self.period != 0 && X::refreshable(&expiry) {
            // One relaxed add on a line every put of this store writes: refreshing stores
            // only (the slot has no id of its own).
            let id = self.puts.fetch_add(1, Ordering::Relaxed);
            (after(now, self.period), id)
        } else {
            (NEVER, 0)
        };
        RefreshState {
            expiry,
            refresh_at,
            period: self.period,
            id,
        }
    }

    #[inline]
    fn summary(state: &Self::State) -> X::Summary {
        X::summary(&state.expiry)
    }

    #[inline]
    fn put_needs_time(&self, options: &X::Options) -> bool {
        // A refresh point counts from the put.
        self.period != 0 || self.expiry.put_needs_time(options)
    }

    /// An entry with a refresh point is read with the time, as one that may expire is.
    #[inline]
    fn may_expire(state: &Self::State) -> bool {
        state.refresh_at != NEVER || X::may_expire(&state.expiry)
    }

    #[inline]
    fn is_expired(state: &Self::State, now: u64) -> bool {
        X::is_expired(&state.expiry, now)
    }

    #[inline]
    fn read_shared(state: &Self::State, now: u64, lag: u64) -> bool {
        // A due entry goes to the exclusive read, where one reader claims its reload.
        state.refresh_at > now && X::read_shared(&state.expiry, now, lag)
    }

    fn read_exclusive(state: &mut Self::State, now: u64, lag: u64) -> Read {
        match X::read_exclusive(&mut state.expiry, now, lag) {
            Read::Live if state.refresh_at <= now => {
                state.refresh_at = after(now, state.period);
                Read::Refresh
            }
            read => read,
        }
    }

    fn inserted(&self, entry: EntryRef, summary: X::Summary, host: &dyn Host<Self::State>) {
        self.expiry.inserted(entry, summary, &Inside(host));
    }

    fn replaced(
        &self,
        entry: EntryRef,
        summary: X::Summary,
        replaced: X::Summary,
        host: &dyn Host<Self::State>,
    ) {
        self.expiry
            .replaced(entry, summary, replaced, &Inside(host));
    }

    #[inline]
    fn may_have_expired(&self, now: u64) -> bool {
        self.expiry.may_have_expired(now)
    }

    fn reclaim(&self, now: u64, limit: usize, host: &dyn Host<Self::State>) -> usize {
        self.expiry.reclaim(now, limit, &Inside(host))
    }

    fn removed(&self, summary: X::Summary, host: &dyn Host<Self::State>) {
        self.expiry.removed(summary, &Inside(host));
    }

    fn cleared(&self, host: &dyn Host<Self::State>) {
        self.expiry.cleared(&Inside(host));
    }

    fn validate(&self, host: &dyn Host<Self::State>) -> Result<(), String> {
        self.expiry.validate(&Inside(host))
    }

    #[inline]
    fn refreshable(state: &Self::State) -> bool {
        X::refreshable(&state.expiry)
    }

    #[inline]
    fn entry_id(state: &Self::State) -> u64 {
        state.id
    }
}

impl<X: DefaultTtl> DefaultTtl for Refreshing<X> {
    fn with_time_to_live(self, ttl: Duration) -> Self {
        Self {
            expiry: self.expiry.with_time_to_live(ttl),
            ..self
        }
    }

    fn with_time_to_idle(self, idle: Duration) -> Self {
        Self {
            expiry: self.expiry.with_time_to_idle(idle),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoExpiry;

    /// A refreshing store's entries carry 24 bytes more: the refresh point, the period and
    /// the entry's id. A store that does not refresh has no `RefreshState` at all.
    #[test]
    fn a_refresh_point_costs_an_entry_three_words() {
        assert_eq!(std::mem::size_of::<RefreshState<()>>(), 24);
        assert_eq!(std::mem::size_of::<RefreshState<[u64; 3]>>(), 48);
    }

    /// Every refreshable entry gets an id of its own; one with no refresh point gets none.
    #[test]
    fn each_put_numbers_its_entry() {
        let policy = Refreshing::new(NoExpiry, Duration::from_nanos(100));
        let (a, b) = (policy.new_state(&(), 0), policy.new_state(&(), 0));
        assert_ne!(
            Refreshing::<NoExpiry>::entry_id(&a),
            Refreshing::<NoExpiry>::entry_id(&b)
        );
        assert_ne!(Refreshing::<NoExpiry>::entry_id(&a), 0);
    }

    /// The read at the refresh point claims the reload and moves the point a period on.
    #[test]
    fn the_read_that_claims_a_reload_moves_the_refresh_point_a_period_on() {
        let policy = Refreshing::new(NoExpiry, Duration::from_nanos(100));
        let mut entry = policy.new_state(&(), 10);
        assert_eq!(entry.refresh_at, 110);
        assert!(!Refreshing::<NoExpiry>::read_shared(&entry, 130, 0));
        assert_eq!(
            Refreshing::<NoExpiry>::read_exclusive(&mut entry, 130, 0),
            Read::Refresh
        );
        assert_eq!(entry.refresh_at, 230);
        assert!(Refreshing::<NoExpiry>::read_shared(&entry, 229, 0));
        // No period: no refresh point.
        let off = Refreshing::new(NoExpiry, Duration::ZERO).new_state(&(), 10);
        assert_eq!(off.refresh_at, NEVER);
    }
}
