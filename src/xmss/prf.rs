//! SHAKE128 PRF to field elements (leanSig `ShakePRFtoF<8, 7>`,
//! `src/symmetric/prf/shake_to_field.rs`).
//!
//! Both outputs absorb `PRF_DOMAIN_SEP (16 bytes) | sub-separator (1 byte) | key (32 bytes) |
//! epoch (4 bytes, big-endian) | ...` and then read 16 bytes of SHAKE128 output per field
//! element, interpreted as a big-endian u128 and reduced mod p.

use tiny_keccak::{Hasher, Shake, Xof};

use super::constants::{
    HASH_LEN_FE, MESSAGE_LEN, P, PRF_BYTES_PER_FE, PRF_DOMAIN_SEP, PRF_KEY_LEN,
    PRF_SEP_CHAIN_START, PRF_SEP_RANDOMNESS, RAND_LEN_FE,
};
use super::{Digest, F};

/// 2^64 mod p.
const TWO_64_MOD_P: u64 = ((1u128 << 64) % P as u128) as u64;

/// A 16-byte big-endian integer reduced mod p (leanSig `F::from_u128(u128::from_be_bytes(..))`),
/// computed with 64-bit arithmetic only.
pub fn fe_from_be_bytes(buf: &[u8; PRF_BYTES_PER_FE]) -> F {
    let x = u128::from_be_bytes(*buf);
    let (hi, lo) = ((x >> 64) as u64, x as u64);
    let r = ((hi % P as u64) * TWO_64_MOD_P % P as u64 + lo % P as u64) % P as u64;
    F::new(r as u32)
}

fn squeeze<const N: usize>(shake: Shake) -> [F; N] {
    let mut shake = shake;
    core::array::from_fn(|_| {
        let mut buf = [0u8; PRF_BYTES_PER_FE];
        shake.squeeze(&mut buf);
        fe_from_be_bytes(&buf)
    })
}

/// SHAKE128 rate, bytes.
const SHAKE128_RATE: usize = 168;
/// Length of the absorbed chain-start input: 16 + 1 + 32 + 4 + 8 = 61 bytes (one block).
const CHAIN_START_INPUT_LEN: usize = PRF_DOMAIN_SEP.len() + 1 + PRF_KEY_LEN + 4 + 8;
const _: () = assert!(CHAIN_START_INPUT_LEN < SHAKE128_RATE);
const _: () = assert!(HASH_LEN_FE * PRF_BYTES_PER_FE <= SHAKE128_RATE);

/// [`chain_start`] for many `(epoch, chain)` pairs at once, same outputs, using Plonky3's
/// SIMD Keccak-f\[1600\] (`p3_keccak::KeccakF`, `VECTOR_LEN` states per call: 8 on AVX-512).
/// Each input fits one SHAKE128 block (61 bytes, padded with 0x1F ... 0x80) and each output
/// (128 bytes) one squeeze, so every chain start costs exactly one Keccak-f lane.
pub fn chain_starts_batch(key: &[u8; PRF_KEY_LEN], items: &[(u32, u64)]) -> Vec<Digest> {
    use p3_keccak::{KeccakF, VECTOR_LEN};
    use p3_symmetric::Permutation;
    // The block common to all inputs: separators and key; epoch and chain go in per lane.
    let mut block = [0u8; 200];
    block[..16].copy_from_slice(&PRF_DOMAIN_SEP);
    block[16] = PRF_SEP_CHAIN_START;
    block[17..17 + PRF_KEY_LEN].copy_from_slice(key);
    block[CHAIN_START_INPUT_LEN] ^= 0x1f;
    block[SHAKE128_RATE - 1] ^= 0x80;
    let mut out = Vec::with_capacity(items.len());
    for group in items.chunks(VECTOR_LEN) {
        let mut state = [[0u64; VECTOR_LEN]; 25];
        for (lane, &(epoch, chain)) in group.iter().enumerate() {
            let mut b = block;
            b[49..53].copy_from_slice(&epoch.to_be_bytes());
            b[53..61].copy_from_slice(&chain.to_be_bytes());
            for (w, word) in state.iter_mut().enumerate() {
                word[lane] = u64::from_le_bytes(b[8 * w..8 * w + 8].try_into().expect("8 bytes"));
            }
        }
        KeccakF.permute_mut(&mut state);
        #[allow(clippy::needless_range_loop)]
        for lane in 0..group.len() {
            let mut bytes = [0u8; HASH_LEN_FE * PRF_BYTES_PER_FE];
            for (w, chunk) in bytes.chunks_exact_mut(8).enumerate() {
                chunk.copy_from_slice(&state[w][lane].to_le_bytes());
            }
            out.push(core::array::from_fn(|i| {
                fe_from_be_bytes(bytes[16 * i..16 * i + 16].try_into().expect("16 bytes"))
            }));
        }
    }
    out
}

/// The start (position 0) of chain `chain` for `epoch`: SHAKE128 over
/// `PRF_DOMAIN_SEP | 0x00 | key | epoch (u32 BE) | chain (u64 BE)`, 8 field elements.
pub fn chain_start(key: &[u8; PRF_KEY_LEN], epoch: u32, chain: u64) -> Digest {
    let mut shake = Shake::v128();
    shake.update(&PRF_DOMAIN_SEP);
    shake.update(&[PRF_SEP_CHAIN_START]);
    shake.update(key);
    shake.update(&epoch.to_be_bytes());
    shake.update(&chain.to_be_bytes());
    squeeze::<HASH_LEN_FE>(shake)
}

/// The signing randomness rho for attempt `counter`: SHAKE128 over
/// `PRF_DOMAIN_SEP | 0x01 | key | epoch (u32 BE) | message (32 bytes) | counter (u64 BE)`,
/// 7 field elements.
pub fn randomness(
    key: &[u8; PRF_KEY_LEN],
    epoch: u32,
    message: &[u8; MESSAGE_LEN],
    counter: u64,
) -> [F; RAND_LEN_FE] {
    let mut shake = Shake::v128();
    shake.update(&PRF_DOMAIN_SEP);
    shake.update(&[PRF_SEP_RANDOMNESS]);
    shake.update(key);
    shake.update(&epoch.to_be_bytes());
    shake.update(message);
    shake.update(&counter.to_be_bytes());
    squeeze::<RAND_LEN_FE>(shake)
}

/// Length of the absorbed randomness input: 16 + 1 + 32 + 4 + 32 + 8 = 93 bytes (one block).
const RANDOMNESS_INPUT_LEN: usize = PRF_DOMAIN_SEP.len() + 1 + PRF_KEY_LEN + 4 + MESSAGE_LEN + 8;
const _: () = assert!(RANDOMNESS_INPUT_LEN < SHAKE128_RATE);

/// [`randomness`] for attempts `first_counter .. first_counter + count`, same outputs, with
/// Plonky3's SIMD Keccak-f\[1600\] (one lane per attempt).
pub fn randomness_batch(
    key: &[u8; PRF_KEY_LEN],
    epoch: u32,
    message: &[u8; MESSAGE_LEN],
    first_counter: u64,
    count: usize,
) -> Vec<[F; RAND_LEN_FE]> {
    use p3_keccak::{KeccakF, VECTOR_LEN};
    use p3_symmetric::Permutation;
    let mut block = [0u8; 200];
    block[..16].copy_from_slice(&PRF_DOMAIN_SEP);
    block[16] = PRF_SEP_RANDOMNESS;
    block[17..49].copy_from_slice(key);
    block[49..53].copy_from_slice(&epoch.to_be_bytes());
    block[53..85].copy_from_slice(message);
    block[RANDOMNESS_INPUT_LEN] ^= 0x1f;
    block[SHAKE128_RATE - 1] ^= 0x80;
    let mut out = Vec::with_capacity(count);
    let mut counter = first_counter;
    let mut left = count;
    while left > 0 {
        let n = left.min(VECTOR_LEN);
        let mut state = [[0u64; VECTOR_LEN]; 25];
        #[allow(clippy::needless_range_loop)]
        for lane in 0..n {
            let mut b = block;
            b[85..93].copy_from_slice(&(counter + lane as u64).to_be_bytes());
            for (w, word) in state.iter_mut().enumerate() {
                word[lane] = u64::from_le_bytes(b[8 * w..8 * w + 8].try_into().expect("8 bytes"));
            }
        }
        KeccakF.permute_mut(&mut state);
        #[allow(clippy::needless_range_loop)]
        for lane in 0..n {
            let mut bytes = [0u8; RAND_LEN_FE * PRF_BYTES_PER_FE];
            for (w, chunk) in bytes.chunks_exact_mut(8).enumerate() {
                chunk.copy_from_slice(&state[w][lane].to_le_bytes());
            }
            out.push(core::array::from_fn(|i| {
                fe_from_be_bytes(bytes[16 * i..16 * i + 16].try_into().expect("16 bytes"))
            }));
        }
        counter += n as u64;
        left -= n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHAKE128("") from FIPS 202: 7f9c2ba4e88f827d616045507605853e...
    #[test]
    fn shake128_empty_known_answer() {
        let mut out = [0u8; 16];
        let mut s = Shake::v128();
        s.update(b"");
        s.squeeze(&mut out);
        assert_eq!(hex::encode(out), "7f9c2ba4e88f827d616045507605853e");
    }

    #[test]
    fn batch_matches_single() {
        let key: [u8; 32] = core::array::from_fn(|i| (i * 13 + 1) as u8);
        let items: Vec<(u32, u64)> = (0..21u32)
            .map(|i| (i.wrapping_mul(0x9e37_79b9), (i % 46) as u64))
            .collect();
        let batch = chain_starts_batch(&key, &items);
        for (&(e, c), got) in items.iter().zip(&batch) {
            assert_eq!(*got, chain_start(&key, e, c));
        }
    }

    #[test]
    fn randomness_batch_matches_single() {
        let key: [u8; 32] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        let m: [u8; 32] = core::array::from_fn(|i| (255 - i) as u8);
        let batch = randomness_batch(&key, 0xdead_beef, &m, 5, 19);
        for (i, got) in batch.iter().enumerate() {
            assert_eq!(*got, randomness(&key, 0xdead_beef, &m, 5 + i as u64));
        }
    }

    #[test]
    fn reduction_matches_u128() {
        for x in [
            0u128,
            1,
            P as u128,
            u128::MAX,
            (P as u128) << 64,
            0x0123_4567_89ab_cdef_0011_2233_4455_6677,
        ] {
            assert_eq!(
                fe_from_be_bytes(&x.to_be_bytes()),
                F::new((x % P as u128) as u32)
            );
        }
    }

    #[test]
    fn outputs_depend_on_every_input() {
        let k = [7u8; 32];
        let a = chain_start(&k, 1, 2);
        assert_ne!(a, chain_start(&k, 2, 2));
        assert_ne!(a, chain_start(&k, 1, 3));
        assert_ne!(a, chain_start(&[8u8; 32], 1, 2));
        let m = [1u8; 32];
        let r = randomness(&k, 1, &m, 0);
        assert_ne!(r, randomness(&k, 1, &m, 1));
        assert_ne!(r[..], a[..7]);
    }
}
