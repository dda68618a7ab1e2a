//! A short tour of the store: run with `cargo run -p kvstore --example tour`.

use std::time::Duration;

use kvstore::{ManualClock, PutOptions, Store};

fn main() {
    // The global stores: a default one and one per namespace, holding values of any type.
    kvstore::put("greeting", "hello".to_string());
    println!(
        "default store greeting = {:?}",
        kvstore::get::<String>("greeting")
    );

    let node = kvstore::namespace("pipeline/node");
    node.set_capacity(2);
    for (k, v) in [("a", 1_u32), ("b", 2), ("c", 3)] {
        node.put(k, v);
    }
    println!("capped node keeps {:?} ({})", node.keys(), node.metrics());

    // One-shot tokens.
    let once = PutOptions::new().with_max_reads(1);
    node.put_with("token", "t-1".to_string(), &once);
    println!(
        "token read twice: {:?}, {:?}",
        node.get::<String>("token"),
        node.get::<String>("token")
    );

    // A typed store on a manual clock: sliding TTL keeps a session alive while it is read.
    let clock = ManualClock::new();
    let sessions: Store<String, String> = Store::builder().clock(clock.clone()).build();
    let idle = PutOptions::new()
        .with_ttl(Duration::from_secs(5))
        .with_sliding_ttl();
    sessions.put_with("sid".into(), "alice".into(), &idle);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(4));
        println!(
            "t={:?} session = {:?}",
            clock.elapsed(),
            sessions.get("sid")
        );
    }
    clock.advance(Duration::from_secs(5));
    println!(
        "t={:?} session = {:?}",
        clock.elapsed(),
        sessions.get("sid")
    );
    println!("sessions: {}", sessions.metrics());
}
