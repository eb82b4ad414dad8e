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

use p3_air::{Air, AirBuilder, BaseAir, RowWindow};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder};
use p3_multi_stark::folder::MultilinearFolder;
use p3_multi_stark::lookup::transcript::LookupShape;
use p3_multi_stark::selectors::BoundaryEvals;

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
        let periodic: Vec<Challenge> = air
            .periodic_columns()
            .iter()
            .map(|column| {
                let j = column.len().trailing_zeros() as usize;
                if !column.len().is_power_of_two() || j > nv {
                    return Err(format!(
                        "instance {i}: a periodic column of {}",
                        column.len()
                    ));
                }
                Ok(extension(column, &point[nv - j..]))
            })
            .collect::<Result<_, _>>()?;
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

#[cfg(test)]
mod tests {
    //! The closing check of a real multilinear child (the smallest compact parent over
    //! Poseidon1-24), every input read from its recorded transcript at the scheduled positions:
    //! it equals the constraint sumcheck's final claim, which p3's verifier checked against its
    //! own closing check, and a changed input changes it.

    use super::*;
    use crate::aggregate::recursion::ext::{element, D};
    use crate::aggregate::recursion::gkr::{FractionGkrAir, GkrRun};
    use crate::aggregate::recursion::harness::{smallest_compact_batch, MIN_HEIGHT};
    use crate::aggregate::recursion::multilinear_child::{child_shapes, record};
    use crate::aggregate::recursion::parent::multilinear_instances;
    use crate::aggregate::recursion::zerocheck::{ZerocheckLink, ZerocheckRun};

    #[test]
    fn the_closing_check_of_a_real_poseidon1_compact_parent() {
        let batch = smallest_compact_batch([7; 32], 11);
        let wrapped = multilinear_instances(&batch.airs, batch.heights.len());
        let child = record(&batch, &wrapped);
        let mut shapes = child_shapes(
            &batch,
            &wrapped,
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
}
