//! The one status enum every export returns, and the mapping from the core's error types.
//!
//! Codes are stable: a code, once published, keeps its number and meaning forever and is never
//! reused for something else. New codes are appended with fresh numbers.

use multisig::aggregate::{AggregateError, ProveError, VerifyError};
use multisig::xmss::XmssError;

/// Result of every fallible `msig_*` function. `MSIG_OK` (0) is success; every other value is an
/// error and means that no output parameter was written, with two documented exceptions:
/// `*written` on `MSIG_BUFFER_TOO_SMALL`, and the per-statement `results` of
/// `msig_verify_aggregates` on `MSIG_SOME_PROOFS_INVALID`.
///
/// In C the type is a `uint32_t`; `msig_status_message` turns any value into text.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum msig_status {
    /// Success.
    MSIG_OK = 0,
    /// A required pointer argument was NULL.
    MSIG_NULL_ARGUMENT = 1,
    /// The output buffer is too small; `*written` holds the capacity needed, in bytes.
    MSIG_BUFFER_TOO_SMALL = 2,
    /// An argument is out of its documented domain (unknown regime, length over `PTRDIFF_MAX`,
    /// size overflow).
    MSIG_INVALID_ARGUMENT = 3,
    /// Public-key bytes are not a valid 52-byte SSZ public key (non-canonical field element).
    MSIG_MALFORMED_PUBLIC_KEY = 4,
    /// Signature bytes are not a valid SSZ signature (wrong length, bad offset, non-canonical
    /// field element).
    MSIG_MALFORMED_SIGNATURE = 5,
    /// Secret-key bytes are not a valid SSZ secret key.
    MSIG_MALFORMED_SECRET_KEY = 6,
    /// Proof bytes are not a well-formed aggregate proof (truncated, bad envelope, unknown
    /// version or preset id, lengths that disagree with the statement). A proof whose prefix
    /// names a preset the verifier refuses is `MSIG_PRESET_NOT_ACCEPTED` instead (the policy is
    /// checked before the rest is decoded).
    MSIG_MALFORMED_PROOF = 7,
    /// The signature is well-formed but does not verify for this key, epoch and message.
    MSIG_INVALID_SIGNATURE = 8,
    /// The aggregator already holds a signature by this public key.
    MSIG_DUPLICATE_PUBLIC_KEY = 9,
    /// The aggregate proof is well-formed but does not verify for these public keys, message and
    /// epoch.
    MSIG_PROOF_INVALID = 10,
    /// The epoch cannot be signed with this key: outside the key's activation interval, or before
    /// its prepared window (the window only moves forward, so such an epoch is gone for good).
    MSIG_EPOCH_OUT_OF_RANGE = 11,
    /// Key generation arguments are invalid (empty range, range beyond the 2^32 lifetime).
    MSIG_INVALID_KEYGEN_ARGUMENTS = 12,
    /// Signing failed (for example no non-aborting randomness was found).
    MSIG_SIGNING_FAILED = 13,
    /// `msig_aggregator_prove` was called on an aggregator holding no signature.
    MSIG_EMPTY_AGGREGATE = 14,
    /// The options are invalid: prove options that name no preset (unknown regime or backend,
    /// unsupported `log_inv_rate`, WHIR with the conjectured regime) or a preset that cannot
    /// prove this many signatures (WHIR past 512 / 256); verify options with such a `require` or
    /// an `allow_conjectured` other than 0 or 1.
    MSIG_INVALID_OPTIONS = 15,
    /// The prover failed internally.
    MSIG_PROVER_FAILED = 16,
    /// `msig_set_num_threads` was called after the global thread pool already existed (it is
    /// created by the first parallel operation or by an earlier `msig_set_num_threads`).
    MSIG_THREAD_POOL_ALREADY_INITIALIZED = 17,
    /// A Rust panic was caught at the C boundary. The library's state is intact, but an
    /// aggregator whose operation panicked refuses further use with this same code, and so does
    /// a keypair that panicked while holding its secret key (for everything but its public key).
    MSIG_PANIC = 18,
    /// The aggregate proof is well-formed but made under a preset the verifier's options refuse:
    /// below the 124-bit proven floor for this statement (every conjectured preset, unless
    /// `allow_conjectured` is set), or not the required preset. Nothing was verified.
    MSIG_PRESET_NOT_ACCEPTED = 19,
    /// A proof of this statement under the chosen preset can exceed the byte limit of the prove
    /// options (`max_proof_bytes`, default 512 KiB); nothing was proved.
    MSIG_PROOF_TOO_LARGE = 20,
    /// `msig_verify_aggregates` completed and at least one statement did not verify: its entry of
    /// `results` holds why (any status other than `MSIG_OK`). `results` is written, for every
    /// statement; this is the one status besides `MSIG_OK` on which an output is written.
    MSIG_SOME_PROOFS_INVALID = 21,
}

pub use msig_status::*;

impl msig_status {
    /// Every status, in code order (used by `msig_status_message` and the tests).
    pub(crate) const ALL: [msig_status; 22] = [
        MSIG_OK,
        MSIG_NULL_ARGUMENT,
        MSIG_BUFFER_TOO_SMALL,
        MSIG_INVALID_ARGUMENT,
        MSIG_MALFORMED_PUBLIC_KEY,
        MSIG_MALFORMED_SIGNATURE,
        MSIG_MALFORMED_SECRET_KEY,
        MSIG_MALFORMED_PROOF,
        MSIG_INVALID_SIGNATURE,
        MSIG_DUPLICATE_PUBLIC_KEY,
        MSIG_PROOF_INVALID,
        MSIG_EPOCH_OUT_OF_RANGE,
        MSIG_INVALID_KEYGEN_ARGUMENTS,
        MSIG_SIGNING_FAILED,
        MSIG_EMPTY_AGGREGATE,
        MSIG_INVALID_OPTIONS,
        MSIG_PROVER_FAILED,
        MSIG_THREAD_POOL_ALREADY_INITIALIZED,
        MSIG_PANIC,
        MSIG_PRESET_NOT_ACCEPTED,
        MSIG_PROOF_TOO_LARGE,
        MSIG_SOME_PROOFS_INVALID,
    ];

    /// The status with numeric code `code`, if there is one.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| *s as u32 == code)
    }

    /// A one-line English description (no trailing period, no newline).
    pub fn message(self) -> &'static str {
        match self {
            MSIG_OK => "success",
            MSIG_NULL_ARGUMENT => "a required pointer argument was NULL",
            MSIG_BUFFER_TOO_SMALL => "output buffer too small (*written holds the size needed)",
            MSIG_INVALID_ARGUMENT => "argument out of its documented domain",
            MSIG_MALFORMED_PUBLIC_KEY => "malformed SSZ public key",
            MSIG_MALFORMED_SIGNATURE => "malformed SSZ signature",
            MSIG_MALFORMED_SECRET_KEY => "malformed SSZ secret key",
            MSIG_MALFORMED_PROOF => "malformed aggregate proof",
            MSIG_INVALID_SIGNATURE => "signature does not verify",
            MSIG_DUPLICATE_PUBLIC_KEY => "duplicate public key in the aggregate",
            MSIG_PROOF_INVALID => "aggregate proof does not verify",
            MSIG_EPOCH_OUT_OF_RANGE => "epoch outside the key's usable range",
            MSIG_INVALID_KEYGEN_ARGUMENTS => "invalid key generation arguments",
            MSIG_SIGNING_FAILED => "signing failed",
            MSIG_EMPTY_AGGREGATE => "no signatures to aggregate",
            MSIG_INVALID_OPTIONS => "unsupported prove options",
            MSIG_PROVER_FAILED => "prover failed",
            MSIG_THREAD_POOL_ALREADY_INITIALIZED => "the global thread pool is already initialized",
            MSIG_PANIC => "internal panic caught at the C boundary",
            MSIG_PRESET_NOT_ACCEPTED => "proof made under a preset the verifier does not accept",
            MSIG_PROOF_TOO_LARGE => "proofs under this preset can exceed the byte limit",
            MSIG_SOME_PROOFS_INVALID => "at least one statement did not verify (see results)",
        }
    }
}

/// Message for a code that is not (yet) a known `msig_status`.
pub(crate) const UNKNOWN_STATUS_MESSAGE: &str = "unknown msig_status code";

/// Maps an error from decoding SSZ bytes (`PublicKey`, `Signature` or `SecretKey::from_ssz`);
/// `malformed` is the code for the object being decoded. Decoders only report
/// `XmssError::Malformed`; the match is exhaustive so that a new variant needs a decision here, and
/// whatever a decoder reports means the bytes were not accepted.
pub(crate) fn from_decode_error(err: &XmssError, malformed: msig_status) -> msig_status {
    match err {
        XmssError::Malformed { .. }
        | XmssError::EpochOutOfRange { .. }
        | XmssError::InvalidKeygen(_)
        | XmssError::Signing(_) => malformed,
    }
}

/// Maps an error from key generation (`xmss::keygen`). Key generation only reports
/// `XmssError::InvalidKeygen` (empty range, range past 2^32); every variant maps to
/// `MSIG_INVALID_KEYGEN_ARGUMENTS`, never to a decoding status.
pub(crate) fn from_keygen_error(err: &XmssError) -> msig_status {
    match err {
        XmssError::InvalidKeygen(_)
        | XmssError::EpochOutOfRange { .. }
        | XmssError::Malformed { .. }
        | XmssError::Signing(_) => MSIG_INVALID_KEYGEN_ARGUMENTS,
    }
}

/// Maps an error from signing or from advancing a key's prepared window (`xmss::sign_advancing`,
/// `SecretKey::prepare_for_epoch`): `MSIG_EPOCH_OUT_OF_RANGE` for an epoch the key cannot sign,
/// `MSIG_SIGNING_FAILED` for everything else (no codeword found, a key whose trees lack a node).
/// Never a decoding status: the key was decoded long before.
pub(crate) fn from_sign_error(err: &XmssError) -> msig_status {
    match err {
        XmssError::EpochOutOfRange { .. } => MSIG_EPOCH_OUT_OF_RANGE,
        XmssError::Signing(_) | XmssError::Malformed { .. } | XmssError::InvalidKeygen(_) => {
            MSIG_SIGNING_FAILED
        }
    }
}

impl From<AggregateError> for msig_status {
    fn from(err: AggregateError) -> Self {
        match err {
            AggregateError::InvalidSignature => MSIG_INVALID_SIGNATURE,
            AggregateError::DuplicatePublicKey => MSIG_DUPLICATE_PUBLIC_KEY,
            // Not raised through the C ABI yet (no child entry point): a child that does not
            // verify is an invalid proof.
            AggregateError::InvalidChild(_) => MSIG_PROOF_INVALID,
        }
    }
}

impl From<ProveError> for msig_status {
    fn from(err: ProveError) -> Self {
        match err {
            ProveError::Empty => MSIG_EMPTY_AGGREGATE,
            ProveError::InvalidOptions(_) => MSIG_INVALID_OPTIONS,
            ProveError::ProofTooLarge { .. } => MSIG_PROOF_TOO_LARGE,
            ProveError::Prover(_) => MSIG_PROVER_FAILED,
            ProveError::InvalidComponent { error, .. } => Self::from(error),
        }
    }
}

impl From<VerifyError> for msig_status {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::Malformed(_) => MSIG_MALFORMED_PROOF,
            VerifyError::Invalid(_) => MSIG_PROOF_INVALID,
            VerifyError::PresetNotAccepted(_) => MSIG_PRESET_NOT_ACCEPTED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_unique_and_round_trip() {
        for (i, s) in msig_status::ALL.iter().enumerate() {
            assert_eq!(*s as u32, i as u32, "{s:?}");
            assert_eq!(msig_status::from_code(i as u32), Some(*s));
            assert!(!s.message().is_empty());
        }
        assert_eq!(msig_status::from_code(msig_status::ALL.len() as u32), None);
    }

    /// One error of every `XmssError` variant.
    fn every_xmss_error() -> [XmssError; 4] {
        [
            XmssError::Malformed {
                what: "secret key",
                reason: "test".into(),
            },
            XmssError::EpochOutOfRange { epoch: 7 },
            XmssError::InvalidKeygen("test".into()),
            XmssError::Signing("test".into()),
        ]
    }

    #[test]
    fn keygen_and_signing_errors_have_their_own_statuses() {
        for e in every_xmss_error() {
            let keygen = from_keygen_error(&e);
            assert_eq!(keygen, MSIG_INVALID_KEYGEN_ARGUMENTS, "{e:?}");
            let sign = from_sign_error(&e);
            assert!(
                matches!(sign, MSIG_EPOCH_OUT_OF_RANGE | MSIG_SIGNING_FAILED),
                "{e:?}"
            );
            assert_ne!(sign, MSIG_MALFORMED_SECRET_KEY, "{e:?}");
        }
        assert_eq!(
            from_sign_error(&XmssError::EpochOutOfRange { epoch: 1 }),
            MSIG_EPOCH_OUT_OF_RANGE
        );
        assert_eq!(
            from_sign_error(&XmssError::Signing("x".into())),
            MSIG_SIGNING_FAILED
        );
    }

    #[test]
    fn decoding_errors_name_the_object_decoded() {
        for malformed in [
            MSIG_MALFORMED_PUBLIC_KEY,
            MSIG_MALFORMED_SIGNATURE,
            MSIG_MALFORMED_SECRET_KEY,
        ] {
            for e in every_xmss_error() {
                assert_eq!(from_decode_error(&e, malformed), malformed, "{e:?}");
            }
        }
    }

    #[test]
    fn core_errors_map_to_their_statuses() {
        assert_eq!(
            msig_status::from(ProveError::ProofTooLarge { bound: 2, limit: 1 }),
            MSIG_PROOF_TOO_LARGE
        );
        assert_eq!(
            msig_status::from(ProveError::InvalidOptions("x".into())),
            MSIG_INVALID_OPTIONS
        );
        assert_eq!(
            msig_status::from(VerifyError::PresetNotAccepted("x".into())),
            MSIG_PRESET_NOT_ACCEPTED
        );
        assert_eq!(
            msig_status::from(VerifyError::Invalid("x".into())),
            MSIG_PROOF_INVALID
        );
        assert_eq!(
            msig_status::from(VerifyError::Malformed("x".into())),
            MSIG_MALFORMED_PROOF
        );
    }
}
