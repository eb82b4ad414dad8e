//! The FRI proof system: the four AIRs proved as one `p3_batch_stark` batch (one commitment per
//! round for all traces, one FRI opening, LogUp columns from `p3_lookup`), its STARK
//! configuration ([`config`]), its soundness ([`security`]) and its proof format
//! ([`envelope`]).
//!
//! Everything here is generic over the Merkle hash and transcript ([`config::FriHash`]:
//! Keccak or Poseidon1); [`FriPreset::hash`] picks one per preset, in exactly one place
//! (`by_hash!`).

use p3_air::BaseAir;
use p3_batch_stark::{
    prove_batch, verify_batch, BatchProof, CommonData, ProverData, ProverOnlyData, StarkInstance,
};
use p3_lookup::{LogUpGadget, Lookups};
use p3_matrix::dense::RowMajorMatrix;

use p3_air::symbolic::AirLayout;
use p3_batch_stark::symbolic::get_constraint_layout;

use super::air::{AggAir, CONSTRAINT_DEGREE, NUM_INSTANCES};
use super::field::Challenge;
use super::options::{Regime, VerifyError};
use super::preset::FriPreset;
use super::profile::profile;
use super::proof_system::{catch_prover, catch_verifier, ProofSystem};
use super::statement::{degree_bits, reference_airs, with_placeholder_statement, Statement};
use crate::xmss::F;
use config::{fri_config, FriConfig, FriHash};
use security::{AirShape, ProofShape};

pub mod config;
pub mod envelope;
pub mod security;

/// Runs `$body` with the type `$h` set to the [`FriHash`] of `$preset.hash`: the one place a FRI
/// preset's Merkle hash becomes a type (exported with the `testing` feature for the tests'
/// own provers).
#[cfg_attr(any(test, feature = "testing"), macro_export)]
macro_rules! by_hash {
    ($preset:expr, $h:ident => $body:expr) => {
        match $preset.hash {
            $crate::aggregate::MerkleHash::Keccak => {
                type $h = $crate::aggregate::fri::config::Keccak;
                $body
            }
            $crate::aggregate::MerkleHash::Poseidon1 => {
                type $h = $crate::aggregate::fri::config::Poseidon1;
                $body
            }
        }
    };
}

/// Proves the statement from the traces (heights must be [`Statement::heights`]).
pub fn prove<H: FriHash>(
    config: &FriConfig<H>,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    common: CommonData<FriConfig<H>>,
    traces: &[RowMajorMatrix<F>],
) -> Result<BatchProof<FriConfig<H>>, String> {
    let public_values = stmt.public_values();
    let trace_refs: Vec<&RowMajorMatrix<F>> = traces.iter().collect();
    let instances = StarkInstance::new_multiple(airs, &trace_refs, &public_values);
    let prover_data = ProverData {
        common,
        prover_only: ProverOnlyData::empty(),
    };
    prove_batch(config, &instances, &prover_data).map_err(|e| format!("{e:?}"))
}

/// Largest degree of a packed LogUp column constraint: every AIR here has constraint degree 3,
/// hence 2 quotient chunks, and a packed lookup column may reach degree `2 + 1` without adding
/// a chunk (the same budget `ProverData::from_airs_and_degrees` derives).
const LOOKUP_PACKING_DEGREE: usize = 3;

/// Each AIR's bus interactions packed by bus into LogUp columns (one symbolic pass per AIR).
///
/// Depends only on the AIRs' structure, never on the statement: no bus message or count reads
/// the message, epoch or keys (they enter as constraint constants and periodic columns), which
/// `statement_independent_data_is_the_same_for_every_statement` checks.
pub fn packed_lookups(airs: &[AggAir]) -> Vec<Lookups<F>> {
    let gadget = LogUpGadget::new();
    airs.iter()
        .map(|air| {
            Lookups::<F>::from_air::<Challenge, _>(air).pack_same_bus_with_degree(
                LOOKUP_PACKING_DEGREE,
                |l| {
                    // Two-adic trace domains have no transition-degree multiple.
                    gadget.constraint_degree_with_transition(l, 0)
                },
            )
        })
        .collect()
}

/// The data prover and verifier share: no preprocessed traces, and each AIR's bus interactions
/// packed by bus into LogUp columns ([`packed_lookups`]). Built from the AIRs alone, without
/// `ProverData::from_airs_and_degrees`'s extra symbolic degree walk; prover and verifier both
/// use this function, so their column layouts agree. The packed lookups are computed once per
/// process (they are statement-independent, see [`packed_lookups`]); this saves every
/// verification a symbolic pass over the four AIRs.
///
/// `airs` must be a statement's [`Statement::airs`]; the cache itself is built from a fixed
/// reference statement ([`reference_airs`]), so no caller's AIRs can change it. The data is the
/// same for every Merkle hash; `H` only names the configuration it is typed for.
pub fn common_data<H: FriHash>(airs: &[AggAir]) -> CommonData<FriConfig<H>> {
    debug_assert_eq!(airs.len(), NUM_INSTANCES, "the four aggregation AIRs");
    CommonData::new(None, cached_lookups().to_vec())
}

/// [`packed_lookups`] of the reference statement ([`reference_airs`]), computed once per
/// process: the same for every statement and every Merkle hash.
fn cached_lookups() -> &'static [Lookups<F>] {
    static LOOKUPS: std::sync::OnceLock<Vec<Lookups<F>>> = std::sync::OnceLock::new();
    LOOKUPS.get_or_init(|| packed_lookups(&reference_airs()))
}

/// Number of constraints (AIR and LogUp) of each AIR, in instance order, computed once per
/// process from [`reference_airs`]: like [`packed_lookups`], it depends on the AIRs' structure
/// only.
fn constraint_counts() -> Vec<usize> {
    static COUNTS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    COUNTS
        .get_or_init(|| constraint_counts_uncached(&reference_airs(), cached_lookups()))
        .clone()
}

fn constraint_counts_uncached(airs: &[AggAir], lookups: &[Lookups<F>]) -> Vec<usize> {
    let gadget = LogUpGadget::new();
    airs.iter()
        .zip(lookups)
        .map(|(air, lookups)| {
            let layout = AirLayout::from_air::<F>(air);
            get_constraint_layout::<F, Challenge, _, _>(air, layout, lookups, &gadget)
                .total_constraints()
        })
        .collect()
}

/// The shape the proof envelope checks a proof against, derived from the statement alone.
///
/// Same values as [`super::security::ProofShape::from_airs`] (a test checks it) but without its
/// symbolic degree walks (an AIR with periodic columns makes Plonky3 walk every constraint's
/// expression DAG: about 1 ms for the signature AIR since the permutation moved to its own
/// table, 50 ms before); the degree is the declared [`CONSTRAINT_DEGREE`] instead.
pub fn proof_shape(airs: &[AggAir], lookups: &[Lookups<F>], log_heights: &[usize]) -> ProofShape {
    debug_assert_eq!(airs.len(), NUM_INSTANCES, "the four aggregation AIRs");
    let counts = constraint_counts();
    let instances = airs
        .iter()
        .zip(log_heights)
        .zip(lookups)
        .zip(counts)
        .map(
            |(((air, &log_height), lookups), num_constraints)| AirShape {
                log_height,
                main_width: BaseAir::<F>::width(air),
                main_next: !BaseAir::<F>::main_next_row_columns(air).is_empty(),
                preprocessed_width: 0,
                preprocessed_next: false,
                num_constraints,
                max_constraint_degree: CONSTRAINT_DEGREE,
                num_quotient_chunks: (CONSTRAINT_DEGREE - 1).next_power_of_two(),
                ..AirShape::with_lookups(lookups)
            },
        )
        .collect();
    ProofShape { instances }
}

/// The proof shape of every statement of `num_signatures` signatures: heights, widths and
/// lookups depend on the count alone, never on the keys, message or epoch (the statement
/// used here has placeholder keys).
pub fn shape_for_signatures(num_signatures: usize) -> ProofShape {
    with_placeholder_statement(num_signatures, |stmt| {
        let airs = stmt.airs();
        proof_shape(&airs, cached_lookups(), &degree_bits(&stmt.heights()))
    })
}


impl ProofSystem for FriPreset {
    fn check_statement(&self, stmt: &Statement<'_>) -> Result<(), String> {
        // KoalaBear's two-adicity is 24: the LDE of the tallest trace must fit a 2^24 domain.
        let log_lde = degree_bits(&stmt.heights()).into_iter().max().unwrap_or(0)
            + usize::from(self.log_inv_rate);
        if log_lde > 24 {
            return Err(format!(
                "{} signatures at log_inv_rate {} need a 2^{log_lde} evaluation domain; \
                 KoalaBear has 2^24",
                stmt.keys.len(),
                self.log_inv_rate
            ));
        }
        Ok(())
    }

    fn prove(
        &self,
        stmt: &Statement<'_>,
        airs: &[AggAir],
        traces: Vec<RowMajorMatrix<F>>,
    ) -> Result<Vec<u8>, String> {
        by_hash!(self, H => prove_and_encode::<H>(self, stmt, airs, traces))
    }

    fn decode_and_verify(&self, proof: &[u8], stmt: &Statement<'_>) -> Result<(), VerifyError> {
        by_hash!(self, H => {
            let d = decode_against::<H>(self, proof, stmt)?;
            let config = fri_config::<H>(self);
            catch_verifier(|| verify::<H>(&config, stmt, &d.airs, &d.common, &d.proof))
        })
    }

    fn component_sizes(
        &self,
        proof: &[u8],
        stmt: &Statement<'_>,
    ) -> Result<Vec<(&'static str, usize)>, VerifyError> {
        by_hash!(self, H => Ok(envelope::component_sizes::<H>(
            &decode_against::<H>(self, proof, stmt)?.proof
        )))
    }

    fn security_bits(&self, regime: Regime, num_signatures: usize) -> Result<f64, String> {
        Ok(security::security_bits_in(self, regime, &shape_for_signatures(num_signatures)).total_bits)
    }

    fn proof_size_bound(&self, num_signatures: usize) -> Result<usize, String> {
        let shape = shape_for_signatures(num_signatures);
        by_hash!(self, H => envelope::max_encoded_len::<H>(self, &shape))
            .map_err(|e| e.to_string())
    }

    fn prepare(&self) -> Result<(), String> {
        // The constraint counts are computed with `common_data`, so this one call fills both
        // caches.
        let _ = constraint_counts();
        Ok(())
    }
}

/// Proves with [`prove`] under `preset` over hash `H` and encodes the proof.
fn prove_and_encode<H: FriHash>(
    preset: &FriPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    traces: Vec<RowMajorMatrix<F>>,
) -> Result<Vec<u8>, String> {
    let t = std::time::Instant::now();
    let config = fri_config::<H>(preset);
    let proof = catch_prover("the batch-STARK prover (constraint check)", || {
        prove::<H>(&config, stmt, airs, common_data::<H>(airs), &traces)
    })?;
    profile("prove_batch", t);
    let t = std::time::Instant::now();
    let bytes = envelope::encode::<H>(preset, &proof);
    profile("encode", t);
    Ok(bytes)
}

/// A proof decoded against a statement's shape, with the AIRs and common data it was decoded
/// against.
pub(crate) struct Decoded<H: FriHash> {
    pub(crate) airs: Vec<AggAir>,
    pub(crate) common: CommonData<FriConfig<H>>,
    pub(crate) proof: BatchProof<FriConfig<H>>,
}

/// The AIRs and common data of `stmt` and `proof` decoded against the statement's shape: what
/// verification and [`ProofSystem::component_sizes`] share.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that do not decode, or whose prefix names another preset.
pub(crate) fn decode_against<H: FriHash>(
    preset: &FriPreset,
    proof: &[u8],
    stmt: &Statement<'_>,
) -> Result<Decoded<H>, VerifyError> {
    let t = std::time::Instant::now();
    let airs = stmt.airs();
    let common = common_data::<H>(&airs);
    let shape = proof_shape(&airs, &common.lookups, &degree_bits(&stmt.heights()));
    profile("verify: airs and shape", t);
    let t = std::time::Instant::now();
    let (decoded, proof) = envelope::decode::<H>(proof, &shape)?;
    if decoded != *preset {
        return Err(VerifyError::Malformed("preset changed between reads".into()));
    }
    profile("verify: decode", t);
    Ok(Decoded {
        airs,
        common,
        proof,
    })
}

/// Verifies `proof` against the statement. The trace heights are the verifier's own (fixed by
/// the number of keys); a proof claiming other heights is rejected before anything else.
pub fn verify<H: FriHash>(
    config: &FriConfig<H>,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    common: &CommonData<FriConfig<H>>,
    proof: &BatchProof<FriConfig<H>>,
) -> Result<(), String> {
    let bits = degree_bits(&stmt.heights());
    if proof.degree_bits != bits {
        return Err(format!(
            "trace heights {:?}, expected {:?}",
            proof.degree_bits, bits
        ));
    }
    verify_batch(config, airs, proof, &stmt.public_values(), common).map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::config::Keccak;
    use super::*;
    use crate::aggregate::preset::PRESETS;
    use crate::aggregate::testing::test_signer;

    #[test]
    fn smallest_statement_is_taller_than_every_final_polynomial() {
        let message = [3u8; 32];
        let keys = [test_signer(0, &message, 1).0];
        let stmt = Statement {
            message: &message,
            epoch: 1,
            keys: &keys,
        };
        for p in PRESETS {
            for h in stmt.heights() {
                assert!(
                    h >= 1 << p.min_log_trace_height(),
                    "height {h}, preset {}",
                    p.id()
                );
            }
        }
    }

    #[test]
    fn statement_independent_data_is_the_same_for_every_statement() {
        let a = [5u8; 32];
        let b = [6u8; 32];
        let keys1 = [test_signer(0, &a, 9).0];
        let keys3: Vec<_> = (0..3).map(|s| test_signer(s, &b, 77).0).collect();
        let s1 = Statement {
            message: &a,
            epoch: 9,
            keys: &keys1,
        };
        let s3 = Statement {
            message: &b,
            epoch: 77,
            keys: &keys3,
        };
        let (airs1, airs3) = (s1.airs(), s3.airs());
        let (l1, l3) = (packed_lookups(&airs1), packed_lookups(&airs3));
        assert_eq!(format!("{l1:?}"), format!("{l3:?}"));
        assert_eq!(
            format!("{l1:?}"),
            format!("{:?}", common_data::<Keccak>(&airs3).lookups)
        );
        let c1 = constraint_counts_uncached(&airs1, &l1);
        let c3 = constraint_counts_uncached(&airs3, &l3);
        assert_eq!(c1, c3);
        assert_eq!(c1, constraint_counts());
    }

    #[test]
    fn fast_proof_shape_matches_symbolic_shape() {
        let message = [3u8; 32];
        let epoch = 5;
        for n in [1u64, 3] {
            let keys: Vec<_> = (0..n).map(|s| test_signer(s, &message, epoch).0).collect();
            let stmt = Statement {
                message: &message,
                epoch,
                keys: &keys,
            };
            let airs = stmt.airs();
            let common = common_data::<Keccak>(&airs);
            let bits = degree_bits(&stmt.heights());
            let fast = proof_shape(&airs, &common.lookups, &bits);
            let slow = ProofShape::from_airs(&airs, &common, &bits).unwrap();
            assert_eq!(fast, slow);
        }
    }
}
