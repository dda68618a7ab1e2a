//! Caches a slow async lookup with `get_or_insert_async`: concurrent callers of one key share
//! one lookup, a caller that gives up (a timeout shorter than the lookup) does not stop the
//! others from filling the cache, and a failed lookup's error reaches every caller that waited
//! for it. The load counters say what happened.
//!
//! ```text
//! cargo run -p kvstore --example async_loader
//! ```
//!
//! The store needs no runtime of its own: tokio here only runs the tasks and the timers.
#![allow(
    clippy::disallowed_types,
    reason = "a user's program: its counter and the errors it gets are std's"
)]

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kvstore::Store;
use tokio::time::{sleep, timeout};

/// The slow service behind the cache: a user directory 200 ms away.
#[derive(Clone, Default)]
struct Directory {
    lookups: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct NoSuchUser(String);

impl fmt::Display for NoSuchUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no such user: {}", self.0)
    }
}

impl Error for NoSuchUser {}

impl Directory {
    async fn lookup(&self, user: &str) -> Result<String, NoSuchUser> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        sleep(Duration::from_millis(200)).await;
        if user.starts_with("ghost") {
            Err(NoSuchUser(user.to_string()))
        } else {
            Ok(format!("profile of {user}"))
        }
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }
}

/// What a request handler would do: the cached profile, or one lookup shared with every other
/// request for the same user.
async fn profile(
    cache: &Store<String, String>,
    directory: &Directory,
    user: &str,
) -> Result<String, Arc<NoSuchUser>> {
    cache
        .try_get_or_insert_async(user.to_string(), directory.lookup(user))
        .await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cache: Store<String, String> = Store::builder()
        .time_to_live(Duration::from_secs(300))
        .build();
    let directory = Directory::default();
    let spawn_request = |user: &'static str| {
        let (cache, directory) = (cache.clone(), directory.clone());
        tokio::spawn(async move { profile(&cache, &directory, user).await })
    };

    // 64 requests for one user at once: one lookup, every request answered when it ends.
    let started = Instant::now();
    let requests: Vec<_> = (0..64).map(|_| spawn_request("alice")).collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), "profile of alice");
    }
    println!(
        "64 requests for alice: {} lookup, {:?}",
        directory.lookups(),
        started.elapsed()
    );
    assert_eq!(directory.lookups(), 1);

    // The first request for bob gives up after 50 ms; the one waiting behind it takes the
    // lookup over, and the cache is filled all the same.
    let impatient = {
        let (cache, directory) = (cache.clone(), directory.clone());
        tokio::spawn(async move {
            timeout(
                Duration::from_millis(50),
                profile(&cache, &directory, "bob"),
            )
            .await
        })
    };
    tokio::task::yield_now().await; // the impatient request starts the lookup
    let patient = spawn_request("bob");
    assert!(impatient.await.unwrap().is_err(), "timed out");
    assert_eq!(patient.await.unwrap().unwrap(), "profile of bob");
    assert_eq!(cache.get("bob").as_deref(), Some("profile of bob"));
    println!("bob: the first request timed out, the cache holds his profile anyway");

    // A lookup that fails: every request waiting for it gets its error (one `Arc`), nothing
    // is cached, and the next request looks up again.
    let requests: Vec<_> = (0..8).map(|_| spawn_request("ghost-1")).collect();
    let mut errors = Vec::new();
    for request in requests {
        errors.push(request.await.unwrap().unwrap_err());
    }
    assert!(errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])));
    assert!(!cache.has("ghost-1"));
    println!(
        "8 requests for ghost-1: one lookup, one error for all: {}",
        errors[0]
    );

    let loads = cache.load_metrics();
    println!("store: {}", cache.metrics());
    println!("loads: {loads}");
    assert_eq!(
        directory.lookups(),
        4,
        "alice, bob (cancelled), bob again, ghost-1"
    );
    assert_eq!(
        (
            loads.started,
            loads.succeeded,
            loads.cancelled,
            loads.failed
        ),
        (4, 2, 1, 1)
    );
}
