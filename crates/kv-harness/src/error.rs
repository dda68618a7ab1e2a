//! What can stop a run before any case runs: a case file that cannot be read or parsed, a bad
//! command line or a path that does not exist, a run with no case at all, an output folder that
//! cannot be written. (A case that fails is not an error: it
//! is a result.)

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one case file, with its position when it has one.
///
/// Displays as `file:line:column: message`, the form editors and terminals link to:
/// `examples/cases/bad_test.kv:3:27: unknown duration unit "parsecs" (expected ns, us, ms, s, m, h)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The file as the user named it (or as found under a directory they named).
    pub path: PathBuf,
    /// 1-based line, when the problem is at a place in the file.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the problem is at a place in the file.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl FileError {
    /// A problem at `line`:`column` of `path`.
    pub fn at(path: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    /// A problem with the file as a whole (it does not exist, cannot be read).
    pub fn whole(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

/// Why a run could not start (exit status 2). Every variant's message says what to fix.
#[derive(Debug)]
pub enum Error {
    /// The command line could not be used.
    Usage(String),
    /// Paths given to the run that do not exist or cannot be listed: a problem with the command
    /// line (or the file system), not with a case file.
    Paths(Vec<FileError>),
    /// Case files that could not be read or parsed: every problem of every file.
    Files(Vec<FileError>),
    /// The run found no case to run (and [`Options::allow_empty`](crate::Options::allow_empty)
    /// was not set): where it looked and why the files it saw were skipped.
    NoCases(NoCases),
    /// The output folder (or an artifact in it) could not be written.
    Output {
        /// The folder or file that could not be written.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
}

impl Error {
    /// The process exit status for this error: always 2 ("could not be used").
    pub fn exit_code(&self) -> i32 {
        2
    }

    /// Every problem this error stands for, one per file, path or complaint, as the `--json`
    /// stream reports them (`path` is `None` for a bad command line).
    pub fn problems(&self) -> Vec<FileError> {
        match self {
            Error::Usage(message) => vec![FileError {
                path: PathBuf::new(),
                line: None,
                column: None,
                message: message.clone(),
            }],
            Error::Paths(errors) | Error::Files(errors) => errors.clone(),
            Error::NoCases(none) => {
                let message = none.to_string();
                if none.searched.is_empty() {
                    vec![FileError::whole(Path::new(""), message)]
                } else {
                    none.searched
                        .iter()
                        .map(|p| FileError::whole(p, message.clone()))
                        .collect()
                }
            }
            Error::Output { path, message } => vec![FileError::whole(path, message.clone())],
        }
    }
}

/// What a run that found no case saw: where it looked, and why each file it passed over was
/// skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoCases {
    /// The paths the run was given.
    pub searched: Vec<PathBuf>,
    /// Files that look like case files (`.kv`, `.ami`) but whose names do not end in `_test.kv`
    /// or `_test.ami`, so a folder search passes them over.
    pub misnamed: Vec<PathBuf>,
    /// Case files read that hold no `#pragma test:case` directive.
    pub caseless: Vec<PathBuf>,
    /// Folders a search does not enter (`fixtures`): name them to run their files.
    pub skipped_folders: Vec<PathBuf>,
}

/// At most this many paths are named per reason; the rest are counted.
const LIST: usize = 5;

fn list(f: &mut fmt::Formatter<'_>, paths: &[PathBuf]) -> fmt::Result {
    for p in paths.iter().take(LIST) {
        write!(f, "\n    {}", p.display())?;
    }
    if paths.len() > LIST {
        write!(f, "\n    ... and {} more", paths.len() - LIST)?;
    }
    Ok(())
}

impl fmt::Display for NoCases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let looked: Vec<String> = self
            .searched
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if looked.is_empty() {
            write!(f, "no case to run: no file or folder was given")?;
        } else {
            write!(
                f,
                "no case to run in {} (folders are searched for *_test.kv and *_test.ami files holding `#pragma test:case` lines)",
                looked.join(", ")
            )?;
        }
        if !self.misnamed.is_empty() {
            write!(
                f,
                "\n  skipped, the name does not end in _test.kv or _test.ami (rename it, or name the file itself):"
            )?;
            list(f, &self.misnamed)?;
        }
        if !self.caseless.is_empty() {
            write!(f, "\n  read, but no `#pragma test:case` line in it:")?;
            list(f, &self.caseless)?;
        }
        if !self.skipped_folders.is_empty() {
            write!(
                f,
                "\n  not searched, test fixtures (name the folder itself to run it):"
            )?;
            list(f, &self.skipped_folders)?;
        }
        write!(f, "\npass --allow-empty if a run without cases is fine")
    }
}
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => write!(f, "{message} (see `kv-harness --help`)"),
            Error::Files(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{e}")?;
                }
                let n = errors.len();
                write!(
                    f,
                    "\n{n} problem{} in the case files; no case was run",
                    if n == 1 { "" } else { "s" }
                )
            }
            Error::Paths(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Error::NoCases(none) => write!(f, "{none}"),
            Error::Output { message, .. } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}
