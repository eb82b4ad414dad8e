use multisig::xmss::poseidon::{permute_16, permute_24};
use multisig::xmss::F;
use p3_field::{Field, PrimeCharacteristicRing};
type PF = <F as Field>::Packing;
fn main() {
    let n = 100_000;
    let mut s = [PF::ONE; 16];
    let t = std::time::Instant::now();
    for _ in 0..n { permute_16(&mut s); }
    println!("packed perm16: {:?} each", t.elapsed() / n);
    let mut s = [PF::ONE; 24];
    let t = std::time::Instant::now();
    for _ in 0..n { permute_24(&mut s); }
    println!("packed perm24: {:?} each", t.elapsed() / n);
    let mut s = [F::ONE; 16];
    let t = std::time::Instant::now();
    for _ in 0..n { permute_16(&mut s); }
    println!("scalar perm16: {:?} each", t.elapsed() / n);
    std::hint::black_box(s);
}
