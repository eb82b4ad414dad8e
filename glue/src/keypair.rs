//! `msig_keypair`: an XMSS secret key with its public key.
//!
//! A leanSig secret key holds a *prepared window* of two bottom trees (2 x 2^16 epochs) out of
//! its activation interval; only epochs inside the window can be signed. Signing through this
//! library slides the window forward as needed (`msig_sign`, like zeam's glue calling leanSig's
//! `advance_preparation`), one bottom tree of 2^16 leaves at a time (seconds per tree), so a key
//! signs every epoch of its activation interval. The window never moves backwards: once it has
//! passed an epoch, that epoch can no longer be signed. `msig_keypair_prepare_epoch` advances it
//! ahead of time, off a client's critical path, and `msig_keypair_secret_key_ssz` returns the key
//! as it is now (leanSig's SSZ layout), for the caller to persist after an advance.
//!
//! Thread safety: a keypair may be shared between threads; it is internally synchronized. The
//! secret key sits behind a mutex held only briefly (to sign, to copy the key, to install an
//! advanced one); the bottom trees of an advance are built outside it, on a copy, by one thread
//! at a time, on a thread pool of their own (see `on_advance_pool`). So signers of epochs already
//! in the window are not held up by a thread advancing the window (they share the CPUs with it),
//! and several threads needing the same advance build it once. Only
//! `msig_keypair_free` needs exclusive access. If an operation panics while holding the secret
//! key (reported as `MSIG_PANIC`), every later call that needs the secret key returns
//! `MSIG_PANIC`; `msig_keypair_public_key` keeps working.
//!
//! The library does not remember which epochs were signed: signing two different messages at
//! the same epoch reveals secret chain values, so the caller must sign each epoch at most once
//! (across restarts too).

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use multisig::xmss::{self, PublicKey, SecretKey, Signature};

use crate::error::{
    from_decode_error, from_keygen_error, from_sign_error, msig_status, MSIG_MALFORMED_SECRET_KEY,
    MSIG_PANIC,
};
use crate::ffi::{
    borrow_array, borrow_handle, borrow_slice, check_out_buffer, free_handle, non_null,
    write_array, write_bytes, write_handle,
};
use crate::panic::{ffi_boundary, ffi_boundary_void};
use crate::{MSIG_PUBLIC_KEY_LEN, MSIG_SEED_LEN};

/// An XMSS keypair (opaque). Created by `msig_keypair_generate` or `msig_keypair_from_ssz`,
/// destroyed by `msig_keypair_free`. Shareable between threads (internally synchronized).
pub struct msig_keypair {
    /// The secret key as it is now (its prepared window slides forward).
    secret: Mutex<SecretKey>,
    /// Held by the one thread advancing the window; guards no data (the advanced key is
    /// installed through `secret`), so its poisoning is ignored.
    advancing: Mutex<()>,
    /// Derived from the secret key once; the window does not change it.
    public: PublicKey,
}

// The handle is documented as shareable between threads: make that a compile-time fact.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<msig_keypair>();
};

impl msig_keypair {
    fn new(secret: SecretKey, public: PublicKey) -> Self {
        Self {
            secret: Mutex::new(secret),
            advancing: Mutex::new(()),
            public,
        }
    }

    /// The secret key, or `MSIG_PANIC` if an earlier operation panicked while holding it.
    fn secret(&self) -> Result<MutexGuard<'_, SecretKey>, msig_status> {
        self.secret.lock().map_err(|_| MSIG_PANIC)
    }

    /// Slides the prepared window forward until it holds `epoch`; returns the number of bottom
    /// trees this call built (0 if the window already held `epoch`, also when another thread
    /// advanced it meanwhile). The trees are built on a copy of the key, outside the lock of
    /// `secret`, and the copy is installed once complete: the key is never seen half-advanced,
    /// and a failed or panicking build leaves it as it was.
    ///
    /// Errors: `MSIG_EPOCH_OUT_OF_RANGE` (outside the activation interval, or before the
    /// window), `MSIG_SIGNING_FAILED` (not expected), `MSIG_PANIC`.
    fn prepare(&self, epoch: u32) -> Result<usize, msig_status> {
        let e = u64::from(epoch);
        if self.secret()?.prepared_interval().contains(&e) {
            return Ok(0);
        }
        let _advancing = self
            .advancing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only a holder of `advancing` replaces the key, so this copy stays current until the
        // swap below. `prepare_for_epoch` checks the range (and returns 0 if another thread
        // advanced the window to `epoch` while this one waited).
        let mut next = self.secret()?.clone();
        let built =
            on_advance_pool(|| next.prepare_for_epoch(epoch)).map_err(|e| from_sign_error(&e))?;
        if built > 0 {
            let old = std::mem::replace(&mut *self.secret()?, next);
            drop(old); // outside the lock
        }
        Ok(built)
    }

    /// Signs `message` at `epoch`, advancing the window first if needed ([`Self::prepare`]).
    pub(crate) fn sign(&self, epoch: u32, message: &[u8; 32]) -> Result<Signature, msig_status> {
        self.prepare(epoch)?;
        let mut secret = self.secret()?;
        // The window holds `epoch` now (or has moved past it, which `sign_advancing` reports as
        // out of range): `sign_advancing` builds nothing here, it signs.
        let (sig, _) =
            xmss::sign_advancing(&mut secret, epoch, message).map_err(|e| from_sign_error(&e))?;
        Ok(sig)
    }
}

/// Runs `f` (an advance of a prepared window, whose tree building is parallel) on the glue's
/// advance pool: a rayon pool of its own, as many threads as the global pool, created on the
/// first advance. On the global pool, a tree build (2^16 leaves split into many tasks) would sit
/// in every worker's queue ahead of the few tasks of a signature, a proof or a verification
/// started meanwhile from another thread, so those would wait for the whole build; on a pool of
/// its own it only shares the CPUs with them. If the pool cannot be created, `f` runs where it
/// is called.
fn on_advance_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("msig-advance-{i}"))
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// Generates a keypair deterministically from a 32-byte seed (leanSig key generation for
/// `SIGAbortingTargetSumLifetime32Dim46Base8`).
///
/// - `seed`: `MSIG_SEED_LEN` (32) bytes of secret randomness.
/// - `activation_epoch`, `num_active_epochs`: the epochs the key may sign,
///   `[activation_epoch, activation_epoch + num_active_epochs)` within the 2^32 lifetime. The
///   range is widened to whole bottom trees of 2^16 epochs, at least two of them
///   (`msig_keypair_activation_interval` reports the result). Cost grows with the range: every
///   bottom tree of it is built once (seconds each; a 2-tree key of 2^17 epochs is the smallest).
///   The new key's prepared window is the first two bottom trees.
/// - `out`: receives the new handle on `MSIG_OK`; free it with `msig_keypair_free`.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_KEYGEN_ARGUMENTS` (`num_active_epochs` 0, range
/// past 2^32), `MSIG_PANIC`.
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
            .map_err(|e| from_keygen_error(&e))?;
        unsafe { write_handle(msig_keypair::new(secret, public), out) };
        Ok(())
    })
}

/// Loads a keypair from a secret key in leanSig's SSZ layout (`len` bytes, as written by
/// `msig_keypair_secret_key_ssz` or by leanSig); the public key is derived from it. The key's
/// prepared window is the one stored in the bytes.
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
        let secret = SecretKey::from_ssz(bytes)
            .map_err(|e| from_decode_error(&e, MSIG_MALFORMED_SECRET_KEY))?;
        let public = secret.public_key();
        unsafe { write_handle(msig_keypair::new(secret, public), out) };
        Ok(())
    })
}

/// Writes the keypair's SSZ public key (root then parameter, `MSIG_PUBLIC_KEY_LEN` = 52 bytes) to
/// `out`. The public key never changes as the prepared window advances.
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

/// Writes the keypair's secret key as it is now (its prepared window included, so after an
/// advance these are different bytes than before) in leanSig's SSZ layout to `out` (capacity
/// `cap` bytes) and its length to `*written`. Persist it after every advance (a nonzero count
/// from `msig_keypair_prepare_epoch`, or a change of `msig_keypair_prepared_interval` after
/// `msig_sign`), so that a restarted client does not rebuild the trees. The length depends on
/// the activation interval (the top tree's size), not on the window: it does not change as the
/// window advances. Call with `cap = 0` to learn it (`MSIG_BUFFER_TOO_SMALL` with `*written`
/// set). The bytes are secret: wipe them after use.
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
        let ssz = kp.secret()?.to_ssz();
        unsafe { write_bytes(&ssz, out, cap, written) }
    })
}

/// Writes the key's activation interval, the epochs it was generated for (widened to whole
/// bottom trees of 2^16 epochs): `[*start, *end)`, end exclusive, `*end <= 2^32`. It never
/// changes.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_PANIC`.
///
/// # Safety
/// `keypair` is a live handle; `start` and `end` point to one writable `uint64_t` each.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_activation_interval(
    keypair: *const msig_keypair,
    start: *mut u64,
    end: *mut u64,
) -> msig_status {
    unsafe { write_interval(keypair, start, end, SecretKey::activation_interval) }
}

/// Writes the epoch interval `interval` reads from the key as `[*start, *end)`: the body of
/// [`msig_keypair_activation_interval`] and [`msig_keypair_prepared_interval`].
///
/// # Safety
/// As those two functions.
unsafe fn write_interval(
    keypair: *const msig_keypair,
    start: *mut u64,
    end: *mut u64,
    interval: fn(&SecretKey) -> std::ops::Range<u64>,
) -> msig_status {
    ffi_boundary(|| {
        let kp = unsafe { borrow_handle(keypair) }?;
        non_null(start)?;
        non_null(end)?;
        let range = interval(&*kp.secret()?);
        unsafe {
            start.write(range.start);
            end.write(range.end);
        }
        Ok(())
    })
}

/// Writes the key's prepared window, the epochs it can sign without building a tree:
/// `[*start, *end)`, end exclusive, two bottom trees (`*end - *start` = 2^17), inside the
/// activation interval. It moves forward, never backwards, as `msig_sign` and
/// `msig_keypair_prepare_epoch` advance it.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_PANIC`.
///
/// # Safety
/// `keypair` is a live handle; `start` and `end` point to one writable `uint64_t` each.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_prepared_interval(
    keypair: *const msig_keypair,
    start: *mut u64,
    end: *mut u64,
) -> msig_status {
    unsafe { write_interval(keypair, start, end, SecretKey::prepared_interval) }
}

/// Advances the key's prepared window until it holds `epoch`, ahead of signing at it: call it
/// from a background thread before the window runs out (for example when the current epoch
/// enters the window's second bottom tree), so that `msig_sign` never builds a tree on a
/// client's critical path. Writes to `*built` the number of bottom trees this call built, each
/// of 2^16 leaves (several seconds on a 2-core machine): 0 if the window already held `epoch`
/// (also when another thread advanced it meanwhile). When `*built` is not 0 the secret key has
/// changed: persist it (`msig_keypair_secret_key_ssz`).
///
/// The window advances one bottom tree at a time and drops the tree it leaves behind: epochs
/// before the new window can no longer be signed. Signing epochs that are still in the window
/// from other threads is not blocked while the trees are built: they are built on a copy of the
/// key (so, while this runs, memory for a second key, about the size of its SSZ), on a thread
/// pool of their own as large as the global one, and the copy replaces the key at the end.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_EPOCH_OUT_OF_RANGE` (`epoch` outside the activation
/// interval, or before the prepared window; the key is unchanged), `MSIG_SIGNING_FAILED` (not
/// expected), `MSIG_PANIC`.
///
/// # Safety
/// `keypair` is a live handle; `built` points to one writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_keypair_prepare_epoch(
    keypair: *mut msig_keypair,
    epoch: u32,
    built: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let kp = unsafe { borrow_handle(keypair) }?;
        non_null(built)?;
        let n = kp.prepare(epoch)?;
        unsafe { built.write(n) };
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_errors_are_keygen_statuses() {
        let seed = [1u8; 32];
        let mut out: *mut msig_keypair = std::ptr::null_mut();
        for (start, n) in [(0u64, 0u64), (1 << 32, 1), (u64::MAX, 2)] {
            let s = unsafe { msig_keypair_generate(seed.as_ptr(), start, n, &mut out) };
            assert_eq!(
                s,
                msig_status::MSIG_INVALID_KEYGEN_ARGUMENTS,
                "{start} + {n}"
            );
            assert!(out.is_null());
        }
    }
}
