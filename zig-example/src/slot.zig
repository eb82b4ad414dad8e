//! zeam's slot flow, end to end through the C ABI, on keys and signatures the library makes.
//!
//! `zig build slot [-Dvalidators=V]` (V even, at least 4; default 4):
//! 1. V validators generate real keys (`msig_keypair_generate`: leanSig key generation).
//! 2. Eight attestation data over four slots (two head votes a slot, so two messages a slot):
//!    at each slot the first V/2 validators vote for one, the other V/2 for the other, and each
//!    signs its vote (`msig_sign`; the epoch is the slot). Every signature is checked
//!    (`msig_verify`).
//! 3. Subnets: each attestation data's voters are split over two subnets; each subnet's
//!    aggregator proves a Type-1 over the raw signatures it saw (FRI over Poseidon1, the kind of
//!    proof that can be a child or a Type-2 component).
//! 4. Cross-subnet: an aggregator merges the two subnet Type-1s of the first attestation data as
//!    children into one Type-1 (a compact parent over WHIR), which verifies for the union of the
//!    subnets' keys as any Type-1 does.
//! 5. Proposer: signs the block root at the next slot (a one-signature Type-1) and merges one
//!    Type-1 per attestation data plus its own into one Type-2 proof (nine components).
//! 6. Importer: verifies the Type-2 against each component's (keys, message, slot), given in
//!    another order; the same proof with one component's message, slot or key changed, or a
//!    component left out, is refused.
//! 7. After import: a node splits one component back out of the Type-2
//!    (`msig_type2_split`), which verifies as that attestation data's Type-1
//!    (`msig_verify_aggregate`) and for no other data or key set.
//! Every proof is checked against the 512 KiB wire cap. Exits non-zero on any unexpected status.
//!
//! Not yet (the library's limits, checked here so the example notices when they lift): a parent
//! or a split cannot be a child or a Type-2 component (the proposer's components are therefore
//! Type-1s over raw signatures, made by an aggregator that saw every vote of its attestation
//! data).

const std = @import("std");
const c = @import("c");
const build_options = @import("build_options");
const common = @import("common.zig");
const check = common.check;
const expectStatus = common.expectStatus;

const K = c.MSIG_PUBLIC_KEY_LEN;
const PublicKey = [K]u8;
const Message = [c.MSIG_MESSAGE_LEN]u8;
const wire_cap = common.wire_cap;
const capChecked = common.capChecked;
const prove = common.prove;

const first_slot: u32 = 100;
const num_slots: u32 = 4;
const heads_per_slot: u32 = 2;
const num_data = num_slots * heads_per_slot;
/// The proposer's slot: the block after the attested slots.
const block_slot: u32 = first_slot + num_slots;

const Validator = struct {
    keypair: *c.msig_keypair,
    public_key: PublicKey,
};

/// One attestation data: its slot, its message (a stand-in for its hash tree root) and the
/// indices of the validators voting for it.
const Data = struct {
    slot: u32,
    message: Message,
    voters: []const usize,
};

/// A Type-1 proof and the statement it verifies for.
const Type1 = struct {
    proof: []u8,
    keys: []PublicKey,
    message: *const Message,
    slot: u32,

    fn statement(self: *const Type1) c.msig_aggregate_statement {
        return .{
            .proof = self.proof.ptr,
            .proof_len = self.proof.len,
            .public_keys = @ptrCast(self.keys.ptr),
            .num_public_keys = self.keys.len,
            .message = self.message,
            .epoch = self.slot,
        };
    }

    fn component(self: *const Type1) c.msig_type2_component {
        return .{ .public_keys = @ptrCast(self.keys.ptr), .num_public_keys = self.keys.len, .message = self.message, .epoch = self.slot };
    }
};

fn digest(label: []const u8, index: u32) Message {
    var buf: [64]u8 = undefined;
    const text = std.fmt.bufPrint(&buf, "{s} {d}", .{ label, index }) catch unreachable;
    var out: Message = undefined;
    std.crypto.hash.sha2.Sha256.hash(text, &out, .{});
    return out;
}

const fri_poseidon1: c.msig_prove_options = blk: {
    var o = std.mem.zeroes(c.msig_prove_options);
    o.backend = @intCast(c.MSIG_BACKEND_FRI_POSEIDON1);
    break :blk o;
};
/// A compact parent: the verifier of the children proved over WHIR at rate 1/4.
const compact_parent: c.msig_prove_options = blk: {
    var o = std.mem.zeroes(c.msig_prove_options);
    o.backend = @intCast(c.MSIG_BACKEND_WHIR);
    o.log_inv_rate = 2;
    break :blk o;
};

/// A Type-1 over raw signatures: `signatures[i]` is validator `voters[i]`'s on `data`.
fn proveRaw(gpa: std.mem.Allocator, validators: []const Validator, data: *const Data, voters: []const usize, signatures: []const [c.MSIG_SIGNATURE_LEN]u8) !Type1 {
    var agg: ?*c.msig_aggregator = null;
    try check(c.msig_aggregator_new(&data.message, data.slot, &agg), "aggregator_new");
    defer c.msig_aggregator_free(agg);
    const keys = try gpa.alloc(PublicKey, voters.len);
    for (voters, keys, 0..) |v, *k, i| {
        k.* = validators[v].public_key;
        try check(c.msig_aggregator_add(agg, k, &signatures[i], signatures[i].len), "aggregator_add");
    }
    const t: Type1 = .{ .proof = try prove(gpa, agg, &fri_poseidon1, "prove (Type-1)"), .keys = keys, .message = &data.message, .slot = data.slot };
    try check(c.msig_verify_aggregate(t.proof.ptr, t.proof.len, @ptrCast(keys.ptr), keys.len, &data.message, data.slot, null), "verify_aggregate (Type-1)");
    return t;
}

pub fn main(init: std.process.Init) !void {
    const gpa = init.arena.allocator();
    const v_count: usize = build_options.validators;
    if (v_count < 4 or v_count % 2 != 0) {
        std.debug.print("-Dvalidators must be even and at least 4 (got {d})\n", .{v_count});
        return error.Unexpected;
    }
    std.debug.print("libmultisig_glue {s}: slot flow, {d} validators, {d} attestation data over slots {d}..{d}, block at slot {d}\n", .{ std.mem.span(c.msig_version()), v_count, num_data, first_slot, first_slot + num_slots - 1, block_slot });

    // 1. Keys. Each covers [first_slot, block_slot]; the library widens that to two bottom trees.
    var t = common.nowNs();
    const validators = try gpa.alloc(Validator, v_count);
    var generated: usize = 0;
    defer for (validators[0..generated]) |v| c.msig_keypair_free(v.keypair);
    for (validators, 0..) |*v, i| {
        const seed = digest("validator seed", @intCast(i));
        var kp: ?*c.msig_keypair = null;
        try check(c.msig_keypair_generate(&seed, first_slot, num_slots + 1, &kp), "keypair_generate");
        v.keypair = kp.?;
        generated += 1;
        try check(c.msig_keypair_public_key(v.keypair, &v.public_key), "keypair_public_key");
    }
    std.debug.print("1. keys: {d} generated in {d:.1} s\n", .{ v_count, common.secondsSince(t) });

    // 2. Votes: data 2s + h is head h of slot first_slot + s; validator v votes head v / (V/2).
    t = common.nowNs();
    const half = v_count / 2;
    const heads = [heads_per_slot][]usize{ try gpa.alloc(usize, half), try gpa.alloc(usize, half) };
    for (0..half) |i| {
        heads[0][i] = i;
        heads[1][i] = half + i;
    }
    var data: [num_data]Data = undefined;
    // signatures[d][i]: voter i of data d.
    var signatures: [num_data][][c.MSIG_SIGNATURE_LEN]u8 = undefined;
    for (&data, &signatures, 0..) |*d, *sigs, j| {
        d.* = .{ .slot = first_slot + @as(u32, @intCast(j)) / heads_per_slot, .message = digest("attestation data", @intCast(j)), .voters = heads[j % heads_per_slot] };
        sigs.* = try gpa.alloc([c.MSIG_SIGNATURE_LEN]u8, half);
        for (d.voters, sigs.*) |v, *sig| {
            var written: usize = 0;
            try check(c.msig_sign(validators[v].keypair, d.slot, &d.message, sig, sig.len, &written), "sign");
            if (written != sig.len) return error.Unexpected;
            try check(c.msig_verify(&validators[v].public_key, d.slot, &d.message, sig, sig.len), "verify (signature)");
        }
    }
    std.debug.print("2. votes: {d} signed and checked in {d:.1} s\n", .{ num_data * half, common.secondsSince(t) });

    // 3. Subnets: the first half of each data's voters on subnet 0, the rest on subnet 1.
    t = common.nowNs();
    const split_at = half / 2;
    var subnets: [num_data][2]Type1 = undefined;
    var largest: usize = 0;
    for (&data, signatures, &subnets) |*d, sigs, *subs| {
        subs[0] = try proveRaw(gpa, validators, d, d.voters[0..split_at], sigs[0..split_at]);
        subs[1] = try proveRaw(gpa, validators, d, d.voters[split_at..], sigs[split_at..]);
        largest = @max(largest, @max(subs[0].proof.len, subs[1].proof.len));
    }
    std.debug.print("3. subnets: {d} Type-1s ({d} and {d} signatures each) proved and verified in {d:.1} s, the largest {d} bytes\n", .{ 2 * num_data, split_at, half - split_at, common.secondsSince(t), largest });

    // 4. Cross-subnet: the two subnet Type-1s of data 0 become children of one Type-1.
    t = common.nowNs();
    var agg: ?*c.msig_aggregator = null;
    try check(c.msig_aggregator_new(&data[0].message, data[0].slot, &agg), "aggregator_new (cross-subnet)");
    defer c.msig_aggregator_free(agg);
    for (&subnets[0]) |*s| {
        try check(c.msig_aggregator_add_child(agg, s.proof.ptr, s.proof.len, @ptrCast(s.keys.ptr), s.keys.len), "aggregator_add_child");
    }
    const parent_proof = try prove(gpa, agg, &compact_parent, "prove (cross-subnet parent)");
    const union_keys = try gpa.alloc(PublicKey, half);
    for (data[0].voters, union_keys) |v, *k| k.* = validators[v].public_key;
    try check(c.msig_verify_aggregate(parent_proof.ptr, parent_proof.len, @ptrCast(union_keys.ptr), half, &data[0].message, data[0].slot, null), "verify_aggregate (cross-subnet parent)");
    // One subnet's keys alone are not the parent's statement.
    const partial = c.msig_verify_aggregate(parent_proof.ptr, parent_proof.len, @ptrCast(union_keys.ptr), split_at, &data[0].message, data[0].slot, null);
    try expectStatus(c.MSIG_PROOF_INVALID, partial, "verify_aggregate (parent, one subnet's keys)");
    std.debug.print("4. cross-subnet: a Type-1 over 2 children ({d} signers) proved in {d:.1} s, {d} bytes, verifies for the union only\n", .{ half, common.secondsSince(t), parent_proof.len });

    // The proposer's Type-1 per attestation data: an aggregator that saw every vote of it.
    t = common.nowNs();
    var full: [num_data]Type1 = undefined;
    for (&data, signatures, &full) |*d, sigs, *f| f.* = try proveRaw(gpa, validators, d, d.voters, sigs);
    std.debug.print("   full: {d} Type-1s of {d} signatures in {d:.1} s\n", .{ num_data, half, common.secondsSince(t) });

    // Not yet: a parent as a child, or as a Type-2 component.
    var again: ?*c.msig_aggregator = null;
    try check(c.msig_aggregator_new(&data[0].message, data[0].slot, &again), "aggregator_new");
    defer c.msig_aggregator_free(again);
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_aggregator_add_child(again, parent_proof.ptr, parent_proof.len, @ptrCast(union_keys.ptr), half), "add_child (a parent)");

    // 5. Proposer: its own vote on the block root, then the merge of nine components.
    t = common.nowNs();
    const block_root = digest("block root", block_slot);
    const proposer: usize = 0;
    var own_sig: [1][c.MSIG_SIGNATURE_LEN]u8 = undefined;
    var written: usize = 0;
    try check(c.msig_sign(validators[proposer].keypair, block_slot, &block_root, &own_sig[0], own_sig[0].len, &written), "sign (block root)");
    const own_data: Data = .{ .slot = block_slot, .message = block_root, .voters = &.{proposer} };
    const own = try proveRaw(gpa, validators, &own_data, own_data.voters, &own_sig);
    var statements: [num_data + 1]c.msig_aggregate_statement = undefined;
    for (&full, statements[0..num_data]) |*f, *s| s.* = f.statement();
    statements[num_data] = own.statement();
    // The cross-subnet parent in place of data 0's Type-1 (the same statement) is refused.
    var with_parent = statements;
    with_parent[0].proof = parent_proof.ptr;
    with_parent[0].proof_len = parent_proof.len;
    const buf = try gpa.alloc(u8, wire_cap);
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_type2_merge(&with_parent, with_parent.len, null, buf.ptr, buf.len, &written), "type2_merge (a parent as a component)");
    const merge_t = common.nowNs();
    try check(c.msig_type2_merge(&statements, statements.len, null, buf.ptr, buf.len, &written), "type2_merge");
    const merge_s = common.secondsSince(merge_t);
    try capChecked("Type-2", written);
    const type2 = buf[0..written];
    std.debug.print("5. proposer: Type-2 over {d} components merged in {d:.1} s: {d} bytes ({d:.1} KiB of the {d} KiB cap)\n", .{ statements.len, merge_s, type2.len, @as(f64, @floatFromInt(type2.len)) / 1024.0, wire_cap / 1024 });

    // 6. Importer: the components in reverse order, then the refusals.
    t = common.nowNs();
    var components: [num_data + 1]c.msig_type2_component = undefined;
    for (&full, components[1..]) |*f, *cp| cp.* = f.component();
    components[0] = own.component();
    std.mem.reverse(c.msig_type2_component, components[1..]);
    try check(c.msig_verify_type2(type2.ptr, type2.len, &components, components.len, null), "verify_type2");
    const verify_s = common.secondsSince(t);

    var other_message = components;
    const wrong_message = digest("another attestation data", 0);
    other_message[3].message = &wrong_message;
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_verify_type2(type2.ptr, type2.len, &other_message, other_message.len, null), "verify_type2 (a component's message changed)");
    var other_slot = components;
    other_slot[5].epoch += 1;
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_verify_type2(type2.ptr, type2.len, &other_slot, other_slot.len, null), "verify_type2 (a component's slot changed)");
    // A key swapped for a validator who voted for the other head.
    // Data 2 is head 0 of its slot (voters 0 .. V/2); validator V/2 voted for head 1.
    var keys = try gpa.dupe(PublicKey, full[2].keys);
    keys[0] = validators[half].public_key;
    var other_key = components;
    other_key[1 + (num_data - 1 - 2)].public_keys = @ptrCast(keys.ptr); // full[2], reversed
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_verify_type2(type2.ptr, type2.len, &other_key, other_key.len, null), "verify_type2 (a key changed)");
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_verify_type2(type2.ptr, type2.len, &components, components.len - 1, null), "verify_type2 (a component left out)");
    std.debug.print("6. importer: Type-2 verified in {d:.1} ms; another message, slot or key, or a component left out: refused\n", .{verify_s * 1000.0});

    // 7. After import: a node splits data 0's component back out (index num_data in the
    // importer's reversed list) and verifies it as any Type-1 of data 0.
    const split_buf = try gpa.alloc(u8, wire_cap);
    t = common.nowNs();
    try check(c.msig_type2_split(type2.ptr, type2.len, &components, components.len, num_data, null, split_buf.ptr, split_buf.len, &written), "type2_split");
    const split_s = common.secondsSince(t);
    try capChecked("split Type-1", written);
    const split = split_buf[0..written];
    const d0 = &full[0];
    try check(c.msig_verify_aggregate(split.ptr, split.len, @ptrCast(d0.keys.ptr), d0.keys.len, d0.message, d0.slot, null), "verify_aggregate (the split)");
    const d1 = &full[1];
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_verify_aggregate(split.ptr, split.len, @ptrCast(d1.keys.ptr), d1.keys.len, d1.message, d1.slot, null), "verify_aggregate (the split, for data 1)");
    // A key swapped for a validator who voted for the other head of data 0's slot.
    var d0_keys = try gpa.dupe(PublicKey, d0.keys);
    d0_keys[0] = validators[half].public_key;
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_verify_aggregate(split.ptr, split.len, @ptrCast(d0_keys.ptr), d0_keys.len, d0.message, d0.slot, null), "verify_aggregate (the split, a key changed)");
    // Not yet: the split as a child.
    var reuse: ?*c.msig_aggregator = null;
    try check(c.msig_aggregator_new(d0.message, d0.slot, &reuse), "aggregator_new");
    defer c.msig_aggregator_free(reuse);
    try expectStatus(c.MSIG_PROOF_INVALID, c.msig_aggregator_add_child(reuse, split.ptr, split.len, @ptrCast(d0.keys.ptr), d0.keys.len), "add_child (a split)");
    std.debug.print("7. split: data 0's component split out in {d:.1} ms: {d} bytes; verified as its Type-1, refused for data 1 or a changed key\n", .{ split_s * 1000.0, split.len });
    std.debug.print("   not yet: the split as a child (needs a verifier of the Type-2 in the AIRs)\n", .{});
}
