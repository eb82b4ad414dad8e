//! Type-2: one proof for Type-1 proofs over different (message, epoch) pairs, as a block
//! carries them (`../shared/design/RECURSION-NOTES.md`, the proposer's merge).
//!
//! **Statement.** A list of *components*, each (message, epoch, number of signers, key-set
//! digest), the digest computed by the verifier from the component's keys
//! (`crate::aggregate::statement::key_set_digest_ordered` of [`crate::canonical_key_order`]).
//! Components are taken in a canonical order, by epoch and then message bytes, so a verifier
//! may list them in any order; two components with the same (message, epoch) are refused, by
//! the prover and by the verifier (merge them as children into one Type-1 instead).
//!
//! **The batch.** The verifier AIRs of a Type-1 parent ([`super::parent`]), arranged per
//! component. Components whose Type-1 batches have the same trace heights and whose epochs
//! have the same carry threshold form a group (`component_groups`: numbers of keys of one
//! band, as 135 to 256; ascending by size, the canonical order kept within a group; component
//! `j` of group `g` is transcript
//! `g * GROUP_STRIDE + j`, [`super::parent::transcript_numbers`], [`super::parent::GROUP_STRIDE`]). A child's shape depends on
//! its number of keys only through its trace heights and its observed statement, on its message
//! and epoch only through its observed statement and the out-of-domain check's parameters, and
//! on the epoch's carry threshold (which picks the check's program,
//! [`super::ood::OodTemplate`]), so:
//! - each group holds one instance of each verifier AIR whose schedule follows from the heights
//!   and the carry alone (`DuplexAir`, `CommitmentAir`, `SampledBitsAir`, `DeepTermsAir`,
//!   `GatherAir`, one `MmcsOpeningAir`, `DeepQuotientAir`, `FriFoldAir`, `FinalPolyAir`), a
//!   block per component, as in a Type-1 parent; so does its [`super::ood_air::OodAir`] (the
//!   heights' and carry's program, its statement parameters received per component) when the
//!   group's number of components is a power of two, and otherwise each component has one of
//!   its own (exactly one block, [`Blocks::Member`]), so that no instance pads to the next power
//!   of two;
//! - each component has its own [`ObservedAir`], exactly one block numbered with the
//!   component's transcript ([`Blocks::Member`]); it holds every statement value (N, epoch, message,
//!   digest) as a constant of its schedule, carries the statement as its public values (so
//!   the parent's transcript observes it before any challenge), and is *anchored*: its first
//!   row is active ([`ObservedAir::anchored`]);
//! - one shared permutation table (`Perm24TableAir::shared`), committed in pieces when that
//!   halves the stacked trace (`shared_table_split`).
//!
//! **Why the anchor.** A Type-1 parent's key-set AIR receives every child's statement, which
//! forces each child's observations, and through them its whole verification, to run. A Type-2
//! batch has no key-set AIR; without the anchor every block could be padding and every bus
//! would balance. An active observation block sends its transcript's observations (received by
//! the group's duplex AIR only for a transcript it runs), its public values to its
//! out-of-domain check, and so on through the same chain as in a Type-1 parent.
//!
//! **What a verifier keeps.** Everything but the [`ObservedAir`]s follows from the structure:
//! the preset ids and the groups' trace heights, carry thresholds and sizes (not which
//! component falls where in canonical order: member `j` of group `g` is numbered alike in any
//! order of the bands). A process
//! keeps the batch, its symbolic passes and the multilinear STARK's keys and security report per
//! structure (`Type2StructureKey`), and for each verification makes only the components'
//! observation AIRs (their shapes kept per size and carry and restated to the statement,
//! [`ChildShape::restated`]). Nothing is kept per statement, so a new block of a structure the
//! process has seen costs what the same block again does. The kept symbolic pass stands for
//! the statement's own only because no observation AIR's constraint or bus message depends on
//! a statement value (they are periodic columns and public values):
//! `every_statement_of_a_structure_has_the_structures_symbolic_passes` holds it to that.
//!
//! **Bytes** ([`Type2Proof::to_bytes`]): the common prefix of kind `KIND_TYPE2` with the
//! components' preset, the number of components and each one's number of keys (canonical
//! order), the WHIR preset id, then the WHIR archive. Every proof is proved by the multilinear
//! STARK over WHIR under [`compact_parent_preset`], as a compact parent: a FRI batch of these
//! AIRs is over the 512 KiB wire cap.
//!
//! **Split** ([`split_type2`]): one component out of a Type-2 proof as a Type-1 proof that
//! [`crate::verify_aggregate`] verifies for that component alone ([`verify_split_bytes`]): the
//! Type-2 proof with the other components' statements (message, epoch, number of keys, key-set
//! digest), kind `crate::aggregate::wire::KIND_SPLIT`. Its verifier puts the caller's component
//! among the carried statements and verifies the Type-2 for all of them, so a split proves its
//! component exactly as the Type-2 does (same soundness, a few hundred bytes more).
//!
//! Not yet: components that are parents or splits, and a split as a child (neither a compact
//! parent's nor a Type-2's verifier is in the AIRs, `src/aggregate/recursion/README.md`). A split
//! made by recursion, a Type-1 proof that verifies the Type-2 in its AIRs, would be one.

use std::time::Instant;

use p3_air::BaseAir;
use p3_matrix::dense::RowMajorMatrix;
use p3_matrix::Matrix;

use super::child::ChildShape;
use super::child_verification_trace;
use super::observed::{ObservedAir, ObservedElement};
use super::parent::{
    blocks_log_heights_and_rows, blocks_traces, compact_batch, compact_parent_preset,
    compact_reductions, component_shape, cut_shared_table, group_airs, group_first, grouped_by,
    instance_public_values, kept_observations, multilinear_instances, multilinear_refs_with,
    parent_header, prove_multilinear, read_parent_header, shapes_by_structure, shared_table_split,
    stacked_variables, transcript_numbers, verify_multilinear, Blocks, ChildGroup, CompactBatch,
    Kept, MultilinearAir, ParentHeader, VerifierAir,
};
use super::replay::SymbolicRecord;
use super::witness::ChildWitness;
use crate::aggregate::air::perm::Perm24TableAir;
use crate::aggregate::fri;
use crate::aggregate::fri::config::Poseidon1;
use crate::aggregate::options::{ProveError, VerifyError, VerifyOptions};
use crate::aggregate::preset::{FriPreset, Preset, WhirPreset, PRESETS};
use crate::aggregate::profile::profile;
use crate::aggregate::statement::{
    degree_bits, heights_of, key_set_digest_ordered, statement_values, Statement, KEY_DIGEST_LEN,
};
use crate::aggregate::whir;
use crate::aggregate::wire::{self, KIND_SPLIT, KIND_TYPE2};
use crate::aggregate::{accept_preset, canonical_key_order, check_key_count, SECURITY_FLOOR_BITS};
use crate::xmss::{PublicKey, F};

/// Most components one Type-2 proof takes: a block's eight attestation aggregates and the
/// proposer's own, with room to spare.
pub const MAX_COMPONENTS: usize = 16;

/// One component of a Type-2 statement as the caller names it: the message, the epoch and the
/// signers' keys (any order, no key twice).
#[derive(Clone, Copy, Debug)]
pub struct Component<'a> {
    /// The signed message (32 bytes).
    pub message: [u8; 32],
    /// The epoch (the slot).
    pub epoch: u32,
    /// The signers' public keys, 1 to [`crate::aggregate::MAX_SIGNATURES`].
    pub keys: &'a [PublicKey],
}

/// A component as the batch takes it: keys in canonical order, their digest and the statement
/// values. A verifier of a split Type-1 ([`verify_split_bytes`]) knows the other components only
/// by their statements: `keys` is then empty and `num_keys` the statement's count.
#[derive(Clone, Debug)]
struct Canonical {
    message: [u8; 32],
    epoch: u32,
    /// The keys in canonical order (empty for a component known by its statement alone).
    keys: Vec<PublicKey>,
    /// The number of keys, `keys.len()` when the keys are known.
    num_keys: usize,
    digest: [F; KEY_DIGEST_LEN],
    /// The caller's index of the component.
    place: usize,
}

impl Canonical {
    fn statement(&self) -> Vec<F> {
        statement_values(self.num_keys, self.epoch, &self.message, &self.digest)
    }

    /// What the batch takes from the component beyond its statement: its Type-1 batch's trace
    /// heights and its epoch's carry threshold.
    fn structure(&self) -> ComponentStructure {
        (
            heights_of(self.num_keys),
            super::ood::OodTemplate::carry(self.epoch),
        )
    }
}

/// A component's trace heights and carry threshold ([`Canonical::structure`]).
type ComponentStructure = ([usize; crate::aggregate::air::NUM_INSTANCES], Option<usize>);

/// The components in canonical order (epoch, then message bytes), each with its keys in
/// canonical order and their digest.
///
/// # Errors
/// [`VerifyError::Invalid`] for no component, more than [`MAX_COMPONENTS`], a component with no
/// key, too many or a repeated key, or two components with the same (message, epoch).
fn canonical_components(components: &[Component<'_>]) -> Result<Vec<Canonical>, VerifyError> {
    if components.is_empty() || components.len() > MAX_COMPONENTS {
        return Err(VerifyError::Invalid(format!(
            "{} components (1 to {MAX_COMPONENTS})",
            components.len()
        )));
    }
    use rayon::prelude::*;
    // The key-set digests are most of this (about 6 ms for 2,049 keys): one component a task.
    let made: Vec<Result<Canonical, VerifyError>> = components
        .par_iter()
        .enumerate()
        .map(|(place, c)| {
            let with_place =
                |e: VerifyError| VerifyError::Invalid(format!("component {place}: {e}"));
            check_key_count(c.keys).map_err(with_place)?;
            let keys = canonical_key_order(c.keys).map_err(with_place)?;
            Ok(Canonical {
                message: c.message,
                epoch: c.epoch,
                digest: key_set_digest_ordered(&keys),
                num_keys: keys.len(),
                keys,
                place,
            })
        })
        .collect();
    // The first component at fault in the caller's order, as a sequential walk would name.
    in_canonical_order(made.into_iter().collect::<Result<Vec<_>, _>>()?)
}

/// `components` sorted by epoch, then message bytes.
///
/// # Errors
/// [`VerifyError::Invalid`] for two components with the same (message, epoch).
fn in_canonical_order(mut out: Vec<Canonical>) -> Result<Vec<Canonical>, VerifyError> {
    out.sort_by_key(|c| (c.epoch, c.message));
    if let Some(w) = out
        .windows(2)
        .find(|w| (w[0].epoch, w[0].message) == (w[1].epoch, w[1].message))
    {
        return Err(VerifyError::Invalid(format!(
            "components {} and {} have the same message and epoch (merge them as children of \
             one Type-1 proof)",
            w[0].place, w[1].place
        )));
    }
    Ok(out)
}

/// Checks a caller's list of components as the prover and the verifier take it: 1 to
/// [`MAX_COMPONENTS`] components, each with 1 to [`crate::aggregate::MAX_SIGNATURES`] keys and no
/// key twice, no two with the same (message, epoch).
///
/// # Errors
/// [`VerifyError::Invalid`] naming the first component at fault (the caller's index).
pub fn check_components(components: &[Component<'_>]) -> Result<(), VerifyError> {
    canonical_components(components).map(|_| ())
}

/// The batch of a Type-2 proof over `components` (canonical order) of `groups`
/// ([`component_groups`]), each component of shape `shapes[c]`
/// ([`component_shape`]): the AIRs in instance order (module docs) and whose blocks each holds.
///
/// # Errors
/// A message if a commitment or opening of a shape is one the AIRs do not take.
fn type2_airs(
    groups: &[ChildGroup],
    shapes: &[ChildShape],
    components: &[Canonical],
) -> Result<(Vec<VerifierAir>, Vec<Blocks>), String> {
    let mut airs = Vec::new();
    let mut blocks = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let first = group_first(g);
        let base = &shapes[group.members[0]];
        // One out-of-domain AIR for the group when its blocks fill a power of two, else one per
        // component (no padding blocks: nine components in one instance would pad to sixteen).
        let shared_check = group.members.len().is_power_of_two();
        for air in group_airs(base, first)? {
            let own = match air {
                VerifierAir::Observed(_) => true,
                VerifierAir::Ood(_) => !shared_check,
                _ => false,
            };
            if !own {
                airs.push(air);
                blocks.push(Blocks::Group(g));
            }
        }
        for (j, &c) in group.members.iter().enumerate() {
            let t = first + j as u32;
            if !shared_check {
                airs.push(VerifierAir::Ood(shapes[c].ood_air.clone().numbered_from(t)));
                blocks.push(Blocks::Member(g, j));
            }
            airs.push(observed_air(
                shapes[c].observations.clone(),
                &components[c],
                t,
            ));
            blocks.push(Blocks::Member(g, j));
        }
    }
    airs.push(VerifierAir::Perm(Perm24TableAir::shared()));
    blocks.push(Blocks::Shared);
    Ok((airs, blocks))
}

/// The groups of `components` (canonical order): the components whose Type-1 batches have the
/// same trace heights ([`heights_of`] their numbers of keys: one band of sizes, as 135 to 256)
/// and whose epochs have the same carry threshold ([`super::ood::OodTemplate::carry`]: one
/// out-of-domain program) form a group, whatever their numbers of keys, messages and epochs;
/// groups ascending by heights (so by size), then carry, members in canonical order. A group's
/// [`ChildGroup::keys`] is its first member's.
///
/// # Errors
/// A message for more than [`super::parent::MAX_CHILD_SIZES`] groups.
fn component_groups(components: &[Canonical]) -> Result<Vec<ChildGroup>, String> {
    let keys: Vec<ComponentStructure> = components.iter().map(Canonical::structure).collect();
    Ok(grouped_by(&keys, "component trace heights and carries")?
        .into_iter()
        .map(|members| ChildGroup {
            keys: components[members[0]].num_keys,
            members,
        })
        .collect())
}

/// A component's [`ObservedAir`]: its shape's observations (every statement value a constant of
/// the schedule), anchored to its statement, one block numbered `transcript`.
fn observed_air(
    observations: Vec<ObservedElement>,
    component: &Canonical,
    transcript: u32,
) -> VerifierAir {
    VerifierAir::Observed(
        ObservedAir::new(observations)
            .anchored(component.statement())
            .numbered_from(transcript),
    )
}

/// Each component's shape ([`component_shape`]) under `preset`, in canonical order, through
/// [`shapes_by_structure`] keyed by [`Canonical::structure`]: one derivation per band and carry.
/// Shaping every component in parallel derived the bar's shape (8 x 256 + 1) three times, not
/// twice (recursion README, "The first block a process verifies").
fn component_shapes(
    preset: &FriPreset,
    components: &[Canonical],
) -> Result<Vec<ChildShape>, String> {
    shapes_by_structure(
        components.len(),
        |i| components[i].structure(),
        |i| {
            let c = &components[i];
            component_shape(preset, c.num_keys, &c.message, c.epoch, &c.digest)
        },
    )
}

/// The groups' `(queries, components)` for [`super::parent::blocks_log_heights`].
fn counts(groups: &[ChildGroup], shapes: &[ChildShape]) -> Vec<(usize, usize)> {
    groups
        .iter()
        .map(|g| (shapes[g.members[0]].deep.queries().len(), g.members.len()))
        .collect()
}

/// A Type-2 proof: Type-1 proofs over distinct (message, epoch) pairs, each a component, verified
/// in one batch of verifier AIRs (module docs) by the multilinear STARK over WHIR under
/// [`compact_parent_preset`] of `whir`.
pub struct Type2Proof {
    /// The components' preset (recursion-ready, FRI over Poseidon1).
    pub child_preset: FriPreset,
    /// Each component's number of keys, in canonical component order.
    pub component_keys: Vec<usize>,
    /// The WHIR preset of [`PRESETS`] named in the header.
    pub whir: WhirPreset,
    /// The multilinear STARK proof of the batch.
    pub proof: whir::WhirProof,
}

impl Type2Proof {
    /// The proof's bytes, which [`verify_type2_bytes`] reads:
    ///
    /// ```text
    /// offset      size  field
    ///      0        16  prefix (crate::aggregate::wire): magic, version, the components' preset
    ///                   id, kind KIND_TYPE2 (3), length of the rest
    ///     16         4  C, the number of components (1..=MAX_COMPONENTS), u32 little-endian
    ///     20        4C  each component's number of keys, canonical component order (by epoch,
    ///                   then message bytes), u32 little-endian
    ///   20+4C        4  the WHIR preset id (8 or 9), u32 little-endian
    ///      *         *  zero bytes up to a multiple of 16 from offset 16
    ///      *         *  the rkyv archive of the WHIR format's body (whir::envelope), no prefix
    /// ```
    ///
    /// Deterministic, and the only encoding the decoder accepts for this proof.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut payload = parent_header(&self.component_keys, &[usize::from(self.whir.id())]);
        payload.extend_from_slice(&whir::envelope::encode_archive(&self.proof));
        wire::with_prefix_of_kind(self.child_preset.id(), KIND_TYPE2, &payload)
    }

    /// Bytes of each component of the WHIR proof (`whir::envelope::component_sizes`).
    pub fn component_sizes(&self) -> Vec<(&'static str, usize)> {
        whir::envelope::component_sizes(&self.proof)
    }
}

/// What a Type-2 prover or verifier derives from the components before any proof: the batch's
/// AIRs, whose blocks each holds, their trace heights (log2) and the groups.
struct Batch {
    groups: Vec<ChildGroup>,
    shapes: Vec<ChildShape>,
    airs: Vec<VerifierAir>,
    blocks: Vec<Blocks>,
    log_heights: Vec<usize>,
    /// Rows of the shared permutation table that receive a permutation.
    shared_rows: usize,
}

impl Batch {
    /// log2 heights of the instances the multilinear STARK commits under `params`: the AIRs',
    /// the shared permutation table perhaps split ([`shared_table_split`]).
    fn stacked_heights(&self, params: &WhirPreset) -> Vec<usize> {
        shared_table_split(params, &self.airs, &self.log_heights, self.shared_rows)
    }
}

/// [`Batch`] for `components` (canonical order) made under `preset`.
fn derive_batch(preset: &FriPreset, components: &[Canonical]) -> Result<Batch, String> {
    let groups = component_groups(components)?;
    let t = Instant::now();
    let shapes = component_shapes(preset, components)?;
    profile("type-2: component shapes", t);
    let (airs, blocks) = type2_airs(&groups, &shapes, components)?;
    let (log_heights, shared_rows) =
        blocks_log_heights_and_rows(&airs, &blocks, &counts(&groups, &shapes), 0)?;
    Ok(Batch {
        groups,
        shapes,
        airs,
        blocks,
        log_heights,
        shared_rows,
    })
}

/// Soundness in bits and the most bytes ([`Type2Proof::to_bytes`], every Merkle multiproof and
/// reduction at its worst case) of a Type-2 proof of `batch` under `whir`.
fn bits_and_bound(
    batch: &Batch,
    whir: &WhirPreset,
    components: usize,
) -> Result<(CompactBatch, usize), String> {
    let params = compact_parent_preset(whir);
    let heights = batch.stacked_heights(&params);
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&batch.airs, heights.len());
    let pvs = instance_public_values(&wrapped);
    let compact = compact_batch(&params, &wrapped, &heights, &pvs)?;
    let widths: Vec<usize> = wrapped.iter().map(BaseAir::<F>::width).collect();
    let nv = stacked_variables(&params, &heights, &widths);
    let tables = whir::envelope::table_shapes(&wrapped);
    let reductions = Some(compact_reductions(&wrapped, &heights));
    let bound = whir::envelope::max_encoded_len(&params, nv, &tables, reductions)
        .map_err(|e| e.to_string())?;
    Ok((
        compact,
        bound + super::parent::header_len_with(components, 1),
    ))
}

/// What a Type-2 prover has before it proves: the components' preset, the components in
/// canonical order, the batch and its traces.
struct Witnessed {
    preset: FriPreset,
    canonical: Vec<Canonical>,
    batch: Batch,
    traces: Vec<RowMajorMatrix<F>>,
}

/// Verifies each component's proof natively (recording its transcript), derives the batch, runs
/// `check` on it (the prover's floor and byte limit, before any witness is made), then builds
/// the traces, checked against the verifier's heights; returns them with `check`'s value.
///
/// # Errors
/// As [`prove_type2`].
fn witnessed<T>(
    components: &[(&[u8], Component<'_>)],
    check: impl FnOnce(&Batch) -> Result<T, ProveError>,
) -> Result<(Witnessed, T), ProveError> {
    use rayon::prelude::*;
    let invalid = |s: String| ProveError::InvalidOptions(s);
    let named: Vec<Component<'_>> = components.iter().map(|(_, c)| *c).collect();
    let canonical = canonical_components(&named).map_err(|e| invalid(e.to_string()))?;
    let failed = |i: usize| move |e: VerifyError| ProveError::Prover(format!("component {i}: {e}"));
    let refused =
        |index: usize| move |error: VerifyError| ProveError::InvalidComponent { index, error };
    let t = Instant::now();
    // One component a task; the first error in canonical order is the one reported.
    let recorded = canonical
        .par_iter()
        .map(|c| {
            let (bytes, named) = &components[c.place];
            if wire::is_proof_of_proofs(bytes) {
                return Err(refused(c.place)(VerifyError::Invalid(
                    "a parent, Type-2 or split proof cannot be a component yet: components are \
                     signature aggregates"
                        .into(),
                )));
            }
            child_verification_trace(bytes, named.keys, &c.message, c.epoch)
                .map_err(refused(c.place))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    profile("type-2: components verified natively", t);
    let preset = *recorded[0].preset();
    if let Some(i) = (1..recorded.len()).find(|&i| *recorded[i].preset() != preset) {
        return Err(invalid(format!(
            "component {} was made under preset {}, component {} under {}: one Type-2 proof \
             takes components of one preset",
            canonical[i].place,
            recorded[i].preset().id(),
            canonical[0].place,
            preset.id()
        )));
    }
    let batch = derive_batch(&preset, &canonical).map_err(invalid)?;
    let checked = check(&batch)?;
    let t = Instant::now();
    let numbers = transcript_numbers(&batch.groups);
    // One component a task, then regrouped (group by group, members in order).
    let members: Vec<usize> = batch
        .groups
        .iter()
        .flat_map(|g| g.members.iter().copied())
        .collect();
    let made = members
        .par_iter()
        .map(|&c| -> Result<ChildWitness, ProveError> {
            let comp = &canonical[c];
            let stmt = Statement {
                message: &comp.message,
                epoch: comp.epoch,
                keys: &comp.keys,
            };
            let decoded =
                fri::decode_against::<Poseidon1>(&preset, components[comp.place].0, &stmt)
                    .map_err(failed(comp.place))?;
            let w = ChildWitness::new(&batch.shapes[c], recorded[c].transcript(), &decoded.proof)
                .map_err(|e| ProveError::Prover(format!("component {}: {e}", comp.place)))?;
            Ok(w.with_transcript(numbers[c]))
        })
        .collect::<Vec<_>>();
    let witnesses = super::parent::regrouped(&batch.groups, made)?;
    profile("type-2: witnesses", t);
    let t = Instant::now();
    let traces = blocks_traces(&batch.airs, &batch.blocks, &witnesses, &[], &[])?;
    let heights: Vec<usize> = traces.iter().map(|t| t.height()).collect();
    if degree_bits(&heights) != batch.log_heights {
        return Err(ProveError::Prover(format!(
            "trace heights {heights:?}, the verifier's are 2^{:?}",
            batch.log_heights
        )));
    }
    profile("type-2: traces", t);
    Ok((
        Witnessed {
            preset,
            canonical,
            batch,
            traces,
        },
        checked,
    ))
}

/// The most bytes a Type-2 proof of components of `sizes` keys (each component's number of keys,
/// in any order) made under `child_preset` can take under `whir` ([`Type2Proof::to_bytes`], every
/// Merkle multiproof and reduction at its worst case), and its soundness in bits: what
/// [`prove_type2`] checks against the byte limit and the floor before proving. Computed on
/// placeholder keys, messages and epochs (distinct per component); a component's out-of-domain
/// program, and so the bound, can differ by a few rows with its message and epoch.
///
/// # Errors
/// A message for no component or more than [`MAX_COMPONENTS`], a size of 0 or over
/// [`crate::aggregate::MAX_SIGNATURES`], more than [`super::parent::MAX_CHILD_SIZES`] sizes, or
/// a WHIR schedule that does not fit the batch.
pub fn type2_size_bound(
    child_preset: &FriPreset,
    whir: &WhirPreset,
    sizes: &[usize],
) -> Result<(usize, f64), String> {
    use crate::aggregate::statement::placeholder_keys;
    let keys: Vec<Vec<PublicKey>> = sizes.iter().map(|&n| placeholder_keys(n)).collect();
    let named: Vec<Component<'_>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Component {
            message: [i as u8; 32],
            epoch: i as u32,
            keys: k,
        })
        .collect();
    let canonical = canonical_components(&named).map_err(|e| e.to_string())?;
    let batch = derive_batch(child_preset, &canonical)?;
    let (compact, bound) = bits_and_bound(&batch, whir, canonical.len())?;
    Ok((bound, compact.security_bits))
}

/// Merges Type-1 proofs over distinct (message, epoch) pairs into one Type-2 proof under
/// [`compact_parent_preset`] of `whir`. Each entry of `components` is a proof's bytes (a
/// signature aggregate under a recursion-ready preset, all of one preset) and its component
/// (message, epoch, keys in any order). Each proof is verified natively first; then the
/// verification of every one of them is proved in one batch (module docs). Refused after the
/// components' native verification and before any witness, trace or proving: a batch under [`SECURITY_FLOOR_BITS`] proven, or one whose worst-case size is over
/// `max_proof_bytes`.
///
/// Returns the proof and its soundness in bits.
///
/// # Errors
/// [`ProveError::InvalidOptions`] for no component or more than [`MAX_COMPONENTS`], a key list
/// that is empty, too long or repeats a key, two components with the same message and epoch,
/// components of different presets or of more than
/// [`super::parent::MAX_CHILD_SIZES`] sizes, a WHIR preset that is not one of ours, a batch under
/// the floor; [`ProveError::ProofTooLarge`] for a worst case over `max_proof_bytes`;
/// [`ProveError::InvalidComponent`] for a component's proof that does not verify for its
/// component or is under a preset that cannot be a component (the verifier's error), or is a
/// parent, a Type-2 or a split ([`VerifyError::Invalid`]); [`ProveError::Prover`] for a prover
/// failure.
pub fn prove_type2(
    components: &[(&[u8], Component<'_>)],
    whir: &WhirPreset,
    max_proof_bytes: usize,
) -> Result<(Type2Proof, f64), ProveError> {
    let invalid = |s: String| ProveError::InvalidOptions(s);
    if Preset::from_id(whir.id()).and_then(|p| p.as_whir()) != Some(*whir) {
        return Err(invalid(format!("{whir:?} is not one of the WHIR presets")));
    }
    // The floor and the byte limit are checked on the derived batch, before any witness or
    // trace is made.
    let checked = |batch: &Batch| {
        let t = Instant::now();
        let count = batch.shapes.len();
        let (compact, bound) =
            bits_and_bound(batch, whir, count).map_err(ProveError::InvalidOptions)?;
        if compact.security_bits < SECURITY_FLOOR_BITS {
            return Err(invalid(format!(
                "a Type-2 proof of these {count} components is {:.2} bits proven, under the \
                 floor of {SECURITY_FLOOR_BITS}",
                compact.security_bits
            )));
        }
        if bound > max_proof_bytes {
            return Err(ProveError::ProofTooLarge {
                bound,
                limit: max_proof_bytes,
            });
        }
        profile("type-2: setup, security and size bound", t);
        Ok(compact)
    };
    let (
        Witnessed {
            preset,
            canonical,
            batch,
            traces: mut trace_matrices,
        },
        compact,
    ) = witnessed(components, checked)?;
    let t = Instant::now();
    let params = compact_parent_preset(whir);
    let heights = batch.stacked_heights(&params);
    cut_shared_table(&mut trace_matrices, batch.airs.len(), &heights)?;
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&batch.airs, heights.len());
    let pvs = instance_public_values(&wrapped);
    let proof = prove_multilinear(
        "the Type-2 multilinear prover",
        &params,
        &compact,
        &wrapped,
        trace_matrices,
        &pvs,
    )?;
    profile("type-2: multi-stark prove", t);
    Ok((
        Type2Proof {
            child_preset: preset,
            component_keys: canonical.iter().map(|c| c.num_keys).collect(),
            whir: *whir,
            proof,
        },
        compact.security_bits,
    ))
}

/// What a Type-2 verifier derives once per structure, keyed by everything it depends on: the
/// preset ids and the batch's groups ([`component_groups`]), each as its members' trace heights
/// ([`heights_of`] their number of keys) and epochs' carry threshold
/// ([`super::ood::OodTemplate::carry`]) with its number of members, in group order (ascending by
/// heights, then carry). Numbers of keys, messages, epochs and digests are not part of it: they
/// enter the batch only through each component's [`ObservedAir`]'s periodic columns and public
/// values, which [`verify_type2_bytes`] makes for every verification. Nor is the place of each
/// component in canonical order: the batch's AIRs are laid out group by group, member `j` of
/// group `g` transcript `g * 2^24 + j` whichever component it is, so two blocks whose components
/// fall in the same bands in another order have one structure (tested:
/// `blocks_of_the_same_bands_in_another_order_share_one_structure`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Type2StructureKey {
    child: u8,
    whir: u8,
    groups: Vec<(ComponentStructure, usize)>,
}

impl Type2StructureKey {
    /// The key of `canonical`'s structure, grouped as `groups` ([`component_groups`] of it).
    fn of(child: u8, whir: u8, canonical: &[Canonical], groups: &[ChildGroup]) -> Self {
        Type2StructureKey {
            child,
            whir,
            groups: groups
                .iter()
                .map(|g| (canonical[g.members[0]].structure(), g.members.len()))
                .collect(),
        }
    }
}

/// A derived Type-2 batch and its multilinear keys, for every statement of one structure
/// ([`Type2StructureKey`]).
struct Type2VerifierKey {
    /// The batch's AIRs as derived for the first statement of the structure: each
    /// [`ObservedAir`] is replaced by the verified statement's ([`statement_observed`]).
    airs: Vec<VerifierAir>,
    /// Whose blocks each of `airs` holds: [`Blocks::Member`]`(g, j)` is member `j` of group
    /// `g` of any statement of the structure.
    blocks: Vec<Blocks>,
    /// Each AIR's next-row columns (`MultilinearAir::next_columns`).
    next: Vec<Vec<usize>>,
    /// Each instance's symbolic pass, replayed into the verifier (`super::replay`): the same
    /// for every statement of the structure
    /// (`every_statement_of_a_structure_has_the_structures_symbolic_passes`).
    records: Vec<std::sync::Arc<SymbolicRecord>>,
    log_heights: Vec<usize>,
    params: WhirPreset,
    compact: CompactBatch,
}

/// How many [`Type2VerifierKey`]s a process keeps: one per structure (trace heights and
/// carries) of the blocks it verifies, most recently used first.
const CACHED_TYPE2_KEYS: usize = 4;

static TYPE2_KEYS: Kept<Type2StructureKey, std::sync::Arc<Type2VerifierKey>> =
    Kept::new(CACHED_TYPE2_KEYS);

/// Empties the process's Type-2 verifier keys (`TYPE2_KEYS`). For measurements: with
/// [`super::parent::forget_child_shapes`] and [`super::child::forget_ood_layouts`], the next
/// verification derives everything, as a process that has never seen the structure.
pub fn forget_type2_keys() {
    TYPE2_KEYS.clear();
}

/// [`Type2VerifierKey`] of `canonical`'s structure under `preset` and `whir`.
fn derive_type2_key(
    preset: &FriPreset,
    whir: &WhirPreset,
    canonical: &[Canonical],
) -> Result<Type2VerifierKey, String> {
    let t = Instant::now();
    let batch = derive_batch(preset, canonical)?;
    profile("verify type-2: the structure's AIRs", t);
    let params = compact_parent_preset(whir);
    let heights = batch.stacked_heights(&params);
    let t = Instant::now();
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&batch.airs, heights.len());
    profile("verify type-2: the AIRs' symbolic passes", t);
    let pvs = instance_public_values(&wrapped);
    let compact = compact_batch(&params, &wrapped, &heights, &pvs)?;
    let next = wrapped.iter().map(|a| a.next_columns().to_vec()).collect();
    let records = wrapped.iter().map(|a| a.record().clone()).collect();
    drop(wrapped);
    Ok(Type2VerifierKey {
        airs: batch.airs,
        blocks: batch.blocks,
        next,
        records,
        log_heights: heights,
        params,
        compact,
    })
}

/// Each [`ObservedAir`] of `key`'s batch made for the statement `canonical` (components of
/// `key`'s structure, in canonical order, grouped as `groups`: [`component_groups`] of it) from
/// the component's shape ([`component_shape`], a kept shape restated): `(instance, AIR)`.
///
/// # Errors
/// A message if a component's shape cannot be derived.
fn statement_observed(
    preset: &FriPreset,
    key: &Type2VerifierKey,
    canonical: &[Canonical],
    groups: &[ChildGroup],
) -> Result<Vec<(usize, VerifierAir)>, String> {
    let mut observations: Vec<Option<Vec<ObservedElement>>> = shapes_by_structure(
        canonical.len(),
        |i| canonical[i].structure(),
        |i| {
            let c = &canonical[i];
            kept_observations(preset, c.num_keys, &c.message, c.epoch, Some(c.digest))
        },
    )?
    .into_iter()
    .map(Some)
    .collect();
    let mut observed = Vec::with_capacity(canonical.len());
    for (i, (air, block)) in key.airs.iter().zip(&key.blocks).enumerate() {
        if let (VerifierAir::Observed(_), &Blocks::Member(g, j)) = (air, block) {
            let c = groups[g].members[j];
            let t = group_first(g) + j as u32;
            let taken = observations[c]
                .take()
                .ok_or_else(|| format!("component {c} observed twice"))?;
            observed.push((i, observed_air(taken, &canonical[c], t)));
        }
    }
    Ok(observed)
}

/// `key`'s AIRs, in instance order, with each of `observed` ([`statement_observed`]) in its
/// place.
fn statement_airs<'a>(
    key: &'a Type2VerifierKey,
    observed: &'a [(usize, VerifierAir)],
) -> Vec<&'a VerifierAir> {
    let mut airs: Vec<&VerifierAir> = key.airs.iter().collect();
    for (i, air) in observed {
        airs[*i] = air;
    }
    airs
}

/// Verifies a Type-2 proof's bytes ([`Type2Proof::to_bytes`]) for `components` (in any order:
/// the verifier sorts them as the prover did). Accepts only if each component's message, epoch
/// and key set (any order, no key twice) are those the proof attests, component for component,
/// and no other component is in it. The components' preset passes `accept_preset` under
/// `opts` for each component's size.
///
/// # Errors
/// [`VerifyError::Invalid`] for a component list that is empty, too long, holds two components
/// with the same (message, epoch), or a component whose key count differs from the proof's, and
/// for a proof that does not verify; [`VerifyError::Malformed`] for bytes that are not a Type-2
/// proof of this shape or not the one encoding of it; [`VerifyError::PresetNotAccepted`] for a
/// preset that cannot be a child, that `opts` refuses, a WHIR id that is none of ours, or a
/// batch under the floor.
pub fn verify_type2_bytes(
    bytes: &[u8],
    components: &[Component<'_>],
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    verify_type2_kept(bytes, components, opts, &TYPE2_KEYS)
}

/// [`verify_type2_bytes`] with the verifier keys kept in `kept`.
fn verify_type2_kept(
    bytes: &[u8],
    components: &[Component<'_>],
    opts: &VerifyOptions,
    kept: &Kept<Type2StructureKey, std::sync::Arc<Type2VerifierKey>>,
) -> Result<(), VerifyError> {
    let t = Instant::now();
    let canonical = canonical_components(components)?;
    profile("verify type-2: components in canonical order", t);
    verify_type2_canonical(bytes, &canonical, opts, kept)
}

/// [`verify_type2_bytes`] for components already in canonical order
/// ([`canonical_components`], [`in_canonical_order`]).
fn verify_type2_canonical(
    bytes: &[u8],
    canonical: &[Canonical],
    opts: &VerifyOptions,
    kept: &Kept<Type2StructureKey, std::sync::Arc<Type2VerifierKey>>,
) -> Result<(), VerifyError> {
    let ParentHeader {
        child,
        child_keys,
        extra,
        body,
    } = read_parent_header(bytes, KIND_TYPE2, 1)?;
    let malformed = |s: String| VerifyError::Malformed(s);
    if child_keys.len() > MAX_COMPONENTS {
        return Err(malformed(format!("{} components", child_keys.len())));
    }
    if child_keys.len() != canonical.len() {
        return Err(VerifyError::Invalid(format!(
            "the proof has {} components, the caller names {}",
            child_keys.len(),
            canonical.len()
        )));
    }
    if let Some((n, c)) = child_keys
        .iter()
        .zip(canonical)
        .find(|(&n, c)| n != c.num_keys)
    {
        return Err(VerifyError::Invalid(format!(
            "component {} has {} keys, the proof's has {n}",
            c.place, c.num_keys
        )));
    }
    let (whir_id, whir) = u8::try_from(extra[0])
        .ok()
        .and_then(|id| Some((id, Preset::from_id(id)?.as_whir()?)))
        .ok_or_else(|| {
            VerifyError::PresetNotAccepted(format!("{} is not a WHIR preset id", extra[0]))
        })?;
    if PRESETS.get(usize::from(child.id())) != Some(&child) {
        return Err(VerifyError::PresetNotAccepted(format!(
            "the components' preset {child:?} is none of the presets"
        )));
    }
    let t = Instant::now();
    let preset = *super::check_child_preset(&child)?;
    for c in canonical {
        accept_preset(&child, c.num_keys, opts)?;
    }
    profile("verify type-2: the components' preset accepted", t);
    let t = Instant::now();
    let groups = component_groups(canonical).map_err(malformed)?;
    let structure = Type2StructureKey::of(child.id(), whir_id, canonical, &groups);
    let key = kept.get_or_derive(structure, || {
        derive_type2_key(&preset, &whir, canonical)
            .map(std::sync::Arc::new)
            .map_err(malformed)
    })?;
    profile("verify type-2: setup and security", t);
    if key.compact.security_bits < SECURITY_FLOOR_BITS {
        return Err(VerifyError::PresetNotAccepted(format!(
            "a Type-2 proof of these {} components: {:.2} bits proven, under the floor of \
             {SECURITY_FLOOR_BITS}",
            canonical.len(),
            key.compact.security_bits
        )));
    }
    let proof = whir::envelope::decode_archive(body, &key.params, key.compact.num_variables)?;
    let decoded = Type2Proof {
        child_preset: preset,
        component_keys: child_keys,
        whir,
        proof,
    };
    wire::check_canonical(&decoded.to_bytes(), bytes)?;
    let t = Instant::now();
    let observed = statement_observed(&preset, &key, canonical, &groups).map_err(malformed)?;
    let airs = statement_airs(&key, &observed);
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_refs_with(airs, &key.next, &key.records);
    let pvs = instance_public_values(&wrapped);
    profile("verify type-2: the statement's observations", t);
    let t = Instant::now();
    let r = verify_multilinear(
        &key.params,
        &key.compact,
        &wrapped,
        &key.log_heights,
        &pvs,
        &decoded.proof,
    );
    profile("verify type-2: multi-stark verify", t);
    r
}

/// Bytes a split Type-1 proof ([`split_type2`]) carries for each component of its Type-2 proof
/// other than its own: the message (32), the epoch (4), the number of keys (4) and the key-set
/// digest (9 x 4).
pub const SPLIT_STATEMENT_BYTES: usize = 32 + 4 + 4 + 4 * KEY_DIGEST_LEN;

/// Why [`split_type2`] made no split Type-1 proof.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The Type-2 proof does not verify for the components (as [`verify_type2_bytes`] reports
    /// it), or the chosen component is none of them ([`VerifyError::Invalid`]).
    #[error(transparent)]
    Type2(#[from] VerifyError),
    /// The split would be longer than the byte limit.
    #[error("the split Type-1 proof would be {bytes} bytes, over the limit of {limit}")]
    TooLarge {
        /// The split's length, in bytes.
        bytes: usize,
        /// The limit asked for, in bytes.
        limit: usize,
    },
}

/// Splits component `take` (an index into `components`) out of a Type-2 proof as a Type-1 proof
/// for that component alone, which [`crate::verify_aggregate`] verifies for the component's keys
/// (any order), message and epoch, as it verifies any Type-1 proof
/// ([`verify_split_bytes`]).
///
/// The split is the Type-2 proof with the statements of its other components (message, epoch,
/// number of keys, key-set digest; never their keys), so it proves the chosen component exactly
/// as the Type-2 does, at the Type-2's proven soundness; it is the Type-2's length plus
/// `16 + 4 + SPLIT_STATEMENT_BYTES * (C - 1)` bytes for `C` components (at most 1,160 more). The
/// Type-2 proof is verified first, under `opts`, so only a valid Type-2 is split. Not yet: a
/// split as a child or as a component (a Type-2's verifier is not in the AIRs; recursion
/// README, "Split").
///
/// Bytes (the 16-byte prefix of `crate::aggregate::wire`, kind
/// `crate::aggregate::wire::KIND_SPLIT`, the Type-2's components' preset id):
///
/// ```text
/// offset      size  field
///      0        16  prefix: magic, version, the components' preset id, kind KIND_SPLIT (4),
///                   length of the rest
///     16         4  K = C - 1, the number of other components (0..MAX_COMPONENTS), u32 LE
///     20       76K  each other component in canonical order (by epoch, then message bytes):
///                   message (32), epoch u32 LE, number of keys u32 LE, key-set digest as 9
///                   canonical KoalaBear values, u32 LE each
///  20+76K        *  the Type-2 proof's bytes (Type2Proof::to_bytes), to the end
/// ```
///
/// # Errors
/// [`SplitError::Type2`] with [`VerifyError::Invalid`] for `take` out of range, a component list
/// [`verify_type2_bytes`] refuses, or a Type-2 proof that does not verify for it, and the
/// verifier's other errors as it reports them; [`SplitError::TooLarge`] for a split over
/// `max_proof_bytes`.
pub fn split_type2(
    type2: &[u8],
    components: &[Component<'_>],
    take: usize,
    opts: &VerifyOptions,
    max_proof_bytes: usize,
) -> Result<Vec<u8>, SplitError> {
    if take >= components.len() {
        return Err(VerifyError::Invalid(format!(
            "component {take} to split out of {} components",
            components.len()
        ))
        .into());
    }
    use p3_field::PrimeField32;
    let canonical = canonical_components(components)?;
    verify_type2_canonical(type2, &canonical, opts, &TYPE2_KEYS)?;
    let (preset, _) = wire::read_prefix_of_kind(type2, KIND_TYPE2)?;
    let others: Vec<&Canonical> = canonical.iter().filter(|c| c.place != take).collect();
    let mut payload = Vec::with_capacity(4 + others.len() * SPLIT_STATEMENT_BYTES + type2.len());
    payload.extend_from_slice(&(others.len() as u32).to_le_bytes());
    for c in others {
        payload.extend_from_slice(&c.message);
        payload.extend_from_slice(&c.epoch.to_le_bytes());
        payload.extend_from_slice(&(c.num_keys as u32).to_le_bytes());
        for d in &c.digest {
            payload.extend_from_slice(&d.as_canonical_u32().to_le_bytes());
        }
    }
    payload.extend_from_slice(type2);
    let bytes = wire::with_prefix_of_kind(preset.id(), KIND_SPLIT, &payload);
    if bytes.len() > max_proof_bytes {
        return Err(SplitError::TooLarge {
            bytes: bytes.len(),
            limit: max_proof_bytes,
        });
    }
    Ok(bytes)
}

/// A split Type-1 proof's parts ([`split_type2`]'s layout): the other components, known by
/// their statements (no keys; `place` 1, 2, ... in the order read), and the Type-2 proof's
/// bytes.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that are not a split Type-1 proof: prefix or kind, a
/// count over `MAX_COMPONENTS - 1`, a truncated statement, a number of keys of 0 or over
/// [`crate::aggregate::MAX_SIGNATURES`], a digest value that is not canonical, statements not
/// strictly in canonical order, or a Type-2 proof whose prefix is not of kind `KIND_TYPE2` under
/// the split's preset.
fn read_split(bytes: &[u8]) -> Result<(Vec<Canonical>, &[u8]), VerifyError> {
    use p3_field::PrimeCharacteristicRing;
    let (preset, payload) = wire::read_prefix_of_kind(bytes, KIND_SPLIT)?;
    let malformed = |s: String| VerifyError::Malformed(s);
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let count = payload
        .get(..4)
        .map(word)
        .ok_or_else(|| malformed("split proof truncated before its count".into()))?
        as usize;
    if count >= MAX_COMPONENTS {
        return Err(malformed(format!(
            "a split of {count} other components (at most {})",
            MAX_COMPONENTS - 1
        )));
    }
    let end = 4 + count * SPLIT_STATEMENT_BYTES;
    let statements = payload
        .get(4..end)
        .ok_or_else(|| malformed(format!("split proof truncated in its {count} statements")))?;
    let mut others = Vec::with_capacity(count);
    for (i, s) in statements.chunks_exact(SPLIT_STATEMENT_BYTES).enumerate() {
        let num_keys = word(&s[36..40]) as usize;
        if num_keys == 0 || num_keys > crate::aggregate::MAX_SIGNATURES {
            return Err(malformed(format!("split statement {i}: {num_keys} keys")));
        }
        let mut digest = [F::ZERO; KEY_DIGEST_LEN];
        for (d, b) in digest.iter_mut().zip(s[40..].chunks_exact(4)) {
            *d = wire::canonical(word(b), &format!("split statement {i}'s key-set digest"))?;
        }
        let c = Canonical {
            message: s[..32].try_into().expect("32 bytes"),
            epoch: word(&s[32..36]),
            keys: Vec::new(),
            num_keys,
            digest,
            place: i + 1,
        };
        if let Some(prev) = others.last().map(|p: &Canonical| (p.epoch, p.message)) {
            if prev >= (c.epoch, c.message) {
                return Err(malformed(format!(
                    "split statement {i} is not after the one before it (epoch, then message)"
                )));
            }
        }
        others.push(c);
    }
    let type2 = &payload[end..];
    if wire::proof_kind(type2) != Some(KIND_TYPE2) || type2[10] != preset.id() {
        return Err(malformed(
            "a split proof holds no Type-2 proof of its own preset".into(),
        ));
    }
    Ok((others, type2))
}

/// Verifies a split Type-1 proof ([`split_type2`]) for one component: its keys (any order, no
/// key twice), message and epoch. Accepts only if the Type-2 proof it holds verifies for this
/// component together with the other components' statements it carries; what
/// [`crate::verify_aggregate`] runs for a proof of kind `crate::aggregate::wire::KIND_SPLIT`.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that are not a split (`read_split`) or whose Type-2
/// does not decode; [`VerifyError::Invalid`] for a key list that is empty, too long or repeats a
/// key, a component that is one of the carried statements' (message, epoch), or a Type-2 that
/// does not verify for these components; [`VerifyError::PresetNotAccepted`] as
/// [`verify_type2_bytes`].
pub fn verify_split_bytes(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    let (others, type2) = read_split(bytes)?;
    if others
        .iter()
        .any(|c| (c.epoch, c.message) == (epoch, *message))
    {
        return Err(VerifyError::Invalid(
            "this message and epoch are another component of the split's Type-2 proof, not the \
             split's own"
                .into(),
        ));
    }
    let mut all = canonical_components(&[Component {
        message: *message,
        epoch,
        keys: public_keys,
    }])?;
    all.extend(others);
    let canonical = in_canonical_order(all)?;
    verify_type2_canonical(type2, &canonical, opts, &TYPE2_KEYS)
}

/// Bytes of each part of a split Type-1 proof ([`split_type2`]): the other components'
/// statements (with their count) and the Type-2 proof; they sum to the length without the
/// 16-byte prefix. The proof is not verified.
///
/// # Errors
/// As `read_split`.
pub fn split_components(bytes: &[u8]) -> Result<Vec<(&'static str, usize)>, VerifyError> {
    let (others, type2) = read_split(bytes)?;
    Ok(vec![
        (
            "other components' statements",
            4 + others.len() * SPLIT_STATEMENT_BYTES,
        ),
        ("Type-2 proof", type2.len()),
    ])
}

#[cfg(test)]
mod tests {
    //! Real Type-2 proofs over real Type-1 proofs: the components they verify for, and nothing
    //! else; and the anchors, through the AIRs.

    use std::sync::OnceLock;

    use super::*;
    use crate::aggregate::air::perm::split_shared_table;
    use crate::aggregate::recursion::harness::{
        child_proof_of, global_buses, Batch as TestBatch, Failed,
    };
    use crate::aggregate::testing::test_signer;
    use crate::aggregate::{Backend, ProveOptions};

    const M1: [u8; 32] = [7; 32];
    const M2: [u8; 32] = [9; 32];
    const EPOCH: u32 = 11;

    type Proved = (Vec<u8>, Vec<PublicKey>);

    /// Three Type-1 proofs under the recursion-ready preset: `a` signers 3 and 4 on `M1` at
    /// `EPOCH`, `b` signer 4 on `M2` at `EPOCH`, `c` signers 5 and 6 on `M1` at `EPOCH + 1`
    /// (canonical order a, b, c; sizes 2, 1, 2, so two groups, one of two components).
    fn proofs() -> &'static [Proved; 3] {
        static PROOFS: OnceLock<[Proved; 3]> = OnceLock::new();
        PROOFS.get_or_init(|| {
            [
                child_proof_of(M1, EPOCH, 3..5),
                child_proof_of(M2, EPOCH, 4..5),
                child_proof_of(M1, EPOCH + 1, 5..7),
            ]
        })
    }

    fn components(p: &[Proved; 3]) -> [Component<'_>; 3] {
        [
            Component {
                message: M1,
                epoch: EPOCH,
                keys: &p[0].1,
            },
            Component {
                message: M2,
                epoch: EPOCH,
                keys: &p[1].1,
            },
            Component {
                message: M1,
                epoch: EPOCH + 1,
                keys: &p[2].1,
            },
        ]
    }

    fn whir_preset(log_inv_rate: u8) -> WhirPreset {
        let opts = ProveOptions {
            backend: Backend::Whir,
            log_inv_rate,
            ..Default::default()
        };
        match Preset::from_options(&opts) {
            Ok(Preset::Whir(w)) => w,
            p => panic!("no WHIR preset at log_inv_rate {log_inv_rate}: {p:?}"),
        }
    }

    const CAP: usize = 512 * 1024;

    /// The Type-2 proof of the three components, made once.
    fn type2() -> &'static (Vec<u8>, f64) {
        static TYPE2: OnceLock<(Vec<u8>, f64)> = OnceLock::new();
        TYPE2.get_or_init(|| {
            let p = proofs();
            let cs = components(p);
            // The caller's order is not the canonical one.
            let input: Vec<(&[u8], Component<'_>)> = [2, 0, 1]
                .iter()
                .map(|&i| (p[i].0.as_slice(), cs[i]))
                .collect();
            let (proof, bits) = prove_type2(&input, &whir_preset(2), CAP).expect("the Type-2");
            assert_eq!(proof.component_keys, [2, 1, 2], "canonical order a, b, c");
            (proof.to_bytes(), bits)
        })
    }

    fn verify(bytes: &[u8], cs: &[Component<'_>]) -> Result<(), VerifyError> {
        verify_type2_bytes(bytes, cs, &VerifyOptions::default())
    }

    /// Each component split out of the three-component Type-2 verifies through
    /// `verify_aggregate` for its own component (keys in any order) and for nothing else: not for
    /// another component of the Type-2 (a statement it carries), another message, epoch, key or
    /// count; every field of the carried statements, the count, the order, the preset byte and
    /// the Type-2's bytes are bound (a flipped byte fails); a split is refused as a child, as a
    /// component and as a Type-2; a split is made only of a Type-2 that verifies, and within
    /// the byte limit.
    #[test]
    fn a_split_type1_verifies_for_its_own_component_only() {
        use crate::aggregate::{verify_aggregate, Aggregator};
        let p = proofs();
        let cs = components(p);
        let (type2_bytes, _) = type2();
        let opts = VerifyOptions::default();
        let verify1 =
            |b: &[u8], c: &Component<'_>| verify_aggregate(b, c.keys, &c.message, c.epoch, &opts);
        let stranger = test_signer(9, &M1, EPOCH).0;
        // The caller's order [c, a, b]: take 1 is a, the first in canonical order.
        let named = [cs[2], cs[0], cs[1]];
        let mut splits = Vec::new();
        for take in 0..3 {
            let split = split_type2(type2_bytes, &named, take, &opts, CAP).expect("the split");
            assert_eq!(wire::proof_kind(&split), Some(KIND_SPLIT));
            assert_eq!(
                split.len(),
                type2_bytes.len() + 16 + 4 + 2 * SPLIT_STATEMENT_BYTES
            );
            assert_eq!(
                split_components(&split)
                    .unwrap()
                    .iter()
                    .map(|(_, n)| n)
                    .sum::<usize>(),
                split.len() - 16
            );
            let own = named[take];
            verify1(&split, &own).expect("the split verifies for its component");
            let reversed: Vec<PublicKey> = own.keys.iter().rev().copied().collect();
            verify1(
                &split,
                &Component {
                    keys: &reversed,
                    ..own
                },
            )
            .expect("keys in any order");
            for (j, other) in named.iter().enumerate() {
                if j != take {
                    let r = verify1(&split, other);
                    assert!(
                        matches!(r, Err(VerifyError::Invalid(_))),
                        "{take} for {j}: {r:?}"
                    );
                }
            }
            let invalid = |c: &Component<'_>, what: &str| {
                let r = verify1(&split, c);
                assert!(
                    matches!(r, Err(VerifyError::Invalid(_))),
                    "{take}, {what}: {r:?}"
                );
            };
            let mut c = own;
            c.message[4] ^= 1;
            invalid(&c, "another message");
            invalid(
                &Component {
                    epoch: own.epoch + 100,
                    ..own
                },
                "another epoch",
            );
            let mut swapped = own.keys.to_vec();
            swapped[0] = stranger;
            invalid(
                &Component {
                    keys: &swapped,
                    ..own
                },
                "a key swapped",
            );
            let mut more = own.keys.to_vec();
            more.push(stranger);
            invalid(&Component { keys: &more, ..own }, "a key added");
            if own.keys.len() > 1 {
                invalid(
                    &Component {
                        keys: &own.keys[1..],
                        ..own
                    },
                    "a key dropped",
                );
            }
            splits.push(split);
        }
        let split = &splits[1];
        let a = cs[0];
        // Every byte of the carried statements and their count, each byte of the prefix but
        // the length's, and bytes across the Type-2: flipped, each fails.
        let statements = 16 + 4 + 2 * SPLIT_STATEMENT_BYTES;
        let flips = (8..12)
            .chain(16..statements)
            .chain((statements..split.len()).step_by(4099))
            .chain([split.len() - 1]);
        for at in flips {
            let mut forged = split.clone();
            forged[at] ^= 0x10;
            assert!(verify1(&forged, &a).is_err(), "byte {at} flipped");
        }
        let malformed = |forged: &[u8], what: &str| {
            let r = verify1(forged, &a);
            assert!(matches!(r, Err(VerifyError::Malformed(_))), "{what}: {r:?}");
        };
        // A digest value not canonical; the two statements in the other order; a truncation.
        let mut forged = split.clone();
        forged[20 + 40..20 + 44].copy_from_slice(&u32::MAX.to_le_bytes());
        malformed(&forged, "a digest value not canonical");
        let mut forged = split.clone();
        let (first, second) = forged[20..statements].split_at_mut(SPLIT_STATEMENT_BYTES);
        first.swap_with_slice(second);
        malformed(&forged, "the statements out of order");
        malformed(&split[..split.len() - 1], "truncated");
        // A carried statement's number of keys out of range; the Type-2 inside of another kind
        // or preset.
        for n in [0u32, 4097] {
            let mut forged = split.clone();
            forged[20 + 36..20 + 40].copy_from_slice(&n.to_le_bytes());
            malformed(&forged, &format!("{n} keys"));
        }
        for at in [statements + 10, statements + 11] {
            let mut forged = split.clone();
            forged[at] ^= 1;
            malformed(
                &forged,
                &format!("the Type-2's byte {} edited", at - statements),
            );
        }
        let mut forged = split[..16].to_vec();
        forged[12..16].copy_from_slice(&0u32.to_le_bytes());
        malformed(&forged, "nothing after the prefix");
        // Not a child, not a component, not a Type-2, not splittable again.
        let mut agg = Aggregator::new(a.message, a.epoch);
        assert!(agg.add_child(split, a.keys).is_err(), "a split as a child");
        let r = prove_type2(
            &[(&p[1].0, cs[1]), (split.as_slice(), a)],
            &whir_preset(2),
            CAP,
        );
        assert!(
            matches!(
                r,
                Err(ProveError::InvalidComponent {
                    index: 1,
                    error: VerifyError::Invalid(_)
                })
            ),
            "a split as a component: {:?}",
            r.err()
        );
        let r = verify(split, &[a]);
        assert!(
            matches!(r, Err(VerifyError::Malformed(_))),
            "as a Type-2: {r:?}"
        );
        let r = split_type2(split, &[a], 0, &opts, CAP);
        assert!(
            matches!(r, Err(SplitError::Type2(VerifyError::Malformed(_)))),
            "{r:?}"
        );
        // Made only of a Type-2 that verifies for the components named, within the limit.
        let mut c = named;
        c[0].epoch += 100;
        let r = split_type2(type2_bytes, &c, 1, &opts, CAP);
        assert!(
            matches!(r, Err(SplitError::Type2(VerifyError::Invalid(_)))),
            "{r:?}"
        );
        let r = split_type2(type2_bytes, &named, 3, &opts, CAP);
        assert!(
            matches!(r, Err(SplitError::Type2(VerifyError::Invalid(_)))),
            "{r:?}"
        );
        let r = split_type2(type2_bytes, &named, 1, &opts, split.len() - 1);
        assert!(matches!(r, Err(SplitError::TooLarge { .. })), "{r:?}");
    }

    /// A Type-2 proof of three components (two of one size, two of one message, two of one
    /// epoch) fits the cap, is at least at the floor, and verifies for its components in any
    /// order and for nothing else: each component's message, epoch, any key, its count, two
    /// components' key sets swapped, a component left out, added or repeated all fail.
    #[test]
    fn a_type2_proof_verifies_for_its_components_and_no_other() {
        let p = proofs();
        let cs = components(p);
        let (bytes, bits) = type2();
        assert!(*bits >= SECURITY_FLOOR_BITS, "{bits}");
        assert!(bytes.len() <= CAP, "{}", bytes.len());
        assert_eq!(wire::proof_kind(bytes), Some(KIND_TYPE2));
        verify(bytes, &cs).expect("the Type-2 verifies");
        verify(bytes, &[cs[1], cs[2], cs[0]]).expect("in any order");
        let reversed: Vec<PublicKey> = p[2].1.iter().rev().copied().collect();
        let mut c = cs;
        c[2].keys = &reversed;
        verify(bytes, &c).expect("a component's keys in any order");

        let invalid = |c: &[Component<'_>], what: &str| {
            let r = verify(bytes, c);
            assert!(matches!(r, Err(VerifyError::Invalid(_))), "{what}: {r:?}");
        };
        let stranger = test_signer(9, &M1, EPOCH).0;
        for i in 0..3 {
            let mut c = cs;
            c[i].message[4] ^= 1;
            invalid(&c, "another message");
            let mut c = cs;
            c[i].epoch += 100;
            invalid(&c, "another epoch");
            let mut swapped = cs[i].keys.to_vec();
            swapped[0] = stranger;
            let mut c = cs;
            c[i].keys = &swapped;
            invalid(&c, "a key swapped for another");
            let mut more = cs[i].keys.to_vec();
            more.push(stranger);
            let mut c = cs;
            c[i].keys = &more;
            invalid(&c, "a key added");
            invalid(&[cs[i], cs[(i + 1) % 3]], "a component left out");
        }
        let mut c = cs;
        c[0].keys = &p[0].1[1..];
        invalid(&c, "a key dropped");
        // Two components of one size with their key sets swapped: the digests, through the proof.
        let mut c = cs;
        (c[0].keys, c[2].keys) = (cs[2].keys, cs[0].keys);
        invalid(&c, "key sets swapped");
        // A fourth component, or one twice.
        let d = Component {
            message: M2,
            epoch: EPOCH + 1,
            keys: &p[1].1,
        };
        invalid(&[cs[0], cs[1], cs[2], d], "a component added");
        invalid(&[cs[0], cs[1], cs[2], cs[1]], "a component twice");
        let mut c = cs;
        c[1].message = M1;
        invalid(&c, "two components of one message and epoch");
        // verify_aggregate does not take a Type-2 proof for any one component.
        let r = crate::aggregate::verify_aggregate(
            bytes,
            &p[0].1,
            &M1,
            EPOCH,
            &VerifyOptions::default(),
        );
        assert!(matches!(r, Err(VerifyError::Malformed(_))), "{r:?}");
    }

    /// The worst case of the test's shape bounds the real proof, and names its soundness; the
    /// worst case grows with the components' sizes and count.
    #[test]
    fn a_type2_worst_case_bounds_the_real_proof() {
        let (bytes, bits) = type2();
        let child = *crate::aggregate::recursion::check_child_preset(
            &crate::aggregate::wire::read_prefix_of_kind(bytes, KIND_TYPE2)
                .expect("the prefix")
                .0,
        )
        .expect("a child preset");
        let whir = whir_preset(2);
        let (bound, bound_bits) = type2_size_bound(&child, &whir, &[2, 1, 2]).expect("the bound");
        assert!(bytes.len() <= bound, "{} over {bound}", bytes.len());
        assert!(
            (bound_bits - bits).abs() < 0.5,
            "{bound_bits} against {bits}"
        );
        let (larger, _) = type2_size_bound(&child, &whir, &[2, 1, 2, 64]).expect("the bound");
        assert!(larger > bound, "{larger} against {bound}");
        assert!(type2_size_bound(&child, &whir, &[]).is_err());
        assert!(type2_size_bound(&child, &whir, &[0]).is_err());
    }

    /// The block's shape (eight Type-1 proofs of 256 keys and the proposer's of one) fits the
    /// wire cap in the worst case at rate 1/4, above the floor: what lets a proposer merge it
    /// under the default limit. So does a block of eight sizes of one band.
    #[test]
    fn the_blocks_type2_shape_fits_the_cap_in_the_worst_case() {
        let child = *crate::aggregate::recursion::check_child_preset(
            &Preset::from_options(&crate::aggregate::ProveOptions {
                backend: crate::aggregate::Backend::FriPoseidon1,
                ..Default::default()
            })
            .expect("the recursion-ready preset"),
        )
        .expect("a child preset");
        let mut sizes = vec![256; 8];
        sizes.push(1);
        let (bound, bits) = type2_size_bound(&child, &whir_preset(2), &sizes).expect("the bound");
        assert!(bound <= CAP, "{bound}");
        assert!(bits >= SECURITY_FLOOR_BITS, "{bits}");
        // Eight aggregates of different sizes in 135 to 256 keys (one set of heights) are one
        // group: the same batch, bound and soundness.
        let varied = [256, 135, 200, 255, 140, 180, 222, 161, 1];
        assert_eq!(
            type2_size_bound(&child, &whir_preset(2), &varied).expect("the bound"),
            (bound, bits)
        );
    }

    /// Bytes that are not the Type-2 proof are refused with an error: truncations, a trailing
    /// byte, another kind, the header's count, sizes and WHIR preset id, another components'
    /// preset, and flips through the archive.
    #[test]
    fn a_type2_proofs_bytes_are_its_only_encoding() {
        let p = proofs();
        let cs = components(p);
        let (bytes, _) = type2();
        let refused = |b: &[u8], what: &str| {
            let r = verify(b, &cs);
            assert!(r.is_err(), "{what} verified");
        };
        for len in [0, 15, 16, 20, 31, 32, 33, bytes.len() / 2, bytes.len() - 1] {
            refused(&bytes[..len], &format!("{len} bytes"));
        }
        let mut longer = bytes.clone();
        longer.push(0);
        refused(&longer, "a trailing byte");
        let edited = |at: usize, v: u8| {
            let mut b = bytes.clone();
            b[at] = v;
            b
        };
        for kind in [0, 1, 2, 7] {
            let r = verify(&edited(11, kind), &cs);
            assert!(
                matches!(r, Err(VerifyError::Malformed(_))),
                "kind {kind}: {r:?}"
            );
        }
        // Header: count (offset 16), sizes (20, 24, 28), WHIR id (32), padding (36..48).
        for (at, v) in [
            (16, 2),
            (16, 4),
            (16, 0),
            (19, 1),
            (20, 1),
            (24, 2),
            (28, 3),
        ] {
            refused(&edited(at, v), &format!("byte {at} set to {v}"));
        }
        for id in [0u8, 8, 10, 200] {
            let r = verify(&edited(32, id), &cs);
            assert!(r.is_err(), "WHIR id {id}: {r:?}");
        }
        refused(&edited(40, 1), "non-zero padding");
        let mut other_preset = bytes.clone();
        other_preset[10] ^= 1;
        refused(&other_preset, "another components' preset");
        for k in 0..16 {
            let at = 48 + k * (bytes.len() - 48) / 16;
            let mut b = bytes.clone();
            b[at] ^= 0x10;
            refused(&b, &format!("a flip at {at}"));
        }
    }

    /// Refused before proving: a duplicate (message, epoch), another component's proof in
    /// place of one (of another size: its shape; of the same size: its verification; the verifier's
    /// error with the caller's index), no component, a WHIR preset of ours edited, and a byte
    /// limit under the worst case.
    #[test]
    fn a_type2_merge_refuses_what_it_cannot_prove() {
        let p = proofs();
        let cs = components(p);
        let whir = whir_preset(2);
        let options = |r: Result<(Type2Proof, f64), ProveError>, what: &str| {
            assert!(matches!(r, Err(ProveError::InvalidOptions(_))), "{what}");
        };
        let mut twice = cs[1];
        twice.keys = &p[0].1;
        twice.message = M1;
        options(
            prove_type2(&[(&p[0].0, cs[0]), (&p[0].0, twice)], &whir, CAP),
            "a (message, epoch) twice",
        );
        options(prove_type2(&[], &whir, CAP), "no component");
        // Another component's proof, as the verifier refuses it: of another size, its shape;
        // of the same size, its verification.
        let r = prove_type2(&[(&p[1].0, cs[0])], &whir, CAP);
        assert!(
            matches!(
                r,
                Err(ProveError::InvalidComponent {
                    index: 0,
                    error: VerifyError::Malformed(_)
                })
            ),
            "{:?}",
            r.err()
        );
        let r = prove_type2(&[(&p[1].0, cs[1]), (&p[2].0, cs[0])], &whir, CAP);
        assert!(
            matches!(
                r,
                Err(ProveError::InvalidComponent {
                    index: 1,
                    error: VerifyError::Invalid(_)
                })
            ),
            "{:?}",
            r.err()
        );
        let edited = WhirPreset {
            first_folding: whir.first_folding + 1,
            ..whir
        };
        options(
            prove_type2(&[(&p[0].0, cs[0])], &edited, CAP),
            "an edited preset",
        );
        let r = prove_type2(&[(&p[0].0, cs[0])], &whir, 1000);
        assert!(
            matches!(r, Err(ProveError::ProofTooLarge { bound, limit: 1000 }) if bound > 300_000),
            "a limit of 1,000 bytes: {:?}",
            r.err()
        );
    }

    /// Nine components of one key: the shared permutation table (79,328 rows used) is split in
    /// two pieces, which takes the stacked trace from 2^27 to 2^26 cells; the proof verifies for
    /// its components and not for another message of one of them.
    #[test]
    fn a_type2_whose_shared_table_is_split_verifies_for_its_components_only() {
        let made: Vec<([u8; 32], Proved)> = (0..9u8)
            .map(|i| {
                let m = [0x40 + i; 32];
                (
                    m,
                    child_proof_of(m, EPOCH, 3 + u64::from(i)..4 + u64::from(i)),
                )
            })
            .collect();
        let cs: Vec<Component<'_>> = made
            .iter()
            .map(|(m, (_, keys))| Component {
                message: *m,
                epoch: EPOCH,
                keys,
            })
            .collect();
        let whir = whir_preset(2);
        let canonical = canonical_components(&cs).expect("canonical");
        let batch = derive_batch(
            &Preset::from_options(&ProveOptions {
                backend: Backend::FriPoseidon1,
                ..Default::default()
            })
            .expect("the preset")
            .as_fri()
            .expect("a FRI preset"),
            &canonical,
        )
        .expect("the batch");
        let params = compact_parent_preset(&whir);
        let heights = batch.stacked_heights(&params);
        assert!(heights.len() > batch.airs.len(), "no split: {heights:?}");
        let input: Vec<(&[u8], Component<'_>)> = made
            .iter()
            .zip(&cs)
            .map(|((_, (proof, _)), c)| (proof.as_slice(), *c))
            .collect();
        let (proof, _) = prove_type2(&input, &whir, CAP).expect("the merge");
        let bytes = proof.to_bytes();
        verify(&bytes, &cs).expect("its components");
        let mut other = cs.clone();
        other[4].message[0] ^= 1;
        assert!(verify(&bytes, &other).is_err(), "another message verified");
    }

    /// The components' preset of these tests (the default recursion-ready one).
    fn child_preset() -> FriPreset {
        Preset::from_options(&ProveOptions {
            backend: Backend::FriPoseidon1,
            ..Default::default()
        })
        .expect("the preset")
        .as_fri()
        .expect("a FRI preset")
    }

    /// What a verifier keeps for a structure stands for every statement of it: for a second
    /// statement (other messages, epochs of the same carry, keys and numbers of keys of the same
    /// heights, in canonical order), the kept batch with that statement's observation AIRs has, instance by
    /// instance, the widths, next-row columns, periodic columns, public values and heights of
    /// the batch derived for the statement, and the kept symbolic passes replay exactly what
    /// the statement's own AIRs emit (constraints and bus messages, expression by expression).
    /// The observation AIRs made for the statement are not the kept ones.
    #[test]
    fn every_statement_of_a_structure_has_the_structures_symbolic_passes() {
        use p3_field::PrimeCharacteristicRing;

        let preset = child_preset();
        let whir = whir_preset(2);
        let keys = |seed: u32, n: u32| -> Vec<PublicKey> {
            (0..n)
                .map(|i| PublicKey {
                    root: [F::from_u32(seed * 1000 + i); 8],
                    parameter: [F::from_u32(seed); 5],
                })
                .collect()
        };
        // Sizes 3, 1, 4 and then 4, 1, 3 in canonical order: 3 and 4 keys have one set of heights.
        let (k1, k2, k3) = (keys(1, 3), keys(2, 1), keys(3, 4));
        let (k4, k5, k6) = (keys(4, 4), keys(5, 1), keys(6, 3));
        let (k7, k8, k9) = (keys(7, 1), keys(8, 4), keys(9, 3));
        let component = |message: [u8; 32], epoch: u32, keys| Component {
            message,
            epoch,
            keys,
        };
        let first = [
            component(M1, EPOCH, &k1),
            component(M2, EPOCH, &k2),
            component(M1, EPOCH + 1, &k3),
        ];
        let second = [
            component([3; 32], 500, &k4),
            component([4; 32], 500, &k5),
            component([3; 32], 501, &k6),
        ];
        // The same bands in another canonical order: 1, 4 and 3 keys.
        let third = [
            component([1; 32], 600, &k7),
            component([2; 32], 600, &k8),
            component([2; 32], 601, &k9),
        ];
        let (c1, c2, c3) = (
            canonical_components(&first).expect("canonical"),
            canonical_components(&second).expect("canonical"),
            canonical_components(&third).expect("canonical"),
        );
        let sizes = |c: &[Canonical]| c.iter().map(|c| c.keys.len()).collect::<Vec<_>>();
        assert_eq!(
            (sizes(&c1), sizes(&c2), sizes(&c3)),
            (vec![3, 1, 4], vec![4, 1, 3], vec![1, 4, 3])
        );
        let structure = |c: &[Canonical]| c.iter().map(Canonical::structure).collect::<Vec<_>>();
        assert_eq!(structure(&c1), structure(&c2), "one order of bands");
        assert_ne!(structure(&c1), structure(&c3), "another order of bands");

        let key = derive_type2_key(&preset, &whir, &c1).expect("the kept key");
        let g1 = component_groups(&c1).expect("groups");
        let members: Vec<&[usize]> = g1.iter().map(|g| g.members.as_slice()).collect();
        assert_eq!(
            members,
            [&[1][..], &[0, 2][..]],
            "3 and 4 keys in one group"
        );
        let g2 = component_groups(&c2).expect("groups");
        assert_eq!(
            Type2StructureKey::of(preset.id(), 0, &c1, &g1),
            Type2StructureKey::of(preset.id(), 0, &c2, &g2)
        );
        statement_is_replayed_by_the_kept_key(&preset, &key, &c2, &g2);
        // The bands in another order are the same structure, and the kept batch is the one
        // derived for that statement too.
        let g3 = component_groups(&c3).expect("groups");
        let members: Vec<&[usize]> = g3.iter().map(|g| g.members.as_slice()).collect();
        assert_eq!(members, [&[0][..], &[1, 2][..]]);
        assert_eq!(
            Type2StructureKey::of(preset.id(), 0, &c1, &g1),
            Type2StructureKey::of(preset.id(), 0, &c3, &g3)
        );
        statement_is_replayed_by_the_kept_key(&preset, &key, &c3, &g3);
    }

    /// The kept `key` with `canonical`'s observation AIRs (`groups` its groups) has, instance by
    /// instance, the widths, next-row columns, periodic columns, public values and heights of
    /// the batch derived for `canonical`, and the kept symbolic passes replay exactly what that
    /// batch's AIRs emit under both symbolic builders; exactly the observation AIRs differ from
    /// the kept ones.
    fn statement_is_replayed_by_the_kept_key(
        preset: &FriPreset,
        key: &Type2VerifierKey,
        c2: &[Canonical],
        g2: &[ChildGroup],
    ) {
        use crate::aggregate::recursion::parent::multilinear_instances;
        use crate::aggregate::recursion::replay::tests::kept_key_replays_the_statements_batch;

        let observed = statement_observed(preset, key, c2, g2).expect("the statement's");
        assert_eq!(
            observed.len(),
            c2.len(),
            "one observation AIR per component"
        );
        let kept = multilinear_refs_with(statement_airs(key, &observed), &key.next, &key.records);
        let fresh_batch = derive_batch(preset, c2).expect("the statement's batch");
        assert_eq!(fresh_batch.stacked_heights(&key.params), key.log_heights);
        let fresh = multilinear_instances(&fresh_batch.airs, key.log_heights.len());
        assert_eq!(
            kept_key_replays_the_statements_batch(&fresh, &kept, &key.airs),
            c2.len(),
            "each component's observations are its statement's"
        );
    }

    /// Groups follow trace heights and carry thresholds, not numbers of keys: 256, 135 and 200
    /// keys are one group beside one key's; 200 keys at an epoch whose tweak table carries are
    /// a group of their own; nine different heights are refused.
    #[test]
    fn components_group_by_trace_heights_and_carry() {
        use crate::aggregate::statement::placeholder_keys;
        let carrying = (1u32 << 20..)
            .find(|&e| super::super::ood::OodTemplate::carry(e).is_some())
            .expect("an epoch whose tweak table carries");
        let groups = |spec: &[(usize, u32)]| {
            let keys: Vec<Vec<PublicKey>> =
                spec.iter().map(|&(n, _)| placeholder_keys(n)).collect();
            let named: Vec<Component<'_>> = spec
                .iter()
                .zip(&keys)
                .enumerate()
                .map(|(i, (&(_, epoch), keys))| Component {
                    message: [i as u8; 32],
                    epoch,
                    keys,
                })
                .collect();
            let canonical = canonical_components(&named).expect("canonical");
            component_groups(&canonical).map(|gs| {
                gs.iter()
                    .map(|g| g.members.iter().map(|&c| canonical[c].keys.len()).collect())
                    .collect::<Vec<Vec<usize>>>()
            })
        };
        assert_eq!(
            groups(&[(256, 5), (135, 5), (1, 5), (200, 5)]),
            Ok(vec![vec![1], vec![256, 135, 200]])
        );
        assert_eq!(
            groups(&[(256, 5), (135, 5), (1, 5), (200, carrying)]),
            Ok(vec![vec![1], vec![256, 135], vec![200]])
        );
        let nine: Vec<(usize, u32)> = [1, 2, 3, 5, 9, 17, 33, 34, 65]
            .iter()
            .map(|&n| (n, 5))
            .collect();
        assert!(groups(&nine).is_err());
        assert_eq!(groups(&nine[..8]).map(|g| g.len()), Ok(8));
    }

    /// Components of 4, 1 and 3 keys (canonical order): 4 and 3 share one group, and (two
    /// components, a power of two) its out-of-domain AIR. The merge
    /// verifies for its components, after a verifier has kept its structure from a statement
    /// it refused (other messages): what it keeps stands for every statement of the structure.
    /// It does not verify with a component's key added or dropped (another count), for the
    /// test proof's components, and the test proof not for these.
    #[test]
    fn a_group_holds_one_band_of_sizes_and_a_kept_structure_verifies_every_statement_of_it() {
        const M3: [u8; 32] = [10; 32];
        let made = [
            child_proof_of(M2, EPOCH + 40, 7..11),
            child_proof_of(M3, EPOCH + 40, 11..12),
            child_proof_of(M2, EPOCH + 41, 12..15),
        ];
        let cs = [
            Component {
                message: M2,
                epoch: EPOCH + 40,
                keys: &made[0].1,
            },
            Component {
                message: M3,
                epoch: EPOCH + 40,
                keys: &made[1].1,
            },
            Component {
                message: M2,
                epoch: EPOCH + 41,
                keys: &made[2].1,
            },
        ];
        let input: Vec<(&[u8], Component<'_>)> =
            (0..3).map(|i| (made[i].0.as_slice(), cs[i])).collect();
        let (proof, bits) = prove_type2(&input, &whir_preset(2), CAP).expect("the merge");
        assert!(bits >= SECURITY_FLOOR_BITS, "{bits}");
        assert_eq!(proof.component_keys, [4, 1, 3]);
        let canonical = canonical_components(&cs).expect("canonical");
        let batch = derive_batch(&child_preset(), &canonical).expect("the batch");
        assert_eq!(batch.groups.len(), 2, "one group for 4 and 3 keys");
        let checks = batch
            .airs
            .iter()
            .zip(&batch.blocks)
            .filter(|(a, _)| matches!(a, VerifierAir::Ood(_)))
            .map(|(_, b)| *b)
            .collect::<Vec<_>>();
        assert_eq!(
            checks,
            [Blocks::Group(0), Blocks::Group(1)],
            "one out-of-domain AIR per group, a block per component"
        );
        let bytes = proof.to_bytes();
        assert!(bytes.len() <= CAP);

        // The structure kept from another statement.
        let mut refused = cs;
        refused[0].message = [0x33; 32];
        refused[2].message = [0x33; 32];
        assert!(matches!(
            verify(&bytes, &refused),
            Err(VerifyError::Invalid(_))
        ));
        verify(&bytes, &cs).expect("its components");
        verify(&bytes, &[cs[2], cs[0], cs[1]]).expect("in any order");

        let stranger = test_signer(99, &M2, EPOCH + 40).0;
        let mut more = made[2].1.clone();
        more.push(stranger);
        let mut c = cs;
        c[2].keys = &more;
        assert!(
            matches!(verify(&bytes, &c), Err(VerifyError::Invalid(_))),
            "a key added"
        );
        let mut c = cs;
        c[0].keys = &made[0].1[1..];
        assert!(
            matches!(verify(&bytes, &c), Err(VerifyError::Invalid(_))),
            "a key dropped"
        );
        // Three keys in the four-key component's place (both in the band): another count, in
        // the header too (the structure is the same), so the proof's own count refuses it.
        let mut c = cs;
        c[0].keys = &made[0].1[..3];
        assert!(
            matches!(verify(&bytes, &c), Err(VerifyError::Invalid(_))),
            "3 of 4 keys"
        );
        let mut forged = bytes.clone();
        assert_eq!(
            forged[20..24],
            4u32.to_le_bytes(),
            "the first component's size"
        );
        forged[20..24].copy_from_slice(&3u32.to_le_bytes());
        let r = verify(&forged, &c);
        assert!(
            matches!(r, Err(VerifyError::Invalid(_))),
            "3 of 4 keys, header 3: {r:?}"
        );
        let p = proofs();
        assert!(matches!(
            verify(&bytes, &components(p)),
            Err(VerifyError::Invalid(_))
        ));
        assert!(matches!(
            verify(&type2().0, &cs),
            Err(VerifyError::Invalid(_))
        ));
    }

    /// Two blocks whose components fall in the same bands in another canonical order (2, 1, 2
    /// keys, and 1, 2, 2 with a one-key component on a message that sorts first) have one
    /// structure: a verifier that kept the first block's derives nothing for the second, and
    /// what it kept verifies the second's real proof for its components and for no other
    /// statement (a message, an epoch, the first block's components), nor the first block's
    /// proof for the second's components.
    #[test]
    fn blocks_of_the_same_bands_in_another_order_share_one_structure() {
        let p = proofs();
        let first = components(p);
        let lone = child_proof_of([1; 32], EPOCH, 8..9);
        let second = [
            Component {
                message: [1; 32],
                epoch: EPOCH,
                keys: &lone.1,
            },
            first[0],
            first[2],
        ];
        let input = [
            (lone.0.as_slice(), second[0]),
            (p[0].0.as_slice(), second[1]),
            (p[2].0.as_slice(), second[2]),
        ];
        let (proof, _) = prove_type2(&input, &whir_preset(2), CAP).expect("the merge");
        assert_eq!(
            proof.component_keys,
            [1, 2, 2],
            "the one-key component first"
        );
        let bytes = proof.to_bytes();
        let (c1, c2) = (
            canonical_components(&first).expect("canonical"),
            canonical_components(&second).expect("canonical"),
        );
        let ordered = |c: &[Canonical]| c.iter().map(Canonical::structure).collect::<Vec<_>>();
        assert_ne!(ordered(&c1), ordered(&c2), "the bands in another order");

        let kept = Kept::new(CACHED_TYPE2_KEYS);
        let opts = VerifyOptions::default();
        verify_type2_kept(&type2().0, &first, &opts, &kept).expect("the first block");
        assert_eq!(kept.len(), 1);
        verify_type2_kept(&bytes, &second, &opts, &kept).expect("the second block");
        assert_eq!(kept.len(), 1, "the second block's structure is the first's");
        let refused = |cs: &[Component<'_>], bytes: &[u8]| {
            matches!(
                verify_type2_kept(bytes, cs, &opts, &kept),
                Err(VerifyError::Invalid(_))
            )
        };
        let mut c = second;
        c[0].message[5] ^= 1;
        assert!(refused(&c, &bytes), "another message");
        let mut c = second;
        c[2].epoch += 7;
        assert!(refused(&c, &bytes), "another epoch");
        let mut c = second;
        (c[1].keys, c[2].keys) = (second[2].keys, second[1].keys);
        assert!(refused(&c, &bytes), "two components' key sets swapped");
        assert!(refused(&first, &bytes), "the first block's components");
        assert!(refused(&second, &type2().0), "the first block's proof");
        assert_eq!(kept.len(), 1, "one structure throughout");
    }

    /// The witnessed batch of the three test components.
    fn witnessed_three() -> Witnessed {
        let p = proofs();
        let cs = components(p);
        let input: Vec<(&[u8], Component<'_>)> =
            (0..3).map(|i| (p[i].0.as_slice(), cs[i])).collect();
        witnessed(&input, |_| Ok(())).expect("the witness").0
    }

    /// The shared permutation table split into pieces, through the AIRs: the honest Type-2
    /// batch with its table in three pieces (every used row in one of them, in order) satisfies
    /// every constraint and bus; the same batch without its last piece (which holds used rows)
    /// fails buses only; pieces too small for the used rows are refused.
    #[test]
    fn the_shared_tables_pieces_carry_every_permutation_the_batch_uses() {
        let w = witnessed_three();
        let last = w.batch.airs.len() - 1;
        let rows = w.batch.shared_rows;
        let table = &w.traces[last];
        // Pieces of a half, a quarter and an eighth of the table, covering the used rows.
        let b = table.height().trailing_zeros() as usize;
        assert!(rows > 1 << (b - 1), "{rows} rows in a table of 2^{b}");
        let pieces = [b - 1, b - 2, b - 3];
        let covered: usize = pieces.iter().map(|&b| 1usize << b).sum();
        assert!(covered >= rows, "{rows} rows, {covered} in the pieces");
        let split = split_shared_table(table, &pieces).expect("the pieces");
        let too_small: usize = 3 << (b - 2);
        assert!(too_small < rows, "{rows} rows");
        assert!(split_shared_table(table, &pieces[..2]).is_err());
        let batch = |pieces: &[RowMajorMatrix<F>]| {
            TestBatch::with_table_pieces(&w.batch.airs, &w.traces, pieces)
        };
        let honest = batch(&split);
        assert!(honest.failed().is_empty(), "{:?}", honest.failed());
        let short = batch(&split[..2]);
        short.caught(|f| !f.is_empty() && f.iter().all(|x| matches!(x, Failed::Bus(_))));
    }

    /// The anchors, through the AIRs: the Type-2 batch with every component's trace left as
    /// padding (no verification at all) satisfies every bus and every constraint but one per
    /// component, its observation AIR's first row held active; the honest batch satisfies all.
    #[test]
    fn a_type2_batch_without_its_components_verifications_fails_exactly_the_anchors() {
        let w = witnessed_three();
        let buses = global_buses(&w.batch.airs);
        let anchors: Vec<usize> = (0..w.batch.airs.len())
            .filter(|&i| matches!(&w.batch.airs[i], VerifierAir::Observed(a) if !a.public_values().is_empty()))
            .collect();
        assert_eq!(anchors.len(), 3, "one anchor per component");
        // The first anchor first, so that the harness names its constraints.
        let mut order: Vec<usize> = vec![anchors[0]];
        order.extend((0..w.batch.airs.len()).filter(|&i| i != anchors[0]));
        let batch = |traces: Vec<RowMajorMatrix<F>>| TestBatch {
            airs: order.iter().map(|&i| w.batch.airs[i].clone()).collect(),
            traces: order.iter().map(|&i| traces[i].clone()).collect(),
            buses: buses.clone(),
        };
        let honest = batch(w.traces.clone());
        assert!(honest.failed().is_empty(), "{:?}", honest.failed());

        let empty = vec![Vec::new(); w.batch.groups.len()];
        let heights: Vec<usize> = w.traces.iter().map(|t| t.height()).collect();
        let padding = super::super::parent::blocks_traces_of_heights(
            &w.batch.airs,
            &w.batch.blocks,
            &empty,
            &[],
            &[],
            &heights,
        )
        .expect("padding traces");
        let forged = batch(padding);
        let mut expected: std::collections::BTreeSet<Failed> =
            [Failed::Constraint(1)].into_iter().collect();
        for &i in &anchors[1..] {
            let place = order.iter().position(|&o| o == i).unwrap();
            expected.insert(Failed::Other(place));
        }
        forged.caught(|f| *f == expected);
    }
}
