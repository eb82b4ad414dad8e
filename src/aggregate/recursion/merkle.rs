//! `MerklePathAir`: Merkle openings of the Poseidon1-24 commitment scheme, checked row by row on
//! the width-24 permutation bus. The first verifier AIR of recursive aggregation.
//!
//! An opening claims that a row of at most [`LEAF_RATE`] field elements (`values`) sits at
//! position `index` of a single-height Merkle tree with root `root`, as Plonky3 0.8's
//! `MerkleTreeMmcs` over Poseidon1-24 builds it (`fri::config`: leaf = the rate-15 sponge over
//! the row, node = Poseidon1-24 on `left | right | 0^6`, first 9 elements out; cap height 0).
//! Rows of at most 15 elements are hashed by one permutation of `values | 0^(24 - len)`; that is
//! all this AIR takes for now. Wider rows (a FRI commit-phase leaf at arity 8 holds 40 base
//! elements, a trace row hundreds) absorb 15 elements per permutation and carry the sponge's
//! capacity, `output[15..24]`, from one permutation to the next, which the permutation bus does
//! not carry yet (it sends `output[0..17]`, what the signature AIR reads).
//!
//! An opening takes `1 + depth` consecutive rows: its leaf row, then one node row per level.
//! Every row receives one permutation `(input, output[0..17])` from the permutation table
//! ([`crate::aggregate::air::perm::Perm24TableAir`], bus `"poseidon1-24"`), whose own
//! constraints prove `output = Poseidon1-24(input)`. This AIR's constraints fix each input:
//!
//! - leaf row: `input = values | 0^9`, `rem = index`, `level = 0`;
//! - node row: `input = (node | sibling | 0^6)` when `bit = 0`, `(sibling | node | 0^6)` when
//!   `bit = 1`, where `node` is the previous row's `output[0..9]`; `rem = 2 rem' + bit` with
//!   `rem'` the next row's (so the bits are `index`'s, least significant first);
//! - last row of an opening: `level = depth` and `rem = bit` (so `index < 2^depth`);
//! - `values` and `index` are copied down the opening's rows.
//!
//! The last row sends the claim `(values (15), index, root = output[0..9])` once on the claim bus
//! (`"merkle-opening"`); whoever needs the opening receives it there. A sibling, bit, value or
//! node other than the honest one changes the root reached (a Poseidon1-24 collision
//! otherwise), so the claim is not the one the receiver asks for.
//!
//! **Why a claim is an opening.** Take the row that sends a claim (`last = 1`, so `active = 1`
//! and `level = depth`). The row before it is active (an inactive row is followed only by
//! inactive ones) and not a last row (a last row is followed by a leaf row, whose level is 0,
//! not `depth > 0`), so the transition constraints tie the two: one level less, the same
//! `values` and `index`, this row's `node` the previous row's `output[0..9]`. Going back, no leaf
//! row can appear in between (a non-last row is followed by a non-leaf row), and the first
//! trace row is a leaf row if active, so the walk ends at a leaf row exactly `depth` rows up.
//! That row hashed `values` (zero past the AIR's row length); each row after it compressed the
//! digest so far with a sibling in the order its `bit` says, and the bits are those of `index`
//! (`rem` halves at each node row, starts at `index` and ends at the last bit), so `index <
//! 2^depth`. Every permutation is one the table proved. The root is therefore the root of a tree
//! holding `values` at `index`, unless Poseidon1-24 has a collision.
//!
//! Rows after the last opening are inactive (`active = 0`, all zero: they receive the
//! permutation of the zero state, which the table proves like any other).

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::PrimeCharacteristicRing;
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use crate::aggregate::air::perm::{PermFiller, PERM24_BUS_OUTPUTS, PERM24_COLS};
use crate::aggregate::air::PERM24_BUS;
use crate::aggregate::fri::config::{POSEIDON1_DIGEST_ELEMS, POSEIDON1_RATE};
use crate::xmss::F;

/// Bus of verified Merkle openings `(values (15, zero-padded), index, root (9))`.
pub const MERKLE_OPENING_BUS: &str = "merkle-opening";

/// Most elements a leaf row may hold here: the sponge's rate, so a leaf is one permutation.
pub const LEAF_RATE: usize = POSEIDON1_RATE;

const DIGEST: usize = POSEIDON1_DIGEST_ELEMS;

/// Width of a claim on [`MERKLE_OPENING_BUS`]: values, index, root.
pub const CLAIM_WIDTH: usize = LEAF_RATE + 1 + DIGEST;

/// The columns of one row (81), viewed with `row.borrow()` / `row.borrow_mut()`.
#[repr(C)]
pub struct MerklePathCols<T> {
    /// The permutation input this row receives.
    pub input: [T; 24],
    /// `Poseidon1-24(input)[0..17]`, received with `input`.
    pub output: [T; PERM24_BUS_OUTPUTS],
    /// 1 on the rows of an opening, 0 on the padding after the last one.
    pub active: T,
    /// 1 on an opening's first row (the leaf).
    pub leaf: T,
    /// 1 on an opening's last row (the level below the root).
    pub last: T,
    /// The index bit of this node row: 1 when the node is the right child.
    pub bit: T,
    /// 0 on the leaf row, then 1, 2, ..., `depth` on the node rows.
    pub level: T,
    /// The opened position, constant down the opening.
    pub index: T,
    /// The index bits not consumed yet: `index >> (level - 1)` on node rows, `index` on the leaf.
    pub rem: T,
    /// The opened row, zero-padded to 15, constant down the opening.
    pub values: [T; LEAF_RATE],
    /// The digest reached so far (node rows): the previous row's `output[0..9]`.
    pub node: [T; DIGEST],
    /// The Merkle sibling at this level (node rows).
    pub sibling: [T; DIGEST],
}

crate::aggregate::air::row_view!(MerklePathCols);

/// Width of [`MerklePathAir`].
pub const WIDTH: usize = core::mem::size_of::<MerklePathCols<u8>>();

/// One opening to check: `values` at `index` under `root`, with the siblings from the leaf's
/// level up (Plonky3's `MerkleTreeMmcs` proof order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleOpening {
    /// The opened row (at most [`LEAF_RATE`] elements, exactly the AIR's `leaf_len`).
    pub values: Vec<F>,
    /// The opened position, below `2^depth`.
    pub index: usize,
    /// One sibling digest per level, leaf level first (`depth` of them).
    pub siblings: Vec<[F; DIGEST]>,
}

/// The AIR checking openings of `leaf_len`-element rows in trees of `depth` levels.
#[derive(Clone, Debug)]
pub struct MerklePathAir {
    depth: usize,
    leaf_len: usize,
}

impl MerklePathAir {
    /// The AIR for trees of `2^depth` leaves of `leaf_len` elements each.
    ///
    /// # Panics
    /// If `depth` is 0 or `leaf_len` is 0 or above [`LEAF_RATE`].
    pub fn new(depth: usize, leaf_len: usize) -> Self {
        assert!(depth > 0 && (1..=LEAF_RATE).contains(&leaf_len));
        Self { depth, leaf_len }
    }

    /// Rows one opening takes: the leaf row and one row per level.
    pub fn rows_per_opening(&self) -> usize {
        1 + self.depth
    }

    /// The trace checking `openings` (padded to a power of two, at least `min_height` rows), the
    /// permutation table trace with one row per trace row (same order), and each opening's
    /// claim `(values, index, root)` as it goes on [`MERKLE_OPENING_BUS`].
    ///
    /// # Panics
    /// If an opening has another number of values or siblings than the AIR's shape, or an
    /// index of `depth` bits or more.
    pub fn generate_traces(
        &self,
        openings: &[MerkleOpening],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, RowMajorMatrix<F>, Vec<[F; CLAIM_WIDTH]>) {
        let used = openings.len() * self.rows_per_opening();
        let height = used.max(min_height).max(2).next_power_of_two();
        let mut values = F::zero_vec(height * WIDTH);
        let mut perm_values = F::zero_vec(height * PERM24_COLS);
        let filler = PermFiller::shared24();
        let mut claims = Vec::with_capacity(openings.len());
        let mut rows = values.chunks_exact_mut(WIDTH);
        let mut perm_rows = perm_values.chunks_exact_mut(PERM24_COLS);
        for o in openings {
            assert_eq!(o.values.len(), self.leaf_len, "leaf length");
            assert_eq!(o.siblings.len(), self.depth, "path length");
            assert!(o.index >> self.depth == 0, "index out of range");
            let mut padded = [F::ZERO; LEAF_RATE];
            padded[..self.leaf_len].copy_from_slice(&o.values);
            let index = F::from_usize(o.index);
            let mut node = [F::ZERO; DIGEST];
            for level in 0..=self.depth {
                let row: &mut MerklePathCols<F> = rows.next().expect("height").borrow_mut();
                row.active = F::ONE;
                row.level = F::from_usize(level);
                row.index = index;
                row.values = padded;
                let mut input = [F::ZERO; 24];
                if level == 0 {
                    row.leaf = F::ONE;
                    row.rem = index;
                    input[..LEAF_RATE].copy_from_slice(&padded);
                } else {
                    let bit = (o.index >> (level - 1)) & 1;
                    let sibling = o.siblings[level - 1];
                    row.bit = F::from_usize(bit);
                    row.rem = F::from_usize(o.index >> (level - 1));
                    row.node = node;
                    row.sibling = sibling;
                    let (l, r) = if bit == 0 {
                        (node, sibling)
                    } else {
                        (sibling, node)
                    };
                    input[..DIGEST].copy_from_slice(&l);
                    input[DIGEST..2 * DIGEST].copy_from_slice(&r);
                    row.last = F::from_bool(level == self.depth);
                }
                let out = filler.fill(perm_rows.next().expect("height"), input);
                row.input = input;
                row.output.copy_from_slice(&out[..PERM24_BUS_OUTPUTS]);
                node.copy_from_slice(&out[..DIGEST]);
            }
            let mut claim = [F::ZERO; CLAIM_WIDTH];
            claim[..LEAF_RATE].copy_from_slice(&padded);
            claim[LEAF_RATE] = index;
            claim[LEAF_RATE + 1..].copy_from_slice(&node);
            claims.push(claim);
        }
        // Padding rows: all zero, each receiving the permutation of the zero state.
        for (row, perm_row) in rows.zip(perm_rows) {
            let out = filler.fill(perm_row, [F::ZERO; 24]);
            let row: &mut MerklePathCols<F> = row.borrow_mut();
            row.output.copy_from_slice(&out[..PERM24_BUS_OUTPUTS]);
        }
        (
            RowMajorMatrix::new(values, WIDTH),
            RowMajorMatrix::new(perm_values, PERM24_COLS),
            claims,
        )
    }
}

impl BaseAir<F> for MerklePathAir {
    fn width(&self) -> usize {
        WIDTH
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(3)
    }
}

impl<AB> Air<AB> for MerklePathAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &MerklePathCols<AB::Var> = main.current_slice().borrow();
        let next: &MerklePathCols<AB::Var> = main.next_slice().borrow();
        let one = AB::Expr::ONE;
        let active: AB::Expr = row.active.into();
        let leaf: AB::Expr = row.leaf.into();
        let last: AB::Expr = row.last.into();
        let bit: AB::Expr = row.bit.into();

        for b in [row.active, row.leaf, row.last, row.bit] {
            builder.assert_bool(b);
        }
        builder.assert_zero(leaf.clone() * (one.clone() - active.clone()));
        builder.assert_zero(last.clone() * (one.clone() - active.clone()));
        builder.assert_zero(leaf.clone() * bit.clone());

        // The permutation input.
        for i in 0..LEAF_RATE {
            builder.assert_zero(leaf.clone() * (row.input[i] - row.values[i]));
        }
        for i in LEAF_RATE..2 * DIGEST {
            builder.assert_zero(leaf.clone() * row.input[i]);
        }
        for i in 2 * DIGEST..24 {
            builder.assert_zero(row.input[i]);
        }
        for j in 0..DIGEST {
            let swap = bit.clone() * (row.sibling[j] - row.node[j]);
            let left = row.node[j] + swap.clone();
            let right = row.sibling[j] - swap;
            let not_leaf = one.clone() - leaf.clone();
            builder.assert_zero(not_leaf.clone() * (row.input[j] - left));
            builder.assert_zero(not_leaf * (row.input[DIGEST + j] - right));
        }
        for i in self.leaf_len..LEAF_RATE {
            builder.assert_zero(row.values[i]);
        }

        // An opening's first and last rows.
        builder.assert_zero(leaf.clone() * row.level);
        builder.assert_zero(leaf.clone() * (row.rem - row.index));
        builder.assert_zero(last.clone() * (row.level - AB::Expr::from_usize(self.depth)));
        builder.assert_zero(last.clone() * (row.rem - bit.clone()));
        builder.when_first_row().assert_eq(row.leaf, row.active);
        // Every opening ends before the trace does.
        builder
            .when_last_row()
            .assert_zero(active.clone() - last.clone());

        // Down an opening (`cont`: an active row that is not its opening's last).
        let cont = active.clone() - last.clone();
        let mut t = builder.when_transition();
        t.assert_zero(cont.clone() * (next.active - one.clone()));
        t.assert_zero(cont.clone() * next.leaf);
        t.assert_zero(cont.clone() * (next.level - row.level - one.clone()));
        t.assert_zero(cont.clone() * (next.index - row.index));
        for i in 0..LEAF_RATE {
            t.assert_zero(cont.clone() * (next.values[i] - row.values[i]));
        }
        for j in 0..DIGEST {
            t.assert_zero(cont.clone() * (next.node[j] - row.output[j]));
        }
        // rem = rem' on the leaf row, 2 rem' + bit on node rows.
        let two_minus_leaf = AB::Expr::TWO - leaf.clone();
        t.assert_zero(cont * (row.rem - next.rem * two_minus_leaf - (one.clone() - leaf) * bit));
        // After an opening: the next one's leaf row, or padding to the end.
        t.assert_zero(last * next.active * (one.clone() - next.leaf));
        t.assert_zero((one - active) * next.active);

        let message: Vec<AB::Expr> = row
            .input
            .iter()
            .chain(&row.output)
            .map(|&v| v.into())
            .collect();
        PermutationCheckBus::new(PERM24_BUS).receive(builder, message, 1);
        let claim: Vec<AB::Expr> = row
            .values
            .iter()
            .chain(core::iter::once(&row.index))
            .chain(&row.output[..DIGEST])
            .map(|&v| v.into())
            .collect();
        PermutationCheckBus::new(MERKLE_OPENING_BUS).send(
            builder,
            claim,
            Count::bounded(row.last.into(), 1),
        );
    }
}

#[cfg(test)]
mod tests {
    //! Real openings of Plonky3's Poseidon1-24 `MerkleTreeMmcs` checked through the AIR, and each
    //! forgery caught by the constraint or bus that should catch it (`check_all_constraints`,
    //! `check_lookups`), then by the FRI verifier on a proof of the forged traces.

    use std::borrow::Cow;
    use std::collections::BTreeSet;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use p3_batch_stark::{
        prove_batch, verify_batch, CommonData, ProverData, ProverOnlyData, StarkInstance,
    };
    use p3_commit::Mmcs;
    use p3_lookup::debug_util::{check_lookups, LookupDebugInstance};
    use p3_lookup::{Kind, LogUpGadget, Lookups};
    use p3_matrix::dense::RowMajorMatrix;
    use p3_matrix::Matrix;

    use super::*;
    use crate::aggregate::air::perm::Perm24TableAir;
    use crate::aggregate::field::Challenge;
    use crate::aggregate::fri::config::{stark_config, FriHash, Poseidon1};
    use crate::aggregate::preset::Preset;

    /// The verifier-known claims the test asks for, as periodic columns (period = height), with
    /// committed mirrors (p3-lookup reads no periodic column in a message).
    #[derive(Clone)]
    struct ClaimsAir {
        periodic: Vec<Vec<F>>,
    }

    impl ClaimsAir {
        /// Rows: `claims` then zero rows with `present = 0`.
        fn new(claims: &[[F; CLAIM_WIDTH]], height: usize) -> Self {
            let mut periodic = vec![vec![F::ZERO; height]; CLAIM_WIDTH + 1];
            for (r, c) in claims.iter().enumerate() {
                for (i, &v) in c.iter().enumerate() {
                    periodic[i][r] = v;
                }
                periodic[CLAIM_WIDTH][r] = F::ONE;
            }
            Self { periodic }
        }
        fn trace(&self) -> RowMajorMatrix<F> {
            let h = self.periodic[0].len();
            let mut v = F::zero_vec(h * (CLAIM_WIDTH + 1));
            for (r, row) in v.chunks_exact_mut(CLAIM_WIDTH + 1).enumerate() {
                for (c, x) in row.iter_mut().enumerate() {
                    *x = self.periodic[c][r];
                }
            }
            RowMajorMatrix::new(v, CLAIM_WIDTH + 1)
        }
    }

    impl BaseAir<F> for ClaimsAir {
        fn width(&self) -> usize {
            CLAIM_WIDTH + 1
        }
        fn num_periodic_columns(&self) -> usize {
            CLAIM_WIDTH + 1
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

    impl<AB: AirBuilder<F = F> + InteractionBuilder> Air<AB> for ClaimsAir {
        fn eval(&self, builder: &mut AB) {
            let main = builder.main();
            let row: Vec<AB::Var> = main.current_slice().to_vec();
            let per = crate::aggregate::air::periodic_exprs(builder);
            for (c, p) in row.iter().zip(per) {
                builder.assert_eq(*c, p);
            }
            PermutationCheckBus::new(MERKLE_OPENING_BUS).receive(
                builder,
                row[..CLAIM_WIDTH].to_vec(),
                Count::bounded(row[CLAIM_WIDTH].into(), 1),
            );
        }
    }

    /// The three AIRs of the test batch.
    #[derive(Clone)]
    enum TestAir {
        Merkle(MerklePathAir),
        Perm(Perm24TableAir),
        Claims(ClaimsAir),
    }

    macro_rules! dispatch {
        ($self:expr, $a:ident => $e:expr) => {
            match $self {
                TestAir::Merkle($a) => $e,
                TestAir::Perm($a) => $e,
                TestAir::Claims($a) => $e,
            }
        };
    }

    impl BaseAir<F> for TestAir {
        fn width(&self) -> usize {
            dispatch!(self, a => BaseAir::<F>::width(a))
        }
        fn num_periodic_columns(&self) -> usize {
            dispatch!(self, a => BaseAir::<F>::num_periodic_columns(a))
        }
        fn periodic_columns(&self) -> Cow<'_, [Vec<F>]> {
            dispatch!(self, a => BaseAir::<F>::periodic_columns(a))
        }
        fn main_next_row_columns(&self) -> Vec<usize> {
            dispatch!(self, a => BaseAir::<F>::main_next_row_columns(a))
        }
        fn max_constraint_degree(&self) -> Option<usize> {
            dispatch!(self, a => BaseAir::<F>::max_constraint_degree(a))
        }
    }

    impl<AB: AirBuilder<F = F> + InteractionBuilder> Air<AB> for TestAir {
        fn eval(&self, builder: &mut AB) {
            dispatch!(self, a => a.eval(builder))
        }
    }

    const DEPTH: usize = 6;
    /// The default FRI preset's smallest trace (its final polynomial and blowup).
    const MIN_HEIGHT: usize = 128;
    const LEAF_LEN: usize = 10;

    /// A Poseidon1-24 tree over a pseudo-random `2^DEPTH x LEAF_LEN` matrix and real openings at
    /// `indices`, checked by Plonky3's own verifier first.
    fn real_openings(indices: &[usize]) -> Vec<(MerkleOpening, [F; DIGEST])> {
        let mmcs = Poseidon1::mmcs(0);
        let values: Vec<F> = (0..(1u32 << DEPTH) * LEAF_LEN as u32)
            .map(|i| F::from_u32(i.wrapping_mul(0x9e37_79b9) >> 1))
            .collect();
        let matrix = RowMajorMatrix::new(values, LEAF_LEN);
        let (cap, data) = mmcs.commit_matrix(matrix);
        let root = cap.roots()[0];
        indices
            .iter()
            .map(|&index| {
                let opening = mmcs.open_batch(index, &data);
                let dims = [p3_matrix::Dimensions {
                    width: LEAF_LEN,
                    height: 1 << DEPTH,
                }];
                mmcs.verify_batch(&cap, &dims, index, (&opening).into())
                    .expect("Plonky3 verifies its own opening");
                let (rows, path) = opening.unpack();
                (
                    MerkleOpening {
                        values: rows[0].clone(),
                        index,
                        siblings: path,
                    },
                    root,
                )
            })
            .collect()
    }

    /// What a check failed: an AIR's constraint (instance, constraint index) or a bus.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Failed {
        Constraint(usize, usize),
        Bus(&'static str),
    }

    struct Batch {
        airs: Vec<TestAir>,
        traces: Vec<RowMajorMatrix<F>>,
    }

    /// The batch asking for `claims`, with the AIR's traces of `openings` edited by `edit`
    /// (which sees the Merkle trace and the permutation table) before the claims are read.
    fn batch(
        openings: &[MerkleOpening],
        claims: &[[F; CLAIM_WIDTH]],
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> Batch {
        let air = MerklePathAir::new(DEPTH, LEAF_LEN);
        let (mut merkle, mut perm, _) = air.generate_traces(openings, MIN_HEIGHT);
        edit(&mut merkle, &mut perm);
        let claims_air = ClaimsAir::new(claims, MIN_HEIGHT);
        let claims_trace = claims_air.trace();
        Batch {
            airs: vec![
                TestAir::Merkle(air),
                TestAir::Perm(Perm24TableAir::new()),
                TestAir::Claims(claims_air),
            ],
            traces: vec![merkle, perm, claims_trace],
        }
    }

    impl Batch {
        fn failed(&self) -> BTreeSet<Failed> {
            let mut failed = BTreeSet::new();
            for (i, (air, trace)) in self.airs.iter().zip(&self.traces).enumerate() {
                let report = p3_air::check_all_constraints(air, trace, &[], None);
                for f in report.failures {
                    failed.insert(Failed::Constraint(i, f.constraint));
                }
            }
            let lookups: Vec<Lookups<F>> = self
                .airs
                .iter()
                .map(Lookups::<F>::from_air::<Challenge, _>)
                .collect();
            for bus in [PERM24_BUS, MERKLE_OPENING_BUS] {
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
                    .map(|(trace, lookups)| LookupDebugInstance {
                        main_trace: trace,
                        preprocessed_trace: &none,
                        public_values: &[],
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

        /// Proves the batch with the default FRI preset (no prover-side checks in release) and
        /// verifies it.
        fn prove_and_verify(&self) -> Result<(), String> {
            let Preset::Fri(preset) = Preset::default_preset() else {
                unreachable!("the default preset is FRI")
            };
            let config = stark_config(&preset);
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
            let common = CommonData::new(None, lookups);
            let refs: Vec<&RowMajorMatrix<F>> = self.traces.iter().collect();
            let pvs = vec![Vec::new(); self.airs.len()];
            let instances = StarkInstance::new_multiple(&self.airs, &refs, &pvs);
            let data = ProverData {
                common,
                prover_only: ProverOnlyData::empty(),
            };
            let proof = catch_unwind(AssertUnwindSafe(|| prove_batch(&config, &instances, &data)))
                .map_err(|_| "prover panicked".to_string())?
                .map_err(|e| format!("{e:?}"))?;
            verify_batch(&config, &self.airs, &proof, &pvs, &data.common)
                .map_err(|e| format!("{e:?}"))
        }
    }

    fn claim_of(o: &MerkleOpening, root: &[F; DIGEST]) -> [F; CLAIM_WIDTH] {
        let mut c = [F::ZERO; CLAIM_WIDTH];
        c[..o.values.len()].copy_from_slice(&o.values);
        c[LEAF_RATE] = F::from_usize(o.index);
        c[LEAF_RATE + 1..].copy_from_slice(root);
        c
    }

    fn honest(indices: &[usize]) -> (Vec<MerkleOpening>, Vec<[F; CLAIM_WIDTH]>) {
        let real = real_openings(indices);
        let claims = real.iter().map(|(o, r)| claim_of(o, r)).collect();
        (real.into_iter().map(|(o, _)| o).collect(), claims)
    }

    const INDICES: [usize; 3] = [0, 37, 63];

    #[test]
    fn real_openings_pass_every_check_and_prove() {
        let (openings, claims) = honest(&INDICES);
        let air = MerklePathAir::new(DEPTH, LEAF_LEN);
        // The AIR's own claims are Plonky3's roots.
        assert_eq!(air.generate_traces(&openings, MIN_HEIGHT).2, claims);
        let b = batch(&openings, &claims, |_, _| {});
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
    }

    /// The failures of the batch whose openings were changed by `forge` (then traced honestly)
    /// while the claims stay the real ones.
    fn forged_openings(forge: impl FnOnce(&mut Vec<MerkleOpening>)) -> BTreeSet<Failed> {
        let (mut openings, claims) = honest(&INDICES);
        forge(&mut openings);
        batch(&openings, &claims, |_, _| {}).failed()
    }

    const CLAIM_BUS: Failed = Failed::Bus(MERKLE_OPENING_BUS);

    #[test]
    fn a_wrong_sibling_value_or_index_reaches_another_root() {
        // Each forged opening is traced honestly: every constraint and the permutation bus
        // hold, and only the claim the verifier asked for is missing.
        let only_claim = BTreeSet::from([CLAIM_BUS]);
        assert_eq!(
            forged_openings(|o| o[1].siblings[3][4] += F::ONE),
            only_claim
        );
        assert_eq!(forged_openings(|o| o[2].values[9] += F::ONE), only_claim);
        assert_eq!(forged_openings(|o| o[1].index ^= 1 << 2), only_claim);
        // The right sibling list for another leaf.
        let other = real_openings(&[36]).remove(0).0;
        assert_eq!(
            forged_openings(|o| o[1].siblings = other.siblings.clone()),
            only_claim
        );
    }

    /// Failures of the honest batch after `edit` changed its traces directly.
    fn edited(
        edit: impl FnOnce(&mut RowMajorMatrix<F>, &mut RowMajorMatrix<F>),
    ) -> BTreeSet<Failed> {
        let (openings, claims) = honest(&INDICES);
        batch(&openings, &claims, edit).failed()
    }

    fn row_of(m: &mut RowMajorMatrix<F>, r: usize) -> &mut MerklePathCols<F> {
        m.values[r * WIDTH..(r + 1) * WIDTH].borrow_mut()
    }

    /// Whether a constraint of the Merkle AIR (instance 0) failed.
    fn has_constraint_failure(f: &BTreeSet<Failed>) -> bool {
        f.iter().any(|x| matches!(x, Failed::Constraint(0, _)))
    }

    #[test]
    fn a_node_not_carried_from_the_row_below_fails_the_transition() {
        // Opening 0's level-3 node row takes another node, with the permutation of the input
        // it then selects (so the permutation bus still balances) and the rows above left
        // honest (so the root and the claim are the real ones): only the carry constraints
        // into and out of that row can tell.
        let f = edited(|m, p| {
            let r = 3;
            let row = row_of(m, r);
            row.node[0] += F::ONE;
            let (l, rr) = if row.bit == F::ZERO {
                (row.node, row.sibling)
            } else {
                (row.sibling, row.node)
            };
            let mut input = [F::ZERO; 24];
            input[..DIGEST].copy_from_slice(&l);
            input[DIGEST..2 * DIGEST].copy_from_slice(&rr);
            row.input = input;
            let out = PermFiller::shared24()
                .fill(&mut p.values[r * PERM24_COLS..(r + 1) * PERM24_COLS], input);
            row.output.copy_from_slice(&out[..PERM24_BUS_OUTPUTS]);
        });
        assert!(has_constraint_failure(&f), "{f:?}");
        assert!(
            f.iter().all(|x| matches!(x, Failed::Constraint(0, _))),
            "{f:?}"
        );
    }

    #[test]
    fn an_output_the_permutation_did_not_produce_fails_the_permutation_bus() {
        // The last row of opening 0 claims the honest root as its output while its input is
        // another: only the permutation bus can tell.
        let f = edited(|m, _| {
            let row = row_of(m, DEPTH);
            row.sibling[0] += F::ONE;
            let swap = row.bit == F::ONE;
            let (l, r) = if swap {
                (row.sibling, row.node)
            } else {
                (row.node, row.sibling)
            };
            row.input[..DIGEST].copy_from_slice(&l);
            row.input[DIGEST..2 * DIGEST].copy_from_slice(&r);
        });
        assert_eq!(f, BTreeSet::from([Failed::Bus(PERM24_BUS)]));
    }

    #[test]
    fn a_short_path_or_a_wrong_bit_fails_a_constraint() {
        // Opening 0 ends one level early.
        let f = edited(|m, _| {
            row_of(m, DEPTH - 1).last = F::ONE;
        });
        assert!(has_constraint_failure(&f), "{f:?}");
        // A bit flipped without changing the input it selects.
        let f = edited(|m, _| {
            let row = row_of(m, 2);
            row.bit = F::ONE - row.bit;
        });
        assert!(has_constraint_failure(&f), "{f:?}");
        // A leaf row whose input is not its values.
        let f = edited(|m, _| {
            row_of(m, 0).input[0] += F::ONE;
        });
        assert!(has_constraint_failure(&f), "{f:?}");
        // A leaf absorbing a nonzero element past the row's length.
        let f = edited(|m, _| {
            for r in 0..=DEPTH {
                row_of(m, r).values[LEAF_LEN] = F::ONE;
            }
        });
        assert!(has_constraint_failure(&f), "{f:?}");
    }

    #[test]
    fn forged_traces_do_not_verify() {
        // A wrong sibling: every constraint holds, the LogUp sum does not.
        let (mut openings, claims) = honest(&INDICES);
        openings[0].siblings[5][8] += F::ONE;
        let b = batch(&openings, &claims, |_, _| {});
        assert_eq!(
            b.prove_and_verify().unwrap_err(),
            "Lookup(TerminalSumNonZero)"
        );
        // A short path: the Merkle AIR's constraints do not match its quotient at zeta.
        let b = batch(&honest(&INDICES).0, &claims, |m, _| {
            row_of(m, DEPTH - 1).last = F::ONE;
        });
        assert_eq!(
            b.prove_and_verify().unwrap_err(),
            "Verification(OodEvaluationMismatch { index: Some(0) })"
        );
    }

    #[test]
    fn padding_rows_receive_real_permutations() {
        let (openings, _) = honest(&[5]);
        let air = MerklePathAir::new(DEPTH, LEAF_LEN);
        let (m, p, _) = air.generate_traces(&openings, 8);
        assert_eq!(m.height(), 8);
        assert_eq!(p.height(), 8);
        let pad: &MerklePathCols<F> = m.values[7 * WIDTH..].borrow();
        assert_eq!(pad.active, F::ZERO);
        let mut zero_out = [F::ZERO; 24];
        crate::xmss::poseidon::permute_24(&mut zero_out);
        assert_eq!(pad.output[..], zero_out[..PERM24_BUS_OUTPUTS]);
    }
}
