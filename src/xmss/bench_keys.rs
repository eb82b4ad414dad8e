//! **Benchmark and test only: not a key generator.** Makes many distinct signers fast, for
//! aggregation benchmarks with thousands of signatures.
//!
//! A bench signer is a public key valid for exactly one epoch: its one-time chains for that
//! epoch are real (PRF-derived starts, walked with the scheme's tweaks, hashed with the leaf
//! sponge), but every one of the 32 Merkle siblings on the path to the root is a random digest,
//! and the public key's root is whatever that path hashes to. The signature therefore verifies
//! with the ordinary [`fn@crate::xmss::verify`] and exercises exactly the computation a real
//! signature does, while costing one rho search and 46 chains instead of a 2^17-leaf tree.
//!
//! There is no secret key: nothing here returns a [`crate::xmss::SecretKey`], no other epoch or
//! message can be signed for these public keys, and the production [`fn@crate::xmss::keygen`] remains
//! the only way to obtain a key. Never use these keys outside benchmarks and tests.

use rand::{rngs::StdRng, RngCore, SeedableRng};
use rayon::prelude::*;

use super::constants::{DIMENSION, LOG_LIFETIME, P};
use super::hash::{leaf_hash, merkle_root_from_path, walk_chain};
use super::keygen::find_rho;
use super::verify::chain_ends;
use super::{prf, Digest, Parameter, PublicKey, Signature, XmssError, F};

/// One benchmark signer: a public key valid only at `epoch` and its signature of `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchSigner {
    /// The signer's public key (root of its random-sibling path, its parameter).
    pub public_key: PublicKey,
    /// Its signature of the benchmark message at the benchmark epoch.
    pub signature: Signature,
}

fn random_fe(rng: &mut StdRng) -> F {
    loop {
        let x = rng.next_u32() >> 1;
        if x < P {
            return F::new(x);
        }
    }
}

/// Signer number `index` of the family `seed` (deterministic, independent per index).
fn bench_signer(
    seed: &[u8; 32],
    index: u64,
    epoch: u32,
    message: &[u8; 32],
) -> Result<BenchSigner, XmssError> {
    let mut s = *seed;
    for (b, x) in s.iter_mut().zip(index.to_le_bytes()) {
        *b ^= x;
    }
    s[31] ^= 0xb5; // keep the family apart from seeds given to the production keygen
    let mut rng = StdRng::from_seed(s);
    let parameter: Parameter = core::array::from_fn(|_| random_fe(&mut rng));
    let mut prf_key = [0u8; 32];
    rng.fill_bytes(&mut prf_key);
    let path: [Digest; LOG_LIFETIME] =
        core::array::from_fn(|_| core::array::from_fn(|_| random_fe(&mut rng)));

    let (rho, x) = find_rho(&prf_key, &parameter, epoch, message)?;
    let hashes: [Digest; DIMENSION] = core::array::from_fn(|c| {
        let start = prf::chain_start(&prf_key, epoch, c as u64);
        walk_chain(&parameter, epoch, c as u8, 0, x[c] as usize, &start)
    });
    let signature = Signature { path, rho, hashes };
    let mut public_key = PublicKey {
        root: [F::new(0); 8],
        parameter,
    };
    let ends = chain_ends(&public_key, epoch, &x, &signature);
    public_key.root = merkle_root_from_path(
        &parameter,
        epoch,
        &leaf_hash(&parameter, epoch, &ends),
        &signature.path,
    );
    Ok(BenchSigner {
        public_key,
        signature,
    })
}

/// `n` distinct benchmark signers for one `(epoch, message)`, in parallel, deterministic in
/// `seed`. Benchmark/test only (see the module docs). Errors only if a rho search fails
/// ([`XmssError::Signing`], probability negligible).
pub fn generate_bench_signers(
    n: usize,
    epoch: u32,
    message: &[u8; 32],
    seed: [u8; 32],
) -> Result<Vec<BenchSigner>, XmssError> {
    (0..n as u64)
        .into_par_iter()
        .map(|i| bench_signer(&seed, i, epoch, message))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmss::verify;

    #[test]
    fn bench_signers_verify_and_are_distinct() {
        let msg = [0x42; 32];
        let epoch = 1_000_003;
        let signers = generate_bench_signers(8, epoch, &msg, [9; 32]).unwrap();
        for (i, s) in signers.iter().enumerate() {
            assert!(
                verify(&s.public_key, epoch, &msg, &s.signature),
                "signer {i}"
            );
            assert!(!verify(&s.public_key, epoch + 1, &msg, &s.signature));
            assert!(!verify(&s.public_key, epoch, &[0x43; 32], &s.signature));
            for t in &signers[..i] {
                assert_ne!(t.public_key, s.public_key);
                assert!(!verify(&t.public_key, epoch, &msg, &s.signature));
            }
        }
        // the extreme epochs (all-zero and all-one tweak bits, every Merkle direction)
        for e in [0, u32::MAX] {
            let s = &generate_bench_signers(1, e, &msg, [1; 32]).unwrap()[0];
            assert!(verify(&s.public_key, e, &msg, &s.signature));
            assert!(!verify(&s.public_key, e ^ 1, &msg, &s.signature));
        }
        // deterministic in the seed, different for another seed
        assert_eq!(
            generate_bench_signers(2, epoch, &msg, [9; 32]).unwrap(),
            signers[..2]
        );
        assert_ne!(
            generate_bench_signers(1, epoch, &msg, [8; 32]).unwrap()[0],
            signers[0]
        );
    }
}
