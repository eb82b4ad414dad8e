//! The transcript of a multilinear child's verification, derived from its shape: where each
//! element p3-multi-stark 0.8's verifier observes or samples sits, as
//! [`super::schedule::TranscriptSchedule`] does for a FRI child (recursion README, "The
//! transcript of a multilinear child").
//!
//! p3 0.8 describes every transcript it runs as a pattern (`p3_challenger::fs`): a
//! [`DomainSeparator`] whose [`InteractionPattern`] lists the protocol's steps (a message, a
//! public value, a challenge, a grinding check, each with its type and length) and marks each
//! sub-protocol it hands the sponge to by an empty `Begin`/`End` bracket. Each sub-protocol
//! starts by observing its own seed, a byte fingerprint of its name, its pattern and its
//! instance label, packed into field elements. So the positions follow from the patterns
//! alone: [`MultilinearSchedule::play`] walks one pattern, observes its seed, counts the
//! elements of every step, and asks a [`Delegations`] to play each bracket's sub-protocol in
//! place.
//!
//! Counting rules (Poseidon1-24 duplex over KoalaBear, as `DuplexChallenger` performs them):
//! - an algebra value of degree `d` over the base field is `d` elements, observed or sampled;
//! - a grinding check of `b > 0` bits is the witness observed and one element sampled
//!   (none at all when `b = 0`, where the pattern has no step);
//! - a bit sample is one element; a uniform bit sample is one element up to
//!   `MAX_SINGLE_SAMPLE_BITS` bits and two above, and a rejected draw (probability about
//!   `2^-31` each) adds one more: a schedule fixed in advance cannot take it, so a proof whose
//!   transcript rejects a draw is one the verifier AIRs cannot take (a completeness loss, not a
//!   soundness one);
//! - an opaque message (a Merkle cap) is as many elements as the caller says;
//! - a hint travels on the wire only and is no element.
//!
//! [`StarkShapes`] describes p3-multi-stark 0.8's verifier over p3-whir 0.8 this way, in its
//! order: the statement, the main commitment, the public values, the lookup argument and its
//! fractional GKR, the zerocheck and its constraint sumcheck, and the main opening (the stacked
//! layout's out-of-domain claims and per-instance openings, then WHIR's run with its initial,
//! round and final folds, the first preceded by the layout's batching challenge). The layout's
//! three patterns are crate-private in p3-sumcheck, so this module's private `layout` writes
//! them from their description; its tests check the whole schedule against a real
//! verification, element by element. Without the opening's shapes the schedule stops at the
//! main opening ([`MultilinearSchedule::delegated`]).

use p3_challenger::fs::{
    DomainSeparator, FieldUnit, Hierarchy, InteractionPattern, Kind, Label, Length, TypeTag,
};
use p3_field::UniformSamplingField;

use crate::xmss::F;

/// What a step of the schedule does with its elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A sub-protocol's seed: constant elements the verifier observes (values in
    /// [`Step::seed`]).
    Seed,
    /// Elements the verifier observes: messages from the proof, public values.
    Observe,
    /// Elements the verifier samples.
    Sample,
    /// A grinding check: the witness observed, then one element sampled whose low bits are zero.
    Grind,
}

/// One step of a multilinear child's transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The labels from the outermost protocol to this step: a sub-protocol's delegation label,
    /// its steps' labels, `"seed"` for a seed.
    pub path: Vec<Label>,
    /// What the verifier does.
    pub action: Action,
    /// The transcript position of the step's first element (positions count every element the
    /// verifier observes or samples, from 0 after the transcript's own domain separator).
    pub start: usize,
    /// The number of elements.
    pub len: usize,
    /// The seed's elements, for a [`Action::Seed`] step; empty otherwise.
    pub seed: Vec<F>,
    /// The difficulty in bits, for an [`Action::Grind`] step (its sample's low `bits` bits are
    /// zero); 0 otherwise.
    pub bits: usize,
}

/// Why a pattern cannot be scheduled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A step whose length the proof decides (`Length::Bounded`) or whose type has no element
    /// count here (bytes, binary fields).
    #[error("step {path:?} has no fixed element count ({why})")]
    Unfixed {
        /// The step's path.
        path: Vec<Label>,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// A bracket that is opened and not closed in order (p3 validates patterns, so this is a
    /// pattern this walker misreads).
    #[error("bracket {0:?} is not closed in order")]
    Unbalanced(Vec<Label>),
}

/// Plays the sub-protocol behind each delegation of a pattern (an empty bracket).
pub trait Delegations {
    /// Play the sub-protocol delegated under `label` (its path in `schedule` is already
    /// pushed). Return `false` to stop the schedule there: what follows is not described yet.
    ///
    /// # Errors
    /// The sub-protocol's own [`ScheduleError`].
    fn play(
        &mut self,
        label: Label,
        schedule: &mut MultilinearSchedule,
    ) -> Result<bool, ScheduleError>;

    /// The number of elements an opaque message under `label` is (a commitment's cap).
    fn opaque_len(&self, label: Label) -> usize;
}

/// The derived transcript: steps in order, contiguous from position 0.
#[derive(Clone, Debug, Default)]
pub struct MultilinearSchedule {
    /// Every step, in transcript order.
    pub steps: Vec<Step>,
    /// The delegation the schedule stopped at, if a [`Delegations`] declined one.
    pub delegated: Option<Vec<Label>>,
    path: Vec<Label>,
}

impl MultilinearSchedule {
    /// The position after the last step.
    #[must_use]
    pub fn len(&self) -> usize {
        self.steps.last().map_or(0, |s| s.start + s.len)
    }

    /// Whether no step is scheduled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether the schedule stopped at an undescribed delegation.
    #[must_use]
    pub const fn stopped(&self) -> bool {
        self.delegated.is_some()
    }

    /// The first step whose path ends with `suffix`.
    #[must_use]
    pub fn find(&self, suffix: &[Label]) -> Option<&Step> {
        self.steps.iter().find(|s| s.path.ends_with(suffix))
    }

    /// Every step whose path ends with `suffix`, in order.
    pub fn all<'a>(&'a self, suffix: &'a [Label]) -> impl Iterator<Item = &'a Step> + 'a {
        self.steps.iter().filter(move |s| s.path.ends_with(suffix))
    }

    fn push(&mut self, label: Label, action: Action, len: usize, seed: Vec<F>) {
        if len == 0 {
            return;
        }
        let mut path = self.path.clone();
        path.push(label);
        let start = self.len();
        self.steps.push(Step {
            path,
            action,
            start,
            len,
            seed,
            bits: 0,
        });
    }

    /// Play one protocol: observe `separator`'s seed, then every step of its pattern, handing
    /// each delegation to `delegations`. Returns `false` when a delegation stopped the
    /// schedule (nothing more is appended after that).
    ///
    /// # Errors
    /// [`ScheduleError`] for a step without a fixed element count.
    pub fn play(
        &mut self,
        separator: &DomainSeparator<FieldUnit<F>>,
        delegations: &mut dyn Delegations,
    ) -> Result<bool, ScheduleError> {
        if self.stopped() {
            return Ok(false);
        }
        let mut seed = super::schedule::SeedRecorder(Vec::new());
        separator.seed(&mut seed);
        self.push("seed", Action::Seed, seed.0.len(), seed.0);
        self.walk(separator.pattern(), delegations)
    }

    fn walk(
        &mut self,
        pattern: &InteractionPattern,
        delegations: &mut dyn Delegations,
    ) -> Result<bool, ScheduleError> {
        let depth = self.path.len();
        let steps = pattern.interactions();
        let mut i = 0;
        while i < steps.len() {
            let step = steps[i];
            match step.hierarchy() {
                Hierarchy::Begin => {
                    self.path.push(step.label());
                    let empty = steps.get(i + 1).is_some_and(|next| next.closes(&step));
                    if empty {
                        if !delegations.play(step.label(), self)? {
                            self.delegated = Some(self.path.clone());
                            return Ok(false);
                        }
                        self.path.pop();
                        i += 2;
                        continue;
                    }
                }
                Hierarchy::End => {
                    if self.path.len() <= depth || self.path.last() != Some(&step.label()) {
                        return Err(ScheduleError::Unbalanced(self.path.clone()));
                    }
                    self.path.pop();
                }
                Hierarchy::Atomic => self.atomic(step, delegations)?,
            }
            i += 1;
        }
        if self.path.len() == depth {
            Ok(true)
        } else {
            Err(ScheduleError::Unbalanced(self.path.clone()))
        }
    }

    fn atomic(
        &mut self,
        step: p3_challenger::fs::Interaction,
        delegations: &dyn Delegations,
    ) -> Result<(), ScheduleError> {
        let label = step.label();
        let unfixed = |why| {
            let mut path = self.path.clone();
            path.push(label);
            ScheduleError::Unfixed { path, why }
        };
        let count = match step.length() {
            Length::None => 0,
            Length::Scalar => 1,
            Length::Fixed(n) => n,
            Length::Bounded(_) => return Err(unfixed("a length the proof decides")),
        };
        if step.kind() == Kind::Hint {
            // On the wire only.
            return Ok(());
        }
        if step.kind() == Kind::Pow {
            // `Fixed(bits)`: the witness observed and one element sampled, when bits > 0.
            if count > 0 {
                self.push(label, Action::Grind, 2, Vec::new());
                if let Some(s) = self.steps.last_mut() {
                    s.bits = count;
                }
            }
            return Ok(());
        }
        let per_item = match step.type_tag() {
            TypeTag::Algebra { degree, .. } => degree,
            TypeTag::Opaque => delegations.opaque_len(label),
            TypeTag::Bits { .. } => 1,
            TypeTag::UniformBits { width } => {
                if width <= <F as UniformSamplingField>::MAX_SINGLE_SAMPLE_BITS {
                    1
                } else {
                    2
                }
            }
            TypeTag::Marker => 0,
            _ => return Err(unfixed("a type without an element count")),
        };
        let action = match step.kind() {
            Kind::Public | Kind::Message => Action::Observe,
            Kind::Challenge => Action::Sample,
            _ => return Err(unfixed("a kind without elements")),
        };
        self.push(label, action, count * per_item, Vec::new());
        Ok(())
    }
}

/// The shapes of a multilinear child's sub-protocols, as p3-multi-stark 0.8's verifier builds
/// them from the batch (`p3_multi_stark::verify`): the statement, the lookup argument and its
/// fractional GKR, the zerocheck and its constraint sumcheck, and, when given, the main
/// opening's ([`OpeningShapes`]). A [`Delegations`] for them.
#[derive(Clone, Debug)]
pub struct StarkShapes {
    /// The statement (`MultiStarkShape::new` over the AIRs and their trace arities).
    pub statement: p3_multi_stark::transcript::MultiStarkShape,
    /// The lookup argument, when an AIR declares interactions (`LookupShape::new` of
    /// `LookupPlan::build`).
    pub lookup: Option<p3_multi_stark::lookup::transcript::LookupShape>,
    /// The zerocheck (`ZerocheckShape::new`: every AIR's degrees, the largest arity, the lookup
    /// point's length, the grinding bits).
    pub zerocheck: p3_multi_stark::zerocheck::transcript::ZerocheckShape,
    /// The constraint sumcheck (`GenericDegreeShape`: one round per variable, the transmitted
    /// degree, the grinding bits).
    pub sumcheck: p3_sumcheck::generic_degree::GenericDegreeShape,
    /// The elements of a commitment's Merkle cap as the transcript observes them.
    pub cap_len: usize,
    /// The main opening's shapes, when given ([`StarkShapes::with_opening`]); without them
    /// the schedule stops at the main opening.
    pub opening: Option<OpeningShapes>,
    /// The next WHIR round whose fold is played (a counter of the walk).
    round_fold: usize,
}

/// The shapes of the main opening of a multilinear child (`PrescribedPointPcs::verify_at` of
/// p3-whir 0.8 over the stacked layout): the layout's out-of-domain claims, one opening of
/// every instance's columns at the zerocheck's point, then WHIR's run.
#[derive(Clone, Debug)]
pub struct OpeningShapes {
    /// Per instance: its trace arity, its width and the columns opened on the next row.
    pub tables: Vec<(usize, usize, Vec<usize>)>,
    /// The stacked polynomial's variables, as the layout plans them (`plan_stacked_layout`).
    pub stacked_variables: usize,
    /// Each instance's arity inside the layout (`Verifier::num_variables_table`).
    pub table_variables: Vec<usize>,
    /// The layout's strategy (`Layout::strategy` of the prover's layout).
    pub strategy: p3_sumcheck::layout::LayoutStrategy,
    /// WHIR's run (`WhirShape::new` of the configuration, one claim per instance).
    pub whir: p3_whir::WhirShape,
}

/// The stacked layout's protocols, as p3-sumcheck 0.8 describes them (`layout::transcript`, crate
/// private there, so written here from it and checked against a real transcript by this
/// module's tests): version 1, each seed bound to the layout's geometry.
mod layout {
    use super::{OpeningShapes, F};
    use crate::aggregate::field::Challenge;
    use p3_challenger::fs::{
        DomainSeparator, FieldUnit, Hierarchy, Interaction, InteractionPattern, Kind, Length,
    };
    use p3_sumcheck::strategy::VariableOrder;

    const VERSION: u8 = 1;

    /// A number as the layout binds it: eight bytes, big-endian.
    fn word(v: usize) -> [u8; 8] {
        (v as u64).to_be_bytes()
    }

    fn separator(
        name: &[u8],
        steps: Vec<Interaction>,
        shapes: &OpeningShapes,
    ) -> DomainSeparator<FieldUnit<F>> {
        let pattern = InteractionPattern::new(steps).expect("leaf steps");
        let mut separator = DomainSeparator::new(VERSION, name, pattern);
        separator.instance(&word(shapes.stacked_variables));
        separator.instance(&[u8::from(shapes.strategy.reverse_selectors)]);
        separator.instance(&[match shapes.strategy.variable_order {
            VariableOrder::Prefix => 0,
            VariableOrder::Suffix => 1,
        }]);
        separator.instance(&word(shapes.tables.len()));
        for &(arity, width, _) in &shapes.tables {
            separator.instance(&word(arity)).instance(&word(width));
        }
        separator
    }

    fn ext(kind: Kind, label: &'static str, length: Length) -> Interaction {
        Interaction::algebra::<F, Challenge>(Hierarchy::Atomic, kind, label, length)
    }

    /// One out-of-domain claim on the stacked polynomial: a point drawn, its value observed.
    pub(super) fn virtual_claim(shapes: &OpeningShapes) -> DomainSeparator<FieldUnit<F>> {
        separator(
            b"p3-sumcheck-layout-ood",
            vec![
                ext(Kind::Challenge, "virtual_point", Length::Scalar),
                ext(Kind::Message, "virtual_eval", Length::Scalar),
            ],
            shapes,
        )
    }

    /// Instance `table`'s opening at a point the caller gives: every column's value on the
    /// current row, then the listed columns' on the next.
    pub(super) fn opening(shapes: &OpeningShapes, table: usize) -> DomainSeparator<FieldUnit<F>> {
        let (_, width, next) = &shapes.tables[table];
        let mut steps = Vec::new();
        if *width > 0 {
            steps.push(ext(Kind::Message, "current_evals", Length::Fixed(*width)));
        }
        if !next.is_empty() {
            steps.push(ext(Kind::Message, "next_evals", Length::Fixed(next.len())));
        }
        let mut separator = separator(b"p3-sumcheck-layout-opening", steps, shapes);
        separator.instance(&word(table));
        separator.instance(&word(shapes.table_variables[table]));
        separator.instance(&word(*width));
        for column in 0..*width {
            separator.instance(&word(column));
        }
        separator.instance(&word(next.len()));
        for &column in next {
            separator.instance(&word(column));
        }
        separator
    }

    /// The batching challenge of every claim (`num_claims` opened values, `num_virtual`
    /// out-of-domain ones).
    pub(super) fn batching(
        shapes: &OpeningShapes,
        num_claims: usize,
        num_virtual: usize,
    ) -> DomainSeparator<FieldUnit<F>> {
        let mut separator = separator(
            b"p3-sumcheck-layout-batching",
            vec![ext(Kind::Challenge, "batching", Length::Scalar)],
            shapes,
        );
        separator.instance(&word(num_claims));
        separator.instance(&word(num_virtual));
        separator
    }
}

impl StarkShapes {
    /// The shapes of a batch of `airs` with trace arities `log_heights`, proved with
    /// `pow_bits` of grinding per sumcheck round, its commitments' caps `cap_len` elements.
    ///
    /// # Errors
    /// A message when the batch uses what this verifier does not describe (public boundary
    /// cells, exclusive interactions) or p3's lookup plan refuses it.
    pub fn new<A>(
        airs: &[&A],
        log_heights: &[usize],
        pow_bits: usize,
        cap_len: usize,
    ) -> Result<Self, String>
    where
        A: p3_air::BaseAir<F>
            + p3_air::Air<
                p3_lookup::InteractionSymbolicBuilder<F, crate::aggregate::field::Challenge>,
            >,
    {
        use crate::aggregate::field::Challenge;
        use p3_multi_stark::lookup::transcript::LookupShape;
        use p3_multi_stark::lookup::LookupPlan;
        use p3_multi_stark::zerocheck::transcript::ZerocheckShape;

        if airs.len() != log_heights.len() || airs.is_empty() {
            return Err("one trace arity per AIR, and at least one AIR".into());
        }
        let statement = p3_multi_stark::transcript::MultiStarkShape::new::<F, A>(
            airs,
            log_heights,
            pow_bits,
            false,
            false,
        );
        let plan = LookupPlan::build::<Challenge, A>(airs, log_heights)
            .map_err(|e| format!("lookup plan: {e:?}"))?;
        let lookup = plan.as_ref().map(LookupShape::new);
        let degrees = airs
            .iter()
            .map(|air| air_degrees(*air))
            .collect::<Result<Vec<_>, _>>()?;
        let lookup_point = lookup.as_ref().map_or(0, |l| l.num_variables);
        let log_height = log_heights
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(lookup_point);
        let degree = degrees.iter().map(|d| d.max()).max().unwrap_or(0) + 1;
        Ok(Self {
            statement,
            lookup,
            zerocheck: ZerocheckShape::new(&degrees, log_height, lookup_point, pow_bits),
            sumcheck: p3_sumcheck::generic_degree::GenericDegreeShape::new(
                log_height, degree, pow_bits,
            ),
            cap_len,
            opening: None,
            round_fold: 0,
        })
    }

    /// The same shapes with the main opening's: the instances' tables (their arities, widths
    /// and next-row columns, as the statement holds them) as the stacked layout `L` places
    /// them, and WHIR's run under `whir` (its configuration's shape, one claim per instance).
    #[must_use]
    pub fn with_opening<L>(mut self, whir: p3_whir::WhirShape) -> Self
    where
        L: p3_sumcheck::layout::Layout<F, crate::aggregate::field::Challenge>,
    {
        use p3_sumcheck::layout::{plan_stacked_layout, Verifier};
        use p3_sumcheck::TableShape;
        let instances = &self.statement.instances;
        let shapes: Vec<TableShape> = instances
            .iter()
            .map(|i| TableShape::new(i.num_variables, i.main_width))
            .collect();
        let strategy = L::strategy();
        let verifier = Verifier::<F, crate::aggregate::field::Challenge>::new(&shapes, strategy);
        self.opening = Some(OpeningShapes {
            tables: instances
                .iter()
                .map(|i| {
                    (
                        i.num_variables,
                        i.main_width,
                        i.main_next_row_columns.clone(),
                    )
                })
                .collect(),
            stacked_variables: plan_stacked_layout(&shapes).0,
            table_variables: (0..shapes.len())
                .map(|i| verifier.num_variables_table(i))
                .collect(),
            strategy,
            whir,
        });
        self
    }

    /// The schedule from the statement's seed to WHIR's last fold, or to the main opening when
    /// its shapes were not given (module docs).
    ///
    /// # Errors
    /// [`ScheduleError`] from a pattern this walker cannot count.
    pub fn schedule(&mut self) -> Result<MultilinearSchedule, ScheduleError> {
        let mut schedule = MultilinearSchedule::default();
        let statement = self.statement.domain_separator::<F>();
        schedule.play(&statement, self)?;
        Ok(schedule)
    }
}

impl Delegations for StarkShapes {
    fn play(
        &mut self,
        label: Label,
        schedule: &mut MultilinearSchedule,
    ) -> Result<bool, ScheduleError> {
        use crate::aggregate::field::Challenge;
        let separator = match label {
            "main_commitment" => p3_sumcheck::layout::commitment_domain_separator::<F>(),
            "lookup_argument" => match &self.lookup {
                Some(lookup) => lookup.domain_separator::<F, Challenge>(),
                // p3's `verify_lookup` returns before its transcript when no AIR declares an
                // interaction: the bracket holds nothing.
                None => return Ok(true),
            },
            "fraction_reduction" => match &self.lookup {
                Some(lookup) => p3_multi_stark::fractional_gkr::FractionGkrShape {
                    num_variables: lookup.num_variables,
                }
                .domain_separator::<F, Challenge>(),
                None => return Ok(false),
            },
            "zerocheck" => self.zerocheck.domain_separator::<F, Challenge>(),
            "constraint_sumcheck" => self.sumcheck.domain_separator::<F, Challenge>(),
            "main_opening" => {
                let Some(opening) = &self.opening else {
                    return Ok(false);
                };
                let mut separators: Vec<_> = (0..opening.whir.commitment_ood_samples)
                    .map(|_| layout::virtual_claim(opening))
                    .collect();
                separators.extend((0..opening.tables.len()).map(|t| layout::opening(opening, t)));
                separators.push(opening.whir.domain_separator::<F, Challenge>());
                self.round_fold = 0;
                for separator in &separators {
                    if !schedule.play(separator, self)? {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            "initial_fold" | "round_fold" | "final_fold" => {
                use p3_sumcheck::strategy::Basis;
                use p3_sumcheck::transcript::SumcheckShape;
                let Some(opening) = &self.opening else {
                    return Ok(false);
                };
                let whir = &opening.whir;
                let fold = match label {
                    "initial_fold" => whir.initial_sumcheck,
                    "final_fold" => whir.final_sumcheck,
                    _ => match whir.rounds.get(self.round_fold) {
                        Some(round) => round.sumcheck,
                        None => return Ok(false),
                    },
                };
                let sumcheck = SumcheckShape::new(fold.rounds, fold.pow_bits, Basis::Evaluation)
                    .domain_separator::<F, Challenge>();
                if label == "initial_fold" {
                    let num_claims: usize =
                        opening.tables.iter().map(|(_, w, n)| w + n.len()).sum();
                    let batching =
                        layout::batching(opening, num_claims, whir.commitment_ood_samples);
                    if !schedule.play(&batching, self)? {
                        return Ok(false);
                    }
                }
                if label == "round_fold" {
                    self.round_fold += 1;
                }
                return schedule.play(&sumcheck, self);
            }
            _ => return Ok(false),
        };
        schedule.play(&separator, self)
    }

    fn opaque_len(&self, _label: Label) -> usize {
        self.cap_len
    }
}

/// One AIR's degrees in the zerocheck, as p3-multi-stark 0.8 scores them (its crate-private
/// `get_air_profile`): the ordinary constraints' degree at a domain of size two (or the AIR's
/// hint, when larger), and the interactions' fields' and counts' largest degree, zero for a
/// family the AIR does not use.
///
/// # Errors
/// A message for an AIR with public boundary cells or exclusive interactions, which the
/// verifier AIRs do not use.
pub fn air_degrees<A>(air: &A) -> Result<p3_multi_stark::rounds::AirDegrees, String>
where
    A: p3_air::BaseAir<F>
        + p3_air::Air<p3_lookup::InteractionSymbolicBuilder<F, crate::aggregate::field::Challenge>>,
{
    use p3_air::symbolic::AirLayout;
    use p3_lookup::InteractionSymbolicBuilder;
    if !air.public_boundary_io().is_empty() {
        return Err("an AIR with public boundary cells".into());
    }
    let builder = InteractionSymbolicBuilder::<F, crate::aggregate::field::Challenge>::from_air(
        air,
        AirLayout::from_air::<F>(air),
    );
    if !builder.exclusive_interactions().is_empty() {
        return Err("an AIR with exclusive interactions".into());
    }
    let base = builder.base_constraints();
    let ext = builder.extension_constraints();
    let symbolic = base
        .iter()
        .map(|e| e.poly_degree(2, &[]))
        .chain(ext.iter().map(|e| e.poly_degree(2, &[])))
        .max()
        .unwrap_or(0);
    let constraints = if base.is_empty() && ext.is_empty() {
        0
    } else {
        air.max_constraint_degree()
            .map_or(symbolic, |h| h.max(symbolic))
    };
    let global = builder
        .global_interactions()
        .iter()
        .flat_map(|i| i.fields.iter().chain(core::iter::once(&i.count)))
        .map(|e| e.poly_degree(2, &[]))
        .max()
        .unwrap_or(0);
    let local = builder
        .local_interactions()
        .iter()
        .flat_map(|i| &i.tuples)
        .map(|(fields, count)| {
            let f = fields
                .iter()
                .map(|e| e.poly_degree(2, &[]))
                .max()
                .unwrap_or(0);
            f.max(count.clone().into_parts().0.poly_degree(2, &[]))
        })
        .max()
        .unwrap_or(0);
    Ok(p3_multi_stark::rounds::AirDegrees {
        constraints,
        interactions: global.max(local),
    })
}

#[cfg(test)]
mod tests {
    use p3_field::PrimeField64;

    use super::*;
    use crate::aggregate::field::Challenge;
    use crate::aggregate::recursion::harness::smallest_compact_batch;
    use crate::aggregate::recursion::multilinear_child::Event;
    use crate::aggregate::recursion::parent::{multilinear_instances, MultilinearAir};
    use p3_challenger::fs::Interaction;
    use p3_field::BasedVectorSpace;

    fn coords(values: &[Challenge]) -> Vec<F> {
        values
            .iter()
            .flat_map(|v| v.as_basis_coefficients_slice().to_vec())
            .collect()
    }

    /// The elements of every step whose path ends with `suffix`, in order.
    fn elements(schedule: &MultilinearSchedule, events: &[Event], suffix: &[Label]) -> Vec<F> {
        schedule
            .all(suffix)
            .flat_map(|s| events[s.start..s.start + s.len].iter().map(|e| e.1))
            .collect()
    }

    /// The first step at which `schedule` and the recording disagree: a seed element of
    /// another value, or an element observed where the schedule samples (or the reverse).
    fn first_disagreement(schedule: &MultilinearSchedule, events: &[Event]) -> Option<usize> {
        schedule.steps.iter().position(|s| {
            let Some(got) = events.get(s.start..s.start + s.len) else {
                return true;
            };
            got.iter()
                .enumerate()
                .any(|(k, &(observed, v))| match s.action {
                    Action::Seed => !observed || v != s.seed[k],
                    Action::Observe => !observed,
                    Action::Sample => observed,
                    Action::Grind => observed != (k == 0),
                })
        })
    }

    #[test]
    fn the_schedule_is_a_real_childs_whole_transcript() {
        use crate::aggregate::recursion::multilinear_child::{child_shapes, record_scheduled};

        let batch = smallest_compact_batch([7; 32], 11);
        let (child, schedule) = record_scheduled(&batch);
        let events = &child.events;
        let proof = &child.proof;
        // The same AIRs again, for the schedules of other shapes.
        let wrapped: Vec<MultilinearAir<'_>> =
            multilinear_instances(&batch.airs, batch.heights.len());
        let shapes = |heights: &[usize], pow: usize, opening: bool| {
            child_shapes(&batch, &wrapped, heights, pow, child.num_variables, opening)
                .schedule()
                .expect("a schedule")
        };

        // Without the opening's shapes the schedule stops there, and is the transcript so far.
        let prefix = shapes(&batch.heights, child.pow_bits, false);
        assert_eq!(prefix.delegated, Some(vec!["main_opening"]));
        assert_eq!(first_disagreement(&prefix, events), None);

        assert_eq!(schedule.delegated, None);
        assert_eq!(schedule.len(), events.len(), "every element, and no more");
        assert_eq!(first_disagreement(&schedule, events), None);
        assert_eq!(
            prefix.steps[..],
            schedule.steps[..prefix.steps.len()],
            "the prefix is the same"
        );

        // Every message at its position, from the proof's own fields.
        let root: Vec<F> = proof
            .commitment
            .roots()
            .iter()
            .flat_map(|r| r.iter().copied())
            .collect();
        assert_eq!(
            elements(&schedule, events, &["main_commitment", "commitment"]),
            root
        );
        let public: Vec<F> = child.public_values.concat();
        assert!(!public.is_empty());
        assert_eq!(elements(&schedule, events, &["public_values"]), public);
        let gkr = proof
            .lookup
            .as_ref()
            .expect("the verifier AIRs use lookups");
        assert_eq!(
            elements(&schedule, events, &["root_denominator"]),
            coords(&[gkr.root_denominator])
        );
        let gkr_rounds: Vec<Challenge> = gkr
            .layers
            .iter()
            .flat_map(|l| l.round_polys.iter().flatten().copied())
            .collect();
        assert_eq!(
            elements(&schedule, events, &["layer", "round_poly"]),
            coords(&gkr_rounds)
        );
        let claims: Vec<Challenge> = gkr
            .layers
            .iter()
            .flat_map(|l| [l.claims.n0, l.claims.d0, l.claims.n1, l.claims.d1])
            .collect();
        assert_eq!(
            elements(&schedule, events, &["layer", "claims"]),
            coords(&claims)
        );
        let zerocheck = &proof.sumcheck;
        assert_eq!(
            elements(&schedule, events, &["constraint_sumcheck", "claimed_sum"]),
            coords(&[zerocheck.claimed_sum])
        );
        let rounds: Vec<Challenge> = zerocheck.round_polys.iter().flatten().copied().collect();
        assert_eq!(
            elements(&schedule, events, &["constraint_sumcheck", "round_poly"]),
            coords(&rounds)
        );
        let opening = &proof.opening;
        assert_eq!(
            elements(&schedule, events, &["virtual_eval"]),
            coords(&opening.whir.initial_ood_answers)
        );
        let current: Vec<Challenge> = opening
            .evals
            .iter()
            .flat_map(|e| e.current().to_vec())
            .collect();
        let next_evals: Vec<Challenge> = opening
            .evals
            .iter()
            .flat_map(|e| e.next().to_vec())
            .collect();
        assert_eq!(
            elements(&schedule, events, &["current_evals"]),
            coords(&current)
        );
        assert_eq!(
            elements(&schedule, events, &["next_evals"]),
            coords(&next_evals)
        );
        let round_roots: Vec<F> = opening
            .whir
            .rounds
            .iter()
            .filter_map(|r| r.commitment.as_ref())
            .flat_map(|c| {
                c.roots()
                    .iter()
                    .flat_map(|r| r.to_vec())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            elements(&schedule, events, &["main_opening", "commitment"]),
            round_roots
        );
        let ood: Vec<Challenge> = opening
            .whir
            .rounds
            .iter()
            .flat_map(|r| r.ood_answers.clone())
            .collect();
        assert_eq!(elements(&schedule, events, &["ood_answer"]), coords(&ood));
        let final_poly = opening
            .whir
            .final_poly
            .as_ref()
            .expect("a final polynomial");
        assert_eq!(
            elements(&schedule, events, &["final_poly"]),
            coords(final_poly.as_slice())
        );
        assert_eq!(
            schedule
                .all(&["constraint_sumcheck", "round_challenge"])
                .count(),
            zerocheck.round_polys.len()
        );

        // Every grinding check's difficulty is the pattern's, met by the sample after its
        // witness: the low `bits` bits zero (a chance of 2^-bits each for a wrong count).
        let grinding: Vec<&Step> = schedule
            .steps
            .iter()
            .filter(|s| s.action == Action::Grind)
            .collect();
        assert!(!grinding.is_empty());
        for s in &grinding {
            assert!(s.bits > 0, "{:?}", s.path);
            let sample = events[s.start + 1].1.as_canonical_u64();
            assert_eq!(sample & ((1 << s.bits) - 1), 0, "{:?}", s.path);
        }
        assert!(schedule
            .steps
            .iter()
            .all(|s| (s.action == Action::Grind) == (s.bits > 0)));

        // Another shape's schedule is not this transcript: the seeds bind the shape.
        let mut taller = batch.heights.clone();
        taller[0] += 1;
        for (what, other) in [
            (
                "one instance twice as tall",
                shapes(&taller, child.pow_bits, true),
            ),
            (
                "one more bit of grinding",
                shapes(&batch.heights, child.pow_bits + 1, true),
            ),
        ] {
            let at = first_disagreement(&other, events).expect("a disagreement");
            assert_eq!(other.steps[at].action, Action::Seed, "{what}");
        }

        let total = |pred: &dyn Fn(&Step) -> bool| -> usize {
            schedule
                .steps
                .iter()
                .filter(|s| pred(s))
                .map(|s| s.len)
                .sum()
        };
        let inside = |label: Label| total(&|s: &Step| s.path.contains(&label));
        println!(
            "a Poseidon1 compact parent (2^{} stacked, {} instances): {} transcript elements, \
             all scheduled from the shape ({} steps); seeds {}, observed {}, sampled {}, \
             grinding {}; by protocol: lookup argument {}, zerocheck {}, main opening {} (of \
             which WHIR's folds {})",
            child.num_variables,
            wrapped.len(),
            schedule.len(),
            schedule.steps.len(),
            total(&|s: &Step| s.action == Action::Seed),
            total(&|s: &Step| s.action == Action::Observe),
            total(&|s: &Step| s.action == Action::Sample),
            total(&|s: &Step| s.action == Action::Grind),
            inside("lookup_argument"),
            inside("zerocheck"),
            inside("main_opening"),
            inside("initial_fold") + inside("round_fold") + inside("final_fold"),
        );
    }

    /// A [`Delegations`] that plays nothing and stops at every bracket.
    struct Stop;

    impl Delegations for Stop {
        fn play(
            &mut self,
            _label: Label,
            _schedule: &mut MultilinearSchedule,
        ) -> Result<bool, ScheduleError> {
            Ok(false)
        }
        fn opaque_len(&self, _label: Label) -> usize {
            9
        }
    }

    #[test]
    fn every_kind_of_step_is_counted_and_unfixed_ones_refused() {
        struct Inner;
        let step = |kind, label, length| {
            Interaction::algebra::<F, Challenge>(Hierarchy::Atomic, kind, label, length)
        };
        let pattern = InteractionPattern::new(vec![
            step(Kind::Message, "values", Length::Fixed(3)),
            Interaction::algebra::<F, F>(Hierarchy::Atomic, Kind::Pow, "pow", Length::Fixed(0)),
            Interaction::algebra::<F, F>(Hierarchy::Atomic, Kind::Pow, "pow", Length::Fixed(7)),
            Interaction::bits(
                Hierarchy::Atomic,
                Kind::Challenge,
                "bits",
                20,
                Length::Fixed(4),
            ),
            Interaction::uniform_bits(
                Hierarchy::Atomic,
                Kind::Challenge,
                "wide",
                30,
                Length::Fixed(2),
            ),
            Interaction::bytes(Hierarchy::Atomic, Kind::Hint, "hint", Length::Fixed(0)),
            Interaction::opaque(Hierarchy::Atomic, Kind::Message, "root", Length::Scalar),
            Interaction::marker::<Inner>(Hierarchy::Begin, Kind::Protocol, "group"),
            step(Kind::Challenge, "alpha", Length::Scalar),
            Interaction::marker::<Inner>(Hierarchy::End, Kind::Protocol, "group"),
            Interaction::marker::<Inner>(Hierarchy::Begin, Kind::Protocol, "sub"),
            Interaction::marker::<Inner>(Hierarchy::End, Kind::Protocol, "sub"),
            step(Kind::Challenge, "after", Length::Scalar),
        ])
        .unwrap();
        let separator = DomainSeparator::<FieldUnit<F>>::new(1, b"test", pattern);
        let mut schedule = MultilinearSchedule::default();
        assert!(!schedule.play(&separator, &mut Stop).unwrap());
        let got: Vec<(Vec<Label>, Action, usize)> = schedule
            .steps
            .iter()
            .skip(1)
            .map(|s| (s.path.clone(), s.action, s.len))
            .collect();
        let want_wide = if 30 <= F::MAX_SINGLE_SAMPLE_BITS {
            2
        } else {
            4
        };
        assert_eq!(
            got,
            vec![
                (vec!["values"], Action::Observe, 15),
                (vec!["pow"], Action::Grind, 2),
                (vec!["bits"], Action::Sample, 4),
                (vec!["wide"], Action::Sample, want_wide),
                (vec!["root"], Action::Observe, 9),
                (vec!["group", "alpha"], Action::Sample, 5),
            ]
        );
        assert_eq!(schedule.delegated, Some(vec!["sub"]));
        assert_eq!(schedule.steps[0].action, Action::Seed);
        assert_eq!(schedule.steps[0].len, schedule.steps[0].seed.len());
        assert_eq!(schedule.steps[1].start, schedule.steps[0].len);

        let bounded =
            InteractionPattern::new(vec![step(Kind::Message, "values", Length::Bounded(8))])
                .unwrap();
        let separator = DomainSeparator::<FieldUnit<F>>::new(1, b"test", bounded);
        assert!(matches!(
            MultilinearSchedule::default().play(&separator, &mut Stop),
            Err(ScheduleError::Unfixed { .. })
        ));
    }
}
