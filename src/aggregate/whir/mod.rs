//! The multilinear backend: the same four AIR instances ([`AggAir`]) proved by Plonky3's
//! multilinear STARK (`p3-multi-stark`: a SuperSpartan-style zerocheck sumcheck over every table,
//! LogUp buses reduced by fractional GKR) with every trace committed in one WHIR commitment
//! (`p3-whir`, Arnon, Chiesa, Fenzi, Yogev, "WHIR: Reed-Solomon Proximity Testing with
//! Super-Fast Verification", ePrint 2024/1586).
//!
//! Where the FRI backend opens every trace column at every query, WHIR stacks all columns of all
//! tables into one multilinear polynomial and opens one folded codeword per query: proofs are
//! about a third of the FRI backend's at the same soundness, and the prover does more work
//! (sumcheck over the extension field, one DFT per WHIR round).
//!
//! Field, challenge field, Merkle hash (Keccak-256 over 32-byte digests) and transcript hash are
//! those of the FRI backend ([`super::field`]); only the transcript's domain separator differs
//! ([`TRANSCRIPT_DOMAIN`]), so a transcript of one backend never replays in the other.
//!
//! Soundness is computed by `p3_multi_stark::security_report` for the exact statement shape (the
//! heights and widths of the four traces): it composes the zerocheck, LogUp/GKR, opening-claim
//! batching and every WHIR round, and is capped by the hash's collision resistance (128 bits).
//! [`security_bits`] returns it. The two WHIR presets ([`super::preset::PRESETS`], ids 8 and 9,
//! proven regime at rates 1/2 and 1/4) reach 124 bits up to 256 signatures and 123 up to 1024
//! (124.6 / 124.3 bits at N = 256, 123.7 / 123.1 at N = 1024; asserted in
//! `tests/format_security.rs`). There is no conjectured WHIR preset: the report leaves WHIR's
//! capacity-bound opening unassessed, so no figure could be stated for it.
//!
//! Schedule (per preset, [`WhirSchedule`]): the first round folds 6 variables (so every trace
//! needs at least 2^6 rows; ours have 2^7), later rounds 4; each round's rate grows by 2 bits;
//! every WHIR term is sized for 131 bits, and each query phase grinds up to 20 bits. p3-whir
//! spends the whole grinding budget on every query phase and buys queries for the rest of the
//! term, so the budget trades prover time (about 2^20 Keccak evaluations per phase) for proof
//! size; folding soundness alone needs 17 bits at 2^24 variables. Small statements grind less
//! ([`grinding_budget`]). Measured at N = 256, rate 1/2 (2026-11-22, with a tuning harness
//! since replaced by `multisig bench --backend whir` and `examples/aggregate_profile.rs`, two runs
//! each, with the prefix stacking layout used then; the suffix layout of
//! [`WhirLayout`] later took the chosen row to 1.7 to 1.9 s), against session 3's schedule
//! (first folding 7, rate step 3, 23 bits: 3.0 s, 292.7 KiB):
//!
//! | first, later folding, rate step, grinding | prove | proof |
//! | --- | --- | --- |
//! | 6, 4, 3, 23 | 3.0 s | 242.1 KiB |
//! | 6, 4, 3, 20 | 2.8 to 2.9 s | 248.9 KiB |
//! | **6, 4, 2, 20** (presets 8 and 9) | 2.1 to 2.4 s | 266.6 KiB |
//! | 6, 4, 2, 18 | 1.9 to 2.1 s | 270.5 KiB |
//! | 6, 4, 1, 20 | 1.7 to 2.0 s | 305.4 KiB |
//! | 5, 4, 3, 23 | 4.8 s | 233.4 KiB |
//!
//! A first folding of 6 rather than 7 halves each first-round query's row (2^6 values), for one
//! more Merkle level. A smaller rate step gives later rounds a lower blowup: their codewords
//! (DFTs over the challenge field, Merkle trees) shrink by half per step, and each of their
//! queries proves less, so they need more of them.

use p3_commit::Encoder;
use p3_dft::Radix2DFTSmallBatch;
use p3_matrix::dense::RowMajorMatrix;
use p3_multi_stark::config::MultiStarkConfig;
use p3_multi_stark::{
    security_report, setup, MultiStarkProof, ProverInstance, ProverInstances, ProvingKey,
    VerifierInstance, VerifierInstances, VerifyingKey,
};
use p3_sumcheck::layout::{plan_stacked_layout, Layout, SuffixProver, Table, TableShape, Witness};
use p3_whir::{
    FoldingFactor, ProtocolParameters, SecurityAssumption, WhirConfig, WhirDomain, WhirProver,
    WhirQueryPoint,
};
use rayon::prelude::*;

use super::air::AggAir;
use super::field::{challenge_field_bits, Challenge, Challenger, Val, ValMmcs};
use super::options::{Regime, VerifyError};
use super::preset::{whir_presets, WhirPreset};
use super::profile::profile;
use super::proof_system::{catch_prover, catch_verifier, ProofSystem};
use super::statement::{reference_airs, with_placeholder_statement, Statement};

pub mod envelope;
pub mod recommit;

pub use recommit::{RecommitPcs, RECOMMIT_ABOVE_BYTES};

/// Transcript domain separator of the WHIR backend (the FRI backend uses
/// `fri::config::TRANSCRIPT_DOMAIN`).
pub const TRANSCRIPT_DOMAIN: &[u8] = b"multisig/leansig-xmss-aggregate/whir/v1";

/// Collision resistance of the Merkle and transcript hash (Keccak-256), in bits: the cap on every
/// security figure of this backend.
pub const COLLISION_BITS: usize = 128;

/// The DFT WHIR encodes each round's codeword with: Plonky3's [`Radix2DFTSmallBatch`], with the
/// zero tail of each padded message written before the transform reads it.
///
/// WHIR (p3-sumcheck's `commit_base`, p3-whir's `commit_extension`) allocates each codeword
/// zeroed (`zero_vec`, fresh pages the kernel maps on first touch), writes the message into its
/// first `2^-log_inv_rate` part and hands the whole buffer to the encoder. The transform reads the
/// untouched tail before writing it, so every page of the tail is first mapped to the kernel's
/// shared zero page and then, on the write, copied out of it: a write-protect fault whose TLB flush
/// interrupts every other core running the process. On this 2-core VM those flushes were 30% of a
/// Type-2 merge's samples and 7.5 s of kernel time (`perf`, 2026-12-05). Writing the tail first
/// maps each page once, writable, with no flush. The codeword is the same, bit for bit: the tail is
/// zero by `Encoder::encode_batch_padded`'s contract and stays zero.
#[derive(Clone, Debug, Default)]
pub struct WhirDft(Radix2DFTSmallBatch<Val>);

/// Writes zeros over `values[from..]`, which the caller knows to be zero, in parallel: maps each
/// fresh page of a zeroed allocation writable before anything reads it ([`WhirDft`]).
fn touch_zero_tail<T: p3_field::PrimeCharacteristicRing + Send + Sync + Copy>(values: &mut [T], from: usize) {
    const CHUNK: usize = 1 << 16;
    if let Some(tail) = values.get_mut(from..) {
        tail.par_chunks_mut(CHUNK).for_each(|c| c.fill(T::ZERO));
    }
}

impl Encoder<Val> for WhirDft {
    fn encode_batch(&self, message: RowMajorMatrix<Val>, log_inv_rate: usize) -> RowMajorMatrix<Val> {
        self.0.encode_batch(message, log_inv_rate)
    }

    fn encode_batch_padded(
        &self,
        mut message: RowMajorMatrix<Val>,
        log_inv_rate: usize,
    ) -> RowMajorMatrix<Val> {
        let lead = message.values.len() >> log_inv_rate;
        touch_zero_tail(&mut message.values, lead);
        self.0.encode_batch_padded(message, log_inv_rate)
    }
}

impl WhirDomain<Val, Challenge> for WhirDft {
    fn protocol_id(&self) -> &'static [u8] {
        <Radix2DFTSmallBatch<Val> as WhirDomain<Val, Challenge>>::protocol_id(&self.0)
    }

    fn supports_security_assumption(&self, assumption: SecurityAssumption) -> bool {
        <Radix2DFTSmallBatch<Val> as WhirDomain<Val, Challenge>>::supports_security_assumption(
            &self.0, assumption,
        )
    }

    fn stratified_queries(&self) -> bool {
        <Radix2DFTSmallBatch<Val> as WhirDomain<Val, Challenge>>::stratified_queries(&self.0)
    }

    fn max_log_domain_size(&self) -> usize {
        <Radix2DFTSmallBatch<Val> as WhirDomain<Val, Challenge>>::max_log_domain_size(&self.0)
    }

    fn encode_extension_batch_padded(
        &self,
        mut message: RowMajorMatrix<Challenge>,
        log_inv_rate: usize,
    ) -> RowMajorMatrix<Challenge> {
        let lead = message.values.len() >> log_inv_rate;
        touch_zero_tail(&mut message.values, lead);
        <Radix2DFTSmallBatch<Val> as WhirDomain<Val, Challenge>>::encode_extension_batch_padded(
            &self.0,
            message,
            log_inv_rate,
        )
    }

    fn query_point(
        &self,
        log_domain_size: usize,
        num_variables: usize,
        index: usize,
    ) -> WhirQueryPoint<Val> {
        <Radix2DFTSmallBatch<Val> as WhirDomain<Val, Challenge>>::query_point(
            &self.0,
            log_domain_size,
            num_variables,
            index,
        )
    }
}

/// How the stacked trace polynomial is laid out for the opening: p3-sumcheck's suffix layout,
/// where every column fills one contiguous slot (the slot's selector bits are the high variables).
/// Columns are copied into their slots in parallel, straight into the codeword buffer. The
/// prefix layout (column variables first) scatters every cell serially into a stacked copy it
/// keeps for the whole proof: at N = 256 that cost 0.29 s and 64 MiB more (2026-11-22).
pub type WhirLayout = SuffixProver<Val, Challenge>;

/// The WHIR polynomial commitment over KoalaBear with Keccak Merkle trees.
pub type WhirPcs = WhirProver<Challenge, Val, WhirDft, ValMmcs, Challenger, WhirLayout>;

/// A multilinear STARK proof of the four AIR instances (the Plonky3 value the envelope mirrors).
pub type WhirProof = MultiStarkProof<WhirStarkConfig>;

/// The multilinear STARK configuration: WHIR commitment, quintic challenge field, Keccak
/// transcript. Built per statement by [`stark_config`], since WHIR's rounds depend on the number
/// of variables of the stacked trace.
pub struct WhirStarkConfig {
    pcs: RecommitPcs,
    first_folding: usize,
    /// The commitment to the preprocessed traces, over their own stacked polynomial (another
    /// number of variables than the main traces'): `None` for batches without preprocessed
    /// columns, which every shipped proof is.
    preprocessed: Option<RecommitPcs>,
}

impl WhirStarkConfig {
    /// The same configuration with a commitment for preprocessed traces whose stacked
    /// polynomial has `num_variables` variables, under `preset`'s WHIR schedule
    /// ([`protocol_parameters`]).
    ///
    /// # Errors
    /// A message when the schedule does not fit `num_variables`.
    #[cfg(test)]
    pub(crate) fn with_preprocessed(
        mut self,
        preset: &WhirPreset,
        num_variables: usize,
    ) -> Result<Self, String> {
        let params = protocol_parameters(preset, num_variables)?;
        let config = WhirConfig::new(num_variables, params).map_err(|e| {
            format!("WHIR parameters for {num_variables} preprocessed variables: {e:?}")
        })?;
        self.preprocessed = Some(RecommitPcs::new(config, false));
        Ok(self)
    }
}

impl MultiStarkConfig for WhirStarkConfig {
    type Val = Val;
    type Challenge = Challenge;
    type Challenger = Challenger;
    type Pcs = RecommitPcs;

    fn pcs(&self) -> &RecommitPcs {
        &self.pcs
    }

    fn collision_resistance_bits(&self) -> Option<usize> {
        Some(COLLISION_BITS)
    }

    fn min_num_variables(&self) -> usize {
        self.first_folding
    }

    fn preprocessed_pcs(&self) -> &RecommitPcs {
        // p3-multi-stark calls this only in setup, and only for AIRs that declare preprocessed
        // columns; a panic there is caught (`compact_batch`, `prepare`) and becomes an error.
        self.preprocessed
            .as_ref()
            .expect("this configuration commits no preprocessed trace")
    }

    fn build_witness(&self, tables: Vec<Table<Val>>) -> Witness<Val> {
        WhirLayout::new_witness(tables, self.first_folding)
    }

    fn committed_table<'a>(
        &self,
        prover_data: &'a p3_multi_stark::config::ProverData<Self>,
        table_index: usize,
    ) -> &'a Table<Val> {
        prover_data.table(table_index)
    }
}

/// Number of variables of the stacked polynomial that holds every trace: log2 of the total cell
/// count rounded up to a power of two (each column padded to a power-of-two slot), as the WHIR
/// layout plans it. `shapes` are `(log2 height, width)` per instance.
pub fn num_variables(shapes: &[(usize, usize)], first_folding: usize) -> usize {
    let shapes: Vec<TableShape> = shapes
        .iter()
        .map(|&(log_h, width)| TableShape::new(log_h.max(first_folding), width))
        .collect();
    plan_stacked_layout(&shapes).0
}

/// `(log2 height, width)` of each instance of a statement.
fn statement_shapes(stmt: &Statement<'_>, airs: &[AggAir]) -> Vec<(usize, usize)> {
    stmt.heights()
        .iter()
        .zip(airs)
        .map(|(h, air)| {
            (
                h.trailing_zeros() as usize,
                p3_air::BaseAir::<Val>::width(air),
            )
        })
        .collect()
}

/// The WHIR protocol parameters of `preset` for a stacked polynomial of `num_variables`, with
/// the grinding budget of [`grinding_budget`].
///
/// # Errors
/// A message when the schedule does not fit (`num_variables` below the first folding).
pub fn protocol_parameters(
    preset: &WhirPreset,
    num_variables: usize,
) -> Result<ProtocolParameters, String> {
    let budget = grinding_budget(preset, num_variables)?;
    parameters_with_budget(preset, num_variables, budget)
}

/// Proof-of-work bits each WHIR grinding phase may use for a statement of `num_variables`.
///
/// p3-whir spends the whole budget on every query phase (it buys queries only for the security
/// left over), so one phase costs about `2^budget` Keccak evaluations whatever the statement's
/// size. A proof of `v` variables otherwise costs a small multiple of `2^v` field operations, so
/// a fixed 23-bit budget was 0.10 to 0.15 s of a one-signature proof's 0.45 s (measured
/// 2026-11-22). The budget is therefore `min(pow_bits, v - 1)`, raised to the least value
/// p3-whir accepts, at most [`MAX_GRINDING_BITS`] (its folding phases need a difficulty that
/// grows with `v`: 7 bits at 2^17 variables, 17 at 2^24). Every error term is still sized for
/// `term_bits`: a smaller budget means more queries (about 2.3 more first-round queries per bit
/// at rate 1/2) and a slightly larger proof, never fewer bits of security. Prover and verifier
/// derive the same budget from the statement's shape.
///
/// # Errors
/// As [`protocol_parameters`].
pub fn grinding_budget(preset: &WhirPreset, num_variables: usize) -> Result<usize, String> {
    let start = usize::from(preset.pow_bits).min(num_variables.saturating_sub(1));
    for budget in start..=MAX_GRINDING_BITS {
        let params = parameters_with_budget(preset, num_variables, budget)?;
        if WhirConfig::<Challenge, Val, Challenger>::new(num_variables, params).is_ok() {
            return Ok(budget);
        }
    }
    // No budget fits (the domain is too large, say): the caller's `WhirConfig::new` names why.
    Ok(usize::from(preset.pow_bits))
}

/// The most grinding bits [`grinding_budget`] will raise a budget to when folding soundness
/// demands more than the preset's `pow_bits` (large statements: 2^27 variables and up).
pub const MAX_GRINDING_BITS: usize = 26;

/// [`protocol_parameters`] at an explicit grinding budget (bits).
fn parameters_with_budget(
    preset: &WhirPreset,
    num_variables: usize,
    pow_bits: usize,
) -> Result<ProtocolParameters, String> {
    let s = preset;
    let folding = FoldingFactor::ConstantFromSecondRound(
        usize::from(s.first_folding),
        usize::from(s.folding),
    );
    let (rounds, _) = folding
        .compute_number_of_rounds(num_variables)
        .map_err(|e| format!("WHIR folding schedule for {num_variables} variables: {e}"))?;
    let mut rate = usize::from(preset.log_inv_rate);
    let round_log_inv_rates = (0..rounds)
        .map(|_| {
            rate += usize::from(s.rate_step);
            rate
        })
        .collect();
    Ok(ProtocolParameters {
        starting_log_inv_rate: usize::from(preset.log_inv_rate),
        round_log_inv_rates,
        folding_factor: folding,
        // WHIR presets are proven-regime only.
        soundness_type: if preset.unique_decoding {
            SecurityAssumption::UniqueDecoding
        } else {
            SecurityAssumption::JohnsonBound
        },
        security_level: usize::from(s.term_bits),
        pow_bits,
    })
}

/// Builds the configuration of `preset` for a statement whose stacked trace has `num_variables`.
/// The prover rebuilds the first codeword at the opening instead of holding it
/// ([`recommit`]) when that codeword would take more than [`RECOMMIT_ABOVE_BYTES`]
/// ([`first_codeword_bytes`]); proofs and verification are the same either way.
///
/// # Errors
/// A message when p3-whir rejects the parameters (for example a codeword past KoalaBear's 2^24
/// two-adic domain).
pub fn stark_config(preset: &WhirPreset, num_variables: usize) -> Result<WhirStarkConfig, String> {
    let recommit = first_codeword_bytes(preset, num_variables) > RECOMMIT_ABOVE_BYTES;
    stark_config_with(preset, num_variables, recommit)
}

/// Bytes of the first WHIR codeword of a stacked trace of `num_variables` under `preset`:
/// `2^(num_variables + log_inv_rate)` base-field cells of 4 bytes (`usize::MAX` past the word).
pub fn first_codeword_bytes(preset: &WhirPreset, num_variables: usize) -> usize {
    let log_bytes = num_variables + usize::from(preset.log_inv_rate) + 2;
    if log_bytes >= usize::BITS as usize {
        usize::MAX
    } else {
        1usize << log_bytes
    }
}

/// [`stark_config`] with the choice of [`RecommitPcs::recommit`] made by the caller.
///
/// # Errors
/// As [`stark_config`].
pub(crate) fn stark_config_with(
    preset: &WhirPreset,
    num_variables: usize,
    recommit: bool,
) -> Result<WhirStarkConfig, String> {
    let params = protocol_parameters(preset, num_variables)?;
    let config = WhirConfig::new(num_variables, params)
        .map_err(|e| format!("WHIR parameters for {num_variables} variables: {e:?}"))?;
    Ok(WhirStarkConfig {
        pcs: RecommitPcs::new(config, recommit),
        first_folding: usize::from(preset.first_folding),
        preprocessed: None,
    })
}

/// A fresh transcript of this backend.
pub(crate) fn challenger() -> Challenger {
    super::field::challenger(TRANSCRIPT_DOMAIN)
}

/// Variables of the stacked trace polynomial of `stmt` under `preset` (see [`num_variables`]).
pub fn statement_num_variables(preset: &WhirPreset, stmt: &Statement<'_>, airs: &[AggAir]) -> usize {
    num_variables(
        &statement_shapes(stmt, airs),
        usize::from(preset.first_folding),
    )
}

/// Configuration of `preset` for this statement's shape.
///
/// # Errors
/// As [`stark_config`].
pub fn statement_config(
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
) -> Result<WhirStarkConfig, String> {
    stark_config(preset, statement_num_variables(preset, stmt, airs))
}

/// The proving and verifying keys of the four AIRs, built once per process from
/// [`reference_airs`].
///
/// Our AIRs have no preprocessed columns, so a key holds only what the multilinear prover derives
/// from the AIRs' structure (per-variable constraint degrees and constraint counts); like the FRI
/// backend's caches it is the same for every statement (`keys_are_statement_independent` checks
/// that proofs made and verified with keys derived from other statements agree). Setup costs
/// about 55 ms, most of a verification, hence the cache.
///
/// # Errors
/// A message if setup of the reference AIRs failed (never expected; kept as an error).
fn keys() -> Result<&'static (ProvingKey<WhirStarkConfig>, VerifyingKey<WhirStarkConfig>), String> {
    type Keys = (ProvingKey<WhirStarkConfig>, VerifyingKey<WhirStarkConfig>);
    static KEYS: std::sync::OnceLock<Result<Keys, String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let airs = reference_airs();
        keys_for(&airs)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Runs setup for `airs` (uncached; see [`keys`]).
fn keys_for(
    airs: &[AggAir],
) -> Result<(ProvingKey<WhirStarkConfig>, VerifyingKey<WhirStarkConfig>), String> {
    let preset = whir_presets().next().ok_or("no WHIR preset")?;
    let first_folding = usize::from(preset.first_folding);
    let shapes: Vec<(usize, usize)> = airs
        .iter()
        .map(|air| (first_folding, p3_air::BaseAir::<Val>::width(air)))
        .collect();
    let config = stark_config(&preset, num_variables(&shapes, first_folding))?;
    let refs: Vec<&AggAir> = airs.iter().collect();
    setup(&config, &refs, &mut challenger()).map_err(|e| format!("setup: {e:?}"))
}

/// Proves the four traces of `stmt` under a WHIR `preset`.
///
/// `traces` are the row-major traces of [`super::statement::build_traces`], in instance order; each
/// is dropped as soon as its column-major copy exists, so the prover's peak memory holds one
/// copy of the trace.
///
/// # Errors
/// A message when the parameters do not fit the statement or the prover fails. The multilinear
/// prover does not check constraints first: a bad witness gives a proof that does not verify.
pub fn prove(
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    traces: Vec<RowMajorMatrix<Val>>,
) -> Result<WhirProof, String> {
    prove_with_key(preset, stmt, airs, traces, &keys()?.0)
}

/// [`prove`] with an explicit proving key.
fn prove_with_key(
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    traces: Vec<RowMajorMatrix<Val>>,
    pk: &ProvingKey<WhirStarkConfig>,
) -> Result<WhirProof, String> {
    let config = statement_config(preset, stmt, airs)?;
    prove_with_config(&config, preset, stmt, airs, traces, pk)
}

/// [`prove_with_key`] under an explicit configuration (which must be `preset`'s for `stmt`).
fn prove_with_config(
    config: &WhirStarkConfig,
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    traces: Vec<RowMajorMatrix<Val>>,
    pk: &ProvingKey<WhirStarkConfig>,
) -> Result<WhirProof, String> {
    let public_values = stmt.public_values();
    let t = std::time::Instant::now();
    let tables: Vec<Table<Val>> = traces
        .into_par_iter()
        .map(|trace| Table::new(trace.transpose()))
        .collect();
    profile("whir: column-major tables", t);
    let instances = ProverInstances::new(
        airs.iter()
            .zip(tables)
            .zip(&public_values)
            .map(|((air, table), pv)| ProverInstance::new(air, table, pk, pv))
            .collect(),
    );
    let mut ch = challenger();
    p3_multi_stark::prove(
        config,
        instances,
        usize::from(preset.zerocheck_pow_bits),
        &mut ch,
    )
    .map_err(|e| format!("{e:?}"))
}

/// Verifies a WHIR proof of `stmt` made under `preset`.
///
/// # Errors
/// A message naming the first check that fails (zerocheck, lookup, opening, transcript shape).
pub fn verify(
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    proof: &WhirProof,
) -> Result<(), String> {
    let t = std::time::Instant::now();
    let vk = &keys()?.1;
    profile("whir verify: keys", t);
    verify_with_key(preset, stmt, airs, proof, vk)
}

/// [`verify`] with an explicit verifying key.
fn verify_with_key(
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    proof: &WhirProof,
    vk: &VerifyingKey<WhirStarkConfig>,
) -> Result<(), String> {
    let config = statement_config(preset, stmt, airs)?;
    let public_values = stmt.public_values();
    let instances = verifier_instances(stmt, airs, vk, &public_values);
    let t = std::time::Instant::now();
    let _guard = ProfileOnDrop(t);
    let mut ch = challenger();
    p3_multi_stark::verify(
        &config,
        instances,
        proof,
        usize::from(preset.zerocheck_pow_bits),
        &mut ch,
    )
    .map_err(|e| format!("{e}"))
}

/// Prints the time of the verifier proper when dropped (see `super::profile`).
struct ProfileOnDrop(std::time::Instant);

impl Drop for ProfileOnDrop {
    fn drop(&mut self) {
        profile("whir verify: multi-stark verify", self.0);
    }
}

/// The verifier's view of the four instances: each AIR with its trace log height (from the
/// statement, never from the proof) and its public values.
fn verifier_instances<'a>(
    stmt: &Statement<'_>,
    airs: &'a [AggAir],
    vk: &'a VerifyingKey<WhirStarkConfig>,
    public_values: &'a [Vec<Val>],
) -> VerifierInstances<'a, WhirStarkConfig, AggAir> {
    VerifierInstances::new(
        airs.iter()
            .zip(stmt.heights())
            .zip(public_values)
            .map(|((air, h), pv)| VerifierInstance::new(air, vk, h.trailing_zeros() as usize, pv))
            .collect(),
    )
}

/// Soundness in bits of every WHIR proof of `num_signatures` signatures under `preset` (the
/// shape depends on the count alone), over the exact challenge field. `p3_multi_stark`'s report
/// takes `|EF|` as 155 bits and composes its terms by the union bound (the sum of the error
/// probabilities, the collision term included); every term that depends on the field is
/// proportional to `1 / |EF|`, so here each term except the collision one is first lowered by
/// `155 - log2 |EF|` (0.057 bits; exact for the field-dependent terms, conservative for the
/// others), then the terms are summed the same way.
///
/// # Errors
/// As [`security_terms`].
pub fn security_bits_for_signatures(preset: &WhirPreset, num_signatures: usize) -> Result<f64, String> {
    let report = with_placeholder_statement(num_signatures, |stmt| {
        security_terms(preset, stmt, &stmt.airs())
    })?;
    report_bits(&report)
}

/// Soundness in bits of `report` over the exact challenge field, as
/// [`security_bits_for_signatures`] composes it: every term except the collision one lowered by
/// `155 - log2 |EF|`, then all summed by the union bound.
///
/// # Errors
/// A message naming the components the report left unassessed.
pub(crate) fn report_bits(report: &p3_multi_stark::MultiStarkSecurityReport) -> Result<f64, String> {
    if !report.unassessed_components().is_empty() {
        return Err(format!("unassessed: {:?}", report.unassessed_components()));
    }
    let rounded = <Challenge as p3_field::Field>::bits() as f64;
    let gap = (rounded - challenge_field_bits()).max(0.0);
    let terms: Vec<p3_security::ErrorBits> = report
        .terms()
        .iter()
        .map(|t| {
            let field_free = t.label.contains("collision");
            p3_security::ErrorBits::from_log2(if field_free {
                t.bits.bits()
            } else {
                t.bits.bits() - gap
            })
        })
        .collect();
    Ok(p3_security::ErrorBits::sum(&terms).bits().max(0.0))
}

/// An upper bound on the bytes of every WHIR proof of `num_signatures` signatures under
/// `preset` ([`envelope::max_encoded_len`] for the statement's stacked trace and
/// tables).
///
/// # Errors
/// A message when the WHIR schedule does not fit the statement.
pub fn proof_size_bound_for_signatures(
    preset: &WhirPreset,
    num_signatures: usize,
) -> Result<usize, String> {
    with_placeholder_statement(num_signatures, |stmt| {
        let airs = stmt.airs();
        let tables = envelope::table_shapes(&airs);
        envelope::max_encoded_len(
            preset,
            statement_num_variables(preset, stmt, &airs),
            &tables,
            None,
        )
    })
    .map_err(|e| e.to_string())
}

/// Soundness in bits of a WHIR proof of `stmt` under `preset`, as `p3_multi_stark`'s
/// security report composes it (every term, capped at [`COLLISION_BITS`]; `|EF|` taken as 155
/// bits, see [`security_bits_for_signatures`] for the exact field).
///
/// # Errors
/// A message when the parameters do not fit or a component cannot be assessed.
#[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))] // tests only
pub fn security_bits(
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
) -> Result<f64, String> {
    let report = security_terms(preset, stmt, airs)?;
    if !report.unassessed_components().is_empty() {
        return Err(format!("unassessed: {:?}", report.unassessed_components()));
    }
    report
        .security_bits()
        .ok_or_else(|| "no security figure".to_string())
}

/// The full security report behind [`security_bits`]: every labelled term.
///
/// # Errors
/// A message when the parameters do not fit the statement.
pub fn security_terms(
    preset: &WhirPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
) -> Result<p3_multi_stark::MultiStarkSecurityReport, String> {
    let config = statement_config(preset, stmt, airs)?;
    let (_, vk) = keys()?;
    let public_values = stmt.public_values();
    let instances = verifier_instances(stmt, airs, vk, &public_values);
    security_report(&config, &instances).map_err(|e| format!("{e:?}"))
}

impl ProofSystem for WhirPreset {
    fn check_statement(&self, stmt: &Statement<'_>) -> Result<(), String> {
        // Fails early, before any trace is built, when the WHIR schedule does not fit.
        statement_config(self, stmt, &stmt.airs()).map(|_| ())
    }

    fn prove(
        &self,
        stmt: &Statement<'_>,
        airs: &[AggAir],
        traces: Vec<RowMajorMatrix<Val>>,
    ) -> Result<Vec<u8>, String> {
        let t = std::time::Instant::now();
        let proof = catch_prover("the multilinear prover", || prove(self, stmt, airs, traces))?;
        profile("multi-stark prove", t);
        let t = std::time::Instant::now();
        let bytes = envelope::encode(self, &proof);
        profile("encode", t);
        Ok(bytes)
    }

    fn decode_and_verify(&self, proof: &[u8], stmt: &Statement<'_>) -> Result<(), VerifyError> {
        let (airs, proof) = decode_against(self, proof, stmt)?;
        catch_verifier(|| verify(self, stmt, &airs, &proof))
    }

    fn component_sizes(
        &self,
        proof: &[u8],
        stmt: &Statement<'_>,
    ) -> Result<Vec<(&'static str, usize)>, VerifyError> {
        let (_, proof) = decode_against(self, proof, stmt)?;
        Ok(envelope::component_sizes(&proof))
    }

    fn security_bits(&self, regime: Regime, num_signatures: usize) -> Result<f64, String> {
        match regime {
            Regime::Proven => security_bits_for_signatures(self, num_signatures),
            Regime::Conjectured => Err("WHIR presets are graded in the proven regime only".into()),
        }
    }

    fn proof_size_bound(&self, num_signatures: usize) -> Result<usize, String> {
        proof_size_bound_for_signatures(self, num_signatures)
    }

    fn prepare(&self) -> Result<(), String> {
        keys().map(|_| ())
    }
}

/// The AIRs of `stmt` and `proof` decoded against the statement's stacked trace size (see
/// [`envelope::decode`]).
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode, or whose prefix names another preset.
fn decode_against(
    preset: &WhirPreset,
    proof: &[u8],
    stmt: &Statement<'_>,
) -> Result<(Vec<AggAir>, WhirProof), VerifyError> {
    let t = std::time::Instant::now();
    let airs = stmt.airs();
    let nv = statement_num_variables(preset, stmt, &airs);
    let (decoded, proof) = envelope::decode(proof, nv)?;
    if decoded != *preset {
        return Err(VerifyError::Malformed("preset changed between reads".into()));
    }
    profile("verify: decode", t);
    Ok((airs, proof))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::test_signer;
    use p3_field::{BasedVectorSpace, PrimeCharacteristicRing};
    use rand::{Rng, SeedableRng};

    /// [`WhirDft`] encodes exactly as the DFT it wraps, for base and extension messages laid out
    /// as WHIR lays them out (zeroed buffer, message in the leading rows), at each rate, and
    /// answers the domain questions the same way: writing the tail must not touch the message.
    #[test]
    fn whir_dft_encodes_as_the_dft_it_wraps() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let ours = WhirDft::default();
        let theirs = Radix2DFTSmallBatch::<Val>::default();
        for (log_height, width, log_inv_rate) in [(10, 4, 1), (12, 8, 2), (9, 1, 3), (11, 64, 0)] {
            let lead = (1usize << log_height) * width;
            let mut base = Val::zero_vec(lead << log_inv_rate);
            base[..lead]
                .iter_mut()
                .for_each(|v| *v = Val::from_u32(rng.random::<u32>()));
            let mut ext = Challenge::zero_vec(lead << log_inv_rate);
            ext[..lead].iter_mut().for_each(|v| {
                *v = Challenge::from_basis_coefficients_fn(|_| Val::from_u32(rng.random::<u32>()))
            });
            let base = RowMajorMatrix::new(base, width);
            let ext = RowMajorMatrix::new(ext, width);
            let encoded = ours.encode_batch_padded(base.clone(), log_inv_rate);
            assert_eq!(encoded, theirs.encode_batch_padded(base.clone(), log_inv_rate));
            // A codeword, not an echo: a nonzero message's encoding is not its padded self.
            assert_ne!(encoded, base);
            assert_eq!(
                WhirDomain::<Val, Challenge>::encode_extension_batch_padded(
                    &ours,
                    ext.clone(),
                    log_inv_rate
                ),
                WhirDomain::<Val, Challenge>::encode_extension_batch_padded(
                    &theirs,
                    ext,
                    log_inv_rate
                ),
            );
            let unpadded = RowMajorMatrix::new(base.values[..lead].to_vec(), width);
            assert_eq!(
                ours.encode_batch(unpadded.clone(), log_inv_rate),
                theirs.encode_batch(unpadded, log_inv_rate)
            );
            let log_domain = log_height + log_inv_rate;
            for index in [0, 1, 5, (1 << log_domain) - 1] {
                assert_eq!(
                    WhirDomain::<Val, Challenge>::query_point(&ours, log_domain, log_height, index),
                    WhirDomain::<Val, Challenge>::query_point(&theirs, log_domain, log_height, index),
                );
            }
        }
        assert_eq!(
            WhirDomain::<Val, Challenge>::protocol_id(&ours),
            WhirDomain::<Val, Challenge>::protocol_id(&theirs)
        );
        assert_eq!(
            WhirDomain::<Val, Challenge>::max_log_domain_size(&ours),
            WhirDomain::<Val, Challenge>::max_log_domain_size(&theirs)
        );
        assert_eq!(
            WhirDomain::<Val, Challenge>::stratified_queries(&ours),
            WhirDomain::<Val, Challenge>::stratified_queries(&theirs)
        );
        for a in [
            SecurityAssumption::UniqueDecoding,
            SecurityAssumption::JohnsonBound,
            SecurityAssumption::CapacityBound,
        ] {
            assert_eq!(
                WhirDomain::<Val, Challenge>::supports_security_assumption(&ours, a),
                WhirDomain::<Val, Challenge>::supports_security_assumption(&theirs, a)
            );
        }
    }

    /// Builds witnesses and traces for `n` test signers.
    fn statement_traces(
        n: u64,
        message: &[u8; 32],
        epoch: u32,
    ) -> (Vec<crate::xmss::PublicKey>, Vec<RowMajorMatrix<Val>>) {
        let mut steps = Vec::new();
        let mut keys = Vec::new();
        let mut witnesses = Vec::new();
        for s in 0..n {
            let (pk, sig) = test_signer(s + 1, message, epoch);
            witnesses.push(crate::aggregate::witness::build_witness(
                s as u32, &pk, &sig, message, epoch, &mut steps,
            ));
            keys.push(pk);
        }
        let stmt = Statement {
            message,
            epoch,
            keys: &keys,
        };
        let airs = stmt.airs();
        let traces = crate::aggregate::statement::build_traces(&stmt, &airs, &witnesses, &steps);
        (keys, traces)
    }

    /// The grinding budget grows with the statement up to the preset's `pow_bits`, p3-whir
    /// accepts it at every size, and it sits above `min(pow_bits, v - 1)` only where folding
    /// soundness needs more.
    #[test]
    fn grinding_budget_scales_with_the_statement() {
        for p in whir_presets() {
            let p = &p;
            let ceiling = usize::from(p.pow_bits);
            let mut last = 0;
            for nv in 14..=27 {
                let budget = grinding_budget(p, nv).unwrap();
                assert!(
                    budget >= last,
                    "preset {} nv {nv}: budget fell to {budget}",
                    p.id()
                );
                last = budget;
                let params = protocol_parameters(p, nv).unwrap();
                assert_eq!(params.pow_bits, budget);
                WhirConfig::<Challenge, Val, Challenger>::new(nv, params).unwrap();
                let floor = ceiling.min(nv - 1);
                assert!(budget >= floor);
                if budget > floor {
                    let less = parameters_with_budget(p, nv, budget - 1).unwrap();
                    assert!(WhirConfig::<Challenge, Val, Challenger>::new(nv, less).is_err());
                }
            }
            // One signature (2^17 variables) grinds less than the preset's budget; 256 (2^24)
            // grind all of it.
            assert!(grinding_budget(p, 17).unwrap() < ceiling);
            assert_eq!(grinding_budget(p, 24).unwrap(), ceiling);
        }
    }

    /// The prover that drops the first codeword at the commitment and rebuilds it for the
    /// opening ([`RecommitPcs`]) makes the proof the one that holds it makes, byte for byte, for
    /// a real statement; the proof verifies, and not for another epoch. The default keeps a
    /// codeword this small (where it switches: `the_default_rebuilds_codewords_above_the_threshold`).
    #[test]
    fn a_rebuilt_first_codeword_gives_the_same_proof() {
        let preset = whir_presets().next().unwrap();
        let message = [0x24u8; 32];
        let epoch = 9;
        let (keys_list, traces) = statement_traces(2, &message, epoch);
        let stmt = Statement {
            message: &message,
            epoch,
            keys: &keys_list,
        };
        let airs = stmt.airs();
        let nv = statement_num_variables(&preset, &stmt, &airs);
        let held = stark_config_with(&preset, nv, false).unwrap();
        let rebuilt = stark_config_with(&preset, nv, true).unwrap();
        assert!(!held.pcs().recommit() && rebuilt.pcs().recommit());
        assert!(!statement_config(&preset, &stmt, &airs).unwrap().pcs().recommit());
        let pk = &keys().unwrap().0;
        // Grinding searches in parallel (`find_any`), so only a one-thread pool makes the proof
        // a function of the statement.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let (a, b) = pool.install(|| {
            let a = prove_with_config(&held, &preset, &stmt, &airs, traces.clone(), pk).unwrap();
            let b = prove_with_config(&rebuilt, &preset, &stmt, &airs, traces, pk).unwrap();
            (envelope::encode(&preset, &a), envelope::encode(&preset, &b))
        });
        assert!(a == b, "the proofs differ");
        let b = envelope::decode(&b, nv).unwrap().1;
        verify(&preset, &stmt, &airs, &b).unwrap();
        let other = Statement {
            message: &message,
            epoch: epoch + 1,
            keys: &keys_list,
        };
        assert!(verify(&preset, &other, &other.airs(), &b).is_err());
    }

    /// The first codeword's size and the default's choice around [`RECOMMIT_ABOVE_BYTES`].
    #[test]
    fn the_default_rebuilds_codewords_above_the_threshold() {
        for p in whir_presets() {
            let rate = usize::from(p.log_inv_rate);
            assert_eq!(first_codeword_bytes(&p, 20), 4 << (20 + rate));
            assert_eq!(first_codeword_bytes(&p, 70), usize::MAX);
            // The largest stacked trace whose codeword is held, and the next.
            let held = 27 - rate;
            assert_eq!(first_codeword_bytes(&p, held), RECOMMIT_ABOVE_BYTES);
            assert!(!stark_config(&p, held).unwrap().pcs().recommit());
            assert!(stark_config(&p, held + 1).unwrap().pcs().recommit());
        }
    }

    #[test]
    fn keys_are_statement_independent() {
        let preset = whir_presets().next().unwrap();
        let message = [0x42u8; 32];
        let epoch = 77;
        let (keys_list, traces) = statement_traces(3, &message, epoch);
        let stmt = Statement {
            message: &message,
            epoch,
            keys: &keys_list,
        };
        let airs = stmt.airs();
        let (own_pk, own_vk) = keys_for(&airs).unwrap();
        let (cached_pk, cached_vk) = keys().unwrap();
        // Made with the cached keys, checked with this statement's own, and the other way round.
        let proof = prove_with_key(&preset, &stmt, &airs, traces.clone(), cached_pk).unwrap();
        verify_with_key(&preset, &stmt, &airs, &proof, &own_vk).unwrap();
        let proof = prove_with_key(&preset, &stmt, &airs, traces, &own_pk).unwrap();
        verify_with_key(&preset, &stmt, &airs, &proof, cached_vk).unwrap();
        // And the proof is bound to the statement: another epoch or message is rejected.
        let other = Statement {
            message: &message,
            epoch: epoch + 1,
            keys: &keys_list,
        };
        assert!(verify(&preset, &other, &other.airs(), &proof).is_err());
        let message2 = [0x43u8; 32];
        let other = Statement {
            message: &message2,
            epoch,
            keys: &keys_list,
        };
        assert!(verify(&preset, &other, &other.airs(), &proof).is_err());
        let mut swapped = keys_list.clone();
        swapped.swap(0, 2);
        let other = Statement {
            message: &message,
            epoch,
            keys: &swapped,
        };
        assert!(verify(&preset, &other, &other.airs(), &proof).is_err());
    }
}
