//! The performance comparison of `kvstore` against its peers, as `docs/performance.md` specifies
//! it, and the pieces `cargo xtask bench` drives.
//!
//! - [`workload`]: the workloads W1–W5 and their operation sequences, generated before timing
//!   from a fixed seed.
//! - [`runner`]: the [`Contender`] trait each store is adapted to, and the timed run (threads
//!   started on a barrier, throughput = operations / wall time).
//! - [`memory`]: peak resident memory above a base, from `/proc/self`.
//! - [`report`]: medians with min and max, the ratio table, JSON and CSV, the targets check.
//! - [`chart`]: the SVG chart of throughput per workload and thread count.
//!
//! The peers themselves are adapted in the `compare` example, so only this crate's examples and
//! benches depend on them.
//!
//! ```
//! use kv_bench::workload::{Plan, Workload};
//!
//! let plan = Plan::new(Workload::W3, 2, 1_000, 42);
//! assert_eq!(plan.ops.iter().map(Vec::len).sum::<usize>(), 1_000);
//! assert_eq!(plan.keys[7], "key-7");
//! ```

pub mod chart;
pub mod memory;
pub mod report;
pub mod runner;
pub mod workload;

pub use runner::{Contender, Sample};
pub use workload::{Op, Plan, Workload};
