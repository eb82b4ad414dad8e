//! `FinalPolyAir`: the FRI final polynomial, evaluated at every query's last folded point and
//! compared with its folded value (Plonky3 0.8 `verify_fri`, `FinalPolyMismatch`).
//!
//! The final polynomial's coefficients are transcript observations (`final_poly`, coefficient 0
//! first, each as its five coordinates). After the last round the native verifier evaluates it,
//! by Horner's rule from the highest coefficient, at `x = g_k^reverse_bits_len(i, k)` (`k` the
//! log of the largest LDE height, `i` the query's domain index shifted by every round's log
//! arity), and requires the query's folded value.
//!
//! **One block per transcript, one row per coefficient, one column group per query.** Row `r`
//! holds the coefficient `c_(L-1-r)` (`L` coefficients, a power of two) and sends its
//! coordinates on `"transcript-observe"` at their positions, so the transcript absorbs exactly
//! these values. Each query `q` has an accumulator `acc_q` (five columns) and a point `x_q`
//! (constant down the block): `acc_q = c_(L-1)` on the first row and
//! `acc_q' = acc_q * x_q + c` down the block. On the first row each query receives its point as
//! the window `(transcript, query, tag, index, x)` from `"query-index"`
//! ([`super::bits::SampledBitsAir`], window `[R, k)` with generator `g_(k-R)`, where `R` is the
//! total log arity); on the last row it receives `(transcript, query, rounds, acc_q)` from
//! `"fri-fold"`: the folded value the last round sent must be the polynomial's value.

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::bits::QUERY_INDEX_BUS;
use super::duplex::TRANSCRIPT_OBSERVE_BUS;
use super::ext::{self, D};
use super::fold::FRI_FOLD_BUS;
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// The final polynomial's place in one transcript and the queries that evaluate it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalPolyShape {
    /// Transcript positions of the coefficients' coordinates, coefficient 0 first
    /// (`5 * L` positions, `L` a power of two, at least 2).
    pub positions: Vec<usize>,
    /// The queries' index sample positions.
    pub queries: Vec<usize>,
    /// The fold message's round after the last round (the number of rounds).
    pub rounds: usize,
    /// Tag of the window whose point is `x`.
    pub point_tag: usize,
}

impl FinalPolyShape {
    /// Number of coefficients.
    pub fn len(&self) -> usize {
        self.positions.len() / D
    }

    /// Whether there is no coefficient.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

// Column layout: fixed columns, then per query `acc[5], x, index`.
const TRANSCRIPT: usize = 0;
const ACTIVE: usize = 1;
/// Mirrors of the periodic columns `first`, `last`, positions[5].
const FIRST: usize = 2;
const LAST: usize = 3;
const POSITIONS: usize = 4;
const COEFF: usize = POSITIONS + D;
const FIXED: usize = COEFF + D;
const PER_QUERY: usize = D + 2;

// Periodic layout.
const P_FIRST: usize = 0;
const P_LAST: usize = 1;
const P_POSITIONS: usize = 2;
const NUM_PERIODIC: usize = P_POSITIONS + D;

/// The AIR checking the final polynomial of transcripts of one [`FinalPolyShape`].
#[derive(Clone, Debug)]
pub struct FinalPolyAir {
    shape: FinalPolyShape,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
}

impl FinalPolyAir {
    /// # Panics
    /// If the coefficient count is not a power of two of at least 2, or positions are not five
    /// per coefficient (a verifier's schedule, so a bug).
    pub fn new(shape: FinalPolyShape) -> Self {
        assert_eq!(
            shape.positions.len() % D,
            0,
            "five coordinates per coefficient"
        );
        let l = shape.len();
        assert!(l >= 2 && l.is_power_of_two(), "coefficient count");
        let mut periodic = vec![vec![F::ZERO; l]; NUM_PERIODIC];
        periodic[P_FIRST][0] = F::ONE;
        periodic[P_LAST][l - 1] = F::ONE;
        for (i, column) in periodic[P_POSITIONS..].iter_mut().enumerate() {
            for (r, v) in column.iter_mut().enumerate() {
                // Row r holds coefficient L - 1 - r.
                *v = F::from_usize(shape.positions[(l - 1 - r) * D + i]);
            }
        }
        Self {
            shape,
            periodic: std::sync::Arc::new(periodic),
        }
    }

    fn query_col(&self, q: usize) -> usize {
        FIXED + q * PER_QUERY
    }

    /// The trace of transcripts `(coefficients, points)`: the final polynomial (coefficient 0
    /// first) and each query's `(index, x)`; one block each, then padding blocks up to a power of
    /// two and at least `min_height` rows. Also each query's value `poly(x)` per transcript.
    ///
    /// # Panics
    /// If a transcript has another number of coefficients or queries than the shape.
    #[allow(clippy::type_complexity)]
    pub fn generate_trace(
        &self,
        transcripts: &[(Vec<Challenge>, Vec<(usize, F)>)],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, Vec<Vec<Challenge>>) {
        let l = self.shape.len();
        let width = BaseAir::<F>::width(self);
        let height = (transcripts.len() * l).max(min_height).next_power_of_two();
        let mut trace = F::zero_vec(height * width);
        let q_count = self.shape.queries.len();
        let padding = (vec![Challenge::ZERO; l], vec![(0, F::ZERO); q_count]);
        let mut values = Vec::new();
        for (b, block) in trace.chunks_exact_mut(l * width).enumerate() {
            let (coeffs, points) = transcripts.get(b).unwrap_or(&padding);
            assert_eq!(coeffs.len(), l, "coefficients");
            assert_eq!(points.len(), q_count, "queries");
            let mut acc = vec![Challenge::ZERO; q_count];
            for (r, row) in block.chunks_exact_mut(width).enumerate() {
                let c = coeffs[l - 1 - r];
                row[TRANSCRIPT] = F::from_usize(b);
                row[ACTIVE] = F::from_bool(b < transcripts.len());
                row[FIRST] = self.periodic[P_FIRST][r];
                row[LAST] = self.periodic[P_LAST][r];
                for i in 0..D {
                    row[POSITIONS + i] = self.periodic[P_POSITIONS + i][r];
                }
                row[COEFF..COEFF + D].copy_from_slice(&ext::coords(c));
                for (q, &(index, x)) in points.iter().enumerate() {
                    acc[q] = acc[q] * x + c;
                    let at = self.query_col(q);
                    row[at..at + D].copy_from_slice(&ext::coords(acc[q]));
                    row[at + D] = x;
                    row[at + D + 1] = F::from_usize(index);
                }
            }
            if b < transcripts.len() {
                values.push(acc);
            }
        }
        (RowMajorMatrix::new(trace, width), values)
    }
}

verifier_base_air!(FinalPolyAir, |a: &FinalPolyAir| FIXED
    + a.shape.queries.len() * PER_QUERY);

impl<AB> Air<AB> for FinalPolyAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: Vec<AB::Var> = main.current_slice().to_vec();
        let next: Vec<AB::Var> = main.next_slice().to_vec();
        let p = crate::aggregate::air::periodic_exprs(builder);
        let one = AB::Expr::ONE;

        builder.assert_bool(row[ACTIVE]);
        builder.assert_eq(row[FIRST], p[P_FIRST].clone());
        builder.assert_eq(row[LAST], p[P_LAST].clone());
        for i in 0..D {
            builder.assert_eq(row[POSITIONS + i], p[P_POSITIONS + i].clone());
        }
        let coeff: [AB::Expr; D] = core::array::from_fn(|i| row[COEFF + i].into());
        let next_coeff: [AB::Expr; D] = core::array::from_fn(|i| next[COEFF + i].into());

        for q in 0..self.shape.queries.len() {
            let at = self.query_col(q);
            // The first row: the highest coefficient.
            for i in 0..D {
                builder.assert_zero(p[P_FIRST].clone() * (row[at + i] - coeff[i].clone()));
            }
            // Down the block: one Horner step, the point and index constant.
            let within = one.clone() - p[P_LAST].clone();
            let mut t = builder.when_transition();
            for i in 0..D {
                t.assert_zero(
                    within.clone()
                        * (next[at + i] - (row[at + i] * row[at + D] + next_coeff[i].clone())),
                );
            }
            t.assert_zero(within.clone() * (next[at + D] - row[at + D]));
            t.assert_zero(within * (next[at + D + 1] - row[at + D + 1]));
        }
        {
            let within = one.clone() - p[P_LAST].clone();
            let mut t = builder.when_transition();
            t.assert_zero(within.clone() * (next[TRANSCRIPT] - row[TRANSCRIPT]));
            t.assert_zero(within * (next[ACTIVE] - row[ACTIVE]));
        }

        let observe = PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS);
        for i in 0..D {
            observe.send(
                builder,
                [row[TRANSCRIPT], row[POSITIONS + i], row[COEFF + i]],
                Count::bounded(row[ACTIVE].into(), 1),
            );
        }
        let windows = PermutationCheckBus::new(QUERY_INDEX_BUS);
        let folds = PermutationCheckBus::new(FRI_FOLD_BUS);
        for (q, &position) in self.shape.queries.iter().enumerate() {
            let at = self.query_col(q);
            windows.receive(
                builder,
                [
                    row[TRANSCRIPT].into(),
                    AB::Expr::from_usize(position),
                    AB::Expr::from_usize(self.shape.point_tag),
                    row[at + D + 1].into(),
                    row[at + D].into(),
                ],
                Count::bounded(row[ACTIVE] * row[FIRST], 1),
            );
            let mut m: Vec<AB::Expr> = vec![
                row[TRANSCRIPT].into(),
                AB::Expr::from_usize(position),
                AB::Expr::from_usize(self.shape.rounds),
            ];
            m.extend((0..D).map(|i| row[at + i].into()));
            folds.receive(builder, m, Count::bounded(row[ACTIVE] * row[LAST], 1));
        }
    }
}

#[cfg(test)]
mod tests {
    //! Evaluations against Plonky3's own Horner fold, and each forgery caught by the constraint
    //! or bus that should catch it, then by the FRI verifier.

    use std::collections::BTreeSet;

    use p3_field::HornerIter;

    use super::*;
    use crate::aggregate::recursion::ext::tests::{challenges, pseudo};
    use crate::aggregate::recursion::harness::{
        only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };

    const L: usize = 8;
    const QUERIES: [usize; 3] = [100, 101, 102];
    const ROUNDS: usize = 4;
    const TAG: usize = 7;

    fn air() -> FinalPolyAir {
        FinalPolyAir::new(FinalPolyShape {
            positions: (10..10 + D * L).collect(),
            queries: QUERIES.to_vec(),
            rounds: ROUNDS,
            point_tag: TAG,
        })
    }

    type Transcript = (Vec<Challenge>, Vec<(usize, F)>);

    fn transcript(seed: u64) -> Transcript {
        let coeffs: Vec<Challenge> = challenges(seed).take(L).collect();
        let mut base = pseudo(seed + 7);
        let points = QUERIES
            .iter()
            .enumerate()
            .map(|(q, _)| (q * 3 + 1, base.next().unwrap()))
            .collect();
        (coeffs, points)
    }

    /// The transcript's observations, the windows and the folded values the other AIRs send,
    /// each query's value being Plonky3's Horner evaluation at its point.
    fn others(ts: &[Transcript]) -> [Vec<Vec<F>>; 3] {
        let (mut observed, mut windows, mut folds) = (Vec::new(), Vec::new(), Vec::new());
        for (t, (coeffs, points)) in ts.iter().enumerate() {
            let t = F::from_usize(t);
            for (c, v) in coeffs.iter().enumerate() {
                for (i, x) in ext::coords(*v).into_iter().enumerate() {
                    observed.push(vec![t, F::from_usize(10 + c * D + i), x]);
                }
            }
            for (&pos, &(index, x)) in QUERIES.iter().zip(points) {
                let pos = F::from_usize(pos);
                windows.push(vec![t, pos, F::from_usize(TAG), F::from_usize(index), x]);
                let value: Challenge = coeffs.iter().copied().horner(x);
                let mut m = vec![t, pos, F::from_usize(ROUNDS)];
                m.extend(ext::coords(value));
                folds.push(m);
            }
        }
        [observed, windows, folds]
    }

    fn batch(trace: RowMajorMatrix<F>, [observed, windows, folds]: [Vec<Vec<F>>; 3]) -> Batch {
        let known = [
            KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed),
            KnownAir::new(QUERY_INDEX_BUS, 5, true, &windows),
            KnownAir::new(FRI_FOLD_BUS, 3 + D, true, &folds),
        ];
        let mut traces = vec![trace];
        traces.extend(known.iter().map(KnownAir::trace));
        let mut airs = vec![TestAir::FinalPoly(air())];
        airs.extend(known.into_iter().map(TestAir::Known));
        Batch {
            airs,
            traces,
            buses: vec![TRANSCRIPT_OBSERVE_BUS, QUERY_INDEX_BUS, FRI_FOLD_BUS],
        }
    }

    fn width() -> usize {
        BaseAir::<F>::width(&air())
    }

    #[test]
    fn each_query_gets_plonky3s_evaluation_and_the_batch_proves() {
        let ts = [transcript(1), transcript(2)];
        let (trace, values) = air().generate_trace(&ts, MIN_HEIGHT);
        for ((coeffs, points), vals) in ts.iter().zip(&values) {
            for (&(_, x), v) in points.iter().zip(vals) {
                assert_eq!(*v, coeffs.iter().copied().horner(x));
            }
        }
        let b = batch(trace, others(&ts));
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }

    #[test]
    fn a_folded_value_off_the_polynomial_is_caught() {
        let ts = [transcript(1)];
        let (trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        let mut o = others(&ts);
        o[2][1][3] += F::ONE;
        batch(trace, o).caught(|f| f == &BTreeSet::from([Failed::Bus(FRI_FOLD_BUS)]));
    }

    #[test]
    fn another_coefficient_or_point_is_caught_on_its_bus() {
        // The trace evaluates another polynomial: the transcript observed this one.
        let ts = [transcript(1)];
        let mut other = ts[0].clone();
        other.0[3] += Challenge::ONE;
        let (trace, _) = air().generate_trace(&[other.clone()], MIN_HEIGHT);
        let mut o = others(&ts);
        o[2] = others(std::slice::from_ref(&other))[2].clone();
        batch(trace, o).caught(|f| f == &BTreeSet::from([Failed::Bus(TRANSCRIPT_OBSERVE_BUS)]));
        // ... or at another point than the query's window.
        let mut other = ts[0].clone();
        other.1[2].1 += F::ONE;
        let (trace, _) = air().generate_trace(&[other.clone()], MIN_HEIGHT);
        let mut o = others(&ts);
        o[2] = others(std::slice::from_ref(&other))[2].clone();
        batch(trace, o).caught(|f| f == &BTreeSet::from([Failed::Bus(QUERY_INDEX_BUS)]));
    }

    #[test]
    fn a_broken_horner_step_or_moving_point_is_caught() {
        let ts = [transcript(1)];
        let w = width();
        let q0 = FIXED;
        for (r, col) in [
            (0, q0),
            (3, q0 + 2),
            (5, q0 + D),
            (2, q0 + PER_QUERY + D + 1),
        ] {
            let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
            trace.values[r * w + col] += F::ONE;
            let failed = batch(trace.clone(), others(&ts)).failed();
            // Editing a row other than the last leaves the buses to the constraints; at most
            // the first row's window message also moves.
            assert!(
                failed.iter().any(|f| matches!(f, Failed::Constraint(_))),
                "{failed:?}"
            );
            assert!(batch(trace, others(&ts)).prove_and_verify().is_err());
        }
        // The first row's accumulator not the highest coefficient.
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        let mut acc: Challenge = ext::element(trace.values[q0..q0 + D].try_into().unwrap());
        acc += Challenge::ONE;
        trace.values[q0..q0 + D].copy_from_slice(&ext::coords(acc));
        // ... carried consistently down the block, so only the first-row rule fails.
        let (_, points) = &ts[0];
        let x = points[0].1;
        for r in 1..L {
            let c: Challenge = ext::element(
                trace.values[r * w + COEFF..r * w + COEFF + D]
                    .try_into()
                    .unwrap(),
            );
            acc = acc * x + c;
            trace.values[r * w + q0..r * w + q0 + D].copy_from_slice(&ext::coords(acc));
        }
        let mut o = others(&ts);
        o[2][0][3..].copy_from_slice(&ext::coords(acc));
        batch(trace, o).caught(only_constraints);
    }

    #[test]
    fn inactive_and_padding_blocks_unbalance_the_buses() {
        let ts = [transcript(1)];
        let w = width();
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        for r in 0..L {
            trace.values[r * w + ACTIVE] = F::ZERO;
        }
        let all = BTreeSet::from([
            Failed::Bus(TRANSCRIPT_OBSERVE_BUS),
            Failed::Bus(QUERY_INDEX_BUS),
            Failed::Bus(FRI_FOLD_BUS),
        ]);
        batch(trace, others(&ts)).caught(|f| f == &all);
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        for r in L..2 * L {
            trace.values[r * w + ACTIVE] = F::ONE;
        }
        batch(trace, others(&ts)).caught(|f| f == &all);
    }
}
