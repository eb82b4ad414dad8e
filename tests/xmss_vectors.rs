//! The scheme against real leanSig / leanMultisig signatures from `../shared/vectors/`.

use multisig::xmss::{self, PublicKey, Signature, XmssError};
use serde_json::Value;

/// `$MSIG_VECTORS` (the variable `.ci/test` and `c-tests/run.sh` export), else the first
/// `shared/vectors` found beside the crate or one of its ancestors (`../shared/vectors` from a
/// checkout next to `shared/`).
fn vectors_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("MSIG_VECTORS").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/vectors"))
        .find(|p| p.is_dir())
        .expect("shared/vectors not found; set MSIG_VECTORS")
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).unwrap()
}

fn msg(v: &Value) -> [u8; 32] {
    unhex(v).try_into().unwrap()
}

/// One real signature: public key bytes, epoch, message, signature bytes, expected validity.
struct Case {
    pk: Vec<u8>,
    epoch: u32,
    message: [u8; 32],
    sig: Vec<u8>,
    valid: bool,
}

fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for e in load("leansig_devnet4_single.json").as_array().unwrap() {
        cases.push(Case {
            pk: unhex(&e["public_key"]),
            epoch: e["epoch"].as_u64().unwrap() as u32,
            message: msg(&e["message"]),
            sig: unhex(&e["signature_ssz"]),
            valid: e["valid"].as_bool().unwrap(),
        });
    }
    let prod = load("leanmultisig_devnet4_prod_vector.json");
    cases.push(Case {
        pk: unhex(&prod["public_key"]),
        epoch: prod["slot"].as_u64().unwrap() as u32,
        message: msg(&prod["message"]),
        sig: unhex(&prod["signature_ssz"]),
        valid: true,
    });
    let agg = load("leansig_devnet4_aggregate_4.json");
    for s in agg["signers"].as_array().unwrap() {
        cases.push(Case {
            pk: unhex(&s["public_key"]),
            epoch: agg["epoch"].as_u64().unwrap() as u32,
            message: msg(&agg["message"]),
            sig: unhex(&s["signature_ssz"]),
            valid: true,
        });
    }
    cases
}

#[test]
fn every_real_vector_verifies_as_labelled() {
    let cases = all_cases();
    assert_eq!(cases.len(), 9);
    for (i, c) in cases.iter().enumerate() {
        let pk = PublicKey::from_ssz(&c.pk).unwrap();
        let sig = Signature::from_ssz(&c.sig).unwrap();
        assert_eq!(
            xmss::verify(&pk, c.epoch, &c.message, &sig),
            c.valid,
            "case {i}"
        );
    }
}

#[test]
fn ssz_round_trips_byte_identically_on_real_vectors() {
    for c in all_cases() {
        let pk = PublicKey::from_ssz(&c.pk).unwrap();
        assert_eq!(pk.to_ssz().to_vec(), c.pk);
        let sig = Signature::from_ssz(&c.sig).unwrap();
        assert_eq!(sig.to_ssz(), c.sig);
    }
}

#[test]
fn tampered_real_signatures_are_rejected() {
    let cases: Vec<Case> = all_cases().into_iter().filter(|c| c.valid).collect();
    let c = &cases[0];
    let pk = PublicKey::from_ssz(&c.pk).unwrap();
    let sig = Signature::from_ssz(&c.sig).unwrap();
    assert!(xmss::verify(&pk, c.epoch, &c.message, &sig));

    // flip one bit of a field element, staying canonical (low bit of a value < p - 1)
    let flip = |x: &mut multisig::xmss::F| {
        use p3_field::PrimeField32;
        *x = multisig::xmss::F::new(x.as_canonical_u32() ^ 1);
    };
    let mut s = sig.clone();
    flip(&mut s.rho[3]);
    assert!(!xmss::verify(&pk, c.epoch, &c.message, &s), "rho");
    for chain in [0, 17, 45] {
        let mut s = sig.clone();
        flip(&mut s.hashes[chain][5]);
        assert!(
            !xmss::verify(&pk, c.epoch, &c.message, &s),
            "chain hash {chain}"
        );
    }
    for level in [0, 15, 16, 31] {
        let mut s = sig.clone();
        flip(&mut s.path[level][0]);
        assert!(
            !xmss::verify(&pk, c.epoch, &c.message, &s),
            "sibling {level}"
        );
    }
    assert!(
        !xmss::verify(&pk, c.epoch + 1, &c.message, &sig),
        "epoch + 1"
    );
    assert!(
        !xmss::verify(&pk, c.epoch ^ (1 << 20), &c.message, &sig),
        "far epoch"
    );
    let mut m = c.message;
    m[31] ^= 0x80;
    assert!(!xmss::verify(&pk, c.epoch, &m, &sig), "message");
    // another signer's key on the same message and epoch
    let other = cases.iter().find(|o| o.pk != c.pk).unwrap();
    let other_pk = PublicKey::from_ssz(&other.pk).unwrap();
    assert!(
        !xmss::verify(&other_pk, c.epoch, &c.message, &sig),
        "other key"
    );
    let mut pk2 = pk;
    flip(&mut pk2.parameter[0]);
    assert!(!xmss::verify(&pk2, c.epoch, &c.message, &sig), "parameter");
}

#[test]
fn codeword_of_real_signatures_meets_target_sum() {
    for c in all_cases().iter().filter(|c| c.valid) {
        let pk = PublicKey::from_ssz(&c.pk).unwrap();
        let sig = Signature::from_ssz(&c.sig).unwrap();
        let x = xmss::codeword(&pk, c.epoch, &c.message, &sig).unwrap();
        assert_eq!(x.iter().map(|&d| d as u32).sum::<u32>(), 200);
        assert!(x.iter().all(|&d| d < 8));
    }
}

#[test]
fn malformed_ssz_is_an_error() {
    let c = &all_cases()[0];
    let is_malformed =
        |r: Result<Signature, XmssError>| matches!(r, Err(XmssError::Malformed { .. }));
    // every truncation, and an extension
    for len in [0, 1, 35, 36, 1063, 1064, 2535] {
        assert!(
            is_malformed(Signature::from_ssz(&c.sig[..len])),
            "len {len}"
        );
    }
    let mut long = c.sig.clone();
    long.extend_from_slice(&[0; 32]);
    assert!(is_malformed(Signature::from_ssz(&long)));
    // bad offsets
    for (at, v) in [
        (0usize, 35u32),
        (0, 37),
        (32, 1032),
        (32, 1096),
        (32, 5000),
        (36, 0),
        (36, 8),
    ] {
        let mut b = c.sig.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        assert!(
            is_malformed(Signature::from_ssz(&b)),
            "offset at {at} = {v}"
        );
    }
    // non-canonical field elements: p and 2^32 - 1 in rho, a sibling and a chain hash
    for at in [4usize, 40, 2532] {
        for v in [0x7f00_0001u32, u32::MAX] {
            let mut b = c.sig.clone();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            assert!(is_malformed(Signature::from_ssz(&b)), "fe at {at} = {v}");
        }
    }
    // public keys
    assert!(matches!(
        PublicKey::from_ssz(&c.pk[..51]),
        Err(XmssError::Malformed { .. })
    ));
    let mut pk = c.pk.clone();
    pk.push(0);
    assert!(matches!(
        PublicKey::from_ssz(&pk),
        Err(XmssError::Malformed { .. })
    ));
    let mut pk = c.pk.clone();
    pk[48..52].copy_from_slice(&0x7f00_0001u32.to_le_bytes());
    assert!(matches!(
        PublicKey::from_ssz(&pk),
        Err(XmssError::Malformed { .. })
    ));
}

/// Random byte corruptions of real signatures and keys: decoding either fails with an error or
/// yields values that verification handles; nothing panics.
#[test]
fn corrupted_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let cases = all_cases();
    let mut accepted_valid = 0;
    for round in 0..2000 {
        let c = &cases[round % cases.len()];
        let mut sig = c.sig.clone();
        let mut pk = c.pk.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..sig.len());
            sig[at] = rng.random();
        }
        if round % 4 == 0 {
            let at = rng.random_range(0..pk.len());
            pk[at] = rng.random();
        }
        if round % 7 == 0 {
            let len = rng.random_range(0..sig.len() + 64);
            sig.resize(len, rng.random());
        }
        let (Ok(pk), Ok(sig)) = (PublicKey::from_ssz(&pk), Signature::from_ssz(&sig)) else {
            continue;
        };
        if xmss::verify(&pk, c.epoch, &c.message, &sig) {
            accepted_valid += 1;
            // only a corruption that left the canonical values unchanged can still verify
            assert_eq!(sig.to_ssz(), c.sig);
        }
    }
    assert!(accepted_valid < 2000);
}
