//! The sharded store: every operation, the critical sections, and the policy hooks' call sites.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use crossbeam_utils::CachePadded;

use crate::clock::{Clock, StoreClock, SystemClock};
use crate::metrics::{Counters, Metrics};
use crate::policy::{
    Capacity, EntryRef, EventKind, Eviction, Expiry, Host, Layer, Listener, NEVER, NoEviction,
    NoExpiry, NoListener, Probe, Read,
};
use crate::sync::{self, Arc, AtomicU64, AtomicUsize, Ordering, RwLock};
use crate::table::{At, Slot, Table};
use crate::{KeyQuery, PutOptions};

/// The default hasher: fast, and seeded per store so keys cannot be chosen to collide.
#[cfg(not(kv_loom))]
pub type DefaultHashBuilder = foldhash::fast::RandomState;
/// Under loom every execution must replay identically, so keys must land in the same shards:
/// the hasher's seed is fixed.
#[cfg(kv_loom)]
pub type DefaultHashBuilder = foldhash::fast::FixedState;

type SlotOf<K, V, X, E> = Slot<K, V, <X as Expiry>::State, <E as Eviction>::State>;
type TableOf<K, V, X, E> = Table<K, V, <X as Expiry>::State, <E as Eviction>::State>;

struct Shard<K, V, XS, ES> {
    table: RwLock<Table<K, V, XS, ES>>,
    counters: Counters,
    /// Entries in this shard. Written only under the shard's exclusive lock, so a plain load and
    /// store suffice: an insert writes no line shared across shards and takes no locked
    /// instruction (which would also wait for the new slot's cache miss). Read without the lock
    /// by [`Inner::stored`].
    len: AtomicUsize,
}

impl<K, V, XS, ES> Shard<K, V, XS, ES> {
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
}

type ShardOf<K, V, X, E> = CachePadded<Shard<K, V, <X as Expiry>::State, <E as Eviction>::State>>;

struct Inner<K, V, X: Expiry, E: Eviction, L, S> {
    shards: Box<[ShardOf<K, V, X, E>]>,
    shard_bits: u32,
    hasher: S,
    clock: StoreClock,
    /// The highest recency stamp handed out, as far as sequential uses need to know (see
    /// `Inner::stamp`).
    stamps: CachePadded<AtomicU64>,
    expiry: X,
    eviction: E,
    listener: L,
}

/// A concurrent in-memory key/value store, generic over its policies.
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
pub struct Store<K, V, X = NoExpiry, E = NoEviction, L = NoListener, S = DefaultHashBuilder>
where
    X: Expiry,
    E: Eviction,
{
    inner: Arc<Inner<K, V, X, E, L, S>>,
}

impl<K, V, X: Expiry, E: Eviction, L, S> Clone for Store<K, V, X, E, L, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, X: Expiry, E: Eviction, L, S> fmt::Debug for Store<K, V, X, E, L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field(
                "len",
                &self
                    .inner
                    .shards
                    .iter()
                    .map(|s| s.len.load(Ordering::Relaxed))
                    .sum::<usize>(),
            )
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

/// A [`Store`] handle that does not keep it alive; see [`Store::downgrade`].
#[cfg(not(kv_loom))]
pub struct WeakStore<K, V, X: Expiry, E: Eviction, L, S> {
    inner: sync::Weak<Inner<K, V, X, E, L, S>>,
}

#[cfg(not(kv_loom))]
impl<K, V, X: Expiry, E: Eviction, L, S> Clone for WeakStore<K, V, X, E, L, S> {
    fn clone(&self) -> Self {
        Self {
            inner: sync::Weak::clone(&self.inner),
        }
    }
}

#[cfg(not(kv_loom))]
impl<K, V, X: Expiry, E: Eviction, L, S> fmt::Debug for WeakStore<K, V, X, E, L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakStore")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

#[cfg(not(kv_loom))]
impl<K, V, X: Expiry, E: Eviction, L, S> WeakStore<K, V, X, E, L, S> {
    /// The store, if it still exists.
    pub fn upgrade(&self) -> Option<Store<K, V, X, E, L, S>> {
        self.inner.upgrade().map(|inner| Store { inner })
    }
}

/// Builds a [`Store`]: shards, clock, hasher, and the policies (usually applied as layers).
pub struct StoreBuilder<K, V, X = NoExpiry, E = NoEviction, L = NoListener, S = DefaultHashBuilder>
{
    shards: Option<usize>,
    clock: Option<Box<dyn Clock>>,
    hasher: S,
    expiry: X,
    eviction: E,
    listener: L,
    _kv: PhantomData<fn(K, V)>,
}

impl<K, V> StoreBuilder<K, V> {
    /// A builder with no policies, the system clock and the default hasher.
    pub fn new() -> Self {
        Self {
            shards: None,
            clock: None,
            hasher: DefaultHashBuilder::default(),
            expiry: NoExpiry,
            eviction: NoEviction,
            listener: NoListener,
            _kv: PhantomData,
        }
    }
}

impl<K, V> Default for StoreBuilder<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, X, E, L, S> StoreBuilder<K, V, X, E, L, S> {
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

    /// The key hasher.
    pub fn hasher<S2>(self, hasher: S2) -> StoreBuilder<K, V, X, E, L, S2> {
        StoreBuilder {
            shards: self.shards,
            clock: self.clock,
            hasher,
            expiry: self.expiry,
            eviction: self.eviction,
            listener: self.listener,
            _kv: PhantomData,
        }
    }

    /// The expiry policy (what the TTL layer sets).
    pub fn expiry<X2>(self, expiry: X2) -> StoreBuilder<K, V, X2, E, L, S> {
        StoreBuilder {
            shards: self.shards,
            clock: self.clock,
            hasher: self.hasher,
            expiry,
            eviction: self.eviction,
            listener: self.listener,
            _kv: PhantomData,
        }
    }

    /// The eviction policy (what the LRU layer sets).
    pub fn eviction<E2>(self, eviction: E2) -> StoreBuilder<K, V, X, E2, L, S> {
        StoreBuilder {
            shards: self.shards,
            clock: self.clock,
            hasher: self.hasher,
            expiry: self.expiry,
            eviction,
            listener: self.listener,
            _kv: PhantomData,
        }
    }

    /// The event listener.
    pub fn listener<L2>(self, listener: L2) -> StoreBuilder<K, V, X, E, L2, S> {
        StoreBuilder {
            shards: self.shards,
            clock: self.clock,
            hasher: self.hasher,
            expiry: self.expiry,
            eviction: self.eviction,
            listener,
            _kv: PhantomData,
        }
    }

    /// Applies a layer (a policy's configuration).
    pub fn layer<Y: Layer<Self>>(self, layer: Y) -> Y::Output {
        layer.layer(self)
    }

    /// Builds the store.
    pub fn build(self) -> Store<K, V, X, E, L, S>
    where
        X: Expiry,
        E: Eviction,
    {
        let wanted = self.shards.unwrap_or_else(default_shards).clamp(1, 1 << 16);
        let count = wanted.next_power_of_two();
        let shards = (0..count)
            .map(|_| {
                CachePadded::new(Shard {
                    table: RwLock::new(Table::new()),
                    counters: Counters::default(),
                    len: AtomicUsize::new(0),
                })
            })
            .collect();
        let clock = match self.clock {
            Some(c) => StoreClock::guarded(c),
            None => StoreClock::System(SystemClock::new()),
        };
        Store {
            inner: Arc::new(Inner {
                shards,
                shard_bits: count.trailing_zeros(),
                hasher: self.hasher,
                clock,
                stamps: CachePadded::new(AtomicU64::new(0)),
                expiry: self.expiry,
                eviction: self.eviction,
                listener: self.listener,
            }),
        }
    }
}

fn default_shards() -> usize {
    if cfg!(kv_loom) {
        return 2;
    }
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    (cores * 4).max(16)
}

impl<K, V, X, E, L, S> Store<K, V, X, E, L, S>
where
    X: Expiry + Default,
    E: Eviction + Default,
    L: Default,
    S: Default,
{
    /// A store with default policies, the system clock and the default hasher.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder starting from the default policies.
    pub fn builder() -> StoreBuilder<K, V, X, E, L, S> {
        StoreBuilder {
            shards: None,
            clock: None,
            hasher: S::default(),
            expiry: X::default(),
            eviction: E::default(),
            listener: L::default(),
            _kv: PhantomData,
        }
    }
}

impl<K, V, X, E, L, S> Default for Store<K, V, X, E, L, S>
where
    X: Expiry + Default,
    E: Eviction + Default,
    L: Default,
    S: Default,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, X, E: Capacity, L, S> StoreBuilder<K, V, X, E, L, S> {
    /// The initial capacity (0: unbounded, the default).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.eviction = self.eviction.with_capacity(capacity);
        self
    }
}

impl<K, V, X, E, L, S> Store<K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher + Send + Sync + 'static,
{
    /// Stores `value` under `key` with no options, replacing any entry. Returns the value it
    /// displaced, if that entry was live.
    pub fn put(&self, key: K, value: V) -> Option<V> {
        self.put_with(key, value, &PutOptions::new())
    }

    /// Stores `value` under `key` with `options`, replacing the whole entry (value, deadline,
    /// sliding flag, reads left). Returns the value it displaced, if that entry was live.
    pub fn put_with(&self, key: K, value: V, options: &PutOptions) -> Option<V> {
        let inner = &*self.inner;
        let now = inner.now_for_put(options);
        let hash = inner.hasher.hash_one(&key);
        let shard_index = inner.shard_index(hash);
        let shard = &inner.shards[shard_index];
        let expiry = inner.expiry.new_state(options, now);
        let eviction = inner.eviction.new_state(inner.stamp());
        let deadline = X::deadline(&expiry);
        let stamp = E::stamp(&eviction);
        let (entry, displaced) = {
            let mut table = sync::write(&shard.table);
            let id = table.next_id();
            let slot = Slot {
                key,
                value,
                hash: hash as u32,
                id,
                expiry,
                eviction,
            };
            let found = table.find(hash, |s| s.key == slot.key);
            let (at, displaced) = match found {
                Some(at) => {
                    let Some(old) = table.replace(at, slot) else {
                        unreachable!("a slot just found is in its table");
                    };
                    let key = &old.key;
                    // `now` was read before waiting for the lock: an entry with a deadline that
                    // looks live is checked again at the current time.
                    let expired = X::is_expired(&old.expiry, now)
                        || (X::deadline(&old.expiry) != NEVER
                            && X::is_expired(&old.expiry, inner.now()));
                    if expired {
                        // Overwriting an expired entry reclaims it: its Expiration counts.
                        Counters::bump(&shard.counters.expirations);
                        inner.emit(EventKind::Expired, key);
                        inner.emit(EventKind::Inserted, key);
                        (at, Displaced::Expired(old))
                    } else {
                        inner.emit(EventKind::Replaced, key);
                        (at, Displaced::Live(old))
                    }
                }
                None => {
                    let at = table.insert(slot);
                    shard.grow(1);
                    if let Some(slot) = table.get(at) {
                        inner.emit(EventKind::Inserted, &slot.key);
                    }
                    (at, Displaced::Nothing)
                }
            };
            (EntryRef::new(shard_index as u16, at, id), displaced)
        };
        let host = HostCall::new(inner);
        if deadline != NEVER {
            inner.expiry.track(entry, deadline, &host);
        }
        inner.eviction.admit(entry, stamp, &host);
        if X::USES_CLOCK && inner.expiry.may_have_expired(now) {
            // Incremental reclaiming: a little at every write, so unread entries do not pile up.
            inner.expiry.reclaim(now, 2, &host);
        }
        drop(host);
        match displaced {
            Displaced::Live(old) => Some(old.value),
            Displaced::Expired(_) | Displaced::Nothing => None,
        }
    }

    /// Returns a clone of the value if `key` holds a live entry. A hit refreshes a sliding TTL,
    /// spends one read of a budget (the last read removes the entry) and is a use for LRU.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: KeyQuery<K> + ?Sized,
        V: Clone,
    {
        let inner = &*self.inner;
        let at_start = inner.now_at_start();
        let hash = inner.hasher.hash_one(key);
        let shard = inner.shard(hash);
        {
            let table = sync::read(&shard.table);
            match table.lookup(hash, |s| s.key.borrow() == key) {
                None => {
                    // Reported under the lock, so a put that follows is reported after it.
                    inner.miss(shard, key);
                    drop(table);
                    return None;
                }
                Some((_, slot))
                    if X::read_shared(&slot.expiry, inner.now_for(at_start, &slot.expiry)) =>
                {
                    inner.touch(&slot.eviction);
                    Counters::bump(&shard.counters.hits);
                    inner.emit(EventKind::Hit, &slot.key);
                    return Some(slot.value.clone());
                }
                Some(_) => {}
            }
        }
        // Expired, or a read budget to spend: decide under the exclusive lock.
        let mut table = sync::write(&shard.table);
        let Some((at, slot)) = table.lookup_mut(hash, |s| s.key.borrow() == key) else {
            inner.miss(shard, key);
            drop(table);
            return None;
        };
        let now = inner.now_for(at_start, &slot.expiry);
        match X::read_exclusive(&mut slot.expiry, now) {
            Read::Live => {
                inner.touch(&slot.eviction);
                Counters::bump(&shard.counters.hits);
                inner.emit(EventKind::Hit, &slot.key);
                Some(slot.value.clone())
            }
            Read::Last => {
                Counters::bump(&shard.counters.hits);
                inner.emit(EventKind::Hit, &slot.key);
                let slot = inner
                    .remove(shard, &mut table, at, EventKind::Consumed)
                    .expect("the entry just read is in its table");
                drop(table);
                Some(slot.value)
            }
            Read::Expired => {
                let slot = inner.remove(shard, &mut table, at, EventKind::Expired);
                inner.miss(shard, key);
                drop(table);
                drop(slot);
                None
            }
        }
    }

    /// Whether `key` holds a live entry. Not a read: no hit or miss, no refresh, no budget spent,
    /// no LRU move. An expired entry found here is reclaimed.
    pub fn has<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let now = inner.now();
        let hash = inner.hasher.hash_one(key);
        let shard = inner.shard(hash);
        {
            let table = sync::read(&shard.table);
            match table.lookup(hash, |s| s.key.borrow() == key) {
                None => return false,
                Some((_, slot)) if !X::is_expired(&slot.expiry, now) => return true,
                Some(_) => {}
            }
        }
        // Expired: reclaim it under the exclusive lock, checking again (a put may have won).
        let mut table = sync::write(&shard.table);
        let Some((at, slot)) = table.lookup(hash, |s| s.key.borrow() == key) else {
            return false;
        };
        if !X::is_expired(&slot.expiry, now) {
            return true;
        }
        let slot = inner.remove(shard, &mut table, at, EventKind::Expired);
        drop(table);
        drop(slot);
        false
    }

    /// Removes `key`. Returns `true` if a live entry was removed; an expired entry is reclaimed
    /// (one Expiration) and gives `false`.
    pub fn del<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let now = inner.now();
        let hash = inner.hasher.hash_one(key);
        let shard = inner.shard(hash);
        let mut table = sync::write(&shard.table);
        let Some((at, slot)) = table.lookup(hash, |s| s.key.borrow() == key) else {
            return false;
        };
        let live = !X::is_expired(&slot.expiry, now);
        let why = if live {
            EventKind::Removed
        } else {
            EventKind::Expired
        };
        let slot = inner.remove(shard, &mut table, at, why);
        drop(table);
        drop(slot);
        live
    }

    /// The live keys, in no particular order.
    pub fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        let now = self.inner.now();
        let mut keys = Vec::with_capacity(self.len());
        for shard in self.inner.shards.iter() {
            let table = sync::read(&shard.table);
            keys.extend(
                table
                    .iter()
                    .filter(|s| !X::is_expired(&s.expiry, now))
                    .map(|s| s.key.clone()),
            );
        }
        keys
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::default();
        for shard in self.inner.shards.iter() {
            shard.counters.add_to(&mut m);
        }
        m.current_size = self.inner.stored() as u64;
        m
    }

    /// Entries held in memory (expired ones not yet reclaimed included).
    pub fn len(&self) -> usize {
        self.inner.stored()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reclaims every expired entry now (each one Expiration). Returns how many.
    pub fn purge_expired(&self) -> usize {
        let inner = &*self.inner;
        if !X::USES_CLOCK {
            return 0;
        }
        let now = inner.now();
        let host = HostCall::new(inner);
        inner.expiry.reclaim(now, usize::MAX, &host)
    }

    /// Removes every entry (counted by no counter; listeners see `Cleared`).
    pub fn clear(&self) {
        let inner = &*self.inner;
        for shard in inner.shards.iter() {
            let mut table = sync::write(&shard.table);
            shard.shrink(table.len());
            let slots: Vec<_> = table.take_all().collect();
            if inner.listener.is_active() {
                for s in &slots {
                    inner.listener.on_event(EventKind::Cleared, &s.key);
                }
            }
            drop(table);
            drop(slots);
        }
    }

    /// The store's current time in nanoseconds on its clock (never going backwards).
    pub fn now_nanos(&self) -> u64 {
        self.inner.clock.now()
    }

    /// A handle that does not keep the store alive (for background work such as a sweeper).
    #[cfg(not(kv_loom))]
    pub fn downgrade(&self) -> WeakStore<K, V, X, E, L, S> {
        WeakStore {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The expiry policy.
    pub fn expiry(&self) -> &X {
        &self.inner.expiry
    }

    /// The eviction policy.
    pub fn eviction(&self) -> &E {
        &self.inner.eviction
    }

    /// The listener.
    pub fn listener(&self) -> &L {
        &self.inner.listener
    }

    /// Checks the store's internal bookkeeping: the entry count, that each entry sits in the
    /// shard its key hashes to with the hash bits its index uses, and that every entry is named
    /// by the expiry index and (when bounded) the LRU order with a record no later than its
    /// deadline or stamp. Records name entries by position and a 16-bit id tag, so a stale
    /// record whose tag matches can stand in for a missing one: the check is strong, not
    /// airtight. Meant for tests; takes every lock in turn, so run it while the store is quiet.
    pub fn validate(&self) -> Result<(), String> {
        let inner = &*self.inner;
        let deadlines = records_by_entry(inner.expiry.records());
        let stamps = inner.eviction.records().map(records_by_entry);
        let mut count = 0;
        for (index, shard) in inner.shards.iter().enumerate() {
            let table = sync::read(&shard.table);
            for (at, slot) in table.positions() {
                count += 1;
                let hash = inner.hasher.hash_one(&slot.key);
                if inner.shard_index(hash) != index || hash as u32 != slot.hash {
                    return Err(format!(
                        "entry at {at} in shard {index}: its key's hash says otherwise"
                    ));
                }
                let entry = EntryRef::new(index as u16, at, slot.id);
                let deadline = X::deadline(&slot.expiry);
                if deadline != NEVER
                    && !deadlines
                        .get(&entry)
                        .is_some_and(|r| r.iter().any(|&p| p <= deadline))
                {
                    return Err(format!(
                        "entry {entry:?} with deadline {deadline} missing from the expiry index"
                    ));
                }
                if let Some(stamps) = &stamps {
                    let stamp = E::stamp(&slot.eviction);
                    if !stamps
                        .get(&entry)
                        .is_some_and(|r| r.iter().any(|&p| p <= stamp))
                    {
                        return Err(format!("entry {entry:?} missing from the LRU order"));
                    }
                }
            }
        }
        let len = inner.stored();
        if count != len {
            return Err(format!("counted {count} entries, current size says {len}"));
        }
        Ok(())
    }
}

fn records_by_entry(
    records: Vec<(EntryRef, u64)>,
) -> std::collections::HashMap<EntryRef, Vec<u64>> {
    let mut map = std::collections::HashMap::<EntryRef, Vec<u64>>::new();
    for (e, p) in records {
        map.entry(e).or_default().push(p);
    }
    map
}

impl<K, V, X, E, L, S> Store<K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Capacity,
    L: Listener<K>,
    S: BuildHasher + Send + Sync + 'static,
{
    /// The capacity; 0 is unbounded.
    pub fn capacity(&self) -> usize {
        self.inner.eviction.capacity()
    }

    /// Sets the capacity (0 is unbounded). Shrinking evicts at once, expired entries first, then
    /// the least recently used; each eviction counts.
    pub fn set_capacity(&self, capacity: usize) {
        let inner = &*self.inner;
        let host = HostCall::new(inner);
        inner.eviction.set_capacity(capacity, &host);
    }
}

/// `floor`, or one more than the last stamp this thread took if that is higher: stamps strictly
/// increase within a thread even when racing uses lowered the store's watermark. The memory is
/// per thread, not per store (a use of one store raises the next stamp of another, harmlessly:
/// only the order of stamps within a store matters).
#[inline]
fn above_this_threads_last_stamp(floor: u64) -> u64 {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<u64> = const { Cell::new(0) };
    }
    LAST.with(|last| {
        let stamp = floor.max(last.get().saturating_add(1));
        last.set(stamp);
        stamp
    })
}

/// What a `put` found under its key.
enum Displaced<T> {
    Nothing,
    Live(T),
    Expired(T),
}

impl<K, V, X, E, L, S> Inner<K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher,
{
    /// Entries held, across shards (expired ones not yet reclaimed included): exact while the
    /// store is quiet, a snapshot of each shard in turn while it is not.
    fn stored(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.len.load(Ordering::Relaxed))
            .sum()
    }

    #[inline]
    fn now(&self) -> u64 {
        if X::USES_CLOCK { self.clock.now() } else { 0 }
    }

    /// The time at the start of a read, when it must be taken there: any clock but the
    /// system's is read at every operation, because each reading raises the store's high-water
    /// mark of time (a clock set backwards must not revive anything). `None` on the system
    /// clock: see [`Inner::now_for`].
    #[inline]
    fn now_at_start(&self) -> Option<u64> {
        match self.clock {
            StoreClock::System(_) if X::USES_CLOCK => None,
            _ => Some(self.now()),
        }
    }

    /// The time a put with `options` needs. On the system clock a put without a TTL into a
    /// store where no entry has a deadline needs none (0): nothing it replaces or makes room
    /// for can be expired (see [`Inner::now_for`] for why the clock is worth skipping).
    #[inline]
    fn now_for_put(&self, options: &PutOptions) -> u64 {
        match self.clock {
            StoreClock::System(_)
                if X::USES_CLOCK
                    && options.ttl().is_none()
                    && !self.expiry.may_have_expired(NEVER - 1) =>
            {
                0
            }
            _ => self.now(),
        }
    }

    /// The time a read of an entry with this expiry state needs. On the system clock an entry
    /// without a deadline needs none (0): reading that clock fences the CPU (`lfence; rdtsc` on
    /// x86), which kept memory-bound reads from overlapping and made a plain `get` several
    /// times slower.
    #[inline]
    fn now_for(&self, at_start: Option<u64>, state: &X::State) -> u64 {
        match at_start {
            Some(now) => now,
            None if X::deadline(state) == NEVER => 0,
            None => self.clock.now(),
        }
    }

    /// The recency stamp of a use: one more than both the last stamp this thread took and the
    /// store's watermark, which it then raises. Plain loads and stores: no clock read and no
    /// locked instruction on the hot path. Sequential uses are ordered exactly, on one thread or
    /// handed over between threads (a use that happens after another sees its watermark);
    /// racing uses may tie or lower the watermark, which only makes concurrent recency
    /// approximate, as the contract allows.
    #[inline]
    fn stamp(&self) -> u64 {
        if !E::TRACKS_RECENCY {
            return 0;
        }
        let seen = self.stamps.load(Ordering::Relaxed);
        let stamp = above_this_threads_last_stamp(seen.saturating_add(1));
        self.stamps.store(stamp, Ordering::Relaxed);
        stamp
    }

    #[inline]
    fn touch(&self, state: &E::State) {
        if E::TRACKS_RECENCY {
            self.eviction.touch(state, self.stamp());
        }
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        // A shard's index uses the hash's low 32 bits; take bits well above them (those just
        // below the top seven, which the hashbrown table this replaced used).
        ((hash << 7) >> 7 >> (57 - self.shard_bits)) as usize & ((1 << self.shard_bits) - 1)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &ShardOf<K, V, X, E> {
        &self.shards[self.shard_index(hash)]
    }

    /// Removes an entry found under the shard's exclusive lock, keeping the books: the size, the
    /// counter of `why` (an Expiration or an Eviction; a consumed or deleted entry counts none)
    /// and the event. The caller drops the slot once the lock is released.
    fn remove(
        &self,
        shard: &ShardOf<K, V, X, E>,
        table: &mut TableOf<K, V, X, E>,
        at: At,
        why: EventKind,
    ) -> Option<SlotOf<K, V, X, E>> {
        let slot = table.remove(at)?;
        shard.shrink(1);
        match why {
            EventKind::Expired => Counters::bump(&shard.counters.expirations),
            EventKind::Evicted => Counters::bump(&shard.counters.evictions),
            _ => {}
        }
        self.emit(why, &slot.key);
        Some(slot)
    }

    #[inline]
    fn emit(&self, kind: EventKind, key: &K) {
        if self.listener.is_active() {
            self.listener.on_event(kind, key);
        }
    }

    fn miss<Q: KeyQuery<K> + ?Sized>(&self, shard: &ShardOf<K, V, X, E>, key: &Q) {
        Counters::bump(&shard.counters.misses);
        if self.listener.is_active() {
            self.listener.on_event(EventKind::Miss, &key.to_key());
        }
    }
}

/// The store as its policies see it during one call. Entries it removes are kept here and dropped
/// when the call is over, after every lock is released, so a value's `Drop` never runs under one.
struct HostCall<'a, K, V, X: Expiry, E: Eviction, L, S> {
    inner: &'a Inner<K, V, X, E, L, S>,
    /// The first entry removed: a put evicts one at most, and keeping it here spares a `Vec`
    /// allocation per evicting put.
    first_removed: RefCell<Option<SlotOf<K, V, X, E>>>,
    graveyard: RefCell<Vec<SlotOf<K, V, X, E>>>,
}

impl<'a, K, V, X: Expiry, E: Eviction, L, S> HostCall<'a, K, V, X, E, L, S> {
    fn new(inner: &'a Inner<K, V, X, E, L, S>) -> Self {
        Self {
            inner,
            first_removed: RefCell::new(None),
            graveyard: RefCell::new(Vec::new()),
        }
    }

    /// Keeps a removed entry until the call is over.
    fn bury(&self, slot: Option<SlotOf<K, V, X, E>>) {
        let Some(slot) = slot else { return };
        let mut first = self.first_removed.borrow_mut();
        if first.is_none() {
            *first = Some(slot);
        } else {
            self.graveyard.borrow_mut().push(slot);
        }
    }
}

impl<K, V, X, E, L, S> Host for HostCall<'_, K, V, X, E, L, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    X: Expiry,
    E: Eviction,
    L: Listener<K>,
    S: BuildHasher,
{
    fn stored(&self) -> usize {
        self.inner.stored()
    }

    fn reclaim_if_expired(&self, entry: EntryRef, now: u64) -> Probe {
        let inner = self.inner;
        let Some(shard) = inner.shards.get(entry.shard()) else {
            return Probe::Gone;
        };
        let mut table = sync::write(&shard.table);
        let at = entry.at();
        let Some(slot) = table.get(at).filter(|s| entry.matches(s.id)) else {
            return Probe::Gone;
        };
        let deadline = X::deadline(&slot.expiry);
        if deadline == NEVER {
            // A record left by an entry whose position a newcomer without TTL took: the newcomer
            // needs no record in the expiry index.
            return Probe::Gone;
        }
        if deadline > now {
            return Probe::Requeue(deadline);
        }
        let slot = inner.remove(shard, &mut table, at, EventKind::Expired);
        drop(table);
        self.bury(slot);
        Probe::Removed
    }

    fn evict_if_unused_since(&self, entry: EntryRef, stamp: u64, capacity: usize) -> Probe {
        let inner = self.inner;
        let Some(shard) = inner.shards.get(entry.shard()) else {
            return Probe::Gone;
        };
        let mut table = sync::write(&shard.table);
        let at = entry.at();
        let Some(slot) = table.get(at).filter(|s| entry.matches(s.id)) else {
            return Probe::Gone;
        };
        let current = E::stamp(&slot.eviction);
        if current > stamp {
            return Probe::Requeue(current);
        }
        if inner.stored() <= capacity {
            return Probe::Enough;
        }
        // A victim that expired while the evictor waited is an Expiration, not an Eviction.
        let expired =
            X::deadline(&slot.expiry) != NEVER && X::is_expired(&slot.expiry, inner.now());
        let why = if expired {
            EventKind::Expired
        } else {
            EventKind::Evicted
        };
        let slot = inner.remove(shard, &mut table, at, why);
        drop(table);
        self.bury(slot);
        Probe::Removed
    }

    fn reclaim_one_expired(&self) -> bool {
        // No entry with a deadline, no clock read: eviction asks this at every victim.
        if !X::USES_CLOCK || !self.inner.expiry.may_have_expired(NEVER - 1) {
            return false;
        }
        let now = self.inner.now();
        self.inner.expiry.may_have_expired(now) && self.inner.expiry.reclaim(now, 1, self) == 1
    }

    fn scan_deadlines(&self, f: &mut dyn FnMut(EntryRef, u64)) {
        for (index, shard) in self.inner.shards.iter().enumerate() {
            let table = sync::read(&shard.table);
            for (at, s) in table.positions() {
                let deadline = X::deadline(&s.expiry);
                if deadline != NEVER {
                    f(EntryRef::new(index as u16, at, s.id), deadline);
                }
            }
        }
    }

    fn scan_stamps(&self, f: &mut dyn FnMut(EntryRef, u64)) {
        for (index, shard) in self.inner.shards.iter().enumerate() {
            // Exclusive, though it only reads: a use stores its stamp with a plain load and store
            // under the shared lock, so a racing use can lower a stamp just read here, leaving a
            // record above its entry's stamp. The exclusive lock waits those uses out.
            let table = sync::write(&shard.table);
            for (at, s) in table.positions() {
                f(EntryRef::new(index as u16, at, s.id), E::stamp(&s.eviction));
            }
        }
    }
}

impl<K, V, X, E, L, S> crate::Backend for Store<K, V, X, E, L, S>
where
    K: Hash + Eq + Ord + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    X: Expiry,
    E: Capacity,
    L: Listener<K>,
    S: BuildHasher + Send + Sync + 'static,
{
    type Key = K;
    type Value = V;
    type Options = PutOptions;
    type Error = std::convert::Infallible;

    fn put(&self, key: K, value: V, options: &PutOptions) -> Result<(), Self::Error> {
        self.put_with(key, value, options);
        Ok(())
    }
    fn get(&self, key: &K) -> Result<Option<V>, Self::Error> {
        Ok(Store::get(self, key))
    }
    fn has(&self, key: &K) -> Result<bool, Self::Error> {
        Ok(Store::has(self, key))
    }
    fn del(&self, key: &K) -> Result<bool, Self::Error> {
        Ok(Store::del(self, key))
    }
    fn keys(&self) -> Result<Vec<K>, Self::Error> {
        Ok(Store::keys(self))
    }
    fn metrics(&self) -> Result<Metrics, Self::Error> {
        Ok(Store::metrics(self))
    }
    fn purge_expired(&self) -> Result<usize, Self::Error> {
        Ok(Store::purge_expired(self))
    }
    fn capacity(&self) -> Result<usize, Self::Error> {
        Ok(Store::capacity(self))
    }
    fn set_capacity(&self, capacity: usize) -> Result<(), Self::Error> {
        Store::set_capacity(self, capacity);
        Ok(())
    }
    fn clear(&self) -> Result<(), Self::Error> {
        Store::clear(self);
        Ok(())
    }
    fn dump(&self) -> Result<crate::Dump<K>, Self::Error> {
        let mut keys = Store::keys(self);
        keys.sort_unstable();
        Ok(crate::Dump {
            keys,
            metrics: Store::metrics(self),
        })
    }
}
