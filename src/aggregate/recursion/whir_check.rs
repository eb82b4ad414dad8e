//! WHIR's checks of a multilinear child's stacked opening, natively: what p3-whir 0.8's verifier
//! (`WhirVerifier::replay`, over p3-sumcheck's stacked layout, `layout::Verifier::sum` and
//! `constraint`) computes from the transcript and the opened query rows, written from its
//! description so that the verifier AIRs can later run it as a program (recursion README,
//! "WHIR's final check, natively").
//!
//! The opening's claims are batched by the layout's challenge `alpha`: every opened value (per
//! instance in placement order, largest arity first: its current row, then its declared next-row
//! columns), then the out-of-domain values of the stacked polynomial. That claim is carried
//! through WHIR's folds (quadratic sumchecks, `h(0)` and the leading coefficient a round) and, at
//! each round, takes that round's out-of-domain answers and query values, weighted by the round's
//! challenge `gamma` from its first power on. At the end it must equal `W(r) f(r)`: `f` the final
//! polynomial (sent in the clear, as evaluations on the hypercube) at the final fold's point, and
//! `W` every claim's weight polynomial at the whole folding point `r`:
//! - an opened value on the current row: `eq` at the column's slot (its selector bits, then the
//!   instance's point);
//! - an opened value on the next row: the slot's `eq` times the successor weight of the
//!   instance's point (the row `x` such that `x = y + 1` for the point's `y`, the last row its
//!   own successor);
//! - an out-of-domain value at `z`: `eq` at `(z^(2^(n-1)), ..., z^2, z)`;
//! - a query at the domain point `w`: `prod_i (1 + r_i (w^(2^(n-1-i)) - 1))`.
//!
//! Each round's weights read the folding point's last variables (WHIR's suffix order: the
//! reversed point's first `n`), and a query's row is folded at its round's challenges reversed.
//! The final round's queries are checked against the final polynomial itself, read as
//! coefficients at the query's domain point.

use p3_field::{PrimeCharacteristicRing, PrimeField64, TwoAdicField, UniformSamplingField};
use p3_sumcheck::layout::plan_stacked_layout;
use p3_sumcheck::strategy::VariableOrder;
use p3_sumcheck::TableShape;

use super::closing::{eq, Opened};
use super::ext::{element, D};
use super::multilinear_schedule::{Action, MultilinearSchedule, OpeningShapes, Step};
use super::ood::{Input, Lowering, Program, Row};
use super::sumcheck::{reduce_as, Encoding};
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// One of WHIR's folding sumchecks as read from the transcript.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoldReading {
    /// Per round: `h(0)` and the leading coefficient (p3-sumcheck's `Basis::Evaluation`).
    pub rounds: Vec<[Challenge; 2]>,
    /// Per round: its challenge.
    pub challenges: Vec<Challenge>,
}

/// One WHIR round as read from the transcript (the commitment's root aside).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReading {
    /// Each out-of-domain sample `z` and the answer observed for it.
    pub ood: Vec<(Challenge, Challenge)>,
    /// The query indices, in the folded domain of the previous commitment.
    pub indices: Vec<usize>,
    /// The challenge `gamma` batching this round's answers into the carried claim.
    pub batching: Challenge,
}

/// Every transcript value WHIR's checks of a multilinear child read, from the main opening's
/// steps of its schedule ([`WhirPositions`]).
#[derive(Clone, Debug, Default)]
pub struct WhirReading {
    /// The layout's out-of-domain claims on the stacked polynomial: the sample `z`, the value.
    pub virtual_claims: Vec<(Challenge, Challenge)>,
    /// Per instance: its opened values.
    pub opened: Vec<Opened>,
    /// The layout's batching challenge `alpha`.
    pub batching: Challenge,
    /// The initial fold, one per round, then the final fold (no rounds when WHIR has none).
    pub folds: Vec<FoldReading>,
    /// One per WHIR round.
    pub rounds: Vec<RoundReading>,
    /// The final polynomial's evaluations on the hypercube (index bits big-endian).
    pub final_poly: Vec<Challenge>,
    /// The final round's query indices.
    pub final_indices: Vec<usize>,
}

/// The transcript positions of one of WHIR's folds: per round, its `h(0)` (the leading
/// coefficient one extension element later) and its challenge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoldPositions {
    /// Per round: the position of `h(0)`.
    pub rounds: Vec<usize>,
    /// Per round: the position of its challenge.
    pub challenges: Vec<usize>,
}

/// Where one instance's opened values are in the transcript.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenedPositions {
    /// The current row's first value.
    pub current: usize,
    /// The instance's width: its current row's count.
    pub width: usize,
    /// The next row's first value (meaningless without next-row columns).
    pub next: usize,
    /// The declared next-row columns, in the order their values are.
    pub next_columns: Vec<usize>,
}

/// The transcript positions of one WHIR round's values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundPositions {
    /// Each out-of-domain sample's position and its answer's.
    pub ood: Vec<(usize, usize)>,
    /// Each query index's element.
    pub indices: Vec<usize>,
    /// The challenge `gamma`.
    pub batching: usize,
}

/// Where every value [`WhirReading`] holds sits in a multilinear child's transcript (the
/// position of an extension element's coordinate 0), derived from its schedule alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WhirPositions {
    /// The layout's out-of-domain claims: the sample's position, the value's.
    pub virtual_claims: Vec<(usize, usize)>,
    /// Per instance: where its opened values are.
    pub opened: Vec<OpenedPositions>,
    /// The layout's batching challenge.
    pub batching: usize,
    /// The initial fold, one per round, then the final fold.
    pub folds: Vec<FoldPositions>,
    /// One per WHIR round.
    pub rounds: Vec<RoundPositions>,
    /// The final polynomial's first value.
    pub final_poly: usize,
    /// The final polynomial's length.
    pub final_poly_len: usize,
    /// Each final query index's element.
    pub final_indices: Vec<usize>,
    /// Per round, then the final round: the bits of its query indices.
    pub index_bits: Vec<usize>,
}

impl WhirPositions {
    /// The positions of the main opening's steps in `schedule`, checked against the opening's
    /// shapes.
    ///
    /// # Errors
    /// A message when a step is not where or of the length the shapes say, the query indices
    /// are stratified, wider than one element or not drawn (a phase that opens every
    /// position), or the layout is not p3's suffix layout with unreversed selectors (the only
    /// one a compact parent uses).
    pub fn new(schedule: &MultilinearSchedule, shapes: &OpeningShapes) -> Result<Self, String> {
        let whir = &shapes.whir;
        if shapes.strategy.reverse_selectors
            || shapes.strategy.variable_order != VariableOrder::Suffix
        {
            return Err("a layout other than the suffix layout with unreversed selectors".into());
        }
        if whir.stratified_queries || whir.rounds.iter().any(|r| r.stratified_queries) {
            return Err("stratified query indices".into());
        }
        let exts = |s: &Step, n: usize| -> Result<usize, String> {
            if s.len != n * D {
                return Err(format!("{:?}: not {n} extension elements", s.path));
            }
            Ok(s.start)
        };
        let indices = |s: &Step, bits: usize, draws: usize| -> Result<Vec<usize>, String> {
            if bits > F::MAX_SINGLE_SAMPLE_BITS {
                return Err(format!("query indices of {bits} bits, two elements each"));
            }
            if draws == 0 || s.len != draws {
                return Err(format!(
                    "{:?}: {} elements for {draws} indices",
                    s.path, s.len
                ));
            }
            Ok((s.start..s.start + draws).collect())
        };
        let missing = |what: &str| format!("{what} before its step");

        let mut at = Self::default();
        let mut batching = None;
        let mut final_poly = None;
        let mut final_indices = None;
        let mut in_fold = false;
        for s in schedule
            .steps
            .iter()
            .filter(|s| s.path.contains(&"main_opening") && s.action != Action::Seed)
        {
            let fold = ["initial_fold", "round_fold", "final_fold"]
                .iter()
                .any(|l| s.path.contains(l));
            if fold && !in_fold {
                at.folds.push(FoldPositions::default());
            }
            in_fold = fold;
            let last_round = at.rounds.len().checked_sub(1);
            match *s.path.last().ok_or("an unlabelled step")? {
                "virtual_point" => at.virtual_claims.push((exts(s, 1)?, usize::MAX)),
                "virtual_eval" => {
                    at.virtual_claims
                        .last_mut()
                        .ok_or_else(|| missing("a virtual point"))?
                        .1 = exts(s, 1)?;
                }
                "current_evals" => {
                    let t = at.opened.len();
                    let width = shapes.tables.get(t).ok_or("more openings than tables")?.1;
                    at.opened.push(OpenedPositions {
                        current: exts(s, width)?,
                        width,
                        next: usize::MAX,
                        next_columns: Vec::new(),
                    });
                }
                "next_evals" => {
                    let t = at.opened.len().checked_sub(1);
                    let t = t.ok_or_else(|| missing("a current row"))?;
                    let columns = &shapes.tables[t].2;
                    at.opened[t].next = exts(s, columns.len())?;
                    at.opened[t].next_columns.clone_from(columns);
                }
                "batching" => batching = Some(exts(s, 1)?),
                "round_poly" => {
                    let p = exts(s, 2)?;
                    at.folds
                        .last_mut()
                        .ok_or_else(|| missing("a fold"))?
                        .rounds
                        .push(p);
                }
                "round_challenge" => {
                    let p = exts(s, 1)?;
                    at.folds
                        .last_mut()
                        .ok_or_else(|| missing("a fold"))?
                        .challenges
                        .push(p);
                }
                "commitment" => at.rounds.push(RoundPositions::default()),
                "ood_point" => {
                    let p = exts(s, 1)?;
                    at.rounds
                        .last_mut()
                        .ok_or_else(|| missing("a round"))?
                        .ood
                        .push((p, usize::MAX));
                }
                "ood_answer" => {
                    let p = exts(s, 1)?;
                    at.rounds
                        .last_mut()
                        .and_then(|round| round.ood.last_mut())
                        .ok_or_else(|| missing("an out-of-domain point"))?
                        .1 = p;
                }
                "query_indices" => {
                    let j = last_round.ok_or_else(|| missing("a round"))?;
                    let shape = whir.rounds.get(j).ok_or("more rounds than WHIR's")?;
                    at.rounds[j].indices = indices(s, shape.index_bits, shape.query_draws)?;
                }
                "round_batching" => {
                    let p = exts(s, 1)?;
                    at.rounds
                        .last_mut()
                        .ok_or_else(|| missing("a round"))?
                        .batching = p;
                }
                "final_poly" => final_poly = Some(exts(s, whir.final_poly_len)?),
                "final_query_indices" => {
                    final_indices =
                        Some(indices(s, whir.final_index_bits, whir.final_query_draws)?);
                }
                // Grinding checks and the round commitments' roots.
                _ => {}
            }
        }
        at.batching = batching.ok_or("no batching challenge")?;
        at.final_poly = final_poly.ok_or("no final polynomial")?;
        at.final_poly_len = whir.final_poly_len;
        at.final_indices = final_indices.ok_or("no final query indices")?;
        if whir.final_sumcheck.rounds == 0 {
            at.folds.push(FoldPositions::default());
        }
        at.index_bits = whir
            .rounds
            .iter()
            .map(|r| r.index_bits)
            .chain([whir.final_index_bits])
            .collect();

        // Every count against the shapes.
        if at.virtual_claims.len() != whir.commitment_ood_samples
            || at.virtual_claims.iter().any(|c| c.1 == usize::MAX)
        {
            return Err("another number of out-of-domain claims than the commitment's".into());
        }
        if at.opened.len() != shapes.tables.len()
            || at
                .opened
                .iter()
                .zip(&shapes.tables)
                .any(|(o, (_, _, next))| &o.next_columns != next)
        {
            return Err("openings not one per instance, each with its declared next row".into());
        }
        if at.rounds.len() != whir.rounds.len()
            || at.rounds.iter().zip(&whir.rounds).any(|(round, shape)| {
                round.ood.len() != shape.ood_samples
                    || round.ood.iter().any(|c| c.1 == usize::MAX)
                    || round.indices.len() != shape.query_draws
            })
        {
            return Err("rounds, their out-of-domain samples or queries, of another count".into());
        }
        let fold_rounds = core::iter::once(whir.initial_sumcheck.rounds)
            .chain(whir.rounds.iter().map(|round| round.sumcheck.rounds))
            .chain(core::iter::once(whir.final_sumcheck.rounds));
        if at.folds.len() != whir.rounds.len() + 2
            || at
                .folds
                .iter()
                .zip(fold_rounds)
                .any(|(f, n)| f.rounds.len() != n || f.challenges.len() != n)
        {
            return Err("folds of another count or length than WHIR's".into());
        }
        Ok(at)
    }
}

impl WhirReading {
    /// The values at `at`'s positions, each transcript element read by `value`.
    ///
    /// # Errors
    /// A message when a query index was drawn again (its element at or above the uniform
    /// sampling bound for its bits, p3's `sample_uniform_bits`), which a schedule fixed by the
    /// shape cannot take.
    pub fn read(at: &WhirPositions, value: impl Fn(usize) -> F) -> Result<Self, String> {
        let ext = |p: usize| element(core::array::from_fn(|j| value(p + j)));
        let exts = |p: usize, n: usize| (0..n).map(|k| ext(p + k * D)).collect::<Vec<_>>();
        let indices = |positions: &[usize], bits: usize| -> Result<Vec<usize>, String> {
            let bound = F::SAMPLING_BITS_M[bits];
            positions
                .iter()
                .map(|&p| {
                    let v = value(p).as_canonical_u64();
                    if v >= bound {
                        return Err(format!("query index at {p} drawn again"));
                    }
                    Ok(v as usize & ((1 << bits) - 1))
                })
                .collect()
        };
        let final_bits = *at.index_bits.last().ok_or("no final round")?;
        Ok(Self {
            virtual_claims: at
                .virtual_claims
                .iter()
                .map(|&(z, v)| (ext(z), ext(v)))
                .collect(),
            opened: at
                .opened
                .iter()
                .map(|o| Opened {
                    current: exts(o.current, o.width),
                    next: exts(o.next, o.next_columns.len()),
                })
                .collect(),
            batching: ext(at.batching),
            folds: at
                .folds
                .iter()
                .map(|f| FoldReading {
                    rounds: f.rounds.iter().map(|&p| [ext(p), ext(p + D)]).collect(),
                    challenges: f.challenges.iter().map(|&p| ext(p)).collect(),
                })
                .collect(),
            rounds: at
                .rounds
                .iter()
                .zip(&at.index_bits)
                .map(|(r, &bits)| {
                    Ok(RoundReading {
                        ood: r.ood.iter().map(|&(z, a)| (ext(z), ext(a))).collect(),
                        indices: indices(&r.indices, bits)?,
                        batching: ext(r.batching),
                    })
                })
                .collect::<Result<_, String>>()?,
            final_poly: exts(at.final_poly, at.final_poly_len),
            final_indices: indices(&at.final_indices, final_bits)?,
        })
    }

    /// The whole folding point `r`: every fold's challenges in order.
    pub fn folding_point(&self) -> Vec<Challenge> {
        self.folds
            .iter()
            .flat_map(|f| f.challenges.iter().copied())
            .collect()
    }
}

/// What WHIR's last checks compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhirOutcome {
    /// The claim carried through every fold: the batched opening claims, each round's answers.
    pub claimed: Challenge,
    /// `W(r)`: the weight polynomial of every claim at the folding point.
    pub weights: Challenge,
    /// `f(r)`: the final polynomial at the final fold's point.
    pub final_value: Challenge,
    /// Per final query: the final polynomial at its domain point, and its row folded.
    pub final_queries: Vec<(Challenge, Challenge)>,
}

impl WhirOutcome {
    /// Whether WHIR accepts: `claimed = W(r) f(r)`, and every final query's folded row is the
    /// final polynomial's value at its point.
    pub fn holds(&self) -> bool {
        self.claimed == self.weights * self.final_value
            && self.final_queries.iter().all(|(a, b)| a == b)
    }
}

/// The multilinear extension of `values` (index bits big-endian) at `point`.
///
/// # Panics
/// If `values` is not `2^point.len()` long.
pub fn evaluate(values: &[Challenge], point: &[Challenge]) -> Challenge {
    assert_eq!(
        values.len(),
        1 << point.len(),
        "2^n values for n coordinates"
    );
    let mut layer = values.to_vec();
    for &x in point {
        let half = layer.len() / 2;
        for i in 0..half {
            let (low, high) = (layer[i], layer[half + i]);
            layer[i] = low + x * (high - low);
        }
        layer.truncate(half);
    }
    layer[0]
}

/// `(z^(2^(n-1)), ..., z^2, z)`: a univariate sample as a point of `n` variables.
pub fn expand(z: Challenge, n: usize) -> Vec<Challenge> {
    let mut point = vec![Challenge::ZERO; n];
    let mut power = z;
    for coordinate in point.iter_mut().rev() {
        *coordinate = power;
        power = power.square();
    }
    point
}

/// The weight of a query at domain point `w` at `row`: `prod_i (1 + row_i (w^(2^(n-1-i)) - 1))`,
/// the multilinear polynomial whose inner product with a table of evaluations is that table,
/// read as coefficients, at `w`.
pub fn select(w: F, row: &[Challenge]) -> Challenge {
    let mut power = w;
    let mut weight = Challenge::ONE;
    for &x in row.iter().rev() {
        weight *= Challenge::ONE + x * (power - F::ONE);
        power = power.square();
    }
    weight
}

/// The successor weight of `point` at `row` (both of `n` variables, big-endian): the
/// multilinear extension of `x -> sum_y eq(point, y) [x = next(y)]`, `next(y) = y + 1` and the
/// last row its own successor. Bits are taken from the lowest: while the carry runs, `y`'s bits
/// are 1 and `x`'s 0; where it stops, `y`'s bit is 0 and `x`'s 1, the higher bits equal; the
/// last row's weight is carried apart.
///
/// # Panics
/// If the lengths differ.
pub fn successor(point: &[Challenge], row: &[Challenge]) -> Challenge {
    assert_eq!(point.len(), row.len(), "two points of one length");
    let one = Challenge::ONE;
    let (mut carry, mut settled, mut last) = (one, Challenge::ZERO, one);
    for (&y, &x) in point.iter().zip(row).rev() {
        let same = (x * y).double() - x - y + one;
        settled = settled * same + carry * (one - y) * x;
        carry *= y * (one - x);
        last *= y * x;
    }
    settled + last
}

/// WHIR's checks of the stacked opening read as `reading`, the instances opened at the
/// zerocheck's `point` (each at its last `arity` coordinates), the query rows `answers` (per
/// round, then the final round: one row of the previous commitment per query index, lifted to
/// the extension).
///
/// # Errors
/// A message when the answers are not one row of the round's folding width per index, or the
/// shapes do not fit each other (the final polynomial's variables not those left by the folds).
pub fn whir_check(
    shapes: &OpeningShapes,
    point: &[Challenge],
    reading: &WhirReading,
    answers: &[Vec<Vec<Challenge>>],
) -> Result<WhirOutcome, String> {
    let whir = &shapes.whir;
    let rounds = reading.rounds.len();
    if answers.len() != rounds + 1 || reading.folds.len() != rounds + 2 {
        return Err("one set of query rows per round and the final round".into());
    }
    let table_shapes: Vec<TableShape> = shapes
        .tables
        .iter()
        .map(|&(arity, width, _)| TableShape::new(arity, width))
        .collect();
    let (k, placements) = plan_stacked_layout(&table_shapes);
    let r = reading.folding_point();
    let reversed: Vec<Challenge> = r.iter().rev().copied().collect();
    if k > reversed.len() || whir.num_variables != r.len() {
        return Err("a folding point shorter than the stacked polynomial".into());
    }
    let fold = |claim: Challenge, f: &FoldReading| {
        f.rounds
            .iter()
            .zip(&f.challenges)
            .fold(claim, |c, (v, &x)| {
                reduce_as(Encoding::ZeroAndLeading, c, v, x)
            })
    };

    // The layout's claims, batched by alpha, and their weights at the reversed point's first k.
    let local = &reversed[..k];
    let alpha = reading.batching;
    let (mut claimed, mut weights, mut power) = (Challenge::ZERO, Challenge::ZERO, Challenge::ONE);
    for placement in &placements {
        let t = placement.idx();
        let (arity, _, next_columns) = &shapes.tables[t];
        let at = point
            .len()
            .checked_sub(*arity)
            .ok_or("an instance taller than the zerocheck's point")?;
        let instance_point = &point[at..];
        let opened = &reading.opened[t];
        let slot = |column: usize| -> Vec<Challenge> {
            placement.selectors()[column]
                .point::<Challenge>()
                .iter()
                .copied()
                .collect()
        };
        for (column, &v) in opened.current.iter().enumerate() {
            let mut lifted = slot(column);
            lifted.extend_from_slice(instance_point);
            claimed += power * v;
            weights += power * eq(&lifted, local);
            power *= alpha;
        }
        for (&column, &v) in next_columns.iter().zip(&opened.next) {
            let bits = slot(column);
            let (selector_row, local_row) = local.split_at(bits.len());
            claimed += power * v;
            weights += power * eq(&bits, selector_row) * successor(instance_point, local_row);
            power *= alpha;
        }
    }
    for &(z, v) in &reading.virtual_claims {
        claimed += power * v;
        weights += power * eq(&expand(z, k), local);
        power *= alpha;
    }
    claimed = fold(claimed, &reading.folds[0]);

    // Each round: its answers batched by gamma from its first power, then its fold.
    let mut remaining = whir.num_variables - reading.folds[0].challenges.len();
    let fold_row = |row: &[Challenge], f: &FoldReading| -> Result<Challenge, String> {
        if row.len() != 1 << f.challenges.len() {
            return Err("a query row of another width than its fold".into());
        }
        let q: Vec<Challenge> = f.challenges.iter().rev().copied().collect();
        Ok(evaluate(row, &q))
    };
    for (j, round) in reading.rounds.iter().enumerate() {
        let bits = whir.rounds[j].index_bits;
        if answers[j].len() != round.indices.len() {
            return Err(format!("round {j}: one row per query index"));
        }
        let local = &reversed[..remaining];
        let gamma = round.batching;
        let mut power = gamma;
        for &(z, a) in &round.ood {
            claimed += power * a;
            weights += power * eq(&expand(z, remaining), local);
            power *= gamma;
        }
        for (&index, row) in round.indices.iter().zip(&answers[j]) {
            let w = F::two_adic_generator(bits).exp_u64(index as u64);
            claimed += power * fold_row(row, &reading.folds[j])?;
            weights += power * select(w, local);
            power *= gamma;
        }
        claimed = fold(claimed, &reading.folds[j + 1]);
        remaining -= reading.folds[j + 1].challenges.len();
    }

    // The final round: its queries against the final polynomial, read as coefficients.
    if reading.final_poly.len() != 1 << remaining
        || reading.folds[rounds + 1].challenges.len() != remaining
    {
        return Err("a final polynomial or fold not of the variables the folds leave".into());
    }
    if answers[rounds].len() != reading.final_indices.len() {
        return Err("the final round: one row per query index".into());
    }
    let final_queries = reading
        .final_indices
        .iter()
        .zip(&answers[rounds])
        .map(|(&index, row)| {
            let w = F::two_adic_generator(whir.final_index_bits).exp_u64(index as u64);
            let at_w = reading
                .final_poly
                .iter()
                .rev()
                .fold(Challenge::ZERO, |acc, &c| acc * w + c);
            Ok((at_w, fold_row(row, &reading.folds[rounds])?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let last = &reading.folds[rounds + 1];
    claimed = fold(claimed, last);
    let q: Vec<Challenge> = last.challenges.iter().rev().copied().collect();
    Ok(WhirOutcome {
        claimed,
        weights,
        final_value: evaluate(&reading.final_poly, &q),
        final_queries,
    })
}

/// [`successor`] over nodes of `l`.
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
fn successor_nodes(l: &mut Lowering, point: &[u32], row: &[u32]) -> u32 {
    let one = l.constant(Challenge::ONE);
    let (mut carry, mut settled, mut last) = (one, l.constant(Challenge::ZERO), one);
    for (&y, &x) in point.iter().zip(row).rev() {
        let same = l.eq(&[y], &[x]);
        let not_y = l.sub(one, y);
        let not_x = l.sub(one, x);
        let kept = l.mul(settled, same);
        let stop = l.mul(not_y, x);
        let stopped = l.mul(carry, stop);
        settled = l.add(kept, stopped);
        let run = l.mul(y, not_x);
        carry = l.mul(carry, run);
        let both = l.mul(y, x);
        last = l.mul(last, both);
    }
    l.add(settled, last)
}

/// [`expand`] over nodes of `l`.
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
fn expand_nodes(l: &mut Lowering, z: u32, n: usize) -> Vec<u32> {
    let mut point = vec![z; n];
    let mut power = z;
    for coordinate in point.iter_mut().rev() {
        *coordinate = power;
        power = l.mul(power, power);
    }
    point
}

/// [`select`] over nodes of `l`.
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
fn select_nodes(l: &mut Lowering, w: u32, row: &[u32]) -> u32 {
    let one = l.constant(Challenge::ONE);
    let mut power = w;
    let mut weight = one;
    for &x in row.iter().rev() {
        let less_one = l.sub(power, one);
        let scaled = l.mul(x, less_one);
        let factor = l.add(one, scaled);
        weight = l.mul(weight, factor);
        power = l.mul(power, power);
    }
    weight
}

/// [`evaluate`] over nodes of `l`.
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
fn evaluate_nodes(l: &mut Lowering, values: &[u32], point: &[u32]) -> u32 {
    let mut layer = values.to_vec();
    for &x in point {
        let half = layer.len() / 2;
        for i in 0..half {
            let (low, high) = (layer[i], layer[half + i]);
            let step = l.sub(high, low);
            let scaled = l.mul(x, step);
            layer[i] = l.add(low, scaled);
        }
        layer.truncate(half);
    }
    layer[0]
}

/// The claim folded through `fold`'s rounds: `h(r) = h(0) + r (claim - 2 h(0)) + r (r - 1) c`
/// a round (p3-sumcheck's `Basis::Evaluation`), `h(0)` and `c` at each round's position.
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
fn fold_nodes(l: &mut Lowering, mut claim: u32, fold: &FoldPositions, challenges: &[u32]) -> u32 {
    let one = l.constant(Challenge::ONE);
    for (&p, &r) in fold.rounds.iter().zip(challenges) {
        let h0 = l.input(Input::Transcript { at: p });
        let c = l.input(Input::Transcript { at: p + D });
        let twice = l.add(h0, h0);
        let h1_less_h0 = l.sub(claim, twice);
        let linear = l.mul(r, h1_less_h0);
        let r_less_one = l.sub(r, one);
        let quadratic = l.mul(r, r_less_one);
        let curved = l.mul(quadratic, c);
        let partial = l.add(h0, linear);
        claim = l.add(partial, curved);
    }
    claim
}

/// WHIR's checks ([`whir_check`]) lowered into `l`, over the instances opened at the
/// zerocheck's point of `point_len` coordinates: the outputs are `claimed - W(r) f(r)`, then
/// per final query `f(w) - fold`, all zero exactly when [`whir_check`] holds on the same values.
///
/// Its inputs: `Input::Main` every opened value (the current row, and each declared next-row
/// column), `Input::Point` the coordinates of the zerocheck's point the instances read,
/// `Input::Transcript` every other value at its position in `at` (`alpha`, each fold's values and
/// challenges, each round's out-of-domain samples and answers and `gamma`, the final
/// polynomial), `Input::QueryPoint` each query's domain point keyed by its index's element, and
/// `Input::QueryFold` each query's row folded (a claim the program takes as given until the
/// query AIRs send it). Selector bits, the layout's slots and the domain's generators are
/// constants of the shape.
///
/// # Errors
/// When `at` and `shapes` do not fit each other: other counts of instances, folds or rounds, a
/// folding point other than WHIR's variables, an instance taller than the zerocheck's point, a
/// final polynomial not of the variables the folds leave.
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
pub(super) fn lower(
    l: &mut Lowering,
    shapes: &OpeningShapes,
    at: &WhirPositions,
    point_len: usize,
) -> Result<Vec<u32>, String> {
    let whir = &shapes.whir;
    let rounds = at.rounds.len();
    if at.folds.len() != rounds + 2 || at.opened.len() != shapes.tables.len() {
        return Err("positions of other folds or instances than the shapes'".into());
    }
    let table_shapes: Vec<TableShape> = shapes
        .tables
        .iter()
        .map(|&(arity, width, _)| TableShape::new(arity, width))
        .collect();
    let (k, placements) = plan_stacked_layout(&table_shapes);
    let zero = l.constant(Challenge::ZERO);
    let one = l.constant(Challenge::ONE);
    let challenges: Vec<Vec<u32>> = at
        .folds
        .iter()
        .map(|f| {
            f.challenges
                .iter()
                .map(|&p| l.input(Input::Transcript { at: p }))
                .collect()
        })
        .collect();
    let reversed: Vec<u32> = challenges.iter().flatten().rev().copied().collect();
    if whir.num_variables != reversed.len() || k > reversed.len() {
        return Err("a folding point of other variables than WHIR's".into());
    }

    // The layout's claims, batched by alpha.
    let local = &reversed[..k];
    let alpha = l.input(Input::Transcript { at: at.batching });
    let (mut claimed, mut weights, mut power) = (zero, zero, one);
    for placement in &placements {
        let t = placement.idx();
        let (arity, width, next_columns) = &shapes.tables[t];
        let first = point_len
            .checked_sub(*arity)
            .ok_or_else(|| format!("instance {t} taller than the zerocheck's point"))?;
        let instance_point: Vec<u32> = (first..point_len)
            .map(|coord| l.input(Input::Point { coord }))
            .collect();
        let (selector_row, local_row) = local.split_at(k - arity);
        let instance_eq = l.eq(&instance_point, local_row);
        let instance_next = if next_columns.is_empty() {
            zero
        } else {
            successor_nodes(l, &instance_point, local_row)
        };
        let slot = |l: &mut Lowering, column: usize| -> Result<u32, String> {
            let bits = placement.selectors()[column].point::<Challenge>();
            if bits.num_variables() != selector_row.len() {
                return Err(format!("instance {t}: a slot of other selector bits"));
            }
            let mut w = one;
            for (&b, &r) in bits.iter().zip(selector_row) {
                let factor = if b == Challenge::ONE {
                    r
                } else {
                    l.sub(one, r)
                };
                w = l.mul(w, factor);
            }
            Ok(w)
        };
        let mut add = |l: &mut Lowering, value: u32, weight: u32| {
            let v = l.mul(power, value);
            claimed = l.add(claimed, v);
            let w = l.mul(power, weight);
            weights = l.add(weights, w);
            power = l.mul(power, alpha);
        };
        for column in 0..*width {
            let value = l.input(Input::Main {
                instance: t,
                row: Row::Local,
                column,
            });
            let selector = slot(l, column)?;
            let weight = l.mul(selector, instance_eq);
            add(l, value, weight);
        }
        for &column in next_columns {
            let value = l.input(Input::Main {
                instance: t,
                row: Row::Next,
                column,
            });
            let selector = slot(l, column)?;
            let weight = l.mul(selector, instance_next);
            add(l, value, weight);
        }
    }
    for &(z, v) in &at.virtual_claims {
        let z = l.input(Input::Transcript { at: z });
        let value = l.input(Input::Transcript { at: v });
        let expanded = expand_nodes(l, z, k);
        let weight = l.eq(&expanded, local);
        let v = l.mul(power, value);
        claimed = l.add(claimed, v);
        let w = l.mul(power, weight);
        weights = l.add(weights, w);
        power = l.mul(power, alpha);
    }
    claimed = fold_nodes(l, claimed, &at.folds[0], &challenges[0]);

    // Each round: its answers batched by gamma from its first power, then its fold.
    let mut remaining = whir.num_variables - challenges[0].len();
    for (j, round) in at.rounds.iter().enumerate() {
        let local = &reversed[..remaining];
        let gamma = l.input(Input::Transcript { at: round.batching });
        let mut power = gamma;
        for &(z, a) in &round.ood {
            let z = l.input(Input::Transcript { at: z });
            let answer = l.input(Input::Transcript { at: a });
            let expanded = expand_nodes(l, z, remaining);
            let weight = l.eq(&expanded, local);
            let v = l.mul(power, answer);
            claimed = l.add(claimed, v);
            let w = l.mul(power, weight);
            weights = l.add(weights, w);
            power = l.mul(power, gamma);
        }
        for (query, &index) in round.indices.iter().enumerate() {
            let w = l.input(Input::QueryPoint { at: index });
            let folded = l.input(Input::QueryFold { round: j, query });
            let weight = select_nodes(l, w, local);
            let v = l.mul(power, folded);
            claimed = l.add(claimed, v);
            let w = l.mul(power, weight);
            weights = l.add(weights, w);
            power = l.mul(power, gamma);
        }
        claimed = fold_nodes(l, claimed, &at.folds[j + 1], &challenges[j + 1]);
        remaining -= challenges[j + 1].len();
    }

    // The final round: its queries against the final polynomial, read as coefficients.
    let last = &challenges[rounds + 1];
    if at.final_poly_len != 1 << remaining || last.len() != remaining {
        return Err("a final polynomial or fold not of the variables the folds leave".into());
    }
    let poly: Vec<u32> = (0..at.final_poly_len)
        .map(|i| {
            l.input(Input::Transcript {
                at: at.final_poly + i * D,
            })
        })
        .collect();
    let mut outputs = vec![zero];
    for (query, &index) in at.final_indices.iter().enumerate() {
        let w = l.input(Input::QueryPoint { at: index });
        let mut acc = zero;
        for &c in poly.iter().rev() {
            let shifted = l.mul(acc, w);
            acc = l.add(shifted, c);
        }
        let folded = l.input(Input::QueryFold {
            round: rounds,
            query,
        });
        outputs.push(l.sub(acc, folded));
    }
    claimed = fold_nodes(l, claimed, &at.folds[rounds + 1], last);
    let point: Vec<u32> = last.iter().rev().copied().collect();
    let value = evaluate_nodes(l, &poly, &point);
    let product = l.mul(weights, value);
    outputs[0] = l.sub(claimed, product);
    Ok(outputs)
}

/// [`lower`] alone, as a program.
///
/// # Errors
/// As [`lower`].
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
pub(super) fn program(
    shapes: &OpeningShapes,
    at: &WhirPositions,
    point_len: usize,
) -> Result<Program, String> {
    let mut l = Lowering::default();
    let outputs = lower(&mut l, shapes, at, point_len)?;
    Ok(l.into_program(outputs))
}

/// One program for a multilinear child's closing check and WHIR's checks of its opening:
/// output 0 the closing check's (`closing::program`), then [`lower`]'s, the opened values and
/// the zerocheck point's coordinates one input each for both (`rounds` coordinates, the
/// constraint sumcheck's rounds).
///
/// # Errors
/// As `closing::program` and [`lower`].
#[cfg_attr(not(test), allow(dead_code))] // read by the child's program, tested until a parent uses it
pub(super) fn child_program(
    airs: &[super::parent::MultilinearAir<'_>],
    log_heights: &[usize],
    lookup: &p3_multi_stark::lookup::transcript::LookupShape,
    rounds: usize,
    shapes: &OpeningShapes,
    at: &WhirPositions,
) -> Result<Program, String> {
    let mut l = Lowering::default();
    let closing = super::closing::lower(&mut l, airs, log_heights, lookup, rounds)?;
    let mut outputs = vec![closing];
    outputs.extend(lower(&mut l, shapes, at, rounds)?);
    Ok(l.into_program(outputs))
}

impl WhirPositions {
    /// The key on `"ood-input"` of an input of `lower`'s program: a transcript element's
    /// position (for `Input::QueryPoint`, its index's element), a zerocheck point coordinate's
    /// from `point` (its challenges' positions), and the folded rows past the transcript, from
    /// `deferred`; `None` for another input.
    pub fn key(&self, input: Input, point: &[usize], deferred: usize) -> Option<usize> {
        Some(match input {
            Input::Transcript { at } | Input::QueryPoint { at } => at,
            Input::Main {
                instance,
                row: Row::Local,
                column,
            } => {
                let o = self.opened.get(instance)?;
                (column < o.width).then_some(o.current + column * D)?
            }
            Input::Main {
                instance,
                row: Row::Next,
                column,
            } => {
                let o = self.opened.get(instance)?;
                o.next + o.next_columns.iter().position(|&c| c == column)? * D
            }
            Input::Point { coord } => *point.get(coord)?,
            Input::QueryFold { round, query } => {
                let before: usize = self
                    .rounds
                    .iter()
                    .take(round)
                    .map(|r| r.indices.len())
                    .sum();
                let here = self
                    .rounds
                    .get(round)
                    .map_or(self.final_indices.len(), |r| r.indices.len());
                if round > self.rounds.len() || query >= here {
                    return None;
                }
                deferred + before + query
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! WHIR's checks of a real multilinear child (the smallest compact parent over
    //! Poseidon1-24), every value read from its recorded transcript at the scheduled positions
    //! and the query rows from its proof: they hold, agree with the same checks assembled from
    //! p3's own statements, and fail when any one value changes.

    use p3_multilinear_util::point::Point;
    use p3_multilinear_util::poly::Poly;
    use p3_sumcheck::constraints::statement::{EqStatement, NextStatement, SelectStatement};
    use p3_sumcheck::constraints::{Constraint, Statements};
    use p3_sumcheck::strategy::Basis;
    use p3_whir::QueryOpenings;

    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::aggregate::recursion::harness::{smallest_compact_batch, SmallestParentBatch};
    use crate::aggregate::recursion::multilinear_child::{child_shapes, record};
    use crate::aggregate::recursion::ood::Node;
    use crate::aggregate::recursion::ood_air::OodLayout;
    use crate::aggregate::recursion::parent::multilinear_instances;

    pub(crate) type Answers = Vec<Vec<Vec<Challenge>>>;

    fn rows<P>(openings: &QueryOpenings<F, Challenge, P>) -> Vec<Vec<Challenge>> {
        match openings {
            QueryOpenings::Base(o) => o
                .rows
                .iter()
                .map(|row| row.iter().map(|&v| Challenge::from(v)).collect())
                .collect(),
            QueryOpenings::Extension(o) => o.rows.clone(),
        }
    }

    /// The same checks assembled from p3's statements and constraints (`Constraint::new`,
    /// `new_with_existing_claim`, `combine_evals`, `Basis::reduce_claim`,
    /// `VariableOrder::eval_constraints_poly`, `Poly::eval_ext`), as `WhirVerifier::replay`
    /// assembles them: the carried claim, `W(r)` and `f(r)`.
    fn p3_replica(
        shapes: &OpeningShapes,
        point: &[Challenge],
        reading: &WhirReading,
        answers: &Answers,
    ) -> (Challenge, Challenge, Challenge) {
        let tables: Vec<TableShape> = shapes
            .tables
            .iter()
            .map(|&(arity, width, _)| TableShape::new(arity, width))
            .collect();
        let (k, placements) = plan_stacked_layout(&tables);
        let mut statements = Vec::new();
        for placement in &placements {
            let t = placement.idx();
            let (arity, _, next) = &shapes.tables[t];
            let p = Point::new(point[point.len() - arity..].to_vec());
            let mut current = EqStatement::initialize(k);
            for (c, &v) in reading.opened[t].current.iter().enumerate() {
                current.add_evaluated_constraint(placement.selectors()[c].lift_prefix(&p), v);
            }
            if !current.is_empty() {
                statements.push(Statements::Eq(current));
            }
            let mut successor = NextStatement::initialize(k);
            for (&c, &v) in next.iter().zip(&reading.opened[t].next) {
                successor.add_evaluated_constraint(
                    placement.selectors()[c].point::<Challenge>(),
                    p.clone(),
                    v,
                    VariableOrder::Prefix,
                );
            }
            if !successor.is_empty() {
                statements.push(Statements::Next(successor));
            }
        }
        let mut virtuals = EqStatement::initialize(k);
        for &(z, v) in &reading.virtual_claims {
            virtuals.add_evaluated_constraint(Point::expand_from_univariate(z, k), v);
        }
        statements.push(Statements::Eq(virtuals));
        let mut constraints = vec![Constraint::<F, Challenge>::new(
            reading.batching,
            k,
            statements,
        )];
        let reduce = |claim: Challenge, f: &FoldReading| {
            f.rounds
                .iter()
                .zip(&f.challenges)
                .fold(claim, |c, (&[a, inf], &x)| {
                    Basis::Evaluation.reduce_claim(a, inf, x, c)
                })
        };
        let mut claimed = Challenge::ZERO;
        constraints[0].combine_evals(&mut claimed);
        claimed = reduce(claimed, &reading.folds[0]);
        let mut n = shapes.whir.num_variables - reading.folds[0].challenges.len();
        for (j, round) in reading.rounds.iter().enumerate() {
            let mut ood = EqStatement::initialize(n);
            for &(z, a) in &round.ood {
                ood.add_evaluated_constraint(Point::expand_from_univariate(z, n), a);
            }
            let mut queries = SelectStatement::<F, Challenge>::initialize(n);
            let q = Point::new(reading.folds[j].challenges.clone()).reversed();
            for (&index, row) in round.indices.iter().zip(&answers[j]) {
                queries.add_constraint(
                    F::two_adic_generator(shapes.whir.rounds[j].index_bits).exp_u64(index as u64),
                    Poly::new(row.clone()).eval_ext::<F>(&q),
                );
            }
            let c = Constraint::new_with_existing_claim(
                round.batching,
                n,
                vec![Statements::Eq(ood), Statements::Select(queries)],
            );
            c.combine_evals(&mut claimed);
            constraints.push(c);
            claimed = reduce(claimed, &reading.folds[j + 1]);
            n -= reading.folds[j + 1].challenges.len();
        }
        let last = reading.folds.last().expect("a final fold");
        claimed = reduce(claimed, last);
        let weights = VariableOrder::Suffix
            .eval_constraints_poly(&constraints, &Point::new(reading.folding_point()));
        let final_value = Poly::new(reading.final_poly.clone())
            .eval_ext::<F>(&Point::new(last.challenges.clone()).reversed());
        (claimed, weights, final_value)
    }

    /// The values of the inputs of WHIR's program that are not the closing check's (the
    /// closing check's opened values and point aside, `None`): a transcript element from the
    /// recorded `events`, a query's domain point from its index's element, a query's row from
    /// `answers` folded at its round's challenges.
    pub(crate) fn whir_inputs<'a>(
        events: &'a [(bool, F)],
        at: &WhirPositions,
        reading: &WhirReading,
        answers: &Answers,
    ) -> impl Fn(Input) -> Option<Challenge> + 'a {
        let final_bits = *at.index_bits.last().expect("a final round");
        let bits_at: HashMap<usize, usize> = at
            .rounds
            .iter()
            .zip(&at.index_bits)
            .flat_map(|(r, &b)| r.indices.iter().map(move |&p| (p, b)))
            .chain(at.final_indices.iter().map(|&p| (p, final_bits)))
            .collect();
        let folded: Vec<Vec<Challenge>> = answers
            .iter()
            .enumerate()
            .map(|(j, rows)| {
                let q: Vec<Challenge> = reading.folds[j].challenges.iter().rev().copied().collect();
                rows.iter().map(|row| evaluate(row, &q)).collect()
            })
            .collect();
        move |i: Input| match i {
            Input::Transcript { at } => Some(element(core::array::from_fn(|j| events[at + j].1))),
            Input::QueryPoint { at } => {
                let bits = bits_at[&at];
                let index = events[at].1.as_canonical_u64() & ((1 << bits) - 1);
                Some(Challenge::from(F::two_adic_generator(bits).exp_u64(index)))
            }
            Input::QueryFold { round, query } => Some(folded[round][query]),
            _ => None,
        }
    }

    /// The query rows of `whir`'s rounds, then its final round's, lifted to the extension.
    pub(crate) fn answers_of<P: p3_commit::Mmcs<F>>(
        whir: &p3_whir::WhirProof<F, Challenge, P>,
    ) -> Answers {
        whir.rounds
            .iter()
            .map(|r| rows(&r.openings))
            .chain([rows(&whir.final_openings)])
            .collect()
    }

    /// A compact parent as shipped: WHIR in the unique-decoding regime, no out-of-domain sample.
    #[test]
    fn whirs_checks_of_a_real_poseidon1_compact_parent() {
        let reading = check_child(&smallest_compact_batch([7; 32], 11), "unique decoding");
        assert!(reading.virtual_claims.is_empty());
    }

    /// The same batch under the Johnson bound, whose commitments draw out-of-domain samples:
    /// the layout's virtual claims and each round's answers.
    #[test]
    fn whirs_checks_with_out_of_domain_samples() {
        let mut batch = smallest_compact_batch([7; 32], 11);
        batch.params.unique_decoding = false;
        let reading = check_child(&batch, "Johnson bound");
        assert!(!reading.virtual_claims.is_empty());
        assert!(reading.rounds.iter().all(|r| !r.ood.is_empty()));
    }

    /// Reads `batch`'s compact parent over Poseidon1-24 and checks it (module docs), returning
    /// the reading.
    fn check_child(batch: &SmallestParentBatch, regime: &str) -> WhirReading {
        let wrapped = multilinear_instances(&batch.airs, batch.heights.len());
        let child = record(batch, &wrapped);
        let mut shapes = child_shapes(
            batch,
            &wrapped,
            &batch.heights,
            child.pow_bits,
            child.num_variables,
            true,
        );
        let schedule = shapes.schedule().expect("a schedule");
        let opening = shapes.opening.clone().expect("the opening's shapes");
        let events = &child.events;
        let at = WhirPositions::new(&schedule, &opening).expect("positions");
        let reading = WhirReading::read(&at, |p| events[p].1).expect("a reading");
        let point: Vec<Challenge> = schedule
            .all(&["constraint_sumcheck", "round_challenge"])
            .map(|s| element(core::array::from_fn(|j| events[s.start + j].1)))
            .collect();
        let whir = &child.proof.opening.whir;
        let answers = answers_of(whir);

        // What the transcript holds at the scheduled positions is the proof's.
        let virtual_values: Vec<Challenge> = reading.virtual_claims.iter().map(|c| c.1).collect();
        assert_eq!(virtual_values, whir.initial_ood_answers);
        for (round, proof_round) in reading.rounds.iter().zip(&whir.rounds) {
            let answers: Vec<Challenge> = round.ood.iter().map(|c| c.1).collect();
            assert_eq!(answers, proof_round.ood_answers);
        }
        let fold_values: Vec<Vec<[Challenge; 2]>> =
            reading.folds.iter().map(|f| f.rounds.clone()).collect();
        let mut proof_folds = vec![whir.initial_sumcheck.polynomial_evaluations.clone()];
        proof_folds.extend(
            whir.rounds
                .iter()
                .map(|r| r.sumcheck.polynomial_evaluations.clone()),
        );
        proof_folds.push(
            whir.final_sumcheck
                .as_ref()
                .map(|s| s.polynomial_evaluations.clone())
                .unwrap_or_default(),
        );
        assert_eq!(fold_values, proof_folds);
        assert_eq!(
            reading.final_poly,
            whir.final_poly
                .as_ref()
                .expect("a final polynomial")
                .as_slice()
        );
        for (j, round) in reading.rounds.iter().enumerate() {
            assert_eq!(round.indices.len(), answers[j].len(), "round {j}");
        }
        assert_eq!(
            reading.final_indices.len(),
            answers[reading.rounds.len()].len()
        );

        // The checks hold, and are p3's.
        let outcome = whir_check(&opening, &point, &reading, &answers).expect("an outcome");
        assert!(outcome.holds());
        assert_ne!(outcome.claimed, Challenge::ZERO);
        assert_eq!(
            p3_replica(&opening, &point, &reading, &answers),
            (outcome.claimed, outcome.weights, outcome.final_value)
        );

        // Any one value changed, and they fail.
        type Forgery = Box<dyn Fn(&mut WhirReading, &mut Answers, &mut Vec<Challenge>)>;
        fn bump(c: &mut Challenge) {
            *c += Challenge::ONE;
        }
        let with_next = reading
            .opened
            .iter()
            .position(|o| !o.next.is_empty())
            .expect("an instance with next-row columns");
        let last_round = reading.rounds.len() - 1;
        // The instances are read at the point's last coordinates, the tallest at most.
        let first_read = point.len()
            - opening
                .tables
                .iter()
                .map(|t| t.0)
                .max()
                .expect("an instance");
        let mut forgeries: Vec<(&str, Forgery)> = vec![
            (
                "an opened value",
                Box::new(|r, _, _| bump(&mut r.opened[0].current[0])),
            ),
            (
                "the last instance's last opened value",
                Box::new(|r, _, _| bump(r.opened.last_mut().unwrap().current.last_mut().unwrap())),
            ),
            (
                "a next-row value",
                Box::new(move |r, _, _| bump(&mut r.opened[with_next].next[0])),
            ),
            (
                "the layout's challenge",
                Box::new(|r, _, _| bump(&mut r.batching)),
            ),
            (
                "an initial fold's h(0)",
                Box::new(|r, _, _| bump(&mut r.folds[0].rounds[0][0])),
            ),
            (
                "an initial fold's leading coefficient",
                Box::new(|r, _, _| bump(&mut r.folds[0].rounds[0][1])),
            ),
            (
                "an initial fold's challenge",
                Box::new(|r, _, _| bump(&mut r.folds[0].challenges[0])),
            ),
            (
                "a round fold's h(0)",
                Box::new(|r, _, _| bump(&mut r.folds[1].rounds[0][0])),
            ),
            // Not the last fold's last challenge: an honest last round polynomial is `W f`
            // along that variable, so the check holds at any value of it (the transcript fixes it).
            (
                "the last fold's first challenge",
                Box::new(|r, _, _| bump(&mut r.folds.last_mut().unwrap().challenges[0])),
            ),
            (
                "the last fold's last h(0)",
                Box::new(|r, _, _| {
                    bump(&mut r.folds.last_mut().unwrap().rounds.last_mut().unwrap()[0])
                }),
            ),
            (
                "the last fold's last leading coefficient",
                Box::new(|r, _, _| {
                    bump(&mut r.folds.last_mut().unwrap().rounds.last_mut().unwrap()[1])
                }),
            ),
            (
                "a round's challenge",
                Box::new(|r, _, _| bump(&mut r.rounds[0].batching)),
            ),
            (
                "a query index",
                Box::new(|r, _, _| r.rounds[0].indices[0] ^= 1),
            ),
            (
                "a query row's cell",
                Box::new(|_, a, _| bump(&mut a[0][0][0])),
            ),
            (
                "the last round's last query row's last cell",
                Box::new(move |_, a, _| {
                    bump(a[last_round].last_mut().unwrap().last_mut().unwrap())
                }),
            ),
            (
                "a final query row's cell",
                Box::new(|_, a, _| bump(a.last_mut().unwrap()[0].last_mut().unwrap())),
            ),
            (
                "a final query index",
                Box::new(|r, _, _| r.final_indices[0] ^= 1),
            ),
            (
                "a final polynomial's value",
                Box::new(|r, _, _| bump(r.final_poly.last_mut().unwrap())),
            ),
            (
                "the tallest instance's first coordinate",
                Box::new(move |_, _, p| bump(&mut p[first_read])),
            ),
            (
                "the zerocheck point's last coordinate",
                Box::new(|_, _, p| bump(p.last_mut().unwrap())),
            ),
        ];
        // The layout's and the rounds' out-of-domain claims, where the configuration has any.
        if !reading.virtual_claims.is_empty() {
            forgeries.push((
                "a virtual value",
                Box::new(|r, _, _| bump(&mut r.virtual_claims[0].1)),
            ));
            forgeries.push((
                "a virtual point",
                Box::new(|r, _, _| bump(&mut r.virtual_claims[0].0)),
            ));
        }
        if !reading.rounds[0].ood.is_empty() {
            forgeries.push((
                "an out-of-domain answer",
                Box::new(|r, _, _| bump(&mut r.rounds[0].ood[0].1)),
            ));
            forgeries.push((
                "an out-of-domain point",
                Box::new(|r, _, _| bump(&mut r.rounds[0].ood[0].0)),
            ));
        }
        for (what, forge) in &forgeries {
            let (mut r, mut a, mut p) = (reading.clone(), answers.clone(), point.clone());
            forge(&mut r, &mut a, &mut p);
            let forged = whir_check(&opening, &p, &r, &a).expect("an outcome");
            assert!(!forged.holds(), "{what}");
        }

        // The same checks as a program: every output zero on the child's values.
        let point_at: Vec<usize> = schedule
            .all(&["constraint_sumcheck", "round_challenge"])
            .map(|s| s.start)
            .collect();
        let program = program(&opening, &at, point.len()).expect("a program");
        let ext_at = |p: usize| element(core::array::from_fn(|j| events[p + j].1));
        let whir_input = whir_inputs(events, &at, &reading, &answers);
        let input = |i: Input| -> Challenge {
            if let Some(v) = whir_input(i) {
                return v;
            }
            match i {
                Input::Main {
                    instance,
                    row: Row::Local,
                    column,
                } => reading.opened[instance].current[column],
                Input::Main {
                    instance,
                    row: Row::Next,
                    column,
                } => {
                    let columns = &opening.tables[instance].2;
                    reading.opened[instance].next
                        [columns.iter().position(|&c| c == column).unwrap()]
                }
                Input::Point { coord } => point[coord],
                other => panic!("not an input of WHIR's checks: {other:?}"),
            }
        };
        let outputs = program.outputs(input).expect("outputs");
        assert_eq!(outputs.len(), 1 + reading.final_indices.len());
        assert!(outputs.iter().all(|&o| o == Challenge::ZERO));

        // Each input's key is its own, and a transcript element's holds the input's value.
        let inputs: Vec<Input> = program
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Input(i) => Some(*i),
                _ => None,
            })
            .collect();
        let deferred = schedule.len();
        let mut keys = HashSet::new();
        for &i in &inputs {
            let key = at.key(i, &point_at, deferred).expect("a key");
            assert!(keys.insert(key), "{i:?}: a key of its own");
            if key < deferred && !matches!(i, Input::QueryPoint { .. }) {
                assert_eq!(ext_at(key), input(i), "{i:?}");
            }
        }

        // Every input changed alone changes an output, but the last fold's last challenge
        // (above); the forged values of the native check above, through the program.
        let free = Input::Transcript {
            at: *at.folds.last().unwrap().challenges.last().unwrap(),
        };
        let inert: Vec<Input> = inputs
            .iter()
            .copied()
            .filter(|&i| {
                let out = program
                    .outputs(|j| {
                        input(j)
                            + if j == i {
                                Challenge::ONE
                            } else {
                                Challenge::ZERO
                            }
                    })
                    .unwrap();
                out.iter().all(|&o| o == Challenge::ZERO)
            })
            .collect();
        assert_eq!(inert, vec![free]);
        let layout =
            OodLayout::new(&program, |i| at.key(i, &point_at, deferred)).expect("a layout");
        let live = layout.live_rows();
        println!(
            "WHIR's checks as a program ({regime}): {} nodes, {} outputs, {} inputs ({} query \
             points, {} folded rows), {live} rows of the out-of-domain AIR in a block of {}",
            program.nodes.len(),
            program.outputs.len(),
            inputs.len(),
            inputs
                .iter()
                .filter(|i| matches!(i, Input::QueryPoint { .. }))
                .count(),
            inputs
                .iter()
                .filter(|i| matches!(i, Input::QueryFold { .. }))
                .count(),
            layout.rows.len(),
        );

        // Rows of another width, or one missing, are refused.
        let mut narrow = answers.clone();
        narrow[0][0].pop();
        assert!(whir_check(&opening, &point, &reading, &narrow).is_err());
        let mut fewer = answers.clone();
        fewer[last_round + 1].pop();
        assert!(whir_check(&opening, &point, &reading, &fewer).is_err());

        let queries: usize = answers.iter().map(Vec::len).sum();
        println!(
            "WHIR's checks of a Poseidon1 compact parent ({regime}, 2^{} stacked): {} opened \
             values, {} out-of-domain claims, {} rounds, {} folds of {} rounds in all, {} \
             queries ({} final), a final polynomial of {} values; all {} forgeries fail",
            opening.whir.num_variables,
            reading
                .opened
                .iter()
                .map(|o| o.current.len() + o.next.len())
                .sum::<usize>(),
            reading.virtual_claims.len(),
            reading.rounds.len(),
            reading.folds.len(),
            reading.folding_point().len(),
            queries,
            reading.final_indices.len(),
            reading.final_poly.len(),
            forgeries.len(),
        );
        reading
    }
}
