//! `TableAir`: the verifier-computed table of the epoch's chain tweaks.
//!
//! The table is a set of periodic columns (period 512, the table's height), computed by prover
//! and verifier alike from the epoch; nothing in it is a prover choice. Because p3-lookup 0.8
//! cannot read periodic columns inside bus messages, each periodic column used in a message has
//! a committed "mirror" column constrained equal to it on every row.
//!
//! Rows `0..322`: entry `(chain, pos, t0, t1)` is the tweak of the chain step that produces
//! position `pos` (1..=7) of chain `chain` (0..46) in this epoch. The committed multiplicity is
//! the only free column; it is forced to 0 on the padding entries `322..512`.
//!
//! The table's size does not depend on the number of signers: the signers' keys reach the proof
//! only through the key-set digest the signature AIR computes (see [`super::sig`]).

use std::borrow::{Borrow, BorrowMut, Cow};

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::{PrimeCharacteristicRing, PrimeField32};
use p3_lookup::{InteractionBuilder, LookupBus};
use p3_matrix::dense::RowMajorMatrix;

use super::TWEAK_BUS;
use crate::xmss::constants::{BASE, DIMENSION, P, TWEAK_LEN_FE};
use crate::xmss::tweak::chain_tweak;
use crate::xmss::F;

/// Rows of one period of the tweak table (46 x 7 = 322 entries, padded).
pub const TWEAK_PERIOD: usize = 512;

/// One entry of the tweak table: the tweak of the chain step that produces position `pos` of
/// chain `chain`.
#[repr(C)]
pub struct TweakEntry<T> {
    /// Chain index (0..46).
    pub chain: T,
    /// Target position (1..=7).
    pub pos: T,
    /// The chain tweak (2 field elements).
    pub tweak: [T; TWEAK_LEN_FE],
}

/// The main columns of one table-AIR row (5), viewed over a row slice with `row.borrow()` /
/// `row.borrow_mut()` ([`super::row_view`]).
#[repr(C)]
pub struct TableCols<T> {
    /// Committed multiplicity of the row's tweak entry (the only free column).
    pub multiplicity: T,
    /// Mirror of the row's tweak entry ([`TablePeriodic::tweak`]).
    pub tweak: TweakEntry<T>,
}

/// The periodic columns of the table AIR (period [`TWEAK_PERIOD`], the trace height), computed by
/// the verifier from the epoch.
#[repr(C)]
pub struct TablePeriodic<T> {
    /// Tweak entry `r` (zero on the padding rows `322..512`).
    pub tweak: TweakEntry<T>,
    /// 1 on the 322 real tweak entries.
    pub tweak_valid: T,
}

super::row_view!(TableCols);
super::row_view!(TablePeriodic);

/// Width of the table AIR.
pub const WIDTH: usize = core::mem::size_of::<TableCols<u8>>();
/// Number of periodic columns.
const NUM_PERIODIC: usize = core::mem::size_of::<TablePeriodic<u8>>();

/// The table AIR for one epoch.
#[derive(Clone)]
pub struct TableAir {
    periodic: std::sync::Arc<Vec<Vec<F>>>,
}

/// Height of the table AIR: one period of the tweak table, whatever the number of signers.
pub const TABLE_HEIGHT: usize = TWEAK_PERIOD;

/// The first entry of the tweak table whose second element carries for `epoch` (see
/// [`TableAir::template`]), or `None` when none does (all but about 0.14% of epochs).
pub fn carry_threshold(epoch: u32) -> Option<usize> {
    let r = (u64::from(epoch) << 24) % u64::from(P);
    // Epoch 0's entries hold each entry's `c` as their first element.
    tweak_entries(0)
        .iter()
        .position(|(_, _, t)| r + u64::from(t[0].as_canonical_u32()) >= u64::from(P))
}

/// The tweak table entries, in row order: `(chain, pos, t0, t1)` for chain in 0..46, pos in 1..8.
pub fn tweak_entries(epoch: u32) -> Vec<(u8, u8, [F; 2])> {
    let mut out = Vec::with_capacity(DIMENSION * (BASE - 1));
    for chain in 0..DIMENSION as u8 {
        for pos in 1..BASE as u8 {
            out.push((chain, pos, chain_tweak(epoch, chain, pos)));
        }
    }
    out
}

impl TableAir {
    /// The tweak table of `epoch`.
    pub fn new(epoch: u32) -> Self {
        let mut rows = vec![F::ZERO; TABLE_HEIGHT * NUM_PERIODIC];
        for (row, &(chain, pos, t)) in rows.chunks_exact_mut(NUM_PERIODIC).zip(&tweak_entries(epoch)) {
            let p: &mut TablePeriodic<F> = row.borrow_mut();
            p.tweak = TweakEntry {
                chain: F::from_u8(chain),
                pos: F::from_u8(pos),
                tweak: t,
            };
            p.tweak_valid = F::ONE;
        }
        Self {
            periodic: super::column_major(&rows, NUM_PERIODIC),
        }
    }

    /// The statement-free template of the table for epochs whose carry threshold is `carry`
    /// ([`carry_threshold`]): a chain tweak is `[t mod p, t / p]` for the integer
    /// `t = E + c` (`E = epoch * 2^24`, `c = chain * 2^16 + pos * 2^8` below `p`), so in the
    /// field its first element is `E + c` and its second `floor(E / p)` plus a carry, 1 from the
    /// threshold's entry on (the entries' `c` increase down the table). The template holds `c`
    /// and the carries; the out-of-domain program adds `E` and `floor(E / p)` times
    /// [`TablePeriodic::tweak_valid`] from parameters ([`TableAir::statement_parameters`]).
    /// Never proved: only its constraints and periodic columns are read.
    pub fn template(carry: Option<usize>) -> Self {
        // Epoch 0's table: every entry's first element is its `c`, every second element 0.
        let mut periodic = (*Self::new(0).periodic).clone();
        let ([_, second], _) = Self::tweak_columns();
        if let Some(c) = carry {
            for v in &mut periodic[second][c..DIMENSION * (BASE - 1)] {
                *v = F::ONE;
            }
        }
        Self {
            periodic: std::sync::Arc::new(periodic),
        }
    }

    /// The parameters [`TableAir::template`] leaves out for `epoch`: `E` and `floor(E / p)` as
    /// field elements, `E = epoch * 2^24`.
    pub fn statement_parameters(epoch: u32) -> [F; 2] {
        let e = u64::from(epoch) << 24;
        [F::from_u64(e), F::from_u64(e / u64::from(P))]
    }

    /// The periodic columns of [`TablePeriodic::tweak`]'s two elements and of
    /// [`TablePeriodic::tweak_valid`].
    pub fn tweak_columns() -> ([usize; 2], usize) {
        let index: Vec<usize> = (0..NUM_PERIODIC).collect();
        let c: &TablePeriodic<usize> = index.as_slice().borrow();
        (c.tweak.tweak, c.tweak_valid)
    }

    /// The trace: the mirrors copied from the periodic columns and the tweak multiplicities
    /// `tweak_counts[entry]` (entry index as in [`tweak_entries`]).
    pub fn generate_trace(&self, tweak_counts: &[u32]) -> RowMajorMatrix<F> {
        let mut values = F::zero_vec(TABLE_HEIGHT * WIDTH);
        let mut periodic_row = [F::ZERO; NUM_PERIODIC];
        for (r, row) in values.chunks_exact_mut(WIDTH).enumerate() {
            for (c, v) in periodic_row.iter_mut().enumerate() {
                *v = self.periodic[c][r];
            }
            let p: &TablePeriodic<F> = periodic_row.as_slice().borrow();
            let cols: &mut TableCols<F> = row.borrow_mut();
            cols.multiplicity = F::from_u32(tweak_counts.get(r).copied().unwrap_or(0));
            cols.tweak = TweakEntry { ..p.tweak };
        }
        RowMajorMatrix::new(values, WIDTH)
    }
}

impl BaseAir<F> for TableAir {
    fn width(&self) -> usize {
        WIDTH
    }
    fn num_periodic_columns(&self) -> usize {
        NUM_PERIODIC
    }
    fn periodic_columns(&self) -> Cow<'_, [Vec<F>]> {
        Cow::Borrowed(self.periodic.as_slice())
    }
    // No constraint of this AIR reads the next row, so none is opened there. SOUNDNESS: the
    // verifier substitutes zeros for undeclared next-row columns; a transition constraint added
    // here must declare its columns, or it would be checked against zeros.
    fn main_next_row_columns(&self) -> Vec<usize> {
        Vec::new()
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(3)
    }
}

impl<AB> Air<AB> for TableAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &TableCols<AB::Var> = main.current_slice().borrow();
        let periodic = super::periodic_exprs(builder);
        let per: &TablePeriodic<AB::Expr> = periodic.as_slice().borrow();

        let mirrors = [
            (row.tweak.chain, &per.tweak.chain),
            (row.tweak.pos, &per.tweak.pos),
            (row.tweak.tweak[0], &per.tweak.tweak[0]),
            (row.tweak.tweak[1], &per.tweak.tweak[1]),
        ];
        for (col, p) in mirrors {
            builder.assert_eq(col, p.clone());
        }
        // Padding tweak entries are never looked up.
        builder.assert_zero(row.multiplicity * (AB::Expr::ONE - per.tweak_valid.clone()));

        let t = &row.tweak;
        LookupBus::new(TWEAK_BUS).table_entry(
            builder,
            [t.chain, t.pos, t.tweak[0], t.tweak[1]],
            row.multiplicity,
        );
    }
}
