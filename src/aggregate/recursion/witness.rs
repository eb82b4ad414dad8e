//! The witness of one child's verification: what each verifier AIR of a [`ChildShape`] reads,
//! taken from the child's proof and its recorded transcript.
//!
//! The parent's prover runs the native verifier on the child first
//! ([`super::child_verification_trace`], which records every transcript element), then reads
//! here, for each AIR, the values its schedule names:
//! - the transcript's observed values, bit samples, roots, claims, gathered elements and the
//!   out-of-domain check's inputs, by position;
//! - one full Merkle path per query and commitment, restored from the proof's pruned
//!   multiproofs by Plonky3's own `restore_and_recompute_paths` (the same walk its verifier
//!   makes), the commit-phase rows rebuilt as `verify_fri` rebuilds them (the folded value at
//!   the group index, the siblings around it);
//! - each query's reduced openings from the DEEP quotient AIR's own trace filler, and its folds
//!   by Plonky3's `fold_row`, so that every fold row, roll-in and final-polynomial point is the
//!   value the native verifier computes.
//!
//! Nothing here is trusted: every value is what an AIR then checks. A proof whose shape is not
//! the [`ChildShape`]'s is refused with a message, never a panic.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use p3_field::{Field, PrimeCharacteristicRing, PrimeField32, TwoAdicField};
use p3_fri::{FriFoldingStrategy, TwoAdicFriFolding};
use p3_matrix::Dimensions;
use p3_util::reverse_bits_len;

use super::child::ChildShape;
use super::deep::{matrix_claims, DeepInput, DeepQuotientAir, MatrixClaim};
use super::ext::{self, D};
use super::fold::FoldInput;
use super::merkle::MerkleOpening;
use super::ood::Input;
use super::schedule::Element;
use super::TranscriptEvent;
use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::{FriConfig, FriHash, Poseidon1, POSEIDON1_DIGEST_ELEMS};
use crate::xmss::F;

/// A decoded child proof under the recursion-ready preset.
pub type ChildProof = p3_batch_stark::BatchProof<FriConfig<Poseidon1>>;

/// What each verifier AIR reads for one child (one transcript).
#[derive(Clone, Debug)]
pub struct ChildWitness {
    /// [`super::duplex::DuplexAir`]: the observed values, in transcript order.
    pub observed: Vec<F>,
    /// [`super::commit::CommitmentAir`]: each root, in the shape's commitment order.
    pub roots: Vec<[F; POSEIDON1_DIGEST_ELEMS]>,
    /// [`super::bits::SampledBitsAir`]: each bit sample's element.
    pub drawn: Vec<F>,
    /// [`super::terms::DeepTermsAir`]: the opening-batching `alpha` and each DEEP matrix's
    /// claims.
    pub alpha: Challenge,
    /// Each DEEP matrix's claimed values (shape order), read from the transcript at their
    /// positions.
    pub claims: Vec<MatrixClaim>,
    /// [`super::gather::GatherAir`]: the gathered elements.
    pub gathered: Vec<Challenge>,
    /// [`super::ood_air::OodAir`]: the check's inputs, in its layout's order.
    pub ood: Vec<Challenge>,
    /// [`super::observed::ObservedAir`]: each of the shape's `observations`.
    pub observations: Vec<F>,
    /// One [`super::merkle::MmcsOpeningAir`] per commitment (the shape's `openings` order): each
    /// query's opening.
    pub openings: Vec<Vec<MerkleOpening>>,
    /// [`super::deep::DeepQuotientAir`].
    pub deep: DeepInput,
    /// [`super::fold::FriFoldAir`]: query by query, round by round.
    pub fold: Vec<FoldInput>,
    /// [`super::final_poly::FinalPolyAir`]: the coefficients, and each query's final index and
    /// point.
    pub final_poly: (Vec<Challenge>, Vec<(usize, F)>),
}

impl ChildWitness {
    /// The same witness for the child numbered `transcript` in a parent's batch (the number
    /// every bus message of its blocks is keyed by; [`ChildWitness::new`] numbers it 0).
    pub fn with_transcript(mut self, transcript: u32) -> Self {
        for o in self.openings.iter_mut().flatten() {
            o.transcript = transcript;
        }
        self
    }

    /// The witness of the child whose native verification recorded `transcript`, with decoded
    /// proof `proof`, for its shape `shape`.
    ///
    /// # Errors
    /// A message if the transcript or the proof does not have the shape's structure (lengths,
    /// widths, rounds, siblings), or a Merkle multiproof does not restore.
    pub fn new(
        shape: &ChildShape,
        transcript: &[TranscriptEvent],
        proof: &ChildProof,
    ) -> Result<Self, String> {
        let s = &shape.schedule;
        if transcript.len() != s.elements.len() {
            return Err(format!(
                "{} transcript elements, the shape has {}",
                transcript.len(),
                s.elements.len()
            ));
        }
        let v: Vec<F> = transcript.iter().map(|e| e.value()).collect();
        let ext_at = |p: usize| ext::element(core::array::from_fn(|i| v[p + i]));
        let observed = transcript
            .iter()
            .filter_map(|e| match *e {
                TranscriptEvent::Observe(x) => Some(x),
                TranscriptEvent::Sample(_) => None,
            })
            .collect();
        let roots = shape
            .commitments
            .iter()
            .map(|c| core::array::from_fn(|i| v[c.position + i]))
            .collect();
        let drawn = shape.bits.draws().iter().map(|(p, _)| v[*p]).collect();
        let claims: Vec<MatrixClaim> = shape
            .claims
            .iter()
            .zip(shape.deep.matrices())
            .map(|(c, (_, m))| {
                let row = |first: usize| (0..m.width).map(|col| ext_at(first + D * col)).collect();
                MatrixClaim {
                    at_zeta: row(c.zeta),
                    at_zeta_next: c.zeta_next.map(row),
                }
            })
            .collect();
        let alpha = ext_at(shape.deep.alpha_positions()[0]);
        let zeta = ext_at(
            s.position(Element::Challenge {
                challenge: super::schedule::Sampled::Zeta,
                coord: 0,
            })
            .ok_or("no zeta")?,
        );
        let gathered = shape.gathered.iter().map(|g| ext_at(g.position)).collect();
        let observations = shape
            .observations
            .iter()
            .map(|o| match o.kind {
                super::observed::Observed::Parameter(value) => value,
                _ => v[o.position],
            })
            .collect();
        let ood = shape
            .ood
            .inputs
            .iter()
            .map(|&i| {
                if let Input::Param { instance, index } = i {
                    return shape
                        .ood_params
                        .get(instance)
                        .and_then(|v| v.get(index))
                        .map(|&x| Challenge::from(x))
                        .ok_or_else(|| format!("no value for {i:?}"));
                }
                let p = s.input_position(i).ok_or("an input off the transcript")?;
                Ok(match i {
                    Input::Public { .. } => Challenge::from(v[p]),
                    _ => ext_at(p),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;

        // The query indices into the tallest LDE.
        let queries = shape.deep.queries();
        let k = shape
            .schedule
            .bits
            .get(&queries[0])
            .copied()
            .ok_or("a query without bits")?;
        let indices: Vec<usize> = queries
            .iter()
            .map(|&p| v[p].as_canonical_u32() as usize & ((1 << k) - 1))
            .collect();

        // The trace commitments' openings.
        let fri = &proof.opening_proof;
        let rounds = shape.fold.rounds();
        let trace_commitments = shape.openings.len() - rounds.len();
        if fri.input_openings.len() != trace_commitments
            || fri.commit_phase_openings.len() != rounds.len()
            || fri.final_poly.len() != shape.final_poly.len()
        {
            return Err("the proof's commitments are not the shape's".into());
        }
        let mmcs = Poseidon1::mmcs(0);
        let mut openings = Vec::new();
        for (o, batch) in shape.openings.iter().zip(&fri.input_openings) {
            let dims: Vec<Dimensions> = o
                .dims
                .iter()
                .map(|&(height, width)| Dimensions { width, height })
                .collect();
            let h = o
                .dims
                .iter()
                .map(|d| d.0)
                .max()
                .ok_or("no matrix")?
                .trailing_zeros() as usize;
            if batch.opened_values.len() != queries.len()
                || batch.opened_values.iter().any(|rows| {
                    rows.len() != o.dims.len()
                        || rows.iter().zip(&o.dims).any(|(r, d)| r.len() != d.1)
                })
            {
                return Err(format!(
                    "{:?}: opened rows not of the shape's widths",
                    o.root
                ));
            }
            let at: Vec<usize> = indices.iter().map(|i| i >> (k - h)).collect();
            let paths = mmcs
                .restore_and_recompute_paths(&dims, &at, &batch.opened_values, &batch.opening_proof)
                .map_err(|e| format!("{:?}: {e:?}", o.root))?;
            openings.push(
                paths
                    .into_iter()
                    .enumerate()
                    .map(|(q, path)| MerkleOpening {
                        transcript: 0,
                        query: queries[q],
                        point: shape.deep.window(indices[q], h).1,
                        rows: batch.opened_values[q].clone(),
                        index: at[q],
                        siblings: path.siblings,
                    })
                    .collect(),
            );
        }

        // The DEEP quotient's input, and its reduced openings.
        let rows: Vec<Vec<Vec<F>>> = (0..queries.len())
            .map(|q| {
                shape
                    .deep_sources
                    .iter()
                    .map(|&(b, m)| fri.input_openings[b].opened_values[q][m].clone())
                    .collect()
            })
            .collect();
        let deep = DeepInput {
            alpha,
            zeta,
            indices: indices.clone(),
            rows,
            terms: matrix_claims(&shape.deep, alpha, &claims),
        };
        let (_, sent) =
            DeepQuotientAir::new(shape.deep.clone()).generate_trace(std::slice::from_ref(&deep), 1);
        let key = |m: &[F]| {
            (
                m[1].as_canonical_u32() as usize,
                m[2].as_canonical_u32() as usize,
            )
        };
        let value = |m: &[F]| ext::element(core::array::from_fn(|i| m[3 + i]));
        let initial: BTreeMap<usize, Challenge> =
            sent.folds.iter().map(|m| (key(m).0, value(m))).collect();
        let roll_ins: BTreeMap<(usize, usize), Challenge> =
            sent.roll_ins.iter().map(|m| (key(m), value(m))).collect();

        // The folds, query by query, as `verify_fri` runs them; the commit-phase openings.
        let folding = TwoAdicFriFolding::<(), ()>(PhantomData);
        let betas: Vec<Challenge> = rounds.iter().map(|r| ext_at(r.beta_positions[0])).collect();
        let mut fold = Vec::new();
        let mut round_rows: Vec<Vec<Vec<F>>> = vec![Vec::new(); rounds.len()];
        let mut points = Vec::new();
        for (q, &index) in indices.iter().enumerate() {
            let mut folded = *initial.get(&queries[q]).ok_or("no reduced opening")?;
            let mut i = index;
            let mut log_height = k;
            for (r, round) in rounds.iter().enumerate() {
                let a = round.log_arity;
                let siblings = fri.commit_phase_openings[r]
                    .sibling_values
                    .get(q)
                    .filter(|s| s.len() + 1 == 1 << a)
                    .ok_or("a commit-phase row not of the round's arity")?;
                let group_index = i % (1 << a);
                let mut evals = siblings.clone();
                evals.insert(group_index, folded);
                i >>= a;
                log_height -= a;
                let beta = betas[r];
                let ro = roll_ins
                    .get(&(queries[q], r))
                    .copied()
                    .unwrap_or(Challenge::ZERO);
                folded = FriFoldingStrategy::<F, Challenge>::fold_row(
                    &folding,
                    i,
                    log_height,
                    a,
                    beta,
                    evals.iter().copied(),
                );
                if round.rolls_in {
                    folded += beta.exp_power_of_2(a) * ro;
                }
                let s = F::two_adic_generator(log_height + a)
                    .exp_u64(reverse_bits_len(i, log_height) as u64);
                round_rows[r].push(evals.iter().flat_map(|&e| ext::coords(e)).collect());
                fold.push(FoldInput {
                    evals,
                    beta,
                    group_index,
                    parent_index: i,
                    s_inv: s.inverse(),
                    ro,
                });
            }
            let x =
                F::two_adic_generator(log_height).exp_u64(reverse_bits_len(i, log_height) as u64);
            points.push((i, x));
        }
        let mut start = 0;
        for ((r, round), o) in rounds
            .iter()
            .enumerate()
            .zip(&shape.openings[trace_commitments..])
        {
            start += round.log_arity;
            let at: Vec<usize> = indices.iter().map(|i| i >> start).collect();
            let opened: Vec<Vec<Vec<F>>> =
                round_rows[r].iter().map(|row| vec![row.clone()]).collect();
            let dims = [Dimensions {
                width: o.dims[0].1,
                height: o.dims[0].0,
            }];
            let paths = mmcs
                .restore_and_recompute_paths(
                    &dims,
                    &at,
                    &opened,
                    &fri.commit_phase_openings[r].opening_proof,
                )
                .map_err(|e| format!("round {r}: {e:?}"))?;
            openings.push(
                paths
                    .into_iter()
                    .enumerate()
                    .map(|(q, path)| MerkleOpening {
                        transcript: 0,
                        query: queries[q],
                        point: fold[q * rounds.len() + r].s_inv,
                        rows: opened[q].clone(),
                        index: at[q],
                        siblings: path.siblings,
                    })
                    .collect(),
            );
        }
        let coeffs = (0..shape.final_poly.len())
            .map(|c| ext_at(shape.final_poly.positions[D * c]))
            .collect();

        Ok(Self {
            observed,
            roots,
            drawn,
            alpha,
            claims,
            gathered,
            ood,
            observations,
            openings,
            deep,
            fold,
            final_poly: (coeffs, points),
        })
    }
}

#[cfg(test)]
mod tests {
    //! A real child's whole verification in the verifier AIRs, every schedule derived by
    //! [`ChildShape`] and every witness read by [`ChildWitness`].

    use std::collections::BTreeSet;

    use super::*;
    use crate::aggregate::air::perm::{shared_table, Perm24TableAir};
    use crate::aggregate::air::PERM24_FULL_BUS;
    use crate::aggregate::recursion::bits::{SampledBitsAir, QUERY_INDEX_BUS};
    use crate::aggregate::recursion::commit::{CommitmentAir, COMMITMENT_ROOT_BUS};
    use crate::aggregate::recursion::deep::DEEP_MATRIX_BUS;
    use crate::aggregate::recursion::duplex::{
        DuplexAir, TRANSCRIPT_OBSERVE_BUS, TRANSCRIPT_SAMPLE_BUS,
    };
    use crate::aggregate::recursion::final_poly::{FinalPolyAir, FINAL_POLY_BUS};
    use crate::aggregate::recursion::fold::{FriFoldAir, FRI_FOLD_BUS, FRI_ROLL_IN_BUS};
    use crate::aggregate::recursion::gather::GatherAir;
    use crate::aggregate::recursion::harness::{Batch, Failed, TestAir, MIN_HEIGHT};
    use crate::aggregate::recursion::keyset::{
        ChildKeys, KeySetAir, CHILD_STATEMENT_BUS, COUNT_SLOT, KEY_SET_BUS,
    };
    use crate::aggregate::recursion::merkle::{MmcsOpeningAir, MERKLE_VALUES_BUS};
    use crate::aggregate::recursion::observed::{Observed, ObservedAir};
    use crate::aggregate::recursion::ood::tests::{real_child_of, Child};
    use crate::aggregate::recursion::ood_air::{OodAir, OOD_INPUT_BUS, OOD_WIRE_BUS};
    use crate::aggregate::recursion::terms::DeepTermsAir;
    use crate::aggregate::statement::{key_set_digest_ordered, statement_values, KEY_DIGEST_LEN};
    use crate::xmss::message::encode_message;
    use crate::xmss::PublicKey;

    const BUSES: [&str; 15] = [
        PERM24_FULL_BUS,
        FINAL_POLY_BUS,
        TRANSCRIPT_OBSERVE_BUS,
        TRANSCRIPT_SAMPLE_BUS,
        QUERY_INDEX_BUS,
        COMMITMENT_ROOT_BUS,
        MERKLE_VALUES_BUS,
        DEEP_MATRIX_BUS,
        FRI_FOLD_BUS,
        FRI_ROLL_IN_BUS,
        OOD_INPUT_BUS,
        OOD_WIRE_BUS,
        KEY_SET_BUS,
        CHILD_STATEMENT_BUS,
        "unused",
    ];

    fn setup() -> (Child, ChildShape, ChildWitness) {
        let child = real_child_of(2);
        let shape = ChildShape::new(
            &child.preset,
            &child.airs,
            &child.lookups,
            &child.shapes,
            &child.statement(),
        )
        .expect("a shape the verifier AIRs cover");
        let witness = ChildWitness::new(&shape, child.trace.transcript(), &child.proof)
            .expect("the child's witness");
        (child, shape, witness)
    }

    /// Every verifier AIR of `shape` on witness `w`, and the key-set AIR of a parent over
    /// `child` alone: no verifier-known table stands in for any of them.
    fn batch(child: &Child, shape: &ChildShape, w: &ChildWitness) -> Batch {
        batch_for(&child.keys, child.epoch, &child.message, shape, w)
    }

    /// [`batch`] for a parent whose statement is (`keys`, `epoch`, `message`), the child's keys
    /// being `keys` too.
    fn batch_for(
        keys: &[PublicKey],
        epoch: u32,
        message: &[u8; 32],
        shape: &ChildShape,
        w: &ChildWitness,
    ) -> Batch {
        let mut airs = Vec::new();
        let mut traces = Vec::new();
        // Every AIR's permutations, for one shared table.
        let mut perms = Vec::new();
        let duplex = DuplexAir::new(shape.transcript.clone());
        let (t, perm, _, _) = duplex.generate_traces(std::slice::from_ref(&w.observed), MIN_HEIGHT);
        airs.push(TestAir::Duplex(duplex));
        traces.push(t);
        perms.push(perm);

        let commit = CommitmentAir::new(&shape.commitments).expect("commitments");
        traces.push(commit.generate_trace(&[(0, w.roots.clone())], MIN_HEIGHT));
        airs.push(TestAir::Commit(commit));

        let bits = SampledBitsAir::new(shape.bits.clone());
        traces.push(
            bits.generate_trace(std::slice::from_ref(&w.drawn), MIN_HEIGHT)
                .0,
        );
        airs.push(TestAir::Bits(bits));

        let terms = DeepTermsAir::new(&shape.deep, &shape.claims, &shape.ood_claims);
        traces.push(
            terms
                .generate_trace(&[(w.alpha, w.claims.clone())], MIN_HEIGHT)
                .0,
        );
        airs.push(TestAir::DeepTerms(terms));

        let gather = GatherAir::new(shape.gathered.clone());
        traces.push(gather.generate_trace(std::slice::from_ref(&w.gathered), MIN_HEIGHT));
        airs.push(TestAir::Gather(gather));

        let ood = OodAir::new(shape.ood.clone());
        traces.push(
            ood.generate_trace(std::slice::from_ref(&w.ood), MIN_HEIGHT)
                .expect("the check runs"),
        );
        airs.push(TestAir::Ood(ood));

        // Every commitment in one opening AIR, as a parent has them: one block for the child.
        let commitments: Vec<_> = shape
            .openings
            .iter()
            .map(|o| (o.dims.as_slice(), o.link, o.readers.as_slice()))
            .collect();
        let air =
            MmcsOpeningAir::merged(&commitments, w.openings[0].len()).expect("an opening shape");
        let blocks: Vec<MerkleOpening> = (0..w.openings[0].len())
            .flat_map(|q| w.openings.iter().map(move |c| c[q].clone()))
            .collect();
        let (t, perm, _) = air.generate_traces(&blocks, MIN_HEIGHT);
        airs.push(TestAir::Mmcs(air));
        traces.push(t);
        perms.push(perm);

        let deep = DeepQuotientAir::new(shape.deep.clone());
        traces.push(
            deep.generate_trace(std::slice::from_ref(&w.deep), MIN_HEIGHT)
                .0,
        );
        airs.push(TestAir::Deep(deep));

        let fold = FriFoldAir::new(shape.fold.clone());
        traces.push(
            fold.generate_trace(std::slice::from_ref(&w.fold), MIN_HEIGHT)
                .0,
        );
        airs.push(TestAir::Fold(fold));

        let final_poly = FinalPolyAir::new(shape.final_poly.clone());
        traces.push(
            final_poly
                .generate_trace(std::slice::from_ref(&w.final_poly), MIN_HEIGHT)
                .0,
        );
        airs.push(TestAir::FinalPoly(final_poly));

        let observed = ObservedAir::new(shape.observations.clone());
        traces.push(observed.generate_trace(std::slice::from_ref(&w.observations), MIN_HEIGHT));
        airs.push(TestAir::Observed(observed));

        // A parent whose key set is the child's.
        let parent = statement_values(keys.len(), epoch, message, &key_set_digest_ordered(keys));
        let (t, perm) = KeySetAir.generate_trace(
            keys,
            &[ChildKeys {
                transcript: 0,
                keys: keys.to_vec(),
            }],
            MIN_HEIGHT,
        );
        airs.push(TestAir::KeySet(KeySetAir, parent));
        traces.push(t);
        perms.push(perm);

        airs.push(TestAir::Perm(Perm24TableAir::shared()));
        traces.push(shared_table(&perms.iter().collect::<Vec<_>>(), MIN_HEIGHT));

        Batch {
            airs,
            traces,
            buses: BUSES[..BUSES.len() - 1].to_vec(),
        }
    }

    #[test]
    fn a_real_childs_whole_verification_proves_in_the_verifier_airs() {
        let (child, shape, w) = setup();
        // The witness's values are the proof's.
        for (&i, &x) in shape.ood.inputs.iter().zip(&w.ood) {
            assert_eq!(x, child.input(i), "{i:?}");
        }
        let b = batch(&child, &shape, &w);
        assert_eq!(b.failed(), BTreeSet::<Failed>::new());
        b.prove_and_verify().unwrap();

        // An opened value of the main trace other than the committed one, in the opening and
        // in the DEEP quotient's row alike: the path no longer reaches the root the transcript
        // observed.
        let (q, m) = (3, 0);
        let deep_m = shape
            .deep_sources
            .iter()
            .position(|&s| s == (0, m))
            .unwrap();
        let mut forged = w.clone();
        forged.openings[0][q].rows[m][0] += F::ONE;
        forged.deep.rows[q][deep_m][0] += F::ONE;
        batch(&child, &shape, &forged).caught(|f| f.contains(&Failed::Bus(COMMITMENT_ROOT_BUS)));

        // A commit-phase sibling other than the committed one, in the opening and in the fold
        // alike: the same.
        let rounds = shape.fold.rounds().len();
        let trace_commitments = shape.openings.len() - rounds;
        let (q, r) = (5, 1);
        let mut forged = w.clone();
        let row = &mut forged.fold[q * rounds + r];
        let j = usize::from(row.group_index == 0);
        row.evals[j] += Challenge::ONE;
        forged.openings[trace_commitments + r][q].rows[0][D * j] += F::ONE;
        batch(&child, &shape, &forged).caught(|f| f.contains(&Failed::Bus(COMMITMENT_ROOT_BUS)));

        // The constants are the ones the child's transcript observed.
        let v: Vec<F> = child.trace.transcript().iter().map(|e| e.value()).collect();
        for o in &shape.observations {
            if let Observed::Constant(c) = o.kind {
                assert_eq!(v[o.position], c, "the constant at {}", o.position);
            }
        }
        // An observation other than the transcript's: a constant (the verifier's, or a public
        // value the verifier knows: the message) fails its constraint and the observation bus;
        // a grinding witness the bus; the key-set digest the bus, the check's input bus and the
        // key-set AIR's statement bus; `N` all of these.
        let observed_air = b
            .airs
            .iter()
            .position(|a| matches!(a, TestAir::Observed(_)))
            .expect("the observations' AIR");
        let (observe, input, statement, constraint) = (
            Failed::Bus(TRANSCRIPT_OBSERVE_BUS),
            Failed::Bus(OOD_INPUT_BUS),
            Failed::Bus(CHILD_STATEMENT_BUS),
            Failed::Other(observed_air),
        );
        let message = Observed::Public {
            checked: false,
            constant: Some(encode_message(&child.message)[0]),
            slot: None,
        };
        let digest = |slot| Observed::Public {
            checked: true,
            constant: None,
            slot: Some(slot),
        };
        let count = Observed::Public {
            checked: true,
            constant: Some(F::from_usize(child.keys.len())),
            slot: Some(COUNT_SLOT),
        };
        type Case = (fn(&Observed) -> bool, Vec<Failed>);
        let cases: [Case; 6] = [
            // A statement parameter of the check (the message's and the epoch's values the
            // template leaves out): its constraint and the check's input bus.
            (
                |k| matches!(k, Observed::Parameter(_)),
                vec![constraint.clone(), input.clone()],
            ),
            (
                |k| matches!(k, Observed::Constant(_)),
                vec![constraint.clone(), observe.clone()],
            ),
            (|k| matches!(k, Observed::Witness), vec![observe.clone()]),
            (
                |k| {
                    matches!(
                        k,
                        Observed::Public {
                            checked: false,
                            constant: Some(_),
                            slot: None
                        }
                    )
                },
                vec![constraint.clone(), observe.clone()],
            ),
            (
                |k| {
                    matches!(
                        k,
                        Observed::Public {
                            checked: true,
                            constant: None,
                            slot: Some(_)
                        }
                    )
                },
                vec![observe.clone(), input.clone(), statement.clone()],
            ),
            (
                |k| {
                    matches!(
                        k,
                        Observed::Public {
                            constant: Some(_),
                            slot: Some(_),
                            ..
                        }
                    )
                },
                vec![constraint, observe, input, statement],
            ),
        ];
        // The statement's bindings are the ones derived: the message's first element is a
        // constant, every digest element has its slot, and `N` both.
        let kinds: Vec<Observed> = shape.observations.iter().map(|o| o.kind).collect();
        assert!(kinds.contains(&message) && kinds.contains(&count));
        assert!((0..KEY_DIGEST_LEN).all(|s| kinds.contains(&digest(s))));
        for (n, (kind, expected)) in cases.into_iter().enumerate() {
            let Some(at) = shape.observations.iter().position(|o| kind(&o.kind)) else {
                assert_eq!(
                    n, 2,
                    "constants, parameters and public values are always observed"
                );
                continue;
            };
            let mut forged = w.clone();
            forged.observations[at] += F::ONE;
            let expected = BTreeSet::from_iter(expected);
            batch(&child, &shape, &forged).caught(|f| *f == expected);
        }

        // Every parameter of the check is the statement's, and one other than the statement's in
        // the observation and in the check's input alike fails the observation's constraint and
        // the check itself.
        let params =
            crate::aggregate::recursion::ood::OodTemplate::parameters(&child.message, child.epoch);
        let mut checked = 0;
        for (at, o) in shape.observations.iter().enumerate() {
            if let Observed::Parameter(value) = o.kind {
                let (i, input) = shape
                    .ood
                    .inputs
                    .iter()
                    .enumerate()
                    .find(|(_, i)| shape.schedule.input_position(**i) == Some(o.position))
                    .expect("the check reads each parameter");
                let Input::Param { instance, index } = *input else {
                    panic!("{input:?} at a parameter's key")
                };
                assert_eq!(value, params[instance][index]);
                if checked % 16 == 0 {
                    let mut forged = w.clone();
                    forged.observations[at] += F::ONE;
                    forged.ood[i] += Challenge::ONE;
                    let ood_air = b
                        .airs
                        .iter()
                        .position(|a| matches!(a, TestAir::Ood(_)))
                        .expect("the check's AIR");
                    batch(&child, &shape, &forged).caught(|f| {
                        *f == BTreeSet::from([Failed::Other(observed_air), Failed::Other(ood_air)])
                    });
                }
                checked += 1;
            }
        }
        assert_eq!(checked, params.iter().map(Vec::len).sum::<usize>());

        // A final polynomial other than the one the transcript observed.
        let mut forged = w.clone();
        forged.final_poly.0[2] += Challenge::ONE;
        batch(&child, &shape, &forged).caught(|f| f.contains(&Failed::Bus(TRANSCRIPT_OBSERVE_BUS)));

        // A ladder schedule one column off for the first matrix: its claims are not the values
        // the transcript observed there, and the check's claims go unsent.
        let mut off = shape.clone();
        off.claims[0].zeta += D;
        let mut forged = w.clone();
        let first = off.claims[0].zeta;
        for (c, x) in forged.claims[0].at_zeta.iter_mut().enumerate() {
            *x = ext::element(core::array::from_fn(|i| v[first + D * c + i]));
        }
        batch(&child, &off, &forged).caught(|f| {
            f.contains(&Failed::Bus(TRANSCRIPT_OBSERVE_BUS))
                && f.contains(&Failed::Bus(OOD_INPUT_BUS))
        });
    }

    /// How a forgery of a child is caught, beyond the native verifier's rejection.
    enum Caught {
        /// The bytes do not decode for the statement: neither verifier nor parent prover reads
        /// them further.
        Decoder,
        /// The forgery leaves the transcript as it was (a value the transcript does not
        /// absorb): the witness read from the forged proof fails these checks (each must fail).
        Airs(Vec<Failed>),
        /// The forgery changes an absorbed value, so every later challenge and query index
        /// changes: the witness read from the forged proof and its recorded transcript fails
        /// (or the proof's Merkle multiproofs do not restore at the new indices, and the parent
        /// prover stops there); and the honest witness with the forged value absorbed in place,
        /// the honest challenges kept, fails these checks (each must fail).
        Absorbed(Vec<Failed>),
        /// The native verifier stops before the transcript ends (a grinding witness of 0 bits
        /// must be 0, and is checked before the next challenge is drawn), and so does the
        /// recording: the reader refuses the shortened transcript.
        Truncated,
    }

    /// A child's proof, forged in place.
    type Forge = fn(&mut ChildProof);

    /// A commitment's root with its first element changed.
    fn bump_root(c: &mut p3_merkle_tree::MerkleCap<F, [F; POSEIDON1_DIGEST_ELEMS]>) {
        let mut roots = c.roots().to_vec();
        roots[0][0] += F::ONE;
        *c = roots.into();
    }

    /// Differential soundness, class by class: every forgery of a child's proof (each field of
    /// its envelope: commitments, values at `zeta`, lookup terminals, grinding witnesses, opened
    /// rows, Merkle siblings, commit-phase values and siblings, final polynomial) that the native
    /// verifier rejects is caught in the verifier AIRs too, on the witness a cheating parent
    /// prover would read from it: the forged proof and its transcript recorded to the end
    /// ([`super::super::forged_child_verification_trace`], every grinding check let through).
    /// Each case names the checks that must fail; the test prints every check that does.
    #[test]
    fn every_forgery_the_native_verifier_rejects_fails_in_the_verifier_airs() {
        use crate::aggregate::fri::envelope::encode;
        use crate::aggregate::fri::{decode_against, Decoded};
        use crate::aggregate::recursion::forged_child_verification_trace;
        use crate::aggregate::statement::Statement;
        use crate::aggregate::{verify_aggregate, VerifyOptions};

        let (child, shape, honest_witness) = setup();
        let stmt = Statement {
            message: &child.message,
            epoch: child.epoch,
            keys: &child.keys,
        };
        let honest = encode::<Poseidon1>(&child.preset, &child.proof);
        let native = |bytes: &[u8]| {
            verify_aggregate(
                bytes,
                &child.keys,
                &child.message,
                child.epoch,
                &VerifyOptions::default(),
            )
        };
        native(&honest).expect("the honest child verifies");
        let (trace, verdict) =
            forged_child_verification_trace(&honest, &child.keys, &child.message, child.epoch)
                .expect("decodes");
        verdict.expect("and verifies in the recording");
        assert!(
            ChildWitness::new(&shape, trace.transcript(), &child.proof)
                .expect("a witness")
                .observed
                == honest_witness.observed,
            "the forged recording of an honest proof is the honest one"
        );
        let root = || Caught::Airs(vec![Failed::Bus(COMMITMENT_ROOT_BUS)]);
        let absorbed_root = || Caught::Absorbed(vec![Failed::Bus(COMMITMENT_ROOT_BUS)]);
        let grinding = || Caught::Absorbed(vec![]);
        let ood = || Caught::Absorbed(vec![]);
        let ood_air = {
            let b = batch(&child, &shape, &honest_witness);
            let ood = b.airs.iter().position(|a| matches!(a, TestAir::Ood(_)));
            Failed::Other(ood.expect("the out-of-domain check's AIR"))
        };
        let cases: Vec<(&str, Forge, Caught)> = vec![
            (
                "main-trace commitment",
                |p| bump_root(&mut p.commitments.main),
                absorbed_root(),
            ),
            (
                "LogUp commitment",
                |p| bump_root(p.commitments.permutation.as_mut().unwrap()),
                absorbed_root(),
            ),
            (
                "quotient commitment",
                |p| bump_root(&mut p.commitments.quotient_chunks),
                absorbed_root(),
            ),
            (
                "a main-trace value at zeta",
                |p| {
                    p.opened_values.instances[0].base_opened_values.trace_local[0] += Challenge::ONE
                },
                ood(),
            ),
            (
                "a main-trace value at g * zeta",
                |p| {
                    let mut i = p.opened_values.instances.iter_mut();
                    let next = i.find_map(|o| o.base_opened_values.trace_next.as_mut());
                    next.unwrap()[0] += Challenge::ONE;
                },
                ood(),
            ),
            (
                "a quotient chunk's value at zeta",
                |p| {
                    p.opened_values.instances[0]
                        .base_opened_values
                        .quotient_chunks[0][0] += Challenge::ONE;
                },
                ood(),
            ),
            (
                "a LogUp value at zeta",
                |p| {
                    let mut i = p.opened_values.instances.iter_mut();
                    let lookups = i.find(|o| !o.permutation_local.is_empty());
                    lookups.unwrap().permutation_local[0] += Challenge::ONE;
                },
                ood(),
            ),
            (
                "a lookup terminal",
                |p| p.lookup_terminals.iter_mut().flatten().next().unwrap().0 += Challenge::ONE,
                Caught::Absorbed(vec![ood_air.clone()]),
            ),
            (
                "a trace height (the statement fixes them)",
                |p| p.degree_bits[0] += 1,
                Caught::Decoder,
            ),
            (
                "the LogUp grinding witness",
                |p| *p.lookup_pow_witness.as_mut().unwrap() += F::ONE,
                grinding(),
            ),
            (
                "the out-of-domain grinding witness (0 bits: must be 0)",
                |p| p.ood_pow_witness += F::ONE,
                Caught::Truncated,
            ),
            (
                "the batch grinding witness",
                |p| p.opening_proof.batch_pow_witness += F::ONE,
                grinding(),
            ),
            (
                "a commit-phase grinding witness",
                |p| p.opening_proof.commit_pow_witnesses[0] += F::ONE,
                grinding(),
            ),
            (
                "the query grinding witness",
                |p| p.opening_proof.query_pow_witness += F::ONE,
                grinding(),
            ),
            (
                "an opened row value",
                |p| p.opening_proof.input_openings[0].opened_values[3][0][0] += F::ONE,
                root(),
            ),
            (
                "a trace Merkle sibling",
                |p| {
                    p.opening_proof.input_openings[2]
                        .opening_proof
                        .sibling_hashes[0][0] += F::ONE
                },
                root(),
            ),
            (
                "a commit-phase commitment",
                |p| bump_root(&mut p.opening_proof.commit_phase_commits[1]),
                absorbed_root(),
            ),
            (
                "a commit-phase sibling value",
                |p| p.opening_proof.commit_phase_openings[1].sibling_values[5][0] += Challenge::ONE,
                root(),
            ),
            (
                "a commit-phase Merkle sibling",
                |p| {
                    p.opening_proof.commit_phase_openings[0]
                        .opening_proof
                        .sibling_hashes[0][0] += F::ONE;
                },
                root(),
            ),
            (
                "a final-polynomial coefficient",
                |p| p.opening_proof.final_poly[1] += Challenge::ONE,
                Caught::Absorbed(vec![Failed::Bus(FRI_FOLD_BUS)]),
            ),
        ];
        // Judges a forgery (`proof`, encoded as `bytes`) claimed for (`keys`, `message`,
        // `epoch`), whose verifier-derived shape is `shape`: the native verifier rejects, and it
        // is caught as `caught` says.
        let honest_transcript = trace.transcript().to_vec();
        let judge = |name: &str,
                     bytes: &[u8],
                     proof: &ChildProof,
                     (keys, message, epoch): (&[PublicKey], &[u8; 32], u32),
                     shape: &ChildShape,
                     caught: Caught| {
            let opts = VerifyOptions::default();
            let rejected = verify_aggregate(bytes, keys, message, epoch, &opts).expect_err(name);
            let recorded = forged_child_verification_trace(bytes, keys, message, epoch);
            // What fails in the AIRs on the witness read from `transcript` and `proof`, or why
            // the reader refuses them.
            let failures = |transcript: &[TranscriptEvent], proof: &ChildProof| {
                ChildWitness::new(shape, transcript, proof)
                    .map(|w| batch_for(keys, epoch, message, shape, &w).failed())
            };
            let all_fail = |failed: &BTreeSet<Failed>, expected: &[Failed]| {
                for f in expected.iter() {
                    assert!(failed.contains(f), "{name}: {f:?} not among {failed:?}");
                }
            };
            match (caught, recorded) {
                (Caught::Decoder, Err(e)) => {
                    eprintln!("{name}: refused by the decoder ({e})");
                    assert_eq!(format!("{e}"), format!("{rejected}"), "{name}");
                }
                (Caught::Airs(expected), Ok((trace, _))) => {
                    let same = trace.transcript() == honest_transcript;
                    assert!(same, "{name}: absorbed");
                    // A value that changes a query's reduced opening changes its fold chain, and
                    // where two queries share a commit-phase row the rows the reader rebuilds no
                    // longer restore from the proof's multiproofs: the parent prover stops there.
                    match failures(trace.transcript(), proof) {
                        Ok(failed) => {
                            eprintln!("{name}: native {rejected}; in the AIRs {failed:?}");
                            all_fail(&failed, &expected);
                        }
                        Err(e) => {
                            assert!(e.contains("MalformedPrunedProof"), "{name}: {e}");
                            eprintln!("{name}: native {rejected}; the reader stops: {e}");
                        }
                    }
                }
                (Caught::Absorbed(expected), Ok((trace, _))) => {
                    let forged = trace.transcript();
                    assert_eq!(forged.len(), honest_transcript.len(), "{name}: length");
                    match failures(forged, proof) {
                        Ok(failed) => {
                            eprintln!("{name}: native {rejected}; in the AIRs {failed:?}");
                            assert!(!failed.is_empty(), "{name}: a forged witness balances");
                        }
                        Err(e) => eprintln!("{name}: native {rejected}; the reader stops: {e}"),
                    }
                    // The first element the forgery changes is one the transcript absorbs.
                    let at = (0..forged.len())
                        .find(|&i| forged[i] != honest_transcript[i])
                        .expect("the transcript changes");
                    assert!(
                        matches!(forged[at], TranscriptEvent::Observe(_)),
                        "{name}: {at}"
                    );
                    let mut spliced = honest_transcript.clone();
                    spliced[at] = forged[at];
                    match failures(&spliced, &child.proof) {
                        Ok(failed) => {
                            eprintln!("{name}: absorbed in place of element {at}: {failed:?}");
                            all_fail(&failed, &expected);
                            all_fail(&failed, &[Failed::Bus(TRANSCRIPT_SAMPLE_BUS)]);
                        }
                        // A claim at `zeta` changes every query's fold chain, and with it the
                        // commit-phase rows the reader restores: it stops there.
                        Err(e) => {
                            assert!(expected.is_empty(), "{name}: {e}");
                            eprintln!(
                                "{name}: absorbed in place of element {at}: the reader stops: {e}"
                            );
                        }
                    }
                }
                (Caught::Truncated, Ok((trace, _))) => {
                    let t = trace.transcript();
                    assert!(
                        t.len() < honest_transcript.len(),
                        "{name}: {} elements",
                        t.len()
                    );
                    let e = failures(t, proof).expect_err(name);
                    eprintln!("{name}: native {rejected}; the reader refuses: {e}");
                }
                (Caught::Decoder, Ok(_)) => panic!("{name}: decoded"),
                (_, Err(e)) => panic!("{name}: refused by the decoder ({e})"),
            }
        };
        let statement = (child.keys.as_slice(), &child.message, child.epoch);
        for (name, forge, caught) in cases {
            let Decoded { mut proof, .. } =
                decode_against::<Poseidon1>(&child.preset, &honest, &stmt).expect("decodes");
            forge(&mut proof);
            let bytes = encode::<Poseidon1>(&child.preset, &proof);
            assert_ne!(bytes, honest, "{name}: a forgery");
            judge(name, &bytes, &proof, statement, &shape, caught);
        }

        // The statement: the honest child claimed for another message, epoch or key set. The
        // native verifier rejects it; a parent prover recording the child's verification under
        // the claimed statement, with the shape the parent's verifier derives for it, reads a
        // witness that fails the out-of-domain check.
        let stranger = crate::aggregate::testing::test_signer(99, &child.message, child.epoch).0;
        let mut keys = child.keys.clone();
        keys[0] = stranger;
        let statements: [(&str, [u8; 32], u32, Vec<PublicKey>); 3] = [
            (
                "another message",
                [6u8; 32],
                child.epoch,
                child.keys.clone(),
            ),
            (
                "another epoch",
                child.message,
                child.epoch + 1,
                child.keys.clone(),
            ),
            (
                "another key set",
                child.message,
                child.epoch,
                crate::aggregate::canonical_key_order(&keys).expect("distinct keys"),
            ),
        ];
        for (name, message, epoch, keys) in statements {
            let claimed = Statement {
                message: &message,
                epoch,
                keys: &keys,
            };
            let Decoded { airs, common, .. } =
                decode_against::<Poseidon1>(&child.preset, &honest, &claimed).expect("decodes");
            let shapes = crate::aggregate::fri::proof_shape(
                &airs,
                &common.lookups,
                &crate::aggregate::statement::degree_bits(&claimed.heights()),
            )
            .instances;
            let shape = ChildShape::new(
                &child.preset,
                &airs,
                &common.lookups,
                &shapes,
                &super::super::child::ChildStatement {
                    message,
                    epoch,
                    ..child.statement()
                },
            )
            .expect("a shape");
            let caught = Caught::Absorbed(vec![ood_air.clone()]);
            judge(
                name,
                &honest,
                &child.proof,
                (&keys, &message, epoch),
                &shape,
                caught,
            );
        }
    }

    /// A proof whose shape is not the schedule's is refused, not read past its end.
    #[test]
    fn a_proof_of_another_shape_is_refused() {
        let (mut child, shape, _) = setup();
        let transcript = child.trace.transcript().to_vec();
        let fri = &mut child.proof.opening_proof;
        let round = fri.commit_phase_openings.pop().expect("a round");
        assert!(ChildWitness::new(&shape, &transcript, &child.proof).is_err());
        let fri = &mut child.proof.opening_proof;
        fri.commit_phase_openings.push(round);
        let value = fri.input_openings[1].opened_values[0][0]
            .pop()
            .expect("a value");
        assert!(ChildWitness::new(&shape, &transcript, &child.proof).is_err());
        let fri = &mut child.proof.opening_proof;
        fri.input_openings[1].opened_values[0][0].push(value);
        let sibling = fri.commit_phase_openings[0].sibling_values[0]
            .pop()
            .expect("a sibling");
        assert!(ChildWitness::new(&shape, &transcript, &child.proof).is_err());
        let fri = &mut child.proof.opening_proof;
        fri.commit_phase_openings[0].sibling_values[0].push(sibling);
        let digest = fri.input_openings[0]
            .opening_proof
            .sibling_hashes
            .pop()
            .expect("a digest");
        assert!(ChildWitness::new(&shape, &transcript, &child.proof).is_err());
        let fri = &mut child.proof.opening_proof;
        fri.input_openings[0]
            .opening_proof
            .sibling_hashes
            .push(digest);
        assert!(ChildWitness::new(&shape, &transcript, &child.proof).is_ok());
        assert!(ChildWitness::new(&shape, &transcript[1..], &child.proof).is_err());
    }
}
