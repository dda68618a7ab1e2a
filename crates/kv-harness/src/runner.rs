//! A whole run: load every file (reporting every problem before anything runs), run the cases on
//! N workers, hand results to an [`Observer`] in a stable order (file order, then case order,
//! whatever order the workers finish in), and write the artifacts.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use kv_core::sync::{Arc, AtomicBool, AtomicUsize, Ordering};

use crate::artifacts::{self, Totals};
use crate::case::{CaseBackend, CaseRun, Failure, InMemory, Outcome, Snapshot, run_case_on};
use crate::discover::{Source, discover, read_text};
use crate::parse::{Case, CaseFile, parse_file};
use crate::{Error, FileError};

/// How a run behaves. The defaults: one worker, no fail-fast, artifacts under `build`, only the
/// per-case artifacts that files ask for with `emit=true`.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Where cases run (`--backend`): the in-memory store by default.
    pub backend: SharedBackend,
}

/// A [`CaseBackend`] shared by the workers, with the name the user gave it. Two are equal when
/// their names are (a command line compares by what it asked for).
#[derive(Clone)]
pub struct SharedBackend {
    /// What the user named (`memory`, or the URL with its password hidden).
    pub name: String,
    /// The backend.
    pub backend: Arc<dyn CaseBackend>,
}

impl SharedBackend {
    /// `backend`, known as `name`.
    pub fn new(name: impl Into<String>, backend: impl CaseBackend + 'static) -> Self {
        Self {
            name: name.into(),
            backend: Arc::new(backend),
        }
    }
}

impl Default for SharedBackend {
    fn default() -> Self {
        Self::new("memory", InMemory)
    }
}

impl PartialEq for SharedBackend {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for SharedBackend {}

impl std::fmt::Debug for SharedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
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
            backend: SharedBackend::default(),
        }
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
    /// Every case that ran, in file order then case order.
    pub results: Vec<CaseResult>,
    /// Cases not started because `failfast` stopped the run.
    pub not_run: usize,
    /// Wall time of the run.
    pub duration: Duration,
    /// Counters and keys over all the cases' stores at their ends.
    pub totals: Totals,
}

impl Summary {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
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
pub fn load(paths: &[PathBuf]) -> Result<Vec<LoadedFile>, Error> {
    let (sources, mut errors) = discover(paths);
    let mut files = Vec::new();
    for source in sources {
        match read_text(&source.path) {
            Ok(text) => match parse_file(&source.path, &text) {
                Ok(file) => files.push(LoadedFile { source, file }),
                Err(es) => errors.extend(es),
            },
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(Error::Files(errors))
    }
}

/// Loads the files named by `paths` and runs them with no output but the artifacts.
pub fn run(paths: &[PathBuf], options: &Options) -> Result<Summary, Error> {
    run_with(paths, options, &mut Quiet)
}

/// Loads the files named by `paths` and runs them, telling `observer` as it goes.
pub fn run_with(
    paths: &[PathBuf],
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Summary, Error> {
    let files = load(paths)?;
    run_loaded(&files, options, observer)
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
        summary.totals.add(&result.run.snapshot);
        observer.case_end(&result);
        summary.results.push(result);
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
                    let run = run_guarded(&*options.backend.backend, &file.file, case);
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
