//! The four AIRs as one batch-STARK statement: instance order, heights, public values, and the
//! calls into `p3_batch_stark::prove_batch` / `verify_batch`.

use std::borrow::Cow;

use p3_air::{Air, AirBuilder, BaseAir};
use p3_batch_stark::{
    prove_batch, verify_batch, BatchProof, CommonData, ProverData, ProverOnlyData, StarkInstance,
};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::InteractionBuilder;
use p3_lookup::{LogUpGadget, Lookups};
use p3_matrix::dense::RowMajorMatrix;

use p3_util::log2_strict_usize;

use super::chain_air::{self, ChainAir, ChainStep};
use super::config::{Challenge, MultisigConfig};
use super::perm::Perm24TableAir;
use super::security::{AirShape, ProofShape};
use super::sig_air::{self, SigAir, SigWitness, BLOCK};
use super::table_air::{self, table_height, TableAir};
use crate::xmss::constants::BASE;
use crate::xmss::message::encode_message;
use crate::xmss::{PublicKey, F};
use p3_air::symbolic::AirLayout;
use p3_batch_stark::symbolic::get_constraint_layout;

/// Chain steps per valid signature: 46 * 7 - 200.
pub const STEPS_PER_SIGNATURE: usize = 122;

/// Number of AIR instances in an aggregate proof.
pub const NUM_INSTANCES: usize = 4;

/// One of the four AIRs of an aggregate proof (batch-STARK needs one type for all instances).
#[derive(Clone)]
pub enum AggAir {
    /// Per-signature 64-row blocks: sponge, Merkle path, message hash, decode (instance 0).
    Sig(SigAir),
    /// Chain steps (instance 1).
    Chain(ChainAir),
    /// Tweak and key tables (instance 2).
    Table(TableAir),
    /// The width-24 permutations the signature blocks use, one per row (instance 3).
    Perm24(Perm24TableAir),
}

macro_rules! dispatch {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            AggAir::Sig($a) => $e,
            AggAir::Chain($a) => $e,
            AggAir::Table($a) => $e,
            AggAir::Perm24($a) => $e,
        }
    };
}

impl BaseAir<F> for AggAir {
    fn width(&self) -> usize {
        dispatch!(self, a => BaseAir::<F>::width(a))
    }
    fn num_periodic_columns(&self) -> usize {
        dispatch!(self, a => BaseAir::<F>::num_periodic_columns(a))
    }
    fn periodic_columns(&self) -> Cow<'_, [Vec<F>]> {
        dispatch!(self, a => BaseAir::<F>::periodic_columns(a))
    }
    fn main_next_row_columns(&self) -> Vec<usize> {
        dispatch!(self, a => BaseAir::<F>::main_next_row_columns(a))
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        dispatch!(self, a => BaseAir::<F>::max_constraint_degree(a))
    }
    fn num_public_values(&self) -> usize {
        match self {
            AggAir::Table(t) => t.num_statement_values(),
            _ => 0,
        }
    }
}

impl<AB> Air<AB> for AggAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        dispatch!(self, a => a.eval(builder))
    }
}

/// The statement an aggregate proof is about.
pub struct Statement<'a> {
    /// The signed message.
    pub message: &'a [u8; 32],
    /// The epoch.
    pub epoch: u32,
    /// The signers' public keys, in order.
    pub keys: &'a [PublicKey],
}

impl Statement<'_> {
    /// The four AIRs, in instance order.
    pub fn airs(&self) -> Vec<AggAir> {
        vec![
            AggAir::Sig(SigAir::new(self.message, self.epoch)),
            AggAir::Chain(ChainAir::new()),
            AggAir::Table(TableAir::new(self.epoch, self.keys)),
            AggAir::Perm24(Perm24TableAir::new()),
        ]
    }

    /// Trace heights, in instance order; fixed by the number of keys. The permutation table has
    /// one row per signature-AIR row.
    pub fn heights(&self) -> [usize; NUM_INSTANCES] {
        let n = self.keys.len();
        let sig = n.next_power_of_two().max(sig_air::MIN_BLOCKS) * BLOCK;
        [
            sig,
            (n * STEPS_PER_SIGNATURE)
                .next_power_of_two()
                .max(chain_air::MIN_HEIGHT),
            table_height(n),
            sig,
        ]
    }

    /// Public values per instance. The table instance carries the whole statement
    /// (`N`, epoch as two 16-bit limbs, the message's 9 field elements, then each key's root and
    /// parameter) so that the Fiat-Shamir transcript is bound to it before any challenge.
    pub fn public_values(&self) -> Vec<Vec<F>> {
        let mut table = vec![
            F::from_usize(self.keys.len()),
            F::from_u32(self.epoch & 0xffff),
            F::from_u32(self.epoch >> 16),
        ];
        table.extend(encode_message(self.message));
        for k in self.keys {
            table.extend(k.root);
            table.extend(k.parameter);
        }
        vec![Vec::new(), Vec::new(), table, Vec::new()]
    }
}

impl TableAir {
    /// Number of statement values bound as this instance's public values.
    pub fn num_statement_values(&self) -> usize {
        3 + 9 + 13 * self.num_keys()
    }
}

/// Builds the four traces (instance order) for the given witnesses and chain steps.
pub fn build_traces(
    stmt: &Statement<'_>,
    airs: &[AggAir],
    witnesses: &[SigWitness],
    steps: &[ChainStep],
) -> Vec<RowMajorMatrix<F>> {
    let t = std::time::Instant::now();
    let (sig, perm24) = sig_air::generate_trace(witnesses, stmt.message, stmt.epoch);
    super::profile("  sig trace", t);
    let t = std::time::Instant::now();
    let chain = chain_air::generate_trace(steps);
    super::profile("  chain trace", t);
    let mut counts = vec![0u32; table_air::TWEAK_PERIOD];
    for s in steps {
        // Entry of the tweak for target position pos + 1 of this chain.
        let entry = s.chain as usize * (BASE - 1) + s.pos as usize;
        if let Some(c) = counts.get_mut(entry) {
            *c += 1;
        }
    }
    let AggAir::Table(table) = &airs[2] else {
        unreachable!("instance 2 is the table AIR")
    };
    let table = table.generate_trace(&counts);
    vec![sig, chain, table, perm24]
}

/// Proves the statement from the traces (heights must be [`Statement::heights`]).
pub fn prove(
    config: &MultisigConfig,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    common: CommonData<MultisigConfig>,
    traces: &[RowMajorMatrix<F>],
) -> Result<BatchProof<MultisigConfig>, String> {
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
/// reference statement ([`reference_airs`]), so no caller's AIRs can change it.
pub fn common_data(airs: &[AggAir]) -> CommonData<MultisigConfig> {
    static LOOKUPS: std::sync::OnceLock<Vec<Lookups<F>>> = std::sync::OnceLock::new();
    debug_assert_eq!(airs.len(), NUM_INSTANCES, "the four aggregation AIRs");
    CommonData::new(
        None,
        LOOKUPS
            .get_or_init(|| packed_lookups(&reference_airs()))
            .clone(),
    )
}

/// The AIRs of a fixed one-key statement (message and epoch 0, an all-zero key): what the
/// statement-independent caches ([`common_data`], the constraint counts) are built from.
pub fn reference_airs() -> Vec<AggAir> {
    let key = PublicKey {
        root: [F::ZERO; 8],
        parameter: [F::ZERO; 5],
    };
    Statement {
        message: &[0u8; 32],
        epoch: 0,
        keys: &[key],
    }
    .airs()
}

/// Number of constraints (AIR and LogUp) of each AIR, in instance order, computed once per
/// process from [`reference_airs`]: like [`packed_lookups`], it depends on the AIRs' structure
/// only.
fn constraint_counts() -> Vec<usize> {
    static COUNTS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    COUNTS
        .get_or_init(|| {
            let airs = reference_airs();
            constraint_counts_uncached(&airs, &common_data(&airs))
        })
        .clone()
}

fn constraint_counts_uncached(airs: &[AggAir], common: &CommonData<MultisigConfig>) -> Vec<usize> {
    let gadget = LogUpGadget::new();
    airs.iter()
        .zip(&common.lookups)
        .map(|(air, lookups)| {
            let layout = AirLayout {
                main_width: BaseAir::<F>::width(air),
                num_public_values: BaseAir::<F>::num_public_values(air),
                num_periodic_columns: BaseAir::<F>::num_periodic_columns(air),
                ..Default::default()
            };
            get_constraint_layout::<F, Challenge, _, _>(air, layout, lookups, &gadget)
                .total_constraints()
        })
        .collect()
}

/// Builds the FRI caches of this module ([`common_data`]'s packed lookups, the constraint counts)
/// now rather than in the first proof or verification ([`super::prepare`]).
pub(crate) fn prepare() {
    // The constraint counts are computed with `common_data`, so this one call fills both caches.
    let _ = constraint_counts();
}

/// Constraint degree of every AIR here (the x^3 S-box; lookup columns packed to stay within it).
pub const CONSTRAINT_DEGREE: usize = 3;

/// The shape the proof envelope checks a proof against, derived from the statement alone.
///
/// Same values as [`super::security::ProofShape::from_airs`] (a test checks it) but without its
/// symbolic degree walks (an AIR with periodic columns makes Plonky3 walk every constraint's
/// expression DAG: about 1 ms for the signature AIR since the permutation moved to its own
/// table, 50 ms before); the degree is the declared [`CONSTRAINT_DEGREE`] instead.
pub fn proof_shape(
    airs: &[AggAir],
    common: &CommonData<MultisigConfig>,
    log_heights: &[usize],
) -> ProofShape {
    debug_assert_eq!(airs.len(), NUM_INSTANCES, "the four aggregation AIRs");
    let counts = constraint_counts();
    let instances = airs
        .iter()
        .zip(log_heights)
        .zip(&common.lookups)
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

/// `n` distinct placeholder keys, for figures that depend on a statement's size alone (its
/// shape, security and proof-size bound), never for a proof.
pub(crate) fn placeholder_keys(n: usize) -> Vec<PublicKey> {
    (0..n)
        .map(|i| PublicKey {
            root: [F::from_u32(i as u32); 8],
            parameter: [F::ZERO; 5],
        })
        .collect()
}

/// The proof shape of every statement of `num_signatures` signatures: heights, widths and
/// lookups depend on the count alone, never on the keys, message or epoch (the statement
/// used here has placeholder keys).
pub fn shape_for_signatures(num_signatures: usize) -> ProofShape {
    let keys = placeholder_keys(num_signatures);
    let stmt = Statement {
        message: &[0; 32],
        epoch: 0,
        keys: &keys,
    };
    let airs = stmt.airs();
    proof_shape(&airs, &common_data(&airs), &degree_bits(&stmt.heights()))
}

/// log2 of the heights.
pub fn degree_bits(heights: &[usize]) -> Vec<usize> {
    heights.iter().map(|&h| log2_strict_usize(h)).collect()
}

/// Verifies `proof` against the statement. The trace heights are the verifier's own (fixed by
/// the number of keys); a proof claiming other heights is rejected before anything else.
pub fn verify(
    config: &MultisigConfig,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    common: &CommonData<MultisigConfig>,
    proof: &BatchProof<MultisigConfig>,
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
    use super::*;
    use crate::aggregate::config::PRESETS;
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
            format!("{:?}", common_data(&airs3).lookups)
        );
        let c1 = constraint_counts_uncached(&airs1, &common_data(&airs1));
        let c3 = constraint_counts_uncached(&airs3, &common_data(&airs3));
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
            let common = common_data(&airs);
            let bits = degree_bits(&stmt.heights());
            let fast = proof_shape(&airs, &common, &bits);
            let slow = ProofShape::from_airs(&airs, &common, &bits).unwrap();
            assert_eq!(fast, slow);
        }
    }
}
