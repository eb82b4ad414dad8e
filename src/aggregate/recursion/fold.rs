//! `FriFoldAir`: the FRI query phase's folds (Plonky3 0.8 `verify_fri`, `fold_query`), one row
//! per query and commit-phase round, over the quintic challenge field.
//!
//! In round `r` of query `q` the native verifier holds the value `y` folded so far at the query's
//! domain index `i`. With `a = log_arity` it reads the opened row `evals` of `2^a` values, whose
//! entry `i mod 2^a` must be `y`, moves to the parent index `i >> a` in the folded domain of log
//! height `h`, and folds: `evals` are the values at `x_j = s * w^reverse_bits(j, a)`
//! (`s = g_(h+a)^reverse_bits(i >> a, h)`, `w` of order `2^a`), and the fold is their
//! interpolant at `beta`. If a reduced opening `ro` of that height rolls in, it adds
//! `beta^(2^a) * ro`.
//!
//! **How a row folds.** The interpolant of `2^a` values on such a coset at `beta` is `a` layers of
//! arity-2 folds with `beta, beta^2, beta^4`: the pairs `(2m, 2m+1)` are `x, -x`, and
//! `(lo + hi) / 2 + beta * (lo - hi) / (2x)` is the even part plus `beta` times the odd part
//! (Plonky3's arity-2 closed form). The next layer's points are the squares, on the coset of
//! `s^2`. A row has three layers; a round of arity `2^a` enters at layer `3 - a` (periodic
//! `start`), where the challenge is `beta` and the coset's inverse start is `s^-1`; each later
//! layer squares both. The constants `1 / w^reverse_bits(2m)` are fixed per layer. Every
//! extension product is a column with a degree-2 or degree-3 constraint.
//!
//! **What a row receives and sends** (`transcript` and `query` name the query by its transcript
//! and the position of its index sample):
//! - the five coordinates of `beta` from `"transcript-sample"`, at the round's positions;
//! - the window `(query, group_tag, i mod 2^a, 1)` and the window
//!   `(query, point_tag, i >> a, s^-1)` from `"query-index"` ([`super::bits::SampledBitsAir`]
//!   sends them: `s^-1` is the window's point with generator `g_(h+a)^-1`);
//! - `y` as `(transcript, query, round, y)` from `"fri-fold"`, and sends the folded value as
//!   `(transcript, query, round + 1, folded)`: the next round's row receives it, and after the
//!   last round the final polynomial's check does; round 0's comes from the reduced openings;
//! - when the round rolls in, `ro` as `(transcript, query, round, ro)` from `"fri-roll-in"`.
//!
//! - the opened row from the round's commit-phase Merkle opening at that query, on
//!   `"merkle-values"` ([`super::merkle::MmcsOpeningAir`] sends it): the row's `2^a` values,
//!   five coordinates each (Plonky3's `ExtensionMmcs` flattens them so), are the opening's
//!   `5 * 2^a` values, received as its sponge chunks of 15 at offsets 0, 15 and 30, keyed by the
//!   transcript position of the round's commitment root; the chunks a round's arity leaves
//!   unread are not received (periodic `reads`), and the row's values past them are read by no
//!   layer.
//!
//! `evals[i mod 2^a] = y` is a constraint (a one-hot selector whose weighted sum is the received
//! `i mod 2^a`).

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::{Field, PrimeCharacteristicRing, TwoAdicField};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;
use p3_util::reverse_bits_len;

use super::bits::QUERY_INDEX_BUS;
use super::duplex::TRANSCRIPT_SAMPLE_BUS;
use super::ext::{self, D};
use super::merkle::MERKLE_VALUES_BUS;
use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::POSEIDON1_RATE;
use crate::xmss::F;

/// Bus of folded values `(transcript, query, round, value[5])`.
pub const FRI_FOLD_BUS: &str = "fri-fold";
/// Bus of reduced openings rolled in `(transcript, query, round, value[5])`.
pub const FRI_ROLL_IN_BUS: &str = "fri-roll-in";

/// Largest log arity (the presets' `max_log_arity`).
pub const MAX_LOG_ARITY: usize = 3;
const ARITY: usize = 1 << MAX_LOG_ARITY;
const RATE: usize = POSEIDON1_RATE;
/// Merkle chunks of the widest opened row (`5 * 8` values).
const CHUNKS: usize = (D * ARITY).div_ceil(RATE);

/// One commit-phase round as the verifier schedules it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldRound {
    /// `1..=`[`MAX_LOG_ARITY`].
    pub log_arity: usize,
    /// Transcript positions of `beta`'s coordinates (coefficient 0 first).
    pub beta_positions: [usize; D],
    /// A reduced opening rolls in at this round's folded height.
    pub rolls_in: bool,
    /// Tag of the window `i mod 2^a` on `"query-index"`.
    pub group_tag: usize,
    /// Tag of the window `i >> a`, whose point is `s^-1`.
    pub point_tag: usize,
    /// Transcript position of the round's commitment root: the key of its openings on
    /// `"merkle-values"`.
    pub root_position: usize,
}

impl FoldRound {
    /// Merkle chunks of the round's opened row (`5 * 2^a` values).
    fn chunks(&self) -> usize {
        (D << self.log_arity).div_ceil(RATE)
    }

    /// The `readers` of the round commitment's [`super::merkle::MmcsOpeningAir`]: each chunk
    /// of an opening is read once, by the query's row of this round.
    pub fn readers(&self) -> Vec<u32> {
        vec![1; self.chunks()]
    }
}

/// The queries (positions of their index samples) and the rounds of one transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldShape {
    queries: Vec<usize>,
    rounds: Vec<FoldRound>,
}

impl FoldShape {
    /// # Panics
    /// If a log arity is outside `1..=`[`MAX_LOG_ARITY`] (a verifier's schedule, so a bug).
    pub fn new(queries: Vec<usize>, rounds: Vec<FoldRound>) -> Self {
        for r in &rounds {
            assert!((1..=MAX_LOG_ARITY).contains(&r.log_arity), "log arity");
        }
        Self { queries, rounds }
    }

    /// The rounds, in order.
    pub fn rounds(&self) -> &[FoldRound] {
        &self.rounds
    }

    /// Rows of one transcript's block: queries times rounds, rounded up to a power of two (at
    /// least 2).
    pub fn block_len(&self) -> usize {
        (self.queries.len() * self.rounds.len())
            .max(2)
            .next_power_of_two()
    }
}

/// The periodic columns (period [`FoldShape::block_len`]).
#[repr(C)]
pub struct FoldPeriodic<T> {
    /// The next row is in the same block.
    pub in_block: T,
    /// 1 on a row of a query and round (0 on the block's padding rows).
    pub present: T,
    /// The query's index sample position.
    pub query: T,
    /// The round.
    pub round: T,
    /// The two windows' tags.
    pub group_tag: T,
    /// The tag of the window `i >> a`, whose point is `s^-1`.
    pub point_tag: T,
    /// `beta`'s positions.
    pub beta_positions: [T; D],
    /// 1 where the round rolls in a reduced opening.
    pub rolls_in: T,
    /// 1 at the layer the round enters (`3 - log_arity`).
    pub start: [T; MAX_LOG_ARITY],
    /// The round's commitment root position.
    pub root_position: T,
    /// 1 for each Merkle chunk of the opened row the round reads.
    pub reads: [T; CHUNKS],
}

/// The columns of one row, viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct FoldCols<T> {
    /// The transcript's number (constant down a block).
    pub transcript: T,
    /// 1 in a block that sends and receives (constant down a block).
    pub active: T,
    /// Mirrors of the periodic columns (bus messages read no periodic column).
    pub present: T,
    /// Mirror: the query's index sample position, a key of every message of the row but
    /// `beta`'s.
    pub query: T,
    /// Mirror: the round, from 0; `prev` is received at `round`, `folded` sent at `round + 1`.
    pub round: T,
    /// Mirror: the tag of the window `i mod 2^a` on `"query-index"`.
    pub group_tag: T,
    /// Mirror: the tag of the window `i >> a` on `"query-index"`.
    pub point_tag: T,
    /// Mirror: transcript positions of `beta`'s coordinates, keys of its
    /// `"transcript-sample"` receives.
    pub beta_positions: [T; D],
    /// Mirror: 1 where the round receives a reduced opening on `"fri-roll-in"`, else 0.
    pub rolls_in: T,
    /// Mirror: transcript position of the round's commitment root, the key on
    /// `"merkle-values"`.
    pub root_position: T,
    /// Mirror: 1 for each Merkle chunk of the opened row received on `"merkle-values"`.
    pub reads: [T; CHUNKS],
    /// The opened row, zero past the arity.
    pub evals: [[T; D]; ARITY],
    /// One-hot: `sel[j] = 1` for `j = i mod 2^a`.
    pub sel: [T; ARITY],
    /// `i mod 2^a`.
    pub group_index: T,
    /// `i >> a`.
    pub parent_index: T,
    /// `s^-1`.
    pub s_inv: T,
    /// The challenge at each layer: `beta[0]` is the round's, received.
    pub beta: [[T; D]; MAX_LOG_ARITY],
    /// The coset's inverse start at each layer.
    pub s_inv_layer: [T; MAX_LOG_ARITY],
    /// `beta_l / (2 x_2m)` of each butterfly of layers 0, 1, 2.
    pub t0: [[T; D]; 4],
    /// `beta_1 / (2 x_2m)` of layer 1's two butterflies.
    pub t1: [[T; D]; 2],
    /// `beta_2 / (2 x_0)` of layer 2's one butterfly.
    pub t2: [T; D],
    /// The butterflies' outputs.
    pub l0: [[T; D]; 4],
    /// Layer 1's two outputs, layer 2's inputs unless the round enters there.
    pub l1: [[T; D]; 2],
    /// Layer 2's output: the row's interpolant at `beta`, before the roll-in.
    pub l2: [T; D],
    /// The value folded so far, received.
    pub prev: [T; D],
    /// The reduced opening rolled in (zero when none).
    pub ro: [T; D],
    /// `beta^(2^a)`.
    pub beta_pow: [T; D],
    /// The folded value, sent.
    pub folded: [T; D],
}

crate::aggregate::air::row_view!(FoldCols);
crate::aggregate::air::row_view!(FoldPeriodic);

/// Width of [`FriFoldAir`].
pub const WIDTH: usize = core::mem::size_of::<FoldCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<FoldPeriodic<u8>>();

/// `1 / w^reverse_bits(2m)` for the butterflies of layer `l` (`2^(3 - l)` inputs).
fn butterfly_constants(l: usize) -> Vec<F> {
    let log_n = MAX_LOG_ARITY - l;
    let w_inv = F::two_adic_generator(log_n).inverse();
    (0..(1 << log_n) / 2)
        .map(|m| w_inv.exp_u64(reverse_bits_len(2 * m, log_n) as u64))
        .collect()
}

/// One row's witness: what the native verifier reads in that round of that query.
#[derive(Clone, Debug)]
pub struct FoldInput {
    /// The opened row (`2^a` values).
    pub evals: Vec<Challenge>,
    /// The round's challenge.
    pub beta: Challenge,
    /// `i mod 2^a` and `i >> a`.
    pub group_index: usize,
    /// `i >> a`, the query's index in the folded domain.
    pub parent_index: usize,
    /// `s^-1`.
    pub s_inv: F,
    /// The reduced opening rolled in (ignored when the round has none).
    pub ro: Challenge,
}

/// A fold message `(transcript, query, round, value[5])`.
pub type FoldMessage = [F; 3 + D];

/// The AIR checking the folds of transcripts of one [`FoldShape`].
#[derive(Clone, Debug)]
pub struct FriFoldAir {
    shape: FoldShape,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(FriFoldAir);

impl FriFoldAir {
    /// The AIR for `shape`.
    pub fn new(shape: FoldShape) -> Self {
        let period = shape.block_len();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        let mut r = 0;
        for &q in &shape.queries {
            for (k, round) in shape.rounds.iter().enumerate() {
                let p: &mut FoldPeriodic<F> =
                    rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
                p.present = F::ONE;
                p.query = F::from_usize(q);
                p.round = F::from_usize(k);
                p.group_tag = F::from_usize(round.group_tag);
                p.point_tag = F::from_usize(round.point_tag);
                p.beta_positions = round.beta_positions.map(F::from_usize);
                p.rolls_in = F::from_bool(round.rolls_in);
                p.start[MAX_LOG_ARITY - round.log_arity] = F::ONE;
                p.root_position = F::from_usize(round.root_position);
                for k in 0..round.chunks() {
                    p.reads[k] = F::ONE;
                }
                r += 1;
            }
        }
        for r in 0..period {
            let p: &mut FoldPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.in_block = F::from_bool(r + 1 < period);
            if p.present == F::ZERO {
                // Padding rows fold as arity 8 on zeros.
                p.start[0] = F::ONE;
            }
        }
        Self {
            shape,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        }
    }

    /// The periodic row `r`.
    pub fn periodic_row(&self, r: usize) -> Vec<F> {
        self.periodic.iter().map(|c| c[r % c.len()]).collect()
    }

    /// Fills `row` from `input` under the periodic row `p`: every derived column, the folded
    /// value last. Tests use it to build forged rows consistent in everything else.
    pub fn fill_row(row: &mut FoldCols<F>, input: &FoldInput, p: &FoldPeriodic<F>) {
        let to = ext::coords;
        row.present = p.present;
        row.query = p.query;
        row.round = p.round;
        row.group_tag = p.group_tag;
        row.point_tag = p.point_tag;
        row.beta_positions = p.beta_positions;
        row.rolls_in = p.rolls_in;
        row.root_position = p.root_position;
        row.reads = p.reads;
        row.evals = [[F::ZERO; D]; ARITY];
        for (e, &v) in row.evals.iter_mut().zip(&input.evals) {
            *e = to(v);
        }
        row.sel = [F::ZERO; ARITY];
        row.sel[input.group_index] = F::ONE;
        row.group_index = F::from_usize(input.group_index);
        row.parent_index = F::from_usize(input.parent_index);
        row.s_inv = input.s_inv;
        let start = p.start.iter().position(|&s| s == F::ONE).unwrap_or(0);
        let (mut beta, mut s_inv) = (input.beta, input.s_inv);
        for l in 0..MAX_LOG_ARITY {
            if l == start {
                (beta, s_inv) = (input.beta, input.s_inv);
            } else if l > 0 {
                (beta, s_inv) = (beta.square(), s_inv.square());
            }
            row.beta[l] = to(beta);
            row.s_inv_layer[l] = s_inv;
        }
        let inv2 = F::TWO.inverse();
        let evals: Vec<Challenge> = row.evals.iter().map(|&e| ext::element(e)).collect();
        let mut layer_in = evals.clone();
        let mut outs: Vec<Vec<Challenge>> = Vec::new();
        let mut ts: Vec<Vec<Challenge>> = Vec::new();
        for l in 0..MAX_LOG_ARITY {
            let n = ARITY >> l;
            if l > 0 && l == start {
                layer_in = evals[..n].to_vec();
            }
            let c = butterfly_constants(l);
            let b = ext::element(row.beta[l]);
            let t: Vec<Challenge> = c
                .iter()
                .map(|&c| b * (row.s_inv_layer[l] * c * inv2))
                .collect();
            let out: Vec<Challenge> = (0..n / 2)
                .map(|m| {
                    let (lo, hi) = (layer_in[2 * m], layer_in[2 * m + 1]);
                    (lo + hi) * inv2 + (lo - hi) * t[m]
                })
                .collect();
            layer_in = out.clone();
            ts.push(t);
            outs.push(out);
        }
        for m in 0..4 {
            row.t0[m] = to(ts[0][m]);
            row.l0[m] = to(outs[0][m]);
        }
        for m in 0..2 {
            row.t1[m] = to(ts[1][m]);
            row.l1[m] = to(outs[1][m]);
        }
        row.t2 = to(ts[2][0]);
        row.l2 = to(outs[2][0]);
        row.prev = row.evals[input.group_index];
        let ro = if p.rolls_in == F::ONE {
            input.ro
        } else {
            Challenge::ZERO
        };
        row.ro = to(ro);
        let beta_pow = ext::element(row.beta[2]).square();
        row.beta_pow = to(beta_pow);
        row.folded = to(outs[2][0] + beta_pow * ro);
    }

    /// The trace of `inputs[t]` (transcript `t`'s rows, query by query, round by round), one
    /// block each then padding blocks up to a power of two and at least `min_height` rows; the
    /// fold messages the active rows receive and those they send.
    ///
    /// # Panics
    /// If a transcript has another number of rows than the shape.
    pub fn generate_trace(
        &self,
        inputs: &[Vec<FoldInput>],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, Vec<FoldMessage>, Vec<FoldMessage>) {
        let period = self.shape.block_len();
        let height = (inputs.len() * period)
            .max(min_height)
            .max(period)
            .next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        let periodic: Vec<Vec<F>> = (0..period).map(|r| self.periodic_row(r)).collect();
        let n = self.shape.queries.len() * self.shape.rounds.len();
        let zero = FoldInput {
            evals: vec![Challenge::ZERO; ARITY],
            beta: Challenge::ZERO,
            group_index: 0,
            parent_index: 0,
            s_inv: F::ZERO,
            ro: Challenge::ZERO,
        };
        let (mut received, mut sent) = (Vec::new(), Vec::new());
        for (b, block) in trace.chunks_exact_mut(period * WIDTH).enumerate() {
            let rows = inputs.get(b);
            if let Some(rows) = rows {
                assert_eq!(rows.len(), n, "one input per query and round");
            }
            let transcript = F::from_usize(self.first as usize + b);
            for (r, (row, p)) in block.chunks_exact_mut(WIDTH).zip(&periodic).enumerate() {
                let row: &mut FoldCols<F> = row.borrow_mut();
                let p: &FoldPeriodic<F> = p.as_slice().borrow();
                let input = rows.and_then(|rows| rows.get(r)).unwrap_or(&zero);
                row.transcript = transcript;
                row.active = F::from_bool(rows.is_some());
                Self::fill_row(row, input, p);
                if rows.is_some() && r < n {
                    let msg = |round: F, v: [F; D]| {
                        let mut m = [F::ZERO; 3 + D];
                        m[..3].copy_from_slice(&[transcript, p.query, round]);
                        m[3..].copy_from_slice(&v);
                        m
                    };
                    received.push(msg(p.round, row.prev));
                    sent.push(msg(p.round + F::ONE, row.folded));
                }
            }
        }
        (RowMajorMatrix::new(trace, WIDTH), received, sent)
    }
}

verifier_base_air!(FriFoldAir, |_: &FriFoldAir| WIDTH);

impl<AB> Air<AB> for FriFoldAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &FoldCols<AB::Var> = main.current_slice().borrow();
        let next: &FoldCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &FoldPeriodic<AB::Expr> = periodic.as_slice().borrow();
        let one = AB::Expr::ONE;
        let e = |v: &[AB::Var; D]| -> [AB::Expr; D] { v.map(Into::into) };
        let assert_ext = |builder: &mut AB, a: &[AB::Var; D], b: [AB::Expr; D]| {
            for (x, y) in a.iter().zip(b) {
                builder.assert_eq(*x, y);
            }
        };

        // The flag and the mirrors.
        builder.assert_bool(row.active);
        builder.assert_eq(row.present, p.present.clone());
        builder.assert_eq(row.query, p.query.clone());
        builder.assert_eq(row.round, p.round.clone());
        builder.assert_eq(row.group_tag, p.group_tag.clone());
        builder.assert_eq(row.point_tag, p.point_tag.clone());
        for i in 0..D {
            builder.assert_eq(row.beta_positions[i], p.beta_positions[i].clone());
        }
        builder.assert_eq(row.rolls_in, p.rolls_in.clone());
        builder.assert_eq(row.root_position, p.root_position.clone());
        for k in 0..CHUNKS {
            builder.assert_eq(row.reads[k], p.reads[k].clone());
        }

        // The selector: one-hot at `i mod 2^a`, picking `prev` out of the row.
        let mut sum = AB::Expr::ZERO;
        let mut weighted = AB::Expr::ZERO;
        for j in 0..ARITY {
            builder.assert_bool(row.sel[j]);
            sum += row.sel[j].into();
            weighted += row.sel[j] * AB::Expr::from_usize(j);
        }
        builder.assert_one(sum);
        builder.assert_eq(row.group_index, weighted);
        for i in 0..D {
            let picked: AB::Expr = (0..ARITY).map(|j| row.sel[j] * row.evals[j][i]).sum();
            builder.assert_eq(row.prev[i], picked);
        }

        // The challenge and the coset start at each layer.
        builder.assert_eq(row.s_inv_layer[0], row.s_inv);
        for l in 1..MAX_LOG_ARITY {
            let s = p.start[l].clone();
            let b = e(&row.beta[l - 1]);
            let squared = ext::mul(&b, &b);
            let beta: [AB::Expr; D] = core::array::from_fn(|i| {
                s.clone() * row.beta[0][i] + (one.clone() - s.clone()) * squared[i].clone()
            });
            assert_ext(builder, &row.beta[l], beta);
            builder.assert_eq(
                row.s_inv_layer[l],
                s.clone() * row.s_inv
                    + (one.clone() - s) * row.s_inv_layer[l - 1] * row.s_inv_layer[l - 1],
            );
        }

        // The butterflies.
        let half = AB::Expr::from(F::TWO.inverse());
        let butterfly = |lo: &[AB::Expr; D], hi: &[AB::Expr; D], t: &[AB::Var; D]| {
            let sum = ext::add(lo, hi);
            let diff = ext::sub(lo, hi);
            ext::add(&ext::scale(&sum, half.clone()), &ext::mul(&diff, &e(t)))
        };
        let ts: [&[[AB::Var; D]]; MAX_LOG_ARITY] =
            [&row.t0, &row.t1, core::slice::from_ref(&row.t2)];
        let outs: [&[[AB::Var; D]]; MAX_LOG_ARITY] =
            [&row.l0, &row.l1, core::slice::from_ref(&row.l2)];
        for l in 0..MAX_LOG_ARITY {
            let c = butterfly_constants(l);
            let n = ARITY >> l;
            let beta = e(&row.beta[l]);
            for (m, &c) in c.iter().enumerate() {
                let factor = AB::Expr::from(c * F::TWO.inverse()) * row.s_inv_layer[l];
                assert_ext(builder, &ts[l][m], ext::scale(&beta, factor));
            }
            // The layer's inputs: the opened row where the round enters, else the layer before.
            let input: Vec<[AB::Expr; D]> = (0..n)
                .map(|j| {
                    if l == 0 {
                        e(&row.evals[j])
                    } else {
                        let s = p.start[l].clone();
                        core::array::from_fn(|i| {
                            s.clone() * row.evals[j][i]
                                + (one.clone() - s.clone()) * outs[l - 1][j][i]
                        })
                    }
                })
                .collect();
            for m in 0..n / 2 {
                let out = butterfly(&input[2 * m], &input[2 * m + 1], &ts[l][m]);
                assert_ext(builder, &outs[l][m], out);
            }
        }

        // The roll-in and the folded value.
        let b2 = e(&row.beta[MAX_LOG_ARITY - 1]);
        assert_ext(builder, &row.beta_pow, ext::mul(&b2, &b2));
        let rolled = ext::mul(&e(&row.beta_pow), &e(&row.ro));
        let folded: [AB::Expr; D] =
            core::array::from_fn(|i| row.l2[i] + p.rolls_in.clone() * rolled[i].clone());
        assert_ext(builder, &row.folded, folded);

        // Constancy down the block.
        let mut t = builder.when_transition();
        let in_block = p.in_block.clone();
        t.assert_zero(super::next_block_number::<AB>(
            AB::Expr::ONE - in_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(in_block * (next.active - row.active));

        // The buses.
        let count = || Count::bounded(row.active * row.present, 1);
        let samples = PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS);
        for i in 0..D {
            samples.receive(
                builder,
                [row.transcript, row.beta_positions[i], row.beta[0][i]],
                count(),
            );
        }
        let windows = PermutationCheckBus::new(QUERY_INDEX_BUS);
        windows.receive(
            builder,
            [
                row.transcript.into(),
                row.query.into(),
                row.group_tag.into(),
                row.group_index.into(),
                AB::Expr::ONE,
            ],
            count(),
        );
        windows.receive(
            builder,
            [
                row.transcript,
                row.query,
                row.point_tag,
                row.parent_index,
                row.s_inv,
            ],
            count(),
        );
        let msg = |round: AB::Expr, v: &[AB::Var; D]| -> Vec<AB::Expr> {
            let mut m: Vec<AB::Expr> = vec![row.transcript.into(), row.query.into(), round];
            m.extend(v.iter().map(|&x| x.into()));
            m
        };
        let folds = PermutationCheckBus::new(FRI_FOLD_BUS);
        folds.receive(builder, msg(row.round.into(), &row.prev), count());
        folds.send(
            builder,
            msg(row.round + AB::Expr::ONE, &row.folded),
            count(),
        );
        PermutationCheckBus::new(FRI_ROLL_IN_BUS).receive(
            builder,
            msg(row.round.into(), &row.ro),
            Count::bounded(row.active * row.rolls_in, 1),
        );
        let flat: Vec<AB::Var> = row.evals.iter().flatten().copied().collect();
        let merkle = PermutationCheckBus::new(MERKLE_VALUES_BUS);
        for k in 0..CHUNKS {
            let message: Vec<AB::Expr> = [
                row.transcript.into(),
                row.query.into(),
                row.root_position.into(),
                AB::Expr::from_usize(k * RATE),
            ]
            .into_iter()
            .chain((k * RATE..(k + 1) * RATE).map(|i| match flat.get(i) {
                Some(&v) => v.into(),
                None => AB::Expr::ZERO,
            }))
            .collect();
            merkle.receive(
                builder,
                message,
                Count::bounded(row.active * row.reads[k], 1),
            );
        }
        super::first_block_number(builder, self.first, row.transcript);
    }
}

#[cfg(test)]
mod tests {
    //! Folds against Plonky3's own `fold_row` and roll-in, and each forgery caught by the
    //! constraint or bus that should catch it, then by the FRI verifier.

    use std::collections::BTreeSet;
    use std::marker::PhantomData;

    use p3_fri::{FriFoldingStrategy, TwoAdicFriFolding};

    use super::*;
    use crate::aggregate::recursion::ext::tests::{challenges, pseudo};
    use crate::aggregate::recursion::harness::{
        has_constraint, only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };

    /// Log height of the largest codeword.
    const K: usize = 12;
    /// The rounds' log arities: every arity, each entering the row at its own layer.
    const LOG_ARITIES: [usize; 4] = [3, 1, 2, 3];
    /// Which rounds roll a reduced opening in.
    const ROLLS_IN: [bool; 4] = [false, true, false, true];
    const QUERIES: usize = 3;

    fn rounds() -> Vec<FoldRound> {
        (0..LOG_ARITIES.len())
            .map(|r| FoldRound {
                log_arity: LOG_ARITIES[r],
                beta_positions: core::array::from_fn(|i| 100 + 5 * r + i),
                rolls_in: ROLLS_IN[r],
                group_tag: 2 * r,
                point_tag: 2 * r + 1,
                root_position: 400 + 10 * r,
            })
            .collect()
    }

    /// Query positions.
    fn queries() -> Vec<usize> {
        (0..QUERIES).map(|q| 200 + q).collect()
    }

    /// One transcript's reference run: for each query, Plonky3's folds of random rows whose
    /// entry at the query's index is the value folded so far, with roll-ins. The rows' inputs,
    /// and per query the initial value and Plonky3's final folded value.
    struct Run {
        inputs: Vec<FoldInput>,
        initial: Vec<Challenge>,
        last: Vec<Challenge>,
        betas: Vec<Challenge>,
    }

    fn plonky3_run(seed: u64) -> Run {
        let folding = TwoAdicFriFolding::<(), ()>(PhantomData);
        let mut c = challenges(seed);
        let mut bits = pseudo(seed + 1);
        let betas: Vec<Challenge> = (0..LOG_ARITIES.len()).map(|_| c.next().unwrap()).collect();
        let (mut inputs, mut initial, mut last) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..QUERIES {
            let mut index = (p3_field::PrimeField32::as_canonical_u32(&bits.next().unwrap())
                as usize)
                & ((1 << K) - 1);
            let mut folded = c.next().unwrap();
            initial.push(folded);
            let mut log_height = K;
            for (r, &a) in LOG_ARITIES.iter().enumerate() {
                let group_index = index % (1 << a);
                let mut evals: Vec<Challenge> = (0..1 << a).map(|_| c.next().unwrap()).collect();
                evals[group_index] = folded;
                index >>= a;
                log_height -= a;
                let beta = betas[r];
                let ro = c.next().unwrap();
                folded = FriFoldingStrategy::<F, Challenge>::fold_row(
                    &folding,
                    index,
                    log_height,
                    a,
                    beta,
                    evals.iter().copied(),
                );
                if ROLLS_IN[r] {
                    folded += beta.exp_power_of_2(a) * ro;
                }
                let s = F::two_adic_generator(log_height + a)
                    .exp_u64(reverse_bits_len(index, log_height) as u64);
                inputs.push(FoldInput {
                    evals,
                    beta,
                    group_index,
                    parent_index: index,
                    s_inv: s.inverse(),
                    ro,
                });
            }
            last.push(folded);
        }
        Run {
            inputs,
            initial,
            last,
            betas,
        }
    }

    /// Round `r`'s opened row as its Merkle opening sends it: `(transcript, query, root
    /// position, offset, chunk (15))`, the row's coordinates in chunks of 15, zero past them.
    fn opening_chunks(t: F, pos: F, r: usize, evals: &[Challenge]) -> Vec<Vec<F>> {
        let flat: Vec<F> = evals.iter().flat_map(|&e| ext::coords(e)).collect();
        flat.chunks(RATE)
            .enumerate()
            .map(|(k, chunk)| {
                let mut m = vec![t, pos, F::from_usize(rounds()[r].root_position)];
                m.push(F::from_usize(k * RATE));
                m.extend_from_slice(chunk);
                m.resize(4 + RATE, F::ZERO);
                m
            })
            .collect()
    }

    /// The messages the other AIRs send and receive, from the reference runs: `beta`'s
    /// coordinates (once per row that reads them), both windows, initial values and roll-ins
    /// sent; the final folded values received; the commit-phase openings' chunks sent.
    fn others(runs: &[Run]) -> [Vec<Vec<F>>; 5] {
        let (mut samples, mut windows, mut provided, mut results, mut chunks) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let rounds = rounds();
        for (t, run) in runs.iter().enumerate() {
            let t = F::from_usize(t);
            for (q, pos) in queries().into_iter().enumerate() {
                let pos = F::from_usize(pos);
                let mut v = vec![t, pos, F::ZERO];
                v.extend(ext::coords(run.initial[q]));
                provided.push(v);
                for (r, round) in rounds.iter().enumerate() {
                    let input = &run.inputs[q * rounds.len() + r];
                    chunks.extend(opening_chunks(t, pos, r, &input.evals));
                    for (i, &c) in ext::coords(run.betas[r]).iter().enumerate() {
                        samples.push(vec![t, F::from_usize(round.beta_positions[i]), c]);
                    }
                    windows.push(vec![
                        t,
                        pos,
                        F::from_usize(round.group_tag),
                        F::from_usize(input.group_index),
                        F::ONE,
                    ]);
                    windows.push(vec![
                        t,
                        pos,
                        F::from_usize(round.point_tag),
                        F::from_usize(input.parent_index),
                        input.s_inv,
                    ]);
                    if round.rolls_in {
                        let mut v = vec![t, pos, F::from_usize(r)];
                        v.extend(ext::coords(input.ro));
                        provided.push(v);
                    }
                }
                let mut v = vec![t, pos, F::from_usize(rounds.len())];
                v.extend(ext::coords(run.last[q]));
                results.push(v);
            }
        }
        [samples, windows, provided, results, chunks]
    }

    fn air() -> FriFoldAir {
        FriFoldAir::new(FoldShape::new(queries(), rounds()))
    }

    fn batch(
        trace: RowMajorMatrix<F>,
        [samples, windows, provided, results, chunks]: [Vec<Vec<F>>; 5],
    ) -> Batch {
        // Initial values and roll-ins travel on two buses: split the provided messages by round
        // kind (a roll-in's round has `rolls_in`; an initial value's round is 0, never rolled in).
        let (initial, roll_ins): (Vec<Vec<F>>, Vec<Vec<F>>) =
            provided.into_iter().partition(|m| m[2] == F::ZERO);
        let known = [
            KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &samples),
            KnownAir::new(QUERY_INDEX_BUS, 5, true, &windows),
            KnownAir::new(FRI_FOLD_BUS, 3 + D, true, &initial),
            KnownAir::new(FRI_ROLL_IN_BUS, 3 + D, true, &roll_ins),
            KnownAir::new(FRI_FOLD_BUS, 3 + D, false, &results),
            KnownAir::new(MERKLE_VALUES_BUS, 4 + RATE, true, &chunks),
        ];
        let mut traces = vec![trace];
        traces.extend(known.iter().map(KnownAir::trace));
        let mut airs = vec![TestAir::Fold(air())];
        airs.extend(known.into_iter().map(TestAir::Known));
        Batch {
            airs,
            traces,
            buses: vec![
                TRANSCRIPT_SAMPLE_BUS,
                QUERY_INDEX_BUS,
                FRI_FOLD_BUS,
                FRI_ROLL_IN_BUS,
                MERKLE_VALUES_BUS,
            ],
        }
    }

    /// The chunks the active rows of `trace` read: as if each round's Merkle opening held what
    /// the row holds (forged rows included).
    fn chunks_read(trace: &RowMajorMatrix<F>) -> Vec<Vec<F>> {
        let mut out = Vec::new();
        for row in trace.values.chunks_exact(WIDTH) {
            let row: &FoldCols<F> = row.borrow();
            if row.active != F::ONE || row.present != F::ONE {
                continue;
            }
            let r = p3_field::PrimeField64::as_canonical_u64(&row.round) as usize;
            let n = 1 << LOG_ARITIES[r];
            let evals: Vec<Challenge> = row.evals[..n].iter().map(|&e| ext::element(e)).collect();
            out.extend(opening_chunks(row.transcript, row.query, r, &evals));
        }
        out
    }

    fn trace_of(runs: &[Run]) -> RowMajorMatrix<F> {
        let inputs: Vec<Vec<FoldInput>> = runs.iter().map(|r| r.inputs.clone()).collect();
        air().generate_trace(&inputs, MIN_HEIGHT).0
    }

    fn row_mut(trace: &mut RowMajorMatrix<F>, r: usize) -> &mut FoldCols<F> {
        trace.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut()
    }

    fn refill(trace: &mut RowMajorMatrix<F>, r: usize, input: &FoldInput) {
        let p = air().periodic_row(r);
        FriFoldAir::fill_row(row_mut(trace, r), input, p.as_slice().borrow());
    }

    const FOLDS: Failed = Failed::Bus(FRI_FOLD_BUS);

    #[test]
    fn butterflies_of_every_arity_are_plonky3s_fold_and_prove() {
        let runs = [plonky3_run(1), plonky3_run(2)];
        let inputs: Vec<Vec<FoldInput>> = runs.iter().map(|r| r.inputs.clone()).collect();
        let (trace, received, sent) = air().generate_trace(&inputs, MIN_HEIGHT);
        // Each query's last row sends Plonky3's final value; every other row's value is the
        // next row's `prev`.
        let n = LOG_ARITIES.len();
        for (t, run) in runs.iter().enumerate() {
            for q in 0..QUERIES {
                let at = t * QUERIES * n + q * n;
                assert_eq!(
                    ext::element(sent[at + n - 1][3..].try_into().unwrap()),
                    run.last[q]
                );
                assert_eq!(
                    ext::element(received[at][3..].try_into().unwrap()),
                    run.initial[q]
                );
                for r in 1..n {
                    assert_eq!(received[at + r][3..], sent[at + r - 1][3..]);
                }
            }
        }
        let b = batch(trace, others(&runs));
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }

    /// Transcript 0's trace with row `r` filled from `input` then edited; the query's later
    /// rows follow the forged value, and the users expect the final value it leads to (as if
    /// the final polynomial agreed), so that only the check under test can fail.
    fn forged(
        runs: &[Run],
        r: usize,
        input: &FoldInput,
        edit: impl FnOnce(&mut FoldCols<F>),
    ) -> Batch {
        let (trace, mut o) = forged_parts(runs, r, input, edit);
        o[4] = chunks_read(&trace);
        batch(trace, o)
    }

    /// [`forged`]'s trace and messages, the commit-phase openings' chunks still the honest
    /// ones.
    fn forged_parts(
        runs: &[Run],
        r: usize,
        input: &FoldInput,
        edit: impl FnOnce(&mut FoldCols<F>),
    ) -> (RowMajorMatrix<F>, [Vec<Vec<F>>; 5]) {
        let mut trace = trace_of(runs);
        refill(&mut trace, r, input);
        edit(row_mut(&mut trace, r));
        let n = LOG_ARITIES.len();
        let end = (r / n + 1) * n;
        for k in r + 1..end {
            let prev = row_mut(&mut trace, k - 1).folded;
            let mut next = runs[0].inputs[k].clone();
            next.evals[next.group_index] = ext::element(prev);
            refill(&mut trace, k, &next);
        }
        let mut o = others(runs);
        let last = row_mut(&mut trace, end - 1).folded;
        o[3][r / n][3..].copy_from_slice(&last);
        (trace, o)
    }

    // Constraint numbers, in `eval` order.
    const WEIGHTED: usize = 25;
    const PICK: usize = 26;

    #[test]
    fn the_value_so_far_at_another_slot_is_caught() {
        // The row holds the value so far at another slot than `i mod 2^a`, and something else
        // at `i mod 2^a`.
        let runs = [plonky3_run(1)];
        for r in [0, 1, 2] {
            let honest = &runs[0].inputs[r];
            let g = honest.group_index;
            let other = (g + 1) % honest.evals.len();
            let mut moved = honest.clone();
            moved.evals[other] = honest.evals[g];
            moved.evals[g] += Challenge::ONE;
            let prev = ext::coords(honest.evals[g]);
            // Selecting `i mod 2^a`: the selected entry is not the value received.
            let b = forged(&runs, r, &moved, |row| row.prev = prev);
            b.caught(|f| {
                !f.is_empty()
                    && f.iter()
                        .all(|x| matches!(x, Failed::Constraint(c) if (PICK..PICK + D).contains(c)))
            });
            // Selecting the other slot: the window `i mod 2^a` is not the one the query sent.
            let mut elsewhere = moved.clone();
            elsewhere.group_index = other;
            forged(&runs, r, &elsewhere, |_| ())
                .caught(|f| f == &BTreeSet::from([Failed::Bus(QUERY_INDEX_BUS)]));
            // ... or, claiming the query's window, the selector's weighted sum.
            let b = forged(&runs, r, &elsewhere, |row| {
                row.group_index = F::from_usize(g)
            });
            b.caught(|f| f == &BTreeSet::from([Failed::Constraint(WEIGHTED)]));
        }
    }

    #[test]
    fn the_opened_row_is_the_commit_phase_openings() {
        let runs = [plonky3_run(1), plonky3_run(2)];
        let values = |f: &BTreeSet<Failed>| f == &BTreeSet::from([Failed::Bus(MERKLE_VALUES_BUS)]);
        // Rounds of arity 8 (three chunks, the last one read at every coordinate), 2 (one
        // chunk) and 4 (two chunks): a value of the row the opening does not hold, in each
        // chunk, with everything after it following the forged row.
        for (r, j) in [(0, 0), (0, 3), (0, 7), (1, 1), (2, 2), (2, 3)] {
            let g = runs[0].inputs[r].group_index;
            // Not the slot of the value so far, which the fold bus ties to the previous round.
            let j = if j == g {
                (j + 1) % (1 << LOG_ARITIES[r])
            } else {
                j
            };
            let mut input = runs[0].inputs[r].clone();
            input.evals[j] += Challenge::ONE;
            let (trace, o) = forged_parts(&runs, r, &input, |_| ());
            batch(trace, o).caught(values);
        }
        // The chunks of another round's commitment (its root position), or read where the
        // round has none: the value bus, and the mirror's constraint.
        let forged = |edit: fn(&mut FoldCols<F>)| {
            let mut trace = trace_of(&runs);
            edit(row_mut(&mut trace, 1));
            let o = others(&runs);
            batch(trace, o)
        };
        forged(|row| row.root_position = F::from_usize(400))
            .caught(|f| has_constraint(f) && f.contains(&Failed::Bus(MERKLE_VALUES_BUS)));
        forged(|row| row.reads[2] = F::ONE)
            .caught(|f| has_constraint(f) && f.contains(&Failed::Bus(MERKLE_VALUES_BUS)));
    }

    #[test]
    fn a_two_hot_selector_is_caught() {
        let runs = [plonky3_run(1)];
        let input = &runs[0].inputs[0];
        let b = forged(&runs, 0, input, |row| {
            let g = p3_field::PrimeField64::as_canonical_u64(&row.group_index) as usize;
            row.sel[(g + 1) % ARITY] = F::ONE;
        });
        b.caught(has_constraint);
    }

    #[test]
    fn a_wrong_fold_is_caught_at_every_layer() {
        let runs = [plonky3_run(1)];
        // Row 0 is a round of arity 8 (every layer used), row 1 of arity 2 with a roll-in.
        for r in [0, 1] {
            for edit in [
                (|row: &mut FoldCols<F>| row.l0[1][2] += F::ONE) as fn(&mut FoldCols<F>),
                |row: &mut FoldCols<F>| row.l1[0][0] += F::ONE,
                |row: &mut FoldCols<F>| row.l2[4] += F::ONE,
                |row: &mut FoldCols<F>| row.t0[3][1] += F::ONE,
                |row: &mut FoldCols<F>| row.t2[0] += F::ONE,
                |row: &mut FoldCols<F>| row.beta[2][0] += F::ONE,
                |row: &mut FoldCols<F>| row.s_inv_layer[2] += F::ONE,
                |row: &mut FoldCols<F>| row.beta_pow[3] += F::ONE,
                |row: &mut FoldCols<F>| row.folded[0] += F::ONE,
            ] {
                forged(&runs, r, &runs[0].inputs[r], edit).caught(only_constraints);
            }
        }
    }

    #[test]
    fn another_challenge_point_or_roll_in_is_caught_on_its_bus() {
        let runs = [plonky3_run(1)];
        for (edit, bus) in [
            (
                (|i: &mut FoldInput| i.beta += Challenge::ONE) as fn(&mut FoldInput),
                TRANSCRIPT_SAMPLE_BUS,
            ),
            (|i: &mut FoldInput| i.s_inv += F::ONE, QUERY_INDEX_BUS),
            (|i: &mut FoldInput| i.ro += Challenge::ONE, FRI_ROLL_IN_BUS),
        ] {
            // Row 1 rolls in.
            let mut input = runs[0].inputs[1].clone();
            edit(&mut input);
            forged(&runs, 1, &input, |_| ()).caught(|f| f == &BTreeSet::from([Failed::Bus(bus)]));
        }
        // A roll-in skipped: the mirror off its schedule.
        let b = forged(&runs, 1, &runs[0].inputs[1], |row| row.rolls_in = F::ZERO);
        b.caught(has_constraint);
    }

    #[test]
    fn inactive_padding_and_swapped_blocks_unbalance_the_buses() {
        let period = air().shape.block_len();
        let runs = [plonky3_run(1), plonky3_run(2)];
        let mut trace = trace_of(&runs);
        for r in 0..period {
            row_mut(&mut trace, r).active = F::ZERO;
        }
        let all = |f: &BTreeSet<Failed>| {
            f == &BTreeSet::from([
                Failed::Bus(TRANSCRIPT_SAMPLE_BUS),
                Failed::Bus(QUERY_INDEX_BUS),
                FOLDS,
                Failed::Bus(FRI_ROLL_IN_BUS),
                Failed::Bus(MERKLE_VALUES_BUS),
            ])
        };
        batch(trace, others(&runs)).caught(all);

        let one = [plonky3_run(1)];
        let mut trace = trace_of(&one);
        for r in period..2 * period {
            row_mut(&mut trace, r).active = F::ONE;
        }
        batch(trace, others(&one))
            .caught(|f| f.contains(&Failed::Bus(QUERY_INDEX_BUS)) && f.contains(&FOLDS));

        // The two transcripts' numbers swapped: every bus, and a block's number is its place.
        let mut trace = trace_of(&runs);
        for r in 0..2 * period {
            row_mut(&mut trace, r).transcript = F::from_bool(r < period);
        }
        batch(trace, others(&runs)).caught(|f| {
            let buses: BTreeSet<Failed> = f
                .iter()
                .filter(|x| matches!(x, Failed::Bus(_)))
                .cloned()
                .collect();
            all(&buses) && has_constraint(f)
        });
    }
}
