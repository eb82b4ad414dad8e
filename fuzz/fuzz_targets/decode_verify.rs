//! libFuzzer target: decode + verify of arbitrary bytes (see `tests/format_common::fuzz_one`).
//!
//! Needs a nightly compiler (or `RUSTC_BOOTSTRAP=1`) and cargo-fuzz:
//! `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode_verify --features libfuzzer -- -max_total_time=120`
#![no_main]

#[path = "../../tests/format_common/mod.rs"]
mod format_common;

use std::sync::OnceLock;

static HONEST: OnceLock<Vec<u8>> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let honest = HONEST.get_or_init(format_common::honest_fuzz_proof);
    format_common::fuzz_one(data, honest);
});
