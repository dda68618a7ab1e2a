//! One event as a subscriber receives it.
//!
//! The namespace is shared, immutable text handed to subscribers, not part of any store's
//! synchronisation, so it is a standard `Arc<str>` even under loom (loom's `Arc` cannot hold an
//! unsized `str`).
#![allow(
    clippy::disallowed_types,
    reason = "an event's namespace is a std `Arc<str>` (loom's Arc cannot hold an unsized str)"
)]

use std::fmt;
use std::sync::Arc;

pub use kv_core::EventKind;

/// Something that happened to one key of a store, as a subscription receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<K> {
    /// What happened.
    pub kind: EventKind,
    /// The key it happened to (for a miss, the key that was asked for).
    pub key: K,
    /// The store's namespace; `""` for a store without one (the default store).
    pub namespace: Arc<str>,
    /// How many events this subscription lost, because its buffer was full, since the event it
    /// received before this one. Totals are exact; under concurrency a gap may be reported one
    /// event late.
    pub missed_before: u64,
}

impl<K: fmt::Debug> fmt::Display for Event<K> {
    /// `[auth/tokens] Hit "tok-9f2"`, with ` (after 3 missed)` when events were lost before it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {:?} {:?}", self.namespace, self.kind, self.key)?;
        if self.missed_before > 0 {
            write!(f, " (after {} missed)", self.missed_before)?;
        }
        Ok(())
    }
}

/// The namespace text shared by a hub and every event it sends.
pub(crate) type Namespace = Arc<str>;
