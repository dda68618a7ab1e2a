//! The comparison's one binary, driven by `cargo xtask bench` (one process per measurement):
//!
//! - `compare list [--quick]`: the measurements of one round, one `store workload threads` a line.
//! - `compare run STORE WORKLOAD THREADS OPS [SEED]`: one measurement; prints a JSON sample.
//! - `compare report RAW.jsonl OUT_DIR`: medians, the table and targets on stdout, and
//!   `report.json`, `report.csv`, `report.md` and `chart.svg` in `OUT_DIR`.

mod original;
mod ours;
mod peers;

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use kv_bench::report::{self, STORES};
use kv_bench::runner::{self, RunError};
use kv_bench::{Plan, Sample, Workload, chart};

use ours::Deadlines;
use peers::{Bare, Dash, Limit, Lru, MiniMoka, Moka, MokaKind, Ours, Port, QuickCache};

const USAGE: &str = "usage:
  compare list [--quick]
  compare run STORE WORKLOAD THREADS OPS [SEED]
  compare report RAW.jsonl OUT_DIR";

/// The seed every plan is drawn from unless one is given.
const SEED: u64 = 0x006b_7673_746f_7265;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("list") => {
            list();
            Ok(())
        }
        Some("run") => run(&args[1..]),
        Some("report") => report(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(2)
        }
    }
}

/// Which stores take part in which workload: W4 needs a TTL, W5 a read budget or a remove.
fn takes_part(store: &str, workload: Workload) -> bool {
    match workload {
        Workload::W1 | Workload::W2 | Workload::W3 => true,
        // The TTL rows are W1-W3 with a deadline on every put; W4 is `kvstore`'s own TTL row.
        _ if store.starts_with("kvstore-tt") => false,
        Workload::W4 => matches!(store, "kvstore" | "original" | "moka_ttl" | "moka_tti"),
        // W5 is unbounded: `kvstore` is that row already; moka's TTL variants add nothing.
        Workload::W5 => !matches!(store, "kvstore-unbounded" | "moka_ttl" | "moka_tti"),
    }
}

fn list() {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for workload in Workload::ALL {
        for threads in [1, 2] {
            for store in STORES {
                if takes_part(store, workload) && !(store == "hashbrown" && threads > 1) {
                    // A closed pipe (`compare list | head`) ends the list, not in a panic.
                    if writeln!(out, "{store} {workload} {threads}").is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [store, workload, threads, ops, rest @ ..] = args else {
        return Err(USAGE.to_string());
    };
    let workload: Workload = workload.parse().map_err(|e| format!("{e}"))?;
    let number = |what: &str, s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("{what} must be a whole number, got `{s}`"))
    };
    let threads = number("THREADS", threads)?;
    let ops = number("OPS", ops)?;
    let seed = match rest.first() {
        Some(s) => number("SEED", s)? as u64,
        None => SEED,
    };
    if !STORES.contains(&store.as_str()) {
        return Err(format!(
            "unknown store `{store}`: use one of {}",
            STORES.join(", ")
        ));
    }
    let plan = Plan::new(workload, threads, ops, seed);
    let sample = measure(store, workload, &plan).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&sample).expect("samples always serialize")
    );
    Ok(())
}

fn measure(store: &str, w: Workload, plan: &Plan) -> Result<Sample, RunError> {
    match store {
        "kvstore" => runner::measure(store, plan, || Ours::new(w, true)),
        "kvstore-unbounded" => runner::measure(store, plan, || Ours::new(w, false)),
        "kvstore-ttl" => runner::measure(store, plan, || {
            Ours::with_deadlines(w, true, Deadlines::Fixed)
        }),
        "kvstore-tti" => runner::measure(store, plan, || {
            Ours::with_deadlines(w, true, Deadlines::Sliding)
        }),
        "kvcore-bare" => runner::measure(store, plan, Bare::default),
        "original" => runner::measure(store, plan, || Port::new(w)),
        "moka" => runner::measure(store, plan, || Moka::new(w, MokaKind::Plain)),
        "moka_ttl" => runner::measure(store, plan, || Moka::new(w, MokaKind::Ttl)),
        "moka_tti" => runner::measure(store, plan, || Moka::new(w, MokaKind::Tti)),
        "mini_moka" => runner::measure(store, plan, || MiniMoka::new(w)),
        "quick_cache" => runner::measure(store, plan, || QuickCache::new(w)),
        "lru" => runner::measure(store, plan, || Lru::new(w)),
        "dashmap" => runner::measure(store, plan, Dash::default),
        _ => runner::measure(store, plan, Limit::default),
    }
}

fn report(args: &[String]) -> Result<(), String> {
    let [raw, out] = args else {
        return Err(USAGE.to_string());
    };
    let text = fs::read_to_string(raw).map_err(|e| format!("cannot read {raw}: {e}"))?;
    let mut samples = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let sample: Sample = serde_json::from_str(line)
            .map_err(|e| format!("{raw}:{}: not a sample ({e}); rerun the benchmark", n + 1))?;
        samples.push(sample);
    }
    if samples.is_empty() {
        return Err(format!("{raw} holds no samples; rerun the benchmark"));
    }
    let rows = report::aggregate(&samples);
    let out = Path::new(out);
    fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let write = |name: &str, text: String| {
        let path = out.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let verdicts = report::targets(&rows);
    write("report.json", report::to_json(&rows))?;
    write("report.csv", report::to_csv(&rows))?;
    write(
        "report.md",
        format!(
            "{}\nTargets:\n\n```\n{}```\n",
            report::ratio_table(&rows),
            report::targets_text(&verdicts)
        ),
    )?;
    chart::draw(&rows, &out.join("chart.svg")).map_err(|e| e.to_string())?;
    println!("{}", report::to_table(&rows));
    println!(
        "Targets of docs/performance.md:\n\n{}",
        report::targets_text(&verdicts)
    );
    println!(
        "Wrote {0}/report.json, {0}/report.csv, {0}/report.md, {0}/chart.svg",
        out.display()
    );
    Ok(())
}
