//! Which files a run reads, and the names they go by: a directory argument is searched
//! recursively for `*_test.kv` and `*_test.ami` files in sorted path order; a file argument is run
//! whatever its name. Reading checks the text is UTF-8.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::FileError;

/// A case file found for a run, with the names it goes by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The path to read, as the user can reach it (`examples/cases/ttl_test.kv`).
    pub path: PathBuf,
    /// The file relative to the directory argument, `/`-separated, or its file name for a file
    /// argument (`ttl_test.kv`): what the JSON stream and artifacts call it.
    pub name: String,
}

impl Source {
    /// The `<file>` part of artifact names: [`name`](Self::name) with every path separator
    /// replaced by `_`, extension kept (`sub_kv_test.ami`).
    pub fn artifact_stem(&self) -> String {
        self.name.replace(['/', '\\'], "_")
    }
}

/// Whether a file name is one a directory search picks up.
pub fn is_case_file_name(name: &str) -> bool {
    name.ends_with("_test.kv") || name.ends_with("_test.ami")
}

/// The case files named by `paths`, in argument order, each directory's files in sorted path
/// order, each file once. Paths that do not exist or cannot be listed are reported, all of them.
pub fn discover(paths: &[PathBuf]) -> (Vec<Source>, Vec<FileError>) {
    let mut found: Vec<Source> = Vec::new();
    let mut errors = Vec::new();
    for arg in paths {
        let meta = match fs::metadata(arg) {
            Ok(m) => m,
            Err(e) => {
                errors.push(FileError::whole(arg, io_message(&e, "file or folder")));
                continue;
            }
        };
        if meta.is_dir() {
            let mut files = Vec::new();
            if let Err((dir, e)) = walk(arg, &mut files) {
                errors.push(FileError::whole(&dir, io_message(&e, "folder")));
            }
            files.sort();
            for path in files {
                let rel = path.strip_prefix(arg).unwrap_or(&path);
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                push_once(&mut found, Source { path, name });
            }
        } else {
            let name = arg.file_name().map_or_else(
                || arg.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            push_once(
                &mut found,
                Source {
                    path: arg.clone(),
                    name,
                },
            );
        }
    }
    (found, errors)
}

fn push_once(found: &mut Vec<Source>, source: Source) {
    if !found.iter().any(|s| s.path == source.path) {
        found.push(source);
    }
}

/// Collects case files under `dir`. Skips `target` folders and hidden folders (build output and
/// tool state hold no cases), and does not follow symbolic links to folders (no cycles).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), (PathBuf, io::Error)> {
    let entries = fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| (dir.to_path_buf(), e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if name != "target" && !name.starts_with('.') {
                walk(&path, out)?;
            }
        } else if is_case_file_name(&name) {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads a case file as UTF-8 text; a byte that is not UTF-8 is reported at its line and column.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    let bytes = fs::read(path).map_err(|e| FileError::whole(path, io_message(&e, "file")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let bad = e.utf8_error().valid_up_to();
        // Everything before `bad` is valid UTF-8, so it can be counted in characters.
        let before = std::str::from_utf8(&bytes[..bad]).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        FileError::at(
            path,
            line,
            column,
            format!(
                "not UTF-8 text: byte 0x{:02X} cannot start a character (save the file as UTF-8)",
                bytes[bad]
            ),
        )
    })?;
    // A byte-order mark (some Windows editors write one) is not part of the first line.
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

fn io_message(e: &io::Error, what: &str) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("no such {what} (check the path)"),
        io::ErrorKind::PermissionDenied => format!("permission denied reading this {what}"),
        _ => format!("cannot read this {what}: {e}"),
    }
}
