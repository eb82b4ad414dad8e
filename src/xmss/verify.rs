//! Verification (leanSig `GeneralizedXMSSSignatureScheme::verify`), split into the steps the
//! aggregation's trace generation reuses: [`codeword`], [`chain_ends`], [`leaf`], [`verify`].

use super::constants::{BASE, DIMENSION, MESSAGE_LEN};
use super::hash::{leaf_hash, merkle_root_from_path, walk_chain};
use super::message::encode;
use super::{Digest, PublicKey, Signature};

/// The codeword of a signature: the 46 digits (each `0..8`, summing to 200) obtained from the
/// message hash of `(pk.parameter, epoch, sig.rho, message)`. `None` if the hash aborts or the
/// digits do not sum to 200 (the signature is then invalid). Digit `i` is the position in chain
/// `i` of `sig.hashes[i]`.
pub fn codeword(
    pk: &PublicKey,
    epoch: u32,
    message: &[u8; MESSAGE_LEN],
    sig: &Signature,
) -> Option<[u8; DIMENSION]> {
    encode(&pk.parameter, epoch, &sig.rho, message)
}

/// The 46 chain ends (position 7) a signature implies for a given codeword: chain `i` is walked
/// from `sig.hashes[i]` at position `codeword[i]` for `7 - codeword[i]` steps, the step reaching
/// position `k` using `chain_tweak(epoch, i, k)`. Digits above 7 are treated as 7 (no steps);
/// [`codeword`] never produces them.
pub fn chain_ends(
    pk: &PublicKey,
    epoch: u32,
    codeword: &[u8; DIMENSION],
    sig: &Signature,
) -> [Digest; DIMENSION] {
    core::array::from_fn(|i| {
        let x = codeword[i].min((BASE - 1) as u8);
        walk_chain(
            &pk.parameter,
            epoch,
            i as u8,
            x,
            BASE - 1 - x as usize,
            &sig.hashes[i],
        )
    })
}

/// The leaf (level-0 Merkle node) of `epoch` implied by a signature, or `None` if its message
/// hash aborts or misses the target sum.
pub fn leaf(
    pk: &PublicKey,
    epoch: u32,
    message: &[u8; MESSAGE_LEN],
    sig: &Signature,
) -> Option<Digest> {
    let x = codeword(pk, epoch, message, sig)?;
    Some(leaf_hash(
        &pk.parameter,
        epoch,
        &chain_ends(pk, epoch, &x, sig),
    ))
}

/// True iff `sig` is a valid signature of `message` at `epoch` under `pk`: the codeword exists,
/// and the leaf from the walked chain ends, climbed through the 32 siblings of `sig.path` with
/// tree tweaks, equals `pk.root`.
pub fn verify(pk: &PublicKey, epoch: u32, message: &[u8; MESSAGE_LEN], sig: &Signature) -> bool {
    match leaf(pk, epoch, message, sig) {
        Some(l) => merkle_root_from_path(&pk.parameter, epoch, &l, &sig.path) == pk.root,
        None => false,
    }
}
