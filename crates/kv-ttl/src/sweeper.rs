//! The optional background sweeper: a thread that purges expired entries on a period.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use kv_core::{Policies, Store, StoreHasher, StoreKey, StoreValue};

use crate::Ttl;

/// A running sweeper. Dropping it stops the thread (and waits for it).
#[derive(Debug)]
pub struct Sweeper {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sweeper {
    /// Runs `tick` every `every` on a new thread until the handle is dropped or `tick` returns
    /// `false`.
    pub fn spawn(every: Duration, mut tick: impl FnMut() -> bool + Send + 'static) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kv-sweeper".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if !tick() {
                        break;
                    }
                }
            })
            .ok();
        Self {
            stop: Some(stop),
            thread,
        }
    }

    /// Whether the sweeper's thread is running: `false` if the OS refused a thread, or once the
    /// thread stopped because its store was dropped.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starting a sweeper on a store with expiry.
pub trait Sweep {
    /// Purges expired entries every `every` on a background thread, until the returned handle is
    /// dropped or the store is. The sweeper does not keep the store alive.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kv_core::StoreBuilder;
    /// use kv_ttl::{Sweep, Ttl};
    ///
    /// let store = StoreBuilder::<String, u64>::new().expiry(Ttl::new()).build();
    /// let sweeper = store.start_sweeper(Duration::from_millis(100));
    /// drop(sweeper); // stops it
    /// ```
    fn start_sweeper(&self, every: Duration) -> Sweeper;
}

impl<K, V, P, S> Sweep for Store<K, V, P, S>
where
    K: StoreKey,
    V: StoreValue,
    P: Policies<K, Expiry = Ttl>,
    S: StoreHasher,
{
    fn start_sweeper(&self, every: Duration) -> Sweeper {
        let store = self.downgrade();
        Sweeper::spawn(every, move || match store.upgrade() {
            Some(store) => {
                store.purge_expired();
                true
            }
            None => false,
        })
    }
}
