//! Aggregate-proof verification: one proof (`msig_verify_aggregate`) or many at once
//! (`msig_verify_aggregates`, in parallel on the global thread pool), under a verifier policy
//! (`msig_verify_options`). Stateless and thread-safe.

use multisig::aggregate::Preset;
use multisig::aggregate::{verify_aggregate, VerifyOptions};
use multisig::xmss::PublicKey;
use rayon::prelude::*;

use crate::aggregator::msig_prove_options;
use crate::error::{
    from_decode_error, msig_status, MSIG_INVALID_ARGUMENT, MSIG_INVALID_OPTIONS,
    MSIG_MALFORMED_PUBLIC_KEY, MSIG_OK, MSIG_SOME_PROOFS_INVALID,
};
use crate::ffi::{borrow_array, borrow_slice, non_null};
use crate::panic::ffi_boundary;
use crate::{MSIG_MESSAGE_LEN, MSIG_PUBLIC_KEY_LEN};

/// The verifier's policy for `msig_verify_aggregate` and `msig_verify_aggregates`: which proof
/// presets it accepts. NULL options, zeroed options (`{0}` in C) and
/// `msig_verify_options_default()` are the defaults: accept a proof only if its preset is at
/// least 124 bits *proven* for the statement at hand (every proven preset the prover makes),
/// under any backend and rate.
///
/// Layout (C): `const msig_prove_options *require; uint8_t allow_conjectured;` then padding
/// (16 bytes on 64-bit targets).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct msig_verify_options {
    /// NULL: no requirement. Otherwise the preset the proof must have been made under (backend,
    /// regime and rate compared, `log_inv_rate` 0 meaning the backend's default;
    /// `max_proof_bytes` is ignored): a proof under any other preset is refused with
    /// `MSIG_PRESET_NOT_ACCEPTED`. Invalid options here (unknown regime or backend, unsupported
    /// rate) are `MSIG_INVALID_OPTIONS`. Requiring a conjectured preset does not by itself
    /// accept it: `allow_conjectured` must be set too.
    pub require: *const msig_prove_options,
    /// 0 (the default): refuse proofs under the conjectured presets (`MSIG_REGIME_CONJECTURED`)
    /// with `MSIG_PRESET_NOT_ACCEPTED`, since they are below 124 bits proven. 1: accept them too,
    /// graded in the conjectured regime (at least 124 bits under the random-words conjecture).
    /// The cost of opting in: a conjectured preset is only 57 to 117 bits provable (about 73 at
    /// rate 1/4), and the prover, not the verifier, picks the preset, so a verifier that sets
    /// this accepts proofs worth that little under what is proven today. Any other value is
    /// `MSIG_INVALID_OPTIONS`.
    pub allow_conjectured: u8,
}

impl Default for msig_verify_options {
    fn default() -> Self {
        Self {
            require: std::ptr::null(),
            allow_conjectured: 0,
        }
    }
}

/// The default verifier policy (`require` NULL, `allow_conjectured` 0), the same as passing NULL
/// or zeroed options: only presets at least 124 bits proven for the statement.
#[no_mangle]
pub extern "C" fn msig_verify_options_default() -> msig_verify_options {
    msig_verify_options::default()
}

/// Reads optional verifier options (NULL: the defaults) into the core's.
///
/// # Safety
/// `p` is NULL or points to a readable `msig_verify_options` whose `require` is NULL or
/// readable.
pub(crate) unsafe fn read_verify_options(
    p: *const msig_verify_options,
) -> Result<VerifyOptions, msig_status> {
    if p.is_null() {
        return Ok(VerifyOptions::default());
    }
    // SAFETY: non-NULL and readable per the caller's contract; a pointer and a u8 have no invalid
    // bit patterns.
    let opts = unsafe { p.read() };
    let allow_conjectured = match opts.allow_conjectured {
        0 => false,
        1 => true,
        _ => return Err(MSIG_INVALID_OPTIONS),
    };
    let require = if opts.require.is_null() {
        None
    } else {
        // SAFETY: non-NULL and readable per the caller's contract.
        let required = unsafe { msig_prove_options::read_optional(opts.require) }?;
        // A requirement no preset meets is a caller error, reported as such (the core would
        // only refuse every proof with `PresetNotAccepted`).
        Preset::from_options(&required).map_err(|_| MSIG_INVALID_OPTIONS)?;
        Some(required)
    };
    Ok(VerifyOptions {
        require,
        allow_conjectured,
    })
}

/// One aggregate statement for `msig_verify_aggregates`: the proof, the public keys in any order
/// (`num_public_keys` x 52 SSZ bytes, concatenated, as `msig_aggregator_public_keys` writes
/// them), the 32-byte message and the epoch. All pointers must be non-NULL.
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
fn verify_statement(st: &Statement<'_>, opts: &VerifyOptions) -> Result<(), msig_status> {
    let keys = st
        .public_keys
        .chunks_exact(MSIG_PUBLIC_KEY_LEN)
        .map(|b| {
            PublicKey::from_ssz(b).map_err(|e| from_decode_error(&e, MSIG_MALFORMED_PUBLIC_KEY))
        })
        .collect::<Result<Vec<_>, _>>()?;
    verify_aggregate(st.proof, &keys, st.message, st.epoch, opts)?;
    Ok(())
}

/// Verifies an aggregate proof (`proof_len` bytes) for `num_public_keys` SSZ public keys
/// (`public_keys`: `num_public_keys` x 52 bytes, in any order: the proof binds the set, as
/// `msig_aggregator_public_keys` writes it or otherwise ordered), the 32-byte `message` and
/// `epoch`.
///
/// `options` may be NULL for the default policy: the proof's preset must be at least 124 bits
/// proven for this statement, which refuses every conjectured preset (see
/// `msig_verify_options`). The preset is checked before anything else of the proof is decoded.
///
/// Returns `MSIG_OK` if the proof is valid; `MSIG_PRESET_NOT_ACCEPTED` if its preset is refused
/// by the policy (a conjectured preset without `allow_conjectured`, not the `require`d preset,
/// below 124 bits for this many signatures); `MSIG_PROOF_INVALID` if it is well-formed but false
/// for this statement (another key set, message or epoch, altered bytes, an empty list or one
/// naming a key twice); `MSIG_MALFORMED_PROOF` if it does not decode (truncated, bad envelope,
/// lengths that disagree with the statement); `MSIG_MALFORMED_PUBLIC_KEY`;
/// `MSIG_NULL_ARGUMENT`; `MSIG_INVALID_ARGUMENT` (`num_public_keys` x 52 overflows);
/// `MSIG_INVALID_OPTIONS` (bad `options`); `MSIG_PANIC`.
///
/// # Safety
/// `proof` points to `proof_len` readable bytes, `public_keys` to `num_public_keys` x 52,
/// `message` to 32; `options` is NULL or readable, and so is its `require`.
#[no_mangle]
pub unsafe extern "C" fn msig_verify_aggregate(
    proof: *const u8,
    proof_len: usize,
    public_keys: *const u8,
    num_public_keys: usize,
    message: *const u8,
    epoch: u32,
    options: *const msig_verify_options,
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
        let opts = unsafe { read_verify_options(options) }?;
        verify_statement(&st, &opts)
    })
}

/// Verifies `n` aggregate statements in parallel (on the global thread pool) under one policy
/// (`options`, NULL for the default; see `msig_verify_aggregate`).
///
/// Returns:
/// - `MSIG_OK`: every statement verified; `results[i]` = `MSIG_OK` for each.
/// - `MSIG_SOME_PROOFS_INVALID`: the call completed and at least one statement did not verify;
///   `results[i]` holds exactly what `msig_verify_aggregate` would return for statement `i`
///   (`MSIG_OK`, `MSIG_PROOF_INVALID`, `MSIG_MALFORMED_PROOF`, `MSIG_PRESET_NOT_ACCEPTED`,
///   `MSIG_NULL_ARGUMENT` for a NULL pointer inside the statement, ...). This is the one status
///   other than `MSIG_OK` on which an output is written.
/// - anything else: a call-level failure, and `results` is untouched: `MSIG_NULL_ARGUMENT`
///   (`statements` or `results` NULL), `MSIG_INVALID_ARGUMENT` (`n` too large),
///   `MSIG_INVALID_OPTIONS` (bad `options`), `MSIG_PANIC`.
///
/// `n` = 0 is `MSIG_OK` (nothing to write).
///
/// # Safety
/// `statements` points to `n` readable statements whose buffers satisfy `msig_verify_aggregate`'s
/// contract; `results` to `n` writable `msig_status` (uint32_t); `options` is NULL or readable,
/// and so is its `require`.
#[no_mangle]
pub unsafe extern "C" fn msig_verify_aggregates(
    statements: *const msig_aggregate_statement,
    n: usize,
    options: *const msig_verify_options,
    results: *mut msig_status,
) -> msig_status {
    ffi_boundary(|| {
        non_null(statements)?;
        non_null(results)?;
        if n > isize::MAX as usize / std::mem::size_of::<msig_aggregate_statement>() {
            return Err(MSIG_INVALID_ARGUMENT);
        }
        let opts = unsafe { read_verify_options(options) }?;
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
                Ok(st) => ffi_boundary(|| verify_statement(st, &opts)),
                Err(status) => *status,
            })
            .collect();
        // Nothing below can fail: the results are written exactly when the call completed.
        // SAFETY: `results` holds n writable entries per the contract.
        let out = unsafe { std::slice::from_raw_parts_mut(results, n) };
        out.copy_from_slice(&statuses);
        if statuses.iter().all(|s| *s == MSIG_OK) {
            Ok(())
        } else {
            Err(MSIG_SOME_PROOFS_INVALID)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use multisig::aggregate::{Backend, Regime};

    #[test]
    fn verify_options_null_and_zeroed_are_the_default_policy() {
        let d = unsafe { read_verify_options(std::ptr::null()) }.unwrap();
        assert_eq!(d, VerifyOptions::default());
        assert!(!d.allow_conjectured && d.require.is_none());
        let zeroed = msig_verify_options_default();
        assert_eq!(
            unsafe { read_verify_options(&zeroed) }.unwrap(),
            VerifyOptions::default()
        );
    }

    #[test]
    fn verify_options_are_read_strictly() {
        let whir = msig_prove_options {
            backend: 1,
            ..Default::default()
        };
        let o = msig_verify_options {
            require: &whir,
            allow_conjectured: 1,
        };
        let core = unsafe { read_verify_options(&o) }.unwrap();
        assert!(core.allow_conjectured);
        let req = core.require.unwrap();
        assert_eq!((req.backend, req.regime), (Backend::Whir, Regime::Proven));
        let bad_flag = msig_verify_options {
            require: std::ptr::null(),
            allow_conjectured: 2,
        };
        assert_eq!(
            unsafe { read_verify_options(&bad_flag) },
            Err(MSIG_INVALID_OPTIONS)
        );
        for bad in [
            msig_prove_options {
                regime: 9,
                ..Default::default()
            },
            msig_prove_options {
                log_inv_rate: 5,
                ..Default::default()
            },
            msig_prove_options {
                backend: 1,
                log_inv_rate: 3,
                ..Default::default()
            },
            msig_prove_options {
                backend: 1,
                regime: 1,
                ..Default::default()
            },
        ] {
            let bad_req = msig_verify_options {
                require: &bad,
                allow_conjectured: 0,
            };
            assert_eq!(
                unsafe { read_verify_options(&bad_req) },
                Err(MSIG_INVALID_OPTIONS),
                "{bad:?}"
            );
        }
    }
}
