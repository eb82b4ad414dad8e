//! The four real leanSig devnet4 signers (`shared/vectors/leansig_devnet4_aggregate_4.json`)
//! aggregate and verify under three presets (two FRI, one WHIR), and the proof is bound to their
//! set (any order of the four keys verifies; another epoch does not).

use multisig::aggregate::{
    verify_aggregate, Aggregator, Backend, ProveOptions, Regime, VerifyError, VerifyOptions,
};
use multisig::xmss::{PublicKey, Signature};

/// `$MULTISIG_VECTORS_DIR`, else the first `shared/vectors` beside the crate or an ancestor.
fn vectors_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("MULTISIG_VECTORS_DIR") {
        return dir.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/vectors"))
        .find(|p| p.is_dir())
        .expect("shared/vectors not found; set MULTISIG_VECTORS_DIR")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).expect("hex")
}

fn load() -> (u32, [u8; 32], Vec<(PublicKey, Signature)>) {
    let path = vectors_dir().join("leansig_devnet4_aggregate_4.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let epoch = v["epoch"].as_u64().unwrap() as u32;
    let message: [u8; 32] = unhex(v["message"].as_str().unwrap()).try_into().unwrap();
    let signers = v["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let pk = PublicKey::from_ssz(&unhex(s["public_key"].as_str().unwrap())).unwrap();
            let sig = Signature::from_ssz(&unhex(s["signature_ssz"].as_str().unwrap())).unwrap();
            (pk, sig)
        })
        .collect();
    (epoch, message, signers)
}

#[test]
fn real_leansig_signers_aggregate_and_verify() {
    let (epoch, message, signers) = load();
    assert_eq!(signers.len(), 4);
    let mut agg = Aggregator::new(message, epoch);
    for (pk, sig) in signers.iter().cloned() {
        agg.add(pk, sig).unwrap();
    }
    let keys = agg.public_keys();
    assert_eq!(keys, signers.iter().map(|(pk, _)| *pk).collect::<Vec<_>>());
    let conjectured = ProveOptions {
        regime: Regime::Conjectured,
        log_inv_rate: 2,
        ..Default::default()
    };
    for opts in [
        ProveOptions::default(),
        conjectured,
        ProveOptions {
            backend: Backend::Whir,
            ..Default::default()
        },
    ] {
        let proof = agg.prove(&opts).unwrap();
        let is_conjectured = opts.regime == Regime::Conjectured;
        let vopts = VerifyOptions {
            require: Some(opts),
            allow_conjectured: is_conjectured,
        };
        verify_aggregate(proof.as_bytes(), &keys, &message, epoch, &vopts).unwrap();
        // The default verifier accepts the proven presets and refuses the conjectured one with
        // exactly `PresetNotAccepted`, before verifying anything.
        let default = verify_aggregate(
            proof.as_bytes(),
            &keys,
            &message,
            epoch,
            &VerifyOptions::default(),
        );
        if is_conjectured {
            assert!(
                matches!(default, Err(VerifyError::PresetNotAccepted(_))),
                "{default:?}"
            );
        } else {
            default.unwrap();
        }
        // The statement is the key set: the keys in another order verify too.
        let mut reversed = keys.clone();
        reversed.reverse();
        verify_aggregate(proof.as_bytes(), &reversed, &message, epoch, &vopts).unwrap();
        assert!(matches!(
            verify_aggregate(proof.as_bytes(), &keys, &message, epoch + 1, &vopts),
            Err(VerifyError::Invalid(_))
        ));
        // A verifier requiring another preset refuses the proof with `PresetNotAccepted`.
        let other = ProveOptions {
            regime: Regime::Conjectured,
            log_inv_rate: 4,
            ..Default::default()
        };
        let refused = verify_aggregate(
            proof.as_bytes(),
            &keys,
            &message,
            epoch,
            &VerifyOptions {
                require: Some(other),
                allow_conjectured: true,
            },
        );
        assert!(
            matches!(refused, Err(VerifyError::PresetNotAccepted(_))),
            "{refused:?}"
        );
    }
}
