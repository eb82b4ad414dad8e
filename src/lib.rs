//! # multisig
//!
//! Aggregates leanSig post-quantum XMSS signatures (`SIGAbortingTargetSumLifetime32Dim46Base8`,
//! the devnet4 production scheme of Ethereum's lean consensus) into one succinct STARK proof.
//!
//! - [`xmss`]: the signature scheme itself, byte-for-byte compatible with leanSig (SSZ encodings,
//!   key generation, signing, verification).
//! - [`aggregate`]: N signatures by distinct keys on one message and one epoch become one proof
//!   ([`aggregate::Aggregator`]), checked by [`aggregate::verify_aggregate`].

// Every item of the public API carries a doc comment. The internals that the `testing` feature
// opens to the crate's own tests are not part of it.
#![cfg_attr(not(any(test, feature = "testing")), warn(missing_docs))]

pub mod aggregate;
pub mod xmss;

pub use aggregate::{
    canonical_key_order, key_set_digest, prepare, verify_aggregate, AggregateError, AggregateProof,
    Aggregator, ProveError, ProveOptions, VerifyError, VerifyOptions, MAX_SIGNATURES,
    SECURITY_FLOOR_BITS, WIRE_CAP_BYTES,
};
pub use xmss::{PublicKey, SecretKey, Signature};
