//! Zig example of a zeam-style consumer of libmultisig_glue.a (Zig 0.17, `python -m ziglang`).
//!
//!   zig build run  -Dlib-dir=<dir with libmultisig_glue.a> -Dvectors=<dir with the vectors>
//!   zig build test -Dlib-dir=... -Dvectors=...
//!
//! Defaults: lib-dir `../target/release`, vectors `../../shared/vectors` (both relative to this
//! directory). The header comes from `../include/multisig.h` through `addTranslateC`.

const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    // Paths given on the command line are taken relative to the current directory; the defaults
    // are relative to this directory.
    const lib = if (b.option([]const u8, "lib-dir", "directory holding libmultisig_glue.a")) |dir|
        b.graph.cwdRelativePath(b.pathJoin(&.{ dir, "libmultisig_glue.a" }))
    else
        b.path("../target/release/libmultisig_glue.a");
    const vector = if (b.option([]const u8, "vectors", "directory holding the shared vectors")) |dir|
        b.graph.cwdRelativePath(b.pathJoin(&.{ dir, "leansig_devnet4_aggregate_4.json" }))
    else
        b.path("../../shared/vectors/leansig_devnet4_aggregate_4.json");
    const unwind_lib = b.option([]const u8, "unwind-lib", "unwinder the Rust library needs (gcc_s or unwind)") orelse
        "gcc_s";

    // The C header, translated once and imported as the module `c`.
    const translate = b.addTranslateC(.{
        .root_source_file = b.path("../include/multisig.h"),
        .target = target,
        .optimize = optimize,
    });
    const c_mod = translate.createModule();

    const exe_mod = makeModule(b, "src/main.zig", target, optimize, c_mod, vector, lib, unwind_lib);
    const exe = b.addExecutable(.{ .name = "msig-zig-example", .root_module = exe_mod });
    b.installArtifact(exe);

    const run = b.addRunArtifact(exe);
    b.step("run", "aggregate the shared 4-signer vector and verify it").dependOn(&run.step);

    const test_mod = makeModule(b, "src/main.zig", target, optimize, c_mod, vector, lib, unwind_lib);
    const tests = b.addTest(.{ .name = "msig-zig-test", .root_module = test_mod });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "aggregate and verify the shared vector, plus error paths").dependOn(&run_tests.step);
}

fn makeModule(
    b: *std.Build,
    root: []const u8,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.Optimize,
    c_mod: *std.Build.Module,
    vector: std.Build.LazyPath,
    lib: std.Build.LazyPath,
    unwind_lib: []const u8,
) *std.Build.Module {
    const m = b.createModule(.{
        .root_source_file = b.path(root),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    m.addImport("c", c_mod);
    // The real 4-signer vector, embedded at compile time (`@embedFile("aggregate_vector")`).
    m.addAnonymousImport("aggregate_vector", .{ .root_source_file = vector });
    // The Rust static library and what it needs from the system: libc (pthread, dl, m are part
    // of glibc >= 2.34) and an unwinder for Rust's panic machinery (`_Unwind_*`).
    m.addObjectFile(lib);
    m.linkSystemLibrary(unwind_lib, .{});
    m.linkSystemLibrary("pthread", .{});
    m.linkSystemLibrary("dl", .{});
    m.linkSystemLibrary("m", .{});
    return m;
}
