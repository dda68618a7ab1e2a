//! The integration tests of kv-metrics, one binary (see style.md).

#[cfg(feature = "wire")]
mod artifact;
mod events;
#[cfg(feature = "metrics")]
mod export;
// The schema tests need the `schema` feature: `cargo xtask test` enables it.
#[cfg(feature = "schema")]
mod schemas;
#[cfg(feature = "schema")]
mod snapshots;
#[cfg(feature = "wire")]
mod wire;
