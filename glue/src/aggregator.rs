//! `msig_aggregator`: collects signatures on one (message, epoch) and proves them as one
//! aggregate STARK proof.
//!
//! Thread safety: an aggregator may be shared between threads. Its state sits behind a mutex, so
//! `msig_aggregator_add`, `msig_aggregator_prove`, `msig_aggregator_len` and
//! `msig_aggregator_public_keys` may be called concurrently; they are serialized (a long prove
//! blocks adds to the same aggregator until it finishes). Only `msig_aggregator_free` needs
//! exclusive access. Different aggregators never block each other.
//!
//! The proof binds the set of public keys: a verifier may pass them in any order (the order of
//! adds, as `msig_aggregator_public_keys` reports it, or any other); a key listed twice is
//! `MSIG_PROOF_INVALID`.
//!
//! If an operation on an aggregator panics (reported as `MSIG_PANIC`), the aggregator is
//! poisoned: every later call on it returns `MSIG_PANIC`; free it and start again.

use std::sync::{Mutex, MutexGuard};

use multisig::aggregate::Preset;
use multisig::aggregate::{proof_size_bound, Aggregator, Backend, ProveOptions, Regime};
use multisig::xmss::{PublicKey, Signature};

use crate::error::{
    from_decode_error, msig_status, MSIG_INVALID_ARGUMENT, MSIG_INVALID_OPTIONS,
    MSIG_MALFORMED_PUBLIC_KEY, MSIG_MALFORMED_SIGNATURE, MSIG_PANIC,
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
    /// Provable soundness (FRI list decoding up to the Johnson bound): every proven preset the
    /// prover accepts is at least 124 bits proven for the statement it proves. The default, and
    /// the only regime the default verifier accepts.
    MSIG_REGIME_PROVEN = 0,
    /// Conjectured (up-to-capacity) FRI soundness: at least 124 bits under the random-words
    /// conjecture, with about half the queries of the proven presets, so smaller proofs; only about
    /// 73 bits provable. FRI only. A verifier accepts such a proof only
    /// if it opts in (`msig_verify_options.allow_conjectured`).
    MSIG_REGIME_CONJECTURED = 1,
}

/// Proof system of an aggregate proof (the `backend` field of `msig_prove_options`).
#[allow(non_camel_case_types)]
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum msig_backend {
    /// Univariate STARK with FRI: the fastest prover. Its default preset (proven, rate 1/8)
    /// stays within the 512 KiB wire cap for every batch of up to 4096 signatures. The default.
    MSIG_BACKEND_FRI = 0,
    /// Multilinear STARK with WHIR: smaller proofs, a slower prover. Proven presets only, at
    /// `log_inv_rate` 1 (at most 512 signatures) or 2 (at most 256); more signatures are refused
    /// with `MSIG_INVALID_OPTIONS`.
    MSIG_BACKEND_WHIR = 1,
    /// FRI as `MSIG_BACKEND_FRI`, with Merkle trees and the Fiat-Shamir transcript over
    /// leanSig's Poseidon1-24 permutation: the recursion-ready proof system (proofs an AIR can
    /// verify). Proven presets only (`MSIG_REGIME_CONJECTURED` is rejected with
    /// `MSIG_INVALID_OPTIONS`), `log_inv_rate` 1..=4, default 3; a slower prover than FRI.
    MSIG_BACKEND_FRI_POSEIDON1 = 2,
}

/// Options of `msig_aggregator_prove` (and `msig_prepare`, and the preset a verifier may require
/// through `msig_verify_options.require`). All-zero bytes (`{0}` in C) are the defaults: FRI,
/// proven regime, the backend's default rate, the 512 KiB byte limit.
///
/// Layout (C): `uint32_t regime; uint8_t log_inv_rate; uint8_t backend;` 2 bytes of padding,
/// `size_t max_proof_bytes;` (16 bytes on 64-bit targets).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct msig_prove_options {
    /// One of `msig_regime` (`MSIG_REGIME_PROVEN` = 0, `MSIG_REGIME_CONJECTURED` = 1); any other
    /// value is rejected with `MSIG_INVALID_OPTIONS`.
    pub regime: u32,
    /// log2 of the inverse code rate (FRI blowup or WHIR starting rate): 1..=4 for FRI, 1..=2 for
    /// WHIR; 0 selects the backend's default (FRI 3, i.e. rate 1/8; WHIR 1). Other values are
    /// rejected with `MSIG_INVALID_OPTIONS`.
    pub log_inv_rate: u8,
    /// One of `msig_backend` (`MSIG_BACKEND_FRI` = 0, `MSIG_BACKEND_WHIR` = 1,
    /// `MSIG_BACKEND_FRI_POSEIDON1` = 2); any other value is rejected with
    /// `MSIG_INVALID_OPTIONS`.
    pub backend: u8,
    /// Largest proof the caller accepts, in bytes: 0 means 512 KiB (524288, the wire cap of an
    /// aggregate in consensus clients), `SIZE_MAX` means no limit. Before proving,
    /// `msig_aggregator_prove` computes the largest proof the preset can produce for the
    /// aggregator's number of signatures and returns `MSIG_PROOF_TOO_LARGE` when that exceeds
    /// the limit (FRI at rate 1/2 does even for one signature). Ignored by `msig_prepare` and in
    /// `msig_verify_options.require`.
    pub max_proof_bytes: usize,
}

impl msig_prove_options {
    /// The core's options, or `MSIG_INVALID_OPTIONS` for an unknown regime or backend. The rate
    /// is passed through: the core rejects unsupported rates with `ProveError::InvalidOptions`.
    pub(crate) fn to_core(self) -> Result<ProveOptions, msig_status> {
        let regime = match self.regime {
            r if r == msig_regime::MSIG_REGIME_PROVEN as u32 => Regime::Proven,
            r if r == msig_regime::MSIG_REGIME_CONJECTURED as u32 => Regime::Conjectured,
            _ => return Err(MSIG_INVALID_OPTIONS),
        };
        let backend = match self.backend {
            b if b == msig_backend::MSIG_BACKEND_FRI as u8 => Backend::Fri,
            b if b == msig_backend::MSIG_BACKEND_WHIR as u8 => Backend::Whir,
            b if b == msig_backend::MSIG_BACKEND_FRI_POSEIDON1 as u8 => Backend::FriPoseidon1,
            _ => return Err(MSIG_INVALID_OPTIONS),
        };
        Ok(ProveOptions {
            regime,
            log_inv_rate: self.log_inv_rate,
            backend,
            max_proof_bytes: self.max_proof_bytes,
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
            // fields is a valid u32/u8/usize (padding is not read).
            unsafe { p.read() }.to_core()
        }
    }
}

/// The defaults (FRI, `MSIG_REGIME_PROVEN`, `log_inv_rate` 0, `max_proof_bytes` 0), the same as
/// passing NULL options or zeroed ones.
#[no_mangle]
pub extern "C" fn msig_prove_options_default() -> msig_prove_options {
    msig_prove_options::default()
}

/// What decides whether a kept proof answers a new `msig_aggregator_prove`: the preset (regime,
/// backend and rate, with `log_inv_rate` 0 resolved to the backend's default) and the byte limit
/// (0 resolved to 512 KiB). Options that differ only in how they spell the same preset and limit
/// get the kept proof; any other difference proves again, so a smaller limit is checked before
/// anything is copied.
fn cache_key(opts: &ProveOptions) -> ProveOptions {
    let log_inv_rate = match opts.log_inv_rate {
        0 => opts.backend.default_log_inv_rate(),
        r => r,
    };
    ProveOptions {
        log_inv_rate,
        max_proof_bytes: opts.byte_limit(),
        ..*opts
    }
}

struct AggregatorState {
    inner: Aggregator,
    /// The last proof and the [`cache_key`] of the options it was made with; cleared by every
    /// successful add. Lets a caller retry `msig_aggregator_prove` with a bigger buffer without
    /// proving twice.
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
        let pk = PublicKey::from_ssz(pk)
            .map_err(|e| from_decode_error(&e, MSIG_MALFORMED_PUBLIC_KEY))?;
        let sig = Signature::from_ssz(sig)
            .map_err(|e| from_decode_error(&e, MSIG_MALFORMED_SIGNATURE))?;
        let mut state = agg.lock()?;
        state.inner.add(pk, sig)?;
        state.last_proof = None;
        Ok(())
    })
}

/// Adds a child: the aggregate proof `proof` (`proof_len` bytes) of this aggregator's message
/// and epoch for the `num_public_keys` SSZ public keys `public_keys` (52 bytes each, in any
/// order), made under a recursion-ready preset (`MSIG_BACKEND_FRI_POSEIDON1`). The child is
/// verified first, as `msig_verify_aggregate` with the default policy would.
/// `msig_aggregator_prove` then makes a parent proof over the children, for the union of their
/// keys (children may overlap), which `msig_verify_aggregate` verifies for that union: a compact
/// parent when the options name `MSIG_BACKEND_WHIR` (proved over WHIR; its worst case fits the
/// 512 KiB limit up to 16 children of 1,024 keys at `log_inv_rate` 2, up to two children of 775
/// at `log_inv_rate` 1, which proves faster; `log_inv_rate` 0 takes 1 when the worst case fits
/// `max_proof_bytes`, else 2), or a parent under the children's
/// preset when they name it (over 512 KiB today: raise `max_proof_bytes`). Children may hold
/// different numbers of keys (at most 8 distinct sizes); signatures added beside children
/// (`msig_aggregator_add`) are proved first as one more child. Not yet: a parent as a child.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_ARGUMENT` (`num_public_keys` x 52 overflows),
/// `MSIG_MALFORMED_PUBLIC_KEY`, `MSIG_PROOF_INVALID` (the proof does not verify for this
/// message, epoch and keys, or cannot be a child: a parent, or made under FRI over Keccak or
/// WHIR), `MSIG_PANIC`. On any error the aggregator is unchanged.
///
/// # Safety
/// `aggregator` is a live handle; `proof` points to `proof_len` readable bytes, `public_keys`
/// to `num_public_keys` x 52.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_add_child(
    aggregator: *mut msig_aggregator,
    proof: *const u8,
    proof_len: usize,
    public_keys: *const u8,
    num_public_keys: usize,
) -> msig_status {
    ffi_boundary(|| {
        let agg = unsafe { borrow_handle(aggregator) }?;
        let proof = unsafe { borrow_slice(proof, proof_len) }?;
        let pk_bytes = num_public_keys
            .checked_mul(MSIG_PUBLIC_KEY_LEN)
            .ok_or(MSIG_INVALID_ARGUMENT)?;
        let keys = unsafe { borrow_slice(public_keys, pk_bytes) }?
            .chunks_exact(MSIG_PUBLIC_KEY_LEN)
            .map(|b| {
                PublicKey::from_ssz(b).map_err(|e| from_decode_error(&e, MSIG_MALFORMED_PUBLIC_KEY))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = agg.lock()?;
        state.inner.add_child(proof, &keys)?;
        state.last_proof = None;
        Ok(())
    })
}

/// Writes the number of children added so far (`msig_aggregator_add_child`) to `*out`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_PANIC`.
///
/// # Safety
/// `aggregator` is a live handle; `out` points to one writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_aggregator_num_children(
    aggregator: *const msig_aggregator,
    out: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let agg = unsafe { borrow_handle(aggregator) }?;
        non_null(out)?;
        let n = agg.lock()?.inner.num_children();
        unsafe { out.write(n) };
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

/// Writes the aggregated public keys, 52 SSZ bytes each, concatenated in the order of the
/// successful `msig_aggregator_add` calls, and the byte length (52 x count) to `*written`. With
/// concurrent adds, the order is the order in which the adds took the aggregator's lock. The
/// proof binds the set, not this order: `msig_verify_aggregate` accepts these keys in any order.
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

/// Writes to `*out` the largest proof, in bytes, that `msig_aggregator_prove` can produce under
/// `options` (NULL: the defaults) for `num_signatures` signatures: every length the statement
/// fixes, and every Merkle multiproof at its worst case. A buffer of this size always holds the
/// proof, whatever the run (proof sizes vary by a few KiB from run to run with the queries'
/// overlap). The byte limit of `options` plays no part here; `msig_aggregator_prove` refuses a
/// preset when this bound exceeds it.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_OPTIONS` (no such preset), `MSIG_INVALID_ARGUMENT`
/// (`num_signatures` is 0 or more than the preset takes: 4096 for FRI, 512 or 256 for WHIR),
/// `MSIG_PANIC`.
///
/// # Safety
/// `options` is NULL or readable; `out` points to one writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_proof_size_bound(
    options: *const msig_prove_options,
    num_signatures: usize,
    out: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let opts = unsafe { msig_prove_options::read_optional(options) }?;
        non_null(out)?;
        let preset = Preset::from_options(&opts).map_err(|_| MSIG_INVALID_OPTIONS)?;
        if num_signatures == 0 || num_signatures > preset.max_signatures() {
            return Err(MSIG_INVALID_ARGUMENT);
        }
        let bound = proof_size_bound(&preset, num_signatures).map_err(|_| MSIG_INVALID_ARGUMENT)?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { out.write(bound) };
        Ok(())
    })
}

/// Proves every added signature as one aggregate proof and writes its bytes to `out` (capacity
/// `cap`), the length to `*written`. The proof binds the set of added public keys (whatever the
/// order of the adds), the message and the epoch.
///
/// `options` may be NULL for the defaults (FRI, proven, rate 1/8, at most 512 KiB). Before any
/// proving, the options are checked (`MSIG_INVALID_OPTIONS`) and so is the largest proof the
/// preset can produce for this many signatures against `options->max_proof_bytes`
/// (`MSIG_PROOF_TOO_LARGE`); on either, nothing is written.
///
/// The proof size is not known in advance: on `MSIG_BUFFER_TOO_SMALL`, `*written` holds the size
/// and the proof is kept inside the aggregator, so calling again with the same options and a big
/// enough buffer copies it without proving again. "The same" means the same preset and byte
/// limit: `log_inv_rate` 0 and the backend's default rate count as equal, and so do
/// `max_proof_bytes` 0 and 524288; any other change of options proves again (and checks the new
/// limit first). Any successful `msig_aggregator_add` in between discards the kept proof.
///
/// With children (`msig_aggregator_add_child`), the proof is a parent over them: the options
/// must name `MSIG_BACKEND_WHIR` (a compact parent) or the children's preset, and the parent's
/// largest size is checked against the limit before any proving. Children may differ in their
/// numbers of keys; signatures added beside children are proved first as one more child under
/// the children's preset, and the parent covers the union of all their keys.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_BUFFER_TOO_SMALL`, `MSIG_EMPTY_AGGREGATE`,
/// `MSIG_INVALID_OPTIONS` (unknown regime or backend, unsupported rate, WHIR past its signature
/// bound; with children, another preset than theirs or more than 8 sizes of children),
/// `MSIG_PROOF_TOO_LARGE`, `MSIG_PROVER_FAILED`, `MSIG_PANIC`.
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
        let key = cache_key(&opts);
        let cached = matches!(&state.last_proof, Some((k, _)) if *k == key);
        if !cached {
            let proof = state.inner.prove(&opts)?;
            state.last_proof = Some((key, proof.into_bytes()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use multisig::aggregate::WIRE_CAP_BYTES;

    #[test]
    fn zeroed_options_are_the_defaults() {
        let zero = msig_prove_options_default();
        assert_eq!(
            zero,
            msig_prove_options {
                regime: 0,
                log_inv_rate: 0,
                backend: 0,
                max_proof_bytes: 0
            }
        );
        assert_eq!(zero.to_core().unwrap(), ProveOptions::default());
        let limited = msig_prove_options {
            max_proof_bytes: 1000,
            ..zero
        };
        assert_eq!(limited.to_core().unwrap().max_proof_bytes, 1000);
        for bad in [
            msig_prove_options { regime: 2, ..zero },
            msig_prove_options { backend: 3, ..zero },
            msig_prove_options {
                backend: u8::MAX,
                ..zero
            },
        ] {
            assert_eq!(bad.to_core(), Err(MSIG_INVALID_OPTIONS));
        }
        let poseidon1 = msig_prove_options {
            backend: msig_backend::MSIG_BACKEND_FRI_POSEIDON1 as u8,
            ..zero
        };
        assert_eq!(poseidon1.to_core().unwrap().backend, Backend::FriPoseidon1);
    }

    #[test]
    fn cache_key_equates_spellings_of_one_preset_and_limit_only() {
        let d = ProveOptions::default();
        let spelled_out = ProveOptions {
            log_inv_rate: Backend::Fri.default_log_inv_rate(),
            max_proof_bytes: WIRE_CAP_BYTES,
            ..d
        };
        assert_eq!(cache_key(&d), cache_key(&spelled_out));
        let whir = ProveOptions {
            backend: Backend::Whir,
            ..d
        };
        let whir_spelled = ProveOptions {
            log_inv_rate: Backend::Whir.default_log_inv_rate(),
            ..whir
        };
        assert_eq!(cache_key(&whir), cache_key(&whir_spelled));
        assert_ne!(cache_key(&d), cache_key(&whir));
        // Another limit, rate or regime is another key: the prover runs (and checks the limit).
        for other in [
            ProveOptions {
                max_proof_bytes: WIRE_CAP_BYTES - 1,
                ..d
            },
            ProveOptions {
                max_proof_bytes: usize::MAX,
                ..d
            },
            ProveOptions {
                log_inv_rate: 4,
                ..d
            },
            ProveOptions {
                regime: Regime::Conjectured,
                ..d
            },
        ] {
            assert_ne!(cache_key(&d), cache_key(&other), "{other:?}");
        }
    }
}
