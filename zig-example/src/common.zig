//! Helpers the example's programs share: statuses as Zig errors, proving into a buffer of the
//! wire cap, and a monotonic clock.

const std = @import("std");
const c = @import("c");

pub const MsigError = error{ MsigFailed, BadVector, Unexpected };

/// Maps a status to an error after printing its message (`what` names the call).
pub fn check(status: c.msig_status, what: []const u8) MsigError!void {
    if (status == c.MSIG_OK) return;
    std.debug.print("{s}: status {d} ({s})\n", .{ what, status, statusText(status).slice() });
    return error.MsigFailed;
}

/// A status's message, copied out of the library (at most 127 bytes).
pub const StatusText = struct {
    buf: [128]u8 = undefined,
    len: usize = 0,

    pub fn slice(self: *const StatusText) []const u8 {
        return if (self.len > 0) self.buf[0..self.len] else "?";
    }
};

pub fn statusText(status: c.msig_status) StatusText {
    var t: StatusText = .{};
    var written: usize = 0;
    if (c.msig_status_message(status, &t.buf, t.buf.len, &written) == c.MSIG_OK and written > 0) t.len = written - 1;
    return t;
}

/// Fails unless `status` is `want` (`what` names the call).
pub fn expectStatus(want: c.msig_status, status: c.msig_status, what: []const u8) MsigError!void {
    if (status == want) return;
    std.debug.print("{s}: expected status {d} ({s}), got {d} ({s})\n", .{ what, want, statusText(want).slice(), status, statusText(status).slice() });
    return error.Unexpected;
}

/// Nanoseconds on the monotonic clock (libc's `clock_gettime`).
pub fn nowNs() u64 {
    var ts: std.c.timespec = undefined;
    _ = std.c.clock_gettime(std.c.CLOCK.MONOTONIC, &ts);
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

/// Seconds since `start_ns` (`nowNs`).
pub fn secondsSince(start_ns: u64) f64 {
    return @as(f64, @floatFromInt(nowNs() - start_ns)) / std.time.ns_per_s;
}

/// The bytes a client reserves for one aggregate on the wire.
pub const wire_cap: usize = 512 * 1024;

/// Fails, after printing `what` and the size, if `len` bytes exceed the wire cap.
pub fn capChecked(what: []const u8, len: usize) MsigError!void {
    if (len > wire_cap) {
        std.debug.print("{s}: {d} bytes, over the {d}-byte wire cap\n", .{ what, len, wire_cap });
        return error.Unexpected;
    }
}

/// Proves `aggregator` under `options` into a buffer of the wire cap and returns a copy owned by
/// the caller (`gpa`).
pub fn prove(gpa: std.mem.Allocator, aggregator: ?*c.msig_aggregator, options: *const c.msig_prove_options, what: []const u8) ![]u8 {
    const buf = try gpa.alloc(u8, wire_cap);
    defer gpa.free(buf);
    var written: usize = 0;
    try check(c.msig_aggregator_prove(aggregator, options, buf.ptr, buf.len, &written), what);
    try capChecked(what, written);
    return gpa.dupe(u8, buf[0..written]);
}
