//! Loom models of refresh-ahead (`semantics.md`, "Refresh-ahead"): racing reads past a refresh
//! point start one reload (the claim under the shard's exclusive lock), and a put racing a
//! reload's install wins whichever lands first (the install over the entry's id). Reloads are
//! queued by the reloader's runner and run by a model thread, so loom explores them against the
//! store's operations.

use std::time::Duration;

use kvstore::{ManualClock, RefreshingStore, ReloadJob, Reloader, Store};
use loom::sync::{Arc, Mutex};
use loom::thread;

type S = RefreshingStore<String, String>;

const PERIOD: Duration = Duration::from_secs(60);

/// A store whose entry `k` = `old` is past its refresh point; its reloads (which load
/// `reloaded`) are queued in the returned queue.
fn store_due_for_a_reload() -> (S, Arc<Mutex<Vec<ReloadJob>>>) {
    let clock = ManualClock::new();
    let queue: Arc<Mutex<Vec<ReloadJob>>> = Arc::new(Mutex::new(Vec::new()));
    let runner = Arc::clone(&queue);
    let s: S = Store::builder()
        .clock(clock.clone())
        .shards(2)
        .refresh_after(
            PERIOD,
            Reloader::sync_with(
                |_key: &String| Ok::<_, String>("reloaded".to_string()),
                move |job| runner.lock().unwrap().push(job),
            ),
        )
        .build();
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    (s, queue)
}

/// Two readers race past the refresh point: both get the current value, and one reload is
/// started, whichever way their shared and exclusive reads interleave.
#[test]
fn loom_racing_reads_past_the_refresh_point_start_one_reload() {
    loom::model(|| {
        let (s, queue) = store_due_for_a_reload();
        let other = {
            let s = s.clone();
            thread::spawn(move || s.get("k"))
        };
        let mine = s.get("k");
        let theirs = other.join().unwrap();
        assert_eq!(mine.as_deref(), Some("old"));
        assert_eq!(theirs.as_deref(), Some("old"));
        assert_eq!(queue.lock().unwrap().len(), 1, "one reload");
        assert_eq!(s.metrics().hits, 2);
        // A queued reload holds its store, which holds the queue: drop it to end the cycle.
        queue.lock().unwrap().clear();
    });
}

/// A put races the reload a read started: the put's value stays, whether the reload's install
/// came first (and the put replaced it) or second (and was dropped); the counters say which.
#[test]
fn loom_a_put_racing_a_reload_wins() {
    loom::model(|| {
        let (s, queue) = store_due_for_a_reload();
        assert_eq!(s.get("k").as_deref(), Some("old"));
        let job = queue.lock().unwrap().pop().expect("a reload started");
        let reload = thread::spawn(job);
        s.put("k".into(), "put".into());
        reload.join().unwrap();
        assert_eq!(s.get("k").as_deref(), Some("put"), "the put wins");
        let loads = s.load_metrics();
        assert_eq!(loads.started, loads.refreshed + loads.refresh_dropped);
        assert!(
            loads.started <= 1,
            "a reload that found its entry gone loads nothing"
        );
        assert_eq!(s.metrics().current_size, 1);
    });
}
