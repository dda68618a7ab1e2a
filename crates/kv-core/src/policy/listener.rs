//! Events: what happened to an entry, for a listener.

/// What happened to an entry, for a [`Listener`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A `put` stored a key that held no live entry.
    Inserted,
    /// A `put` replaced a live entry.
    Replaced,
    /// A `get` returned the value.
    Hit,
    /// A `get` found nothing live.
    Miss,
    /// An expired entry was reclaimed.
    Expired,
    /// A live entry was evicted to respect the capacity.
    Evicted,
    /// The last read of a read budget removed the entry (after its `Hit`).
    Consumed,
    /// `del` removed a live entry.
    Removed,
    /// `clear` removed the entry.
    Cleared,
}

/// Receives the store's events, inside the critical section of the operation (so events for one
/// key arrive in the order they happened). Must be quick and must not call back into the store.
pub trait Listener<K>: Send + Sync + 'static {
    /// Whether anyone listens; when `false` the store skips building events altogether.
    fn is_active(&self) -> bool;
    /// One event.
    fn on_event(&self, kind: EventKind, key: &K);
}

/// Nobody listens. Costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoListener;

impl<K> Listener<K> for NoListener {
    #[inline]
    fn is_active(&self) -> bool {
        false
    }
    #[inline]
    fn on_event(&self, _: EventKind, _: &K) {}
}
