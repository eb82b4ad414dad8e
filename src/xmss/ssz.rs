//! SSZ encoding of public keys, signatures and secret keys, byte-compatible with leanSig
//! (`ethereum_ssz` containers in `src/signature/generalized_xmss.rs`,
//! `src/symmetric/tweak_hash_tree.rs`, `src/array.rs`).
//!
//! Field elements are 4 bytes little-endian in canonical form (value `< p`, not Montgomery).
//! Offsets are 4-byte little-endian `u32`, counted from the start of the enclosing container.
//! Decoding is strict: every length, every offset and every field element is checked, and any
//! deviation from the encoding leanSig writes yields [`XmssError::Malformed`]; it never panics.

use p3_field::PrimeField32;

use super::constants::{DIMENSION, HASH_LEN_FE, LOG_LIFETIME, P, PARAMETER_LEN, RAND_LEN_FE};
use super::{Digest, Parameter, PublicKey, Signature, XmssError, F, SIGNATURE_SSZ_LEN};

/// Bytes of one encoded field element.
pub const FE_BYTES: usize = 4;
/// Bytes of one encoded digest.
pub const DIGEST_BYTES: usize = HASH_LEN_FE * FE_BYTES;
/// Bytes of an SSZ offset.
pub const OFFSET_BYTES: usize = 4;

/// Signature layout: offset of `path` (= 36), rho (28 bytes), offset of `hashes` (= 1064),
/// then `path` = { offset of `siblings` (= 4), 32 digests }, then 46 digests.
pub mod sig_layout {
    use super::*;
    /// Fixed part of the signature container: offset + rho + offset.
    pub const FIXED: usize = OFFSET_BYTES + RAND_LEN_FE * FE_BYTES + OFFSET_BYTES;
    /// Offset of the path container.
    pub const PATH: usize = FIXED;
    /// Length of the path container: its inner offset + 32 siblings.
    pub const PATH_LEN: usize = OFFSET_BYTES + LOG_LIFETIME * DIGEST_BYTES;
    /// Offset of the hashes list.
    pub const HASHES: usize = PATH + PATH_LEN;
    /// Total length.
    pub const TOTAL: usize = HASHES + DIMENSION * DIGEST_BYTES;
}
const _: () = assert!(sig_layout::TOTAL == SIGNATURE_SSZ_LEN);

pub(crate) fn malformed(what: &'static str, reason: impl Into<String>) -> XmssError {
    XmssError::Malformed {
        what,
        reason: reason.into(),
    }
}

/// Appends a field element (canonical u32, little-endian).
pub fn put_fe(buf: &mut Vec<u8>, x: &F) {
    buf.extend_from_slice(&x.as_canonical_u32().to_le_bytes());
}

/// Appends field elements in order.
pub fn put_fes(buf: &mut Vec<u8>, xs: &[F]) {
    for x in xs {
        put_fe(buf, x);
    }
}

/// Reads `N` canonical field elements from exactly `4N` bytes.
pub fn get_fes<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[F; N], XmssError> {
    if bytes.len() != N * FE_BYTES {
        return Err(malformed(
            what,
            format!("expected {} bytes, got {}", N * FE_BYTES, bytes.len()),
        ));
    }
    let mut out = [F::new(0); N];
    for (i, chunk) in bytes.chunks_exact(FE_BYTES).enumerate() {
        let v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        if v >= P {
            return Err(malformed(
                what,
                format!("field element {i} is {v}, not below p = {P}"),
            ));
        }
        out[i] = F::new(v);
    }
    Ok(out)
}

/// Reads a little-endian u32 at `at` (caller guarantees `at + 4 <= bytes.len()`).
pub(crate) fn get_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads a little-endian u64 at `at` (caller guarantees `at + 8 <= bytes.len()`).
pub(crate) fn get_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Reads a list of digests (an SSZ list of fixed-size items: plain concatenation).
pub fn get_digest_list(bytes: &[u8], what: &'static str) -> Result<Vec<Digest>, XmssError> {
    if !bytes.len().is_multiple_of(DIGEST_BYTES) {
        return Err(malformed(
            what,
            format!("{} bytes is not a whole number of digests", bytes.len()),
        ));
    }
    bytes
        .chunks_exact(DIGEST_BYTES)
        .map(|c| get_fes::<HASH_LEN_FE>(c, what))
        .collect()
}

/// Public key: `root (8 FE) | parameter (5 FE)`, 52 bytes.
pub fn encode_public_key(pk: &PublicKey) -> [u8; super::PUBLIC_KEY_SSZ_LEN] {
    let mut buf = Vec::with_capacity(super::PUBLIC_KEY_SSZ_LEN);
    put_fes(&mut buf, &pk.root);
    put_fes(&mut buf, &pk.parameter);
    buf.try_into().expect("52 bytes by construction")
}

/// Decodes a 52-byte public key.
pub fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, XmssError> {
    if bytes.len() != super::PUBLIC_KEY_SSZ_LEN {
        return Err(malformed(
            "public key",
            format!("expected 52 bytes, got {}", bytes.len()),
        ));
    }
    let root = get_fes::<HASH_LEN_FE>(&bytes[..DIGEST_BYTES], "public key root")?;
    let parameter: Parameter =
        get_fes::<PARAMETER_LEN>(&bytes[DIGEST_BYTES..], "public key parameter")?;
    Ok(PublicKey { root, parameter })
}

/// Signature: container `{ path: { siblings: List[Digest] }, rho: [F; 7], hashes: List[Digest] }`,
/// 2536 bytes (see [`sig_layout`]).
pub fn encode_signature(sig: &Signature) -> Vec<u8> {
    let mut buf = Vec::with_capacity(SIGNATURE_SSZ_LEN);
    buf.extend_from_slice(&(sig_layout::PATH as u32).to_le_bytes());
    put_fes(&mut buf, &sig.rho);
    buf.extend_from_slice(&(sig_layout::HASHES as u32).to_le_bytes());
    buf.extend_from_slice(&(OFFSET_BYTES as u32).to_le_bytes());
    for d in &sig.path {
        put_fes(&mut buf, d);
    }
    for d in &sig.hashes {
        put_fes(&mut buf, d);
    }
    debug_assert_eq!(buf.len(), SIGNATURE_SSZ_LEN);
    buf
}

/// Decodes a signature. Rejects any length other than 2536, offsets other than 36 / 1064 / 4
/// (so a path that is not 32 siblings or a hash list that is not 46 digests), and non-canonical
/// field elements.
pub fn decode_signature(bytes: &[u8]) -> Result<Signature, XmssError> {
    const W: &str = "signature";
    if bytes.len() < sig_layout::FIXED {
        return Err(malformed(
            W,
            format!("{} bytes is shorter than the fixed part", bytes.len()),
        ));
    }
    let off_path = get_u32(bytes, 0) as usize;
    let off_hashes = get_u32(bytes, sig_layout::FIXED - OFFSET_BYTES) as usize;
    if off_path != sig_layout::PATH {
        return Err(malformed(
            W,
            format!("path offset {off_path}, expected {}", sig_layout::PATH),
        ));
    }
    if off_hashes < off_path || off_hashes > bytes.len() {
        return Err(malformed(
            W,
            format!("hashes offset {off_hashes} out of bounds"),
        ));
    }
    if off_hashes != sig_layout::HASHES {
        return Err(malformed(
            W,
            format!("hashes offset {off_hashes}: the path must hold {LOG_LIFETIME} siblings"),
        ));
    }
    if bytes.len() != SIGNATURE_SSZ_LEN {
        return Err(malformed(
            W,
            format!(
                "{} bytes: expected {SIGNATURE_SSZ_LEN} ({DIMENSION} chain hashes)",
                bytes.len()
            ),
        ));
    }
    let rho = get_fes::<RAND_LEN_FE>(
        &bytes[OFFSET_BYTES..OFFSET_BYTES + RAND_LEN_FE * FE_BYTES],
        "signature rho",
    )?;
    let path_bytes = &bytes[off_path..off_hashes];
    let inner = get_u32(path_bytes, 0) as usize;
    if inner != OFFSET_BYTES {
        return Err(malformed(
            W,
            format!("path siblings offset {inner}, expected 4"),
        ));
    }
    let siblings = get_digest_list(&path_bytes[OFFSET_BYTES..], "signature path")?;
    let hashes = get_digest_list(&bytes[off_hashes..], "signature hashes")?;
    Ok(Signature {
        path: siblings
            .try_into()
            .map_err(|_| malformed(W, "path length"))?,
        rho,
        hashes: hashes
            .try_into()
            .map_err(|_| malformed(W, "hashes length"))?,
    })
}

// ---------------------------------------------------------------------------------------------
// Secret key
// ---------------------------------------------------------------------------------------------

use super::constants::{LEAVES_PER_BOTTOM_TREE, LIFETIME, PRF_KEY_LEN};
use super::tree::{HashSubTree, HashTreeLayer};
use super::SecretKey;

/// Fixed part of a secret key: prf_key (32) | parameter (20) | activation_epoch (8) |
/// num_active_epochs (8) | offset top_tree (4) | left_bottom_tree_index (8) |
/// offset left_bottom_tree (4) | offset right_bottom_tree (4) = 88 bytes.
pub const SECRET_KEY_FIXED: usize = PRF_KEY_LEN + PARAMETER_LEN * FE_BYTES + 8 + 8 + 4 + 8 + 4 + 4;
/// Fixed part of a `HashSubTree`: depth (8) | lowest_layer (8) | offset of layers (4).
const SUBTREE_FIXED: usize = 20;
/// Fixed part of a `HashTreeLayer`: start_index (8) | offset of nodes (4).
const LAYER_FIXED: usize = 12;

fn layer_len(l: &HashTreeLayer) -> usize {
    LAYER_FIXED + l.nodes.len() * DIGEST_BYTES
}

fn subtree_len(t: &HashSubTree) -> usize {
    SUBTREE_FIXED
        + t.layers
            .iter()
            .map(|l| OFFSET_BYTES + layer_len(l))
            .sum::<usize>()
}

/// `HashSubTree` container: `depth u64 | lowest_layer u64 | offset (= 20) | layers`, where
/// `layers` is an SSZ list of variable-size items (one u32 offset per layer, relative to the list
/// start, then the layers), and a layer is `start_index u64 | offset (= 12) | nodes`.
pub fn encode_subtree(t: &HashSubTree, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&t.depth.to_le_bytes());
    buf.extend_from_slice(&t.lowest_layer.to_le_bytes());
    buf.extend_from_slice(&(SUBTREE_FIXED as u32).to_le_bytes());
    let mut offset = OFFSET_BYTES * t.layers.len();
    for l in &t.layers {
        buf.extend_from_slice(&(offset as u32).to_le_bytes());
        offset += layer_len(l);
    }
    for l in &t.layers {
        buf.extend_from_slice(&l.start_index.to_le_bytes());
        buf.extend_from_slice(&(LAYER_FIXED as u32).to_le_bytes());
        for d in &l.nodes {
            put_fes(buf, d);
        }
    }
}

/// Splits an SSZ list of variable-size items into the items' byte ranges.
fn split_variable_list<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<Vec<&'a [u8]>, XmssError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if bytes.len() < OFFSET_BYTES {
        return Err(malformed(what, "list shorter than one offset"));
    }
    let first = get_u32(bytes, 0) as usize;
    if !first.is_multiple_of(OFFSET_BYTES) || first == 0 || first > bytes.len() {
        return Err(malformed(
            what,
            format!("first list offset {first} invalid"),
        ));
    }
    let n = first / OFFSET_BYTES;
    let mut offsets = Vec::with_capacity(n + 1);
    for i in 0..n {
        offsets.push(get_u32(bytes, i * OFFSET_BYTES) as usize);
    }
    offsets.push(bytes.len());
    let mut items = Vec::with_capacity(n);
    if offsets.iter().any(|&o| o > bytes.len()) {
        return Err(malformed(what, "list offset past the end"));
    }
    for w in offsets.windows(2) {
        if w[0] > w[1] {
            return Err(malformed(
                what,
                format!("list offsets decrease ({} > {})", w[0], w[1]),
            ));
        }
        items.push(&bytes[w[0]..w[1]]);
    }
    Ok(items)
}

/// Decodes a `HashSubTree` (no shape checks beyond the encoding; see [`decode_secret_key`]).
pub fn decode_subtree(bytes: &[u8], what: &'static str) -> Result<HashSubTree, XmssError> {
    if bytes.len() < SUBTREE_FIXED {
        return Err(malformed(what, "shorter than its fixed part"));
    }
    let depth = get_u64(bytes, 0);
    let lowest_layer = get_u64(bytes, 8);
    if get_u32(bytes, 16) as usize != SUBTREE_FIXED {
        return Err(malformed(what, "layers offset is not 20"));
    }
    let layers = split_variable_list(&bytes[SUBTREE_FIXED..], what)?
        .into_iter()
        .map(|lb| {
            if lb.len() < LAYER_FIXED {
                return Err(malformed(what, "layer shorter than its fixed part"));
            }
            if get_u32(lb, 8) as usize != LAYER_FIXED {
                return Err(malformed(what, "layer nodes offset is not 12"));
            }
            Ok(HashTreeLayer {
                start_index: get_u64(lb, 0),
                nodes: get_digest_list(&lb[LAYER_FIXED..], what)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HashSubTree {
        depth,
        lowest_layer,
        layers,
    })
}

/// Secret key: fixed part of [`SECRET_KEY_FIXED`] bytes, then top tree, left bottom tree, right
/// bottom tree (leanSig `GeneralizedXMSSSecretKey` SSZ).
pub fn encode_secret_key(sk: &SecretKey) -> Vec<u8> {
    let top = subtree_len(&sk.top_tree);
    let left = subtree_len(&sk.left_bottom_tree);
    let mut buf =
        Vec::with_capacity(SECRET_KEY_FIXED + top + left + subtree_len(&sk.right_bottom_tree));
    buf.extend_from_slice(&sk.prf_key);
    put_fes(&mut buf, &sk.parameter);
    buf.extend_from_slice(&sk.activation_epoch.to_le_bytes());
    buf.extend_from_slice(&sk.num_active_epochs.to_le_bytes());
    buf.extend_from_slice(&(SECRET_KEY_FIXED as u32).to_le_bytes());
    buf.extend_from_slice(&sk.left_bottom_tree_index.to_le_bytes());
    buf.extend_from_slice(&((SECRET_KEY_FIXED + top) as u32).to_le_bytes());
    buf.extend_from_slice(&((SECRET_KEY_FIXED + top + left) as u32).to_le_bytes());
    encode_subtree(&sk.top_tree, &mut buf);
    encode_subtree(&sk.left_bottom_tree, &mut buf);
    encode_subtree(&sk.right_bottom_tree, &mut buf);
    buf
}

/// Decodes a secret key and checks it has the shape key generation gives (so signing with it
/// cannot fail on a missing node): depth 32; activation interval of whole bottom trees inside
/// `[0, 2^32)`, at least two; the prepared window inside it; bottom trees with 17 layers, layer
/// `l` starting at `index * 2^(16-l)` with `2^(16-l)` nodes; a top tree with 17 layers from
/// level 16, each starting at an even index with an even number of nodes covering the
/// activation interval's bottom trees.
pub fn decode_secret_key(bytes: &[u8]) -> Result<SecretKey, XmssError> {
    let sk = decode_secret_key_layout(bytes)?;
    check_secret_key_shape(&sk)?;
    Ok(sk)
}

/// The encoding part of [`decode_secret_key`]: lengths, offsets and field elements, without
/// the production tree-shape check (so keys of leanSig's smaller test instantiations decode).
pub(crate) fn decode_secret_key_layout(bytes: &[u8]) -> Result<SecretKey, XmssError> {
    const W: &str = "secret key";
    if bytes.len() < SECRET_KEY_FIXED {
        return Err(malformed(
            W,
            format!("{} bytes is shorter than the fixed part", bytes.len()),
        ));
    }
    let mut prf_key = [0u8; PRF_KEY_LEN];
    prf_key.copy_from_slice(&bytes[..PRF_KEY_LEN]);
    let mut at = PRF_KEY_LEN;
    let parameter = get_fes::<PARAMETER_LEN>(
        &bytes[at..at + PARAMETER_LEN * FE_BYTES],
        "secret key parameter",
    )?;
    at += PARAMETER_LEN * FE_BYTES;
    let activation_epoch = get_u64(bytes, at);
    let num_active_epochs = get_u64(bytes, at + 8);
    let off_top = get_u32(bytes, at + 16) as usize;
    let left_bottom_tree_index = get_u64(bytes, at + 20);
    let off_left = get_u32(bytes, at + 28) as usize;
    let off_right = get_u32(bytes, at + 32) as usize;
    if off_top != SECRET_KEY_FIXED {
        return Err(malformed(
            W,
            format!("top tree offset {off_top}, expected {SECRET_KEY_FIXED}"),
        ));
    }
    if off_top > off_left || off_left > off_right || off_right > bytes.len() {
        return Err(malformed(
            W,
            format!("offsets {off_top} / {off_left} / {off_right} out of order or bounds"),
        ));
    }
    let top_tree = decode_subtree(&bytes[off_top..off_left], "secret key top tree")?;
    let left_bottom_tree =
        decode_subtree(&bytes[off_left..off_right], "secret key left bottom tree")?;
    let right_bottom_tree = decode_subtree(&bytes[off_right..], "secret key right bottom tree")?;
    Ok(SecretKey {
        prf_key,
        parameter,
        activation_epoch,
        num_active_epochs,
        top_tree,
        left_bottom_tree_index,
        left_bottom_tree,
        right_bottom_tree,
    })
}

fn check_secret_key_shape(sk: &SecretKey) -> Result<(), XmssError> {
    const W: &str = "secret key";
    let c = LEAVES_PER_BOTTOM_TREE;
    let half = (LOG_LIFETIME / 2) as u64;
    let end = sk
        .activation_epoch
        .checked_add(sk.num_active_epochs)
        .filter(|&e| e <= LIFETIME);
    let Some(end) = end else {
        return Err(malformed(W, "activation interval passes 2^32"));
    };
    if !sk.activation_epoch.is_multiple_of(c)
        || !sk.num_active_epochs.is_multiple_of(c)
        || sk.num_active_epochs < 2 * c
    {
        return Err(malformed(
            W,
            "activation interval is not at least two whole bottom trees",
        ));
    }
    let (first, last) = (sk.activation_epoch / c, end / c);
    let left = sk.left_bottom_tree_index;
    if left < first || left.checked_add(2).is_none_or(|r| r > last) {
        return Err(malformed(
            W,
            "prepared window outside the activation interval",
        ));
    }
    for (tree, index) in [
        (&sk.left_bottom_tree, left),
        (&sk.right_bottom_tree, left + 1),
    ] {
        if tree.depth != LOG_LIFETIME as u64
            || tree.lowest_layer != 0
            || tree.layers.len() != half as usize + 1
        {
            return Err(malformed(
                W,
                "bottom tree depth, lowest layer or layer count",
            ));
        }
        for (l, layer) in tree.layers.iter().enumerate() {
            let want_len = if l as u64 == half {
                1
            } else {
                1usize << (half as usize - l)
            };
            let want_start = index << (half as usize - l);
            if layer.start_index != want_start || layer.nodes.len() != want_len {
                return Err(malformed(W, format!("bottom tree {index} layer {l} shape")));
            }
        }
    }
    let top = &sk.top_tree;
    if top.depth != LOG_LIFETIME as u64
        || top.lowest_layer != half
        || top.layers.len() != half as usize + 1
    {
        return Err(malformed(W, "top tree depth, lowest layer or layer count"));
    }
    let (mut lo, mut hi) = (first, last);
    for (l, layer) in top.layers.iter().enumerate() {
        let n = layer.nodes.len() as u64;
        let covers =
            layer.start_index <= lo && layer.start_index.checked_add(n).is_some_and(|e| e >= hi);
        if layer.start_index % 2 != 0 || !n.is_multiple_of(2) || n == 0 || !covers {
            return Err(malformed(W, format!("top tree layer {l} shape")));
        }
        lo >>= 1;
        hi = (hi + 1) >> 1;
    }
    Ok(())
}
