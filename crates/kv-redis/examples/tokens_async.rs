//! One-shot tokens on Redis from a tokio program: 64 tasks share one store (one multiplexed,
//! reconnecting connection); each issues a token and consumes it, and a second read of it misses.
//! The counters are the namespace's on the server, the same a sync process on it sees.
//!
//! ```text
//! cargo run -p kv-redis --features tokio --example tokens_async -- redis://127.0.0.1:6379 [NAMESPACE]
//! cargo run -p kv-redis --features tokio --example tokens_async -- 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001?timeout=2s'
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use kv_core::AsyncBackend;
use kv_redis::{AsyncRedisServer, AsyncTypedRedisStore, RedisStoreError};
use kv_ttl::PutOptions;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next().or_else(|| std::env::var("KV_REDIS_URL").ok()) else {
        eprintln!("usage: tokens_async REDIS_URL [NAMESPACE] (or set KV_REDIS_URL)");
        return ExitCode::from(2);
    };
    let ns = args
        .next()
        .unwrap_or_else(|| "examples/tokens-async".into());
    match run(&url, &ns).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokens_async: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, ns: &str) -> Result<(), RedisStoreError> {
    // Connect once at start-up (timeouts from the URL's `?timeout=`, 5 s by default); the server
    // handle and the store are cheap to clone into tasks.
    let server = AsyncRedisServer::connect(url).await?;
    let tokens = Arc::new(AsyncTypedRedisStore::<String>::new(server.namespace(ns)));
    let one_shot = PutOptions::new()
        .with_ttl(Duration::from_secs(300))
        .with_max_reads(1);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let tokens = Arc::clone(&tokens);
            tokio::spawn(async move {
                let token = format!("tok-{i}");
                tokens
                    .put(token.clone(), format!("user-{i}"), &one_shot)
                    .await?;
                let first = tokens.get(&token).await?;
                let second = tokens.get(&token).await?; // one-shot: gone
                Ok::<_, RedisStoreError>(first.is_some() && second.is_none())
            })
        })
        .collect();
    let mut consumed = 0;
    for task in tasks {
        match task.await {
            Ok(result) => consumed += usize::from(result?),
            Err(e) => eprintln!("a task failed: {e}"),
        }
    }
    println!("64 tasks: {consumed} tokens issued and consumed once in namespace {ns:?}");
    println!("{}", tokens.metrics().await?);
    Ok(())
}
