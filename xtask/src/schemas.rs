//! `cargo xtask schemas`: regenerates the committed JSON Schemas in `schemas/` from the wire
//! types of `kv-metrics` (by running its `schemas` example, so xtask needs no dependency).

use super::{Result, cargo, root, run};

/// Rewrites `schemas/*.schema.json`. Commit the result; a kv-metrics test fails while the
/// committed files differ from what the code generates.
pub fn schemas() -> Result {
    let folder = root().join("schemas");
    run(
        "generate JSON Schemas (kv-metrics)",
        cargo()
            .args([
                "run",
                "--quiet",
                "-p",
                "kv-metrics",
                "--features",
                "schema",
                "--example",
                "schemas",
                "--",
            ])
            .arg(&folder),
    )
}
