//! `ZerocheckAir`: the entry of a multilinear child's zerocheck, where p3-multi-stark 0.8's
//! verifier hands the lookup argument's output to the constraint sumcheck
//! (`p3_multi_stark::lookup::verify_lookup`, `AirLinkClaim::new`, and the zerocheck's
//! `verify_reduction_with_lookup_and_bus`).
//!
//! **The protocol.** The fractional GKR ([`super::gkr::FractionGkrAir`]) ends with claims `n`
//! and `d` on the numerator and denominator tables at its point. The lookup argument then
//! samples `theta` and folds them into the link claim `n + theta (d - 1)`. The zerocheck's own
//! transcript follows: its seed, `alpha`, `beta`, `eta` (present because there is a lookup),
//! the free coordinates `tau` of its point (those the GKR's point does not supply; none when the
//! GKR has at least as many variables as the tallest trace), then the constraint sumcheck's seed,
//! its claimed sum (observed) and its rounds. The verifier refuses unless the claimed sum is
//! `eta (n + theta (d - 1))`, then runs the sumcheck from it. A binary bus family sharing the
//! sumcheck (p3's `bus_batching`) is not taken: no verifier AIR declares one.
//!
//! **Rows.** One row per multilinear child, in the order of the [`ZerocheckLink`]s the AIR is
//! built from. What the child's shape fixes is held by periodic columns, one entry per row: the
//! child's transcript number, the row's activity, the GKR's start (its root denominator's
//! position) and layer count `K`, and the offsets from `theta` of `eta` and of the claimed sum,
//! and the free coordinates' count. The row's columns mirror them (p3-lookup reads no periodic
//! column in a message) and derive the positions: `theta` at `start + 5 + 30 K + 10 K (K - 1)`
//! (just past the GKR, [`super::gkr::positions`]), `eta` and the claimed sum at their offsets
//! from it, the rounds right after the claimed sum. Per active row:
//!
//! - the GKR's output `(transcript, start, K, n, d)` is received on
//!   [`super::gkr::GKR_RESULT_BUS`];
//! - `theta` and `eta` are received on `"transcript-sample"` at their positions, the claimed sum
//!   sent on `"transcript-observe"` at its own;
//! - `link = n + theta (d - 1)` and `claimed sum = eta link` (degree 2 each);
//! - the claimed sum goes to the constraint sumcheck on
//!   [`super::sumcheck::SUMCHECK_CLAIM_BUS`], keyed by the rounds' start, and its final claim
//!   comes back on [`super::sumcheck::SUMCHECK_RESULT_BUS`] with `K + free` rounds;
//! - the final claim is sent to the closing check (`closing::program`, run by
//!   [`super::ood_air::OodAir`]) as its input [`super::ood::Input::FinalClaim`]: `(transcript,
//!   the rounds' start, final claim)` on [`OOD_INPUT_BUS`], the key
//!   [`super::closing::ClosingPositions`] gives it (no input of that program is a round value,
//!   so no other input has that key). The closing check's other inputs are keyed by their
//!   transcript positions, which the verifier derives from the same shape.
//!
//! **Why a forged link fails.** The shape's numbers are periodic, so a row cannot claim another
//! child's GKR, layer count, positions or round count: the mirrors and the positions are held to
//! them by constraints. Each value is then a transcript element at a fixed position (`theta`,
//! `eta`: the sample bus; the claimed sum: the observe bus) or the GKR's output (its result bus),
//! so a prover who picks one of them to fit a forged claimed sum leaves a bus unbalanced, and a
//! claimed sum that does not fit the transcript's values breaks the link constraint. The final
//! claim is the sumcheck's (its result bus) and travels on to the closing check (its input
//! bus). Padding rows (inactive) send and receive nothing.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::duplex::{TRANSCRIPT_OBSERVE_BUS, TRANSCRIPT_SAMPLE_BUS};
use super::ext::{self, coords, element, D};
use super::gkr::{positions, GkrOutput, GKR_RESULT_BUS};
use super::multilinear_schedule::MultilinearSchedule;
use super::ood_air::OOD_INPUT_BUS;
use super::sumcheck::{SumcheckAir, SumcheckRun, SUMCHECK_CLAIM_BUS, SUMCHECK_RESULT_BUS};
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// The periodic columns, one entry per row.
const PERIODIC: usize = 7;

/// What one multilinear child's shape fixes about its zerocheck's entry, derived from its
/// transcript's schedule ([`ZerocheckLink::from_schedule`]). Positions count the child's
/// transcript elements as [`super::duplex::DuplexAir`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZerocheckLink {
    /// The child transcript's number.
    pub transcript: u32,
    /// Position of the GKR's root denominator.
    pub start: usize,
    /// The GKR's layers `K` (the lookup point's coordinates).
    pub layers: usize,
    /// Position of `eta` minus that of `theta`.
    pub eta_offset: usize,
    /// Position of the claimed sum minus that of `theta`.
    pub sum_offset: usize,
    /// The zerocheck point's free coordinates (`tau`), drawn after `eta`.
    pub free: usize,
    /// Values per round of the constraint sumcheck (its round polynomial's degree).
    pub degree: usize,
    /// Whether each round grinds.
    pub pow: bool,
}

impl ZerocheckLink {
    /// The link of the child whose verification `schedule` describes (with at least the lookup
    /// argument and the zerocheck: [`super::multilinear_schedule::StarkShapes::schedule`]).
    ///
    /// # Errors
    /// A message for a schedule without a lookup argument or zerocheck rounds, with a binary
    /// bus family, or whose steps are not where p3-multi-stark 0.8's patterns put them (the
    /// GKR's extent, the rounds right after the claimed sum, one round per coordinate).
    pub fn from_schedule(transcript: u32, schedule: &MultilinearSchedule) -> Result<Self, String> {
        let find = |suffix: &[&'static str]| {
            schedule
                .find(suffix)
                .ok_or_else(|| format!("no step {suffix:?} in the child's schedule"))
        };
        let root = find(&["fraction_reduction", "root_denominator"])?;
        // Each layer is a bracket of its own inside the reduction.
        let layers = schedule
            .steps
            .iter()
            .filter(|s| s.path.contains(&"fraction_reduction") && s.path.ends_with(&["batching"]))
            .count();
        let theta = find(&["lookup_argument", "theta"])?;
        if theta.start != root.start + positions(layers) {
            return Err(format!(
                "theta at {}, not past a GKR of {layers} layers from {}",
                theta.start, root.start
            ));
        }
        if schedule.find(&["zerocheck", "bus_batching"]).is_some() {
            return Err("a binary bus family shares the zerocheck".into());
        }
        let eta = find(&["zerocheck", "eta"])?;
        let free = schedule
            .find(&["zerocheck", "tau"])
            .map_or(0, |s| s.len / D);
        let sum = find(&["constraint_sumcheck", "claimed_sum"])?;
        let first = find(&["constraint_sumcheck", "round_poly"])?;
        let rounds = schedule.all(&["constraint_sumcheck", "round_poly"]).count();
        if first.start != sum.start + D || sum.len != D || eta.len != D {
            return Err("the zerocheck's steps are not p3's".into());
        }
        if rounds != layers + free {
            return Err(format!(
                "{rounds} rounds for {layers} GKR coordinates and {free} free ones"
            ));
        }
        Ok(Self {
            transcript,
            start: root.start,
            layers,
            eta_offset: eta.start - theta.start,
            sum_offset: sum.start - theta.start,
            free,
            degree: first.len / D,
            pow: schedule
                .find(&["constraint_sumcheck", "round_pow"])
                .is_some(),
        })
    }

    /// Position of `theta`.
    #[must_use]
    pub fn theta_at(&self) -> usize {
        self.start + positions(self.layers)
    }

    /// Position of `eta`.
    #[must_use]
    pub fn eta_at(&self) -> usize {
        self.theta_at() + self.eta_offset
    }

    /// Position of the claimed sum.
    #[must_use]
    pub fn sum_at(&self) -> usize {
        self.theta_at() + self.sum_offset
    }

    /// Position of the constraint sumcheck's first round.
    #[must_use]
    pub fn rounds_at(&self) -> usize {
        self.sum_at() + D
    }

    /// The constraint sumcheck's rounds.
    #[must_use]
    pub fn rounds(&self) -> usize {
        self.layers + self.free
    }

    /// The [`SumcheckAir`] that checks the constraint sumcheck's rounds.
    ///
    /// # Errors
    /// A degree [`SumcheckAir`] does not take.
    pub fn sumcheck_air(&self) -> Result<SumcheckAir, String> {
        SumcheckAir::generic_degree(self.degree, self.pow)
    }
}

/// One zerocheck's entry as the verifier replays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZerocheckRun {
    /// The child's shape.
    pub link: ZerocheckLink,
    /// The lookup argument's folding challenge.
    pub theta: Challenge,
    /// The zerocheck's link challenge.
    pub eta: Challenge,
    /// The constraint sumcheck's claimed sum, as observed.
    pub claimed_sum: Challenge,
    /// The GKR's numerator claim.
    pub numerator: Challenge,
    /// The GKR's denominator claim.
    pub denominator: Challenge,
    /// The constraint sumcheck's final claim.
    pub final_claim: Challenge,
}

impl ZerocheckRun {
    /// The entry of the zerocheck of `link`'s child and its constraint sumcheck, read from the
    /// child's transcript (`element_at(position)`) at the positions `link` fixes, with the GKR's
    /// output `gkr` (as [`super::gkr::FractionGkrAir::generate_trace`] returns it). The final
    /// claim is folded as [`SumcheckAir`]'s constraints fold it.
    ///
    /// # Errors
    /// A degree [`SumcheckAir`] does not take.
    pub fn read(
        link: ZerocheckLink,
        gkr: &GkrOutput,
        element_at: impl Fn(usize) -> F,
    ) -> Result<(Self, SumcheckRun), String> {
        let value = |p: usize| element(core::array::from_fn(|j| element_at(p + j)));
        let air = link.sumcheck_air()?;
        let round = |k: usize| link.rounds_at() + k * air.stride();
        let sumcheck = SumcheckRun {
            transcript: link.transcript,
            start: link.rounds_at(),
            claim: value(link.sum_at()),
            rounds: (0..link.rounds())
                .map(|k| (0..link.degree).map(|v| value(round(k) + v * D)).collect())
                .collect(),
            challenges: (0..link.rounds())
                .map(|k| value(round(k) + air.challenge_at()))
                .collect(),
        };
        let final_claim = sumcheck.final_claim();
        Ok((
            Self {
                link,
                theta: value(link.theta_at()),
                eta: value(link.eta_at()),
                claimed_sum: sumcheck.claim,
                numerator: gkr.numerator,
                denominator: gkr.denominator,
                final_claim,
            },
            sumcheck,
        ))
    }

    /// What p3's verifier requires of the claimed sum: `eta (n + theta (d - 1))`.
    pub fn expected_sum(&self) -> Challenge {
        self.eta * (self.numerator + self.theta * (self.denominator - Challenge::ONE))
    }
}

/// The columns of one row (43), viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct ZerocheckCols<T> {
    /// The child transcript's number (periodic mirror).
    pub transcript: T,
    /// 1 on a child's row, 0 in padding (periodic mirror).
    pub active: T,
    /// Position of the GKR's root denominator (periodic mirror).
    pub start: T,
    /// The GKR's layers `K` (periodic mirror).
    pub layers: T,
    /// Position of `theta`.
    pub theta_at: T,
    /// Position of `eta`.
    pub eta_at: T,
    /// Position of the claimed sum.
    pub sum_at: T,
    /// The constraint sumcheck's rounds, `K + free`.
    pub rounds: T,
    /// `theta`.
    pub theta: [T; D],
    /// `eta`.
    pub eta: [T; D],
    /// The GKR's numerator claim `n`.
    pub numerator: [T; D],
    /// The GKR's denominator claim `d`.
    pub denominator: [T; D],
    /// `n + theta (d - 1)`.
    pub link: [T; D],
    /// The claimed sum, `eta link`.
    pub claimed_sum: [T; D],
    /// The constraint sumcheck's final claim.
    pub result: [T; D],
}

crate::aggregate::air::row_view!(ZerocheckCols);

/// Width of [`ZerocheckAir`].
pub const WIDTH: usize = core::mem::size_of::<ZerocheckCols<u8>>();

/// The zerocheck entries of a parent's multilinear children, one row each (module docs).
#[derive(Clone, Debug)]
pub struct ZerocheckAir {
    links: Vec<ZerocheckLink>,
    /// The shapes' numbers per row (module docs), column-major, one period of the trace's
    /// height.
    periodic: Vec<Vec<F>>,
}

impl ZerocheckAir {
    /// The AIR of the children `links`, one row each in that order, in a trace of their count
    /// rounded up to a power of two of at least `min_height` rows.
    #[must_use]
    pub fn new(links: &[ZerocheckLink], min_height: usize) -> Self {
        let height = links.len().max(min_height).max(1).next_power_of_two();
        let mut periodic = vec![vec![F::ZERO; height]; PERIODIC];
        for (r, l) in links.iter().enumerate() {
            let values = [
                F::from_u32(l.transcript),
                F::ONE,
                F::from_usize(l.start),
                F::from_usize(l.layers),
                F::from_usize(l.eta_offset),
                F::from_usize(l.sum_offset),
                F::from_usize(l.free),
            ];
            for (c, v) in values.into_iter().enumerate() {
                periodic[c][r] = v;
            }
        }
        Self {
            links: links.to_vec(),
            periodic,
        }
    }

    /// The trace's height.
    #[must_use]
    pub fn height(&self) -> usize {
        self.periodic[0].len()
    }

    /// The trace of `runs`, one row each, then padding rows (zeros).
    ///
    /// # Errors
    /// A message when `runs` are not the AIR's children in its order.
    pub fn generate_trace(&self, runs: &[ZerocheckRun]) -> Result<RowMajorMatrix<F>, String> {
        if runs.len() != self.links.len() || runs.iter().zip(&self.links).any(|(r, l)| r.link != *l)
        {
            return Err("the runs are not the AIR's children, in order".into());
        }
        let height = self.height();
        let mut values = F::zero_vec(height * WIDTH);
        for (r, run) in runs.iter().enumerate() {
            let l = &run.link;
            let row: &mut ZerocheckCols<F> = values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
            row.transcript = F::from_u32(l.transcript);
            row.active = F::ONE;
            row.start = F::from_usize(l.start);
            row.layers = F::from_usize(l.layers);
            row.theta_at = F::from_usize(l.theta_at());
            row.eta_at = F::from_usize(l.eta_at());
            row.sum_at = F::from_usize(l.sum_at());
            row.rounds = F::from_usize(l.rounds());
            row.theta = coords(run.theta);
            row.eta = coords(run.eta);
            row.numerator = coords(run.numerator);
            row.denominator = coords(run.denominator);
            row.link = coords(run.numerator + run.theta * (run.denominator - Challenge::ONE));
            row.claimed_sum = coords(run.claimed_sum);
            row.result = coords(run.final_claim);
        }
        Ok(RowMajorMatrix::new(values, WIDTH))
    }
}

verifier_base_air!(ZerocheckAir, |_: &ZerocheckAir| WIDTH);

impl<AB> Air<AB> for ZerocheckAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &ZerocheckCols<AB::Var> = main.current_slice().borrow();
        let per = crate::aggregate::air::periodic_exprs(builder);
        let [p_transcript, p_active, p_start, p_layers, p_eta, p_sum, p_free]: [AB::Expr;
            PERIODIC] = per
            .try_into()
            .unwrap_or_else(|_| unreachable!("seven periodic columns"));
        let num = |k: usize| AB::Expr::from_usize(k);
        let ex = |a: &[AB::Var; D]| -> [AB::Expr; D] { core::array::from_fn(|i| a[i].into()) };

        // The shape's numbers.
        builder.assert_eq(row.transcript, p_transcript);
        builder.assert_eq(row.active, p_active);
        builder.assert_eq(row.start, p_start);
        builder.assert_eq(row.layers, p_layers.clone());
        {
            let k: AB::Expr = row.layers.into();
            let mut a = builder.when(row.active);
            a.assert_eq(
                row.theta_at,
                row.start + num(D) + k.clone() * num(20) + k.clone() * k.clone() * num(10),
            );
            a.assert_eq(row.eta_at, row.theta_at + p_eta);
            a.assert_eq(row.sum_at, row.theta_at + p_sum);
            a.assert_eq(row.rounds, k + p_free);
        }

        // The link claim and the claimed sum (degree 2; zero on padding rows).
        let theta = ex(&row.theta);
        let d_minus_one = ext::sub(
            &ex(&row.denominator),
            &coords(Challenge::ONE).map(Into::into),
        );
        let link = ext::add(&ex(&row.numerator), &ext::mul(&theta, &d_minus_one));
        let claimed = ext::mul(&ex(&row.eta), &ex(&row.link));
        for i in 0..D {
            builder.assert_eq(row.link[i], link[i].clone());
            builder.assert_eq(row.claimed_sum[i], claimed[i].clone());
        }

        let live = || Count::bounded(row.active.into(), 1);
        let t: AB::Expr = row.transcript.into();
        let coordinates = |a: &[AB::Var; D]| a.iter().map(|&c| c.into()).collect::<Vec<AB::Expr>>();

        // The GKR's output.
        PermutationCheckBus::new(GKR_RESULT_BUS).receive(
            builder,
            [t.clone(), row.start.into(), row.layers.into()]
                .into_iter()
                .chain(coordinates(&row.numerator))
                .chain(coordinates(&row.denominator))
                .collect::<Vec<AB::Expr>>(),
            live(),
        );

        // The transcript.
        let sample = PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS);
        for j in 0..D {
            sample.receive(
                builder,
                [t.clone(), row.theta_at + num(j), row.theta[j].into()],
                live(),
            );
            sample.receive(
                builder,
                [t.clone(), row.eta_at + num(j), row.eta[j].into()],
                live(),
            );
            PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS).send(
                builder,
                [t.clone(), row.sum_at + num(j), row.claimed_sum[j].into()],
                live(),
            );
        }

        // The constraint sumcheck: its claimed sum out, its final claim in.
        let rounds_at: AB::Expr = row.sum_at + num(D);
        PermutationCheckBus::new(SUMCHECK_CLAIM_BUS).send(
            builder,
            [t.clone(), rounds_at.clone()]
                .into_iter()
                .chain(coordinates(&row.claimed_sum))
                .collect::<Vec<AB::Expr>>(),
            live(),
        );
        PermutationCheckBus::new(SUMCHECK_RESULT_BUS).receive(
            builder,
            [t.clone(), rounds_at.clone(), row.rounds.into()]
                .into_iter()
                .chain(coordinates(&row.result))
                .collect::<Vec<AB::Expr>>(),
            live(),
        );

        // The final claim, the closing check's input keyed by the rounds' start.
        PermutationCheckBus::new(OOD_INPUT_BUS).send(
            builder,
            [t, rounds_at]
                .into_iter()
                .chain(coordinates(&row.result))
                .collect::<Vec<AB::Expr>>(),
            live(),
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The zerocheck entry of a real multilinear child (the smallest compact parent over
    //! Poseidon1-24), through this AIR, `FractionGkrAir` and two `SumcheckAir`s (the GKR's layers
    //! and the constraint sumcheck): every element from the GKR's root denominator to the
    //! zerocheck's last round consumed exactly (but the zerocheck's `alpha` and `beta`, which
    //! the closing check will read), the claimed sum p3's; each forgery caught by the
    //! constraint or bus that should catch it, and refused by both FRI proof systems.

    use std::collections::BTreeSet;

    use p3_field::Field;
    use p3_sumcheck::generic_degree::RoundPolyInterpolator;

    use super::*;
    use crate::aggregate::recursion::gkr::{FractionGkrAir, GkrRun};
    use crate::aggregate::recursion::harness::{
        global_buses, has_constraint, only_constraints, smallest_compact_batch, Batch, Failed,
        KnownAir, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::recursion::multilinear_child::{record_scheduled, Event};
    use crate::aggregate::recursion::multilinear_schedule::{Action, MultilinearSchedule};

    /// The pieces of one batch over a child's recorded transcript `events`.
    pub(crate) struct Pieces {
        pub(crate) gkr: GkrRun,
        pub(crate) run: ZerocheckRun,
        pub(crate) sumcheck: SumcheckRun,
    }

    pub(crate) fn pieces(events: &[Event], link: ZerocheckLink) -> Pieces {
        let value = |p: usize| events[p].1;
        let gkr = GkrRun::read(link.transcript, link.start, link.layers, value);
        let (_, outputs) = FractionGkrAir::new()
            .generate_trace(std::slice::from_ref(&gkr), MIN_HEIGHT)
            .unwrap();
        let (run, sumcheck) = ZerocheckRun::read(link, &outputs[0], value).unwrap();
        Pieces { gkr, run, sumcheck }
    }

    /// Every observed and sampled element of the schedule from the GKR's root denominator to
    /// the zerocheck's last round, from the recording (never from a trace), each once per
    /// reader; `alpha` and `beta` of the zerocheck are left out (no AIR reads them yet). And the
    /// zerocheck's result, its final claim folded by p3-sumcheck's own interpolator from the
    /// recorded values.
    fn known(
        events: &[Event],
        schedule: &MultilinearSchedule,
        link: &ZerocheckLink,
    ) -> Vec<TestAir> {
        let (observed, sampled, result) = transcript_tables(events, schedule, link);
        vec![
            TestAir::Known(KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed)),
            TestAir::Known(KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &sampled)),
            TestAir::Known(KnownAir::new(OOD_INPUT_BUS, 2 + D, false, &[result])),
        ]
    }

    /// [`known`]'s messages: the transcript's observations and samples (each once per reader
    /// among the zerocheck's AIRs), and the final claim as the closing check receives it.
    pub(crate) fn transcript_tables(
        events: &[Event],
        schedule: &MultilinearSchedule,
        link: &ZerocheckLink,
    ) -> (Vec<Vec<F>>, Vec<Vec<F>>, Vec<F>) {
        let air = link.sumcheck_air().unwrap();
        let end = link.rounds_at() + link.rounds() * air.stride();
        let (mut observed, mut sampled) = (vec![], vec![]);
        let mut k = 0;
        for s in &schedule.steps {
            if s.start < link.start || s.start >= end || s.action == Action::Seed {
                continue;
            }
            let last = *s.path.last().unwrap();
            let in_gkr = s.path.contains(&"fraction_reduction");
            if in_gkr && last == "batching" {
                k += 1;
            }
            let more = usize::from(k < link.layers);
            let uses = match (in_gkr, s.action, last) {
                (_, Action::Observe, _) => 1,
                (true, Action::Sample, "batching") => 1,
                (true, Action::Sample, "branch") => 1 + more,
                (true, Action::Sample, "round_challenge") => 2 + more,
                (false, Action::Sample, "theta" | "eta" | "round_challenge") => 1,
                (false, Action::Sample, "alpha" | "beta") => 0,
                other => panic!("an unexpected step {other:?} at {}", s.start),
            };
            for (p, &(obs, v)) in events.iter().enumerate().skip(s.start).take(s.len) {
                assert_eq!(obs, s.action == Action::Observe, "position {p}");
                let tuple = vec![F::from_u32(link.transcript), F::from_usize(p), v];
                let table = if obs { &mut observed } else { &mut sampled };
                table.extend(std::iter::repeat_n(tuple, uses));
            }
        }
        let value = |p: usize| element(core::array::from_fn(|j| events[p + j].1));
        let interpolator = RoundPolyInterpolator::<Challenge>::new(link.degree);
        let final_claim = (0..link.rounds()).fold(value(link.sum_at()), |claim, r| {
            let at = link.rounds_at() + r * air.stride();
            let evals: Vec<Challenge> = (0..link.degree).map(|v| value(at + v * D)).collect();
            interpolator.eval(&evals, claim, value(at + air.challenge_at()))
        });
        let result: Vec<F> = [link.transcript as usize, link.rounds_at()]
            .into_iter()
            .map(F::from_usize)
            .chain(coords(final_claim))
            .collect();
        (observed, sampled, result)
    }

    /// The batch: this AIR (built from `air`'s links) over `run`'s row, the GKR and the two
    /// sumchecks of `p`, and the verifier-known messages of `events`.
    fn batch(
        air: &ZerocheckAir,
        trace: RowMajorMatrix<F>,
        p: &Pieces,
        events: &[Event],
        schedule: &MultilinearSchedule,
    ) -> Batch {
        let (mut airs, mut traces) = chain(air, trace, p);
        let known = known(events, schedule, &p.run.link);
        traces.extend(known.iter().map(|k| match k {
            TestAir::Known(k) => k.trace(),
            _ => unreachable!(),
        }));
        airs.extend(known);
        Batch {
            buses: global_buses(&airs),
            airs,
            traces,
        }
    }

    /// This AIR over `trace`, the GKR and the two sumchecks of `p`: the AIRs and their traces.
    pub(crate) fn chain(
        air: &ZerocheckAir,
        trace: RowMajorMatrix<F>,
        p: &Pieces,
    ) -> (Vec<TestAir>, Vec<RowMajorMatrix<F>>) {
        let link = &p.run.link;
        let (gkr_trace, _) = FractionGkrAir::new()
            .generate_trace(std::slice::from_ref(&p.gkr), MIN_HEIGHT)
            .unwrap();
        let layers = SumcheckAir::generic_degree(3, false).unwrap();
        let (layers_trace, _) = layers
            .generate_trace(&p.gkr.sumchecks(), MIN_HEIGHT)
            .unwrap();
        let constraint = link.sumcheck_air().unwrap();
        let (constraint_trace, _) = constraint
            .generate_trace(std::slice::from_ref(&p.sumcheck), MIN_HEIGHT)
            .unwrap();
        let traces = vec![trace, gkr_trace, layers_trace, constraint_trace];
        let airs = vec![
            TestAir::Zerocheck(air.clone()),
            TestAir::Gkr(FractionGkrAir::new()),
            TestAir::Sumcheck(layers),
            TestAir::Sumcheck(constraint),
        ];
        (airs, traces)
    }

    /// The honest batch of `events`, with `edit` applied to this AIR's run first.
    fn batch_with(
        events: &[Event],
        schedule: &MultilinearSchedule,
        link: ZerocheckLink,
        edit: impl FnOnce(&mut ZerocheckRun),
    ) -> Batch {
        let mut p = pieces(events, link);
        edit(&mut p.run);
        let air = ZerocheckAir::new(&[link], MIN_HEIGHT);
        let trace = air.generate_trace(std::slice::from_ref(&p.run)).unwrap();
        batch(&air, trace, &p, events, schedule)
    }

    /// This AIR's trace of `b`, row 0 edited by `edit`.
    fn edit_row(b: &mut Batch, edit: impl FnOnce(&mut ZerocheckCols<F>)) {
        let row: &mut ZerocheckCols<F> = b.traces[0].values[..WIDTH].borrow_mut();
        edit(row);
    }

    #[test]
    fn the_zerocheck_entry_of_a_real_poseidon1_compact_parent() {
        let (child, schedule) = record_scheduled(&smallest_compact_batch([7; 32], 11));
        let events = child.events;
        let link = ZerocheckLink::from_schedule(1, &schedule).expect("a link");
        let zerocheck = &child.proof.sumcheck;
        assert_eq!(link.free, 0, "the GKR's point is the whole zerocheck point");
        assert_eq!(link.rounds(), zerocheck.round_polys.len());
        assert_eq!(link.degree, zerocheck.round_polys[0].len());
        assert_eq!(link.pow, child.pow_bits > 0);

        // The AIR's inputs are p3's: the claimed sum the proof's, and p3's check of it (which
        // passed when p3 verified the child) holds on the GKR's output and the transcript's
        // theta and eta at their positions.
        let p = pieces(&events, link);
        assert_eq!(p.run.claimed_sum, zerocheck.claimed_sum);
        assert_eq!(p.run.expected_sum(), p.run.claimed_sum, "p3's link check");
        assert_eq!(p.sumcheck.rounds, zerocheck.round_polys);
        let honest = batch_with(&events, &schedule, link, |_| ());
        assert_eq!(honest.failed(), BTreeSet::new());
        honest
            .prove_and_verify()
            .expect("the child's zerocheck entry verifies");

        // A claimed sum that does not fit the GKR and the challenges, the transcript consistent
        // with it (observed there, the sumcheck run from it): the link constraint alone.
        let mut forged = events.clone();
        forged[link.sum_at()].1 += F::ONE;
        let b = batch_with(&forged, &schedule, link, |_| ());
        b.caught(only_constraints);

        // The same forged claimed sum, with a challenge or the GKR's claim chosen to fit it:
        // the bus that carries that value.
        let c = pieces(&forged, link).run.claimed_sum;
        let fit = |r: &ZerocheckRun| (r.numerator, r.denominator - Challenge::ONE, r.theta, r.eta);
        let b = batch_with(&forged, &schedule, link, |r| {
            let (n, dm1, _, eta) = fit(r);
            r.theta = (c / eta - n) * dm1.inverse();
        });
        assert_eq!(
            b.failed(),
            BTreeSet::from([Failed::Bus(TRANSCRIPT_SAMPLE_BUS)])
        );
        b.caught(|_| true);
        let b = batch_with(&forged, &schedule, link, |r| {
            let (n, dm1, theta, _) = fit(r);
            r.eta = c / (n + theta * dm1);
        });
        assert_eq!(
            b.failed(),
            BTreeSet::from([Failed::Bus(TRANSCRIPT_SAMPLE_BUS)])
        );
        b.caught(|_| true);
        let b = batch_with(&forged, &schedule, link, |r| {
            let (_, dm1, theta, eta) = fit(r);
            r.numerator = c / eta - theta * dm1;
        });
        assert_eq!(b.failed(), BTreeSet::from([Failed::Bus(GKR_RESULT_BUS)]));
        b.caught(|_| true);

        // A final claim other than the sumcheck's: its result bus, and the closing check's input
        // bus.
        let b = batch_with(&events, &schedule, link, |r| {
            r.final_claim += Challenge::ONE
        });
        assert_eq!(
            b.failed(),
            BTreeSet::from([Failed::Bus(SUMCHECK_RESULT_BUS), Failed::Bus(OOD_INPUT_BUS)])
        );
        b.caught(|_| true);

        // Edited into the trace: eta read one position off, another round count, the row made
        // inactive, another transcript's number: each breaks a constraint.
        let edits: [fn(&mut ZerocheckCols<F>); 4] = [
            |row| row.eta_at += F::ONE,
            |row| row.rounds += F::ONE,
            |row| row.active = F::ZERO,
            |row| row.transcript += F::ONE,
        ];
        for edit in edits {
            let mut b = batch_with(&events, &schedule, link, |_| ());
            edit_row(&mut b, edit);
            b.caught(has_constraint);
        }

        // An AIR whose shape is another child's (one GKR layer fewer, eta one element later):
        // the honest row does not meet its numbers.
        for other in [
            ZerocheckLink {
                layers: link.layers - 1,
                ..link
            },
            ZerocheckLink {
                eta_offset: link.eta_offset + 1,
                ..link
            },
        ] {
            let mut b = batch_with(&events, &schedule, link, |_| ());
            b.airs[0] = TestAir::Zerocheck(ZerocheckAir::new(&[other], MIN_HEIGHT));
            b.caught(has_constraint);
        }

        // A schedule cut before the zerocheck, or before theta, is refused with a message.
        for cut_at in [link.eta_at(), link.theta_at()] {
            let mut cut = MultilinearSchedule::default();
            cut.steps = schedule
                .steps
                .iter()
                .filter(|s| s.start < cut_at)
                .cloned()
                .collect();
            assert!(ZerocheckLink::from_schedule(1, &cut).is_err());
        }

        println!(
            "a Poseidon1 compact parent's zerocheck entry: theta at {}, eta at {}, the claimed \
             sum at {}, {} rounds of degree {} from {}",
            link.theta_at(),
            link.eta_at(),
            link.sum_at(),
            link.rounds(),
            link.degree,
            link.rounds_at()
        );
    }
}
