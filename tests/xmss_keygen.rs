//! Production key generation, signing and secret-key SSZ on one real key (2^17 epochs, the
//! minimum range). Run in release: `cargo test --release --test xmss_keygen` (about 9 s of CPU
//! for the key); in a debug build these tests are skipped as too slow.

use std::sync::OnceLock;

use multisig::xmss::{self, PublicKey, SecretKey, Signature, XmssError};

const SEED: [u8; 32] = [0x5a; 32];

fn key() -> &'static (PublicKey, SecretKey) {
    static KEY: OnceLock<(PublicKey, SecretKey)> = OnceLock::new();
    KEY.get_or_init(|| {
        let last = std::sync::atomic::AtomicU64::new(0);
        let key = xmss::keygen::keygen_with_progress(SEED, 70_000, 10, &|done, total| {
            assert_eq!(total, 131_072);
            last.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
        })
        .expect("keygen");
        assert_eq!(last.into_inner(), 131_072, "progress reaches the total");
        key
    })
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: run with --release")]
fn range_is_widened_to_two_bottom_trees() {
    let (pk, sk) = key();
    assert_eq!(sk.activation_interval(), 65_536..196_608);
    assert_eq!(sk.prepared_interval(), 65_536..196_608);
    assert_eq!(sk.public_key(), *pk);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: run with --release")]
fn signatures_verify_across_the_prepared_window() {
    let (pk, sk) = key();
    let msg: [u8; 32] = core::array::from_fn(|i| i as u8);
    for epoch in [65_536u32, 65_537, 70_004, 131_071, 131_072, 196_607] {
        let sig = xmss::sign(sk, epoch, &msg).unwrap();
        assert!(xmss::verify(pk, epoch, &msg, &sig), "epoch {epoch}");
        assert!(!xmss::verify(pk, epoch + 1, &msg, &sig));
        let mut other = msg;
        other[0] ^= 1;
        assert!(!xmss::verify(pk, epoch, &other, &sig));
        // deterministic
        assert_eq!(xmss::sign(sk, epoch, &msg).unwrap(), sig);
        // the codeword decomposes as the verifier expects
        let x = xmss::codeword(pk, epoch, &msg, &sig).unwrap();
        assert_eq!(x.iter().map(|&d| d as u32).sum::<u32>(), 200);
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: run with --release")]
fn epochs_outside_the_key_are_refused() {
    let (_, sk) = key();
    for epoch in [0u32, 65_535, 196_608, u32::MAX] {
        assert_eq!(
            xmss::sign(sk, epoch, &[0; 32]),
            Err(XmssError::EpochOutOfRange { epoch })
        );
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: run with --release")]
fn ssz_round_trips_byte_identically() {
    let (pk, sk) = key();
    assert_eq!(PublicKey::from_ssz(&pk.to_ssz()).unwrap(), *pk);
    let sig = xmss::sign(sk, 100_000, &[7; 32]).unwrap();
    let sig_bytes = sig.to_ssz();
    assert_eq!(sig_bytes.len(), xmss::SIGNATURE_SSZ_LEN);
    assert_eq!(Signature::from_ssz(&sig_bytes).unwrap().to_ssz(), sig_bytes);

    let bytes = sk.to_ssz();
    let back = SecretKey::from_ssz(&bytes).unwrap();
    assert_eq!(back.to_ssz(), bytes);
    assert_eq!(xmss::sign(&back, 100_000, &[7; 32]).unwrap(), sig);
    // fixed part: prf key, parameter, activation range, offsets as leanSig lays them out
    assert_eq!(
        u64::from_le_bytes(bytes[52..60].try_into().unwrap()),
        65_536
    );
    assert_eq!(
        u64::from_le_bytes(bytes[60..68].try_into().unwrap()),
        131_072
    );
    assert_eq!(u32::from_le_bytes(bytes[68..72].try_into().unwrap()), 88);
    assert_eq!(u64::from_le_bytes(bytes[72..80].try_into().unwrap()), 1);
    assert_eq!(&bytes[32..52], &pk.to_ssz()[32..52]);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: run with --release")]
fn malformed_secret_keys_are_errors() {
    let (_, sk) = key();
    let bytes = sk.to_ssz();
    let bad = |b: &[u8]| matches!(SecretKey::from_ssz(b), Err(XmssError::Malformed { .. }));
    for len in [0, 1, 87, 88, 89, 200, bytes.len() / 2, bytes.len() - 1] {
        assert!(bad(&bytes[..len]), "truncated to {len}");
    }
    let mut long = bytes.clone();
    long.extend_from_slice(&[0; 32]);
    assert!(bad(&long), "extended");
    // top / left / right offsets and a few inner offsets
    for (at, v) in [
        (68usize, 87u32),
        (68, 92),
        (80, 0),
        (80, u32::MAX),
        (84, 89),
        (84, u32::MAX),
        (88 + 16, 21),
        (88 + 20, 3),
    ] {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        assert!(bad(&b), "offset at {at} = {v}");
    }
    // activation range and window
    for (at, v) in [
        (52usize, 1u64),
        (60, 65_536),
        (60, u64::MAX),
        (72, 0),
        (72, 2),
        (88, 31),
    ] {
        let mut b = bytes.clone();
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        assert!(bad(&b), "u64 at {at} = {v}");
    }
    // non-canonical parameter and the last node of the right bottom tree
    for at in [32usize, bytes.len() - 4] {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&0x7f00_0001u32.to_le_bytes());
        assert!(bad(&b), "fe at {at}");
    }
}

/// A key made for 2^18 epochs (four bottom trees) signs in its third and its last bottom tree:
/// [`xmss::sign_advancing`] slides the prepared window one bottom tree at a time, never
/// backwards, and the advanced key's SSZ round-trips and keeps signing. Six bottom trees are
/// built in all (four at key generation, two advances): the slowest test of the release suite.
#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: run with --release")]
fn key_for_2_18_epochs_signs_in_its_third_and_last_bottom_trees() {
    let t = std::time::Instant::now();
    let (pk, mut sk) = xmss::keygen([3; 32], 0, 1 << 18).unwrap();
    eprintln!("keygen of 2^18 epochs: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(sk.activation_interval(), 0..(1 << 18));
    assert_eq!(sk.prepared_interval(), 0..131_072);
    let msg = [1u8; 32];
    // Plain signing stops at the first window.
    let third = 2 * 65_536 + 1234;
    assert_eq!(
        xmss::sign(&sk, third, &msg),
        Err(XmssError::EpochOutOfRange { epoch: third })
    );
    // Third bottom tree: one advance.
    let t = std::time::Instant::now();
    let (sig, advanced) = xmss::sign_advancing(&mut sk, third, &msg).unwrap();
    eprintln!(
        "advance by one bottom tree and sign: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(advanced, 1);
    assert_eq!(sk.prepared_interval(), 65_536..196_608);
    assert!(xmss::verify(&pk, third, &msg, &sig));
    // The window never moves back: the first bottom tree is gone.
    assert_eq!(
        xmss::sign_advancing(&mut sk, 5, &msg),
        Err(XmssError::EpochOutOfRange { epoch: 5 })
    );
    assert_eq!(sk.prepared_interval(), 65_536..196_608);
    // The advanced key's SSZ round-trips byte for byte and decodes to a key that still signs.
    let bytes = sk.to_ssz();
    let mut reloaded = SecretKey::from_ssz(&bytes).unwrap();
    assert_eq!(reloaded, sk);
    assert_eq!(reloaded.to_ssz(), bytes);
    assert_eq!(xmss::sign(&reloaded, third, &msg).unwrap(), sig);
    // Last bottom tree, from the reloaded key: one more advance; signing inside the window
    // needs none.
    let last = (1u32 << 18) - 1;
    let (sig, advanced) = xmss::sign_advancing(&mut reloaded, last, &msg).unwrap();
    assert_eq!(advanced, 1);
    assert_eq!(reloaded.prepared_interval(), 131_072..262_144);
    assert!(xmss::verify(&pk, last, &msg, &sig));
    assert_eq!(
        xmss::sign_advancing(&mut reloaded, last - 70_000, &msg)
            .unwrap()
            .1,
        0
    );
    // Past the activation interval nothing moves.
    assert_eq!(
        xmss::sign_advancing(&mut reloaded, 1 << 18, &msg),
        Err(XmssError::EpochOutOfRange { epoch: 1 << 18 })
    );
    assert_eq!(reloaded.prepared_interval(), 131_072..262_144);
    // Same seed, same key.
    assert_eq!(xmss::keygen([3; 32], 0, 1 << 18).unwrap().0, pk);
}

/// Random corruptions of a real secret key: decoding fails or yields a key that signs without
/// panicking (possibly refusing the epoch).
#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: run with --release")]
fn corrupted_secret_keys_never_panic() {
    use rand::{Rng, SeedableRng};
    let (_, sk) = key();
    let bytes = sk.to_ssz();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..100 {
        let mut b = bytes.clone();
        // mostly the fixed part and the top tree's headers, where structure lives
        let at = if round % 4 != 0 {
            rng.random_range(0..400)
        } else {
            rng.random_range(0..b.len())
        };
        b[at] = rng.random();
        if let Ok(sk2) = SecretKey::from_ssz(&b) {
            let _ = xmss::sign(&sk2, 70_000 + round, &[3; 32]);
            let _ = sk2.public_key();
        }
    }
}
