//! Single signatures: `msig_sign` (advances the keypair's prepared window when needed; see
//! `keypair.rs`) and `msig_verify` (stateless). Both are thread-safe.

use multisig::xmss::{self, PublicKey, Signature};

use crate::error::{
    from_decode_error, msig_status, MSIG_BUFFER_TOO_SMALL, MSIG_INVALID_SIGNATURE,
    MSIG_MALFORMED_PUBLIC_KEY, MSIG_MALFORMED_SIGNATURE,
};
use crate::ffi::{borrow_array, borrow_handle, borrow_slice, check_out_buffer, write_bytes};
use crate::keypair::msig_keypair;
use crate::panic::ffi_boundary;
use crate::{MSIG_MESSAGE_LEN, MSIG_PUBLIC_KEY_LEN, MSIG_SIGNATURE_LEN};

/// Signs a 32-byte message at `epoch` (leanSig deterministic signing) and writes the SSZ
/// signature (`MSIG_SIGNATURE_LEN` = 2536 bytes) to `out`, its length to `*written`.
///
/// Any epoch of the key's activation interval can be signed: if `epoch` lies past the prepared
/// window, the window is advanced first, one bottom tree of 2^16 leaves at a time (several
/// seconds each; `msig_keypair_prepare_epoch` does this ahead of time instead), and the secret
/// key changes: persist it afterwards (`msig_keypair_secret_key_ssz`). The advance stays even if
/// signing then fails. Safe to call from several threads on one keypair; signing an epoch already
/// in the window is not held up by another thread's advance.
///
/// Sign each epoch at most once: two messages signed at one epoch leak chain secrets.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_BUFFER_TOO_SMALL` (checked first: nothing is computed and
/// the key is not advanced), `MSIG_EPOCH_OUT_OF_RANGE` (outside the key's activation interval,
/// or before its prepared window: the window never moves back), `MSIG_SIGNING_FAILED` (no
/// codeword found; negligible probability), `MSIG_PANIC`.
///
/// # Safety
/// `keypair` is a live handle; `message` points to 32 readable bytes, `out` to `cap` writable
/// bytes, `written` to one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_sign(
    keypair: *mut msig_keypair,
    epoch: u32,
    message: *const u8,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let kp = unsafe { borrow_handle(keypair) }?;
        let message = unsafe { borrow_array::<MSIG_MESSAGE_LEN>(message) }?;
        check_out_buffer(out, written)?;
        if cap < MSIG_SIGNATURE_LEN {
            unsafe { written.write(MSIG_SIGNATURE_LEN) };
            return Err(MSIG_BUFFER_TOO_SMALL);
        }
        let sig = kp.sign(epoch, message)?;
        unsafe { write_bytes(&sig.to_ssz(), out, cap, written) }
    })
}

/// Verifies one SSZ signature (`len` bytes, 2536 for a well-formed one) by the SSZ public key
/// `public_key` (52 bytes) on `message` (32 bytes) at `epoch`.
///
/// Returns `MSIG_OK` if the signature is valid, `MSIG_INVALID_SIGNATURE` if it is well-formed
/// but does not verify (wrong key, epoch or message, altered bytes), `MSIG_MALFORMED_PUBLIC_KEY`
/// or `MSIG_MALFORMED_SIGNATURE` if the bytes do not decode, `MSIG_NULL_ARGUMENT`,
/// `MSIG_INVALID_ARGUMENT`, `MSIG_PANIC`.
///
/// # Safety
/// `public_key` points to 52 readable bytes, `message` to 32, `signature` to `len`.
#[no_mangle]
pub unsafe extern "C" fn msig_verify(
    public_key: *const u8,
    epoch: u32,
    message: *const u8,
    signature: *const u8,
    len: usize,
) -> msig_status {
    ffi_boundary(|| {
        let pk = unsafe { borrow_array::<MSIG_PUBLIC_KEY_LEN>(public_key) }?;
        let message = unsafe { borrow_array::<MSIG_MESSAGE_LEN>(message) }?;
        let sig = unsafe { borrow_slice(signature, len) }?;
        let pk = PublicKey::from_ssz(pk)
            .map_err(|e| from_decode_error(&e, MSIG_MALFORMED_PUBLIC_KEY))?;
        let sig = Signature::from_ssz(sig)
            .map_err(|e| from_decode_error(&e, MSIG_MALFORMED_SIGNATURE))?;
        if xmss::verify(&pk, epoch, message, &sig) {
            Ok(())
        } else {
            Err(MSIG_INVALID_SIGNATURE)
        }
    })
}
