//! Integration tests of `kv-harness`: the example cases pass, wrong expectations fail with their
//! expected and actual values, malformed files stop the run with positions, and the JSON stream
//! and artifacts keep their shapes (snapshots, timestamps redacted).

mod examples;
mod failing;
mod library;
mod malformed;
mod parser_fuzz;
mod runs;
mod snapshots;
mod support;
mod terminal;
