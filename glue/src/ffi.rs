//! Pointer plumbing: borrowing C buffers, checking NULLs and lengths, writing outputs, and moving
//! Rust values in and out of opaque handles. Every raw-pointer dereference of the glue goes
//! through here.

use crate::error::msig_status::{
    self, MSIG_BUFFER_TOO_SMALL, MSIG_INVALID_ARGUMENT, MSIG_NULL_ARGUMENT,
};

/// Fails with `MSIG_NULL_ARGUMENT` if `p` is NULL.
pub(crate) fn non_null<T>(p: *const T) -> Result<(), msig_status> {
    if p.is_null() {
        Err(MSIG_NULL_ARGUMENT)
    } else {
        Ok(())
    }
}

/// Borrows `N` bytes at `p` as an array.
///
/// # Safety
/// `p` is NULL or points to `N` readable bytes that stay valid and unmodified for `'a`.
pub(crate) unsafe fn borrow_array<'a, const N: usize>(
    p: *const u8,
) -> Result<&'a [u8; N], msig_status> {
    non_null(p)?;
    // SAFETY: non-NULL, and the caller guarantees N readable bytes; [u8; N] has alignment 1.
    Ok(unsafe { &*(p as *const [u8; N]) })
}

/// Borrows `len` bytes at `p`. NULL is rejected even when `len` is 0 (one rule for C callers).
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that stay valid and unmodified for `'a`.
pub(crate) unsafe fn borrow_slice<'a>(p: *const u8, len: usize) -> Result<&'a [u8], msig_status> {
    non_null(p)?;
    if len > isize::MAX as usize {
        return Err(MSIG_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, length bounded by isize::MAX, readability guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Borrows the object behind an opaque handle.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` created by this library and not yet freed.
pub(crate) unsafe fn borrow_handle<'a, T>(p: *const T) -> Result<&'a T, msig_status> {
    non_null(p)?;
    // SAFETY: the caller guarantees a live handle.
    Ok(unsafe { &*p })
}

/// Checks the output triple of a variable-length output before any work is done.
pub(crate) fn check_out_buffer(out: *mut u8, written: *mut usize) -> Result<(), msig_status> {
    non_null(out)?;
    non_null(written)
}

/// Copies `bytes` to `out` if `cap` suffices and stores the length in `*written`. On a too-small
/// buffer, stores the needed length in `*written`, leaves `out` untouched and returns
/// `MSIG_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `out` is valid for `cap` writable bytes and `written` for one `size_t` write (both checked
/// non-NULL by [`check_out_buffer`] beforehand); `out` does not overlap `bytes`.
pub(crate) unsafe fn write_bytes(
    bytes: &[u8],
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> Result<(), msig_status> {
    check_out_buffer(out, written)?;
    // SAFETY: `written` is non-NULL and writable per the caller's contract.
    unsafe { written.write(bytes.len()) };
    if bytes.len() > cap {
        return Err(MSIG_BUFFER_TOO_SMALL);
    }
    // SAFETY: cap >= len bytes are writable at `out` and the regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
    Ok(())
}

/// Copies exactly `N` bytes to a fixed-size output.
///
/// # Safety
/// `out` is valid for `N` writable bytes (checked non-NULL beforehand).
pub(crate) unsafe fn write_array<const N: usize>(bytes: &[u8; N], out: *mut u8) {
    // SAFETY: per the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, N) };
}

/// Moves `value` to the heap and returns the owning handle.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Stores a new handle in `*out`.
///
/// # Safety
/// `out` is valid for one pointer write (checked non-NULL beforehand).
pub(crate) unsafe fn write_handle<T>(value: T, out: *mut *mut T) {
    // SAFETY: per the caller's contract.
    unsafe { out.write(into_handle(value)) };
}

/// Destroys a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` that no other thread uses and that is not used again.
pub(crate) unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per the caller's contract, `p` came from Box::into_raw and is freed once.
        drop(unsafe { Box::from_raw(p) });
    }
}
