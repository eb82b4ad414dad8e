//! Fuzzing of proof decoding + verification without libFuzzer (stable toolchain), and the replay
//! of every input that ever crashed a fuzz run.
//!
//! - `regressions_and_corpus_replay` (always runs): every file in `fuzz/regressions/` (inputs
//!   that crashed a fuzz run; kept forever) and `fuzz/corpus/decode_verify/` (seeds) goes
//!   through [`format_common::fuzz_one`] and must neither panic nor verify.
//! - `mutation_fuzz` (ignored; run by CI for a bounded time): seeded random mutations of the
//!   honest proof and the corpus, each through `fuzz_one` under `catch_unwind`; a panicking
//!   input is written to `fuzz/artifacts/` and fails the test. Bounded by `MSIG_FUZZ_SECONDS`
//!   (default 60) and seeded by `MSIG_FUZZ_SEED` (default: the time):
//!
//!   ```text
//!   MSIG_FUZZ_SECONDS=120 cargo test --release --test format_fuzz -- --ignored --nocapture
//!   ```

mod format_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use format_common::{fuzz_one, honest_fuzz_proof};
use multisig::aggregate::{Backend, PREFIX_LEN};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for entry in rd.flatten() {
            let p = entry.path();
            let is_readme = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("README"));
            if p.is_file() && !is_readme {
                out.push((p.clone(), std::fs::read(&p).expect("readable corpus file")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn regressions_and_corpus_replay() {
    let honest = honest_fuzz_proof();
    let mut inputs = files_in(&fuzz_dir().join("regressions"));
    inputs.extend(files_in(&fuzz_dir().join("corpus/decode_verify")));
    assert!(!inputs.is_empty(), "the seed corpus is checked in");
    for (path, data) in &inputs {
        let r = std::panic::catch_unwind(|| fuzz_one(data, &honest));
        assert!(r.is_ok(), "{} panics", path.display());
    }
}

/// The checked-in seed that lets libFuzzer start from a whole valid proof (so its mutations reach
/// the FRI and constraint checks instead of dying in the decoder).
const HONEST_SEED: &str = "corpus/decode_verify/honest-tiny-proof";

/// The honest-proof seed is the current honest proof, byte for byte. It goes stale whenever the
/// format, the default preset or the prover changes; regenerate it with
/// `MSIG_WRITE_FUZZ_SEED=1 cargo test --release --test format_fuzz honest_seed_is_current`.
#[test]
fn honest_seed_is_current() {
    let honest = honest_fuzz_proof();
    let path = fuzz_dir().join(HONEST_SEED);
    if std::env::var_os("MSIG_WRITE_FUZZ_SEED").is_some() {
        std::fs::write(&path, &honest).expect("write the seed");
    }
    let seed = std::fs::read(&path).expect("the honest seed is checked in");
    assert!(
        format_common::decode_and_verify(&seed, format_common::FUZZ_LOG_N).is_ok(),
        "{} no longer verifies; regenerate it (see this test's doc)",
        path.display()
    );
    assert!(
        seed == honest,
        "{} differs from honest_fuzz_proof(); regenerate it (see this test's doc)",
        path.display()
    );
}

/// The checked-in one-signer seeds of the other proof systems, by backend: a proof of one test
/// signer on the message and epoch the public-API stage of the fuzz target uses
/// ([`format_common::fuzz_public_api`]), so libFuzzer's mutations of it reach that backend's
/// decoder and verifier (WHIR: the multilinear verifier; FRI-Poseidon1: the Poseidon1 digests
/// and duplex transcript).
const ONE_SIGNER_SEEDS: [(Backend, &str); 2] = [
    (Backend::Whir, "corpus/decode_verify/honest-whir-one-signer"),
    (
        Backend::FriPoseidon1,
        "corpus/decode_verify/honest-fri-poseidon1-one-signer",
    ),
];

/// Each one-signer seed verifies for its own signer, and is rejected for the fuzz target's
/// statement. Grinding runs in parallel, so a seed's proof-of-work witnesses (and bytes) may
/// differ from a fresh proof's; a seed only has to stay a valid proof. Regenerate them after a
/// format or prover change with
/// `MSIG_WRITE_FUZZ_SEED=1 cargo test --release --test format_fuzz one_signer_seeds_verify`.
#[test]
fn one_signer_seeds_verify_for_their_own_signer_only() {
    use multisig::aggregate::{testing::test_signer, Aggregator, ProveOptions};
    let (message, epoch) = ([7u8; 32], 3);
    let (pk, sig) = test_signer(1, &message, epoch);
    for (backend, seed) in ONE_SIGNER_SEEDS {
        let path = fuzz_dir().join(seed);
        if std::env::var_os("MSIG_WRITE_FUZZ_SEED").is_some() {
            let mut agg = Aggregator::new(message, epoch);
            agg.add_unchecked(pk, sig.clone()).unwrap();
            let opts = ProveOptions {
                backend,
                ..Default::default()
            };
            std::fs::write(&path, agg.prove(&opts).unwrap().as_bytes()).expect("write the seed");
        }
        let seed = std::fs::read(&path).expect("the seed is checked in");
        let opts = multisig::VerifyOptions::default();
        multisig::verify_aggregate(&seed, &[pk], &message, epoch, &opts).unwrap_or_else(|e| {
            panic!(
                "{} no longer verifies ({e}); regenerate it (see this test's doc)",
                path.display()
            )
        });
        assert_eq!(
            multisig::aggregate::wire::read_prefix(&seed)
                .unwrap()
                .0
                .backend(),
            backend
        );
        format_common::fuzz_public_api(&seed);
    }
}

/// The parent seeds, each a parent proof over one child of the one-signer statement
/// (FRI-Poseidon1): `honest-parent-one-child-one-signer` (a FRI parent, kind 1) and
/// `honest-compact-parent-one-child-one-signer` (a compact parent over WHIR at rate 1/4, kind 2).
/// Each verifies for that signer and nothing else; they have the shape of the public-API fuzz
/// statement (one key, the same message and epoch), so mutations of them reach the parents'
/// decoders and verifiers. `MSIG_WRITE_FUZZ_SEED=1` regenerates them.
#[test]
fn parent_seeds_verify_for_their_own_signer_only() {
    use multisig::aggregate::{testing::test_signer, wire, Aggregator, ProveOptions};
    let (message, epoch) = ([7u8; 32], 3);
    let (pk, sig) = test_signer(1, &message, epoch);
    let child_opts = ProveOptions {
        backend: Backend::FriPoseidon1,
        ..Default::default()
    };
    let seeds = [
        (
            "corpus/decode_verify/honest-parent-one-child-one-signer",
            ProveOptions {
                max_proof_bytes: usize::MAX,
                ..child_opts
            },
            wire::KIND_PARENT,
        ),
        (
            "corpus/decode_verify/honest-compact-parent-one-child-one-signer",
            ProveOptions {
                backend: Backend::Whir,
                log_inv_rate: 2,
                ..Default::default()
            },
            wire::KIND_COMPACT_PARENT,
        ),
    ];
    for (name, opts, kind) in seeds {
        let path = fuzz_dir().join(name);
        if std::env::var_os("MSIG_WRITE_FUZZ_SEED").is_some() {
            let mut child = Aggregator::new(message, epoch);
            child.add_unchecked(pk, sig.clone()).unwrap();
            let child = child.prove(&child_opts).unwrap();
            let mut parent = Aggregator::new(message, epoch);
            parent.add_child(child.as_bytes(), &[pk]).unwrap();
            std::fs::write(&path, parent.prove(&opts).unwrap().as_bytes()).expect("write the seed");
        }
        let seed = std::fs::read(&path).expect("the seed is checked in");
        assert_eq!(wire::proof_kind(&seed), Some(kind), "{name}");
        let verify_opts = multisig::VerifyOptions::default();
        multisig::verify_aggregate(&seed, &[pk], &message, epoch, &verify_opts).unwrap_or_else(
            |e| {
                panic!(
                    "{} no longer verifies ({e}); regenerate it (see this test's doc)",
                    path.display()
                )
            },
        );
        format_common::fuzz_public_api(&seed);
    }
}

/// A one-signature Type-1 proof under the recursion-ready backend (a Type-2 component).
fn fri_poseidon1_proof(
    message: [u8; 32],
    epoch: u32,
    pk: multisig::PublicKey,
    sig: multisig::xmss::Signature,
) -> Vec<u8> {
    use multisig::aggregate::{Aggregator, ProveOptions};
    let mut child = Aggregator::new(message, epoch);
    child.add_unchecked(pk, sig).unwrap();
    let opts = ProveOptions {
        backend: Backend::FriPoseidon1,
        ..Default::default()
    };
    child.prove(&opts).unwrap().as_bytes().to_vec()
}

/// The WHIR preset at rate 1/4, the Type-2's default.
fn whir_rate_quarter() -> multisig::aggregate::WhirPreset {
    use multisig::aggregate::{Preset, ProveOptions};
    let opts = ProveOptions {
        backend: Backend::Whir,
        log_inv_rate: 2,
        ..Default::default()
    };
    Preset::from_options(&opts).unwrap().as_whir().unwrap()
}

/// The Type-2 seed: a Type-2 proof of one component, the one-signer statement's Type-1 proof
/// (FRI-Poseidon1), so that mutations reach the Type-2 decoder and verifier
/// ([`format_common::fuzz_public_api`] hands every input to both verifiers). It verifies for
/// that signer and nothing else. `MSIG_WRITE_FUZZ_SEED=1` regenerates it.
#[test]
fn type2_seed_verifies_for_its_own_signer_only() {
    use multisig::aggregate::recursion::type2::{prove_type2, verify_type2_bytes, Component};
    use multisig::aggregate::{testing::test_signer, wire};
    let (message, epoch) = ([7u8; 32], 3);
    let (pk, sig) = test_signer(1, &message, epoch);
    let component = Component {
        message,
        epoch,
        keys: &[pk],
    };
    let path = fuzz_dir().join("corpus/decode_verify/honest-type2-one-component-one-signer");
    if std::env::var_os("MSIG_WRITE_FUZZ_SEED").is_some() {
        let child = fri_poseidon1_proof(message, epoch, pk, sig);
        let (proof, _) =
            prove_type2(&[(&child, component)], &whir_rate_quarter(), 512 * 1024).unwrap();
        std::fs::write(&path, proof.to_bytes()).expect("write the seed");
    }
    let seed = std::fs::read(&path).expect("the seed is checked in");
    assert_eq!(wire::proof_kind(&seed), Some(wire::KIND_TYPE2));
    verify_type2_bytes(&seed, &[component], &multisig::VerifyOptions::default()).unwrap_or_else(
        |e| {
            panic!(
                "{} no longer verifies ({e}); regenerate it (see this test's doc)",
                path.display()
            )
        },
    );
    format_common::fuzz_public_api(&seed);
}

/// The split seed: the first of two components (the one-signer statement's signer 1 on
/// `[7; 32]` at epoch 3, and signer 2 on `[8; 32]`) split out of their Type-2 proof, so that
/// mutations reach the split decoder (its carried statement) and, through it, the Type-2
/// verifier. It verifies with `verify_aggregate` for its own signer and nothing else.
/// `MSIG_WRITE_FUZZ_SEED=1` regenerates it.
#[test]
fn split_seed_verifies_for_its_own_signer_only() {
    use multisig::aggregate::recursion::type2::{prove_type2, split_type2, Component};
    use multisig::aggregate::{testing::test_signer, wire};
    let epoch = 3;
    let signers = [(1, [7u8; 32]), (2, [8u8; 32])].map(|(i, m)| (test_signer(i, &m, epoch), m));
    let keys = [0, 1].map(|i| [signers[i].0 .0]);
    let components: Vec<Component<'_>> = signers
        .iter()
        .zip(&keys)
        .map(|((_, message), keys)| Component {
            message: *message,
            epoch,
            keys,
        })
        .collect();
    let path = fuzz_dir().join("corpus/decode_verify/honest-split-of-two-components");
    if std::env::var_os("MSIG_WRITE_FUZZ_SEED").is_some() {
        let children: Vec<Vec<u8>> = signers
            .iter()
            .map(|((pk, sig), message)| fri_poseidon1_proof(*message, epoch, *pk, sig.clone()))
            .collect();
        let input: Vec<(&[u8], Component<'_>)> = children
            .iter()
            .map(Vec::as_slice)
            .zip(components.iter().copied())
            .collect();
        let (type2, _) = prove_type2(&input, &whir_rate_quarter(), 512 * 1024).unwrap();
        let opts = multisig::VerifyOptions::default();
        let split = split_type2(&type2.to_bytes(), &components, 0, &opts, 512 * 1024).unwrap();
        std::fs::write(&path, split).expect("write the seed");
    }
    let seed = std::fs::read(&path).expect("the seed is checked in");
    assert_eq!(wire::proof_kind(&seed), Some(wire::KIND_SPLIT));
    let verify = |c: &Component<'_>| {
        multisig::verify_aggregate(&seed, c.keys, &c.message, c.epoch, &Default::default())
    };
    verify(&components[0]).unwrap_or_else(|e| {
        panic!(
            "{} no longer verifies ({e}); regenerate it (see this test's doc)",
            path.display()
        )
    });
    assert!(
        verify(&components[1]).is_err(),
        "the split verified for the other component"
    );
    format_common::fuzz_public_api(&seed);
}

/// xorshift64*: deterministic per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that sit on boundaries of the format: zero, all-ones, the field modulus and its
/// neighbours, small lengths, sign bits.
const INTERESTING_U32: [u32; 10] = [
    0,
    1,
    2,
    0x7f00_0000,
    0x7f00_0001,
    0x7f00_0002,
    0xffff_ffff,
    0x8000_0000,
    16,
    0x7fff_ffff,
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(6) {
        let len = d.len();
        match rng.below(9) {
            0 | 1 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                d[i] = [0u8, 0xff, 0x7f, 0x80, 1][rng.below(5)];
            }
            3 if len >= 4 => {
                let i = rng.below(len - 3) & !3;
                let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())];
                d[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            4 if len > 0 => d.truncate(rng.below(len)),
            5 => {
                let n = 1 + rng.below(64);
                d.extend((0..n).map(|_| rng.next() as u8));
            }
            6 if len > 8 => {
                // Copy a region over another (duplicates relative pointers and lengths).
                let n = 1 + rng.below(len / 2);
                let src = rng.below(len - n);
                let dst = rng.below(len - n);
                let chunk = d[src..src + n].to_vec();
                d[dst..dst + n].copy_from_slice(&chunk);
            }
            7 if len > 0 => {
                // Splice in the tail of another corpus entry.
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(len);
                let from = rng.below(other.len().max(1));
                d.truncate(cut);
                d.extend_from_slice(&other[from.min(other.len())..]);
            }
            _ => {
                let i = rng.below(len + 1);
                d.insert(i, rng.next() as u8);
            }
        }
    }
    // Half the time keep the prefix consistent so mutations reach the archive validator.
    if d.len() >= PREFIX_LEN && rng.below(2) == 0 {
        let n = (d.len() - PREFIX_LEN) as u32;
        d[12..16].copy_from_slice(&n.to_le_bytes());
    }
    d
}

#[test]
#[ignore = "long-running; CI runs it with a time bound"]
fn mutation_fuzz() {
    let seconds: u64 = std::env::var("MSIG_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("MSIG_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    let honest = honest_fuzz_proof();
    let mut corpus = vec![honest.clone()];
    corpus.extend(
        files_in(&fuzz_dir().join("corpus/decode_verify"))
            .into_iter()
            .map(|(_, d)| d),
    );
    corpus.extend(
        files_in(&fuzz_dir().join("regressions"))
            .into_iter()
            .map(|(_, d)| d),
    );
    let mut rng = Rng(seed);
    // Panics inside fuzz_one are findings, reported below; keep the default hook quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut execs = 0u64;
    while Instant::now() < deadline {
        let base = corpus[rng.below(corpus.len())].clone();
        let input = mutate(&mut rng, &base, &corpus);
        let r = std::panic::catch_unwind(|| fuzz_one(&input, &honest));
        execs += 1;
        if r.is_err() {
            let _ = std::panic::take_hook();
            let dir = fuzz_dir().join("artifacts");
            std::fs::create_dir_all(&dir).expect("artifacts dir");
            let name = format!("crash-seed{seed}-exec{execs}");
            std::fs::write(dir.join(&name), &input).expect("write crash input");
            panic!("fuzz input {name} panicked (seed {seed}); copy it to fuzz/regressions/");
        }
    }
    let _ = std::panic::take_hook();
    println!("mutation_fuzz: seed {seed}, {execs} executions in {seconds} s, no panic");
}
