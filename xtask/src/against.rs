//! `cargo xtask bench --against REV`: this tree against another commit, side by side.
//!
//! Run one after the other, two measurements of the same build on this shared VM differ by up to
//! 1.5x from round to round, so an interleaved before/after cannot see a 10% change. Here the two
//! builds run at the same time, one per core (`taskset`), so whatever else loads the machine
//! loads both; the cores swap every round and the round's ratio is after/before. The median of
//! 16 such ratios moves by a few percent between runs (check with an A/A run: `--against HEAD`
//! on a clean tree), which is what a single change of the engine needs.
//!
//! With `--threads 2` each build needs both cores, so the two run one after the other instead,
//! the order swapped every round, and the round's ratio is taken between neighbours. Noise moves
//! those ratios far more (this VM switches between a fast and a slow mode from run to run, up to
//! 2x apart), so a 2-thread median needs more rounds to say as much.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::bench::{field, number};
use crate::{Result, cargo, root, run, target_dir};

/// Rounds and operations per measurement unless told.
const ROUNDS: u32 = 16;
const OPS: u64 = 2_000_000;
/// Operations per counted run with `--instructions` unless told (valgrind runs ~50x slower).
const INSTRUCTION_OPS: u64 = 1_200_000;

pub const USAGE: &str =
    "cargo xtask bench --against REV [--rounds N] [--ops N] [--only STORES] [--workloads W1,W3]
    [--threads 1|2] [--instructions]
  builds the comparison at REV (a commit, branch or tag) and from this tree, then runs both at
  once, one per core, cores swapped each round (default 16 rounds, 2,000,000 operations, store
  kvstore, workloads W1,W2,W3, one thread); prints each measurement's median after/before ratio.
  `--threads 2`: two threads per measurement, the builds one after the other, order swapped each
  round (noisier: use more rounds). `--against HEAD` on a clean tree is an A/A run: how far from
  1.00 noise alone moves the median. `--instructions`: instead of timing, count the instructions
  per operation of each build with valgrind's cachegrind (1 thread; default 1,200,000
  operations): exact where time is noise, blind to cache misses.";

pub fn against(args: &[String]) -> Result {
    let mut rev = None;
    let (mut rounds, mut ops) = (ROUNDS, None);
    let mut stores = vec!["kvstore".to_string()];
    let mut workloads = vec!["W1".to_string(), "W2".into(), "W3".into()];
    let mut threads = 1;
    let mut instructions = false;
    let list = |v: Option<&String>, flag: &str| {
        v.map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
            .filter(|l| l.iter().all(|s| !s.is_empty()))
            .ok_or_else(|| format!("{flag} needs a comma-separated list"))
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--against" => rev = Some(it.next().ok_or("--against needs a commit")?.clone()),
            "--rounds" => rounds = number(it.next(), "--rounds")? as u32,
            "--ops" => ops = Some(number(it.next(), "--ops")?),
            "--instructions" => instructions = true,
            "--only" => stores = list(it.next(), "--only")?,
            "--workloads" => workloads = list(it.next(), "--workloads")?,
            "--threads" => threads = thread_count(it.next())?,
            other => return Err(format!("bench: unknown option `{other}`\n\nusage: {USAGE}")),
        }
    }
    let rev = rev.ok_or_else(|| format!("usage: {USAGE}"))?;
    let ops = ops.unwrap_or(if instructions { INSTRUCTION_OPS } else { OPS });
    if instructions {
        if threads != 1 {
            return Err("--instructions counts one thread only".into());
        }
        crate::instructions::check(ops)?;
    }
    let cores = cores();
    if cores.len() < 2 {
        return Err("bench --against needs two cores: each build runs on one of its own".into());
    }
    let dir = target_dir().join("ab");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let before = build_at(&rev, &dir)?;
    let after = build_here(&dir)?;
    if instructions {
        let table =
            crate::instructions::compare(&rev, [&before, &after], &stores, &workloads, ops)?;
        println!("\n{table}");
        let path = dir.join("instructions.txt");
        fs::write(&path, &table).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("Wrote {}", path.display());
        return Ok(());
    }
    let pinned = Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !pinned {
        eprintln!("note: no `taskset` (util-linux): the builds run at once but unpinned");
    }

    let raw_path = dir.join("raw.jsonl");
    let mut raw = File::create(&raw_path)
        .map_err(|e| format!("cannot create {}: {e}", raw_path.display()))?;
    let mut rows = Vec::new();
    let mode = if threads == 1 {
        "both at once, one core each, cores swapped each round"
    } else {
        "one after the other, 2 threads each, order swapped each round"
    };
    eprintln!(
        "\n==> {rev} (before) and this tree (after), {mode}, {rounds} rounds x {ops} operations"
    );
    for store in &stores {
        for workload in &workloads {
            let threads_arg = threads.to_string();
            let measurement = [
                store.as_str(),
                workload.as_str(),
                &threads_arg,
                &ops.to_string(),
            ];
            let mut row = Row::new(format!("{store} {workload} {threads}T"));
            for round in 0..rounds {
                let (lb, la) = measure_round(
                    [&before, &after],
                    round,
                    threads,
                    (cores[0], cores[1]),
                    pinned,
                    &measurement,
                )?;
                for (which, line) in [("before", &lb), ("after", &la)] {
                    writeln!(
                        raw,
                        "{{\"build\":\"{which}\",\"round\":{round},\"sample\":{line}}}"
                    )
                    .map_err(|e| format!("cannot write {}: {e}", raw_path.display()))?;
                }
                let mops = |line: &str| field(line, "mops").filter(|m| *m > 0.0);
                let (Some(mb), Some(ma)) = (mops(&lb), mops(&la)) else {
                    return Err(format!("a sample without Mops/s: {lb} / {la}"));
                };
                row.push(mb, ma);
                eprintln!(
                    "{:<22} round {:>2}/{rounds}  before {mb:>6.2}  after {ma:>6.2}  after/before {:.3}",
                    row.name,
                    round + 1,
                    ma / mb
                );
            }
            rows.push(row);
        }
    }
    let table = summary(&rev, mode, &rows);
    println!("\n{table}");
    let path = dir.join("summary.txt");
    fs::write(&path, &table).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!(
        "Wrote {} and {} (every sample)",
        path.display(),
        raw_path.display()
    );
    Ok(())
}

/// The comparison built from this tree, copied so the next build cannot replace it mid-run.
fn build_here(dir: &Path) -> Result<PathBuf> {
    run(
        "build the comparison from this tree (release)",
        cargo().args([
            "build",
            "--release",
            "-p",
            "kv-bench",
            "--example",
            "compare",
        ]),
    )?;
    let built = target_dir().join("release/examples/compare");
    let copy = dir.join("compare-after");
    fs::copy(&built, &copy).map_err(|e| format!("cannot copy {}: {e}", built.display()))?;
    Ok(copy)
}

/// The comparison built at `rev`, in a worktree of its own under `dir` with its own target
/// directory (kept between runs, so a second run against a nearby commit builds little).
fn build_at(rev: &str, dir: &Path) -> Result<PathBuf> {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(root())
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let commit = git(&["rev-parse", "--verify", &format!("{rev}^{{commit}}")])
        .map_err(|e| format!("`{rev}` is not a commit here ({e})"))?;
    let src = dir.join("src");
    let src_arg = src.to_string_lossy().to_string();
    // A worktree left by an earlier run is reused; one whose folder was deleted is pruned.
    git(&["worktree", "prune"])?;
    if src.join(".git").exists() {
        run(
            &format!("check out {rev} ({}) in {}", &commit[..12], src.display()),
            Command::new("git")
                .current_dir(&src)
                .args(["checkout", "--quiet", "--detach", &commit]),
        )?;
    } else {
        git(&["worktree", "add", "--detach", &src_arg, &commit])?;
    }
    let target = dir.join("target");
    run(
        &format!("build the comparison at {rev} (release)"),
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&src)
            .env("CARGO_TARGET_DIR", &target)
            .args([
                "build",
                "--release",
                "-p",
                "kv-bench",
                "--example",
                "compare",
            ]),
    )?;
    let copy = dir.join("compare-before");
    let built = target.join("release/examples/compare");
    fs::copy(&built, &copy).map_err(|e| format!("cannot copy {}: {e}", built.display()))?;
    Ok(copy)
}

/// One round's before and after samples (their JSON lines). At 1 thread the builds run at once,
/// one per core; at 2 each needs both cores, so they run one after the other, unpinned. The start
/// order (and the cores) swap every round: neither build keeps the better core or the head start.
fn measure_round(
    [before, after]: [&Path; 2],
    round: u32,
    threads: usize,
    (a, b): (usize, usize),
    pinned: bool,
    measurement: &[&str],
) -> Result<(String, String)> {
    let before_first = round.is_multiple_of(2);
    if threads > 1 {
        let alone = |binary: &Path, which| finish(spawn(binary, a, false, measurement)?, which);
        return Ok(if before_first {
            let lb = alone(before, "before")?;
            (lb, alone(after, "after")?)
        } else {
            let la = alone(after, "after")?;
            (alone(before, "before")?, la)
        });
    }
    let (cb, ca) = if before_first { (a, b) } else { (b, a) };
    let (pb, pa) = if before_first {
        let pb = spawn(before, cb, pinned, measurement)?;
        (pb, spawn(after, ca, pinned, measurement)?)
    } else {
        let pa = spawn(after, ca, pinned, measurement)?;
        (spawn(before, cb, pinned, measurement)?, pa)
    };
    Ok((finish(pb, "before")?, finish(pa, "after")?))
}

fn spawn(binary: &Path, core: usize, pinned: bool, measurement: &[&str]) -> Result<Child> {
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", &core.to_string()]).arg(binary);
        c
    } else {
        Command::new(binary)
    };
    cmd.arg("run")
        .args(measurement)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))
}

fn finish(child: Child, which: &str) -> Result<String> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{which}: {e}"))?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !line.is_empty() {
        Ok(line)
    } else {
        Err(format!(
            "the {which} build failed the measurement: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list` of `/proc/self/status`, such as
/// `0-3,6`); the first two host the builds. Without `/proc`, CPUs 0 and 1 when there are two.
fn cores() -> Vec<usize> {
    let listed = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(parse_cpu_list)
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed;
    }
    let n = std::thread::available_parallelism().map_or(1, usize::from);
    (0..n.min(2)).collect()
}

fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<usize>(), hi.trim().parse::<usize>()) {
            cpus.extend(lo..=hi);
        }
    }
    cpus
}

/// One measurement's rounds: before and after Mops/s, paired by round.
struct Row {
    name: String,
    before: Vec<f64>,
    after: Vec<f64>,
}

impl Row {
    fn new(name: String) -> Self {
        Self {
            name,
            before: Vec::new(),
            after: Vec::new(),
        }
    }

    fn push(&mut self, before: f64, after: f64) {
        self.before.push(before);
        self.after.push(after);
    }

    fn ratios(&self) -> Vec<f64> {
        self.after
            .iter()
            .zip(&self.before)
            .map(|(a, b)| a / b)
            .collect()
    }
}

/// The `q`-quantile (0..=1) of `values`, interpolated between the two nearest ranks.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n => {
            let at = q * (n - 1) as f64;
            let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
        }
    }
}

/// The threads per measurement `--threads` names: 1 (the builds at once, a core each) or 2.
fn thread_count(value: Option<&String>) -> Result<usize> {
    match value.map(String::as_str) {
        Some("1") => Ok(1),
        Some("2") => Ok(2),
        _ => Err("--threads takes 1 or 2".into()),
    }
}

fn summary(rev: &str, mode: &str, rows: &[Row]) -> String {
    let mut out = format!(
        "after = this tree, before = {rev}; {mode}\n\n\
         | measurement | before Mops/s | after Mops/s | after/before (median) | middle half | rounds after faster |\n\
         |---|---:|---:|---:|---|---:|\n"
    );
    for row in rows {
        let r = row.ratios();
        let faster = r.iter().filter(|&&x| x > 1.0).count();
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.3} | {:.3}-{:.3} | {faster}/{} |\n",
            row.name,
            quantile(&row.before, 0.5),
            quantile(&row.after, 0.5),
            quantile(&r, 0.5),
            quantile(&r, 0.25),
            quantile(&r, 0.75),
            r.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_one_or_two() {
        assert_eq!(thread_count(Some(&"1".to_string())), Ok(1));
        assert_eq!(thread_count(Some(&"2".to_string())), Ok(2));
        for bad in ["0", "3", "two", ""] {
            assert!(thread_count(Some(&bad.to_string())).is_err(), "{bad}");
        }
        assert!(thread_count(None).is_err());
    }

    #[test]
    fn a_cpu_list_names_single_cpus_and_ranges() {
        assert_eq!(parse_cpu_list("0-1\n"), vec![0, 1]);
        assert_eq!(parse_cpu_list("\t2,4-6,9"), vec![2, 4, 5, 6, 9]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
    }

    #[test]
    fn the_median_ratio_is_the_middle_rounds_not_the_ratio_of_medians() {
        let mut row = Row::new("kvstore W1 1T".into());
        // A loaded round slows both builds; their ratio in that round is what counts.
        for (before, after) in [(10.0, 11.0), (5.0, 5.5), (8.0, 8.0), (2.0, 2.4)] {
            row.push(before, after);
        }
        let r = row.ratios();
        assert!((quantile(&r, 0.5) - 1.1).abs() < 1e-9, "{r:?}");
        assert!((quantile(&[3.0, 1.0, 2.0], 0.5) - 2.0).abs() < 1e-12);
        assert!((quantile(&[1.0, 2.0], 0.25) - 1.25).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
