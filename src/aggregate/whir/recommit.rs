//! [`RecommitPcs`]: p3-whir's commitment scheme with the option of not holding the first codeword
//! and its Merkle tree from the commitment to the opening, but encoding and hashing it a second
//! time when the opening needs it.
//!
//! p3-multi-stark's prover commits every trace in one WHIR commitment, then runs the zerocheck and
//! the LogUp GKR, then opens the commitment. p3-whir keeps the first codeword (the stacked trace
//! polynomial encoded at the first rate: `2^(num_variables + log_inv_rate)` base-field cells) and
//! its Merkle tree for the whole of that time, and the zerocheck's first fold (every column in the
//! quintic extension, at half the height) is made while they are held. On a Type-2 merge of a
//! block's shape (eight components of 256 keys and one of one, a stacked polynomial of 2^26 cells
//! at rate 1/4) the codeword is 1 GiB and its tree 256 MiB, both held under the fold's 730 MiB:
//! the merge's peak (`src/aggregate/recursion/README.md`, "Where the merge's memory goes").
//!
//! With [`RecommitPcs::recommit`] set, [`MultilinearPcs::commit`] encodes and hashes the codeword
//! as p3-whir does, keeps the root and the tables (which the zerocheck reads anyway) and drops
//! the codeword and its tree; the opening rebuilds them from the same tables, in the same slots,
//! with the same encoder and tree, and refuses to go on unless the rebuilt root is the committed
//! one ([`RecommitError::RootMismatch`]). The proof is the same, bit for bit: the codeword is a
//! deterministic function of the tables (no randomness: this is not the zero-knowledge
//! variant), and everything else is p3-whir's own code, called in the order its adapter calls it
//! (`p3_whir::pcs::adapter`). The price is a second encoding and a second tree, paid only where
//! [`stark_config`](super::stark_config) asks for it (a first codeword above
//! [`RECOMMIT_ABOVE_BYTES`]).
//!
//! Verification is p3-whir's, unchanged: this type only changes what the prover holds.

use p3_commit::{Mmcs, MultilinearPcs};
use p3_matrix::dense::DenseMatrix;
use p3_multilinear_util::point::Point;
use p3_sumcheck::commit::commit_base;
use p3_sumcheck::layout::{plan_stacked_layout, Layout, Table, Witness};
use p3_sumcheck::{
    OpeningEvals, OpeningProtocol, OpeningRequest, PrescribedOpeningSecurity, PrescribedPointPcs,
};
use p3_whir::{PcsProof, VerifierError, WhirConfig, WhirConfigError};

use super::{WhirDft, WhirLayout, WhirPcs};
use crate::aggregate::field::{val_mmcs, Challenge, Challenger, Val, ValMmcs};

/// First codewords larger than this many bytes are rebuilt at the opening rather than held
/// (512 MiB: 2^27 base-field cells, a stacked polynomial of 2^25 cells at rate 1/4 or of 2^26 at
/// rate 1/2). Below it the memory saved is under a quarter of what the multi-STARK prover holds
/// at its peak and the second encoding is not worth its time.
pub const RECOMMIT_ABOVE_BYTES: usize = 512 << 20;

/// The commitment (Merkle root) of [`ValMmcs`].
type Root = <ValMmcs as Mmcs<Val>>::Commitment;

/// The first codeword and its Merkle tree, as [`ValMmcs`] holds them.
type MerkleData = <ValMmcs as Mmcs<Val>>::ProverData<DenseMatrix<Val>>;

/// What the prover holds between the commitment and the opening: the committed tables (in
/// p3-sumcheck's suffix layout, which the zerocheck reads), the root, and the codeword with its
/// tree unless [`RecommitPcs::recommit`] dropped them.
#[derive(Clone)]
pub struct RecommitData {
    layout: WhirLayout,
    root: Root,
    merkle: Option<MerkleData>,
}

impl RecommitData {
    /// Committed table `id` (an AIR instance's trace, one polynomial per column), as the
    /// multi-STARK prover reads it for the zerocheck.
    pub fn table(&self, id: usize) -> &Table<Val> {
        Layout::<Val, Challenge>::table(&self.layout, id)
    }

    /// Whether the first codeword and its tree are held (false once dropped for a rebuild).
    pub fn holds_codeword(&self) -> bool {
        self.merkle.is_some()
    }
}

/// Why an opening failed.
#[derive(Debug)]
pub enum RecommitError {
    /// p3-whir refused its configuration or budget (its own error).
    Whir(WhirConfigError),
    /// The codeword rebuilt for the opening has another root than the one committed: the
    /// tables or the encoding changed between the two (never expected; the opening stops rather
    /// than prove against a root the transcript did not bind).
    RootMismatch,
}

impl From<WhirConfigError> for RecommitError {
    fn from(e: WhirConfigError) -> Self {
        RecommitError::Whir(e)
    }
}

/// p3-whir's [`WhirPcs`] with the choice of rebuilding the first codeword at the opening
/// (module docs). Commitments, proofs and verification are p3-whir's.
pub struct RecommitPcs {
    inner: WhirPcs,
    dft: WhirDft,
    mmcs: ValMmcs,
    recommit: bool,
}

impl RecommitPcs {
    /// p3-whir's prover for `config` over [`WhirDft`] and the Keccak Merkle trees
    /// ([`val_mmcs`], cap height 0), keeping its own copies of both for a rebuild (p3-whir does
    /// not lend them out). `recommit`: drop the first codeword after the commitment and rebuild
    /// it at the opening.
    ///
    /// # Panics
    /// As `WhirProver::new`: when `config` was derived for another domain.
    pub fn new(config: WhirConfig<Challenge, Val, Challenger>, recommit: bool) -> Self {
        let dft = WhirDft::default();
        let mmcs = val_mmcs(0);
        let inner = WhirPcs::new(config, dft.clone(), mmcs.clone());
        RecommitPcs { inner, dft, mmcs, recommit }
    }

    /// Variables the first WHIR round folds (the width of a first-codeword row is `2^` that).
    fn first_folding(&self) -> usize {
        self.inner.round_folding_factor(0)
    }

    /// `log2` of the first codeword's inverse rate.
    fn log_inv_rate(&self) -> usize {
        self.inner.params().starting_log_inv_rate
    }

    /// Whether this scheme drops the first codeword after the commitment.
    pub fn recommit(&self) -> bool {
        self.recommit
    }

    /// The first codeword and its tree, encoded from `layout`'s tables the way the commitment
    /// encoded them (p3-sumcheck's stacked slots, `commit_base`), checked against `root`.
    fn rebuild(&self, layout: &WhirLayout, root: &Root) -> Result<MerkleData, RecommitError> {
        let shapes = Layout::<Val, Challenge>::table_shapes(layout);
        let (num_variables, placements) = plan_stacked_layout(&shapes);
        debug_assert_eq!(num_variables, Layout::<Val, Challenge>::num_variables(layout));
        let (rebuilt, merkle) = commit_base(
            &self.dft,
            &self.mmcs,
            num_variables,
            self.first_folding(),
            self.log_inv_rate(),
            |message: &mut [Val]| {
                use rayon::prelude::*;
                // Every column's slot: `2^arity` cells at `selector index << arity`, as p3's
                // planner lays them; disjoint, so they are written in parallel.
                let mut slots: Vec<(usize, usize, usize)> = Vec::new();
                for placement in &placements {
                    let arity = shapes[placement.idx()].num_variables();
                    for (column, selector) in placement.selectors().iter().enumerate() {
                        slots.push((selector.index() << arity, placement.idx(), column));
                    }
                }
                slots.sort_unstable();
                let mut rest: &mut [Val] = message;
                let mut at = 0usize;
                let mut jobs: Vec<(&mut [Val], usize, usize)> = Vec::with_capacity(slots.len());
                for (start, table, column) in slots {
                    let len = 1usize << shapes[table].num_variables();
                    let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - at);
                    let (slot, tail) = tail.split_at_mut(len);
                    rest = tail;
                    at = start + len;
                    jobs.push((slot, table, column));
                }
                jobs.into_par_iter().for_each(|(slot, table, column)| {
                    Layout::<Val, Challenge>::table(layout, table).column(column).copy_into(slot);
                });
            },
        );
        if &rebuilt == root {
            Ok(merkle)
        } else {
            Err(RecommitError::RootMismatch)
        }
    }

    /// The codeword and tree for the opening: the held ones, or rebuilt.
    fn merkle_for_opening(
        &self,
        layout: &WhirLayout,
        root: &Root,
        held: Option<MerkleData>,
    ) -> Result<MerkleData, RecommitError> {
        match held {
            Some(merkle) => Ok(merkle),
            None => {
                let start = std::time::Instant::now();
                release_free_memory();
                let merkle = self.rebuild(layout, root);
                crate::aggregate::profile::profile("whir: first codeword rebuilt", start);
                merkle
            }
        }
    }

    /// The opening both [`MultilinearPcs::open`] and [`PrescribedPointPcs::open_at`] make, in
    /// p3-whir's adapter's order: the claim budget checked, the commitment's out-of-domain
    /// answers, each batch's evaluations by `eval` (given the layout, the batch's number, its
    /// table and its columns), then p3-whir's run, with the codeword held or rebuilt
    /// ([`Self::merkle_for_opening`], before the transcript is touched).
    ///
    /// # Errors
    /// p3-whir's configuration errors, and [`RecommitError::RootMismatch`].
    fn open_with(
        &self,
        data: RecommitData,
        protocol: &OpeningProtocol,
        challenger: &mut Challenger,
        mut eval: impl FnMut(
            &mut WhirLayout,
            usize,
            usize,
            &OpeningRequest,
            &mut Challenger,
        ) -> OpeningEvals<Challenge>,
    ) -> Result<PcsProof<Val, Challenge, ValMmcs>, RecommitError> {
        self.inner.validate_initial_claims(
            protocol
                .checked_num_claims()
                .and_then(|n| n.checked_add(self.inner.commitment_ood_samples()))
                .ok_or(WhirConfigError::InitialClaimCountOverflow)?,
        )?;
        let RecommitData { mut layout, root, merkle } = data;
        let merkle = self.merkle_for_opening(&layout, &root, merkle)?;
        let initial_ood_answers = (0..self.inner.commitment_ood_samples())
            .map(|_| layout.add_virtual_eval(challenger))
            .collect::<Vec<_>>();
        let evals = protocol
            .iter_openings()
            .enumerate()
            .map(|(i, (table_idx, batch))| eval(&mut layout, i, table_idx, batch, challenger))
            .collect::<Vec<_>>();
        let whir = self.inner.prove(
            initial_ood_answers,
            challenger,
            layout,
            merkle,
            protocol.num_openings(),
        )?;
        Ok(PcsProof { whir, evals })
    }
}

/// Hands the pages the allocator holds free back to the kernel (glibc's `malloc_trim`), so that
/// the memory the zerocheck and the GKR freed is not resident twice once the codeword is rebuilt.
///
/// glibc keeps freed blocks below its mmap threshold (which grows to 32 MiB as large blocks are
/// freed) in its arenas, resident: measured on the Type-2 bar's merge, the process's peak RSS was
/// 0.2 to 0.8 GiB above its peak heap from run to run. Trimming costs a walk of the arenas'
/// free lists (milliseconds) and changes nothing but residency. Other allocators and C libraries:
/// nothing is done.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: `malloc_trim` takes no pointer and may be called at any time from any thread;
        // it only returns free memory of the allocator's arenas to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}

impl MultilinearPcs<Challenge, Challenger> for RecommitPcs {
    type Val = Val;
    type Commitment = Root;
    type ProverData = RecommitData;
    type Proof = PcsProof<Val, Challenge, ValMmcs>;
    type Error = VerifierError;
    type ProverError = RecommitError;
    type Witness = Witness<Val>;
    type OpeningProtocol = OpeningProtocol;

    fn num_vars(&self) -> usize {
        MultilinearPcs::<Challenge, Challenger>::num_vars(&self.inner)
    }

    fn commit(
        &self,
        witness: Witness<Val>,
        challenger: &mut Challenger,
    ) -> Result<(Root, RecommitData), RecommitError> {
        // p3-whir's adapter: the layout commits (encode, tree), then the root is bound.
        assert_eq!(witness.num_variables(), self.num_vars());
        let start = std::time::Instant::now();
        let (layout, root, merkle) = <WhirLayout as Layout<Val, Challenge>>::commit(
            &self.dft,
            &self.mmcs,
            witness,
            self.first_folding(),
            self.log_inv_rate(),
        );
        crate::aggregate::profile::profile("whir: first codeword committed", start);
        self.observe_commitment(&root, challenger);
        let merkle = if self.recommit {
            drop(merkle);
            None
        } else {
            Some(merkle)
        };
        Ok((root.clone(), RecommitData { layout, root, merkle }))
    }

    fn observe_commitment(&self, commitment: &Root, challenger: &mut Challenger) {
        MultilinearPcs::<Challenge, Challenger>::observe_commitment(&self.inner, commitment, challenger)
    }

    fn open(
        &self,
        data: RecommitData,
        protocol: OpeningProtocol,
        challenger: &mut Challenger,
    ) -> Result<Self::Proof, RecommitError> {
        // p3-whir's adapter `open`: each batch at a point drawn from the transcript.
        self.open_with(data, &protocol, challenger, |layout, _, table_idx, batch, challenger| {
            layout.eval(table_idx, batch, challenger)
        })
    }

    fn verify(
        &self,
        commitment: &Root,
        proof: &Self::Proof,
        challenger: &mut Challenger,
        protocol: OpeningProtocol,
    ) -> Result<(), VerifierError> {
        MultilinearPcs::<Challenge, Challenger>::verify(&self.inner, commitment, proof, challenger, protocol)
    }
}

impl PrescribedPointPcs<Challenge, Challenger> for RecommitPcs {
    fn prescribed_security(&self, protocol: &OpeningProtocol) -> Option<PrescribedOpeningSecurity> {
        self.inner.prescribed_security(protocol)
    }

    fn open_at(
        &self,
        data: RecommitData,
        protocol: &OpeningProtocol,
        points: &[Point<Challenge>],
        challenger: &mut Challenger,
    ) -> Result<Self::Proof, RecommitError> {
        // p3-whir's adapter `open_at`: each batch at its prescribed point.
        assert_eq!(protocol.num_openings(), points.len());
        self.open_with(data, protocol, challenger, |layout, i, table_idx, batch, challenger| {
            layout.eval_at(table_idx, batch, &points[i], challenger)
        })
    }

    fn verify_at(
        &self,
        commitment: &Root,
        proof: &Self::Proof,
        protocol: &OpeningProtocol,
        points: &[Point<Challenge>],
        challenger: &mut Challenger,
    ) -> Result<Vec<OpeningEvals<Challenge>>, VerifierError> {
        self.inner.verify_at(commitment, proof, protocol, points, challenger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::preset::whir_presets;
    use crate::aggregate::whir::{num_variables, stark_config_with};
    use p3_field::PrimeCharacteristicRing;
    use p3_matrix::dense::RowMajorMatrix;
    use p3_multi_stark::config::MultiStarkConfig;
    use p3_sumcheck::{OpeningRequest, TableShape, TableSpec};
    use rand::{Rng, SeedableRng};

    /// Two tables of different heights and widths (2^7 x 3 and 2^9 x 5), random cells.
    fn tables(seed: u64) -> Vec<Table<Val>> {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        [(7usize, 3usize), (9, 5)]
            .into_iter()
            .map(|(arity, width)| {
                let cells = (0..width << arity).map(|_| Val::from_u32(rng.random::<u32>() >> 1));
                Table::new(RowMajorMatrix::new(cells.collect(), 1 << arity))
            })
            .collect()
    }

    /// Every column of both tables opened at a drawn point, the second table's first column
    /// also through its successor view.
    fn protocol() -> OpeningProtocol {
        OpeningProtocol::new(vec![
            TableSpec::new(
                TableShape::new(7, 3),
                vec![OpeningRequest::new(vec![0, 1, 2], vec![])],
            ),
            TableSpec::new(
                TableShape::new(9, 5),
                vec![OpeningRequest::new(vec![0, 1, 2, 3, 4], vec![0])],
            ),
        ])
    }

    /// Commits and opens `tables` through [`MultilinearPcs`] with the codeword held or rebuilt;
    /// returns the root, the serialized proof and whether the codeword was held.
    fn commit_and_open(recommit: bool, tables: Vec<Table<Val>>) -> (Root, Vec<u8>, bool) {
        let preset = whir_presets().next().unwrap();
        let first_folding = usize::from(preset.first_folding);
        let shapes: Vec<(usize, usize)> = tables
            .iter()
            .map(|t| (t.num_variables(), t.num_polys()))
            .collect();
        let config = stark_config_with(&preset, num_variables(&shapes, first_folding), recommit)
            .unwrap();
        let pcs = config.pcs();
        assert_eq!(pcs.recommit(), recommit);
        let mut challenger = crate::aggregate::whir::challenger();
        let (root, data) = pcs.commit(config.build_witness(tables), &mut challenger).unwrap();
        let held = data.holds_codeword();
        let proof = pcs.open(data, protocol(), &mut challenger).unwrap();
        // p3-whir's verifier accepts it, from the same transcript state.
        let mut verifier = crate::aggregate::whir::challenger();
        pcs.verify(&root, &proof, &mut verifier, protocol()).unwrap();
        (root, serde_json::to_vec(&proof).unwrap(), held)
    }

    /// The codeword dropped at the commitment and rebuilt at the opening gives the proof the
    /// held one gives, byte for byte, and p3-whir's verifier accepts it; only the prover's
    /// holding differs.
    #[test]
    fn a_rebuilt_codeword_opens_as_the_held_one() {
        // Grinding searches in parallel (`find_any`): one thread makes the proof deterministic.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        pool.install(|| {
            let (root_held, proof_held, held) = commit_and_open(false, tables(1));
            let (root_rebuilt, proof_rebuilt, held_after) = commit_and_open(true, tables(1));
            assert!(held && !held_after);
            assert_eq!(root_held, root_rebuilt);
            assert!(proof_held == proof_rebuilt, "the proofs differ");
            // Other tables, another proof: the comparison above is not of constants.
            let (root_other, proof_other, _) = commit_and_open(true, tables(2));
            assert_ne!(root_other, root_held);
            assert!(proof_other != proof_held);
        });
    }

    /// A rebuild whose root is not the committed one stops the opening with `RootMismatch`
    /// (here the committed root is another table's), before anything is proved.
    #[test]
    fn a_rebuild_against_another_root_is_refused() {
        let preset = whir_presets().next().unwrap();
        let first_folding = usize::from(preset.first_folding);
        let nv = num_variables(&[(7, 3), (9, 5)], first_folding);
        let config = stark_config_with(&preset, nv, true).unwrap();
        let pcs = config.pcs();
        let mut challenger = crate::aggregate::whir::challenger();
        let (_, data) = pcs.commit(config.build_witness(tables(1)), &mut challenger).unwrap();
        let (other_root, _) = pcs
            .commit(config.build_witness(tables(2)), &mut crate::aggregate::whir::challenger())
            .unwrap();
        let RecommitData { layout, root, merkle } = data;
        assert!(merkle.is_none());
        assert!(pcs.rebuild(&layout, &root).is_ok());
        assert!(matches!(
            pcs.rebuild(&layout, &other_root),
            Err(RecommitError::RootMismatch)
        ));
        // The same through the opening: the transcript is left before any claim is drawn.
        let forged = RecommitData { layout, root: other_root, merkle: None };
        assert!(matches!(
            pcs.open(forged, protocol(), &mut challenger),
            Err(RecommitError::RootMismatch)
        ));
    }
}
