//! `DuplexAir`: runs of the Poseidon1-24 duplex Fiat-Shamir transcript, checked row by row on the
//! width-24 permutation bus.
//!
//! The transcript is Plonky3 0.8's `DuplexChallenger` over leanSig's width-24 Poseidon1, rate 15
//! (`fri::config::Poseidon1Challenger`). Its semantics, which this AIR reproduces:
//!
//! - `observe(v)` drops any buffered output and buffers `v`; 15 buffered inputs trigger a
//!   duplexing;
//! - `sample()` triggers a duplexing if inputs are buffered or no output is left, then takes the
//!   last output left (`output[14]` first, then `output[13]`, ...);
//! - a duplexing with `k > 0` buffered inputs overwrites `state[0..k]` with them, zeroes
//!   `state[k..15]`, adds `k` to `state[15]` and permutes; with none it permutes the state as it
//!   is. The state starts at zero.
//!
//! **One block per transcript.** Which observations and samples fall in which duplexing depends
//! only on the sequence of operations ([`TranscriptShape`], built from [`Op`]s), fixed by the
//! proof's shape: it is written into periodic columns of period [`TranscriptShape::block_len`].
//! Each element of the transcript has a position (observed and sampled elements counted
//! together, from 0). Row `r` of a block is the `r`-th duplexing; it receives one permutation
//! `(input, output)` from the full-output permutation table (bus `"poseidon1-24-full"`), and its
//! constraints fix the input from `prev`, the previous row's output (zero on the block's first
//! row), and the `absorbed` values: `input[i] = absorbed[i]` for `i < k` and `0` for
//! `k <= i < 15` when `k > 0`, `input[i] = prev[i]` for `i < 15` when `k = 0`;
//! `input[15] = prev[15] + k`; `input[16..24] = prev[16..24]`. Only the duplexing rows of an
//! active block receive (count `active * scheduled`, `scheduled` the schedule's mark of the
//! block's first [`TranscriptShape::duplexings`] rows): the rows past a transcript's last
//! duplexing and the padding blocks take no row of the table. Their outputs are unconstrained
//! and reach nothing: no chain runs past a transcript's last duplexing (`in_block` is 0 from
//! it on), the schedule has no observation or sample there, and a padding block sends and
//! receives nothing on the transcript buses.
//!
//! **What a transcript sends and receives.** Each absorbed value is received as
//! `(transcript, position, value)` on `"transcript-observe"`, from whatever AIR holds it (a
//! commitment root, an opened value, a grinding witness); each sampled value is sent as
//! `(transcript, position, value)` on `"transcript-sample"`, to whatever AIR uses it (a
//! challenge, query index bits), once per receiver: the count is the schedule's
//! ([`TranscriptShape::set_uses`]), so a challenge every query's row reads is sent to each of
//! them and can be received by no other row. Only active blocks send and receive; `transcript` and `active`
//! are constant down a block. Observations after the last duplexing reach no permutation and are
//! not received.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use crate::aggregate::air::perm::{PermFiller, PERM24_COLS, SHARED24_COLS as TABLE_WIDTH};
use crate::aggregate::fri::config::POSEIDON1_RATE;
use crate::xmss::F;

/// Bus of observed transcript elements `(transcript, position, value)`, received here.
pub const TRANSCRIPT_OBSERVE_BUS: &str = "transcript-observe";
/// Bus of sampled transcript elements `(transcript, position, value)`, sent here.
pub const TRANSCRIPT_SAMPLE_BUS: &str = "transcript-sample";

/// Most receivers of one sample (the bound the bus count is declared with): more than the
/// most queries of any preset (227).
pub const MAX_SAMPLE_USES: usize = 256;

const RATE: usize = POSEIDON1_RATE;
const WIDTH24: usize = 24;

/// One step of a transcript's operation sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Observe this many base-field elements.
    Observe(usize),
    /// Sample this many base-field elements.
    Sample(usize),
}

/// One duplexing: the positions it absorbs (in rate order) and the `(output index, position)` of
/// each sample taken from its output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Duplexing {
    /// Positions of the absorbed elements, `state[0..k]`.
    pub absorbed: Vec<usize>,
    /// `(i, position)`: the sample at `position` is `output[i]`.
    pub samples: Vec<(usize, usize)>,
}

/// The duplexings of an operation sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptShape {
    rows: Vec<Duplexing>,
    /// Positions used: observed and sampled elements.
    len: usize,
    /// Which positions are observations.
    observed: Vec<bool>,
    /// How many receivers each position's sample has (0 for observations).
    uses: Vec<usize>,
}

impl TranscriptShape {
    /// The duplexings `DuplexChallenger` performs for `ops`, from a fresh state.
    pub fn new(ops: &[Op]) -> Self {
        let mut rows: Vec<Duplexing> = Vec::new();
        let mut input: Vec<usize> = Vec::new();
        let mut outputs_left = 0;
        let mut observed = Vec::new();
        let duplex = |rows: &mut Vec<Duplexing>, input: &mut Vec<usize>| {
            rows.push(Duplexing {
                absorbed: std::mem::take(input),
                samples: Vec::new(),
            });
        };
        for op in ops {
            match *op {
                Op::Observe(n) => {
                    for _ in 0..n {
                        outputs_left = 0;
                        input.push(observed.len());
                        observed.push(true);
                        if input.len() == RATE {
                            duplex(&mut rows, &mut input);
                        }
                    }
                }
                Op::Sample(n) => {
                    for _ in 0..n {
                        if !input.is_empty() || outputs_left == 0 {
                            duplex(&mut rows, &mut input);
                            outputs_left = RATE;
                        }
                        outputs_left -= 1;
                        let position = observed.len();
                        observed.push(false);
                        rows.last_mut()
                            .expect("a duplexing")
                            .samples
                            .push((outputs_left, position));
                    }
                }
            }
        }
        Self {
            rows,
            len: observed.len(),
            uses: observed.iter().map(|&o| usize::from(!o)).collect(),
            observed,
        }
    }

    /// Sets how many receivers the sample at `position` has (1 unless set: one AIR row reads
    /// it; a challenge read by every query's row is sent that many times).
    ///
    /// # Panics
    /// If `position` is not a sample or `uses` exceeds [`MAX_SAMPLE_USES`] (a verifier's
    /// schedule, so a bug).
    pub fn set_uses(&mut self, position: usize, uses: usize) {
        assert!(!self.observed[position], "a sampled position");
        assert!(uses <= MAX_SAMPLE_USES, "uses");
        self.uses[position] = uses;
    }

    /// How many receivers the sample at `position` has.
    pub fn uses(&self, position: usize) -> usize {
        self.uses[position]
    }

    /// The duplexings, in order.
    pub fn duplexings(&self) -> &[Duplexing] {
        &self.rows
    }

    /// Number of positions (observed and sampled elements).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the sequence has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Rows of one transcript's block: the duplexings rounded up to a power of two (at least 2).
    pub fn block_len(&self) -> usize {
        self.rows.len().max(2).next_power_of_two()
    }
}

/// The columns of one row (150), viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct DuplexCols<T> {
    /// The permutation input this row receives.
    pub input: [T; WIDTH24],
    /// `Poseidon1-24(input)`, received with `input`.
    pub output: [T; WIDTH24],
    /// The previous duplexing's output (zero on a block's first row).
    pub prev: [T; WIDTH24],
    /// The values absorbed, `state[0..k]`, zero past `k`.
    pub absorbed: [T; RATE],
    /// The transcript's number on the buses (constant down the block).
    pub transcript: T,
    /// 1 in a block that sends and receives, 0 in a padding block (constant down the block).
    pub active: T,
    /// Mirrors of the periodic observation positions and flags.
    pub in_position: [T; RATE],
    /// Mirrors of the periodic observation flags.
    pub in_present: [T; RATE],
    /// Mirrors of the periodic sample positions.
    pub out_position: [T; RATE],
    /// Mirrors of the periodic sample counts.
    pub out_uses: [T; RATE],
    /// Mirror of the periodic `scheduled`: 1 on a duplexing's row, 0 on the block's rows past
    /// the transcript's last duplexing.
    pub scheduled: T,
}

/// The periodic columns (period [`TranscriptShape::block_len`]): the transcript's schedule.
#[repr(C)]
pub struct DuplexPeriodic<T> {
    /// The block's first row (the state starts at zero).
    pub start: T,
    /// The next row is the next duplexing of the same transcript.
    pub in_block: T,
    /// 1 on a duplexing that absorbs (`k > 0`).
    pub absorbs: T,
    /// `k`, the number of absorbed values.
    pub count: T,
    /// Position of the value absorbed into `state[i]`.
    pub in_position: [T; RATE],
    /// 1 where `state[i]` absorbs a value (`i < k`).
    pub in_present: [T; RATE],
    /// Position of the sample taken from `output[i]`.
    pub out_position: [T; RATE],
    /// How many times `output[i]` is sent: its sample's receivers (0 where it is not
    /// sampled).
    pub out_uses: [T; RATE],
    /// 1 on the block's last row (the next row is the next block's: its transcript number is
    /// one more).
    pub ends_block: T,
    /// 1 on a duplexing's row (the block's first [`TranscriptShape::duplexings`] rows): the rows
    /// that receive a permutation.
    pub scheduled: T,
}

crate::aggregate::air::row_view!(DuplexCols);
crate::aggregate::air::row_view!(DuplexPeriodic);

/// Width of [`DuplexAir`].
pub const WIDTH: usize = core::mem::size_of::<DuplexCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<DuplexPeriodic<u8>>();

/// The AIR checking transcripts of one [`TranscriptShape`].
#[derive(Clone, Debug)]
pub struct DuplexAir {
    shape: TranscriptShape,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(DuplexAir);

/// A transcript's messages: `(transcript, position, value)`.
pub type TranscriptMessage = [F; 3];

impl DuplexAir {
    /// The AIR for transcripts of `shape`.
    pub fn new(shape: TranscriptShape) -> Self {
        let period = shape.block_len();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        for (r, d) in shape.rows.iter().enumerate() {
            let p: &mut DuplexPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.start = F::from_bool(r == 0);
            p.scheduled = F::ONE;
            p.in_block = F::from_bool(r + 1 < shape.rows.len());
            p.absorbs = F::from_bool(!d.absorbed.is_empty());
            p.count = F::from_usize(d.absorbed.len());
            for (i, &pos) in d.absorbed.iter().enumerate() {
                p.in_position[i] = F::from_usize(pos);
                p.in_present[i] = F::ONE;
            }
            for &(i, pos) in &d.samples {
                p.out_position[i] = F::from_usize(pos);
                p.out_uses[i] = F::from_usize(shape.uses[pos]);
            }
        }
        let p: &mut DuplexPeriodic<F> = rows[(period - 1) * NUM_PERIODIC..].borrow_mut();
        p.ends_block = F::ONE;
        Self {
            shape,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        }
    }

    /// The transcript shape.
    pub fn shape(&self) -> &TranscriptShape {
        &self.shape
    }

    /// The trace of the transcripts `observed[t]` (the observed values of transcript `t`, in
    /// order, numbered `t`), one block each then padding blocks up to a power of two and at least
    /// `min_height` rows; the shared permutation table's rows, row for row, each counted 1 on a
    /// duplexing of an active block and 0 elsewhere (`SHARED24_COLS` columns, count last,
    /// what `crate::aggregate::air::perm::shared_table` reads); the observations the active
    /// blocks receive and the samples they send (each once, whatever its uses; none with no
    /// receiver).
    ///
    /// # Panics
    /// If a transcript has another number of observed values than the shape.
    #[allow(clippy::type_complexity)]
    pub fn generate_traces(
        &self,
        observed: &[Vec<F>],
        min_height: usize,
    ) -> (
        RowMajorMatrix<F>,
        RowMajorMatrix<F>,
        Vec<TranscriptMessage>,
        Vec<TranscriptMessage>,
    ) {
        let period = self.shape.block_len();
        let height = (observed.len() * period)
            .max(min_height)
            .max(period)
            .next_power_of_two();
        let mut values = F::zero_vec(height * WIDTH);
        let mut perm_values = F::zero_vec(height * TABLE_WIDTH);
        let filler = PermFiller::shared24();
        let num_observed = self.shape.observed.iter().filter(|&&o| o).count();
        let padding = vec![F::ZERO; num_observed];
        let mut received = Vec::new();
        let mut sent = Vec::new();
        for b in 0..height / period {
            let (obs, active) = match observed.get(b) {
                Some(o) => (o, true),
                None => (&padding, false),
            };
            assert_eq!(obs.len(), num_observed, "observed values");
            // Value of each position: observed ones in order.
            let mut at_position = vec![F::ZERO; self.shape.len];
            let mut next_obs = obs.iter();
            for (pos, &is_obs) in self.shape.observed.iter().enumerate() {
                if is_obs {
                    at_position[pos] = *next_obs.next().expect("counted");
                }
            }
            let transcript = F::from_usize(self.first as usize + b);
            let mut state = [F::ZERO; WIDTH24];
            for r in 0..period {
                let at = (b * period + r) * WIDTH;
                let row: &mut DuplexCols<F> = values[at..at + WIDTH].borrow_mut();
                row.transcript = transcript;
                row.active = F::from_bool(active);
                let mut input = [F::ZERO; WIDTH24];
                if let Some(d) = self.shape.rows.get(r) {
                    row.prev = state;
                    input = state;
                    let k = d.absorbed.len();
                    if k > 0 {
                        for (i, &pos) in d.absorbed.iter().enumerate() {
                            row.absorbed[i] = at_position[pos];
                            row.in_position[i] = F::from_usize(pos);
                            row.in_present[i] = F::ONE;
                            input[i] = at_position[pos];
                            if active {
                                received.push([transcript, F::from_usize(pos), at_position[pos]]);
                            }
                        }
                        for x in &mut input[k..RATE] {
                            *x = F::ZERO;
                        }
                        input[RATE] += F::from_usize(k);
                    }
                }
                let at = (b * period + r) * TABLE_WIDTH;
                let out = filler.fill(&mut perm_values[at..at + PERM24_COLS], input);
                let scheduled = r < self.shape.rows.len();
                row.scheduled = F::from_bool(scheduled);
                perm_values[at + PERM24_COLS] = F::from_bool(active && scheduled);
                row.input = input;
                row.output = out;
                if let Some(d) = self.shape.rows.get(r) {
                    state = out;
                    for &(i, pos) in &d.samples {
                        row.out_position[i] = F::from_usize(pos);
                        row.out_uses[i] = F::from_usize(self.shape.uses[pos]);
                        if active && self.shape.uses[pos] > 0 {
                            sent.push([transcript, F::from_usize(pos), out[i]]);
                        }
                    }
                }
            }
        }
        (
            RowMajorMatrix::new(values, WIDTH),
            RowMajorMatrix::new(perm_values, TABLE_WIDTH),
            received,
            sent,
        )
    }
}

verifier_base_air!(DuplexAir, |_: &DuplexAir| WIDTH);

impl<AB> Air<AB> for DuplexAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &DuplexCols<AB::Var> = main.current_slice().borrow();
        let next: &DuplexCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &DuplexPeriodic<AB::Expr> = periodic.as_slice().borrow();
        let one = AB::Expr::ONE;

        builder.assert_bool(row.active);
        for i in 0..RATE {
            builder.assert_eq(row.in_position[i], p.in_position[i].clone());
            builder.assert_eq(row.in_present[i], p.in_present[i].clone());
            builder.assert_eq(row.out_position[i], p.out_position[i].clone());
            builder.assert_eq(row.out_uses[i], p.out_uses[i].clone());
        }
        builder.assert_eq(row.scheduled, p.scheduled.clone());

        // The permutation input.
        for i in 0..WIDTH24 {
            builder.assert_zero(p.start.clone() * row.prev[i]);
        }
        let keeps_rate = one.clone() - p.absorbs.clone();
        for i in 0..RATE {
            builder.assert_zero((one.clone() - p.in_present[i].clone()) * row.absorbed[i]);
            builder.assert_eq(
                row.input[i],
                row.absorbed[i] + keeps_rate.clone() * row.prev[i],
            );
        }
        builder.assert_eq(row.input[RATE], row.prev[RATE] + p.count.clone());
        for i in RATE + 1..WIDTH24 {
            builder.assert_eq(row.input[i], row.prev[i]);
        }

        let within = p.in_block.clone();
        let mut t = builder.when_transition();
        for i in 0..WIDTH24 {
            t.assert_zero(within.clone() * (next.prev[i] - row.output[i]));
        }
        t.assert_zero(super::next_block_number::<AB>(
            p.ends_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(within * (next.active - row.active));

        super::receive_permutation_counted(
            builder,
            &row.input,
            &row.output,
            row.active * row.scheduled,
        );
        for i in 0..RATE {
            PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS).receive(
                builder,
                [row.transcript, row.in_position[i], row.absorbed[i]],
                Count::bounded(row.active * row.in_present[i], 1),
            );
            PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS).send(
                builder,
                [row.transcript, row.out_position[i], row.output[i]],
                Count::bounded(row.active * row.out_uses[i], MAX_SAMPLE_USES as u32),
            );
        }
        super::first_block_number(builder, self.first, row.transcript);
    }
}

#[cfg(test)]
mod tests {
    //! Transcripts replayed against Plonky3's own `DuplexChallenger`, and each forgery caught by
    //! the constraint or bus that should catch it, then by the FRI verifier.

    use std::collections::BTreeSet;

    use p3_challenger::{CanObserve, CanSample};

    use super::*;
    use crate::aggregate::air::perm::Perm24TableAir;
    use crate::aggregate::air::PERM24_FULL_BUS;
    use crate::aggregate::fri::config::Poseidon1Challenger;
    use crate::aggregate::recursion::harness::{
        has_constraint, only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };

    /// A domain separator's worth of observations, commitments, challenges of several sizes,
    /// observations right after samples, a full-rate observation, ending with a sample.
    /// A transcript of 9 duplexings: a block of 16 rows, 7 of them idle.
    const OPS: [Op; 12] = [
        Op::Observe(35),
        Op::Observe(9),
        Op::Sample(5),
        Op::Observe(3),
        Op::Sample(1),
        Op::Sample(20),
        Op::Observe(15),
        Op::Observe(2),
        Op::Sample(5),
        Op::Sample(16),
        Op::Observe(1),
        Op::Sample(1),
    ];

    fn num_observed(ops: &[Op]) -> usize {
        ops.iter()
            .map(|op| match op {
                Op::Observe(n) => *n,
                Op::Sample(_) => 0,
            })
            .sum()
    }

    fn observed_values(seed: u32) -> Vec<F> {
        (0..num_observed(&OPS) as u32)
            .map(|i| F::from_u32((i + 1).wrapping_mul(0x2545_f491).wrapping_add(seed) >> 1))
            .collect()
    }

    /// What Plonky3's challenger samples for `ops` on these observed values, and every
    /// position's value: the reference this AIR must agree with.
    fn plonky3_run(ops: &[Op], observed: &[F]) -> Vec<(bool, F)> {
        let mut c = Poseidon1Challenger::new(crate::xmss::poseidon::poseidon1_24().clone());
        let mut obs = observed.iter();
        let mut out = Vec::new();
        for op in ops {
            match *op {
                Op::Observe(n) => {
                    for _ in 0..n {
                        let v = *obs.next().unwrap();
                        c.observe(v);
                        out.push((true, v));
                    }
                }
                Op::Sample(n) => {
                    for _ in 0..n {
                        let v: F = c.sample();
                        out.push((false, v));
                    }
                }
            }
        }
        out
    }

    /// The messages the providers send and the users receive, from Plonky3's run.
    fn expected(transcripts: &[Vec<F>]) -> (Vec<Vec<F>>, Vec<Vec<F>>) {
        let mut observed = Vec::new();
        let mut sampled = Vec::new();
        for (t, obs) in transcripts.iter().enumerate() {
            for (pos, (is_obs, v)) in plonky3_run(&OPS, obs).into_iter().enumerate() {
                let m = vec![F::from_usize(t), F::from_usize(pos), v];
                if is_obs {
                    observed.push(m);
                } else {
                    sampled.push(m);
                }
            }
        }
        (observed, sampled)
    }

    fn transcripts() -> Vec<Vec<F>> {
        vec![observed_values(1), observed_values(2)]
    }

    fn batch(
        provided: &[Vec<F>],
        run: &[Vec<F>],
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> Batch {
        let air = DuplexAir::new(TranscriptShape::new(&OPS));
        let (mut trace, mut perm, _, _) = air.generate_traces(run, MIN_HEIGHT);
        edit(&mut trace, &mut perm);
        let (observed, sampled) = expected(provided);
        let providers = KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, true, &observed);
        let users = KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, false, &sampled);
        let (pt, ut) = (providers.trace(), users.trace());
        Batch {
            airs: vec![
                TestAir::Duplex(air),
                TestAir::Perm(Perm24TableAir::shared()),
                TestAir::Known(providers),
                TestAir::Known(users),
            ],
            traces: vec![trace, perm, pt, ut],
            buses: vec![
                PERM24_FULL_BUS,
                TRANSCRIPT_OBSERVE_BUS,
                TRANSCRIPT_SAMPLE_BUS,
            ],
        }
    }

    const OBSERVE: Failed = Failed::Bus(TRANSCRIPT_OBSERVE_BUS);
    const SAMPLE: Failed = Failed::Bus(TRANSCRIPT_SAMPLE_BUS);
    const PERMS: Failed = Failed::Bus(PERM24_FULL_BUS);

    #[test]
    fn the_shape_follows_the_challengers_buffers() {
        let s = TranscriptShape::new(&[
            Op::Observe(3),
            Op::Sample(2),
            Op::Sample(14),
            Op::Observe(15),
            Op::Observe(1),
            Op::Sample(1),
            Op::Observe(2),
        ]);
        let d =
            |absorbed: Vec<usize>, samples: Vec<(usize, usize)>| Duplexing { absorbed, samples };
        // Samples pop the output from its end; a sample with no output left squeezes; 15
        // observations duplex at once; an observation after the last duplexing reaches none.
        let mut first = vec![(14, 3), (13, 4)];
        first.extend((0..13).map(|k| (12 - k, 5 + k)));
        assert_eq!(
            s.duplexings(),
            [
                d(vec![0, 1, 2], first),
                d(vec![], vec![(14, 18)]),
                d((19..34).collect(), vec![]),
                d(vec![34], vec![(14, 35)]),
            ]
        );
        assert_eq!(s.len(), 38);
        assert_eq!(s.block_len(), 4);
    }

    #[test]
    fn transcripts_match_plonky3s_challenger_and_prove() {
        let air = DuplexAir::new(TranscriptShape::new(&OPS));
        let t = transcripts();
        let (_, _, received, sent) = air.generate_traces(&t, MIN_HEIGHT);
        let (observed, sampled) = expected(&t);
        assert_eq!(
            received.iter().map(|m| m.to_vec()).collect::<Vec<_>>(),
            observed
        );
        assert_eq!(sent.iter().map(|m| m.to_vec()).collect::<Vec<_>>(), sampled);
        let b = batch(&t, &t, |_, _| {});
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }

    #[test]
    fn another_observed_value_gives_other_samples() {
        // Run honestly on a value the provider did not send: the observation is not received
        // and the samples are not the ones asked for.
        let mut run = transcripts();
        run[1][40] += F::ONE;
        let f = batch(&transcripts(), &run, |_, _| {}).failed();
        assert_eq!(f, BTreeSet::from([OBSERVE, SAMPLE]));
        // The transcripts' numbers swapped.
        let run: Vec<Vec<F>> = transcripts().into_iter().rev().collect();
        let f = batch(&transcripts(), &run, |_, _| {}).failed();
        assert_eq!(f, BTreeSet::from([OBSERVE, SAMPLE]));
    }

    fn row_of(m: &mut RowMajorMatrix<F>, r: usize) -> &mut DuplexCols<F> {
        m.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut()
    }

    /// Re-proves row `r`'s permutation after its input changed and carries the output to the
    /// next row's `prev`, so that the permutation bus and the carry still hold.
    fn repermute(m: &mut RowMajorMatrix<F>, p: &mut RowMajorMatrix<F>, r: usize) {
        let input = row_of(m, r).input;
        let out = PermFiller::shared24().fill(
            &mut p.values[r * TABLE_WIDTH..r * TABLE_WIDTH + PERM24_COLS],
            input,
        );
        row_of(m, r).output = out;
        row_of(m, r + 1).prev = out;
    }

    fn edited(
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> BTreeSet<Failed> {
        let t = transcripts();
        batch(&t, &t, edit).failed()
    }

    #[test]
    fn a_sample_is_sent_once_per_receiver() {
        // Position 44 (the first sample) read by three rows, position 48 by none.
        let mut shape = TranscriptShape::new(&OPS);
        let (many, none) = (44, 48);
        shape.set_uses(many, 3);
        shape.set_uses(none, 0);
        let run = transcripts();
        let air = DuplexAir::new(shape);
        let (trace, perm, _, sent) = air.generate_traces(&run, MIN_HEIGHT);
        assert!(sent.iter().all(|m| m[1] != F::from_usize(none)));
        let (observed, sampled) = expected(&run);
        let users_as_scheduled: Vec<Vec<F>> = sampled
            .iter()
            .flat_map(|m| {
                let n = if m[1] == F::from_usize(many) {
                    3
                } else if m[1] == F::from_usize(none) {
                    0
                } else {
                    1
                };
                std::iter::repeat_n(m.clone(), n)
            })
            .collect();
        let with_users = |users: &[Vec<F>], trace: RowMajorMatrix<F>| {
            let providers = KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, true, &observed);
            let users = KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, false, users);
            let (pt, ut) = (providers.trace(), users.trace());
            Batch {
                airs: vec![
                    TestAir::Duplex(air.clone()),
                    TestAir::Perm(Perm24TableAir::shared()),
                    TestAir::Known(providers),
                    TestAir::Known(users),
                ],
                traces: vec![trace, perm.clone(), pt, ut],
                buses: vec![
                    PERM24_FULL_BUS,
                    TRANSCRIPT_OBSERVE_BUS,
                    TRANSCRIPT_SAMPLE_BUS,
                ],
            }
        };
        let b = with_users(&users_as_scheduled, trace.clone());
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
        // A fourth reader of position 44, or a reader of position 48, finds no message.
        for extra in [many, none] {
            let mut users = users_as_scheduled.clone();
            let m = sampled
                .iter()
                .find(|m| m[1] == F::from_usize(extra))
                .unwrap();
            users.push(m.clone());
            let b = with_users(&users, trace.clone());
            assert_eq!(b.failed(), BTreeSet::from([SAMPLE]));
            assert!(b.prove_and_verify().is_err());
        }
        // A row sending a sample more times than scheduled breaks its mirror.
        let mut forged = trace.clone();
        let r = (0..forged.values.len() / WIDTH)
            .find(|&r| {
                let row: &DuplexCols<F> = forged.values[r * WIDTH..(r + 1) * WIDTH].borrow();
                row.out_uses.contains(&F::from_u8(3))
            })
            .expect("the row of position 44");
        let row: &mut DuplexCols<F> = forged.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
        let i = row
            .out_uses
            .iter()
            .position(|&u| u == F::from_u8(3))
            .unwrap();
        row.out_uses[i] = F::from_u8(4);
        let mut users = users_as_scheduled.clone();
        users.push(
            sampled
                .iter()
                .find(|m| m[1] == F::from_usize(many))
                .unwrap()
                .clone(),
        );
        let b = with_users(&users, forged);
        assert!(only_constraints(&b.failed()), "{:?}", b.failed());
        assert!(b.prove_and_verify().is_err());
    }

    #[test]
    fn each_input_rule_is_a_constraint() {
        let shape = TranscriptShape::new(&OPS);
        let rows = shape.duplexings();
        let partial = rows
            .iter()
            .position(|d| (1..RATE).contains(&d.absorbed.len()))
            .unwrap();
        let squeeze = rows.iter().position(|d| d.absorbed.is_empty()).unwrap();
        // Without the length tag.
        let f = edited(|m, p| {
            let k = rows[partial].absorbed.len();
            row_of(m, partial).input[RATE] -= F::from_usize(k);
            repermute(m, p, partial);
        });
        assert!(has_constraint(&f), "{f:?}");
        // An absorbing duplexing that keeps a rate element instead of zeroing it.
        let f = edited(|m, p| {
            let k = rows[partial].absorbed.len();
            let kept = row_of(m, partial).prev[k];
            row_of(m, partial).input[k] = kept + F::ONE;
            repermute(m, p, partial);
        });
        assert!(has_constraint(&f), "{f:?}");
        // A squeeze that changes the rate.
        let f = edited(|m, p| {
            row_of(m, squeeze).input[3] += F::ONE;
            repermute(m, p, squeeze);
        });
        assert!(has_constraint(&f), "{f:?}");
        // A capacity element not carried.
        let f = edited(|m, p| {
            row_of(m, 2).input[20] += F::ONE;
            repermute(m, p, 2);
        });
        assert!(has_constraint(&f), "{f:?}");
        // A nonzero initial state.
        let f = edited(|m, p| {
            row_of(m, 0).prev[20] = F::ONE;
            row_of(m, 0).input[20] = F::ONE;
            repermute(m, p, 0);
        });
        assert!(has_constraint(&f), "{f:?}");
        // `prev` not the previous duplexing's output.
        let f = edited(|m, _| row_of(m, 3).prev[0] += F::ONE);
        assert!(has_constraint(&f), "{f:?}");
        // A value in a rate position that absorbs nothing.
        let f = edited(|m, _| {
            let k = rows[partial].absorbed.len();
            row_of(m, partial).absorbed[k] = F::ONE;
        });
        assert!(has_constraint(&f), "{f:?}");
        // The transcript's number changing down the block.
        let f = edited(|m, _| row_of(m, 2).transcript += F::ONE);
        assert!(has_constraint(&f), "{f:?}");
        // A sample sent at a position other than the schedule's.
        let (r, (i, _)) = sampled_row(&shape);
        let f = edited(|m, _| row_of(m, r).out_position[i] += F::ONE);
        assert!(has_constraint(&f) && f.contains(&SAMPLE), "{f:?}");
        // An output the schedule does not sample changes nothing sent.
        let f = edited(|m, _| row_of(m, 0).out_position[3] += F::ONE);
        assert!(only_constraints(&f), "{f:?}");
    }

    /// A duplexing with a sample, and that sample's `(output index, position)`.
    fn sampled_row(shape: &TranscriptShape) -> (usize, (usize, usize)) {
        let r = shape
            .duplexings()
            .iter()
            .position(|d| !d.samples.is_empty())
            .unwrap();
        (r, shape.duplexings()[r].samples[0])
    }

    #[test]
    fn a_sample_the_permutation_did_not_produce_fails_the_permutation_bus() {
        let (r, (i, _)) = sampled_row(&TranscriptShape::new(&OPS));
        let f = edited(|m, _| {
            row_of(m, r).output[i] += F::ONE;
            row_of(m, r + 1).prev[i] += F::ONE;
        });
        assert_eq!(f, BTreeSet::from([PERMS, SAMPLE]));
        // An output nobody samples: only the permutation bus.
        let f = edited(|m, _| {
            row_of(m, 0).output[3] += F::ONE;
            row_of(m, 1).prev[3] += F::ONE;
        });
        assert_eq!(f, BTreeSet::from([PERMS]));
    }

    /// Only the duplexings of active blocks take rows of the shared table: the rows past a
    /// transcript's last duplexing and the padding blocks are counted 0, their outputs reach
    /// nothing, and the schedule's mark of a duplexing is held by constraint.
    #[test]
    fn only_the_duplexings_of_active_blocks_take_table_rows() {
        let air = DuplexAir::new(TranscriptShape::new(&OPS));
        let (n, period) = (air.shape().duplexings().len(), air.shape().block_len());
        assert!(n < period, "the block has idle rows");
        let t = transcripts();
        let (trace, perm, _, _) = air.generate_traces(&t, 4 * period);
        assert!(
            trace.values.len() / WIDTH / period > t.len(),
            "padding blocks"
        );
        let counted: Vec<usize> = (0..perm.values.len() / TABLE_WIDTH)
            .filter(|&r| perm.values[r * TABLE_WIDTH + PERM24_COLS] == F::ONE)
            .collect();
        let expected: Vec<usize> = (0..t.len())
            .flat_map(|b| b * period..b * period + n)
            .collect();
        assert_eq!(counted, expected);
        // An idle row's output and a padding block's last duplexing's (which no row carries)
        // are free.
        let idle = n;
        let padding = t.len() * period + n - 1;
        let f = edited(|m, _| {
            row_of(m, idle).output = [F::from_u32(9); 24];
            row_of(m, padding).output = [F::from_u32(9); 24];
        });
        assert_eq!(f, BTreeSet::new());
        // The mark moved: a duplexing unmarked, or an idle row marked (which then asks the
        // table for a permutation it does not count).
        let f = edited(|m, _| row_of(m, n - 1).scheduled = F::ZERO);
        assert!(
            f.iter().any(|x| matches!(x, Failed::Constraint(_))),
            "{f:?}"
        );
        let f = edited(|m, _| {
            row_of(m, idle).scheduled = F::ONE;
            row_of(m, idle).output = [F::from_u32(9); 24];
        });
        assert!(f.contains(&PERMS), "{f:?}");
        assert!(
            f.iter().any(|x| matches!(x, Failed::Constraint(_))),
            "{f:?}"
        );
    }

    #[test]
    fn forged_traces_do_not_verify() {
        let mut run = transcripts();
        run[0][3] += F::ONE;
        let b = batch(&transcripts(), &run, |_, _| {});
        assert_eq!(
            b.prove_and_verify().unwrap_err(),
            "Lookup(TerminalSumNonZero)"
        );
        let t = transcripts();
        let b = batch(&t, &t, |m, _| row_of(m, 3).prev[0] += F::ONE);
        assert_eq!(
            b.prove_and_verify().unwrap_err(),
            "Verification(OodEvaluationMismatch { index: Some(0) })"
        );
    }
    #[test]
    fn a_real_child_transcript_is_reproduced_and_proves() {
        use crate::aggregate::recursion::harness::real_child;
        use crate::aggregate::recursion::{PermUse, TranscriptEvent};

        let child = real_child(*b"duplex AIR on a real transcript!", 77);
        let (ops, observed) = child.transcript_ops();
        let air = DuplexAir::new(TranscriptShape::new(&ops));
        let n = air.shape().duplexings().len();
        let (trace, perm, received, sent) =
            air.generate_traces(std::slice::from_ref(&observed), MIN_HEIGHT);

        // Permutation for permutation, the transcript the verifier ran.
        let recorded: Vec<[F; 24]> = child
            .permutations()
            .iter()
            .filter(|(u, _)| *u == PermUse::Transcript)
            .map(|(_, input)| *input)
            .collect();
        let ours: Vec<[F; 24]> = (0..n)
            .map(|r| {
                let row: &DuplexCols<F> = trace.values[r * WIDTH..(r + 1) * WIDTH].borrow();
                row.input
            })
            .collect();
        assert_eq!(ours, recorded);
        // Sample for sample, and every observation received.
        let samples: Vec<F> = child
            .transcript()
            .iter()
            .filter_map(|e| match e {
                TranscriptEvent::Sample(v) => Some(*v),
                TranscriptEvent::Observe(_) => None,
            })
            .collect();
        let mut by_position = sent.clone();
        by_position.sort_by_key(|m| p3_field::PrimeField32::as_canonical_u32(&m[1]));
        assert_eq!(
            by_position.iter().map(|m| m[2]).collect::<Vec<_>>(),
            samples
        );
        assert_eq!(received.len(), observed.len());

        // Proved and verified with verifier-known observations and samples.
        let to_vecs = |ms: &[TranscriptMessage]| ms.iter().map(|m| m.to_vec()).collect::<Vec<_>>();
        let providers = KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, true, &to_vecs(&received));
        let users = KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, false, &to_vecs(&sent));
        let (pt, ut) = (providers.trace(), users.trace());
        let b = Batch {
            airs: vec![
                TestAir::Duplex(air),
                TestAir::Perm(Perm24TableAir::shared()),
                TestAir::Known(providers),
                TestAir::Known(users),
            ],
            traces: vec![trace, perm, pt, ut],
            buses: vec![
                PERM24_FULL_BUS,
                TRANSCRIPT_OBSERVE_BUS,
                TRANSCRIPT_SAMPLE_BUS,
            ],
        };
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }
}
