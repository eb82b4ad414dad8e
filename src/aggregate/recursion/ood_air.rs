//! `OodAir`: a [`Program`] (the out-of-domain check of a child's batch, [`super::ood`]) run in
//! an AIR, one row per *form*, its outputs held to zero.
//!
//! **Forms.** A defining row computes `z = sum_i a_i x_i + c x_0 x_1 + d` over the quintic
//! extension, from up to [`SLOTS`] operands `x_i` and [`IMMEDIATES`] constants `a_i, c, d` the
//! verifier fixes; an inversion's row computes `z = 1 / (x_0 + d)`. [`OodLayout::new`] covers
//! the program's nodes with such rows:
//! - a constant never takes a row: it becomes an immediate;
//! - a node read once is folded into its reader's form while the form still fits the slots
//!   and one product, so a scaling, a sum of scaled terms or a Horner step (`acc * alpha + t`)
//!   is one row, and an inversion absorbs the shift of `1 / (y - w^j)`;
//! - an input read once is received in its reader's last slot;
//! - a node read more than once, an inversion and an output take a row of their own;
//! - a node no output depends on takes none.
//!
//! For a child of 2 signatures this turns about 23,500 program nodes into 7,683 rows: one
//! block of 8,192.
//!
//! **Layout ([`OodLayout`]).** One block per child transcript, the same schedule in every
//! block, padded to a power of two. A row's value `z` (five coordinates) is sent as a *wire*
//! `(transcript, row, z)` on `"ood-wire"`, once per reader the schedule counts; a row reads
//! each operand by receiving `(transcript, operand row, value)`. A value read more than
//! [`MAX_USES`] times is passed on by copy rows (`z = x_0`), so each row's send count stays
//! below the bound LogUp's soundness needs. A row whose last slot is an input receives it as
//! `(transcript, position, value)` on `"ood-input"`, `position` the transcript position of the
//! input's first coordinate ([`super::schedule::TranscriptSchedule::input_position`]): the
//! AIRs holding the child's opened values and challenges send them under that key, once per
//! input. An output's row holds its own `z` to zero.
//!
//! **Why a row is its operation.** The operand rows, the immediates, the flags, the send
//! count and the input key are periodic columns the verifier builds from the program, so the
//! prover chooses no wiring. A defining row's constraint is its form on the coordinates; an
//! inversion's is `z (x_0 + d) = 1` (no `z` exists where `x_0 + d = 0`, where the native
//! verifier rejects too). The wire bus balances only if every read value is the value its
//! source row computed, and the input bus only if every input is the value the other AIRs
//! vouch for. So an active block exists only for inputs on which every output of the program
//! is zero: exactly the native check ([`Program::outputs`]); `layout_runs_the_program` tests
//! that the rows compute the program's nodes.
//!
//! Padding blocks (`active = 0`) send and receive nothing; their rows still satisfy every
//! row's constraint (the trace runs the program on inputs that are zero except `zeta`, set to
//! `X`, where no inversion meets zero), except the outputs' zero, which only active blocks
//! assert.

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
/// Operand slots of a row: the product reads the first two, an input arrives in the last.
pub const SLOTS: usize = 4;
/// Immediates of a row: a coefficient per slot, then `c` and `d`.
pub const IMMEDIATES: usize = SLOTS + 2;
/// Index of `c`, the product's coefficient, among the immediates.
pub const C: usize = SLOTS;
/// Index of `d`, the constant term (an inversion's shift), among the immediates.
pub const K: usize = SLOTS + 1;

/// What a row computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Nothing (padding at the end of a block).
    Pad,
    /// `z = sum_i a_i x_i + c x_0 x_1 + d`.
    Form,
    /// `z * (x_0 + d) = 1`.
    Inv,
}

/// One row of the schedule.
#[derive(Clone, Copy, Debug)]
pub struct RowSpec {
    /// The operation.
    pub kind: RowKind,
    /// Operand rows, `None` where the slot is unread or (the last) an input.
    pub operands: [Option<u32>; SLOTS],
    /// Whether the last slot is an input received on the input bus rather than a row's value.
    pub input_slot: bool,
    /// How many rows read this row's value.
    pub uses: u32,
    /// The input's transcript position, its key on the input bus (where `input_slot`).
    pub code: u32,
    /// The input's index in [`OodLayout::inputs`] (where `input_slot`).
    pub input: u32,
    /// Whether the row is an output of the program, held to zero in active blocks.
    pub zero: bool,
    /// The immediates: a coefficient per slot, `c` (of `x_0 x_1`, at [`C`]) and `d` (at [`K`]).
    pub k: [Challenge; IMMEDIATES],
}

impl RowSpec {
    fn new(kind: RowKind) -> Self {
        RowSpec {
            kind,
            operands: [None; SLOTS],
            input_slot: false,
            uses: 0,
            code: 0,
            input: 0,
            zero: false,
            k: [Challenge::ZERO; IMMEDIATES],
        }
    }

    /// The row's value from its slots' values `v` (zero for an unread slot; the last the
    /// input where the row has one); `None` where an inversion meets zero.
    pub fn value(&self, v: [Challenge; SLOTS]) -> Option<Challenge> {
        let (c, d) = (self.k[C], self.k[K]);
        Some(match self.kind {
            RowKind::Pad => Challenge::ZERO,
            RowKind::Form => {
                (0..SLOTS).map(|i| self.k[i] * v[i]).sum::<Challenge>() + c * v[0] * v[1] + d
            }
            RowKind::Inv => (v[0] + d).try_inverse()?,
        })
    }
}

/// The linear terms `(node, coefficient)` of a [`Form`], inline: a form that fits a row has at
/// most [`SLOTS`], and the sum of two such forms, before it is checked to fit, at most twice
/// that. (A form is made, and often copied, for every node of a program laid out; inline terms
/// spare a heap allocation each, which took the bar's Type-2 derivation from 96-103 ms to
/// 87-92 ms.)
#[derive(Clone, Copy, Debug)]
struct Terms {
    len: usize,
    items: [(u32, Challenge); 2 * SLOTS],
}

impl Terms {
    const EMPTY: Terms = Terms {
        len: 0,
        items: [(0, Challenge::ZERO); 2 * SLOTS],
    };

    fn as_slice(&self) -> &[(u32, Challenge)] {
        &self.items[..self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [(u32, Challenge)] {
        &mut self.items[..self.len]
    }

    /// Appends a term. Callers add at most [`SLOTS`] terms to a form of at most [`SLOTS`].
    fn push(&mut self, term: (u32, Challenge)) {
        self.items[self.len] = term;
        self.len += 1;
    }
}

/// A node's value as a form over other nodes: `sum coef * node + coef * p * q + coef * input
/// + d`, the nodes being rows' values and `input` an input node received in the row.
#[derive(Clone, Copy, Debug)]
struct Form {
    linear: Terms,
    product: Option<(u32, u32, Challenge)>,
    input: Option<(u32, Challenge)>,
    d: Challenge,
}

impl Form {
    fn zero() -> Self {
        Form {
            linear: Terms::EMPTY,
            product: None,
            input: None,
            d: Challenge::ZERO,
        }
    }

    fn node(n: u32) -> Self {
        let mut linear = Terms::EMPTY;
        linear.push((n, Challenge::ONE));
        Form {
            linear,
            ..Form::zero()
        }
    }

    fn input(n: u32) -> Self {
        Form {
            input: Some((n, Challenge::ONE)),
            ..Form::zero()
        }
    }

    fn constant(d: Challenge) -> Self {
        Form { d, ..Form::zero() }
    }

    fn product(p: u32, q: u32) -> Self {
        Form {
            product: Some((p, q, Challenge::ONE)),
            ..Form::zero()
        }
    }

    fn scaled(&self, k: Challenge) -> Self {
        let mut linear = self.linear;
        for t in linear.as_mut_slice() {
            t.1 *= k;
        }
        Form {
            linear,
            product: self.product.map(|(p, q, c)| (p, q, c * k)),
            input: self.input.map(|(n, c)| (n, c * k)),
            d: self.d * k,
        }
    }

    /// `self + k * other`, if it fits a row.
    fn plus(&self, other: &Form, k: Challenge) -> Option<Form> {
        let mut linear = self.linear;
        for &(n, c) in other.linear.as_slice() {
            match linear.as_mut_slice().iter_mut().find(|(m, _)| *m == n) {
                Some(t) => t.1 += c * k,
                None => linear.push((n, c * k)),
            }
        }
        let product = match (self.product, other.product) {
            (Some((p, q, c)), Some((r, s, e))) if (p, q) == (r, s) => Some((p, q, c + e * k)),
            (Some(_), Some(_)) => return None,
            (Some(t), None) => Some(t),
            (None, Some((p, q, c))) => Some((p, q, c * k)),
            (None, None) => None,
        };
        let input = match (self.input, other.input) {
            (Some((n, c)), Some((m, e))) if n == m => Some((n, c + e * k)),
            (Some(_), Some(_)) => return None,
            (Some(t), None) => Some(t),
            (None, Some((n, c))) => Some((n, c * k)),
            (None, None) => None,
        };
        let f = Form {
            linear,
            product,
            input,
            d: self.d + other.d * k,
        };
        f.slots().map(|_| f)
    }

    /// The form as a row's operand slots and immediates: the product on the first two slots,
    /// an input on the last, the other linear terms on the free slots; `None` if it does not
    /// fit.
    fn slots(&self) -> Option<([Option<u32>; SLOTS], [Challenge; IMMEDIATES])> {
        let mut slots = [None; SLOTS];
        let mut k = [Challenge::ZERO; IMMEDIATES];
        k[K] = self.d;
        let mut free = 0;
        if let Some((p, q, c)) = self.product {
            slots[0] = Some(p);
            slots[1] = Some(q);
            k[C] = c;
            free = 2;
        }
        let wire_slots = if let Some((_, c)) = self.input {
            k[SLOTS - 1] = c;
            SLOTS - 1
        } else {
            SLOTS
        };
        for &(n, c) in self.linear.as_slice() {
            match slots[..free].iter().position(|&s| s == Some(n)) {
                Some(i) => k[i] += c,
                None if free < wire_slots => {
                    slots[free] = Some(n);
                    k[free] = c;
                    free += 1;
                }
                None => return None,
            }
        }
        Some((slots, k))
    }
}

/// A program laid out as rows: forms and inversions, copy rows for values read more than
/// [`MAX_USES`] times, padding to a power of two. Nodes no output depends on are left out.
#[derive(Clone, Debug)]
pub struct OodLayout {
    /// The rows of one block.
    pub rows: Vec<RowSpec>,
    /// The inputs the outputs depend on, sorted; a row's `input` is an index here.
    pub inputs: Vec<Input>,
    /// The row holding each node's value, where one does (a node folded into its reader's
    /// form, or one no output depends on, has none).
    pub row_of: Vec<Option<u32>>,
}

impl OodLayout {
    /// The rows of the block that compute: its length less the padding at its end.
    pub fn live_rows(&self) -> usize {
        self.rows.iter().filter(|r| r.kind != RowKind::Pad).count()
    }

    /// Lays `program` out, each input keyed by `position(input)`.
    ///
    /// # Errors
    /// If an input has no position (not a transcript element).
    pub fn new(
        program: &Program,
        position: impl Fn(Input) -> Option<usize>,
    ) -> Result<Self, String> {
        let n = program.nodes.len();
        let operands = |node: &Node| -> ([u32; 2], usize) {
            match *node {
                Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) => ([a, b], 2),
                Node::Inv(a) => ([a, 0], 1),
                Node::Input(_) | Node::Constant(_) => ([0, 0], 0),
            }
        };
        let mut output = vec![false; n];
        let mut live = vec![false; n];
        for &o in &program.outputs {
            output[o as usize] = true;
            live[o as usize] = true;
        }
        for i in (0..n).rev() {
            if live[i] {
                let (ops, k) = operands(&program.nodes[i]);
                for &o in &ops[..k] {
                    live[o as usize] = true;
                }
            }
        }
        let mut reads = vec![0u32; n];
        for (i, node) in program.nodes.iter().enumerate() {
            if live[i] {
                let (ops, k) = operands(node);
                for &o in &ops[..k] {
                    reads[o as usize] += 1;
                }
            }
        }
        let constant = |i: u32| match program.nodes[i as usize] {
            Node::Constant(c) => Some(c),
            _ => None,
        };

        // Cover the nodes with forms. A node takes a row when read more than once, when it is
        // an inversion or an output, or when its reader's form cannot absorb it.
        let mut has_row: Vec<bool> = (0..n)
            .map(|i| {
                live[i]
                    && (output[i]
                        || match program.nodes[i] {
                            Node::Constant(_) => false,
                            Node::Inv(_) => true,
                            _ => reads[i] > 1,
                        })
            })
            .collect();
        // An inversion's row inverts `x_0 + d`, `x_0` a row.
        let mut inverts: Vec<(u32, Challenge)> = vec![(0, Challenge::ZERO); n];
        let mut forms: Vec<Form> = Vec::with_capacity(n);
        for (i, node) in program.nodes.iter().enumerate() {
            if !live[i] {
                forms.push(Form::zero());
                continue;
            }
            let form = match *node {
                Node::Input(_) => Form::input(i as u32),
                Node::Inv(a) => {
                    let f = &forms[a as usize];
                    let shifted = match (f.linear.as_slice(), f.product, f.input) {
                        ([(m, c)], None, None) if *c == Challenge::ONE => Some((*m, f.d)),
                        _ => None,
                    };
                    inverts[i] = match shifted {
                        Some(t) if !has_row[a as usize] => t,
                        _ => {
                            has_row[a as usize] = true;
                            (a, Challenge::ZERO)
                        }
                    };
                    Form::node(i as u32)
                }
                Node::Constant(c) => Form::constant(c),
                Node::Mul(p, q) => match (constant(p), constant(q)) {
                    (Some(k), _) => absorb(&forms, &mut has_row, q).scaled(k),
                    (_, Some(k)) => absorb(&forms, &mut has_row, p).scaled(k),
                    _ => {
                        has_row[p as usize] = true;
                        has_row[q as usize] = true;
                        Form::product(p, q)
                    }
                },
                Node::Add(p, q) | Node::Sub(p, q) => {
                    let k = if matches!(node, Node::Add(..)) {
                        Challenge::ONE
                    } else {
                        -Challenge::ONE
                    };
                    let view = |m: u32, inline: bool| {
                        if inline || constant(m).is_some() {
                            forms[m as usize]
                        } else {
                            Form::node(m)
                        }
                    };
                    let can = |m: u32| !has_row[m as usize];
                    let (ip, iq, f) = [(true, true), (true, false), (false, true), (false, false)]
                        .into_iter()
                        .filter(|&(ip, iq)| (!ip || can(p)) && (!iq || can(q)))
                        .find_map(|(ip, iq)| view(p, ip).plus(&view(q, iq), k).map(|f| (ip, iq, f)))
                        .expect("two rows' values fit a row");
                    if !ip {
                        has_row[p as usize] |= constant(p).is_none();
                    }
                    if !iq {
                        has_row[q as usize] |= constant(q).is_none();
                    }
                    f
                }
            };
            forms.push(form);
        }

        let mut inputs: Vec<Input> = program
            .nodes
            .iter()
            .zip(&live)
            .filter_map(|(n, &l)| match n {
                Node::Input(i) if l => Some(*i),
                _ => None,
            })
            .collect();
        inputs.sort();

        // Each row's spec over operand nodes, and the reads of each node's row.
        let mut specs: Vec<(usize, RowSpec, [Option<u32>; SLOTS])> = Vec::new();
        let mut row_reads = vec![0u32; n];
        for (i, node) in program.nodes.iter().enumerate() {
            if !has_row[i] {
                continue;
            }
            let mut spec = RowSpec::new(RowKind::Form);
            let mut operands = [None; SLOTS];
            if let Node::Inv(_) = node {
                spec.kind = RowKind::Inv;
                let (x, d) = inverts[i];
                operands[0] = Some(x);
                spec.k[K] = d;
            } else {
                let (slots, k) = forms[i].slots().expect("a form that fits");
                operands = slots;
                spec.k = k;
                if let Some((m, _)) = forms[i].input {
                    let Node::Input(input) = program.nodes[m as usize] else {
                        unreachable!("an input node")
                    };
                    spec.input_slot = true;
                    spec.input = inputs.binary_search(&input).expect("listed") as u32;
                    let at = position(input).ok_or(format!("{input:?} has no position"))?;
                    spec.code = u32::try_from(at).map_err(|e| e.to_string())?;
                }
            }
            spec.zero = output[i];
            for o in operands.iter().flatten() {
                debug_assert!(has_row[*o as usize], "an operand with a row");
                row_reads[*o as usize] += 1;
            }
            specs.push((i, spec, operands));
        }

        let mut rows: Vec<RowSpec> = Vec::with_capacity(specs.len() + specs.len() / 16);
        let mut row_of = vec![None; n];
        let mut supply: Vec<Option<Supply>> = (0..n).map(|_| None).collect();
        for (i, mut spec, operands) in specs {
            for (slot, o) in spec.operands.iter_mut().zip(operands) {
                *slot = o.map(|o| {
                    take(
                        &mut rows,
                        supply[o as usize].as_mut().expect("an earlier row"),
                    )
                });
            }
            let first = rows.len() as u32;
            row_of[i] = Some(first);
            rows.push(spec);
            // Copies: rows after the node's, each fed one read of the previous.
            let r = row_reads[i];
            let copies = if r > MAX_USES {
                (r - MAX_USES).div_ceil(MAX_USES - 1)
            } else {
                0
            };
            let mut chain = vec![first];
            for c in 0..copies {
                let prev = first + c;
                rows[prev as usize].uses += 1;
                let mut copy = RowSpec::new(RowKind::Form);
                copy.operands[0] = Some(prev);
                copy.k[0] = Challenge::ONE;
                chain.push(rows.len() as u32);
                rows.push(copy);
            }
            supply[i] = Some(Supply {
                chain,
                at: 0,
                used: 0,
            });
        }
        let len = rows.len().next_power_of_two().max(2);
        rows.resize(len, RowSpec::new(RowKind::Pad));
        Ok(OodLayout {
            rows,
            inputs,
            row_of,
        })
    }

    /// Every row's value on the inputs `values` (in [`OodLayout::inputs`] order); `None` where
    /// an inversion meets zero.
    pub fn run(&self, values: &[Challenge]) -> Option<Vec<Challenge>> {
        let mut z: Vec<Challenge> = Vec::with_capacity(self.rows.len());
        for s in &self.rows {
            let v = self.slot_values(s, &z, values);
            z.push(s.value(v)?);
        }
        Some(z)
    }

    /// The values of a row's slots: its operand rows' values in `z`, the last from `values`
    /// where it is an input.
    fn slot_values(
        &self,
        s: &RowSpec,
        z: &[Challenge],
        values: &[Challenge],
    ) -> [Challenge; SLOTS] {
        let mut v = s
            .operands
            .map(|o| o.map_or(Challenge::ZERO, |o| z[o as usize]));
        if s.input_slot {
            v[SLOTS - 1] = values[s.input as usize];
        }
        v
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

/// The form of node `m` for a reader that absorbs it where it may (read once, no row yet), or
/// a reference to its row (which it then takes).
fn absorb(forms: &[Form], has_row: &mut [bool], m: u32) -> Form {
    if has_row[m as usize] {
        Form::node(m)
    } else {
        forms[m as usize]
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
/// Mirrors of the periodic row id, operand rows (one per slot), send count, input key, read
/// flags (one per slot) and input flag: the buses' messages and counts read main columns.
const MIRRORS: usize = 2;
const M_ID: usize = 0;
const M_OPERAND: usize = 1;
const M_USES: usize = M_OPERAND + SLOTS;
const M_CODE: usize = M_USES + 1;
const M_READ: usize = M_CODE + 1;
const M_IS_INPUT: usize = M_READ + SLOTS;
const NUM_MIRRORS: usize = M_IS_INPUT + 1;
/// Operand values, one group of five coordinates per slot, then `z`.
const OPERANDS: usize = MIRRORS + NUM_MIRRORS;
const Z: usize = OPERANDS + SLOTS * D;
const WIDTH: usize = Z + D;

// Periodic columns: the mirrored ones first (same order), then the flags and the immediates.
const P_LAST: usize = NUM_MIRRORS;
const P_DEFINES: usize = P_LAST + 1;
const P_INV: usize = P_DEFINES + 1;
const P_ZERO: usize = P_INV + 1;
const P_K: usize = P_ZERO + 1;
const NUM_PERIODIC: usize = P_K + IMMEDIATES * D;

/// The AIR running one [`OodLayout`] per child transcript.
#[derive(Clone, Debug)]
pub struct OodAir {
    layout: std::sync::Arc<OodLayout>,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(OodAir);

impl OodAir {
    /// The AIR of `layout` (a verifier's shapes share one layout per child size: [`OodAir`] is
    /// cheap to clone).
    pub fn new(layout: impl Into<std::sync::Arc<OodLayout>>) -> Self {
        let layout = layout.into();
        let l = layout.rows.len();
        let mut periodic = vec![vec![F::ZERO; l]; NUM_PERIODIC];
        for (r, s) in layout.rows.iter().enumerate() {
            let mut mirrors = [0u32; NUM_MIRRORS];
            mirrors[M_ID] = r as u32;
            for (i, o) in s.operands.iter().enumerate() {
                mirrors[M_OPERAND + i] = o.unwrap_or(0);
                mirrors[M_READ + i] = u32::from(o.is_some());
            }
            mirrors[M_USES] = s.uses;
            mirrors[M_CODE] = s.code;
            mirrors[M_IS_INPUT] = u32::from(s.input_slot);
            for (c, v) in mirrors.into_iter().enumerate() {
                periodic[c][r] = F::from_u32(v);
            }
            periodic[P_LAST][r] = F::from_bool(r + 1 == l);
            periodic[P_DEFINES][r] = F::from_bool(s.kind == RowKind::Form);
            periodic[P_INV][r] = F::from_bool(s.kind == RowKind::Inv);
            periodic[P_ZERO][r] = F::from_bool(s.zero);
            for (j, k) in s.k.iter().enumerate() {
                for (i, c) in ext::coords(*k).into_iter().enumerate() {
                    periodic[P_K + j * D + i][r] = c;
                }
            }
        }
        Self {
            layout,
            periodic: std::sync::Arc::new(periodic),
            first: 0,
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
            let (values, z) = match children.get(b) {
                Some(values) => {
                    run = self.layout.run(values)?;
                    (values, &run)
                }
                None => (&padding, &padding_run),
            };
            for (r, (row, s)) in block
                .chunks_exact_mut(WIDTH)
                .zip(&self.layout.rows)
                .enumerate()
            {
                row[TRANSCRIPT] = F::from_usize(self.first as usize + b);
                row[ACTIVE] = F::from_bool(b < children.len());
                for c in 0..NUM_MIRRORS {
                    row[MIRRORS + c] = self.periodic[c][r];
                }
                let v = self.layout.slot_values(s, z, values);
                for (i, v) in v.into_iter().enumerate() {
                    let at = OPERANDS + i * D;
                    row[at..at + D].copy_from_slice(&ext::coords(v));
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
        let k =
            |j: usize| -> [AB::Expr; D] { core::array::from_fn(|i| p[P_K + j * D + i].clone()) };
        let slot: Vec<[AB::Expr; D]> = (0..SLOTS).map(|s| e(OPERANDS + s * D)).collect();
        let z = e(Z);

        builder.assert_bool(row[ACTIVE]);
        for c in 0..NUM_MIRRORS {
            builder.assert_eq(row[MIRRORS + c], p[c].clone());
        }
        // The row's form: zero on the rows that do not define `z`, whose immediates are zero.
        let xy = ext::mul(&slot[0], &slot[1]);
        let mut terms: Vec<[AB::Expr; D]> = (0..SLOTS).map(|s| ext::mul(&k(s), &slot[s])).collect();
        terms.push(ext::mul(&k(C), &xy));
        let d = k(K);
        for i in 0..D {
            let value = terms
                .iter()
                .fold(AB::Expr::ZERO, |acc, t| acc + t[i].clone());
            // `d` is the shift of an inversion's row, so it counts only where `z` is defined.
            builder.assert_zero(p[P_DEFINES].clone() * (z[i].clone() - d[i].clone()) - value);
            builder.assert_zero(p[P_ZERO].clone() * row[ACTIVE] * z[i].clone());
        }
        let zx = ext::mul(&z, &ext::add(&slot[0], &d));
        builder.assert_zero(p[P_INV].clone() * (zx[0].clone() - AB::Expr::ONE));
        for t in &zx[1..] {
            builder.assert_zero(p[P_INV].clone() * t.clone());
        }
        {
            let within = AB::Expr::ONE - p[P_LAST].clone();
            let mut t = builder.when_transition();
            t.assert_zero(super::next_block_number::<AB>(
                p[P_LAST].clone(),
                row[TRANSCRIPT],
                next[TRANSCRIPT],
            ));
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
            message(M_ID, Z),
            Count::bounded(row[ACTIVE] * row[MIRRORS + M_USES], MAX_USES),
        );
        for s in 0..SLOTS {
            wire.receive(
                builder,
                message(M_OPERAND + s, OPERANDS + s * D),
                Count::bounded(row[ACTIVE] * row[MIRRORS + M_READ + s], 1),
            );
        }
        PermutationCheckBus::new(OOD_INPUT_BUS).receive(
            builder,
            message(M_CODE, OPERANDS + (SLOTS - 1) * D),
            Count::bounded(row[ACTIVE] * row[MIRRORS + M_IS_INPUT], 1),
        );
        super::first_block_number(builder, self.first, row[TRANSCRIPT]);
    }
}
#[cfg(test)]
pub(crate) mod tests {
    //! A real child's out-of-domain check run in the AIR, and each forgery caught by the check
    //! that should catch it.

    use std::collections::BTreeSet;

    use super::*;
    use crate::aggregate::recursion::harness::{
        has_constraint, only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::recursion::ood::tests::{real_child, Child};
    use crate::aggregate::recursion::ood::{OodTemplate, Row};
    use crate::aggregate::recursion::schedule::TranscriptSchedule;

    #[test]
    fn the_templates_check_takes_the_block_of_a_statements_own() {
        let (child, template, air, _) = setup();
        let concrete = Program::ood_check(&child.airs, &child.lookups, &child.shapes);
        let schedule =
            TranscriptSchedule::new(&child.preset, &child.airs, &child.lookups, &child.shapes);
        let own = OodLayout::new(&concrete, |i| schedule.input_position(i)).expect("positioned");
        let live = OodLayout::live_rows;
        let params = air
            .layout()
            .inputs
            .iter()
            .filter(|i| matches!(i, Input::Param { .. }))
            .count();
        eprintln!(
            "statement's program {} nodes, {} rows; template's {} nodes, {} rows, {params} \
             parameters; block {}",
            concrete.nodes.len(),
            live(&own),
            template.nodes.len(),
            live(air.layout()),
            air.layout().rows.len()
        );
        assert_eq!(air.layout().rows.len(), own.rows.len());
        assert_eq!(
            params,
            OodTemplate::parameters(&child.message, child.epoch)
                .iter()
                .map(Vec::len)
                .sum::<usize>()
        );
    }

    /// The real child, its program (the signature batch's template, as a parent's verifier
    /// derives it), the AIR of its check and the child's inputs.
    pub(crate) fn setup() -> (Child, Program, OodAir, Vec<Challenge>) {
        let child = real_child();
        let t = OodTemplate::new(OodTemplate::carry(child.epoch));
        let program = Program::ood_check_with(&t.airs, &child.lookups, &child.shapes, &t.params);
        let schedule =
            TranscriptSchedule::new(&child.preset, &child.airs, &child.lookups, &child.shapes);
        let layout =
            OodLayout::new(&program, |i| schedule.input_position(i)).expect("positioned inputs");
        // An input off the transcript has no key: refused.
        assert!(OodLayout::new(&program, |i| (i != Input::Zeta).then_some(0)).is_err());
        let values = layout.inputs.iter().map(|&i| child.input(i)).collect();
        (child, program, OodAir::new(layout), values)
    }

    /// What the AIRs holding the children's values send on the input bus, keyed by position.
    fn sent(air: &OodAir, children: &[Vec<Challenge>]) -> Vec<Vec<F>> {
        sent_where(air, children, |_| true)
    }

    /// The input bus's messages of the inputs `keep` selects.
    pub(crate) fn sent_where(
        air: &OodAir,
        children: &[Vec<Challenge>],
        keep: impl Fn(Input) -> bool,
    ) -> Vec<Vec<F>> {
        let mut out = Vec::new();
        let positions: Vec<u32> = {
            let mut p = vec![0; air.layout().inputs.len()];
            for r in &air.layout().rows {
                if r.input_slot {
                    p[r.input as usize] = r.code;
                }
            }
            p
        };
        for (t, values) in children.iter().enumerate() {
            for ((&code, v), &input) in positions.iter().zip(values).zip(&air.layout().inputs) {
                if !keep(input) {
                    continue;
                }
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
    fn layout_runs_the_program() {
        let (child, program, air, values) = setup();
        let layout = air.layout();
        assert!(layout.rows.iter().all(|r| r.uses <= MAX_USES));
        // Every row's operands come before it, and every read is counted at its source.
        let mut reads = vec![0u32; layout.rows.len()];
        for (r, s) in layout.rows.iter().enumerate() {
            for o in s.operands.iter().flatten() {
                assert!((*o as usize) < r, "row {r} reads a later row {o}");
                reads[*o as usize] += 1;
            }
        }
        assert!(layout.rows.iter().zip(&reads).all(|(s, &n)| s.uses == n));
        // Each input is received once, in one row's last slot.
        let mut received: Vec<u32> = layout
            .rows
            .iter()
            .filter(|r| r.input_slot)
            .map(|r| r.input)
            .collect();
        received.sort();
        assert_eq!(
            received,
            (0..layout.inputs.len() as u32).collect::<Vec<_>>()
        );
        // Each node that has a row holds the node's value, on the child's inputs and on the
        // padding's.
        for inputs in [values, layout.padding_inputs()] {
            let nodes = program
                .evaluate(|i| {
                    // An input no output depends on is left out of the layout.
                    layout
                        .inputs
                        .binary_search(&i)
                        .map_or(Challenge::ZERO, |at| inputs[at])
                })
                .expect("no inversion of zero");
            let z = layout.run(&inputs).expect("runs");
            let mut with_rows = 0;
            for (node, row) in layout.row_of.iter().enumerate() {
                if let Some(row) = row {
                    assert_eq!(z[*row as usize], nodes[node], "node {node}");
                    with_rows += 1;
                }
            }
            // The outputs have rows, held to zero.
            for &o in &program.outputs {
                let row = layout.row_of[o as usize].expect("an output's row");
                assert!(layout.rows[row as usize].zero);
            }
            assert!(with_rows < program.nodes.len());
        }
        let zeros = layout.rows.iter().filter(|r| r.zero).count();
        assert_eq!(
            zeros,
            child.airs.len() + 1,
            "one output per AIR of the child, and the terminals' sum"
        );
    }

    #[test]
    fn a_real_childs_check_runs_in_the_air_and_a_forged_value_is_caught() {
        let (_, _, air, values) = setup();
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
        let (_, _, air, values) = setup();
        let children = vec![values];
        let s = sent(&air, &children);
        let honest = air.generate_trace(&children, MIN_HEIGHT).expect("runs");
        let rows = &air.layout().rows;
        let find = |what: &str, f: &dyn Fn(&RowSpec) -> bool| -> usize {
            rows.iter()
                .position(|r| r.uses > 0 && f(r))
                .unwrap_or_else(|| panic!("a row with {what}"))
        };
        // One row of each shape with another value: its constraint, and the readers of the
        // value it sends.
        let shapes = [
            find("a product", &|r| {
                r.kind == RowKind::Form && r.k[C] != Challenge::ZERO
            }),
            find("three operands", &|r| {
                r.operands.iter().all(Option::is_some)
            }),
            find("a constant term", &|r| {
                r.kind == RowKind::Form && r.k[K] != Challenge::ZERO
            }),
            find("an inversion", &|r| r.kind == RowKind::Inv),
            find("an input", &|r| r.input_slot),
        ];
        for r in shapes {
            let mut trace = honest.clone();
            trace.values[r * WIDTH + Z + 2] += F::ONE;
            let failed = batch(&air, trace.clone(), &s).failed();
            assert!(has_constraint(&failed), "{:?}: {failed:?}", rows[r]);
            assert!(
                failed.contains(&Failed::Bus(OOD_WIRE_BUS)),
                "{:?}: {failed:?}",
                rows[r]
            );
            assert!(batch(&air, trace, &s).prove_and_verify().is_err());
        }
        // An operand that is not its source's value, the row's value following it: the wire
        // bus only.
        let r = shapes[1];
        let spec = rows[r];
        let mut trace = honest.clone();
        let at = r * WIDTH + OPERANDS + (SLOTS - 1) * D;
        let forged = ext::element(trace.values[at..at + D].try_into().unwrap()) + Challenge::ONE;
        trace.values[at..at + D].copy_from_slice(&ext::coords(forged));
        let v: [Challenge; SLOTS] = core::array::from_fn(|s| {
            let at = r * WIDTH + OPERANDS + s * D;
            ext::element(trace.values[at..at + D].try_into().unwrap())
        });
        let z = spec.value(v).expect("a form");
        trace.values[r * WIDTH + Z..r * WIDTH + Z + D].copy_from_slice(&ext::coords(z));
        let failed = batch(&air, trace, &s).failed();
        assert!(failed.contains(&Failed::Bus(OOD_WIRE_BUS)), "{failed:?}");
        assert!(!has_constraint(&failed), "{failed:?}");
        // An inactive block receives no input: the input bus.
        let mut trace = honest;
        for r in 0..rows.len() {
            trace.values[r * WIDTH + ACTIVE] = F::ZERO;
        }
        batch(&air, trace, &s).caught(|f| f == &BTreeSet::from([Failed::Bus(OOD_INPUT_BUS)]));
    }
}
