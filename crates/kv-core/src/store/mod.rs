//! The sharded store: its shards and their books. The operations are in `put`, `read`,
//! `remove` and `whole` (the store as a whole), get-or-insert in `load`, the builder in
//! `builder`, time in `time`, what policies may ask of the store in `host`, operations over every
//! entry in `visit`, the self-check in `validate`, and the `Backend` trait's implementation in
//! `contract`.

use std::fmt;

use crossbeam_utils::CachePadded;

use crate::KeyQuery;
use crate::clock::StoreClock;
use crate::metrics::Counters;
use crate::policy::{EventKind, Eviction, Expiry, Listener, Policies, Slots};
use crate::removal::{RemovalCause, Removals};
use crate::sync::{self, Arc, AtomicU64, AtomicUsize, Ordering, RwLock};
use crate::table::{At, Slot, Table};

mod builder;
mod contract;
mod host;
mod load;
mod load_async;
mod put;
mod read;
mod refresh;
mod remove;
mod time;
mod validate;
mod visit;
mod whole;

pub use builder::StoreBuilder;
pub use read::Refused;
pub use refresh::{ReloadFuture, ReloadJob, Reloader};
pub use sync::DefaultHashBuilder;
pub use visit::Iter;

/// The per-entry states of a store's policies `P`.
type ExpiryState<K, P> = <<P as Policies<K>>::Expiry as Expiry>::State;
type EvictionState<K, P> = <<P as Policies<K>>::Eviction as Eviction>::State;

type SlotOf<K, V, P> = Slot<K, V, ExpiryState<K, P>, EvictionState<K, P>>;
type TableOf<K, V, P> = Table<K, V, ExpiryState<K, P>, EvictionState<K, P>>;
type ShardOf<K, V, P> = CachePadded<
    Shard<
        K,
        V,
        ExpiryState<K, P>,
        EvictionState<K, P>,
        <<P as Policies<K>>::Eviction as Eviction>::Shard,
    >,
>;

struct Shard<K, V, XS, ES, EP> {
    table: RwLock<Table<K, V, XS, ES>>,
    /// The eviction policy's state for this shard (kv-lru: its recency clock).
    eviction: EP,
    counters: Counters,
    /// Entries in this shard. Written only under the shard's exclusive lock, so a plain load and
    /// store suffice: an insert writes no line shared across shards and takes no locked
    /// instruction (which would also wait for the new slot's cache miss). Read without the lock
    /// by [`Inner::stored`].
    len: AtomicUsize,
    /// The entries' total weight, kept (like `len`) only when the store has a weigher.
    weight: AtomicU64,
}

impl<K, V, XS, ES, EP: Default> Shard<K, V, XS, ES, EP> {
    fn new() -> Self {
        Self {
            table: RwLock::new(Table::new()),
            eviction: EP::default(),
            counters: Counters::default(),
            len: AtomicUsize::new(0),
            weight: AtomicU64::new(0),
        }
    }

    /// Counts `n` entries in; call under the exclusive lock.
    #[inline]
    fn grow(&self, n: usize) {
        self.len
            .store(self.len.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Counts `n` entries out; call under the exclusive lock.
    #[inline]
    fn shrink(&self, n: usize) {
        self.len
            .store(self.len.load(Ordering::Relaxed) - n, Ordering::Relaxed);
    }

    /// Adds `added` to the weight and takes `removed` off; call under the exclusive lock.
    #[inline]
    fn reweigh(&self, added: u64, removed: u64) {
        let weight = self.weight.load(Ordering::Relaxed);
        self.weight.store(
            weight.saturating_add(added).saturating_sub(removed),
            Ordering::Relaxed,
        );
    }
}

/// What weighs an entry: the user's weigher.
pub(super) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u64 + Send + Sync>;

/// What is left of an entry removed under its shard lock, for the caller to finish with after
/// releasing the lock: the policies' summaries of it, and the key and value (dropped then, so a value's
/// `Drop` never runs under a lock) unless the removal listener took them.
pub(super) struct Gone<K, V, XS, ES> {
    expiry: XS,
    eviction: ES,
    /// Dropped with the `Gone`.
    _key: Option<K>,
    value: Option<V>,
}

impl<K, V, XS: Copy, ES> Gone<K, V, XS, ES> {
    /// The expiry policy's summary of the entry removed.
    pub(super) fn expiry(&self) -> XS {
        self.expiry
    }
}

impl<K, V, XS, ES> Gone<K, V, XS, ES> {
    /// The value, if the removal kept it for the caller (or no listener took it).
    pub(super) fn into_value(self) -> Option<V> {
        self.value
    }
}

type GoneOf<K, V, P> = Gone<
    K,
    V,
    <<P as Policies<K>>::Expiry as Expiry>::Summary,
    <<P as Policies<K>>::Eviction as Eviction>::Summary,
>;

/// Which store a handle belongs to: the same for every clone of one store, different for any two
/// stores built in one process (never reused). For bookkeeping across stores, such as the
/// facade's registry of stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreId(u64);

impl StoreId {
    fn next() -> Self {
        #[allow(
            clippy::disallowed_types,
            reason = "numbering stores is process-wide bookkeeping, outside every loom model"
        )]
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

struct Inner<K, V, P: Policies<K>, S> {
    id: StoreId,
    shards: Box<[ShardOf<K, V, P>]>,
    /// The loader locks of get-or-insert, by key hash (see `load`).
    loaders: Box<[CachePadded<sync::Mutex<()>>]>,
    shard_bits: u32,
    hasher: S,
    clock: StoreClock,
    expiry: P::Expiry,
    eviction: P::Eviction,
    listener: P::Listener,
    /// The removal listener, if any (boxed: a store without one pays a pointer's test on removals
    /// only).
    removals: Option<Box<Removals<K, V>>>,
    /// The weigher, if any: capacity then bounds the entries' total weight.
    weigher: Option<Weigher<K, V>>,
    /// The async loads in flight, by key (see `load_async`).
    flights: crate::flight::Flights<K>,
    /// What the loaders ran, sync and async.
    loads: crate::loads::LoadCounters,
    /// What reloads entries past their refresh point (see `refresh`), if the store refreshes.
    reloader: Option<Reloader<K, V>>,
}

/// A concurrent in-memory key/value store, generic over its policies `P` (an expiry policy, an
/// eviction policy and a listener: [`Slots`] by default, none of them) and its hasher `S`.
///
/// Every method takes `&self`; clones share the same store. Users normally name a concrete stack
/// from the `kvstore` crate; this type is the engine underneath.
///
/// ```
/// use kv_core::Store;
///
/// let store: Store<String, u64> = Store::new();
/// store.put("a".to_string(), 1);
/// assert_eq!(store.get("a"), Some(1));
/// assert!(store.del("a"));
/// assert_eq!(store.get("a"), None);
/// assert_eq!(store.metrics().hits, 1);
/// ```
pub struct Store<K, V, P: Policies<K> = Slots, S = DefaultHashBuilder> {
    inner: Arc<Inner<K, V, P, S>>,
}

impl<K, V, P: Policies<K>, S> Clone for Store<K, V, P, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, P: Policies<K>, S> fmt::Debug for Store<K, V, P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("len", &self.inner.stored())
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

/// A [`Store`] handle that does not keep it alive; see [`Store::downgrade`].
#[cfg(not(kv_loom))]
pub struct WeakStore<K, V, P: Policies<K>, S> {
    inner: sync::Weak<Inner<K, V, P, S>>,
}

#[cfg(not(kv_loom))]
impl<K, V, P: Policies<K>, S> Clone for WeakStore<K, V, P, S> {
    fn clone(&self) -> Self {
        Self {
            inner: sync::Weak::clone(&self.inner),
        }
    }
}

#[cfg(not(kv_loom))]
impl<K, V, P: Policies<K>, S> fmt::Debug for WeakStore<K, V, P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakStore")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

#[cfg(not(kv_loom))]
impl<K, V, P: Policies<K>, S> WeakStore<K, V, P, S> {
    /// The store, if it still exists.
    pub fn upgrade(&self) -> Option<Store<K, V, P, S>> {
        self.inner.upgrade().map(|inner| Store { inner })
    }
}

impl<K, V, P: Policies<K>, S> Inner<K, V, P, S> {
    /// Entries held, across shards (expired ones not yet reclaimed included): exact while the
    /// store is quiet, a snapshot of each shard in turn while it is not.
    fn stored(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.len.load(Ordering::Relaxed))
            .sum()
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        // A shard's index uses the hash's low 32 bits; take bits well above them (those just
        // below the top seven, which the hashbrown table this replaced used).
        ((hash << 7) >> 7 >> (57 - self.shard_bits)) as usize & ((1 << self.shard_bits) - 1)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &ShardOf<K, V, P> {
        &self.shards[self.shard_index(hash)]
    }

    /// Removes an entry found under the shard's exclusive lock, keeping the books: the size and
    /// weight, the counter of `cause` (an Expiration or an Eviction; other causes count none),
    /// the event and the removal listener's notification. `keep_value`: the caller returns the
    /// value (the listener then gets a copy).
    fn remove(
        &self,
        shard: &ShardOf<K, V, P>,
        table: &mut TableOf<K, V, P>,
        at: At,
        cause: RemovalCause,
        keep_value: bool,
    ) -> Option<GoneOf<K, V, P>> {
        let slot = table.remove(at)?;
        shard.shrink(1);
        match cause {
            RemovalCause::Expired => Counters::bump(&shard.counters.expirations),
            RemovalCause::Evicted => Counters::bump(&shard.counters.evictions),
            _ => {}
        }
        Some(self.finish_removal(shard, slot, cause, keep_value))
    }

    /// Finishes the books of an entry that left its table (under the shard's exclusive lock),
    /// other than its size and counters: its weight, its event, and the removal listener's
    /// notification. Returns what is left of it.
    fn finish_removal(
        &self,
        shard: &ShardOf<K, V, P>,
        slot: SlotOf<K, V, P>,
        cause: RemovalCause,
        keep_value: bool,
    ) -> GoneOf<K, V, P> {
        if let Some(weigher) = &self.weigher {
            shard.reweigh(0, weigher(&slot.key, &slot.value));
        }
        self.emit(cause.event(), &slot.key);
        let (expiry, eviction) = (
            P::Expiry::summary(&slot.expiry),
            P::Eviction::summary(&slot.eviction),
        );
        let Slot { key, value, .. } = slot;
        let (key, value) = match &self.removals {
            None => (Some(key), Some(value)),
            Some(removals) if keep_value => {
                removals.push_copy(key, &value, cause);
                (None, Some(value))
            }
            Some(removals) => {
                removals.push(key, value, cause);
                (None, None)
            }
        };
        Gone {
            expiry,
            eviction,
            _key: key,
            value,
        }
    }

    /// Delivers the removal listener's notifications (call with no store lock held).
    #[inline]
    fn deliver_removals(&self) {
        if let Some(removals) = &self.removals {
            removals.deliver();
        }
    }

    /// What capacity bounds: the entries, or their total weight when the store has a weigher.
    fn occupancy(&self) -> usize {
        if self.weigher.is_none() {
            return self.stored();
        }
        let weight: u64 = self
            .shards
            .iter()
            .map(|s| s.weight.load(Ordering::Relaxed))
            .fold(0, u64::saturating_add);
        usize::try_from(weight).unwrap_or(usize::MAX)
    }

    #[inline]
    fn emit(&self, kind: EventKind, key: &K) {
        if self.listener.is_active() {
            self.listener.on_event(kind, key);
        }
    }

    fn miss<Q: KeyQuery<K> + ?Sized>(&self, shard: &ShardOf<K, V, P>, key: &Q) {
        Counters::bump(&shard.counters.misses);
        if self.listener.is_active() {
            self.listener.on_event(EventKind::Miss, &key.to_key());
        }
    }
}
