//! Aggregation of many XMSS signatures on one message and epoch into one STARK proof.
//!
//! The proof is a `p3_batch_stark` proof over four AIRs linked by LogUp buses; the design
//! (tables, columns, buses, what each constraint guarantees, rows per signature) is written
//! down in `src/aggregate/README.md`:
//!
//! - [`sig_air::SigAir`]: a 64-row block per signature (leaf sponge, 32 Merkle levels, message
//!   hash) plus the aborting decode and the target sum;
//! - [`perm::Perm24TableAir`]: the width-24 Poseidon1 permutations those rows use, one per row;
//! - [`chain_air::ChainAir`]: one width-16 row per chain step, 122 per signature;
//! - [`table_air::TableAir`]: the epoch's chain tweaks and the ordered public keys, both
//!   verifier-computed periodic columns.
//!
//! **Key order.** The verifier must pass the public keys in the order the signatures were
//! [`Aggregator::add`]ed ([`Aggregator::public_keys`]); the proof binds signature `s` to key `s`
//! and any other order, or any other key set, fails verification.

use std::collections::HashSet;

use p3_maybe_rayon::prelude::*;

use crate::xmss::{PublicKey, Signature};

pub mod chain_air;
pub mod perm;
pub mod sig_air;
pub mod system;
pub mod table_air;
pub mod witness;

/// Bus of chain tokens `(sig, chain, pos, value (8), parameter (5))`.
pub(crate) const CHAIN_BUS: &str = "xmss-chain";
/// Lookup bus of chain tweaks `(chain, pos, t0, t1)`.
pub(crate) const TWEAK_BUS: &str = "xmss-chain-tweak";
/// Bus of width-24 permutation evaluations `(input (24), output[0..17])`: every row of the
/// signature AIR receives one, every row of the permutation table sends one.
pub(crate) const PERM24_BUS: &str = "poseidon1-24";
/// Bus of reached roots `(sig, root (8), parameter (5))`, consumed by the key table.
pub(crate) const ROOT_BUS: &str = "xmss-root";

/// Largest number of signatures in one aggregate proof: leanSpec's `VALIDATOR_REGISTRY_LIMIT`
/// (2^12 validators, so no attestation has more signers). Every FRI preset is tuned to reach
/// [`SECURITY_FLOOR_BITS`] here ([`security`]); the WHIR presets stop earlier
/// ([`config::MAX_WHIR_SIGNATURES`]).
pub const MAX_SIGNATURES: usize = 1 << 12;

/// The soundness, in bits, that a proof must reach for its own statement to be made
/// ([`Aggregator::prove`]) or accepted ([`verify_aggregate`]): graded in the proven regime unless
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
    /// for up to 1024 signatures ([`security`] tables every term, and the bits by batch size).
    #[default]
    Proven,
    /// Conjectured (up-to-capacity) FRI soundness: 128 bits for up to 1024 signatures, with
    /// about half the queries of the proven presets.
    Conjectured,
}

/// Proof system of a preset. Both prove the same four AIRs over KoalaBear with the quintic
/// challenge field and Keccak-256 Merkle trees; they trade prover time against proof size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// Univariate STARK (`p3-batch-stark`) with FRI: the fastest prover, proofs of 0.5 to 1 MiB.
    #[default]
    Fri,
    /// Multilinear STARK (`p3-multi-stark`, zerocheck sumcheck and fractional-GKR LogUp) with the
    /// WHIR commitment (`p3-whir`): proofs about a third of FRI's, a slower prover (see
    /// [`whir`]).
    Whir,
}

/// Options for [`Aggregator::prove`]. `ProveOptions::default()` is the default preset
/// ([`config::Preset::default_preset`]: FRI, proven, rate 1/8) with the wire cap as byte limit.
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
    /// [`proof_size_bound`]) and refuses with [`ProveError::ProofTooLarge`] when that exceeds the
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

/// Options for [`verify_aggregate`]. The default accepts a proof only if its preset is at least
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

/// Errors from [`Aggregator::add`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AggregateError {
    #[error("invalid signature")]
    InvalidSignature,
    #[error("duplicate public key")]
    DuplicatePublicKey,
}

/// Errors from [`Aggregator::prove`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProveError {
    /// The aggregator holds no signature.
    #[error("no signatures to aggregate")]
    Empty,
    /// The options name no preset, or the preset does not reach [`SECURITY_FLOOR_BITS`] for this
    /// many signatures (WHIR past [`config::MAX_WHIR_SIGNATURES`]), or there are more than
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
}

/// Errors from [`verify_aggregate`].
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

/// Collects signatures for one (message, epoch).
pub struct Aggregator {
    message: [u8; 32],
    epoch: u32,
    signers: Vec<(PublicKey, Signature)>,
}

/// A serialized aggregate proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateProof {
    bytes: Vec<u8>,
}

impl AggregateProof {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl Aggregator {
    pub fn new(message: [u8; 32], epoch: u32) -> Self {
        Self {
            message,
            epoch,
            signers: Vec::new(),
        }
    }
    pub fn message(&self) -> &[u8; 32] {
        &self.message
    }
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    pub fn len(&self) -> usize {
        self.signers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }
    /// Public keys in the order the verifier must give them: the order of [`Self::add`].
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.signers.iter().map(|(pk, _)| *pk).collect()
    }

    /// Adds a signature by `pk` on this aggregator's message and epoch.
    ///
    /// # Errors
    /// [`AggregateError::InvalidSignature`] if `xmss::verify` rejects it,
    /// [`AggregateError::DuplicatePublicKey`] if `pk` was already added.
    pub fn add(&mut self, pk: PublicKey, sig: Signature) -> Result<(), AggregateError> {
        if self.signers.iter().any(|(k, _)| *k == pk) {
            return Err(AggregateError::DuplicatePublicKey);
        }
        if !crate::xmss::verify(&pk, self.epoch, &self.message, &sig) {
            return Err(AggregateError::InvalidSignature);
        }
        self.signers.push((pk, sig));
        Ok(())
    }

    /// Adds a signature WITHOUT the native check (tests and benchmarks of the AIRs' own
    /// rejection only). Duplicate keys are still refused.
    #[doc(hidden)]
    pub fn add_unchecked(&mut self, pk: PublicKey, sig: Signature) -> Result<(), AggregateError> {
        if self.signers.iter().any(|(k, _)| *k == pk) {
            return Err(AggregateError::DuplicatePublicKey);
        }
        self.signers.push((pk, sig));
        Ok(())
    }

    /// Proves that every added signature is valid.
    ///
    /// # Errors
    /// [`ProveError::Empty`] without signatures, [`ProveError::InvalidOptions`] for a bad preset,
    /// [`ProveError::Prover`] if proving fails (for example on a witness the AIRs reject).
    pub fn prove(&self, opts: &ProveOptions) -> Result<AggregateProof, ProveError> {
        if self.signers.is_empty() {
            return Err(ProveError::Empty);
        }
        if self.signers.len() > MAX_SIGNATURES {
            return Err(ProveError::InvalidOptions(format!(
                "more than {MAX_SIGNATURES} signatures"
            )));
        }
        let t = std::time::Instant::now();
        let keys = self.public_keys();
        let per_signer: Vec<_> = self
            .signers
            .par_iter()
            .enumerate()
            .map(|(s, (pk, sig))| {
                let mut steps = Vec::with_capacity(system::STEPS_PER_SIGNATURE);
                let w = witness::build_witness(
                    s as u32,
                    pk,
                    sig,
                    &self.message,
                    self.epoch,
                    &mut steps,
                );
                (w, steps)
            })
            .collect();
        let mut steps = Vec::with_capacity(self.signers.len() * system::STEPS_PER_SIGNATURE);
        let mut witnesses = Vec::with_capacity(self.signers.len());
        for (w, s) in per_signer {
            witnesses.push(w);
            steps.extend(s);
        }
        profile("witnesses", t);
        prove_witnesses(&self.message, self.epoch, &keys, &witnesses, &steps, opts)
    }
}

/// Proves from prepared witnesses and chain steps, whatever they are: the entry point of
/// [`Aggregator::prove`], open to tests that feed the AIRs invalid witnesses. Debug builds run
/// Plonky3's constraint and bus checker, so a bad witness fails here with
/// [`ProveError::Prover`]; release builds produce a proof that must not verify.
#[doc(hidden)]
pub fn prove_witnesses(
    message: &[u8; 32],
    epoch: u32,
    keys: &[PublicKey],
    witnesses: &[sig_air::SigWitness],
    steps: &[chain_air::ChainStep],
    opts: &ProveOptions,
) -> Result<AggregateProof, ProveError> {
    if keys.is_empty() || witnesses.len() != keys.len() {
        return Err(ProveError::Empty);
    }
    let preset = config::Preset::from_options(opts).map_err(ProveError::InvalidOptions)?;
    check_provable(&preset, keys.len(), opts.byte_limit())?;
    let stmt = system::Statement {
        message,
        epoch,
        keys,
    };
    if preset.backend == Backend::Whir {
        // Fails early, before any trace is built, when the WHIR schedule does not fit.
        whir::statement_config(&preset, &stmt, &stmt.airs()).map_err(ProveError::InvalidOptions)?;
    }
    // KoalaBear's two-adicity is 24: the LDE of the tallest trace must fit a 2^24 domain.
    let log_lde = stmt
        .heights()
        .iter()
        .map(|h| h.trailing_zeros())
        .max()
        .unwrap_or(0)
        + u32::from(preset.log_inv_rate);
    if preset.backend == Backend::Fri && log_lde > 24 {
        return Err(ProveError::InvalidOptions(format!(
            "{} signatures at log_inv_rate {} need a 2^{log_lde} evaluation domain; KoalaBear has 2^24",
            keys.len(),
            preset.log_inv_rate
        )));
    }
    let airs = stmt.airs();
    let t = std::time::Instant::now();
    let traces = system::build_traces(&stmt, &airs, witnesses, steps);
    profile("traces", t);
    let heights: Vec<usize> = traces.iter().map(p3_matrix::Matrix::height).collect();
    if heights != stmt.heights() {
        return Err(ProveError::Prover(format!(
            "trace heights {heights:?} differ from {:?} (chain steps off the target sum)",
            stmt.heights()
        )));
    }
    let t = std::time::Instant::now();
    let bytes = match preset.backend {
        Backend::Fri => {
            let config = config::stark_config(&preset);
            let proof = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                system::prove(&config, &stmt, &airs, system::common_data(&airs), &traces)
            }))
            .map_err(|_| ProveError::Prover("constraint check failed".into()))?
            .map_err(ProveError::Prover)?;
            profile("prove_batch", t);
            let t = std::time::Instant::now();
            let bytes = envelope::encode(&preset, &proof);
            profile("encode", t);
            bytes
        }
        Backend::Whir => {
            let proof = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                whir::prove(&preset, &stmt, &airs, traces)
            }))
            .map_err(|_| ProveError::Prover("multilinear prover panicked".into()))?
            .map_err(ProveError::Prover)?;
            profile("multi-stark prove", t);
            let t = std::time::Instant::now();
            let bytes = whir_envelope::encode(&preset, &proof);
            profile("encode", t);
            bytes
        }
    };
    // The bound checked above covers every proof the preset can produce; this never fires unless
    // the bound is wrong, and then no longer proof leaves the prover.
    if bytes.len() > opts.byte_limit() {
        return Err(ProveError::ProofTooLarge {
            bound: bytes.len(),
            limit: opts.byte_limit(),
        });
    }
    Ok(AggregateProof { bytes })
}

/// The checks [`prove_witnesses`] makes before any work: the preset accepts this many signatures,
/// reaches [`SECURITY_FLOOR_BITS`] for them in its own regime, and cannot exceed `byte_limit`.
///
/// # Errors
/// [`ProveError::InvalidOptions`] for a count past the preset's bound or a preset below the
/// floor; [`ProveError::ProofTooLarge`] when [`proof_size_bound`] exceeds `byte_limit`.
fn check_provable(
    preset: &config::Preset,
    num_signatures: usize,
    byte_limit: usize,
) -> Result<(), ProveError> {
    if num_signatures > preset.max_signatures() {
        return Err(ProveError::InvalidOptions(format!(
            "{num_signatures} signatures: preset {} takes at most {} (see MAX_SIGNATURES, \
             config::MAX_WHIR_SIGNATURES)",
            preset.id(),
            preset.max_signatures()
        )));
    }
    let bits = preset_security_bits(preset, preset.regime, num_signatures)
        .map_err(ProveError::InvalidOptions)?;
    if bits < SECURITY_FLOOR_BITS {
        return Err(ProveError::InvalidOptions(format!(
            "preset {} gives {bits:.1} bits for {num_signatures} signatures, below the \
             {SECURITY_FLOOR_BITS}-bit floor",
            preset.id()
        )));
    }
    let bound = proof_size_bound(preset, num_signatures).map_err(ProveError::InvalidOptions)?;
    if bound > byte_limit {
        return Err(ProveError::ProofTooLarge {
            bound,
            limit: byte_limit,
        });
    }
    Ok(())
}

/// Per-process cache of a value computed per `(preset id, regime, number of signatures)`.
type ShapeCache<T> =
    std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<(u8, Regime, usize), T>>>;

/// `compute()` once per key and process (the figures depend on the statement's shape alone, and
/// the shape on the number of signatures alone).
fn cached<T: Copy>(
    cache: &'static ShapeCache<T>,
    key: (u8, Regime, usize),
    compute: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let map = cache.get_or_init(Default::default);
    if let Some(v) = map.lock().map_err(|_| "poisoned cache")?.get(&key) {
        return Ok(*v);
    }
    let v = compute()?;
    map.lock().map_err(|_| "poisoned cache")?.insert(key, v);
    Ok(v)
}

/// Soundness in bits, graded in `regime`, of every proof of `num_signatures` signatures under
/// `preset`, over the exact challenge field (`log2 |EF|` = 154.94): FRI presets by
/// [`security::security_bits_in`] on the statement's shape (either regime: a conjectured preset
/// graded in the proven regime gives what it is provably worth), WHIR presets by
/// [`whir::security_bits_for_signatures`] (proven regime only). Cached per process.
///
/// # Errors
/// A message when `num_signatures` is 0 or past [`MAX_SIGNATURES`], for a WHIR preset graded in
/// the conjectured regime, or when a WHIR schedule does not fit.
pub fn preset_security_bits(
    preset: &config::Preset,
    regime: Regime,
    num_signatures: usize,
) -> Result<f64, String> {
    static CACHE: ShapeCache<f64> = std::sync::OnceLock::new();
    if num_signatures == 0 || num_signatures > MAX_SIGNATURES {
        return Err(format!(
            "{num_signatures} signatures (1..={MAX_SIGNATURES} accepted)"
        ));
    }
    cached(
        &CACHE,
        (preset.id(), regime, num_signatures),
        || match preset.backend {
            Backend::Fri => Ok(security::security_bits_in(
                preset,
                regime,
                &system::shape_for_signatures(num_signatures),
            )
            .total_bits),
            Backend::Whir if regime == Regime::Proven => {
                whir::security_bits_for_signatures(preset, num_signatures)
            }
            Backend::Whir => Err("WHIR presets are graded in the proven regime only".into()),
        },
    )
}

/// The largest aggregate proof, in bytes (prefix included), that `preset` can produce for
/// `num_signatures` signatures: every length the statement fixes at its exact value and every
/// pruned Merkle multiproof at its largest ([`envelope::max_multiproof_siblings`]), encoded.
/// FRI: exact for that worst case ([`envelope::max_encoded_len`]); WHIR: an upper bound
/// ([`whir_envelope::max_encoded_len`]). Cached per process.
///
/// # Errors
/// As [`preset_security_bits`] for the count; a message when a WHIR schedule does not fit.
pub fn proof_size_bound(preset: &config::Preset, num_signatures: usize) -> Result<usize, String> {
    static CACHE: ShapeCache<usize> = std::sync::OnceLock::new();
    if num_signatures == 0 || num_signatures > MAX_SIGNATURES {
        return Err(format!(
            "{num_signatures} signatures (1..={MAX_SIGNATURES} accepted)"
        ));
    }
    cached(
        &CACHE,
        (preset.id(), preset.regime, num_signatures),
        || match preset.backend {
            Backend::Fri => {
                envelope::max_encoded_len(preset, &system::shape_for_signatures(num_signatures))
                    .map_err(|e| e.to_string())
            }
            Backend::Whir => whir::proof_size_bound_for_signatures(preset, num_signatures),
        },
    )
}

/// The verifier's policy on the preset a proof names, before anything is decoded: the required
/// preset if one is set, and at least [`SECURITY_FLOOR_BITS`] for this statement, graded in the
/// proven regime (in the conjectured regime for a conjectured preset, only when the caller opted
/// in).
///
/// # Errors
/// [`VerifyError::PresetNotAccepted`] naming the preset and why.
fn accept_preset(
    preset: &config::Preset,
    num_signatures: usize,
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    let refuse = |why: String| {
        Err(VerifyError::PresetNotAccepted(format!(
            "preset {}: {why}",
            preset.id()
        )))
    };
    if let Some(required) = &opts.require {
        if !preset.satisfies(required) {
            return refuse(format!("the verifier requires {required:?}"));
        }
    }
    if num_signatures > preset.max_signatures() {
        return refuse(format!(
            "takes at most {} signatures, the statement has {num_signatures}",
            preset.max_signatures()
        ));
    }
    let graded = match (preset.regime, opts.allow_conjectured) {
        (Regime::Conjectured, false) => {
            let proven =
                preset_security_bits(preset, Regime::Proven, num_signatures).unwrap_or(0.0);
            return refuse(format!(
                "conjectured-regime preset, {proven:.1} bits proven for {num_signatures} signatures \
                 (below {SECURITY_FLOOR_BITS}); accepted only with allow_conjectured"
            ));
        }
        (regime, _) => regime,
    };
    let bits = preset_security_bits(preset, graded, num_signatures)
        .map_err(VerifyError::PresetNotAccepted)?;
    if bits < SECURITY_FLOOR_BITS {
        return refuse(format!("{bits:.1} bits ({graded:?}) for {num_signatures} signatures, below {SECURITY_FLOOR_BITS}"));
    }
    Ok(())
}

/// Builds, once per process, the statement-independent tables that the first proof or
/// verification under the preset of `opts` would otherwise build, so that a long-running client
/// pays for them at startup instead of inside its first proof or verification.
///
/// - Both backends: the optimized Poseidon1 round constants, shared by the two permutation AIRs
///   and the prover's trace fillers (about 2 ms).
/// - FRI: the packed LogUp layout and the constraint counts of the four AIRs (a few ms).
/// - WHIR: the proving and verifying keys of the four AIRs (`p3_multi_stark::setup`, whose
///   symbolic degree pass over the Poseidon1 constraints takes 50 to 70 ms on a 2-core VM). A
///   fresh process's first WHIR verification costs about 80 ms without this, 15 to 20 ms after.
///
/// Idempotent and thread-safe: later calls, and every later proof and verification in the
/// process, reuse the tables. Calling it is never required: without it the first call that needs
/// a table builds it. The tables are the same for every statement and every rate of a backend.
///
/// # Errors
/// [`ProveError::InvalidOptions`] if `opts` names no preset; [`ProveError::Prover`] if the WHIR
/// setup fails (not expected: it depends on nothing but the AIRs).
pub fn prepare(opts: &ProveOptions) -> Result<(), ProveError> {
    let preset = config::Preset::from_options(opts).map_err(ProveError::InvalidOptions)?;
    let _ = perm::PermFiller::shared16();
    let _ = perm::PermFiller::shared24();
    match preset.backend {
        Backend::Fri => {
            system::prepare();
            Ok(())
        }
        Backend::Whir => whir::prepare().map_err(ProveError::Prover),
    }
}

/// Prints the time of a prover phase to stderr when `MULTISIG_PROFILE` is set.
pub(crate) fn profile(phase: &str, since: std::time::Instant) {
    if std::env::var_os("MULTISIG_PROFILE").is_some() {
        eprintln!(
            "[multisig profile] {phase}: {:.1} ms",
            since.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// Verifies an aggregate proof against the public keys (in the order of
/// [`Aggregator::public_keys`], which is the order of [`Aggregator::add`]), message and epoch.
///
/// The proof's 16-byte prefix names its preset; before anything else is decoded the preset must
/// pass the verifier's policy (`opts`: by default at least [`SECURITY_FLOOR_BITS`] proven for
/// this many signatures, which refuses every conjectured preset).
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode, [`VerifyError::PresetNotAccepted`]
/// for a preset the policy refuses, [`VerifyError::Invalid`] for a proof that does not verify for
/// exactly this statement (including an empty, oversized or duplicated key list).
pub fn verify_aggregate(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    if public_keys.is_empty() || public_keys.len() > MAX_SIGNATURES {
        return Err(VerifyError::Invalid(format!(
            "{} public keys",
            public_keys.len()
        )));
    }
    let distinct: HashSet<&PublicKey> = public_keys.iter().collect();
    if distinct.len() != public_keys.len() {
        return Err(VerifyError::Invalid("duplicate public key".into()));
    }
    let (preset, _) = envelope::read_prefix(proof)?;
    accept_preset(&preset, public_keys.len(), opts)?;
    if preset.backend == Backend::Whir {
        let (stmt, airs, proof) = decode_whir(&preset, proof, public_keys, message, epoch)?;
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            whir::verify(&preset, &stmt, &airs, &proof)
        }))
        .map_err(|_| VerifyError::Invalid("verifier panicked on malformed proof".into()))?
        .map_err(VerifyError::Invalid);
    }
    let Decoded {
        stmt,
        airs,
        common,
        preset,
        proof,
    } = decode_against(proof, public_keys, message, epoch)?;
    let config = config::stark_config(&preset);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        system::verify(&config, &stmt, &airs, &common, &proof)
    }))
    .map_err(|_| VerifyError::Invalid("verifier panicked on malformed proof".into()))?
    .map_err(VerifyError::Invalid)
}

/// Bytes of each component of an aggregate proof for this statement, as
/// `(component, bytes)` pairs in wire order (see [`envelope::component_sizes`]); they sum to the
/// payload without the 16-byte prefix and rkyv's vector headers.
///
/// # Errors
/// As [`verify_aggregate`] for bytes that do not decode ([`VerifyError::Malformed`]); the proof
/// itself is not verified.
pub fn proof_components(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
) -> Result<Vec<(&'static str, usize)>, VerifyError> {
    if public_keys.is_empty() || public_keys.len() > MAX_SIGNATURES {
        return Err(VerifyError::Invalid(format!(
            "{} public keys",
            public_keys.len()
        )));
    }
    let (preset, _) = envelope::read_prefix(proof)?;
    if preset.backend == Backend::Whir {
        let (_, _, proof) = decode_whir(&preset, proof, public_keys, message, epoch)?;
        return Ok(whir_envelope::component_sizes(&proof));
    }
    let decoded = decode_against(proof, public_keys, message, epoch)?;
    Ok(envelope::component_sizes(&decoded.proof))
}

/// The statement, its AIRs, and a WHIR-backend proof decoded against the statement's stacked
/// trace size (see [`whir_envelope::decode`]); `preset` is the one the proof's prefix names
/// (already read by the caller, who dispatched on its backend).
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode.
fn decode_whir<'a>(
    preset: &config::Preset,
    proof: &[u8],
    public_keys: &'a [PublicKey],
    message: &'a [u8; 32],
    epoch: u32,
) -> Result<(system::Statement<'a>, Vec<system::AggAir>, whir::WhirProof), VerifyError> {
    let t = std::time::Instant::now();
    let stmt = system::Statement {
        message,
        epoch,
        keys: public_keys,
    };
    let airs = stmt.airs();
    let nv = whir::statement_num_variables(preset, &stmt, &airs);
    let (decoded_preset, proof) = whir_envelope::decode(proof, nv)?;
    if decoded_preset != *preset {
        return Err(VerifyError::Malformed(
            "preset changed between reads".into(),
        ));
    }
    profile("verify: decode", t);
    Ok((stmt, airs, proof))
}

/// A statement as the verifier sees it, and a proof decoded against its shape.
struct Decoded<'a> {
    stmt: system::Statement<'a>,
    airs: Vec<system::AggAir>,
    common: p3_batch_stark::CommonData<config::MultisigConfig>,
    preset: config::Preset,
    proof: p3_batch_stark::BatchProof<config::MultisigConfig>,
}

/// Builds the verifier's statement, AIRs, common data and shape for `public_keys` (already
/// checked for count) and decodes `proof` against that shape: the part of [`verify_aggregate`]
/// that [`proof_components`] shares.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode.
fn decode_against<'a>(
    proof: &[u8],
    public_keys: &'a [PublicKey],
    message: &'a [u8; 32],
    epoch: u32,
) -> Result<Decoded<'a>, VerifyError> {
    let t = std::time::Instant::now();
    let stmt = system::Statement {
        message,
        epoch,
        keys: public_keys,
    };
    let airs = stmt.airs();
    profile("verify: airs", t);
    let t = std::time::Instant::now();
    let common = system::common_data(&airs);
    profile("verify: common data", t);
    let t = std::time::Instant::now();
    let shape = system::proof_shape(&airs, &common, &system::degree_bits(&stmt.heights()));
    profile("verify: shape", t);
    let t = std::time::Instant::now();
    let (preset, proof) = envelope::decode(proof, &shape)?;
    profile("verify: decode", t);
    Ok(Decoded {
        stmt,
        airs,
        common,
        preset,
        proof,
    })
}

pub mod config;
pub mod envelope;
pub mod security;
pub mod whir;
pub mod whir_envelope;

#[doc(hidden)]
pub mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_test_signers_prove_and_verify() {
        let message = [7u8; 32];
        let epoch = 0x1234_5679;
        let mut agg = Aggregator::new(message, epoch);
        for seed in 0..2 {
            let (pk, sig) = testing::test_signer(seed, &message, epoch);
            agg.add_unchecked(pk, sig).unwrap();
        }
        let proof = agg.prove(&ProveOptions::default()).unwrap();
        let keys = agg.public_keys();
        verify_aggregate(
            proof.as_bytes(),
            &keys,
            &message,
            epoch,
            &VerifyOptions::default(),
        )
        .unwrap();
        let mut swapped = keys.clone();
        swapped.swap(0, 1);
        assert!(verify_aggregate(
            proof.as_bytes(),
            &swapped,
            &message,
            epoch,
            &VerifyOptions::default()
        )
        .is_err());
    }

    #[test]
    fn prepare_accepts_exactly_the_options_prove_accepts() {
        for regime in [Regime::Proven, Regime::Conjectured] {
            for backend in [Backend::Fri, Backend::Whir] {
                for log_inv_rate in 0..=6 {
                    let opts = ProveOptions {
                        regime,
                        log_inv_rate,
                        backend,
                        ..Default::default()
                    };
                    let preset = config::Preset::from_options(&opts);
                    match prepare(&opts) {
                        Ok(()) => assert!(preset.is_ok(), "{opts:?}"),
                        Err(ProveError::InvalidOptions(m)) => {
                            assert_eq!(preset, Err(m), "{opts:?}")
                        }
                        Err(e) => panic!("{opts:?}: {e}"),
                    }
                }
            }
        }
        // Prepared WHIR keys serve a proof and its verification.
        let message = [9u8; 32];
        let mut agg = Aggregator::new(message, 5);
        let (pk, sig) = testing::test_signer(3, &message, 5);
        agg.add_unchecked(pk, sig).unwrap();
        let opts = ProveOptions {
            backend: Backend::Whir,
            ..Default::default()
        };
        prepare(&opts).unwrap();
        let proof = agg.prove(&opts).unwrap();
        verify_aggregate(
            proof.as_bytes(),
            &agg.public_keys(),
            &message,
            5,
            &VerifyOptions::default(),
        )
        .unwrap();
    }
}
