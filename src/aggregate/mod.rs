//! Aggregation of many XMSS signatures on one message and epoch into one STARK proof.
//!
//! SKELETON: placeholders that the aggregation implementation replaces; names and shapes are the
//! contract the CLI and the C glue build on.

use crate::xmss::{PublicKey, Signature};

/// Soundness regime of a preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Regime {
    /// Provable soundness (Johnson bound).
    #[default]
    Proven,
    /// Conjectured (up-to-capacity) soundness.
    Conjectured,
}

/// Options for [`Aggregator::prove`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ProveOptions {
    pub regime: Regime,
    /// log2 of the FRI blowup, 1..=4 (0 means the default).
    pub log_inv_rate: u8,
}

/// Options for [`verify_aggregate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// If set, reject proofs made under any other preset.
    pub require: Option<ProveOptions>,
}

/// Errors from [`Aggregator::add`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AggregateError {
    #[error("invalid signature")]
    InvalidSignature,
    #[error("duplicate public key")]
    DuplicatePublicKey,
}

/// Errors from [`Aggregator::prove`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProveError {
    #[error("no signatures to aggregate")]
    Empty,
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error("prover failed: {0}")]
    Prover(String),
}

/// Errors from [`verify_aggregate`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    #[error("malformed proof: {0}")]
    Malformed(String),
    #[error("proof does not verify: {0}")]
    Invalid(String),
}

/// Collects signatures for one (message, epoch).
pub struct Aggregator {
    message: [u8; 32],
    epoch: u32,
    signers: Vec<(PublicKey, Signature)>,
}

/// A serialized aggregate proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateProof {
    bytes: Vec<u8>,
}

impl AggregateProof {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl Aggregator {
    pub fn new(message: [u8; 32], epoch: u32) -> Self {
        Self {
            message,
            epoch,
            signers: Vec::new(),
        }
    }
    pub fn message(&self) -> &[u8; 32] {
        &self.message
    }
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    pub fn len(&self) -> usize {
        self.signers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }
    /// Public keys in the order the verifier must give them.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        todo!()
    }
    pub fn add(&mut self, _pk: PublicKey, _sig: Signature) -> Result<(), AggregateError> {
        todo!()
    }
    pub fn prove(&self, _opts: &ProveOptions) -> Result<AggregateProof, ProveError> {
        todo!()
    }
}

/// Verifies an aggregate proof against the public keys, message and epoch.
pub fn verify_aggregate(
    _proof: &[u8],
    _public_keys: &[PublicKey],
    _message: &[u8; 32],
    _epoch: u32,
    _opts: &VerifyOptions,
) -> Result<(), VerifyError> {
    todo!()
}

pub mod config;
pub mod envelope;
pub mod security;
