//! The case-file runner of `kvstore`: reads directive files (`*_test.kv`, and the `ami`
//! toolchain's `*_test.ami` unchanged), runs each case on its own fresh store with a manual clock,
//! checks it, and reports: a human report, the `test.v1` JSON stream, and the `kv.metrics.v1` /
//! `kv.dump.v1` artifacts. The format is specified in `docs/case-format.md`.
//!
//! On the command line: `kv-harness test examples/cases`. From Rust, the same runner:
//!
//! ```
//! use kv_harness::{Options, run_script};
//!
//! let text = r#"
//! #pragma test:case sliding_session
//! #pragma test:step put key=sid value=alice ttl=30m sliding=true
//! #pragma test:step advance by=29m
//! #pragma test:step get key=sid expect=alice
//! #pragma test:step advance by=29m
//! #pragma test:step has key=sid expect=true
//! "#;
//! let summary = run_script("session_test.kv", text, &Options::default())?;
//! assert_eq!(summary.exit_code(), 0);
//! # Ok::<(), kv_harness::Error>(())
//! ```
//!
//! - [`run`] / [`run_with`]: load files and run them (with an [`Observer`] to hear results in a
//!   stable order); [`load`] reports every problem of every file, with positions, before anything
//!   runs.
//! - [`assert_script`] and [`assert_files_pass`]: drive case files from a `#[test]`.
//! - [`HumanReport`] and [`JsonStream`]: the two reports the `kv-harness` binary prints.
//!
//! # Other store backends
//!
//! The runner drives each case's store only through the store trait, [`kvstore::Backend`] (boxed as
//! [`kvstore::DynBackend`]), and gets a fresh store per case from a [`CaseBackend`]: its `open(ns)`
//! returns a [`CaseStore`], the store and a closure that moves the store's clock (`advance`
//! steps). [`InMemory`] (a fresh `kvstore::Store` on a `ManualClock`) is the default; another
//! backend goes in [`Options::backend`]. An error from the backend fails the case it happened in,
//! with the backend's message; it never stops the run or panics.
//!
//! ```
//! use std::sync::Arc;
//! use kv_harness::{InMemory, Options, run_script};
//!
//! let options = Options { backend: Arc::new(InMemory), ..Options::default() };
//! let summary = run_script("on_backend_test.kv", "
//! #pragma test:case put_then_get
//! #pragma test:step put key=a value=1
//! #pragma test:step get key=a expect=1
//! ", &options)?;
//! assert_eq!(summary.passed(), 1);
//! # Ok::<(), kv_harness::Error>(())
//! ```

mod artifacts;
mod case;
pub mod cli;
mod discover;
mod error;
mod parse;
#[cfg(feature = "redis")]
mod redis;
mod report;
mod runner;
mod runtime;
mod script;
pub mod stream;
mod syntax;

pub use artifacts::{Totals, case_paths, folder as artifact_folder, is_artifact_name};
pub use case::{
    CaseBackend, CaseRun, CaseStore, Failure, InMemory, Outcome, Snapshot, run_case, run_case_on,
};
pub use discover::{
    Discovery, Source, discover, is_case_file_name, is_searched_folder_name, read_text,
};
pub use error::{Error, FileError, NoCases};
pub use parse::{
    Case, CaseFile, DEFAULT_TIMEOUT, GetExpect, KvSpec, MetricsExpect, Op, RuntimeSpec, Step,
    parse_file,
};
#[cfg(feature = "redis")]
pub use redis::RedisCases;
pub use report::{HumanReport, describe_failure};
pub use runner::{
    CaseResult, LoadedFile, Observer, Options, Plan, Quiet, Summary, load, run, run_loaded,
    run_with,
};
pub use runtime::TIMEOUT_CODE;
pub use script::{assert_files_pass, assert_script, run_script};
pub use stream::JsonStream;

/// The repository README, whose Rust examples are compiled and run as this crate's doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
