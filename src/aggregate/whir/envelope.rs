//! The byte format of WHIR-backend aggregate proofs: the same 16-byte prefix as the FRI format
//! (`crate::aggregate::wire`), then an rkyv archive of our own flat mirror of
//! [`WhirProof`] (`p3_multi_stark::MultiStarkProof<WhirStarkConfig>`).
//!
//! # Layout
//!
//! ```text
//! offset  size  field
//!      0     8  magic  b"MSIGPRF\0"                        (wire::MAGIC)
//!      8     2  format version, u16 little-endian          (wire::FORMAT_VERSION)
//!     10     1  preset id of a WHIR preset of preset::PRESETS (currently 8..=9)
//!     11     1  proof kind, 0 (an aggregate of signatures; crate::aggregate::wire)
//!     12     4  archive length in bytes, u32 little-endian (= total length - 16)
//!     16     *  rkyv 0.8 archive of `WhirBody` (root object at the end, as rkyv places it)
//! ```
//!
//! A WHIR proof and a FRI proof share the prefix and differ by preset id: [`decode`] rejects a
//! FRI preset id, and the FRI decoder is the one that reads ids 0..=7.
//!
//! # The mirror
//!
//! Every base-field element (trace values opened by the first WHIR query phase, grinding
//! witnesses) is its canonical `u32` (`< p`); every extension element is 5 consecutive canonical
//! `u32`, its coefficients over KoalaBear (`BasedVectorSpace`, `CHALLENGE_DEGREE`); every Merkle
//! digest is `[u8; 32]` (the Keccak sponge's four `u64` words, little-endian). The structs
//! follow the Plonky3 proof one to one (`WhirBody` -> `PcsBody` -> `WhirRoundBody` ->
//! `OpeningBody` / `SumcheckBody`, and `GkrBody`, `BusBody`, `IndexedBody`,
//! `GenericDegreeBody` for the multilinear STARK's own reductions); vectors of
//! extension elements are flattened into one `Vec<u32>`. An `Option` of the Plonky3 proof is a
//! vector of 0 or 1 entries (`lookup`, `indexed`, `bus`, `preprocessed_opening`) or, where the
//! configuration decides presence (the WHIR final sumcheck, the final polynomial, each round's
//! commitment), the plain value. The opened rows of a WHIR query phase are base-field rows in the
//! first phase and extension rows after it (`QueryOpenings::Base` / `Extension`); which one is
//! fixed by the round index, so the mirror carries no tag.
//!
//! # Which counts are derived and which are bounded
//!
//! `decode` takes the number of variables of the stacked trace (`num_variables`, which the
//! verifier computes from its own statement with [`super::whir::statement_num_variables`]) and
//! rebuilds the preset's `p3_whir::WhirConfig`, hence `p3_whir::WhirShape`. From those it
//! derives **exactly**: the initial out-of-domain answers, the initial sumcheck's rounds and
//! grinding witnesses, the number of WHIR rounds, per round its out-of-domain answers, its query
//! count (the draws, or the whole folded domain when the draws would saturate it), the width of
//! every opened row (`2^folding` base or extension elements), the Merkle tree height (bound on
//! pruned siblings per query), its sumcheck rounds and witnesses; the final polynomial's length,
//! the final query phase, and whether the final sumcheck exists and its length; and that a
//! zero-difficulty grinding witness is 0. The zerocheck's grinding witnesses follow from the
//! preset.
//!
//! The multilinear STARK's own reductions depend on the AIRs (table heights, constraint degree,
//! interactions), which `decode` does not see; the STARK verifier checks their exact counts
//! (rounds, layers, presence) before it uses them, and each round polynomial's width as it
//! replays the round (the test `bounded_counts_are_left_to_the_verifier_which_rejects_them`
//! exercises this). `decode` bounds them instead, so that no count read from the input can drive
//! work or memory beyond the input's size:
//!
//! - sumcheck and GKR round / layer counts (zerocheck, LogUp fractional GKR, bus product layers,
//!   indexed-lookup reductions): at most `num_variables + REDUCTION_SLACK` (every such reduction
//!   runs over one table's rows, a table's rows are cells of the stacked trace, and
//!   `REDUCTION_SLACK` leaves room for the selector bits batching several tables and for the
//!   interactions per row);
//! - round-polynomial degree of a generic-degree sumcheck: at most `MAX_SUMCHECK_DEGREE`;
//! - batched trees, readers, tables and claim vectors: at most `MAX_BATCHED` each;
//! - opening batches of the WHIR opening (`evals`): every batch non-empty, and the total claim
//!   count must pass `WhirConfig::validate_initial_claims` (the configuration's own budget);
//! - everything else (lengths of pushforwards, claims) is bounded by the input length, since
//!   bytecheck has placed every vector inside the input.
//!
//! # Decoding and where copies happen
//!
//! [`decode`] works in this order:
//!
//! 1. prefix (`crate::aggregate::wire::read_prefix`): magic, version, preset id, kind byte,
//!    exact archive length; then the preset must be a WHIR preset;
//! 2. the expected shape from the preset and `num_variables` (no input read);
//! 3. alignment: if the archive (`bytes[16..]`) is 16-aligned in the caller's buffer it is
//!    validated **in place**; otherwise it is copied **once** into an
//!    `rkyv::util::AlignedVec<16>` of the input's length;
//! 4. `rkyv::access` validates the whole archive with bytecheck before any field is read;
//! 5. every length is compared to the derived shape, or to its bound (see above);
//! 6. conversion into a [`WhirProof`] (allocations proportional to the input), rejecting any
//!    field element `>= p`;
//! 7. canonicity: the proof is re-encoded and must reproduce the input byte for byte (the second
//!    input-sized allocation), so each proof has exactly one accepted encoding.
//!
//! [`encode`] serializes the mirror with rkyv into an aligned buffer and copies it once behind the
//! prefix. The same proof always gives the same bytes.

use p3_bus::{BusProof, ProductGkrLayerProof, ProductGkrProof};
use p3_field::{BasedVectorSpace, PrimeField32};
use p3_merkle_tree::PrunedMerklePaths;
use p3_multi_stark::fractional_gkr::{FractionGkrLayerProof, FractionGkrProof, SplitFraction};
use p3_multi_stark::logup_star::LogupStarProof;
use p3_multi_stark::proof::IndexedLookupProof;
use p3_multi_stark::MultiStarkProof;
use p3_multilinear_util::poly::Poly;
use p3_sumcheck::generic_degree::GenericDegreeProof;
use p3_sumcheck::{OpeningBatch, SumcheckData};
use p3_whir::{
    PcsProof, QueryOpenings, SharedProofOpening, WhirConfig, WhirProof as WhirPcsRun,
    WhirRoundProof, WhirShape,
};
use rkyv::rancor;
use rkyv::rend::u32_le;

use super::{protocol_parameters, WhirProof};
use crate::aggregate::field::{Challenge, Challenger, Val, ValMmcs, CHALLENGE_DEGREE};
use crate::aggregate::options::VerifyError;
use crate::aggregate::preset::{WhirPreset, Preset};
use crate::aggregate::wire::{canonical, cap_from_wire, cap_root, check_at_most, check_len, decode_with, malformed, max_multiproof_siblings, paths_from_wire, paths_to_wire, push_ext, push_exts, with_prefix, Digest};

/// Extra variables a multilinear-STARK reduction may have over the stacked trace's
/// `num_variables` (selector bits of batched tables, interactions per row). A bound, not a count:
/// the STARK verifier checks the exact count.
pub const REDUCTION_SLACK: usize = 8;

/// Largest per-variable degree accepted for a generic-degree sumcheck round polynomial (the
/// constraint degree of the AIRs plus the equality factor is far below it).
pub const MAX_SUMCHECK_DEGREE: usize = 32;

/// Largest number of batched trees, readers, tables or claim vectors in one reduction.
pub const MAX_BATCHED: usize = 256;

/// Largest stacked-trace variable count `decode` hands to `WhirConfig` (which rejects, by
/// KoalaBear's two-adicity of 24, every count whose folded codeword does not fit 2^24 points;
/// this guard only keeps shifts of the count far from overflow).
const MAX_NUM_VARIABLES: usize = 48;

/// The WHIR opening proof of the STARK's commitment.
type Pcs = PcsProof<Val, Challenge, ValMmcs>;

/// One query phase's opened rows.
type Openings = QueryOpenings<Val, Challenge, PrunedMerklePaths<u64, 4>>;

/// Flat mirror of one sumcheck run (`SumcheckData`): `rounds * 2` extension elements
/// (`h(0), h(inf)` per round) and one grinding witness per round when its difficulty is positive.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq, Default)]
struct SumcheckBody {
    evals: Vec<u32>,
    pow_witnesses: Vec<u32>,
}

/// Flat mirror of one WHIR query phase (`QueryOpenings`): the opened rows, query-major
/// (`queries * 2^folding` base elements in the first phase, extension elements after it), and
/// the pruned Merkle multiproof (boundary siblings in frontier order).
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq, Default)]
struct OpeningBody {
    rows: Vec<u32>,
    paths: Vec<Digest>,
}

/// Flat mirror of one intermediate WHIR round (`WhirRoundProof`).
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct WhirRoundBody {
    /// Root of this round's folded codeword.
    commitment: Digest,
    /// Out-of-domain answers, extension elements.
    ood_answers: Vec<u32>,
    /// Grinding witness before this round's queries (0 at difficulty 0).
    pow_witness: u32,
    /// Query openings against the previous codeword.
    openings: OpeningBody,
    /// The folding sumcheck into the next round.
    sumcheck: SumcheckBody,
}

/// One opening batch (`OpeningBatch`): evaluations at the point and at its successor view,
/// extension elements.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct EvalBatchBody {
    current: Vec<u32>,
    next: Vec<u32>,
}

/// Flat mirror of the WHIR opening proof (`p3_whir::PcsProof`).
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct PcsBody {
    initial_ood_answers: Vec<u32>,
    initial_sumcheck: SumcheckBody,
    rounds: Vec<WhirRoundBody>,
    /// Final polynomial's evaluations, extension elements.
    final_poly: Vec<u32>,
    final_pow_witness: u32,
    final_openings: OpeningBody,
    /// Empty when the configuration has no final sumcheck rounds.
    final_sumcheck: SumcheckBody,
    evals: Vec<EvalBatchBody>,
}

/// One fractional-GKR layer: `k` round polynomials of 3 extension elements (layer `k`, counted
/// from the root) and the two child fractions `n0, d0, n1, d1`.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct GkrLayerBody {
    round_polys: Vec<u32>,
    claims: [u32; 4 * CHALLENGE_DEGREE],
}

/// Flat mirror of a fractional-GKR proof (`FractionGkrProof`).
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct GkrBody {
    root_denominator: [u32; CHALLENGE_DEGREE],
    layers: Vec<GkrLayerBody>,
}

/// Flat mirror of a generic-degree sumcheck (`GenericDegreeProof`): every round polynomial has
/// the same number of extension elements (the degree).
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct GenericDegreeBody {
    claimed_sum: [u32; CHALLENGE_DEGREE],
    round_polys: Vec<Vec<u32>>,
    pow_witnesses: Vec<u32>,
}

/// One product-tree layer of the bus proof (`ProductGkrLayerProof`): binary layers carry no
/// round polynomials and 2 children per tree, radix-four layers 5 extension elements per round
/// and 4 children per tree.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct BusLayerBody {
    radix_four: bool,
    round_polys: Vec<u32>,
    children: Vec<u32>,
}

/// Flat mirror of the bus proof (`p3_bus::BusProof`).
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct BusBody {
    roots: Vec<u32>,
    layers: Vec<BusLayerBody>,
}

/// Flat mirror of an indexed-lookup round (`IndexedLookupProof`), extension elements throughout.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct IndexedBody {
    reader_claims: Vec<Vec<u32>>,
    pushforwards: Vec<Vec<u32>>,
    fraction_gkr: GkrBody,
    position_claims: Vec<u32>,
    product: GenericDegreeBody,
    column_claims: Vec<Vec<u32>>,
}

/// Flat mirror of the multilinear STARK proof. Field order is the wire order.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, PartialEq, Eq)]
struct WhirBody {
    /// Root of the WHIR commitment to the stacked main traces.
    commitment: Digest,
    /// LogUp fractional GKR: 0 or 1 entries.
    lookup: Vec<GkrBody>,
    /// Indexed-lookup round: 0 or 1 entries.
    indexed: Vec<IndexedBody>,
    /// Bus product proof: 0 or 1 entries.
    bus: Vec<BusBody>,
    /// The shared zerocheck sumcheck.
    sumcheck: GenericDegreeBody,
    /// WHIR opening of the main traces.
    opening: PcsBody,
    /// WHIR opening of the preprocessed traces: 0 or 1 entries (always 0 here: no AIR of the
    /// aggregation has preprocessed columns, and `WhirStarkConfig` commits none).
    preprocessed_opening: Vec<PcsBody>,
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

fn exts(es: &[Challenge]) -> Vec<u32> {
    let mut out = Vec::with_capacity(es.len() * CHALLENGE_DEGREE);
    push_exts(&mut out, es);
    out
}

fn ext_array(e: &Challenge) -> [u32; CHALLENGE_DEGREE] {
    let mut out = [0u32; CHALLENGE_DEGREE];
    for (o, c) in out
        .iter_mut()
        .zip(BasedVectorSpace::<Val>::as_basis_coefficients_slice(e))
    {
        *o = c.as_canonical_u32();
    }
    out
}

fn vals(vs: &[Val]) -> Vec<u32> {
    vs.iter().map(|v| v.as_canonical_u32()).collect()
}

fn sumcheck_body(s: &SumcheckData<Val, Challenge>) -> SumcheckBody {
    let mut evals = Vec::with_capacity(s.polynomial_evaluations.len() * 2 * CHALLENGE_DEGREE);
    for pair in &s.polynomial_evaluations {
        for e in pair {
            push_ext(&mut evals, e);
        }
    }
    SumcheckBody {
        evals,
        pow_witnesses: vals(&s.pow_witnesses),
    }
}

fn opening_body(o: &Openings) -> OpeningBody {
    let (rows, proof) = match o {
        QueryOpenings::Base(op) => (op.rows.iter().flat_map(|r| vals(r)).collect(), &op.proof),
        QueryOpenings::Extension(op) => (op.rows.iter().flat_map(|r| exts(r)).collect(), &op.proof),
    };
    OpeningBody {
        rows,
        paths: paths_to_wire(proof),
    }
}

fn pcs_body(p: &Pcs) -> PcsBody {
    let w = &p.whir;
    PcsBody {
        initial_ood_answers: exts(&w.initial_ood_answers),
        initial_sumcheck: sumcheck_body(&w.initial_sumcheck),
        rounds: w
            .rounds
            .iter()
            .map(|r| WhirRoundBody {
                commitment: r.commitment.as_ref().map_or([0u8; 32], cap_root),
                ood_answers: exts(&r.ood_answers),
                pow_witness: r.pow_witness.as_canonical_u32(),
                openings: opening_body(&r.openings),
                sumcheck: sumcheck_body(&r.sumcheck),
            })
            .collect(),
        final_poly: w
            .final_poly
            .as_ref()
            .map_or_else(Vec::new, |p| exts(p.as_slice())),
        final_pow_witness: w.final_pow_witness.as_canonical_u32(),
        final_openings: opening_body(&w.final_openings),
        final_sumcheck: w
            .final_sumcheck
            .as_ref()
            .map_or_else(SumcheckBody::default, sumcheck_body),
        evals: p
            .evals
            .iter()
            .map(|b| EvalBatchBody {
                current: exts(b.current()),
                next: exts(b.next()),
            })
            .collect(),
    }
}

fn gkr_body(g: &FractionGkrProof<Challenge>) -> GkrBody {
    GkrBody {
        root_denominator: ext_array(&g.root_denominator),
        layers: g
            .layers
            .iter()
            .map(|l| {
                let mut round_polys =
                    Vec::with_capacity(l.round_polys.len() * 3 * CHALLENGE_DEGREE);
                for p in &l.round_polys {
                    for e in p {
                        push_ext(&mut round_polys, e);
                    }
                }
                let c = &l.claims;
                let mut claims = [0u32; 4 * CHALLENGE_DEGREE];
                for (chunk, e) in claims
                    .chunks_exact_mut(CHALLENGE_DEGREE)
                    .zip([&c.n0, &c.d0, &c.n1, &c.d1])
                {
                    chunk.copy_from_slice(&ext_array(e));
                }
                GkrLayerBody {
                    round_polys,
                    claims,
                }
            })
            .collect(),
    }
}

fn generic_degree_body(g: &GenericDegreeProof<Val, Challenge>) -> GenericDegreeBody {
    GenericDegreeBody {
        claimed_sum: ext_array(&g.claimed_sum),
        round_polys: g.round_polys.iter().map(|p| exts(p)).collect(),
        pow_witnesses: vals(&g.pow_witnesses),
    }
}

fn bus_body(b: &BusProof<Challenge>) -> BusBody {
    BusBody {
        roots: exts(&b.product.roots),
        layers: b
            .product
            .layers
            .iter()
            .map(|l| match l {
                ProductGkrLayerProof::Binary { children } => BusLayerBody {
                    radix_four: false,
                    round_polys: Vec::new(),
                    children: children.iter().flat_map(|c| exts(c)).collect(),
                },
                ProductGkrLayerProof::RadixFour {
                    round_polys,
                    children,
                } => BusLayerBody {
                    radix_four: true,
                    round_polys: round_polys.iter().flat_map(|p| exts(p)).collect(),
                    children: children.iter().flat_map(|c| exts(c)).collect(),
                },
            })
            .collect(),
    }
}

fn indexed_body(i: &IndexedLookupProof<Val, Challenge>) -> IndexedBody {
    let r = &i.reduction;
    IndexedBody {
        reader_claims: i.reader_claims.iter().map(|c| exts(c)).collect(),
        pushforwards: r.pushforwards.iter().map(|c| exts(c)).collect(),
        fraction_gkr: gkr_body(&r.fraction_gkr),
        position_claims: exts(&r.position_claims),
        product: generic_degree_body(&r.product),
        column_claims: r.column_claims.iter().map(|c| exts(c)).collect(),
    }
}

impl WhirBody {
    fn from_proof(proof: &WhirProof) -> Self {
        WhirBody {
            commitment: cap_root(&proof.commitment),
            lookup: proof.lookup.iter().map(gkr_body).collect(),
            indexed: proof.indexed.iter().map(indexed_body).collect(),
            bus: proof.bus.iter().map(bus_body).collect(),
            sumcheck: generic_degree_body(&proof.sumcheck),
            opening: pcs_body(&proof.opening),
            preprocessed_opening: proof.preprocessed_opening.iter().map(pcs_body).collect(),
        }
    }
}

/// Serializes a WHIR-backend proof made under `preset` (a [`Backend::Whir`] preset) into the
/// aggregate proof format (see the module docs).
///
/// Deterministic: the same proof always gives the same bytes. Copies: the rkyv archive is built
/// in an aligned scratch buffer and copied once behind the prefix.
pub fn encode(preset: &WhirPreset, proof: &WhirProof) -> Vec<u8> {
    encode_body(preset, &WhirBody::from_proof(proof))
}

/// The rkyv archive of `proof`'s mirror alone, without the 16-byte prefix: the body of a
/// compact parent proof (`recursion::parent::CompactParentProof::to_bytes`), whose own header
/// names the WHIR parameters. Deterministic.
pub(crate) fn encode_archive(proof: &WhirProof) -> Vec<u8> {
    rkyv::to_bytes::<rancor::Error>(&WhirBody::from_proof(proof))
        .expect("in-memory rkyv serialization")
        .to_vec()
}

/// Reads an archive of [`encode_archive`] as a proof under `preset` for a stacked trace of
/// `num_variables` variables, with every count checked as [`decode`] checks it. Canonicity is the
/// caller's to check (it re-encodes the whole proof).
///
/// # Errors
/// [`VerifyError::Malformed`] as [`decode`].
pub(crate) fn decode_archive(
    archive: &[u8],
    preset: &WhirPreset,
    num_variables: usize,
) -> Result<WhirProof, VerifyError> {
    crate::aggregate::wire::decode_archive(archive, |body: &ArchivedWhirBody| {
        let e = Expected::new(preset, num_variables)?;
        check_shape(body, &e)?;
        to_proof(body, &e)
    })
}

fn encode_body(preset: &WhirPreset, body: &WhirBody) -> Vec<u8> {
    // Serializing plain vectors of integers into memory fails only on allocation failure,
    // which aborts anyway.
    let archive = rkyv::to_bytes::<rancor::Error>(body).expect("in-memory rkyv serialization");
    with_prefix(preset.id(), &archive)
}

// ---------------------------------------------------------------------------------------------
// The expected shape
// ---------------------------------------------------------------------------------------------

/// Rounds and grinding of one sumcheck run.
#[derive(Clone, Copy, Debug)]
struct SumcheckExpect {
    rounds: usize,
    pow: bool,
}

/// One WHIR query phase: queried rows, `u32` per row, Merkle tree height, grinding difficulty.
#[derive(Clone, Copy, Debug)]
struct QueryExpect {
    rows: usize,
    row_words: usize,
    tree_height: usize,
    pow: bool,
}

/// One intermediate WHIR round.
#[derive(Clone, Copy, Debug)]
struct RoundExpect {
    ood: usize,
    query: QueryExpect,
    sumcheck: SumcheckExpect,
}

/// The counts a well-formed proof under `preset` for `num_variables` has, derived without the
/// proof, and the bounds of the counts that are not derivable (see the module docs).
struct Expected {
    config: WhirConfig<Challenge, Val, Challenger>,
    initial_ood: usize,
    initial_sumcheck: SumcheckExpect,
    rounds: Vec<RoundExpect>,
    /// Final polynomial length, extension elements.
    final_poly: usize,
    final_query: QueryExpect,
    final_sumcheck: SumcheckExpect,
    zerocheck_pow: bool,
    /// Bound on any multilinear-STARK reduction's round / layer count.
    max_reduction_rounds: usize,
}

impl Expected {
    fn new(preset: &WhirPreset, num_variables: usize) -> Result<Self, VerifyError> {
        let first = usize::from(preset.first_folding);
        if num_variables < first || num_variables > MAX_NUM_VARIABLES {
            return Err(malformed(format!(
                "stacked trace of {num_variables} variables is outside this preset's range \
                 {first}..={MAX_NUM_VARIABLES}"
            )));
        }
        let params = protocol_parameters(preset, num_variables).map_err(malformed)?;
        let config =
            WhirConfig::<Challenge, Val, Challenger>::new(num_variables, params).map_err(|e| {
                malformed(format!(
                    "WHIR parameters for {num_variables} variables: {e:?}"
                ))
            })?;
        let shape = WhirShape::new(&config, 0);
        let schedule = config.folding_schedule();
        if schedule.len() != shape.rounds.len() + 1 {
            return Err(malformed("WHIR folding schedule disagrees with its rounds"));
        }
        // A phase whose draws would cover the whole folded domain opens every position.
        let rows = |draws: usize, index_bits: usize| {
            if draws == 0 {
                1usize << index_bits
            } else {
                draws
            }
        };
        let query = |round: usize, draws: usize, index_bits: usize, pow_bits: usize| QueryExpect {
            rows: rows(draws, index_bits),
            row_words: (1usize << schedule[round]) * if round == 0 { 1 } else { CHALLENGE_DEGREE },
            tree_height: index_bits,
            pow: pow_bits > 0,
        };
        let rounds = shape
            .rounds
            .iter()
            .enumerate()
            .map(|(i, r)| RoundExpect {
                ood: r.ood_samples,
                query: query(i, r.query_draws, r.index_bits, r.query_pow_bits),
                sumcheck: SumcheckExpect {
                    rounds: r.sumcheck.rounds,
                    pow: r.sumcheck.pow_bits > 0,
                },
            })
            .collect::<Vec<_>>();
        let n = rounds.len();
        Ok(Expected {
            initial_ood: shape.commitment_ood_samples,
            initial_sumcheck: SumcheckExpect {
                rounds: shape.initial_sumcheck.rounds,
                pow: shape.initial_sumcheck.pow_bits > 0,
            },
            rounds,
            final_poly: shape.final_poly_len,
            final_query: query(
                n,
                shape.final_query_draws,
                shape.final_index_bits,
                shape.final_pow_bits,
            ),
            final_sumcheck: SumcheckExpect {
                rounds: shape.final_sumcheck.rounds,
                pow: shape.final_sumcheck.pow_bits > 0,
            },
            zerocheck_pow: preset.zerocheck_pow_bits > 0,
            max_reduction_rounds: num_variables + REDUCTION_SLACK,
            config,
        })
    }
}

/// Evaluations per zerocheck round polynomial that [`max_encoded_len`] charges: the AIRs'
/// constraint degree (3) times the equality factor and the selector, plus one, with room to
/// spare. A test checks real proofs against it.
pub const ZEROCHECK_ROUND_EVALS: usize = 8;

/// The round counts of a batch's own reductions, for a caller of [`max_encoded_len`] that
/// derives them from the AIRs and trace heights: the LogUp fractional GKR's layers (layer `k`
/// has `k` sumcheck rounds) and the zerocheck sumcheck's rounds. Without them the bound takes
/// both at their decoding bound (`num_variables + REDUCTION_SLACK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reductions {
    pub gkr_layers: usize,
    pub zerocheck_rounds: usize,
}

/// The [`Reductions`] an archive of [`encode_archive`] holds (its LogUp proof's layers, 0 if
/// it has none, and its zerocheck's rounds), read after the same validation as
/// [`decode_archive`]: the tests hold a batch's derived counts to real proofs with it.
///
/// # Errors
/// [`VerifyError::Malformed`] as [`decode_archive`].
#[cfg(test)]
pub(crate) fn reductions_of(
    archive: &[u8],
    preset: &WhirPreset,
    num_variables: usize,
) -> Result<Reductions, VerifyError> {
    crate::aggregate::wire::decode_archive(archive, |body: &ArchivedWhirBody| {
        check_shape(body, &Expected::new(preset, num_variables)?)?;
        Ok(Reductions {
            gkr_layers: body.lookup.first().map_or(0, |g| g.layers.len()),
            zerocheck_rounds: body.sumcheck.round_polys.len(),
        })
    })
}

/// Each AIR's `(width, next)` for [`max_encoded_len`]: its main columns and how many of them it
/// reads on the next row (`main_next_row_columns`).
pub fn table_shapes<A: p3_air::BaseAir<Val>>(airs: &[A]) -> Vec<(usize, usize)> {
    airs.iter()
        .map(|a| (a.width(), a.main_next_row_columns().len()))
        .collect()
}

/// An upper bound on the length of a proof under the WHIR `preset` for a stacked trace of
/// `num_variables` whose tables are `tables`, each `(width, next)`: its columns and how many of
/// them its AIR reads on the next row (`main_next_row_columns`). Counted: the WHIR opening at
/// the counts the configuration fixes with every Merkle multiproof at
/// [`max_multiproof_siblings`], every table column evaluated at the zerocheck point and each
/// next-row column at its successor (p3-multi-stark opens no other), the LogUp fractional GKR
/// and the zerocheck sumcheck at `reductions` when the caller derives them, else at their
/// bounded round counts ([`REDUCTION_SLACK`] over `num_variables`), with
/// [`ZEROCHECK_ROUND_EVALS`] evaluations per round, and no indexed-lookup or bus proof (the
/// aggregation AIRs use neither; tests check real proofs against the bound).
///
/// # Errors
/// [`VerifyError::Malformed`] when the schedule does not fit `num_variables` (as [`decode`]).
pub fn max_encoded_len(
    preset: &WhirPreset,
    num_variables: usize,
    tables: &[(usize, usize)],
    reductions: Option<Reductions>,
) -> Result<usize, VerifyError> {
    let e = Expected::new(preset, num_variables)?;
    let max = e.max_reduction_rounds;
    let (gkr_layers, zerocheck_rounds) =
        reductions.map_or((max, max), |r| (r.gkr_layers.min(max), r.zerocheck_rounds.min(max)));
    let d = CHALLENGE_DEGREE;
    let sumcheck = |s: SumcheckExpect| SumcheckBody {
        evals: vec![0; s.rounds * 2 * d],
        pow_witnesses: vec![0; if s.pow { s.rounds } else { 0 }],
    };
    let opening = |q: QueryExpect| OpeningBody {
        rows: vec![0; q.rows * q.row_words],
        paths: vec![[0; 32]; max_multiproof_siblings(q.rows, q.tree_height)],
    };
    let body = WhirBody {
        commitment: [0; 32],
        lookup: vec![GkrBody {
            root_denominator: [0; CHALLENGE_DEGREE],
            layers: (0..gkr_layers)
                .map(|k| GkrLayerBody {
                    round_polys: vec![0; k * 3 * d],
                    claims: [0; 4 * CHALLENGE_DEGREE],
                })
                .collect(),
        }],
        indexed: Vec::new(),
        bus: Vec::new(),
        sumcheck: GenericDegreeBody {
            claimed_sum: [0; CHALLENGE_DEGREE],
            round_polys: vec![vec![0; ZEROCHECK_ROUND_EVALS * d]; zerocheck_rounds],
            pow_witnesses: vec![0; if e.zerocheck_pow { zerocheck_rounds } else { 0 }],
        },
        opening: PcsBody {
            initial_ood_answers: vec![0; e.initial_ood * d],
            initial_sumcheck: sumcheck(e.initial_sumcheck),
            rounds: e
                .rounds
                .iter()
                .map(|r| WhirRoundBody {
                    commitment: [0; 32],
                    ood_answers: vec![0; r.ood * d],
                    pow_witness: 0,
                    openings: opening(r.query),
                    sumcheck: sumcheck(r.sumcheck),
                })
                .collect(),
            final_poly: vec![0; e.final_poly * d],
            final_pow_witness: 0,
            final_openings: opening(e.final_query),
            final_sumcheck: sumcheck(e.final_sumcheck),
            evals: tables
                .iter()
                .map(|&(w, next)| EvalBatchBody {
                    current: vec![0; w * d],
                    next: vec![0; next * d],
                })
                .collect(),
        },
        preprocessed_opening: Vec::new(),
    };
    Ok(encode_body(preset, &body).len())
}

// ---------------------------------------------------------------------------------------------
// Shape checks (on the validated archive, before any conversion)
// ---------------------------------------------------------------------------------------------

fn check_exts(what: &str, got: usize) -> Result<(), VerifyError> {
    if got.is_multiple_of(CHALLENGE_DEGREE) {
        Ok(())
    } else {
        Err(malformed(format!(
            "{what}: {got} words, not a whole number of extension elements"
        )))
    }
}

/// `a * b`, or an error naming `what` on overflow (only reachable with absurd configurations).
fn mul(what: &str, a: usize, b: usize) -> Result<usize, VerifyError> {
    a.checked_mul(b)
        .ok_or_else(|| malformed(format!("{what}: size overflows")))
}

fn check_sumcheck(
    what: &str,
    s: &ArchivedSumcheckBody,
    e: SumcheckExpect,
) -> Result<(), VerifyError> {
    check_len(
        &format!("{what} evaluations"),
        s.evals.len(),
        mul(what, e.rounds, 2 * CHALLENGE_DEGREE)?,
    )?;
    check_len(
        &format!("{what} grinding witnesses"),
        s.pow_witnesses.len(),
        if e.pow { e.rounds } else { 0 },
    )
}

fn check_opening(what: &str, o: &ArchivedOpeningBody, e: QueryExpect) -> Result<(), VerifyError> {
    check_len(
        &format!("{what} opened rows"),
        o.rows.len(),
        mul(what, e.rows, e.row_words)?,
    )?;
    check_at_most(
        &format!("{what} Merkle siblings"),
        o.paths.len(),
        max_multiproof_siblings(e.rows, e.tree_height),
    )
}

fn check_pow(what: &str, witness: u32, pow: bool) -> Result<(), VerifyError> {
    if !pow && witness != 0 {
        return Err(malformed(format!(
            "{what}: grinding witness at difficulty 0 must be 0"
        )));
    }
    Ok(())
}

fn check_pcs(p: &ArchivedPcsBody, e: &Expected) -> Result<(), VerifyError> {
    check_len(
        "WHIR initial OOD answers",
        p.initial_ood_answers.len(),
        e.initial_ood * CHALLENGE_DEGREE,
    )?;
    check_sumcheck(
        "WHIR initial sumcheck",
        &p.initial_sumcheck,
        e.initial_sumcheck,
    )?;
    check_len("WHIR rounds", p.rounds.len(), e.rounds.len())?;
    for (i, (r, x)) in p.rounds.iter().zip(&e.rounds).enumerate() {
        check_len(
            &format!("WHIR round {i} OOD answers"),
            r.ood_answers.len(),
            x.ood * CHALLENGE_DEGREE,
        )?;
        check_pow(
            &format!("WHIR round {i}"),
            r.pow_witness.to_native(),
            x.query.pow,
        )?;
        check_opening(&format!("WHIR round {i}"), &r.openings, x.query)?;
        check_sumcheck(&format!("WHIR round {i} sumcheck"), &r.sumcheck, x.sumcheck)?;
    }
    check_len(
        "WHIR final polynomial",
        p.final_poly.len(),
        mul("WHIR final polynomial", e.final_poly, CHALLENGE_DEGREE)?,
    )?;
    check_pow(
        "WHIR final queries",
        p.final_pow_witness.to_native(),
        e.final_query.pow,
    )?;
    check_opening("WHIR final queries", &p.final_openings, e.final_query)?;
    check_sumcheck("WHIR final sumcheck", &p.final_sumcheck, e.final_sumcheck)?;
    // Opening batches: each names at least one column; the total claim count is bounded by the
    // configuration's own budget (the prover checks the same before it opens).
    let mut claims = 0usize;
    for (b, batch) in p.evals.iter().enumerate() {
        check_exts("opening batch (current)", batch.current.len())?;
        check_exts("opening batch (next)", batch.next.len())?;
        let n = (batch.current.len() + batch.next.len()) / CHALLENGE_DEGREE;
        if n == 0 {
            return Err(malformed(format!("opening batch {b} is empty")));
        }
        claims += n;
    }
    e.config
        .validate_initial_claims(claims.saturating_add(e.initial_ood))
        .map_err(|err| {
            malformed(format!(
                "{claims} opening claims exceed the WHIR budget: {err:?}"
            ))
        })
}

fn check_gkr(what: &str, g: &ArchivedGkrBody, max_layers: usize) -> Result<(), VerifyError> {
    check_at_most(&format!("{what} layers"), g.layers.len(), max_layers)?;
    for (k, layer) in g.layers.iter().enumerate() {
        check_len(
            &format!("{what} layer {k} round polynomials"),
            layer.round_polys.len(),
            k * 3 * CHALLENGE_DEGREE,
        )?;
    }
    Ok(())
}

fn check_generic_degree(
    what: &str,
    g: &ArchivedGenericDegreeBody,
    max_rounds: usize,
    pow: Option<bool>,
) -> Result<(), VerifyError> {
    let rounds = g.round_polys.len();
    check_at_most(&format!("{what} rounds"), rounds, max_rounds)?;
    if let Some(first) = g.round_polys.first() {
        check_exts(&format!("{what} round polynomial"), first.len())?;
        let degree = first.len() / CHALLENGE_DEGREE;
        if degree == 0 || degree > MAX_SUMCHECK_DEGREE {
            return Err(malformed(format!(
                "{what}: round polynomials of {degree} evaluations, expected 1..={MAX_SUMCHECK_DEGREE}"
            )));
        }
        for p in g.round_polys.iter() {
            check_len(&format!("{what} round polynomial"), p.len(), first.len())?;
        }
    }
    match pow {
        Some(pow) => check_len(
            &format!("{what} grinding witnesses"),
            g.pow_witnesses.len(),
            if pow { rounds } else { 0 },
        ),
        None => {
            // Difficulty set by the reduction itself: one witness per round, or none.
            if g.pow_witnesses.is_empty() || g.pow_witnesses.len() == rounds {
                Ok(())
            } else {
                Err(malformed(format!(
                    "{what}: {} grinding witnesses for {rounds} rounds",
                    g.pow_witnesses.len()
                )))
            }
        }
    }
}

fn check_bus(b: &ArchivedBusBody, max_layers: usize) -> Result<(), VerifyError> {
    check_exts("bus roots", b.roots.len())?;
    check_at_most("bus roots", b.roots.len() / CHALLENGE_DEGREE, MAX_BATCHED)?;
    check_at_most("bus layers", b.layers.len(), max_layers)?;
    for (k, layer) in b.layers.iter().enumerate() {
        let what = format!("bus layer {k}");
        let children_per_tree = if layer.radix_four { 4 } else { 2 };
        check_exts(&what, layer.children.len())?;
        let children = layer.children.len() / CHALLENGE_DEGREE;
        if !children.is_multiple_of(children_per_tree) {
            return Err(malformed(format!(
                "{what}: {children} children, not {children_per_tree} per tree"
            )));
        }
        check_at_most(
            &format!("{what} trees"),
            children / children_per_tree,
            MAX_BATCHED,
        )?;
        if layer.radix_four {
            let words = layer.round_polys.len();
            if !words.is_multiple_of(5 * CHALLENGE_DEGREE) {
                return Err(malformed(format!(
                    "{what}: round polynomials of the wrong width"
                )));
            }
            check_at_most(
                &format!("{what} rounds"),
                words / (5 * CHALLENGE_DEGREE),
                max_layers * 2,
            )?;
        } else {
            check_len(
                &format!("{what} round polynomials"),
                layer.round_polys.len(),
                0,
            )?;
        }
    }
    Ok(())
}

fn check_ext_vectors(
    what: &str,
    v: &rkyv::vec::ArchivedVec<rkyv::vec::ArchivedVec<u32_le>>,
) -> Result<(), VerifyError> {
    check_at_most(what, v.len(), MAX_BATCHED)?;
    for inner in v.iter() {
        check_exts(what, inner.len())?;
    }
    Ok(())
}

fn check_indexed(i: &ArchivedIndexedBody, max_rounds: usize) -> Result<(), VerifyError> {
    check_ext_vectors("indexed reader claims", &i.reader_claims)?;
    check_ext_vectors("indexed pushforwards", &i.pushforwards)?;
    check_gkr("indexed fractional GKR", &i.fraction_gkr, max_rounds)?;
    check_exts("indexed position claims", i.position_claims.len())?;
    check_at_most(
        "indexed position claims",
        i.position_claims.len() / CHALLENGE_DEGREE,
        MAX_BATCHED,
    )?;
    check_generic_degree("indexed product sumcheck", &i.product, max_rounds, None)?;
    check_ext_vectors("indexed column claims", &i.column_claims)
}

/// Checks every length of a validated archive against the expected shape and bounds.
fn check_shape(body: &ArchivedWhirBody, e: &Expected) -> Result<(), VerifyError> {
    let max = e.max_reduction_rounds;
    check_at_most("LogUp proofs", body.lookup.len(), 1)?;
    check_at_most("indexed-lookup proofs", body.indexed.len(), 1)?;
    check_at_most("bus proofs", body.bus.len(), 1)?;
    if !body.preprocessed_opening.is_empty() {
        return Err(malformed(
            "preprocessed opening present, but this configuration commits no preprocessed trace",
        ));
    }
    for g in body.lookup.iter() {
        check_gkr("LogUp fractional GKR", g, max)?;
    }
    for i in body.indexed.iter() {
        check_indexed(i, max)?;
    }
    for b in body.bus.iter() {
        check_bus(b, max)?;
    }
    check_generic_degree(
        "zerocheck sumcheck",
        &body.sumcheck,
        max,
        Some(e.zerocheck_pow),
    )?;
    check_pcs(&body.opening, e)
}

// ---------------------------------------------------------------------------------------------
// Conversion (lengths already checked; every field element checked for canonicity)
// ---------------------------------------------------------------------------------------------

fn val(w: &u32_le, what: &str) -> Result<Val, VerifyError> {
    canonical(w.to_native(), what)
}

fn base_vec(ws: &[u32_le], what: &str) -> Result<Vec<Val>, VerifyError> {
    ws.iter().map(|w| val(w, what)).collect()
}

fn ext(ws: &[u32_le], what: &str) -> Result<Challenge, VerifyError> {
    if ws.len() != CHALLENGE_DEGREE {
        return Err(malformed(format!(
            "{what}: extension element of {} words",
            ws.len()
        )));
    }
    let mut c = [Val::new(0); CHALLENGE_DEGREE];
    for (x, w) in c.iter_mut().zip(ws) {
        *x = val(w, what)?;
    }
    Ok(Challenge::from_basis_coefficients_fn(|i| c[i]))
}

fn ext_vec(ws: &[u32_le], what: &str) -> Result<Vec<Challenge>, VerifyError> {
    check_exts(what, ws.len())?;
    ws.chunks_exact(CHALLENGE_DEGREE)
        .map(|c| ext(c, what))
        .collect()
}

fn ext_arr<const N: usize>(ws: &[u32_le], what: &str) -> Result<[Challenge; N], VerifyError> {
    let v = ext_vec(ws, what)?;
    v.try_into()
        .map_err(|v: Vec<Challenge>| malformed(format!("{what}: {} values, expected {N}", v.len())))
}

fn to_sumcheck(
    s: &ArchivedSumcheckBody,
    what: &str,
) -> Result<SumcheckData<Val, Challenge>, VerifyError> {
    Ok(SumcheckData {
        polynomial_evaluations: s
            .evals
            .chunks_exact(2 * CHALLENGE_DEGREE)
            .map(|c| ext_arr::<2>(c, what))
            .collect::<Result<_, _>>()?,
        pow_witnesses: base_vec(&s.pow_witnesses, what)?,
    })
}

fn to_openings(
    o: &ArchivedOpeningBody,
    e: QueryExpect,
    base: bool,
    what: &str,
) -> Result<Openings, VerifyError> {
    if e.row_words == 0 {
        return Err(malformed(format!("{what}: empty rows")));
    }
    let proof = paths_from_wire::<u64, 4>(&o.paths)?;
    if base {
        let rows = o
            .rows
            .chunks_exact(e.row_words)
            .map(|r| base_vec(r, what))
            .collect::<Result<_, _>>()?;
        Ok(QueryOpenings::Base(SharedProofOpening { rows, proof }))
    } else {
        let rows = o
            .rows
            .chunks_exact(e.row_words)
            .map(|r| ext_vec(r, what))
            .collect::<Result<_, _>>()?;
        Ok(QueryOpenings::Extension(SharedProofOpening { rows, proof }))
    }
}

fn to_pcs(p: &ArchivedPcsBody, e: &Expected) -> Result<Pcs, VerifyError> {
    let rounds = p
        .rounds
        .iter()
        .zip(&e.rounds)
        .enumerate()
        .map(|(i, (r, x))| {
            Ok(WhirRoundProof {
                commitment: Some(cap_from_wire::<[u64; 4]>(&r.commitment)?),
                ood_answers: ext_vec(&r.ood_answers, "WHIR round OOD answers")?,
                pow_witness: val(&r.pow_witness, "WHIR round grinding witness")?,
                openings: to_openings(&r.openings, x.query, i == 0, "WHIR round openings")?,
                sumcheck: to_sumcheck(&r.sumcheck, "WHIR round sumcheck")?,
            })
        })
        .collect::<Result<Vec<_>, VerifyError>>()?;
    let final_evals = ext_vec(&p.final_poly, "WHIR final polynomial")?;
    if !final_evals.len().is_power_of_two() {
        return Err(malformed(
            "WHIR final polynomial length is not a power of two",
        ));
    }
    let whir = WhirPcsRun {
        initial_ood_answers: ext_vec(&p.initial_ood_answers, "WHIR initial OOD answers")?,
        initial_sumcheck: to_sumcheck(&p.initial_sumcheck, "WHIR initial sumcheck")?,
        rounds,
        final_poly: Some(Poly::new(final_evals)),
        final_pow_witness: val(&p.final_pow_witness, "WHIR final grinding witness")?,
        final_openings: to_openings(
            &p.final_openings,
            e.final_query,
            e.rounds.is_empty(),
            "WHIR final openings",
        )?,
        final_sumcheck: if e.final_sumcheck.rounds > 0 {
            Some(to_sumcheck(&p.final_sumcheck, "WHIR final sumcheck")?)
        } else {
            None
        },
    };
    let evals = p
        .evals
        .iter()
        .map(|b| {
            let current = ext_vec(&b.current, "opening evaluations")?;
            let next = ext_vec(&b.next, "opening evaluations")?;
            if current.is_empty() && next.is_empty() {
                // Checked in `check_pcs`; `OpeningBatch::new` would panic on it.
                return Err(malformed("empty opening batch"));
            }
            Ok(OpeningBatch::new(current, next))
        })
        .collect::<Result<Vec<_>, VerifyError>>()?;
    Ok(PcsProof { whir, evals })
}

fn to_gkr(g: &ArchivedGkrBody, what: &str) -> Result<FractionGkrProof<Challenge>, VerifyError> {
    Ok(FractionGkrProof {
        root_denominator: ext(&g.root_denominator, what)?,
        layers: g
            .layers
            .iter()
            .map(|l| {
                let [n0, d0, n1, d1] = ext_arr::<4>(&l.claims, what)?;
                Ok(FractionGkrLayerProof {
                    round_polys: l
                        .round_polys
                        .chunks_exact(3 * CHALLENGE_DEGREE)
                        .map(|c| ext_arr::<3>(c, what))
                        .collect::<Result<_, _>>()?,
                    claims: SplitFraction { n0, d0, n1, d1 },
                })
            })
            .collect::<Result<_, VerifyError>>()?,
    })
}

fn to_generic_degree(
    g: &ArchivedGenericDegreeBody,
    what: &str,
) -> Result<GenericDegreeProof<Val, Challenge>, VerifyError> {
    Ok(GenericDegreeProof {
        claimed_sum: ext(&g.claimed_sum, what)?,
        round_polys: g
            .round_polys
            .iter()
            .map(|p| ext_vec(p, what))
            .collect::<Result<_, _>>()?,
        pow_witnesses: base_vec(&g.pow_witnesses, what)?,
    })
}

fn to_bus(b: &ArchivedBusBody) -> Result<BusProof<Challenge>, VerifyError> {
    let what = "bus product proof";
    let layers = b
        .layers
        .iter()
        .map(|l| {
            if l.radix_four {
                Ok(ProductGkrLayerProof::RadixFour {
                    round_polys: l
                        .round_polys
                        .chunks_exact(5 * CHALLENGE_DEGREE)
                        .map(|c| ext_arr::<5>(c, what))
                        .collect::<Result<_, _>>()?,
                    children: l
                        .children
                        .chunks_exact(4 * CHALLENGE_DEGREE)
                        .map(|c| ext_arr::<4>(c, what))
                        .collect::<Result<_, _>>()?,
                })
            } else {
                Ok(ProductGkrLayerProof::Binary {
                    children: l
                        .children
                        .chunks_exact(2 * CHALLENGE_DEGREE)
                        .map(|c| ext_arr::<2>(c, what))
                        .collect::<Result<_, _>>()?,
                })
            }
        })
        .collect::<Result<_, VerifyError>>()?;
    Ok(BusProof {
        product: ProductGkrProof {
            roots: ext_vec(&b.roots, what)?,
            layers,
        },
    })
}

fn to_ext_vectors(
    v: &rkyv::vec::ArchivedVec<rkyv::vec::ArchivedVec<u32_le>>,
    what: &str,
) -> Result<Vec<Vec<Challenge>>, VerifyError> {
    v.iter().map(|inner| ext_vec(inner, what)).collect()
}

fn to_indexed(i: &ArchivedIndexedBody) -> Result<IndexedLookupProof<Val, Challenge>, VerifyError> {
    Ok(IndexedLookupProof {
        reader_claims: to_ext_vectors(&i.reader_claims, "indexed reader claims")?,
        reduction: LogupStarProof {
            pushforwards: to_ext_vectors(&i.pushforwards, "indexed pushforwards")?,
            fraction_gkr: to_gkr(&i.fraction_gkr, "indexed fractional GKR")?,
            position_claims: ext_vec(&i.position_claims, "indexed position claims")?,
            product: to_generic_degree(&i.product, "indexed product sumcheck")?,
            column_claims: to_ext_vectors(&i.column_claims, "indexed column claims")?,
        },
    })
}

/// Converts a validated, shape-checked archive into the Plonky3 proof.
fn to_proof(body: &ArchivedWhirBody, e: &Expected) -> Result<WhirProof, VerifyError> {
    Ok(MultiStarkProof {
        commitment: cap_from_wire::<[u64; 4]>(&body.commitment)?,
        lookup: body
            .lookup
            .first()
            .map(|g| to_gkr(g, "LogUp fractional GKR"))
            .transpose()?,
        indexed: body.indexed.first().map(to_indexed).transpose()?,
        bus: body.bus.first().map(to_bus).transpose()?,
        sumcheck: to_generic_degree(&body.sumcheck, "zerocheck sumcheck")?,
        opening: to_pcs(&body.opening, e)?,
        preprocessed_opening: None,
    })
}

/// Decodes and validates a WHIR-backend aggregate proof whose stacked trace has
/// `num_variables` variables (the verifier's own [`super::whir::statement_num_variables`] of
/// its statement).
///
/// Returns the preset named in the prefix (always a [`Backend::Whir`] preset; the caller checks
/// it against its own requirements) and a proof whose every WHIR count matches the preset's
/// configuration for `num_variables` and whose multilinear-STARK reductions are within the
/// bounds of the module docs. See the module docs for the order of checks and where copies
/// happen.
///
/// # Errors
/// [`VerifyError::Malformed`] naming the first problem: prefix (magic, version, preset,
/// kind byte, truncation, trailing bytes), a FRI preset, a `num_variables` the preset cannot
/// commit, archive validation, any count that disagrees with the derived shape or exceeds its
/// bound, a non-canonical field element, or a non-canonical encoding.
pub fn decode(bytes: &[u8], num_variables: usize) -> Result<(WhirPreset, WhirProof), VerifyError> {
    decode_with(
        bytes,
        Preset::as_whir,
        "not a WHIR preset: its proofs have the FRI layout",
        |preset, body: &ArchivedWhirBody| {
            let e = Expected::new(preset, num_variables)?;
            check_shape(body, &e)?;
            to_proof(body, &e)
        },
        encode,
    )
}

/// Size in bytes of each component of an encoded WHIR proof's archive payload (field elements
/// and digests; not counting rkyv's relative pointers and lengths, 8 bytes per vector), in wire
/// order, for reporting.
pub fn component_sizes(proof: &WhirProof) -> Vec<(&'static str, usize)> {
    let b = WhirBody::from_proof(proof);
    let w = |v: &[u32]| 4 * v.len();
    let sumcheck = |s: &SumcheckBody| w(&s.evals) + w(&s.pow_witnesses);
    let gkr = |g: &GkrBody| {
        4 * CHALLENGE_DEGREE
            + g.layers
                .iter()
                .map(|l| w(&l.round_polys) + 4 * l.claims.len())
                .sum::<usize>()
    };
    let generic = |g: &GenericDegreeBody| {
        4 * CHALLENGE_DEGREE
            + g.round_polys.iter().map(|p| w(p)).sum::<usize>()
            + w(&g.pow_witnesses)
    };
    let nested = |v: &[Vec<u32>]| v.iter().map(|x| w(x)).sum::<usize>();
    let pcs: Vec<&PcsBody> = core::iter::once(&b.opening)
        .chain(&b.preprocessed_opening)
        .collect();
    let sum = |f: &dyn Fn(&PcsBody) -> usize| pcs.iter().map(|p| f(p)).sum::<usize>();
    vec![
        ("trace commitment", 32),
        ("LogUp fractional GKR", b.lookup.iter().map(gkr).sum()),
        (
            "indexed lookup",
            b.indexed
                .iter()
                .map(|i| {
                    nested(&i.reader_claims)
                        + nested(&i.pushforwards)
                        + gkr(&i.fraction_gkr)
                        + w(&i.position_claims)
                        + generic(&i.product)
                        + nested(&i.column_claims)
                })
                .sum(),
        ),
        (
            "bus product GKR",
            b.bus
                .iter()
                .map(|x| {
                    w(&x.roots)
                        + x.layers
                            .iter()
                            .map(|l| 1 + w(&l.round_polys) + w(&l.children))
                            .sum::<usize>()
                })
                .sum(),
        ),
        ("zerocheck sumcheck", generic(&b.sumcheck)),
        (
            "opening evaluations",
            sum(&|p| p.evals.iter().map(|e| w(&e.current) + w(&e.next)).sum()),
        ),
        (
            "WHIR OOD answers",
            sum(&|p| {
                w(&p.initial_ood_answers)
                    + p.rounds.iter().map(|r| w(&r.ood_answers)).sum::<usize>()
            }),
        ),
        ("WHIR round commitments", sum(&|p| 32 * p.rounds.len())),
        (
            "WHIR sumcheck rounds",
            sum(&|p| {
                sumcheck(&p.initial_sumcheck)
                    + p.rounds
                        .iter()
                        .map(|r| sumcheck(&r.sumcheck))
                        .sum::<usize>()
                    + sumcheck(&p.final_sumcheck)
            }),
        ),
        (
            "WHIR initial query rows (base field)",
            sum(&|p| {
                p.rounds
                    .first()
                    .map_or(w(&p.final_openings.rows), |r| w(&r.openings.rows))
            }),
        ),
        (
            "WHIR initial Merkle multiproof",
            sum(&|p| {
                32 * p
                    .rounds
                    .first()
                    .map_or(p.final_openings.paths.len(), |r| r.openings.paths.len())
            }),
        ),
        (
            "WHIR later query rows (extension field)",
            sum(&|p| {
                if p.rounds.is_empty() {
                    0
                } else {
                    p.rounds
                        .iter()
                        .skip(1)
                        .map(|r| w(&r.openings.rows))
                        .sum::<usize>()
                        + w(&p.final_openings.rows)
                }
            }),
        ),
        (
            "WHIR later Merkle multiproofs",
            sum(&|p| {
                if p.rounds.is_empty() {
                    0
                } else {
                    32 * (p
                        .rounds
                        .iter()
                        .skip(1)
                        .map(|r| r.openings.paths.len())
                        .sum::<usize>()
                        + p.final_openings.paths.len())
                }
            }),
        ),
        ("WHIR final polynomial", sum(&|p| w(&p.final_poly))),
        (
            "WHIR grinding witnesses",
            sum(&|p| 4 * (1 + p.rounds.len())),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::OnceLock;

    use rkyv::util::AlignedVec;

    use super::*;
    use crate::aggregate::air::AggAir;
    use crate::aggregate::preset::{whir_presets, Preset, PRESETS};
    use crate::aggregate::statement::{self, Statement};
    use crate::aggregate::{testing, whir, witness, Backend, Regime};
    use crate::xmss::PublicKey;

    const MESSAGE: [u8; 32] = [0x5a; 32];
    const EPOCH: u32 = 0x0012_3457;
    use crate::xmss::constants::P;

    /// A real WHIR proof of two test signers under the proven rate-1/2 WHIR preset.
    struct Fixture {
        preset: WhirPreset,
        keys: Vec<PublicKey>,
        nv: usize,
        proof: WhirProof,
        bytes: Vec<u8>,
    }

    fn whir_preset() -> WhirPreset {
        let p = Preset::from_options(&crate::aggregate::ProveOptions {
            regime: Regime::Proven,
            log_inv_rate: 1,
            backend: Backend::Whir,
            ..Default::default()
        });
        let Ok(Preset::Whir(w)) = p else {
            panic!("{p:?} is not a WHIR preset")
        };
        w
    }

    fn stacked_variables(preset: &WhirPreset, stmt: &Statement<'_>, airs: &[AggAir]) -> usize {
        whir::statement_num_variables(preset, stmt, airs)
    }

    /// Proves two test signers as `Aggregator::prove` / `prove_witnesses` do, with the WHIR
    /// prover.
    fn prove_two(preset: &WhirPreset) -> (Vec<PublicKey>, usize, WhirProof) {
        let signers: Vec<_> = (0..2)
            .map(|seed| testing::test_signer(seed, &MESSAGE, EPOCH))
            .collect();
        let keys: Vec<PublicKey> = signers.iter().map(|(pk, _)| *pk).collect();
        let mut steps = Vec::new();
        let witnesses: Vec<_> = signers
            .iter()
            .enumerate()
            .map(|(s, (pk, sig))| {
                witness::build_witness(s as u32, pk, sig, &MESSAGE, EPOCH, &mut steps)
            })
            .collect();
        let stmt = Statement {
            message: &MESSAGE,
            epoch: EPOCH,
            keys: &keys,
        };
        let airs = stmt.airs();
        let traces = statement::build_traces(&stmt, &airs, &witnesses, &steps);
        let nv = stacked_variables(preset, &stmt, &airs);
        let proof = whir::prove(preset, &stmt, &airs, traces).expect("WHIR proof of two signers");
        (keys, nv, proof)
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let preset = whir_preset();
            let (keys, nv, proof) = prove_two(&preset);
            let bytes = encode(&preset, &proof);
            Fixture {
                preset,
                keys,
                nv,
                proof,
                bytes,
            }
        })
    }

    fn verify(f: &Fixture, preset: &WhirPreset, proof: &WhirProof) -> Result<(), String> {
        let stmt = Statement {
            message: &MESSAGE,
            epoch: EPOCH,
            keys: &f.keys,
        };
        let airs = stmt.airs();
        whir::verify(preset, &stmt, &airs, proof)
    }

    /// Copies `bytes` into a 16-aligned buffer, so that decoding validates it in place.
    fn aligned(bytes: &[u8]) -> AlignedVec<16> {
        let mut v = AlignedVec::<16>::with_capacity(bytes.len());
        v.extend_from_slice(bytes);
        v
    }

    /// What [`max_encoded_len`] assumes of the multilinear STARK's own reductions holds for a
    /// real proof: one LogUp GKR and no indexed-lookup or bus proof, every reduction within the
    /// bounded round count, zerocheck rounds of at most [`ZEROCHECK_ROUND_EVALS`] evaluations, one
    /// opening batch per table of its width; and the proof is within the bound.
    #[test]
    fn size_bound_assumptions_hold_for_a_real_proof() {
        let f = fixture();
        let body = WhirBody::from_proof(&f.proof);
        let max = f.nv + REDUCTION_SLACK;
        assert_eq!(
            (body.lookup.len(), body.indexed.len(), body.bus.len()),
            (1, 0, 0)
        );
        assert!(body.lookup[0].layers.len() <= max);
        assert!(body.sumcheck.round_polys.len() <= max);
        for p in &body.sumcheck.round_polys {
            assert!(
                p.len() <= ZEROCHECK_ROUND_EVALS * CHALLENGE_DEGREE,
                "{} words",
                p.len()
            );
        }
        let stmt = Statement {
            message: &MESSAGE,
            epoch: EPOCH,
            keys: &f.keys,
        };
        let tables = table_shapes(&stmt.airs());
        assert_eq!(body.opening.evals.len(), tables.len());
        for (e, &(w, next)) in body.opening.evals.iter().zip(&tables) {
            // Every column at the point, and exactly the next-row columns at the successor.
            assert_eq!(e.current.len(), w * CHALLENGE_DEGREE);
            assert_eq!(e.next.len(), next * CHALLENGE_DEGREE);
        }
        assert!(f.bytes.len() <= max_encoded_len(&f.preset, f.nv, &tables, None).unwrap());
    }

    #[test]
    fn round_trip_reencodes_identically_and_verifies() {
        let f = fixture();
        verify(f, &f.preset, &f.proof).expect("the prover's own proof verifies");
        let buf = aligned(&f.bytes);
        let t = std::time::Instant::now();
        let (preset, decoded) = decode(&buf, f.nv).expect("decode");
        eprintln!(
            "decode (in place): {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        assert_eq!(preset, f.preset);
        assert_eq!(
            encode(&preset, &decoded),
            f.bytes,
            "decode then encode is the identity"
        );
        assert_eq!(
            encode(&f.preset, &f.proof),
            f.bytes,
            "encoding is deterministic"
        );
        verify(f, &preset, &decoded).expect("the decoded proof verifies");

        let sizes = component_sizes(&decoded);
        let total: usize = sizes.iter().map(|(_, n)| n).sum();
        eprintln!(
            "WHIR proof of 2 signers: {} bytes, nv = {}",
            f.bytes.len(),
            f.nv
        );
        for (name, n) in &sizes {
            eprintln!("  {name:<45} {n:>8}");
        }
        eprintln!("  {:<45} {total:>8}", "sum");
        // The components are the payload without rkyv's vector headers and alignment.
        assert!(total <= f.bytes.len() - PREFIX_LEN_FOR_TESTS);
        assert!(
            total * 10 >= (f.bytes.len() - PREFIX_LEN_FOR_TESTS) * 9,
            "headers are a small share"
        );
        // The WHIR opening dominates and every WHIR component is present.
        for name in [
            "WHIR initial query rows (base field)",
            "WHIR sumcheck rounds",
            "zerocheck sumcheck",
        ] {
            assert!(
                sizes.iter().any(|(n, s)| *n == name && *s > 0),
                "{name} is empty"
            );
        }
    }

    const PREFIX_LEN_FOR_TESTS: usize = crate::aggregate::wire::PREFIX_LEN;

    #[test]
    fn unaligned_buffer_decodes_with_one_copy() {
        let f = fixture();
        let mut shifted = AlignedVec::<16>::with_capacity(f.bytes.len() + 1);
        shifted.push(0);
        shifted.extend_from_slice(&f.bytes);
        let slice = &shifted[1..];
        assert!(!(slice[PREFIX_LEN_FOR_TESTS..].as_ptr() as usize).is_multiple_of(16));
        let (preset, decoded) = decode(slice, f.nv).expect("decode at an unaligned offset");
        assert_eq!(encode(&preset, &decoded), f.bytes);
    }

    #[test]
    fn every_sampled_truncation_is_rejected() {
        let f = fixture();
        let len = f.bytes.len();
        let mut cuts: Vec<usize> = (0..48).collect();
        cuts.extend((1..200).map(|i| i * len / 200));
        cuts.extend(len - 48..len);
        for cut in cuts {
            let buf = aligned(&f.bytes[..cut]);
            let r = catch_unwind(AssertUnwindSafe(|| decode(&buf, f.nv)));
            match r {
                Ok(Err(VerifyError::Malformed(_))) => {}
                Ok(Err(e)) => panic!("truncation at {cut}: unexpected error kind {e:?}"),
                Ok(Ok(_)) => panic!("truncation at {cut} of {len} decoded"),
                Err(_) => panic!("truncation at {cut} panicked"),
            }
        }
        // Truncating the archive while fixing up the declared length is rejected too.
        for cut in [
            len - 1,
            len - 4,
            len - 64,
            len / 2,
            PREFIX_LEN_FOR_TESTS + 8,
        ] {
            let mut b = f.bytes[..cut].to_vec();
            let archive = (cut - PREFIX_LEN_FOR_TESTS) as u32;
            b[12..16].copy_from_slice(&archive.to_le_bytes());
            let buf = aligned(&b);
            let r = catch_unwind(AssertUnwindSafe(|| decode(&buf, f.nv)));
            assert!(
                matches!(r, Ok(Err(VerifyError::Malformed(_)))),
                "relabelled cut at {cut}"
            );
        }
    }

    #[test]
    fn byte_and_bit_flips_never_panic_and_never_verify() {
        let f = fixture();
        let len = f.bytes.len();
        let (mut decode_errors, mut verify_errors) = (0usize, 0usize);
        for i in 0..300usize {
            // One flip in each of 300 equal strata of the buffer (prefix and archive root
            // included), at a pseudo-random offset inside the stratum, so every byte lane of
            // a u32 is hit.
            let stratum = len / 300;
            let pos = i * stratum + ((i.wrapping_mul(2_654_435_761) >> 7) % stratum);
            let mut b = f.bytes.clone();
            if i % 3 == 0 {
                b[pos] ^= 0xff;
            } else {
                b[pos] ^= 1 << (i % 8);
            }
            let buf = aligned(&b);
            let decoded = catch_unwind(AssertUnwindSafe(|| decode(&buf, f.nv)))
                .unwrap_or_else(|_| panic!("decode panicked on a flip at byte {pos}"));
            match decoded {
                Err(VerifyError::Malformed(_)) => decode_errors += 1,
                Err(e) => panic!("flip at {pos}: unexpected error kind {e:?}"),
                Ok((preset, proof)) => {
                    let v = catch_unwind(AssertUnwindSafe(|| verify(f, &preset, &proof)))
                        .unwrap_or_else(|_| panic!("verifier panicked on a flip at byte {pos}"));
                    assert!(v.is_err(), "a proof with byte {pos} flipped verifies");
                    verify_errors += 1;
                }
            }
        }
        eprintln!("300 flips: {decode_errors} rejected by decode, {verify_errors} by the verifier");
        assert_eq!(decode_errors + verify_errors, 300);
        assert!(
            decode_errors > 0 && verify_errors > 0,
            "both layers are exercised"
        );
    }

    /// An edit of the mirror, applied before re-encoding.
    type Edit = Box<dyn FnOnce(&mut WhirBody)>;

    /// Re-encodes `body` after `edit` and decodes it.
    fn decode_edited(
        f: &Fixture,
        edit: impl FnOnce(&mut WhirBody),
    ) -> Result<(WhirPreset, WhirProof), VerifyError> {
        let mut body = WhirBody::from_proof(&f.proof);
        edit(&mut body);
        let buf = aligned(&encode_body(&f.preset, &body));
        decode(&buf, f.nv)
    }

    fn assert_non_canonical(r: Result<(WhirPreset, WhirProof), VerifyError>, what: &str) {
        match r {
            Err(VerifyError::Malformed(m)) => {
                assert!(m.contains("non-canonical field element"), "{what}: {m}")
            }
            other => panic!(
                "{what}: expected a non-canonical rejection, got {:?}",
                other.map(|_| ())
            ),
        }
    }

    #[test]
    fn non_canonical_field_elements_are_rejected() {
        let f = fixture();
        // The unedited body decodes: the edits below are the only difference.
        decode_edited(f, |_| {}).expect("unedited body");
        assert_non_canonical(
            decode_edited(f, |b| b.sumcheck.claimed_sum[0] = P),
            "zerocheck claimed sum",
        );
        assert_non_canonical(
            decode_edited(f, |b| {
                let rows = match b.opening.rounds.first_mut() {
                    Some(r) => &mut r.openings.rows,
                    None => &mut b.opening.final_openings.rows,
                };
                rows[3] = rows[3].wrapping_add(P);
            }),
            "initial query row (value + p)",
        );
        assert_non_canonical(
            decode_edited(f, |b| b.opening.final_poly[0] = u32::MAX),
            "final polynomial",
        );
        assert_non_canonical(
            decode_edited(f, |b| b.opening.evals[0].current[1] = P + 1),
            "opening evaluation",
        );
    }

    #[test]
    fn fri_preset_id_is_rejected() {
        let f = fixture();
        for fri in PRESETS.iter().filter(|p| p.backend() == Backend::Fri) {
            let mut b = f.bytes.clone();
            b[10] = fri.id();
            match decode(&aligned(&b), f.nv) {
                Err(VerifyError::Malformed(m)) => assert!(m.contains("not a WHIR preset"), "{m}"),
                other => panic!("FRI preset {} accepted: {:?}", fri.id(), other.map(|_| ())),
            }
        }
        // Any other WHIR preset id either gives a shape the archive does not have, or a proof
        // its configuration does not verify.
        for other in whir_presets().filter(|p| p.id() != f.preset.id()) {
            let mut b = f.bytes.clone();
            b[10] = other.id();
            match decode(&aligned(&b), f.nv) {
                Err(VerifyError::Malformed(_)) => {}
                Err(e) => panic!("preset {}: unexpected error kind {e:?}", other.id()),
                Ok((preset, proof)) => {
                    assert_eq!(preset, other);
                    assert!(
                        verify(f, &preset, &proof).is_err(),
                        "preset {} verifies",
                        other.id()
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_num_variables_is_rejected() {
        let f = fixture();
        for nv in [0, 1, f.nv - 1, f.nv + 1, f.nv + 2, 64, usize::MAX] {
            match decode(&aligned(&f.bytes), nv) {
                Err(VerifyError::Malformed(_)) => {}
                other => panic!(
                    "num_variables {nv} (true {}) accepted: {:?}",
                    f.nv,
                    other.map(|_| ())
                ),
            }
        }
    }

    #[test]
    fn structural_edits_are_rejected() {
        let f = fixture();
        let cases: Vec<(&str, Edit)> = vec![
            (
                "extra WHIR round",
                Box::new(|b| {
                    let r = b.opening.rounds.pop().unwrap();
                    let copy = WhirRoundBody {
                        commitment: r.commitment,
                        ood_answers: r.ood_answers.clone(),
                        pow_witness: r.pow_witness,
                        openings: OpeningBody {
                            rows: r.openings.rows.clone(),
                            paths: r.openings.paths.clone(),
                        },
                        sumcheck: SumcheckBody {
                            evals: r.sumcheck.evals.clone(),
                            pow_witnesses: r.sumcheck.pow_witnesses.clone(),
                        },
                    };
                    b.opening.rounds.push(r);
                    b.opening.rounds.push(copy);
                }),
            ),
            (
                "missing initial OOD answer",
                Box::new(|b| {
                    b.opening
                        .initial_ood_answers
                        .truncate(b.opening.initial_ood_answers.len() - CHALLENGE_DEGREE)
                }),
            ),
            (
                "short final polynomial",
                Box::new(|b| {
                    b.opening
                        .final_poly
                        .truncate(b.opening.final_poly.len() / 2)
                }),
            ),
            (
                "extra Merkle sibling",
                Box::new(|b| {
                    let n = b.opening.final_openings.rows.len() * 64;
                    b.opening.final_openings.paths.resize(n, [7u8; 32])
                }),
            ),
            (
                "empty opening batch",
                Box::new(|b| {
                    b.opening.evals.push(EvalBatchBody {
                        current: Vec::new(),
                        next: Vec::new(),
                    })
                }),
            ),
            (
                "two LogUp proofs",
                Box::new(|b| {
                    let g = GkrBody {
                        root_denominator: [1, 0, 0, 0, 0],
                        layers: Vec::new(),
                    };
                    b.lookup.push(g);
                    b.lookup.push(GkrBody {
                        root_denominator: [1, 0, 0, 0, 0],
                        layers: Vec::new(),
                    });
                }),
            ),
            (
                "ragged zerocheck round polynomial",
                Box::new(|b| b.sumcheck.round_polys[1].truncate(CHALLENGE_DEGREE)),
            ),
            (
                "too many zerocheck rounds",
                Box::new(|b| {
                    let p = b.sumcheck.round_polys[0].clone();
                    b.sumcheck.round_polys.resize(f_nv_bound(), p)
                }),
            ),
            (
                "preprocessed opening",
                Box::new(|b| {
                    let p = pcs_body(&fixture().proof.opening);
                    b.preprocessed_opening.push(p)
                }),
            ),
        ];
        for (name, edit) in cases {
            match decode_edited(f, edit) {
                Err(VerifyError::Malformed(_)) => {}
                other => panic!("{name}: accepted {:?}", other.map(|_| ())),
            }
        }
    }

    /// Counts `decode` only bounds (the AIRs fix them) are checked exactly by the STARK
    /// verifier: such edits decode, and the verifier rejects them without panicking.
    #[test]
    fn bounded_counts_are_left_to_the_verifier_which_rejects_them() {
        let f = fixture();
        let zc = &f.proof.sumcheck;
        let gkr = f
            .proof
            .lookup
            .as_ref()
            .expect("the aggregation's buses are LogUp interactions");
        eprintln!(
            "nv {}: zerocheck {} rounds of degree {}, LogUp GKR {} layers, bus {}, indexed {}",
            f.nv,
            zc.round_polys.len(),
            zc.round_polys[0].len(),
            gkr.layers.len(),
            f.proof.bus.is_some(),
            f.proof.indexed.is_some()
        );
        assert!(zc.round_polys.len() <= f.nv + REDUCTION_SLACK);
        assert!(gkr.layers.len() <= f.nv + REDUCTION_SLACK);
        let cases: Vec<(&str, Edit)> = vec![
            (
                "one zerocheck round fewer",
                Box::new(|b| {
                    b.sumcheck.round_polys.pop();
                }),
            ),
            (
                "zerocheck degree one higher",
                Box::new(|b| {
                    for p in &mut b.sumcheck.round_polys {
                        p.extend([1, 0, 0, 0, 0]);
                    }
                }),
            ),
            (
                "no LogUp proof",
                Box::new(|b| {
                    b.lookup.clear();
                }),
            ),
            (
                "one GKR layer fewer",
                Box::new(|b| {
                    b.lookup[0].layers.pop();
                }),
            ),
            (
                "a bus proof the AIRs do not declare",
                Box::new(|b| {
                    b.bus.push(BusBody {
                        roots: vec![1, 0, 0, 0, 0, 1, 0, 0, 0, 0],
                        layers: vec![BusLayerBody {
                            radix_four: false,
                            round_polys: Vec::new(),
                            children: vec![
                                1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                            ],
                        }],
                    });
                }),
            ),
            (
                "an indexed lookup the AIRs do not declare",
                Box::new(|b| {
                    b.indexed.push(IndexedBody {
                        reader_claims: vec![vec![1, 0, 0, 0, 0]],
                        pushforwards: vec![vec![1, 0, 0, 0, 0, 2, 0, 0, 0, 0]],
                        fraction_gkr: GkrBody {
                            root_denominator: [1, 0, 0, 0, 0],
                            layers: Vec::new(),
                        },
                        position_claims: vec![3, 0, 0, 0, 0],
                        product: GenericDegreeBody {
                            claimed_sum: [0; CHALLENGE_DEGREE],
                            round_polys: Vec::new(),
                            pow_witnesses: Vec::new(),
                        },
                        column_claims: vec![vec![4, 0, 0, 0, 0]],
                    });
                }),
            ),
            (
                "one opening batch fewer",
                Box::new(|b| {
                    b.opening.evals.pop();
                }),
            ),
            (
                "one Merkle sibling fewer",
                Box::new(|b| {
                    b.opening.final_openings.paths.pop();
                }),
            ),
            (
                "no Merkle siblings in the initial phase",
                Box::new(|b| match b.opening.rounds.first_mut() {
                    Some(r) => r.openings.paths.clear(),
                    None => b.opening.final_openings.paths.clear(),
                }),
            ),
            (
                "one opening evaluation more",
                Box::new(|b| {
                    b.opening.evals[0].next.extend([1, 0, 0, 0, 0]);
                }),
            ),
        ];
        for (name, edit) in cases {
            let (preset, proof) = decode_edited(f, edit).unwrap_or_else(|e| panic!("{name}: {e}"));
            let v = catch_unwind(AssertUnwindSafe(|| verify(f, &preset, &proof)))
                .unwrap_or_else(|_| panic!("{name}: the verifier panicked"));
            assert!(v.is_err(), "{name}: verifies");
        }
    }

    /// Deriving the shape never panics, whatever the preset and variable count, and accepts
    /// every count up to the largest the preset can commit.
    #[test]
    fn shape_derivation_is_total() {
        for preset in whir_presets() {
            let mut accepted = Vec::new();
            for nv in (0..=64).chain([usize::MAX / 2, usize::MAX]) {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    Expected::new(&preset, nv).map(|e| e.rounds.len())
                }))
                .unwrap_or_else(|_| panic!("preset {} at {nv} variables panicked", preset.id()));
                if r.is_ok() {
                    accepted.push(nv);
                }
            }
            let past = accepted.last().map_or(0, |l| l + 1);
            let why = Expected::new(&preset, past)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            eprintln!(
                "preset {}: num_variables {:?}..={:?} ({past}: {why})",
                preset.id(),
                accepted.first(),
                accepted.last()
            );
            let first = usize::from(preset.first_folding);
            assert_eq!(accepted.first(), Some(&first), "preset {}", preset.id());
            // Contiguous, and past 2^24 points only through folding: the initial fold's DFT
            // is 2^(nv + rate - first folding) <= 2^24.
            let last = *accepted.last().unwrap();
            assert_eq!(accepted.len(), last - first + 1, "preset {}", preset.id());
            assert!(
                last + usize::from(preset.log_inv_rate) - first <= 24,
                "preset {}",
                preset.id()
            );
        }
        // For the record: the stacked trace's variables by batch size, and the presets whose
        // WHIR configuration can commit it.
        let key = testing::test_signer(0, &MESSAGE, EPOCH).0;
        for n in [1usize, 2, 16, 64, 256, 1024, 4096] {
            let keys = vec![key; n];
            let stmt = Statement {
                message: &MESSAGE,
                epoch: EPOCH,
                keys: &keys,
            };
            let airs = stmt.airs();
            let fits: Vec<u8> = whir_presets()
                .filter(|p| Expected::new(p, stacked_variables(p, &stmt, &airs)).is_ok())
                .map(|p| p.id())
                .collect();
            eprintln!(
                "{n} signatures: {} variables; presets {fits:?} fit",
                stacked_variables(&whir_preset(), &stmt, &airs)
            );
        }
    }

    fn f_nv_bound() -> usize {
        fixture().nv + REDUCTION_SLACK + 1
    }
}
