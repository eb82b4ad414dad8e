//! The out-of-domain constraint check of a child AIR as an arithmetic program.
//!
//! After the opening proof, Plonky3 0.8's `verify_batch` (`VerifierData::
//! verify_constraints_with_lookups`) evaluates every constraint of each AIR, its LogUp columns'
//! constraints included, at the out-of-domain point `zeta`, from the opened values, folds them
//! with powers of the batching challenge `alpha` in the order the AIR emits them
//! (`acc = acc * alpha + c`) and compares `acc / Z_H(zeta)` with the quotient recomposed from its
//! chunks. A parent that verifies the child in its AIRs must do that arithmetic too.
//!
//! [`Program::constraints`] turns an AIR's symbolic constraints (`p3_batch_stark::symbolic`,
//! the same symbolic pass that sizes the quotient) into a straight-line program over the
//! challenge field: inputs ([`Input`]: opened values, periodic values at `zeta`, selectors,
//! public values, LogUp challenges and terminal), constants, and additions, subtractions and
//! multiplications of earlier nodes. Nodes are hash-consed (an operation on the same operands is
//! one node) and constants folded, so a subexpression the AIR builds many times is computed
//! once. The program depends on the AIR alone, never on the keys or the trace; a child's
//! verifier takes it from [`OodTemplate`], the signature batch's AIRs with the statement's
//! message and epoch (the signature AIR's constraint constants, the epoch's periodic entries and
//! the tweak table) taken out as parameters ([`Input::Param`]), so that one program serves every
//! statement of a shape.
//!
//! [`Program::outputs`] runs it natively; it equals Plonky3's verifier folder on the
//! same inputs (tested on every AIR of a real statement).

use foldhash::HashMap;

use p3_air::symbolic::{
    AirLayout, BaseEntry, BaseLeaf, ExtEntry, ExtLeaf, SymbolicExpr, SymbolicExpression,
    SymbolicExpressionExt,
};
use p3_air::{Air, BaseAir};
use p3_commit::PolynomialSpace;
use p3_field::coset::TwoAdicMultiplicativeCoset;
use p3_field::{BasedVectorSpace, Field, PrimeCharacteristicRing, TwoAdicField};
use p3_lookup::logup::LogUpGadget;
use p3_lookup::{InteractionSymbolicBuilder, Kind, Lookup, LookupProtocol, Lookups};

use super::ext::D;
use crate::aggregate::air::chain::ChainAir;
use crate::aggregate::air::perm::Perm24TableAir;
use crate::aggregate::air::sig::{SigAir, STATEMENT_CONSTANTS};
use crate::aggregate::air::table::{carry_threshold, TableAir};
use crate::aggregate::air::AggAir;
use crate::aggregate::field::Challenge;
use crate::aggregate::fri::security::AirShape;
use crate::xmss::F;

/// Which of the two opened rows a trace value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Row {
    /// The row at `zeta`.
    Local,
    /// The row at `g * zeta` (`g` the trace domain's generator).
    Next,
}

/// A value a [`Program`] reads. `instance` is the AIR's index in the child's batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Input {
    /// Main trace column `column` opened at `row` (an extension element).
    Main {
        /// Index of the AIR instance in the batch (0 in [`Program::constraints`]).
        instance: usize,
        /// The opened row; [`Row::Next`] only for an AIR whose shape opens it (`main_next`).
        row: Row,
        /// Column index in that instance's main trace (`0..width`).
        column: usize,
    },
    /// Coordinate `coord` of LogUp column `column` opened at `row`: the commitment holds each
    /// extension column as five base columns, each opened as an extension element.
    PermutationCoord {
        /// Index of the AIR instance in the batch (an AIR with lookups).
        instance: usize,
        /// The opened row.
        row: Row,
        /// Index of the LogUp column, `0..lookups + 1` (one per lookup and the accumulator).
        column: usize,
        /// Coordinate `0..D`: the coefficient of the `coord`-th basis element of the extension.
        coord: usize,
    },
    /// Coordinate `coord` of quotient chunk `chunk` opened at `zeta`.
    QuotientChunk {
        /// Index of the AIR instance in the batch.
        instance: usize,
        /// Index of the chunk, `0..num_quotient_chunks` of the instance's shape.
        chunk: usize,
        /// Coordinate `0..D`: the coefficient of the `coord`-th basis element of the extension.
        coord: usize,
    },
    /// Public value `index` (a base element).
    Public {
        /// Index of the AIR instance in the batch.
        instance: usize,
        /// Index in that instance's public values (a template's parameter constants excluded).
        index: usize,
    },
    /// The AIR's LogUp terminal (one extension element per AIR with lookups).
    Terminal {
        /// Index of the AIR instance in the batch (an AIR with lookups).
        instance: usize,
    },
    /// The LogUp challenges `alpha` and `beta` (sampled once for the batch).
    LookupAlpha,
    /// See [`Input::LookupAlpha`].
    LookupBeta,
    /// The constraint-batching challenge `alpha`.
    Alpha,
    /// The out-of-domain point `zeta`.
    Zeta,
    /// Only in [`Program::constraints`]: LogUp column `column` as an extension element.
    Permutation {
        /// Index of the AIR instance (0).
        instance: usize,
        /// The opened row.
        row: Row,
        /// Index of the LogUp column, `0..lookups + 1` (one per lookup and the accumulator).
        column: usize,
    },
    /// In [`Program::constraints`], periodic column `column` at `zeta`; in a multilinear
    /// child's closing check (`closing::program`), its multilinear extension at the
    /// instance's point, a claim the program takes as given (the deferred claims, recursion
    /// README).
    Periodic {
        /// Index of the AIR instance (0).
        instance: usize,
        /// Index of the AIR's periodic column.
        column: usize,
    },
    /// Only in [`Program::constraints`]: LogUp challenge `index` of the AIR.
    Challenge {
        /// Index of the AIR instance (0).
        instance: usize,
        /// Index `0..2 * lookups`, two per lookup (which [`Program::ood_check`] computes as
        /// `(alpha + (b + 1) * beta^w, beta)`, `b` the lookup's bus id).
        index: usize,
    },
    /// Only in [`Program::constraints`]: selector `which` (first row, last row, transition)
    /// at `zeta`.
    Selector {
        /// Index of the AIR instance (0).
        instance: usize,
        /// 0 for the first row, 1 for the last row, 2 for the transition selector.
        which: usize,
    },
    /// Parameter `index` of AIR `instance` (a base element): a value of the statement a
    /// template AIR leaves out ([`ParamSpec`]), which the verifier computes from the message and
    /// the epoch.
    Param {
        /// Index of the template AIR instance in the batch.
        instance: usize,
        /// Index `0..ParamSpec::len`: the statement constants, then the periodic parameters.
        index: usize,
    },
    /// Only in a multilinear child's closing check (`closing::program`): the
    /// zerocheck's `beta`, which weighs the instances.
    ZerocheckBeta,
    /// Only in a closing check: the zerocheck's `eta`, which weighs the bus links.
    Eta,
    /// Only in a closing check: the lookup argument's `theta`.
    Theta,
    /// Only in a closing check: the constraint sumcheck's challenge of round `coord`.
    Point {
        /// The round, `0..rounds`.
        coord: usize,
    },
    /// Only in a closing check: coordinate `coord` of the zerocheck's point `tau` (its free
    /// coordinates, then the fractional GKR's point).
    Tau {
        /// The coordinate, `0..rounds`.
        coord: usize,
    },
    /// Only in a closing check: the constraint sumcheck's final claim.
    FinalClaim,
    /// Only in WHIR's checks (`whir_check::lower`): the extension element at transcript
    /// position `at` (a challenge, a fold's value, an out-of-domain sample or answer, a value
    /// of the final polynomial).
    Transcript {
        /// Its coordinate 0's position.
        at: usize,
    },
    /// Only in WHIR's checks: the domain point `g^index` of the query whose index is the low
    /// bits of the transcript element at `at` (`g` generating the folded domain).
    QueryPoint {
        /// The index's element's position.
        at: usize,
    },
    /// Only in WHIR's checks: query `query` of round `round`'s opened row folded at the
    /// round's challenges (the last round is the final one), a claim the program takes as
    /// given until the query AIRs send it.
    QueryFold {
        /// The round, `0..=rounds`.
        round: usize,
        /// The query, in index order.
        query: usize,
    },
}

/// How a template AIR's statement-dependent values enter its out-of-domain program as
/// parameters ([`Input::Param`]), so that one program serves every message and epoch of a shape
/// ([`OodTemplate`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamSpec {
    /// Parameters `0..constants` are the AIR's last `constants` public values (the template
    /// reads its statement constants there).
    pub constants: usize,
    /// Parameter `constants + k` adds `param * f_k(zeta)` to periodic column
    /// `periodic[k].column` at `zeta`, `f_k` the periodic column of `periodic[k].weights` (one
    /// weight per row of the column's period).
    pub periodic: Vec<PeriodicParam>,
}

/// One periodic parameter of a [`ParamSpec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodicParam {
    /// The periodic column it adds to.
    pub column: usize,
    /// Its weight on each row of the column's period.
    pub weights: Vec<F>,
}

impl ParamSpec {
    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.constants + self.periodic.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One node of a [`Program`]; operands are indices of earlier nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A value the verifier supplies.
    Input(Input),
    /// A constant of the challenge field.
    Constant(Challenge),
    /// `x + y`.
    Add(u32, u32),
    /// `x - y`.
    Sub(u32, u32),
    /// `x * y`.
    Mul(u32, u32),
    /// `1 / x`; the program fails where `x = 0`.
    Inv(u32),
}

/// A straight-line program over the challenge field whose outputs the verifier checks.
#[derive(Clone, Debug)]
pub struct Program {
    /// Nodes in topological order: each operand index is smaller than its node's.
    pub nodes: Vec<Node>,
    /// The output nodes: for [`Program::ood_check`] one per AIR, each zero exactly when that
    /// AIR's constraints at `zeta` agree with its quotient, then the LogUp terminals' sum; for
    /// [`Program::constraints`] the constraints in emission order.
    pub outputs: Vec<u32>,
}

/// The nodes an AIR's symbolic leaves resolve to while its constraints are lowered.
#[derive(Default)]
pub(super) struct Leaves {
    /// Main columns on the current row, then on the next.
    pub(super) main: [Vec<u32>; 2],
    /// LogUp columns on the current row, then on the next.
    pub(super) permutation: [Vec<u32>; 2],
    /// Periodic columns.
    pub(super) periodic: Vec<u32>,
    /// Public values.
    pub(super) public: Vec<u32>,
    /// LogUp challenges.
    pub(super) challenges: Vec<u32>,
    /// LogUp terminals.
    pub(super) terminals: Vec<u32>,
    /// First row, last row, transition.
    pub(super) selectors: [u32; 3],
}

/// Builds a program: the node list, its hash-consing table, the memo of lowered subtrees
/// (keyed by address: Plonky3's trees share subtrees through `Arc`s; cleared per AIR, whose
/// trees are freed after) and the current AIR's leaves.
#[derive(Default)]
pub(super) struct Lowering {
    nodes: Vec<Node>,
    index: HashMap<Node, u32>,
    base_memo: HashMap<usize, u32>,
    ext_memo: HashMap<usize, u32>,
    leaves: Option<Leaves>,
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Neg,
}

fn row_of(offset: usize) -> usize {
    usize::from(offset != 0)
}

impl Lowering {
    fn constant_of(&self, i: u32) -> Option<Challenge> {
        match self.nodes[i as usize] {
            Node::Constant(c) => Some(c),
            _ => None,
        }
    }

    /// The node `node`, added unless the same node exists.
    fn push(&mut self, node: Node) -> u32 {
        if let Some(&i) = self.index.get(&node) {
            return i;
        }
        let i = u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes");
        self.nodes.push(node);
        self.index.insert(node, i);
        i
    }

    pub(super) fn constant(&mut self, c: Challenge) -> u32 {
        self.push(Node::Constant(c))
    }

    fn constant_of_base(&mut self, c: F) -> u32 {
        self.constant(Challenge::from(c))
    }

    pub(super) fn input(&mut self, i: Input) -> u32 {
        self.push(Node::Input(i))
    }

    /// `x op y`, folded when both are constants or one is a neutral element.
    fn op(&mut self, op: Op, x: u32, y: u32) -> u32 {
        let (cx, cy) = (self.constant_of(x), self.constant_of(y));
        match (op, cx, cy) {
            (Op::Add, Some(a), Some(b)) => self.constant(a + b),
            (Op::Sub, Some(a), Some(b)) => self.constant(a - b),
            (Op::Mul, Some(a), Some(b)) => self.constant(a * b),
            (Op::Neg, Some(a), _) => self.constant(-a),
            (Op::Add, Some(z), _) if z == Challenge::ZERO => y,
            (Op::Add | Op::Sub, _, Some(z)) if z == Challenge::ZERO => x,
            (Op::Mul, Some(o), _) if o == Challenge::ONE => y,
            (Op::Mul, _, Some(o)) if o == Challenge::ONE => x,
            (Op::Mul, Some(z), _) | (Op::Mul, _, Some(z)) if z == Challenge::ZERO => {
                self.constant(Challenge::ZERO)
            }
            (Op::Add, _, _) => self.push(Node::Add(x.min(y), x.max(y))),
            (Op::Mul, _, _) => self.push(Node::Mul(x.min(y), x.max(y))),
            (Op::Sub, _, _) => self.push(Node::Sub(x, y)),
            (Op::Neg, _, _) => {
                let zero = self.constant(Challenge::ZERO);
                self.push(Node::Sub(zero, x))
            }
        }
    }

    pub(super) fn add(&mut self, x: u32, y: u32) -> u32 {
        self.op(Op::Add, x, y)
    }

    pub(super) fn sub(&mut self, x: u32, y: u32) -> u32 {
        self.op(Op::Sub, x, y)
    }

    pub(super) fn mul(&mut self, x: u32, y: u32) -> u32 {
        self.op(Op::Mul, x, y)
    }

    /// `eq(a, b) = prod (2 a_i b_i - a_i - b_i + 1)` over nodes (of one length).
    #[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
    pub(super) fn eq(&mut self, a: &[u32], b: &[u32]) -> u32 {
        let one = self.constant(Challenge::ONE);
        let mut acc = one;
        for (&x, &y) in a.iter().zip(b) {
            let xy = self.mul(x, y);
            let twice = self.add(xy, xy);
            let less_x = self.sub(twice, x);
            let less_y = self.sub(less_x, y);
            let factor = self.add(less_y, one);
            acc = self.mul(acc, factor);
        }
        acc
    }

    fn scale(&mut self, x: u32, c: Challenge) -> u32 {
        let c = self.constant(c);
        self.mul(x, c)
    }

    /// `1 / x` (a constant's inverse folded; a zero constant has none: the program would fail).
    fn inv(&mut self, x: u32) -> u32 {
        match self.constant_of(x).and_then(|c| c.try_inverse()) {
            Some(c) => self.constant(c),
            None => self.push(Node::Inv(x)),
        }
    }

    /// `x^e` by square-and-multiply.
    fn pow(&mut self, x: u32, e: u64) -> u32 {
        let mut acc = self.constant(Challenge::ONE);
        for bit in (0..64 - e.leading_zeros()).rev() {
            acc = self.mul(acc, acc);
            if e >> bit & 1 == 1 {
                acc = self.mul(acc, x);
            }
        }
        acc
    }

    /// `sum_k coords[k] * X^k`: an extension element from the five opened values of its
    /// base-flattened columns (Plonky3's `from_ext_basis_coefficients`).
    fn recompose(&mut self, coords: impl Fn(usize) -> Input) -> u32 {
        let mut acc = self.constant(Challenge::ZERO);
        for k in 0..D {
            let basis = <Challenge as BasedVectorSpace<F>>::ith_basis_element(k).expect("k < 5");
            let c = self.input(coords(k));
            let term = self.scale(c, basis);
            acc = self.add(acc, term);
        }
        acc
    }

    /// Lowers `root` bottom-up without recursion (Plonky3's trees can be thousands deep).
    fn walk<A>(
        &mut self,
        root: &SymbolicExpr<A>,
        memo: fn(&mut Self) -> &mut HashMap<usize, u32>,
        leaf: fn(&mut Self, &A) -> u32,
    ) -> u32 {
        let mut stack: Vec<(&SymbolicExpr<A>, bool)> = vec![(root, false)];
        let mut done: Vec<u32> = Vec::new();
        while let Some((e, expanded)) = stack.pop() {
            let key = e as *const SymbolicExpr<A> as usize;
            if !expanded {
                if let Some(&i) = memo(self).get(&key) {
                    done.push(i);
                    continue;
                }
            }
            let i = match e {
                SymbolicExpr::Leaf(a) => leaf(self, a),
                SymbolicExpr::Add { x, y, .. }
                | SymbolicExpr::Sub { x, y, .. }
                | SymbolicExpr::Mul { x, y, .. } => {
                    if !expanded {
                        stack.push((e, true));
                        stack.push((y, false));
                        stack.push((x, false));
                        continue;
                    }
                    let b = done.pop().expect("right operand lowered");
                    let a = done.pop().expect("left operand lowered");
                    let op = match e {
                        SymbolicExpr::Add { .. } => Op::Add,
                        SymbolicExpr::Sub { .. } => Op::Sub,
                        _ => Op::Mul,
                    };
                    self.op(op, a, b)
                }
                SymbolicExpr::Neg { x, .. } => {
                    if !expanded {
                        stack.push((e, true));
                        stack.push((x, false));
                        continue;
                    }
                    let a = done.pop().expect("operand lowered");
                    self.op(Op::Neg, a, a)
                }
            };
            memo(self).insert(key, i);
            done.push(i);
        }
        done.pop().expect("the root lowered")
    }

    /// Sets the leaves later lowerings resolve to (`None` when done with an AIR), forgetting
    /// the memo of lowered subtrees, which is keyed by address.
    pub(super) fn set_leaves(&mut self, leaves: Option<Leaves>) {
        self.base_memo.clear();
        self.ext_memo.clear();
        self.leaves = leaves;
    }

    /// The program of the nodes lowered so far, with `outputs`.
    #[cfg_attr(not(test), allow(dead_code))] // read by the closing program, tested until a parent uses it
    pub(super) fn into_program(self, outputs: Vec<u32>) -> Program {
        Program {
            nodes: self.nodes,
            outputs,
        }
    }

    fn leaves(&self) -> &Leaves {
        self.leaves.as_ref().expect("leaves set before lowering")
    }

    pub(super) fn base(&mut self, e: &SymbolicExpression<F>) -> u32 {
        self.walk(
            e,
            |l| &mut l.base_memo,
            |l, leaf| match leaf {
                BaseLeaf::Variable(v) => match v.entry {
                    BaseEntry::Main { offset } => l.leaves().main[row_of(offset)][v.index],
                    BaseEntry::Periodic => l.leaves().periodic[v.index],
                    BaseEntry::Public => l.leaves().public[v.index],
                    BaseEntry::Preprocessed { .. } => {
                        unreachable!("no AIR of ours has preprocessed columns")
                    }
                },
                BaseLeaf::IsFirstRow => l.leaves().selectors[0],
                BaseLeaf::IsLastRow => l.leaves().selectors[1],
                BaseLeaf::IsTransition => l.leaves().selectors[2],
                BaseLeaf::Constant(c) => l.constant(Challenge::from(*c)),
            },
        )
    }

    fn ext(&mut self, e: &SymbolicExpressionExt<F, Challenge>) -> u32 {
        self.walk(
            e,
            |l| &mut l.ext_memo,
            |l, leaf| match leaf {
                ExtLeaf::Base(b) => l.base(b),
                ExtLeaf::ExtVariable(v) => match v.entry {
                    ExtEntry::Permutation { offset } => {
                        l.leaves().permutation[row_of(offset)][v.index]
                    }
                    ExtEntry::Challenge => l.leaves().challenges[v.index],
                    ExtEntry::PermutationValue => l.leaves().terminals[v.index],
                },
                ExtLeaf::ExtConstant(c) => l.constant(*c),
            },
        )
    }

    /// The nodes of `air`'s constraints and its LogUp columns' for `lookups`, in the order
    /// Plonky3's verifier folds them, its leaves resolved to `leaves`.
    fn constraints<A>(&mut self, air: &A, lookups: &[Lookup<F>], leaves: Leaves) -> Vec<u32>
    where
        A: BaseAir<F> + Air<InteractionSymbolicBuilder<F, Challenge>>,
    {
        // One symbolic pass gives the constraints and their emission order (global indices):
        // the builder `p3_batch_stark::symbolic::get_symbolic_constraints` makes (Plonky3 0.8),
        // an accumulator column plus one per lookup and one terminal when there are lookups.
        let gadget = LogUpGadget::new();
        let layout = AirLayout::from_air(air);
        layout.validate_against_air(air);
        let (permutation_width, num_permutation_values) = if lookups.is_empty() {
            (0, 0)
        } else {
            (lookups.len() + 1, 1)
        };
        let mut builder = InteractionSymbolicBuilder::<F, Challenge>::new(AirLayout {
            permutation_width,
            num_permutation_challenges: lookups.len() * gadget.num_challenges(),
            num_permutation_values,
            ..layout
        });
        gadget.eval_air_and_lookups(air, &mut builder, lookups);
        let (base, ext, order) = (
            builder.base_constraints(),
            builder.extension_constraints(),
            builder.constraint_layout(),
        );
        self.set_leaves(Some(leaves));
        let mut out = vec![0u32; order.total_constraints()];
        for (e, &at) in base.iter().zip(&order.base_indices) {
            out[at] = self.base(e);
        }
        for (e, &at) in ext.iter().zip(&order.ext_indices) {
            out[at] = self.ext(e);
        }
        self.set_leaves(None);
        out
    }
}

/// Global bus ids of every AIR's lookups and the widest message, as Plonky3 0.8's batch
/// transcript assigns them (`lay_out_lookup_challenges`): a global bus gets one id by name in
/// first-seen order, a local one a fresh id.
fn bus_ids(all_lookups: &[&[Lookup<F>]]) -> (Vec<Vec<usize>>, usize, usize) {
    let mut global: HashMap<&str, usize> = HashMap::default();
    let mut next = 0usize;
    let mut max_width = 1usize;
    let ids = all_lookups
        .iter()
        .map(|lookups| {
            lookups
                .iter()
                .map(|l| {
                    max_width = max_width.max(l.elements.first().map_or(0, Vec::len));
                    match &l.kind {
                        Kind::Global(name) => *global.entry(name.as_str()).or_insert_with(|| {
                            next += 1;
                            next - 1
                        }),
                        Kind::Local => {
                            next += 1;
                            next - 1
                        }
                    }
                })
                .collect()
        })
        .collect();
    (ids, max_width, next)
}

impl Program {
    /// The constraints of `air` and its LogUp columns for `lookups` (the AIR's entry of
    /// `CommonData::lookups`), in the order Plonky3's verifier folds them, over free inputs
    /// ([`Input::Main`], [`Input::Permutation`], [`Input::Periodic`], [`Input::Public`],
    /// [`Input::Challenge`], [`Input::Terminal`], [`Input::Selector`]; instance 0): one output
    /// per constraint.
    pub fn constraints<A>(air: &A, lookups: &[Lookup<F>]) -> Self
    where
        A: BaseAir<F> + Air<InteractionSymbolicBuilder<F, Challenge>>,
    {
        let mut l = Lowering::default();
        let instance = 0;
        let width = air.width();
        let perm_width = if lookups.is_empty() {
            0
        } else {
            lookups.len() + 1
        };
        let mut main = [Vec::new(), Vec::new()];
        let mut permutation = [Vec::new(), Vec::new()];
        for (r, row) in [Row::Local, Row::Next].into_iter().enumerate() {
            main[r] = (0..width)
                .map(|column| {
                    l.input(Input::Main {
                        instance,
                        row,
                        column,
                    })
                })
                .collect();
            permutation[r] = (0..perm_width)
                .map(|column| {
                    l.input(Input::Permutation {
                        instance,
                        row,
                        column,
                    })
                })
                .collect();
        }
        let leaves = Leaves {
            main,
            permutation,
            periodic: (0..air.num_periodic_columns())
                .map(|column| l.input(Input::Periodic { instance, column }))
                .collect(),
            public: (0..air.num_public_values())
                .map(|index| l.input(Input::Public { instance, index }))
                .collect(),
            challenges: (0..lookups.len() * LogUpGadget::new().num_challenges())
                .map(|index| l.input(Input::Challenge { instance, index }))
                .collect(),
            terminals: if lookups.is_empty() {
                Vec::new()
            } else {
                vec![l.input(Input::Terminal { instance })]
            },
            selectors: [0, 1, 2].map(|which| l.input(Input::Selector { instance, which })),
        };
        let outputs = l.constraints(air, lookups, leaves);
        Program {
            nodes: l.nodes,
            outputs,
        }
    }

    /// The out-of-domain check of a child's batch, as `verify_batch` makes it after the
    /// opening proof, for AIRs `airs` with `lookups` (`CommonData::lookups`) and shapes
    /// `shapes` (`ProofShape::instances`; no preprocessed columns, no zero knowledge): one
    /// output per AIR, zero exactly when the AIR's folded constraints over `Z_H(zeta)` equal its
    /// quotient recomposed from its chunks, then the sum of the LogUp terminals, zero exactly
    /// when the buses balance across the batch (`LogUpGadget::verify_terminal_sum`).
    ///
    /// Everything `verify_batch` computes from the transcript's challenges is computed here
    /// from [`Input::Zeta`], [`Input::Alpha`], [`Input::LookupAlpha`] and
    /// [`Input::LookupBeta`]: the selectors `Z_H(zeta) / (zeta - 1)`,
    /// `Z_H(zeta) / (zeta - g^-1)`, `zeta - g^-1` and `1 / Z_H(zeta)` (`Z_H(X) = X^n - 1`);
    /// every periodic column at `zeta` (its interpolant over the `p`-th roots of unity at
    /// `zeta^(n / p)`, in barycentric form); each lookup's challenges `(alpha + (b + 1) *
    /// beta^w, beta)` for its bus id `b` and the widest message `w`; the LogUp columns and the
    /// quotient chunks recomposed from their coordinates; and the quotient
    /// `sum_i Q_i(zeta) prod_(j != i) Z_(D_j)(zeta) / Z_(D_j)(s_i)` over the chunk domains
    /// `D_i = s_i K` of the disjoint quotient domain. An inversion of zero fails the program,
    /// where `verify_batch` rejects `zeta` on the trace domain.
    ///
    /// Follows `p3_batch_stark::verify_batch`, `VerifierData::verify_constraints_with_lookups`
    /// and `p3_uni_stark::recompose_quotient_from_chunks` (Plonky3 0.8).
    pub fn ood_check<A>(airs: &[A], lookups: &[Lookups<F>], shapes: &[AirShape]) -> Self
    where
        A: BaseAir<F> + Air<InteractionSymbolicBuilder<F, Challenge>>,
    {
        Self::ood_check_with(airs, lookups, shapes, &[])
    }

    /// [`Program::ood_check`] of template AIRs: AIR `i`'s statement-dependent values are the
    /// parameters `params[i]` describes (no parameter for an AIR past the end of `params`).
    /// With the parameters a statement gives them, the program computes what
    /// [`Program::ood_check`] of that statement's AIRs computes (`OodTemplate`'s tests).
    ///
    /// # Panics
    /// If a periodic parameter's column is not one of its AIR's, or its weights are not one
    /// per row of that column's period.
    pub fn ood_check_with<A>(
        airs: &[A],
        lookups: &[Lookups<F>],
        shapes: &[AirShape],
        params: &[ParamSpec],
    ) -> Self
    where
        A: BaseAir<F> + Air<InteractionSymbolicBuilder<F, Challenge>>,
    {
        let none = ParamSpec::default();
        let mut l = Lowering::default();
        let zeta = l.input(Input::Zeta);
        let alpha = l.input(Input::Alpha);
        let lookup_alpha = l.input(Input::LookupAlpha);
        let beta = l.input(Input::LookupBeta);
        let all: Vec<&[Lookup<F>]> = lookups.iter().map(|l| &l[..]).collect();
        let (ids, max_width, num_buses) = bus_ids(&all);
        let gamma = l.pow(beta, max_width as u64);
        let prefixes: Vec<u32> = (0..num_buses)
            .map(|b| {
                let t = l.scale(gamma, Challenge::from(F::from_usize(b + 1)));
                l.add(lookup_alpha, t)
            })
            .collect();
        // zeta^(2^k), shared by every AIR.
        let max_log = shapes.iter().map(|s| s.log_height).max().unwrap_or(0);
        let mut zeta_pow2 = vec![zeta];
        for k in 0..max_log {
            let sq = l.mul(zeta_pow2[k], zeta_pow2[k]);
            zeta_pow2.push(sq);
        }
        let one = l.constant(Challenge::ONE);
        let mut outputs = Vec::with_capacity(airs.len());
        for (instance, ((air, lookups), shape)) in airs.iter().zip(&all).zip(shapes).enumerate() {
            let log_n = shape.log_height;
            let z_h = l.sub(zeta_pow2[log_n], one);
            let inv_z_h = l.inv(z_h);
            let g_inv = F::two_adic_generator(log_n).inverse();
            let to_first = l.sub(zeta, one);
            let g_inv = l.constant_of_base(g_inv);
            let to_last = l.sub(zeta, g_inv);
            let inv_first = l.inv(to_first);
            let inv_last = l.inv(to_last);
            let selectors = [l.mul(z_h, inv_first), l.mul(z_h, inv_last), to_last];
            let spec = params.get(instance).unwrap_or(&none);
            let periodic = periodic_at_zeta(&mut l, air, log_n, &zeta_pow2, instance, spec);
            let width = air.width();
            let zero = l.constant(Challenge::ZERO);
            let main_local: Vec<u32> = (0..width)
                .map(|column| {
                    l.input(Input::Main {
                        instance,
                        row: Row::Local,
                        column,
                    })
                })
                .collect();
            let main_next: Vec<u32> = (0..width)
                .map(|column| {
                    if shape.main_next {
                        l.input(Input::Main {
                            instance,
                            row: Row::Next,
                            column,
                        })
                    } else {
                        zero
                    }
                })
                .collect();
            let perm_width = if lookups.is_empty() {
                0
            } else {
                lookups.len() + 1
            };
            let mut permutation = [Vec::new(), Vec::new()];
            for (r, row) in [Row::Local, Row::Next].into_iter().enumerate() {
                permutation[r] = (0..perm_width)
                    .map(|column| {
                        l.recompose(|coord| Input::PermutationCoord {
                            instance,
                            row,
                            column,
                            coord,
                        })
                    })
                    .collect();
            }
            let challenges = ids[instance]
                .iter()
                .flat_map(|&b| [prefixes[b], beta])
                .collect();
            let leaves = Leaves {
                main: [main_local, main_next],
                permutation,
                periodic,
                public: {
                    let own = air.num_public_values() - spec.constants;
                    (0..air.num_public_values())
                        .map(|index| {
                            l.input(if index < own {
                                Input::Public { instance, index }
                            } else {
                                Input::Param {
                                    instance,
                                    index: index - own,
                                }
                            })
                        })
                        .collect()
                },
                challenges,
                terminals: if lookups.is_empty() {
                    Vec::new()
                } else {
                    vec![l.input(Input::Terminal { instance })]
                },
                selectors,
            };
            let constraints = l.constraints(air, lookups, leaves);
            let mut folded = zero;
            for c in constraints {
                let t = l.mul(folded, alpha);
                folded = l.add(t, c);
            }
            let lhs = l.mul(folded, inv_z_h);
            let quotient = quotient_at_zeta(&mut l, instance, shape, zeta_pow2[log_n]);
            outputs.push(l.sub(lhs, quotient));
        }
        // LogUp: the terminals of the AIRs with lookups sum to zero (`verify_terminal_sum`).
        let mut terminals = l.constant(Challenge::ZERO);
        for (instance, lookups) in all.iter().enumerate() {
            if !lookups.is_empty() {
                let t = l.input(Input::Terminal { instance });
                terminals = l.add(terminals, t);
            }
        }
        outputs.push(terminals);
        Program {
            nodes: l.nodes,
            outputs,
        }
    }

    /// Every node's value, inputs from `input`; `None` where an inversion meets zero.
    pub fn evaluate(&self, input: impl Fn(Input) -> Challenge) -> Option<Vec<Challenge>> {
        let mut v: Vec<Challenge> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let x = match *node {
                Node::Input(i) => input(i),
                Node::Constant(c) => c,
                Node::Add(a, b) => v[a as usize] + v[b as usize],
                Node::Sub(a, b) => v[a as usize] - v[b as usize],
                Node::Mul(a, b) => v[a as usize] * v[b as usize],
                Node::Inv(a) => v[a as usize].try_inverse()?,
            };
            v.push(x);
        }
        Some(v)
    }

    /// The outputs' values, inputs from `input`; `None` where an inversion meets zero.
    pub fn outputs(&self, input: impl Fn(Input) -> Challenge) -> Option<Vec<Challenge>> {
        let v = self.evaluate(input)?;
        Some(self.outputs.iter().map(|&o| v[o as usize]).collect())
    }
}

/// The out-of-domain program of a signature batch for every statement of its shape: the
/// batch's AIRs with the message and the epoch taken out as parameters ([`ParamSpec`]), so that
/// [`Program::ood_check_with`] of the template, given a statement's parameters
/// ([`OodTemplate::parameters`]), computes what [`Program::ood_check`] of the statement's own
/// AIRs (`crate::aggregate::statement::Statement::airs`) computes. A verifier derives it once
/// per shape and carry threshold ([`OodTemplate::carry`]) instead of once per statement.
///
/// Parameters, by instance: the signature AIR's (`SigAir::template`) statement constants,
/// then one per epoch-dependent periodic entry (`SigAir::epoch_entries`, weight 1 on its row);
/// the tweak table's (`TableAir::template`) `E` and `floor(E / p)` on its two tweak columns,
/// weighted by the valid rows; none for the chain and permutation AIRs.
pub struct OodTemplate {
    /// The template AIRs, in the batch's instance order.
    pub airs: Vec<AggAir>,
    /// Their parameters.
    pub params: Vec<ParamSpec>,
}

impl OodTemplate {
    /// The template for epochs of carry threshold `carry` ([`OodTemplate::carry`]).
    pub fn new(carry: Option<usize>) -> Self {
        let sig = SigAir::template();
        let periodic = SigAir::epoch_entries()
            .into_iter()
            .map(|(column, row)| {
                let mut weights = vec![F::ZERO; sig.periodic_columns()[column].len()];
                weights[row] = F::ONE;
                PeriodicParam { column, weights }
            })
            .collect();
        let sig_params = ParamSpec {
            constants: STATEMENT_CONSTANTS,
            periodic,
        };
        let table = TableAir::template(carry);
        let (tweak, valid) = TableAir::tweak_columns();
        let valid = table.periodic_columns()[valid].clone();
        let table_params = ParamSpec {
            constants: 0,
            periodic: tweak
                .into_iter()
                .map(|column| PeriodicParam {
                    column,
                    weights: valid.clone(),
                })
                .collect(),
        };
        Self {
            airs: vec![
                AggAir::Sig(sig),
                AggAir::Chain(ChainAir::new()),
                AggAir::Table(table),
                AggAir::Perm24(Perm24TableAir::new()),
            ],
            params: vec![sig_params, ParamSpec::default(), table_params],
        }
    }

    /// The template's key for `epoch`: the tweak table's carry threshold
    /// (`crate::aggregate::air::table::carry_threshold`).
    pub fn carry(epoch: u32) -> Option<usize> {
        carry_threshold(epoch)
    }

    /// The parameters of the statement (`message`, `epoch`), by instance, in [`ParamSpec`]
    /// order.
    pub fn parameters(message: &[u8; 32], epoch: u32) -> Vec<Vec<F>> {
        let sig = SigAir::new(message, epoch);
        let mut first: Vec<F> = sig.statement_constants().to_vec();
        first.extend(
            SigAir::epoch_entries()
                .into_iter()
                .map(|(column, row)| sig.periodic_entry(column, row)),
        );
        vec![
            first,
            Vec::new(),
            TableAir::statement_parameters(epoch).to_vec(),
        ]
    }
}

/// Every periodic column of `air` at `zeta` on a trace of `2^log_n` rows: a column of period
/// `p` is `f(zeta^(n / p))`, `f` its interpolant over the `p`-th roots of unity `w^j`,
/// `f(y) = (y^p - 1) / p * sum_j v_j w^j / (y - w^j)` (the `1 / (y - w^j)` shared by the
/// columns of one period). As `PolynomialSpace::evaluate_periodic_columns_at` (Plonky3 0.8,
/// trace domain shift 1). A periodic parameter of `spec` adds `param * f(zeta^(n / p))`, `f`
/// the interpolant of its weights, summed with the column's own terms before the common factor.
fn periodic_at_zeta<A: BaseAir<F>>(
    l: &mut Lowering,
    air: &A,
    log_n: usize,
    zeta_pow2: &[u32],
    instance: usize,
    spec: &ParamSpec,
) -> Vec<u32> {
    let columns = air.periodic_columns();
    for param in &spec.periodic {
        let col = columns
            .get(param.column)
            .expect("a periodic parameter's column");
        assert_eq!(
            param.weights.len(),
            col.len(),
            "a weight per row of the period"
        );
    }
    let mut by_period: HashMap<usize, (u32, Vec<u32>)> = HashMap::default();
    columns
        .iter()
        .enumerate()
        .map(|(column, col)| {
            let p = col.len();
            let params: Vec<(usize, &[F])> = spec
                .periodic
                .iter()
                .enumerate()
                .filter(|(_, q)| q.column == column)
                .map(|(k, q)| (spec.constants + k, q.weights.as_slice()))
                .collect();
            if p == 1 {
                let mut v = l.constant_of_base(col[0]);
                for (index, weights) in params {
                    let x = l.input(Input::Param { instance, index });
                    let t = l.scale(x, Challenge::from(weights[0]));
                    v = l.add(v, t);
                }
                return v;
            }
            let log_p = p.trailing_zeros() as usize;
            let w = F::two_adic_generator(log_p);
            let (scale, invs) = by_period.entry(p).or_insert_with(|| {
                let y = zeta_pow2[log_n - log_p];
                let y_p = zeta_pow2[log_n];
                let one = l.constant(Challenge::ONE);
                let vanishing = l.sub(y_p, one);
                let invs = w
                    .powers()
                    .take(p)
                    .map(|wj| {
                        let wj = l.constant_of_base(wj);
                        let d = l.sub(y, wj);
                        l.inv(d)
                    })
                    .collect();
                (vanishing, invs)
            });
            let p_inv = F::from_usize(p).inverse();
            let invs = invs.clone();
            let scale = *scale;
            let interpolate = |l: &mut Lowering, values: &[F]| {
                let mut sum = l.constant(Challenge::ZERO);
                for ((&v, wj), &inv) in values.iter().zip(w.powers()).zip(invs.iter()) {
                    let t = l.scale(inv, Challenge::from(v * wj * p_inv));
                    sum = l.add(sum, t);
                }
                sum
            };
            let mut sum = interpolate(l, col);
            for (index, weights) in params {
                let f = interpolate(l, weights);
                let x = l.input(Input::Param { instance, index });
                let t = l.mul(x, f);
                sum = l.add(sum, t);
            }
            l.mul(sum, scale)
        })
        .collect()
}

/// The quotient of AIR `instance` at `zeta` from its chunks' coordinates:
/// `sum_i Q_i(zeta) prod_(j != i) Z_(D_j)(zeta) / Z_(D_j)(s_i)`, the chunk domains `D_i` the
/// quotient domain `g_F * K` (size `n * chunks`, `g_F` the field's generator) split in
/// `chunks` cosets of size `n`, `Z_(D_j)(X) = (X / s_j)^n - 1`. `zeta_n` is `zeta^n`.
fn quotient_at_zeta(l: &mut Lowering, instance: usize, shape: &AirShape, zeta_n: u32) -> u32 {
    let log_n = shape.log_height;
    let chunks = shape.num_quotient_chunks;
    let trace = TwoAdicMultiplicativeCoset::new(F::ONE, log_n).expect("a two-adic size");
    let quotient_domain = trace
        .try_create_disjoint_domain(chunks << log_n)
        .expect("a two-adic size");
    let domains = quotient_domain.split_domains(chunks);
    let one = l.constant(Challenge::ONE);
    // Z_(D_j)(zeta) = zeta^n * s_j^-n - 1.
    let z_at_zeta: Vec<u32> = domains
        .iter()
        .map(|d| {
            let t = l.scale(
                zeta_n,
                Challenge::from(d.shift().inverse().exp_power_of_2(log_n)),
            );
            l.sub(t, one)
        })
        .collect();
    let mut sum = l.constant(Challenge::ZERO);
    for (i, di) in domains.iter().enumerate() {
        let mut zp = l.constant(Challenge::ONE);
        for (j, dj) in domains.iter().enumerate() {
            if j == i {
                continue;
            }
            let denominator: F = dj.vanishing_poly_at_point(di.first_point());
            let t = l.scale(z_at_zeta[j], Challenge::from(denominator.inverse()));
            zp = l.mul(zp, t);
        }
        let q = l.recompose(|coord| Input::QuotientChunk {
            instance,
            chunk: i,
            coord,
        });
        let t = l.mul(zp, q);
        sum = l.add(sum, t);
    }
    sum
}

#[cfg(test)]
pub(crate) mod tests {
    use p3_air::RowWindow;
    use p3_batch_stark::folder::VerifierConstraintFolderWithLookups;
    use p3_matrix::dense::RowMajorMatrixView;
    use p3_matrix::stack::VerticalPair;
    use p3_uni_stark::VerifierConstraintFolder;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::aggregate::air::AggAir;
    use crate::aggregate::fri::config::{FriConfig, Poseidon1};
    use crate::aggregate::fri::{decode_against, packed_lookups, proof_shape};
    use crate::aggregate::recursion::harness::child_proof;
    use crate::aggregate::recursion::TranscriptEvent;
    use crate::aggregate::statement::{degree_bits, Statement};
    use crate::aggregate::testing::test_signer;

    fn one(rng: &mut SmallRng) -> Challenge {
        Challenge::from_basis_coefficients_fn(|_| F::from_u32(rng.random_range(0..0x7f00_0001)))
    }

    fn random_ext(rng: &mut SmallRng, n: usize) -> Vec<Challenge> {
        (0..n).map(|_| one(rng)).collect()
    }

    /// Opened values and challenges of one AIR, as the verifier folder reads them.
    struct Values {
        main: [Vec<Challenge>; 2],
        permutation: [Vec<Challenge>; 2],
        periodic: Vec<Challenge>,
        public: Vec<F>,
        challenges: Vec<Challenge>,
        terminals: Vec<Challenge>,
        selectors: [Challenge; 3],
    }

    impl Values {
        fn input(&self, i: Input) -> Challenge {
            match i {
                Input::Main { row, column, .. } => self.main[row as usize][column],
                Input::Permutation { row, column, .. } => self.permutation[row as usize][column],
                Input::Periodic { column, .. } => self.periodic[column],
                Input::Public { index, .. } => Challenge::from(self.public[index]),
                Input::Challenge { index, .. } => self.challenges[index],
                Input::Terminal { .. } => self.terminals[0],
                Input::Selector { which, .. } => self.selectors[which],
                other => unreachable!("not an input of a constraint program: {other:?}"),
            }
        }
    }

    /// Plonky3's verifier folder over `air` and `lookups` on `v`.
    fn plonky3_fold(
        air: &AggAir,
        lookups: &[Lookup<F>],
        v: &Values,
        alpha: Challenge,
    ) -> Challenge {
        let empty: [Challenge; 0] = [];
        let mut folder = VerifierConstraintFolderWithLookups::<FriConfig<Poseidon1>> {
            inner: VerifierConstraintFolder {
                main: VerticalPair::new(
                    RowMajorMatrixView::new_row(&v.main[0]),
                    RowMajorMatrixView::new_row(&v.main[1]),
                ),
                preprocessed: VerticalPair::new(
                    RowMajorMatrixView::new_row(&empty),
                    RowMajorMatrixView::new_row(&empty),
                ),
                preprocessed_window: RowWindow::from_two_rows(&empty, &empty),
                periodic_values: &v.periodic,
                public_values: &v.public,
                is_first_row: v.selectors[0],
                is_last_row: v.selectors[1],
                is_transition: v.selectors[2],
                alpha,
                accumulator: Challenge::ZERO,
            },
            permutation: VerticalPair::new(
                RowMajorMatrixView::new_row(&v.permutation[0]),
                RowMajorMatrixView::new_row(&v.permutation[1]),
            ),
            permutation_challenges: &v.challenges,
            permutation_values: &v.terminals,
        };
        LogUpGadget::new().eval_air_and_lookups(air, &mut folder, lookups);
        folder.inner.accumulator
    }

    fn fold(program: &Program, v: &Values, alpha: Challenge) -> Challenge {
        let outputs = program.outputs(|i| v.input(i)).expect("no inversion");
        outputs
            .iter()
            .fold(Challenge::ZERO, |acc, &c| acc * alpha + c)
    }

    #[test]
    fn the_constraints_fold_as_plonky3s_verifier() {
        let message = [7u8; 32];
        let keys: Vec<_> = (0..2).map(|s| test_signer(s, &message, 3).0).collect();
        let stmt = Statement {
            message: &message,
            epoch: 3,
            keys: &keys,
        };
        let airs = stmt.airs();
        let lookups = packed_lookups(&airs);
        let gadget = LogUpGadget::new();
        let mut rng = SmallRng::seed_from_u64(14);
        for ((air, lookups), public) in airs.iter().zip(&lookups).zip(stmt.public_values()) {
            let program = Program::constraints(air, lookups);
            let width = BaseAir::<F>::width(air);
            let perm_width = if lookups.is_empty() {
                0
            } else {
                lookups.len() + 1
            };
            let mut v = Values {
                main: [random_ext(&mut rng, width), random_ext(&mut rng, width)],
                permutation: [
                    random_ext(&mut rng, perm_width),
                    random_ext(&mut rng, perm_width),
                ],
                periodic: random_ext(&mut rng, BaseAir::<F>::num_periodic_columns(air)),
                public,
                challenges: random_ext(&mut rng, lookups.len() * gadget.num_challenges()),
                terminals: random_ext(&mut rng, usize::from(!lookups.is_empty())),
                selectors: [one(&mut rng), one(&mut rng), one(&mut rng)],
            };
            let alpha = one(&mut rng);
            let ours = fold(&program, &v, alpha);
            assert_eq!(ours, plonky3_fold(air, lookups, &v, alpha));
            // Another value of every input kind changes both folds alike.
            v.main[0][width / 2] += Challenge::ONE;
            let changed = fold(&program, &v, alpha);
            assert_ne!(changed, ours);
            assert_eq!(changed, plonky3_fold(air, lookups, &v, alpha));
            if let Some(p) = v.periodic.first_mut() {
                *p += Challenge::ONE;
                assert_eq!(
                    fold(&program, &v, alpha),
                    plonky3_fold(air, lookups, &v, alpha)
                );
            }
            if let Some(c) = v.challenges.first_mut() {
                *c += Challenge::ONE;
                assert_eq!(
                    fold(&program, &v, alpha),
                    plonky3_fold(air, lookups, &v, alpha)
                );
            }
        }
    }

    /// A real two-signature child over FRI-Poseidon1 (`real_child_of(2)`): its proof decoded, its AIRs, lookups and
    /// shapes, and the batch's four challenges read from its recorded transcript (the first
    /// twenty sampled elements that are not bit draws: LogUp `alpha` and `beta`, the
    /// constraint `alpha`, `zeta`, coefficient 0 first).
    pub(crate) struct Child {
        pub(crate) airs: Vec<AggAir>,
        pub(crate) lookups: Vec<Lookups<F>>,
        pub(crate) shapes: Vec<AirShape>,
        pub(crate) proof: p3_batch_stark::BatchProof<FriConfig<Poseidon1>>,
        public: Vec<Vec<F>>,
        challenges: [Challenge; 4],
        /// The child's preset and its recorded native verification.
        pub(crate) preset: crate::aggregate::preset::FriPreset,
        pub(crate) trace: crate::aggregate::recursion::ChildVerificationTrace,
        /// Its keys, in its statement's order, its message and epoch.
        pub(crate) keys: Vec<crate::xmss::PublicKey>,
        pub(crate) message: [u8; 32],
        pub(crate) epoch: u32,
    }

    pub(crate) fn real_child() -> Child {
        real_child_of(2)
    }

    /// A real child of `n` signatures (seeds 3, 4, ...).
    pub(crate) fn real_child_of(n: u64) -> Child {
        let (message, epoch) = ([5u8; 32], 9);
        let (bytes, keys) = child_proof(message, epoch, n);
        let trace = super::super::child_verification_trace(&bytes, &keys, &message, epoch)
            .expect("the child verifies");
        let keys = crate::aggregate::canonical_key_order(&keys).expect("distinct keys");
        let stmt = Statement {
            message: &message,
            epoch,
            keys: &keys,
        };
        let decoded = decode_against::<Poseidon1>(trace.preset(), &bytes, &stmt).expect("decodes");
        let drawn: Vec<usize> = trace.bit_draws().iter().map(|d| d.position).collect();
        let samples: Vec<F> = trace
            .transcript()
            .iter()
            .enumerate()
            .filter_map(|(pos, e)| match e {
                TranscriptEvent::Sample(v) if !drawn.contains(&pos) => Some(*v),
                _ => None,
            })
            .take(4 * D)
            .collect();
        let challenges =
            [0, 1, 2, 3].map(|k| Challenge::from_basis_coefficients_fn(|j| samples[k * D + j]));
        let shape = proof_shape(
            &decoded.airs,
            &decoded.common.lookups,
            &degree_bits(&stmt.heights()),
        );
        Child {
            preset: *trace.preset(),
            public: stmt.public_values(),
            airs: decoded.airs,
            lookups: decoded.common.lookups.clone(),
            shapes: shape.instances.clone(),
            proof: decoded.proof,
            challenges,
            trace,
            keys,
            message,
            epoch,
        }
    }

    impl Child {
        /// Its statement as a parent's verifier knows it.
        pub(crate) fn statement(&self) -> crate::aggregate::recursion::child::ChildStatement {
            crate::aggregate::recursion::child::ChildStatement {
                instance: 0,
                num_keys: self.keys.len(),
                epoch: self.epoch,
                message: self.message,
                digest: None,
            }
        }

        /// The value of input `i` in this child's proof.
        pub(crate) fn input(&self, i: Input) -> Challenge {
            let opened = |instance: usize| &self.proof.opened_values.instances[instance];
            match i {
                Input::Main {
                    instance,
                    row: Row::Local,
                    column,
                } => opened(instance).base_opened_values.trace_local[column],
                Input::Main {
                    instance,
                    row: Row::Next,
                    column,
                } => opened(instance)
                    .base_opened_values
                    .trace_next
                    .as_ref()
                    .expect("opened at zeta_next")[column],
                Input::PermutationCoord {
                    instance,
                    row,
                    column,
                    coord,
                } => {
                    let o = opened(instance);
                    let values = match row {
                        Row::Local => &o.permutation_local,
                        Row::Next => &o.permutation_next,
                    };
                    values[column * D + coord]
                }
                Input::QuotientChunk {
                    instance,
                    chunk,
                    coord,
                } => opened(instance).base_opened_values.quotient_chunks[chunk][coord],
                Input::Public { instance, index } => Challenge::from(self.public[instance][index]),
                Input::Terminal { instance } => {
                    self.proof.lookup_terminals[instance]
                        .as_ref()
                        .expect("a terminal")
                        .0
                }
                Input::LookupAlpha => self.challenges[0],
                Input::LookupBeta => self.challenges[1],
                Input::Alpha => self.challenges[2],
                Input::Zeta => self.challenges[3],
                Input::Param { instance, index } => Challenge::from(
                    OodTemplate::parameters(&self.message, self.epoch)[instance][index],
                ),
                other => unreachable!("not an input of the check: {other:?}"),
            }
        }
    }

    /// The check's outputs on `child`'s inputs with `forged` one more.
    fn forged_outputs(program: &Program, child: &Child, forged: Input) -> Vec<Challenge> {
        program
            .outputs(|i| {
                let v = child.input(i);
                if i == forged {
                    v + Challenge::ONE
                } else {
                    v
                }
            })
            .expect("zeta off the domains")
    }

    #[test]
    fn a_real_childs_ood_check_holds_and_a_forged_value_fails_it() {
        let child = real_child();
        let program = Program::ood_check(&child.airs, &child.lookups, &child.shapes);
        let outputs = program
            .outputs(|i| child.input(i))
            .expect("zeta off the domains");
        assert_eq!(outputs, vec![Challenge::ZERO; child.airs.len() + 1]);
        let terminal_sum = child.airs.len();

        // Each kind of input, changed, fails exactly its AIR's check.
        let forgeries: Vec<(usize, Input)> = (0..child.airs.len())
            .flat_map(|instance| {
                let mut f = vec![
                    (
                        instance,
                        Input::Main {
                            instance,
                            row: Row::Local,
                            column: 0,
                        },
                    ),
                    (
                        instance,
                        Input::QuotientChunk {
                            instance,
                            chunk: 1,
                            coord: 4,
                        },
                    ),
                ];
                if child.shapes[instance].main_next {
                    f.push((
                        instance,
                        Input::Main {
                            instance,
                            row: Row::Next,
                            column: 3,
                        },
                    ));
                }
                if child.shapes[instance].num_lookups > 0 {
                    f.push((instance, Input::Terminal { instance }));
                    f.push((
                        instance,
                        Input::PermutationCoord {
                            instance,
                            row: Row::Next,
                            column: 0,
                            coord: 2,
                        },
                    ));
                }
                if instance == 0 {
                    f.push((
                        0,
                        Input::Public {
                            instance: 0,
                            index: 0,
                        },
                    ));
                }
                f
            })
            .collect();
        for (instance, forged) in forgeries {
            let outputs = forged_outputs(&program, &child, forged);
            let terminal = matches!(forged, Input::Terminal { .. });
            for (a, o) in outputs.iter().enumerate() {
                let fails = a == instance || (terminal && a == terminal_sum);
                assert_eq!(*o != Challenge::ZERO, fails, "{forged:?}: output {a}");
            }
        }
        // Terminals that still sum to zero, each off its AIR's LogUp column: the AIRs' checks
        // only.
        let (a, b) = (0, 1);
        let outputs = program
            .outputs(|i| {
                let v = child.input(i);
                match i {
                    Input::Terminal { instance } if instance == a => v + Challenge::ONE,
                    Input::Terminal { instance } if instance == b => v - Challenge::ONE,
                    _ => v,
                }
            })
            .expect("zeta off the domains");
        let failing: Vec<usize> = (0..outputs.len())
            .filter(|&o| outputs[o] != Challenge::ZERO)
            .collect();
        assert_eq!(failing, vec![a, b]);
        // Another zeta or alpha fails every AIR's check.
        for forged in [
            Input::Zeta,
            Input::Alpha,
            Input::LookupAlpha,
            Input::LookupBeta,
        ] {
            let outputs = forged_outputs(&program, &child, forged);
            assert!(
                outputs[..terminal_sum]
                    .iter()
                    .all(|&o| o != Challenge::ZERO),
                "{forged:?}"
            );
        }
    }

    /// Epochs for the template tests: the extremes, every Merkle level's side both ways, and two
    /// whose tweak tables carry (the first from `2^20` on, and the last below `2^32`).
    fn template_epochs() -> Vec<u32> {
        let first_carry = (1u32 << 20..)
            .find(|&e| OodTemplate::carry(e).is_some())
            .expect("an epoch whose table carries");
        let last_carry = (0..=u32::MAX)
            .rev()
            .find(|&e| OodTemplate::carry(e).is_some())
            .expect("an epoch whose table carries");
        vec![
            0,
            1,
            9,
            0x5555_5555,
            0xaaaa_aaaa,
            u32::MAX,
            first_carry,
            last_carry,
        ]
    }

    #[test]
    fn the_templates_periodic_columns_and_parameters_are_each_statements_columns() {
        let epochs = template_epochs();
        assert!(
            epochs
                .iter()
                .filter(|&&e| OodTemplate::carry(e).is_some())
                .count()
                >= 2
        );
        for &epoch in &epochs {
            let message = [epoch as u8; 32];
            let t = OodTemplate::new(OodTemplate::carry(epoch));
            let params = OodTemplate::parameters(&message, epoch);
            let concrete = Statement {
                message: &message,
                epoch,
                keys: &[],
            }
            .airs();
            for (instance, (air, spec)) in t.airs.iter().zip(&t.params).enumerate() {
                // Each periodic column of the template plus its parameters' weighted rows is the
                // statement's column, row by row.
                let mut columns = air.periodic_columns().into_owned();
                for (k, q) in spec.periodic.iter().enumerate() {
                    let param = params[instance][spec.constants + k];
                    for (v, &w) in columns[q.column].iter_mut().zip(&q.weights) {
                        *v += param * w;
                    }
                }
                assert_eq!(
                    columns,
                    concrete[instance].periodic_columns().into_owned(),
                    "instance {instance} at epoch {epoch}"
                );
                assert_eq!(params[instance].len(), spec.len());
            }
            let (AggAir::Sig(tsig), AggAir::Sig(csig)) = (&t.airs[0], &concrete[0]) else {
                unreachable!("instance 0 is the signature AIR")
            };
            assert!(tsig.is_template() && !csig.is_template());
            assert_eq!(
                params[0][..STATEMENT_CONSTANTS],
                csig.statement_constants()[..]
            );
        }
    }

    #[test]
    fn the_template_program_computes_each_statements_check() {
        use crate::aggregate::fri::common_data;
        let keys = crate::aggregate::statement::placeholder_keys(3);
        let mut rng = SmallRng::seed_from_u64(7);
        for epoch in template_epochs() {
            let message: [u8; 32] = core::array::from_fn(|i| (i as u8) ^ (epoch as u8));
            let stmt = Statement {
                message: &message,
                epoch,
                keys: &keys,
            };
            let airs = stmt.airs();
            let lookups = common_data::<Poseidon1>(&airs).lookups;
            let shapes = proof_shape(&airs, &lookups, &degree_bits(&stmt.heights())).instances;
            let concrete = Program::ood_check(&airs, &lookups, &shapes);
            let t = OodTemplate::new(OodTemplate::carry(epoch));
            let template = Program::ood_check_with(&t.airs, &lookups, &shapes, &t.params);
            let params = OodTemplate::parameters(&message, epoch);
            // The same random value for each input of either program, the parameters the
            // statement's.
            let mut values: HashMap<Input, Challenge> = HashMap::default();
            for node in concrete.nodes.iter().chain(&template.nodes) {
                if let Node::Input(i) = *node {
                    let v = match i {
                        Input::Param { instance, index } => {
                            Challenge::from(params[instance][index])
                        }
                        _ => one(&mut rng),
                    };
                    values.entry(i).or_insert(v);
                }
            }
            let expected = concrete
                .outputs(|i| values[&i])
                .expect("zeta off the domains");
            let got = template
                .outputs(|i| values[&i])
                .expect("zeta off the domains");
            assert_eq!(got, expected, "epoch {epoch}");
            assert!(
                expected.iter().any(|&o| o != Challenge::ZERO),
                "random inputs fail it"
            );
        }
    }

    #[test]
    fn a_real_childs_check_holds_in_the_template_and_each_parameter_forged_fails_it() {
        let child = real_child();
        let t = OodTemplate::new(OodTemplate::carry(child.epoch));
        let program = Program::ood_check_with(&t.airs, &child.lookups, &child.shapes, &t.params);
        let params = OodTemplate::parameters(&child.message, child.epoch);
        let input = |forged: Option<(usize, usize)>| {
            let (params, child) = (&params, &child);
            move |i: Input| match i {
                Input::Param { instance, index } => {
                    let v = Challenge::from(params[instance][index]);
                    if forged == Some((instance, index)) {
                        v + Challenge::ONE
                    } else {
                        v
                    }
                }
                other => child.input(other),
            }
        };
        let outputs = program.outputs(input(None)).expect("zeta off the domains");
        assert_eq!(outputs, vec![Challenge::ZERO; child.airs.len() + 1]);
        let mut forged = 0;
        for (instance, spec) in t.params.iter().enumerate() {
            for index in 0..spec.len() {
                let outputs = program
                    .outputs(input(Some((instance, index))))
                    .expect("zeta off the domains");
                for (k, o) in outputs.iter().enumerate() {
                    assert_eq!(
                        *o == Challenge::ZERO,
                        k != instance,
                        "parameter {index} of instance {instance}: output {k}"
                    );
                }
                forged += 1;
            }
        }
        // 13 constants, 128 epoch entries of the signature AIR, 2 of the table.
        assert_eq!(
            forged,
            STATEMENT_CONSTANTS + SigAir::epoch_entries().len() + 2
        );
    }
}
