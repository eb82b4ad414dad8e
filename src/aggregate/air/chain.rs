//! `ChainAir`: one row per chain step (width-16 compression), 122 rows per signature.
//!
//! Row layout: the 164 permutation columns of the step's input
//! `[value (8) | parameter (5) | chain tweak (2) | 0]` (leanSig's chain-step layout, see
//! [`crate::xmss::hash::chain_layout`]), then `sig` (the signature's index), `chain`, `pos` and
//! `active`.
//!
//! An active row consumes the token `(sig, chain, pos, value, parameter)` on the chain bus,
//! produces `(sig, chain, pos + 1, compress(value), parameter)`, and looks
//! `(chain, pos + 1, tweak)` up in the tweak table, which holds exactly the 46 x 7 chain tweaks of
//! the epoch. So every step hashes with the tweak of its own chain and target position, and a
//! chain can only move forward from a position in `0..7` to the next one.

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, LookupBus, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;
use p3_maybe_rayon::prelude::*;

use super::perm::{perm16_air, Cols16, Perm16Air, PermFiller, PrefixBuilder, PERM16_COLS};
use super::{CHAIN_BUS, TWEAK_BUS};
use std::borrow::{Borrow, BorrowMut};

use crate::xmss::constants::{HASH_LEN_FE, PARAMETER_LEN, TWEAK_LEN_FE};
use crate::xmss::hash::chain_layout::{PARAMETER as PARAM, TWEAK, VALUE};
use crate::xmss::F;

/// The columns of one chain-step row, viewed over a row slice with `row.borrow()` /
/// `row.borrow_mut()` ([`super::row_view`]).
#[repr(C)]
pub struct ChainCols<T> {
    /// The width-16 permutation of the step: its input `[value | parameter | tweak | 0]` and the
    /// committed round states.
    pub perm: Cols16<T>,
    /// Index of the signature the step belongs to.
    pub sig: T,
    /// Chain index (0..46).
    pub chain: T,
    /// Position the step starts from (0..7); the step produces position `pos + 1`.
    pub pos: T,
    /// Activity flag (boolean): padding rows are inactive and send nothing.
    pub active: T,
}

super::row_view!(ChainCols);

impl<T: Copy> ChainCols<T> {
    /// The permutation output `Perm16(input)`: the state after the last full round.
    pub fn output(&self) -> [T; 16] {
        self.perm.ending_full_rounds[self.perm.ending_full_rounds.len() - 1].post
    }
}

/// Width of the chain AIR.
pub const WIDTH: usize = core::mem::size_of::<ChainCols<u8>>();
/// Smallest trace height (padding rows added): every trace must be taller than the FRI final
/// polynomial ([`crate::aggregate::Preset::min_log_trace_height`]).
pub const MIN_HEIGHT: usize = 128;

/// The zero lane of the width-16 chain-step input, after the tweak.
const ZERO: usize = TWEAK + TWEAK_LEN_FE;

/// The chain-step AIR. Holds no statement data: the epoch enters through the tweak table.
#[derive(Clone)]
pub struct ChainAir {
    perm: std::sync::Arc<Perm16Air>,
}

impl Default for ChainAir {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainAir {
    /// The chain AIR.
    pub fn new() -> Self {
        Self { perm: perm16_air() }
    }
}

impl BaseAir<F> for ChainAir {
    fn width(&self) -> usize {
        WIDTH
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

impl<AB> Air<AB> for ChainAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        {
            let mut sub = PrefixBuilder::new(builder, PERM16_COLS);
            self.perm.as_ref().eval(&mut sub);
        }
        let main = builder.main();
        let row: &ChainCols<AB::Var> = main.current_slice().borrow();
        let input = row.perm.inputs;
        let output = row.output();
        let active = row.active;
        builder.assert_bool(active);
        builder.assert_zero(input[ZERO]);

        let sig: AB::Expr = row.sig.into();
        let chain: AB::Expr = row.chain.into();
        let pos: AB::Expr = row.pos.into();
        let next_pos = pos.clone() + AB::Expr::ONE;
        let param: Vec<AB::Expr> = (0..PARAMETER_LEN)
            .map(|j| input[PARAM + j].into())
            .collect();

        // The tweak of the step that produces position pos + 1 of this chain.
        LookupBus::new(TWEAK_BUS).lookup_key(
            builder,
            [
                chain.clone(),
                next_pos.clone(),
                input[TWEAK].into(),
                input[TWEAK + 1].into(),
            ],
            Count::bounded(active.into(), 1),
        );

        let bus = PermutationCheckBus::new(CHAIN_BUS);
        let mut consumed = vec![sig.clone(), chain.clone(), pos];
        consumed.extend((0..HASH_LEN_FE).map(|j| input[VALUE + j].into()));
        consumed.extend(param.iter().cloned());
        bus.receive(builder, consumed, Count::bounded(active.into(), 1));

        // Feed-forward: the step's output is Perm16(x)[0..8] + x[0..8].
        let mut produced = vec![sig, chain, next_pos];
        produced.extend((0..HASH_LEN_FE).map(|j| output[j] + input[VALUE + j]));
        produced.extend(param);
        bus.send(builder, produced, Count::bounded(active.into(), 1));
    }
}

/// One chain step of one signature: the token it consumes.
#[derive(Clone, Copy, Debug)]
pub struct ChainStep {
    /// Signature index.
    pub sig: u32,
    /// Chain index, 0..46.
    pub chain: u8,
    /// Position the step starts from, 0..7.
    pub pos: u8,
    /// The permutation input `[value | parameter | tweak | 0]`.
    pub input: [F; 16],
}

/// Builds the chain AIR trace: one row per step, padded with inactive all-zero-input rows to a
/// power-of-two height (at least [`MIN_HEIGHT`]).
pub fn generate_trace(steps: &[ChainStep]) -> RowMajorMatrix<F> {
    let height = steps.len().next_power_of_two().max(MIN_HEIGHT);
    let mut values = F::zero_vec(height * WIDTH);
    let filler = PermFiller::shared16();
    values
        .par_chunks_mut(WIDTH)
        .enumerate()
        .for_each(|(r, row)| {
            if let Some(step) = steps.get(r) {
                let _ = filler.fill(&mut row[..PERM16_COLS], step.input);
                let cols: &mut ChainCols<F> = row.borrow_mut();
                cols.sig = F::from_u32(step.sig);
                cols.chain = F::from_u8(step.chain);
                cols.pos = F::from_u8(step.pos);
                cols.active = F::ONE;
            } else {
                let _ = filler.fill(&mut row[..PERM16_COLS], [F::ZERO; 16]);
            }
        });
    RowMajorMatrix::new(values, WIDTH)
}
