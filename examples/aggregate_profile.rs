//! Where the aggregate prover's time goes: runs one aggregation of N benchmark signers with
//! Plonky3's tracing spans printed on close (busy time per phase).
//!
//! `cargo run --release --features profile --example aggregate_profile -- 256 [log_inv_rate]
//! [proven|conjectured] [fri|whir|fri-poseidon1]`

use std::time::Instant;

use multisig::aggregate::{
    verify_aggregate, Aggregator, Backend, ProveOptions, Regime, VerifyOptions,
};
use multisig::xmss::bench_keys::generate_bench_signers;
use tracing_subscriber::fmt::format::FmtSpan;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(256);
    let rate: u8 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(0);
    let regime = if args.get(3).is_some_and(|s| s == "conjectured") {
        Regime::Conjectured
    } else {
        Regime::Proven
    };
    let backend = match args.get(4).map(String::as_str) {
        Some("whir") => Backend::Whir,
        Some("fri-poseidon1") => Backend::FriPoseidon1,
        _ => Backend::Fri,
    };
    let opts = ProveOptions {
        regime,
        log_inv_rate: rate,
        backend,
        // Profiling looks at every preset, including those over the wire cap.
        max_proof_bytes: usize::MAX,
    };
    let message = [0x5a; 32];
    let epoch = 1_234_567;
    let signers = generate_bench_signers(n, epoch, &message, [3; 32]).unwrap();
    let mut agg = Aggregator::new(message, epoch);
    for s in signers {
        agg.add(s.public_key, s.signature).unwrap();
    }
    tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_target(false)
        .init();
    let t = Instant::now();
    let proof = agg.prove(&opts).unwrap();
    let prove = t.elapsed().as_secs_f64();
    let t = Instant::now();
    verify_aggregate(
        proof.as_bytes(),
        &agg.public_keys(),
        &message,
        epoch,
        &VerifyOptions::default(),
    )
    .unwrap();
    println!(
        "N={n} prove {prove:.3} s ({:.1} XMSS/s), verify {:.1} ms, proof {} bytes",
        n as f64 / prove,
        t.elapsed().as_secs_f64() * 1e3,
        proof.as_bytes().len()
    );
}
