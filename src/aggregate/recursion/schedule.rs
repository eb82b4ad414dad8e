//! The transcript of a child, derived from its shape: what every element the verifier's
//! Fiat-Shamir transcript observes or samples is, and where it sits.
//!
//! The positions the verifier AIRs key their bus messages by (a challenge, an opened value, a
//! commitment root, a query index) must be the verifier's, never the child's. This module
//! derives them from what the native verifier derives its own transcript from: the preset
//! (FRI parameters, grinding bits), the AIRs (widths, public values, lookups) and the trace
//! heights, which the statement's `N` fixes. The three seeds Plonky3 0.8 absorbs (the batch
//! STARK's, the PCS's and FRI's `DomainSeparator`s, each a function of its shape) are computed
//! by Plonky3's own `seed`, so their values are verifier constants too.
//!
//! The order follows `p3_batch_stark::verify_batch` (`BatchVerifierTranscript`: degree bits,
//! main root, public values, lookup grinding, LogUp `alpha` and `beta`, permutation root,
//! terminals, `alpha`, quotient root, out-of-domain grinding, `zeta`), then the opening
//! argument (`PcsVerifierTranscript`: seed, claimed evaluations by commitment, matrix and
//! point, batch grinding, `alpha`; `p3_fri::VerifierTranscript`: seed, per round root,
//! grinding and `beta`, the final polynomial, query grinding, the query indices). A grinding
//! step of zero bits absorbs nothing. Tested equal, element for element, to a real child's
//! recorded transcript.

use std::collections::BTreeMap;

use p3_air::BaseAir;
use p3_batch_stark::BatchShape;
use p3_challenger::CanObserve;
use p3_field::PrimeCharacteristicRing;
use p3_fri::{FriShape, PcsShape};
use p3_lookup::Lookups;

use super::ext::D;
use super::ood::{Input, Row};
use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::{fri_parameters, POSEIDON1_DIGEST_ELEMS, TRANSCRIPT_DOMAIN};
use crate::aggregate::fri::security::AirShape;
use crate::aggregate::preset::FriPreset;
use crate::xmss::F;

/// Keys per AIR instance of the statement parameters of a child's out-of-domain check
/// ([`Input::Param`], [`TranscriptSchedule::input_position`]); the signature AIR has 143.
pub const PARAM_STRIDE: usize = 1024;

/// What one transcript element is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Element {
    /// The challenger's domain separator (`TRANSCRIPT_DOMAIN`, a byte per element, then its
    /// length), element `i`.
    Domain(usize),
    /// Element `i` of seed `seed` (0: the batch STARK's, 1: the PCS's, 2: FRI's).
    Seed {
        /// Which seed: 0 the batch STARK's, 1 the PCS's, 2 FRI's.
        seed: usize,
        /// Index of the element within the seed's elements.
        i: usize,
    },
    /// Coordinate `coord` of AIR `instance`'s log trace height.
    DegreeBits {
        /// The AIR's index in the child's batch.
        instance: usize,
        /// Coordinate `0..D` of the height as an extension element (coordinate 0 the log
        /// height, the others zero).
        coord: usize,
    },
    /// Element `i` of a commitment root.
    Root {
        /// Which commitment.
        root: Root,
        /// Index of the element within the root's digest (`0..POSEIDON1_DIGEST_ELEMS`).
        i: usize,
    },
    /// Public value `index` of AIR `instance`.
    Public {
        /// The AIR's index in the child's batch.
        instance: usize,
        /// Index of the public value among that AIR's.
        index: usize,
    },
    /// A grinding witness.
    PowWitness(Pow),
    /// The grinding check's bit sample.
    PowDraw(Pow),
    /// Coordinate `coord` of a challenge.
    Challenge {
        /// Which challenge.
        challenge: Sampled,
        /// Coordinate `0..D` of the quintic-extension sample.
        coord: usize,
    },
    /// Coordinate `coord` of AIR `instance`'s LogUp terminal.
    Terminal {
        /// The AIR's index in the child's batch (only an AIR with lookups has a terminal).
        instance: usize,
        /// Coordinate `0..D` of the quintic-extension terminal.
        coord: usize,
    },
    /// Coordinate `coord` of claimed evaluation `column` of matrix `matrix` of commitment
    /// `round` at point `point` (rounds: main, quotient, then LogUp).
    Claim {
        /// The commitment: 0 main, 1 quotient, 2 LogUp (present only if an AIR has lookups).
        round: usize,
        /// The matrix within the commitment: an AIR's trace (main), one of its quotient chunks
        /// (AIR after AIR), or the LogUp trace of an AIR with lookups (in AIR order).
        matrix: usize,
        /// The opening point: 0 `zeta`, 1 the next row's (where the matrix is opened there).
        point: usize,
        /// The matrix column (quotient and LogUp columns are base coordinates of extension
        /// columns, `D` per element).
        column: usize,
        /// Coordinate `0..D` of the claimed quintic-extension value.
        coord: usize,
    },
    /// Coordinate `coord` of final-polynomial coefficient `coeff`.
    FinalPoly {
        /// Index of the coefficient, 0 the constant term.
        coeff: usize,
        /// Coordinate `0..D` of the quintic-extension coefficient.
        coord: usize,
    },
    /// Query index `q`'s bit sample.
    Query(usize),
}

/// A commitment root of the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Root {
    /// All main traces.
    Main,
    /// All LogUp traces.
    Permutation,
    /// All quotient chunks.
    Quotient,
    /// FRI commit-phase round `r`.
    Fri(usize),
}

/// A grinding step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pow {
    /// Before the LogUp challenges.
    Lookup,
    /// Before `zeta`.
    Ood,
    /// Before the opening-batching `alpha`.
    Batch,
    /// Before FRI round `r`'s `beta`.
    Commit(usize),
    /// Before the query indices.
    Query,
}

/// A sampled extension challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sampled {
    /// LogUp's `alpha`.
    LookupAlpha,
    /// LogUp's `beta`.
    LookupBeta,
    /// The constraint-batching `alpha`.
    Alpha,
    /// The out-of-domain point.
    Zeta,
    /// The opening-batching `alpha`.
    OpeningAlpha,
    /// FRI round `r`'s folding challenge.
    Beta(usize),
}

/// Whether the transcript absorbs or squeezes an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Observed.
    Observe,
    /// Sampled.
    Sample,
}

/// A child's transcript, element by element.
#[derive(Clone, Debug)]
pub struct TranscriptSchedule {
    /// Every element in order (position = index).
    pub elements: Vec<(Direction, Element)>,
    /// The values of the verifier-known observations: the domain separator and the seeds.
    pub constants: BTreeMap<usize, F>,
    /// Bits of each bit sample (grinding checks and query indices), by position.
    pub bits: BTreeMap<usize, usize>,
    positions: BTreeMap<Element, usize>,
    /// Each AIR's quotient chunk count (the quotient commitment's matrices, AIR after AIR).
    quotient_chunks: Vec<usize>,
}

/// Records the elements a `DomainSeparator` seeds a transcript with.
pub(super) struct SeedRecorder(pub(super) Vec<F>);

impl CanObserve<F> for SeedRecorder {
    fn observe(&mut self, value: F) {
        self.0.push(value);
    }
}

struct Builder {
    s: TranscriptSchedule,
}

impl Builder {
    fn push(&mut self, d: Direction, e: Element) {
        let at = self.s.elements.len();
        self.s.elements.push((d, e));
        self.s.positions.insert(e, at);
    }
    fn observe(&mut self, e: Element) {
        self.push(Direction::Observe, e);
    }
    fn constant(&mut self, e: Element, v: F) {
        self.s.constants.insert(self.s.elements.len(), v);
        self.observe(e);
    }
    fn sample_ext(&mut self, c: Sampled) {
        for coord in 0..D {
            self.push(
                Direction::Sample,
                Element::Challenge {
                    challenge: c,
                    coord,
                },
            );
        }
    }
    fn observe_ext(&mut self, e: impl Fn(usize) -> Element) {
        for coord in 0..D {
            self.observe(e(coord));
        }
    }
    fn root(&mut self, root: Root) {
        for i in 0..POSEIDON1_DIGEST_ELEMS {
            self.observe(Element::Root { root, i });
        }
    }
    fn pow(&mut self, pow: Pow, bits: usize) {
        if bits > 0 {
            self.observe(Element::PowWitness(pow));
            self.s.bits.insert(self.s.elements.len(), bits);
            self.push(Direction::Sample, Element::PowDraw(pow));
        }
    }
    fn seed(&mut self, seed: usize, values: Vec<F>) {
        for (i, v) in values.into_iter().enumerate() {
            self.constant(Element::Seed { seed, i }, v);
        }
    }
}

impl TranscriptSchedule {
    /// The transcript of a child proved under `preset` with AIRs `airs` (their public-value
    /// counts and widths), `lookups` (`CommonData::lookups`) and shapes `shapes`
    /// (`ProofShape::instances`: heights, next-row openings, quotient chunks), all fixed by the
    /// child's statement's `N`.
    pub fn new<A: BaseAir<F>>(
        preset: &FriPreset,
        airs: &[A],
        lookups: &[Lookups<F>],
        shapes: &[AirShape],
    ) -> Self {
        let mut b = Builder {
            s: TranscriptSchedule {
                elements: Vec::new(),
                constants: BTreeMap::new(),
                bits: BTreeMap::new(),
                positions: BTreeMap::new(),
                quotient_chunks: shapes.iter().map(|s| s.num_quotient_chunks).collect(),
            },
        };
        for (i, &byte) in TRANSCRIPT_DOMAIN.iter().enumerate() {
            b.constant(Element::Domain(i), F::from_u32(u32::from(byte)));
        }
        b.constant(
            Element::Domain(TRANSCRIPT_DOMAIN.len()),
            F::from_usize(TRANSCRIPT_DOMAIN.len()),
        );
        let lookup_instances: Vec<usize> = (0..airs.len())
            .filter(|&i| !lookups[i].is_empty())
            .collect();
        let batch = BatchShape {
            trace_widths: airs.iter().map(BaseAir::width).collect(),
            public_value_counts: airs.iter().map(BaseAir::num_public_values).collect(),
            preprocessed_widths: vec![0; airs.len()],
            has_preprocessed_commitment: false,
            num_lookup_instances: lookup_instances.len(),
            lookup_pow_bits: usize::from(preset.lookup_pow_bits),
            has_randomization_commitment: false,
            ood_pow_bits: usize::from(preset.ood_pow_bits),
        };
        let mut seed = SeedRecorder(Vec::new());
        batch.domain_separator::<F, Challenge>().seed(&mut seed);
        b.seed(0, seed.0);
        for instance in 0..airs.len() {
            b.observe_ext(|coord| Element::DegreeBits { instance, coord });
        }
        b.root(Root::Main);
        for (instance, air) in airs.iter().enumerate() {
            for index in 0..air.num_public_values() {
                b.observe(Element::Public { instance, index });
            }
        }
        if !lookup_instances.is_empty() {
            b.pow(Pow::Lookup, usize::from(preset.lookup_pow_bits));
            b.sample_ext(Sampled::LookupAlpha);
            b.sample_ext(Sampled::LookupBeta);
            b.root(Root::Permutation);
            for &instance in &lookup_instances {
                b.observe_ext(|coord| Element::Terminal { instance, coord });
            }
        }
        b.sample_ext(Sampled::Alpha);
        b.root(Root::Quotient);
        b.pow(Pow::Ood, usize::from(preset.ood_pow_bits));
        b.sample_ext(Sampled::Zeta);

        // The opening argument: claims by commitment (main, quotient, LogUp), matrix, point.
        let mut counts: Vec<Vec<Vec<usize>>> = vec![Vec::new(); 3];
        let mut log_heights = Vec::new();
        let log_blowup = usize::from(preset.log_inv_rate);
        for (air, shape) in airs.iter().zip(shapes) {
            let w = air.width();
            counts[0].push(if shape.main_next { vec![w, w] } else { vec![w] });
            for _ in 0..shape.num_quotient_chunks {
                counts[1].push(vec![D]);
            }
            // The trace's LDE height, also its quotient chunks' (cosets of the trace's size).
            log_heights.push(shape.log_height + log_blowup);
        }
        for (air_lookups, shape) in lookups.iter().zip(shapes) {
            if !air_lookups.is_empty() {
                let w = (air_lookups.len() + 1) * D;
                counts[2].push(vec![w, w]);
                log_heights.push(shape.log_height + log_blowup);
            }
        }
        if counts[2].is_empty() {
            counts.pop();
        }
        let params = fri_parameters(preset, ());
        let pcs = PcsShape {
            claimed_evaluation_counts: counts.clone(),
            batch_pow_bits: usize::from(preset.batch_pow_bits),
        };
        let mut seed = SeedRecorder(Vec::new());
        pcs.domain_separator::<F, Challenge>().seed(&mut seed);
        b.seed(1, seed.0);
        for (round, matrices) in counts.iter().enumerate() {
            for (matrix, points) in matrices.iter().enumerate() {
                for (point, &width) in points.iter().enumerate() {
                    for column in 0..width {
                        b.observe_ext(|coord| Element::Claim {
                            round,
                            matrix,
                            point,
                            column,
                            coord,
                        });
                    }
                }
            }
        }
        b.pow(Pow::Batch, usize::from(preset.batch_pow_bits));
        b.sample_ext(Sampled::OpeningAlpha);

        log_heights.sort_unstable_by(|a, b| b.cmp(a));
        log_heights.dedup();
        let fri = FriShape::new(&params, &log_heights, log_heights[0]);
        let mut seed = SeedRecorder(Vec::new());
        fri.domain_separator::<F, Challenge>().seed(&mut seed);
        b.seed(2, seed.0);
        for r in 0..fri.log_arities.len() {
            b.root(Root::Fri(r));
            b.pow(Pow::Commit(r), fri.commit_pow_bits);
            b.sample_ext(Sampled::Beta(r));
        }
        for coeff in 0..fri.final_poly_len {
            b.observe_ext(|coord| Element::FinalPoly { coeff, coord });
        }
        b.pow(Pow::Query, fri.query_pow_bits);
        for q in 0..fri.num_queries {
            b.s.bits.insert(b.s.elements.len(), fri.index_bits);
            b.push(Direction::Sample, Element::Query(q));
        }
        b.s
    }

    /// The position of `e`, if the transcript has it.
    pub fn position(&self, e: Element) -> Option<usize> {
        self.positions.get(&e).copied()
    }

    /// The position of coordinate 0 of an input of [`super::ood::Program::ood_check`] (a
    /// public value is one element): every input is a transcript element, except a statement
    /// parameter ([`Input::Param`]), which is keyed past the transcript's end, at
    /// `len + instance * PARAM_STRIDE + index` ([`PARAM_STRIDE`]), where no transcript element
    /// is.
    pub fn input_position(&self, input: Input) -> Option<usize> {
        let point = |row: Row| usize::from(row == Row::Next);
        let sampled = |challenge| Element::Challenge {
            challenge,
            coord: 0,
        };
        let e = match input {
            Input::Main {
                instance,
                row,
                column,
            } => Element::Claim {
                round: 0,
                matrix: instance,
                point: point(row),
                column,
                coord: 0,
            },
            Input::QuotientChunk {
                instance,
                chunk,
                coord,
            } => Element::Claim {
                round: 1,
                // Matrices of the quotient commitment: every AIR's chunks, AIR after AIR.
                matrix: self.quotient_matrix(instance, chunk)?,
                point: 0,
                column: coord,
                coord: 0,
            },
            Input::PermutationCoord {
                instance,
                row,
                column,
                coord,
            } => Element::Claim {
                round: 2,
                matrix: self.lookup_matrix(instance)?,
                point: point(row),
                column: column * D + coord,
                coord: 0,
            },
            Input::Public { instance, index } => Element::Public { instance, index },
            Input::Terminal { instance } => Element::Terminal { instance, coord: 0 },
            Input::LookupAlpha => sampled(Sampled::LookupAlpha),
            Input::LookupBeta => sampled(Sampled::LookupBeta),
            Input::Alpha => sampled(Sampled::Alpha),
            Input::Zeta => sampled(Sampled::Zeta),
            Input::Param { instance, index } if index < PARAM_STRIDE => {
                return Some(self.elements.len() + instance * PARAM_STRIDE + index)
            }
            _ => return None,
        };
        self.position(e)
    }

    /// The quotient commitment's matrix of AIR `instance`'s chunk `chunk`.
    fn quotient_matrix(&self, instance: usize, chunk: usize) -> Option<usize> {
        let chunks = &self.quotient_chunks;
        (chunk < *chunks.get(instance)?).then(|| chunks[..instance].iter().sum::<usize>() + chunk)
    }

    /// The LogUp commitment's matrix of AIR `instance` (AIRs without lookups have none).
    fn lookup_matrix(&self, instance: usize) -> Option<usize> {
        self.position(Element::Terminal { instance, coord: 0 })?;
        Some(
            (0..instance)
                .filter(|&i| {
                    self.position(Element::Terminal {
                        instance: i,
                        coord: 0,
                    })
                    .is_some()
                })
                .count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::recursion::ood::tests::real_child_of;
    use crate::aggregate::recursion::ood::Program;
    use crate::aggregate::recursion::TranscriptEvent;

    /// Two children whose traces and FRI rounds differ (2 and 40 signatures).
    #[test]
    fn the_derived_transcript_is_a_real_childs() {
        let bits: Vec<BTreeMap<usize, usize>> = [2, 40].into_iter().map(same_as_recorded).collect();
        assert_ne!(
            bits[0], bits[1],
            "the two shapes' query indices differ in width"
        );
    }

    /// Checks the derived schedule of a child of `n` signatures; its bit samples.
    fn same_as_recorded(n: u64) -> BTreeMap<usize, usize> {
        let child = real_child_of(n);
        let schedule =
            TranscriptSchedule::new(&child.preset, &child.airs, &child.lookups, &child.shapes);
        let recorded = &child.trace.transcript();
        assert_eq!(schedule.elements.len(), recorded.len());
        for (at, ((d, e), r)) in schedule.elements.iter().zip(recorded.iter()).enumerate() {
            let same = matches!(
                (d, r),
                (Direction::Observe, TranscriptEvent::Observe(_))
                    | (Direction::Sample, TranscriptEvent::Sample(_))
            );
            assert!(same, "position {at}: {d:?} {e:?} against {r:?}");
        }
        // The verifier's constants are what the child's transcript absorbed.
        for (&at, &v) in &schedule.constants {
            assert_eq!(
                recorded[at],
                TranscriptEvent::Observe(v),
                "constant at {at}"
            );
        }
        // The bit samples, where and how wide.
        let draws: BTreeMap<usize, usize> = child
            .trace
            .bit_draws()
            .iter()
            .map(|d| (d.position, d.bits))
            .collect();
        assert_eq!(schedule.bits, draws);
        // Every input of the out-of-domain check sits where the schedule says.
        let program = Program::ood_check(&child.airs, &child.lookups, &child.shapes);
        let value = |at: usize| recorded[at].value();
        let mut inputs = 0;
        for node in &program.nodes {
            let super::super::ood::Node::Input(input) = *node else {
                continue;
            };
            let at = schedule
                .input_position(input)
                .expect("a transcript element");
            let expected = crate::aggregate::recursion::ext::coords(child.input(input));
            let width = if matches!(input, Input::Public { .. }) {
                1
            } else {
                D
            };
            for (k, &e) in expected.iter().take(width).enumerate() {
                assert_eq!(value(at + k), e, "{input:?} coordinate {k}");
            }
            inputs += 1;
        }
        assert!(inputs > 800, "{inputs} inputs");
        schedule.bits
    }
}
