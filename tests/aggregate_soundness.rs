//! Invalid witnesses are rejected: by the prover's constraint and bus checker in debug builds,
//! and, in release builds (where the checker is compiled out and a proof is produced), by the
//! verifier. Each witness is wrong in one way only; everything else about it is consistent.

use multisig::aggregate::chain_air::ChainStep;
use multisig::aggregate::sig_air::SigWitness;
use multisig::aggregate::testing::TestSigner;
use multisig::aggregate::witness::{build_witness, walk_chains};
use multisig::aggregate::config::{stark_config, Preset};
use multisig::aggregate::perm::output_offset;
use multisig::aggregate::{envelope, sig_air, system};
use multisig::aggregate::{prove_witnesses, verify_aggregate, ProveOptions, VerifyOptions};
use p3_matrix::dense::RowMajorMatrix;
use p3_matrix::Matrix;
use multisig::xmss::constants::{BASE, DIMENSION};
use multisig::xmss::hash::{leaf_hash, merkle_root_from_path};
use multisig::xmss::poseidon::compress_16;
use multisig::xmss::tweak::chain_tweak;
use multisig::xmss::{PublicKey, F};
use p3_field::PrimeCharacteristicRing;

const MESSAGE: [u8; 32] = *b"aggregate soundness test message";
const EPOCH: u32 = 0x0135_79bd;

/// Two signers: index 0 honest, index 1 the one the test corrupts.
fn signers(second: TestSigner) -> (Vec<PublicKey>, Vec<SigWitness>, Vec<TestSigner>) {
    let first = TestSigner::new(11, &MESSAGE, EPOCH, 200);
    let mut keys = Vec::new();
    let mut witnesses = Vec::new();
    let mut steps = Vec::new();
    for (s, signer) in [&first, &second].into_iter().enumerate() {
        let (pk, sig) = signer.sign(EPOCH);
        witnesses.push(build_witness(
            s as u32, &pk, &sig, &MESSAGE, EPOCH, &mut steps,
        ));
        keys.push(pk);
    }
    (keys, witnesses, vec![first, second])
}

fn all_steps(witnesses: &mut [SigWitness]) -> Vec<ChainStep> {
    let mut steps = Vec::new();
    for (s, w) in witnesses.iter_mut().enumerate() {
        walk_chains(s as u32, w, EPOCH, &mut steps);
    }
    steps
}

/// Debug: the prover's checker refuses. Release: the proof does not verify.
fn assert_rejected(keys: &[PublicKey], witnesses: &[SigWitness], steps: &[ChainStep]) {
    let result = prove_witnesses(
        &MESSAGE,
        EPOCH,
        keys,
        witnesses,
        steps,
        &ProveOptions::default(),
    );
    if cfg!(debug_assertions) {
        assert!(result.is_err(), "debug prover accepted an invalid witness");
    } else {
        let proof = result.expect("release prover should produce a (bad) proof");
        let verdict = verify_aggregate(
            proof.as_bytes(),
            keys,
            &MESSAGE,
            EPOCH,
            &VerifyOptions::default(),
        );
        assert!(
            verdict.is_err(),
            "verifier accepted a proof of an invalid witness"
        );
    }
}

#[test]
fn honest_witness_is_accepted() {
    // The control for every test below: the same construction without the corruption verifies.
    let (keys, mut witnesses, _) = signers(TestSigner::new(12, &MESSAGE, EPOCH, 200));
    let steps = all_steps(&mut witnesses);
    let proof = prove_witnesses(
        &MESSAGE,
        EPOCH,
        &keys,
        &witnesses,
        &steps,
        &ProveOptions::default(),
    )
    .unwrap();
    verify_aggregate(
        proof.as_bytes(),
        &keys,
        &MESSAGE,
        EPOCH,
        &VerifyOptions::default(),
    )
    .unwrap();
}

#[test]
fn chain_start_disagreeing_with_codeword_is_rejected() {
    // Move chain i's start one position up and chain j's one down: the chains still reach the
    // same ends (same root) and the digits still sum to 200, but they are not the message
    // hash's digits.
    let (keys, mut witnesses, signers) = signers(TestSigner::new(12, &MESSAGE, EPOCH, 200));
    let w = &mut witnesses[1];
    let i = (0..DIMENSION)
        .find(|&i| w.digits[i] < BASE as u8 - 1)
        .unwrap();
    let j = (0..DIMENSION).find(|&j| j != i && w.digits[j] > 0).unwrap();
    w.digits[i] += 1;
    w.digits[j] -= 1;
    w.starts[i] = signers[1].chain_value(EPOCH, i, w.digits[i]);
    w.starts[j] = signers[1].chain_value(EPOCH, j, w.digits[j]);
    let ends_before = w.ends;
    let steps = all_steps(&mut witnesses);
    assert_eq!(
        witnesses[1].ends, ends_before,
        "the corruption must keep the chain ends"
    );
    assert_rejected(&keys, &witnesses, &steps);
}

#[test]
fn wrong_merkle_sibling_is_rejected() {
    let (keys, mut witnesses, _) = signers(TestSigner::new(12, &MESSAGE, EPOCH, 200));
    witnesses[1].path[7][3] += F::ONE;
    let steps = all_steps(&mut witnesses);
    assert_rejected(&keys, &witnesses, &steps);
}

#[test]
fn tweak_off_by_one_is_rejected() {
    // A key whose chain 0 was hashed with the tweak of the next position on its first step:
    // root, leaf and chain ends are consistent with that walk, only the tweak is wrong.
    let (mut keys, mut witnesses, _) = signers(TestSigner::new(12, &MESSAGE, EPOCH, 200));
    let mut steps = all_steps(&mut witnesses);
    let w = &mut witnesses[1];
    steps.retain(|s| !(s.sig == 1 && s.chain == 0));
    let mut value = w.starts[0];
    for pos in w.digits[0]..(BASE as u8 - 1) {
        let target = if pos == w.digits[0] { pos + 2 } else { pos + 1 };
        let mut input = [F::ZERO; 16];
        input[..8].copy_from_slice(&value);
        input[8..13].copy_from_slice(&w.parameter);
        input[13..15].copy_from_slice(&chain_tweak(EPOCH, 0, target));
        steps.push(ChainStep {
            sig: 1,
            chain: 0,
            pos,
            input,
        });
        value = compress_16(&input);
    }
    if w.digits[0] < BASE as u8 - 1 {
        assert_ne!(value, w.ends[0]);
    }
    w.ends[0] = value;
    let leaf = leaf_hash(&w.parameter, EPOCH, &w.ends);
    keys[1].root = merkle_root_from_path(&w.parameter, EPOCH, &leaf, &w.path);
    assert_rejected(&keys, &witnesses, &steps);
}

#[test]
fn digit_sum_199_is_rejected() {
    let (keys, mut witnesses, _) = signers(TestSigner::new(13, &MESSAGE, EPOCH, 199));
    let steps = all_steps(&mut witnesses);
    assert_rejected(&keys, &witnesses, &steps);
}

#[test]
fn digit_sum_201_is_rejected() {
    let (keys, mut witnesses, _) = signers(TestSigner::new(14, &MESSAGE, EPOCH, 201));
    let steps = all_steps(&mut witnesses);
    assert_rejected(&keys, &witnesses, &steps);
}

#[test]
fn chain_start_not_matching_signature_is_rejected() {
    // The witness walks chain 5 from a start the key never committed to.
    let (keys, mut witnesses, _) = signers(TestSigner::new(12, &MESSAGE, EPOCH, 200));
    witnesses[1].starts[5][0] += F::ONE;
    let steps = all_steps(&mut witnesses);
    assert_rejected(&keys, &witnesses, &steps);
}

/// Proves honest witnesses after `tamper` edits the traces (instance order: signature, chain,
/// table, width-24 permutation table), then checks the result is rejected: the debug checker
/// panics, or the release proof does not verify.
fn assert_tampered_traces_rejected(tamper: impl Fn(&mut [RowMajorMatrix<F>])) {
    let (keys, mut witnesses, _) = signers(TestSigner::new(12, &MESSAGE, EPOCH, 200));
    let steps = all_steps(&mut witnesses);
    let stmt = system::Statement {
        message: &MESSAGE,
        epoch: EPOCH,
        keys: &keys,
    };
    let airs = stmt.airs();
    let mut traces = system::build_traces(&stmt, &airs, &witnesses, &steps);
    tamper(&mut traces);
    let preset = Preset::default_preset();
    let cfg = stark_config(&preset);
    let proved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        system::prove(&cfg, &stmt, &airs, system::common_data(&airs), &traces)
    }));
    match proved {
        // Debug builds may refuse a bad witness (Plonky3 checks constraints there); release
        // provers must return a proof, which the verifier below has to reject.
        Err(_) | Ok(Err(_)) if cfg!(debug_assertions) => {}
        Err(_) | Ok(Err(_)) => panic!("release prover failed"),
        Ok(Ok(proof)) => {
            let bytes = envelope::encode(&preset, &proof);
            let verdict = verify_aggregate(&bytes, &keys, &MESSAGE, EPOCH, &VerifyOptions::default());
            assert!(verdict.is_err(), "verifier accepted a tampered trace");
        }
    }
}

#[test]
fn untampered_traces_prove_and_verify() {
    // Control for the two trace tests below: the same path with no edit verifies.
    let (keys, mut witnesses, _) = signers(TestSigner::new(12, &MESSAGE, EPOCH, 200));
    let steps = all_steps(&mut witnesses);
    let stmt = system::Statement { message: &MESSAGE, epoch: EPOCH, keys: &keys };
    let airs = stmt.airs();
    let traces = system::build_traces(&stmt, &airs, &witnesses, &steps);
    let preset = Preset::default_preset();
    let proof = system::prove(&stark_config(&preset), &stmt, &airs, system::common_data(&airs), &traces).unwrap();
    let bytes = envelope::encode(&preset, &proof);
    verify_aggregate(&bytes, &keys, &MESSAGE, EPOCH, &VerifyOptions::default()).unwrap();
}

/// An idle row of signature block 1 (no constraint of the signature AIR reads its output).
const IDLE_ROW: usize = sig_air::BLOCK + sig_air::MSG_ROW + 3;

#[test]
fn signature_row_output_that_no_permutation_produced_is_rejected() {
    // Only the permutation bus can notice: the signature AIR's own constraints ignore this cell.
    assert_tampered_traces_rejected(|t| {
        let w = t[0].width();
        t[0].values[IDLE_ROW * w + sig_air::OUT] += F::ONE;
    });
}

#[test]
fn permutation_table_row_matching_a_forged_output_is_rejected() {
    // Both sides of the bus agree on the forged output, so only the Poseidon1 constraints of
    // the permutation table can notice.
    assert_tampered_traces_rejected(|t| {
        let w = t[0].width();
        t[0].values[IDLE_ROW * w + sig_air::OUT] += F::ONE;
        let pw = t[3].width();
        t[3].values[IDLE_ROW * pw + output_offset(24)] += F::ONE;
    });
}
