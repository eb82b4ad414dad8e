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
    XmssError::Malformed { what, reason: reason.into() }
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
        return Err(malformed(what, format!("expected {} bytes, got {}", N * FE_BYTES, bytes.len())));
    }
    let mut out = [F::new(0); N];
    for (i, chunk) in bytes.chunks_exact(FE_BYTES).enumerate() {
        let v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        if v >= P {
            return Err(malformed(what, format!("field element {i} is {v}, not below p = {P}")));
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
    if bytes.len() % DIGEST_BYTES != 0 {
        return Err(malformed(what, format!("{} bytes is not a whole number of digests", bytes.len())));
    }
    bytes.chunks_exact(DIGEST_BYTES).map(|c| get_fes::<HASH_LEN_FE>(c, what)).collect()
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
        return Err(malformed("public key", format!("expected 52 bytes, got {}", bytes.len())));
    }
    let root = get_fes::<HASH_LEN_FE>(&bytes[..DIGEST_BYTES], "public key root")?;
    let parameter: Parameter = get_fes::<PARAMETER_LEN>(&bytes[DIGEST_BYTES..], "public key parameter")?;
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
        return Err(malformed(W, format!("{} bytes is shorter than the fixed part", bytes.len())));
    }
    let off_path = get_u32(bytes, 0) as usize;
    let off_hashes = get_u32(bytes, sig_layout::FIXED - OFFSET_BYTES) as usize;
    if off_path != sig_layout::PATH {
        return Err(malformed(W, format!("path offset {off_path}, expected {}", sig_layout::PATH)));
    }
    if off_hashes < off_path || off_hashes > bytes.len() {
        return Err(malformed(W, format!("hashes offset {off_hashes} out of bounds")));
    }
    if off_hashes != sig_layout::HASHES {
        return Err(malformed(W, format!("hashes offset {off_hashes}: the path must hold {LOG_LIFETIME} siblings")));
    }
    if bytes.len() != SIGNATURE_SSZ_LEN {
        return Err(malformed(W, format!("{} bytes: expected {SIGNATURE_SSZ_LEN} ({DIMENSION} chain hashes)", bytes.len())));
    }
    let rho = get_fes::<RAND_LEN_FE>(&bytes[OFFSET_BYTES..OFFSET_BYTES + RAND_LEN_FE * FE_BYTES], "signature rho")?;
    let path_bytes = &bytes[off_path..off_hashes];
    let inner = get_u32(path_bytes, 0) as usize;
    if inner != OFFSET_BYTES {
        return Err(malformed(W, format!("path siblings offset {inner}, expected 4")));
    }
    let siblings = get_digest_list(&path_bytes[OFFSET_BYTES..], "signature path")?;
    let hashes = get_digest_list(&bytes[off_hashes..], "signature hashes")?;
    Ok(Signature {
        path: siblings.try_into().map_err(|_| malformed(W, "path length"))?,
        rho,
        hashes: hashes.try_into().map_err(|_| malformed(W, "hashes length"))?,
    })
}
