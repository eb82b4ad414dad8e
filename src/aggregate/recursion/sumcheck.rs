//! `SumcheckAir`: the verifier's side of sumcheck rounds over the challenge field, one row per
//! round, every round polynomial bound to the transcript and every challenge taken from it.
//!
//! The first brick of the multilinear verifier in AIRs (recursion README, "Order of work", step
//! 3): p3-multi-stark's shared sumcheck (the zerocheck), the layers of its LogUp GKR, WHIR's
//! folding sumchecks and the reduction of deferred schedule claims are all sumchecks, and each
//! round of each of them is checked the same way. The rounds are p3-sumcheck 0.8's, in one of
//! three encodings ([`Encoding`]): its generic-degree sumcheck (`p3_sumcheck::generic_degree`)
//! sends a round polynomial `h` of degree `d` (1 to [`MAX_DEGREE`]) as its values at the integer
//! nodes `0, 2, 3, ..., d`, its value at `1` being the running claim minus `h(0)`; its quadratic
//! rounds (`SumcheckData`, WHIR's) send `h(0)` or `h(1)` and the leading coefficient, by the
//! round identity of their basis. The next claim is `h(r)` for the round's challenge `r`, as
//! `RoundPolyInterpolator::eval` and `Basis::reduce_claim` compute it.
//!
//! **One sumcheck per block of rows, no schedule.** The AIR has no periodic column: what fixes a
//! row's transcript positions is its own columns. A block is the consecutive rounds of one
//! sumcheck, keyed by `(transcript, start)`, the child transcript's number and the position of
//! its first round's first element; round `k` of it sits at `position = start + k * stride`
//! (a constant of the AIR: the round polynomial's `5 d` coordinates, then whatever the protocol
//! puts before the challenge, such as a grinding witness and its bit sample, then the
//! challenge's five coordinates at `position + challenge_at`). Per row:
//!
//! - the round polynomial's coordinates are sent on `"transcript-observe"` as
//!   `(transcript, position + 5 k + j, coordinate j of h's k-th transmitted value)`, so the
//!   transcript AIR ([`super::duplex::DuplexAir`]) absorbs exactly those values at those
//!   positions, and receives each position once;
//! - the challenge's coordinates are received on `"transcript-sample"` from
//!   `(transcript, position + challenge_at + j)`, coefficient 0 first (Plonky3's
//!   `sample_algebra_element` over the duplex);
//! - `falling` holds `r (r - 1)`, `r (r - 1) (r - 2)`, ..., each the one before times the next
//!   factor, and `reduced` is `h(r)` by Newton's forward differences over the nodes `0..=d`, with
//!   `h(1) = claim - h(0)`: `h(r) = h(0) + r Δ + r (r - 1) / 2 Δ² + ...`, up to `Δ^d` (degree 2 in
//!   the columns);
//! - within a block (`last = 0`) the next row's claim is this row's `reduced`, its position is
//!   this one's plus `stride`, its round one more, and `transcript`, `start` and `active` are the
//!   same; the row after a block's last starts a block (`first` is the previous row's `last`,
//!   and 1 on the trace's first row), at round 0 and `position = start`.
//!
//! **What a sumcheck's user sees.** Whoever needs a sumcheck (the zerocheck's AIR, a GKR layer,
//! a WHIR round) sends its initial claim as `(transcript, start, claim (5))` on
//! [`SUMCHECK_CLAIM_BUS`], received on the block's first row, and receives
//! `(transcript, start, rounds, final claim (5))` on [`SUMCHECK_RESULT_BUS`], sent on its last
//! row (`rounds` is `round + 1` there): the claim the user must then check at the point, whose
//! coordinates it takes from the transcript's samples at the positions it derives from `start`
//! and `stride` as this AIR does. The claimed sum itself, when the protocol observes it
//! (p3-sumcheck's generic-degree transcript absorbs it before round 0), is the user's to observe.
//! Grinding witnesses and their bit checks sit between a round's values and its challenge and
//! are checked where every grinding check is ([`super::bits::SampledBitsAir`],
//! [`super::observed::ObservedAir`]).
//!
//! **Why a forged round fails.** Every transmitted value is a transcript observation at a
//! position the block's key and round fix, and the transcript absorbs each position once, so a
//! round polynomial other than the transcript's leaves `"transcript-observe"` unbalanced; a
//! challenge other than the sample at its position leaves `"transcript-sample"` unbalanced; a
//! claim other than the previous round's `h(r)`, or a final claim, round count or start other
//! than the user's, breaks a constraint or leaves the claim or result bus unbalanced. Two active
//! blocks with one key would absorb each position twice. Inactive rows (padding: one-round
//! blocks, all zero) send and receive nothing.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::{Field, PrimeCharacteristicRing};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::duplex::{TRANSCRIPT_OBSERVE_BUS, TRANSCRIPT_SAMPLE_BUS};
use super::ext::{self, coords, element, D};
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// Bus of a sumcheck's initial claim `(transcript, start, claim (5))`, sent by the sumcheck's
/// user and received on the block's first row.
pub const SUMCHECK_CLAIM_BUS: &str = "sumcheck-claim";
/// Bus of a sumcheck's outcome `(transcript, start, rounds, final claim (5))`, sent on the
/// block's last row and received by the sumcheck's user.
pub const SUMCHECK_RESULT_BUS: &str = "sumcheck-result";

/// The largest degree of a round polynomial this AIR checks: p3-multi-stark's zerocheck of a
/// compact parent's batch sends five values a round (measured on a real one over Poseidon1-24:
/// `the_zerocheck_of_a_real_poseidon1_compact_parent`), the LogUp GKR's layers three, WHIR's
/// folding sumchecks two.
pub const MAX_DEGREE: usize = 5;

/// The columns of one row (67), viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct SumcheckCols<T> {
    /// The child transcript's number (constant down a block).
    pub transcript: T,
    /// Transcript position of the sumcheck's first element (constant down a block).
    pub start: T,
    /// Transcript position of this round's first element: `start + round * stride`.
    pub position: T,
    /// The round, from 0.
    pub round: T,
    /// 1 in a block that sends and receives, 0 in padding (constant down a block).
    pub active: T,
    /// 1 on a block's first row.
    pub first: T,
    /// 1 on a block's last row.
    pub last: T,
    /// The running claim `h(0) + h(1)`.
    pub claim: [T; D],
    /// `h(0), h(2), ..., h(d)` as transmitted; zero past the AIR's degree.
    pub evals: [[T; D]; MAX_DEGREE],
    /// The round's challenge `r`.
    pub challenge: [T; D],
    /// `r (r - 1)`, `r (r - 1) (r - 2)`, ..., `r (r - 1) ... (r - 4)`.
    pub falling: [[T; D]; MAX_DEGREE - 1],
    /// `h(r)`: the next round's claim, or the sumcheck's final claim.
    pub reduced: [T; D],
}

crate::aggregate::air::row_view!(SumcheckCols);

/// Width of [`SumcheckAir`].
pub const WIDTH: usize = core::mem::size_of::<SumcheckCols<u8>>();

/// How a round polynomial `h` crosses the transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Its values at `0, 2, ..., d` (p3-sumcheck's `generic_degree`, `RoundPolyInterpolator`:
    /// the zerocheck and the LogUp GKR's layers); `h(1) = claim - h(0)`.
    Nodes,
    /// Quadratic: `h(0)` and the leading coefficient `c` (p3-sumcheck's `SumcheckData` under
    /// `Basis::Evaluation`, the basis WHIR's verifier folds in); `h(1) = claim - h(0)`, so `h(r) = h(0) + r (claim - 2 h(0)) +
    /// r (r - 1) c`.
    ZeroAndLeading,
    /// Quadratic, summed over `{0, inf}`: `h(1)` and the leading coefficient `c` (p3-sumcheck's
    /// `SumcheckData` under `Basis::Projective`); `h(0) = claim - c`, so `h(r) =
    /// h(0) + r (h(1) - h(0)) + r (r - 1) c`.
    OneAndLeading,
}

/// The rounds of sumchecks of one encoding, degree and transcript layout (module docs).
#[derive(Clone, Debug)]
pub struct SumcheckAir {
    encoding: Encoding,
    degree: usize,
    stride: usize,
    challenge_at: usize,
    /// No periodic column (the shared `BaseAir` of the verifier AIRs reads this field).
    periodic: Vec<Vec<F>>,
}

/// One sumcheck as a verifier replays it: its key, the claim it starts from, each round's
/// transmitted values `h(0), h(2), ..., h(d)` and each round's challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SumcheckRun {
    /// The child transcript's number.
    pub transcript: u32,
    /// Transcript position of round 0's first element.
    pub start: usize,
    /// The claimed sum.
    pub claim: Challenge,
    /// One entry per round: the `d` transmitted values.
    pub rounds: Vec<Vec<Challenge>>,
    /// One challenge per round.
    pub challenges: Vec<Challenge>,
}

impl SumcheckRun {
    /// The claim its rounds end with: the claimed sum reduced through each round's values at
    /// its challenge ([`reduce`], the node encoding `h(0), h(2), ..., h(d)`), what
    /// [`SumcheckAir`] sends back to the sumcheck's user.
    ///
    /// # Panics
    /// If a round has no value or more than [`MAX_DEGREE`].
    pub fn final_claim(&self) -> Challenge {
        self.rounds
            .iter()
            .zip(&self.challenges)
            .fold(self.claim, |c, (evals, &r)| reduce(c, evals, r))
    }
}

/// `h(r)` for the round polynomial of degree `evals.len()` whose values at `0, 2, ..., d` are
/// `evals` and whose values at 0 and 1 sum to `claim`, by forward differences over `0..=d` (the
/// same value as p3-sumcheck's barycentric `RoundPolyInterpolator::eval`).
///
/// # Panics
/// If `evals` is empty or longer than [`MAX_DEGREE`].
pub fn reduce(claim: Challenge, evals: &[Challenge], r: Challenge) -> Challenge {
    reduce_as(Encoding::Nodes, claim, evals, r)
}

/// `h(r)` for the round polynomial `evals` transmits under `encoding` (two values for the
/// quadratic encodings) whose round identity holds with `claim`: the value p3-sumcheck's
/// verifier folds the claim to (`RoundPolyInterpolator::eval`, `Basis::reduce_claim`).
///
/// # Panics
/// If `evals` is empty or longer than [`MAX_DEGREE`], or not two values for a quadratic
/// encoding.
pub fn reduce_as(
    encoding: Encoding,
    claim: Challenge,
    evals: &[Challenge],
    r: Challenge,
) -> Challenge {
    assert!(
        (1..=MAX_DEGREE).contains(&evals.len()),
        "a round polynomial of degree 1 to {MAX_DEGREE}"
    );
    assert!(
        encoding == Encoding::Nodes || evals.len() == 2,
        "a quadratic round sends two values"
    );
    let padded: [[F; D]; MAX_DEGREE] =
        core::array::from_fn(|k| evals.get(k).map_or([F::ZERO; D], |&e| coords(e)));
    let r = coords(r);
    let falling = falling(&r);
    element(reduced(
        encoding,
        &coords(claim),
        &padded,
        &r,
        &falling,
        evals.len(),
    ))
}

/// The falling products `r (r - 1)`, `r (r - 1) (r - 2)`, ..., up to `MAX_DEGREE` factors, on
/// coordinates.
fn falling<E: PrimeCharacteristicRing + Clone>(r: &[E; D]) -> [[E; D]; MAX_DEGREE - 1] {
    let mut out: [[E; D]; MAX_DEGREE - 1] =
        core::array::from_fn(|_| core::array::from_fn(|_| E::ZERO));
    out[0] = ext::mul(r, &minus(r, 1));
    for k in 1..MAX_DEGREE - 1 {
        out[k] = ext::mul(&out[k - 1], &minus(r, k as u32 + 1));
    }
    out
}

/// `a - k` for a small integer `k`.
fn minus<E: PrimeCharacteristicRing + Clone>(a: &[E; D], k: u32) -> [E; D] {
    let mut out = a.clone();
    out[0] = out[0].clone() - E::from_u32(k);
    out
}

/// `h(r)` from the claim, the transmitted values (zero past `degree`), `r` and its falling
/// products (`falling[m - 2]` is `r (r - 1) ... (r - m + 1)`), as the constraint computes it:
/// Newton's forward form over the nodes `0..=degree`, `h(r) = sum_m Δ^m h(0) C(r, m)` with
/// `Δ^m h(0) = sum_i (-1)^(m - i) binom(m, i) h(i)` and `C(r, m)` the falling product over
/// `m!`. Degree 2 in the columns.
fn reduced<E: PrimeCharacteristicRing + Clone + From<F>>(
    encoding: Encoding,
    claim: &[E; D],
    evals: &[[E; D]; MAX_DEGREE],
    r: &[E; D],
    falling: &[[E; D]; MAX_DEGREE - 1],
    degree: usize,
) -> [E; D] {
    // The quadratic encodings: h(0) + r (h(1) - h(0)) + r (r - 1) c.
    let quadratic = |h0: [E; D], h1: [E; D]| {
        let linear = ext::add(&h0, &ext::mul(r, &ext::sub(&h1, &h0)));
        ext::add(&linear, &ext::mul(&falling[0], &evals[1]))
    };
    match encoding {
        Encoding::Nodes => {}
        Encoding::ZeroAndLeading => {
            return quadratic(evals[0].clone(), ext::sub(claim, &evals[0]));
        }
        Encoding::OneAndLeading => {
            return quadratic(ext::sub(claim, &evals[1]), evals[0].clone());
        }
    }
    // h(0), h(1) = claim - h(0), h(2), ..., h(degree).
    let mut h: Vec<[E; D]> = vec![evals[0].clone(), ext::sub(claim, &evals[0])];
    h.extend(evals[1..degree].iter().cloned());
    let mut out = h[0].clone();
    let mut binom = vec![1u64];
    let mut factorial = 1u64;
    for m in 1..=degree {
        // binom(m, i) from binom(m - 1, i).
        let mut row = vec![1u64; m + 1];
        for i in 1..m {
            row[i] = binom[i - 1] + binom[i];
        }
        binom = row;
        factorial *= m as u64;
        let delta: [E; D] = core::array::from_fn(|c| {
            (0..=m).fold(E::ZERO, |acc, i| {
                let term = h[i][c].clone() * E::from_u64(binom[i]);
                if (m - i) % 2 == 0 {
                    acc + term
                } else {
                    acc - term
                }
            })
        });
        let weighted = if m == 1 {
            ext::mul(r, &delta)
        } else {
            let inv = E::from(F::from_u64(factorial).inverse());
            ext::scale(&ext::mul(&falling[m - 2], &delta), inv)
        };
        out = ext::add(&out, &weighted);
    }
    out
}

impl SumcheckAir {
    /// The AIR for sumchecks whose round polynomials have `degree` transmitted values
    /// (`h(0), h(2), ..., h(degree)`), whose rounds take `stride` transcript positions each and
    /// whose challenge's first coordinate is `challenge_at` positions into its round
    /// (p3-sumcheck's generic-degree transcript: `challenge_at = 5 degree`, plus 2 with grinding
    /// for the witness and its bit sample; `stride = challenge_at + 5`).
    ///
    /// # Errors
    /// A message for a degree outside `1..=MAX_DEGREE`, or a layout in which the challenge
    /// overlaps the round polynomial or runs past the stride.
    pub fn new(degree: usize, stride: usize, challenge_at: usize) -> Result<Self, String> {
        Self::encoded(Encoding::Nodes, degree, stride, challenge_at)
    }

    /// As [`SumcheckAir::new`], the round polynomials sent under `encoding` (two values, degree
    /// 2, for the quadratic encodings).
    ///
    /// # Errors
    /// As [`SumcheckAir::new`], and a quadratic encoding of other than two values.
    pub fn encoded(
        encoding: Encoding,
        degree: usize,
        stride: usize,
        challenge_at: usize,
    ) -> Result<Self, String> {
        if !(1..=MAX_DEGREE).contains(&degree) {
            return Err(format!("a round polynomial of degree {degree}"));
        }
        if encoding != Encoding::Nodes && degree != 2 {
            return Err(format!("{encoding:?} sends two values, not {degree}"));
        }
        if challenge_at < D * degree || challenge_at + D > stride {
            return Err(format!(
                "a challenge at {challenge_at} of a {stride}-position round of degree {degree}"
            ));
        }
        Ok(Self {
            encoding,
            degree,
            stride,
            challenge_at,
            periodic: Vec::new(),
        })
    }

    /// The AIR for p3-sumcheck's quadratic rounds (`SumcheckData`, WHIR's sumchecks) under
    /// `encoding`, with grinding (`pow`) or without: the two values, the witness and its bit
    /// sample if any, the challenge.
    ///
    /// # Errors
    /// [`Encoding::Nodes`], which is [`SumcheckAir::generic_degree`]'s.
    pub fn quadratic(encoding: Encoding, pow: bool) -> Result<Self, String> {
        if encoding == Encoding::Nodes {
            return Err("the integer nodes are the generic-degree encoding".into());
        }
        let challenge_at = 2 * D + if pow { 2 } else { 0 };
        Self::encoded(encoding, 2, challenge_at + D, challenge_at)
    }

    /// The AIR for p3-sumcheck's generic-degree transcript of `degree` with grinding (`pow`) or
    /// without: the round's values, the witness and its bit sample if any, the challenge.
    ///
    /// # Errors
    /// A degree outside `1..=MAX_DEGREE`.
    pub fn generic_degree(degree: usize, pow: bool) -> Result<Self, String> {
        let challenge_at = D * degree + if pow { 2 } else { 0 };
        Self::new(degree, challenge_at + D, challenge_at)
    }

    /// How the round polynomials are sent.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Transmitted values per round.
    pub fn degree(&self) -> usize {
        self.degree
    }

    /// Transcript positions per round.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Position of a round's challenge (first coordinate) from the round's first position.
    pub fn challenge_at(&self) -> usize {
        self.challenge_at
    }

    /// The trace of `runs`, one block each in the given order, then padding rows up to a power of
    /// two of at least `min_height`; and each run's final claim, computed as the constraints do.
    ///
    /// # Errors
    /// A message for a run with no round, with as many challenges as rounds not, or with a round
    /// of other than [`SumcheckAir::degree`] values.
    pub fn generate_trace(
        &self,
        runs: &[SumcheckRun],
        min_height: usize,
    ) -> Result<(RowMajorMatrix<F>, Vec<Challenge>), String> {
        let rows: usize = runs.iter().map(|r| r.rounds.len()).sum();
        let height = rows.max(min_height).max(1).next_power_of_two();
        let mut values = F::zero_vec(height * WIDTH);
        let mut finals = Vec::with_capacity(runs.len());
        let mut at = 0;
        for run in runs {
            if run.rounds.is_empty() || run.rounds.len() != run.challenges.len() {
                return Err(format!(
                    "a sumcheck of {} rounds and {} challenges",
                    run.rounds.len(),
                    run.challenges.len()
                ));
            }
            let mut claim = run.claim;
            for (k, (evals, &r)) in run.rounds.iter().zip(&run.challenges).enumerate() {
                if evals.len() != self.degree {
                    return Err(format!(
                        "round {k}: {} values for degree {}",
                        evals.len(),
                        self.degree
                    ));
                }
                let row: &mut SumcheckCols<F> = values[at * WIDTH..(at + 1) * WIDTH].borrow_mut();
                row.transcript = F::from_u32(run.transcript);
                row.start = F::from_usize(run.start);
                row.position = F::from_usize(run.start + k * self.stride);
                row.round = F::from_usize(k);
                row.active = F::ONE;
                row.first = F::from_bool(k == 0);
                row.last = F::from_bool(k + 1 == run.rounds.len());
                row.claim = coords(claim);
                for (slot, &e) in row.evals.iter_mut().zip(evals) {
                    *slot = coords(e);
                }
                row.challenge = coords(r);
                row.falling = falling(&row.challenge);
                row.reduced = reduced(
                    self.encoding,
                    &row.claim,
                    &row.evals,
                    &row.challenge,
                    &row.falling,
                    self.degree,
                );
                claim = element(row.reduced);
                at += 1;
            }
            finals.push(claim);
        }
        // Padding: one-round inactive blocks, all zero.
        for r in at..height {
            let row: &mut SumcheckCols<F> = values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
            row.first = F::ONE;
            row.last = F::ONE;
        }
        Ok((RowMajorMatrix::new(values, WIDTH), finals))
    }
}

verifier_base_air!(SumcheckAir, |_: &SumcheckAir| WIDTH);

impl<AB> Air<AB> for SumcheckAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &SumcheckCols<AB::Var> = main.current_slice().borrow();
        let next: &SumcheckCols<AB::Var> = main.next_slice().borrow();
        let one = AB::Expr::ONE;
        let ex = |a: &[AB::Var; D]| -> [AB::Expr; D] { core::array::from_fn(|i| a[i].into()) };

        builder.assert_bool(row.active);
        builder.assert_bool(row.first);
        builder.assert_bool(row.last);
        builder.when_first_row().assert_one(row.first);
        builder.when(row.first).assert_zero(row.round);
        builder.when(row.first).assert_eq(row.position, row.start);

        // The round's arithmetic.
        let r = ex(&row.challenge);
        let evals: [[AB::Expr; D]; MAX_DEGREE] = core::array::from_fn(|k| ex(&row.evals[k]));
        let falling_now: [[AB::Expr; D]; MAX_DEGREE - 1] =
            core::array::from_fn(|k| ex(&row.falling[k]));
        // Each falling product from the one before it (degree 2).
        for k in 0..MAX_DEGREE - 1 {
            let f = if k == 0 {
                ext::mul(&r, &minus(&r, 1))
            } else {
                ext::mul(&falling_now[k - 1], &minus(&r, k as u32 + 1))
            };
            for (&c, e) in row.falling[k].iter().zip(f) {
                builder.assert_eq(c, e);
            }
        }
        for e in &row.evals[self.degree..] {
            for &c in e {
                builder.assert_zero(c);
            }
        }
        let h_r = reduced(
            self.encoding,
            &ex(&row.claim),
            &evals,
            &r,
            &falling_now,
            self.degree,
        );
        for (&c, e) in row.reduced.iter().zip(h_r) {
            builder.assert_eq(c, e);
        }

        // Within a block, and from one block to the next.
        let mut t = builder.when_transition();
        t.assert_eq(next.first, row.last);
        let within = one.clone() - row.last.into();
        for i in 0..D {
            t.assert_zero(within.clone() * (next.claim[i] - row.reduced[i]));
        }
        t.assert_zero(within.clone() * (next.transcript - row.transcript));
        t.assert_zero(within.clone() * (next.start - row.start));
        t.assert_zero(within.clone() * (next.active - row.active));
        t.assert_zero(within.clone() * (next.round - row.round - one.clone()));
        t.assert_zero(within * (next.position - row.position - AB::Expr::from_usize(self.stride)));

        // The transcript.
        let observe = PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS);
        for (k, e) in row.evals[..self.degree].iter().enumerate() {
            for (j, &c) in e.iter().enumerate() {
                observe.send(
                    builder,
                    [
                        row.transcript.into(),
                        row.position.into() + AB::Expr::from_usize(D * k + j),
                        c.into(),
                    ],
                    Count::bounded(row.active.into(), 1),
                );
            }
        }
        let sample = PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS);
        for (j, &c) in row.challenge.iter().enumerate() {
            sample.receive(
                builder,
                [
                    row.transcript.into(),
                    row.position.into() + AB::Expr::from_usize(self.challenge_at + j),
                    c.into(),
                ],
                Count::bounded(row.active.into(), 1),
            );
        }

        // The user's claim in, the final claim out.
        let claim: Vec<AB::Expr> = [row.transcript.into(), row.start.into()]
            .into_iter()
            .chain(row.claim.iter().map(|&c| c.into()))
            .collect();
        PermutationCheckBus::new(SUMCHECK_CLAIM_BUS).receive(
            builder,
            claim,
            Count::bounded(row.active * row.first, 1),
        );
        let result: Vec<AB::Expr> = [
            row.transcript.into(),
            row.start.into(),
            row.round.into() + one,
        ]
        .into_iter()
        .chain(row.reduced.iter().map(|&c| c.into()))
        .collect();
        PermutationCheckBus::new(SUMCHECK_RESULT_BUS).send(
            builder,
            result,
            Count::bounded(row.active * row.last, 1),
        );
    }
}

#[cfg(test)]
mod tests {
    //! Real sumchecks: p3-sumcheck's generic-degree prover over products of multilinear
    //! polynomials, its verifier run on a recorded Poseidon1-24 duplex transcript, and the AIR's
    //! rows checked against both: the layout against the recording, the final claim against
    //! p3's. Each forgery is caught by the constraint or bus that should catch it
    //! (`check_all_constraints`, `check_lookups`), then by the FRI verifier on a proof of it.

    use std::collections::BTreeSet;

    use p3_sumcheck::generic_degree::RoundProver;
    use p3_sumcheck::strategy::Basis;
    use p3_sumcheck::transcript::{ProverTranscript, SumcheckShape};
    use p3_sumcheck::SumcheckData;

    use super::*;
    use crate::aggregate::fri::config::{FriHash, Poseidon1};
    use crate::aggregate::recursion::ext::tests::challenges;
    use crate::aggregate::recursion::harness::{Batch, Failed, KnownAir, TestAir, MIN_HEIGHT};
    use crate::aggregate::recursion::multilinear_child::{Event, Recorder};

    /// The prover's state: multilinear polynomials over `n` variables (values on the hypercube,
    /// the variable bound next being the top bit of the index), whose product is summed.
    struct Product {
        polys: Vec<Vec<Challenge>>,
    }

    impl Product {
        fn at(&self, t: Challenge) -> Challenge {
            let half = self.polys[0].len() / 2;
            (0..half)
                .map(|i| {
                    self.polys
                        .iter()
                        .map(|p| p[i] + t * (p[half + i] - p[i]))
                        .product::<Challenge>()
                })
                .sum()
        }
    }

    impl RoundProver<Challenge> for Product {
        fn fold(&mut self, r: Challenge) {
            for p in &mut self.polys {
                let half = p.len() / 2;
                let folded: Vec<Challenge> =
                    (0..half).map(|i| p[i] + r * (p[half + i] - p[i])).collect();
                *p = folded;
            }
        }
        fn round_poly(&self) -> Vec<Challenge> {
            let degree = self.polys.len();
            std::iter::once(0)
                .chain(2..=degree)
                .map(|t| self.at(Challenge::from_usize(t)))
                .collect()
        }
    }

    /// The product of the polynomials' multilinear extensions at `point` (top bit first).
    fn evaluate(polys: &[Vec<Challenge>], point: &[Challenge]) -> Challenge {
        polys
            .iter()
            .map(|p| {
                let mut v = p.clone();
                for &r in point {
                    let half = v.len() / 2;
                    v = (0..half).map(|i| v[i] + r * (v[half + i] - v[i])).collect();
                }
                v[0]
            })
            .product()
    }

    /// A real sumcheck of the product of `degree` pseudo-random polynomials over `rounds`
    /// variables (seeded by `seed`), proved and verified by p3-sumcheck with `pow_bits` of
    /// grinding per round; the verifier's transcript recorded.
    struct Real {
        /// The claimed sum.
        claim: Challenge,
        /// Each round's transmitted values.
        rounds: Vec<Vec<Challenge>>,
        /// Each round's grinding witness (empty without grinding).
        witnesses: Vec<F>,
        point: Vec<Challenge>,
        final_claim: Challenge,
        events: Vec<Event>,
        /// Position of round 0's first element: just after the claimed sum's coordinates.
        start: usize,
    }

    fn real(degree: usize, rounds: usize, pow_bits: usize, seed: u64) -> Real {
        let mut c = challenges(seed);
        let polys: Vec<Vec<Challenge>> = (0..degree)
            .map(|_| (0..1 << rounds).map(|_| c.next().unwrap()).collect())
            .collect();
        let sum: Challenge = (0..1 << rounds)
            .map(|i| polys.iter().map(|p| p[i]).product::<Challenge>())
            .sum();
        let mut prover = Product {
            polys: polys.clone(),
        };
        let mut transcript = Poseidon1::challenger(b"sumcheck-air test");
        let (proof, point) = prover.prove::<F, _>(&mut transcript, rounds, degree, pow_bits, sum);
        let mut recorder = Recorder::new(b"sumcheck-air test");
        let (vpoint, final_claim) = proof
            .verify(&mut recorder, rounds, degree, pow_bits)
            .expect("p3-sumcheck verifies its own proof");
        assert_eq!(vpoint.as_slice(), point.as_slice());
        // A real sumcheck: the final claim is the summand at the point.
        assert_eq!(final_claim, evaluate(&polys, point.as_slice()));
        // The claimed sum is observed whole right before round 0.
        let sum = coords(proof.claimed_sum);
        let start = (0..recorder.events.len() - D)
            .find(|&p| (0..D).all(|j| recorder.events[p + j] == (true, sum[j])))
            .expect("the claimed sum is observed")
            + D;
        Real {
            claim: proof.claimed_sum,
            rounds: proof.round_polys.clone(),
            witnesses: proof.pow_witnesses.clone(),
            point: point.as_slice().to_vec(),
            final_claim,
            events: recorder.events,
            start,
        }
    }

    /// Quadratic rounds as p3-sumcheck's `SumcheckData` carries them (WHIR's): `rounds` pairs of
    /// pseudo-random values absorbed by its prover transcript (its verifier folds the claim
    /// whatever the values, so any make a proof it replays), then replayed by its verifier,
    /// `verify_rounds` under `basis`, on a recorded transcript.
    fn real_quadratic(basis: Basis, rounds: usize, pow_bits: usize, seed: u64) -> Real {
        let mut c = challenges(seed);
        let claim = c.next().unwrap();
        let mut data = SumcheckData::<F, Challenge>::default();
        let mut transcript = Poseidon1::challenger(b"sumcheck-air quadratic");
        let mut prover = ProverTranscript::<_, F, Challenge>::new(
            &mut transcript,
            SumcheckShape::new(rounds, pow_bits, basis),
        );
        let mut drawn = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let (a, b) = (c.next().unwrap(), c.next().unwrap());
            drawn.push(data.observe_and_sample(&mut prover, a, b));
        }
        prover.finish();
        let mut recorder = Recorder::new(b"sumcheck-air quadratic");
        let mut final_claim = claim;
        let point = data
            .verify_rounds(&mut recorder, &mut final_claim, rounds, pow_bits, basis)
            .expect("p3-sumcheck replays its own rounds");
        assert_eq!(
            point.as_slice(),
            drawn.as_slice(),
            "the prover's challenges"
        );
        let rounds: Vec<Vec<Challenge>> = data
            .polynomial_evaluations()
            .iter()
            .map(|p| p.to_vec())
            .collect();
        // No claimed sum is observed here: round 0 starts with its first value.
        let first = coords(rounds[0][0]);
        let start = (0..recorder.events.len() - D)
            .find(|&p| (0..D).all(|j| recorder.events[p + j] == (true, first[j])))
            .expect("round 0 is observed");
        Real {
            claim,
            rounds,
            witnesses: data.pow_witnesses.clone(),
            point: point.as_slice().to_vec(),
            final_claim,
            events: recorder.events,
            start,
        }
    }

    impl Real {
        fn run(&self, transcript: u32) -> SumcheckRun {
            SumcheckRun {
                transcript,
                start: self.start,
                claim: self.claim,
                rounds: self.rounds.clone(),
                challenges: self.point.clone(),
            }
        }
    }

    /// What the transcript and the sumcheck's user hold for `real` as transcript `transcript`,
    /// read from the recording (never from the AIR's trace): every observed element of the
    /// rounds' values, every sampled coordinate of the challenges, the claimed sum sent and the
    /// final claim (p3's) expected back.
    fn known(air: &SumcheckAir, reals: &[(&Real, u32)]) -> Vec<TestAir> {
        let (mut observed, mut sampled, mut claims, mut results) = (vec![], vec![], vec![], vec![]);
        for &(real, t) in reals {
            let rounds = real.rounds.len();
            for k in 0..rounds {
                let at = real.start + k * air.stride();
                for p in at..at + D * air.degree() {
                    let (obs, v) = real.events[p];
                    assert!(obs, "position {p} is an observation");
                    observed.push(vec![F::from_u32(t), F::from_usize(p), v]);
                }
                for p in at + air.challenge_at()..at + air.challenge_at() + D {
                    let (obs, v) = real.events[p];
                    assert!(!obs, "position {p} is a sample");
                    sampled.push(vec![F::from_u32(t), F::from_usize(p), v]);
                }
            }
            let key = [F::from_u32(t), F::from_usize(real.start)];
            claims.push(key.into_iter().chain(coords(real.claim)).collect());
            results.push(
                key.into_iter()
                    .chain([F::from_usize(rounds)])
                    .chain(coords(real.final_claim))
                    .collect(),
            );
        }
        vec![
            TestAir::Known(KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed)),
            TestAir::Known(KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &sampled)),
            TestAir::Known(KnownAir::new(SUMCHECK_CLAIM_BUS, 2 + D, true, &claims)),
            TestAir::Known(KnownAir::new(SUMCHECK_RESULT_BUS, 3 + D, false, &results)),
        ]
    }

    /// The batch: the AIR's trace of `runs` and the verifier-known messages of `reals`.
    fn batch(air: &SumcheckAir, runs: &[SumcheckRun], reals: &[(&Real, u32)]) -> Batch {
        let (trace, _) = air.generate_trace(runs, MIN_HEIGHT).expect("a trace");
        batch_of(air, trace, reals)
    }

    fn batch_of(air: &SumcheckAir, trace: RowMajorMatrix<F>, reals: &[(&Real, u32)]) -> Batch {
        let known = known(air, reals);
        let traces = std::iter::once(trace)
            .chain(known.iter().map(|k| match k {
                TestAir::Known(k) => k.trace(),
                _ => unreachable!(),
            }))
            .collect();
        let airs: Vec<TestAir> = std::iter::once(TestAir::Sumcheck(air.clone()))
            .chain(known)
            .collect();
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

    #[test]
    fn the_interpolation_is_p3s_round_polynomial() {
        // h(r) by forward differences against the polynomial through the nodes, evaluated
        // directly, for every degree.
        let mut c = challenges(91);
        for degree in 1..=MAX_DEGREE {
            for _ in 0..20 {
                let coeffs: Vec<Challenge> = (0..=degree).map(|_| c.next().unwrap()).collect();
                let h = |x: Challenge| coeffs.iter().rev().fold(Challenge::ZERO, |a, &k| a * x + k);
                let evals: Vec<Challenge> = std::iter::once(0)
                    .chain(2..=degree)
                    .map(|t| h(Challenge::from_usize(t)))
                    .collect();
                let claim = h(Challenge::ZERO) + h(Challenge::ONE);
                let r = c.next().unwrap();
                assert_eq!(reduce(claim, &evals, r), h(r), "degree {degree}");
            }
        }
    }

    #[test]
    fn real_sumchecks_verify_through_the_air_and_forgeries_fail() {
        // Two sumchecks of degree 4, of 5 and 3 rounds, in two transcripts.
        let air = SumcheckAir::generic_degree(4, false).unwrap();
        let a = real(4, 5, 0, 1);
        let b = real(4, 3, 0, 2);
        let reals = [(&a, 7), (&b, 8)];
        let runs = [a.run(7), b.run(8)];
        let (_, finals) = air.generate_trace(&runs, MIN_HEIGHT).unwrap();
        assert_eq!(
            finals,
            vec![a.final_claim, b.final_claim],
            "p3's final claims"
        );
        let honest = batch(&air, &runs, &reals);
        assert_eq!(honest.failed(), BTreeSet::new());
        honest
            .prove_and_verify()
            .expect("the honest batch verifies");

        // A round polynomial other than the transcript's, the run otherwise consistent: the
        // transcript does not absorb it, and the final claim moves.
        let mut forged = runs.clone();
        forged[0].rounds[2][1] += Challenge::ONE;
        let b1 = batch(&air, &forged, &reals);
        assert_eq!(
            buses(&b1.failed()),
            BTreeSet::from([TRANSCRIPT_OBSERVE_BUS, SUMCHECK_RESULT_BUS])
        );
        b1.caught(|f| !f.is_empty());

        // A challenge other than the transcript's sample.
        let mut forged = runs.clone();
        forged[1].challenges[1] += Challenge::ONE;
        let b2 = batch(&air, &forged, &reals);
        assert_eq!(
            buses(&b2.failed()),
            BTreeSet::from([TRANSCRIPT_SAMPLE_BUS, SUMCHECK_RESULT_BUS])
        );
        b2.caught(|f| !f.is_empty());

        // Another claimed sum: the user's claim is not received, and the chain moves.
        let mut forged = runs.clone();
        forged[0].claim += Challenge::ONE;
        let b3 = batch(&air, &forged, &reals);
        assert_eq!(
            buses(&b3.failed()),
            BTreeSet::from([SUMCHECK_CLAIM_BUS, SUMCHECK_RESULT_BUS])
        );
        b3.caught(|f| !f.is_empty());

        // One round fewer: the last round's values and challenge are never taken, and the result
        // names four rounds.
        let mut forged = runs.clone();
        forged[0].rounds.pop();
        forged[0].challenges.pop();
        let b4 = batch(&air, &forged, &reals);
        assert_eq!(
            buses(&b4.failed()),
            BTreeSet::from([
                TRANSCRIPT_OBSERVE_BUS,
                TRANSCRIPT_SAMPLE_BUS,
                SUMCHECK_RESULT_BUS
            ])
        );
        b4.caught(|f| !f.is_empty());

        // The trace edited row by row, each edit a constraint of the AIR.
        let (trace, _) = air.generate_trace(&runs, MIN_HEIGHT).unwrap();
        let edit = |row: usize, f: &dyn Fn(&mut SumcheckCols<F>)| {
            let mut t = trace.clone();
            f(t.values[row * WIDTH..(row + 1) * WIDTH].borrow_mut());
            batch_of(&air, t, &reals)
        };
        // A claim that is not the previous round's h(r), the rest of the row left alone.
        let c1 = edit(2, &|r| r.claim[3] += F::ONE);
        c1.caught(|f| f.iter().any(|x| matches!(x, Failed::Constraint(_))));
        // A final claim that is not h(r) (the result bus then also disagrees).
        let c2 = edit(4, &|r| r.reduced[0] += F::ONE);
        c2.caught(|f| f.iter().any(|x| matches!(x, Failed::Constraint(_))));
        // A falling product that is not r (r - 1).
        let c3 = edit(1, &|r| r.falling[0][2] += F::ONE);
        c3.caught(|f| f.iter().any(|x| matches!(x, Failed::Constraint(_))));
        // A round that skips ahead in the transcript.
        let c4 = edit(3, &|r| r.position += F::ONE);
        c4.caught(|f| f.iter().any(|x| matches!(x, Failed::Constraint(_))));
        // The second block marked inactive: it takes nothing from the transcript.
        let c5 = edit(5, &|r| r.active = F::ZERO);
        c5.caught(|f| !f.is_empty());
    }

    #[test]
    fn grinding_rounds_of_degrees_one_to_three() {
        // p3-sumcheck with 3 bits of grinding a round: the witness and its bit sample sit
        // between the round's values and its challenge.
        for degree in 1..=3 {
            let air = SumcheckAir::generic_degree(degree, true).unwrap();
            let a = real(degree, 4, 3, 10 + degree as u64);
            for k in 0..4 {
                let at = a.start + k * air.stride() + D * degree;
                assert_eq!(a.events[at], (true, a.witnesses[k]), "the witness");
                assert!(!a.events[at + 1].0, "its bit sample");
            }
            let reals = [(&a, 3)];
            let b = batch(&air, &[a.run(3)], &reals);
            assert_eq!(b.failed(), BTreeSet::new(), "degree {degree}");
            b.prove_and_verify().expect("verifies");
            // Read with the layout of no grinding, the same run takes other elements.
            let plain = SumcheckAir::generic_degree(degree, false).unwrap();
            let (t, _) = plain.generate_trace(&[a.run(3)], MIN_HEIGHT).unwrap();
            let mut b2 = batch_of(&air, t, &reals);
            b2.airs[0] = TestAir::Sumcheck(plain);
            assert!(!b2.failed().is_empty(), "another layout, other positions");
        }
    }

    #[test]
    fn quadratic_rounds_in_both_bases() {
        // WHIR's sumchecks: p3-sumcheck's `SumcheckData` in the evaluation and projective bases,
        // with and without grinding; each AIR's final claim is p3's, and the other basis's
        // reduction of the same rounds is not.
        for (encoding, basis) in [
            (Encoding::ZeroAndLeading, Basis::Evaluation),
            (Encoding::OneAndLeading, Basis::Projective),
        ] {
            for pow_bits in [0, 2] {
                let air = SumcheckAir::quadratic(encoding, pow_bits > 0).unwrap();
                let a = real_quadratic(basis, 6, pow_bits, 40 + pow_bits as u64);
                let run = a.run(5);
                let (_, finals) = air
                    .generate_trace(std::slice::from_ref(&run), MIN_HEIGHT)
                    .unwrap();
                assert_eq!(finals, vec![a.final_claim], "{encoding:?}, {pow_bits} bits");
                let reals = [(&a, 5)];
                let b = batch(&air, std::slice::from_ref(&run), &reals);
                assert_eq!(b.failed(), BTreeSet::new(), "{encoding:?}");
                b.prove_and_verify().expect("verifies");
                let other = if encoding == Encoding::ZeroAndLeading {
                    Encoding::OneAndLeading
                } else {
                    Encoding::ZeroAndLeading
                };
                let wrong = SumcheckAir::quadratic(other, pow_bits > 0).unwrap();
                let (t, finals) = wrong.generate_trace(&[run], MIN_HEIGHT).unwrap();
                assert_ne!(
                    finals,
                    vec![a.final_claim],
                    "the other basis folds otherwise"
                );
                let b2 = batch_of(&wrong, t, &reals);
                assert_eq!(buses(&b2.failed()), BTreeSet::from([SUMCHECK_RESULT_BUS]));
            }
        }
    }

    /// The zerocheck of a real compact parent over Poseidon1-24: two real children of two keys
    /// (3, 4 and 4, 5), their parent's batch proved by p3-multi-stark over a Poseidon1-24 WHIR
    /// and verified by it on a recorded transcript. The AIR takes the zerocheck's rounds at the
    /// positions the recording gives (the claimed sum's observation, then the rounds at the
    /// generic-degree layout), and its final claim is the one p3-sumcheck's interpolation folds
    /// from the recorded challenges.
    #[test]
    fn the_zerocheck_of_a_real_poseidon1_compact_parent() {
        use crate::aggregate::recursion::harness::smallest_compact_batch;
        use crate::aggregate::recursion::multilinear_child::record_scheduled;
        use p3_sumcheck::generic_degree::RoundPolyInterpolator;

        // Where the rounds are, from the shape alone (`multilinear_schedule`).
        let (child, schedule) = record_scheduled(&smallest_compact_batch([7; 32], 11));
        let (nv, pow, proof, events) = (
            child.num_variables,
            child.pow_bits,
            child.proof,
            child.events,
        );
        let derived = schedule
            .find(&["constraint_sumcheck", "round_poly"])
            .expect("a round")
            .start;

        // The zerocheck: its claimed sum is observed whole, then its rounds.
        let zerocheck = &proof.sumcheck;
        let degree = zerocheck.round_polys[0].len();
        assert!(degree <= MAX_DEGREE, "a zerocheck of degree {degree}");
        let sum = coords(zerocheck.claimed_sum);
        let found: Vec<usize> = (0..events.len() - D)
            .filter(|&p| (0..D).all(|j| events[p + j] == (true, sum[j])))
            .collect();
        assert_eq!(found.len(), 1, "the claimed sum is observed once");
        let start = found[0] + D;
        assert_eq!(start, derived, "the schedule's first round");
        let air = SumcheckAir::generic_degree(degree, pow > 0).unwrap();
        let rounds = zerocheck.round_polys.len();
        let point: Vec<Challenge> = (0..rounds)
            .map(|k| {
                let at = start + k * air.stride() + air.challenge_at();
                element(core::array::from_fn(|j| {
                    let (observed, v) = events[at + j];
                    assert!(!observed, "a challenge coordinate is sampled");
                    v
                }))
            })
            .collect();
        let interpolator = RoundPolyInterpolator::<Challenge>::new(degree);
        let final_claim = zerocheck
            .round_polys
            .iter()
            .zip(&point)
            .fold(zerocheck.claimed_sum, |claim, (evals, &r)| {
                interpolator.eval(evals, claim, r)
            });
        let real = Real {
            claim: zerocheck.claimed_sum,
            rounds: zerocheck.round_polys.clone(),
            witnesses: zerocheck.pow_witnesses.clone(),
            point,
            final_claim,
            events,
            start,
        };
        let run = real.run(1);
        let (_, finals) = air
            .generate_trace(std::slice::from_ref(&run), MIN_HEIGHT)
            .unwrap();
        assert_eq!(finals, vec![final_claim], "p3's final claim");
        let b = batch(&air, &[run], &[(&real, 1)]);
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().expect("the zerocheck's rounds verify");
        println!(
            "a Poseidon1 compact parent (2^{nv} stacked): zerocheck of {rounds} rounds of degree \
             {degree}, {pow} bits of grinding a round, from position {start} of {} (stride {})",
            real.events.len(),
            air.stride()
        );
    }

    /// The lookup argument of a real multilinear child, read from its recorded transcript at
    /// the positions its shape schedules (`multilinear_schedule`): every layer of the
    /// fractional GKR but the first (which has no round) is a degree-3 sumcheck that
    /// `SumcheckAir` takes at those positions, and each layer's final claim it returns is the
    /// one p3's verifier checks against `eq(point, round point) * gate(lambda)`: that check
    /// holds on the AIR's outputs and fails for a layer whose claims are another layer's.
    #[test]
    fn the_gkr_layers_of_a_real_poseidon1_compact_parent() {
        use crate::aggregate::recursion::harness::smallest_compact_batch;
        use crate::aggregate::recursion::multilinear_child::record_scheduled;
        use crate::aggregate::recursion::multilinear_schedule::{Action, Step};

        let (child, schedule) = record_scheduled(&smallest_compact_batch([7; 32], 11));
        let events = child.events;
        let value = |step: &Step, k: usize| -> Challenge {
            element(core::array::from_fn(|j| events[step.start + k * D + j].1))
        };
        // The GKR's steps, in order, grouped by layer (each opens with its batching challenge).
        let gkr: Vec<&Step> = schedule
            .steps
            .iter()
            .filter(|s| s.path.contains(&"fraction_reduction") && s.action != Action::Seed)
            .collect();
        let root = gkr
            .iter()
            .find(|s| s.path.ends_with(&["root_denominator"]))
            .unwrap();
        let mut layers: Vec<Vec<&Step>> = Vec::new();
        for &step in &gkr {
            if step.path.ends_with(&["layer", "batching"]) {
                layers.push(Vec::new());
            }
            if let Some(layer) = layers.last_mut() {
                layer.push(step);
            }
        }
        let num_layers = layers.len();
        assert_eq!(
            num_layers,
            child.proof.lookup.as_ref().unwrap().layers.len(),
            "one layer a variable"
        );

        let air = SumcheckAir::generic_degree(3, false).unwrap();
        let interpolator = p3_sumcheck::generic_degree::RoundPolyInterpolator::<Challenge>::new(3);
        let (mut point, mut numerator, mut denominator) =
            (Vec::new(), Challenge::ZERO, value(root, 0));
        let (mut reals, mut gates) = (Vec::new(), Vec::new());
        for (k, layer) in layers.iter().enumerate() {
            let lambda = value(layer[0], 0);
            let polys: Vec<&&Step> = layer
                .iter()
                .filter(|s| s.path.ends_with(&["round_poly"]))
                .collect();
            let challenges: Vec<&&Step> = layer
                .iter()
                .filter(|s| s.path.ends_with(&["round_challenge"]))
                .collect();
            assert_eq!(
                (polys.len(), challenges.len()),
                (k, k),
                "layer {k} has {k} rounds"
            );
            let claims = layer
                .iter()
                .find(|s| s.path.ends_with(&["claims"]))
                .unwrap();
            let branch = layer
                .iter()
                .find(|s| s.path.ends_with(&["branch"]))
                .unwrap();
            let [n0, d0, n1, d1] = core::array::from_fn(|i| value(claims, i));
            let gate = d1 * n0 + d0 * n1 + lambda * d0 * d1;
            let claim = numerator + lambda * denominator;
            let rounds: Vec<Vec<Challenge>> = polys
                .iter()
                .map(|s| (0..3).map(|i| value(s, i)).collect())
                .collect();
            let round_point: Vec<Challenge> = challenges.iter().map(|s| value(s, 0)).collect();
            for (i, (p, c)) in polys.iter().zip(&challenges).enumerate() {
                // The AIR's layout: a constant stride from the first round, the challenge after
                // the three values.
                assert_eq!(p.start, polys[0].start + i * air.stride());
                assert_eq!(c.start, p.start + air.challenge_at());
            }
            let final_claim = rounds
                .iter()
                .zip(&round_point)
                .fold(claim, |c, (evals, &r)| interpolator.eval(evals, c, r));
            let eq: Challenge = point
                .iter()
                .zip(&round_point)
                .map(|(&l, &r): (&Challenge, &Challenge)| r.double() * l - l - r + Challenge::ONE)
                .product();
            assert_eq!(final_claim, eq * gate, "p3's closing check of layer {k}");
            gates.push((eq, gate));
            if k > 0 {
                reals.push(Real {
                    claim,
                    rounds,
                    witnesses: Vec::new(),
                    point: round_point.clone(),
                    final_claim,
                    events: events.clone(),
                    start: polys[0].start,
                });
            }
            let r = value(branch, 0);
            numerator = n0 + r * (n1 - n0);
            denominator = d0 + r * (d1 - d0);
            point = std::iter::once(r).chain(round_point).collect();
        }

        let runs: Vec<SumcheckRun> = reals.iter().map(|r| r.run(1)).collect();
        let (_, finals) = air.generate_trace(&runs, MIN_HEIGHT).unwrap();
        assert_eq!(
            finals,
            reals.iter().map(|r| r.final_claim).collect::<Vec<_>>(),
            "the AIR's final claims are the layers'"
        );
        for (k, (&f, &(eq, gate))) in finals.iter().zip(&gates[1..]).enumerate() {
            assert_eq!(f, eq * gate, "layer {}", k + 1);
            // Another layer's claims do not close this one.
            let (_, other) = gates[1 + (k + 1) % (num_layers - 1)];
            assert_ne!(f, eq * other, "layer {} against another's claims", k + 1);
        }
        let keyed: Vec<(&Real, u32)> = reals.iter().map(|r| (r, 1)).collect();
        let b = batch(&air, &runs, &keyed);
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify()
            .expect("every GKR layer's rounds verify");
        // A layer's claim not the previous layer's fold: its sumcheck returns another claim.
        let mut forged = runs.clone();
        forged[3].claim += Challenge::ONE;
        let b = batch(&air, &forged, &keyed);
        assert_eq!(
            buses(&b.failed()),
            BTreeSet::from(["sumcheck-claim", "sumcheck-result"])
        );
        println!(
            "a Poseidon1 compact parent: a fractional GKR of {num_layers} layers, {} of them \
             with rounds ({} rounds in all), through SumcheckAir at the scheduled positions",
            reals.len(),
            reals.iter().map(|r| r.rounds.len()).sum::<usize>()
        );
    }

    #[test]
    fn layouts_that_cannot_be_are_refused() {
        assert!(SumcheckAir::new(0, 5, 0).is_err());
        assert!(SumcheckAir::new(MAX_DEGREE + 1, 40, 30).is_err());
        assert!(
            SumcheckAir::new(3, 20, 14).is_err(),
            "the challenge overlaps the values"
        );
        assert!(
            SumcheckAir::new(3, 19, 15).is_err(),
            "the challenge runs past the round"
        );
        let air = SumcheckAir::new(2, 17, 12).unwrap();
        let bad = SumcheckRun {
            transcript: 0,
            start: 0,
            claim: Challenge::ZERO,
            rounds: vec![vec![Challenge::ZERO; 3]],
            challenges: vec![Challenge::ZERO],
        };
        assert!(air.generate_trace(&[bad], MIN_HEIGHT).is_err());
    }
}
