//! The one place locks, atomics and `Arc` come from, and every other substitution the loom
//! models need (a fixed hasher seed, fewer shards).
//!
//! Under `--cfg kv_loom` every type here is loom's, so the model tests explore the store's real
//! interleavings; otherwise they are the standard library's. The store's crates (kv-core, kv-ttl,
//! kv-lru, kvstore) import from here: their `clippy.toml` disallows the standard library's locks,
//! atomics and `Arc` elsewhere, and an item that must use them says why with an `allow`.

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

/// Calls `f` with this thread's own `u64` cell (0 in a new thread). Under loom it is loom's
/// per-thread storage, so a model's threads each see their own value (they all run on one OS
/// thread, where a std `thread_local!` would hide races between them).
#[inline]
pub fn with_thread_cell<R>(f: impl FnOnce(&std::cell::Cell<u64>) -> R) -> R {
    #[cfg(not(kv_loom))]
    std::thread_local! {
        static CELL: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    #[cfg(kv_loom)]
    loom::thread_local! {
        static CELL: std::cell::Cell<u64> = std::cell::Cell::new(0);
    }
    CELL.with(f)
}

/// The default hasher: fast, and seeded per store so keys cannot be chosen to collide.
#[cfg(not(kv_loom))]
pub type DefaultHashBuilder = foldhash::fast::RandomState;
/// Under loom every execution must replay identically, so keys must land in the same shards:
/// the hasher's seed is fixed.
#[cfg(kv_loom)]
pub type DefaultHashBuilder = foldhash::fast::FixedState;

/// Loader locks of get-or-insert per store (keys share them by hash). Under loom, 2.
pub const LOADER_STRIPES: usize = if cfg!(kv_loom) { 2 } else { 64 };

/// The default shard count: four per core, at least 16. Under loom, 2: enough for two keys to
/// race in different shards, few enough to keep the models small.
pub fn default_shards() -> usize {
    if cfg!(kv_loom) {
        return 2;
    }
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    (cores * 4).max(16)
}

/// Locks a mutex, ignoring poisoning: the store's critical sections leave their data consistent
/// even when a user's `Hash` or `Eq` panics, so a poisoned lock is still safe to use.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(kv_loom))]
    return m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(kv_loom)]
    return m.lock().unwrap();
}

/// Locks a mutex that many threads take for short critical sections (a policy's queue), spinning
/// and then yielding while it is held instead of sleeping at once. A waiter that sleeps on the
/// futex costs two system calls and a context switch (the unlock must wake it): under W3 at two
/// threads that was a fifth of the run. Falls back to [`lock`] after the spinning.
pub fn lock_spinning<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(kv_loom))]
    {
        let backoff = crossbeam_utils::Backoff::new();
        while !backoff.is_completed() {
            match m.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => backoff.snooze(),
            }
        }
    }
    lock(m)
}

/// Takes a shared lock, ignoring poisoning (see [`lock`]).
pub fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    #[cfg(not(kv_loom))]
    return m.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(kv_loom)]
    return m.read().unwrap();
}

/// Takes a shared lock if nobody holds the exclusive lock now, ignoring poisoning (see [`lock`]).
pub fn try_read<T>(m: &RwLock<T>) -> Option<RwLockReadGuard<'_, T>> {
    match m.try_read() {
        Ok(guard) => Some(guard),
        #[cfg(not(kv_loom))]
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(_) => None,
    }
}

/// Takes an exclusive lock if nobody holds the lock now, ignoring poisoning (see [`lock`]).
pub fn try_write<T>(m: &RwLock<T>) -> Option<RwLockWriteGuard<'_, T>> {
    match m.try_write() {
        Ok(guard) => Some(guard),
        #[cfg(not(kv_loom))]
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(_) => None,
    }
}

/// Takes an exclusive lock, ignoring poisoning (see [`lock`]).
pub fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    #[cfg(not(kv_loom))]
    return m.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(kv_loom)]
    return m.write().unwrap();
}
