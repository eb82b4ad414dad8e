//! `OodAir`: a [`Program`] (the out-of-domain check of a child's batch, [`super::ood`]) run in
//! an AIR, one row per operation, its outputs held to zero.
//!
//! **Layout ([`OodLayout`]).** One block per child transcript, the same schedule in every
//! block: each node of the program becomes a row (an input, a constant, an addition, a
//! subtraction, a product or an inversion), then one row per output asserting it zero, then
//! padding rows up to a power of two. A row's value `z` (five coordinates) is sent as a *wire*
//! `(transcript, row, z)` on `"ood-wire"`, once per reader the schedule counts; a row reads its
//! operands `x` and `y` by receiving `(transcript, operand row, x)` and `(transcript, operand
//! row, y)`. A value read more than [`MAX_USES`] times is passed on by copy rows (`z = x`), so
//! each row's send count stays below the bound LogUp's soundness needs. An input row receives
//! its value as `(transcript, position, z)` on `"ood-input"`, `position` the transcript position
//! of the input's first coordinate ([`super::schedule::TranscriptSchedule::input_position`]):
//! the AIRs holding the child's opened values and challenges send them under that key.
//!
//! **Why a row is its operation.** The kind, the operand rows, the send count and the input
//! code are periodic columns the verifier builds from the program, so the prover chooses no
//! wiring. A row's constraint is its operation on the coordinates:
//! `z = x + y`, `z = x - y`, `z = x * y` (quintic extension, `ext::mul`), `z = x` (copy),
//! `z = K` (a constant, periodic), `z * x = 1` (inversion: no `z` exists for `x = 0`, where
//! the native verifier rejects too), `x = 0` (an output). The wire bus balances only if every
//! read value is the value its source row computed, and the input bus only if every input is
//! the value the other AIRs vouch for. So an active block exists only for inputs on which every
//! output of the program is zero: exactly the native check ([`Program::outputs`]).
//!
//! Padding blocks (`active = 0`) send and receive nothing; their rows still satisfy every
//! operation's constraint (the trace runs the program on inputs that are zero except `zeta`,
//! set to `X`, where no inversion meets zero).

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::{BasedVectorSpace, Field, PrimeCharacteristicRing};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::ext::{self, D};
use super::ood::{Input, Node, Program};
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// Bus of wire values `(transcript, row, z[5])`.
pub const OOD_WIRE_BUS: &str = "ood-wire";
/// Bus of the program's inputs `(transcript, position, value[5])`.
pub const OOD_INPUT_BUS: &str = "ood-input";
/// Most reads of one row's value; more go through copy rows.
pub const MAX_USES: u32 = 16;

/// What a row computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Nothing (padding at the end of a block).
    Pad,
    /// `z = K`.
    Constant,
    /// `z` received on the input bus.
    Input,
    /// `z = x + y`.
    Add,
    /// `z = x - y`.
    Sub,
    /// `z = x * y`.
    Mul,
    /// `z * x = 1`.
    Inv,
    /// `z = x`.
    Copy,
    /// `x = 0` (an output).
    Zero,
}

/// One row of the schedule.
#[derive(Clone, Copy, Debug)]
pub struct RowSpec {
    /// The operation.
    pub kind: RowKind,
    /// Operand rows (0 where unread).
    pub x: u32,
    pub y: u32,
    /// How many rows read this row's value.
    pub uses: u32,
    /// The input's transcript position, its key on the input bus ([`RowKind::Input`]).
    pub code: u32,
    /// The input's index in [`OodLayout::inputs`] ([`RowKind::Input`]).
    pub input: u32,
    /// The constant ([`RowKind::Constant`]).
    pub k: Challenge,
}

impl RowSpec {
    fn new(kind: RowKind) -> Self {
        RowSpec {
            kind,
            x: 0,
            y: 0,
            uses: 0,
            code: 0,
            input: 0,
            k: Challenge::ZERO,
        }
    }
    fn reads_x(&self) -> bool {
        matches!(
            self.kind,
            RowKind::Add
                | RowKind::Sub
                | RowKind::Mul
                | RowKind::Inv
                | RowKind::Copy
                | RowKind::Zero
        )
    }
    fn reads_y(&self) -> bool {
        matches!(self.kind, RowKind::Add | RowKind::Sub | RowKind::Mul)
    }
}

/// A program laid out as rows: nodes, copy rows for values read more than [`MAX_USES`] times,
/// output rows, padding to a power of two.
#[derive(Clone, Debug)]
pub struct OodLayout {
    /// The rows of one block.
    pub rows: Vec<RowSpec>,
    /// The program's inputs, sorted; an input row's `input` is its index here.
    pub inputs: Vec<Input>,
}

impl OodLayout {
    /// Lays `program` out, each input keyed by `position(input)`.
    ///
    /// # Errors
    /// If an input has no position (not a transcript element).
    pub fn new(
        program: &Program,
        position: impl Fn(Input) -> Option<usize>,
    ) -> Result<Self, String> {
        let n = program.nodes.len();
        let mut reads = vec![0u32; n];
        for node in &program.nodes {
            match *node {
                Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) => {
                    reads[a as usize] += 1;
                    reads[b as usize] += 1;
                }
                Node::Inv(a) => reads[a as usize] += 1,
                Node::Input(_) | Node::Constant(_) => {}
            }
        }
        for &o in &program.outputs {
            reads[o as usize] += 1;
        }
        let mut inputs: Vec<Input> = program
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Input(i) => Some(*i),
                _ => None,
            })
            .collect();
        inputs.sort();
        let mut rows: Vec<RowSpec> = Vec::with_capacity(n + n / 8);
        let mut supply: Vec<Supply> = Vec::with_capacity(n);
        for (i, node) in program.nodes.iter().enumerate() {
            let mut spec = RowSpec::new(RowKind::Pad);
            match *node {
                Node::Input(input) => {
                    spec.kind = RowKind::Input;
                    spec.input = inputs.binary_search(&input).expect("listed") as u32;
                    let at = position(input).ok_or(format!("{input:?} has no position"))?;
                    spec.code = u32::try_from(at).map_err(|e| e.to_string())?;
                }
                Node::Constant(c) => {
                    spec.kind = RowKind::Constant;
                    spec.k = c;
                }
                Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) => {
                    spec.kind = match node {
                        Node::Add(..) => RowKind::Add,
                        Node::Sub(..) => RowKind::Sub,
                        _ => RowKind::Mul,
                    };
                    spec.x = take(&mut rows, &mut supply[a as usize]);
                    spec.y = take(&mut rows, &mut supply[b as usize]);
                }
                Node::Inv(a) => {
                    spec.kind = RowKind::Inv;
                    spec.x = take(&mut rows, &mut supply[a as usize]);
                }
            }
            let first = rows.len() as u32;
            rows.push(spec);
            // Copies: `k` rows after the node's, each fed one read of the previous.
            let r = reads[i];
            let copies = if r > MAX_USES {
                (r - MAX_USES).div_ceil(MAX_USES - 1)
            } else {
                0
            };
            let mut chain = vec![first];
            for c in 0..copies {
                let prev = first + c;
                rows[prev as usize].uses += 1;
                let mut copy = RowSpec::new(RowKind::Copy);
                copy.x = prev;
                chain.push(rows.len() as u32);
                rows.push(copy);
            }
            supply.push(Supply {
                chain,
                at: 0,
                used: 0,
            });
        }
        for &o in &program.outputs {
            let mut spec = RowSpec::new(RowKind::Zero);
            spec.x = take(&mut rows, &mut supply[o as usize]);
            rows.push(spec);
        }
        let len = rows.len().next_power_of_two().max(2);
        rows.resize(len, RowSpec::new(RowKind::Pad));
        Ok(OodLayout { rows, inputs })
    }

    /// Every row's value on the inputs `values` (in [`OodLayout::inputs`] order); `None` where
    /// an inversion meets zero.
    pub fn run(&self, values: &[Challenge]) -> Option<Vec<Challenge>> {
        let mut z: Vec<Challenge> = Vec::with_capacity(self.rows.len());
        for s in &self.rows {
            let (x, y) = (z.get(s.x as usize).copied(), z.get(s.y as usize).copied());
            let x = x.unwrap_or(Challenge::ZERO);
            let y = y.unwrap_or(Challenge::ZERO);
            z.push(match s.kind {
                RowKind::Pad | RowKind::Zero => Challenge::ZERO,
                RowKind::Constant => s.k,
                RowKind::Input => values[s.input as usize],
                RowKind::Add => x + y,
                RowKind::Sub => x - y,
                RowKind::Mul => x * y,
                RowKind::Inv => x.try_inverse()?,
                RowKind::Copy => x,
            });
        }
        Some(z)
    }

    /// The inputs of a padding block: zero, except `zeta = X`, off every domain.
    pub fn padding_inputs(&self) -> Vec<Challenge> {
        self.inputs
            .iter()
            .map(|i| match i {
                Input::Zeta => <Challenge as BasedVectorSpace<F>>::ith_basis_element(1).expect("X"),
                _ => Challenge::ZERO,
            })
            .collect()
    }
}

/// The rows supplying one node's value: its own, then its copies; the current one and the
/// reads taken from it.
struct Supply {
    chain: Vec<u32>,
    at: usize,
    used: u32,
}

/// The next supplying row of a node's value for one read. Every row of the chain but the last
/// keeps one read for the copy after it.
fn take(rows: &mut [RowSpec], s: &mut Supply) -> u32 {
    loop {
        let last = s.at + 1 == s.chain.len();
        let capacity = if last { MAX_USES } else { MAX_USES - 1 };
        if s.used < capacity {
            s.used += 1;
            let r = s.chain[s.at];
            rows[r as usize].uses += 1;
            return r;
        }
        assert!(!last, "more reads than counted");
        s.at += 1;
        s.used = 0;
    }
}

// Main columns.
const TRANSCRIPT: usize = 0;
const ACTIVE: usize = 1;
/// Mirrors of the periodic `ID, X_ID, Y_ID, USES, CODE, READ_X, READ_Y, IS_INPUT`.
const MIRRORS: usize = 2;
const NUM_MIRRORS: usize = 8;
const X: usize = MIRRORS + NUM_MIRRORS;
const Y: usize = X + D;
const Z: usize = Y + D;
const WIDTH: usize = Z + D;

// Periodic columns: the mirrored ones first (same order), then the flags and the constant.
const P_LAST: usize = NUM_MIRRORS;
const P_ADD: usize = P_LAST + 1;
const P_SUB: usize = P_ADD + 1;
const P_MUL: usize = P_SUB + 1;
const P_INV: usize = P_MUL + 1;
const P_COPY: usize = P_INV + 1;
const P_CONST: usize = P_COPY + 1;
const P_ZERO: usize = P_CONST + 1;
const P_K: usize = P_ZERO + 1;
const NUM_PERIODIC: usize = P_K + D;

/// The AIR running one [`OodLayout`] per child transcript.
#[derive(Clone, Debug)]
pub struct OodAir {
    layout: OodLayout,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
}

impl OodAir {
    /// The AIR of `layout`.
    pub fn new(layout: OodLayout) -> Self {
        let l = layout.rows.len();
        let mut periodic = vec![vec![F::ZERO; l]; NUM_PERIODIC];
        for (r, s) in layout.rows.iter().enumerate() {
            let mirrors = [
                r as u32,
                s.x,
                s.y,
                s.uses,
                s.code,
                u32::from(s.reads_x()),
                u32::from(s.reads_y()),
                u32::from(s.kind == RowKind::Input),
            ];
            for (c, v) in mirrors.into_iter().enumerate() {
                periodic[c][r] = F::from_u32(v);
            }
            periodic[P_LAST][r] = F::from_bool(r + 1 == l);
            let flag = match s.kind {
                RowKind::Add => Some(P_ADD),
                RowKind::Sub => Some(P_SUB),
                RowKind::Mul => Some(P_MUL),
                RowKind::Inv => Some(P_INV),
                RowKind::Copy => Some(P_COPY),
                RowKind::Constant => Some(P_CONST),
                RowKind::Zero => Some(P_ZERO),
                RowKind::Pad | RowKind::Input => None,
            };
            if let Some(f) = flag {
                periodic[f][r] = F::ONE;
            }
            for (i, k) in ext::coords(s.k).into_iter().enumerate() {
                periodic[P_K + i][r] = k;
            }
        }
        Self {
            layout,
            periodic: std::sync::Arc::new(periodic),
        }
    }

    /// The layout.
    pub fn layout(&self) -> &OodLayout {
        &self.layout
    }

    /// The trace of the children whose inputs are `children` (each in [`OodLayout::inputs`]
    /// order), one block each, then padding blocks up to a power of two and at least
    /// `min_height` rows; `None` if a child's program meets an inversion of zero (no trace
    /// exists: the native verifier rejects that child).
    pub fn generate_trace(
        &self,
        children: &[Vec<Challenge>],
        min_height: usize,
    ) -> Option<RowMajorMatrix<F>> {
        let l = self.layout.rows.len();
        let height = (children.len() * l).max(min_height).next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        let padding = self.layout.padding_inputs();
        let padding_run = self.layout.run(&padding).expect("padding runs");
        for (b, block) in trace.chunks_exact_mut(l * WIDTH).enumerate() {
            let run;
            let z = match children.get(b) {
                Some(values) => {
                    run = self.layout.run(values)?;
                    &run
                }
                None => &padding_run,
            };
            for (r, (row, s)) in block
                .chunks_exact_mut(WIDTH)
                .zip(&self.layout.rows)
                .enumerate()
            {
                row[TRANSCRIPT] = F::from_usize(b);
                row[ACTIVE] = F::from_bool(b < children.len());
                for c in 0..NUM_MIRRORS {
                    row[MIRRORS + c] = self.periodic[c][r];
                }
                if s.reads_x() {
                    row[X..X + D].copy_from_slice(&ext::coords(z[s.x as usize]));
                }
                if s.reads_y() {
                    row[Y..Y + D].copy_from_slice(&ext::coords(z[s.y as usize]));
                }
                row[Z..Z + D].copy_from_slice(&ext::coords(z[r]));
            }
        }
        Some(RowMajorMatrix::new(trace, WIDTH))
    }
}

verifier_base_air!(OodAir, |_: &OodAir| WIDTH);

impl<AB> Air<AB> for OodAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: Vec<AB::Var> = main.current_slice().to_vec();
        let next: Vec<AB::Var> = main.next_slice().to_vec();
        let p = crate::aggregate::air::periodic_exprs(builder);
        let e = |at: usize| -> [AB::Expr; D] { core::array::from_fn(|i| row[at + i].into()) };
        let (x, y, z) = (e(X), e(Y), e(Z));

        builder.assert_bool(row[ACTIVE]);
        for c in 0..NUM_MIRRORS {
            builder.assert_eq(row[MIRRORS + c], p[c].clone());
        }
        // The row's operation.
        let xy = ext::mul(&x, &y);
        let defines = p[P_ADD].clone()
            + p[P_SUB].clone()
            + p[P_MUL].clone()
            + p[P_COPY].clone()
            + p[P_CONST].clone();
        for i in 0..D {
            let value = p[P_ADD].clone() * (x[i].clone() + y[i].clone())
                + p[P_SUB].clone() * (x[i].clone() - y[i].clone())
                + p[P_MUL].clone() * xy[i].clone()
                + p[P_COPY].clone() * x[i].clone()
                + p[P_CONST].clone() * p[P_K + i].clone();
            builder.assert_zero(defines.clone() * z[i].clone() - value);
            builder.assert_zero(p[P_ZERO].clone() * x[i].clone());
        }
        let zx = ext::mul(&z, &x);
        builder.assert_zero(p[P_INV].clone() * (zx[0].clone() - AB::Expr::ONE));
        for t in &zx[1..] {
            builder.assert_zero(p[P_INV].clone() * t.clone());
        }
        {
            let within = AB::Expr::ONE - p[P_LAST].clone();
            let mut t = builder.when_transition();
            t.assert_zero(within.clone() * (next[TRANSCRIPT] - row[TRANSCRIPT]));
            t.assert_zero(within * (next[ACTIVE] - row[ACTIVE]));
        }

        let wire = PermutationCheckBus::new(OOD_WIRE_BUS);
        let message = |id: usize, at: usize| -> Vec<AB::Expr> {
            let mut m: Vec<AB::Expr> = vec![row[TRANSCRIPT].into(), row[MIRRORS + id].into()];
            m.extend((0..D).map(|i| row[at + i].into()));
            m
        };
        wire.send(
            builder,
            message(0, Z),
            Count::bounded(row[ACTIVE] * row[MIRRORS + 3], MAX_USES),
        );
        wire.receive(
            builder,
            message(1, X),
            Count::bounded(row[ACTIVE] * row[MIRRORS + 5], 1),
        );
        wire.receive(
            builder,
            message(2, Y),
            Count::bounded(row[ACTIVE] * row[MIRRORS + 6], 1),
        );
        PermutationCheckBus::new(OOD_INPUT_BUS).receive(
            builder,
            message(4, Z),
            Count::bounded(row[ACTIVE] * row[MIRRORS + 7], 1),
        );
    }
}

#[cfg(test)]
mod tests {
    //! A real child's out-of-domain check run in the AIR, and each forgery caught by the check
    //! that should catch it.

    use std::collections::BTreeSet;

    use super::*;
    use crate::aggregate::recursion::harness::{
        has_constraint, only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::recursion::ood::tests::real_child;
    use crate::aggregate::recursion::ood::Row;
    use crate::aggregate::recursion::schedule::TranscriptSchedule;

    /// The AIR of a real child's check and the child's inputs.
    fn setup() -> (OodAir, Vec<Challenge>) {
        let child = real_child();
        let program = Program::ood_check(&child.airs, &child.lookups, &child.shapes);
        let schedule =
            TranscriptSchedule::new(&child.preset, &child.airs, &child.lookups, &child.shapes);
        let layout =
            OodLayout::new(&program, |i| schedule.input_position(i)).expect("positioned inputs");
        // An input off the transcript has no key: refused.
        assert!(OodLayout::new(&program, |i| (i != Input::Zeta).then_some(0)).is_err());
        let values = layout.inputs.iter().map(|&i| child.input(i)).collect();
        (OodAir::new(layout), values)
    }

    /// What the AIRs holding the children's values send on the input bus, keyed by position.
    fn sent(air: &OodAir, children: &[Vec<Challenge>]) -> Vec<Vec<F>> {
        let mut out = Vec::new();
        let positions: Vec<u32> = {
            let mut p = vec![0; air.layout().inputs.len()];
            for r in &air.layout().rows {
                if r.kind == RowKind::Input {
                    p[r.input as usize] = r.code;
                }
            }
            p
        };
        for (t, values) in children.iter().enumerate() {
            for (&code, v) in positions.iter().zip(values) {
                let mut m = vec![F::from_usize(t), F::from_u32(code)];
                m.extend(ext::coords(*v));
                out.push(m);
            }
        }
        out
    }

    fn batch(air: &OodAir, trace: RowMajorMatrix<F>, sent: &[Vec<F>]) -> Batch {
        let known = KnownAir::new(OOD_INPUT_BUS, 2 + D, true, sent);
        Batch {
            airs: vec![TestAir::Ood(air.clone()), TestAir::Known(known.clone())],
            traces: vec![trace, known.trace()],
            buses: vec![OOD_WIRE_BUS, OOD_INPUT_BUS],
        }
    }

    fn code(air: &OodAir, input: Input) -> usize {
        air.layout().inputs.binary_search(&input).expect("an input")
    }

    #[test]
    fn a_real_childs_check_runs_in_the_air_and_a_forged_value_is_caught() {
        let (air, values) = setup();
        let layout = air.layout();
        assert!(layout.rows.iter().all(|r| r.uses <= MAX_USES));
        let zeros = layout
            .rows
            .iter()
            .filter(|r| r.kind == RowKind::Zero)
            .count();
        assert_eq!(
            zeros, 5,
            "one output per AIR of the child, and the terminals' sum"
        );

        let children = vec![values.clone()];
        let trace = air.generate_trace(&children, MIN_HEIGHT).expect("runs");
        let b = batch(&air, trace, &sent(&air, &children));
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();

        // The child's own opened value forged (the transcript holds it too): the check's
        // output is not zero, and only its constraint fails.
        let forged = code(
            &air,
            Input::Main {
                instance: 1,
                row: Row::Local,
                column: 7,
            },
        );
        let mut other = values.clone();
        other[forged] += Challenge::ONE;
        let children = vec![other.clone()];
        let trace = air.generate_trace(&children, MIN_HEIGHT).expect("runs");
        batch(&air, trace, &sent(&air, &children)).caught(only_constraints);

        // The trace runs on a value the other AIRs do not vouch for: the input bus.
        let trace = air.generate_trace(&[other], MIN_HEIGHT).expect("runs");
        batch(&air, trace, &sent(&air, std::slice::from_ref(&values)))
            .caught(|f| f.contains(&Failed::Bus(OOD_INPUT_BUS)));
    }

    #[test]
    fn a_wrong_operation_or_an_inactive_block_is_caught() {
        let (air, values) = setup();
        let children = vec![values];
        let s = sent(&air, &children);
        let honest = air.generate_trace(&children, MIN_HEIGHT).expect("runs");
        // One row of each operation with another value: its constraint, and the readers of
        // the value it sends.
        for kind in [
            RowKind::Add,
            RowKind::Sub,
            RowKind::Mul,
            RowKind::Inv,
            RowKind::Constant,
        ] {
            let r = air
                .layout()
                .rows
                .iter()
                .position(|x| x.kind == kind)
                .expect("a row");
            let mut trace = honest.clone();
            trace.values[r * WIDTH + Z + 2] += F::ONE;
            let failed = batch(&air, trace.clone(), &s).failed();
            assert!(has_constraint(&failed), "{kind:?}: {failed:?}");
            if air.layout().rows[r].uses > 0 {
                assert!(
                    failed.contains(&Failed::Bus(OOD_WIRE_BUS)),
                    "{kind:?}: {failed:?}"
                );
            }
            assert!(batch(&air, trace, &s).prove_and_verify().is_err());
        }
        // A copied or read operand that is not its source's value: the wire bus only.
        let r = air
            .layout()
            .rows
            .iter()
            .position(|x| x.kind == RowKind::Mul)
            .expect("a row");
        let mut trace = honest.clone();
        let (x, y) = (
            air.layout().rows[r].x as usize,
            air.layout().rows[r].y as usize,
        );
        // Read x's value as it would be with y's: the product follows, the source does not.
        let xv = ext::element(
            trace.values[x * WIDTH + Z..x * WIDTH + Z + D]
                .try_into()
                .unwrap(),
        );
        let yv = ext::element(
            trace.values[y * WIDTH + Z..y * WIDTH + Z + D]
                .try_into()
                .unwrap(),
        );
        let forged_x = xv + Challenge::ONE;
        trace.values[r * WIDTH + X..r * WIDTH + X + D].copy_from_slice(&ext::coords(forged_x));
        let z = forged_x * yv;
        trace.values[r * WIDTH + Z..r * WIDTH + Z + D].copy_from_slice(&ext::coords(z));
        let failed = batch(&air, trace, &s).failed();
        assert!(failed.contains(&Failed::Bus(OOD_WIRE_BUS)), "{failed:?}");
        // An inactive block receives no input: the input bus.
        let mut trace = honest;
        let l = air.layout().rows.len();
        for r in 0..l {
            trace.values[r * WIDTH + ACTIVE] = F::ZERO;
        }
        batch(&air, trace, &s).caught(|f| f == &BTreeSet::from([Failed::Bus(OOD_INPUT_BUS)]));
    }
}
