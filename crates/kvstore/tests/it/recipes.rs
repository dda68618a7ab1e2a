//! Programs a user writes from the crate docs alone, each the way the docs show it: a one-shot
//! token store, a session store with a store-wide idle timeout, a byte-bounded blob cache, a
//! loader shared by 8 threads, and a listener that closes what expires. If one of these needs a
//! workaround, the API or its docs are wrong.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use kvstore::{ManualClock, PutOptions, RemovalCause, Store};

#[test]
fn a_one_shot_token_store() {
    let _global = super::global_stores();
    let tokens = kvstore::namespace("recipes/tokens");
    tokens.put_with("tok-1", "user-42", &PutOptions::new().with_max_reads(1));
    // The value was a `&str`: asking for a `String` is refused and spends nothing.
    assert!(tokens.try_get::<String>("tok-1").is_err());
    let user = tokens.try_get::<&str>("tok-1").unwrap();
    assert_eq!(user.as_deref(), Some(&"user-42"));
    assert_eq!(tokens.try_get::<&str>("tok-1").unwrap(), None, "spent");
}

#[test]
fn a_session_store_with_a_store_wide_idle_timeout() {
    let clock = ManualClock::new();
    let sessions: Store<String, String> = Store::builder()
        .clock(clock.clone())
        .time_to_idle(Duration::from_secs(30 * 60))
        .build();
    sessions.put("sid-1".into(), "alice".into());
    for _ in 0..4 {
        clock.advance(Duration::from_secs(29 * 60));
        assert!(sessions.get("sid-1").is_some(), "each read slides it");
    }
    clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(sessions.get("sid-1"), None);
}

#[test]
fn a_byte_bounded_blob_cache() {
    let blobs: Store<String, Arc<Vec<u8>>> = Store::builder()
        .capacity(10_000)
        .weigher(|_, blob: &Arc<Vec<u8>>| blob.len() as u64)
        .build();
    for i in 0..100 {
        blobs.put(format!("blob-{i}"), Arc::new(vec![0; 1_000 + i]));
        assert!(blobs.weight() <= 10_000);
    }
    assert!(blobs.has("blob-99"));
    assert!(!blobs.has("blob-0"));
    assert_eq!(blobs.metrics().evictions as usize, 100 - blobs.len());
}

#[test]
fn a_loader_shared_by_8_threads_runs_once() {
    let config: Store<String, Arc<String>> = Store::new();
    let loads = AtomicUsize::new(0);
    let start = Barrier::new(8);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                start.wait();
                let value = config.get_or_insert_with("cfg".into(), || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(10));
                    Arc::new("loaded".into())
                });
                assert_eq!(*value, "loaded");
            });
        }
    });
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[test]
fn a_cleanup_listener_closes_what_expires() {
    struct Conn {
        open: Arc<AtomicUsize>,
    }
    impl Conn {
        fn close(&self) {
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let open = Arc::new(AtomicUsize::new(0));
    let closed_by = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&closed_by);
    let clock = ManualClock::new();
    let conns: Store<String, Arc<Conn>> = Store::builder()
        .clock(clock.clone())
        .capacity(2)
        .time_to_live(Duration::from_secs(60))
        .removal_listener(move |key, conn: Arc<Conn>, cause| {
            if cause.was_automatic() {
                conn.close();
                log.lock().unwrap().push((key, cause));
            }
        })
        .build();
    for peer in ["a", "b"] {
        open.fetch_add(1, Ordering::SeqCst);
        conns.put(
            peer.into(),
            Arc::new(Conn {
                open: Arc::clone(&open),
            }),
        );
    }
    clock.advance(Duration::from_secs(60));
    assert_eq!(conns.purge_expired(), 2);
    assert_eq!(open.load(Ordering::SeqCst), 0, "both closed");
    for peer in ["c", "d", "e"] {
        open.fetch_add(1, Ordering::SeqCst);
        conns.put(
            peer.into(),
            Arc::new(Conn {
                open: Arc::clone(&open),
            }),
        );
    }
    assert_eq!(open.load(Ordering::SeqCst), 2, "the evicted one was closed");
    let mut closed = closed_by.lock().unwrap().clone();
    closed[..2].sort_by(|x, y| x.0.cmp(&y.0)); // both expired at once: either order
    assert_eq!(
        closed,
        [
            ("a".to_string(), RemovalCause::Expired),
            ("b".to_string(), RemovalCause::Expired),
            ("c".to_string(), RemovalCause::Evicted)
        ]
    );
}
