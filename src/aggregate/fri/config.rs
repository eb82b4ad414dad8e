//! The STARK configuration of the FRI proof system: PCS, DFT, Merkle hash and transcript, built
//! per preset.
//!
//! | piece            | choice                                                                    |
//! |------------------|---------------------------------------------------------------------------|
//! | field            | [`crate::aggregate::field`]                                               |
//! | PCS              | `TwoAdicFriPcs` (FRI over the two-adic coset LDE)                          |
//! | DFT              | `Radix2DitParallel` (see below)                                           |
//! | Merkle trees and Fiat-Shamir | the preset's [`MerkleHash`]: [`Keccak`] or [`Poseidon1`] ([`FriHash`]) |
//!
//! # The two hashes
//!
//! | [`MerkleHash`] | leaves                         | nodes                        | digest             | transcript                              |
//! |----------------|--------------------------------|------------------------------|--------------------|-----------------------------------------|
//! | `Keccak`       | Keccak-f\[1600\] sponge, rate 17 `u64`, rows as 4-byte LE words | the sponge over both children | 4 `u64` (32 bytes) | Keccak-256 hash chain over bytes        |
//! | `Poseidon1`    | Poseidon1-24 sponge, rate 15, capacity 9 | Poseidon1-24 on both children, first 9 out | 9 KoalaBear (36 bytes) | Poseidon1-24 duplex, rate 15, capacity 9 |
//!
//! Poseidon1-24 is leanSig's width-24 permutation (`default_koalabear_poseidon1_24`: 8 full and
//! 23 partial rounds, S-box `x^3`, sized for 128 bits), the one
//! [`crate::aggregate::air::perm`] already arithmetizes, so a proof whose trees and transcript
//! use it can be checked inside our own AIRs. Its collision resistance is the permutation's
//! 128-bit design level: the 9-element digest and capacity (`9 log2 p / 2 = 139.4` bits) are
//! not the weakest term; 8 elements would be (123.96 bits). Both hashes therefore count 128 bits
//! in [`super::security`], and the Poseidon1 presets keep the Keccak presets' queries and
//! grinding.
//!
//! # Why `Radix2DitParallel`
//!
//! Coset LDE (blowup 2) of a pseudo-random matrix on a 2-core VM, mean of 3 (machine shared
//! with other builds, so +-20%; measured with a one-off harness, 2026-11):
//!
//! | DFT                          | 2^16 x 256 | 2^17 x 128 |
//! |------------------------------|-----------:|-----------:|
//! | `Radix2DitParallel`          |     516 ms |     546 ms |
//! | `Radix2DFTSmallBatch`        |     702 ms |     510 ms |
//! | `p3_monty_31::RecursiveDft`  |     734 ms |     760 ms |
//!
//! None is clearly faster than `Radix2DitParallel` at the shapes the aggregation commits.
//!

use p3_challenger::{CanObserve, CanSample, DuplexChallenger, FieldChallenger, GrindingChallenger};
use p3_commit::{ExtensionMmcs, Mmcs};
use p3_dft::Radix2DitParallel;
use p3_field::Field;
use p3_fri::{FriParameters, TwoAdicFriPcs};
use p3_merkle_tree::{MerkleCap, MerkleTreeMmcs, PrunedMerklePaths};
use p3_symmetric::{PaddingFreeSponge, TruncatedPermutation};
use p3_uni_stark::StarkConfig;

use crate::aggregate::field::{challenger, val_mmcs, Challenge, Challenger, Val, ValMmcs};
use crate::aggregate::options::{MerkleHash, VerifyError};
use crate::aggregate::preset::FriPreset;
use crate::aggregate::wire::{self, WireDigest};

/// A Merkle hash and transcript the FRI proof system can run over: the types Plonky3's
/// `TwoAdicFriPcs` and `StarkConfig` are built from, and the wire form of their digests.
/// Implemented by [`Keccak`] and [`Poseidon1`].
pub trait FriHash: Copy + Send + Sync + 'static {
    /// Which of [`MerkleHash`] this is.
    const HASH: MerkleHash;
    /// Plonky3's digest: `[u64; 4]` for Keccak, `[Val; 9]` for Poseidon1.
    type Digest: WireDigest;
    /// Merkle commitment to base-field matrices, one root per commitment.
    type Mmcs: Mmcs<
            Val,
            Commitment = MerkleCap<Val, Self::Digest>,
            MultiProof: Sync,
            Error: Sync,
            ProverData<p3_matrix::dense::RowMajorMatrix<Val>>: Send + Sync,
        > + Clone
        + Send
        + Sync;
    /// The Fiat-Shamir transcript.
    type Challenger: FieldChallenger<Val>
        + CanObserve<MerkleCap<Val, Self::Digest>>
        + CanSample<Challenge>
        + GrindingChallenger<Witness = Val>
        + Clone
        + Send
        + Sync;
    /// The commitment scheme with a Merkle cap of `cap_height` (0: one root digest).
    fn mmcs(cap_height: usize) -> Self::Mmcs;
    /// A fresh transcript that has absorbed the domain separator `domain`.
    fn challenger(domain: &[u8]) -> Self::Challenger;
    /// The sibling digests of a pruned Merkle multiproof, in its order, in wire form.
    fn paths_to_wire(
        p: &<Self::Mmcs as Mmcs<Val>>::MultiProof,
    ) -> Vec<<Self::Digest as WireDigest>::Bytes>;
    /// A pruned Merkle multiproof from its wire form.
    ///
    /// # Errors
    /// [`VerifyError::Malformed`] for a digest word that is not canonical.
    fn paths_from_wire(
        ps: &[<Self::Digest as WireDigest>::Bytes],
    ) -> Result<<Self::Mmcs as Mmcs<Val>>::MultiProof, VerifyError>;
}

/// Keccak-f\[1600\] Merkle trees and a Keccak-256 transcript ([`crate::aggregate::field`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Keccak;

impl FriHash for Keccak {
    const HASH: MerkleHash = MerkleHash::Keccak;
    type Digest = [u64; 4];
    type Mmcs = ValMmcs;
    type Challenger = Challenger;
    fn mmcs(cap_height: usize) -> ValMmcs {
        val_mmcs(cap_height)
    }
    fn challenger(domain: &[u8]) -> Challenger {
        challenger(domain)
    }
    fn paths_to_wire(p: &PrunedMerklePaths<u64, 4>) -> Vec<[u8; 32]> {
        wire::paths_to_wire(p)
    }
    fn paths_from_wire(ps: &[[u8; 32]]) -> Result<PrunedMerklePaths<u64, 4>, VerifyError> {
        wire::paths_from_wire(ps)
    }
}

/// leanSig's width-24 Poseidon1 permutation over KoalaBear: Plonky3's function and constants,
/// our rounds (`crate::xmss::permutation`).
pub type Perm24 = crate::xmss::permutation::Poseidon1Perm24;

/// Elements of a Poseidon1 digest: 9 KoalaBear elements (279 bits).
pub const POSEIDON1_DIGEST_ELEMS: usize = 9;

/// Rate of the Poseidon1-24 leaf sponge and of the duplex transcript, in elements: 15, leaving a
/// capacity of 9 elements.
pub const POSEIDON1_RATE: usize = 15;

/// Leaf hash: the Poseidon1-24 sponge over a row's elements, rate 15, 9 elements out.
pub type Poseidon1LeafHash =
    PaddingFreeSponge<Perm24, 24, POSEIDON1_RATE, POSEIDON1_DIGEST_ELEMS>;

/// Node compression: Poseidon1-24 on the two children's 18 elements (6 zeros after them), the
/// first 9 elements out.
pub type Poseidon1NodeCompress = TruncatedPermutation<Perm24, 2, POSEIDON1_DIGEST_ELEMS, 24>;

/// Packed KoalaBear (16 lanes with AVX-512, 8 with AVX2).
type PackedVal = <Val as Field>::Packing;

/// Merkle commitment to base-field matrices over Poseidon1-24: binary trees, 9-element digests,
/// rows hashed as many at a time as [`PackedVal`] has lanes.
pub type Poseidon1Mmcs = MerkleTreeMmcs<
    PackedVal,
    PackedVal,
    Poseidon1LeafHash,
    Poseidon1NodeCompress,
    2,
    POSEIDON1_DIGEST_ELEMS,
>;

/// The Poseidon1-24 duplex transcript: rate 15, capacity 9.
pub type Poseidon1Challenger = DuplexChallenger<Val, Perm24, 24, POSEIDON1_RATE>;

/// The Poseidon1-24 duplex transcript over `perm` (leanSig's width-24 permutation, or one that
/// computes the same function) after absorbing the domain separator `domain`, one byte per
/// element, then its length.
pub(crate) fn poseidon1_challenger<P>(
    perm: P,
    domain: &[u8],
) -> DuplexChallenger<Val, P, 24, POSEIDON1_RATE>
where
    P: p3_symmetric::CryptographicPermutation<[Val; 24]>,
{
    let mut c = DuplexChallenger::new(perm);
    for &b in domain {
        c.observe(Val::new(u32::from(b)));
    }
    c.observe(Val::new(domain.len() as u32));
    c
}

/// Poseidon1-24 Merkle trees and a Poseidon1-24 duplex transcript.
#[derive(Clone, Copy, Debug, Default)]
pub struct Poseidon1;

impl FriHash for Poseidon1 {
    const HASH: MerkleHash = MerkleHash::Poseidon1;
    type Digest = [Val; POSEIDON1_DIGEST_ELEMS];
    type Mmcs = Poseidon1Mmcs;
    type Challenger = Poseidon1Challenger;
    fn mmcs(cap_height: usize) -> Poseidon1Mmcs {
        let perm = crate::xmss::poseidon::poseidon1_24().clone();
        Poseidon1Mmcs::new(
            Poseidon1LeafHash::new(perm.clone()),
            Poseidon1NodeCompress::new(perm),
            cap_height,
        )
    }
    /// The domain separator is absorbed one byte per element, then its length.
    fn challenger(domain: &[u8]) -> Poseidon1Challenger {
        poseidon1_challenger(crate::xmss::poseidon::poseidon1_24().clone(), domain)
    }
    fn paths_to_wire(p: &PrunedMerklePaths<Val, POSEIDON1_DIGEST_ELEMS>) -> Vec<[u8; 36]> {
        wire::paths_to_wire(p)
    }
    fn paths_from_wire(
        ps: &[[u8; 36]],
    ) -> Result<PrunedMerklePaths<Val, POSEIDON1_DIGEST_ELEMS>, VerifyError> {
        wire::paths_from_wire(ps)
    }
}

/// The DFT used for trace LDEs and quotient computation (prover only).
pub type Dft = Radix2DitParallel<Val>;

/// Merkle commitment to extension-field matrices (FRI commit-phase codewords), flattened to the
/// base field.
pub type ChallengeMmcsOf<H> = ExtensionMmcs<Val, Challenge, <H as FriHash>::Mmcs>;

/// The polynomial commitment scheme over hash `H`: FRI over two-adic cosets of KoalaBear.
pub type PcsOf<H> = TwoAdicFriPcs<Val, Dft, <H as FriHash>::Mmcs, ChallengeMmcsOf<H>>;

/// The `p3_uni_stark::StarkGenericConfig` that `p3_batch_stark::prove_batch` / `verify_batch`
/// run with over hash `H`.
pub type FriConfig<H> = StarkConfig<PcsOf<H>, Challenge, <H as FriHash>::Challenger>;

/// [`FriConfig`] for Keccak: the configuration of the FRI presets with [`MerkleHash::Keccak`].
pub type MultisigConfig = FriConfig<Keccak>;

/// Domain-separation prefix absorbed by the challenger before anything else, so that transcripts
/// of this protocol never collide with another Plonky3 application using the same hash.
pub const TRANSCRIPT_DOMAIN: &[u8] = b"multisig/leansig-xmss-aggregate/v1";

/// The FRI parameters of `preset` around a given Merkle commitment scheme.
pub fn fri_parameters<M>(preset: &FriPreset, mmcs: M) -> FriParameters<M> {
    FriParameters {
        log_blowup: usize::from(preset.log_inv_rate),
        log_final_poly_len: usize::from(preset.log_final_poly_len),
        max_log_arity: usize::from(preset.max_log_arity),
        num_queries: usize::from(preset.num_queries),
        batch_proof_of_work_bits: usize::from(preset.batch_pow_bits),
        commit_proof_of_work_bits: usize::from(preset.commit_pow_bits),
        query_proof_of_work_bits: usize::from(preset.query_pow_bits),
        mmcs,
    }
}

/// Builds the STARK configuration of a preset over hash `H` (the caller picks `H` from
/// [`FriPreset::hash`]).
///
/// Cheap: every component is a hasher (Keccak: zero-sized; Poseidon1: a clone of the
/// process-wide permutation's round constants) or a small parameter struct, plus the
/// challenger's initial transcript ([`TRANSCRIPT_DOMAIN`], 34 bytes). The DFT's twiddle cache
/// starts empty and is filled by the prover on first use, so verifiers never pay for it.
pub fn fri_config<H: FriHash>(preset: &FriPreset) -> FriConfig<H> {
    let mmcs = H::mmcs(usize::from(preset.merkle_cap_height));
    fri_config_from::<H>(preset, mmcs.clone(), mmcs, H::challenger(TRANSCRIPT_DOMAIN))
}

/// [`fri_config`] from its parts: the commitment scheme of the trace trees, the one under the
/// FRI commit-phase trees (the same scheme in [`fri_config`]; separate instances let
/// [`crate::aggregate::recursion`] tell their hashing apart) and the transcript, which must
/// already have absorbed [`TRANSCRIPT_DOMAIN`].
pub(crate) fn fri_config_from<H: FriHash>(
    preset: &FriPreset,
    trace_mmcs: H::Mmcs,
    fri_mmcs: H::Mmcs,
    challenger: H::Challenger,
) -> FriConfig<H> {
    debug_assert_eq!(preset.hash, H::HASH, "preset and hash disagree");
    let challenge_mmcs = ChallengeMmcsOf::<H>::new(fri_mmcs);
    let pcs = PcsOf::<H>::new(Dft::default(), trace_mmcs, fri_parameters(preset, challenge_mmcs));
    FriConfig::<H>::new(pcs, challenger)
        .with_ood_proof_of_work_bits(usize::from(preset.ood_pow_bits))
        .with_lookup_proof_of_work_bits(usize::from(preset.lookup_pow_bits))
}

/// [`fri_config`] for a Keccak preset (for the tests' own provers).
#[cfg(any(test, feature = "testing"))]
pub fn stark_config(preset: &FriPreset) -> MultisigConfig {
    fri_config::<Keccak>(preset)
}
