//! The STARK configuration of the FRI proof system: PCS, DFT, transcript, built per preset.
//!
//! | piece            | choice                                                                    |
//! |------------------|---------------------------------------------------------------------------|
//! | field, hashes    | [`crate::aggregate::field`]                                               |
//! | PCS              | `TwoAdicFriPcs` (FRI over the two-adic coset LDE)                          |
//! | DFT              | `Radix2DitParallel` (see below)                                           |
//! | Fiat-Shamir      | Keccak-256 hash challenger, domain [`TRANSCRIPT_DOMAIN`]                    |
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

use p3_commit::ExtensionMmcs;
use p3_dft::Radix2DitParallel;
use p3_fri::{FriParameters, TwoAdicFriPcs};
use p3_uni_stark::StarkConfig;

use crate::aggregate::field::{challenger, val_mmcs, Challenge, Challenger, Val, ValMmcs};
use crate::aggregate::preset::FriPreset;

/// Merkle commitment to extension-field matrices (FRI commit-phase codewords), flattened to the
/// base field.
pub type ChallengeMmcs = ExtensionMmcs<Val, Challenge, ValMmcs>;

/// The DFT used for trace LDEs and quotient computation (prover only).
pub type Dft = Radix2DitParallel<Val>;

/// The polynomial commitment scheme: FRI over two-adic cosets of KoalaBear.
pub type Pcs = TwoAdicFriPcs<Val, Dft, ValMmcs, ChallengeMmcs>;

/// The concrete `p3_uni_stark::StarkGenericConfig` used by `p3_batch_stark::prove_batch` /
/// `verify_batch` for aggregate proofs.
pub type MultisigConfig = StarkConfig<Pcs, Challenge, Challenger>;

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

/// Builds the STARK configuration of a preset.
///
/// Cheap: every component is a zero-sized hasher or a small parameter struct; the only allocation
/// is the challenger's initial transcript ([`TRANSCRIPT_DOMAIN`], 34 bytes). The DFT's twiddle
/// cache starts empty and is filled by the prover on first use, so verifiers never pay for it.
pub fn stark_config(preset: &FriPreset) -> MultisigConfig {
    let mmcs = val_mmcs(usize::from(preset.merkle_cap_height));
    let challenge_mmcs = ChallengeMmcs::new(mmcs.clone());
    let pcs = Pcs::new(Dft::default(), mmcs, fri_parameters(preset, challenge_mmcs));
    MultisigConfig::new(pcs, challenger(TRANSCRIPT_DOMAIN))
        .with_ood_proof_of_work_bits(usize::from(preset.ood_pow_bits))
        .with_lookup_proof_of_work_bits(usize::from(preset.lookup_pow_bits))
}
