//! leanSig's generalized XMSS, instantiation `SIGAbortingTargetSumLifetime32Dim46Base8`
//! (leanSig c08a3ba "Devnet 4", leanSpec `spec/crypto/xmss/`), byte-compatible with leanSig.
//!
//! Where to find what:
//! - [`constants`]: every constant of the instantiation, with its source;
//! - [`poseidon`]: Poseidon1 KoalaBear widths 16 / 24, feed-forward compression, leaf sponge and
//!   its capacity value;
//! - [`tweak`]: chain, tree and message tweaks;
//! - [`hash`]: chain step and walk, Merkle node, leaf sponge, Merkle path (with the exact
//!   permutation input layouts an AIR needs);
//! - [`message`]: message encoding, message hash, aborting hypercube decode, target sum;
//! - [`prf`]: SHAKE128 PRF for chain starts and rho;
//! - [`verify`]: verification split into [`codeword`], [`chain_ends`], leaf and root;
//! - [`keygen`], [`tree`]: key generation (top / bottom trees, sliding window) and signing;
//! - [`ssz`]: SSZ of public keys, signatures and secret keys;
//! - [`bench_keys`]: benchmark-only signers (not keys; see its docs).
//!
//! Verification of one signature, in order: message hash of `(parameter, epoch, rho, message)`
//! decoded to a 46-digit codeword summing to 200; chain `i` walked from `hashes[i]` at position
//! `codeword[i]` to position 7; the 46 ends hashed by the leaf sponge; 32 Merkle levels with the
//! epoch's bits; the result compared with the root.

use p3_koala_bear::KoalaBear;

pub mod bench_keys;
pub mod constants;
pub mod hash;
pub mod keygen;
pub mod message;
pub mod poseidon;
pub mod prf;
pub mod ssz;
pub mod tree;
pub mod tweak;
pub mod verify;

#[cfg(test)]
mod leanspec_keys_test;

pub use verify::{chain_ends, codeword};

/// The base field, KoalaBear (p = 2^31 - 2^24 + 1).
pub type F = KoalaBear;
/// A hash digest: 8 field elements.
pub type Digest = [F; 8];
/// The public parameter of a key: 5 field elements.
pub type Parameter = [F; 5];

/// SSZ length of a public key, bytes.
pub const PUBLIC_KEY_SSZ_LEN: usize = 52;
/// SSZ length of a signature, bytes.
pub const SIGNATURE_SSZ_LEN: usize = 2536;

/// Errors from decoding, key generation and signing.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum XmssError {
    /// Malformed SSZ bytes (wrong length, bad offset, non-canonical field element).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which object or field.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The epoch is outside the key's prepared or active range.
    #[error("epoch {epoch} is outside the key's usable range")]
    EpochOutOfRange {
        /// The epoch asked for.
        epoch: u32,
    },
    /// Invalid key-generation arguments.
    #[error("invalid key generation arguments: {0}")]
    InvalidKeygen(String),
    /// Signing failed (for example, no non-aborting rho found).
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A public key: Merkle root and parameter (SSZ: 52 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicKey {
    /// Root of the key's Merkle tree (level 32).
    pub root: Digest,
    /// The public parameter, absorbed by every hash of the key.
    pub parameter: Parameter,
}

/// A signature (SSZ: 2536 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Merkle co-path of the epoch's leaf: `path[l]` is the sibling at level `l` (0 = leaves).
    pub path: [Digest; 32],
    /// The message-hash randomness.
    pub rho: [F; 7],
    /// `hashes[i]` is chain `i`'s value at position `codeword[i]`.
    pub hashes: [Digest; 46],
}

/// A secret key, laid out as leanSig's `GeneralizedXMSSSecretKey`: PRF key, parameter, the
/// activation interval (whole bottom trees), the top tree and the two bottom trees of the
/// prepared window. Obtained only from [`keygen`] or by decoding leanSig's SSZ bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    pub(crate) prf_key: [u8; 32],
    pub(crate) parameter: Parameter,
    pub(crate) activation_epoch: u64,
    pub(crate) num_active_epochs: u64,
    pub(crate) top_tree: tree::HashSubTree,
    pub(crate) left_bottom_tree_index: u64,
    pub(crate) left_bottom_tree: tree::HashSubTree,
    pub(crate) right_bottom_tree: tree::HashSubTree,
}

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecretKey")
            .field("public_key", &self.public_key())
            .field("activation_interval", &self.activation_interval())
            .field("prepared_interval", &self.prepared_interval())
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// SSZ encoding: `root (8 FE) | parameter (5 FE)`, 52 bytes, each FE 4 bytes little-endian.
    pub fn to_ssz(&self) -> [u8; PUBLIC_KEY_SSZ_LEN] {
        ssz::encode_public_key(self)
    }
    /// Decodes 52 SSZ bytes. Errors: [`XmssError::Malformed`] on a wrong length or a field
    /// element `>= p`.
    pub fn from_ssz(bytes: &[u8]) -> Result<Self, XmssError> {
        ssz::decode_public_key(bytes)
    }
}

impl Signature {
    /// SSZ encoding as leanSig writes it, 2536 bytes (layout in [`ssz::sig_layout`]).
    pub fn to_ssz(&self) -> Vec<u8> {
        ssz::encode_signature(self)
    }
    /// Decodes SSZ bytes. Errors: [`XmssError::Malformed`] on a wrong length, an offset other
    /// than leanSig's, a path that is not 32 siblings, not 46 chain hashes, or a field element `>= p`.
    pub fn from_ssz(bytes: &[u8]) -> Result<Self, XmssError> {
        ssz::decode_signature(bytes)
    }
}

impl SecretKey {
    /// SSZ encoding in leanSig's layout (see [`ssz::encode_secret_key`]); about 8.4 MB.
    pub fn to_ssz(&self) -> Vec<u8> {
        ssz::encode_secret_key(self)
    }
    /// Decodes leanSig's SSZ layout. Errors: [`XmssError::Malformed`] on any wrong length or
    /// offset, non-canonical field element, or tree shape other than the one key generation
    /// produces.
    pub fn from_ssz(bytes: &[u8]) -> Result<Self, XmssError> {
        ssz::decode_secret_key(bytes)
    }
    /// The public key: the top tree's root and the parameter.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            root: self.top_tree.root().unwrap_or([F::new(0); 8]),
            parameter: self.parameter,
        }
    }
}

/// Production key generation (leanSig `key_gen`), deterministic in `seed`; see [`keygen::keygen`].
pub fn keygen(
    seed: [u8; 32],
    activation_epoch: u64,
    num_active_epochs: u64,
) -> Result<(PublicKey, SecretKey), XmssError> {
    keygen::keygen(seed, activation_epoch, num_active_epochs)
}

/// Deterministic signing (leanSig `sign`); see [`keygen::sign`].
pub fn sign(sk: &SecretKey, epoch: u32, message: &[u8; 32]) -> Result<Signature, XmssError> {
    keygen::sign(sk, epoch, message)
}

/// Verification (leanSig `verify`): true iff `sig` is a valid signature of `message` at `epoch`
/// under `pk`. See [`verify::verify`] for the steps.
pub fn verify(pk: &PublicKey, epoch: u32, message: &[u8; 32], sig: &Signature) -> bool {
    verify::verify(pk, epoch, message, sig)
}
