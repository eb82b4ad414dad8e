//! Aggregates the shared real 4-signer leanSig vector through the C ABI and verifies the proof.
//! `zig build run` runs `main`; `zig build test` runs the tests below (the same round trip plus
//! error paths). Builds with Zig 0.16 and 0.17.

const std = @import("std");
const c = @import("c");
const build_options = @import("build_options");

/// Functions of the bundle crate itself (`rust-bundle/src/lib.rs`), where a client's other Rust
/// code would live; only linked (and only referenced) with `-Dlink=bundle`.
extern fn bundle_glue_version_major() u32;
extern fn bundle_unwinder_works() bool;

/// The vector file, embedded by build.zig.
const vector_json = @embedFile("aggregate_vector");

const Signer = struct { public_key: []const u8, signature_ssz: []const u8 };
const Vector = struct { epoch: u32, message: []const u8, signers: []const Signer };

const MsigError = error{ MsigFailed, BadVector };

/// Maps a status to an error after printing its message.
fn check(status: c.msig_status, what: []const u8) MsigError!void {
    if (status == c.MSIG_OK) return;
    var buf: [128]u8 = undefined;
    var written: usize = 0;
    _ = c.msig_status_message(status, &buf, buf.len, &written);
    const text: []const u8 = if (written > 0) buf[0 .. written - 1] else "?";
    std.debug.print("{s}: status {d} ({s})\n", .{ what, status, text });
    return error.MsigFailed;
}

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
