//! `msig_aggregator`: collects signatures on one (message, epoch) and proves them as one
//! aggregate STARK proof.
//!
//! Thread safety: an aggregator may be shared between threads. Its state sits behind a mutex, so
//! `msig_aggregator_add`, `msig_aggregator_prove`, `msig_aggregator_len` and
//! `msig_aggregator_public_keys` may be called concurrently; they are serialized (a long prove
//! blocks adds to the same aggregator until it finishes). Only `msig_aggregator_free` needs
//! exclusive access. Different aggregators never block each other.
//!
//! If an operation on an aggregator panics (reported as `MSIG_PANIC`), the aggregator is
//! poisoned: every later call on it returns `MSIG_PANIC`; free it and start again.

use std::sync::{Mutex, MutexGuard};

use multisig::aggregate::{Aggregator, Backend, ProveOptions, Regime};
use multisig::xmss::{PublicKey, Signature};

use crate::error::{
    from_xmss, msig_status, MSIG_INVALID_ARGUMENT, MSIG_INVALID_OPTIONS, MSIG_MALFORMED_PUBLIC_KEY,
    MSIG_MALFORMED_SIGNATURE, MSIG_PANIC,
};
use crate::ffi::{
    borrow_array, borrow_handle, borrow_slice, check_out_buffer, free_handle, non_null,
    write_bytes, write_handle,
};
use crate::panic::{ffi_boundary, ffi_boundary_void};
use crate::{MSIG_MESSAGE_LEN, MSIG_PUBLIC_KEY_LEN};

/// Soundness regime of an aggregate proof (the `regime` field of `msig_prove_options`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum msig_regime {
    /// Provable soundness (FRI list decoding up to the Johnson bound), at least 124 bits for up
    /// to 1024 signatures. The default.
    MSIG_REGIME_PROVEN = 0,
    /// Conjectured (up-to-capacity) FRI soundness, 128 bits for up to 1024 signatures: about
    /// half the queries, so smaller proofs.
    MSIG_REGIME_CONJECTURED = 1,
}

/// Proof system of an aggregate proof (the `backend` field of `msig_prove_options`).
#[allow(non_camel_case_types)]
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum msig_backend {
    /// Univariate STARK with FRI: the fastest prover, proofs of 0.5 to 1 MiB. The default.
    MSIG_BACKEND_FRI = 0,
    /// Multilinear STARK with WHIR: proofs about a third of FRI's, a slower prover.
    MSIG_BACKEND_WHIR = 1,
}

/// Options of `msig_aggregator_prove` (and the preset a verifier may require). All-zero bytes
/// (`{0}` in C) are the defaults: proven regime, default rate.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct msig_prove_options {
    /// One of `msig_regime` (`MSIG_REGIME_PROVEN` = 0, `MSIG_REGIME_CONJECTURED` = 1); any other
    /// value is rejected with `MSIG_INVALID_OPTIONS`.
    pub regime: u32,
    /// log2 of the inverse code rate (FRI blowup or WHIR starting rate), 1..=4; 0 selects the
    /// default (1).
    pub log_inv_rate: u8,
    /// One of `msig_backend` (`MSIG_BACKEND_FRI` = 0, `MSIG_BACKEND_WHIR` = 1); any other value
    /// is rejected with `MSIG_INVALID_OPTIONS`. Sits in what was padding before it existed, so the
    /// struct keeps its size (8 bytes) and zeroed options keep meaning the defaults.
    pub backend: u8,
}

impl msig_prove_options {
    /// The core's options, or `MSIG_INVALID_OPTIONS` for an unknown regime. The rate is passed
    /// through: the core rejects unsupported rates with `ProveError::InvalidOptions`.
    pub(crate) fn to_core(self) -> Result<ProveOptions, msig_status> {
        let regime = match self.regime {
            r if r == msig_regime::MSIG_REGIME_PROVEN as u32 => Regime::Proven,
            r if r == msig_regime::MSIG_REGIME_CONJECTURED as u32 => Regime::Conjectured,
            _ => return Err(MSIG_INVALID_OPTIONS),
        };
        let backend = match self.backend {
            b if b == msig_backend::MSIG_BACKEND_FRI as u8 => Backend::Fri,
            b if b == msig_backend::MSIG_BACKEND_WHIR as u8 => Backend::Whir,
            _ => return Err(MSIG_INVALID_OPTIONS),
        };
        Ok(ProveOptions {
            regime,
            log_inv_rate: self.log_inv_rate,
            backend,
            max_proof_bytes: 0,
        })
    }

    /// Reads optional options: NULL means the defaults.
    ///
    /// # Safety
    /// `p` is NULL or points to a readable `msig_prove_options`.
    pub(crate) unsafe fn read_optional(p: *const Self) -> Result<ProveOptions, msig_status> {
        if p.is_null() {
            Ok(ProveOptions::default())
        } else {
            // SAFETY: non-NULL and readable per the caller's contract; every bit pattern of the
            // fields is a valid u32/u8 (padding is not read).
            unsafe { p.read() }.to_core()
        }
    }
}

/// The defaults (`MSIG_REGIME_PROVEN`, `log_inv_rate` 0), the same as passing NULL options.
#[no_mangle]
pub extern "C" fn msig_prove_options_default() -> msig_prove_options {
    msig_prove_options::default()
}

struct AggregatorState {
    inner: Aggregator,
    /// The last proof and the options it was made with; cleared by every successful add. Lets a
    /// caller retry `msig_aggregator_prove` with a bigger buffer without proving twice.
    last_proof: Option<(ProveOptions, Vec<u8>)>,
}

/// An aggregator (opaque): signatures by distinct public keys on one message at one epoch.
/// Created by `msig_aggregator_new`, destroyed by `msig_aggregator_free`. Shareable between
/// threads (internally locked).
pub struct msig_aggregator {
    state: Mutex<AggregatorState>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<msig_aggregator>();
};

impl msig_aggregator {
    fn lock(&self) -> Result<MutexGuard<'_, AggregatorState>, msig_status> {
        self.state.lock().map_err(|_| MSIG_PANIC)
    }
}

/// Creates an empty aggregator for `message` (32 bytes) at `epoch`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_PANIC`.
///
/// # Safety
/// `message` points to 32 readable bytes; `out` to one writable `msig_aggregator*`.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_new(
    message: *const u8,
    epoch: u32,
    out: *mut *mut msig_aggregator,
) -> msig_status {
    ffi_boundary(|| {
        let message = unsafe { borrow_array::<MSIG_MESSAGE_LEN>(message) }?;
        non_null(out)?;
        let state = AggregatorState {
            inner: Aggregator::new(*message, epoch),
            last_proof: None,
        };
        unsafe {
            write_handle(
                msig_aggregator {
                    state: Mutex::new(state),
                },
                out,
            )
        };
        Ok(())
    })
}

/// Adds the SSZ signature `signature` (`len` bytes) by the SSZ public key `public_key` (52 bytes).
/// The signature is verified natively against the aggregator's message and epoch first.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_ARGUMENT`, `MSIG_MALFORMED_PUBLIC_KEY`,
/// `MSIG_MALFORMED_SIGNATURE`, `MSIG_INVALID_SIGNATURE` (does not verify for this message and
/// epoch), `MSIG_DUPLICATE_PUBLIC_KEY`, `MSIG_PANIC`. On any error the aggregator is unchanged.
///
/// # Safety
/// `aggregator` is a live handle; `public_key` points to 52 readable bytes, `signature` to `len`.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_add(
    aggregator: *mut msig_aggregator,
    public_key: *const u8,
    signature: *const u8,
    len: usize,
) -> msig_status {
    ffi_boundary(|| {
        let agg = unsafe { borrow_handle(aggregator) }?;
        let pk = unsafe { borrow_array::<MSIG_PUBLIC_KEY_LEN>(public_key) }?;
        let sig = unsafe { borrow_slice(signature, len) }?;
        let pk = PublicKey::from_ssz(pk).map_err(|e| from_xmss(&e, MSIG_MALFORMED_PUBLIC_KEY))?;
        let sig = Signature::from_ssz(sig).map_err(|e| from_xmss(&e, MSIG_MALFORMED_SIGNATURE))?;
        let mut state = agg.lock()?;
        state.inner.add(pk, sig)?;
        state.last_proof = None;
        Ok(())
    })
}

/// Writes the number of signatures added so far to `*out`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_PANIC`.
///
/// # Safety
/// `aggregator` is a live handle; `out` points to one writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_len(
    aggregator: *const msig_aggregator,
    out: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let agg = unsafe { borrow_handle(aggregator) }?;
        non_null(out)?;
        let n = agg.lock()?.inner.len();
        unsafe { out.write(n) };
        Ok(())
    })
}

/// Writes the aggregated public keys, 52 SSZ bytes each, concatenated in the order the verifier
/// must pass them to `msig_verify_aggregate` (which may differ from the order of adds), and the
/// byte length (52 x count) to `*written`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_BUFFER_TOO_SMALL`, `MSIG_PANIC`.
///
/// # Safety
/// `aggregator` is a live handle; `out` points to `cap` writable bytes, `written` to one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_public_keys(
    aggregator: *const msig_aggregator,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let agg = unsafe { borrow_handle(aggregator) }?;
        check_out_buffer(out, written)?;
        let keys = agg.lock()?.inner.public_keys();
        let bytes: Vec<u8> = keys.iter().flat_map(|pk| pk.to_ssz()).collect();
        unsafe { write_bytes(&bytes, out, cap, written) }
    })
}

/// Proves every added signature as one aggregate proof and writes its bytes to `out` (capacity
/// `cap`), the length to `*written`.
///
/// `options` may be NULL for the defaults. The proof size is not known in advance: on
/// `MSIG_BUFFER_TOO_SMALL`, `*written` holds the size and the proof is kept inside the
/// aggregator, so calling again with the same options and a big enough buffer copies it without
/// proving again (any successful `msig_aggregator_add` in between discards it).
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_BUFFER_TOO_SMALL`, `MSIG_EMPTY_AGGREGATE`,
/// `MSIG_INVALID_OPTIONS`, `MSIG_PROVER_FAILED`, `MSIG_PANIC`.
///
/// # Safety
/// `aggregator` is a live handle; `options` is NULL or readable; `out` points to `cap` writable
/// bytes, `written` to one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_prove(
    aggregator: *mut msig_aggregator,
    options: *const msig_prove_options,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let agg = unsafe { borrow_handle(aggregator) }?;
        let opts = unsafe { msig_prove_options::read_optional(options) }?;
        check_out_buffer(out, written)?;
        let mut state = agg.lock()?;
        let cached = matches!(&state.last_proof, Some((o, _)) if *o == opts);
        if !cached {
            let proof = state.inner.prove(&opts)?;
            state.last_proof = Some((opts, proof.into_bytes()));
        }
        let (_, bytes) = state.last_proof.as_ref().ok_or(MSIG_INVALID_ARGUMENT)?;
        unsafe { write_bytes(bytes, out, cap, written) }
    })
}

/// Destroys an aggregator. NULL is a no-op. No other thread may use the handle during or after
/// the call.
///
/// # Safety
/// `aggregator` is NULL or a live handle from `msig_aggregator_new`, freed at most once.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_free(aggregator: *mut msig_aggregator) {
    ffi_boundary_void(|| unsafe { free_handle(aggregator) })
}
