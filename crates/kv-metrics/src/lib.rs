//! The wire forms of a store's counters and contents (`kv.metrics.v1`, `kv.dump.v1`, `diag.v1`),
//! their JSON Schemas, and live event subscriptions. (Being built: see issue 3.)
