//! The presets: every set of proof-system parameters a proof can be made under, one per
//! [`Preset::id`].
//!
//! A preset is a proof system with its own parameters ([`FriPreset`], [`WhirPreset`]), a
//! soundness [`Regime`] and a rate `1/2^log_inv_rate`. [`PRESETS`] lists the fourteen of them:
//! eight FRI presets over Keccak (both regimes, `log_inv_rate` 1..=4) and four over Poseidon1
//! (proven, `log_inv_rate` 1..=4, recursion-ready), with every FRI and grinding parameter, whose
//! soundness by source is computed and tabled in `super::fri::security`; and two WHIR presets
//! (proven regime, `log_inv_rate` 1..=2) with their WHIR schedule, whose soundness
//! `p3_multi_stark::security_report` computes (`super::whir::security_bits_for_signatures`).
//! The proof's prefix carries [`Preset::id`], so a verifier rebuilds exactly the configuration
//! the prover used.

use super::options::{
    Backend, MerkleHash, ProveOptions, Regime, DEFAULT_FRI_LOG_INV_RATE, MAX_SIGNATURES,
};

/// Largest accepted `log_inv_rate`.
pub const MAX_LOG_INV_RATE: u8 = 4;

/// Largest `log_inv_rate` offered with the WHIR backend (presets 8 and 9). Rates 1/8 and 1/16
/// have no tuned schedule and no measurement, so they are refused rather than guessed.
pub const MAX_WHIR_LOG_INV_RATE: u8 = 2;

/// Largest number of signatures the WHIR presets accept, by `log_inv_rate` (1, 2): their proven
/// soundness (over the exact field, terms composed by the union bound) is at least 124 bits up to
/// here and below it at twice as many: 124.06 bits at 512 signatures for rate 1/2, 124.23 at 256
/// and 123.64 at 512 for rate 1/4. The LogUp fingerprint term binds, and p3-multi-stark 0.8 has
/// no grinding site before the LogUp challenges to buy it back.
pub const MAX_WHIR_SIGNATURES: [usize; MAX_WHIR_LOG_INV_RATE as usize] = [512, 256];

/// The parameters of a FRI preset (`p3_batch_stark` with `TwoAdicFriPcs`).
///
/// All `*_pow_bits` fields are proof-of-work difficulties in bits (each makes the prover search
/// about `2^bits` Keccak evaluations and the verifier do one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FriPreset {
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
    /// The hash of the Merkle trees and the Fiat-Shamir transcript.
    pub hash: MerkleHash,
}

/// The parameters of a WHIR preset (`p3_multi_stark` with the `p3_whir` commitment). Proven
/// regime only: p3-multi-stark does not assess WHIR's conjectured, capacity-bound soundness.
///
/// All `*_pow_bits` are proof-of-work difficulties in bits (about `2^bits` Keccak evaluations for
/// the prover, one for the verifier).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WhirPreset {
    /// log2 of the inverse rate of the first WHIR codeword, in 1..=[`MAX_WHIR_LOG_INV_RATE`].
    pub log_inv_rate: u8,
    /// Variables folded in the first WHIR round (also the smallest table arity).
    pub first_folding: u8,
    /// Variables folded in every later round.
    pub folding: u8,
    /// How much `log_inv_rate` grows from one round's codeword to the next (`folding - 1` keeps
    /// every codeword half the size of the previous one, WHIR's usual schedule).
    pub rate_step: u8,
    /// Bits each WHIR error term is sized for (queries and out-of-domain samples per round).
    pub term_bits: u8,
    /// Grinding budget of each WHIR query phase and folding challenge, in bits, for statements
    /// of more than `pow_bits` variables. A smaller statement of `v` variables grinds at most
    /// `v - 1` bits (never less than folding soundness demands) and buys the difference with
    /// queries instead; see `super::whir::grinding_budget`.
    pub pow_bits: u8,
    /// Grinding in each zerocheck sumcheck round (0 = none).
    pub zerocheck_pow_bits: u8,
    /// The proximity regime every WHIR term is sized in, both proven: unique decoding
    /// (`δ = (1 − ρ)/2`, no list) when true, the Johnson bound (`δ = 1 − √ρ − η`) otherwise.
    /// Unique decoding needs more queries, but the reductions before the opening are then
    /// charged against one codeword instead of a list, which a parent's batch needs to reach
    /// the floor (`recursion::parent::compact_parent_preset`). The presets of [`PRESETS`] use the
    /// Johnson bound.
    pub unique_decoding: bool,
}

/// A resolved, validated preset: one of the entries of [`PRESETS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// A FRI preset (ids 0..=7 over Keccak, 10..=13 over Poseidon1).
    Fri(FriPreset),
    /// A WHIR preset (ids 8 and 9).
    Whir(WhirPreset),
}

/// One FRI row of [`PRESETS`]: hash, regime, log_inv_rate, queries, query PoW, commit PoW, batch
/// PoW, OOD PoW, lookup PoW; folding arity 8, a final polynomial of 64 coefficients, a Merkle cap
/// of one root.
#[allow(clippy::too_many_arguments)]
const fn fri(
    hash: MerkleHash,
    regime: Regime,
    log_inv_rate: u8,
    num_queries: u16,
    query_pow_bits: u8,
    commit_pow_bits: u8,
    batch_pow_bits: u8,
    ood_pow_bits: u8,
    lookup_pow_bits: u8,
) -> Preset {
    Preset::Fri(FriPreset {
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
        hash,
    })
}

/// One WHIR row of [`PRESETS`]: starting `log_inv_rate`, first and later folding, rate step,
/// bits per WHIR term, WHIR PoW bits, zerocheck PoW bits.
const fn whir(
    log_inv_rate: u8,
    first_folding: u8,
    folding: u8,
    rate_step: u8,
    term_bits: u8,
    pow_bits: u8,
    zerocheck_pow_bits: u8,
) -> Preset {
    Preset::Whir(WhirPreset {
        log_inv_rate,
        first_folding,
        folding,
        rate_step,
        term_bits,
        pow_bits,
        zerocheck_pow_bits,
        unique_decoding: false,
    })
}

/// The fourteen presets, indexed by [`Preset::id`]: ids 0..=3 are the FRI proven regime over
/// Keccak at `log_inv_rate` 1..=4, ids 4..=7 the FRI conjectured regime over Keccak at
/// `log_inv_rate` 1..=4, ids 8 and 9 the WHIR proven regime at `log_inv_rate` 1 and 2, ids
/// 10..=13 the FRI proven regime over Poseidon1 ([`Backend::FriPoseidon1`], recursion-ready) at
/// `log_inv_rate` 1..=4.
///
/// The FRI proven presets are the fewest queries (then the least grinding, every site at most 16
/// bits) that reach 124 bits proven at [`MAX_SIGNATURES`] signatures on the real statement shape
/// (`tests/format_security.rs`, `tune_proven_presets`); the soundness of each is tabled in
/// `super::fri::security`. The Poseidon1 presets have the Keccak presets' parameters: both
/// hashes count 128 bits of collision resistance, so every term is the same
/// (`fri::config`). The WHIR schedule (first folding 6, later 4, rate step 2, terms of
/// 131 bits, 20 bits of grinding) is measured in `super::whir`.
pub const PRESETS: [Preset; 14] = [
    fri(K, Regime::Proven, 1, 227, 16, 10, 16, 0, 3),
    fri(K, Regime::Proven, 2, 113, 16, 9, 16, 0, 3),
    fri(K, Regime::Proven, 3, 76, 16, 9, 15, 0, 2),
    fri(K, Regime::Proven, 4, 58, 16, 9, 16, 0, 2),
    fri(K, Regime::Conjectured, 1, 115, 16, 0, 2, 0, 0),
    fri(K, Regime::Conjectured, 2, 57, 16, 0, 3, 0, 0),
    fri(K, Regime::Conjectured, 3, 38, 16, 0, 4, 0, 0),
    fri(K, Regime::Conjectured, 4, 29, 16, 0, 5, 0, 0),
    whir(1, 6, 4, 2, 131, 20, 0),
    whir(2, 6, 4, 2, 131, 20, 0),
    fri(P1, Regime::Proven, 1, 227, 16, 10, 16, 0, 3),
    fri(P1, Regime::Proven, 2, 113, 16, 9, 16, 0, 3),
    fri(P1, Regime::Proven, 3, 76, 16, 9, 15, 0, 2),
    fri(P1, Regime::Proven, 4, 58, 16, 9, 16, 0, 2),
];

const K: MerkleHash = MerkleHash::Keccak;
const P1: MerkleHash = MerkleHash::Poseidon1;

/// Id of the first Poseidon1 FRI preset (`log_inv_rate` 1).
const FIRST_POSEIDON1_ID: u8 = 10;

impl FriPreset {
    /// The header id: over Keccak, `4 * regime + (log_inv_rate - 1)` with regime 0 = proven,
    /// 1 = conjectured (0..=7); over Poseidon1 (proven only), `10 + (log_inv_rate - 1)`
    /// (10..=13).
    pub const fn id(&self) -> u8 {
        let regime = match self.regime {
            Regime::Proven => 0,
            Regime::Conjectured => 1,
        };
        match self.hash {
            MerkleHash::Keccak => 4 * regime + (self.log_inv_rate - 1),
            MerkleHash::Poseidon1 => FIRST_POSEIDON1_ID + (self.log_inv_rate - 1),
        }
    }

    /// Smallest trace log height every AIR instance must reach: FRI folds each codeword down to
    /// `2^log_final_poly_len` coefficients, so a trace must be strictly taller.
    pub const fn min_log_trace_height(&self) -> usize {
        self.log_final_poly_len as usize + 1
    }
}

impl WhirPreset {
    /// The header id: `8 + (log_inv_rate - 1)` (8..=9).
    pub const fn id(&self) -> u8 {
        8 + (self.log_inv_rate - 1)
    }

    /// Smallest trace log height every AIR instance must reach: WHIR's first round folds
    /// `first_folding` variables of every table at once.
    pub const fn min_log_trace_height(&self) -> usize {
        self.first_folding as usize
    }
}

impl Preset {
    /// Resolves prover options to a preset: `log_inv_rate` 0 means the backend's default
    /// ([`Backend::default_log_inv_rate`]), 1..=4 select the rate (1..=[`MAX_WHIR_LOG_INV_RATE`]
    /// for WHIR). The byte limit of the options plays no part here.
    ///
    /// # Errors
    /// A message naming the bad value when `log_inv_rate > 4`, or for WHIR options past
    /// [`MAX_WHIR_LOG_INV_RATE`] or in the conjectured regime (not offered: p3-multi-stark does not
    /// assess it), or for [`Backend::FriPoseidon1`] options in the conjectured regime (not
    /// offered: the recursion-ready presets are proven only).
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
            Backend::FriPoseidon1 => {
                if opts.regime != Regime::Proven {
                    return Err("the FRI-Poseidon1 backend has proven presets only".into());
                }
                Ok(PRESETS[usize::from(FIRST_POSEIDON1_ID + rate - 1)])
            }
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
    /// least 124 bits proven and at most 512 KiB for every batch size up to [`MAX_SIGNATURES`].
    pub fn default_preset() -> Preset {
        PRESETS[usize::from(DEFAULT_FRI_LOG_INV_RATE) - 1]
    }

    /// The FRI parameters, if this is a FRI preset.
    pub const fn as_fri(&self) -> Option<FriPreset> {
        match self {
            Preset::Fri(p) => Some(*p),
            Preset::Whir(_) => None,
        }
    }

    /// The WHIR parameters, if this is a WHIR preset.
    pub const fn as_whir(&self) -> Option<WhirPreset> {
        match self {
            Preset::Whir(p) => Some(*p),
            Preset::Fri(_) => None,
        }
    }

    /// The proof system.
    pub const fn backend(&self) -> Backend {
        match self {
            Preset::Fri(FriPreset {
                hash: MerkleHash::Keccak,
                ..
            }) => Backend::Fri,
            Preset::Fri(FriPreset {
                hash: MerkleHash::Poseidon1,
                ..
            }) => Backend::FriPoseidon1,
            Preset::Whir(_) => Backend::Whir,
        }
    }

    /// The soundness regime the parameters were chosen for (always proven for WHIR).
    pub const fn regime(&self) -> Regime {
        match self {
            Preset::Fri(p) => p.regime,
            Preset::Whir(_) => Regime::Proven,
        }
    }

    /// log2 of the inverse code rate (FRI blowup, or WHIR's starting rate).
    pub const fn log_inv_rate(&self) -> u8 {
        match self {
            Preset::Fri(p) => p.log_inv_rate,
            Preset::Whir(p) => p.log_inv_rate,
        }
    }

    /// Largest number of signatures a proof under this preset may hold: [`MAX_SIGNATURES`] for
    /// the FRI presets (every proven one is at least 124 bits proven there, every conjectured
    /// one at least 124 bits conjectured), [`MAX_WHIR_SIGNATURES`] for WHIR.
    /// `tests/format_security.rs` asserts the bits at this bound on the real statement shape.
    pub const fn max_signatures(&self) -> usize {
        match self {
            Preset::Fri(_) => MAX_SIGNATURES,
            Preset::Whir(p) => MAX_WHIR_SIGNATURES[p.log_inv_rate as usize - 1],
        }
    }

    /// The one-byte preset id carried in the proof header ([`FriPreset::id`] 0..=7 and 10..=13,
    /// [`WhirPreset::id`] 8..=9); an id indexes [`PRESETS`].
    pub const fn id(&self) -> u8 {
        match self {
            Preset::Fri(p) => p.id(),
            Preset::Whir(p) => p.id(),
        }
    }

    /// The preset with the given header id, or `None` for ids outside 0..=13.
    pub fn from_id(id: u8) -> Option<Preset> {
        PRESETS.get(usize::from(id)).copied()
    }

    /// The options this preset answers to (`log_inv_rate` always explicit, never 0; the byte
    /// limit is the default one).
    pub const fn options(&self) -> ProveOptions {
        ProveOptions {
            regime: self.regime(),
            log_inv_rate: self.log_inv_rate(),
            backend: self.backend(),
            max_proof_bytes: 0,
        }
    }

    /// Whether a verifier that was told to require `opts` accepts this preset (`opts` with
    /// `log_inv_rate` 0 requires the backend's default rate; the byte limit is not compared).
    pub fn satisfies(&self, opts: &ProveOptions) -> bool {
        Preset::from_options(opts).is_ok_and(|p| p == *self)
    }

    /// Smallest trace log height every AIR instance must reach under this preset.
    pub const fn min_log_trace_height(&self) -> usize {
        match self {
            Preset::Fri(p) => p.min_log_trace_height(),
            Preset::Whir(p) => p.min_log_trace_height(),
        }
    }
}

/// The FRI presets of [`PRESETS`], in id order.
pub fn fri_presets() -> impl Iterator<Item = FriPreset> {
    PRESETS.iter().filter_map(Preset::as_fri)
}

/// The WHIR presets of [`PRESETS`], in id order.
pub fn whir_presets() -> impl Iterator<Item = WhirPreset> {
    PRESETS.iter().filter_map(Preset::as_whir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::options::DEFAULT_WHIR_LOG_INV_RATE;

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
                    assert_eq!(p.backend(), Backend::Whir);
                    let want = if r == 0 { DEFAULT_WHIR_LOG_INV_RATE } else { r };
                    assert_eq!(p.log_inv_rate(), want);
                    assert!(p.satisfies(&opts));
                    assert!(!p.satisfies(&ProveOptions::default()));
                }
            }
        }
    }

    #[test]
    fn poseidon1_options_resolve_to_proven_presets_10_to_13() {
        for r in 0..=u8::MAX {
            for regime in [Regime::Proven, Regime::Conjectured] {
                let opts = ProveOptions {
                    regime,
                    log_inv_rate: r,
                    backend: Backend::FriPoseidon1,
                    ..Default::default()
                };
                let resolved = Preset::from_options(&opts);
                let fits = regime == Regime::Proven && r <= MAX_LOG_INV_RATE;
                assert_eq!(resolved.is_ok(), fits, "{opts:?}");
                let Ok(p) = resolved else { continue };
                let f = p.as_fri().expect("a FRI preset");
                assert_eq!(
                    (p.backend(), f.hash),
                    (Backend::FriPoseidon1, MerkleHash::Poseidon1)
                );
                let rate = if r == 0 {
                    Backend::FriPoseidon1.default_log_inv_rate()
                } else {
                    r
                };
                assert_eq!(p.id(), FIRST_POSEIDON1_ID + rate - 1);
                assert!(p.satisfies(&opts));
                // The Keccak preset of the same regime and rate differs only in the hash.
                let keccak = Preset::from_options(&ProveOptions {
                    backend: Backend::Fri,
                    ..opts
                })
                .unwrap()
                .as_fri()
                .unwrap();
                assert_ne!(keccak, f);
                assert_eq!(
                    FriPreset {
                        hash: MerkleHash::Keccak,
                        ..f
                    },
                    keccak
                );
                assert!(!p.satisfies(&ProveOptions {
                    backend: Backend::Fri,
                    ..opts
                }));
            }
        }
    }

    #[test]
    fn every_fri_preset_commits_to_a_single_root_and_degree_3_fits_its_rate() {
        for p in PRESETS {
            let Preset::Fri(f) = p else { continue };
            // The envelope carries one digest per commitment (`fri::envelope::ProofBody`).
            assert_eq!(f.merkle_cap_height, 0, "preset {}", p.id());
            // A degree-3 AIR has 2 quotient chunks, which a blowup of 2^log_inv_rate must hold.
            assert!(1u32 << f.log_inv_rate >= 2);
            assert!(
                f.query_pow_bits < 31 && f.batch_pow_bits < 31,
                "PoW must fit the field"
            );
        }
    }

    #[test]
    fn options_resolve_default_and_reject_high_rates() {
        let d = Preset::from_options(&ProveOptions::default()).unwrap();
        assert_eq!(d, Preset::default_preset());
        assert_eq!(d.regime(), Regime::Proven);
        assert_eq!(
            (d.backend(), d.log_inv_rate()),
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
        assert_eq!((p.regime(), p.log_inv_rate()), (Regime::Conjectured, 3));
        assert!(p.satisfies(&c3));
        assert!(!p.satisfies(&ProveOptions::default()));
    }
}
