//! `DeepQuotientAir`: the reduced openings of FRI's input, Plonky3 0.8 `open_inputs`: per query,
//! the DEEP quotients of every opened trace row, batched by `alpha` into one value per LDE
//! height, which becomes the first round's folded value (the tallest height) or a roll-in.
//!
//! **What the native verifier computes.** For a query at index `i` of the tallest LDE (log
//! height `k`), a matrix of log LDE height `h` is opened at row `i >> (k - h)`, a point
//! `x = g * w_h^reverse_bits(i >> (k - h), h)` (`g` the field's generator, `w_h` of order
//! `2^h`). Within each height, a ladder of powers of `alpha` walks the opened columns in
//! (commitment, matrix, point, column) order, and
//!
//! ```text
//! ro_h = sum over the (matrix, point z) of height h of
//!        sum_c alpha^(off + c) * (p_c(z) - p_c(x)) / (z - x)
//! ```
//!
//! where `off` is the ladder position at which that matrix and point start. A matrix is opened
//! at `zeta` and, when its AIR reads the next row, at `zeta * w_(h - log_blowup)`; with the
//! matrix's width `w`, the second point starts at `off + w`. A height equal to the blowup (a
//! one-row trace) must reduce to zero.
//!
//! **How a row computes it.** Write, for matrix `m` and the query's opened row `p(x)`,
//! `S_m = sum_c alpha^c p_c(x)`. Then matrix `m`'s part is
//!
//! ```text
//! d0 * (M0_m - mu0_m * S_m) + d1 * (M1_m - mu1_m * S_m),   d0 = 1 / (zeta - x),
//!                                                          d1 = 1 / (zeta_next - x),
//! ```
//!
//! with `mu0 = alpha^off`, `M0 = sum_c alpha^(off + c) p_c(zeta)`, `mu1 = alpha^(off + w)`,
//! `M1 = sum_c alpha^(off + w + c) p_c(zeta_next)` (zero for a matrix opened at `zeta` only):
//! the same for every query, so they arrive once per row that ends a matrix on
//! `"deep-matrix"`, computed from the claimed values ([`matrix_claims`] is the native
//! reference). A row holds [`CHUNK`] opened values of one matrix; the chunks of a matrix run
//! from its last to its first, Horner's rule in `alpha^CHUNK`:
//! `S = S_before * alpha^CHUNK + sum_j alpha^j v_j`, so after chunk 0, `S = S_m`. The row that
//! ends a matrix adds its part to the height's running sum (the inverses `d0`, `d1` are held to
//! zero on every other row, so no other row adds anything); the row that ends a height sends it.
//!
//! **What a row receives and sends** (`transcript` and `query` as on the FRI buses):
//! - `alpha` and `zeta`, coordinate by coordinate, from `"transcript-sample"` on a block's first
//!   row; they are then held constant down the block;
//! - the opened values from the Merkle opening of the matrix's commitment at that query, on
//!   `"merkle-values"` ([`super::merkle::MmcsOpeningAir`] sends them): the opening's sponge
//!   chunk of 15 values holding the row's first value, `(transcript, query, root position,
//!   offset, chunk (15))`, and the next chunk too when the row's values run into it (a matrix's
//!   columns start anywhere in the chunks, and a chunk of 8 can straddle two). The row's
//!   `values[k]` is the pair's element `shift + k`, `shift` the first value's place in its chunk:
//!   the offsets, the shift and whether a second chunk is read are the verifier's (periodic),
//!   from the commitment's layout ([`super::merkle::OpeningShape::layout`]); `values` is zero
//!   past the matrix's width (a constraint);
//! - on the row that ends a matrix: `(transcript, matrix, mu0, M0, mu1, M1)` from
//!   `"deep-matrix"`, and the query's window `(transcript, query, tag, i >> (k - h), x)` from
//!   `"query-index"` ([`super::bits::SampledBitsAir`]'s window `[k - h, k)` with point
//!   `g * w_h^reverse_bits`);
//! - on the row that ends a height: `ro_h` to `"fri-fold"` as round 0's value (the tallest
//!   height) or to `"fri-roll-in"` at the round the schedule names, or, for the blowup's height,
//!   a constraint that it is zero.
//!
//! `d0 * (zeta - x) = 1` has no solution when `x = zeta`, where the native verifier returns
//! `OpeningPointMatchesQueryPoint`: such a child cannot be verified in the AIR either.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::{Field, PrimeCharacteristicRing, TwoAdicField};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;
use p3_util::reverse_bits_len;

use super::bits::QUERY_INDEX_BUS;
use super::duplex::TRANSCRIPT_SAMPLE_BUS;
use super::ext::{self, D};
use super::fold::{FRI_FOLD_BUS, FRI_ROLL_IN_BUS};
use super::merkle::{OpeningShape, Step, MERKLE_VALUES_BUS};
use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::POSEIDON1_RATE;
use crate::xmss::F;

/// Bus of per-matrix ladder terms `(transcript, matrix, mu0[5], M0[5], mu1[5], M1[5])`.
pub const DEEP_MATRIX_BUS: &str = "deep-matrix";

/// Opened values per row.
pub const CHUNK: usize = 8;

/// Values per chunk of a Merkle opening (the sponge's rate).
const RATE: usize = POSEIDON1_RATE;

/// Width of a message on [`DEEP_MATRIX_BUS`].
pub const MATRIX_WIDTH: usize = 2 + 4 * D;

/// One opened matrix as the verifier schedules it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeepMatrix {
    /// The matrix's number on the buses (unique within a transcript).
    pub id: usize,
    /// Its width (base-field columns, at least 1).
    pub width: usize,
    /// Opened at `zeta_next` as well as `zeta`.
    pub two_points: bool,
    /// Transcript position of its commitment's root: the key of that commitment's openings
    /// on `"merkle-values"`.
    pub root_position: usize,
    /// Where its height group and its own values start in an opening of its commitment
    /// ([`OpeningShape::layout`]).
    pub group_start: usize,
    /// Position of its own first value in that opening (at or after `group_start`).
    pub offset: usize,
}

/// Where a row's values sit in its commitment's opening: the offset of the Merkle chunk
/// holding the first value, the first value's place in it, and whether the values run into the
/// next chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Source {
    offset: usize,
    shift: usize,
    two: bool,
}

impl DeepMatrix {
    fn chunks(&self) -> usize {
        self.width.div_ceil(CHUNK).max(1)
    }

    /// The source of chunk `c`'s values.
    fn source(&self, c: usize) -> Source {
        let first = self.offset + c * CHUNK;
        let len = CHUNK.min(self.width - c * CHUNK);
        let shift = (first - self.group_start) % RATE;
        Source {
            offset: first - shift,
            shift,
            two: shift + len > RATE,
        }
    }
}

/// Where a height's reduced opening goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Round 0's folded value (the tallest height).
    Fold,
    /// A roll-in at this round.
    RollIn(usize),
    /// The blowup's height (a one-row trace): it must be zero.
    Zero,
}

/// One LDE height: its matrices in ladder order (commitment, then matrix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeepHeight {
    /// Log of the LDE height.
    pub log_height: usize,
    /// Tag of the query window `[k - log_height, k)` on `"query-index"`.
    pub x_tag: usize,
    /// The matrices, in ladder order.
    pub matrices: Vec<DeepMatrix>,
    /// Where the reduced opening goes.
    pub sink: Sink,
}

/// The DEEP schedule of one transcript: queries, challenge positions, heights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeepShape {
    queries: Vec<usize>,
    alpha_positions: [usize; D],
    zeta_positions: [usize; D],
    log_blowup: usize,
    log_max_height: usize,
    heights: Vec<DeepHeight>,
}

impl DeepShape {
    /// `queries`: the positions of the queries' index samples; `alpha_positions` and
    /// `zeta_positions`: the transcript positions of the challenges' coordinates (coefficient 0
    /// first); `heights` in decreasing order, the first of log height `log_max_height`.
    ///
    /// # Panics
    /// If the heights are not strictly decreasing from `log_max_height`, a height is below the
    /// blowup or has no matrix, or a matrix has width 0 (a verifier's schedule, so a bug).
    pub fn new(
        queries: Vec<usize>,
        alpha_positions: [usize; D],
        zeta_positions: [usize; D],
        log_blowup: usize,
        heights: Vec<DeepHeight>,
    ) -> Self {
        let log_max_height = heights.first().map_or(log_blowup, |h| h.log_height);
        for w in heights.windows(2) {
            assert!(w[0].log_height > w[1].log_height, "decreasing heights");
        }
        for h in &heights {
            assert!(h.log_height >= log_blowup, "a height below the blowup");
            assert!(!h.matrices.is_empty(), "a height without matrices");
            assert!(
                h.matrices.iter().all(|m| m.width > 0),
                "a matrix of width 0"
            );
            assert!(
                h.matrices.iter().all(|m| m.group_start <= m.offset),
                "a matrix before its group"
            );
        }
        Self {
            queries,
            alpha_positions,
            zeta_positions,
            log_blowup,
            log_max_height,
            heights,
        }
    }

    /// Every row of a block in order: query by query, height by height, matrix by matrix, the
    /// chunks from last to first.
    fn rows(&self) -> Vec<DeepRow> {
        let mut rows = Vec::new();
        for q in 0..self.queries.len() {
            let mut matrix = 0;
            for (height, h) in self.heights.iter().enumerate() {
                for within in 0..h.matrices.len() {
                    let chunks = h.matrices[within].chunks();
                    for chunk in (0..chunks).rev() {
                        rows.push(DeepRow {
                            query: q,
                            height,
                            within,
                            matrix,
                            chunk,
                        });
                    }
                    matrix += 1;
                }
            }
        }
        rows
    }

    /// Rows of one query.
    fn rows_per_query(&self) -> usize {
        self.heights
            .iter()
            .flat_map(|h| &h.matrices)
            .map(DeepMatrix::chunks)
            .sum()
    }

    /// Rows of one transcript's block: queries times rows per query, rounded up to a power of
    /// two (at least 2).
    pub fn block_len(&self) -> usize {
        (self.queries.len() * self.rows_per_query())
            .max(2)
            .next_power_of_two()
    }

    /// The matrices, in shape order (height by height).
    pub fn matrices(&self) -> impl Iterator<Item = (&DeepHeight, &DeepMatrix)> {
        self.heights
            .iter()
            .flat_map(|h| h.matrices.iter().map(move |m| (h, m)))
    }

    /// The heights.
    pub fn heights(&self) -> &[DeepHeight] {
        &self.heights
    }

    /// How many rows of one query read each chunk of an opening of the commitment whose root
    /// is at `root_position`, of shape `opening` (absorb order): the `readers` of its
    /// [`super::merkle::MmcsOpeningAir`].
    ///
    /// # Panics
    /// If a row of this shape reads a chunk `opening` does not have (the two schedules disagree:
    /// a bug).
    pub fn readers(&self, root_position: usize, opening: &OpeningShape) -> Vec<u32> {
        let offsets: Vec<usize> = opening
            .schedule()
            .into_iter()
            .filter_map(|s| match s {
                Step::Absorb { offset, .. } => Some(offset),
                _ => None,
            })
            .collect();
        let mut readers = vec![0; offsets.len()];
        let mut read = |offset: usize| {
            let c = offsets
                .iter()
                .position(|&o| o == offset)
                .expect("a chunk of the opening");
            readers[c] += 1;
        };
        for (_, m) in self.matrices() {
            if m.root_position != root_position {
                continue;
            }
            for c in 0..m.chunks() {
                let s = m.source(c);
                read(s.offset);
                if s.two {
                    read(s.offset + RATE);
                }
            }
        }
        readers
    }

    /// Query `q`'s opening of each commitment, from its opened rows (`rows[m]`, shape order):
    /// `(root position, values in absorb order)`.
    fn openings(&self, rows: &[Vec<F>]) -> Vec<(usize, Vec<F>)> {
        let mut out: Vec<(usize, Vec<F>)> = Vec::new();
        for ((_, m), row) in self.matrices().zip(rows) {
            let at = match out.iter().position(|(r, _)| *r == m.root_position) {
                Some(at) => at,
                None => {
                    out.push((m.root_position, Vec::new()));
                    out.len() - 1
                }
            };
            let values = &mut out[at].1;
            if values.len() < m.offset + m.width {
                values.resize(m.offset + m.width, F::ZERO);
            }
            values[m.offset..m.offset + m.width].copy_from_slice(row);
        }
        out
    }

    /// The end of the group starting at `group_start` in the commitment at `root_position`.
    fn group_end(&self, root_position: usize, group_start: usize) -> usize {
        self.matrices()
            .filter(|(_, m)| m.root_position == root_position && m.group_start == group_start)
            .map(|(_, m)| m.offset + m.width)
            .max()
            .unwrap_or(group_start)
    }

    /// The transcript positions of `alpha`'s coordinates.
    pub fn alpha_positions(&self) -> [usize; D] {
        self.alpha_positions
    }

    /// The query positions.
    pub fn queries(&self) -> &[usize] {
        &self.queries
    }

    /// The window of `index` (a query's index into the tallest LDE) at log height `h`, and its
    /// point `g * w_h^reverse_bits(window, h)`: what `"query-index"` carries.
    pub fn window(&self, index: usize, h: usize) -> (usize, F) {
        let w = index >> (self.log_max_height - h);
        let x = F::GENERATOR * F::two_adic_generator(h).exp_u64(reverse_bits_len(w, h) as u64);
        (w, x)
    }
}

/// Where a row of a block is: the query's number (not its position), the height's, the
/// matrix's within its height and in shape order, and the chunk.
#[derive(Clone, Copy, Debug)]
struct DeepRow {
    query: usize,
    height: usize,
    within: usize,
    matrix: usize,
    chunk: usize,
}

/// The periodic columns (period [`DeepShape::block_len`]).
#[repr(C)]
pub struct DeepPeriodic<T> {
    /// The next row is in the same block.
    pub in_block: T,
    /// 1 on a block's first row.
    pub block_start: T,
    /// 1 on a row of a query (0 on the block's padding rows).
    pub present: T,
    /// Transcript position of the row's query-index sample (0 on padding rows).
    pub query: T,
    /// The row's matrix number ([`DeepMatrix::id`]).
    pub matrix: T,
    /// Tag of the height's query window on `"query-index"` ([`DeepHeight::x_tag`]).
    pub x_tag: T,
    /// The source of the values: the commitment's root position, the offset of the Merkle
    /// chunk holding the first value, 1 when the next chunk is read too.
    pub root_position: T,
    /// Offset of the Merkle chunk holding the row's first value.
    pub source: T,
    /// 1 when the row's values run into the next chunk.
    pub two: T,
    /// One-hot: the first value's place in its Merkle chunk.
    pub shift: [T; RATE],
    /// The row is the matrix's last chunk, where Horner's rule starts.
    pub first: T,
    /// The row is the matrix's chunk 0, where its part is added.
    pub end: T,
    /// `end` on a matrix opened at two points.
    pub end2: T,
    /// The row starts a height (the running sum starts at zero).
    pub height_start: T,
    /// The row sends the height's sum to `"fri-fold"` / `"fri-roll-in"`, or holds it to zero.
    pub fold: T,
    /// 1 on the row that sends the height's sum to `"fri-roll-in"`.
    pub roll: T,
    /// The FRI round of that roll-in (0 on every other row).
    pub round: T,
    /// 1 on the row ending the blowup's height, whose sum is held to zero.
    pub zero: T,
    /// `w_(h - log_blowup)`: `zeta_next = zeta * omega`.
    pub omega: T,
    /// Transcript positions of `alpha`'s coordinates (coefficient 0 first).
    pub alpha_positions: [T; D],
    /// Transcript positions of `zeta`'s coordinates (coefficient 0 first).
    pub zeta_positions: [T; D],
    /// 1 where the chunk has a column of the matrix.
    pub mask: [T; CHUNK],
}

/// The columns of one row, viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct DeepCols<T> {
    /// The transcript's number (constant down a block).
    pub transcript: T,
    /// 1 in a block that sends and receives (constant down a block).
    pub active: T,
    /// Mirrors of the periodic columns (bus messages read no periodic column).
    pub block_start: T,
    /// 1 on a row of a query: the first Merkle chunk is received.
    pub present: T,
    /// Transcript position of the query's index sample: its key on `"merkle-values"`,
    /// `"query-index"` and the FRI buses.
    pub query: T,
    /// The matrix's number, its key on `"deep-matrix"`.
    pub matrix: T,
    /// Tag of the query window read on `"query-index"`.
    pub x_tag: T,
    /// Transcript position of the commitment's root, a key on `"merkle-values"`.
    pub root_position: T,
    /// Offset of the first Merkle chunk read, a key on `"merkle-values"`.
    pub source: T,
    /// 1 when the next Merkle chunk is received too.
    pub two: T,
    /// 1 on the matrix's chunk 0: `"deep-matrix"` and `"query-index"` are received.
    pub end: T,
    /// 1 where the height's sum is sent to `"fri-fold"`.
    pub fold: T,
    /// 1 where the height's sum is sent to `"fri-roll-in"`.
    pub roll: T,
    /// The roll-in's FRI round (0 elsewhere), in the FRI buses' messages.
    pub round: T,
    /// Transcript positions of `alpha`'s coordinates: its keys on `"transcript-sample"`.
    pub alpha_positions: [T; D],
    /// Transcript positions of `zeta`'s coordinates: its keys on `"transcript-sample"`.
    pub zeta_positions: [T; D],
    /// The Merkle chunks read: the one at `source` and the next (zero when not read).
    pub opened: [[T; RATE]; 2],
    /// The opened values of this chunk: `opened`'s elements from `shift` on.
    pub values: [T; CHUNK],
    /// The challenges (constant down a block).
    pub alpha: [T; D],
    /// `zeta`, the out-of-domain point: D coordinates.
    pub zeta: [T; D],
    /// `alpha^2 ..= alpha^CHUNK`.
    pub powers: [[T; D]; CHUNK - 1],
    /// The previous row's `s`.
    pub s_in: [T; D],
    /// Horner's sum so far over the matrix's chunks.
    pub s: [T; D],
    /// The matrix's ladder terms (on its `end` row).
    pub mu0: [T; D],
    /// `M0 = sum_c alpha^(off + c) p_c(zeta)`.
    pub m0: [T; D],
    /// `mu1 = alpha^(off + w)` (zero for a matrix opened at `zeta` only).
    pub mu1: [T; D],
    /// `M1 = sum_c alpha^(off + w + c) p_c(zeta_next)` (zero for a matrix opened at `zeta`
    /// only).
    pub m1: [T; D],
    /// The query's window at this height and its point `x`.
    pub index: T,
    /// The point `x = g * w_h^reverse_bits(index, h)` (base field), read on `end` rows.
    pub x: T,
    /// `zeta * omega`.
    pub zeta_next: [T; D],
    /// `1 / (zeta - x)` and `1 / (zeta_next - x)` (on `end` rows).
    pub d0: [T; D],
    /// `1 / (zeta_next - x)` on `end` rows of a matrix opened at two points, else zero.
    pub d1: [T; D],
    /// The previous row's `ro`.
    pub ro_in: [T; D],
    /// The height's running sum.
    pub ro: [T; D],
}

crate::aggregate::air::row_view!(DeepCols);
crate::aggregate::air::row_view!(DeepPeriodic);

/// Width of [`DeepQuotientAir`].
pub const WIDTH: usize = core::mem::size_of::<DeepCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<DeepPeriodic<u8>>();

/// A matrix's ladder terms `[mu0, M0, mu1, M1]`.
pub type MatrixTerms = [Challenge; 4];

/// The claimed values of one matrix: at `zeta`, and at `zeta_next` for a matrix opened there.
#[derive(Clone, Debug)]
pub struct MatrixClaim {
    /// Its values at `zeta`, one per column.
    pub at_zeta: Vec<Challenge>,
    /// Its values at `zeta_next`, one per column; `None` when opened at `zeta` only.
    pub at_zeta_next: Option<Vec<Challenge>>,
}

/// The ladder terms of every matrix of `shape` (shape order) from `alpha` and the claims
/// (shape order), as Plonky3's `open_inputs` walks its ladder: per height, (commitment,
/// matrix, point, column).
///
/// # Panics
/// If a claim's width or point count is not its matrix's.
pub fn matrix_claims(
    shape: &DeepShape,
    alpha: Challenge,
    claims: &[MatrixClaim],
) -> Vec<MatrixTerms> {
    let mut out = Vec::new();
    let mut claims = claims.iter();
    for h in &shape.heights {
        let mut off = 0u64;
        for m in &h.matrices {
            let c = claims.next().expect("a claim per matrix");
            assert_eq!(c.at_zeta.len(), m.width, "claim width");
            assert_eq!(c.at_zeta_next.is_some(), m.two_points, "claim points");
            let combine = |off: u64, vs: &[Challenge]| -> (Challenge, Challenge) {
                let mu = alpha.exp_u64(off);
                let sum = alpha
                    .powers()
                    .zip(vs)
                    .map(|(a, &v)| a * v)
                    .sum::<Challenge>();
                (mu, mu * sum)
            };
            let (mu0, m0) = combine(off, &c.at_zeta);
            off += m.width as u64;
            let (mu1, m1) = match &c.at_zeta_next {
                Some(vs) => {
                    assert_eq!(vs.len(), m.width, "claim width");
                    let t = combine(off, vs);
                    off += m.width as u64;
                    t
                }
                None => (Challenge::ZERO, Challenge::ZERO),
            };
            out.push([mu0, m0, mu1, m1]);
        }
    }
    out
}

/// One transcript's witness: what the native verifier reads.
#[derive(Clone, Debug)]
pub struct DeepInput {
    /// The opening-batching challenge `alpha`.
    pub alpha: Challenge,
    /// The out-of-domain point `zeta`.
    pub zeta: Challenge,
    /// Each query's index into the tallest LDE.
    pub indices: Vec<usize>,
    /// `rows[q][m]`: query `q`'s opened row of matrix `m` (shape order).
    pub rows: Vec<Vec<Vec<F>>>,
    /// The matrices' ladder terms (shape order, [`matrix_claims`]).
    pub terms: Vec<MatrixTerms>,
}

/// A message `(transcript, query, round, value[5])` on `"fri-fold"` or `"fri-roll-in"`.
pub type RoMessage = [F; 3 + D];

/// What a trace sends: reduced openings to the first fold, and roll-ins.
#[derive(Clone, Debug, Default)]
pub struct DeepSent {
    /// Each query's round-0 value (the tallest height's reduced opening), to `"fri-fold"`.
    pub folds: Vec<RoMessage>,
    /// Each query's reduced openings of the other heights, to `"fri-roll-in"` at their
    /// rounds.
    pub roll_ins: Vec<RoMessage>,
}

/// The AIR computing the reduced openings of transcripts of one [`DeepShape`].
#[derive(Clone, Debug)]
pub struct DeepQuotientAir {
    shape: DeepShape,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(DeepQuotientAir);

impl DeepQuotientAir {
    /// The AIR for `shape`.
    pub fn new(shape: DeepShape) -> Self {
        let period = shape.block_len();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        for (r, at) in shape.rows().into_iter().enumerate() {
            let h = &shape.heights[at.height];
            let m = &h.matrices[at.within];
            let (c, n) = (at.chunk, m.chunks());
            let p: &mut DeepPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.present = F::ONE;
            p.query = F::from_usize(shape.queries[at.query]);
            p.matrix = F::from_usize(m.id);
            p.x_tag = F::from_usize(h.x_tag);
            let source = m.source(c);
            p.root_position = F::from_usize(m.root_position);
            p.source = F::from_usize(source.offset);
            p.two = F::from_bool(source.two);
            p.shift[source.shift] = F::ONE;
            p.first = F::from_bool(c == n - 1);
            p.end = F::from_bool(c == 0);
            p.end2 = F::from_bool(c == 0 && m.two_points);
            p.height_start = F::from_bool(at.within == 0 && c == n - 1);
            if c == 0 && at.within + 1 == h.matrices.len() {
                match h.sink {
                    Sink::Fold => p.fold = F::ONE,
                    Sink::RollIn(round) => {
                        p.roll = F::ONE;
                        p.round = F::from_usize(round);
                    }
                    Sink::Zero => p.zero = F::ONE,
                }
            }
            p.omega = F::two_adic_generator(h.log_height - shape.log_blowup);
            for (k, mask) in p.mask.iter_mut().enumerate() {
                *mask = F::from_bool(c * CHUNK + k < m.width);
            }
        }
        for r in 0..period {
            let p: &mut DeepPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.in_block = F::from_bool(r + 1 < period);
            p.block_start = F::from_bool(r == 0);
            p.alpha_positions = shape.alpha_positions.map(F::from_usize);
            p.zeta_positions = shape.zeta_positions.map(F::from_usize);
        }
        Self {
            shape,
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &DeepShape {
        &self.shape
    }

    /// The periodic row `r`.
    pub fn periodic_row(&self, r: usize) -> Vec<F> {
        self.periodic.iter().map(|c| c[r % c.len()]).collect()
    }

    /// Fills row `row` of a block from the periodic row `p`, the previous row's `s` and `ro`,
    /// the challenges, the Merkle chunks read (`opened`) and the `values` taken from them
    /// ([`DeepQuotientAir::values_of`]), the matrix's `terms` and the query's window
    /// `(index, x)` (both read on `end` rows only): every derived column.
    #[allow(clippy::too_many_arguments)]
    pub fn fill_row(
        row: &mut DeepCols<F>,
        p: &DeepPeriodic<F>,
        prev: (Challenge, Challenge),
        (alpha, zeta): (Challenge, Challenge),
        (opened, values): (&[[F; RATE]; 2], &[F; CHUNK]),
        terms: &MatrixTerms,
        (index, x): (usize, F),
    ) {
        let to = ext::coords;
        row.block_start = p.block_start;
        row.present = p.present;
        row.query = p.query;
        row.matrix = p.matrix;
        row.x_tag = p.x_tag;
        row.root_position = p.root_position;
        row.source = p.source;
        row.two = p.two;
        row.opened = *opened;
        row.end = p.end;
        row.fold = p.fold;
        row.roll = p.roll;
        row.round = p.round;
        row.alpha_positions = p.alpha_positions;
        row.zeta_positions = p.zeta_positions;
        row.values = *values;
        row.alpha = to(alpha);
        row.zeta = to(zeta);
        let mut a = alpha;
        for pw in row.powers.iter_mut() {
            a *= alpha;
            *pw = to(a);
        }
        let (s_in, ro_in) = prev;
        row.s_in = to(s_in);
        row.ro_in = to(ro_in);
        let chunk_sum: Challenge = alpha.powers().zip(values).map(|(a, &v)| a * v).sum();
        let s = if p.first == F::ONE {
            chunk_sum
        } else {
            s_in * alpha.exp_u64(CHUNK as u64) + chunk_sum
        };
        row.s = to(s);
        let zeta_next = zeta * p.omega;
        row.zeta_next = to(zeta_next);
        let end = p.end == F::ONE;
        let end2 = p.end2 == F::ONE;
        let [mu0, m0, mu1, m1] = if end { *terms } else { [Challenge::ZERO; 4] };
        row.mu0 = to(mu0);
        row.m0 = to(m0);
        row.mu1 = to(mu1);
        row.m1 = to(m1);
        let (index, x) = if end { (index, x) } else { (0, F::ZERO) };
        row.index = F::from_usize(index);
        row.x = x;
        // `try_inverse`: a forged `x = zeta` leaves `d` zero, and the constraint fails.
        let inv = |z: Challenge| (z - x).try_inverse().unwrap_or(Challenge::ZERO);
        let d0 = if end { inv(zeta) } else { Challenge::ZERO };
        let d1 = if end2 {
            inv(zeta_next)
        } else {
            Challenge::ZERO
        };
        row.d0 = to(d0);
        row.d1 = to(d1);
        let base = if p.height_start == F::ONE {
            Challenge::ZERO
        } else {
            ro_in
        };
        let part = d0 * (m0 - mu0 * s) + d1 * (m1 - mu1 * s);
        row.ro = to(base + if end { part } else { Challenge::ZERO });
    }

    /// The trace of `inputs[t]` (transcript `t`'s block), then padding blocks up to a power of
    /// two and at least `min_height` rows; the reduced openings the active rows send.
    ///
    /// # Panics
    /// If an input does not have the shape's queries, matrices or widths.
    pub fn generate_trace(
        &self,
        inputs: &[DeepInput],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, DeepSent) {
        let period = self.shape.block_len();
        let height = (inputs.len() * period)
            .max(min_height)
            .max(period)
            .next_power_of_two();
        let mut trace = F::zero_vec(height * WIDTH);
        for (b, block) in trace.chunks_exact_mut(period * WIDTH).enumerate() {
            self.fill_block(block, b, inputs.get(b), &mut |_, _| (), &mut |_, _| ());
        }
        let trace = RowMajorMatrix::new(trace, WIDTH);
        let sent = Self::sent(&trace);
        (trace, sent)
    }

    /// Fills block `b` from `input` (a padding block when `None`). Before each row is filled,
    /// `hook` may change what it reads; after, `edit` may change the row, and the next row
    /// reads the edited sums: tests build forged blocks with them.
    fn fill_block(
        &self,
        block: &mut [F],
        b: usize,
        input: Option<&DeepInput>,
        hook: &mut dyn FnMut(usize, &mut RowReads),
        edit: &mut dyn FnMut(usize, &mut DeepCols<F>),
    ) {
        let shape = &self.shape;
        let layout = shape.rows();
        let periodic: Vec<Vec<F>> = (0..shape.block_len())
            .map(|r| self.periodic_row(r))
            .collect();
        let widths: Vec<usize> = shape.matrices().map(|(_, m)| m.width).collect();
        if let Some(input) = input {
            assert_eq!(input.indices.len(), shape.queries.len(), "indices");
            assert_eq!(input.rows.len(), shape.queries.len(), "rows");
            assert_eq!(input.terms.len(), widths.len(), "terms");
            for rows in &input.rows {
                let w: Vec<usize> = rows.iter().map(Vec::len).collect();
                assert_eq!(w, widths, "opened widths");
            }
        }
        let transcript = F::from_usize(self.first as usize + b);
        // A padding block's `zeta` is 1 and its points `x` are 0: its end rows' denominators
        // `zeta - x` and `zeta * omega - x` must be invertible for their constraints to hold
        // (with `zeta = 0` they were not, and a parent with a padding block of this AIR, three
        // children of one size for instance, did not verify).
        let challenges = input.map_or((Challenge::ZERO, Challenge::ONE), |i| (i.alpha, i.zeta));
        let matrices: Vec<&DeepMatrix> = shape.matrices().map(|(_, m)| m).collect();
        let group_ends: Vec<usize> = matrices
            .iter()
            .map(|m| shape.group_end(m.root_position, m.group_start))
            .collect();
        // The current query's openings, built once per query.
        let mut openings: (Option<usize>, Vec<(usize, Vec<F>)>) = (None, Vec::new());
        let mut prev = (Challenge::ZERO, Challenge::ZERO);
        for (r, (row, p)) in block.chunks_exact_mut(WIDTH).zip(&periodic).enumerate() {
            let p: &DeepPeriodic<F> = p.as_slice().borrow();
            let row: &mut DeepCols<F> = row.borrow_mut();
            row.transcript = transcript;
            row.active = F::from_bool(input.is_some());
            let mut reads = RowReads {
                opened: [[F::ZERO; RATE]; 2],
                values: None,
                terms: [Challenge::ZERO; 4],
                window: (0, F::ZERO),
            };
            if let (Some(input), Some(at)) = (input, layout.get(r)) {
                if openings.0 != Some(at.query) {
                    openings = (Some(at.query), shape.openings(&input.rows[at.query]));
                }
                let m = matrices[at.matrix];
                let source = m.source(at.chunk);
                let (_, values) = openings
                    .1
                    .iter()
                    .find(|(root, _)| *root == m.root_position)
                    .expect("the matrix's commitment");
                let end = group_ends[at.matrix];
                for (j, chunk) in reads.opened.iter_mut().enumerate() {
                    if j == 0 || source.two {
                        let from = source.offset + j * RATE;
                        for (i, v) in chunk.iter_mut().enumerate() {
                            if from + i < end {
                                *v = values[from + i];
                            }
                        }
                    }
                }
                reads.terms = input.terms[at.matrix];
                let h = shape.heights[at.height].log_height;
                reads.window = shape.window(input.indices[at.query], h);
            }
            hook(r, &mut reads);
            let values = reads
                .values
                .unwrap_or_else(|| Self::values_of(p, &reads.opened));
            Self::fill_row(
                row,
                p,
                prev,
                challenges,
                (&reads.opened, &values),
                &reads.terms,
                reads.window,
            );
            edit(r, row);
            prev = (ext::element(row.s), ext::element(row.ro));
        }
    }

    /// The values a row under the periodic row `p` takes from the Merkle chunks it reads:
    /// element `shift + k` of the pair, zero past the matrix's width.
    pub fn values_of(p: &DeepPeriodic<F>, opened: &[[F; RATE]; 2]) -> [F; CHUNK] {
        let shift = p.shift.iter().position(|&s| s == F::ONE).unwrap_or(0);
        core::array::from_fn(|k| opened.as_flattened()[shift + k] * p.mask[k])
    }

    /// The reduced openings the active rows of `trace` send.
    pub fn sent(trace: &RowMajorMatrix<F>) -> DeepSent {
        let mut sent = DeepSent::default();
        for row in trace.values.chunks_exact(WIDTH) {
            let row: &DeepCols<F> = row.borrow();
            if row.active != F::ONE {
                continue;
            }
            let mut m = [F::ZERO; 3 + D];
            m[..3].copy_from_slice(&[row.transcript, row.query, row.round]);
            m[3..].copy_from_slice(&row.ro);
            if row.fold == F::ONE {
                sent.folds.push(m);
            } else if row.roll == F::ONE {
                sent.roll_ins.push(m);
            }
        }
        sent
    }
}

/// What a row reads besides the periodic row and the previous row: the Merkle chunks holding
/// its values (the second zero when not read), the values themselves (`None`: taken from the
/// chunks, [`DeepQuotientAir::values_of`]), its matrix's ladder terms and its query's window
/// `(index, x)` at its height.
#[derive(Clone, Debug)]
pub struct RowReads {
    /// The Merkle chunks read: the one at the row's source offset and the next.
    pub opened: [[F; RATE]; 2],
    /// The row's values; `None` takes them from `opened`.
    pub values: Option<[F; CHUNK]>,
    /// The matrix's ladder terms `[mu0, M0, mu1, M1]` (read on `end` rows).
    pub terms: MatrixTerms,
    /// The query's window `i >> (k - h)` at the row's height and its point `x`.
    pub window: (usize, F),
}

verifier_base_air!(DeepQuotientAir, |_: &DeepQuotientAir| WIDTH);

impl<AB> Air<AB> for DeepQuotientAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &DeepCols<AB::Var> = main.current_slice().borrow();
        let next: &DeepCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &DeepPeriodic<AB::Expr> = periodic.as_slice().borrow();
        let one = AB::Expr::ONE;
        let e = |v: &[AB::Var; D]| -> [AB::Expr; D] { v.map(Into::into) };
        let assert_ext = |builder: &mut AB, a: [AB::Expr; D], b: [AB::Expr; D]| {
            for (x, y) in a.into_iter().zip(b) {
                builder.assert_eq(x, y);
            }
        };

        // The flag and the mirrors.
        builder.assert_bool(row.active);
        builder.assert_eq(row.block_start, p.block_start.clone());
        builder.assert_eq(row.present, p.present.clone());
        builder.assert_eq(row.query, p.query.clone());
        builder.assert_eq(row.matrix, p.matrix.clone());
        builder.assert_eq(row.x_tag, p.x_tag.clone());
        builder.assert_eq(row.root_position, p.root_position.clone());
        builder.assert_eq(row.source, p.source.clone());
        builder.assert_eq(row.two, p.two.clone());
        builder.assert_eq(row.end, p.end.clone());
        builder.assert_eq(row.fold, p.fold.clone());
        builder.assert_eq(row.roll, p.roll.clone());
        builder.assert_eq(row.round, p.round.clone());
        for i in 0..D {
            builder.assert_eq(row.alpha_positions[i], p.alpha_positions[i].clone());
            builder.assert_eq(row.zeta_positions[i], p.zeta_positions[i].clone());
        }

        // The values: the Merkle chunks' elements from the shift on, zero past the width.
        for k in 0..CHUNK {
            let pair = row.opened.as_flattened();
            let mut taken = AB::Expr::ZERO;
            for (j, shift) in p.shift.iter().enumerate() {
                taken += shift.clone() * pair[j + k];
            }
            builder.assert_zero(p.mask[k].clone() * (row.values[k] - taken));
            builder.assert_zero(row.values[k] * (one.clone() - p.mask[k].clone()));
        }

        // The powers of alpha, and Horner's step.
        let alpha = e(&row.alpha);
        assert_ext(builder, e(&row.powers[0]), ext::mul(&alpha, &alpha));
        for k in 1..CHUNK - 1 {
            assert_ext(
                builder,
                e(&row.powers[k]),
                ext::mul(&e(&row.powers[k - 1]), &alpha),
            );
        }
        let mut chunk_sum: [AB::Expr; D] = core::array::from_fn(|_| AB::Expr::ZERO);
        chunk_sum[0] = row.values[0].into();
        chunk_sum = ext::add(&chunk_sum, &ext::scale(&alpha, row.values[1].into()));
        for k in 2..CHUNK {
            chunk_sum = ext::add(
                &chunk_sum,
                &ext::scale(&e(&row.powers[k - 2]), row.values[k].into()),
            );
        }
        let carried = ext::mul(&e(&row.s_in), &e(&row.powers[CHUNK - 2]));
        let not_first = one.clone() - p.first.clone();
        let s: [AB::Expr; D] =
            core::array::from_fn(|i| not_first.clone() * carried[i].clone() + chunk_sum[i].clone());
        assert_ext(builder, e(&row.s), s);

        // The points and the inverses of the DEEP denominators.
        assert_ext(
            builder,
            e(&row.zeta_next),
            ext::scale(&e(&row.zeta), p.omega.clone()),
        );
        let minus_x = |z: &[AB::Var; D]| -> [AB::Expr; D] {
            let mut v = e(z);
            v[0] = v[0].clone() - row.x.into();
            v
        };
        let unit: [AB::Expr; D] = core::array::from_fn(|i| {
            if i == 0 {
                AB::Expr::ONE
            } else {
                AB::Expr::ZERO
            }
        });
        for (gate, d, z) in [
            (p.end.clone(), &row.d0, &row.zeta),
            (p.end2.clone(), &row.d1, &row.zeta_next),
        ] {
            let prod = ext::sub(&ext::mul(&e(d), &minus_x(z)), &unit);
            for c in prod {
                builder.assert_zero(gate.clone() * c);
            }
            // Off its rows an inverse is zero, so that it adds nothing.
            for &c in d {
                builder.assert_zero((one.clone() - gate.clone()) * c);
            }
        }

        // The matrix's part, and the height's running sum.
        let s = e(&row.s);
        let part0 = ext::mul(
            &e(&row.d0),
            &ext::sub(&e(&row.m0), &ext::mul(&e(&row.mu0), &s)),
        );
        let part1 = ext::mul(
            &e(&row.d1),
            &ext::sub(&e(&row.m1), &ext::mul(&e(&row.mu1), &s)),
        );
        let not_start = one.clone() - p.height_start.clone();
        let ro: [AB::Expr; D] = core::array::from_fn(|i| {
            not_start.clone() * row.ro_in[i] + part0[i].clone() + part1[i].clone()
        });
        assert_ext(builder, e(&row.ro), ro);
        for i in 0..D {
            builder.assert_zero(p.zero.clone() * row.ro[i]);
        }

        // Constancy down the block, and the carried sums.
        let mut t = builder.when_transition();
        let in_block = p.in_block.clone();
        t.assert_zero(super::next_block_number::<AB>(
            AB::Expr::ONE - in_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(in_block.clone() * (next.active - row.active));
        for i in 0..D {
            t.assert_zero(in_block.clone() * (next.alpha[i] - row.alpha[i]));
            t.assert_zero(in_block.clone() * (next.zeta[i] - row.zeta[i]));
            t.assert_zero(in_block.clone() * (next.s_in[i] - row.s[i]));
            t.assert_zero(in_block.clone() * (next.ro_in[i] - row.ro[i]));
        }

        // The buses.
        let samples = PermutationCheckBus::new(TRANSCRIPT_SAMPLE_BUS);
        for i in 0..D {
            for (pos, v) in [
                (row.alpha_positions[i], row.alpha[i]),
                (row.zeta_positions[i], row.zeta[i]),
            ] {
                samples.receive(
                    builder,
                    [row.transcript, pos, v],
                    Count::bounded(row.active * row.block_start, 1),
                );
            }
        }
        let merkle = PermutationCheckBus::new(MERKLE_VALUES_BUS);
        for (j, count) in [
            Count::bounded(row.active * row.present, 1),
            Count::bounded(row.active * row.two, 1),
        ]
        .into_iter()
        .enumerate()
        {
            let key: [AB::Expr; 4] = [
                row.transcript.into(),
                row.query.into(),
                row.root_position.into(),
                row.source + AB::Expr::from_usize(j * RATE),
            ];
            let message = key
                .into_iter()
                .chain(row.opened[j].iter().map(|&v| v.into()));
            merkle.receive(builder, message, count);
        }
        let at_end = || Count::bounded(row.active * row.end, 1);
        let mut terms = vec![row.transcript, row.matrix];
        for v in [&row.mu0, &row.m0, &row.mu1, &row.m1] {
            terms.extend(v.iter().copied());
        }
        PermutationCheckBus::new(DEEP_MATRIX_BUS).receive(builder, terms, at_end());
        PermutationCheckBus::new(QUERY_INDEX_BUS).receive(
            builder,
            [row.transcript, row.query, row.x_tag, row.index, row.x],
            at_end(),
        );
        let mut out = vec![row.transcript, row.query, row.round];
        out.extend(row.ro);
        PermutationCheckBus::new(FRI_FOLD_BUS).send(
            builder,
            out.clone(),
            Count::bounded(row.active * row.fold, 1),
        );
        PermutationCheckBus::new(FRI_ROLL_IN_BUS).send(
            builder,
            out,
            Count::bounded(row.active * row.roll, 1),
        );
        super::first_block_number(builder, self.first, row.transcript);
    }
}

#[cfg(test)]
mod tests {
    //! Reduced openings against Plonky3's own `open_inputs` over real Poseidon1 Merkle openings
    //! (the opened values taken from the Merkle AIR's chunks, and in one batch from the Merkle
    //! AIRs themselves), and each forgery caught by the constraint or bus that should catch it,
    //! then by the FRI verifier.

    use std::collections::BTreeSet;

    use p3_commit::{CommitmentOpening, MatrixOpening, Mmcs, PointOpening};
    use p3_field::coset::TwoAdicMultiplicativeCoset;
    use p3_fri::verifier::open_inputs;
    use p3_fri::BatchMultiOpening;
    use p3_matrix::dense::RowMajorMatrix;

    use super::*;
    use crate::aggregate::air::perm::Perm24TableAir;
    use crate::aggregate::air::PERM24_FULL_BUS;
    use crate::aggregate::fri::config::{fri_parameters, ChallengeMmcsOf, FriHash, Poseidon1};
    use crate::aggregate::preset::Preset;
    use crate::aggregate::recursion::commit::{Commitment, CommitmentAir, COMMITMENT_ROOT_BUS};
    use crate::aggregate::recursion::ext::tests::{challenges, pseudo};
    use crate::aggregate::recursion::harness::{
        has_constraint, only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::recursion::merkle::{
        MerkleOpening, MmcsOpeningAir, OpeningLink, VALUES_WIDTH,
    };

    /// `(log LDE height, width, opened at zeta_next)` of each matrix, commitment by commitment;
    /// `None` for the height is the blowup's (a one-row trace, whose rows are all equal and
    /// whose claims are that row).
    const BATCHES: &[&[(Option<usize>, usize, bool)]] = &[
        &[
            (Some(10), 13, true),
            (Some(8), 5, false),
            (Some(10), 3, true),
        ],
        &[
            (Some(10), 5, false),
            (Some(10), 5, false),
            (Some(8), 9, true),
            (Some(9), 5, false),
        ],
        &[(Some(9), 17, true), (None, 4, true)],
    ];
    const K: usize = 10;
    const QUERIES: usize = 3;
    const ALPHA_AT: usize = 10;
    const ZETA_AT: usize = 20;

    /// Commitment `b`'s root position and the tag of the window of log height `h`.
    fn root_at(b: usize) -> usize {
        500 + 20 * b
    }
    fn tag(h: usize) -> usize {
        50 + h
    }

    /// Commitment `b`'s `(height, width)`s in commitment order.
    fn dims(b: usize) -> Vec<(usize, usize)> {
        BATCHES[b]
            .iter()
            .map(|&(h, w, _)| (1 << height_of(h), w))
            .collect()
    }

    /// The Merkle AIR of commitment `b`, its chunks' readers those of [`shape`].
    fn merkle_air(b: usize) -> MmcsOpeningAir {
        let dims = dims(b);
        let opening = OpeningShape::new(&dims).unwrap();
        let tallest = dims.iter().map(|d| d.0).max().unwrap().trailing_zeros() as usize;
        let link = OpeningLink {
            root_position: root_at(b),
            window_tag: tag(tallest),
        };
        let readers = shape().readers(root_at(b), &opening);
        MmcsOpeningAir::merged(&[(&dims, link, &readers)], QUERIES).unwrap()
    }

    fn log_blowup() -> usize {
        let Preset::Fri(p) = Preset::default_preset() else {
            unreachable!("a FRI preset")
        };
        usize::from(p.log_inv_rate)
    }

    fn height_of(h: Option<usize>) -> usize {
        h.unwrap_or_else(log_blowup)
    }

    fn sink(h: usize) -> Sink {
        if h == K {
            Sink::Fold
        } else if h == log_blowup() {
            Sink::Zero
        } else {
            Sink::RollIn(K - h)
        }
    }

    /// The schedule of [`BATCHES`]: matrices numbered commitment by commitment, grouped by
    /// height in ladder order.
    fn shape() -> DeepShape {
        let mut heights: Vec<usize> = BATCHES
            .iter()
            .flat_map(|b| b.iter().map(|m| height_of(m.0)))
            .collect();
        heights.sort_unstable_by(|a, b| b.cmp(a));
        heights.dedup();
        let heights = heights
            .into_iter()
            .map(|h| {
                let mut id = 0;
                let mut matrices = Vec::new();
                for (b, batch) in BATCHES.iter().enumerate() {
                    let layout = OpeningShape::layout(&dims(b)).unwrap();
                    for (&(mh, width, two_points), (group_start, offset)) in
                        batch.iter().zip(layout)
                    {
                        if height_of(mh) == h {
                            matrices.push(DeepMatrix {
                                id,
                                width,
                                two_points,
                                root_position: root_at(b),
                                group_start,
                                offset,
                            });
                        }
                        id += 1;
                    }
                }
                DeepHeight {
                    log_height: h,
                    x_tag: tag(h),
                    matrices,
                    sink: sink(h),
                }
            })
            .collect();
        DeepShape::new(
            (0..QUERIES).map(|q| 300 + q).collect(),
            core::array::from_fn(|i| ALPHA_AT + i),
            core::array::from_fn(|i| ZETA_AT + i),
            log_blowup(),
            heights,
        )
    }

    fn air() -> DeepQuotientAir {
        DeepQuotientAir::new(shape())
    }

    /// One transcript's reference run: random matrices committed and opened at random queries
    /// with Plonky3's Merkle trees, random claims, and Plonky3's `open_inputs` on them. The
    /// AIR's input, and per query Plonky3's reduced openings (log height, value), tallest first.
    struct Run {
        input: DeepInput,
        claims: Vec<MatrixClaim>,
        expected: Vec<Vec<(usize, Challenge)>>,
        /// Per commitment, its root and each query's opening (transcript 0's numbering).
        merkle: Vec<([F; 9], Vec<MerkleOpening>)>,
    }

    fn plonky3_run(seed: u64) -> Run {
        let lb = log_blowup();
        let Preset::Fri(preset) = Preset::default_preset() else {
            unreachable!("a FRI preset")
        };
        let mmcs = Poseidon1::mmcs(0);
        let params = fri_parameters(
            &preset,
            ChallengeMmcsOf::<Poseidon1>::new(Poseidon1::mmcs(0)),
        );
        let mut base = pseudo(seed);
        let mut c = challenges(seed + 1);
        let (alpha, zeta) = (c.next().unwrap(), c.next().unwrap());
        let indices: Vec<usize> = (0..QUERIES)
            .map(|_| {
                p3_field::PrimeField32::as_canonical_u32(&base.next().unwrap()) as usize
                    & ((1 << K) - 1)
            })
            .collect();
        let (mut openings, mut claims_p3, mut opened) = (Vec::new(), Vec::new(), Vec::new());
        let mut claims: Vec<MatrixClaim> = Vec::new();
        let mut merkle = Vec::new();
        for b in BATCHES {
            let mut mats = Vec::new();
            let mut matrices = Vec::new();
            for &(mh, width, two_points) in *b {
                let h = height_of(mh);
                let values: Vec<F> = if mh.is_some() {
                    (0..width << h).map(|_| base.next().unwrap()).collect()
                } else {
                    let row: Vec<F> = (0..width).map(|_| base.next().unwrap()).collect();
                    row.repeat(1 << h)
                };
                let constant: Vec<Challenge> = values[..width]
                    .iter()
                    .map(|&v| Challenge::from(v))
                    .collect();
                let mut claim = || -> Vec<Challenge> {
                    if mh.is_some() {
                        (0..width).map(|_| c.next().unwrap()).collect()
                    } else {
                        constant.clone()
                    }
                };
                let at_zeta = claim();
                let at_zeta_next = two_points.then(&mut claim);
                let omega = F::two_adic_generator(h - lb);
                let mut points = vec![PointOpening {
                    point: zeta,
                    values: at_zeta.clone(),
                }];
                if let Some(v) = &at_zeta_next {
                    points.push(PointOpening {
                        point: zeta * omega,
                        values: v.clone(),
                    });
                }
                matrices.push(MatrixOpening {
                    domain: TwoAdicMultiplicativeCoset::new(F::GENERATOR, h - lb).unwrap(),
                    points,
                });
                claims.push(MatrixClaim {
                    at_zeta,
                    at_zeta_next,
                });
                mats.push(RowMajorMatrix::new(values, width));
            }
            let max_h = b.iter().map(|m| height_of(m.0)).max().unwrap();
            let reduced: Vec<usize> = indices.iter().map(|i| i >> (K - max_h)).collect();
            let (commitment, data) = mmcs.commit(mats);
            let singles = reduced
                .iter()
                .enumerate()
                .map(|(q, &index)| {
                    let (rows, siblings) = mmcs.open_batch(index, &data).unpack();
                    MerkleOpening {
                        transcript: 0,
                        query: 300 + q,
                        point: shape().window(indices[q], max_h).1,
                        rows,
                        index,
                        siblings,
                    }
                })
                .collect();
            merkle.push((commitment.roots()[0], singles));
            let (values, proof) = mmcs.open_multi_batch(&reduced, &data);
            opened.push(values.clone());
            openings.push(BatchMultiOpening {
                opened_values: values,
                opening_proof: proof,
            });
            claims_p3.push(CommitmentOpening {
                commitment,
                matrices,
            });
        }
        let expected = open_inputs(&params, K, &indices, &openings, alpha, &mmcs, &claims_p3)
            .expect("Plonky3 accepts the openings");
        // Shape order: by height, then commitment and matrix.
        let shape = shape();
        let order: Vec<(usize, usize)> = {
            let mut ids = Vec::new();
            for (b, batch) in BATCHES.iter().enumerate() {
                for j in 0..batch.len() {
                    ids.push((b, j));
                }
            }
            shape.matrices().map(|(_, m)| ids[m.id]).collect()
        };
        let flat: Vec<usize> = {
            let mut offsets = vec![0];
            for b in BATCHES {
                offsets.push(offsets.last().unwrap() + b.len());
            }
            order.iter().map(|&(b, j)| offsets[b] + j).collect()
        };
        let claims: Vec<MatrixClaim> = flat.iter().map(|&i| claims[i].clone()).collect();
        let rows = (0..QUERIES)
            .map(|q| {
                order
                    .iter()
                    .map(|&(b, j)| opened[b][q][j].clone())
                    .collect()
            })
            .collect();
        let terms = matrix_claims(&shape, alpha, &claims);
        Run {
            input: DeepInput {
                alpha,
                zeta,
                indices,
                rows,
                terms,
            },
            claims,
            expected,
            merkle,
        }
    }

    /// Commitment `b`'s openings of transcript `t`'s `input` (rows in commitment order; the
    /// siblings zero and index 0, which the values sent do not depend on).
    fn merkle_openings(t: usize, input: &DeepInput, b: usize) -> Vec<MerkleOpening> {
        let shape = shape();
        let first: usize = BATCHES[..b].iter().map(|b| b.len()).sum();
        let depth = OpeningShape::new(&dims(b)).unwrap().depth();
        (0..QUERIES)
            .map(|q| MerkleOpening {
                transcript: t as u32,
                query: shape.queries()[q],
                point: F::ZERO,
                rows: (first..first + BATCHES[b].len())
                    .map(|id| {
                        let at = shape.matrices().position(|(_, m)| m.id == id).unwrap();
                        input.rows[q][at].clone()
                    })
                    .collect(),
                index: 0,
                siblings: vec![[F::ZERO; 9]; depth],
            })
            .collect()
    }

    /// The messages the other AIRs send, from the inputs: the challenges' coordinates, each
    /// matrix's window, the Merkle AIRs' chunks (each once per reader) and the terms.
    fn others(inputs: &[DeepInput]) -> [Vec<Vec<F>>; 4] {
        let shape = shape();
        let (mut samples, mut windows, mut values, mut terms) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (t, input) in inputs.iter().enumerate() {
            for b in 0..BATCHES.len() {
                let (_, _, sent) =
                    merkle_air(b).generate_traces(&merkle_openings(t, input, b), MIN_HEIGHT);
                values.extend(sent.iter().map(|m| m.to_vec()));
            }
        }
        for (t, input) in inputs.iter().enumerate() {
            let t = F::from_usize(t);
            for i in 0..D {
                samples.push(vec![
                    t,
                    F::from_usize(ALPHA_AT + i),
                    ext::coords(input.alpha)[i],
                ]);
                samples.push(vec![
                    t,
                    F::from_usize(ZETA_AT + i),
                    ext::coords(input.zeta)[i],
                ]);
            }
            for (q, &pos) in shape.queries().iter().enumerate() {
                let pos = F::from_usize(pos);
                for (mi, (h, m)) in shape.matrices().enumerate() {
                    let (w, x) = shape.window(input.indices[q], h.log_height);
                    windows.push(vec![t, pos, F::from_usize(h.x_tag), F::from_usize(w), x]);
                    let mut v = vec![t, F::from_usize(m.id)];
                    for x in input.terms[mi] {
                        v.extend(ext::coords(x));
                    }
                    terms.push(v);
                }
            }
        }
        [samples, windows, values, terms]
    }

    const BUSES: [&str; 6] = [
        TRANSCRIPT_SAMPLE_BUS,
        QUERY_INDEX_BUS,
        MERKLE_VALUES_BUS,
        DEEP_MATRIX_BUS,
        FRI_FOLD_BUS,
        FRI_ROLL_IN_BUS,
    ];

    /// The batch: the AIR's trace, the other AIRs' messages, and receivers of what the trace
    /// sends (so that only the check under test can fail).
    fn batch(
        trace: RowMajorMatrix<F>,
        [samples, windows, values, terms]: [Vec<Vec<F>>; 4],
    ) -> Batch {
        let sent = DeepQuotientAir::sent(&trace);
        let v = |m: &[RoMessage]| -> Vec<Vec<F>> { m.iter().map(|m| m.to_vec()).collect() };
        let known = [
            KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &samples),
            KnownAir::new(QUERY_INDEX_BUS, 5, true, &windows),
            KnownAir::new(MERKLE_VALUES_BUS, VALUES_WIDTH, true, &values),
            KnownAir::new(DEEP_MATRIX_BUS, MATRIX_WIDTH, true, &terms),
            KnownAir::new(FRI_FOLD_BUS, 3 + D, false, &v(&sent.folds)),
            KnownAir::new(FRI_ROLL_IN_BUS, 3 + D, false, &v(&sent.roll_ins)),
        ];
        let mut traces = vec![trace];
        traces.extend(known.iter().map(KnownAir::trace));
        let mut airs = vec![TestAir::Deep(air())];
        airs.extend(known.into_iter().map(TestAir::Known));
        Batch {
            airs,
            traces,
            buses: BUSES.to_vec(),
        }
    }

    fn inputs(runs: &[Run]) -> Vec<DeepInput> {
        runs.iter().map(|r| r.input.clone()).collect()
    }

    #[test]
    fn reduced_openings_are_plonky3s_and_prove() {
        let runs = [plonky3_run(1), plonky3_run(2)];
        let inputs = inputs(&runs);
        let (trace, sent) = air().generate_trace(&inputs, MIN_HEIGHT);
        let shape = shape();
        let mut folds = sent.folds.iter();
        let mut roll_ins = sent.roll_ins.iter();
        for (t, run) in runs.iter().enumerate() {
            for (q, expected) in run.expected.iter().enumerate() {
                let heights: Vec<usize> = expected.iter().map(|e| e.0).collect();
                let ours: Vec<usize> = shape.heights().iter().map(|h| h.log_height).collect();
                assert_eq!(heights, ours, "Plonky3 reduces the same heights");
                for (&(h, ro), height) in expected.iter().zip(shape.heights()) {
                    let m = match height.sink {
                        Sink::Fold => folds.next().unwrap(),
                        Sink::RollIn(round) => {
                            let m = roll_ins.next().unwrap();
                            assert_eq!(m[2], F::from_usize(round));
                            m
                        }
                        Sink::Zero => {
                            assert_eq!(ro, Challenge::ZERO, "the blowup height reduces to zero");
                            continue;
                        }
                    };
                    assert_eq!(
                        m[..2],
                        [F::from_usize(t), F::from_usize(shape.queries()[q])]
                    );
                    assert_eq!(ext::element(m[3..].try_into().unwrap()), ro, "height {h}");
                }
            }
        }
        assert!(folds.next().is_none() && roll_ins.next().is_none());
        let b = batch(trace, others(&inputs));
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }

    /// The batch with the Merkle AIRs of the three commitments in place of the verifier-known
    /// chunks: `deep` is what the quotient AIR reads, `merkle[t][b]` transcript `t`'s openings
    /// of commitment `b` (`roots[t][b]` its root), each AIR with its permutation table, the
    /// roots held by `CommitmentAir` and observed by the transcript's stand-in, each opening's
    /// window asked for beside the quotients'.
    fn with_merkle(deep: &[DeepInput], merkle: &[Openings], roots: &[Vec<[F; 9]>]) -> Batch {
        let (trace, _) = air().generate_trace(deep, MIN_HEIGHT);
        let [samples, mut windows, _, terms] = others(deep);
        let mut b = batch(trace, [samples, windows.clone(), Vec::new(), terms]);
        // Drop the verifier-known chunks (the third known AIR).
        b.airs.remove(3);
        b.traces.remove(3);
        let mut observed = Vec::new();
        for (t, (openings, roots)) in merkle.iter().zip(roots).enumerate() {
            let t = F::from_usize(t);
            for (c, (openings, root)) in openings.iter().zip(roots).enumerate() {
                let tag = merkle_air(c).links()[0].window_tag;
                for o in openings {
                    windows.push(vec![
                        t,
                        F::from_usize(o.query),
                        F::from_usize(tag),
                        F::from_usize(o.index),
                        o.point,
                    ]);
                }
                for (j, &x) in root.iter().enumerate() {
                    observed.push(vec![t, F::from_usize(root_at(c) + j), x]);
                }
            }
        }
        let known = KnownAir::new(QUERY_INDEX_BUS, 5, true, &windows);
        b.traces[2] = known.trace();
        b.airs[2] = TestAir::Known(known);
        for c in 0..BATCHES.len() {
            let air = merkle_air(c);
            let openings: Vec<MerkleOpening> =
                merkle.iter().flat_map(|o| o[c].iter().cloned()).collect();
            let (trace, perm, _) = air.generate_traces(&openings, MIN_HEIGHT);
            b.airs.push(TestAir::Mmcs(air));
            b.traces.push(trace);
            b.airs.push(TestAir::Perm(Perm24TableAir::shared()));
            b.traces.push(perm);
        }
        let commit = CommitmentAir::new(
            &(0..BATCHES.len())
                .map(|c| Commitment {
                    position: root_at(c),
                    uses: QUERIES,
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let held: Vec<(u32, Vec<[F; 9]>)> = roots
            .iter()
            .enumerate()
            .map(|(t, r)| (t as u32, r.clone()))
            .collect();
        b.traces.push(commit.generate_trace(&held, MIN_HEIGHT));
        b.airs.push(TestAir::Commit(commit));
        let observe = KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed);
        b.traces.push(observe.trace());
        b.airs.push(TestAir::Known(observe));
        b.buses
            .extend([PERM24_FULL_BUS, COMMITMENT_ROOT_BUS, TRANSCRIPT_OBSERVE_BUS]);
        b
    }

    /// One transcript's openings, commitment by commitment, query by query.
    type Openings = Vec<Vec<MerkleOpening>>;

    /// The runs' Merkle openings, renumbered by transcript, and their roots.
    fn merkle_of(runs: &[Run]) -> (Vec<Openings>, Vec<Vec<[F; 9]>>) {
        let openings = runs
            .iter()
            .enumerate()
            .map(|(t, run)| {
                run.merkle
                    .iter()
                    .map(|(_, o)| {
                        o.iter()
                            .map(|o| MerkleOpening {
                                transcript: t as u32,
                                ..o.clone()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let roots = runs
            .iter()
            .map(|run| run.merkle.iter().map(|(root, _)| *root).collect())
            .collect();
        (openings, roots)
    }

    #[test]
    fn the_values_are_the_committed_openings() {
        let runs = runs();
        let honest = inputs(&runs);
        let (merkle, roots) = merkle_of(&runs);
        // The same values in the openings Plonky3 made: every check holds, and it proves.
        let b = with_merkle(&honest, &merkle, &roots);
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();

        const ROOTS: Failed = Failed::Bus(COMMITMENT_ROOT_BUS);
        const VALUES: Failed = Failed::Bus(MERKLE_VALUES_BUS);
        // Matrix 5 (commitment 1's third, width 9) is at shape position `at`.
        let at = shape().matrices().position(|(_, m)| m.id == 5).unwrap();
        // Another value read by the quotient only: the value bus.
        let mut deep = honest.clone();
        deep[1].rows[2][at][7] += F::ONE;
        assert_eq!(
            with_merkle(&deep, &merkle, &roots).failed(),
            BTreeSet::from([VALUES])
        );
        // The same value changed in the opening too: the path reaches another root.
        let mut opened = merkle.clone();
        opened[1][1][2].rows[2][7] += F::ONE;
        assert_eq!(
            with_merkle(&deep, &opened, &roots).failed(),
            BTreeSet::from([ROOTS])
        );
        // Another query's row of a matrix: the value bus.
        let mut deep = honest.clone();
        deep[0].rows[0][at] = honest[0].rows[1][at].clone();
        assert_eq!(
            with_merkle(&deep, &merkle, &roots).failed(),
            BTreeSet::from([VALUES])
        );
        // Another transcript's rows of one query (the Merkle side keeps its own), but for the
        // one-row trace's, which its claims fix (another one fails the zero-sum constraint).
        let mut deep = honest.clone();
        for (mi, (h, _)) in shape().matrices().enumerate() {
            if h.sink != Sink::Zero {
                deep[0].rows[1][mi] = honest[1].rows[1][mi].clone();
            }
        }
        assert_eq!(
            with_merkle(&deep, &merkle, &roots).failed(),
            BTreeSet::from([VALUES])
        );
    }

    /// Transcript 0's block refilled with `hook` and `edit` ([`DeepQuotientAir::fill_block`]),
    /// transcript 1's honest; the other AIRs' messages from `known`.
    fn forged(
        runs: &[Run],
        known: &[DeepInput],
        mut hook: impl FnMut(usize, &mut RowReads),
        mut edit: impl FnMut(usize, &mut DeepCols<F>),
    ) -> Batch {
        let air = air();
        let inputs = inputs(runs);
        let (mut trace, _) = air.generate_trace(&inputs, MIN_HEIGHT);
        let period = air.shape().block_len();
        air.fill_block(
            &mut trace.values[..period * WIDTH],
            0,
            Some(&inputs[0]),
            &mut hook,
            &mut edit,
        );
        batch(trace, others(known))
    }

    fn runs() -> [Run; 2] {
        [plonky3_run(1), plonky3_run(2)]
    }

    fn rows_where(pick: impl Fn(&DeepPeriodic<F>) -> bool) -> Vec<usize> {
        let air = air();
        (0..air.shape().block_len())
            .filter(|&r| pick(air.periodic_row(r).as_slice().borrow()))
            .collect()
    }

    fn bus(b: &'static str) -> impl Fn(&BTreeSet<Failed>) -> bool {
        move |f| f == &BTreeSet::from([Failed::Bus(b)])
    }

    #[test]
    fn another_value_term_point_or_challenge_is_caught_on_its_bus() {
        let runs = runs();
        let honest = inputs(&runs);
        let end = rows_where(|p| p.end == F::ONE && p.present == F::ONE)[3];
        let two = rows_where(|p| p.two == F::ONE)[0];
        for (at, hook, on) in [
            (
                1,
                (|reads: &mut RowReads| reads.opened[0].iter_mut().for_each(|v| *v += F::ONE))
                    as fn(&mut RowReads),
                MERKLE_VALUES_BUS,
            ),
            (two, |reads| reads.opened[1][0] += F::ONE, MERKLE_VALUES_BUS),
            (
                end,
                |reads| reads.terms[1] += Challenge::ONE,
                DEEP_MATRIX_BUS,
            ),
            (end, |reads| reads.window.1 += F::ONE, QUERY_INDEX_BUS),
        ] {
            let hook = |r: usize, reads: &mut RowReads| {
                if r == at {
                    hook(reads);
                }
            };
            forged(&runs, &honest, hook, |_, _| ()).caught(bus(on));
        }
        // Another alpha for transcript 0, everything else following it (the terms too).
        let mut other = runs[0].input.clone();
        other.alpha += Challenge::ONE;
        other.terms = matrix_claims(&shape(), other.alpha, &runs[0].claims);
        let inputs = [other, runs[1].input.clone()];
        let (trace, _) = air().generate_trace(&inputs, MIN_HEIGHT);
        let mut o = others(&inputs);
        o[0] = others(&honest)[0].clone();
        batch(trace, o).caught(bus(TRANSCRIPT_SAMPLE_BUS));
    }

    #[test]
    fn a_value_not_the_openings_or_past_the_width_is_caught() {
        let runs = runs();
        let honest = inputs(&runs);
        let air = air();
        // The Merkle chunks as read, the values other than theirs (Horner's sum following the
        // forged values): only the constraint taking them from the chunks can catch it.
        // Within the width, in the first chunk and in the second one; then past the width.
        let straddles = rows_where(|p| p.two == F::ONE)[0];
        let within = |r: usize, pick: fn(&DeepPeriodic<F>) -> usize| {
            let p = air.periodic_row(r);
            let p: &DeepPeriodic<F> = p.as_slice().borrow();
            (r, pick(p))
        };
        let past = rows_where(|p| p.present == F::ONE && p.mask[CHUNK - 1] == F::ZERO)[0];
        for (r, k) in [
            within(1, |_| 0),
            within(straddles, |p| {
                let shift = p.shift.iter().position(|&s| s == F::ONE).unwrap();
                (0..CHUNK)
                    .rev()
                    .find(|&k| shift + k >= RATE && p.mask[k] == F::ONE)
                    .unwrap()
            }),
            within(past, |p| p.mask.iter().position(|&m| m == F::ZERO).unwrap()),
        ] {
            let p = air.periodic_row(r);
            let p: &DeepPeriodic<F> = p.as_slice().borrow();
            let hook = |row: usize, reads: &mut RowReads| {
                if row == r {
                    let mut v = DeepQuotientAir::values_of(p, &reads.opened);
                    v[k] += F::ONE;
                    reads.values = Some(v);
                }
            };
            forged(&runs, &honest, hook, |_, _| ()).caught(only_constraints);
        }
    }

    #[test]
    fn a_wrong_step_is_caught_by_a_constraint() {
        let runs = runs();
        let honest = inputs(&runs);
        // Not the block's first row, where the challenges are received.
        let inner = rows_where(|p| p.present == F::ONE && p.end == F::ZERO)[1];
        assert!(inner > 0);
        let end = rows_where(|p| p.end == F::ONE && p.present == F::ONE)[2];
        let end2 = rows_where(|p| p.end2 == F::ONE)[0];
        for (r, edit) in [
            (
                inner,
                (|row: &mut DeepCols<F>| row.s[2] += F::ONE) as fn(&mut DeepCols<F>),
            ),
            (inner, |row| row.powers[3][0] += F::ONE),
            (inner, |row| row.alpha[1] += F::ONE),
            (inner, |row| row.d0[0] = F::ONE),
            (inner, |row| row.ro[4] += F::ONE),
            (end, |row| row.d0[1] += F::ONE),
            (end, |row| row.ro[0] += F::ONE),
            (end2, |row| row.zeta_next[3] += F::ONE),
            (end2, |row| row.d1[0] += F::ONE),
        ] {
            forged(
                &runs,
                &honest,
                |_, _| (),
                |row, cols| {
                    if row == r {
                        edit(cols);
                    }
                },
            )
            .caught(only_constraints);
        }
        // A height's sum not sent: the mirror off its schedule.
        let fold = rows_where(|p| p.fold == F::ONE)[0];
        forged(
            &runs,
            &honest,
            |_, _| (),
            |row, cols| {
                if row == fold {
                    cols.fold = F::ZERO;
                }
            },
        )
        .caught(has_constraint);
    }

    #[test]
    fn a_nonzero_sum_at_the_blowup_height_is_caught() {
        // Claims at the one-row matrix other than its row: its quotient is not zero, which the
        // native verifier rejects (`FinalPolyMismatch`).
        let runs = runs();
        let shape = shape();
        let at = shape
            .matrices()
            .position(|(h, _)| h.sink == Sink::Zero)
            .unwrap();
        let mut known = inputs(&runs);
        known[0].terms[at][1] += Challenge::ONE;
        let (trace, _) = air().generate_trace(&known, MIN_HEIGHT);
        let b = batch(trace, others(&known));
        b.caught(only_constraints);
    }

    #[test]
    fn inactive_padding_and_swapped_blocks_unbalance_the_buses() {
        let period = air().shape().block_len();
        let runs = runs();
        let honest = inputs(&runs);
        let (mut trace, _) = air().generate_trace(&honest, MIN_HEIGHT);
        for r in 0..period {
            let row: &mut DeepCols<F> = trace.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
            row.active = F::ZERO;
        }
        let inputs_only = |f: &BTreeSet<Failed>| {
            [
                TRANSCRIPT_SAMPLE_BUS,
                QUERY_INDEX_BUS,
                MERKLE_VALUES_BUS,
                DEEP_MATRIX_BUS,
            ]
            .iter()
            .all(|b| f.contains(&Failed::Bus(b)))
        };
        batch(trace, others(&honest)).caught(inputs_only);

        let one = &honest[..1];
        let (mut trace, _) = air().generate_trace(one, MIN_HEIGHT);
        for r in period..2 * period {
            let row: &mut DeepCols<F> = trace.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
            row.active = F::ONE;
        }
        batch(trace, others(one)).caught(inputs_only);

        let (mut trace, _) = air().generate_trace(&honest, MIN_HEIGHT);
        for r in 0..2 * period {
            let row: &mut DeepCols<F> = trace.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
            row.transcript = F::from_bool(r < period);
        }
        batch(trace, others(&honest)).caught(inputs_only);
    }

    // DeepTermsAir: the ladder terms from alpha and the observed claims.

    use crate::aggregate::recursion::duplex::TRANSCRIPT_OBSERVE_BUS;
    use crate::aggregate::recursion::ood_air::OOD_INPUT_BUS;
    use crate::aggregate::recursion::terms::{self, ClaimAt, DeepTermsAir, TermsCols};

    /// The claims' transcript positions: one after another from 1000, matrix by matrix in
    /// shape order, `zeta`'s values before `zeta_next`'s.
    fn claim_positions() -> Vec<ClaimAt> {
        let mut at = 1000;
        shape()
            .matrices()
            .map(|(_, m)| {
                let mut next = || {
                    let p = at;
                    at += D * m.width;
                    p
                };
                let zeta = next();
                ClaimAt {
                    zeta,
                    zeta_next: m.two_points.then(next),
                }
            })
            .collect()
    }

    /// The claims the out-of-domain check reads (by the position of coordinate 0): every
    /// third column of each matrix at `zeta`.
    fn ood_positions() -> BTreeSet<usize> {
        shape()
            .matrices()
            .zip(claim_positions())
            .flat_map(|((_, m), at)| (0..m.width).step_by(3).map(move |c| at.zeta + D * c))
            .collect()
    }

    fn terms_air() -> DeepTermsAir {
        DeepTermsAir::new(&shape(), &claim_positions(), &ood_positions())
    }

    /// Every claimed value with its transcript and the position of its coordinate 0.
    fn claimed(inputs: &[(Challenge, Vec<MatrixClaim>)]) -> Vec<(usize, usize, Challenge)> {
        let mut out = Vec::new();
        for (t, (_, claims)) in inputs.iter().enumerate() {
            for (c, at) in claims.iter().zip(claim_positions()) {
                let points = [
                    Some((&c.at_zeta, at.zeta)),
                    c.at_zeta_next.as_ref().zip(at.zeta_next),
                ];
                for (values, first) in points.into_iter().flatten() {
                    for (k, v) in values.iter().enumerate() {
                        out.push((t, first + D * k, *v));
                    }
                }
            }
        }
        out
    }

    /// The claims sent to the out-of-domain check `(transcript, position, value)`.
    fn ood_inputs(inputs: &[(Challenge, Vec<MatrixClaim>)]) -> Vec<Vec<F>> {
        let read = ood_positions();
        claimed(inputs)
            .into_iter()
            .filter(|(_, at, _)| read.contains(at))
            .map(|(t, at, v)| {
                let mut m = vec![F::from_usize(t), F::from_usize(at)];
                m.extend(ext::coords(v));
                m
            })
            .collect()
    }

    fn terms_inputs(runs: &[Run]) -> Vec<(Challenge, Vec<MatrixClaim>)> {
        runs.iter()
            .map(|r| (r.input.alpha, r.claims.clone()))
            .collect()
    }

    /// The observed claims `(transcript, position, coordinate)`.
    fn observed(inputs: &[(Challenge, Vec<MatrixClaim>)]) -> Vec<Vec<F>> {
        claimed(inputs)
            .into_iter()
            .flat_map(|(t, at, v)| {
                ext::coords(v)
                    .into_iter()
                    .enumerate()
                    .map(move |(i, x)| vec![F::from_usize(t), F::from_usize(at + i), x])
            })
            .collect()
    }

    /// `alpha`'s coordinates `(transcript, position, coordinate)`, transcript by transcript.
    fn alpha_samples(alphas: &[Challenge]) -> Vec<Vec<F>> {
        let mut out = Vec::new();
        for (t, alpha) in alphas.iter().enumerate() {
            for (i, c) in ext::coords(*alpha).into_iter().enumerate() {
                out.push(vec![F::from_usize(t), F::from_usize(ALPHA_AT + i), c]);
            }
        }
        out
    }

    /// `DeepTermsAir`'s trace beside the transcript's messages (`alpha`'s coordinates sent,
    /// `claims` observed) and receivers of the terms the trace sends, once per query.
    fn terms_batch(
        trace: RowMajorMatrix<F>,
        alphas: &[Challenge],
        claims: &[(Challenge, Vec<MatrixClaim>)],
    ) -> Batch {
        let air = terms_air();
        let samples = alpha_samples(alphas);
        let mut terms = Vec::new();
        for row in trace.values.chunks_exact(terms::WIDTH) {
            let row: &TermsCols<F> = row.borrow();
            if row.active == F::ONE && row.uses != F::ZERO {
                let mut m = vec![row.transcript, row.matrix];
                for o in &row.out {
                    m.extend(o);
                }
                for _ in 0..QUERIES {
                    terms.push(m.clone());
                }
            }
        }
        let known = [
            KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &samples),
            KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed(claims)),
            KnownAir::new(DEEP_MATRIX_BUS, MATRIX_WIDTH, false, &terms),
            KnownAir::new(OOD_INPUT_BUS, 2 + D, false, &ood_inputs(claims)),
        ];
        let mut traces = vec![trace];
        traces.extend(known.iter().map(KnownAir::trace));
        let mut airs = vec![TestAir::DeepTerms(air)];
        airs.extend(known.into_iter().map(TestAir::Known));
        Batch {
            airs,
            traces,
            buses: vec![
                TRANSCRIPT_SAMPLE_BUS,
                TRANSCRIPT_OBSERVE_BUS,
                DEEP_MATRIX_BUS,
                OOD_INPUT_BUS,
            ],
        }
    }

    #[test]
    fn ladder_terms_are_the_native_ladders_and_feed_the_quotients() {
        let runs = runs();
        let inputs = terms_inputs(&runs);
        let (trace, sent) = terms_air().generate_trace(&inputs, MIN_HEIGHT);
        for (run, sent) in runs.iter().zip(&sent) {
            assert_eq!(sent, &run.input.terms);
        }
        let alphas: Vec<Challenge> = runs.iter().map(|r| r.input.alpha).collect();
        let b = terms_batch(trace.clone(), &alphas, &inputs);
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();

        // Both AIRs together: the terms feed the quotients, with no verifier-known terms.
        let deep = self::inputs(&runs);
        let (deep_trace, _) = air().generate_trace(&deep, MIN_HEIGHT);
        let quotients = batch(deep_trace, others(&deep));
        let mut airs = quotients.airs;
        let mut traces = quotients.traces;
        // Drop the verifier-known terms (the fourth known AIR) and add the ladder.
        airs.remove(4);
        traces.remove(4);
        airs.push(TestAir::DeepTerms(terms_air()));
        traces.push(trace);
        let mut samples = others(&deep)[0].clone();
        samples.extend(alpha_samples(&alphas));
        airs[1] = TestAir::Known(KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &samples));
        traces[1] = KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &samples).trace();
        let observe = KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed(&inputs));
        traces.push(observe.trace());
        airs.push(TestAir::Known(observe));
        let ood = KnownAir::new(OOD_INPUT_BUS, 2 + D, false, &ood_inputs(&inputs));
        traces.push(ood.trace());
        airs.push(TestAir::Known(ood));
        let mut buses = BUSES.to_vec();
        buses.push(TRANSCRIPT_OBSERVE_BUS);
        buses.push(OOD_INPUT_BUS);
        let joint = Batch {
            airs,
            traces,
            buses,
        };
        assert_eq!(joint.failed(), BTreeSet::new());
        joint.prove_and_verify().unwrap();
    }

    /// Transcript 0's ladder block refilled with `edit` after each row (the next row reads
    /// the edited row).
    fn forged_terms(runs: &[Run], edit: impl Fn(usize, &mut TermsCols<F>)) -> Batch {
        let air = terms_air();
        let inputs = terms_inputs(runs);
        let (mut trace, _) = air.generate_trace(&inputs, MIN_HEIGHT);
        let mut prev = [[F::ZERO; D]; 5];
        let values = terms::ladder_values(&inputs[0].1);
        for r in 0..air.block_len() {
            let p = air.periodic_row(r);
            let row: &mut TermsCols<F> =
                trace.values[r * terms::WIDTH..(r + 1) * terms::WIDTH].borrow_mut();
            let value = values.get(r).copied().unwrap_or(Challenge::ZERO);
            DeepTermsAir::fill_row(row, p.as_slice().borrow(), inputs[0].0, value, prev);
            edit(r, row);
            prev = [row.lambda, row.mu, row.m, row.mu0, row.m0];
        }
        let alphas: Vec<Challenge> = runs.iter().map(|r| r.input.alpha).collect();
        terms_batch(trace, &alphas, &inputs)
    }

    #[test]
    fn a_wrong_ladder_step_or_claim_is_caught() {
        let runs = runs();
        let air = terms_air();
        let rows = |pick: fn(&terms::TermsPeriodic<F>) -> bool| -> Vec<usize> {
            (0..air.block_len())
                .filter(|&r| pick(air.periodic_row(r).as_slice().borrow()))
                .collect()
        };
        let inner = rows(|p| p.present == F::ONE && p.seg_start == F::ZERO)[0];
        let keep = rows(|p| p.keep == F::ONE)[0];
        let last = rows(|p| p.last == F::ONE && p.two_points == F::ONE)[0];
        let last1 = rows(|p| p.last == F::ONE && p.two_points == F::ZERO)[0];
        let start = rows(|p| p.height_start == F::ONE)[1];
        for (r, edit) in [
            (
                inner,
                (|row: &mut TermsCols<F>| row.lambda[0] += F::ONE) as fn(&mut TermsCols<F>),
            ),
            (start, |row| row.lambda[0] += F::ONE),
            (inner, |row| row.mu[1] += F::ONE),
            (inner, |row| row.m[2] += F::ONE),
            (inner, |row| row.alpha[3] += F::ONE),
            (keep, |row| row.mu0[4] += F::ONE),
            (keep, |row| row.m0[0] += F::ONE),
            (last, |row| row.out[2][0] += F::ONE),
            (last1, |row| row.out[3][1] += F::ONE),
            (last, |row| row.uses = F::ZERO),
        ] {
            forged_terms(&runs, |row, cols| {
                if row == r {
                    edit(cols);
                }
            })
            .caught(only_constraints);
        }
        // A claimed value other than the one observed: the observation bus alone (the terms'
        // receivers take what the forged trace sends).
        forged_terms(&runs, |row, cols| {
            if row == inner {
                cols.value[0] += F::ONE;
                let lambda = ext::element(cols.lambda);
                let m = ext::element(cols.m_in) + lambda * ext::element(cols.value);
                cols.m = ext::coords(m);
            }
        })
        .caught(bus(TRANSCRIPT_OBSERVE_BUS));
        // A claim the out-of-domain check reads: forged, it fails the observation bus and
        // the check's input bus; not sent, the input bus and the flag's mirror.
        let read = rows(|p| p.present == F::ONE && p.ood == F::ONE && p.seg_start == F::ZERO)[0];
        forged_terms(&runs, |row, cols| {
            if row == read {
                cols.value[1] += F::ONE;
                let lambda = ext::element(cols.lambda);
                let m = ext::element(cols.m_in) + lambda * ext::element(cols.value);
                cols.m = ext::coords(m);
            }
        })
        .caught(|f| {
            f == &BTreeSet::from([
                Failed::Bus(TRANSCRIPT_OBSERVE_BUS),
                Failed::Bus(OOD_INPUT_BUS),
            ])
        });
        forged_terms(&runs, |row, cols| {
            if row == read {
                cols.ood = F::ZERO;
            }
        })
        .caught(|f| has_constraint(f) && f.contains(&Failed::Bus(OOD_INPUT_BUS)));
        // An inactive block: every bus.
        let (mut trace, _) = air.generate_trace(&terms_inputs(&runs), MIN_HEIGHT);
        for r in 0..air.block_len() {
            let row: &mut TermsCols<F> =
                trace.values[r * terms::WIDTH..(r + 1) * terms::WIDTH].borrow_mut();
            row.active = F::ZERO;
        }
        let alphas: Vec<Challenge> = runs.iter().map(|r| r.input.alpha).collect();
        terms_batch(trace, &alphas, &terms_inputs(&runs)).caught(|f| {
            f.contains(&Failed::Bus(TRANSCRIPT_SAMPLE_BUS))
                && f.contains(&Failed::Bus(TRANSCRIPT_OBSERVE_BUS))
                && f.contains(&Failed::Bus(OOD_INPUT_BUS))
        });
    }
}
