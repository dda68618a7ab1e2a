//! One-shot tokens on Redis, shared by every process that runs this: the first run (or any other
//! process) issues a token, the next read consumes it.
//!
//! ```text
//! cargo run -p kv-redis --example tokens -- redis://127.0.0.1:6379 [NAMESPACE]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use kv_redis::{RedisStoreError, TypedRedisStore};
use kvstore::{Backend, PutOptions};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next().or_else(|| std::env::var("KV_REDIS_URL").ok()) else {
        eprintln!("usage: tokens REDIS_URL [NAMESPACE] (or set KV_REDIS_URL)");
        return ExitCode::from(2);
    };
    let ns = args.next().unwrap_or_else(|| "examples/tokens".into());
    match run(&url, &ns) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokens: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str, ns: &str) -> Result<(), RedisStoreError> {
    let tokens = TypedRedisStore::<String>::open(url, ns)?;
    let one_shot = PutOptions::new()
        .with_ttl(Duration::from_secs(300))
        .with_max_reads(1);
    tokens.put("tok-1".into(), "user-42".into(), &one_shot)?;
    println!("issued tok-1 in namespace {ns:?}");
    println!("first read:  {:?}", tokens.get(&"tok-1".into())?);
    println!("second read: {:?}", tokens.get(&"tok-1".into())?);
    println!("{}", tokens.metrics()?);
    Ok(())
}
