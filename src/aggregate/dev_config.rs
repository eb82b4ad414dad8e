//! TEMPORARY STARK configuration, used until `config.rs` (proof-format work) lands.
//! Same shape as the planned one: KoalaBear, degree-4 extension, Keccak Merkle trees, FRI.

use p3_challenger::{HashChallenger, SerializingChallenger32};
use p3_commit::ExtensionMmcs;
use p3_dft::Radix2DitParallel;
use p3_field::extension::BinomialExtensionField;
use p3_fri::{FriParameters, TwoAdicFriPcs};
use p3_keccak::{Keccak256Hash, KeccakF};
use p3_merkle_tree::MerkleTreeMmcs;
use p3_symmetric::{CompressionFunctionFromHasher, PaddingFreeSponge, SerializingHasher};
use p3_uni_stark::StarkConfig;

use super::ProveOptions;

type Val = p3_koala_bear::KoalaBear;
/// Challenge field.
pub type Challenge = BinomialExtensionField<Val, 4>;
type Sponge = PaddingFreeSponge<KeccakF, 25, 17, 4>;
type ValMmcs = MerkleTreeMmcs<
    [Val; p3_keccak::VECTOR_LEN],
    [u64; p3_keccak::VECTOR_LEN],
    SerializingHasher<Sponge>,
    CompressionFunctionFromHasher<Sponge, 2, 4>,
    2,
    4,
>;
type ChallengeMmcs = ExtensionMmcs<Val, Challenge, ValMmcs>;
type Pcs = TwoAdicFriPcs<Val, Radix2DitParallel<Val>, ValMmcs, ChallengeMmcs>;
type Challenger = SerializingChallenger32<Val, HashChallenger<u8, Keccak256Hash, 32>>;
/// The configuration type.
pub type MultisigConfig = StarkConfig<Pcs, Challenge, Challenger>;

/// A configuration for the options (temporary parameters: 100 queries, 16-bit query grinding).
pub fn stark_config(opts: &ProveOptions) -> Result<MultisigConfig, String> {
    let log_blowup = match opts.log_inv_rate {
        0 => 1,
        r @ 1..=4 => r as usize,
        r => return Err(format!("log_inv_rate {r} outside 1..=4")),
    };
    let sponge = Sponge::new(KeccakF);
    let val_mmcs = ValMmcs::new(SerializingHasher::new(sponge), CompressionFunctionFromHasher::new(sponge), 0);
    let challenge_mmcs = ChallengeMmcs::new(val_mmcs.clone());
    let fri = FriParameters {
        log_blowup,
        log_final_poly_len: 0,
        max_log_arity: 1,
        num_queries: 100usize.div_ceil(log_blowup),
        batch_proof_of_work_bits: 0,
        commit_proof_of_work_bits: 0,
        query_proof_of_work_bits: 16,
        mmcs: challenge_mmcs,
    };
    let pcs = Pcs::new(Radix2DitParallel::default(), val_mmcs, fri);
    let challenger = Challenger::from_hasher(b"multisig-dev".to_vec(), Keccak256Hash);
    Ok(MultisigConfig::new(pcs, challenger))
}
