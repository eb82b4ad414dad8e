//! leanSig's width-24 Poseidon1 permutation over KoalaBear with full rounds of our own: the same
//! function as Plonky3's `default_koalabear_poseidon1_24` (8 full rounds, 23 partial rounds,
//! S-box x^3, KoalaBear's circulant MDS of width 24; Grassi et al., "Poseidon: A New Hash
//! Function for Zero-Knowledge Proof Systems", USENIX Security 2021), faster and independent of
//! how the compiler inlines Plonky3's MDS.
//!
//! Why: Plonky3 0.8 multiplies by the full rounds' circulant matrix with p3-mds's Karatsuba
//! convolution, whose pieces pass one another as function arguments and take their arrays by
//! value. Whether those calls are inlined depends on everything else compiled into the crate that
//! instantiates them (ours), and when they are not, the permutation costs about 40% more: the
//! FRI-Poseidon1 prover at 256 signatures took 5.05 s from the CLI's build against 3.57 s from
//! another build of the same source (CODEGEN.md, "One unit is not immune").
//!
//! What is ours is the multiplication by the circulant matrix ([`CirculantMds24`]); the round
//! constants, the matrix and the partial rounds (Plonky3's sparse-matrix partial layer, with its
//! SIMD specializations) are Plonky3's, taken from the same constants its permutation is built
//! from. The product splits by the Chinese remainder theorem over
//! `X^24 - 1 = (X^12 - 1)(X^12 + 1)`, then `X^12 - 1` and `X^6 - 1` the same way, down to one
//! cyclic convolution of length 3 and negacyclic ones of lengths 3, 6 and 12, each output a dot
//! product with constants (198 products, against 576 for the dense matrix), the halvings of the
//! reconstruction folded into the constants. Measured alone (a program built with Plonky3 alone,
//! `target-cpu=native`, 2026-12-06): one product 0.33 µs per 16 AVX-512 lanes against 0.63 µs
//! for Plonky3's convolution; the permutation 7.4 to 7.6 µs per 16 lanes against 9.5 to 9.7 µs,
//! 1.68 µs against 2.57 µs scalar; with AVX2 (`x86-64-v3`, 8 lanes) 4.50 µs against 5.04 µs.
//!
//! Tested equal to Plonky3's permutation on random states, scalar and on every lane of the packed
//! type, and the product equal to the dense matrix's.

use std::sync::OnceLock;

use p3_field::{Algebra, PrimeCharacteristicRing};
use p3_koala_bear::{
    MDSKoalaBearData, Poseidon1InternalLayerKoalaBear, KOALABEAR_POSEIDON1_RC_24,
    KOALABEAR_POSEIDON_HALF_FULL_ROUNDS, KOALABEAR_POSEIDON_PARTIAL_ROUNDS_24,
    KOALABEAR_S_BOX_DEGREE,
};
use p3_monty_31::MDSUtils;
use p3_poseidon1::{PartialRoundLayer, PartialRoundLayerConstructor, Poseidon1Constants};
use p3_symmetric::{CryptographicPermutation, Permutation};

use super::F;

/// Width of the permutation.
pub const WIDTH: usize = 24;

/// Multiplication by a circulant 24 x 24 matrix, split into convolutions of lengths 3, 6 and 12
/// (module docs). Each field holds one row of constants per output of that convolution.
#[derive(Clone, Debug)]
pub struct CirculantMds24 {
    cyclic3: [[F; 3]; 3],
    negacyclic3: [[F; 3]; 3],
    negacyclic6: [[F; 6]; 6],
    negacyclic12: [[F; 12]; 12],
}

/// `(c_lo + c_hi) / 2` and `(c_lo - c_hi) / 2` of the first `2M` entries of `c`: the constants of
/// the cyclic and negacyclic halves of a cyclic convolution of length `2M`, the reconstruction's
/// halving folded in.
fn crt_split<const M: usize>(c: &[F]) -> ([F; M], [F; M]) {
    let half = F::ONE.halve();
    (
        core::array::from_fn(|i| (c[i] + c[i + M]) * half),
        core::array::from_fn(|i| (c[i] - c[i + M]) * half),
    )
}

/// Rows of the cyclic convolution by `c`: output `k` is `sum_i x_i c_{(k - i) mod N}`.
fn cyclic_rows<const N: usize>(c: &[F; N]) -> [[F; N]; N] {
    core::array::from_fn(|k| core::array::from_fn(|i| c[(k + N - i) % N]))
}

/// Rows of the negacyclic convolution by `c` (the product modulo `X^N + 1`): output `k` is
/// `sum_{i <= k} x_i c_{k - i} - sum_{i > k} x_i c_{k + N - i}`.
fn negacyclic_rows<const N: usize>(c: &[F; N]) -> [[F; N]; N] {
    core::array::from_fn(|k| {
        core::array::from_fn(|i| if i <= k { c[k - i] } else { -c[k + N - i] })
    })
}

/// `(x_lo + x_hi, x_lo - x_hi)` of `x` of length `2M`.
#[inline(always)]
fn fold_halves<A: Algebra<F> + Copy, const M: usize>(x: &[A]) -> ([A; M], [A; M]) {
    (
        core::array::from_fn(|i| x[i] + x[i + M]),
        core::array::from_fn(|i| x[i] - x[i + M]),
    )
}

/// The convolution whose rows are `rows`, applied to `x`.
#[inline(always)]
fn convolve<A: Algebra<F> + Copy, const N: usize>(x: &[A; N], rows: &[[F; N]; N]) -> [A; N] {
    core::array::from_fn(|k| A::mixed_dot_product(x, &rows[k]))
}

/// `out = (u + v, u - v)`, the two halves of a length-`2M` result from its cyclic part `u` and
/// negacyclic part `v` (already halved through the constants).
#[inline(always)]
fn unfold_halves<A: Algebra<F> + Copy, const M: usize>(u: &[A; M], v: &[A; M], out: &mut [A]) {
    for i in 0..M {
        out[i] = u[i] + v[i];
        out[i + M] = u[i] - v[i];
    }
}

impl CirculantMds24 {
    /// The product by the circulant matrix whose first column is `column`
    /// (`M[i][j] = column[(i - j) mod 24]`).
    pub fn new(column: &[F; WIDTH]) -> Self {
        let (c12, n12) = crt_split::<12>(column);
        let (c6, n6) = crt_split::<6>(&c12);
        let (c3, n3) = crt_split::<3>(&c6);
        Self {
            cyclic3: cyclic_rows(&c3),
            negacyclic3: negacyclic_rows(&n3),
            negacyclic6: negacyclic_rows(&n6),
            negacyclic12: negacyclic_rows(&n12),
        }
    }

    /// Replaces `x` by `M x`.
    #[inline(always)]
    pub fn apply<A: Algebra<F> + Copy>(&self, x: &mut [A; WIDTH]) {
        let (p12, m12) = fold_halves::<A, 12>(x);
        let (p6, m6) = fold_halves::<A, 6>(&p12);
        let (p3, m3) = fold_halves::<A, 3>(&p6);
        let u3 = convolve(&p3, &self.cyclic3);
        let v3 = convolve(&m3, &self.negacyclic3);
        let v6 = convolve(&m6, &self.negacyclic6);
        let v12 = convolve(&m12, &self.negacyclic12);
        let mut u6 = [A::ZERO; 6];
        unfold_halves(&u3, &v3, &mut u6);
        let mut u12 = [A::ZERO; 12];
        unfold_halves(&u6, &v6, &mut u12);
        unfold_halves(&u12, &v12, x);
    }
}

/// leanSig's width-24 Poseidon1 permutation (module docs): Plonky3's constants and partial rounds,
/// our full rounds. Acts on `[F; 24]` and on `[<F as Field>::Packing; 24]` (one state per lane).
#[derive(Clone)]
pub struct Poseidon1Perm24 {
    initial: Vec<[F; WIDTH]>,
    terminal: Vec<[F; WIDTH]>,
    mds: CirculantMds24,
    partial: Poseidon1InternalLayerKoalaBear<WIDTH>,
}

impl core::fmt::Debug for Poseidon1Perm24 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Poseidon1Perm24")
            .field("full_rounds", &(self.initial.len() + self.terminal.len()))
            .finish_non_exhaustive()
    }
}

impl Poseidon1Perm24 {
    /// The permutation built from the constants of Plonky3's `default_koalabear_poseidon1_24`:
    /// round constants `KOALABEAR_POSEIDON1_RC_24`, the circulant matrix
    /// `MDSKoalaBearData::MATRIX_CIRC_MDS_24_COL`, 4 + 4 full rounds and 23 partial rounds.
    pub fn new() -> Self {
        let constants = Poseidon1Constants::<F, WIDTH> {
            rounds_f: 2 * KOALABEAR_POSEIDON_HALF_FULL_ROUNDS,
            rounds_p: KOALABEAR_POSEIDON_PARTIAL_ROUNDS_24,
            mds_circ_col: MDSKoalaBearData::MATRIX_CIRC_MDS_24_COL,
            round_constants: KOALABEAR_POSEIDON1_RC_24.to_vec(),
        };
        let (full, partial) = constants.to_optimized();
        let column: [F; WIDTH] = core::array::from_fn(|i| full.dense_mds[i][0]);
        Self {
            initial: full.initial,
            terminal: full.terminal,
            mds: CirculantMds24::new(&column),
            partial: Poseidon1InternalLayerKoalaBear::<WIDTH>::new_from_constants(partial),
        }
    }

    /// The full rounds with round constants `constants`: add the constants, cube every element,
    /// multiply by the circulant matrix.
    #[inline(always)]
    fn full_rounds<A: Algebra<F> + Copy>(&self, state: &mut [A; WIDTH], constants: &[[F; WIDTH]]) {
        for rc in constants {
            for (s, &c) in state.iter_mut().zip(rc) {
                *s = (*s + c).cube();
            }
            self.mds.apply(state);
        }
    }
}

impl Default for Poseidon1Perm24 {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> Permutation<[A; WIDTH]> for Poseidon1Perm24
where
    A: Algebra<F> + Copy,
    Poseidon1InternalLayerKoalaBear<WIDTH>: PartialRoundLayer<A, WIDTH, KOALABEAR_S_BOX_DEGREE>,
{
    fn permute_mut(&self, state: &mut [A; WIDTH]) {
        self.full_rounds(state, &self.initial);
        PartialRoundLayer::<A, WIDTH, KOALABEAR_S_BOX_DEGREE>::permute_state(&self.partial, state);
        self.full_rounds(state, &self.terminal);
    }
}

impl<A> CryptographicPermutation<[A; WIDTH]> for Poseidon1Perm24
where
    A: Algebra<F> + Copy,
    Poseidon1InternalLayerKoalaBear<WIDTH>: PartialRoundLayer<A, WIDTH, KOALABEAR_S_BOX_DEGREE>,
{
}

static PERM: OnceLock<Poseidon1Perm24> = OnceLock::new();

/// The process's [`Poseidon1Perm24`], created once.
pub fn poseidon1_perm24() -> &'static Poseidon1Perm24 {
    PERM.get_or_init(Poseidon1Perm24::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p3_field::{Field, PackedValue};
    use p3_koala_bear::default_koalabear_poseidon1_24;
    use rand::{Rng, SeedableRng};

    type Packed = <F as Field>::Packing;

    fn random_state(rng: &mut rand::rngs::SmallRng) -> [F; WIDTH] {
        core::array::from_fn(|_| F::from_u32(rng.random::<u32>()))
    }

    /// The circulant product equals the dense matrix's, on random vectors and on each unit
    /// vector (which reads the matrix's columns back one by one).
    #[test]
    fn circulant_product_is_the_dense_product() {
        let column: [F; WIDTH] = MDSKoalaBearData::MATRIX_CIRC_MDS_24_COL
            .map(|c| F::from_u64(u64::try_from(c).expect("the column's entries are nonnegative")));
        let dense: [[F; WIDTH]; WIDTH] =
            core::array::from_fn(|i| core::array::from_fn(|j| column[(i + WIDTH - j) % WIDTH]));
        let mds = CirculantMds24::new(&column);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(24);
        let mut inputs: Vec<[F; WIDTH]> = (0..WIDTH)
            .map(|u| core::array::from_fn(|i| F::from_bool(i == u)))
            .collect();
        inputs.extend((0..32).map(|_| random_state(&mut rng)));
        for x in inputs {
            let mut ours = x;
            mds.apply(&mut ours);
            let expected: [F; WIDTH] =
                core::array::from_fn(|i| (0..WIDTH).map(|j| dense[i][j] * x[j]).sum());
            assert_eq!(ours, expected);
        }
    }

    /// Scalar: the same outputs as Plonky3's permutation on random states (and not the identity).
    #[test]
    fn scalar_permutation_is_plonky3s() {
        let theirs = default_koalabear_poseidon1_24();
        let ours = Poseidon1Perm24::new();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for _ in 0..64 {
            let x = random_state(&mut rng);
            let out = ours.permute(x);
            assert_eq!(out, theirs.permute(x));
            assert_ne!(out, x);
        }
        assert_eq!(
            ours.permute([F::ZERO; WIDTH]),
            theirs.permute([F::ZERO; WIDTH])
        );
    }

    /// Packed: every lane equals Plonky3's scalar permutation of that lane's state.
    #[test]
    fn packed_permutation_is_plonky3s_on_every_lane() {
        let theirs = default_koalabear_poseidon1_24();
        let ours = poseidon1_perm24();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(2);
        for _ in 0..16 {
            let lanes: Vec<[F; WIDTH]> =
                (0..Packed::WIDTH).map(|_| random_state(&mut rng)).collect();
            let mut packed: [Packed; WIDTH] =
                core::array::from_fn(|i| Packed::from_fn(|l| lanes[l][i]));
            ours.permute_mut(&mut packed);
            for (l, lane) in lanes.iter().enumerate() {
                let out: [F; WIDTH] = core::array::from_fn(|i| packed[i].as_slice()[l]);
                assert_eq!(out, theirs.permute(*lane), "lane {l}");
            }
        }
    }
}
