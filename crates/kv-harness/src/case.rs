//! Running one case: a fresh store on a fresh manual clock, the `test:kv` puts, the steps in file
//! order, the runtime stand-in, the `test:kv` gets, and a snapshot of the store at the end.

use std::time::{Duration, Instant};

use kvstore::{ManualClock, Metrics, Store};

use crate::parse::{Case, CaseFile, GetExpect, MetricsExpect, Op, Step};
use crate::runtime;

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

/// Runs `case` of `file` on its own fresh store and manual clock.
pub fn run_case(file: &CaseFile, case: &Case) -> CaseRun {
    let started = Instant::now();
    let clock = ManualClock::new();
    // A fresh store per case, never the process-global registry: results and artifacts must not
    // depend on which worker ran which case first.
    let store: Store<String, String> = Store::builder().clock(clock.clone()).build();
    let outcome = match drive(file, case, &store, &clock) {
        Ok(()) => Outcome::Passed,
        Err(f) => Outcome::Failed(f),
    };
    let mut keys = store.keys();
    keys.sort();
    CaseRun {
        outcome,
        duration: started.elapsed(),
        snapshot: Snapshot {
            ns: file.kv.ns.clone(),
            metrics: store.metrics(),
            keys,
        },
    }
}

fn drive(
    file: &CaseFile,
    case: &Case,
    store: &Store<String, String>,
    clock: &ManualClock,
) -> Result<(), Failure> {
    for (k, v) in &file.kv.puts {
        store.put(k.clone(), v.clone());
    }
    for step in &case.steps {
        apply(step, store, clock)?;
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
        let _ = store.get(k.as_str());
    }
    Ok(())
}

fn apply(step: &Step, store: &Store<String, String>, clock: &ManualClock) -> Result<(), Failure> {
    let fail = |message: String, expected: String, actual: String| Failure {
        line: step.line,
        directive: step.text.clone(),
        message,
        expected,
        actual,
    };
    match &step.op {
        Op::Put {
            key,
            value,
            options,
        } => {
            store.put_with(key.clone(), value.clone(), options);
        }
        Op::Get { key, expect } => {
            let got = store.get(key.as_str());
            let want = match expect {
                None => return Ok(()),
                Some(GetExpect::Value(v)) => Some(v),
                Some(GetExpect::Miss) => None,
            };
            if got.as_ref() != want {
                return Err(fail(
                    format!("get `{key}` returned the wrong value"),
                    show_value(want),
                    show_value(got.as_ref()),
                ));
            }
        }
        Op::Has { key, expect } => {
            let got = store.has(key.as_str());
            if got != *expect {
                return Err(fail(
                    format!("has `{key}` was {got}"),
                    expect.to_string(),
                    got.to_string(),
                ));
            }
        }
        Op::Del { key, expect } => {
            let got = store.del(key.as_str());
            if expect.is_some_and(|want| want != got) {
                return Err(fail(
                    format!("del `{key}` returned {got}"),
                    (!got).to_string(),
                    got.to_string(),
                ));
            }
        }
        Op::Keys { expect } => {
            let mut got = store.keys();
            got.sort();
            if got != *expect {
                return Err(fail(
                    "the live keys differ".into(),
                    show_keys(expect),
                    show_keys(&got),
                ));
            }
        }
        Op::Advance { by } => clock.advance(*by),
        Op::Capacity { n } => store.set_capacity(*n),
        Op::Purge => {
            store.purge_expired();
        }
        Op::Metrics(want) => {
            let got = store.metrics();
            if let Some((expected, actual)) = compare_metrics(want, &got) {
                return Err(fail("the counters differ".into(), expected, actual));
            }
        }
    }
    Ok(())
}

fn show_value(v: Option<&String>) -> String {
    match v {
        Some(v) => format!("{v:?}"),
        None => "a miss (no live entry)".into(),
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
