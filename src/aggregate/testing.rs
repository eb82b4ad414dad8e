//! What the crate's own tests need beyond the public API (feature `testing`; not a stable API).
//!
//! - Test signers: keys valid for one epoch, built from the xmss primitives, whose chain values
//!   at position 0 are known so tests can build signatures that are wrong in exactly one way.
//!   Never a key generator: the Merkle siblings are pseudo-random, so the key signs nothing but
//!   this one (message, epoch).
//! - [`prove_witnesses`], which proves whatever witness it is given. With this feature the
//!   internal modules (`air`, `statement`, `witness`, `wire`, `fri`, `whir`) are public too, so
//!   the soundness and format tests can forge witnesses and proofs.

use super::air::chain::ChainStep;
use super::air::sig::SigWitness;
use super::{AggregateProof, ProveError, ProveOptions, VerifyError, VerifyOptions};

/// `verify_aggregate` with the keys in the order given, not re-sorted: the order a proof made
/// by [`prove_witnesses`] binds is the order of its witnesses, which a test may choose.
///
/// # Errors
/// As `verify_aggregate`.
pub fn verify_in_order(
    proof: &[u8],
    keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    super::verify_in_order(proof, keys, message, epoch, opts)
}

/// Proves from the given witnesses and chain steps, whatever they are (the entry point of
/// `Aggregator::prove`). Debug builds run Plonky3's constraint and bus checker, so a bad witness
/// fails with [`ProveError::Prover`]; release builds produce a proof that must not verify.
///
/// # Errors
/// As `Aggregator::prove`.
pub fn prove_witnesses(
    message: &[u8; 32],
    epoch: u32,
    keys: &[PublicKey],
    witnesses: &[SigWitness],
    steps: &[ChainStep],
    opts: &ProveOptions,
) -> Result<AggregateProof, ProveError> {
    super::prove_witnesses(message, epoch, keys, witnesses, steps, opts)
}

use p3_field::PrimeCharacteristicRing;

use crate::xmss::constants::{BASE, DIMENSION, LOG_LIFETIME};
use crate::xmss::hash::{leaf_hash, merkle_root_from_path, walk_chain};
use crate::xmss::message::{hypercube_digits, message_hash};
use crate::xmss::{Digest, Parameter, PublicKey, Signature, F};

fn fe(seed: u64, i: u64) -> F {
    // SplitMix64 over (seed, i), reduced mod p: a deterministic stream of field elements.
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(i.wrapping_add(1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    F::from_u32(((z ^ (z >> 31)) % u64::from(crate::xmss::constants::P)) as u32)
}

/// A one-epoch test signer.
#[derive(Clone, Debug)]
pub struct TestSigner {
    /// Key parameter.
    pub parameter: Parameter,
    /// The rho found for (message, epoch).
    pub rho: [F; 7],
    /// The codeword digits of that rho (not necessarily summing to 200, see [`Self::new`]).
    pub digits: [u8; DIMENSION],
    /// Chain values at position 0.
    pub starts0: [Digest; DIMENSION],
    /// Merkle siblings.
    pub path: [Digest; LOG_LIFETIME],
}

impl TestSigner {
    /// A signer for `(message, epoch)` whose rho gives a non-aborting message hash with digit
    /// sum `digit_sum` (200 for a valid signature), deterministic in `seed`.
    pub fn new(seed: u64, message: &[u8; 32], epoch: u32, digit_sum: usize) -> Self {
        let parameter: Parameter = core::array::from_fn(|j| fe(seed, j as u64));
        let mut counter = 0u64;
        let (rho, digits) = loop {
            let rho: [F; 7] = core::array::from_fn(|j| fe(seed ^ 0xabcdef, counter * 7 + j as u64));
            let hash = message_hash(&parameter, epoch, &rho, message);
            if let Some(d) = hypercube_digits(&hash) {
                if d.iter().map(|&x| x as usize).sum::<usize>() == digit_sum {
                    break (rho, d);
                }
            }
            counter += 1;
        };
        let starts0 = core::array::from_fn(|i| {
            core::array::from_fn(|j| fe(seed ^ 0x5555, (i * 8 + j) as u64))
        });
        let path = core::array::from_fn(|l| {
            core::array::from_fn(|j| fe(seed ^ 0x7777, (l * 8 + j) as u64))
        });
        Self {
            parameter,
            rho,
            digits,
            starts0,
            path,
        }
    }

    /// The value of chain `i` at position `pos`.
    pub fn chain_value(&self, epoch: u32, i: usize, pos: u8) -> Digest {
        walk_chain(
            &self.parameter,
            epoch,
            i as u8,
            0,
            pos as usize,
            &self.starts0[i],
        )
    }

    /// The key and the signature (chain values at the codeword digits), with the root computed
    /// from the chain ends at position 7.
    pub fn sign(&self, epoch: u32) -> (PublicKey, Signature) {
        let hashes: [Digest; DIMENSION] =
            core::array::from_fn(|i| self.chain_value(epoch, i, self.digits[i]));
        let ends: [Digest; DIMENSION] =
            core::array::from_fn(|i| self.chain_value(epoch, i, BASE as u8 - 1));
        let leaf = leaf_hash(&self.parameter, epoch, &ends);
        let root = merkle_root_from_path(&self.parameter, epoch, &leaf, &self.path);
        (
            PublicKey {
                root,
                parameter: self.parameter,
            },
            Signature {
                path: self.path,
                rho: self.rho,
                hashes,
            },
        )
    }
}

/// A valid `(public key, signature)` for `(message, epoch)`, deterministic in `seed`.
pub fn test_signer(seed: u64, message: &[u8; 32], epoch: u32) -> (PublicKey, Signature) {
    TestSigner::new(seed, message, epoch, 200).sign(epoch)
}

/// Distinct nodes of the symbolic expressions `roots` (a subexpression shared by address counted
/// once): what one walk of p3-multi-stark's symbolic passes over them visits.
pub fn distinct_nodes(roots: &[&p3_air::symbolic::SymbolicExpression<F>]) -> usize {
    super::recursion::replay::distinct_nodes(roots).len()
}
