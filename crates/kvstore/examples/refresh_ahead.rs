//! Caches a slow lookup with refresh-ahead: requests read the cached rate at once, and a rate
//! older than its refresh point is reloaded in the background, so no request after the first
//! waits for the slow service, and the cache never serves a rate much older than the period.
//!
//! ```text
//! cargo run -p kvstore --example refresh_ahead
//! ```
//!
//! The store runs no runtime of its own: its reloads are tasks it hands to this program's tokio
//! runtime (`Reloader::spawned`).
#![allow(
    clippy::disallowed_types,
    reason = "a user's program: its counters are std's"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kvstore::{RefreshingStore, Reloader, Store};
use tokio::time::sleep;

/// The slow service behind the cache: exchange rates 200 ms away, which move at every lookup.
#[derive(Clone, Default)]
struct Rates {
    lookups: Arc<AtomicU64>,
}

impl Rates {
    async fn lookup(&self, currency: String) -> Result<f64, String> {
        let n = self.lookups.fetch_add(1, Ordering::Relaxed);
        sleep(Duration::from_millis(200)).await;
        match currency.as_str() {
            "EUR" => Ok(1.0),
            "USD" => Ok(1.08 + n as f64 / 100.0),
            other => Err(format!("no rate for {other}")),
        }
    }

    fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rates = Rates::default();
    let runtime = tokio::runtime::Handle::current();
    let reloads = rates.clone();
    let cache: RefreshingStore<String, f64> = Store::builder()
        // Never serve a rate older than 10 minutes, even if reloads keep failing...
        .time_to_live(Duration::from_secs(600))
        // ...and reload one that was read a second or more after it was fetched.
        .refresh_after(
            Duration::from_secs(1),
            Reloader::spawned(
                move |currency: String| {
                    let rates = reloads.clone();
                    async move { rates.lookup(currency).await }
                },
                move |reload| {
                    runtime.spawn(reload);
                },
            ),
        )
        .build();

    // The first request waits for the lookup; the next ones are answered from the cache.
    let started = Instant::now();
    let usd = cache
        .try_get_or_insert_async("USD".into(), rates.lookup("USD".into()))
        .await
        .unwrap();
    println!("USD {usd:.2}, first request: {:?}", started.elapsed());
    for _ in 0..100 {
        assert_eq!(cache.get("USD"), Some(usd));
    }
    assert_eq!(rates.lookups(), 1);

    // A second later the rate is due: the read still returns at once, with the cached rate,
    // and starts one reload.
    sleep(Duration::from_millis(1_100)).await;
    let started = Instant::now();
    assert_eq!(cache.get("USD"), Some(usd));
    println!(
        "USD {usd:.2} past its refresh point, answered in {:?}",
        started.elapsed()
    );
    // The reload lands in the background; a later read sees it.
    while cache.load_metrics().refreshed == 0 {
        sleep(Duration::from_millis(10)).await;
    }
    let fresh = cache.get("USD").unwrap();
    println!("USD {fresh:.2} after the reload");
    assert_ne!(fresh, usd);

    let loads = cache.load_metrics();
    println!("store: {}", cache.metrics());
    println!("loads: {loads}");
    assert_eq!((loads.started, loads.succeeded, loads.refreshed), (2, 1, 1));
}
