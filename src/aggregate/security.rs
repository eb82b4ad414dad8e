//! Soundness of an aggregate proof, in bits, by error source.
//!
//! Every number here comes from `p3-security` 0.8.0 (the composite of
//! [`p3_security::stark::proven_security_report`] and
//! [`p3_security::stark::conjectured_security_report`]) fed with the preset's FRI parameters
//! ([`p3_fri::FriParameters::security_regime`]), the opening count of
//! [`p3_batch_stark::num_batched_openings`] summed over the batch, and the LogUp term of
//! [`p3_security::logup::security_term`]. Nothing is a hand formula except the way a *batch* of AIR
//! instances is reduced to the single-instance shape `p3-security` takes (see [`ProofShape`]
//! below): the largest trace height, the largest constraint degree and quotient-chunk count, the
//! *sum* of constraints, interactions and batched openings. Each choice can only lower the bound.
//!
//! # Sources
//!
//! | label                  | round                                                          |
//! |------------------------|----------------------------------------------------------------|
//! | `air-composition`      | constraint-batching challenge (ALI): `L * #constraints / |EF|`  |
//! | `deep-ali`             | out-of-domain point `zeta`, boosted by `ood_pow_bits`           |
//! | `batch-combination`    | opening-batching challenge of the PCS, boosted by `batch_pow_bits` |
//! | `logup-fingerprint`    | LogUp challenges `(alpha, beta)`, boosted by `lookup_pow_bits`  |
//! | `low-degree-test`      | FRI commit + query phases (proven: one composed term)          |
//! | `ldt-query-phase`      | FRI queries, boosted by `query_pow_bits` (conjectured)          |
//! | `ldt-commit-phase`     | FRI folding challenges, boosted by `commit_pow_bits` (conjectured) |
//! | `commitment-collision` | Keccak-256 collision resistance, 128 bits                       |
//!
//! The proven regime takes the better of unique decoding and the best Johnson-bound list
//! decoding radius `m` ([2024/1553], DKT26 line-MCA); the conjectured regime is the random-words
//! conjecture of [2025/2010] at list size 1. The total is the minimum over the sources
//! (round-by-round soundness).
//!
//! # The presets at the design shape
//!
//! [`design_shape`] is the batch an N = 1024 aggregate is designed around (see its docs).
//! Printed by `cargo test --release --lib security::tests::print_preset_table -- --nocapture`;
//! the targets (proven >= 124, conjectured >= 128) are asserted by `tests/format_security.rs`.
//! PoW column: query / commit (per FRI round) / batch / OOD / lookup bits. Challenge field: the
//! quintic extension of KoalaBear (`|EF| ~ 2^155`, see [`crate::aggregate::config`]).
//!
//! ```text
//! id regime       rate  queries  PoW q/c/b/o/l  total | ALI   DEEP  batch logup LDT   LDT-q LDT-c | binds
//! 0  proven       1/2   225      16/8/16/0/0    124.1 | 139.1 130.3 124.4 128.7 124.1   -     -   | LDT (list decoding, m=37)
//! 1  proven       1/4   112      16/8/15/0/0    124.0 | 139.5 130.6 124.0 128.7 124.0   -     -   | LDT (list decoding, m=20)
//! 2  proven       1/8    75      16/8/15/0/0    124.1 | 139.7 130.9 124.2 128.7 124.1   -     -   | LDT (list decoding, m=12)
//! 3  proven       1/16   57      16/7/15/0/0    124.1 | 140.0 131.1 124.4 128.7 124.1   -     -   | LDT (list decoding, m=7)
//! 4  conjectured  1/2   115      16/0/2/0/0     128.0 | 144.9 136.0 128.5 128.7   -   128.4 134.2 | commitment collision
//! 5  conjectured  1/4    57      16/0/3/0/0     128.0 | 144.9 136.0 128.5 128.7   -   128.2 133.2 | commitment collision
//! 6  conjectured  1/8    38      16/0/4/0/0     128.0 | 144.9 136.0 128.5 128.7   -   128.5 132.2 | commitment collision
//! 7  conjectured  1/16   29      16/0/5/0/0     128.0 | 144.9 136.0 128.5 128.7   -   130.6 131.2 | commitment collision
//! ```
//!
//! (Commitment collision: 128 bits in every row.) Parameters were found by the ignored test
//! `tune::tune_presets`: the fewest queries reaching the target with every grinding site at most
//! 16 bits, then the least grinding. On this machine a 16-bit Keccak grind takes about 28 ms
//! (20 bits: about 290 ms, `grind_speed::grind_speed`), which is why the query grinding stays at
//! 16 bits.
//!
//! ## By batch size
//!
//! The proven terms grow with the LDE size, so the bits of a real statement depend on N.
//! `multisig bench` prints them for its statement; `tests/format_security.rs::security_by_batch_size`
//! prints them for N = 1 .. 2^16 (columns: preset ids 0..7):
//!
//! ```text
//! N = 2^0 : 127.1  126.9  127.3  127.9  128.0  128.0  128.0  128.0
//! N = 2^6 : 125.9  125.9  126.1  126.2  128.0  128.0  128.0  128.0
//! N = 2^8 : 125.1  125.1  125.4  125.0  128.0  128.0  128.0  128.0
//! N = 2^10: 124.1  124.3  124.4  124.1  128.0  128.0  128.0  128.0
//! N = 2^12: 123.0  123.3  123.2  122.7  127.1  127.1  127.1  127.1
//! N = 2^14: 121.8  122.2  122.0  121.4  125.1  125.1  125.1  125.1
//! N = 2^16: 120.5  120.8  121.0  120.3  123.1  123.1  123.1  123.1
//! ```
//!
//! The targets hold up to N = 1024 and lose about 0.6 bit per doubling beyond.
//!
//! # Where we stand against 128 bits
//!
//! The conjectured presets are at 128 bits, capped there by the Keccak-256 collision bound of the
//! Merkle trees and transcript. The proven presets stop at 124 bits by choice (the level
//! leanMultisig's proven presets claim, so that sizes and speeds compare like for like). 128
//! bits proven is reachable over the same field (`tune::tune_presets` prints it):
//!
//! ```text
//! regime   rate  queries  PoW q/c/b/o/l   (vs. the 124-bit preset)
//! proven   1/2   248      16/9/16/0/0     +23 queries (+10% proof bytes)
//! proven   1/4   122      16/8/16/0/0     +10 queries
//! proven   1/8    81      16/9/16/0/0     +6 queries
//! proven   1/16   64      16/8/16/0/0     +7 queries
//! ```
//!
//! Over the degree-4 extension this crate used first (`|EF| ~ 2^124`), every extension-field
//! term was capped below 124 bits and the proven regime had to use unique decoding at rate 1/2:
//! 213 queries bought only 104 bits. The quintic field costs 25% more bytes per opened extension
//! value and dearer extension arithmetic, and buys 20 bits at about the same query count.
//!
//! [2024/1553]: https://eprint.iacr.org/2024/1553
//! [2025/2010]: https://eprint.iacr.org/2025/2010

use p3_field::Field;
use p3_security::fri::FriRegime;
use p3_security::grinding::GrindingSites;
use p3_security::logup::{self, LogUpAir};
use p3_security::shape::{InstanceShape, StarkAirParams};
use p3_security::stark::{conjectured_security_report, proven_security_report};
use p3_security::RegimeReport;
use p3_uni_stark::OpeningShape;

use super::config::{Challenge, Preset, CHALLENGE_DEGREE};
use super::Regime;

/// Collision resistance of the Keccak-f\[1600\] Merkle/transcript hash with a 256-bit digest.
pub const COLLISION_RESISTANCE_BITS: usize = 128;

/// What the soundness bound needs to know about one AIR instance of the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AirShape {
    /// log2 of the trace height (rows), before any blowup.
    pub log_height: usize,
    /// Main trace width (base-field columns).
    pub main_width: usize,
    /// Whether the AIR reads the next row of the main trace (opened at `zeta * g` too).
    pub main_next: bool,
    /// Preprocessed trace width (0 if none).
    pub preprocessed_width: usize,
    /// Whether the AIR reads the next row of the preprocessed trace.
    pub preprocessed_next: bool,
    /// Number of constraints (base and extension), including the lookup constraints.
    pub num_constraints: usize,
    /// Largest constraint degree (lookup constraints included).
    pub max_constraint_degree: usize,
    /// Number of committed quotient chunks (a power of two, at least `max_constraint_degree - 1`).
    pub num_quotient_chunks: usize,
    /// Number of LogUp fraction columns (`CommonData::lookups[i].len()`); the permutation trace has
    /// one more (the running sum) when this is non-zero.
    pub num_lookups: usize,
    /// Bus messages sent or received per row, summed over all buses (`>= num_lookups`).
    pub num_interactions: usize,
    /// Widest bus message, in field elements.
    pub max_message_width: usize,
}

impl AirShape {
    /// A shape with only the LogUp fields set from one AIR's packed lookups (`num_lookups`,
    /// `num_interactions`, `max_message_width`), every other field 0: the part of an
    /// [`AirShape`] that [`ProofShape::from_airs`] and `system::proof_shape` derive alike.
    pub fn with_lookups<F: Field>(lookups: &[p3_lookup::Lookup<F>]) -> AirShape {
        AirShape {
            log_height: 0,
            main_width: 0,
            main_next: false,
            preprocessed_width: 0,
            preprocessed_next: false,
            num_constraints: 0,
            max_constraint_degree: 0,
            num_quotient_chunks: 0,
            num_lookups: lookups.len(),
            num_interactions: lookups.iter().map(|l| l.elements.len()).sum(),
            max_message_width: lookups
                .iter()
                .flat_map(|l| l.elements.iter().map(Vec::len))
                .max()
                .unwrap_or(0),
        }
    }
}

/// What the soundness bound needs to know about a whole batch: one [`AirShape`] per instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofShape {
    /// The instances, in batch order.
    pub instances: Vec<AirShape>,
}

impl ProofShape {
    /// Derives the shape of a batch from its AIRs, the verifier's common data and the trace log
    /// heights, the way `p3_batch_stark::verify_batch` derives what it expects: widths and
    /// next-row use from the AIRs, quotient chunk count and constraint degree by symbolic
    /// evaluation (lookup constraints included), lookups from `common.lookups`.
    ///
    /// Costs one symbolic evaluation per AIR; callers verifying many proofs of one statement size
    /// can build the shape once and keep it.
    ///
    /// # Errors
    /// A message when the three inputs disagree in length.
    pub fn from_airs<A>(
        airs: &[A],
        common: &p3_batch_stark::CommonData<super::config::MultisigConfig>,
        log_heights: &[usize],
    ) -> Result<Self, String>
    where
        A: p3_air::Air<p3_lookup::InteractionSymbolicBuilder<super::config::Val, Challenge>>,
    {
        use super::config::Val;
        use p3_air::symbolic::AirLayout;
        use p3_air::BaseAir;
        if airs.len() != log_heights.len() || airs.len() != common.lookups.len() {
            return Err(format!(
                "{} AIRs, {} heights, {} lookup sets",
                airs.len(),
                log_heights.len(),
                common.lookups.len()
            ));
        }
        let gadget = p3_lookup::LogUpGadget::new();
        let mut instances = Vec::with_capacity(airs.len());
        for (i, (air, &log_height)) in airs.iter().zip(log_heights).enumerate() {
            let pre = common
                .preprocessed
                .as_ref()
                .and_then(|g| g.instances.get(i).and_then(|m| m.as_ref()).map(|m| m.width))
                .unwrap_or(0);
            let layout = AirLayout {
                preprocessed_width: pre,
                main_width: BaseAir::<Val>::width(air),
                num_public_values: BaseAir::<Val>::num_public_values(air),
                num_periodic_columns: BaseAir::<Val>::num_periodic_columns(air),
                ..Default::default()
            };
            let lookups = &common.lookups[i];
            let trace_len = 1usize << log_height;
            let degree =
                p3_batch_stark::symbolic::get_max_constraint_degree::<Val, Challenge, A, _>(
                    air, layout, trace_len, lookups, &gadget,
                )
                .max(BaseAir::<Val>::max_constraint_degree(air).unwrap_or(0));
            let log_chunks =
                p3_batch_stark::symbolic::get_log_num_quotient_chunks::<Val, Challenge, A, _>(
                    air, layout, trace_len, lookups, 0, &gadget,
                );
            let constraints =
                p3_batch_stark::symbolic::get_constraint_layout::<Val, Challenge, A, _>(
                    air, layout, lookups, &gadget,
                )
                .total_constraints();
            instances.push(AirShape {
                log_height,
                main_width: layout.main_width,
                main_next: !BaseAir::<Val>::main_next_row_columns(air).is_empty(),
                preprocessed_width: pre,
                preprocessed_next: pre > 0
                    && !BaseAir::<Val>::preprocessed_next_row_columns(air).is_empty(),
                num_constraints: constraints,
                max_constraint_degree: degree,
                num_quotient_chunks: 1 << log_chunks,
                ..AirShape::with_lookups(lookups)
            });
        }
        Ok(ProofShape { instances })
    }

    /// Total number of `(column, opening point)` pairs the PCS batches into its single FRI
    /// instance: [`p3_batch_stark::num_batched_openings`] summed over the instances.
    pub fn num_batched_functions(&self) -> usize {
        self.instances
            .iter()
            .map(|a| {
                p3_batch_stark::num_batched_openings(
                    a.main_width,
                    a.main_next,
                    a.preprocessed_width,
                    a.preprocessed_next,
                    a.num_quotient_chunks,
                    a.num_lookups,
                    CHALLENGE_DEGREE,
                    OpeningShape::new(),
                )
            })
            .sum()
    }

    /// The single-instance AIR parameters `p3-security` takes: constraints summed (the
    /// constraint-batching challenge must be good for every instance), degree and chunk count
    /// maximised, `max_combo` 2 (rows `zeta` and `zeta * g`).
    fn air_params(&self) -> StarkAirParams {
        StarkAirParams {
            num_constraints: self
                .instances
                .iter()
                .map(|a| a.num_constraints)
                .sum::<usize>()
                .max(1),
            max_constraint_degree: self
                .instances
                .iter()
                .map(|a| a.max_constraint_degree)
                .max()
                .unwrap_or(1),
            num_quotient_chunks: self
                .instances
                .iter()
                .map(|a| a.num_quotient_chunks)
                .max()
                .unwrap_or(1),
            max_combo: 2,
        }
    }

    /// The single-instance shape `p3-security` takes: the tallest trace (the FRI domain and every
    /// degree bound grow with it).
    fn instance_shape(&self) -> InstanceShape {
        InstanceShape {
            log_trace_length: self
                .instances
                .iter()
                .map(|a| a.log_height)
                .max()
                .unwrap_or(0),
            modulus_bits: <Challenge as Field>::bits(),
            collision_resistance: COLLISION_RESISTANCE_BITS,
            num_batched_functions: self.num_batched_functions(),
        }
    }

    /// The LogUp argument as one bus: interactions summed (each row of each instance contributes
    /// its messages; charging them all at the tallest height over-counts, never under-counts).
    fn logup(&self) -> LogUpAir {
        LogUpAir {
            num_interactions: self.instances.iter().map(|a| a.num_interactions).sum(),
            max_message_width: self
                .instances
                .iter()
                .map(|a| a.max_message_width)
                .max()
                .unwrap_or(0),
        }
    }
}

/// One error source and its bits (`-log2` of the probability a cheating prover passes it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SourceBits {
    /// The `p3-security` label of the source (see the module table).
    pub label: &'static str,
    /// Soundness of that round alone, in bits.
    pub bits: f64,
}

/// Soundness of a preset on a proof shape.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityReport {
    /// The regime the preset targets.
    pub regime: Regime,
    /// Soundness in bits: the minimum of [`Self::by_source`].
    pub total_bits: f64,
    /// The proximity regime the number was obtained in: `"unique-decoding"`,
    /// `"list-decoding m=<m>"` (proven) or `"conjectured"`.
    pub decoding: String,
    /// Every source, in `p3-security`'s order; the binding one has `bits == total_bits`.
    pub by_source: Vec<SourceBits>,
}

impl SecurityReport {
    /// The binding (weakest) source.
    pub fn binding(&self) -> SourceBits {
        self.by_source
            .iter()
            .copied()
            .min_by(|a, b| a.bits.total_cmp(&b.bits))
            .unwrap_or(SourceBits {
                label: "none",
                bits: 0.0,
            })
    }

    /// The bits of one source, if present.
    pub fn source(&self, label: &str) -> Option<f64> {
        self.by_source
            .iter()
            .find(|s| s.label == label)
            .map(|s| s.bits)
    }

    fn from_regime_report(regime: Regime, decoding: String, r: &RegimeReport) -> Self {
        let by_source: Vec<SourceBits> = r
            .terms()
            .iter()
            .map(|t| SourceBits {
                label: t.label,
                bits: t.bits.bits(),
            })
            .collect();
        SecurityReport {
            regime,
            total_bits: r.security_bits(),
            decoding,
            by_source,
        }
    }
}

/// The FRI parameters of a preset as `p3-security` sees them.
pub fn fri_regime(preset: &Preset) -> FriRegime {
    preset.fri_parameters(()).security_regime()
}

/// The grinding sites outside FRI (DEEP, opening batching, LogUp) of a preset.
pub fn grinding_sites(preset: &Preset) -> GrindingSites {
    GrindingSites {
        out_of_domain: usize::from(preset.ood_pow_bits),
        batch_combination: usize::from(preset.batch_pow_bits),
        lookup_challenge: usize::from(preset.lookup_pow_bits),
    }
}

/// Soundness in bits of `preset` on a proof of the given shape, in the preset's own regime.
///
/// Proven: the better of the unique-decoding and best list-decoding (Johnson bound) reports of
/// [`proven_security_report`]. Conjectured: [`conjectured_security_report`].
pub fn security_bits(preset: &Preset, shape: &ProofShape) -> SecurityReport {
    security_bits_in(preset, preset.regime, shape)
}

/// As [`security_bits`], but graded in `regime` whatever the preset targets (e.g. what a
/// conjectured preset is worth provably).
pub fn security_bits_in(preset: &Preset, regime: Regime, shape: &ProofShape) -> SecurityReport {
    security_bits_over_field(preset, regime, shape, <Challenge as Field>::bits())
}

/// As [`security_bits_in`], over a hypothetical challenge field of `modulus_bits` bits (used to
/// price what a larger extension, e.g. the quintic one at 155 bits, would buy).
pub fn security_bits_over_field(
    preset: &Preset,
    regime: Regime,
    shape: &ProofShape,
    modulus_bits: usize,
) -> SecurityReport {
    let fri = fri_regime(preset);
    let air = shape.air_params();
    let inst = InstanceShape {
        modulus_bits,
        ..shape.instance_shape()
    };
    let grinding = grinding_sites(preset);
    let extras: Vec<_> = logup::security_term(&shape.logup(), &inst, &grinding)
        .into_iter()
        .collect();
    match regime {
        Regime::Proven => {
            let r = proven_security_report(&fri, &air, &inst, &extras, &grinding);
            match &r.ldr {
                Some(ldr) if ldr.security_bits() > r.udr.security_bits() => {
                    let m = match ldr.regime {
                        p3_security::Regime::ListDecoding { m } => m,
                        _ => 0,
                    };
                    SecurityReport::from_regime_report(regime, format!("list-decoding m={m}"), ldr)
                }
                _ => SecurityReport::from_regime_report(regime, "unique-decoding".into(), &r.udr),
            }
        }
        Regime::Conjectured => {
            let r = conjectured_security_report(&fri, &air, &inst, &extras, &grinding);
            SecurityReport::from_regime_report(regime, "conjectured".into(), &r)
        }
    }
}

/// The batch an N = 1024 aggregate is designed around, used to choose and document the presets
/// (`tune::tune_presets`). It models the first, three-AIR design; the targets are also asserted on
/// the real four-AIR statement shapes for N <= 1024 (`tests/format_security.rs`,
/// `security_by_batch_size`), which is what the documented bits rest on.
///
/// Assumptions (upper estimates; the real shape comes from the AIRs): a Poseidon1 width-16 table
/// of 2^17 rows and 400 columns, a Poseidon1 width-24 table of 2^16 rows and 600 columns, a
/// chain/encoding table of 2^17 rows and 120 columns reading its next row; every AIR of maximum
/// constraint degree 3 (two quotient chunks), with 8 bus interactions per row of messages up to 24
/// field elements wide, packed into 4 LogUp columns.
pub fn design_shape() -> ProofShape {
    let air = |log_height, main_width, main_next| AirShape {
        log_height,
        main_width,
        main_next,
        preprocessed_width: 0,
        preprocessed_next: false,
        num_constraints: main_width,
        max_constraint_degree: 3,
        num_quotient_chunks: 2,
        num_lookups: 4,
        num_interactions: 8,
        max_message_width: 24,
    };
    ProofShape {
        instances: vec![air(17, 400, false), air(16, 600, false), air(17, 120, true)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::config::PRESETS;

    fn row(p: &Preset, r: &SecurityReport) -> String {
        let s = |l| r.source(l).map_or("-".to_string(), |b| format!("{b:.1}"));
        format!(
            "{} {:<11} 1/{:<2} {:>3} {:>2}/{}/{}/{}/{:<2} {:>6.1} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {} ({})",
            p.id(),
            format!("{:?}", p.regime),
            1u32 << p.log_inv_rate,
            p.num_queries,
            p.query_pow_bits,
            p.commit_pow_bits,
            p.batch_pow_bits,
            p.ood_pow_bits,
            p.lookup_pow_bits,
            r.total_bits,
            s("air-composition"),
            s("deep-ali"),
            s("batch-combination"),
            s("logup-fingerprint"),
            s("low-degree-test"),
            s("ldt-query-phase"),
            s("ldt-commit-phase"),
            r.binding().label,
            r.decoding,
        )
    }

    #[test]
    fn print_preset_table() {
        let shape = design_shape();
        println!("batched functions: {}", shape.num_batched_functions());
        for p in PRESETS.iter().filter(|p| p.backend == crate::aggregate::Backend::Fri) {
            println!("{}", row(p, &security_bits(p, &shape)));
        }
    }
}
#[cfg(test)]
mod tune {
    use super::*;
    use crate::aggregate::config::PRESETS;

    /// Smallest query count (and then smallest grinding) reaching `target` bits on the design
    /// shape, with every grinding site capped at `max_pow` bits and the query grinding fixed.
    pub(super) fn tune(
        base: Preset,
        target: f64,
        max_pow: u8,
        modulus_bits: usize,
    ) -> Option<(Preset, SecurityReport)> {
        let shape = design_shape();
        let cost = |p: &Preset| {
            (p.num_queries as u64) << 40
                | ((1u64 << p.batch_pow_bits)
                    + (1u64 << p.ood_pow_bits)
                    + (1u64 << p.lookup_pow_bits)
                    + 6 * (1u64 << p.commit_pow_bits))
        };
        let eval = |q: u16, bp: u8, cp: u8| -> Option<(Preset, SecurityReport)> {
            let mut p = Preset {
                num_queries: q,
                batch_pow_bits: bp,
                commit_pow_bits: cp,
                ood_pow_bits: 0,
                lookup_pow_bits: 0,
                ..base
            };
            let r0 = security_bits_over_field(&p, p.regime, &shape, modulus_bits);
            let need = |l: &str| r0.source(l).map_or(0.0, |b| (target - b).max(0.0).ceil()) as u8;
            p.ood_pow_bits = need("deep-ali");
            p.lookup_pow_bits = need("logup-fingerprint");
            if p.ood_pow_bits > max_pow || p.lookup_pow_bits > max_pow {
                return None;
            }
            let r = security_bits_over_field(&p, p.regime, &shape, modulus_bits);
            (r.total_bits >= target).then_some((p, r))
        };
        let mut best: Option<(Preset, SecurityReport)> = None;
        for bp in 0..=max_pow {
            for cp in 0..=max_pow {
                if eval(800, bp, cp).is_none() {
                    continue;
                }
                let (mut lo, mut hi) = (1u16, 800u16);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if eval(mid, bp, cp).is_some() {
                        hi = mid
                    } else {
                        lo = mid + 1
                    }
                }
                let found = eval(lo, bp, cp).unwrap();
                if best.as_ref().is_none_or(|(b, _)| cost(&found.0) < cost(b)) {
                    best = Some(found);
                }
            }
        }
        best
    }

    #[test]
    #[ignore]
    fn tune_presets() {
        for p in PRESETS.into_iter().filter(|p| p.backend == crate::aggregate::Backend::Fri) {
            let target = match p.regime {
                Regime::Proven => 124.0,
                Regime::Conjectured => 128.0,
            };
            match tune(p, target, 16, <Challenge as Field>::bits()) {
                Some((t, r)) => println!("{} {:?} 1/{} q={} qpow={} commit={} batch={} ood={} lookup={} -> {:.1} ({}, {})", t.id(), t.regime, 1 << t.log_inv_rate, t.num_queries, t.query_pow_bits, t.commit_pow_bits, t.batch_pow_bits, t.ood_pow_bits, t.lookup_pow_bits, r.total_bits, r.binding().label, r.decoding),
                None => println!("{} unreachable", p.id()),
            }
        }
        println!("-- 128 bits over the quintic extension (155 bits), pow cap 16:");
        for p in PRESETS.into_iter().filter(|p| p.backend == crate::aggregate::Backend::Fri) {
            match tune(p, 128.0, 16, 155) {
                Some((t, r)) => println!("{} {:?} 1/{} q={} qpow={} commit={} batch={} ood={} lookup={} -> {:.1} ({}, {})", t.id(), t.regime, 1 << t.log_inv_rate, t.num_queries, t.query_pow_bits, t.commit_pow_bits, t.batch_pow_bits, t.ood_pow_bits, t.lookup_pow_bits, r.total_bits, r.binding().label, r.decoding),
                None => println!("{} unreachable", p.id()),
            }
        }
    }
}

#[cfg(test)]
mod grind_speed {
    #[test]
    #[ignore]
    fn grind_speed() {
        use p3_challenger::{CanObserve, GrindingChallenger};
        let cfg = crate::aggregate::config::stark_config(&crate::aggregate::config::PRESETS[0]);
        use p3_uni_stark::StarkGenericConfig;
        for bits in [16usize, 20, 22] {
            let mut total = 0.0;
            for i in 0..4u32 {
                let mut ch = cfg.initialise_challenger();
                ch.observe(crate::aggregate::config::Val::new(i));
                let t = std::time::Instant::now();
                let _w = ch.grind(bits);
                total += t.elapsed().as_secs_f64();
            }
            println!("grind {bits} bits: {:.1} ms avg", total / 4.0 * 1e3);
        }
    }
}
