//! The statement an aggregate proof is about, as both proof systems see it: the four AIR
//! instances it fixes, their trace heights and public values, and the traces of a witness.
//!
//! The statement is constant-size: (number of signers `N`, epoch, message, key-set digest). The
//! signers' keys enter the proof only through the key-set digest ([`key_set_digest_ordered`]), which the
//! verifier computes from the keys it holds and the signature AIR recomputes from the keys its
//! blocks verify under.

use p3_field::PrimeCharacteristicRing;
use p3_matrix::dense::RowMajorMatrix;

use super::air::chain::{self, ChainAir, ChainStep};
use super::air::perm::Perm24TableAir;
use super::air::sig::{self, SigAir, SigWitness, BLOCK};
use super::air::table::{self, TableAir, TABLE_HEIGHT};
use super::air::{AggAir, NUM_INSTANCES};
use crate::xmss::constants::BASE;
use crate::xmss::message::encode_message;
use crate::xmss::constants::{HASH_LEN_FE, PARAMETER_LEN};
use crate::xmss::poseidon::compress_24;
use crate::xmss::{Digest, Parameter, PublicKey, F};

/// Field elements of the key-set digest: 9 KoalaBear elements (279 bits, so its 139.5-bit
/// generic collision bound is above the 128-bit design level of the width-24 permutation).
pub const KEY_DIGEST_LEN: usize = 9;

/// Public values of the signature instance: `N`, the epoch as two 16-bit limbs, the message's 9
/// field elements, the key-set digest (9).
pub const NUM_STATEMENT_VALUES: usize = 3 + 9 + KEY_DIGEST_LEN;
/// Index of `N` among the public values.
pub const PV_NUM_KEYS: usize = 0;
/// Index of the epoch's low 16-bit limb among the public values (the high limb follows).
pub const PV_EPOCH: usize = 1;
/// Index of the message's first field element among the public values.
pub const PV_MESSAGE: usize = 3;
/// Index of the key-set digest's first element among the public values.
pub const PV_KEY_DIGEST: usize = 12;

/// Domain tag of the key-set digest, the first element of its initial value: the ASCII bytes
/// `"keys"` read as a big-endian integer.
pub const KEY_SET_DOMAIN: u32 = 0x6b65_7973;

/// Cells of the width-24 input that absorbs one key into the key-set digest.
pub mod key_layout {
    /// The digest so far: cells `0..9`.
    pub const DIGEST: usize = 0;
    /// The key's Merkle root: cells `9..17`.
    pub const ROOT: usize = 9;
    /// The key's parameter: cells `17..22`.
    pub const PARAMETER: usize = 17;
    /// Cells `22..24` are zero.
    pub const ZERO: usize = 22;
}

/// The key-set digest's initial value for `num_keys` keys: `[KEY_SET_DOMAIN, N, 0, ..., 0]`.
pub fn key_set_iv(num_keys: usize) -> [F; KEY_DIGEST_LEN] {
    key_set_iv_expr(F::from_usize(num_keys))
}

/// [`key_set_iv`] over any ring (the AIR's expressions), `num_keys` given as an element.
pub fn key_set_iv_expr<E: PrimeCharacteristicRing>(num_keys: E) -> [E; KEY_DIGEST_LEN] {
    let mut iv = core::array::from_fn(|_| E::ZERO);
    iv[0] = E::from_u32(KEY_SET_DOMAIN);
    iv[1] = num_keys;
    iv
}

/// The width-24 input that absorbs the key `(root, parameter)` into the digest `chain`:
/// `[chain (9) | root (8) | parameter (5) | 0 | 0]` ([`key_layout`]).
pub fn key_absorption_input(
    chain: &[F; KEY_DIGEST_LEN],
    root: &Digest,
    parameter: &Parameter,
) -> [F; 24] {
    let mut input = [F::ZERO; 24];
    input[key_layout::DIGEST..key_layout::DIGEST + KEY_DIGEST_LEN].copy_from_slice(chain);
    input[key_layout::ROOT..key_layout::ROOT + HASH_LEN_FE].copy_from_slice(root);
    input[key_layout::PARAMETER..key_layout::PARAMETER + PARAMETER_LEN].copy_from_slice(parameter);
    input
}

/// The key-set digest of `keys`, in the order given (a proof's statement takes them in
/// [`crate::canonical_key_order`]; [`crate::key_set_digest`] orders them first): starting from [`key_set_iv`]`(keys.len())`, each key in turn
/// replaces the digest `d` by the first 9 elements of `Perm24(x) + x` for
/// `x = `[`key_absorption_input`]`(d, root, parameter)`, leanSig's width-24 Poseidon1 permutation
/// with the feed-forward its Merkle nodes use. Costs one permutation per key (about 4.4 us on
/// the reference machine).
///
/// A Merkle-Damgard chain over a compression function with a fixed, length-dependent initial
/// value: two key lists of the same length with the same digest give a collision of the
/// compression; lists of different lengths start from different initial values.
pub fn key_set_digest_ordered(keys: &[PublicKey]) -> [F; KEY_DIGEST_LEN] {
    keys.iter().fold(key_set_iv(keys.len()), |chain, k| {
        compress_24(&key_absorption_input(&chain, &k.root, &k.parameter))
    })
}

/// A statement's [`NUM_STATEMENT_VALUES`] public values: `N` ([`PV_NUM_KEYS`]), the epoch as
/// two 16-bit limbs (low first, [`PV_EPOCH`]), the message's 9 field elements
/// ([`PV_MESSAGE`], leanSig's message encoding) and the key-set digest ([`PV_KEY_DIGEST`]). The
/// signature AIR and a parent's key-set AIR read `N` and the digest; every proof's transcript
/// observes all of them before its first challenge.
pub fn statement_values(
    num_keys: usize,
    epoch: u32,
    message: &[u8; 32],
    digest: &[F; KEY_DIGEST_LEN],
) -> Vec<F> {
    let mut v = vec![F::ZERO; NUM_STATEMENT_VALUES];
    v[PV_NUM_KEYS] = F::from_usize(num_keys);
    v[PV_EPOCH] = F::from_u32(epoch & 0xffff);
    v[PV_EPOCH + 1] = F::from_u32(epoch >> 16);
    v[PV_MESSAGE..PV_KEY_DIGEST].copy_from_slice(&encode_message(message));
    v[PV_KEY_DIGEST..].copy_from_slice(digest);
    v
}

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

/// Trace heights, in instance order, of a statement of `n` keys: the signature AIR's and the
/// permutation table's `next_power_of_two(max(n, MIN_BLOCKS)) * BLOCK` (one table row per
/// signature-AIR row), the chain AIR's `next_power_of_two(n * STEPS_PER_SIGNATURE)` (at least
/// its `MIN_HEIGHT`), the tweak table's `TABLE_HEIGHT`. Numbers of keys fall in bands of equal
/// heights: 1; 2; 3 and 4; 5 to 8; ...; 129 to 134 and 135 to 256 (the chain AIR's power of two
/// steps up at `2^k / 122` keys).
pub fn heights_of(n: usize) -> [usize; NUM_INSTANCES] {
    let sig = n.next_power_of_two().max(sig::MIN_BLOCKS) * BLOCK;
    [
        sig,
        (n * STEPS_PER_SIGNATURE)
            .next_power_of_two()
            .max(chain::MIN_HEIGHT),
        TABLE_HEIGHT,
        sig,
    ]
}

impl Statement<'_> {
    /// The four AIRs, in instance order.
    pub fn airs(&self) -> Vec<AggAir> {
        vec![
            AggAir::Sig(SigAir::new(self.message, self.epoch)),
            AggAir::Chain(ChainAir::new()),
            AggAir::Table(TableAir::new(self.epoch)),
            AggAir::Perm24(Perm24TableAir::new()),
        ]
    }

    /// Trace heights, in instance order; fixed by the number of keys ([`heights_of`]).
    pub fn heights(&self) -> [usize; NUM_INSTANCES] {
        heights_of(self.keys.len())
    }

    /// Public values per instance. The signature instance carries the whole statement
    /// ([`NUM_STATEMENT_VALUES`]: `N`, epoch as two 16-bit limbs, the message's 9 field
    /// elements, the key-set digest of the keys in the order given), so that the Fiat-Shamir
    /// transcript is bound to it before any challenge; its AIR reads `N` and the digest. Costs
    /// one width-24 permutation per key.
    pub fn public_values(&self) -> Vec<Vec<F>> {
        let sig = statement_values(
            self.keys.len(),
            self.epoch,
            self.message,
            &key_set_digest_ordered(self.keys),
        );
        vec![sig, Vec::new(), Vec::new(), Vec::new()]
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
    let keys = placeholder_keys(n);
    f(&Statement {
        message: &[0; 32],
        epoch: 0,
        keys: &keys,
    })
}

/// `n` distinct keys that are no one's (root `[i; 8]`, parameter zero): a statement of `n` keys
/// for what depends on the count alone (AIRs, heights, lookups).
pub(crate) fn placeholder_keys(n: usize) -> Vec<PublicKey> {
    (0..n)
        .map(|i| PublicKey {
            root: [F::from_u32(i as u32); 8],
            parameter: [F::ZERO; 5],
        })
        .collect()
}

/// log2 of the heights.
pub fn degree_bits(heights: &[usize]) -> Vec<usize> {
    heights.iter().map(|&h| p3_util::log2_strict_usize(h)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> PublicKey {
        PublicKey {
            root: core::array::from_fn(|j| F::from_u32(i * 31 + j as u32)),
            parameter: core::array::from_fn(|j| F::from_u32(i * 7 + 100 + j as u32)),
        }
    }

    #[test]
    fn key_set_digest_is_the_chain_of_compressions_the_air_computes() {
        let keys: Vec<PublicKey> = (0..3).map(key).collect();
        let mut d = key_set_iv(3);
        for k in &keys {
            let mut state = key_absorption_input(&d, &k.root, &k.parameter);
            let input = state;
            crate::xmss::poseidon::permute_24(&mut state);
            d = core::array::from_fn(|j| state[j] + input[j]);
        }
        assert_eq!(key_set_digest_ordered(&keys), d);
        assert_eq!(key_set_digest_ordered(&[]), key_set_iv(0));
    }

    #[test]
    fn key_set_digest_depends_on_order_count_and_every_cell() {
        let keys: Vec<PublicKey> = (0..4).map(key).collect();
        let d = key_set_digest_ordered(&keys);
        let mut swapped = keys.clone();
        swapped.swap(1, 2);
        assert_ne!(key_set_digest_ordered(&swapped), d);
        assert_ne!(key_set_digest_ordered(&keys[..3]), d);
        let mut longer = keys.clone();
        longer.push(key(9));
        assert_ne!(key_set_digest_ordered(&longer), d);
        for cell in 0..HASH_LEN_FE + PARAMETER_LEN {
            let mut k = keys.clone();
            if cell < HASH_LEN_FE {
                k[3].root[cell] += F::ONE;
            } else {
                k[3].parameter[cell - HASH_LEN_FE] += F::ONE;
            }
            assert_ne!(key_set_digest_ordered(&k), d, "cell {cell}");
        }
    }

    #[test]
    fn public_key_set_digest_ignores_the_callers_order_and_refuses_repeats() {
        let keys: Vec<PublicKey> = (0..5).map(key).collect();
        let mut reversed = keys.clone();
        reversed.reverse();
        let d = crate::key_set_digest(&keys).unwrap();
        assert_eq!(crate::key_set_digest(&reversed).unwrap(), d);
        let sorted = crate::canonical_key_order(&keys).unwrap();
        assert_eq!(key_set_digest_ordered(&sorted), d);
        let mut twice = keys.clone();
        twice.push(keys[2]);
        assert!(crate::key_set_digest(&twice).is_err());
    }
}
