//! From `(public key, signature)` to the rows the AIRs need: the signature block's witness and
//! the chain steps.
//!
//! The witness is built without judging the signature: an invalid signature gives a witness
//! that violates some constraint (tests use this to check that the AIRs reject it).

use p3_field::PrimeCharacteristicRing;

use super::air::chain::ChainStep;
use super::air::sig::{decode_digits, SigWitness};
use crate::xmss::constants::{BASE, DIMENSION};
use crate::xmss::hash::{chain_step, chain_step_input};
use crate::xmss::message::message_hash;
use crate::xmss::{PublicKey, Signature, F};

/// The witness of one signature: digits and remainders from the message hash as they are
/// (no abort or target-sum check), chain starts, Merkle path, and the chain ends walked from
/// the starts by [`walk_chains`] (whose steps are appended to `steps`).
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
    let mut w = SigWitness {
        parameter: pk.parameter,
        rho: signature.rho,
        digits,
        remainders,
        starts: signature.hashes,
        ends: [[F::ZERO; 8]; DIMENSION],
        path: signature.path,
    };
    walk_chains(sig_index, &mut w, epoch, steps);
    w
}

/// Walks every chain `i` of `w` from `w.starts[i]` at position `w.digits[i]` to position 7,
/// appending one [`ChainStep`] per step to `steps` and setting `w.ends`.
pub fn walk_chains(sig_index: u32, w: &mut SigWitness, epoch: u32, steps: &mut Vec<ChainStep>) {
    for i in 0..DIMENSION {
        let mut value = w.starts[i];
        for pos in w.digits[i]..(BASE as u8 - 1) {
            steps.push(ChainStep {
                sig: sig_index,
                chain: i as u8,
                pos,
                input: chain_step_input(&w.parameter, epoch, i as u8, pos + 1, &value),
            });
            value = chain_step(&w.parameter, epoch, i as u8, pos + 1, &value);
        }
        w.ends[i] = value;
    }
}
