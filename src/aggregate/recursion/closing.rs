//! The closing check of a multilinear child's zerocheck, natively: what p3-multi-stark 0.8's
//! verifier checks once the constraint sumcheck has bound its point
//! (`check_constraint_with_lookup_and_bus`, without a binary bus family), written from its
//! description as the reference the verifier AIRs will evaluate (recursion README, "The closing
//! check").
//!
//! **The check.** The sumcheck's point `r` (one challenge per round, in round order) and its
//! final claim `s` are checked against the opened columns: with `tau` the zerocheck's point (its
//! free coordinates, then the GKR's point `q`),
//!
//! ```text
//!     s = eq(tau, r) * sum_i (beta^i C_i + eta L_i)
//! ```
//!
//! over the batch's instances `i` in order, where for instance `i` of `2^n_i` rows:
//!
//! - its point is `r`'s last `n_i` coordinates, `r_i`; its selectors at it are
//!   `first = prod (1 - r_ij)`, `last = prod r_ij`, `transition = 1 - last`; each periodic
//!   column's value is its multilinear extension (row bits big-endian) at `r_i`'s last
//!   `log2(period)` coordinates;
//! - `C_i` is its constraints at the opened values (every column's on the current row, the
//!   declared next-row columns' on the next, zero for the others), batched by `alpha` by
//!   Horner's rule in the order the AIR asserts them;
//! - `L_i` (for an instance with interactions) is `sum_b w_b (m_b + theta (P_b - 1) - theta
//!   sum_k beta_L^k f_bk)` over its bus messages `b` in the order it sends them: `m_b` the
//!   signed count, `f_bk` the fields, `P_b = alpha_L + (id_b + 1) beta_L^W` the bus's prefix
//!   (`W` the widest message, `id_b` the bus's number in the lookup plan, `alpha_L`, `beta_L` the
//!   lookup argument's challenges), and `w_b = eq(v_b, q[..K - n_i])` the weight of the block
//!   the lookup plan gave the message: `v_b` that block's index (the instance's first block,
//!   `base_offset >> n_i`, then one more per message) as `K - n_i` bits, big-endian.
//!
//! Only global (cross-AIR) interactions are taken: the verifier AIRs declare no local or
//! exclusive one, and an AIR that does is refused.
//!
//! **In the verifier AIRs.** [`closing_value`] is the reference; `program` (crate-internal: it
//! reads the instances' symbolic records) lowers the same check to a straight-line
//! [`Program`] whose one output is the closing value minus the final claim, and
//! [`super::ood_air::OodAir`] runs it as it runs a FRI child's out-of-domain check, its inputs
//! keyed on `"ood-input"` by [`ClosingPositions`]: the transcript's elements at their
//! positions (taken from the transcript by [`super::gather::GatherAir`]), the final claim
//! where [`super::zerocheck::ZerocheckAir`] sends it, the periodic columns' values as claims
//! past the transcript's end (the deferred claims, recursion README).

use p3_air::{Air, AirBuilder, BaseAir, RowWindow};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder};
use p3_multi_stark::folder::MultilinearFolder;
use p3_multi_stark::lookup::transcript::LookupShape;
use p3_multi_stark::selectors::BoundaryEvals;

use super::ext::D;
use super::gkr::point_positions;
use super::multilinear_schedule::MultilinearSchedule;
use super::ood::{Input, Leaves, Lowering, Program, Row};
use super::parent::MultilinearAir;
use super::zerocheck::ZerocheckLink;
use crate::aggregate::field::Challenge;
use crate::xmss::F;

/// The challenges and points of one closing check, as the child's transcript holds them.
#[derive(Clone, Debug)]
pub struct ClosingChallenges {
    /// The zerocheck's `alpha` (one instance's constraints).
    pub alpha: Challenge,
    /// The zerocheck's `beta` (the instances).
    pub beta: Challenge,
    /// The zerocheck's `eta` (the lookup links against the constraints).
    pub eta: Challenge,
    /// The lookup argument's `alpha` (bus prefixes).
    pub lookup_alpha: Challenge,
    /// The lookup argument's `beta` (message fields).
    pub lookup_beta: Challenge,
    /// The lookup argument's `theta`.
    pub theta: Challenge,
    /// The zerocheck's point: its free coordinates, then the GKR's point (the lookup plan's
    /// `num_variables` of them).
    pub tau: Vec<Challenge>,
    /// The constraint sumcheck's challenges, in round order.
    pub point: Vec<Challenge>,
}

/// One instance's opened values: every column's at the point, and the declared next-row
/// columns' on the next row, in the order of its `main_next_row_columns`.
#[derive(Clone, Debug)]
pub struct Opened {
    /// One value per column.
    pub current: Vec<Challenge>,
    /// One value per declared next-row column.
    pub next: Vec<Challenge>,
}

/// `eq(a, b) = prod (a_i b_i + (1 - a_i)(1 - b_i))`.
///
/// # Panics
/// If the lengths differ.
pub fn eq(a: &[Challenge], b: &[Challenge]) -> Challenge {
    assert_eq!(a.len(), b.len(), "two points of one length");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x * y).double() - x - y + Challenge::ONE)
        .product()
}

/// The multilinear extension of `values` (a power of two of them, index bits big-endian: the
/// first coordinate is the top bit) at `point`.
///
/// # Panics
/// If `values` is not `2^point.len()` long.
pub fn extension(values: &[F], point: &[Challenge]) -> Challenge {
    assert_eq!(
        values.len(),
        1 << point.len(),
        "2^n values for n coordinates"
    );
    let mut layer: Vec<Challenge> = values.iter().map(|&v| Challenge::from(v)).collect();
    for &x in point {
        let half = layer.len() / 2;
        layer = (0..half)
            .map(|i| layer[i] + x * (layer[half + i] - layer[i]))
            .collect();
    }
    layer[0]
}

/// The selectors at an instance's point.
fn selectors(point: &[Challenge]) -> BoundaryEvals<Challenge> {
    let last: Challenge = point.iter().copied().product();
    BoundaryEvals {
        first: point.iter().map(|&r| Challenge::ONE - r).product(),
        last,
        transition: Challenge::ONE - last,
    }
}

/// Each periodic column of `air` at an instance's point `point` (its `n` coordinates, the
/// instance `2^n` rows): the column's multilinear extension at the last `log2(period)`
/// coordinates (row bits big-endian). These are the values a closing program takes as claims
/// ([`Input::Periodic`]).
///
/// # Errors
/// A periodic column whose period is not a power of two dividing the instance's height.
pub fn periodic_values<A: BaseAir<F>>(
    air: &A,
    point: &[Challenge],
) -> Result<Vec<Challenge>, String> {
    let nv = point.len();
    air.periodic_columns()
        .iter()
        .map(|column| {
            let j = column.len().trailing_zeros() as usize;
            if !column.len().is_power_of_two() || j > nv {
                return Err(format!("a periodic column of {}", column.len()));
            }
            Ok(extension(column, &point[nv - j..]))
        })
        .collect()
}

/// An AIR evaluated at the opened values by [`closing_value`]: its constraints through p3's
/// multilinear folder, its bus messages into the link sum `L` (module docs).
pub struct Closing<'a> {
    inner: MultilinearFolder<'a, F, Challenge, Challenge>,
    /// Per message, in order: its block's weight and its bus's `theta (P - 1)`.
    messages: &'a [(Challenge, Challenge)],
    /// `theta beta_L^k`.
    theta_beta: &'a [Challenge],
    seen: usize,
    link: Challenge,
    refused: Option<String>,
}

impl<'a> AirBuilder for Closing<'a> {
    type F = F;
    type Expr = Challenge;
    type Var = Challenge;
    type MainWindow = RowWindow<'a, Challenge>;
    type PreprocessedWindow = RowWindow<'a, Challenge>;
    type PublicVar = F;
    type PeriodicVar = Challenge;

    fn main(&self) -> Self::MainWindow {
        self.inner.main()
    }
    fn preprocessed(&self) -> &Self::PreprocessedWindow {
        self.inner.preprocessed()
    }
    fn is_first_row(&self) -> Self::Expr {
        self.inner.is_first_row()
    }
    fn is_last_row(&self) -> Self::Expr {
        self.inner.is_last_row()
    }
    fn is_transition(&self) -> Self::Expr {
        self.inner.is_transition()
    }
    fn assert_zero<I: Into<Self::Expr>>(&mut self, x: I) {
        self.inner.assert_zero(x);
    }
    fn public_values(&self) -> &[Self::PublicVar] {
        self.inner.public_values()
    }
    fn periodic_values(&self) -> &[Self::PeriodicVar] {
        self.inner.periodic_values()
    }
}

impl InteractionBuilder for Closing<'_> {
    fn push_interaction<E: Into<Self::Expr>>(
        &mut self,
        bus_name: &str,
        fields: impl IntoIterator<Item = E>,
        count: impl Into<Count<Self::Expr>>,
    ) {
        let Some(&(weight, offset)) = self.messages.get(self.seen) else {
            self.refused.get_or_insert_with(|| {
                format!("a message on {bus_name} the plan has no block for")
            });
            return;
        };
        self.seen += 1;
        let (multiplicity, _) = count.into().into_parts();
        let fields: Vec<Challenge> = fields.into_iter().map(Into::into).collect();
        if fields.len() > self.theta_beta.len() {
            self.refused
                .get_or_insert_with(|| format!("a message on {bus_name} wider than the plan's"));
            return;
        }
        let fingerprint: Challenge = fields
            .iter()
            .zip(self.theta_beta)
            .map(|(&f, &c)| f * c)
            .sum();
        self.link += weight * (multiplicity + offset - fingerprint);
    }

    fn push_local_interaction(
        &mut self,
        _tuples: impl IntoIterator<Item = (Vec<Self::Expr>, Count<Self::Expr>)>,
    ) {
        self.refused
            .get_or_insert_with(|| "a local interaction".to_string());
    }

    fn push_exclusive_interaction(
        &mut self,
        _bus_name: &str,
        _branches: impl IntoIterator<Item = (Self::Expr, Count<Self::Expr>, Vec<Self::Expr>)>,
    ) {
        self.refused
            .get_or_insert_with(|| "an exclusive interaction".to_string());
    }
}

/// `eq(tau, r) * sum_i (beta^i C_i + eta L_i)` for the instances `airs` of `2^log_heights[i]`
/// rows with `public_values`, their `opened` values and the lookup plan's `lookup` (module
/// docs): the value the constraint sumcheck's final claim must equal.
///
/// # Errors
/// A message for inputs of mismatched lengths, an opening of another width, a periodic column
/// whose period does not divide its instance's height, a message the plan has no block for
/// or blocks past the GKR's table, or an interaction other than a global one.
pub fn closing_value<A>(
    airs: &[A],
    log_heights: &[usize],
    public_values: &[Vec<F>],
    opened: &[Opened],
    lookup: &LookupShape,
    c: &ClosingChallenges,
) -> Result<Challenge, String>
where
    A: BaseAir<F> + for<'a> Air<Closing<'a>>,
{
    let n = airs.len();
    if log_heights.len() != n || public_values.len() != n || opened.len() != n {
        return Err("one height, public-value list and opening per instance".into());
    }
    let rounds = c.point.len();
    if c.tau.len() != rounds || lookup.num_variables > rounds {
        return Err("the points' lengths are not the shape's".into());
    }
    let gkr_point = &c.tau[rounds - lookup.num_variables..];
    let max_width = lookup.max_width;
    if max_width == 0 {
        return Err("a lookup plan without a message".into());
    }
    let gamma = c.lookup_beta.exp_u64(max_width as u64);
    let theta_beta: Vec<Challenge> = c
        .lookup_beta
        .powers()
        .take(max_width)
        .map(|b| c.theta * b)
        .collect();
    let mut g = Challenge::ZERO;
    let mut beta_i = Challenge::ONE;
    for (i, air) in airs.iter().enumerate() {
        let nv = log_heights[i];
        if nv > rounds {
            return Err(format!(
                "instance {i} of {nv} variables under {rounds} rounds"
            ));
        }
        let point = &c.point[rounds - nv..];
        let width = air.width();
        let next_columns = air.main_next_row_columns();
        let o = &opened[i];
        if o.current.len() != width || o.next.len() != next_columns.len() {
            return Err(format!("instance {i}: an opening of another width"));
        }
        let mut next = vec![Challenge::ZERO; width];
        for (&col, &v) in next_columns.iter().zip(&o.next) {
            next[col] = v;
        }
        let periodic = periodic_values(air, point).map_err(|e| format!("instance {i}: {e}"))?;
        // The blocks of this instance's messages, in the plan.
        let messages: Vec<(Challenge, Challenge)> = match lookup
            .instances
            .iter()
            .find(|p| p.air_index == i)
        {
            Some(plan) => {
                let prefix_len = lookup
                    .num_variables
                    .checked_sub(plan.num_variables)
                    .ok_or_else(|| format!("instance {i} taller than the GKR"))?;
                let prefix = &gkr_point[..prefix_len];
                let first = plan.base_offset >> plan.num_variables;
                if first + plan.bus_ids.len() > 1 << prefix_len {
                    return Err(format!("instance {i}: blocks past the GKR's table"));
                }
                plan.bus_ids
                    .iter()
                    .enumerate()
                    .map(|(j, &bus)| {
                        let block = first + j;
                        let vertex: Vec<Challenge> = (0..prefix_len)
                            .map(|b| Challenge::from_bool((block >> (prefix_len - 1 - b)) & 1 == 1))
                            .collect();
                        let prefix_bus = c.lookup_alpha + gamma * Challenge::from_usize(bus + 1);
                        (eq(&vertex, prefix), c.theta * (prefix_bus - Challenge::ONE))
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        let folder = MultilinearFolder::new(
            &o.current,
            &next,
            selectors(point),
            &public_values[i],
            c.alpha,
        )
        .with_periodic(&periodic);
        let mut closing = Closing {
            inner: folder,
            messages: &messages,
            theta_beta: &theta_beta,
            seen: 0,
            link: Challenge::ZERO,
            refused: None,
        };
        air.eval(&mut closing);
        if let Some(why) = closing.refused {
            return Err(format!("instance {i}: {why}"));
        }
        if closing.seen != messages.len() {
            return Err(format!(
                "instance {i}: {} messages for {} blocks",
                closing.seen,
                messages.len()
            ));
        }
        let constraints = closing.inner.into_accumulator();
        g += beta_i * constraints + c.eta * closing.link;
        beta_i *= c.beta;
    }
    Ok(eq(&c.tau, &c.point) * g)
}

/// The closing check of a multilinear child as a straight-line [`Program`] whose one output
/// is `eq(tau, r) * sum_i (beta^i C_i + eta L_i) - s` (module docs), zero exactly when
/// [`closing_value`] equals the final claim `s`: the form [`super::ood_air::OodAir`] runs in
/// the verifier AIRs, as [`Program::ood_check`] is for a FRI child.
///
/// `airs` are the child's instances (`2^log_heights[i]` rows), `lookup` its lookup plan and
/// `rounds` the constraint sumcheck's round count. Its inputs:
/// - [`Input::Main`] every column on the current row and each declared next-row column on the
///   next (an undeclared one is the constant zero, as p3's folder takes it);
/// - [`Input::Public`] the instances' public values, [`Input::Periodic`] each periodic
///   column's value at the instance's point ([`periodic_values`]: a claim the program does not
///   check, the deferred claims of the recursion README);
/// - [`Input::Alpha`], [`Input::ZerocheckBeta`], [`Input::Eta`], [`Input::LookupAlpha`],
///   [`Input::LookupBeta`], [`Input::Theta`]; [`Input::Point`] and [`Input::Tau`], `rounds`
///   coordinates each (the GKR's point is `tau`'s tail, never an input of its own);
///   [`Input::FinalClaim`].
///
/// The constraints come from each AIR's symbolic record ([`super::replay::SymbolicRecord`]:
/// the same expressions, in the same order, that p3's folder evaluates), the selectors and the
/// block weights are products of the point's and `tau`'s coordinates, and every constant the
/// shape fixes (bus numbers, block indices, the widest message) is folded in.
///
/// # Errors
/// As [`closing_value`]: mismatched lengths, a message the plan has no block for or blocks
/// past the GKR's table, an interaction other than a global one, an instance taller than the
/// sumcheck.
#[cfg_attr(not(test), allow(dead_code))] // read by the closing program, tested until a parent uses it
pub(super) fn program(
    airs: &[MultilinearAir<'_>],
    log_heights: &[usize],
    lookup: &LookupShape,
    rounds: usize,
) -> Result<Program, String> {
    let mut l = Lowering::default();
    let out = lower(&mut l, airs, log_heights, lookup, rounds)?;
    Ok(l.into_program(vec![out]))
}

/// [`program`]'s check lowered into `l`, its one output returned: the form in which the closing
/// check shares its inputs (the opened values, the point) with WHIR's checks in one child
/// program (`whir_check::child_program`).
///
/// # Errors
/// As [`program`].
#[cfg_attr(not(test), allow(dead_code))] // read by the closing program, tested until a parent uses it
pub(super) fn lower(
    l: &mut Lowering,
    airs: &[MultilinearAir<'_>],
    log_heights: &[usize],
    lookup: &LookupShape,
    rounds: usize,
) -> Result<u32, String> {
    if log_heights.len() != airs.len() {
        return Err("one height per instance".into());
    }
    if lookup.num_variables > rounds {
        return Err("a GKR over more variables than the sumcheck's rounds".into());
    }
    let max_width = lookup.max_width;
    if max_width == 0 {
        return Err("a lookup plan without a message".into());
    }
    let zero = l.constant(Challenge::ZERO);
    let one = l.constant(Challenge::ONE);
    let point: Vec<u32> = (0..rounds)
        .map(|coord| l.input(Input::Point { coord }))
        .collect();
    let tau: Vec<u32> = (0..rounds)
        .map(|coord| l.input(Input::Tau { coord }))
        .collect();
    let gkr_point = tau[rounds - lookup.num_variables..].to_vec();
    let alpha = l.input(Input::Alpha);
    let beta = l.input(Input::ZerocheckBeta);
    let eta = l.input(Input::Eta);
    let lookup_alpha = l.input(Input::LookupAlpha);
    let lookup_beta = l.input(Input::LookupBeta);
    let theta = l.input(Input::Theta);
    // `theta beta_L^k` for the fields, `gamma = beta_L^W` for the bus prefixes.
    let mut theta_beta = vec![theta];
    let mut gamma = one;
    for k in 0..max_width {
        gamma = l.mul(gamma, lookup_beta);
        if k + 1 < max_width {
            let t = l.mul(theta_beta[k], lookup_beta);
            theta_beta.push(t);
        }
    }
    let mut g = zero;
    let mut beta_i = one;
    for (i, air) in airs.iter().enumerate() {
        let nv = log_heights[i];
        if nv > rounds {
            return Err(format!(
                "instance {i} of {nv} variables under {rounds} rounds"
            ));
        }
        let record = air.record();
        if record.has_other_kinds() {
            return Err(format!(
                "instance {i}: an extension constraint or a local or exclusive interaction"
            ));
        }
        let own = &point[rounds - nv..];
        let mut last = one;
        let mut first = one;
        for &r in own {
            last = l.mul(last, r);
            let not = l.sub(one, r);
            first = l.mul(first, not);
        }
        let transition = l.sub(one, last);
        let width = air.width();
        let current: Vec<u32> = (0..width)
            .map(|column| {
                l.input(Input::Main {
                    instance: i,
                    row: Row::Local,
                    column,
                })
            })
            .collect();
        let mut next = vec![zero; width];
        for column in air.main_next_row_columns() {
            if column >= width {
                return Err(format!("instance {i}: a next-row column past its width"));
            }
            next[column] = l.input(Input::Main {
                instance: i,
                row: Row::Next,
                column,
            });
        }
        let periodic = (0..air.periodic_columns().len())
            .map(|column| {
                l.input(Input::Periodic {
                    instance: i,
                    column,
                })
            })
            .collect();
        let public = (0..air.num_public_values())
            .map(|index| l.input(Input::Public { instance: i, index }))
            .collect();
        l.set_leaves(Some(Leaves {
            main: [current, next],
            periodic,
            public,
            selectors: [first, last, transition],
            ..Leaves::default()
        }));
        // `C_i` by Horner's rule in assertion order (p3's `MultilinearFolder`).
        let mut c = zero;
        for e in record.base() {
            let x = l.base(e);
            let scaled = l.mul(c, alpha);
            c = l.add(scaled, x);
        }
        // `L_i`: each message weighed by its block's `eq` with the GKR point's prefix.
        let messages = record.global();
        let mut link = zero;
        match lookup.instances.iter().find(|p| p.air_index == i) {
            Some(plan) => {
                let prefix_len = lookup
                    .num_variables
                    .checked_sub(plan.num_variables)
                    .ok_or_else(|| format!("instance {i} taller than the GKR"))?;
                let first_block = plan.base_offset >> plan.num_variables;
                if first_block + plan.bus_ids.len() > 1 << prefix_len {
                    return Err(format!("instance {i}: blocks past the GKR's table"));
                }
                if plan.bus_ids.len() != messages.len() {
                    return Err(format!(
                        "instance {i}: {} messages for {} blocks",
                        messages.len(),
                        plan.bus_ids.len()
                    ));
                }
                for (j, (m, &bus)) in messages.iter().zip(&plan.bus_ids).enumerate() {
                    if m.fields.len() > max_width {
                        return Err(format!(
                            "instance {i}: a message on {} wider than the plan's",
                            m.bus_name
                        ));
                    }
                    let block = first_block + j;
                    let mut w = one;
                    for (b, &q) in gkr_point[..prefix_len].iter().enumerate() {
                        let factor = if (block >> (prefix_len - 1 - b)) & 1 == 1 {
                            q
                        } else {
                            l.sub(one, q)
                        };
                        w = l.mul(w, factor);
                    }
                    let id = l.constant(Challenge::from_usize(bus + 1));
                    let shift = l.mul(gamma, id);
                    let prefix = l.add(lookup_alpha, shift);
                    let prefix_less_one = l.sub(prefix, one);
                    let offset = l.mul(theta, prefix_less_one);
                    let count = l.base(&m.count);
                    let mut term = l.add(count, offset);
                    for (f, &tb) in m.fields.iter().zip(&theta_beta) {
                        let x = l.base(f);
                        let weighed = l.mul(tb, x);
                        term = l.sub(term, weighed);
                    }
                    let weighed = l.mul(w, term);
                    link = l.add(link, weighed);
                }
            }
            None if messages.is_empty() => {}
            None => {
                return Err(format!(
                    "instance {i}: a message on {} the plan has no block for",
                    messages[0].bus_name
                ))
            }
        }
        l.set_leaves(None);
        let weighed_c = l.mul(beta_i, c);
        let weighed_link = l.mul(eta, link);
        let term = l.add(weighed_c, weighed_link);
        g = l.add(g, term);
        beta_i = l.mul(beta_i, beta);
    }
    let eq = l.eq(&tau, &point);
    let value = l.mul(eq, g);
    let claim = l.input(Input::FinalClaim);
    Ok(l.sub(value, claim))
}

/// Where each input of a multilinear child's closing `program` is keyed on
/// `"ood-input"` (`super::ood_air::OOD_INPUT_BUS`): a transcript element at the transcript
/// position of its coordinate 0, as the child's [`MultilinearSchedule`] places it; the final
/// claim at the position of the constraint sumcheck's first round (no input of the program
/// is there: round values are not inputs); the periodic claims past the transcript's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosingPositions {
    alpha: usize,
    beta: usize,
    eta: usize,
    theta: usize,
    lookup_alpha: usize,
    lookup_beta: usize,
    tau: Vec<usize>,
    point: Vec<usize>,
    /// Per instance: its current row's first value, its next row's first value and the
    /// declared next-row columns.
    opened: Vec<(usize, usize, Vec<usize>)>,
    /// Per instance: its first public value.
    public: Vec<usize>,
    /// Per instance: the key of its first periodic claim.
    periodic: Vec<usize>,
    final_claim: usize,
}

impl ClosingPositions {
    /// The positions of the closing program of the child whose schedule is `schedule`,
    /// zerocheck `link` and instances `airs`.
    ///
    /// # Errors
    /// A schedule without one of the steps the closing check reads, or whose openings are
    /// not one per instance.
    #[cfg_attr(not(test), allow(dead_code))] // read by the closing program, tested until a parent uses it
    pub(super) fn new(
        schedule: &MultilinearSchedule,
        link: &ZerocheckLink,
        airs: &[MultilinearAir<'_>],
    ) -> Result<Self, String> {
        let at = |suffix: &[&'static str]| {
            schedule
                .find(suffix)
                .map(|s| s.start)
                .ok_or_else(|| format!("no step {suffix:?} in the schedule"))
        };
        let sumcheck = link.sumcheck_air()?;
        let mut tau: Vec<usize> = schedule
            .find(&["zerocheck", "tau"])
            .map(|s| (0..s.len / D).map(|k| s.start + k * D).collect())
            .unwrap_or_default();
        tau.extend(point_positions(link.start, link.layers));
        let point: Vec<usize> = (0..link.rounds())
            .map(|k| link.rounds_at() + k * sumcheck.stride() + sumcheck.challenge_at())
            .collect();
        if tau.len() != point.len() {
            return Err("tau and the sumcheck's point of different lengths".into());
        }
        let mut opened: Vec<(usize, usize, Vec<usize>)> = Vec::new();
        for s in schedule
            .steps
            .iter()
            .filter(|s| s.path.contains(&"main_opening"))
        {
            match s.path.last().copied() {
                Some("current_evals") => {
                    let i = opened.len();
                    let air = airs.get(i).ok_or("more openings than instances")?;
                    if s.len != air.width() * D {
                        return Err(format!("instance {i}: an opening of another width"));
                    }
                    opened.push((s.start, s.start, Vec::new()));
                }
                Some("next_evals") => {
                    let i = opened.len().checked_sub(1).ok_or("a next row first")?;
                    let columns = airs[i].main_next_row_columns();
                    if s.len != columns.len() * D {
                        return Err(format!("instance {i}: a next row of another width"));
                    }
                    opened[i].1 = s.start;
                    opened[i].2 = columns;
                }
                _ => {}
            }
        }
        if opened.len() != airs.len() {
            return Err("one opening per instance".into());
        }
        let public_step = schedule
            .find(&["public_values"])
            .ok_or("no step [\"public_values\"] in the schedule")?;
        let mut public = Vec::with_capacity(airs.len());
        let mut next_public = public_step.start;
        let mut periodic = Vec::with_capacity(airs.len());
        let mut next_periodic = schedule.len();
        for air in airs {
            public.push(next_public);
            next_public += air.num_public_values();
            periodic.push(next_periodic);
            next_periodic += air.periodic_columns().len();
        }
        if next_public != public_step.start + public_step.len {
            return Err("public values of another count than the schedule's".into());
        }
        Ok(Self {
            alpha: at(&["zerocheck", "alpha"])?,
            beta: at(&["zerocheck", "beta"])?,
            eta: link.eta_at(),
            theta: link.theta_at(),
            lookup_alpha: at(&["lookup_argument", "alpha"])?,
            lookup_beta: at(&["lookup_argument", "beta"])?,
            tau,
            point,
            opened,
            public,
            periodic,
            final_claim: link.rounds_at(),
        })
    }

    /// The key of `input`: a transcript position, or past the transcript for a periodic
    /// claim; `None` for an input the closing program does not read.
    pub fn position(&self, input: Input) -> Option<usize> {
        Some(match input {
            Input::Main {
                instance,
                row: Row::Local,
                column,
            } => self.opened.get(instance)?.0 + column * D,
            Input::Main {
                instance,
                row: Row::Next,
                column,
            } => {
                let (_, at, columns) = self.opened.get(instance)?;
                at + columns.iter().position(|&c| c == column)? * D
            }
            Input::Public { instance, index } => self.public.get(instance)? + index,
            Input::Periodic { instance, column } => self.periodic.get(instance)? + column,
            Input::Alpha => self.alpha,
            Input::ZerocheckBeta => self.beta,
            Input::Eta => self.eta,
            Input::Theta => self.theta,
            Input::LookupAlpha => self.lookup_alpha,
            Input::LookupBeta => self.lookup_beta,
            Input::Point { coord } => *self.point.get(coord)?,
            Input::Tau { coord } => *self.tau.get(coord)?,
            Input::FinalClaim => self.final_claim,
            _ => return None,
        })
    }

    /// Whether `input` is an element of the child's transcript (else a statement value, a
    /// periodic claim or the final claim), and whether the transcript samples it.
    pub fn in_transcript(input: Input) -> Option<bool> {
        match input {
            Input::Main { .. } => Some(false),
            Input::Alpha
            | Input::ZerocheckBeta
            | Input::Eta
            | Input::Theta
            | Input::LookupAlpha
            | Input::LookupBeta
            | Input::Point { .. }
            | Input::Tau { .. } => Some(true),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The closing check of a real multilinear child (the smallest compact parent over
    //! Poseidon1-24), every input read from its recorded transcript at the scheduled positions:
    //! it equals the constraint sumcheck's final claim, which p3's verifier checked against its
    //! own closing check, and a changed input changes it.

    use std::collections::BTreeSet;

    use super::*;
    use p3_field::{PrimeField64, TwoAdicField};
    use p3_matrix::dense::RowMajorMatrix;

    use crate::aggregate::recursion::bits::{BitsShape, Draw, Point, SampledBitsAir, Window};
    use crate::aggregate::recursion::duplex::{TRANSCRIPT_OBSERVE_BUS, TRANSCRIPT_SAMPLE_BUS};
    use crate::aggregate::recursion::ext::{coords, element};
    use crate::aggregate::recursion::gather::{GatherAir, Gathered};
    use crate::aggregate::recursion::gkr::{FractionGkrAir, GkrRun};
    use crate::aggregate::recursion::harness::{
        global_buses, only_constraints, smallest_compact_batch, Batch, Failed, KnownAir,
        SmallestParentBatch, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::recursion::multilinear_child::{child_shapes, record, RecordedChild};
    use crate::aggregate::recursion::multilinear_schedule::{Action, OpeningShapes};
    use crate::aggregate::recursion::ood_air::{OodAir, OodLayout, OOD_INPUT_BUS};
    use crate::aggregate::recursion::parent::multilinear_instances;
    use crate::aggregate::recursion::sumcheck::SumcheckRun;
    use crate::aggregate::recursion::whir_check::tests::{answers_of, whir_inputs};
    use crate::aggregate::recursion::whir_check::{
        child_program, program as whir_program, WhirPositions, WhirReading,
    };
    use crate::aggregate::recursion::zerocheck::tests::{chain, pieces, transcript_tables};
    use crate::aggregate::recursion::zerocheck::{ZerocheckAir, ZerocheckRun};

    /// A real multilinear child read from its recorded transcript at the scheduled positions:
    /// its recording, lookup plan, schedule, zerocheck link and run, the constraint sumcheck,
    /// the closing check's challenges and the instances' openings.
    struct Native {
        child: RecordedChild,
        lookup: LookupShape,
        schedule: MultilinearSchedule,
        link: ZerocheckLink,
        run: ZerocheckRun,
        sumcheck: SumcheckRun,
        c: ClosingChallenges,
        opened: Vec<Opened>,
    }

    fn native(batch: &SmallestParentBatch, wrapped: &[MultilinearAir<'_>]) -> Native {
        let child = record(batch, wrapped);
        let mut shapes = child_shapes(
            batch,
            wrapped,
            &batch.heights,
            child.pow_bits,
            child.num_variables,
            true,
        );
        let lookup = shapes.lookup.clone().expect("a lookup argument");
        let schedule = shapes.schedule().expect("a schedule");
        let events = &child.events;
        let value = |p: usize| element(core::array::from_fn(|j| events[p + j].1));
        let at = |suffix: &[&'static str]| schedule.find(suffix).expect("a step").start;

        let link = ZerocheckLink::from_schedule(1, &schedule).unwrap();
        let gkr = GkrRun::read(1, link.start, link.layers, |p| events[p].1);
        let (_, outputs) = FractionGkrAir::new()
            .generate_trace(std::slice::from_ref(&gkr), MIN_HEIGHT)
            .unwrap();
        let (run, sumcheck) = ZerocheckRun::read(link, &outputs[0], |p| events[p].1).unwrap();
        let free: Vec<Challenge> = schedule
            .find(&["zerocheck", "tau"])
            .map(|s| (0..s.len / D).map(|k| value(s.start + k * D)).collect())
            .unwrap_or_default();
        let c = ClosingChallenges {
            alpha: value(at(&["zerocheck", "alpha"])),
            beta: value(at(&["zerocheck", "beta"])),
            eta: run.eta,
            lookup_alpha: value(at(&["lookup_argument", "alpha"])),
            lookup_beta: value(at(&["lookup_argument", "beta"])),
            theta: run.theta,
            tau: free.iter().chain(&outputs[0].point).copied().collect(),
            point: sumcheck.challenges.clone(),
        };
        let mut opened: Vec<Opened> = Vec::new();
        for s in schedule
            .steps
            .iter()
            .filter(|s| s.path.contains(&"main_opening"))
        {
            let values = || (0..s.len / D).map(|k| value(s.start + k * D)).collect();
            match *s.path.last().unwrap() {
                "current_evals" => opened.push(Opened {
                    current: values(),
                    next: Vec::new(),
                }),
                "next_evals" => opened.last_mut().expect("an instance").next = values(),
                _ => {}
            }
        }
        assert_eq!(opened.len(), wrapped.len(), "one opening per instance");
        Native {
            child,
            lookup,
            schedule,
            link,
            run,
            sumcheck,
            c,
            opened,
        }
    }

    /// AIRs a test adds to [`verifier_batch`]'s, each with its trace and the transcript
    /// positions whose sampled elements it receives.
    type More = Vec<(TestAir, RowMajorMatrix<F>, Vec<usize>)>;

    /// The verifier AIRs around an `OodAir` block (instance 0, over `ood_values`):
    /// `GatherAir` gathering the transcript's elements at `elements` (their values `gathered`);
    /// the zerocheck's entry, GKR and sumchecks, which send the final claim; the transcript's
    /// share of all of them, its element at a position `transcript`'s; verifier-known senders of
    /// the `known` inputs `(key, value)`; and `more`.
    fn verifier_batch(
        n: &Native,
        (air, ood_values): (&OodAir, &[Challenge]),
        (elements, gathered): (&[Gathered], &[Challenge]),
        transcript: &dyn Fn(usize) -> F,
        known: &[(usize, Challenge)],
        more: More,
    ) -> Batch {
        let events = &n.child.events;
        let zerocheck = ZerocheckAir::new(&[n.link], MIN_HEIGHT);
        let pieces = pieces(events, n.link);
        let (mut observed, mut sampled, _) = transcript_tables(events, &n.schedule, &n.link);
        let gather = GatherAir::new(elements.to_vec()).numbered_from(1);
        let ood = air
            .generate_trace(&[ood_values.to_vec()], MIN_HEIGHT)
            .expect("no inversion");
        let gather_trace = gather.generate_trace(&[gathered.to_vec()], MIN_HEIGHT);
        let tuple = |p: usize| vec![F::ONE, F::from_usize(p), transcript(p)];
        for g in elements {
            let tuples = (g.position..g.position + D).map(tuple);
            if g.sampled {
                sampled.extend(tuples);
            } else {
                observed.extend(tuples);
            }
        }
        let mut airs = vec![TestAir::Ood(air.clone()), TestAir::Gather(gather)];
        let mut traces = vec![ood, gather_trace];
        for (a, t, positions) in more {
            sampled.extend(positions.into_iter().map(tuple));
            airs.push(a);
            traces.push(t);
        }
        let sent: Vec<Vec<F>> = known
            .iter()
            .map(|&(key, v)| {
                let mut t = vec![F::ONE, F::from_usize(key)];
                t.extend(coords(v));
                t
            })
            .collect();
        let known = [
            KnownAir::new(TRANSCRIPT_SAMPLE_BUS, 3, true, &sampled),
            KnownAir::new(TRANSCRIPT_OBSERVE_BUS, 3, false, &observed),
            KnownAir::new(OOD_INPUT_BUS, 2 + D, true, &sent),
        ];
        let (chained, chained_traces) = chain(
            &zerocheck,
            zerocheck
                .generate_trace(std::slice::from_ref(&pieces.run))
                .expect("a zerocheck trace"),
            &pieces,
        );
        airs.extend(chained);
        traces.extend(chained_traces);
        for k in known {
            traces.push(k.trace());
            airs.push(TestAir::Known(k));
        }
        Batch {
            buses: global_buses(&airs),
            airs,
            traces,
        }
    }

    /// The inputs a program reads.
    fn inputs_of(p: &Program) -> BTreeSet<Input> {
        use crate::aggregate::recursion::ood::Node;
        p.nodes
            .iter()
            .filter_map(|node| match node {
                Node::Input(i) => Some(*i),
                _ => None,
            })
            .collect()
    }

    /// A real compact parent's child program (the closing check and WHIR's checks) with the
    /// value of every input it reads and the key each takes.
    struct ChildRun {
        n: Native,
        opening: OpeningShapes,
        at: WhirPositions,
        reading: WhirReading,
        program: Program,
        positions: ClosingPositions,
        point_at: Vec<usize>,
        deferred: usize,
        values: std::collections::BTreeMap<Input, Challenge>,
    }

    impl ChildRun {
        fn new(batch: &SmallestParentBatch, wrapped: &[MultilinearAir<'_>]) -> Self {
            let n = native(batch, wrapped);
            let events = &n.child.events;
            let rounds = n.link.rounds();
            let opening = child_shapes(
                batch,
                wrapped,
                &batch.heights,
                n.child.pow_bits,
                n.child.num_variables,
                true,
            )
            .opening
            .expect("the opening's shapes");
            let at = WhirPositions::new(&n.schedule, &opening).expect("WHIR's positions");
            let reading = WhirReading::read(&at, |p| events[p].1).expect("a reading");
            let answers = answers_of(&n.child.proof.opening.whir);
            let program = child_program(wrapped, &batch.heights, &n.lookup, rounds, &opening, &at)
                .expect("the child's program");
            let positions =
                ClosingPositions::new(&n.schedule, &n.link, wrapped).expect("positions");
            let point_at: Vec<usize> = (0..rounds)
                .map(|coord| positions.position(Input::Point { coord }).unwrap())
                .collect();
            let periodic: usize = wrapped.iter().map(|a| a.periodic_columns().len()).sum();
            let deferred = n.schedule.len() + periodic;
            let point = &n.sumcheck.challenges;
            let periodic_values: Vec<Vec<Challenge>> = wrapped
                .iter()
                .zip(&batch.heights)
                .map(|(air, &nv)| periodic_values(air, &point[rounds - nv..]).unwrap())
                .collect();
            let values = {
                let whir_input = whir_inputs(events, &at, &reading, &answers);
                let value = |p: usize| element(core::array::from_fn(|j| events[p + j].1));
                inputs_of(&program)
                    .into_iter()
                    .map(|i| {
                        let v = whir_input(i).unwrap_or_else(|| match i {
                            Input::Public { instance, index } => {
                                Challenge::from(n.child.public_values[instance][index])
                            }
                            Input::Periodic { instance, column } => {
                                periodic_values[instance][column]
                            }
                            Input::FinalClaim => n.run.final_claim,
                            _ => value(positions.position(i).expect("a position")),
                        });
                        (i, v)
                    })
                    .collect()
            };
            ChildRun {
                n,
                opening,
                at,
                reading,
                program,
                positions,
                point_at,
                deferred,
                values,
            }
        }

        /// The input's key: the closing check's position, else WHIR's key.
        fn key(&self, i: Input) -> Option<usize> {
            self.positions
                .position(i)
                .or_else(|| self.at.key(i, &self.point_at, self.deferred))
        }

        /// The input's value on the child.
        fn input(&self, i: Input) -> Challenge {
            self.values[&i]
        }
    }

    #[test]
    fn the_closing_check_of_a_real_poseidon1_compact_parent() {
        let batch = smallest_compact_batch([7; 32], 11);
        let wrapped = multilinear_instances(&batch.airs, batch.heights.len());
        let Native {
            child,
            lookup,
            run,
            c,
            opened,
            ..
        } = native(&batch, &wrapped);
        let closing = |opened: &[Opened], c: &ClosingChallenges| {
            closing_value(
                &wrapped,
                &batch.heights,
                &child.public_values,
                opened,
                &lookup,
                c,
            )
            .expect("a closing value")
        };
        assert_eq!(
            closing(&opened, &c),
            run.final_claim,
            "the closing check holds on the child's opened values"
        );

        // Any input changed changes it: an opened value of each instance (current row, and next
        // row where there is one), each challenge, a coordinate of the zerocheck's point, and
        // one instance's messages put a block earlier in the plan (their weights alone).
        for i in 0..opened.len() {
            let mut forged = opened.clone();
            forged[i].current[0] += Challenge::ONE;
            assert_ne!(
                closing(&forged, &c),
                run.final_claim,
                "instance {i}'s opening"
            );
            if !forged[i].next.is_empty() {
                let mut forged = opened.clone();
                forged[i].next[0] += Challenge::ONE;
                assert_ne!(
                    closing(&forged, &c),
                    run.final_claim,
                    "instance {i}'s next row"
                );
            }
        }
        let edits: [fn(&mut ClosingChallenges); 7] = [
            |c| c.alpha += Challenge::ONE,
            |c| c.beta += Challenge::ONE,
            |c| c.eta += Challenge::ONE,
            |c| c.lookup_alpha += Challenge::ONE,
            |c| c.lookup_beta += Challenge::ONE,
            |c| c.theta += Challenge::ONE,
            |c| c.tau[0] += Challenge::ONE,
        ];
        for (k, edit) in edits.into_iter().enumerate() {
            let mut forged = c.clone();
            edit(&mut forged);
            assert_ne!(
                closing(&opened, &forged),
                run.final_claim,
                "challenge edit {k}"
            );
        }
        let mut shifted = lookup.clone();
        let last = shifted.instances.last_mut().expect("an instance");
        assert!(
            last.base_offset > 0,
            "the plan's last instance is not its first"
        );
        // Its messages one block earlier: a block of the plan, another instance's.
        last.base_offset -= 1 << last.num_variables;
        let moved = closing_value(
            &wrapped,
            &batch.heights,
            &child.public_values,
            &opened,
            &shifted,
            &c,
        )
        .expect("a closing value");
        assert_ne!(moved, run.final_claim, "messages weighed at other blocks");
        // A plan whose blocks run past the GKR's table is refused.
        let mut past = lookup.clone();
        past.instances[0].base_offset = 1 << lookup.num_variables;
        assert!(closing_value(
            &wrapped,
            &batch.heights,
            &child.public_values,
            &opened,
            &past,
            &c
        )
        .is_err());
        // Fewer openings than instances, or one of another width: refused.
        assert!(closing_value(
            &wrapped,
            &batch.heights,
            &child.public_values,
            &opened[1..],
            &lookup,
            &c
        )
        .is_err());
        let mut narrow = opened.clone();
        narrow[0].current.pop();
        assert!(closing_value(
            &wrapped,
            &batch.heights,
            &child.public_values,
            &narrow,
            &lookup,
            &c
        )
        .is_err());
        println!(
            "a Poseidon1 compact parent's closing check: {} instances, {} with bus messages, \
             the point of {} coordinates",
            wrapped.len(),
            lookup.instances.len(),
            c.point.len()
        );
    }

    /// The closing check and WHIR's checks as one child program: the opened values and the
    /// zerocheck point one input each for both, both keyed alike, every output zero on the
    /// child's values, and one opened value changed fails both checks.
    #[test]
    fn the_child_program_closes_and_opens_a_real_poseidon1_compact_parent() {
        let batch = smallest_compact_batch([7; 32], 11);
        let wrapped = multilinear_instances(&batch.airs, batch.heights.len());
        let r = ChildRun::new(&batch, &wrapped);
        let n = &r.n;
        let rounds = n.link.rounds();
        let closing =
            program(&wrapped, &batch.heights, &n.lookup, rounds).expect("the closing program");
        let whir = whir_program(&r.opening, &r.at, rounds).expect("WHIR's program");

        // Keys: the closing check's, then WHIR's past its periodic claims; both key the shared
        // inputs alike, and no two inputs share a key.
        let (all, of_closing, of_whir) =
            (inputs_of(&r.program), inputs_of(&closing), inputs_of(&whir));
        let shared: BTreeSet<Input> = of_closing.intersection(&of_whir).copied().collect();
        assert_eq!(all, of_closing.union(&of_whir).copied().collect());
        assert!(shared
            .iter()
            .all(|i| matches!(i, Input::Main { .. } | Input::Point { .. })));
        let opened: usize = r
            .reading
            .opened
            .iter()
            .map(|o| o.current.len() + o.next.len())
            .sum();
        assert!(
            shared.len() > opened,
            "every opened value, and the point, shared"
        );
        for &i in &shared {
            assert_eq!(
                r.positions.position(i),
                r.at.key(i, &r.point_at, r.deferred),
                "{i:?}"
            );
        }
        let mut keys = BTreeSet::new();
        for &i in &all {
            assert!(
                keys.insert(r.key(i).expect("a key")),
                "{i:?}: a key of its own"
            );
        }

        // Every output zero on the child's values.
        let outputs = r.program.outputs(|i| r.input(i)).expect("no inversion");
        assert_eq!(outputs.len(), 2 + r.reading.final_indices.len());
        assert!(outputs.iter().all(|&o| o == Challenge::ZERO));

        // One opened value changed: both the closing check and WHIR's fail.
        let changed = Input::Main {
            instance: 0,
            row: Row::Local,
            column: 0,
        };
        let forged = r
            .program
            .outputs(|i| {
                r.input(i)
                    + if i == changed {
                        Challenge::ONE
                    } else {
                        Challenge::ZERO
                    }
            })
            .unwrap();
        assert_ne!(forged[0], Challenge::ZERO, "the closing check");
        assert_ne!(forged[1], Challenge::ZERO, "WHIR's check");

        let layout = OodLayout::new(&r.program, |i| r.key(i)).expect("a layout");
        println!(
            "the child's program: {} nodes ({} closing, {} WHIR), {} inputs ({} shared), {} \
             outputs, {} rows in a block of {}",
            r.program.nodes.len(),
            closing.nodes.len(),
            whir.nodes.len(),
            all.len(),
            shared.len(),
            outputs.len(),
            layout.live_rows(),
            layout.rows.len()
        );
    }

    /// The child's program in the verifier AIRs: `OodAir` runs the closing check and WHIR's
    /// checks over the opened values, the challenges and WHIR's transcript values gathered from
    /// the transcript (`GatherAir`), each query's domain point `g^index` from its index's element
    /// decomposed by `SampledBitsAir` (a uniform draw, beside every grinding check of the child),
    /// the final claim from the zerocheck, and the statement's public values, the periodic claims
    /// and the folded query rows from verifier-known senders (the claims deferred to the AIRs
    /// that will send them).
    #[test]
    fn the_child_program_of_a_real_poseidon1_compact_parent_runs_in_the_verifier_airs() {
        let batch = smallest_compact_batch([7; 32], 11);
        let wrapped = multilinear_instances(&batch.airs, batch.heights.len());
        let r = ChildRun::new(&batch, &wrapped);
        let events = &r.n.child.events;
        let layout = OodLayout::new(&r.program, |i| r.key(i)).expect("a layout");
        let air = OodAir::new(layout.clone()).numbered_from(1);
        let values: Vec<Challenge> = layout.inputs.iter().map(|&i| r.input(i)).collect();
        let key = |i: Input| r.key(i).expect("a key");

        // Where each input comes from: an element of the transcript is gathered; a query's
        // point is sent by the bits AIR; the final claim by the zerocheck; the rest are known.
        let (mut elements, mut gathered, mut known) = (Vec::new(), Vec::new(), Vec::new());
        for (&i, &v) in layout.inputs.iter().zip(&values) {
            let sampled = match i {
                Input::Transcript { at } => Some(!events[at].0),
                _ => ClosingPositions::in_transcript(i),
            };
            match (i, sampled) {
                (Input::QueryPoint { .. } | Input::FinalClaim, _) => {}
                (_, Some(sampled)) => {
                    elements.push(Gathered {
                        position: key(i),
                        sampled,
                    });
                    gathered.push(v);
                }
                (Input::Public { .. } | Input::Periodic { .. } | Input::QueryFold { .. }, _) => {
                    known.push((key(i), v))
                }
                other => panic!("an input from nowhere: {other:?}"),
            }
        }

        // The query indices, as p3-whir draws them: `sample_uniform_bits` of each round's bits,
        // the point `g^index` in natural order to `OodAir`; and every grinding check (the
        // sumchecks' and WHIR's query phases'), the sample after its witness.
        let at = &r.at;
        let final_bits = *at.index_bits.last().expect("a final round");
        let mut draws: Vec<(usize, Draw)> = at
            .rounds
            .iter()
            .zip(&at.index_bits)
            .flat_map(|(round, &bits)| round.indices.iter().map(move |&p| (p, bits)))
            .chain(at.final_indices.iter().map(|&p| (p, final_bits)))
            .map(|(p, bits)| {
                let window = Window {
                    lo: 0,
                    hi: bits,
                    tag: 0,
                    uses: 0,
                    point: Point::Natural {
                        g: F::two_adic_generator(bits),
                    },
                    to_ood: true,
                };
                let windows = vec![window];
                (
                    p,
                    Draw::Query {
                        bits,
                        uniform: true,
                        windows,
                    },
                )
            })
            .collect();
        let queries: Vec<usize> = draws.iter().map(|d| d.0).collect();
        let grinding =
            r.n.schedule
                .steps
                .iter()
                .filter(|s| s.action == Action::Grind)
                .map(|s| (s.start + 1, Draw::Grinding { bits: s.bits }));
        draws.extend(grinding);
        draws.sort_by_key(|d| d.0);
        let drawn: Vec<usize> = draws.iter().map(|d| d.0).collect();
        let grinding = drawn.len() - queries.len();
        assert!(grinding > 0, "grinding checks");
        let points: Vec<usize> = layout
            .inputs
            .iter()
            .filter_map(|i| match i {
                Input::QueryPoint { at } => Some(*at),
                _ => None,
            })
            .collect();
        let mut sorted = queries.clone();
        sorted.sort_unstable();
        assert_eq!(points, sorted, "every index's point read, once");
        let bits = SampledBitsAir::new(BitsShape::new(draws)).numbered_from(1);
        let honest_draws: Vec<F> = drawn.iter().map(|&p| events[p].1).collect();

        let build = |ood_values: &[Challenge],
                     gathered: &[Challenge],
                     transcript: &dyn Fn(usize) -> F,
                     known: &[(usize, Challenge)],
                     draws: &[F]| {
            let (trace, _, _) = bits.generate_trace(&[draws.to_vec()], MIN_HEIGHT);
            verifier_batch(
                &r.n,
                (&air, ood_values),
                (&elements, gathered),
                transcript,
                known,
                vec![(TestAir::Bits(bits.clone()), trace, drawn.clone())],
            )
        };
        let recorded = |p: usize| events[p].1;
        let honest = build(&values, &gathered, &recorded, &known, &honest_draws);
        assert_eq!(honest.failed(), BTreeSet::new());
        honest
            .prove_and_verify()
            .expect("the child's closing check and WHIR's checks verify");

        let k_of = |i: Input| {
            layout
                .inputs
                .binary_search(&i)
                .expect("an input of the layout")
        };
        let g_of = |i: Input| {
            elements
                .iter()
                .position(|e| e.position == key(i))
                .expect("gathered")
        };
        let plus_one = |v: &[Challenge], k: usize| {
            let mut v = v.to_vec();
            v[k] += Challenge::ONE;
            v
        };

        // The final polynomial's first coefficient one more in the check, the gathering and the
        // transcript: WHIR's outputs' constraints alone. Gathered so but not so in the
        // transcript: the transcript's bus.
        let coefficient = Input::Transcript { at: at.final_poly };
        let moved = at.final_poly;
        let forged_transcript = |p: usize| {
            if (moved..moved + D).contains(&p) {
                coords(element(core::array::from_fn(|j| events[moved + j].1)) + Challenge::ONE)
                    [p - moved]
            } else {
                events[p].1
            }
        };
        let (forged_values, forged_gathered) = (
            plus_one(&values, k_of(coefficient)),
            plus_one(&gathered, g_of(coefficient)),
        );
        build(
            &forged_values,
            &forged_gathered,
            &forged_transcript,
            &known,
            &honest_draws,
        )
        .caught(only_constraints);
        let b = build(
            &forged_values,
            &forged_gathered,
            &recorded,
            &known,
            &honest_draws,
        );
        b.caught(|f| f.contains(&Failed::Bus(TRANSCRIPT_OBSERVE_BUS)));

        // A fold's challenge other than the transcript's, in the check and the gathering: the
        // sample bus.
        let challenge = Input::Transcript {
            at: at.folds[1].challenges[0],
        };
        let (forged_values, forged_gathered) = (
            plus_one(&values, k_of(challenge)),
            plus_one(&gathered, g_of(challenge)),
        );
        build(
            &forged_values,
            &forged_gathered,
            &recorded,
            &known,
            &honest_draws,
        )
        .caught(|f| f.contains(&Failed::Bus(TRANSCRIPT_SAMPLE_BUS)));

        // A query's point other than its index's: the input bus.
        let point = Input::QueryPoint { at: queries[3] };
        let forged_values = plus_one(&values, k_of(point));
        build(&forged_values, &gathered, &recorded, &known, &honest_draws)
            .caught(|f| f.contains(&Failed::Bus(OOD_INPUT_BUS)));

        // An index decomposed from another element than the transcript's, its point in the
        // check: the sample bus.
        let mut forged_draws = honest_draws.clone();
        let d = drawn.binary_search(&queries[3]).expect("a draw");
        forged_draws[d] += F::ONE;
        let bits_of = |v: F| {
            let b = at
                .index_bits
                .iter()
                .zip(&at.rounds)
                .find(|(_, round)| round.indices.contains(&queries[3]))
                .map_or(final_bits, |(&b, _)| b);
            let index = v.as_canonical_u64() & ((1 << b) - 1);
            Challenge::from(F::two_adic_generator(b).exp_u64(index))
        };
        let mut forged_values = values.clone();
        forged_values[k_of(point)] = bits_of(forged_draws[d]);
        assert_ne!(forged_values[k_of(point)], values[k_of(point)]);
        build(&forged_values, &gathered, &recorded, &known, &forged_draws)
            .caught(|f| f.contains(&Failed::Bus(TRANSCRIPT_SAMPLE_BUS)));

        // A folded query row other than the child's, sent as such (the claim the query AIRs
        // will send): WHIR's outputs' constraints alone.
        let fold = Input::QueryFold { round: 0, query: 0 };
        let forged_values = plus_one(&values, k_of(fold));
        let forged_known: Vec<(usize, Challenge)> = known
            .iter()
            .map(|&(p, v)| {
                (
                    p,
                    if p == key(fold) {
                        v + Challenge::ONE
                    } else {
                        v
                    },
                )
            })
            .collect();
        build(
            &forged_values,
            &gathered,
            &recorded,
            &forged_known,
            &honest_draws,
        )
        .caught(only_constraints);

        println!(
            "the child's program in the verifier AIRs: {} inputs ({} gathered, {} query points, \
             {} known), {} rows in a block of {}; {grinding} grinding checks",
            layout.inputs.len(),
            elements.len(),
            queries.len(),
            known.len(),
            layout.live_rows(),
            layout.rows.len()
        );
    }

    /// The closing check as a program and in the verifier AIRs: `OodAir` runs it over inputs
    /// gathered from the child's transcript (`GatherAir`) at the positions the schedule gives,
    /// the statement's public values, the periodic claims and the final claim.
    #[test]
    fn the_closing_program_of_a_real_poseidon1_compact_parent_runs_in_the_verifier_airs() {
        let batch = smallest_compact_batch([7; 32], 11);
        let wrapped = multilinear_instances(&batch.airs, batch.heights.len());
        let n = native(&batch, &wrapped);
        let events = &n.child.events;
        let value = |p: usize| element(core::array::from_fn(|j| events[p + j].1));
        let rounds = n.link.rounds();
        let program = program(&wrapped, &batch.heights, &n.lookup, rounds).expect("a program");
        let positions = ClosingPositions::new(&n.schedule, &n.link, &wrapped).expect("positions");
        let point = &n.sumcheck.challenges;
        let periodic: Vec<Vec<Challenge>> = wrapped
            .iter()
            .zip(&batch.heights)
            .map(|(air, &nv)| periodic_values(air, &point[rounds - nv..]).unwrap())
            .collect();
        let at = |i: Input| positions.position(i).expect("a position");
        let input = |i: Input| -> Challenge {
            match i {
                Input::Public { instance, index } => {
                    Challenge::from(n.child.public_values[instance][index])
                }
                Input::Periodic { instance, column } => periodic[instance][column],
                Input::FinalClaim => n.run.final_claim,
                _ => value(at(i)),
            }
        };

        // The positions hold what the native check read: the challenges, both points, every
        // opened value, and the public values (one element each) where the transcript
        // observed them.
        let c = &n.c;
        for (i, v) in [
            (Input::Alpha, c.alpha),
            (Input::ZerocheckBeta, c.beta),
            (Input::Eta, c.eta),
            (Input::Theta, c.theta),
            (Input::LookupAlpha, c.lookup_alpha),
            (Input::LookupBeta, c.lookup_beta),
        ] {
            assert_eq!(value(at(i)), v, "{i:?}");
        }
        for coord in 0..rounds {
            assert_eq!(value(at(Input::Point { coord })), c.point[coord]);
            assert_eq!(value(at(Input::Tau { coord })), c.tau[coord]);
        }
        for (instance, o) in n.opened.iter().enumerate() {
            for (column, &v) in o.current.iter().enumerate() {
                let row = Row::Local;
                assert_eq!(
                    input(Input::Main {
                        instance,
                        row,
                        column
                    }),
                    v
                );
            }
            let next = wrapped[instance].main_next_row_columns();
            for (&column, &v) in next.iter().zip(&o.next) {
                let row = Row::Next;
                assert_eq!(
                    input(Input::Main {
                        instance,
                        row,
                        column
                    }),
                    v
                );
            }
            for (index, &v) in n.child.public_values[instance].iter().enumerate() {
                assert_eq!(events[at(Input::Public { instance, index })].1, v);
            }
        }

        // The program's output is zero on the child's inputs; with a zero final claim it is
        // the native closing value.
        assert_eq!(
            program.outputs(input).expect("no inversion"),
            vec![Challenge::ZERO]
        );
        let value_of = closing_value(
            &wrapped,
            &batch.heights,
            &n.child.public_values,
            &n.opened,
            &n.lookup,
            c,
        )
        .unwrap();
        let without_claim = program
            .outputs(|i| match i {
                Input::FinalClaim => Challenge::ZERO,
                _ => input(i),
            })
            .unwrap();
        assert_eq!(without_claim, vec![value_of]);

        // Refused: a height per instance missing, an instance taller than the sumcheck, a plan
        // whose blocks run past the GKR's table; positions for instances the schedule does not
        // open, or with one public value more than the schedule observes.
        let program_of = |heights: &[usize], lookup: &LookupShape| {
            super::program(&wrapped, heights, lookup, rounds)
        };
        assert!(program_of(&batch.heights[1..], &n.lookup).is_err());
        let mut tall = batch.heights.clone();
        tall[0] = rounds + 1;
        assert!(program_of(&tall, &n.lookup).is_err());
        let mut past = n.lookup.clone();
        past.instances[0].base_offset = 1 << n.lookup.num_variables;
        assert!(program_of(&batch.heights, &past).is_err());
        let fewer = &wrapped[..wrapped.len() - 1];
        assert!(ClosingPositions::new(&n.schedule, &n.link, fewer).is_err());
        let mut cut = n.schedule.clone();
        let public_step = cut
            .steps
            .iter_mut()
            .find(|s| s.path.last() == Some(&"public_values"))
            .expect("the public values' step");
        public_step.len -= 1;
        assert!(ClosingPositions::new(&cut, &n.link, &wrapped).is_err());

        // Laid out for the AIR: every input it reads changes the output when changed.
        let layout = OodLayout::new(&program, |i| positions.position(i)).expect("a layout");
        let values: Vec<Challenge> = layout.inputs.iter().map(|&i| input(i)).collect();
        let (mut kinds, mut inert) = (std::collections::HashSet::new(), Vec::new());
        for (k, &i) in layout.inputs.iter().enumerate() {
            kinds.insert(std::mem::discriminant(&i));
            let mut forged = values.clone();
            forged[k] += Challenge::ONE;
            let out = program
                .outputs(|j| match layout.inputs.binary_search(&j) {
                    Ok(m) => forged[m],
                    Err(_) => input(j),
                })
                .unwrap();
            if out[0] == Challenge::ZERO {
                inert.push(i);
            }
        }
        assert!(inert.is_empty(), "inputs with no effect: {inert:?}");
        assert_eq!(kinds.len(), 12, "every kind of input is read");

        // In the AIRs: the transcript's elements gathered at their positions, the statement's
        // values, periodic claims and final claim sent by verifier-known senders.
        let air = OodAir::new(layout.clone()).numbered_from(1);
        let elements: Vec<(Gathered, Challenge)> = layout
            .inputs
            .iter()
            .zip(&values)
            .filter_map(|(&i, &v)| {
                ClosingPositions::in_transcript(i).map(|sampled| {
                    let position = at(i);
                    (Gathered { position, sampled }, v)
                })
            })
            .collect();
        let known_inputs: Vec<(usize, Challenge)> = layout
            .inputs
            .iter()
            .zip(&values)
            .filter(|(&i, _)| {
                ClosingPositions::in_transcript(i).is_none() && i != Input::FinalClaim
            })
            .map(|(&i, &v)| (at(i), v))
            .collect();
        let gather_at: Vec<Gathered> = elements.iter().map(|e| e.0).collect();
        let build = |ood_values: &[Challenge],
                     gathered: &[Challenge],
                     transcript: &dyn Fn(usize) -> F,
                     known: &[(usize, Challenge)]| {
            verifier_batch(
                &n,
                (&air, ood_values),
                (&gather_at, gathered),
                transcript,
                known,
                Vec::new(),
            )
        };
        let gathered: Vec<Challenge> = elements.iter().map(|e| e.1).collect();
        let recorded = |p: usize| events[p].1;
        let honest = build(&values, &gathered, &recorded, &known_inputs);
        assert_eq!(honest.failed(), BTreeSet::new());
        honest
            .prove_and_verify()
            .expect("the child's closing check verifies");

        // The check's inputs and the gathered values with the transcript element of input `k`
        // (its index among the layout's inputs) one more in both.
        let forge_gathered = |k: usize| {
            let g = elements
                .iter()
                .position(|e| e.0.position == at(layout.inputs[k]))
                .expect("gathered");
            let (mut forged_values, mut forged_gathered) = (values.clone(), gathered.clone());
            forged_values[k] += Challenge::ONE;
            forged_gathered[g] += Challenge::ONE;
            (forged_values, forged_gathered)
        };

        // An opened value other than the one that closes the check, the transcript consistent
        // with it: the output's constraint alone.
        let k = layout
            .inputs
            .iter()
            .position(|i| matches!(i, Input::Main { .. }))
            .expect("an opened value");
        let (forged_values, forged_gathered) = forge_gathered(k);
        let moved = at(layout.inputs[k]);
        let forged_transcript = |p: usize| {
            if (moved..moved + D).contains(&p) {
                coords(value(moved) + Challenge::ONE)[p - moved]
            } else {
                events[p].1
            }
        };
        build(
            &forged_values,
            &forged_gathered,
            &forged_transcript,
            &known_inputs,
        )
        .caught(only_constraints);
        // The same value gathered, but not the transcript's: the transcript's bus.
        let b = build(&forged_values, &forged_gathered, &recorded, &known_inputs);
        b.caught(|f| f.contains(&Failed::Bus(TRANSCRIPT_OBSERVE_BUS)));
        // A periodic claim other than the true one, sent as such: the output's constraint
        // alone.
        let k = layout
            .inputs
            .iter()
            .position(|i| matches!(i, Input::Periodic { .. }))
            .expect("a periodic claim");
        let mut forged_values = values.clone();
        forged_values[k] += Challenge::ONE;
        let key = at(layout.inputs[k]);
        let forged_known: Vec<(usize, Challenge)> = known_inputs
            .iter()
            .map(|&(p, v)| (p, if p == key { v + Challenge::ONE } else { v }))
            .collect();
        build(&forged_values, &gathered, &recorded, &forged_known).caught(only_constraints);
        // A final claim other than the zerocheck's: the input bus (and the output's constraint,
        // which no other claim meets).
        let k = layout
            .inputs
            .iter()
            .position(|&i| i == Input::FinalClaim)
            .expect("the final claim");
        let mut forged_values = values.clone();
        forged_values[k] += Challenge::ONE;
        build(&forged_values, &gathered, &recorded, &known_inputs)
            .caught(|f| f.contains(&Failed::Bus(OOD_INPUT_BUS)));
        // A sampled challenge other than the transcript's, in the check and the gathering: the
        // sample bus.
        let k = layout
            .inputs
            .iter()
            .position(|&i| i == Input::Eta)
            .expect("eta");
        let (forged_values, forged_gathered) = forge_gathered(k);
        build(&forged_values, &forged_gathered, &recorded, &known_inputs)
            .caught(|f| f.contains(&Failed::Bus(TRANSCRIPT_SAMPLE_BUS)));

        println!(
            "the closing program: {} nodes, {} inputs ({} gathered from the transcript, {} \
             known), {} rows in a block of {}",
            program.nodes.len(),
            layout.inputs.len(),
            elements.len(),
            known_inputs.len(),
            layout.live_rows(),
            layout.rows.len()
        );
    }
}
