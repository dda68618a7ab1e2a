//! Entries that take over a removed entry's place in its shard. Policy records name an entry by
//! its shard, its slab position and 16 bits of its id, so a record left by a removed entry can
//! name the entry that reuses its position once the id tag comes round again. Such a record
//! must never act on the newcomer: the store judges the entry it finds by that entry's own
//! deadline or stamp.

use std::time::Duration;

use kvstore::{ManualClock, PutOptions, Store};

/// Ids advance by one per put; this many puts bring a position's 16-bit tag round again.
const TAG_PERIOD: usize = 1 << 16;

fn one_shard_store(clock: &ManualClock) -> Store<String, u32> {
    Store::builder().shards(1).clock(clock.clone()).build()
}

fn ttl(secs: u64) -> PutOptions {
    PutOptions::new().with_ttl(Duration::from_secs(secs))
}

/// Leaves an expiry record (deadline 10 s) for a deleted entry, churns its slab position until
/// the id tag comes round again, and puts `new` there with `options`.
fn newcomer_where_a_stale_record_points(store: &Store<String, u32>, options: &PutOptions) {
    store.put_with("old".into(), 1, &ttl(10));
    assert!(store.del("old"));
    // Each put takes the position "old" freed (the most recently freed one), with the next id.
    for _ in 1..TAG_PERIOD {
        store.put("churn".into(), 2);
        assert!(store.del("churn"));
    }
    store.put_with("new".into(), 3, options);
    store.validate().unwrap();
}

/// Deletes leave expiry records behind; a newcomer at the same position with the same tag and a
/// later deadline outlives the stale record's deadline and then expires exactly once.
#[test]
fn stale_expiry_record_with_a_matching_tag_leaves_the_newcomer_to_its_own_deadline() {
    let clock = ManualClock::new();
    let store = one_shard_store(&clock);
    newcomer_where_a_stale_record_points(&store, &ttl(20));

    clock.advance(Duration::from_secs(15));
    assert_eq!(
        store.purge_expired(),
        0,
        "the stale record must not expire the newcomer"
    );
    assert_eq!(store.get("new"), Some(3));
    assert_eq!(store.metrics().expirations, 0);

    clock.advance(Duration::from_secs(10));
    assert_eq!(store.get("new"), None);
    assert_eq!(store.purge_expired(), 0);
    assert_eq!(store.metrics().expirations, 1);
    store.validate().unwrap();
}

/// A newcomer without any TTL at a stale record's position never expires.
#[test]
fn stale_expiry_record_with_a_matching_tag_never_expires_a_newcomer_without_ttl() {
    let clock = ManualClock::new();
    let store = one_shard_store(&clock);
    newcomer_where_a_stale_record_points(&store, &PutOptions::new());
    clock.advance(Duration::from_secs(1_000));
    assert_eq!(store.purge_expired(), 0);
    assert_eq!(store.get("new"), Some(3));
    assert_eq!(store.metrics().expirations, 0);
    store.validate().unwrap();
}
