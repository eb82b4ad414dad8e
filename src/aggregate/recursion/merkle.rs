//! `MmcsOpeningAir`: openings of the Poseidon1-24 Merkle commitment scheme, checked row by row on
//! the width-24 permutation bus. The first verifier AIR of recursive aggregation.
//!
//! An opening claims that the rows `values` of a batch of matrices, at position `index` of the
//! tallest, sit in the commitment with root `root`, as Plonky3 0.8's `MerkleTreeMmcs` over
//! Poseidon1-24 builds it (`fri::config`; binary tree, cap height 0):
//!
//! - the matrices are grouped by height, tallest first (equal heights in their given order);
//!   a group's leaf digest is the overwrite-mode sponge (rate 15, capacity 9, zero initial
//!   state) over its rows concatenated, `output[0..9]` of the last permutation;
//! - the path starts from the tallest group's digest; at each level the digest is compressed
//!   with the sibling, `Poseidon1-24(left | right | 0^6)[0..9]`, in the order the index bit
//!   says; when the level reached is the height of the next group, the digest is compressed
//!   once more with that group's digest, `(digest | group digest | 0^6)`;
//! - the root is the digest after the last level.
//!
//! **One run of rows per opening.** The sequence of permutations an opening takes is fixed by
//! the matrices' shape ([`OpeningShape`]), so it is written into periodic columns of period
//! [`MmcsOpeningAir::block_len`], the verifier's own: absorb rows (first or later chunk of a
//! group, and which of the 15 rate positions it overwrites), node rows, inject rows, idle rows
//! after the root. A prover cannot choose where a leaf ends, a node starts or an injection
//! happens. Every scheduled row of an active block receives one permutation `(input, output)`
//! from the shared full-output permutation table (bus `"poseidon1-24-full"`,
//! `crate::aggregate::air::perm::Perm24TableAir::shared`); the idle rows after the root and
//! the padding blocks receive none, and no constraint or message reads their outputs (an idle
//! row's output is only the next idle row's `prev`, and a block's first row starts a group). The
//! constraints fix each input from this block's columns and the previous row's output (copied
//! into `prev`):
//!
//! - first absorb row of a group: `input = chunk | 0^9`, zero past the chunk;
//! - later absorb row: `input[i] = chunk[i]` where the chunk has an element, `prev[i]`
//!   elsewhere (the sponge's state carried over);
//! - node row: `(node | sibling)` or `(sibling | node)` by `bit`, then `0^6`, where `node` is the
//!   digest so far;
//! - inject row: `(node | prev[0..9] | 0^6)`, `prev[0..9]` being the group digest just absorbed.
//!
//! `node` becomes the output after the tallest group's last absorb row, after a node row and
//! after an inject row, and is held across the absorb rows of a later group. `rem` starts at
//! `index`, halves at each node row (`rem = 2 rem' + bit`) and equals `bit` on the root row, so
//! the bits are `index`'s, least significant first, and `index < 2^depth`.
//!
//! **Whose opening it is.** An AIR instance checks the openings of one or more commitments of a
//! child's shape ([`MmcsOpeningAir::merged`]), each named by its [`OpeningLink`] (the
//! verifier's): the transcript position of the commitment's root and the tag of the query-index
//! window that opens it (the window of the commitment's height). A block is the openings of
//! every commitment at each of a fixed number of queries (a parent's block is one child's
//! queries), query after query, then idle rows: commitment `s` of query `k` has its own run of
//! the block's rows, and its link is written into two more periodic columns (with
//! main-column mirrors, which the buses read) on that run, so which rows open which commitment
//! is the verifier's too. Below, a "block" is one
//! commitment's run; each run is checked as if it were alone (nothing is carried from the run
//! before it), so a parent commits one AIR's columns for all of a child's commitments.
//! `transcript` (the child transcript's number) and `query` (the transcript position the query
//! index was sampled at) are constant down a run. On the root row, an active run receives
//! - `(transcript, query, tag, index, point)` on `"query-index"` from
//!   [`super::bits::SampledBitsAir`]: `index` is that window of the sampled query index (`point`
//!   is taken as sent; this AIR does not use it);
//! - `(transcript, root position, root)` on `"commitment-root"` from
//!   [`super::commit::CommitmentAir`]: the root the child's transcript observed.
//!
//! A value, sibling, bit or node other than the honest one leads to another root (a
//! Poseidon1-24 collision otherwise), which no commitment row sends; another index is not the
//! window the transcript sampled.
//!
//! **What an opening sends.** Each absorb row of an active block sends
//! `(transcript, query, root position, offset, chunk (15))` on the value bus
//! (`"merkle-values"`): the chunk's elements at `offset..offset + len` of the opening's
//! concatenated rows (tallest group first), zero past its length, as many times as the
//! verifier's schedule has readers of that chunk (periodic `readers`). Whoever needs the opened
//! values (the DEEP quotient for trace commitments, the fold for commit-phase ones) asks for
//! them by that key, so values are only ever taken from the opening of that commitment at that
//! query, and a reader the schedule did not count leaves the bus unbalanced.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::{PrimeCharacteristicRing, PrimeField32};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;
use rayon::prelude::*;

use super::bits::QUERY_INDEX_BUS;
use super::commit::COMMITMENT_ROOT_BUS;
use crate::aggregate::air::perm::{PermFiller, PERM24_COLS, SHARED24_COLS as TABLE_WIDTH};
use crate::aggregate::fri::config::{POSEIDON1_DIGEST_ELEMS, POSEIDON1_RATE};
use crate::xmss::F;

/// Bus of the opened values `(transcript, query, root position, offset, chunk (15))`.
pub const MERKLE_VALUES_BUS: &str = "merkle-values";

const RATE: usize = POSEIDON1_RATE;
const DIGEST: usize = POSEIDON1_DIGEST_ELEMS;
const WIDTH24: usize = 24;

/// Width of a message on [`MERKLE_VALUES_BUS`].
pub const VALUES_WIDTH: usize = 4 + RATE;

/// The columns of one row (119), viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct MmcsOpeningCols<T> {
    /// The permutation input this row receives.
    pub input: [T; WIDTH24],
    /// `Poseidon1-24(input)`, received with `input`.
    pub output: [T; WIDTH24],
    /// The previous row's `output`.
    pub prev: [T; WIDTH24],
    /// The path's digest so far.
    pub node: [T; DIGEST],
    /// The Merkle sibling (node rows).
    pub sibling: [T; DIGEST],
    /// The chunk absorbed (absorb rows), zero past its length.
    pub chunk: [T; RATE],
    /// The index bit (node rows; 0 elsewhere).
    pub bit: T,
    /// Index bits not consumed yet.
    pub rem: T,
    /// The opened position (constant down the block).
    pub index: T,
    /// The child transcript's number (constant down the block).
    pub transcript: T,
    /// Transcript position of the query index this block opens at (constant down the block).
    pub query: T,
    /// The window's domain point, as `"query-index"` sends it (root row; not used here).
    pub point: T,
    /// 1 in a block that receives and sends, 0 in a padding block (constant down the block).
    pub active: T,
    /// Mirror of the periodic `offset`.
    pub offset: T,
    /// Mirror of the periodic `absorb` flag.
    pub absorb: T,
    /// Mirror of the periodic `root` flag.
    pub root: T,
    /// Mirror of the periodic `readers`.
    pub readers: T,
    /// 1 on a row of the schedule (absorb, node or inject), 0 on the idle rows after the root:
    /// mirror of the periodic flags' sum.
    pub scheduled: T,
    /// Mirror of the periodic `root_position` (the buses read main columns only).
    pub root_position: T,
    /// Mirror of the periodic `window_tag`.
    pub window_tag: T,
}

/// The periodic columns (period [`MmcsOpeningAir::block_len`]): the openings' schedules.
#[repr(C)]
pub struct MmcsOpeningPeriodic<T> {
    /// The first row of the block.
    pub block_first: T,
    /// The first absorb row of a group.
    pub absorb_first: T,
    /// A later absorb row of a group.
    pub absorb_more: T,
    /// 1 at the rate positions the chunk overwrites.
    pub mask: [T; RATE],
    /// A node row.
    pub node_row: T,
    /// An inject row.
    pub inject: T,
    /// `node` takes this row's output on the next row.
    pub sets_node: T,
    /// `node` is held on the next row.
    pub holds_node: T,
    /// The next row belongs to the same opening (every row before the root row).
    pub in_block: T,
    /// The root row.
    pub root: T,
    /// The chunk's offset in the opening's values (absorb rows).
    pub offset: T,
    /// How many receivers take the chunk (absorb rows): the times it is sent.
    pub readers: T,
    /// The root position of the commitment whose opening the row belongs to
    /// ([`OpeningLink::root_position`]; 0 on idle rows).
    pub root_position: T,
    /// The tag of the query-index window that opens it ([`OpeningLink::window_tag`]).
    pub window_tag: T,
    /// 1 on the block's last row (the next row is the next child's block: its transcript
    /// number is one more).
    pub ends_block: T,
}

crate::aggregate::air::row_view!(MmcsOpeningCols);
crate::aggregate::air::row_view!(MmcsOpeningPeriodic);

/// Width of [`MmcsOpeningAir`].
pub const WIDTH: usize = core::mem::size_of::<MmcsOpeningCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<MmcsOpeningPeriodic<u8>>();

/// One permutation of an opening's schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Absorb `len` values starting at `offset`; `first` for a group's first chunk.
    Absorb {
        /// The group's first chunk (zero initial state).
        first: bool,
        /// Values in the chunk (1 to 15).
        len: usize,
        /// Position of the chunk's first value in the opening's values.
        offset: usize,
    },
    /// Compress the digest with the sibling of the next level.
    Node,
    /// Compress the digest with the group digest just absorbed.
    Inject,
}

/// The shape of one batch opening: the heights and widths of the committed matrices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpeningShape {
    /// log2 of the tallest height: the path's length.
    depth: usize,
    /// `(log2 height, total width)` per group of equal height, tallest first.
    groups: Vec<(usize, usize)>,
}

impl OpeningShape {
    /// The shape of a commitment to matrices of these `(height, width)`s, in commitment order.
    ///
    /// # Errors
    /// A message if a height is not a power of two at least 2, or a width is 0.
    pub fn new(dims: &[(usize, usize)]) -> Result<Self, String> {
        let mut sorted: Vec<(usize, usize)> = dims.to_vec();
        if sorted.is_empty() {
            return Err("no matrix".into());
        }
        for &(h, w) in &sorted {
            if !h.is_power_of_two() || h < 2 || w == 0 {
                return Err(format!("a {h} x {w} matrix"));
            }
        }
        // Stable: equal heights keep their commitment order, as Plonky3 groups them.
        sorted.sort_by_key(|&(h, _)| std::cmp::Reverse(h));
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for (h, w) in sorted {
            let log = h.trailing_zeros() as usize;
            match groups.last_mut() {
                Some((l, total)) if *l == log => *total += w,
                _ => groups.push((log, w)),
            }
        }
        Ok(Self {
            depth: groups[0].0,
            groups,
        })
    }

    /// Number of values an opening holds (the sum of the widths).
    pub fn num_values(&self) -> usize {
        self.groups.iter().map(|&(_, w)| w).sum()
    }

    /// Sibling digests on a path.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The permutations of one opening, in order; the last one outputs the root.
    pub fn schedule(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut offset = 0;
        let mut absorb = |steps: &mut Vec<Step>, width: usize| {
            for k in 0..width.div_ceil(RATE) {
                let len = RATE.min(width - k * RATE);
                steps.push(Step::Absorb {
                    first: k == 0,
                    len,
                    offset,
                });
                offset += len;
            }
        };
        absorb(&mut steps, self.groups[0].1);
        for level in 1..=self.depth {
            steps.push(Step::Node);
            if let Some(&(_, w)) = self.groups.iter().find(|&&(l, _)| l == self.depth - level) {
                absorb(&mut steps, w);
                steps.push(Step::Inject);
            }
        }
        steps
    }

    /// Rows of one opening's block: the schedule's length rounded up to a power of two.
    pub fn block_len(&self) -> usize {
        self.schedule().len().next_power_of_two()
    }

    /// Number of absorbed chunks (absorb steps) of an opening.
    pub fn num_chunks(&self) -> usize {
        self.groups.iter().map(|&(_, w)| w.div_ceil(RATE)).sum()
    }

    /// Where each matrix of `dims` (commitment order, as given to [`OpeningShape::new`]) sits
    /// in an opening's values: `(group start, offset)`, the positions of its height group's
    /// first value and of its own first value, groups tallest first and equal heights in
    /// commitment order. The group's chunks of `POSEIDON1_RATE` start at the group start.
    ///
    /// # Errors
    /// As [`OpeningShape::new`].
    pub fn layout(dims: &[(usize, usize)]) -> Result<Vec<(usize, usize)>, String> {
        let shape = Self::new(dims)?;
        let mut group_start = Vec::with_capacity(shape.groups.len());
        let mut at = 0;
        for &(log, w) in &shape.groups {
            group_start.push((log, at));
            at += w;
        }
        let mut next: Vec<usize> = group_start.iter().map(|&(_, s)| s).collect();
        Ok(dims
            .iter()
            .map(|&(h, w)| {
                let log = h.trailing_zeros() as usize;
                let g = group_start
                    .iter()
                    .position(|&(l, _)| l == log)
                    .expect("every height has its group");
                let offset = next[g];
                next[g] += w;
                (group_start[g].1, offset)
            })
            .collect())
    }
}

/// Which commitment of a child's shape an [`MmcsOpeningAir`] checks openings of: the keys of
/// its root and index, as the verifier's schedule fixes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpeningLink {
    /// Transcript position of the commitment root's first element (its key on
    /// `"commitment-root"` and on the value bus).
    pub root_position: usize,
    /// The tag of the query-index window that opens the commitment.
    pub window_tag: usize,
}

/// One opening to check: the opened rows of every matrix, in commitment order, at `index` of the
/// tallest, with the siblings from the leaf level up (Plonky3's `MerkleTreeMmcs` proof order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleOpening {
    /// The child transcript's number.
    pub transcript: u32,
    /// Transcript position of the query index the opening is at.
    pub query: usize,
    /// The window's domain point, as the query-index bus carries it.
    pub point: F,
    /// One row per matrix, in commitment order (widths as the shape's).
    pub rows: Vec<Vec<F>>,
    /// The opened position in the tallest matrix.
    pub index: usize,
    /// One sibling digest per level, leaf level first.
    pub siblings: Vec<[F; DIGEST]>,
}

/// One commitment whose openings an [`MmcsOpeningAir`] checks: its shape, link and matrices,
/// and the rows of a block its schedule takes.
#[derive(Clone, Debug)]
struct Segment {
    shape: OpeningShape,
    link: OpeningLink,
    /// `(height, width)` in commitment order, to order the opened rows as the groups do.
    dims: Vec<(usize, usize)>,
    /// The segment's first row in a block.
    start: usize,
    /// Its schedule (`shape.schedule()`), kept.
    schedule: Vec<Step>,
}

impl Segment {
    /// The opening's values in the order the sponge absorbs them: groups tallest first, equal
    /// heights in commitment order.
    fn absorb_order(&self, rows: &[Vec<F>]) -> Vec<F> {
        let mut order: Vec<usize> = (0..self.dims.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.dims[i].0));
        order
            .iter()
            .flat_map(|&i| rows[i].iter().copied())
            .collect()
    }

    /// An inactive opening of this shape: all-zero values at index 0.
    fn padding(&self) -> MerkleOpening {
        MerkleOpening {
            transcript: 0,
            query: 0,
            point: F::ZERO,
            rows: self.dims.iter().map(|&(_, w)| vec![F::ZERO; w]).collect(),
            index: 0,
            siblings: vec![[F::ZERO; DIGEST]; self.shape.depth],
        }
    }
}

/// One commitment of an [`MmcsOpeningAir`]: its matrices' `(height, width)`s in commitment
/// order, the link naming it, and how many receivers take each chunk of an opening (absorb
/// order).
pub type CommitmentSpec<'a> = (&'a [(usize, usize)], OpeningLink, &'a [u32]);

/// The AIR checking openings of one or more commitments, each of its own [`OpeningShape`].
///
/// A block is `Q` queries' openings of every commitment ([`MmcsOpeningAir::queries`]; a
/// parent's block is one child's queries), query after query and in each query one commitment
/// after the other: commitment `s` of query `k` takes the block's rows `k L + start_s..k L +
/// start_s + len_s`, `len_s` being its schedule's length, `start_s` the sum of the earlier ones
/// and `L` the sum of all, and the block is padded with idle rows to a power of two
/// ([`MmcsOpeningAir::block_len`]). Each commitment's rows are what one block of a
/// one-commitment AIR would be (its own first row, root row, `index`, `transcript`, `query` and
/// `active`, nothing carried from the rows before), with its root position and window tag as
/// periodic columns instead of constants; so a proof with all of a child's commitments in one
/// AIR commits one set of columns rather than one per commitment.
#[derive(Clone, Debug)]
pub struct MmcsOpeningAir {
    segments: Vec<Segment>,
    /// Queries per block: each block holds this many queries' openings of every commitment.
    queries: usize,
    /// Rows of one query's openings (the segments' schedules together).
    per_query: usize,
    period: usize,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(MmcsOpeningAir);

impl MmcsOpeningAir {
    /// The AIR for openings of the commitment `link` names, to matrices of these
    /// `(height, width)`s in commitment order; `readers[c]` is how many receivers take the
    /// opening's chunk `c` (absorb order, [`OpeningShape::num_chunks`] of them): the DEEP
    /// quotient's rows for a trace commitment ([`super::deep::DeepShape::readers`]), the fold's
    /// row for a commit-phase one. Each chunk is sent that many times.
    ///
    /// # Errors
    /// As [`MmcsOpeningAir::merged`].
    pub fn new(
        dims: &[(usize, usize)],
        link: OpeningLink,
        readers: &[u32],
    ) -> Result<Self, String> {
        Self::merged(&[(dims, link, readers)], 1)
    }

    /// The AIR for openings of every commitment of `commitments` (each as [`MmcsOpeningAir::new`]
    /// takes one), a block holding `queries` queries' openings of each, query after query, and
    /// in each query the commitments in this order (a parent's block is one child's queries).
    ///
    /// # Errors
    /// A message for no commitment or no query, two commitments with the same root position, a
    /// shape [`OpeningShape::new`] refuses, `readers` without one count per chunk, or a count
    /// above `POSEIDON1_RATE` (a chunk has 15 values; no two readers take the same value).
    pub fn merged(commitments: &[CommitmentSpec<'_>], queries: usize) -> Result<Self, String> {
        if commitments.is_empty() || queries == 0 {
            return Err(format!(
                "{} commitments, {queries} queries",
                commitments.len()
            ));
        }
        let mut segments: Vec<Segment> = Vec::with_capacity(commitments.len());
        let mut start = 0;
        for &(dims, link, readers) in commitments {
            if segments
                .iter()
                .any(|s| s.link.root_position == link.root_position)
            {
                return Err(format!("two commitments at {}", link.root_position));
            }
            let shape = OpeningShape::new(dims)?;
            if readers.len() != shape.num_chunks() {
                return Err(format!(
                    "{} reader counts for {} chunks",
                    readers.len(),
                    shape.num_chunks()
                ));
            }
            if let Some(r) = readers.iter().find(|&&r| r as usize > RATE) {
                return Err(format!("{r} readers of one chunk"));
            }
            let schedule = shape.schedule();
            let len = schedule.len();
            segments.push(Segment {
                shape,
                link,
                dims: dims.to_vec(),
                start,
                schedule,
            });
            start += len;
        }
        let per_query = start;
        let period = queries
            .checked_mul(per_query)
            .and_then(usize::checked_next_power_of_two)
            .filter(|&p| p <= 1 << 24)
            .ok_or_else(|| format!("{queries} queries of {per_query} rows"))?;
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        let p: &mut MmcsOpeningPeriodic<F> = rows[(period - 1) * NUM_PERIODIC..].borrow_mut();
        p.ends_block = F::ONE;
        // The first query's rows, then the same rows for every later query of the block.
        for (seg, &(_, _, readers)) in segments.iter().zip(commitments) {
            let schedule = &seg.schedule;
            let mut readers = readers.iter();
            let last = schedule.len() - 1;
            let first_group_end = schedule
                .iter()
                .position(|s| !matches!(s, Step::Absorb { .. }))
                .unwrap_or(schedule.len())
                - 1;
            let mut holding = false;
            for (r, step) in schedule.iter().enumerate() {
                let at = seg.start + r;
                let p: &mut MmcsOpeningPeriodic<F> =
                    rows[at * NUM_PERIODIC..(at + 1) * NUM_PERIODIC].borrow_mut();
                p.block_first = F::from_bool(r == 0);
                p.in_block = F::from_bool(r < last);
                p.root = F::from_bool(r == last);
                p.root_position = F::from_usize(seg.link.root_position);
                p.window_tag = F::from_usize(seg.link.window_tag);
                match *step {
                    Step::Absorb { first, len, offset } => {
                        if first {
                            p.absorb_first = F::ONE;
                        } else {
                            p.absorb_more = F::ONE;
                        }
                        for m in &mut p.mask[..len] {
                            *m = F::ONE;
                        }
                        p.offset = F::from_usize(offset);
                        p.readers = F::from_u32(*readers.next().expect("counted above"));
                        if r == first_group_end {
                            p.sets_node = F::ONE;
                        } else if holding {
                            p.holds_node = F::ONE;
                        }
                    }
                    Step::Node => {
                        p.node_row = F::ONE;
                        p.sets_node = F::from_bool(r < last);
                        holding = true;
                    }
                    Step::Inject => {
                        p.inject = F::ONE;
                        p.sets_node = F::from_bool(r < last);
                    }
                }
            }
        }
        let one_query = per_query * NUM_PERIODIC;
        for q in 1..queries {
            rows.copy_within(..one_query, q * one_query);
        }
        Ok(Self {
            segments,
            queries,
            per_query,
            period,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        })
    }

    /// Rows of one block: the commitments' schedules, together, times the queries of a block,
    /// rounded up to a power of two.
    pub fn block_len(&self) -> usize {
        self.period
    }

    /// Rows of a block that receive a permutation: the sum of the schedules' lengths times the
    /// queries of a block.
    pub fn scheduled_rows(&self) -> usize {
        self.queries * self.per_query
    }

    /// Queries per block.
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// The commitments this AIR opens, in block order.
    pub fn links(&self) -> Vec<OpeningLink> {
        self.segments.iter().map(|s| s.link).collect()
    }

    /// The trace checking `openings`, one block per [`MmcsOpeningAir::queries`] queries, each
    /// query holding one opening of every commitment (the opening of commitment `s` at query
    /// `k` of block `b` being `openings[(b * Q + k) * S + s]`, `Q` queries and `S` commitments
    /// a block), then padding blocks (inactive, all-zero values at index 0) up to a power
    /// of two and at least `min_height` rows; a shared permutation table's trace, one row per
    /// trace row in the same order, its count 1 on the scheduled rows of active openings
    /// (`shared_table` keeps those); and the value chunks the active openings send,
    /// `(transcript, query, root position, offset, chunk)`, each once per reader.
    ///
    /// # Panics
    /// If the openings are not a whole number of blocks, or an opening's rows or siblings do
    /// not have its commitment's widths and depth, or its index is out of range.
    pub fn generate_traces(
        &self,
        openings: &[MerkleOpening],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, RowMajorMatrix<F>, Vec<[F; VALUES_WIDTH]>) {
        let period = self.period;
        let per_query = self.segments.len();
        let per_block = per_query * self.queries;
        assert_eq!(openings.len() % per_block, 0, "whole blocks of openings");
        let blocks = openings.len() / per_block;
        let height = (blocks * period)
            .max(min_height)
            .max(period)
            .next_power_of_two();
        let mut values = F::zero_vec(height * WIDTH);
        let mut perm_values = F::zero_vec(height * TABLE_WIDTH);
        let filler = PermFiller::shared24();
        let paddings: Vec<MerkleOpening> = self.segments.iter().map(Segment::padding).collect();
        // The periodic values of each row of a block, read once rather than per row.
        let schedule_rows: Vec<Vec<F>> = (0..period)
            .map(|r| self.periodic.iter().map(|c| c[r]).collect())
            .collect();
        // Blocks are independent but for `prev` on a block's first row: the transition
        // constraint makes it the last output of the block before, and nothing in the block
        // reads it (its first row starts a group). One task a block; those `prev`s are filled
        // in order below.
        let per_block_chunks: Vec<Vec<[F; VALUES_WIDTH]>> = values
            .par_chunks_mut(period * WIDTH)
            .zip(perm_values.par_chunks_mut(period * TABLE_WIDTH))
            .take(height / period)
            .enumerate()
            .map(|(b, (values, perm_values))| {
                let mut chunks = Vec::new();
                let mut prev = [F::ZERO; WIDTH24];
                let active = b < blocks;
                let mut r = 0;
                for (k, (s, seg)) in (0..self.queries)
                    .flat_map(|k| self.segments.iter().enumerate().map(move |x| (k, x)))
                {
                    let o = if active {
                        &openings[b * per_block + k * per_query + s]
                    } else {
                        &paddings[s]
                    };
                    let start = k * self.per_query + seg.start;
                    assert_eq!(o.rows.len(), seg.dims.len(), "one row per matrix");
                    for (row, &(_, w)) in o.rows.iter().zip(&seg.dims) {
                        assert_eq!(row.len(), w, "row width");
                    }
                    assert_eq!(o.siblings.len(), seg.shape.depth, "path length");
                    assert!(o.index >> seg.shape.depth == 0, "index out of range");
                    let vals = seg.absorb_order(&o.rows);
                    let mut node = [F::ZERO; DIGEST];
                    let mut level = 0;
                    // The segment's rows, then (after the last segment) the block's idle rows.
                    let end = if k + 1 == self.queries && s + 1 == per_query {
                        period
                    } else {
                        start + seg.schedule.len()
                    };
                    while r < end {
                        let p: &MmcsOpeningPeriodic<F> = schedule_rows[r].as_slice().borrow();
                        let at = r * WIDTH;
                        let row: &mut MmcsOpeningCols<F> = values[at..at + WIDTH].borrow_mut();
                        row.prev = prev;
                        row.index = F::from_usize(o.index);
                        row.transcript = if active {
                            F::from_u32(o.transcript)
                        } else {
                            F::from_usize(self.first as usize + b)
                        };
                        row.query = F::from_usize(o.query);
                        row.active = F::from_bool(active);
                        row.rem = F::from_usize(o.index >> level);
                        row.node = node;
                        row.root_position = p.root_position;
                        row.window_tag = p.window_tag;
                        let mut input = [F::ZERO; WIDTH24];
                        let step = seg.schedule.get(r - start);
                        match step {
                            Some(&Step::Absorb { first, len, offset }) => {
                                row.absorb = F::ONE;
                                row.offset = F::from_usize(offset);
                                row.readers = p.readers;
                                row.chunk[..len].copy_from_slice(&vals[offset..offset + len]);
                                if !first {
                                    input = prev;
                                }
                                input[..len].copy_from_slice(&vals[offset..offset + len]);
                                if active {
                                    let mut m = [F::ZERO; VALUES_WIDTH];
                                    m[0] = row.transcript;
                                    m[1] = row.query;
                                    m[2] = F::from_usize(seg.link.root_position);
                                    m[3] = row.offset;
                                    m[4..].copy_from_slice(&row.chunk);
                                    for _ in 0..p.readers.as_canonical_u32() {
                                        chunks.push(m);
                                    }
                                }
                            }
                            Some(Step::Node) => {
                                let bit = (o.index >> level) & 1;
                                let sibling = o.siblings[level];
                                row.bit = F::from_usize(bit);
                                row.sibling = sibling;
                                let (l, rr) = if bit == 0 {
                                    (node, sibling)
                                } else {
                                    (sibling, node)
                                };
                                input[..DIGEST].copy_from_slice(&l);
                                input[DIGEST..2 * DIGEST].copy_from_slice(&rr);
                                level += 1;
                            }
                            Some(Step::Inject) => {
                                input[..DIGEST].copy_from_slice(&node);
                                input[DIGEST..2 * DIGEST].copy_from_slice(&prev[..DIGEST]);
                            }
                            None => {}
                        }
                        let at = r * TABLE_WIDTH;
                        let out = filler.fill(&mut perm_values[at..at + PERM24_COLS], input);
                        let scheduled = step.is_some();
                        row.scheduled = F::from_bool(scheduled);
                        perm_values[at + PERM24_COLS] = F::from_bool(active && scheduled);
                        row.input = input;
                        row.output = out;
                        prev = out;
                        if p.sets_node == F::ONE {
                            node.copy_from_slice(&out[..DIGEST]);
                        }
                        if p.root == F::ONE {
                            row.root = F::ONE;
                            row.point = o.point;
                        }
                        r += 1;
                    }
                }
                chunks
            })
            .collect();
        let chunks: Vec<[F; VALUES_WIDTH]> = per_block_chunks.into_iter().flatten().collect();
        for b in 1..height / period {
            let at = b * period * WIDTH;
            let (before, after) = values.split_at_mut(at);
            let last: &MmcsOpeningCols<F> = before[at - WIDTH..].borrow();
            let first: &mut MmcsOpeningCols<F> = after[..WIDTH].borrow_mut();
            first.prev = last.output;
        }
        (
            RowMajorMatrix::new(values, WIDTH),
            RowMajorMatrix::new(perm_values, TABLE_WIDTH),
            chunks,
        )
    }
}

verifier_base_air!(MmcsOpeningAir, |_: &MmcsOpeningAir| WIDTH);

impl<AB> Air<AB> for MmcsOpeningAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &MmcsOpeningCols<AB::Var> = main.current_slice().borrow();
        let next: &MmcsOpeningCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &MmcsOpeningPeriodic<AB::Expr> = periodic.as_slice().borrow();
        let one = AB::Expr::ONE;

        builder.assert_bool(row.active);
        builder.assert_bool(row.bit);
        builder.assert_zero((one.clone() - p.node_row.clone()) * row.bit);
        builder.assert_eq(row.offset, p.offset.clone());
        builder.assert_eq(row.absorb, p.absorb_first.clone() + p.absorb_more.clone());
        builder.assert_eq(row.root, p.root.clone());
        builder.assert_eq(row.readers, p.readers.clone());
        builder.assert_eq(row.root_position, p.root_position.clone());
        builder.assert_eq(row.window_tag, p.window_tag.clone());
        builder.assert_eq(
            row.scheduled,
            p.absorb_first.clone() + p.absorb_more.clone() + p.node_row.clone() + p.inject.clone(),
        );

        // The permutation input.
        for i in 0..RATE {
            let not_mask = one.clone() - p.mask[i].clone();
            builder.assert_zero(row.absorb * not_mask.clone() * row.chunk[i]);
            builder.assert_zero(p.absorb_first.clone() * (row.input[i] - row.chunk[i]));
            builder.assert_zero(
                p.absorb_more.clone() * (row.input[i] - row.chunk[i] - not_mask * row.prev[i]),
            );
        }
        for i in RATE..WIDTH24 {
            builder.assert_zero(p.absorb_first.clone() * row.input[i]);
            builder.assert_zero(p.absorb_more.clone() * (row.input[i] - row.prev[i]));
        }
        let compress = p.node_row.clone() + p.inject.clone();
        for j in 0..DIGEST {
            let swap = row.bit * (row.sibling[j] - row.node[j]);
            builder.assert_zero(p.node_row.clone() * (row.input[j] - row.node[j] - swap.clone()));
            builder
                .assert_zero(p.node_row.clone() * (row.input[DIGEST + j] - row.sibling[j] + swap));
            builder.assert_zero(p.inject.clone() * (row.input[j] - row.node[j]));
            builder.assert_zero(p.inject.clone() * (row.input[DIGEST + j] - row.prev[j]));
        }
        for i in 2 * DIGEST..WIDTH24 {
            builder.assert_zero(compress.clone() * row.input[i]);
        }

        // The block's first and root rows.
        builder.assert_zero(p.block_first.clone() * (row.rem - row.index));
        builder.assert_zero(p.root.clone() * (row.rem - row.bit));

        let mut t = builder.when_transition();
        for i in 0..WIDTH24 {
            t.assert_eq(next.prev[i], row.output[i]);
        }
        for j in 0..DIGEST {
            t.assert_zero(p.sets_node.clone() * (next.node[j] - row.output[j]));
            t.assert_zero(p.holds_node.clone() * (next.node[j] - row.node[j]));
        }
        let within = p.in_block.clone();
        t.assert_zero(within.clone() * (next.index - row.index));
        t.assert_zero(super::next_block_number::<AB>(
            p.ends_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(within.clone() * (next.query - row.query));
        t.assert_zero(within.clone() * (next.active - row.active));
        // rem = rem' on other rows, 2 rem' + bit on node rows (bit is 0 elsewhere).
        t.assert_zero(within * (row.rem - next.rem * (one.clone() + p.node_row.clone()) - row.bit));

        super::receive_permutation_counted(
            builder,
            &row.input,
            &row.output,
            row.active * row.scheduled,
        );
        let root_position: AB::Expr = row.root_position.into();
        let chunk: Vec<AB::Expr> = [
            row.transcript.into(),
            row.query.into(),
            root_position.clone(),
            row.offset.into(),
        ]
        .into_iter()
        .chain(row.chunk.iter().map(|&v| v.into()))
        .collect();
        PermutationCheckBus::new(MERKLE_VALUES_BUS).send(
            builder,
            chunk,
            Count::bounded(row.active * row.readers, RATE as u32),
        );
        PermutationCheckBus::new(QUERY_INDEX_BUS).receive(
            builder,
            [
                row.transcript.into(),
                row.query.into(),
                row.window_tag.into(),
                row.index.into(),
                row.point.into(),
            ],
            Count::bounded(row.active * row.root, 1),
        );
        let root: Vec<AB::Expr> = [row.transcript.into(), root_position]
            .into_iter()
            .chain(row.output[..DIGEST].iter().map(|&v| v.into()))
            .collect();
        PermutationCheckBus::new(COMMITMENT_ROOT_BUS).receive(
            builder,
            root,
            Count::bounded(row.active * row.root, 1),
        );
        super::first_block_number(builder, self.first, row.transcript);
    }
}

#[cfg(test)]
mod tests {
    //! Real batch openings of Plonky3's Poseidon1-24 `MerkleTreeMmcs` (matrices of three heights,
    //! groups of one to three chunks) checked through the AIR, their root held by
    //! `CommitmentAir` and observed by the transcript, their indices received as query windows;
    //! each forgery caught by the constraint or bus that should catch it (`check_all_constraints`,
    //! `check_lookups`), then by the FRI verifier on a proof of the forged traces.

    use std::collections::BTreeSet;

    use p3_commit::Mmcs;
    use p3_matrix::Dimensions;

    use super::*;
    use crate::aggregate::air::perm::Perm24TableAir;
    use crate::aggregate::air::PERM24_FULL_BUS;
    use crate::aggregate::fri::config::{FriHash, Poseidon1};
    use crate::aggregate::recursion::commit::{
        Commitment, CommitmentAir, CommitmentCols, WIDTH as COMMIT_WIDTH,
    };
    use crate::aggregate::recursion::duplex::TRANSCRIPT_OBSERVE_BUS;
    use crate::aggregate::recursion::harness::{
        has_constraint, only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };

    /// `(height, width)` in commitment order: the groups are 64 (20 + 3 = 23 values, two
    /// chunks), 16 (7, one chunk) and 8 (31, three chunks).
    const DIMS: [(usize, usize); 4] = [(64, 20), (16, 7), (64, 3), (8, 31)];
    const DEPTH: usize = 6;
    const INDICES: [usize; 3] = [0, 37, 63];
    /// The first opening's transcript number (opening `k` of [`real_openings`] is transcript
    /// `TRANSCRIPT + k`: the AIR of [`MmcsOpeningAir::new`] holds one opening per block, and
    /// each block is its own transcript), the root's transcript position and the window's tag.
    const TRANSCRIPT: u32 = 3;
    const LINK: OpeningLink = OpeningLink {
        root_position: 17,
        window_tag: 2,
    };
    /// One reader of each chunk.
    fn ones() -> Vec<u32> {
        vec![1; OpeningShape::new(&DIMS).unwrap().num_chunks()]
    }

    /// The transcript position of query `k`'s index.
    fn query(k: usize) -> usize {
        40 + 5 * k
    }

    /// Openings as Plonky3 makes and checks them, and the root they open against.
    struct Real {
        openings: Vec<MerkleOpening>,
        root: [F; DIGEST],
    }

    /// Pseudo-random matrices of [`DIMS`] (`seed` varies them) committed with the Poseidon1
    /// `MerkleTreeMmcs`, opened at `indices` (query `k` at position [`query`]`(k)`), each opening
    /// checked by Plonky3's own verifier.
    fn real_openings(indices: &[usize], seed: u32) -> Real {
        let mmcs = Poseidon1::mmcs(0);
        let matrices: Vec<RowMajorMatrix<F>> = DIMS
            .iter()
            .enumerate()
            .map(|(m, &(h, w))| {
                let v = (0..h * w)
                    .map(|i| {
                        let x = i as u32 + 1000 * m as u32 + 100_000 * seed;
                        F::from_u32(x.wrapping_mul(0x9e37_79b9) >> 1)
                    })
                    .collect();
                RowMajorMatrix::new(v, w)
            })
            .collect();
        let (cap, data) = mmcs.commit(matrices);
        let dims: Vec<Dimensions> = DIMS
            .iter()
            .map(|&(height, width)| Dimensions { width, height })
            .collect();
        let openings = indices
            .iter()
            .enumerate()
            .map(|(k, &index)| {
                let opening = mmcs.open_batch(index, &data);
                mmcs.verify_batch(&cap, &dims, index, (&opening).into())
                    .expect("Plonky3 verifies its own opening");
                let (rows, siblings) = opening.unpack();
                MerkleOpening {
                    transcript: TRANSCRIPT + k as u32,
                    query: query(k),
                    point: F::from_usize(1000 + index),
                    rows,
                    index,
                    siblings,
                }
            })
            .collect();
        Real {
            openings,
            root: cap.roots()[0],
        }
    }

    /// What the verifier's side asks for, computed here from the openings and Plonky3's root,
    /// not by the AIR: the root's elements at their transcript positions, each query's window,
    /// and the opening's values in chunks of 15, groups tallest first.
    struct Asks {
        observed: Vec<Vec<F>>,
        windows: Vec<Vec<F>>,
        chunks: Vec<Vec<F>>,
    }

    fn asks(real: &Real) -> Asks {
        asks_at(real, LINK)
    }

    /// As [`asks`], for the commitment `link` names; each opening's messages keyed by its
    /// transcript, the root observed once by each transcript.
    fn asks_at(real: &Real, link: OpeningLink) -> Asks {
        let mut transcripts: Vec<u32> = real.openings.iter().map(|o| o.transcript).collect();
        transcripts.dedup();
        let observed = transcripts
            .iter()
            .flat_map(|&t| {
                (0..DIGEST).map(move |j| {
                    vec![
                        F::from_u32(t),
                        F::from_usize(link.root_position + j),
                        real.root[j],
                    ]
                })
            })
            .collect();
        let mut windows = Vec::new();
        let mut chunks = Vec::new();
        for (k, o) in real.openings.iter().enumerate() {
            let t = F::from_u32(o.transcript);
            let q = F::from_usize(query(k));
            windows.push(vec![
                t,
                q,
                F::from_usize(link.window_tag),
                F::from_usize(o.index),
                o.point,
            ]);
            // Heights 64, 64, 16, 8: matrices 0 and 2, then 1, then 3; the groups' chunks.
            let groups = [
                [o.rows[0].clone(), o.rows[2].clone()].concat(),
                o.rows[1].clone(),
                o.rows[3].clone(),
            ];
            let mut offset = 0;
            for g in groups {
                for chunk in g.chunks(RATE) {
                    let mut m = vec![t, q, F::from_usize(link.root_position)];
                    m.push(F::from_usize(offset));
                    m.extend_from_slice(chunk);
                    m.resize(VALUES_WIDTH, F::ZERO);
                    chunks.push(m);
                    offset += chunk.len();
                }
            }
        }
        Asks {
            observed,
            windows,
            chunks,
        }
    }

    const ROOTS: Failed = Failed::Bus(COMMITMENT_ROOT_BUS);
    const INDEX: Failed = Failed::Bus(QUERY_INDEX_BUS);
    const VALUES: Failed = Failed::Bus(MERKLE_VALUES_BUS);
    const OBSERVE: Failed = Failed::Bus(TRANSCRIPT_OBSERVE_BUS);
    const PERMS: Failed = Failed::Bus(PERM24_FULL_BUS);

    /// The commitment AIR of the test: one root per transcript, opened by its one query.
    fn commitment_air() -> CommitmentAir {
        CommitmentAir::new(&[Commitment {
            position: LINK.root_position,
            uses: 1,
        }])
        .unwrap()
        .numbered_from(TRANSCRIPT)
    }

    /// The batch asking for `real`'s root, windows and values, with the AIR's traces of
    /// `openings` and a commitment trace holding `root`, edited by `edit` (the opening trace,
    /// the permutation table, the commitment trace).
    fn batch(
        real: &Real,
        openings: &[MerkleOpening],
        root: [F; DIGEST],
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> Batch {
        batch_for(
            MmcsOpeningAir::new(&DIMS, LINK, &ones()).unwrap(),
            real,
            openings,
            root,
            edit,
        )
    }

    fn batch_for(
        air: MmcsOpeningAir,
        real: &Real,
        openings: &[MerkleOpening],
        root: [F; DIGEST],
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> Batch {
        let air = air.numbered_from(TRANSCRIPT);
        let (mut trace, mut perm, _) = air.generate_traces(openings, MIN_HEIGHT);
        let commit = commitment_air();
        let roots: Vec<_> = (0..INDICES.len() as u32)
            .map(|k| (TRANSCRIPT + k, vec![root]))
            .collect();
        let mut ct = commit.generate_trace(&roots, MIN_HEIGHT);
        edit(&mut trace, &mut perm, &mut ct);
        batch_of(air, trace, perm, commit, ct, &asks(real))
    }

    /// The batch of an opening AIR's traces, the table, a commitment AIR's trace and the
    /// verifier-known asks `a` (observed roots, windows, chunks).
    fn batch_of(
        air: MmcsOpeningAir,
        trace: RowMajorMatrix<F>,
        perm: RowMajorMatrix<F>,
        commit: CommitmentAir,
        ct: RowMajorMatrix<F>,
        a: &Asks,
    ) -> Batch {
        let observe = KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &a.observed);
        let windows = KnownAir::new(QUERY_INDEX_BUS, 5, true, &a.windows);
        let chunks = KnownAir::new(MERKLE_VALUES_BUS, VALUES_WIDTH, false, &a.chunks);
        let (ot, wt, vt) = (observe.trace(), windows.trace(), chunks.trace());
        Batch {
            airs: vec![
                TestAir::Mmcs(air),
                TestAir::Perm(Perm24TableAir::shared()),
                TestAir::Commit(commit),
                TestAir::Known(observe),
                TestAir::Known(windows),
                TestAir::Known(chunks),
            ],
            traces: vec![trace, perm, ct, ot, wt, vt],
            buses: vec![
                PERM24_FULL_BUS,
                COMMITMENT_ROOT_BUS,
                TRANSCRIPT_OBSERVE_BUS,
                QUERY_INDEX_BUS,
                MERKLE_VALUES_BUS,
            ],
        }
    }

    fn honest(
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> Batch {
        let real = real_openings(&INDICES, 0);
        batch(&real, &real.openings, real.root, edit)
    }

    #[test]
    fn the_schedule_follows_plonky3s_tree() {
        let shape = OpeningShape::new(&DIMS).unwrap();
        assert_eq!(shape.depth(), DEPTH);
        assert_eq!(shape.num_values(), 61);
        let s = shape.schedule();
        let absorb = |first, len, offset| Step::Absorb { first, len, offset };
        let expected = [
            vec![absorb(true, 15, 0), absorb(false, 8, 15)],
            vec![Step::Node, Step::Node],
            vec![absorb(true, 7, 23), Step::Inject],
            vec![Step::Node],
            vec![
                absorb(true, 15, 30),
                absorb(false, 15, 45),
                absorb(false, 1, 60),
                Step::Inject,
            ],
            vec![Step::Node, Step::Node, Step::Node],
        ]
        .concat();
        assert_eq!(s, expected);
        assert_eq!(shape.block_len(), 16);
        assert_eq!(shape.num_chunks(), 6);
        assert_eq!(
            OpeningShape::layout(&DIMS).unwrap(),
            [(0, 0), (23, 23), (0, 20), (30, 30)]
        );
        assert!(MmcsOpeningAir::new(&DIMS, LINK, &[1; 5]).is_err());
        assert!(MmcsOpeningAir::new(&DIMS, LINK, &[1, 1, 16, 1, 1, 1]).is_err());
        assert!(OpeningShape::new(&[(12, 3)]).is_err());
        assert!(OpeningShape::new(&[(8, 0)]).is_err());
        assert!(OpeningShape::new(&[]).is_err());
    }

    #[test]
    fn real_openings_pass_every_check_and_prove() {
        let real = real_openings(&INDICES, 0);
        let air = MmcsOpeningAir::new(&DIMS, LINK, &ones()).unwrap();
        // What the AIR sends is what the receivers ask for: the rows in the sponge's order.
        let (_, _, chunks) = air.generate_traces(&real.openings, MIN_HEIGHT);
        assert_eq!(
            chunks.iter().map(|c| c.to_vec()).collect::<Vec<_>>(),
            asks(&real).chunks
        );
        let b = batch(&real, &real.openings, real.root, |_, _, _| {});
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }

    #[test]
    fn each_chunk_is_sent_once_per_reader() {
        let real = real_openings(&INDICES, 0);
        let readers = [2, 1, 3, 1, 1, 1];
        let air = MmcsOpeningAir::new(&DIMS, LINK, &readers).unwrap();
        let (_, _, sent) = air.generate_traces(&real.openings, MIN_HEIGHT);
        // The receivers' side: chunk `c` of every query asked for `readers[c]` times.
        let per_query = asks(&real).chunks.len() / INDICES.len();
        let mut asked = Vec::new();
        for (i, chunk) in asks(&real).chunks.into_iter().enumerate() {
            for _ in 0..readers[i % per_query] {
                asked.push(chunk.clone());
            }
        }
        assert_eq!(sent.iter().map(|c| c.to_vec()).collect::<Vec<_>>(), asked);
        let with_asks = |air: MmcsOpeningAir, asked: &[Vec<F>]| {
            let mut b = batch_for(air, &real, &real.openings, real.root, |_, _, _| {});
            let values = KnownAir::new(MERKLE_VALUES_BUS, VALUES_WIDTH, false, asked);
            b.traces[5] = values.trace();
            b.airs[5] = TestAir::Known(values);
            b
        };
        let b = with_asks(air.clone(), &asked);
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
        // One reader fewer or more than the schedule counts.
        let fewer = &asked[1..];
        assert_eq!(with_asks(air, fewer).failed(), BTreeSet::from([VALUES]));
        let once = MmcsOpeningAir::new(&DIMS, LINK, &ones()).unwrap();
        assert_eq!(with_asks(once, &asked).failed(), BTreeSet::from([VALUES]));
        // The mirror off the schedule.
        let b = batch(&real, &real.openings, real.root, |t, _, _| {
            let row: &mut MmcsOpeningCols<F> = t.values[..WIDTH].borrow_mut();
            row.readers = F::TWO;
        });
        assert!(has_constraint(&b.failed()));
    }

    /// The failures of the batch whose openings were changed by `forge` and then traced
    /// honestly, the verifier's side still asking for the real ones.
    fn forged(forge: impl FnOnce(&mut Vec<MerkleOpening>)) -> BTreeSet<Failed> {
        let real = real_openings(&INDICES, 0);
        let mut o = real.openings.clone();
        forge(&mut o);
        batch(&real, &o, real.root, |_, _, _| {}).failed()
    }

    #[test]
    fn a_wrong_sibling_index_or_value_reaches_another_root_or_window() {
        // Traced honestly, every constraint and the permutation bus hold: only the root (and the
        // window, the values) the verifier's side asks for is missing.
        let root = BTreeSet::from([ROOTS]);
        assert_eq!(forged(|o| o[1].siblings[3][4] += F::ONE), root);
        assert_eq!(forged(|o| o[1].siblings[0][0] += F::ONE), root);
        assert_eq!(
            forged(|o| o[1].index ^= 1 << 2),
            BTreeSet::from([ROOTS, INDEX])
        );
        let other = real_openings(&[36], 0).openings.remove(0);
        assert_eq!(forged(|o| o[1].siblings = other.siblings.clone()), root);
        // A value of each group: the tallest, the injected ones.
        let values = BTreeSet::from([ROOTS, VALUES]);
        assert_eq!(forged(|o| o[2].rows[2][1] += F::ONE), values);
        assert_eq!(forged(|o| o[0].rows[1][6] += F::ONE), values);
        assert_eq!(forged(|o| o[0].rows[3][30] += F::ONE), values);
        // Another leaf's rows with its own real path: the committed root, at an index the
        // transcript did not sample.
        let mut other_leaf = other.clone();
        other_leaf.query = query(1);
        other_leaf.transcript = TRANSCRIPT + 1;
        assert_eq!(
            forged(|o| o[1] = other_leaf),
            BTreeSet::from([INDEX, VALUES])
        );
        // Two openings' queries swapped: each index and chunk goes to the other's key.
        assert_eq!(
            forged(|o| (o[0].query, o[1].query) = (query(1), query(0))),
            BTreeSet::from([INDEX, VALUES])
        );
        // Another transcript's number on one opening (the one before it's): its messages go to
        // that transcript's keys, and two blocks hold one number.
        let f = forged(|o| o[2].transcript = TRANSCRIPT + 1);
        assert!(has_constraint(&f), "{f:?}");
        assert!(
            f.is_superset(&BTreeSet::from([ROOTS, INDEX, VALUES])),
            "{f:?}"
        );
        // The blocks in another order, each with its own keys: the same messages, but a block's
        // number is its place, a constraint.
        assert!(only_constraints(&forged(|o| o.swap(0, 1))));
    }

    #[test]
    fn another_commitment_is_not_the_one_the_transcript_observed() {
        // A whole other tree, honestly opened at the sampled indices and its root held by the
        // commitment AIR: every opening reaches its root, but the transcript observed the real
        // one (and the values are not the real ones).
        let real = real_openings(&INDICES, 0);
        let other = real_openings(&INDICES, 1);
        let f = batch(&real, &other.openings, other.root, |_, _, _| {}).failed();
        assert_eq!(f, BTreeSet::from([OBSERVE, VALUES]));
        // The real openings, but the commitment AIR holding another root.
        let f = batch(&real, &real.openings, other.root, |_, _, _| {}).failed();
        assert_eq!(f, BTreeSet::from([OBSERVE, ROOTS]));
        // The real openings checked as another commitment's (another root position): the root
        // and the values are asked for under the real commitment's key.
        let elsewhere = OpeningLink {
            root_position: LINK.root_position + DIGEST,
            ..LINK
        };
        let air = MmcsOpeningAir::new(&DIMS, elsewhere, &ones()).unwrap();
        let f = batch_for(air, &real, &real.openings, real.root, |_, _, _| {}).failed();
        assert_eq!(f, BTreeSet::from([ROOTS, VALUES]));
        // ... or opened at another window (the tag of another height).
        let other_window = OpeningLink {
            window_tag: LINK.window_tag + 1,
            ..LINK
        };
        let air = MmcsOpeningAir::new(&DIMS, other_window, &ones()).unwrap();
        let f = batch_for(air, &real, &real.openings, real.root, |_, _, _| {}).failed();
        assert_eq!(f, BTreeSet::from([INDEX]));
    }

    fn commit_row(m: &mut RowMajorMatrix<F>, r: usize) -> &mut CommitmentCols<F> {
        m.values[r * COMMIT_WIDTH..(r + 1) * COMMIT_WIDTH].borrow_mut()
    }

    #[test]
    fn the_commitment_rows_are_the_verifiers() {
        // The root observed at another position, or sent to fewer openings: the mirrors of the
        // periodic schedule are constraints of the commitment AIR (instance 2).
        let f = honest(|_, _, c| commit_row(c, 0).position += F::ONE).failed();
        assert!(f.iter().any(|x| matches!(x, Failed::Other(_))), "{f:?}");
        let f = honest(|_, _, c| commit_row(c, 0).uses -= F::ONE).failed();
        assert!(f.iter().any(|x| matches!(x, Failed::Other(_))), "{f:?}");
        // The root under another transcript's number: neither observed nor the openings' root.
        let f = honest(|_, _, c| commit_row(c, 0).transcript += F::ONE).failed();
        assert!(f.is_superset(&BTreeSet::from([OBSERVE, ROOTS])), "{f:?}");
        // The block marked inactive sends nothing; a padding block marked active sends a root
        // nobody asked for.
        let f = honest(|_, _, c| {
            for r in 0..commitment_air().period() {
                commit_row(c, r).active = F::ZERO;
            }
        })
        .failed();
        assert_eq!(f, BTreeSet::from([OBSERVE, ROOTS]));
        let f = honest(|_, _, c| commit_row(c, INDICES.len()).active = F::ONE).failed();
        assert_eq!(f, BTreeSet::from([OBSERVE, ROOTS]));
        assert!(CommitmentAir::new(&[]).is_err());
        let c = |position, uses| Commitment { position, uses };
        assert!(CommitmentAir::new(&[c(10, 1), c(14, 1)]).is_err());
        assert!(CommitmentAir::new(&[c(10, 1), c(0, 1)]).is_err());
        assert!(CommitmentAir::new(&[c(10, 0)]).is_err());
        assert!(CommitmentAir::new(&[c(10, 1), c(19, 256)]).is_ok());
        assert!(CommitmentAir::new(&[c(10, 257)]).is_err());
    }

    #[test]
    fn only_the_schedules_rows_receive_a_permutation() {
        let air = MmcsOpeningAir::new(&DIMS, LINK, &ones()).unwrap();
        let steps = air.scheduled_rows();
        assert!(steps < air.block_len(), "idle rows after the root");
        // A scheduled row claimed idle: its permutation is left in the table; an idle row
        // claimed scheduled: it asks for one the table does not count. Each also breaks the
        // mirror of the schedule.
        for (r, v) in [(2, F::ZERO), (steps, F::ONE)] {
            honest(|m, _, _| row_of(m, r).scheduled = v)
                .caught(|f| has_constraint(f) && f.contains(&PERMS));
        }
        // An idle row's output is no permutation's, and nothing reads it.
        let f = edited(|m, _| {
            row_of(m, steps).output[0] += F::ONE;
            row_of(m, steps + 1).prev[0] += F::ONE;
        });
        assert_eq!(f, BTreeSet::new());
    }

    #[test]
    fn an_inactive_block_sends_nothing_and_a_padding_block_cannot_send() {
        let period = MmcsOpeningAir::new(&DIMS, LINK, &ones())
            .unwrap()
            .block_len();
        let set_active = |m: &mut RowMajorMatrix<F>, block: usize, v: F| {
            for r in block * period..(block + 1) * period {
                let row: &mut MmcsOpeningCols<F> =
                    m.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
                row.active = v;
            }
        };
        // The table sends the permutations of the blocks the generator made active, and an
        // active block's scheduled rows receive them: flipping a block flips both.
        let all = BTreeSet::from([ROOTS, INDEX, VALUES, PERMS]);
        let f = honest(|m, _, _| set_active(m, 1, F::ZERO)).failed();
        assert_eq!(f, all);
        let f = honest(|m, _, _| set_active(m, 4, F::ONE)).failed();
        assert_eq!(f, all);
        // Half a block active: the constancy of `active` down the block.
        let f = honest(|m, _, _| row_of(m, period + 3).active = F::ZERO).failed();
        assert!(has_constraint(&f), "{f:?}");
    }

    /// Failures of the honest batch after `edit` changed its opening and permutation traces.
    fn edited(
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> BTreeSet<Failed> {
        honest(|m, p, _| edit(m, p)).failed()
    }

    fn row_of(m: &mut RowMajorMatrix<F>, r: usize) -> &mut MmcsOpeningCols<F> {
        m.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut()
    }

    /// Re-proves row `r`'s permutation in the table after its input changed, so that only this
    /// AIR's constraints can object.
    fn repermute(m: &mut RowMajorMatrix<F>, p: &mut RowMajorMatrix<F>, r: usize) {
        let input = row_of(m, r).input;
        let out = PermFiller::shared24().fill(
            &mut p.values[r * TABLE_WIDTH..r * TABLE_WIDTH + PERM24_COLS],
            input,
        );
        row_of(m, r).output = out;
        if (r + 1) * WIDTH < m.values.len() {
            row_of(m, r + 1).prev = out;
        }
    }

    #[test]
    fn each_input_rule_is_a_constraint() {
        // Schedule rows (block 0): 0-1 absorb, 2-3 node, 4 absorb, 5 inject, 6 node, 7-9 absorb,
        // 10 inject, 11-13 node (13 the root row), 14-15 idle.
        // A node row hashing another node (and the permutation of that input).
        let f = edited(|m, p| {
            row_of(m, 3).node[0] += F::ONE;
            row_of(m, 3).input[0] += F::ONE;
            row_of(m, 3).input[9] += F::ONE;
            repermute(m, p, 3);
        });
        assert!(has_constraint(&f), "{f:?}");
        // A later absorb row not carrying the sponge's capacity.
        let f = edited(|m, p| {
            row_of(m, 1).input[20] += F::ONE;
            repermute(m, p, 1);
        });
        assert!(has_constraint(&f), "{f:?}");
        // A later absorb row whose uncovered rate position is not the carried state.
        let f = edited(|m, p| {
            row_of(m, 1).input[10] += F::ONE;
            repermute(m, p, 1);
        });
        assert!(has_constraint(&f), "{f:?}");
        // An inject row compressing another group digest.
        let f = edited(|m, p| {
            row_of(m, 5).input[9] += F::ONE;
            repermute(m, p, 5);
        });
        assert!(has_constraint(&f), "{f:?}");
        // A chunk with a value past its length (row 9 absorbs one value).
        let f = edited(|m, _| row_of(m, 9).chunk[3] = F::ONE);
        assert!(has_constraint(&f), "{f:?}");
        // A bit flipped alone, and a bit on a row that is not a node.
        let f = edited(|m, _| {
            let b = row_of(m, 6).bit;
            row_of(m, 6).bit = F::ONE - b;
        });
        assert!(has_constraint(&f), "{f:?}");
        let f = edited(|m, _| row_of(m, 4).bit = F::ONE);
        assert!(has_constraint(&f), "{f:?}");
        // `prev` not the previous row's output.
        let f = edited(|m, _| row_of(m, 7).prev[2] += F::ONE);
        assert!(only_constraints(&f), "{f:?}");
        // An index, a transcript or a query not constant down the block.
        let f = edited(|m, _| row_of(m, 8).index += F::ONE);
        assert!(only_constraints(&f), "{f:?}");
        let f = edited(|m, _| row_of(m, 8).transcript += F::ONE);
        assert!(has_constraint(&f), "{f:?}");
        let f = edited(|m, _| row_of(m, 13).query += F::ONE);
        assert!(has_constraint(&f), "{f:?}");
    }

    #[test]
    fn an_output_the_permutation_did_not_produce_fails_the_permutation_bus() {
        let f = edited(|m, _| {
            row_of(m, 12).output[20] += F::ONE;
            row_of(m, 13).prev[20] += F::ONE;
        });
        assert_eq!(f, BTreeSet::from([PERMS]));
    }

    /// A second commitment beside [`LINK`]'s, of the same shape, for the merged AIR.
    const LINK_B: OpeningLink = OpeningLink {
        root_position: 29,
        window_tag: 4,
    };

    /// Two commitments in one AIR (`real_openings` of seeds 0 and 1, at [`LINK`] and
    /// [`LINK_B`]), one block holding the three queries' openings of each (query after query),
    /// edited by `forge` before the traces are made; the receivers ask for both commitments'
    /// roots, windows and values.
    fn merged_batch(forge: impl FnOnce(&mut Vec<MerkleOpening>)) -> Batch {
        let (mut a, mut b) = (real_openings(&INDICES, 0), real_openings(&INDICES, 1));
        // One block: every opening of one transcript.
        for o in a.openings.iter_mut().chain(&mut b.openings) {
            o.transcript = TRANSCRIPT;
        }
        let air = MmcsOpeningAir::merged(
            &[(&DIMS, LINK, &ones()), (&DIMS, LINK_B, &ones())],
            INDICES.len(),
        )
        .unwrap()
        .numbered_from(TRANSCRIPT);
        let mut openings: Vec<MerkleOpening> = a
            .openings
            .iter()
            .zip(&b.openings)
            .flat_map(|(x, y)| [x.clone(), y.clone()])
            .collect();
        forge(&mut openings);
        let (trace, perm, _) = air.generate_traces(&openings, MIN_HEIGHT);
        let commit = CommitmentAir::new(&[
            Commitment {
                position: LINK.root_position,
                uses: INDICES.len(),
            },
            Commitment {
                position: LINK_B.root_position,
                uses: INDICES.len(),
            },
        ])
        .unwrap()
        .numbered_from(TRANSCRIPT);
        let ct = commit.generate_trace(&[(TRANSCRIPT, vec![a.root, b.root])], MIN_HEIGHT);
        let (asks_a, asks_b) = (asks_at(&a, LINK), asks_at(&b, LINK_B));
        let both = |x: &[Vec<F>], y: &[Vec<F>]| [x, y].concat();
        let asks = Asks {
            observed: both(&asks_a.observed, &asks_b.observed),
            windows: both(&asks_a.windows, &asks_b.windows),
            chunks: both(&asks_a.chunks, &asks_b.chunks),
        };
        batch_of(air, trace, perm, commit, ct, &asks)
    }

    #[test]
    fn one_air_checks_the_openings_of_several_commitments() {
        let both = [
            (&DIMS[..], LINK, &ones()[..]),
            (&DIMS[..], LINK_B, &ones()[..]),
        ];
        let air = MmcsOpeningAir::merged(&both, INDICES.len()).unwrap();
        let one = MmcsOpeningAir::new(&DIMS, LINK, &ones()).unwrap();
        let rows = INDICES.len() * 2 * one.scheduled_rows();
        assert_eq!(air.scheduled_rows(), rows);
        assert_eq!(air.block_len(), rows.next_power_of_two());
        assert_eq!(air.links(), [LINK, LINK_B]);
        assert!(MmcsOpeningAir::merged(&[], 1).is_err());
        assert!(MmcsOpeningAir::merged(&both, 0).is_err());
        let twice = [
            (&DIMS[..], LINK, &ones()[..]),
            (&DIMS[..], LINK, &ones()[..]),
        ];
        assert!(MmcsOpeningAir::merged(&twice, 1).is_err());
        let b = merged_batch(|_| {});
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
        // The two commitments' openings of a query swapped: each is checked against the other
        // commitment's root, and its values are sent under the other's root position.
        merged_batch(|o| o.swap(2, 3)).caught(|f| f == &BTreeSet::from([ROOTS, VALUES]));
        // The second commitment opened at another query's index (its own siblings and values):
        // the window it receives is not the one sampled for this query.
        merged_batch(|o| {
            let other = o[5].clone();
            o[3].index = other.index;
            o[3].rows = other.rows;
            o[3].siblings = other.siblings;
        })
        .caught(|f| f.contains(&INDEX));
    }

    #[test]
    fn forged_traces_do_not_verify() {
        let real = real_openings(&INDICES, 0);
        let mut o = real.openings.clone();
        o[0].siblings[5][8] += F::ONE;
        let b = batch(&real, &o, real.root, |_, _, _| {});
        assert_eq!(
            b.prove_and_verify().unwrap_err(),
            "Lookup(TerminalSumNonZero)"
        );
        let b = honest(|m, _, _| row_of(m, 8).index += F::ONE);
        assert_eq!(
            b.prove_and_verify().unwrap_err(),
            "Verification(OodEvaluationMismatch { index: Some(0) })"
        );
    }
}
