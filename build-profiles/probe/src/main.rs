//! Codegen probe: exercises the Plonky3 SIMD paths our prover relies on, so that a build profile
//! (opt-level, codegen-units, LTO, target CPU) can be checked for miscompiles and measured without
//! the rest of the library. See `CODEGEN.md` and `build-profiles/matrix.sh`.
//!
//! Subcommands (all deterministic; exit status 0 only if every check passed):
//!
//! - `check`: (1) the Poseidon1 permutation over KoalaBear, widths 16 and 24, computed on packed
//!   SIMD lanes (`<KoalaBear as Field>::Packing`, AVX2/AVX-512/NEON when the target CPU has them)
//!   must equal the same permutation computed one state at a time, on 4096 pseudo-random states per
//!   width; (2) a uni-stark proof of 2^13 Poseidon1 permutations (the vectorized Poseidon1 AIR,
//!   FRI over a Poseidon1 Merkle tree, 100 queries) must verify, and the same proof checked against
//!   an AIR with different round constants must be rejected.
//! - `bench [--seconds S]`: permutations per second for both widths, one state at a time (scalar)
//!   vs packed (with and without the transposition into lanes); and proving throughput (permutations proven per second) of the proof in `check`.
//!
//! Output is `key: value` lines so scripts can grep them.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use p3_challenger::DuplexChallenger;
use p3_commit::ExtensionMmcs;
use p3_dft::Radix2DitParallel;
use p3_field::extension::BinomialExtensionField;
use p3_field::{Field, PackedValue, PrimeCharacteristicRing, PrimeField32};
use p3_fri::{FriParameters, TwoAdicFriPcs};
use p3_koala_bear::{
    default_koalabear_poseidon1_16, default_koalabear_poseidon1_24, KoalaBear, MDSKoalaBearData,
    Poseidon1KoalaBear, KOALABEAR_POSEIDON1_RC_16, KOALABEAR_POSEIDON_HALF_FULL_ROUNDS,
    KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16, KOALABEAR_S_BOX_DEGREE,
};
use p3_merkle_tree::MerkleTreeMmcs;
use p3_monty_31::MDSUtils;
use p3_poseidon1::Poseidon1Constants;
use p3_poseidon1_air::VectorizedPoseidon1Air;
use p3_symmetric::{PaddingFreeSponge, Permutation, TruncatedPermutation};
use p3_uni_stark::StarkConfig;

type F = KoalaBear;
type P = <F as Field>::Packing;

/// Number of pseudo-random states per width in the packed-vs-scalar comparison.
const DIFFERENTIAL_STATES: usize = 4096;
/// log2 of the number of trace rows of the probe proof.
const LOG_ROWS: usize = 10;
/// Permutations per trace row of the probe proof (the AIR's `VECTOR_LEN`).
const PERMS_PER_ROW: usize = 8;
/// Permutations proven by the probe proof: 2^10 rows x 8 = 8192.
const PROOF_PERMS: usize = (1 << LOG_ROWS) * PERMS_PER_ROW;

// Merkle tree, challenger and STARK configuration of the probe proof: Poseidon1-16 sponge
// (rate 8, digest 8), 2-to-1 truncated-permutation compression, degree-4 extension.
type Perm16 = Poseidon1KoalaBear<16>;
type LeafHash = PaddingFreeSponge<Perm16, 16, 8, 8>;
type NodeCompress = TruncatedPermutation<Perm16, 2, 8, 16>;
type ValMmcs = MerkleTreeMmcs<P, P, LeafHash, NodeCompress, 2, 8>;
type Challenge = BinomialExtensionField<F, 4>;
type ChallengeMmcs = ExtensionMmcs<F, Challenge, ValMmcs>;
type Challenger = DuplexChallenger<F, Perm16, 16, 8>;
type Pcs = TwoAdicFriPcs<F, Radix2DitParallel<F>, ValMmcs, ChallengeMmcs>;
type ProbeConfig = StarkConfig<Pcs, Challenge, Challenger>;
type ProbeAir = VectorizedPoseidon1Air<
    F,
    16,
    KOALABEAR_S_BOX_DEGREE,
    0,
    KOALABEAR_POSEIDON_HALF_FULL_ROUNDS,
    KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16,
    PERMS_PER_ROW,
>;

/// SplitMix64: a tiny deterministic generator, so the probe needs no RNG crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A field element, reduced from 64 random bits (bias is irrelevant here).
    fn element(&mut self) -> F {
        F::from_u64(self.next_u64())
    }
    fn state<const W: usize>(&mut self) -> [F; W] {
        core::array::from_fn(|_| self.element())
    }
}

/// Permutes `states` one at a time (scalar KoalaBear arithmetic).
fn permute_scalar<const W: usize, Q: Permutation<[F; W]>>(perm: &Q, states: &mut [[F; W]]) {
    for s in states.iter_mut() {
        perm.permute_mut(s);
    }
}

/// Permutes `states` `P::WIDTH` at a time on packed SIMD lanes. `states.len()` must be a multiple
/// of `P::WIDTH`.
fn permute_packed<const W: usize, Q: Permutation<[P; W]>>(perm: &Q, states: &mut [[F; W]]) {
    for chunk in states.chunks_exact_mut(P::WIDTH) {
        let mut packed: [P; W] = core::array::from_fn(|col| P::from_fn(|lane| chunk[lane][col]));
        perm.permute_mut(&mut packed);
        for (lane, s) in chunk.iter_mut().enumerate() {
            for (col, x) in s.iter_mut().enumerate() {
                *x = packed[col].as_slice()[lane];
            }
        }
    }
}

/// `P::WIDTH` pseudo-random states in packed form.
fn pack_random<const W: usize>(rng: &mut SplitMix64) -> [P; W] {
    core::array::from_fn(|_| P::from_fn(|_| rng.element()))
}

/// Compares packed and scalar permutation outputs; returns the number of differing states.
fn differential<const W: usize, Q>(perm: &Q, seed: u64) -> usize
where
    Q: Permutation<[F; W]> + Permutation<[P; W]>,
{
    let mut rng = SplitMix64(seed);
    let inputs: Vec<[F; W]> = (0..DIFFERENTIAL_STATES).map(|_| rng.state()).collect();
    let mut scalar = inputs.clone();
    let mut packed = inputs.clone();
    permute_scalar(perm, &mut scalar);
    permute_packed(perm, &mut packed);
    let differing = scalar.iter().zip(&packed).filter(|(a, b)| a != b).count();
    // A permutation that returned its input (or zeros) would pass the comparison above.
    let unchanged = scalar.iter().zip(&inputs).filter(|(a, b)| a == b).count();
    differing + unchanged
}

fn probe_air(round_constants: Vec<[F; 16]>) -> ProbeAir {
    let raw = Poseidon1Constants {
        rounds_f: 2 * KOALABEAR_POSEIDON_HALF_FULL_ROUNDS,
        rounds_p: KOALABEAR_POSEIDON_PARTIAL_ROUNDS_16,
        mds_circ_col: MDSKoalaBearData::MATRIX_CIRC_MDS_16_COL,
        round_constants,
    };
    let (full, partial) = raw.to_optimized();
    ProbeAir::new(full, partial)
}

fn probe_config() -> ProbeConfig {
    let perm = default_koalabear_poseidon1_16();
    let val_mmcs = ValMmcs::new(LeafHash::new(perm.clone()), NodeCompress::new(perm.clone()), 0);
    let fri = FriParameters::new_benchmark(ChallengeMmcs::new(val_mmcs.clone()));
    let pcs = Pcs::new(Radix2DitParallel::default(), val_mmcs, fri);
    ProbeConfig::new(pcs, Challenger::new(perm))
}

/// Proves `PROOF_PERMS` permutations; returns (proof verifies, tampered AIR rejected, prove time).
fn prove_round_trip() -> (bool, bool, Timing) {
    let config = probe_config();
    let air = probe_air(KOALABEAR_POSEIDON1_RC_16.to_vec());
    let mut rng = SplitMix64(0x5eed_0003);
    let inputs: Vec<[F; 16]> = (0..PROOF_PERMS).map(|_| rng.state()).collect();
    let trace = air.generate_vectorized_trace_rows_from_inputs(inputs, 1);
    let (proof, elapsed) = measure(true, || p3_uni_stark::prove(&config, &air, trace, &[]));
    let proof = match proof {
        Ok(p) => p,
        Err(e) => {
            println!("prove_error: {e:?}");
            return (false, false, elapsed);
        }
    };
    let verifies = p3_uni_stark::verify(&config, &air, &proof, &[]).is_ok();
    // Same proof, AIR with one round constant changed: the constraints no longer hold.
    let mut rc = KOALABEAR_POSEIDON1_RC_16.to_vec();
    rc[0][0] += F::ONE;
    let rejects = p3_uni_stark::verify(&config, &probe_air(rc), &proof, &[]).is_err();
    (verifies, rejects, elapsed)
}

/// On-CPU time in nanoseconds (Linux `schedstat`): of the calling thread, or summed over every
/// thread of the process. CPU time, unlike wall time, barely moves when other processes compete
/// for the cores, which is the normal state of a shared build machine. `None` off Linux.
fn cpu_ns(whole_process: bool) -> Option<u64> {
    fn read(path: &std::path::Path) -> Option<u64> {
        std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
    }
    if !whole_process {
        return read(std::path::Path::new("/proc/thread-self/schedstat"));
    }
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        total += read(&task.ok()?.path().join("schedstat")).unwrap_or(0);
    }
    Some(total)
}

/// Wall-clock and CPU seconds of one measured interval.
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: Option<f64>,
}

fn measure<T>(whole_process: bool, f: impl FnOnce() -> T) -> (T, Timing) {
    let cpu0 = cpu_ns(whole_process);
    let start = Instant::now();
    let out = f();
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu_ns(whole_process)) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e9),
        _ => None,
    };
    (out, Timing { wall, cpu })
}

/// Runs `f` repeatedly for about `budget` of wall time (single-threaded); returns
/// (calls per wall second, calls per CPU second of this thread).
fn rate(budget: Duration, mut f: impl FnMut()) -> (f64, Option<f64>) {
    let (calls, t) = measure(false, || {
        let start = Instant::now();
        let mut calls = 0u64;
        while calls == 0 || start.elapsed() < budget {
            f();
            calls += 1;
        }
        calls as f64
    });
    (calls / t.wall, t.cpu.map(|c| calls / c))
}

fn fmt_rate(r: (f64, Option<f64>), n: f64) -> String {
    match r.1 {
        Some(cpu) => format!("{:.0} per CPU second ({:.0} per wall second)", n * cpu, n * r.0),
        None => format!("{:.0} per wall second", n * r.0),
    }
}

fn check() -> bool {
    let mut ok = true;
    let bad16 = differential::<16, _>(&default_koalabear_poseidon1_16(), 0x5eed_0001);
    let bad24 = differential::<24, _>(&default_koalabear_poseidon1_24(), 0x5eed_0002);
    println!("packed_lanes: {}", P::WIDTH);
    println!("poseidon1_16_packed_eq_scalar: {} ({bad16} of {DIFFERENTIAL_STATES} bad)", bad16 == 0);
    println!("poseidon1_24_packed_eq_scalar: {} ({bad24} of {DIFFERENTIAL_STATES} bad)", bad24 == 0);
    ok &= bad16 == 0 && bad24 == 0;
    let (verifies, rejects, elapsed) = prove_round_trip();
    println!("stark_proof_verifies: {verifies}");
    println!("stark_tampered_air_rejected: {rejects}");
    println!("stark_prove_wall_seconds: {:.3}", elapsed.wall);
    ok &= verifies && rejects;
    println!("check: {}", if ok { "pass" } else { "FAIL" });
    ok
}

fn bench(seconds: f64) {
    let budget = Duration::from_secs_f64(seconds);
    let mut rng = SplitMix64(7);
    let p16 = default_koalabear_poseidon1_16();
    let p24 = default_koalabear_poseidon1_24();
    let mut s16: Vec<[F; 16]> = (0..1024).map(|_| rng.state()).collect();
    let mut s24: Vec<[F; 24]> = (0..1024).map(|_| rng.state()).collect();
    // The same states kept in packed form (one `[P; W]` per `P::WIDTH` states), as the Merkle
    // tree's leaf hashing holds them: this isolates the SIMD arithmetic from the transposition.
    let mut v16: Vec<[P; 16]> = (0..1024 / P::WIDTH).map(|_| pack_random(&mut rng)).collect();
    let mut v24: Vec<[P; 24]> = (0..1024 / P::WIDTH).map(|_| pack_random(&mut rng)).collect();
    let n = s16.len() as f64;
    let r16s = rate(budget, || permute_scalar(&p16, &mut s16));
    let r16p = rate(budget, || permute_packed(&p16, &mut s16));
    let r16v = rate(budget, || v16.iter_mut().for_each(|s| p16.permute_mut(s)));
    let r24s = rate(budget, || permute_scalar(&p24, &mut s24));
    let r24p = rate(budget, || permute_packed(&p24, &mut s24));
    let r24v = rate(budget, || v24.iter_mut().for_each(|s| p24.permute_mut(s)));
    // Keep the results observable so the loops cannot be removed.
    let sink = s16[0][0].as_canonical_u32()
        ^ s24[0][0].as_canonical_u32()
        ^ v16[0][0].as_slice()[0].as_canonical_u32()
        ^ v24[0][0].as_slice()[0].as_canonical_u32();
    println!("packed_lanes: {}", P::WIDTH);
    println!("poseidon1_16_scalar_perms: {}", fmt_rate(r16s, n));
    println!("poseidon1_16_packed_transposing_perms: {}", fmt_rate(r16p, n));
    println!("poseidon1_16_packed_resident_perms: {}", fmt_rate(r16v, n));
    println!("poseidon1_24_scalar_perms: {}", fmt_rate(r24s, n));
    println!("poseidon1_24_packed_transposing_perms: {}", fmt_rate(r24p, n));
    println!("poseidon1_24_packed_resident_perms: {}", fmt_rate(r24v, n));
    println!("sink: {sink}");
    let (verifies, _, t) = prove_round_trip();
    println!("stark_proof_verifies: {verifies}");
    let p = PROOF_PERMS as f64;
    match t.cpu {
        Some(cpu) => println!(
            "stark_prove_perms: {:.0} per CPU second, all threads ({:.0} per wall second; {PROOF_PERMS} permutations in {:.3} s wall, {:.3} s CPU)",
            p / cpu,
            p / t.wall,
            t.wall,
            cpu
        ),
        None => println!(
            "stark_prove_perms: {:.0} per wall second ({PROOF_PERMS} permutations in {:.3} s)",
            p / t.wall,
            t.wall
        ),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => {
            if check() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some("bench") => {
            let seconds = match args.get(1).map(String::as_str) {
                Some("--seconds") => match args.get(2).and_then(|s| s.parse::<f64>().ok()) {
                    Some(s) if s > 0.0 && s.is_finite() => s,
                    _ => {
                        eprintln!("usage: codegen-probe bench [--seconds S] (S > 0)");
                        return ExitCode::from(2);
                    }
                },
                None => 1.0,
                Some(_) => {
                    eprintln!("usage: codegen-probe bench [--seconds S]");
                    return ExitCode::from(2);
                }
            };
            bench(seconds);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: codegen-probe check | bench [--seconds S]");
            ExitCode::from(2)
        }
    }
}
