//! `SigAir`: one fixed 64-row block of width-24 permutations per signature.
//!
//! Row roles inside a block (`r` = row index in the block; all roles are periodic columns of
//! period 64, computed by the verifier):
//!
//! | rows | permutation | extra work on the row |
//! | --- | --- | --- |
//! | `0..25` | leaf sponge absorption `r` | consumes the chain ends whose first element is in chunk `r` |
//! | `25..57` | Merkle node of level `r - 24` | row 56 emits the root on the root bus |
//! | `57` | message hash | fixes the 6 decoded field elements `A_0..A_5` |
//! | `58..64` | idle | |
//! | `0..48` | (any) | digit `r` of the codeword: 3 bit columns; rows `0..46` emit chain starts |
//!
//! The permutations themselves are proven by the permutation table
//! ([`super::perm::Perm24TableAir`]): every row here holds the permutation's input state (24
//! columns, [`IN`]) and the first 17 elements of its output ([`OUT`]), and receives that pair once
//! from the table on the permutation bus (`"poseidon1-24"`). After them come the block's signature index
//! `sig`, `active`, the key parameter (5), the message-hash outputs `A` (6) (all constant over the
//! block), two chain-end slots `E0`, `E1` (8 each), the chain start `H` (8), the digit bits (3),
//! the accumulators `acc` (value of the current 8-digit group) and `sum` (digit sum), the
//! remainder bits (7) and two products for its range check, and 7 mirrors of periodic columns
//! that bus messages need (p3-lookup 0.8 does not read periodic columns inside messages): 99
//! columns.
//!
//! See `README.md` in this directory for what each constraint guarantees.

use std::borrow::Cow;

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::{PrimeCharacteristicRing, PrimeField32};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;
use p3_maybe_rayon::prelude::*;

use super::perm::{PermFiller, PERM24_BUS_OUTPUTS, PERM24_COLS, PERM24_MESSAGE_WIDTH};
use super::{CHAIN_BUS, PERM24_BUS, ROOT_BUS};
use crate::xmss::constants::{
    BASE, CAPACITY, DIMENSION, HASH_LEN_FE, LOG_LIFETIME, MH_DECODED_FE, PARAMETER_LEN, Q,
    SPONGE_RATE, TARGET_SUM, Z,
};
use crate::xmss::hash::{leaf_sponge_inputs, tree_node_input};
use crate::xmss::message::{encode_message, message_hash_input};
use crate::xmss::poseidon::sponge_capacity_value;
use crate::xmss::tweak::{message_tweak, tree_tweak};
use crate::xmss::{Digest, Parameter, F};

/// Rows per signature block.
pub const BLOCK: usize = 64;
/// Fewest blocks in a trace (padding blocks added): every trace must be taller than the FRI
/// final polynomial ([`super::config::Preset::min_log_trace_height`]).
pub const MIN_BLOCKS: usize = 2;
/// Sponge absorptions (rows `0..25`).
pub const SPONGE_ROWS: usize = 25;
/// First Merkle row.
pub const MERKLE_FIRST: usize = SPONGE_ROWS;
/// The row whose compression output is the root.
pub const ROOT_ROW: usize = MERKLE_FIRST + LOG_LIFETIME - 1;
/// The message-hash row.
pub const MSG_ROW: usize = ROOT_ROW + 1;
/// Digit rows (6 field elements x 8 digits).
pub const DIGIT_ROWS: usize = MH_DECODED_FE * Z;

// Main columns.
/// First of the 24 columns holding the input state of the row's width-24 permutation.
pub const IN: usize = 0;
/// First of the [`PERM24_BUS_OUTPUTS`] columns holding `Perm24(input)[0..17]`.
pub const OUT: usize = IN + 24;
const P: usize = OUT + PERM24_BUS_OUTPUTS;
pub const SIG: usize = P;
pub const ACTIVE: usize = P + 1;
pub const PARAM: usize = P + 2;
pub const A: usize = PARAM + PARAMETER_LEN;
pub const E0: usize = A + MH_DECODED_FE;
pub const E1: usize = E0 + HASH_LEN_FE;
pub const H: usize = E1 + HASH_LEN_FE;
pub const BITS: usize = H + HASH_LEN_FE;
pub const ACC: usize = BITS + 3;
pub const SUM: usize = ACC + 1;
pub const RBITS: usize = SUM + 1;
pub const RPROD: usize = RBITS + 7;
pub const M_CHAIN_IDX: usize = RPROD + 2;
pub const M_IS_CHAIN: usize = M_CHAIN_IDX + 1;
pub const M_SLOT_IDX: usize = M_IS_CHAIN + 1; // 2 columns
pub const M_SLOT_VALID: usize = M_SLOT_IDX + 2; // 2 columns
pub const M_ROOT: usize = M_SLOT_VALID + 2;
/// Width of the signature AIR.
pub const WIDTH: usize = M_ROOT + 1;

// Periodic columns (period 64).
const P_SP0: usize = 0;
const P_SPCONT: usize = 1;
const P_LEAF_L: usize = 2;
const P_LEAF_R: usize = 3;
const P_MERKLE: usize = 4;
const P_MT0: usize = 5;
const P_MT1: usize = 6;
const P_MNEXT_L: usize = 7;
const P_MNEXT_R: usize = 8;
const P_MSG: usize = 9;
const P_BLK_LAST: usize = 10;
const P_GRP_FIRST_NEXT: usize = 11;
const P_POW8_NEXT: usize = 12;
const P_CHAIN_NEXT: usize = 13;
const P_SELK: usize = 14; // 6 columns
const P_IS_CHAIN: usize = P_SELK + MH_DECODED_FE;
const P_CHAIN_IDX: usize = P_IS_CHAIN + 1;
const P_SLOT_IDX: usize = P_CHAIN_IDX + 1; // 2
const P_SLOT_VALID: usize = P_SLOT_IDX + 2; // 2
const P_ROOT: usize = P_SLOT_VALID + 2;
const P_SLOT_OFF: usize = P_ROOT + 1; // 2 x 15
const NUM_PERIODIC: usize = P_SLOT_OFF + 2 * SPONGE_RATE;

/// Position in the leaf sponge's input stream of element `j` of chain end `i`.
const fn stream_pos(chain: usize, j: usize) -> usize {
    PARAMETER_LEN + 2 + HASH_LEN_FE * chain + j
}

/// The chain ends whose first element lies in sponge chunk `r`, in order (at most 2).
fn slots_of_row(r: usize) -> Vec<usize> {
    (0..DIMENSION)
        .filter(|&i| stream_pos(i, 0) / SPONGE_RATE == r)
        .collect()
}

/// The signature AIR for one (message, epoch).
#[derive(Clone)]
pub struct SigAir {
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    capacity: [F; CAPACITY],
    leaf_tweak: [F; 2],
    message_fe: [F; 9],
    message_tweak: [F; 2],
}

impl SigAir {
    /// The signature AIR for `message` and `epoch`.
    pub fn new(message: &[u8; 32], epoch: u32) -> Self {
        let mut per = vec![vec![F::ZERO; BLOCK]; NUM_PERIODIC];
        let bit = |l: usize| (epoch >> l) & 1;
        for r in 0..BLOCK {
            let set = |per: &mut Vec<Vec<F>>, c: usize, v: F| per[c][r] = v;
            if r == 0 {
                set(&mut per, P_SP0, F::ONE);
            }
            if r + 1 < SPONGE_ROWS {
                set(&mut per, P_SPCONT, F::ONE);
            }
            if r + 1 == SPONGE_ROWS {
                // The leaf is the level-0 node: left child iff epoch bit 0 is 0.
                set(
                    &mut per,
                    if bit(0) == 0 { P_LEAF_L } else { P_LEAF_R },
                    F::ONE,
                );
            }
            if (MERKLE_FIRST..=ROOT_ROW).contains(&r) {
                // This row computes the node of level l + 1 from children of level l.
                let l = r - MERKLE_FIRST;
                let t = tree_tweak(
                    (l + 1) as u8,
                    epoch.checked_shr((l + 1) as u32).unwrap_or(0),
                );
                set(&mut per, P_MERKLE, F::ONE);
                set(&mut per, P_MT0, t[0]);
                set(&mut per, P_MT1, t[1]);
                if r < ROOT_ROW {
                    let c = if bit(l + 1) == 0 {
                        P_MNEXT_L
                    } else {
                        P_MNEXT_R
                    };
                    set(&mut per, c, F::ONE);
                }
            }
            if r == ROOT_ROW {
                set(&mut per, P_ROOT, F::ONE);
            }
            if r == MSG_ROW {
                set(&mut per, P_MSG, F::ONE);
            }
            if r == BLOCK - 1 {
                set(&mut per, P_BLK_LAST, F::ONE);
            }
            let next = (r + 1) % BLOCK;
            if next.is_multiple_of(Z) {
                set(&mut per, P_GRP_FIRST_NEXT, F::ONE);
            }
            set(
                &mut per,
                P_POW8_NEXT,
                F::from_u32((BASE as u32).pow((next % Z) as u32)),
            );
            if next < DIMENSION {
                set(&mut per, P_CHAIN_NEXT, F::ONE);
            }
            if r < DIGIT_ROWS && r % Z == Z - 1 {
                set(&mut per, P_SELK + r / Z, F::ONE);
            }
            if r < DIMENSION {
                set(&mut per, P_IS_CHAIN, F::ONE);
                set(&mut per, P_CHAIN_IDX, F::from_usize(r));
            }
            if r < SPONGE_ROWS {
                for (a, &i) in slots_of_row(r).iter().enumerate() {
                    set(&mut per, P_SLOT_IDX + a, F::from_usize(i));
                    set(&mut per, P_SLOT_VALID + a, F::ONE);
                    let off = stream_pos(i, 0) - r * SPONGE_RATE;
                    set(&mut per, P_SLOT_OFF + a * SPONGE_RATE + off, F::ONE);
                }
            }
        }
        Self {
            periodic: std::sync::Arc::new(per),
            capacity: sponge_capacity_value(),
            leaf_tweak: tree_tweak(0, epoch),
            message_fe: encode_message(message),
            message_tweak: message_tweak(epoch),
        }
    }
}

impl BaseAir<F> for SigAir {
    fn width(&self) -> usize {
        WIDTH
    }
    fn num_periodic_columns(&self) -> usize {
        NUM_PERIODIC
    }
    fn periodic_columns(&self) -> Cow<'_, [Vec<F>]> {
        Cow::Borrowed(self.periodic.as_slice())
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(3)
    }
}

impl<AB> Air<AB> for SigAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let (cur, nxt) = (main.current_slice(), main.next_slice());
        let per: Vec<AB::Expr> = builder
            .periodic_values()
            .iter()
            .map(|&v| v.into())
            .collect();
        let c = |i: usize| -> AB::Expr { cur[i].into() };
        let n = |i: usize| -> AB::Expr { nxt[i].into() };
        let out = OUT;
        // Feed-forward compression output element j (Merkle node, message hash).
        let cmp = |j: usize| -> AB::Expr { cur[out + j] + cur[j] };
        let one = AB::Expr::ONE;

        // --- Block-constant columns: sig, active, parameter, A.
        let keep = one.clone() - per[P_BLK_LAST].clone();
        for col in [SIG, ACTIVE]
            .into_iter()
            .chain(PARAM..PARAM + PARAMETER_LEN)
            .chain(A..A + MH_DECODED_FE)
        {
            builder.assert_zero(keep.clone() * (n(col) - c(col)));
        }
        builder.assert_bool(cur[ACTIVE]);

        // --- Leaf sponge.
        let sp0 = per[P_SP0].clone();
        for j in 0..CAPACITY {
            builder.assert_zero(sp0.clone() * (c(j) - self.capacity[j]));
        }
        for j in 0..PARAMETER_LEN {
            builder.assert_zero(sp0.clone() * (c(CAPACITY + j) - c(PARAM + j)));
        }
        for j in 0..2 {
            builder
                .assert_zero(sp0.clone() * (c(CAPACITY + PARAMETER_LEN + j) - self.leaf_tweak[j]));
        }
        // Replacement sponge: the capacity part carries over, the rate part is overwritten.
        for j in 0..CAPACITY {
            builder.assert_zero(per[P_SPCONT].clone() * (n(j) - c(out + j)));
        }
        // Chain-end slots: slot a of row r holds the chain end starting at rate offset `off`;
        // element j sits at offset off + j, in this row's rate or (past 15) the next row's.
        for (slot, e) in [E0, E1].into_iter().enumerate() {
            for j in 0..HASH_LEN_FE {
                let mut acc = AB::Expr::ZERO;
                for off in 0..SPONGE_RATE {
                    let q = off + j;
                    let src = if q < SPONGE_RATE {
                        c(CAPACITY + q)
                    } else {
                        n(CAPACITY + q - SPONGE_RATE)
                    };
                    acc += per[P_SLOT_OFF + slot * SPONGE_RATE + off].clone() * (c(e + j) - src);
                }
                builder.assert_zero(acc);
            }
        }

        // --- Merkle path. The sponge output (rate part) is the leaf, the level-0 node.
        for j in 0..HASH_LEN_FE {
            let leaf = c(out + CAPACITY + j);
            builder.assert_zero(
                per[P_LEAF_L].clone() * (n(7 + j) - leaf.clone())
                    + per[P_LEAF_R].clone() * (n(15 + j) - leaf),
            );
            let node = cmp(j);
            builder.assert_zero(
                per[P_MNEXT_L].clone() * (n(7 + j) - node.clone())
                    + per[P_MNEXT_R].clone() * (n(15 + j) - node),
            );
        }
        let merkle = per[P_MERKLE].clone();
        for j in 0..PARAMETER_LEN {
            builder.assert_zero(merkle.clone() * (c(j) - c(PARAM + j)));
        }
        builder.assert_zero(merkle.clone() * c(5) - per[P_MT0].clone());
        builder.assert_zero(merkle.clone() * c(6) - per[P_MT1].clone());
        builder.assert_zero(merkle * c(23));

        // --- Message hash: [message (9) | parameter (5) | message tweak (2) | rho (7) | 0].
        let msg = per[P_MSG].clone();
        for j in 0..9 {
            builder.assert_zero(msg.clone() * (c(j) - self.message_fe[j]));
        }
        for j in 0..PARAMETER_LEN {
            builder.assert_zero(msg.clone() * (c(9 + j) - c(PARAM + j)));
        }
        for j in 0..2 {
            builder.assert_zero(msg.clone() * (c(14 + j) - self.message_tweak[j]));
        }
        builder.assert_zero(msg.clone() * c(23));
        for k in 0..MH_DECODED_FE {
            builder.assert_zero(msg.clone() * (c(A + k) - cmp(k)));
        }

        // --- Aborting decode and target sum.
        builder.assert_bools([cur[BITS], cur[BITS + 1], cur[BITS + 2]]);
        let digit = |row: &[AB::Var]| -> AB::Expr {
            row[BITS] + row[BITS + 1] * F::TWO + row[BITS + 2] * F::from_u8(4)
        };
        let x = digit(cur);
        let x_next = digit(nxt);
        // The accumulators are tied row to row on transitions and pinned on the first row, so
        // the constraints do not depend on what a backend takes as the last row's successor
        // (row 0 in the univariate STARK, the last row itself in the multilinear one).
        let transition = builder.is_transition();
        let first_row = builder.is_first_row();
        // acc: value of the digits of the current group so far (little-endian base 8). Row 0
        // starts a group with weight 8^0.
        builder.assert_zero(
            transition.clone()
                * (n(ACC)
                    - (one.clone() - per[P_GRP_FIRST_NEXT].clone()) * c(ACC)
                    - per[P_POW8_NEXT].clone() * x_next.clone()),
        );
        builder.assert_zero(first_row.clone() * (c(ACC) - x.clone()));
        // sum: digit sum of the block's chain digits so far. Row 0 is a chain-digit row.
        builder.assert_zero(
            transition
                * (n(SUM)
                    - (one.clone() - per[P_BLK_LAST].clone()) * c(SUM)
                    - per[P_CHAIN_NEXT].clone() * x_next),
        );
        builder.assert_zero(first_row * (c(SUM) - x.clone()));
        builder.assert_zero(per[P_BLK_LAST].clone() * (c(SUM) - F::from_usize(TARGET_SUM)));
        // A_k = Q * d_k + rem_k with d_k the 8 digits of group k and rem_k in [0, Q).
        let mut rem = AB::Expr::ZERO;
        for m in 0..7 {
            builder.assert_bool(cur[RBITS + m]);
            rem += cur[RBITS + m] * F::from_u32(1 << m);
        }
        builder.assert_eq(cur[RPROD], cur[RBITS] * cur[RBITS + 1] * cur[RBITS + 2]);
        builder.assert_eq(cur[RPROD + 1], cur[RPROD] * cur[RBITS + 3] * cur[RBITS + 4]);
        builder.assert_zero(cur[RPROD + 1] * cur[RBITS + 5] * cur[RBITS + 6]);
        for k in 0..MH_DECODED_FE {
            builder.assert_zero(
                per[P_SELK + k].clone() * (c(ACC) * F::from_u32(Q) + rem.clone() - c(A + k)),
            );
        }

        // --- Mirrors of periodic columns used in bus messages.
        for (col, p) in [
            (M_CHAIN_IDX, P_CHAIN_IDX),
            (M_IS_CHAIN, P_IS_CHAIN),
            (M_SLOT_IDX, P_SLOT_IDX),
            (M_SLOT_IDX + 1, P_SLOT_IDX + 1),
            (M_SLOT_VALID, P_SLOT_VALID),
            (M_SLOT_VALID + 1, P_SLOT_VALID + 1),
            (M_ROOT, P_ROOT),
        ] {
            builder.assert_zero(c(col) - per[p].clone());
        }

        // --- Buses.
        let active = cur[ACTIVE];
        let param: Vec<AB::Expr> = (0..PARAMETER_LEN).map(|j| c(PARAM + j)).collect();
        let chain_bus = PermutationCheckBus::new(CHAIN_BUS);
        // Chain start: (sig, i, x_i, H, parameter) at position x_i.
        let mut start = vec![c(SIG), c(M_CHAIN_IDX), x];
        start.extend((0..HASH_LEN_FE).map(|j| c(H + j)));
        start.extend(param.iter().cloned());
        chain_bus.send(builder, start, Count::bounded(active * cur[M_IS_CHAIN], 1));
        // Chain ends at position 7, absorbed by the sponge.
        for (slot, e) in [E0, E1].into_iter().enumerate() {
            let mut end = vec![c(SIG), c(M_SLOT_IDX + slot), AB::Expr::from_usize(BASE - 1)];
            end.extend((0..HASH_LEN_FE).map(|j| c(e + j)));
            end.extend(param.iter().cloned());
            chain_bus.receive(
                builder,
                end,
                Count::bounded(active * cur[M_SLOT_VALID + slot], 1),
            );
        }
        // The root, checked against the key table.
        let mut root = vec![c(SIG)];
        root.extend((0..HASH_LEN_FE).map(cmp));
        root.extend(param);
        PermutationCheckBus::new(ROOT_BUS).send(
            builder,
            root,
            Count::bounded(active * cur[M_ROOT], 1),
        );
        // Every row's (input, output[0..17]) is one evaluation of the width-24 permutation,
        // taken from the permutation table (one row there per row here, padding included).
        let perm: Vec<AB::Expr> = (IN..IN + PERM24_MESSAGE_WIDTH).map(c).collect();
        PermutationCheckBus::new(PERM24_BUS).receive(builder, perm, 1);
    }
}

/// Everything the signature block needs about one signature (the prover's witness).
#[derive(Clone, Debug)]
pub struct SigWitness {
    /// Key parameter.
    pub parameter: Parameter,
    /// Randomness rho.
    pub rho: [F; 7],
    /// The codeword digits (48: the 46 chain digits and the 2 unused digits of `A_5`).
    pub digits: [u8; DIGIT_ROWS],
    /// The 6 remainders `A_k mod Q`.
    pub remainders: [u32; MH_DECODED_FE],
    /// The chain starts (signature hashes).
    pub starts: [Digest; DIMENSION],
    /// The chain ends (position 7).
    pub ends: [Digest; DIMENSION],
    /// Merkle siblings, level 0 first.
    pub path: [Digest; LOG_LIFETIME],
}

/// Splits the message-hash output into the 48 base-8 digits and 6 remainders of the aborting
/// decode, without any abort or sum check (the AIR is what checks).
pub fn decode_digits(hash: &[F]) -> ([u8; DIGIT_ROWS], [u32; MH_DECODED_FE]) {
    let mut digits = [0u8; DIGIT_ROWS];
    let mut rems = [0u32; MH_DECODED_FE];
    for k in 0..MH_DECODED_FE {
        let a = hash[k].as_canonical_u32();
        rems[k] = a % Q;
        let mut d = a / Q;
        for j in 0..Z {
            digits[k * Z + j] = (d % BASE as u32) as u8;
            d /= BASE as u32;
        }
    }
    (digits, rems)
}

/// Fills one 64-row block of the signature trace (`block.len() == 64 * WIDTH`) for signature
/// index `sig`, and the 64 matching rows of the permutation table (`perm_block.len() == 64 *
/// PERM24_COLS`): row `r` of the table proves the permutation whose input and output row `r` of
/// the block holds.
#[allow(clippy::too_many_arguments)]
pub fn fill_block(
    block: &mut [F],
    perm_block: &mut [F],
    sig: u32,
    active: bool,
    w: &SigWitness,
    message: &[u8; 32],
    epoch: u32,
    filler: &PermFiller<24>,
) {
    let mut rows: Vec<&mut [F]> = block.chunks_mut(WIDTH).collect();
    let mut perm_rows: Vec<&mut [F]> = perm_block.chunks_mut(PERM24_COLS).collect();
    // Proves Perm24(input) in table row r, copies input and output[0..17] into block row r.
    let mut permute = |rows: &mut Vec<&mut [F]>, r: usize, input: [F; 24]| -> [F; 24] {
        let o = filler.fill(perm_rows[r], input);
        rows[r][IN..IN + 24].copy_from_slice(&input);
        rows[r][OUT..OUT + PERM24_BUS_OUTPUTS].copy_from_slice(&o[..PERM24_BUS_OUTPUTS]);
        o
    };
    // Sponge rows.
    let sponge_inputs = leaf_sponge_inputs(&w.parameter, epoch, &w.ends);
    let mut leaf = [F::ZERO; HASH_LEN_FE];
    for (r, input) in sponge_inputs.iter().enumerate() {
        let o = permute(&mut rows, r, *input);
        if r + 1 == SPONGE_ROWS {
            leaf.copy_from_slice(&o[CAPACITY..CAPACITY + HASH_LEN_FE]);
        }
        for (a, &i) in slots_of_row(r).iter().enumerate() {
            let e = if a == 0 { E0 } else { E1 };
            rows[r][e..e + HASH_LEN_FE].copy_from_slice(&w.ends[i]);
        }
    }
    // Merkle rows.
    let mut node = leaf;
    for l in 0..LOG_LIFETIME {
        let pos = epoch >> l;
        let (left, right) = if pos & 1 == 0 {
            (node, w.path[l])
        } else {
            (w.path[l], node)
        };
        let input = tree_node_input(
            &w.parameter,
            (l + 1) as u8,
            epoch.checked_shr(l as u32 + 1).unwrap_or(0),
            &left,
            &right,
        );
        let o = permute(&mut rows, MERKLE_FIRST + l, input);
        node = core::array::from_fn(|j| o[j] + input[j]);
    }
    // Message hash row.
    let input = message_hash_input(&w.parameter, epoch, &w.rho, message);
    let o = permute(&mut rows, MSG_ROW, input);
    let a: [F; MH_DECODED_FE] = core::array::from_fn(|k| o[k] + input[k]);
    // Idle rows: permutation of zero.
    for r in MSG_ROW + 1..BLOCK {
        let _ = permute(&mut rows, r, [F::ZERO; 24]);
    }
    // Per-row columns.
    let mut acc = F::ZERO;
    let mut sum = F::ZERO;
    for (r, row) in rows.iter_mut().enumerate() {
        row[SIG] = F::from_u32(sig);
        row[ACTIVE] = F::from_bool(active);
        row[PARAM..PARAM + PARAMETER_LEN].copy_from_slice(&w.parameter);
        row[A..A + MH_DECODED_FE].copy_from_slice(&a);
        let x = if r < DIGIT_ROWS { w.digits[r] } else { 0 };
        for b in 0..3 {
            row[BITS + b] = F::from_u8((x >> b) & 1);
        }
        let xf = F::from_u8(x);
        acc = if r % Z == 0 {
            xf
        } else {
            acc + xf * F::from_u32((BASE as u32).pow((r % Z) as u32))
        };
        if r < DIMENSION {
            sum += xf;
        }
        row[ACC] = acc;
        row[SUM] = sum;
        if r < DIGIT_ROWS && r % Z == Z - 1 {
            let rem = w.remainders[r / Z];
            for m in 0..7 {
                row[RBITS + m] = F::from_u32((rem >> m) & 1);
            }
        }
        let rb: [F; 7] = core::array::from_fn(|m| row[RBITS + m]);
        row[RPROD] = rb[0] * rb[1] * rb[2];
        row[RPROD + 1] = row[RPROD] * rb[3] * rb[4];
        if r < DIMENSION {
            row[H..H + HASH_LEN_FE].copy_from_slice(&w.starts[r]);
            row[M_CHAIN_IDX] = F::from_usize(r);
            row[M_IS_CHAIN] = F::ONE;
        }
        if r < SPONGE_ROWS {
            for (a, &i) in slots_of_row(r).iter().enumerate() {
                row[M_SLOT_IDX + a] = F::from_usize(i);
                row[M_SLOT_VALID + a] = F::ONE;
            }
        }
        if r == ROOT_ROW {
            row[M_ROOT] = F::ONE;
        }
    }
}

/// Builds the signature AIR trace and the width-24 permutation table trace (same height, row
/// for row): block `s` for witness `s`; padding blocks (up to a power of two) repeat witness 0
/// with `active = 0`.
pub fn generate_trace(
    witnesses: &[SigWitness],
    message: &[u8; 32],
    epoch: u32,
) -> (RowMajorMatrix<F>, RowMajorMatrix<F>) {
    let blocks = witnesses.len().next_power_of_two().max(MIN_BLOCKS);
    let mut values = F::zero_vec(blocks * BLOCK * WIDTH);
    let mut perm_values = F::zero_vec(blocks * BLOCK * PERM24_COLS);
    let filler = PermFiller::shared24();
    values
        .par_chunks_mut(BLOCK * WIDTH)
        .zip(perm_values.par_chunks_mut(BLOCK * PERM24_COLS))
        .enumerate()
        .for_each(|(s, (block, perm_block))| {
            let (w, active) = match witnesses.get(s) {
                Some(w) => (w, true),
                None => (&witnesses[0], false),
            };
            fill_block(
                block, perm_block, s as u32, active, w, message, epoch, filler,
            );
        });
    (
        RowMajorMatrix::new(values, WIDTH),
        RowMajorMatrix::new(perm_values, PERM24_COLS),
    )
}

// Layout invariants, checked when the crate compiles.
// - The highest output element the constraints read is the leaf, out[CAPACITY + 7]; reading past
//   PERM24_BUS_OUTPUTS would land in the next column (SIG), which the bus does not check.
// - The block layout is the one src/aggregate/README.md describes.
const _: () = {
    assert!(CAPACITY + HASH_LEN_FE == PERM24_BUS_OUTPUTS);
    assert!(HASH_LEN_FE <= PERM24_BUS_OUTPUTS && MH_DECODED_FE <= PERM24_BUS_OUTPUTS);
    assert!(OUT + PERM24_BUS_OUTPUTS == SIG);
    assert!(ROOT_ROW == 56 && MSG_ROW == 57);
    assert!(MSG_ROW < BLOCK && DIGIT_ROWS <= BLOCK);
    assert!(WIDTH == 99);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sponge_slots_cover_every_rate_cell_once() {
        // (row, rate offset) -> how many slot elements are tied to it; row 0's first 7 cells are
        // the parameter and the leaf tweak.
        let mut covered = vec![[0u8; SPONGE_RATE]; SPONGE_ROWS];
        covered[0][..PARAMETER_LEN + 2]
            .iter_mut()
            .for_each(|c| *c += 1);
        let mut chains = Vec::new();
        for r in 0..SPONGE_ROWS {
            let slots = slots_of_row(r);
            assert!(slots.len() <= 2, "row {r} needs {} slots", slots.len());
            for &i in &slots {
                chains.push(i);
                let off = stream_pos(i, 0) - r * SPONGE_RATE;
                for j in 0..HASH_LEN_FE {
                    let q = off + j;
                    let (row, cell) = if q < SPONGE_RATE {
                        (r, q)
                    } else {
                        (r + 1, q - SPONGE_RATE)
                    };
                    assert!(row < SPONGE_ROWS, "chain end {i} spills past the sponge");
                    covered[row][cell] += 1;
                }
            }
        }
        assert_eq!(chains, (0..DIMENSION).collect::<Vec<_>>());
        assert!(covered.iter().flatten().all(|&c| c == 1));
    }
}
