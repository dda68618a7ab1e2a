//! What a hit through `get_or_insert_async` costs against a plain `get`, one thread: the same
//! keys read both ways, alternating rounds, the best round of each reported.
//!
//! ```text
//! cargo run --release -p kvstore --example async_hit_cost
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use kvstore::Store;

const KEYS: u64 = 10_000;
const READS: u64 = 2_000_000;
const ROUNDS: usize = 7;

/// Polls a future that is ready at once (a hit never waits).
fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("a hit does not wait"),
    }
}

fn ns_per_read(mut read: impl FnMut(u64) -> u64) -> f64 {
    let start = Instant::now();
    let mut sum = 0;
    for i in 0..READS {
        sum += read(i.wrapping_mul(0x9E37_79B9) % KEYS);
    }
    black_box(sum);
    start.elapsed().as_nanos() as f64 / READS as f64
}

fn main() {
    let store: Store<u64, u64> = Store::new();
    for k in 0..KEYS {
        store.put(k, k);
    }
    let probe = store.get_or_insert_async(0, async { 0 });
    println!("future: {} bytes", std::mem::size_of_val(&probe));
    drop(probe);
    let (mut get, mut load) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        get = get.min(ns_per_read(|k| store.get(&k).unwrap_or(0)));
        load = load.min(ns_per_read(|k| {
            now(store.get_or_insert_async(k, async { unreachable!("every key is live") }))
        }));
    }
    println!(
        "hit, u64 keys, 1 thread: get {get:.1} ns, get_or_insert_async {load:.1} ns ({:.2}x)",
        load / get
    );
}
