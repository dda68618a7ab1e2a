//! Operation sequences and store configuration, decoded from the fuzzer's bytes, run against the
//! reference model: any divergence (a return value, a counter, `validate()`) is a crash.
//!
//! The model and the driver are the files the `model` tests use, so both check one contract.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/kvstore/tests/it/model/reference.rs"]
mod reference;

#[allow(dead_code)]
#[path = "../../crates/kvstore/tests/it/model/driver.rs"]
mod driver;

fuzz_target!(|data: &[u8]| {
    let (config, ops) = driver::decode(data);
    if let Err(divergence) = driver::run(&config, &ops) {
        panic!("the store diverged from the contract: {divergence}");
    }
});
