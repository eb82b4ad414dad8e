//! The three AIRs as one batch-STARK statement: instance order, heights, public values, and the
//! calls into `p3_batch_stark::prove_batch` / `verify_batch`.

use std::borrow::Cow;

use p3_air::{Air, AirBuilder, BaseAir};
use p3_batch_stark::{prove_batch, verify_batch, BatchProof, CommonData, ProverData, StarkInstance};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::InteractionBuilder;
use p3_matrix::dense::RowMajorMatrix;

use p3_util::log2_strict_usize;

use super::chain_air::{self, ChainAir, ChainStep};
use super::sig_air::{self, SigAir, SigWitness, BLOCK};
use super::table_air::{self, table_height, TableAir};
use crate::xmss::constants::BASE;
use crate::xmss::message::encode_message;
use crate::xmss::{PublicKey, F};
use super::config::MultisigConfig;

/// Chain steps per valid signature: 46 * 7 - 200.
pub const STEPS_PER_SIGNATURE: usize = 122;

/// One of the three AIRs of an aggregate proof (batch-STARK needs one type for all instances).
#[derive(Clone)]
pub enum AggAir {
    /// Per-signature 64-row blocks of width-24 permutations (instance 0).
    Sig(SigAir),
    /// Chain steps (instance 1).
    Chain(ChainAir),
    /// Tweak and key tables (instance 2).
    Table(TableAir),
}

macro_rules! dispatch {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            AggAir::Sig($a) => $e,
            AggAir::Chain($a) => $e,
            AggAir::Table($a) => $e,
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
    /// The three AIRs, in instance order.
    pub fn airs(&self) -> Vec<AggAir> {
        vec![
            AggAir::Sig(SigAir::new(self.message, self.epoch)),
            AggAir::Chain(ChainAir::new()),
            AggAir::Table(TableAir::new(self.epoch, self.keys)),
        ]
    }

    /// Trace heights, in instance order; fixed by the number of keys.
    pub fn heights(&self) -> [usize; 3] {
        let n = self.keys.len();
        [
            n.next_power_of_two() * BLOCK,
            (n * STEPS_PER_SIGNATURE).next_power_of_two().max(16),
            table_height(n),
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
        vec![Vec::new(), Vec::new(), table]
    }
}

impl TableAir {
    /// Number of statement values bound as this instance's public values.
    pub fn num_statement_values(&self) -> usize {
        3 + 9 + 13 * self.num_keys()
    }
}

/// Builds the three traces for the given witnesses and chain steps.
pub fn build_traces(
    stmt: &Statement<'_>,
    airs: &[AggAir],
    witnesses: &[SigWitness],
    steps: &[ChainStep],
) -> Vec<RowMajorMatrix<F>> {
    let sig = sig_air::generate_trace(witnesses, stmt.message, stmt.epoch);
    let chain = chain_air::generate_trace(steps);
    let mut counts = vec![0u32; table_air::TWEAK_PERIOD];
    for s in steps {
        // Entry of the tweak for target position pos + 1 of this chain.
        let entry = s.chain as usize * (BASE - 1) + s.pos as usize;
        if let Some(c) = counts.get_mut(entry) {
            *c += 1;
        }
    }
    let AggAir::Table(table) = &airs[2] else { unreachable!("instance 2 is the table AIR") };
    let table = table.generate_trace(&counts);
    vec![sig, chain, table]
}

/// Proves the statement from the traces (heights must be [`Statement::heights`]).
pub fn prove(
    config: &MultisigConfig,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    traces: &[RowMajorMatrix<F>],
) -> Result<BatchProof<MultisigConfig>, String> {
    let public_values = stmt.public_values();
    let trace_refs: Vec<&RowMajorMatrix<F>> = traces.iter().collect();
    let instances = StarkInstance::new_multiple(airs, &trace_refs, &public_values);
    let prover_data =
        ProverData::from_instances(config, &instances).map_err(|e| format!("{e:?}"))?;
    prove_batch(config, &instances, &prover_data).map_err(|e| format!("{e:?}"))
}

/// log2 of the heights.
pub fn degree_bits(heights: &[usize; 3]) -> Vec<usize> {
    heights.iter().map(|&h| log2_strict_usize(h)).collect()
}

/// Verifies `proof` against the statement. The trace heights are the verifier's own (fixed by
/// the number of keys); a proof claiming other heights is rejected before anything else.
pub fn verify(
    config: &MultisigConfig,
    stmt: &Statement<'_>,
    proof: &BatchProof<MultisigConfig>,
) -> Result<(), String> {
    let airs = stmt.airs();
    let bits = degree_bits(&stmt.heights());
    if proof.degree_bits != bits {
        return Err(format!("trace heights {:?}, expected {:?}", proof.degree_bits, bits));
    }
    let common: CommonData<MultisigConfig> = ProverData::from_airs_and_degrees(config, &airs, &bits)
        .map_err(|e| format!("{e:?}"))?
        .common;
    verify_batch(config, &airs, proof, &stmt.public_values(), &common).map_err(|e| format!("{e:?}"))
}
