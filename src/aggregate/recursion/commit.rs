//! `CommitmentAir`: a child's Merkle commitment roots, each observed by the child's transcript and
//! handed to every opening made against it.
//!
//! The native verifier observes each commitment root (the trace, quotient and LogUp commitments,
//! then one per FRI commit-phase round) into its Fiat-Shamir transcript, and later checks every
//! Merkle opening of the query phase against that same root. In the AIRs the root comes from the
//! child's proof bytes, so it is prover data: this AIR holds it once and ties its two uses
//! together.
//!
//! **One block per child transcript**, one row per commitment in the verifier's order
//! ([`Commitment`]: where the transcript observes the root, how many openings use it). Each row
//! with a commitment:
//! - sends `(transcript, position + j, root[j])` on `"transcript-observe"` for `j < 9`, once:
//!   [`super::duplex::DuplexAir`] receives each observed element at its position, so the root
//!   here is the one the transcript hashed (and the challenges drawn after it depend on it);
//! - sends `(transcript, position, root (9))` on `"commitment-root"`, `uses` times: each
//!   [`super::merkle::MmcsOpeningAir`] block against this commitment receives it on its root
//!   row, keyed by the same `position`, so an opening can only end at this root.
//!
//! `position` and `uses` are the verifier's (periodic columns with committed mirrors, as p3-lookup
//! reads no periodic column in a message); `transcript` and `active` are constant down a block.
//! A padding block (`active = 0`) sends nothing.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use super::duplex::TRANSCRIPT_OBSERVE_BUS;
use super::terms::MAX_QUERIES;
use crate::aggregate::fri::config::POSEIDON1_DIGEST_ELEMS;
use crate::xmss::F;

/// Bus of commitment roots `(transcript, position, root (9))`, sent here.
pub const COMMITMENT_ROOT_BUS: &str = "commitment-root";

const DIGEST: usize = POSEIDON1_DIGEST_ELEMS;

/// The columns of one row (14).
#[repr(C)]
pub struct CommitmentCols<T> {
    /// The child transcript's number (constant down the block).
    pub transcript: T,
    /// 1 in a block that sends, 0 in a padding block (constant down the block).
    pub active: T,
    /// The commitment root, as the child's proof carries it.
    pub root: [T; DIGEST],
    /// Mirror of the periodic `position`.
    pub position: T,
    /// Mirror of the periodic `uses`.
    pub uses: T,
    /// Mirror of the periodic `present`.
    pub present: T,
}

/// The periodic columns (period [`CommitmentAir::period`]): the transcript's commitments.
#[repr(C)]
pub struct CommitmentPeriodic<T> {
    /// The next row belongs to the same transcript.
    pub in_block: T,
    /// Transcript position of the root's first element.
    pub position: T,
    /// Openings against the root.
    pub uses: T,
    /// 1 on a row holding a commitment, 0 on the block's padding rows.
    pub present: T,
}

crate::aggregate::air::row_view!(CommitmentCols);
crate::aggregate::air::row_view!(CommitmentPeriodic);

/// Width of [`CommitmentAir`].
pub const WIDTH: usize = core::mem::size_of::<CommitmentCols<u8>>();
const NUM_PERIODIC: usize = core::mem::size_of::<CommitmentPeriodic<u8>>();

/// One commitment of a child's transcript, as the verifier's schedule fixes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commitment {
    /// Transcript position of the root's first element (the 9 elements follow in order).
    pub position: usize,
    /// Merkle openings checked against the root (one per query; `1..=`[`MAX_QUERIES`]).
    pub uses: usize,
}

/// The AIR holding the commitment roots of child transcripts of one shape.
#[derive(Clone, Debug)]
pub struct CommitmentAir {
    commitments: Vec<Commitment>,
    periodic: std::sync::Arc<Vec<Vec<F>>>,
    /// The first block's transcript number ([`Self::numbered_from`]).
    first: u32,
}

numbered_blocks!(CommitmentAir);

impl CommitmentAir {
    /// The AIR for transcripts that observe `commitments`, in transcript order.
    ///
    /// # Errors
    /// A message if there is no commitment, two roots overlap or are out of order, or a count of
    /// uses is 0 or above [`MAX_QUERIES`].
    pub fn new(commitments: &[Commitment]) -> Result<Self, String> {
        if commitments.is_empty() {
            return Err("no commitment".into());
        }
        for w in commitments.windows(2) {
            if w[1].position < w[0].position + DIGEST {
                return Err(format!(
                    "roots at positions {} and {} overlap or are out of order",
                    w[0].position, w[1].position
                ));
            }
        }
        if let Some(c) = commitments
            .iter()
            .find(|c| c.uses == 0 || c.uses > MAX_QUERIES)
        {
            return Err(format!("{} openings of the root at {}", c.uses, c.position));
        }
        let period = commitments.len().next_power_of_two();
        let mut rows = vec![F::ZERO; period * NUM_PERIODIC];
        for r in 0..period {
            let p: &mut CommitmentPeriodic<F> =
                rows[r * NUM_PERIODIC..(r + 1) * NUM_PERIODIC].borrow_mut();
            p.in_block = F::from_bool(r + 1 < period);
            if let Some(c) = commitments.get(r) {
                p.position = F::from_usize(c.position);
                p.uses = F::from_usize(c.uses);
                p.present = F::ONE;
            }
        }
        Ok(Self {
            commitments: commitments.to_vec(),
            periodic: crate::aggregate::air::column_major(&rows, NUM_PERIODIC),
            first: 0,
        })
    }

    /// Rows of one transcript's block: the commitments, rounded up to a power of two.
    pub fn period(&self) -> usize {
        self.commitments.len().next_power_of_two()
    }

    /// The trace holding `roots` (per child transcript: its number and one root per commitment,
    /// in order), one block each, then padding blocks up to a power of two and at least
    /// `min_height` rows.
    ///
    /// # Panics
    /// If a transcript does not have one root per commitment.
    pub fn generate_trace(
        &self,
        roots: &[(u32, Vec<[F; DIGEST]>)],
        min_height: usize,
    ) -> RowMajorMatrix<F> {
        let period = self.period();
        let height = (roots.len() * period)
            .max(min_height)
            .max(period)
            .next_power_of_two();
        let mut values = F::zero_vec(height * WIDTH);
        for (r, row) in values.chunks_exact_mut(WIDTH).enumerate() {
            let row: &mut CommitmentCols<F> = row.borrow_mut();
            let (b, i) = (r / period, r % period);
            if let Some(c) = self.commitments.get(i) {
                row.position = F::from_usize(c.position);
                row.uses = F::from_usize(c.uses);
                row.present = F::ONE;
            }
            // A padding block's number follows the blocks before it; an active block's is the
            // caller's (the constraint holds it to `first + b`).
            row.transcript = F::from_usize(self.first as usize + b);
            if let Some((t, rs)) = roots.get(b) {
                assert_eq!(rs.len(), self.commitments.len(), "one root per commitment");
                row.transcript = F::from_u32(*t);
                row.active = F::ONE;
                if let Some(root) = rs.get(i) {
                    row.root = *root;
                }
            }
        }
        RowMajorMatrix::new(values, WIDTH)
    }
}

verifier_base_air!(CommitmentAir, |_: &CommitmentAir| WIDTH);

impl<AB> Air<AB> for CommitmentAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &CommitmentCols<AB::Var> = main.current_slice().borrow();
        let next: &CommitmentCols<AB::Var> = main.next_slice().borrow();
        let periodic = crate::aggregate::air::periodic_exprs(builder);
        let p: &CommitmentPeriodic<AB::Expr> = periodic.as_slice().borrow();

        builder.assert_bool(row.active);
        builder.assert_eq(row.position, p.position.clone());
        builder.assert_eq(row.uses, p.uses.clone());
        builder.assert_eq(row.present, p.present.clone());
        let mut t = builder.when_transition();
        t.assert_zero(super::next_block_number::<AB>(
            AB::Expr::ONE - p.in_block.clone(),
            row.transcript,
            next.transcript,
        ));
        t.assert_zero(p.in_block.clone() * (next.active - row.active));

        let observe = PermutationCheckBus::new(TRANSCRIPT_OBSERVE_BUS);
        for (j, &v) in row.root.iter().enumerate() {
            observe.send(
                builder,
                [
                    row.transcript.into(),
                    row.position + AB::Expr::from_usize(j),
                    v.into(),
                ],
                Count::bounded(row.active * row.present, 1),
            );
        }
        let message: Vec<AB::Expr> = [row.transcript, row.position]
            .iter()
            .chain(&row.root)
            .map(|&v| v.into())
            .collect();
        PermutationCheckBus::new(COMMITMENT_ROOT_BUS).send(
            builder,
            message,
            Count::bounded(row.active * row.uses, MAX_QUERIES as u32),
        );
        super::first_block_number(builder, self.first, row.transcript);
    }
}
