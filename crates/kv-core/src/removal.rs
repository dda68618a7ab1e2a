//! The removal listener: a user's callback told of every entry that leaves the store, with its
//! key, its value and why, outside every store lock.
//!
//! An operation that removes an entry hands key and value to a queue while it still holds the
//! entry's shard lock, so the queue has one key's removals in the order they happened. When the
//! operation has released its locks it delivers the queue: one thread delivers at a time, in
//! queue order, so the listener sees one key's removals in order and is never called twice at
//! once. A thread that finds another delivering leaves its notifications to that thread, which
//! stops only when it finds the queue empty (the flag and the queue share one lock, so none is
//! stranded), and goes on: a listener that calls back into the store cannot deadlock it.

use std::collections::VecDeque;
use std::fmt;

use crate::policy::EventKind;
use crate::sync::{self, Mutex};

/// Why an entry left the store, as a removal listener is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// It expired (found by a read, `has`, a put over it, eviction, or reclaiming).
    Expired,
    /// It was evicted to respect the capacity (or it weighed more than the whole capacity).
    Evicted,
    /// `del`, `remove` or `retain` removed it.
    Deleted,
    /// The last read of its read budget used it up.
    Consumed,
    /// A `put` of the same key replaced it.
    Replaced,
    /// `clear` removed it.
    Cleared,
}

impl RemovalCause {
    /// Whether the store removed the entry on its own (it expired, was evicted, or was used
    /// up) rather than because a caller asked for this key or for every key.
    pub fn was_automatic(self) -> bool {
        matches!(self, Self::Expired | Self::Evicted | Self::Consumed)
    }

    /// The event an event listener sees for the same removal.
    pub(crate) fn event(self) -> EventKind {
        match self {
            Self::Expired => EventKind::Expired,
            Self::Evicted => EventKind::Evicted,
            Self::Deleted => EventKind::Removed,
            Self::Consumed => EventKind::Consumed,
            Self::Replaced => EventKind::Replaced,
            Self::Cleared => EventKind::Cleared,
        }
    }
}

impl fmt::Display for RemovalCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Expired => "expired",
            Self::Evicted => "evicted",
            Self::Deleted => "deleted",
            Self::Consumed => "consumed",
            Self::Replaced => "replaced",
            Self::Cleared => "cleared",
        })
    }
}

type Callback<K, V> = Box<dyn Fn(K, V, RemovalCause) + Send + Sync>;

/// A store's removal listener and the notifications waiting for it.
pub(crate) struct Removals<K, V> {
    listener: Callback<K, V>,
    /// Copies a value that the removing operation also returns (a put's displaced value,
    /// `remove`, a read that uses the entry up).
    copy: fn(&V) -> V,
    queue: Mutex<Queue<K, V>>,
}

struct Queue<K, V> {
    waiting: VecDeque<(K, V, RemovalCause)>,
    /// Whether a thread is delivering now. Kept under the queue's lock, so the deliverer's last
    /// look (empty: stop) and a pusher's look (someone delivers: leave it) cannot both miss a
    /// notification.
    delivering: bool,
}

impl<K, V> Removals<K, V> {
    pub(crate) fn new(listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static) -> Self
    where
        V: Clone,
    {
        Self {
            listener: Box::new(listener),
            copy: V::clone,
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                delivering: false,
            }),
        }
    }

    /// Queues the removal of `key` with `value` (call under the entry's shard lock).
    pub(crate) fn push(&self, key: K, value: V, cause: RemovalCause) {
        sync::lock(&self.queue)
            .waiting
            .push_back((key, value, cause));
    }

    /// Queues the removal of `key` with a copy of `value`, which the caller keeps.
    pub(crate) fn push_copy(&self, key: K, value: &V, cause: RemovalCause) {
        self.push(key, (self.copy)(value), cause);
    }

    /// Delivers the queued notifications, unless another thread is delivering (it delivers these
    /// too before it stops). Call with no store lock held.
    pub(crate) fn deliver(&self) {
        {
            let mut queue = sync::lock(&self.queue);
            if queue.delivering || queue.waiting.is_empty() {
                return;
            }
            queue.delivering = true;
        }
        let done = Delivering(&self.queue);
        loop {
            // Popped in its own statement: the queue's lock is released before the call.
            let next = done.next();
            let Some((key, value, cause)) = next else {
                break;
            };
            (self.listener)(key, value, cause);
        }
        std::mem::forget(done); // `next` cleared the flag with its last look
    }
}

/// The delivering thread's hold on the queue. Dropped while a listener's panic unwinds, it
/// clears the flag, so the queue is left to the next operation instead of blocked for good.
struct Delivering<'a, K, V>(&'a Mutex<Queue<K, V>>);

impl<K, V> Delivering<'_, K, V> {
    /// The next notification; when there is none, stops delivering under the same lock.
    fn next(&self) -> Option<(K, V, RemovalCause)> {
        let mut queue = sync::lock(self.0);
        let next = queue.waiting.pop_front();
        if next.is_none() {
            queue.delivering = false;
        }
        next
    }
}

impl<K, V> Drop for Delivering<'_, K, V> {
    fn drop(&mut self) {
        sync::lock(self.0).delivering = false;
    }
}
