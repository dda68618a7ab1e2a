//! The store's policies as one type parameter.

use super::{Eviction, Expiry, Listener, NoEviction, NoExpiry, NoListener};

/// What fills a store's two policy slots and its listener: the third type parameter of
/// [`Store`](crate::Store), so the store's type and impl headers name one parameter for all
/// three. [`Slots`] is the implementation the builder fills.
pub trait Policies<K>: 'static {
    /// Decides when entries stop being live.
    type Expiry: Expiry;
    /// Is told of every use and picks victims over capacity.
    type Eviction: Eviction;
    /// Receives the store's events.
    type Listener: Listener<K>;

    /// The three parts, for the store to keep.
    fn into_parts(self) -> (Self::Expiry, Self::Eviction, Self::Listener);
}

/// The store's slots filled: an expiry policy, an eviction policy and a listener, each
/// nothing by default (`Slots` alone is a store without policies). The builder's `expiry`,
/// `eviction` and `listener` fill them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Slots<X = NoExpiry, E = NoEviction, L = NoListener> {
    /// The expiry slot.
    pub expiry: X,
    /// The eviction slot.
    pub eviction: E,
    /// The listener.
    pub listener: L,
}

impl<K, X: Expiry, E: Eviction, L: Listener<K>> Policies<K> for Slots<X, E, L> {
    type Expiry = X;
    type Eviction = E;
    type Listener = L;

    fn into_parts(self) -> (X, E, L) {
        (self.expiry, self.eviction, self.listener)
    }
}
