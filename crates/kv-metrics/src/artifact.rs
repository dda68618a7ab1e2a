//! Writing a record to a file so that a reader sees the old file or the whole new one, never half.
#![allow(
    clippy::disallowed_types,
    reason = "the temp-file counter is process-wide bookkeeping in a static, outside every loom model"
)]

use std::error::Error;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

// A process-wide counter in a static, outside every store and every loom model (loom atomics
// cannot live in statics), so it uses the standard atomic.
use std::sync::atomic::{AtomicU64, Ordering};

use crate::WireRecord;

/// Tells apart the temporary files of concurrent writes from one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// What went wrong writing an artifact, and where.
#[derive(Debug)]
pub struct ArtifactError {
    path: PathBuf,
    step: Step,
    source: io::Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    CreateFolder,
    Write,
    Replace,
}

impl ArtifactError {
    /// The file (or, when the folder could not be made, the folder) that could not be written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        let source = &self.source;
        match self.step {
            Step::CreateFolder => write!(
                f,
                "cannot create the artifact folder {path}: {source}; choose a writable output folder"
            ),
            Step::Write => write!(
                f,
                "cannot write the artifact {path}: {source}; check that its folder is writable and the disk is not full"
            ),
            Step::Replace => write!(
                f,
                "cannot put the artifact in place at {path}: {source}; check that the path is not a folder and is writable"
            ),
        }
    }
}

impl Error for ArtifactError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes `record` as one line of compact JSON to `path`, atomically: the line goes to a temporary
/// file in the same folder, which is then renamed over `path`. A reader sees either the previous
/// file or the complete new one. Missing folders are created.
///
/// The write is atomic for readers, not durable across a power cut (nothing is `fsync`ed):
/// artifacts are build output and can be made again.
///
/// ```
/// use kv_metrics::{MetricsRecord, Timestamp, write_artifact};
///
/// let out = std::env::temp_dir().join(format!("kv-metrics-doc-{}", std::process::id()));
/// let path = out.join("test/kv/metrics.json");
/// let record = MetricsRecord::new(&kv_core::Metrics::default(), Timestamp::now());
/// write_artifact(&path, &record)?;
/// assert!(std::fs::read_to_string(&path)?.ends_with("}\n"));
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_artifact<R: WireRecord>(
    path: impl AsRef<Path>,
    record: &R,
) -> Result<(), ArtifactError> {
    write_text_atomically(path.as_ref(), record.to_json_line().as_bytes())
}

/// Writes `contents` to `path` through a temporary file in the same folder and a rename.
pub(crate) fn write_text_atomically(path: &Path, contents: &[u8]) -> Result<(), ArtifactError> {
    let fail = |step, source| ArtifactError {
        path: path.to_path_buf(),
        step,
        source,
    };
    let Some(name) = path.file_name() else {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "the path names no file");
        return Err(fail(Step::Write, source));
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(folder).map_err(|source| ArtifactError {
        path: folder.to_path_buf(),
        step: Step::CreateFolder,
        source,
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = folder.join(temp_name);
    let written = fs::File::create_new(&temp).and_then(|mut file| file.write_all(contents));
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(fail(Step::Write, source));
    }
    if let Err(source) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(fail(Step::Replace, source));
    }
    Ok(())
}
