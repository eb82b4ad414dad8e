//! Sparse Merkle sub-trees as leanSig stores them in a secret key (`HashSubTree`,
//! `HashTreeLayer` in `src/symmetric/tweak_hash_tree.rs`), and their fast construction.
//!
//! The full tree has 32 levels above the leaves (level 0 = leaf hashes, one per epoch; level 32 =
//! root). It is split into one *top tree* (levels 16..=32, whose level-16 nodes are the roots of
//! the bottom trees) and up to 2^16 *bottom trees* of 2^16 leaves each (levels 0..=16).
//!
//! Every layer of a sub-tree starts at an even index and ends at an odd one; where the real nodes
//! do not, leanSig pads with random digests (front and/or back) drawn from the key-generation RNG.
//! A bottom tree keeps levels 0..=15 in full and, as its level-16 layer, only its root.
//!
//! Construction runs in parallel (rayon) on Plonky3's packed KoalaBear: one SIMD lane per epoch
//! for leaves (all 46 chains of 16 epochs at once on AVX-512) and one lane per parent node for
//! inner layers.

use p3_field::{Field, PackedValue, PrimeCharacteristicRing};
use rayon::prelude::*;

use super::constants::{
    BASE, DIMENSION, HASH_LEN_FE, LEAVES_PER_BOTTOM_TREE, LOG_LIFETIME, PARAMETER_LEN,
};
use super::hash::{chain_compress, leaf_hash_generic, node_compress, tree_node};
use super::prf;
use super::tweak::{chain_tweak, tree_tweak};
use super::{Digest, Parameter, XmssError, F};

/// Plonky3's packed KoalaBear for the build target (16 lanes on AVX-512, 8 on AVX2 / NEON).
pub type PackedF = <F as Field>::Packing;

/// One layer of a sub-tree: the nodes with indices `start_index .. start_index + nodes.len()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashTreeLayer {
    /// Index (within its level) of `nodes[0]`.
    pub start_index: u64,
    /// The nodes, consecutive indices.
    pub nodes: Vec<Digest>,
}

/// A sub-tree: `layers[i]` holds level `lowest_layer + i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashSubTree {
    /// Depth of the full tree (32).
    pub depth: u64,
    /// Level of `layers[0]`: 0 for a bottom tree, 16 for the top tree.
    pub lowest_layer: u64,
    /// Layers from `lowest_layer` upwards.
    pub layers: Vec<HashTreeLayer>,
}

fn pack<const N: usize>(lanes: &[[F; N]]) -> [PackedF; N] {
    core::array::from_fn(|i| PackedF::from_fn(|l| lanes[l][i]))
}

fn unpack_into<const N: usize>(packed: &[PackedF; N], out: &mut [[F; N]]) {
    for (l, o) in out.iter_mut().enumerate() {
        *o = core::array::from_fn(|i| packed[i].as_slice()[l]);
    }
}

/// The leaves (level-0 nodes) of consecutive epochs `first_epoch .. first_epoch + count`:
/// for each epoch, the 46 chains are derived from the PRF key, walked to position 7, and the
/// ends hashed with the leaf sponge. Parallel over chunks of `PackedF::WIDTH` epochs (one
/// epoch per SIMD lane); a tail shorter than the width is computed lane-by-lane the same way.
pub fn compute_leaves(
    prf_key: &[u8; 32],
    parameter: &Parameter,
    first_epoch: u32,
    count: usize,
) -> Vec<Digest> {
    compute_leaves_with_progress(prf_key, parameter, first_epoch, count, &|_| {})
}

/// [`compute_leaves`], calling `progress(n)` (from worker threads) each time `n` more leaves
/// are done.
pub fn compute_leaves_with_progress(
    prf_key: &[u8; 32],
    parameter: &Parameter,
    first_epoch: u32,
    count: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Digest> {
    let w = PackedF::WIDTH;
    let mut leaves = vec![[F::ZERO; HASH_LEN_FE]; count];
    let param_p: [PackedF; PARAMETER_LEN] = parameter.map(PackedF::from);
    leaves
        .par_chunks_mut(w)
        .enumerate()
        .for_each(|(chunk, out)| {
            let epochs: Vec<u32> = (0..w)
                .map(|l| first_epoch.wrapping_add((chunk * w + l.min(out.len() - 1)) as u32))
                .collect();
            let mut ends = [[PackedF::ZERO; HASH_LEN_FE]; DIMENSION];
            // all chain starts of the chunk, one SIMD Keccak lane each: index c * w + lane
            let items: Vec<(u32, u64)> = (0..DIMENSION)
                .flat_map(|c| epochs.iter().map(move |&e| (e, c as u64)))
                .collect();
            let starts = prf::chain_starts_batch(prf_key, &items);
            for (c, end) in ends.iter_mut().enumerate() {
                let mut v = pack(&starts[c * w..(c + 1) * w]);
                for pos in 1..BASE as u8 {
                    let tweaks: Vec<[F; 2]> = epochs
                        .iter()
                        .map(|&e| chain_tweak(e, c as u8, pos))
                        .collect();
                    v = chain_compress(&v, &param_p, &pack(&tweaks));
                }
                *end = v;
            }
            let tweaks: Vec<[F; 2]> = epochs.iter().map(|&e| tree_tweak(0, e)).collect();
            let leaf = leaf_hash_generic(&param_p, &pack(&tweaks), &ends);
            let mut lanes = vec![[F::ZERO; HASH_LEN_FE]; w];
            unpack_into(&leaf, &mut lanes);
            out.copy_from_slice(&lanes[..out.len()]);
            progress(out.len() as u64);
        });
    leaves
}

/// Parents at `level` (the level being computed) of `children`, whose first element has index
/// `2 * parent_start` (even) in level `level - 1`; `children.len()` must be even. Parallel and
/// packed: one parent per SIMD lane.
pub fn compute_layer(
    parameter: &Parameter,
    level: u8,
    parent_start: u64,
    children: &[Digest],
) -> Vec<Digest> {
    let w = PackedF::WIDTH;
    let n = children.len() / 2;
    let mut parents = vec![[F::ZERO; HASH_LEN_FE]; n];
    let param_p: [PackedF; PARAMETER_LEN] = parameter.map(PackedF::from);
    parents
        .par_chunks_mut(w)
        .enumerate()
        .for_each(|(chunk, out)| {
            let first = chunk * w;
            if out.len() < w {
                for (i, o) in out.iter_mut().enumerate() {
                    let p = first + i;
                    *o = tree_node(
                        parameter,
                        level,
                        (parent_start + p as u64) as u32,
                        &children[2 * p],
                        &children[2 * p + 1],
                    );
                }
                return;
            }
            let lefts: Vec<Digest> = (0..w).map(|l| children[2 * (first + l)]).collect();
            let rights: Vec<Digest> = (0..w).map(|l| children[2 * (first + l) + 1]).collect();
            let tweaks: Vec<[F; 2]> = (0..w)
                .map(|l| tree_tweak(level, (parent_start + (first + l) as u64) as u32))
                .collect();
            let parent = node_compress(&param_p, &pack(&tweaks), &pack(&lefts), &pack(&rights));
            unpack_into(&parent, out);
        });
    parents
}

impl HashTreeLayer {
    /// leanSig `HashTreeLayer::padded`: nodes at `start_index ..`; if `start_index` is odd a
    /// random digest is put in front, if the last index is even one is appended; `random`
    /// is called front first, then back.
    pub fn padded(
        nodes: Vec<Digest>,
        start_index: u64,
        random: &mut impl FnMut() -> Digest,
    ) -> Self {
        let end_index = start_index + nodes.len() as u64 - 1;
        let front = start_index & 1 == 1;
        let back = end_index & 1 == 0;
        let mut out = Vec::with_capacity(nodes.len() + 2);
        if front {
            out.push(random());
        }
        out.extend(nodes);
        if back {
            out.push(random());
        }
        Self {
            start_index: start_index - front as u64,
            nodes: out,
        }
    }
}

impl HashSubTree {
    /// The bottom tree with index `bottom_index` (epochs `bottom_index * 2^16 ..`), built from the
    /// PRF key: levels 0..=15 in full, then a level-16 layer holding only the root.
    pub fn bottom_tree(prf_key: &[u8; 32], parameter: &Parameter, bottom_index: u64) -> Self {
        Self::bottom_tree_with_progress(prf_key, parameter, bottom_index, &|_| {})
    }

    /// [`Self::bottom_tree`], reporting finished leaves to `progress` as
    /// [`compute_leaves_with_progress`] does.
    pub fn bottom_tree_with_progress(
        prf_key: &[u8; 32],
        parameter: &Parameter,
        bottom_index: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Self {
        let first_epoch = (bottom_index * LEAVES_PER_BOTTOM_TREE) as u32;
        let leaves = compute_leaves_with_progress(
            prf_key,
            parameter,
            first_epoch,
            LEAVES_PER_BOTTOM_TREE as usize,
            progress,
        );
        Self::bottom_tree_from_leaves(parameter, bottom_index, leaves)
    }

    /// The bottom tree with index `bottom_index` over its 2^16 given leaves.
    pub fn bottom_tree_from_leaves(
        parameter: &Parameter,
        bottom_index: u64,
        leaves: Vec<Digest>,
    ) -> Self {
        let half = LOG_LIFETIME / 2;
        let mut layers = Vec::with_capacity(half + 1);
        layers.push(HashTreeLayer {
            start_index: bottom_index << half,
            nodes: leaves,
        });
        for level in 1..=half {
            let prev = layers.last().expect("non-empty");
            let start = prev.start_index >> 1;
            let nodes = compute_layer(parameter, level as u8, start, &prev.nodes);
            layers.push(HashTreeLayer {
                start_index: start,
                nodes,
            });
        }
        Self {
            depth: LOG_LIFETIME as u64,
            lowest_layer: 0,
            layers,
        }
    }

    /// The top tree over the roots of bottom trees `start_bottom_index ..` (level 16), up to the
    /// root (level 32); each layer padded as [`HashTreeLayer::padded`] with `random`.
    pub fn top_tree(
        parameter: &Parameter,
        start_bottom_index: u64,
        roots: Vec<Digest>,
        random: &mut impl FnMut() -> Digest,
    ) -> Self {
        let half = (LOG_LIFETIME / 2) as u64;
        let mut layers = vec![HashTreeLayer::padded(roots, start_bottom_index, random)];
        for level in half..LOG_LIFETIME as u64 {
            let prev = layers.last().expect("non-empty");
            let start = prev.start_index >> 1;
            let parents = compute_layer(parameter, (level + 1) as u8, start, &prev.nodes);
            layers.push(HashTreeLayer::padded(parents, start, random));
        }
        Self {
            depth: LOG_LIFETIME as u64,
            lowest_layer: half,
            layers,
        }
    }

    /// The sub-tree's root: first node of its last layer.
    pub fn root(&self) -> Option<Digest> {
        self.layers.last().and_then(|l| l.nodes.first().copied())
    }

    /// Co-path of the node at `position` in the lowest layer: one sibling per layer until a layer
    /// with at most one node (leanSig `HashSubTree::path`). Errors if a needed node is missing.
    pub fn path(&self, position: u64) -> Result<Vec<Digest>, XmssError> {
        let mut co_path = Vec::with_capacity(self.layers.len());
        let mut pos = position;
        for layer in self
            .layers
            .iter()
            .take((self.depth - self.lowest_layer) as usize)
        {
            if layer.nodes.len() <= 1 {
                break;
            }
            let sibling = pos ^ 1;
            let idx = sibling
                .checked_sub(layer.start_index)
                .filter(|&i| i < layer.nodes.len() as u64)
                .ok_or_else(|| {
                    XmssError::Signing(format!("tree has no node {sibling} in a layer"))
                })?;
            co_path.push(layer.nodes[idx as usize]);
            pos >>= 1;
        }
        Ok(co_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmss::hash::{chain_end_from_start, leaf_hash};

    #[test]
    fn packed_leaves_match_scalar() {
        let key = [3u8; 32];
        let param: Parameter = core::array::from_fn(|i| F::new(11 * i as u32 + 1));
        // an odd count exercises the tail
        let first = 70_000u32;
        let leaves = compute_leaves(&key, &param, first, PackedF::WIDTH + 3);
        for (i, leaf) in leaves.iter().enumerate() {
            let e = first + i as u32;
            let ends: [Digest; DIMENSION] = core::array::from_fn(|c| {
                chain_end_from_start(&param, e, c as u8, &prf::chain_start(&key, e, c as u64))
            });
            assert_eq!(*leaf, leaf_hash(&param, e, &ends), "epoch {e}");
        }
    }

    #[test]
    fn packed_layer_matches_scalar() {
        let param: Parameter = core::array::from_fn(|i| F::new(5 + i as u32));
        let children: Vec<Digest> = (0..2 * (2 * PackedF::WIDTH + 1))
            .map(|k| core::array::from_fn(|i| F::new((k * 8 + i) as u32)))
            .collect();
        let parents = compute_layer(&param, 3, 40, &children);
        assert_eq!(parents.len(), children.len() / 2);
        for (p, parent) in parents.iter().enumerate() {
            assert_eq!(
                *parent,
                tree_node(
                    &param,
                    3,
                    40 + p as u32,
                    &children[2 * p],
                    &children[2 * p + 1]
                )
            );
        }
    }
}
