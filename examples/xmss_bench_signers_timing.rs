//! Times the benchmark-only signer generator. Run: cargo run --release --example xmss_bench_signers_timing -- 1024
use std::time::Instant;
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1024);
    let t = Instant::now();
    let s = multisig::xmss::bench_keys::generate_bench_signers(n, 9, &[1; 32], [2; 32]).unwrap();
    println!(
        "{} bench signers in {:.3} s",
        s.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    assert!(s
        .iter()
        .all(|b| multisig::xmss::verify(&b.public_key, 9, &[1; 32], &b.signature)));
    println!("verified all in {:.3} s", t.elapsed().as_secs_f64());
}
