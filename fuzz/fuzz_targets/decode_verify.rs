//! libFuzzer target: decode + verify of arbitrary bytes against the tiny statement
//! (`tests/format_common::fuzz_tiny`, with its soundness oracle), then against the public
//! `verify_aggregate` with a one-signer statement (`fuzz_public_api`): `fuzz_one` runs both.
//!
//! Needs a nightly compiler (or `RUSTC_BOOTSTRAP=1`) and cargo-fuzz; what CI runs is in
//! `fuzz/README.md`:
//! `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none decode_verify --features libfuzzer`
//!
//! Besides panics, one allocation larger than [`MAX_ALLOC_BYTES`] is a finding: the format must
//! never allocate a size the attacker chose (issue 3). The cap is checked by the global allocator
//! below, so it holds without a sanitizer (libFuzzer's own `-malloc_limit_mb` needs one).
#![no_main]

#[path = "../../tests/format_common/mod.rs"]
mod format_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::OnceLock;

/// Largest single heap allocation, in bytes, one fuzz execution may make (256 MiB). Proving and
/// verifying the tiny statement, and rejecting bytes for the one-signer statement, stay far below
/// it; a length read from the input (up to 2^32 elements) goes far above it.
const MAX_ALLOC_BYTES: usize = 256 << 20;

/// [`System`], except that a request above [`MAX_ALLOC_BYTES`] fails. Rust then reports
/// "memory allocation of N bytes failed" and aborts, which libFuzzer records as a crash.
struct CappedAlloc;

// SAFETY: every call is forwarded unchanged to `System`, or answered with null (allowed: an
// allocation may always fail).
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOC_BYTES {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOC_BYTES {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOC_BYTES {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

static HONEST: OnceLock<Vec<u8>> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let honest = HONEST.get_or_init(format_common::honest_fuzz_proof);
    format_common::fuzz_one(data, honest);
});
