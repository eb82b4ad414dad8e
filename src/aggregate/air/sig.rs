//! `SigAir`: one fixed 64-row block of width-24 permutations per signature.
//!
//! Row roles inside a block (`r` = row index in the block; all roles are periodic columns of
//! period 64, computed by the verifier):
//!
//! | rows | permutation | extra work on the row |
//! | --- | --- | --- |
//! | `0..25` | leaf sponge absorption `r` | consumes the chain ends whose first element is in chunk `r` |
//! | `25..57` | Merkle node of level `r - 24` | row 56's output (the root) is the next row's key root |
//! | `57` | key absorption | the key-set digest so far absorbs the block's key |
//! | `58` | message hash | fixes the 6 decoded field elements `A_0..A_5` |
//! | `59..64` | idle | |
//! | `0..48` | (any) | digit `r` of the codeword: 3 bit columns; rows `0..46` emit chain starts |
//!
//! The permutations themselves are proven by the permutation table
//! ([`super::perm::Perm24TableAir`]): every row here holds the permutation's input state (24
//! columns, [`SigCols::input`]) and the first 17 elements of its output ([`SigCols::output`]),
//! and receives that pair once
//! from the table on the permutation bus (`"poseidon1-24"`). After them come the block's signature index
//! `sig`, `active`, the key parameter (5), the message-hash outputs `A` (6) (all constant over the
//! block), the key-set digest so far (9), two chain-end slots `E0`, `E1` (8 each), the chain
//! start `H` (8), the digit bits (3), the accumulators `acc` (value of the current 8-digit group)
//! and `sum` (digit sum), the remainder bits (7) and two products for its range check, and 6
//! mirrors of periodic columns that bus messages need (p3-lookup 0.8 does not read periodic
//! columns inside messages): 107 columns.
//!
//! The key-set digest (the statement's binding to its signers, see
//! [`crate::aggregate::statement::key_set_digest_ordered`]) is a chain of width-24 compressions, one per
//! active block in block order: it starts from the public initial value on the trace's first
//! row, row 57 of an active block replaces it by `compress(digest | root | parameter | 0 | 0)`,
//! every other row carries it unchanged, and on the trace's last row it equals the public
//! digest. Block indices count up from 0 by one per block, so no two blocks share the index that
//! separates their chain tokens.
//!
//! See `README.md` in this directory for what each constraint guarantees.

use std::borrow::{Borrow, BorrowMut, Cow};

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::{PrimeCharacteristicRing, PrimeField32};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;
use p3_maybe_rayon::prelude::*;

use super::perm::{PermFiller, PERM24_BUS_OUTPUTS, PERM24_COLS, PERM24_MESSAGE_WIDTH};
use super::{CHAIN_BUS, PERM24_BUS};
use crate::aggregate::statement::{
    key_absorption_input, key_layout, key_set_iv, key_set_iv_expr, KEY_DIGEST_LEN,
    NUM_STATEMENT_VALUES, PV_KEY_DIGEST, PV_NUM_KEYS,
};
use crate::xmss::constants::{
    BASE, CAPACITY, DIMENSION, HASH_LEN_FE, LOG_LIFETIME, MH_DECODED_FE, MSG_LEN_FE,
    PARAMETER_LEN, Q, RAND_LEN_FE, SPONGE_RATE, TARGET_SUM, TWEAK_LEN_FE, Z,
};
use crate::xmss::hash::{leaf_sponge_inputs, node_layout, tree_node_input};
use crate::xmss::message::{encode_message, layout as msg_layout, message_hash_input};
use crate::xmss::poseidon::sponge_capacity_value;
use crate::xmss::tweak::{message_tweak, tree_tweak};
use crate::xmss::{Digest, Parameter, F};

/// Rows per signature block.
pub const BLOCK: usize = 64;
/// Fewest blocks in a trace (padding blocks added): every trace must be taller than the FRI
/// final polynomial ([`crate::aggregate::Preset::min_log_trace_height`]).
pub const MIN_BLOCKS: usize = 2;
/// Sponge absorptions (rows `0..25`).
pub const SPONGE_ROWS: usize = 25;
/// First Merkle row.
pub const MERKLE_FIRST: usize = SPONGE_ROWS;
/// The row whose compression output is the root.
pub const ROOT_ROW: usize = MERKLE_FIRST + LOG_LIFETIME - 1;
/// The row that absorbs the block's key into the key-set digest.
pub const KEY_ROW: usize = ROOT_ROW + 1;
/// The message-hash row.
pub const MSG_ROW: usize = KEY_ROW + 1;
/// Digit rows (6 field elements x 8 digits).
pub const DIGIT_ROWS: usize = MH_DECODED_FE * Z;

/// The main columns of one row of the signature AIR (107), viewed over a row slice with
/// `row.borrow()` / `row.borrow_mut()` ([`super::row_view`]).
#[repr(C)]
pub struct SigCols<T> {
    /// Input state of the row's width-24 permutation.
    pub input: [T; 24],
    /// `Perm24(input)[0..17]`, received from the permutation table with `input`.
    pub output: [T; PERM24_BUS_OUTPUTS],
    /// Index of the block's signature (constant over the block).
    pub sig: T,
    /// 1 on a signature's block, 0 on a padding block (constant over the block).
    pub active: T,
    /// The key parameter (constant over the block).
    pub parameter: [T; PARAMETER_LEN],
    /// The message-hash outputs `A_0..A_5` (constant over the block).
    pub a: [T; MH_DECODED_FE],
    /// The key-set digest of the active blocks before this row's absorption: the public initial
    /// value on the first row, updated on row [`KEY_ROW`] of every active block, the public
    /// digest on the last row.
    pub key_chain: [T; KEY_DIGEST_LEN],
    /// The chain ends a sponge row absorbs (at most two per row, see [`slots_of_row`]).
    pub chain_ends: [[T; HASH_LEN_FE]; 2],
    /// On row `r < 46`: the start of chain `r` (the signature's hash of chain `r`).
    pub chain_start: [T; HASH_LEN_FE],
    /// The three bits of digit `r` of the codeword.
    pub digit_bits: [T; 3],
    /// Value of the digits of the current 8-digit group so far (little-endian base 8).
    pub acc: T,
    /// Sum of the block's chain digits so far.
    pub sum: T,
    /// On the last row of group `k`: the bits of the remainder `A_k mod Q`.
    pub rem_bits: [T; 7],
    /// `rem_bits[0] rem_bits[1] rem_bits[2]`, then that times `rem_bits[3] rem_bits[4]`.
    pub rem_prod: [T; 2],
    /// Committed copies of periodic columns that bus messages read (p3-lookup 0.8 does not read
    /// periodic columns inside messages), each constrained equal to its periodic column.
    pub mirror: SigMirrors<T>,
}

/// The mirrored periodic columns of a signature-AIR row (see [`SigPeriodic`] for each meaning).
#[repr(C)]
pub struct SigMirrors<T> {
    /// [`SigPeriodic::chain_idx`].
    pub chain_idx: T,
    /// [`SigPeriodic::is_chain`].
    pub is_chain: T,
    /// [`SigPeriodic::slot_idx`].
    pub slot_idx: [T; 2],
    /// [`SigPeriodic::slot_valid`].
    pub slot_valid: [T; 2],
}

/// The periodic columns of the signature AIR (period [`BLOCK`], computed by the verifier from
/// the epoch): each names the role of row `r` of a block.
#[repr(C)]
pub struct SigPeriodic<T> {
    /// 1 on row 0: the first sponge absorption.
    pub sponge_first: T,
    /// 1 on rows `0..24`: the next row continues the sponge.
    pub sponge_continues: T,
    /// 1 on row 24 if the leaf is a left child (epoch bit 0 is 0).
    pub leaf_left: T,
    /// 1 on row 24 if the leaf is a right child.
    pub leaf_right: T,
    /// 1 on the Merkle rows `25..=56`.
    pub merkle: T,
    /// The tree tweak of the row's Merkle level.
    pub merkle_tweak: [T; 2],
    /// 1 on a Merkle row whose output is the next level's left child.
    pub next_left: T,
    /// 1 on a Merkle row whose output is the next level's right child.
    pub next_right: T,
    /// 1 on the message-hash row 57.
    pub msg: T,
    /// 1 on the block's last row.
    pub block_last: T,
    /// 1 when the next row starts an 8-digit group.
    pub group_first_next: T,
    /// `8^((r + 1) mod 8)`: the weight of the next row's digit in its group.
    pub pow8_next: T,
    /// 1 when the next row's digit is a chain digit (`r + 1 < 46`, cyclically).
    pub chain_next: T,
    /// `select_a[k]` is 1 on the last row of group `k`, where `A_k` is decomposed.
    pub select_a: [T; MH_DECODED_FE],
    /// 1 on rows `0..46` (the row's digit starts a chain).
    pub is_chain: T,
    /// The chain index `r` on rows `0..46`.
    pub chain_idx: T,
    /// On a sponge row: the chain index of each chain-end slot.
    pub slot_idx: [T; 2],
    /// On a sponge row: 1 for each slot that holds a chain end.
    pub slot_valid: [T; 2],
    /// 1 on row 56, whose compression output is the key's root.
    pub root: T,
    /// 1 on row 57, which absorbs the key into the key-set digest.
    pub key_row: T,
    /// `slot_offset[a][off]` is 1 when slot `a`'s chain end starts at rate offset `off`.
    pub slot_offset: [[T; SPONGE_RATE]; 2],
}

super::row_view!(SigCols);
super::row_view!(SigPeriodic);

/// Width of the signature AIR.
pub const WIDTH: usize = core::mem::size_of::<SigCols<u8>>();
/// Number of periodic columns of the signature AIR.
const NUM_PERIODIC: usize = core::mem::size_of::<SigPeriodic<u8>>();

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

/// The signature AIR for one (message, epoch), or its statement-free template
/// ([`SigAir::template`]).
#[derive(Clone)]
pub struct SigAir {
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    capacity: [F; CAPACITY],
    leaf_tweak: [F; 2],
    message_fe: [F; 9],
    message_tweak: [F; 2],
    /// The template: the statement's constants are read from public values
    /// `NUM_STATEMENT_VALUES..` ([`STATEMENT_CONSTANTS`] of them) instead of `leaf_tweak`,
    /// `message_fe` and `message_tweak`.
    template: bool,
}

/// How many of the signature AIR's constraint constants follow from the statement: the leaf
/// tweak (2), the message's field elements (9) and the message-hash tweak (2), in that order
/// ([`SigAir::statement_constants`]).
pub const STATEMENT_CONSTANTS: usize = 2 + MSG_LEN_FE + TWEAK_LEN_FE;

impl SigAir {
    /// The signature AIR for `message` and `epoch`.
    pub fn new(message: &[u8; 32], epoch: u32) -> Self {
        let mut rows = vec![F::ZERO; BLOCK * NUM_PERIODIC];
        let bit = |l: usize| (epoch >> l) & 1;
        for (r, row) in rows.chunks_exact_mut(NUM_PERIODIC).enumerate() {
            let p: &mut SigPeriodic<F> = row.borrow_mut();
            if r == 0 {
                p.sponge_first = F::ONE;
            }
            if r + 1 < SPONGE_ROWS {
                p.sponge_continues = F::ONE;
            }
            if r + 1 == SPONGE_ROWS {
                // The leaf is the level-0 node: left child iff epoch bit 0 is 0.
                if bit(0) == 0 {
                    p.leaf_left = F::ONE;
                } else {
                    p.leaf_right = F::ONE;
                }
            }
            if (MERKLE_FIRST..=ROOT_ROW).contains(&r) {
                // This row computes the node of level l + 1 from children of level l.
                let l = r - MERKLE_FIRST;
                p.merkle = F::ONE;
                p.merkle_tweak = tree_tweak(
                    (l + 1) as u8,
                    epoch.checked_shr((l + 1) as u32).unwrap_or(0),
                );
                if r < ROOT_ROW {
                    if bit(l + 1) == 0 {
                        p.next_left = F::ONE;
                    } else {
                        p.next_right = F::ONE;
                    }
                }
            }
            if r == ROOT_ROW {
                p.root = F::ONE;
            }
            if r == KEY_ROW {
                p.key_row = F::ONE;
            }
            if r == MSG_ROW {
                p.msg = F::ONE;
            }
            if r == BLOCK - 1 {
                p.block_last = F::ONE;
            }
            let next = (r + 1) % BLOCK;
            if next.is_multiple_of(Z) {
                p.group_first_next = F::ONE;
            }
            p.pow8_next = F::from_u32((BASE as u32).pow((next % Z) as u32));
            if next < DIMENSION {
                p.chain_next = F::ONE;
            }
            if r < DIGIT_ROWS && r % Z == Z - 1 {
                p.select_a[r / Z] = F::ONE;
            }
            if r < DIMENSION {
                p.is_chain = F::ONE;
                p.chain_idx = F::from_usize(r);
            }
            if r < SPONGE_ROWS {
                for (a, &i) in slots_of_row(r).iter().enumerate() {
                    p.slot_idx[a] = F::from_usize(i);
                    p.slot_valid[a] = F::ONE;
                    let off = stream_pos(i, 0) - r * SPONGE_RATE;
                    p.slot_offset[a][off] = F::ONE;
                }
            }
        }
        Self {
            periodic: super::column_major(&rows, NUM_PERIODIC),
            capacity: sponge_capacity_value(),
            leaf_tweak: tree_tweak(0, epoch),
            message_fe: encode_message(message),
            message_tweak: message_tweak(epoch),
            template: false,
        }
    }

    /// The statement-free template of the signature AIR, for the out-of-domain program a
    /// verifier derives once per shape (`crate::aggregate::recursion::ood::OodTemplate`): the
    /// same constraints, with the statement's constants read from [`STATEMENT_CONSTANTS`]
    /// public values after the statement's own, and the epoch's periodic entries
    /// ([`SigAir::epoch_entries`]) zero, to be added back by the program from parameters.
    /// Never proved: only its symbolic constraints are read.
    pub fn template() -> Self {
        let mut air = Self::new(&[0; 32], 0);
        let mut periodic = (*air.periodic).clone();
        for (column, row) in Self::epoch_entries() {
            periodic[column][row] = F::ZERO;
        }
        air.periodic = std::sync::Arc::new(periodic);
        air.template = true;
        air
    }

    /// Whether this is [`SigAir::template`].
    pub fn is_template(&self) -> bool {
        self.template
    }

    /// The constraint constants that follow from the statement, in the order the template reads
    /// them: leaf tweak (2), message (9), message-hash tweak (2).
    pub fn statement_constants(&self) -> [F; STATEMENT_CONSTANTS] {
        let mut out = [F::ZERO; STATEMENT_CONSTANTS];
        out[..2].copy_from_slice(&self.leaf_tweak);
        out[2..2 + MSG_LEN_FE].copy_from_slice(&self.message_fe);
        out[2 + MSG_LEN_FE..].copy_from_slice(&self.message_tweak);
        out
    }

    /// The periodic entries `(column, row)` that depend on the epoch, each the only row of its
    /// column where the epoch can make it nonzero: the leaf's side (row 24), each Merkle row's
    /// tree tweak (rows 25 to 56, two columns) and its output's side (rows 25 to 55). Every
    /// other periodic entry is the same for every epoch.
    pub fn epoch_entries() -> Vec<(usize, usize)> {
        let index: Vec<usize> = (0..NUM_PERIODIC).collect();
        let c: &SigPeriodic<usize> = index.as_slice().borrow();
        let leaf = SPONGE_ROWS - 1;
        let mut out = vec![(c.leaf_left, leaf), (c.leaf_right, leaf)];
        for column in c.merkle_tweak {
            out.extend((MERKLE_FIRST..=ROOT_ROW).map(|r| (column, r)));
        }
        for column in [c.next_left, c.next_right] {
            out.extend((MERKLE_FIRST..ROOT_ROW).map(|r| (column, r)));
        }
        out
    }

    /// The value of periodic `column` at `row` of the block.
    pub fn periodic_entry(&self, column: usize, row: usize) -> F {
        self.periodic[column][row]
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
        let cur: &SigCols<AB::Var> = main.current_slice().borrow();
        let nxt: &SigCols<AB::Var> = main.next_slice().borrow();
        let periodic = super::periodic_exprs(builder);
        let per: &SigPeriodic<AB::Expr> = periodic.as_slice().borrow();
        let e = |v: AB::Var| -> AB::Expr { v.into() };
        // Feed-forward compression output element j (Merkle node, message hash).
        let cmp = |j: usize| -> AB::Expr { cur.output[j] + cur.input[j] };
        let one = AB::Expr::ONE;

        // --- Block-constant columns: sig, active, parameter, A.
        let keep = one.clone() - per.block_last.clone();
        let constant = |c: &SigCols<AB::Var>| -> Vec<AB::Var> {
            [c.sig, c.active]
                .into_iter()
                .chain(c.parameter)
                .chain(c.a)
                .collect()
        };
        for (n, c) in constant(nxt).into_iter().zip(constant(cur)) {
            builder.assert_zero(keep.clone() * (e(n) - e(c)));
        }
        builder.assert_bool(cur.active);
        // Block indices: 0 on the first row, one more in each next block.
        let transition = builder.is_transition();
        let first_row = builder.is_first_row();
        let last_row = builder.is_last_row();
        builder.assert_zero(first_row.clone() * e(cur.sig));
        builder.assert_zero(
            transition.clone() * per.block_last.clone() * (e(nxt.sig) - e(cur.sig) - one.clone()),
        );

        // --- Key-set digest: [digest so far (9) | root (8) | parameter (5) | 0 | 0] on row 57.
        let pv = builder.public_values();
        // The statement's constants: this AIR's, or the template's public values after the
        // statement's.
        let stmt: Vec<AB::Expr> = if self.template {
            (0..STATEMENT_CONSTANTS)
                .map(|k| pv[NUM_STATEMENT_VALUES + k].into())
                .collect()
        } else {
            self.statement_constants()
                .into_iter()
                .map(AB::Expr::from)
                .collect()
        };
        let (leaf_tweak, rest) = stmt.split_at(2);
        let (message_fe, message_tweak) = rest.split_at(MSG_LEN_FE);
        let num_keys: AB::Expr = pv[PV_NUM_KEYS].into();
        let digest: Vec<AB::Expr> = (0..KEY_DIGEST_LEN)
            .map(|j| pv[PV_KEY_DIGEST + j].into())
            .collect();
        let key_row = per.key_row.clone();
        for j in 0..KEY_DIGEST_LEN {
            builder.assert_zero(
                key_row.clone() * (e(cur.input[key_layout::DIGEST + j]) - e(cur.key_chain[j])),
            );
        }
        for j in 0..HASH_LEN_FE {
            builder.assert_zero(per.root.clone() * (e(nxt.input[key_layout::ROOT + j]) - cmp(j)));
        }
        for j in 0..PARAMETER_LEN {
            builder.assert_zero(
                key_row.clone() * (e(cur.input[key_layout::PARAMETER + j]) - e(cur.parameter[j])),
            );
        }
        for j in key_layout::ZERO..24 {
            builder.assert_zero(key_row.clone() * e(cur.input[j]));
        }
        // Carried on every row but row 57 and a block's last row; across blocks on transitions.
        let carry = one.clone() - key_row.clone() - per.block_last.clone()
            + transition.clone() * per.block_last.clone();
        for j in 0..KEY_DIGEST_LEN {
            let (c, n) = (e(cur.key_chain[j]), e(nxt.key_chain[j]));
            builder.assert_zero(carry.clone() * (n.clone() - c.clone()));
            builder.assert_zero(
                key_row.clone() * (n - c.clone() - e(cur.active) * (cmp(j) - c)),
            );
        }
        let iv = key_set_iv_expr::<AB::Expr>(num_keys);
        for (j, v) in iv.into_iter().enumerate() {
            builder.assert_zero(first_row.clone() * (e(cur.key_chain[j]) - v));
        }
        for (j, d) in digest.into_iter().enumerate() {
            builder.assert_zero(last_row.clone() * (e(cur.key_chain[j]) - d));
        }

        // --- Leaf sponge: [capacity (9) | parameter (5) | leaf tweak (2) | chain ends ...].
        let sp0 = per.sponge_first.clone();
        for j in 0..CAPACITY {
            builder.assert_zero(sp0.clone() * (e(cur.input[j]) - self.capacity[j]));
        }
        for j in 0..PARAMETER_LEN {
            builder.assert_zero(sp0.clone() * (e(cur.input[CAPACITY + j]) - e(cur.parameter[j])));
        }
        for (j, t) in leaf_tweak.iter().enumerate() {
            builder.assert_zero(
                sp0.clone() * (e(cur.input[CAPACITY + PARAMETER_LEN + j]) - t.clone()),
            );
        }
        // Replacement sponge: the capacity part carries over, the rate part is overwritten.
        for j in 0..CAPACITY {
            builder
                .assert_zero(per.sponge_continues.clone() * (e(nxt.input[j]) - e(cur.output[j])));
        }
        // Chain-end slots: slot a of row r holds the chain end starting at rate offset `off`;
        // element j sits at offset off + j, in this row's rate or (past 15) the next row's.
        for (slot, end) in cur.chain_ends.iter().enumerate() {
            for (j, &end_j) in end.iter().enumerate() {
                let mut acc = AB::Expr::ZERO;
                for off in 0..SPONGE_RATE {
                    let q = off + j;
                    let src = if q < SPONGE_RATE {
                        e(cur.input[CAPACITY + q])
                    } else {
                        e(nxt.input[CAPACITY + q - SPONGE_RATE])
                    };
                    acc += per.slot_offset[slot][off].clone() * (e(end_j) - src);
                }
                builder.assert_zero(acc);
            }
        }

        // --- Merkle path: node inputs [parameter (5) | tree tweak (2) | left (8) | right (8) | 0].
        // The sponge output (rate part) is the leaf, the level-0 node.
        for j in 0..HASH_LEN_FE {
            let leaf = e(cur.output[CAPACITY + j]);
            builder.assert_zero(
                per.leaf_left.clone() * (e(nxt.input[node_layout::LEFT + j]) - leaf.clone())
                    + per.leaf_right.clone() * (e(nxt.input[node_layout::RIGHT + j]) - leaf),
            );
            let node = cmp(j);
            builder.assert_zero(
                per.next_left.clone() * (e(nxt.input[node_layout::LEFT + j]) - node.clone())
                    + per.next_right.clone() * (e(nxt.input[node_layout::RIGHT + j]) - node),
            );
        }
        let merkle = per.merkle.clone();
        for j in 0..PARAMETER_LEN {
            builder.assert_zero(
                merkle.clone() * (e(cur.input[node_layout::PARAMETER + j]) - e(cur.parameter[j])),
            );
        }
        for j in 0..TWEAK_LEN_FE {
            builder.assert_zero(
                merkle.clone() * e(cur.input[node_layout::TWEAK + j]) - per.merkle_tweak[j].clone(),
            );
        }
        builder.assert_zero(merkle * e(cur.input[node_layout::RIGHT + HASH_LEN_FE]));

        // --- Message hash: [message (9) | parameter (5) | message tweak (2) | rho (7) | 0].
        let msg = per.msg.clone();
        for (j, m) in message_fe.iter().enumerate() {
            builder.assert_zero(msg.clone() * (e(cur.input[msg_layout::MESSAGE + j]) - m.clone()));
        }
        for j in 0..PARAMETER_LEN {
            builder.assert_zero(
                msg.clone() * (e(cur.input[msg_layout::PARAMETER + j]) - e(cur.parameter[j])),
            );
        }
        for (j, t) in message_tweak.iter().enumerate() {
            builder.assert_zero(msg.clone() * (e(cur.input[msg_layout::TWEAK + j]) - t.clone()));
        }
        builder.assert_zero(msg.clone() * e(cur.input[msg_layout::RHO + RAND_LEN_FE]));
        for k in 0..MH_DECODED_FE {
            builder.assert_zero(msg.clone() * (e(cur.a[k]) - cmp(k)));
        }

        // --- Aborting decode and target sum.
        builder.assert_bools(cur.digit_bits);
        let digit = |row: &SigCols<AB::Var>| -> AB::Expr {
            row.digit_bits[0] + row.digit_bits[1] * F::TWO + row.digit_bits[2] * F::from_u8(4)
        };
        let x = digit(cur);
        let x_next = digit(nxt);
        // The accumulators are tied row to row on transitions and pinned on the first row, so
        // the constraints do not depend on what a backend takes as the last row's successor
        // (row 0 in the univariate STARK, the last row itself in the multilinear one).
        // acc: value of the digits of the current group so far (little-endian base 8). Row 0
        // starts a group with weight 8^0.
        builder.assert_zero(
            transition.clone()
                * (e(nxt.acc)
                    - (one.clone() - per.group_first_next.clone()) * e(cur.acc)
                    - per.pow8_next.clone() * x_next.clone()),
        );
        builder.assert_zero(first_row.clone() * (e(cur.acc) - x.clone()));
        // sum: digit sum of the block's chain digits so far. Row 0 is a chain-digit row.
        builder.assert_zero(
            transition.clone()
                * (e(nxt.sum)
                    - (one.clone() - per.block_last.clone()) * e(cur.sum)
                    - per.chain_next.clone() * x_next),
        );
        builder.assert_zero(first_row * (e(cur.sum) - x.clone()));
        builder.assert_zero(per.block_last.clone() * (e(cur.sum) - F::from_usize(TARGET_SUM)));
        // A_k = Q * d_k + rem_k with d_k the 8 digits of group k and rem_k in [0, Q).
        let mut rem = AB::Expr::ZERO;
        for (m, &bit) in cur.rem_bits.iter().enumerate() {
            builder.assert_bool(bit);
            rem += bit * F::from_u32(1 << m);
        }
        let (b, p) = (cur.rem_bits, cur.rem_prod);
        builder.assert_eq(p[0], b[0] * b[1] * b[2]);
        builder.assert_eq(p[1], p[0] * b[3] * b[4]);
        builder.assert_zero(p[1] * b[5] * b[6]);
        for k in 0..MH_DECODED_FE {
            builder.assert_zero(
                per.select_a[k].clone() * (e(cur.acc) * F::from_u32(Q) + rem.clone() - e(cur.a[k])),
            );
        }

        // --- Mirrors of periodic columns used in bus messages.
        let m = &cur.mirror;
        for (col, p) in [
            (m.chain_idx, &per.chain_idx),
            (m.is_chain, &per.is_chain),
            (m.slot_idx[0], &per.slot_idx[0]),
            (m.slot_idx[1], &per.slot_idx[1]),
            (m.slot_valid[0], &per.slot_valid[0]),
            (m.slot_valid[1], &per.slot_valid[1]),
        ] {
            builder.assert_zero(e(col) - p.clone());
        }

        // --- Buses.
        let active = cur.active;
        let param: Vec<AB::Expr> = cur.parameter.iter().map(|&v| e(v)).collect();
        let chain_bus = PermutationCheckBus::new(CHAIN_BUS);
        // Chain start: (sig, i, x_i, H, parameter) at position x_i.
        let mut start = vec![e(cur.sig), e(m.chain_idx), x];
        start.extend(cur.chain_start.iter().map(|&v| e(v)));
        start.extend(param.iter().cloned());
        chain_bus.send(builder, start, Count::bounded(active * m.is_chain, 1));
        // Chain ends at position 7, absorbed by the sponge.
        for (slot, end_slot) in cur.chain_ends.iter().enumerate() {
            let mut end = vec![
                e(cur.sig),
                e(m.slot_idx[slot]),
                AB::Expr::from_usize(BASE - 1),
            ];
            end.extend(end_slot.iter().map(|&v| e(v)));
            end.extend(param.iter().cloned());
            chain_bus.receive(
                builder,
                end,
                Count::bounded(active * m.slot_valid[slot], 1),
            );
        }
        // Every row's (input, output[0..17]) is one evaluation of the width-24 permutation,
        // taken from the permutation table (one row there per row here, padding included).
        let perm: Vec<AB::Expr> = cur.input.iter().chain(&cur.output).map(|&v| e(v)).collect();
        debug_assert_eq!(perm.len(), PERM24_MESSAGE_WIDTH);
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
/// the block holds. The key row and the key-set digest column are left to [`fill_key_row`],
/// which needs the digest of the blocks before.
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
    let mut rows: Vec<&mut SigCols<F>> = block
        .chunks_exact_mut(WIDTH)
        .map(|row| row.borrow_mut())
        .collect();
    let mut perm_rows: Vec<&mut [F]> = perm_block.chunks_mut(PERM24_COLS).collect();
    // Proves Perm24(input) in table row r, copies input and output[0..17] into block row r.
    let mut permute = |rows: &mut Vec<&mut SigCols<F>>, r: usize, input: [F; 24]| -> [F; 24] {
        let o = filler.fill(perm_rows[r], input);
        rows[r].input = input;
        rows[r].output.copy_from_slice(&o[..PERM24_BUS_OUTPUTS]);
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
            rows[r].chain_ends[a] = w.ends[i];
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
    // Message hash row (the key row before it is filled by `fill_key_row`).
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
        row.sig = F::from_u32(sig);
        row.active = F::from_bool(active);
        row.parameter = w.parameter;
        row.a = a;
        let x = if r < DIGIT_ROWS { w.digits[r] } else { 0 };
        for b in 0..3 {
            row.digit_bits[b] = F::from_u8((x >> b) & 1);
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
        row.acc = acc;
        row.sum = sum;
        if r < DIGIT_ROWS && r % Z == Z - 1 {
            let rem = w.remainders[r / Z];
            for m in 0..7 {
                row.rem_bits[m] = F::from_u32((rem >> m) & 1);
            }
        }
        let rb = row.rem_bits;
        row.rem_prod[0] = rb[0] * rb[1] * rb[2];
        row.rem_prod[1] = row.rem_prod[0] * rb[3] * rb[4];
        if r < DIMENSION {
            row.chain_start = w.starts[r];
            row.mirror.chain_idx = F::from_usize(r);
            row.mirror.is_chain = F::ONE;
        }
        if r < SPONGE_ROWS {
            for (a, &i) in slots_of_row(r).iter().enumerate() {
                row.mirror.slot_idx[a] = F::from_usize(i);
                row.mirror.slot_valid[a] = F::ONE;
            }
        }
    }
}

/// Fills row [`KEY_ROW`] of a block written by [`fill_block`] (its permutation-table row too) and
/// the block's key-set digest column: `chain_in` on rows `0..=57`, then the absorption of the
/// block's key (its row-56 root and its parameter) if `active`, else `chain_in` again. Returns
/// the digest after the block.
pub fn fill_key_row(
    block: &mut [F],
    perm_block: &mut [F],
    chain_in: [F; KEY_DIGEST_LEN],
    active: bool,
    filler: &PermFiller<24>,
) -> [F; KEY_DIGEST_LEN] {
    let (root, parameter) = {
        let root_row: &SigCols<F> = block[ROOT_ROW * WIDTH..(ROOT_ROW + 1) * WIDTH].borrow();
        let root: Digest = core::array::from_fn(|j| root_row.output[j] + root_row.input[j]);
        (root, root_row.parameter)
    };
    let input = key_absorption_input(&chain_in, &root, &parameter);
    let o = filler.fill(
        &mut perm_block[KEY_ROW * PERM24_COLS..(KEY_ROW + 1) * PERM24_COLS],
        input,
    );
    let chain_out = if active {
        core::array::from_fn(|j| o[j] + input[j])
    } else {
        chain_in
    };
    for (r, row) in block.chunks_exact_mut(WIDTH).enumerate() {
        let row: &mut SigCols<F> = row.borrow_mut();
        if r == KEY_ROW {
            row.input = input;
            row.output.copy_from_slice(&o[..PERM24_BUS_OUTPUTS]);
        }
        row.key_chain = if r <= KEY_ROW { chain_in } else { chain_out };
    }
    chain_out
}

/// Builds the signature AIR trace and the width-24 permutation table trace (same height, row
/// for row): block `s` for witness `s`; padding blocks (up to a power of two) repeat witness 0
/// with `active = 0`. The key-set digest chains over the witnesses in order, from the initial
/// value for `witnesses.len()` keys.
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
    // The key rows, in block order: each needs the digest of the blocks before it (one
    // permutation per block, about 10 us with its columns; sequential).
    let mut chain = key_set_iv(witnesses.len());
    for (s, (block, perm_block)) in values
        .chunks_exact_mut(BLOCK * WIDTH)
        .zip(perm_values.chunks_exact_mut(BLOCK * PERM24_COLS))
        .enumerate()
    {
        chain = fill_key_row(block, perm_block, chain, s < witnesses.len(), filler);
    }
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
    assert!(NUM_PERIODIC == 58);
    assert!(ROOT_ROW == 56 && KEY_ROW == 57 && MSG_ROW == 58);
    assert!(MSG_ROW < BLOCK && DIGIT_ROWS <= BLOCK);
    assert!(WIDTH == 107);
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
