//! What the store offers its policies: [`Host`], and [`EvictionHost`] for the eviction policy.

use super::{EntryRef, Under, Verdict};

/// The store as a policy sees it while the store calls one of its store-wide hooks. Every method
/// takes the shard lock itself, so the policy calls them while holding only its own lock. `S` is
/// the policy's per-entry state.
pub trait Host<S> {
    /// Entries held now (expired ones not yet reclaimed included).
    fn stored(&self) -> usize;
    /// Shows `judge` the entry's state under its shard's lock, and removes the entry on
    /// [`Verdict::Remove`]. The judge is asked under the exclusive lock, and first under the
    /// shared one when the shard is busy; each asking is told which (what a policy judges by
    /// must only move one way, as deadlines and stamps do). The expiry policy's removals are
    /// Expirations; the eviction policy's are Evictions, except that a victim found expired by
    /// then is reclaimed as an Expiration. Answers what it did: [`Verdict::Remove`] once the
    /// entry is removed, [`Verdict::Forget`] when it is no longer stored, and otherwise what
    /// `judge` said.
    fn remove_if(&self, entry: EntryRef, judge: &mut dyn FnMut(&S, Under) -> Verdict) -> Verdict;
    /// Calls `f` with every stored entry and its state, each shard under its exclusive lock (so
    /// no read is half way through changing the state).
    fn scan(&self, f: &mut dyn FnMut(EntryRef, &S));
}

/// What the store offers its eviction policy besides: how full it is, and reclaiming an expired
/// entry before evicting a live one.
pub trait EvictionHost<S>: Host<S> {
    /// What capacity bounds, now: the entries held ([`Host::stored`]), or their total weight
    /// when the store has a weigher. It reads counters only (one per shard), so a judge may ask
    /// for it under the victim's exclusive lock: a concurrent removal elsewhere then never leads
    /// to an eviction that was not needed.
    fn occupancy(&self) -> usize;
    /// Whether the store has a weigher (an eviction then frees an entry's weight, not one).
    fn weighs(&self) -> bool;
    /// Reclaims one expired entry, if any exists now (through the expiry policy; the store reads
    /// its clock here, so time spent waiting for locks counts). Eviction calls this first, so a
    /// live entry is never evicted while an expired one holds a slot.
    fn reclaim_one_expired(&self) -> bool;
    /// Loads what removing `entry` reads (its slot and its index bucket) into the cache, if its
    /// shard is free: the eviction policy names the next victim after an eviction, so the next
    /// evicting put finds both there. A hint: it changes nothing, and an entry gone or used by
    /// then costs a line loaded for nothing.
    fn warm(&self, _entry: EntryRef) {}
}
