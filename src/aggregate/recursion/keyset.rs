//! `KeySetAir`: the parent's key set as the union of its sources' key sets, and each child's
//! key-set digest recomputed from its keys.
//!
//! A proof's statement names its signers by their key-set digest
//! (`crate::aggregate::statement::key_set_digest_ordered`: a Merkle-Damgard chain of
//! width-24 Poseidon1 compressions over the keys, from an initial value holding their count).
//! A parent over children must show, without the children's keys ever reaching its verifier:
//! 1. each child's digest and count (its public values, which the child's transcript observes)
//!    are those of some list of keys;
//! 2. every key of every child's list is in the parent's set;
//! 3. every key of the parent's set is in some child's list (no key signs by being named);
//! 4. the parent's set has the digest and count of the parent's statement.
//!
//! **Rows.** One row per key of a list, each list a *segment* of consecutive rows: first the
//! parent's set (in its statement's order, [`crate::canonical_key_order`]), then one segment per
//! child (in its statement's order), then padding rows. Every row takes one compression step:
//! its `input` is `[chain (9) | root (8) | parameter (5) | 0 | 0]`
//! (`crate::aggregate::statement::key_layout`) and its `output` the permutation of it, received
//! from the full-output permutation table (`"poseidon1-24-full"`) on every key's row (count
//! `parent + child`). A padding row receives none: its output is unconstrained and reaches
//! nothing, since every constraint that reads an output is on a key's row (`within`, the
//! parent's last row) and a padding row sends and receives nothing.
//! The chain runs down a segment: its first row starts from the initial value
//! `[KEY_SET_DOMAIN, count, 0, ...]`, each next row's chain is `output[0..9] + input[0..9]` (the
//! compression's feed-forward), and its last row has `index + 1 = count`.
//!
//! **Buses.**
//! - `"key-set"` (`(root, parameter)`, 13 elements): a child's row sends its key once; a parent's
//!   row receives its key `uses` times, `uses` nonzero (its inverse is a column). The bus balances
//!   only if every child key is a parent key (2) and, the parent's keys being distinct (the
//!   verifier hashed a set), a parent key's `uses` is the number of child rows holding it, so at
//!   least one (3). A child may list a key twice, or two children one key: the parent's `uses`
//!   count them.
//! - `"child-statement"` (`(transcript, slot, value)`): a child's last row receives its final
//!   chain value in slots `0..9` and its count in slot 9 ([`COUNT_SLOT`]), keyed by the child's
//!   transcript; [`super::observed::ObservedAir`] sends them from the child's public values, where
//!   its transcript observes them (1). Each child's values are sent once, so each child has
//!   exactly one segment.
//!
//! **Public values**: the parent's statement
//! (`crate::aggregate::statement::statement_values`); the parent segment's last row holds its
//! count to `N` and its final chain value to the key-set digest (4). The parent's segment is the
//! trace's first; every later segment is a child's, and the trace's last row ends a segment or
//! pads, so the parent's segment exists and ends.

use std::borrow::{Borrow, BorrowMut};

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_field::{Field, PrimeCharacteristicRing};
use p3_lookup::{Count, InteractionBuilder, PermutationCheckBus};
use p3_matrix::dense::RowMajorMatrix;

use crate::aggregate::air::perm::{PermFiller, PERM24_COLS, SHARED24_COLS as TABLE_WIDTH};
use crate::aggregate::statement::{
    key_absorption_input, key_layout, key_set_iv_expr, KEY_DIGEST_LEN, NUM_STATEMENT_VALUES,
    PV_KEY_DIGEST, PV_NUM_KEYS,
};
use crate::xmss::constants::{HASH_LEN_FE, PARAMETER_LEN};
use crate::xmss::{PublicKey, F};

/// Bus of the keys children send to the parent's set: `(root (8), parameter (5))`.
pub const KEY_SET_BUS: &str = "key-set";

/// Bus of a child's statement values, `(transcript, slot, value)`: slots `0..9` the key-set
/// digest, slot [`COUNT_SLOT`] the number of keys.
pub const CHILD_STATEMENT_BUS: &str = "child-statement";

/// The slot of a child's number of keys on [`CHILD_STATEMENT_BUS`].
pub const COUNT_SLOT: usize = KEY_DIGEST_LEN;

/// The columns of one row.
#[repr(C)]
pub struct KeySetCols<T> {
    /// The child's transcript (a child's rows; 0 in the parent's and padding rows).
    pub list: T,
    /// 1 on the parent's rows.
    pub parent: T,
    /// 1 on a child's rows.
    pub child: T,
    /// 1 on a segment's first row.
    pub first: T,
    /// 1 on a segment's last row.
    pub last: T,
    /// `child * last`: the row that receives a child's statement.
    pub ends: T,
    /// The segment's number of keys, the same down the segment.
    pub count: T,
    /// The key's index in its segment.
    pub index: T,
    /// On a parent's row: how many child rows hold its key (nonzero); 0 elsewhere.
    pub uses: T,
    /// `1 / uses` on a parent's row.
    pub uses_inv: T,
    /// The compression's input: chain so far, root, parameter, two zeros.
    pub input: [T; 24],
    /// The permutation of `input`.
    pub output: [T; 24],
}

crate::aggregate::air::row_view!(KeySetCols);

/// Width of [`KeySetAir`].
pub const WIDTH: usize = core::mem::size_of::<KeySetCols<u8>>();

/// The AIR of the parent's key set and its children's key lists (module documentation).
#[derive(Clone, Debug, Default)]
pub struct KeySetAir;

/// One child's key list: its transcript and keys, in its statement's order.
#[derive(Clone, Debug)]
pub struct ChildKeys {
    /// The child's transcript number, the key of its statement on [`CHILD_STATEMENT_BUS`].
    pub transcript: usize,
    /// The child's keys, in its statement's order (the order its key-set digest chains them).
    pub keys: Vec<PublicKey>,
}

impl KeySetAir {
    /// The trace of the parent's set `parent` and the children's lists, with padding rows up
    /// to a power of two and at least `min_height` rows, and the shared permutation table's
    /// rows, one per row, counted 1 on a key's row and 0 on padding (`SHARED24_COLS` columns,
    /// count last, what `crate::aggregate::air::perm::shared_table` reads). A parent key no
    /// child holds gets `uses = 0`, which fails the AIR's constraints: callers check the sets
    /// first.
    ///
    /// # Panics
    /// If `parent` is empty (a statement has at least one key).
    pub fn generate_trace(
        &self,
        parent: &[PublicKey],
        children: &[ChildKeys],
        min_height: usize,
    ) -> (RowMajorMatrix<F>, RowMajorMatrix<F>) {
        assert!(!parent.is_empty(), "a parent set has a key");
        let rows = parent.len() + children.iter().map(|c| c.keys.len()).sum::<usize>();
        let height = rows.max(min_height).max(2).next_power_of_two();
        let mut values = F::zero_vec(height * WIDTH);
        let mut perm = F::zero_vec(height * TABLE_WIDTH);
        let filler = PermFiller::shared24();
        let mut uses = std::collections::HashMap::<PublicKey, u32>::new();
        for k in children.iter().flat_map(|c| &c.keys) {
            *uses.entry(*k).or_default() += 1;
        }
        let segments = std::iter::once((None, parent)).chain(
            children
                .iter()
                .map(|c| (Some(c.transcript), c.keys.as_slice())),
        );
        let mut r = 0;
        for (transcript, keys) in segments {
            let mut chain = crate::aggregate::statement::key_set_iv(keys.len());
            for (i, k) in keys.iter().enumerate() {
                let row: &mut KeySetCols<F> = values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
                row.list = F::from_usize(transcript.unwrap_or(0));
                row.parent = F::from_bool(transcript.is_none());
                row.child = F::from_bool(transcript.is_some());
                row.first = F::from_bool(i == 0);
                row.last = F::from_bool(i + 1 == keys.len());
                row.ends = row.child * row.last;
                row.count = F::from_usize(keys.len());
                row.index = F::from_usize(i);
                if transcript.is_none() {
                    row.uses = F::from_u32(uses.get(k).copied().unwrap_or(0));
                    row.uses_inv = row.uses.try_inverse().unwrap_or(F::ZERO);
                }
                row.input = key_absorption_input(&chain, &k.root, &k.parameter);
                row.output = filler.fill(
                    &mut perm[r * TABLE_WIDTH..r * TABLE_WIDTH + PERM24_COLS],
                    row.input,
                );
                perm[r * TABLE_WIDTH + PERM24_COLS] = F::ONE;
                chain = core::array::from_fn(|j| row.output[j] + row.input[j]);
                r += 1;
            }
        }
        // Padding rows: the all-zero input's permutation, computed once.
        if rows < height {
            let mut zero = F::zero_vec(PERM24_COLS);
            let output = filler.fill(&mut zero, [F::ZERO; 24]);
            for r in rows..height {
                let row: &mut KeySetCols<F> = values[r * WIDTH..(r + 1) * WIDTH].borrow_mut();
                row.output = output;
                perm[r * TABLE_WIDTH..r * TABLE_WIDTH + PERM24_COLS].copy_from_slice(&zero);
            }
        }
        (
            RowMajorMatrix::new(values, WIDTH),
            RowMajorMatrix::new(perm, TABLE_WIDTH),
        )
    }
}

impl BaseAir<F> for KeySetAir {
    fn width(&self) -> usize {
        WIDTH
    }
    fn num_public_values(&self) -> usize {
        NUM_STATEMENT_VALUES
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(3)
    }
}

impl<AB> Air<AB> for KeySetAir
where
    AB: AirBuilder<F = F> + InteractionBuilder,
{
    fn eval(&self, builder: &mut AB) {
        let main = builder.main();
        let row: &KeySetCols<AB::Var> = main.current_slice().borrow();
        let next: &KeySetCols<AB::Var> = main.next_slice().borrow();
        let e = |v: AB::Var| -> AB::Expr { v.into() };
        let pv: Vec<AB::Expr> = builder.public_values().iter().map(|&v| v.into()).collect();
        let active = e(row.parent) + e(row.child);
        let next_active = e(next.parent) + e(next.child);
        let chain_out: Vec<AB::Expr> = (0..KEY_DIGEST_LEN)
            .map(|j| e(row.output[j]) + e(row.input[key_layout::DIGEST + j]))
            .collect();

        for b in [row.parent, row.child, row.first, row.last] {
            builder.assert_bool(b);
        }
        builder.assert_bool(active.clone());
        builder.assert_zero((AB::Expr::ONE - active.clone()) * (e(row.first) + e(row.last)));
        builder.assert_eq(row.ends, e(row.child) * e(row.last));
        builder.assert_zero(e(row.parent) * (e(row.uses) * e(row.uses_inv) - AB::Expr::ONE));
        builder.assert_zero((AB::Expr::ONE - e(row.parent)) * e(row.uses));
        for z in key_layout::ZERO..24 {
            builder.assert_zero(active.clone() * e(row.input[z]));
        }

        // A segment starts from the initial value and ends at its count.
        let iv = key_set_iv_expr(e(row.count));
        for (j, iv) in iv.into_iter().enumerate() {
            builder.assert_zero(e(row.first) * (e(row.input[key_layout::DIGEST + j]) - iv));
        }
        builder.assert_zero(e(row.first) * e(row.index));
        builder.assert_zero(e(row.last) * (e(row.index) + AB::Expr::ONE - e(row.count)));

        // The parent's segment comes first; it holds the statement's count and digest.
        let mut f = builder.when_first_row();
        f.assert_one(row.parent);
        f.assert_one(row.first);
        let parent_last = e(row.parent) * e(row.last);
        builder.assert_zero(parent_last.clone() * (e(row.count) - pv[PV_NUM_KEYS].clone()));
        for (j, out) in chain_out.iter().enumerate() {
            builder
                .assert_zero(parent_last.clone() * (out.clone() - pv[PV_KEY_DIGEST + j].clone()));
        }

        // Down a segment: the same list, kind and count, the next index, the chain carried.
        let within = active.clone() * (AB::Expr::ONE - e(row.last));
        let mut t = builder.when_transition();
        t.assert_zero(within.clone() * (next_active.clone() - AB::Expr::ONE));
        t.assert_zero(within.clone() * e(next.first));
        t.assert_zero(within.clone() * (e(next.list) - e(row.list)));
        t.assert_zero(within.clone() * (e(next.parent) - e(row.parent)));
        t.assert_zero(within.clone() * (e(next.count) - e(row.count)));
        t.assert_zero(within.clone() * (e(next.index) - e(row.index) - AB::Expr::ONE));
        for (j, out) in chain_out.iter().enumerate() {
            t.assert_zero(within.clone() * (e(next.input[key_layout::DIGEST + j]) - out.clone()));
        }
        // After a segment: a child's segment starts, or padding; padding stays padding.
        t.assert_zero(e(row.last) * (e(next.first) - next_active.clone()));
        t.assert_zero(e(row.last) * e(next.parent));
        t.assert_zero((AB::Expr::ONE - active.clone()) * next_active);
        // The trace ends a segment or pads.
        builder
            .when_last_row()
            .assert_zero(active.clone() * (AB::Expr::ONE - e(row.last)));

        // The permutation of every key row's input.
        super::receive_permutation_counted(builder, &row.input, &row.output, active);

        // A child's key to the parent's set; the parent's key from its `uses` sources.
        let key: Vec<AB::Expr> = (key_layout::ROOT..key_layout::ROOT + HASH_LEN_FE + PARAMETER_LEN)
            .map(|c| e(row.input[c]))
            .collect();
        PermutationCheckBus::new(KEY_SET_BUS).send(
            builder,
            key.clone(),
            Count::bounded(e(row.child), 1),
        );
        PermutationCheckBus::new(KEY_SET_BUS).receive(builder, key, Count::provided(e(row.uses)));

        // A child's statement, from its public values.
        for (slot, value) in chain_out
            .into_iter()
            .chain(std::iter::once(e(row.count)))
            .enumerate()
        {
            PermutationCheckBus::new(CHILD_STATEMENT_BUS).receive(
                builder,
                [e(row.list), AB::Expr::from_usize(slot), value],
                Count::bounded(e(row.ends), 1),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use p3_matrix::Matrix;

    use super::*;
    use crate::aggregate::air::perm::Perm24TableAir;
    use crate::aggregate::air::PERM24_FULL_BUS;
    use crate::aggregate::recursion::harness::{
        only_constraints, Batch, Failed, KnownAir, TestAir, MIN_HEIGHT,
    };
    use crate::aggregate::statement::{key_set_digest_ordered, statement_values};
    use crate::aggregate::{canonical_key_order, key_set_digest};

    /// A distinct key per `i` (the AIR hashes keys; it never reads a signature).
    fn key(i: u32) -> PublicKey {
        PublicKey {
            root: core::array::from_fn(|j| F::from_u32(i * 131 + j as u32 + 1)),
            parameter: core::array::from_fn(|j| F::from_u32(i * 17 + 1000 + j as u32)),
        }
    }

    fn keys(ids: &[u32]) -> Vec<PublicKey> {
        canonical_key_order(&ids.iter().map(|&i| key(i)).collect::<Vec<_>>()).expect("distinct")
    }

    /// What `ObservedAir` sends for a child: its digest and count, by slot.
    fn child_statement(transcript: usize, keys: &[PublicKey]) -> Vec<Vec<F>> {
        let digest = key_set_digest_ordered(keys);
        let t = F::from_usize(transcript);
        let mut v: Vec<Vec<F>> = digest
            .iter()
            .enumerate()
            .map(|(slot, &d)| vec![t, F::from_usize(slot), d])
            .collect();
        v.push(vec![
            t,
            F::from_usize(COUNT_SLOT),
            F::from_usize(keys.len()),
        ]);
        v
    }

    /// The parent's statement over `parent` (message and epoch are not the AIR's).
    fn public(parent: &[PublicKey]) -> Vec<F> {
        statement_values(parent.len(), 7, &[3; 32], &key_set_digest_ordered(parent))
    }

    const PERMS: Failed = Failed::Bus(PERM24_FULL_BUS);
    const KEYS: Failed = Failed::Bus(KEY_SET_BUS);
    const STATEMENT: Failed = Failed::Bus(CHILD_STATEMENT_BUS);

    struct Case {
        parent: Vec<PublicKey>,
        children: Vec<ChildKeys>,
        /// The child statements sent, as `ObservedAir` would.
        sent: Vec<Vec<F>>,
        public: Vec<F>,
    }

    impl Case {
        /// The parent's set is the union of the children's.
        fn honest(children: &[&[u32]]) -> Self {
            let children: Vec<ChildKeys> = children
                .iter()
                .enumerate()
                .map(|(t, ids)| ChildKeys {
                    transcript: t,
                    keys: keys(ids),
                })
                .collect();
            let mut union = Vec::new();
            for k in children.iter().flat_map(|c| &c.keys) {
                if !union.contains(k) {
                    union.push(*k);
                }
            }
            let parent = canonical_key_order(&union).expect("deduplicated");
            let sent = children
                .iter()
                .flat_map(|c| child_statement(c.transcript, &c.keys))
                .collect();
            let public = public(&parent);
            Self {
                parent,
                children,
                sent,
                public,
            }
        }

        /// The key-set trace and the shared table made of its permutations alone, row for row
        /// (its key rows first, then padding, as in the trace).
        fn traces(&self) -> (RowMajorMatrix<F>, RowMajorMatrix<F>) {
            let (t, p) = KeySetAir.generate_trace(&self.parent, &self.children, MIN_HEIGHT);
            let table = crate::aggregate::air::perm::shared_table(&[&p], t.height());
            (t, table)
        }

        fn batch(&self, trace: RowMajorMatrix<F>, perm: RowMajorMatrix<F>) -> Batch {
            let sender = KnownAir::new(CHILD_STATEMENT_BUS, 3, true, &self.sent);
            Batch {
                airs: vec![
                    TestAir::KeySet(KeySetAir, self.public.clone()),
                    TestAir::Perm(Perm24TableAir::shared()),
                    TestAir::Known(sender.clone()),
                ],
                traces: vec![trace, perm, sender.trace()],
                buses: vec![PERM24_FULL_BUS, KEY_SET_BUS, CHILD_STATEMENT_BUS],
            }
        }

        fn honest_batch(&self) -> Batch {
            let (t, p) = self.traces();
            self.batch(t, p)
        }
    }

    fn cell(trace: &mut RowMajorMatrix<F>, row: usize) -> &mut KeySetCols<F> {
        trace.values[row * WIDTH..(row + 1) * WIDTH].borrow_mut()
    }

    /// Rewrites a row's key and recomputes the chain from that row on (the permutation table
    /// follows), as a prover that changes a key would.
    fn rechain(trace: &mut RowMajorMatrix<F>, perm: &mut RowMajorMatrix<F>, from: usize) {
        for r in from..trace.height() {
            if r > 0 {
                let p = cell(trace, r - 1);
                let within = p.last == F::ZERO && p.parent + p.child == F::ONE;
                let chain: [F; KEY_DIGEST_LEN] = core::array::from_fn(|j| p.output[j] + p.input[j]);
                if within {
                    cell(trace, r).input[..KEY_DIGEST_LEN].copy_from_slice(&chain);
                }
            }
            let input = cell(trace, r).input;
            cell(trace, r).output = PermFiller::shared24().fill(
                &mut perm.values[r * TABLE_WIDTH..r * TABLE_WIDTH + PERM24_COLS],
                input,
            );
        }
    }

    #[test]
    fn the_union_of_overlapping_children_balances_and_proves() {
        // Three children; key 2 is in two of them, key 5 twice in one list's neighbour.
        let case = Case::honest(&[&[1, 2, 3], &[2, 4], &[5, 6, 7, 8]]);
        assert_eq!(case.parent.len(), 8);
        // The parent's chain is the statement's digest: what a verifier computes from its keys.
        let ids: Vec<PublicKey> = (1..=8).map(key).collect();
        assert_eq!(
            case.public[PV_KEY_DIGEST..PV_KEY_DIGEST + KEY_DIGEST_LEN],
            key_set_digest(&ids).unwrap()
        );
        let b = case.honest_batch();
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
        // The shared key is counted twice.
        let shared = case.parent.iter().position(|k| *k == key(2)).unwrap();
        let (mut t, _) = case.traces();
        assert_eq!(cell(&mut t, shared).uses, F::TWO);
    }

    /// The table shared by several AIRs counts each row 0 or 1: its padding rows send nothing,
    /// and a row an AIR uses sends once.
    #[test]
    fn a_shared_table_sends_each_used_row_once() {
        use crate::aggregate::air::perm::shared_table;
        let case = Case::honest(&[&[1, 2, 3], &[4]]);
        let (t, p) = case.traces();
        let with = |table: RowMajorMatrix<F>| {
            let mut b = case.batch(t.clone(), table);
            b.airs[1] = TestAir::Perm(Perm24TableAir::shared());
            b
        };
        // The key-set AIR's key rows (its padding rows take none), then padding to twice the
        // AIR's height.
        let table = shared_table(&[&p], 2 * MIN_HEIGHT);
        assert_eq!(table.height(), 2 * MIN_HEIGHT);
        let counted = (0..table.height())
            .filter(|&r| table.values[r * table.width + PERM24_COLS] == F::ONE)
            .count();
        let key_rows =
            case.parent.len() + case.children.iter().map(|c| c.keys.len()).sum::<usize>();
        assert_eq!(counted, key_rows);
        let b = with(table.clone());
        assert_eq!(b.failed(), BTreeSet::new());
        b.prove_and_verify().unwrap();
        // A padding row's output is read by nothing: any value proves.
        let mut free = t.clone();
        cell(&mut free, key_rows).output = [F::from_u32(5); 24];
        let mut b = with(table.clone());
        b.traces[0] = free;
        assert_eq!(b.failed(), BTreeSet::new());
        // The same row claimed as a child's key: now it asks the table for its permutation.
        let mut claimed = t.clone();
        let c = cell(&mut claimed, key_rows);
        c.child = F::ONE;
        c.output = [F::from_u32(5); 24];
        let mut b = with(table.clone());
        b.traces[0] = claimed;
        assert!(b.failed().contains(&PERMS), "{:?}", b.failed());
        let count = |m: &mut RowMajorMatrix<F>, r: usize| {
            let w = m.width;
            m.values[r * w + PERM24_COLS] = F::ZERO;
            r * w + PERM24_COLS
        };
        for (row, value, expected) in [
            // A used row counted 0: its receiver finds nothing.
            (3, F::ZERO, BTreeSet::from([PERMS])),
            // Counted twice: not a count the table allows.
            (3, F::TWO, BTreeSet::from([Failed::Other(1), PERMS])),
            // A padding row counted: a permutation no AIR asked for.
            (2 * MIN_HEIGHT - 1, F::ONE, BTreeSet::from([PERMS])),
        ] {
            let mut forged = table.clone();
            let at = count(&mut forged, row);
            forged.values[at] = value;
            with(forged).caught(|f| *f == expected);
        }
    }

    #[test]
    fn a_parent_key_no_child_holds_fails() {
        let mut case = Case::honest(&[&[1, 2], &[3]]);
        case.parent = keys(&[1, 2, 3, 9]);
        case.public = public(&case.parent);
        // As generated: the extra key's `uses` is 0 and its inverse cannot exist.
        let b = case.honest_batch();
        let f = b.failed();
        assert!(
            f.iter().any(|x| matches!(x, Failed::Constraint(_))),
            "{f:?}"
        );
        assert!(!f.contains(&KEYS), "{f:?}");
        b.caught(|f| !f.is_empty());
        // Claiming a use anyway: the key-set bus.
        let (mut t, p) = case.traces();
        let at = case.parent.iter().position(|k| *k == key(9)).unwrap();
        cell(&mut t, at).uses = F::ONE;
        cell(&mut t, at).uses_inv = F::ONE;
        case.batch(t, p).caught(|f| *f == BTreeSet::from([KEYS]));
    }

    #[test]
    fn a_child_key_outside_the_parent_set_fails() {
        let mut case = Case::honest(&[&[1, 2], &[2, 3]]);
        case.parent = keys(&[1, 2]);
        case.public = public(&case.parent);
        case.honest_batch().caught(|f| f.contains(&KEYS));
    }

    #[test]
    fn a_child_statement_other_than_its_keys_fails() {
        let case = Case::honest(&[&[1, 2], &[3, 4, 5]]);
        // Another digest element, another count, another transcript's values.
        for (i, field) in [(0usize, 2usize), (COUNT_SLOT, 2), (3, 0)] {
            let mut forged = Case::honest(&[&[1, 2], &[3, 4, 5]]);
            let at = forged
                .sent
                .iter()
                .position(|m| m[0] == F::ONE && m[1] == F::from_usize(i))
                .unwrap();
            forged.sent[at][field] += F::ONE;
            forged
                .honest_batch()
                .caught(|f| *f == BTreeSet::from([STATEMENT]));
        }
        // A child's list with a key swapped for another parent key, the chain recomputed: its
        // digest is no longer the child's statement.
        let (mut t, mut p) = case.traces();
        let row = case.parent.len(); // child 0's first key
        let other = key(5);
        cell(&mut t, row).input[key_layout::ROOT..key_layout::ROOT + HASH_LEN_FE]
            .copy_from_slice(&other.root);
        cell(&mut t, row).input[key_layout::PARAMETER..key_layout::PARAMETER + PARAMETER_LEN]
            .copy_from_slice(&other.parameter);
        rechain(&mut t, &mut p, row);
        case.batch(t, p)
            .caught(|f| f.contains(&STATEMENT) && f.contains(&KEYS) && !f.contains(&PERMS));
        // A child without its segment: its statement finds no receiver.
        let mut short = Case::honest(&[&[1, 2], &[3, 4, 5]]);
        short.sent.extend(child_statement(2, &keys(&[1])));
        short
            .honest_batch()
            .caught(|f| *f == BTreeSet::from([STATEMENT]));
    }

    #[test]
    fn the_parent_statement_must_be_the_chain() {
        // Another digest or count in the statement: the parent's last row.
        for at in [PV_KEY_DIGEST + 4, PV_NUM_KEYS] {
            let mut forged = Case::honest(&[&[1, 2, 3], &[4]]);
            forged.public[at] += F::ONE;
            let b = forged.honest_batch();
            let f = b.failed();
            assert!(
                !f.is_empty() && f.iter().all(|x| matches!(x, Failed::Constraint(_))),
                "{f:?}"
            );
            b.caught(|f| !f.is_empty());
        }
        // The parent's keys in another order: another chain.
        let mut swapped = Case::honest(&[&[1, 2, 3], &[4]]);
        swapped.parent.swap(0, 1);
        let b = swapped.honest_batch();
        let f = b.failed();
        assert!(f.iter().all(|x| matches!(x, Failed::Constraint(_))) && !f.is_empty());
        b.caught(|f| !f.is_empty());
        // The statement of the parent's set without one key, the segment shortened to match:
        // the key's child sends it to no one.
        let mut fewer = Case::honest(&[&[1, 2, 3], &[4]]);
        fewer.parent.retain(|k| *k != key(4));
        fewer.public = public(&fewer.parent);
        fewer.honest_batch().caught(|f| f.contains(&KEYS));
    }

    #[test]
    fn segments_are_laid_out_as_the_verifier_reads_them() {
        let case = Case::honest(&[&[1, 2], &[3, 4]]);
        let n = case.parent.len();
        let expect_constraint = |t: RowMajorMatrix<F>, p: RowMajorMatrix<F>| {
            let b = case.batch(t, p);
            let f = b.failed();
            assert!(
                f.iter().any(|x| matches!(x, Failed::Constraint(_))),
                "{f:?}"
            );
            b.caught(|f| !f.is_empty());
        };
        // The parent's segment not first: rows rotated so a child comes first.
        let (t, p) = case.traces();
        let mut rotated = t.clone();
        let mut prot = p.clone();
        rotated.values.rotate_left(n * WIDTH);
        prot.values.rotate_left(n * TABLE_WIDTH);
        expect_constraint(rotated, prot);
        // The parent's segment after the children's, with nothing else changed: every bus
        // balances, and only the layout's constraints fail.
        let (t, p) = case.traces();
        let c = case.children.iter().map(|c| c.keys.len()).sum::<usize>();
        let mut moved = t.clone();
        let mut pmoved = p.clone();
        moved.values[..(n + c) * WIDTH].rotate_left(n * WIDTH);
        pmoved.values[..(n + c) * TABLE_WIDTH].rotate_left(n * TABLE_WIDTH);
        let b = case.batch(moved, pmoved);
        let f = b.failed();
        assert!(only_constraints(&f), "{f:?}");
        b.caught(|f| !f.is_empty());
        // A child's segment marked as the parent's.
        let (mut t, p) = case.traces();
        for r in n..n + 2 {
            let c = cell(&mut t, r);
            c.parent = F::ONE;
            c.child = F::ZERO;
            c.ends = F::ZERO;
        }
        expect_constraint(t, p);
        // The last segment left open at the end of the trace (parent and child fill it).
        let ids: Vec<u32> = (0..MIN_HEIGHT as u32 / 2).collect();
        let full = Case::honest(&[&ids]);
        let (mut t, p) = full.traces();
        let h = t.height();
        assert_eq!(h, MIN_HEIGHT);
        cell(&mut t, h - 1).last = F::ZERO;
        cell(&mut t, h - 1).ends = F::ZERO;
        let f = full.batch(t, p).failed();
        assert!(
            f.iter().any(|x| matches!(x, Failed::Constraint(_))),
            "{f:?}"
        );
        // A segment's count other than its length, the initial value following it.
        let (mut t, mut p) = case.traces();
        for r in n..n + 2 {
            cell(&mut t, r).count = F::from_usize(3);
        }
        cell(&mut t, n).input[1] = F::from_usize(3);
        rechain(&mut t, &mut p, n);
        expect_constraint(t, p);
        // A padding row's permutation need not be a chain's, but its input's zeros are free
        // only there: a key row with a nonzero tail.
        let (mut t, mut p) = case.traces();
        cell(&mut t, 0).input[23] = F::ONE;
        rechain(&mut t, &mut p, 0);
        expect_constraint(t, p);
    }
}
