//! `cargo xtask soak`: the long checks of reliability.md, with their figures.
//!
//! 1. Item 16: the soak workload (`crates/kvstore/examples/soak.rs`, release): 2 threads with TTL
//!    churn over 1 million keys for `--seconds` (default 300; `--ops` caps the operations per
//!    thread), printing resident memory and throughput every second, and a verdict: after a 30 s
//!    warm-up memory grows by at most 1 MiB a minute (the slope of the samples), and stays under
//!    performance.md's memory bound (2× the W2 target, i.e. 2 × 1.3 × quick_cache's W2 memory:
//!    measured by the last `cargo xtask bench` when `target/bench/report.csv` exists, else the 13
//!    MiB that performance.md records).
//! 2. The model, linearizability, thrash (with the 16-thread stress that checks the books after
//!    every round), edge-input and case-file parser suites in release with `KV_SOAK_SCALE`
//!    (default 30) times their usual case counts.
//! 3. Every fuzz target for `--fuzz-seconds` (default 120) each.
//!
//! Every step runs even when an earlier one fails; the command fails if any did.

use std::fs;

use crate::{Result, cargo, fuzz, root, run};

/// performance.md: quick_cache's W2 memory on this machine, and the ratios of the targets.
const QUICK_CACHE_W2_MIB: f64 = 13.0;
const W2_RATIO: f64 = 1.3;
const SOAK_RATIO: f64 = 2.0;

pub fn soak(args: &[String]) -> Result {
    let mut ops = "1000000000000".to_string();
    let mut seconds = "300".to_string();
    let mut scale = "30".to_string();
    let mut fuzz_seconds = 120;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("soak: {arg} needs a number"))
        };
        match arg.as_str() {
            "--ops" => ops = value()?,
            "--seconds" => seconds = value()?,
            "--scale" => scale = value()?,
            "--fuzz-seconds" => {
                fuzz_seconds = value()?
                    .parse()
                    .map_err(|_| "soak: --fuzz-seconds needs a whole number")?
            }
            other => {
                return Err(format!(
                    "soak: unknown argument `{other}` (expected --seconds N, --ops N, --scale N, \
                     --fuzz-seconds N)"
                ));
            }
        }
    }

    let (bound, source) = memory_bound();
    eprintln!("soak: memory bound {bound:.1} MiB above base ({source})");
    let mut failed = Vec::new();
    let workload = run(
        "soak workload (reliability item 16)",
        cargo()
            .args([
                "run",
                "--release",
                "--locked",
                "-p",
                "kvstore",
                "--example",
                "soak",
            ])
            .args(["--", "--threads", "2", "--keys", "1000000", "--ops", &ops])
            .args(["--seconds", &seconds])
            .args(["--bound-mib", &format!("{bound:.1}")]),
    );
    failed.extend(workload.err());
    let suites = run(
        &format!("model, linearizability, thrash, edge inputs, parser at KV_SOAK_SCALE={scale}"),
        cargo()
            .args([
                "test",
                "--release",
                "--locked",
                "-p",
                "kvstore",
                "-p",
                "kv-harness",
            ])
            .args(["--test", "it", "--"])
            .args([
                "model",
                "linearizability",
                "thrash",
                "edge_inputs",
                "parser_fuzz",
            ])
            .env("KV_SOAK_SCALE", &scale),
    );
    failed.extend(suites.err());
    if fuzz_seconds > 0 {
        let targets = ["ops".to_string(), "case_file".to_string()];
        failed.extend(fuzz::run_targets(&targets, fuzz_seconds).err());
    }
    if failed.is_empty() {
        eprintln!("\nsoak: every step passed");
        Ok(())
    } else {
        Err(format!(
            "soak: {} step(s) failed:\n{}",
            failed.len(),
            failed.join("\n")
        ))
    }
}

/// 2 × 1.3 × quick_cache's W2 memory, from the last bench run if there is one.
fn memory_bound() -> (f64, String) {
    let csv = root().join("target").join("bench").join("report.csv");
    let measured = fs::read_to_string(&csv).ok().and_then(|text| {
        let header: Vec<&str> = text.lines().next()?.split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (store, workload, threads, rss) = (
            col("store")?,
            col("workload")?,
            col("threads")?,
            col("rss_mib")?,
        );
        text.lines().skip(1).find_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f.get(store) == Some(&"quick_cache")
                && f.get(workload) == Some(&"W2")
                && f.get(threads) == Some(&"1"))
            .then(|| f.get(rss)?.parse::<f64>().ok())
            .flatten()
        })
    });
    match measured {
        Some(mib) => (
            SOAK_RATIO * W2_RATIO * mib,
            format!(
                "2 x 1.3 x quick_cache's W2 memory of {mib:.1} MiB in {}",
                csv.display()
            ),
        ),
        None => (
            SOAK_RATIO * W2_RATIO * QUICK_CACHE_W2_MIB,
            format!(
                "2 x 1.3 x quick_cache's W2 memory of {QUICK_CACHE_W2_MIB} MiB recorded in \
                 docs/performance.md; run `cargo xtask bench` to measure it here"
            ),
        ),
    }
}
