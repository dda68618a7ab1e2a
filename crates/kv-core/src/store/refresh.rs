//! Refresh-ahead: the reloads a store starts when a read finds an entry past its refresh point
//! (`policy::Refreshing` keeps the points and says when).
//!
//! The read that finds the entry due returns its value as any read does; before returning it
//! hands the entry's key and id to the store's [`Reloader`], which runs the reload elsewhere (a
//! thread, a pool, an async runtime's task): no store lock is held and the reader does not wait.
//! Only that read starts one: it moved the refresh point on under the shard's exclusive lock. The
//! reload's value goes in only over the entry it was started for ([`Store::insert_over`]): if the
//! key was written meanwhile (a put, a delete, an expiry), the write wins and the value is
//! dropped. So is a value heavier than the whole capacity: the entry keeps its value. A reload
//! runs the user's code (the loader, the key's `Hash` and `Eq`, the weigher, the removal
//! listener) under one catch of panics, so a panic in any of it ends the reload as `panicked`
//! and unwinds into no runner and no reader.
//!
//! Reloads share no load with get-or-insert (neither the sync loaders' locks nor the async
//! flights): a get-or-insert caller loads only when it finds no live entry, and then the entry
//! a reload was started for is gone, so the reload's value could not serve it (it would be
//! dropped); waiting for the reload would only delay that caller's own load. One reload per
//! entry per period: a reload slower than the period may meet a second one, started by a read
//! a period later; the first to finish replaces the entry, and the other's value is dropped.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};

use super::{ShardOf, Store, TableOf};
use crate::loads::{CatchUnwind, LoadRun};
use crate::metrics::Counters;
use crate::policy::{EventKind, Eviction, Expiry, Policies};
use crate::sync::{self, Arc, RwLockWriteGuard};
use crate::table::At;
use crate::{StoreHasher, StoreKey, StoreValue};

/// A reload's future, as a [`Reloader::spawned`] reloader hands it to its spawner.
pub type ReloadFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A sync reload, as a [`Reloader::sync_with`] reloader hands it to its runner.
pub type ReloadJob = Box<dyn FnOnce() + Send + 'static>;

/// What reloads a refreshing store's entries, and where the reloads run: given to
/// `StoreBuilder::refresh_after` with the refresh period.
///
/// A reload's loader gets the key and returns its new value or an error. An error (or a panic)
/// leaves the entry as it is, with its value, until it expires or a later reload succeeds; it
/// is counted in [`LoadMetrics`](crate::LoadMetrics) as `failed` (`panicked`). A panic is the
/// reload's wherever it comes from (the loader, making or polling its future, or the key's
/// `Hash` and `Eq`, the weigher or the removal listener while the value is stored): caught,
/// counted as `panicked`, and never unwound into the runner or the reader. The removal
/// listener is told after the value went in, so its panic leaves the new value stored.
pub struct Reloader<K, V> {
    /// Clones a key under the shard lock (where `K: Clone` is not in scope).
    clone_key: fn(&K) -> K,
    start: Box<dyn Fn(Reload<K, V>) + Send + Sync>,
}

impl<K, V> std::fmt::Debug for Reloader<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

/// One reload to run: the entry's key and id (`Expiry::entry_id`), and its store.
pub(crate) struct Reload<K, V> {
    key: K,
    id: u64,
    store: Box<dyn Target<K, V>>,
}

impl<K, V> Reloader<K, V>
where
    K: Clone + Send + 'static,
    V: 'static,
{
    /// A sync loader, each reload on a thread of its own (`kvstore-refresh`). Reloads are
    /// rare (one per entry per period, and only of entries read), so a thread each costs
    /// little; give a pool with [`Reloader::sync_with`] when many entries fall due at once. A
    /// thread that cannot be started is a reload not started: the entry is tried again a period
    /// later.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kv_core::{NoExpiry, Reloader, StoreBuilder};
    ///
    /// let rates = StoreBuilder::<String, f64>::new()
    ///     .refresh_after(Duration::from_secs(60), Reloader::sync(|currency: &String| {
    ///         Ok::<_, std::io::Error>(if currency == "EUR" { 1.0 } else { 0.9 }) // a slow call
    ///     }))
    ///     .build();
    /// rates.put("EUR".into(), 1.0);
    /// assert_eq!(rates.get("EUR"), Some(1.0));
    /// ```
    pub fn sync<E: 'static>(load: impl Fn(&K) -> Result<V, E> + Send + Sync + 'static) -> Self {
        Self::sync_with(load, |job: ReloadJob| {
            // Not started: nothing was counted, and the entry is due again a period later.
            let _ = std::thread::Builder::new()
                .name("kvstore-refresh".into())
                .spawn(job);
        })
    }

    /// A sync loader whose reloads `run` runs (a pool's `execute`, tokio's `spawn_blocking`):
    /// `run` gets each reload as a [`ReloadJob`] to call once, on any thread.
    pub fn sync_with<E: 'static>(
        load: impl Fn(&K) -> Result<V, E> + Send + Sync + 'static,
        run: impl Fn(ReloadJob) + Send + Sync + 'static,
    ) -> Self {
        let load = Arc::new(load);
        Self {
            clone_key: K::clone,
            start: Box::new(move |reload| {
                let load = Arc::clone(&load);
                run(Box::new(move || reload_sync(&*load, reload)));
            }),
        }
    }

    /// An async loader whose reloads `spawn` runs, each as a [`ReloadFuture`] (with tokio:
    /// `move |reload| { handle.spawn(reload); }`, a `Handle` taken with
    /// `tokio::runtime::Handle::current()`). kv-core needs no runtime of its own.
    pub fn spawned<E, F>(
        load: impl Fn(K) -> F + Send + Sync + 'static,
        spawn: impl Fn(ReloadFuture) + Send + Sync + 'static,
    ) -> Self
    where
        V: Send,
        E: 'static,
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let load = Arc::new(load);
        Self {
            clone_key: K::clone,
            start: Box::new(move |reload| {
                let load = Arc::clone(&load);
                spawn(Box::pin(async move { reload_async(&*load, reload).await }));
            }),
        }
    }
}

/// A sync reload, on whatever thread its runner chose.
///
/// Everything of the user's that the reload calls (the key's `Hash` and `Eq`, the loader, the
/// weigher, the removal listener) runs inside one `catch_unwind`: a panic anywhere is the
/// reload's, counted, and unwinds neither into the runner nor, with a runner that runs it at
/// once, into the reader that started it. As after a panic in a put, the store stays usable
/// (`sync::lock` ignores the poisoning of a lock the panic unwound through).
fn reload_sync<K, V, E>(load: &dyn Fn(&K) -> Result<V, E>, reload: Reload<K, V>) {
    let Reload { key, id, store } = reload;
    let mut run = None;
    let ended = catch_unwind(AssertUnwindSafe(|| {
        // Written or removed before the reload ran (a runner may queue it): nothing to reload.
        if !store.holds_entry(&key, id) {
            return None;
        }
        run = Some(store.start_load());
        Some(match load(&key) {
            Ok(value) => Ended::Reloaded(store.store(key, value, id)),
            Err(_) => Ended::Failed,
        })
    }));
    count(&*store, run, ended);
}

/// An async reload, as a task of the spawner's runtime. A panic is caught and counted as a
/// sync reload's is, wherever it comes from: making the loader's future included.
async fn reload_async<K, V, E, F>(load: &(dyn Fn(K) -> F + Send + Sync), reload: Reload<K, V>)
where
    K: Clone,
    F: Future<Output = Result<V, E>>,
{
    let Reload { key, id, store } = reload;
    // Dropped while awaiting (the runtime dropped the task), `run` counts a cancellation.
    let mut run = None;
    let ended = {
        let reloading = pin!(async {
            if !store.holds_entry(&key, id) {
                return None;
            }
            run = Some(store.start_load());
            Some(match load(key.clone()).await {
                Ok(value) => Ended::Reloaded(store.store(key, value, id)),
                Err(_) => Ended::Failed,
            })
        });
        CatchUnwind(reloading).await
    };
    count(&*store, run, ended);
}

/// How a reload that found its entry ended, if not in a panic.
enum Ended {
    /// The loader returned a value, which replaced the entry (`true`) or was dropped.
    Reloaded(bool),
    /// The loader returned an error.
    Failed,
}

/// Counts how a reload ended: `ended` is `Ok(None)` for one whose entry was gone (it loaded
/// nothing, and counts nothing), `Err` for a panic. `run` was started once the entry was
/// found; a panic before that (the key's `Hash` or `Eq`, looking for the entry) is counted as
/// a reload started and panicked all the same.
fn count<K, V>(
    store: &dyn Target<K, V>,
    run: Option<LoadRun<'_>>,
    ended: std::thread::Result<Option<Ended>>,
) {
    match (ended, run) {
        (Err(_), run) => run.unwrap_or_else(|| store.start_load()).panicked(),
        (Ok(Some(Ended::Reloaded(installed))), Some(run)) => run.reloaded(installed),
        (Ok(Some(Ended::Failed)), Some(run)) => run.failed(),
        (Ok(_), _) => {}
    }
}

/// A store as its reloads see it, without its policy and hasher types (a reloader is given to
/// the builder before those are final).
pub(crate) trait Target<K, V>: Send + Sync {
    /// Whether `key` holds the live entry `id`.
    fn holds_entry(&self, key: &K, id: u64) -> bool;
    /// Puts `value` over the live entry `id` of `key`, and delivers the removal listener's
    /// notifications; `false`: it was written meanwhile, or the value is heavier than the whole
    /// capacity, and the value is dropped.
    fn store(&self, key: K, value: V, id: u64) -> bool;
    /// Counts a load started now.
    fn start_load(&self) -> LoadRun<'_>;
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Target<K, V>
    for Store<K, V, P, S>
{
    fn holds_entry(&self, key: &K, id: u64) -> bool {
        self.holds(key, id)
    }

    fn store(&self, key: K, value: V, id: u64) -> bool {
        // As a put with no options: the store's default TTL, and a new refresh point.
        let stored = self
            .insert_over(id, key, value, &Default::default())
            .is_some();
        self.inner.deliver_removals();
        stored
    }

    fn start_load(&self) -> LoadRun<'_> {
        self.inner.loads.start(&self.inner.clock)
    }
}

impl<K: StoreKey, V: StoreValue, P: Policies<K>, S: StoreHasher> Store<K, V, P, S> {
    /// Whether `key` holds the live entry `id` now.
    fn holds(&self, key: &K, id: u64) -> bool {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key);
        let table = sync::read(&inner.shard(hash).table);
        table.lookup(hash, |s| s.key == *key).is_some_and(|(_, s)| {
            P::Expiry::entry_id(&s.expiry) == id && !P::Expiry::is_expired(&s.expiry, inner.now())
        })
    }

    /// A read that found its entry due for a reload ([`Read::Refresh`]): a hit as any other,
    /// which then, with the lock released, starts the reload.
    ///
    /// [`Read::Refresh`]: crate::Read::Refresh
    #[cold]
    pub(super) fn read_and_reload(
        &self,
        shard: &ShardOf<K, V, P>,
        table: RwLockWriteGuard<'_, TableOf<K, V, P>>,
        at: At,
    ) -> Option<V>
    where
        V: Clone,
    {
        let inner = &*self.inner;
        let slot = table.get(at)?;
        inner.eviction.touch(&shard.eviction, &slot.eviction);
        Counters::bump(&shard.counters.hits);
        inner.emit(EventKind::Hit, &slot.key);
        let value = slot.value.clone();
        let due = inner.reloader.as_ref().map(|reloader| {
            (
                (reloader.clone_key)(&slot.key),
                P::Expiry::entry_id(&slot.expiry),
            )
        });
        drop(table);
        if let (Some(reloader), Some((key, id))) = (&inner.reloader, due) {
            (reloader.start)(Reload {
                key,
                id,
                store: Box::new(self.clone()),
            });
        }
        Some(value)
    }
}
