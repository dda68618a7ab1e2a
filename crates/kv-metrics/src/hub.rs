//! Live event subscriptions: [`EventHub`] is the store's [`Listener`] that fans events out to
//! bounded channels, one per [`Subscription`].
//!
//! Costs, by design:
//! - With no subscriber, each store operation pays one relaxed load of a counter on its own cache
//!   line, which nothing writes until someone subscribes.
//! - With subscribers, an event is offered to each with `try_send`: the store never blocks on a
//!   slow subscriber. A full buffer loses the event, counted for that subscriber with one
//!   relaxed increment; the subscriber list is read through a `ShardedLock`, whose read side
//!   touches only the calling thread's shard, so threads do not contend on it.
//! - Events are offered inside the store's critical section for the key, so events for one key
//!   arrive in the order they happened.

use std::fmt;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
pub use crossbeam_channel::{RecvTimeoutError, TryRecvError};
use crossbeam_utils::CachePadded;
use crossbeam_utils::sync::ShardedLock;
use kv_core::sync::{Arc, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use kv_core::{EventKind, Listener, Policies, Store};

use crate::event::{Event, Namespace};

/// Events a subscription buffers before it starts losing them, unless asked otherwise.
pub const DEFAULT_BUFFER: usize = 1024;

/// A store's event listener that hands out [`Subscription`]s.
///
/// Give it to a store as its listener (the `kvstore` facade does this for every store); then
/// [`subscribe`](EventHub::subscribe) through [`Store::listener`] or the [`Subscribe`] trait.
///
/// ```
/// use kv_core::{EventKind, StoreBuilder};
/// use kv_metrics::{EventHub, Subscribe};
///
/// let store = StoreBuilder::<String, u32>::new().listener(EventHub::new("pipeline/node")).build();
/// let events = store.subscribe();
/// store.put("a".into(), 1);
/// let _ = store.get("a");
/// let _ = store.get("b");
/// let seen: Vec<_> = events.try_iter().map(|e| (e.kind, e.key)).collect();
/// assert_eq!(seen, [
///     (EventKind::Inserted, "a".to_string()),
///     (EventKind::Hit, "a".to_string()),
///     (EventKind::Miss, "b".to_string()),
/// ]);
/// ```
pub struct EventHub<K> {
    /// Live subscribers. Read by every store operation, written only when the set changes.
    count: CachePadded<AtomicUsize>,
    namespace: Namespace,
    /// Read at every event, written when the set changes: a lock whose readers share nothing.
    subscribers: ShardedLock<Vec<Subscriber<K>>>,
}

/// The sending side of one subscription.
struct Subscriber<K> {
    sender: Sender<Event<K>>,
    losses: Arc<Losses>,
    /// How each event gets its own key: `K::clone`, captured when subscribing, so only a store
    /// that hands out subscriptions needs `K: Clone` (the hub listens to every store).
    clone_key: fn(&K) -> K,
}

/// What one subscriber lost, shared with its [`Subscription`].
#[derive(Default)]
struct Losses {
    /// Lost since the last event that reached the subscriber: reported with the next one. A
    /// loss costs one increment of this counter and nothing else.
    unreported: AtomicU64,
    /// Lost and already reported in an event's `missed_before` (the total is both counters).
    reported: AtomicU64,
    /// The subscription was dropped: the hub forgets it at the next event.
    gone: AtomicBool,
}

impl<K> EventHub<K> {
    /// A hub for the store of `namespace` (`""` for a store without one).
    pub fn new(namespace: &str) -> Self {
        Self {
            count: CachePadded::new(AtomicUsize::new(0)),
            namespace: Namespace::from(namespace),
            subscribers: ShardedLock::new(Vec::new()),
        }
    }

    /// The namespace every event carries.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Subscriptions that were alive at the last event (a dropped one is noticed at the next).
    pub fn subscribers(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Forgets subscriptions that were dropped.
    fn prune(&self) {
        let mut subscribers = write(&self.subscribers);
        subscribers.retain(|s| !s.losses.gone.load(Ordering::Relaxed));
        self.count.store(subscribers.len(), Ordering::Relaxed);
    }
}

/// Subscribing: each event carries its own copy of the key, so keys must be `Clone` here (and
/// only here).
impl<K: Clone> EventHub<K> {
    /// A new subscription buffering up to [`DEFAULT_BUFFER`] events.
    pub fn subscribe(&self) -> Subscription<K> {
        self.subscribe_with_buffer(DEFAULT_BUFFER)
    }

    /// A new subscription buffering up to `buffer` events (at least 1). It receives every event
    /// from now on, except those that arrive while its buffer is full, which it is told about.
    pub fn subscribe_with_buffer(&self, buffer: usize) -> Subscription<K> {
        let (sender, receiver) = crossbeam_channel::bounded(buffer.max(1));
        let losses = Arc::new(Losses::default());
        let mut subscribers = write(&self.subscribers);
        subscribers.push(Subscriber {
            sender,
            losses: Arc::clone(&losses),
            clone_key: K::clone,
        });
        self.count.store(subscribers.len(), Ordering::Relaxed);
        drop(subscribers);
        Subscription {
            receiver,
            losses,
            namespace: Namespace::clone(&self.namespace),
        }
    }
}

impl<K> Default for EventHub<K> {
    /// A hub without a namespace, as the default store has.
    fn default() -> Self {
        Self::new("")
    }
}

impl<K> fmt::Debug for EventHub<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHub")
            .field("namespace", &self.namespace)
            .field("subscribers", &self.subscribers())
            .finish()
    }
}

impl<K: Send + Sync + 'static> Listener<K> for EventHub<K> {
    #[inline]
    fn is_active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    fn on_event(&self, kind: EventKind, key: &K) {
        let mut someone_left = false;
        let subscribers = self
            .subscribers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for subscriber in subscribers.iter() {
            someone_left |= !subscriber.offer(kind, key, &self.namespace);
        }
        drop(subscribers);
        if someone_left {
            self.prune();
        }
    }
}

impl<K> Subscriber<K> {
    /// Offers one event without blocking; `false` when the subscription is gone.
    fn offer(&self, kind: EventKind, key: &K, namespace: &Namespace) -> bool {
        let losses = &*self.losses;
        if losses.gone.load(Ordering::Relaxed) {
            return false;
        }
        if self.sender.is_full() {
            // Lost without building it: a subscriber that never reads costs one counter.
            losses.unreported.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        // Only write the shared counter when there is something to report.
        let missed_before = match losses.unreported.load(Ordering::Relaxed) {
            0 => 0,
            _ => losses.unreported.swap(0, Ordering::Relaxed),
        };
        let event = Event {
            kind,
            key: (self.clone_key)(key),
            namespace: Namespace::clone(namespace),
            missed_before,
        };
        match self.sender.try_send(event) {
            Ok(()) => {
                if missed_before != 0 {
                    losses.reported.fetch_add(missed_before, Ordering::Relaxed);
                }
                true
            }
            Err(TrySendError::Full(_)) => {
                // Give back the losses this event was to report, plus itself.
                losses
                    .unreported
                    .fetch_add(missed_before + 1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => {
                losses.gone.store(true, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Takes the hub's write side, ignoring poisoning: the list stays consistent whatever panicked.
fn write<T>(lock: &ShardedLock<T>) -> crossbeam_utils::sync::ShardedLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Events from one store, as they happen. Dropping it unsubscribes.
///
/// The buffer is bounded: while it is full, new events are lost rather than slowing the store.
/// Each lost event is counted: [`missed`](Subscription::missed) gives the total, and the next
/// event that gets through says how many were lost just before it
/// ([`Event::missed_before`]).
pub struct Subscription<K> {
    receiver: Receiver<Event<K>>,
    losses: Arc<Losses>,
    namespace: Namespace,
}

impl<K> Subscription<K> {
    /// Waits for the next event. `None` once the store is gone and every event was received.
    pub fn recv(&self) -> Option<Event<K>> {
        self.receiver.recv().ok()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Result<Event<K>, TryRecvError> {
        self.receiver.try_recv()
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event<K>, RecvTimeoutError> {
        self.receiver.recv_timeout(timeout)
    }

    /// The events waiting now, without blocking.
    pub fn try_iter(&self) -> impl Iterator<Item = Event<K>> + '_ {
        self.receiver.try_iter()
    }

    /// Every event, blocking between them, until the store is gone.
    pub fn iter(&self) -> impl Iterator<Item = Event<K>> + '_ {
        self.receiver.iter()
    }

    /// Events lost because the buffer was full, since the subscription was made. Exact once the
    /// store is quiet; while events flow it can lag by the losses an event is carrying.
    pub fn missed(&self) -> u64 {
        self.losses.reported.load(Ordering::Relaxed)
            + self.losses.unreported.load(Ordering::Relaxed)
    }

    /// Events waiting to be received.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }

    /// How many events the subscription buffers before it starts losing them.
    pub fn buffer(&self) -> usize {
        self.receiver.capacity().unwrap_or(usize::MAX)
    }

    /// The namespace of the store it listens to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The channel itself, for `crossbeam_channel::select!` over several subscriptions.
    pub fn receiver(&self) -> &Receiver<Event<K>> {
        &self.receiver
    }
}

impl<K> Drop for Subscription<K> {
    fn drop(&mut self) {
        self.losses.gone.store(true, Ordering::Relaxed);
    }
}

impl<K> fmt::Debug for Subscription<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("namespace", &self.namespace)
            .field("waiting", &self.len())
            .field("missed", &self.missed())
            .finish()
    }
}

/// Subscribing to a store whose listener is an [`EventHub`].
pub trait Subscribe<K> {
    /// A new subscription buffering up to [`DEFAULT_BUFFER`] events.
    fn subscribe(&self) -> Subscription<K>;
    /// A new subscription buffering up to `buffer` events (at least 1).
    fn subscribe_with_buffer(&self, buffer: usize) -> Subscription<K>;
}

impl<K: Clone, V, P: Policies<K, Listener = EventHub<K>>, S> Subscribe<K> for Store<K, V, P, S> {
    fn subscribe(&self) -> Subscription<K> {
        self.listener().subscribe()
    }

    fn subscribe_with_buffer(&self, buffer: usize) -> Subscription<K> {
        self.listener().subscribe_with_buffer(buffer)
    }
}
