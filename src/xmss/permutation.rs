//! leanSig's Poseidon1 permutations over KoalaBear, widths 16 and 24, with rounds of our own:
//! the same functions as Plonky3's `default_koalabear_poseidon1_16` and
//! `default_koalabear_poseidon1_24` (8 full rounds, then 20 or 23 partial rounds; S-box x^3;
//! KoalaBear's circulant MDS matrices of widths 16 and 24; Grassi et al., "Poseidon: A New Hash
//! Function for Zero-Knowledge Proof Systems", USENIX Security 2021), built from the same
//! constants, faster, and independent of how the compiler inlines Plonky3's code.
//!
//! Why: Plonky3 0.8 multiplies by the full rounds' circulant matrix with p3-mds's Karatsuba
//! convolution, whose pieces pass one another as function arguments and take their arrays by
//! value. Whether those calls are inlined depends on everything else compiled into the crate that
//! instantiates them (ours), and when they are not, the permutation costs about 40% more: the
//! FRI-Poseidon1 prover at 256 signatures took 5.05 s from the CLI's build against 3.57 s from
//! another build of the same source (CODEGEN.md, "One unit is not immune"). The width-16
//! permutation (chains) lost its inlining the same way in the release build: key generation
//! spent about a third of its samples in p3-mds's `Fn::call`, `mds_circulant_karatsuba_16` and
//! `mds_multiply` (2026-12-06).
//!
//! What is ours: the multiplication by the circulant matrix ([`CirculantMds24`],
//! [`CirculantMds16`]) and the rounds around it, written as loops over arrays the caller owns,
//! every helper `#[inline(always)]`, no function passed as an argument and no array passed by
//! value. The product splits by the Chinese remainder theorem: `X^24 - 1 = (X^12 - 1)(X^12 + 1)`,
//! then `X^12 - 1` and `X^6 - 1` the same way, down to one cyclic convolution of length 3 and
//! negacyclic ones of lengths 3, 6 and 12 (198 products, against 576 for the dense matrix);
//! `X^16 - 1` down to lengths 1, 1, 2, 4 and 8 (86 products, against 256). Each output is a dot
//! product with constants, the halvings of the reconstruction folded into the constants. The
//! partial rounds are Plonky3's sparse form (its `PartialRoundConstants`: one dense product, then
//! per round a dot product and a rank-one update), generic over the field or packed type.
//!
//! Measured alone (a program built with Plonky3 alone, `target-cpu=native`, 2026-12-06): one
//! width-24 circulant product 0.29 to 0.33 µs per 16 AVX-512 lanes against 0.62 to 0.70 µs for
//! Plonky3's convolution; the width-24 permutation 6.4 to 6.5 µs per 16 lanes against 9.5 to
//! 10.0 µs, 1.63 µs against 2.56 µs scalar; with AVX2 (`x86-64-v3`, 8 lanes) 3.74 µs against
//! 5.37 µs. The width-16 permutation 3.29 µs per 16 lanes against 3.99 µs, 1.04 µs against
//! 1.23 µs scalar.
//!
//! Tested equal to Plonky3's permutations on random states, scalar and on every lane of the
//! packed type, and each circulant product equal to its dense matrix's.

use p3_field::{Algebra, PrimeCharacteristicRing};
use p3_koala_bear::{
    MDSKoalaBearData, KOALABEAR_POSEIDON1_RC_16, KOALABEAR_POSEIDON1_RC_24,
    KOALABEAR_POSEIDON_HALF_FULL_ROUNDS, KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16,
    KOALABEAR_POSEIDON_PARTIAL_ROUNDS_24,
};
use p3_monty_31::MDSUtils;
use p3_poseidon1::{FullRoundConstants, PartialRoundConstants, Poseidon1Constants};
use p3_symmetric::{CryptographicPermutation, Permutation};

use super::F;

// The rounds cube: KoalaBear's Poseidon1 S-box is x^3.
const _: () = assert!(p3_koala_bear::KOALABEAR_S_BOX_DEGREE == 3);

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

/// `plus = x_lo + x_hi` and `minus = x_lo - x_hi` for `x` of length `2M`. Loops over arrays
/// the caller owns: nothing here is left for the inliner to decide (module docs).
#[inline(always)]
fn fold_halves<A: Algebra<F> + Copy, const M: usize>(
    x: &[A],
    plus: &mut [A; M],
    minus: &mut [A; M],
) {
    for i in 0..M {
        plus[i] = x[i] + x[i + M];
        minus[i] = x[i] - x[i + M];
    }
}

/// `out = rows x`: the convolution whose rows are `rows`, applied to `x`.
#[inline(always)]
fn convolve<A: Algebra<F> + Copy, const N: usize>(
    x: &[A; N],
    rows: &[[F; N]; N],
    out: &mut [A; N],
) {
    for (o, row) in out.iter_mut().zip(rows) {
        *o = A::mixed_dot_product(x, row);
    }
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

/// Multiplication by a circulant `W x W` matrix, `x <- M x`, the full rounds' linear layer.
pub trait CirculantMds<const W: usize>: Clone + core::fmt::Debug + Send + Sync {
    /// The product by the circulant matrix whose first column is `column`
    /// (`M[i][j] = column[(i - j) mod W]`).
    fn from_column(column: &[F; W]) -> Self;
    /// Replaces `x` by `M x`.
    fn apply<A: Algebra<F> + Copy>(&self, x: &mut [A; W]);
}

/// Multiplication by a circulant 24 x 24 matrix, split into convolutions of lengths 3, 6 and 12
/// (module docs). Each field holds one row of constants per output of that convolution.
#[derive(Clone, Debug)]
pub struct CirculantMds24 {
    cyclic3: [[F; 3]; 3],
    negacyclic3: [[F; 3]; 3],
    negacyclic6: [[F; 6]; 6],
    negacyclic12: [[F; 12]; 12],
}

impl CirculantMds<24> for CirculantMds24 {
    fn from_column(column: &[F; 24]) -> Self {
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

    #[inline(always)]
    fn apply<A: Algebra<F> + Copy>(&self, x: &mut [A; 24]) {
        let (mut p12, mut m12) = ([A::ZERO; 12], [A::ZERO; 12]);
        fold_halves(x, &mut p12, &mut m12);
        let (mut p6, mut m6) = ([A::ZERO; 6], [A::ZERO; 6]);
        fold_halves(&p12, &mut p6, &mut m6);
        let (mut p3, mut m3) = ([A::ZERO; 3], [A::ZERO; 3]);
        fold_halves(&p6, &mut p3, &mut m3);
        let (mut u3, mut v3) = ([A::ZERO; 3], [A::ZERO; 3]);
        convolve(&p3, &self.cyclic3, &mut u3);
        convolve(&m3, &self.negacyclic3, &mut v3);
        let mut v6 = [A::ZERO; 6];
        convolve(&m6, &self.negacyclic6, &mut v6);
        let mut v12 = [A::ZERO; 12];
        convolve(&m12, &self.negacyclic12, &mut v12);
        let mut u6 = [A::ZERO; 6];
        unfold_halves(&u3, &v3, &mut u6);
        let mut u12 = [A::ZERO; 12];
        unfold_halves(&u6, &v6, &mut u12);
        unfold_halves(&u12, &v12, x);
    }
}

/// Multiplication by a circulant 16 x 16 matrix, split into convolutions of lengths 1, 1, 2, 4
/// and 8 (module docs). Each field holds one row of constants per output of that convolution.
#[derive(Clone, Debug)]
pub struct CirculantMds16 {
    cyclic1: F,
    negacyclic1: F,
    negacyclic2: [[F; 2]; 2],
    negacyclic4: [[F; 4]; 4],
    negacyclic8: [[F; 8]; 8],
}

impl CirculantMds<16> for CirculantMds16 {
    fn from_column(column: &[F; 16]) -> Self {
        let (c8, n8) = crt_split::<8>(column);
        let (c4, n4) = crt_split::<4>(&c8);
        let (c2, n2) = crt_split::<2>(&c4);
        let (c1, n1) = crt_split::<1>(&c2);
        Self {
            cyclic1: c1[0],
            negacyclic1: n1[0],
            negacyclic2: negacyclic_rows(&n2),
            negacyclic4: negacyclic_rows(&n4),
            negacyclic8: negacyclic_rows(&n8),
        }
    }

    #[inline(always)]
    fn apply<A: Algebra<F> + Copy>(&self, x: &mut [A; 16]) {
        let (mut p8, mut m8) = ([A::ZERO; 8], [A::ZERO; 8]);
        fold_halves(x, &mut p8, &mut m8);
        let (mut p4, mut m4) = ([A::ZERO; 4], [A::ZERO; 4]);
        fold_halves(&p8, &mut p4, &mut m4);
        let (mut p2, mut m2) = ([A::ZERO; 2], [A::ZERO; 2]);
        fold_halves(&p4, &mut p2, &mut m2);
        let (mut p1, mut m1) = ([A::ZERO; 1], [A::ZERO; 1]);
        fold_halves(&p2, &mut p1, &mut m1);
        let u1 = [p1[0] * self.cyclic1];
        let v1 = [m1[0] * self.negacyclic1];
        let mut v2 = [A::ZERO; 2];
        convolve(&m2, &self.negacyclic2, &mut v2);
        let mut v4 = [A::ZERO; 4];
        convolve(&m4, &self.negacyclic4, &mut v4);
        let mut v8 = [A::ZERO; 8];
        convolve(&m8, &self.negacyclic8, &mut v8);
        let mut u2 = [A::ZERO; 2];
        unfold_halves(&u1, &v1, &mut u2);
        let mut u4 = [A::ZERO; 4];
        unfold_halves(&u2, &v2, &mut u4);
        let mut u8 = [A::ZERO; 8];
        unfold_halves(&u4, &v4, &mut u8);
        unfold_halves(&u8, &v8, x);
    }
}

/// The partial rounds in Plonky3's sparse form (`p3_poseidon1::PartialRoundConstants`, the
/// optimization of the Poseidon paper's appendix B): the first round's constants, one dense
/// product by `m_i`, then per round the S-box on element 0 and its constant, element 0 replaced
/// by its dot product with that round's first row, and every other element `j` increased by the
/// old element 0 times `v[j - 1]`. The same arithmetic as Plonky3's layer, written generically
/// with loops over the caller's arrays.
#[derive(Clone, Debug)]
struct PartialRounds<const W: usize> {
    first_round_constants: [F; W],
    m_i: [[F; W]; W],
    first_rows: Vec<[F; W]>,
    v: Vec<[F; W]>,
    round_constants: Vec<F>,
}

impl<const W: usize> PartialRounds<W> {
    #[inline(always)]
    fn apply<A: Algebra<F> + Copy>(&self, state: &mut [A; W]) {
        for (s, &c) in state.iter_mut().zip(&self.first_round_constants) {
            *s += c;
        }
        let x = *state;
        for (s, row) in state.iter_mut().zip(&self.m_i) {
            *s = A::mixed_dot_product(&x, row);
        }
        let rounds = self.first_rows.len();
        for (r, (row, v)) in self.first_rows.iter().zip(&self.v).enumerate() {
            let mut s0 = state[0].cube();
            if r + 1 < rounds {
                s0 += self.round_constants[r];
            }
            state[0] = s0;
            let new0 = A::mixed_dot_product(state, row);
            for j in 1..W {
                state[j] += s0 * v[j - 1];
            }
            state[0] = new0;
        }
    }
}

/// A leanSig Poseidon1 permutation of width `W` (module docs): Plonky3's constants, our rounds,
/// `M` the full rounds' circulant product. Acts on `[F; W]` and on `[<F as Field>::Packing; W]`
/// (one state per lane), or on any `Algebra<F>`.
#[derive(Clone, Debug)]
pub struct Poseidon1Perm<const W: usize, M> {
    initial: Vec<[F; W]>,
    terminal: Vec<[F; W]>,
    mds: M,
    partial: PartialRounds<W>,
}

/// leanSig's width-16 Poseidon1 permutation (chain steps).
pub type Poseidon1Perm16 = Poseidon1Perm<16, CirculantMds16>;

/// leanSig's width-24 Poseidon1 permutation (Merkle nodes, leaf sponge, message hash; the
/// recursion-ready preset's Merkle trees and transcript).
pub type Poseidon1Perm24 = Poseidon1Perm<24, CirculantMds24>;

impl<const W: usize, M: CirculantMds<W>> Poseidon1Perm<W, M> {
    /// The permutation of Plonky3's optimized constants for width `W` ([`constants16`],
    /// [`constants24`]).
    fn from_optimized(
        (full, partial): (FullRoundConstants<F, W>, PartialRoundConstants<F, W>),
    ) -> Self {
        let column: [F; W] = core::array::from_fn(|i| full.dense_mds[i][0]);
        Self {
            initial: full.initial,
            terminal: full.terminal,
            mds: M::from_column(&column),
            partial: PartialRounds {
                first_round_constants: partial.first_round_constants,
                m_i: partial.m_i,
                first_rows: partial.sparse_first_row,
                v: partial.v,
                round_constants: partial.round_constants,
            },
        }
    }

    /// The full rounds with round constants `constants`: add the constants, cube every element,
    /// multiply by the circulant matrix.
    #[inline(always)]
    fn full_rounds<A: Algebra<F> + Copy>(&self, state: &mut [A; W], constants: &[[F; W]]) {
        for rc in constants {
            for (s, &c) in state.iter_mut().zip(rc) {
                *s = (*s + c).cube();
            }
            self.mds.apply(state);
        }
    }
}

/// Plonky3's optimized constants (full rounds, sparse partial rounds) of leanSig's width-16
/// permutation, the one of `default_koalabear_poseidon1_16`: round constants
/// `KOALABEAR_POSEIDON1_RC_16`, the circulant matrix `MDSKoalaBearData::MATRIX_CIRC_MDS_16_COL`,
/// 4 + 4 full rounds and 20 partial rounds. The permutation's AIR uses the same constants
/// (`aggregate::air::perm`).
pub fn constants16() -> (FullRoundConstants<F, 16>, PartialRoundConstants<F, 16>) {
    Poseidon1Constants {
        rounds_f: 2 * KOALABEAR_POSEIDON_HALF_FULL_ROUNDS,
        rounds_p: KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16,
        mds_circ_col: MDSKoalaBearData::MATRIX_CIRC_MDS_16_COL,
        round_constants: KOALABEAR_POSEIDON1_RC_16.to_vec(),
    }
    .to_optimized()
}

/// Plonky3's optimized constants of leanSig's width-24 permutation, the one of
/// `default_koalabear_poseidon1_24`: round constants `KOALABEAR_POSEIDON1_RC_24`, the circulant
/// matrix `MDSKoalaBearData::MATRIX_CIRC_MDS_24_COL`, 4 + 4 full rounds and 23 partial rounds.
pub fn constants24() -> (FullRoundConstants<F, 24>, PartialRoundConstants<F, 24>) {
    Poseidon1Constants {
        rounds_f: 2 * KOALABEAR_POSEIDON_HALF_FULL_ROUNDS,
        rounds_p: KOALABEAR_POSEIDON_PARTIAL_ROUNDS_24,
        mds_circ_col: MDSKoalaBearData::MATRIX_CIRC_MDS_24_COL,
        round_constants: KOALABEAR_POSEIDON1_RC_24.to_vec(),
    }
    .to_optimized()
}

impl Poseidon1Perm16 {
    /// The permutation of Plonky3's `default_koalabear_poseidon1_16` ([`constants16`]).
    pub fn new() -> Self {
        Self::from_optimized(constants16())
    }
}

impl Default for Poseidon1Perm16 {
    fn default() -> Self {
        Self::new()
    }
}

impl Poseidon1Perm24 {
    /// The permutation of Plonky3's `default_koalabear_poseidon1_24` ([`constants24`]).
    pub fn new() -> Self {
        Self::from_optimized(constants24())
    }
}

impl Default for Poseidon1Perm24 {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Algebra<F> + Copy, const W: usize, M: CirculantMds<W>> Permutation<[A; W]>
    for Poseidon1Perm<W, M>
{
    fn permute_mut(&self, state: &mut [A; W]) {
        self.full_rounds(state, &self.initial);
        self.partial.apply(state);
        self.full_rounds(state, &self.terminal);
    }
}

impl<A: Algebra<F> + Copy, const W: usize, M: CirculantMds<W>> CryptographicPermutation<[A; W]>
    for Poseidon1Perm<W, M>
{
}

#[cfg(test)]
mod tests {
    use super::*;
    use p3_field::{Field, PackedValue};
    use p3_koala_bear::{default_koalabear_poseidon1_16, default_koalabear_poseidon1_24};
    use rand::{Rng, SeedableRng};

    type Packed = <F as Field>::Packing;

    fn random_state<const W: usize>(rng: &mut rand::rngs::SmallRng) -> [F; W] {
        core::array::from_fn(|_| F::from_u32(rng.random::<u32>()))
    }

    /// `M`'s product equals the dense circulant matrix built from `column`, on random vectors
    /// and on each unit vector (which reads the matrix's columns back one by one).
    fn check_circulant_product<const W: usize, M: CirculantMds<W>>(column: [i64; W], seed: u64) {
        let column: [F; W] = column
            .map(|c| F::from_u64(u64::try_from(c).expect("the column's entries are nonnegative")));
        let dense: [[F; W]; W] =
            core::array::from_fn(|i| core::array::from_fn(|j| column[(i + W - j) % W]));
        let mds = M::from_column(&column);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut inputs: Vec<[F; W]> = (0..W)
            .map(|u| core::array::from_fn(|i| F::from_bool(i == u)))
            .collect();
        inputs.extend((0..32).map(|_| random_state::<W>(&mut rng)));
        for x in inputs {
            let mut ours = x;
            mds.apply(&mut ours);
            let expected: [F; W] =
                core::array::from_fn(|i| (0..W).map(|j| dense[i][j] * x[j]).sum());
            assert_eq!(ours, expected);
        }
    }

    #[test]
    fn circulant_products_are_the_dense_products() {
        check_circulant_product::<24, CirculantMds24>(MDSKoalaBearData::MATRIX_CIRC_MDS_24_COL, 24);
        check_circulant_product::<16, CirculantMds16>(MDSKoalaBearData::MATRIX_CIRC_MDS_16_COL, 16);
    }

    /// Scalar: the same outputs as `theirs` on random states and zero (and not the identity).
    fn check_scalar<const W: usize, M: CirculantMds<W>>(
        ours: &Poseidon1Perm<W, M>,
        theirs: &impl Permutation<[F; W]>,
        seed: u64,
    ) {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        for _ in 0..64 {
            let x = random_state::<W>(&mut rng);
            let out = ours.permute(x);
            assert_eq!(out, theirs.permute(x));
            assert_ne!(out, x);
        }
        assert_eq!(ours.permute([F::ZERO; W]), theirs.permute([F::ZERO; W]));
    }

    #[test]
    fn scalar_permutations_are_plonky3s() {
        check_scalar(
            &Poseidon1Perm24::new(),
            &default_koalabear_poseidon1_24(),
            1,
        );
        check_scalar(
            &Poseidon1Perm16::new(),
            &default_koalabear_poseidon1_16(),
            3,
        );
    }

    /// Packed: every lane equals `theirs` (scalar) on that lane's state.
    fn check_packed<const W: usize, M: CirculantMds<W>>(
        ours: &Poseidon1Perm<W, M>,
        theirs: &impl Permutation<[F; W]>,
        seed: u64,
    ) {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        for _ in 0..16 {
            let lanes: Vec<[F; W]> = (0..Packed::WIDTH)
                .map(|_| random_state::<W>(&mut rng))
                .collect();
            let mut packed: [Packed; W] =
                core::array::from_fn(|i| Packed::from_fn(|l| lanes[l][i]));
            ours.permute_mut(&mut packed);
            for (l, lane) in lanes.iter().enumerate() {
                let out: [F; W] = core::array::from_fn(|i| packed[i].as_slice()[l]);
                assert_eq!(out, theirs.permute(*lane), "lane {l}");
            }
        }
    }

    #[test]
    fn packed_permutations_are_plonky3s_on_every_lane() {
        check_packed(
            &Poseidon1Perm24::new(),
            &default_koalabear_poseidon1_24(),
            2,
        );
        check_packed(
            &Poseidon1Perm16::new(),
            &default_koalabear_poseidon1_16(),
            4,
        );
    }
}
