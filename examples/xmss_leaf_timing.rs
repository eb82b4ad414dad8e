fn main() {
    let key = [3u8; 32];
    let param = [multisig::xmss::F::new(1); 5];
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1 << 12);
    let t = std::time::Instant::now();
    let l = multisig::xmss::tree::compute_leaves(&key, &param, 0, n);
    println!("{} leaves in {:?}", l.len(), t.elapsed());
    let t = std::time::Instant::now();
    for e in 0..4096u32 { std::hint::black_box(multisig::xmss::prf::chain_start(&key, e, 3)); }
    println!("4096 prf in {:?}", t.elapsed());
}
