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

fn squeeze<const N: usize>(shake: Shake) -> [F; N] {
    let mut shake = shake;
    core::array::from_fn(|_| {
        let mut buf = [0u8; PRF_BYTES_PER_FE];
        shake.squeeze(&mut buf);
        F::new((u128::from_be_bytes(buf) % P as u128) as u32)
    })
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
