//! Soundness of an aggregate proof, in bits, by error source.
//!
//! Every term comes from `p3-security` 0.8.0 ([`p3_security::air::composition_error`],
//! [`p3_security::deep::deep_ali_error`], FRI's proven and conjectured errors through
//! [`p3_security::LowDegreeTest`], the batching term of [`p3_security::SecurityAssumption`], the
//! LogUp fingerprint of [`p3_security::logup::fingerprint_error`]) fed with the preset's FRI
//! parameters ([`p3_fri::FriParameters::security_regime`]), the opening count of
//! [`p3_batch_stark::num_batched_openings`] summed over the batch, and the statement's shape.
//! Three things are ours, each only lowering the bound:
//!
//! - a *batch* of AIR instances is reduced to the single-instance shape `p3-security` takes (see
//!   [`ProofShape`]): the largest trace height, the largest constraint degree and quotient-chunk
//!   count, the *sum* of constraints, interactions and batched openings;
//! - the LogUp term is multiplied by the Johnson list size `L` of each list-decoding regime (the
//!   challenges are drawn after the main commitment and before any out-of-domain sample, so they
//!   must be good for every codeword the commitment may stand for; `p3-security` 0.8 passes extra
//!   terms unchanged to every regime, so this module composes the proven regimes itself);
//! - the challenge field counts `log2 |EF| = 5 log2 p = 154.94` bits, not `Field::bits()` = 155
//!   ([`challenge_field_bits`], [`security_bits_over_field`]).
//!
//! # Sources
//!
//! | label                  | round                                                          |
//! |------------------------|----------------------------------------------------------------|
//! | `air-composition`      | constraint-batching challenge (ALI): `L * #constraints / |EF|`  |
//! | `deep-ali`             | out-of-domain point `zeta`, boosted by `ood_pow_bits`           |
//! | `batch-combination`    | opening-batching challenge of the PCS, boosted by `batch_pow_bits` |
//! | `logup-fingerprint`    | LogUp challenges `(alpha, beta)`: `L * N (W + 2) / |EF|`, boosted by `lookup_pow_bits` |
//! | `low-degree-test`      | FRI commit + query phases (proven: one composed term)          |
//! | `ldt-query-phase`      | FRI queries, boosted by `query_pow_bits` (conjectured)          |
//! | `ldt-commit-phase`     | FRI folding challenges, boosted by `commit_pow_bits` (conjectured) |
//! | `commitment-collision` | Merkle/transcript hash collision resistance, 128 bits (Keccak-256; Poseidon1-24 with 9-element digests, see [`super::config`]) |
//!
//! `L` is 1 in the unique-decoding and conjectured regimes and `(m + 1/2) / sqrt(rho)` at
//! Johnson radius `m`; `N` is the number of bus messages (interactions per row summed, times the
//! tallest trace) and `W` the widest message. The proven regime takes the best of unique decoding
//! and every admissible Johnson-bound list decoding radius `m` ([2024/1553], DKT26 line-MCA); the
//! conjectured regime is the random-words conjecture of [2025/2010] at list size 1. The total of
//! a regime is the minimum over its sources (round-by-round soundness).
//!
//! # The presets on the real statement shapes
//!
//! `multisig presets` prints this table (bits in the preset's own regime, conjectured presets
//! also graded in the proven regime; `tests/format_security.rs` asserts the 124-bit floor at every
//! accepted batch size). The statement shape depends on the number of signatures `N` alone, and
//! no term gains bits as a trace grows, so `N = 4096` ([`super::MAX_SIGNATURES`]) is the worst
//! case. PoW: query / commit (per FRI round) / batch / OOD / lookup bits.
//!
//! ```text
//! id regime      rate queries PoW q/c/b/o/l  N=1     N=256   N=1024  N=4096  binds at 4096
//! 0  proven      1/2  227     16/10/16/0/3   128.00  126.05  125.10  124.03  LDT (list decoding, m=30)
//! 1  proven      1/4  113     16/9/16/0/3    127.89  126.07  125.25  124.22  LDT (m=17)
//! 2  proven      1/8   76     16/9/15/0/2    128.00  126.15  125.13  124.03  LDT (m=9)   <- default
//! 3  proven      1/16  58     16/9/16/0/2    128.00  126.98  126.00  124.36  LogUp (m=6)
//! 4  conjectured 1/2  115     16/0/2/0/0     128.00  128.00  128.00  127.06  (73.2-73.4 proven)
//! 5  conjectured 1/4   57     16/0/3/0/0     128.00  128.00  128.00  127.06  (73.0 proven)
//! 6  conjectured 1/8   38     16/0/4/0/0     128.00  128.00  128.00  127.06  (73.0 proven)
//! 7  conjectured 1/16  29     16/0/5/0/0     128.00  128.00  128.00  127.06  (74.0 proven)
//! ```
//!
//! The proven presets are the fewest queries (then the least grinding, every site but the query
//! grinding at most 16 bits) reaching 124 bits at `N = 4096`, found by the ignored test
//! `tune_proven_presets` of `tests/format_security.rs`. Before the LogUp list-size factor and the
//! exact field size were counted, presets 0..=3 had 225, 112, 75 and 57 queries and no lookup
//! grinding, and fell to 123.5 to 124.0 bits at `N = 1024` (121.9 to 122.4 at 4096). A 16-bit
//! Keccak grind took about 28 ms on a 2-core VM (20 bits: about 290 ms; measured 2026-11-29),
//! which is why the query grinding stays at 16 bits.
//!
//! The WHIR presets are graded by `p3_multi_stark::security_report` ([`super::whir`]): 125.2,
//! 124.5 and 124.1 bits at N = 1, 256 and 512 (rate 1/2), 125.2 and 124.2 at N = 1 and 256 (rate
//! 1/4), hence their bounds of 512 and 256 signatures
//! ([`super::config::MAX_WHIR_SIGNATURES`]).
//!
//! # Where we stand against 128 bits
//!
//! The conjectured presets are at 127 to 128 bits, capped by the Keccak-256 collision bound of the
//! Merkle trees and transcript; provably they are worth about 73 bits, so a verifier accepts them
//! only when told to ([`super::VerifyOptions::allow_conjectured`]). The proven presets stop at
//! 124 bits by choice (the level leanMultisig's proven presets claim, so that sizes and speeds
//! compare like for like); 128 bits proven is reachable over the same field with more queries.
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
use p3_security::proximity::{list_size_ldr_m, list_size_udr};
use p3_security::report::{ALI_LABEL, BATCH_LABEL, COLLISION_LABEL, DEEP_LABEL, LDT_LABEL};
use p3_security::shape::{InstanceShape, StarkAirParams};
use p3_security::stark::conjectured_security_report;
use p3_security::{air, deep, LowDegreeTest, SecurityAssumption};
use p3_uni_stark::OpeningShape;

use super::config::fri_parameters;
use crate::aggregate::field::{challenge_field_bits, Challenge, CHALLENGE_DEGREE};
use crate::aggregate::options::Regime;
use crate::aggregate::preset::FriPreset;

/// Collision resistance of the Merkle/transcript hash, in bits: 128 for both of
/// [`crate::aggregate::MerkleHash`]: Keccak-f\[1600\] with a 256-bit digest, and Poseidon1-24
/// at its 128-bit design level (its 9-element digest and capacity give 139.4 bits generically;
/// [`super::config`]). The Poseidon1 presets therefore have the Keccak presets' soundness.
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
    /// [`AirShape`] that [`ProofShape::from_airs`] and `fri::proof_shape` derive alike.
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
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))] // tests only
    pub fn from_airs<A>(
        airs: &[A],
        common: &p3_batch_stark::CommonData<super::config::MultisigConfig>,
        log_heights: &[usize],
    ) -> Result<Self, String>
    where
        A: p3_air::Air<p3_lookup::InteractionSymbolicBuilder<crate::aggregate::field::Val, Challenge>>,
    {
        use crate::aggregate::field::Val;
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
            // Replaced by the exact field size where the bound is computed.
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
}

/// The FRI parameters of a preset as `p3-security` sees them.
pub fn fri_regime(preset: &FriPreset) -> FriRegime {
    fri_parameters(preset, ()).security_regime()
}

/// The grinding sites outside FRI (DEEP, opening batching, LogUp) of a preset.
pub fn grinding_sites(preset: &FriPreset) -> GrindingSites {
    GrindingSites {
        out_of_domain: usize::from(preset.ood_pow_bits),
        batch_combination: usize::from(preset.batch_pow_bits),
        lookup_challenge: usize::from(preset.lookup_pow_bits),
    }
}

/// Soundness in bits of `preset` on a proof of the given shape, in the preset's own regime, over
/// the exact challenge field ([`challenge_field_bits`]).
///
/// Proven: the best, over the unique-decoding regime and every admissible Johnson-bound list
/// decoding radius `m`, of the weakest term (see [`security_bits_over_field`]). Conjectured: the
/// random-words regime of `p3-security`'s conjectured report.
#[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))] // tests only
pub fn security_bits(preset: &FriPreset, shape: &ProofShape) -> SecurityReport {
    security_bits_in(preset, preset.regime, shape)
}

/// As [`security_bits`], but graded in `regime` whatever the preset targets (e.g. what a
/// conjectured preset is worth provably: about 73 bits at rate 1/4).
pub fn security_bits_in(preset: &FriPreset, regime: Regime, shape: &ProofShape) -> SecurityReport {
    security_bits_over_field(preset, regime, shape, challenge_field_bits())
}

/// One way of grading a proof: a decoding regime and the bits of every source under it.
#[derive(Clone, Debug)]
struct Candidate {
    decoding: String,
    terms: Vec<SourceBits>,
}

impl Candidate {
    fn total(&self) -> f64 {
        self.terms
            .iter()
            .map(|t| t.bits)
            .fold(f64::INFINITY, f64::min)
    }
}

/// Bits of a source that may be clamped at 0 and boosted by `pow_bits` of grinding.
fn boosted(bits: f64, pow_bits: u8) -> f64 {
    bits.max(0.0) + f64::from(pow_bits)
}

/// The candidates of `regime` over a challenge field of exactly `modulus_bits` bits.
///
/// Proven regime, for each list size `L` (1 in the unique-decoding regime, `(m + 1/2)/sqrt(rho)`
/// at Johnson radius `m`, [`list_size_ldr_m`]): the ALI and DEEP terms of `p3-security` at `L`,
/// FRI's own proven error at that radius, the batching term, and the LogUp term **times `L`**.
/// The LogUp challenges `(alpha, beta)` are drawn after the main trace is committed and before
/// any out-of-domain sample, so in the list-decoding regime the committed oracle may stand for
/// any of `L` codewords and the fingerprint argument must hold for each of them: the
/// round-by-round error is `L * N (W + 2) / |EF|` (ethSTARK-style list-size accounting, as for
/// the ALI challenge, [2024/1553] Theorem 2). `p3-security` 0.8 passes extra terms unchanged to
/// every regime, so this module composes the proven regimes itself.
fn candidates(
    preset: &FriPreset,
    regime: Regime,
    shape: &ProofShape,
    modulus_bits: usize,
) -> Vec<Candidate> {
    let fri = fri_regime(preset);
    let air = shape.air_params();
    let inst = InstanceShape {
        modulus_bits,
        ..shape.instance_shape()
    };
    let grinding = grinding_sites(preset);
    let logup_air = shape.logup();
    let collision = SourceBits {
        label: COLLISION_LABEL,
        bits: COLLISION_RESISTANCE_BITS as f64,
    };
    match regime {
        Regime::Conjectured => {
            // List size 1: the LogUp term is p3-security's own.
            let extras: Vec<_> = logup::security_term(&logup_air, &inst, &grinding)
                .into_iter()
                .collect();
            let r = conjectured_security_report(&fri, &air, &inst, &extras, &grinding);
            vec![Candidate {
                decoding: "conjectured".into(),
                terms: r
                    .terms()
                    .iter()
                    .map(|t| SourceBits {
                        label: t.label,
                        bits: t.bits.bits(),
                    })
                    .collect(),
            }]
        }
        Regime::Proven => {
            let log_blowup = usize::from(preset.log_inv_rate);
            let num_functions = inst.num_batched_functions;
            let compose = |decoding: String, list_size: f64, ldt: f64, batch: Option<f64>| {
                let mut terms = vec![
                    SourceBits {
                        label: ALI_LABEL,
                        bits: air::composition_error(air.num_constraints, list_size, modulus_bits)
                            .bits(),
                    },
                    SourceBits {
                        label: DEEP_LABEL,
                        bits: boosted(
                            deep::deep_ali_error(&air, &inst, list_size).bits(),
                            preset.ood_pow_bits,
                        ),
                    },
                    SourceBits {
                        label: LDT_LABEL,
                        bits: ldt,
                    },
                ];
                if let Some(b) = batch {
                    terms.push(SourceBits {
                        label: BATCH_LABEL,
                        bits: boosted(b, preset.batch_pow_bits),
                    });
                }
                if logup_air.num_interactions > 0 {
                    terms.push(SourceBits {
                        label: logup::LOGUP_LABEL,
                        bits: boosted(
                            logup::fingerprint_error(&logup_air, &inst).bits() - list_size.log2(),
                            preset.lookup_pow_bits,
                        ),
                    });
                }
                terms.push(collision);
                Candidate { decoding, terms }
            };
            let batch = |assumption: Option<usize>| {
                (num_functions >= 2).then(|| match assumption {
                    None => SecurityAssumption::UniqueDecoding.prox_gaps_error(
                        inst.log_trace_length,
                        log_blowup,
                        modulus_bits,
                        num_functions,
                    ),
                    Some(m) => SecurityAssumption::prox_gaps_error_jb_at_m(
                        inst.log_trace_length,
                        log_blowup,
                        modulus_bits,
                        num_functions,
                        m,
                    ),
                })
            };
            let mut out = vec![compose(
                "unique-decoding".into(),
                list_size_udr(),
                fri.proven_error_udr(&air, &inst).bits(),
                batch(None),
            )];
            for (m, ldt) in fri.ldr_candidates(&air, &inst) {
                out.push(compose(
                    format!("list-decoding m={m}"),
                    list_size_ldr_m(log_blowup, m),
                    ldt.bits(),
                    batch(Some(m)),
                ));
            }
            out
        }
    }
}

/// As [`security_bits_in`], over a challenge field of `field_bits = log2 |EF|` bits, which need
/// not be an integer.
///
/// `p3-security` takes the field size as a whole number of bits. Every term it computes is a
/// non-decreasing function of `log2 |EF|` with slope at most 1 (each field-dependent error is
/// proportional to `1 / |EF|`; query and collision terms do not depend on it), so its value at
/// `field_bits` is at least `max(t(floor), t(floor + 1) - (floor + 1 - field_bits))`: each term is
/// evaluated at the two neighbouring integers and combined that way. The total is the minimum
/// over the terms of the best candidate regime (round-by-round soundness).
pub fn security_bits_over_field(
    preset: &FriPreset,
    regime: Regime,
    shape: &ProofShape,
    field_bits: f64,
) -> SecurityReport {
    let lo = field_bits.floor();
    let below = candidates(preset, regime, shape, lo as usize);
    let above = candidates(preset, regime, shape, lo as usize + 1);
    let gap = lo + 1.0 - field_bits;
    let best = below
        .into_iter()
        .zip(above)
        .map(|(b, a)| {
            debug_assert_eq!(b.decoding, a.decoding);
            let terms = b
                .terms
                .iter()
                .zip(&a.terms)
                .map(|(tb, ta)| {
                    debug_assert_eq!(tb.label, ta.label);
                    SourceBits {
                        label: tb.label,
                        bits: tb.bits.max(ta.bits - gap),
                    }
                })
                .collect();
            Candidate {
                decoding: b.decoding,
                terms,
            }
        })
        .max_by(|x, y| x.total().total_cmp(&y.total()))
        .expect("every regime has at least one candidate");
    SecurityReport {
        regime,
        total_bits: best.total(),
        decoding: best.decoding,
        by_source: best.terms,
    }
}
