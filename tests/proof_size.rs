//! The 512 KiB wire cap and the caller's byte limit: the default preset's worst case fits the cap
//! at every accepted batch size, real proofs never exceed the computed bound, and the prover
//! refuses (before proving) a preset whose proofs can exceed the limit.

use multisig::aggregate::statement::Statement;
use multisig::aggregate::testing::test_signer;
use multisig::aggregate::Preset;
use multisig::aggregate::{
    proof_size_bound, verify_aggregate, Aggregator, Backend, ProveError, ProveOptions, Regime,
    VerifyError, VerifyOptions, MAX_SIGNATURES, WIRE_CAP_BYTES,
};
use multisig::PublicKey;

const MESSAGE: [u8; 32] = *b"proof size test message, 32 B..!";
const EPOCH: u32 = 0x0002_4680;

fn aggregator(n: u64) -> Aggregator {
    let mut agg = Aggregator::new(MESSAGE, EPOCH);
    for s in 0..n {
        let (pk, sig) = test_signer(1000 + s, &MESSAGE, EPOCH);
        agg.add(pk, sig).unwrap();
    }
    agg
}

/// The largest batch size of each distinct statement shape up to `max` (heights change only
/// where `next_pow2(N)` or `next_pow2(122 N)` does).
fn shape_representatives(max: usize) -> Vec<usize> {
    let key = PublicKey::from_ssz(&[0; 52]).unwrap();
    let heights = |n: usize| {
        Statement {
            message: &[0; 32],
            epoch: 0,
            keys: &vec![key; n],
        }
        .heights()
    };
    (1..=max)
        .filter(|&n| n == max || heights(n + 1) != heights(n))
        .collect()
}

#[test]
fn default_preset_fits_the_wire_cap_at_every_accepted_batch_size() {
    // The bound depends on the statement's shape alone, so one N per shape covers every N.
    // So does the recursion-ready backend's default (36-byte digests instead of 32).
    let poseidon1 = Preset::from_options(&ProveOptions {
        backend: Backend::FriPoseidon1,
        ..Default::default()
    })
    .unwrap();
    for d in [Preset::default_preset(), poseidon1] {
        for n in shape_representatives(MAX_SIGNATURES) {
            let bound = proof_size_bound(&d, n).unwrap();
            assert!(
                bound <= WIRE_CAP_BYTES,
                "preset {}, N = {n}: up to {bound} bytes",
                d.id()
            );
        }
    }
}

#[test]
fn real_proofs_never_exceed_their_bound() {
    let no_limit = usize::MAX;
    for n in [1u64, 3, 16] {
        let agg = aggregator(n);
        for opts in [
            ProveOptions::default(),
            ProveOptions {
                log_inv_rate: 1,
                max_proof_bytes: no_limit,
                ..Default::default()
            },
            ProveOptions {
                regime: Regime::Conjectured,
                log_inv_rate: 4,
                ..Default::default()
            },
            ProveOptions {
                backend: Backend::Whir,
                ..Default::default()
            },
            ProveOptions {
                backend: Backend::Whir,
                log_inv_rate: 2,
                ..Default::default()
            },
            ProveOptions {
                backend: Backend::FriPoseidon1,
                ..Default::default()
            },
        ] {
            let preset = Preset::from_options(&opts).unwrap();
            let bound = proof_size_bound(&preset, n as usize).unwrap();
            let proof = agg.prove(&opts).unwrap();
            assert!(
                proof.as_bytes().len() <= bound,
                "N = {n}, preset {}: {} bytes over the bound {bound}",
                preset.id(),
                proof.as_bytes().len()
            );
            // And the bound is a bound, not a guess far off: within 40% of a real proof.
            assert!(
                bound * 10 < proof.as_bytes().len() * 14,
                "N = {n}, preset {}: bound {bound} loose",
                preset.id()
            );
        }
    }
}

#[test]
fn prover_refuses_a_limit_below_the_bound_and_keeps_to_one_at_it() {
    let agg = aggregator(2);
    let bound = proof_size_bound(&Preset::default_preset(), 2).unwrap();
    let tight = ProveOptions {
        max_proof_bytes: bound - 1,
        ..Default::default()
    };
    assert_eq!(
        agg.prove(&tight),
        Err(ProveError::ProofTooLarge {
            bound,
            limit: bound - 1
        })
    );
    let exact = ProveOptions {
        max_proof_bytes: bound,
        ..Default::default()
    };
    let proof = agg.prove(&exact).unwrap();
    assert!(proof.as_bytes().len() <= bound);
    verify_aggregate(
        proof.as_bytes(),
        &agg.public_keys(),
        &MESSAGE,
        EPOCH,
        &VerifyOptions::default(),
    )
    .unwrap();
}

#[test]
fn the_default_limit_is_the_wire_cap() {
    // FRI at rate 1/2 can exceed 512 KiB even for one signature: refused unless the caller
    // raises the limit.
    let agg = aggregator(1);
    let half = ProveOptions {
        log_inv_rate: 1,
        ..Default::default()
    };
    let bound = proof_size_bound(&Preset::from_options(&half).unwrap(), 1).unwrap();
    assert!(bound > WIRE_CAP_BYTES);
    assert_eq!(
        agg.prove(&half),
        Err(ProveError::ProofTooLarge {
            bound,
            limit: WIRE_CAP_BYTES
        })
    );
    let raised = ProveOptions {
        max_proof_bytes: usize::MAX,
        ..half
    };
    let proof = agg.prove(&raised).unwrap();
    assert!(proof.as_bytes().len() > WIRE_CAP_BYTES / 2);
    verify_aggregate(
        proof.as_bytes(),
        &agg.public_keys(),
        &MESSAGE,
        EPOCH,
        &VerifyOptions::default(),
    )
    .unwrap();
}

#[test]
fn whir_presets_refuse_batches_past_their_bound_on_both_sides() {
    let opts = ProveOptions {
        backend: Backend::Whir,
        log_inv_rate: 2,
        ..Default::default()
    };
    let preset = Preset::from_options(&opts).unwrap();
    let max = preset.max_signatures();
    let signers =
        multisig::xmss::bench_keys::generate_bench_signers(max + 1, EPOCH, &MESSAGE, [7; 32])
            .unwrap();
    let mut agg = Aggregator::new(MESSAGE, EPOCH);
    for s in &signers {
        agg.add(s.public_key, s.signature.clone()).unwrap();
    }
    assert!(matches!(
        agg.prove(&opts),
        Err(ProveError::InvalidOptions(_))
    ));
    // A WHIR proof offered for more keys than its preset takes is refused before decoding.
    let small = aggregator(1).prove(&opts).unwrap();
    let verdict = verify_aggregate(
        small.as_bytes(),
        &agg.public_keys(),
        &MESSAGE,
        EPOCH,
        &VerifyOptions::default(),
    );
    assert!(
        matches!(verdict, Err(VerifyError::PresetNotAccepted(_))),
        "{verdict:?}"
    );
}
