//! Times production key generation over 2^17 epochs, signing and verification.
//! Run: cargo run --release --example xmss_keygen_timing
use multisig::xmss;
use std::time::Instant;

fn main() {
    let t = Instant::now();
    let (pk, sk) = xmss::keygen([42u8; 32], 0, 1 << 17).expect("keygen");
    println!("keygen 2^17 epochs: {:.2} s", t.elapsed().as_secs_f64());
    let msg = [9u8; 32];
    let n = 20u32;
    let t = Instant::now();
    let sigs: Vec<_> = (0..n)
        .map(|e| xmss::sign(&sk, e * 1001, &msg).expect("sign"))
        .collect();
    println!(
        "sign: {:.3} ms each",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let t = Instant::now();
    for (i, s) in sigs.iter().enumerate() {
        assert!(xmss::verify(&pk, i as u32 * 1001, &msg, s));
    }
    println!(
        "verify: {:.3} ms each",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let t = Instant::now();
    let bytes = sk.to_ssz();
    let back = xmss::SecretKey::from_ssz(&bytes).expect("decode");
    assert!(back == sk);
    println!(
        "secret key SSZ: {} bytes, round trip {:.3} s",
        bytes.len(),
        t.elapsed().as_secs_f64()
    );
}
