//! Loads in flight: per key, the one async load running now and the tasks waiting for it.
//!
//! Knows nothing of the store or of any async runtime: a map from keys to flights, a flight's
//! outcome, and the wakers of its waiters (plain `std::task`). The first caller of a key
//! becomes its [`Lead`]; later callers get a [`Wait`], a future that is ready once the lead
//! ends. A lead ends by [`Lead::end`] or by being dropped (its task was cancelled, or its load
//! panicked): either way the flight leaves the map *before* its outcome is set, and every
//! waiter is woken, so no waiter can miss the end and a waiter that gives up loses nothing for
//! the others (they were all woken). A waiter never learns the value: it looks in the store
//! again, as a sync waiter does after its stripe lock.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::sync::{self, Arc, DefaultHashBuilder, Mutex};

/// The error handed to every caller of one failed load: a standard `Arc`, as the API returns
/// it (not the sync facade's, which is loom's in the models).
#[allow(
    clippy::disallowed_types,
    reason = "the shared error is part of the API; no lock or atomic of the store's own"
)]
pub(crate) type SharedError<E> = std::sync::Arc<E>;

/// How a load ended, as its waiters see it.
pub(crate) enum Outcome {
    /// The lead stored a value, or found one stored: look again.
    Stored,
    /// The lead was dropped (cancelled, or its load panicked): look again, and load if nothing
    /// is there.
    Abandoned,
    /// The load failed: a `SharedError<E>` of the lead's error type, for every waiter of the
    /// same type (a waiter that expects another type looks again instead).
    Failed(Box<dyn Any + Send + Sync>),
}

#[derive(Default)]
struct State {
    outcome: Option<Outcome>,
    /// Waiters' wakers, by the slot each waiter took when it first waited (`None`: gone).
    wakers: Vec<Option<Waker>>,
}

#[derive(Default)]
struct Flight {
    state: Mutex<State>,
}

/// The loads in flight of one store, by key. One lock: it is held for a map look-up, only on
/// the miss path of the async loaders; a store that never loads asynchronously never takes it.
pub(crate) struct Flights<K> {
    map: Mutex<HashMap<K, Arc<Flight>, DefaultHashBuilder>>,
}

impl<K> Flights<K> {
    pub(crate) fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::with_hasher(DefaultHashBuilder::default())),
        }
    }
}

/// What a caller of a key's load is: its lead (it loads) or a waiter of the lead in flight.
pub(crate) enum Role<'a, K: Hash + Eq, E> {
    Lead(Lead<'a, K>),
    Wait(Wait<E>),
}

impl<K: Hash + Eq + Clone> Flights<K> {
    /// Leads the load of `key`, or waits for the one in flight. `E` is the caller's error type.
    pub(crate) fn join<E>(&self, key: &K) -> Role<'_, K, E> {
        let mut map = sync::lock(&self.map);
        if let Some(flight) = map.get(key) {
            return Role::Wait(Wait {
                flight: Arc::clone(flight),
                slot: None,
                _error: PhantomData,
            });
        }
        let flight = Arc::new(Flight::default());
        map.insert(key.clone(), Arc::clone(&flight));
        Role::Lead(Lead {
            flights: self,
            key: key.clone(),
            flight,
            ended: false,
        })
    }

    /// Keys with a load in flight now (for tests and the self-check).
    pub(crate) fn len(&self) -> usize {
        sync::lock(&self.map).len()
    }
}

/// The one load of a key in flight. Dropped without [`Lead::end`], it ends as
/// [`Outcome::Abandoned`], so a waiter takes the load over.
pub(crate) struct Lead<'a, K: Hash + Eq> {
    flights: &'a Flights<K>,
    key: K,
    flight: Arc<Flight>,
    ended: bool,
}

impl<K: Hash + Eq> Lead<'_, K> {
    /// Ends the load: the flight leaves the map, then every waiter is told `outcome` and woken.
    pub(crate) fn end(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        self.ended = true;
        // Out of the map first: a caller that comes after this point starts a new load, one
        // that came before is a waiter of this flight and sees its outcome.
        sync::lock(&self.flights.map).remove(&self.key);
        let wakers = {
            let mut state = sync::lock(&self.flight.state);
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        // Woken outside the lock: a waker may run its task on this very thread.
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl<K: Hash + Eq> Drop for Lead<'_, K> {
    fn drop(&mut self) {
        if !self.ended {
            self.finish(Outcome::Abandoned);
        }
    }
}

/// Waits for a key's load in flight. Ready with the load's error (of the caller's type `E`) if
/// it failed, with `None` otherwise (look in the store again). Dropping it takes its waker out.
pub(crate) struct Wait<E> {
    flight: Arc<Flight>,
    slot: Option<usize>,
    _error: PhantomData<fn() -> E>,
}

impl<E: Send + Sync + 'static> Future for Wait<E> {
    type Output = Option<SharedError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = sync::lock(&this.flight.state);
        match &state.outcome {
            Some(Outcome::Failed(error)) => {
                return Poll::Ready(error.downcast_ref::<SharedError<E>>().cloned());
            }
            Some(Outcome::Stored | Outcome::Abandoned) => return Poll::Ready(None),
            None => {}
        }
        let waker = cx.waker();
        match this.slot {
            Some(slot) => match &mut state.wakers[slot] {
                Some(old) if old.will_wake(waker) => {}
                other => *other = Some(waker.clone()),
            },
            None => {
                this.slot = Some(state.wakers.len());
                state.wakers.push(Some(waker.clone()));
            }
        }
        Poll::Pending
    }
}

impl<E> Drop for Wait<E> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            // After the end the wakers are gone (taken to be woken): nothing to take out.
            if let Some(waker) = sync::lock(&self.flight.state).wakers.get_mut(slot) {
                *waker = None;
            }
        }
    }
}
