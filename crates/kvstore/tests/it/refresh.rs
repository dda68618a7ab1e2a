//! Refresh-ahead's rules (`semantics.md`, "Refresh-ahead"), one test per rule, named after it.
//!
//! Reloads run where the store's reloader says; most tests queue them and run the queue when
//! they choose, so "between the read and the reload" is a place in the test, not a race. The
//! manual clock moves the refresh points; the async ones run on tokio's current-thread runtime
//! with paused time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kvstore::{
    LoadMetrics, ManualClock, PutOptions, RefreshingStore, ReloadJob, Reloader, RemovalCause, Store,
};

type S = RefreshingStore<String, String>;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Reloads waiting to run: a reloader's runner that queues them.
#[derive(Clone, Default)]
struct Queue(Arc<Mutex<Vec<ReloadJob>>>);

impl Queue {
    fn runner(&self) -> impl Fn(ReloadJob) + Send + Sync + 'static {
        let queue = self.clone();
        move |job| queue.0.lock().unwrap().push(job)
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Runs the queued reloads; returns how many there were.
    fn run(&self) -> usize {
        let jobs = std::mem::take(&mut *self.0.lock().unwrap());
        let n = jobs.len();
        for job in jobs {
            job();
        }
        n
    }
}

/// What the loader returns next, and how often it ran.
#[derive(Clone, Default)]
struct Source {
    next: Arc<Mutex<Option<Result<String, String>>>>,
    calls: Arc<AtomicUsize>,
}

impl Source {
    fn set(&self, next: Result<&str, &str>) {
        *self.next.lock().unwrap() = Some(next.map(str::to_string).map_err(str::to_string));
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn load(&self, key: &str) -> Result<String, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.next.lock().unwrap().clone() {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => Err(error),
            None => panic!("the loader of {key} has no value to give"),
        }
    }
}

const PERIOD: Duration = Duration::from_secs(60);

/// A refreshing store on `clock`, refreshing after [`PERIOD`] through `source`, its reloads
/// queued on `queue`.
fn store(clock: &ManualClock, queue: &Queue, source: &Source) -> S {
    builder(clock, queue, source, |b| b)
}

fn builder(
    clock: &ManualClock,
    queue: &Queue,
    source: &Source,
    extra: impl FnOnce(kvstore::Builder<String, String>) -> kvstore::Builder<String, String>,
) -> S {
    let source = source.clone();
    extra(Store::builder().clock(clock.clone()))
        .refresh_after(
            PERIOD,
            Reloader::sync_with(move |key: &String| source.load(key), queue.runner()),
        )
        .build()
}

fn loads(started: u64, refreshed: u64, refresh_dropped: u64, failed: u64) -> LoadMetrics {
    LoadMetrics {
        started,
        refreshed,
        refresh_dropped,
        failed,
        ..LoadMetrics::default()
    }
}

#[test]
fn refresh_a_read_past_the_refresh_point_returns_the_current_value_and_starts_one_reload() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put("k".into(), "old".into());
    source.set(Ok("new"));
    clock.advance(PERIOD);
    assert_eq!(
        s.get("k").as_deref(),
        Some("old"),
        "the current value, at once"
    );
    assert_eq!(queue.len(), 1, "one reload started");
    assert_eq!(source.calls(), 0, "and not run by the read");
    assert_eq!(queue.run(), 1);
    assert_eq!(
        s.get("k").as_deref(),
        Some("new"),
        "a later read sees the reload"
    );
    assert_eq!(s.load_metrics(), loads(1, 1, 0, 0));
    let m = s.metrics();
    assert_eq!(
        (m.hits, m.misses),
        (2, 0),
        "each read a hit; a reload counts none"
    );
}

#[test]
fn refresh_a_read_before_the_refresh_point_starts_no_reload() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put("k".into(), "old".into());
    clock.advance(PERIOD - Duration::from_nanos(1));
    assert_eq!(s.get("k").as_deref(), Some("old"));
    assert_eq!(queue.len(), 0);
    clock.advance(Duration::from_nanos(1)); // exactly at the refresh point: due
    assert_eq!(s.get("k").as_deref(), Some("old"));
    assert_eq!(queue.len(), 1);
}

#[test]
fn refresh_reads_after_the_one_that_started_a_reload_start_none_until_a_period_later() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put("k".into(), "old".into());
    source.set(Ok("new"));
    clock.advance(PERIOD);
    for _ in 0..5 {
        assert_eq!(s.get("k").as_deref(), Some("old"));
    }
    assert_eq!(queue.len(), 1, "one reload for five reads");
    // The reload has not run a period later (a slow one): the next read starts another.
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    assert_eq!(queue.len(), 2);
    assert_eq!(queue.run(), 2);
    // The first replaced the entry; the second was for the same entry, gone by then, so it
    // loads nothing.
    assert_eq!(s.get("k").as_deref(), Some("new"));
    assert_eq!(source.calls(), 1);
    assert_eq!(s.load_metrics(), loads(1, 1, 0, 0));
}

#[test]
fn refresh_concurrent_reads_past_the_refresh_point_start_one_reload() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    for round in 0..50 {
        let key = format!("k{round}");
        s.put(key.clone(), "old".into());
        clock.advance(PERIOD);
        thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10 {
                        assert_eq!(s.get(&key).as_deref(), Some("old"));
                    }
                });
            }
        });
        assert_eq!(
            queue.len(),
            1,
            "round {round}: one reload for 40 racing reads"
        );
        queue.0.lock().unwrap().clear();
    }
}

#[test]
fn refresh_a_put_between_the_read_and_the_reload_wins() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put("k".into(), "old".into());
    source.set(Ok("reloaded"));
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    s.put("k".into(), "put".into());
    queue.run();
    assert_eq!(s.get("k").as_deref(), Some("put"), "the put wins");
    assert_eq!(
        queue.len(),
        0,
        "the put's entry has a refresh point of its own"
    );
    assert_eq!(
        source.calls(),
        0,
        "its entry was gone when the reload ran: not loaded"
    );
    // The put's own refresh point, a period after it, starts a reload of the put's entry.
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("put"));
    assert_eq!(queue.run(), 1);
    assert_eq!(s.get("k").as_deref(), Some("reloaded"));
    assert_eq!(s.load_metrics(), loads(1, 1, 0, 0));
}

#[test]
fn refresh_a_put_during_the_reload_wins() {
    let (clock, queue) = (ManualClock::new(), Queue::default());
    // The loader writes the key itself while it loads: the reload's value must not replace
    // that put.
    let writer: Arc<Mutex<Option<S>>> = Arc::default();
    let handle = Arc::clone(&writer);
    let s: S = Store::builder()
        .clock(clock.clone())
        .refresh_after(
            PERIOD,
            Reloader::sync_with(
                move |key: &String| {
                    let store = handle.lock().unwrap().clone().unwrap();
                    store.put(key.clone(), "put during the load".into());
                    Ok::<_, String>("reloaded".to_string())
                },
                queue.runner(),
            ),
        )
        .build();
    *writer.lock().unwrap() = Some(s.clone());
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    queue.run();
    assert_eq!(s.get("k").as_deref(), Some("put during the load"));
    assert_eq!(s.load_metrics(), loads(1, 0, 1, 0));
    writer.lock().unwrap().take(); // the store holds its reloader, which held the store
}

/// A weigher store's capacity, and its weigher: a value weighs its length.
fn weighed(b: kvstore::Builder<String, String>) -> kvstore::Builder<String, String> {
    b.capacity(10)
        .weigher(|_key, value: &String| value.len() as u64)
}

#[test]
fn refresh_a_reloaded_value_heavier_than_the_capacity_is_dropped_and_the_entry_kept() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let removed = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&removed);
    let s = builder(&clock, &queue, &source, |b| {
        weighed(b).removal_listener(move |key, value, cause| {
            log.lock().unwrap().push((key, value, cause))
        })
    });
    s.put("k".into(), "old".into());
    source.set(Ok("eleven long"));
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    assert_eq!(queue.run(), 1);
    assert_eq!(
        s.get("k").as_deref(),
        Some("old"),
        "the entry stays, with its value"
    );
    assert_eq!(
        s.load_metrics(),
        loads(1, 0, 1, 0),
        "dropped, not refreshed"
    );
    let m = s.metrics();
    assert_eq!(
        (m.evictions, m.current_size, s.weight()),
        (0, 1, 3),
        "nothing was stored, so nothing was evicted"
    );
    assert!(removed.lock().unwrap().is_empty(), "nor removed");
    // Tried again a period later, as after a failed reload.
    source.set(Ok("new"));
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    assert_eq!(queue.run(), 1);
    assert_eq!(s.get("k").as_deref(), Some("new"));
    assert_eq!(s.load_metrics(), loads(2, 1, 1, 0));
}

/// A key that can put itself: armed on a thread with [`Key::arm`], the first time that thread
/// hashes a key after comparing one, it runs the armed write. A store looks an entry up by
/// hashing its key, then comparing it under the shard lock; a hash after a comparison is a
/// store that looked at the entry and is about to take a lock again: the write lands in
/// between, on the store's own thread, at a point the test fixes.
#[derive(Clone, Debug)]
struct Key(String);

type Write = Box<dyn FnOnce()>;

thread_local! {
    /// The armed write, and whether a key was compared since it was armed.
    static ARMED: std::cell::RefCell<Option<(Write, bool)>> = const { std::cell::RefCell::new(None) };
}

impl Key {
    fn arm(write: impl FnOnce() + 'static) {
        ARMED.with(|armed| *armed.borrow_mut() = Some((Box::new(write), false)));
    }

    /// Disarms the write; whether it ran.
    fn disarm() -> bool {
        ARMED.with(|armed| armed.borrow_mut().take()).is_none()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        ARMED.with(|armed| {
            if let Some((_, compared)) = armed.borrow_mut().as_mut() {
                *compared = true;
            }
        });
        self.0 == other.0
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let due = ARMED.with(|armed| {
            let mut armed = armed.borrow_mut();
            match armed.take() {
                Some((write, true)) => Some(write),
                other => {
                    *armed = other;
                    None
                }
            }
        });
        if let Some(write) = due {
            write(); // disarmed first: the write's own hashes run nothing
        }
        self.0.hash(state);
    }
}

#[test]
fn refresh_a_put_in_between_wins_over_a_reloaded_value_heavier_than_the_capacity() {
    let (clock, queue) = (ManualClock::new(), Queue::default());
    let writer: Arc<Mutex<Option<RefreshingStore<Key, String>>>> = Arc::default();
    let handle = Arc::clone(&writer);
    let s: RefreshingStore<Key, String> = Store::builder()
        .clock(clock.clone())
        .capacity(10)
        .weigher(|_key, value: &String| value.len() as u64)
        .refresh_after(
            PERIOD,
            Reloader::sync_with(
                move |key: &Key| {
                    // Once the loader has returned, a put lands at the store's first hash of
                    // the key after it looked at the entry.
                    let (store, key) = (handle.lock().unwrap().clone().unwrap(), key.clone());
                    Key::arm(move || {
                        store.put(key, "put".into());
                    });
                    Ok::<_, String>("eleven long".to_string())
                },
                queue.runner(),
            ),
        )
        .build();
    *writer.lock().unwrap() = Some(s.clone());
    let k = Key("k".into());
    s.put(k.clone(), "old".into());
    clock.advance(PERIOD);
    assert_eq!(s.get(&k).as_deref(), Some("old"));
    queue.run();
    // The store need not look at the entry again (a value too heavy is dropped unweighed
    // against it), and then the put has not run: the entry stays. If it looked, the put
    // landed, and wins.
    let expected = if Key::disarm() { "put" } else { "old" };
    assert_eq!(s.get(&k).as_deref(), Some(expected));
    assert_eq!(s.load_metrics(), loads(1, 0, 1, 0));
    assert_eq!(
        s.metrics().evictions,
        0,
        "nothing was stored, so nothing evicted"
    );
    writer.lock().unwrap().take(); // the store holds its reloader, which held the store
}

#[test]
fn refresh_a_delete_between_the_read_and_the_reload_wins() {
    the_entry_gone_before_the_reload_runs_wins(
        |b| b,
        |s, _| assert!(s.del("k")),
        "a deleted key is not brought back",
    );
}

#[test]
fn refresh_an_expiry_between_the_read_and_the_reload_wins() {
    the_entry_gone_before_the_reload_runs_wins(
        |b| b.time_to_live(secs(70)),
        // The entry's TTL ends before the reload runs.
        |_, clock| clock.advance(secs(10)),
        "an expired key is not brought back",
    );
}

/// A read past the refresh point hands a reload to the queue; `between` makes the entry go
/// before the reload runs. The key stays gone, nothing is loaded and nothing counted.
fn the_entry_gone_before_the_reload_runs_wins(
    config: impl FnOnce(kvstore::Builder<String, String>) -> kvstore::Builder<String, String>,
    between: impl FnOnce(&S, &ManualClock),
    gone: &str,
) {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = builder(&clock, &queue, &source, config);
    s.put("k".into(), "old".into());
    source.set(Ok("reloaded"));
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    between(&s, &clock);
    queue.run();
    assert_eq!(s.get("k"), None, "{gone}");
    assert_eq!(
        source.calls(),
        0,
        "nor reloaded: its entry was gone when the reload ran"
    );
    assert_eq!(s.load_metrics(), loads(0, 0, 0, 0));
}

#[test]
fn refresh_a_failed_reload_keeps_the_old_value_until_its_ttl_and_is_counted() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = builder(&clock, &queue, &source, |b| b.time_to_live(secs(150)));
    s.put("k".into(), "old".into());
    source.set(Err("down"));
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    queue.run();
    assert_eq!(s.get("k").as_deref(), Some("old"), "kept");
    assert_eq!(queue.len(), 0, "not tried again before a period has passed");
    assert_eq!(s.load_metrics(), loads(1, 0, 0, 1));
    clock.advance(PERIOD); // t = 120: tried again
    assert_eq!(s.get("k").as_deref(), Some("old"));
    assert_eq!(queue.run(), 1);
    assert_eq!(s.load_metrics(), loads(2, 0, 0, 2));
    clock.advance(secs(30)); // t = 150: the TTL
    assert_eq!(s.get("k"), None);
    assert_eq!(s.metrics().expirations, 1);
}

#[test]
fn refresh_a_panicking_reload_keeps_the_old_value_and_is_counted_as_panicked() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put("k".into(), "old".into());
    clock.advance(PERIOD); // the source has nothing: its loader panics
    assert_eq!(s.get("k").as_deref(), Some("old"));
    queue.run(); // the panic is caught in the reload, not unwound into the runner
    assert_eq!(s.get("k").as_deref(), Some("old"));
    let panicked = LoadMetrics {
        panicked: 1,
        ..loads(1, 0, 0, 0)
    };
    assert_eq!(s.load_metrics(), panicked);
}

/// `n` reloads started and ended in a panic.
fn panicked(n: u64) -> LoadMetrics {
    LoadMetrics {
        panicked: n,
        ..loads(n, 0, 0, 0)
    }
}

/// A store whose reloads run at once, on the reading thread (`|job| job()`, as the docs show):
/// a panic the reload let through would unwind into the reader's `get`.
fn inline(
    clock: &ManualClock,
    load: impl Fn(&String) -> Result<String, String> + Send + Sync + 'static,
    extra: impl FnOnce(kvstore::Builder<String, String>) -> kvstore::Builder<String, String>,
) -> S {
    extra(Store::builder().clock(clock.clone()))
        .refresh_after(PERIOD, Reloader::sync_with(load, |job: ReloadJob| job()))
        .build()
}

/// Polls a reload's future once, at once, on the reading thread.
fn poll_inline(mut reload: kvstore::ReloadFuture) {
    let waker = std::task::Waker::noop();
    let _ = reload
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker));
}

#[test]
fn refresh_a_reloader_that_panics_when_called_is_counted_as_panicked_and_never_unwinds_into_the_reader()
 {
    let clock = ManualClock::new();
    let sync = inline(&clock, |_key| panic!("the source is down"), |b| b);
    // An async reloader that panics making its future, and one whose future panics.
    let making: S = Store::builder()
        .clock(clock.clone())
        .refresh_after(
            PERIOD,
            Reloader::spawned(
                |_key: String| -> std::future::Ready<Result<String, String>> {
                    panic!("the source is down")
                },
                poll_inline,
            ),
        )
        .build();
    let polling: S = Store::builder()
        .clock(clock.clone())
        .refresh_after(
            PERIOD,
            Reloader::spawned(
                |_key: String| async {
                    panic!("the source is down");
                    #[allow(unreachable_code)]
                    Ok::<String, String>(String::new())
                },
                poll_inline,
            ),
        )
        .build();
    for s in [&sync, &making, &polling] {
        s.put("k".into(), "old".into());
    }
    clock.advance(PERIOD);
    for (name, s) in [("sync", &sync), ("making", &making), ("polling", &polling)] {
        assert_eq!(
            s.get("k").as_deref(),
            Some("old"),
            "{name}: the read returns"
        );
        assert_eq!(s.get("k").as_deref(), Some("old"), "{name}: the entry kept");
        assert_eq!(s.load_metrics(), panicked(1), "{name}");
    }
}

#[test]
fn refresh_a_removal_listener_that_panics_while_a_reload_stores_its_value_is_counted_as_panicked() {
    let clock = ManualClock::new();
    let told = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&told);
    let s = inline(
        &clock,
        |_key| Ok("new".to_string()),
        |b| {
            b.removal_listener(move |key, value: String, cause| {
                log.lock().unwrap().push((key, value.clone(), cause));
                assert_ne!(value, "old", "the listener fails on the reload's removal");
            })
        },
    );
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    assert_eq!(
        s.get("k").as_deref(),
        Some("old"),
        "the read returns normally"
    );
    assert_eq!(s.load_metrics(), panicked(1));
    // The value was stored before the listener ran: the store is as after a reload.
    assert_eq!(s.get("k").as_deref(), Some("new"));
    assert!(s.del("k"));
    assert_eq!(
        *told.lock().unwrap(),
        [
            ("k".to_string(), "old".to_string(), RemovalCause::Replaced),
            ("k".to_string(), "new".to_string(), RemovalCause::Deleted),
        ],
        "and the listener loses no later notification"
    );
}

#[test]
fn refresh_a_weigher_that_panics_while_a_reload_stores_its_value_is_counted_as_panicked() {
    let clock = ManualClock::new();
    let s = inline(
        &clock,
        |_key| Ok("new".to_string()),
        |b| {
            b.capacity(10).weigher(|_key, value: &String| {
                assert_ne!(value, "new", "the weigher fails on the reload's value");
                value.len() as u64
            })
        },
    );
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    assert_eq!(
        s.get("k").as_deref(),
        Some("old"),
        "the read returns normally"
    );
    assert_eq!(s.load_metrics(), panicked(1));
    assert_eq!(s.get("k").as_deref(), Some("old"), "the entry kept");
    assert_eq!((s.metrics().current_size, s.weight()), (1, 3));
    s.put("j".into(), "other".into());
    assert_eq!(s.weight(), 8, "the books still add up");
}

#[test]
fn refresh_a_key_whose_hash_panics_in_a_reload_is_counted_as_panicked() {
    let clock = ManualClock::new();
    let s: RefreshingStore<Key, String> = Store::builder()
        .clock(clock.clone())
        .refresh_after(
            PERIOD,
            Reloader::sync_with(
                |_key: &Key| Ok::<_, String>("new".to_string()),
                |job: ReloadJob| job(),
            ),
        )
        .build();
    let k = Key("k".into());
    s.put(k.clone(), "old".into());
    clock.advance(PERIOD);
    // The read hashes the key, then compares it; the reload's look for its entry is the next
    // hash, and panics.
    Key::arm(|| panic!("the key cannot be hashed"));
    assert_eq!(
        s.get(&k).as_deref(),
        Some("old"),
        "the read returns normally"
    );
    assert!(Key::disarm(), "the reload hashed the key");
    assert_eq!(s.load_metrics(), panicked(1));
    assert_eq!(s.get(&k).as_deref(), Some("old"), "the entry kept");
}

#[test]
fn refresh_never_reloads_an_entry_with_a_read_budget() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put_with(
        "k".into(),
        "token".into(),
        &PutOptions::new().with_max_reads(3),
    );
    clock.advance(PERIOD * 3);
    assert_eq!(s.get("k").as_deref(), Some("token"));
    assert_eq!(s.get("k").as_deref(), Some("token"));
    assert_eq!(queue.len(), 0);
    assert_eq!(s.get("k").as_deref(), Some("token"));
    assert_eq!(
        s.get("k"),
        None,
        "spent after three reads, as without refresh"
    );
    assert_eq!(queue.len(), 0);
}

#[test]
fn refresh_the_reloaded_value_is_a_put_with_no_options() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let replaced = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&replaced);
    let s = builder(&clock, &queue, &source, |b| {
        b.time_to_live(secs(100))
            .removal_listener(move |key, value, cause| {
                log.lock().unwrap().push((key, value, cause))
            })
    });
    // Its own TTL (30 s past the refresh point) is not kept: the reload is a put with the
    // store's default TTL, from when it goes in.
    s.put_with(
        "k".into(),
        "old".into(),
        &PutOptions::new().with_ttl(secs(90)),
    );
    source.set(Ok("new"));
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    clock.advance(secs(10)); // t = 70: the reload goes in
    queue.run();
    assert_eq!(
        *replaced.lock().unwrap(),
        [("k".to_string(), "old".to_string(), RemovalCause::Replaced)]
    );
    clock.advance(secs(50)); // t = 120: past the old TTL (90), before the new (170)
    assert_eq!(s.get("k").as_deref(), Some("new"));
    assert_eq!(
        queue.len(),
        0,
        "its refresh point is a period after it went in: t = 130"
    );
    clock.advance(secs(10));
    assert_eq!(s.get("k").as_deref(), Some("new"));
    assert_eq!(queue.len(), 1);
    clock.advance(secs(40)); // t = 170
    assert_eq!(s.get("k"), None);
}

#[test]
fn refresh_get_or_insert_hits_start_reloads_too() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put("k".into(), "old".into());
    source.set(Ok("new"));
    clock.advance(PERIOD);
    let v = s.get_or_insert_with("k".into(), || unreachable!("live: no load"));
    assert_eq!(v, "old");
    assert_eq!(queue.run(), 1);
    assert_eq!(s.get_or_insert_with("k".into(), || unreachable!()), "new");
}

#[test]
fn refresh_a_reload_on_a_thread_of_its_own_lands_without_blocking_the_reader() {
    let clock = ManualClock::new();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let s: S = Store::builder()
        .clock(clock.clone())
        .refresh_after(
            PERIOD,
            Reloader::sync(move |_key: &String| {
                // Waits until the test has read the old value: the reader did not wait for it.
                gate.lock().unwrap().recv().unwrap();
                Ok::<_, String>("new".to_string())
            }),
        )
        .build();
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    release.send(()).unwrap();
    let deadline = Instant::now() + secs(20);
    while s.load_metrics().refreshed == 0 {
        assert!(Instant::now() < deadline, "the reload never landed");
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(s.get("k").as_deref(), Some("new"));
}

/// Runs `test` on a current-thread runtime with paused time.
fn on_one_thread<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(test());
}

#[test]
fn refresh_an_async_reload_runs_on_the_spawner_and_a_later_read_sees_its_value() {
    on_one_thread(|| async {
        let clock = ManualClock::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let s: S = Store::builder()
            .clock(clock.clone())
            .refresh_after(
                PERIOD,
                Reloader::spawned(
                    move |key: String| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        async move {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Ok::<_, String>(format!("{key} reloaded"))
                        }
                    },
                    |reload| {
                        tokio::spawn(reload);
                    },
                ),
            )
            .build();
        s.put("k".into(), "old".into());
        clock.advance(PERIOD);
        let start = tokio::time::Instant::now();
        assert_eq!(s.get("k").as_deref(), Some("old"));
        assert_eq!(start.elapsed(), Duration::ZERO, "the read did not wait");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the reload is running");
        assert_eq!(s.get("k").as_deref(), Some("old"), "and has not landed");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(s.get("k").as_deref(), Some("k reloaded"));
        assert_eq!(s.load_metrics(), loads(1, 1, 0, 0));
    });
}

#[test]
fn refresh_an_async_reload_dropped_by_its_runtime_counts_as_cancelled() {
    let clock = ManualClock::new();
    let held: Arc<Mutex<Vec<kvstore::ReloadFuture>>> = Arc::default();
    let keep = Arc::clone(&held);
    let s: S = Store::builder()
        .clock(clock.clone())
        .refresh_after(
            PERIOD,
            Reloader::spawned(
                |_key: String| std::future::pending::<Result<String, String>>(),
                move |reload| keep.lock().unwrap().push(reload),
            ),
        )
        .build();
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    let mut reload = held.lock().unwrap().pop().unwrap();
    let polled = reload
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert!(polled.is_pending());
    drop(reload);
    let cancelled = LoadMetrics {
        cancelled: 1,
        ..loads(1, 0, 0, 0)
    };
    assert_eq!(s.load_metrics(), cancelled);
    assert_eq!(s.get("k").as_deref(), Some("old"));
}

#[test]
fn refresh_has_keys_and_iter_are_not_reads_and_start_nothing() {
    let (clock, queue, source) = (ManualClock::new(), Queue::default(), Source::default());
    let s = store(&clock, &queue, &source);
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    assert!(s.has("k"));
    assert_eq!(s.keys(), ["k"]);
    assert_eq!(s.iter().count(), 1);
    assert_eq!(queue.len(), 0);
    assert_eq!(s.get("k").as_deref(), Some("old"));
    assert_eq!(queue.len(), 1, "the first read does");
}

#[test]
fn refresh_reloads_share_no_load_with_get_or_insert() {
    on_one_thread(|| async {
        let clock = ManualClock::new();
        let s: S = Store::builder()
            .clock(clock.clone())
            .refresh_after(
                PERIOD,
                Reloader::spawned(
                    |_key: String| async {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, String>("reloaded".to_string())
                    },
                    |reload| {
                        tokio::spawn(reload);
                    },
                ),
            )
            .build();
        s.put("k".into(), "old".into());
        clock.advance(PERIOD);
        assert_eq!(s.get("k").as_deref(), Some("old"));
        tokio::task::yield_now().await; // the reload starts loading
        assert!(s.del("k"));
        let start = tokio::time::Instant::now();
        let v = s
            .get_or_insert_async("k".into(), async { "loaded".to_string() })
            .await;
        assert_eq!(v, "loaded");
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "it did not wait for the reload"
        );
        tokio::time::sleep(Duration::from_millis(150)).await; // the reload ends at 100 ms
        assert_eq!(
            s.get("k").as_deref(),
            Some("loaded"),
            "the reload's value dropped"
        );
        let expected = LoadMetrics {
            succeeded: 1,
            ..loads(2, 0, 1, 0)
        };
        assert_eq!(s.load_metrics(), expected);
    });
}

#[test]
fn refresh_the_reload_runs_with_no_store_lock_held() {
    // A runner that runs the reload at once, on the reading thread: the reload reads and
    // writes the key's shard, which waits forever if the read still holds its lock. The
    // reads run in a thread of their own, under a real-time watchdog.
    let clock = ManualClock::new();
    let s: S = Store::builder()
        .clock(clock.clone())
        .shards(1)
        .refresh_after(
            PERIOD,
            Reloader::sync_with(
                |key: &String| Ok::<_, String>(format!("{key} reloaded")),
                |job: ReloadJob| job(),
            ),
        )
        .build();
    s.put("k".into(), "old".into());
    clock.advance(PERIOD);
    let reader = {
        let s = s.clone();
        thread::spawn(move || (s.get("k"), s.get("k")))
    };
    let deadline = Instant::now() + secs(20);
    while !reader.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the read hung: it started the reload under a store lock"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let (first, second) = reader.join().unwrap();
    assert_eq!(first.as_deref(), Some("old"));
    assert_eq!(second.as_deref(), Some("k reloaded"));
}
