//! The files a run leaves under `<out>/test/kv/`: per case `<file>_<case>.metrics.json` and
//! `<file>_<case>.dump.json`, and for the run `metrics.json` and `dump.json`. The records and the
//! atomic writer are `kv-metrics`'; this module only names the files, decides what goes in them,
//! and removes an earlier run's before a run starts.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use kv_metrics::{DumpRecord, MetricsRecord, Timestamp, write_artifact};
use kvstore::Metrics;

use crate::Error;
use crate::case::Snapshot;

/// Where the artifacts go: `<out>/test/kv`.
pub fn folder(out: &Path) -> PathBuf {
    out.join("test").join("kv")
}

/// Makes sure the artifact folder exists and can be written, before any case runs.
pub(crate) fn prepare(out: &Path) -> Result<(), Error> {
    let dir = folder(out);
    let fail = |e: std::io::Error| Error::Output {
        path: dir.clone(),
        message: format!(
            "cannot write artifacts to {}: {e} (choose a writable folder with --out DIR)",
            dir.display()
        ),
    };
    fs::create_dir_all(&dir).map_err(fail)?;
    let probe = dir.join(format!(".kv-harness-probe-{}", std::process::id()));
    fs::write(&probe, b"").map_err(fail)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// The per-case artifact paths `(metrics, dump)` of case `case` of the file with artifact stem
/// `stem`. Path separators in a case name become `_` too, so every artifact stays in the folder.
pub fn case_paths(out: &Path, stem: &str, case: &str) -> (PathBuf, PathBuf) {
    let base = format!("{stem}_{}", case.replace(['/', '\\'], "_"));
    let dir = folder(out);
    (
        dir.join(format!("{base}.metrics.json")),
        dir.join(format!("{base}.dump.json")),
    )
}

/// Writes a case's two artifacts, taken from its store as the case ended.
pub(crate) fn write_case(
    out: &Path,
    stem: &str,
    case: &str,
    snapshot: &Snapshot,
) -> Result<(), Error> {
    let (metrics_path, dump_path) = case_paths(out, stem, case);
    let now = Timestamp::now();
    write(&metrics_path, &MetricsRecord::new(&snapshot.metrics, now))?;
    write(&dump_path, &DumpRecord::new(&snapshot.keys, now))
}

/// Whether `name` is one the harness gives its artifacts (`metrics.json`, `dump.json`,
/// `*.metrics.json`, `*.dump.json`), or its write probe.
pub fn is_artifact_name(name: &str) -> bool {
    name == "metrics.json"
        || name == "dump.json"
        || name.ends_with(".metrics.json")
        || name.ends_with(".dump.json")
        || name.starts_with(".kv-harness-probe-")
}

/// Removes what an earlier run left under `<out>/test/kv/`: every file with an artifact's name
/// ([`is_artifact_name`]); nothing else (other files, folders) is touched. A missing folder is
/// fine.
pub(crate) fn remove_stale(out: &Path) -> Result<(), Error> {
    let dir = folder(out);
    let fail = |path: &Path, e: std::io::Error| Error::Output {
        path: path.to_path_buf(),
        message: format!(
            "cannot remove the earlier run's artifact {}: {e} (remove it, or choose another folder with --out DIR)",
            path.display()
        ),
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // A build folder that is a file, say: `prepare` reports it if artifacts are due.
        Err(_) => return Ok(()),
    };
    for entry in entries.flatten() {
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && is_artifact_name(&entry.file_name().to_string_lossy()) {
            let path = entry.path();
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(&path, e)),
            }
        }
    }
    Ok(())
}

/// The run as a whole: counters summed over every case's store, and every key live at the end of
/// its case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Counters and `current_size` summed over the cases' stores at their ends.
    pub metrics: Metrics,
    /// Every key live at the end of its case, each once, in order; collected only when the run
    /// writes the process-level dump (empty otherwise).
    pub keys: BTreeSet<String>,
}

impl Totals {
    /// Adds a case's store; its keys only when `keys` (the dump is due). Each key costs one
    /// ordered-set insert, so a run stays linear in its cases.
    pub(crate) fn add(&mut self, snapshot: &Snapshot, keys: bool) {
        self.metrics = self.metrics + snapshot.metrics;
        if keys {
            self.keys.extend(snapshot.keys.iter().cloned());
        }
    }
}

/// Writes the process-level `metrics.json` and/or `dump.json`.
pub(crate) fn write_run(
    out: &Path,
    totals: &Totals,
    metrics: bool,
    dump: bool,
) -> Result<(), Error> {
    let now = Timestamp::now();
    let dir = folder(out);
    if metrics {
        write(
            &dir.join("metrics.json"),
            &MetricsRecord::new(&totals.metrics, now),
        )?;
    }
    if dump {
        write(&dir.join("dump.json"), &DumpRecord::new(&totals.keys, now))?;
    }
    Ok(())
}

fn write<R: kv_metrics::WireRecord>(path: &Path, record: &R) -> Result<(), Error> {
    write_artifact(path, record).map_err(|e| Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
