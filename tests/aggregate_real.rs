//! The four real leanSig devnet4 signers (`shared/vectors/leansig_devnet4_aggregate_4.json`)
//! aggregate and verify under two presets, and the proof is bound to their order.

use multisig::aggregate::{verify_aggregate, Aggregator, ProveOptions, Regime, VerifyOptions};
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
    for opts in [
        ProveOptions::default(),
        ProveOptions {
            regime: Regime::Conjectured,
            log_inv_rate: 2,
            ..Default::default()
        },
    ] {
        let proof = agg.prove(&opts).unwrap();
        let vopts = VerifyOptions {
            require: Some(opts),
        };
        verify_aggregate(proof.as_bytes(), &keys, &message, epoch, &vopts).unwrap();
        let mut reversed = keys.clone();
        reversed.reverse();
        assert!(verify_aggregate(proof.as_bytes(), &reversed, &message, epoch, &vopts).is_err());
        assert!(verify_aggregate(proof.as_bytes(), &keys, &message, epoch + 1, &vopts).is_err());
        // A verifier requiring another preset refuses the proof.
        let other = ProveOptions {
            regime: Regime::Conjectured,
            log_inv_rate: 4,
            ..Default::default()
        };
        assert!(verify_aggregate(
            proof.as_bytes(),
            &keys,
            &message,
            epoch,
            &VerifyOptions {
                require: Some(other)
            }
        )
        .is_err());
    }
}
