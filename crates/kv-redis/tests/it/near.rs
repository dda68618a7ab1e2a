//! The near cache's rules (`docs/semantics.md`, "Near cache"), each test named after its rule,
//! on a server and, where the rule involves the invalidation connection's server, on a cluster.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kv_core::Backend;
use kv_redis::{NearCache, RedisServer, RedisStore};
use kv_ttl::PutOptions;

use crate::support::{self, OwnServer};

/// How long another client's write may stay unseen in a near tier, in these tests. The delay
/// measured on loopback is well under a millisecond (see `docs/semantics.md`); the margin is
/// for a loaded 2-core machine.
const STALENESS_BOUND: Duration = Duration::from_secs(2);

/// How long to wait for an invalidation connection to come back after it was cut.
const RECONNECT_WITHIN: Duration = Duration::from_secs(30);

fn k(s: &str) -> String {
    s.to_string()
}

fn near(url: &str, ns: &str) -> NearCache {
    let server = RedisServer::connect(url).unwrap();
    NearCache::new(server.namespace(ns), 1000).unwrap()
}

/// A client of `ns` with no near tier, on its own connections: "another process".
fn other(url: &str, ns: &str) -> RedisStore {
    RedisServer::connect(url).unwrap().namespace(ns)
}

fn put(
    b: &impl Backend<
        Key = String,
        Value = Vec<u8>,
        Options = PutOptions,
        Error = kv_redis::RedisStoreError,
    >,
    key: &str,
    v: &str,
) {
    b.put(k(key), v.as_bytes().to_vec(), &PutOptions::new())
        .unwrap();
}

/// Waits until `nc` has received more invalidated keys than `before`.
fn wait_for_invalidation(nc: &NearCache, before: u64) {
    let start = Instant::now();
    while nc.near_metrics().invalidations <= before {
        assert!(
            start.elapsed() < STALENESS_BOUND,
            "no invalidation within {STALENESS_BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `put` through `nc`, then waits for the write's own invalidation to come back (it drops the
/// near copy of a read made before it arrived), so the next reads find the near tier settled.
fn put_settled(nc: &NearCache, key: &str, v: &str) {
    let before = nc.near_metrics().invalidations;
    put(nc, key, v);
    wait_for_invalidation(nc, before);
}

fn get(nc: &NearCache, key: &str) -> Option<String> {
    nc.get(&k(key))
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

/// Reads `key` until it gives `want`, failing after `within`; returns how long it took.
fn wait_for(nc: &NearCache, key: &str, want: Option<&str>, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if get(nc, key).as_deref() == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{key} still reads {:?}, not {want:?}, after {within:?} (near: {:?})",
            get(nc, key),
            nc.near_metrics()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reads `key` until the near tier answers it with `want`, failing after the staleness bound.
fn wait_for_near_hit(nc: &NearCache, key: &str, want: &str) {
    let start = Instant::now();
    loop {
        let hits = nc.near_metrics().hits;
        let got = get(nc, key);
        if nc.near_metrics().hits > hits && got.as_deref() == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < STALENESS_BOUND,
            "{key} not read from the near tier as {want:?} within {STALENESS_BOUND:?}: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reads `key` and asserts the near tier answered.
fn assert_near_hit(nc: &NearCache, key: &str, want: &str) {
    let before = nc.near_metrics().hits;
    assert_eq!(get(nc, key).as_deref(), Some(want));
    assert_eq!(
        nc.near_metrics().hits,
        before + 1,
        "{key} was not read from the near tier"
    );
}

/// Waits until the near cache's tracking has been set up again after it was lost (`resets`
/// past `before` by two: emptied when lost, emptied when set up) and is on.
fn wait_for_tracking_again(nc: &NearCache, resets_before: u64) {
    let start = Instant::now();
    loop {
        let m = nc.near_metrics();
        if m.live && m.resets >= resets_before + 2 {
            return;
        }
        assert!(
            start.elapsed() < RECONNECT_WITHIN,
            "tracking not set up again after {RECONNECT_WITHIN:?}: {m:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn urls() -> Vec<String> {
    [support::single(), support::cluster()]
        .into_iter()
        .flatten()
        .collect()
}

#[test]
fn near_cache_reads_its_own_writes_at_once() {
    for url in urls() {
        let ns = support::unique_ns("near-own-writes");
        let nc = near(&url, &ns);
        put_settled(&nc, "a", "1");
        assert_eq!(get(&nc, "a").as_deref(), Some("1"));
        assert_near_hit(&nc, "a", "1");
        let before = nc.near_metrics().invalidations;
        put(&nc, "a", "2");
        assert_eq!(get(&nc, "a").as_deref(), Some("2"), "{url}");
        wait_for_invalidation(&nc, before);
        get(&nc, "a");
        assert_near_hit(&nc, "a", "2");
        assert!(nc.del(&k("a")).unwrap());
        assert_eq!(get(&nc, "a"), None);
        // Each other write, made while "b" is a settled near hit (so the put's own
        // invalidation cannot be what drops it), sends the next read to the server.
        type Write<'a> = (&'a str, &'a dyn Fn(&NearCache));
        let writes: [Write; 5] = [
            ("remove", &|nc| {
                assert_eq!(nc.remove(&k("b")).unwrap().as_deref(), Some(&b"1"[..]))
            }),
            ("get_or_insert", &|nc| {
                nc.get_or_insert(k("b"), b"2".to_vec(), &PutOptions::new())
                    .unwrap();
            }),
            ("remove_prefix", &|nc| {
                assert_eq!(nc.remove_prefix("b").unwrap(), 1);
            }),
            ("set_capacity", &|nc| nc.set_capacity(1000).unwrap()),
            ("clear", &|nc| nc.clear().unwrap()),
        ];
        for (name, write) in writes {
            // A near cache of its own per write: the invalidations of the writes before it
            // (still in flight on the shared one) would be counted as this put's, and one
            // landing after the read below would drop the near copy it settles on.
            let nc = near(&url, &ns);
            put_settled(&nc, "b", "1");
            get(&nc, "b");
            assert_near_hit(&nc, "b", "1");
            write(&nc);
            let misses = nc.near_metrics().misses;
            get(&nc, "b");
            assert_eq!(
                nc.near_metrics().misses,
                misses + 1,
                "{name}: the next read was served near ({url})"
            );
        }
        nc.store().drop_namespace().unwrap();
    }
}

/// A URL that asks for RESP3 still gets its invalidations: under RESP3 the server would push
/// them on the connection itself instead of the channel the near cache listens to, so its
/// invalidation connection speaks RESP2 whatever the URL says.
#[test]
fn another_client_write_is_seen_also_on_a_resp3_url() {
    // A server only: a cluster URL with `protocol=resp3` is refused by redis-rs's cluster
    // client ("different protocol among initial nodes": the query reaches the first node only).
    let Some(url) = support::single() else { return };
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}protocol=resp3");
    let ns = support::unique_ns("near-resp3");
    let nc = near(&url, &ns);
    let writer = other(&url, &ns);
    put_settled(&nc, "k", "0");
    get(&nc, "k");
    assert_near_hit(&nc, "k", "0");
    put(&writer, "k", "1");
    wait_for(&nc, "k", Some("1"), STALENESS_BOUND);
    nc.store().drop_namespace().unwrap();
}

#[test]
fn near_hits_are_counted_near_and_the_server_counts_only_the_reads_it_saw() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("near-counts");
    let nc = near(&url, &ns);
    put_settled(&nc, "a", "1");
    for _ in 0..3 {
        assert_eq!(get(&nc, "a").as_deref(), Some("1"));
    }
    assert_eq!(get(&nc, "absent"), None);
    assert_eq!(get(&nc, "absent"), None);
    let (server, near) = nc.tier_metrics().unwrap();
    assert_eq!((server.hits, server.misses), (1, 1));
    assert_eq!((near.hits, near.misses, near.fills), (3, 2, 2));
    nc.store().drop_namespace().unwrap();
}

#[test]
fn an_absence_is_kept_near_until_the_key_is_written() {
    for url in urls() {
        let ns = support::unique_ns("near-absent");
        let nc = near(&url, &ns);
        assert_eq!(get(&nc, "x"), None);
        let hits = nc.near_metrics().hits;
        assert_eq!(get(&nc, "x"), None);
        assert_eq!(
            nc.near_metrics().hits,
            hits + 1,
            "the absence was not kept near"
        );
        put(&other(&url, &ns), "x", "1");
        wait_for(&nc, "x", Some("1"), STALENESS_BOUND);
        get(&nc, "y");
        put(&nc, "y", "2");
        assert_eq!(get(&nc, "y").as_deref(), Some("2"));
        let (server, _) = nc.tier_metrics().unwrap();
        assert_eq!(server.misses, 2, "{url}");
        nc.store().drop_namespace().unwrap();
    }
}

#[test]
fn entries_with_a_read_budget_or_a_sliding_ttl_never_live_in_the_near_tier() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("near-budget");
    let nc = near(&url, &ns);
    nc.put(
        k("token"),
        b"t".to_vec(),
        &PutOptions::new().with_max_reads(2),
    )
    .unwrap();
    assert_eq!(get(&nc, "token").as_deref(), Some("t"));
    assert_eq!(get(&nc, "token").as_deref(), Some("t"));
    assert_eq!(
        get(&nc, "token"),
        None,
        "a read budget of 2 gave a third read"
    );
    let sliding = PutOptions::new()
        .with_ttl(Duration::from_secs(600))
        .with_sliding_ttl();
    nc.put(k("session"), b"s".to_vec(), &sliding).unwrap();
    // Many reads in a row: each read changes the entry on the server, so a near copy kept by
    // mistake would live only until that change's invalidation arrived; back-to-back reads
    // would still find it now and then.
    let budget = PutOptions::new().with_max_reads(1_000);
    nc.put(k("budget"), b"b".to_vec(), &budget).unwrap();
    for _ in 0..50 {
        assert_eq!(get(&nc, "session").as_deref(), Some("s"));
        assert_eq!(get(&nc, "budget").as_deref(), Some("b"));
    }
    // Every read reached the server: 2 token hits, 1 miss, 50 sliding refreshes, 50 reads spent.
    let (server, near) = nc.tier_metrics().unwrap();
    assert_eq!((server.hits, server.misses), (102, 1));
    assert_eq!(near.hits, 0);
    nc.store().drop_namespace().unwrap();
}

#[test]
fn a_near_copy_expires_no_later_than_its_server_deadline() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("near-deadline");
    let nc = near(&url, &ns);
    let ttl = Duration::from_secs(5);
    let before = nc.near_metrics().invalidations;
    nc.put(k("a"), b"1".to_vec(), &PutOptions::new().with_ttl(ttl))
        .unwrap();
    // The server's deadline is at most `ttl` after the put returned.
    let deadline = Instant::now() + ttl;
    wait_for_invalidation(&nc, before);
    wait_for_near_hit(&nc, "a", "1");
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    assert_eq!(
        get(&nc, "a"),
        None,
        "the near copy outlived the server's deadline"
    );
    nc.store().drop_namespace().unwrap();
}

#[test]
fn entries_with_a_deadline_on_a_frozen_clock_are_not_kept_near() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("near-frozen");
    let nc = near(&url, &ns);
    nc.store().freeze_clock().unwrap();
    let before = nc.near_metrics().invalidations;
    nc.put(
        k("a"),
        b"1".to_vec(),
        &PutOptions::new().with_ttl(Duration::from_secs(10)),
    )
    .unwrap();
    put(&nc, "forever", "f");
    // Both writes' own invalidations are back, so what is kept near stays.
    let start = Instant::now();
    while nc.near_metrics().invalidations < before + 2 {
        assert!(
            start.elapsed() < STALENESS_BOUND,
            "the writes' invalidations did not come"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..2 {
        assert_eq!(get(&nc, "a").as_deref(), Some("1"));
        assert_eq!(get(&nc, "forever").as_deref(), Some("f"));
    }
    assert_eq!(
        nc.near_metrics().hits,
        1,
        "only the entry without a deadline was kept"
    );
    nc.advance(Duration::from_secs(10)).unwrap();
    assert_eq!(get(&nc, "a"), None);
    nc.store().drop_namespace().unwrap();
}

/// Writes `ns`'s key `k` as 1, 2, ... in a second process, one value per line it reads.
const WRITER_URL: &str = "KV_NEAR_TEST_WRITER_URL";
const WRITER_NS: &str = "KV_NEAR_TEST_WRITER_NS";
const ROUNDS: usize = 20;

/// The writing half of `another_process_write_is_seen_within_the_staleness_bound`, run by it in
/// a child process.
#[test]
#[ignore = "a helper: another_process_write_is_seen_within_the_staleness_bound runs it"]
fn near_writer_process() {
    let (Ok(url), Ok(ns)) = (std::env::var(WRITER_URL), std::env::var(WRITER_NS)) else {
        return;
    };
    let store = other(&url, &ns);
    let mut acks = std::io::stdin().lock().lines();
    for i in 1..=ROUNDS {
        put(&store, "k", &i.to_string());
        println!("near-writer wrote {i}");
        std::io::stdout().flush().unwrap();
        acks.next().unwrap().unwrap();
    }
}

fn another_process_write_is_seen_within_the_staleness_bound(url: &str) {
    let ns = support::unique_ns("near-two-processes");
    let nc = near(url, &ns);
    put_settled(&nc, "k", "0");
    get(&nc, "k");
    assert_near_hit(&nc, "k", "0");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "near::near_writer_process",
            "--ignored",
            "--nocapture",
        ])
        .env(WRITER_URL, url)
        .env(WRITER_NS, &ns)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acks = child.stdin.take().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut delays = Vec::new();
    for line in lines {
        let line = line.unwrap();
        let Some(i) = line.strip_prefix("near-writer wrote ") else {
            continue;
        };
        // The near tier held the previous value; the write has returned in the child.
        delays.push(wait_for(&nc, "k", Some(i), STALENESS_BOUND));
        get(&nc, "k");
        assert_near_hit(&nc, "k", i);
        writeln!(acks, "ok").unwrap();
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "the writer process failed: {status}");
    assert_eq!(delays.len(), ROUNDS, "the writer stopped early");
    delays.sort();
    eprintln!(
        "{url}: another process's write seen after median {:?}, max {:?} ({ROUNDS} writes)",
        delays[ROUNDS / 2],
        delays[ROUNDS - 1]
    );
    nc.store().drop_namespace().unwrap();
}

#[test]
fn another_process_write_is_seen_within_the_staleness_bound_on_a_server() {
    let Some(url) = support::single() else { return };
    another_process_write_is_seen_within_the_staleness_bound(&url);
}

#[test]
fn another_process_write_is_seen_within_the_staleness_bound_on_a_cluster() {
    let Some(url) = support::cluster() else {
        return;
    };
    another_process_write_is_seen_within_the_staleness_bound(&url);
}

#[test]
fn a_value_read_while_another_client_writes_never_sticks_in_the_near_tier() {
    for url in urls() {
        let ns = support::unique_ns("near-race");
        let nc = near(&url, &ns);
        let writer = other(&url, &ns);
        put(&writer, "k", "0");
        let last = 300;
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=last {
                    put(&writer, "k", &i.to_string());
                }
            });
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..600 {
                        get(&nc, "k");
                    }
                });
            }
        });
        wait_for(&nc, "k", Some(&last.to_string()), STALENESS_BOUND);
        // Settled: the near tier keeps the last value and serves it.
        wait_for_near_hit(&nc, "k", &last.to_string());
        nc.store().drop_namespace().unwrap();
    }
}

#[test]
fn clear_on_any_process_empties_every_near_tier_of_the_namespace() {
    for url in urls() {
        let ns = support::unique_ns("near-clear");
        let (a, b) = (near(&url, &ns), near(&url, &ns));
        let keys = ["k1", "k2", "k3"];
        let writer = other(&url, &ns);
        for key in keys {
            let before = [
                a.near_metrics().invalidations,
                b.near_metrics().invalidations,
            ];
            put(&writer, key, "v");
            for (nc, before) in [(&a, before[0]), (&b, before[1])] {
                wait_for_invalidation(nc, before);
                get(nc, key);
                assert_near_hit(nc, key, "v");
            }
        }
        a.clear().unwrap();
        for key in keys {
            assert_eq!(get(&a, key), None);
            wait_for(&b, key, None, STALENESS_BOUND);
        }
        a.store().drop_namespace().unwrap();
    }
}

/// The node that holds the invalidation connection of namespace `ns`'s near cache (found by its
/// `CLIENT SETNAME`), a connection to it and the connection's id.
fn invalidation_client(url: &str, ns: &str) -> (redis::Connection, i64) {
    let nodes: Vec<String> = match url.strip_prefix("redis+cluster://") {
        Some(list) => list.split(',').map(|n| format!("redis://{n}")).collect(),
        None => vec![url.to_string()],
    };
    let name = format!("name=kv-near:{ns}"); // the test names need no escaping
    for node in nodes {
        let mut con = redis::Client::open(node.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
        if let Some(line) = list.lines().find(|l| l.split(' ').any(|f| f == name)) {
            let id = line
                .split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .unwrap()
                .parse()
                .unwrap();
            return (con, id);
        }
    }
    panic!("no client {name} on any node of {url}");
}

#[test]
fn a_killed_invalidation_connection_empties_the_near_tier_and_tracking_comes_back() {
    for url in urls() {
        let ns = support::unique_ns("near-kill");
        let nc = near(&url, &ns);
        put_settled(&nc, "k", "v1");
        get(&nc, "k");
        assert_near_hit(&nc, "k", "v1");
        let resets = nc.near_metrics().resets;
        // Cut the connection and change the entry in one step, so its invalidation is never
        // sent: only emptying the near tier on the cut keeps `v1` from being served. On a
        // cluster the connection is on the master of the namespace's slot, the node with the
        // entry.
        let (mut con, id) = invalidation_client(&url, &ns);
        let entry = format!("kv:{{{ns}}}:e:k");
        let _: () = redis::pipe()
            .atomic()
            .cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .ignore()
            .cmd("HSET")
            .arg(&entry)
            .arg("v")
            .arg("v2")
            .ignore()
            .query(&mut con)
            .unwrap();
        wait_for_tracking_again(&nc, resets);
        assert_eq!(
            get(&nc, "k").as_deref(),
            Some("v2"),
            "a near copy survived the cut ({url})"
        );
        assert_near_hit(&nc, "k", "v2");
        // Tracking is on again: another client's write reaches the near tier.
        put(&other(&url, &ns), "k", "v3");
        wait_for(&nc, "k", Some("v3"), STALENESS_BOUND);
        nc.store().drop_namespace().unwrap();
    }
}

#[test]
fn a_server_restart_empties_the_near_tier_and_tracking_comes_back() {
    let Some(mut own) = OwnServer::start(&[]) else {
        return;
    };
    let url = format!("{}?timeout=1s", own.url());
    let ns = support::unique_ns("near-restart");
    let nc = near(&url, &ns);
    put_settled(&nc, "k", "v1");
    get(&nc, "k");
    assert_near_hit(&nc, "k", "v1");
    let resets = nc.near_metrics().resets;
    own.kill();
    own.restart(); // empty: no persistence
    wait_for_tracking_again(&nc, resets);
    // The store's pooled connection died with the server: its first call may fail.
    let start = Instant::now();
    while nc.store().has(&k("k")).is_err() {
        assert!(
            start.elapsed() < RECONNECT_WITHIN,
            "the store does not reconnect"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(get(&nc, "k"), None, "a near copy survived the restart");
    // Tracking is on again: the near cache's own write and another client's come back.
    put_settled(&nc, "k", "v2");
    get(&nc, "k");
    assert_near_hit(&nc, "k", "v2");
    put(&other(&url, &ns), "k", "v3");
    wait_for(&nc, "k", Some("v3"), STALENESS_BOUND);
    // A flush of the database reaches the near tier too.
    let mut con = redis::Client::open(own.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    wait_for(&nc, "k", None, STALENESS_BOUND);
}

/// The async near cache: the same tier and invalidation connection, async server calls.
#[cfg(feature = "tokio")]
mod async_near {
    use super::*;
    use kv_core::AsyncBackend;
    use kv_redis::{AsyncNearCache, AsyncRedisServer};

    async fn near(url: &str, ns: &str) -> AsyncNearCache {
        let server = AsyncRedisServer::connect(url).await.unwrap();
        AsyncNearCache::new(server.namespace(ns), 1000)
            .await
            .unwrap()
    }

    async fn get(nc: &AsyncNearCache, key: &str) -> Option<String> {
        nc.get(&k(key))
            .await
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }

    async fn put(nc: &AsyncNearCache, key: &str, v: &str) {
        nc.put(k(key), v.as_bytes().to_vec(), &PutOptions::new())
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_near_cache_reads_its_own_writes_at_once_and_sees_others_within_the_bound() {
        for url in urls() {
            let ns = support::unique_ns("async-near");
            let nc = near(&url, &ns).await;
            let before = nc.near_metrics().invalidations;
            put(&nc, "a", "1").await;
            assert_eq!(get(&nc, "a").await.as_deref(), Some("1"));
            // The write's own invalidation comes back; then a copy stays near.
            let start = Instant::now();
            while nc.near_metrics().invalidations == before {
                assert!(start.elapsed() < STALENESS_BOUND, "no invalidation");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            get(&nc, "a").await;
            let hits = nc.near_metrics().hits;
            assert_eq!(get(&nc, "a").await.as_deref(), Some("1"));
            assert_eq!(
                nc.near_metrics().hits,
                hits + 1,
                "not read from the near tier"
            );
            // Another client's write is seen within the bound.
            super::put(&other(&url, &ns), "a", "2");
            let start = Instant::now();
            while get(&nc, "a").await.as_deref() != Some("2") {
                assert!(
                    start.elapsed() < STALENESS_BOUND,
                    "{url}: the write was not seen"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            put(&nc, "a", "3").await;
            assert_eq!(get(&nc, "a").await.as_deref(), Some("3"));
            nc.clear().await.unwrap();
            assert_eq!(get(&nc, "a").await, None);
            nc.store().drop_namespace().await.unwrap();
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_near_cache_never_keeps_a_read_budget_near() {
        let Some(url) = support::single() else { return };
        let ns = support::unique_ns("async-near-budget");
        let nc = near(&url, &ns).await;
        nc.put(
            k("token"),
            b"t".to_vec(),
            &PutOptions::new().with_max_reads(1),
        )
        .await
        .unwrap();
        assert_eq!(get(&nc, "token").await.as_deref(), Some("t"));
        assert_eq!(
            get(&nc, "token").await,
            None,
            "a one-shot token was read twice"
        );
        assert_eq!(nc.near_metrics().hits, 0);
        nc.store().drop_namespace().await.unwrap();
    }
}

/// A failover of the namespace's master (feature `tokio`, where the failover cluster lives).
#[cfg(feature = "tokio")]
#[test]
fn a_failover_of_the_slots_master_empties_the_near_tier_and_tracking_moves_to_the_new_master() {
    use crate::failover::{cluster_with_replicas, kill_master_of, until_ok};
    let Some((mut nodes, url)) = cluster_with_replicas() else {
        return;
    };
    let ns = support::unique_ns("near-failover");
    let nc = near(&url, &ns);
    put_settled(&nc, "k", "v1");
    get(&nc, "k");
    assert_near_hit(&nc, "k", "v1");
    let resets = nc.near_metrics().resets;
    kill_master_of(&mut nodes, &ns);
    wait_for_tracking_again(&nc, resets);
    // The promoted replica serves the entry; the near tier was emptied, so it is read there.
    let misses = nc.near_metrics().misses;
    let (got, _) = until_ok("get through the near cache", || nc.get(&k("k")));
    assert_eq!(got.as_deref(), Some(&b"v1"[..]));
    assert!(
        nc.near_metrics().misses > misses,
        "served from a near tier kept across the failover"
    );
    // Tracking is on at the new master: another client's write reaches the near tier.
    let writer = other(&url, &ns);
    until_ok("put by another client", || {
        writer.put(k("k"), b"v2".to_vec(), &PutOptions::new())
    });
    wait_for(&nc, "k", Some("v2"), STALENESS_BOUND);
    nc.store().drop_namespace().unwrap();
}

#[test]
fn dropping_the_last_handle_closes_the_invalidation_connection() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("near-drop");
    let nc = near(&url, &ns);
    let (mut con, id) = invalidation_client(&url, &ns);
    let clone = nc.clone();
    drop(nc);
    let listed = |con: &mut redis::Connection| {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
        list.lines()
            .any(|l| l.split(' ').any(|f| f == format!("id={id}")))
    };
    std::thread::sleep(Duration::from_secs(1));
    assert!(listed(&mut con), "closed while a clone was still in use");
    drop(clone);
    let start = Instant::now();
    while listed(&mut con) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still open 10 s after the last drop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
