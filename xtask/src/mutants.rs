//! `cargo xtask mutants`: mutation testing of the store's engine and policies with
//! `cargo-mutants` (installed with `cargo install --locked cargo-mutants` when missing). Not part
//! of CI: a habit, run before a change to the store's logic is called done.
//!
//! Mutates kv-core, kv-ttl and kv-lru (or the files given with `--file`), and tests each mutant
//! with a fast subset of the facade's integration tests: the contract (`semantics`) and the
//! policies' bookkeeping (`recency`). The report goes to `<target dir>/mutants/mutants.out/`
//! (`CARGO_TARGET_DIR` is honoured): `missed.txt` lists the mutants no test caught,
//! `caught.txt`, `timeout.txt` and `unviable.txt` the rest, `outcomes.json` all of them, and
//! `log/` each mutant's build and test output. Any other arguments are passed to `cargo mutants`
//! (say `--timeout 60`, `--jobs 2`, `--list`).

use std::env;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{Result, cargo, root, run};

/// The crates whose code is mutated (a run with no `--file` mutates all of them).
const MUTATED: [&str; 3] = ["kv-core", "kv-ttl", "kv-lru"];

/// The facade's test modules each mutant is tested with: fast, and together they pin the
/// contract rule by rule (`semantics`) and the policies' bookkeeping under concurrency
/// (`recency`: records reclaimed with removals, bounded evictions). They go after a `--` of
/// their own, so the test binary receives them as its name filters.
const TESTS: [&str; 2] = ["semantics", "recency"];

pub fn mutants(args: &[String]) -> Result {
    let installed = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["mutants", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        run(
            "installing cargo-mutants",
            cargo().args(["install", "--locked", "cargo-mutants"]),
        )?;
    }
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let output = target.join("mutants");
    let mut cmd = cargo();
    cmd.arg("mutants").arg("--output").arg(&output);
    if !args
        .iter()
        .any(|a| a == "--file" || a.starts_with("--file="))
    {
        for krate in MUTATED {
            cmd.args(["--package", krate]);
        }
    }
    if !args
        .iter()
        .any(|a| a == "--timeout" || a.starts_with("--timeout="))
    {
        cmd.args(["--timeout", "300"]);
    }
    cmd.args(args)
        // Each mutant of the engine is tested through the facade's integration tests, whatever
        // crate it is in: `cargo test -p kvstore --test it -- semantics recency`. cargo-mutants 27 runs its
        // baseline on the mutated crates whatever `--test-package` says, where `--test it`
        // names nothing: the baseline is skipped (the suite passes in CI), so `--timeout` bounds
        // each mutant's tests instead of a multiple of the baseline's time.
        .args(["--baseline=skip", "--test-package=kvstore"])
        .args(["--cargo-test-arg=--test=it", "--", "--"])
        .args(TESTS);
    let result = run("cargo mutants", &mut cmd);
    eprintln!(
        "\nmutants: report in {} (missed.txt: mutants no test caught)",
        output.join("mutants.out").display()
    );
    result
}
