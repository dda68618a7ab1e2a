//! Project automation, one binary with subcommands (`cargo xtask <command>`):
//!
//! - `test`: everything CI checks: formatting, the sync-facade rule (clippy's `disallowed_types`
//!   in a loom build), clippy with warnings denied,
//!   all tests and doctests (each feature set of the facade), insta snapshots in CI mode with
//!   unreferenced snapshots rejected, the loom models, the harness on the example cases, and
//!   `cargo doc` with warnings denied; the Redis backend's tests and the example cases also run
//!   on a real `redis-server` and a three-master Redis Cluster that it starts on loopback ports
//!   (and stops, also on failure); kv-redis runs with its `tls` feature, whose tests start a
//!   `redis-server --tls-port` of their own.
//! - `loom`: only the loom models.
//!
//! Plain `std::process::Command`; no dependencies, so it builds in seconds.

use std::collections::BTreeSet;
use std::env;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod against;
mod bench;
mod fuzz;
mod instructions;
mod mutants;
mod redis;
mod schemas;
mod soak;

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match cmd {
        "test" => test(rest),
        "loom" => loom(),
        "bench" => bench::bench(rest),
        "fuzz" => fuzz::fuzz(rest),
        "soak" => soak::soak(rest),
        "mutants" => mutants::mutants(rest),
        "schemas" => schemas::schemas(),
        "help" | "--help" | "-h" => {
            println!("{}", HELP);
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

const HELP: &str = "usage: cargo xtask <command>

commands:
  test     formatting, sync-facade rule, clippy -D warnings, all tests and doctests,
           insta snapshots (CI mode), loom models, harness on examples/cases,
           cargo doc -D warnings; starts a redis-server and a 3-master cluster on
           loopback for kv-redis and the harness (installing redis-server and redis-tools
           with apt-get when missing and run as root)
  loom     only the loom models (release, LOOM_MAX_PREEMPTIONS=2, own target dir)
  bench    the comparison of docs/performance.md (--quick: 1 round, fewer operations);
           --redis: kvstore vs kvstore-redis (W2, W5) on servers it starts;
           --against REV: this tree against commit REV, both at once, one core each
           (--instructions: instructions per operation, counted by cachegrind)
  fuzz     the cargo-fuzz targets in fuzz/ (--seconds N each, default 60; or name targets)
  soak     reliability.md's long checks: the memory/throughput soak with its verdict, the model
           and stress suites at KV_SOAK_SCALE=30, fuzzing (--seconds, --ops, --scale,
           --fuzz-seconds)
  mutants  mutation testing of kv-core, kv-ttl and kv-lru with cargo-mutants against a fast
           test subset; report in target/mutants/mutants.out (--file F to scope, other flags
           go to cargo mutants)
  schemas  regenerate the committed JSON Schemas in schemas/ from kv-metrics";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(step: &str, cmd: &mut Command) -> Result {
    eprintln!("\n==> {step}");
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step}: failed ({status})"))
    }
}

fn test(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    run(
        "formatting",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    sync_facade_rule()?;
    run(
        "clippy (warnings denied; the facade's optional features on)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--features",
            "kvstore/metrics,kvstore/json,kvstore/redis,kv-metrics/schema,kv-redis/tokio,kv-redis/tls",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "clippy, kv-redis without `tokio` (a sync user's build: no async runtime)",
        cargo().args([
            "clippy",
            "-p",
            "kv-redis",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "clippy, facade without default features",
        cargo().args([
            "clippy",
            "-p",
            "kvstore",
            "--no-default-features",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Started before the workspace tests, which include kv-redis's; stopped when `servers` drops.
    let servers = redis::Servers::start()?;
    snapshot_tests(&servers)?;
    for features in ["ttl", "lru"] {
        run(
            &format!("tests, facade with only `{features}`"),
            cargo().args([
                "test",
                "-p",
                "kvstore",
                "--no-default-features",
                "--features",
                features,
                "--lib",
                "--tests",
                "--locked",
            ]),
        )?;
    }
    run(
        "metrics export and artifacts (features `metrics` and `json`)",
        cargo().args([
            "test",
            "-p",
            "kv-metrics",
            "-p",
            "kvstore",
            "--features",
            "kv-metrics/metrics,kvstore/metrics,kvstore/json",
            "--locked",
            "--test",
            "it",
            "--",
            "export",
            "artifacts",
        ]),
    )?;
    run(
        "facade doctests with features `json` and `metrics`",
        cargo().args([
            "test",
            "-p",
            "kvstore",
            "--features",
            "json,metrics",
            "--locked",
            "--doc",
        ]),
    )?;
    run(
        "kv-redis without features: unit tests (rediss:// without `tls` is a URL error)",
        cargo().args(["test", "-p", "kv-redis", "--lib", "--locked"]),
    )?;
    run(
        "harness without its `redis` feature (a library user's build): unit tests",
        cargo().args([
            "test",
            "-p",
            "kv-harness",
            "--no-default-features",
            "--lib",
            "--locked",
        ]),
    )?;
    run(
        "harness on examples/cases (the README's first command, debug build)",
        cargo().args([
            "run",
            "-p",
            "kv-harness",
            "--locked",
            "--",
            "test",
            "examples/cases",
        ]),
    )?;
    for (what, url) in [
        ("a Redis server", &servers.single),
        ("a Redis Cluster", &servers.cluster),
    ] {
        run(
            &format!("harness on examples/cases on {what} ({url})"),
            cargo().args([
                "run",
                "-p",
                "kv-harness",
                "--locked",
                "--",
                "test",
                "examples/cases",
                "--backend",
                url,
            ]),
        )?;
    }
    drop(servers);
    if !quick {
        loom()?;
    }
    // Last, so a documentation slip does not hide what the steps above would find.
    run(
        "docs (rustdoc warnings denied)",
        cargo()
            .args(["doc", "--no-deps", "--workspace", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}

/// All tests and doctests, with insta in CI mode: no snapshot is written, a changed one fails, and
/// a committed snapshot that no test asserts any more fails too.
fn snapshot_tests(servers: &redis::Servers) -> Result {
    let refs = target_dir().join("insta-references.txt");
    let _ = fs::create_dir_all(refs.parent().unwrap_or(Path::new(".")));
    let _ = fs::remove_file(&refs);
    let mut cmd = cargo();
    // `kv-metrics/schema`: the schema tests (and their snapshots) need the derives that users'
    // builds leave out.
    cmd.args([
        "test",
        "--workspace",
        "--locked",
        "--features",
        // `kv-redis/tls`: its TLS tests start a redis-server with --tls-port of their own.
        "kv-metrics/schema,kv-redis/tokio,kv-redis/tls",
    ])
    .env("INSTA_UPDATE", "no")
    .env("CI", "true")
    .env("INSTA_SNAPSHOT_REFERENCES_FILE", &refs);
    servers.export(&mut cmd);
    run(
        "tests and doctests (insta in CI mode; kv-redis on the servers above)",
        &mut cmd,
    )?;
    let referenced: BTreeSet<PathBuf> = fs::read_to_string(&refs)
        .unwrap_or_default()
        .lines()
        .map(|l| fs::canonicalize(l).unwrap_or_else(|_| PathBuf::from(l)))
        .collect();
    let mut unreferenced = Vec::new();
    for snap in files_under(&root().join("crates"), "snap") {
        let canon = fs::canonicalize(&snap).unwrap_or(snap.clone());
        if !referenced.contains(&canon) {
            unreferenced.push(snap.display().to_string());
        }
    }
    if unreferenced.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "snapshots no test asserts (delete them): {}",
            unreferenced.join(", ")
        ))
    }
}

/// The loom models, in release, in their own target directory so the `kv_loom` cfg never
/// invalidates the normal build.
fn loom() -> Result {
    run(
        "loom models",
        cargo()
            .args([
                "test",
                "-p",
                "kvstore",
                "--release",
                "--locked",
                "--test",
                "it",
                "loom",
            ])
            .env("RUSTFLAGS", "--cfg kv_loom")
            .env("LOOM_MAX_PREEMPTIONS", "2")
            .env("CARGO_TARGET_DIR", loom_target_dir()),
    )
}

/// Locks, atomics and `Arc` come from `kv_core::sync` (so loom can model them): clippy's
/// `disallowed_types`, configured by the `clippy.toml` of each store crate, checked in a loom
/// build. Only there can it tell the facade from the standard library: in a normal build
/// `kv_core::sync::Mutex` *is* `std::sync::Mutex`, so the workspace's lints allow it and this
/// run denies it on the command line (which comes after them, so it wins).
fn sync_facade_rule() -> Result {
    run(
        "sync facade rule (clippy disallowed_types under --cfg kv_loom)",
        cargo()
            .args([
                "clippy",
                "-p",
                "kv-core",
                "-p",
                "kv-ttl",
                "-p",
                "kv-lru",
                "-p",
                "kv-metrics",
                "-p",
                "kvstore",
                "--all-targets",
                "--release",
                "--locked",
                "--",
                "-A",
                "warnings",
                "-D",
                "clippy::disallowed_types",
            ])
            .env("RUSTFLAGS", "--cfg kv_loom")
            .env("CARGO_TARGET_DIR", loom_target_dir()),
    )
}

/// Where loom builds go: their own folder, so the `kv_loom` cfg never invalidates the normal
/// build.
fn loom_target_dir() -> PathBuf {
    target_dir().join("loom")
}

/// The target folder: `CARGO_TARGET_DIR` when set, `<root>/target` otherwise.
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root().join("target"), |d| root().join(d))
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name() != Some(OsStr::new("target")) {
                    stack.push(p);
                }
            } else if p.extension() == Some(OsStr::new(ext)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
