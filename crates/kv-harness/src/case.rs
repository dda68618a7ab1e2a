//! Running one case: a fresh store from the run's [`CaseBackend`], the `test:kv` puts, the steps
//! in file order, the runtime stand-in, the `test:kv` gets, and a snapshot of the store at the end.
//! The store is driven only through the store trait ([`kvstore::Backend`]), so any backend that
//! implements it can run the case files.

use std::time::{Duration, Instant};

use kvstore::{BoxError, Boxed, DynBackend, ManualClock, Metrics, PutOptions, Store};

use crate::parse::{Case, CaseFile, GetExpect, MetricsExpect, Op, Step};
use crate::runtime;

/// Opens the stores cases run on: one fresh, empty store per case. The in-memory [`InMemory`] is
/// the default; another backend (a Redis server, say) implements this trait and is handed to the
/// runner in [`Options::backend`](crate::Options::backend).
///
/// ```
/// use std::time::Duration;
/// use kv_harness::{CaseBackend, CaseStore, InMemory};
///
/// /// Where a remote backend would connect and clear namespace `ns`, this one hands the case
/// /// an in-memory store.
/// struct Delegating;
///
/// impl CaseBackend for Delegating {
///     fn open(&self, ns: &str) -> Result<CaseStore, kvstore::BoxError> {
///         InMemory.open(ns)
///     }
/// }
///
/// let store = Delegating.open("auth/tokens")?;
/// (store.advance)(Duration::from_secs(1))?;
/// assert!(store.store.keys()?.is_empty());
/// # Ok::<(), kvstore::BoxError>(())
/// ```
pub trait CaseBackend: Send + Sync {
    /// A fresh, empty store for one case (in namespace `ns`, `""` for the default store), with the
    /// means to move its clock. An error fails that case with the error's message.
    fn open(&self, ns: &str) -> Result<CaseStore, BoxError>;
}

/// One case's store, as a [`CaseBackend`] opens it.
pub struct CaseStore {
    /// The store, seen only through the store trait.
    pub store: Box<DynBackend<String, String, PutOptions>>,
    /// Moves the store's clock forward (`#pragma test:step advance by=...`).
    pub advance: Box<dyn Fn(Duration) -> Result<(), BoxError> + Send>,
}

impl std::fmt::Debug for CaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseStore").finish_non_exhaustive()
    }
}

/// The default backend: a fresh in-memory [`kvstore::Store`] on its own [`ManualClock`] (starting
/// at zero) per case, never the process-global registry, so results and artifacts do not depend
/// on which worker ran which case first.
#[derive(Clone, Copy, Debug, Default)]
pub struct InMemory;

/// Shards of a case's in-memory store: the store's own minimum default.
const CASE_SHARDS: usize = 16;

impl CaseBackend for InMemory {
    fn open(&self, _ns: &str) -> Result<CaseStore, BoxError> {
        let clock = ManualClock::new();
        // A fixed shard count: the default asks the OS how many cores there are (a dozen system
        // calls), which dominated a case's cost. A case drives its store from one thread.
        let store: Store<String, String> = Store::builder()
            .shards(CASE_SHARDS)
            .clock(clock.clone())
            .build();
        Ok(CaseStore {
            store: Box::new(Boxed(store)),
            advance: Box::new(move |by| {
                clock.advance(by);
                Ok(())
            }),
        })
    }
}

/// How a case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// The first check that did not hold.
    Failed(Failure),
}

/// A check that did not hold: where, what, and the expected and actual values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The line of the directive whose check failed.
    pub line: usize,
    /// That directive as written (`get key=a expect=1`, or `test:runtime`).
    pub directive: String,
    /// What went wrong, in a sentence.
    pub message: String,
    /// What the directive expected.
    pub expected: String,
    /// What happened instead.
    pub actual: String,
}

/// A case's store at the moment the case ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Its namespace (`""`: the default store).
    pub ns: String,
    /// Its counters.
    pub metrics: Metrics,
    /// Its live keys, sorted.
    pub keys: Vec<String>,
}

/// What running one case gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseRun {
    /// Passed, or the failure.
    pub outcome: Outcome,
    /// Wall time the case took.
    pub duration: Duration,
    /// The store at the end.
    pub snapshot: Snapshot,
}

/// Runs `case` of `file` on its own fresh in-memory store and manual clock ([`InMemory`]).
pub fn run_case(file: &CaseFile, case: &Case) -> CaseRun {
    run_case_on(&InMemory, file, case)
}

/// Runs `case` of `file` on a fresh store opened by `backend` for the file's namespace. A backend
/// error (opening the store, or any operation) fails the case with the backend's message; it never
/// panics.
pub fn run_case_on(backend: &dyn CaseBackend, file: &CaseFile, case: &Case) -> CaseRun {
    let started = Instant::now();
    let ns = &file.kv.ns;
    let opened = backend.open(ns).map_err(|e| Failure {
        line: case.line,
        directive: format!("test:case {}", case.name),
        message: format!("the backend could not open a store for namespace `{ns}`: {e}"),
        expected: "a fresh, empty store".into(),
        actual: "a backend error".into(),
    });
    let (outcome, snapshot) = match opened {
        Err(f) => (Outcome::Failed(f), Snapshot::empty(ns)),
        Ok(case_store) => {
            let outcome = match drive(file, case, &case_store) {
                Ok(()) => Outcome::Passed,
                Err(f) => Outcome::Failed(f),
            };
            // The store as the case left it; a backend that cannot say shows an empty one.
            let snapshot = match case_store.store.dump() {
                Ok(dump) => Snapshot {
                    ns: ns.clone(),
                    metrics: dump.metrics,
                    keys: dump.keys,
                },
                Err(_) => Snapshot::empty(ns),
            };
            (outcome, snapshot)
        }
    };
    CaseRun {
        outcome,
        duration: started.elapsed(),
        snapshot,
    }
}

impl Snapshot {
    fn empty(ns: &str) -> Self {
        Self {
            ns: ns.to_string(),
            ..Self::default()
        }
    }
}

fn drive(file: &CaseFile, case: &Case, cs: &CaseStore) -> Result<(), Failure> {
    let store = &*cs.store;
    let setup = |e: BoxError| Failure {
        line: file.kv.line.unwrap_or(case.line),
        directive: "test:kv".into(),
        message: format!("the backend failed: {e}"),
        expected: "no backend error".into(),
        actual: "a backend error".into(),
    };
    for (k, v) in &file.kv.puts {
        store
            .put(k.clone(), v.clone(), &PutOptions::default())
            .map_err(setup)?;
    }
    for step in &case.steps {
        apply(step, cs)?;
    }
    runtime::run(&file.runtime).map_err(|m| Failure {
        line: file.runtime.line.unwrap_or(case.line),
        directive: "test:runtime".into(),
        message: m.message,
        expected: m.expected,
        actual: m.actual,
    })?;
    for k in &file.kv.gets {
        // Read for the side effects on the counters only, as in the original.
        store.get(k).map_err(setup)?;
    }
    Ok(())
}

fn apply(step: &Step, cs: &CaseStore) -> Result<(), Failure> {
    let store = &*cs.store;
    let fail = |message: String, expected: String, actual: String| Failure {
        line: step.line,
        directive: step.text.clone(),
        message,
        expected,
        actual,
    };
    let backend = |e: BoxError| Failure {
        line: step.line,
        directive: step.text.clone(),
        message: format!("the backend failed: {e}"),
        expected: "no backend error".into(),
        actual: "a backend error".into(),
    };
    match &step.op {
        Op::Put {
            key,
            value,
            options,
        } => {
            store
                .put(key.clone(), value.clone(), options)
                .map_err(backend)?;
        }
        Op::Get { key, expect } => {
            let got = store.get(key).map_err(backend)?;
            if let Some((want, got)) = mismatch(expect.as_ref(), got.as_ref()) {
                return Err(fail(
                    format!("get `{key}` returned the wrong value"),
                    show_value(want),
                    show_value(got),
                ));
            }
        }
        Op::GetOrInsert {
            key,
            value,
            options,
            expect,
        } => {
            let got = store
                .get_or_insert(key.clone(), value.clone(), options)
                .map_err(backend)?;
            if expect.as_ref().is_some_and(|want| *want != got) {
                return Err(fail(
                    format!("get_or_insert `{key}` returned the wrong value"),
                    show_value(expect.as_ref()),
                    show_value(Some(&got)),
                ));
            }
        }
        Op::Has { key, expect } => {
            let got = store.has(key).map_err(backend)?;
            if got != *expect {
                return Err(fail(
                    format!("has `{key}` was {got}"),
                    expect.to_string(),
                    got.to_string(),
                ));
            }
        }
        Op::Del { key, expect } => {
            let got = store.del(key).map_err(backend)?;
            if expect.is_some_and(|want| want != got) {
                return Err(fail(
                    format!("del `{key}` returned {got}"),
                    (!got).to_string(),
                    got.to_string(),
                ));
            }
        }
        Op::Remove { key, expect } => {
            let got = store.remove(key).map_err(backend)?;
            if let Some((want, got)) = mismatch(expect.as_ref(), got.as_ref()) {
                return Err(fail(
                    format!("remove `{key}` returned the wrong value"),
                    show_removed(want),
                    show_removed(got),
                ));
            }
        }
        Op::Retain {
            drop_prefix,
            expect_removed,
        } => {
            let got = store.remove_prefix(drop_prefix).map_err(backend)?;
            if let Some(want) = expect_removed.filter(|&want| want != got) {
                return Err(fail(
                    format!("retain drop_prefix={drop_prefix:?} removed {got} live entries"),
                    want.to_string(),
                    got.to_string(),
                ));
            }
        }
        Op::Keys { expect, written } => {
            let mut got = store.keys().map_err(backend)?;
            got.sort();
            if got != *expect {
                return Err(fail(
                    "the live keys differ".into(),
                    show_written_keys(written),
                    show_keys(&got),
                ));
            }
        }
        Op::Advance { by } => (cs.advance)(*by).map_err(backend)?,
        Op::Capacity { n } => store.set_capacity(*n).map_err(backend)?,
        Op::Purge => {
            store.purge_expired().map_err(backend)?;
        }
        Op::Metrics(want) => {
            let got = store.metrics().map_err(backend)?;
            if let Some((expected, actual)) = compare_metrics(want, &got) {
                return Err(fail("the counters differ".into(), expected, actual));
            }
        }
    }
    Ok(())
}

/// What was expected and what came, when a step's `expect=`/`expect_miss=` (or
/// `expect_none=`) is not met; `None` when it is, or when the step expects nothing.
fn mismatch<'a>(
    expect: Option<&'a GetExpect>,
    got: Option<&'a String>,
) -> Option<(Option<&'a String>, Option<&'a String>)> {
    let want = match expect? {
        GetExpect::Value(v) => Some(v),
        GetExpect::Miss => None,
    };
    (got != want).then_some((want, got))
}

fn show_value(v: Option<&String>) -> String {
    match v {
        Some(v) => format!("{v:?}"),
        None => "a miss (no live entry)".into(),
    }
}

fn show_removed(v: Option<&String>) -> String {
    match v {
        Some(v) => format!("{v:?}"),
        None => "none (no live entry removed)".into(),
    }
}

/// A `keys` expectation as the directive wrote it (its order and spacing), quoted.
fn show_written_keys(written: &str) -> String {
    if written.trim().is_empty() {
        format!("{written:?} (no keys)")
    } else {
        format!("{written:?}")
    }
}

fn show_keys(keys: &[String]) -> String {
    if keys.is_empty() {
        "no keys".into()
    } else {
        format!("\"{}\"", keys.join(","))
    }
}

/// The checked counters as `name=value` lists, expected and actual, when any differs.
fn compare_metrics(want: &MetricsExpect, got: &Metrics) -> Option<(String, String)> {
    let pairs = [
        ("hits", want.hits, got.hits),
        ("misses", want.misses, got.misses),
        ("expirations", want.expirations, got.expirations),
        ("evictions", want.evictions, got.evictions),
        ("currentSize", want.current_size, got.current_size),
    ];
    let checked: Vec<_> = pairs
        .iter()
        .filter_map(|&(name, w, g)| w.map(|w| (name, w, g)))
        .collect();
    if checked.iter().all(|&(_, w, g)| w == g) {
        return None;
    }
    let list = |pick: fn(&(&str, u64, u64)) -> u64| {
        checked
            .iter()
            .map(|c| format!("{}={}", c.0, pick(c)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some((list(|c| c.1), list(|c| c.2)))
}
