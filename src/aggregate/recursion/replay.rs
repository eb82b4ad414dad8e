//! The multilinear STARK verifier's symbolic passes, made once per verifier key and replayed.
//!
//! `p3_multi_stark::verify` evaluates every AIR of the batch symbolically three times per proof
//! before it reads a single proof value: its indexed-lookup plan and its LogUp plan each with
//! `p3_lookup::InteractionSymbolicBuilder`, its binary-bus context with
//! `p3_bus::BusSymbolicBuilder`. The passes depend on the AIR alone, never on the proof, yet for
//! the verifier AIRs (the permutation table's Poseidon1 rounds above all) they were about half
//! of a warm Type-2 verification (src/aggregate/recursion/README.md, "Type-2", measured).
//!
//! [`SymbolicRecord`] keeps one pass's output, made once per distinct AIR when its
//! [`MultilinearAir`] is made (so also in a verifier's cached key), and [`ReplayedAir`] is the
//! view of an AIR that p3-multi-stark's setup, security report and verifier receive: under the
//! two symbolic builders it replays the record, under the two folders that evaluate the AIR at
//! the proof's point it runs the AIR itself. The same record gives the AIR's next-row columns
//! ([`SymbolicRecord::next_row_columns`]). A shape's derivation thus evaluates each distinct AIR
//! once instead of about six times per instance.
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
//!
//! Stand-ins. Under `InteractionSymbolicBuilder` the replay gives each base constraint's
//! stand-in ([`stand_in`]) instead of the constraint: an expression of the same degree
//! (`poly_degree(2, &[])`, the measure p3-multi-stark takes) that reads the same next-row
//! columns, a few nodes where the permutation table's constraints are about 130 each. In
//! p3-multi-stark 0.8 that pass reads base constraints in three places only, all in setup and
//! the security report, never in proving or verifying a proof: the AIR's profile
//! (`zerocheck::get_air_profile`: how many constraints, the largest degree, and that every
//! next-row column read is declared), and the report's constraint count and largest degree
//! (`security::assess_statement`). Those are the same numbers for the stand-ins, so the keys
//! and the report are those of the constraints themselves (tested: the report, bit for bit,
//! and per AIR each number the profile takes). The constraints a proof is checked against
//! are the AIR's own: the verifier evaluates them at its point through
//! `MultilinearFolder` and `InteractionMultilinearFolder`, under which the AIR itself runs,
//! and the interactions (bus messages) are replayed as recorded under both builders. Every
//! walk of those passes visits each node of each constraint again per instance (the
//! successor check, the degree twice), so a shape's setup and report took about 30 ms for a
//! Type-2 of nine components, most of it in the table's constraints (src/aggregate/recursion/
//! README.md, "Stand-in constraints", measured).

use p3_air::symbolic::{AirLayout, SymbolicExpr, SymbolicExpression, SymbolicExpressionExt};
use p3_air::{Air, AirBuilder, BaseAir, ExtensionBuilder};
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
/// call order per kind: base constraints (`assert_zero`), extension constraints (none for the
/// verifier AIRs, whose builders' bound has no `ExtensionBuilder`), global, local and exclusive
/// interactions. Made by [`SymbolicRecord::of`]; shared by every instance of the same AIR.
#[derive(Default)]
pub(super) struct SymbolicRecord {
    base: Vec<SymbolicExpression<F>>,
    extension: Vec<SymbolicExpressionExt<F, Challenge>>,
    global: Vec<SymbolicInteraction<F>>,
    local: Vec<SymbolicLocalInteraction<F>>,
    exclusive: Vec<Exclusive>,
    /// One stand-in per base constraint, in order ([`stand_in`]): what the
    /// `InteractionSymbolicBuilder` pass receives instead of `base` (module docs, "Stand-ins").
    stand_ins: Vec<SymbolicExpression<F>>,
}

/// One exclusive interaction as recorded: its bus and its branches (p3-lookup does not export
/// its own record's type).
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
    pub(super) fn of<A>(air: &A) -> Self
    where
        A: BaseAir<F> + Air<InteractionSymbolicBuilder<F, Challenge>>,
    {
        let b = InteractionSymbolicBuilder::<F, Challenge>::from_air(air, AirLayout::from_air(air));
        let base = b.base_constraints();
        Self {
            stand_ins: base.iter().map(stand_in).collect(),
            base,
            extension: b.extension_constraints(),
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

    /// The base constraints, in the order the AIR asserts them.
    #[cfg_attr(not(test), allow(dead_code))] // read by the closing program, tested until a parent uses it
    pub(super) fn base(&self) -> &[SymbolicExpression<F>] {
        &self.base
    }

    /// The global interactions (bus messages), in the order the AIR sends them.
    #[cfg_attr(not(test), allow(dead_code))] // read by the closing program, tested until a parent uses it
    pub(super) fn global(&self) -> &[SymbolicInteraction<F>] {
        &self.global
    }

    /// Whether the AIR emitted anything but base constraints and global interactions
    /// (extension constraints, local or exclusive interactions).
    #[cfg_attr(not(test), allow(dead_code))] // read by the closing program, tested until a parent uses it
    pub(super) fn has_other_kinds(&self) -> bool {
        !self.extension.is_empty() || !self.local.is_empty() || !self.exclusive.is_empty()
    }

    /// The main-trace columns whose next-row values the recorded constraints or bus messages
    /// (fields and counts) read, ascending; every expression's leaves visited once (shared
    /// subexpressions by address).
    pub(super) fn next_row_columns(&self) -> Vec<usize> {
        use p3_air::symbolic::ExtLeaf;
        // Every root is held (by the record, or here) until the walk ends: the walk keys on
        // addresses.
        let local_counts: Vec<SymbolicExpression<F>> = self
            .local
            .iter()
            .flat_map(|i| i.tuples.iter())
            .map(|(_, count)| count.clone().into_parts().0)
            .collect();
        let mut roots: Vec<&SymbolicExpression<F>> = self.base.iter().collect();
        roots.extend(&local_counts);
        for i in &self.global {
            roots.extend(i.fields.iter().chain(std::iter::once(&i.count)));
        }
        for i in &self.local {
            for (fields, _) in &i.tuples {
                roots.extend(fields);
            }
        }
        for i in &self.exclusive {
            for (flag, count, _, fields) in &i.branches {
                roots.extend(fields.iter().chain([flag, count]));
            }
        }
        let extension: Vec<&SymbolicExpressionExt<F, Challenge>> = self.extension.iter().collect();
        for node in distinct_nodes(&extension) {
            if let SymbolicExpr::Leaf(ExtLeaf::Base(b)) = node {
                roots.push(b);
            }
        }
        next_row_reads(&roots)
    }

    /// Calls `builder`'s changing methods with the recorded arguments, kind by kind in the
    /// recorded order (expressions are shared, not copied); extension constraints after the
    /// base ones (the verifier AIRs emit none). The base constraints are the recorded ones, or
    /// with `stand_ins` their stand-ins ([`stand_in`]).
    fn replay<B>(&self, builder: &mut B, stand_ins: bool)
    where
        B: InteractionBuilder
            + AirBuilder<F = F, Expr = SymbolicExpression<F>>
            + ExtensionBuilder<ExprEF = SymbolicExpressionExt<F, Challenge>>,
    {
        let base = if stand_ins {
            &self.stand_ins
        } else {
            &self.base
        };
        for c in base {
            builder.assert_zero(c.clone());
        }
        for c in &self.extension {
            builder.assert_zero_ext(c.clone());
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

/// The verifier's view of one instance: [`MultilinearAir`] with its [`SymbolicRecord`]
/// replayed under the symbolic builders (see the module docs) and the AIR itself evaluated
/// under the folders. Every `BaseAir` method the wrapped AIR answers is forwarded.
pub(super) struct ReplayedAir<'a> {
    air: &'a MultilinearAir<'a>,
    /// The recorded constraints under `InteractionSymbolicBuilder` too, not their stand-ins:
    /// for the tests that compare the two.
    exact: bool,
}

/// The [`ReplayedAir`] of each of `airs`.
pub(super) fn replayed<'a>(airs: &'a [MultilinearAir<'a>]) -> Vec<ReplayedAir<'a>> {
    airs.iter()
        .map(|air| ReplayedAir { air, exact: false })
        .collect()
}

/// [`replayed`] with the recorded constraints in every symbolic pass (no stand-ins).
#[cfg(test)]
pub(super) fn replayed_exact<'a>(airs: &'a [MultilinearAir<'a>]) -> Vec<ReplayedAir<'a>> {
    airs.iter()
        .map(|air| ReplayedAir { air, exact: true })
        .collect()
}

/// The distinct nodes of the expressions `roots` (a subexpression shared by address once), in
/// depth-first order. Every root must outlive the call: the walk keys on addresses.
pub(crate) fn distinct_nodes<'a, L>(roots: &[&'a SymbolicExpr<L>]) -> Vec<&'a SymbolicExpr<L>> {
    use std::collections::HashSet;
    let mut stack = roots.to_vec();
    let mut seen = HashSet::new();
    let mut nodes = Vec::new();
    while let Some(e) = stack.pop() {
        if !seen.insert(e as *const SymbolicExpr<L> as usize) {
            continue;
        }
        nodes.push(e);
        match e {
            SymbolicExpr::Leaf(_) => {}
            SymbolicExpr::Add { x, y, .. }
            | SymbolicExpr::Sub { x, y, .. }
            | SymbolicExpr::Mul { x, y, .. } => {
                stack.push(x);
                stack.push(y);
            }
            SymbolicExpr::Neg { x, .. } => stack.push(x),
        }
    }
    nodes
}

/// The main-trace columns the expressions `roots` read on the next row, ascending.
fn next_row_reads(roots: &[&SymbolicExpression<F>]) -> Vec<usize> {
    use p3_air::symbolic::{BaseEntry, BaseLeaf};
    let next: std::collections::BTreeSet<usize> = distinct_nodes(roots)
        .into_iter()
        .filter_map(|n| match n {
            SymbolicExpr::Leaf(BaseLeaf::Variable(v))
                if v.entry == (BaseEntry::Main { offset: 1 }) =>
            {
                Some(v.index)
            }
            _ => None,
        })
        .collect();
    next.into_iter().collect()
}

/// The stand-in of the base constraint `c` (module docs, "Stand-ins"): with `d` its degree as
/// p3-multi-stark measures it (`poly_degree(2, &[])`) and `S` the main-trace columns it reads
/// on the next row, the product of `d` factors, the first the sum of `S`'s next-row variables
/// (column 0 of the current row when `S` is empty) and the others column 0 of the current row.
/// So it has degree `d` and reads exactly `S` on the next row. A constraint of degree 0 stands
/// for itself.
fn stand_in(c: &SymbolicExpression<F>) -> SymbolicExpression<F> {
    use p3_air::symbolic::{BaseEntry, SymbolicVariable};
    let degree = c.poly_degree(2, &[]);
    if degree == 0 {
        return c.clone();
    }
    let var = |offset: usize, index: usize| -> SymbolicExpression<F> {
        SymbolicVariable::<F>::new(BaseEntry::Main { offset }, index).into()
    };
    let reads = next_row_reads(&[c]);
    let mut e = match reads.split_first() {
        Some((&first, rest)) => rest
            .iter()
            .fold(var(1, first), |sum, &col| sum + var(1, col)),
        None => var(0, 0),
    };
    for _ in 1..degree {
        e *= var(0, 0);
    }
    e
}

/// `forward_base_air`'s dispatch for a [`ReplayedAir`]: the wrapped AIR.
macro_rules! wrapped {
    ($s:ident, $a:ident => $e:expr) => {{
        let $a = $s.air;
        $e
    }};
}

impl BaseAir<F> for ReplayedAir<'_> {
    crate::aggregate::air::forward_base_air!(wrapped);
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
        self.air.record().replay(builder, !self.exact);
    }
}

impl Air<BusSymbolicBuilder<F, Challenge>> for ReplayedAir<'_> {
    fn eval(&self, builder: &mut BusSymbolicBuilder<F, Challenge>) {
        self.air.record().replay(builder, false);
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
pub(super) mod tests {
    //! A replay against the AIR's own symbolic evaluation, on every AIR of a real parent's
    //! batch (the verifier AIRs, the key-set AIR and the permutation table).

    use std::collections::HashSet;
    use std::sync::Arc;

    use p3_air::symbolic::{BaseLeaf, SymbolicExpr};

    use super::*;
    use crate::aggregate::preset::Preset;
    use crate::aggregate::recursion::check_child_preset;
    use crate::aggregate::recursion::parent::{
        multilinear_airs_with, multilinear_instances, parent_batch,
    };
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

    pub(crate) fn all_same(
        a: &[SymbolicExpression<F>],
        b: &[SymbolicExpression<F>],
        memo: &mut HashSet<(usize, usize)>,
    ) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y, memo))
    }

    /// Whether `stand_ins` stand for `constraints` ([`stand_in`]): as many, each of the same
    /// degree as p3-multi-stark measures it and reading the same next-row columns.
    pub(crate) fn stand_for(
        constraints: &[SymbolicExpression<F>],
        stand_ins: &[SymbolicExpression<F>],
    ) -> bool {
        constraints.len() == stand_ins.len()
            && constraints.iter().zip(stand_ins).all(|(c, s)| {
                c.poly_degree(2, &[]) == s.poly_degree(2, &[])
                    && next_row_reads(&[c]) == next_row_reads(&[s])
            })
    }

    /// Everything an `InteractionSymbolicBuilder` holds after a pass, compared between the
    /// AIR's own pass and the replay (its base constraints the stand-ins of the AIR's,
    /// [`stand_for`]; everything else the same); `what` names the AIR in a failure.
    pub(crate) fn interaction_passes_agree(
        real: &InteractionSymbolicBuilder<F, Challenge>,
        replay: &InteractionSymbolicBuilder<F, Challenge>,
        what: &str,
    ) {
        let mut memo = HashSet::new();
        let (rb, pb) = (real.base_constraints(), replay.base_constraints());
        assert!(stand_for(&rb, &pb), "{what}: base constraints");
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

    /// A verifier's kept key used for another statement, against the batch derived for that
    /// statement: `kept` is the key's batch with the statement's own AIRs in some places and the
    /// key's records, `fresh` the statement's own batch, `first` the key's AIRs (as derived for
    /// its first statement). Instance by instance, the widths, next-row columns, public values
    /// and periodic columns are equal, and the kept records replay exactly what the fresh AIRs
    /// emit under both symbolic builders (constraints and bus messages, expression by
    /// expression). Returns how many instances' periodic columns differ from `first`'s: each
    /// of them an observation AIR.
    pub(crate) fn kept_key_replays_the_statements_batch(
        fresh: &[MultilinearAir<'_>],
        kept: &[MultilinearAir<'_>],
        first: &[crate::aggregate::recursion::parent::VerifierAir],
    ) -> usize {
        use crate::aggregate::recursion::parent::VerifierAir;
        use p3_air::symbolic::AirLayout;
        use p3_air::BaseAir;
        use p3_bus::BusSymbolicBuilder;
        assert_eq!(fresh.len(), kept.len());
        let views = replayed(kept);
        let mut replaced = 0;
        for ((f, k), (v, first)) in fresh.iter().zip(kept).zip(views.iter().zip(first)) {
            let what = f.air.name();
            assert_eq!(BaseAir::<F>::width(f), BaseAir::<F>::width(k), "{what}");
            assert_eq!(f.next_columns(), k.next_columns(), "{what}");
            assert_eq!(f.air.public_values(), k.air.public_values(), "{what}");
            let periodic = BaseAir::<F>::periodic_columns(k);
            assert_eq!(BaseAir::<F>::periodic_columns(f), periodic, "{what}");
            if BaseAir::<F>::periodic_columns(first) != periodic {
                assert!(matches!(first, VerifierAir::Observed(_)), "{what} changed");
                replaced += 1;
            }
            // The statement's AIR evaluated, against the kept record replayed.
            let layout = AirLayout::from_air(f);
            let real = InteractionSymbolicBuilder::<F, Challenge>::from_air(f, layout);
            let replay = InteractionSymbolicBuilder::<F, Challenge>::from_air(v, layout);
            interaction_passes_agree(&real, &replay, what);
            let real = BusSymbolicBuilder::<F, Challenge>::from_air(f, layout);
            let replay = BusSymbolicBuilder::<F, Challenge>::from_air(v, layout);
            let mut memo = HashSet::new();
            assert!(
                all_same(
                    &real.base_constraints(),
                    &replay.base_constraints(),
                    &mut memo
                ),
                "{what}: the bus pass"
            );
        }
        replaced
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
        // The table in three pieces, as a split shared table is (one record for the three).
        let wrapped = multilinear_instances(&airs, airs.len() + 2);
        let n = wrapped.len();
        assert!(Arc::ptr_eq(
            wrapped[n - 1].record(),
            wrapped[n - 3].record()
        ));
        let views = replayed(&wrapped);
        let exact = replayed_exact(&wrapped);
        let mut interactions = 0;
        let (mut nodes, mut stand_in_nodes) = (0, 0);
        for ((w, v), x) in wrapped.iter().zip(&views).zip(&exact) {
            let what = w.air.name();
            let layout = AirLayout::from_air(w);
            let real = InteractionSymbolicBuilder::<F, Challenge>::from_air(w, layout);
            let replay = InteractionSymbolicBuilder::<F, Challenge>::from_air(v, layout);
            interaction_passes_agree(&real, &replay, what);
            nodes += node_count(&real.base_constraints());
            stand_in_nodes += node_count(&replay.base_constraints());
            // Without stand-ins the replay is the AIR's own pass, expression by expression.
            let replay = InteractionSymbolicBuilder::<F, Challenge>::from_air(x, layout);
            let same_constraints = |a: &[SymbolicExpression<F>], b: &[SymbolicExpression<F>]| {
                all_same(a, b, &mut HashSet::new())
            };
            assert!(
                same_constraints(&real.base_constraints(), &replay.base_constraints()),
                "{what}: the exact replay"
            );
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
            assert!(
                same_constraints(&real.base_constraints(), &replay.base_constraints()),
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
        assert!(
            stand_in_nodes * 4 < nodes,
            "the stand-ins are {stand_in_nodes} nodes, the constraints {nodes}"
        );

        // A record is the AIR's: another AIR's record replays other constraints.
        let (a, b) = (&wrapped[0], &wrapped[wrapped.len() - 1]);
        let misfiled = multilinear_airs_with(
            &airs[..1],
            &[a.next_columns().to_vec()],
            &[b.record().clone()],
        );
        let other = replayed(&misfiled);
        let layout = AirLayout::from_air(a);
        let real = InteractionSymbolicBuilder::<F, Challenge>::from_air(a, layout);
        let wrong = InteractionSymbolicBuilder::<F, Challenge>::from_air(&other[0], layout);
        assert!(
            !stand_for(&real.base_constraints(), &wrong.base_constraints()),
            "{} against {}",
            a.air.name(),
            b.air.name()
        );
    }

    /// Nodes of `roots`, each visited once (shared subexpressions by address).
    fn node_count(roots: &[SymbolicExpression<F>]) -> usize {
        crate::aggregate::testing::distinct_nodes(&roots.iter().collect::<Vec<_>>())
    }

    /// A stand-in has its constraint's degree and next-row columns, whatever the constraint's
    /// form: a transition constraint over both rows, a product of current-row columns, one
    /// under a selector, a constant multiple.
    #[test]
    fn a_stand_in_has_its_constraints_degree_and_next_row_columns() {
        use p3_air::symbolic::{BaseEntry, SymbolicVariable};
        let var = |offset: usize, index: usize| -> SymbolicExpression<F> {
            SymbolicVariable::<F>::new(BaseEntry::Main { offset }, index).into()
        };
        let first: SymbolicExpression<F> = SymbolicExpression::Leaf(BaseLeaf::IsFirstRow);
        let cases = [
            (var(1, 3) - var(0, 2) * var(0, 5), 2, vec![3]),
            (var(0, 1) * var(0, 1) * var(0, 1) - var(0, 4), 3, vec![]),
            (first * (var(0, 7) - var(1, 2) - var(1, 9)), 2, vec![2, 9]),
            (var(0, 6) * F::new(5), 1, vec![]),
        ];
        for (c, degree, next) in cases {
            let s = stand_in(&c);
            assert_eq!(c.poly_degree(2, &[]), degree, "{c:?}");
            assert_eq!(s.poly_degree(2, &[]), degree, "{c:?}");
            assert_eq!(next_row_reads(&[&c]), next, "{c:?}");
            assert_eq!(next_row_reads(&[&s]), next, "{c:?}");
            assert!(stand_for(std::slice::from_ref(&c), &[s]));
        }
        // One more or one fewer factor is not a stand-in.
        let c = var(1, 3) - var(0, 2) * var(0, 5);
        assert!(!stand_for(std::slice::from_ref(&c), &[var(1, 3)]));
        assert!(!stand_for(
            std::slice::from_ref(&c),
            &[var(1, 3) * var(0, 0) * var(0, 0)]
        ));
        assert!(!stand_for(
            std::slice::from_ref(&c),
            &[var(1, 4) * var(0, 0)]
        ));
    }

    /// The keys' setup and the security report take the stand-ins as the constraints: on a
    /// real compact parent's batch (two groups of verifier AIRs, the key-set AIR, the table),
    /// the report made through the stand-ins is the report made through the recorded
    /// constraints, term for term, and p3-multi-stark's setup accepts both.
    #[test]
    fn stand_ins_leave_the_security_report_as_it_is() {
        use crate::aggregate::recursion::parent::{
            compact_parent_preset, multilinear_airs, stacked_variables, VerifierAir,
        };
        use crate::aggregate::whir;
        use p3_multi_stark::{VerifierInstance, VerifierInstances};
        let opts = ProveOptions {
            backend: Backend::FriPoseidon1,
            ..Default::default()
        };
        let preset = *check_child_preset(&Preset::from_options(&opts).unwrap()).unwrap();
        let (airs, _, heights) = parent_batch(&preset, &[2, 3], 4).expect("a parent's batch");
        let wrapped = multilinear_airs(&airs);
        let pvs: Vec<Vec<F>> = airs.iter().map(VerifierAir::public_values).collect();
        let whir = crate::aggregate::preset::whir_presets()
            .find(|w| w.log_inv_rate == 2)
            .expect("a WHIR preset at rate 1/4");
        let params = compact_parent_preset(&whir);
        let widths: Vec<usize> = wrapped.iter().map(BaseAir::<F>::width).collect();
        let config = whir::stark_config(&params, stacked_variables(&params, &heights, &widths))
            .expect("the schedule fits");
        let report = |views: &[ReplayedAir<'_>]| {
            let refs: Vec<&ReplayedAir<'_>> = views.iter().collect();
            let (_, vk) =
                p3_multi_stark::setup(&config, &refs, &mut whir::challenger()).expect("setup");
            let instances = VerifierInstances::new(
                views
                    .iter()
                    .zip(&heights)
                    .zip(&pvs)
                    .map(|((air, &h), pv)| VerifierInstance::new(air, &vk, h, pv))
                    .collect(),
            );
            format!(
                "{:?}",
                p3_multi_stark::security_report(&config, &instances).expect("the report")
            )
        };
        let (stand_ins, exact) = (
            report(&replayed(&wrapped)),
            report(&replayed_exact(&wrapped)),
        );
        assert!(stand_ins.contains("terms"), "{stand_ins}");
        assert_eq!(stand_ins, exact);
    }
}
