//! Test harness of the verifier AIRs: a batch of one verifier AIR, the full-output permutation
//! table and verifier-known messages on the AIR's other buses, checked constraint by constraint
//! and bus by bus (`check_all_constraints`, `check_lookups`) and proved and verified under FRI
//! over Keccak and FRI over Poseidon1 (a parent proof will be the latter).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_batch_stark::{
    prove_batch, verify_batch, CommonData, ProverData, ProverOnlyData, StarkInstance,
};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::debug_util::{check_lookups, LookupDebugInstance};
use p3_lookup::{Count, InteractionBuilder, Kind, LogUpGadget, Lookups, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use crate::aggregate::field::Challenge;
use crate::aggregate::fri::config::{fri_config, FriHash, Keccak, Poseidon1};
use crate::aggregate::preset::Preset;
use crate::aggregate::{Backend, ProveOptions};
use crate::xmss::{PublicKey, F};

pub use super::parent::MIN_HEIGHT;

/// Verifier-known messages sent or received on `bus`: the tuples as periodic columns (period =
/// height) with committed mirrors (p3-lookup reads no periodic column in a message), and a
/// periodic `present` count.
#[derive(Clone)]
pub struct KnownAir {
    bus: &'static str,
    width: usize,
    send: bool,
    periodic: Vec<Vec<F>>,
}

impl KnownAir {
    /// Sends (`send`) or receives each of `tuples` once, in a table of [`MIN_HEIGHT`] rows or
    /// more.
    pub fn new(bus: &'static str, width: usize, send: bool, tuples: &[Vec<F>]) -> Self {
        let height = tuples.len().max(MIN_HEIGHT).next_power_of_two();
        let mut periodic = vec![vec![F::ZERO; height]; width + 1];
        for (r, t) in tuples.iter().enumerate() {
            assert_eq!(t.len(), width, "tuple width");
            for (i, &v) in t.iter().enumerate() {
                periodic[i][r] = v;
            }
            periodic[width][r] = F::ONE;
        }
        Self {
            bus,
            width,
            send,
            periodic,
        }
    }

    /// The mirrors.
    pub fn trace(&self) -> RowMajorMatrix<F> {
        let h = self.periodic[0].len();
        let w = self.width + 1;
        let mut v = F::zero_vec(h * w);
        for (r, row) in v.chunks_exact_mut(w).enumerate() {
            for (c, x) in row.iter_mut().enumerate() {
                *x = self.periodic[c][r];
            }
        }
        RowMajorMatrix::new(v, w)
    }
}

impl BaseAir<F> for KnownAir {
    fn width(&self) -> usize {
        self.width + 1
    }
    fn num_periodic_columns(&self) -> usize {
        self.width + 1
    }
    fn periodic_columns(&self) -> Cow<'_, [Vec<F>]> {
        Cow::Borrowed(&self.periodic)
    }
    fn main_next_row_columns(&self) -> Vec<usize> {
        Vec::new()
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(3)
    }
}

impl<AB: AirBuilder<F = F> + InteractionBuilder> Air<AB> for KnownAir {
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: Vec<AB::Var> = main.current_slice().to_vec();
        let per = crate::aggregate::air::periodic_exprs(builder);
        for (c, p) in row.iter().zip(per) {
            builder.assert_eq(*c, p);
        }
        let bus = PermutationCheckBus::new(self.bus);
        let count = Count::bounded(row[self.width].into(), 1);
        if self.send {
            bus.send(builder, row[..self.width].to_vec(), count);
        } else {
            bus.receive(builder, row[..self.width].to_vec(), count);
        }
    }
}

/// The AIRs a test batch is made of: a parent's, and verifier-known messages.
pub use super::parent::VerifierAir as TestAir;

/// A check that failed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failed {
    /// A constraint of the verifier AIR under test (instance 0), by index in its `eval`.
    Constraint(usize),
    /// A constraint of another instance.
    Other(usize),
    /// A bus whose messages do not balance.
    Bus(&'static str),
}

/// Whether every failure is a constraint of the AIR under test (and there is one).
pub fn only_constraints(f: &BTreeSet<Failed>) -> bool {
    !f.is_empty() && f.iter().all(|x| matches!(x, Failed::Constraint(_)))
}

/// Whether a constraint of the AIR under test failed.
pub fn has_constraint(f: &BTreeSet<Failed>) -> bool {
    f.iter().any(|x| matches!(x, Failed::Constraint(_)))
}

/// A batch: the AIR under test first, its traces, and the buses to check.
pub struct Batch {
    pub airs: Vec<TestAir>,
    pub traces: Vec<RowMajorMatrix<F>>,
    pub buses: Vec<&'static str>,
}

/// Every global bus `airs` send or receive on, once each, in the order first used.
pub fn global_buses(airs: &[TestAir]) -> Vec<&'static str> {
    let mut buses: Vec<&'static str> = Vec::new();
    for air in airs {
        for l in Lookups::<F>::from_air::<Challenge, _>(air).iter() {
            if let Kind::Global(name) = &l.kind {
                if !buses.iter().any(|b| b == name) {
                    buses.push(Box::leak(name.clone().into_boxed_str()));
                }
            }
        }
    }
    buses
}

impl Batch {
    /// A parent's batch (`airs` and their `traces`, the shared permutation table last) with the
    /// table's trace replaced by `pieces`, each an instance of the table's AIR (as
    /// `parent::shared_table_split` commits it), checked on every global bus of `airs`.
    pub fn with_table_pieces(
        airs: &[TestAir],
        traces: &[RowMajorMatrix<F>],
        pieces: &[RowMajorMatrix<F>],
    ) -> Self {
        let table = airs.len() - 1;
        Batch {
            airs: airs
                .iter()
                .cloned()
                .chain(std::iter::repeat_n(airs[table].clone(), pieces.len() - 1))
                .collect(),
            traces: traces[..table]
                .iter()
                .cloned()
                .chain(pieces.iter().cloned())
                .collect(),
            buses: global_buses(airs),
        }
    }

    /// Every constraint and bus that fails on the traces.
    pub fn failed(&self) -> BTreeSet<Failed> {
        let mut failed = BTreeSet::new();
        for (i, (air, trace)) in self.airs.iter().zip(&self.traces).enumerate() {
            let report = p3_air::check_all_constraints(air, trace, &air.public_values(), None);
            for f in report.failures {
                failed.insert(if i == 0 {
                    Failed::Constraint(f.constraint)
                } else {
                    Failed::Other(i)
                });
            }
        }
        let lookups: Vec<Lookups<F>> = self
            .airs
            .iter()
            .map(Lookups::<F>::from_air::<Challenge, _>)
            .collect();
        let public: Vec<Vec<F>> = self.airs.iter().map(TestAir::public_values).collect();
        for &bus in &self.buses {
            let on_bus: Vec<Vec<_>> = lookups
                .iter()
                .map(|l| {
                    l.iter()
                        .filter(|x| x.kind == Kind::Global(bus.to_string()))
                        .cloned()
                        .collect()
                })
                .collect();
            let none = None;
            let instances: Vec<LookupDebugInstance<'_, F>> = self
                .traces
                .iter()
                .zip(&on_bus)
                .zip(&public)
                .map(|((trace, lookups), public)| LookupDebugInstance {
                    main_trace: trace,
                    preprocessed_trace: &none,
                    public_values: public,
                    lookups,
                    permutation_challenges: &[],
                })
                .collect();
            if catch_unwind(AssertUnwindSafe(|| check_lookups(&instances))).is_err() {
                failed.insert(Failed::Bus(bus));
            }
        }
        failed
    }

    /// Asserts that the failed checks satisfy `check` and that the FRI verifier rejects a proof
    /// of the batch: a forgery caught.
    pub fn caught(&self, check: impl Fn(&BTreeSet<Failed>) -> bool) {
        let failed = self.failed();
        assert!(check(&failed), "failed: {failed:?}");
        assert!(self.prove_and_verify().is_err(), "a forged batch verified");
    }

    /// Proves the batch and verifies it under both FRI proof systems, the default preset over
    /// Keccak and the recursion-ready one over Poseidon1 (no prover-side checks in release); the
    /// verifier's error, Debug-formatted, which must be the same under both.
    pub fn prove_and_verify(&self) -> Result<(), String> {
        let keccak = self.prove_and_verify_with::<Keccak>(Preset::default_preset());
        let poseidon1 = self.prove_and_verify_with::<Poseidon1>(
            Preset::from_options(&ProveOptions {
                backend: Backend::FriPoseidon1,
                ..Default::default()
            })
            .expect("the recursion-ready default preset"),
        );
        assert_eq!(keccak, poseidon1, "the two FRI proof systems disagree");
        keccak
    }

    fn prove_and_verify_with<H: FriHash>(&self, preset: Preset) -> Result<(), String> {
        let Preset::Fri(preset) = preset else {
            unreachable!("a FRI preset")
        };
        let config = fri_config::<H>(&preset);
        let gadget = LogUpGadget::new();
        let lookups: Vec<Lookups<F>> = self
            .airs
            .iter()
            .map(|air| {
                Lookups::<F>::from_air::<Challenge, _>(air).pack_same_bus_with_degree(3, |l| {
                    gadget.constraint_degree_with_transition(l, 0)
                })
            })
            .collect();
        let refs: Vec<&RowMajorMatrix<F>> = self.traces.iter().collect();
        let pvs: Vec<Vec<F>> = self.airs.iter().map(TestAir::public_values).collect();
        let instances = StarkInstance::new_multiple(&self.airs, &refs, &pvs);
        let data = ProverData {
            common: CommonData::new(None, lookups),
            prover_only: ProverOnlyData::empty(),
        };
        let proof = catch_unwind(AssertUnwindSafe(|| prove_batch(&config, &instances, &data)))
            .map_err(|_| "prover panicked".to_string())?
            .map_err(|e| format!("{e:?}"))?;
        verify_batch(&config, &self.airs, &proof, &pvs, &data.common).map_err(|e| format!("{e:?}"))
    }
}

/// A real child: a two-signature FRI-over-Poseidon1 aggregate of `message` at `epoch`, verified
/// natively with every permutation and transcript element recorded.
pub fn real_child(message: [u8; 32], epoch: u32) -> super::ChildVerificationTrace {
    let (proof, keys) = child_proof(message, epoch, 2);
    super::child_verification_trace(&proof, &keys, &message, epoch).expect("the child verifies")
}

/// A FRI-over-Poseidon1 aggregate of `n` test signers (seeds 3, 4, ...) on `message` at
/// `epoch`: its bytes and keys.
pub fn child_proof(message: [u8; 32], epoch: u32, n: u64) -> (Vec<u8>, Vec<PublicKey>) {
    child_proof_of(message, epoch, 3..3 + n)
}

/// A FRI-over-Poseidon1 aggregate of the test signers of `seeds` on `message` at `epoch`: its
/// bytes and keys.
pub fn child_proof_of(
    message: [u8; 32],
    epoch: u32,
    seeds: std::ops::Range<u64>,
) -> (Vec<u8>, Vec<PublicKey>) {
    use crate::aggregate::testing::test_signer;
    use crate::aggregate::Aggregator;

    let mut agg = Aggregator::new(message, epoch);
    for s in seeds {
        let (pk, sig) = test_signer(s, &message, epoch);
        agg.add(pk, sig).expect("a valid signature");
    }
    let opts = ProveOptions {
        backend: Backend::FriPoseidon1,
        ..Default::default()
    };
    let proof = agg.prove(&opts).expect("the child proves");
    (proof.as_bytes().to_vec(), agg.public_keys())
}

/// The smallest compact parent's batch, as the multilinear STARK commits it: the verifier AIRs
/// and traces of a parent over two real two-key children of `message` at `epoch` (keys 3, 4
/// and 4, 5), the shared permutation table cut into its pieces, their log2 heights, and the
/// compact-parent preset of the default WHIR preset.
pub struct SmallestParentBatch {
    pub airs: Vec<TestAir>,
    pub traces: Vec<RowMajorMatrix<F>>,
    pub heights: Vec<usize>,
    pub params: crate::aggregate::preset::WhirPreset,
}

/// [`SmallestParentBatch`] of two real children (a batch a compact parent commits; not
/// `parent::CompactBatch`, which is its configuration and keys).
pub fn smallest_compact_batch(message: [u8; 32], epoch: u32) -> SmallestParentBatch {
    use super::parent::{
        compact_parent_preset, cut_shared_table, parent_witness, shared_table_split, ParentWitness,
    };
    let a = child_proof_of(message, epoch, 3..5);
    let b = child_proof_of(message, epoch, 4..6);
    let children = [(&a.0[..], &a.1[..]), (&b.0[..], &b.1[..])];
    let ParentWitness {
        airs,
        mut traces,
        log_heights,
        table_rows,
        ..
    } = parent_witness(&message, epoch, &children).expect("a witness");
    let opts = ProveOptions {
        backend: Backend::Whir,
        ..Default::default()
    };
    let Ok(Preset::Whir(whir)) = Preset::from_options(&opts) else {
        panic!("the default WHIR preset")
    };
    let params = compact_parent_preset(&whir);
    let heights = shared_table_split(&params, &airs, &log_heights, table_rows);
    cut_shared_table(&mut traces, airs.len(), &heights).expect("cut");
    SmallestParentBatch {
        airs,
        traces,
        heights,
        params,
    }
}
