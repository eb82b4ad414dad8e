//! `GatherAir`: extension elements of a child's transcript handed whole to the out-of-domain
//! check ([`super::ood_air::OodAir`]), which keys its inputs by the position of coordinate 0
//! on `"ood-input"`, while the transcript carries one coordinate per position.
//!
//! **One row per element**, one block per transcript, the elements fixed by the verifier's
//! schedule ([`Gathered`], periodic columns of period [`GatherAir::block_len`]):
//! - a *sampled* element (the batch's challenges `zeta`, `alpha` and LogUp's `alpha`, `beta`)
//!   is received coordinate by coordinate from `"transcript-sample"` at positions
//!   `position + i`: the values the transcript squeezed;
//! - an *observed* element the proof supplies (a LogUp terminal) is sent coordinate by
//!   coordinate to `"transcript-observe"` at its positions: the values the transcript absorbed;
//! - either is sent once on `"ood-input"` as `(transcript, position, value)`.
//!
//! So the check reads exactly the transcript's values. Only active blocks send and receive;
//! `transcript` and `active` are constant down a block.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::duplex::{TRANSCRIPT_OBSERVE_BUS, TRANSCRIPT_SAMPLE_BUS};
use super::ext::{self, D};
use super::ood_air::OOD_INPUT_BUS;
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// One element to gather: the transcript position of its coordinate 0, and whether the
/// transcript samples it (else the proof supplies it and the transcript observes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gathered {
    /// Transcript position of its coordinate 0; coordinate `i` is at `position + i`.
    pub position: usize,
    /// The transcript samples it (a challenge); else it observes it (a LogUp terminal).
    pub sampled: bool,
}

/// The periodic columns.
#[repr(C)]
pub struct GatherPeriodic<T> {
    /// 1 when the next row is in the same block (0 on a block's last row).
    pub in_block: T,
    /// 1 on the row of a sampled element.
    pub sampled: T,
    /// 1 on the row of an observed element (neither flag on padding rows).
    pub observed: T,
    /// Transcript position of the row's element's coordinate 0 (0 on padding rows).
    pub position: T,
}

/// The columns of one row.
#[repr(C)]
pub struct GatherCols<T> {
    /// The transcript's number: `first + b` in block `b`, constant down a block.
    pub transcript: T,
    /// 1 in a block that sends and receives, 0 in a padding block (constant down a block).
    pub active: T,
    /// Mirrors of the periodic columns.
    pub sampled: T,
    /// 1 on the row of an observed element.
    pub observed: T,
    /// Transcript position of the element's coordinate 0, the key on `"ood-input"`.
    pub position: T,
    /// The element's coordinates.
    pub value: [T; D],
}

crate::aggregate::air::row_view!(GatherCols);
crate::aggregate::air::row_view!(GatherPeriodic);

/// Width of [`GatherAir`].
pub const WIDTH: usize = core::mem::size_of::<GatherCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<GatherPeriodic<u8>>();

/// The AIR gathering one schedule's elements per transcript.
#[derive(Clone, Debug)]
pub struct GatherAir {
    elements: Vec<Gathered>,
    period: usize,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(GatherAir);

impl GatherAir {
    /// The AIR gathering `elements` (in this order) from each transcript.
    pub fn new(elements: Vec<Gathered>) -> Self {
        let period = elements.len().max(2).next_power_of_two();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        for r in 0..period {
            let p: &mut GatherPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.in_block = F::from_bool(r + 1 < period);
            if let Some(e) = elements.get(r) {
                p.sampled = F::from_bool(e.sampled);
                p.observed = F::from_bool(!e.sampled);
                p.position = F::from_usize(e.position);
            }
        }
        Self {
            elements,
            period,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        }
    }

    /// Rows of one transcript's block.
    pub fn block_len(&self) -> usize {
        self.period
    }

    /// The elements gathered, in row order.
    pub fn elements(&self) -> &[Gathered] {
        &self.elements
    }

    /// The trace of transcripts whose elements' values (in [`GatherAir::elements`] order) are
    /// `values`, one block each, then padding blocks up to a power of two and at least
    /// `min_height` rows.
    ///
    /// # Panics
    /// If a transcript's values are not one per element.
    pub fn generate_trace(
        &self,
        values: &[Vec<Challenge>],
        min_height: usize,
    ) -> RowMajorMatrix<F> {
        let height = (values.len() * self.period)
            .max(min_height)
            .max(self.period)
            .next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        for (b, block) in trace.chunks_exact_mut(self.period * WIDTH).enumerate() {
            let vs = values.get(b);
            if let Some(vs) = vs {
                assert_eq!(vs.len(), self.elements.len(), "a value per element");
            }
            for (r, row) in block.chunks_exact_mut(WIDTH).enumerate() {
                let periodic: Vec<F> = self.periodic.iter().map(|c| c[r]).collect();
                let p: &GatherPeriodic<F> = periodic.as_slice().borrow();
                let row: &mut GatherCols<F> = row.borrow_mut();
                row.transcript = F::from_usize(self.first as usize + b);
                row.active = F::from_bool(vs.is_some());
                row.sampled = p.sampled;
                row.observed = p.observed;
                row.position = p.position;
                if let Some(v) = vs.and_then(|vs| vs.get(r)) {
                    row.value = ext::coords(*v);
                }
            }
        }
        RowMajorMatrix::new(trace, WIDTH)
    }
}

verifier_base_air!(GatherAir, |_: &GatherAir| WIDTH);

impl<AB> Air<AB> for GatherAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &GatherCols<AB::Var> = main.current_slice().borrow();
        let next: &GatherCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &GatherPeriodic<AB::Expr> = periodic.as_slice().borrow();

        builder.assert_bool(row.active);
        builder.assert_eq(row.sampled, p.sampled.clone());
        builder.assert_eq(row.observed, p.observed.clone());
        builder.assert_eq(row.position, p.position.clone());
        let mut t = builder.when_transition();
        t.assert_zero(super::next_block_number::<AB>(
            AB::Expr::ONE - p.in_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(p.in_block.clone() * (next.active - row.active));

        let coordinate = |i: usize| -> Vec<AB::Expr> {
            vec![
                row.transcript.into(),
                row.position.into() + AB::Expr::from_usize(i),
                row.value[i].into(),
            ]
        };
        for i in 0..D {
            PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS).receive(
                builder,
                coordinate(i),
                Count::bounded(row.active * row.sampled, 1),
            );
            PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS).send(
                builder,
                coordinate(i),
                Count::bounded(row.active * row.observed, 1),
            );
        }
        let mut input: Vec<AB::Expr> = vec![row.transcript.into(), row.position.into()];
        input.extend(row.value.iter().map(|&v| v.into()));
        PermutationCheckBus::new(OOD_INPUT_BUS).send(
            builder,
            input,
            Count::bounded(row.active * (row.sampled + row.observed), 1),
        );
        super::first_block_number(builder, self.first, row.transcript);
    }
}

#[cfg(test)]
mod tests {
    //! A real child's challenges and terminals gathered from its transcript into its
    //! out-of-domain check, and each forgery caught by the bus or constraint that should catch
    //! it.

    use std::collections::BTreeSet;

    use super::*;
    use crate::aggregate::recursion::harness::{
        has_constraint, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::recursion::ood::Input;
    use crate::aggregate::recursion::ood_air::tests::{sent_where, setup};
    use crate::aggregate::recursion::ood_air::{OodAir, OOD_WIRE_BUS};
    use crate::aggregate::recursion::schedule::TranscriptSchedule;

    fn gathered(i: Input) -> Option<bool> {
        match i {
            Input::Zeta | Input::Alpha | Input::LookupAlpha | Input::LookupBeta => Some(true),
            Input::Terminal { .. } => Some(false),
            _ => None,
        }
    }

    /// The child's check and its inputs, the gathering of its challenges and terminals, the
    /// gathered values and each one's index among the check's inputs.
    fn setup_gather() -> (
        OodAir,
        Vec<Challenge>,
        GatherAir,
        Vec<Challenge>,
        Vec<usize>,
    ) {
        let (child, _, ood, values) = setup();
        let schedule =
            TranscriptSchedule::new(&child.preset, &child.airs, &child.lookups, &child.shapes);
        let mut elements = Vec::new();
        let mut gathered_values = Vec::new();
        let mut index = Vec::new();
        for (k, (&input, &v)) in ood.layout().inputs.iter().zip(&values).enumerate() {
            if let Some(sampled) = gathered(input) {
                index.push(k);
                elements.push(Gathered {
                    position: schedule.input_position(input).expect("a position"),
                    sampled,
                });
                gathered_values.push(v);
            }
        }
        assert_eq!(
            elements.iter().filter(|e| e.sampled).count(),
            4,
            "the four challenges"
        );
        assert_eq!(
            elements.iter().filter(|e| !e.sampled).count(),
            child.lookups.iter().filter(|l| !l.is_empty()).count(),
            "a terminal per AIR with lookups"
        );
        (
            ood,
            values,
            GatherAir::new(elements),
            gathered_values,
            index,
        )
    }

    /// The transcript's side: the sampled coordinates sent, the observed ones received.
    fn transcript_side(air: &GatherAir, values: &[Challenge]) -> [Vec<Vec<F>>; 2] {
        let mut out = [Vec::new(), Vec::new()];
        for (e, v) in air.elements().iter().zip(values) {
            for (i, c) in ext::coords(*v).into_iter().enumerate() {
                out[usize::from(!e.sampled)].push(vec![F::ZERO, F::from_usize(e.position + i), c]);
            }
        }
        out
    }

    /// The check and the gathering with the transcript's side for `values`, and the check's
    /// other inputs sent by a verifier-known AIR.
    fn batch(
        ood: &OodAir,
        ood_values: &[Vec<Challenge>],
        air: &GatherAir,
        trace: RowMajorMatrix<F>,
        values: &[Challenge],
    ) -> Batch {
        let ood_trace = ood.generate_trace(ood_values, MIN_HEIGHT).expect("runs");
        let others = sent_where(ood, ood_values, |i| gathered(i).is_none());
        let [samples, observed] = transcript_side(air, values);
        let known = [
            KnownAir::new(OOD_INPUT_BUS, 2 + D, true, &others),
            KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &samples),
            KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed),
        ];
        let mut airs = vec![TestAir::Gather(air.clone()), TestAir::Ood(ood.clone())];
        let mut traces = vec![trace, ood_trace];
        for k in known {
            traces.push(k.trace());
            airs.push(TestAir::Known(k));
        }
        Batch {
            airs,
            traces,
            buses: vec![
                OOD_INPUT_BUS,
                OOD_WIRE_BUS,
                TRANSCRIPT_SAMPLE_BUS,
                TRANSCRIPT_OBSERVE_BUS,
            ],
        }
    }

    /// Row `r` of `trace`.
    fn cols(trace: &mut RowMajorMatrix<F>, r: usize) -> &mut GatherCols<F> {
        trace.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut()
    }

    #[test]
    fn a_real_childs_challenges_and_terminals_reach_its_check() {
        let (ood, ood_values, air, values, index) = setup_gather();
        let children = vec![ood_values.clone()];
        let trace = air.generate_trace(std::slice::from_ref(&values), MIN_HEIGHT);
        let b = batch(&ood, &children, &air, trace, &values);
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();

        // A challenge other than the one sampled: the sample bus and the check's input bus.
        let sampled = air.elements().iter().position(|e| e.sampled).unwrap();
        let observed = air.elements().iter().position(|e| !e.sampled).unwrap();
        for (r, bus) in [
            (sampled, TRANSCRIPT_SAMPLE_BUS),
            (observed, TRANSCRIPT_OBSERVE_BUS),
        ] {
            let mut trace = air.generate_trace(std::slice::from_ref(&values), MIN_HEIGHT);
            cols(&mut trace, r).value[3] += F::ONE;
            batch(&ood, &children, &air, trace, &values)
                .caught(|f| f == &BTreeSet::from([Failed::Bus(bus), Failed::Bus(OOD_INPUT_BUS)]));
        }
        // The same forged value in the transcript too: the check's output fails (its own
        // constraint, not a bus).
        for r in [sampled, observed] {
            let mut forged = values.clone();
            forged[r] += Challenge::ONE;
            let mut forged_ood = ood_values.clone();
            forged_ood[index[r]] = forged[r];
            let trace = air.generate_trace(std::slice::from_ref(&forged), MIN_HEIGHT);
            let f = batch(&ood, &[forged_ood], &air, trace, &forged).failed();
            assert_eq!(f.len(), 1, "{f:?}");
            assert!(matches!(f.first(), Some(Failed::Other(_))), "{f:?}");
        }
        // A row flagged otherwise than its schedule: its constraint and the buses.
        let mut trace = air.generate_trace(std::slice::from_ref(&values), MIN_HEIGHT);
        cols(&mut trace, sampled).sampled = F::ZERO;
        batch(&ood, &children, &air, trace, &values).caught(|f| {
            has_constraint(f)
                && f.contains(&Failed::Bus(TRANSCRIPT_SAMPLE_BUS))
                && f.contains(&Failed::Bus(OOD_INPUT_BUS))
        });
        // An inactive block: the buses.
        let mut trace = air.generate_trace(std::slice::from_ref(&values), MIN_HEIGHT);
        for r in 0..air.block_len() {
            cols(&mut trace, r).active = F::ZERO;
        }
        batch(&ood, &children, &air, trace, &values).caught(|f| {
            !has_constraint(f)
                && f.contains(&Failed::Bus(TRANSCRIPT_SAMPLE_BUS))
                && f.contains(&Failed::Bus(TRANSCRIPT_OBSERVE_BUS))
                && f.contains(&Failed::Bus(OOD_INPUT_BUS))
        });
    }
}
