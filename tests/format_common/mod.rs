//! A tiny two-instance AIR batch with a LogUp bus, used to exercise the STARK configuration and
//! the proof envelope end to end (prove, encode, decode, verify) without the XMSS AIRs.
//!
//! - [`TinyAir::Cube`] (height `n`, width 2, columns `x, y`): `x` counts `0, 1, .., n-1`,
//!   `y = x^3` (a degree-3 constraint, the maximum the aggregation AIRs use), the last `x` equals
//!   public value 0, and every row *sends* `(x, y)` on the bus `"cube"`.
//! - [`TinyAir::Pair`] (height `n/2`, width 4, columns `a, ya, b, yb`): `a` counts `0..n/2`,
//!   `b = a + half` with `half` public value 0, `ya = a^3`, `yb = b^3`, and every row *receives*
//!   `(a, ya)` and `(b, yb)`.
//!
//! The two multisets agree exactly when both traces are honest, so the batch's lookup terminals
//! sum to zero; the instances have different heights and widths, so every per-instance shape in
//! the proof differs between them.

#![allow(dead_code)]

use p3_air::{Air, AirBuilder, BaseAir, PermutationAirBuilder, WindowAccess};
use p3_batch_stark::{
    prove_batch, verify_batch, BatchProof, CommonData, ProverData, StarkInstance,
};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::InteractionBuilder;
use p3_matrix::dense::RowMajorMatrix;

use multisig::aggregate::field::Val;
use multisig::aggregate::fri::config::{fri_config, FriConfig, FriHash, Keccak, MultisigConfig};
use multisig::aggregate::{FriPreset, Preset};

/// Name of the bus between the two instances.
pub const BUS: &str = "cube";

/// The two AIRs of the tiny batch.
#[derive(Clone, Copy, Debug)]
pub enum TinyAir {
    /// Sender: `(x, x^3)` for `x` in `0..n`.
    Cube,
    /// Receiver: `(a, a^3)` and `(a + half, (a + half)^3)` for `a` in `0..half`.
    Pair,
}

impl<F> BaseAir<F> for TinyAir {
    fn width(&self) -> usize {
        match self {
            Self::Cube => 2,
            Self::Pair => 4,
        }
    }

    fn num_public_values(&self) -> usize {
        1
    }
}

impl<AB: PermutationAirBuilder + InteractionBuilder> Air<AB> for TinyAir {
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let local: Vec<AB::Var> = main.current_slice().to_vec();
        let next: Vec<AB::Var> = main.next_slice().to_vec();
        let pv: AB::Expr = builder.public_values()[0].into();
        let cube = |v: AB::Var| -> AB::Expr {
            let e: AB::Expr = v.into();
            e.clone() * e.clone() * e
        };
        match self {
            Self::Cube => {
                let (x, y) = (local[0], local[1]);
                builder.when_first_row().assert_zero(x);
                builder
                    .when_transition()
                    .assert_eq(next[0], x + AB::Expr::ONE);
                builder.assert_eq(y, cube(x));
                builder.when_last_row().assert_eq(x, pv);
                builder.push_interaction(BUS, [x, y], -1);
            }
            Self::Pair => {
                let (a, ya, b, yb) = (local[0], local[1], local[2], local[3]);
                builder.when_first_row().assert_zero(a);
                builder
                    .when_transition()
                    .assert_eq(next[0], a + AB::Expr::ONE);
                builder.assert_eq(b, a + pv);
                builder.assert_eq(ya, cube(a));
                builder.assert_eq(yb, cube(b));
                builder.push_interaction(BUS, [a, ya], 1);
                builder.push_interaction(BUS, [b, yb], 1);
            }
        }
    }
}

/// The FRI presets: the only ones the tiny batch's `p3-batch-stark` machinery takes (WHIR
/// presets are exercised through the public API and the WHIR envelope's tests).
#[allow(unused_imports)]
pub use multisig::aggregate::preset::fri_presets;

/// The default preset, which is a FRI preset.
pub fn default_fri() -> FriPreset {
    Preset::default_preset()
        .as_fri()
        .expect("the default preset is a FRI preset")
}

/// Honest traces and public values for a batch whose `Cube` instance has `2^log_n` rows.
pub fn tiny_batch(log_n: usize) -> (Vec<TinyAir>, Vec<RowMajorMatrix<Val>>, Vec<Vec<Val>>) {
    let n = 1u64 << log_n;
    let half = n / 2;
    let c = |v: u64| Val::from_u64(v).cube();
    let cube_rows: Vec<Val> = (0..n).flat_map(|x| [Val::from_u64(x), c(x)]).collect();
    let pair_rows: Vec<Val> = (0..half)
        .flat_map(|a| [Val::from_u64(a), c(a), Val::from_u64(a + half), c(a + half)])
        .collect();
    (
        vec![TinyAir::Cube, TinyAir::Pair],
        vec![
            RowMajorMatrix::new(cube_rows, 2),
            RowMajorMatrix::new(pair_rows, 4),
        ],
        vec![vec![Val::from_u64(n - 1)], vec![Val::from_u64(half)]],
    )
}

/// Everything a verifier of the tiny batch needs besides the proof.
pub struct TinyStatement<H: FriHash = Keccak> {
    pub airs: Vec<TinyAir>,
    pub public_values: Vec<Vec<Val>>,
    pub common: CommonData<FriConfig<H>>,
    pub log_n: usize,
}

/// [`prove_tiny`] on a one-thread rayon pool. Plonky3's proof-of-work search returns whichever
/// witness a worker finds first, so proof bytes are reproducible only when one thread proves.
pub fn prove_tiny_one_thread(
    preset: &FriPreset,
    log_n: usize,
) -> (BatchProof<MultisigConfig>, TinyStatement) {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread rayon pool")
        .install(|| prove_tiny(preset, log_n))
}

/// Proves the tiny batch under a Keccak `preset`.
pub fn prove_tiny(preset: &FriPreset, log_n: usize) -> (BatchProof<MultisigConfig>, TinyStatement) {
    prove_tiny_over::<Keccak>(preset, log_n)
}

/// Proves the tiny batch under `preset`, whose Merkle hash is `H`.
pub fn prove_tiny_over<H: FriHash>(
    preset: &FriPreset,
    log_n: usize,
) -> (BatchProof<FriConfig<H>>, TinyStatement<H>) {
    let config = fri_config::<H>(preset);
    let (airs, traces, public_values) = tiny_batch(log_n);
    let instances: Vec<StarkInstance<'_, FriConfig<H>, TinyAir>> = airs
        .iter()
        .zip(&traces)
        .zip(&public_values)
        .map(|((air, trace), pv)| StarkInstance {
            air,
            trace,
            public_values: pv.clone(),
        })
        .collect();
    let prover_data = ProverData::from_instances(&config, &instances).expect("prover data");
    let proof = prove_batch(&config, &instances, &prover_data).expect("tiny batch proves");
    let common = prover_data.common;
    (
        proof,
        TinyStatement {
            airs,
            public_values,
            common,
            log_n,
        },
    )
}

/// The verifier-side common data of the tiny batch (no preprocessed columns, the lookups the
/// AIRs declare), built without any trace.
pub fn tiny_common(preset: &FriPreset, log_n: usize) -> CommonData<MultisigConfig> {
    tiny_common_over::<Keccak>(preset, log_n)
}

/// [`tiny_common`] over hash `H`.
pub fn tiny_common_over<H: FriHash>(preset: &FriPreset, log_n: usize) -> CommonData<FriConfig<H>> {
    let config = fri_config::<H>(preset);
    let airs = [TinyAir::Cube, TinyAir::Pair];
    ProverData::from_airs_and_degrees(&config, &airs, &[log_n, log_n - 1])
        .expect("common data")
        .common
}

/// Verifies a tiny-batch proof under a Keccak `preset`.
pub fn verify_tiny(
    preset: &FriPreset,
    proof: &BatchProof<MultisigConfig>,
    st: &TinyStatement,
) -> Result<(), String> {
    verify_tiny_over::<Keccak>(preset, proof, st)
}

/// Verifies a tiny-batch proof under `preset`, whose Merkle hash is `H`.
pub fn verify_tiny_over<H: FriHash>(
    preset: &FriPreset,
    proof: &BatchProof<FriConfig<H>>,
    st: &TinyStatement<H>,
) -> Result<(), String> {
    let config = fri_config::<H>(preset);
    verify_batch(&config, &st.airs, proof, &st.public_values, &st.common)
        .map_err(|e| format!("{e:?}"))
}

/// The proof shape of the tiny batch, derived from its AIRs exactly as a verifier would.
pub fn tiny_shape(
    preset: &FriPreset,
    log_n: usize,
) -> multisig::aggregate::fri::security::ProofShape {
    let common = tiny_common(preset, log_n);
    multisig::aggregate::fri::security::ProofShape::from_airs(
        &[TinyAir::Cube, TinyAir::Pair],
        &common,
        &[log_n, log_n - 1],
    )
    .expect("tiny shape")
}

/// Decodes `bytes` against the tiny statement and, if that succeeds, verifies the proof.
/// `Ok(true)` means the bytes were accepted as a valid proof.
pub fn decode_and_verify(bytes: &[u8], log_n: usize) -> Result<(), String> {
    let shape = tiny_shape(&default_fri(), log_n);
    let (preset, proof) = multisig::aggregate::fri::envelope::decode::<Keccak>(bytes, &shape)
        .map_err(|e| e.to_string())?;
    let (airs, _, public_values) = tiny_batch(log_n);
    let st = TinyStatement {
        airs,
        public_values,
        common: tiny_common(&preset, log_n),
        log_n,
    };
    verify_tiny(&preset, &proof, &st)
}

/// Log height of the tiny statement the fuzz target checks proofs against.
pub const FUZZ_LOG_N: usize = 8;

/// The honest encoded proof of the fuzz statement under the default preset (the seed input).
///
/// Proved on one rayon thread, so the bytes are reproducible: the checked-in seed
/// `fuzz/corpus/decode_verify/honest-tiny-proof` must equal them, or [`fuzz_one`]'s soundness
/// oracle would see a second valid proof (another proof-of-work witness) as a forgery.
pub fn honest_fuzz_proof() -> Vec<u8> {
    let preset = default_fri();
    let (proof, _) = prove_tiny_one_thread(&preset, FUZZ_LOG_N);
    multisig::aggregate::fri::envelope::encode::<Keccak>(&preset, &proof)
}

/// One fuzz execution of the stable mutation harness and the regression replay
/// (`tests/format_fuzz.rs`): [`fuzz_tiny`], then [`fuzz_public_api`], on the same bytes.
pub fn fuzz_one(data: &[u8], honest: &[u8]) {
    fuzz_tiny(data, honest);
    fuzz_public_api(data);
}

/// Decodes `data` against the tiny statement and verifies it. Panics (a finding) if that panics,
/// or if bytes other than the honest proof are accepted as a valid tiny proof (soundness oracle:
/// the encoding is canonical and [`honest_fuzz_proof`] deterministic, so any other accepted input
/// is a forgery). The libFuzzer target (`fuzz/`) runs this stage alone: see `fuzz/README.md`.
pub fn fuzz_tiny(data: &[u8], honest: &[u8]) {
    if decode_and_verify(data, FUZZ_LOG_N).is_ok() {
        assert_eq!(data, honest, "bytes other than the honest proof verified");
    }
}

/// Hands `data` to the public `verify_aggregate` with a fixed one-signer statement, and to the
/// Type-2 verifier with the same statement as its one component; both must reject it without
/// panicking.
pub fn fuzz_public_api(data: &[u8]) {
    use multisig::aggregate::recursion::type2::{verify_type2_bytes, Component};
    let key = multisig::PublicKey::from_ssz(&[1u8; 52]).expect("fixed public key");
    let opts = multisig::VerifyOptions::default();
    let accepted = multisig::verify_aggregate(data, &[key], &[7u8; 32], 3, &opts).is_ok();
    assert!(
        !accepted,
        "verify_aggregate accepted fuzz input for a statement nobody signed"
    );
    let component = Component {
        message: [7u8; 32],
        epoch: 3,
        keys: &[key],
    };
    assert!(
        verify_type2_bytes(data, &[component], &opts).is_err(),
        "verify_type2_bytes accepted fuzz input for a statement nobody signed"
    );
}
