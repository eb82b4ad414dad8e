//! Type-2 proofs: one proof for Type-1 proofs over different (message, epoch) pairs
//! (`multisig::aggregate::recursion::type2`), merged and verified through flat C arrays.

use multisig::aggregate::recursion::type2::{
    check_components, prove_type2, split_type2, verify_type2_bytes, Component, SplitError,
};
use multisig::aggregate::{Backend, Preset, ProveOptions, Regime};
use multisig::xmss::PublicKey;

use crate::aggregator::msig_prove_options;
use crate::error::{
    from_decode_error,
    msig_status::{
        self, MSIG_INVALID_ARGUMENT, MSIG_INVALID_OPTIONS, MSIG_MALFORMED_PUBLIC_KEY,
        MSIG_PROOF_TOO_LARGE,
    },
};
use crate::ffi::{borrow_array, borrow_slice, check_out_buffer, non_null, write_bytes};
use crate::panic::ffi_boundary;
use crate::verify::{msig_aggregate_statement, msig_verify_options};
use crate::{MSIG_MESSAGE_LEN, MSIG_PUBLIC_KEY_LEN};

/// One component of a Type-2 statement for `msig_verify_type2`: the public keys in any order
/// (`num_public_keys` x 52 SSZ bytes, concatenated), the 32-byte message and the epoch. All
/// pointers must be non-NULL.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct msig_type2_component {
    /// `num_public_keys` SSZ public keys of 52 bytes each.
    pub public_keys: *const u8,
    /// Number of public keys (not bytes).
    pub num_public_keys: usize,
    /// The 32-byte message.
    pub message: *const u8,
    /// The epoch.
    pub epoch: u32,
}

/// A component's keys, message and epoch, read from C buffers.
struct Named {
    keys: Vec<PublicKey>,
    message: [u8; MSIG_MESSAGE_LEN],
    epoch: u32,
}

impl Named {
    fn component(&self) -> Component<'_> {
        Component {
            message: self.message,
            epoch: self.epoch,
            keys: &self.keys,
        }
    }
}

/// Reads `num_public_keys` SSZ keys at `public_keys`, the message and the epoch.
///
/// # Safety
/// The pointers are NULL or readable for their lengths.
unsafe fn read_named(
    public_keys: *const u8,
    num_public_keys: usize,
    message: *const u8,
    epoch: u32,
) -> Result<Named, msig_status> {
    let len = num_public_keys
        .checked_mul(MSIG_PUBLIC_KEY_LEN)
        .ok_or(MSIG_INVALID_ARGUMENT)?;
    let bytes = unsafe { borrow_slice(public_keys, len) }?;
    let keys = bytes
        .chunks_exact(MSIG_PUBLIC_KEY_LEN)
        .map(|b| {
            PublicKey::from_ssz(b).map_err(|e| from_decode_error(&e, MSIG_MALFORMED_PUBLIC_KEY))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Named {
        keys,
        message: *unsafe { borrow_array::<MSIG_MESSAGE_LEN>(message) }?,
        epoch,
    })
}

/// `n` readable elements at `p`, `n` bounded so that the slice's size fits `isize`.
///
/// # Safety
/// `p` is NULL or points to `n` readable `T`.
unsafe fn borrow_items<'a, T>(p: *const T, n: usize) -> Result<&'a [T], msig_status> {
    non_null(p)?;
    if n > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(MSIG_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, size bounded, readable per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// Merges `n` Type-1 proofs over distinct (message, epoch) pairs into one Type-2 proof and
/// writes its bytes to `out` (capacity `cap`), the length to `*written`. Each of
/// `components[0..n]` is a Type-1 proof (a signature aggregate made under
/// `MSIG_BACKEND_FRI_POSEIDON1`, all under one preset) with its statement: its keys (any order),
/// message and epoch. Components are taken in a canonical order (by epoch, then message bytes),
/// so the caller's order does not matter to the proof or its verifier.
///
/// `options` may be NULL for the defaults: WHIR at rate 1/4 (`log_inv_rate` 2; 1 is rate 1/2),
/// at most 512 KiB. Otherwise its `backend` must be `MSIG_BACKEND_WHIR` and its `regime`
/// `MSIG_REGIME_PROVEN`; `log_inv_rate` 0 means 2. Before any proving the batch's proven
/// soundness is checked against the 124-bit floor (`MSIG_INVALID_OPTIONS` under it) and its
/// largest size against `max_proof_bytes` (`MSIG_PROOF_TOO_LARGE`); a buffer of that limit
/// (524,288 bytes by default) always holds the proof. On `MSIG_BUFFER_TOO_SMALL` `*written`
/// holds the size and the proof is dropped: call again with a large enough buffer.
///
/// Errors: `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_ARGUMENT` (`n` is 0, more than 16, or too large
/// for the address space; a key count whose bytes overflow; two components with the same
/// message and epoch; a key list that is empty, over 4096 keys or repeats a key),
/// `MSIG_MALFORMED_PUBLIC_KEY`, `MSIG_INVALID_OPTIONS` (also components of different presets
/// or of more than 8 sizes), `MSIG_PROOF_TOO_LARGE`; for a component's proof, before anything is
/// proved, what `msig_verify_aggregate` would return for it: `MSIG_PROOF_INVALID` (it does not
/// verify for its statement; or it is a parent, a Type-2 or a split, which cannot be components
/// yet), `MSIG_MALFORMED_PROOF`, `MSIG_PRESET_NOT_ACCEPTED` (a preset that cannot be a
/// component, such as FRI over Keccak); `MSIG_PROVER_FAILED` (the prover itself failed; not
/// expected), `MSIG_BUFFER_TOO_SMALL`, `MSIG_PANIC`.
///
/// # Safety
/// `components` points to `n` readable statements whose buffers are readable for their lengths;
/// `options` is NULL or readable; `out` points to `cap` writable bytes, `written` to one
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn msig_type2_merge(
    components: *const msig_aggregate_statement,
    n: usize,
    options: *const msig_prove_options,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let raw = unsafe { borrow_items(components, n) }?;
        check_out_buffer(out, written)?;
        let opts = if options.is_null() {
            ProveOptions {
                backend: Backend::Whir,
                log_inv_rate: 2,
                ..ProveOptions::default()
            }
        } else {
            let o = unsafe { msig_prove_options::read_optional(options) }?;
            if o.backend != Backend::Whir || o.regime != Regime::Proven {
                return Err(MSIG_INVALID_OPTIONS);
            }
            ProveOptions {
                log_inv_rate: if o.log_inv_rate == 0 {
                    2
                } else {
                    o.log_inv_rate
                },
                ..o
            }
        };
        let whir = Preset::from_options(&opts)
            .ok()
            .and_then(|p| p.as_whir())
            .ok_or(MSIG_INVALID_OPTIONS)?;
        let mut proofs = Vec::with_capacity(raw.len());
        let mut named = Vec::with_capacity(raw.len());
        for s in raw {
            proofs.push(unsafe { borrow_slice(s.proof, s.proof_len) }?);
            named
                .push(unsafe { read_named(s.public_keys, s.num_public_keys, s.message, s.epoch) }?);
        }
        let input: Vec<(&[u8], Component<'_>)> = proofs
            .iter()
            .zip(&named)
            .map(|(p, c)| (*p, c.component()))
            .collect();
        // The caller's list, before its options: an empty or oversized list, a repeated key,
        // two components of one message and epoch.
        let list: Vec<Component<'_>> = input.iter().map(|(_, c)| *c).collect();
        check_components(&list).map_err(|_| MSIG_INVALID_ARGUMENT)?;
        let (proof, _) = prove_type2(&input, &whir, opts.byte_limit())?;
        unsafe { write_bytes(&proof.to_bytes(), out, cap, written) }
    })
}

/// Verifies a Type-2 proof (`proof_len` bytes, as `msig_type2_merge` wrote it) for its `n`
/// components (`components[0..n]`, in any order; each one's keys in any order). Valid only if
/// every component's message, epoch and key set are exactly the ones the proof attests and no
/// component is missing or added.
///
/// `options` may be NULL for the default policy (the components' preset at least 124 bits
/// proven, see `msig_verify_options`).
///
/// Returns `MSIG_OK` if valid; `MSIG_PROOF_INVALID` if well-formed but false for these
/// components (another message, epoch, key, count or number of components, two components of
/// one message and epoch, an empty or duplicated key list); `MSIG_MALFORMED_PROOF` if the bytes
/// are not a Type-2 proof of this shape (including a Type-1 proof); `MSIG_PRESET_NOT_ACCEPTED`;
/// `MSIG_MALFORMED_PUBLIC_KEY`; `MSIG_NULL_ARGUMENT`; `MSIG_INVALID_ARGUMENT` (`n` or a key
/// count too large); `MSIG_INVALID_OPTIONS`; `MSIG_PANIC`.
///
/// # Safety
/// `proof` points to `proof_len` readable bytes; `components` to `n` readable components whose
/// buffers are readable for their lengths; `options` is NULL or readable, and so is its
/// `require`.
#[no_mangle]
pub unsafe extern "C" fn msig_verify_type2(
    proof: *const u8,
    proof_len: usize,
    components: *const msig_type2_component,
    n: usize,
    options: *const msig_verify_options,
) -> msig_status {
    ffi_boundary(|| {
        let bytes = unsafe { borrow_slice(proof, proof_len) }?;
        let raw = unsafe { borrow_items(components, n) }?;
        let opts = unsafe { crate::verify::read_verify_options(options) }?;
        let named = raw
            .iter()
            .map(|c| unsafe { read_named(c.public_keys, c.num_public_keys, c.message, c.epoch) })
            .collect::<Result<Vec<_>, _>>()?;
        let list: Vec<Component<'_>> = named.iter().map(Named::component).collect();
        verify_type2_bytes(bytes, &list, &opts)?;
        Ok(())
    })
}

/// Splits component `take` (an index into `components[0..n]`) out of a Type-2 proof
/// (`proof_len` bytes, as `msig_type2_merge` wrote it) as a Type-1 proof of that component alone,
/// and writes its bytes to `out` (capacity `cap`), the length to `*written`.
/// `msig_verify_aggregate` verifies the split for that component's keys (any order), message and
/// epoch, and for no other. `components` are all of the Type-2's components, in any order, as
/// `msig_verify_type2` takes them: the Type-2 is verified for them first (under `options`, NULL
/// for the default policy), so only a valid Type-2 is split.
///
/// The split is the Type-2 proof with its other components' statements (message, epoch, number
/// of keys, key-set digest), `proof_len + 20 + 76 * (n - 1)` bytes, so it proves its component
/// at the Type-2's soundness. It is refused over 512 KiB (`MSIG_PROOF_TOO_LARGE`). Not yet: a
/// split as a child or as a component of a Type-2 (`msig_aggregator_add_child` and
/// `msig_type2_merge` refuse it with `MSIG_PROOF_INVALID`). On `MSIG_BUFFER_TOO_SMALL` `*written`
/// holds the size and the split is dropped: call again with a large enough buffer.
///
/// Errors: as `msig_verify_type2` for the Type-2 and its components (`MSIG_PROOF_INVALID`,
/// `MSIG_MALFORMED_PROOF`, `MSIG_PRESET_NOT_ACCEPTED`, `MSIG_MALFORMED_PUBLIC_KEY`,
/// `MSIG_NULL_ARGUMENT`, `MSIG_INVALID_OPTIONS`); `MSIG_INVALID_ARGUMENT` for `take` not below
/// `n`, or `n` or a key count too large; `MSIG_PROOF_TOO_LARGE`; `MSIG_BUFFER_TOO_SMALL`;
/// `MSIG_PANIC`.
///
/// # Safety
/// `proof` points to `proof_len` readable bytes; `components` to `n` readable components whose
/// buffers are readable for their lengths; `options` is NULL or readable, and so is its
/// `require`; `out` points to `cap` writable bytes, `written` to one `size_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn msig_type2_split(
    proof: *const u8,
    proof_len: usize,
    components: *const msig_type2_component,
    n: usize,
    take: usize,
    options: *const msig_verify_options,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> msig_status {
    ffi_boundary(|| {
        let bytes = unsafe { borrow_slice(proof, proof_len) }?;
        let raw = unsafe { borrow_items(components, n) }?;
        check_out_buffer(out, written)?;
        let opts = unsafe { crate::verify::read_verify_options(options) }?;
        if take >= n {
            return Err(MSIG_INVALID_ARGUMENT);
        }
        let named = raw
            .iter()
            .map(|c| unsafe { read_named(c.public_keys, c.num_public_keys, c.message, c.epoch) })
            .collect::<Result<Vec<_>, _>>()?;
        let list: Vec<Component<'_>> = named.iter().map(Named::component).collect();
        let limit = ProveOptions::default().byte_limit();
        let split = split_type2(bytes, &list, take, &opts, limit).map_err(|e| match e {
            SplitError::Type2(e) => msig_status::from(e),
            SplitError::TooLarge { .. } => MSIG_PROOF_TOO_LARGE,
        })?;
        unsafe { write_bytes(&split, out, cap, written) }
    })
}
