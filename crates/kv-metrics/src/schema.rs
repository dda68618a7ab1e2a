//! The JSON Schemas of the wire records, generated from the record types so they cannot drift.
//! The committed copies live in `schemas/` at the repository root; `cargo xtask schemas` rewrites
//! them and a test fails when they differ from what this module generates.

use std::path::Path;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

use crate::artifact::{ArtifactError, write_text_atomically};
use crate::{DIAG_SCHEMA, DUMP_SCHEMA, DiagRecord, DumpRecord, METRICS_SCHEMA, MetricsRecord};

/// One generated schema: its name and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedSchema {
    /// The schema's name, such as `kv.metrics.v1`.
    pub name: &'static str,
    /// The schema as pretty-printed JSON (draft 2020-12) with a trailing newline.
    pub json: String,
}

impl GeneratedSchema {
    /// The file the schema is committed as: `kv.metrics.v1.schema.json`.
    pub fn file_name(&self) -> String {
        format!("{}.schema.json", self.name)
    }
}

/// Every record's schema, in a fixed order: `kv.metrics.v1`, `kv.dump.v1`, `diag.v1`.
pub fn schemas() -> Vec<GeneratedSchema> {
    vec![
        generate::<MetricsRecord>(METRICS_SCHEMA),
        generate::<DumpRecord>(DUMP_SCHEMA),
        generate::<DiagRecord>(DIAG_SCHEMA),
    ]
}

/// Writes every schema into `folder` (created if missing), one file each, atomically.
pub fn write_schemas(folder: &Path) -> Result<Vec<std::path::PathBuf>, ArtifactError> {
    schemas()
        .into_iter()
        .map(|s| {
            let path = folder.join(s.file_name());
            write_text_atomically(&path, s.json.as_bytes()).map(|()| path)
        })
        .collect()
}

fn generate<T: JsonSchema>(name: &'static str) -> GeneratedSchema {
    // Serialize-mode: the schema describes what the records write, not what a reader accepts.
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert(
        "$id".into(),
        format!("https://example.invalid/kvstore/schemas/{name}.schema.json").into(),
    );
    // Cannot fail: a schema is a JSON value with string keys.
    let mut json = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    json.push('\n');
    GeneratedSchema { name, json }
}
