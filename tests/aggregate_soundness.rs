//! Negative witnesses: statements with traces that are consistent everywhere except in one check,
//! each proved on both backends and rejected by the verifier for the right reason.
//!
//! Every test states the check it expects to catch its forgery, and two things are asserted:
//!
//! 1. A test-only checker ([`failed_checks`]) that evaluates every AIR constraint on every row
//!    (Plonky3's `p3_air::check_all_constraints`) and the multiset balance of every bus
//!    (`p3_lookup::debug_util::check_lookups`, one bus at a time) flags exactly the expected
//!    constraint (AIR, name, row) or bus, and nothing else. The honest controls flag nothing.
//! 2. On every backend the traces are proved and the proof is rejected by the verifier
//!    ([`verify_in_order`]: `verify_aggregate` with the keys in the order the test proved them)
//!    with [`VerifyError::Invalid`] whose cause is the STARK verifier's constraint or lookup
//!    check (see [`Rejection`]): never [`VerifyError::Malformed`], a trace-height or shape
//!    mismatch, or a caught panic. Two provers refuse instead of proving: the FRI prover in
//!    debug builds (it checks constraints and buses first), and the WHIR prover, in every build,
//!    on an unbalanced bus (p3-multi-stark's fractional-GKR prover asserts that the LogUp sum is
//!    zero). The WHIR prover checks no AIR constraint, so a forgery whose buses balance always
//!    reaches the WHIR verifier.
//!
//! Forgeries are made on the witness where the statement allows it (a re-signed block, a root
//! recomputed to match), otherwise by editing the generated traces and recomputing everything
//! that has to agree with the edit (permutation-table rows, the block's `A` columns, the keys).

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use std::borrow::BorrowMut;

use multisig::aggregate::air::chain::{ChainCols, ChainStep};
use multisig::aggregate::air::perm::{
    perm16_air, perm24_air, Cols24, PermFiller, PERM16_COLS, PERM24_BUS_OUTPUTS, PERM24_COLS,
};
use multisig::aggregate::air::sig::{
    decode_digits, SigCols, SigWitness, BLOCK, KEY_ROW, MSG_ROW, ROOT_ROW, SPONGE_ROWS,
};
use multisig::aggregate::air::table::{TableCols, TWEAK_PERIOD};
use multisig::aggregate::air::AggAir;
use multisig::aggregate::field::Challenge;
use multisig::aggregate::fri::config::{fri_config, FriHash, Keccak, Poseidon1};
use multisig::aggregate::fri::{self, envelope};
use multisig::aggregate::statement::{
    self, key_absorption_input, key_layout, key_set_iv, Statement, KEY_DIGEST_LEN,
};
use multisig::aggregate::testing::{prove_witnesses, verify_in_order, TestSigner};
use multisig::aggregate::whir::{self, envelope as whir_envelope};
use multisig::aggregate::witness::{build_witness, walk_chains};
use multisig::aggregate::{Backend, MerkleHash, ProveOptions, Regime, VerifyError, VerifyOptions};
use multisig::aggregate::{FriPreset, Preset};
use multisig::xmss::constants::{
    BASE, CAPACITY, DIMENSION, HASH_LEN_FE, LOG_LIFETIME, MH_DECODED_FE, PARAMETER_LEN, Q,
    SPONGE_RATE, Z,
};
use multisig::xmss::hash::{
    chain_step_input, leaf_hash, leaf_sponge_input, merkle_root_from_path, tree_node_input,
};
use multisig::xmss::message::{hypercube_digits, message_hash, message_hash_input};
use multisig::xmss::poseidon::{compress_16, compress_24, permute_24, sponge_capacity_value};
use multisig::xmss::tweak::{chain_tweak, message_tweak};
use multisig::xmss::{Digest, PublicKey, F};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::debug_util::{check_lookups, LookupDebugInstance};
use p3_lookup::{Kind, Lookup, Lookups};
use p3_matrix::dense::RowMajorMatrix;
use p3_matrix::Matrix;

const MESSAGE: [u8; 32] = *b"aggregate soundness test message";
const EPOCH: u32 = 0x0135_79bd;
const BACKENDS: [Backend; 3] = [Backend::Fri, Backend::Whir, Backend::FriPoseidon1];

// Bus names (`multisig::aggregate`'s crate-private constants).
const CHAIN_BUS: &str = "xmss-chain";
const TWEAK_BUS: &str = "xmss-chain-tweak";
const PERM24_BUS: &str = "poseidon1-24";

/// The options of every proof in this file (the one place they are built). The struct update
/// keeps this compiling when `ProveOptions` gains fields.
fn opts(backend: Backend) -> ProveOptions {
    ProveOptions {
        backend,
        log_inv_rate: 0,
        regime: Regime::Proven,
        ..ProveOptions::default()
    }
}

/// The options of every verification in this file.
fn verify_opts() -> VerifyOptions {
    VerifyOptions::default()
}

// ---------------------------------------------------------------------------------------------
// The checker: which AIR constraint or bus a set of traces violates.

/// The four AIR instances, in instance order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Instance {
    Sig,
    Chain,
    Table,
    Perm24,
}

const INSTANCES: [Instance; 4] = [
    Instance::Sig,
    Instance::Chain,
    Instance::Table,
    Instance::Perm24,
];

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    /// The constraint (group) `name` of `air` does not vanish on trace row `row`.
    Constraint {
        air: Instance,
        name: &'static str,
        row: usize,
    },
    /// The multiset of messages on this bus does not balance.
    Bus(&'static str),
}

fn constraint(air: Instance, name: &'static str, row: usize) -> Check {
    Check::Constraint { air, name, row }
}

// Constraint names of `SigAir` (see `sig_air.rs`, `eval`).
const SIG_BLOCK_CONSTANT: &str = "sig, active, parameter and A are constant over the block";
const SIG_ACTIVE_BOOL: &str = "active is boolean";
const SIG_INDEX_FIRST: &str = "block index is 0 on the first row";
const SIG_INDEX_STEP: &str = "block index steps by one from block to block";
const SIG_KEY_CHAIN_IN: &str = "key row: cells 0..9 are the key-set digest so far";
const SIG_KEY_ROOT: &str = "key row: cells 9..17 are the root row 56 reached";
const SIG_KEY_PARAM: &str = "key row: cells 17..22 are the block's parameter";
const SIG_KEY_ZERO: &str = "key row: cells 22, 23 are 0";
const SIG_KEY_CARRY: &str = "key-set digest carried to the next row";
const SIG_KEY_ABSORB: &str = "key-set digest absorbs an active block's key on the key row";
const SIG_KEY_IV: &str = "key-set digest starts from the public initial value";
const SIG_KEY_DIGEST: &str = "key-set digest is the public one on the last row";
const SIG_CAPACITY: &str = "sponge row 0: capacity is the AIR constant";
const SIG_SPONGE_PARAM: &str = "sponge row 0: parameter";
const SIG_LEAF_TWEAK: &str = "sponge row 0: leaf tweak is the AIR constant";
const SIG_CAPACITY_CARRY: &str = "sponge: capacity carried to the next row";
const SIG_SLOTS: &str = "sponge: chain-end slots are the rate cells";
const SIG_LEAF_PLACEMENT: &str = "Merkle: the leaf is the level-0 child chosen by epoch bit 0";
const SIG_NODE_PLACEMENT: &str = "Merkle: a node is the next level's child chosen by its epoch bit";
const SIG_MERKLE_PARAM: &str = "Merkle: parameter";
const SIG_MERKLE_TWEAK: &str = "Merkle: tree tweak is the periodic one";
const SIG_MERKLE_ZERO: &str = "Merkle: input[23] = 0";
const SIG_MSG: &str = "message hash: message is the AIR constant";
const SIG_MSG_PARAM: &str = "message hash: parameter";
const SIG_MSG_TWEAK: &str = "message hash: message tweak is the AIR constant";
const SIG_MSG_ZERO: &str = "message hash: input[23] = 0 (rho in cells 16..23)";
const SIG_A: &str = "message hash: A_k is the compression output";
const SIG_DIGIT_BITS: &str = "digit bits are boolean";
const SIG_ACC: &str = "acc recurrence";
const SIG_ACC_FIRST: &str = "acc on the first row";
const SIG_SUM: &str = "sum recurrence";
const SIG_SUM_FIRST: &str = "sum on the first row";
const SIG_TARGET_SUM: &str = "digit sum is 200 on row 63";
const SIG_REM_BITS: &str = "remainder bits are boolean";
const SIG_RPROD0: &str = "remainder product rp0 = rb0 rb1 rb2";
const SIG_RPROD1: &str = "remainder product rp1 = rp0 rb3 rb4";
const SIG_REM_RANGE: &str = "remainder is not 127 (rp1 rb5 rb6 = 0)";
const SIG_DECOMPOSITION: &str = "A_k = 127 acc + rem on the last row of group k";
const SIG_MIRRORS: &str = "mirrors of periodic columns";
// `ChainAir`.
const CHAIN_PERM: &str = "Poseidon1 width-16 permutation";
const CHAIN_ACTIVE_BOOL: &str = "active is boolean";
const CHAIN_ZERO: &str = "input[15] = 0";
// `TableAir`.
const TABLE_TWEAK_MIRRORS: &str = "tweak entry mirrors are the verifier's tweak table";
const TABLE_PADDING_MULT: &str = "padding tweak entries have multiplicity 0";
// `Perm24TableAir`.
const PERM24_PERM: &str = "Poseidon1 width-24 permutation";

/// Number of constraints `p3_poseidon1_air` asserts per row for one permutation of width 16 or 24
/// (measured on a valid row, so independent of the tables below).
fn poseidon_constraints(width: usize) -> usize {
    let filler16 = PermFiller::shared16();
    let filler24 = PermFiller::shared24();
    let report = if width == 16 {
        let mut row = F::zero_vec(PERM16_COLS);
        let _ = filler16.fill(&mut row, [F::ZERO; 16]);
        let m = RowMajorMatrix::new(row, PERM16_COLS);
        p3_air::check_all_constraints(perm16_air().as_ref(), &m, &[], None)
    } else {
        let mut row = F::zero_vec(PERM24_COLS);
        let _ = filler24.fill(&mut row, [F::ZERO; 24]);
        let m = RowMajorMatrix::new(row, PERM24_COLS);
        p3_air::check_all_constraints(perm24_air().as_ref(), &m, &[], None)
    };
    assert!(report.is_ok());
    report.total_constraints_per_row
}

/// The name of every constraint of `air`, by index, in the order its `eval` asserts them.
/// [`failed_checks`] checks the length against the AIR's own count, so a table that has fallen
/// out of date with an AIR fails every test rather than misnaming a constraint.
fn constraint_names(air: Instance) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut push = |name: &'static str, count: usize| {
        names.extend(std::iter::repeat_n(name, count));
    };
    match air {
        Instance::Sig => {
            push(SIG_BLOCK_CONSTANT, 2 + PARAMETER_LEN + MH_DECODED_FE);
            push(SIG_ACTIVE_BOOL, 1);
            push(SIG_INDEX_FIRST, 1);
            push(SIG_INDEX_STEP, 1);
            push(SIG_KEY_CHAIN_IN, KEY_DIGEST_LEN);
            push(SIG_KEY_ROOT, HASH_LEN_FE);
            push(SIG_KEY_PARAM, PARAMETER_LEN);
            push(SIG_KEY_ZERO, 2);
            for _ in 0..KEY_DIGEST_LEN {
                push(SIG_KEY_CARRY, 1);
                push(SIG_KEY_ABSORB, 1);
            }
            push(SIG_KEY_IV, KEY_DIGEST_LEN);
            push(SIG_KEY_DIGEST, KEY_DIGEST_LEN);
            push(SIG_CAPACITY, CAPACITY);
            push(SIG_SPONGE_PARAM, PARAMETER_LEN);
            push(SIG_LEAF_TWEAK, 2);
            push(SIG_CAPACITY_CARRY, CAPACITY);
            push(SIG_SLOTS, 2 * HASH_LEN_FE);
            for _ in 0..HASH_LEN_FE {
                push(SIG_LEAF_PLACEMENT, 1);
                push(SIG_NODE_PLACEMENT, 1);
            }
            push(SIG_MERKLE_PARAM, PARAMETER_LEN);
            push(SIG_MERKLE_TWEAK, 2);
            push(SIG_MERKLE_ZERO, 1);
            push(SIG_MSG, 9);
            push(SIG_MSG_PARAM, PARAMETER_LEN);
            push(SIG_MSG_TWEAK, 2);
            push(SIG_MSG_ZERO, 1);
            push(SIG_A, MH_DECODED_FE);
            push(SIG_DIGIT_BITS, 3);
            push(SIG_ACC, 1);
            push(SIG_ACC_FIRST, 1);
            push(SIG_SUM, 1);
            push(SIG_SUM_FIRST, 1);
            push(SIG_TARGET_SUM, 1);
            push(SIG_REM_BITS, 7);
            push(SIG_RPROD0, 1);
            push(SIG_RPROD1, 1);
            push(SIG_REM_RANGE, 1);
            push(SIG_DECOMPOSITION, MH_DECODED_FE);
            push(SIG_MIRRORS, 6);
        }
        Instance::Chain => {
            push(CHAIN_PERM, poseidon_constraints(16));
            push(CHAIN_ACTIVE_BOOL, 1);
            push(CHAIN_ZERO, 1);
        }
        Instance::Table => {
            push(TABLE_TWEAK_MIRRORS, 4);
            push(TABLE_PADDING_MULT, 1);
        }
        Instance::Perm24 => push(PERM24_PERM, poseidon_constraints(24)),
    }
    names
}

/// Every AIR constraint and bus balance that `traces` violate for the statement `keys`
/// (with this file's message and epoch): constraints by Plonky3's
/// `p3_air::check_all_constraints` on each instance, with the verifier's public values;
/// buses by `p3_lookup::debug_util::check_lookups`, run once per bus on that bus's messages
/// only (it panics on the first unbalanced tuple, so one run per bus tells the buses apart).
fn failed_checks(keys: &[PublicKey], traces: &[RowMajorMatrix<F>]) -> BTreeSet<Check> {
    let stmt = Statement {
        message: &MESSAGE,
        epoch: EPOCH,
        keys,
    };
    let airs = stmt.airs();
    let public_values = stmt.public_values();
    let mut failed = BTreeSet::new();
    for (((air, trace), pv), instance) in airs.iter().zip(traces).zip(&public_values).zip(INSTANCES)
    {
        let report = p3_air::check_all_constraints(air, trace, pv, None);
        let names = constraint_names(instance);
        assert_eq!(
            report.total_constraints_per_row,
            names.len(),
            "the constraint names of {instance:?} are out of date with its eval"
        );
        for f in report.failures {
            failed.insert(constraint(instance, names[f.constraint], f.row));
        }
    }
    failed.extend(unbalanced_buses(&airs, traces, &public_values));
    failed
}

/// The buses whose messages do not balance over the four traces.
fn unbalanced_buses(
    airs: &[AggAir],
    traces: &[RowMajorMatrix<F>],
    public_values: &[Vec<F>],
) -> Vec<Check> {
    let lookups: Vec<Lookups<F>> = airs
        .iter()
        .map(Lookups::<F>::from_air::<Challenge, _>)
        .collect();
    let mut buses = BTreeSet::new();
    for lookup in lookups.iter().flat_map(|l| l.iter()) {
        match &lookup.kind {
            Kind::Global(name) => buses.insert(name.clone()),
            Kind::Local => panic!("no AIR here has a local lookup"),
        };
    }
    let known = [CHAIN_BUS, TWEAK_BUS, PERM24_BUS];
    assert_eq!(buses, known.iter().map(|b| b.to_string()).collect());
    let no_preprocessed = None;
    let mut unbalanced = Vec::new();
    for bus in known {
        let on_bus: Vec<Vec<Lookup<F>>> = lookups
            .iter()
            .map(|l| {
                l.iter()
                    .filter(|x| x.kind == Kind::Global(bus.to_string()))
                    .cloned()
                    .collect()
            })
            .collect();
        let instances: Vec<LookupDebugInstance<'_, F>> = traces
            .iter()
            .zip(public_values)
            .zip(&on_bus)
            .map(|((trace, pv), lookups)| LookupDebugInstance {
                main_trace: trace,
                preprocessed_trace: &no_preprocessed,
                public_values: pv,
                lookups,
                permutation_challenges: &[],
            })
            .collect();
        if catch_unwind(AssertUnwindSafe(|| check_lookups(&instances))).is_err() {
            unbalanced.push(Check::Bus(bus));
        }
    }
    unbalanced
}

// ---------------------------------------------------------------------------------------------
// Proving a set of traces and classifying the verifier's answer.

/// FRI verifier (`p3_batch_stark::verify_batch`, Debug-formatted by `statement::verify`): the
/// constraints of instance number `instance`, evaluated on the opened values at the
/// out-of-domain point, do not match its quotient. Instances are checked in order, before the
/// lookup sum.
fn fri_constraint_message(instance: usize) -> String {
    format!("Verification(OodEvaluationMismatch {{ index: Some({instance}) }})")
}
/// FRI verifier: the LogUp terminals of the four instances do not sum to zero.
const FRI_LOOKUP_MESSAGE: &str = "Lookup(TerminalSumNonZero)";
/// WHIR verifier (`p3_multi_stark::verify`): the zerocheck over every AIR's constraints reduced
/// to a claim that the constraints, evaluated at the sumcheck's random point on the opened
/// trace values, do not meet (`ZerocheckError::FinalSumMismatch`).
const WHIR_ZEROCHECK_MESSAGE: &str =
    "zerocheck: zerocheck final sum does not match the constraint at the challenge point";
/// The WHIR prover's own refusal of an unbalanced bus: p3-multi-stark's fractional-GKR prover
/// asserts, in every build, that the LogUp fractions sum to zero before it writes a proof.
const WHIR_PROVER_LOOKUP_ASSERTION: &str = "fraction GKR input fractions must sum to zero";

/// Why the traces were rejected: by the STARK verifier's own constraint or lookup check, or by
/// a prover that refuses to prove them. Anything else (a malformed proof, a shape or height
/// mismatch, a caught panic, an unknown message) makes [`Traces::verdict`] panic, so a rejection
/// for the wrong reason fails the test.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rejection {
    /// FRI verifier: out-of-domain constraint mismatch in this instance
    /// ([`fri_constraint_message`]).
    FriConstraints(Instance),
    /// FRI verifier: nonzero LogUp terminal sum ([`FRI_LOOKUP_MESSAGE`]): a bus does not balance.
    FriLookupSum,
    /// WHIR verifier: zerocheck final-sum mismatch ([`WHIR_ZEROCHECK_MESSAGE`]): a constraint
    /// does not vanish. The message does not name the AIR.
    WhirZerocheck,
    /// The WHIR prover refused to prove unbalanced buses ([`WHIR_PROVER_LOOKUP_ASSERTION`]), in
    /// every build: no proof exists for the verifier to reject, so the WHIR verifier's own
    /// lookup check cannot be reached with Plonky3's prover.
    WhirProverRefusedLookupSum,
    /// Debug builds only: the FRI prover's own constraint check (`check_constraints`) or bus
    /// check (`check_lookups`) refused the traces, with this message.
    FriProverRefused(String),
}

impl Rejection {
    /// Classifies the verifier's error for a proof made by `backend`; panics on any error that
    /// is not one of the STARK verifier's constraint or lookup rejections.
    fn of(backend: Backend, err: &VerifyError) -> Self {
        let VerifyError::Invalid(msg) = err else {
            panic!("{backend:?}: rejected as malformed, not by a constraint or lookup: {err}");
        };
        match backend {
            Backend::Fri | Backend::FriPoseidon1 => {
                if msg == FRI_LOOKUP_MESSAGE {
                    return Self::FriLookupSum;
                }
                for (i, instance) in INSTANCES.into_iter().enumerate() {
                    if *msg == fri_constraint_message(i) {
                        return Self::FriConstraints(instance);
                    }
                }
            }
            Backend::Whir => {
                if msg == WHIR_ZEROCHECK_MESSAGE {
                    return Self::WhirZerocheck;
                }
            }
        }
        panic!("{backend:?}: rejected for a reason that is not a constraint or lookup: {msg}");
    }

    /// What `backend` must answer for traces whose failed checks are `expected` (as
    /// [`failed_checks`] reports them). FRI (release) proves anything and its verifier names the
    /// first instance whose constraints fail, or the lookup sum when only buses fail. The WHIR
    /// prover refuses unbalanced buses; otherwise its verifier fails the zerocheck.
    fn expected(backend: Backend, expected: &BTreeSet<Check>) -> Self {
        let first_air = expected.iter().find_map(|c| match c {
            Check::Constraint { air, .. } => Some(*air),
            Check::Bus(_) => None,
        });
        let bus_fails = expected.iter().any(|c| matches!(c, Check::Bus(_)));
        match (backend, first_air) {
            (Backend::Fri | Backend::FriPoseidon1, Some(air)) => Self::FriConstraints(air),
            (Backend::Fri | Backend::FriPoseidon1, None) => Self::FriLookupSum,
            (Backend::Whir, _) if bus_fails => Self::WhirProverRefusedLookupSum,
            (Backend::Whir, _) => Self::WhirZerocheck,
        }
    }
}

/// The FRI proof of `traces` under `preset` over hash `H`, encoded, without the prover's own
/// checks of the traces.
fn prove_fri<H: FriHash>(
    preset: &FriPreset,
    stmt: &Statement<'_>,
    airs: &[AggAir],
    traces: &[RowMajorMatrix<F>],
) -> Result<Vec<u8>, String> {
    fri::prove::<H>(
        &fri_config::<H>(preset),
        stmt,
        airs,
        fri::common_data::<H>(airs),
        traces,
    )
    .map(|proof| envelope::encode::<H>(preset, &proof))
}

/// A statement (`keys`, with this file's message and epoch) and the four traces offered as its
/// witness, in instance order: signature, chain, table, width-24 permutation table.
struct Traces {
    keys: Vec<PublicKey>,
    traces: Vec<RowMajorMatrix<F>>,
}

impl Traces {
    /// The traces the prover builds from these witnesses and chain steps.
    fn build(keys: &[PublicKey], witnesses: &[SigWitness], steps: &[ChainStep]) -> Self {
        let stmt = Statement {
            message: &MESSAGE,
            epoch: EPOCH,
            keys,
        };
        let traces = statement::build_traces(&stmt, &stmt.airs(), witnesses, steps);
        let heights: Vec<usize> = traces.iter().map(Matrix::height).collect();
        assert_eq!(
            heights,
            stmt.heights(),
            "a forgery must keep the trace heights"
        );
        Self {
            keys: keys.to_vec(),
            traces,
        }
    }

    /// Row `row` of instance `air`, mutable.
    fn row_mut(&mut self, air: Instance, row: usize) -> &mut [F] {
        let t = &mut self.traces[air as usize];
        let w = t.width();
        &mut t.values[row * w..(row + 1) * w]
    }

    /// Row `row` of the signature trace, as its columns.
    fn sig_mut(&mut self, row: usize) -> &mut SigCols<F> {
        self.row_mut(Instance::Sig, row).borrow_mut()
    }

    /// Row `row` of the chain trace, as its columns.
    fn chain_mut(&mut self, row: usize) -> &mut ChainCols<F> {
        self.row_mut(Instance::Chain, row).borrow_mut()
    }

    /// Row `row` of the table trace, as its columns.
    fn table_mut(&mut self, row: usize) -> &mut TableCols<F> {
        self.row_mut(Instance::Table, row).borrow_mut()
    }

    /// The proof of these traces by `backend` (the bytes the verifier reads), or the
    /// prover's refusal (its panic message): FRI in debug builds, WHIR on unbalanced buses.
    fn prove(&self, backend: Backend) -> Result<Vec<u8>, String> {
        let preset = Preset::from_options(&opts(backend)).expect("valid options");
        assert_eq!(preset.backend(), backend);
        let stmt = Statement {
            message: &MESSAGE,
            epoch: EPOCH,
            keys: &self.keys,
        };
        let airs = stmt.airs();
        let proved = catch_unwind(AssertUnwindSafe(|| match preset {
            Preset::Fri(p) => match p.hash {
                MerkleHash::Keccak => prove_fri::<Keccak>(&p, &stmt, &airs, &self.traces),
                MerkleHash::Poseidon1 => prove_fri::<Poseidon1>(&p, &stmt, &airs, &self.traces),
            },
            Preset::Whir(p) => whir::prove(&p, &stmt, &airs, self.traces.clone())
                .map(|proof| whir_envelope::encode(&p, &proof)),
        }));
        match proved {
            Ok(result) => result,
            Err(panic) => Err(panic_message(&*panic)),
        }
    }

    /// The verifier's answer to the proof of these traces by `backend`, or the prover's
    /// refusal to prove them.
    fn verdict(&self, backend: Backend) -> Result<(), Rejection> {
        let bytes = match self.prove(backend) {
            Ok(bytes) => bytes,
            Err(refusal) if backend == Backend::Whir => {
                assert!(
                    refusal.contains(WHIR_PROVER_LOOKUP_ASSERTION),
                    "WHIR prover failed: {refusal}"
                );
                return Err(Rejection::WhirProverRefusedLookupSum);
            }
            Err(refusal) => {
                if !cfg!(debug_assertions) {
                    panic!("FRI prover failed in a release build: {refusal}");
                }
                return Err(Rejection::FriProverRefused(refusal));
            }
        };
        verify_in_order(&bytes, &self.keys, &MESSAGE, EPOCH, &verify_opts())
            .map_err(|e| Rejection::of(backend, &e))
    }

    /// Asserts that the checker finds no failure and that both backends' proofs verify.
    fn assert_accepted(&self) {
        assert_eq!(failed_checks(&self.keys, &self.traces), BTreeSet::new());
        for backend in BACKENDS {
            assert_eq!(self.verdict(backend), Ok(()), "{backend:?}");
        }
    }

    /// Asserts that the checker finds exactly `expected` and that each backend's verifier
    /// rejects the proof for the reason [`Rejection::expected`] derives from it.
    fn assert_caught_by(&self, expected: &[Check]) {
        let expected: BTreeSet<Check> = expected.iter().cloned().collect();
        assert!(!expected.is_empty());
        assert_eq!(failed_checks(&self.keys, &self.traces), expected);
        for backend in BACKENDS {
            let verdict = self.verdict(backend);
            match verdict {
                Err(Rejection::FriProverRefused(msg)) => {
                    // Debug builds: Plonky3's prover-side checker names the failure class.
                    let constraint_failed = expected
                        .iter()
                        .any(|c| matches!(c, Check::Constraint { .. }));
                    let wanted = if constraint_failed {
                        "constraints not satisfied"
                    } else {
                        "Lookup mismatch"
                    };
                    assert!(msg.contains(wanted), "debug FRI prover refused with: {msg}");
                }
                verdict => assert_eq!(
                    verdict,
                    Err(Rejection::expected(backend, &expected)),
                    "{backend:?}"
                ),
            }
        }
    }
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-string panic".into())
}

// ---------------------------------------------------------------------------------------------
// Witnesses.

/// Two signers: index 0 honest, index 1 the one the test corrupts.
fn signers(second: TestSigner) -> (Vec<PublicKey>, Vec<SigWitness>, Vec<TestSigner>) {
    let first = TestSigner::new(11, &MESSAGE, EPOCH, 200);
    let mut keys = Vec::new();
    let mut witnesses = Vec::new();
    let mut steps = Vec::new();
    for (s, signer) in [&first, &second].into_iter().enumerate() {
        let (pk, sig) = signer.sign(EPOCH);
        witnesses.push(build_witness(
            s as u32, &pk, &sig, &MESSAGE, EPOCH, &mut steps,
        ));
        keys.push(pk);
    }
    (keys, witnesses, vec![first, second])
}

/// Two honest signers (seeds 11 and 12).
fn honest_pair() -> (Vec<PublicKey>, Vec<SigWitness>, Vec<TestSigner>) {
    signers(TestSigner::new(12, &MESSAGE, EPOCH, 200))
}

/// Three honest signers (seeds 11, 12, 13): the signature trace has a padding block (block 3).
fn honest_three() -> (Vec<PublicKey>, Vec<SigWitness>) {
    (11..14)
        .enumerate()
        .map(|(s, seed)| {
            let (pk, sig) = TestSigner::new(seed, &MESSAGE, EPOCH, 200).sign(EPOCH);
            let w = build_witness(s as u32, &pk, &sig, &MESSAGE, EPOCH, &mut Vec::new());
            (pk, w)
        })
        .unzip()
}

/// Walks every witness's chains (setting its chain ends) and returns all chain steps.
fn all_steps(witnesses: &mut [SigWitness]) -> Vec<ChainStep> {
    let mut steps = Vec::new();
    for (s, w) in witnesses.iter_mut().enumerate() {
        walk_chains(s as u32, w, EPOCH, &mut steps);
    }
    steps
}

/// Row `r` of signature block `block`.
const fn block_row(block: usize, r: usize) -> usize {
    block * BLOCK + r
}

/// Optional changes to the permutation inputs of a signature block (see [`block_rows`]).
#[derive(Default)]
struct BlockForgery {
    /// Start the leaf sponge from this capacity instead of the scheme's constant.
    capacity: Option<[F; CAPACITY]>,
    /// Put the leaf on the other side of its sibling at Merkle level 0.
    swap_level0: bool,
    /// This message-hash input instead of leanSig's layout.
    message_input: Option<[F; 24]>,
}

/// The 59 width-24 permutation inputs of a signature block, recomputed natively from the
/// witness: 25 leaf-sponge absorptions, 32 Merkle nodes, a zero placeholder for the key row
/// (which [`rechain`] fills), the message hash. With a
/// [`BlockForgery`] each later input follows from the forged one (sponge capacities, Merkle
/// nodes), so the block stays consistent except where the forgery itself breaks a rule.
/// Also returns the root the Merkle rows reach.
fn block_rows(w: &SigWitness, forgery: &BlockForgery) -> (Vec<[F; 24]>, Digest) {
    let mut inputs = Vec::with_capacity(MSG_ROW + 1);
    let stream = leaf_sponge_input(&w.parameter, EPOCH, &w.ends);
    let mut capacity = forgery.capacity.unwrap_or_else(sponge_capacity_value);
    let mut leaf = [F::ZERO; HASH_LEN_FE];
    for chunk in stream.chunks(SPONGE_RATE) {
        let mut input = [F::ZERO; 24];
        input[..CAPACITY].copy_from_slice(&capacity);
        input[CAPACITY..].copy_from_slice(chunk);
        let mut state = input;
        permute_24(&mut state);
        capacity.copy_from_slice(&state[..CAPACITY]);
        leaf.copy_from_slice(&state[CAPACITY..CAPACITY + HASH_LEN_FE]);
        inputs.push(input);
    }
    let mut node = leaf;
    for l in 0..LOG_LIFETIME {
        let node_is_left = ((EPOCH >> l) & 1 == 0) != (l == 0 && forgery.swap_level0);
        let (left, right) = if node_is_left {
            (node, w.path[l])
        } else {
            (w.path[l], node)
        };
        let input = tree_node_input(
            &w.parameter,
            (l + 1) as u8,
            EPOCH.checked_shr(l as u32 + 1).unwrap_or(0),
            &left,
            &right,
        );
        node = compress_24::<F, HASH_LEN_FE>(&input);
        inputs.push(input);
    }
    inputs.push([F::ZERO; 24]);
    inputs.push(
        forgery
            .message_input
            .unwrap_or_else(|| message_hash_input(&w.parameter, EPOCH, &w.rho, &MESSAGE)),
    );
    assert_eq!(inputs.len(), MSG_ROW + 1);
    (inputs, node)
}

/// Writes the permutation inputs of [`block_rows`] into signature block `block`: each row's
/// `in` and `out` columns and its permutation-table row (so the permutation bus and the
/// Poseidon1 constraints hold), and the block's `A` columns (the message-hash compression);
/// then the key rows and the key-set digest column follow the new root ([`rechain`]).
fn write_block(t: &mut Traces, block: usize, inputs: &[[F; 24]]) {
    let filler = PermFiller::shared24();
    let mut a = [F::ZERO; MH_DECODED_FE];
    for (r, input) in inputs.iter().enumerate() {
        if r == KEY_ROW {
            continue;
        }
        let row = block_row(block, r);
        let out = filler.fill(t.row_mut(Instance::Perm24, row), *input);
        let sig = t.sig_mut(row);
        sig.input = *input;
        sig.output.copy_from_slice(&out[..PERM24_BUS_OUTPUTS]);
        if r == MSG_ROW {
            a = core::array::from_fn(|k| out[k] + input[k]);
        }
    }
    for r in 0..BLOCK {
        t.sig_mut(block_row(block, r)).a = a;
    }
    rechain(t, |_, _| {});
}

/// Recomputes, as the prover does, every block's key row (its input from the digest so far,
/// the root its row 56 reaches and its parameter column; its output and permutation-table row)
/// and the key-set digest column, from the public initial value for the statement's key count.
/// `edit(block, input)` may change a key row's input before it is permuted; the digest then
/// follows the edited input.
fn rechain(t: &mut Traces, edit: impl Fn(usize, &mut [F; 24])) {
    let iv = key_set_iv(t.keys.len());
    rechain_from(t, iv, edit);
}

/// [`rechain`] from the initial value `iv`.
fn rechain_from(t: &mut Traces, iv: [F; KEY_DIGEST_LEN], edit: impl Fn(usize, &mut [F; 24])) {
    let filler = PermFiller::shared24();
    let blocks = t.traces[Instance::Sig as usize].height() / BLOCK;
    let mut chain = iv;
    for b in 0..blocks {
        let root_row = t.sig_mut(block_row(b, ROOT_ROW));
        let root: Digest = core::array::from_fn(|j| root_row.input[j] + root_row.output[j]);
        let (parameter, active) = (root_row.parameter, root_row.active == F::ONE);
        let mut input = key_absorption_input(&chain, &root, &parameter);
        edit(b, &mut input);
        let row = block_row(b, KEY_ROW);
        let out = filler.fill(t.row_mut(Instance::Perm24, row), input);
        let key_row = t.sig_mut(row);
        key_row.input = input;
        key_row.output.copy_from_slice(&out[..PERM24_BUS_OUTPUTS]);
        let after = if active {
            core::array::from_fn(|j| out[j] + input[j])
        } else {
            chain
        };
        for r in 0..BLOCK {
            t.sig_mut(block_row(b, r)).key_chain = if r <= KEY_ROW { chain } else { after };
        }
        chain = after;
    }
}

/// Signer 1 of [`honest_pair`] with a message hash computed from `layout(parameter, rho)` instead
/// of leanSig's input, and a rho for which that hash decodes to digits summing to 200. Returns
/// the traces (signer 1's digits, remainders and chain starts are those of the forged hash, and
/// its block's message-hash row takes the forged input) and signer 1's message-hash input.
fn forged_message_hash(
    layout: impl Fn(&[F; PARAMETER_LEN], &[F; 7]) -> [F; 24],
) -> (Traces, [F; 24]) {
    let (keys, mut witnesses, signers) = honest_pair();
    let mut signer = signers[1].clone();
    let (input, hash) = (0u32..100_000)
        .find_map(|counter| {
            let rho = core::array::from_fn(|j| F::from_u32(counter * 7 + j as u32));
            let input = layout(&signer.parameter, &rho);
            let hash = compress_24::<F, HASH_LEN_FE>(&input);
            let digits = hypercube_digits(&hash)?;
            (digits.iter().map(|&d| usize::from(d)).sum::<usize>() == 200).then(|| {
                signer.rho = rho;
                signer.digits = digits;
                (input, hash)
            })
        })
        .expect("a rho with digit sum 200");
    let (pk, sig) = signer.sign(EPOCH);
    assert_eq!(pk, keys[1], "the key does not depend on the message hash");
    let (digits, remainders) = decode_digits(&hash);
    witnesses[1] = SigWitness {
        parameter: pk.parameter,
        rho: signer.rho,
        digits,
        remainders,
        starts: sig.hashes,
        ends: [[F::ZERO; HASH_LEN_FE]; DIMENSION],
        path: sig.path,
    };
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    let (mut inputs, _) = block_rows(&witnesses[1], &BlockForgery::default());
    inputs[MSG_ROW] = input;
    write_block(&mut t, 1, &inputs);
    (t, input)
}

/// Signer 1's traces with its block's rows forged by `forgery` and its key's root replaced by
/// the root the forged rows reach (so the key-set digest is still the public one).
fn forged_block(forgery: BlockForgery) -> Traces {
    let (mut keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let (inputs, root) = block_rows(&witnesses[1], &forgery);
    assert_ne!(root, keys[1].root, "the forgery must move the root");
    keys[1].root = root;
    let mut t = Traces::build(&keys, &witnesses, &steps);
    write_block(&mut t, 1, &inputs);
    t
}

// ---------------------------------------------------------------------------------------------
// Controls.

#[test]
fn honest_witness_is_accepted_through_prove_witnesses() {
    // The control for the witness-level tests: the same construction without the corruption
    // passes the checker and verifies on both backends, also through the public entry point.
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    Traces::build(&keys, &witnesses, &steps).assert_accepted();
    for backend in BACKENDS {
        let proof =
            prove_witnesses(&MESSAGE, EPOCH, &keys, &witnesses, &steps, &opts(backend)).unwrap();
        verify_in_order(proof.as_bytes(), &keys, &MESSAGE, EPOCH, &verify_opts()).unwrap();
    }
}

#[test]
fn rewriting_blocks_with_their_honest_rows_changes_nothing() {
    // Control for the block forgeries: the native recomputation of a block's permutation rows
    // reproduces the prover's trace exactly, so a forged block differs only where it is forged.
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let honest = Traces::build(&keys, &witnesses, &steps);
    let mut rewritten = Traces::build(&keys, &witnesses, &steps);
    for (s, w) in witnesses.iter().enumerate() {
        let (inputs, root) = block_rows(w, &BlockForgery::default());
        assert_eq!(root, keys[s].root);
        write_block(&mut rewritten, s, &inputs);
    }
    for (a, b) in honest.traces.iter().zip(&rewritten.traces) {
        assert!(
            a.values == b.values,
            "a rewritten block differs from the prover's"
        );
    }
    rewritten.assert_accepted();
}

#[test]
fn honest_three_signers_with_a_padding_block_are_accepted() {
    // Control for the padding-block forgery: N = 3, block 3 inactive.
    let (keys, mut witnesses) = honest_three();
    let steps = all_steps(&mut witnesses);
    Traces::build(&keys, &witnesses, &steps).assert_accepted();
}

#[test]
fn honest_substitute_key_in_the_key_list_is_accepted() {
    // Control for the key-mirror forgery: the substitute key, given honestly in the key list.
    let (mut keys, mut witnesses, signers) = honest_pair();
    let (pk, sig) = substitute_signer(&signers[1]).sign(EPOCH);
    keys[1] = pk;
    witnesses[1] = build_witness(1, &pk, &sig, &MESSAGE, EPOCH, &mut Vec::new());
    let steps = all_steps(&mut witnesses);
    Traces::build(&keys, &witnesses, &steps).assert_accepted();
}

// ---------------------------------------------------------------------------------------------
// Forgeries of the statement binding (section 5 of the issue).

/// Signer 1 with other chain starts: the same parameter, another root.
fn substitute_signer(signer: &TestSigner) -> TestSigner {
    let mut substitute = signer.clone();
    substitute.starts0[0][0] += F::ONE;
    substitute
}

/// The last row of a signature trace of `blocks` blocks.
const fn last_row(blocks: usize) -> usize {
    blocks * BLOCK - 1
}

/// Signer 1 signed under a substitute key while the statement keeps the listed key `keys[1]`.
fn substitute_block_1() -> (Traces, PublicKey) {
    let (keys, mut witnesses, signers) = honest_pair();
    let (pk, sig) = substitute_signer(&signers[1]).sign(EPOCH);
    assert_eq!(pk.parameter, keys[1].parameter);
    assert_ne!(pk.root, keys[1].root);
    witnesses[1] = build_witness(1, &pk, &sig, &MESSAGE, EPOCH, &mut Vec::new());
    let steps = all_steps(&mut witnesses);
    (Traces::build(&keys, &witnesses, &steps), pk)
}

#[test]
fn substitute_key_is_caught_by_the_key_set_digest_on_the_last_row() {
    // Block 1 is a valid signature under a key the statement does not list: its key row
    // absorbs the root it reaches, so the digest the trace ends with is not the verifier's.
    let (t, _) = substitute_block_1();
    t.assert_caught_by(&[constraint(Instance::Sig, SIG_KEY_DIGEST, last_row(2))]);
}

#[test]
fn key_row_absorbing_the_listed_root_is_caught_by_the_key_root_constraint() {
    // As above, but block 1's key row absorbs the listed key's root instead of the root its
    // Merkle rows reach: the digest is the verifier's, and only the constraint tying the key
    // row to row 56's output can tell.
    let (mut t, _) = substitute_block_1();
    let listed = t.keys[1].root;
    rechain(&mut t, |b, input| {
        if b == 1 {
            input[key_layout::ROOT..key_layout::ROOT + HASH_LEN_FE].copy_from_slice(&listed);
        }
    });
    t.assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_KEY_ROOT,
        block_row(1, ROOT_ROW),
    )]);
}

/// Honest traces of [`honest_pair`] whose key row in `block` absorbs an input changed by `edit`
/// (the digest follows the edited input): caught by the constraint `name` on that key row, and
/// by the last row's digest, which is no longer the verifier's.
fn assert_key_row_edit_caught(block: usize, edit: impl Fn(&mut [F; 24]), name: &'static str) {
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    rechain(&mut t, |b, input| {
        if b == block {
            edit(input);
        }
    });
    t.assert_caught_by(&[
        constraint(Instance::Sig, name, block_row(block, KEY_ROW)),
        constraint(Instance::Sig, SIG_KEY_DIGEST, last_row(2)),
    ]);
}

#[test]
fn key_row_with_another_parameter_is_caught_by_the_key_parameter_constraint() {
    assert_key_row_edit_caught(
        1,
        |input| input[key_layout::PARAMETER] += F::ONE,
        SIG_KEY_PARAM,
    );
}

#[test]
fn key_row_with_a_nonzero_last_cell_is_caught_by_the_zero_cell_constraint() {
    assert_key_row_edit_caught(0, |input| input[23] = F::ONE, SIG_KEY_ZERO);
}

#[test]
fn key_row_absorbing_into_another_digest_is_caught_by_the_chain_input_constraint() {
    assert_key_row_edit_caught(
        1,
        |input| input[key_layout::DIGEST] += F::ONE,
        SIG_KEY_CHAIN_IN,
    );
}

#[test]
fn key_set_digest_changed_on_an_idle_row_is_caught_by_the_carry_constraint() {
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    t.sig_mut(block_row(0, MSG_ROW + 2)).key_chain[4] += F::ONE;
    t.assert_caught_by(&[
        constraint(Instance::Sig, SIG_KEY_CARRY, block_row(0, MSG_ROW + 1)),
        constraint(Instance::Sig, SIG_KEY_CARRY, block_row(0, MSG_ROW + 2)),
    ]);
}

#[test]
fn key_set_digest_that_skips_an_active_block_is_caught_by_the_absorption_constraint() {
    // The digest goes past block 1 as if it were padding: the last row holds the digest of
    // signer 0 alone, which is not the digest of the two listed keys.
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    let before = t.sig_mut(block_row(1, 0)).key_chain;
    for r in KEY_ROW + 1..BLOCK {
        t.sig_mut(block_row(1, r)).key_chain = before;
    }
    t.assert_caught_by(&[
        constraint(Instance::Sig, SIG_KEY_ABSORB, block_row(1, KEY_ROW)),
        constraint(Instance::Sig, SIG_KEY_DIGEST, last_row(2)),
    ]);
}

#[test]
fn key_set_digest_from_the_initial_value_of_another_count_is_caught_by_the_initial_value_constraint(
) {
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    rechain_from(&mut t, key_set_iv(3), |_, _| {});
    t.assert_caught_by(&[
        constraint(Instance::Sig, SIG_KEY_IV, 0),
        constraint(Instance::Sig, SIG_KEY_DIGEST, last_row(2)),
    ]);
}

#[test]
fn two_blocks_with_one_index_are_caught_by_the_index_step_constraint() {
    // Block 1 takes block 0's index, and its chain steps too: the chain bus still balances (the
    // two signers' tokens differ in value and parameter), so only the index count can tell.
    let (keys, mut witnesses, _) = honest_pair();
    let mut steps = all_steps(&mut witnesses);
    for s in steps.iter_mut().filter(|s| s.sig == 1) {
        s.sig = 0;
    }
    let mut t = Traces::build(&keys, &witnesses, &steps);
    for r in 0..BLOCK {
        t.sig_mut(block_row(1, r)).sig = F::ZERO;
    }
    t.assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_INDEX_STEP,
        block_row(0, BLOCK - 1),
    )]);
}

#[test]
fn block_indices_from_one_are_caught_by_the_first_row_index_constraint() {
    let (keys, mut witnesses, _) = honest_pair();
    let mut steps = all_steps(&mut witnesses);
    for s in &mut steps {
        s.sig += 1;
    }
    let mut t = Traces::build(&keys, &witnesses, &steps);
    for row in 0..2 * BLOCK {
        t.sig_mut(row).sig += F::ONE;
    }
    t.assert_caught_by(&[constraint(Instance::Sig, SIG_INDEX_FIRST, 0)]);
}

#[test]
fn padding_block_made_active_is_caught_by_the_key_set_digest() {
    // N = 3: block 3 pads the signature trace to 4 blocks (a copy of block 0). Made active, it
    // is a second complete verification of signer 0 under its own index: its chains are proved
    // by a copy of signer 0's chain steps (tweak multiplicities counted along), so every bus
    // balances, and its key row absorbs signer 0's key a second time. Four absorptions from the
    // initial value for three keys are not the digest of the three listed keys.
    let (keys, mut witnesses) = honest_three();
    let mut steps = all_steps(&mut witnesses);
    let again: Vec<ChainStep> = steps
        .iter()
        .filter(|s| s.sig == 0)
        .map(|s| ChainStep { sig: 3, ..*s })
        .collect();
    steps.extend(again);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    for r in 0..BLOCK {
        let row = t.sig_mut(block_row(3, r));
        assert_eq!((row.active, row.sig), (F::ZERO, F::from_u8(3)));
        row.active = F::ONE;
    }
    rechain(&mut t, |_, _| {});
    t.assert_caught_by(&[constraint(Instance::Sig, SIG_KEY_DIGEST, last_row(4))]);
}

/// A signer whose message hash has an `A_k` with remainder 0 and a nonzero lowest digit, and
/// whose digits sum to 201: re-decomposed as `127 (d_k - 1) + 127`, the digits sum to 200.
fn signer_with_zero_remainder() -> (TestSigner, usize) {
    (100u64..5000)
        .find_map(|seed| {
            let signer = TestSigner::new(seed, &MESSAGE, EPOCH, 201);
            let hash = message_hash(&signer.parameter, EPOCH, &signer.rho, &MESSAGE);
            let (digits, remainders) = decode_digits(&hash);
            (0..MH_DECODED_FE)
                .find(|&k| remainders[k] == 0 && digits[k * Z] > 0)
                .map(|k| (signer, k))
        })
        .expect("a signer with a zero remainder")
}

#[test]
fn remainder_127_is_caught_by_the_remainder_range_constraint() {
    // A_k = 127 d with remainder 0, re-decomposed as 127 (d - 1) + 127: the lowest digit of
    // group k drops by one (its chain starts one position lower, from the matching value), the
    // seven remainder bits are all set, and the digit sum becomes 200. Every equation holds,
    // only the range check of the remainder (not all seven bits set) fails.
    let (signer, k) = signer_with_zero_remainder();
    let (keys, mut witnesses, _) = signers(signer.clone());
    let w = &mut witnesses[1];
    let chain = k * Z;
    assert_eq!(w.remainders[k], 0);
    w.digits[chain] -= 1;
    w.remainders[k] = Q;
    w.starts[chain] = signer.chain_value(EPOCH, chain, w.digits[chain]);
    let digit_sum: usize = w.digits[..DIMENSION].iter().map(|&d| usize::from(d)).sum();
    assert_eq!(digit_sum, 200);
    let steps = all_steps(&mut witnesses);
    let t = Traces::build(&keys, &witnesses, &steps);
    t.assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_REM_RANGE,
        block_row(1, k * Z + Z - 1),
    )]);
}

#[test]
fn digit_bit_equal_to_2_is_caught_by_the_digit_bit_constraint() {
    // A digit x in {4, 5} written as b0 = x - 4, b1 = 2, b2 = 0: the same digit value
    // b0 + 2 b1 + 4 b2, so the accumulators, the decomposition and the chain start agree; only
    // the booleanity of b1 fails.
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let r = (0..DIMENSION)
        .find(|&r| matches!(witnesses[1].digits[r], 4 | 5))
        .expect("a digit 4 or 5");
    let x = witnesses[1].digits[r];
    let mut t = Traces::build(&keys, &witnesses, &steps);
    t.sig_mut(block_row(1, r)).digit_bits = [F::from_u8(x - 4), F::TWO, F::ZERO];
    t.assert_caught_by(&[constraint(Instance::Sig, SIG_DIGIT_BITS, block_row(1, r))]);
}

/// The first padding entry of the tweak table: `(chain 0, position 0, tweak (0, 0))`, the entry
/// a chain step from position `p - 1` of chain 0 with tweak `(0, 0)` looks up.
const PADDING_TWEAK_ENTRY: usize = DIMENSION * (BASE - 1);
const _: () = assert!(PADDING_TWEAK_ENTRY < TWEAK_PERIOD);

/// Writes into the chain trace's row `row` (a padding row) an active step of chain 0 of
/// signature `sig` from position `p - 1` (so to position 0) with tweak `(0, 0)`, from `value`,
/// and sets the multiplicity of the padding tweak entry it looks up to 1 (so the tweak bus
/// balances).
fn write_step_from_position_minus_one(
    t: &mut Traces,
    row: usize,
    sig: u32,
    value: &Digest,
    parameter: &[F; PARAMETER_LEN],
) {
    let entry = &t.table_mut(PADDING_TWEAK_ENTRY).tweak;
    assert_eq!(
        [entry.chain, entry.pos, entry.tweak[0], entry.tweak[1]],
        [F::ZERO; 4]
    );
    let mut input = [F::ZERO; 16];
    input[..HASH_LEN_FE].copy_from_slice(value);
    input[HASH_LEN_FE..HASH_LEN_FE + PARAMETER_LEN].copy_from_slice(parameter);
    assert_eq!(
        t.chain_mut(row).active,
        F::ZERO,
        "a padding row of the chain trace"
    );
    let _ = PermFiller::shared16().fill(&mut t.row_mut(Instance::Chain, row)[..PERM16_COLS], input);
    let r = t.chain_mut(row);
    r.sig = F::from_u32(sig);
    r.chain = F::ZERO;
    r.pos = F::NEG_ONE;
    r.active = F::ONE;
    t.table_mut(PADDING_TWEAK_ENTRY).multiplicity = F::ONE;
}

#[test]
fn step_from_position_p_minus_1_on_a_padding_tweak_is_caught_by_the_padding_multiplicity() {
    // A chain step at position p - 1 produces position 0 and looks up (chain 0, position 0,
    // tweak (0, 0)): exactly a padding entry of the tweak table. With that entry's committed
    // multiplicity set to 1 the tweak bus balances; the table's constraint that padding entries
    // have multiplicity 0 fails.
    //
    // This forgery cannot leave the chain bus balanced: no chain step produces a token at
    // position p - 1 (it would look up position p - 1, which no tweak entry has), and a chain
    // start there needs a non-boolean digit bit (the next test). So the token it consumes has no
    // source and the one it produces no sink: the checker flags the chain bus too, and the WHIR
    // prover refuses. The FRI verifier checks instance constraints before the lookup sum, so
    // the table's constraint is what rejects its proof.
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    let w = &witnesses[1];
    write_step_from_position_minus_one(&mut t, steps.len(), 1, &w.starts[0], &w.parameter);
    t.assert_caught_by(&[
        constraint(Instance::Table, TABLE_PADDING_MULT, PADDING_TWEAK_ENTRY),
        Check::Bus(CHAIN_BUS),
    ]);
}

/// A signer whose digits sum to 207 with `x_0 = 7` and `x_1 < 7`: written with `x_0 = -1` and
/// `x_1 + 1` (the same `d_0 = -1 + 8 (x_1 + 1) + ... = 7 + 8 x_1 + ...`), they sum to 200.
fn signer_with_first_digit_7() -> TestSigner {
    (200u64..5000)
        .map(|seed| TestSigner::new(seed, &MESSAGE, EPOCH, 207))
        .find(|s| s.digits[0] == 7 && s.digits[1] < 7)
        .expect("a signer with x_0 = 7 and x_1 < 7")
}

/// Recomputes the `acc` and `sum` columns of signature block `block` from its digit-bit columns
/// (whatever their values), as the AIR's recurrences define them.
fn recompute_accumulators(t: &mut Traces, block: usize) {
    let (mut acc, mut sum) = (F::ZERO, F::ZERO);
    for r in 0..BLOCK {
        let row = t.sig_mut(block_row(block, r));
        let b = row.digit_bits;
        let x = b[0] + b[1] * F::TWO + b[2] * F::from_u8(4);
        acc = if r % Z == 0 {
            x
        } else {
            acc + x * F::from_u32((BASE as u32).pow((r % Z) as u32))
        };
        if r < DIMENSION {
            sum += x;
        }
        row.acc = acc;
        row.sum = sum;
    }
}

#[test]
fn chain_start_at_position_p_minus_1_is_caught_by_the_digit_bit_and_padding_multiplicity() {
    // The bus-balanced form of the previous forgery: chain 0 of signer 1 starts at position
    // p - 1, written as digit bits (p - 1, 0, 0), and takes 8 steps, the first on the padding
    // tweak entry (multiplicity 1). x_0 = 7 becomes -1 and x_1 grows by one, so A_0's
    // decomposition still holds and the digit sum drops from 207 to 200; chain 1 starts one
    // position higher; the key's root is recomputed from the new chain-0 end. Every bus
    // balances, and both backends prove it. Exactly two constraints fail, and one of them always
    // will: a chain can start at p - 1 only through a non-boolean digit bit.
    let signer = signer_with_first_digit_7();
    let (mut keys, mut witnesses, _) = signers(signer.clone());
    let w = &mut witnesses[1];
    let parameter = w.parameter;
    let start = signer.starts0[0];
    // x_0 stays 7 in the witness (no step is generated for chain 0), the bits are edited below.
    w.starts[0] = start;
    w.digits[1] += 1;
    w.starts[1] = signer.chain_value(EPOCH, 1, w.digits[1]);
    let mut steps = all_steps(&mut witnesses);
    // Chain 0: p - 1 -> 0 with tweak (0, 0) (the trace edit below), then 0 -> 7.
    let mut input = [F::ZERO; 16];
    input[..HASH_LEN_FE].copy_from_slice(&start);
    input[HASH_LEN_FE..HASH_LEN_FE + PARAMETER_LEN].copy_from_slice(&parameter);
    let mut value: Digest = compress_16(&input);
    for pos in 0..(BASE as u8 - 1) {
        let input = chain_step_input(&parameter, EPOCH, 0, pos + 1, &value);
        steps.push(ChainStep {
            sig: 1,
            chain: 0,
            pos,
            input,
        });
        value = compress_16(&input);
    }
    let w = &mut witnesses[1];
    w.ends[0] = value;
    let leaf = leaf_hash(&parameter, EPOCH, &w.ends);
    keys[1].root = merkle_root_from_path(&parameter, EPOCH, &leaf, &w.path);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    write_step_from_position_minus_one(&mut t, steps.len(), 1, &start, &parameter);
    t.sig_mut(block_row(1, 0)).digit_bits = [F::NEG_ONE, F::ZERO, F::ZERO];
    recompute_accumulators(&mut t, 1);
    t.assert_caught_by(&[
        constraint(Instance::Sig, SIG_DIGIT_BITS, block_row(1, 0)),
        constraint(Instance::Table, TABLE_PADDING_MULT, PADDING_TWEAK_ENTRY),
    ]);
}

#[test]
fn left_and_right_swapped_at_merkle_level_0_are_caught_by_the_leaf_placement_constraint() {
    // The leaf enters level 0 on the side epoch bit 0 does not choose; every node above is
    // recomputed from there and the key's root is that tree's root, so the key-set digest is the
    // public one.
    let t = forged_block(BlockForgery {
        swap_level0: true,
        ..BlockForgery::default()
    });
    t.assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_LEAF_PLACEMENT,
        block_row(1, SPONGE_ROWS - 1),
    )]);
}

#[test]
fn wrong_sponge_capacity_value_is_caught_by_the_capacity_constraint() {
    // The leaf sponge starts from another capacity value; leaf, Merkle path and key root follow.
    let mut capacity = sponge_capacity_value();
    capacity[0] += F::ONE;
    let t = forged_block(BlockForgery {
        capacity: Some(capacity),
        ..BlockForgery::default()
    });
    t.assert_caught_by(&[constraint(Instance::Sig, SIG_CAPACITY, block_row(1, 0))]);
}

#[test]
fn wrong_message_tweak_is_caught_by_the_message_tweak_constraint() {
    // The message hash is taken with the message tweak of the next epoch, with a rho for which
    // that hash gives digits summing to 200 and chain starts at those digits.
    let other_tweak = message_tweak(EPOCH + 1);
    assert_ne!(other_tweak, message_tweak(EPOCH));
    let (t, _) = forged_message_hash(|parameter, rho| {
        let mut input = message_hash_input(parameter, EPOCH, rho, &MESSAGE);
        input[14..16].copy_from_slice(&other_tweak);
        input
    });
    t.assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_MSG_TWEAK,
        block_row(1, MSG_ROW),
    )]);
}

#[test]
fn rho_moved_one_cell_is_caught_by_the_zero_cell_constraint() {
    // Rho written to cells 17..24 of the message-hash input instead of 16..23: cell 16 is 0 and
    // cell 23, which must be 0, holds rho[6]. The hash, digits and chain starts follow.
    let (t, input) = forged_message_hash(|parameter, rho| {
        let mut input = message_hash_input(parameter, EPOCH, &[F::ZERO; 7], &MESSAGE);
        input[17..24].copy_from_slice(rho);
        input
    });
    assert_ne!(input[23], F::ZERO);
    t.assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_MSG_ZERO,
        block_row(1, MSG_ROW),
    )]);
}

// ---------------------------------------------------------------------------------------------
// Invalid signatures (witness level).

#[test]
fn chain_start_disagreeing_with_codeword_is_caught_by_the_decomposition_constraint() {
    // Move chain i's start one position up and chain j's one down: the chains still reach the
    // same ends (same root) and the digits still sum to 200, but they are not the message
    // hash's digits, so A_k = 127 acc + rem fails for the groups of i and j.
    let (keys, mut witnesses, signers) = honest_pair();
    let w = &mut witnesses[1];
    let i = (0..DIMENSION)
        .find(|&i| w.digits[i] < BASE as u8 - 1)
        .unwrap();
    let j = (0..DIMENSION).find(|&j| j != i && w.digits[j] > 0).unwrap();
    w.digits[i] += 1;
    w.digits[j] -= 1;
    w.starts[i] = signers[1].chain_value(EPOCH, i, w.digits[i]);
    w.starts[j] = signers[1].chain_value(EPOCH, j, w.digits[j]);
    let ends_before = w.ends;
    let steps = all_steps(&mut witnesses);
    assert_eq!(
        witnesses[1].ends, ends_before,
        "the corruption must keep the chain ends"
    );
    let t = Traces::build(&keys, &witnesses, &steps);
    let groups: BTreeSet<usize> = [i / Z, j / Z].into();
    let expected: Vec<Check> = groups
        .into_iter()
        .map(|g| {
            constraint(
                Instance::Sig,
                SIG_DECOMPOSITION,
                block_row(1, g * Z + Z - 1),
            )
        })
        .collect();
    t.assert_caught_by(&expected);
}

#[test]
fn wrong_merkle_sibling_is_caught_by_the_key_set_digest() {
    // The block reaches another root, which its key row absorbs.
    let (keys, mut witnesses, _) = honest_pair();
    witnesses[1].path[7][3] += F::ONE;
    let steps = all_steps(&mut witnesses);
    Traces::build(&keys, &witnesses, &steps).assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_KEY_DIGEST,
        last_row(2),
    )]);
}

/// Replaces signer 1's walk of chain `chain` (its steps, and its chain end) by one whose first
/// step is hashed with `tweak` instead of the tweak of its target position; the leaf and the
/// key's root are recomputed from the new chain end. Returns the start position of that step.
fn rewalk_with_first_tweak(
    keys: &mut [PublicKey],
    witnesses: &mut [SigWitness],
    steps: &mut Vec<ChainStep>,
    chain: usize,
    tweak: [F; 2],
) -> u8 {
    let w = &mut witnesses[1];
    let first = w.digits[chain];
    assert!(first < BASE as u8 - 1, "the chain needs a step");
    steps.retain(|s| !(s.sig == 1 && usize::from(s.chain) == chain));
    let mut value = w.starts[chain];
    for pos in first..(BASE as u8 - 1) {
        let mut input = chain_step_input(&w.parameter, EPOCH, chain as u8, pos + 1, &value);
        if pos == first {
            input[13..15].copy_from_slice(&tweak);
        }
        steps.push(ChainStep {
            sig: 1,
            chain: chain as u8,
            pos,
            input,
        });
        value = compress_16(&input);
    }
    assert_ne!(value, w.ends[chain]);
    w.ends[chain] = value;
    let leaf = leaf_hash(&w.parameter, EPOCH, &w.ends);
    keys[1].root = merkle_root_from_path(&w.parameter, EPOCH, &leaf, &w.path);
    first
}

#[test]
fn tweak_off_by_one_is_caught_by_the_tweak_bus() {
    // A key whose chain 0 was hashed with the tweak of the next position on its first step:
    // root, leaf and chain ends are consistent with that walk, only the tweak is wrong.
    let (mut keys, mut witnesses, _) = honest_pair();
    let mut steps = all_steps(&mut witnesses);
    let x = witnesses[1].digits[0];
    let tweak = chain_tweak(EPOCH, 0, x + 2);
    rewalk_with_first_tweak(&mut keys, &mut witnesses, &mut steps, 0, tweak);
    Traces::build(&keys, &witnesses, &steps).assert_caught_by(&[Check::Bus(TWEAK_BUS)]);
}

#[test]
fn substitute_tweak_in_tweak_mirror_is_caught_by_the_tweak_mirror_constraint() {
    // Signer 1's first step on chain c is hashed with that step's tweak of another epoch, and
    // the committed tweak mirror of the entry it looks up holds that tweak: the tweak bus
    // balances (no other step uses the entry: signer 0's chain c starts above it), the chain
    // end, leaf and key root follow, and only the table's constraint tying the mirror to the
    // verifier's tweak table (a periodic column computed from the epoch) can tell.
    let (mut keys, mut witnesses, _) = honest_pair();
    let mut steps = all_steps(&mut witnesses);
    let c = (0..DIMENSION)
        .find(|&c| witnesses[1].digits[c] < witnesses[0].digits[c])
        .expect("a chain signer 1 starts below signer 0");
    let x = witnesses[1].digits[c];
    let tweak = chain_tweak(EPOCH + 1, c as u8, x + 1);
    assert_ne!(tweak, chain_tweak(EPOCH, c as u8, x + 1));
    rewalk_with_first_tweak(&mut keys, &mut witnesses, &mut steps, c, tweak);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    let entry = c * (BASE - 1) + usize::from(x);
    let row = t.table_mut(entry);
    assert_eq!(row.tweak.chain, F::from_usize(c));
    assert_eq!(row.tweak.pos, F::from_u8(x + 1));
    assert_eq!(
        row.multiplicity,
        F::ONE,
        "only signer 1's step uses the entry"
    );
    row.tweak.tweak = tweak;
    t.assert_caught_by(&[constraint(Instance::Table, TABLE_TWEAK_MIRRORS, entry)]);
}

#[test]
fn digit_sum_199_is_caught_by_the_target_sum_constraint() {
    let (keys, mut witnesses, _) = signers(TestSigner::new(13, &MESSAGE, EPOCH, 199));
    let steps = all_steps(&mut witnesses);
    Traces::build(&keys, &witnesses, &steps).assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_TARGET_SUM,
        block_row(1, BLOCK - 1),
    )]);
}

#[test]
fn digit_sum_201_is_caught_by_the_target_sum_constraint() {
    let (keys, mut witnesses, _) = signers(TestSigner::new(14, &MESSAGE, EPOCH, 201));
    let steps = all_steps(&mut witnesses);
    Traces::build(&keys, &witnesses, &steps).assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_TARGET_SUM,
        block_row(1, BLOCK - 1),
    )]);
}

#[test]
fn chain_start_not_matching_signature_is_caught_by_the_key_set_digest() {
    // The witness walks chain 5 from a start the key never committed to: its end, the leaf and
    // the root the block reaches change, and the digest absorbs that root.
    let (keys, mut witnesses, _) = honest_pair();
    witnesses[1].starts[5][0] += F::ONE;
    let steps = all_steps(&mut witnesses);
    Traces::build(&keys, &witnesses, &steps).assert_caught_by(&[constraint(
        Instance::Sig,
        SIG_KEY_DIGEST,
        last_row(2),
    )]);
}

// ---------------------------------------------------------------------------------------------
// The permutation table.

/// An idle row of signature block 1 (no constraint of the signature AIR reads its output).
const IDLE_ROW: usize = block_row(1, MSG_ROW + 3);

#[test]
fn signature_row_output_that_no_permutation_produced_is_caught_by_the_permutation_bus() {
    // Only the permutation bus can notice: the signature AIR's own constraints ignore this cell.
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    t.sig_mut(IDLE_ROW).output[0] += F::ONE;
    t.assert_caught_by(&[Check::Bus(PERM24_BUS)]);
}

#[test]
fn permutation_table_row_matching_a_forged_output_is_caught_by_the_poseidon_constraints() {
    // Both sides of the bus agree on the forged output, so only the Poseidon1 constraints of
    // the permutation table can notice.
    let (keys, mut witnesses, _) = honest_pair();
    let steps = all_steps(&mut witnesses);
    let mut t = Traces::build(&keys, &witnesses, &steps);
    t.sig_mut(IDLE_ROW).output[0] += F::ONE;
    let perm: &mut Cols24<F> = t.row_mut(Instance::Perm24, IDLE_ROW).borrow_mut();
    perm.ending_full_rounds.last_mut().unwrap().post[0] += F::ONE;
    t.assert_caught_by(&[constraint(Instance::Perm24, PERM24_PERM, IDLE_ROW)]);
}
