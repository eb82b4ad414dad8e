//! `ObservedAir`: the observations of a child's transcript that no other verifier AIR holds.
//!
//! Besides roots, claims, LogUp terminals and the final polynomial (each sent by the AIR that
//! uses it), Plonky3 0.8's verifier absorbs:
//! - verifier constants: the challenger's domain separator, the three domain-separator seeds
//!   ([`super::schedule::TranscriptSchedule::constants`]) and each AIR's log trace height
//!   (`instance_bindings`: the height as an extension element, coordinate 0 then four zeros),
//!   all fixed by the child's shape;
//! - grinding witnesses, which the prover chooses (the grinding checks hold them to their
//!   difficulty through the bit sample that follows, [`super::bits::SampledBitsAir`]);
//! - the child's public values (its statement, `crate::aggregate::statement::statement_values`),
//!   which its out-of-domain check reads too.
//!
//! It also holds what is not a transcript element: the statement parameters of the child's
//! out-of-domain check ([`Observed::Parameter`], [`super::ood::OodTemplate`]: the message's and
//! the epoch's values the signature batch's template leaves out), each a verifier constant of
//! the schedule, sent to the check only (`present` 0, so nothing to the transcript), at a key
//! past the transcript's positions.
//!
//! **One row per element**, one block per transcript, the elements fixed by the verifier's
//! schedule ([`ObservedElement`], periodic columns of period [`ObservedAir::block_len`]). Every
//! row sends `(transcript, position, value)` on `"transcript-observe"`; a constant's row holds
//! its value to the periodic constant; the row of a public value the out-of-domain check reads
//! also sends `(transcript, position, value, 0, 0, 0, 0)` on `"ood-input"`, the check's key for
//! it. Only active blocks send; `transcript` and `active` are constant down a block.
//!
//! **The child's statement.** No public value is free: the ones the parent's verifier knows
//! (the child's `N`, its epoch and message, which are the parent's) are constants; the key-set
//! digest, which the parent's verifier does not know, is sent with its slot as
//! `(transcript, slot, value)` on `"child-statement"`
//! ([`super::keyset::CHILD_STATEMENT_BUS`]) to [`super::keyset::KeySetAir`], which recomputes it
//! from the child's keys; `N` is sent there too, as the count of the child's list.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::duplex::TRANSCRIPT_OBSERVE_BUS;
use super::ext::D;
use super::keyset::CHILD_STATEMENT_BUS;
use super::ood_air::OOD_INPUT_BUS;
use crate::xmss::F;

/// What an observed element is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// A verifier constant with this value.
    Constant(F),
    /// A grinding witness: the prover's.
    Witness,
    /// A public value of the child: `checked` if the out-of-domain check reads it (sent to the
    /// check then); held to `constant` if the parent's verifier knows it; sent to the key-set
    /// AIR in `slot` if it is part of what that AIR recomputes. At least one of the two.
    Public {
        /// The out-of-domain check reads it: its row also sends it on `"ood-input"`.
        checked: bool,
        /// The value the row is held to, if the parent's verifier knows it.
        constant: Option<F>,
        /// Its slot on `"child-statement"`, if the key-set AIR recomputes it.
        slot: Option<usize>,
    },
    /// Not a transcript element: a statement parameter of the out-of-domain check
    /// ([`super::ood::Input::Param`]) with this value, which the verifier computes from the
    /// message and epoch. Held to the value and sent to the check only, at a key past the
    /// transcript ([`super::schedule::TranscriptSchedule::input_position`]).
    Parameter(F),
}

/// One element: its transcript position and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedElement {
    /// Position in the transcript (a [`Observed::Parameter`]'s key, past the transcript's end).
    pub position: usize,
    /// What the element is.
    pub kind: Observed,
}

/// The periodic columns.
#[repr(C)]
pub struct ObservedPeriodic<T> {
    /// The next row is in the same block.
    pub in_block: T,
    /// 1 on an element's row, 0 on the block's padding rows.
    pub present: T,
    /// 1 on a constant's row.
    pub constant: T,
    /// The constant (0 elsewhere).
    pub value: T,
    /// 1 on the row of a public value the check reads.
    pub public: T,
    /// The element's transcript position (a parameter's key past the transcript).
    pub position: T,
    /// 1 on the row of a statement value sent to the key-set AIR.
    pub statement: T,
    /// Its slot.
    pub slot: T,
}

/// The columns of one row.
#[repr(C)]
pub struct ObservedCols<T> {
    /// The transcript's number (constant down a block).
    pub transcript: T,
    /// 1 in a block that sends (constant down a block; 1 on the first row when anchored).
    pub active: T,
    /// Mirrors of the periodic columns (bus messages and counts read no periodic column).
    pub present: T,
    /// Mirror: 1 where the row sends on `"ood-input"`: a public value the check reads, or a
    /// parameter.
    pub public: T,
    /// Mirror: the key of the row's messages, the transcript position (a parameter's key past it).
    pub position: T,
    /// Mirror: 1 where the row sends its value on `"child-statement"`.
    pub statement: T,
    /// Mirror: the value's slot on `"child-statement"` (0 elsewhere).
    pub slot: T,
    /// The element.
    pub value: T,
}

crate::aggregate::air::row_view!(ObservedCols);
crate::aggregate::air::row_view!(ObservedPeriodic);

/// Width of [`ObservedAir`].
pub const WIDTH: usize = core::mem::size_of::<ObservedCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<ObservedPeriodic<u8>>();

/// The AIR sending one schedule's remaining observations per transcript.
#[derive(Clone, Debug)]
pub struct ObservedAir {
    elements: Vec<ObservedElement>,
    period: usize,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
    /// A Type-2 component's statement ([`Self::anchored`]): the instance's public values, and
    /// the first block held active.
    anchor: Option<Vec<F>>,
}

numbered_blocks!(ObservedAir);

impl ObservedAir {
    /// The AIR sending `elements` (in this order) for each transcript.
    pub fn new(elements: Vec<ObservedElement>) -> Self {
        let period = elements.len().max(2).next_power_of_two();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        for r in 0..period {
            let p: &mut ObservedPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.in_block = F::from_bool(r + 1 < period);
            if let Some(e) = elements.get(r) {
                p.present = F::from_bool(!matches!(e.kind, Observed::Parameter(_)));
                p.position = F::from_usize(e.position);
                match e.kind {
                    Observed::Parameter(v) => {
                        p.public = F::ONE;
                        p.constant = F::ONE;
                        p.value = v;
                    }
                    Observed::Constant(v) => {
                        p.constant = F::ONE;
                        p.value = v;
                    }
                    Observed::Public {
                        checked,
                        constant,
                        slot,
                    } => {
                        p.public = F::from_bool(checked);
                        if let Some(v) = constant {
                            p.constant = F::ONE;
                            p.value = v;
                        }
                        if let Some(s) = slot {
                            p.statement = F::ONE;
                            p.slot = F::from_usize(s);
                        }
                    }
                    Observed::Witness => {}
                }
            }
        }
        Self {
            elements,
            period,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
            anchor: None,
        }
    }

    /// The same AIR as the anchor of one Type-2 component whose statement values
    /// (`crate::aggregate::statement::statement_values`, 21) are `statement`: the statement
    /// becomes the instance's public values (so the parent's transcript observes it before any
    /// challenge), and its first row is held active. A Type-2 proof has no key-set AIR whose
    /// messages force each child's verification to run; this constraint does: an active block
    /// sends its transcript's observations and statement, which only a whole verification of that
    /// transcript receives. The statement's values themselves are held by the schedule's
    /// constants ([`super::child::ChildStatement::digest`] known), not read from the public values.
    #[must_use]
    pub fn anchored(mut self, statement: Vec<F>) -> Self {
        self.anchor = Some(statement);
        self
    }

    /// The instance's public values: the anchored statement, or none.
    pub fn public_values(&self) -> Vec<F> {
        self.anchor.clone().unwrap_or_default()
    }

    /// Rows of one transcript's block.
    pub fn block_len(&self) -> usize {
        self.period
    }

    /// The elements, in row order.
    pub fn elements(&self) -> &[ObservedElement] {
        &self.elements
    }

    /// The trace of transcripts whose elements' values (in [`ObservedAir::elements`] order) are
    /// `values`, one block each, then padding blocks up to a power of two and at least
    /// `min_height` rows. A padding block holds the constants, so that its constraints hold.
    ///
    /// # Panics
    /// If a transcript's values are not one per element.
    pub fn generate_trace(&self, values: &[Vec<F>], min_height: usize) -> RowMajorMatrix<F> {
        let height = (values.len() * self.period)
            .max(min_height)
            .max(self.period)
            .next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        // The periodic values of each row of a block, read once rather than per block.
        let schedule_rows: Vec<Vec<F>> = (0..self.period)
            .map(|r| self.periodic.iter().map(|c| c[r]).collect())
            .collect();
        for (b, block) in trace.chunks_exact_mut(self.period * WIDTH).enumerate() {
            let vs = values.get(b);
            if let Some(vs) = vs {
                assert_eq!(vs.len(), self.elements.len(), "a value per element");
            }
            for ((r, row), periodic) in block
                .chunks_exact_mut(WIDTH)
                .enumerate()
                .zip(&schedule_rows)
            {
                let p: &ObservedPeriodic<F> = periodic.as_slice().borrow();
                let row: &mut ObservedCols<F> = row.borrow_mut();
                row.transcript = F::from_usize(self.first as usize + b);
                row.active = F::from_bool(vs.is_some());
                row.present = p.present;
                row.public = p.public;
                row.position = p.position;
                row.statement = p.statement;
                row.slot = p.slot;
                row.value = match vs.and_then(|vs| vs.get(r)) {
                    Some(&v) => v,
                    None => p.value,
                };
            }
        }
        RowMajorMatrix::new(trace, WIDTH)
    }
}

impl p3_air::BaseAir<F> for ObservedAir {
    fn width(&self) -> usize {
        WIDTH
    }
    fn num_periodic_columns(&self) -> usize {
        self.periodic.len()
    }
    fn periodic_columns(&self) -> std::borrow::Cow<'_, [Vec<F>]> {
        std::borrow::Cow::Borrowed(self.periodic.as_slice())
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(3)
    }
    fn num_public_values(&self) -> usize {
        self.anchor.as_ref().map_or(0, Vec::len)
    }
}

impl<AB> Air<AB> for ObservedAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &ObservedCols<AB::Var> = main.current_slice().borrow();
        let next: &ObservedCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &ObservedPeriodic<AB::Expr> = periodic.as_slice().borrow();

        builder.assert_bool(row.active);
        if self.anchor.is_some() {
            builder.when_first_row().assert_one(row.active);
        }
        builder.assert_eq(row.present, p.present.clone());
        builder.assert_eq(row.public, p.public.clone());
        builder.assert_eq(row.position, p.position.clone());
        builder.assert_eq(row.statement, p.statement.clone());
        builder.assert_eq(row.slot, p.slot.clone());
        builder.assert_zero(p.constant.clone() * (row.value - p.value.clone()));
        let mut t = builder.when_transition();
        t.assert_zero(super::next_block_number::<AB>(
            AB::Expr::ONE - p.in_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(p.in_block.clone() * (next.active - row.active));

        PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS).send(
            builder,
            [row.transcript, row.position, row.value],
            Count::bounded(row.active * row.present, 1),
        );
        let mut input: Vec<AB::Expr> =
            vec![row.transcript.into(), row.position.into(), row.value.into()];
        input.extend((1..D).map(|_| AB::Expr::ZERO));
        PermutationCheckBus::new(OOD_INPUT_BUS).send(
            builder,
            input,
            Count::bounded(row.active * row.public, 1),
        );
        PermutationCheckBus::new(CHILD_STATEMENT_BUS).send(
            builder,
            [row.transcript, row.slot, row.value],
            Count::bounded(row.active * row.statement, 1),
        );
        super::first_block_number(builder, self.first, row.transcript);
    }
}
