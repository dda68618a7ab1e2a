//! The long soak of reliability.md item 16: threads × operations each (`--ops` is per thread)
//! with TTL churn over many keys, resident memory sampled every second, and a verdict: memory
//! flat after warm-up and under the bound of performance.md. `cargo xtask soak` runs it in release; by hand:
//!
//! ```sh
//! cargo run --release -p kvstore --example soak -- --threads 2 --ops 10000000 --keys 1000000
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
}

/// performance.md: W2 memory at most 1.3× quick_cache's 13 MiB; the soak at most 2× that.
const W2_TARGET_MIB: f64 = 1.3 * 13.0;

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 2,
        ops: 10_000_000,
        keys: 1_000_000,
        capacity: 100_000,
        bound_mib: 2.0 * W2_TARGET_MIB,
        warmup_secs: 3,
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
            _ => {
                return Err(format!(
                    "unknown flag {flag} (expected --threads, --ops, --keys, --capacity, \
                     --bound-mib, --warmup-secs)"
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
    let stop = Arc::new(AtomicBool::new(false));
    println!(
        "soak: {} threads x {} ops over {} keys, capacity {}, TTL 1-1000 ms; base RSS {base:.1} MiB",
        args.threads, args.ops, args.keys, args.capacity
    );
    let start = Instant::now();
    let workers: Vec<_> = (0..args.threads)
        .map(|t| {
            let (store, keys, done_ops) = (store.clone(), keys.clone(), done_ops.clone());
            let ops = args.ops;
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(t as u64 + 1);
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
                    if i % 4096 == 4095 {
                        done_ops.fetch_add(4096, Ordering::Relaxed);
                    }
                }
                done_ops.fetch_add(ops % 4096, Ordering::Relaxed);
            })
        })
        .collect();

    // Sample every second until the workers finish.
    let sampler = {
        let (stop, done_ops, store) = (stop.clone(), done_ops.clone(), store.clone());
        thread::spawn(move || {
            let mut samples = Vec::new();
            let mut last_ops = 0;
            let mut next = Instant::now() + Duration::from_secs(1);
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
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
    stop.store(true, Ordering::Relaxed);
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

/// Flat after warm-up (the peak after it at most 10% + 2 MiB over the level at its end) and under
/// the bound.
fn verdict(samples: &[f64], args: &Args) -> ExitCode {
    let warm = args.warmup_secs.min(samples.len().saturating_sub(1));
    let level = samples[..=warm].iter().copied().fold(0.0, f64::max);
    let peak = samples.iter().copied().fold(0.0, f64::max);
    let late_peak = samples[warm..].iter().copied().fold(0.0, f64::max);
    let flat = late_peak <= level * 1.10 + 2.0;
    let under = peak <= args.bound_mib;
    println!(
        "soak: memory above base: level after {warm} s warm-up {level:.1} MiB, peak {peak:.1} MiB, \
         bound {:.1} MiB (2x the W2 target of performance.md)",
        args.bound_mib
    );
    if samples.len() < args.warmup_secs + 2 {
        println!(
            "soak: note: the run was too short to judge flatness well ({} samples)",
            samples.len()
        );
    }
    match (flat, under) {
        (true, true) => {
            println!("soak: PASS: memory flat after warm-up and under the bound");
            ExitCode::SUCCESS
        }
        _ => {
            println!(
                "soak: FAIL: {}{}",
                if flat {
                    ""
                } else {
                    "memory kept growing after warm-up; "
                },
                if under { "" } else { "memory above the bound" }
            );
            ExitCode::FAILURE
        }
    }
}
