//! Single signatures: `msig_sign` and `msig_verify`. Both are stateless and thread-safe.

use multisig::xmss::{self, PublicKey, Signature};

use crate::error::{
    from_xmss, msig_status, MSIG_INVALID_SIGNATURE, MSIG_MALFORMED_PUBLIC_KEY,
    MSIG_MALFORMED_SECRET_KEY, MSIG_MALFORMED_SIGNATURE,
};
use crate::ffi::{borrow_array, borrow_handle, borrow_slice, check_out_buffer, write_bytes};
use crate::keypair::msig_keypair;
use crate::panic::ffi_boundary;
use crate::{MSIG_MESSAGE_LEN, MSIG_PUBLIC_KEY_LEN};

/// Signs a 32-byte message at `epoch` (leanSig deterministic signing) and writes the SSZ
/// signature (`MSIG_SIGNATURE_LEN` = 2536 bytes) to `out`, its length to `*written`.
///
/// Sign each epoch at most once: two messages signed at one epoch leak chain secrets.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_BUFFER_TOO_SMALL` (nothing is computed when the buffer is
/// known to be too small), `MSIG_EPOCH_OUT_OF_RANGE`, `MSIG_SIGNING_FAILED`, `MSIG_PANIC`.
///
/// # Safety
/// `keypair` is a live handle; `message` points to 32 readable bytes, `out` to `cap` writable
/// bytes, `written` to one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_sign(
    keypair: *const msig_keypair,
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
        if cap < crate::MSIG_SIGNATURE_LEN {
            unsafe { written.write(crate::MSIG_SIGNATURE_LEN) };
            return Err(crate::error::MSIG_BUFFER_TOO_SMALL);
        }
        let sig = xmss::sign(&kp.secret, epoch, message)
            .map_err(|e| from_xmss(&e, MSIG_MALFORMED_SECRET_KEY))?;
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
        let pk = PublicKey::from_ssz(pk).map_err(|e| from_xmss(&e, MSIG_MALFORMED_PUBLIC_KEY))?;
        let sig = Signature::from_ssz(sig).map_err(|e| from_xmss(&e, MSIG_MALFORMED_SIGNATURE))?;
        if xmss::verify(&pk, epoch, message, &sig) {
            Ok(())
        } else {
            Err(MSIG_INVALID_SIGNATURE)
        }
    })
}
