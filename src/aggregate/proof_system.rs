//! The boundary between the aggregation API and a proof system: everything
//! [`super::Aggregator::prove`], [`super::verify_aggregate`] and the size and security queries
//! need from FRI ([`super::fri`]) or WHIR ([`super::whir`]), as one trait. Each proof system
//! implements it on its own preset parameters ([`super::preset::FriPreset`],
//! [`super::preset::WhirPreset`]); `super` picks the implementation from the proof's prefix or the
//! prover's options, in one place, and never branches on the proof system anywhere else.

use p3_matrix::dense::RowMajorMatrix;

use super::air::AggAir;
use super::field::Val;
use super::options::{Regime, VerifyError};
use super::statement::Statement;

/// A proof system that proves and verifies the four AIRs of a [`Statement`].
///
/// Every method is a function of the preset parameters it is implemented on and of the
/// statement (or only its number of signatures); none keeps state beyond per-process caches of
/// statement-independent tables.
pub(crate) trait ProofSystem: Sync {
    /// Checks, before any trace is built, that this preset can prove `stmt` (domain sizes, the
    /// commitment schedule).
    ///
    /// # Errors
    /// A message naming what does not fit.
    fn check_statement(&self, stmt: &Statement<'_>) -> Result<(), String>;

    /// Proves `stmt` from its four traces (instance order, heights [`Statement::heights`]) and
    /// returns the encoded proof, prefix included. The traces are consumed so that the prover
    /// can free them as it goes.
    ///
    /// # Errors
    /// A message when the prover fails or panics (for example on a witness the AIRs reject,
    /// caught by the constraint checker of debug builds).
    fn prove(
        &self,
        stmt: &Statement<'_>,
        airs: &[AggAir],
        traces: Vec<RowMajorMatrix<Val>>,
    ) -> Result<Vec<u8>, String>;

    /// Decodes `proof` (whose prefix names this preset) against `stmt`'s shape and verifies it.
    ///
    /// # Errors
    /// [`VerifyError::Malformed`] for bytes that do not decode to a proof of this shape,
    /// [`VerifyError::Invalid`] for a proof that does not verify.
    fn decode_and_verify(&self, proof: &[u8], stmt: &Statement<'_>) -> Result<(), VerifyError>;

    /// Bytes of each component of `proof`, decoded against `stmt`'s shape, in wire order.
    ///
    /// # Errors
    /// [`VerifyError::Malformed`] for bytes that do not decode.
    fn component_sizes(
        &self,
        proof: &[u8],
        stmt: &Statement<'_>,
    ) -> Result<Vec<(&'static str, usize)>, VerifyError>;

    /// Soundness in bits, graded in `regime`, of every proof of `num_signatures` signatures.
    ///
    /// # Errors
    /// A message when the preset cannot be graded in `regime` or its schedule does not fit.
    fn security_bits(&self, regime: Regime, num_signatures: usize) -> Result<f64, String>;

    /// The largest encoded proof (prefix included) of `num_signatures` signatures, in bytes.
    ///
    /// # Errors
    /// A message when the schedule does not fit the statement.
    fn proof_size_bound(&self, num_signatures: usize) -> Result<usize, String>;

    /// Builds the statement-independent per-process tables now ([`super::prepare`]).
    ///
    /// # Errors
    /// A message if building them fails (not expected).
    fn prepare(&self) -> Result<(), String>;
}

/// Runs a prover, turning a panic inside it (Plonky3's constraint checker in debug builds, or a
/// prover's internal assertion) into an error naming `what`, so that no panic leaves
/// [`ProofSystem::prove`].
///
/// # Errors
/// The prover's own error, or `"{what} panicked"`.
pub(crate) fn catch_prover<T>(
    what: &str,
    prover: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(prover))
        .map_err(|_| format!("{what} panicked"))?
}

/// Runs a verifier on a decoded proof, turning its error into [`VerifyError::Invalid`] and a
/// panic inside it (hostile bytes that decode but break an assumption of the verifier) into a
/// rejection too, so that no panic leaves [`ProofSystem::decode_and_verify`].
///
/// # Errors
/// [`VerifyError::Invalid`] with the verifier's message, or saying it panicked.
pub(crate) fn catch_verifier(
    verifier: impl FnOnce() -> Result<(), String>,
) -> Result<(), VerifyError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(verifier))
        .map_err(|_| VerifyError::Invalid("verifier panicked on malformed proof".into()))?
        .map_err(VerifyError::Invalid)
}

/// Runs `f` on a rayon pool of one thread of its own (a fresh thread, about 0.1 ms), or on the
/// caller's pool if no thread can be made. For the multilinear STARK verifier
/// (`p3_multi_stark::verify`), whose parallel loops are too small to pay for their hand-offs:
/// on this 2-core machine a Type-2 proof of three components verified in 43 to 51 ms on one
/// thread against 76 to 88 ms on two, a compact parent in 41 to 53 against 70 to 72 ms
/// (`src/aggregate/recursion/README.md`, "Type-2"). Each call has its own pool, so callers that
/// verify several proofs in parallel (`msig_verify_aggregates`) still do.
pub(crate) fn on_one_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}
