//! The four AIRs of an aggregate proof, one file each with its trace generation beside it, and
//! the buses that link them (see `../README.md` for what each constraint and bus guarantees):
//!
//! - [`sig::SigAir`]: a 64-row block per signature (leaf sponge, 32 Merkle levels, the key's
//!   absorption into the key-set digest, message hash) plus the aborting decode and the target
//!   sum;
//! - [`chain::ChainAir`]: one width-16 row per chain step, 122 per signature;
//! - [`table::TableAir`]: the epoch's chain tweaks, verifier-computed periodic columns;
//! - [`perm::Perm24TableAir`]: the width-24 Poseidon1 permutations the signature rows use, one
//!   per row ([`perm`] also holds the Poseidon1 column layout both widths share).


use p3_air::{Air, AirBuilder, BaseAir};
use p3_lookup::InteractionBuilder;

use crate::xmss::F;


use chain::ChainAir;
use perm::Perm24TableAir;
use sig::SigAir;
use table::TableAir;

/// Bus of chain tokens `(sig, chain, pos, value (8), parameter (5))`.
pub(crate) const CHAIN_BUS: &str = "xmss-chain";
/// Lookup bus of chain tweaks `(chain, pos, t0, t1)`.
pub(crate) const TWEAK_BUS: &str = "xmss-chain-tweak";
/// Bus of width-24 permutation evaluations `(input (24), output[0..17])`: every row of the
/// signature AIR receives one, every row of the permutation table sends one.
pub(crate) const PERM24_BUS: &str = "poseidon1-24";
/// Bus of width-24 permutation evaluations with the whole output `(input (24), output (24))`,
/// sent by [`perm::Perm24TableAir::full_output`] (no AIR of today's proofs uses it; the
/// recursion verifier AIRs do).
pub(crate) const PERM24_FULL_BUS: &str = "poseidon1-24-full";

/// Views a row of exactly `size_of::<$cols<u8>>()` cells as the `#[repr(C)]` column struct
/// `$cols<T>` (`row.borrow()`, `row.borrow_mut()`), as `p3-poseidon1-air` does for its columns.
/// The struct must consist of `T`s, arrays of `T` and other such structs only.
macro_rules! row_view {
    ($cols:ident) => {
        impl<T> core::borrow::Borrow<$cols<T>> for [T] {
            fn borrow(&self) -> &$cols<T> {
                assert_eq!(
                    self.len(),
                    core::mem::size_of::<$cols<u8>>(),
                    concat!("a row of ", stringify!($cols))
                );
                // SAFETY: `$cols<T>` is `#[repr(C)]` and made of `T`s only, so it has the size of
                // `size_of::<$cols<u8>>()` `T`s, the alignment of `T` and no padding; the slice
                // holds exactly that many initialized `T`s.
                unsafe { &*self.as_ptr().cast::<$cols<T>>() }
            }
        }
        impl<T> core::borrow::BorrowMut<$cols<T>> for [T] {
            fn borrow_mut(&mut self) -> &mut $cols<T> {
                assert_eq!(
                    self.len(),
                    core::mem::size_of::<$cols<u8>>(),
                    concat!("a row of ", stringify!($cols))
                );
                // SAFETY: as in `borrow`, and the borrow is exclusive.
                unsafe { &mut *self.as_mut_ptr().cast::<$cols<T>>() }
            }
        }
    };
}
pub(crate) use row_view;

pub mod chain;
pub mod perm;
pub mod sig;
pub mod table;

/// The row's periodic values as expressions, so that the AIR can read them (borrowed as its
/// periodic-column struct) while it asserts constraints on the builder.
pub(crate) fn periodic_exprs<AB: AirBuilder>(builder: &AB) -> Vec<AB::Expr> {
    builder
        .periodic_values()
        .iter()
        .map(|&v| v.into())
        .collect()
}

/// Periodic columns in the column-major form `BaseAir::periodic_columns` returns, from `rows`,
/// one period of `width`-value rows laid out row after row (as the AIRs fill them through their
/// periodic-column structs).
pub(crate) fn column_major(rows: &[F], width: usize) -> std::sync::Arc<Vec<Vec<F>>> {
    let period = rows.len() / width;
    std::sync::Arc::new(
        (0..width)
            .map(|c| (0..period).map(|r| rows[r * width + c]).collect())
            .collect(),
    )
}

/// Number of AIR instances in every aggregate proof (signature, chain, table, permutation).
pub const NUM_INSTANCES: usize = 4;

/// Constraint degree of every AIR here (the x^3 S-box; lookup columns packed to stay within it).
pub const CONSTRAINT_DEGREE: usize = 3;

/// One of the four AIRs of an aggregate proof (batch-STARK needs one type for all instances).
#[derive(Clone)]
pub enum AggAir {
    /// Per-signature 64-row blocks: sponge, Merkle path, message hash, decode (instance 0).
    Sig(SigAir),
    /// Chain steps (instance 1).
    Chain(ChainAir),
    /// The tweak table (instance 2).
    Table(TableAir),
    /// The width-24 permutations the signature blocks use, one per row (instance 3).
    Perm24(Perm24TableAir),
}

macro_rules! dispatch {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            AggAir::Sig($a) => $e,
            AggAir::Chain($a) => $e,
            AggAir::Table($a) => $e,
            AggAir::Perm24($a) => $e,
        }
    };
}

/// The `BaseAir` methods of an enum of AIRs but `num_public_values`, each forwarded to the
/// variant's AIR through `$dispatch`, a macro of the form `$dispatch!(self, a => expr)` that
/// matches every variant. Used by [`AggAir`] and the recursion's `VerifierAir`.
macro_rules! forward_base_air {
    ($dispatch:ident) => {
        fn width(&self) -> usize {
            $dispatch!(self, a => p3_air::BaseAir::<$crate::xmss::F>::width(a))
        }
        fn num_periodic_columns(&self) -> usize {
            $dispatch!(self, a => p3_air::BaseAir::<$crate::xmss::F>::num_periodic_columns(a))
        }
        fn periodic_columns(&self) -> std::borrow::Cow<'_, [Vec<$crate::xmss::F>]> {
            $dispatch!(self, a => p3_air::BaseAir::<$crate::xmss::F>::periodic_columns(a))
        }
        fn main_next_row_columns(&self) -> Vec<usize> {
            $dispatch!(self, a => p3_air::BaseAir::<$crate::xmss::F>::main_next_row_columns(a))
        }
        fn max_constraint_degree(&self) -> Option<usize> {
            $dispatch!(self, a => p3_air::BaseAir::<$crate::xmss::F>::max_constraint_degree(a))
        }
    };
}
pub(crate) use forward_base_air;

impl BaseAir<F> for AggAir {
    forward_base_air!(dispatch);
    fn num_public_values(&self) -> usize {
        match self {
            AggAir::Sig(s) if s.is_template() => {
                super::statement::NUM_STATEMENT_VALUES + sig::STATEMENT_CONSTANTS
            }
            AggAir::Sig(_) => super::statement::NUM_STATEMENT_VALUES,
            _ => 0,
        }
    }
}

impl<AB> Air<AB> for AggAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        dispatch!(self, a => a.eval(builder))
    }
}
