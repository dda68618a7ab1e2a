//! Building a store: shards, clock, hasher and the two policy slots.

use std::marker::PhantomData;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::{Inner, Reloader, Shard, Store, StoreId, Weigher};
use crate::clock::{Clock, DEFAULT_TICK, StoreClock};
use crate::policy::{Capacity, DefaultTtl, Expiry, Policies, Refreshing, Slots};
use crate::removal::{RemovalCause, Removals};
use crate::sync::{self, Arc, DefaultHashBuilder};

/// Builds a [`Store`]: shards, clock, hasher, and what fills its policy slots.
///
/// The store has two policy slots and a listener, each set by the setter of that name:
/// [`expiry`](StoreBuilder::expiry) (e.g. `kv_ttl::Ttl`), [`eviction`](StoreBuilder::eviction)
/// (e.g. `kv_lru::Lru`) and [`listener`](StoreBuilder::listener). The order of the calls does not
/// matter: each slot has one job, and the store calls them in a fixed order (`docs/design.md`).
/// They fill a [`Slots`], the store's policy parameter `P`.
///
/// ```
/// use kv_core::StoreBuilder;
///
/// let store = StoreBuilder::<String, u64>::new().shards(4).build();
/// store.put("a".into(), 1);
/// assert_eq!(store.len(), 1);
/// ```
pub struct StoreBuilder<K, V, P = Slots, S = DefaultHashBuilder> {
    shards: Option<usize>,
    clock: Option<Box<dyn Clock>>,
    tick: Duration,
    hasher: S,
    policies: P,
    removals: Option<Box<Removals<K, V>>>,
    weigher: Option<Weigher<K, V>>,
    reloader: Option<Reloader<K, V>>,
    _kv: PhantomData<fn(K, V)>,
}

impl<K, V> StoreBuilder<K, V> {
    /// A builder with no policies, the system clock and the default hasher.
    pub fn new() -> Self {
        Self::with_parts(Slots::default(), DefaultHashBuilder::default())
    }
}

impl<K, V> Default for StoreBuilder<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, P, S> StoreBuilder<K, V, P, S> {
    /// A builder with these policies and hasher, the default shard count and the system clock.
    pub fn with_parts(policies: P, hasher: S) -> Self {
        Self {
            shards: None,
            clock: None,
            tick: DEFAULT_TICK,
            hasher,
            policies,
            removals: None,
            weigher: None,
            reloader: None,
            _kv: PhantomData,
        }
    }

    /// The one place a setter that changes a part's type restates the builder.
    fn retype<P2, S2>(self, parts: impl FnOnce(P, S) -> (P2, S2)) -> StoreBuilder<K, V, P2, S2> {
        let (policies, hasher) = parts(self.policies, self.hasher);
        StoreBuilder {
            shards: self.shards,
            clock: self.clock,
            tick: self.tick,
            hasher,
            policies,
            removals: self.removals,
            weigher: self.weigher,
            reloader: self.reloader,
            _kv: PhantomData,
        }
    }

    /// The number of shards, rounded up to a power of two (at most 2^16). The default is four per
    /// core, at least 16: enough that threads reading different keys rarely share a lock.
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = Some(n);
        self
    }

    /// The clock the store takes all time from (the system's monotonic clock by default). Give a
    /// [`ManualClock`](crate::ManualClock) to control time in tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// How old a reading of the system clock reads may judge expiry by (the default clock's
    /// tick; 1 ms by default): an entry lives at most one tick longer than its TTL, never
    /// shorter (`docs/semantics.md`, Time). Reads then take the time with a plain load instead
    /// of an exact reading, which fences the CPU. `Duration::ZERO` makes every reading exact.
    /// A clock given with [`StoreBuilder::clock`] is read as that clock says.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kv_core::StoreBuilder;
    ///
    /// let exact = StoreBuilder::<String, u64>::new().clock_tick(Duration::ZERO).build();
    /// exact.put("a".into(), 1);
    /// assert_eq!(exact.get("a"), Some(1));
    /// ```
    pub fn clock_tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// The key hasher.
    pub fn hasher<S2>(self, hasher: S2) -> StoreBuilder<K, V, P, S2> {
        self.retype(|p, _| (p, hasher))
    }

    /// Builds the store.
    pub fn build(self) -> Store<K, V, P, S>
    where
        P: Policies<K>,
    {
        let (expiry, eviction, listener) = self.policies.into_parts();
        let wanted = self.shards.unwrap_or_else(sync::default_shards);
        let count = wanted.clamp(1, 1 << 16).next_power_of_two();
        let clock = match self.clock {
            Some(c) => StoreClock::guarded(c),
            // A store whose expiry reads no clock starts no ticker.
            None if !P::Expiry::uses_clock() => StoreClock::system(Duration::ZERO),
            None => StoreClock::system(self.tick),
        };
        Store {
            inner: Arc::new(Inner {
                id: StoreId::next(),
                shards: (0..count).map(|_| CachePadded::new(Shard::new())).collect(),
                loaders: (0..sync::LOADER_STRIPES)
                    .map(|_| CachePadded::new(sync::Mutex::new(())))
                    .collect(),
                shard_bits: count.trailing_zeros(),
                hasher: self.hasher,
                clock,
                expiry,
                eviction,
                listener,
                removals: self.removals,
                weigher: self.weigher,
                flights: crate::flight::Flights::new(),
                loads: crate::loads::LoadCounters::default(),
                reloader: self.reloader,
            }),
        }
    }
}

impl<K, V: Clone, P, S> StoreBuilder<K, V, P, S> {
    /// Calls `listener` with the key, the value and the cause of every entry that leaves the
    /// store: expired, evicted, deleted (`del`, `remove`, `retain`), consumed by its last read,
    /// replaced by a put, or cleared. For cleanup: closing what a value holds when its entry
    /// goes.
    ///
    /// Once per removed entry, after the removing operation released every store lock, so the
    /// listener may use the store. One key's removals arrive in the order they happened, and the
    /// listener is never called twice at once: when an operation ends, its notifications have
    /// been delivered, or are being delivered by the thread delivering at that moment (or, for
    /// an operation made from the listener itself, follow when the listener returns). When the
    /// operation also returns the value (a put's displaced value, `remove`, the read that used
    /// an entry up), the listener gets a clone. A store without a removal listener pays nothing
    /// for the feature but a test on its removals.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use kv_core::{RemovalCause, StoreBuilder};
    ///
    /// let closed = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&closed);
    /// let store = StoreBuilder::<String, u32>::new()
    ///     .removal_listener(move |key, _handle, cause| log.lock().unwrap().push((key, cause)))
    ///     .build();
    /// store.put("a".into(), 1);
    /// store.put("a".into(), 2);
    /// store.del("a");
    /// assert_eq!(
    ///     *closed.lock().unwrap(),
    ///     [("a".into(), RemovalCause::Replaced), ("a".into(), RemovalCause::Deleted)]
    /// );
    /// ```
    pub fn removal_listener(
        mut self,
        listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.removals = Some(Box::new(Removals::new(listener)));
        self
    }
}

impl<K, V, X, E, L, S> StoreBuilder<K, V, Slots<X, E, L>, S> {
    /// Fills the expiry slot: what decides when entries stop being live (`kv_ttl::Ttl`). It
    /// also decides the type of a put's options.
    pub fn expiry<X2>(self, expiry: X2) -> StoreBuilder<K, V, Slots<X2, E, L>, S> {
        self.retype(
            |Slots {
                 eviction, listener, ..
             },
             s| {
                (
                    Slots {
                        expiry,
                        eviction,
                        listener,
                    },
                    s,
                )
            },
        )
    }

    /// Changes what fills the expiry slot in place.
    pub fn map_expiry(mut self, change: impl FnOnce(X) -> X) -> Self {
        self.policies.expiry = change(self.policies.expiry);
        self
    }

    /// Fills the eviction slot: what is told of every use and picks victims over capacity
    /// (`kv_lru::Lru`).
    pub fn eviction<E2>(self, eviction: E2) -> StoreBuilder<K, V, Slots<X, E2, L>, S> {
        self.retype(
            |Slots {
                 expiry, listener, ..
             },
             s| {
                (
                    Slots {
                        expiry,
                        eviction,
                        listener,
                    },
                    s,
                )
            },
        )
    }

    /// The event listener.
    pub fn listener<L2>(self, listener: L2) -> StoreBuilder<K, V, Slots<X, E, L2>, S> {
        self.retype(
            |Slots {
                 expiry, eviction, ..
             },
             s| {
                (
                    Slots {
                        expiry,
                        eviction,
                        listener,
                    },
                    s,
                )
            },
        )
    }
}

impl<K, V, X: Expiry, E, L, S> StoreBuilder<K, V, Slots<X, E, L>, S> {
    /// Refresh-ahead (Caffeine's `refreshAfterWrite`): an entry read `period` or more after
    /// its put is returned at once, as any read returns it, and `reloader` reloads it in the
    /// background; a later read sees the new value. At most one reload per entry per period:
    /// the read that starts it moves the entry's refresh point a period on (so a failed reload
    /// is tried again a period later, and the old value is kept until it expires). The new value
    /// replaces the entry only if nobody wrote the key meanwhile: a put (or a delete, or an
    /// expiry) in between wins, and the reloaded value is dropped. It goes in as a put with no
    /// options (the store's `time_to_live`/`time_to_idle` apply afresh), except that a value
    /// heavier than the whole capacity (with a [`weigher`](Self::weigher)) is dropped and the
    /// entry kept. Entries with a read
    /// budget are never refreshed. [`Store::load_metrics`] counts the reloads (`refreshed`,
    /// `refresh_dropped`, `failed`, ...).
    ///
    /// Wraps the expiry slot's policy in [`Refreshing`], so its entries carry a refresh point
    /// (24 bytes more each); a store built without this carries none and its reads test none.
    /// Call it after [`expiry`](Self::expiry), which would replace the wrapper.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    /// use kv_core::{ManualClock, ReloadJob, Reloader, StoreBuilder};
    ///
    /// let clock = ManualClock::new();
    /// let version = Arc::new(AtomicU64::new(2));
    /// let source = Arc::clone(&version);
    /// let store = StoreBuilder::<String, u64>::new()
    ///     .clock(clock.clone())
    ///     .refresh_after(
    ///         Duration::from_secs(60),
    ///         // Reloads run where `run` says: here, at once, on the reading thread.
    ///         Reloader::sync_with(
    ///             move |_key: &String| Ok::<_, String>(source.load(Ordering::Relaxed)),
    ///             |reload: ReloadJob| reload(),
    ///         ),
    ///     )
    ///     .build();
    /// store.put("config".into(), 1);
    /// clock.advance(Duration::from_secs(60));
    /// assert_eq!(store.get("config"), Some(1)); // the current value; a reload starts
    /// assert_eq!(store.get("config"), Some(2)); // the reloaded one
    /// assert_eq!(store.load_metrics().refreshed, 1);
    /// ```
    pub fn refresh_after(
        self,
        period: Duration,
        reloader: Reloader<K, V>,
    ) -> StoreBuilder<K, V, Slots<Refreshing<X>, E, L>, S> {
        let mut builder = self.retype(
            |Slots {
                 expiry,
                 eviction,
                 listener,
             },
             s| {
                (
                    Slots {
                        expiry: Refreshing::new(expiry, period),
                        eviction,
                        listener,
                    },
                    s,
                )
            },
        );
        builder.reloader = Some(reloader);
        builder
    }
}

impl<K, V, X: DefaultTtl, E, L, S> StoreBuilder<K, V, Slots<X, E, L>, S> {
    /// Puts that name no TTL expire `ttl` after the put (moka's `time_to_live`); a put's own
    /// options win. Replaces an earlier [`time_to_idle`](Self::time_to_idle); `Duration::ZERO`
    /// removes the default. For an expiry slot that takes defaults (`kv_ttl::Ttl`).
    pub fn time_to_live(self, ttl: Duration) -> Self {
        self.map_expiry(|x| x.with_time_to_live(ttl))
    }

    /// Puts that name no TTL expire `idle` after their last successful `get` (a sliding TTL:
    /// moka's `time_to_idle`); a put's own options win. Replaces an earlier
    /// [`time_to_live`](Self::time_to_live); `Duration::ZERO` removes the default.
    pub fn time_to_idle(self, idle: Duration) -> Self {
        self.map_expiry(|x| x.with_time_to_idle(idle))
    }
}

impl<K, V, X, E: Capacity, L, S> StoreBuilder<K, V, Slots<X, E, L>, S> {
    /// The initial capacity (0: unbounded, the default).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.policies.eviction = self.policies.eviction.with_capacity(capacity);
        self
    }

    /// Weighs entries: the capacity then bounds their total weight instead of their number.
    /// Eviction (expired entries first, then the policy's victims) frees room until the
    /// newcomer fits. An entry heavier than the whole capacity is not stored: its put replaces
    /// what the key held all the same and the newcomer counts as evicted at once (one Eviction;
    /// listeners see `Evicted`).
    ///
    /// The store weighs an entry when it is put and again when it leaves, under its shard's
    /// lock: the weigher must be quick, must give the same weight for the same entry every
    /// time, and must not use the store. Weights of 0 are allowed (such entries never fill the
    /// store).
    ///
    /// The `kvstore` crate's docs show a byte-bounded cache (its `Store` has an LRU eviction
    /// policy, which this one needs to fill).
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }
}

impl<K, V, P: Policies<K> + Default, S: Default> Store<K, V, P, S> {
    /// A store with default policies, the system clock and the default hasher.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder starting from the default policies.
    pub fn builder() -> StoreBuilder<K, V, P, S> {
        StoreBuilder::with_parts(P::default(), S::default())
    }
}

impl<K, V, P: Policies<K> + Default, S: Default> Default for Store<K, V, P, S> {
    fn default() -> Self {
        Self::new()
    }
}
