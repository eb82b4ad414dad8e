//! Test-only helpers: signers built from the xmss primitives (a one-epoch key whose other Merkle
//! siblings are pseudo-random), until the scheme's benchmark signer is available.

use p3_field::PrimeCharacteristicRing;

use crate::xmss::constants::{BASE, DIMENSION, LOG_LIFETIME};
use crate::xmss::hash::{leaf_hash, merkle_root_from_path, walk_chain};
use crate::xmss::message::encode;
use crate::xmss::{PublicKey, Signature, F};

fn fe(seed: u64, i: u64) -> F {
    // SplitMix64, reduced: a deterministic stream of field elements.
    let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(i.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    F::from_u32(((z ^ (z >> 31)) % 0x7f00_0001) as u32)
}

/// A valid (public key, signature) for `(message, epoch)`, deterministic in `seed`.
pub fn test_signer(seed: u64, message: &[u8; 32], epoch: u32) -> (PublicKey, Signature) {
    let parameter: [F; 5] = core::array::from_fn(|j| fe(seed, j as u64));
    let mut counter = 0u64;
    let (rho, digits) = loop {
        let rho: [F; 7] = core::array::from_fn(|j| fe(seed ^ 0xabcdef, counter * 7 + j as u64));
        if let Some(d) = encode(&parameter, epoch, &rho, message) {
            break (rho, d);
        }
        counter += 1;
    };
    let mut hashes = [[F::ZERO; 8]; DIMENSION];
    let mut ends = [[F::ZERO; 8]; DIMENSION];
    for i in 0..DIMENSION {
        let start: [F; 8] = core::array::from_fn(|j| fe(seed ^ 0x5555, (i * 8 + j) as u64));
        hashes[i] = walk_chain(&parameter, epoch, i as u8, 0, digits[i] as usize, &start);
        ends[i] = walk_chain(&parameter, epoch, i as u8, digits[i], BASE - 1 - digits[i] as usize, &hashes[i]);
    }
    let path: [[F; 8]; LOG_LIFETIME] =
        core::array::from_fn(|l| core::array::from_fn(|j| fe(seed ^ 0x7777, (l * 8 + j) as u64)));
    let leaf = leaf_hash(&parameter, epoch, &ends);
    let root = merkle_root_from_path(&parameter, epoch, &leaf, &path);
    (PublicKey { root, parameter }, Signature { path, rho, hashes })
}
