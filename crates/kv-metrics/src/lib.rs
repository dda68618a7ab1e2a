//! The wire forms of a store's counters and contents (`kv.metrics.v1`, `kv.dump.v1`, and the
//! `diag.v1` records `KV_METRICS` and `KV_DUMP`), their JSON Schemas, writing them as artifact
//! files that a reader never sees half-written, and live event subscriptions.
//!
//! - [`MetricsRecord`], [`DumpRecord`], [`DiagRecord`]: serialize-only records, written as one
//!   compact JSON line with sorted keys by `to_json_line()`; [`write_artifact`] puts one in a file.
//!   `schemas()` (feature `schema`) generates their JSON Schemas (committed under `schemas/`; see
//!   `docs/artifacts.md`).
//! - [`EventHub`]: a store's listener handing out bounded [`Subscription`]s.
//!
//! Features, so a store that only wants events compiles no serde and no proc macro:
//! - `wire` (default): the records, `Timestamp` and `write_artifact` (serde, serde_json).
//! - `schema`: the records' JSON Schemas (`schemas()`, schemars); only `cargo xtask schemas` and
//!   the schema tests need it.
//! - `metrics`: the `export` module publishes the counters through the `metrics` facade crate, so
//!   Prometheus and other exporters pick them up.
//!
//! # Reading a snapshot and writing both artifacts (feature `wire`)
//!
//! ```
//! use kv_metrics::{DumpRecord, MetricsRecord, Timestamp, write_artifact};
//!
//! let store: kv_core::Store<String, u64> = kv_core::Store::new();
//! store.put("b".into(), 2);
//! store.put("a".into(), 1);
//! let _ = store.get("a");
//!
//! // Reading a snapshot: the counters, and the record of them at this instant.
//! let now = Timestamp::now();
//! let metrics = MetricsRecord::new(&store.metrics(), now);
//! assert_eq!(metrics.metrics().hits, 1);
//! println!("{metrics}"); // 2025-09-29T19:50:12.345Z hits=1 misses=0 ... hit_ratio=1.000
//!
//! // Writing both artifacts.
//! let dump = DumpRecord::new(store.keys(), now);
//! assert_eq!(dump.keys(), ["a", "b"]);
//! let out = std::env::temp_dir().join(format!("kv-metrics-crate-doc-{}", std::process::id()));
//! write_artifact(out.join("metrics.json"), &metrics)?;
//! write_artifact(out.join("dump.json"), &dump)?;
//! # std::fs::remove_dir_all(&out)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Watching a store
//!
//! ```
//! use kv_core::{EventKind, StoreBuilder};
//! use kv_metrics::{EventHub, Subscribe};
//!
//! let store = StoreBuilder::<String, u32>::new().listener(EventHub::new("jobs")).build();
//! let events = store.subscribe_with_buffer(256);
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         store.put("job-1".into(), 1);
//!         store.del("job-1");
//!     });
//! });
//! let kinds: Vec<EventKind> = events.try_iter().map(|e| e.kind).collect();
//! assert_eq!(kinds, [EventKind::Inserted, EventKind::Removed]);
//! assert_eq!(events.missed(), 0); // nothing lost: the buffer never filled
//! ```

#[cfg(feature = "wire")]
mod artifact;
mod event;
#[cfg(feature = "metrics")]
pub mod export;
mod hub;
#[cfg(feature = "schema")]
mod schema;
#[cfg(feature = "wire")]
mod timestamp;
#[cfg(feature = "wire")]
mod wire;

#[cfg(feature = "wire")]
pub use artifact::{ArtifactError, write_artifact};
pub use event::{Event, EventKind};
#[cfg(feature = "metrics")]
pub use export::{describe as describe_metrics, publish, publish_loads};
pub use hub::{DEFAULT_BUFFER, EventHub, RecvTimeoutError, Subscribe, Subscription, TryRecvError};
#[cfg(feature = "schema")]
pub use schema::{GeneratedSchema, schemas, write_schemas};
#[cfg(feature = "wire")]
pub use timestamp::{TIMESTAMP_PATTERN, Timestamp};
#[cfg(feature = "wire")]
pub use wire::{
    CaseRef, DIAG_SCHEMA, DUMP_SCHEMA, DiagRecord, DiagSchemaName, DumpRecord, DumpSchemaName,
    InfoLevel, KvDumpCode, KvDumpData, KvDumpDiag, KvMetricsCode, KvMetricsData, KvMetricsDiag,
    METRICS_SCHEMA, MetricsRecord, MetricsSchemaName, WireRecord, key_text,
};
