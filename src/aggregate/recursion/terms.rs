//! `DeepTermsAir`: each opened matrix's ladder terms `(mu0, M0, mu1, M1)` for
//! [`super::deep::DeepQuotientAir`], from `alpha` and the claimed values the transcript observed
//! (Plonky3 0.8 `open_inputs`, the `sum_at_z` half and the ladder offsets).
//!
//! Within each LDE height the native verifier walks a ladder of powers of `alpha` over the
//! opened columns in (commitment, matrix, point, column) order. For matrix `m` at point `j`,
//! starting at ladder position `off`, `mu_j = alpha^off` and `M_j = sum_c alpha^(off + c) p_c(z_j)`.
//!
//! **One row per ladder step**, the rows in ladder order, height by height (a periodic schedule
//! from [`DeepShape`] and the claims' transcript positions):
//! - `lambda = 1` on a height's first row, else the previous row's `lambda * alpha`;
//! - `mu` is `lambda` on a segment's first row (a matrix at one point), else carried;
//! - `M` is `lambda * value` plus, past a segment's first row, the previous row's `M`;
//! - at the end of a two-point matrix's first segment, `(mu, M)` is kept as `(mu0, M0)`;
//! - the matrix's last row sends `(transcript, matrix, mu0, M0, mu1, M1)` on `"deep-matrix"`
//!   once per query (zero `mu1`, `M1` for a matrix opened at `zeta` only).
//!
//! Each row sends its claimed value's five coordinates on `"transcript-observe"` at their
//! positions: the values are the ones the transcript absorbed. A claim the out-of-domain check
//! reads is also sent whole on `"ood-input"` as `(transcript, position of coordinate 0,
//! value)`, once ([`super::ood_air::OodAir`] receives it). `alpha` is received from
//! `"transcript-sample"` on a block's first row and held constant down the block.

use std::borrow::{Borrow, BorrowMut};
use std::collections::BTreeSet;

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::deep::{DeepShape, MatrixClaim, MatrixTerms, DEEP_MATRIX_BUS};
use super::duplex::{TRANSCRIPT_OBSERVE_BUS, TRANSCRIPT_SAMPLE_BUS};
use super::ext::{self, D};
use super::ood_air::OOD_INPUT_BUS;
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// Largest number of queries a matrix's terms are sent to.
pub const MAX_QUERIES: usize = 256;

/// Where a matrix's claimed values sit in the transcript: the position of the first
/// coordinate of column 0 at `zeta`, and at `zeta_next` for a matrix opened there; column `c`'s
/// coordinate `i` is at `first + 5 c + i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimAt {
    /// Transcript position of column 0's coordinate 0 at `zeta`.
    pub zeta: usize,
    /// Transcript position of column 0's coordinate 0 at `zeta_next`, for a matrix opened there.
    pub zeta_next: Option<usize>,
}

/// The periodic columns (period: the ladder's length rounded up to a power of two).
#[repr(C)]
pub struct TermsPeriodic<T> {
    /// 1 on every row but a block's last: the transitions that carry values down the block.
    pub in_block: T,
    /// 1 on a block's first row (where `alpha` is received).
    pub block_start: T,
    /// 1 on a ladder step's row, 0 on the block's padding rows.
    pub present: T,
    /// A height's first row: `lambda = 1`.
    pub height_start: T,
    /// A segment's first row: `mu = lambda`, `M` restarts.
    pub seg_start: T,
    /// The last row of a two-point matrix's first segment: `(mu0, M0)` kept.
    pub keep: T,
    /// The matrix's last row.
    pub last: T,
    /// The matrix is opened at two points.
    pub two_points: T,
    /// The matrix's id ([`super::deep::DeepMatrix::id`]) on the `"deep-matrix"` bus.
    pub matrix: T,
    /// The queries the terms are sent to, on `last` rows.
    pub uses: T,
    /// The claim is an input of the out-of-domain check.
    pub ood: T,
    /// Transcript positions of the claimed value's `D` coordinates.
    pub positions: [T; D],
    /// Transcript positions of `alpha`'s `D` coordinates (the same on every row).
    pub alpha_positions: [T; D],
}

/// The columns of one row.
#[repr(C)]
pub struct TermsCols<T> {
    /// The block's transcript number: the AIR's first on the first block, one more per block.
    pub transcript: T,
    /// 1 on a transcript's block, 0 on padding blocks (0 or 1, constant down the block).
    pub active: T,
    /// Mirrors of the periodic columns.
    pub block_start: T,
    /// Mirror of [`TermsPeriodic::present`].
    pub present: T,
    /// Mirror of [`TermsPeriodic::matrix`].
    pub matrix: T,
    /// Mirror of [`TermsPeriodic::uses`].
    pub uses: T,
    /// Mirror of [`TermsPeriodic::ood`].
    pub ood: T,
    /// Mirror of [`TermsPeriodic::positions`].
    pub positions: [T; D],
    /// Mirror of [`TermsPeriodic::alpha_positions`].
    pub alpha_positions: [T; D],
    /// Constant down the block.
    pub alpha: [T; D],
    /// The claimed value at this ladder step.
    pub value: [T; D],
    /// The previous row's `lambda`, `mu`, `m`, `mu0`, `m0`.
    pub lambda_in: [T; D],
    /// The previous row's `mu`.
    pub mu_in: [T; D],
    /// The previous row's `m`.
    pub m_in: [T; D],
    /// The previous row's `mu0`.
    pub mu0_in: [T; D],
    /// The previous row's `m0`.
    pub m0_in: [T; D],
    /// `alpha^(ladder position)`.
    pub lambda: [T; D],
    /// The segment's `alpha^off` and its sum so far.
    pub mu: [T; D],
    /// `M`: the segment's `sum lambda * value` up to this row.
    pub m: [T; D],
    /// The first segment's terms, kept.
    pub mu0: [T; D],
    /// `M0`: the first segment's `m`, kept.
    pub m0: [T; D],
    /// The message's terms (on `last` rows).
    pub out: [[T; D]; 4],
}

crate::aggregate::air::row_view!(TermsCols);
crate::aggregate::air::row_view!(TermsPeriodic);

/// Width of [`DeepTermsAir`].
pub const WIDTH: usize = core::mem::size_of::<TermsCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<TermsPeriodic<u8>>();

/// The claimed values in ladder order, one per row: matrix by matrix (shape order), `zeta`'s
/// before `zeta_next`'s.
pub fn ladder_values(claims: &[MatrixClaim]) -> Vec<Challenge> {
    claims
        .iter()
        .flat_map(|c| c.at_zeta.iter().chain(c.at_zeta_next.iter().flatten()))
        .copied()
        .collect()
}

/// The AIR computing the ladder terms of transcripts of one [`DeepShape`].
#[derive(Clone, Debug)]
pub struct DeepTermsAir {
    period: usize,
    /// Rows of the ladder (the rest of a block is padding).
    steps: usize,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(DeepTermsAir);

impl DeepTermsAir {
    /// The AIR for `shape`, whose matrices' claims (shape order) sit at `claims`; the claims
    /// whose coordinate 0 sits at a position in `ood_inputs` are sent on the out-of-domain
    /// check's input bus.
    ///
    /// # Panics
    /// If `claims` does not have one entry per matrix with its points, or the shape has more
    /// than [`MAX_QUERIES`] queries (a verifier's schedule, so a bug).
    pub fn new(shape: &DeepShape, claims: &[ClaimAt], ood_inputs: &BTreeSet<usize>) -> Self {
        let uses = shape.queries().len();
        assert!(uses <= MAX_QUERIES, "queries");
        let matrices: Vec<_> = shape.matrices().collect();
        assert_eq!(claims.len(), matrices.len(), "a claim position per matrix");
        let steps: usize = matrices
            .iter()
            .map(|(_, m)| m.width * (1 + usize::from(m.two_points)))
            .sum();
        let period = steps.max(2).next_power_of_two();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        let mut r = 0;
        let mut height = None;
        for ((h, m), at) in matrices.iter().zip(claims) {
            assert_eq!(at.zeta_next.is_some(), m.two_points, "claim points");
            let starts: Vec<usize> = [Some(at.zeta), at.zeta_next]
                .into_iter()
                .flatten()
                .collect();
            for (j, &first) in starts.iter().enumerate() {
                for c in 0..m.width {
                    let p: &mut TermsPeriodic<F> =
                        rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
                    p.present = F::ONE;
                    p.height_start = F::from_bool(height != Some(h.log_height));
                    height = Some(h.log_height);
                    p.seg_start = F::from_bool(c == 0);
                    let seg_end = c + 1 == m.width;
                    p.keep = F::from_bool(seg_end && j == 0 && m.two_points);
                    p.last = F::from_bool(seg_end && j + 1 == starts.len());
                    p.two_points = F::from_bool(m.two_points);
                    p.matrix = F::from_usize(m.id);
                    if p.last == F::ONE {
                        p.uses = F::from_usize(uses);
                    }
                    p.positions = core::array::from_fn(|i| F::from_usize(first + D * c + i));
                    p.ood = F::from_bool(ood_inputs.contains(&(first + D * c)));
                    r += 1;
                }
            }
        }
        for r in 0..period {
            let p: &mut TermsPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.in_block = F::from_bool(r + 1 < period);
            p.block_start = F::from_bool(r == 0);
            p.alpha_positions = shape.alpha_positions().map(F::from_usize);
        }
        Self {
            period,
            steps,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        }
    }

    /// Rows of one transcript's block.
    pub fn block_len(&self) -> usize {
        self.period
    }

    /// The periodic row `r`.
    pub fn periodic_row(&self, r: usize) -> Vec<F> {
        self.periodic.iter().map(|c| c[r % c.len()]).collect()
    }

    /// The trace of transcripts whose `(alpha, claims)` (claims in shape order) are `inputs`,
    /// one block each then padding blocks up to a power of two and at least `min_height` rows;
    /// the terms each active block sends, per matrix in shape order.
    ///
    /// # Panics
    /// If a claim's width or points are not its matrix's.
    pub fn generate_trace(
        &self,
        inputs: &[(Challenge, Vec<MatrixClaim>)],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, Vec<Vec<MatrixTerms>>) {
        let height = (inputs.len() * self.period)
            .max(min_height)
            .max(self.period)
            .next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        let mut sent = Vec::new();
        let periodic: Vec<Vec<F>> = (0..self.period).map(|r| self.periodic_row(r)).collect();
        for (b, block) in trace.chunks_exact_mut(self.period * WIDTH).enumerate() {
            let input = inputs.get(b);
            let values = input.map_or_else(Vec::new, |(_, claims)| ladder_values(claims));
            if input.is_some() {
                assert_eq!(
                    values.len(),
                    self.steps,
                    "one claimed value per ladder step"
                );
            }
            let alpha = input.map_or(Challenge::ZERO, |i| i.0);
            let mut terms = Vec::new();
            let zero = [F::ZERO; D];
            let mut prev = [zero; 5];
            for (r, (row, p)) in block.chunks_exact_mut(WIDTH).zip(&periodic).enumerate() {
                let p: &TermsPeriodic<F> = p.as_slice().borrow();
                let row: &mut TermsCols<F> = row.borrow_mut();
                row.transcript = F::from_usize(self.first as usize + b);
                row.active = F::from_bool(input.is_some());
                let value = values.get(r).copied().unwrap_or(Challenge::ZERO);
                Self::fill_row(row, p, alpha, value, prev);
                prev = [row.lambda, row.mu, row.m, row.mu0, row.m0];
                if input.is_some() && p.last == F::ONE {
                    terms.push(row.out.map(ext::element));
                }
            }
            if input.is_some() {
                sent.push(terms);
            }
        }
        (RowMajorMatrix::new(trace, WIDTH), sent)
    }

    /// Fills `row` from the periodic row, `alpha`, the row's claimed value and the previous
    /// row's `[lambda, mu, m, mu0, m0]`.
    pub fn fill_row(
        row: &mut TermsCols<F>,
        p: &TermsPeriodic<F>,
        alpha: Challenge,
        value: Challenge,
        prev: [[F; D]; 5],
    ) {
        let (to, el) = (ext::coords, ext::element);
        row.block_start = p.block_start;
        row.present = p.present;
        row.matrix = p.matrix;
        row.uses = p.uses;
        row.ood = p.ood;
        row.positions = p.positions;
        row.alpha_positions = p.alpha_positions;
        row.alpha = to(alpha);
        row.value = to(value);
        [row.lambda_in, row.mu_in, row.m_in, row.mu0_in, row.m0_in] = prev;
        let lambda = if p.height_start == F::ONE {
            Challenge::ONE
        } else {
            el(row.lambda_in) * alpha
        };
        let start = p.seg_start == F::ONE;
        let mu = if start { lambda } else { el(row.mu_in) };
        let m = if start { Challenge::ZERO } else { el(row.m_in) } + lambda * value;
        let keep = p.keep == F::ONE;
        let (mu0, m0) = if keep {
            (mu, m)
        } else {
            (el(row.mu0_in), el(row.m0_in))
        };
        row.lambda = to(lambda);
        row.mu = to(mu);
        row.m = to(m);
        row.mu0 = to(mu0);
        row.m0 = to(m0);
        row.out = if p.last != F::ONE {
            [[F::ZERO; D]; 4]
        } else if p.two_points == F::ONE {
            [row.mu0, row.m0, row.mu, row.m]
        } else {
            [row.mu, row.m, [F::ZERO; D], [F::ZERO; D]]
        };
    }
}

verifier_base_air!(DeepTermsAir, |_: &DeepTermsAir| WIDTH);

impl<AB> Air<AB> for DeepTermsAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &TermsCols<AB::Var> = main.current_slice().borrow();
        let next: &TermsCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &TermsPeriodic<AB::Expr> = periodic.as_slice().borrow();
        let e = |v: &[AB::Var; D]| -> [AB::Expr; D] { v.map(Into::into) };
        // `a = s ? x : y`, coordinate-wise, for a periodic selector `s`.
        let pick = |s: &AB::Expr, x: [AB::Expr; D], y: [AB::Expr; D]| -> [AB::Expr; D] {
            core::array::from_fn(|i| {
                s.clone() * x[i].clone() + (AB::Expr::ONE - s.clone()) * y[i].clone()
            })
        };
        let assert_ext = |builder: &mut AB, a: &[AB::Var; D], b: [AB::Expr; D]| {
            for (x, y) in a.iter().zip(b) {
                builder.assert_eq(*x, y);
            }
        };
        let zero: [AB::Expr; D] = core::array::from_fn(|_| AB::Expr::ZERO);
        let unit: [AB::Expr; D] = core::array::from_fn(|i| {
            if i == 0 {
                AB::Expr::ONE
            } else {
                AB::Expr::ZERO
            }
        });

        builder.assert_bool(row.active);
        builder.assert_eq(row.block_start, p.block_start.clone());
        builder.assert_eq(row.present, p.present.clone());
        builder.assert_eq(row.matrix, p.matrix.clone());
        builder.assert_eq(row.uses, p.uses.clone());
        builder.assert_eq(row.ood, p.ood.clone());
        for i in 0..D {
            builder.assert_eq(row.positions[i], p.positions[i].clone());
            builder.assert_eq(row.alpha_positions[i], p.alpha_positions[i].clone());
        }

        // The ladder.
        let stepped = ext::mul(&e(&row.lambda_in), &e(&row.alpha));
        assert_ext(builder, &row.lambda, pick(&p.height_start, unit, stepped));
        assert_ext(
            builder,
            &row.mu,
            pick(&p.seg_start, e(&row.lambda), e(&row.mu_in)),
        );
        let term = ext::mul(&e(&row.lambda), &e(&row.value));
        let before = pick(&p.seg_start, zero.clone(), e(&row.m_in));
        assert_ext(builder, &row.m, ext::add(&before, &term));
        assert_ext(builder, &row.mu0, pick(&p.keep, e(&row.mu), e(&row.mu0_in)));
        assert_ext(builder, &row.m0, pick(&p.keep, e(&row.m), e(&row.m0_in)));
        // The message: `(mu0, M0, mu, M)` for two points, `(mu, M, 0, 0)` for one; zero off
        // the last row.
        let two = p.two_points.clone();
        let last = p.last.clone();
        let outs = [
            pick(&two, e(&row.mu0), e(&row.mu)),
            pick(&two, e(&row.m0), e(&row.m)),
            pick(&two, e(&row.mu), zero.clone()),
            pick(&two, e(&row.m), zero.clone()),
        ];
        for (o, v) in row.out.iter().zip(outs) {
            let v: [AB::Expr; D] = core::array::from_fn(|i| last.clone() * v[i].clone());
            assert_ext(builder, o, v);
        }

        // Constancy down the block, and the carried values.
        let mut t = builder.when_transition();
        let in_block = p.in_block.clone();
        t.assert_zero(super::next_block_number::<AB>(
            AB::Expr::ONE - in_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(in_block.clone() * (next.active - row.active));
        for i in 0..D {
            t.assert_zero(in_block.clone() * (next.alpha[i] - row.alpha[i]));
            for (a, b) in [
                (next.lambda_in[i], row.lambda[i]),
                (next.mu_in[i], row.mu[i]),
                (next.m_in[i], row.m[i]),
                (next.mu0_in[i], row.mu0[i]),
                (next.m0_in[i], row.m0[i]),
            ] {
                t.assert_zero(in_block.clone() * (a - b));
            }
        }

        // The buses.
        let samples = PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS);
        let observed = PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS);
        for i in 0..D {
            samples.receive(
                builder,
                [row.transcript, row.alpha_positions[i], row.alpha[i]],
                Count::bounded(row.active * row.block_start, 1),
            );
            observed.send(
                builder,
                [row.transcript, row.positions[i], row.value[i]],
                Count::bounded(row.active * row.present, 1),
            );
        }
        let mut input = vec![row.transcript, row.positions[0]];
        input.extend(row.value);
        PermutationCheckBus::new(OOD_INPUT_BUS).send(
            builder,
            input,
            Count::bounded(row.active * row.ood, 1),
        );
        let mut msg = vec![row.transcript, row.matrix];
        for o in &row.out {
            msg.extend(o.iter().copied());
        }
        PermutationCheckBus::new(DEEP_MATRIX_BUS).send(
            builder,
            msg,
            Count::bounded(row.active * row.uses, MAX_QUERIES as u32),
        );
        super::first_block_number(builder, self.first, row.transcript);
    }
}
