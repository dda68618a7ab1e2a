//! The async loaders' rules (`semantics.md`, "Async get-or-insert" and "Load statistics"), one
//! test per rule, named after it.
//!
//! Most run many tasks on one current-thread runtime with time paused (it jumps ahead whenever
//! every task waits, so "a 100 ms load" and "a 10 ms timeout" are exact): a waiter that blocked
//! its thread would stop the load it waits for, and a waiter never woken would wait forever.
//! Each runtime runs in a thread of its own under a real-time watchdog, so both failures fail
//! the test instead of hanging the suite.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use kvstore::{LoadMetrics, ManualClock, Metrics, PutOptions, Store};
use tokio::time::{sleep, timeout};

type S = Store<String, String>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `test` on a current-thread runtime with paused time, in a thread of its own; fails if it
/// panics, or if it has not finished after 20 s of real time (it hung).
fn on_one_thread<F>(test: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let runner = thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime")
            .block_on(test());
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !runner.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the runtime hung: a waiter blocked its thread, was never woken, or spun"
        );
        thread::sleep(ms(5));
    }
    if let Err(panic) = runner.join() {
        std::panic::resume_unwind(panic);
    }
}

/// A load that counts its runs in `runs`, takes `took` and then gives `value`.
fn slow(
    runs: &Arc<AtomicUsize>,
    took: Duration,
    value: &str,
) -> impl Future<Output = String> + use<> {
    let (runs, value) = (Arc::clone(runs), value.to_string());
    async move {
        runs.fetch_add(1, Ordering::SeqCst);
        sleep(took).await;
        value
    }
}

/// `n` tasks asking for `key`, each with its own slow load of `value(i)`, each giving up after
/// 1 s (a waiter never woken fails here, not in the watchdog).
fn askers(
    s: &S,
    key: &str,
    n: usize,
    runs: &Arc<AtomicUsize>,
    value: impl Fn(usize) -> String,
) -> Vec<tokio::task::JoinHandle<String>> {
    (0..n)
        .map(|i| {
            let (s, key) = (s.clone(), key.to_string());
            let load = slow(runs, ms(100), &value(i));
            tokio::spawn(async move {
                timeout(Duration::from_secs(1), s.get_or_insert_async(key, load))
                    .await
                    .expect("a waiter hung: the load it waited for ended without waking it")
            })
        })
        .collect()
}

async fn all(tasks: Vec<tokio::task::JoinHandle<String>>) -> Vec<String> {
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.expect("the task finished"));
    }
    values
}

/// Checks that the runtime's (paused) time is `n` ms after `start`: a waiter that was not woken
/// when its load ended returns only when its 1 s timeout polls it, which this catches.
fn assert_at(start: tokio::time::Instant, n: u64) {
    let t = start.elapsed();
    assert!(
        t >= ms(n) && t < ms(n + 5),
        "done at {t:?}, not {n} ms: a waiter was not woken"
    );
}

fn counts(hits: u64, misses: u64, current_size: u64) -> Metrics {
    Metrics {
        hits,
        misses,
        expirations: 0,
        evictions: 0,
        current_size,
    }
}

fn loads(started: u64, succeeded: u64, failed: u64, cancelled: u64, panicked: u64) -> LoadMetrics {
    LoadMetrics {
        started,
        succeeded,
        failed,
        cancelled,
        panicked,
        refreshed: 0,
        refresh_dropped: 0,
        load_time: Duration::ZERO,
    }
}

/// The load counters without their time (the system clock's, which paused tokio time does not
/// move).
fn untimed(s: &S) -> LoadMetrics {
    LoadMetrics {
        load_time: Duration::ZERO,
        ..s.load_metrics()
    }
}

#[test]
fn async_get_or_insert_of_a_live_value_is_a_get_and_does_not_poll_the_load() {
    on_one_thread(|| async {
        let s = S::new();
        s.put_with(
            "tok".into(),
            "t".into(),
            &PutOptions::new().with_max_reads(1),
        );
        let v = s
            .get_or_insert_async("tok".into(), async {
                unreachable!("a live value is there")
            })
            .await;
        assert_eq!(v, "t");
        assert!(!s.has("tok"), "a get's effects: the read budget was spent");
        assert_eq!(s.metrics(), counts(1, 0, 0));
        assert_eq!(untimed(&s), loads(0, 0, 0, 0, 0));
    });
}

#[test]
fn one_async_load_runs_per_key_and_its_waiters_read_the_stored_value() {
    on_one_thread(|| async {
        let s = S::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        let values = all(askers(&s, "user/7", 64, &runs, |i| format!("v{i}"))).await;
        assert_at(start, 100);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one load for 64 tasks");
        assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
        assert_eq!(s.get("user/7").as_ref(), Some(&values[0]));
        assert_eq!(
            s.metrics(),
            counts(63 + 1, 1, 1),
            "one miss (the load), a hit per waiter, then the get"
        );
        assert_eq!(untimed(&s), loads(1, 1, 0, 0, 0));
        assert_eq!(s.loads_in_flight(), 0);
    });
}

#[test]
fn one_async_load_runs_per_key_across_threads() {
    // Four threads, each with its own runtime and 16 tasks: one load between them.
    let s = S::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (s, runs, start) = (s.clone(), Arc::clone(&runs), Arc::clone(&start));
            thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("a runtime");
                start.wait();
                let began = Instant::now();
                let values = rt.block_on(async {
                    let tasks: Vec<_> = (0..16)
                        .map(|_| {
                            let s = s.clone();
                            let load = slow(&runs, ms(50), "loaded");
                            tokio::spawn(async move {
                                timeout(
                                    Duration::from_secs(10),
                                    s.get_or_insert_async("k".into(), load),
                                )
                                .await
                                .expect("a waiter hung")
                            })
                        })
                        .collect();
                    all(tasks).await
                });
                // A waiter not woken returns only when its 10 s timeout polls it.
                assert!(
                    began.elapsed() < Duration::from_secs(5),
                    "a waiter was not woken"
                );
                values
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().iter().all(|v| v == "loaded"));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(s.metrics(), counts(63, 1, 1));
    assert_eq!(s.load_metrics().succeeded, 1);
}

#[test]
fn a_cancelled_async_load_stores_nothing_and_a_waiter_takes_it_over() {
    on_one_thread(|| async {
        let s = S::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        // The first caller gives up after 10 ms, long before its 100 ms load ends.
        let first = {
            let (s, load) = (s.clone(), slow(&runs, ms(100), "first"));
            tokio::spawn(
                async move { timeout(ms(10), s.get_or_insert_async("k".into(), load)).await },
            )
        };
        tokio::task::yield_now().await; // the first task runs, and leads
        let others = askers(&s, "k", 8, &runs, |i| format!("waiter-{i}"));
        assert!(first.await.unwrap().is_err(), "the first caller timed out");
        sleep(ms(50)).await; // 60 ms: the first load would not have ended anyway
        assert!(!s.has("k"), "the cancelled load stored nothing");
        let values = all(others).await;
        assert_at(start, 110);
        // 110 ms: the waiter that took over stored its own value; past the first load's end
        // (100 ms) nothing else is stored.
        sleep(ms(200)).await;
        assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
        assert!(values[0].starts_with("waiter-"), "{values:?}");
        assert_eq!(s.get("k").as_ref(), Some(&values[0]));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "the cancelled load, the taken-over one"
        );
        assert_eq!(untimed(&s), loads(2, 1, 0, 1, 0));
        assert_eq!(s.metrics(), counts(7 + 1, 2, 1), "a miss per load");
        assert_eq!(s.loads_in_flight(), 0, "the cancelled flight left the map");
    });
}

#[test]
fn a_cancelled_waiter_loses_nothing_for_the_others() {
    on_one_thread(|| async {
        let s = S::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        // The first waiter gives up at 5 ms, the lead at 10 ms; the other waiters go on.
        let give_up = |after: u64, value: &str| {
            let (s, load) = (s.clone(), slow(&runs, ms(100), value));
            tokio::spawn(async move {
                timeout(ms(after), s.get_or_insert_async("k".into(), load)).await
            })
        };
        let lead = give_up(10, "lead");
        tokio::task::yield_now().await;
        let first_waiter = give_up(5, "first waiter");
        tokio::task::yield_now().await;
        let others = askers(&s, "k", 4, &runs, |i| format!("waiter-{i}"));
        assert!(lead.await.unwrap().is_err());
        assert!(first_waiter.await.unwrap().is_err());
        let values = all(others).await;
        assert_at(start, 110);
        assert!(
            values
                .iter()
                .all(|v| *v == values[0] && v.starts_with("waiter-"))
        );
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "the lead's, then one taker's"
        );
        assert_eq!(untimed(&s), loads(2, 1, 0, 1, 0));
        assert_eq!(
            s.metrics(),
            counts(3, 2, 1),
            "the cancelled waiter counts nothing"
        );
    });
}

#[test]
fn a_panicking_async_load_stores_nothing_and_a_waiter_takes_it_over() {
    on_one_thread(|| async {
        let s = S::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        let lead = {
            let s = s.clone();
            tokio::spawn(async move {
                s.get_or_insert_async("k".into(), async {
                    sleep(ms(10)).await;
                    panic!("loader bug")
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        let others = askers(&s, "k", 8, &runs, |i| format!("waiter-{i}"));
        let panicked = lead
            .await
            .expect_err("the panic unwinds in the loading task");
        assert!(panicked.is_panic());
        let values = all(others).await;
        assert_at(start, 110);
        assert!(
            values
                .iter()
                .all(|v| *v == values[0] && v.starts_with("waiter-"))
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one waiter took over");
        assert_eq!(untimed(&s), loads(2, 1, 0, 0, 1));
        assert_eq!(s.metrics(), counts(7, 2, 1));
        assert_eq!(s.loads_in_flight(), 0, "the panicked flight left the map");
    });
}

#[test]
fn an_async_load_error_reaches_every_waiter_of_that_load() {
    on_one_thread(|| async {
        let s = S::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (s, runs) = (s.clone(), Arc::clone(&runs));
                tokio::spawn(async move {
                    s.try_get_or_insert_async("k".into(), async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        sleep(ms(100)).await;
                        Err::<String, _>(format!("backend down (load {i})"))
                    })
                    .await
                })
            })
            .collect();
        let mut errors = Vec::new();
        for task in tasks {
            errors.push(task.await.unwrap().expect_err("the load failed"));
        }
        assert_at(start, 100);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one load, one error");
        assert!(
            errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])),
            "the same error"
        );
        assert_eq!(*errors[0], "backend down (load 0)");
        assert!(!s.has("k"), "a failed load stores nothing");
        assert_eq!(untimed(&s), loads(1, 0, 1, 0, 0));
        assert_eq!(
            s.metrics(),
            counts(0, 8, 0),
            "each caller found nothing: a miss"
        );
        assert_eq!(s.loads_in_flight(), 0, "the failed flight left the map");
        // The next caller runs its own load.
        let v = s
            .try_get_or_insert_async("k".into(), async { Ok::<_, String>("up".to_string()) })
            .await;
        assert_eq!(v.as_deref(), Ok("up"));
    });
}

#[test]
fn a_waiter_expecting_another_error_type_runs_its_own_load_after_a_failure() {
    on_one_thread(|| async {
        let s = S::new();
        let lead = {
            let s = s.clone();
            tokio::spawn(async move {
                s.try_get_or_insert_async("k".into(), async {
                    sleep(ms(10)).await;
                    Err::<String, _>("down")
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        let other = s
            .try_get_or_insert_async("k".into(), async { Ok::<_, std::io::Error>("own".into()) })
            .await;
        assert_eq!(*lead.await.unwrap().unwrap_err(), "down");
        assert_eq!(other.unwrap(), "own");
        assert_eq!(untimed(&s), loads(2, 1, 1, 0, 0));
    });
}

#[test]
fn every_async_get_or_insert_that_returns_counts_one_hit_or_one_miss() {
    // 8 callers over a load that fails, then 8 over one that succeeds, then 8 on the live value:
    // misses = loads + callers handed an error, hits = callers handed a stored value.
    on_one_thread(|| async {
        let s = S::new();
        let start = tokio::time::Instant::now();
        for ok in [false, true, true] {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        s.try_get_or_insert_async("k".into(), async move {
                            sleep(ms(10)).await;
                            if ok { Ok("v".to_string()) } else { Err("no") }
                        })
                        .await
                        .is_ok()
                    })
                })
                .collect();
            for task in tasks {
                assert_eq!(task.await.unwrap(), ok);
            }
        }
        assert_at(start, 20); // two loads of 10 ms; the live value took no time
        assert_eq!(s.metrics(), counts(7 + 8, 8 + 1, 1));
        assert_eq!(untimed(&s), loads(2, 1, 1, 0, 0));
    });
}

#[test]
fn sync_and_async_loads_of_one_key_do_not_share_a_load_and_the_later_store_wins() {
    on_one_thread(|| async {
        let s = S::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let task = {
            let (s, load) = (s.clone(), slow(&runs, ms(100), "async"));
            tokio::spawn(async move { s.get_or_insert_async("k".into(), load).await })
        };
        tokio::task::yield_now().await; // the async load is in flight
        // A sync caller on the same thread neither waits for it nor blocks it.
        assert_eq!(s.get_or_insert_with("k".into(), || "sync".into()), "sync");
        assert_eq!(task.await.unwrap(), "async");
        assert_eq!(
            s.get("k").as_deref(),
            Some("async"),
            "stored last, as a put"
        );
        assert_eq!(untimed(&s), loads(2, 2, 0, 0, 0));
    });
}

#[test]
fn async_get_or_insert_with_options_stores_with_them() {
    on_one_thread(|| async {
        let s = S::new();
        let one_shot = PutOptions::new().with_max_reads(1);
        let v = s
            .try_get_or_insert_async_with_options("tok".into(), one_shot, async {
                Ok::<_, ()>("t".to_string())
            })
            .await;
        assert_eq!(
            v.as_deref(),
            Ok("t"),
            "returning the loaded value is not a read"
        );
        assert_eq!(s.get("tok").as_deref(), Some("t"), "the budget's one read");
        assert!(!s.has("tok"));
    });
}

#[test]
fn load_metrics_count_every_load_sync_and_async_by_how_it_ended_and_its_time() {
    let clock = ManualClock::new();
    let s: S = Store::builder().clock(clock.clone()).build();
    let advance = |by| clock.advance(Duration::from_secs(by));
    s.get_or_insert_with("a".into(), || {
        advance(1);
        "a".into()
    });
    let _ = s.try_get_or_insert_with("b".into(), || {
        advance(2);
        Err("down")
    });
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.get_or_insert_with("c".into(), || {
            advance(4);
            panic!("loader bug")
        })
    }));
    assert!(panicked.is_err());
    on_one_thread({
        let (s, clock) = (s.clone(), clock.clone());
        move || async move {
            let advance = |by| clock.advance(Duration::from_secs(by));
            s.get_or_insert_async("d".into(), async {
                advance(8);
                "d".to_string()
            })
            .await;
            let _ = s
                .try_get_or_insert_async("e".into(), async {
                    advance(16);
                    Err("down")
                })
                .await;
            let cancelled = timeout(
                ms(10),
                s.get_or_insert_async("f".into(), async {
                    advance(32);
                    std::future::pending().await
                }),
            )
            .await;
            assert!(cancelled.is_err());
        }
    });
    let m = s.load_metrics();
    assert_eq!(
        LoadMetrics {
            load_time: Duration::ZERO,
            ..m
        },
        loads(6, 2, 2, 1, 1)
    );
    assert_eq!(
        m.load_time,
        Duration::from_secs(63),
        "each load's time, once"
    );
    assert_eq!(m.in_flight(), 0);
    assert_eq!(
        m.to_string(),
        "started=6 succeeded=2 failed=2 cancelled=1 panicked=1 refreshed=0 refresh_dropped=0 load_time=63s"
    );
}

/// The removal listener's rule ("when an operation returns, its notifications have been
/// delivered") holds for an async get-or-insert whose hit uses up a one-shot entry: the look
/// that found the value delivers what it removed before the call returns.
#[test]
fn an_async_hit_that_consumes_an_entry_delivers_its_removal_before_returning() {
    let removed = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&removed);
    let store: Store<String, u64> = Store::builder()
        .removal_listener(move |_key, _value, _cause| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    store.put_with("tok".into(), 7, &PutOptions::new().with_max_reads(1));
    let call = std::pin::pin!(store.get_or_insert_async("tok".into(), async { 0 }));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let value = match call.poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("a hit is ready at its first poll"),
    };
    assert_eq!(value, 7);
    assert_eq!(
        removed.load(Ordering::SeqCst),
        1,
        "consumed, and told before returning"
    );
    assert!(!store.has("tok"));
}

/// Counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A load that is pending until `open` is set (and wakes nobody: the test polls it again).
fn gate(open: &Arc<std::sync::atomic::AtomicBool>) -> impl Future<Output = String> + use<> {
    let open = Arc::clone(open);
    std::future::poll_fn(move |_| {
        if open.load(Ordering::SeqCst) {
            std::task::Poll::Ready("loaded".to_string())
        } else {
            std::task::Poll::Pending
        }
    })
}

#[test]
fn a_waiter_polled_again_with_another_waker_is_woken_through_the_new_one() {
    use std::task::{Context, Poll, Waker};

    let s = S::new();
    let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut lead = Box::pin(s.get_or_insert_async("k".into(), gate(&open)));
    assert!(
        lead.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    let (first, second) = (
        Arc::new(CountingWaker::default()),
        Arc::new(CountingWaker::default()),
    );
    let mut waiter = Box::pin(s.get_or_insert_async("k".into(), async { unreachable!() }));
    for waker in [&first, &second] {
        // A task that moved to another worker polls with another waker.
        let waker = Waker::from(Arc::clone(waker));
        assert!(
            waiter
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    open.store(true, Ordering::SeqCst);
    assert!(matches!(
        lead.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(ref v) if v == "loaded"
    ));
    assert_eq!(second.0.load(Ordering::SeqCst), 1, "the new waker is woken");
    assert_eq!(first.0.load(Ordering::SeqCst), 0, "the replaced one is not");
    let waker = Waker::from(second);
    assert!(matches!(
        waiter.as_mut().poll(&mut Context::from_waker(&waker)),
        Poll::Ready(ref v) if v == "loaded"
    ));
}

#[test]
fn a_load_dropped_while_its_caller_unwinds_from_another_panic_counts_as_cancelled() {
    use std::task::{Context, Waker};

    let s = S::new();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut call = Box::pin(s.get_or_insert_async("k".into(), std::future::pending()));
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        // The caller's own bug, not the load's: the call is dropped while this unwinds.
        panic!("the caller's bug");
    }));
    assert!(unwound.is_err());
    assert_eq!(untimed(&s), loads(1, 0, 0, 1, 0), "cancelled, not panicked");
    assert_eq!(s.loads_in_flight(), 0);
}

#[test]
fn a_panic_storing_an_async_loads_value_counts_as_panicked() {
    use std::task::{Context, Waker};

    let s: S = Store::builder()
        .capacity(100)
        .weigher(|_key, value: &String| {
            assert_ne!(value, "unweighable", "a weigher bug");
            1
        })
        .build();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut call =
            Box::pin(s.get_or_insert_async("k".into(), async { "unweighable".to_string() }));
        let _ = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    }));
    assert!(
        unwound.is_err(),
        "the weigher's panic unwinds in the caller"
    );
    assert_eq!(untimed(&s), loads(1, 0, 0, 0, 1));
    assert!(!s.has("k"));
    assert_eq!(s.loads_in_flight(), 0);
}
