//! Every verifier AIR's schedule for one child shape, derived from its transcript.
//!
//! The verifier AIRs key their bus messages by transcript positions and query-index windows,
//! and each one's periodic columns are a schedule: which rows absorb, which matrices a DEEP
//! row reads, which round a reduced opening rolls in at. All of it must be the verifier's,
//! never the child's. [`ChildShape::new`] derives it from what the native verifier derives its
//! own checks from: the preset, the child's AIRs and lookups, and its trace heights
//! ([`super::schedule::TranscriptSchedule`] for the positions, Plonky3 0.8's `FriShape` for the
//! folding arities). Nothing here reads a proof.
//!
//! What follows Plonky3 0.8 (`p3_batch_stark::verify_batch`, `TwoAdicFriPcs::verify`,
//! `p3_fri::verifier::verify_fri`):
//! - the trace commitments are main (one matrix per AIR), quotient (each AIR's chunks, AIR after
//!   AIR) and LogUp (one matrix per AIR with lookups, opened at `zeta` and `zeta * g`); every
//!   matrix of an AIR has the AIR's LDE height `2^(log_height + log_blowup)`; a commitment is
//!   opened at the window `[k - h, k)` of each query index, `h` its tallest log height and `k`
//!   the tallest of all;
//! - the DEEP quotient walks, per LDE height, the matrices in commitment then matrix order; its
//!   point is `GENERATOR * g_h^reverse_bits(index >> (k - h), h)`; the tallest height starts the
//!   fold, the others roll in at the round whose folded height they have;
//! - FRI round `r` of log arity `a` starts at log height `k - S_r` (`S_r` the arities before
//!   it): it reads the group `i mod 2^a` of the round's index `i = index >> S_r` (bits
//!   `[S_r, S_r + a)`), opens its commitment (height `2^(k - S_r - a)`, `5 * 2^a` base columns)
//!   at `i >> a` (bits `[S_r + a, k)`), whose point `s^-1` is the window's with generator
//!   `g_(k - S_r)^-1`;
//! - the final polynomial is evaluated at `g_(k - R)^reverse_bits(index >> R, k - R)`, `R` the
//!   total log arity.
//!
//! Windows of the same bits and point share one tag (a trace commitment's opening reads the
//! DEEP point of its tallest height, a commit-phase opening its round's `s^-1`); a window read
//! more than [`MAX_USES`] times per query is split across tags.

use std::collections::{BTreeMap, BTreeSet};

use p3_air::{Air, BaseAir};
use p3_field::{Field, PrimeCharacteristicRing, TwoAdicField};
use p3_fri::FriShape;
use p3_lookup::{InteractionSymbolicBuilder, Lookups};

use super::bits::{BitsShape, Draw, Point, Window, MAX_USES};
use super::commit::Commitment;
use super::deep::{DeepHeight, DeepMatrix, DeepShape, Sink};
use super::duplex::{Op, TranscriptShape};
use super::ext::D;
use super::final_poly::FinalPolyShape;
use super::fold::{FoldRound, FoldShape};
use super::gather::Gathered;
use super::merkle::{OpeningLink, OpeningShape};
use super::observed::{Observed, ObservedElement};
use super::ood::{Input, OodTemplate, Program};
use super::ood_air::{OodAir, OodLayout};
use super::schedule::{Direction, Element, Root, Sampled, TranscriptSchedule};
use super::terms::ClaimAt;
use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::fri_parameters;
use crate::aggregate::fri::security::AirShape;
use crate::aggregate::preset::FriPreset;
use crate::xmss::F;

/// One commitment's openings as an [`super::merkle::MmcsOpeningAir`] checks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentOpenings {
    /// Which commitment of the transcript.
    pub root: Root,
    /// Its matrices' `(height, width)` in commitment order (heights in rows of the LDE, widths
    /// in base-field columns).
    pub dims: Vec<(usize, usize)>,
    /// Its root's position and the window that opens it.
    pub link: OpeningLink,
    /// How many receivers take each chunk of an opening (absorb order).
    pub readers: Vec<u32>,
}

/// What a parent's verifier knows of a child's statement
/// (`crate::aggregate::statement::statement_values`): the instance whose public values hold
/// it, the child's number of keys (carried by the parent), and the epoch and message (the
/// parent's own). A Type-1 parent's verifier does not know the child's key-set digest: the
/// key-set AIR recomputes it from the child's keys ([`super::keyset`]). A Type-2 verifier
/// knows each component's keys and so its digest (`digest`): then every statement value is a
/// constant and nothing goes to a key-set AIR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildStatement {
    /// The AIR instance of the child's batch whose public values hold the statement.
    pub instance: usize,
    /// The child's number of keys `N`, carried by the parent.
    pub num_keys: usize,
    /// The statement's epoch, the parent's own.
    pub epoch: u32,
    /// The statement's message (32 bytes), the parent's own.
    pub message: [u8; 32],
    /// The key-set digest when the verifier knows it (a Type-2 component), 9 elements.
    pub digest: Option<[F; crate::aggregate::statement::KEY_DIGEST_LEN]>,
}

impl ChildStatement {
    /// How [`super::observed::ObservedAir`] holds each public value of the statement, in
    /// [`crate::aggregate::statement::statement_values`] order: a constant the verifier knows
    /// (`N`, epoch, message), or a slot sent to the key-set AIR (`N` again, as the list's
    /// count, and the digest).
    fn bindings(&self) -> Vec<(Option<F>, Option<usize>)> {
        use crate::aggregate::statement::{statement_values, PV_KEY_DIGEST, PV_NUM_KEYS};
        let digest = self.digest.unwrap_or([F::ZERO; 9]);
        let known = statement_values(self.num_keys, self.epoch, &self.message, &digest);
        if self.digest.is_some() {
            return known.iter().map(|&v| (Some(v), None)).collect();
        }
        known
            .iter()
            .enumerate()
            .map(|(i, &v)| match i {
                PV_NUM_KEYS => (Some(v), Some(super::keyset::COUNT_SLOT)),
                i if i < PV_KEY_DIGEST => (Some(v), None),
                i => (None, Some(i - PV_KEY_DIGEST)),
            })
            .collect()
    }
}

/// The schedules of every verifier AIR for children of one shape.
#[derive(Clone, Debug)]
pub struct ChildShape {
    /// The child's transcript, element by element.
    pub schedule: TranscriptSchedule,
    /// [`super::duplex::DuplexAir`]'s: the duplexings, each sample's receivers counted.
    pub transcript: TranscriptShape,
    /// [`super::bits::SampledBitsAir`]'s: grinding checks and query windows.
    pub bits: BitsShape,
    /// [`super::commit::CommitmentAir`]'s: the roots, in transcript order.
    pub commitments: Vec<Commitment>,
    /// One [`super::merkle::MmcsOpeningAir`] per commitment, in transcript order.
    pub openings: Vec<CommitmentOpenings>,
    /// [`super::deep::DeepQuotientAir`]'s.
    pub deep: DeepShape,
    /// [`super::terms::DeepTermsAir`]'s: each DEEP matrix's claims, in the DEEP shape's order.
    pub claims: Vec<ClaimAt>,
    /// Each DEEP matrix's commitment (its index in `openings`) and place in that commitment, in
    /// the DEEP shape's order.
    pub deep_sources: Vec<(usize, usize)>,
    /// The positions of the claims the out-of-domain check reads (coordinate 0).
    pub ood_claims: BTreeSet<usize>,
    /// [`super::fold::FriFoldAir`]'s.
    pub fold: FoldShape,
    /// [`super::final_poly::FinalPolyAir`]'s.
    pub final_poly: FinalPolyShape,
    /// [`super::gather::GatherAir`]'s: the check's challenges and LogUp terminals.
    pub gathered: Vec<Gathered>,
    /// [`super::ood_air::OodAir`]'s: the out-of-domain check laid out in rows, the signature
    /// batch's template ([`OodTemplate`]), shared by the shapes of one size and carry.
    pub ood: std::sync::Arc<OodLayout>,
    /// The [`OodAir`] of `ood`, made once with it.
    pub ood_air: OodAir,
    /// The statement's parameters of the check ([`OodTemplate::parameters`]), by instance.
    pub ood_params: Vec<Vec<F>>,
    /// The carry threshold of the statement's epoch ([`OodTemplate::carry`]), which `ood` was
    /// made for: a shape is restated ([`ChildShape::restated`]) only to epochs of the same.
    pub carry: Option<usize>,
    /// [`super::observed::ObservedAir`]'s: the observations no other AIR sends (constants,
    /// grinding witnesses, public values), in transcript order.
    pub observations: Vec<ObservedElement>,
}

/// A window's bits and point: `(lo, hi, point)`.
type WindowKey = (usize, usize, Option<(F, F)>);

/// A [`WindowKey`] with canonical field values, to order by.
type WindowId = (usize, usize, Option<(u32, u32)>);

/// A trace commitment's matrix: log LDE height, width, opened at `zeta * g` too.
#[derive(Clone, Copy)]
struct TraceMatrix {
    log_height: usize,
    width: usize,
    two_points: bool,
}

/// The windows of one query index, tagged in the order they are first asked for.
#[derive(Default)]
struct Windows {
    windows: Vec<Window>,
    /// The tag taking the next reader of each key.
    open: BTreeMap<WindowId, usize>,
}

impl Windows {
    /// The tag of a window `key` with `uses` more readers per query.
    fn tag(&mut self, key: WindowKey, uses: usize) -> usize {
        let (lo, hi, point) = key;
        let k: WindowId = (lo, hi, point.map(|(a, b)| (canonical(a), canonical(b))));
        if let Some(&t) = self.open.get(&k) {
            if self.windows[t].uses + uses <= MAX_USES {
                self.windows[t].uses += uses;
                return t;
            }
        }
        let t = self.windows.len();
        self.windows.push(Window {
            lo,
            hi,
            tag: t,
            uses,
            point: point.map_or(Point::One, |(x0, g)| Point::Reversed { x0, g }),
            to_ood: false,
        });
        self.open.insert(k, t);
        t
    }
}

fn canonical(x: F) -> u32 {
    p3_field::PrimeField32::as_canonical_u32(&x)
}

/// How many out-of-domain layouts a process keeps ([`OOD_LAYOUTS`]): more than the child sizes
/// of one parent or Type-2 proof.
const CACHED_OOD_LAYOUTS: usize = 2 * super::type2::MAX_COMPONENTS;

/// The process's out-of-domain layouts, keyed by the children's preset, their batch's shapes
/// (fixed by `N`) and the epoch's carry threshold ([`OodTemplate::carry`]): the same for every
/// message and epoch otherwise, so a verifier derives one per shape, not per statement.
static OOD_LAYOUTS: super::parent::Kept<OodKey, (std::sync::Arc<OodLayout>, OodAir)> =
    super::parent::Kept::new(CACHED_OOD_LAYOUTS);

/// The key of [`OOD_LAYOUTS`]: the children's preset, their batch's shapes and the carry
/// threshold.
type OodKey = (FriPreset, Vec<AirShape>, Option<usize>);

/// Empties the process's out-of-domain layouts (`OOD_LAYOUTS`). For measurements: `multisig
/// bench` calls it to time a verifier that has never seen the shape.
pub fn forget_ood_layouts() {
    OOD_LAYOUTS.clear();
}

impl ChildShape {
    /// The schedules for children proved under `preset` with AIRs `airs`, their `lookups`
    /// (`CommonData::lookups`) and `shapes` (`ProofShape::instances`), all fixed by the child's
    /// statement's `N`; its public values bound as `statement` says.
    ///
    /// # Errors
    /// A message if the shape is one the verifier AIRs do not cover: an input of the
    /// out-of-domain check off the transcript, a height the folding never reaches, a window
    /// read more than [`MAX_USES`] times by one reader, more queries than a root's openings
    /// allow, public values other than one statement's.
    pub fn new<A>(
        preset: &FriPreset,
        airs: &[A],
        lookups: &[Lookups<F>],
        shapes: &[AirShape],
        statement: &ChildStatement,
    ) -> Result<Self, String>
    where
        A: BaseAir<F> + Air<InteractionSymbolicBuilder<F, Challenge>>,
    {
        let schedule = TranscriptSchedule::new(preset, airs, lookups, shapes);
        let at = |e: Element| {
            schedule
                .position(e)
                .ok_or_else(|| format!("{e:?} is not in the transcript"))
        };
        let coords = |challenge: Sampled| -> Result<[usize; D], String> {
            let first = at(Element::Challenge {
                challenge,
                coord: 0,
            })?;
            Ok(core::array::from_fn(|i| first + i))
        };
        let log_blowup = usize::from(preset.log_inv_rate);
        let queries: Vec<usize> = schedule
            .elements
            .iter()
            .enumerate()
            .filter_map(|(p, (_, e))| matches!(e, Element::Query(_)).then_some(p))
            .collect();
        let num_queries = queries.len();

        // The trace commitments and their matrices.
        let lde = |s: &AirShape| s.log_height + log_blowup;
        let m = |log_height, width, two_points| TraceMatrix {
            log_height,
            width,
            two_points,
        };
        let mut trace: Vec<(Root, Vec<TraceMatrix>)> = vec![
            (
                Root::Main,
                airs.iter()
                    .zip(shapes)
                    .map(|(a, s)| m(lde(s), a.width(), s.main_next))
                    .collect(),
            ),
            (
                Root::Quotient,
                shapes
                    .iter()
                    .flat_map(|s| (0..s.num_quotient_chunks).map(move |_| m(lde(s), D, false)))
                    .collect(),
            ),
        ];
        let logup: Vec<TraceMatrix> = lookups
            .iter()
            .zip(shapes)
            .filter(|(l, _)| !l.is_empty())
            .map(|(l, s)| m(lde(s), (l.len() + 1) * D, true))
            .collect();
        if !logup.is_empty() {
            trace.push((Root::Permutation, logup));
        }
        let mut log_heights: Vec<usize> = trace
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|m| m.log_height))
            .collect();
        log_heights.sort_unstable_by(|a, b| b.cmp(a));
        log_heights.dedup();
        let k = log_heights[0];
        let fri = FriShape::new(&fri_parameters(preset, ()), &log_heights, k);
        if fri.num_queries != num_queries {
            return Err("the transcript's queries are not FRI's".into());
        }
        // The log height after each round.
        let mut folded = Vec::new();
        let mut h = k;
        for &a in &fri.log_arities {
            h -= a;
            folded.push(h);
        }
        let total: usize = fri.log_arities.iter().sum();

        let mut windows = Windows::default();
        let deep_point =
            |h: usize| -> WindowKey { (k - h, k, Some((F::GENERATOR, F::two_adic_generator(h)))) };

        // The DEEP shape: per height, matrices in commitment then matrix order.
        let mut heights = Vec::new();
        let mut claims_by_height = Vec::new();
        let mut deep_sources = Vec::new();
        for &h in &log_heights {
            let mut matrices = Vec::new();
            let mut claims = Vec::new();
            let mut id = 0;
            for (round, (root, ms)) in trace.iter().enumerate() {
                let dims: Vec<(usize, usize)> =
                    ms.iter().map(|m| (1 << m.log_height, m.width)).collect();
                let layout = OpeningShape::layout(&dims)?;
                let root_position = at(Element::Root { root: *root, i: 0 })?;
                for (matrix, (tm, (group_start, offset))) in ms.iter().zip(layout).enumerate() {
                    if tm.log_height == h {
                        deep_sources.push((round, matrix));
                        matrices.push(DeepMatrix {
                            id,
                            width: tm.width,
                            two_points: tm.two_points,
                            root_position,
                            group_start,
                            offset,
                        });
                        let claim = |point| {
                            at(Element::Claim {
                                round,
                                matrix,
                                point,
                                column: 0,
                                coord: 0,
                            })
                        };
                        claims.push(ClaimAt {
                            zeta: claim(0)?,
                            zeta_next: if tm.two_points { Some(claim(1)?) } else { None },
                        });
                    }
                    id += 1;
                }
            }
            let sink = if h == k {
                Sink::Fold
            } else if h == log_blowup {
                Sink::Zero
            } else {
                Sink::RollIn(
                    folded
                        .iter()
                        .position(|&f| f == h)
                        .ok_or_else(|| format!("no round folds to log height {h}"))?,
                )
            };
            if matrices.len() > MAX_USES {
                return Err(format!("{} matrices of log height {h}", matrices.len()));
            }
            let x_tag = windows.tag(deep_point(h), matrices.len());
            heights.push(DeepHeight {
                log_height: h,
                x_tag,
                matrices,
                sink,
            });
            claims_by_height.push(claims);
        }
        let deep = DeepShape::new(
            queries.clone(),
            coords(Sampled::OpeningAlpha)?,
            coords(Sampled::Zeta)?,
            log_blowup,
            heights,
        );
        let claims: Vec<ClaimAt> = claims_by_height.into_iter().flatten().collect();

        // The trace commitments' openings, at their tallest height's DEEP point.
        let mut openings = Vec::new();
        for (root, ms) in &trace {
            let dims: Vec<(usize, usize)> =
                ms.iter().map(|m| (1 << m.log_height, m.width)).collect();
            let tallest = ms.iter().map(|m| m.log_height).max().expect("a matrix");
            let root_position = at(Element::Root { root: *root, i: 0 })?;
            let readers = deep.readers(root_position, &OpeningShape::new(&dims)?);
            openings.push(CommitmentOpenings {
                root: *root,
                dims,
                link: OpeningLink {
                    root_position,
                    window_tag: windows.tag(deep_point(tallest), 1),
                },
                readers,
            });
        }

        // The folding rounds and their commit-phase openings.
        let mut rounds = Vec::new();
        let mut start = 0;
        for (r, &a) in fri.log_arities.iter().enumerate() {
            let h = k - start - a;
            let group_tag = windows.tag((start, start + a, None), 1);
            let s_inv = F::two_adic_generator(h + a).inverse();
            let point_key = (start + a, k, Some((F::ONE, s_inv)));
            let point_tag = windows.tag(point_key, 1);
            let root = Root::Fri(r);
            let round = FoldRound {
                log_arity: a,
                beta_positions: coords(Sampled::Beta(r))?,
                rolls_in: h != log_blowup && log_heights[1..].contains(&h),
                group_tag,
                point_tag,
                root_position: at(Element::Root { root, i: 0 })?,
            };
            openings.push(CommitmentOpenings {
                root,
                dims: vec![(1 << h, D << a)],
                link: OpeningLink {
                    root_position: round.root_position,
                    window_tag: windows.tag(point_key, 1),
                },
                readers: round.readers(),
            });
            rounds.push(round);
            start += a;
        }
        let fold = FoldShape::new(queries.clone(), rounds);
        let final_poly = FinalPolyShape {
            positions: (0..fri.final_poly_len)
                .map(|coeff| at(Element::FinalPoly { coeff, coord: 0 }))
                .collect::<Result<Vec<usize>, String>>()?
                .into_iter()
                .flat_map(|p| p..p + D)
                .collect(),
            queries: queries.clone(),
            rounds: fri.log_arities.len(),
            point_tag: windows.tag(
                (total, k, Some((F::ONE, F::two_adic_generator(k - total)))),
                1,
            ),
        };

        let mut commitments: Vec<Commitment> = openings
            .iter()
            .map(|o| Commitment {
                position: o.link.root_position,
                uses: num_queries,
            })
            .collect();
        commitments.sort_by_key(|c| c.position);

        // The out-of-domain check (the signature batch's template, the same for every message
        // and epoch of the shape but a rare carry, kept per process), its claims and its
        // gathered elements.
        let carry = OodTemplate::carry(statement.epoch);
        let (ood, ood_air) =
            OOD_LAYOUTS.get_or_derive((*preset, shapes.to_vec(), carry), || {
                let template = OodTemplate::new(carry);
                let program =
                    Program::ood_check_with(&template.airs, lookups, shapes, &template.params);
                let layout =
                    std::sync::Arc::new(OodLayout::new(&program, |i| schedule.input_position(i))?);
                Ok::<_, String>((layout.clone(), OodAir::new(layout)))
            })?;
        let ood_params = OodTemplate::parameters(&statement.message, statement.epoch);
        let mut ood_claims = BTreeSet::new();
        let mut gathered = Vec::new();
        for &input in &ood.inputs {
            let position = schedule
                .input_position(input)
                .expect("the layout positioned it");
            match input {
                Input::Main { .. }
                | Input::QuotientChunk { .. }
                | Input::PermutationCoord { .. } => {
                    ood_claims.insert(position);
                }
                Input::Zeta | Input::Alpha | Input::LookupAlpha | Input::LookupBeta => {
                    gathered.push(Gathered {
                        position,
                        sampled: true,
                    });
                }
                Input::Terminal { .. } => gathered.push(Gathered {
                    position,
                    sampled: false,
                }),
                // Bound by the statement, not gathered from the transcript.
                _ => {}
            }
        }

        // The observations the AIRs above do not send.
        let gathered_observed: BTreeSet<usize> = gathered
            .iter()
            .filter(|g| !g.sampled)
            .map(|g| g.position)
            .collect();
        let checked_public: BTreeSet<usize> = ood
            .inputs
            .iter()
            .filter(|i| matches!(i, Input::Public { .. }))
            .filter_map(|&i| schedule.input_position(i))
            .collect();
        let bindings = statement.bindings();
        let mut observations = Vec::new();
        for (p, (d, e)) in schedule.elements.iter().enumerate() {
            if *d != Direction::Observe {
                continue;
            }
            let kind = match *e {
                Element::Root { .. } | Element::Claim { .. } | Element::FinalPoly { .. } => {
                    continue
                }
                Element::Terminal { coord, .. } if gathered_observed.contains(&(p - coord)) => {
                    continue
                }
                Element::Domain(_) | Element::Seed { .. } => Observed::Constant(
                    *schedule
                        .constants
                        .get(&p)
                        .ok_or_else(|| format!("no value for the constant at {p}"))?,
                ),
                Element::DegreeBits { instance, coord } => Observed::Constant(if coord == 0 {
                    F::from_usize(shapes[instance].log_height)
                } else {
                    F::ZERO
                }),
                Element::PowWitness(_) => Observed::Witness,
                Element::Public { instance, index } => {
                    let (constant, slot) = binding(&bindings, statement, instance, index)?;
                    Observed::Public {
                        checked: checked_public.contains(&p),
                        constant,
                        slot,
                    }
                }
                other => return Err(format!("{other:?} at {p}: an observation no AIR sends")),
            };
            observations.push(ObservedElement { position: p, kind });
        }
        // The check's statement parameters, past the transcript's positions.
        for &input in &ood.inputs {
            if let Input::Param { instance, index } = input {
                observations.push(ObservedElement {
                    position: schedule
                        .input_position(input)
                        .ok_or_else(|| format!("{input:?} has no key"))?,
                    kind: Observed::Parameter(parameter(&ood_params, instance, index)?),
                });
            }
        }
        let publics = observations
            .iter()
            .filter(|o| matches!(o.kind, Observed::Public { .. }))
            .count();
        if publics != crate::aggregate::statement::NUM_STATEMENT_VALUES {
            return Err(format!(
                "{publics} public values observed: a statement has {}",
                crate::aggregate::statement::NUM_STATEMENT_VALUES
            ));
        }

        // The transcript: observations and samples in runs; each sample's receivers.
        let mut ops: Vec<Op> = Vec::new();
        for (d, _) in &schedule.elements {
            match (d, ops.last_mut()) {
                (Direction::Observe, Some(Op::Observe(n)))
                | (Direction::Sample, Some(Op::Sample(n))) => {
                    *n += 1;
                }
                (Direction::Observe, _) => ops.push(Op::Observe(1)),
                (Direction::Sample, _) => ops.push(Op::Sample(1)),
            }
        }
        let mut transcript = TranscriptShape::new(&ops);
        let gathered_at: BTreeSet<usize> = gathered
            .iter()
            .filter(|g| g.sampled)
            .map(|g| g.position)
            .collect();
        for (p, (d, e)) in schedule.elements.iter().enumerate() {
            let Element::Challenge { challenge, coord } = *e else {
                continue;
            };
            debug_assert_eq!(*d, Direction::Sample);
            let gather = usize::from(gathered_at.contains(&(p - coord)));
            let uses = match challenge {
                // The DEEP quotient's block reads it too.
                Sampled::Zeta => gather + 1,
                // The DEEP quotient's and the ladder's blocks.
                Sampled::OpeningAlpha => 2,
                // Every query's row of the round.
                Sampled::Beta(_) => num_queries,
                Sampled::Alpha | Sampled::LookupAlpha | Sampled::LookupBeta => gather,
            };
            transcript.set_uses(p, uses);
        }

        // The bit samples: grinding checks, then the query indices with their windows.
        let draws = schedule
            .bits
            .iter()
            .map(|(&position, &bits)| {
                let draw = match schedule.elements[position].1 {
                    Element::Query(_) => Draw::Query {
                        bits,
                        uniform: false,
                        windows: windows.windows.clone(),
                    },
                    _ => Draw::Grinding { bits },
                };
                (position, draw)
            })
            .collect();
        if windows.windows.iter().any(|w| w.hi > fri.index_bits) {
            return Err("a window past the query's bits".into());
        }
        let bits = BitsShape::new(draws);

        Ok(Self {
            schedule,
            transcript,
            bits,
            commitments,
            openings,
            deep,
            claims,
            deep_sources,
            ood_claims,
            fold,
            final_poly,
            gathered,
            ood,
            ood_air,
            ood_params,
            carry,
            observations,
        })
    }

    /// This shape for `statement`: the same schedules, with the observations that hold
    /// statement values ([`Observed::Public`]'s constants and slots, [`Observed::Parameter`]'s
    /// values) and the check's parameters made from `statement`. Equal to
    /// [`ChildShape::new`] on the same AIRs' shapes for `statement`, because nothing else in a
    /// shape depends on the message, the epoch (its carry threshold aside), the digest's value
    /// or the number of keys (its trace heights aside)
    /// (`a_restated_shape_is_the_shape_derived_for_its_statement`).
    ///
    /// # Errors
    /// A message if the epoch's carry threshold is not this shape's ([`ChildShape::carry`]),
    /// or the statement's instance or bindings are not the ones this shape was derived with
    /// (a digest known against one not known, or the reverse).
    pub fn restated(&self, statement: &ChildStatement) -> Result<Self, String> {
        let (observations, ood_params) = self.restated_parts(statement)?;
        Ok(Self {
            observations,
            ood_params,
            ..self.clone()
        })
    }

    /// [`ChildShape::restated`]'s observations alone, without copying the rest of the shape: what
    /// a verifier with a kept batch makes for each statement (its
    /// [`super::observed::ObservedAir`]s). Equal to `restated(statement)?.observations`
    /// (`a_restated_shape_is_the_shape_derived_for_its_statement`).
    ///
    /// # Errors
    /// As [`ChildShape::restated`].
    pub fn restated_observations(
        &self,
        statement: &ChildStatement,
    ) -> Result<Vec<ObservedElement>, String> {
        Ok(self.restated_parts(statement)?.0)
    }

    /// The observations and the check's parameters of [`ChildShape::restated`].
    fn restated_parts(
        &self,
        statement: &ChildStatement,
    ) -> Result<(Vec<ObservedElement>, Vec<Vec<F>>), String> {
        let carry = OodTemplate::carry(statement.epoch);
        if carry != self.carry {
            return Err(format!(
                "epoch {} has carry threshold {carry:?}, the shape's is {:?}",
                statement.epoch, self.carry
            ));
        }
        let bindings = statement.bindings();
        let ood_params = OodTemplate::parameters(&statement.message, statement.epoch);
        let mut params = self.ood.inputs.iter().filter_map(|i| match *i {
            Input::Param { instance, index } => Some((instance, index)),
            _ => None,
        });
        let observations = self
            .observations
            .iter()
            .map(|o| {
                let kind = match o.kind {
                    Observed::Public {
                        checked,
                        constant,
                        slot,
                    } => {
                        let Some((_, Element::Public { instance, index })) =
                            self.schedule.elements.get(o.position)
                        else {
                            return Err(format!("no public value at {}", o.position));
                        };
                        let (c, s) = binding(&bindings, statement, *instance, *index)?;
                        if c.is_some() != constant.is_some() || s != slot {
                            return Err(format!(
                                "public value {index} is bound otherwise than in the shape"
                            ));
                        }
                        Observed::Public {
                            checked,
                            constant: c,
                            slot: s,
                        }
                    }
                    Observed::Parameter(_) => {
                        let (instance, index) = params
                            .next()
                            .ok_or("more parameters observed than the check has")?;
                        Observed::Parameter(parameter(&ood_params, instance, index)?)
                    }
                    kind => kind,
                };
                Ok(ObservedElement {
                    position: o.position,
                    kind,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok((observations, ood_params))
    }
}

/// How `statement` binds its public value `index` (of AIR instance `instance`): its
/// `(constant, slot)` in `bindings` ([`ChildStatement::bindings`], as [`Observed::Public`]).
///
/// # Errors
/// A message if `instance` is not the statement's or `index` is past its values.
fn binding(
    bindings: &[(Option<F>, Option<usize>)],
    statement: &ChildStatement,
    instance: usize,
    index: usize,
) -> Result<(Option<F>, Option<usize>), String> {
    if instance != statement.instance {
        return Err(format!(
            "public value {index} of instance {instance}: only instance {} holds a statement",
            statement.instance
        ));
    }
    bindings
        .get(index)
        .copied()
        .ok_or_else(|| format!("public value {index} is past the statement's"))
}

/// The value of the check's parameter `index` of AIR instance `instance` in `params`
/// ([`OodTemplate::parameters`]).
///
/// # Errors
/// A message if there is none.
fn parameter(params: &[Vec<F>], instance: usize, index: usize) -> Result<F, String> {
    params
        .get(instance)
        .and_then(|v| v.get(index))
        .copied()
        .ok_or_else(|| format!("no value for parameter {index} of instance {instance}"))
}

#[cfg(test)]
mod tests {
    //! The derived schedules against real children's proofs. The whole verification on them
    //! is in `witness.rs`.

    use std::collections::BTreeSet;

    use super::*;
    use crate::aggregate::recursion::ext;
    use crate::aggregate::recursion::ood::tests::{real_child_of, Child};

    fn shape_of(child: &Child) -> ChildShape {
        ChildShape::new(
            &child.preset,
            &child.airs,
            &child.lookups,
            &child.shapes,
            &child.statement(),
        )
        .expect("a shape the verifier AIRs cover")
    }

    /// The recorded transcript's element at each position.
    fn values(child: &Child) -> Vec<F> {
        child.trace.transcript().iter().map(|e| e.value()).collect()
    }

    fn ext_at(v: &[F], p: usize) -> Challenge {
        ext::element(core::array::from_fn(|i| v[p + i]))
    }

    /// Children of 2 and 40 signatures (different heights, so different FRI rounds): the
    /// derived schedules are the ones their proofs have.
    #[test]
    fn a_real_childs_schedules_are_its_proofs() {
        let mut rounds = Vec::new();
        for n in [2, 40] {
            let child = real_child_of(n);
            let shape = shape_of(&child);
            // The transcript's duplexings are the recorded transcript's.
            let (ops, _) = child.trace.transcript_ops();
            assert_eq!(
                shape.transcript.duplexings(),
                TranscriptShape::new(&ops).duplexings()
            );
            // Every commitment the proof has, in transcript order, each with its own root.
            let fri = &child.proof.opening_proof;
            let trace_commitments = shape.openings.len() - fri.commit_phase_commits.len();
            assert_eq!(trace_commitments, fri.input_openings.len());
            assert_eq!(shape.commitments.len(), shape.openings.len());
            let v = values(&child);
            for (o, batch) in shape.openings.iter().zip(&fri.input_openings) {
                // Each query's opened rows have the derived widths.
                for rows in &batch.opened_values {
                    let widths: Vec<usize> = rows.iter().map(Vec::len).collect();
                    let expected: Vec<usize> = o.dims.iter().map(|d| d.1).collect();
                    assert_eq!(widths, expected, "{:?}", o.root);
                }
            }
            for (r, (o, commit)) in shape.openings[trace_commitments..]
                .iter()
                .zip(&fri.commit_phase_commits)
                .enumerate()
            {
                assert_eq!(o.root, Root::Fri(r));
                let p = o.link.root_position;
                let digest: Vec<F> = commit.roots()[0].to_vec();
                assert_eq!(&v[p..p + digest.len()], &digest[..], "round {r}'s root");
                // A round of arity 2^a opens 2^a - 1 siblings of the folded value.
                let arity = o.dims[0].1 / D;
                for s in &fri.commit_phase_openings[r].sibling_values {
                    assert_eq!(s.len() + 1, arity);
                }
            }
            assert_eq!(shape.final_poly.len(), fri.final_poly.len());
            for (c, &coeff) in fri.final_poly.iter().enumerate() {
                assert_eq!(ext_at(&v, shape.final_poly.positions[D * c]), coeff);
            }
            // The DEEP shape covers every trace matrix once, each at its claims' positions.
            let matrices: usize = fri
                .input_openings
                .iter()
                .map(|b| b.opened_values[0].len())
                .sum();
            assert_eq!(shape.deep.matrices().count(), matrices);
            assert_eq!(shape.claims.len(), matrices);
            // The check's claims are among the ladder's, and it gathers four challenges and
            // one terminal per AIR with lookups.
            let ladder: BTreeSet<usize> = shape
                .claims
                .iter()
                .zip(shape.deep.matrices())
                .flat_map(|(c, (_, m))| {
                    [Some(c.zeta), c.zeta_next]
                        .into_iter()
                        .flatten()
                        .flat_map(move |first| (0..m.width).map(move |col| first + D * col))
                })
                .collect();
            assert!(shape.ood_claims.is_subset(&ladder));
            assert_eq!(shape.gathered.iter().filter(|g| g.sampled).count(), 4);
            assert_eq!(
                shape.gathered.iter().filter(|g| !g.sampled).count(),
                child.lookups.iter().filter(|l| !l.is_empty()).count()
            );
            rounds.push(shape.fold.rounds().len());
        }
        assert!(rounds[0] <= rounds[1], "{rounds:?}");
    }
}
