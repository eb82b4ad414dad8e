//! Aggregation of many XMSS signatures on one message and epoch into one STARK proof.
//!
//! This module is the public API ([`Aggregator`], [`verify_aggregate`], the options, presets and
//! errors) and the one place that picks a proof system. Below it, and shared by every proof
//! system:
//!
//! - [`field`]: the field, challenge field and hashes;
//! - [`preset`]: the presets, one parameter set per proof system;
//! - `statement`: the statement (AIR instances, heights, public values, traces);
//! - `witness`: a signature's witness and chain steps;
//! - `air/`: the four AIRs, one file each with its trace generation (design and soundness
//!   argument in `src/aggregate/README.md`);
//! - `wire`: the proof prefix and what every proof format shares;
//! - `proof_system`: the boundary every proof system implements, and one folder per proof system
//!   (`fri/`, `whir/`) with its configuration, soundness calculation and proof format;
//! - [`recursion`]: which proofs can be children of a recursive proof, and the permutations a
//!   parent must evaluate to verify one.
//!
//! **The keys are a set.** A proof binds the set of its signers' public keys: the prover orders
//! the signatures by key ([`canonical_key_order`]) and the verifier orders the keys it is given
//! the same way, so any order of the same keys verifies, any other set (one more, one fewer, one
//! replaced) fails, and a list naming a key twice is an error.

use p3_maybe_rayon::prelude::*;

use crate::xmss::{PublicKey, Signature};

/// Declares the internal modules: crate-private, and public only with the `testing` feature (for
/// the crate's own integration tests, which forge witnesses and proofs; see `testing`).
macro_rules! internal_modules {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[cfg(any(test, feature = "testing"))]
        pub mod $name;
        $(#[$doc])*
        #[cfg(not(any(test, feature = "testing")))]
        pub(crate) mod $name;
    )*};
}

internal_modules! {
    air;
    fri;
    statement;
    whir;
    wire;
    witness;
}
pub mod field;
mod options;
pub mod preset;
mod profile;
mod proof_system;
pub mod recursion;

pub use options::{
    AggregateError, Backend, MerkleHash, ProveError, ProveOptions, Regime, VerifyError,
    VerifyOptions, DEFAULT_FRI_LOG_INV_RATE, DEFAULT_FRI_POSEIDON1_LOG_INV_RATE,
    DEFAULT_WHIR_LOG_INV_RATE, MAX_SIGNATURES, SECURITY_FLOOR_BITS, WIRE_CAP_BYTES,
};
pub use preset::{FriPreset, Preset, WhirPreset, PRESETS};
pub use wire::{
    proof_kind, FORMAT_VERSION, KIND_COMPACT_PARENT, KIND_PARENT, KIND_SIGNATURES, MAGIC,
    PREFIX_LEN,
};

use air::chain::ChainStep;
use air::sig::SigWitness;
pub(crate) use profile::profile;
use proof_system::ProofSystem;
use statement::Statement;

/// The proof system of `preset`: the one dispatch from a preset to FRI or WHIR.
fn system(preset: &Preset) -> &dyn ProofSystem {
    match preset {
        Preset::Fri(p) => p,
        Preset::Whir(p) => p,
    }
}

/// Collects signatures, or child proofs, for one (message, epoch).
pub struct Aggregator {
    message: [u8; 32],
    epoch: u32,
    signers: Vec<(PublicKey, Signature)>,
    /// Child proofs and their keys, in the order added ([`Aggregator::add_child`]).
    children: Vec<(Vec<u8>, Vec<PublicKey>)>,
}

/// A serialized aggregate proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateProof {
    bytes: Vec<u8>,
}

impl AggregateProof {
    /// The proof's wire bytes: the 16-byte prefix ([`MAGIC`], [`FORMAT_VERSION`], preset id,
    /// proof kind, archive length) then the proof system's rkyv archive
    /// (`src/aggregate/wire.rs`); at most the byte limit of the [`ProveOptions`] it was made
    /// under. What [`verify_aggregate`] and the C ABI take.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The wire bytes of [`Self::as_bytes`], without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl Aggregator {
    /// An empty aggregator for signatures on `message` (32 bytes, as leanSig signs it) at
    /// `epoch` (the slot; below the scheme's lifetime of 2^32). Nothing is checked until
    /// [`Self::add`] or [`Self::add_child`].
    pub fn new(message: [u8; 32], epoch: u32) -> Self {
        Self {
            message,
            epoch,
            signers: Vec::new(),
            children: Vec::new(),
        }
    }
    /// The 32-byte message every signature and child must be on.
    pub fn message(&self) -> &[u8; 32] {
        &self.message
    }

    /// The epoch every signature and child must be at.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Number of raw signatures added ([`Self::add`], [`Self::add_unchecked`]); children are
    /// counted by [`Self::num_children`].
    pub fn len(&self) -> usize {
        self.signers.len()
    }

    /// True when no raw signature was added (children may have been: [`Self::num_children`]).
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }
    /// Public keys in the order of [`Self::add`] (any order of them verifies: the statement is
    /// the set, see [`canonical_key_order`]).
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.signers.iter().map(|(pk, _)| *pk).collect()
    }

    /// Adds a signature by `pk` on this aggregator's message and epoch.
    ///
    /// # Errors
    /// [`AggregateError::InvalidSignature`] if `xmss::verify` rejects it,
    /// [`AggregateError::DuplicatePublicKey`] if `pk` was already added.
    pub fn add(&mut self, pk: PublicKey, sig: Signature) -> Result<(), AggregateError> {
        if self.signers.iter().any(|(k, _)| *k == pk) {
            return Err(AggregateError::DuplicatePublicKey);
        }
        if !crate::xmss::verify(&pk, self.epoch, &self.message, &sig) {
            return Err(AggregateError::InvalidSignature);
        }
        self.signers.push((pk, sig));
        Ok(())
    }

    /// Adds a child: an aggregate proof `proof` of this aggregator's message and epoch for the
    /// key set `keys` (any order), made under a recursion-ready preset ([`Backend::FriPoseidon1`]).
    /// [`Aggregator::prove`] then makes a parent proof over the children whose key set is the
    /// union of theirs (children may overlap). The child is verified now
    /// ([`verify_aggregate`] with the default options).
    ///
    /// Children may differ in their numbers of keys (up to
    /// [`recursion::parent::MAX_CHILD_SIZES`] sizes), and raw signatures may be added beside
    /// them ([`Aggregator::add`]): [`Aggregator::prove`] then proves those as one more child
    /// first. Not yet: a parent as a child (`src/aggregate/recursion/README.md`).
    ///
    /// # Errors
    /// [`AggregateError::InvalidChild`] for a proof that does not verify for (message, epoch,
    /// `keys`), a parent proof, or a preset that cannot be a child (FRI over Keccak, WHIR).
    pub fn add_child(&mut self, proof: &[u8], keys: &[PublicKey]) -> Result<(), AggregateError> {
        let invalid = |e: String| AggregateError::InvalidChild(e);
        if wire::is_proof_of_proofs(proof) {
            return Err(invalid(
                "a parent, Type-2 or split proof cannot be a child yet (one level of children)"
                    .into(),
            ));
        }
        verify_aggregate(
            proof,
            keys,
            &self.message,
            self.epoch,
            &VerifyOptions::default(),
        )
        .map_err(|e| invalid(e.to_string()))?;
        let (preset, _) = wire::read_prefix(proof).map_err(|e| invalid(e.to_string()))?;
        recursion::check_child_preset(&preset).map_err(|e| invalid(e.to_string()))?;
        self.children.push((proof.to_vec(), keys.to_vec()));
        Ok(())
    }

    /// Number of children added ([`Aggregator::add_child`]).
    pub fn num_children(&self) -> usize {
        self.children.len()
    }

    /// Adds a signature WITHOUT the native check (tests and benchmarks of the AIRs' own
    /// rejection only). Duplicate keys are still refused.
    #[doc(hidden)]
    pub fn add_unchecked(&mut self, pk: PublicKey, sig: Signature) -> Result<(), AggregateError> {
        if self.signers.iter().any(|(k, _)| *k == pk) {
            return Err(AggregateError::DuplicatePublicKey);
        }
        self.signers.push((pk, sig));
        Ok(())
    }

    /// Proves that every added signature is valid: one proof for the set of added keys, made
    /// in [`canonical_key_order`] whatever the order of the adds.
    ///
    /// With children ([`Aggregator::add_child`]) it proves a parent over them instead: compact
    /// when `opts` name the WHIR backend (with `log_inv_rate: 0`, rate 1/2 when the parent's
    /// worst case fits the byte limit, else rate 1/4), or under the children's preset when
    /// `opts` name it (`src/aggregate/recursion/README.md`). Signatures added beside children
    /// are proved first as one more child under the children's preset (its proof stays
    /// internal), so the parent's key set is the union of the children's and theirs.
    ///
    /// # Errors
    /// [`ProveError::Empty`] without signatures, [`ProveError::InvalidOptions`] for a bad preset,
    /// [`ProveError::Prover`] if proving fails (for example on a witness the AIRs reject).
    pub fn prove(&self, opts: &ProveOptions) -> Result<AggregateProof, ProveError> {
        if !self.children.is_empty() {
            return self.prove_parent(opts);
        }
        if self.signers.is_empty() {
            return Err(ProveError::Empty);
        }
        if self.signers.len() > MAX_SIGNATURES {
            return Err(ProveError::InvalidOptions(format!(
                "more than {MAX_SIGNATURES} signatures"
            )));
        }
        let t = std::time::Instant::now();
        let mut signers: Vec<&(PublicKey, Signature)> = self.signers.iter().collect();
        signers.sort_by_cached_key(|(pk, _)| pk.to_ssz());
        let keys: Vec<PublicKey> = signers.iter().map(|(pk, _)| *pk).collect();
        let per_signer: Vec<_> = signers
            .par_iter()
            .enumerate()
            .map(|(s, (pk, sig))| {
                let mut steps = Vec::with_capacity(statement::STEPS_PER_SIGNATURE);
                let w = witness::build_witness(
                    s as u32,
                    pk,
                    sig,
                    &self.message,
                    self.epoch,
                    &mut steps,
                );
                (w, steps)
            })
            .collect();
        let mut steps = Vec::with_capacity(signers.len() * statement::STEPS_PER_SIGNATURE);
        let mut witnesses = Vec::with_capacity(self.signers.len());
        for (w, s) in per_signer {
            witnesses.push(w);
            steps.extend(s);
        }
        profile("witnesses", t);
        prove_witnesses(&self.message, self.epoch, &keys, &witnesses, &steps, opts)
    }

    /// [`Aggregator::prove`] with children: a parent proof over them, for the union of their
    /// keys. Options naming a WHIR preset ask for a compact parent
    /// ([`recursion::parent::prove_compact_parent`], bytes
    /// [`recursion::parent::CompactParentProof::to_bytes`]); options naming the children's
    /// preset for a FRI parent ([`recursion::parent::prove_parent`], bytes
    /// [`recursion::parent::ParentProof::to_bytes`]). Refused before any work if the parent's
    /// largest size ([`recursion::parent::compact_parent_size_bound`],
    /// [`recursion::parent::parent_size_bound`]) exceeds `opts`' byte limit.
    fn prove_parent(&self, opts: &ProveOptions) -> Result<AggregateProof, ProveError> {
        use recursion::parent;
        let preset = Preset::from_options(opts).map_err(ProveError::InvalidOptions)?;
        let (child, _) = wire::read_prefix(&self.children[0].0)
            .map_err(|e| ProveError::InvalidOptions(format!("child 0: {e}")))?;
        let mut compact = match preset {
            Preset::Whir(whir) => Some(whir),
            _ if preset == child => None,
            _ => {
                return Err(ProveError::InvalidOptions(format!(
                    "the children were made under preset {}, the options name preset {}: a \
                     parent is proved under its children's preset (more grinding), or compact \
                     under a WHIR preset",
                    child.id(),
                    preset.id()
                )))
            }
        };
        let child_preset = *recursion::check_child_preset(&child)
            .map_err(|e| ProveError::InvalidOptions(e.to_string()))?;
        // Raw signatures beside the children become one more child, proved first under the
        // children's preset; the bound below counts it.
        let mut sizes: Vec<usize> = self.children.iter().map(|c| c.1.len()).collect();
        if !self.signers.is_empty() {
            sizes.push(self.signers.len());
        }
        let mut union: Vec<PublicKey> = self.children.iter().flat_map(|c| c.1.clone()).collect();
        union.extend(self.signers.iter().map(|(pk, _)| *pk));
        union.sort_unstable_by_key(PublicKey::to_ssz);
        union.dedup();
        let bound_of = |compact: &Option<WhirPreset>| match compact {
            Some(whir) => {
                parent::compact_parent_size_bound(&child_preset, whir, &sizes, union.len())
            }
            None => parent::parent_size_bound(&child_preset, &sizes, union.len()),
        };
        let mut bound = bound_of(&compact);
        // `log_inv_rate: 0` leaves a compact parent's rate to us: the default (rate 1/2, the
        // faster) when its worst case fits the limit, else rate 1/4 (smaller proofs).
        if compact.is_some()
            && opts.log_inv_rate == 0
            && bound.as_ref().is_ok_and(|&b| b > opts.byte_limit())
        {
            let quarter = ProveOptions {
                log_inv_rate: 2,
                ..*opts
            };
            if let Ok(Preset::Whir(whir)) = Preset::from_options(&quarter) {
                compact = Some(whir);
                bound = bound_of(&compact);
            }
        }
        let too_large = |bound: usize| ProveError::ProofTooLarge {
            bound,
            limit: opts.byte_limit(),
        };
        if let Ok(bound) = bound {
            if bound > opts.byte_limit() {
                return Err(too_large(bound));
            }
        }
        let raw = self.prove_raw_child(&child, &child_preset)?;
        let children: Vec<(&[u8], &[PublicKey])> = self
            .children
            .iter()
            .chain(&raw)
            .map(|(p, k)| (p.as_slice(), k.as_slice()))
            .collect();
        let (message, epoch) = (&self.message, self.epoch);
        let bytes = match &compact {
            Some(whir) => parent::prove_compact_parent(message, epoch, &children, whir)?
                .0
                .to_bytes(),
            None => parent::prove_parent(message, epoch, &children)?
                .0
                .to_bytes(),
        };
        if bytes.len() > opts.byte_limit() {
            return Err(too_large(bytes.len()));
        }
        Ok(AggregateProof { bytes })
    }

    /// The raw signatures added beside children, proved as one child under the children's
    /// preset `child` (`fri`, its FRI parameters), with its keys; `None` without raw
    /// signatures. The child's bytes never reach the wire (no byte limit); the parent verifies
    /// it like any other child.
    ///
    /// # Errors
    /// [`ProveError::InvalidOptions`] if no options name `child` (not a recursion-ready preset),
    /// or more than [`MAX_SIGNATURES`] raw signatures; the signature prover's errors.
    #[allow(clippy::type_complexity)]
    fn prove_raw_child(
        &self,
        child: &Preset,
        fri: &FriPreset,
    ) -> Result<Option<(Vec<u8>, Vec<PublicKey>)>, ProveError> {
        if self.signers.is_empty() {
            return Ok(None);
        }
        let opts = ProveOptions {
            backend: Backend::FriPoseidon1,
            log_inv_rate: fri.log_inv_rate,
            regime: Regime::Proven,
            max_proof_bytes: usize::MAX,
        };
        if Preset::from_options(&opts).ok().as_ref() != Some(child) {
            return Err(ProveError::InvalidOptions(format!(
                "the children's preset {} is not one raw signatures can be proved under",
                child.id()
            )));
        }
        let raw = Aggregator {
            signers: self.signers.clone(),
            children: Vec::new(),
            ..Aggregator::new(self.message, self.epoch)
        };
        let proof = raw.prove(&opts)?;
        Ok(Some((proof.bytes, raw.public_keys())))
    }
}

/// Proves from prepared witnesses and chain steps, whatever they are: the entry point of
/// [`Aggregator::prove`], open to tests (through `testing`) that feed the AIRs invalid witnesses. Debug builds run
/// Plonky3's constraint and bus checker, so a bad witness fails here with
/// [`ProveError::Prover`]; release builds produce a proof that must not verify.
pub(crate) fn prove_witnesses(
    message: &[u8; 32],
    epoch: u32,
    keys: &[PublicKey],
    witnesses: &[SigWitness],
    steps: &[ChainStep],
    opts: &ProveOptions,
) -> Result<AggregateProof, ProveError> {
    if keys.is_empty() || witnesses.len() != keys.len() {
        return Err(ProveError::Empty);
    }
    let preset = Preset::from_options(opts).map_err(ProveError::InvalidOptions)?;
    check_provable(&preset, keys.len(), opts.byte_limit())?;
    let stmt = Statement {
        message,
        epoch,
        keys,
    };
    let system = system(&preset);
    system
        .check_statement(&stmt)
        .map_err(ProveError::InvalidOptions)?;
    let airs = stmt.airs();
    let t = std::time::Instant::now();
    let traces = statement::build_traces(&stmt, &airs, witnesses, steps);
    profile("traces", t);
    let heights: Vec<usize> = traces.iter().map(p3_matrix::Matrix::height).collect();
    if heights != stmt.heights() {
        return Err(ProveError::Prover(format!(
            "trace heights {heights:?} differ from {:?} (chain steps off the target sum)",
            stmt.heights()
        )));
    }
    let bytes = system
        .prove(&stmt, &airs, traces)
        .map_err(ProveError::Prover)?;
    // The bound checked above covers every proof the preset can produce; this never fires unless
    // the bound is wrong, and then no longer proof leaves the prover.
    if bytes.len() > opts.byte_limit() {
        return Err(ProveError::ProofTooLarge {
            bound: bytes.len(),
            limit: opts.byte_limit(),
        });
    }
    Ok(AggregateProof { bytes })
}

/// The checks [`prove_witnesses`] makes before any work: the preset accepts this many signatures,
/// reaches [`SECURITY_FLOOR_BITS`] for them in its own regime, and cannot exceed `byte_limit`.
///
/// # Errors
/// [`ProveError::InvalidOptions`] for a count past the preset's bound or a preset below the
/// floor; [`ProveError::ProofTooLarge`] when [`proof_size_bound`] exceeds `byte_limit`.
fn check_provable(
    preset: &Preset,
    num_signatures: usize,
    byte_limit: usize,
) -> Result<(), ProveError> {
    if num_signatures > preset.max_signatures() {
        return Err(ProveError::InvalidOptions(format!(
            "{num_signatures} signatures: preset {} takes at most {} (see MAX_SIGNATURES, \
             preset::MAX_WHIR_SIGNATURES)",
            preset.id(),
            preset.max_signatures()
        )));
    }
    let bits = preset_security_bits(preset, preset.regime(), num_signatures)
        .map_err(ProveError::InvalidOptions)?;
    if bits < SECURITY_FLOOR_BITS {
        return Err(ProveError::InvalidOptions(format!(
            "preset {} gives {bits:.1} bits for {num_signatures} signatures, below the \
             {SECURITY_FLOOR_BITS}-bit floor",
            preset.id()
        )));
    }
    let bound = proof_size_bound(preset, num_signatures).map_err(ProveError::InvalidOptions)?;
    if bound > byte_limit {
        return Err(ProveError::ProofTooLarge {
            bound,
            limit: byte_limit,
        });
    }
    Ok(())
}

/// The key of a [`ShapeCache`]: the preset id, the regime and the four trace heights of the
/// statement ([`statement::heights_of`] of its number of signatures).
type ShapeKey = (u8, Regime, [usize; air::NUM_INSTANCES]);

/// Per-process cache of a value computed per [`ShapeKey`].
type ShapeCache<T> = std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<ShapeKey, T>>>;

/// `compute()` once per process for `num_signatures`' shape: the figures depend on the
/// statement's shape alone, and the shape on the number of signatures through the trace heights
/// alone (`statement::heights_of`: every count from 135 to 256 has the heights of 256), so a
/// verifier that meets the counts of a block's aggregates computes each band once, not each
/// count. `every_count_of_a_band_has_its_figures` checks the figures are equal across a band.
fn cached<T: Copy>(
    cache: &'static ShapeCache<T>,
    preset: &Preset,
    regime: Regime,
    num_signatures: usize,
    compute: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let key = (preset.id(), regime, statement::heights_of(num_signatures));
    let map = cache.get_or_init(Default::default);
    if let Some(v) = map.lock().map_err(|_| "poisoned cache")?.get(&key) {
        return Ok(*v);
    }
    let v = compute()?;
    map.lock().map_err(|_| "poisoned cache")?.insert(key, v);
    Ok(v)
}

/// Soundness in bits, graded in `regime`, of every proof of `num_signatures` signatures under
/// `preset`, over the exact challenge field (`log2 |EF|` = 154.94): FRI presets by
/// `fri::security` on the statement's shape (either regime: a conjectured preset graded in the
/// proven regime gives what it is provably worth), WHIR presets by `p3_multi_stark`'s report
/// (proven regime only; see `whir`). Cached per process.
///
/// # Errors
/// A message when `num_signatures` is 0 or past [`MAX_SIGNATURES`], for a WHIR preset graded in
/// the conjectured regime, or when a WHIR schedule does not fit.
pub fn preset_security_bits(
    preset: &Preset,
    regime: Regime,
    num_signatures: usize,
) -> Result<f64, String> {
    static CACHE: ShapeCache<f64> = std::sync::OnceLock::new();
    if num_signatures == 0 || num_signatures > MAX_SIGNATURES {
        return Err(format!(
            "{num_signatures} signatures (1..={MAX_SIGNATURES} accepted)"
        ));
    }
    cached(&CACHE, preset, regime, num_signatures, || {
        system(preset).security_bits(regime, num_signatures)
    })
}

/// The largest aggregate proof, in bytes (prefix included), that `preset` can produce for
/// `num_signatures` signatures: every length the statement fixes at its exact value and every
/// pruned Merkle multiproof at its largest (`wire::max_multiproof_siblings`), encoded.
/// FRI: exact for that worst case; WHIR: an upper bound. Cached per process.
///
/// # Errors
/// As [`preset_security_bits`] for the count; a message when a WHIR schedule does not fit.
pub fn proof_size_bound(preset: &Preset, num_signatures: usize) -> Result<usize, String> {
    static CACHE: ShapeCache<usize> = std::sync::OnceLock::new();
    if num_signatures == 0 || num_signatures > MAX_SIGNATURES {
        return Err(format!(
            "{num_signatures} signatures (1..={MAX_SIGNATURES} accepted)"
        ));
    }
    cached(&CACHE, preset, preset.regime(), num_signatures, || {
        system(preset).proof_size_bound(num_signatures)
    })
}

/// The verifier's policy on the preset a proof names, before anything is decoded: the required
/// preset if one is set, and at least [`SECURITY_FLOOR_BITS`] for this statement, graded in the
/// proven regime (in the conjectured regime for a conjectured preset, only when the caller opted
/// in).
///
/// # Errors
/// [`VerifyError::PresetNotAccepted`] naming the preset and why.
fn accept_preset(
    preset: &Preset,
    num_signatures: usize,
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    let refuse = |why: String| {
        Err(VerifyError::PresetNotAccepted(format!(
            "preset {}: {why}",
            preset.id()
        )))
    };
    if let Some(required) = &opts.require {
        if !preset.satisfies(required) {
            return refuse(format!("the verifier requires {required:?}"));
        }
    }
    if num_signatures > preset.max_signatures() {
        return refuse(format!(
            "takes at most {} signatures, the statement has {num_signatures}",
            preset.max_signatures()
        ));
    }
    let graded = match (preset.regime(), opts.allow_conjectured) {
        (Regime::Conjectured, false) => {
            let proven =
                preset_security_bits(preset, Regime::Proven, num_signatures).unwrap_or(0.0);
            return refuse(format!(
                "conjectured-regime preset, {proven:.1} bits proven for {num_signatures} signatures \
                 (below {SECURITY_FLOOR_BITS}); accepted only with allow_conjectured"
            ));
        }
        (regime, _) => regime,
    };
    let bits = preset_security_bits(preset, graded, num_signatures)
        .map_err(VerifyError::PresetNotAccepted)?;
    if bits < SECURITY_FLOOR_BITS {
        return refuse(format!("{bits:.1} bits ({graded:?}) for {num_signatures} signatures, below {SECURITY_FLOOR_BITS}"));
    }
    Ok(())
}

/// Builds, once per process, the statement-independent tables that the first proof or
/// verification under the preset of `opts` would otherwise build, so that a long-running client
/// pays for them at startup instead of inside its first proof or verification.
///
/// - Both backends: the optimized Poseidon1 round constants, shared by the two permutation AIRs
///   and the prover's trace fillers (about 2 ms).
/// - FRI: the packed LogUp layout and the constraint counts of the four AIRs (a few ms), which a
///   verifier of compact parents and Type-2 proofs also derives its children's shapes from; and
///   the shared permutation table's symbolic pass as those proofs' multilinear STARK sees it
///   (about 4.5 ms), which their first verification in a process would otherwise make.
/// - WHIR: the proving and verifying keys of the four AIRs (`p3_multi_stark::setup`, whose
///   symbolic degree pass over the Poseidon1 constraints takes 50 to 70 ms on a 2-core VM). A
///   fresh process's first WHIR verification costs about 80 ms without this, 15 to 20 ms after.
///
/// Idempotent and thread-safe: later calls, and every later proof and verification in the
/// process, reuse the tables. Calling it is never required: without it the first call that needs
/// a table builds it. The tables are the same for every statement and every rate of a backend.
///
/// # Errors
/// [`ProveError::InvalidOptions`] if `opts` names no preset; [`ProveError::Prover`] if the WHIR
/// setup fails (not expected: it depends on nothing but the AIRs).
pub fn prepare(opts: &ProveOptions) -> Result<(), ProveError> {
    let preset = Preset::from_options(opts).map_err(ProveError::InvalidOptions)?;
    let _ = air::perm::PermFiller::shared16();
    let _ = air::perm::PermFiller::shared24();
    if preset.as_fri().is_some() {
        recursion::parent::prepare_shared_table();
    }
    system(&preset).prepare().map_err(ProveError::Prover)
}

/// The order a proof binds its keys in: ascending by their 52-byte SSZ encoding
/// ([`PublicKey::to_ssz`]). Returns the keys in that order.
///
/// # Errors
/// [`VerifyError::Invalid`] when a key appears twice (a set has no repeated member).
pub fn canonical_key_order(public_keys: &[PublicKey]) -> Result<Vec<PublicKey>, VerifyError> {
    let mut keyed: Vec<([u8; crate::xmss::PUBLIC_KEY_SSZ_LEN], PublicKey)> =
        public_keys.iter().map(|pk| (pk.to_ssz(), *pk)).collect();
    keyed.sort_unstable_by_key(|k| k.0);
    if keyed.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(VerifyError::Invalid("duplicate public key".into()));
    }
    Ok(keyed.into_iter().map(|(_, pk)| pk).collect())
}

/// The key-set digest an aggregate proof for `public_keys` binds (any order: the keys are put in
/// [`canonical_key_order`] first): 9 KoalaBear elements, a Poseidon1-24 Merkle-Damgard chain
/// over the ordered keys from an initial value that encodes their count (`src/aggregate/README.md`,
/// "Key-set digest"). One width-24 permutation per key. A proof's statement is
/// `(N, epoch, message, digest)`; a client that verifies many proofs for one committee can hold
/// this digest instead of its keys' bytes.
///
/// # Errors
/// [`VerifyError::Invalid`] when a key appears twice.
pub fn key_set_digest(
    public_keys: &[PublicKey],
) -> Result<[crate::xmss::F; statement::KEY_DIGEST_LEN], VerifyError> {
    Ok(statement::key_set_digest_ordered(&canonical_key_order(
        public_keys,
    )?))
}

/// Verifies an aggregate proof against the set of public keys (in any order; see
/// [`canonical_key_order`]), the message and the epoch.
///
/// A proof of kind [`wire::KIND_PARENT`] (a parent over child proofs, made by
/// [`Aggregator::prove`] after [`Aggregator::add_child`]) is verified the same way for the
/// union of its children's keys ([`recursion::parent::verify_parent_bytes`]); `opts` then
/// applies to the children's preset. So is a compact parent, of kind
/// [`wire::KIND_COMPACT_PARENT`] ([`recursion::parent::verify_compact_parent_bytes`]), and a
/// Type-1 proof split out of a Type-2 proof, of kind `wire::KIND_SPLIT`
/// ([`recursion::type2::verify_split_bytes`]), for its one component.
///
/// The proof's 16-byte prefix names its preset; before anything else is decoded the preset must
/// pass the verifier's policy (`opts`: by default at least [`SECURITY_FLOOR_BITS`] proven for
/// this many signatures, which refuses every conjectured preset).
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode, [`VerifyError::PresetNotAccepted`]
/// for a preset the policy refuses, [`VerifyError::Invalid`] for a proof that does not verify for
/// exactly this statement (including an empty, oversized or duplicated key list).
pub fn verify_aggregate(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    check_key_count(public_keys)?;
    let keys = canonical_key_order(public_keys)?;
    verify_in_order(proof, &keys, message, epoch, opts)
}

/// `Invalid` unless there are 1 to [`MAX_SIGNATURES`] keys.
fn check_key_count(public_keys: &[PublicKey]) -> Result<(), VerifyError> {
    if public_keys.is_empty() || public_keys.len() > MAX_SIGNATURES {
        return Err(VerifyError::Invalid(format!(
            "{} public keys",
            public_keys.len()
        )));
    }
    Ok(())
}

/// [`verify_aggregate`] with the keys taken in the given order, which must be the order the
/// proof binds (for tests that prove witnesses in an order of their own).
pub(crate) fn verify_in_order(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
    opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    check_key_count(public_keys)?;
    match wire::proof_kind(proof) {
        Some(wire::KIND_PARENT) => {
            return recursion::parent::verify_parent_bytes(proof, message, epoch, public_keys, opts)
        }
        Some(wire::KIND_COMPACT_PARENT) => {
            return recursion::parent::verify_compact_parent_bytes(
                proof,
                message,
                epoch,
                public_keys,
                opts,
            )
        }
        Some(wire::KIND_SPLIT) => {
            return recursion::type2::verify_split_bytes(proof, message, epoch, public_keys, opts)
        }
        _ => {}
    }
    let (preset, _) = wire::read_prefix(proof)?;
    accept_preset(&preset, public_keys.len(), opts)?;
    let stmt = Statement {
        message,
        epoch,
        keys: public_keys,
    };
    system(&preset).decode_and_verify(proof, &stmt)
}

/// Bytes of each component of an aggregate proof for this statement, as
/// `(component, bytes)` pairs in wire order ; they sum to the
/// payload without the 16-byte prefix and rkyv's vector headers.
///
/// # Errors
/// As [`verify_aggregate`] for bytes that do not decode ([`VerifyError::Malformed`]); the proof
/// itself is not verified.
pub fn proof_components(
    proof: &[u8],
    public_keys: &[PublicKey],
    message: &[u8; 32],
    epoch: u32,
) -> Result<Vec<(&'static str, usize)>, VerifyError> {
    check_key_count(public_keys)?;
    match wire::proof_kind(proof) {
        Some(wire::KIND_PARENT) => {
            return recursion::parent::parent_components(proof, message, epoch, public_keys)
        }
        Some(wire::KIND_COMPACT_PARENT) => {
            return recursion::parent::compact_parent_components(proof, message, epoch, public_keys)
        }
        Some(wire::KIND_SPLIT) => return recursion::type2::split_components(proof),
        _ => {}
    }
    let keys = canonical_key_order(public_keys)?;
    let (preset, _) = wire::read_prefix(proof)?;
    let stmt = Statement {
        message,
        epoch,
        keys: &keys,
    };
    system(&preset).component_sizes(proof, &stmt)
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_test_signers_prove_and_verify() {
        let message = [7u8; 32];
        let epoch = 0x1234_5679;
        let mut agg = Aggregator::new(message, epoch);
        for seed in 0..2 {
            let (pk, sig) = testing::test_signer(seed, &message, epoch);
            agg.add_unchecked(pk, sig).unwrap();
        }
        let proof = agg.prove(&ProveOptions::default()).unwrap();
        let keys = agg.public_keys();
        verify_aggregate(
            proof.as_bytes(),
            &keys,
            &message,
            epoch,
            &VerifyOptions::default(),
        )
        .unwrap();
        // The statement is the set: the keys swapped verify, one key twice does not.
        let mut swapped = keys.clone();
        swapped.swap(0, 1);
        verify_aggregate(
            proof.as_bytes(),
            &swapped,
            &message,
            epoch,
            &VerifyOptions::default(),
        )
        .unwrap();
        assert!(verify_aggregate(
            proof.as_bytes(),
            &[keys[0], keys[0]],
            &message,
            epoch,
            &VerifyOptions::default()
        )
        .is_err());
    }

    #[test]
    fn canonical_key_order_sorts_by_ssz_and_refuses_repeats() {
        let message = [1u8; 32];
        let keys: Vec<PublicKey> = (0..5)
            .map(|s| testing::test_signer(s, &message, 3).0)
            .collect();
        let sorted = canonical_key_order(&keys).unwrap();
        assert_eq!(sorted.len(), keys.len());
        assert!(sorted.windows(2).all(|w| w[0].to_ssz() < w[1].to_ssz()));
        let mut reversed = keys.clone();
        reversed.reverse();
        assert_eq!(canonical_key_order(&reversed).unwrap(), sorted);
        assert!(keys.iter().all(|k| sorted.contains(k)));
        let mut repeated = keys.clone();
        repeated.push(keys[3]);
        assert!(canonical_key_order(&repeated).is_err());
    }

    /// The security and size caches are keyed by the trace heights, not the count: every count
    /// of a band must have the figures its band's other counts have, computed directly (no
    /// cache), and the cached figure of one count must be the direct figure of another of its
    /// band. Two bands: 3 and 4 (the smallest of more than one count) and 135 to 256 (a block's
    /// attestation aggregates); 2 and 3 are in different bands.
    #[test]
    fn every_count_of_a_band_has_its_figures() {
        assert_ne!(statement::heights_of(2), statement::heights_of(3));
        for (a, b) in [(3, 4), (135, 256)] {
            assert_eq!(statement::heights_of(a), statement::heights_of(b));
            for preset in &PRESETS {
                for regime in [Regime::Proven, Regime::Conjectured] {
                    let direct = |n| system(preset).security_bits(regime, n).ok();
                    assert_eq!(direct(a), direct(b), "{preset:?} {regime:?}, {a} and {b}");
                    if let Some(bits) = direct(b) {
                        assert_eq!(preset_security_bits(preset, regime, a).ok(), Some(bits));
                    }
                }
                let direct = |n| system(preset).proof_size_bound(n).ok();
                assert_eq!(direct(a), direct(b), "{preset:?}, {a} and {b}");
                if let Some(bound) = direct(b) {
                    assert_eq!(proof_size_bound(preset, a).ok(), Some(bound));
                }
            }
        }
    }

    #[test]
    fn prepare_accepts_exactly_the_options_prove_accepts() {
        for regime in [Regime::Proven, Regime::Conjectured] {
            for backend in [Backend::Fri, Backend::Whir, Backend::FriPoseidon1] {
                for log_inv_rate in 0..=6 {
                    let opts = ProveOptions {
                        regime,
                        log_inv_rate,
                        backend,
                        ..Default::default()
                    };
                    let preset = Preset::from_options(&opts);
                    match prepare(&opts) {
                        Ok(()) => assert!(preset.is_ok(), "{opts:?}"),
                        Err(ProveError::InvalidOptions(m)) => {
                            assert_eq!(preset, Err(m), "{opts:?}")
                        }
                        Err(e) => panic!("{opts:?}: {e}"),
                    }
                }
            }
        }
        // Prepared WHIR keys serve a proof and its verification.
        let message = [9u8; 32];
        let mut agg = Aggregator::new(message, 5);
        let (pk, sig) = testing::test_signer(3, &message, 5);
        agg.add_unchecked(pk, sig).unwrap();
        let opts = ProveOptions {
            backend: Backend::Whir,
            ..Default::default()
        };
        prepare(&opts).unwrap();
        let proof = agg.prove(&opts).unwrap();
        verify_aggregate(
            proof.as_bytes(),
            &agg.public_keys(),
            &message,
            5,
            &VerifyOptions::default(),
        )
        .unwrap();
    }
}
