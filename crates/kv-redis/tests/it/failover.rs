//! Cluster failover (feature `tokio`, so the sync and the async store are checked side by side):
//! a cluster of three masters with one replica each, started by the test with a 1 s node
//! timeout; the master that holds the namespace's slot is killed mid-run, its replica is promoted,
//! and both stores carry on without being reopened.

use std::process::Command;
use std::time::{Duration, Instant};

use kv_core::{AsyncBackend, Backend};
use kv_redis::{AsyncRedisServer, AsyncTypedRedisStore, RedisStoreError, TypedRedisStore};
use kvstore::PutOptions;

use crate::contract::{async_runtime, m};
use crate::support::{self, OwnServer};

/// How long a failover may take here: the node timeout (1 s), the replica's election, and the
/// clients' slot refresh, on a loaded machine.
const FAILOVER: Duration = Duration::from_secs(20);

/// The node of `nodes` whose `CLUSTER NODES` says it is a master serving `slot`.
fn master_of(nodes: &[OwnServer], slot: u16) -> Option<usize> {
    nodes.iter().position(|n| {
        support::query(n.port, "CLUSTER NODES").is_some_and(|text| {
            text.lines()
                .find(|l| l.contains("myself"))
                .is_some_and(|l| l.contains("master") && serves(l, slot))
        })
    })
}

/// Whether a `CLUSTER NODES` line lists `slot` among its ranges (`a-b` or `a`).
fn serves(line: &str, slot: u16) -> bool {
    line.split(' ').skip(8).any(|range| {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
    })
}

/// Whether the master on `port` has a replica whose offset reached the master's.
fn replica_caught_up(port: u16) -> bool {
    let Some(info) = support::query(port, "INFO replication") else {
        return false;
    };
    let field = |line: &str, name: &str| -> Option<u64> {
        let start = line.find(name)? + name.len();
        let digits: String = line[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let master = info.lines().find_map(|l| field(l, "master_repl_offset:"));
    let replica = info
        .lines()
        .filter(|l| l.starts_with("slave0:") && l.contains("state=online"))
        .find_map(|l| field(l, "offset="));
    matches!((master, replica), (Some(m), Some(r)) if m > 0 && r >= m)
}

/// Calls `f` until it succeeds, keeping what it returned meanwhile (what a caller sees during the
/// failover); fails the test after [`FAILOVER`].
pub(crate) fn until_ok<T>(
    what: &str,
    mut f: impl FnMut() -> Result<T, RedisStoreError>,
) -> (T, Vec<String>) {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        match f() {
            Ok(v) => return (v, seen),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        RedisStoreError::Unavailable { .. } | RedisStoreError::Server { .. }
                    ),
                    "{what}: {e:?}"
                );
                seen.push(e.to_string());
                assert!(start.elapsed() < FAILOVER, "{what} still failing: {seen:?}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A cluster of three masters with one replica each and a 1 s node timeout, its nodes and its
/// URL (`None` without `redis-server` or `redis-cli`).
pub(crate) fn cluster_with_replicas() -> Option<(Vec<OwnServer>, String)> {
    if Command::new("redis-cli").arg("--version").output().is_err() {
        return None;
    }
    let args = [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "1000",
    ];
    let first = OwnServer::start(&args)?;
    let mut nodes = vec![first];
    for _ in 0..5 {
        nodes.push(OwnServer::start(&args).expect("redis-server starts"));
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .expect("redis-cli runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let ready = Instant::now();
    while !nodes.iter().all(|n| {
        support::query(n.port, "CLUSTER INFO").is_some_and(|s| s.contains("cluster_state:ok"))
    }) {
        assert!(ready.elapsed() < FAILOVER, "the cluster is not ok");
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("redis+cluster://{}?timeout=1s", addrs.join(","));
    Some((nodes, url))
}

/// Kills the master serving namespace `ns`'s slot once its replica has caught up with it.
pub(crate) fn kill_master_of(nodes: &mut [OwnServer], ns: &str) -> u16 {
    let slot = support::query(nodes[0].port, &format!("CLUSTER KEYSLOT kv:{{{ns}}}:m"))
        .and_then(|r| r.trim().trim_start_matches(':').parse::<u16>().ok())
        .expect("the namespace's slot");
    let master = master_of(nodes, slot).expect("a master serves the slot");
    let caught_up = Instant::now();
    while !replica_caught_up(nodes[master].port) {
        assert!(
            caught_up.elapsed() < FAILOVER,
            "the replica does not catch up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nodes[master].kill();
    slot
}

#[test]
fn a_killed_master_is_replaced_by_its_replica_and_both_stores_carry_on() {
    let Some((mut nodes, url)) = cluster_with_replicas() else {
        return;
    };
    let ns = support::unique_ns("failover");
    let sync = TypedRedisStore::<String>::open(&url, &ns).unwrap();
    let rt = async_runtime();
    let server = rt.block_on(AsyncRedisServer::connect(&url)).unwrap();
    let asy = AsyncTypedRedisStore::<String>::new(server.namespace(&ns));
    sync.put("before".into(), "1".into(), &PutOptions::new())
        .unwrap();
    rt.block_on(asy.put(
        "token".into(),
        "t".into(),
        &PutOptions::new().with_max_reads(2),
    ))
    .unwrap();

    // The namespace's master, once its replica has caught up with it.
    let slot = kill_master_of(&mut nodes, &ns);
    let killed = Instant::now();

    // During the failover calls fail (Unavailable or a cluster error), then the promoted
    // replica serves what the master held, to the same store handles.
    let (got, seen_sync) = until_ok("sync get", || sync.get(&"before".to_string()));
    let failed_for = killed.elapsed();
    assert_eq!(got.as_deref(), Some("1"));
    let (got, _) = until_ok("async get", || rt.block_on(asy.get(&"token".to_string())));
    assert_eq!(got.as_deref(), Some("t"));
    assert_ne!(
        master_of(&nodes, slot),
        None,
        "a replica was promoted for the slot"
    );
    sync.put("after".into(), "2".into(), &PutOptions::new())
        .unwrap();
    assert_eq!(
        rt.block_on(asy.get(&"after".to_string()))
            .unwrap()
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        sync.get(&"token".to_string()).unwrap().as_deref(),
        Some("t")
    );
    assert_eq!(
        sync.get(&"token".to_string()).unwrap(),
        None,
        "the read budget held"
    );
    // The counters moved over with the data: 4 hits (before, token twice, after), 1 miss.
    assert_eq!(sync.metrics().unwrap(), m(4, 1, 0, 0, 2));
    let mut kinds = seen_sync.clone();
    kinds.dedup();
    eprintln!(
        "during the failover the sync store's get failed {} times ({:.1} s): {kinds:?}",
        seen_sync.len(),
        failed_for.as_secs_f64()
    );
    sync.get_ref().drop_namespace().unwrap();
}
