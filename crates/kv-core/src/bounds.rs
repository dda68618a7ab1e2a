//! What a store's keys, values and hasher must be, named once, so impl blocks say `K: StoreKey`
//! instead of restating the bounds.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

/// A key a [`Store`](crate::Store) can hold: hashable, comparable, and shareable across threads
/// for as long as the store lives. Implemented for every such type.
pub trait StoreKey: Hash + Eq + Send + Sync + 'static {}

impl<K: Hash + Eq + Send + Sync + 'static> StoreKey for K {}

/// A value a [`Store`](crate::Store) can hold: shareable across threads for as long as the store
/// lives. Implemented for every such type.
pub trait StoreValue: Send + Sync + 'static {}

impl<V: Send + Sync + 'static> StoreValue for V {}

/// What a [`Store`](crate::Store) hashes its keys with. Implemented for every such type.
pub trait StoreHasher: BuildHasher + Send + Sync + 'static {}

impl<S: BuildHasher + Send + Sync + 'static> StoreHasher for S {}

/// A borrowed form of a key that lookups accept (`&str` for `String` keys, `&K` for any `K`).
///
/// It is implemented for every `Q` that `K` borrows as and whose owned form converts into `K`, so
/// the standard pairs work out of the box; the conversion is used only to report the key of a
/// miss to an event listener.
pub trait KeyQuery<K>: Hash + Eq {
    /// The owned key this query names.
    fn to_key(&self) -> K;
}

impl<K, Q> KeyQuery<K> for Q
where
    K: Borrow<Q>,
    Q: Hash + Eq + ToOwned + ?Sized,
    Q::Owned: Into<K>,
{
    fn to_key(&self) -> K {
        self.to_owned().into()
    }
}
