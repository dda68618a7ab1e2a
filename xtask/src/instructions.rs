//! `cargo xtask bench --against REV --instructions`: the same two builds compared by the
//! instructions one operation executes (valgrind's cachegrind), not by wall time.
//!
//! Wall time on this shared VM moves by more than the 2-5% most engine changes are worth, even
//! in pairs run at the same moment; an instruction count barely moves between runs of one
//! binary, so it tells a change that saves work from one that does not. It does not see cache
//! misses, which is where much of an operation's time goes (design.md), so it complements the
//! timed pairs: keep a change for its timed figures, and use the counts to see why it did or did
//! not pay. One thread only (cachegrind runs a program's threads one at a time).
//!
//! Per operation = (count at N - count at N/6) / (N - N/6): the setup (keys, the plan, the
//! warm-up's inserts) is the same at both sizes and cancels. The two builds are counted at the
//! same time, one per core.

use std::path::Path;
use std::process::Command;

use crate::Result;

/// The comparison's table: per operation, before and after, for each store and workload.
pub fn compare(
    rev: &str,
    [before, after]: [&Path; 2],
    stores: &[String],
    workloads: &[String],
    ops: u64,
) -> Result<String> {
    let mut out = format!(
        "after = this tree, before = {rev}; instructions per operation (cachegrind, 1 thread, \
         {ops} operations less {} to cancel the setup)\n\n\
         | measurement | before | after | after/before |\n|---|---:|---:|---:|\n",
        setup_ops(ops)
    );
    for store in stores {
        for workload in workloads {
            eprintln!("counting {store} {workload} 1T in both builds (valgrind: a minute or two)");
            let (b, a) = std::thread::scope(|s| {
                let b = s.spawn(|| per_op(before, store, workload, ops));
                let a = per_op(after, store, workload, ops);
                (
                    b.join().unwrap_or_else(|_| Err("counting panicked".into())),
                    a,
                )
            });
            let (b, a) = (b?, a?);
            out.push_str(&format!(
                "| {store} {workload} 1T | {b:.1} | {a:.1} | {:.4} |\n",
                a / b
            ));
        }
    }
    Ok(out)
}

/// Fails unless `ops` leaves operations to count beyond the setup's run and valgrind can be run
/// (checked before anything is built).
pub fn check(ops: u64) -> Result {
    if ops <= setup_ops(ops) {
        return Err(format!(
            "--ops {ops} is too few to count instructions per operation"
        ));
    }
    let found = Command::new("valgrind").arg("--version").output();
    if found.is_ok_and(|o| o.status.success()) {
        Ok(())
    } else {
        Err("--instructions needs valgrind (Debian: apt-get install valgrind)".into())
    }
}

/// The operations of the run whose count is subtracted to cancel the setup (see the module's
/// doc).
fn setup_ops(ops: u64) -> u64 {
    (ops / 6).max(1)
}

/// Instructions per operation of one measurement, the setup cancelled (see the module's doc).
fn per_op(binary: &Path, store: &str, workload: &str, ops: u64) -> Result<f64> {
    let small = setup_ops(ops);
    let (n_small, n_large) = (
        count(binary, store, workload, small)?,
        count(binary, store, workload, ops)?,
    );
    // `check` made sure `ops > small`.
    Ok(n_large.saturating_sub(n_small) as f64 / ops.saturating_sub(small).max(1) as f64)
}

/// Instructions one run of `compare run STORE WORKLOAD 1 OPS` executes, all threads together.
fn count(binary: &Path, store: &str, workload: &str, ops: u64) -> Result<u64> {
    let out = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ])
        .arg(binary)
        .args(["run", store, workload, "1", &ops.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{} run {store} {workload} 1 {ops} under valgrind failed: {}",
            binary.display(),
            stderr.trim()
        ));
    }
    refs(&stderr).ok_or_else(|| format!("no instruction count in valgrind's output:\n{stderr}"))
}

/// The count of cachegrind's summary line, `==123== I   refs:      1,425,127,207`.
fn refs(stderr: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| {
        l.split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w == ["I", "refs:"])
    })?;
    line.split_whitespace()
        .last()?
        .replace(',', "")
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_read_off_cachegrinds_summary_line() {
        let stderr = "==16884== Cachegrind, a high-precision tracing profiler\n\
                      ==16884== \n\
                      ==16884== I   refs:      1,425,127,207\n";
        assert_eq!(refs(stderr), Some(1_425_127_207));
        assert_eq!(refs("==1== I refs: 12\n"), Some(12));
        assert_eq!(
            refs("==1== D   refs: 12\n"),
            None,
            "data references are not instructions"
        );
        assert_eq!(refs("no summary at all"), None);
    }
}
