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
    MDSKoalaBearData, KOALABEAR_POSEIDON1_RC_16, KOALABEAR_POSEIDON1_RC_24,
    KOALABEAR_POSEIDON_HALF_FULL_ROUNDS, KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16,
    KOALABEAR_POSEIDON_PARTIAL_ROUNDS_24, KOALABEAR_S_BOX_DEGREE,
};
use p3_monty_31::MDSUtils;
use p3_poseidon1::Poseidon1Constants;
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


// The column counts the module docs and `src/aggregate/README.md` state.
const _: () = assert!(PERM16_COLS == 164 && PERM24_COLS == 239);

/// Plonky3's optimized round constants for the leanSig width-16 permutation.
pub fn constants16() -> (FullRoundConstants<F, 16>, PartialRoundConstants<F, 16>) {
    Poseidon1Constants {
        rounds_f: 2 * HALF_FULL,
        rounds_p: PARTIAL_16,
        mds_circ_col: MDSKoalaBearData::MATRIX_CIRC_MDS_16_COL,
        round_constants: KOALABEAR_POSEIDON1_RC_16.to_vec(),
    }
    .to_optimized()
}

/// Plonky3's optimized round constants for the leanSig width-24 permutation.
pub fn constants24() -> (FullRoundConstants<F, 24>, PartialRoundConstants<F, 24>) {
    Poseidon1Constants {
        rounds_f: 2 * HALF_FULL,
        rounds_p: PARTIAL_24,
        mds_circ_col: MDSKoalaBearData::MATRIX_CIRC_MDS_24_COL,
        round_constants: KOALABEAR_POSEIDON1_RC_24.to_vec(),
    }
    .to_optimized()
}

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
        }
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
    const W: usize = PERM24_COLS + 1;
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
        {
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
}
