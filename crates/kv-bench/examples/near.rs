//! The near cache (`kv_redis::NearCache`) next to plain Redis per call and the in-process store,
//! in one run: W2 (`docs/performance.md`: 90% get / 10% put, Zipf 1.0, 1M keys, server capacity
//! 100k) and a read-mostly plan (W2's keys and order with nine puts in ten turned into gets: 99%
//! get / 1% put), one thread each; then reads of one hot key, and the delay before another
//! client's write is seen through the near tier.
//!
//! ```text
//! cargo run --release -p kv-bench --example near -- --url redis://127.0.0.1:6379 \
//!     [--cluster redis+cluster://h:p,h:p,h:p] [--ops 100000] [--near-capacity 100000]
//! ```
//!
//! Each plan runs twice and the second run is timed (steady state); the near cache's first run,
//! with its near tier empty (the server holds the plan's warm-up), is shown as "cold".
//! "invalidations/write" is
//! the invalidation messages the near cache received per put of the run (every put of the
//! namespace sends one in broadcast mode, the near cache's own included).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kv_bench::workload::{Op, Plan, Workload};
use kv_core::Backend;
use kv_redis::{NearCache, RedisServer, RedisStore};
use kvstore::PutOptions;

const SEED: u64 = 0x006b_7673_746f_7265;

struct Args {
    url: String,
    cluster: Option<String>,
    ops: usize,
    near_capacity: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        url: std::env::var("KV_REDIS_URL").unwrap_or_default(),
        cluster: std::env::var("KV_REDIS_CLUSTER_URL").ok(),
        ops: 100_000,
        near_capacity: 100_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--url" => args.url = value()?,
            "--cluster" => args.cluster = Some(value()?),
            "--ops" => args.ops = value()?.parse().map_err(|_| "--ops: a number")?,
            "--near-capacity" => {
                args.near_capacity = value()?.parse().map_err(|_| "--near-capacity: a number")?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if args.url.is_empty() {
        return Err("give --url redis://HOST:PORT (or set KV_REDIS_URL)".into());
    }
    Ok(args)
}

fn value(k: u32) -> Vec<u8> {
    u64::from(k).to_le_bytes().to_vec()
}

fn err(e: kv_redis::RedisStoreError) -> String {
    e.to_string()
}

/// A fresh namespace holding the plan's warm-up (pipelined, untimed), at the plan's capacity.
fn warm(server: &RedisServer, plan: &Plan, name: &str) -> Result<RedisStore, String> {
    let store = server.namespace(&format!("bench/near/{name}/{}", std::process::id()));
    store.drop_namespace().map_err(err)?;
    for chunk in plan.warm_up.chunks(1_000) {
        let entries: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .map(|&k| (plan.keys[k as usize].clone(), value(k)))
            .collect();
        store.put_many(&entries, &PutOptions::new()).map_err(err)?;
    }
    if let Some(cap) = plan.workload.capacity() {
        store.set_capacity(cap).map_err(err)?;
    }
    Ok(store)
}

/// Runs the plan's single thread of operations on `b`; the seconds it took.
fn run<B>(b: &B, plan: &Plan) -> Result<f64, String>
where
    B: Backend<
            Key = String,
            Value = Vec<u8>,
            Options = PutOptions,
            Error = kv_redis::RedisStoreError,
        >,
{
    let plain = PutOptions::new();
    let start = Instant::now();
    for &op in &plan.ops[0] {
        match op {
            Op::Get(k) => drop(b.get(&plan.keys[k as usize]).map_err(err)?),
            Op::Put(k) => b
                .put(plan.keys[k as usize].clone(), value(k), &plain)
                .map_err(err)?,
            Op::Token(_) => return Err("the near bench runs no tokens".into()),
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// W2's plan with nine puts in ten turned into gets of the same key.
fn read_mostly(mut plan: Plan) -> Plan {
    let mut n = 0;
    for op in &mut plan.ops[0] {
        if let Op::Put(k) = *op {
            n += 1;
            if n % 10 != 0 {
                *op = Op::Get(k);
            }
        }
    }
    plan
}

fn puts(plan: &Plan) -> usize {
    plan.ops[0]
        .iter()
        .filter(|op| matches!(op, Op::Put(_)))
        .count()
}

fn table(name: &str, url: &str, args: &Args) -> Result<(), String> {
    let server = RedisServer::connect(url).map_err(err)?;
    let w2 = Plan::new(Workload::W2, 1, args.ops, SEED);
    let plans = [
        ("W2 1T", Plan::new(Workload::W2, 1, args.ops, SEED)),
        ("read-mostly 1T", read_mostly(w2)),
    ];
    for (label, plan) in &plans {
        // Each run twice, the second timed: the near tier (and the server) in a steady state.
        let plain = warm(&server, plan, "plain")?;
        run(&plain, plan)?;
        let plain_s = run(&plain, plan)?;
        plain.drop_namespace().map_err(err)?;

        let store = warm(&server, plan, "near")?;
        let near = NearCache::new(store, args.near_capacity).map_err(err)?;
        let cold_s = run(&near, plan)?;
        // Let the last invalidations arrive before counting them.
        std::thread::sleep(Duration::from_millis(300));
        let cold = near.near_metrics();
        let near_s = run(&near, plan)?;
        std::thread::sleep(Duration::from_millis(300));
        let all = near.near_metrics();
        near.store().drop_namespace().map_err(err)?;

        let ops = plan.ops[0].len() as f64;
        let gets = (plan.ops[0].len() - puts(plan)) as f64;
        println!(
            "| {label} | redis {name} | {:.1} | {:.1} ({:.1}) | {:.1} ({:.1}) | {:.3} ({:.3}) | {:.2} |",
            ops / plain_s / 1e3,
            ops / near_s / 1e3,
            ops / cold_s / 1e3,
            plain_s / near_s,
            plain_s / cold_s,
            (all.hits - cold.hits) as f64 / gets,
            cold.hits as f64 / gets,
            (all.invalidation_messages - cold.invalidation_messages) as f64 / puts(plan) as f64,
        );
    }
    Ok(())
}

/// Reads of one key: in-process store vs the near tier; nanoseconds per read each.
fn hot_key(url: &str, reads: usize) -> Result<(f64, f64), String> {
    let ours: kvstore::Store<String, Vec<u8>> = kvstore::Store::builder().capacity(100_000).build();
    let key = "hot".to_string();
    ours.put(key.clone(), value(7));
    let server = RedisServer::connect(url).map_err(err)?;
    let near = NearCache::new(
        server.namespace(&format!("bench/near/hot/{}", std::process::id())),
        100_000,
    )
    .map_err(err)?;
    near.put(key.clone(), value(7), &PutOptions::new())
        .map_err(err)?;
    // The put's own invalidation drops the first copy; wait until one stays.
    let settle = Instant::now();
    while near.near_metrics().size == 0 || near.near_metrics().invalidation_messages == 0 {
        near.get(&key).map_err(err)?;
        if settle.elapsed() > Duration::from_secs(5) {
            return Err("the hot key never settled in the near tier".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    near.get(&key).map_err(err)?;
    let time = |f: &dyn Fn() -> bool| {
        let start = Instant::now();
        let mut found = 0usize;
        for _ in 0..reads {
            found += usize::from(std::hint::black_box(f()));
        }
        assert_eq!(found, reads);
        start.elapsed().as_nanos() as f64 / reads as f64
    };
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        best.0 = best.0.min(time(&|| ours.get(&key).is_some()));
        best.1 = best
            .1
            .min(time(&|| near.get(&key).is_ok_and(|v| v.is_some())));
    }
    near.store().drop_namespace().map_err(err)?;
    Ok(best)
}

/// How long after another client's put returned the near cache reads the new value, over
/// `rounds` writes: median, 99th percentile and worst.
fn invalidation_delay(url: &str, rounds: usize) -> Result<[Duration; 3], String> {
    let ns = format!("bench/near/delay/{}", std::process::id());
    let near =
        NearCache::new(RedisServer::connect(url).map_err(err)?.namespace(&ns), 100).map_err(err)?;
    let writer = RedisServer::connect(url).map_err(err)?.namespace(&ns);
    let key = "k".to_string();
    let mut delays = Vec::with_capacity(rounds);
    for i in 0..rounds as u32 {
        writer
            .put(key.clone(), value(i), &PutOptions::new())
            .map_err(err)?;
        let wrote = Instant::now();
        loop {
            if near.get(&key).map_err(err)? == Some(value(i)) {
                break;
            }
            if wrote.elapsed() > Duration::from_secs(5) {
                return Err(format!("write {i} not seen after 5 s"));
            }
        }
        delays.push(wrote.elapsed());
        // Make sure the next write has a near copy to invalidate.
        let settle = Instant::now();
        while near.near_metrics().size == 0 && settle.elapsed() < Duration::from_secs(1) {
            near.get(&key).map_err(err)?;
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    near.store().drop_namespace().map_err(err)?;
    delays.sort();
    Ok([
        delays[rounds / 2],
        delays[rounds * 99 / 100],
        delays[rounds - 1],
    ])
}

fn main() -> ExitCode {
    match run_all() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("near bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_all() -> Result<(), String> {
    let args = parse()?;
    let mut targets = vec![("single", args.url.clone())];
    if let Some(c) = &args.cluster {
        targets.push(("cluster", c.clone()));
    }
    println!(
        "| plan | server | plain Redis per call kops/s | near cache kops/s (cold) | near / plain (cold) | near hit ratio of gets (cold) | invalidations/write |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, url) in &targets {
        table(name, url, &args)?;
    }
    let (ours, near) = hot_key(&args.url, 1_000_000)?;
    println!();
    println!(
        "hot key read: in-process store {ours:.1} ns, near cache {near:.1} ns ({:.2}x)",
        near / ours
    );
    for (name, url) in &targets {
        let [p50, p99, max] = invalidation_delay(url, 500)?;
        println!(
            "another client's write seen through the near tier ({name}, 500 writes): median {p50:?}, p99 {p99:?}, max {max:?}"
        );
    }
    Ok(())
}
