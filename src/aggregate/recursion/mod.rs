//! Groundwork for recursive aggregation: which proofs can be children, and what the parent's
//! AIRs must recompute to verify one.
//!
//! A parent proof verifies a child proof inside its own AIRs, so everything the native verifier
//! hashes must be a permutation the AIRs arithmetize. Of today's proof systems only FRI over
//! Poseidon1 qualifies: its Merkle trees and Fiat-Shamir transcript use leanSig's width-24
//! Poseidon1 permutation, the one `crate::aggregate::air::perm` already proves
//! (`fri::config`, "The two hashes"). Keccak trees would cost about 24 rows of some 2,600
//! columns per Keccak-f call, and WHIR proofs are Keccak too. [`check_child_preset`] says which
//! presets can be children.
//!
//! [`child_verification_trace`] runs the native verifier of such a proof and records, in order,
//! every width-24 permutation it evaluates, tagged with its use ([`PermUse`]): the permutation
//! rows an in-AIR verifier needs for that child, and so the measured size of one child in a
//! parent's permutation table.
//!
//! The verifier AIRs, one file each, as they are written:
//! - [`merkle::MmcsOpeningAir`]: batch openings of Poseidon1-24 Merkle commitments (matrices of
//!   several heights, rows of any width), one block of permutation rows per opening in a
//!   verifier-fixed schedule, receiving its index (a query window) and its root (the
//!   commitment's), sending the opened values keyed by transcript, query and commitment;
//! - [`commit::CommitmentAir`]: each commitment root of a child, observed by its transcript and
//!   sent to every opening against it;
//! - [`duplex::DuplexAir`]: runs of the Poseidon1-24 duplex transcript in a verifier-fixed
//!   schedule of observations and samples, receiving each observed element and sending each
//!   sampled one by its position in the transcript;
//! - [`bits::SampledBitsAir`]: the transcript's bit samples decomposed canonically, grinding
//!   checks held to zero, and the windows of each query index the verifier uses sent with their
//!   evaluation-domain points (a WHIR child's uniform draws too, their points `g^index` sent to
//!   [`ood_air::OodAir`]);
//! - [`fold::FriFoldAir`]: the FRI query phase's folds over the quintic extension
//!   ([`ext`]), one row per query and round;
//! - [`final_poly::FinalPolyAir`]: the final polynomial at each query's last point, against its
//!   folded value;
//! - [`ood::Program`]: the out-of-domain constraint check of a child's batch as a straight-line
//!   program over the challenge field, and [`ood_air::OodAir`], which runs it one row per
//!   form of up to four operands and holds its outputs to zero;
//! - [`gather::GatherAir`]: the check's challenges and LogUp terminals, gathered from the
//!   child's transcript coordinate by coordinate and sent to the check whole;
//! - [`observed::ObservedAir`]: the transcript's other observations: verifier constants held to
//!   their values, grinding witnesses, and the child's statement (public values held to what
//!   the parent's verifier knows, the key-set digest sent to the key-set AIR, those the check
//!   reads sent to it too);
//! - [`keyset::KeySetAir`]: the parent's key set as the union of its children's, each child's
//!   key-set digest and count recomputed from its keys and the parent's held to its statement;
//! - [`schedule::TranscriptSchedule`]: the child's transcript derived from its shape, element
//!   by element: the positions every AIR keys its messages by;
//! - [`child::ChildShape`]: every verifier AIR's schedule for one child shape, derived from the
//!   transcript's, so that no position or window is set by hand;
//! - [`witness::ChildWitness`]: what each of those AIRs reads for one child, from its proof and
//!   its recorded transcript (full Merkle paths restored from the pruned multiproofs);
//! - [`sumcheck::SumcheckAir`]: rounds of sumchecks over the challenge field, each round
//!   polynomial observed by the transcript and reduced at the transcript's challenge (the first
//!   AIR of the multilinear verifier; in no parent's batch yet);
//! - [`multilinear_schedule::MultilinearSchedule`]: a multilinear child's transcript derived
//!   from p3's own descriptions of its protocols, step by step, every element of it;
//! - [`gkr::FractionGkrAir`]: a multilinear child's fractional GKR (its LogUp reduction) but
//!   its sumcheck rounds: each layer's closing check, the claims folded from layer to layer,
//!   the root denominator not zero, the output handed to the caller (in no parent's batch yet);
//! - [`zerocheck::ZerocheckAir`]: a multilinear child's zerocheck entry: the GKR's output
//!   folded by `theta` into the link claim, the claimed sum held to `eta` times it and handed to
//!   the constraint sumcheck, the final claim handed to the closing check (in no parent's batch
//!   yet);
//! - [`closing::closing_value`]: that closing check natively, every AIR's constraints and bus
//!   messages at the opened values; `closing::program`, the same check as a program that
//!   [`ood_air::OodAir`] runs over inputs [`gather::GatherAir`] takes from the child's
//!   transcript (in no parent's batch yet);
//! - [`whir_check::whir_check`]: WHIR's checks of a multilinear child's stacked opening
//!   natively, once its query rows are opened: the opening's claims carried through WHIR's
//!   folds and rounds to `W(r) f(r)`, and the final queries against the final polynomial, every
//!   value read at its scheduled position ([`whir_check::WhirReading`]); `whir_check::lower`, the
//!   same checks as a program, and `whir_check::child_program`, the closing check's and WHIR's
//!   as one program, which [`ood_air::OodAir`] runs beside [`gather::GatherAir`] and
//!   [`bits::SampledBitsAir`] (in no parent's batch yet).

use std::cell::RefCell;

use p3_challenger::{
    CanObserve, CanSample, CanSampleBits, DuplexChallenger, FieldChallenger, GrindingChallenger,
};
use p3_field::{BasedVectorSpace, Field, PackedValue, PrimeField64};

use super::field::Challenge;
use p3_merkle_tree::{MerkleCap, MerkleTreeMmcs, PrunedMerklePaths};
use p3_symmetric::{
    CryptographicPermutation, PaddingFreeSponge, Permutation, TruncatedPermutation,
};

use super::field::Val;
use super::fri::config::{
    fri_config_from, FriHash, Perm24, POSEIDON1_DIGEST_ELEMS, POSEIDON1_RATE, TRANSCRIPT_DOMAIN,
};
use super::options::{MerkleHash, VerifyError, VerifyOptions};
use super::preset::{FriPreset, Preset};
use super::proof_system::catch_verifier;
use super::statement::Statement;
use super::{accept_preset, canonical_key_order, check_key_count, fri, wire};
use crate::xmss::PublicKey;

/// `BaseAir` of a verifier AIR: `$width` (a function of the AIR) columns, its periodic columns
/// (field `periodic`, column-major), constraint degree 3.
macro_rules! verifier_base_air {
    ($air:ty, $width:expr) => {
        impl p3_air::BaseAir<$crate::xmss::F> for $air {
            fn width(&self) -> usize {
                ($width)(self)
            }
            fn num_periodic_columns(&self) -> usize {
                self.periodic.len()
            }
            fn periodic_columns(&self) -> std::borrow::Cow<'_, [Vec<$crate::xmss::F>]> {
                std::borrow::Cow::Borrowed(self.periodic.as_slice())
            }
            fn max_constraint_degree(&self) -> Option<usize> {
                Some(3)
            }
        }
    };
}

/// `numbered_from` and `first_transcript` for a verifier AIR with a `first: u32` field whose
/// constraints number its blocks ([`first_block_number`]).
macro_rules! numbered_blocks {
    ($air:ty) => {
        impl $air {
            /// The same AIR with its blocks numbered from `first`: block `b` of the trace is
            /// transcript `first + b` (a constraint, `first_block_number` in the recursion
            /// module). A parent numbers each group of children of one shape from its own range.
            #[must_use]
            pub fn numbered_from(mut self, first: u32) -> Self {
                self.first = first;
                self
            }

            /// The first block's transcript number.
            pub fn first_transcript(&self) -> u32 {
                self.first
            }
        }
    };
}

pub mod bits;
pub mod child;
pub mod closing;
pub mod commit;
pub mod deep;
pub mod duplex;
pub mod ext;
pub mod final_poly;
pub mod fold;
pub mod gather;
pub mod gkr;
#[cfg(test)]
mod harness;
pub mod keyset;
pub mod merkle;
/// A compact parent over Poseidon1-24, verified on a recorded transcript (tests only).
#[cfg(test)]
mod multilinear_child;
pub mod multilinear_schedule;
pub mod observed;
pub mod ood;
pub mod ood_air;
pub mod parent;
pub(crate) mod replay;
pub mod schedule;
/// Schedules as preprocessed columns (step 1 of the README's order of work): checked natively in
/// tests, in no proof format yet.
#[cfg(test)]
mod scheduled;
pub mod sumcheck;
pub mod terms;
pub mod type2;
pub mod whir_check;
pub mod witness;
pub mod zerocheck;

/// Receives the permutation `input -> output` `count` times (0 or 1, constrained by the
/// caller) from the shared full-output permutation table (bus `"poseidon1-24-full"`,
/// [`crate::aggregate::air::perm::Perm24TableAir::shared`]): every verifier AIR's rows that
/// hash, counted so that padding rows and a schedule's idle rows take no row of the table.
fn receive_permutation_counted<AB>(
    builder: &mut AB,
    input: &[AB::Var; 24],
    output: &[AB::Var; 24],
    count: AB::Expr,
) where
    AB: p3_air::AirBuilder + p3_lookup::InteractionBuilder,
{
    let message: Vec<AB::Expr> = input.iter().chain(output).map(|&v| v.into()).collect();
    p3_lookup::PermutationCheckBus::new(crate::aggregate::air::PERM24_FULL_BUS).receive(
        builder,
        message,
        p3_lookup::Count::bounded(count, 1),
    );
}

/// Holds a verifier AIR's transcript column to its block's number: `first` on the trace's
/// first row (this constraint), and on every transition the next row's number is this row's
/// plus `ends_block` (1 on a block's last row, 0 elsewhere: the caller's constraint, made with
/// [`next_block_number`]). So block `b` of the trace is transcript `first + b`, padding blocks
/// included, and no two blocks of one AIR carry one number: every message a block sends or
/// receives is keyed by a number no other block of that AIR holds, and a parent's children of
/// different shapes, numbered from disjoint ranges ([`parent`]), can never
/// answer each other's messages.
fn first_block_number<AB>(builder: &mut AB, first: u32, transcript: AB::Var)
where
    AB: p3_air::AirBuilder,
{
    use p3_air::AirBuilder;
    let first = <AB::Expr as p3_field::PrimeCharacteristicRing>::from_u32(first);
    builder.when_first_row().assert_eq(transcript, first);
}

/// The transition half of [`first_block_number`]: `next = row + ends_block`, as an expression
/// to hold to zero on transitions.
fn next_block_number<AB>(ends_block: AB::Expr, row: AB::Var, next: AB::Var) -> AB::Expr
where
    AB: p3_air::AirBuilder,
{
    next.into() - row.into() - ends_block
}

/// Width of the permutation every child-verification hash uses (leanSig's Poseidon1-24).
pub const CHILD_PERM_WIDTH: usize = 24;

/// What a width-24 permutation evaluated by the verifier is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermUse {
    /// The duplex Fiat-Shamir transcript (rate 15, capacity 9), from the domain separator on.
    Transcript,
    /// The leaf sponge over an opened row of a trace commitment (main, LogUp, quotient).
    TraceLeaf,
    /// A node compression on a trace commitment's Merkle path.
    TraceNode,
    /// The leaf sponge over an opened row of a FRI commit-phase codeword.
    FriLeaf,
    /// A node compression on a FRI commit-phase Merkle path.
    FriNode,
}

/// Every [`PermUse`], in the order reports list them.
pub const PERM_USES: [PermUse; 5] = [
    PermUse::Transcript,
    PermUse::TraceLeaf,
    PermUse::TraceNode,
    PermUse::FriLeaf,
    PermUse::FriNode,
];

impl PermUse {
    /// A short name for reports (`transcript`, `trace leaves`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PermUse::Transcript => "transcript",
            PermUse::TraceLeaf => "trace leaves",
            PermUse::TraceNode => "trace nodes",
            PermUse::FriLeaf => "FRI leaves",
            PermUse::FriNode => "FRI nodes",
        }
    }
}

/// One recorded permutation: its use and its input state (the output is the permutation of it).
pub type RecordedPerm = (PermUse, [Val; CHILD_PERM_WIDTH]);

/// One operation of the Fiat-Shamir transcript, with its base-field element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranscriptEvent {
    /// An element absorbed.
    Observe(Val),
    /// An element sampled (an extension-field challenge is five, coefficient 0 first; sampled
    /// bits are the low bits of one).
    Sample(Val),
}

impl TranscriptEvent {
    /// The element, observed or sampled.
    pub fn value(self) -> Val {
        match self {
            TranscriptEvent::Observe(v) | TranscriptEvent::Sample(v) => v,
        }
    }
}

thread_local! {
    /// The permutations recorded on this thread while [`child_verification_trace`] runs (the
    /// verifier is sequential: Plonky3 0.8's batch-STARK, FRI and Merkle verifiers spawn no
    /// work).
    static RECORDING: RefCell<Option<Vec<RecordedPerm>>> = const { RefCell::new(None) };
    /// The transcript operations recorded on this thread, likewise.
    static TRANSCRIPT: RefCell<Option<Vec<TranscriptEvent>>> = const { RefCell::new(None) };
    /// The bit samples among them, likewise.
    static BIT_DRAWS: RefCell<Option<Vec<BitDraw>>> = const { RefCell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// Test-only: let every grinding check pass once its witness is observed and its bits drawn
    /// (both recorded), so that a forged child's transcript is recorded to its end, as a
    /// cheating parent prover would complete it ([`forged_child_verification_trace`]).
    static LENIENT_GRINDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether grinding checks pass whatever their bits (only in a test's forged recording).
fn lenient_grinding() -> bool {
    #[cfg(test)]
    {
        LENIENT_GRINDING.with(std::cell::Cell::get)
    }
    #[cfg(not(test))]
    {
        false
    }
}

/// One `sample_bits` of the transcript: a grinding check's or a FRI query index's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitDraw {
    /// The sampled element's position in the transcript (observed and sampled elements
    /// counted together from 0, as [`ChildVerificationTrace::transcript`] lists them).
    pub position: usize,
    /// How many low bits were taken.
    pub bits: usize,
    /// What `sample_bits` returned: the low `bits` bits of the element's canonical value.
    pub result: usize,
}

fn log_event(e: TranscriptEvent) {
    TRANSCRIPT.with(|t| {
        if let Some(log) = t.borrow_mut().as_mut() {
            log.push(e);
        }
    });
}

/// The Poseidon1-24 duplex transcript with every observed and sampled element recorded, each
/// operation reduced to the base-field ones exactly as `DuplexChallenger` performs them.
#[derive(Clone)]
struct LoggedChallenger {
    inner: DuplexChallenger<Val, TracedPerm, CHILD_PERM_WIDTH, POSEIDON1_RATE>,
}

impl CanObserve<Val> for LoggedChallenger {
    fn observe(&mut self, value: Val) {
        log_event(TranscriptEvent::Observe(value));
        self.inner.observe(value);
    }
}

impl CanSample<Val> for LoggedChallenger {
    fn sample(&mut self) -> Val {
        let v: Val = self.inner.sample();
        log_event(TranscriptEvent::Sample(v));
        v
    }
}

impl CanSampleBits<usize> for LoggedChallenger {
    /// `DuplexChallenger`'s: the low `bits` bits of one sampled element.
    fn sample_bits(&mut self, bits: usize) -> usize {
        let position = TRANSCRIPT.with(|t| t.borrow().as_ref().map_or(0, Vec::len));
        let v: Val = self.sample();
        let result = (v.as_canonical_u64() as usize) & ((1usize << bits) - 1);
        BIT_DRAWS.with(|d| {
            if let Some(log) = d.borrow_mut().as_mut() {
                log.push(BitDraw {
                    position,
                    bits,
                    result,
                });
            }
        });
        result
    }
}

impl FieldChallenger<Val> for LoggedChallenger {}

impl CanObserve<MerkleCap<Val, [Val; POSEIDON1_DIGEST_ELEMS]>> for LoggedChallenger {
    /// `DuplexChallenger`'s: every element of every root, in order.
    fn observe(&mut self, cap: MerkleCap<Val, [Val; POSEIDON1_DIGEST_ELEMS]>) {
        for root in cap.roots() {
            for &v in root {
                self.observe(v);
            }
        }
    }
}

impl CanSample<Challenge> for LoggedChallenger {
    /// `DuplexChallenger`'s: five base-field samples, coefficient 0 first.
    fn sample(&mut self) -> Challenge {
        Challenge::from_basis_coefficients_fn(|_| CanSample::<Val>::sample(self))
    }
}

impl GrindingChallenger for LoggedChallenger {
    type Witness = Val;
    /// The prover's search (not recorded; only verification is).
    fn grind(&mut self, bits: usize) -> Val {
        self.inner.grind(bits)
    }
    /// The trait's check (observe the witness, draw `bits` bits, all zero), through this
    /// transcript's recorded operations.
    fn check_witness(&mut self, bits: usize, witness: Val) -> bool {
        if bits == 0 {
            return true;
        }
        self.observe(witness);
        self.sample_bits(bits) == 0 || lenient_grinding()
    }
}

/// Poseidon1-24 that records each input state on this thread while a recording is open, tagged
/// with the use it was built for; otherwise exactly [`Perm24`].
#[derive(Clone)]
struct TracedPerm {
    perm: Perm24,
    usage: PermUse,
}

impl TracedPerm {
    fn new(usage: PermUse) -> Self {
        Self {
            perm: crate::xmss::poseidon::poseidon1_24().clone(),
            usage,
        }
    }
}

impl<T> Permutation<[T; CHILD_PERM_WIDTH]> for TracedPerm
where
    T: PackedValue<Value = Val> + Clone,
    Perm24: Permutation<[T; CHILD_PERM_WIDTH]>,
{
    fn permute_mut(&self, state: &mut [T; CHILD_PERM_WIDTH]) {
        RECORDING.with(|r| {
            if let Some(log) = r.borrow_mut().as_mut() {
                for lane in 0..T::WIDTH {
                    log.push((
                        self.usage,
                        std::array::from_fn(|i| state[i].as_slice()[lane]),
                    ));
                }
            }
        });
        self.perm.permute_mut(state);
    }
}

impl<T> CryptographicPermutation<[T; CHILD_PERM_WIDTH]> for TracedPerm
where
    T: PackedValue<Value = Val> + Clone,
    Perm24: CryptographicPermutation<[T; CHILD_PERM_WIDTH]>,
{
}

type PackedVal = <Val as Field>::Packing;
type TracedMmcs = MerkleTreeMmcs<
    PackedVal,
    PackedVal,
    PaddingFreeSponge<TracedPerm, CHILD_PERM_WIDTH, POSEIDON1_RATE, POSEIDON1_DIGEST_ELEMS>,
    TruncatedPermutation<TracedPerm, 2, POSEIDON1_DIGEST_ELEMS, CHILD_PERM_WIDTH>,
    2,
    POSEIDON1_DIGEST_ELEMS,
>;

fn traced_mmcs(cap_height: usize, leaf: PermUse, node: PermUse) -> TracedMmcs {
    TracedMmcs::new(
        PaddingFreeSponge::new(TracedPerm::new(leaf)),
        TruncatedPermutation::new(TracedPerm::new(node)),
        cap_height,
    )
}

/// [`fri::config::Poseidon1`] with every permutation recorded: the same trees, transcript and
/// wire form, so it decodes and verifies exactly the proofs `Poseidon1` does.
#[derive(Clone, Copy, Debug, Default)]
struct TracedPoseidon1;

impl FriHash for TracedPoseidon1 {
    const HASH: MerkleHash = MerkleHash::Poseidon1;
    type Digest = [Val; POSEIDON1_DIGEST_ELEMS];
    type Mmcs = TracedMmcs;
    type Challenger = LoggedChallenger;
    fn mmcs(cap_height: usize) -> TracedMmcs {
        traced_mmcs(cap_height, PermUse::TraceLeaf, PermUse::TraceNode)
    }
    /// The domain separator is observed through the log, so that the recorded transcript
    /// starts from the zero state.
    fn challenger(domain: &[u8]) -> Self::Challenger {
        let mut c = LoggedChallenger {
            inner: DuplexChallenger::new(TracedPerm::new(PermUse::Transcript)),
        };
        for &b in domain {
            c.observe(Val::new(u32::from(b)));
        }
        c.observe(Val::new(domain.len() as u32));
        c
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

/// The FRI preset of `preset` if a proof made under it can be a child: FRI with Merkle trees and
/// transcript over Poseidon1 (see the module docs).
///
/// # Errors
/// [`VerifyError::PresetNotAccepted`] naming why any other preset cannot be a child.
pub fn check_child_preset(preset: &Preset) -> Result<&FriPreset, VerifyError> {
    match preset {
        Preset::Fri(f) if f.hash == MerkleHash::Poseidon1 => Ok(f),
        Preset::Fri(_) => Err(VerifyError::PresetNotAccepted(format!(
            "preset {} is FRI over Keccak: a child's Merkle trees and transcript must be \
             Poseidon1 (backend fri-poseidon1)",
            preset.id()
        ))),
        Preset::Whir(_) => Err(VerifyError::PresetNotAccepted(format!(
            "preset {} is WHIR over Keccak: a child must be FRI over Poseidon1 (backend \
             fri-poseidon1)",
            preset.id()
        ))),
    }
}

/// The width-24 permutations the native verifier evaluates to verify one child proof, in the
/// order it evaluates them ([`child_verification_trace`]).
#[derive(Clone, Debug)]
pub struct ChildVerificationTrace {
    preset: FriPreset,
    permutations: Vec<RecordedPerm>,
    transcript: Vec<TranscriptEvent>,
    bit_draws: Vec<BitDraw>,
}

impl ChildVerificationTrace {
    /// The child's preset.
    pub fn preset(&self) -> &FriPreset {
        &self.preset
    }
    /// Every permutation's use and input state, in evaluation order (the transcript's
    /// domain separator first).
    pub fn permutations(&self) -> &[RecordedPerm] {
        &self.permutations
    }
    /// Every element the transcript observed or sampled, in order, from the domain separator
    /// on.
    pub fn transcript(&self) -> &[TranscriptEvent] {
        &self.transcript
    }
    /// The transcript's bit samples, in order: the grinding checks (each returned 0), then the
    /// FRI query indices (the last `num_queries`).
    pub fn bit_draws(&self) -> &[BitDraw] {
        &self.bit_draws
    }
    /// The transcript's operations as [`duplex::Op`]s (runs of observations and samples) and
    /// its observed elements in order: what [`duplex::DuplexAir`] takes.
    pub fn transcript_ops(&self) -> (Vec<duplex::Op>, Vec<Val>) {
        let mut ops: Vec<duplex::Op> = Vec::new();
        let mut observed = Vec::new();
        for e in &self.transcript {
            match (e, ops.last_mut()) {
                (TranscriptEvent::Observe(v), Some(duplex::Op::Observe(n))) => {
                    *n += 1;
                    observed.push(*v);
                }
                (TranscriptEvent::Observe(v), _) => {
                    ops.push(duplex::Op::Observe(1));
                    observed.push(*v);
                }
                (TranscriptEvent::Sample(_), Some(duplex::Op::Sample(n))) => *n += 1,
                (TranscriptEvent::Sample(_), _) => ops.push(duplex::Op::Sample(1)),
            }
        }
        (ops, observed)
    }
    /// Number of permutations evaluated for `usage`.
    pub fn count(&self, usage: PermUse) -> usize {
        self.permutations
            .iter()
            .filter(|(u, _)| *u == usage)
            .count()
    }
    /// Number of permutations evaluated in all.
    pub fn len(&self) -> usize {
        self.permutations.len()
    }
    /// Whether no permutation was evaluated (never, for a verified proof).
    pub fn is_empty(&self) -> bool {
        self.permutations.is_empty()
    }
}

/// Verifies `proof` as [`super::verify_aggregate`] does with default options (keys in any order),
/// requiring in addition that it can be a child ([`check_child_preset`]), and returns every
/// width-24 Poseidon1 permutation the verification evaluated: the transcript's from its domain
/// separator (`TRANSCRIPT_DOMAIN`) on, then the Merkle leaf sponges and node compressions of
/// the trace and FRI commitments, in evaluation order. Plonky3's Merkle multiproofs are pruned
/// (a node shared by two queries' paths is hashed once), so the node counts depend a little on
/// the queried positions; the transcript's count is a function of the preset and `N` only.
///
/// Cost: one verification (tens of milliseconds) and 100 bytes per permutation recorded.
///
/// # Errors
/// As [`super::verify_aggregate`]; [`VerifyError::PresetNotAccepted`] also for a preset that
/// cannot be a child.
pub fn child_verification_trace(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
) -> Result<ChildVerificationTrace, VerifyError> {
    let (trace, verdict) = record_child_verification(proof, public_keys, message, epoch)?;
    verdict?;
    Ok(trace)
}

/// Test-only: [`child_verification_trace`] of a proof that need not verify, every grinding check
/// let through, so that its transcript is recorded to its end (Plonky3 0.8 draws every query
/// index before it checks any opening, and checks the out-of-domain identity last): the
/// transcript a cheating parent prover would read a forged child's witness from. Returns it
/// with the recording's own verdict (which passes every grinding check).
///
/// # Errors
/// As [`child_verification_trace`] for a proof that does not decode for the statement.
#[cfg(test)]
pub(crate) fn forged_child_verification_trace(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
) -> Result<(ChildVerificationTrace, Result<(), VerifyError>), VerifyError> {
    LENIENT_GRINDING.with(|l| l.set(true));
    let r = record_child_verification(proof, public_keys, message, epoch);
    LENIENT_GRINDING.with(|l| l.set(false));
    r
}

/// The recording of [`child_verification_trace`], whatever the verifier concludes: the trace
/// and the verdict.
///
/// # Errors
/// As [`child_verification_trace`] for a proof that does not decode for the statement.
fn record_child_verification(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
) -> Result<(ChildVerificationTrace, Result<(), VerifyError>), VerifyError> {
    check_key_count(public_keys)?;
    let keys = canonical_key_order(public_keys)?;
    let (preset, _) = wire::read_prefix(proof)?;
    let fri_preset = *check_child_preset(&preset)?;
    accept_preset(&preset, keys.len(), &VerifyOptions::default())?;
    let stmt = Statement {
        message,
        epoch,
        keys: &keys,
    };
    let decoded = fri::decode_against::<TracedPoseidon1>(&fri_preset, proof, &stmt)?;
    let cap = usize::from(fri_preset.merkle_cap_height);
    RECORDING.with(|r| *r.borrow_mut() = Some(Vec::new()));
    TRANSCRIPT.with(|t| *t.borrow_mut() = Some(Vec::new()));
    BIT_DRAWS.with(|d| *d.borrow_mut() = Some(Vec::new()));
    let result = catch_verifier(|| {
        let config = fri_config_from::<TracedPoseidon1>(
            &fri_preset,
            TracedPoseidon1::mmcs(cap),
            traced_mmcs(cap, PermUse::FriLeaf, PermUse::FriNode),
            TracedPoseidon1::challenger(TRANSCRIPT_DOMAIN),
        );
        fri::verify::<TracedPoseidon1>(
            &config,
            &stmt,
            &decoded.airs,
            &decoded.common,
            &decoded.proof,
        )
    });
    let permutations = RECORDING
        .with(|r| r.borrow_mut().take())
        .unwrap_or_default();
    let transcript = TRANSCRIPT
        .with(|t| t.borrow_mut().take())
        .unwrap_or_default();
    let bit_draws = BIT_DRAWS
        .with(|d| d.borrow_mut().take())
        .unwrap_or_default();
    Ok((
        ChildVerificationTrace {
            preset: fri_preset,
            permutations,
            transcript,
            bit_draws,
        },
        result,
    ))
}
