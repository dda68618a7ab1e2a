//! The integration tests of kv-metrics, one binary (see style.md).

mod artifact;
mod wire;
