//! The async stores (feature `tokio`): shared namespaces with the sync store, many tasks on one
//! multiplexed connection, and outages (a stopped server, a hung one) with their timeouts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kv_core::{AsyncBackend, Backend};
use kv_redis::{AsyncRedisServer, AsyncTypedRedisStore, RedisStoreError, TypedRedisStore};
use kvstore::PutOptions;

use crate::contract::m;
use crate::redis_only::{assert_unavailable, within};
use crate::support::{self, OwnServer};

/// A sync and an async client on one namespace see each other's entries, reads and counters.
async fn sync_and_async_share_a_namespace(url: String) {
    let ns = support::unique_ns("sync-and-async");
    let a = AsyncTypedRedisStore::<String>::new(
        AsyncRedisServer::connect(&url)
            .await
            .unwrap()
            .namespace(&ns),
    );
    let sync_url = url.clone();
    let sync_ns = ns.clone();
    // The sync store blocks: it runs on a blocking thread, as a sync process would.
    let s = tokio::task::spawn_blocking(move || {
        let s = TypedRedisStore::<String>::open(&sync_url, &sync_ns).unwrap();
        s.put(
            "from-sync".into(),
            "s".into(),
            &PutOptions::new().with_max_reads(1),
        )
        .unwrap();
        s
    })
    .await
    .unwrap();
    a.put("from-async".into(), "a".into(), &PutOptions::new())
        .await
        .unwrap();
    assert_eq!(
        a.get(&"from-sync".into()).await.unwrap().as_deref(),
        Some("s")
    );
    let s = tokio::task::spawn_blocking(move || {
        assert_eq!(
            s.get(&"from-sync".into()).unwrap(),
            None,
            "the async read spent the budget"
        );
        assert_eq!(s.get(&"from-async".into()).unwrap().as_deref(), Some("a"));
        s
    })
    .await
    .unwrap();
    let seen_async = a.metrics().await.unwrap();
    let seen_sync = tokio::task::spawn_blocking(move || {
        let d = s.dump().unwrap();
        assert_eq!(d.keys, ["from-async"]);
        s.get_ref().drop_namespace().unwrap();
        d.metrics
    })
    .await
    .unwrap();
    assert_eq!(seen_async, m(2, 1, 0, 0, 1));
    assert_eq!(seen_sync, seen_async);
}

#[tokio::test]
async fn single_sync_and_async_share_a_namespace() {
    let Some(url) = support::single() else { return };
    sync_and_async_share_a_namespace(url).await;
}

#[tokio::test]
async fn cluster_sync_and_async_share_a_namespace() {
    let Some(url) = support::cluster() else {
        return;
    };
    sync_and_async_share_a_namespace(url).await;
}

/// 64 tasks on one store (one multiplexed connection): each puts an entry and a one-shot token,
/// reads the token twice (a hit, then a miss) and the entry once; the counters are exact.
async fn sixty_four_tasks(url: String) {
    let ns = support::unique_ns("64-tasks");
    let store = Arc::new(AsyncTypedRedisStore::<u64>::new(
        AsyncRedisServer::connect(&url)
            .await
            .unwrap()
            .namespace(&ns),
    ));
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let once = PutOptions::new().with_max_reads(1);
                store
                    .put(format!("entry/{i}"), i, &PutOptions::new())
                    .await?;
                store.put(format!("token/{i}"), i * 10, &once).await?;
                let first = store.get(&format!("token/{i}")).await?;
                let second = store.get(&format!("token/{i}")).await?;
                let entry = store.get(&format!("entry/{i}")).await?;
                Ok::<_, RedisStoreError>((first, second, entry))
            })
        })
        .collect();
    for (i, t) in (0..64u64).zip(tasks) {
        let (first, second, entry) = t.await.unwrap().unwrap();
        assert_eq!(
            (first, second, entry),
            (Some(i * 10), None, Some(i)),
            "task {i}"
        );
    }
    assert_eq!(store.metrics().await.unwrap(), m(128, 64, 0, 0, 64));
    assert_eq!(store.keys().await.unwrap().len(), 64);
    store.get_ref().drop_namespace().await.unwrap();
}

#[tokio::test]
async fn single_sixty_four_tasks_share_one_store() {
    let Some(url) = support::single() else { return };
    sixty_four_tasks(url).await;
}

#[tokio::test]
async fn cluster_sixty_four_tasks_share_one_store() {
    let Some(url) = support::cluster() else {
        return;
    };
    sixty_four_tasks(url).await;
}

#[tokio::test]
async fn an_async_call_during_an_outage_errors_within_its_timeout_and_the_store_carries_on() {
    let Some(mut own) = OwnServer::start(&[]) else {
        return;
    };
    let timeout = Duration::from_millis(500);
    let store = AsyncRedisServer::builder(&own.url())
        .timeout(timeout)
        .connect_async()
        .await
        .unwrap()
        .namespace("outage");
    let store = AsyncTypedRedisStore::<String>::new(store);
    store
        .put("a".into(), "1".into(), &PutOptions::new())
        .await
        .unwrap();

    // A server that is gone: connection refused, at once or after the reconnect attempts.
    own.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let r = store.get(&"a".to_string()).await;
        assert_unavailable(r, start.elapsed(), within(timeout));
    }
    own.restart();
    // The same store, not reopened: the server kept nothing (no persistence) and answers again.
    assert_eq!(store.get(&"a".to_string()).await.unwrap(), None);
    store
        .put("a".into(), "2".into(), &PutOptions::new())
        .await
        .unwrap();
    assert_eq!(
        store.get(&"a".to_string()).await.unwrap().as_deref(),
        Some("2")
    );

    // A server that hangs (stopped): the connection stays open and nothing answers.
    own.signal("-STOP");
    let start = Instant::now();
    let r = store.get(&"a".to_string()).await;
    let took = start.elapsed();
    own.signal("-CONT");
    assert_unavailable(r, took, within(timeout));
    assert!(
        took >= timeout,
        "gave up after {took:?}, before the timeout"
    );
    // Resumed: the next calls succeed (retried briefly: the timed-out connection is replaced).
    let start = Instant::now();
    let value = loop {
        match store.get(&"a".to_string()).await {
            Ok(v) => break v,
            Err(e) => {
                assert!(start.elapsed() < within(timeout), "still failing: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(value.as_deref(), Some("2"));
}

/// Without the `tls` feature (with it, `tls.rs` connects for real).
#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn a_rediss_url_on_the_async_store_is_a_plain_error_that_hides_the_password() {
    for url in [
        "rediss://u:tls-pass-K2@127.0.0.1:1",
        "rediss+cluster://u:tls-pass-K2@127.0.0.1:1",
    ] {
        let err = AsyncRedisServer::connect(url).await.unwrap_err();
        assert!(matches!(err, RedisStoreError::Url { .. }), "{err:?}");
        assert!(err.to_string().contains("TLS"), "{err}");
        assert!(!format!("{err} {err:?}").contains("tls-pass-K2"), "{err:?}");
    }
}

/// The async store's pipelines load their script again after `SCRIPT FLUSH`, as the sync
/// store's do.
#[tokio::test]
async fn async_pipelined_calls_load_their_script_again_after_a_script_flush() {
    let Some(own) = OwnServer::start(&[]) else {
        return;
    };
    let server = AsyncRedisServer::connect(&own.url()).await.unwrap();
    let store = server.namespace("flush");
    let entries = [
        ("a".to_string(), b"1".to_vec()),
        ("b".to_string(), b"2".to_vec()),
    ];
    let keys = ["a".to_string(), "b".to_string()];
    store.put_many(&entries, &PutOptions::new()).await.unwrap();
    assert_eq!(
        support::query(own.port, "SCRIPT FLUSH").as_deref(),
        Some("+OK\r\n")
    );
    assert_eq!(
        store.get_many(&keys).await.unwrap(),
        [Some(b"1".to_vec()), Some(b"2".to_vec())]
    );
    assert_eq!(
        support::query(own.port, "SCRIPT FLUSH").as_deref(),
        Some("+OK\r\n")
    );
    store
        .put_many(&[("c".to_string(), b"3".to_vec())], &PutOptions::new())
        .await
        .unwrap();
    assert_eq!(
        store.get(&"c".to_string()).await.unwrap(),
        Some(b"3".to_vec())
    );
}
