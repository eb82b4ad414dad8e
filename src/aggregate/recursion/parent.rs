//! A parent proof: the whole verification of each child and the parent's key set, in one batch
//! of verifier AIRs, proved and verified under [`parent_preset`] of the children's
//! recursion-ready preset (the same rate and queries, more grinding).
//!
//! The batch, in instance order ([`grouped_verifier_airs`]): for each size of child (a
//! *group*, [`child_groups`], ascending), [`DuplexAir`], [`CommitmentAir`], [`SampledBitsAir`],
//! [`DeepTermsAir`], [`GatherAir`], [`OodAir`], one [`MmcsOpeningAir`] for every commitment of
//! that size's shape (a block per child holding each query's opening of each,
//! [`MmcsOpeningAir::merged`]), [`DeepQuotientAir`], [`FriFoldAir`], [`FinalPolyAir`],
//! [`ObservedAir`]; then [`KeySetAir`] (whose public values are the parent's statement,
//! `crate::aggregate::statement::statement_values`) and one shared permutation table
//! (`Perm24TableAir::shared`) for all groups. Every verifier AIR of a group holds one block
//! per child of that size.
//!
//! **Transcript numbers.** Every message between verifier AIRs is keyed by the child's transcript
//! number. Child `j` of group `g` (children by ascending size, the caller's order kept within a
//! size) is transcript `g * GROUP_STRIDE + j`, and each verifier AIR holds its block `b` to the
//! number `first + b` by constraint (`super::first_block_number`; `FinalPolyAir`, whose blocks
//! are a transcript's queries, only receives messages keyed by numbers the others hold, see
//! [`FinalPolyAir::numbered_from`]). So two blocks of one AIR never answer one transcript, and a
//! group's blocks, padding included, never take another group's numbers: the messages of children
//! of different shapes cannot stand in for each other.
//!
//! What the verifier of a parent knows: the message, the epoch and the parent's key set (the
//! statement), the children's preset, and each child's number of keys (carried beside the
//! proof, ascending, see [`ParentProof`]). From these alone it derives every group's schedules
//! ([`ChildShape::new`]), every AIR and every trace height ([`grouped_log_heights`]); nothing of
//! that is read from the proof.
//!
//! Raw signatures beside children are not verified by these AIRs directly: the
//! [`crate::aggregate::Aggregator`] proves them as one more child first. Not yet here: a parent
//! as a child (its periodic columns have periods of whole blocks, which the out-of-domain check
//! would interpolate).

use std::sync::Arc;
use std::time::Instant;

use p3_air::{Air, AirBuilder, BaseAir};
use p3_batch_stark::{
    prove_batch, verify_batch, BatchProof, CommonData, ProverData, ProverOnlyData, StarkInstance,
};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{InteractionBuilder, LogUpGadget, Lookups};
use p3_matrix::dense::RowMajorMatrix;
use p3_matrix::Matrix;

use super::bits::SampledBitsAir;
use super::child::{ChildShape, ChildStatement};
use super::commit::CommitmentAir;
use super::deep::DeepQuotientAir;
use super::duplex::DuplexAir;
use super::final_poly::FinalPolyAir;
use super::fold::FriFoldAir;
use super::gather::GatherAir;
use super::keyset::{ChildKeys, KeySetAir};
use super::merkle::MmcsOpeningAir;
use super::observed::{ObservedAir, ObservedElement};
use super::ood_air::OodAir;
use super::replay::{replayed, ReplayedAir, SymbolicRecord};
use super::terms::DeepTermsAir;
use super::witness::ChildWitness;
use super::{check_child_preset, child_verification_trace};
use crate::aggregate::air::forward_base_air;
use crate::aggregate::air::perm::{shared_table, split_shared_table, Perm24TableAir};
use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::{fri_config, FriConfig, Poseidon1};
use crate::aggregate::fri::security::{security_bits_in, SecurityReport};
use crate::aggregate::fri::{self, proof_shape};
use crate::aggregate::options::{ProveError, VerifyError, VerifyOptions};
use crate::aggregate::preset::WhirPreset;
use crate::aggregate::preset::{FriPreset, Preset, PRESETS};
use crate::aggregate::profile::profile;
use crate::aggregate::proof_system::{catch_prover, catch_verifier};
use crate::aggregate::statement::{
    degree_bits, heights_of, key_set_digest_ordered, placeholder_keys, statement_values, Statement,
    KEY_DIGEST_LEN, NUM_STATEMENT_VALUES,
};
use crate::aggregate::whir;
use crate::aggregate::wire::{self, KIND_COMPACT_PARENT, KIND_PARENT};
use crate::aggregate::{
    accept_preset, canonical_key_order, check_key_count, Regime, MAX_SIGNATURES,
    SECURITY_FLOOR_BITS,
};
use crate::xmss::{PublicKey, F};

/// The smallest trace of a parent's AIRs, in rows: 128, the default preset's final polynomial
/// and blowup (every recursion-ready preset needs at most this, [`FriPreset::min_log_trace_height`]).
pub const MIN_HEIGHT: usize = 128;

/// Most children one parent proof takes.
pub const MAX_CHILDREN: usize = 64;

/// One AIR of a parent's batch.
#[derive(Clone)]
pub enum VerifierAir {
    /// The bit samples: grinding checks and FRI query indices.
    Bits(SampledBitsAir),
    /// The commitment roots, each observed by the transcript and handed to its openings.
    Commit(CommitmentAir),
    /// The reduced openings of FRI's input: the DEEP quotients batched by `alpha`.
    Deep(DeepQuotientAir),
    /// The ladder terms of each opened matrix, for [`DeepQuotientAir`].
    DeepTerms(DeepTermsAir),
    /// The Merkle openings of every commitment of the group's shape
    /// ([`MmcsOpeningAir::merged`]).
    Mmcs(MmcsOpeningAir),
    /// The duplex Fiat-Shamir transcripts.
    Duplex(DuplexAir),
    /// The FRI query phase's folds, one row per query and round.
    Fold(FriFoldAir),
    /// The FRI final polynomial, evaluated at each query's last folded point.
    FinalPoly(FinalPolyAir),
    /// The transcript's extension elements handed whole to the out-of-domain check.
    Gather(GatherAir),
    /// The key-set AIR with the parent's statement as its public values.
    KeySet(KeySetAir, Vec<F>),
    /// The observations no other verifier AIR holds: constants, grinding witnesses, the
    /// child's public values.
    Observed(ObservedAir),
    /// The out-of-domain check of the child's batch.
    Ood(OodAir),
    /// The width-24 permutation table (`Perm24TableAir::shared`), one for all groups.
    Perm(Perm24TableAir),
    /// Verifier-known messages, for the tests of one AIR at a time.
    #[cfg(test)]
    Known(super::harness::KnownAir),
    /// Sumcheck rounds, for their own tests until a parent's batch takes them.
    #[cfg(test)]
    Sumcheck(super::sumcheck::SumcheckAir),
    /// Fractional GKR layers, for their own tests until a parent's batch takes them.
    #[cfg(test)]
    Gkr(super::gkr::FractionGkrAir),
    /// Zerocheck entries, for their own tests until a parent's batch takes them.
    #[cfg(test)]
    Zerocheck(super::zerocheck::ZerocheckAir),
}

macro_rules! dispatch {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            VerifierAir::Bits($a) => $e,
            VerifierAir::Commit($a) => $e,
            VerifierAir::Deep($a) => $e,
            VerifierAir::DeepTerms($a) => $e,
            VerifierAir::Mmcs($a) => $e,
            VerifierAir::Duplex($a) => $e,
            VerifierAir::Fold($a) => $e,
            VerifierAir::FinalPoly($a) => $e,
            VerifierAir::Gather($a) => $e,
            VerifierAir::KeySet($a, _) => $e,
            VerifierAir::Observed($a) => $e,
            VerifierAir::Ood($a) => $e,
            VerifierAir::Perm($a) => $e,
            #[cfg(test)]
            VerifierAir::Known($a) => $e,
            #[cfg(test)]
            VerifierAir::Sumcheck($a) => $e,
            #[cfg(test)]
            VerifierAir::Gkr($a) => $e,
            #[cfg(test)]
            VerifierAir::Zerocheck($a) => $e,
        }
    };
}

impl BaseAir<F> for VerifierAir {
    forward_base_air!(dispatch);
    fn num_public_values(&self) -> usize {
        dispatch!(self, a => BaseAir::<F>::num_public_values(a))
    }
}

impl<AB: AirBuilder<F = F> + InteractionBuilder> Air<AB> for VerifierAir {
    fn eval(&self, builder: &mut AB) {
        dispatch!(self, a => a.eval(builder))
    }
}

impl VerifierAir {
    /// The AIR's type name, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            VerifierAir::Bits(_) => "SampledBitsAir",
            VerifierAir::Commit(_) => "CommitmentAir",
            VerifierAir::Deep(_) => "DeepQuotientAir",
            VerifierAir::DeepTerms(_) => "DeepTermsAir",
            VerifierAir::Mmcs(_) => "MmcsOpeningAir",
            VerifierAir::Duplex(_) => "DuplexAir",
            VerifierAir::Fold(_) => "FriFoldAir",
            VerifierAir::FinalPoly(_) => "FinalPolyAir",
            VerifierAir::Gather(_) => "GatherAir",
            VerifierAir::KeySet(..) => "KeySetAir",
            VerifierAir::Observed(_) => "ObservedAir",
            VerifierAir::Ood(_) => "OodAir",
            VerifierAir::Perm(_) => "Perm24TableAir",
            #[cfg(test)]
            VerifierAir::Known(_) => "KnownAir",
            #[cfg(test)]
            VerifierAir::Sumcheck(_) => "SumcheckAir",
            #[cfg(test)]
            VerifierAir::Gkr(_) => "FractionGkrAir",
            #[cfg(test)]
            VerifierAir::Zerocheck(_) => "ZerocheckAir",
        }
    }

    /// The instance's public values (the key-set AIR's statement, an anchored observation AIR's
    /// component statement; none for the others).
    pub fn public_values(&self) -> Vec<F> {
        match self {
            VerifierAir::KeySet(_, pv) => pv.clone(),
            VerifierAir::Observed(a) => a.public_values(),
            _ => Vec::new(),
        }
    }

    /// Rows of one child's block: the period of the AIR's schedule (a Merkle opening's holds
    /// all of a child's queries), times the queries for the final polynomial (one block per
    /// query); 0 for the key-set AIR and the table, whose heights follow from the keys and the
    /// permutations.
    fn rows_per_child(&self, num_queries: usize) -> usize {
        let period = self.periodic_columns().first().map_or(0, Vec::len);
        match self {
            VerifierAir::FinalPoly(_) => period * num_queries,
            VerifierAir::KeySet(..) | VerifierAir::Perm(_) => 0,
            _ => period,
        }
    }
}

/// The trace height of `rows` rows: a power of two of at least [`MIN_HEIGHT`].
fn padded(rows: usize) -> usize {
    rows.max(MIN_HEIGHT).next_power_of_two()
}

/// A child's shape as a parent's verifier derives it: the AIRs, lookups and trace heights of a
/// statement of `num_keys` keys on `message` at `epoch` (placeholder keys: none of these
/// depends on the keys), its statement on instance 0.
///
/// A process keeps the last [`CACHED_CHILD_SHAPES`] shapes, keyed by the preset, the child's
/// trace heights (`heights_of` `num_keys`: one key for a band of sizes), the epoch's carry
/// threshold ([`super::ood::OodTemplate::carry`]) and whether the digest is known: everything
/// else in a shape is the same for every number of keys of the band, message and epoch, so a
/// kept shape is restated to the statement ([`ChildShape::restated`]) instead of derived again
/// (a derivation takes 20 to 35 ms).
///
/// # Errors
/// A message if the verifier AIRs do not cover the shape, or `num_keys` is 0 or over
/// [`MAX_SIGNATURES`].
pub fn child_shape(
    preset: &FriPreset,
    num_keys: usize,
    message: &[u8; 32],
    epoch: u32,
) -> Result<ChildShape, String> {
    kept_child_shape(preset, num_keys, message, epoch, None)
}

/// A Type-2 component's shape: [`child_shape`] of a child of `num_keys` keys on `message` at
/// `epoch` whose key-set digest the verifier knows (`digest`, 9 elements, computed from the
/// component's keys), so that every statement value is a constant of
/// [`super::observed::ObservedAir`]'s schedule ([`ChildStatement::digest`]). Kept in the same
/// cache as [`child_shape`].
///
/// # Errors
/// As [`child_shape`].
pub fn component_shape(
    preset: &FriPreset,
    num_keys: usize,
    message: &[u8; 32],
    epoch: u32,
    digest: &[F; KEY_DIGEST_LEN],
) -> Result<ChildShape, String> {
    kept_child_shape(preset, num_keys, message, epoch, Some(*digest))
}

/// [`child_shape`] or [`component_shape`]: the kept shape of the statement's key, restated.
fn kept_child_shape(
    preset: &FriPreset,
    num_keys: usize,
    message: &[u8; 32],
    epoch: u32,
    digest: Option<[F; KEY_DIGEST_LEN]>,
) -> Result<ChildShape, String> {
    let (kept, statement) = kept_shape(preset, num_keys, message, epoch, digest)?;
    kept.restated(&statement)
}

/// The observations of [`child_shape`] (`digest` `None`) or [`component_shape`] (`digest`
/// known), without the rest of the shape ([`ChildShape::restated_observations`]): what a
/// verifier whose batch is kept makes for each statement. Kept in, and derived into, the same
/// cache.
///
/// # Errors
/// As [`child_shape`].
pub(super) fn kept_observations(
    preset: &FriPreset,
    num_keys: usize,
    message: &[u8; 32],
    epoch: u32,
    digest: Option<[F; KEY_DIGEST_LEN]>,
) -> Result<Vec<ObservedElement>, String> {
    let (kept, statement) = kept_shape(preset, num_keys, message, epoch, digest)?;
    kept.restated_observations(&statement)
}

/// The kept shape of the statement's key ([`CHILD_SHAPES`], derived for this statement if none
/// is kept) and the statement it is to be restated to.
fn kept_shape(
    preset: &FriPreset,
    num_keys: usize,
    message: &[u8; 32],
    epoch: u32,
    digest: Option<[F; KEY_DIGEST_LEN]>,
) -> Result<(Arc<ChildShape>, ChildStatement), String> {
    if num_keys == 0 || num_keys > MAX_SIGNATURES {
        return Err(format!("a child of {num_keys} keys"));
    }
    let key = (
        *preset,
        heights_of(num_keys),
        super::ood::OodTemplate::carry(epoch),
        digest.is_some(),
    );
    let kept = CHILD_SHAPES.get_or_derive(key, || {
        derive_child_shape(preset, num_keys, message, epoch, digest).map(Arc::new)
    })?;
    let statement = ChildStatement {
        instance: 0,
        num_keys,
        epoch,
        message: *message,
        digest,
    };
    Ok((kept, statement))
}

/// How many child shapes ([`child_shape`], [`component_shape`]) a process keeps, most recently
/// used first: one per component of a Type-2 proof ([`super::type2::MAX_COMPONENTS`]), which
/// is more than the sizes of child a Type-1 parent may hold ([`MAX_CHILD_SIZES`]).
pub const CACHED_CHILD_SHAPES: usize = super::type2::MAX_COMPONENTS;

/// The process's child shapes ([`child_shape`], [`component_shape`]), keyed by the children's
/// preset, trace heights, the epoch's carry threshold and whether the key-set digest is known
/// (a Type-2 component's), each as derived for the first statement of its key.
#[allow(clippy::type_complexity)]
static CHILD_SHAPES: Kept<
    (
        FriPreset,
        [usize; crate::aggregate::air::NUM_INSTANCES],
        Option<usize>,
        bool,
    ),
    Arc<ChildShape>,
> = Kept::new(CACHED_CHILD_SHAPES);

/// Empties the process's child-shape cache ([`child_shape`]). For measurements: `multisig bench`
/// proves and then verifies in one process, and calls this between the two so that its first
/// verification derives the shapes as a verifier that did not prove would.
pub fn forget_child_shapes() {
    CHILD_SHAPES.clear();
}

/// Values a process derived and keeps, most recently used first, at most `capacity` of them: a
/// verifier's per-shape derivations ([`child_shape`], [`compact_verifier_key`]).
pub(super) struct Kept<K, V> {
    capacity: usize,
    entries: std::sync::Mutex<std::collections::VecDeque<(K, V)>>,
}

impl<K: PartialEq, V: Clone> Kept<K, V> {
    pub(super) const fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<(K, V)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value kept for `key` (now the most recent), or `derive`'s, kept if it succeeds. The
    /// lock is not held while deriving.
    pub(super) fn get_or_derive<E>(
        &self,
        key: K,
        derive: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        {
            let mut entries = self.entries();
            if let Some(i) = entries.iter().position(|(k, _)| *k == key) {
                let entry = entries.remove(i).expect("the position just found");
                let value = entry.1.clone();
                entries.push_front(entry);
                return Ok(value);
            }
        }
        let value = derive()?;
        let mut entries = self.entries();
        entries.retain(|(k, _)| *k != key);
        entries.push_front((key, value.clone()));
        entries.truncate(self.capacity);
        Ok(value)
    }

    pub(super) fn clear(&self) {
        self.entries().clear();
    }

    /// How many values are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries().len()
    }
}

/// [`child_shape`] without the cache (`num_keys` checked by the caller, [`kept_child_shape`]).
fn derive_child_shape(
    preset: &FriPreset,
    num_keys: usize,
    message: &[u8; 32],
    epoch: u32,
    digest: Option<[F; KEY_DIGEST_LEN]>,
) -> Result<ChildShape, String> {
    let keys = placeholder_keys(num_keys);
    let stmt = Statement {
        message,
        epoch,
        keys: &keys,
    };
    let airs = stmt.airs();
    let lookups = fri::common_data::<Poseidon1>(&airs).lookups;
    let shapes = proof_shape(&airs, &lookups, &degree_bits(&stmt.heights())).instances;
    ChildShape::new(
        preset,
        &airs,
        &lookups,
        &shapes,
        &ChildStatement {
            instance: 0,
            num_keys,
            epoch,
            message: *message,
            digest,
        },
    )
}

/// The verifier AIRs of one group of children (one shape), in instance order, their blocks
/// numbered from `first`: [`DuplexAir`], [`CommitmentAir`], [`SampledBitsAir`],
/// [`DeepTermsAir`], [`GatherAir`], [`OodAir`], [`MmcsOpeningAir`], [`DeepQuotientAir`],
/// [`FriFoldAir`], [`FinalPolyAir`], [`ObservedAir`] ([`AIRS_PER_GROUP`] in all).
///
/// # Errors
/// A message if a commitment or opening of the shape is one the AIRs do not take.
pub(super) fn group_airs(shape: &ChildShape, first: u32) -> Result<Vec<VerifierAir>, String> {
    let commitments: Vec<_> = shape
        .openings
        .iter()
        .map(|o| (o.dims.as_slice(), o.link, o.readers.as_slice()))
        .collect();
    let mmcs = MmcsOpeningAir::merged(&commitments, shape.deep.queries().len())?;
    let airs = vec![
        VerifierAir::Duplex(DuplexAir::new(shape.transcript.clone()).numbered_from(first)),
        VerifierAir::Commit(CommitmentAir::new(&shape.commitments)?.numbered_from(first)),
        VerifierAir::Bits(SampledBitsAir::new(shape.bits.clone()).numbered_from(first)),
        VerifierAir::DeepTerms(
            DeepTermsAir::new(&shape.deep, &shape.claims, &shape.ood_claims).numbered_from(first),
        ),
        VerifierAir::Gather(GatherAir::new(shape.gathered.clone()).numbered_from(first)),
        VerifierAir::Ood(shape.ood_air.clone().numbered_from(first)),
        VerifierAir::Mmcs(mmcs.numbered_from(first)),
        VerifierAir::Deep(DeepQuotientAir::new(shape.deep.clone()).numbered_from(first)),
        VerifierAir::Fold(FriFoldAir::new(shape.fold.clone()).numbered_from(first)),
        VerifierAir::FinalPoly(FinalPolyAir::new(shape.final_poly.clone()).numbered_from(first)),
        VerifierAir::Observed(ObservedAir::new(shape.observations.clone()).numbered_from(first)),
    ];
    debug_assert_eq!(airs.len(), AIRS_PER_GROUP);
    Ok(airs)
}

/// The parent's AIRs for children of `shape` (one group, numbered from 0), in instance order
/// (module docs), the key-set AIR's public values being `statement` (21 values).
///
/// # Errors
/// A message if a commitment or opening of the shape is one the AIRs do not take.
pub fn verifier_airs(shape: &ChildShape, statement: Vec<F>) -> Result<Vec<VerifierAir>, String> {
    grouped_verifier_airs(std::slice::from_ref(shape), statement)
}

/// The parent's AIRs for children of the group shapes `shapes` (ascending number of keys, as
/// [`child_groups`] orders them): each group's [`AIRS_PER_GROUP`] verifier AIRs, group `g`'s
/// blocks numbered from `g * GROUP_STRIDE`, then [`KeySetAir`] (public values `statement`) and
/// the shared permutation table.
///
/// # Errors
/// A message if a commitment or opening of a shape is one the AIRs do not take.
pub fn grouped_verifier_airs(
    shapes: &[ChildShape],
    statement: Vec<F>,
) -> Result<Vec<VerifierAir>, String> {
    let mut airs = Vec::with_capacity(shapes.len() * AIRS_PER_GROUP + 2);
    for (g, shape) in shapes.iter().enumerate() {
        airs.extend(group_airs(shape, group_first(g))?);
    }
    airs.push(VerifierAir::KeySet(KeySetAir, statement));
    airs.push(VerifierAir::Perm(Perm24TableAir::shared()));
    Ok(airs)
}

/// log2 of each trace height of a parent over `children` children of `shape` whose key lists
/// and the parent's set hold `key_rows` keys in all ([`grouped_log_heights`] of one group).
///
/// # Errors
/// As [`grouped_log_heights`].
pub fn log_heights(
    airs: &[VerifierAir],
    shape: &ChildShape,
    children: usize,
    key_rows: usize,
) -> Result<Vec<usize>, String> {
    grouped_log_heights(airs, &[(shape.deep.queries().len(), children)], key_rows)
}

/// log2 of each trace height of a parent's `airs` ([`grouped_verifier_airs`]) over groups of
/// `(queries, children)` (each group's children's query count and number), whose key lists and
/// the parent's set hold `key_rows` keys in all: every verifier AIR of a group one block per
/// child of the group, the key-set AIR one row per key, the table one row per permutation
/// received (every row of the transcript and key-set traces, the scheduled rows of every Merkle
/// block), each padded to a power of two of at least [`MIN_HEIGHT`]. The verifier's, never the
/// proof's.
///
/// # Errors
/// A message if a group's AIR would hold [`GROUP_STRIDE`] blocks or more (its numbers would
/// reach the next group's), or `airs` is not `groups.len()` groups and the two shared AIRs.
pub fn grouped_log_heights(
    airs: &[VerifierAir],
    groups: &[(usize, usize)],
    key_rows: usize,
) -> Result<Vec<usize>, String> {
    grouped_log_heights_and_rows(airs, groups, key_rows).map(|(h, _)| h)
}

/// [`grouped_log_heights`] and the number of rows of the shared permutation table that receive
/// a permutation (before padding), what [`shared_table_split`] splits.
///
/// # Errors
/// As [`grouped_log_heights`].
pub(super) fn grouped_log_heights_and_rows(
    airs: &[VerifierAir],
    groups: &[(usize, usize)],
    key_rows: usize,
) -> Result<(Vec<usize>, usize), String> {
    if airs.len() != groups.len() * AIRS_PER_GROUP + 2 {
        return Err(format!("{} AIRs for {} groups", airs.len(), groups.len()));
    }
    blocks_log_heights_and_rows(
        airs,
        &type1_blocks(airs.len(), groups.len()),
        groups,
        key_rows,
    )
}

/// Whose blocks one AIR of a parent's batch holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocks {
    /// One block per child of group `g` (every verifier AIR of a Type-1 parent).
    Group(usize),
    /// One block, child `j` of group `g`'s (a Type-2 component's own out-of-domain check and
    /// observations, [`super::type2`]).
    Member(usize, usize),
    /// None of a child's: the key-set AIR, the permutation table.
    Shared,
}

/// The [`Blocks`] of each of a Type-1 parent's `airs` AIRs over `groups` groups
/// ([`grouped_verifier_airs`]).
pub fn type1_blocks(airs: usize, groups: usize) -> Vec<Blocks> {
    (0..airs)
        .map(|i| {
            if i < groups * AIRS_PER_GROUP {
                Blocks::Group(i / AIRS_PER_GROUP)
            } else {
                Blocks::Shared
            }
        })
        .collect()
}

/// log2 of each trace height of `airs` whose blocks are `blocks`, over groups of
/// `(queries, children)`, with `key_rows` rows of the key-set AIR if there is one: a group AIR
/// holds one block per child of its group, a member's AIR exactly one block (so that no padding
/// block of it takes the number of the group's next child), the key-set AIR one row per key, the
/// table one row per permutation received (a key's row, a child's duplexing, a scheduled row of
/// a child's Merkle opening: padding rows and blocks receive none); each padded to a power of
/// two of at least [`MIN_HEIGHT`].
///
/// # Errors
/// A message if a group's AIR would hold [`GROUP_STRIDE`] blocks or more, a member's AIR more
/// than one block, or `blocks` names a group that is not there.
pub fn blocks_log_heights(
    airs: &[VerifierAir],
    blocks: &[Blocks],
    groups: &[(usize, usize)],
    key_rows: usize,
) -> Result<Vec<usize>, String> {
    blocks_log_heights_and_rows(airs, blocks, groups, key_rows).map(|(h, _)| h)
}

/// [`blocks_log_heights`] and the number of rows of the shared permutation table that receive a
/// permutation (before padding), what [`shared_table_split`] splits.
///
/// # Errors
/// As [`blocks_log_heights`].
pub(super) fn blocks_log_heights_and_rows(
    airs: &[VerifierAir],
    blocks: &[Blocks],
    groups: &[(usize, usize)],
    key_rows: usize,
) -> Result<(Vec<usize>, usize), String> {
    if blocks.len() != airs.len() {
        return Err(format!(
            "{} AIRs, {} block sources",
            airs.len(),
            blocks.len()
        ));
    }
    let key_height = padded(key_rows);
    let mut perms = 0;
    let mut heights = Vec::with_capacity(airs.len());
    for (air, &source) in airs.iter().zip(blocks) {
        let (g, member) = match source {
            Blocks::Shared => {
                heights.push(match air {
                    VerifierAir::KeySet(..) => {
                        perms += key_rows;
                        key_height
                    }
                    _ => 0,
                });
                continue;
            }
            Blocks::Group(g) => (g, false),
            Blocks::Member(g, _) => (g, true),
        };
        let &(queries, children) = groups
            .get(g)
            .ok_or_else(|| format!("{} of group {g}, of {}", air.name(), groups.len()))?;
        let children = if member { 1 } else { children };
        let h = padded(children * air.rows_per_child(queries));
        let period = air.periodic_columns().first().map_or(1, Vec::len);
        if h / period >= GROUP_STRIDE as usize || (member && h != period) {
            return Err(format!("{} blocks of {}", h / period, air.name()));
        }
        match air {
            VerifierAir::Duplex(d) => perms += children * d.shape().duplexings().len(),
            VerifierAir::Mmcs(m) => perms += children * m.scheduled_rows(),
            _ => {}
        }
        heights.push(h);
    }
    for (h, air) in heights.iter_mut().zip(airs) {
        if let VerifierAir::Perm(_) = air {
            *h = padded(perms);
        }
    }
    Ok((degree_bits(&heights), perms))
}

/// The log2 heights of the instances the multilinear STARK commits for a batch whose last AIR is
/// the shared permutation table, `rows` of its rows receiving a permutation: every AIR at its
/// height in `log_heights`, the table either at its own height or split into pieces. The stacked
/// trace pads the sum of all cells to a power of two, so a table just over a power of two can
/// double it. The pieces are the table's top power of two and the rest rounded up to a grain (in
/// as many powers of two as the rounded rest has bits); the grain is the coarsest of a quarter,
/// an eighth, ... down to [`MIN_TABLE_PIECE`] of that top power of two (and at least
/// [`MIN_HEIGHT`] rows) under which the stacked trace ([`stacked_variables`] under `params`) has
/// the fewest variables, and the pieces are used only when it has fewer than with the table
/// whole. Each piece is an instance of the same AIR on the same bus (the LogUp sums add over
/// instances), so the statement is unchanged; each piece costs its columns' evaluations in the
/// proof (20 bytes a column). The prover and the verifier derive the same split from the same
/// shape.
pub(super) fn shared_table_split(
    params: &WhirPreset,
    airs: &[VerifierAir],
    log_heights: &[usize],
    rows: usize,
) -> Vec<usize> {
    let whole = log_heights.to_vec();
    let (Some(VerifierAir::Perm(_)), Some(&top_bits)) = (airs.last(), log_heights.last()) else {
        return whole;
    };
    let full = 1usize << top_bits;
    if rows <= full / 2 || top_bits < 4 {
        return whole;
    }
    let top = full / 2;
    let mut best = (
        stacked_variables(params, &whole, &instance_widths(airs, whole.len())),
        whole,
    );
    // Coarsest grain first: a finer one is taken only when it saves a variable.
    let mut grain = top / 4;
    while grain >= MIN_HEIGHT.max(top / MIN_TABLE_PIECE) {
        let rest = (rows - top).div_ceil(grain) * grain;
        if rest < top {
            let mut split = log_heights[..log_heights.len() - 1].to_vec();
            split.push(top_bits - 1);
            for bit in (0..top_bits - 1).rev() {
                if rest & (1 << bit) != 0 {
                    split.push(bit);
                }
            }
            let variables = stacked_variables(params, &split, &instance_widths(airs, split.len()));
            if variables < best.0 {
                best = (variables, split);
            }
        }
        grain /= 2;
    }
    best.1
}

/// The widths of a batch's `instances` instances of `airs` (each AIR once, in order, then the
/// last one, the shared permutation table, once more for each instance past `airs.len()`: its
/// pieces, [`shared_table_split`]).
pub(super) fn instance_widths(airs: &[VerifierAir], instances: usize) -> Vec<usize> {
    let table_width = airs.last().map_or(0, BaseAir::<F>::width);
    airs.iter()
        .map(BaseAir::<F>::width)
        .chain(std::iter::repeat_n(
            table_width,
            instances.saturating_sub(airs.len()),
        ))
        .collect()
}

/// Replaces the shared permutation table's trace (the last of `traces`, one trace per AIR of a
/// batch of `airs` AIRs) by its pieces when `heights` (the batch's instances,
/// [`shared_table_split`]) has more instances than AIRs.
///
/// # Errors
/// [`ProveError::Prover`] when there is no trace or its used rows do not fit the pieces.
pub(super) fn cut_shared_table(
    traces: &mut Vec<RowMajorMatrix<F>>,
    airs: usize,
    heights: &[usize],
) -> Result<(), ProveError> {
    if heights.len() > airs {
        let table = traces
            .pop()
            .ok_or_else(|| ProveError::Prover("no shared table's trace".into()))?;
        let pieces =
            split_shared_table(&table, &heights[airs - 1..]).map_err(ProveError::Prover)?;
        traces.extend(pieces);
    }
    Ok(())
}

/// Each instance's public values (the table's pieces repeat the table's).
pub(super) fn instance_public_values(wrapped: &[MultilinearAir<'_>]) -> Vec<Vec<F>> {
    wrapped.iter().map(|w| w.air.public_values()).collect()
}

/// The finest piece [`shared_table_split`] cuts the permutation table into, as a fraction of its
/// top power of two: a grain of 1/64 keeps at most seven pieces (the top and six more), about
/// 29 KB of evaluations in the proof at most, against the halving of the stacked trace it can buy.
pub(super) const MIN_TABLE_PIECE: usize = 64;

/// Verifier AIRs of each group of children (`group_airs`).
pub const AIRS_PER_GROUP: usize = 11;

/// The distance between two groups' first transcript numbers: group `g`'s children are
/// transcripts `g * GROUP_STRIDE`, `g * GROUP_STRIDE + 1`, ... A group's AIRs hold fewer blocks
/// than this ([`grouped_log_heights`] refuses more), padding blocks included, so no number is
/// two groups'. With at most [`MAX_CHILD_SIZES`] groups every number is under `2^27`, far below
/// the field's order.
pub const GROUP_STRIDE: u32 = 1 << 24;

/// Most distinct child sizes (numbers of keys) in one parent: each size is a group with its
/// own [`AIRS_PER_GROUP`] verifier AIRs and its own shape, derived by the verifier before it
/// reads the proof.
pub const MAX_CHILD_SIZES: usize = 8;

/// Group `g`'s first transcript number.
pub(super) fn group_first(g: usize) -> u32 {
    g as u32 * GROUP_STRIDE
}

/// Children of one size in a parent: the size and the children's places in the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildGroup {
    /// Number of keys of each child of the group.
    pub keys: usize,
    /// The children's places in the parent's list (ascending).
    pub members: Vec<usize>,
}

/// The groups of children of sizes `child_keys` (each child's number of keys, in the list's
/// order), ascending by size. Child `members[j]` of group `g` is transcript
/// `g * GROUP_STRIDE + j` ([`transcript_numbers`]).
///
/// # Errors
/// A message for more than [`MAX_CHILD_SIZES`] distinct sizes.
pub fn child_groups(child_keys: &[usize]) -> Result<Vec<ChildGroup>, String> {
    Ok(grouped_by(child_keys, "child sizes")?
        .into_iter()
        .map(|members| ChildGroup {
            keys: child_keys[members[0]],
            members,
        })
        .collect())
}

/// The places of `keys` with equal values, one list per distinct value, ascending by value,
/// each list ascending: the groups of [`child_groups`] and of a Type-2 proof's components.
///
/// # Errors
/// A message naming `what` the values are, for more than [`MAX_CHILD_SIZES`] distinct values.
pub(super) fn grouped_by<K: Ord>(keys: &[K], what: &str) -> Result<Vec<Vec<usize>>, String> {
    let mut distinct: Vec<&K> = keys.iter().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() > MAX_CHILD_SIZES {
        return Err(format!(
            "{} different {what} (at most {MAX_CHILD_SIZES})",
            distinct.len()
        ));
    }
    Ok(distinct
        .into_iter()
        .map(|key| (0..keys.len()).filter(|&i| keys[i] == *key).collect())
        .collect())
}

/// Each child's transcript number (in the list's order) under `groups` ([`child_groups`]).
pub fn transcript_numbers(groups: &[ChildGroup]) -> Vec<u32> {
    let mut numbers = vec![0; groups.iter().map(|g| g.members.len()).sum()];
    for (g, group) in groups.iter().enumerate() {
        for (j, &i) in group.members.iter().enumerate() {
            numbers[i] = group_first(g) + j as u32;
        }
    }
    numbers
}

/// The lookups of each AIR, packed as the proof system packs them (degree 3).
fn packed_lookups(airs: &[VerifierAir]) -> Vec<Lookups<F>> {
    let gadget = LogUpGadget::new();
    airs.iter()
        .map(|air| {
            Lookups::<F>::from_air::<Challenge, _>(air)
                .pack_same_bus_with_degree(3, |l| gadget.constraint_degree_with_transition(l, 0))
        })
        .collect()
}

/// The preset a parent over children made under `child` proves under: the child's rate,
/// queries, folding and final polynomial, with more grinding (query 18 bits, batch combination
/// 20, commit phase and LogUp 12, or the child's if more). A parent's batch is taller and has
/// more columns than the child's, and these four terms are the ones that fall below 124 bits on
/// it at the child's grinding (`parent_security_bits` names the binding one); the query count
/// is left alone, since each query costs a parent about 17 KiB.
pub fn parent_preset(child: &FriPreset) -> FriPreset {
    FriPreset {
        query_pow_bits: child.query_pow_bits.max(18),
        batch_pow_bits: child.batch_pow_bits.max(20),
        commit_pow_bits: child.commit_pow_bits.max(12),
        lookup_pow_bits: child.lookup_pow_bits.max(12),
        ..*child
    }
}

/// Soundness of a parent's batch (`airs`, their [`packed_lookups`] `lookups`, trace heights
/// `2^log_heights`) under `preset` in `regime`: the presets' accounting ([`crate::aggregate::fri::security::security_bits_in`])
/// on the batch's shape (widths, constraint degrees, lookups, heights).
///
/// # Errors
/// A message if the shape cannot be derived (a bug).
fn batch_security(
    preset: &FriPreset,
    regime: Regime,
    airs: &[VerifierAir],
    lookups: &[Lookups<F>],
    log_heights: &[usize],
) -> Result<SecurityReport, String> {
    use crate::aggregate::fri::config::MultisigConfig;
    use crate::aggregate::fri::security::ProofShape;
    let common = CommonData::<MultisigConfig>::new(None, lookups.to_vec());
    let batch = ProofShape::from_airs(airs, &common, log_heights)?;
    Ok(security_bits_in(preset, regime, &batch))
}

/// Soundness in bits of a parent proof over children of `child_keys` keys (each child's number
/// of keys, in the list's order) made under `child_preset`, whose union holds `parent_keys`
/// keys, in `regime` ([`parent_preset`], `batch_security`). Independent of the message, epoch
/// and keys.
///
/// # Errors
/// A message if the preset cannot be a child or the sizes are out of range.
pub fn parent_security_bits(
    child_preset: &FriPreset,
    regime: Regime,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<SecurityReport, String> {
    let (airs, lookups, heights) = parent_batch(child_preset, child_keys, parent_keys)?;
    batch_security(
        &parent_preset(child_preset),
        regime,
        &airs,
        &lookups,
        &heights,
    )
}

/// The AIRs, packed lookups and trace log heights of a parent over children of `child_keys`
/// keys (each child's, in the list's order) under `child_preset`, its set holding `parent_keys`
/// keys (any message, epoch and keys: none of these depends on them).
#[allow(clippy::type_complexity)]
pub(super) fn parent_batch(
    child_preset: &FriPreset,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<(Vec<VerifierAir>, Vec<Lookups<F>>, Vec<usize>), String> {
    parent_batch_and_rows(child_preset, child_keys, parent_keys).map(|(a, l, h, _)| (a, l, h))
}

/// [`parent_batch`] and the number of rows of the shared permutation table that receive a
/// permutation ([`grouped_log_heights_and_rows`]).
#[allow(clippy::type_complexity)]
pub(super) fn parent_batch_and_rows(
    child_preset: &FriPreset,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<(Vec<VerifierAir>, Vec<Lookups<F>>, Vec<usize>, usize), String> {
    let children = child_keys.len();
    if children == 0 || children > MAX_CHILDREN || parent_keys == 0 {
        return Err(format!("{children} children, {parent_keys} keys"));
    }
    let groups = child_groups(child_keys)?;
    let shapes = group_shapes(child_preset, &groups, &[0; 32], 0)?;
    let airs = grouped_verifier_airs(&shapes, vec![F::ZERO; NUM_STATEMENT_VALUES])?;
    let (heights, rows) = grouped_log_heights_and_rows(
        &airs,
        &group_counts(&groups, &shapes),
        parent_keys + child_keys.iter().sum::<usize>(),
    )?;
    let lookups = packed_lookups(&airs);
    Ok((airs, lookups, heights, rows))
}

/// Each group's child shape ([`child_shape`] of its size) under `preset`, on `message` at
/// `epoch`, in the groups' order, through [`shapes_by_structure`]: groups of different sizes in
/// one band of trace heights share a kept shape. A verifier derives them before it reads the
/// proof, 10 to 35 ms each.
///
/// # Errors
/// As [`child_shape`].
fn group_shapes(
    preset: &FriPreset,
    groups: &[ChildGroup],
    message: &[u8; 32],
    epoch: u32,
) -> Result<Vec<ChildShape>, String> {
    shapes_by_structure(
        groups.len(),
        |i| heights_of(groups[i].keys),
        |i| child_shape(preset, groups[i].keys, message, epoch),
    )
}

/// `shape(i)` for each `i` in `0..n`, in that order, where `structure(i)` is the part of the
/// shape cache's key ([`kept_child_shape`]) that differs between the `i`: first one `i` of each
/// structure, in parallel, then the others, in parallel, restated from the shapes those kept.
/// Calling `shape` on every `i` in parallel would derive a structure once for each `i` that
/// reaches it before its first derivation is kept (`Kept` holds no lock while deriving): two
/// components or groups of one band, derived side by side, both derive it.
///
/// # Errors
/// The first error of `shape`.
pub(super) fn shapes_by_structure<S: PartialEq, T: Send>(
    n: usize,
    structure: impl Fn(usize) -> S,
    shape: impl Fn(usize) -> Result<T, String> + Sync,
) -> Result<Vec<T>, String> {
    use rayon::prelude::*;
    let mut structures: Vec<S> = Vec::new();
    let (firsts, rest): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| {
        let s = structure(i);
        let first = !structures.contains(&s);
        if first {
            structures.push(s);
        }
        first
    });
    let mut shapes: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for part in [firsts, rest] {
        let made: Vec<(usize, T)> = part
            .into_par_iter()
            .map(|i| Ok((i, shape(i)?)))
            .collect::<Result<_, String>>()?;
        for (i, s) in made {
            shapes[i] = Some(s);
        }
    }
    Ok(shapes
        .into_iter()
        .map(|s| s.expect("every index is a first or restated"))
        .collect())
}

/// Each group's `(queries, children)`, for [`grouped_log_heights`].
pub(super) fn group_counts(groups: &[ChildGroup], shapes: &[ChildShape]) -> Vec<(usize, usize)> {
    groups
        .iter()
        .zip(shapes)
        .map(|(g, s)| (s.deep.queries().len(), g.members.len()))
        .collect()
}

/// The most bytes a parent over children of `child_keys` keys (each child's, in the list's
/// order) under `child_preset`, its set holding `parent_keys` keys, can take
/// ([`ParentProof::to_bytes`], every Merkle multiproof at its worst case,
/// `fri::envelope::max_encoded_len`).
///
/// # Errors
/// As [`parent_security_bits`].
pub fn parent_size_bound(
    child_preset: &FriPreset,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<usize, String> {
    use crate::aggregate::fri::config::MultisigConfig;
    use crate::aggregate::fri::security::ProofShape;
    let (airs, lookups, heights) = parent_batch(child_preset, child_keys, parent_keys)?;
    let common = CommonData::<MultisigConfig>::new(None, lookups);
    let shape = ProofShape::from_airs(&airs, &common, &heights)?;
    let bound = fri::envelope::max_encoded_len::<Poseidon1>(&parent_preset(child_preset), &shape)
        .map_err(|e| e.to_string())?;
    Ok(bound + header_len(child_keys.len()))
}

/// What one AIR of a parent commits, in base-field columns (each opened once per query; at
/// `zeta`, and at `g * zeta` for the main and LogUp columns, as challenge-field values): for
/// reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AirColumns {
    /// The AIR ([`VerifierAir::name`]).
    pub name: &'static str,
    /// log2 of its trace height.
    pub log_height: usize,
    /// Main trace columns.
    pub main: usize,
    /// LogUp columns: the fraction columns and the running sum, each a challenge-field column of
    /// [`crate::aggregate::field::CHALLENGE_DEGREE`] (5) base columns.
    pub permutation: usize,
    /// Quotient chunks, 5 base columns each.
    pub quotient: usize,
}

/// The columns each AIR of a parent over children of `child_keys` keys (each child's) under
/// `child_preset` commits, its set holding `parent_keys` keys, in instance order.
///
/// # Errors
/// As [`parent_security_bits`].
pub fn parent_columns(
    child_preset: &FriPreset,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<Vec<AirColumns>, String> {
    use crate::aggregate::field::CHALLENGE_DEGREE as D;
    use crate::aggregate::fri::config::MultisigConfig;
    use crate::aggregate::fri::security::ProofShape;
    let (airs, lookups, heights) = parent_batch(child_preset, child_keys, parent_keys)?;
    let common = CommonData::<MultisigConfig>::new(None, lookups);
    let shape = ProofShape::from_airs(&airs, &common, &heights)?;
    Ok(airs
        .iter()
        .zip(&shape.instances)
        .map(|(air, a)| AirColumns {
            name: air.name(),
            log_height: a.log_height,
            main: a.main_width,
            permutation: if a.num_lookups > 0 {
                (a.num_lookups + 1) * D
            } else {
                0
            },
            quotient: a.num_quotient_chunks * D,
        })
        .collect())
}

/// A parent proof over children of up to [`MAX_CHILD_SIZES`] sizes.
pub struct ParentProof {
    /// The children's preset; the parent's is [`parent_preset`] of it.
    pub child_preset: FriPreset,
    /// Each child's number of keys, in the children's order (transcript numbers follow from
    /// it, [`transcript_numbers`]).
    pub child_keys: Vec<usize>,
    /// The batch proof over [`verifier_airs`].
    pub proof: BatchProof<FriConfig<Poseidon1>>,
}

impl ParentProof {
    /// The proof's bytes, which [`crate::aggregate::verify_aggregate`] reads:
    ///
    /// ```text
    /// offset      size  field
    ///      0        16  prefix (crate::aggregate::wire): magic, version, the children's preset
    ///                   id, kind KIND_PARENT (1), length of the rest
    ///     16         4  K, the number of children (1..=MAX_CHILDREN), u32 little-endian
    ///     20        4K  each child's number of keys, u32 little-endian, ascending
    ///      *         *  zero bytes up to a multiple of 16 from offset 16
    ///      *         *  the batch proof under parent_preset(children's preset): the rkyv
    ///                   archive of the FRI format's body (fri::envelope), no prefix of its own
    /// ```
    ///
    /// Deterministic, and the only encoding the decoder accepts for this proof.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut payload = parent_header(&self.child_keys, &[]);
        payload.extend_from_slice(&fri::envelope::encode_archive::<Poseidon1>(&self.proof));
        wire::with_prefix_of_kind(self.child_preset.id(), KIND_PARENT, &payload)
    }

    /// The preset the parent is proved under: [`parent_preset`] of the children's.
    pub fn preset(&self) -> FriPreset {
        parent_preset(&self.child_preset)
    }

    /// Bytes of each component of the envelope's payload (`fri::envelope::component_sizes`),
    /// for reports.
    pub fn component_sizes(&self) -> Vec<(&'static str, usize)> {
        fri::envelope::component_sizes::<Poseidon1>(&self.proof)
    }
}

/// What every parent prover proves over `children` of `message` at `epoch`: the children's
/// preset and sizes, the parent's key set (the union, canonical order), the verifier AIRs and
/// their traces, whose heights are checked against the verifier's ([`grouped_log_heights`]).
pub(super) struct ParentWitness {
    pub(super) preset: FriPreset,
    /// Each child's number of keys, in the list's order.
    pub(super) child_keys: Vec<usize>,
    pub(super) union: Vec<PublicKey>,
    pub(super) airs: Vec<VerifierAir>,
    pub(super) traces: Vec<RowMajorMatrix<F>>,
    pub(super) log_heights: Vec<usize>,
    /// Rows of the shared permutation table that receive a permutation.
    pub(super) table_rows: usize,
}

/// Verifies each child natively (recording its transcript), reads its witness and builds every
/// trace of the parent's batch ([`ParentWitness`]): one group of verifier AIRs per size of
/// child ([`child_groups`]), each child numbered by [`transcript_numbers`].
///
/// # Errors
/// As [`prove_parent`].
pub(super) fn parent_witness(
    message: &[u8; 32],
    epoch: u32,
    children: &[(&[u8], &[PublicKey])],
) -> Result<ParentWitness, ProveError> {
    let invalid = |s: String| ProveError::InvalidOptions(s);
    if children.is_empty() || children.len() > MAX_CHILDREN {
        return Err(invalid(format!(
            "{} children (1 to {MAX_CHILDREN})",
            children.len()
        )));
    }
    let failed = |i: usize| move |e: VerifyError| ProveError::Prover(format!("child {i}: {e}"));
    let t = Instant::now();
    // One child a task; the first error in the caller's order is the one reported.
    let verified = {
        use rayon::prelude::*;
        children
            .par_iter()
            .enumerate()
            .map(|(i, (bytes, keys))| {
                let trace = child_verification_trace(bytes, keys, message, epoch);
                Ok((
                    trace.map_err(failed(i))?,
                    canonical_key_order(keys).map_err(failed(i))?,
                ))
            })
            .collect::<Vec<Result<_, ProveError>>>()
    };
    let (traces, lists): (Vec<_>, Vec<_>) = verified
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    profile("prove parent: children verified natively", t);
    let preset = *traces[0].preset();
    if let Some(i) = (1..children.len()).find(|&i| *traces[i].preset() != preset) {
        return Err(invalid(format!(
            "child {i} was made under preset {}, child 0 under {}: one parent takes children \
             of one preset",
            traces[i].preset().id(),
            preset.id()
        )));
    }
    // The batch takes the children by ascending size (stable): the header's canonical order,
    // each group's children together. `order[p]` is the caller's place of the batch's child `p`.
    let mut order: Vec<usize> = (0..children.len()).collect();
    order.sort_by_key(|&i| lists[i].len());
    let child_keys: Vec<usize> = order.iter().map(|&i| lists[i].len()).collect();
    let groups = child_groups(&child_keys).map_err(invalid)?;
    let numbers = transcript_numbers(&groups);
    let mut union: Vec<PublicKey> = lists.iter().flatten().copied().collect();
    union.sort_unstable_by_key(PublicKey::to_ssz);
    union.dedup();
    if union.len() > MAX_SIGNATURES {
        return Err(invalid(format!("{} keys in the union", union.len())));
    }
    let t = Instant::now();
    let shapes = group_shapes(&preset, &groups, message, epoch).map_err(ProveError::Prover)?;
    profile("prove parent: child shapes", t);
    let t = Instant::now();
    // One child a task, then regrouped (group by group, members in order).
    let members: Vec<(usize, &ChildShape)> = groups
        .iter()
        .zip(&shapes)
        .flat_map(|(g, shape)| g.members.iter().map(move |&p| (p, shape)))
        .collect();
    let made = {
        use rayon::prelude::*;
        members
            .par_iter()
            .map(|&(p, shape)| -> Result<ChildWitness, ProveError> {
                let i = order[p];
                let stmt = Statement {
                    message,
                    epoch,
                    keys: lists[i].as_slice(),
                };
                let decoded = fri::decode_against::<Poseidon1>(&preset, children[i].0, &stmt)
                    .map_err(failed(i))?;
                let w = ChildWitness::new(shape, traces[i].transcript(), &decoded.proof)
                    .map_err(|e| ProveError::Prover(format!("child {i}: {e}")))?;
                Ok(w.with_transcript(numbers[p]))
            })
            .collect::<Vec<_>>()
    };
    let witnesses = regrouped(&groups, made)?;
    profile("prove parent: witnesses", t);
    let t = Instant::now();
    let statement = statement_values(union.len(), epoch, message, &key_set_digest_ordered(&union));
    let airs = grouped_verifier_airs(&shapes, statement).map_err(ProveError::Prover)?;
    let keys: Vec<ChildKeys> = order
        .iter()
        .zip(&numbers)
        .map(|(&i, &t)| ChildKeys {
            transcript: t as usize,
            keys: lists[i].clone(),
        })
        .collect();
    let traces = parent_traces(&airs, &witnesses, &union, &keys)?;
    profile("prove parent: traces", t);
    let key_rows = union.len() + keys.iter().map(|c| c.keys.len()).sum::<usize>();
    let (expected, table_rows) =
        grouped_log_heights_and_rows(&airs, &group_counts(&groups, &shapes), key_rows)
            .map_err(ProveError::Prover)?;
    let heights: Vec<usize> = traces.iter().map(|t| t.height()).collect();
    if degree_bits(&heights) != expected {
        return Err(ProveError::Prover(format!(
            "trace heights {heights:?}, the verifier's are 2^{expected:?}"
        )));
    }
    Ok(ParentWitness {
        preset,
        child_keys,
        union,
        airs,
        traces,
        log_heights: expected,
        table_rows,
    })
}

/// Proves one parent over `children` (each a proof's bytes and its keys, in any order) of
/// `message` at `epoch`: each child is verified natively first, then its whole verification and
/// the parent's key set (the union of the children's, canonical order) are proved in the
/// verifier AIRs. Returns the proof and the parent's keys.
///
/// # Errors
/// [`ProveError::InvalidOptions`] for no child, more than [`MAX_CHILDREN`], children of more
/// than [`MAX_CHILD_SIZES`] distinct sizes, or more than [`MAX_SIGNATURES`] keys in the union;
/// [`ProveError::Prover`] for a child that does not verify for `message` and `epoch` (with the
/// verifier's error), one made under a preset that cannot be a child, or a prover failure.
pub fn prove_parent(
    message: &[u8; 32],
    epoch: u32,
    children: &[(&[u8], &[PublicKey])],
) -> Result<(ParentProof, Vec<PublicKey>), ProveError> {
    let ParentWitness {
        preset,
        child_keys,
        union,
        airs,
        traces,
        log_heights: expected,
        ..
    } = parent_witness(message, epoch, children)?;
    let invalid = |s: String| ProveError::InvalidOptions(s);
    let t = Instant::now();
    let parent = parent_preset(&preset);
    let lookups = packed_lookups(&airs);
    let security = batch_security(&parent, Regime::Proven, &airs, &lookups, &expected)
        .map_err(ProveError::Prover)?;
    if security.total_bits < SECURITY_FLOOR_BITS {
        return Err(invalid(format!(
            "a parent over children of {child_keys:?} keys is {:.2} bits proven ({}), under the \
             floor of {SECURITY_FLOOR_BITS}",
            security.total_bits,
            security.binding().label
        )));
    }
    profile("prove parent: security", t);
    let t = Instant::now();
    let pvs: Vec<Vec<F>> = airs.iter().map(VerifierAir::public_values).collect();
    let config = fri_config::<Poseidon1>(&parent);
    let proof = catch_prover("the parent's batch-STARK prover", || {
        let refs: Vec<&RowMajorMatrix<F>> = traces.iter().collect();
        let instances = StarkInstance::new_multiple(&airs, &refs, &pvs);
        let data = ProverData {
            common: CommonData::new(None, lookups),
            prover_only: ProverOnlyData::empty(),
        };
        prove_batch(&config, &instances, &data).map_err(|e| format!("{e:?}"))
    })
    .map_err(ProveError::Prover)?;
    profile("prove parent: prove_batch", t);
    Ok((
        ParentProof {
            child_preset: preset,
            child_keys,
            proof,
        },
        union,
    ))
}

/// Every trace of `airs` (instance order, [`grouped_verifier_airs`]) on each group's children's
/// witnesses `groups` and key lists `children`, and the parent's set `parent`.
fn parent_traces(
    airs: &[VerifierAir],
    groups: &[Vec<ChildWitness>],
    parent: &[PublicKey],
    children: &[ChildKeys],
) -> Result<Vec<RowMajorMatrix<F>>, ProveError> {
    let blocks = type1_blocks(airs.len(), groups.len());
    blocks_traces(airs, &blocks, groups, parent, children)
}

/// `made`, one result per member of `groups` in group order (each group's members in order),
/// as one list per group; the first error in that order if any.
pub(super) fn regrouped<T, E>(
    groups: &[ChildGroup],
    made: Vec<Result<T, E>>,
) -> Result<Vec<Vec<T>>, E> {
    let mut made = made.into_iter();
    groups
        .iter()
        .map(|g| {
            made.by_ref()
                .take(g.members.len())
                .collect::<Result<Vec<_>, _>>()
        })
        .collect()
}

/// Every trace of `airs` (instance order) whose blocks are `blocks`, on each group's children's
/// witnesses `groups`, the key lists `children` and the parent's set `parent` (both empty
/// without a key-set AIR).
pub(super) fn blocks_traces(
    airs: &[VerifierAir],
    blocks: &[Blocks],
    groups: &[Vec<ChildWitness>],
    parent: &[PublicKey],
    children: &[ChildKeys],
) -> Result<Vec<RowMajorMatrix<F>>, ProveError> {
    blocks_traces_of_heights(
        airs,
        blocks,
        groups,
        parent,
        children,
        &vec![MIN_HEIGHT; airs.len()],
    )
}

/// [`blocks_traces`] with each trace at least `min_heights[i]` rows (padding blocks past the
/// witnesses'): for tests that pad a batch to the verifier's heights without its witnesses.
pub(super) fn blocks_traces_of_heights(
    airs: &[VerifierAir],
    blocks: &[Blocks],
    groups: &[Vec<ChildWitness>],
    parent: &[PublicKey],
    children: &[ChildKeys],
    min_heights: &[usize],
) -> Result<Vec<RowMajorMatrix<F>>, ProveError> {
    use rayon::prelude::*;
    /// One instance's trace made on its own, or the shared table, made last from the
    /// permutations of the instances before it.
    enum Made {
        Trace(RowMajorMatrix<F>, Option<RowMajorMatrix<F>>),
        Shared(usize),
    }
    // Every instance but the shared table depends on its own witnesses only: one task each.
    let made: Vec<Result<Made, ProveError>> = airs
        .par_iter()
        .zip(blocks)
        .zip(min_heights)
        .map(|((air, source), &min)| -> Result<Made, ProveError> {
            let w: &[ChildWitness] = match *source {
                Blocks::Group(g) => groups.get(g).map_or(&[], Vec::as_slice),
                Blocks::Member(g, j) => groups
                    .get(g)
                    .and_then(|ws| ws.get(j))
                    .map_or(&[], std::slice::from_ref),
                Blocks::Shared => &[],
            };
            Ok(match air {
                VerifierAir::Duplex(a) => {
                    let observed: Vec<Vec<F>> = w.iter().map(|w| w.observed.clone()).collect();
                    let (t, perm, _, _) = a.generate_traces(&observed, min);
                    Made::Trace(t, Some(perm))
                }
                VerifierAir::Commit(a) => {
                    let roots: Vec<_> = (a.first_transcript()..)
                        .zip(w)
                        .map(|(t, w)| (t, w.roots.clone()))
                        .collect();
                    Made::Trace(a.generate_trace(&roots, min), None)
                }
                VerifierAir::Bits(a) => {
                    let drawn: Vec<Vec<F>> = w.iter().map(|w| w.drawn.clone()).collect();
                    Made::Trace(a.generate_trace(&drawn, min).0, None)
                }
                VerifierAir::DeepTerms(a) => {
                    let claims: Vec<_> = w.iter().map(|w| (w.alpha, w.claims.clone())).collect();
                    Made::Trace(a.generate_trace(&claims, min).0, None)
                }
                VerifierAir::Gather(a) => {
                    let gathered: Vec<_> = w.iter().map(|w| w.gathered.clone()).collect();
                    Made::Trace(a.generate_trace(&gathered, min), None)
                }
                VerifierAir::Ood(a) => {
                    let inputs: Vec<_> = w.iter().map(|w| w.ood.clone()).collect();
                    let t = a.generate_trace(&inputs, min).ok_or_else(|| {
                        ProveError::Prover("a child's out-of-domain check does not run".into())
                    })?;
                    Made::Trace(t, None)
                }
                VerifierAir::Mmcs(a) => {
                    // Block by block: each child's queries, each query's opening of every
                    // commitment.
                    let mut all = Vec::new();
                    for w in w {
                        let queries = w.openings.first().map_or(0, Vec::len);
                        if w.openings.iter().any(|c| c.len() != queries) {
                            return Err(ProveError::Prover(
                                "a child's commitments are opened at different numbers of \
                                 queries"
                                    .into(),
                            ));
                        }
                        for q in 0..queries {
                            all.extend(w.openings.iter().map(|c| c[q].clone()));
                        }
                    }
                    let (t, perm, _) = a.generate_traces(&all, min);
                    Made::Trace(t, Some(perm))
                }
                VerifierAir::Deep(a) => {
                    let inputs: Vec<_> = w.iter().map(|w| w.deep.clone()).collect();
                    Made::Trace(a.generate_trace(&inputs, min).0, None)
                }
                VerifierAir::Fold(a) => {
                    let inputs: Vec<_> = w.iter().map(|w| w.fold.clone()).collect();
                    Made::Trace(a.generate_trace(&inputs, min).0, None)
                }
                VerifierAir::FinalPoly(a) => {
                    let inputs: Vec<_> = w.iter().map(|w| w.final_poly.clone()).collect();
                    Made::Trace(a.generate_trace(&inputs, min).0, None)
                }
                VerifierAir::Observed(a) => {
                    let values: Vec<_> = w.iter().map(|w| w.observations.clone()).collect();
                    Made::Trace(a.generate_trace(&values, min), None)
                }
                VerifierAir::KeySet(a, _) => {
                    let (t, perm) = a.generate_trace(parent, children, min);
                    Made::Trace(t, Some(perm))
                }
                VerifierAir::Perm(_) => Made::Shared(min),
                #[cfg(test)]
                VerifierAir::Known(a) => Made::Trace(a.trace(), None),
                #[cfg(test)]
                VerifierAir::Sumcheck(_) | VerifierAir::Gkr(_) | VerifierAir::Zerocheck(_) => {
                    return Err(ProveError::Prover(
                        "no multilinear verifier AIR in a parent's batch yet".into(),
                    ))
                }
            })
        })
        .collect();
    // In instance order: a shared table takes the permutations of every instance before it.
    let mut traces = Vec::with_capacity(airs.len());
    let mut perms = Vec::new();
    for m in made {
        match m? {
            Made::Trace(t, perm) => {
                perms.extend(perm);
                traces.push(t);
            }
            Made::Shared(min) => {
                traces.push(shared_table(&perms.iter().collect::<Vec<_>>(), min));
            }
        }
    }
    Ok(traces)
}

/// What a parent's verifier derives from the statement and the children's preset and sizes,
/// before it reads the proof: the AIRs, their public values and lookups, the batch's shape
/// (trace heights included) and the parent's preset.
struct Prepared {
    /// The children's preset.
    child: FriPreset,
    airs: Vec<VerifierAir>,
    pvs: Vec<Vec<F>>,
    lookups: Vec<Lookups<F>>,
    shape: crate::aggregate::fri::security::ProofShape,
    parent: FriPreset,
}

/// The checks a parent's verifier makes on the children's preset and sizes before any shape is
/// derived: the preset is one of [`PRESETS`], can be a child ([`check_child_preset`]) and passes
/// [`accept_preset`] under `opts` for each size's statement; there are 1 to [`MAX_CHILDREN`]
/// children of at most [`MAX_CHILD_SIZES`] sizes `n` in ascending order, each with
/// `1 <= n <= keys`. Returns the
/// children's FRI preset and their groups ([`child_groups`]).
///
/// # Errors
/// As [`verify_parent`].
fn check_children(
    child: &Preset,
    child_keys: &[usize],
    keys: usize,
    opts: &VerifyOptions,
) -> Result<(FriPreset, Vec<ChildGroup>), VerifyError> {
    if PRESETS.get(usize::from(child.id())) != Some(child) {
        return Err(VerifyError::PresetNotAccepted(format!(
            "the children's preset {child:?} is none of the presets"
        )));
    }
    let preset = *check_child_preset(child)?;
    let malformed = |s: String| VerifyError::Malformed(s);
    match child_keys.len() {
        0 => return Err(malformed("no child".into())),
        c if c > MAX_CHILDREN => return Err(malformed(format!("{c} children"))),
        _ => {}
    }
    // One order per multiset of sizes, so one encoding per proof: the prover's (ascending).
    if child_keys.windows(2).any(|w| w[0] > w[1]) {
        return Err(malformed(format!(
            "children's sizes {child_keys:?} not in ascending order"
        )));
    }
    let groups = child_groups(child_keys).map_err(malformed)?;
    for g in &groups {
        if g.keys == 0 || g.keys > keys {
            return Err(VerifyError::Invalid(format!(
                "a child of {} keys under a parent of {keys}",
                g.keys
            )));
        }
        accept_preset(child, g.keys, opts)?;
    }
    Ok((preset, groups))
}

/// The verifier AIRs of a parent over children of `groups` (one shape per group) made under
/// `preset`, on `message` at `epoch`, with `statement` as the key-set AIR's public values, and
/// their trace heights (log2) for a parent's set of `keys` keys.
///
/// # Errors
/// [`VerifyError::Malformed`] if the verifier AIRs do not cover a child's shape.
fn parent_airs(
    preset: &FriPreset,
    groups: &[ChildGroup],
    message: &[u8; 32],
    epoch: u32,
    keys: usize,
    statement: Vec<F>,
) -> Result<(Vec<VerifierAir>, Vec<usize>, usize), VerifyError> {
    let malformed = |s: String| VerifyError::Malformed(s);
    let t = Instant::now();
    let shapes = group_shapes(preset, groups, message, epoch).map_err(malformed)?;
    profile("verify parent: child shapes", t);
    let t = Instant::now();
    let airs = grouped_verifier_airs(&shapes, statement).map_err(malformed)?;
    let child_rows: usize = groups.iter().map(|g| g.keys * g.members.len()).sum();
    let (heights, rows) =
        grouped_log_heights_and_rows(&airs, &group_counts(groups, &shapes), keys + child_rows)
            .map_err(malformed)?;
    profile("verify parent: AIRs and heights", t);
    Ok((airs, heights, rows))
}

/// Derives [`Prepared`] for a parent over children of `child_keys` keys (each child's) made
/// under `child`, for the statement (`message`, `epoch`, `keys` in canonical order); checks the
/// children ([`check_children`]) and that the parent's batch reaches [`SECURITY_FLOOR_BITS`]
/// proven.
fn prepare(
    child: &Preset,
    child_keys: &[usize],
    message: &[u8; 32],
    epoch: u32,
    keys: &[PublicKey],
    opts: &VerifyOptions,
) -> Result<Prepared, VerifyError> {
    use crate::aggregate::fri::config::MultisigConfig;
    use crate::aggregate::fri::security::ProofShape;
    let malformed = |s: String| VerifyError::Malformed(s);
    let (preset, groups) = check_children(child, child_keys, keys.len(), opts)?;
    let statement = statement_values(keys.len(), epoch, message, &key_set_digest_ordered(keys));
    let (airs, heights, _) = parent_airs(&preset, &groups, message, epoch, keys.len(), statement)?;
    let t = Instant::now();
    let parent = parent_preset(&preset);
    let lookups = packed_lookups(&airs);
    let common = CommonData::<MultisigConfig>::new(None, lookups.clone());
    let batch = ProofShape::from_airs(&airs, &common, &heights).map_err(malformed)?;
    let security = security_bits_in(&parent, Regime::Proven, &batch);
    if security.total_bits < SECURITY_FLOOR_BITS {
        return Err(VerifyError::PresetNotAccepted(format!(
            "preset {} for a parent over children of {child_keys:?} keys: {:.2} bits proven, \
             under the floor of {SECURITY_FLOOR_BITS}",
            preset.id(),
            security.total_bits
        )));
    }
    profile("verify parent: security", t);
    Ok(Prepared {
        child: preset,
        pvs: airs.iter().map(VerifierAir::public_values).collect(),
        airs,
        lookups,
        shape: batch,
        parent,
    })
}

/// Runs the batch-STARK verifier on `proof` for what `p` derived.
fn verify_prepared(
    p: &Prepared,
    proof: &BatchProof<FriConfig<Poseidon1>>,
) -> Result<(), VerifyError> {
    let heights: Vec<usize> = p.shape.instances.iter().map(|a| a.log_height).collect();
    if proof.degree_bits != heights {
        return Err(VerifyError::Malformed(format!(
            "trace heights 2^{:?}, expected 2^{heights:?}",
            proof.degree_bits
        )));
    }
    let common = CommonData::new(None, p.lookups.clone());
    let config = fri_config::<Poseidon1>(&p.parent);
    let t = Instant::now();
    let r = catch_verifier(|| {
        verify_batch(&config, &p.airs, proof, &p.pvs, &common).map_err(|e| format!("{e:?}"))
    });
    profile("verify parent: verify_batch", t);
    r
}

/// Verifies a parent proof for the statement (`message`, `epoch`, the key set `public_keys` in
/// any order): rebuilds every child's shape from its number of keys, the parent's AIRs and
/// their trace heights, and runs the batch-STARK verifier with the statement as the key-set
/// AIR's public values. The children's preset must pass `accept_preset` with the default
/// [`VerifyOptions`].
///
/// # Errors
/// [`VerifyError::Invalid`] for an empty or oversized key list, a repeated key, or a proof that
/// does not verify; [`VerifyError::PresetNotAccepted`] for a preset that cannot be a child;
/// [`VerifyError::Malformed`] for more than [`MAX_CHILD_SIZES`] sizes of children or trace
/// heights other than the verifier's.
pub fn verify_parent(
    proof: &ParentProof,
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
) -> Result<(), VerifyError> {
    check_key_count(public_keys)?;
    let keys = canonical_key_order(public_keys)?;
    let p = prepare(
        &Preset::Fri(proof.child_preset),
        &proof.child_keys,
        message,
        epoch,
        &keys,
        &VerifyOptions::default(),
    )?;
    verify_prepared(&p, &proof.proof)
}

/// Bytes of a parent proof's header, after the prefix: the number of children and each child's
/// number of keys (`u32` little-endian each), zero-padded to a multiple of 16 so that the
/// archive after it is as aligned as the buffer.
fn header_len(children: usize) -> usize {
    header_len_with(children, 0)
}

/// Bytes of a parent's header after the prefix: the number of children, each child's number of
/// keys and `extra` more words (`u32` little-endian each), zero-padded to a multiple of 16.
pub(super) fn header_len_with(children: usize, extra: usize) -> usize {
    (4 + 4 * (children + extra)).next_multiple_of(16)
}

/// A parent's header ([`header_len_with`]): the number of children, each child's number of keys
/// in `child_keys`, then the `extra` words, zero-padded. [`read_parent_header`] reads it back.
pub(super) fn parent_header(child_keys: &[usize], extra: &[usize]) -> Vec<u8> {
    let words = std::iter::once(child_keys.len()).chain(child_keys.iter().chain(extra).copied());
    let mut header: Vec<u8> = words.flat_map(|w| (w as u32).to_le_bytes()).collect();
    header.resize(header_len_with(child_keys.len(), extra.len()), 0);
    header
}

/// A parent's prefix and header, read: the children's preset, each child's number of keys, the
/// `extra` words after them, and the body after the padding.
pub(super) struct ParentHeader<'a> {
    pub(super) child: Preset,
    pub(super) child_keys: Vec<usize>,
    pub(super) extra: Vec<usize>,
    pub(super) body: &'a [u8],
}

/// Reads the prefix (of `kind`) and the header ([`header_len_with`]) of a parent's bytes.
///
/// # Errors
/// [`VerifyError::Malformed`] for a prefix [`wire::read_prefix_of_kind`] refuses, no child or
/// more than [`MAX_CHILDREN`], a truncated header or non-zero padding.
pub(super) fn read_parent_header(
    bytes: &[u8],
    kind: u8,
    extra: usize,
) -> Result<ParentHeader<'_>, VerifyError> {
    let (child, payload) = wire::read_prefix_of_kind(bytes, kind)?;
    let malformed = |s: String| VerifyError::Malformed(s);
    let word = |at: usize| -> Result<usize, VerifyError> {
        payload
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| malformed(format!("parent header truncated at byte {}", 16 + at)))
    };
    let children = word(0)?;
    if children == 0 || children > MAX_CHILDREN {
        return Err(malformed(format!(
            "{children} children (1 to {MAX_CHILDREN})"
        )));
    }
    let words = (1..=children + extra)
        .map(|i| word(4 * i))
        .collect::<Result<Vec<_>, _>>()?;
    let header = header_len_with(children, extra);
    let used = 4 * (1 + children + extra);
    if payload.len() < header || payload[used..header].iter().any(|&b| b != 0) {
        return Err(malformed(
            "parent header truncated or padded with non-zero bytes".into(),
        ));
    }
    Ok(ParentHeader {
        child,
        child_keys: words[..children].to_vec(),
        extra: words[children..].to_vec(),
        body: &payload[header..],
    })
}

/// Decodes a parent proof ([`ParentProof::to_bytes`]) for the statement (`message`, `epoch`,
/// `public_keys` in any order), checking every length against what the verifier derives from
/// the statement and the header, and canonicity; does not verify it. Returns the proof and what
/// the verifier derived.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that are not a parent proof of this statement's shape
/// (prefix, kind, header, archive, lengths, non-canonical encoding); otherwise as
/// [`verify_parent_bytes`] before the STARK verifier runs.
fn decode_parent(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
    opts: &VerifyOptions,
) -> Result<(ParentProof, Prepared), VerifyError> {
    check_key_count(public_keys)?;
    let keys = canonical_key_order(public_keys)?;
    let ParentHeader {
        child,
        child_keys,
        extra: _,
        body,
    } = read_parent_header(bytes, KIND_PARENT, 0)?;
    let p = prepare(&child, &child_keys, message, epoch, &keys, opts)?;
    let proof = fri::envelope::decode_archive_against::<Poseidon1>(body, &p.parent, &p.shape)?;
    let parent = ParentProof {
        child_preset: p.child,
        child_keys,
        proof,
    };
    wire::check_canonical(&parent.to_bytes(), bytes)?;
    Ok((parent, p))
}

/// Verifies a parent proof's bytes ([`ParentProof::to_bytes`]) for the statement (`message`,
/// `epoch`, `public_keys` in any order), the children's preset passing `accept_preset` under
/// `opts`: what [`crate::aggregate::verify_aggregate`] runs for a proof of kind
/// [`KIND_PARENT`].
///
/// # Errors
/// As [`verify_parent`], and [`VerifyError::Malformed`] for bytes that do not decode
/// (`decode_parent`).
pub fn verify_parent_bytes(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    let t = Instant::now();
    let (proof, p) = decode_parent(bytes, message, epoch, public_keys, opts)?;
    profile("verify parent: decode", t);
    verify_prepared(&p, &proof.proof)
}

/// Bytes of each component of a parent proof's archive ([`ParentProof::component_sizes`]), the
/// bytes decoded for the statement but not verified.
///
/// # Errors
/// As `decode_parent`.
pub fn parent_components(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
) -> Result<Vec<(&'static str, usize)>, VerifyError> {
    let (proof, _) = decode_parent(
        bytes,
        message,
        epoch,
        public_keys,
        &VerifyOptions::default(),
    )?;
    Ok(proof.component_sizes())
}

// ---------------------------------------------------------------------------------------------
// The compact parent: the same verifier AIRs, proved by the multilinear STARK over WHIR
// ---------------------------------------------------------------------------------------------

/// The WHIR parameters a compact parent is proved under when the caller names `whir` (one of
/// the WHIR presets of [`PRESETS`], ids 8 and 9): the same rate, folding, grinding and term
/// size, with every term sized in the unique-decoding regime.
///
/// Why unique decoding: in the Johnson-bound regime every reduction before the opening (the
/// zerocheck, the LogUp fingerprint, the fractional GKR) is charged against the WHIR list of
/// codewords a cheating prover may hold. For a parent's batch that list costs about 5 bits and
/// the LogUp fingerprint (about 750,000 fractions of messages up to 48 elements wide) fell to
/// 124.5 bits, the whole proof to 123.7 (rate 1/2) and 123.1 (rate 1/4) for two children of two
/// keys: under [`SECURITY_FLOOR_BITS`]. Unique decoding charges one codeword and needs more
/// queries: 126.00 and 125.87 bits for two children of 775 keys at rates 1/2 and 1/4, in 474 and
/// 427 KiB (p3-security's `SecurityAssumption::UniqueDecoding`, δ = (1 − ρ)/2;
/// `src/aggregate/recursion/README.md`, "The compact parent").
pub fn compact_parent_preset(whir: &WhirPreset) -> WhirPreset {
    WhirPreset {
        unique_decoding: true,
        ..*whir
    }
}

/// A verifier AIR as the multilinear prover sees it: the same columns, periodic columns,
/// constraints, lookups and public values, with no constraint-degree hint. The hint of 3 is the
/// FRI batch's quotient degree, where selectors and periodic columns add no degree in the trace
/// length; in the zerocheck every selector and periodic column is one more multilinear factor,
/// so p3-multi-stark derives the degree from the constraints instead (and refuses a hint below
/// it). The shared permutation table is [`Perm24TableAir::shared_multilinear`] here: the same
/// columns and trace, constrained by polynomials with the same zeros whose expressions the
/// multilinear prover's per-constraint walks read in a fraction of the time.
///
/// Next-row openings: the multilinear STARK opens each column its AIR declares in
/// `main_next_row_columns` at the zerocheck point's successor, 20 bytes a column in the proof.
/// Plonky3's default declares every column; the wrapper declares exactly the columns the
/// constraints and bus messages read on the next row ([`next_row_columns_read`]), computed
/// once when it is made ([`multilinear_airs`]). SOUNDNESS: p3-multi-stark's verifier reads an
/// undeclared successor value as zero; its setup refuses (panics on, caught by
/// [`compact_batch`]) an AIR that reads one, and the list is derived from the same symbolic
/// pass, so none is left out.
///
/// Symbolic passes: the wrapper keeps its AIR's one symbolic evaluation ([`SymbolicRecord`],
/// shared by the instances of one AIR), from which the next-row list is read and which
/// [`super::replay::ReplayedAir`] replays into p3-multi-stark's setup, security report and
/// verifier instead of evaluating the AIR again.
pub(super) struct MultilinearAir<'a> {
    /// The verifier AIR.
    pub(super) air: &'a VerifierAir,
    /// Its main-trace columns read on the next row, ascending.
    next: Vec<usize>,
    /// Its symbolic evaluation.
    record: Arc<SymbolicRecord>,
}

/// The multilinear STARK's view of each of `airs` ([`MultilinearAir`]), their symbolic passes
/// made in parallel.
pub(super) fn multilinear_airs(airs: &[VerifierAir]) -> Vec<MultilinearAir<'_>> {
    multilinear_instances(airs, airs.len())
}

/// [`multilinear_airs`] for `instances` instances: each of `airs` once, and the last one again
/// for every instance past `airs.len()` (the shared permutation table's pieces,
/// [`shared_table_split`]), sharing its symbolic pass.
pub(super) fn multilinear_instances(
    airs: &[VerifierAir],
    instances: usize,
) -> Vec<MultilinearAir<'_>> {
    use rayon::prelude::*;
    let made: Vec<(Vec<usize>, Arc<SymbolicRecord>)> = airs
        .par_iter()
        .map(|air| {
            let pass = |air: &VerifierAir| {
                // The wrapper's own evaluation never reads its record: an empty one stands in
                // while the record is made.
                let bare = MultilinearAir {
                    air,
                    next: Vec::new(),
                    record: Arc::new(SymbolicRecord::default()),
                };
                let record = SymbolicRecord::of(&bare);
                (record.next_row_columns(), Arc::new(record))
            };
            match air {
                // Every batch's table is `Perm24TableAir::shared()`, which the wrapper
                // evaluates as `shared_multilinear()` whatever it holds: one pass per process.
                VerifierAir::Perm(p) if BaseAir::<F>::width(p) == shared_table_width() => {
                    SHARED_TABLE_PASS.get_or_init(|| pass(air)).clone()
                }
                _ => pass(air),
            }
        })
        .collect();
    let next: Vec<Vec<usize>> = made.iter().map(|(n, _)| n.clone()).collect();
    let records: Vec<Arc<SymbolicRecord>> = made.into_iter().map(|(_, r)| r).collect();
    multilinear_airs_with(
        airs,
        &expand(&next, instances),
        &expand(&records, instances),
    )
}

/// The shared permutation table's symbolic pass as the multilinear STARK sees it (its
/// next-row columns and record): the same in every batch, made once per process, by the first
/// batch that holds the table or by [`prepare_shared_table`].
static SHARED_TABLE_PASS: std::sync::OnceLock<(Vec<usize>, Arc<SymbolicRecord>)> =
    std::sync::OnceLock::new();

/// Makes the shared permutation table's symbolic pass ([`SHARED_TABLE_PASS`]) now, as the first
/// compact parent or Type-2 proof a process proves or verifies would (about 4.5 ms on a 2-core
/// machine): [`crate::prepare`] calls it under the FRI presets, whose proofs can be children.
/// Idempotent.
pub(crate) fn prepare_shared_table() {
    let table = [VerifierAir::Perm(Perm24TableAir::shared())];
    let _ = multilinear_airs(&table);
}

/// Whether the shared permutation table's symbolic pass has been made in this process.
#[cfg(test)]
fn shared_table_prepared() -> bool {
    SHARED_TABLE_PASS.get().is_some()
}

/// Columns of the shared permutation table, `Perm24TableAir::shared()`.
fn shared_table_width() -> usize {
    static WIDTH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WIDTH.get_or_init(|| BaseAir::<F>::width(&Perm24TableAir::shared()))
}

/// `items` (one per AIR), the last repeated up to `instances` entries: the shared permutation
/// table's pieces ([`shared_table_split`]).
fn expand<T: Clone>(items: &[T], instances: usize) -> Vec<T> {
    let extra = instances.saturating_sub(items.len());
    items
        .iter()
        .chain(items.last().into_iter().cycle().take(extra))
        .cloned()
        .collect()
}

/// [`multilinear_instances`] from what was derived before (a verifier's cached key): `next[i]`
/// and `records[i]` are [`MultilinearAir::next_columns`] and [`MultilinearAir::record`] of
/// instance `i`'s wrapper.
pub(super) fn multilinear_airs_with<'a>(
    airs: &'a [VerifierAir],
    next: &[Vec<usize>],
    records: &[Arc<SymbolicRecord>],
) -> Vec<MultilinearAir<'a>> {
    multilinear_refs_with(airs.iter().collect(), next, records)
}

/// [`multilinear_airs_with`] of AIRs held apart (a Type-2 verifier's statement AIRs beside its
/// kept ones).
pub(super) fn multilinear_refs_with<'a>(
    airs: Vec<&'a VerifierAir>,
    next: &[Vec<usize>],
    records: &[Arc<SymbolicRecord>],
) -> Vec<MultilinearAir<'a>> {
    expand(&airs, next.len())
        .into_iter()
        .zip(next)
        .zip(records)
        .map(|((air, next), record)| MultilinearAir {
            air,
            next: next.clone(),
            record: record.clone(),
        })
        .collect()
}

impl MultilinearAir<'_> {
    /// The main-trace columns its constraints and bus messages read on the next row.
    pub(super) fn next_columns(&self) -> &[usize] {
        &self.next
    }

    /// Its AIR's symbolic evaluation.
    pub(super) fn record(&self) -> &Arc<SymbolicRecord> {
        &self.record
    }
}

/// The main-trace columns whose next-row values `air`'s constraints or bus messages (fields
/// and counts) read, ascending: one symbolic evaluation ([`SymbolicRecord::of`], then
/// [`SymbolicRecord::next_row_columns`]).
#[cfg(test)]
pub(super) fn next_row_columns_read<A>(air: &A) -> Vec<usize>
where
    A: BaseAir<F> + Air<p3_lookup::InteractionSymbolicBuilder<F, Challenge>>,
{
    SymbolicRecord::of(air).next_row_columns()
}

impl BaseAir<F> for MultilinearAir<'_> {
    fn width(&self) -> usize {
        BaseAir::<F>::width(self.air)
    }
    fn num_periodic_columns(&self) -> usize {
        BaseAir::<F>::num_periodic_columns(self.air)
    }
    fn periodic_columns(&self) -> std::borrow::Cow<'_, [Vec<F>]> {
        BaseAir::<F>::periodic_columns(self.air)
    }
    fn main_next_row_columns(&self) -> Vec<usize> {
        self.next.clone()
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        None
    }
    fn num_public_values(&self) -> usize {
        BaseAir::<F>::num_public_values(self.air)
    }
}

impl<AB: AirBuilder<F = F> + InteractionBuilder> Air<AB> for MultilinearAir<'_> {
    fn eval(&self, builder: &mut AB) {
        match self.air {
            VerifierAir::Perm(_) => Perm24TableAir::shared_multilinear().eval(builder),
            air => air.eval(builder),
        }
    }
}

/// The multilinear STARK's view of a parent's batch: its configuration for the stacked trace
/// of `airs` at heights `2^log_heights`, the proving and verifying keys, and the soundness in
/// bits (p3-multi-stark's report composed by [`whir::report_bits`]).
pub(super) struct CompactBatch {
    pub(super) config: whir::WhirStarkConfig,
    pub(super) num_variables: usize,
    pub(super) pk: p3_multi_stark::ProvingKey<whir::WhirStarkConfig>,
    pub(super) vk: p3_multi_stark::VerifyingKey<whir::WhirStarkConfig>,
    pub(super) security_bits: f64,
}

/// Builds [`CompactBatch`] for `airs` (wrapped in [`MultilinearAir`] by the caller) under
/// `params` ([`compact_parent_preset`]).
///
/// # Errors
/// A message when the WHIR schedule does not fit the stacked trace, setup fails, or the report
/// cannot be made.
pub(super) fn compact_batch(
    params: &WhirPreset,
    airs: &[MultilinearAir<'_>],
    log_heights: &[usize],
    pvs: &[Vec<F>],
) -> Result<CompactBatch, String> {
    // Shapes come from our own derivation, but a verifier runs this before the proof is read:
    // a panic in Plonky3's setup or report becomes an error, never an unwind to the caller.
    catch_prover("the parent's setup and security report", || {
        unguarded_compact_batch(params, airs, log_heights, pvs)
    })
}

/// [`compact_batch`] without the panic guard.
fn unguarded_compact_batch(
    params: &WhirPreset,
    airs: &[MultilinearAir<'_>],
    log_heights: &[usize],
    pvs: &[Vec<F>],
) -> Result<CompactBatch, String> {
    use p3_multi_stark::{VerifierInstance, VerifierInstances};
    let widths: Vec<usize> = airs.iter().map(BaseAir::<F>::width).collect();
    let num_variables = stacked_variables(params, log_heights, &widths);
    let config = whir::stark_config(params, num_variables)?;
    // Setup and the report read the AIRs' symbolic passes only: each wrapper's record is
    // replayed instead of evaluating the AIR again (`super::replay`).
    let views: Vec<ReplayedAir<'_>> = replayed(airs);
    let refs: Vec<&ReplayedAir<'_>> = views.iter().collect();
    let t = Instant::now();
    let (pk, vk) = p3_multi_stark::setup(&config, &refs, &mut whir::challenger())
        .map_err(|e| format!("setup of the parent's AIRs: {e:?}"))?;
    profile("compact parent: setup", t);
    let t = Instant::now();
    let instances = VerifierInstances::new(
        views
            .iter()
            .zip(log_heights)
            .zip(pvs)
            .map(|((air, &h), pv)| VerifierInstance::new(air, &vk, h, pv))
            .collect(),
    );
    let report = p3_multi_stark::security_report(&config, &instances)
        .map_err(|e| format!("the parent's security report: {e:?}"))?;
    let security_bits = whir::report_bits(&report)?;
    profile("compact parent: security report", t);
    Ok(CompactBatch {
        config,
        num_variables,
        pk,
        vk,
        security_bits,
    })
}

/// Variables of the stacked trace polynomial of traces of heights `2^log_heights` and `widths`
/// under `params` ([`whir::num_variables`]).
pub(super) fn stacked_variables(
    params: &WhirPreset,
    log_heights: &[usize],
    widths: &[usize],
) -> usize {
    let shapes: Vec<(usize, usize)> = log_heights
        .iter()
        .copied()
        .zip(widths.iter().copied())
        .collect();
    whir::num_variables(&shapes, usize::from(params.first_folding))
}

/// A compact parent proof: a parent over children (of up to [`MAX_CHILD_SIZES`] sizes) whose
/// batch (the same verifier AIRs and traces as [`ParentProof`]'s) is proved by the multilinear
/// STARK with a WHIR
/// commitment (`p3-multi-stark`, `p3-whir`, Keccak Merkle trees and transcript) under
/// [`compact_parent_preset`] of `whir`. WHIR opens one folded codeword per query instead of
/// every column, so the proof is about half a FRI parent's and fits the 512 KiB wire cap; it
/// cannot be a child (its verifier is not one of the verifier AIRs).
pub struct CompactParentProof {
    /// The children's preset.
    pub child_preset: FriPreset,
    /// Each child's number of keys, in the children's order (transcript numbers follow from
    /// it, [`transcript_numbers`]).
    pub child_keys: Vec<usize>,
    /// The WHIR preset of [`PRESETS`] named in the header; the proof is made under
    /// [`compact_parent_preset`] of it.
    pub whir: WhirPreset,
    /// The multilinear STARK proof of the verifier AIRs.
    pub proof: whir::WhirProof,
}

/// Bytes of a compact parent's header after the prefix: the number of children, each child's
/// number of keys and the WHIR preset id (`u32` little-endian each), zero-padded to a multiple
/// of 16.
fn compact_header_len(children: usize) -> usize {
    header_len_with(children, 1)
}

impl CompactParentProof {
    /// The proof's bytes, which [`crate::aggregate::verify_aggregate`] reads:
    ///
    /// ```text
    /// offset      size  field
    ///      0        16  prefix (crate::aggregate::wire): magic, version, the children's preset
    ///                   id, kind KIND_COMPACT_PARENT (2), length of the rest
    ///     16         4  K, the number of children (1..=MAX_CHILDREN), u32 little-endian
    ///     20        4K  each child's number of keys, u32 little-endian, ascending
    ///   20+4K        4  the WHIR preset id (8 or 9), u32 little-endian
    ///      *         *  zero bytes up to a multiple of 16 from offset 16
    ///      *         *  the rkyv archive of the WHIR format's body (whir::envelope), no prefix
    /// ```
    ///
    /// Deterministic, and the only encoding the decoder accepts for this proof.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut payload = parent_header(&self.child_keys, &[usize::from(self.whir.id())]);
        payload.extend_from_slice(&whir::envelope::encode_archive(&self.proof));
        wire::with_prefix_of_kind(self.child_preset.id(), KIND_COMPACT_PARENT, &payload)
    }

    /// Bytes of each component of the WHIR proof (`whir::envelope::component_sizes`).
    pub fn component_sizes(&self) -> Vec<(&'static str, usize)> {
        whir::envelope::component_sizes(&self.proof)
    }
}

/// Proves one compact parent ([`CompactParentProof`]) over `children` (each a proof's bytes and
/// its keys, in any order) of `message` at `epoch`, under [`compact_parent_preset`] of `whir`:
/// the children are verified and the traces built as for [`prove_parent`], then the batch is
/// proved by the multilinear STARK. Returns the proof, the parent's keys and its soundness in
/// bits.
///
/// # Errors
/// As [`prove_parent`]; [`ProveError::InvalidOptions`] when the batch is under
/// [`SECURITY_FLOOR_BITS`] or the WHIR schedule does not fit it.
pub fn prove_compact_parent(
    message: &[u8; 32],
    epoch: u32,
    children: &[(&[u8], &[PublicKey])],
    whir: &WhirPreset,
) -> Result<(CompactParentProof, Vec<PublicKey>, f64), ProveError> {
    if Preset::from_id(whir.id()).and_then(|p| p.as_whir()) != Some(*whir) {
        return Err(ProveError::InvalidOptions(format!(
            "{whir:?} is not one of the WHIR presets"
        )));
    }
    let ParentWitness {
        preset,
        child_keys,
        union,
        airs,
        mut traces,
        log_heights,
        table_rows,
    } = parent_witness(message, epoch, children)?;
    let t = Instant::now();
    let params = compact_parent_preset(whir);
    let heights = shared_table_split(&params, &airs, &log_heights, table_rows);
    cut_shared_table(&mut traces, airs.len(), &heights)?;
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&airs, heights.len());
    let pvs = instance_public_values(&wrapped);
    let batch =
        compact_batch(&params, &wrapped, &heights, &pvs).map_err(ProveError::InvalidOptions)?;
    if batch.security_bits < SECURITY_FLOOR_BITS {
        return Err(ProveError::InvalidOptions(format!(
            "a compact parent over children of {child_keys:?} keys is {:.2} bits proven, under \
             the floor of {SECURITY_FLOOR_BITS}",
            batch.security_bits
        )));
    }
    profile("prove compact parent: setup and security", t);
    let t = Instant::now();
    let proof = prove_multilinear(
        "the parent's multilinear prover",
        &params,
        &batch,
        &wrapped,
        traces,
        &pvs,
    )?;
    profile("prove compact parent: multi-stark prove", t);
    Ok((
        CompactParentProof {
            child_preset: preset,
            child_keys,
            whir: *whir,
            proof,
        },
        union,
        batch.security_bits,
    ))
}

/// Proves the multilinear STARK of `airs` on `traces` (instance order) with public values `pvs`
/// under `params` and `batch`'s configuration and proving key: a compact parent's or a Type-2
/// proof's body. A panic inside Plonky3's prover is an error.
///
/// # Errors
/// [`ProveError::Prover`] naming `what`, for a prover failure.
pub(super) fn prove_multilinear(
    what: &str,
    params: &WhirPreset,
    batch: &CompactBatch,
    airs: &[MultilinearAir<'_>],
    traces: Vec<RowMajorMatrix<F>>,
    pvs: &[Vec<F>],
) -> Result<whir::WhirProof, ProveError> {
    use p3_multi_stark::{ProverInstance, ProverInstances};
    use p3_sumcheck::layout::Table;
    use rayon::prelude::*;
    catch_prover(what, || {
        let tables: Vec<Table<F>> = traces
            .into_par_iter()
            .map(|trace| Table::new(trace.transpose()))
            .collect();
        let instances = ProverInstances::new(
            airs.iter()
                .zip(tables)
                .zip(pvs)
                .map(|((air, table), pv)| ProverInstance::new(air, table, &batch.pk, pv))
                .collect(),
        );
        p3_multi_stark::prove(
            &batch.config,
            instances,
            usize::from(params.zerocheck_pow_bits),
            &mut whir::challenger(),
        )
        .map_err(|e| format!("{e:?}"))
    })
    .map_err(ProveError::Prover)
}

/// Runs the multilinear STARK verifier on `proof` for `airs` at heights `2^heights` with public
/// values `pvs`, under `params` and `batch`'s configuration and verifying key, on a rayon pool of
/// one thread ([`crate::aggregate::proof_system::on_one_thread`]); a panic is a rejection.
///
/// # Errors
/// [`VerifyError::Invalid`] with the verifier's message.
pub(super) fn verify_multilinear(
    params: &WhirPreset,
    batch: &CompactBatch,
    airs: &[MultilinearAir<'_>],
    heights: &[usize],
    pvs: &[Vec<F>],
    proof: &whir::WhirProof,
) -> Result<(), VerifyError> {
    use p3_multi_stark::{VerifierInstance, VerifierInstances};
    let airs = replayed(airs);
    catch_verifier(|| {
        crate::aggregate::proof_system::on_one_thread(|| {
            let instances = VerifierInstances::new(
                airs.iter()
                    .zip(heights)
                    .zip(pvs)
                    .map(|((air, &h), pv)| VerifierInstance::new(air, &batch.vk, h, pv))
                    .collect(),
            );
            p3_multi_stark::verify(
                &batch.config,
                instances,
                proof,
                usize::from(params.zerocheck_pow_bits),
                &mut whir::challenger(),
            )
            .map_err(|e| format!("{e}"))
        })
    })
}

/// Soundness in bits of a compact parent over children of `child_keys` keys (each child's, in
/// the list's order) made under `child_preset`, whose union holds `parent_keys` keys, under
/// [`compact_parent_preset`] of `whir` (the exact batch's report; placeholder statement values,
/// on which it does not depend).
///
/// # Errors
/// A message if the shape cannot be derived or the WHIR schedule does not fit it.
pub fn compact_parent_security_bits(
    child_preset: &FriPreset,
    whir: &WhirPreset,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<f64, String> {
    let params = compact_parent_preset(whir);
    let (airs, heights) = compact_parent_batch(&params, child_preset, child_keys, parent_keys)?;
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&airs, heights.len());
    let pvs = instance_public_values(&wrapped);
    Ok(compact_batch(&params, &wrapped, &heights, &pvs)?.security_bits)
}

/// The most bytes a compact parent over children of `child_keys` keys (each child's) under
/// `child_preset`, its set holding `parent_keys` keys, can take under `whir`
/// ([`CompactParentProof::to_bytes`], every Merkle multiproof and reduction at its worst case,
/// `whir::envelope::max_encoded_len`).
///
/// # Errors
/// As [`compact_parent_security_bits`].
pub fn compact_parent_size_bound(
    child_preset: &FriPreset,
    whir: &WhirPreset,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<usize, String> {
    let params = compact_parent_preset(whir);
    let (airs, heights) = compact_parent_batch(&params, child_preset, child_keys, parent_keys)?;
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&airs, heights.len());
    let widths: Vec<usize> = wrapped.iter().map(BaseAir::<F>::width).collect();
    let nv = stacked_variables(&params, &heights, &widths);
    let tables = whir::envelope::table_shapes(&wrapped);
    let reductions = Some(compact_reductions(&wrapped, &heights));
    let bound = whir::envelope::max_encoded_len(&params, nv, &tables, reductions)
        .map_err(|e| e.to_string())?;
    // `max_encoded_len` counts the 16-byte prefix; the header follows it.
    Ok(bound + compact_header_len(child_keys.len()))
}

/// The AIRs of a compact parent over children of `child_keys` keys under `child_preset`, its
/// set holding `parent_keys` keys ([`parent_batch`]), and the log2 heights of the instances its
/// multilinear STARK commits under `params`: the AIRs' and the shared permutation table's
/// pieces ([`shared_table_split`]; the instances past `airs.len()` are more of the table).
///
/// # Errors
/// As [`parent_batch`].
pub(super) fn compact_parent_batch(
    params: &WhirPreset,
    child_preset: &FriPreset,
    child_keys: &[usize],
    parent_keys: usize,
) -> Result<(Vec<VerifierAir>, Vec<usize>), String> {
    let (airs, _, heights, rows) = parent_batch_and_rows(child_preset, child_keys, parent_keys)?;
    let heights = shared_table_split(params, &airs, &heights, rows);
    Ok((airs, heights))
}

/// The round counts of a compact parent's own reductions for `airs` at heights `2^heights`, as
/// p3-multi-stark 0.8 runs them: its LogUp places one block of a table's height per lookup tuple
/// of every AIR that has one, and the fractional GKR has one layer per variable of the padded
/// total; the zerocheck runs one round per variable of the tallest of the traces and that GKR.
/// The compact parent tests hold both to real proofs ([`whir::envelope::reductions_of`]).
pub(super) fn compact_reductions(
    airs: &[MultilinearAir<'_>],
    heights: &[usize],
) -> whir::envelope::Reductions {
    let leaves: usize = airs
        .iter()
        .zip(heights)
        .map(|(air, &h)| {
            let tuples: usize = Lookups::<F>::from_air::<Challenge, _>(air)
                .iter()
                .map(|l| l.elements.len())
                .sum();
            tuples << h
        })
        .sum();
    let gkr_layers = leaves.next_power_of_two().trailing_zeros() as usize;
    whir::envelope::Reductions {
        gkr_layers,
        zerocheck_rounds: heights.iter().copied().max().unwrap_or(0).max(gkr_layers),
    }
}

/// Verifies a compact parent's bytes ([`CompactParentProof::to_bytes`]) for the statement
/// (`message`, `epoch`, `public_keys` in any order): what [`crate::aggregate::verify_aggregate`]
/// runs for a proof of kind [`KIND_COMPACT_PARENT`]. The verifier derives the AIRs and every
/// trace height from the statement and the header as for a FRI parent ([`verify_parent`]), the
/// stacked trace's shape from those, reads the WHIR proof against that shape, refuses a batch
/// under [`SECURITY_FLOOR_BITS`], and runs the multilinear STARK verifier.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode against the statement's shape or are
/// not the one encoding of the proof; [`VerifyError::PresetNotAccepted`] for children's presets
/// that cannot be children or that `opts` refuses, a WHIR preset id that is none of ours, or a
/// batch under the floor; [`VerifyError::Invalid`] for a proof that does not verify.
pub fn verify_compact_parent_bytes(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    open_compact_parent(bytes, message, epoch, public_keys, opts, |o| {
        let t = Instant::now();
        let r = verify_multilinear(o.params, o.batch, o.airs, o.heights, o.pvs, &o.parent.proof);
        profile("verify compact parent: multi-stark verify", t);
        r
    })
}

/// Bytes of each component of a compact parent's WHIR proof
/// ([`CompactParentProof::component_sizes`]), decoded for the statement but not verified.
///
/// # Errors
/// As [`verify_compact_parent_bytes`] before the verifier runs.
pub fn compact_parent_components(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
) -> Result<Vec<(&'static str, usize)>, VerifyError> {
    open_compact_parent(
        bytes,
        message,
        epoch,
        public_keys,
        &VerifyOptions::default(),
        |o| Ok(o.parent.component_sizes()),
    )
}

/// The inputs a compact parent's verifier derives its AIRs, trace heights and batch from before
/// it reads a proof: the children's preset id, their number and size, the epoch's carry
/// threshold ([`super::ood::OodTemplate::carry`]: the children's out-of-domain program), the
/// parent's number of keys and the WHIR preset id. The statement's values are not among them:
/// the parent's key-set digest reaches the batch only as the key-set AIR's public values, which
/// setup and the security report read by count, never by value; the message and the epoch only
/// through each group's [`ObservedAir`] (its schedule's constants, periodic columns), which
/// [`open_compact_parent`] makes for every statement in place of the key's. So the compact
/// parents of one attestation's size, slot after slot, share one key (tested:
/// `compact_parents_of_one_shape_share_one_verifier_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CompactShapeKey {
    child: u8,
    /// Each child's number of keys, in the list's order.
    child_keys: Vec<usize>,
    carry: Option<usize>,
    keys: usize,
    whir: u8,
}

/// What a compact parent's verifier derives for one [`CompactShapeKey`]: the verifier AIRs
/// (as derived for the first statement of the key: the key-set AIR's public values a
/// placeholder, each group's [`ObservedAir`] that statement's), their trace heights (log2), the
/// WHIR parameters and the batch (configuration, keys, proven bits).
struct CompactVerifierKey {
    airs: Vec<VerifierAir>,
    /// Each AIR's next-row columns ([`MultilinearAir::next_columns`]).
    next: Vec<Vec<usize>>,
    /// Each AIR's symbolic pass, replayed into the verifier ([`super::replay`]).
    records: Vec<Arc<SymbolicRecord>>,
    heights: Vec<usize>,
    params: WhirPreset,
    batch: CompactBatch,
}

/// How many [`CompactVerifierKey`]s a process keeps, most recently used first. A client
/// verifies aggregates of the same shape (children's sizes, key count, the epoch's carry
/// threshold) statement after statement, and the same statement's more than once (from gossip,
/// then in a block); the derivation is a fifth to a third of a verification's time (its AIRs,
/// their symbolic passes, setup and the security report).
const CACHED_COMPACT_KEYS: usize = 4;

/// The process's [`CompactVerifierKey`]s.
static COMPACT_KEYS: Kept<CompactShapeKey, std::sync::Arc<CompactVerifierKey>> =
    Kept::new(CACHED_COMPACT_KEYS);

/// Empties the process's compact-parent verifier keys (`COMPACT_KEYS`). For measurements:
/// the next verification derives its key, as the first of its shape in a process does.
pub fn forget_compact_keys() {
    COMPACT_KEYS.clear();
}

/// The [`CompactVerifierKey`] of `shape` (the children made under `preset`, the parent under
/// `whir`) from `kept`, or derived ([`parent_airs`], [`compact_batch`]) for the statement on
/// `message` at `epoch` (an epoch of `shape`'s carry threshold) and kept. A derivation that
/// fails is not kept.
///
/// # Errors
/// [`VerifyError::Malformed`] as [`parent_airs`] and [`compact_batch`].
fn compact_verifier_key(
    kept: &Kept<CompactShapeKey, std::sync::Arc<CompactVerifierKey>>,
    shape: &CompactShapeKey,
    preset: &FriPreset,
    whir: &WhirPreset,
    message: &[u8; 32],
    epoch: u32,
) -> Result<std::sync::Arc<CompactVerifierKey>, VerifyError> {
    kept.get_or_derive(shape.clone(), || {
        let placeholder = statement_values(shape.keys, epoch, message, &[F::ZERO; 9]);
        let groups = child_groups(&shape.child_keys).map_err(VerifyError::Malformed)?;
        let (airs, heights, rows) =
            parent_airs(preset, &groups, message, epoch, shape.keys, placeholder)?;
        let params = compact_parent_preset(whir);
        let heights = shared_table_split(&params, &airs, &heights, rows);
        let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&airs, heights.len());
        let pvs = instance_public_values(&wrapped);
        let batch =
            compact_batch(&params, &wrapped, &heights, &pvs).map_err(VerifyError::Malformed)?;
        let next = wrapped.iter().map(|a| a.next_columns().to_vec()).collect();
        let records = wrapped.iter().map(|a| a.record().clone()).collect();
        drop(wrapped);
        Ok(std::sync::Arc::new(CompactVerifierKey {
            airs,
            next,
            records,
            heights,
            params,
            batch,
        }))
    })
}

/// Each group's [`ObservedAir`] for the statement on `message` at `epoch` (children of
/// `groups`, made under `preset`): the children's shapes ([`group_shapes`], kept shapes
/// restated), in group order.
///
/// # Errors
/// A message if a group's shape cannot be derived.
fn statement_observed(
    preset: &FriPreset,
    groups: &[ChildGroup],
    message: &[u8; 32],
    epoch: u32,
) -> Result<Vec<VerifierAir>, String> {
    let observations = shapes_by_structure(
        groups.len(),
        |i| heights_of(groups[i].keys),
        |i| kept_observations(preset, groups[i].keys, message, epoch, None),
    )?;
    Ok(observations
        .into_iter()
        .enumerate()
        .map(|(g, observations)| {
            VerifierAir::Observed(ObservedAir::new(observations).numbered_from(group_first(g)))
        })
        .collect())
}

/// `airs` ([`grouped_verifier_airs`]) with group `g`'s [`ObservedAir`] replaced by
/// `observed[g]`.
///
/// # Errors
/// [`VerifyError::Malformed`] unless `airs` holds exactly `observed.len()` observation AIRs:
/// none of the key's may stand for the statement's.
fn with_observed<'a>(
    airs: &'a [VerifierAir],
    observed: &'a [VerifierAir],
) -> Result<Vec<&'a VerifierAir>, VerifyError> {
    let mut statement = observed.iter();
    let replaced: Vec<Option<&VerifierAir>> = airs
        .iter()
        .map(|air| match air {
            VerifierAir::Observed(_) => statement.next(),
            air => Some(air),
        })
        .collect();
    match (
        statement.next(),
        replaced.into_iter().collect::<Option<Vec<_>>>(),
    ) {
        (None, Some(airs)) => Ok(airs),
        _ => Err(VerifyError::Malformed(format!(
            "{} groups' observations for a key of another number of groups",
            observed.len()
        ))),
    }
}

/// A decoded compact parent and what its verifier derived, for [`open_compact_parent`]'s
/// continuation.
struct OpenedCompactParent<'a> {
    parent: &'a CompactParentProof,
    params: &'a WhirPreset,
    batch: &'a CompactBatch,
    airs: &'a [MultilinearAir<'a>],
    heights: &'a [usize],
    pvs: &'a [Vec<F>],
}

/// Decodes a compact parent's bytes for the statement and runs `then` on it: the header, the
/// WHIR preset, the children's preset and sizes ([`check_children`]), the shape's verifier key
/// ([`compact_verifier_key`]), the batch's security (refused under the floor), the archive
/// against the stacked trace's shape, canonicity.
///
/// # Errors
/// As [`verify_compact_parent_bytes`] before the verifier runs, then `then`'s.
fn open_compact_parent<R>(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
    opts: &VerifyOptions,
    then: impl FnOnce(OpenedCompactParent<'_>) -> Result<R, VerifyError>,
) -> Result<R, VerifyError> {
    open_compact_parent_kept(
        bytes,
        message,
        epoch,
        public_keys,
        opts,
        &COMPACT_KEYS,
        then,
    )
}

/// [`open_compact_parent`] with the verifier keys kept in `kept`.
fn open_compact_parent_kept<R>(
    bytes: &[u8],
    message: &[u8; 32],
    epoch: u32,
    public_keys: &[PublicKey],
    opts: &VerifyOptions,
    kept: &Kept<CompactShapeKey, std::sync::Arc<CompactVerifierKey>>,
    then: impl FnOnce(OpenedCompactParent<'_>) -> Result<R, VerifyError>,
) -> Result<R, VerifyError> {
    check_key_count(public_keys)?;
    let keys = canonical_key_order(public_keys)?;
    let ParentHeader {
        child,
        child_keys,
        extra,
        body,
    } = read_parent_header(bytes, KIND_COMPACT_PARENT, 1)?;
    let (whir_id, whir) = u8::try_from(extra[0])
        .ok()
        .and_then(|id| Some((id, Preset::from_id(id)?.as_whir()?)))
        .ok_or_else(|| {
            VerifyError::PresetNotAccepted(format!("{} is not a WHIR preset id", extra[0]))
        })?;
    let (preset, groups) = check_children(&child, &child_keys, keys.len(), opts)?;
    let t = Instant::now();
    let shape = CompactShapeKey {
        child: child.id(),
        child_keys: child_keys.clone(),
        carry: super::ood::OodTemplate::carry(epoch),
        keys: keys.len(),
        whir: whir_id,
    };
    let key = compact_verifier_key(kept, &shape, &preset, &whir, message, epoch)?;
    profile("verify compact parent: setup and security", t);
    let (params, batch) = (&key.params, &key.batch);
    if batch.security_bits < SECURITY_FLOOR_BITS {
        return Err(VerifyError::PresetNotAccepted(format!(
            "a compact parent over children of {child_keys:?} keys: {:.2} bits proven, under \
             the floor of {SECURITY_FLOOR_BITS}",
            batch.security_bits
        )));
    }
    // The values of the statement the key leaves out: the key-set AIR's public values, and
    // each group's observations of its children's statement (message, epoch, number of keys).
    let t = Instant::now();
    let statement = statement_values(keys.len(), epoch, message, &key_set_digest_ordered(&keys));
    let observed =
        statement_observed(&preset, &groups, message, epoch).map_err(VerifyError::Malformed)?;
    let airs = with_observed(&key.airs, &observed)?;
    let wrapped: Vec<MultilinearAir<'_>> = multilinear_refs_with(airs, &key.next, &key.records);
    // One entry per instance: the table's pieces past `key.airs.len()` repeat its (empty) values.
    let pvs: Vec<Vec<F>> = wrapped
        .iter()
        .map(|w| match w.air {
            VerifierAir::KeySet(..) => statement.clone(),
            air => air.public_values(),
        })
        .collect();
    profile("verify compact parent: the statement's observations", t);
    let t = Instant::now();
    let proof = whir::envelope::decode_archive(body, params, batch.num_variables)?;
    let parent = CompactParentProof {
        child_preset: preset,
        child_keys,
        whir,
        proof,
    };
    wire::check_canonical(&parent.to_bytes(), bytes)?;
    profile("verify compact parent: decode", t);
    then(OpenedCompactParent {
        parent: &parent,
        params,
        batch,
        airs: &wrapped,
        heights: &key.heights,
        pvs: &pvs,
    })
}

#[cfg(test)]
mod tests {
    //! Real parents over real children: the statement they verify for, and nothing else.

    use super::*;
    use crate::aggregate::recursion::harness::child_proof_of;
    use crate::aggregate::testing::test_signer;
    use crate::aggregate::{Aggregator, ProveOptions};

    const MESSAGE: [u8; 32] = [7; 32];
    const EPOCH: u32 = 11;

    /// An aggregator holding two overlapping children (signers 3, 4 and 4, 5), and the children.
    fn aggregator_over_two_children() -> (Aggregator, ChildProof, ChildProof) {
        let a = child_proof_of(MESSAGE, EPOCH, 3..5);
        let b = child_proof_of(MESSAGE, EPOCH, 4..6);
        let mut agg = Aggregator::new(MESSAGE, EPOCH);
        agg.add_child(&a.0, &a.1).expect("child a");
        agg.add_child(&b.0, &b.1).expect("child b");
        (agg, a, b)
    }

    /// `agg` refuses to prove under `opts` with a byte limit one under `bound`, before proving,
    /// naming the bound.
    fn refused_one_byte_under(agg: &Aggregator, opts: &ProveOptions, bound: usize) {
        let tight = ProveOptions {
            max_proof_bytes: bound - 1,
            ..*opts
        };
        let r = agg.prove(&tight);
        assert!(
            matches!(r, Err(ProveError::ProofTooLarge { bound: b, limit }) if b == bound && limit == bound - 1),
            "{r:?}"
        );
    }

    /// `crate::prepare` makes the shared permutation table's multilinear pass under the FRI
    /// presets (Keccak and Poseidon1), whose proofs can be children or are a client's, and not
    /// under WHIR. Each case runs in a fresh process (this test binary again, on
    /// [`fresh_process_prepare`] alone), where nothing else has made the pass.
    #[test]
    fn prepare_makes_the_shared_table_pass_under_the_fri_presets() {
        let exe = std::env::current_exe().expect("the test binary");
        for backend in ["fri", "fri-poseidon1", "whir"] {
            let out = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "aggregate::recursion::parent::tests::fresh_process_prepare",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env("MSIG_FRESH_PREPARE", backend)
                .output()
                .expect("the test binary runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{backend}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// The fresh process of [`prepare_makes_the_shared_table_pass_under_the_fri_presets`]:
    /// `MSIG_FRESH_PREPARE` names the backend to prepare. Without it (a run of the ignored tests)
    /// there is nothing to check.
    #[test]
    #[ignore = "run by prepare_makes_the_shared_table_pass_under_the_fri_presets in a process of its own"]
    fn fresh_process_prepare() {
        use crate::aggregate::Backend;
        let Ok(backend) = std::env::var("MSIG_FRESH_PREPARE") else {
            return;
        };
        let backend = match backend.as_str() {
            "fri" => Backend::Fri,
            "fri-poseidon1" => Backend::FriPoseidon1,
            "whir" => Backend::Whir,
            other => panic!("backend {other}"),
        };
        assert!(!shared_table_prepared(), "made before prepare");
        crate::aggregate::prepare(&ProveOptions {
            backend,
            ..Default::default()
        })
        .expect("prepare");
        assert_eq!(shared_table_prepared(), backend != Backend::Whir);
        if backend != Backend::Whir {
            // A batch's table then takes the prepared pass, not one of its own.
            let (_, prepared) = SHARED_TABLE_PASS.get().expect("prepared");
            let table = [VerifierAir::Perm(Perm24TableAir::shared())];
            let wrapped = multilinear_airs(&table);
            assert!(Arc::ptr_eq(&wrapped[0].record, prepared));
        }
    }

    /// The default recursion-ready preset, the one children are made under here.
    fn default_child_preset() -> FriPreset {
        let opts = ProveOptions {
            backend: crate::aggregate::Backend::FriPoseidon1,
            ..Default::default()
        };
        *check_child_preset(&Preset::from_options(&opts).unwrap()).unwrap()
    }

    /// A kept shape restated to another statement (message, epoch of the same carry threshold,
    /// digest, known or not, number of keys of the same heights) is, field by field, the shape
    /// derived for that statement; its
    /// observations differ from the kept one's (the statement enters them); a statement of
    /// another carry, or the digest known where the shape has it unknown (or the reverse), is
    /// refused.
    #[test]
    fn a_restated_shape_is_the_shape_derived_for_its_statement() {
        let preset = default_child_preset();
        let digest = |seed: u32| -> [F; KEY_DIGEST_LEN] {
            core::array::from_fn(|i| F::from_u32(seed * 100 + i as u32))
        };
        let statement = |n: usize, message: [u8; 32], epoch: u32, digest| ChildStatement {
            instance: 0,
            num_keys: n,
            epoch,
            message,
            digest,
        };
        let carrying = (1u32 << 20..)
            .find(|&e| super::super::ood::OodTemplate::carry(e).is_some())
            .expect("an epoch whose tweak table carries");
        for n in [1, 3] {
            for known in [false, true] {
                let d = |seed| known.then(|| digest(seed));
                let kept = derive_child_shape(&preset, n, &[1; 32], 5, d(1)).expect("a shape");
                for (message, epoch) in [([2; 32], 6), ([0xff; 32], 0x5555_5555), ([0; 32], 0)] {
                    assert_eq!(super::super::ood::OodTemplate::carry(epoch), kept.carry);
                    let fresh =
                        derive_child_shape(&preset, n, &message, epoch, d(2)).expect("a shape");
                    let restated = kept
                        .restated(&statement(n, message, epoch, d(2)))
                        .expect("restated");
                    assert_eq!(
                        format!("{restated:?}"),
                        format!("{fresh:?}"),
                        "{n} keys, digest known {known}, epoch {epoch}"
                    );
                    assert_ne!(restated.observations, kept.observations);
                    assert_ne!(restated.ood_params, kept.ood_params);
                    // The observations alone, as a verifier with a kept batch makes them.
                    let observations = kept
                        .restated_observations(&statement(n, message, epoch, d(2)))
                        .expect("restated observations");
                    assert_eq!(observations, fresh.observations, "{n} keys, epoch {epoch}");
                }
                for refused in [
                    statement(n, [1; 32], carrying, d(1)),
                    statement(n, [1; 32], 5, (!known).then(|| digest(1))),
                ] {
                    let other = kept.restated(&refused);
                    assert!(other.is_err(), "{refused:?}: {:?}", other.map(|_| ()));
                    let other = kept.restated_observations(&refused);
                    assert!(other.is_err(), "{refused:?}: {:?}", other.map(|_| ()));
                }
            }
        }
        // Another number of keys of the same heights (3 and 4 keys): the derived shape of 4.
        assert_eq!(heights_of(3), heights_of(4));
        let kept = derive_child_shape(&preset, 3, &[1; 32], 5, Some(digest(1))).expect("a shape");
        let fresh = derive_child_shape(&preset, 4, &[2; 32], 6, Some(digest(2))).expect("a shape");
        let restated = kept
            .restated(&statement(4, [2; 32], 6, Some(digest(2))))
            .expect("restated");
        assert_eq!(format!("{restated:?}"), format!("{fresh:?}"));
        // The cache restates: the same key's shapes, each its own statement's.
        let a = child_shape(&preset, 2, &[3; 32], 7).expect("a shape");
        let b = child_shape(&preset, 2, &[4; 32], 8).expect("a shape");
        let fresh = derive_child_shape(&preset, 2, &[4; 32], 8, None).expect("a shape");
        assert_eq!(format!("{b:?}"), format!("{fresh:?}"));
        assert_ne!(a.observations, b.observations);
    }

    #[test]
    fn shapes_by_structure_shapes_one_of_each_structure_before_the_others() {
        let preset = default_child_preset();
        // Real shapes of three bands (1, 2 and 3 keys have three different trace heights).
        let real: Vec<ChildShape> = (1..=3)
            .map(|n| child_shape(&preset, n, &[9; 32], 4).expect("a shape"))
            .collect();
        assert_ne!(heights_of(1), heights_of(2));
        assert_ne!(heights_of(2), heights_of(3));
        // Six places of three structures, the firsts at 0, 1 and 5.
        let structure = [0usize, 1, 0, 0, 1, 2];
        let calls = std::sync::Mutex::new(Vec::new());
        let shapes = shapes_by_structure(
            structure.len(),
            |i| structure[i],
            |i| {
                calls.lock().expect("no panic while held").push(i);
                Ok(real[structure[i]].clone())
            },
        )
        .expect("shapes");
        let calls = calls.into_inner().expect("no panic while held");
        let at = |i: usize| calls.iter().position(|&c| c == i).expect("called");
        for first in [0, 1, 5] {
            for other in [2, 3, 4] {
                assert!(at(first) < at(other), "{first} before {other}: {calls:?}");
            }
        }
        let mut sorted = calls.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..structure.len()).collect::<Vec<_>>(),
            "each once"
        );
        // Each place's shape, in place order.
        for (i, shape) in shapes.iter().enumerate() {
            assert_eq!(
                format!("{shape:?}"),
                format!("{:?}", real[structure[i]]),
                "{i}"
            );
        }
        // An error of a first or of a restated place is the result.
        for failing in [1, 4] {
            let failed = shapes_by_structure(
                structure.len(),
                |i| structure[i],
                |i| {
                    if i == failing {
                        Err(format!("place {i}"))
                    } else {
                        Ok(real[structure[i]].clone())
                    }
                },
            );
            assert_eq!(failed.err(), Some(format!("place {failing}")));
        }
    }

    /// The WHIR preset of `log_inv_rate`.
    fn whir_preset(log_inv_rate: u8) -> WhirPreset {
        let opts = ProveOptions {
            backend: crate::aggregate::Backend::Whir,
            log_inv_rate,
            ..Default::default()
        };
        match Preset::from_options(&opts) {
            Ok(Preset::Whir(w)) => w,
            p => panic!("no WHIR preset at log_inv_rate {log_inv_rate}: {p:?}"),
        }
    }

    /// A child's bytes and keys.
    type ChildProof = (Vec<u8>, Vec<PublicKey>);

    /// The sorted union of two key lists.
    fn union_of(a: &[PublicKey], b: &[PublicKey]) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = a.iter().chain(b).copied().collect();
        keys.sort_unstable_by_key(PublicKey::to_ssz);
        keys.dedup();
        keys
    }

    /// What both kinds of parent bytes over two children of two keys pass: they verify for
    /// `keys` (their union) in any order and not for another message, epoch, the union less a
    /// key or plus one; refused with an error are truncations (through the header, which ends
    /// at byte 32), a trailing byte, kinds 0 and 7, a header with no child, 2^32 - 1 or 3
    /// children or a child's size changed, another children's preset (the next rate, or
    /// Keccak), and 16 flips through the archive from `archive_at`.
    fn check_parent_statement_and_bytes(bytes: &[u8], keys: &[PublicKey], archive_at: usize) {
        let verify = |b: &[u8], m: &[u8; 32], e: u32, k: &[PublicKey]| {
            crate::aggregate::verify_aggregate(b, k, m, e, &VerifyOptions::default())
        };
        verify(bytes, &MESSAGE, EPOCH, keys).expect("the parent's bytes verify");
        let reversed: Vec<PublicKey> = keys.iter().rev().copied().collect();
        verify(bytes, &MESSAGE, EPOCH, &reversed).expect("in any order");
        let mut other = MESSAGE;
        other[3] ^= 4;
        let r = verify(bytes, &other, EPOCH, keys);
        assert!(matches!(r, Err(VerifyError::Invalid(_))), "{r:?}");
        let r = verify(bytes, &MESSAGE, EPOCH ^ 1, keys);
        assert!(matches!(r, Err(VerifyError::Invalid(_))), "{r:?}");
        assert!(verify(bytes, &MESSAGE, EPOCH, &keys[1..]).is_err());
        let mut more = keys.to_vec();
        more.push(test_signer(9, &MESSAGE, EPOCH).0);
        assert!(verify(bytes, &MESSAGE, EPOCH, &more).is_err());
        // As many keys, one swapped for another: the shape a verifier may have derived already.
        let mut swapped = keys.to_vec();
        swapped[0] = test_signer(9, &MESSAGE, EPOCH).0;
        let r = verify(bytes, &MESSAGE, EPOCH, &swapped);
        assert!(matches!(r, Err(VerifyError::Invalid(_))), "{r:?}");
        verify(bytes, &MESSAGE, EPOCH, keys).expect("and the parent's own keys again");

        let malformed = |b: &[u8], what: &str| {
            let r = verify(b, &MESSAGE, EPOCH, keys);
            assert!(matches!(r, Err(VerifyError::Malformed(_))), "{what}: {r:?}");
        };
        let edited = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = bytes.to_vec();
            f(&mut b);
            b
        };
        let cuts = [
            0,
            11,
            16,
            19,
            20,
            27,
            28,
            32,
            bytes.len() / 2,
            bytes.len() - 1,
        ];
        for cut in cuts {
            malformed(&bytes[..cut], &format!("cut at {cut}"));
        }
        malformed(&edited(&|b| b.push(0)), "a trailing byte");
        malformed(&edited(&|b| b[11] = 0), "kind 0");
        malformed(&edited(&|b| b[11] = 7), "kind 7");
        let word =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        malformed(&edited(&|b| word(b, 16, 0)), "no child");
        malformed(&edited(&|b| word(b, 16, u32::MAX)), "2^32 - 1 children");
        assert!(verify(&edited(&|b| word(b, 16, 3)), &MESSAGE, EPOCH, keys).is_err());
        assert!(verify(&edited(&|b| word(b, 20, 3)), &MESSAGE, EPOCH, keys).is_err());
        assert!(verify(&edited(&|b| word(b, 24, 1)), &MESSAGE, EPOCH, keys).is_err());
        assert!(verify(&edited(&|b| b[10] += 1), &MESSAGE, EPOCH, keys).is_err());
        let r = verify(&edited(&|b| b[10] = 2), &MESSAGE, EPOCH, keys);
        assert!(matches!(r, Err(VerifyError::PresetNotAccepted(_))), "{r:?}");
        for at in (archive_at..bytes.len()).step_by(bytes.len() / 16) {
            let r = verify(&edited(&|b| b[at] ^= 0x10), &MESSAGE, EPOCH, keys);
            assert!(r.is_err(), "a flip at {at} verified");
        }
    }

    /// A parent over two overlapping children (signers 3, 4 and 4, 5) verifies for the union
    /// of their keys in any order, and for no other message, epoch or key set; a proof whose
    /// children's sizes are not the ones it was made for is refused.
    /// An AIR whose constraints read columns 1 and 4 on the next row, the latter only inside a
    /// product, and whose bus message reads column 2's successor in a field and column 0's in
    /// its count.
    struct SuccessorProbe;

    impl BaseAir<F> for SuccessorProbe {
        fn width(&self) -> usize {
            6
        }
    }

    impl<AB: AirBuilder<F = F> + InteractionBuilder> Air<AB> for SuccessorProbe {
        fn eval(&self, builder: &mut AB) {
            use p3_air::WindowAccess;
            use p3_lookup::{Count, PermutationCheckBus};
            let main = builder.main();
            let row: Vec<AB::Var> = main.current_slice().to_vec();
            let next: Vec<AB::Var> = main.next_slice().to_vec();
            builder.when_transition().assert_eq(next[1], row[3]);
            builder.assert_zero(row[5] * (next[4] + row[1]));
            PermutationCheckBus::new("successor probe").send(
                builder,
                vec![row[3].into(), next[2].into()],
                Count::bounded(next[0].into(), 1),
            );
        }
    }

    /// The next-row columns the multilinear STARK opens are exactly the ones read: through a
    /// constraint, a product, a bus field and a bus count, and none of a current-row-only
    /// column; the wrappers of a real compact parent's batch declare a proper subset of each
    /// verifier AIR's columns (every one of them has transition constraints) and none of the
    /// permutation table's; their setup accepts the lists (p3-multi-stark refuses an AIR that
    /// reads an undeclared successor).
    #[test]
    fn the_multilinear_view_opens_exactly_the_next_row_columns_read() {
        assert_eq!(next_row_columns_read(&SuccessorProbe), vec![0, 1, 2, 4]);
        let (airs, _, heights) =
            parent_batch(&default_child_preset(), &[2, 2], 4).expect("a parent's batch");
        let wrapped = multilinear_airs(&airs);
        for w in &wrapped {
            let width = BaseAir::<F>::width(w);
            let next = w.next_columns();
            assert!(next.windows(2).all(|p| p[0] < p[1]), "{}", w.air.name());
            assert!(next.iter().all(|&c| c < width), "{}", w.air.name());
            match w.air {
                VerifierAir::Perm(_) => assert!(next.is_empty()),
                air => assert!(
                    !next.is_empty() && next.len() < width,
                    "{}: {} of {width}",
                    air.name(),
                    next.len()
                ),
            }
        }
        let pvs: Vec<Vec<F>> = airs.iter().map(VerifierAir::public_values).collect();
        let params = compact_parent_preset(&whir_preset(1));
        compact_batch(&params, &wrapped, &heights, &pvs).expect("setup takes the lists");
    }

    #[test]
    fn a_parent_verifies_for_its_statement_and_no_other() {
        let a = child_proof_of(MESSAGE, EPOCH, 3..5);
        let b = child_proof_of(MESSAGE, EPOCH, 4..6);
        let (proof, keys) =
            prove_parent(&MESSAGE, EPOCH, &[(&a.0, &a.1), (&b.0, &b.1)]).expect("the parent");
        assert_eq!(keys.len(), 3, "the union of 3, 4 and 4, 5");
        for k in a.1.iter().chain(&b.1) {
            assert!(keys.contains(k));
        }
        assert_eq!(proof.child_keys, [2, 2]);
        verifies_for_its_statement_only(&proof, &keys);

        // Children's sizes other than the proof's: other shapes, so other heights or AIRs.
        let mut resized = proof;
        for sizes in [vec![1, 1], vec![2, 3], vec![2], vec![2, 2, 2], vec![]] {
            resized.child_keys = sizes.clone();
            let r = verify_parent(&resized, &MESSAGE, EPOCH, &keys);
            assert!(r.is_err(), "children of {sizes:?}");
        }
        resized.child_keys = vec![2, 2];
        verify_parent(&resized, &MESSAGE, EPOCH, &keys).expect("the sizes restored");

        // A children's preset that is none of ours (less grinding), or one that cannot be a
        // child: refused before the proof is read.
        let honest = resized.child_preset;
        resized.child_preset.query_pow_bits = 0;
        let r = verify_parent(&resized, &MESSAGE, EPOCH, &keys);
        assert!(matches!(r, Err(VerifyError::PresetNotAccepted(_))), "{r:?}");
        let Preset::Fri(keccak) = Preset::default_preset() else {
            panic!("the default is FRI")
        };
        resized.child_preset = keccak;
        let r = verify_parent(&resized, &MESSAGE, EPOCH, &keys);
        assert!(matches!(r, Err(VerifyError::PresetNotAccepted(_))), "{r:?}");
        resized.child_preset = honest;
        verify_parent(&resized, &MESSAGE, EPOCH, &keys).expect("the preset restored");
    }

    /// A parent made through the [`Aggregator`] (children added with their keys) is bytes that
    /// [`crate::aggregate::verify_aggregate`] verifies for the union of the children's keys and
    /// no other statement; the byte limit is enforced before proving; every kind of hostile
    /// byte string is refused with an error; the aggregator refuses what it cannot take, and
    /// proves raw signatures added beside a child as one more child.
    #[test]
    fn a_parent_through_the_aggregator_is_bytes_verify_aggregate_takes() {
        use crate::aggregate::{proof_components, verify_aggregate, AggregateError, Backend};
        let (agg, a, b) = aggregator_over_two_children();
        assert_eq!(agg.num_children(), 2);
        let opts = ProveOptions {
            backend: Backend::FriPoseidon1,
            ..Default::default()
        };
        let child = *check_child_preset(&Preset::from_options(&opts).unwrap()).unwrap();
        let bound = parent_size_bound(&child, &[2, 2], 3).expect("a bound");
        refused_one_byte_under(&agg, &opts, bound);
        let opts = ProveOptions {
            max_proof_bytes: bound,
            ..opts
        };
        let proof = agg.prove(&opts).expect("the parent");
        let bytes = proof.as_bytes();
        assert!(bytes.len() <= bound);
        assert_eq!(wire::proof_kind(bytes), Some(KIND_PARENT));

        let keys = union_of(&a.1, &b.1);
        check_parent_statement_and_bytes(bytes, &keys, 32);
        let verify = |b: &[u8], m: &[u8; 32], e: u32, k: &[PublicKey]| {
            verify_aggregate(b, k, m, e, &VerifyOptions::default())
        };
        let mut other = MESSAGE;
        other[3] ^= 4;

        // One encoding: decoding and encoding again gives the same bytes; the components are
        // the archive's.
        let (decoded, _) =
            decode_parent(bytes, &MESSAGE, EPOCH, &keys, &VerifyOptions::default()).unwrap();
        assert_eq!(decoded.to_bytes(), bytes);
        assert_eq!(decoded.child_keys, [2, 2]);
        let parts = proof_components(bytes, &keys, &MESSAGE, EPOCH).unwrap();
        assert_eq!(parts, decoded.component_sizes());
        assert!(parts.iter().map(|p| p.1).sum::<usize>() < bytes.len());

        // The header's padding (bytes 28 to 31 for two children) not zero.
        let mut padded = bytes.to_vec();
        padded[31] = 1;
        let r = verify(&padded, &MESSAGE, EPOCH, &keys);
        assert!(matches!(r, Err(VerifyError::Malformed(_))), "{r:?}");

        // What the aggregator refuses.
        let child = |agg: &mut Aggregator, proof: &[u8], keys: &[PublicKey]| {
            let r = agg.add_child(proof, keys);
            assert!(matches!(r, Err(AggregateError::InvalidChild(_))), "{r:?}");
        };
        let mut fresh = Aggregator::new(MESSAGE, EPOCH);
        child(&mut fresh, bytes, &keys);
        child(&mut fresh, &a.0, &b.1);
        child(&mut Aggregator::new(other, EPOCH), &a.0, &a.1);
        let mut keccak = Aggregator::new(MESSAGE, EPOCH);
        for s in 3..5 {
            let (pk, sig) = test_signer(s, &MESSAGE, EPOCH);
            keccak.add(pk, sig).unwrap();
        }
        let keccak = keccak.prove(&ProveOptions::default()).unwrap();
        child(&mut fresh, keccak.as_bytes(), &a.1);
        assert_eq!(fresh.num_children(), 0);
        // Options naming another preset than the children's.
        fresh.add_child(&a.0, &a.1).unwrap();
        let r = fresh.prove(&ProveOptions::default());
        assert!(matches!(r, Err(ProveError::InvalidOptions(_))), "{r:?}");
        // A raw signature beside the child (signer 7, and signer 4, which the child holds too):
        // proved as one more child of 2 keys first, then a compact parent over both, for the
        // union of 3, 4 and 7 only.
        for s in [7, 4] {
            let (pk, sig) = test_signer(s, &MESSAGE, EPOCH);
            fresh.add(pk, sig).unwrap();
        }
        let whir = ProveOptions {
            backend: Backend::Whir,
            ..Default::default()
        };
        let mixed = fresh
            .prove(&whir)
            .expect("a parent over a child and raw signatures");
        let mixed = mixed.as_bytes();
        assert_eq!(wire::proof_kind(mixed), Some(KIND_COMPACT_PARENT));
        let mut all = a.1.clone();
        all.push(test_signer(7, &MESSAGE, EPOCH).0);
        verify(mixed, &MESSAGE, EPOCH, &all).expect("the union of the child and the signatures");
        assert!(
            verify(mixed, &MESSAGE, EPOCH, &a.1).is_err(),
            "without the raw signer"
        );
        let mut extra = all.clone();
        extra.push(test_signer(8, &MESSAGE, EPOCH).0);
        assert!(
            verify(mixed, &MESSAGE, EPOCH, &extra).is_err(),
            "a key nobody signed with"
        );
        assert!(
            verify(mixed, &other, EPOCH, &all).is_err(),
            "another message"
        );
    }

    /// A compact parent (WHIR) over two overlapping children, through the aggregator under the
    /// default byte limit: its bytes fit the 512 KiB cap, verify for the union in any order and
    /// for no other message, epoch or key set; hostile bytes are refused with an error; it
    /// cannot be a child.
    #[test]
    fn a_compact_parent_fits_the_cap_and_verifies_for_its_statement_and_no_other() {
        use crate::aggregate::{proof_components, verify_aggregate, AggregateError, Backend};
        let (agg, a, b) = aggregator_over_two_children();
        let opts = ProveOptions {
            backend: Backend::Whir,
            ..Default::default()
        };
        let Ok(Preset::Whir(whir)) = Preset::from_options(&opts) else {
            panic!("the default WHIR preset")
        };
        let child = *check_child_preset(&Preset::from_id(a.0[10]).unwrap()).unwrap();
        let bound = compact_parent_size_bound(&child, &whir, &[2, 2], 3).expect("a bound");
        assert!(bound <= opts.byte_limit(), "bound {bound}");
        let bits = compact_parent_security_bits(&child, &whir, &[2, 2], 3).expect("bits");
        assert!(bits >= SECURITY_FLOOR_BITS, "{bits}");
        // The rate named: refused one byte under its worst case.
        let named = ProveOptions {
            log_inv_rate: whir.log_inv_rate,
            ..opts
        };
        refused_one_byte_under(&agg, &named, bound);
        // The rate left to the prover (`log_inv_rate: 0`): one byte under rate 1/2's worst case
        // it proves at rate 1/4 within the limit, and under rate 1/4's it refuses with that bound.
        let quarter = whir_preset(2);
        let quarter_bound = compact_parent_size_bound(&child, &quarter, &[2, 2], 3).unwrap();
        assert!(quarter_bound < bound);
        let tight = ProveOptions {
            max_proof_bytes: bound - 1,
            ..opts
        };
        let small = agg.prove(&tight).expect("a compact parent at rate 1/4");
        let small = small.as_bytes();
        assert!(small.len() <= quarter_bound, "{}", small.len());
        assert_eq!(small[28..32], u32::from(quarter.id()).to_le_bytes());
        verify_aggregate(
            small,
            &union_of(&a.1, &b.1),
            &MESSAGE,
            EPOCH,
            &Default::default(),
        )
        .expect("the rate-1/4 parent verifies");
        refused_one_byte_under(&agg, &opts, quarter_bound);
        let proof = agg.prove(&opts).expect("the compact parent");
        assert_eq!(proof.as_bytes()[28..32], u32::from(whir.id()).to_le_bytes());
        let bytes = proof.as_bytes();
        assert!(
            bytes.len() <= bound && bytes.len() <= 512 * 1024,
            "{}",
            bytes.len()
        );
        assert_eq!(wire::proof_kind(bytes), Some(KIND_COMPACT_PARENT));
        // The bound's round counts are the real proof's.
        let params = compact_parent_preset(&whir);
        let (airs, heights) = compact_parent_batch(&params, &child, &[2, 2], 3).unwrap();
        let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&airs, heights.len());
        let widths: Vec<usize> = wrapped.iter().map(BaseAir::<F>::width).collect();
        let nv = stacked_variables(&params, &heights, &widths);
        let real = whir::envelope::reductions_of(&bytes[32..], &params, nv).unwrap();
        assert_eq!(real, compact_reductions(&wrapped, &heights));

        let keys = union_of(&a.1, &b.1);
        check_parent_statement_and_bytes(bytes, &keys, 32);
        let verify = |b: &[u8], k: &[PublicKey]| {
            verify_aggregate(b, k, &MESSAGE, EPOCH, &VerifyOptions::default())
        };
        let mut repeated = keys.clone();
        repeated[2] = repeated[0];
        assert!(verify(bytes, &repeated).is_err());
        let parts = proof_components(bytes, &keys, &MESSAGE, EPOCH).unwrap();
        assert!(parts.iter().map(|p| p.1).sum::<usize>() < bytes.len());

        // What only a compact parent's bytes have: kind 2, not 1, and the WHIR preset id at
        // byte 28 (the other WHIR preset; a FRI preset or out of range). Two children leave no
        // padding: the header is 16 bytes.
        let edited = |at: usize, v: &[u8]| {
            let mut b = bytes.to_vec();
            b[at..at + v.len()].copy_from_slice(v);
            b
        };
        assert!(verify(&edited(11, &[KIND_PARENT]), &keys).is_err());
        let other_whir: u32 = if whir.id() == 8 { 9 } else { 8 };
        assert!(verify(&edited(28, &other_whir.to_le_bytes()), &keys).is_err());
        for id in [0u32, 10, 14, 256, u32::MAX] {
            let r = verify(&edited(28, &id.to_le_bytes()), &keys);
            assert!(
                matches!(r, Err(VerifyError::PresetNotAccepted(_))),
                "id {id}: {r:?}"
            );
        }

        // A compact parent is not a child.
        let mut fresh = Aggregator::new(MESSAGE, EPOCH);
        let r = fresh.add_child(bytes, &keys);
        assert!(matches!(r, Err(AggregateError::InvalidChild(_))), "{r:?}");
        assert_eq!(fresh.num_children(), 0);
    }

    /// Compact parents of one shape on different statements (children of 2 and 2 keys, a
    /// parent of 3, on two messages at two epochs of one carry threshold) share one verifier
    /// key: a verifier that kept the first statement's derives nothing for the second. What
    /// it kept, with the second statement's observation AIRs, is the batch derived for that
    /// statement (widths, next-row columns, periodic columns, public values, heights, and the
    /// kept symbolic passes replay exactly what its AIRs emit), and it verifies the second's
    /// real proof for its statement and for no other message, epoch or key set, nor the first
    /// proof for the second statement.
    #[test]
    fn compact_parents_of_one_shape_share_one_verifier_key() {
        use crate::aggregate::recursion::replay::tests::kept_key_replays_the_statements_batch;
        use crate::aggregate::Backend;
        const OTHER: [u8; 32] = [0x5a; 32];
        let epoch2 = EPOCH + 5;
        assert_eq!(
            super::super::ood::OodTemplate::carry(EPOCH),
            super::super::ood::OodTemplate::carry(epoch2)
        );
        let opts = ProveOptions {
            backend: Backend::Whir,
            ..Default::default()
        };
        let (agg, a, b) = aggregator_over_two_children();
        let first = agg.prove(&opts).expect("the first compact parent");
        let (c, d) = (
            child_proof_of(OTHER, epoch2, 9..11),
            child_proof_of(OTHER, epoch2, 10..12),
        );
        let mut agg2 = Aggregator::new(OTHER, epoch2);
        agg2.add_child(&c.0, &c.1).expect("child c");
        agg2.add_child(&d.0, &d.1).expect("child d");
        let second = agg2.prove(&opts).expect("the second compact parent");
        let (keys1, keys2) = (union_of(&a.1, &b.1), union_of(&c.1, &d.1));

        let kept = Kept::new(CACHED_COMPACT_KEYS);
        let vopts = VerifyOptions::default();
        let verify = |bytes: &[u8], m: &[u8; 32], e: u32, k: &[PublicKey]| {
            open_compact_parent_kept(bytes, m, e, k, &vopts, &kept, |o| {
                verify_multilinear(o.params, o.batch, o.airs, o.heights, o.pvs, &o.parent.proof)
            })
        };
        verify(first.as_bytes(), &MESSAGE, EPOCH, &keys1).expect("the first statement");
        assert_eq!(kept.len(), 1);
        verify(second.as_bytes(), &OTHER, epoch2, &keys2).expect("the second statement");
        assert_eq!(kept.len(), 1, "the second statement's key is the first's");
        let refused = |bytes: &[u8], m: &[u8; 32], e: u32, k: &[PublicKey]| {
            matches!(verify(bytes, m, e, k), Err(VerifyError::Invalid(_)))
        };
        let second = second.as_bytes();
        assert!(refused(second, &MESSAGE, epoch2, &keys2), "another message");
        assert!(refused(second, &OTHER, epoch2 + 1, &keys2), "another epoch");
        let mut swapped = keys2.clone();
        swapped[1] = keys1[1];
        assert!(refused(second, &OTHER, epoch2, &swapped), "another key");
        assert!(
            refused(first.as_bytes(), &OTHER, epoch2, &keys2),
            "the first proof for the second statement"
        );
        assert!(
            refused(second, &MESSAGE, EPOCH, &keys1),
            "the second proof for the first statement"
        );
        assert_eq!(kept.len(), 1, "one key throughout");

        // Through the AIRs: the kept key with the second statement's observations against the
        // batch derived for the second statement.
        let child = default_child_preset();
        let whir = opts_whir(&opts);
        let (_, groups) = check_children(&Preset::Fri(child), &[2, 2], 3, &vopts).unwrap();
        let shape = CompactShapeKey {
            child: child.id(),
            child_keys: vec![2, 2],
            carry: super::super::ood::OodTemplate::carry(EPOCH),
            keys: 3,
            whir: whir.id(),
        };
        let key = compact_verifier_key(&kept, &shape, &child, &whir, &MESSAGE, EPOCH).unwrap();
        let observed = statement_observed(&child, &groups, &OTHER, epoch2).unwrap();
        let mut airs = with_observed(&key.airs, &observed).unwrap();
        // The key-set AIR's public values are the statement's (the verifier hands them to the
        // multilinear verifier in place of the key's placeholder).
        let placeholder = statement_values(3, epoch2, &OTHER, &[F::ZERO; 9]);
        let key_set = VerifierAir::KeySet(KeySetAir, placeholder.clone());
        let at = airs
            .iter()
            .position(|a| matches!(a, VerifierAir::KeySet(..)))
            .unwrap();
        airs[at] = &key_set;
        let kept_airs = multilinear_refs_with(airs, &key.next, &key.records);
        let (fresh, heights, rows) =
            parent_airs(&child, &groups, &OTHER, epoch2, 3, placeholder).unwrap();
        assert_eq!(
            shared_table_split(&key.params, &fresh, &heights, rows),
            key.heights
        );
        let fresh = multilinear_instances(&fresh, key.heights.len());
        assert_eq!(
            kept_key_replays_the_statements_batch(&fresh, &kept_airs, &key.airs),
            groups.len(),
            "each group's observations are the statement's"
        );
        assert!(with_observed(&key.airs, &observed[1..]).is_err());
    }

    /// The WHIR preset `opts` names.
    fn opts_whir(opts: &ProveOptions) -> WhirPreset {
        match Preset::from_options(opts) {
            Ok(Preset::Whir(w)) => w,
            p => panic!("not a WHIR preset: {p:?}"),
        }
    }

    /// A compact parent whose header names a shape under the floor at its WHIR preset (64
    /// children of the same 256 keys at rate 1/2) is refused by the verifier before the body
    /// is read (the body here is not a proof at all).
    #[test]
    fn a_compact_parent_under_the_floor_is_refused_before_its_body_is_read() {
        let child = default_child_preset();
        let whir = whir_preset(1);
        // Children that all hold the same 256 keys: the union is 256 keys.
        let (k, n) = (MAX_CHILDREN, 256);
        let bits = compact_parent_security_bits(&child, &whir, &vec![n; k], n).unwrap();
        assert!(bits < SECURITY_FLOOR_BITS, "{bits}");
        let keys = placeholder_keys(n);
        let mut payload = parent_header(&vec![n; k], &[usize::from(whir.id())]);
        payload.extend_from_slice(&[0u8; 64]);
        let bytes = wire::with_prefix_of_kind(child.id(), KIND_COMPACT_PARENT, &payload);
        let r =
            verify_compact_parent_bytes(&bytes, &MESSAGE, EPOCH, &keys, &VerifyOptions::default());
        assert!(
            matches!(&r, Err(VerifyError::PresetNotAccepted(e)) if e.contains("under the floor")),
            "{r:?}"
        );
    }

    /// Compact parents of the shapes the issue measures reach the floor under both WHIR presets
    /// (the tallest batches are the weakest), and at rate 1/4 (preset 9) their worst case fits
    /// the 512 KiB wire cap up to two children of 775 keys and four of 1,024.
    #[test]
    fn compact_parent_shapes_reach_the_floor_and_their_worst_case_fits_the_cap() {
        let child = default_child_preset();
        for rate in [1, 2] {
            let whir = whir_preset(rate);
            for (k, n) in [(1, 1), (2, 2), (2, 775), (4, 1024), (16, 256), (16, 1024)] {
                let bits = compact_parent_security_bits(&child, &whir, &vec![n; k], k * n).unwrap();
                assert!(
                    bits >= SECURITY_FLOOR_BITS,
                    "rate {rate}, {k} children of {n}: {bits}"
                );
                let bound = compact_parent_size_bound(&child, &whir, &vec![n; k], k * n).unwrap();
                eprintln!(
                    "rate 1/{}, {k} x {n}: {bits:.2} bits, at most {bound} bytes",
                    1 << rate
                );
                // Rate 1/4's worst case fits the cap for every shape here, rate 1/2's up to
                // the bar's two children of 775 keys.
                if rate == 2 || k * n <= 2 * 775 {
                    assert!(bound <= 512 * 1024, "{k} children of {n}: {bound} bytes");
                }
            }
        }
    }

    /// The parent's preset reaches the floor on every parent of up to [`MAX_CHILDREN`]
    /// children of any size (the tallest batches are the weakest), and the children's preset
    /// alone would not.
    #[test]
    fn every_parent_shape_reaches_the_floor() {
        let child = *check_child_preset(
            &crate::aggregate::Preset::from_options(&ProveOptions {
                backend: crate::aggregate::Backend::FriPoseidon1,
                ..Default::default()
            })
            .expect("the recursion-ready default"),
        )
        .expect("a child's preset");
        let mut weakest = f64::MAX;
        for n in [1, 775, MAX_SIGNATURES] {
            for k in [1, 2, 16, MAX_CHILDREN] {
                let r = parent_security_bits(&child, Regime::Proven, &vec![n; k], k * n).unwrap();
                assert!(
                    r.total_bits >= SECURITY_FLOOR_BITS,
                    "{k} children of {n}: {r:?}"
                );
                weakest = weakest.min(r.total_bits);
            }
        }
        assert!(
            weakest < SECURITY_FLOOR_BITS + 2.0,
            "the grinding is not tight: {weakest}"
        );
        // Under the child's own grinding, the tallest parent falls short.
        let shape = child_shape(&child, 775, &[0; 32], 0).unwrap();
        let airs = verifier_airs(&shape, vec![F::ZERO; NUM_STATEMENT_VALUES]).unwrap();
        let heights = log_heights(&airs, &shape, MAX_CHILDREN, 2 * MAX_CHILDREN * 775).unwrap();
        let lookups = packed_lookups(&airs);
        let r = batch_security(&child, Regime::Proven, &airs, &lookups, &heights).unwrap();
        assert!(r.total_bits < SECURITY_FLOOR_BITS, "{r:?}");
    }

    /// `proof` verifies for `keys` (in either order) and not for another message, another
    /// epoch, the keys less one, plus one (signer 9) or with one repeated.
    fn verifies_for_its_statement_only(proof: &ParentProof, keys: &[PublicKey]) {
        verify_parent(proof, &MESSAGE, EPOCH, keys).expect("the parent verifies");
        let reversed: Vec<PublicKey> = keys.iter().rev().copied().collect();
        verify_parent(proof, &MESSAGE, EPOCH, &reversed).expect("in any order");
        let invalid = |r: Result<(), VerifyError>| {
            assert!(matches!(r, Err(VerifyError::Invalid(_))), "{r:?}");
        };
        let mut other = MESSAGE;
        other[31] ^= 1;
        invalid(verify_parent(proof, &other, EPOCH, keys));
        invalid(verify_parent(proof, &MESSAGE, EPOCH + 1, keys));
        invalid(verify_parent(proof, &MESSAGE, EPOCH, &keys[1..]));
        let mut more = keys.to_vec();
        more.push(test_signer(9, &MESSAGE, EPOCH).0);
        invalid(verify_parent(proof, &MESSAGE, EPOCH, &more));
        let mut repeated = keys.to_vec();
        repeated.push(keys[0]);
        invalid(verify_parent(proof, &MESSAGE, EPOCH, &repeated));
    }

    /// A parent over children of two sizes (2, 3 and 2 keys, in that order): the batch takes
    /// them by ascending size, one group of verifier AIRs per size; the parent verifies for the
    /// union (as a FRI parent, as bytes, and compact over WHIR within the default limit) and
    /// for no other message, epoch or key set, and the header's sizes in another order or
    /// another multiset are refused.
    #[test]
    fn a_parent_over_children_of_different_sizes_verifies_for_its_statement_and_no_other() {
        use crate::aggregate::{verify_aggregate, Backend};
        let a = child_proof_of(MESSAGE, EPOCH, 3..5);
        let c = child_proof_of(MESSAGE, EPOCH, 5..8);
        let b = child_proof_of(MESSAGE, EPOCH, 4..6);
        let children: [(&[u8], &[PublicKey]); 3] = [(&a.0, &a.1), (&c.0, &c.1), (&b.0, &b.1)];
        let (proof, keys) = prove_parent(&MESSAGE, EPOCH, &children).expect("the parent");
        assert_eq!(proof.child_keys, [2, 2, 3]);
        assert_eq!(keys.len(), 5, "signers 3 to 7");
        verifies_for_its_statement_only(&proof, &keys);
        let reversed: Vec<PublicKey> = keys.iter().rev().copied().collect();
        let mut other = MESSAGE;
        other[5] ^= 1;

        // The bytes: verify_aggregate takes them; the header's sizes in the caller's order
        // (not ascending) are malformed, another multiset of sizes does not verify.
        let bytes = proof.to_bytes();
        let opts = VerifyOptions::default();
        verify_aggregate(&bytes, &keys, &MESSAGE, EPOCH, &opts).expect("the bytes verify");
        let mut unsorted = bytes.clone();
        unsorted[24..28].copy_from_slice(&3u32.to_le_bytes());
        unsorted[28..32].copy_from_slice(&2u32.to_le_bytes());
        let r = verify_aggregate(&unsorted, &keys, &MESSAGE, EPOCH, &opts);
        assert!(matches!(r, Err(VerifyError::Malformed(_))), "{r:?}");
        for sizes in [[2u32, 3, 3], [2, 2, 2], [1, 2, 3], [2, 2, 4]] {
            let mut resized = bytes.clone();
            for (j, k) in sizes.iter().enumerate() {
                resized[20 + 4 * j..24 + 4 * j].copy_from_slice(&k.to_le_bytes());
            }
            let r = verify_aggregate(&resized, &keys, &MESSAGE, EPOCH, &opts);
            assert!(r.is_err(), "sizes {sizes:?} verified");
        }

        // Compact, through the aggregator, within the default limit.
        let mut agg = Aggregator::new(MESSAGE, EPOCH);
        for (proof, keys) in children {
            agg.add_child(proof, keys).expect("a child");
        }
        let whir = ProveOptions {
            backend: Backend::Whir,
            ..Default::default()
        };
        let compact = agg.prove(&whir).expect("the compact parent");
        let compact = compact.as_bytes();
        assert_eq!(wire::proof_kind(compact), Some(KIND_COMPACT_PARENT));
        assert!(compact.len() <= whir.byte_limit(), "{}", compact.len());
        verify_aggregate(compact, &reversed, &MESSAGE, EPOCH, &opts).expect("compact verifies");
        let r = verify_aggregate(compact, &keys[1..], &MESSAGE, EPOCH, &opts);
        assert!(r.is_err(), "a compact parent verified without a key");
        let r = verify_aggregate(compact, &keys, &other, EPOCH, &opts);
        assert!(r.is_err(), "a compact parent verified for another message");
    }

    /// The shared permutation table in pieces in a compact parent ([`shared_table_split`]), on
    /// three real children of 2, 4 and 4 keys, whose table needs a little more than 2^14 rows:
    /// - the prover's and the verifier's derivations cut it alike, at a grain finer than a
    ///   quarter of its top power of two (a quarter's grain would not take a variable off the
    ///   stacked trace, the finer one does), and the pieces hold every used row;
    /// - through the AIRs: the witness's table in those pieces satisfies every constraint and
    ///   bus; without its last piece (which holds used rows) buses fail, and only buses;
    /// - the compact parent proved with its table in pieces verifies for its statement, and not
    ///   for another message, another epoch, or its key set less a key.
    #[test]
    fn a_compact_parent_commits_its_table_in_pieces_when_that_saves_a_variable() {
        use crate::aggregate::recursion::harness::{Batch as TestBatch, Failed};
        use crate::aggregate::verify_aggregate;
        let a = child_proof_of(MESSAGE, EPOCH, 3..5);
        let b = child_proof_of(MESSAGE, EPOCH, 5..9);
        let c = child_proof_of(MESSAGE, EPOCH, 9..13);
        let children: [(&[u8], &[PublicKey]); 3] = [(&b.0, &b.1), (&a.0, &a.1), (&c.0, &c.1)];
        let w = parent_witness(&MESSAGE, EPOCH, &children).expect("the parent's witness");
        assert_eq!(w.child_keys, [2, 4, 4]);
        let whir = whir_preset(1);
        let params = compact_parent_preset(&whir);
        let n = w.airs.len();
        let split = shared_table_split(&params, &w.airs, &w.log_heights, w.table_rows);
        let (_, derived) =
            compact_parent_batch(&params, &w.preset, &w.child_keys, w.union.len()).unwrap();
        assert_eq!(split, derived, "the verifier's derivation is the prover's");
        assert_eq!(split[..n - 1], w.log_heights[..n - 1]);
        let top = w.log_heights[n - 1] - 1;
        let pieces = &split[n - 1..];
        assert_eq!(pieces[0], top);
        let covered: usize = pieces.iter().map(|&p| 1usize << p).sum();
        assert!(
            covered >= w.table_rows,
            "{pieces:?} for {} rows",
            w.table_rows
        );
        let finest = *pieces.iter().min().unwrap();
        assert!(finest < top - 2, "{pieces:?}: no finer than a quarter");
        let variables = |heights: &[usize]| {
            stacked_variables(&params, heights, &instance_widths(&w.airs, heights.len()))
        };
        let whole = variables(&w.log_heights);
        assert_eq!(variables(&split), whole - 1);
        let quarter = (w.table_rows - (1 << top)).div_ceil(1 << (top - 2)) << (top - 2);
        let mut coarse = w.log_heights[..n - 1].to_vec();
        coarse.push(top);
        coarse.extend((0..top).rev().filter(|&bit| quarter & (1 << bit) != 0));
        assert_eq!(
            variables(&coarse),
            whole,
            "a quarter's grain saves nothing here"
        );

        // Through the AIRs.
        let cut = split_shared_table(&w.traces[n - 1], pieces).expect("the pieces");
        assert!(split_shared_table(&w.traces[n - 1], &pieces[..pieces.len() - 1]).is_err());
        let batch =
            |cut: &[RowMajorMatrix<F>]| TestBatch::with_table_pieces(&w.airs, &w.traces, cut);
        let honest = batch(&cut);
        assert!(honest.failed().is_empty(), "{:?}", honest.failed());
        batch(&cut[..cut.len() - 1])
            .caught(|f| !f.is_empty() && f.iter().all(|x| matches!(x, Failed::Bus(_))));

        // The proof.
        let (proof, keys, bits) =
            prove_compact_parent(&MESSAGE, EPOCH, &children, &whir).expect("the compact parent");
        assert!(bits >= SECURITY_FLOOR_BITS, "{bits}");
        let bytes = proof.to_bytes();
        let opts = VerifyOptions::default();
        let opened = open_compact_parent(&bytes, &MESSAGE, EPOCH, &keys, &opts, |o| {
            Ok((o.heights.to_vec(), o.airs.len(), o.pvs.len()))
        })
        .expect("the parent opens");
        assert_eq!(opened, (split.clone(), split.len(), split.len()));
        verify_aggregate(&bytes, &keys, &MESSAGE, EPOCH, &opts).expect("the parent verifies");
        let mut other = MESSAGE;
        other[0] ^= 1;
        assert!(verify_aggregate(&bytes, &keys, &other, EPOCH, &opts).is_err());
        assert!(verify_aggregate(&bytes, &keys, &MESSAGE, EPOCH + 1, &opts).is_err());
        assert!(verify_aggregate(&bytes, &keys[1..], &MESSAGE, EPOCH, &opts).is_err());
    }

    /// The transcript number is the block's place, in every numbered verifier AIR: in an honest
    /// parent over children of two sizes every block `b` of group `g` holds
    /// `g * GROUP_STRIDE + b`; a block given another block's number (two blocks of one AIR
    /// answering one transcript's messages) or a group's first block given a number in another
    /// group's range fails that AIR's constraints, whatever the buses say.
    #[test]
    fn a_block_numbered_other_than_its_place_fails_its_airs_constraints() {
        let a = child_proof_of(MESSAGE, EPOCH, 3..5);
        let b = child_proof_of(MESSAGE, EPOCH, 4..6);
        let c = child_proof_of(MESSAGE, EPOCH, 5..8);
        let w = parent_witness(&MESSAGE, EPOCH, &[(&a.0, &a.1), (&b.0, &b.1), (&c.0, &c.1)])
            .expect("the parent's witness");
        assert_eq!(w.airs.len(), 2 * AIRS_PER_GROUP + 2);
        let violations = |air: &VerifierAir, trace: &RowMajorMatrix<F>| {
            p3_air::check_all_constraints(air, trace, &air.public_values(), None)
                .failures
                .len()
        };
        let mut checked = 0;
        for (i, (air, trace)) in w.airs.iter().zip(&w.traces).enumerate() {
            let Some(g) = (i / AIRS_PER_GROUP < 2).then_some(i / AIRS_PER_GROUP) else {
                continue;
            };
            if matches!(air, VerifierAir::FinalPoly(_)) {
                continue; // numbered by its generator only (FinalPolyAir::numbered_from)
            }
            assert_eq!(violations(air, trace), 0, "{} honest", air.name());
            let period = air.periodic_columns().first().map_or(1, Vec::len);
            let first = group_first(g) as usize;
            let (width, height) = (trace.width(), trace.height());
            let column = (0..width)
                .find(|&c| {
                    (0..height)
                        .all(|r| trace.values[r * width + c] == F::from_usize(first + r / period))
                })
                .unwrap_or_else(|| panic!("{} has no column numbering its blocks", air.name()));
            let forge = |block: usize, number: usize| {
                let mut forged = trace.clone();
                for r in block * period..(block + 1) * period {
                    forged.values[r * width + column] = F::from_usize(number);
                }
                forged
            };
            // Group 0 (two children of 2 keys): the second child's block takes the first's
            // number. Group 1 (one child of 3 keys): its block takes a number of group 0's.
            let forged = if g == 0 { forge(1, 0) } else { forge(0, 1) };
            assert!(
                violations(air, &forged) > 0,
                "{} took a number twice",
                air.name()
            );
            checked += 1;
        }
        assert_eq!(checked, 2 * (AIRS_PER_GROUP - 1));
    }

    /// A shape the process keeps ([`child_shape`]) is the one derived for its preset, size,
    /// message and epoch, and none of the four is left out of the key.
    #[test]
    fn a_kept_child_shape_is_derived_for_its_size_message_and_epoch_only() {
        let preset = default_child_preset();
        let shape = |n: usize, m: &[u8; 32], e: u32| format!("{:?}", child_shape(&preset, n, m, e));
        let fresh = |n: usize, m: &[u8; 32], e: u32| {
            format!("{:?}", derive_child_shape(&preset, n, m, e, None))
        };
        let kept = shape(2, &MESSAGE, EPOCH);
        assert_eq!(kept, shape(2, &MESSAGE, EPOCH));
        assert_eq!(kept, fresh(2, &MESSAGE, EPOCH));
        for (n, m, e) in [
            (3, MESSAGE, EPOCH),
            (2, [8; 32], EPOCH),
            (2, MESSAGE, EPOCH + 1),
        ] {
            let other = shape(n, &m, e);
            assert_ne!(kept, other, "{n} keys, message {m:?}, epoch {e}");
            assert_eq!(other, fresh(n, &m, e));
        }
        let other_grinding = FriPreset {
            query_pow_bits: preset.query_pow_bits + 1,
            ..preset
        };
        assert_ne!(
            kept,
            format!("{:?}", child_shape(&other_grinding, 2, &MESSAGE, EPOCH))
        );
        assert!(child_shape(&preset, 0, &MESSAGE, EPOCH).is_err());
        // A Type-2 component's shape (the digest known) is another key, and another shape.
        let digest = [F::from_u32(7); KEY_DIGEST_LEN];
        let component = format!(
            "{:?}",
            component_shape(&preset, 2, &MESSAGE, EPOCH, &digest)
        );
        assert_ne!(kept, component);
        assert_eq!(
            component,
            format!(
                "{:?}",
                derive_child_shape(&preset, 2, &MESSAGE, EPOCH, Some(digest))
            )
        );
    }

    /// Three children of one size: every verifier AIR of the group holds a padding block (four
    /// blocks for three children), whose constraints must hold as an active block's do. The
    /// parent verifies for the union and for nothing else. (A padding block of
    /// `DeepQuotientAir` once had `zeta = x = 0`, no inverse for its denominators, and such a
    /// parent did not verify.)
    #[test]
    fn a_parent_over_three_children_of_one_size_verifies() {
        let a = child_proof_of(MESSAGE, EPOCH, 3..4);
        let b = child_proof_of(MESSAGE, EPOCH, 4..5);
        let c = child_proof_of(MESSAGE, EPOCH, 5..6);
        let children: [(&[u8], &[PublicKey]); 3] = [(&a.0, &a.1), (&b.0, &b.1), (&c.0, &c.1)];
        let (proof, keys) = prove_parent(&MESSAGE, EPOCH, &children).expect("the parent");
        assert_eq!(proof.child_keys, [1, 1, 1]);
        verifies_for_its_statement_only(&proof, &keys);
    }

    /// Children a parent cannot take are refused with an error naming them, before anything is
    /// proved.
    #[test]
    fn a_parent_refuses_children_it_cannot_take() {
        let a = child_proof_of(MESSAGE, EPOCH, 3..5);
        let prover = |r: Result<_, ProveError>, what: &str| match r {
            Err(ProveError::Prover(m)) => assert!(m.contains(what), "{m}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a parent over a child it cannot take"),
        };
        let options = |r: Result<(ParentProof, Vec<PublicKey>), ProveError>| {
            assert!(matches!(r, Err(ProveError::InvalidOptions(_))));
        };
        // For another message or epoch: the child does not verify.
        let mut other = MESSAGE;
        other[0] ^= 1;
        prover(prove_parent(&other, EPOCH, &[(&a.0, &a.1)]), "child 0");
        prover(
            prove_parent(&MESSAGE, EPOCH + 1, &[(&a.0, &a.1)]),
            "child 0",
        );
        // Keys other than the child's, or a byte changed.
        let b = child_proof_of(MESSAGE, EPOCH, 5..7);
        prover(prove_parent(&MESSAGE, EPOCH, &[(&a.0, &b.1)]), "child 0");
        let mut flipped = a.0.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 1;
        prover(
            prove_parent(&MESSAGE, EPOCH, &[(&a.0, &a.1), (&flipped, &a.1)]),
            "child 1",
        );
        // A proof over Keccak cannot be a child.
        let mut agg = Aggregator::new(MESSAGE, EPOCH);
        for s in 3..5 {
            let (pk, sig) = test_signer(s, &MESSAGE, EPOCH);
            agg.add(pk, sig).expect("a valid signature");
        }
        let keccak = agg
            .prove(&ProveOptions::default())
            .expect("a default proof");
        prover(
            prove_parent(&MESSAGE, EPOCH, &[(keccak.as_bytes(), &agg.public_keys())]),
            "Keccak",
        );
        // No child.
        options(prove_parent(&MESSAGE, EPOCH, &[]));
    }
}
