//! `msig_keypair`: an XMSS secret key with its public key.
//!
//! Thread safety: a keypair is immutable after creation. It may be shared between threads and
//! used by several `msig_sign` calls at once; only `msig_keypair_free` needs exclusive access.
//!
//! leanSig keys are stateless in this API: the library does not remember which epochs were used.
//! Signing two different messages at the same epoch reveals secret chain values; the caller must
//! sign each epoch at most once.

use multisig::xmss::{self, PublicKey, SecretKey};

use crate::error::{from_xmss, msig_status, MSIG_MALFORMED_SECRET_KEY};
use crate::ffi::{
    borrow_array, borrow_handle, borrow_slice, check_out_buffer, free_handle, non_null,
    write_array, write_bytes, write_handle,
};
use crate::panic::{ffi_boundary, ffi_boundary_void};
use crate::{MSIG_PUBLIC_KEY_LEN, MSIG_SEED_LEN};

/// An XMSS keypair (opaque). Created by `msig_keypair_generate` or `msig_keypair_from_ssz`,
/// destroyed by `msig_keypair_free`. Shareable between threads (read-only after creation).
pub struct msig_keypair {
    pub(crate) secret: SecretKey,
    pub(crate) public: PublicKey,
}

// The handle is documented as shareable between threads: make that a compile-time fact.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<msig_keypair>();
};

/// Generates a keypair deterministically from a 32-byte seed (leanSig key generation for
/// `SIGAbortingTargetSumLifetime32Dim46Base8`).
///
/// - `seed`: `MSIG_SEED_LEN` (32) bytes of secret randomness.
/// - `activation_epoch`, `num_active_epochs`: the epochs the key may sign,
///   `[activation_epoch, activation_epoch + num_active_epochs)` within the 2^32 lifetime; the
///   scheme may widen the range to whole bottom trees (2^16 epochs each). Cost grows with the
///   range: about 2^17 epochs is the smallest real key and takes seconds.
/// - `out`: receives the new handle on `MSIG_OK`; free it with `msig_keypair_free`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_KEYGEN_ARGUMENTS`, `MSIG_PANIC`.
///
/// # Safety
/// `seed` points to 32 readable bytes; `out` to one writable `msig_keypair*`.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_generate(
    seed: *const u8,
    activation_epoch: u64,
    num_active_epochs: u64,
    out: *mut *mut msig_keypair,
) -> msig_status {
    ffi_boundary(|| {
        let seed = unsafe { borrow_array::<MSIG_SEED_LEN>(seed) }?;
        non_null(out)?;
        let (public, secret) = xmss::keygen(*seed, activation_epoch, num_active_epochs)
            .map_err(|e| from_xmss(&e, MSIG_MALFORMED_SECRET_KEY))?;
        unsafe { write_handle(msig_keypair { secret, public }, out) };
        Ok(())
    })
}

/// Loads a keypair from a secret key in leanSig's SSZ layout (as written by
/// `msig_keypair_secret_key_ssz`); the public key is derived from it.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_ARGUMENT` (len over `PTRDIFF_MAX`),
/// `MSIG_MALFORMED_SECRET_KEY`, `MSIG_PANIC`.
///
/// # Safety
/// `secret_key` points to `len` readable bytes; `out` to one writable `msig_keypair*`.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_from_ssz(
    secret_key: *const u8,
    len: usize,
    out: *mut *mut msig_keypair,
) -> msig_status {
    ffi_boundary(|| {
        let bytes = unsafe { borrow_slice(secret_key, len) }?;
        non_null(out)?;
        let secret =
            SecretKey::from_ssz(bytes).map_err(|e| from_xmss(&e, MSIG_MALFORMED_SECRET_KEY))?;
        let public = secret.public_key();
        unsafe { write_handle(msig_keypair { secret, public }, out) };
        Ok(())
    })
}

/// Writes the keypair's SSZ public key (root then parameter, `MSIG_PUBLIC_KEY_LEN` = 52 bytes) to
/// `out`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_PANIC`.
///
/// # Safety
/// `keypair` is a live handle; `out` points to 52 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_public_key(
    keypair: *const msig_keypair,
    out: *mut u8,
) -> msig_status {
    ffi_boundary(|| {
        let kp = unsafe { borrow_handle(keypair) }?;
        non_null(out)?;
        let ssz: [u8; MSIG_PUBLIC_KEY_LEN] = kp.public.to_ssz();
        unsafe { write_array(&ssz, out) };
        Ok(())
    })
}

/// Writes the keypair's secret key in leanSig's SSZ layout to `out` (capacity `cap` bytes) and its
/// length to `*written`. The length depends on the key's range; call with `cap = 0` to learn it
/// (`MSIG_BUFFER_TOO_SMALL` with `*written` set). The bytes are secret: wipe them after use.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_BUFFER_TOO_SMALL`, `MSIG_PANIC`.
///
/// # Safety
/// `keypair` is a live handle; `out` points to `cap` writable bytes; `written` to one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_secret_key_ssz(
    keypair: *const msig_keypair,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let kp = unsafe { borrow_handle(keypair) }?;
        check_out_buffer(out, written)?;
        let ssz = kp.secret.to_ssz();
        unsafe { write_bytes(&ssz, out, cap, written) }
    })
}

/// Destroys a keypair. NULL is a no-op. The handle must not be used afterwards, and no other thread
/// may be using it during the call.
///
/// # Safety
/// `keypair` is NULL or a live handle from `msig_keypair_generate`/`msig_keypair_from_ssz`, freed
/// at most once.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_free(keypair: *mut msig_keypair) {
    ffi_boundary_void(|| unsafe { free_handle(keypair) })
}
