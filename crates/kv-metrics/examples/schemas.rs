//! Writes the JSON Schemas of the wire records into a folder (default: `schemas/` at the
//! repository root). `cargo xtask schemas` runs this.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let folder = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas"),
        PathBuf::from,
    );
    match kv_metrics::write_schemas(&folder) {
        Ok(paths) => {
            for p in paths {
                println!("wrote {}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("schemas: {e}");
            ExitCode::FAILURE
        }
    }
}
