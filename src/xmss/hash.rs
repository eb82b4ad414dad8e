//! The tweakable hash of leanSig (`PoseidonTweakHash<5, 8, 2, 9, 46>`,
//! `src/symmetric/tweak_hash/poseidon.rs`): chain steps, Merkle nodes and the leaf sponge, plus
//! the chain walk (`src/symmetric/tweak_hash.rs`, `chain`) and the Merkle path check
//! (`src/symmetric/tweak_hash_tree.rs`, `hash_tree_verify`).
//!
//! Permutation input layouts (index ranges are half-open):
//!
//! | hash | width | `0..8` | `8..13` | `13..15` | `15` | `15..23` | `23` |
//! | --- | --- | --- | --- | --- | --- | --- | --- |
//! | chain step | 16 | value | parameter | chain tweak | 0 | | |
//!
//! | hash | width | `0..5` | `5..7` | `7..15` | `15..23` | `23` |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | Merkle node | 24 | parameter | tree tweak | left child | right child | 0 |
//!
//! Chain steps and Merkle nodes are feed-forward compressions: output = first 8 elements of
//! `Perm(x) + x`. The leaf is the replacement sponge of [`super::poseidon::replacement_sponge_24`]
//! over `parameter (5) | tree_tweak(0, epoch) (2) | chain end 0 (8) | ... | chain end 45 (8)`.

use p3_field::PrimeCharacteristicRing;

use super::constants::{
    BASE, CAPACITY, CHAIN_WIDTH, DIMENSION, HASH_LEN_FE, LEAF_SPONGE_INPUT_LEN, LOG_LIFETIME,
    MERGE_WIDTH, PARAMETER_LEN, SPONGE_RATE, TWEAK_LEN_FE,
};
use super::poseidon::{
    compress_16, compress_24, permute_24, replacement_sponge_24, sponge_capacity_value,
    PoseidonLane,
};
use super::tweak::{chain_tweak, tree_tweak};
use super::{Digest, Parameter, F};

/// Offsets in the width-16 chain-step state.
pub mod chain_layout {
    /// Chain value, 8 FE at `0..8`.
    pub const VALUE: usize = 0;
    /// Parameter, 5 FE at `8..13`.
    pub const PARAMETER: usize = 8;
    /// Chain tweak, 2 FE at `13..15`; index 15 is zero.
    pub const TWEAK: usize = 13;
}

/// Offsets in the width-24 Merkle-node state.
pub mod node_layout {
    /// Parameter, 5 FE at `0..5`.
    pub const PARAMETER: usize = 0;
    /// Tree tweak, 2 FE at `5..7`.
    pub const TWEAK: usize = 5;
    /// Left child, 8 FE at `7..15`.
    pub const LEFT: usize = 7;
    /// Right child, 8 FE at `15..23`; index 23 is zero.
    pub const RIGHT: usize = 15;
}

/// Generic chain step on any `Algebra<F>` (scalar or packed lanes): the first 8 elements of
/// `Perm16(x) + x` with `x = [value | parameter | tweak | 0]`.
pub fn chain_compress<A>(
    value: &[A; HASH_LEN_FE],
    parameter: &[A; PARAMETER_LEN],
    tweak: &[A; TWEAK_LEN_FE],
) -> [A; HASH_LEN_FE]
where
    A: PoseidonLane,
{
    let mut x = [A::ZERO; CHAIN_WIDTH];
    x[chain_layout::VALUE..chain_layout::VALUE + HASH_LEN_FE].copy_from_slice(value);
    x[chain_layout::PARAMETER..chain_layout::PARAMETER + PARAMETER_LEN].copy_from_slice(parameter);
    x[chain_layout::TWEAK..chain_layout::TWEAK + TWEAK_LEN_FE].copy_from_slice(tweak);
    compress_16(&x)
}

/// Generic Merkle node on any `Algebra<F>`: the first 8 elements of `Perm24(x) + x` with
/// `x = [parameter | tweak | left | right | 0]`.
pub fn node_compress<A>(
    parameter: &[A; PARAMETER_LEN],
    tweak: &[A; TWEAK_LEN_FE],
    left: &[A; HASH_LEN_FE],
    right: &[A; HASH_LEN_FE],
) -> [A; HASH_LEN_FE]
where
    A: PoseidonLane,
{
    let mut x = [A::ZERO; MERGE_WIDTH];
    x[node_layout::PARAMETER..node_layout::PARAMETER + PARAMETER_LEN].copy_from_slice(parameter);
    x[node_layout::TWEAK..node_layout::TWEAK + TWEAK_LEN_FE].copy_from_slice(tweak);
    x[node_layout::LEFT..node_layout::LEFT + HASH_LEN_FE].copy_from_slice(left);
    x[node_layout::RIGHT..node_layout::RIGHT + HASH_LEN_FE].copy_from_slice(right);
    compress_24(&x)
}

/// The exact width-16 permutation input of the chain step that produces position `pos` (1..=7)
/// of chain `chain` at `epoch` from `value` (the chain value at position `pos - 1`):
/// `[value (0..8) | parameter (8..13) | chain_tweak(epoch, chain, pos) (13..15) | 0 (15)]`.
pub fn chain_step_input(
    parameter: &Parameter,
    epoch: u32,
    chain: u8,
    pos: u8,
    value: &Digest,
) -> [F; CHAIN_WIDTH] {
    let mut x = [F::ZERO; CHAIN_WIDTH];
    x[chain_layout::VALUE..chain_layout::VALUE + HASH_LEN_FE].copy_from_slice(value);
    x[chain_layout::PARAMETER..chain_layout::PARAMETER + PARAMETER_LEN].copy_from_slice(parameter);
    x[chain_layout::TWEAK..chain_layout::TWEAK + TWEAK_LEN_FE]
        .copy_from_slice(&chain_tweak(epoch, chain, pos));
    x
}

/// One chain step: the value at position `pos` (1..=7) of chain `chain`, from `value` at
/// position `pos - 1`. Equals the first 8 elements of `Perm16(x) + x`, `x = chain_step_input(..)`.
pub fn chain_step(parameter: &Parameter, epoch: u32, chain: u8, pos: u8, value: &Digest) -> Digest {
    compress_16(&chain_step_input(parameter, epoch, chain, pos, value))
}

/// Walks chain `chain` of `epoch` for `steps` steps from `start`, the value at position
/// `start_pos`. Step `j` (0-based) produces position `start_pos + j + 1` and its tweak carries
/// that position. Returns the value at position `start_pos + steps`; `steps = 0` returns `start`.
/// Positions never exceed `BASE - 1 = 7` in the scheme; callers keep `start_pos + steps <= 7`
/// (larger values are hashed with the position truncated to `u8`, as leanSig would).
pub fn walk_chain(
    parameter: &Parameter,
    epoch: u32,
    chain: u8,
    start_pos: u8,
    steps: usize,
    start: &Digest,
) -> Digest {
    let mut current = *start;
    for j in 0..steps {
        let pos = start_pos.wrapping_add(j as u8).wrapping_add(1);
        current = chain_step(parameter, epoch, chain, pos, &current);
    }
    current
}

/// The exact width-24 permutation input of the Merkle node at `level` (1..=32), index
/// `pos_in_level`, from its children:
/// `[parameter (0..5) | tree_tweak(level, pos_in_level) (5..7) | left (7..15) | right (15..23) | 0 (23)]`.
pub fn tree_node_input(
    parameter: &Parameter,
    level: u8,
    pos_in_level: u32,
    left: &Digest,
    right: &Digest,
) -> [F; MERGE_WIDTH] {
    let mut x = [F::ZERO; MERGE_WIDTH];
    x[node_layout::PARAMETER..node_layout::PARAMETER + PARAMETER_LEN].copy_from_slice(parameter);
    x[node_layout::TWEAK..node_layout::TWEAK + TWEAK_LEN_FE]
        .copy_from_slice(&tree_tweak(level, pos_in_level));
    x[node_layout::LEFT..node_layout::LEFT + HASH_LEN_FE].copy_from_slice(left);
    x[node_layout::RIGHT..node_layout::RIGHT + HASH_LEN_FE].copy_from_slice(right);
    x
}

/// The Merkle node at `level` (1..=32), index `pos_in_level`: first 8 elements of
/// `Perm24(x) + x`, `x = tree_node_input(..)`.
pub fn tree_node(
    parameter: &Parameter,
    level: u8,
    pos_in_level: u32,
    left: &Digest,
    right: &Digest,
) -> Digest {
    compress_24(&tree_node_input(
        parameter,
        level,
        pos_in_level,
        left,
        right,
    ))
}

/// The 375-element input absorbed by the leaf sponge of `epoch`, in order:
/// `parameter (0..5) | tree_tweak(0, epoch) (5..7) | chain_ends[0] (7..15) | ... | chain_ends[45] (367..375)`.
pub fn leaf_sponge_input(
    parameter: &Parameter,
    epoch: u32,
    chain_ends: &[Digest; DIMENSION],
) -> Vec<F> {
    let mut input = Vec::with_capacity(LEAF_SPONGE_INPUT_LEN);
    input.extend_from_slice(parameter);
    input.extend_from_slice(&tree_tweak(0, epoch));
    for end in chain_ends {
        input.extend_from_slice(end);
    }
    input
}

/// The 25 width-24 permutation inputs of the leaf sponge, in order. Input `k` is
/// `[c_k (0..9) | leaf_sponge_input[15k .. 15k+15] (9..24)]` where `c_0` is
/// [`sponge_capacity_value`] and `c_k` (k >= 1) is elements `0..9` of the output of permutation
/// `k - 1` (no feed-forward in the sponge). The leaf is elements `9..17` of the last output.
pub fn leaf_sponge_inputs(
    parameter: &Parameter,
    epoch: u32,
    chain_ends: &[Digest; DIMENSION],
) -> Vec<[F; MERGE_WIDTH]> {
    let input = leaf_sponge_input(parameter, epoch, chain_ends);
    let mut state = [F::ZERO; MERGE_WIDTH];
    state[..CAPACITY].copy_from_slice(&sponge_capacity_value());
    let mut out = Vec::with_capacity(input.len() / SPONGE_RATE);
    for block in input.chunks_exact(SPONGE_RATE) {
        state[CAPACITY..].copy_from_slice(block);
        out.push(state);
        permute_24(&mut state);
    }
    out
}

/// The leaf (one-time public key hash) of `epoch` from its 46 chain ends (positions 7).
pub fn leaf_hash(parameter: &Parameter, epoch: u32, chain_ends: &[Digest; DIMENSION]) -> Digest {
    replacement_sponge_24(
        &sponge_capacity_value(),
        &leaf_sponge_input(parameter, epoch, chain_ends),
    )
}

/// Generic leaf sponge over packed lanes (key generation): `tweak` is `tree_tweak(0, epoch)` per
/// lane, `chain_ends` the 46 chain ends per lane. Same layout as [`leaf_hash`].
pub fn leaf_hash_generic<A>(
    parameter: &[A; PARAMETER_LEN],
    tweak: &[A; TWEAK_LEN_FE],
    chain_ends: &[[A; HASH_LEN_FE]; DIMENSION],
) -> [A; HASH_LEN_FE]
where
    A: PoseidonLane,
{
    let mut input = [A::ZERO; LEAF_SPONGE_INPUT_LEN];
    input[..PARAMETER_LEN].copy_from_slice(parameter);
    input[PARAMETER_LEN..PARAMETER_LEN + TWEAK_LEN_FE].copy_from_slice(tweak);
    for (c, end) in chain_ends.iter().enumerate() {
        let at = PARAMETER_LEN + TWEAK_LEN_FE + c * HASH_LEN_FE;
        input[at..at + HASH_LEN_FE].copy_from_slice(end);
    }
    let capacity = sponge_capacity_value().map(A::from);
    replacement_sponge_24(&capacity, &input)
}

/// Recomputes the Merkle root from the leaf of `epoch` and its 32 siblings (`path[l]` is the
/// sibling at level `l`, leaf level first). At level `l` the current node is the left child iff
/// bit `l` of `epoch` is 0; the parent is `tree_node(parameter, l + 1, epoch >> (l + 1), ..)`.
pub fn merkle_root_from_path(
    parameter: &Parameter,
    epoch: u32,
    leaf: &Digest,
    path: &[Digest; LOG_LIFETIME],
) -> Digest {
    let mut node = *leaf;
    let mut pos = epoch;
    for (l, sibling) in path.iter().enumerate() {
        let (left, right) = if pos & 1 == 0 {
            (&node, sibling)
        } else {
            (sibling, &node)
        };
        pos >>= 1;
        node = tree_node(parameter, (l + 1) as u8, pos, left, right);
    }
    node
}

/// The width-16 permutation inputs of a chain walk, in order: input `j` is
/// `chain_step_input(parameter, epoch, chain, start_pos + j + 1, v_j)` with `v_0 = start` and
/// `v_{j+1}` the step's output. `steps` inputs; the walk's result is the compression of the last.
pub fn chain_walk_inputs(
    parameter: &Parameter,
    epoch: u32,
    chain: u8,
    start_pos: u8,
    steps: usize,
    start: &Digest,
) -> Vec<[F; CHAIN_WIDTH]> {
    let mut out = Vec::with_capacity(steps);
    let mut current = *start;
    for j in 0..steps {
        let pos = start_pos.wrapping_add(j as u8).wrapping_add(1);
        let input = chain_step_input(parameter, epoch, chain, pos, &current);
        current = compress_16(&input);
        out.push(input);
    }
    out
}

/// The 32 width-24 permutation inputs of a Merkle path check, leaf level first: input `l` is
/// `tree_node_input(parameter, l + 1, epoch >> (l + 1), left, right)` where the current node
/// (starting at `leaf`) is `left` iff bit `l` of `epoch` is 0 and `path[l]` is the other child.
pub fn merkle_path_inputs(
    parameter: &Parameter,
    epoch: u32,
    leaf: &Digest,
    path: &[Digest; LOG_LIFETIME],
) -> Vec<[F; MERGE_WIDTH]> {
    let mut out = Vec::with_capacity(LOG_LIFETIME);
    let mut node = *leaf;
    let mut pos = epoch;
    for (l, sibling) in path.iter().enumerate() {
        let (left, right) = if pos & 1 == 0 {
            (&node, sibling)
        } else {
            (sibling, &node)
        };
        pos >>= 1;
        let input = tree_node_input(parameter, (l + 1) as u8, pos, left, right);
        node = compress_24(&input);
        out.push(input);
    }
    out
}

/// Chain end (position `BASE - 1`) from a chain start (position 0).
pub fn chain_end_from_start(
    parameter: &Parameter,
    epoch: u32,
    chain: u8,
    start: &Digest,
) -> Digest {
    walk_chain(parameter, epoch, chain, 0, BASE - 1, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(seed: u32) -> Digest {
        core::array::from_fn(|i| {
            F::new(seed.wrapping_mul(2654435761).wrapping_add(i as u32) % crate::xmss::constants::P)
        })
    }

    #[test]
    fn walk_is_composable_and_uses_positions() {
        let param: Parameter = core::array::from_fn(|i| F::new(100 + i as u32));
        let start = digest(1);
        let full = walk_chain(&param, 77, 3, 0, 7, &start);
        let mid = walk_chain(&param, 77, 3, 0, 3, &start);
        assert_eq!(walk_chain(&param, 77, 3, 3, 4, &mid), full);
        assert_eq!(walk_chain(&param, 77, 3, 0, 0, &start), start);
        // starting the same value at another position changes the result (tweaks differ)
        assert_ne!(
            walk_chain(&param, 77, 3, 1, 4, &mid),
            walk_chain(&param, 77, 3, 3, 4, &mid)
        );
        assert_eq!(
            chain_step(&param, 77, 3, 1, &start),
            walk_chain(&param, 77, 3, 0, 1, &start)
        );
    }

    #[test]
    fn trace_inputs_reproduce_walk_and_root() {
        let param: Parameter = core::array::from_fn(|i| F::new(3 + i as u32));
        let start = digest(5);
        let inputs = chain_walk_inputs(&param, 9, 44, 2, 5, &start);
        assert_eq!(inputs.len(), 5);
        assert_eq!(inputs[0], chain_step_input(&param, 9, 44, 3, &start));
        assert_eq!(
            compress_16::<F, 8>(&inputs[4]),
            walk_chain(&param, 9, 44, 2, 5, &start)
        );
        let path: [Digest; LOG_LIFETIME] = core::array::from_fn(|l| digest(100 + l as u32));
        let leaf = digest(7);
        let epoch = 0b1011_0000_1111_0000_1010_0101_1100_0011;
        let node_inputs = merkle_path_inputs(&param, epoch, &leaf, &path);
        assert_eq!(node_inputs.len(), 32);
        // epoch bit 0 is 1: the leaf is the right child at level 1
        assert_eq!(
            &node_inputs[0][node_layout::RIGHT..node_layout::RIGHT + 8],
            &leaf[..]
        );
        assert_eq!(
            &node_inputs[0][node_layout::LEFT..node_layout::LEFT + 8],
            &path[0][..]
        );
        assert_eq!(
            compress_24::<F, 8>(&node_inputs[31]),
            merkle_root_from_path(&param, epoch, &leaf, &path)
        );
    }

    #[test]
    fn sponge_inputs_reproduce_leaf() {
        let param: Parameter = core::array::from_fn(|i| F::new(7 + i as u32));
        let ends: [Digest; DIMENSION] = core::array::from_fn(|c| digest(c as u32 + 10));
        let inputs = leaf_sponge_inputs(&param, 12345, &ends);
        assert_eq!(inputs.len(), 25);
        let mut last = inputs[24];
        permute_24(&mut last);
        let leaf: Digest = core::array::from_fn(|i| last[CAPACITY + i]);
        assert_eq!(leaf, leaf_hash(&param, 12345, &ends));
        let generic = leaf_hash_generic(&param, &tree_tweak(0, 12345), &ends);
        assert_eq!(generic, leaf);
    }
}
