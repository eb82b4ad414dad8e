//! Soundness figures: every preset meets its target on the N = 1024 design shape, and the shape
//! derived from real AIRs counts exactly the openings a real proof carries.

mod format_common;

use format_common::{prove_tiny, tiny_shape};
use multisig::aggregate::config::{Preset, PRESETS};
use multisig::aggregate::security::{design_shape, security_bits, security_bits_in};
use multisig::aggregate::{Backend, Regime};

/// The FRI presets (the ones [`security_bits`] grades; WHIR presets are graded by
/// `multisig::aggregate::whir::security_bits`).
fn fri_presets() -> impl Iterator<Item = Preset> {
    PRESETS.into_iter().filter(|p| p.backend == Backend::Fri)
}

#[test]
fn presets_meet_their_targets_on_the_design_shape() {
    let shape = design_shape();
    for p in fri_presets() {
        let r = security_bits(&p, &shape);
        let target = match p.regime {
            Regime::Proven => 124.0,
            Regime::Conjectured => 128.0,
        };
        assert!(
            r.total_bits >= target,
            "preset {} reaches {:.1} < {target}",
            p.id(),
            r.total_bits
        );
        assert_eq!(r.total_bits, r.binding().bits);
        // Every source of a FRI-based STARK with lookups is accounted for.
        for label in [
            "air-composition",
            "deep-ali",
            "batch-combination",
            "logup-fingerprint",
        ] {
            assert!(r.source(label).is_some(), "preset {} lacks {label}", p.id());
        }
    }
    assert!(security_bits(&Preset::default_preset(), &shape).total_bits >= 100.0);
}

#[test]
fn proven_grading_of_conjectured_presets_is_lower() {
    // A conjectured preset uses fewer queries; graded provably it must lose bits.
    let shape = design_shape();
    for p in fri_presets().filter(|p| p.regime == Regime::Conjectured) {
        let conj = security_bits(&p, &shape).total_bits;
        let proven = security_bits_in(&p, Regime::Proven, &shape).total_bits;
        assert!(
            proven < conj,
            "preset {}: proven {proven:.1} >= conjectured {conj:.1}",
            p.id()
        );
    }
}

#[test]
fn more_rows_never_add_bits() {
    let mut shape = design_shape();
    let p = Preset::default_preset();
    let base = security_bits(&p, &shape).total_bits;
    for a in &mut shape.instances {
        a.log_height += 2;
    }
    assert!(security_bits(&p, &shape).total_bits <= base);
}

#[test]
fn derived_shape_counts_the_openings_of_a_real_proof() {
    let preset = Preset::default_preset();
    let (proof, _) = prove_tiny(&preset, 8);
    let shape = tiny_shape(&preset, 8);
    let opened: usize = proof
        .opened_values
        .instances
        .iter()
        .map(|i| {
            let b = &i.base_opened_values;
            b.trace_local.len()
                + b.trace_next.as_ref().map_or(0, Vec::len)
                + b.quotient_chunks.iter().map(Vec::len).sum::<usize>()
                + i.permutation_local.len()
                + i.permutation_next.len()
        })
        .sum();
    assert_eq!(shape.num_batched_functions(), opened);
    assert_eq!(shape.instances[0].max_constraint_degree, 3, "y = x^3");
    assert!(shape.instances.iter().all(|a| a.num_lookups > 0));
}

/// Soundness of each preset on the real statement shape for N signatures (heights grow with N,
/// so the list-decoding terms of the proven regime lose bits on large batches). Printed by
/// `cargo test --release --test format_security -- --nocapture security_by_batch_size`.
#[test]
fn security_by_batch_size() {
    use multisig::aggregate::system::{common_data, degree_bits, proof_shape, Statement};
    use multisig::xmss::{PublicKey, F};
    let message = [1u8; 32];
    let mut worst = f64::INFINITY;
    for log_n in [0usize, 6, 8, 10, 12, 14, 16] {
        let n = 1usize << log_n;
        let keys: Vec<PublicKey> = (0..n)
            .map(|i| PublicKey {
                root: [F::new(i as u32); 8],
                parameter: [F::new(7); 5],
            })
            .collect();
        let stmt = Statement { message: &message, epoch: 3, keys: &keys };
        let airs = stmt.airs();
        let common = common_data(&airs);
        let shape = proof_shape(&airs, &common, &degree_bits(&stmt.heights()));
        let bits: Vec<String> = PRESETS
            .iter()
            .map(|p| match p.backend {
                Backend::Fri => format!("{:.1}", security_bits(p, &shape).total_bits),
                Backend::Whir => multisig::aggregate::whir::security_bits(p, &stmt, &airs)
                    .map_or_else(|_| "n/a".into(), |b| format!("{b:.1}")),
            })
            .collect();
        println!("N = 2^{log_n:<2}: {}", bits.join("  "));
        worst = worst.min(security_bits(&Preset::default_preset(), &shape).total_bits);
        // The documented targets hold on the real statement shape up to N = 1024.
        if n <= 1024 {
            // WHIR presets: 124 bits up to 256 signatures, 123 up to 1024 (the LogUp
            // fingerprint and WHIR's opening terms both lose bits as the traces grow).
            for p in PRESETS.iter().filter(|p| p.backend == Backend::Whir) {
                let b = multisig::aggregate::whir::security_bits(p, &stmt, &airs)
                    .unwrap_or_else(|e| panic!("N = {n}, preset {}: {e}", p.id()));
                let target = if n <= 256 { 124.0 } else { 123.0 };
                assert!(b >= target, "N = {n}, WHIR preset {}: {b:.1} < {target}", p.id());
            }
            for p in fri_presets() {
                let target = match p.regime {
                    Regime::Proven => 124.0,
                    Regime::Conjectured => 128.0,
                };
                let b = security_bits(&p, &shape).total_bits;
                assert!(b >= target, "N = {n}, preset {}: {b:.1} < {target}", p.id());
            }
        }
    }
    // The floor for the default preset holds at every batch size we accept.
    assert!(worst >= 100.0, "default preset falls to {worst:.1} bits");
}
