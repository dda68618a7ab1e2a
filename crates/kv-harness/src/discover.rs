//! Which files a run reads, and the names they go by: a directory argument is searched
//! recursively for `*_test.kv` and `*_test.ami` files in sorted path order (not entering `target`,
//! hidden and `fixtures` folders); a file argument is run whatever its name. Reading checks the
//! text is UTF-8.

use std::collections::HashSet;
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

/// What a search of the run's paths found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The case files, in argument order, each folder's files in sorted path order, each once.
    pub sources: Vec<Source>,
    /// Paths that do not exist or cannot be listed, all of them.
    pub errors: Vec<FileError>,
    /// Files a folder search passed over although they look like case files (`.kv` or `.ami`
    /// whose names do not end in `_test.kv` / `_test.ami`).
    pub misnamed: Vec<PathBuf>,
    /// `fixtures` folders a search did not enter.
    pub skipped_folders: Vec<PathBuf>,
}

/// The case files named by `paths`, in argument order, each directory's files in sorted path
/// order, each file once; with every path that could not be used and what a search passed over.
pub fn discover(paths: &[PathBuf]) -> Discovery {
    let mut found = Discovery::default();
    let mut seen = HashSet::new();
    for arg in paths {
        let meta = match fs::metadata(arg) {
            Ok(m) => m,
            Err(e) => {
                found
                    .errors
                    .push(FileError::whole(arg, io_message(&e, "file or folder")));
                continue;
            }
        };
        if meta.is_dir() {
            let mut walk = Walk::default();
            if let Err((dir, e)) = walk.folder(arg) {
                found
                    .errors
                    .push(FileError::whole(&dir, io_message(&e, "folder")));
            }
            walk.files.sort();
            for path in walk.files {
                let rel = path.strip_prefix(arg).unwrap_or(&path);
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if seen.insert(path.clone()) {
                    found.sources.push(Source { path, name });
                }
            }
            walk.misnamed.sort();
            walk.skipped_folders.sort();
            found.misnamed.extend(walk.misnamed);
            found.skipped_folders.extend(walk.skipped_folders);
        } else {
            let name = arg.file_name().map_or_else(
                || arg.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            if seen.insert(arg.clone()) {
                found.sources.push(Source {
                    path: arg.clone(),
                    name,
                });
            }
        }
    }
    found
}

/// Whether a folder search enters a folder of this name below the folder it was given: not
/// `target` (build output), not hidden folders (tool state), not `fixtures` (test inputs that
/// are meant to fail; name such a folder itself to run it).
pub fn is_searched_folder_name(name: &str) -> bool {
    name != "target" && name != "fixtures" && !name.starts_with('.')
}

/// One folder search.
#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    misnamed: Vec<PathBuf>,
    skipped_folders: Vec<PathBuf>,
}

impl Walk {
    /// Collects case files under `dir`. Does not follow symbolic links to folders (no cycles).
    fn folder(&mut self, dir: &Path) -> Result<(), (PathBuf, io::Error)> {
        let entries = fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| (dir.to_path_buf(), e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if is_searched_folder_name(&name) {
                    self.folder(&path)?;
                } else if name == "fixtures" {
                    self.skipped_folders.push(path);
                }
            } else if is_case_file_name(&name) {
                self.files.push(path);
            } else if name.ends_with(".kv") || name.ends_with(".ami") {
                self.misnamed.push(path);
            }
        }
        Ok(())
    }
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
