//! Entries that take over a removed entry's place in its shard. Policy records name an entry by
//! its shard, its slab position and 16 bits of its key hash, so a record left by a removed entry
//! names the entry that reuses its position when their tags agree: always for the same key put
//! again, once in 65,536 reuses for another key. Such a record must never act on the newcomer:
//! the store judges the entry it finds by that entry's own deadline or stamp. The store here
//! hashes a key to itself, so two keys whose low 16 bits agree collide on purpose.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use kvstore::{ManualClock, PutOptions, StorePolicies};

/// Hashes a `u64` key to itself.
#[derive(Clone, Default)]
struct Identity;

impl BuildHasher for Identity {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0 << 8 | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type S = kv_core::Store<u64, u32, StorePolicies<u64>, Identity>;

/// The key a stale record is left by, and a newcomer whose hash agrees with it in the low 16
/// bits (the tag) and nowhere else the index looks.
const OLD: u64 = 0x1_0007;
const NEW: u64 = 0x2_0007;

fn one_shard_store(clock: &ManualClock) -> S {
    S::builder().shards(1).clock(clock.clone()).build()
}

fn ttl(secs: u64) -> PutOptions {
    PutOptions::new().with_ttl(Duration::from_secs(secs))
}

/// Leaves an expiry record (deadline 10 s) for a deleted entry of `OLD` and puts `newcomer` with
/// `options`: it takes the freed position (the most recently freed), under the same tag.
fn newcomer_where_a_stale_record_points(store: &S, newcomer: u64, options: &PutOptions) {
    store.put_with(OLD, 1, &ttl(10));
    assert!(store.del(&OLD));
    store.put_with(newcomer, 3, options);
    store.validate().unwrap();
}

/// Deletes leave expiry records behind; a newcomer at the same position with the same tag and a
/// later deadline outlives the stale record's deadline and then expires exactly once.
#[test]
fn stale_expiry_record_with_a_matching_tag_leaves_the_newcomer_to_its_own_deadline() {
    let clock = ManualClock::new();
    let store = one_shard_store(&clock);
    for newcomer in [NEW, OLD] {
        newcomer_where_a_stale_record_points(&store, newcomer, &ttl(20));

        clock.advance(Duration::from_secs(15));
        assert_eq!(
            store.purge_expired(),
            0,
            "the stale record must not expire the newcomer"
        );
        assert_eq!(store.get(&newcomer), Some(3));

        clock.advance(Duration::from_secs(10));
        assert_eq!(store.get(&newcomer), None);
    }
    assert_eq!(store.purge_expired(), 0);
    assert_eq!(store.metrics().expirations, 2, "each newcomer expired once");
    store.validate().unwrap();
}

/// A newcomer without any TTL at a stale record's position never expires.
#[test]
fn stale_expiry_record_with_a_matching_tag_never_expires_a_newcomer_without_ttl() {
    let clock = ManualClock::new();
    let store = one_shard_store(&clock);
    newcomer_where_a_stale_record_points(&store, NEW, &PutOptions::new());
    clock.advance(Duration::from_secs(1_000));
    assert_eq!(store.purge_expired(), 0);
    assert_eq!(store.get(&NEW), Some(3));
    assert_eq!(store.metrics().expirations, 0);
    store.validate().unwrap();
}
