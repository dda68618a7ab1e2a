//! What only a remote store has: hostile names, real expiry, credentials, dead servers, several
//! processes on one namespace.

use std::process::Command;
use std::time::{Duration, Instant};

use kv_redis::{RedisServer, RedisStore, RedisStoreError, TypedRedisStore};
use kvstore::{Backend, Metrics, PutOptions};

use crate::support::{self, OwnServer};

/// A name as it appears in keys: printable ASCII as it is, `%`, braces and every other byte as
/// `%XX` (the layout the crate docs describe).
fn esc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'%' | b'{' | b'}' => format!("%{b:02X}"),
            b if b.is_ascii_graphic() => char::from(b).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The hash tag and prefix of namespace `ns`'s keys.
fn tag(ns: &str) -> String {
    format!("kv:{{{}}}:", esc(ns))
}

/// The server-side key of entry `key` in namespace `ns`.
fn entry_key(ns: &str, key: &str) -> String {
    format!("{}e:{}", tag(ns), esc(key))
}

fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("a raw connection to the test server")
}

fn m(hits: u64, misses: u64, expirations: u64, evictions: u64, current_size: u64) -> Metrics {
    Metrics {
        hits,
        misses,
        expirations,
        evictions,
        current_size,
    }
}

#[test]
fn hostile_namespace_names_never_read_or_clobber_each_other() {
    let Some(url) = support::single() else { return };
    let server = RedisServer::connect(&url).unwrap();
    let base = support::unique_ns("hostile");
    let names: Vec<String> = [
        "", "}", "{", "}:e:6b", "{x}", ":", "\n", "a", "a}", "ab", "a:b",
    ]
    .iter()
    .map(|n| format!("{base}{n}"))
    .collect();
    let stores: Vec<RedisStore> = names.iter().map(|n| server.namespace(n)).collect();
    for (s, n) in stores.iter().zip(&names) {
        s.put("k".into(), n.as_bytes().to_vec(), &PutOptions::new())
            .unwrap();
        s.set_capacity(1).unwrap();
    }
    for (s, n) in stores.iter().zip(&names) {
        assert_eq!(
            s.get(&"k".to_string()).unwrap().as_deref(),
            Some(n.as_bytes())
        );
        assert_eq!(s.metrics().unwrap(), m(1, 0, 0, 0, 1), "namespace {n:?}");
        assert_eq!(s.keys().unwrap(), ["k"]);
    }
    let mut con = raw(&url);
    for n in &names {
        // The layout the docs give an operator: `kv:{<name>}:` then `m`, `lru`, `e:<key>`.
        let mut found: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", tag(n)))
            .query(&mut con)
            .unwrap();
        found.sort();
        let t = tag(n);
        assert_eq!(
            found,
            [format!("{t}e:k"), format!("{t}lru"), format!("{t}m")],
            "{n:?}"
        );
    }
    for s in &stores {
        s.drop_namespace().unwrap();
    }
    for n in &names {
        let left: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", tag(n)))
            .query(&mut con)
            .unwrap();
        assert!(left.is_empty(), "dropping {n:?} left {left:?}");
    }
}

#[test]
fn on_cluster_every_key_of_a_namespace_is_in_one_slot() {
    let Some(url) = support::cluster() else {
        return;
    };
    let ns = support::unique_ns("slot}{:");
    let store = RedisServer::connect(&url).unwrap().namespace(&ns);
    store.set_capacity(2).unwrap();
    for k in ["a", "b", "c"] {
        store
            .put(
                k.into(),
                b"v".to_vec(),
                &PutOptions::new().with_ttl(Duration::from_secs(60)),
            )
            .unwrap();
    }
    let node = url
        .trim_start_matches("redis+cluster://")
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let mut con = raw(&format!("redis://{node}"));
    let mut slot = |key: &str| -> i64 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut con)
            .unwrap()
    };
    let tag = tag(&ns);
    let first = slot(&format!("{tag}m"));
    for suffix in ["lru", "exp", "e:a", "e:b", "e:c"] {
        assert_eq!(slot(&format!("{tag}{suffix}")), first, "{suffix}");
    }
    assert_eq!(store.keys().unwrap(), ["b", "c"]);
    store.drop_namespace().unwrap();
}

#[test]
fn the_real_expiry_comes_after_the_logical_deadline_and_an_entry_redis_dropped_counts_once() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("real-expiry");
    let store = RedisServer::connect(&url).unwrap().namespace(&ns);
    let ten = PutOptions::new().with_ttl(Duration::from_secs(10));
    store.put("a".into(), b"1".to_vec(), &ten).unwrap();
    let mut con = raw(&url);
    let pttl: i64 = redis::cmd("PTTL")
        .arg(entry_key(&ns, "a"))
        .query(&mut con)
        .unwrap();
    assert!(
        (10_000..=12_000).contains(&pttl),
        "real expiry {pttl} ms: the deadline plus at most the slack"
    );
    store.advance(Duration::from_secs(10)).unwrap();
    // What Redis does when the real expiry comes: the key is gone, the bookkeeping is not.
    let _: i64 = redis::cmd("DEL")
        .arg(entry_key(&ns, "a"))
        .query(&mut con)
        .unwrap();
    assert_eq!(store.metrics().unwrap().current_size, 1);
    assert_eq!(store.get(&"a".to_string()).unwrap(), None);
    assert_eq!(store.get(&"a".to_string()).unwrap(), None);
    assert_eq!(store.metrics().unwrap(), m(0, 2, 1, 0, 0));
    store.drop_namespace().unwrap();
}

#[test]
fn no_ttl_means_no_real_expiry_and_a_sliding_read_keeps_the_real_expiry_after_the_new_deadline() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("pexpire");
    let store = RedisServer::connect(&url).unwrap().namespace(&ns);
    store
        .put("plain".into(), b"1".to_vec(), &PutOptions::new())
        .unwrap();
    let slide = PutOptions::new()
        .with_ttl(Duration::from_secs(100))
        .with_sliding_ttl();
    store.put("s".into(), b"1".to_vec(), &slide).unwrap();
    let mut con = raw(&url);
    let mut pttl = |k: &str| -> i64 {
        redis::cmd("PTTL")
            .arg(entry_key(&ns, k))
            .query(&mut con)
            .unwrap()
    };
    assert_eq!(pttl("plain"), -1);
    store.advance(Duration::from_secs(90)).unwrap();
    assert!(store.get(&"s".to_string()).unwrap().is_some());
    // The new deadline is 100 s after the logical now (90 s ahead of real time): the real expiry
    // is about 100 s plus the slack from now (less the moments since the read), not 10 s.
    let after = pttl("s");
    assert!((98_000..=102_000).contains(&after), "{after}");
    store.advance(Duration::from_secs(99)).unwrap();
    assert!(
        store.has(&"s".to_string()).unwrap(),
        "refreshed, so live 99 s later"
    );
    store.drop_namespace().unwrap();
}

#[test]
fn a_server_killed_mid_run_gives_an_error_and_the_client_reconnects() {
    let Some(mut own) = OwnServer::start(&[]) else {
        return;
    };
    let store = RedisServer::connect_with_timeout(&own.url(), Duration::from_secs(2))
        .unwrap()
        .namespace("reconnect");
    store
        .put("a".into(), b"1".to_vec(), &PutOptions::new())
        .unwrap();
    own.kill();
    let err = store.get(&"a".to_string()).unwrap_err();
    assert!(
        matches!(err, RedisStoreError::Unavailable { .. }),
        "{err:?}"
    );
    assert!(store.put("b".into(), vec![], &PutOptions::new()).is_err());
    own.restart();
    // The server kept nothing (no persistence); the store answers again.
    assert_eq!(store.get(&"a".to_string()).unwrap(), None);
    store
        .put("a".into(), b"2".to_vec(), &PutOptions::new())
        .unwrap();
    assert_eq!(store.get(&"a".to_string()).unwrap(), Some(b"2".to_vec()));
}

#[test]
fn the_password_never_appears_in_errors_or_debug_output() {
    let Some(own) = OwnServer::start(&["--requirepass", "right-pass-Q7"]) else {
        return;
    };
    let port = own.port;
    let wrong = format!("redis://:wrong-pass-Z9@127.0.0.1:{port}");
    let err = RedisServer::connect(&wrong).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("wrong-pass-Z9"), "{shown}");
    assert!(shown.contains(":***@127.0.0.1"), "{shown}");

    let closed = format!(
        "redis://u:closed-pass-X1@127.0.0.1:{}",
        support::free_port()
    );
    let err = RedisServer::connect(&closed).unwrap_err();
    assert!(
        matches!(err, RedisStoreError::Unavailable { .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("closed-pass-X1"));

    let server = RedisServer::connect(&format!("redis://:right-pass-Q7@127.0.0.1:{port}")).unwrap();
    let store = TypedRedisStore::<String>::new(server.namespace("auth"));
    store
        .put("k".into(), "v".into(), &PutOptions::new())
        .unwrap();
    let shown = format!("{server:?} {store:?} {}", server.url());
    assert!(!shown.contains("right-pass-Q7"), "{shown}");
}

#[test]
fn acl_credentials_in_the_url_work() {
    let Some(own) = OwnServer::start(&["--user", "alice", "on", ">alice-pass", "~*", "+@all"])
    else {
        return;
    };
    let url = format!("redis://alice:alice-pass@127.0.0.1:{}", own.port);
    let store = RedisStore::open(&url, "acl").unwrap();
    store
        .put("k".into(), b"v".to_vec(), &PutOptions::new())
        .unwrap();
    assert_eq!(store.get(&"k".to_string()).unwrap(), Some(b"v".to_vec()));
    let bad = format!("redis://alice:not-her-pass@127.0.0.1:{}", own.port);
    let err = RedisStore::open(&bad, "acl").unwrap_err();
    assert!(matches!(err, RedisStoreError::Server { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("not-her-pass"));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(matches!(
        RedisServer::connect("not a url"),
        Err(RedisStoreError::Url { .. })
    ));
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("typed");
    let text = TypedRedisStore::<String>::open(&url, &ns).unwrap();
    text.put("n".into(), "not a number".into(), &PutOptions::new())
        .unwrap();
    let numbers = TypedRedisStore::<u32>::open(&url, &ns).unwrap();
    assert!(matches!(
        numbers.get(&"n".to_string()),
        Err(RedisStoreError::Decode { .. })
    ));
    text.get_ref().drop_namespace().unwrap();
}

#[test]
fn pipelined_batches_give_the_answers_of_single_calls() {
    for url in [support::single(), support::cluster()]
        .into_iter()
        .flatten()
    {
        let ns = support::unique_ns("batch");
        let store = RedisServer::connect(&url).unwrap().namespace(&ns);
        store.set_capacity(3).unwrap();
        let entries: Vec<(String, Vec<u8>)> =
            (0..5).map(|i| (format!("k{i}"), vec![i as u8])).collect();
        store.put_many(&entries, &PutOptions::new()).unwrap();
        let keys: Vec<String> = ["k0", "k3", "k4", "zz"].map(String::from).to_vec();
        assert_eq!(
            store.get_many(&keys).unwrap(),
            [None, Some(vec![3]), Some(vec![4]), None]
        );
        assert_eq!(store.metrics().unwrap(), m(2, 2, 0, 2, 3));
        assert!(store.get_many(&[]).unwrap().is_empty());
        store.put_many(&[], &PutOptions::new()).unwrap();
        store.drop_namespace().unwrap();
    }
}

const CHILD_NS: &str = "KV_REDIS_TEST_CHILD_NS";

/// Run by `two_processes_share_a_namespace` in a second process; does nothing on its own.
#[test]
#[ignore = "a helper: two_processes_share_a_namespace runs it in a child process"]
fn child_process_helper() {
    let (Ok(ns), Some(url)) = (std::env::var(CHILD_NS), support::single()) else {
        return;
    };
    let store = TypedRedisStore::<String>::open(&url, &ns).unwrap();
    assert_eq!(
        store.get(&"from-parent".to_string()).unwrap().as_deref(),
        Some("p")
    );
    store
        .put("from-child".into(), "c".into(), &PutOptions::new())
        .unwrap();
    store.advance(Duration::from_secs(5)).unwrap();
}

#[test]
fn two_processes_share_a_namespace_entries_counters_and_clock() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("two-processes");
    let store = TypedRedisStore::<String>::open(&url, &ns).unwrap();
    store
        .put("from-parent".into(), "p".into(), &PutOptions::new())
        .unwrap();
    store
        .put(
            "short".into(),
            "s".into(),
            &PutOptions::new().with_ttl(Duration::from_secs(5)),
        )
        .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "redis_only::child_process_helper", "--ignored"])
        .env(CHILD_NS, &ns)
        .env(support::URL_VAR, &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the child process failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        store.get(&"from-child".to_string()).unwrap().as_deref(),
        Some("c")
    );
    // The child's advance moved the clock both processes read.
    assert!(!store.has(&"short".to_string()).unwrap());
    assert_eq!(store.metrics().unwrap(), m(2, 0, 1, 0, 2));
    store.get_ref().drop_namespace().unwrap();
}

#[test]
fn purge_and_clear_of_more_than_one_step_remove_everything() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("bulk");
    let store = RedisServer::connect(&url).unwrap().namespace(&ns);
    let entries: Vec<(String, Vec<u8>)> = (0..10_050).map(|i| (format!("k{i}"), vec![])).collect();
    let ttl = PutOptions::new().with_ttl(Duration::from_secs(1));
    for chunk in entries.chunks(1_000) {
        store.put_many(chunk, &ttl).unwrap();
    }
    store.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(store.purge_expired().unwrap(), 10_050);
    assert_eq!(store.metrics().unwrap(), m(0, 0, 10_050, 0, 0));
    for chunk in entries.chunks(1_000) {
        store.put_many(chunk, &PutOptions::new()).unwrap();
    }
    store.clear().unwrap();
    assert_eq!(store.metrics().unwrap(), m(0, 0, 10_050, 0, 0));
    assert!(store.keys().unwrap().is_empty());
    store.drop_namespace().unwrap();
}

#[test]
fn remove_prefix_of_more_than_one_step_removes_every_match_and_counts_each_once() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("bulk-prefix");
    let store = RedisServer::connect(&url).unwrap().namespace(&ns);
    let doomed: Vec<(String, Vec<u8>)> = (0..10_050).map(|i| (format!("a{i}"), vec![])).collect();
    for chunk in doomed.chunks(1_000) {
        store.put_many(chunk, &PutOptions::new()).unwrap();
    }
    let kept: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("b{i}"), vec![])).collect();
    store.put_many(&kept, &PutOptions::new()).unwrap();
    let short = PutOptions::new().with_ttl(Duration::from_secs(1));
    store.put("b-old".into(), vec![], &short).unwrap();
    store.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(store.remove_prefix("a").unwrap(), 10_050);
    assert_eq!(store.keys().unwrap().len(), 20);
    assert_eq!(store.metrics().unwrap(), m(0, 0, 1, 0, 20));
    store.drop_namespace().unwrap();
}

#[test]
fn get_or_insert_and_remove_count_an_entry_redis_dropped_once() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("dropped");
    let store = RedisServer::connect(&url).unwrap().namespace(&ns);
    let mut con = raw(&url);
    for k in ["a", "b"] {
        store
            .put(k.into(), b"old".to_vec(), &PutOptions::new())
            .unwrap();
        // What a server-side eviction (or a foreign DEL) does: the key is gone, the bookkeeping
        // is not.
        let _: i64 = redis::cmd("DEL")
            .arg(entry_key(&ns, k))
            .query(&mut con)
            .unwrap();
    }
    let got = store
        .get_or_insert("a".into(), b"new".to_vec(), &PutOptions::new())
        .unwrap();
    assert_eq!(got, b"new");
    assert_eq!(store.remove(&"b".to_string()).unwrap(), None);
    assert_eq!(store.metrics().unwrap(), m(0, 1, 0, 2, 1));
    store.drop_namespace().unwrap();
}

#[test]
fn a_frozen_clock_moves_only_by_advance_and_sets_no_real_expiry() {
    let Some(url) = support::single() else { return };
    let ns = support::unique_ns("frozen");
    let store = RedisServer::connect(&url).unwrap().namespace(&ns);
    store.freeze_clock().unwrap();
    let one_ms = PutOptions::new().with_ttl(Duration::from_millis(1));
    store.put("a".into(), b"1".to_vec(), &one_ms).unwrap();
    // Real time passes; the frozen clock does not.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(store.get(&"a".to_string()).unwrap(), Some(b"1".to_vec()));
    let pttl: i64 = redis::cmd("PTTL")
        .arg(entry_key(&ns, "a"))
        .query(&mut raw(&url))
        .unwrap();
    assert_eq!(pttl, -1, "no real expiry on a manual clock");
    store.advance(Duration::from_millis(1)).unwrap();
    assert_eq!(store.get(&"a".to_string()).unwrap(), None);
    assert_eq!(store.metrics().unwrap(), m(1, 1, 1, 0, 0));
    store.drop_namespace().unwrap();
}

/// With the `tls` feature, a `rediss://` URL reaches the TLS handshake (here against a server
/// that speaks plain RESP, so it fails) and gives an error, not a panic; without the feature it
/// is a URL error.
#[test]
fn a_rediss_url_is_an_error_not_a_panic_when_tls_fails() {
    let Some(own) = OwnServer::start(&[]) else {
        return;
    };
    let url = format!("rediss://u:tls-pass-K2@127.0.0.1:{}", own.port);
    let err = RedisServer::connect_with_timeout(&url, Duration::from_secs(2)).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("tls-pass-K2"), "{shown}");
    if cfg!(feature = "tls") {
        assert!(!matches!(err, RedisStoreError::Url { .. }), "{err:?}");
    } else {
        assert!(matches!(err, RedisStoreError::Url { .. }), "{err:?}");
    }
}

/// The most a call may take during an outage: the timeout (connect plus response, as a call may
/// have to reconnect first) and scheduling slack on a loaded machine.
pub fn within(timeout: Duration) -> Duration {
    timeout * 2 + Duration::from_secs(2)
}

pub fn assert_unavailable<T: std::fmt::Debug>(
    r: Result<T, RedisStoreError>,
    took: Duration,
    most: Duration,
) {
    let err = r.expect_err("a call during the outage fails");
    assert!(
        matches!(err, RedisStoreError::Unavailable { .. }),
        "{err:?}"
    );
    assert!(
        took <= most,
        "the call took {took:?}, more than {most:?}: {err}"
    );
}

#[test]
fn a_sync_call_to_a_hung_server_errors_within_the_url_timeout_and_the_store_carries_on() {
    let Some(own) = OwnServer::start(&[]) else {
        return;
    };
    let store = RedisServer::connect(&format!("{}?timeout=500ms", own.url()))
        .unwrap()
        .namespace("hung");
    store
        .put("a".into(), b"1".to_vec(), &PutOptions::new())
        .unwrap();
    own.signal("-STOP");
    let start = Instant::now();
    let r = store.get(&"a".to_string());
    let took = start.elapsed();
    own.signal("-CONT");
    assert_unavailable(r, took, within(Duration::from_millis(500)));
    assert!(took >= Duration::from_millis(500), "gave up after {took:?}");
    assert_eq!(store.get(&"a".to_string()).unwrap(), Some(b"1".to_vec()));
}

/// A server that forgot the scripts (it restarted, or someone ran `SCRIPT FLUSH`) still serves
/// pipelined calls: `get_many` and `put_many` load their script and send again (redis-rs does
/// that for single calls only).
#[test]
fn pipelined_calls_load_their_script_again_after_a_script_flush() {
    let Some(own) = OwnServer::start(&[]) else {
        return;
    };
    let store = RedisServer::connect(&own.url()).unwrap().namespace("flush");
    let entries = [
        ("a".to_string(), b"1".to_vec()),
        ("b".to_string(), b"2".to_vec()),
    ];
    let keys = ["a".to_string(), "b".to_string()];
    store.put_many(&entries, &PutOptions::new()).unwrap();
    assert_eq!(
        support::query(own.port, "SCRIPT FLUSH").as_deref(),
        Some("+OK\r\n")
    );
    assert_eq!(
        store.get_many(&keys).unwrap(),
        [Some(b"1".to_vec()), Some(b"2".to_vec())]
    );
    assert_eq!(
        support::query(own.port, "SCRIPT FLUSH").as_deref(),
        Some("+OK\r\n")
    );
    store
        .put_many(&[("c".to_string(), b"3".to_vec())], &PutOptions::new())
        .unwrap();
    assert_eq!(store.get(&"c".to_string()).unwrap(), Some(b"3".to_vec()));
}
