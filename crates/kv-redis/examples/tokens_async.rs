//! The token example on tokio: see the README.
fn main() {}
