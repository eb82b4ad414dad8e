//! `SampledBitsAir`: the transcript's bit samples (grinding checks and FRI query indices),
//! decomposed into the bits of the canonical value, as Plonky3 0.8's `DuplexChallenger` reads them.
//!
//! `sample_bits(b)` samples one base-field element `v` and returns the low `b` bits of its
//! canonical value (`b <= 30`, so `2^b < p`). A grinding check with witness `w` observes `w` and
//! requires `sample_bits(b) == 0`. A FRI query draws `sample_bits(k)` with `k` the log of the
//! largest LDE height; the verifier then uses windows of that index: `index >> s` to open a
//! commitment of a smaller height or a folded codeword, `(index >> s) % arity` for the position in
//! a folding row, and points of the evaluation domain `g^reverse_bits(index >> s, h)`.
//!
//! **Rows.** Each row holds one sampled element `value` and its 31 bits `b_0..b_30`, with:
//! - every bit boolean and `value = sum b_i 2^i` (as field elements);
//! - the decomposition canonical, `sum b_i 2^i < p = 2^31 - 2^24 + 1`: when `b_24..b_30` are all
//!   ones (the product `top[5]`, built two bits at a time) the low 24 bits are zero. Without it a
//!   value below `2^31 - p` would have a second decomposition, `value + p`, with other low bits;
//! - `index = sum_{lo <= i < hi} b_i 2^(i - lo)`, the window `[lo, hi)` of the row (periodic
//!   weights, zero outside the window);
//! - `point = x0 * prod_{lo <= i < hi} c_i^(b_i)` with `c_i = g^(2^(hi - 1 - i))`, which is
//!   `x0 * g^reverse_bits_len(index, hi - lo)` (Plonky3's `reverse_bits_len`), built one bit at a
//!   time in `acc` (periodic `x0` and factors `c_i`, `c_i = 1` outside the window);
//! - on a grinding row, `index = 0` (its window is `[0, b)`, and `index < 2^b < p`, so the field
//!   equation means every bit of the window is zero).
//! - on a uniform draw's rows (p3-challenger's `sample_uniform_bits`, which WHIR's queries use),
//!   `top[5] = 0`: the value is not `p - 1`, the one value of `sample_uniform_bits(b)`'s
//!   rejection region for `b <= 24` (`SAMPLING_BITS_M[b] = p - 1`), where p3 draws again; a
//!   schedule fixed by the shape takes no second draw, so the AIR refuses it. p3-whir's verifier
//!   draws again instead, so a proof whose transcript meets that value (probability `1/p` per
//!   index, about `2^-21.7` for a compact parent's 632) verifies natively but cannot be a child:
//!   `whir_check::WhirReading` refuses it with an error first. A window's point is
//!   also `g^index` in natural order ([`Point::Natural`], WHIR's domain) where a FRI child's is
//!   bit-reversed ([`Point::Reversed`]).
//!
//! **One block per transcript**, in a schedule fixed by the verifier ([`BitsShape`], from
//! [`Draw`]s): which transcript positions are bit samples, which are grinding checks, and for each
//! query the windows the verifier uses. A query with several windows takes several rows: the
//! first receives the sample `(transcript, position, value)` on `"transcript-sample"`, and each
//! later row carries `value` from the one before (a transition constraint under the periodic
//! `continues`). Each query row sends `(transcript, position, tag, index, point)` on
//! `"query-index"`, `uses` times (`tag` names the window among the query's, `uses` is the number
//! of verifier AIR rows that receive it; both are the verifier's, in periodic columns). A window
//! marked `to_ood` also sends `(transcript, position, point, 0, 0, 0, 0)` once on `"ood-input"`:
//! the domain point `Input::QueryPoint` of a WHIR child's checks, which `OodAir` receives keyed
//! by the sample's position (the interaction is declared only for a shape with such a window).
//! Only active blocks receive and send; `transcript` and `active` are constant down a block.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::{PrimeCharacteristicRing, PrimeField32};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::duplex::TRANSCRIPT_SAMPLE_BUS;
use super::ood_air::OOD_INPUT_BUS;
use crate::xmss::F;

/// Bus of query windows `(transcript, position, tag, index, point)`, sent here.
pub const QUERY_INDEX_BUS: &str = "query-index";

/// Bits of a KoalaBear element.
const BITS: usize = 31;
/// The bits whose product marks a value of `2^31 - 2^24` or more (`p - 1 = 0x7f00_0000`).
const TOP_FROM: usize = 24;
/// Most bits `sample_bits` draws (`2^bits < p`).
pub const MAX_SAMPLE_BITS: usize = 30;
/// Most receivers of one window (the bound the bus count is declared with).
pub const MAX_USES: usize = 16;
/// Most bits of a uniform draw from one element (KoalaBear's `MAX_SINGLE_SAMPLE_BITS`).
pub const MAX_UNIFORM_BITS: usize = 24;

/// One window of a query index that the verifier uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Lowest bit of the window.
    pub lo: usize,
    /// One past the highest bit (`lo < hi <= k`, the query's bit count).
    pub hi: usize,
    /// The window's number among the query's windows, sent with it.
    pub tag: usize,
    /// How many times it is sent (`0..=`[`MAX_USES`]).
    pub uses: usize,
    /// The domain point the window names, sent with it.
    pub point: Point,
    /// Whether the point is also sent, once, to `OodAir` on `"ood-input"` as
    /// `(transcript, position, point, 0, 0, 0, 0)`: the input `Input::QueryPoint` of a WHIR
    /// child's checks (`whir_check`), keyed by the sample's position.
    pub to_ood: bool,
}

/// The domain point of a window's `index` (of `h = hi - lo` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// 1 (no point).
    One,
    /// `x0 * g^reverse_bits_len(index, h)`: a point of a FRI child's LDE or folded codeword,
    /// whose evaluations Plonky3 commits in bit-reversed order.
    Reversed {
        /// The coset's shift.
        x0: F,
        /// A generator of the subgroup of order `2^h`.
        g: F,
    },
    /// `g^index`: a point of a WHIR child's domain, which p3-whir indexes in natural order.
    Natural {
        /// A generator of the subgroup of order `2^h`.
        g: F,
    },
}

impl Point {
    /// `(x0, factor_i)` for the window's bits `i = lo..hi`: the point is
    /// `x0 * prod factor_i^(b_i)`.
    fn factors(&self, lo: usize, hi: usize) -> (F, Vec<F>) {
        match *self {
            Point::One => (F::ONE, vec![F::ONE; hi - lo]),
            Point::Reversed { x0, g } => {
                (x0, (lo..hi).map(|i| g.exp_power_of_2(hi - 1 - i)).collect())
            }
            Point::Natural { g } => (F::ONE, (lo..hi).map(|i| g.exp_power_of_2(i - lo)).collect()),
        }
    }

    /// The point of `index` (`h` bits), computed directly.
    pub fn of(&self, index: usize, h: usize) -> F {
        match *self {
            Point::One => F::ONE,
            Point::Reversed { x0, g } => x0 * g.exp_u64(p3_util::reverse_bits_len(index, h) as u64),
            Point::Natural { g } => g.exp_u64(index as u64),
        }
    }
}

/// One bit sample of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Draw {
    /// A grinding check: `sample_bits(bits) == 0`.
    Grinding {
        /// The difficulty, `1..=`[`MAX_SAMPLE_BITS`].
        bits: usize,
    },
    /// A query index `sample_bits(bits)` (or, `uniform`, `sample_uniform_bits(bits)`) and the
    /// windows the verifier uses.
    Query {
        /// The index's bit count, `1..=`[`MAX_SAMPLE_BITS`] (`1..=`[`MAX_UNIFORM_BITS`] when
        /// `uniform`).
        bits: usize,
        /// Drawn as p3-challenger 0.8's `sample_uniform_bits` draws it (WHIR's query indices):
        /// the low `bits` bits of one element `v`, where `v` below `SAMPLING_BITS_M[bits]`,
        /// which is `p - 1` for `bits <= 24`, is required (a larger `v` is redrawn, a draw a
        /// schedule fixed by the shape cannot take, so the AIR refuses it: `v != p - 1`).
        uniform: bool,
        /// Its windows, one row each, at least one.
        windows: Vec<Window>,
    },
}

/// The periodic columns (period [`BitsShape::block_len`]): the verifier's schedule.
#[repr(C)]
pub struct BitsPeriodic<T> {
    /// The next row is in the same block.
    pub in_block: T,
    /// The next row is a later window of the same sample.
    pub continues: T,
    /// 1 on the first row of a sample: it receives the sample.
    pub receives: T,
    /// The sample's position in the transcript.
    pub position: T,
    /// The window's tag.
    pub tag: T,
    /// How many times the row sends its window.
    pub uses: T,
    /// 1 on a grinding row: `index = 0`.
    pub zero: T,
    /// 1 on a uniform draw's rows: the value is not `p - 1`.
    pub uniform: T,
    /// 1 on a row whose point goes to `OodAir`.
    pub to_ood: T,
    /// `x0`, the point's constant factor.
    pub x0: T,
    /// `2^(i - lo)` in the window, 0 outside.
    pub weight: [T; BITS],
    /// `g^(2^(hi - 1 - i))` in the window, 1 outside.
    pub factor: [T; BITS],
}

/// The columns of one row (78), viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct BitsCols<T> {
    /// The transcript's number on the buses (constant down the block).
    pub transcript: T,
    /// 1 in a block that sends and receives, 0 in a padding block (constant down the block).
    pub active: T,
    /// Mirror of the periodic position.
    pub position: T,
    /// Mirror of the periodic `receives`.
    pub receives: T,
    /// Mirror of the periodic tag.
    pub tag: T,
    /// Mirror of the periodic `uses`.
    pub uses: T,
    /// The sampled element.
    pub value: T,
    /// Its bits, least significant first.
    pub bits: [T; BITS],
    /// `top[j] = b_24 * ... * b_(25 + j)`: `top[5]` is 1 exactly when bits 24..31 are all ones.
    pub top: [T; BITS - TOP_FROM - 1],
    /// The window's value.
    pub index: T,
    /// `acc[i] = x0 * prod_{j <= i} factor_j^(b_j)`; `acc[30]` is the point.
    pub acc: [T; BITS],
    /// Mirror of the periodic `to_ood`.
    pub to_ood: T,
}

crate::aggregate::air::row_view!(BitsCols);
crate::aggregate::air::row_view!(BitsPeriodic);

/// Width of [`SampledBitsAir`].
pub const WIDTH: usize = core::mem::size_of::<BitsCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<BitsPeriodic<u8>>();

/// The bit samples of one transcript, in transcript order: `(position, draw)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitsShape {
    draws: Vec<(usize, Draw)>,
}

impl BitsShape {
    /// The shape of these draws.
    ///
    /// # Panics
    /// If positions do not increase, a bit count is outside `1..=`[`MAX_SAMPLE_BITS`], a query
    /// has no window, or a window is empty, reaches past the query's bits or is used more than
    /// [`MAX_USES`] times: a verifier's schedule, never a proof's bytes, so a bug.
    pub fn new(draws: Vec<(usize, Draw)>) -> Self {
        for w in draws.windows(2) {
            assert!(w[0].0 < w[1].0, "positions increase");
        }
        for (_, d) in &draws {
            match d {
                Draw::Grinding { bits } => {
                    assert!((1..=MAX_SAMPLE_BITS).contains(bits), "grinding bits");
                }
                Draw::Query {
                    bits,
                    uniform,
                    windows,
                } => {
                    assert!((1..=MAX_SAMPLE_BITS).contains(bits), "query bits");
                    assert!(!uniform || *bits <= MAX_UNIFORM_BITS, "uniform bits");
                    assert!(!windows.is_empty(), "a query has a window");
                    for w in windows {
                        assert!(w.lo < w.hi && w.hi <= *bits, "window inside the query");
                        assert!(w.uses <= MAX_USES, "uses");
                    }
                }
            }
        }
        Self { draws }
    }

    /// The draws, in transcript order.
    pub fn draws(&self) -> &[(usize, Draw)] {
        &self.draws
    }

    /// Rows the draws take: one per grinding check, one per query window.
    pub fn rows(&self) -> usize {
        self.draws
            .iter()
            .map(|(_, d)| match d {
                Draw::Grinding { .. } => 1,
                Draw::Query { windows, .. } => windows.len(),
            })
            .sum()
    }

    /// Rows of one transcript's block: [`Self::rows`] rounded up to a power of two (at least 2).
    pub fn block_len(&self) -> usize {
        self.rows().max(2).next_power_of_two()
    }

    /// The schedule, one periodic row per block row.
    fn periodic_rows(&self) -> Vec<F> {
        let period = self.block_len();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        for r in 0..period {
            let p: &mut BitsPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.factor = [F::ONE; BITS];
            p.in_block = F::from_bool(r + 1 < period);
        }
        let mut r = 0;
        for (position, d) in &self.draws {
            let (bits, uniform, windows): (usize, bool, &[Window]) = match d {
                Draw::Grinding { bits } => (*bits, false, &[]),
                Draw::Query {
                    uniform, windows, ..
                } => (0, *uniform, windows),
            };
            let n = windows.len().max(1);
            for j in 0..n {
                let p: &mut BitsPeriodic<F> =
                    rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
                p.position = F::from_usize(*position);
                p.receives = F::from_bool(j == 0);
                p.continues = F::from_bool(j + 1 < n);
                p.uniform = F::from_bool(uniform);
                p.x0 = F::ONE;
                match windows.get(j) {
                    None => {
                        p.zero = F::ONE;
                        for i in 0..bits {
                            p.weight[i] = F::from_u32(1 << i);
                        }
                    }
                    Some(w) => {
                        p.tag = F::from_usize(w.tag);
                        p.uses = F::from_usize(w.uses);
                        p.to_ood = F::from_bool(w.to_ood);
                        let (x0, factors) = w.point.factors(w.lo, w.hi);
                        p.x0 = x0;
                        for (i, f) in (w.lo..w.hi).zip(factors) {
                            p.weight[i] = F::from_u32(1 << (i - w.lo));
                            p.factor[i] = f;
                        }
                    }
                }
                r += 1;
            }
        }
        rows
    }
}

/// The AIR checking the bit samples of transcripts of one [`BitsShape`].
#[derive(Clone, Debug)]
pub struct SampledBitsAir {
    shape: BitsShape,
    /// Whether a window sends its point to `OodAir` (the interaction is declared only then).
    to_ood: bool,
    /// Whether a draw is uniform (its constraint is declared only then).
    uniform: bool,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(SampledBitsAir);

/// A received sample `(transcript, position, value)`.
pub type SampleMessage = [F; 3];
/// A sent window `(transcript, position, tag, index, point)`.
pub type IndexMessage = [F; 5];

/// The bits of `raw` (least significant first) as field elements.
pub fn bits_of(raw: u32) -> [F; BITS] {
    core::array::from_fn(|i| F::from_bool((raw >> i) & 1 == 1))
}

impl SampledBitsAir {
    /// The AIR for transcripts of `shape`.
    pub fn new(shape: BitsShape) -> Self {
        let rows = shape.periodic_rows();
        let to_ood = shape.draws.iter().any(|(_, d)| match d {
            Draw::Query { windows, .. } => windows.iter().any(|w| w.to_ood),
            Draw::Grinding { .. } => false,
        });
        let uniform = shape
            .draws
            .iter()
            .any(|(_, d)| matches!(d, Draw::Query { uniform: true, .. }));
        Self {
            shape,
            to_ood,
            uniform,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &BitsShape {
        &self.shape
    }

    /// Fills the derived columns of `row` (bits, `top`, `index`, `acc`) from `bits` under the
    /// periodic row `p`; `value` is set to `sum bits_i 2^i`. Tests use it to build forged rows
    /// that satisfy every other constraint.
    pub fn fill_row(row: &mut BitsCols<F>, bits: [F; BITS], p: &BitsPeriodic<F>) {
        row.bits = bits;
        row.value = (0..BITS).map(|i| bits[i] * F::from_u32(1 << i)).sum();
        let mut t = bits[TOP_FROM];
        for (j, top) in row.top.iter_mut().enumerate() {
            t *= bits[TOP_FROM + 1 + j];
            *top = t;
        }
        row.index = (0..BITS).map(|i| bits[i] * p.weight[i]).sum();
        let mut acc = p.x0;
        for ((a, &b), &c) in row.acc.iter_mut().zip(&bits).zip(&p.factor) {
            acc *= F::ONE + b * (c - F::ONE);
            *a = acc;
        }
    }

    /// The periodic row `r` of the schedule.
    pub fn periodic_row(&self, r: usize) -> Vec<F> {
        self.periodic.iter().map(|c| c[r % c.len()]).collect()
    }

    /// The trace of the transcripts' bit samples `values[t]` (the sampled element of each draw
    /// of transcript `t`, in order; transcript number `t`), one block each then padding blocks
    /// up to a power of two and at least `min_height` rows; the samples the active blocks
    /// receive and the windows they send (each once, whatever its `uses`).
    ///
    /// # Panics
    /// If a transcript has another number of values than the shape has draws.
    pub fn generate_trace(
        &self,
        values: &[Vec<F>],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, Vec<SampleMessage>, Vec<IndexMessage>) {
        let period = self.shape.block_len();
        let height = (values.len() * period)
            .max(min_height)
            .max(period)
            .next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        let periodic: Vec<Vec<F>> = (0..period).map(|r| self.periodic_row(r)).collect();
        // The draw whose sample each row of a block decomposes (none past the draws).
        let draw_of_row: Vec<usize> = self
            .shape
            .draws
            .iter()
            .enumerate()
            .flat_map(|(i, (_, d))| match d {
                Draw::Grinding { .. } => std::iter::repeat_n(i, 1),
                Draw::Query { windows, .. } => std::iter::repeat_n(i, windows.len()),
            })
            .collect();
        let padding = vec![F::ZERO; self.shape.draws.len()];
        let mut received = Vec::new();
        let mut sent = Vec::new();
        for (b, block) in trace.chunks_exact_mut(period * WIDTH).enumerate() {
            let (vals, active) = match values.get(b) {
                Some(v) => (v, true),
                None => (&padding, false),
            };
            assert_eq!(vals.len(), self.shape.draws.len(), "one value per draw");
            let transcript = F::from_usize(self.first as usize + b);
            for (r, (row, p)) in block.chunks_exact_mut(WIDTH).zip(&periodic).enumerate() {
                let row: &mut BitsCols<F> = row.borrow_mut();
                let p: &BitsPeriodic<F> = p.as_slice().borrow();
                let v = draw_of_row.get(r).map_or(F::ZERO, |&d| vals[d]);
                row.transcript = transcript;
                row.active = F::from_bool(active);
                row.position = p.position;
                row.receives = p.receives;
                row.tag = p.tag;
                row.uses = p.uses;
                row.to_ood = p.to_ood;
                Self::fill_row(row, bits_of(v.as_canonical_u32()), p);
                if active && p.receives == F::ONE {
                    received.push([transcript, p.position, v]);
                }
                if active && p.uses != F::ZERO {
                    sent.push([transcript, p.position, p.tag, row.index, row.acc[BITS - 1]]);
                }
            }
        }
        (RowMajorMatrix::new(trace, WIDTH), received, sent)
    }
}

verifier_base_air!(SampledBitsAir, |_: &SampledBitsAir| WIDTH);

impl<AB> Air<AB> for SampledBitsAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &BitsCols<AB::Var> = main.current_slice().borrow();
        let next: &BitsCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &BitsPeriodic<AB::Expr> = periodic.as_slice().borrow();
        let one = AB::Expr::ONE;

        // 0..=4: the flag and the mirrors of the schedule.
        builder.assert_bool(row.active);
        builder.assert_eq(row.position, p.position.clone());
        builder.assert_eq(row.receives, p.receives.clone());
        builder.assert_eq(row.tag, p.tag.clone());
        builder.assert_eq(row.uses, p.uses.clone());

        // 5..=35: bits; 36: the value; 37..=42: the top product; 43: canonical.
        for &b in &row.bits {
            builder.assert_bool(b);
        }
        let weighted = |from: usize, to: usize| -> AB::Expr {
            (from..to)
                .map(|i| row.bits[i] * AB::Expr::from_u32(1 << i))
                .sum()
        };
        builder.assert_eq(row.value, weighted(0, BITS));
        builder.assert_eq(row.top[0], row.bits[TOP_FROM] * row.bits[TOP_FROM + 1]);
        for j in 1..row.top.len() {
            builder.assert_eq(row.top[j], row.top[j - 1] * row.bits[TOP_FROM + 1 + j]);
        }
        builder.assert_zero(row.top[row.top.len() - 1] * weighted(0, TOP_FROM));

        // 44: the window; 45: grinding; 46..=76: the point.
        let index: AB::Expr = (0..BITS).map(|i| p.weight[i].clone() * row.bits[i]).sum();
        builder.assert_eq(row.index, index);
        builder.assert_zero(p.zero.clone() * row.index);
        for i in 0..BITS {
            let before: AB::Expr = if i == 0 {
                p.x0.clone()
            } else {
                row.acc[i - 1].into()
            };
            let step = one.clone() + (p.factor[i].clone() - one.clone()) * row.bits[i];
            builder.assert_eq(row.acc[i], before * step);
        }

        // 77..=79: constancy down the block and the carried sample.
        let mut t = builder.when_transition();
        t.assert_zero(super::next_block_number::<AB>(
            AB::Expr::ONE - p.in_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(p.in_block.clone() * (next.active - row.active));
        t.assert_zero(p.continues.clone() * (next.value - row.value));

        PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS).receive(
            builder,
            [row.transcript, row.position, row.value],
            Count::bounded(row.active * row.receives, 1),
        );
        PermutationCheckBus::new(QUERY_INDEX_BUS).send(
            builder,
            [
                row.transcript,
                row.position,
                row.tag,
                row.index,
                row.acc[BITS - 1],
            ],
            Count::bounded(row.active * row.uses, MAX_USES as u32),
        );
        super::first_block_number(builder, self.first, row.transcript);

        // 81: the mirror of `to_ood`; 82, for a shape with a uniform draw: its value is not
        // p - 1 (bits 24..31 all ones, with the canonical constraint, is exactly p - 1). Only
        // then: where no draw is uniform the column `top[5]` is zero on every honest row, and
        // the constraint would read its periodic column for nothing.
        builder.assert_eq(row.to_ood, p.to_ood.clone());
        if self.uniform {
            builder.assert_zero(p.uniform.clone() * row.top[row.top.len() - 1]);
        }
        if self.to_ood {
            let zero = AB::Expr::ZERO;
            PermutationCheckBus::new(OOD_INPUT_BUS).send(
                builder,
                [
                    row.transcript.into(),
                    row.position.into(),
                    row.acc[BITS - 1].into(),
                    zero.clone(),
                    zero.clone(),
                    zero.clone(),
                    zero,
                ],
                Count::bounded(row.active * row.to_ood, 1),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! Indices and points against Plonky3's own `sample_bits`, `grind` and `reverse_bits_len`,
    //! and each forgery caught by the constraint or bus that should catch it, then by the FRI
    //! verifier.

    use std::collections::BTreeSet;

    use p3_challenger::{CanObserve, CanSample, CanSampleBits, GrindingChallenger};
    use p3_field::{Field, PrimeField64, TwoAdicField};
    use p3_util::reverse_bits_len;

    use super::*;
    use crate::aggregate::fri::config::Poseidon1Challenger;
    use crate::aggregate::recursion::harness::{Batch, Failed, KnownAir, TestAir, MIN_HEIGHT};

    /// Bits of the test's query indices.
    const K: usize = 20;

    // Constraint numbers, in `eval` order.
    const POSITION: usize = 1;
    const TAG: usize = 3;
    const USES: usize = 4;
    const BIT0: usize = 5;
    const TOP_LAST: usize = 42;
    const CANONICAL: usize = 43;
    const INDEX: usize = 44;
    const ZERO: usize = 45;
    const POINT: usize = 76;
    const SAME_TRANSCRIPT: usize = 77;
    /// The first block's number ([`super::super::first_block_number`]), the last constraint.
    const FIRST_NUMBER: usize = 80;
    const CARRIED: usize = 79;

    const SAMPLE: Failed = Failed::Bus(TRANSCRIPT_SAMPLE_BUS);
    const INDICES: Failed = Failed::Bus(QUERY_INDEX_BUS);

    /// The windows of each query: the full index with its LDE point, a folded index, a folding
    /// row's position, and a window nobody receives.
    fn windows() -> Vec<Window> {
        let g = F::two_adic_generator;
        vec![
            Window {
                lo: 0,
                hi: K,
                tag: 0,
                uses: 1,
                point: Point::Reversed {
                    x0: F::GENERATOR,
                    g: g(K),
                },
                to_ood: false,
            },
            Window {
                lo: 3,
                hi: K,
                tag: 1,
                uses: 2,
                point: Point::Reversed {
                    x0: F::ONE,
                    g: g(K),
                },
                to_ood: false,
            },
            Window {
                lo: 0,
                hi: 3,
                tag: 2,
                uses: 1,
                point: Point::One,
                to_ood: false,
            },
            Window {
                lo: 6,
                hi: 14,
                tag: 3,
                uses: 0,
                point: Point::Reversed {
                    x0: F::from_u32(7),
                    g: g(8),
                },
                to_ood: false,
            },
        ]
    }

    /// What Plonky3's challenger does: seven observations, a grinding check of 9 bits (the
    /// witness observed, then `sample_bits(9) == 0`, as its `check_witness`), three query indices of `K` bits, a
    /// grinding check of 4 bits. The draws, each draw's sampled element, and Plonky3's
    /// `sample_bits` result of each.
    fn plonky3_run(seed: u32) -> (Vec<(usize, Draw)>, Vec<F>, Vec<usize>) {
        let mut c = Poseidon1Challenger::new(crate::xmss::poseidon::poseidon1_24().clone());
        let (mut draws, mut values, mut results) = (Vec::new(), Vec::new(), Vec::new());
        let mut position = 0;
        for i in 0..7 {
            c.observe(F::from_u32(seed * 1_000_003 + i));
            position += 1;
        }
        // 0: grinding of that many bits; otherwise a query.
        for grinding in [9, 0, 0, 0, 4] {
            if grinding > 0 {
                // The first witness Plonky3's check accepts (its `grind` searches in parallel,
                // so which witness it finds varies from run to run).
                let w = (0u32..)
                    .map(F::from_u32)
                    .find(|&w| c.clone().check_witness(grinding, w))
                    .expect("a witness");
                c.observe(w);
                let v: F = c.clone().sample();
                let r = c.sample_bits(grinding);
                assert_eq!(r, 0, "a grinding witness");
                draws.push((position + 1, Draw::Grinding { bits: grinding }));
                values.push(v);
                results.push(r);
                position += 2;
            } else {
                let v: F = c.clone().sample();
                let r = c.sample_bits(K);
                draws.push((
                    position,
                    Draw::Query {
                        bits: K,
                        uniform: false,
                        windows: windows(),
                    },
                ));
                values.push(v);
                results.push(r);
                position += 1;
            }
        }
        (draws, values, results)
    }

    /// The samples the AIR should receive and the windows it should send, computed from
    /// Plonky3's results: `index = (result >> lo) mod 2^(hi - lo)`,
    /// `point = x0 * g^reverse_bits_len(index, hi - lo)`; each window `uses` times.
    fn expected(seeds: &[u32]) -> (Vec<Vec<F>>, Vec<Vec<F>>) {
        let (mut samples, mut sent) = (Vec::new(), Vec::new());
        for (t, &seed) in seeds.iter().enumerate() {
            let t = F::from_usize(t);
            let (draws, values, results) = plonky3_run(seed);
            for (((position, d), v), r) in draws.iter().zip(values).zip(results) {
                let position = F::from_usize(*position);
                samples.push(vec![t, position, v]);
                if let Draw::Query { windows, .. } = d {
                    for w in windows {
                        let h = w.hi - w.lo;
                        let index = (r >> w.lo) & ((1 << h) - 1);
                        let point = match w.point {
                            Point::One => F::ONE,
                            Point::Reversed { x0, g } => {
                                x0 * g.exp_u64(reverse_bits_len(index, h) as u64)
                            }
                            Point::Natural { g } => g.exp_u64(index as u64),
                        };
                        for _ in 0..w.uses {
                            sent.push(vec![
                                t,
                                position,
                                F::from_usize(w.tag),
                                F::from_usize(index),
                                point,
                            ]);
                        }
                    }
                }
            }
        }
        (samples, sent)
    }

    fn air_and_trace(seeds: &[u32]) -> (SampledBitsAir, RowMajorMatrix<F>) {
        let air = SampledBitsAir::new(BitsShape::new(plonky3_run(seeds[0]).0));
        let values: Vec<Vec<F>> = seeds.iter().map(|&s| plonky3_run(s).1).collect();
        let (trace, _, _) = air.generate_trace(&values, MIN_HEIGHT);
        (air, trace)
    }

    /// What the trace receives and sends, read back from its rows (for forgeries whose other
    /// AIRs go along with them, to show that a constraint alone catches them).
    fn messages_of(trace: &RowMajorMatrix<F>) -> (Vec<Vec<F>>, Vec<Vec<F>>) {
        let (mut samples, mut sent) = (Vec::new(), Vec::new());
        for r in 0..trace.values.len() / WIDTH {
            let row: &BitsCols<F> = trace.values[r * WIDTH..(r + 1) * WIDTH].borrow();
            if row.active * row.receives == F::ONE {
                samples.push(vec![row.transcript, row.position, row.value]);
            }
            let uses = (row.active * row.uses).as_canonical_u64();
            for _ in 0..uses {
                sent.push(vec![
                    row.transcript,
                    row.position,
                    row.tag,
                    row.index,
                    row.acc[BITS - 1],
                ]);
            }
        }
        (samples, sent)
    }

    fn batch(
        air: SampledBitsAir,
        trace: RowMajorMatrix<F>,
        (samples, sent): (Vec<Vec<F>>, Vec<Vec<F>>),
    ) -> Batch {
        let providers = KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &samples);
        let users = KnownAir::new(QUERY_INDEX_BUS, 5, false, &sent);
        let (pt, ut) = (providers.trace(), users.trace());
        Batch {
            airs: vec![
                TestAir::Bits(air),
                TestAir::Known(providers),
                TestAir::Known(users),
            ],
            traces: vec![trace, pt, ut],
            buses: vec![TRANSCRIPT_SAMPLE_BUS, QUERY_INDEX_BUS],
        }
    }

    fn row_mut(trace: &mut RowMajorMatrix<F>, r: usize) -> &mut BitsCols<F> {
        trace.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut()
    }

    /// Rewrites row `r` from `bits`, every derived column consistent with them.
    fn refill(air: &SampledBitsAir, trace: &mut RowMajorMatrix<F>, r: usize, bits: [F; BITS]) {
        let p = air.periodic_row(r);
        SampledBitsAir::fill_row(row_mut(trace, r), bits, p.as_slice().borrow());
    }

    /// `expected` failures on the checks, and the FRI verifier rejects a proof of the traces.
    fn caught(b: &Batch, expected: &[Failed]) {
        assert_eq!(
            b.failed(),
            expected.iter().cloned().collect::<BTreeSet<_>>()
        );
        assert!(b.prove_and_verify().is_err(), "a forged batch verified");
    }

    // Rows of a block: draw 0 (grinding) row 0, the queries rows 1..=4, 5..=8, 9..=12 (one per
    // window), draw 4 (grinding) row 13, padding to 16.
    const FIRST_QUERY: usize = 1;
    const SECOND_GRINDING: usize = 13;

    #[test]
    fn the_shape_takes_a_row_per_grinding_check_and_per_window() {
        let (draws, _, _) = plonky3_run(1);
        let shape = BitsShape::new(draws);
        assert_eq!(shape.rows(), 2 + 3 * windows().len());
        assert_eq!(shape.block_len(), 16);
        let air = SampledBitsAir::new(shape);
        let p = air.periodic_row(FIRST_QUERY + 1);
        let p: &BitsPeriodic<F> = p.as_slice().borrow();
        assert_eq!(
            (p.receives, p.continues, p.tag, p.uses),
            (F::ZERO, F::ONE, F::ONE, F::TWO)
        );
        let p = air.periodic_row(SECOND_GRINDING);
        let p: &BitsPeriodic<F> = p.as_slice().borrow();
        assert_eq!((p.zero, p.receives, p.continues), (F::ONE, F::ONE, F::ZERO));
        assert_eq!(p.weight[3], F::from_u32(8));
        assert_eq!(p.weight[4], F::ZERO);
    }

    #[test]
    fn indices_and_points_are_plonky3s_and_the_batch_proves() {
        let seeds = [1, 2];
        let air = SampledBitsAir::new(BitsShape::new(plonky3_run(1).0));
        let values: Vec<Vec<F>> = seeds.iter().map(|&s| plonky3_run(s).1).collect();
        let (trace, received, sent) = air.generate_trace(&values, MIN_HEIGHT);
        let (samples, windows_sent) = expected(&seeds);
        assert_eq!(
            received.iter().map(|m| m.to_vec()).collect::<Vec<_>>(),
            samples
        );
        // `generate_trace` lists each window once; the rows send it `uses` times.
        let (from_rows_samples, from_rows_sent) = messages_of(&trace);
        assert_eq!(from_rows_samples, samples);
        assert_eq!(from_rows_sent, windows_sent);
        let listed: BTreeSet<Vec<F>> = sent.iter().map(|m| m.to_vec()).collect();
        assert_eq!(
            listed,
            windows_sent.iter().cloned().collect::<BTreeSet<_>>()
        );
        let b = batch(air, trace, (samples, windows_sent));
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }

    #[test]
    fn every_value_decomposes_canonically() {
        // Edge values: 0, 1, the largest (p - 1, bits 24..31 all ones), values just under and
        // at 2^24, 2^30, and the largest with bits 24..31 not all ones.
        let p = F::ORDER_U64 as u32;
        let edges = [
            0,
            1,
            p - 1,
            p - 2,
            (1 << 24) - 1,
            1 << 24,
            1 << 30,
            0x7eff_ffff,
        ];
        let window = Window {
            lo: 0,
            hi: MAX_SAMPLE_BITS,
            tag: 0,
            uses: 1,
            point: Point::Reversed {
                x0: F::GENERATOR,
                g: F::two_adic_generator(F::TWO_ADICITY),
            },
            to_ood: false,
        };
        let draws: Vec<(usize, Draw)> = (0..edges.len())
            .map(|i| {
                (
                    i,
                    Draw::Query {
                        bits: MAX_SAMPLE_BITS,
                        uniform: false,
                        windows: vec![window],
                    },
                )
            })
            .collect();
        let air = SampledBitsAir::new(BitsShape::new(draws));
        let values: Vec<F> = edges.iter().map(|&v| F::from_u32(v)).collect();
        let (trace, _, sent) = air.generate_trace(std::slice::from_ref(&values), MIN_HEIGHT);
        for (m, &v) in sent.iter().zip(&edges) {
            let index = (v as usize) & ((1 << MAX_SAMPLE_BITS) - 1);
            assert_eq!(m[3], F::from_usize(index));
            let g = F::two_adic_generator(F::TWO_ADICITY);
            let rev = reverse_bits_len(index, MAX_SAMPLE_BITS) as u64;
            assert_eq!(m[4], F::GENERATOR * g.exp_u64(rev));
        }
        let messages = messages_of(&trace);
        assert_eq!(batch(air, trace, messages).failed(), BTreeSet::new());
    }

    #[test]
    fn a_value_other_than_the_sample_unbalances_the_sample_bus() {
        let (air, mut trace) = air_and_trace(&[1]);
        // Every row of the first query decomposes another value; the users take its windows.
        let other: u32 = 0x1234_5678;
        for r in FIRST_QUERY..FIRST_QUERY + windows().len() {
            refill(&air, &mut trace, r, bits_of(other));
        }
        let (_, sent) = messages_of(&trace);
        let (samples, _) = expected(&[1]);
        caught(&batch(air, trace, (samples, sent)), &[SAMPLE]);
    }

    #[test]
    fn a_non_canonical_decomposition_is_caught() {
        // A sampled 5 decomposed as 5 + p: the same field element, other low bits.
        let (air, mut trace) = air_and_trace(&[1]);
        let forged = 5 + F::ORDER_U64 as u32;
        for r in FIRST_QUERY..FIRST_QUERY + windows().len() {
            refill(&air, &mut trace, r, bits_of(forged));
            assert_eq!(row_mut(&mut trace, r).value, F::from_u32(5));
        }
        let messages = messages_of(&trace);
        caught(
            &batch(air, trace.clone(), messages),
            &[Failed::Constraint(CANONICAL)],
        );

        // Clearing the top product to dodge that check breaks its own definition instead.
        let mut dodged = trace;
        for r in FIRST_QUERY..FIRST_QUERY + windows().len() {
            row_mut(&mut dodged, r).top[BITS - TOP_FROM - 2] = F::ZERO;
        }
        let messages = messages_of(&dodged);
        let air = air_and_trace(&[1]).0;
        caught(
            &batch(air, dodged, messages),
            &[Failed::Constraint(TOP_LAST)],
        );
    }

    #[test]
    fn a_bit_that_is_not_boolean_is_caught() {
        // Bits ..., 1, 0, ... at i + 1, i become 0, 2: the same value, another index.
        let (air, mut trace) = air_and_trace(&[1]);
        let r = FIRST_QUERY;
        let mut bits = row_mut(&mut trace, r).bits;
        let i = (0..BITS - 1)
            .find(|&i| bits[i] == F::ZERO && bits[i + 1] == F::ONE)
            .expect("a 1 above a 0");
        bits[i] = F::TWO;
        bits[i + 1] = F::ZERO;
        refill(&air, &mut trace, r, bits);
        let messages = messages_of(&trace);
        // `fill_row` keeps the value, the top product and the point consistent with the forged
        // bits: only booleanity fails.
        caught(
            &batch(air, trace, messages),
            &[Failed::Constraint(BIT0 + i)],
        );
    }

    #[test]
    fn grinding_with_a_nonzero_bit_is_caught() {
        let (air, mut trace) = air_and_trace(&[1]);
        let v = row_mut(&mut trace, SECOND_GRINDING)
            .value
            .as_canonical_u32();
        refill(&air, &mut trace, SECOND_GRINDING, bits_of(v ^ 0b100));
        let messages = messages_of(&trace);
        caught(&batch(air, trace, messages), &[Failed::Constraint(ZERO)]);
    }

    #[test]
    fn a_wrong_index_or_point_is_caught() {
        for (edit, constraint) in [
            (
                (|row: &mut BitsCols<F>| row.index += F::ONE) as fn(&mut BitsCols<F>),
                INDEX,
            ),
            (|row: &mut BitsCols<F>| row.acc[BITS - 1] *= F::TWO, POINT),
        ] {
            let (air, mut trace) = air_and_trace(&[1]);
            edit(row_mut(&mut trace, FIRST_QUERY));
            let messages = messages_of(&trace);
            caught(
                &batch(air, trace, messages),
                &[Failed::Constraint(constraint)],
            );
        }
    }

    #[test]
    fn a_carried_value_that_changes_is_caught() {
        // The query's second window decomposes another value than its first.
        let (air, mut trace) = air_and_trace(&[1]);
        let r = FIRST_QUERY + 1;
        let v = row_mut(&mut trace, r).value.as_canonical_u32();
        refill(&air, &mut trace, r, bits_of(v ^ 1));
        let messages = messages_of(&trace);
        caught(&batch(air, trace, messages), &[Failed::Constraint(CARRIED)]);
    }

    #[test]
    fn a_mirror_off_its_schedule_is_caught() {
        for (edit, constraint) in [
            (
                (|row: &mut BitsCols<F>| row.position += F::ONE) as fn(&mut BitsCols<F>),
                POSITION,
            ),
            (|row: &mut BitsCols<F>| row.tag += F::ONE, TAG),
            (|row: &mut BitsCols<F>| row.uses = F::ZERO, USES),
        ] {
            let (air, mut trace) = air_and_trace(&[1]);
            edit(row_mut(&mut trace, FIRST_QUERY));
            let messages = messages_of(&trace);
            caught(
                &batch(air, trace, messages),
                &[Failed::Constraint(constraint)],
            );
        }
    }

    #[test]
    fn inactive_padding_and_swapped_blocks_unbalance_the_buses() {
        let period = 16;
        // A real block marked inactive: it neither receives nor sends.
        let (air, mut trace) = air_and_trace(&[1, 2]);
        for r in 0..period {
            row_mut(&mut trace, r).active = F::ZERO;
        }
        caught(&batch(air, trace, expected(&[1, 2])), &[SAMPLE, INDICES]);

        // A padding block marked active: it receives and sends what nobody sent or expects.
        let (air, mut trace) = air_and_trace(&[1]);
        for r in period..2 * period {
            row_mut(&mut trace, r).active = F::ONE;
        }
        caught(&batch(air, trace, expected(&[1])), &[SAMPLE, INDICES]);

        // The two transcripts' numbers swapped: a block's number is its place (the first row's
        // constraint and the step between blocks).
        let (air, mut trace) = air_and_trace(&[1, 2]);
        for r in 0..2 * period {
            row_mut(&mut trace, r).transcript = F::from_bool(r < period);
        }
        caught(
            &batch(air, trace, expected(&[1, 2])),
            &[
                Failed::Constraint(SAME_TRANSCRIPT),
                Failed::Constraint(FIRST_NUMBER),
                SAMPLE,
                INDICES,
            ],
        );

        // A number changing inside a block.
        let (air, mut trace) = air_and_trace(&[1, 2]);
        row_mut(&mut trace, 3).transcript = F::ONE;
        let messages = messages_of(&trace);
        caught(
            &batch(air, trace, messages),
            &[Failed::Constraint(SAME_TRANSCRIPT)],
        );
    }
}

#[cfg(test)]
mod uniform {
    //! WHIR's query draws: `sample_uniform_bits` indices against Plonky3's challenger, their
    //! points `g^index` sent to `OodAir`, and the one value a uniform draw refuses.

    use std::collections::BTreeSet;

    use p3_challenger::{CanSample, CanSampleUniformBits};
    use p3_field::{PrimeField64, TwoAdicField};

    use super::*;
    use crate::aggregate::fri::config::Poseidon1Challenger;
    use crate::aggregate::recursion::harness::{Batch, Failed, KnownAir, TestAir, MIN_HEIGHT};

    /// Bits of the test's indices.
    const K: usize = 18;
    /// Constraint numbers, in `eval` order.
    const TO_OOD: usize = 81;
    const UNIFORM: usize = 82;

    /// The window WHIR's verifier reads: the whole index, its natural-order point to `OodAir`,
    /// and the index to one other reader.
    fn window() -> Window {
        Window {
            lo: 0,
            hi: K,
            tag: 0,
            uses: 1,
            point: Point::Natural {
                g: F::two_adic_generator(K),
            },
            to_ood: true,
        }
    }

    /// Five uniform draws of `K` bits after an observation, as Plonky3's challenger draws
    /// them: each draw's element and Plonky3's index.
    fn plonky3_draws(seed: u32) -> (Vec<F>, Vec<usize>) {
        let mut c = Poseidon1Challenger::new(crate::xmss::poseidon::poseidon1_24().clone());
        p3_challenger::CanObserve::observe(&mut c, F::from_u32(seed));
        (0..5)
            .map(|_| {
                let v: F = c.clone().sample();
                let index = c
                    .sample_uniform_bits::<false>(K)
                    .expect("a value below the bound");
                (v, index)
            })
            .unzip()
    }

    fn shape(uniform: bool) -> BitsShape {
        BitsShape::new(
            (0..5)
                .map(|i| {
                    let windows = vec![window()];
                    (
                        1 + i,
                        Draw::Query {
                            bits: K,
                            uniform,
                            windows,
                        },
                    )
                })
                .collect(),
        )
    }

    /// The batch of the bits AIR over `values`, the transcript sending `samples`, and the
    /// readers receiving `indices` and `points` (`(position, index)`, `(position, point)`).
    fn batch(
        uniform: bool,
        values: &[F],
        samples: &[F],
        indices: &[(usize, usize)],
        points: &[(usize, F)],
    ) -> Batch {
        let air = SampledBitsAir::new(shape(uniform));
        let (trace, _, _) = air.generate_trace(&[values.to_vec()], MIN_HEIGHT);
        let f = F::from_usize;
        let sampled: Vec<Vec<F>> = samples
            .iter()
            .enumerate()
            .map(|(i, &v)| vec![F::ZERO, f(1 + i), v])
            .collect();
        let read: Vec<Vec<F>> = indices
            .iter()
            .map(|&(p, index)| {
                let point = F::two_adic_generator(K).exp_u64(index as u64);
                vec![F::ZERO, f(p), F::ZERO, f(index), point]
            })
            .collect();
        let ood: Vec<Vec<F>> = points
            .iter()
            .map(|&(p, w)| vec![F::ZERO, f(p), w, F::ZERO, F::ZERO, F::ZERO, F::ZERO])
            .collect();
        let known = [
            KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &sampled),
            KnownAir::new(QUERY_INDEX_BUS, 5, false, &read),
            KnownAir::new(OOD_INPUT_BUS, 7, false, &ood),
        ];
        let mut traces = vec![trace];
        traces.extend(known.iter().map(KnownAir::trace));
        let mut airs = vec![TestAir::Bits(air)];
        airs.extend(known.into_iter().map(TestAir::Known));
        Batch {
            airs,
            traces,
            buses: vec![TRANSCRIPT_SAMPLE_BUS, QUERY_INDEX_BUS, OOD_INPUT_BUS],
        }
    }

    /// `(position, index)` of each draw.
    type Indices = Vec<(usize, usize)>;

    /// Plonky3's indices and `g^index`, computed from its results, per draw.
    fn expected(indices: &[usize]) -> (Indices, Vec<(usize, F)>) {
        let g = F::two_adic_generator(K);
        indices
            .iter()
            .enumerate()
            .map(|(i, &index)| ((1 + i, index), (1 + i, g.exp_u64(index as u64))))
            .unzip()
    }

    #[test]
    fn uniform_indices_and_their_natural_points_are_plonky3s_and_prove() {
        for seed in [1, 2] {
            let (values, indices) = plonky3_draws(seed);
            let (read, points) = expected(&indices);
            let b = batch(true, &values, &values, &read, &points);
            assert_eq!(b.failed(), BTreeSet::new());
            b.prove_and_verify().expect("the draws prove");
            // Each point is what `Point::of` computes for the index.
            for ((_, index), (_, w)) in read.iter().zip(&points) {
                assert_eq!(window().point.of(*index, K), *w);
            }
        }
    }

    #[test]
    fn a_uniform_draw_refuses_p_minus_one_and_a_plain_draw_takes_it() {
        // The first draw's element is p - 1, sampled as such: the bound that `sample_uniform_bits`
        // redraws at. Its index is p - 1's low bits, zero.
        let (mut values, mut indices) = plonky3_draws(1);
        values[0] = F::from_u64(F::ORDER_U64 - 1);
        indices[0] = 0;
        let (read, points) = expected(&indices);
        let refused = batch(true, &values, &values, &read, &points);
        assert_eq!(
            refused.failed(),
            BTreeSet::from([Failed::Constraint(UNIFORM)])
        );
        assert!(
            refused.prove_and_verify().is_err(),
            "a forged batch verified"
        );
        let plain = batch(false, &values, &values, &read, &points);
        assert_eq!(plain.failed(), BTreeSet::new());
    }

    #[test]
    fn a_point_other_than_the_indexs_or_a_point_withheld_is_caught() {
        let (values, indices) = plonky3_draws(1);
        let (read, mut points) = expected(&indices);
        // The reader expects another point: the input bus.
        points[2].1 += F::ONE;
        let b = batch(true, &values, &values, &read, &points);
        assert_eq!(b.failed(), BTreeSet::from([Failed::Bus(OOD_INPUT_BUS)]));
        assert!(b.prove_and_verify().is_err(), "a forged batch verified");

        // The row's mirror cleared so that it sends nothing: the mirror's constraint, and the
        // point the reader expects is missing.
        let (read, points) = expected(&indices);
        let mut b = batch(true, &values, &values, &read, &points);
        let row: &mut BitsCols<F> = b.traces[0].values[..WIDTH].borrow_mut();
        row.to_ood = F::ZERO;
        assert_eq!(
            b.failed(),
            BTreeSet::from([Failed::Constraint(TO_OOD), Failed::Bus(OOD_INPUT_BUS)])
        );
    }
}

#[cfg(test)]
mod real_child {
    //! A real child's grinding checks and query indices, from the transcript AIR through this one.

    use std::collections::BTreeSet;

    use p3_field::{Field, TwoAdicField};
    use p3_util::reverse_bits_len;

    use super::*;
    use crate::aggregate::air::perm::Perm24TableAir;
    use crate::aggregate::air::PERM24_FULL_BUS;
    use crate::aggregate::recursion::duplex::{DuplexAir, TranscriptShape, TRANSCRIPT_OBSERVE_BUS};
    use crate::aggregate::recursion::harness::{real_child, Batch, KnownAir, TestAir, MIN_HEIGHT};
    use crate::aggregate::recursion::TranscriptEvent;

    #[test]
    fn a_real_childs_grinding_checks_and_query_indices_are_the_verifiers_and_prove() {
        let child = real_child(*b"query indices of a real child!!!", 5);
        let draws = child.bit_draws();
        let q = usize::from(child.preset().num_queries);
        assert!(draws.len() > q, "grinding checks before the queries");
        let (grinding, queries) = draws.split_at(draws.len() - q);
        assert!(grinding.iter().all(|d| d.result == 0));
        let k = queries[0].bits;
        assert!(queries.iter().all(|d| d.bits == k));
        let g = F::two_adic_generator(k);
        let windows = vec![
            Window {
                lo: 0,
                hi: k,
                tag: 0,
                uses: 1,
                point: Point::Reversed {
                    x0: F::GENERATOR,
                    g,
                },
                to_ood: false,
            },
            Window {
                lo: 3,
                hi: k,
                tag: 1,
                uses: 1,
                point: Point::One,
                to_ood: false,
            },
        ];
        let shape = BitsShape::new(
            draws
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let draw = if i < grinding.len() {
                        Draw::Grinding { bits: d.bits }
                    } else {
                        Draw::Query {
                            bits: k,
                            uniform: false,
                            windows: windows.clone(),
                        }
                    };
                    (d.position, draw)
                })
                .collect(),
        );
        let values: Vec<F> = draws
            .iter()
            .map(|d| match child.transcript()[d.position] {
                TranscriptEvent::Sample(v) => v,
                TranscriptEvent::Observe(_) => panic!("a bit draw is a sample"),
            })
            .collect();
        let air = SampledBitsAir::new(shape);
        let (trace, _, sent) = air.generate_trace(std::slice::from_ref(&values), MIN_HEIGHT);

        // The windows are the native verifier's indices, the point its LDE point.
        assert_eq!(sent.len(), 2 * q);
        for (m, d) in sent.chunks(2).zip(queries) {
            assert_eq!(m[0][3], F::from_usize(d.result));
            assert_eq!(m[1][3], F::from_usize(d.result >> 3));
            let rev = reverse_bits_len(d.result, k) as u64;
            assert_eq!(m[0][4], F::GENERATOR * g.exp_u64(rev));
        }

        // The transcript AIR sends every sample: this AIR receives the bit samples,
        // verifier-known users the challenges.
        let (ops, observed) = child.transcript_ops();
        let duplex = DuplexAir::new(TranscriptShape::new(&ops));
        let (dtrace, perm, obs, samples) =
            duplex.generate_traces(std::slice::from_ref(&observed), MIN_HEIGHT);
        let bit_positions: BTreeSet<F> = draws.iter().map(|d| F::from_usize(d.position)).collect();
        let to_vecs = |ms: &[[F; 3]]| ms.iter().map(|m| m.to_vec()).collect::<Vec<_>>();
        let challenges: Vec<[F; 3]> = samples
            .iter()
            .filter(|m| !bit_positions.contains(&m[1]))
            .copied()
            .collect();
        assert_eq!(challenges.len() + draws.len(), samples.len());
        let providers = KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, true, &to_vecs(&obs));
        let users = KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, false, &to_vecs(&challenges));
        let index_users = KnownAir::new(
            QUERY_INDEX_BUS,
            5,
            false,
            &sent.iter().map(|m| m.to_vec()).collect::<Vec<_>>(),
        );
        let (pt, ut, it) = (providers.trace(), users.trace(), index_users.trace());
        let b = Batch {
            airs: vec![
                TestAir::Bits(air),
                TestAir::Duplex(duplex),
                TestAir::Perm(Perm24TableAir::shared()),
                TestAir::Known(providers),
                TestAir::Known(users),
                TestAir::Known(index_users),
            ],
            traces: vec![trace, dtrace, perm, pt, ut, it],
            buses: vec![
                PERM24_FULL_BUS,
                TRANSCRIPT_OBSERVE_BUS,
                TRANSCRIPT_SAMPLE_BUS,
                QUERY_INDEX_BUS,
            ],
        };
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }
}
