//! The wire forms: serialize-only records, separate from the in-memory [`Metrics`], written as
//! compact JSON lines whose object keys are sorted (diag.v1 keeps its fixed field order).
//!
//! Field order below *is* the key order on the wire: `serde_json` writes struct fields in
//! declaration order, so every struct declares its fields sorted (diag.v1 in its fixed order).

use std::borrow::Cow;
use std::fmt;

use kv_core::Metrics;
#[cfg(feature = "schema")]
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

use crate::Timestamp;

/// The schema name of a counters record.
pub const METRICS_SCHEMA: &str = "kv.metrics.v1";
/// The schema name of a keys record.
pub const DUMP_SCHEMA: &str = "kv.dump.v1";
/// The schema name of a diagnostic record.
pub const DIAG_SCHEMA: &str = "diag.v1";

/// A record with a versioned wire form.
pub trait WireRecord: Serialize {
    /// The schema the record follows, such as `kv.metrics.v1`.
    const SCHEMA: &'static str;

    /// The record as one line of compact JSON, with its trailing newline.
    fn to_json_line(&self) -> String {
        // Cannot fail: every map key is a string and no field has a failing `Serialize`.
        let mut line = serde_json::to_string(self).expect("wire records always serialize");
        line.push('\n');
        line
    }
}

/// Declares a zero-sized field that always writes the same string, and says so in the schema
/// (`"const"`), so a reader can tell records apart by it.
macro_rules! constant_field {
    ($(#[$doc:meta])* $name:ident = $value:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name;

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($value)
            }
        }

        #[cfg(feature = "schema")]
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "const": $value })
            }
        }
    };
}

constant_field!(
    /// Writes `"kv.metrics.v1"`.
    MetricsSchemaName = METRICS_SCHEMA
);
constant_field!(
    /// Writes `"kv.dump.v1"`.
    DumpSchemaName = DUMP_SCHEMA
);
constant_field!(
    /// Writes `"diag.v1"`.
    DiagSchemaName = DIAG_SCHEMA
);
constant_field!(
    /// Writes `"info"`: the KV records are informational.
    InfoLevel = "info"
);
constant_field!(
    /// Writes `"KV_METRICS"`.
    KvMetricsCode = "KV_METRICS"
);
constant_field!(
    /// Writes `"KV_DUMP"`.
    KvDumpCode = "KV_DUMP"
);

/// A store's counters at one instant: `kv.metrics.v1`.
///
/// ```
/// use kv_metrics::{MetricsRecord, Timestamp};
///
/// let metrics = kv_core::Metrics { hits: 2, current_size: 2, ..Default::default() };
/// let record = MetricsRecord::new(&metrics, Timestamp::from_unix_millis(1_759_175_412_345));
/// assert_eq!(
///     record.to_json_line(),
///     r#"{"currentSize":2,"evictions":0,"expirations":0,"hits":2,"misses":0,"schema":"kv.metrics.v1","timestamp":"2025-09-29T19:50:12.345Z"}"#.to_owned() + "\n",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(
    feature = "schema",
    schemars(
        title = "kv.metrics.v1",
        description = "A store's counters at one instant.",
        deny_unknown_fields
    )
)]
pub struct MetricsRecord {
    /// Entries held in memory when the record was taken (expired ones not yet reclaimed included).
    current_size: u64,
    /// Live entries removed to respect the capacity.
    evictions: u64,
    /// Expired entries reclaimed, each counted once.
    expirations: u64,
    /// Successful reads.
    hits: u64,
    /// Reads that found nothing live.
    misses: u64,
    /// Always `kv.metrics.v1`.
    schema: MetricsSchemaName,
    /// When the record was taken.
    timestamp: Timestamp,
}

impl MetricsRecord {
    /// The record of `metrics` taken at `timestamp`.
    pub fn new(metrics: &Metrics, timestamp: Timestamp) -> Self {
        Self {
            current_size: metrics.current_size,
            evictions: metrics.evictions,
            expirations: metrics.expirations,
            hits: metrics.hits,
            misses: metrics.misses,
            schema: MetricsSchemaName,
            timestamp,
        }
    }

    /// The counters the record carries.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            hits: self.hits,
            misses: self.misses,
            expirations: self.expirations,
            evictions: self.evictions,
            current_size: self.current_size,
        }
    }

    /// When the record was taken.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The record as one line of compact JSON, with its trailing newline.
    pub fn to_json_line(&self) -> String {
        WireRecord::to_json_line(self)
    }
}

impl WireRecord for MetricsRecord {
    const SCHEMA: &'static str = METRICS_SCHEMA;
}

impl fmt::Display for MetricsRecord {
    /// One log line: `2025-09-29T19:50:12.345Z hits=2 misses=0 expirations=0 evictions=0
    /// current_size=2 hit_ratio=1.000` (the ratio is `-` before the first read).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metrics = self.metrics();
        write!(f, "{} {metrics} hit_ratio=", self.timestamp)?;
        match metrics.hit_ratio() {
            Some(r) => write!(f, "{r:.3}"),
            None => f.write_str("-"),
        }
    }
}

/// A store's live keys at one instant: `kv.dump.v1`. Keys are sorted, without repeats, and `[]`
/// when there are none; `size` is their number.
///
/// ```
/// use kv_metrics::{DumpRecord, Timestamp};
///
/// let record = DumpRecord::new(["b", "a"], Timestamp::from_unix_millis(0));
/// assert_eq!(
///     record.to_json_line(),
///     "{\"keys\":[\"a\",\"b\"],\"schema\":\"kv.dump.v1\",\"size\":2,\"timestamp\":\"1970-01-01T00:00:00.000Z\"}\n",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        title = "kv.dump.v1",
        description = "A store's live keys at one instant.",
        deny_unknown_fields
    )
)]
pub struct DumpRecord {
    /// The live keys, sorted by their UTF-8 bytes, each once.
    #[cfg_attr(feature = "schema", schemars(extend("uniqueItems" = true)))]
    keys: Vec<String>,
    /// Always `kv.dump.v1`.
    schema: DumpSchemaName,
    /// The number of keys.
    size: u64,
    /// When the record was taken.
    timestamp: Timestamp,
}

impl DumpRecord {
    /// The record of `keys` (in any order, repeats allowed) taken at `timestamp`. Keys that are
    /// not valid UTF-8 are written as described at [`key_text`].
    pub fn new<I>(keys: I, timestamp: Timestamp) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys = sorted_key_texts(keys);
        Self {
            size: keys.len() as u64,
            keys,
            schema: DumpSchemaName,
            timestamp,
        }
    }

    /// The keys, sorted, as written.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// When the record was taken.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The record as one line of compact JSON, with its trailing newline.
    pub fn to_json_line(&self) -> String {
        WireRecord::to_json_line(self)
    }
}

impl WireRecord for DumpRecord {
    const SCHEMA: &'static str = DUMP_SCHEMA;
}

/// Which case of which file, in which namespace, a diagnostic record reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CaseRef<'a> {
    /// The case file, as the harness names it (`rt_kv_events_test.ami`).
    pub file: &'a str,
    /// The case's name.
    pub case: &'a str,
    /// The store's namespace; `""` for the default store.
    pub ns: &'a str,
}

/// The `data` of a `KV_METRICS` diagnostic: a case's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct KvMetricsData {
    /// The case's name.
    case: String,
    /// Entries held in memory when the case ended.
    current_size: u64,
    /// Live entries removed to respect the capacity.
    evictions: u64,
    /// Expired entries reclaimed.
    expirations: u64,
    /// Successful reads.
    hits: u64,
    /// Reads that found nothing live.
    misses: u64,
    /// The store's namespace; `""` for the default store.
    ns: String,
}

/// The `data` of a `KV_DUMP` diagnostic: a case's live keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct KvDumpData {
    /// The case's name.
    case: String,
    /// The live keys, sorted, each once.
    #[cfg_attr(feature = "schema", schemars(extend("uniqueItems" = true)))]
    keys: Vec<String>,
    /// The store's namespace; `""` for the default store.
    ns: String,
    /// The number of keys.
    size: u64,
}

/// A `diag.v1` record with code `KV_METRICS`. Fields stay in diag.v1's fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct KvMetricsDiag {
    /// Always `diag.v1`.
    schema: DiagSchemaName,
    /// When the record was taken.
    timestamp: Timestamp,
    /// Always `info`.
    level: InfoLevel,
    /// Always `KV_METRICS`.
    code: KvMetricsCode,
    /// Always `kv metrics`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "kv metrics")))]
    message: &'static str,
    /// The case file.
    file: String,
    /// The case's counters.
    data: KvMetricsData,
}

/// A `diag.v1` record with code `KV_DUMP`. Fields stay in diag.v1's fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct KvDumpDiag {
    /// Always `diag.v1`.
    schema: DiagSchemaName,
    /// When the record was taken.
    timestamp: Timestamp,
    /// Always `info`.
    level: InfoLevel,
    /// Always `KV_DUMP`.
    code: KvDumpCode,
    /// Always `kv dump`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "kv dump")))]
    message: &'static str,
    /// The case file.
    file: String,
    /// The case's live keys.
    data: KvDumpData,
}

/// A `diag.v1` record of the `--kv-events` stream: a case's counters or its keys.
///
/// ```
/// use kv_metrics::{CaseRef, DiagRecord, Timestamp};
///
/// let case = CaseRef { file: "rt_kv_events_test.ami", case: "c1", ns: "p1/n1" };
/// let metrics = kv_core::Metrics { hits: 1, current_size: 1, ..Default::default() };
/// let line = DiagRecord::kv_metrics(case, &metrics, Timestamp::from_unix_millis(0)).to_json_line();
/// assert!(line.starts_with(r#"{"schema":"diag.v1","timestamp":"1970-01-01T00:00:00.000Z","level":"info","code":"KV_METRICS""#));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(untagged)]
#[cfg_attr(
    feature = "schema",
    schemars(
        title = "diag.v1",
        description = "A diagnostic record of the kv-harness --kv-events stream: KV_METRICS or KV_DUMP, told apart by `code`."
    )
)]
pub enum DiagRecord {
    /// A case's counters.
    KvMetrics(KvMetricsDiag),
    /// A case's live keys.
    KvDump(KvDumpDiag),
}

impl DiagRecord {
    /// The `KV_METRICS` record of `case`'s counters, taken at `timestamp`.
    pub fn kv_metrics(case: CaseRef<'_>, metrics: &Metrics, timestamp: Timestamp) -> Self {
        Self::KvMetrics(KvMetricsDiag {
            schema: DiagSchemaName,
            timestamp,
            level: InfoLevel,
            code: KvMetricsCode,
            message: "kv metrics",
            file: case.file.to_owned(),
            data: KvMetricsData {
                case: case.case.to_owned(),
                current_size: metrics.current_size,
                evictions: metrics.evictions,
                expirations: metrics.expirations,
                hits: metrics.hits,
                misses: metrics.misses,
                ns: case.ns.to_owned(),
            },
        })
    }

    /// The `KV_DUMP` record of `case`'s live `keys` (any order, repeats allowed), taken at
    /// `timestamp`.
    pub fn kv_dump<I>(case: CaseRef<'_>, keys: I, timestamp: Timestamp) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys = sorted_key_texts(keys);
        Self::KvDump(KvDumpDiag {
            schema: DiagSchemaName,
            timestamp,
            level: InfoLevel,
            code: KvDumpCode,
            message: "kv dump",
            file: case.file.to_owned(),
            data: KvDumpData {
                case: case.case.to_owned(),
                size: keys.len() as u64,
                keys,
                ns: case.ns.to_owned(),
            },
        })
    }

    /// When the record was taken.
    pub fn timestamp(&self) -> Timestamp {
        match self {
            Self::KvMetrics(r) => r.timestamp,
            Self::KvDump(r) => r.timestamp,
        }
    }

    /// The record as one line of compact JSON, with its trailing newline.
    pub fn to_json_line(&self) -> String {
        WireRecord::to_json_line(self)
    }
}

impl WireRecord for DiagRecord {
    const SCHEMA: &'static str = DIAG_SCHEMA;
}

/// How a key is written on the wire. Valid UTF-8 is kept as it is (JSON escaping of quotes,
/// backslashes and control characters happens when the record is written). Each byte that is not
/// part of valid UTF-8 becomes the four characters `\xNN` (upper-case hex), so no key is lost or
/// merged with another, except with a UTF-8 key that spells such an escape literally.
///
/// ```
/// assert_eq!(kv_metrics::key_text(b"tok\n1"), "tok\n1");
/// assert_eq!(kv_metrics::key_text(b"caf\xC3\xA9"), "caf\u{e9}");
/// assert_eq!(kv_metrics::key_text(b"bad\xFF"), "bad\\xFF");
/// ```
pub fn key_text(key: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(key) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(key.len() + 8);
    for chunk in key.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    Cow::Owned(out)
}

/// The keys as wire text, sorted by their bytes, each once.
fn sorted_key_texts<I>(keys: I) -> Vec<String>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut texts: Vec<String> = keys
        .into_iter()
        .map(|k| key_text(k.as_ref()).into_owned())
        .collect();
    texts.sort_unstable();
    texts.dedup();
    texts
}
