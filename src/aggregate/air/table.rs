//! `TableAir`: the verifier-computed tables, the epoch's chain tweaks and the ordered key list.
//!
//! Both tables are periodic columns (period = the table's height), computed by prover and
//! verifier alike from the epoch and the public keys; nothing in them is a prover choice. Because
//! p3-lookup 0.8 cannot read periodic columns inside bus messages, each periodic column used in a
//! message has a committed "mirror" column constrained equal to it on every row.
//!
//! - Tweak table (rows `0..322` of every 512-row period): entry `(chain, pos, t0, t1)` is the
//!   tweak of the chain step that produces position `pos` (1..=7) of chain `chain` (0..46) in this
//!   epoch. The committed multiplicity is the only free column; it is forced to 0 on the
//!   padding entries.
//! - Key table (row `s < N`): `(s, root_s, parameter_s)` of the `s`-th public key, consumed once
//!   from the root bus; rows `s >= N` are inert.

use std::borrow::{Borrow, BorrowMut, Cow};

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, LookupBus, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::{ROOT_BUS, TWEAK_BUS};
use crate::xmss::constants::{BASE, DIMENSION, HASH_LEN_FE, PARAMETER_LEN, TWEAK_LEN_FE};
use crate::xmss::tweak::chain_tweak;
use crate::xmss::{PublicKey, F};

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

/// One entry of the key table: the `sig`-th public key.
#[repr(C)]
pub struct KeyEntry<T> {
    /// The key's index in the statement's ordered key list.
    pub sig: T,
    /// The key's Merkle root.
    pub root: [T; HASH_LEN_FE],
    /// The key's parameter.
    pub parameter: [T; PARAMETER_LEN],
    /// 1 on rows `s < N` (a key), 0 on the inert rows past it.
    pub valid: T,
}

/// The main columns of one table-AIR row (20), viewed over a row slice with `row.borrow()` /
/// `row.borrow_mut()` ([`super::row_view`]).
#[repr(C)]
pub struct TableCols<T> {
    /// Committed multiplicity of the row's tweak entry (the only free column).
    pub multiplicity: T,
    /// Mirror of the row's tweak entry ([`TablePeriodic::tweak`]).
    pub tweak: TweakEntry<T>,
    /// Mirror of the row's key entry ([`TablePeriodic::key`]).
    pub key: KeyEntry<T>,
}

/// The periodic columns of the table AIR: the tweak table (period [`TWEAK_PERIOD`]) and the key
/// table (period: the trace height), both computed by the verifier.
#[repr(C)]
pub struct TablePeriodic<T> {
    /// Tweak entry `r` (zero on the padding rows `322..512`).
    pub tweak: TweakEntry<T>,
    /// 1 on the 322 real tweak entries.
    pub tweak_valid: T,
    /// Key entry `r`.
    pub key: KeyEntry<T>,
}

super::row_view!(TableCols);
super::row_view!(TablePeriodic);

/// Width of the table AIR.
pub const WIDTH: usize = core::mem::size_of::<TableCols<u8>>();
/// Number of periodic columns.
const NUM_PERIODIC: usize = core::mem::size_of::<TablePeriodic<u8>>();
/// The first periodic columns, of period [`TWEAK_PERIOD`]: the tweak entry and its flag.
const NUM_TWEAK_PERIODIC: usize = core::mem::size_of::<TweakEntry<u8>>() + 1;

/// The table AIR for one (epoch, ordered key list).
#[derive(Clone)]
pub struct TableAir {
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    height: usize,
    num_keys: usize,
}

/// Height of the table AIR for `num_keys` keys.
pub fn table_height(num_keys: usize) -> usize {
    num_keys.next_power_of_two().max(TWEAK_PERIOD)
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
    /// The tables for `epoch` and the ordered `keys`.
    pub fn new(epoch: u32, keys: &[PublicKey]) -> Self {
        let height = table_height(keys.len());
        let mut rows = vec![F::ZERO; height * NUM_PERIODIC];
        let mut rows_iter = rows.chunks_exact_mut(NUM_PERIODIC);
        let entries = tweak_entries(epoch);
        for r in 0..height {
            let Some(row) = rows_iter.next() else { break };
            let p: &mut TablePeriodic<F> = row.borrow_mut();
            if let Some(&(chain, pos, t)) = entries.get(r) {
                p.tweak = TweakEntry {
                    chain: F::from_u8(chain),
                    pos: F::from_u8(pos),
                    tweak: t,
                };
                p.tweak_valid = F::ONE;
            }
            if let Some(key) = keys.get(r) {
                p.key = KeyEntry {
                    sig: F::from_usize(r),
                    root: key.root,
                    parameter: key.parameter,
                    valid: F::ONE,
                };
            }
        }
        // Column-major: the tweak columns one period long, the key columns the trace's height.
        let periodic: Vec<Vec<F>> = (0..NUM_PERIODIC)
            .map(|c| {
                let len = if c < NUM_TWEAK_PERIODIC {
                    TWEAK_PERIOD
                } else {
                    height
                };
                (0..len).map(|r| rows[r * NUM_PERIODIC + c]).collect()
            })
            .collect();
        Self {
            periodic: std::sync::Arc::new(periodic),
            height,
            num_keys: keys.len(),
        }
    }

    /// Number of keys in the key table.
    pub fn num_keys(&self) -> usize {
        self.num_keys
    }

    /// Height of this table's trace.
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))] // tests only
    pub fn height(&self) -> usize {
        self.height
    }

    /// The trace: the mirrors copied from the periodic columns and the tweak multiplicities
    /// `tweak_counts[entry]` (entry index as in [`tweak_entries`]).
    pub fn generate_trace(&self, tweak_counts: &[u32]) -> RowMajorMatrix<F> {
        let mut values = F::zero_vec(self.height * WIDTH);
        let mut periodic_row = [F::ZERO; NUM_PERIODIC];
        for (r, row) in values.chunks_exact_mut(WIDTH).enumerate() {
            for (c, v) in periodic_row.iter_mut().enumerate() {
                *v = self.periodic[c][r % self.periodic[c].len()];
            }
            let p: &TablePeriodic<F> = periodic_row.as_slice().borrow();
            let cols: &mut TableCols<F> = row.borrow_mut();
            if r < TWEAK_PERIOD {
                cols.multiplicity = F::from_u32(tweak_counts.get(r).copied().unwrap_or(0));
            }
            cols.tweak = TweakEntry { ..p.tweak };
            cols.key = KeyEntry { ..p.key };
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
            (row.key.sig, &per.key.sig),
            (row.key.valid, &per.key.valid),
        ];
        for (col, p) in mirrors {
            builder.assert_eq(col, p.clone());
        }
        for (&col, p) in row.key.root.iter().zip(&per.key.root) {
            builder.assert_eq(col, p.clone());
        }
        for (&col, p) in row.key.parameter.iter().zip(&per.key.parameter) {
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

        let k = &row.key;
        let mut key: Vec<AB::Expr> = vec![k.sig.into()];
        key.extend(k.root.iter().map(|&v| v.into()));
        key.extend(k.parameter.iter().map(|&v| v.into()));
        PermutationCheckBus::new(ROOT_BUS).receive(builder, key, Count::bounded(k.valid.into(), 1));
    }
}

impl TableAir {
    /// Number of statement values bound as this instance's public values.
    pub fn num_statement_values(&self) -> usize {
        3 + 9 + 13 * self.num_keys()
    }
}

