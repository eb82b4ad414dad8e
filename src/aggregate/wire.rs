//! What both proof formats share on the wire: the 16-byte prefix, the bounded and canonical
//! readers, and the Merkle cap and multiproof forms. The FRI format is [`super::fri::envelope`],
//! the WHIR one [`super::whir::envelope`].
//!
//! # The prefix
//!
//! ```text
//! offset  size  field
//!      0     8  magic  b"MSIGPRF\0"
//!      8     2  format version, u16 little-endian (FORMAT_VERSION)
//!     10     1  preset id (Preset::id: 0..=7 FRI over Keccak, 8..=9 WHIR, 10..=13 FRI over Poseidon1)
//!     11     1  proof kind: 0 an aggregate of signatures (KIND_SIGNATURES), 1 a parent over child
//!               proofs (KIND_PARENT, whose preset id is the children's, see
//!               recursion::parent::ParentProof::to_bytes), 2 a compact parent
//!               (KIND_COMPACT_PARENT), 3 a Type-2 proof over several messages (KIND_TYPE2,
//!               recursion::type2::Type2Proof::to_bytes)
//!     12     4  archive length in bytes, u32 little-endian (= total length - 16)
//!     16     *  rkyv 0.8 archive of the proof system's mirror (root object at the end)
//! ```
//!
//! The prefix is 16 bytes so that the archive starts 16-aligned whenever the whole buffer is.
//! Every field element on the wire is its canonical `u32` (`< p`), every extension element
//! [`CHALLENGE_DEGREE`](super::field::CHALLENGE_DEGREE) consecutive canonical `u32` (its coefficients over KoalaBear), every
//! digest its [`WireDigest`] form: `[u8; 32]` for Keccak (the sponge's four `u64` words,
//! little-endian), `[u8; 36]` for Poseidon1 (nine canonical `u32`, little-endian).

use p3_field::{BasedVectorSpace, PrimeField32};
use p3_merkle_tree::{MerkleCap, PrunedMerklePaths};
use rkyv::util::AlignedVec;

use super::field::{Challenge, Val};
use super::options::VerifyError;
use super::preset::Preset;
use crate::xmss::constants::P;

/// First 8 bytes of every aggregate proof.
pub const MAGIC: [u8; 8] = *b"MSIGPRF\0";

/// Current format version (bytes 8..10, little-endian), shared by both backends' formats.
/// Older versions are no longer read, their proofs are rejected as malformed: version 1
/// (degree-4 challenge field, three AIR instances), version 2 (signature AIR with cyclic
/// digit accumulators, FRI presets only) and version 3 (WHIR presets 8 and 9 with a first
/// folding of 7 variables, rate step 3 and 23 bits of grinding at every size; its FRI proofs
/// have the shape of version 4's) and version 5 (the proof bound the keys in the caller's order;
/// since version 6 it binds them in `canonical_key_order`, so a version-5 proof would fail for
/// a reason its reader could not name), version 6 (every key's root and parameter among the
/// public values and a key table in the table AIR; since version 7 the keys enter as the
/// key-set digest, `statement::key_set_digest_ordered`, and the signature AIR is 107 columns).
pub const FORMAT_VERSION: u16 = 7;

/// Length of the prefix before the rkyv archive.
pub const PREFIX_LEN: usize = 16;

/// A Merkle digest on the wire: the four `u64` words of the Keccak sponge output, little-endian.
pub(crate) type Digest = [u8; 32];

/// A [`VerifyError::Malformed`] with this message.
pub(crate) fn malformed(msg: impl Into<String>) -> VerifyError {
    VerifyError::Malformed(msg.into())
}

/// A Plonky3 Merkle digest and its fixed-size wire form.
///
/// | digest           | wire                                                    |
/// |------------------|---------------------------------------------------------|
/// | `[u64; 4]` (Keccak)    | `[u8; 32]`: the four words, little-endian          |
/// | `[Val; 9]` (Poseidon1) | `[u8; 36]`: nine canonical `u32` (`< p`), little-endian |
pub trait WireDigest: Copy + Send + Sync + 'static {
    /// The wire form.
    type Bytes: WireBytes;
    /// The wire form of this digest.
    fn to_wire(&self) -> Self::Bytes;
    /// The digest of a wire form.
    ///
    /// # Errors
    /// [`VerifyError::Malformed`] when a word is not canonical (Poseidon1 words `>= p`).
    fn from_wire(b: &Self::Bytes) -> Result<Self, VerifyError>;
}

/// A digest's wire form: a byte array that rkyv archives as itself, with no alignment and no
/// invalid values.
pub trait WireBytes:
    Copy
    + Eq
    + core::fmt::Debug
    + Send
    + Sync
    + 'static
    + rkyv::Archive<Archived = Self>
    + rkyv::Portable
    + for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rkyv::rancor::Error,
        >,
    > + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>
{
    /// The all-zero wire digest (an absent commitment).
    const ZERO: Self;
}

impl<const N: usize> WireBytes for [u8; N] {
    const ZERO: Self = [0; N];
}

impl WireDigest for [u64; 4] {
    type Bytes = [u8; 32];
    fn to_wire(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, w) in out.chunks_exact_mut(8).zip(self) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
    /// Infallible: every 32 bytes are a Keccak digest.
    fn from_wire(b: &[u8; 32]) -> Result<Self, VerifyError> {
        Ok(core::array::from_fn(|i| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[8 * i..8 * i + 8]);
            u64::from_le_bytes(w)
        }))
    }
}

impl WireDigest for [Val; 9] {
    type Bytes = [u8; 36];
    fn to_wire(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        for (chunk, v) in out.chunks_exact_mut(4).zip(self) {
            chunk.copy_from_slice(&v.as_canonical_u32().to_le_bytes());
        }
        out
    }
    fn from_wire(b: &[u8; 36]) -> Result<Self, VerifyError> {
        let mut out = [Val::new(0); 9];
        for (v, chunk) in out.iter_mut().zip(b.chunks_exact(4)) {
            let w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            *v = canonical(w, "Poseidon1 digest")?;
        }
        Ok(out)
    }
}

/// Appends the canonical coefficients of an extension element ([`CHALLENGE_DEGREE`](super::field::CHALLENGE_DEGREE) words).
pub(crate) fn push_ext(out: &mut Vec<u32>, e: &Challenge) {
    out.extend(
        BasedVectorSpace::<Val>::as_basis_coefficients_slice(e)
            .iter()
            .map(|c| c.as_canonical_u32()),
    );
}

/// [`push_ext`] for every element of `es`.
pub(crate) fn push_exts(out: &mut Vec<u32>, es: &[Challenge]) {
    for e in es {
        push_ext(out, e);
    }
}

/// The wire form of a commitment: its one root (every preset has a Merkle cap of height 0).
pub(crate) fn cap_root<D: WireDigest>(cap: &MerkleCap<Val, D>) -> D::Bytes {
    // Every preset uses a Merkle cap of height 0, i.e. exactly one root per commitment.
    cap.roots().first().map_or(D::Bytes::ZERO, D::to_wire)
}

/// The 16-byte prefix for the preset of id `preset_id` followed by `archive` (shared by both
/// backends' formats).
pub(crate) fn with_prefix(preset_id: u8, archive: &[u8]) -> Vec<u8> {
    with_prefix_of_kind(preset_id, KIND_SIGNATURES, archive)
}

/// Byte 11 of the prefix of an aggregate of signatures.
pub const KIND_SIGNATURES: u8 = 0;

/// Byte 11 of the prefix of a parent proof (an aggregate of child proofs) proved by the
/// batch STARK over FRI under the children's preset (`recursion::parent::ParentProof`).
pub const KIND_PARENT: u8 = 1;

/// Byte 11 of the prefix of a compact parent proof: the same verifier AIRs proved by the
/// multilinear STARK with a WHIR commitment (`recursion::parent::CompactParentProof`).
pub const KIND_COMPACT_PARENT: u8 = 2;

/// Byte 11 of the prefix of a Type-2 proof: one proof of several Type-1 proofs over distinct
/// (message, epoch) pairs, proved by the multilinear STARK with a WHIR commitment
/// (`recursion::type2::Type2Proof`); verified by `recursion::type2::verify_type2_bytes`, never
/// by `verify_aggregate`.
pub const KIND_TYPE2: u8 = 3;

/// Byte 11 of the prefix of a split Type-1 proof: one component of a Type-2 proof, carrying the
/// other components' statements and the Type-2 proof itself (`recursion::type2::split_type2`);
/// verified by `verify_aggregate` for that component, as any Type-1 proof is.
pub const KIND_SPLIT: u8 = 4;

/// [`with_prefix`] for a proof of `kind` ([`KIND_SIGNATURES`] or [`KIND_PARENT`]).
pub(crate) fn with_prefix_of_kind(preset_id: u8, kind: u8, archive: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX_LEN + archive.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(preset_id);
    out.push(kind);
    out.extend_from_slice(&(archive.len() as u32).to_le_bytes());
    out.extend_from_slice(archive);
    out
}

/// The prefix of an encoded aggregate of signatures, checked: returns the preset and the
/// archive bytes.
///
/// # Errors
/// [`VerifyError::Malformed`] on a short buffer, unknown magic, version or preset id, a kind
/// other than [`KIND_SIGNATURES`], or an archive length that disagrees with the buffer
/// (truncation or trailing bytes).
pub fn read_prefix(bytes: &[u8]) -> Result<(Preset, &[u8]), VerifyError> {
    read_prefix_of_kind(bytes, KIND_SIGNATURES)
}

/// The kind byte of `bytes` (offset 11) if they start with the magic and are at least a prefix
/// long, else `None`; nothing else is checked.
pub fn proof_kind(bytes: &[u8]) -> Option<u8> {
    (bytes.len() >= PREFIX_LEN && bytes[..8] == MAGIC).then(|| bytes[11])
}

/// Whether `bytes` are, by their kind byte, a proof of proofs: a parent ([`KIND_PARENT`],
/// [`KIND_COMPACT_PARENT`]), a Type-2 ([`KIND_TYPE2`]) or a split ([`KIND_SPLIT`]), which are
/// not yet children or Type-2 components. Nothing else is checked.
pub fn is_proof_of_proofs(bytes: &[u8]) -> bool {
    matches!(
        proof_kind(bytes),
        Some(KIND_PARENT | KIND_COMPACT_PARENT | KIND_TYPE2 | KIND_SPLIT)
    )
}

/// [`read_prefix`] for a proof of `kind`.
///
/// # Errors
/// As [`read_prefix`], the kind byte being compared to `kind`.
pub(crate) fn read_prefix_of_kind(bytes: &[u8], kind: u8) -> Result<(Preset, &[u8]), VerifyError> {
    if bytes.len() < PREFIX_LEN {
        return Err(malformed(format!(
            "proof is {} bytes, shorter than the {PREFIX_LEN}-byte prefix",
            bytes.len()
        )));
    }
    if bytes[..8] != MAGIC {
        return Err(malformed("unknown magic (not an aggregate proof)"));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != FORMAT_VERSION {
        return Err(malformed(format!(
            "unsupported format version {version} (this build reads {FORMAT_VERSION})"
        )));
    }
    let preset = Preset::from_id(bytes[10])
        .ok_or_else(|| malformed(format!("unknown preset id {}", bytes[10])))?;
    if bytes[11] != kind {
        return Err(malformed(match bytes[11] {
            KIND_SIGNATURES => "an aggregate of signatures, not a parent proof".to_string(),
            KIND_PARENT => "a parent proof over FRI, not this kind".to_string(),
            KIND_COMPACT_PARENT => "a compact parent proof over WHIR, not this kind".to_string(),
            KIND_TYPE2 => {
                "a Type-2 proof (several messages; verify it with its components), not this kind"
                    .to_string()
            }
            KIND_SPLIT => "a Type-1 proof split out of a Type-2 proof, not this kind".to_string(),
            k => format!("unknown proof kind {k}"),
        }));
    }
    let declared = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    let actual = bytes.len() - PREFIX_LEN;
    if declared > actual {
        return Err(malformed(format!(
            "truncated proof: archive declares {declared} bytes, {actual} present"
        )));
    }
    if declared < actual {
        return Err(malformed(format!(
            "{} trailing bytes after the archive",
            actual - declared
        )));
    }
    Ok((preset, &bytes[PREFIX_LEN..]))
}

/// Most sibling digests a pruned Merkle multiproof of `queries` query indices (repeats allowed)
/// into a binary tree of `height` levels can hold.
///
/// With `p_d` distinct path nodes at depth `d` (`p_0 = 1` the root, `p_height = k` the distinct
/// leaves), the siblings at depth `d` are the children of the `p_{d-1}` path nodes that are not
/// path nodes themselves, `2 p_{d-1} - p_d`; summed, `2 + sum_{0<d<height} p_d - k`. That grows
/// with each `p_d <= min(k, 2^d)` and, over `k`, peaks at `k = min(queries, 2^(height-1))`, which
/// gives the bound. It is exact (a test checks every query set of trees up to 16 leaves); for one
/// query it is `height`. Both envelopes check their multiproofs against it, and
/// [`max_encoded_len`] charges it.
pub fn max_multiproof_siblings(queries: usize, height: usize) -> usize {
    if height == 0 || queries == 0 {
        return 0;
    }
    let level = |d: usize| {
        if d >= usize::BITS as usize - 1 {
            usize::MAX
        } else {
            1usize << d
        }
    };
    let k = queries.min(level(height - 1));
    (1..height)
        .map(|d| k.min(level(d)))
        .fold(2usize, usize::saturating_add)
        - k
}

/// `Malformed` unless a decoded count equals the one the shape implies (both envelopes use it).
pub(crate) fn check_len(what: &str, got: usize, expected: usize) -> Result<(), VerifyError> {
    if got == expected {
        Ok(())
    } else {
        Err(malformed(format!(
            "{what}: {got} entries, expected {expected}"
        )))
    }
}

/// `Malformed` unless a decoded count is within its bound (both envelopes use it).
pub(crate) fn check_at_most(what: &str, got: usize, bound: usize) -> Result<(), VerifyError> {
    if got <= bound {
        Ok(())
    } else {
        Err(malformed(format!(
            "{what}: {got} entries, at most {bound} possible"
        )))
    }
}

/// The field element of a canonical word; `Malformed` for a word `>= p`.
pub(crate) fn canonical(w: u32, what: &str) -> Result<Val, VerifyError> {
    if w >= P {
        return Err(malformed(format!(
            "{what}: non-canonical field element {w:#x} >= p"
        )));
    }
    Ok(Val::new(w))
}

/// A one-digest Merkle cap (the root) from its wire form.
///
/// # Errors
/// [`VerifyError::Malformed`] for a non-canonical digest word.
pub(crate) fn cap_from_wire<D: WireDigest>(d: &D::Bytes) -> Result<MerkleCap<Val, D>, VerifyError> {
    Ok(MerkleCap::new(vec![D::from_wire(d)?]))
}

/// The sibling digests of a pruned Merkle multiproof in wire form, in its order.
pub(crate) fn paths_to_wire<W, const N: usize>(p: &PrunedMerklePaths<W, N>) -> Vec<<[W; N] as WireDigest>::Bytes>
where
    [W; N]: WireDigest,
{
    p.sibling_hashes.iter().map(WireDigest::to_wire).collect()
}

/// A pruned Merkle multiproof from its wire form.
///
/// # Errors
/// [`VerifyError::Malformed`] for a non-canonical digest word.
pub(crate) fn paths_from_wire<W, const N: usize>(
    ps: &[<[W; N] as WireDigest>::Bytes],
) -> Result<PrunedMerklePaths<W, N>, VerifyError>
where
    [W; N]: WireDigest,
{
    Ok(PrunedMerklePaths {
        sibling_hashes: ps.iter().map(<[W; N]>::from_wire).collect::<Result<_, _>>()?,
    })
}

/// Runs `f` on `archive` 16-aligned, as rkyv's validation needs: in place when the caller's
/// buffer already is (no copy), otherwise on one aligned copy of it (the only copy before
/// validation). Shared by both backends' decoders.
pub(crate) fn on_aligned<R>(archive: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    if (archive.as_ptr() as usize).is_multiple_of(16) {
        f(archive)
    } else {
        let mut copy = AlignedVec::<16>::with_capacity(archive.len());
        copy.extend_from_slice(archive);
        f(&copy)
    }
}

/// Validates `archive` as an rkyv archive of `A` (16-aligned first, see [`on_aligned`]) and runs
/// `f` on the validated root: the decode sequence both proof formats share.
///
/// # Errors
/// [`VerifyError::Malformed`] if the archive does not validate, or `f`'s error.
pub(crate) fn decode_archive<A, R>(
    archive: &[u8],
    f: impl FnOnce(&A) -> Result<R, VerifyError>,
) -> Result<R, VerifyError>
where
    A: rkyv::Portable
        + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>,
{
    on_aligned(archive, |archive| {
        let body = rkyv::access::<A, rkyv::rancor::Error>(archive)
            .map_err(|err| malformed(format!("archive does not validate: {err}")))?;
        f(body)
    })
}

/// The decode sequence every proof format shares: the prefix ([`read_prefix`]); the preset,
/// which must be of this format's proof system (`select`, else `Malformed` saying `wrong_kind`);
/// the archive, validated as an rkyv archive of `A` ([`decode_archive`]) and read by `read` into
/// the proof; canonicity (`encode` of the proof must give back `bytes`, [`check_canonical`]).
///
/// # Errors
/// [`VerifyError::Malformed`] from any step.
pub(crate) fn decode_with<P, A, T>(
    bytes: &[u8],
    select: fn(&Preset) -> Option<P>,
    wrong_kind: &str,
    read: impl FnOnce(&P, &A) -> Result<T, VerifyError>,
    encode: impl FnOnce(&P, &T) -> Vec<u8>,
) -> Result<(P, T), VerifyError>
where
    A: rkyv::Portable
        + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>,
{
    let (preset, archive) = read_prefix(bytes)?;
    let p = select(&preset)
        .ok_or_else(|| malformed(format!("preset {} is {wrong_kind}", preset.id())))?;
    let proof = decode_archive(archive, |body: &A| read(&p, body))?;
    check_canonical(&encode(&p, &proof), bytes)?;
    Ok((p, proof))
}

/// Canonicity: `Malformed` unless re-encoding the decoded proof gave back the input, so that
/// exactly one byte string is accepted for each proof.
pub(crate) fn check_canonical(reencoded: &[u8], input: &[u8]) -> Result<(), VerifyError> {
    if reencoded == input {
        Ok(())
    } else {
        Err(malformed("non-canonical encoding (re-encoding differs)"))
    }
}

#[cfg(test)]
mod tests {
    use super::max_multiproof_siblings;

    /// Sibling digests a pruned multiproof needs for the leaves in `set` (bit `i` = leaf `i`) of a
    /// binary tree of `height` levels: at every level, the siblings of path nodes that are not
    /// path nodes themselves.
    fn siblings_needed(set: u32, height: usize) -> usize {
        let mut nodes: Vec<usize> = (0..1usize << height)
            .filter(|i| set >> i & 1 == 1)
            .collect();
        let mut count = 0;
        for _ in 0..height {
            count += nodes.iter().filter(|&&n| !nodes.contains(&(n ^ 1))).count();
            nodes = nodes.iter().map(|n| n / 2).collect();
            nodes.dedup();
        }
        count
    }

    #[test]
    fn multiproof_bound_is_the_exact_worst_case_on_small_trees() {
        for height in 0..=4usize {
            let leaves = 1u32 << height;
            // worst[q]: the most siblings over the sets of at most q distinct leaves (q queries,
            // repeats allowed, hit at most q distinct leaves).
            let mut worst = vec![0usize; leaves as usize + 1];
            for set in 1u64..(1u64 << leaves) {
                let set = set as u32;
                let q = set.count_ones() as usize;
                worst[q] = worst[q].max(siblings_needed(set, height));
            }
            for q in 1..=leaves as usize {
                worst[q] = worst[q].max(worst[q - 1]);
                // The bound holds for every query set, and some query set meets it.
                assert_eq!(
                    worst[q],
                    max_multiproof_siblings(q, height),
                    "height {height}, {q} queries"
                );
            }
        }
        // Repeated query indices only shrink the union, so more queries than leaves change nothing.
        assert_eq!(
            max_multiproof_siblings(100, 4),
            max_multiproof_siblings(16, 4)
        );
        assert_eq!(max_multiproof_siblings(1, 20), 20);
        assert_eq!(max_multiproof_siblings(76, 0), 0);
        // 76 queries into 2^18 leaves: at most 888 digests, 480 fewer than 76 full paths.
        assert_eq!(max_multiproof_siblings(76, 18), 888);
    }
}
