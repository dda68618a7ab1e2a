//! Loom models of the async loaders' hand-overs (`semantics.md`, "get_or_insert_async"): a load
//! whose task is cancelled is taken over by its waiter, and two callers racing on one key run
//! one load. Each caller is a loom thread polling its call by hand (`loom::future::block_on`,
//! or one poll and a drop for a cancelled task), so the flight map's lock, the flight's state
//! and the wake-ups are all loom's: a waiter left asleep is a deadlock loom reports.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use kvstore::Store;
use loom::thread;

type S = Store<String, String>;

fn store() -> S {
    Store::builder().shards(2).build()
}

/// The task running the load is polled once (it leads, or waits) and then dropped, cancelled
/// with its load pending; another caller must end with its own value stored, whatever the
/// interleaving: it led first, or waited and was woken to take over, or came after.
#[test]
fn loom_a_cancelled_load_is_taken_over_by_its_waiter() {
    loom::model(|| {
        let s = store();
        let cancelled = {
            let s = s.clone();
            thread::spawn(move || {
                let mut call =
                    pin!(s.get_or_insert_async("k".into(), std::future::pending::<String>()));
                let _ = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            })
        };
        let v = loom::future::block_on(
            s.get_or_insert_async("k".into(), async { "taken over".to_string() }),
        );
        cancelled.join().unwrap();
        assert_eq!(v, "taken over");
        assert_eq!(s.get("k").as_deref(), Some("taken over"));
        assert_eq!(s.loads_in_flight(), 0, "no flight left behind");
        let loads = s.load_metrics();
        assert_eq!(loads.succeeded, 1);
        assert_eq!(
            loads.started,
            1 + loads.cancelled,
            "only a lead's load is counted"
        );
    });
}

/// Two callers race on one key with loads that finish at once: one load runs, the other caller
/// reads its value (a hit), whichever way their looks and the flight interleave.
#[test]
fn loom_two_async_callers_of_one_key_run_one_load() {
    loom::model(|| {
        let s = store();
        let call = |s: &S, value: &'static str| {
            loom::future::block_on(
                s.get_or_insert_async("k".into(), async move { value.to_string() }),
            )
        };
        let other = {
            let s = s.clone();
            thread::spawn(move || call(&s, "a"))
        };
        let mine = call(&s, "b");
        let theirs = other.join().unwrap();
        assert_eq!(mine, theirs, "both got the one stored value");
        assert_eq!(s.load_metrics().started, 1, "one load");
        let m = s.metrics();
        assert_eq!((m.hits, m.misses), (1, 1));
    });
}
