//! Poseidon1 over KoalaBear (widths 16 and 24), the feed-forward compression and the
//! replacement sponge, as leanSig uses them (`src/lib.rs`, `src/symmetric/tweak_hash/poseidon.rs`).
//!
//! Permutations: the functions of Plonky3's `default_koalabear_poseidon1_16` (8 full + 20 partial
//! rounds) and `default_koalabear_poseidon1_24` (8 full + 23 partial rounds), S-box x^3, with
//! rounds of our own (`super::permutation`). Both are created once and cached.
//! Every function here is generic over `A: Algebra<F>`, so it works on scalars and on
//! Plonky3's packed KoalaBear (`<F as Field>::Packing`, one SIMD lane per independent hash).

use std::sync::OnceLock;

use p3_field::Algebra;
use p3_symmetric::Permutation;

use super::constants::{CAPACITY, MERGE_WIDTH, P, SPONGE_DOMAIN_LENGTHS};
use super::permutation::{Poseidon1Perm16, Poseidon1Perm24};
use super::F;

static POSEIDON1_16: OnceLock<Poseidon1Perm16> = OnceLock::new();
static POSEIDON1_24: OnceLock<Poseidon1Perm24> = OnceLock::new();
static SPONGE_CAPACITY: OnceLock<[F; CAPACITY]> = OnceLock::new();

/// The width-16 Poseidon1 permutation (chain steps), created once: the function of Plonky3's
/// `default_koalabear_poseidon1_16`, with our rounds ([`Poseidon1Perm16`]).
pub fn poseidon1_16() -> &'static Poseidon1Perm16 {
    POSEIDON1_16.get_or_init(Poseidon1Perm16::new)
}

/// The width-24 Poseidon1 permutation (Merkle nodes, leaf sponge, message hash), created once:
/// the function of Plonky3's `default_koalabear_poseidon1_24`, with our rounds
/// ([`Poseidon1Perm24`]).
pub fn poseidon1_24() -> &'static Poseidon1Perm24 {
    POSEIDON1_24.get_or_init(Poseidon1Perm24::new)
}

/// A value the permutations act on: the scalar field `F` or Plonky3's packed KoalaBear
/// (`<F as Field>::Packing`, one independent hash per SIMD lane).
pub trait PoseidonLane: Algebra<F> + Copy + Send + Sync {
    /// Applies the width-16 permutation to `state` in place.
    fn permute_16(state: &mut [Self; 16]);
    /// Applies the width-24 permutation to `state` in place.
    fn permute_24(state: &mut [Self; 24]);
}

impl<A> PoseidonLane for A
where
    A: Algebra<F> + Copy + Send + Sync,
    Poseidon1Perm16: Permutation<[A; 16]>,
    Poseidon1Perm24: Permutation<[A; 24]>,
{
    #[inline]
    fn permute_16(state: &mut [Self; 16]) {
        poseidon1_16().permute_mut(state);
    }
    #[inline]
    fn permute_24(state: &mut [Self; 24]) {
        poseidon1_24().permute_mut(state);
    }
}

/// Applies the width-16 permutation to `state` in place.
pub fn permute_16<A: PoseidonLane>(state: &mut [A; 16]) {
    A::permute_16(state);
}

/// Applies the width-24 permutation to `state` in place.
pub fn permute_24<A: PoseidonLane>(state: &mut [A; 24]) {
    A::permute_24(state);
}

/// Width-16 feed-forward compression: the first `OUT` elements of `Perm16(x) + x`.
pub fn compress_16<A, const OUT: usize>(input: &[A; 16]) -> [A; OUT]
where
    A: PoseidonLane,
{
    let mut state = *input;
    permute_16(&mut state);
    core::array::from_fn(|i| state[i] + input[i])
}

/// Width-24 feed-forward compression: the first `OUT` elements of `Perm24(x) + x`.
pub fn compress_24<A, const OUT: usize>(input: &[A; 24]) -> [A; OUT]
where
    A: PoseidonLane,
{
    let mut state = *input;
    permute_24(&mut state);
    core::array::from_fn(|i| state[i] + input[i])
}

/// Writes the non-negative integer `acc` in base p, least significant digit first, into `N`
/// field elements (leanSig's encoding of tweaks and domain lengths). Digits beyond the integer's
/// length are zero.
pub fn base_p_digits<const N: usize>(mut acc: u128) -> [F; N] {
    core::array::from_fn(|_| {
        let digit = (acc % P as u128) as u32;
        acc /= P as u128;
        F::new(digit)
    })
}

/// The leaf sponge's capacity value (9 FE), leanSig's `poseidon_safe_domain_separator`.
///
/// The four lengths `SPONGE_DOMAIN_LENGTHS = [5, 2, 46, 8]` are packed big-endian in base 2^32
/// into `acc = 5·2^96 + 2·2^64 + 46·2^32 + 8`, `acc` is written in base p into the 24 elements of a
/// width-24 state (digit 0 at index 0, the rest zero), and the value is the first 9 elements of
/// `Perm24(x) + x`. It is a constant of the scheme, computed once.
pub fn sponge_capacity_value() -> [F; CAPACITY] {
    *SPONGE_CAPACITY.get_or_init(|| {
        let acc = SPONGE_DOMAIN_LENGTHS
            .iter()
            .fold(0u128, |acc, &l| (acc << 32) | l as u128);
        let input: [F; MERGE_WIDTH] = base_p_digits(acc);
        compress_24::<F, CAPACITY>(&input)
    })
}

/// The replacement sponge over the width-24 permutation with a 9-element capacity.
///
/// State layout: `state[0..9]` = capacity (initialised to `capacity`), `state[9..24]` = rate.
/// For each block of 15 input elements, `state[9..24]` is *overwritten* by the block (no
/// addition) and the permutation is applied; a final partial block would be zero-padded (the
/// leaf input of 375 elements fills 25 blocks exactly). The output is `state[9..9+OUT]` after the
/// last permutation (`OUT <= 15`, no further squeezing).
pub fn replacement_sponge_24<A, const OUT: usize>(capacity: &[A; CAPACITY], input: &[A]) -> [A; OUT]
where
    A: PoseidonLane,
{
    const RATE: usize = MERGE_WIDTH - CAPACITY;
    const { assert!(OUT <= RATE) };
    let mut state = [A::ZERO; MERGE_WIDTH];
    state[..CAPACITY].copy_from_slice(capacity);
    for block in input.chunks(RATE) {
        for (i, s) in state[CAPACITY..].iter_mut().enumerate() {
            *s = block.get(i).copied().unwrap_or(A::ZERO);
        }
        permute_24(&mut state);
    }
    core::array::from_fn(|i| state[CAPACITY + i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use p3_field::{PrimeCharacteristicRing, PrimeField32};

    /// Known answers from `../shared/spec/LEANSIG.md` (leanSig's Poseidon1 KoalaBear).
    #[test]
    fn permutation_known_answers() {
        let mut s16: [F; 16] = core::array::from_fn(|i| F::new(i as u32));
        permute_16(&mut s16);
        let got16: Vec<u32> = s16[..3].iter().map(|x| x.as_canonical_u32()).collect();
        assert_eq!(got16, [610090613, 935319874, 1893335292]);

        let mut s24: [F; 24] = core::array::from_fn(|i| F::new(i as u32));
        permute_24(&mut s24);
        let got24: Vec<u32> = s24[..3].iter().map(|x| x.as_canonical_u32()).collect();
        assert_eq!(got24, [511672087, 215882318, 237782537]);
    }

    #[test]
    fn packed_permutation_matches_scalar_lanes() {
        use p3_field::{Field, PackedValue};
        type PF = <F as Field>::Packing;
        let w = PF::WIDTH;
        let lanes: Vec<[F; 24]> = (0..w)
            .map(|l| core::array::from_fn(|i| F::new((i * 1000 + l * 7 + 3) as u32)))
            .collect();
        let mut packed: [PF; 24] = core::array::from_fn(|i| PF::from_fn(|l| lanes[l][i]));
        permute_24(&mut packed);
        for (l, lane) in lanes.iter().enumerate() {
            let mut s = *lane;
            permute_24(&mut s);
            for i in 0..24 {
                assert_eq!(packed[i].as_slice()[l], s[i]);
            }
        }
    }

    #[test]
    fn base_p_digits_round_trip() {
        let x: u128 = (5u128 << 96) | (2u128 << 64) | (46u128 << 32) | 8;
        let d: [F; 24] = base_p_digits(x);
        let back = d.iter().rev().fold(0u128, |acc, f| {
            acc * P as u128 + f.as_canonical_u32() as u128
        });
        assert_eq!(back, x);
        assert!(d[5..].iter().all(|f| *f == F::ZERO));
    }
}
