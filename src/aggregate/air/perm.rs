//! The Poseidon1 permutation columns shared by the width-16 and width-24 AIRs.
//!
//! Each AIR row that proves one permutation starts with the columns of
//! [`p3_poseidon1_air::Poseidon1Cols`] (one permutation per row: the input state, the committed
//! post-MDS states of the 8 full rounds and the committed S-box output of every partial round)
//! and appends its own columns after them. The permutation constraints are those of
//! [`p3_poseidon1_air::Poseidon1Air`], evaluated on the row's first [`PERM16_COLS`] /
//! [`PERM24_COLS`] columns through [`PrefixBuilder`], so the arithmetization is Plonky3's own,
//! with the round constants of `p3_koala_bear::default_koalabear_poseidon1_16/24` (the leanSig
//! permutations, checked by the tests below).

use core::mem::MaybeUninit;

use p3_air::{AirBuilder, WindowAccess};
use p3_koala_bear::{
    KOALABEAR_POSEIDON_HALF_FULL_ROUNDS, KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16,
    KOALABEAR_POSEIDON_PARTIAL_ROUNDS_24, KOALABEAR_S_BOX_DEGREE,
};
use p3_poseidon1_air::{
    generate_trace_rows_for_perm, num_cols, FullRoundConstants, PartialRoundConstants,
    Poseidon1Air, Poseidon1Cols,
};

use p3_field::PrimeCharacteristicRing;
use p3_matrix::dense::RowMajorMatrix;

use crate::xmss::F;

/// S-box registers per S-box: none, the x^3 S-box is evaluated directly (constraint degree 3).
const SBOX_REGISTERS: usize = 0;
const HALF_FULL: usize = KOALABEAR_POSEIDON_HALF_FULL_ROUNDS;
const PARTIAL_16: usize = KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16;
const PARTIAL_24: usize = KOALABEAR_POSEIDON_PARTIAL_ROUNDS_24;

/// The width-16 permutation AIR (chain steps).
pub type Perm16Air =
    Poseidon1Air<F, 16, KOALABEAR_S_BOX_DEGREE, SBOX_REGISTERS, HALF_FULL, PARTIAL_16>;
/// The width-24 permutation AIR (leaf sponge, Merkle nodes, message hash).
pub type Perm24Air =
    Poseidon1Air<F, 24, KOALABEAR_S_BOX_DEGREE, SBOX_REGISTERS, HALF_FULL, PARTIAL_24>;

/// The columns of one width-16 permutation ([`PERM16_COLS`]).
pub type Cols16<T> =
    Poseidon1Cols<T, 16, KOALABEAR_S_BOX_DEGREE, SBOX_REGISTERS, HALF_FULL, PARTIAL_16>;
/// The columns of one width-24 permutation ([`PERM24_COLS`]).
pub type Cols24<T> =
    Poseidon1Cols<T, 24, KOALABEAR_S_BOX_DEGREE, SBOX_REGISTERS, HALF_FULL, PARTIAL_24>;

/// Columns of one width-16 permutation: 16 inputs + 8 full rounds x 16 + 20 partial rounds = 164.
pub const PERM16_COLS: usize =
    num_cols::<16, KOALABEAR_S_BOX_DEGREE, SBOX_REGISTERS, HALF_FULL, PARTIAL_16>();
/// Columns of one width-24 permutation: 24 inputs + 8 full rounds x 24 + 23 partial rounds = 239.
pub const PERM24_COLS: usize =
    num_cols::<24, KOALABEAR_S_BOX_DEGREE, SBOX_REGISTERS, HALF_FULL, PARTIAL_24>();
/// Columns of a row of [`Perm24TableAir::shared`]'s trace, and of the counted permutation rows
/// an AIR hands to [`shared_table`]: a width-24 permutation's [`PERM24_COLS`], then its count.
pub const SHARED24_COLS: usize = PERM24_COLS + 1;


// The column counts the module docs and `src/aggregate/README.md` state.
const _: () = assert!(PERM16_COLS == 164 && PERM24_COLS == 239);

/// Plonky3's optimized round constants of the leanSig permutations, shared with the
/// permutations themselves (`crate::xmss::permutation`).
pub use crate::xmss::permutation::{constants16, constants24};

/// The width-16 permutation AIR, built once per process from the constants of
/// [`PermFiller::shared16`] (deriving the optimized constants costs about a millisecond, paid
/// otherwise by every verification, and once more by the filler).
pub fn perm16_air() -> std::sync::Arc<Perm16Air> {
    static AIR: std::sync::OnceLock<std::sync::Arc<Perm16Air>> = std::sync::OnceLock::new();
    AIR.get_or_init(|| {
        let f = PermFiller::shared16();
        std::sync::Arc::new(Perm16Air::new(f.full.clone(), f.partial.clone()))
    })
    .clone()
}

/// The width-24 permutation AIR, built once per process (see [`perm16_air`]).
pub fn perm24_air() -> std::sync::Arc<Perm24Air> {
    static AIR: std::sync::OnceLock<std::sync::Arc<Perm24Air>> = std::sync::OnceLock::new();
    AIR.get_or_init(|| {
        let f = PermFiller::shared24();
        std::sync::Arc::new(Perm24Air::new(f.full.clone(), f.partial.clone()))
    })
    .clone()
}

fn as_uninit(row: &mut [F]) -> &mut [MaybeUninit<F>] {
    // SAFETY: `MaybeUninit<F>` has the same layout as `F`, and every value written through the
    // returned slice is an initialized `F`.
    unsafe { &mut *(row as *mut [F] as *mut [MaybeUninit<F>]) }
}

/// Permutation trace filler for one width (holds the optimized constants).
pub struct PermFiller<const W: usize> {
    full: FullRoundConstants<F, W>,
    partial: PartialRoundConstants<F, W>,
    circ_col: [F; W],
}

impl PermFiller<16> {
    /// The width-16 filler, built once per process (deriving the optimized constants of both
    /// widths costs about 2 ms, which every proof paid before). [`perm16_air`] reuses its
    /// constants.
    pub fn shared16() -> &'static Self {
        static FILLER: std::sync::OnceLock<PermFiller<16>> = std::sync::OnceLock::new();
        FILLER.get_or_init(Self::new16)
    }

    /// Filler for width 16.
    pub fn new16() -> Self {
        let (full, partial) = constants16();
        let circ_col = core::array::from_fn(|i| full.dense_mds[i][0]);
        Self {
            full,
            partial,
            circ_col,
        }
    }

    /// Writes the permutation columns of `input` into `row[..PERM16_COLS]` and returns the
    /// permutation output `Perm16(input)`.
    pub fn fill(&self, row: &mut [F], input: [F; 16]) -> [F; 16] {
        let cols: &mut Cols16<MaybeUninit<F>> =
            core::borrow::BorrowMut::borrow_mut(as_uninit(&mut row[..PERM16_COLS]));
        generate_trace_rows_for_perm::<
            F,
            16,
            KOALABEAR_S_BOX_DEGREE,
            SBOX_REGISTERS,
            HALF_FULL,
            PARTIAL_16,
        >(cols, input, &self.full, &self.partial, &self.circ_col);
        let cols: &Cols16<F> = core::borrow::Borrow::borrow(&row[..PERM16_COLS]);
        cols.ending_full_rounds[HALF_FULL - 1].post
    }
}

impl PermFiller<24> {
    /// The width-24 filler, built once per process (see [`PermFiller::shared16`]).
    pub fn shared24() -> &'static Self {
        static FILLER: std::sync::OnceLock<PermFiller<24>> = std::sync::OnceLock::new();
        FILLER.get_or_init(Self::new24)
    }

    /// Filler for width 24.
    pub fn new24() -> Self {
        let (full, partial) = constants24();
        let circ_col = core::array::from_fn(|i| full.dense_mds[i][0]);
        Self {
            full,
            partial,
            circ_col,
        }
    }

    /// Writes the permutation columns of `input` into `row[..PERM24_COLS]` and returns the
    /// permutation output `Perm24(input)`.
    pub fn fill(&self, row: &mut [F], input: [F; 24]) -> [F; 24] {
        let cols: &mut Cols24<MaybeUninit<F>> =
            core::borrow::BorrowMut::borrow_mut(as_uninit(&mut row[..PERM24_COLS]));
        generate_trace_rows_for_perm::<
            F,
            24,
            KOALABEAR_S_BOX_DEGREE,
            SBOX_REGISTERS,
            HALF_FULL,
            PARTIAL_24,
        >(cols, input, &self.full, &self.partial, &self.circ_col);
        let cols: &Cols24<F> = core::borrow::Borrow::borrow(&row[..PERM24_COLS]);
        cols.ending_full_rounds[HALF_FULL - 1].post
    }
}

/// Number of leading output elements of the width-24 permutation that [`Perm24TableAir`] puts on
/// the bus: the capacity part (9, carried by the leaf sponge) and the first 8 rate elements (the
/// leaf digest); compressions read elements `0..8` (Merkle nodes) and `0..6` (message hash).
pub const PERM24_BUS_OUTPUTS: usize = 17;

/// Width of a message on the width-24 permutation bus: the input state (24) then
/// `Perm24(input)[0..17]`.
pub const PERM24_MESSAGE_WIDTH: usize = 24 + PERM24_BUS_OUTPUTS;

/// The width-24 permutation table: one Poseidon1 width-24 permutation per row (the
/// [`PERM24_COLS`] columns of [`Perm24Air`] and nothing else), each sending
/// `(input (24), output[0..17])` once on the permutation bus (`"poseidon1-24"`).
///
/// It is its own AIR, apart from the signature AIR that consumes the evaluations, so that it has
/// no periodic columns: Plonky3 0.8 infers the quotient degree of an AIR with periodic columns by
/// walking every constraint's expression DAG, which for the width-24 Poseidon1 constraints took
/// about 50 ms in every verification (and again in the prover).
#[derive(Clone)]
pub struct Perm24TableAir {
    perm: std::sync::Arc<Perm24Air>,
    full_output: bool,
    /// A last column holds each row's count (0 or 1): [`Perm24TableAir::shared`].
    counted: bool,
    /// The permutation constraints in the form of [`Perm24TableAir::shared_multilinear`].
    short: bool,
}

impl Default for Perm24TableAir {
    fn default() -> Self {
        Self::new()
    }
}

impl Perm24TableAir {
    /// The table AIR over the leanSig width-24 permutation.
    pub fn new() -> Self {
        Self {
            perm: perm24_air(),
            full_output: false,
            counted: false,
            short: false,
        }
    }

    /// The table sending `(input (24), output (24))` on the full-output bus
    /// (`"poseidon1-24-full"`) instead: what a sponge needs to carry its state from one
    /// permutation to the next (the recursion verifier AIRs, [`crate::aggregate::recursion`]).
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    pub fn full_output() -> Self {
        Self {
            perm: perm24_air(),
            full_output: true,
            counted: false,
            short: false,
        }
    }

    /// The full-output table shared by several AIRs: one more column, each row's count (0 or 1,
    /// constrained boolean), so that the table's height need not be the sum of its users'
    /// (padding rows count 0). Its trace: [`shared_table`].
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    pub fn shared() -> Self {
        Self {
            perm: perm24_air(),
            full_output: true,
            counted: true,
            short: false,
        }
    }

    /// [`Perm24TableAir::shared`] as the multilinear STARK proves it (a compact parent's table):
    /// the same columns, trace ([`shared_table`]), bus and count, the permutation constrained
    /// by polynomials that have the same zeros as [`Perm24Air`]'s but short expressions.
    ///
    /// - A full round's 24 constraints `MDS · (x + c)^3 − post` are replaced by
    ///   `MDS⁻¹ · post − (x + c)^3`: the same vector times the invertible `−MDS⁻¹`, so a row
    ///   satisfies one set exactly when it satisfies the other. Each now reads its round's 24
    ///   committed outputs and one input instead of all 24 inputs through the Karatsuba MDS.
    /// - The partial rounds are Plonky3's polynomials, written as linear forms over the last
    ///   beginning round's committed output and the committed partial S-box outputs
    ///   ([`PartialForms`]); the first ending round's inputs likewise.
    ///
    /// The multilinear STARK (p3-multi-stark 0.8) walks each constraint's expression on its
    /// own to find its degree, once in setup and twice in its security report, which a verifier
    /// runs for every new statement shape. Plonky3's sparse partial rounds share one expression
    /// across the permutation, so each constraint from the second partial round on reached
    /// 2,200 to 4,800 nodes: 249,000 over the table and 42 ms a walk. The test below holds the
    /// two forms to each other on random rows (`src/aggregate/recursion/README.md`, "Where the
    /// compact parent's verification goes").
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    pub fn shared_multilinear() -> Self {
        Self {
            short: true,
            ..Self::shared()
        }
    }
}

/// Coefficients of one linear form over a width-24 row's partial-round inputs: the constant,
/// then the 24 outputs of the last beginning full round (`p`), then the 23 committed partial
/// S-box outputs (`s`).
const FORM: usize = 1 + 24 + PARTIAL_24;

/// Plonky3's sparse partial rounds of the leanSig width-24 permutation (`p3-poseidon1` 0.8:
/// first-round constants, the dense transition `m_i`, then per round the S-box on element 0,
/// its scalar constant except in the last round, the sparse first row and the rank-1 update),
/// replayed on linear forms ([`FORM`]) instead of values: every S-box output is a committed
/// column, so each state element stays a linear form in `p` and `s`. With the inverse of the
/// full rounds' MDS matrix, for [`Perm24TableAir::shared_multilinear`].
pub struct PartialForms {
    /// Per partial round, the S-box input (state element 0 before the S-box).
    pub sbox_inputs: Vec<[F; FORM]>,
    /// The 24 state elements after the last partial round (the first ending round's input
    /// before its constants).
    pub out: [[F; FORM]; 24],
    /// The inverse of the full rounds' dense MDS matrix (`FullRoundConstants::dense_mds`).
    pub mds_inv: [[F; 24]; 24],
}

impl PartialForms {
    /// The forms of the leanSig width-24 constants, derived once per process.
    pub fn shared() -> &'static Self {
        static FORMS: std::sync::OnceLock<PartialForms> = std::sync::OnceLock::new();
        FORMS.get_or_init(|| {
            let f = PermFiller::shared24();
            Self::new(&f.partial, &f.full.dense_mds)
        })
    }

    fn new(c: &PartialRoundConstants<F, 24>, mds: &[[F; 24]; 24]) -> Self {
        let unit = |k: usize| {
            let mut f = [F::ZERO; FORM];
            f[k] = F::ONE;
            f
        };
        let axpy = |acc: &mut [F; FORM], a: F, x: &[F; FORM]| {
            for (y, &x) in acc.iter_mut().zip(x) {
                *y += a * x;
            }
        };
        // The state entering the partial rounds: p plus the first-round constants, times m_i.
        let mut entering: [[F; FORM]; 24] = core::array::from_fn(|i| unit(1 + i));
        for (f, &k) in entering.iter_mut().zip(&c.first_round_constants) {
            f[0] += k;
        }
        let mut state: [[F; FORM]; 24] = core::array::from_fn(|i| {
            let mut f = [F::ZERO; FORM];
            for (j, x) in entering.iter().enumerate() {
                axpy(&mut f, c.m_i[i][j], x);
            }
            f
        });
        let mut sbox_inputs = Vec::with_capacity(PARTIAL_24);
        for r in 0..PARTIAL_24 {
            sbox_inputs.push(state[0]);
            state[0] = unit(1 + 24 + r);
            if r + 1 < PARTIAL_24 {
                state[0][0] += c.round_constants[r];
            }
            let old = state[0];
            let mut first = [F::ZERO; FORM];
            for (j, x) in state.iter().enumerate() {
                axpy(&mut first, c.sparse_first_row[r][j], x);
            }
            state[0] = first;
            for (s, &v) in state[1..].iter_mut().zip(&c.v[r]) {
                axpy(s, v, &old);
            }
        }
        Self {
            sbox_inputs,
            out: state,
            mds_inv: invert(mds).expect("an MDS matrix is invertible"),
        }
    }

    /// `form` as an expression over a row's variables (zero coefficients left out).
    fn expr<AB: AirBuilder<F = F>>(form: &[F; FORM], cols: &Cols24<AB::Var>) -> AB::Expr {
        let p = &cols.beginning_full_rounds[HALF_FULL - 1].post;
        let s = cols.partial_rounds.iter().map(|r| &r.post_sbox);
        let mut acc = AB::Expr::from(form[0]);
        for (&a, &x) in form[1..].iter().zip(p.iter().chain(s)) {
            if a != F::ZERO {
                acc += Into::<AB::Expr>::into(x) * a;
            }
        }
        acc
    }
}

/// The inverse of a square matrix over the field (Gauss-Jordan), `None` if it is singular.
fn invert<const N: usize>(m: &[[F; N]; N]) -> Option<[[F; N]; N]> {
    use p3_field::Field;
    let mut a = *m;
    let mut inv: [[F; N]; N] = core::array::from_fn(|i| {
        let mut row = [F::ZERO; N];
        row[i] = F::ONE;
        row
    });
    for col in 0..N {
        let pivot = (col..N).find(|&r| a[r][col] != F::ZERO)?;
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let k = a[col][col].inverse();
        for j in 0..N {
            a[col][j] *= k;
            inv[col][j] *= k;
        }
        for r in 0..N {
            if r != col && a[r][col] != F::ZERO {
                let f = a[r][col];
                for j in 0..N {
                    let (x, y) = (a[col][j], inv[col][j]);
                    a[r][j] -= f * x;
                    inv[r][j] -= f * y;
                }
            }
        }
    }
    Some(inv)
}

/// One full round in the form of [`Perm24TableAir::shared_multilinear`]: for each element `j`,
/// `(MDS⁻¹ · post)_j = input_j^3`, where `input` already holds the round's constants.
fn eval_full_round_inverse<AB: AirBuilder<F = F>>(
    builder: &mut AB,
    input: [AB::Expr; 24],
    post: &[AB::Var; 24],
    mds_inv: &[[F; 24]; 24],
) {
    for (x, row) in input.into_iter().zip(mds_inv) {
        let mut lhs = AB::Expr::ZERO;
        for (&a, &p) in row.iter().zip(post) {
            lhs += Into::<AB::Expr>::into(p) * a;
        }
        builder.assert_eq(lhs, x.cube());
    }
}

/// The trace of [`Perm24TableAir::shared`]: the rows of `parts` one after the other with count
/// 1, then rows of the all-zero input's permutation with count 0, up to a power of two and at
/// least `min_height` rows. A part [`PERM24_COLS`] wide (a full-output table's trace) gives
/// every row; a part one column wider (a shared table's, count last) gives its rows counted 1.
///
/// # Panics
/// If a part is neither width.
#[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
pub fn shared_table(parts: &[&RowMajorMatrix<F>], min_height: usize) -> RowMajorMatrix<F> {
    const W: usize = SHARED24_COLS;
    let mut rows: Vec<&[F]> = Vec::new();
    for part in parts {
        assert!(
            part.width == PERM24_COLS || part.width == W,
            "a full-output or shared table's trace"
        );
        rows.extend(
            part.values
                .chunks_exact(part.width)
                .filter(|row| row.len() == PERM24_COLS || row[PERM24_COLS] == F::ONE)
                .map(|row| &row[..PERM24_COLS]),
        );
    }
    let height = rows.len().max(min_height).max(2).next_power_of_two();
    let mut values = F::zero_vec(height * W);
    let r = rows.len();
    for (row, out) in rows.iter().zip(values.chunks_exact_mut(W)) {
        out[..PERM24_COLS].copy_from_slice(row);
        out[PERM24_COLS] = F::ONE;
    }
    if r < height {
        let mut zero = F::zero_vec(PERM24_COLS);
        let _ = PermFiller::shared24().fill(&mut zero, [F::ZERO; 24]);
        for row in values.chunks_exact_mut(W).skip(r) {
            row[..PERM24_COLS].copy_from_slice(&zero);
        }
    }
    RowMajorMatrix::new(values, W)
}

/// Splits a shared table ([`shared_table`]: the rows that receive a permutation first, then
/// padding) into pieces of heights `2^log_heights`, in order: the used rows fill the pieces one
/// after the other, and each piece is padded with the uncounted permutation of zero.
///
/// # Errors
/// A message when `table` is not a counted shared table or its used rows do not fit the pieces.
pub fn split_shared_table(
    table: &RowMajorMatrix<F>,
    log_heights: &[usize],
) -> Result<Vec<RowMajorMatrix<F>>, String> {
    const W: usize = SHARED24_COLS;
    if table.width != W {
        return Err(format!("a table of width {}, not a shared one", table.width));
    }
    let used = table
        .values
        .chunks_exact(W)
        .take_while(|row| row[PERM24_COLS] == F::ONE)
        .count();
    let room: usize = log_heights.iter().map(|&b| 1usize << b).sum();
    if used > room {
        return Err(format!("{used} rows used, {room} in the pieces"));
    }
    let mut zero = F::zero_vec(PERM24_COLS);
    let _ = PermFiller::shared24().fill(&mut zero, [F::ZERO; 24]);
    let mut next = 0;
    Ok(log_heights
        .iter()
        .map(|&b| {
            let h = 1usize << b;
            let take = h.min(used - next);
            let mut values = F::zero_vec(h * W);
            values[..take * W].copy_from_slice(&table.values[next * W..(next + take) * W]);
            for row in values.chunks_exact_mut(W).skip(take) {
                row[..PERM24_COLS].copy_from_slice(&zero);
            }
            next += take;
            RowMajorMatrix::new(values, W)
        })
        .collect())
}

impl p3_air::BaseAir<F> for Perm24TableAir {
    fn width(&self) -> usize {
        PERM24_COLS + usize::from(self.counted)
    }
    // Poseidon1Air's constraints read only the current row. SOUNDNESS: the verifier substitutes
    // zeros for undeclared next-row columns; a transition constraint added here must declare its
    // columns, or it would be checked against zeros.
    fn main_next_row_columns(&self) -> Vec<usize> {
        Vec::new()
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(3)
    }
}

impl<AB> p3_air::Air<AB> for Perm24TableAir
where
    AB: AirBuilder<F = F> + p3_lookup::InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        if self.short {
            eval_short(builder);
        } else {
            let mut sub = PrefixBuilder::new(builder, PERM24_COLS);
            p3_air::Air::eval(self.perm.as_ref(), &mut sub);
        }
        let main = builder.main();
        // Only the permutation prefix is a `Cols24`; a counted table's row has one more column.
        let cols: &Cols24<AB::Var> =
            core::borrow::Borrow::borrow(&main.current_slice()[..PERM24_COLS]);
        let output = &cols.ending_full_rounds[HALF_FULL - 1].post;
        let (bus, outputs) = if self.full_output {
            (super::PERM24_FULL_BUS, 24)
        } else {
            (super::PERM24_BUS, PERM24_BUS_OUTPUTS)
        };
        let message: Vec<AB::Expr> = cols
            .inputs
            .iter()
            .chain(&output[..outputs])
            .map(|&v| v.into())
            .collect();
        if self.counted {
            let count = main.current_slice()[PERM24_COLS];
            builder.assert_bool(count);
            p3_lookup::PermutationCheckBus::new(bus).send(
                builder,
                message,
                p3_lookup::Count::bounded(count.into(), 1),
            );
        } else {
            p3_lookup::PermutationCheckBus::new(bus).send(builder, message, 1);
        }
    }
}

/// The permutation constraints of [`Perm24TableAir::shared_multilinear`] (see there), in
/// Plonky3's order: the 4 beginning full rounds (24 each), the 23 partial rounds, the 4 ending
/// full rounds.
fn eval_short<AB: AirBuilder<F = F>>(builder: &mut AB) {
    let main = builder.main();
    let cols: &Cols24<AB::Var> = core::borrow::Borrow::borrow(&main.current_slice()[..PERM24_COLS]);
    let full = &PermFiller::shared24().full;
    let forms = PartialForms::shared();
    let plus = |x: &[AB::Var; 24], c: &[F; 24]| -> [AB::Expr; 24] {
        core::array::from_fn(|j| Into::<AB::Expr>::into(x[j]) + c[j])
    };
    let mut input = &cols.inputs;
    for (round, c) in cols.beginning_full_rounds.iter().zip(&full.initial) {
        eval_full_round_inverse(builder, plus(input, c), &round.post, &forms.mds_inv);
        input = &round.post;
    }
    for (form, round) in forms.sbox_inputs.iter().zip(&cols.partial_rounds) {
        let x = PartialForms::expr::<AB>(form, cols);
        builder.assert_eq(x.cube(), round.post_sbox);
    }
    let first: [AB::Expr; 24] = core::array::from_fn(|j| {
        PartialForms::expr::<AB>(&forms.out[j], cols) + full.terminal[0][j]
    });
    eval_full_round_inverse(builder, first, &cols.ending_full_rounds[0].post, &forms.mds_inv);
    for (r, c) in full.terminal.iter().enumerate().skip(1) {
        let input = plus(&cols.ending_full_rounds[r - 1].post, c);
        eval_full_round_inverse(builder, input, &cols.ending_full_rounds[r].post, &forms.mds_inv);
    }
}

/// A two-row window restricted to its first `len` columns.
#[derive(Clone)]
pub struct PrefixWindow<W> {
    inner: W,
    len: usize,
}

impl<T, W: WindowAccess<T>> WindowAccess<T> for PrefixWindow<W> {
    fn current_slice(&self) -> &[T] {
        &self.inner.current_slice()[..self.len]
    }
    fn next_slice(&self) -> &[T] {
        &self.inner.next_slice()[..self.len]
    }
}

/// An [`AirBuilder`] that shows a sub-AIR only the first `len` main columns of the row and
/// forwards every constraint to the outer builder unchanged. Used to evaluate
/// [`Poseidon1Air`]'s constraints on the permutation prefix of a wider row.
pub struct PrefixBuilder<'a, AB: AirBuilder> {
    inner: &'a mut AB,
    len: usize,
}

impl<'a, AB: AirBuilder> PrefixBuilder<'a, AB> {
    /// Wraps `inner`, exposing its first `len` main columns.
    pub fn new(inner: &'a mut AB, len: usize) -> Self {
        Self { inner, len }
    }
}

impl<AB: AirBuilder> AirBuilder for PrefixBuilder<'_, AB> {
    type F = AB::F;
    type Expr = AB::Expr;
    type Var = AB::Var;
    type PreprocessedWindow = AB::PreprocessedWindow;
    type MainWindow = PrefixWindow<AB::MainWindow>;
    type PublicVar = AB::PublicVar;
    type PeriodicVar = AB::PeriodicVar;

    fn main(&self) -> Self::MainWindow {
        PrefixWindow {
            inner: self.inner.main(),
            len: self.len,
        }
    }
    fn preprocessed(&self) -> &Self::PreprocessedWindow {
        self.inner.preprocessed()
    }
    fn is_first_row(&self) -> Self::Expr {
        self.inner.is_first_row()
    }
    fn is_last_row(&self) -> Self::Expr {
        self.inner.is_last_row()
    }
    fn is_transition(&self) -> Self::Expr {
        self.inner.is_transition()
    }
    fn assert_zero<I: Into<Self::Expr>>(&mut self, x: I) {
        self.inner.assert_zero(x);
    }
    fn public_values(&self) -> &[Self::PublicVar] {
        self.inner.public_values()
    }
    fn periodic_values(&self) -> &[Self::PeriodicVar] {
        self.inner.periodic_values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p3_field::PrimeCharacteristicRing;
    use p3_koala_bear::{default_koalabear_poseidon1_16, default_koalabear_poseidon1_24};
    use p3_symmetric::Permutation;

    #[test]
    fn air_constants_match_leansig_permutations() {
        let input16: [F; 16] = core::array::from_fn(|i| F::from_u32(i as u32 * 7 + 3));
        let mut row = vec![F::ZERO; PERM16_COLS];
        let out = PermFiller::new16().fill(&mut row, input16);
        assert_eq!(out, default_koalabear_poseidon1_16().permute(input16));

        let input24: [F; 24] = core::array::from_fn(|i| F::from_u32(i as u32 * 11 + 5));
        let mut row = vec![F::ZERO; PERM24_COLS];
        let out = PermFiller::new24().fill(&mut row, input24);
        assert_eq!(out, default_koalabear_poseidon1_24().permute(input24));
    }

    use p3_air::symbolic::{AirLayout, BaseEntry, BaseLeaf, SymbolicExpr, SymbolicExpression};
    use p3_lookup::InteractionSymbolicBuilder;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    type Challenge = crate::aggregate::field::Challenge;

    /// Every base-field constraint of `air`, in emission order.
    fn constraints(air: &Perm24TableAir) -> Vec<SymbolicExpression<F>> {
        InteractionSymbolicBuilder::<F, Challenge>::from_air(air, AirLayout::from_air(air))
            .base_constraints()
    }

    /// The value of `e` on the one-row window `row` (memoized on node identity: Plonky3's
    /// partial rounds share subexpressions across the permutation).
    fn value(e: &SymbolicExpression<F>, row: &[F], memo: &mut HashMap<usize, F>) -> F {
        let key = e as *const _ as usize;
        if let Some(&v) = memo.get(&key) {
            return v;
        }
        let v = match e {
            SymbolicExpr::Leaf(BaseLeaf::Variable(v)) => match v.entry {
                BaseEntry::Main { offset: 0 } => row[v.index],
                other => panic!("a permutation constraint reads {other:?}"),
            },
            SymbolicExpr::Leaf(BaseLeaf::Constant(c)) => *c,
            SymbolicExpr::Leaf(l) => panic!("a permutation constraint reads {l:?}"),
            SymbolicExpr::Add { x, y, .. } => value(x, row, memo) + value(y, row, memo),
            SymbolicExpr::Sub { x, y, .. } => value(x, row, memo) - value(y, row, memo),
            SymbolicExpr::Mul { x, y, .. } => value(x, row, memo) * value(y, row, memo),
            SymbolicExpr::Neg { x, .. } => -value(x, row, memo),
        };
        memo.insert(key, v);
        v
    }

    fn values(cs: &[SymbolicExpression<F>], row: &[F]) -> Vec<F> {
        let mut memo = HashMap::new();
        cs.iter().map(|c| value(c, row, &mut memo)).collect()
    }

    /// Distinct nodes of one constraint's expression: what each per-constraint walk visits.
    fn nodes(e: &SymbolicExpression<F>) -> usize {
        crate::aggregate::testing::distinct_nodes(&[e])
    }

    #[test]
    fn multilinear_table_constraints_have_plonky3s_zeros_and_short_expressions() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(24);
        let (plonky3, ours) = (
            constraints(&Perm24TableAir::shared()),
            constraints(&Perm24TableAir::shared_multilinear()),
        );
        // 4 beginning full rounds of 24, 23 partial rounds, 4 ending full rounds of 24, then
        // the count's boolean constraint, in both.
        let full = 24 * HALF_FULL;
        assert_eq!(plonky3.len(), 2 * full + PARTIAL_24 + 1);
        assert_eq!(ours.len(), plonky3.len());
        let forms = PartialForms::shared();
        // MDS⁻¹ is the inverse of the MDS the filler applies.
        let mds = &PermFiller::shared24().full.dense_mds;
        for (i, inv_row) in forms.mds_inv.iter().enumerate() {
            for j in 0..24 {
                let e: F = inv_row.iter().zip(mds).map(|(&a, m)| a * m[j]).sum();
                assert_eq!(e, F::from_bool(i == j));
            }
        }
        let full_rounds = (0..HALF_FULL)
            .map(|r| 24 * r)
            .chain((0..HALF_FULL).map(|r| full + PARTIAL_24 + 24 * r));
        let honest = 4;
        for r in 0..honest + 12 {
            let mut row = F::zero_vec(SHARED24_COLS);
            if r < honest {
                let input = core::array::from_fn(|_| F::from_u32(rng.random_range(0..1 << 30)));
                let _ = PermFiller::shared24().fill(&mut row[..PERM24_COLS], input);
            } else {
                for x in row.iter_mut() {
                    *x = F::from_u32(rng.random_range(0..1 << 30));
                }
            }
            row[PERM24_COLS] = F::from_bool(r % 2 == 0);
            let (p, o) = (values(&plonky3, &row), values(&ours, &row));
            // Each full round's 24 values are Plonky3's times −MDS⁻¹, on any row: the two
            // vanish together. The partial rounds and the count are Plonky3's own values (the
            // first ending round's inputs through the forms, so the forms replay Plonky3's
            // sparse rounds exactly).
            let mut rest: Vec<usize> = (0..p.len()).collect();
            for start in full_rounds.clone() {
                for i in 0..24 {
                    let expected: F = -(0..24)
                        .map(|k| forms.mds_inv[i][k] * p[start + k])
                        .sum::<F>();
                    assert_eq!(o[start + i], expected, "row {r}, constraint {}", start + i);
                }
                rest.retain(|&c| !(start..start + 24).contains(&c));
            }
            assert_eq!(rest.len(), PARTIAL_24 + 1);
            for c in rest {
                assert_eq!(o[c], p[c], "row {r}, constraint {c}");
            }
            if r < honest {
                assert!(o.iter().all(|v| *v == F::ZERO), "row {r}");
            } else {
                assert!(o[..full].iter().any(|v| *v != F::ZERO), "row {r}");
            }
            // One committed value off on an honest row breaks the round that reads it.
            if r < honest {
                let cols = PERM24_COLS;
                for at in [0, 24 + 5, 24 * 4 + 3, 24 * 4 + 24 + 10, cols - 1] {
                    let mut forged = row.clone();
                    forged[at] += F::ONE;
                    assert!(values(&ours, &forged).iter().any(|v| *v != F::ZERO), "{at}");
                }
            }
        }
        // Each constraint's expression is short; Plonky3's reach thousands of nodes from the
        // second partial round on.
        let total = |cs: &[SymbolicExpression<F>]| cs.iter().map(nodes).sum::<usize>();
        let (t3, t) = (total(&plonky3), total(&ours));
        assert!(5 * t < t3, "{t} nodes against {t3}");
        assert!(ours.iter().map(nodes).max() < Some(400));
    }
}
