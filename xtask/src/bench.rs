//! `cargo xtask bench`: the comparison of `docs/performance.md`.
//!
//! Builds the `compare` example of `kv-bench` once in release, asks it for the measurements of a
//! round, then runs each measurement in a fresh process, rounds interleaved (all of round 1, then
//! all of round 2, ...), appending every sample to `target/bench/raw.jsonl`. Finally `compare
//! report` takes the medians, prints the table and the targets, and writes `report.json`,
//! `report.csv`, `report.md` and `chart.svg` under `target/bench/`.

use std::env;
use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::{Result, cargo, root, run};

const USAGE: &str = "usage:
cargo xtask bench [--quick] [--rounds N] [--ops N] [--only STORES]
  the comparison of docs/performance.md: every store, workload and thread count, rounds
  interleaved, a fresh process per measurement (default 3 rounds x 4,000,000 operations;
  --quick: 1 x 1,000,000); report, CSV and chart under target/bench/
cargo xtask bench --redis [--ops N]
  kvstore against kvstore-redis (W2, W5) on a redis-server and a cluster it starts
";

/// Operations per measurement and rounds, full and `--quick`.
const FULL: (u64, u32) = (4_000_000, 3);
const QUICK: (u64, u32) = (1_000_000, 1);

pub fn bench(args: &[String]) -> Result {
    if args.iter().any(|a| a == "--redis") {
        return redis(args);
    }
    if args.iter().any(|a| a == "--against") {
        return crate::against::against(args);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}{}", crate::against::USAGE);
        return Ok(());
    }
    let (mut ops, mut rounds) = FULL;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => (ops, rounds) = QUICK,
            "--rounds" => rounds = number(it.next(), "--rounds")? as u32,
            "--ops" => ops = number(it.next(), "--ops")?,
            "--only" => {
                let v = it
                    .next()
                    .ok_or("--only needs a comma-separated list of stores")?;
                only.extend(v.split(',').map(str::to_string));
            }
            other => {
                return Err(format!(
                    "bench: unknown option `{other}`\n\n{USAGE}{}",
                    crate::against::USAGE
                ));
            }
        }
    }
    run(
        "build the comparison (release)",
        cargo().args([
            "build",
            "--release",
            "-p",
            "kv-bench",
            "--example",
            "compare",
        ]),
    )?;
    let target =
        env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let binary = target.join("release").join("examples").join("compare");
    let out = target.join("bench");
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let listed = Command::new(&binary)
        .arg("list")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let plan: Vec<Vec<String>> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|m| m.len() == 3 && (only.is_empty() || only.contains(&m[0])))
        .collect();
    if plan.is_empty() {
        return Err("bench: nothing to measure (check --only against `compare list`)".into());
    }
    let raw_path = out.join("raw.jsonl");
    let mut raw = File::create(&raw_path)
        .map_err(|e| format!("cannot create {}: {e}", raw_path.display()))?;
    let started = Instant::now();
    let mut failures = Vec::new();
    eprintln!(
        "\n==> {} measurements x {rounds} round(s), {ops} operations each, one process each",
        plan.len()
    );
    for round in 1..=rounds {
        for (i, m) in plan.iter().enumerate() {
            let output = Command::new(&binary)
                .arg("run")
                .args(m)
                .arg(ops.to_string())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
            let line = String::from_utf8_lossy(&output.stdout).trim().to_string();
            if !output.status.success() || line.is_empty() {
                let why = String::from_utf8_lossy(&output.stderr).trim().to_string();
                eprintln!(
                    "round {round} {:>3}/{} {}: FAILED {why}",
                    i + 1,
                    plan.len(),
                    m.join(" ")
                );
                failures.push(format!("{} (round {round}): {why}", m.join(" ")));
                continue;
            }
            writeln!(raw, "{line}")
                .map_err(|e| format!("cannot write {}: {e}", raw_path.display()))?;
            eprintln!(
                "round {round} {:>3}/{} {:<32} {:>7} Mops/s  [{:>4.0} s]",
                i + 1,
                plan.len(),
                m.join(" "),
                field(&line, "mops").map_or("?".into(), |v| format!("{v:.2}")),
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(raw);
    run(
        "report",
        Command::new(&binary).arg("report").arg(&raw_path).arg(&out),
    )?;
    eprintln!("bench took {:.0} s", started.elapsed().as_secs_f64());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} measurement(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        ))
    }
}

/// `bench --redis [--ops N]`: the `redis` example of kv-bench (W2 and W5 at 1 and 2 threads,
/// in-process and on Redis, one call per operation and pipelined; then the async store, the sync
/// store and `redis-benchmark` at 1, 8 and 64 callers) on a server and a cluster this starts,
/// 100,000 operations per measurement by default. Prints two Markdown tables; then the `near`
/// example (the near cache against plain Redis per call, W2 and a read-mostly plan).
fn redis(args: &[String]) -> Result {
    let mut ops = 100_000;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--redis" => {}
            "--ops" => ops = number(it.next(), "--ops")?,
            other => {
                return Err(format!(
                    "bench --redis: unknown option `{other}` (use --ops N)"
                ));
            }
        }
    }
    run(
        "build the Redis measurement (release)",
        cargo().args([
            "build",
            "--release",
            "-p",
            "kv-bench",
            "--example",
            "redis",
            "--example",
            "near",
        ]),
    )?;
    let servers = crate::redis::Servers::start()?;
    // Both examples take the same flags: the servers and the operations per run.
    let example = |what: &str, name: &str| {
        run(
            what,
            cargo()
                .args([
                    "run",
                    "--release",
                    "-q",
                    "-p",
                    "kv-bench",
                    "--example",
                    name,
                    "--",
                ])
                .args(["--url", &servers.single, "--cluster", &servers.cluster])
                .args(["--ops", &ops.to_string()]),
        )
    };
    example("kvstore vs kvstore-redis", "redis")?;
    example("the near cache vs plain Redis per call", "near")
}

pub(crate) fn number(v: Option<&String>, flag: &str) -> Result<u64> {
    v.and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{flag} needs a positive whole number"))
}

/// A number field of a one-line JSON object, without a JSON parser (xtask has no dependencies).
pub(crate) fn field(json: &str, name: &str) -> Option<f64> {
    let start = json.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}
