//! The STARK configuration of every preset proves and verifies a real (tiny) batch with a bus,
//! and rejects a proof checked against the wrong statement or the wrong preset.

mod format_common;

use format_common::{
    prove_tiny, prove_tiny_one_thread, prove_tiny_over, verify_tiny, verify_tiny_over,
};
use multisig::aggregate::fri::config::FriHash;
use multisig::aggregate::FriPreset;
use p3_field::PrimeCharacteristicRing;

/// `preset` (over its Merkle hash `H`) proves and verifies the tiny batch, with the shape the
/// preset fixes.
fn proves_and_verifies<H: FriHash>(preset: &FriPreset) {
    let log_n = 8;
    let (proof, st) = prove_tiny_over::<H>(preset, log_n);
    verify_tiny_over::<H>(preset, &proof, &st)
        .unwrap_or_else(|e| panic!("preset {} rejected its own proof: {e}", preset.id()));
    assert_eq!(
        proof.degree_bits,
        vec![log_n, log_n - 1],
        "extended degree bits of the two instances"
    );
    let fri = &proof.opening_proof;
    assert_eq!(
        fri.commit_phase_openings.len(),
        fri.commit_phase_commits.len(),
        "one opening round per commit-phase commitment"
    );
    assert_eq!(fri.final_poly.len(), 1 << preset.log_final_poly_len);
}

#[test]
fn every_preset_proves_and_verifies_the_tiny_batch() {
    for preset in format_common::fri_presets() {
        multisig::by_hash!(preset, H => proves_and_verifies::<H>(&preset));
    }
}

#[test]
fn wrong_public_value_is_rejected() {
    let preset = format_common::default_fri();
    let (proof, mut st) = prove_tiny(&preset, 8);
    st.public_values[0][0] += multisig::aggregate::field::Val::ONE;
    assert!(verify_tiny(&preset, &proof, &st).is_err());
}

#[test]
fn proof_under_one_preset_fails_under_another() {
    let mut fri = format_common::fri_presets();
    let a = fri.next().unwrap();
    let b = fri.nth(3).unwrap();
    assert_eq!((a.id(), b.id()), (0, 4));
    let (proof, st) = prove_tiny(&a, 8);
    assert!(verify_tiny(&b, &proof, &st).is_err());
}

#[test]
fn proving_on_one_thread_is_deterministic() {
    let preset = format_common::fri_presets().nth(5).unwrap();
    let (p1, _) = prove_tiny_one_thread(&preset, 8);
    let (p2, _) = prove_tiny_one_thread(&preset, 8);
    // Compare through the serde encoding Plonky3 derives (test-only; the envelope is rkyv).
    assert_eq!(
        format!("{:?}", p1.commitments),
        format!("{:?}", p2.commitments)
    );
    assert_eq!(p1.opening_proof.final_poly, p2.opening_proof.final_poly);
}
