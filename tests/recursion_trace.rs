//! Which proofs can be children, and the permutations the verifier of a child evaluates: the
//! recorded verification accepts and rejects exactly as `verify_aggregate` does, starts with the
//! transcript's domain separator, and its transcript's length is a function of the statement's
//! shape alone.

use multisig::aggregate::recursion::{
    check_child_preset, child_verification_trace, PermUse, PERM_USES,
};
use multisig::aggregate::testing::test_signer;
use multisig::aggregate::{
    verify_aggregate, Aggregator, Backend, MerkleHash, Preset, ProveOptions, VerifyError,
    VerifyOptions, PRESETS,
};
use multisig::PublicKey;
use p3_field::PrimeField32;

const EPOCH: u32 = 0x0001_2345;
const MESSAGE: [u8; 32] = *b"recursion trace test message 32B";
/// The transcript's domain separator (`fri::config::TRANSCRIPT_DOMAIN`).
const DOMAIN: &[u8] = b"multisig/leansig-xmss-aggregate/v1";

fn prove(seeds: &[u64], message: &[u8; 32], backend: Backend) -> (Vec<u8>, Vec<PublicKey>) {
    let mut agg = Aggregator::new(*message, EPOCH);
    for &s in seeds {
        let (pk, sig) = test_signer(s, message, EPOCH);
        agg.add(pk, sig).unwrap();
    }
    let opts = ProveOptions {
        backend,
        ..Default::default()
    };
    (agg.prove(&opts).unwrap().into_bytes(), agg.public_keys())
}

#[test]
fn only_fri_over_poseidon1_presets_can_be_children() {
    let mut children = 0;
    for p in PRESETS {
        let can = matches!(p, Preset::Fri(f) if f.hash == MerkleHash::Poseidon1);
        match check_child_preset(&p) {
            Ok(f) => {
                assert!(can, "preset {} accepted as a child", p.id());
                assert_eq!(Preset::Fri(*f), p);
                children += 1;
            }
            Err(VerifyError::PresetNotAccepted(why)) => {
                assert!(!can, "preset {} refused: {why}", p.id());
                assert!(why.contains("Poseidon1"), "{why}");
            }
            Err(e) => panic!("preset {}: {e}", p.id()),
        }
    }
    assert!(children > 0);
}

#[test]
fn a_keccak_proof_is_refused_as_a_child_with_a_clear_error() {
    let (proof, keys) = prove(&[1], &MESSAGE, Backend::Fri);
    verify_aggregate(&proof, &keys, &MESSAGE, EPOCH, &VerifyOptions::default()).unwrap();
    match child_verification_trace(&proof, &keys, &MESSAGE, EPOCH) {
        Err(VerifyError::PresetNotAccepted(why)) => assert!(why.contains("Keccak"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_recorded_verification_is_the_verifiers_own() {
    let (proof, keys) = prove(&[11, 12], &MESSAGE, Backend::FriPoseidon1);
    verify_aggregate(&proof, &keys, &MESSAGE, EPOCH, &VerifyOptions::default()).unwrap();
    let trace = child_verification_trace(&proof, &keys, &MESSAGE, EPOCH).unwrap();

    // Every use is exercised, and the counts add up.
    for u in PERM_USES {
        assert!(trace.count(u) > 0, "no permutation for {}", u.name());
    }
    assert_eq!(
        PERM_USES.iter().map(|&u| trace.count(u)).sum::<usize>(),
        trace.len()
    );

    // The first permutation is the transcript's, on the first 15 bytes of its domain separator
    // (the duplex overwrites its rate with absorbed elements): the record is in evaluation order.
    let (first_use, first_input) = trace.permutations()[0];
    assert_eq!(first_use, PermUse::Transcript);
    for (i, &b) in DOMAIN[..15].iter().enumerate() {
        assert_eq!(
            first_input[i].as_canonical_u32(),
            u32::from(b),
            "element {i}"
        );
    }

    // The caller's key order does not matter: the same verification, permutation for
    // permutation.
    let reversed: Vec<_> = keys.iter().rev().copied().collect();
    let again = child_verification_trace(&proof, &reversed, &MESSAGE, EPOCH).unwrap();
    assert_eq!(again.permutations(), trace.permutations());

    // What the verifier rejects, the recorded verification rejects with the same error.
    let mut other = MESSAGE;
    other[0] ^= 1;
    let native = verify_aggregate(&proof, &keys, &other, EPOCH, &VerifyOptions::default());
    let recorded = child_verification_trace(&proof, &keys, &other, EPOCH);
    assert!(matches!(native, Err(VerifyError::Invalid(_))), "{native:?}");
    assert_eq!(recorded.unwrap_err(), native.unwrap_err());
    for at in [proof.len() / 3, proof.len() / 2, proof.len() - 100] {
        let mut bad = proof.clone();
        bad[at] ^= 0x10;
        let native = verify_aggregate(&bad, &keys, &MESSAGE, EPOCH, &VerifyOptions::default());
        let recorded = child_verification_trace(&bad, &keys, &MESSAGE, EPOCH);
        assert!(native.is_err(), "flip at {at} verified");
        assert_eq!(recorded.unwrap_err(), native.unwrap_err(), "flip at {at}");
    }
    let extra = test_signer(13, &MESSAGE, EPOCH).0;
    let more = [keys.clone(), vec![extra]].concat();
    assert!(child_verification_trace(&proof, &more, &MESSAGE, EPOCH).is_err());
}

#[test]
fn the_transcript_length_depends_on_the_statement_shape_alone() {
    let (a, ka) = prove(&[21, 22], &MESSAGE, Backend::FriPoseidon1);
    let mut m = MESSAGE;
    m[31] ^= 0x80;
    let (b, kb) = prove(&[23, 24], &m, Backend::FriPoseidon1);
    let ta = child_verification_trace(&a, &ka, &MESSAGE, EPOCH).unwrap();
    let tb = child_verification_trace(&b, &kb, &m, EPOCH).unwrap();
    assert_eq!(ta.count(PermUse::Transcript), tb.count(PermUse::Transcript));
    // Different proofs, different transcripts from the first commitment on.
    assert_ne!(ta.permutations(), tb.permutations());
}
