//! Message encoding, the message hash and the aborting hypercube decode to a target-sum codeword
//! (leanSig `src/symmetric/message_hash/poseidon.rs` `encode_message` / `encode_epoch` /
//! `poseidon_message_hash_fe`, `src/symmetric/message_hash/aborting.rs`,
//! `src/inc_encoding/target_sum.rs`).
//!
//! Width-24 message-hash input (half-open index ranges):
//! `[message (0..9) | parameter (9..14) | message_tweak(epoch) (14..16) | rho (16..23) | 0 (23)]`.
//! Output: `H = first 8 elements of Perm24(x) + x`; only `H[0..6]` are decoded.
//!
//! Decode (aborting hypercube, Q = 127, Z = 8, BASE = 8): for `i` in `0..6`, let `a = H[i]`
//! (canonical value). If `a >= Q * 8^8 = p - 1` the hash aborts. Otherwise `d = floor(a / Q)`
//! (`0 <= d < 8^8`) and digits `8i .. 8i+8` of the codeword are the base-8 digits of `d`,
//! least significant first (`digit[8i + j] = (d >> 3j) & 7`), keeping only the first 46 digits
//! (`H[5]` contributes its 6 low digits). The codeword is valid iff the digits sum to 200.

use p3_field::{PrimeCharacteristicRing, PrimeField32};

use super::constants::{
    ABORT_THRESHOLD, BASE, DIMENSION, HASH_LEN_FE, MERGE_WIDTH, MESSAGE_LEN, MH_DECODED_FE,
    MSG_LEN_FE, P, PARAMETER_LEN, Q, RAND_LEN_FE, TARGET_SUM, TWEAK_LEN_FE, Z,
};
use super::poseidon::compress_24;
use super::tweak::message_tweak;
use super::{Parameter, F};

/// Offsets in the width-24 message-hash state.
pub mod layout {
    /// Encoded message, 9 FE at `0..9`.
    pub const MESSAGE: usize = 0;
    /// Parameter, 5 FE at `9..14`.
    pub const PARAMETER: usize = 9;
    /// Message tweak, 2 FE at `14..16`.
    pub const TWEAK: usize = 14;
    /// rho, 7 FE at `16..23`; index 23 is zero.
    pub const RHO: usize = 16;
}

/// The 32-byte message read as a little-endian 256-bit integer and written in base p, least
/// significant digit first, as 9 field elements (p^9 > 2^256, so the map is injective).
pub fn encode_message(message: &[u8; MESSAGE_LEN]) -> [F; MSG_LEN_FE] {
    // 256-bit integer as 8 little-endian u32 limbs; repeated long division by p.
    let mut limbs: [u32; 8] = core::array::from_fn(|i| {
        u32::from_le_bytes(message[4 * i..4 * i + 4].try_into().expect("4 bytes"))
    });
    core::array::from_fn(|_| {
        let mut rem: u64 = 0;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | *limb as u64;
            *limb = (cur / P as u64) as u32;
            rem = cur % P as u64;
        }
        F::new(rem as u32)
    })
}

/// The exact width-24 input of the message hash:
/// `[encode_message(message) (0..9) | parameter (9..14) | message_tweak(epoch) (14..16) | rho (16..23) | 0 (23)]`.
pub fn message_hash_input(
    parameter: &Parameter,
    epoch: u32,
    rho: &[F; RAND_LEN_FE],
    message: &[u8; MESSAGE_LEN],
) -> [F; MERGE_WIDTH] {
    let mut x = [F::ZERO; MERGE_WIDTH];
    x[layout::MESSAGE..layout::MESSAGE + MSG_LEN_FE].copy_from_slice(&encode_message(message));
    x[layout::PARAMETER..layout::PARAMETER + PARAMETER_LEN].copy_from_slice(parameter);
    x[layout::TWEAK..layout::TWEAK + TWEAK_LEN_FE].copy_from_slice(&message_tweak(epoch));
    x[layout::RHO..layout::RHO + RAND_LEN_FE].copy_from_slice(rho);
    x
}

/// The message hash output: first 8 elements of `Perm24(x) + x`, `x = message_hash_input(..)`.
pub fn message_hash(
    parameter: &Parameter,
    epoch: u32,
    rho: &[F; RAND_LEN_FE],
    message: &[u8; MESSAGE_LEN],
) -> [F; HASH_LEN_FE] {
    compress_24(&message_hash_input(parameter, epoch, rho, message))
}

/// Aborting hypercube decode of a message-hash output to 46 base-8 digits, without the
/// target-sum check. `None` iff one of `hash[0..6]` is `>= Q * 8^8` (abort).
pub fn hypercube_digits(hash: &[F; HASH_LEN_FE]) -> Option<[u8; DIMENSION]> {
    let mut digits = [0u8; DIMENSION];
    for (i, fe) in hash[..MH_DECODED_FE].iter().enumerate() {
        let a = fe.as_canonical_u32();
        if a >= ABORT_THRESHOLD {
            return None;
        }
        let mut d = a / Q;
        for j in 0..Z.min(DIMENSION - i * Z) {
            digits[i * Z + j] = (d % BASE as u32) as u8;
            d /= BASE as u32;
        }
    }
    Some(digits)
}

/// Decodes a message-hash output to the codeword: `None` on abort or when the 46 digits do not
/// sum to `TARGET_SUM = 200`.
pub fn decode_codeword(hash: &[F; HASH_LEN_FE]) -> Option<[u8; DIMENSION]> {
    let digits = hypercube_digits(hash)?;
    let sum: usize = digits.iter().map(|&d| d as usize).sum();
    (sum == TARGET_SUM).then_some(digits)
}

/// Target-sum encoding (leanSig `TargetSumEncoding::encode`): message hash, then
/// [`decode_codeword`]. `None` means this rho does not give a codeword.
pub fn encode(
    parameter: &Parameter,
    epoch: u32,
    rho: &[F; RAND_LEN_FE],
    message: &[u8; MESSAGE_LEN],
) -> Option<[u8; DIMENSION]> {
    decode_codeword(&message_hash(parameter, epoch, rho, message))
}

/// The first rho (in the order given) whose message hash yields a codeword, with its index and
/// codeword. Hashes `PackedF::WIDTH` candidates per permutation (one per SIMD lane).
pub fn first_codeword(
    parameter: &Parameter,
    epoch: u32,
    message: &[u8; MESSAGE_LEN],
    rhos: &[[F; RAND_LEN_FE]],
) -> Option<(usize, [u8; DIMENSION])> {
    use super::tree::PackedF;
    use p3_field::PackedValue;
    let w = PackedF::WIDTH;
    let base = message_hash_input(parameter, epoch, &[F::ZERO; RAND_LEN_FE], message);
    for (chunk, group) in rhos.chunks(w).enumerate() {
        let mut x: [PackedF; MERGE_WIDTH] = base.map(PackedF::from);
        for i in 0..RAND_LEN_FE {
            x[layout::RHO + i] = PackedF::from_fn(|l| group[l.min(group.len() - 1)][i]);
        }
        let h: [PackedF; HASH_LEN_FE] = compress_24(&x);
        for l in 0..group.len() {
            let lane: [F; HASH_LEN_FE] = core::array::from_fn(|i| h[i].as_slice()[l]);
            if let Some(cw) = decode_codeword(&lane) {
                return Some((chunk * w + l, cw));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(fes: &[F; MSG_LEN_FE]) -> Vec<u32> {
        // reconstruct the integer in base 2^32 from base p, by schoolbook multiply-add
        let mut limbs = [0u64; 9];
        for fe in fes.iter().rev() {
            let mut carry = fe.as_canonical_u32() as u64;
            for l in limbs.iter_mut() {
                let cur = *l * P as u64 + carry;
                *l = cur & 0xffff_ffff;
                carry = cur >> 32;
            }
        }
        limbs.iter().map(|&l| l as u32).collect()
    }

    #[test]
    fn message_encoding_is_base_p_of_le_integer() {
        let mut m = [0u8; 32];
        for (i, b) in m.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(200);
        }
        let enc = encode_message(&m);
        let limbs = value(&enc);
        for i in 0..8 {
            assert_eq!(
                limbs[i],
                u32::from_le_bytes(m[4 * i..4 * i + 4].try_into().unwrap())
            );
        }
        assert_eq!(limbs[8], 0);
        assert_eq!(encode_message(&[0; 32]), [F::ZERO; 9]);
        let mut one = [0u8; 32];
        one[0] = 5;
        assert_eq!(encode_message(&one)[0], F::new(5));
    }

    #[test]
    fn decode_aborts_and_digit_order() {
        let mut h = [F::ZERO; 8];
        // a = Q * d with d = 0o76543210 gives digits 0,1,...,7 (least significant first)
        h[0] = F::new(Q * 0o76543210);
        let d = hypercube_digits(&h).unwrap();
        assert_eq!(&d[..8], &[0, 1, 2, 3, 4, 5, 6, 7]);
        // the remainder a mod Q is discarded
        h[0] = F::new(Q * 0o76543210 + 126);
        assert_eq!(
            &hypercube_digits(&h).unwrap()[..8],
            &[0, 1, 2, 3, 4, 5, 6, 7]
        );
        // p - 1 aborts, p - 2 does not
        h[5] = F::new(P - 1);
        assert!(hypercube_digits(&h).is_none());
        h[5] = F::new(P - 2);
        let d = hypercube_digits(&h).unwrap();
        assert_eq!(&d[40..46], &[7; 6]);
        // outputs 6 and 7 are ignored
        h[6] = F::new(P - 1);
        h[7] = F::new(P - 1);
        assert!(hypercube_digits(&h).is_some());
    }

    #[test]
    fn decode_checks_target_sum() {
        // 28 sevens and one 4 sum to 200
        let mut digits = [0u32; 46];
        for d in digits.iter_mut().take(28) {
            *d = 7;
        }
        digits[28] = 4;
        let mut h = [F::ZERO; 8];
        for i in 0..6 {
            let mut v = 0u32;
            for j in (0..8).rev() {
                v = v * 8 + if i * 8 + j < 46 { digits[i * 8 + j] } else { 0 };
            }
            h[i] = F::new(v * Q);
        }
        assert!(decode_codeword(&h).is_some());
        // adding 1 to d of H[3] carries through digits 24..27 (sevens): the sum drops by 27
        h[3] += F::new(Q);
        assert!(decode_codeword(&h).is_none());
    }
}
