//! Our store as the benchmark drives it, bounded or not. Shared by the `compare` example and
//! `examples/redis.rs` (which includes this file), so both measure the same in-process row.

use std::time::Duration;

use kv_bench::Contender;
use kv_bench::workload::{W4_TTL_NANOS, Workload};
use kvstore::{ManualClock, PutOptions};

/// W4's TTL.
pub fn w4_ttl() -> Duration {
    Duration::from_nanos(W4_TTL_NANOS)
}

/// The TTL of every put in the `kvstore-ttl` and `kvstore-tti` rows of W1-W3: long enough never
/// to fire, so the row shows what reading and refreshing deadlines costs (as moka's rows).
const IDLE_HOUR: Duration = Duration::from_secs(3_600);

/// Which deadline every put of W1-W3 carries.
// `examples/redis.rs` includes this file and measures no TTL row.
#[allow(dead_code)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Deadlines {
    /// None.
    None,
    /// A fixed TTL (moka's `time_to_live`).
    Fixed,
    /// A sliding TTL (moka's `time_to_idle`).
    Sliding,
}

/// Our store, bounded or not, on a manual clock in W4 and the system clock otherwise.
#[derive(Clone)]
pub struct Ours {
    store: kvstore::Store<String, u64>,
    clock: Option<ManualClock>,
    /// The options of a plain put (a deadline in the TTL rows).
    plain: Option<PutOptions>,
    expiring: PutOptions,
    token: PutOptions,
}

impl Ours {
    pub fn new(workload: Workload, bounded: bool) -> Self {
        Self::with_deadlines(workload, bounded, Deadlines::None)
    }

    /// Our bounded store whose every put in W1-W3 carries a deadline of this kind.
    pub fn with_deadlines(workload: Workload, bounded: bool, deadlines: Deadlines) -> Self {
        let mut builder = kvstore::Store::<String, u64>::builder();
        if let (true, Some(capacity)) = (bounded, workload.capacity()) {
            builder = builder.capacity(capacity);
        }
        let clock = (workload == Workload::W4).then(ManualClock::new);
        if let Some(c) = &clock {
            builder = builder.clock(c.clone());
        }
        Self {
            store: builder.build(),
            clock,
            plain: match deadlines {
                Deadlines::None => None,
                Deadlines::Fixed => Some(PutOptions::new().with_ttl(IDLE_HOUR)),
                Deadlines::Sliding => {
                    Some(PutOptions::new().with_ttl(IDLE_HOUR).with_sliding_ttl())
                }
            },
            expiring: PutOptions::new().with_ttl(w4_ttl()).with_sliding_ttl(),
            token: PutOptions::new().with_max_reads(1),
        }
    }
}

impl Contender for Ours {
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
    fn get(&mut self, key: &String) -> bool {
        self.store.get(key).is_some()
    }
    fn put(&mut self, key: &String, value: u64) {
        match &self.plain {
            None => drop(self.store.put(key.to_owned(), value)),
            Some(options) => drop(self.store.put_with(key.to_owned(), value, options)),
        }
    }
    fn put_expiring(&mut self, key: &String, value: u64) {
        self.store.put_with(key.to_owned(), value, &self.expiring);
    }
    fn token(&mut self, key: &String, value: u64) -> bool {
        self.store.put_with(key.to_owned(), value, &self.token);
        self.store.get(key).is_some()
    }
    fn advance(&mut self, nanos: u64) {
        if let Some(c) = &self.clock {
            c.advance(Duration::from_nanos(nanos));
        }
    }
    fn entries(&mut self) -> u64 {
        self.store.len() as u64
    }
}
