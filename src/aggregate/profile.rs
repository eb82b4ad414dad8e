//! Phase timings of the prover and verifier, printed to stderr when `MULTISIG_PROFILE` is set.

/// Prints the time since `since` of the phase `phase` to stderr when the environment variable
/// `MULTISIG_PROFILE` is set; does nothing otherwise.
pub(crate) fn profile(phase: &str, since: std::time::Instant) {
    if std::env::var_os("MULTISIG_PROFILE").is_some() {
        eprintln!(
            "[multisig profile] {phase}: {:.1} ms",
            since.elapsed().as_secs_f64() * 1e3
        );
    }
}
