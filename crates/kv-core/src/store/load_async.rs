//! Get-or-insert for async callers: one load per key across tasks and threads, waiters that
//! wait without blocking their thread, and loads that survive their caller's cancellation.
//!
//! A caller first reads the live value, as `get` does, before touching anything else: a hit
//! costs what a `get` costs. On a miss it joins the key's flight (`crate::flight`): the first
//! caller leads and runs its own future; the others wait. When the lead stores its value the
//! waiters read it from the store (each a hit); when its load fails they all receive its error;
//! when its future is dropped (cancelled, or unwound by a panic) they are all woken and the
//! first to look again leads a new load with its own future. No lock is held across an await.
//!
//! The sync loaders (`load`) do not share these flights: they serialise on stripe locks,
//! which an async task cannot hold across an await, and a sync caller cannot wait for an
//! async load without blocking a thread that load may need (a current-thread runtime would
//! deadlock). A sync and an async load of one key may therefore overlap; each stores its
//! value as a `put` does, and the later one wins.

use std::convert::Infallible;
use std::future::Future;
use std::hash::Hash;
use std::panic::resume_unwind;
use std::pin::pin;

use super::Store;
use crate::flight::{Outcome, Role, SharedError};
use crate::loads::{CatchUnwind, LoadMetrics};
use crate::policy::{Expiry, Policies};
use crate::{StoreHasher, StoreKey, StoreValue};

/// The put options of a store's expiry policy.
type Options<K, P> = <<P as Policies<K>>::Expiry as Expiry>::Options;

impl<K, V, P, S> Store<K, V, P, S>
where
    K: StoreKey + Clone,
    V: StoreValue + Clone,
    P: Policies<K>,
    S: StoreHasher,
{
    /// The live value of `key`, or the value `load` resolves to, stored with default options
    /// and returned: the async form of [`Store::get_or_insert_with`], for any runtime.
    ///
    /// However many tasks (on however many threads) ask for `key` at once, one load runs; the
    /// others wait without blocking their thread and then read the stored value (each a hit).
    /// If the task running the load is cancelled (this future dropped) or its load panics, a
    /// waiter runs its own `load` instead; a cancelled load stores nothing. Counts as `get`
    /// when a value is there; otherwise one miss for the load.
    ///
    /// ```
    /// use kv_core::Store;
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #     }
    /// # }
    /// let store: Store<String, String> = Store::new();
    /// block_on(async {
    ///     let v = store.get_or_insert_async("cfg".into(), async { "loaded".to_string() }).await;
    ///     assert_eq!(v, "loaded");
    ///     // Live now: the future is not run.
    ///     let v = store.get_or_insert_async("cfg".into(), async { unreachable!() }).await;
    ///     assert_eq!(v, "loaded");
    /// });
    /// assert_eq!((store.metrics().hits, store.metrics().misses), (1, 1));
    /// ```
    pub async fn get_or_insert_async(&self, key: K, load: impl Future<Output = V>) -> V {
        // The live value first, before any flight: a hit is a `get`.
        if let Some(value) = self.look(&key) {
            return value;
        }
        let loaded = Box::pin(self.load_in_flight(key, Options::<K, P>::default(), async {
            Ok::<V, Infallible>(load.await)
        }))
        .await;
        match loaded {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// As [`Store::get_or_insert_async`], for a load that can fail: its error is stored
    /// nowhere, and every caller that was waiting for that load receives it (hence the `Arc`).
    /// A caller that comes after the failure runs its own load. A waiter whose error type
    /// differs from the failed load's cannot receive its error: it runs its own load.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kv_core::Store;
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #     }
    /// # }
    /// let store: Store<String, String> = Store::new();
    /// let failed = block_on(store.try_get_or_insert_async("k".into(), async { Err("down") }));
    /// assert_eq!(failed, Err(Arc::new("down")));
    /// assert!(!store.has("k"));
    /// assert_eq!(store.load_metrics().failed, 1);
    /// ```
    pub async fn try_get_or_insert_async<Err>(
        &self,
        key: K,
        load: impl Future<Output = Result<V, Err>>,
    ) -> Result<V, SharedError<Err>>
    where
        Err: Send + Sync + 'static,
    {
        self.try_get_or_insert_async_with_options(key, Options::<K, P>::default(), load)
            .await
    }

    /// As [`Store::try_get_or_insert_async`], storing the loaded value with `options` (a TTL,
    /// a read budget: the expiry policy's put options).
    pub async fn try_get_or_insert_async_with_options<Err>(
        &self,
        key: K,
        options: Options<K, P>,
        load: impl Future<Output = Result<V, Err>>,
    ) -> Result<V, SharedError<Err>>
    where
        Err: Send + Sync + 'static,
    {
        if let Some(value) = self.look(&key) {
            return Ok(value);
        }
        Box::pin(self.load_in_flight(key, options, load)).await
    }

    /// The miss path: lead the key's load, or wait for the one in flight. Boxed by its callers,
    /// so the future a caller holds stays small, and a hit (which never gets here) moves and
    /// initialises only that.
    async fn load_in_flight<Err>(
        &self,
        key: K,
        options: Options<K, P>,
        load: impl Future<Output = Result<V, Err>>,
    ) -> Result<V, SharedError<Err>>
    where
        Err: Send + Sync + 'static,
    {
        let inner = &*self.inner;
        let lead = loop {
            match inner.flights.join::<Err>(&key) {
                Role::Lead(lead) => break lead,
                Role::Wait(wait) => {
                    if let Some(error) = wait.await {
                        // The load this caller waited for failed: it found nothing, a miss.
                        inner.miss(inner.shard(inner.hasher.hash_one(&key)), &key);
                        return Err(error);
                    }
                    // Stored, or abandoned: look again; if nothing is there, lead or wait anew.
                    if let Some(value) = self.look(&key) {
                        return Ok(value);
                    }
                }
            }
        };
        // Another caller (an async load that just ended, a sync loader, a put) may have stored
        // it since this caller's first look.
        if let Some(value) = self.look(&key) {
            lead.end(Outcome::Stored);
            return Ok(value);
        }
        inner.miss(inner.shard(inner.hasher.hash_one(&key)), &key);
        let run = inner.loads.start(&inner.clock);
        // Dropped while awaiting (cancelled), `run` counts a cancellation and `lead` wakes the
        // waiters to take over; nothing is stored. A panic in the load (or in storing its
        // value) is caught to be counted as one, and then goes on unwinding in this task.
        let loaded = CatchUnwind(pin!(async {
            let value = load.await?;
            // Stored before the flight ends, so its waiters find it.
            self.insert(key, value.clone(), &options);
            Ok(value)
        }))
        .await;
        match loaded {
            Ok(Ok(value)) => {
                run.succeeded();
                lead.end(Outcome::Stored);
                inner.deliver_removals();
                Ok(value)
            }
            Ok(Err(error)) => {
                let error = SharedError::new(error);
                run.failed();
                lead.end(Outcome::Failed(Box::new(SharedError::clone(&error))));
                Err(error)
            }
            Err(panic) => {
                run.panicked();
                drop(lead); // abandoned: a waiter takes over
                resume_unwind(panic)
            }
        }
    }

    /// The live value of `key`, counted as a loader's look (a hit, or nothing counted), with
    /// the removal notifications it caused delivered before the caller awaits anything (a hit
    /// that removes nothing delivers nothing, so it costs what a `get` costs).
    fn look(&self, key: &K) -> Option<V> {
        self.read::<K, false, true>(key, |_| true).ok().flatten()
    }
}

impl<K, V, P: Policies<K>, S> Store<K, V, P, S> {
    /// A snapshot of the load counters: the loads get-or-insert callers ran (sync and async),
    /// how they ended, and their total time (see [`LoadMetrics`]).
    pub fn load_metrics(&self) -> LoadMetrics {
        self.inner.loads.snapshot()
    }

    /// Keys whose async load is in flight now.
    #[doc(hidden)]
    pub fn loads_in_flight(&self) -> usize
    where
        K: Hash + Eq + Clone,
    {
        self.inner.flights.len()
    }
}
