//! The integration tests of kv-metrics, one binary (see style.md).

mod artifact;
mod events;
mod schemas;
mod snapshots;
mod wire;
