//! kv-redis against real servers: the contract on both backends (`contract`), and what only a
//! remote store has: isolation of hostile names, credentials, dead servers, several processes;
//! with the `tokio` feature, the async stores' own tests (`async_only`); with `tls` and `tokio`,
//! TLS on a server the test starts with certificates it makes (`tls`).

#[cfg(feature = "tokio")]
mod async_only;
mod contract;
#[cfg(feature = "tokio")]
mod failover;
mod near;
mod redis_only;
mod support;
#[cfg(all(feature = "tls", feature = "tokio"))]
mod tls;
