//! Library-wide functions: version, status text, and the global thread pool.

use std::ffi::{c_char, CStr};

use crate::aggregator::msig_prove_options;
use crate::error::{msig_status, MSIG_THREAD_POOL_ALREADY_INITIALIZED, UNKNOWN_STATUS_MESSAGE};
use crate::ffi::{check_out_buffer, write_bytes};
use crate::panic::ffi_boundary;

/// The version string, NUL-terminated, equal to the crate version and to
/// `MSIG_VERSION_MAJOR.MSIG_VERSION_MINOR.MSIG_VERSION_PATCH`.
static VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("version contains a NUL"),
    };

/// Returns the library version as a static NUL-terminated string ("MAJOR.MINOR.PATCH"). Never
/// NULL; do not free it.
#[no_mangle]
pub extern "C" fn msig_version() -> *const c_char {
    VERSION.as_ptr()
}

/// Writes a one-line English description of `status` (any `uint32_t`; unknown codes get a generic
/// text) to `buf` as a NUL-terminated string, and the number of bytes written including the NUL
/// to `*written`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_BUFFER_TOO_SMALL` (`*written` = bytes needed including the
/// NUL; 128 bytes always suffice), `MSIG_PANIC`.
///
/// # Safety
/// `buf` points to `cap` writable bytes; `written` to one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_status_message(
    status: u32,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let out = buf.cast::<u8>();
        check_out_buffer(out, written)?;
        let text = msig_status::from_code(status).map_or(UNKNOWN_STATUS_MESSAGE, |s| s.message());
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        unsafe { write_bytes(&bytes, out, cap, written) }
    })
}

/// Builds the global thread pool used by proving, key generation, signing and batch
/// verification with `num_threads` threads (0: one per CPU, or the `RAYON_NUM_THREADS`
/// environment variable). The advances of keypairs' prepared windows run on a second pool of the
/// same size, created on the first advance (see `msig_keypair_prepare_epoch`).
///
/// Call it once, before any other `msig_` call that does parallel work (key generation, signing,
/// advancing a key, proving, verifying aggregates); afterwards the pool exists and this returns
/// `MSIG_THREAD_POOL_ALREADY_INITIALIZED` without changing anything. Thread-safe.
///
/// Errors: `MSIG_THREAD_POOL_ALREADY_INITIALIZED`, `MSIG_PANIC`.
#[no_mangle]
pub extern "C" fn msig_set_num_threads(num_threads: usize) -> msig_status {
    ffi_boundary(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(num_threads)
            .build_global()
            .map_err(|_| MSIG_THREAD_POOL_ALREADY_INITIALIZED)
    })
}

/// Builds, once per process, the tables the first proof or verification under `options` (NULL:
/// the defaults) would otherwise build: for `MSIG_BACKEND_WHIR` the proving and verifying keys
/// (50 to 70 ms on a 2-core machine, most of a first WHIR verification); for `MSIG_BACKEND_FRI`
/// and `MSIG_BACKEND_FRI_POSEIDON1` a few milliseconds of lookup layout, and the permutation
/// table's symbolic pass that a first Type-2 or compact-parent verification would otherwise make
/// (about 5 ms). Call it at startup to keep that cost out of the first
/// proof or verification; never required. Idempotent and thread-safe. Counts as parallel work
/// for `msig_set_num_threads`: call that first if you use it.
///
/// Errors: `MSIG_INVALID_OPTIONS` (no such preset: unknown regime or backend, unsupported
/// rate), `MSIG_PROVER_FAILED` (setup failed; not expected), `MSIG_PANIC`.
///
/// # Safety
/// `options` is NULL or points to a readable `msig_prove_options`.
#[no_mangle]
pub unsafe extern "C" fn msig_prepare(options: *const msig_prove_options) -> msig_status {
    ffi_boundary(|| {
        // SAFETY: forwarded caller contract.
        let opts = unsafe { msig_prove_options::read_optional(options) }?;
        multisig::prepare(&opts).map_err(msig_status::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_macros() {
        let v = VERSION.to_str().unwrap();
        let want = format!(
            "{}.{}.{}",
            crate::MSIG_VERSION_MAJOR,
            crate::MSIG_VERSION_MINOR,
            crate::MSIG_VERSION_PATCH
        );
        assert_eq!(v, want);
    }

    #[test]
    fn status_message_fits_documented_bound() {
        // 128 bytes including the terminating NUL.
        for s in msig_status::ALL {
            assert!(s.message().len() < 128, "{s:?}");
        }
        assert!(UNKNOWN_STATUS_MESSAGE.len() < 128);
    }
}
