//! Drives the real stores and the reference model with the same operations and compares them
//! after every step. Used by the proptest model tests and, through `#[path]`, by the fuzz target
//! over operation sequences (which is why the byte decoder lives here too).
//!
//! Two namespaces share one manual clock: namespace 0 is a typed `kvstore::Store`, namespace 1 an
//! `AnyStore` (the type the global namespaces hold), so both front doors are checked.

use std::fmt::Write as _;
use std::time::Duration;

use kvstore::{AnyStore, Clock, ManualClock, PutOptions, Store};

use super::reference::{Model, PutOpt};

/// The first keys a sequence draws from: few, so operations collide; the empty key included.
/// Longer sequences draw from more keys, named `k5`, `k6`, ... (see [`key_name`]).
pub const KEYS: [&str; 5] = ["", "a", "b", "c", "pipeline/node-7"];

/// The name of key number `i`.
pub fn key_name(i: usize) -> String {
    KEYS.get(i)
        .map_or_else(|| format!("k{i}"), |k| k.to_string())
}

/// How the stores are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Shards of each store (1 puts every key under one lock; more spreads them).
    pub shards: usize,
    /// The capacity each namespace starts with (0: unbounded).
    pub capacities: [usize; 2],
    /// The clock the stores run on.
    pub clock: TestClock,
}

/// The clock of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestClock {
    /// A manual clock starting here (near `u64::MAX` checks deadline overflow).
    Manual(u64),
    /// The system clock, as users run the store (it has hot paths of its own). Time cannot be
    /// steered, so `Advance` and `Rewind` do nothing and every TTL is made an hour longer:
    /// nothing expires during a run, everything else is checked as usual.
    System,
}

/// What a run on the system clock adds to every TTL.
const HOUR_NANOS: u64 = 3_600_000_000_000;

/// One step of a sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `put_with(key, value, options)`, options applied in order.
    Put {
        /// Which namespace (0 or 1).
        ns: usize,
        /// Key number (see [`key_name`]).
        key: usize,
        /// The value.
        value: u32,
        /// The options, in order.
        opts: Vec<PutOpt>,
    },
    /// `get(key)`.
    Get { ns: usize, key: usize },
    /// `has(key)`.
    Has { ns: usize, key: usize },
    /// `del(key)`.
    Del { ns: usize, key: usize },
    /// `keys()`.
    Keys { ns: usize },
    /// `set_capacity(n)`.
    SetCapacity { ns: usize, n: usize },
    /// `purge_expired()`.
    Purge { ns: usize },
    /// `clear()`.
    Clear { ns: usize },
    /// Moves the clock forward.
    Advance { nanos: u64 },
    /// Moves the clock backwards (a misbehaving clock): nothing may revive.
    Rewind { nanos: u64 },
}

/// One namespace under test: the same operations through either front door.
enum Target {
    Typed(Store<String, u32>),
    Any(AnyStore),
}

impl Target {
    /// `Some(displaced)` where the API reports the displaced value.
    fn put(&self, key: &str, value: u32, opts: &PutOptions) -> Option<Option<u32>> {
        match self {
            Self::Typed(s) => Some(s.put_with(key.to_owned(), value, opts)),
            Self::Any(s) => {
                s.put_with(key, value, opts);
                None
            }
        }
    }

    fn get(&self, key: &str) -> Option<u32> {
        match self {
            Self::Typed(s) => s.get(key),
            Self::Any(s) => s.get::<u32>(key).map(|v| *v),
        }
    }

    fn has(&self, key: &str) -> bool {
        match self {
            Self::Typed(s) => s.has(key),
            Self::Any(s) => s.has(key),
        }
    }

    fn del(&self, key: &str) -> bool {
        match self {
            Self::Typed(s) => s.del(key),
            Self::Any(s) => s.del(key),
        }
    }

    fn keys(&self) -> Vec<String> {
        match self {
            Self::Typed(s) => {
                let mut keys = s.keys();
                keys.sort();
                keys
            }
            Self::Any(s) => s.keys(),
        }
    }

    fn set_capacity(&self, n: usize) {
        match self {
            Self::Typed(s) => s.set_capacity(n),
            Self::Any(s) => s.set_capacity(n),
        }
    }

    fn purge(&self) -> usize {
        match self {
            Self::Typed(s) => s.purge_expired(),
            Self::Any(s) => s.purge_expired(),
        }
    }

    fn clear(&self) {
        match self {
            Self::Typed(s) => s.clear(),
            Self::Any(s) => s.clear(),
        }
    }

    fn metrics(&self) -> kvstore::Metrics {
        match self {
            Self::Typed(s) => s.metrics(),
            Self::Any(s) => s.metrics(),
        }
    }

    fn now_nanos(&self) -> u64 {
        match self {
            Self::Typed(s) => s.now_nanos(),
            Self::Any(s) => s.as_store().now_nanos(),
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            Self::Typed(s) => s.validate(),
            Self::Any(s) => s.as_store().validate(),
        }
    }
}

fn options(opts: &[PutOpt]) -> PutOptions {
    opts.iter().fold(PutOptions::new(), |o, opt| match *opt {
        PutOpt::TtlNanos(n) => o.with_ttl(Duration::from_nanos(n)),
        PutOpt::TtlForever => o.with_ttl(Duration::MAX),
        PutOpt::Sliding => o.with_sliding_ttl(),
        PutOpt::MaxReads(n) => o.with_max_reads(n),
    })
}

/// The stores, the models and the clock of one run.
pub struct Run {
    /// On the system clock (see [`TestClock::System`]).
    system: bool,
    /// The model's time; the stores' too unless `system`.
    clock: ManualClock,
    targets: [Target; 2],
    models: [Model; 2],
    /// Each store's own view of time: the highest clock reading it has taken (a store never lets
    /// its time go back, and each store keeps its own mark).
    seen: [u64; 2],
}

impl Run {
    /// Fresh stores and models for `config`.
    pub fn new(config: &Config) -> Self {
        let start = match config.clock {
            TestClock::Manual(start) => start,
            TestClock::System => 0,
        };
        let clock = ManualClock::starting_at(start);
        let mut typed = Store::<String, u32>::builder()
            .shards(config.shards)
            .capacity(config.capacities[0]);
        let mut any = Store::<String, kvstore::Value>::builder()
            .shards(config.shards)
            .capacity(config.capacities[1]);
        let system = config.clock == TestClock::System;
        if !system {
            typed = typed.clock(clock.clone());
            any = any.clock(clock.clone());
        }
        let (typed, any) = (typed.build(), any.build());
        Self {
            system,
            clock,
            targets: [Target::Typed(typed), Target::Any(AnyStore::from_store(any))],
            models: [
                Model::new(config.capacities[0]),
                Model::new(config.capacities[1]),
            ],
            seen: [0, 0],
        }
    }

    /// The time namespace `ns` sees in an operation that reads the clock now.
    fn now(&mut self, ns: usize) -> u64 {
        self.seen[ns] = self.seen[ns].max(self.clock.now_nanos());
        self.seen[ns]
    }

    /// Applies `op` to both sides and compares everything; `Err` describes the first divergence.
    pub fn step(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Put {
                ns,
                key,
                value,
                ref opts,
            } => {
                let longer;
                let opts = if self.system {
                    longer = opts.iter().map(|&o| an_hour_longer(o)).collect::<Vec<_>>();
                    &longer
                } else {
                    opts
                };
                let now = self.now(ns);
                let key = key_name(key);
                let want = self.models[ns].put(&key, value, opts, now);
                if let Some(got) = self.targets[ns].put(&key, value, &options(opts)) {
                    expect("displaced value", got, want)?;
                }
            }
            Op::Get { ns, key } => {
                let now = self.now(ns);
                let key = key_name(key);
                let want = self.models[ns].get(&key, now);
                expect("get", self.targets[ns].get(&key), want)?;
            }
            Op::Has { ns, key } => {
                let now = self.now(ns);
                let key = key_name(key);
                let want = self.models[ns].has(&key, now);
                expect("has", self.targets[ns].has(&key), want)?;
            }
            Op::Del { ns, key } => {
                let now = self.now(ns);
                let key = key_name(key);
                let want = self.models[ns].del(&key, now);
                expect("del", self.targets[ns].del(&key), want)?;
            }
            Op::Keys { ns } => {
                let now = self.now(ns);
                expect("keys", self.targets[ns].keys(), self.models[ns].keys(now))?;
            }
            Op::SetCapacity { ns, n } => {
                let now = self.now(ns);
                self.models[ns].set_capacity(n, now);
                self.targets[ns].set_capacity(n);
            }
            Op::Purge { ns } => {
                let now = self.now(ns);
                self.models[ns].purge(now);
                let before = self.targets[ns].metrics().expirations;
                let got = self.targets[ns].purge();
                let counted = self.targets[ns].metrics().expirations - before;
                expect("purge's count against its Expirations", got as u64, counted)?;
                // After a purge, expirations and current_size are fully determined.
                let m = self.targets[ns].metrics();
                let stored = self.models[ns].stored();
                expect("current_size after purge", m.current_size, stored)?;
                expect(
                    "expirations after purge",
                    m.expirations,
                    self.models[ns].counters.expirations,
                )?;
            }
            Op::Clear { ns } => {
                // Whatever the store had reclaimed early is gone either way; align the model's
                // lazily kept expired entries first, so the counts stay comparable.
                let now = self.now(ns);
                self.models[ns].purge(now);
                self.targets[ns].purge();
                self.models[ns].clear();
                self.targets[ns].clear();
            }
            Op::Advance { .. } | Op::Rewind { .. } if self.system => {}
            Op::Advance { nanos } => self.clock.advance(Duration::from_nanos(nanos)),
            Op::Rewind { nanos } => {
                // Which operations read the clock is the store's business (a miss need not), so
                // each store's high-water mark is brought up to now first: from here on, model
                // and store agree on time, and the check is what matters, that nothing revives.
                let now = self.clock.now_nanos();
                for (ns, target) in self.targets.iter().enumerate() {
                    target.now_nanos();
                    self.seen[ns] = self.seen[ns].max(now);
                }
                self.clock.set(now.saturating_sub(nanos));
            }
        }
        self.check()
    }

    /// Compares counters and bookkeeping of both namespaces.
    fn check(&self) -> Result<(), String> {
        for ns in 0..2 {
            let (target, model) = (&self.targets[ns], &self.models[ns]);
            let m = target.metrics();
            let c = model.counters;
            let b = model.bounds(self.seen[ns]);
            let at = |what: &str| format!("namespace {ns}: {what}");
            expect(&at("hits"), m.hits, c.hits)?;
            expect(&at("misses"), m.misses, c.misses)?;
            expect(&at("evictions"), m.evictions, c.evictions)?;
            expect(
                &at("expirations + current_size"),
                m.expirations + m.current_size,
                b.expirations_plus_size,
            )?;
            if m.current_size < b.min_size {
                return Err(at(&format!(
                    "current_size {} below the {} live entries",
                    m.current_size, b.min_size
                )));
            }
            target
                .validate()
                .map_err(|e| at(&format!("validate: {e}")))?;
        }
        Ok(())
    }
}

fn an_hour_longer(opt: PutOpt) -> PutOpt {
    match opt {
        PutOpt::TtlNanos(n) if n > 0 => PutOpt::TtlNanos(n.saturating_add(HOUR_NANOS)),
        other => other,
    }
}

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: store gave {got:?}, the contract says {want:?}"
        ))
    }
}

/// Runs a whole sequence; on divergence, the error lists the steps up to it.
pub fn run(config: &Config, ops: &[Op]) -> Result<(), String> {
    let mut run = Run::new(config);
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = run.step(op) {
            let mut trace = format!("{config:?}\n");
            for (j, op) in ops[..=i].iter().enumerate() {
                let _ = writeln!(trace, "  {j:3}: {op:?}");
            }
            return Err(format!("step {i}: {e}\n{trace}"));
        }
    }
    Ok(())
}

/// Reads fuzzer bytes as a configuration and an operation sequence. Every input decodes to
/// something (running out of bytes ends the sequence), so the fuzzer never wastes a run.
pub fn decode(data: &[u8]) -> (Config, Vec<Op>) {
    let mut bytes = Bytes(data);
    let config = Config {
        shards: [1, 2, 16][usize::from(bytes.byte()) % 3],
        capacities: [usize::from(bytes.byte() % 5), usize::from(bytes.byte() % 5)],
        clock: match bytes.byte() % 4 {
            0 => TestClock::Manual(u64::MAX - 20_000),
            1 => TestClock::System,
            _ => TestClock::Manual(0),
        },
    };
    let mut ops = Vec::new();
    while let Some(tag) = bytes.next() {
        let ns = usize::from(tag >> 7);
        let key = usize::from(bytes.byte()) % KEYS.len();
        ops.push(match tag & 0x7f {
            0..=39 => {
                let value = u32::from(bytes.byte());
                let count = bytes.byte() % 4;
                let opts = (0..count).map(|_| put_opt(&mut bytes)).collect();
                Op::Put {
                    ns,
                    key,
                    value,
                    opts,
                }
            }
            40..=69 => Op::Get { ns, key },
            70..=79 => Op::Has { ns, key },
            80..=89 => Op::Del { ns, key },
            90..=93 => Op::Keys { ns },
            94..=99 => Op::SetCapacity {
                ns,
                n: key, // reuse the byte: 0..=4
            },
            100..=103 => Op::Purge { ns },
            104 => Op::Clear { ns },
            105..=123 => Op::Advance {
                nanos: u64::from(bytes.byte() % 8) * 1_000,
            },
            _ => Op::Rewind {
                nanos: u64::from(bytes.byte() % 8) * 1_000,
            },
        });
    }
    (config, ops)
}

fn put_opt(bytes: &mut Bytes<'_>) -> PutOpt {
    let b = bytes.byte();
    match b % 8 {
        0..=2 => PutOpt::TtlNanos(u64::from(b >> 3) % 6 * 1_000),
        3 => PutOpt::TtlForever,
        4 | 5 => PutOpt::Sliding,
        _ => PutOpt::MaxReads(usize::from(b >> 3) % 4),
    }
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// The next byte, 0 once the input is used up.
    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }
}
