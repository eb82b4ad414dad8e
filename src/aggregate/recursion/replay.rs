//! The multilinear STARK verifier's symbolic passes, made once per verifier key and replayed.
//!
//! `p3_multi_stark::verify` evaluates every AIR of the batch symbolically three times per proof
//! before it reads a single proof value: its indexed-lookup plan and its LogUp plan each with
//! `p3_lookup::InteractionSymbolicBuilder`, its binary-bus context with
//! `p3_bus::BusSymbolicBuilder`. The passes depend on the AIR alone, never on the proof, yet for
//! the verifier AIRs (the permutation table's Poseidon1 rounds above all) they were about half
//! of a warm Type-2 verification (src/aggregate/recursion/README.md, "Type-2", measured).
//!
//! [`SymbolicRecord`] keeps one pass's output in a verifier's cached key; [`ReplayedAir`] is the
//! view of an AIR that the verifier receives: under the two symbolic builders it replays the
//! record, under the two folders that evaluate the AIR at the proof's point it runs the AIR
//! itself.
//!
//! Why a replay is exact. The verifier AIRs ([`super::parent::MultilinearAir`]) evaluate under
//! any `AirBuilder<F = F> + InteractionBuilder`. Of those two traits' methods, the only ones that
//! change a builder are `assert_zero` (every other assertion of `AirBuilder`, `when` and its
//! filters included, ends in it), `push_interaction`, `push_local_interaction` and
//! `push_exclusive_interaction`; the AIRs cannot reach extension constraints, indexed lookups or
//! binary-bus declarations, whose methods are on other traits. Both symbolic builders store
//! those calls' arguments verbatim, each kind in its own list in call order, so calling them
//! again with the recorded arguments, kind by kind in the same order, leaves the builder as the
//! AIR's own evaluation does. `replay_reproduces_every_symbolic_pass` checks it on every AIR of
//! a real Type-2 batch, expression by expression.

use std::sync::Arc;

use p3_air::symbolic::{AirLayout, SymbolicExpression};
use p3_air::{Air, AirBuilder, BaseAir};
use p3_bus::BusSymbolicBuilder;
use p3_lookup::{
    Count, InteractionBuilder, InteractionSymbolicBuilder, SymbolicInteraction,
    SymbolicLocalInteraction,
};
use p3_multi_stark::folder::{InteractionMultilinearFolder, MultilinearFolder};

use super::parent::MultilinearAir;
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// What one symbolic evaluation of an AIR emits through the methods that change a builder, in
/// call order per kind: base constraints (`assert_zero`), global, local and exclusive
/// interactions. Made by [`SymbolicRecord::of`]; shared by every instance of the same AIR.
pub(super) struct SymbolicRecord {
    base: Vec<SymbolicExpression<F>>,
    global: Vec<SymbolicInteraction<F>>,
    local: Vec<SymbolicLocalInteraction<F>>,
    exclusive: Vec<Exclusive>,
}

/// One exclusive interaction as recorded: its bus and its branches, each (flag, count, count's
/// bound, fields) (p3-lookup does not export its own record's type).
struct Exclusive {
    bus_name: String,
    branches: Vec<Branch>,
}

/// One branch of an [`Exclusive`]: flag, count, the count's per-row bound, fields.
type Branch = (
    SymbolicExpression<F>,
    SymbolicExpression<F>,
    u32,
    Vec<SymbolicExpression<F>>,
);

impl SymbolicRecord {
    /// Evaluates `air` once under `InteractionSymbolicBuilder` and keeps what it emitted.
    pub(super) fn of(air: &MultilinearAir<'_>) -> Self {
        let b = InteractionSymbolicBuilder::<F, Challenge>::from_air(air, AirLayout::from_air(air));
        Self {
            base: b.base_constraints(),
            global: b.global_interactions().to_vec(),
            local: b.local_interactions().to_vec(),
            exclusive: b
                .exclusive_interactions()
                .iter()
                .map(|i| Exclusive {
                    bus_name: i.bus_name.clone(),
                    branches: i
                        .branches
                        .iter()
                        .map(|b| {
                            (
                                b.flag.clone(),
                                b.count.clone(),
                                b.count_weight,
                                b.fields.clone(),
                            )
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Calls `builder`'s changing methods with the recorded arguments, kind by kind in the
    /// recorded order (expressions are shared, not copied).
    fn replay<B>(&self, builder: &mut B)
    where
        B: InteractionBuilder + AirBuilder<F = F, Expr = SymbolicExpression<F>>,
    {
        for c in &self.base {
            builder.assert_zero(c.clone());
        }
        for i in &self.global {
            builder.push_interaction(
                &i.bus_name,
                i.fields.iter().cloned(),
                Count::bounded(i.count.clone(), i.count_weight),
            );
        }
        for i in &self.local {
            builder.push_local_interaction(i.tuples.iter().cloned());
        }
        for i in &self.exclusive {
            builder.push_exclusive_interaction(
                &i.bus_name,
                i.branches.iter().map(|(flag, count, weight, fields)| {
                    (
                        flag.clone(),
                        Count::bounded(count.clone(), *weight),
                        fields.clone(),
                    )
                }),
            );
        }
    }
}

/// The records of `airs`' instances: one record per distinct AIR (made in parallel), the last
/// AIR's shared by every instance past `distinct` ([`super::parent::multilinear_instances`]
/// repeats it for the shared permutation table's pieces).
pub(super) fn instance_records(
    airs: &[MultilinearAir<'_>],
    distinct: usize,
) -> Vec<Arc<SymbolicRecord>> {
    use rayon::prelude::*;
    let made: Vec<Arc<SymbolicRecord>> = airs[..distinct.min(airs.len())]
        .par_iter()
        .map(|a| Arc::new(SymbolicRecord::of(a)))
        .collect();
    let last = made.last().cloned();
    made.into_iter()
        .chain(last.into_iter().cycle())
        .take(airs.len())
        .collect()
}

/// The verifier's view of one instance: [`MultilinearAir`] with its [`SymbolicRecord`]
/// replayed under the symbolic builders (see the module docs) and the AIR itself evaluated
/// under the folders. Every `BaseAir` method the wrapped AIR answers is forwarded.
pub(super) struct ReplayedAir<'a> {
    air: &'a MultilinearAir<'a>,
    record: &'a SymbolicRecord,
}

/// [`ReplayedAir`]s of `airs` with their `records` (the same length).
pub(super) fn replayed<'a>(
    airs: &'a [MultilinearAir<'a>],
    records: &'a [Arc<SymbolicRecord>],
) -> Vec<ReplayedAir<'a>> {
    assert_eq!(airs.len(), records.len(), "one record per instance");
    airs.iter()
        .zip(records)
        .map(|(air, record)| ReplayedAir { air, record })
        .collect()
}

impl BaseAir<F> for ReplayedAir<'_> {
    fn width(&self) -> usize {
        BaseAir::<F>::width(self.air)
    }
    fn num_periodic_columns(&self) -> usize {
        BaseAir::<F>::num_periodic_columns(self.air)
    }
    fn periodic_columns(&self) -> std::borrow::Cow<'_, [Vec<F>]> {
        BaseAir::<F>::periodic_columns(self.air)
    }
    fn main_next_row_columns(&self) -> Vec<usize> {
        BaseAir::<F>::main_next_row_columns(self.air)
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        BaseAir::<F>::max_constraint_degree(self.air)
    }
    fn num_public_values(&self) -> usize {
        BaseAir::<F>::num_public_values(self.air)
    }
    fn preprocessed_trace(&self) -> Option<p3_matrix::dense::RowMajorMatrix<F>> {
        BaseAir::<F>::preprocessed_trace(self.air)
    }
    fn preprocessed_width(&self) -> usize {
        BaseAir::<F>::preprocessed_width(self.air)
    }
    fn preprocessed_next_row_columns(&self) -> Vec<usize> {
        BaseAir::<F>::preprocessed_next_row_columns(self.air)
    }
    fn num_constraints(&self) -> Option<usize> {
        BaseAir::<F>::num_constraints(self.air)
    }
    fn public_boundary_io(&self) -> &[p3_air::BoundaryPublic] {
        BaseAir::<F>::public_boundary_io(self.air)
    }
    fn assumes_boolean_trace(&self) -> bool {
        BaseAir::<F>::assumes_boolean_trace(self.air)
    }
}

impl Air<InteractionSymbolicBuilder<F, Challenge>> for ReplayedAir<'_> {
    fn eval(&self, builder: &mut InteractionSymbolicBuilder<F, Challenge>) {
        self.record.replay(builder);
    }
}

impl Air<BusSymbolicBuilder<F, Challenge>> for ReplayedAir<'_> {
    fn eval(&self, builder: &mut BusSymbolicBuilder<F, Challenge>) {
        self.record.replay(builder);
    }
}

impl<'f> Air<MultilinearFolder<'f, F, Challenge, Challenge>> for ReplayedAir<'_> {
    fn eval(&self, builder: &mut MultilinearFolder<'f, F, Challenge, Challenge>) {
        self.air.eval(builder);
    }
}

impl<'f> Air<InteractionMultilinearFolder<'f, F, Challenge, Challenge>> for ReplayedAir<'_> {
    fn eval(&self, builder: &mut InteractionMultilinearFolder<'f, F, Challenge, Challenge>) {
        self.air.eval(builder);
    }
}

#[cfg(test)]
mod tests {
    //! A replay against the AIR's own symbolic evaluation, on every AIR of a real parent's
    //! batch (the verifier AIRs, the key-set AIR and the permutation table).

    use std::collections::HashSet;

    use p3_air::symbolic::{BaseLeaf, SymbolicExpr};

    use super::*;
    use crate::aggregate::preset::Preset;
    use crate::aggregate::recursion::check_child_preset;
    use crate::aggregate::recursion::parent::{multilinear_airs, parent_batch};
    use crate::aggregate::{Backend, ProveOptions};

    /// Whether `a` and `b` are the same expression: the same node kinds, degrees, variables,
    /// selectors and constants, pair by pair (pairs already found equal are not walked again).
    fn same(
        a: &SymbolicExpression<F>,
        b: &SymbolicExpression<F>,
        memo: &mut HashSet<(usize, usize)>,
    ) -> bool {
        let key = (
            a as *const SymbolicExpression<F> as usize,
            b as *const SymbolicExpression<F> as usize,
        );
        if memo.contains(&key) {
            return true;
        }
        let equal = match (a, b) {
            (SymbolicExpr::Leaf(x), SymbolicExpr::Leaf(y)) => match (x, y) {
                (BaseLeaf::Variable(u), BaseLeaf::Variable(v)) => {
                    (u.entry, u.index) == (v.entry, v.index)
                }
                (BaseLeaf::Constant(u), BaseLeaf::Constant(v)) => u == v,
                (BaseLeaf::IsFirstRow, BaseLeaf::IsFirstRow)
                | (BaseLeaf::IsLastRow, BaseLeaf::IsLastRow)
                | (BaseLeaf::IsTransition, BaseLeaf::IsTransition) => true,
                _ => false,
            },
            (
                SymbolicExpr::Neg {
                    x,
                    degree_multiple: d,
                },
                SymbolicExpr::Neg {
                    x: y,
                    degree_multiple: e,
                },
            ) => d == e && same(x, y, memo),
            (
                SymbolicExpr::Add {
                    x,
                    y,
                    degree_multiple: d,
                },
                SymbolicExpr::Add {
                    x: u,
                    y: v,
                    degree_multiple: e,
                },
            )
            | (
                SymbolicExpr::Sub {
                    x,
                    y,
                    degree_multiple: d,
                },
                SymbolicExpr::Sub {
                    x: u,
                    y: v,
                    degree_multiple: e,
                },
            )
            | (
                SymbolicExpr::Mul {
                    x,
                    y,
                    degree_multiple: d,
                },
                SymbolicExpr::Mul {
                    x: u,
                    y: v,
                    degree_multiple: e,
                },
            ) => d == e && same(x, u, memo) && same(y, v, memo),
            _ => false,
        };
        if equal {
            memo.insert(key);
        }
        equal
    }

    fn all_same(
        a: &[SymbolicExpression<F>],
        b: &[SymbolicExpression<F>],
        memo: &mut HashSet<(usize, usize)>,
    ) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y, memo))
    }

    /// Everything an `InteractionSymbolicBuilder` holds after a pass, compared between the
    /// AIR's own pass and the replay; `what` names the AIR in a failure.
    fn interaction_passes_agree(
        real: &InteractionSymbolicBuilder<F, Challenge>,
        replay: &InteractionSymbolicBuilder<F, Challenge>,
        what: &str,
    ) {
        let mut memo = HashSet::new();
        let (rb, pb) = (real.base_constraints(), replay.base_constraints());
        assert!(all_same(&rb, &pb, &mut memo), "{what}: base constraints");
        assert!(real.extension_constraints().is_empty(), "{what}");
        assert!(replay.extension_constraints().is_empty(), "{what}");
        let (rl, pl) = (real.constraint_layout(), replay.constraint_layout());
        assert_eq!(rl.base_indices, pl.base_indices, "{what}");
        assert_eq!(rl.ext_indices, pl.ext_indices, "{what}");
        let (rg, pg) = (real.global_interactions(), replay.global_interactions());
        assert_eq!(rg.len(), pg.len(), "{what}: global interactions");
        for (r, p) in rg.iter().zip(pg) {
            assert_eq!(r.bus_name, p.bus_name, "{what}");
            assert_eq!(r.count_weight, p.count_weight, "{what}");
            assert!(all_same(&r.fields, &p.fields, &mut memo), "{what}: fields");
            assert!(same(&r.count, &p.count, &mut memo), "{what}: count");
        }
        let (rl, pl) = (real.local_interactions(), replay.local_interactions());
        assert_eq!(rl.len(), pl.len(), "{what}: local interactions");
        for (r, p) in rl.iter().zip(pl) {
            assert_eq!(r.tuples.len(), p.tuples.len(), "{what}");
            for ((rf, rc), (pf, pc)) in r.tuples.iter().zip(&p.tuples) {
                assert!(all_same(rf, pf, &mut memo), "{what}: local fields");
                let ((rc, rw), (pc, pw)) = (rc.clone().into_parts(), pc.clone().into_parts());
                assert_eq!(rw, pw, "{what}");
                assert!(same(&rc, &pc, &mut memo), "{what}: local count");
            }
        }
        let (rx, px) = (
            real.exclusive_interactions(),
            replay.exclusive_interactions(),
        );
        assert_eq!(rx.len(), px.len(), "{what}: exclusive interactions");
        for (r, p) in rx.iter().zip(px) {
            assert_eq!(r.bus_name, p.bus_name, "{what}");
            assert_eq!(r.branches.len(), p.branches.len(), "{what}");
            for (r, p) in r.branches.iter().zip(&p.branches) {
                assert_eq!(r.count_weight, p.count_weight, "{what}");
                assert!(same(&r.flag, &p.flag, &mut memo), "{what}: flag");
                assert!(same(&r.count, &p.count, &mut memo), "{what}: count");
                assert!(all_same(&r.fields, &p.fields, &mut memo), "{what}: fields");
            }
        }
        assert!(real.indexed_reads().is_empty() && replay.indexed_reads().is_empty());
        assert!(real.indexed_tables().is_empty() && replay.indexed_tables().is_empty());
    }

    #[test]
    fn replay_reproduces_every_symbolic_pass() {
        let opts = ProveOptions {
            backend: Backend::FriPoseidon1,
            ..Default::default()
        };
        let preset = *check_child_preset(&Preset::from_options(&opts).unwrap()).unwrap();
        // Two sizes of child: two groups of verifier AIRs, then the key-set AIR and the table.
        let (airs, _, _) = parent_batch(&preset, &[2, 3], 4).expect("a parent's batch");
        let wrapped = multilinear_airs(&airs);
        // The table's pieces share the last AIR's record.
        let records = instance_records(&wrapped, wrapped.len());
        let views = replayed(&wrapped, &records);
        let mut interactions = 0;
        for (w, v) in wrapped.iter().zip(&views) {
            let what = w.air.name();
            let layout = AirLayout::from_air(w);
            let real = InteractionSymbolicBuilder::<F, Challenge>::from_air(w, layout);
            let replay = InteractionSymbolicBuilder::<F, Challenge>::from_air(v, layout);
            interaction_passes_agree(&real, &replay, what);
            interactions += real.global_interactions().len()
                + real.local_interactions().len()
                + real.exclusive_interactions().len();
            assert!(
                !real.base_constraints().is_empty(),
                "{what} has constraints"
            );

            let real = BusSymbolicBuilder::<F, Challenge>::from_air(w, layout);
            let replay = BusSymbolicBuilder::<F, Challenge>::from_air(v, layout);
            let mut memo = HashSet::new();
            assert!(
                all_same(
                    &real.base_constraints(),
                    &replay.base_constraints(),
                    &mut memo
                ),
                "{what}: the bus pass's constraints"
            );
            assert!(real.interactions().is_empty() && replay.interactions().is_empty());
            assert_eq!(BaseAir::<F>::width(v), BaseAir::<F>::width(w));
            assert_eq!(
                BaseAir::<F>::main_next_row_columns(v),
                BaseAir::<F>::main_next_row_columns(w)
            );
        }
        assert!(interactions > wrapped.len(), "the batch talks on its buses");

        // A record is the AIR's: another AIR's record replays other constraints.
        let (a, b) = (&wrapped[0], &wrapped[wrapped.len() - 1]);
        let other = replayed(
            std::slice::from_ref(a),
            std::slice::from_ref(&records[records.len() - 1]),
        );
        let layout = AirLayout::from_air(a);
        let real = InteractionSymbolicBuilder::<F, Challenge>::from_air(a, layout);
        let wrong = InteractionSymbolicBuilder::<F, Challenge>::from_air(&other[0], layout);
        let mut memo = HashSet::new();
        assert!(
            !all_same(
                &real.base_constraints(),
                &wrong.base_constraints(),
                &mut memo
            ),
            "{} against {}",
            a.air.name(),
            b.air.name()
        );
    }
}
