//! From `(public key, signature)` to the rows the AIRs need: the signature block's witness and
//! the chain steps.
//!
//! The witness is built without judging the signature: an invalid signature gives a witness
//! that violates some constraint (tests use this to check that the AIRs reject it).

use p3_field::PrimeCharacteristicRing;

use super::chain_air::ChainStep;
use super::sig_air::{decode_digits, SigWitness};
use crate::xmss::constants::{BASE, DIMENSION};
use crate::xmss::hash::{chain_step_input, chain_step};
use crate::xmss::message::message_hash;
use crate::xmss::{PublicKey, Signature, F};

/// The witness of signature `sig_index` and its chain steps (appended to `steps`).
///
/// Each chain `i` walks from `signature.hashes[i]` at the position given by codeword digit
/// `x_i` up to position 7. Digits are taken from the message hash as they are, without the abort
/// or target-sum check, so a bad signature yields a witness the AIRs reject.
pub fn build_witness(
    sig_index: u32,
    pk: &PublicKey,
    signature: &Signature,
    message: &[u8; 32],
    epoch: u32,
    steps: &mut Vec<ChainStep>,
) -> SigWitness {
    let hash = message_hash(&pk.parameter, epoch, &signature.rho, message);
    let (digits, remainders) = decode_digits(&hash);
    let mut ends = [[F::ZERO; 8]; DIMENSION];
    for i in 0..DIMENSION {
        let mut value = signature.hashes[i];
        for pos in digits[i]..(BASE as u8 - 1) {
            steps.push(ChainStep {
                sig: sig_index,
                chain: i as u8,
                pos,
                input: chain_step_input(&pk.parameter, epoch, i as u8, pos + 1, &value),
            });
            value = chain_step(&pk.parameter, epoch, i as u8, pos + 1, &value);
        }
        ends[i] = value;
    }
    SigWitness {
        parameter: pk.parameter,
        rho: signature.rho,
        digits,
        remainders,
        starts: signature.hashes,
        ends,
        path: signature.path,
    }
}
