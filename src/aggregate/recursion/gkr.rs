//! `FractionGkrAir`: the verifier's side of p3-multi-stark 0.8's fractional GKR (the LogUp
//! reduction of a multilinear child, `p3_multi_stark::fractional_gkr::verify_fractional_gkr`),
//! everything but the layers' sumcheck rounds, which [`super::sumcheck::SumcheckAir`] checks.
//!
//! **The protocol.** A reduction over `K` variables observes the root denominator `d` (the
//! root numerator is zero: the fractions sum to zero), then runs `K` layers. Layer `k` samples a
//! batching challenge `lambda`, runs a degree-3 sumcheck of `k` rounds from the claim
//! `n + lambda d` (`n`, `d` the layer's claims at the point `p` of `k` coordinates), observes the
//! two children `n0, d0, n1, d1` and samples the branch `r`. The layer closes when the
//! sumcheck's final claim equals `eq(p, q) * gate` for its round challenges `q`, with
//! `eq(p, q) = prod_i (2 p_i q_i - p_i - q_i + 1)` and `gate = d1 n0 + d0 n1 + lambda d0 d1`;
//! the next layer's claims are `n0 + r (n1 - n0)`, `d0 + r (d1 - d0)` at the point `(r, q)`.
//! Layer 0 has no round: its claim `lambda d` must equal its gate. The root denominator must not
//! be zero. The reduction's output is the last layer's folded claims and point, which the
//! caller must tie to the committed tables (p3 calls them claims, not authenticated values).
//!
//! **Layout: positions linear in the layer, no schedule.** The reduction is one pattern with no
//! seed inside it (p3's `FractionGkrShape::pattern`), so from `start`, the position of the root
//! denominator's first coordinate, layer `k` begins at `L_k = start + 5 + sum_{j<k} (30 + 20 j)`
//! (`L_{k+1} = L_k + 30 + 20 k`): `lambda` at `L_k`, round `i` at `L_k + 5 + 20 i` (three values,
//! then its challenge at `L_k + 20 + 20 i`), the children at `L_k + 5 + 20 k`, the branch at
//! `L_k + 25 + 20 k`. The point of layer `k >= 1` is the previous layer's branch (at
//! `L_k - 5`) followed by its round challenges (coordinate `i >= 1` at `L_k + 10 - 20 k + 20 (i - 1)`).
//!
//! **Rows.** One block of rows per reduction, one run of rows per layer: layer 0 is one row,
//! layer `k >= 1` is `k` rows, row `i` multiplying coordinate `i` of `eq(p, q)` into `acc`. A
//! layer's columns (its claims, `lambda`, children, branch, the sumcheck's final claim) are
//! constant down its run; the next layer's claims are the fold of this one's children, its
//! start and index follow from this one's. Per layer, on its last row:
//!
//! - `lambda` and the branch are received on `"transcript-sample"` at their positions, the
//!   children's twenty coordinates sent on `"transcript-observe"` at theirs;
//! - layer `k >= 1` sends `(transcript, L_k + 5, n + lambda d)` on
//!   [`super::sumcheck::SUMCHECK_CLAIM_BUS`] (first row) and receives
//!   `(transcript, L_k + 5, k, final claim)` on [`super::sumcheck::SUMCHECK_RESULT_BUS`];
//! - the closing constraint `final claim = acc * gate` (layer 0: `n + lambda d = gate`, `n = 0`);
//! - each eq row receives `p_i` and `q_i` from `"transcript-sample"` at the positions above
//!   (the round challenges are sampled once and used here as well as by the sumcheck; the
//!   transcript's schedule counts every use);
//! - layer 0 sends the root denominator on `"transcript-observe"` at `start` and holds its
//!   inverse (so it is not zero);
//! - the reduction's last layer sends `(transcript, start, K, n, d)` on [`GKR_RESULT_BUS`]: the
//!   folded claims the caller must check at the point, whose coordinates it takes from the
//!   transcript at the last layer's positions, as the eq rows do.
//!
//! **Why a forged reduction fails.** Each message is an observation at a position the layout
//! fixes and each challenge a sample at one, so another value leaves a transcript bus
//! unbalanced; a layer's children that do not close it break the closing constraint; a claim
//! not folded from the previous layer, a layer index or start that does not follow, a run of
//! other than `k` rows, break a constraint; a reduction with fewer or more layers than the
//! caller's shape sends another `K` on the result bus. Padding rows (inactive one-row reductions)
//! send and receive nothing.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::{Field, PrimeCharacteristicRing};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::duplex::{TRANSCRIPT_OBSERVE_BUS, TRANSCRIPT_SAMPLE_BUS};
use super::ext::{self, coords, element, D};
use super::sumcheck::{SumcheckRun, SUMCHECK_CLAIM_BUS, SUMCHECK_RESULT_BUS};
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// Bus of a reduction's output `(transcript, start, layers, numerator (5), denominator (5))`,
/// sent on its last layer's last row and received by the caller that checks the claims.
pub const GKR_RESULT_BUS: &str = "gkr-result";

/// Transcript positions of one layer's batching challenge.
const LAMBDA_LEN: usize = D;
/// Transcript positions of one round of a layer's sumcheck: three values, then the challenge.
pub const ROUND_STRIDE: usize = 4 * D;
/// Position of a round's challenge from the round's first position.
pub const CHALLENGE_AT: usize = 3 * D;
/// Transcript positions of a layer's children `n0, d0, n1, d1`.
const CHILDREN_LEN: usize = 4 * D;

/// The columns of one row (110), viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct GkrCols<T> {
    /// The child transcript's number (constant down a reduction).
    pub transcript: T,
    /// Position of the root denominator's first coordinate (constant down a reduction).
    pub start: T,
    /// The layer `k`, from 0.
    pub layer: T,
    /// Position of the layer's batching challenge, `L_k`.
    pub at: T,
    /// The coordinate of `eq(p, q)` this row multiplies in (0 on layer 0's row).
    pub coord: T,
    /// Position of `p_coord`.
    pub pa: T,
    /// Position of `q_coord`.
    pub pb: T,
    /// 1 in a reduction that sends and receives, 0 in padding (constant down a reduction).
    pub active: T,
    /// 1 on a layer's first row.
    pub first: T,
    /// 1 on a layer's last row.
    pub last: T,
    /// 1 on layer 0's row.
    pub root: T,
    /// 1 on the reduction's last layer.
    pub end: T,
    /// `active * root`.
    pub live_root: T,
    /// `active * (1 - root)`: the rows that read `eq`'s coordinates.
    pub live_eq: T,
    /// `active * end * last`: the row that sends the output.
    pub out: T,
    /// The batching challenge.
    pub lambda: [T; D],
    /// The layer's numerator claim `n` (0 on layer 0).
    pub numerator: [T; D],
    /// The layer's denominator claim `d` (the root denominator on layer 0).
    pub denominator: [T; D],
    /// `n + lambda d`: the sumcheck's claimed sum.
    pub claim: [T; D],
    /// `n0, d0, n1, d1`.
    pub children: [[T; D]; 4],
    /// The branch challenge `r`.
    pub branch: [T; D],
    /// `d0 d1`.
    pub d0d1: [T; D],
    /// `d1 n0 + d0 n1 + lambda d0 d1`.
    pub gate: [T; D],
    /// `n0 + r (n1 - n0)`: the next layer's numerator.
    pub folded_numerator: [T; D],
    /// `d0 + r (d1 - d0)`: the next layer's denominator.
    pub folded_denominator: [T; D],
    /// The sumcheck's final claim (the claim itself on layer 0).
    pub result: [T; D],
    /// The root denominator's inverse (layer 0).
    pub inverse: [T; D],
    /// `p_coord`.
    pub a: [T; D],
    /// `q_coord`.
    pub b: [T; D],
    /// `a b`.
    pub ab: [T; D],
    /// `prod_{i <= coord} (2 p_i q_i - p_i - q_i + 1)`; 1 on layer 0.
    pub acc: [T; D],
}

crate::aggregate::air::row_view!(GkrCols);

/// Width of [`FractionGkrAir`].
pub const WIDTH: usize = core::mem::size_of::<GkrCols<u8>>();

/// The fractional GKR reductions of multilinear children, but their sumcheck rounds (module
/// docs).
#[derive(Clone, Debug, Default)]
pub struct FractionGkrAir {
    /// No periodic column (the shared `BaseAir` of the verifier AIRs reads this field).
    periodic: Vec<Vec<F>>,
}

/// One layer as the verifier replays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GkrLayerRun {
    /// The batching challenge.
    pub lambda: Challenge,
    /// Round `i`'s values at 0, 2, 3 (`k` rounds on layer `k`).
    pub rounds: Vec<[Challenge; 3]>,
    /// Round `i`'s challenge.
    pub challenges: Vec<Challenge>,
    /// `n0, d0, n1, d1`.
    pub children: [Challenge; 4],
    /// The branch challenge.
    pub branch: Challenge,
}

/// One reduction as the verifier replays it: its key, the root denominator and its layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GkrRun {
    /// The child transcript's number.
    pub transcript: u32,
    /// Position of the root denominator's first coordinate.
    pub start: usize,
    /// The root denominator.
    pub root_denominator: Challenge,
    /// Layer `k` at index `k`.
    pub layers: Vec<GkrLayerRun>,
}

/// A reduction's output: the last layer's folded claims at the point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GkrOutput {
    /// `(r, q)` of the last layer: `K` coordinates.
    pub point: Vec<Challenge>,
    /// The numerator claim.
    pub numerator: Challenge,
    /// The denominator claim.
    pub denominator: Challenge,
}

/// Position of layer `k`'s batching challenge in a reduction whose root denominator is at
/// `start` (module docs).
#[must_use]
pub fn layer_at(start: usize, k: usize) -> usize {
    start + D + 30 * k + 10 * k * k.saturating_sub(1)
}

/// Transcript positions of the coordinates of the output point ([`GkrOutput::point`]) of a
/// reduction of `layers` layers whose root denominator is at `start`: the last layer's branch,
/// then its round challenges (module docs); none for no layer.
#[must_use]
pub fn point_positions(start: usize, layers: usize) -> Vec<usize> {
    let Some(k) = layers.checked_sub(1) else {
        return Vec::new();
    };
    let at = layer_at(start, k);
    std::iter::once(at + LAMBDA_LEN + k * ROUND_STRIDE + CHILDREN_LEN)
        .chain((0..k).map(|i| at + LAMBDA_LEN + i * ROUND_STRIDE + CHALLENGE_AT))
        .collect()
}

/// The number of transcript positions of a reduction of `layers` layers, root denominator
/// included.
#[must_use]
pub fn positions(layers: usize) -> usize {
    layer_at(0, layers)
}

impl GkrRun {
    /// The reduction of `layers` layers whose root denominator is at `start` of transcript
    /// `transcript`, read from that transcript's elements (`element(position)`) at the
    /// positions the layout fixes: what a prover of the verifier AIRs reads from its child's
    /// recorded transcript.
    pub fn read(
        transcript: u32,
        start: usize,
        layers: usize,
        element_at: impl Fn(usize) -> F,
    ) -> Self {
        let value = |p: usize| element(core::array::from_fn(|j| element_at(p + j)));
        let layers = (0..layers)
            .map(|k| {
                let at = layer_at(start, k);
                let round = |i: usize| at + LAMBDA_LEN + i * ROUND_STRIDE;
                GkrLayerRun {
                    lambda: value(at),
                    rounds: (0..k)
                        .map(|i| core::array::from_fn(|v| value(round(i) + v * D)))
                        .collect(),
                    challenges: (0..k).map(|i| value(round(i) + CHALLENGE_AT)).collect(),
                    children: core::array::from_fn(|c| value(round(k) + c * D)),
                    branch: value(round(k) + CHILDREN_LEN),
                }
            })
            .collect();
        Self {
            transcript,
            start,
            root_denominator: value(start),
            layers,
        }
    }

    /// Each layer's sumcheck (layers 1 on), for [`super::sumcheck::SumcheckAir`] of degree 3
    /// without grinding, from the claims this reduction's layers fold to.
    pub fn sumchecks(&self) -> Vec<SumcheckRun> {
        let mut out = Vec::new();
        let (mut n, mut d) = (Challenge::ZERO, self.root_denominator);
        for (k, layer) in self.layers.iter().enumerate() {
            if k > 0 {
                out.push(SumcheckRun {
                    transcript: self.transcript,
                    start: layer_at(self.start, k) + LAMBDA_LEN,
                    claim: n + layer.lambda * d,
                    rounds: layer.rounds.iter().map(|r| r.to_vec()).collect(),
                    challenges: layer.challenges.clone(),
                });
            }
            let [n0, d0, n1, d1] = layer.children;
            n = n0 + layer.branch * (n1 - n0);
            d = d0 + layer.branch * (d1 - d0);
        }
        out
    }
}

fn eq_term(a: Challenge, b: Challenge) -> Challenge {
    (a * b).double() - a - b + Challenge::ONE
}

impl FractionGkrAir {
    /// The AIR.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The trace of `runs`, one block each in the given order, then padding rows up to a power of
    /// two of at least `min_height`; and each reduction's output, computed as the constraints
    /// do (whether or not its layers close: a trace of a reduction that does not close breaks
    /// a constraint).
    ///
    /// # Errors
    /// A message for a reduction with no layer, or a layer `k` without `k` rounds and `k`
    /// challenges.
    pub fn generate_trace(
        &self,
        runs: &[GkrRun],
        min_height: usize,
    ) -> Result<(RowMajorMatrix<F>, Vec<GkrOutput>), String> {
        let mut rows = 0;
        for run in runs {
            if run.layers.is_empty() {
                return Err("a fractional GKR of no layer".into());
            }
            for (k, layer) in run.layers.iter().enumerate() {
                if layer.rounds.len() != k || layer.challenges.len() != k {
                    return Err(format!(
                        "layer {k} of {} rounds and {} challenges",
                        layer.rounds.len(),
                        layer.challenges.len()
                    ));
                }
                rows += k.max(1);
            }
        }
        let height = rows.max(min_height).max(1).next_power_of_two();
        let mut values = F::zero_vec(height * WIDTH);
        let mut outputs = Vec::with_capacity(runs.len());
        let mut r = 0;
        for run in runs {
            let sumchecks = run.sumchecks();
            let (mut n, mut d) = (Challenge::ZERO, run.root_denominator);
            let mut point: Vec<Challenge> = Vec::new();
            let num_layers = run.layers.len();
            for (k, layer) in run.layers.iter().enumerate() {
                let at = layer_at(run.start, k);
                let [n0, d0, n1, d1] = layer.children;
                let claim = n + layer.lambda * d;
                let result = if k == 0 {
                    claim
                } else {
                    sumchecks[k - 1].final_claim()
                };
                let folded_n = n0 + layer.branch * (n1 - n0);
                let folded_d = d0 + layer.branch * (d1 - d0);
                let mut acc = Challenge::ONE;
                // Row `i` reads coordinate `i` of two points (none on layer 0's one row).
                #[allow(clippy::needless_range_loop)]
                for i in 0..k.max(1) {
                    let row: &mut GkrCols<F> = values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
                    row.transcript = F::from_u32(run.transcript);
                    row.start = F::from_usize(run.start);
                    row.layer = F::from_usize(k);
                    row.at = F::from_usize(at);
                    row.coord = F::from_usize(i);
                    row.active = F::ONE;
                    row.first = F::from_bool(i == 0);
                    row.last = F::from_bool(i + 1 == k.max(1));
                    row.root = F::from_bool(k == 0);
                    row.end = F::from_bool(k + 1 == num_layers);
                    row.live_root = row.root;
                    row.live_eq = F::ONE - row.root;
                    row.out = row.end * row.last;
                    row.lambda = coords(layer.lambda);
                    row.numerator = coords(n);
                    row.denominator = coords(d);
                    row.claim = coords(claim);
                    row.children = layer.children.map(coords);
                    row.branch = coords(layer.branch);
                    row.d0d1 = coords(d0 * d1);
                    row.gate = coords(d1 * n0 + d0 * n1 + layer.lambda * d0 * d1);
                    row.folded_numerator = coords(folded_n);
                    row.folded_denominator = coords(folded_d);
                    row.result = coords(result);
                    if k == 0 {
                        row.inverse = coords(d.try_inverse().unwrap_or(Challenge::ZERO));
                    } else {
                        let (a, b) = (point[i], layer.challenges[i]);
                        row.pa = F::from_usize(if i == 0 {
                            at - D
                        } else {
                            at + 10 + 20 * (i - 1) - 20 * k
                        });
                        row.pb = F::from_usize(at + LAMBDA_LEN + i * ROUND_STRIDE + CHALLENGE_AT);
                        row.a = coords(a);
                        row.b = coords(b);
                        row.ab = coords(a * b);
                        acc *= eq_term(a, b);
                    }
                    row.acc = coords(acc);
                    r += 1;
                }
                n = folded_n;
                d = folded_d;
                point = std::iter::once(layer.branch)
                    .chain(layer.challenges.iter().copied())
                    .collect();
            }
            outputs.push(GkrOutput {
                point,
                numerator: n,
                denominator: d,
            });
        }
        // Padding: inactive one-row reductions of one layer, closing on zeros.
        for p in r..height {
            let row: &mut GkrCols<F> = values[p * WIDTH..(p + 1) * WIDTH].borrow_mut();
            row.first = F::ONE;
            row.last = F::ONE;
            row.root = F::ONE;
            row.end = F::ONE;
            row.at = F::from_usize(D);
            row.acc = coords(Challenge::ONE);
        }
        Ok((RowMajorMatrix::new(values, WIDTH), outputs))
    }
}

verifier_base_air!(FractionGkrAir, |_: &FractionGkrAir| WIDTH);

impl<AB> Air<AB> for FractionGkrAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &GkrCols<AB::Var> = main.current_slice().borrow();
        let next: &GkrCols<AB::Var> = main.next_slice().borrow();
        let one = AB::Expr::ONE;
        let ex = |a: &[AB::Var; D]| -> [AB::Expr; D] { core::array::from_fn(|i| a[i].into()) };
        let num = |k: usize| AB::Expr::from_usize(k);

        for flag in [row.active, row.first, row.last, row.root, row.end] {
            builder.assert_bool(flag);
        }
        builder.assert_eq(row.live_root, row.active * row.root);
        builder.assert_eq(row.live_eq, row.active - row.live_root.into());
        builder.assert_eq(row.out, row.active * row.end * row.last);
        builder.when_first_row().assert_one(row.first);
        builder.when_first_row().assert_one(row.root);
        builder.when_last_row().assert_one(row.last);
        builder.when_last_row().assert_one(row.end);

        // A layer's run: coordinates 0, 1, ..., k - 1 (one row on layer 0).
        builder.when(row.root).assert_one(row.last);
        builder.when(row.first).assert_zero(row.coord);
        builder
            .when(row.last)
            .assert_eq(row.coord + one.clone(), row.layer + row.root.into());

        // Layer 0: the root fraction `0 / d`, `d` not zero, its claim its own result.
        let lambda = ex(&row.lambda);
        let n = ex(&row.numerator);
        let d = ex(&row.denominator);
        {
            let mut r0 = builder.when(row.root);
            r0.assert_zero(row.layer);
            r0.assert_eq(row.at, row.start + num(D));
            for i in 0..D {
                r0.assert_zero(row.numerator[i]);
                r0.assert_eq(row.result[i], row.claim[i]);
            }
        }
        let unit = ext::sub(
            &ext::mul(&d, &ex(&row.inverse)),
            &coords(Challenge::ONE).map(Into::into),
        );
        for u in unit {
            builder.when(row.live_root).assert_zero(u);
        }

        // The layer's arithmetic (degree 2, unconditional: padding rows are zeros).
        let [n0, d0, n1, d1] = core::array::from_fn(|c| ex(&row.children[c]));
        let r = ex(&row.branch);
        let claim = ext::add(&n, &ext::mul(&lambda, &d));
        let d0d1 = ext::mul(&d0, &d1);
        let gate = ext::add(
            &ext::add(&ext::mul(&d1, &n0), &ext::mul(&d0, &n1)),
            &ext::mul(&lambda, &ex(&row.d0d1)),
        );
        let folded_n = ext::add(&n0, &ext::mul(&r, &ext::sub(&n1, &n0)));
        let folded_d = ext::add(&d0, &ext::mul(&r, &ext::sub(&d1, &d0)));
        let ab = ext::mul(&ex(&row.a), &ex(&row.b));
        for i in 0..D {
            builder.assert_eq(row.claim[i], claim[i].clone());
            builder.assert_eq(row.d0d1[i], d0d1[i].clone());
            builder.assert_eq(row.gate[i], gate[i].clone());
            builder.assert_eq(row.folded_numerator[i], folded_n[i].clone());
            builder.assert_eq(row.folded_denominator[i], folded_d[i].clone());
            builder.assert_eq(row.ab[i], ab[i].clone());
        }

        // eq(p, q), one coordinate a row: t = 2 a b - a - b + 1.
        let term = |c: &GkrCols<AB::Var>| -> [AB::Expr; D] {
            core::array::from_fn(|i| {
                let t = c.ab[i].into().double() - c.a[i].into() - c.b[i].into();
                if i == 0 {
                    t + AB::Expr::ONE
                } else {
                    t
                }
            })
        };
        let t = term(row);
        let not_root = one.clone() - row.root.into();
        for (i, (&acc, t)) in row.acc.iter().zip(t).enumerate() {
            // On a layer's first row: acc = 1 on layer 0, t otherwise.
            let start = if i == 0 {
                row.root.into()
            } else {
                AB::Expr::ZERO
            };
            builder
                .when(row.first)
                .assert_eq(acc, start + not_root.clone() * t);
        }
        {
            let mut f = builder.when(row.first * not_root.clone());
            f.assert_eq(row.pa + num(D), row.at);
            f.assert_eq(row.pb, row.at + num(LAMBDA_LEN + CHALLENGE_AT));
        }
        // The closing check on the layer's last row.
        let closing = ext::mul(&ex(&row.acc), &ex(&row.gate));
        for (&result, closing) in row.result.iter().zip(closing) {
            builder.when(row.last).assert_eq(result, closing);
        }

        // Within a layer: its columns constant, the next coordinate multiplied in.
        let mut t_next = builder.when_transition();
        t_next.assert_eq(next.first, row.last);
        let within = one.clone() - row.last.into();
        let constant = [
            row.transcript,
            row.start,
            row.layer,
            row.at,
            row.active,
            row.root,
            row.end,
        ];
        let constant_next = [
            next.transcript,
            next.start,
            next.layer,
            next.at,
            next.active,
            next.root,
            next.end,
        ];
        for (&x, &y) in constant.iter().zip(&constant_next) {
            t_next.assert_zero(within.clone() * (y - x));
        }
        let blocks = |c: &GkrCols<AB::Var>| -> Vec<AB::Var> {
            [
                c.lambda,
                c.numerator,
                c.denominator,
                c.children[0],
                c.children[1],
                c.children[2],
                c.children[3],
                c.branch,
                c.result,
            ]
            .into_iter()
            .flatten()
            .collect()
        };
        for (x, y) in blocks(row).into_iter().zip(blocks(next)) {
            t_next.assert_zero(within.clone() * (y - x));
        }
        t_next.assert_zero(within.clone() * (next.coord - row.coord - one.clone()));
        t_next.assert_zero(within.clone() * (next.pb - row.pb - num(ROUND_STRIDE)));
        // p_1 is the previous layer's first round challenge, then one round stride apart.
        let pa_next = row.first * (row.at + num(10) - row.layer * num(20))
            + (one.clone() - row.first.into()) * (row.pa + num(ROUND_STRIDE));
        t_next.assert_zero(within.clone() * (next.pa - pa_next));
        let acc_next = ext::mul(&ex(&row.acc), &term(next));
        for (&acc, expected) in next.acc.iter().zip(acc_next) {
            t_next.assert_zero(within.clone() * (acc - expected));
        }

        // From a layer to the next of its reduction: index, position and claims follow.
        let cont = row.last * (one.clone() - next.root.into());
        t_next.assert_zero(cont.clone() * (next.transcript - row.transcript));
        t_next.assert_zero(cont.clone() * (next.start - row.start));
        t_next.assert_zero(cont.clone() * (next.active - row.active));
        t_next.assert_zero(cont.clone() * (next.layer - row.layer - one.clone()));
        t_next.assert_zero(cont.clone() * (next.at - row.at - num(30) - row.layer * num(20)));
        for i in 0..D {
            t_next.assert_zero(cont.clone() * (next.numerator[i] - row.folded_numerator[i]));
            t_next.assert_zero(cont.clone() * (next.denominator[i] - row.folded_denominator[i]));
        }
        // A reduction's last layer is followed by another reduction, and only it.
        t_next.assert_zero(row.last * row.end * (one.clone() - next.root.into()));
        t_next.assert_zero(row.last * (one.clone() - row.end.into()) * next.root);

        // The transcript.
        let observe = PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS);
        let sample = PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS);
        let closing_row = || Count::bounded(row.active * row.last, 1);
        let children_at = row.at + num(LAMBDA_LEN) + row.layer * num(ROUND_STRIDE);
        for (c, child) in row.children.iter().enumerate() {
            for (j, &x) in child.iter().enumerate() {
                observe.send(
                    builder,
                    [
                        row.transcript.into(),
                        children_at.clone() + num(c * D + j),
                        x.into(),
                    ],
                    closing_row(),
                );
            }
        }
        for (j, &x) in row.lambda.iter().enumerate() {
            sample.receive(
                builder,
                [row.transcript.into(), row.at + num(j), x.into()],
                closing_row(),
            );
        }
        for (j, &x) in row.branch.iter().enumerate() {
            sample.receive(
                builder,
                [
                    row.transcript.into(),
                    children_at.clone() + num(CHILDREN_LEN + j),
                    x.into(),
                ],
                closing_row(),
            );
        }
        for (j, &x) in row.denominator.iter().enumerate() {
            observe.send(
                builder,
                [row.transcript.into(), row.start + num(j), x.into()],
                Count::bounded(row.live_root.into(), 1),
            );
        }
        for (j, (&a, &b)) in row.a.iter().zip(&row.b).enumerate() {
            sample.receive(
                builder,
                [row.transcript.into(), row.pa + num(j), a.into()],
                Count::bounded(row.live_eq.into(), 1),
            );
            sample.receive(
                builder,
                [row.transcript.into(), row.pb + num(j), b.into()],
                Count::bounded(row.live_eq.into(), 1),
            );
        }

        // The layer's sumcheck: its claimed sum out, its final claim in.
        let key = [row.transcript.into(), row.at + num(LAMBDA_LEN)];
        PermutationCheckBus::new(SUMCHECK_CLAIM_BUS).send(
            builder,
            key.clone()
                .into_iter()
                .chain(row.claim.iter().map(|&c| c.into()))
                .collect::<Vec<AB::Expr>>(),
            Count::bounded(row.live_eq * row.first, 1),
        );
        PermutationCheckBus::new(SUMCHECK_RESULT_BUS).receive(
            builder,
            key.into_iter()
                .chain([row.layer.into()])
                .chain(row.result.iter().map(|&c| c.into()))
                .collect::<Vec<AB::Expr>>(),
            Count::bounded(row.live_eq * row.last, 1),
        );

        // The reduction's output.
        PermutationCheckBus::new(GKR_RESULT_BUS).send(
            builder,
            [
                row.transcript.into(),
                row.start.into(),
                row.layer.into() + one,
            ]
            .into_iter()
            .chain(row.folded_numerator.iter().map(|&c| c.into()))
            .chain(row.folded_denominator.iter().map(|&c| c.into()))
            .collect::<Vec<AB::Expr>>(),
            Count::bounded(row.out.into(), 1),
        );
    }
}

#[cfg(test)]
mod tests {
    //! p3-multi-stark's own fractional GKR (its prover over zero-sum tables, its verifier on a
    //! recorded Poseidon1-24 transcript) and the reduction of a real multilinear child, through
    //! this AIR and `SumcheckAir` together, every transcript element of the reduction (as p3's
    //! pattern schedules it) consumed exactly, the output p3's; each forgery caught by the
    //! constraint or bus that should catch it.

    use std::collections::BTreeSet;

    use p3_multi_stark::fractional_gkr::{
        prove_fractional_gkr, verify_fractional_gkr, Fraction, FractionGkrProof, FractionGkrShape,
        LeafNumerator,
    };
    use p3_multilinear_util::poly::{Poly, PolyMaybePacked};

    use super::*;
    use crate::aggregate::fri::config::{FriHash, Poseidon1};
    use crate::aggregate::recursion::ext::tests::{challenges, pseudo};
    use crate::aggregate::recursion::harness::{
        has_constraint, only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::recursion::multilinear_child::{Event, Recorder};
    use crate::aggregate::recursion::multilinear_schedule::{
        Action, Delegations, MultilinearSchedule, ScheduleError, Step,
    };
    use crate::aggregate::recursion::sumcheck::SumcheckAir;
    use p3_challenger::fs::Label;

    const DOMAIN: &[u8] = b"fractional gkr air test";

    /// A reduction as the verifier saw it: its scheduled steps (the reduction's own, seeds
    /// excluded), its recorded transcript and p3's output.
    struct Reduction {
        steps: Vec<Step>,
        events: Vec<Event>,
        layers: usize,
        output: Option<GkrOutput>,
        proof: FractionGkrProof<Challenge>,
    }

    impl Reduction {
        fn start(&self) -> usize {
            self.steps
                .iter()
                .find(|s| s.path.ends_with(&["root_denominator"]))
                .expect("the root denominator is scheduled")
                .start
        }

        fn run(&self, transcript: u32) -> GkrRun {
            GkrRun::read(transcript, self.start(), self.layers, |p| self.events[p].1)
        }
    }

    /// No sub-protocol inside the reduction's pattern.
    struct None_;

    impl Delegations for None_ {
        fn play(&mut self, _: Label, _: &mut MultilinearSchedule) -> Result<bool, ScheduleError> {
            unreachable!("the reduction delegates nothing")
        }
        fn opaque_len(&self, _: Label) -> usize {
            unreachable!("the reduction sends no commitment")
        }
    }

    /// p3's prover over a zero-sum table of `layers` variables (base-field numerators, the last
    /// leaf solved for), its verifier on a recorded transcript, and the reduction's schedule.
    fn p3s_own(layers: usize, seed: u64) -> Reduction {
        let size = 1 << layers;
        let mut numer: Vec<F> = pseudo(seed).take(size).collect();
        let mut denom: Vec<Challenge> = challenges(seed + 1).take(size).collect();
        let partial: Challenge = (0..size - 1).map(|i| denom[i].inverse() * numer[i]).sum();
        numer[size - 1] = F::ONE;
        denom[size - 1] = -partial.inverse();
        let numer = Poly::new(numer);
        let denom = PolyMaybePacked::Scalar(Poly::new(denom));
        let fraction = Fraction {
            n: LeafNumerator::Base(&numer),
            d: &denom,
        };
        let (proof, prover_output) =
            prove_fractional_gkr::<F, Challenge, _>(fraction, &mut Poseidon1::challenger(DOMAIN));
        let mut recorder = Recorder::new(DOMAIN);
        let output = verify_fractional_gkr::<F, Challenge, _>(&proof, layers, &mut recorder)
            .expect("p3 verifies its own reduction");
        assert_eq!(output, prover_output);
        let mut schedule = MultilinearSchedule::default();
        assert!(schedule
            .play(
                &FractionGkrShape {
                    num_variables: layers
                }
                .domain_separator::<F, Challenge>(),
                &mut None_,
            )
            .unwrap());
        assert_eq!(
            schedule.len(),
            recorder.events.len(),
            "the whole transcript"
        );
        Reduction {
            steps: schedule
                .steps
                .into_iter()
                .filter(|s| s.action != Action::Seed)
                .collect(),
            events: recorder.events,
            layers,
            output: Some(GkrOutput {
                point: output.point.as_slice().to_vec(),
                numerator: output.numerator,
                denominator: output.denominator,
            }),
            proof,
        }
    }

    /// The layout the AIR assumes is p3's: every scheduled step where `layer_at` puts it, and the
    /// values read there the proof's.
    fn check_layout(r: &Reduction) {
        let start = r.start();
        assert_eq!(
            r.steps.last().map(|s| s.start + s.len),
            Some(start + positions(r.layers)),
            "the reduction's extent"
        );
        let mut k = 0;
        let mut round = 0;
        for s in &r.steps {
            let at = layer_at(start, k.max(1) - 1);
            let last = s.path.last().copied().unwrap();
            let (expected, len) = match last {
                "root_denominator" => (start, D),
                "batching" => {
                    k += 1;
                    round = 0;
                    (layer_at(start, k - 1), D)
                }
                "round_poly" => (at + LAMBDA_LEN + round * ROUND_STRIDE, 3 * D),
                "round_challenge" => {
                    round += 1;
                    (
                        at + LAMBDA_LEN + (round - 1) * ROUND_STRIDE + CHALLENGE_AT,
                        D,
                    )
                }
                "claims" => (at + LAMBDA_LEN + (k - 1) * ROUND_STRIDE, CHILDREN_LEN),
                "branch" => (at + LAMBDA_LEN + (k - 1) * ROUND_STRIDE + CHILDREN_LEN, D),
                other => panic!("an unexpected step {other}"),
            };
            assert_eq!((s.start, s.len), (expected, len), "{:?}", s.path);
        }
        assert_eq!(k, r.layers);
        let run = r.run(0);
        assert_eq!(run.root_denominator, r.proof.root_denominator);
        assert_eq!(run.layers.len(), r.proof.layers.len());
        for (l, p) in run.layers.iter().zip(&r.proof.layers) {
            assert_eq!(l.rounds, p.round_polys);
            let c = &p.claims;
            assert_eq!(l.children, [c.n0, c.d0, c.n1, c.d1]);
        }
    }

    /// Every observed and sampled element of the reductions' schedules, from their recordings
    /// (never from a trace): observations once, each sample once per reader (the layer's own
    /// row; a round challenge also the sumcheck and this layer's eq row; the branch and the
    /// round challenges also the next layer's eq row); and p3's outputs on the result bus.
    fn known(reductions: &[(&Reduction, u32)]) -> Vec<TestAir> {
        let (mut observed, mut sampled, mut results) = (vec![], vec![], vec![]);
        for &(r, t) in reductions {
            let mut k = 0;
            for s in &r.steps {
                let last = *s.path.last().unwrap();
                if last == "batching" {
                    k += 1;
                }
                let more = usize::from(k < r.layers);
                let uses = match (s.action, last) {
                    (Action::Observe, _) => 1,
                    (Action::Sample, "batching") => 1,
                    (Action::Sample, "branch") => 1 + more,
                    (Action::Sample, "round_challenge") => 2 + more,
                    other => panic!("an unexpected step {other:?}"),
                };
                for p in s.start..s.start + s.len {
                    let (obs, v) = r.events[p];
                    assert_eq!(obs, s.action == Action::Observe, "position {p}");
                    let tuple = vec![F::from_u32(t), F::from_usize(p), v];
                    let table = if obs { &mut observed } else { &mut sampled };
                    table.extend(std::iter::repeat_n(tuple, uses));
                }
            }
            if let Some(out) = &r.output {
                results.push(
                    [
                        F::from_u32(t),
                        F::from_usize(r.start()),
                        F::from_usize(r.layers),
                    ]
                    .into_iter()
                    .chain(coords(out.numerator))
                    .chain(coords(out.denominator))
                    .collect(),
                );
            }
        }
        vec![
            TestAir::Known(KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed)),
            TestAir::Known(KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &sampled)),
            TestAir::Known(KnownAir::new(GKR_RESULT_BUS, 3 + 2 * D, false, &results)),
        ]
    }

    /// The batch: this AIR's trace of `runs`, `SumcheckAir`'s of their layers' sumchecks, and
    /// the verifier-known messages of `reductions`.
    fn batch(runs: &[GkrRun], reductions: &[(&Reduction, u32)]) -> (Batch, Vec<GkrOutput>) {
        let (trace, outputs) = FractionGkrAir::new()
            .generate_trace(runs, MIN_HEIGHT)
            .expect("a trace");
        (batch_of(trace, runs, reductions), outputs)
    }

    fn batch_of(
        trace: RowMajorMatrix<F>,
        runs: &[GkrRun],
        reductions: &[(&Reduction, u32)],
    ) -> Batch {
        let sumcheck = SumcheckAir::generic_degree(3, false).unwrap();
        assert_eq!(
            (sumcheck.stride(), sumcheck.challenge_at()),
            (ROUND_STRIDE, CHALLENGE_AT)
        );
        let sumchecks: Vec<SumcheckRun> = runs.iter().flat_map(GkrRun::sumchecks).collect();
        let (sumcheck_trace, _) = sumcheck.generate_trace(&sumchecks, MIN_HEIGHT).unwrap();
        let known = known(reductions);
        let mut traces = vec![trace, sumcheck_trace];
        traces.extend(known.iter().map(|k| match k {
            TestAir::Known(k) => k.trace(),
            _ => unreachable!(),
        }));
        let mut airs = vec![
            TestAir::Gkr(FractionGkrAir::new()),
            TestAir::Sumcheck(sumcheck),
        ];
        airs.extend(known);
        Batch {
            buses: crate::aggregate::recursion::harness::global_buses(&airs),
            airs,
            traces,
        }
    }

    fn buses(f: &BTreeSet<Failed>) -> BTreeSet<&'static str> {
        f.iter()
            .filter_map(|x| match x {
                Failed::Bus(b) => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// The row of `trace` for layer `k`'s coordinate `i` of the reduction of transcript `t`.
    fn row_of(trace: &RowMajorMatrix<F>, t: u32, k: usize, i: usize) -> usize {
        (0..trace.values.len() / WIDTH)
            .find(|&r| {
                let row: &GkrCols<F> = trace.values[r * WIDTH..(r + 1) * WIDTH].borrow();
                row.active == F::ONE
                    && row.transcript == F::from_u32(t)
                    && row.layer == F::from_usize(k)
                    && row.coord == F::from_usize(i)
            })
            .expect("the row")
    }

    /// What the AIR outputs for `run` (for a forged reduction, whose caller is not the point).
    fn output_of(run: &GkrRun) -> GkrOutput {
        let (_, outputs) = FractionGkrAir::new()
            .generate_trace(std::slice::from_ref(run), MIN_HEIGHT)
            .unwrap();
        outputs[0].clone()
    }

    /// Both FRI proof systems (over Keccak and over Poseidon1) refuse a proof of `b`.
    fn refused(b: &Batch) {
        assert!(b.prove_and_verify().is_err(), "a forgery verified");
    }

    #[test]
    fn p3s_own_reductions_verify_through_the_airs_and_forgeries_fail() {
        let five = p3s_own(5, 3);
        let three = p3s_own(3, 40);
        check_layout(&five);
        check_layout(&three);
        let keyed = [(&five, 1), (&three, 2)];
        let runs = vec![five.run(1), three.run(2)];
        let (b, outputs) = batch(&runs, &keyed);
        assert_eq!(
            outputs,
            vec![five.output.clone().unwrap(), three.output.clone().unwrap()],
            "the AIR's outputs are p3's verifier's"
        );
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().expect("both reductions verify");

        // A child fraction that does not close its layer, the transcript consistent with it
        // (observed where it is observed, the challenges unchanged): the closing check.
        let mut forged = p3s_own(5, 3);
        let p = layer_at(forged.start(), 2) + LAMBDA_LEN + 2 * ROUND_STRIDE;
        forged.events[p].1 += F::ONE;
        forged.output = Some(output_of(&forged.run(1)));
        let (b, _) = batch(&[forged.run(1)], &[(&forged, 1)]);
        let failed = b.failed();
        assert!(only_constraints(&failed), "{failed:?}");
        refused(&b);

        // A root denominator of zero, the transcript consistent with it: the inverse (and the
        // root's closing).
        let mut forged = p3s_own(3, 40);
        let start = forged.start();
        for e in &mut forged.events[start..start + D] {
            e.1 = F::ZERO;
        }
        forged.output = Some(output_of(&forged.run(2)));
        let (b, _) = batch(&[forged.run(2)], &[(&forged, 2)]);
        let failed = b.failed();
        assert!(only_constraints(&failed), "{failed:?}");
        refused(&b);
        let (trace, _) = FractionGkrAir::new()
            .generate_trace(&[forged.run(2)], MIN_HEIGHT)
            .unwrap();
        let root: &GkrCols<F> = trace.values[..WIDTH].borrow();
        assert_eq!(root.inverse, [F::ZERO; D], "zero has no inverse");

        // Another batching challenge than the transcript's: the sample bus.
        let mut runs2 = runs.clone();
        runs2[0].layers[3].lambda += Challenge::ONE;
        let (b, _) = batch(&runs2, &keyed);
        assert!(buses(&b.failed()).contains(TRANSCRIPT_SAMPLE_BUS));
        refused(&b);

        // Another branch: the sample bus.
        let mut runs2 = runs.clone();
        runs2[1].layers[1].branch += Challenge::ONE;
        let (b, _) = batch(&runs2, &keyed);
        assert!(buses(&b.failed()).contains(TRANSCRIPT_SAMPLE_BUS));
        refused(&b);

        // Another child fraction than the one observed: the observe bus.
        let mut runs2 = runs.clone();
        runs2[0].layers[4].children[3] += Challenge::ONE;
        let (b, _) = batch(&runs2, &keyed);
        assert!(buses(&b.failed()).contains(TRANSCRIPT_OBSERVE_BUS));
        refused(&b);

        // A reduction with its last layer dropped: it outputs after 4 layers, not 5.
        let mut runs2 = runs.clone();
        runs2[0].layers.pop();
        let (b, _) = batch(&runs2, &keyed);
        assert!(buses(&b.failed()).contains(GKR_RESULT_BUS));
        refused(&b);

        // An output the caller does not hold: the result bus alone.
        let mut other = p3s_own(5, 3);
        other.output.as_mut().unwrap().numerator += Challenge::ONE;
        let (b, _) = batch(&[other.run(1), three.run(2)], &[(&other, 1), (&three, 2)]);
        assert_eq!(b.failed(), BTreeSet::from([Failed::Bus(GKR_RESULT_BUS)]));
        refused(&b);

        // Edited into the trace: an eq coordinate other than the transcript's sample (with its
        // product `a b` kept), a claim not folded from the previous layer, a layer's position or
        // coordinate that does not follow, a reduction ended early.
        let (trace, _) = FractionGkrAir::new()
            .generate_trace(&runs, MIN_HEIGHT)
            .unwrap();
        let edit = |k: usize, i: usize, f: &dyn Fn(&mut GkrCols<F>)| {
            let mut t = trace.clone();
            let r = row_of(&t, 1, k, i);
            f(t.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut());
            let b = batch_of(t, &runs, &keyed);
            refused(&b);
            b.failed()
        };
        let failed = edit(3, 1, &|row| {
            row.a[0] += F::ONE;
            row.ab = coords(element(row.a) * element(row.b));
        });
        assert!(buses(&failed).contains(TRANSCRIPT_SAMPLE_BUS), "{failed:?}");
        assert!(
            has_constraint(&failed),
            "the running product no longer follows"
        );
        let failed = edit(2, 0, &|row| row.numerator[1] += F::ONE);
        assert!(has_constraint(&failed), "{failed:?}");
        let failed = edit(1, 0, &|row| row.at += F::ONE);
        assert!(has_constraint(&failed), "{failed:?}");
        let failed = edit(4, 3, &|row| row.coord += F::ONE);
        assert!(has_constraint(&failed), "{failed:?}");
        let failed = edit(0, 0, &|row| row.end = F::ONE);
        assert!(has_constraint(&failed), "{failed:?}");
    }

    /// The reduction of a real multilinear child: the smallest compact parent over Poseidon1-24,
    /// its fractional GKR read from the recorded verification at the scheduled positions, through
    /// this AIR and `SumcheckAir`, every element of the reduction consumed exactly.
    #[test]
    fn the_fractional_gkr_of_a_real_poseidon1_compact_parent() {
        use crate::aggregate::recursion::harness::smallest_compact_batch;
        use crate::aggregate::recursion::multilinear_child::{record_scheduled, RECORDED_DOMAIN};

        let (child, schedule) = record_scheduled(&smallest_compact_batch([7; 32], 11));
        let proof = child.proof.lookup.clone().expect("a lookup argument");
        let reduction = Reduction {
            steps: schedule
                .steps
                .iter()
                .filter(|s| s.path.contains(&"fraction_reduction") && s.action != Action::Seed)
                .cloned()
                .collect(),
            events: child.events,
            layers: proof.layers.len(),
            output: None,
            proof,
        };
        check_layout(&reduction);
        // p3's own output: its verifier replayed from the transcript's state where the child's
        // verification enters the reduction (the operations before it repeated in order).
        let entry = schedule
            .steps
            .iter()
            .find(|s| s.path.contains(&"fraction_reduction"))
            .unwrap()
            .start;
        let mut replay = Recorder::new(RECORDED_DOMAIN);
        for &(observed, v) in &reduction.events[..entry] {
            if observed {
                p3_challenger::CanObserve::observe(&mut replay, v);
            } else {
                let _: F = p3_challenger::CanSample::sample(&mut replay);
            }
        }
        let output = verify_fractional_gkr::<F, Challenge, _>(
            &reduction.proof,
            reduction.layers,
            &mut replay,
        )
        .expect("p3 verifies the child's reduction");
        let end = reduction.start() + positions(reduction.layers);
        assert_eq!(
            replay.events[..],
            reduction.events[..end],
            "the replay is the child's transcript"
        );
        let run = reduction.run(1);
        let (_, outputs) = FractionGkrAir::new()
            .generate_trace(std::slice::from_ref(&run), MIN_HEIGHT)
            .unwrap();
        let expected = GkrOutput {
            point: output.point.as_slice().to_vec(),
            numerator: output.numerator,
            denominator: output.denominator,
        };
        assert_eq!(outputs[0], expected, "the AIR's output is p3's");
        let reduction = Reduction {
            output: Some(expected),
            ..reduction
        };
        let (b, _) = batch(std::slice::from_ref(&run), &[(&reduction, 1)]);
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify()
            .expect("the child's reduction verifies");
        // Its output point is the last layer's branch and round challenges, in the transcript.
        let out = &outputs[0];
        let last = run.layers.last().unwrap();
        assert_eq!(out.point[0], last.branch);
        assert_eq!(&out.point[1..], last.challenges.as_slice());
        println!(
            "a Poseidon1 compact parent's fractional GKR through FractionGkrAir and SumcheckAir: \
             {} layers, {} transcript positions from {}, {} GKR rows",
            reduction.layers,
            positions(reduction.layers),
            reduction.start(),
            (0..reduction.layers).map(|k| k.max(1)).sum::<usize>()
        );
    }
}
