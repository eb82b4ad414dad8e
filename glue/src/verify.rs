//! Aggregate-proof verification: one proof (`msig_verify_aggregate`) or many at once
//! (`msig_verify_aggregates`, in parallel on the global thread pool). Stateless and thread-safe.

use multisig::aggregate::{verify_aggregate, ProveOptions, VerifyOptions};
use multisig::xmss::PublicKey;
use rayon::prelude::*;

use crate::aggregator::msig_prove_options;
use crate::error::{
    from_xmss, msig_status, MSIG_INVALID_ARGUMENT, MSIG_MALFORMED_PUBLIC_KEY, MSIG_OK,
    MSIG_PROOF_INVALID,
};
use crate::ffi::{borrow_array, borrow_slice, non_null};
use crate::panic::ffi_boundary;
use crate::{MSIG_MESSAGE_LEN, MSIG_PUBLIC_KEY_LEN};

/// One aggregate statement for `msig_verify_aggregates`: the proof, the public keys in the
/// aggregator's order (`num_public_keys` x 52 SSZ bytes, concatenated), the 32-byte message and
/// the epoch. All pointers must be non-NULL.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct msig_aggregate_statement {
    /// Proof bytes, as written by `msig_aggregator_prove`.
    pub proof: *const u8,
    /// Length of `proof` in bytes.
    pub proof_len: usize,
    /// `num_public_keys` SSZ public keys of 52 bytes each.
    pub public_keys: *const u8,
    /// Number of public keys (not bytes).
    pub num_public_keys: usize,
    /// The 32-byte message.
    pub message: *const u8,
    /// The epoch.
    pub epoch: u32,
}

/// A statement whose C buffers have been checked and borrowed.
struct Statement<'a> {
    proof: &'a [u8],
    public_keys: &'a [u8],
    message: &'a [u8; MSIG_MESSAGE_LEN],
    epoch: u32,
}

/// Borrows the C buffers of one statement, checking NULLs and the `n x 52` size.
///
/// # Safety
/// The pointers are NULL or readable for their lengths.
unsafe fn borrow_statement<'a>(
    proof: *const u8,
    proof_len: usize,
    public_keys: *const u8,
    num_public_keys: usize,
    message: *const u8,
    epoch: u32,
) -> Result<Statement<'a>, msig_status> {
    let pk_bytes = num_public_keys
        .checked_mul(MSIG_PUBLIC_KEY_LEN)
        .ok_or(MSIG_INVALID_ARGUMENT)?;
    Ok(Statement {
        proof: unsafe { borrow_slice(proof, proof_len) }?,
        public_keys: unsafe { borrow_slice(public_keys, pk_bytes) }?,
        message: unsafe { borrow_array::<MSIG_MESSAGE_LEN>(message) }?,
        epoch,
    })
}

/// Decodes the keys and runs the core verifier.
fn verify_statement(st: &Statement<'_>, require: Option<ProveOptions>) -> Result<(), msig_status> {
    let keys = st
        .public_keys
        .chunks_exact(MSIG_PUBLIC_KEY_LEN)
        .map(|b| PublicKey::from_ssz(b).map_err(|e| from_xmss(&e, MSIG_MALFORMED_PUBLIC_KEY)))
        .collect::<Result<Vec<_>, _>>()?;
    verify_aggregate(
        st.proof,
        &keys,
        st.message,
        st.epoch,
        &VerifyOptions { require, ..VerifyOptions::default() },
    )?;
    Ok(())
}

/// Reads the optional required preset: NULL accepts a proof made under any supported preset.
///
/// # Safety
/// `require` is NULL or readable.
unsafe fn read_require(
    require: *const msig_prove_options,
) -> Result<Option<ProveOptions>, msig_status> {
    if require.is_null() {
        Ok(None)
    } else {
        unsafe { msig_prove_options::read_optional(require) }.map(Some)
    }
}

/// Verifies an aggregate proof (`proof_len` bytes) for `num_public_keys` SSZ public keys
/// (`public_keys`: `num_public_keys` x 52 bytes, in the order `msig_aggregator_public_keys`
/// reports), the 32-byte `message` and `epoch`.
///
/// `require` may be NULL to accept any supported preset, or point to the options the proof must
/// have been made with (a proof under another regime or rate is then rejected).
///
/// Returns `MSIG_OK` if the proof is valid; `MSIG_PROOF_INVALID` if it is well-formed but false
/// for this statement (other keys, key order, message or epoch, altered bytes);
/// `MSIG_MALFORMED_PROOF` if it does not decode (truncated, bad envelope, not the required
/// preset); `MSIG_MALFORMED_PUBLIC_KEY`; `MSIG_NULL_ARGUMENT`; `MSIG_INVALID_ARGUMENT`
/// (`num_public_keys` x 52 overflows); `MSIG_INVALID_OPTIONS`; `MSIG_PANIC`.
///
/// # Safety
/// `proof` points to `proof_len` readable bytes, `public_keys` to `num_public_keys` x 52,
/// `message` to 32; `require` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn msig_verify_aggregate(
    proof: *const u8,
    proof_len: usize,
    public_keys: *const u8,
    num_public_keys: usize,
    message: *const u8,
    epoch: u32,
    require: *const msig_prove_options,
) -> msig_status {
    ffi_boundary(|| {
        let st = unsafe {
            borrow_statement(
                proof,
                proof_len,
                public_keys,
                num_public_keys,
                message,
                epoch,
            )
        }?;
        let require = unsafe { read_require(require) }?;
        verify_statement(&st, require)
    })
}

/// Verifies `n` aggregate statements in parallel (on the global thread pool) and writes one
/// status per statement to `results[i]`: exactly what `msig_verify_aggregate` would return for
/// statement `i` (`MSIG_OK`, `MSIG_PROOF_INVALID`, `MSIG_MALFORMED_PROOF`, `MSIG_NULL_ARGUMENT`
/// for a NULL pointer inside the statement, ...). `require` applies to every statement (NULL:
/// any supported preset).
///
/// Returns `MSIG_OK` if every statement verified; `MSIG_PROOF_INVALID` if at least one did not
/// (see `results`); otherwise a call-level error and `results` is untouched:
/// `MSIG_NULL_ARGUMENT` (`statements` or `results` NULL), `MSIG_INVALID_ARGUMENT`,
/// `MSIG_INVALID_OPTIONS`, `MSIG_PANIC`.
///
/// # Safety
/// `statements` points to `n` readable statements whose buffers satisfy `msig_verify_aggregate`'s
/// contract; `results` to `n` writable `msig_status` (uint32_t); `require` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn msig_verify_aggregates(
    statements: *const msig_aggregate_statement,
    n: usize,
    require: *const msig_prove_options,
    results: *mut msig_status,
) -> msig_status {
    ffi_boundary(|| {
        non_null(statements)?;
        non_null(results)?;
        if n > isize::MAX as usize / std::mem::size_of::<msig_aggregate_statement>() {
            return Err(MSIG_INVALID_ARGUMENT);
        }
        let require = unsafe { read_require(require) }?;
        // SAFETY: non-NULL, size bounded, readable per the contract.
        let raw = unsafe { std::slice::from_raw_parts(statements, n) };
        // Borrow on this thread (raw pointers are not Sync), verify in parallel.
        let borrowed: Vec<Result<Statement<'_>, msig_status>> = raw
            .iter()
            .map(|s| unsafe {
                borrow_statement(
                    s.proof,
                    s.proof_len,
                    s.public_keys,
                    s.num_public_keys,
                    s.message,
                    s.epoch,
                )
            })
            .collect();
        let statuses: Vec<msig_status> = borrowed
            .par_iter()
            .map(|st| match st {
                Ok(st) => ffi_boundary(|| verify_statement(st, require)),
                Err(status) => *status,
            })
            .collect();
        // SAFETY: `results` holds n writable entries per the contract.
        let out = unsafe { std::slice::from_raw_parts_mut(results, n) };
        out.copy_from_slice(&statuses);
        if statuses.iter().all(|s| *s == MSIG_OK) {
            Ok(())
        } else {
            Err(MSIG_PROOF_INVALID)
        }
    })
}
