//! Races on real threads, with more threads than the loom models afford. (Each thread's last
//! recency stamp is loom's thread-local under loom now, so `loom_recency.rs` models the kernel
//! too.) Each test states the invariant it checks, and a correct store passes it on every
//! interleaving; only how likely a wrong store is to be caught depends on the scheduling.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use kvstore::{ManualClock, Store};

use crate::thrash::watchdog;

/// Recency stamps only ever rise, also when racing uses have left a shard's clock below some
/// entry's stamp (two threads' stamps cross in flight; the contract lets concurrent recency be
/// approximate). After such a racing phase, the LRU order is rebuilt from the stamps, and a
/// sequential use of each entry (by a thread whose stamps restart from the lowered clock)
/// must not pull a stamp below its record: `validate()` checks every record is at or below its
/// entry's stamp, and an order with a record above it would pick a wrong victim.
#[test]
fn a_sequential_use_after_racing_uses_never_lowers_a_recency_stamp() {
    const ROUNDS: usize = 100;
    const USES: usize = 50;
    watchdog("racing uses", crate::thrash::WATCHDOG, || {
        let s: Store<String, u32> = Store::builder().clock(ManualClock::new()).build();
        s.put("a".into(), 1);
        s.put("b".into(), 2);
        // Each racer uses its key until told to stop, so both are mid-use when the phase ends:
        // that is where their stamps cross. Rounds are handed over by spinning on atomics (a
        // barrier's sleeps would make each round cost milliseconds on a busy machine).
        let round = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicUsize::new(0));
        let uses = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let racers: Vec<_> = ["a", "b"]
            .into_iter()
            .enumerate()
            .map(|(i, key)| {
                let (s, round, stop) = (s.clone(), round.clone(), stop.clone());
                let (finished, uses) = (finished.clone(), uses.clone());
                thread::spawn(move || {
                    for r in 1..=ROUNDS {
                        while round.load(Ordering::Acquire) < r {
                            wait_a_little();
                        }
                        while !stop.load(Ordering::Acquire) {
                            assert!(s.get(key).is_some());
                            uses[i].fetch_add(1, Ordering::Release);
                        }
                        finished.fetch_add(1, Ordering::AcqRel);
                    }
                })
            })
            .collect();
        for r in 1..=ROUNDS {
            for u in uses.iter() {
                u.store(0, Ordering::Relaxed);
            }
            stop.store(false, Ordering::Release);
            round.store(r, Ordering::Release);
            while uses.iter().any(|u| u.load(Ordering::Acquire) < USES) {
                wait_a_little();
            }
            stop.store(true, Ordering::Release);
            while finished.load(Ordering::Acquire) < 2 * r {
                wait_a_little();
            }
            s.set_capacity(2); // records rebuilt from the stamps the race left
            for key in ["a", "b"] {
                assert!(s.get(key).is_some());
            }
            if let Err(e) = s.validate() {
                panic!("round {r}: a sequential use lowered a stamp below its record: {e}");
            }
            s.set_capacity(0);
        }
        for r in racers {
            r.join().unwrap();
        }
    });
}

/// One step of a busy wait: spin, and let another thread run now and then.
fn wait_a_little() {
    for _ in 0..64 {
        std::hint::spin_loop();
    }
    thread::yield_now();
}
