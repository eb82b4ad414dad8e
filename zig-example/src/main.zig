//! Aggregates the shared real 4-signer leanSig vector through the C ABI and verifies the proof;
//! then, as a proposer does for a block, merges Type-1 proofs over two messages (that vector's
//! and leanMultisig's one-signature vector at another slot) into one Type-2 proof and verifies
//! it. `zig build run` runs `main`; `zig build test` runs the tests below (the same round trips
//! plus error paths). Builds with Zig 0.16 and 0.17.

const std = @import("std");
const c = @import("c");
const build_options = @import("build_options");

/// Functions of the bundle crate itself (`rust-bundle/src/lib.rs`), where a client's other Rust
/// code would live; only linked (and only referenced) with `-Dlink=bundle`.
extern fn bundle_glue_version_major() u32;
extern fn bundle_unwinder_works() bool;

/// The vector files, embedded by build.zig.
const vector_json = @embedFile("aggregate_vector");
const single_json = @embedFile("single_vector");

const Signer = struct { public_key: []const u8, signature_ssz: []const u8 };
const Vector = struct { epoch: u32, message: []const u8, signers: []const Signer };

const common = @import("common.zig");
const check = common.check;

fn hexAlloc(gpa: std.mem.Allocator, s: []const u8) ![]u8 {
    const digits = if (std.mem.startsWith(u8, s, "0x")) s[2..] else s;
    const out = try gpa.alloc(u8, digits.len / 2);
    _ = std.fmt.hexToBytes(out, digits) catch return error.BadVector;
    return out;
}

/// The decoded vector: message, epoch, and per-signer SSZ public keys and signatures.
const Decoded = struct {
    epoch: u32,
    message: [c.MSIG_MESSAGE_LEN]u8,
    public_keys: [][c.MSIG_PUBLIC_KEY_LEN]u8,
    signatures: [][]u8,

    fn deinit(self: *Decoded, gpa: std.mem.Allocator) void {
        for (self.signatures) |s| gpa.free(s);
        gpa.free(self.signatures);
        gpa.free(self.public_keys);
    }
};

fn decodeVector(gpa: std.mem.Allocator) !Decoded {
    const parsed = try std.json.parseFromSlice(Vector, gpa, vector_json, .{ .ignore_unknown_fields = true });
    defer parsed.deinit();
    const v = parsed.value;
    var d: Decoded = .{
        .epoch = v.epoch,
        .message = undefined,
        .public_keys = try gpa.alloc([c.MSIG_PUBLIC_KEY_LEN]u8, v.signers.len),
        .signatures = try gpa.alloc([]u8, v.signers.len),
    };
    const msg = try hexAlloc(gpa, v.message);
    defer gpa.free(msg);
    if (msg.len != c.MSIG_MESSAGE_LEN) return error.BadVector;
    @memcpy(&d.message, msg);
    for (v.signers, 0..) |s, i| {
        const pk = try hexAlloc(gpa, s.public_key);
        defer gpa.free(pk);
        if (pk.len != c.MSIG_PUBLIC_KEY_LEN) return error.BadVector;
        @memcpy(&d.public_keys[i], pk);
        d.signatures[i] = try hexAlloc(gpa, s.signature_ssz);
    }
    return d;
}

/// An aggregate proof and its public keys (in the order of adds; any order verifies).
const Aggregate = struct {
    proof: []u8,
    public_keys: []u8,

    fn deinit(self: *Aggregate, gpa: std.mem.Allocator) void {
        gpa.free(self.proof);
        gpa.free(self.public_keys);
    }
};

/// Adds every signer to a fresh aggregator and proves (default options).
fn aggregate(gpa: std.mem.Allocator, d: *const Decoded) !Aggregate {
    // Build the default backend's process-wide tables first, as a client would at startup.
    try check(c.msig_prepare(null), "prepare");
    var agg: ?*c.msig_aggregator = null;
    try check(c.msig_aggregator_new(&d.message, d.epoch, &agg), "aggregator_new");
    defer c.msig_aggregator_free(agg);
    for (d.public_keys, d.signatures) |*pk, sig| {
        try check(c.msig_aggregator_add(agg, pk, sig.ptr, sig.len), "aggregator_add");
    }
    const public_keys = try gpa.alloc(u8, d.public_keys.len * c.MSIG_PUBLIC_KEY_LEN);
    errdefer gpa.free(public_keys);
    var written: usize = 0;
    try check(c.msig_aggregator_public_keys(agg, public_keys.ptr, public_keys.len, &written), "public_keys");

    // Learn the proof size, then copy the proof (the aggregator keeps it between the two calls).
    var probe: [1]u8 = undefined;
    var proof_len: usize = 0;
    const first = c.msig_aggregator_prove(agg, null, &probe, 0, &proof_len);
    if (first != c.MSIG_BUFFER_TOO_SMALL) try check(first, "prove (size)");
    const proof = try gpa.alloc(u8, proof_len);
    errdefer gpa.free(proof);
    try check(c.msig_aggregator_prove(agg, null, proof.ptr, proof.len, &written), "prove");
    return .{ .proof = proof, .public_keys = public_keys };
}

/// Verifies under the default policy (proven presets only), spelled out: NULL means the same.
fn verify(a: *const Aggregate, d: *const Decoded, epoch: u32) c.msig_status {
    const policy = c.msig_verify_options_default();
    return c.msig_verify_aggregate(a.proof.ptr, a.proof.len, a.public_keys.ptr, d.public_keys.len, &d.message, epoch, &policy);
}

/// leanMultisig's one-signature vector: one key, its signature of a message at a slot.
const Single = struct {
    slot: u32,
    message: [c.MSIG_MESSAGE_LEN]u8,
    public_key: [c.MSIG_PUBLIC_KEY_LEN]u8,
    signature: []u8,
};

fn decodeSingle(gpa: std.mem.Allocator) !Single {
    const Raw = struct { public_key: []const u8, slot: u32, message: []const u8, signature_ssz: []const u8 };
    const parsed = try std.json.parseFromSlice(Raw, gpa, single_json, .{ .ignore_unknown_fields = true });
    defer parsed.deinit();
    var s: Single = .{ .slot = parsed.value.slot, .message = undefined, .public_key = undefined, .signature = undefined };
    const msg = try hexAlloc(gpa, parsed.value.message);
    defer gpa.free(msg);
    const pk = try hexAlloc(gpa, parsed.value.public_key);
    defer gpa.free(pk);
    if (msg.len != c.MSIG_MESSAGE_LEN or pk.len != c.MSIG_PUBLIC_KEY_LEN) return error.BadVector;
    @memcpy(&s.message, msg);
    @memcpy(&s.public_key, pk);
    s.signature = try hexAlloc(gpa, parsed.value.signature_ssz);
    return s;
}

/// A Type-1 proof of `sigs` by `pks` on `message` at `epoch` under the recursion-ready backend
/// (FRI over Poseidon1): the kind of proof a Type-2 proof merges.
fn proveType1(gpa: std.mem.Allocator, message: *const [c.MSIG_MESSAGE_LEN]u8, epoch: u32, pks: []const [c.MSIG_PUBLIC_KEY_LEN]u8, sigs: []const []u8) ![]u8 {
    var agg: ?*c.msig_aggregator = null;
    try check(c.msig_aggregator_new(message, epoch, &agg), "aggregator_new");
    defer c.msig_aggregator_free(agg);
    for (pks, sigs) |*pk, sig| {
        try check(c.msig_aggregator_add(agg, pk, sig.ptr, sig.len), "aggregator_add");
    }
    var opts = c.msig_prove_options_default();
    opts.backend = @intCast(c.MSIG_BACKEND_FRI_POSEIDON1);
    return common.prove(gpa, agg, &opts, "prove (Type-1)");
}

/// A Type-2 proof and the components it is for (in the order merged).
const Type2 = struct {
    proof: []u8,
    components: [2]c.msig_type2_component,
};

/// Merges the 4-signer vector's Type-1 proof and the single vector's into one Type-2 proof (its
/// size at most the 512 KiB wire cap, the default byte limit). `d` and `s` must outlive the
/// components returned.
fn mergeType2(gpa: std.mem.Allocator, d: *const Decoded, s: *const Single) !Type2 {
    const a = try proveType1(gpa, &d.message, d.epoch, d.public_keys, d.signatures);
    defer gpa.free(a);
    const b_pks = [_][c.MSIG_PUBLIC_KEY_LEN]u8{s.public_key};
    const b_sigs = [_][]u8{s.signature};
    const b = try proveType1(gpa, &s.message, s.slot, &b_pks, &b_sigs);
    defer gpa.free(b);
    const pks_a: [*]const u8 = @ptrCast(d.public_keys.ptr);
    const type1s = [_]c.msig_aggregate_statement{
        .{ .proof = a.ptr, .proof_len = a.len, .public_keys = pks_a, .num_public_keys = d.public_keys.len, .message = &d.message, .epoch = d.epoch },
        .{ .proof = b.ptr, .proof_len = b.len, .public_keys = &s.public_key, .num_public_keys = 1, .message = &s.message, .epoch = s.slot },
    };
    const buf = try gpa.alloc(u8, common.wire_cap);
    defer gpa.free(buf);
    var written: usize = 0;
    try check(c.msig_type2_merge(&type1s, type1s.len, null, buf.ptr, buf.len, &written), "type2_merge");
    return .{
        .proof = try gpa.dupe(u8, buf[0..written]),
        .components = .{
            .{ .public_keys = pks_a, .num_public_keys = d.public_keys.len, .message = &d.message, .epoch = d.epoch },
            .{ .public_keys = &s.public_key, .num_public_keys = 1, .message = &s.message, .epoch = s.slot },
        },
    };
}

pub fn main(init: std.process.Init) !void {
    const gpa = init.gpa;
    std.debug.print("libmultisig_glue {s}\n", .{std.mem.span(c.msig_version())});
    if (build_options.bundle) {
        std.debug.print("linked through the bundle staticlib (glue major version {d})\n", .{bundle_glue_version_major()});
    }
    var d = try decodeVector(gpa);
    defer d.deinit(gpa);
    var a = try aggregate(gpa, &d);
    defer a.deinit(gpa);
    std.debug.print("aggregated {d} signatures at epoch {d}: proof {d} bytes\n", .{ d.public_keys.len, d.epoch, a.proof.len });
    try check(verify(&a, &d, d.epoch), "verify_aggregate");
    std.debug.print("proof verifies\n", .{});

    const s = try decodeSingle(gpa);
    defer gpa.free(s.signature);
    const t2 = try mergeType2(gpa, &d, &s);
    defer gpa.free(t2.proof);
    std.debug.print("merged a Type-2 proof of 2 components (epoch {d}, slot {d}): {d} bytes\n", .{ d.epoch, s.slot, t2.proof.len });
    try check(c.msig_verify_type2(t2.proof.ptr, t2.proof.len, &t2.components, t2.components.len, null), "verify_type2");
    std.debug.print("Type-2 proof verifies\n", .{});
}

test "a Type-2 proof of two messages verifies for its components only" {
    const gpa = std.testing.allocator;
    var d = try decodeVector(gpa);
    defer d.deinit(gpa);
    const s = try decodeSingle(gpa);
    defer gpa.free(s.signature);
    const t2 = try mergeType2(gpa, &d, &s);
    defer gpa.free(t2.proof);
    try std.testing.expect(t2.proof.len <= 512 * 1024);
    const p = t2.proof;
    // Any order of the components.
    const swapped = [_]c.msig_type2_component{ t2.components[1], t2.components[0] };
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_OK), c.msig_verify_type2(p.ptr, p.len, &swapped, swapped.len, null));
    // Another slot, a component left out, a Type-1 verifier: refused.
    var wrong = t2.components;
    wrong[1].epoch += 1;
    const r = c.msig_verify_type2(p.ptr, p.len, &wrong, wrong.len, null);
    try std.testing.expect(r == c.MSIG_PROOF_INVALID or r == c.MSIG_MALFORMED_PROOF);
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_PROOF_INVALID), c.msig_verify_type2(p.ptr, p.len, &t2.components, 1, null));
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_MALFORMED_PROOF), c.msig_verify_aggregate(p.ptr, p.len, &s.public_key, 1, &s.message, s.slot, null));
}

test "aggregate the shared 4-signer vector and verify it" {
    const gpa = std.testing.allocator;
    var d = try decodeVector(gpa);
    defer d.deinit(gpa);
    try std.testing.expectEqual(@as(usize, 4), d.public_keys.len);
    var a = try aggregate(gpa, &d);
    defer a.deinit(gpa);
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_OK), verify(&a, &d, d.epoch));

    // Error paths: wrong epoch, truncated proof, NULL argument, duplicate signer.
    const wrong_epoch = verify(&a, &d, d.epoch + 1);
    try std.testing.expect(wrong_epoch == c.MSIG_PROOF_INVALID or wrong_epoch == c.MSIG_MALFORMED_PROOF);
    const truncated = c.msig_verify_aggregate(a.proof.ptr, a.proof.len / 2, a.public_keys.ptr, d.public_keys.len, &d.message, d.epoch, null);
    try std.testing.expect(truncated == c.MSIG_PROOF_INVALID or truncated == c.MSIG_MALFORMED_PROOF);
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_NULL_ARGUMENT), c.msig_verify_aggregate(null, 0, a.public_keys.ptr, d.public_keys.len, &d.message, d.epoch, null));

    // Batch: one true and one false statement; the call completes and says which failed.
    const good: c.msig_aggregate_statement = .{ .proof = a.proof.ptr, .proof_len = a.proof.len, .public_keys = a.public_keys.ptr, .num_public_keys = d.public_keys.len, .message = &d.message, .epoch = d.epoch };
    var bad = good;
    bad.epoch = d.epoch + 1;
    const statements = [_]c.msig_aggregate_statement{ good, bad };
    var results = [_]c.msig_status{ 0xAAAA, 0xAAAA };
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_SOME_PROOFS_INVALID), c.msig_verify_aggregates(&statements, statements.len, null, &results));
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_OK), results[0]);
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_PROOF_INVALID), results[1]);

    var agg: ?*c.msig_aggregator = null;
    try check(c.msig_aggregator_new(&d.message, d.epoch, &agg), "aggregator_new");
    defer c.msig_aggregator_free(agg);
    try check(c.msig_aggregator_add(agg, &d.public_keys[0], d.signatures[0].ptr, d.signatures[0].len), "add");
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_DUPLICATE_PUBLIC_KEY), c.msig_aggregator_add(agg, &d.public_keys[0], d.signatures[0].ptr, d.signatures[0].len));
    // A byte limit no proof fits is refused before proving.
    var opts = c.msig_prove_options_default();
    opts.max_proof_bytes = 1;
    var probe: [1]u8 = undefined;
    var written: usize = 0;
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_PROOF_TOO_LARGE), c.msig_aggregator_prove(agg, &opts, &probe, probe.len, &written));
}

test "error paths that need no proof" {
    var buf: [4]u8 = undefined;
    var written: usize = 0;
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_BUFFER_TOO_SMALL), c.msig_status_message(c.MSIG_OK, &buf, buf.len, &written));
    try std.testing.expect(written > buf.len);
    var agg: ?*c.msig_aggregator = null;
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_NULL_ARGUMENT), c.msig_aggregator_new(null, 0, &agg));
    try std.testing.expect(agg == null);
    c.msig_aggregator_free(null);
    c.msig_keypair_free(null);
    var built: usize = 0;
    try std.testing.expectEqual(@as(c.msig_status, c.MSIG_NULL_ARGUMENT), c.msig_keypair_prepare_epoch(null, 0, &built));
    if (build_options.bundle) {
        try std.testing.expectEqual(@as(u32, c.MSIG_VERSION_MAJOR), bundle_glue_version_major());
        // A Rust panic unwinds and is caught with the unwinder this executable links.
        try std.testing.expect(bundle_unwinder_works());
    }
}
