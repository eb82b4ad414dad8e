//! The aggregate proof format on real proofs of the tiny bus batch: round trips, determinism,
//! alignment, and hostile bytes (truncations, bit flips, random bytes, wrong shapes,
//! non-canonical field elements) that must all be rejected without a panic.

mod format_common;

use format_common::{
    decode_and_verify, default_fri, prove_tiny, prove_tiny_one_thread, prove_tiny_over,
    tiny_common_over, tiny_shape, verify_tiny_over, TinyStatement,
};
use multisig::aggregate::fri::config::{FriHash, Keccak, MultisigConfig, Poseidon1};
use multisig::aggregate::fri::envelope;
use multisig::aggregate::fri::security::ProofShape;
use multisig::aggregate::MerkleHash;
use multisig::aggregate::{FriPreset, Preset, PRESETS};
use multisig::aggregate::{Regime, VerifyError};
use multisig::aggregate::{FORMAT_VERSION, PREFIX_LEN};
use p3_batch_stark::BatchProof;

const LOG_N: usize = 8;

/// [`envelope::encode`] of a Keccak proof (most tests here use the default preset).
fn encode(preset: &FriPreset, proof: &BatchProof<MultisigConfig>) -> Vec<u8> {
    envelope::encode::<Keccak>(preset, proof)
}

/// [`envelope::decode`] as a Keccak proof.
fn decode(
    bytes: &[u8],
    shape: &ProofShape,
) -> Result<(FriPreset, BatchProof<MultisigConfig>), VerifyError> {
    envelope::decode::<Keccak>(bytes, shape)
}

fn default_proof_bytes() -> Vec<u8> {
    let preset = default_fri();
    let (proof, _) = prove_tiny(&preset, LOG_N);
    encode(&preset, &proof)
}

fn is_malformed(r: Result<(FriPreset, impl Sized), VerifyError>) -> bool {
    matches!(r, Err(VerifyError::Malformed(_)))
}

/// Proves the tiny batch under `preset` over `H`, encodes it, and checks that the bytes decode
/// to a proof that verifies and re-encodes to the same bytes; returns the bytes and statement.
fn round_trip<H: FriHash>(preset: &FriPreset) -> (Vec<u8>, TinyStatement<H>) {
    let (proof, st) = prove_tiny_over::<H>(preset, LOG_N);
    let bytes = envelope::encode::<H>(preset, &proof);
    assert_eq!(&bytes[..8], b"MSIGPRF\0");
    assert_eq!(bytes[10], preset.id());
    let shape = tiny_shape(preset, LOG_N);
    let (got_preset, decoded) =
        envelope::decode::<H>(&bytes, &shape).expect("own encoding decodes");
    assert_eq!(got_preset, *preset);
    verify_tiny_over::<H>(preset, &decoded, &st).expect("decoded proof verifies");
    assert_eq!(
        envelope::encode::<H>(&got_preset, &decoded),
        bytes,
        "re-encoding is the identity"
    );
    (bytes, st)
}

#[test]
fn round_trip_verifies_for_every_preset() {
    for preset in format_common::fri_presets() {
        multisig::by_hash!(preset, H => {
            round_trip::<H>(&preset);
        });
    }
}

/// The Poseidon1 preset at the default rate (id 12).
fn poseidon1_default() -> FriPreset {
    Preset::from_options(&multisig::aggregate::ProveOptions {
        backend: multisig::aggregate::Backend::FriPoseidon1,
        ..Default::default()
    })
    .unwrap()
    .as_fri()
    .unwrap()
}

#[test]
fn a_proof_is_read_only_with_its_own_merkle_hash() {
    let p1 = poseidon1_default();
    assert_eq!((p1.hash, p1.id()), (MerkleHash::Poseidon1, 12));
    let (bytes, _) = round_trip::<Poseidon1>(&p1);
    // The same statement shape, the other hash's layout: refused by the prefix's preset id
    // before the archive is read.
    let err = decode(&bytes, &tiny_shape(&p1, LOG_N))
        .err()
        .expect("read as Keccak");
    assert!(err.to_string().contains("Merkle hash"), "{err}");
    let keccak = default_fri();
    let err = envelope::decode::<Poseidon1>(&default_proof_bytes(), &tiny_shape(&keccak, LOG_N))
        .err()
        .expect("read as Poseidon1");
    assert!(err.to_string().contains("Merkle hash"), "{err}");
    // A Keccak preset's id on a Poseidon1 archive (and back) is refused too.
    let mut relabelled = bytes.clone();
    relabelled[10] = keccak.id();
    assert!(is_malformed(envelope::decode::<Poseidon1>(
        &relabelled,
        &tiny_shape(&p1, LOG_N)
    )));
    assert!(is_malformed(decode(&relabelled, &tiny_shape(&p1, LOG_N))));
}

#[test]
fn poseidon1_digest_words_must_be_canonical_and_bound_the_proof() {
    let p1 = poseidon1_default();
    let (proof, st) = prove_tiny_over::<Poseidon1>(&p1, LOG_N);
    let bytes = envelope::encode::<Poseidon1>(&p1, &proof);
    let shape = tiny_shape(&p1, LOG_N);
    // The main commitment's first word, found by its value (the root of the main trace tree).
    use p3_field::PrimeField32;
    let root = proof.commitments.main.roots()[0];
    let word = root[0].as_canonical_u32().to_le_bytes();
    let rest: Vec<u8> = root[1..]
        .iter()
        .flat_map(|v| v.as_canonical_u32().to_le_bytes())
        .collect();
    let at = (0..bytes.len() - 36)
        .find(|&i| bytes[i..i + 4] == word && bytes[i + 4..i + 36] == rest[..])
        .expect("the main root is on the wire");
    // Same residue mod p, non-canonical representative: malformed, not merely invalid.
    let p = multisig::xmss::constants::P;
    let mut non_canonical = bytes.clone();
    non_canonical[at..at + 4].copy_from_slice(&(root[0].as_canonical_u32() + p).to_le_bytes());
    let err = envelope::decode::<Poseidon1>(&non_canonical, &shape)
        .err()
        .expect("non-canonical digest accepted");
    assert!(err.to_string().contains("non-canonical"), "{err}");
    // Another canonical root decodes, and the proof no longer verifies.
    let mut other = bytes.clone();
    other[at..at + 4].copy_from_slice(&((root[0].as_canonical_u32() + 1) % p).to_le_bytes());
    let (preset, forged) = envelope::decode::<Poseidon1>(&other, &shape).expect("decodes");
    let st = TinyStatement::<Poseidon1> {
        common: tiny_common_over::<Poseidon1>(&preset, LOG_N),
        ..st
    };
    assert!(verify_tiny_over::<Poseidon1>(&preset, &forged, &st).is_err());
}

#[test]
fn same_proof_same_bytes_and_reproving_on_one_thread_is_byte_identical() {
    let Preset::Fri(preset) = PRESETS[5] else {
        unreachable!("preset 5 is a FRI preset")
    };
    let (p1, _) = prove_tiny_one_thread(&preset, LOG_N);
    let (p2, _) = prove_tiny_one_thread(&preset, LOG_N);
    assert_eq!(encode(&preset, &p1), encode(&preset, &p1));
    assert_eq!(encode(&preset, &p1), encode(&preset, &p2));
}

#[test]
fn misaligned_buffer_decodes_through_one_copy() {
    let bytes = default_proof_bytes();
    // Place the proof at every offset modulo 16 inside a larger buffer.
    let mut backing = vec![0u8; bytes.len() + 32];
    for offset in 0..16 {
        backing[offset..offset + bytes.len()].copy_from_slice(&bytes);
        let slice = &backing[offset..offset + bytes.len()];
        decode_and_verify(slice, LOG_N).unwrap_or_else(|e| panic!("offset {offset}: {e}"));
    }
}

#[test]
fn every_truncation_is_malformed() {
    let bytes = default_proof_bytes();
    let shape = tiny_shape(&default_fri(), LOG_N);
    for len in 0..bytes.len() {
        assert!(
            is_malformed(decode(&bytes[..len], &shape)),
            "truncation to {len} accepted"
        );
    }
    // Truncations that also fix up the declared archive length reach the archive validator.
    for len in (PREFIX_LEN..bytes.len()).step_by(7) {
        let mut t = bytes[..len].to_vec();
        t[12..16].copy_from_slice(&((len - PREFIX_LEN) as u32).to_le_bytes());
        assert!(
            is_malformed(decode(&t, &shape)),
            "patched truncation to {len} accepted"
        );
    }
}

#[test]
fn trailing_bytes_are_malformed() {
    let mut bytes = default_proof_bytes();
    let shape = tiny_shape(&default_fri(), LOG_N);
    bytes.push(0);
    let err = decode(&bytes, &shape)
        .err()
        .expect("trailing byte accepted");
    assert!(err.to_string().contains("trailing"), "{err}");
}

#[test]
fn every_prefix_bit_flip_is_malformed() {
    let bytes = default_proof_bytes();
    let shape = tiny_shape(&default_fri(), LOG_N);
    for bit in 0..PREFIX_LEN * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        // A flip in the preset id can land on another valid preset: then the archive does not
        // match that preset's shape (query count), which is still Malformed.
        assert!(
            is_malformed(decode(&b, &shape)),
            "prefix bit {bit} flip accepted"
        );
    }
}

#[test]
fn sampled_body_bit_flips_never_verify() {
    let bytes = default_proof_bytes();
    let body_bits = (bytes.len() - PREFIX_LEN) * 8;
    // Deterministic sample: 1500 positions spread over the whole archive, plus the last 64 bytes
    // (the rkyv root object) bit by bit.
    let mut positions: Vec<usize> = (0..1500).map(|i| (i * 7919 + 13) % body_bits).collect();
    positions.extend((body_bits - 64 * 8)..body_bits);
    for bit in positions {
        let mut b = bytes.clone();
        b[PREFIX_LEN + bit / 8] ^= 1 << (bit % 8);
        assert!(
            decode_and_verify(&b, LOG_N).is_err(),
            "body bit {bit} flip still verifies"
        );
    }
}

#[test]
fn random_bytes_are_malformed() {
    let shape = tiny_shape(&default_fri(), LOG_N);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let len = (next() % 4096) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && len >= PREFIX_LEN {
            // A valid prefix in front of random archive bytes.
            b[..8].copy_from_slice(b"MSIGPRF\0");
            b[8..10].copy_from_slice(&1u16.to_le_bytes());
            b[10] = (round % 8) as u8;
            b[11] = 0;
            b[12..16].copy_from_slice(&((len - PREFIX_LEN) as u32).to_le_bytes());
        }
        assert!(
            is_malformed(decode(&b, &shape)),
            "random input {round} accepted"
        );
    }
}

#[test]
fn wrong_statement_shape_is_malformed() {
    let bytes = default_proof_bytes();
    let preset = default_fri();
    // Taller traces than the proof has.
    let taller = tiny_shape(&preset, LOG_N + 1);
    let err = decode(&bytes, &taller)
        .err()
        .expect("proof accepted for a taller statement");
    assert!(err.to_string().contains("trace log height"), "{err}");
    // One instance fewer.
    let mut fewer = tiny_shape(&preset, LOG_N);
    fewer.instances.pop();
    assert!(is_malformed(decode(&bytes, &fewer)));
    // A wider main trace.
    let mut wider = tiny_shape(&preset, LOG_N);
    wider.instances[0].main_width += 1;
    assert!(is_malformed(decode(&bytes, &wider)));
}

#[test]
fn unknown_version_and_preset_are_malformed() {
    let bytes = default_proof_bytes();
    let shape = tiny_shape(&default_fri(), LOG_N);
    // The previous version (2: cyclic digit accumulators, FRI only) and the next are refused.
    for version in [FORMAT_VERSION - 1, FORMAT_VERSION + 1] {
        let mut v = bytes.clone();
        v[8..10].copy_from_slice(&version.to_le_bytes());
        assert!(decode(&v, &shape)
            .err()
            .unwrap()
            .to_string()
            .contains("version"));
    }
    // An id past the table, and a WHIR preset's id on a FRI archive, are both refused.
    for id in [PRESETS.len() as u8, 8, 9] {
        let mut p = bytes.clone();
        p[10] = id;
        assert!(decode(&p, &shape)
            .err()
            .unwrap()
            .to_string()
            .contains("preset"));
    }
    let mut m = bytes;
    m[0] = b'X';
    assert!(decode(&m, &shape)
        .err()
        .unwrap()
        .to_string()
        .contains("magic"));
}

#[test]
fn non_canonical_field_element_is_malformed() {
    let preset = default_fri();
    let (proof, _) = prove_tiny(&preset, LOG_N);
    let mut bytes = encode(&preset, &proof);
    let n = bytes.len();
    // The rkyv root sits at the end of the archive and its last field is the query grinding
    // witness; check that before tampering so the test cannot pass vacuously.
    let witness = u32::from_le_bytes(bytes[n - 4..].try_into().unwrap());
    use p3_field::PrimeField32;
    assert_eq!(
        witness,
        proof.opening_proof.query_pow_witness.as_canonical_u32()
    );
    // Same residue mod p, non-canonical representative.
    let p = 0x7f00_0001u32;
    bytes[n - 4..].copy_from_slice(&(witness + p).to_le_bytes());
    let err = decode(&bytes, &tiny_shape(&preset, LOG_N))
        .err()
        .expect("non-canonical accepted");
    assert!(err.to_string().contains("non-canonical"), "{err}");
}

#[test]
fn proof_bytes_by_component() {
    for preset in
        format_common::fri_presets().filter(|p| p.id() % 4 == 0 && p.hash == MerkleHash::Keccak)
    {
        let (proof, _) = prove_tiny(&preset, LOG_N);
        let bytes = encode(&preset, &proof);
        let parts = envelope::component_sizes::<Keccak>(&proof);
        let payload: usize = parts.iter().map(|(_, s)| s).sum();
        println!(
            "preset {} ({:?}, 1/{}), {} queries: {} bytes total",
            preset.id(),
            preset.regime,
            1 << preset.log_inv_rate,
            preset.num_queries,
            bytes.len()
        );
        for (name, size) in &parts {
            println!("  {size:>8}  {name}");
        }
        assert!(
            payload < bytes.len() && bytes.len() - payload < payload / 4,
            "rkyv overhead"
        );
        assert_eq!(preset.regime == Regime::Proven, preset.id() < 4);
    }
}
