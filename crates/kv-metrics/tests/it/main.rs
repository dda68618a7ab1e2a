//! The integration tests of kv-metrics, one binary (see style.md).

mod artifact;
mod events;
#[cfg(feature = "metrics")]
mod export;
mod schemas;
mod snapshots;
mod wire;
