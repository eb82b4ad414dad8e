//! `multisig`: command-line front end of the multisig library.
//!
//! Exit codes (scripts depend on them): 0 valid / success, 1 invalid signature or proof,
//! 2 malformed input or usage error (one line on stderr).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use multisig::aggregate::{
    preset_security_bits, proof_size_bound, verify_aggregate, Aggregator, Backend, ProveOptions,
    Regime, VerifyError, VerifyOptions, SECURITY_FLOOR_BITS,
};
use multisig::aggregate::{recursion, Preset, PRESETS};
use multisig::xmss::{self, PublicKey, SecretKey, Signature};

#[derive(Parser)]
#[command(
    name = "multisig",
    version,
    about = "Aggregate leanSig XMSS signatures into one STARK proof"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a production key pair (leanSig key generation; slow for large ranges).
    Keygen(KeygenArgs),
    /// Sign a 32-byte message at an epoch with a secret key file.
    Sign(SignArgs),
    /// Verify one signature: exit 0 valid, 1 invalid, 2 malformed input.
    Verify(VerifyArgs),
    /// Aggregate the signatures of a signers JSON file into one proof file.
    Aggregate(AggregateArgs),
    /// Verify a proof file against the epoch, message and public keys of a signers JSON file.
    VerifyAggregate(VerifyAggregateArgs),
    /// Merge Type-1 proofs over different messages or epochs (each made with `aggregate
    /// --backend fri-poseidon1`) into one Type-2 proof.
    Merge(MergeArgs),
    /// Verify a Type-2 proof against its components (each a signers JSON: epoch, message, keys),
    /// in any order: exit 0 valid, 1 invalid, 2 malformed input.
    VerifyType2(VerifyType2Args),
    /// Split one component out of a Type-2 proof as a Type-1 proof that `verify-aggregate`
    /// verifies for that component alone. The Type-2 is verified first.
    Split(SplitArgs),
    /// Benchmark: make N benchmark signers, aggregate, verify, print throughput and sizes.
    Bench(BenchArgs),
    /// Print every preset: its parameters, the signatures it accepts, its soundness in bits and
    /// the largest proof it can produce, at a few batch sizes (computed, nothing is proved).
    Presets(PresetsArgs),
}

#[derive(Args)]
struct PresetsArgs {
    /// Batch sizes to tabulate (each preset also at its own largest batch).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 256, 1024, 4096])]
    signatures: Vec<usize>,
}

#[derive(Args)]
struct KeygenArgs {
    /// 32-byte seed, 0x-hex.
    #[arg(long)]
    seed: String,
    /// First active epoch (widened down to a bottom-tree boundary by the scheme).
    #[arg(long, default_value_t = 0)]
    activation_epoch: u64,
    /// Number of active epochs (widened to whole bottom trees, at least two).
    #[arg(long, default_value_t = 1 << 17)]
    num_active_epochs: u64,
    /// Where to write the secret key (SSZ bytes).
    #[arg(long)]
    secret_key_out: PathBuf,
}

#[derive(Args)]
struct SignArgs {
    /// Secret key file (SSZ bytes, as written by `keygen`). When the epoch lies past the key's
    /// prepared window, the window is advanced (one bottom tree, about 11 s, per step) and the
    /// advanced key is written back to this file before the signature is printed.
    #[arg(long)]
    secret_key: PathBuf,
    #[arg(long)]
    epoch: u32,
    /// 32-byte message, 0x-hex.
    #[arg(long)]
    message: String,
}

#[derive(Args)]
struct VerifyArgs {
    /// Public key, 0x-hex SSZ (52 bytes).
    #[arg(long)]
    public_key: String,
    #[arg(long)]
    epoch: u32,
    /// 32-byte message, 0x-hex.
    #[arg(long)]
    message: String,
    /// Signature: 0x-hex SSZ, or @path to a file holding hex text or raw SSZ bytes.
    #[arg(long)]
    signature: String,
}

#[derive(Args, Clone, Copy)]
struct PresetArgs {
    /// Soundness regime (proven: Johnson-bound list decoding; conjectured: up to capacity).
    #[arg(long, value_enum, default_value_t = RegimeArg::Proven)]
    regime: RegimeArg,
    /// log2 of the inverse code rate, FRI blowup or WHIR starting rate (1..=4); 0 picks the
    /// backend's default (FRI 3, WHIR 1, FRI-Poseidon1 3).
    #[arg(long, default_value_t = 0)]
    log_inv_rate: u8,
    /// Proof system: `fri` (fastest prover), `whir` (smaller proofs, slower prover, at most 512
    /// signatures) or `fri-poseidon1` (recursion-ready: Poseidon1-24 Merkle trees, slower prover,
    /// proven only).
    #[arg(long, value_enum, default_value_t = BackendArg::Fri)]
    backend: BackendArg,
    /// Largest proof accepted, in bytes (0: the 512 KiB wire cap). The prover refuses a preset
    /// whose proofs for this statement can be longer, before proving.
    #[arg(long, default_value_t = 0)]
    max_proof_bytes: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    /// FRI over Keccak-256 Merkle trees: the fastest prover.
    Fri,
    /// WHIR over Keccak-256: smaller proofs, a slower prover.
    Whir,
    /// FRI over Poseidon1-24 Merkle trees and transcript: recursion-ready (proven presets only).
    FriPoseidon1,
}

#[derive(Clone, Copy, ValueEnum)]
enum RegimeArg {
    Proven,
    Conjectured,
}

impl PresetArgs {
    fn options(&self) -> ProveOptions {
        ProveOptions {
            regime: match self.regime {
                RegimeArg::Proven => Regime::Proven,
                RegimeArg::Conjectured => Regime::Conjectured,
            },
            log_inv_rate: self.log_inv_rate,
            backend: match self.backend {
                BackendArg::Fri => Backend::Fri,
                BackendArg::Whir => Backend::Whir,
                BackendArg::FriPoseidon1 => Backend::FriPoseidon1,
            },
            max_proof_bytes: self.max_proof_bytes,
        }
    }
}

#[derive(Args)]
struct AggregateArgs {
    /// Signers JSON: `{epoch, message, signers: [{public_key, signature_ssz}]}` (the signers
    /// may be empty when children are given).
    #[arg(long)]
    input: PathBuf,
    /// Proof file to write.
    #[arg(long)]
    out: PathBuf,
    /// A child proof (written by `aggregate` under `--backend fri-poseidon1`) of the input's
    /// message and epoch; repeat for more children, each followed by its `--child-keys`. With
    /// children the proof is a parent over them, proved under their preset (name it with the
    /// same preset flags), and the input must have no signers.
    #[arg(long)]
    child: Vec<PathBuf>,
    /// The keys of the `--child` of the same rank: a signers JSON of the child's message and
    /// epoch (signatures ignored), as `verify-aggregate` reads for that child.
    #[arg(long)]
    child_keys: Vec<PathBuf>,
    #[command(flatten)]
    preset: PresetArgs,
}

#[derive(Args)]
struct MergeArgs {
    /// A component's Type-1 proof (a signature aggregate under `--backend fri-poseidon1`);
    /// repeat for each component, each followed by its `--component-keys`.
    #[arg(long, required = true)]
    component: Vec<PathBuf>,
    /// The keys of the `--component` of the same rank: a signers JSON of its message and epoch
    /// (signatures ignored). No two components may share a message and epoch.
    #[arg(long, required = true)]
    component_keys: Vec<PathBuf>,
    /// Type-2 proof file to write.
    #[arg(long)]
    out: PathBuf,
    /// log2 of the inverse rate of the first WHIR codeword (1 or 2, WHIR presets 8 and 9).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    log_inv_rate: u8,
    /// Largest proof accepted, in bytes (0: the 512 KiB wire cap). Refused before proving when
    /// the worst case for these components is larger.
    #[arg(long, default_value_t = 0)]
    max_proof_bytes: usize,
}

#[derive(Args)]
struct VerifyType2Args {
    /// Type-2 proof file written by `merge`.
    #[arg(long)]
    proof: PathBuf,
    /// A component: a signers JSON whose epoch, message and public keys are used (signatures
    /// ignored); repeat for each, in any order.
    #[arg(long, required = true)]
    component_keys: Vec<PathBuf>,
}

#[derive(Args)]
struct SplitArgs {
    /// Type-2 proof file written by `merge`.
    #[arg(long)]
    proof: PathBuf,
    /// A component of the Type-2: a signers JSON whose epoch, message and public keys are used
    /// (signatures ignored); repeat for each, in any order.
    #[arg(long, required = true)]
    component_keys: Vec<PathBuf>,
    /// Which `--component-keys` to split out: its rank among them, from 0.
    #[arg(long)]
    take: usize,
    /// Type-1 proof file to write (verify it with `verify-aggregate --input` that component's
    /// file).
    #[arg(long)]
    out: PathBuf,
    /// Largest proof accepted, in bytes (0: the 512 KiB wire cap).
    #[arg(long, default_value_t = 0)]
    max_proof_bytes: usize,
}

#[derive(Args)]
struct VerifyAggregateArgs {
    /// Signers JSON; its epoch, message and public keys are used, its signatures ignored.
    #[arg(long)]
    input: PathBuf,
    /// Proof file written by `aggregate`.
    #[arg(long)]
    proof: PathBuf,
    /// Also accept proofs under the conjectured presets (graded at 124 bits under the
    /// random-words conjecture; provably about 73 bits). Refused by default.
    #[arg(long)]
    allow_conjectured: bool,
}

#[derive(Args)]
struct BenchArgs {
    /// Number of distinct benchmark signers.
    #[arg(long, default_value_t = 256)]
    signatures: usize,
    /// Epoch the benchmark signers sign at.
    #[arg(long, default_value_t = 7)]
    epoch: u32,
    #[command(flatten)]
    preset: PresetArgs,
    /// Print one machine-readable JSON line instead of the table.
    #[arg(long)]
    json: bool,
    /// Number of timed proofs (1..=100); the median (the upper one for an even count) is
    /// reported, and the last proof is the one verified and measured.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Recursive shape: make this many children of `--child-signatures` distinct signers each
    /// (under fri-poseidon1, the backend whose proofs can be children; untimed), then time one
    /// parent proof over them, with no raw signatures. 0: aggregate `--signatures` raw
    /// signatures instead.
    #[arg(long, default_value_t = 0)]
    children: usize,
    /// Signers per child, with `--children`: one number for every child, or one per child
    /// separated by commas (children of different sizes, e.g. `--children 2
    /// --child-signatures 256,775`).
    #[arg(long, value_delimiter = ',', default_value = "256")]
    child_signatures: Vec<usize>,
    /// With `--children`: how the parent is proved. `whir`: a compact parent (the multilinear
    /// STARK over WHIR, unique-decoding regime, within the wire cap); `fri`: the batch STARK
    /// over FRI-Poseidon1 under the children's preset (the recursion-ready format, over the cap).
    #[arg(long, value_enum, default_value_t = ParentArg::Whir)]
    parent: ParentArg,
    /// With `--parent whir`: log2 of the inverse rate of the first WHIR codeword (1 or 2, the
    /// WHIR presets 8 and 9). Rate 1/2 proves faster into larger proofs; its worst case fits the
    /// wire cap up to two children of 775 keys, rate 1/4's up to 16 of 1,024. Default: 1 when
    /// the shape's worst case at rate 1/2 fits the cap, else 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    parent_log_inv_rate: Option<u8>,
    /// Type-2 shape: make this many Type-1 proofs under fri-poseidon1 (untimed, each on its own
    /// message at `--epoch`, of `--component-signatures` distinct signers), then time one Type-2
    /// merge of them (WHIR rate 1/4). 0: no Type-2.
    #[arg(long, default_value_t = 0)]
    components: usize,
    /// Signers per component, with `--components`: one number for every component, or one per
    /// component separated by commas (e.g. `--components 9 --component-signatures
    /// 256,256,256,256,256,256,256,256,1`).
    #[arg(long, value_delimiter = ',', default_value = "256")]
    component_signatures: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ParentArg {
    /// The compact parent: multilinear STARK over WHIR.
    Whir,
    /// The batch STARK over FRI-Poseidon1 (recursion-ready format).
    Fri,
}

/// A command failure, mapped to the documented exit codes.
enum Failure {
    /// Exit 1: well-formed input that does not verify.
    Invalid(String),
    /// Exit 2: malformed input, I/O error or unusable arguments.
    Malformed(String),
}

type CmdResult = Result<(), Failure>;

fn malformed(e: impl std::fmt::Display) -> Failure {
    Failure::Malformed(e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => keygen(a),
        Command::Sign(a) => sign(a),
        Command::Verify(a) => verify(a),
        Command::Aggregate(a) => aggregate(a),
        Command::VerifyAggregate(a) => verify_aggregate_cmd(a),
        Command::Merge(a) => merge(a),
        Command::VerifyType2(a) => verify_type2_cmd(a),
        Command::Split(a) => split_cmd(a),
        Command::Bench(a) => bench(a),
        Command::Presets(a) => presets(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(msg)) => {
            eprintln!("invalid: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Malformed(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Decodes 0x-prefixed (or bare) hex.
fn parse_hex(what: &str, s: &str) -> Result<Vec<u8>, Failure> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    hex::decode(t).map_err(|e| Failure::Malformed(format!("{what}: not hex: {e}")))
}

fn parse_message(s: &str) -> Result<[u8; 32], Failure> {
    let bytes = parse_hex("message", s)?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        Failure::Malformed(format!("message: expected 32 bytes, got {}", b.len()))
    })
}

fn parse_public_key(s: &str) -> Result<PublicKey, Failure> {
    let bytes = parse_hex("public key", s)?;
    PublicKey::from_ssz(&bytes).map_err(|e| malformed(format!("public key: {e}")))
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Malformed(format!("{}: {e}", path.display())))
}

/// Signature argument: 0x-hex, or `@path` to a file of hex text or raw SSZ bytes.
fn parse_signature_arg(s: &str) -> Result<Signature, Failure> {
    let bytes = match s.strip_prefix('@') {
        Some(path) => {
            let raw = read_file(Path::new(path))?;
            match std::str::from_utf8(&raw) {
                Ok(text)
                    if text
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == 'x' || c == 'X') =>
                {
                    parse_hex("signature", text)?
                }
                _ => raw,
            }
        }
        None => parse_hex("signature", s)?,
    };
    Signature::from_ssz(&bytes).map_err(|e| malformed(format!("signature: {e}")))
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
            .expect("static template"),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn keygen(a: KeygenArgs) -> CmdResult {
    let seed: [u8; 32] = parse_hex("seed", &a.seed)?
        .try_into()
        .map_err(|b: Vec<u8>| {
            Failure::Malformed(format!("seed: expected 32 bytes, got {}", b.len()))
        })?;
    let pb = spinner("generating key");
    let t = Instant::now();
    let (pk, sk) =
        xmss::keygen(seed, a.activation_epoch, a.num_active_epochs).map_err(malformed)?;
    let secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    std::fs::write(&a.secret_key_out, sk.to_ssz())
        .map_err(|e| Failure::Malformed(format!("{}: {e}", a.secret_key_out.display())))?;
    println!("public_key: 0x{}", hex::encode(pk.to_ssz()));
    eprintln!("keygen: {secs:.2} s");
    Ok(())
}

fn sign(a: SignArgs) -> CmdResult {
    let mut sk = SecretKey::from_ssz(&read_file(&a.secret_key)?)
        .map_err(|e| malformed(format!("secret key: {e}")))?;
    let message = parse_message(&a.message)?;
    let (sig, advanced) = xmss::sign_advancing(&mut sk, a.epoch, &message).map_err(malformed)?;
    if advanced > 0 {
        // Persist the advanced key first (write a sibling file, then rename over the original),
        // so that the file never holds a half-written key.
        let tmp = a.secret_key.with_extension("advancing");
        std::fs::write(&tmp, sk.to_ssz())
            .and_then(|()| std::fs::rename(&tmp, &a.secret_key))
            .map_err(|e| Failure::Malformed(format!("{}: {e}", a.secret_key.display())))?;
        eprintln!(
            "sign: advanced the prepared window by {advanced} bottom tree(s) to epochs {:?}; {} updated",
            sk.prepared_interval(),
            a.secret_key.display()
        );
    }
    println!("0x{}", hex::encode(sig.to_ssz()));
    Ok(())
}

fn verify(a: VerifyArgs) -> CmdResult {
    let pk = parse_public_key(&a.public_key)?;
    let message = parse_message(&a.message)?;
    let sig = parse_signature_arg(&a.signature)?;
    if xmss::verify(&pk, a.epoch, &message, &sig) {
        println!("valid");
        Ok(())
    } else {
        Err(Failure::Invalid("signature does not verify".into()))
    }
}

/// The signers JSON file (`../shared/vectors/leansig_devnet4_aggregate_4.json` shape).
#[derive(Deserialize, Serialize)]
struct SignersFile {
    epoch: u32,
    message: String,
    signers: Vec<SignerEntry>,
}

#[derive(Deserialize, Serialize)]
struct SignerEntry {
    public_key: String,
    #[serde(default)]
    signature_ssz: Option<String>,
}

impl SignersFile {
    /// The signers' public keys in file order; an error names the entry as `"{label} {i}"`.
    fn public_keys(&self, label: &str) -> Result<Vec<PublicKey>, Failure> {
        self.signers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                parse_public_key(&s.public_key).map_err(|f| prefix(f, &format!("{label} {i}")))
            })
            .collect()
    }
}

fn read_signers(path: &Path) -> Result<SignersFile, Failure> {
    let raw = read_file(path)?;
    serde_json::from_slice(&raw).map_err(|e| Failure::Malformed(format!("{}: {e}", path.display())))
}

fn aggregate(a: AggregateArgs) -> CmdResult {
    let file = read_signers(&a.input)?;
    let message = parse_message(&file.message)?;
    let mut agg = Aggregator::new(message, file.epoch);
    for (i, s) in file.signers.iter().enumerate() {
        let pk = parse_public_key(&s.public_key).map_err(|f| prefix(f, &format!("signer {i}")))?;
        let sig_hex = s
            .signature_ssz
            .as_deref()
            .ok_or_else(|| Failure::Malformed(format!("signer {i}: missing signature_ssz")))?;
        let sig = Signature::from_ssz(&parse_hex("signature", sig_hex)?)
            .map_err(|e| malformed(format!("signer {i}: signature: {e}")))?;
        agg.add(pk, sig)
            .map_err(|e| Failure::Invalid(format!("signer {i}: {e}")))?;
    }
    if a.child.len() != a.child_keys.len() {
        return Err(Failure::Malformed(format!(
            "{} --child and {} --child-keys: one keys file per child",
            a.child.len(),
            a.child_keys.len()
        )));
    }
    let mut child_keys = 0;
    for (i, (proof, keys)) in a.child.iter().zip(&a.child_keys).enumerate() {
        let what = format!("child {i} ({})", proof.display());
        let keys_file = read_signers(keys)?;
        if keys_file.epoch != file.epoch || parse_message(&keys_file.message)? != message {
            return Err(Failure::Invalid(format!(
                "{what}: its keys file is for another message or epoch"
            )));
        }
        let keys = keys_file.public_keys(&format!("{what}: key"))?;
        child_keys += keys.len();
        agg.add_child(&read_file(proof)?, &keys)
            .map_err(|e| Failure::Invalid(format!("{what}: {e}")))?;
    }
    let what = if a.child.is_empty() {
        format!("{} signatures", agg.len())
    } else {
        format!("a parent over {} children", a.child.len())
    };
    let pb = spinner(&format!("proving {what}"));
    let t = Instant::now();
    let proof = agg.prove(&a.preset.options()).map_err(malformed)?;
    let secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    std::fs::write(&a.out, proof.as_bytes())
        .map_err(|e| Failure::Malformed(format!("{}: {e}", a.out.display())))?;
    if a.child.is_empty() {
        println!(
            "aggregated {} signatures in {secs:.3} s ({:.1} XMSS/s), proof {:.1} KiB -> {}",
            agg.len(),
            agg.len() as f64 / secs,
            proof.as_bytes().len() as f64 / 1024.0,
            a.out.display()
        );
    } else {
        println!(
            "aggregated {} children ({child_keys} keys, overlaps counted) in {secs:.3} s, \
             proof {:.1} KiB -> {}",
            a.child.len(),
            proof.as_bytes().len() as f64 / 1024.0,
            a.out.display()
        );
    }
    Ok(())
}

fn prefix(f: Failure, p: &str) -> Failure {
    match f {
        Failure::Invalid(m) => Failure::Invalid(format!("{p}: {m}")),
        Failure::Malformed(m) => Failure::Malformed(format!("{p}: {m}")),
    }
}

fn verify_error(e: VerifyError) -> Failure {
    match e {
        VerifyError::Malformed(_) => Failure::Malformed(e.to_string()),
        VerifyError::PresetNotAccepted(_) | VerifyError::Invalid(_) => {
            Failure::Invalid(e.to_string())
        }
    }
}

fn verify_aggregate_cmd(a: VerifyAggregateArgs) -> CmdResult {
    let file = read_signers(&a.input)?;
    let message = parse_message(&file.message)?;
    let keys = file.public_keys("signer")?;
    let proof = read_file(&a.proof)?;
    let opts = VerifyOptions {
        allow_conjectured: a.allow_conjectured,
        ..VerifyOptions::default()
    };
    let t = Instant::now();
    verify_aggregate(&proof, &keys, &message, file.epoch, &opts).map_err(verify_error)?;
    println!(
        "valid: {} signatures, epoch {}, verified in {:.1} ms",
        keys.len(),
        file.epoch,
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// A component named by a signers file: its message, epoch and keys.
type NamedComponent = ([u8; 32], u32, Vec<PublicKey>);

/// The components named by signers files.
fn read_components(paths: &[PathBuf]) -> Result<Vec<NamedComponent>, Failure> {
    paths
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let what = format!("component {i} ({})", path.display());
            let file = read_signers(path).map_err(|f| prefix(f, &what))?;
            let message = parse_message(&file.message).map_err(|f| prefix(f, &what))?;
            Ok((
                message,
                file.epoch,
                file.public_keys(&format!("{what}: key"))?,
            ))
        })
        .collect()
}

/// The components `read_components` read, as the Type-2 functions take them.
fn as_components(named: &[NamedComponent]) -> Vec<recursion::type2::Component<'_>> {
    named
        .iter()
        .map(|(message, epoch, keys)| recursion::type2::Component {
            message: *message,
            epoch: *epoch,
            keys,
        })
        .collect()
}

fn merge(a: MergeArgs) -> CmdResult {
    use recursion::type2::{prove_type2, Component};
    if a.component.len() != a.component_keys.len() {
        return Err(Failure::Malformed(format!(
            "{} --component and {} --component-keys: one keys file per component",
            a.component.len(),
            a.component_keys.len()
        )));
    }
    let named = read_components(&a.component_keys)?;
    let proofs = a
        .component
        .iter()
        .map(|p| read_file(p))
        .collect::<Result<Vec<_>, _>>()?;
    let components: Vec<(&[u8], Component<'_>)> = proofs
        .iter()
        .map(Vec::as_slice)
        .zip(as_components(&named))
        .collect();
    let whir = Preset::from_options(&ProveOptions {
        backend: Backend::Whir,
        log_inv_rate: a.log_inv_rate,
        ..ProveOptions::default()
    })
    .ok()
    .and_then(|p| p.as_whir())
    .ok_or_else(|| Failure::Malformed(format!("no WHIR preset at rate 2^-{}", a.log_inv_rate)))?;
    let limit = ProveOptions {
        max_proof_bytes: a.max_proof_bytes,
        ..ProveOptions::default()
    }
    .byte_limit();
    let pb = spinner(&format!("merging {} components", components.len()));
    let t = Instant::now();
    let (proof, bits) = prove_type2(&components, &whir, limit).map_err(|e| match e {
        // A component's proof refused as the verifier refuses it: exit 1 for a proof that is
        // false for its component, 2 for bytes that are not a proof.
        multisig::aggregate::ProveError::InvalidComponent { index, error } => {
            match verify_error(error) {
                Failure::Invalid(m) => Failure::Invalid(format!("component {index}: {m}")),
                Failure::Malformed(m) => Failure::Malformed(format!("component {index}: {m}")),
            }
        }
        e => malformed(e),
    })?;
    let secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let bytes = proof.to_bytes();
    std::fs::write(&a.out, &bytes)
        .map_err(|e| Failure::Malformed(format!("{}: {e}", a.out.display())))?;
    println!(
        "merged {} components ({} keys) in {secs:.3} s, {bits:.2} bits proven, proof {:.1} KiB -> {}",
        components.len(),
        named.iter().map(|c| c.2.len()).sum::<usize>(),
        bytes.len() as f64 / 1024.0,
        a.out.display()
    );
    Ok(())
}

fn verify_type2_cmd(a: VerifyType2Args) -> CmdResult {
    use recursion::type2::verify_type2_bytes;
    let named = read_components(&a.component_keys)?;
    let components = as_components(&named);
    let proof = read_file(&a.proof)?;
    let t = Instant::now();
    verify_type2_bytes(&proof, &components, &VerifyOptions::default()).map_err(verify_error)?;
    println!(
        "valid: {} components ({} keys), verified in {:.1} ms",
        components.len(),
        named.iter().map(|c| c.2.len()).sum::<usize>(),
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn split_cmd(a: SplitArgs) -> CmdResult {
    use recursion::type2::{split_type2, SplitError};
    let named = read_components(&a.component_keys)?;
    let components = as_components(&named);
    if a.take >= components.len() {
        return Err(Failure::Malformed(format!(
            "--take {} of {} components",
            a.take,
            components.len()
        )));
    }
    let limit = ProveOptions {
        max_proof_bytes: a.max_proof_bytes,
        ..ProveOptions::default()
    }
    .byte_limit();
    let proof = read_file(&a.proof)?;
    let t = Instant::now();
    let split = split_type2(
        &proof,
        &components,
        a.take,
        &VerifyOptions::default(),
        limit,
    )
    .map_err(|e| match e {
        SplitError::Type2(e) => verify_error(e),
        e @ SplitError::TooLarge { .. } => malformed(e),
    })?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    std::fs::write(&a.out, &split)
        .map_err(|e| Failure::Malformed(format!("{}: {e}", a.out.display())))?;
    println!(
        "split component {} ({} keys) out of {} in {ms:.1} ms, proof {:.1} KiB -> {}",
        a.take,
        named[a.take].2.len(),
        components.len(),
        split.len() as f64 / 1024.0,
        a.out.display()
    );
    Ok(())
}

/// Peak resident set size of this process in KiB (Linux `VmHWM`), if available.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn bench(a: BenchArgs) -> CmdResult {
    if a.components > 0 {
        return bench_type2(&a);
    }
    if a.children > 0 {
        return bench_parent(&a);
    }
    if a.signatures == 0 {
        return Err(Failure::Malformed("--signatures must be at least 1".into()));
    }
    let message: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(3));
    let pb = spinner(&format!("making {} benchmark signers", a.signatures));
    let t = Instant::now();
    let seed = *b"multisig bench signers, seed v1\0";
    let signers = xmss::bench_keys::generate_bench_signers(a.signatures, a.epoch, &message, seed)
        .map_err(malformed)?;
    let gen_secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();

    let mut agg = Aggregator::new(message, a.epoch);
    for s in signers {
        agg.add(s.public_key, s.signature)
            .map_err(|e| Failure::Invalid(e.to_string()))?;
    }
    let opts = a.preset.options();
    // Process-wide tables (WHIR keys, FRI lookup layout) are built once, before the timed proof,
    // as a long-running client would (`multisig::prepare`); their cost is reported apart.
    let t = Instant::now();
    multisig::prepare(&opts).map_err(malformed)?;
    let setup_ms = t.elapsed().as_secs_f64() * 1e3;
    let pb = spinner(&format!("proving {} signatures", a.signatures));
    let mut run_secs = Vec::with_capacity(a.runs as usize);
    let mut proof: Option<multisig::AggregateProof> = None;
    for _ in 0..a.runs {
        // The previous proof is dropped first, so the peak RSS is that of one proof.
        drop(proof.take());
        let t = Instant::now();
        let p = agg.prove(&opts).map_err(malformed)?;
        run_secs.push(t.elapsed().as_secs_f64());
        proof = Some(p);
    }
    let proof = proof.expect("runs >= 1");
    pb.finish_and_clear();
    let mut sorted = run_secs.clone();
    let prove_secs = median(&mut sorted);
    let runs_json = run_secs
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect::<Vec<_>>()
        .join(",");

    let keys = agg.public_keys();
    let t = Instant::now();
    verify_aggregate(
        proof.as_bytes(),
        &keys,
        &message,
        a.epoch,
        &VerifyOptions::default(),
    )
    .map_err(verify_error)?;
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    let rss_mib = peak_rss_kib().map(|k| k as f64 / 1024.0);
    let preset = Preset::from_options(&opts).map_err(Failure::Malformed)?;
    let security =
        preset_security_bits(&preset, preset.regime(), keys.len()).map_err(Failure::Malformed)?;
    let bound_kib =
        proof_size_bound(&preset, keys.len()).map_err(Failure::Malformed)? as f64 / 1024.0;
    let proof_kib = proof.as_bytes().len() as f64 / 1024.0;
    let regime = match opts.regime {
        Regime::Proven => "proven",
        Regime::Conjectured => "conjectured",
    };
    let backend = match opts.backend {
        Backend::Fri => "fri",
        Backend::Whir => "whir",
        Backend::FriPoseidon1 => "fri-poseidon1",
    };
    let log_inv_rate = preset.log_inv_rate();
    // What verifying this proof as a child would put in a parent's permutation table (only
    // proofs over Poseidon1 can be children).
    let child =
        recursion::child_verification_trace(proof.as_bytes(), &keys, &message, a.epoch).ok();
    let child_json = child.as_ref().map_or("null".into(), |t| {
        let uses = recursion::PERM_USES
            .iter()
            .map(|&u| format!("\"{}\":{}", u.name().replace(' ', "_"), t.count(u)))
            .collect::<Vec<_>>()
            .join(",");
        format!("{{\"total\":{},{uses}}}", t.len())
    });
    if a.json {
        println!(
            "{{\"signatures\":{},\"backend\":\"{backend}\",\"regime\":\"{regime}\",\"log_inv_rate\":{},\"security_bits\":{security:.1},\"signer_gen_s\":{gen_secs:.3},\"setup_ms\":{setup_ms:.1},\"runs\":{},\"prove_s\":{prove_secs:.4},\"prove_runs_s\":[{runs_json}],\"xmss_per_s\":{:.1},\"proof_kib\":{proof_kib:.1},\"proof_bound_kib\":{bound_kib:.1},\"verify_ms\":{verify_ms:.2},\"peak_rss_mib\":{},\"child_verify_perms\":{child_json}}}",
            a.signatures,
            log_inv_rate,
            a.runs,
            a.signatures as f64 / prove_secs,
            rss_mib.map_or("null".into(), |m| format!("{m:.1}"))
        );
    } else {
        println!("signatures:    {}", a.signatures);
        println!("preset:        {backend}, {regime}, log_inv_rate {log_inv_rate}");
        println!("security:      {security:.1} bits ({regime} regime, this statement's shape)");
        println!("signer gen:    {gen_secs:.2} s (benchmark keys, not production keygen)");
        println!("setup:         {setup_ms:.1} ms (once per process, before the first proof)");
        if a.runs == 1 {
            println!("prove:         {prove_secs:.3} s");
        } else {
            println!(
                "prove:         {prove_secs:.3} s (median of {}: {:.3} to {:.3} s)",
                a.runs,
                sorted[0],
                sorted[sorted.len() - 1]
            );
        }
        println!(
            "throughput:    {:.1} XMSS/s",
            a.signatures as f64 / prove_secs
        );
        println!(
            "proof:         {proof_kib:.1} KiB (at most {bound_kib:.1} KiB for this statement)"
        );
        if let Ok(parts) =
            multisig::aggregate::proof_components(proof.as_bytes(), &keys, &message, a.epoch)
        {
            for (what, bytes) in parts {
                println!("  {:>8.1} KiB  {what}", bytes as f64 / 1024.0);
            }
        }
        println!("verify:        {verify_ms:.1} ms");
        if let Some(t) = &child {
            let uses = recursion::PERM_USES
                .iter()
                .map(|&u| format!("{} {}", u.name(), t.count(u)))
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "as a child:    {} width-24 permutations to verify it ({uses})",
                t.len()
            );
            let (ops, observed) = t.transcript_ops();
            let shape = recursion::duplex::TranscriptShape::new(&ops);
            println!(
                "               transcript: {} duplexings, {} elements observed, {} sampled",
                shape.duplexings().len(),
                observed.len(),
                shape.len() - observed.len()
            );
        }
        match rss_mib {
            Some(m) => println!("peak RSS:      {m:.1} MiB"),
            None => println!("peak RSS:      n/a"),
        }
    }
    Ok(())
}

/// The JSON fragments of a parent benchmark's timed runs (`[...]` contents, seconds) and of its
/// proof's components (`{...}` contents, bytes).
fn runs_and_parts_json(run_secs: &[f64], parts: &[(&str, usize)]) -> (String, String) {
    let runs = run_secs.iter().map(|s| format!("{s:.4}"));
    let parts = parts
        .iter()
        .map(|(w, b)| format!("\"{}\":{b}", w.replace(' ', "_")));
    (
        runs.collect::<Vec<_>>().join(","),
        parts.collect::<Vec<_>>().join(","),
    )
}

/// The median of `values`, the upper of the two middle values for an even count, after sorting
/// `values` in place (`f64::total_cmp`, so a NaN sorts last instead of panicking). Every
/// `bench` figure called a median is this one.
///
/// # Panics
/// If `values` is empty (every caller times at least one run).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints a parent's proving time: the median of the sorted `runs` (seconds), with the range
/// when there is more than one.
fn print_parent_runs(sorted: &[f64]) {
    let median = sorted[sorted.len() / 2];
    if sorted.len() == 1 {
        println!("prove parent:  {median:.3} s");
    } else {
        println!(
            "prove parent:  {median:.3} s (median of {}: {:.3} to {:.3} s)",
            sorted.len(),
            sorted[0],
            sorted[sorted.len() - 1]
        );
    }
}

/// What `bench_parent` made before timing a parent: the statement's message, the signers'
/// generation time, and each child's proving time and size.
struct Made {
    message: [u8; 32],
    gen_secs: f64,
    child_secs: f64,
    child_kib: f64,
    /// The children's options (their preset).
    child_opts: ProveOptions,
}

/// Verifications after the first that `bench --parent whir` times (their median is printed).
const WARM_VERIFIES: usize = 5;

/// Fresh processes `bench --components` and `bench --children` verify in (the median is
/// printed).
const FRESH_VERIFIES: usize = 3;

/// A signers file naming `keys` on `message` at `epoch` (no signatures): what `verify-type2`
/// and `verify-aggregate` read.
fn keys_file(message: &[u8; 32], epoch: u32, keys: &[PublicKey]) -> SignersFile {
    SignersFile {
        epoch,
        message: format!("0x{}", hex::encode(message)),
        signers: keys
            .iter()
            .map(|k| SignerEntry {
                public_key: format!("0x{}", hex::encode(k.to_ssz())),
                signature_ssz: None,
            })
            .collect(),
    }
}

/// The median over [`FRESH_VERIFIES`] new processes of this binary's `command` (`verify-type2`
/// or `verify-aggregate`) on `proof`, each of `files` given after its flag (written with the
/// proof to a scratch directory, removed afterwards): the time the subcommand prints, which is
/// the library call alone, in a process that has derived and kept nothing yet (a client's first
/// verification after a start, `multisig::prepare` not called).
///
/// # Errors
/// [`Failure::Malformed`] when the scratch files cannot be written, the process cannot run, or
/// it fails or prints no time.
fn fresh_process_verify_ms(
    command: &str,
    proof: &[u8],
    files: &[(&str, SignersFile)],
) -> Result<f64, Failure> {
    let io = |e: std::io::Error| Failure::Malformed(format!("fresh-process verification: {e}"));
    let dir = std::env::temp_dir().join(format!("multisig-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let run = || -> Result<Vec<f64>, Failure> {
        let proof_path = dir.join("verified.proof");
        std::fs::write(&proof_path, proof).map_err(io)?;
        let mut args = vec![
            command.into(),
            "--proof".into(),
            proof_path.into_os_string(),
        ];
        for (i, (flag, file)) in files.iter().enumerate() {
            let path = dir.join(format!("keys{i}.json"));
            let json = serde_json::to_vec(file)
                .map_err(|e| Failure::Malformed(format!("keys file {i}: {e}")))?;
            std::fs::write(&path, json).map_err(io)?;
            args.push(flag.into());
            args.push(path.into_os_string());
        }
        let exe = std::env::current_exe().map_err(io)?;
        (0..FRESH_VERIFIES)
            .map(|_| {
                let out = std::process::Command::new(&exe)
                    .args(&args)
                    .env_remove("MULTISIG_PROFILE")
                    .output()
                    .map_err(io)?;
                let stdout = String::from_utf8_lossy(&out.stdout);
                let ms = stdout
                    .split("verified in ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|v| v.parse::<f64>().ok());
                match (out.status.success(), ms) {
                    (true, Some(ms)) => Ok(ms),
                    _ => Err(Failure::Malformed(format!(
                        "fresh-process {command} failed: {} {}",
                        stdout.trim(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))),
                }
            })
            .collect()
    };
    let result = run();
    let _ = std::fs::remove_dir_all(&dir);
    let mut runs = result?;
    Ok(median(&mut runs))
}

/// `multisig bench --children K --child-signatures N --parent whir`: one compact parent over the
/// children `refs`, timed `--runs` times; verified from its bytes as a client verifies it.
fn bench_compact_parent(
    a: &BenchArgs,
    sizes: &[usize],
    refs: &[(&[u8], &[PublicKey])],
    m: &Made,
) -> CmdResult {
    use multisig::aggregate::{Preset, WIRE_CAP_BYTES};
    use recursion::parent::prove_compact_parent;
    let k = a.children;
    let n: usize = sizes.iter().sum();
    let whir_at = |log_inv_rate: u8| {
        let opts = ProveOptions {
            backend: Backend::Whir,
            log_inv_rate,
            ..ProveOptions::default()
        };
        match Preset::from_options(&opts) {
            Ok(Preset::Whir(whir)) => Ok(whir),
            _ => Err(Failure::Malformed(format!(
                "no WHIR preset at log_inv_rate {log_inv_rate}"
            ))),
        }
    };
    let whir = match a.parent_log_inv_rate {
        Some(r) => whir_at(r)?,
        None => {
            // The faster rate when its worst case for this shape fits the wire cap.
            let child = Preset::from_options(&m.child_opts)
                .ok()
                .and_then(|p| recursion::check_child_preset(&p).ok().copied())
                .ok_or_else(|| Failure::Malformed("the children's preset".into()))?;
            let half = whir_at(1)?;
            let fits = recursion::parent::compact_parent_size_bound(&child, &half, sizes, n)
                .is_ok_and(|b| b <= WIRE_CAP_BYTES);
            if fits {
                half
            } else {
                whir_at(2)?
            }
        }
    };
    // The whole process's peak is the children's proving; the merge's is read from here on
    // (Linux: 5 resets VmHWM).
    let process_rss_mib = peak_rss_kib().map(|k| k as f64 / 1024.0);
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let pb = spinner(&format!("proving a compact parent over {k} children"));
    let mut run_secs = Vec::with_capacity(a.runs as usize);
    let mut last = None;
    for _ in 0..a.runs {
        drop(last.take());
        let t = Instant::now();
        let p = prove_compact_parent(&m.message, a.epoch, refs, &whir).map_err(malformed)?;
        run_secs.push(t.elapsed().as_secs_f64());
        last = Some(p);
    }
    let (proof, keys, security) = last.expect("runs >= 1");
    pb.finish_and_clear();
    let merge_rss_mib = peak_rss_kib().map(|k| k as f64 / 1024.0);
    let mut sorted = run_secs.clone();
    let prove_secs = median(&mut sorted);
    let bytes = proof.to_bytes();
    // The first verification derives the parent's AIRs and batch for this statement shape; the
    // process keeps them, so the ones after it (a client's second look at an aggregate, or
    // another aggregate of the same shape) skip that.
    let verify_once = || -> Result<f64, Failure> {
        let t = Instant::now();
        multisig::aggregate::verify_aggregate(
            &bytes,
            &keys,
            &m.message,
            a.epoch,
            &Default::default(),
        )
        .map_err(verify_error)?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    multisig::aggregate::recursion::parent::forget_child_shapes();
    multisig::aggregate::recursion::child::forget_ood_layouts();
    let verify_ms = verify_once()?;
    let mut warm = (0..WARM_VERIFIES)
        .map(|_| verify_once())
        .collect::<Result<Vec<f64>, Failure>>()?;
    let verify_warm_ms = median(&mut warm);
    let verify_fresh_ms = fresh_process_verify_ms(
        "verify-aggregate",
        &bytes,
        &[("--input", keys_file(&m.message, a.epoch, &keys))],
    )?;
    let rss_mib = match (process_rss_mib, peak_rss_kib()) {
        (Some(before), Some(after)) => Some(before.max(after as f64 / 1024.0)),
        (before, after) => before.or(after.map(|k| k as f64 / 1024.0)),
    };
    let proof_kib = bytes.len() as f64 / 1024.0;
    let parts = proof.component_sizes();
    if a.json {
        let (runs_json, parts_json) = runs_and_parts_json(&run_secs, &parts);
        println!(
            "{{\"children\":{k},\"child_signatures\":[{}],\"signatures\":{},\"backend\":\"fri-poseidon1\",\"parent\":\"whir\",\"parent_log_inv_rate\":{},\"security_bits\":{security:.2},\"child_prove_s\":{:.3},\"child_kib\":{:.1},\"runs\":{},\"prove_s\":{prove_secs:.4},\"prove_runs_s\":[{runs_json}],\"proof_bytes\":{},\"proof_kib\":{proof_kib:.1},\"components\":{{{parts_json}}},\"verify_ms\":{verify_ms:.2},\"verify_warm_ms\":{verify_warm_ms:.2},\"verify_fresh_process_ms\":{verify_fresh_ms:.2},\"peak_rss_mib\":{},\"merge_peak_rss_mib\":{}}}",
            sizes_json(sizes),
            keys.len(),
            whir.log_inv_rate,
            m.child_secs,
            m.child_kib,
            a.runs,
            bytes.len(),
            rss_mib.map_or("null".into(), |m| format!("{m:.1}")),
            merge_rss_mib.map_or("null".into(), |m| format!("{m:.1}"))
        );
        return Ok(());
    }
    println!(
        "children:      {k} of {} signatures ({} distinct keys), fri-poseidon1",
        sizes_text(sizes),
        keys.len()
    );
    println!(
        "parent:        compact (multilinear STARK over WHIR, unique decoding, log_inv_rate {})",
        whir.log_inv_rate
    );
    println!("security:      {security:.2} bits (proven regime, this parent's shape)");
    println!(
        "signer gen:    {:.2} s (benchmark keys, not production keygen)",
        m.gen_secs
    );
    println!(
        "each child:    {:.3} s to prove, {:.1} KiB (untimed below)",
        m.child_secs, m.child_kib
    );
    print_parent_runs(&sorted);
    println!("proof:         {proof_kib:.1} KiB (the wire cap is 512 KiB)");
    for (what, bytes) in parts {
        println!("  {:>8.1} KiB  {what}", bytes as f64 / 1024.0);
    }
    println!(
        "verify:        {verify_fresh_ms:.1} ms in a fresh process (`multisig verify-aggregate`, \
         median of {FRESH_VERIFIES}); in this process {verify_ms:.1} ms first (from the bytes, as \
         verify_aggregate runs), {verify_warm_ms:.1} ms again (median of {WARM_VERIFIES}; the \
         shape's key kept, as for any statement of this shape)"
    );
    match merge_rss_mib {
        Some(m) => println!("merge RSS:     {m:.1} MiB peak while the parent was proved"),
        None => println!("merge RSS:     n/a"),
    }
    match rss_mib {
        Some(m) => println!(
            "peak RSS:      {m:.1} MiB (the whole process, the children's proving included)"
        ),
        None => println!("peak RSS:      n/a"),
    }
    Ok(())
}

/// Each child's number of signers under `--children K --child-signatures ...`: one number for
/// all K children, or K numbers (each at least 1).
fn child_sizes(a: &BenchArgs) -> Result<Vec<usize>, Failure> {
    let sizes = match a.child_signatures.as_slice() {
        [n] => vec![*n; a.children],
        s if s.len() == a.children => s.to_vec(),
        s => {
            return Err(Failure::Malformed(format!(
                "--child-signatures: one number or one per child ({} for {} children)",
                s.len(),
                a.children
            )))
        }
    };
    if sizes.contains(&0) {
        return Err(Failure::Malformed("--child-signatures at least 1".into()));
    }
    Ok(sizes)
}

/// The children's sizes for the text report: `N` when all are equal, else `N1, N2, ...`.
fn sizes_text(sizes: &[usize]) -> String {
    if sizes.windows(2).all(|w| w[0] == w[1]) {
        sizes.first().map_or_else(String::new, usize::to_string)
    } else {
        sizes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The children's sizes as a JSON array's elements.
fn sizes_json(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `multisig bench --children K --child-signatures N[,N2,...]`: K children of N signers each
/// (or of the listed sizes), then one parent over them, timed.
fn bench_parent(a: &BenchArgs) -> CmdResult {
    use recursion::parent::{
        parent_columns, parent_security_bits, prove_parent, verify_parent, MAX_CHILDREN,
    };
    let k = a.children;
    if k > MAX_CHILDREN {
        return Err(Failure::Malformed(format!("--children 1..={MAX_CHILDREN}")));
    }
    let sizes = child_sizes(a)?;
    let n: usize = sizes.iter().sum();
    let message: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(3));
    let pb = spinner(&format!("making {n} benchmark signers"));
    let t = Instant::now();
    let seed = *b"multisig bench signers, seed v1\0";
    let signers =
        xmss::bench_keys::generate_bench_signers(n, a.epoch, &message, seed).map_err(malformed)?;
    let gen_secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();

    let opts = ProveOptions {
        backend: Backend::FriPoseidon1,
        ..a.preset.options()
    };
    multisig::prepare(&opts).map_err(malformed)?;
    let pb = spinner(&format!(
        "proving {k} children of {} signatures",
        sizes_text(&sizes)
    ));
    let t = Instant::now();
    let mut children = Vec::with_capacity(k);
    let mut rest = signers.as_slice();
    for &size in &sizes {
        let (group, after) = rest.split_at(size);
        rest = after;
        let mut agg = Aggregator::new(message, a.epoch);
        for s in group {
            agg.add(s.public_key, s.signature.clone())
                .map_err(|e| Failure::Invalid(e.to_string()))?;
        }
        let proof = agg.prove(&opts).map_err(malformed)?;
        children.push((proof.as_bytes().to_vec(), agg.public_keys()));
    }
    let child_secs = t.elapsed().as_secs_f64() / k as f64;
    let child_kib = children[0].0.len() as f64 / 1024.0;
    pb.finish_and_clear();

    let refs: Vec<(&[u8], &[PublicKey])> = children
        .iter()
        .map(|(p, keys)| (p.as_slice(), keys.as_slice()))
        .collect();
    if a.parent == ParentArg::Whir {
        let made = Made {
            message,
            gen_secs,
            child_secs,
            child_kib,
            child_opts: opts,
        };
        return bench_compact_parent(a, &sizes, &refs, &made);
    }
    let pb = spinner(&format!("proving a parent over {k} children"));
    let mut run_secs = Vec::with_capacity(a.runs as usize);
    let mut last = None;
    for _ in 0..a.runs {
        drop(last.take());
        let t = Instant::now();
        let p = prove_parent(&message, a.epoch, &refs).map_err(malformed)?;
        run_secs.push(t.elapsed().as_secs_f64());
        last = Some(p);
    }
    let (proof, keys) = last.expect("runs >= 1");
    pb.finish_and_clear();
    let mut sorted = run_secs.clone();
    let prove_secs = median(&mut sorted);
    multisig::aggregate::recursion::parent::forget_child_shapes();
    let t = Instant::now();
    verify_parent(&proof, &message, a.epoch, &keys).map_err(verify_error)?;
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    let rss_mib = peak_rss_kib().map(|k| k as f64 / 1024.0);
    let security = parent_security_bits(
        &proof.child_preset,
        Regime::Proven,
        &proof.child_keys,
        keys.len(),
    )
    .map_err(Failure::Malformed)?
    .total_bits;
    let proof_bytes = proof.to_bytes().len();
    let proof_kib = proof_bytes as f64 / 1024.0;
    let parts = proof.component_sizes();
    let columns = parent_columns(&proof.child_preset, &proof.child_keys, keys.len())
        .map_err(Failure::Malformed)?;
    let committed = |c: &recursion::parent::AirColumns| c.main + c.permutation + c.quotient;
    if a.json {
        let columns_json = columns
            .iter()
            .map(|c| format!("\"{}\":{}", c.name, committed(c)))
            .collect::<Vec<_>>()
            .join(",");
        let (runs_json, parts_json) = runs_and_parts_json(&run_secs, &parts);
        println!(
            "{{\"children\":{k},\"child_signatures\":[{}],\"signatures\":{},\"backend\":\"fri-poseidon1\",\"log_inv_rate\":{},\"security_bits\":{security:.1},\"child_prove_s\":{child_secs:.3},\"child_kib\":{child_kib:.1},\"runs\":{},\"prove_s\":{prove_secs:.4},\"prove_runs_s\":[{runs_json}],\"proof_bytes\":{proof_bytes},\"proof_kib\":{proof_kib:.1},\"components\":{{{parts_json}}},\"columns\":{{{columns_json}}},\"verify_ms\":{verify_ms:.2},\"peak_rss_mib\":{}}}",
            sizes_json(&sizes),
            keys.len(),
            proof.child_preset.log_inv_rate,
            a.runs,
            rss_mib.map_or("null".into(), |m| format!("{m:.1}"))
        );
    } else {
        println!(
            "children:      {k} of {} signatures ({} distinct keys)",
            sizes_text(&sizes),
            keys.len()
        );
        println!(
            "preset:        fri-poseidon1, proven, log_inv_rate {}",
            proof.child_preset.log_inv_rate
        );
        println!("security:      {security:.1} bits (proven regime, this parent's shape)");
        println!("signer gen:    {gen_secs:.2} s (benchmark keys, not production keygen)");
        println!("each child:    {child_secs:.3} s to prove, {child_kib:.1} KiB (untimed below)");
        print_parent_runs(&sorted);
        println!("proof:         {proof_kib:.1} KiB (the wire cap is 512 KiB)");
        for (what, bytes) in parts {
            println!("  {:>8.1} KiB  {what}", bytes as f64 / 1024.0);
        }
        println!(
            "columns:       {} committed (main + LogUp + quotient, base elements per query)",
            columns.iter().map(committed).sum::<usize>()
        );
        for c in &columns {
            println!(
                "  {:>5} = {:>4} + {:>3} + {:>2}  {} (2^{} rows)",
                committed(c),
                c.main,
                c.permutation,
                c.quotient,
                c.name,
                c.log_height
            );
        }
        println!("verify:        {verify_ms:.1} ms");
        match rss_mib {
            Some(m) => println!("peak RSS:      {m:.1} MiB"),
            None => println!("peak RSS:      n/a"),
        }
    }
    Ok(())
}

/// `multisig bench --components K --component-signatures N[,N2,...]`: K Type-1 proofs on K
/// messages (each one's proving time measured), then one Type-2 merge of them, timed; verified
/// from its bytes, first with every shape derived, then again.
fn bench_type2(a: &BenchArgs) -> CmdResult {
    use recursion::type2::{
        prove_type2, type2_size_bound, verify_type2_bytes, Component, MAX_COMPONENTS,
    };
    let k = a.components;
    if k > MAX_COMPONENTS {
        return Err(Failure::Malformed(format!(
            "--components 1..={MAX_COMPONENTS}"
        )));
    }
    let sizes = match a.component_signatures.as_slice() {
        [n] => vec![*n; k],
        s if s.len() == k => s.to_vec(),
        s => {
            return Err(Failure::Malformed(format!(
                "--component-signatures: one number or one per component ({} for {k})",
                s.len()
            )))
        }
    };
    if sizes.contains(&0) {
        return Err(Failure::Malformed(
            "--component-signatures at least 1".into(),
        ));
    }
    let opts = ProveOptions {
        backend: Backend::FriPoseidon1,
        ..a.preset.options()
    };
    multisig::prepare(&opts).map_err(malformed)?;
    let mut made = Vec::with_capacity(k);
    let mut type1_secs = Vec::with_capacity(k);
    let pb = spinner(&format!(
        "making and proving {k} Type-1 proofs of {} signatures",
        sizes_text(&sizes)
    ));
    for (c, &n) in sizes.iter().enumerate() {
        let message: [u8; 32] =
            std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(3 + c as u8));
        let mut seed = *b"multisig bench signers, seed v1\0";
        seed[30] = c as u8;
        let signers = xmss::bench_keys::generate_bench_signers(n, a.epoch, &message, seed)
            .map_err(malformed)?;
        let mut agg = Aggregator::new(message, a.epoch);
        for s in signers {
            agg.add(s.public_key, s.signature)
                .map_err(|e| Failure::Invalid(e.to_string()))?;
        }
        let t = Instant::now();
        let proof = agg.prove(&opts).map_err(malformed)?;
        type1_secs.push(t.elapsed().as_secs_f64());
        made.push((message, proof.as_bytes().to_vec(), agg.public_keys()));
    }
    pb.finish_and_clear();
    let type1_total: f64 = type1_secs.iter().sum();
    let components: Vec<(&[u8], Component<'_>)> = made
        .iter()
        .map(|(message, proof, keys)| {
            (
                proof.as_slice(),
                Component {
                    message: *message,
                    epoch: a.epoch,
                    keys,
                },
            )
        })
        .collect();
    let whir = Preset::from_options(&ProveOptions {
        backend: Backend::Whir,
        log_inv_rate: 2,
        ..ProveOptions::default()
    })
    .ok()
    .and_then(|p| p.as_whir())
    .ok_or_else(|| Failure::Malformed("no WHIR preset at rate 1/4".into()))?;
    // The peak RSS from here on is the merge's (Linux: 5 resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let pb = spinner(&format!("merging {k} components"));
    let mut run_secs = Vec::with_capacity(a.runs as usize);
    let mut last = None;
    for _ in 0..a.runs {
        drop(last.take());
        let t = Instant::now();
        let p = prove_type2(&components, &whir, opts.byte_limit()).map_err(malformed)?;
        run_secs.push(t.elapsed().as_secs_f64());
        last = Some(p);
    }
    let (proof, security) = last.expect("runs >= 1");
    pb.finish_and_clear();
    let rss_mib = peak_rss_kib().map(|k| k as f64 / 1024.0);
    let mut sorted = run_secs.clone();
    let prove_secs = median(&mut sorted);
    let bytes = proof.to_bytes();
    let parts = proof.component_sizes();
    let (worst, _) =
        type2_size_bound(&proof.child_preset, &whir, &sizes).map_err(Failure::Malformed)?;
    let named: Vec<Component<'_>> = components.iter().map(|(_, c)| *c).collect();
    let verify_once = || -> Result<f64, Failure> {
        let t = Instant::now();
        verify_type2_bytes(&bytes, &named, &VerifyOptions::default()).map_err(verify_error)?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    // First as a verifier that has never seen the structure (the components' trace heights
    // and carries); then as one that has. A verifier keeps nothing keyed by a statement (message,
    // epoch, keys), so verifying this proof again costs what a new block of the same structure
    // does.
    multisig::aggregate::recursion::parent::forget_child_shapes();
    multisig::aggregate::recursion::child::forget_ood_layouts();
    multisig::aggregate::recursion::type2::forget_type2_keys();
    let verify_ms = verify_once()?;
    // Then as one that has seen the components' trace heights and carries, each in some other
    // block (their child shapes kept), but not this structure: the usual first sight of a
    // block in a running client, whose components' sizes fall in a dozen bands.
    let mut new_structure = (0..WARM_VERIFIES)
        .map(|_| {
            multisig::aggregate::recursion::type2::forget_type2_keys();
            verify_once()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let verify_new_structure_ms = median(&mut new_structure);
    let mut warm = (0..WARM_VERIFIES)
        .map(|_| verify_once())
        .collect::<Result<Vec<_>, _>>()?;
    let verify_warm_ms = median(&mut warm);
    let files: Vec<(&str, SignersFile)> = named
        .iter()
        .map(|c| ("--component-keys", keys_file(&c.message, c.epoch, c.keys)))
        .collect();
    let verify_fresh_ms = fresh_process_verify_ms("verify-type2", &bytes, &files)?;
    // Split the first component out (its Type-2 verified first, the structure now seen), then
    // verify the split as a Type-1 proof of that component: medians.
    let limit = ProveOptions::default().byte_limit();
    let mut split = Vec::new();
    let mut split_runs = (0..WARM_VERIFIES)
        .map(|_| {
            let t = Instant::now();
            split =
                recursion::type2::split_type2(&bytes, &named, 0, &VerifyOptions::default(), limit)
                    .map_err(malformed)?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let split_ms = median(&mut split_runs);
    let own = named[0];
    let mut split_verify = (0..WARM_VERIFIES)
        .map(|_| {
            let t = Instant::now();
            verify_aggregate(
                &split,
                own.keys,
                &own.message,
                own.epoch,
                &VerifyOptions::default(),
            )
            .map_err(verify_error)?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let split_verify_ms = median(&mut split_verify);
    let proof_kib = bytes.len() as f64 / 1024.0;
    if a.json {
        let (runs_json, parts_json) = runs_and_parts_json(&run_secs, &parts);
        let type1_json = type1_secs
            .iter()
            .map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>()
            .join(",");
        println!(
            "{{\"components\":{k},\"component_signatures\":[{}],\"backend\":\"fri-poseidon1\",\"type2\":\"whir\",\"type2_log_inv_rate\":2,\"security_bits\":{security:.2},\"type1_prove_s\":[{type1_json}],\"type1_prove_total_s\":{type1_total:.3},\"runs\":{},\"prove_s\":{prove_secs:.4},\"prove_runs_s\":[{runs_json}],\"proof_bytes\":{},\"worst_case_bytes\":{worst},\"proof_kib\":{proof_kib:.1},\"parts\":{{{parts_json}}},\"verify_ms\":{verify_ms:.2},\"verify_new_structure_ms\":{verify_new_structure_ms:.2},\"verify_warm_ms\":{verify_warm_ms:.2},\"verify_fresh_process_ms\":{verify_fresh_ms:.2},\"split_ms\":{split_ms:.2},\"split_bytes\":{},\"split_verify_ms\":{split_verify_ms:.2},\"merge_peak_rss_mib\":{}}}",
            sizes_json(&sizes),
            a.runs,
            bytes.len(),
            split.len(),
            rss_mib.map_or("null".into(), |m| format!("{m:.1}"))
        );
        return Ok(());
    }
    println!(
        "components:    {k} Type-1 proofs of {} signatures, one message each, epoch {}",
        sizes_text(&sizes),
        a.epoch
    );
    println!("security:      {security:.2} bits (proven regime, this Type-2's shape)");
    println!(
        "Type-1 proofs: {type1_total:.3} s in all (fri-poseidon1, untimed below), {:.3} s the largest",
        type1_secs.iter().copied().fold(0.0, f64::max)
    );
    if sorted.len() == 1 {
        println!("merge:         {prove_secs:.3} s (WHIR rate 1/4)");
    } else {
        println!(
            "merge:         {prove_secs:.3} s (median of {}: {:.3} to {:.3} s; WHIR rate 1/4)",
            sorted.len(),
            sorted[0],
            sorted[sorted.len() - 1]
        );
    }
    println!(
        "proof:         {proof_kib:.1} KiB, worst case {worst} bytes (the wire cap is 512 KiB)"
    );
    for (what, bytes) in parts {
        println!("  {:>8.1} KiB  {what}", bytes as f64 / 1024.0);
    }
    println!(
        "verify:        {verify_fresh_ms:.1} ms in a fresh process (`multisig verify-type2`, median \
         of {FRESH_VERIFIES}); in this process {verify_ms:.1} ms first (every shape derived), \
         {verify_new_structure_ms:.1} ms for a new structure of seen component shapes, \
         {verify_warm_ms:.1} ms for a seen structure, any statement (medians of {WARM_VERIFIES})"
    );
    println!(
        "split:         {split_ms:.1} ms (component 0 of {} signatures, its Type-2 verified \
         first), {} bytes ({} more than the Type-2); verified as a Type-1 in {split_verify_ms:.1} \
         ms (medians of {WARM_VERIFIES})",
        own.keys.len(),
        split.len(),
        split.len() - bytes.len()
    );
    match rss_mib {
        Some(m) => println!("merge peak RSS: {m:.1} MiB"),
        None => println!("merge peak RSS: n/a"),
    }
    Ok(())
}

fn presets(a: PresetsArgs) -> CmdResult {
    println!(
        "Every preset: backend, regime, rate, the most signatures it takes, then per batch size N its \
         soundness (own regime; proven regime in brackets for conjectured presets) and the largest proof \
         it can produce. The default is {:?} (id {}); the verifier accepts by default only presets at \
         least {SECURITY_FLOOR_BITS} bits proven for the statement.",
        Preset::default_preset().options(),
        Preset::default_preset().id()
    );
    for p in PRESETS {
        let params = match p {
            Preset::Fri(f) => format!(
                "queries {}, grinding query/commit/batch/ood/lookup {}/{}/{}/{}/{}",
                f.num_queries,
                f.query_pow_bits,
                f.commit_pow_bits,
                f.batch_pow_bits,
                f.ood_pow_bits,
                f.lookup_pow_bits
            ),
            Preset::Whir(w) => format!(
                "folding {} then {}, rate step {}, terms of {} bits, grinding WHIR/zerocheck {}/{}",
                w.first_folding,
                w.folding,
                w.rate_step,
                w.term_bits,
                w.pow_bits,
                w.zerocheck_pow_bits
            ),
        };
        println!(
            "id {} {:?} {:?} rate 1/{}: at most {} signatures; {params}",
            p.id(),
            p.backend(),
            p.regime(),
            1u32 << p.log_inv_rate(),
            p.max_signatures()
        );
        let mut sizes: Vec<usize> = a
            .signatures
            .iter()
            .copied()
            .filter(|&n| n >= 1 && n <= p.max_signatures())
            .collect();
        if !sizes.contains(&p.max_signatures()) {
            sizes.push(p.max_signatures());
        }
        for n in sizes {
            let bits = preset_security_bits(&p, p.regime(), n).map_err(Failure::Malformed)?;
            let proven = match p.regime() {
                Regime::Conjectured => format!(
                    " [{:.2} proven]",
                    preset_security_bits(&p, Regime::Proven, n).map_err(Failure::Malformed)?
                ),
                Regime::Proven => String::new(),
            };
            let bound = proof_size_bound(&p, n).map_err(Failure::Malformed)?;
            println!(
                "    N = {n:>4}: {bits:.2} bits{proven}, proofs at most {:.1} KiB",
                bound as f64 / 1024.0
            );
        }
    }
    Ok(())
}
