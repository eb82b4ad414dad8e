//! The byte format of FRI-backend proofs: the 16-byte prefix of [`crate::aggregate::wire`]
//! (preset ids 0..=7), then an rkyv archive of `ProofBody`, our own flat mirror of
//! `p3_batch_stark::BatchProof<FriConfig<H>>` for either Merkle hash `H`.
//!
//! # The mirror
//!
//! Every field element is its canonical `u32` (`< p`); every extension element is 5 consecutive
//! `u32` (its coefficients over KoalaBear, `CHALLENGE_DEGREE`); every digest is its
//! [`WireDigest`] form: `[u8; 32]` over Keccak (the sponge's four `u64` words, little-endian),
//! `[u8; 36]` over Poseidon1 (nine canonical `u32`, little-endian). Nested vectors of the Plonky3 proof are flattened into one vector
//! per component whose sub-lengths the verifier derives from the statement ([`ProofShape`]) and the
//! preset, never from the bytes. There are no `Option`s and no padding: an absent commitment is the
//! all-zero digest, an absent witness is 0. See `ProofBody` for the field list.
//!
//! # Decoding and where copies happen
//!
//! [`decode`] works in this order, and nothing is allocated with a size read from the input:
//!
//! 1. prefix: magic, version, preset id, kind byte (an aggregate of signatures), exact archive length;
//! 2. alignment: if the archive (`bytes[16..]`) is 16-aligned in the caller's buffer it is
//!    validated **in place** (no copy); otherwise it is copied **once** into an
//!    `rkyv::util::AlignedVec<16>` of the input's length;
//! 3. `rkyv::access` validates the whole archive with bytecheck (every relative pointer and length
//!    inside the buffer, no overlapping claims) before any field is read;
//! 4. every length is compared to the one the shape and preset imply (instance count, trace
//!    heights, opened-value counts, lookup data, FRI rounds, queries, sibling counts, Merkle
//!    path bounds, final polynomial);
//! 5. conversion into a `BatchProof` (the only allocations proportional to the proof, all bounded
//!    by the input length), rejecting any field element `>= p`;
//! 6. canonicity: the proof is re-encoded and must reproduce the input byte for byte, so each proof
//!    has exactly one accepted encoding (this is the second copy-sized allocation).
//!
//! [`encode`] serializes the mirror with rkyv into an aligned buffer and copies it once behind the
//! prefix. The same proof always gives the same bytes.

use p3_batch_stark::proof::{BatchCommitments, BatchOpenedValues, OpenedValuesWithLookups};
use p3_batch_stark::BatchProof;
use p3_field::{BasedVectorSpace, PrimeField32};
use p3_fri::{BatchMultiOpening, CommitPhaseMultiStep, FriProof};
use p3_lookup::LookupTerminal;
use p3_uni_stark::{OpenedValues, PreprocessedOpenedValues};
use rkyv::rancor;

use super::config::{FriConfig, FriHash};
use super::security::ProofShape;
use crate::aggregate::field::{Challenge, Val, CHALLENGE_DEGREE};
use crate::aggregate::options::VerifyError;
use crate::aggregate::preset::{FriPreset, Preset};
use crate::aggregate::wire::{
    canonical, cap_from_wire, cap_root, check_at_most, check_len, decode_with, malformed,
    max_multiproof_siblings, push_ext, push_exts, with_prefix, WireBytes, WireDigest,
};

/// The wire form of hash `H`'s digests.
type WireOf<H> = <<H as FriHash>::Digest as WireDigest>::Bytes;

/// Flat mirror of the batch proof, with digests of wire form `D`. Field order is the wire order.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct ProofBody<D> {
    /// Per instance, log2 of its trace height (the proof's `degree_bits`, non-hiding PCS).
    degree_bits: Vec<u8>,
    /// Commitment to all main traces.
    commit_main: D,
    /// Commitment to all LogUp permutation traces; all-zero when no instance has lookups.
    commit_permutation: D,
    /// Commitment to all quotient chunks.
    commit_quotient: D,
    /// All opened values, instance after instance, each as: trace at `zeta` (`w`), trace at
    /// `g*zeta` (`w`, if read), preprocessed at `zeta` / `g*zeta`, quotient chunks
    /// (`chunks * 4`), permutation at `zeta` and `g*zeta` (`(lookups + 1) * 4` each, if any);
    /// counts in extension elements, `CHALLENGE_DEGREE` (5) `u32` each.
    opened: Vec<u32>,
    /// LogUp terminal (one extension element) of every instance with lookups, in order.
    lookup_terminals: Vec<u32>,
    /// Grinding witness before the LogUp challenges; 0 when no instance has lookups.
    lookup_pow_witness: u32,
    /// Grinding witness before the out-of-domain point.
    ood_pow_witness: u32,
    /// Grinding witness before the opening-batching challenge.
    batch_pow_witness: u32,
    /// Root of each FRI commit-phase codeword.
    fri_commits: Vec<D>,
    /// Grinding witness before each FRI folding challenge.
    fri_commit_pow_witnesses: Vec<u32>,
    /// Per input commitment (main, quotient, [preprocessed], [permutation]): the opened rows,
    /// query-major then matrix then column.
    input_values: Vec<Vec<u32>>,
    /// Per input commitment: the pruned Merkle multiproof (boundary siblings, frontier order).
    input_paths: Vec<Vec<D>>,
    /// Per FRI round: the `arity - 1` sibling evaluations of every query, 5 `u32` each.
    round_values: Vec<Vec<u32>>,
    /// Per FRI round: the pruned Merkle multiproof.
    round_paths: Vec<Vec<D>>,
    /// Coefficients of the FRI final polynomial, 5 `u32` each.
    final_poly: Vec<u32>,
    /// Grinding witness before the FRI query indices.
    query_pow_witness: u32,
}

impl<D: WireBytes> ProofBody<D> {
    fn from_proof<H: FriHash<Digest: WireDigest<Bytes = D>>>(proof: &BatchProof<FriConfig<H>>) -> Self {
        let mut opened = Vec::new();
        for inst in &proof.opened_values.instances {
            let b = &inst.base_opened_values;
            push_exts(&mut opened, &b.trace_local);
            if let Some(next) = &b.trace_next {
                push_exts(&mut opened, next);
            }
            if let Some(pre) = &b.preprocessed {
                push_exts(&mut opened, &pre.local);
                if let Some(next) = &pre.next {
                    push_exts(&mut opened, next);
                }
            }
            for chunk in &b.quotient_chunks {
                push_exts(&mut opened, chunk);
            }
            push_exts(&mut opened, &inst.permutation_local);
            push_exts(&mut opened, &inst.permutation_next);
        }
        let mut lookup_terminals = Vec::new();
        for t in proof.lookup_terminals.iter().flatten() {
            push_ext(&mut lookup_terminals, &t.0);
        }
        let fri = &proof.opening_proof;
        let input_values = fri
            .input_openings
            .iter()
            .map(|batch| {
                batch
                    .opened_values
                    .iter()
                    .flatten()
                    .flatten()
                    .map(|v| v.as_canonical_u32())
                    .collect()
            })
            .collect();
        let input_paths = fri
            .input_openings
            .iter()
            .map(|batch| H::paths_to_wire(&batch.opening_proof))
            .collect();
        let round_values = fri
            .commit_phase_openings
            .iter()
            .map(|round| {
                let mut v = Vec::new();
                for siblings in &round.sibling_values {
                    push_exts(&mut v, siblings);
                }
                v
            })
            .collect();
        let round_paths = fri
            .commit_phase_openings
            .iter()
            .map(|round| H::paths_to_wire(&round.opening_proof))
            .collect();
        let mut final_poly = Vec::new();
        push_exts(&mut final_poly, &fri.final_poly);
        ProofBody {
            degree_bits: proof
                .degree_bits
                .iter()
                .map(|&d| d.min(255) as u8)
                .collect(),
            commit_main: cap_root(&proof.commitments.main),
            commit_permutation: proof
                .commitments
                .permutation
                .as_ref()
                .map_or(WireOf::<H>::ZERO, cap_root),
            commit_quotient: cap_root(&proof.commitments.quotient_chunks),
            opened,
            lookup_terminals,
            lookup_pow_witness: proof.lookup_pow_witness.map_or(0, |w| w.as_canonical_u32()),
            ood_pow_witness: proof.ood_pow_witness.as_canonical_u32(),
            batch_pow_witness: fri.batch_pow_witness.as_canonical_u32(),
            fri_commits: fri.commit_phase_commits.iter().map(cap_root).collect(),
            fri_commit_pow_witnesses: fri
                .commit_pow_witnesses
                .iter()
                .map(|w| w.as_canonical_u32())
                .collect(),
            input_values,
            input_paths,
            round_values,
            round_paths,
            final_poly,
            query_pow_witness: fri.query_pow_witness.as_canonical_u32(),
        }
    }
}

/// Serializes a proof made under `preset` into the aggregate proof format (see the module docs).
///
/// Deterministic: the same proof always gives the same bytes. Copies: the rkyv archive is built in
/// an aligned scratch buffer and copied once behind the prefix.
pub fn encode<H: FriHash>(preset: &FriPreset, proof: &BatchProof<FriConfig<H>>) -> Vec<u8> {
    encode_body(preset, &ProofBody::from_proof::<H>(proof))
}

fn encode_body<D: WireBytes>(preset: &FriPreset, body: &ProofBody<D>) -> Vec<u8> {
    // Serializing plain vectors of integers into memory has no failure mode besides allocation
    // failure, which aborts anyway.
    let archive = rkyv::to_bytes::<rancor::Error>(body).expect("in-memory rkyv serialization");
    with_prefix(preset.id(), &archive)
}

/// The rkyv archive of `proof`'s mirror, without a prefix: the body of a parent proof's format
/// (`recursion::parent::ParentProof::to_bytes`). 16-aligned.
pub(crate) fn encode_archive<H: FriHash>(
    proof: &BatchProof<FriConfig<H>>,
) -> rkyv::util::AlignedVec {
    rkyv::to_bytes::<rancor::Error>(&ProofBody::from_proof::<H>(proof))
        .expect("in-memory rkyv serialization")
}

/// Steps 2 to 5 of [`decode`] on an archive without its prefix ([`encode_archive`]'s), made
/// under `preset` for a batch of shape `expected`. The caller checks canonicity.
///
/// # Errors
/// [`VerifyError::Malformed`] as [`decode`].
pub(crate) fn decode_archive_against<H: FriHash>(
    archive: &[u8],
    preset: &FriPreset,
    expected: &ProofShape,
) -> Result<BatchProof<FriConfig<H>>, VerifyError> {
    crate::aggregate::wire::decode_archive(archive, |body: &ArchivedProofBody<WireOf<H>>| {
        let e = Expected::new(preset, expected)?;
        check_shape(body, expected, &e)?;
        to_proof::<H>(body, expected, &e)
    })
}

/// The lengths a well-formed proof of `shape` under `preset` has, derived without the proof.
struct Expected {
    /// Opened values per instance, in `u32`.
    opened: usize,
    lookup_instances: usize,
    /// Per input commitment: row width sum (base elements per query) and Merkle tree height.
    input_batches: Vec<(usize, usize)>,
    /// Per FRI round: log arity and Merkle tree height.
    rounds: Vec<(usize, usize)>,
    final_poly: usize,
    num_queries: usize,
}

impl Expected {
    fn new(preset: &FriPreset, shape: &ProofShape) -> Result<Self, VerifyError> {
        let d = CHALLENGE_DEGREE;
        let log_blowup = usize::from(preset.log_inv_rate);
        let min_log = preset.min_log_trace_height();
        let mut opened = 0usize;
        let (mut main_w, mut quot_w, mut pre_w, mut perm_w) = (0, 0, 0, 0);
        let (mut main_h, mut quot_h, mut pre_h, mut perm_h) = (0, 0, 0, 0);
        let mut lde_heights = Vec::with_capacity(shape.instances.len());
        let mut lookup_instances = 0;
        for a in &shape.instances {
            // Shapes come from the verifier's own AIRs, but a nonsensical one must not overflow.
            if a.log_height < min_log
                || a.log_height > 27
                || !a.num_quotient_chunks.is_power_of_two()
            {
                return Err(malformed(format!(
                    "statement shape has trace log height {} / {} quotient chunks, outside this preset",
                    a.log_height, a.num_quotient_chunks
                )));
            }
            let lde = a.log_height + log_blowup;
            lde_heights.push(lde);
            let rows = |w: usize, next: bool| w * (1 + usize::from(next));
            let perm_cols = if a.num_lookups > 0 {
                (a.num_lookups + 1) * d
            } else {
                0
            };
            opened += d
                * (rows(a.main_width, a.main_next)
                    + rows(a.preprocessed_width, a.preprocessed_next)
                    + a.num_quotient_chunks * d
                    + 2 * perm_cols);
            main_w += a.main_width;
            main_h = main_h.max(lde);
            quot_w += a.num_quotient_chunks * d;
            quot_h = quot_h.max(lde);
            if a.preprocessed_width > 0 {
                pre_w += a.preprocessed_width;
                pre_h = pre_h.max(lde);
            }
            if a.num_lookups > 0 {
                lookup_instances += 1;
                perm_w += perm_cols;
                perm_h = perm_h.max(lde);
            }
        }
        let mut input_batches = vec![(main_w, main_h), (quot_w, quot_h)];
        if pre_w > 0 {
            input_batches.push((pre_w, pre_h));
        }
        if perm_w > 0 {
            input_batches.push((perm_w, perm_h));
        }
        lde_heights.sort_unstable_by(|a, b| b.cmp(a));
        lde_heights.dedup();
        let schedule = p3_fri::fold_schedule(
            &lde_heights,
            log_blowup + usize::from(preset.log_final_poly_len),
            usize::from(preset.max_log_arity),
        );
        let mut h = lde_heights.first().copied().unwrap_or(0);
        let rounds = schedule
            .iter()
            .map(|&arity| {
                let tree = h - arity;
                h -= arity;
                (arity, tree)
            })
            .collect();
        Ok(Expected {
            opened,
            lookup_instances,
            input_batches,
            rounds,
            final_poly: (1usize << preset.log_final_poly_len) * d,
            num_queries: usize::from(preset.num_queries),
        })
    }
}

/// The length of the longest proof under `preset` for a statement of `shape`: every count at the
/// value the shape fixes and every Merkle multiproof at [`max_multiproof_siblings`], encoded
/// exactly as [`encode`] would (the rkyv layout depends on the lengths alone, so this is the
/// encoded length of that worst case, prefix included).
///
/// # Errors
/// [`VerifyError::Malformed`] when the shape does not fit the preset (as [`decode`]).
pub fn max_encoded_len<H: FriHash>(preset: &FriPreset, shape: &ProofShape) -> Result<usize, VerifyError> {
    let zero = WireOf::<H>::ZERO;
    let e = Expected::new(preset, shape)?;
    let q = e.num_queries;
    let body = ProofBody {
        degree_bits: vec![0; shape.instances.len()],
        commit_main: zero,
        commit_permutation: zero,
        commit_quotient: zero,
        opened: vec![0; e.opened],
        lookup_terminals: vec![0; e.lookup_instances * CHALLENGE_DEGREE],
        lookup_pow_witness: 0,
        ood_pow_witness: 0,
        batch_pow_witness: 0,
        fri_commits: vec![zero; e.rounds.len()],
        fri_commit_pow_witnesses: vec![0; e.rounds.len()],
        input_values: e
            .input_batches
            .iter()
            .map(|&(w, _)| vec![0; q * w])
            .collect(),
        input_paths: e
            .input_batches
            .iter()
            .map(|&(_, h)| vec![zero; max_multiproof_siblings(q, h)])
            .collect(),
        round_values: e
            .rounds
            .iter()
            .map(|&(arity, _)| vec![0; q * ((1usize << arity) - 1) * CHALLENGE_DEGREE])
            .collect(),
        round_paths: e
            .rounds
            .iter()
            .map(|&(_, h)| vec![zero; max_multiproof_siblings(q, h)])
            .collect(),
        final_poly: vec![0; e.final_poly],
        query_pow_witness: 0,
    };
    Ok(encode_body(preset, &body).len())
}

/// Checks every length of a validated archive against the expected shape.
fn check_shape<D: WireBytes>(
    body: &ArchivedProofBody<D>,
    shape: &ProofShape,
    e: &Expected,
) -> Result<(), VerifyError> {
    let n = shape.instances.len();
    check_len("instances (degree_bits)", body.degree_bits.len(), n)?;
    for (i, (&got, a)) in body.degree_bits.iter().zip(&shape.instances).enumerate() {
        if usize::from(got) != a.log_height {
            return Err(malformed(format!(
                "instance {i} has trace log height {got}, expected {}",
                a.log_height
            )));
        }
    }
    check_len("opened values", body.opened.len(), e.opened)?;
    check_len(
        "lookup terminals",
        body.lookup_terminals.len(),
        e.lookup_instances * CHALLENGE_DEGREE,
    )?;
    if e.lookup_instances == 0 {
        if body.commit_permutation != D::ZERO {
            return Err(malformed("permutation commitment present without lookups"));
        }
        if body.lookup_pow_witness.to_native() != 0 {
            return Err(malformed("lookup grinding witness present without lookups"));
        }
    }
    check_len(
        "FRI commit-phase commitments",
        body.fri_commits.len(),
        e.rounds.len(),
    )?;
    check_len(
        "FRI commit-phase grinding witnesses",
        body.fri_commit_pow_witnesses.len(),
        e.rounds.len(),
    )?;
    check_len(
        "FRI input commitments (values)",
        body.input_values.len(),
        e.input_batches.len(),
    )?;
    check_len(
        "FRI input commitments (paths)",
        body.input_paths.len(),
        e.input_batches.len(),
    )?;
    for (b, (&(width, height), (vals, paths))) in e
        .input_batches
        .iter()
        .zip(body.input_values.iter().zip(body.input_paths.iter()))
        .enumerate()
    {
        check_len(
            &format!("input batch {b} opened values"),
            vals.len(),
            e.num_queries * width,
        )?;
        check_at_most(
            &format!("input batch {b} Merkle siblings"),
            paths.len(),
            max_multiproof_siblings(e.num_queries, height),
        )?;
    }
    check_len(
        "FRI rounds (values)",
        body.round_values.len(),
        e.rounds.len(),
    )?;
    check_len("FRI rounds (paths)", body.round_paths.len(), e.rounds.len())?;
    for (r, (&(arity, height), (vals, paths))) in e
        .rounds
        .iter()
        .zip(body.round_values.iter().zip(body.round_paths.iter()))
        .enumerate()
    {
        let siblings = ((1usize << arity) - 1) * CHALLENGE_DEGREE;
        check_len(
            &format!("FRI round {r} sibling values"),
            vals.len(),
            e.num_queries * siblings,
        )?;
        check_at_most(
            &format!("FRI round {r} Merkle siblings"),
            paths.len(),
            max_multiproof_siblings(e.num_queries, height),
        )?;
    }
    check_len("FRI final polynomial", body.final_poly.len(), e.final_poly)?;
    Ok(())
}

/// Reads canonical field elements; rejects any `>= p`.
struct FieldReader<'a> {
    words: &'a [rkyv::rend::u32_le],
    pos: usize,
    what: &'static str,
}

impl<'a> FieldReader<'a> {
    fn new(words: &'a [rkyv::rend::u32_le], what: &'static str) -> Self {
        FieldReader {
            words,
            pos: 0,
            what,
        }
    }

    fn val(&mut self) -> Result<Val, VerifyError> {
        // Lengths were checked against the shape; running out is still an error, not a panic.
        let w = self
            .words
            .get(self.pos)
            .ok_or_else(|| malformed(format!("{}: ran out of values", self.what)))?
            .to_native();
        self.pos += 1;
        canonical(w, self.what)
    }

    fn ext(&mut self) -> Result<Challenge, VerifyError> {
        let mut c = [Val::new(0); CHALLENGE_DEGREE];
        for x in &mut c {
            *x = self.val()?;
        }
        Ok(Challenge::from_basis_coefficients_fn(|i| c[i]))
    }

    fn exts(&mut self, n: usize) -> Result<Vec<Challenge>, VerifyError> {
        (0..n).map(|_| self.ext()).collect()
    }
}

/// Converts a validated, shape-checked archive into the Plonky3 proof.
fn to_proof<H: FriHash>(
    body: &ArchivedProofBody<WireOf<H>>,
    shape: &ProofShape,
    e: &Expected,
) -> Result<BatchProof<FriConfig<H>>, VerifyError> {
    let d = CHALLENGE_DEGREE;
    let mut r = FieldReader::new(&body.opened, "opened values");
    let mut instances = Vec::with_capacity(shape.instances.len());
    for a in &shape.instances {
        let trace_local = r.exts(a.main_width)?;
        let trace_next = if a.main_next {
            Some(r.exts(a.main_width)?)
        } else {
            None
        };
        let preprocessed = if a.preprocessed_width > 0 {
            let local = r.exts(a.preprocessed_width)?;
            let next = if a.preprocessed_next {
                Some(r.exts(a.preprocessed_width)?)
            } else {
                None
            };
            Some(PreprocessedOpenedValues { local, next })
        } else {
            None
        };
        let quotient_chunks = (0..a.num_quotient_chunks)
            .map(|_| r.exts(d))
            .collect::<Result<Vec<_>, _>>()?;
        let perm_cols = if a.num_lookups > 0 {
            (a.num_lookups + 1) * d
        } else {
            0
        };
        let permutation_local = r.exts(perm_cols)?;
        let permutation_next = r.exts(perm_cols)?;
        instances.push(OpenedValuesWithLookups {
            base_opened_values: OpenedValues {
                trace_local,
                trace_next,
                preprocessed,
                quotient_chunks,
                random: None,
            },
            permutation_local,
            permutation_next,
        });
    }
    let mut t = FieldReader::new(&body.lookup_terminals, "lookup terminals");
    let lookup_terminals = shape
        .instances
        .iter()
        .map(|a| {
            if a.num_lookups > 0 {
                t.ext().map(|x| Some(LookupTerminal(x)))
            } else {
                Ok(None)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let has_lookups = e.lookup_instances > 0;

    let q = e.num_queries;
    let mut input_openings = Vec::with_capacity(e.input_batches.len());
    let batch_widths = input_matrix_widths(shape);
    for ((vals, ps), widths) in body
        .input_values
        .iter()
        .zip(body.input_paths.iter())
        .zip(&batch_widths)
    {
        let mut rd = FieldReader::new(vals, "FRI input openings");
        let mut opened_values = Vec::with_capacity(q);
        for _ in 0..q {
            let rows = widths
                .iter()
                .map(|&w| (0..w).map(|_| rd.val()).collect::<Result<Vec<_>, _>>())
                .collect::<Result<Vec<_>, _>>()?;
            opened_values.push(rows);
        }
        input_openings.push(BatchMultiOpening {
            opened_values,
            opening_proof: H::paths_from_wire(ps)?,
        });
    }
    let mut commit_phase_openings = Vec::with_capacity(e.rounds.len());
    for ((vals, ps), &(arity, _)) in body
        .round_values
        .iter()
        .zip(body.round_paths.iter())
        .zip(&e.rounds)
    {
        let mut rd = FieldReader::new(vals, "FRI sibling values");
        let sibling_values = (0..q)
            .map(|_| rd.exts((1 << arity) - 1))
            .collect::<Result<Vec<_>, _>>()?;
        commit_phase_openings.push(CommitPhaseMultiStep {
            sibling_values,
            opening_proof: H::paths_from_wire(ps)?,
        });
    }
    let final_poly =
        FieldReader::new(&body.final_poly, "FRI final polynomial").exts(e.final_poly / d)?;
    let witnesses = body
        .fri_commit_pow_witnesses
        .iter()
        .map(|w| canonical(w.to_native(), "FRI commit-phase grinding witness"))
        .collect::<Result<Vec<_>, _>>()?;
    let opening_proof = FriProof {
        batch_pow_witness: canonical(body.batch_pow_witness.to_native(), "batch grinding witness")?,
        commit_phase_commits: body
            .fri_commits
            .iter()
            .map(cap_from_wire)
            .collect::<Result<_, _>>()?,
        commit_pow_witnesses: witnesses,
        input_openings,
        commit_phase_openings,
        final_poly,
        query_pow_witness: canonical(body.query_pow_witness.to_native(), "query grinding witness")?,
    };
    Ok(BatchProof {
        commitments: BatchCommitments {
            main: cap_from_wire(&body.commit_main)?,
            permutation: if has_lookups {
                Some(cap_from_wire(&body.commit_permutation)?)
            } else {
                None
            },
            quotient_chunks: cap_from_wire(&body.commit_quotient)?,
            random: None,
        },
        opened_values: BatchOpenedValues { instances },
        opening_proof,
        lookup_terminals,
        degree_bits: shape.instances.iter().map(|a| a.log_height).collect(),
        lookup_pow_witness: if has_lookups {
            Some(canonical(
                body.lookup_pow_witness.to_native(),
                "lookup grinding witness",
            )?)
        } else {
            None
        },
        ood_pow_witness: canonical(body.ood_pow_witness.to_native(), "OOD grinding witness")?,
    })
}

/// Row width of every committed matrix, per input commitment, in commit order: main traces,
/// quotient chunks, preprocessed traces, permutation traces.
fn input_matrix_widths(shape: &ProofShape) -> Vec<Vec<usize>> {
    let d = CHALLENGE_DEGREE;
    let main = shape.instances.iter().map(|a| a.main_width).collect();
    let quotient = shape
        .instances
        .iter()
        .flat_map(|a| core::iter::repeat_n(d, a.num_quotient_chunks))
        .collect();
    let pre: Vec<usize> = shape
        .instances
        .iter()
        .filter(|a| a.preprocessed_width > 0)
        .map(|a| a.preprocessed_width)
        .collect();
    let perm: Vec<usize> = shape
        .instances
        .iter()
        .filter(|a| a.num_lookups > 0)
        .map(|a| (a.num_lookups + 1) * d)
        .collect();
    let mut out = vec![main, quotient];
    if !pre.is_empty() {
        out.push(pre);
    }
    if !perm.is_empty() {
        out.push(perm);
    }
    out
}

/// Decodes and fully validates an aggregate proof for a statement of the given shape.
///
/// Returns the preset named in the prefix (the caller checks it against its own requirements)
/// and a `BatchProof` whose every length matches `expected`, so the STARK verifier never sees a
/// mis-shaped proof. See the module docs for the order of checks and where copies happen.
///
/// # Errors
/// [`VerifyError::Malformed`] with a message naming the first problem: prefix (magic, version,
/// preset, kind byte, truncation, trailing bytes), archive validation, any length that
/// disagrees with `expected`, a non-canonical field element, or a non-canonical encoding.
pub fn decode<H: FriHash>(
    bytes: &[u8],
    expected: &ProofShape,
) -> Result<(FriPreset, BatchProof<FriConfig<H>>), VerifyError> {
    decode_with(
        bytes,
        |p: &Preset| p.as_fri().filter(|f| f.hash == H::HASH),
        "not a FRI preset over this Merkle hash",
        |preset, body: &ArchivedProofBody<WireOf<H>>| {
            let e = Expected::new(preset, expected)?;
            check_shape(body, expected, &e)?;
            to_proof::<H>(body, expected, &e)
        },
        encode::<H>,
    )
}

/// Size in bytes of each component of an encoded proof's archive payload (not counting rkyv's
/// relative pointers and lengths, 8 bytes per vector), for reporting.
pub fn component_sizes<H: FriHash>(proof: &BatchProof<FriConfig<H>>) -> Vec<(&'static str, usize)> {
    let b = ProofBody::from_proof::<H>(proof);
    let digest = core::mem::size_of::<WireOf<H>>();
    let words = |v: &[u32]| 4 * v.len();
    let nested = |v: &[Vec<u32>]| v.iter().map(|x| 4 * x.len()).sum::<usize>();
    let digests = |v: &[Vec<WireOf<H>>]| v.iter().map(|x| digest * x.len()).sum::<usize>();
    vec![
        (
            "commitments (main, permutation, quotient, FRI rounds)",
            digest * (3 + b.fri_commits.len()),
        ),
        ("opened values at zeta / g*zeta", words(&b.opened)),
        ("lookup terminals", words(&b.lookup_terminals)),
        (
            "grinding witnesses",
            4 * (4 + b.fri_commit_pow_witnesses.len()),
        ),
        ("FRI input openings (opened rows)", nested(&b.input_values)),
        ("FRI input Merkle multiproofs", digests(&b.input_paths)),
        ("FRI commit-phase sibling values", nested(&b.round_values)),
        (
            "FRI commit-phase Merkle multiproofs",
            digests(&b.round_paths),
        ),
        ("FRI final polynomial", words(&b.final_poly)),
    ]
}
