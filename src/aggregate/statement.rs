//! The statement an aggregate proof is about, as both proof systems see it: the four AIR
//! instances it fixes, their trace heights and public values, and the traces of a witness.

use p3_field::PrimeCharacteristicRing;
use p3_matrix::dense::RowMajorMatrix;

use super::air::chain::{self, ChainAir, ChainStep};
use super::air::perm::Perm24TableAir;
use super::air::sig::{self, SigAir, SigWitness, BLOCK};
use super::air::table::{self, table_height, TableAir};
use super::air::{AggAir, NUM_INSTANCES};
use crate::xmss::constants::BASE;
use crate::xmss::message::encode_message;
use crate::xmss::{PublicKey, F};

/// Chain steps per valid signature: 46 * 7 - 200.
pub const STEPS_PER_SIGNATURE: usize = 122;

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
        let sig = n.next_power_of_two().max(sig::MIN_BLOCKS) * BLOCK;
        [
            sig,
            (n * STEPS_PER_SIGNATURE)
                .next_power_of_two()
                .max(chain::MIN_HEIGHT),
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

/// Builds the four traces (instance order) for the given witnesses and chain steps.
pub fn build_traces(
    stmt: &Statement<'_>,
    airs: &[AggAir],
    witnesses: &[SigWitness],
    steps: &[ChainStep],
) -> Vec<RowMajorMatrix<F>> {
    let t = std::time::Instant::now();
    let (sig, perm24) = sig::generate_trace(witnesses, stmt.message, stmt.epoch);
    super::profile::profile("  sig trace", t);
    let t = std::time::Instant::now();
    let chain = chain::generate_trace(steps);
    super::profile::profile("  chain trace", t);
    let mut counts = vec![0u32; table::TWEAK_PERIOD];
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

/// Runs `f` on a statement of `n` distinct placeholder keys (message and epoch 0), for figures
/// that depend on a statement's size alone (its shape, security and proof-size bound), never for
/// a proof.
pub(crate) fn with_placeholder_statement<R>(n: usize, f: impl FnOnce(&Statement<'_>) -> R) -> R {
    let keys: Vec<PublicKey> = (0..n)
        .map(|i| PublicKey {
            root: [F::from_u32(i as u32); 8],
            parameter: [F::ZERO; 5],
        })
        .collect();
    f(&Statement {
        message: &[0; 32],
        epoch: 0,
        keys: &keys,
    })
}

/// log2 of the heights.
pub fn degree_bits(heights: &[usize]) -> Vec<usize> {
    heights.iter().map(|&h| p3_util::log2_strict_usize(h)).collect()
}
