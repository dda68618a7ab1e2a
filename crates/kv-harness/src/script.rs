//! Case files from a Rust test suite: run a scripted case written inline, or case files on disk,
//! and fail the `#[test]` with the harness's own report when a case fails.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::discover::Source;
use crate::error::NoCases;
use crate::parse::parse_file;
use crate::report::describe_failure;
use crate::runner::{LoadedFile, Options, Quiet, Summary, run, run_loaded};

/// Runs the case-file text `text` as if it were a file named `name` (the name appears in messages
/// and artifact names). Nothing is printed; the summary holds every result.
///
/// ```
/// let summary = kv_harness::run_script("inline_test.kv", "
/// #pragma test:case one_shot
/// #pragma test:step put key=t value=x max_reads=1
/// #pragma test:step get key=t expect=x
/// #pragma test:step get key=t expect_miss=true
/// ", &kv_harness::Options::default())?;
/// assert_eq!((summary.passed(), summary.failed()), (1, 0));
/// # Ok::<(), kv_harness::Error>(())
/// ```
pub fn run_script(name: &str, text: &str, options: &Options) -> Result<Summary, Error> {
    let path = PathBuf::from(name);
    let file = parse_file(&path, text).map_err(Error::Files)?;
    if file.cases.is_empty() && !options.allow_empty {
        return Err(Error::NoCases(NoCases {
            searched: vec![path],
            caseless: vec![PathBuf::from(name)],
            ..NoCases::default()
        }));
    }
    let loaded = LoadedFile {
        source: Source {
            path,
            name: name.to_string(),
        },
        file,
    };
    run_loaded(std::slice::from_ref(&loaded), options, &mut Quiet)
}

/// Runs an inline script and panics, with each failure's file, line, expected and actual values,
/// unless every case passes (a script without cases panics too). For `#[test]` functions; artifacts (if the script asks for them) go
/// to a `kv-harness` folder in the system's temporary directory.
///
/// ```
/// kv_harness::assert_script("ttl_test.kv", "
/// #pragma test:case expires_at_deadline
/// #pragma test:step put key=a value=1 ttl=5s
/// #pragma test:step advance by=5s
/// #pragma test:step get key=a expect_miss=true
/// #pragma test:step metrics misses=1 expirations=1
/// ");
/// ```
#[track_caller]
pub fn assert_script(name: &str, text: &str) -> Summary {
    check(run_script(name, text, &test_options()))
}

/// Runs the case files under `paths` (folders are searched) and panics unless every case passes.
/// Finding no case at all (an empty folder, a misspelled path or suffix) panics too: a test that
/// checks nothing must not pass.
///
/// ```no_run
/// #[test]
/// fn case_files() {
///     kv_harness::assert_files_pass(&["tests/cases"]);
/// }
/// ```
#[track_caller]
pub fn assert_files_pass<P: AsRef<Path>>(paths: &[P]) -> Summary {
    let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    check(run(&paths, &test_options()))
}

fn test_options() -> Options {
    Options {
        out: std::env::temp_dir().join("kv-harness"),
        ..Options::default()
    }
}

#[track_caller]
fn check(result: Result<Summary, Error>) -> Summary {
    let summary = match result {
        Ok(s) => s,
        Err(e) => panic!("kv-harness could not run the cases:\n{e}"),
    };
    let failures: Vec<String> = summary
        .results
        .iter()
        .filter(|r| !r.passed())
        .map(describe_failure)
        .collect();
    if !failures.is_empty() {
        panic!(
            "{}\n\n{} passed, {} failed",
            failures.join("\n\n"),
            summary.passed(),
            summary.failed()
        );
    }
    summary
}
