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

/// Largest number of signatures in one aggregate proof. Past 1024 signatures the presets give
/// less than their targets (about 0.6 bit per doubling: 120.5 bits proven at 2^16, see
/// [`security`]); `multisig bench` prints the bits of its statement.
pub const MAX_SIGNATURES: usize = 1 << 16;

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

/// Options for [`Aggregator::prove`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ProveOptions {
    pub regime: Regime,
    /// log2 of the inverse code rate (FRI blowup, or WHIR's starting rate), 1..=4 (0 means the
    /// default, 1).
    pub log_inv_rate: u8,
    /// Proof system.
    pub backend: Backend,
}

/// Options for [`verify_aggregate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// If set, reject proofs made under any other preset.
    pub require: Option<ProveOptions>,
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
    #[error("no signatures to aggregate")]
    Empty,
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error("prover failed: {0}")]
    Prover(String),
}

/// Errors from [`verify_aggregate`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    #[error("malformed proof: {0}")]
    Malformed(String),
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
            return Err(ProveError::InvalidOptions(format!("more than {MAX_SIGNATURES} signatures")));
        }
        let t = std::time::Instant::now();
        let keys = self.public_keys();
        let per_signer: Vec<_> = self
            .signers
            .par_iter()
            .enumerate()
            .map(|(s, (pk, sig))| {
                let mut steps = Vec::with_capacity(system::STEPS_PER_SIGNATURE);
                let w = witness::build_witness(s as u32, pk, sig, &self.message, self.epoch, &mut steps);
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
    let stmt = system::Statement { message, epoch, keys };
    if preset.backend == Backend::Whir {
        // Fails early, before any trace is built, when the WHIR schedule does not fit.
        whir::statement_config(&preset, &stmt, &stmt.airs()).map_err(ProveError::InvalidOptions)?;
    }
    // KoalaBear's two-adicity is 24: the LDE of the tallest trace must fit a 2^24 domain.
    let log_lde = stmt.heights().iter().map(|h| h.trailing_zeros()).max().unwrap_or(0)
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
    Ok(AggregateProof { bytes })
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
        eprintln!("[multisig profile] {phase}: {:.1} ms", since.elapsed().as_secs_f64() * 1e3);
    }
}

/// Verifies an aggregate proof against the public keys (in the order of
/// [`Aggregator::public_keys`]), message and epoch.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode, [`VerifyError::Invalid`] for a proof
/// that does not verify for exactly this statement.
pub fn verify_aggregate(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    if public_keys.is_empty() || public_keys.len() > MAX_SIGNATURES {
        return Err(VerifyError::Invalid(format!("{} public keys", public_keys.len())));
    }
    let distinct: HashSet<&PublicKey> = public_keys.iter().collect();
    if distinct.len() != public_keys.len() {
        return Err(VerifyError::Invalid("duplicate public key".into()));
    }
    let (preset, _) = envelope::read_prefix(proof)?;
    if let Some(required) = &opts.require {
        if !preset.satisfies(required) {
            return Err(VerifyError::Invalid(format!(
                "proof made under preset {}, not the required one",
                preset.id()
            )));
        }
    }
    if preset.backend == Backend::Whir {
        let (stmt, airs, proof) = decode_whir(&preset, proof, public_keys, message, epoch)?;
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            whir::verify(&preset, &stmt, &airs, &proof)
        }))
        .map_err(|_| VerifyError::Invalid("verifier panicked on malformed proof".into()))?
        .map_err(VerifyError::Invalid);
    }
    let Decoded { stmt, airs, common, preset, proof } =
        decode_against(proof, public_keys, message, epoch)?;
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
        return Err(VerifyError::Invalid(format!("{} public keys", public_keys.len())));
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
    let stmt = system::Statement { message, epoch, keys: public_keys };
    let airs = stmt.airs();
    let nv = whir::statement_num_variables(preset, &stmt, &airs);
    let (decoded_preset, proof) = whir_envelope::decode(proof, nv)?;
    if decoded_preset != *preset {
        return Err(VerifyError::Malformed("preset changed between reads".into()));
    }
    profile("verify: decode", t);
    Ok((stmt, airs, proof))
}

/// Soundness in bits of a proof under `opts` for this statement's shape (public keys, message,
/// epoch): the FRI backend's terms from [`security`], the WHIR backend's from
/// `p3_multi_stark::security_report` ([`whir::security_bits`]).
///
/// # Errors
/// A message for options that name no preset or a WHIR schedule that does not fit the statement.
pub fn statement_security_bits(
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
    opts: &ProveOptions,
) -> Result<f64, String> {
    let preset = config::Preset::from_options(opts)?;
    let stmt = system::Statement { message, epoch, keys: public_keys };
    let airs = stmt.airs();
    match preset.backend {
        Backend::Fri => {
            let common = system::common_data(&airs);
            let shape = system::proof_shape(&airs, &common, &system::degree_bits(&stmt.heights()));
            Ok(security::security_bits(&preset, &shape).total_bits)
        }
        Backend::Whir => whir::security_bits(&preset, &stmt, &airs),
    }
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
    let stmt = system::Statement { message, epoch, keys: public_keys };
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
    Ok(Decoded { stmt, airs, common, preset, proof })
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
        verify_aggregate(proof.as_bytes(), &keys, &message, epoch, &VerifyOptions::default()).unwrap();
        let mut swapped = keys.clone();
        swapped.swap(0, 1);
        assert!(verify_aggregate(proof.as_bytes(), &swapped, &message, epoch, &VerifyOptions::default()).is_err());
    }

    #[test]
    fn prepare_accepts_exactly_the_options_prove_accepts() {
        for regime in [Regime::Proven, Regime::Conjectured] {
            for backend in [Backend::Fri, Backend::Whir] {
                for log_inv_rate in 0..=6 {
                    let opts = ProveOptions { regime, log_inv_rate, backend };
                    let preset = config::Preset::from_options(&opts);
                    match prepare(&opts) {
                        Ok(()) => assert!(preset.is_ok(), "{opts:?}"),
                        Err(ProveError::InvalidOptions(m)) => assert_eq!(preset, Err(m), "{opts:?}"),
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
        let opts = ProveOptions { backend: Backend::Whir, ..Default::default() };
        prepare(&opts).unwrap();
        let proof = agg.prove(&opts).unwrap();
        verify_aggregate(proof.as_bytes(), &agg.public_keys(), &message, 5, &VerifyOptions::default()).unwrap();
    }
}
