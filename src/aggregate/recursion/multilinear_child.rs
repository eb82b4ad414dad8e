//! Test-only: a compact parent over Poseidon1-24 (p3-multi-stark over p3-whir, its Merkle trees
//! the FRI-Poseidon1 preset's and its transcript the Poseidon1-24 duplex), the kind of proof the
//! multilinear verifier in AIRs will take as a child (recursion README, "Step (0) decided"),
//! verified on a transcript that records every element in order, so that the verifier AIRs'
//! pieces can be checked against a real one element by element.
//!
//! [`Recorder`] is that transcript: `DuplexChallenger` over leanSig's Poseidon1-24 (rate 15),
//! each base-field observation and sample appended to `events` as it happens, every derived
//! operation (bit samples, uniform bit samples, grinding checks, Merkle caps) reduced to those as
//! `DuplexChallenger` performs it, so that position `i` of `events` is transcript position `i`
//! as [`super::duplex::DuplexAir`] counts them.

use p3_challenger::{
    CanObserve, CanSample, CanSampleBits, CanSampleUniformBits, DuplexChallenger, FieldChallenger,
    GrindingChallenger, ResamplingError,
};
use p3_field::{PrimeField64, UniformSamplingField};
use p3_merkle_tree::MerkleCap;
use p3_multi_stark::config::MultiStarkConfig;
use p3_sumcheck::layout::{Layout, Table, Witness};
use p3_whir::WhirConfig;

use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::{
    FriHash, Perm24, Poseidon1, Poseidon1Mmcs, POSEIDON1_DIGEST_ELEMS, POSEIDON1_RATE,
};
use crate::aggregate::preset::WhirPreset;
use crate::aggregate::whir::{self, WhirDft, WhirLayout};
use crate::xmss::F;

/// One recorded transcript element: observed (`true`) or sampled, and its value.
pub(super) type Event = (bool, F);

/// The Poseidon1-24 duplex transcript with every observed and sampled element recorded in order
/// (module docs).
#[derive(Clone)]
pub(super) struct Recorder {
    inner: DuplexChallenger<F, Perm24, 24, POSEIDON1_RATE>,
    /// Every element observed or sampled so far; element `i` is transcript position `i`.
    pub(super) events: Vec<Event>,
}

impl Recorder {
    /// A fresh transcript after the domain separator `domain` (as `Poseidon1::challenger`).
    pub(super) fn new(domain: &[u8]) -> Self {
        Self {
            inner: Poseidon1::challenger(domain),
            events: Vec::new(),
        }
    }

    /// One element below `m`, sampled again while not: `DuplexChallenger`'s rejection
    /// sampling. Without resampling (which no verifier here asks for: p3-whir resamples) a
    /// rejection panics, `ResamplingError` having no public constructor.
    fn sample_below(&mut self, m: u64, resample: bool) -> u64 {
        loop {
            let v = CanSample::<F>::sample(self).as_canonical_u64();
            if v < m {
                return v;
            }
            assert!(resample, "{v} rejected (not below {m}) without resampling");
        }
    }
}

impl CanObserve<F> for Recorder {
    fn observe(&mut self, value: F) {
        self.events.push((true, value));
        self.inner.observe(value);
    }
}

impl CanSample<F> for Recorder {
    fn sample(&mut self) -> F {
        let v: F = self.inner.sample();
        self.events.push((false, v));
        v
    }
}

impl CanSampleBits<usize> for Recorder {
    /// `DuplexChallenger`'s: the low `bits` bits of one sampled element.
    fn sample_bits(&mut self, bits: usize) -> usize {
        let v: F = self.sample();
        (v.as_canonical_u64() as usize) & ((1 << bits) - 1)
    }
}

impl CanSampleUniformBits<F> for Recorder {
    /// `DuplexChallenger`'s: one element below `SAMPLING_BITS_M[bits]` (two, of half the bits
    /// each, past `MAX_SINGLE_SAMPLE_BITS`), resampled or refused above it.
    fn sample_uniform_bits<const RESAMPLE: bool>(
        &mut self,
        bits: usize,
    ) -> Result<usize, ResamplingError> {
        if bits == 0 {
            return Ok(0);
        }
        let low = |v: u64, b: usize| v as usize & ((1 << b) - 1);
        if bits <= F::MAX_SINGLE_SAMPLE_BITS {
            let v = self.sample_below(F::SAMPLING_BITS_M[bits], RESAMPLE);
            Ok(low(v, bits))
        } else {
            let (b1, b2) = (bits / 2, bits - bits / 2);
            let v1 = self.sample_below(F::SAMPLING_BITS_M[b1], RESAMPLE);
            let v2 = self.sample_below(F::SAMPLING_BITS_M[b2], RESAMPLE);
            Ok(low(v1, b1) | (low(v2, b2) << b1))
        }
    }
}

impl FieldChallenger<F> for Recorder {}

impl CanObserve<MerkleCap<F, [F; POSEIDON1_DIGEST_ELEMS]>> for Recorder {
    /// `DuplexChallenger`'s: every element of every root, in order.
    fn observe(&mut self, cap: MerkleCap<F, [F; POSEIDON1_DIGEST_ELEMS]>) {
        for root in cap.roots() {
            for &v in root {
                CanObserve::<F>::observe(self, v);
            }
        }
    }
}

impl GrindingChallenger for Recorder {
    type Witness = F;
    /// The search on a copy of the sponge, then the check on this one (recorded).
    fn grind(&mut self, bits: usize) -> F {
        let witness = self.inner.clone().grind(bits);
        assert!(self.check_witness(bits, witness), "the witness found");
        witness
    }
    /// The trait's check: observe the witness, draw `bits` bits, all zero.
    fn check_witness(&mut self, bits: usize, witness: F) -> bool {
        if bits == 0 {
            return true;
        }
        CanObserve::<F>::observe(self, witness);
        self.sample_bits(bits) == 0
    }
}

/// p3-whir's commitment over the Poseidon1-24 Merkle trees and the recorded duplex transcript.
pub(super) type Poseidon1WhirPcs =
    p3_whir::WhirProver<Challenge, F, WhirDft, Poseidon1Mmcs, Recorder, WhirLayout>;

/// The multilinear STARK over [`Poseidon1WhirPcs`]: a compact parent's configuration with
/// Poseidon1-24 in place of Keccak, everything else as shipped.
pub(super) struct Poseidon1WhirConfig {
    pcs: Poseidon1WhirPcs,
    first_folding: usize,
}

impl Poseidon1WhirConfig {
    /// The configuration of `preset`'s WHIR schedule for a stacked polynomial of
    /// `num_variables` variables.
    ///
    /// # Errors
    /// A message when the schedule does not fit.
    pub(super) fn new(preset: &WhirPreset, num_variables: usize) -> Result<Self, String> {
        let params = whir::protocol_parameters(preset, num_variables)?;
        let config = WhirConfig::<Challenge, F, Recorder>::new(num_variables, params)
            .map_err(|e| format!("WHIR parameters for {num_variables} variables: {e:?}"))?;
        Ok(Self {
            pcs: Poseidon1WhirPcs::new(config, WhirDft::default(), Poseidon1::mmcs(0)),
            first_folding: usize::from(preset.first_folding),
        })
    }
}

impl MultiStarkConfig for Poseidon1WhirConfig {
    type Val = F;
    type Challenge = Challenge;
    type Challenger = Recorder;
    type Pcs = Poseidon1WhirPcs;

    fn pcs(&self) -> &Poseidon1WhirPcs {
        &self.pcs
    }

    fn collision_resistance_bits(&self) -> Option<usize> {
        // Nine-element digests: at most 123.96 bits (fri::config), floored.
        Some(123)
    }

    fn min_num_variables(&self) -> usize {
        self.first_folding
    }

    fn preprocessed_pcs(&self) -> &Poseidon1WhirPcs {
        unreachable!("no preprocessed trace")
    }

    fn build_witness(&self, tables: Vec<Table<F>>) -> Witness<F> {
        WhirLayout::new_witness(tables, self.first_folding)
    }

    fn committed_table<'a>(
        &self,
        prover_data: &'a p3_multi_stark::config::ProverData<Self>,
        table_index: usize,
    ) -> &'a Table<F> {
        prover_data.table(table_index)
    }
}

/// A compact parent over Poseidon1-24, proved and verified on a [`Recorder`].
pub(super) struct RecordedChild {
    /// The verifier's transcript, element by element.
    pub(super) events: Vec<Event>,
    /// The proof.
    pub(super) proof: p3_multi_stark::MultiStarkProof<Poseidon1WhirConfig>,
    /// Grinding bits per sumcheck round.
    pub(super) pow_bits: usize,
    /// The stacked polynomial's variables.
    pub(super) num_variables: usize,
    /// Each instance's public values.
    pub(super) public_values: Vec<Vec<F>>,
}

/// The domain separator of [`record`]'s transcripts.
pub(super) const RECORDED_DOMAIN: &[u8] = b"compact parent over Poseidon1 (test)";

/// Prove `batch` (wrapped as `wrapped`, its instances' multilinear AIRs) as a compact parent
/// over Poseidon1-24 and verify it on a [`Recorder`].
///
/// # Panics
/// When the batch does not prove or verify: a test's failure.
pub(super) fn record(
    batch: &super::harness::SmallestParentBatch,
    wrapped: &[super::parent::MultilinearAir<'_>],
) -> RecordedChild {
    use super::parent::{instance_public_values, stacked_variables, MultilinearAir};
    use p3_air::BaseAir;
    use p3_multi_stark::{ProverInstance, ProverInstances, VerifierInstance, VerifierInstances};

    let public_values = instance_public_values(wrapped);
    let widths: Vec<usize> = wrapped.iter().map(BaseAir::<F>::width).collect();
    let num_variables = stacked_variables(&batch.params, &batch.heights, &widths);
    let pow_bits = usize::from(batch.params.zerocheck_pow_bits);
    let config = Poseidon1WhirConfig::new(&batch.params, num_variables).expect("a configuration");
    let refs: Vec<&MultilinearAir<'_>> = wrapped.iter().collect();
    let (pk, vk) =
        p3_multi_stark::setup(&config, &refs, &mut Recorder::new(RECORDED_DOMAIN)).expect("setup");
    let tables: Vec<Table<F>> = batch
        .traces
        .iter()
        .map(|t| Table::new(t.transpose()))
        .collect();
    let instances = ProverInstances::new(
        wrapped
            .iter()
            .zip(tables)
            .zip(&public_values)
            .map(|((air, table), pv)| ProverInstance::new(air, table, &pk, pv))
            .collect(),
    );
    let proof = p3_multi_stark::prove(
        &config,
        instances,
        pow_bits,
        &mut Recorder::new(RECORDED_DOMAIN),
    )
    .expect("a proof");
    let mut recorder = Recorder::new(RECORDED_DOMAIN);
    let instances = VerifierInstances::new(
        wrapped
            .iter()
            .zip(&batch.heights)
            .zip(&public_values)
            .map(|((air, &h), pv)| VerifierInstance::new(air, &vk, h, pv))
            .collect(),
    );
    p3_multi_stark::verify(&config, instances, &proof, pow_bits, &mut recorder)
        .expect("the Poseidon1 compact parent verifies");
    RecordedChild {
        events: recorder.events,
        proof,
        pow_bits,
        num_variables,
        public_values,
    }
}

/// The transcript shapes of `batch`'s compact parent over Poseidon1-24 (`wrapped`, its
/// instances' multilinear AIRs, at trace arities `heights`, `pow_bits` of grinding a round,
/// `num_variables` stacked), the main opening's included when `opening`.
///
/// # Panics
/// When the shapes cannot be made: a test's failure.
pub(super) fn child_shapes(
    batch: &super::harness::SmallestParentBatch,
    wrapped: &[super::parent::MultilinearAir<'_>],
    heights: &[usize],
    pow_bits: usize,
    num_variables: usize,
    opening: bool,
) -> super::multilinear_schedule::StarkShapes {
    use super::multilinear_schedule::StarkShapes;
    use super::parent::MultilinearAir;
    use crate::aggregate::fri::config::POSEIDON1_DIGEST_ELEMS;

    let refs: Vec<&MultilinearAir<'_>> = wrapped.iter().collect();
    let shapes =
        StarkShapes::new(&refs, heights, pow_bits, POSEIDON1_DIGEST_ELEMS).expect("shapes");
    if !opening {
        return shapes;
    }
    let params = whir::protocol_parameters(&batch.params, num_variables).expect("parameters");
    let config =
        WhirConfig::<Challenge, F, Recorder>::new(num_variables, params).expect("a configuration");
    shapes.with_opening::<WhirLayout>(p3_whir::WhirShape::new(&config, refs.len()))
}

/// [`record`] of `batch`, with its whole transcript's schedule derived from its shape
/// ([`child_shapes`], the main opening's included).
///
/// # Panics
/// When the batch does not prove, verify or schedule: a test's failure.
pub(super) fn record_scheduled(
    batch: &super::harness::SmallestParentBatch,
) -> (
    RecordedChild,
    super::multilinear_schedule::MultilinearSchedule,
) {
    use super::parent::{multilinear_instances, MultilinearAir};

    let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&batch.airs, batch.heights.len());
    let child = record(batch, &wrapped);
    let schedule = child_shapes(
        batch,
        &wrapped,
        &batch.heights,
        child.pow_bits,
        child.num_variables,
        true,
    )
    .schedule()
    .expect("a schedule");
    (child, schedule)
}
