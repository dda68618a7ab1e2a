//! A whole run: load every file (reporting every problem before anything runs), run the cases on
//! N workers, hand results to an [`Observer`] in a stable order (file order, then case order,
//! whatever order the workers finish in), and write the artifacts.
//!
//! What a run keeps grows with what it must report, not with the number of cases: the results of
//! passing cases only when [`Options::keep_passed`] asks for them, the run's keys only when the
//! process-level dump is due.
//!
//! The worker counters, the stop flag and the shared backend are std's, not `kv_core::sync`'s:
//! they are the harness's bookkeeping, not store state, and loom never models the harness.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::artifacts::{self, Totals};
use crate::case::{CaseBackend, CaseRun, Failure, InMemory, Outcome, Snapshot, run_case_on};
use crate::discover::{Source, discover, read_text};
use crate::error::NoCases;
use crate::parse::{Case, CaseFile, parse_file};
use crate::{Error, FileError};

/// How a run behaves. The defaults: one worker, no fail-fast, artifacts under `build`, only the
/// per-case artifacts that files ask for with `emit=true`, a run without cases is an error, every
/// result kept, cases on the in-memory store.
#[derive(Clone)]
pub struct Options {
    /// Worker threads (at least 1).
    pub parallel: usize,
    /// Stop starting cases after the first failure.
    pub failfast: bool,
    /// The build folder; artifacts go under `<out>/test/kv/`.
    pub out: PathBuf,
    /// Per-case artifacts for every case, and both process-level artifacts.
    pub verbose: bool,
    /// The process-level `metrics.json`.
    pub kv_metrics: bool,
    /// The process-level `dump.json`.
    pub kv_dump: bool,
    /// A run that finds no case passes instead of failing with [`Error::NoCases`].
    pub allow_empty: bool,
    /// Keep the results of passing cases in [`Summary::results`] (failures are always kept). The
    /// command line turns it off, so a long run holds only its failures.
    pub keep_passed: bool,
    /// Opens each case's store: [`InMemory`] unless another backend is plugged in.
    pub backend: Arc<dyn CaseBackend>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            parallel: 1,
            failfast: false,
            out: PathBuf::from("build"),
            verbose: false,
            kv_metrics: false,
            kv_dump: false,
            allow_empty: false,
            keep_passed: true,
            backend: Arc::new(InMemory),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("parallel", &self.parallel)
            .field("failfast", &self.failfast)
            .field("out", &self.out)
            .field("verbose", &self.verbose)
            .field("kv_metrics", &self.kv_metrics)
            .field("kv_dump", &self.kv_dump)
            .field("allow_empty", &self.allow_empty)
            .field("keep_passed", &self.keep_passed)
            .finish_non_exhaustive()
    }
}

/// A case file read and parsed, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedFile {
    /// Where it came from and the names it goes by.
    pub source: Source,
    /// What it says.
    pub file: CaseFile,
}

/// What a run is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Case files.
    pub files: usize,
    /// Cases across them.
    pub cases: usize,
    /// Worker threads.
    pub parallel: usize,
}

/// One case's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The file, as the user can reach it.
    pub path: PathBuf,
    /// The file's name in the stream and the artifacts ([`Source::name`]).
    pub file: String,
    /// The case's name.
    pub case: String,
    /// The line of its `test:case` directive.
    pub line: usize,
    /// How it went.
    pub run: CaseRun,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.run.outcome == Outcome::Passed
    }

    /// The failure, if it failed.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.run.outcome {
            Outcome::Passed => None,
            Outcome::Failed(f) => Some(f),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The cases that ran, in file order then case order: every one, or only the failures when
    /// [`Options::keep_passed`] is off.
    pub results: Vec<CaseResult>,
    /// Cases not started because `failfast` stopped the run.
    pub not_run: usize,
    /// Wall time of the run.
    pub duration: Duration,
    /// Counters and keys over all the cases' stores at their ends.
    pub totals: Totals,
    passed: usize,
    failed: usize,
}

impl Summary {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.passed
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// The process exit status: 0 when every case that ran passed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.failed() == 0 { 0 } else { 1 }
    }
}

/// Hears about a run as it goes, in a stable order: `run_start`, then for each case (file order,
/// then case order) `case_start` and `case_end`, then `run_end`. Every method does nothing by
/// default.
pub trait Observer {
    /// A problem that does not stop the run (a line that looks like a directive but is not, a
    /// case file without cases), before `run_start`.
    fn warning(&mut self, _warning: &FileError) {}
    /// Before the first case.
    fn run_start(&mut self, _plan: &Plan) {}
    /// A case has started (and every case before it has been reported).
    fn case_start(&mut self, _source: &Source, _case: &Case) {}
    /// A case has ended.
    fn case_end(&mut self, _result: &CaseResult) {}
    /// After the last case, with the counts.
    fn run_end(&mut self, _summary: &Summary) {}
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// Reads and parses the case files named by `paths` (directories searched for `*_test.kv` and
/// `*_test.ami`). Every problem of every file is collected; any problem fails the whole load.
/// Paths that do not exist fail it first ([`Error::Paths`]).
pub fn load(paths: &[PathBuf]) -> Result<Vec<LoadedFile>, Error> {
    gather(paths).map(|g| g.files)
}

/// What loading found: the files, the warnings, and what a run without cases would report.
struct Gathered {
    files: Vec<LoadedFile>,
    warnings: Vec<FileError>,
    none: NoCases,
}

fn gather(paths: &[PathBuf]) -> Result<Gathered, Error> {
    let found = discover(paths);
    if !found.errors.is_empty() {
        return Err(Error::Paths(found.errors));
    }
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut caseless = Vec::new();
    for source in found.sources {
        match read_text(&source.path) {
            Ok(text) => match parse_file(&source.path, &text) {
                Ok(file) => {
                    warnings.extend(file.warnings.iter().cloned());
                    if file.cases.is_empty() {
                        warnings.push(FileError::whole(
                            &source.path,
                            "no `#pragma test:case` line, so this file runs nothing",
                        ));
                        caseless.push(source.path.clone());
                    }
                    files.push(LoadedFile { source, file });
                }
                Err(es) => errors.extend(es),
            },
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Files(errors));
    }
    Ok(Gathered {
        files,
        warnings,
        none: NoCases {
            searched: paths.to_vec(),
            misnamed: found.misnamed,
            caseless,
            skipped_folders: found.skipped_folders,
        },
    })
}

/// Loads the files named by `paths` and runs them with no output but the artifacts.
pub fn run(paths: &[PathBuf], options: &Options) -> Result<Summary, Error> {
    run_with(paths, options, &mut Quiet)
}

/// Loads the files named by `paths` and runs them, telling `observer` as it goes. A run that finds
/// no case fails with [`Error::NoCases`] unless [`Options::allow_empty`] is set.
pub fn run_with(
    paths: &[PathBuf],
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Summary, Error> {
    let gathered = gather(paths)?;
    for w in &gathered.warnings {
        observer.warning(w);
    }
    let cases: usize = gathered.files.iter().map(|f| f.file.cases.len()).sum();
    if cases == 0 && !options.allow_empty {
        return Err(Error::NoCases(gathered.none));
    }
    run_loaded(&gathered.files, options, observer)
}

/// Runs already-loaded files. Fails only when the output folder cannot be written (checked before
/// any case runs when artifacts are due).
pub fn run_loaded(
    files: &[LoadedFile],
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Summary, Error> {
    if options.parallel == 0 {
        return Err(Error::Usage("--parallel must be at least 1".into()));
    }
    let run_metrics = options.verbose || options.kv_metrics;
    let run_dump = options.verbose || options.kv_dump;
    let any_case_artifacts = options.verbose || files.iter().any(|f| f.file.kv.emit);
    if any_case_artifacts {
        check_artifact_names(files, options)?;
    }
    // The folder describes this run only: what an earlier run left there goes first.
    artifacts::remove_stale(&options.out)?;
    if run_metrics || run_dump || any_case_artifacts {
        artifacts::prepare(&options.out)?;
    }

    let jobs: Vec<(&LoadedFile, &Case)> = files
        .iter()
        .flat_map(|f| f.file.cases.iter().map(move |c| (f, c)))
        .collect();
    let started = Instant::now();
    observer.run_start(&Plan {
        files: files.len(),
        cases: jobs.len(),
        parallel: options.parallel,
    });

    let mut summary = Summary::default();
    let mut write_error = None;
    let not_run = run_jobs(&jobs, options, &mut |event| {
        let (i, run) = match event {
            Event::Started(i) => {
                let (file, case) = jobs[i];
                return observer.case_start(&file.source, case);
            }
            Event::Finished(i, run) => (i, *run),
        };
        let (file, case) = jobs[i];
        let result = CaseResult {
            path: file.source.path.clone(),
            file: file.source.name.clone(),
            case: case.name.clone(),
            line: case.line,
            run,
        };
        if (options.verbose || file.file.kv.emit) && write_error.is_none() {
            write_error = artifacts::write_case(
                &options.out,
                &file.source.artifact_stem(),
                &case.name,
                &result.run.snapshot,
            )
            .err();
        }
        summary.totals.add(&result.run.snapshot, run_dump);
        observer.case_end(&result);
        if result.passed() {
            summary.passed += 1;
        } else {
            summary.failed += 1;
        }
        if options.keep_passed || !result.passed() {
            summary.results.push(result);
        }
    });
    summary.not_run = not_run;
    summary.duration = started.elapsed();
    if write_error.is_none() && (run_metrics || run_dump) {
        write_error =
            artifacts::write_run(&options.out, &summary.totals, run_metrics, run_dump).err();
    }
    observer.run_end(&summary);
    match write_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Two cases whose per-case artifacts would have the same names (`a/b_test.kv` and
/// `a_b_test.kv`, one relative name under two folder arguments, or cases `x/y` and `x_y`) would
/// silently overwrite each other: refuse to run instead.
fn check_artifact_names(files: &[LoadedFile], options: &Options) -> Result<(), Error> {
    let mut seen: HashMap<String, (&Path, &str)> = HashMap::new();
    let mut errors = Vec::new();
    for f in files.iter().filter(|f| options.verbose || f.file.kv.emit) {
        let stem = f.source.artifact_stem();
        for case in &f.file.cases {
            let (metrics, _) = artifacts::case_paths(&options.out, &stem, &case.name);
            let name = metrics.file_name().map_or_else(String::new, |n| {
                let n = n.to_string_lossy();
                n.trim_end_matches(".metrics.json").to_string()
            });
            if let Some((path, other)) = seen.get(&name) {
                errors.push(FileError::at(
                    &f.source.path,
                    case.line,
                    1,
                    format!(
                        "the artifacts of case `{}` would overwrite those of case `{other}` of {} (both named {name}); rename a file or a case",
                        case.name,
                        path.display(),
                    ),
                ));
            } else {
                seen.insert(name, (&f.source.path, &case.name));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Files(errors))
    }
}

/// What a worker tells the reporting thread.
enum Event {
    Started(usize),
    Finished(usize, Box<CaseRun>),
}

/// Runs the jobs on `options.parallel` workers and hands their events to `report` in job order:
/// a job's `Started` once it has started and every job before it has been reported, then its
/// `Finished`. Returns how many jobs never started (fail-fast).
fn run_jobs(
    jobs: &[(&LoadedFile, &Case)],
    options: &Options,
    report: &mut dyn FnMut(Event),
) -> usize {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Event>();
    let mut started = vec![false; jobs.len()];
    let mut finished: Vec<Option<Box<CaseRun>>> = vec![None; jobs.len()];
    let mut cursor = 0;
    let mut announced = false;
    thread::scope(|scope| {
        for _ in 0..options.parallel.min(jobs.len().max(1)) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    let i = next.fetch_add(1, Ordering::AcqRel);
                    let Some(&(file, case)) = jobs.get(i) else {
                        break;
                    };
                    let _ = tx.send(Event::Started(i));
                    let run = run_guarded(&*options.backend, &file.file, case);
                    if options.failfast && run.outcome != Outcome::Passed {
                        stop.store(true, Ordering::Release);
                    }
                    let _ = tx.send(Event::Finished(i, Box::new(run)));
                }
            });
        }
        drop(tx);
        // Report in job order as results arrive; the loop ends when every worker has exited.
        for event in rx {
            match event {
                Event::Started(i) => started[i] = true,
                Event::Finished(i, run) => finished[i] = Some(run),
            }
            while cursor < jobs.len() {
                if !announced && started[cursor] {
                    report(Event::Started(cursor));
                    announced = true;
                }
                let Some(run) = finished[cursor].take() else {
                    break;
                };
                report(Event::Finished(cursor, run));
                cursor += 1;
                announced = false;
            }
        }
    });
    // Every started job has finished by now, so the job at the cursor never started: fail-fast
    // stopped the run. Report the jobs after the gap that did run, in order.
    let mut not_run = 0;
    for (i, run) in finished.into_iter().enumerate().skip(cursor) {
        match run {
            Some(run) => {
                report(Event::Started(i));
                report(Event::Finished(i, run));
            }
            None => not_run += 1,
        }
    }
    not_run
}

/// Runs a case, turning a panic (a bug in the store or the harness, never bad input) into a
/// failure of that case instead of a crash of the run.
fn run_guarded(backend: &dyn CaseBackend, file: &CaseFile, case: &Case) -> CaseRun {
    panic::catch_unwind(AssertUnwindSafe(|| run_case_on(backend, file, case))).unwrap_or_else(
        |payload| CaseRun {
            outcome: Outcome::Failed(Failure {
                line: case.line,
                directive: format!("test:case {}", case.name),
                message: format!("the case panicked: {}", panic_message(&*payload)),
                expected: "no panic".into(),
                actual: "a panic".into(),
            }),
            duration: Duration::ZERO,
            snapshot: Snapshot {
                ns: file.kv.ns.clone(),
                ..Snapshot::default()
            },
        },
    )
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}
