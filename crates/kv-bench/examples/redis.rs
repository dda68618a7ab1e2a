//! `kvstore-redis` next to the in-process store: W2 and W5 (`docs/performance.md`) at 1 and 2
//! client threads, on the same operation plans, in one run, so the figures compare as ratios.
//!
//! ```text
//! cargo run --release -p kv-bench --example redis -- --url redis://127.0.0.1:6379 \
//!     [--cluster redis+cluster://h:p,h:p,h:p] [--ops 100000] [--batch 64] [--only-callers]
//! ```
//! (`cargo xtask bench --redis` starts the servers and runs this.)
//!
//! A second table compares, at 1, 8 and 64 concurrent callers, the async store (tokio tasks
//! sharing one `AsyncRedisStore`, so one multiplexed connection that pipelines their calls), the
//! sync store (as many threads, one call per operation) and `redis-benchmark` on the same server
//! (`-c` callers, `-P 1`, plain `GET` and `SET`): our operations are a Lua script each, its are
//! plain commands.
//!
//! Each Redis row runs twice: one call per operation (a script call is one round trip; an insert
//! that needs room is two, see kv-redis), and pipelined: runs of gets go out as one
//! `get_many` (W2), tokens as one `put_many` and one `get_many` per batch (W5). Round trips are
//! counted on the client. The warm-up is pipelined and untimed; for W2 the capacity is set after
//! it, which leaves the same 100,000 most recent keys a warm-up under capacity would.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use kv_bench::runner::measure;
use kv_bench::workload::{Op, Plan, Workload};
use kv_core::AsyncBackend;
use kv_redis::{AsyncRedisServer, AsyncRedisStore, RedisServer, RedisStore};

#[path = "compare/ours.rs"]
mod ours;
use kvstore::{Backend, PutOptions};
use ours::Ours;

const SEED: u64 = 0x006b_7673_746f_7265;
const WARM_UP_BATCH: usize = 1_000;

struct Args {
    url: String,
    cluster: Option<String>,
    ops: usize,
    batch: usize,
    /// `--only-callers`: only the second table.
    only_callers: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        url: std::env::var("KV_REDIS_URL").unwrap_or_default(),
        cluster: std::env::var("KV_REDIS_CLUSTER_URL").ok(),
        ops: 100_000,
        batch: 64,
        only_callers: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--url" => args.url = value()?,
            "--cluster" => args.cluster = Some(value()?),
            "--ops" => args.ops = value()?.parse().map_err(|_| "--ops: a number")?,
            "--batch" => args.batch = value()?.parse().map_err(|_| "--batch: a number")?,
            "--only-callers" => args.only_callers = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if args.url.is_empty() {
        return Err("give --url redis://HOST:PORT (or set KV_REDIS_URL)".into());
    }
    Ok(args)
}

/// One Redis measurement's result.
struct Measured {
    ops: u64,
    seconds: f64,
    round_trips: u64,
    hits: u64,
}

fn value(k: u32) -> Vec<u8> {
    u64::from(k).to_le_bytes().to_vec()
}

/// A fresh namespace holding the plan's warm-up (pipelined, untimed).
fn warm(server: &RedisServer, plan: &Plan) -> Result<RedisStore, String> {
    let ns = format!("bench/{}/{}", plan.workload, std::process::id());
    let store = server.namespace(&ns);
    store.drop_namespace().map_err(|e| e.to_string())?;
    for chunk in plan.warm_up.chunks(WARM_UP_BATCH) {
        let entries: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .map(|&k| (plan.keys[k as usize].clone(), value(k)))
            .collect();
        store
            .put_many(&entries, &PutOptions::new())
            .map_err(|e| e.to_string())?;
    }
    if let Some(cap) = plan.workload.capacity() {
        store.set_capacity(cap).map_err(|e| e.to_string())?;
    }
    Ok(store)
}

fn run_redis(
    server: &RedisServer,
    plan: &Plan,
    pipelined: bool,
    batch: usize,
) -> Result<Measured, String> {
    let store = warm(server, plan)?;
    let before = store.metrics().map_err(|e| e.to_string())?;
    let barrier = Barrier::new(plan.ops.len());
    let round_trips = AtomicU64::new(0);
    let hits = AtomicU64::new(0);
    let token = PutOptions::new().with_max_reads(1);
    let plain = PutOptions::new();
    let times: Vec<Result<(Instant, Instant), String>> = thread::scope(|s| {
        let running: Vec<_> = plan
            .ops
            .iter()
            .map(|ops| {
                let (store, barrier, round_trips, hits) = (&store, &barrier, &round_trips, &hits);
                let (token, plain) = (&token, &plain);
                s.spawn(move || -> Result<(Instant, Instant), String> {
                    let keys = &plan.keys;
                    let (mut rt, mut hit) = (0u64, 0u64);
                    barrier.wait();
                    let start = Instant::now();
                    let err = |e: kv_redis::RedisStoreError| e.to_string();
                    if !pipelined {
                        for &op in ops {
                            match op {
                                Op::Get(k) => {
                                    hit += u64::from(
                                        store.get(&keys[k as usize]).map_err(err)?.is_some(),
                                    );
                                    rt += 1;
                                }
                                Op::Put(k) => {
                                    store
                                        .put(keys[k as usize].clone(), value(k), plain)
                                        .map_err(err)?;
                                    rt += 1;
                                }
                                Op::Token(k) => {
                                    store
                                        .put(keys[k as usize].clone(), value(k), token)
                                        .map_err(err)?;
                                    hit += u64::from(
                                        store.get(&keys[k as usize]).map_err(err)?.is_some(),
                                    );
                                    rt += 2;
                                }
                            }
                        }
                    } else {
                        let mut gets: Vec<String> = Vec::with_capacity(batch);
                        let flush = |gets: &mut Vec<String>, rt: &mut u64, hit: &mut u64| {
                            if gets.is_empty() {
                                return Ok(());
                            }
                            let got = store.get_many(gets).map_err(err)?;
                            *hit += got.iter().filter(|v| v.is_some()).count() as u64;
                            *rt += 1;
                            gets.clear();
                            Ok::<(), String>(())
                        };
                        for chunk in ops.chunks(batch) {
                            if let [Op::Token(_), ..] = chunk {
                                let entries: Vec<(String, Vec<u8>)> = chunk
                                    .iter()
                                    .filter_map(|op| match *op {
                                        Op::Token(k) => Some((keys[k as usize].clone(), value(k))),
                                        _ => None,
                                    })
                                    .collect();
                                store.put_many(&entries, token).map_err(err)?;
                                rt += 1;
                                gets.extend(entries.into_iter().map(|(k, _)| k));
                                flush(&mut gets, &mut rt, &mut hit)?;
                                continue;
                            }
                            for &op in chunk {
                                match op {
                                    Op::Get(k) => gets.push(keys[k as usize].clone()),
                                    Op::Put(k) => {
                                        flush(&mut gets, &mut rt, &mut hit)?;
                                        store
                                            .put(keys[k as usize].clone(), value(k), plain)
                                            .map_err(err)?;
                                        rt += 1;
                                    }
                                    Op::Token(_) => unreachable!("W5 holds only tokens"),
                                }
                            }
                            flush(&mut gets, &mut rt, &mut hit)?;
                        }
                    }
                    let end = Instant::now();
                    round_trips.fetch_add(rt, Ordering::Relaxed);
                    hits.fetch_add(hit, Ordering::Relaxed);
                    Ok((start, end))
                })
            })
            .collect();
        running
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let times: Vec<(Instant, Instant)> = times.into_iter().collect::<Result<_, _>>()?;
    let start = times.iter().map(|t| t.0).min().ok_or("no thread")?;
    let end = times.iter().map(|t| t.1).max().ok_or("no thread")?;
    // A put that needed room took a second round trip; each such put removed exactly one entry
    // (W2 has no TTL, so one eviction each), counted by the server.
    let m = store.metrics().map_err(|e| e.to_string())?;
    store.drop_namespace().map_err(|e| e.to_string())?;
    let removed_for_room = (m.evictions + m.expirations) - (before.evictions + before.expirations);
    Ok(Measured {
        ops: plan.total_weight(),
        seconds: (end - start).as_secs_f64(),
        round_trips: round_trips.into_inner() + removed_for_room,
        hits: hits.into_inner(),
    })
}

/// The plan on the async store, each of its operation lists in a task of its own; the seconds
/// from the first task's start to the last one's end.
async fn run_async(store: &AsyncRedisStore, plan: &Plan) -> Result<f64, String> {
    let token = PutOptions::new().with_max_reads(1);
    let plain = PutOptions::new();
    // Shared, not copied per task (W2 has a million keys), and every task starts together.
    let keys = Arc::new(plan.keys.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(plan.ops.len()));
    let tasks: Vec<_> = plan
        .ops
        .iter()
        .map(|ops| {
            let (store, keys, ops) = (store.clone(), Arc::clone(&keys), ops.clone());
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let start = Instant::now();
                for op in ops {
                    match op {
                        Op::Get(k) => drop(store.get(&keys[k as usize]).await?),
                        Op::Put(k) => {
                            store
                                .put(keys[k as usize].clone(), value(k), &plain)
                                .await?
                        }
                        Op::Token(k) => {
                            store
                                .put(keys[k as usize].clone(), value(k), &token)
                                .await?;
                            drop(store.get(&keys[k as usize]).await?);
                        }
                    }
                }
                Ok::<_, kv_redis::RedisStoreError>((start, Instant::now()))
            })
        })
        .collect();
    let mut times = Vec::new();
    for t in tasks {
        times.push(
            t.await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?,
        );
    }
    let start = times.iter().map(|t| t.0).min().ok_or("no task")?;
    let end = times.iter().map(|t| t.1).max().ok_or("no task")?;
    Ok((end - start).as_secs_f64())
}

/// `redis-benchmark`'s requests per second for plain `GET` and `SET` with `clients` connections
/// (`-P 1`), on the server of `url` (`redis://HOST:PORT`).
fn redis_benchmark(url: &str, clients: usize, requests: usize) -> Result<(f64, f64), String> {
    let hostport = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let (host, port) = hostport.rsplit_once(':').ok_or("no host:port in the URL")?;
    let out = std::process::Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-c", &clients.to_string()])
        .args([
            "-n",
            &requests.to_string(),
            "-P",
            "1",
            "-t",
            "get,set",
            "--csv",
        ])
        .output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("\"{name}\"")))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|v| v.trim_matches('"').parse::<f64>().ok())
            .ok_or(format!(
                "no {name} line in redis-benchmark's output: {text}"
            ))
    };
    Ok((rate("GET")?, rate("SET")?))
}

/// The second table: async tasks, sync threads and redis-benchmark at 1, 8 and 64 callers.
fn concurrency_table(args: &Args) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sync_server = RedisServer::connect(&args.url).map_err(|e| e.to_string())?;
    let async_server = runtime
        .block_on(AsyncRedisServer::connect(&args.url))
        .map_err(|e| e.to_string())?;
    println!();
    println!(
        "| run | callers | async kops/s | sync per-call kops/s | async / sync | redis-benchmark GET kops/s | SET kops/s | async / mean(GET, SET) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for workload in [Workload::W2, Workload::W5] {
        for callers in [1, 8, 64] {
            let plan = Plan::new(workload, callers, args.ops, SEED);
            let ns_store = warm(&sync_server, &plan)?;
            let store = async_server.namespace(ns_store.namespace());
            let seconds = runtime.block_on(run_async(&store, &plan))?;
            ns_store.drop_namespace().map_err(|e| e.to_string())?;
            let ops = plan.total_weight() as f64;
            let asynced = ops / seconds;
            let synced = {
                let m = run_redis(&sync_server, &plan, false, args.batch)?;
                m.ops as f64 / m.seconds
            };
            let (get, set) = redis_benchmark(&args.url, callers, args.ops)?;
            println!(
                "| {workload} | {callers} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} |",
                asynced / 1e3,
                synced / 1e3,
                asynced / synced,
                get / 1e3,
                set / 1e3,
                asynced / ((get + set) / 2.0),
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redis bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse()?;
    if args.only_callers {
        return concurrency_table(&args);
    }
    let mut targets = vec![("single", args.url.clone())];
    if let Some(c) = &args.cluster {
        targets.push(("cluster", c.clone()));
    }
    println!(
        "| run | kvstore Mops/s | backend | per-op kops/s | ratio | round trips/op | pipelined kops/s | ratio | round trips/op |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
    for workload in [Workload::W2, Workload::W5] {
        for threads in [1, 2] {
            let plan = Plan::new(workload, threads, args.ops, SEED);
            let sample = measure("kvstore", &plan, || Ours::new(workload, true))
                .map_err(|e| e.to_string())?;
            let ours = sample.ops as f64 / sample.seconds;
            for (name, url) in &targets {
                let server = RedisServer::connect(url).map_err(|e| e.to_string())?;
                let one = run_redis(&server, &plan, false, args.batch)?;
                let piped = run_redis(&server, &plan, true, args.batch)?;
                let rate = |m: &Measured| m.ops as f64 / m.seconds;
                eprintln!(
                    "{workload} {threads}T {name}: hits {} / {} (in-process {})",
                    one.hits, piped.hits, sample.hits
                );
                println!(
                    "| {workload} {threads}T | {:.2} | redis {name} | {:.1} | {:.4} | {:.2} | {:.1} | {:.4} | {:.3} |",
                    ours / 1e6,
                    rate(&one) / 1e3,
                    rate(&one) / ours,
                    one.round_trips as f64 / one.ops as f64,
                    rate(&piped) / 1e3,
                    rate(&piped) / ours,
                    piped.round_trips as f64 / piped.ops as f64,
                );
            }
        }
    }
    concurrency_table(&args)
}
