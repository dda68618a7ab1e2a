//! The workloads of `docs/performance.md` and their operation sequences.
//!
//! Everything a timed run touches is built here first: the key strings (`"key-{n}"`), the warm-up
//! sequence and each thread's operations, all from a fixed seed so every store sees the same run.

use std::fmt;
use std::str::FromStr;

/// Capacity of the bounded stores in W2–W4.
pub const SMALL_CAPACITY: usize = 100_000;
/// Capacity of the bounded stores in W1 (more than its keys: no eviction).
pub const W1_CAPACITY: usize = 200_000;
/// Keys inserted before timing in W2–W5.
pub const WARM_UP_KEYS: usize = 500_000;
/// The time to live of W4's puts, in nanoseconds.
pub const W4_TTL_NANOS: u64 = 1_000_000_000;
/// How far W4 moves a manual clock per operation: 1 µs, so 4 million operations span 4 simulated
/// seconds and an entry not read for 1 million operations expires. Peers on real time run at
/// about this rate, so both see comparable expiry.
pub const W4_NANOS_PER_OP: u64 = 1_000;
/// Operations between two clock moves in W4 (per thread).
pub const W4_TICK_EVERY: usize = 1_024;

/// One workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Workload {
    /// 100% get, uniform over 100,000 present keys.
    W1,
    /// 90% get / 10% put, Zipf s=1.0 over 1,000,000 keys, capacity 100,000.
    W2,
    /// 50% get / 50% put, uniform over 1,000,000 keys, capacity 100,000.
    W3,
    /// W2 with every put `ttl=1s` + sliding, on a clock that advances.
    W4,
    /// One-shot tokens: put with `max_reads(1)` then one get, on fresh keys; unbounded.
    W5,
}

impl Workload {
    /// All workloads in order.
    pub const ALL: [Workload; 5] = [Self::W1, Self::W2, Self::W3, Self::W4, Self::W5];

    /// Distinct keys the operations draw from (W5: tokens are fresh, see [`Plan::new`]).
    pub fn key_space(self) -> usize {
        match self {
            Self::W1 => 100_000,
            Self::W2 | Self::W3 | Self::W4 => 1_000_000,
            Self::W5 => 0,
        }
    }

    /// The capacity of a bounded store; `None` for an unbounded workload.
    pub fn capacity(self) -> Option<usize> {
        match self {
            Self::W1 => Some(W1_CAPACITY),
            Self::W2 | Self::W3 | Self::W4 => Some(SMALL_CAPACITY),
            Self::W5 => None,
        }
    }

    /// What the workload does, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Self::W1 => "100% get, uniform, 100k keys all present, capacity 200k",
            Self::W2 => "90% get / 10% put, Zipf 1.0, 1M keys, capacity 100k",
            Self::W3 => "50% get / 50% put, uniform, 1M keys, capacity 100k",
            Self::W4 => "W2 with ttl=1s + sliding on every put, clock advancing",
            Self::W5 => "one-shot tokens: put max_reads(1) + get, fresh keys, unbounded",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A workload name that is not W1–W5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWorkload(pub String);

impl fmt::Display for UnknownWorkload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown workload `{}`: use one of W1, W2, W3, W4, W5",
            self.0
        )
    }
}

impl std::error::Error for UnknownWorkload {}

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|w| w.to_string().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownWorkload(s.to_string()))
    }
}

/// One operation: what to do and the index of its key in [`Plan::keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read the key.
    Get(u32),
    /// Write the key (in W4 with the TTL).
    Put(u32),
    /// Put a one-shot token under the key, then read it once (two operations).
    Token(u32),
}

impl Op {
    /// How many store operations this counts as.
    pub fn weight(self) -> u64 {
        match self {
            Op::Token(_) => 2,
            Op::Get(_) | Op::Put(_) => 1,
        }
    }
}

/// Everything a run needs, built before timing.
#[derive(Debug)]
pub struct Plan {
    /// The workload.
    pub workload: Workload,
    /// The key strings, `keys[i] == format!("key-{i}")`.
    pub keys: Vec<String>,
    /// Keys put (single-threaded, untimed) before the run.
    pub warm_up: Vec<u32>,
    /// Each thread's operations; their weights add up to the requested count.
    pub ops: Vec<Vec<Op>>,
}

impl Plan {
    /// The plan for `workload` with `total_ops` operations split over `threads` threads.
    pub fn new(workload: Workload, threads: usize, total_ops: usize, seed: u64) -> Plan {
        let threads = threads.max(1);
        let mut rng = Rng::new(seed ^ (workload as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let per_thread = total_ops / threads;
        let (keys, warm_up, all): (usize, Vec<u32>, Vec<Op>) = match workload {
            Workload::W1 => {
                let n = workload.key_space();
                let warm = (0..n as u32).collect();
                let ops = (0..total_ops)
                    .map(|_| Op::Get(rng.below(n) as u32))
                    .collect();
                (n, warm, ops)
            }
            Workload::W2 | Workload::W4 => {
                let n = workload.key_space();
                let zipf = Zipf::new(n, 1.0);
                let warm = (0..WARM_UP_KEYS)
                    .map(|_| zipf.sample(&mut rng) as u32)
                    .collect();
                let ops = (0..total_ops)
                    .map(|_| {
                        let k = zipf.sample(&mut rng) as u32;
                        if rng.below(10) == 0 {
                            Op::Put(k)
                        } else {
                            Op::Get(k)
                        }
                    })
                    .collect();
                (n, warm, ops)
            }
            Workload::W3 => {
                let n = workload.key_space();
                let warm = (0..WARM_UP_KEYS).map(|_| rng.below(n) as u32).collect();
                let ops = (0..total_ops)
                    .map(|_| {
                        let k = rng.below(n) as u32;
                        if rng.below(2) == 0 {
                            Op::Put(k)
                        } else {
                            Op::Get(k)
                        }
                    })
                    .collect();
                (n, warm, ops)
            }
            Workload::W5 => {
                // Warm-up keys come first; every token after them is used exactly once.
                let tokens = total_ops / 2;
                let warm = (0..WARM_UP_KEYS as u32).collect();
                let ops = (0..tokens)
                    .map(|i| Op::Token((WARM_UP_KEYS + i) as u32))
                    .collect();
                (WARM_UP_KEYS + tokens, warm, ops)
            }
        };
        let chunk = match workload {
            Workload::W5 => per_thread / 2,
            _ => per_thread,
        }
        .max(1);
        let ops = all
            .chunks(chunk)
            .take(threads)
            .map(<[Op]>::to_vec)
            .collect();
        Plan {
            workload,
            keys: (0..keys).map(|i| format!("key-{i}")).collect(),
            warm_up,
            ops,
        }
    }

    /// The store operations the plan's threads perform in all.
    pub fn total_weight(&self) -> u64 {
        self.ops.iter().flatten().map(|op| op.weight()).sum()
    }
}

/// A small, fast generator (SplitMix64): reproducible from its seed and free of dependencies.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for these sizes).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf's law over ranks `0..n` (rank 0 the most frequent), sampled by binary search in the
/// cumulative distribution.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution with exponent `s` over `n` ranks.
    pub fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for rank in 1..=n {
            sum += 1.0 / (rank as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self { cdf }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_reproducible_from_the_seed() {
        let a = Plan::new(Workload::W2, 2, 10_000, 7);
        let b = Plan::new(Workload::W2, 2, 10_000, 7);
        assert_eq!(a.ops, b.ops);
        assert_eq!(a.warm_up, b.warm_up);
        let c = Plan::new(Workload::W2, 2, 10_000, 8);
        assert_ne!(a.ops, c.ops);
    }

    #[test]
    fn operations_add_up_to_the_requested_count() {
        for w in Workload::ALL {
            for threads in [1, 2] {
                let plan = Plan::new(w, threads, 10_000, 1);
                assert_eq!(plan.ops.len(), threads, "{w}");
                assert_eq!(plan.total_weight(), 10_000, "{w} at {threads} threads");
            }
        }
    }

    #[test]
    fn w2_mixes_one_put_in_ten_over_a_skewed_key_space() {
        let plan = Plan::new(Workload::W2, 1, 100_000, 3);
        let ops = &plan.ops[0];
        let puts = ops.iter().filter(|o| matches!(o, Op::Put(_))).count();
        assert!((9_000..11_000).contains(&puts), "{puts} puts");
        // Zipf 1.0 over 1M ranks: rank 0 takes about 1/H(1M) ≈ 6.95% of draws.
        let top = ops
            .iter()
            .filter(|o| matches!(o, Op::Get(0) | Op::Put(0)))
            .count();
        assert!((6_000..8_000).contains(&top), "{top} draws of the top key");
    }

    #[test]
    fn w5_tokens_are_fresh_and_distinct_from_the_warm_up() {
        let plan = Plan::new(Workload::W5, 2, 1_000, 3);
        let mut seen = std::collections::HashSet::new();
        for op in plan.ops.iter().flatten() {
            let Op::Token(k) = *op else {
                panic!("W5 holds only tokens, got {op:?}")
            };
            assert!(k as usize >= WARM_UP_KEYS);
            assert!(seen.insert(k), "token {k} used twice");
        }
        assert_eq!(plan.keys.len(), WARM_UP_KEYS + 500);
    }

    #[test]
    fn workload_names_parse_and_bad_ones_say_what_to_use() {
        assert_eq!("w4".parse::<Workload>(), Ok(Workload::W4));
        let err = "W9".parse::<Workload>().unwrap_err();
        assert!(err.to_string().contains("W1, W2, W3, W4, W5"));
    }
}
