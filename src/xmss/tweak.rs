//! Tweak encodings (leanSig `PoseidonTweak::to_field_elements` and `encode_epoch`).
//!
//! A tweak is first one integer whose low byte is a separator, then written in base p as two
//! field elements, least significant digit first: `[t mod p, floor(t / p)]`. Every tweak integer
//! is below 2^56 < p^2, so the encoding is injective and the second digit is below 2^26.

use super::constants::P;
use super::constants::{
    TWEAK_LEN_FE, TWEAK_SEPARATOR_CHAIN, TWEAK_SEPARATOR_MESSAGE, TWEAK_SEPARATOR_TREE,
};
use super::F;

/// The chain-step tweak integer `(epoch << 24) | (chain << 16) | (pos_in_chain << 8) | 0x00`.
pub fn chain_tweak_int(epoch: u32, chain: u8, pos_in_chain: u8) -> u64 {
    ((epoch as u64) << 24)
        | ((chain as u64) << 16)
        | ((pos_in_chain as u64) << 8)
        | TWEAK_SEPARATOR_CHAIN as u64
}

/// The tree tweak integer `(level << 40) | (pos_in_level << 8) | 0x01`.
pub fn tree_tweak_int(level: u8, pos_in_level: u32) -> u64 {
    ((level as u64) << 40) | ((pos_in_level as u64) << 8) | TWEAK_SEPARATOR_TREE as u64
}

/// The message-hash tweak integer `(epoch << 8) | 0x02`.
pub fn message_tweak_int(epoch: u32) -> u64 {
    ((epoch as u64) << 8) | TWEAK_SEPARATOR_MESSAGE as u64
}

/// `[t mod p, t / p]` for a tweak integer `t < p^2` (all tweak integers are below 2^56).
pub fn encode_tweak_int(t: u64) -> [F; TWEAK_LEN_FE] {
    [F::new((t % P as u64) as u32), F::new((t / P as u64) as u32)]
}

/// Chain-step tweak, 2 FE: the step that produces the value at position `pos_in_chain`
/// (`1 ..= 7`) of chain `chain` (`0 .. 46`) for `epoch`.
pub fn chain_tweak(epoch: u32, chain: u8, pos_in_chain: u8) -> [F; TWEAK_LEN_FE] {
    encode_tweak_int(chain_tweak_int(epoch, chain, pos_in_chain))
}

/// Tree tweak, 2 FE. `level` is the level of the node being *computed*: 0 for the leaf hash of
/// epoch `pos_in_level` (the sponge over the chain ends), `1 ..= 32` for inner nodes, where
/// `pos_in_level` is the node's index in its level (the epoch shifted right by `level`).
pub fn tree_tweak(level: u8, pos_in_level: u32) -> [F; TWEAK_LEN_FE] {
    encode_tweak_int(tree_tweak_int(level, pos_in_level))
}

/// Message-hash tweak, 2 FE.
pub fn message_tweak(epoch: u32) -> [F; TWEAK_LEN_FE] {
    encode_tweak_int(message_tweak_int(epoch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmss::poseidon::base_p_digits;
    use p3_field::PrimeField32;

    fn value(t: [F; 2]) -> u64 {
        t[0].as_canonical_u32() as u64 + P as u64 * t[1].as_canonical_u32() as u64
    }

    #[test]
    fn tweaks_decode_to_their_integers() {
        let e = u32::MAX;
        assert_eq!(
            value(chain_tweak(e, 45, 7)),
            ((e as u64) << 24) | (45 << 16) | (7 << 8)
        );
        assert_eq!(value(tree_tweak(32, 1)), (32u64 << 40) | (1 << 8) | 1);
        assert_eq!(value(message_tweak(e)), ((e as u64) << 8) | 2);
        // small values stay in the first digit
        assert_eq!(chain_tweak(0, 0, 1), [F::new(256), F::new(0)]);
        assert_eq!(tree_tweak(0, 3), [F::new(3 * 256 + 1), F::new(0)]);
        // the second digit is used once the integer reaches p
        let t = tree_tweak(1, 0);
        let int = (1u64 << 40) | 1;
        assert_eq!(t[0].as_canonical_u32() as u64, int % P as u64);
        assert_eq!(t[1].as_canonical_u32() as u64, int / P as u64);
        assert_ne!(t[1], F::new(0));
        // same as the general base-p writer leanSig uses
        for int in [
            0u64,
            1,
            P as u64,
            (1 << 56) - 1,
            chain_tweak_int(u32::MAX, 255, 255),
        ] {
            assert_eq!(encode_tweak_int(int), base_p_digits::<2>(int as u128));
        }
    }
}
