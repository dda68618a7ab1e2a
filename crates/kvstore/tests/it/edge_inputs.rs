//! Reliability items 9–11: hostile but legal inputs. Each is its own test, named after what it
//! checks. None may panic, in debug or release.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use kvstore::{AnyStore, Clock, ManualClock, PutOptions, Store};

fn store_on(clock: &ManualClock) -> Store<String, u32> {
    Store::builder().clock(clock.clone()).build()
}

fn ttl(d: Duration) -> PutOptions {
    PutOptions::new().with_ttl(d)
}

// Item 9: extreme TTLs and a clock near its end.

#[test]
fn ttl_of_zero_means_no_ttl() {
    let clock = ManualClock::new();
    let store = store_on(&clock);
    store.put_with("k".into(), 1, &ttl(Duration::ZERO).with_sliding_ttl());
    clock.advance(Duration::from_secs(1_000_000));
    assert_eq!(store.get("k"), Some(1));
    assert_eq!(store.metrics().expirations, 0);
}

#[test]
fn ttl_of_one_nanosecond_expires_at_the_next_nanosecond() {
    let clock = ManualClock::new();
    let store = store_on(&clock);
    store.put_with("k".into(), 1, &ttl(Duration::from_nanos(1)));
    assert!(store.has("k"));
    clock.advance(Duration::from_nanos(1));
    assert!(!store.has("k"));
    assert_eq!(store.metrics().expirations, 1);
}

#[test]
fn ttl_of_u64_max_nanoseconds_never_expires() {
    let clock = ManualClock::starting_at(1);
    let store = store_on(&clock);
    store.put_with("k".into(), 1, &ttl(Duration::from_nanos(u64::MAX)));
    clock.advance(Duration::MAX); // the clock saturates at its end
    assert_eq!(store.get("k"), Some(1));
    assert_eq!(store.purge_expired(), 0);
}

#[test]
fn ttl_of_duration_max_never_expires() {
    let clock = ManualClock::new();
    let store = store_on(&clock);
    store.put_with("k".into(), 1, &ttl(Duration::MAX).with_sliding_ttl());
    clock.advance(Duration::from_secs(3_600 * 24 * 365 * 500));
    assert_eq!(store.get("k"), Some(1)); // the sliding refresh overflows too: still never
    clock.advance(Duration::MAX);
    assert_eq!(store.get("k"), Some(1));
    assert_eq!(store.metrics().expirations, 0);
}

#[test]
fn clock_started_near_its_maximum_expires_what_fits_and_keeps_what_overflows() {
    let clock = ManualClock::starting_at(u64::MAX - 100);
    let store = store_on(&clock);
    store.put_with("short".into(), 1, &ttl(Duration::from_nanos(50)));
    store.put_with("overflowing".into(), 2, &ttl(Duration::from_nanos(200)));
    store.put_with(
        "sliding".into(),
        3,
        &ttl(Duration::from_nanos(60)).with_sliding_ttl(),
    );
    store.put("no-ttl".into(), 4);
    clock.advance(Duration::from_nanos(50));
    assert_eq!(store.get("short"), None);
    assert_eq!(store.get("sliding"), Some(3)); // refreshed past the end of the clock: never
    clock.advance(Duration::MAX); // saturates at u64::MAX
    assert_eq!(store.get("overflowing"), Some(2));
    assert_eq!(store.get("sliding"), Some(3));
    assert_eq!(store.get("no-ttl"), Some(4));
    assert_eq!(store.purge_expired(), 0);
    let mut keys = store.keys();
    keys.sort();
    assert_eq!(keys, ["no-ttl", "overflowing", "sliding"]);
    assert_eq!(store.metrics().expirations, 1);
    store.validate().unwrap();
}

#[test]
fn entry_without_ttl_survives_the_clock_reaching_its_end() {
    let clock = ManualClock::starting_at(u64::MAX);
    let store = store_on(&clock);
    store.put("k".into(), 1);
    assert!(store.has("k"));
    assert!(store.keys().contains(&"k".to_string()));
    assert_eq!(store.get("k"), Some(1));
    assert!(store.del("k"));
}

// Item 10: a clock that goes backwards.

#[test]
fn clock_going_backwards_revives_nothing() {
    let clock = ManualClock::new();
    let store = store_on(&clock);
    store.put_with("k".into(), 1, &ttl(Duration::from_secs(10)));
    clock.advance(Duration::from_secs(10));
    assert!(!store.keys().contains(&"k".to_string())); // seen expired once...
    clock.set(0); // ...then time runs back
    assert!(!store.has("k"));
    assert_eq!(store.get("k"), None);
    assert_eq!(store.metrics().expirations, 1);
}

#[test]
fn clock_going_backwards_neither_shortens_nor_lengthens_a_new_ttl() {
    let clock = ManualClock::new();
    let store = store_on(&clock);
    assert_eq!(store.now_nanos(), 0);
    clock.set(1_000);
    assert_eq!(store.now_nanos(), 1_000);
    clock.set(10); // backwards: the store's time holds at 1_000
    assert_eq!(store.now_nanos(), 1_000);
    store.put_with("k".into(), 1, &ttl(Duration::from_nanos(100)));
    clock.set(1_099);
    assert!(store.has("k"));
    clock.set(1_100);
    assert!(!store.has("k"));
}

/// A clock that jumps around: far behind, far ahead, the extremes included.
struct ErraticClock(ManualClock);

impl Clock for ErraticClock {
    fn now_nanos(&self) -> u64 {
        let n = self.0.now_nanos();
        self.0.advance(Duration::from_nanos(1));
        match n % 4 {
            0 => 0,
            1 => u64::MAX,
            2 => n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            _ => n,
        }
    }
}

#[test]
fn erratic_clock_causes_no_panic_and_no_revival() {
    let store: Store<String, u32> = Store::builder()
        .clock(ErraticClock(ManualClock::new()))
        .capacity(3)
        .build();
    for i in 0..200u32 {
        let key = format!("k{}", i % 7);
        let opts = ttl(Duration::from_nanos(u64::from(i % 5)))
            .with_sliding_ttl()
            .with_max_reads(i as usize % 3);
        store.put_with(key.clone(), i, &opts);
        let _ = store.get(&key);
        let _ = store.has(&key);
        let _ = store.keys();
        if i % 11 == 0 {
            store.purge_expired();
        }
    }
    // The store's time reached the end of the clock at the second reading: every TTL entry put
    // since then got "never", and nothing that expired came back.
    store.validate().unwrap();
    assert!(store.len() <= 3);
}

// Item 11: extreme counts, sizes and names.

#[test]
fn max_reads_of_usize_max_is_a_budget_that_never_runs_out_in_practice() {
    let store: Store<String, u32> = Store::new();
    store.put_with("k".into(), 1, &PutOptions::new().with_max_reads(usize::MAX));
    for _ in 0..10_000 {
        assert_eq!(store.get("k"), Some(1));
    }
    assert!(store.has("k"));
}

#[test]
fn capacity_of_usize_max_is_as_good_as_unbounded() {
    let store: Store<u32, u32> = Store::builder().capacity(usize::MAX).build();
    for i in 0..10_000 {
        store.put(i, i);
    }
    assert_eq!(store.len(), 10_000);
    assert_eq!(store.metrics().evictions, 0);
    store.set_capacity(usize::MAX);
    assert_eq!(store.len(), 10_000);
    store.validate().unwrap();
}

#[test]
fn capacity_shrunk_to_one_under_a_full_store_keeps_the_most_recently_used() {
    let store: Store<u32, u32> = Store::builder().shards(16).build();
    for i in 0..10_000 {
        store.put(i, i);
    }
    assert_eq!(store.get(&17), Some(17)); // the most recent use
    store.set_capacity(1);
    assert_eq!(store.keys(), vec![17]);
    let m = store.metrics();
    assert_eq!((m.evictions, m.current_size), (9_999, 1));
    store.validate().unwrap();
}

#[test]
fn empty_key_is_an_ordinary_key() {
    let store: Store<String, u32> = Store::new();
    assert_eq!(store.get(""), None);
    store.put(String::new(), 1);
    assert!(store.has(""));
    assert_eq!(store.get(""), Some(1));
    assert_eq!(store.keys(), vec![String::new()]);
    assert!(store.del(""));
    assert!(!store.has(""));
}

#[test]
fn very_long_keys_are_ordinary_keys() {
    let store: Store<String, u32> = Store::builder().capacity(2).build();
    let long = "k".repeat(4 << 20);
    let longer = format!("{long}x");
    store.put(long.clone(), 1);
    store.put(longer.clone(), 2);
    assert_eq!(store.get(long.as_str()), Some(1));
    assert_eq!(store.get(longer.as_str()), Some(2));
    store.put("short".into(), 3); // evicts `long`, the least recently used
    assert!(!store.has(long.as_str()));
    assert!(store.del(longer.as_str()));
    store.validate().unwrap();
}

#[test]
fn namespaces_with_odd_characters_are_distinct() {
    let _global = crate::global_stores();
    let long = "n".repeat(1 << 16);
    let names = [
        "",
        " ",
        "pipeline/node",
        "pipeline/node/",
        "../..",
        "\0",
        "tab\there",
        "new\nline",
        "ünïcödé 💥",
        "\u{202e}rtl",
        "\"quoted\"",
        long.as_str(),
    ];
    let stores: Vec<AnyStore> = names.iter().map(|n| kvstore::namespace(n)).collect();
    for (i, store) in stores.iter().enumerate() {
        store.put(format!("edge_inputs/{i}"), i);
    }
    for (i, (store, name)) in stores.iter().zip(names).enumerate() {
        let mine = format!("edge_inputs/{i}");
        assert_eq!(
            store.get::<usize>(&mine).as_deref(),
            Some(&i),
            "namespace {name:?}"
        );
        assert!(
            store
                .keys()
                .iter()
                .all(|k| !k.starts_with("edge_inputs/") || *k == mine),
            "namespace {name:?} sees another namespace's key"
        );
    }
    // `namespace("")` is not the default store.
    assert!(!kvstore::default().has("edge_inputs/0"));
}

/// A key whose `Eq` panics when asked to: a user's broken impl must not break the store.
#[derive(Clone, Debug)]
struct Touchy(u32, bool);

impl std::hash::Hash for Touchy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state); // the flag is not hashed: a touchy key finds its twin's bucket
    }
}

impl PartialEq for Touchy {
    fn eq(&self, other: &Self) -> bool {
        assert!(!(self.1 || other.1), "Touchy::eq asked to panic");
        self.0 == other.0
    }
}

impl Eq for Touchy {}

#[test]
fn a_key_whose_eq_panics_leaves_the_store_consistent() {
    let store: Store<Touchy, u32> = Store::builder().shards(1).capacity(4).build();
    for i in 0..3 {
        store.put(Touchy(i, false), i);
    }
    // Same hash as key 1, so the lookup must compare with it, and the comparison panics.
    let outcomes = [
        catch_unwind(AssertUnwindSafe(|| store.put(Touchy(1, true), 9))).is_err(),
        catch_unwind(AssertUnwindSafe(|| store.get(&Touchy(1, true)))).is_err(),
        catch_unwind(AssertUnwindSafe(|| store.del(&Touchy(1, true)))).is_err(),
    ];
    assert_eq!(
        outcomes, [true; 3],
        "each comparison was reached and panicked"
    );
    // The locks it panicked under are usable and the books still add up.
    store.validate().unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(store.get(&Touchy(1, false)), Some(1));
    store.put(Touchy(7, false), 7);
    store.put(Touchy(8, false), 8);
    assert_eq!(store.len(), 4);
    store.validate().unwrap();
}
