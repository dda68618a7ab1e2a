//! The long soak of reliability.md item 16: threads × operations each (`--ops` is per thread, and
//! `--seconds` stops the run earlier) with TTL churn over many keys, resident memory sampled every
//! second, and a verdict: after the warm-up, memory grows by at most `--max-growth` MiB per minute
//! (the least-squares slope of the samples, which one-second swings of the allocator do not
//! move), and it stays under the bound of performance.md. `cargo xtask soak` runs it in release;
//! by hand:
//!
//! ```sh
//! cargo run --release -p kvstore --example soak -- --threads 2 --keys 1000000 --seconds 600
//! ```
//!
//! The store is W2's (capacity 100,000, `u64` values, `String` keys), with every put carrying a
//! TTL of 1–1000 ms (half of them sliding) on the system clock, so entries really expire, are
//! reclaimed and replaced all the time. Exit status 1 when the verdict is a failure.

use std::fs;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use kv_core::sync::{Arc, AtomicBool, AtomicU64, Ordering};
use kvstore::{PutOptions, Store};

struct Args {
    threads: usize,
    /// Operations per thread.
    ops: u64,
    keys: usize,
    capacity: usize,
    /// Memory above the base that the soak may use, in MiB.
    bound_mib: f64,
    /// Seconds of warm-up before memory must stay flat.
    warmup_secs: usize,
    /// Stop after this many seconds even if operations are left (0: run every operation).
    seconds: u64,
    /// The growth after warm-up allowed, in MiB per minute.
    max_growth: f64,
}

/// Samples after the warm-up needed to judge growth: a slope over less than a minute of a
/// memory curve that swings by megabytes from one second to the next says little.
const MIN_JUDGED_SAMPLES: usize = 60;

/// performance.md: W2 memory at most 1.3× quick_cache's 13 MiB; the soak at most 2× that.
const W2_TARGET_MIB: f64 = 1.3 * 13.0;

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 2,
        ops: 10_000_000,
        keys: 1_000_000,
        capacity: 100_000,
        bound_mib: 2.0 * W2_TARGET_MIB,
        warmup_secs: 30,
        seconds: 0,
        max_growth: 1.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value (see the top of examples/soak.rs)"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}; expected a number");
        match flag.as_str() {
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--ops" => args.ops = value.parse().map_err(|e| bad(&e))?,
            "--keys" => args.keys = value.parse().map_err(|e| bad(&e))?,
            "--capacity" => args.capacity = value.parse().map_err(|e| bad(&e))?,
            "--bound-mib" => args.bound_mib = value.parse().map_err(|e| bad(&e))?,
            "--warmup-secs" => args.warmup_secs = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => args.seconds = value.parse().map_err(|e| bad(&e))?,
            "--max-growth" => args.max_growth = value.parse().map_err(|e| bad(&e))?,
            _ => {
                return Err(format!(
                    "unknown flag {flag} (expected --threads, --ops, --keys, --capacity, \
                     --bound-mib, --warmup-secs, --seconds, --max-growth)"
                ));
            }
        }
    }
    if args.threads == 0 || args.keys == 0 {
        return Err("--threads and --keys must be at least 1".into());
    }
    Ok(args)
}

/// Resident memory of this process in MiB (Linux `/proc`; 0 where it cannot be read).
fn rss_mib() -> f64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    // Keys are built before the base is taken: they are the workload's, not the store's.
    let keys: Arc<Vec<String>> = Arc::new((0..args.keys).map(|i| format!("key-{i}")).collect());
    let base = rss_mib();
    let store: Store<String, u64> = Store::builder().capacity(args.capacity).build();
    let done_ops = Arc::new(AtomicU64::new(0));
    // `stop` asks the workers to stop (the time is up); `finished` stops the sampler.
    let stop = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    println!(
        "soak: {} threads x {} ops over {} keys, capacity {}, TTL 1-1000 ms; base RSS {base:.1} MiB",
        args.threads, args.ops, args.keys, args.capacity
    );
    let start = Instant::now();
    let workers: Vec<_> = (0..args.threads)
        .map(|t| {
            let (store, keys, done_ops) = (store.clone(), keys.clone(), done_ops.clone());
            let (ops, stop) = (args.ops, stop.clone());
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(t as u64 + 1);
                let mut done = 0;
                for i in 0..ops {
                    let r = xorshift(&mut rng);
                    let key = &keys[(r % keys.len() as u64) as usize];
                    match (r >> 40) % 10 {
                        0..=3 => {
                            let mut opts = PutOptions::new()
                                .with_ttl(Duration::from_millis(1 + (r >> 48) % 1000));
                            if r & (1 << 20) != 0 {
                                opts = opts.with_sliding_ttl();
                            }
                            store.put_with(key.clone(), i, &opts);
                        }
                        4..=8 => {
                            store.get(key.as_str());
                        }
                        _ => {
                            store.del(key.as_str());
                        }
                    }
                    done = i + 1;
                    if i % 4096 == 4095 {
                        done_ops.fetch_add(4096, Ordering::Relaxed);
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                }
                done_ops.fetch_add(done % 4096, Ordering::Relaxed);
            })
        })
        .collect();

    // Sample every second until the workers finish.
    let sampler = {
        let (stop, done_ops, store) = (stop.clone(), done_ops.clone(), store.clone());
        let seconds = args.seconds;
        let finished = finished.clone();
        thread::spawn(move || {
            let mut samples = Vec::new();
            let mut last_ops = 0;
            let mut next = Instant::now() + Duration::from_secs(1);
            while !finished.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
                if seconds != 0 && samples.len() as u64 >= seconds {
                    stop.store(true, Ordering::Relaxed); // the workers stop within 4096 ops
                }
                if Instant::now() < next {
                    continue;
                }
                next += Duration::from_secs(1);
                let ops = done_ops.load(Ordering::Relaxed);
                let rss = rss_mib();
                println!(
                    "t={:>3}s  {:>10} ops/s  RSS {rss:>7.1} MiB ({:>6.1} above base)  entries {}",
                    samples.len() + 1,
                    ops - last_ops,
                    rss - base,
                    store.len()
                );
                last_ops = ops;
                samples.push(rss - base);
            }
            samples
        })
    };
    for w in workers {
        if w.join().is_err() {
            eprintln!("soak: a worker panicked");
            return ExitCode::FAILURE;
        }
    }
    let elapsed = start.elapsed();
    finished.store(true, Ordering::Relaxed);
    let mut samples = sampler.join().unwrap_or_default();
    samples.push(rss_mib() - base);
    if let Err(e) = store.validate() {
        eprintln!("soak: FAIL: the store's bookkeeping is broken: {e}");
        return ExitCode::FAILURE;
    }

    let total = done_ops.load(Ordering::Relaxed);
    let m = store.metrics();
    println!(
        "soak: {total} ops in {:.1} s = {:.2} M ops/s; {m}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64() / 1e6
    );
    verdict(&samples, &args)
}

/// The least-squares slope of `samples` (one a second), in MiB per minute.
fn growth_per_minute(samples: &[f64]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = (n - 1.0) / 2.0;
    let mean_m = samples.iter().sum::<f64>() / n;
    let (mut cov, mut var) = (0.0, 0.0);
    for (t, m) in samples.iter().enumerate() {
        let dt = t as f64 - mean_t;
        cov += dt * (m - mean_m);
        var += dt * dt;
    }
    cov / var * 60.0
}

/// After the warm-up, memory grows by at most `--max-growth` MiB a minute (judged only over at
/// least a minute of samples), and its peak stays under the bound.
fn verdict(samples: &[f64], args: &Args) -> ExitCode {
    let warm = args.warmup_secs.min(samples.len().saturating_sub(1));
    let after = &samples[warm..];
    let peak = samples.iter().copied().fold(0.0, f64::max);
    let growth = growth_per_minute(after);
    let judged = after.len() >= MIN_JUDGED_SAMPLES;
    let steady = !judged || growth <= args.max_growth;
    let under = peak <= args.bound_mib;
    // The curve, a point every tenth of the run after the warm-up.
    let step = (after.len() / 10).max(1);
    let curve: Vec<String> = (0..after.len())
        .step_by(step)
        .map(|i| format!("{}s {:.1}", warm + i + 1, after[i]))
        .collect();
    println!(
        "soak: memory above base after warm-up (MiB): {}",
        curve.join(", ")
    );
    println!(
        "soak: growth after the {warm} s warm-up {growth:+.2} MiB/min over {} s (allowed {:.2}), \
         peak {peak:.1} MiB, bound {:.1} MiB (2x the W2 target of performance.md)",
        after.len(),
        args.max_growth,
        args.bound_mib
    );
    if !judged {
        println!(
            "soak: note: growth is judged over at least {MIN_JUDGED_SAMPLES} s after the warm-up; \
             this run had {} s (use --seconds or more --ops)",
            after.len()
        );
    }
    if steady && under {
        if judged {
            println!("soak: PASS: memory steady after warm-up and under the bound");
        } else {
            println!("soak: PASS: memory under the bound (too short to judge growth)");
        }
        ExitCode::SUCCESS
    } else {
        println!(
            "soak: FAIL: {}{}",
            if steady {
                ""
            } else {
                "memory kept growing after warm-up; "
            },
            if under { "" } else { "memory above the bound" }
        );
        ExitCode::FAILURE
    }
}
