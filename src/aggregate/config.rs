//! The STARK configuration every aggregate proof is made and checked under, and its presets.
//!
//! # The configuration
//!
//! | piece            | choice                                                                    |
//! |------------------|---------------------------------------------------------------------------|
//! | base field       | KoalaBear, `p = 2^31 - 2^24 + 1` ([`Val`])                                 |
//! | challenge field  | quintic extension `KoalaBear[X]/(X^5 + X^2 - 1)`, `|EF| ~ 2^155` ([`Challenge`]) |
//! | Merkle trees     | Keccak-f\[1600\] sponge (rate 17 x u64, 4 x u64 = 32-byte digests), binary, |
//! |                  | leaves hashed 8 rows at a time with the AVX-512/AVX2 packed Keccak         |
//! | PCS              | `TwoAdicFriPcs` (FRI over the two-adic coset LDE)                          |
//! | DFT              | `Radix2DitParallel` (see below)                                           |
//! | Fiat-Shamir      | Keccak-256 hash challenger, field elements absorbed as 4 LE bytes          |
//!
//! ## Why the quintic extension
//!
//! Every round of the protocol that samples a challenge from the extension (the LogUp challenges
//! `alpha, beta`, the constraint-batching `alpha`, the DEEP point `zeta`, the opening-batching
//! `alpha` and each FRI folding `beta`) is sound up to a term of the form `d / |EF|`, where `d`
//! grows with the LDE size and, in the proven regime, with the Johnson list size. Over the
//! degree-4 extension (`|EF| ~ 2^124`, what this crate used first) those terms cap every preset
//! below 124 bits, and in the proven regime at rate 1/2 they forced unique decoding: 213 queries
//! for 104 bits. Over the quintic extension (`|EF| ~ 2^155`, Plonky3's
//! `QuinticTrinomialExtensionField`, the only KoalaBear extension of degree > 4 with packed
//! arithmetic in 0.8) list decoding up to the Johnson bound becomes usable, and the proven
//! presets reach 124 bits (leanMultisig's proven level) with 227 queries at rate 1/2 and 76 at
//! rate 1/8 for up to 4096 signatures; the conjectured presets reach 127 to 128 bits, capped by
//! the Keccak-256 collision bound.
//!
//! The cost: every opened extension value is 5 base elements instead of 4 (about 15% of a proof's
//! bytes are extension values), and extension multiplications (LogUp columns, FRI folding, the
//! DEEP quotients) are dearer. See [`crate::aggregate::security`] for the full account.
//!
//! ## Why `Radix2DitParallel`
//!
//! Coset LDE (blowup 2) on this 2-core machine, mean of 3, from the ignored test
//! `dft_choice::compare_dfts` (machine shared with other builds, so +-20%):
//!
//! | DFT                          | 2^16 x 256 | 2^17 x 128 |
//! |------------------------------|-----------:|-----------:|
//! | `Radix2DitParallel`          |     516 ms |     546 ms |
//! | `Radix2DFTSmallBatch`        |     702 ms |     510 ms |
//! | `p3_monty_31::RecursiveDft`  |     734 ms |     760 ms |
//!
//! None is clearly faster than `Radix2DitParallel` at the shapes the aggregation commits.
//!
//! # Presets
//!
//! A preset is a [`Backend`], a soundness [`Regime`] and a rate `1/2^log_inv_rate`. [`PRESETS`]
//! lists the ten of them: eight FRI presets (both regimes, `log_inv_rate` 1..=4) with every FRI
//! and grinding parameter, whose soundness by source is computed and tabled in
//! [`crate::aggregate::security`]; and two WHIR presets (proven regime, `log_inv_rate` 1..=2)
//! with their [`WhirSchedule`], whose soundness `p3_multi_stark::security_report` computes for
//! each statement ([`crate::aggregate::whir::security_bits`]). The proof header
//! carries [`Preset::id`], so a verifier rebuilds exactly the configuration the prover used.

use p3_challenger::{HashChallenger, SerializingChallenger32};
use p3_commit::ExtensionMmcs;
use p3_dft::Radix2DitParallel;
use p3_field::extension::QuinticTrinomialExtensionField;
use p3_fri::{FriParameters, TwoAdicFriPcs};
use p3_keccak::{Keccak256Hash, KeccakF};
use p3_merkle_tree::MerkleTreeMmcs;
use p3_symmetric::{CompressionFunctionFromHasher, PaddingFreeSponge, SerializingHasher};
use p3_uni_stark::StarkConfig;

use super::whir::WhirSchedule;
use super::{Backend, ProveOptions, Regime};

/// The base field: KoalaBear, `p = 2^31 - 2^24 + 1 = 0x7f00_0001`. Traces and public values live
/// here.
pub type Val = p3_koala_bear::KoalaBear;

/// The challenge field: the quintic extension `KoalaBear[X]/(X^5 + X^2 - 1)`, about 2^155
/// elements. All random challenges and all out-of-domain openings live here.
pub type Challenge = QuinticTrinomialExtensionField<Val>;

/// Degree of [`Challenge`] over [`Val`].
pub const CHALLENGE_DEGREE: usize = 5;

// The proof envelope sizes every extension value by this constant.
const _: () = assert!(
    <Challenge as p3_field::BasedVectorSpace<Val>>::DIMENSION == CHALLENGE_DEGREE,
    "CHALLENGE_DEGREE must be the challenge field's degree"
);

/// Number of Keccak-f lanes hashed side by side by the packed Keccak on this target (8 with
/// AVX-512, 4 with AVX2, 2 with SSE2/NEON).
pub const KECCAK_LANES: usize = p3_keccak::VECTOR_LEN;

/// Keccak-f\[1600\] sponge over `u64` words: width 25, rate 17 (1088 bits, Keccak-256's rate),
/// squeezing 4 words (a 32-byte digest).
pub type KeccakU64Sponge = PaddingFreeSponge<KeccakF, 25, 17, 4>;

/// Leaf hash: serializes field elements (4 LE bytes each, packed into `u64` words) into the
/// Keccak sponge.
pub type LeafHash = SerializingHasher<KeccakU64Sponge>;

/// 2-to-1 compression of Merkle nodes: the Keccak sponge over the two concatenated digests.
pub type NodeCompress = CompressionFunctionFromHasher<KeccakU64Sponge, 2, 4>;

/// Merkle commitment to base-field matrices; digests are `[u64; 4]` (32 bytes), trees are binary,
/// and rows are hashed [`KECCAK_LANES`] at a time.
pub type ValMmcs =
    MerkleTreeMmcs<[Val; KECCAK_LANES], [u64; KECCAK_LANES], LeafHash, NodeCompress, 2, 4>;

/// Merkle commitment to extension-field matrices (FRI commit-phase codewords), flattened to the
/// base field.
pub type ChallengeMmcs = ExtensionMmcs<Val, Challenge, ValMmcs>;

/// The DFT used for trace LDEs and quotient computation (prover only).
pub type Dft = Radix2DitParallel<Val>;

/// The polynomial commitment scheme: FRI over two-adic cosets of KoalaBear.
pub type Pcs = TwoAdicFriPcs<Val, Dft, ValMmcs, ChallengeMmcs>;

/// The Fiat-Shamir challenger: a Keccak-256 hash chain over the bytes of everything observed.
pub type Challenger = SerializingChallenger32<Val, HashChallenger<u8, Keccak256Hash, 32>>;

/// The concrete `p3_uni_stark::StarkGenericConfig` used by `p3_batch_stark::prove_batch` /
/// `verify_batch` for aggregate proofs.
pub type MultisigConfig = StarkConfig<Pcs, Challenge, Challenger>;

/// Domain-separation prefix absorbed by the challenger before anything else, so that transcripts
/// of this protocol never collide with another Plonky3 application using the same hash.
pub const TRANSCRIPT_DOMAIN: &[u8] = b"multisig/leansig-xmss-aggregate/v1";

/// Largest accepted `log_inv_rate`.
pub const MAX_LOG_INV_RATE: u8 = 4;

/// Largest `log_inv_rate` offered with the WHIR backend (presets 8 and 9). Rates 1/8 and 1/16
/// have no tuned schedule and no measurement, so they are refused rather than guessed.
pub const MAX_WHIR_LOG_INV_RATE: u8 = 2;

/// The `log_inv_rate` that `ProveOptions { log_inv_rate: 0, .. }` resolves to under
/// [`Backend::Fri`]: rate 1/8, whose proven proofs stay under the 512 KiB wire cap at every
/// accepted batch size (rates 1/2 and 1/4 do not: 883 and 491 KiB at 256 signatures, more at
/// 4096), with the fastest prover of the presets that fit (see `README.md`, "Measured
/// performance").
pub const DEFAULT_FRI_LOG_INV_RATE: u8 = 3;

/// The `log_inv_rate` that `ProveOptions { log_inv_rate: 0, .. }` resolves to under
/// [`Backend::Whir`].
pub const DEFAULT_WHIR_LOG_INV_RATE: u8 = 1;

/// Largest number of signatures the WHIR presets accept, by `log_inv_rate` (1, 2): their proven
/// soundness (over the exact field, terms composed by the union bound) is at least 124 bits up to
/// here and below it at twice as many: 124.06 bits at 512 signatures for rate 1/2, 124.23 at 256
/// and 123.64 at 512 for rate 1/4. The LogUp fingerprint term binds, and p3-multi-stark 0.8 has
/// no grinding site before the LogUp challenges to buy it back.
pub const MAX_WHIR_SIGNATURES: [usize; MAX_WHIR_LOG_INV_RATE as usize] = [512, 256];

impl Backend {
    /// The rate `log_inv_rate: 0` selects for this backend ([`DEFAULT_FRI_LOG_INV_RATE`],
    /// [`DEFAULT_WHIR_LOG_INV_RATE`]).
    pub const fn default_log_inv_rate(self) -> u8 {
        match self {
            Backend::Fri => DEFAULT_FRI_LOG_INV_RATE,
            Backend::Whir => DEFAULT_WHIR_LOG_INV_RATE,
        }
    }
}

/// A resolved, validated set of proof-system parameters: one of the ten entries of [`PRESETS`].
///
/// All `*_pow_bits` fields are proof-of-work difficulties in bits (each makes the prover search
/// about `2^bits` Keccak evaluations and the verifier do one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Preset {
    /// Soundness regime the parameters were chosen for.
    pub regime: Regime,
    /// log2 of the FRI blowup (the code rate is `2^-log_inv_rate`), in 1..=4.
    pub log_inv_rate: u8,
    /// Number of FRI query repetitions.
    pub num_queries: u16,
    /// Grinding before the FRI query indices are sampled.
    pub query_pow_bits: u8,
    /// Grinding before each FRI commit-phase folding challenge.
    pub commit_pow_bits: u8,
    /// Grinding before the challenge that batches all opened polynomials into one FRI instance.
    pub batch_pow_bits: u8,
    /// Grinding before the DEEP out-of-domain point `zeta` is sampled.
    pub ood_pow_bits: u8,
    /// Grinding before the LogUp (lookup) challenges are sampled.
    pub lookup_pow_bits: u8,
    /// log2 of the largest FRI folding arity (1 = binary folding).
    pub max_log_arity: u8,
    /// log2 of the number of coefficients of the FRI final polynomial. Every trace must have
    /// more than `2^log_final_poly_len` rows.
    pub log_final_poly_len: u8,
    /// Height of the Merkle cap (0 = a single root digest per commitment).
    pub merkle_cap_height: u8,
    /// Proof system. The FRI fields above apply to [`Backend::Fri`] presets, [`Self::whir`] to
    /// [`Backend::Whir`] ones.
    pub backend: Backend,
    /// WHIR rounds and grinding (read by [`Backend::Whir`] presets only).
    pub whir: WhirSchedule,
}

/// Shorthand for one table row.
#[allow(clippy::too_many_arguments)]
const fn preset(
    regime: Regime,
    log_inv_rate: u8,
    num_queries: u16,
    query_pow_bits: u8,
    commit_pow_bits: u8,
    batch_pow_bits: u8,
    ood_pow_bits: u8,
    lookup_pow_bits: u8,
) -> Preset {
    Preset {
        regime,
        log_inv_rate,
        num_queries,
        query_pow_bits,
        commit_pow_bits,
        batch_pow_bits,
        ood_pow_bits,
        lookup_pow_bits,
        max_log_arity: 3,
        log_final_poly_len: 6,
        merkle_cap_height: 0,
        backend: Backend::Fri,
        whir: NO_WHIR,
    }
}

/// The WHIR schedule field of FRI presets (never read).
const NO_WHIR: WhirSchedule = WhirSchedule {
    first_folding: 0,
    folding: 0,
    rate_step: 0,
    term_bits: 0,
    pow_bits: 0,
    zerocheck_pow_bits: 0,
};

/// Shorthand for one WHIR row: regime, starting `log_inv_rate`, first and later folding,
/// rate step, bits per WHIR term, WHIR PoW bits, zerocheck PoW bits. The FRI fields are zero.
#[allow(clippy::too_many_arguments)]
const fn whir_preset(
    regime: Regime,
    log_inv_rate: u8,
    first_folding: u8,
    folding: u8,
    rate_step: u8,
    term_bits: u8,
    pow_bits: u8,
    zerocheck_pow_bits: u8,
) -> Preset {
    Preset {
        regime,
        log_inv_rate,
        num_queries: 0,
        query_pow_bits: 0,
        commit_pow_bits: 0,
        batch_pow_bits: 0,
        ood_pow_bits: 0,
        lookup_pow_bits: 0,
        max_log_arity: 0,
        log_final_poly_len: 0,
        merkle_cap_height: 0,
        backend: Backend::Whir,
        whir: WhirSchedule {
            first_folding,
            folding,
            rate_step,
            term_bits,
            pow_bits,
            zerocheck_pow_bits,
        },
    }
}

/// The ten presets, indexed by [`Preset::id`]: ids 0..=3 are the FRI proven regime at
/// `log_inv_rate` 1..=4, ids 4..=7 the FRI conjectured regime at `log_inv_rate` 1..=4, ids 8 and 9
/// the WHIR proven regime at `log_inv_rate` 1 and 2.
///
/// FRI columns: regime, log_inv_rate, queries, query PoW, commit PoW, batch PoW, OOD PoW, lookup
/// PoW. Folding arity is 8 (`max_log_arity` 3), the final polynomial has 64 coefficients (so every
/// trace has at least 128 rows), the Merkle cap is the root. The proven presets are the fewest
/// queries (then the least grinding, every site at most 16 bits) that reach 124 bits proven at
/// [`super::MAX_SIGNATURES`] signatures on the real statement shape (`tests/format_security.rs`,
/// `tune_search`); the soundness of each is tabled in [`crate::aggregate::security`].
///
/// WHIR columns: regime, log_inv_rate, first and later folding, rate step, bits per WHIR term,
/// WHIR PoW, zerocheck PoW ([`WhirSchedule`]).
pub const PRESETS: [Preset; 10] = [
    preset(Regime::Proven, 1, 227, 16, 10, 16, 0, 3),
    preset(Regime::Proven, 2, 113, 16, 9, 16, 0, 3),
    preset(Regime::Proven, 3, 76, 16, 9, 15, 0, 2),
    preset(Regime::Proven, 4, 58, 16, 9, 16, 0, 2),
    preset(Regime::Conjectured, 1, 115, 16, 0, 2, 0, 0),
    preset(Regime::Conjectured, 2, 57, 16, 0, 3, 0, 0),
    preset(Regime::Conjectured, 3, 38, 16, 0, 4, 0, 0),
    preset(Regime::Conjectured, 4, 29, 16, 0, 5, 0, 0),
    whir_preset(Regime::Proven, 1, 6, 4, 2, 131, 20, 0),
    whir_preset(Regime::Proven, 2, 6, 4, 2, 131, 20, 0),
];

impl Preset {
    /// Resolves prover options to a preset: `log_inv_rate` 0 means the backend's default
    /// ([`Backend::default_log_inv_rate`]), 1..=4 select the rate (1..=[`MAX_WHIR_LOG_INV_RATE`]
    /// for WHIR). The byte limit of the options plays no part here.
    ///
    /// # Errors
    /// A message naming the bad value when `log_inv_rate > 4`, or for WHIR options past
    /// [`MAX_WHIR_LOG_INV_RATE`] or in the conjectured regime (not offered: p3-multi-stark does not
    /// assess it).
    pub fn from_options(opts: &ProveOptions) -> Result<Preset, String> {
        let rate = match opts.log_inv_rate {
            0 => opts.backend.default_log_inv_rate(),
            r @ 1..=MAX_LOG_INV_RATE => r,
            r => {
                return Err(format!(
                    "log_inv_rate must be 0 (default) or 1..={MAX_LOG_INV_RATE}, got {r}"
                ))
            }
        };
        let regime_offset = match opts.regime {
            Regime::Proven => 0,
            Regime::Conjectured => 4,
        };
        match opts.backend {
            Backend::Fri => Ok(PRESETS[regime_offset + usize::from(rate) - 1]),
            Backend::Whir => {
                if opts.regime != Regime::Proven {
                    return Err(
                        "the WHIR backend has proven presets only (p3-multi-stark does \
                        not assess WHIR's conjectured, capacity-bound soundness)"
                            .into(),
                    );
                }
                if rate > MAX_WHIR_LOG_INV_RATE {
                    return Err(format!(
                        "the WHIR backend takes log_inv_rate 1..={MAX_WHIR_LOG_INV_RATE}, got {rate}"
                    ));
                }
                Ok(PRESETS[8 + usize::from(rate) - 1])
            }
        }
    }

    /// The default preset: FRI, proven regime, rate 1/8 ([`DEFAULT_FRI_LOG_INV_RATE`]): at
    /// least 124 bits proven and at most 512 KiB for every batch size up to
    /// [`super::MAX_SIGNATURES`].
    pub fn default_preset() -> Preset {
        PRESETS[usize::from(DEFAULT_FRI_LOG_INV_RATE) - 1]
    }

    /// Largest number of signatures a proof under this preset may hold: [`super::MAX_SIGNATURES`]
    /// for the FRI presets (every proven one is at least 124 bits proven there, every
    /// conjectured one at least 124 bits conjectured), [`MAX_WHIR_SIGNATURES`] for WHIR.
    /// `tests/format_security.rs` asserts the bits at this bound on the real statement shape.
    pub const fn max_signatures(&self) -> usize {
        match self.backend {
            Backend::Fri => super::MAX_SIGNATURES,
            Backend::Whir => MAX_WHIR_SIGNATURES[self.log_inv_rate as usize - 1],
        }
    }

    /// The one-byte preset id carried in the proof header: `4 * regime + (log_inv_rate - 1)`
    /// with regime 0 = proven, 1 = conjectured, plus 8 for WHIR, so FRI ids are 0..=7, WHIR ids 8..=9,
    /// and an id indexes [`PRESETS`].
    pub const fn id(&self) -> u8 {
        let regime = match self.regime {
            Regime::Proven => 0,
            Regime::Conjectured => 1,
        };
        let backend = match self.backend {
            Backend::Fri => 0,
            Backend::Whir => 1,
        };
        8 * backend + 4 * regime + (self.log_inv_rate - 1)
    }

    /// The preset with the given header id, or `None` for ids outside 0..=9.
    pub fn from_id(id: u8) -> Option<Preset> {
        PRESETS.get(usize::from(id)).copied()
    }

    /// The options this preset answers to (`log_inv_rate` always explicit, never 0; the byte
    /// limit is the default one).
    pub const fn options(&self) -> ProveOptions {
        ProveOptions {
            regime: self.regime,
            log_inv_rate: self.log_inv_rate,
            backend: self.backend,
            max_proof_bytes: 0,
        }
    }

    /// Whether a verifier that was told to require `opts` accepts this preset (`opts` with
    /// `log_inv_rate` 0 requires the backend's default rate; the byte limit is not compared).
    pub fn satisfies(&self, opts: &ProveOptions) -> bool {
        Preset::from_options(opts).is_ok_and(|p| p == *self)
    }

    /// Smallest trace log height every AIR instance must reach under this preset: FRI folds each
    /// codeword down to `2^log_final_poly_len` coefficients, so a trace must be strictly taller;
    /// WHIR's first round folds `first_folding` variables of every table at once.
    pub const fn min_log_trace_height(&self) -> usize {
        match self.backend {
            Backend::Fri => self.log_final_poly_len as usize + 1,
            Backend::Whir => self.whir.first_folding as usize,
        }
    }

    /// The FRI parameters of this preset around a given Merkle commitment scheme.
    pub fn fri_parameters<M>(&self, mmcs: M) -> FriParameters<M> {
        FriParameters {
            log_blowup: usize::from(self.log_inv_rate),
            log_final_poly_len: usize::from(self.log_final_poly_len),
            max_log_arity: usize::from(self.max_log_arity),
            num_queries: usize::from(self.num_queries),
            batch_proof_of_work_bits: usize::from(self.batch_pow_bits),
            commit_proof_of_work_bits: usize::from(self.commit_pow_bits),
            query_proof_of_work_bits: usize::from(self.query_pow_bits),
            mmcs,
        }
    }
}

/// Builds the STARK configuration of a preset.
///
/// Cheap: every component is a zero-sized hasher or a small parameter struct; the only allocation
/// is the challenger's initial transcript ([`TRANSCRIPT_DOMAIN`], 34 bytes). The DFT's twiddle
/// cache starts empty and is filled by the prover on first use, so verifiers never pay for it.
pub fn stark_config(preset: &Preset) -> MultisigConfig {
    let sponge = KeccakU64Sponge::new(KeccakF);
    let val_mmcs = ValMmcs::new(
        LeafHash::new(sponge),
        NodeCompress::new(sponge),
        usize::from(preset.merkle_cap_height),
    );
    let challenge_mmcs = ChallengeMmcs::new(val_mmcs.clone());
    let pcs = Pcs::new(
        Dft::default(),
        val_mmcs,
        preset.fri_parameters(challenge_mmcs),
    );
    let challenger = Challenger::from_hasher(TRANSCRIPT_DOMAIN.to_vec(), Keccak256Hash);
    MultisigConfig::new(pcs, challenger)
        .with_ood_proof_of_work_bits(usize::from(preset.ood_pow_bits))
        .with_lookup_proof_of_work_bits(usize::from(preset.lookup_pow_bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_index_the_table() {
        for (i, p) in PRESETS.iter().enumerate() {
            assert_eq!(usize::from(p.id()), i);
            assert_eq!(Preset::from_id(p.id()), Some(*p));
            assert_eq!(Preset::from_options(&p.options()), Ok(*p));
        }
        assert_eq!(Preset::from_id(PRESETS.len() as u8), None);
        assert_eq!(Preset::from_id(255), None);
    }

    #[test]
    fn whir_options_resolve_to_proven_presets_at_low_rates_only() {
        for r in 0..=u8::MAX {
            for regime in [Regime::Proven, Regime::Conjectured] {
                let opts = ProveOptions {
                    regime,
                    log_inv_rate: r,
                    backend: Backend::Whir,
                    ..Default::default()
                };
                let resolved = Preset::from_options(&opts);
                let fits = regime == Regime::Proven && r <= MAX_WHIR_LOG_INV_RATE;
                assert_eq!(resolved.is_ok(), fits, "{opts:?}");
                if let Ok(p) = resolved {
                    assert_eq!(p.backend, Backend::Whir);
                    let want = if r == 0 { DEFAULT_WHIR_LOG_INV_RATE } else { r };
                    assert_eq!(p.log_inv_rate, want);
                    assert!(p.satisfies(&opts));
                    assert!(!p.satisfies(&ProveOptions::default()));
                }
            }
        }
    }

    #[test]
    fn every_preset_commits_to_a_single_root_and_degree_3_fits_its_rate() {
        for p in PRESETS {
            // The envelope carries one digest per commitment (`envelope::ProofBody`).
            assert_eq!(p.merkle_cap_height, 0, "preset {}", p.id());
            // A degree-3 AIR has 2 quotient chunks, which a blowup of 2^log_inv_rate must hold.
            assert!(1u32 << p.log_inv_rate >= 2);
            assert!(
                p.query_pow_bits < 31 && p.batch_pow_bits < 31,
                "PoW must fit the field"
            );
        }
    }

    #[test]
    fn options_resolve_default_and_reject_high_rates() {
        let d = Preset::from_options(&ProveOptions::default()).unwrap();
        assert_eq!(d, Preset::default_preset());
        assert_eq!(d.regime, Regime::Proven);
        assert_eq!(
            (d.backend, d.log_inv_rate),
            (Backend::Fri, DEFAULT_FRI_LOG_INV_RATE)
        );
        for r in 5..=u8::MAX {
            let opts = ProveOptions {
                regime: Regime::Conjectured,
                log_inv_rate: r,
                ..Default::default()
            };
            assert!(
                Preset::from_options(&opts).is_err(),
                "log_inv_rate {r} accepted"
            );
        }
        let c3 = ProveOptions {
            regime: Regime::Conjectured,
            log_inv_rate: 3,
            ..Default::default()
        };
        let p = Preset::from_options(&c3).unwrap();
        assert_eq!((p.regime, p.log_inv_rate), (Regime::Conjectured, 3));
        assert!(p.satisfies(&c3));
        assert!(!p.satisfies(&ProveOptions::default()));
    }
}

#[cfg(test)]
mod dft_choice {
    //! Which DFT to use: `cargo test --release --lib dft_choice -- --ignored --nocapture`.
    use p3_dft::TwoAdicSubgroupDft;
    use p3_field::{Field, PrimeCharacteristicRing};
    use p3_matrix::dense::RowMajorMatrix;

    use super::Val;

    fn time<D: TwoAdicSubgroupDft<Val> + Default>(name: &str, log_h: usize, w: usize) {
        let m = RowMajorMatrix::new(
            (0..(w << log_h) as u32)
                .map(|i| Val::from_u32(i.wrapping_mul(2654435761) >> 2))
                .collect(),
            w,
        );
        let dft = D::default();
        let _ = dft.coset_lde_batch(m.clone(), 1, Val::GENERATOR); // warm twiddles
        let t = std::time::Instant::now();
        for _ in 0..3 {
            let _ = dft.coset_lde_batch(m.clone(), 1, Val::GENERATOR);
        }
        println!(
            "{name}: 2^{log_h} x {w}, blowup 2: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3 / 3.0
        );
    }

    #[test]
    #[ignore]
    fn compare_dfts() {
        for (log_h, w) in [(16, 256), (17, 128)] {
            time::<p3_dft::Radix2DitParallel<Val>>("Radix2DitParallel", log_h, w);
            time::<p3_dft::Radix2DFTSmallBatch<Val>>("Radix2DFTSmallBatch", log_h, w);
            time::<p3_monty_31::dft::RecursiveDft<Val>>("RecursiveDft (monty-31)", log_h, w);
        }
    }
}
