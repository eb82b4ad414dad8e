//! `FinalPolyAir`: the FRI final polynomial, evaluated at every query's last folded point and
//! compared with its folded value (Plonky3 0.8 `verify_fri`, `FinalPolyMismatch`).
//!
//! The final polynomial's coefficients are transcript observations (`final_poly`, coefficient 0
//! first, each as its five coordinates). After the last round the native verifier evaluates it,
//! by Horner's rule from the highest coefficient, at `x = g_k^reverse_bits_len(i, k)` (`k` the
//! log of the largest LDE height, `i` the query's domain index shifted by every round's log
//! arity), and requires the query's folded value.
//!
//! **One block per query, one row per coefficient.** A transcript's queries take one block of
//! `L` rows each (`L` coefficients, a power of two), so the AIR is [`WIDTH`] columns whatever
//! the number of queries. Row `r` of a block holds the coefficient `c_(L-1-r)` and the
//! accumulator: `acc = c_(L-1)` on the first row, `acc' = acc * x + c` down the block, the
//! transcript, the query (its index sample's transcript position), the point `x` and its index
//! constant. On the first row the block receives its point as the window
//! `(transcript, query, tag, index, x)` from `"query-index"` ([`super::bits::SampledBitsAir`],
//! window `[R, k)` with generator `g_(k-R)`, where `R` is the total log arity); on the last row
//! it receives `(transcript, query, rounds, acc)` from `"fri-fold"`: the folded value the last
//! round sent must be the polynomial's value.
//!
//! **The coefficients are the transcript's, in every block.** One block per transcript, its
//! `owner`, sends each coefficient's coordinates on `"transcript-observe"` at their positions
//! (so the transcript absorbs exactly these values) and sends `(transcript, position, coeff)` on
//! `"final-poly"` once per query; every block receives it once per row. The query column is the
//! prover's, but every sender's count is the verifier's: each query's window and folded value
//! are sent once to this AIR, so the active blocks of a transcript are its queries, each once;
//! the transcript observes each position once, so exactly one of them is the owner; and then
//! `"final-poly"` balances only if every block's coefficients are the owner's.

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::bits::QUERY_INDEX_BUS;
use super::duplex::TRANSCRIPT_OBSERVE_BUS;
use super::ext::{self, D};
use super::fold::FRI_FOLD_BUS;
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// Bus of the final polynomial's coefficients `(transcript, position, coeff[5])`, sent by a
/// transcript's owner block once per query and received by every row of its blocks.
pub const FINAL_POLY_BUS: &str = "final-poly";

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

// Column layout.
const TRANSCRIPT: usize = 0;
const ACTIVE: usize = 1;
/// The query's index sample position (constant down the block).
const QUERY: usize = 2;
/// The block that observes the coefficients and sends them to the others.
const OWNER: usize = 3;
const INDEX: usize = 4;
const X: usize = 5;
/// Mirrors of the periodic columns `first`, `last`, positions[5].
const FIRST: usize = 6;
const LAST: usize = 7;
const POSITIONS: usize = 8;
const COEFF: usize = POSITIONS + D;
const ACC: usize = COEFF + D;
/// Columns of the AIR.
pub const WIDTH: usize = ACC + D;

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
    /// The first transcript's number ([`Self::numbered_from`]).
    first: u32,
}

impl FinalPolyAir {
    /// # Panics
    /// If the coefficient count is not a power of two of at least 2, or positions are not five
    /// per coefficient, or there is no query (a verifier's schedule, so a bug).
    pub fn new(shape: FinalPolyShape) -> Self {
        assert_eq!(
            shape.positions.len() % D,
            0,
            "five coordinates per coefficient"
        );
        assert!(!shape.queries.is_empty(), "a query");
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
            first: 0,
        }
    }

    /// The same AIR whose trace numbers its transcripts from `first` (transcript `t` of the
    /// trace is `first + t`). Unlike the other verifier AIRs, no constraint holds a block's
    /// number: a transcript's blocks here are its queries, and nothing they do is keyed by a
    /// number no other AIR vouches for. Every message a block sends or receives is keyed by its
    /// transcript and answered by blocks whose numbers are held (`super::first_block_number`):
    /// its point and index from that transcript's `SampledBitsAir` block, its last fold from
    /// its `FriFoldAir` block, and its owner's coefficients are observed once each by its
    /// `DuplexAir` block (so one owner per transcript, and the other blocks receive exactly
    /// that owner's coefficients).
    #[must_use]
    pub fn numbered_from(mut self, first: u32) -> Self {
        self.first = first;
        self
    }

    /// The trace of transcripts `(coefficients, points)`: the final polynomial (coefficient 0
    /// first) and each query's `(index, x)`; one block per query (the first query's the owner),
    /// then padding blocks up to a power of two and at least `min_height` rows. Also each
    /// query's value `poly(x)` per transcript.
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
        let q_count = self.shape.queries.len();
        let height = (transcripts.len() * q_count * l)
            .max(min_height)
            .next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        let mut values = Vec::with_capacity(transcripts.len());
        for (b, block) in trace.chunks_exact_mut(l * WIDTH).enumerate() {
            let (t, q) = (b / q_count, b % q_count);
            let active = t < transcripts.len();
            let mut acc = Challenge::ZERO;
            for (r, row) in block.chunks_exact_mut(WIDTH).enumerate() {
                row[TRANSCRIPT] = F::from_usize(self.first as usize + t);
                row[FIRST] = self.periodic[P_FIRST][r];
                row[LAST] = self.periodic[P_LAST][r];
                for i in 0..D {
                    row[POSITIONS + i] = self.periodic[P_POSITIONS + i][r];
                }
                if !active {
                    // Padding: zero coefficients at point 0, a valid Horner run.
                    continue;
                }
                let (coeffs, points) = &transcripts[t];
                assert_eq!(coeffs.len(), l, "coefficients");
                assert_eq!(points.len(), q_count, "queries");
                let (index, x) = points[q];
                let c = coeffs[l - 1 - r];
                acc = acc * x + c;
                row[ACTIVE] = F::ONE;
                row[QUERY] = F::from_usize(self.shape.queries[q]);
                row[OWNER] = F::from_bool(q == 0);
                row[INDEX] = F::from_usize(index);
                row[X] = x;
                row[COEFF..COEFF + D].copy_from_slice(&ext::coords(c));
                row[ACC..ACC + D].copy_from_slice(&ext::coords(acc));
            }
            if active {
                if q == 0 {
                    values.push(Vec::with_capacity(q_count));
                }
                values[t].push(acc);
            }
        }
        (RowMajorMatrix::new(trace, WIDTH), values)
    }
}

verifier_base_air!(FinalPolyAir, |_: &FinalPolyAir| WIDTH);

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
        builder.assert_bool(row[OWNER]);
        builder.assert_eq(row[FIRST], p[P_FIRST].clone());
        builder.assert_eq(row[LAST], p[P_LAST].clone());
        for i in 0..D {
            builder.assert_eq(row[POSITIONS + i], p[P_POSITIONS + i].clone());
        }
        // The first row: the highest coefficient.
        for i in 0..D {
            builder.assert_zero(p[P_FIRST].clone() * (row[ACC + i] - row[COEFF + i]));
        }
        // Down the block: one Horner step; the transcript, query, owner, point and index
        // constant.
        let within = one - p[P_LAST].clone();
        let mut t = builder.when_transition();
        for i in 0..D {
            t.assert_zero(
                within.clone() * (next[ACC + i] - (row[ACC + i] * row[X] + next[COEFF + i])),
            );
        }
        for c in [TRANSCRIPT, ACTIVE, QUERY, OWNER, INDEX, X] {
            t.assert_zero(within.clone() * (next[c] - row[c]));
        }

        let observe = PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS);
        for i in 0..D {
            observe.send(
                builder,
                [row[TRANSCRIPT], row[POSITIONS + i], row[COEFF + i]],
                Count::bounded(row[ACTIVE] * row[OWNER], 1),
            );
        }
        let coefficient: Vec<AB::Expr> = [row[TRANSCRIPT], row[POSITIONS]]
            .into_iter()
            .chain((0..D).map(|i| row[COEFF + i]))
            .map(Into::into)
            .collect();
        let queries = self.shape.queries.len();
        let bus = PermutationCheckBus::new(FINAL_POLY_BUS);
        bus.send(
            builder,
            coefficient.clone(),
            Count::bounded(
                row[ACTIVE] * row[OWNER] * AB::Expr::from_usize(queries),
                queries as u32,
            ),
        );
        bus.receive(builder, coefficient, Count::bounded(row[ACTIVE].into(), 1));
        PermutationCheckBus::new(QUERY_INDEX_BUS).receive(
            builder,
            [
                row[TRANSCRIPT].into(),
                row[QUERY].into(),
                AB::Expr::from_usize(self.shape.point_tag),
                row[INDEX].into(),
                row[X].into(),
            ],
            Count::bounded(row[ACTIVE] * row[FIRST], 1),
        );
        let mut m: Vec<AB::Expr> = vec![
            row[TRANSCRIPT].into(),
            row[QUERY].into(),
            AB::Expr::from_usize(self.shape.rounds),
        ];
        m.extend((0..D).map(|i| row[ACC + i].into()));
        PermutationCheckBus::new(FRI_FOLD_BUS).receive(
            builder,
            m,
            Count::bounded(row[ACTIVE] * row[LAST], 1),
        );
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
            buses: vec![
                TRANSCRIPT_OBSERVE_BUS,
                QUERY_INDEX_BUS,
                FRI_FOLD_BUS,
                FINAL_POLY_BUS,
            ],
        }
    }

    /// The first row of query `q`'s block in transcript 0.
    fn block(q: usize) -> usize {
        q * L
    }

    /// Rewrites the accumulator of the block starting at `first` from its coefficient and point
    /// columns, so that its Horner rule holds; returns the value.
    fn rerun(trace: &mut RowMajorMatrix<F>, first: usize) -> Challenge {
        let v = &mut trace.values;
        let x = v[first * WIDTH + X];
        let mut acc = Challenge::ZERO;
        for r in first..first + L {
            let c = ext::element(
                v[r * WIDTH + COEFF..r * WIDTH + COEFF + D]
                    .try_into()
                    .unwrap(),
            );
            acc = acc * x + c;
            v[r * WIDTH + ACC..r * WIDTH + ACC + D].copy_from_slice(&ext::coords(acc));
        }
        acc
    }

    #[test]
    fn each_query_gets_plonky3s_evaluation_and_the_batch_proves() {
        let ts = [transcript(1), transcript(2)];
        let (trace, values) = air().generate_trace(&ts, MIN_HEIGHT);
        assert_eq!(trace.width, WIDTH, "as wide for any number of queries");
        for ((coeffs, points), vals) in ts.iter().zip(&values) {
            assert_eq!(vals.len(), QUERIES.len());
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

    /// A block that is not its owner's evaluates the owner's polynomial: one coefficient of its
    /// own, the Horner run and the folded value consistent with it, fails only the coefficient
    /// bus.
    #[test]
    fn a_block_with_a_coefficient_of_its_own_is_caught() {
        let ts = [transcript(1)];
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        let at = (block(1) + 2) * WIDTH + COEFF + 1;
        trace.values[at] += F::ONE;
        let value = rerun(&mut trace, block(1));
        let mut o = others(&ts);
        o[2][1][3..].copy_from_slice(&ext::coords(value));
        batch(trace, o).caught(|f| f == &BTreeSet::from([Failed::Bus(FINAL_POLY_BUS)]));
    }

    /// Two owners observe the coefficients twice, none never: both unbalance the observation
    /// and coefficient buses.
    #[test]
    fn one_owner_per_transcript() {
        let ts = [transcript(1)];
        let expected = BTreeSet::from([
            Failed::Bus(TRANSCRIPT_OBSERVE_BUS),
            Failed::Bus(FINAL_POLY_BUS),
        ]);
        for (q, owner) in [(1, F::ONE), (0, F::ZERO)] {
            let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
            for r in block(q)..block(q) + L {
                trace.values[r * WIDTH + OWNER] = owner;
            }
            batch(trace, others(&ts)).caught(|f| f == &expected);
        }
    }

    /// A block claiming another query's place (its index, point and value): that query's
    /// window and folded value are received twice, its own never.
    #[test]
    fn a_block_in_another_querys_place_is_caught() {
        let ts = [transcript(1)];
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        for r in 0..L {
            for c in [QUERY, INDEX, X] {
                trace.values[(block(1) + r) * WIDTH + c] = trace.values[(block(0) + r) * WIDTH + c];
            }
        }
        let _ = rerun(&mut trace, block(1));
        batch(trace, others(&ts)).caught(|f| {
            f == &BTreeSet::from([Failed::Bus(QUERY_INDEX_BUS), Failed::Bus(FRI_FOLD_BUS)])
        });
    }

    #[test]
    fn a_broken_horner_step_or_moving_point_is_caught() {
        let ts = [transcript(1)];
        for (r, col) in [
            (0, ACC),
            (3, ACC + 2),
            (5, X),
            (block(1) + 2, INDEX),
            (block(2) + 4, QUERY),
            (block(1) + 3, OWNER),
            (block(2) + 1, TRANSCRIPT),
        ] {
            let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
            trace.values[r * WIDTH + col] += F::ONE;
            let failed = batch(trace.clone(), others(&ts)).failed();
            assert!(
                failed.iter().any(|f| matches!(f, Failed::Constraint(_))),
                "row {r}, column {col}: {failed:?}"
            );
            assert!(batch(trace, others(&ts)).prove_and_verify().is_err());
        }
        // The first row's accumulator not the highest coefficient, carried consistently down
        // the block, so only the first-row rule fails.
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        let mut acc: Challenge = ext::element(trace.values[ACC..ACC + D].try_into().unwrap());
        acc += Challenge::ONE;
        trace.values[ACC..ACC + D].copy_from_slice(&ext::coords(acc));
        let x = ts[0].1[0].1;
        for r in 1..L {
            let c: Challenge = ext::element(
                trace.values[r * WIDTH + COEFF..r * WIDTH + COEFF + D]
                    .try_into()
                    .unwrap(),
            );
            acc = acc * x + c;
            trace.values[r * WIDTH + ACC..r * WIDTH + ACC + D].copy_from_slice(&ext::coords(acc));
        }
        let mut o = others(&ts);
        o[2][0][3..].copy_from_slice(&ext::coords(acc));
        batch(trace, o).caught(only_constraints);
    }

    #[test]
    fn inactive_and_padding_blocks_unbalance_the_buses() {
        let ts = [transcript(1)];
        let blocks = QUERIES.len();
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        for r in 0..blocks * L {
            trace.values[r * WIDTH + ACTIVE] = F::ZERO;
        }
        batch(trace, others(&ts)).caught(|f| {
            f == &BTreeSet::from([
                Failed::Bus(TRANSCRIPT_OBSERVE_BUS),
                Failed::Bus(QUERY_INDEX_BUS),
                Failed::Bus(FRI_FOLD_BUS),
            ])
        });
        let (mut trace, _) = air().generate_trace(&ts, MIN_HEIGHT);
        for r in blocks * L..(blocks + 1) * L {
            trace.values[r * WIDTH + ACTIVE] = F::ONE;
        }
        batch(trace, others(&ts)).caught(|f| {
            f == &BTreeSet::from([
                Failed::Bus(QUERY_INDEX_BUS),
                Failed::Bus(FRI_FOLD_BUS),
                Failed::Bus(FINAL_POLY_BUS),
            ])
        });
    }
}
