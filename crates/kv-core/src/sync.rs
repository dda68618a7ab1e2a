//! The one place locks, atomics and `Arc` come from.
//!
//! Under `--cfg kv_loom` every type here is loom's, so the model tests explore the store's real
//! interleavings; otherwise they are the standard library's. Everything else in the workspace
//! imports from here: `cargo xtask test` fails on a `std::sync` lock, atomic or `Arc` named
//! anywhere else, unless the file says why it is exempt with a `sync-facade: exempt` comment.

#[cfg(not(kv_loom))]
mod imp {
    pub use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
}

#[cfg(kv_loom)]
mod imp {
    pub use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub use loom::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
}

pub use imp::*;

/// Locks a mutex, ignoring poisoning: the store's critical sections leave their data consistent
/// even when a user's `Hash` or `Eq` panics, so a poisoned lock is still safe to use.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(kv_loom))]
    return m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(kv_loom)]
    return m.lock().unwrap();
}

/// Takes a shared lock, ignoring poisoning (see [`lock`]).
pub fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    #[cfg(not(kv_loom))]
    return m.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(kv_loom)]
    return m.read().unwrap();
}

/// Takes an exclusive lock, ignoring poisoning (see [`lock`]).
pub fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    #[cfg(not(kv_loom))]
    return m.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(kv_loom)]
    return m.write().unwrap();
}
