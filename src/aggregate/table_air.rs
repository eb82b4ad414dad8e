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

use std::borrow::Cow;

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, LookupBus, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::{ROOT_BUS, TWEAK_BUS};
use crate::xmss::constants::{BASE, DIMENSION};
use crate::xmss::tweak::chain_tweak;
use crate::xmss::{PublicKey, F};

/// Rows of one period of the tweak table (46 x 7 = 322 entries, padded).
pub const TWEAK_PERIOD: usize = 512;

/// Committed multiplicity of the tweak entry.
pub const MULT: usize = 0;
/// Mirrors of the tweak entry `(chain, pos, t0, t1)`.
pub const T_CHAIN: usize = 1;
pub const T_POS: usize = 2;
pub const T_T0: usize = 3;
pub const T_T1: usize = 4;
/// Mirror of the key index.
pub const K_SIG: usize = 5;
/// Mirrors of the key's root (8).
pub const K_ROOT: usize = 6;
/// Mirrors of the key's parameter (5).
pub const K_PARAM: usize = 14;
/// Mirror of the key-row flag (1 on rows `s < N`).
pub const K_VALID: usize = 19;
/// Width of the table AIR.
pub const WIDTH: usize = 20;

// Periodic column indices.
const P_T_CHAIN: usize = 0;
const P_T_POS: usize = 1;
const P_T_T0: usize = 2;
const P_T_T1: usize = 3;
const P_T_VALID: usize = 4;
const P_K_SIG: usize = 5;
const P_K_ROOT: usize = 6;
const P_K_PARAM: usize = 14;
const P_K_VALID: usize = 19;
const NUM_PERIODIC: usize = 20;

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
        let mut periodic = vec![vec![F::ZERO; TWEAK_PERIOD]; 5];
        for (r, (chain, pos, t)) in tweak_entries(epoch).into_iter().enumerate() {
            periodic[P_T_CHAIN][r] = F::from_u8(chain);
            periodic[P_T_POS][r] = F::from_u8(pos);
            periodic[P_T_T0][r] = t[0];
            periodic[P_T_T1][r] = t[1];
            periodic[P_T_VALID][r] = F::ONE;
        }
        periodic.extend((0..NUM_PERIODIC - 5).map(|_| vec![F::ZERO; height]));
        for (s, key) in keys.iter().enumerate() {
            periodic[P_K_SIG][s] = F::from_usize(s);
            for j in 0..8 {
                periodic[P_K_ROOT + j][s] = key.root[j];
            }
            for j in 0..5 {
                periodic[P_K_PARAM + j][s] = key.parameter[j];
            }
            periodic[P_K_VALID][s] = F::ONE;
        }
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
    pub fn height(&self) -> usize {
        self.height
    }

    /// The trace: the mirrors copied from the periodic columns and the tweak multiplicities
    /// `tweak_counts[entry]` (entry index as in [`tweak_entries`]).
    pub fn generate_trace(&self, tweak_counts: &[u32]) -> RowMajorMatrix<F> {
        let mut values = F::zero_vec(self.height * WIDTH);
        for (r, row) in values.chunks_mut(WIDTH).enumerate() {
            let p = |c: usize| self.periodic[c][r % self.periodic[c].len()];
            if r < TWEAK_PERIOD {
                row[MULT] = F::from_u32(tweak_counts.get(r).copied().unwrap_or(0));
            }
            row[T_CHAIN] = p(P_T_CHAIN);
            row[T_POS] = p(P_T_POS);
            row[T_T0] = p(P_T_T0);
            row[T_T1] = p(P_T_T1);
            row[K_SIG] = p(P_K_SIG);
            for j in 0..8 {
                row[K_ROOT + j] = p(P_K_ROOT + j);
            }
            for j in 0..5 {
                row[K_PARAM + j] = p(P_K_PARAM + j);
            }
            row[K_VALID] = p(P_K_VALID);
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
        let row = main.current_slice();
        let per: Vec<AB::Expr> = builder
            .periodic_values()
            .iter()
            .map(|&v| v.into())
            .collect();

        let mirrors = [
            (T_CHAIN, P_T_CHAIN),
            (T_POS, P_T_POS),
            (T_T0, P_T_T0),
            (T_T1, P_T_T1),
            (K_SIG, P_K_SIG),
            (K_VALID, P_K_VALID),
        ];
        for (col, p) in mirrors {
            builder.assert_eq(row[col], per[p].clone());
        }
        for j in 0..8 {
            builder.assert_eq(row[K_ROOT + j], per[P_K_ROOT + j].clone());
        }
        for j in 0..5 {
            builder.assert_eq(row[K_PARAM + j], per[P_K_PARAM + j].clone());
        }
        // Padding tweak entries are never looked up.
        builder.assert_zero(row[MULT] * (AB::Expr::ONE - per[P_T_VALID].clone()));

        LookupBus::new(TWEAK_BUS).table_entry(
            builder,
            [row[T_CHAIN], row[T_POS], row[T_T0], row[T_T1]],
            row[MULT],
        );

        let mut key: Vec<AB::Expr> = vec![row[K_SIG].into()];
        key.extend((0..8).map(|j| row[K_ROOT + j].into()));
        key.extend((0..5).map(|j| row[K_PARAM + j].into()));
        PermutationCheckBus::new(ROOT_BUS).receive(
            builder,
            key,
            Count::bounded(row[K_VALID].into(), 1),
        );
    }
}
