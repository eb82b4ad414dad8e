//! Arithmetic of the challenge field, `KoalaBear[X]/(X^5 + X^2 - 1)` (Plonky3's
//! `QuinticTrinomialExtensionField`, [`crate::aggregate::field::Challenge`]), on the five base
//! coordinates (coefficient of `X^0` first) of any ring: trace values or AIR expressions.

use p3_field::{BasedVectorSpace, PrimeCharacteristicRing};

use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// Degree of the extension.
pub const D: usize = 5;

/// `a * b`, reduced with `X^5 = 1 - X^2`. Degree in the coordinates: `deg a + deg b`.
pub fn mul<E: PrimeCharacteristicRing + Clone>(a: &[E; D], b: &[E; D]) -> [E; D] {
    let mut wide: [E; 2 * D - 1] = core::array::from_fn(|_| E::ZERO);
    for i in 0..D {
        for j in 0..D {
            wide[i + j] = wide[i + j].clone() + a[i].clone() * b[j].clone();
        }
    }
    // X^k = X^(k-5) - X^(k-3) for k >= 5, from the top down (X^8 -> X^3, X^5).
    for k in (D..2 * D - 1).rev() {
        let t = wide[k].clone();
        wide[k - D] = wide[k - D].clone() + t.clone();
        wide[k - 3] = wide[k - 3].clone() - t;
    }
    core::array::from_fn(|i| wide[i].clone())
}

/// `a * s` for a base-field `s`.
pub fn scale<E: PrimeCharacteristicRing + Clone>(a: &[E; D], s: E) -> [E; D] {
    core::array::from_fn(|i| a[i].clone() * s.clone())
}

/// `a + b`.
pub fn add<E: PrimeCharacteristicRing + Clone>(a: &[E; D], b: &[E; D]) -> [E; D] {
    core::array::from_fn(|i| a[i].clone() + b[i].clone())
}

/// `a - b`.
pub fn sub<E: PrimeCharacteristicRing + Clone>(a: &[E; D], b: &[E; D]) -> [E; D] {
    core::array::from_fn(|i| a[i].clone() - b[i].clone())
}

/// The coordinates of `c`.
pub fn coords(c: Challenge) -> [F; D] {
    c.as_basis_coefficients_slice()
        .try_into()
        .expect("five coordinates")
}

/// The element with coordinates `a`.
pub fn element(a: [F; D]) -> Challenge {
    Challenge::from_basis_coefficients_fn(|i| a[i])
}

#[cfg(test)]
pub(crate) mod tests {
    use p3_field::Field;

    use super::*;

    /// A fixed pseudo-random sequence of base-field elements (SplitMix-style, reduced mod p).
    pub(crate) fn pseudo(seed: u64) -> impl Iterator<Item = F> {
        let mut x = seed;
        std::iter::repeat_with(move || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            F::from_u64(z ^ (z >> 31))
        })
    }

    pub(crate) fn challenges(seed: u64) -> impl Iterator<Item = Challenge> {
        let mut p = pseudo(seed);
        std::iter::repeat_with(move || element(core::array::from_fn(|_| p.next().unwrap())))
    }

    #[test]
    fn products_are_plonky3s() {
        let mut c = challenges(5);
        let mut base = pseudo(6);
        for _ in 0..200 {
            let (a, b) = (c.next().unwrap(), c.next().unwrap());
            assert_eq!(element(mul(&coords(a), &coords(b))), a * b);
            let s = base.next().unwrap();
            assert_eq!(element(scale(&coords(a), s)), a * s);
            assert_eq!(element(add(&coords(a), &coords(b))), a + b);
            assert_eq!(element(sub(&coords(a), &coords(b))), a - b);
        }
        // X^4 * X^4 = X^8 = X^3 + X^2 - 1.
        let x4 = element([F::ZERO, F::ZERO, F::ZERO, F::ZERO, F::ONE]);
        assert_eq!(
            coords(x4 * x4),
            [F::NEG_ONE, F::ZERO, F::ONE, F::ONE, F::ZERO]
        );
        assert_eq!(
            element(mul(&coords(x4), &coords(x4.inverse()))),
            Challenge::ONE
        );
    }
}
