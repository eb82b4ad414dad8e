//! The panic boundary. Every export runs its body through [`ffi_boundary`] (or
//! [`ffi_boundary_void`] for the few that return nothing), so a Rust panic becomes
//! `MSIG_PANIC` instead of unwinding into C (undefined behaviour) or aborting the process.
//!
//! This only works when the library is built with `panic = "unwind"` (Cargo's default).
//! [`crate`] refuses to compile under `panic = "abort"`: consumers that build the glue from source
//! must not set `panic = "abort"` in the profile that builds it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::msig_status::{self, MSIG_OK, MSIG_PANIC};

/// Runs `body` and converts its outcome into a status: `Ok(())` is `MSIG_OK`, `Err(s)` is `s`, a
/// panic is `MSIG_PANIC`.
///
/// `AssertUnwindSafe` is sound here because nothing observes broken invariants after a panic:
/// borrowed C buffers are only read, outputs are written last, and the shared mutable state (an
/// aggregator, a keypair's secret key) sits behind `Mutex`es whose poisoning we report as
/// `MSIG_PANIC` (a keypair's advance is built on a copy, so a panic there changes nothing).
pub(crate) fn ffi_boundary<F>(body: F) -> msig_status
where
    F: FnOnce() -> Result<(), msig_status>,
{
    // Keep the 16-aligned thread-local in every link (see tls.rs).
    crate::tls::touch();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => MSIG_OK,
        Ok(Err(status)) => status,
        Err(payload) => {
            drop_payload(payload);
            MSIG_PANIC
        }
    }
}

/// [`ffi_boundary`] for exports without a status (the `_free` functions): a panic is swallowed.
pub(crate) fn ffi_boundary_void<F: FnOnce()>(body: F) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        drop_payload(payload);
    }
}

/// Drops a panic payload. Its destructor could itself panic; that second panic is caught too and
/// its own payload leaked (a payload whose destructor panics twice is not worth more care).
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::msig_status::MSIG_NULL_ARGUMENT;

    #[test]
    fn boundary_maps_ok_err_and_panic() {
        assert_eq!(ffi_boundary(|| Ok(())), MSIG_OK);
        assert_eq!(ffi_boundary(|| Err(MSIG_NULL_ARGUMENT)), MSIG_NULL_ARGUMENT);
        assert_eq!(ffi_boundary(|| panic!("boom")), MSIG_PANIC);
        ffi_boundary_void(|| panic!("boom"));
    }
}
