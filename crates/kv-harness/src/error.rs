//! What can stop a run before any case runs: a case file that cannot be read or parsed, a bad
//! command line, an output folder that cannot be written. (A case that fails is not an error: it
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
    /// Case files that could not be found, read or parsed: every problem of every file.
    Files(Vec<FileError>),
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
            Error::Output { message, .. } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}
