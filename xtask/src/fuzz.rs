//! `cargo xtask fuzz [--seconds N] [TARGET ...]`: runs the cargo-fuzz targets in `fuzz/`
//! (reliability.md item 8) for N seconds each (default 60), all of them unless named.
//!
//! Only a stable toolchain is installed; `RUSTC_BOOTSTRAP=1` lets cargo-fuzz pass its nightly
//! flags to it. cargo-fuzz itself is installed from crates.io on first use. Crashes are written
//! to `fuzz/artifacts/<target>/` and fail the command; the corpus grows in `fuzz/corpus/`.

use crate::{Result, cargo, root, run};

/// Every target, with the folders of seed inputs it starts from (read, never written).
const TARGETS: [(&str, &[&str]); 2] = [
    ("ops", &[]),
    (
        "case_file",
        &["examples/cases", "crates/kv-harness/tests/fixtures"],
    ),
];

pub fn fuzz(args: &[String]) -> Result {
    let mut seconds = 60;
    let mut chosen = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds needs a whole number of seconds, like --seconds 60")?;
            }
            name if TARGETS.iter().any(|(t, _)| *t == name) => chosen.push(name.to_string()),
            other => {
                return Err(format!(
                    "fuzz: unknown argument `{other}` (expected --seconds N or a target: {})",
                    TARGETS.map(|(t, _)| t).join(", ")
                ));
            }
        }
    }
    if chosen.is_empty() {
        chosen = TARGETS.iter().map(|(t, _)| t.to_string()).collect();
    }
    run_targets(&chosen, seconds)
}

/// Runs `targets` for `seconds` each (also used by `cargo xtask soak`).
pub fn run_targets(targets: &[String], seconds: u64) -> Result {
    ensure_cargo_fuzz()?;
    let fuzz_dir = root().join("fuzz");
    for target in targets {
        let seeds = TARGETS
            .iter()
            .find(|(t, _)| t == target)
            .map_or(&[][..], |(_, s)| *s);
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("fuzz: cannot create {}: {e}", corpus.display()))?;
        let mut cmd = cargo();
        cmd.current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            // Release build with debug assertions, so arithmetic overflow is a crash too.
            .args(["fuzz", "run", "--debug-assertions", target])
            .arg(&corpus);
        for seed in seeds {
            cmd.arg(root().join(seed));
        }
        cmd.args(["--", &format!("-max_total_time={seconds}")]);
        let dict = fuzz_dir.join(format!("{target}.dict"));
        if dict.exists() {
            cmd.arg(format!("-dict={}", dict.display()));
        }
        run(&format!("fuzz target `{target}` for {seconds} s"), &mut cmd)?;
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    run(
        "installing cargo-fuzz (first use)",
        cargo().args(["install", "cargo-fuzz", "--locked"]),
    )
    .map_err(|e| format!("{e}; install it by hand with `cargo install cargo-fuzz --locked`"))
}
