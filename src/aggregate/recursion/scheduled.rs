//! The verifier AIRs' schedules as preprocessed columns: step (1) of the recursion README's
//! "Order of work", checked natively (test-only) and in no proof format, because of what it
//! measured: p3-multi-stark 0.8 opens the preprocessed commitment in a second WHIR opening with
//! queries of its own, which costs about as much as the main one (a compact parent of two
//! two-key children: 732,632 bytes against 401,016, over the 512 KiB wire cap; the README's
//! "Schedules as preprocessed columns, measured").
//!
//! Every verifier AIR reads its schedule (operand rows, immediates, flags, transcript positions:
//! values the verifier derives from the child's shape) as periodic columns, through
//! `crate::aggregate::air::periodic_exprs`. A multilinear verifier evaluates each periodic
//! column's multilinear extension at the zerocheck point, one product per entry: cheap natively,
//! but in AIRs (a parent whose children are compact parents) a row per entry. As preprocessed
//! columns the schedules are instead committed once per shape (`p3_multi_stark::setup`, against
//! the configuration's preprocessed commitment) and opened at the point by one more WHIR
//! opening, whose root the verifier derives per shape and keeps.
//!
//! [`ScheduledAir`] turns any AIR with periodic columns into the same AIR with those columns
//! preprocessed, without a change to the AIR: its preprocessed trace is the periodic columns
//! repeated down the trace's height (a periodic column of period `p` holds row `r`'s value at
//! `r mod p`, as Plonky3 0.8 defines it), and its constraints are the AIR's own, evaluated on a
//! builder ([`FromPreprocessed`]) whose periodic values are the preprocessed row's.

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_lookup::{Count, InteractionBuilder};
use p3_matrix::dense::RowMajorMatrix;

use crate::xmss::F;

/// An AIR whose periodic columns are preprocessed columns of a trace of height
/// `2^log_height`: the same width, public values and constraints, no periodic column, and a
/// preprocessed trace of `2^log_height` rows by the AIR's number of periodic columns (none when
/// it has none).
pub struct ScheduledAir<'a, A> {
    air: &'a A,
    /// The periodic columns repeated down the trace, row-major; `None` without periodic
    /// columns.
    trace: Option<RowMajorMatrix<F>>,
}

impl<'a, A: BaseAir<F>> ScheduledAir<'a, A> {
    /// `air` with its periodic columns preprocessed, for a trace of `2^log_height` rows.
    ///
    /// # Panics
    /// If a periodic column's period does not divide `2^log_height` (Plonky3 requires it of
    /// periodic columns already).
    pub fn new(air: &'a A, log_height: usize) -> Self {
        let columns = air.periodic_columns();
        let height = 1usize << log_height;
        let trace = (!columns.is_empty()).then(|| {
            assert!(
                columns
                    .iter()
                    .all(|c| !c.is_empty() && height.is_multiple_of(c.len())),
                "a period that does not divide the height 2^{log_height}"
            );
            let width = columns.len();
            let mut values = Vec::with_capacity(height * width);
            for r in 0..height {
                values.extend(columns.iter().map(|c| c[r % c.len()]));
            }
            RowMajorMatrix::new(values, width)
        });
        ScheduledAir { air, trace }
    }

    /// The preprocessed trace, for a test to forge.
    #[cfg(test)]
    fn trace_mut(&mut self) -> Option<&mut RowMajorMatrix<F>> {
        self.trace.as_mut()
    }
}

impl<A: BaseAir<F>> BaseAir<F> for ScheduledAir<'_, A> {
    fn width(&self) -> usize {
        self.air.width()
    }
    fn preprocessed_trace(&self) -> Option<RowMajorMatrix<F>> {
        self.trace.clone()
    }
    fn preprocessed_width(&self) -> usize {
        self.trace.as_ref().map_or(0, |t| t.width)
    }
    fn main_next_row_columns(&self) -> Vec<usize> {
        self.air.main_next_row_columns()
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        self.air.max_constraint_degree()
    }
    fn num_public_values(&self) -> usize {
        self.air.num_public_values()
    }
}

impl<AB, A> Air<AB> for ScheduledAir<'_, A>
where
    AB: AirBuilder<F = F> + InteractionBuilder,
    A: BaseAir<F> + for<'b> Air<FromPreprocessed<'b, AB>>,
{
    fn eval(&self, builder: &mut AB) {
        // An AIR without a schedule has no preprocessed window to read (Plonky3's is empty).
        let periodic = if self.trace.is_some() {
            builder.preprocessed().current_slice().to_vec()
        } else {
            Vec::new()
        };
        self.air.eval(&mut FromPreprocessed {
            inner: builder,
            periodic,
        });
    }
}

/// A builder that reads the preprocessed row as the periodic values and forwards everything
/// else to `inner`: constraints, bus messages, windows and selectors are `inner`'s.
pub struct FromPreprocessed<'b, AB: AirBuilder> {
    inner: &'b mut AB,
    periodic: Vec<AB::Var>,
}

impl<AB: AirBuilder> AirBuilder for FromPreprocessed<'_, AB> {
    type F = AB::F;
    type Expr = AB::Expr;
    type Var = AB::Var;
    type PreprocessedWindow = AB::PreprocessedWindow;
    type MainWindow = AB::MainWindow;
    type PublicVar = AB::PublicVar;
    type PeriodicVar = AB::Var;
    const WINDOW: usize = AB::WINDOW;

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
    fn is_transition_window(&self, size: usize) -> Self::Expr {
        self.inner.is_transition_window(size)
    }
    fn assert_zero<I: Into<Self::Expr>>(&mut self, x: I) {
        self.inner.assert_zero(x);
    }
    fn public_values(&self) -> &[Self::PublicVar] {
        self.inner.public_values()
    }
    fn periodic_values(&self) -> &[Self::PeriodicVar] {
        &self.periodic
    }
}

impl<AB: AirBuilder + InteractionBuilder> InteractionBuilder for FromPreprocessed<'_, AB> {
    fn push_interaction<E: Into<Self::Expr>>(
        &mut self,
        bus_name: &str,
        fields: impl IntoIterator<Item = E>,
        count: impl Into<Count<Self::Expr>>,
    ) {
        self.inner.push_interaction(bus_name, fields, count);
    }
    fn push_local_interaction(
        &mut self,
        tuples: impl IntoIterator<Item = (Vec<Self::Expr>, Count<Self::Expr>)>,
    ) {
        self.inner.push_local_interaction(tuples);
    }
    fn push_exclusive_interaction(
        &mut self,
        bus_name: &str,
        branches: impl IntoIterator<Item = (Self::Expr, Count<Self::Expr>, Vec<Self::Expr>)>,
    ) {
        self.inner.push_exclusive_interaction(bus_name, branches);
    }
    fn num_global_interactions(&self) -> usize {
        self.inner.num_global_interactions()
    }
    fn num_local_interactions(&self) -> usize {
        self.inner.num_local_interactions()
    }
    fn num_exclusive_interactions(&self) -> usize {
        self.inner.num_exclusive_interactions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::recursion::harness::{smallest_compact_batch, SmallestParentBatch};
    use crate::aggregate::recursion::parent::{
        instance_public_values, multilinear_instances, stacked_variables, MultilinearAir,
        VerifierAir,
    };
    use crate::aggregate::whir;
    use p3_field::PrimeCharacteristicRing;
    use p3_multi_stark::{ProverInstance, ProverInstances, VerifierInstance, VerifierInstances};
    use p3_sumcheck::layout::Table;
    use std::time::Instant;

    const MESSAGE: [u8; 32] = [7; 32];
    const EPOCH: u32 = 11;

    /// A compact parent's batch over two real overlapping children (keys 3, 4 and 4, 5), its
    /// verifier AIRs' schedules preprocessed: proved and verified by p3-multi-stark with the
    /// schedules committed at setup. Through the AIRs: the same traces under a setup whose
    /// schedule differs in one entry (the `CommitmentAir`'s position on its first row, which
    /// its constraints equate with a committed column) do not verify, though that setup's keys
    /// agree with each other. And the verifying key of that other schedule rejects the honest
    /// proof. Timings (setup, which a verifier pays once per shape; prove; verify) are printed
    /// beside those of the shipped batch, whose schedules are periodic, for the README.
    #[test]
    fn preprocessed_schedules_prove_verify_and_bind_the_verifier_airs() {
        let SmallestParentBatch {
            airs,
            traces,
            heights,
            params,
        } = smallest_compact_batch(MESSAGE, EPOCH);
        let wrapped: Vec<MultilinearAir<'_>> = multilinear_instances(&airs, heights.len());
        let pvs = instance_public_values(&wrapped);
        let widths: Vec<usize> = wrapped.iter().map(BaseAir::<F>::width).collect();
        let nv = stacked_variables(&params, &heights, &widths);
        let pow = usize::from(params.zerocheck_pow_bits);

        let scheduled = |forge: bool| -> Vec<ScheduledAir<'_, MultilinearAir<'_>>> {
            let mut s: Vec<_> = wrapped
                .iter()
                .zip(&heights)
                .map(|(air, &h)| ScheduledAir::new(air, h))
                .collect();
            if forge {
                let commit = airs
                    .iter()
                    .position(|a| matches!(a, VerifierAir::Commit(_)))
                    .expect("a CommitmentAir");
                let t = s[commit].trace_mut().expect("a schedule");
                t.values[0] += F::ONE;
            }
            s
        };
        let honest = scheduled(false);
        let pre_shapes: Vec<(usize, usize)> = honest
            .iter()
            .zip(&heights)
            .filter(|(s, _)| s.preprocessed_width() > 0)
            .map(|(s, &h)| (h, s.preprocessed_width()))
            .collect();
        let cells: usize = pre_shapes.iter().map(|&(h, w)| w << h).sum();
        let nv_pre = whir::num_variables(&pre_shapes, usize::from(params.first_folding));
        let config = || {
            whir::stark_config(&params, nv)
                .and_then(|c| c.with_preprocessed(&params, nv_pre))
                .expect("a configuration")
        };
        let setup = |airs: &[ScheduledAir<'_, MultilinearAir<'_>>]| {
            let config = config();
            let refs: Vec<&ScheduledAir<'_, MultilinearAir<'_>>> = airs.iter().collect();
            let t = Instant::now();
            let keys =
                p3_multi_stark::setup(&config, &refs, &mut whir::challenger()).expect("setup");
            (config, keys, t.elapsed())
        };
        let prove = |config: &whir::WhirStarkConfig,
                     airs: &[ScheduledAir<'_, MultilinearAir<'_>>],
                     pk: &p3_multi_stark::ProvingKey<whir::WhirStarkConfig>| {
            let tables: Vec<Table<F>> = traces.iter().map(|t| Table::new(t.transpose())).collect();
            let instances = ProverInstances::new(
                airs.iter()
                    .zip(tables)
                    .zip(&pvs)
                    .map(|((air, table), pv)| ProverInstance::new(air, table, pk, pv))
                    .collect(),
            );
            let t = Instant::now();
            let proof = p3_multi_stark::prove(config, instances, pow, &mut whir::challenger())
                .expect("a proof");
            (proof, t.elapsed())
        };
        let verify = |config: &whir::WhirStarkConfig,
                      airs: &[ScheduledAir<'_, MultilinearAir<'_>>],
                      vk: &p3_multi_stark::VerifyingKey<whir::WhirStarkConfig>,
                      proof: &whir::WhirProof| {
            let instances = VerifierInstances::new(
                airs.iter()
                    .zip(&heights)
                    .zip(&pvs)
                    .map(|((air, &h), pv)| VerifierInstance::new(air, vk, h, pv))
                    .collect(),
            );
            let t = Instant::now();
            let r = p3_multi_stark::verify(config, instances, proof, pow, &mut whir::challenger());
            (r.map_err(|e| format!("{e}")), t.elapsed())
        };

        let (config, (pk, vk), setup_time) = setup(&honest);
        let (proof, prove_time) = prove(&config, &honest, &pk);
        let (ok, verify_time) = verify(&config, &honest, &vk, &proof);
        assert_eq!(ok, Ok(()), "the honest batch with preprocessed schedules");
        assert!(
            proof.preprocessed_opening.is_some(),
            "the schedules are opened"
        );

        // Through the AIRs: a schedule one entry off, its own keys, the honest traces.
        let forged = scheduled(true);
        let (forged_config, (forged_pk, forged_vk), _) = setup(&forged);
        let (forged_proof, _) = prove(&forged_config, &forged, &forged_pk);
        let (r, _) = verify(&forged_config, &forged, &forged_vk, &forged_proof);
        let through_airs = r.expect_err("the traces under another schedule");
        // And the other schedule's verifying key refuses the honest proof.
        let (r, _) = verify(&forged_config, &forged, &forged_vk, &proof);
        let other_key = r.expect_err("the honest proof under another schedule's key");

        // The shipped batch (periodic schedules), for comparison.
        let periodic =
            crate::aggregate::recursion::parent::compact_batch(&params, &wrapped, &heights, &pvs)
                .expect("the shipped batch");
        let t = Instant::now();
        let shipped = crate::aggregate::recursion::parent::prove_multilinear(
            "the shipped batch",
            &params,
            &periodic,
            &wrapped,
            traces.clone(),
            &pvs,
        )
        .expect("a shipped proof");
        let shipped_prove = t.elapsed();
        let t = Instant::now();
        crate::aggregate::recursion::parent::verify_multilinear(
            &params, &periodic, &wrapped, &heights, &pvs, &shipped,
        )
        .expect("the shipped proof verifies");
        let shipped_verify = t.elapsed();
        let bytes = |p: &whir::WhirProof| whir::envelope::encode_archive(p).len();
        println!(
            "preprocessed schedules: {cells} cells in 2^{nv_pre} (main 2^{nv}); setup {:.1} ms, \
             prove {:.3} s, verify {:.1} ms, {} bytes; periodic: prove {:.3} s, verify {:.1} \
             ms, {} bytes; refused: {through_airs} (another schedule), {other_key} (its key)",
            setup_time.as_secs_f64() * 1e3,
            prove_time.as_secs_f64(),
            verify_time.as_secs_f64() * 1e3,
            bytes(&proof),
            shipped_prove.as_secs_f64(),
            shipped_verify.as_secs_f64() * 1e3,
            bytes(&shipped),
        );
    }
}
