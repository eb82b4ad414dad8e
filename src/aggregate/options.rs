//! The options, limits and errors of the aggregation API (re-exported by [`super`]): what a
//! caller chooses (regime, backend, rate, byte limit, verification policy) and what it is told.

/// Largest number of signatures in one aggregate proof: leanSpec's `VALIDATOR_REGISTRY_LIMIT`
/// (2^12 validators, so no attestation has more signers). Every FRI preset is tuned to reach
/// [`SECURITY_FLOOR_BITS`] here (`super::fri::security`); the WHIR presets stop earlier
/// ([`super::preset::MAX_WHIR_SIGNATURES`]).
pub const MAX_SIGNATURES: usize = 1 << 12;

/// The soundness, in bits, that a proof must reach for its own statement to be made
/// ([`super::Aggregator::prove`]) or accepted ([`super::verify_aggregate`]): graded in the proven regime unless
/// the verifier opts into conjectured presets ([`VerifyOptions::allow_conjectured`]). The level
/// leanMultisig's proven presets claim.
pub const SECURITY_FLOOR_BITS: f64 = 124.0;

/// The size cap of an aggregate proof on the wire, in bytes (512 KiB): consensus clients gossip
/// and store an aggregate in an SSZ `ByteList512KiB` (zeam's `MAX_AGGREGATE_PROOF_SIZE`), so a
/// longer proof cannot be used at all. The prover's default byte limit
/// ([`ProveOptions::max_proof_bytes`]).
pub const WIRE_CAP_BYTES: usize = 512 * 1024;

/// Soundness regime of a preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Regime {
    /// Provable soundness: FRI list decoding up to the Johnson bound. The presets reach 124 bits
    /// for up to 1024 signatures (`super::fri::security` tables every term, and the bits by
    /// batch size).
    #[default]
    Proven,
    /// Conjectured (up-to-capacity) FRI soundness: 128 bits for up to 1024 signatures, with
    /// about half the queries of the proven presets.
    Conjectured,
}

/// Proof system of a preset. All prove the same four AIRs over KoalaBear with the quintic
/// challenge field; they trade prover time, proof size and what can verify the proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// Univariate STARK (`p3-batch-stark`) with FRI over Keccak-256 Merkle trees and transcript:
    /// the fastest prover.
    #[default]
    Fri,
    /// Multilinear STARK (`p3-multi-stark`, zerocheck sumcheck and fractional-GKR LogUp) with the
    /// WHIR commitment (`p3-whir`) over Keccak-256: smaller proofs, a slower prover (see
    /// `whir`).
    Whir,
    /// [`Backend::Fri`] with Merkle trees and transcript over leanSig's Poseidon1-24 permutation
    /// ([`MerkleHash::Poseidon1`]): the recursion-ready proof system, whose proofs an AIR of ours
    /// can verify. Proven regime only; a slower prover than [`Backend::Fri`] (the Merkle
    /// hashing costs about 10x Keccak's, see `README.md`).
    FriPoseidon1,
}

/// The hash of a FRI preset's Merkle trees and Fiat-Shamir transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MerkleHash {
    /// Keccak-f\[1600\] trees (32-byte digests) and a Keccak-256 hash-chain transcript: the
    /// fastest prover.
    Keccak,
    /// Poseidon1-24 trees (9-element, 36-byte digests) and a Poseidon1-24 duplex transcript
    /// (rate 15, capacity 9): what an AIR can verify, for proofs that may become children of a
    /// recursive aggregate.
    Poseidon1,
}

/// Options for [`super::Aggregator::prove`]. `ProveOptions::default()` is the default preset
/// ([`super::preset::Preset::default_preset`]: FRI, proven, rate 1/8) with the wire cap as byte limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ProveOptions {
    /// Soundness regime the preset is tuned for.
    pub regime: Regime,
    /// log2 of the inverse code rate (FRI blowup, or WHIR's starting rate), 1..=4 for FRI and
    /// 1..=2 for WHIR; 0 means the backend's default ([`Backend::default_log_inv_rate`]: 3 for
    /// FRI, 1 for WHIR).
    pub log_inv_rate: u8,
    /// Proof system.
    pub backend: Backend,
    /// Largest proof the caller accepts, in bytes; 0 means [`WIRE_CAP_BYTES`] (512 KiB) and
    /// `usize::MAX` means no limit. Before proving, the prover computes the largest proof the
    /// preset can produce for the statement (every Merkle multiproof at its worst case,
    /// [`super::proof_size_bound`]) and refuses with [`ProveError::ProofTooLarge`] when that exceeds the
    /// limit; it never returns a longer proof.
    pub max_proof_bytes: usize,
}

impl ProveOptions {
    /// The byte limit these options state: [`Self::max_proof_bytes`], with 0 read as
    /// [`WIRE_CAP_BYTES`].
    pub const fn byte_limit(&self) -> usize {
        if self.max_proof_bytes == 0 {
            WIRE_CAP_BYTES
        } else {
            self.max_proof_bytes
        }
    }
}

/// Options for [`super::verify_aggregate`]. The default accepts a proof only if its preset is at least
/// [`SECURITY_FLOOR_BITS`] proven for the statement at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// If set, reject proofs made under any other preset (backend, regime and rate are compared;
    /// the byte limit is not).
    pub require: Option<ProveOptions>,
    /// Also accept proofs under the conjectured FRI presets (ids 4..=7), graded in the
    /// conjectured regime: at least [`SECURITY_FLOOR_BITS`] under the random-words conjecture of
    /// ePrint 2025/2010, but only about 73 bits provable (72.8 to 74.0 over rates and batch sizes,
    /// `multisig presets`): the prover picks the preset, so a verifier that opts in accepts what a
    /// conjectured preset is worth.
    /// Default `false`: conjectured proofs are refused with [`VerifyError::PresetNotAccepted`].
    pub allow_conjectured: bool,
}

/// Errors from [`super::Aggregator::add`] and [`super::Aggregator::add_child`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AggregateError {
    /// The signature does not verify for its public key on the aggregator's message and epoch
    /// ([`crate::xmss::verify()`], leanSig's verification).
    #[error("invalid signature")]
    InvalidSignature,
    /// A signature by this public key was already added: the statement is a set of distinct
    /// keys, so each key signs once per aggregate.
    #[error("duplicate public key")]
    DuplicatePublicKey,
    /// A child proof that cannot be taken: it does not verify for this aggregator's message and
    /// epoch and the keys given with it, or it is of a kind or preset a parent does not take
    /// (the message says which).
    #[error("invalid child proof: {0}")]
    InvalidChild(String),
}

/// Errors from [`super::Aggregator::prove`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProveError {
    /// The aggregator holds no signature.
    #[error("no signatures to aggregate")]
    Empty,
    /// The options name no preset, or the preset does not reach [`SECURITY_FLOOR_BITS`] for this
    /// many signatures (WHIR past [`super::preset::MAX_WHIR_SIGNATURES`]), or there are more than
    /// [`MAX_SIGNATURES`].
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A proof of this statement under the chosen preset can be longer than the caller's byte
    /// limit ([`ProveOptions::max_proof_bytes`]); nothing was proved.
    #[error(
        "a proof can take up to {bound} bytes under this preset, over the limit of {limit} bytes"
    )]
    ProofTooLarge {
        /// The largest proof the preset can produce for this statement, in bytes.
        bound: usize,
        /// The caller's limit, in bytes.
        limit: usize,
    },
    /// The prover failed (for example on a witness the AIRs reject, in debug builds).
    #[error("prover failed: {0}")]
    Prover(String),
    /// A Type-2 component's proof was refused before anything was proved
    /// (`recursion::type2::prove_type2`): it does not verify for its component (the verifier's
    /// error), or it is a kind of proof that cannot be a component yet (a parent, a Type-2 or a
    /// split: [`VerifyError::Invalid`]).
    #[error("component {index}: {error}")]
    InvalidComponent {
        /// The component's index in the caller's list.
        index: usize,
        /// Why its proof was refused.
        error: VerifyError,
    },
}

/// Errors from [`super::verify_aggregate`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The bytes are not an aggregate proof for a statement of this size (truncated, unknown
    /// version or preset id, lengths that disagree with the statement, non-canonical encoding).
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The proof is well-formed but made under a preset the verifier's options refuse: one
    /// below [`SECURITY_FLOOR_BITS`] for this statement in the graded regime (any conjectured
    /// preset without [`VerifyOptions::allow_conjectured`]), or not the required one
    /// ([`VerifyOptions::require`]). Nothing was verified.
    #[error("proof preset not accepted: {0}")]
    PresetNotAccepted(String),
    /// The proof is well-formed and its preset accepted, but it is false for this statement.
    #[error("proof does not verify: {0}")]
    Invalid(String),
}

/// The `log_inv_rate` that `ProveOptions { log_inv_rate: 0, .. }` resolves to under
/// [`Backend::Fri`]: rate 1/8, whose proven proofs stay under the 512 KiB wire cap at every
/// accepted batch size (rates 1/2 and 1/4 do not: 883 and 491 KiB at 256 signatures, more at
/// 4096), with the fastest prover of the presets that fit (see `README.md`, "Measured
/// performance").
pub const DEFAULT_FRI_LOG_INV_RATE: u8 = 3;

/// The `log_inv_rate` that `ProveOptions { log_inv_rate: 0, .. }` resolves to under
/// [`Backend::Whir`].
pub const DEFAULT_WHIR_LOG_INV_RATE: u8 = 1;

/// The `log_inv_rate` that `ProveOptions { log_inv_rate: 0, .. }` resolves to under
/// [`Backend::FriPoseidon1`]: rate 1/8, as [`DEFAULT_FRI_LOG_INV_RATE`] (the same queries; the
/// 36-byte digests keep proofs under the wire cap).
pub const DEFAULT_FRI_POSEIDON1_LOG_INV_RATE: u8 = 3;

impl Backend {
    /// The rate `log_inv_rate: 0` selects for this backend ([`DEFAULT_FRI_LOG_INV_RATE`],
    /// [`DEFAULT_WHIR_LOG_INV_RATE`]).
    pub const fn default_log_inv_rate(self) -> u8 {
        match self {
            Backend::Fri => DEFAULT_FRI_LOG_INV_RATE,
            Backend::Whir => DEFAULT_WHIR_LOG_INV_RATE,
            Backend::FriPoseidon1 => DEFAULT_FRI_POSEIDON1_LOG_INV_RATE,
        }
    }
}
