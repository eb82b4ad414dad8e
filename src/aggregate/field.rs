//! The field and the hash every aggregate proof is made over, whatever the proof system.
//!
//! | piece            | choice                                                                    |
//! |------------------|---------------------------------------------------------------------------|
//! | base field       | KoalaBear, `p = 2^31 - 2^24 + 1` ([`Val`])                                 |
//! | challenge field  | quintic extension `KoalaBear[X]/(X^5 + X^2 - 1)`, `|EF| ~ 2^155` ([`Challenge`]) |
//! | Merkle trees     | Keccak-f\[1600\] sponge (rate 17 x u64, 4 x u64 = 32-byte digests), binary, |
//! |                  | leaves hashed 8 rows at a time with the AVX-512/AVX2 packed Keccak; the     |
//! |                  | FRI-Poseidon1 presets use Poseidon1-24 instead (`fri::config`)             |
//! | PCS              | `TwoAdicFriPcs` (FRI over the two-adic coset LDE)                          |
//! | DFT              | `Radix2DitParallel` (see below)                                           |
//! | Fiat-Shamir      | Keccak-256 hash challenger, field elements absorbed as 4 LE bytes (FRI-Poseidon1: a Poseidon1-24 duplex) |
//!
//! # Why the quintic extension
//!
//! Every round of the protocol that samples a challenge from the extension (the LogUp challenges
//! `alpha, beta`, the constraint-batching `alpha`, the DEEP point `zeta`, the opening-batching
//! `alpha` and each FRI folding `beta`) is sound up to a term of the form `d / |EF|`, where `d`
//! grows with the LDE size and, in the proven regime, with the Johnson list size. Over the
//! degree-4 extension (`|EF| ~ 2^124`, what this crate used first) those terms cap every preset
//! below 124 bits, and in the proven regime at rate 1/2 they forced unique decoding: 213 queries
//! for 104 bits. Over the quintic extension (`|EF| ~ 2^155`, Plonky3's
//! `QuinticTrinomialExtensionField`, the only KoalaBear extension of degree > 4 with packed
//! arithmetic in 0.8) list decoding up to the Johnson bound becomes usable, and the proven
//! presets reach 124 bits (leanMultisig's proven level) with 227 queries at rate 1/2 and 76 at
//! rate 1/8 for up to 4096 signatures; the conjectured presets reach 127 to 128 bits, capped by
//! the Keccak-256 collision bound.
//!
//! The cost: every opened extension value is 5 base elements instead of 4 (about 15% of a proof's
//! bytes are extension values), and extension multiplications (LogUp columns, FRI folding, the
//! DEEP quotients) are dearer. See `super::fri::security` for the full account.
//!

use p3_challenger::{HashChallenger, SerializingChallenger32};
use p3_field::extension::QuinticTrinomialExtensionField;
use p3_keccak::{Keccak256Hash, KeccakF};
use p3_merkle_tree::MerkleTreeMmcs;
use p3_symmetric::{CompressionFunctionFromHasher, PaddingFreeSponge, SerializingHasher};

/// The base field: KoalaBear, `p = 2^31 - 2^24 + 1` ([`crate::xmss::constants::P`]). Traces and
/// public values live here.
pub type Val = p3_koala_bear::KoalaBear;

/// The challenge field: the quintic extension `KoalaBear[X]/(X^5 + X^2 - 1)`, about 2^155
/// elements. All random challenges and all out-of-domain openings live here.
pub type Challenge = QuinticTrinomialExtensionField<Val>;

/// Degree of [`Challenge`] over [`Val`].
pub const CHALLENGE_DEGREE: usize = 5;

// The proof envelopes size every extension value by this constant.
const _: () = assert!(
    <Challenge as p3_field::BasedVectorSpace<Val>>::DIMENSION == CHALLENGE_DEGREE,
    "CHALLENGE_DEGREE must be the challenge field's degree"
);

/// Number of Keccak-f lanes hashed side by side by the packed Keccak on this target (8 with
/// AVX-512, 4 with AVX2, 2 with SSE2/NEON).
pub const KECCAK_LANES: usize = p3_keccak::VECTOR_LEN;

/// Keccak-f\[1600\] sponge over `u64` words: width 25, rate 17 (1088 bits, Keccak-256's rate),
/// squeezing 4 words (a 32-byte digest).
pub type KeccakU64Sponge = PaddingFreeSponge<KeccakF, 25, 17, 4>;

/// Leaf hash: serializes field elements (4 LE bytes each, packed into `u64` words) into the
/// Keccak sponge.
pub type LeafHash = SerializingHasher<KeccakU64Sponge>;

/// 2-to-1 compression of Merkle nodes: the Keccak sponge over the two concatenated digests.
pub type NodeCompress = CompressionFunctionFromHasher<KeccakU64Sponge, 2, 4>;

/// Merkle commitment to base-field matrices; digests are `[u64; 4]` (32 bytes), trees are binary,
/// and rows are hashed [`KECCAK_LANES`] at a time.
pub type ValMmcs =
    MerkleTreeMmcs<[Val; KECCAK_LANES], [u64; KECCAK_LANES], LeafHash, NodeCompress, 2, 4>;

/// The Fiat-Shamir challenger of both proof systems: a Keccak-256 hash chain over the bytes of
/// everything observed (each proof system starts it with its own domain separator).
pub type Challenger = SerializingChallenger32<Val, HashChallenger<u8, Keccak256Hash, 32>>;

/// A Merkle commitment scheme of [`ValMmcs`] with a cap of `cap_height` (0: one root digest).
pub fn val_mmcs(cap_height: usize) -> ValMmcs {
    let sponge = KeccakU64Sponge::new(KeccakF);
    ValMmcs::new(LeafHash::new(sponge), NodeCompress::new(sponge), cap_height)
}

/// A fresh transcript with the domain separator `domain`.
pub fn challenger(domain: &[u8]) -> Challenger {
    Challenger::from_hasher(domain.to_vec(), Keccak256Hash)
}

/// `log2 |EF|` of the challenge field, exactly: `5 * log2(p)` = 154.943... for the quintic
/// extension of KoalaBear (`p = 2^31 - 2^24 + 1`). `Field::bits()` would round it up to 155.
pub fn challenge_field_bits() -> f64 {
    CHALLENGE_DEGREE as f64 * f64::from(crate::xmss::constants::P).log2()
}
