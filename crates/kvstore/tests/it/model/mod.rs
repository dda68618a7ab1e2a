//! Reliability item 6: random operation sequences against the reference model, compared after
//! every step (return values, the five counters, `validate()`), and item 8's operation target in
//! its proptest form (random bytes through the fuzz decoder).
//!
//! `KV_SOAK_SCALE=<n>` multiplies the number of cases (`cargo xtask soak` sets it).

pub mod driver;
pub mod reference;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError};

use driver::{Config, KEYS, Op, TestClock};
use reference::PutOpt;

/// How many times the default case counts `cargo xtask soak` asks for.
pub fn soak_scale() -> u32 {
    std::env::var("KV_SOAK_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases.saturating_mul(soak_scale()),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn put_opt() -> impl Strategy<Value = PutOpt> {
    prop_oneof![
        4 => (0u64..6).prop_map(|ms| PutOpt::TtlNanos(ms * 1_000)),
        1 => (1u64..3).prop_map(PutOpt::TtlNanos),
        1 => Just(PutOpt::TtlNanos(u64::MAX)),
        1 => Just(PutOpt::TtlForever),
        3 => Just(PutOpt::Sliding),
        3 => (0usize..4).prop_map(PutOpt::MaxReads),
        1 => Just(PutOpt::MaxReads(usize::MAX)),
    ]
}

fn op(keys: usize, max_capacity: usize) -> impl Strategy<Value = Op> {
    let ns = 0usize..2;
    let key = 0..keys;
    prop_oneof![
        8 => (ns.clone(), key.clone(), 0u32..100, prop::collection::vec(put_opt(), 0..4))
            .prop_map(|(ns, key, value, opts)| Op::Put { ns, key, value, opts }),
        6 => (ns.clone(), key.clone()).prop_map(|(ns, key)| Op::Get { ns, key }),
        2 => (ns.clone(), key.clone()).prop_map(|(ns, key)| Op::Has { ns, key }),
        2 => (ns.clone(), key).prop_map(|(ns, key)| Op::Del { ns, key }),
        1 => ns.clone().prop_map(|ns| Op::Keys { ns }),
        1 => (ns.clone(), 0..=max_capacity).prop_map(|(ns, n)| Op::SetCapacity { ns, n }),
        1 => ns.clone().prop_map(|ns| Op::Purge { ns }),
        1 => ns.prop_map(|ns| Op::Clear { ns }),
        4 => (0u64..4).prop_map(|ms| Op::Advance { nanos: ms * 1_000 }),
        1 => (0u64..4).prop_map(|ms| Op::Rewind { nanos: ms * 1_000 }),
    ]
}

fn config(max_capacity: usize) -> impl Strategy<Value = Config> {
    (
        prop_oneof![Just(1usize), Just(2), Just(16)],
        [0..=max_capacity, 0..=max_capacity],
        prop_oneof![
            4 => Just(TestClock::Manual(0)),
            2 => Just(TestClock::Manual(u64::MAX - 20_000)),
            1 => Just(TestClock::System),
        ],
    )
        .prop_map(|(shards, capacities, clock)| Config {
            shards,
            capacities,
            clock,
        })
}

proptest! {
    #![proptest_config(proptest_config(3_000))]

    /// Every return value, every counter and the store's own bookkeeping agree with the
    /// reference model after every step of a random sequence.
    #[test]
    fn random_sequences_keep_the_contract(
        config in config(4),
        ops in prop::collection::vec(op(KEYS.len(), 4), 1..60),
    ) {
        driver::run(&config, &ops).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(proptest_config(150))]

    /// Long sequences over more keys: enough churn that the expiry index and the LRU order
    /// fill with dead records and get compacted, checked step by step like the short ones.
    #[test]
    fn long_sequences_keep_the_contract_through_compaction(
        config in config(24),
        ops in prop::collection::vec(op(40, 24), 300..800),
    ) {
        driver::run(&config, &ops).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(proptest_config(1_000))]

    /// The fuzz target over operation sequences, fed by proptest instead of libFuzzer: the same
    /// decoder and the same comparison, so it runs everywhere `cargo test` does.
    #[test]
    fn fuzz_ops_target_standin(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let (config, ops) = driver::decode(&data);
        driver::run(&config, &ops).map_err(TestCaseError::fail)?;
    }
}
