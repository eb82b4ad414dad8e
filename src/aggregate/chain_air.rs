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

use super::perm::{output_offset, perm16_air, Perm16Air, PermFiller, PrefixBuilder, PERM16_COLS};
use super::{CHAIN_BUS, TWEAK_BUS};
use crate::xmss::F;

/// Column of the signature index.
pub const SIG: usize = PERM16_COLS;
/// Column of the chain index (0..46).
pub const CHAIN: usize = PERM16_COLS + 1;
/// Column of the position the step starts from (0..7); the step produces position `pos + 1`.
pub const POS: usize = PERM16_COLS + 2;
/// Column of the activity flag (boolean): padding rows are inactive and send nothing.
pub const ACTIVE: usize = PERM16_COLS + 3;
/// Width of the chain AIR.
pub const WIDTH: usize = PERM16_COLS + 4;
/// Smallest trace height (padding rows added): every trace must be taller than the FRI final
/// polynomial ([`super::config::Preset::min_log_trace_height`]).
pub const MIN_HEIGHT: usize = 128;

/// Offsets in the width-16 input state (leanSig chain-step layout).
const VALUE: usize = 0;
const PARAM: usize = 8;
const TWEAK: usize = 13;
const ZERO: usize = 15;

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
        let row = main.current_slice();
        let input = |i: usize| row[i];
        let out = output_offset(16);
        let active = row[ACTIVE];
        builder.assert_bool(active);
        builder.assert_zero(input(ZERO));

        let sig: AB::Expr = row[SIG].into();
        let chain: AB::Expr = row[CHAIN].into();
        let pos: AB::Expr = row[POS].into();
        let next_pos = pos.clone() + AB::Expr::ONE;
        let param: Vec<AB::Expr> = (0..5).map(|j| input(PARAM + j).into()).collect();

        // The tweak of the step that produces position pos + 1 of this chain.
        LookupBus::new(TWEAK_BUS).lookup_key(
            builder,
            [
                chain.clone(),
                next_pos.clone(),
                input(TWEAK).into(),
                input(TWEAK + 1).into(),
            ],
            Count::bounded(active.into(), 1),
        );

        let bus = PermutationCheckBus::new(CHAIN_BUS);
        let mut consumed = vec![sig.clone(), chain.clone(), pos];
        consumed.extend((0..8).map(|j| input(VALUE + j).into()));
        consumed.extend(param.iter().cloned());
        bus.receive(builder, consumed, Count::bounded(active.into(), 1));

        let mut produced = vec![sig, chain, next_pos];
        produced.extend((0..8).map(|j| row[out + j] + input(VALUE + j)));
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
                let _ = filler.fill(row, step.input);
                row[SIG] = F::from_u32(step.sig);
                row[CHAIN] = F::from_u8(step.chain);
                row[POS] = F::from_u8(step.pos);
                row[ACTIVE] = F::ONE;
            } else {
                let _ = filler.fill(row, [F::ZERO; 16]);
            }
        });
    RowMajorMatrix::new(values, WIDTH)
}
