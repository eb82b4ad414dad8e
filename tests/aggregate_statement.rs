//! The proof binds the message, the epoch and the exact key set (in any order the caller lists
//! it; inside, in `canonical_key_order`); corrupted proof bytes are rejected without a panic.

use multisig::aggregate::testing::{prove_witnesses, test_signer, verify_in_order};
use multisig::aggregate::witness::build_witness;
use multisig::aggregate::{
    canonical_key_order, verify_aggregate, AggregateError, Aggregator, ProveError, ProveOptions,
    VerifyError, VerifyOptions,
};
use multisig::xmss::PublicKey;

const MESSAGE: [u8; 32] = *b"aggregate statement test message";
const EPOCH: u32 = 77_777;

fn aggregate(n: u64) -> (Vec<PublicKey>, Vec<u8>) {
    let mut agg = Aggregator::new(MESSAGE, EPOCH);
    for seed in 0..n {
        let (pk, sig) = test_signer(100 + seed, &MESSAGE, EPOCH);
        agg.add(pk, sig).unwrap();
    }
    let proof = agg.prove(&ProveOptions::default()).unwrap();
    (agg.public_keys(), proof.into_bytes())
}

fn verify(proof: &[u8], keys: &[PublicKey], message: &[u8; 32], epoch: u32) -> bool {
    verify_aggregate(proof, keys, message, epoch, &VerifyOptions::default()).is_ok()
}

#[test]
fn proof_binds_message_epoch_and_key_set() {
    let (keys, proof) = aggregate(4);
    assert!(
        verify(&proof, &keys, &MESSAGE, EPOCH),
        "honest proof must verify"
    );

    let mut other_message = MESSAGE;
    other_message[31] ^= 1;
    assert!(
        !verify(&proof, &keys, &other_message, EPOCH),
        "other message"
    );
    assert!(!verify(&proof, &keys, &MESSAGE, EPOCH + 1), "other epoch");
    assert!(
        !verify(&proof, &keys, &MESSAGE, EPOCH ^ (1 << 31)),
        "other epoch (high bit)"
    );

    let extra = test_signer(999, &MESSAGE, EPOCH).0;
    let mut added = keys.clone();
    added.push(extra);
    assert!(!verify(&proof, &added, &MESSAGE, EPOCH), "one key added");
    let mut added_front = keys.clone();
    added_front.insert(0, extra);
    assert!(
        !verify(&proof, &added_front, &MESSAGE, EPOCH),
        "one key added in front"
    );

    assert!(
        !verify(&proof, &keys[..3], &MESSAGE, EPOCH),
        "last key removed"
    );
    assert!(
        !verify(&proof, &keys[1..], &MESSAGE, EPOCH),
        "first key removed"
    );

    let mut replaced = keys.clone();
    replaced[2] = extra;
    assert!(
        !verify(&proof, &replaced, &MESSAGE, EPOCH),
        "one key replaced"
    );
    let mut param_changed = keys.clone();
    param_changed[1].parameter[4] += <multisig::xmss::F as p3_field::PrimeCharacteristicRing>::ONE;
    assert!(
        !verify(&proof, &param_changed, &MESSAGE, EPOCH),
        "one key's parameter changed"
    );

    // The statement is the set: every order of the same keys verifies.
    let mut reordered = keys.clone();
    reordered.swap(1, 2);
    assert!(
        verify(&proof, &reordered, &MESSAGE, EPOCH),
        "two keys swapped"
    );
    let mut rotated = keys.clone();
    rotated.rotate_left(1);
    assert!(verify(&proof, &rotated, &MESSAGE, EPOCH), "keys rotated");
    let mut reversed = keys.clone();
    reversed.reverse();
    assert!(verify(&proof, &reversed, &MESSAGE, EPOCH), "keys reversed");

    // A repeated key is an error, also when the set is otherwise right.
    let mut repeated = keys.clone();
    repeated.push(keys[2]);
    assert!(matches!(
        verify_aggregate(&proof, &repeated, &MESSAGE, EPOCH, &VerifyOptions::default()),
        Err(VerifyError::Invalid(m)) if m.contains("duplicate")
    ));
    let mut doubled = keys.clone();
    doubled[3] = keys[0];
    assert!(
        !verify(&proof, &doubled, &MESSAGE, EPOCH),
        "one key twice, one missing"
    );

    assert!(!verify(&proof, &[], &MESSAGE, EPOCH), "no keys");
}

#[test]
fn adds_in_any_order_make_a_proof_of_the_same_set() {
    let signers: Vec<_> = (0..3)
        .map(|s| test_signer(300 + s, &MESSAGE, EPOCH))
        .collect();
    let mut forward = Aggregator::new(MESSAGE, EPOCH);
    let mut backward = Aggregator::new(MESSAGE, EPOCH);
    for (pk, sig) in &signers {
        forward.add(*pk, sig.clone()).unwrap();
    }
    for (pk, sig) in signers.iter().rev() {
        backward.add(*pk, sig.clone()).unwrap();
    }
    let keys = forward.public_keys();
    for agg in [&forward, &backward] {
        let proof = agg.prove(&ProveOptions::default()).unwrap();
        assert!(verify(proof.as_bytes(), &keys, &MESSAGE, EPOCH));
        assert!(verify(
            proof.as_bytes(),
            &backward.public_keys(),
            &MESSAGE,
            EPOCH
        ));
    }
}

#[test]
fn the_air_binds_the_canonical_order() {
    // Witnesses proved in the reverse of the canonical order: the proof is valid for that exact
    // order (the AIRs bind signature s to key s), so the verifier, which orders the keys
    // canonically, must reject it; checked against the ordered verifier as a control.
    let signers: Vec<_> = (0..2)
        .map(|s| test_signer(400 + s, &MESSAGE, EPOCH))
        .collect();
    let canonical = canonical_key_order(&[signers[0].0, signers[1].0]).unwrap();
    let order: Vec<_> = canonical
        .iter()
        .rev()
        .map(|k| signers.iter().find(|(pk, _)| pk == k).unwrap().clone())
        .collect();
    let mut steps = Vec::new();
    let witnesses: Vec<_> = order
        .iter()
        .enumerate()
        .map(|(s, (pk, sig))| build_witness(s as u32, pk, sig, &MESSAGE, EPOCH, &mut steps))
        .collect();
    let keys: Vec<PublicKey> = order.iter().map(|(pk, _)| *pk).collect();
    assert_ne!(keys, canonical, "the test needs a non-canonical order");
    let proof = prove_witnesses(
        &MESSAGE,
        EPOCH,
        &keys,
        &witnesses,
        &steps,
        &ProveOptions::default(),
    )
    .unwrap();
    let opts = VerifyOptions::default();
    verify_in_order(proof.as_bytes(), &keys, &MESSAGE, EPOCH, &opts).unwrap();
    for listed in [keys.clone(), canonical.clone()] {
        assert!(matches!(
            verify_aggregate(proof.as_bytes(), &listed, &MESSAGE, EPOCH, &opts),
            Err(VerifyError::Invalid(_))
        ));
    }
}

#[test]
fn corrupted_proof_bytes_are_rejected_without_panic() {
    let (keys, proof) = aggregate(1);
    assert!(verify(&proof, &keys, &MESSAGE, EPOCH));
    // Flip one byte at many positions spread over the whole proof.
    let stride = (proof.len() / 97).max(1);
    for pos in (0..proof.len()).step_by(stride) {
        let mut bad = proof.clone();
        bad[pos] ^= 0x01;
        assert!(
            !verify(&bad, &keys, &MESSAGE, EPOCH),
            "flipped byte {pos} accepted"
        );
    }
    assert!(
        !verify(&proof[..proof.len() / 2], &keys, &MESSAGE, EPOCH),
        "truncated"
    );
    assert!(!verify(&[], &keys, &MESSAGE, EPOCH), "empty");
}

#[test]
fn add_rejects_duplicates_and_prove_rejects_empty() {
    let mut agg = Aggregator::new(MESSAGE, EPOCH);
    assert_eq!(
        agg.prove(&ProveOptions::default()).unwrap_err(),
        ProveError::Empty
    );
    let (pk, sig) = test_signer(5, &MESSAGE, EPOCH);
    agg.add(pk, sig.clone()).unwrap();
    assert_eq!(
        agg.add(pk, sig.clone()),
        Err(AggregateError::DuplicatePublicKey)
    );
    let (other_pk, _) = test_signer(6, &MESSAGE, EPOCH);
    assert_eq!(
        agg.add(other_pk, sig),
        Err(AggregateError::InvalidSignature)
    );
    assert_eq!(agg.public_keys(), vec![pk]);
}
