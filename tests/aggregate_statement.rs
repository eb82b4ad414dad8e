//! The proof binds the message, the epoch and the exact ordered key list; corrupted proof bytes
//! are rejected without a panic.

use multisig::aggregate::testing::test_signer;
use multisig::aggregate::{
    verify_aggregate, AggregateError, Aggregator, ProveError, ProveOptions, VerifyOptions,
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
fn proof_binds_message_epoch_and_ordered_keys() {
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

    let mut reordered = keys.clone();
    reordered.swap(1, 2);
    assert!(
        !verify(&proof, &reordered, &MESSAGE, EPOCH),
        "two keys swapped"
    );
    let mut rotated = keys.clone();
    rotated.rotate_left(1);
    assert!(!verify(&proof, &rotated, &MESSAGE, EPOCH), "keys rotated");

    assert!(!verify(&proof, &[], &MESSAGE, EPOCH), "no keys");
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
