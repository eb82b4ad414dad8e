//! Key generation and signing (leanSig `GeneralizedXMSSSignatureScheme::{key_gen, sign}` and
//! `GeneralizedXMSSSecretKey::advance_preparation`, `src/signature/generalized_xmss.rs`).
//!
//! Top-bottom tree layout: the requested activation range is widened to whole bottom trees of
//! 2^16 epochs, at least two of them ([`expand_activation_time`]). Key generation builds every
//! bottom tree of the range (each in parallel, SIMD-packed) to get their roots, builds the top
//! tree over those roots, and keeps the top tree plus the first two bottom trees: the *prepared
//! window* of 2^17 epochs that can be signed. [`SecretKey::advance_preparation`] slides the
//! window by one bottom tree.
//!
//! Randomness: leanSig draws, from the RNG passed to `key_gen`, the parameter (5 FE), then the
//! PRF key (32 bytes), then the random padding digests of the top tree's layers (8 FE each).
//! [`keygen`] draws the same values in the same order from `StdRng::from_seed(seed)` (ChaCha12;
//! a field element is sampled as Plonky3 samples KoalaBear: `next_u32() >> 1`, rejected if
//! `>= p`, read as a Montgomery representative; a byte is `next_u32() as u8`).

use p3_field::{Field, PrimeCharacteristicRing};

use rand::{rngs::StdRng, RngCore, SeedableRng};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

use super::constants::RAND_LEN_FE;
use super::constants::{
    DIMENSION, HASH_LEN_FE, LEAVES_PER_BOTTOM_TREE, LIFETIME, LOG_LIFETIME, MAX_SIGN_TRIES, P,
};
use super::hash::walk_chain;
use super::message::first_codeword;
use super::tree::HashSubTree;
use super::{prf, Digest, Parameter, PublicKey, SecretKey, Signature, XmssError, F};

/// leanSig `expand_activation_time` for LOG_LIFETIME = 32, C = 2^16: the smallest range of whole
/// bottom trees containing `[activation_epoch, activation_epoch + num_active_epochs)`, at least
/// two trees long, shifted left if it would pass 2^32. Returns `(first, end)` bottom-tree
/// indices (end exclusive). The caller has checked the range lies inside `[0, 2^32)`.
pub fn expand_activation_time(activation_epoch: u64, num_active_epochs: u64) -> (u64, u64) {
    let c = LEAVES_PER_BOTTOM_TREE;
    let c_mask = !(c - 1);
    let desired_end = activation_epoch + num_active_epochs;
    let mut start = activation_epoch & c_mask;
    let mut end = (desired_end + c - 1) & c_mask;
    if end - start < 2 * c {
        end = start + 2 * c;
    }
    if end > LIFETIME {
        let duration = end - start;
        if duration > LIFETIME {
            start = 0;
            end = LIFETIME;
        } else {
            end = LIFETIME;
            start = (LIFETIME - duration) & c_mask;
        }
    }
    (start / c, end / c)
}

/// The key-generation RNG: ChaCha12 (`rand::rngs::StdRng`) seeded with the 32-byte seed, with
/// Plonky3's sampling of field elements.
struct KeyRng(StdRng);

impl KeyRng {
    fn field(&mut self) -> F {
        // Montgomery factor 2^32 mod p; a sampled u31 `x < p` is the Montgomery form of x * 2^-32.
        let r_inv = F::new(((1u64 << 32) % P as u64) as u32).inverse();
        loop {
            let x = self.0.next_u32() >> 1;
            if x < P {
                return F::new(x) * r_inv;
            }
        }
    }
    fn digest(&mut self) -> Digest {
        core::array::from_fn(|_| self.field())
    }
}

/// Production key generation: a key active on (at least) `num_active_epochs` epochs from
/// `activation_epoch`, widened by [`expand_activation_time`]. Deterministic in `seed`.
///
/// Errors: [`XmssError::InvalidKeygen`] if `num_active_epochs` is 0 or the range passes 2^32.
/// Cost: 2^16 leaves (46 chains of 7 steps, a 25-permutation sponge) per bottom tree; a key for
/// 2^17 epochs builds two bottom trees.
pub fn keygen(
    seed: [u8; 32],
    activation_epoch: u64,
    num_active_epochs: u64,
) -> Result<(PublicKey, SecretKey), XmssError> {
    keygen_with_progress(seed, activation_epoch, num_active_epochs, &|_, _| {})
}

/// [`keygen`], calling `progress(leaves_done, leaves_total)` from worker threads as leaves are
/// built (`leaves_total` = 2^16 per bottom tree of the widened range), for progress bars.
pub fn keygen_with_progress(
    seed: [u8; 32],
    activation_epoch: u64,
    num_active_epochs: u64,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(PublicKey, SecretKey), XmssError> {
    if num_active_epochs == 0 {
        return Err(XmssError::InvalidKeygen(
            "num_active_epochs must be non-zero".into(),
        ));
    }
    match activation_epoch.checked_add(num_active_epochs) {
        Some(end) if end <= LIFETIME => {}
        _ => {
            return Err(XmssError::InvalidKeygen(format!(
            "range {activation_epoch} + {num_active_epochs} passes the lifetime 2^{LOG_LIFETIME}"
        )))
        }
    }
    let (first, end) = expand_activation_time(activation_epoch, num_active_epochs);

    let mut rng = KeyRng(StdRng::from_seed(seed));
    let parameter: Parameter = core::array::from_fn(|_| rng.field());
    let mut prf_key = [0u8; 32];
    for b in prf_key.iter_mut() {
        *b = rng.0.next_u32() as u8;
    }

    let total = (end - first) * LEAVES_PER_BOTTOM_TREE;
    let done = AtomicU64::new(0);
    let report = |n: u64| progress(done.fetch_add(n, Ordering::Relaxed) + n, total);
    let left = HashSubTree::bottom_tree_with_progress(&prf_key, &parameter, first, &report);
    let right = HashSubTree::bottom_tree_with_progress(&prf_key, &parameter, first + 1, &report);
    let mut roots = vec![root_of(&left)?, root_of(&right)?];
    let rest: Vec<Digest> = (first + 2..end)
        .into_par_iter()
        .map(|b| {
            HashSubTree::bottom_tree_with_progress(&prf_key, &parameter, b, &report)
                .root()
                .unwrap_or([F::ZERO; HASH_LEN_FE])
        })
        .collect();
    roots.extend(rest);
    let top_tree = HashSubTree::top_tree(&parameter, first, roots, &mut || rng.digest());

    let sk = SecretKey {
        prf_key,
        parameter,
        activation_epoch: first * LEAVES_PER_BOTTOM_TREE,
        num_active_epochs: (end - first) * LEAVES_PER_BOTTOM_TREE,
        top_tree,
        left_bottom_tree_index: first,
        left_bottom_tree: left,
        right_bottom_tree: right,
    };
    let pk = sk.public_key();
    Ok((pk, sk))
}

fn root_of(tree: &HashSubTree) -> Result<Digest, XmssError> {
    tree.root()
        .ok_or_else(|| XmssError::InvalidKeygen("empty tree".into()))
}

impl SecretKey {
    /// Epochs the key was generated for: `activation_epoch .. activation_epoch + num_active_epochs`
    /// (after widening to whole bottom trees).
    pub fn activation_interval(&self) -> core::ops::Range<u64> {
        self.activation_epoch..self.activation_epoch.saturating_add(self.num_active_epochs)
    }

    /// Epochs that can be signed now: the two bottom trees held,
    /// `left_bottom_tree_index * 2^16 .. (left_bottom_tree_index + 2) * 2^16`.
    pub fn prepared_interval(&self) -> core::ops::Range<u64> {
        let start = self
            .left_bottom_tree_index
            .saturating_mul(LEAVES_PER_BOTTOM_TREE);
        start..start.saturating_add(2 * LEAVES_PER_BOTTOM_TREE)
    }

    /// Slides the prepared window by one bottom tree (builds bottom tree `left + 2`, drops the
    /// left one), unless that would pass the end of the activation interval, in which case the
    /// key is left unchanged (as leanSig does).
    pub fn advance_preparation(&mut self) {
        let next_end = (self.left_bottom_tree_index + 3).saturating_mul(LEAVES_PER_BOTTOM_TREE);
        if next_end > self.activation_interval().end {
            return;
        }
        let new_right = HashSubTree::bottom_tree(
            &self.prf_key,
            &self.parameter,
            self.left_bottom_tree_index + 2,
        );
        self.left_bottom_tree = core::mem::replace(&mut self.right_bottom_tree, new_right);
        self.left_bottom_tree_index += 1;
    }

    /// Slides the prepared window forward ([`Self::advance_preparation`], one bottom tree at a
    /// time) until it contains `epoch`, as a consensus client's signer does before signing at a
    /// slot past the window (zeam calls leanSig's `advance_preparation` the same way). Returns
    /// the number of bottom trees built: 0 when the window already holds `epoch`; each costs
    /// 2^16 leaves, about 11 s on a 2-core machine. The window never moves backwards.
    ///
    /// # Errors
    /// [`XmssError::EpochOutOfRange`] if `epoch` is outside the activation interval or before the
    /// prepared window (the key is then unchanged).
    pub fn prepare_for_epoch(&mut self, epoch: u32) -> Result<usize, XmssError> {
        let e = u64::from(epoch);
        if !self.activation_interval().contains(&e) || e < self.prepared_interval().start {
            return Err(XmssError::EpochOutOfRange { epoch });
        }
        let mut advanced = 0;
        while !self.prepared_interval().contains(&e) {
            let before = self.left_bottom_tree_index;
            self.advance_preparation();
            if self.left_bottom_tree_index == before {
                // Unreachable for a key from `keygen` or leanSig's SSZ: the activation interval
                // is whole bottom trees and the window lies inside it.
                return Err(XmssError::EpochOutOfRange { epoch });
            }
            advanced += 1;
        }
        Ok(advanced)
    }
}

/// The rho search of signing: the first attempt `0, 1, ...` (below 100 000) whose PRF
/// randomness gives a codeword, in batches (SIMD Keccak for the PRF, packed Poseidon for the
/// message hashes); the result is the one the sequential search finds.
pub fn find_rho(
    prf_key: &[u8; 32],
    parameter: &Parameter,
    epoch: u32,
    message: &[u8; 32],
) -> Result<([F; RAND_LEN_FE], [u8; DIMENSION]), XmssError> {
    const BATCH: u64 = 256;
    let mut first = 0u64;
    while first < MAX_SIGN_TRIES {
        let n = BATCH.min(MAX_SIGN_TRIES - first);
        let rhos = prf::randomness_batch(prf_key, epoch, message, first, n as usize);
        if let Some((i, x)) = first_codeword(parameter, epoch, message, &rhos) {
            return Ok((rhos[i], x));
        }
        first += n;
    }
    Err(XmssError::Signing(format!(
        "no codeword in {MAX_SIGN_TRIES} attempts"
    )))
}

/// Deterministic signing (leanSig `sign`): the Merkle path of `epoch` from the prepared bottom
/// tree and the top tree; rho = PRF randomness for attempts 0, 1, ... until the message hash
/// gives a codeword (at most 100 000 attempts); chain `i` walked `codeword[i]` steps from its
/// PRF start.
///
/// Errors: [`XmssError::EpochOutOfRange`] if `epoch` is outside the activation interval or the
/// prepared window; [`XmssError::Signing`] if no attempt gives a codeword (probability
/// negligible) or the key's trees lack a node (a key that was not produced by [`keygen`]).
pub fn sign(sk: &SecretKey, epoch: u32, message: &[u8; 32]) -> Result<Signature, XmssError> {
    let e = epoch as u64;
    if !sk.activation_interval().contains(&e) || !sk.prepared_interval().contains(&e) {
        return Err(XmssError::EpochOutOfRange { epoch });
    }
    let boundary = sk.prepared_interval().start + LEAVES_PER_BOTTOM_TREE;
    let (bottom, bottom_index) = if e < boundary {
        (&sk.left_bottom_tree, sk.left_bottom_tree_index)
    } else {
        (&sk.right_bottom_tree, sk.left_bottom_tree_index + 1)
    };
    let mut path = bottom.path(e)?;
    path.extend(sk.top_tree.path(bottom_index)?);
    let path: [Digest; LOG_LIFETIME] = path.try_into().map_err(|p: Vec<Digest>| {
        XmssError::Signing(format!("Merkle path has {} nodes, expected 32", p.len()))
    })?;

    let (rho, x) = find_rho(&sk.prf_key, &sk.parameter, epoch, message)?;

    let hashes: Vec<Digest> = (0..DIMENSION)
        .into_par_iter()
        .map(|c| {
            let start = prf::chain_start(&sk.prf_key, epoch, c as u64);
            walk_chain(&sk.parameter, epoch, c as u8, 0, x[c] as usize, &start)
        })
        .collect();
    Ok(Signature {
        path,
        rho,
        hashes: hashes.try_into().expect("46 chains"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmss::message::encode;

    const C: u64 = LEAVES_PER_BOTTOM_TREE;

    #[test]
    fn activation_time_is_widened_like_leansig() {
        // at least two bottom trees
        assert_eq!(expand_activation_time(0, 1), (0, 2));
        assert_eq!(expand_activation_time(5 * C + 17, 3), (5, 7));
        // start rounded down, end rounded up
        assert_eq!(expand_activation_time(C - 1, 2 * C + 2), (0, 4));
        assert_eq!(expand_activation_time(3 * C, 3 * C), (3, 6));
        // shifted left at the end of the lifetime
        assert_eq!(expand_activation_time(LIFETIME - 1, 1), (C - 2, C));
        assert_eq!(expand_activation_time(0, LIFETIME), (0, C));
    }

    #[test]
    fn keygen_rejects_bad_ranges() {
        assert!(matches!(
            keygen([0; 32], 0, 0),
            Err(XmssError::InvalidKeygen(_))
        ));
        assert!(matches!(
            keygen([0; 32], LIFETIME, 1),
            Err(XmssError::InvalidKeygen(_))
        ));
        assert!(matches!(
            keygen([0; 32], u64::MAX, 2),
            Err(XmssError::InvalidKeygen(_))
        ));
    }

    #[test]
    fn batched_rho_search_equals_sequential() {
        for seed in 0..3u8 {
            let key = [seed; 32];
            let param: Parameter = core::array::from_fn(|i| F::new(1000 * seed as u32 + i as u32));
            let msg = [seed.wrapping_mul(31); 32];
            let epoch = 77 + seed as u32;
            let sequential = (0..MAX_SIGN_TRIES)
                .find_map(|a| {
                    let rho = prf::randomness(&key, epoch, &msg, a);
                    encode(&param, epoch, &rho, &msg).map(|x| (rho, x))
                })
                .unwrap();
            assert_eq!(find_rho(&key, &param, epoch, &msg).unwrap(), sequential);
        }
    }

    #[test]
    fn sampled_field_elements_are_montgomery_reads() {
        // the Montgomery form of x * 2^-32 is x, so multiplying back by 2^32 gives x
        let mut rng = KeyRng(StdRng::from_seed([1; 32]));
        let mut raw = KeyRng(StdRng::from_seed([1; 32]));
        let two32 = F::new(((1u64 << 32) % P as u64) as u32);
        for _ in 0..100 {
            let f = rng.field();
            let x = loop {
                let x = raw.0.next_u32() >> 1;
                if x < P {
                    break x;
                }
            };
            assert_eq!(f * two32, F::new(x));
        }
    }
}
