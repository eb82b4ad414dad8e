//! Zig example of a consumer of the multisig C ABI (`include/multisig.h`), for Zig 0.16.0 (the
//! version zeam pins) and Zig 0.17 (`python -m ziglang`, PyPI `ziglang`).
//!
//!   zig build run  [-Dlink=bundle|glue] [-Dvectors=<dir>] ...
//!   zig build test [-Dlink=bundle|glue] [-Dvectors=<dir>] ...
//!   zig build slot [-Dlink=bundle|glue] [-Dvalidators=<even, >= 4>] ...   (zeam's slot flow)
//!
//! Two ways to link the Rust code (README.md):
//! - `-Dlink=bundle` (default), zeam's route: cargo builds `rust-bundle/`, a client's one
//!   `staticlib` crate that depends on `multisig-glue` as an rlib, with
//!   `RUSTFLAGS="-C target-cpu=<rust-cpu>"` (default x86-64-v3 on x86-64) into its own target
//!   directory (`-Dbundle-target-dir`, default `rust-bundle/target`); the executable links that
//!   one archive, `libmsig_zig_bundle.a`.
//! - `-Dlink=glue`: links `libmultisig_glue.a` from `-Dlib-dir` (default `../target/release`),
//!   built beforehand with `cargo build --release -p multisig-glue`.
//! Either way the executable also links libc and an unwinder (`-Dunwind-lib`, default `unwind`
//! as zeam links it; `gcc_s` works too on glibc).
//!
//! Paths given on the command line are taken relative to the current directory; the defaults
//! are relative to this directory. The header comes from `../include/multisig.h` through
//! `addTranslateC`; the real 4-signer vector (`-Dvectors`, default `../../shared/vectors`) is
//! embedded at compile time.

const std = @import("std");

const Link = enum { bundle, glue };

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const link = b.option(Link, "link", "bundle (one staticlib built from rust-bundle/, default) or glue (libmultisig_glue.a)") orelse .bundle;
    const vectors_dir = b.option([]const u8, "vectors", "directory holding the shared vectors");
    const vector = if (vectors_dir) |dir|
        cwdPath(b, b.pathJoin(&.{ dir, "leansig_devnet4_aggregate_4.json" }))
    else
        b.path("../../shared/vectors/leansig_devnet4_aggregate_4.json");
    // leanMultisig's one-signature vector (another message and slot): the second component of
    // the Type-2 proof.
    const single = if (vectors_dir) |dir|
        cwdPath(b, b.pathJoin(&.{ dir, "leanmultisig_devnet4_prod_vector.json" }))
    else
        b.path("../../shared/vectors/leanmultisig_devnet4_prod_vector.json");
    const unwind_lib = b.option([]const u8, "unwind-lib", "unwinder the Rust code needs (unwind or gcc_s)") orelse
        "unwind";

    // The Rust archive, and the step that builds it (bundle only).
    var archive: std.Build.LazyPath = undefined;
    var cargo: ?*std.Build.Step.Run = null;
    switch (link) {
        .bundle => {
            const default_cpu: []const u8 = if (target.result.cpu.arch == .x86_64) "x86-64-v3" else "generic";
            const rust_cpu = b.option([]const u8, "rust-cpu", "-C target-cpu for the bundle's Rust code (default x86-64-v3 on x86-64)") orelse default_cpu;
            const target_dir = if (b.option([]const u8, "bundle-target-dir", "cargo target directory of rust-bundle/")) |dir|
                cwdPath(b, dir)
            else
                b.path("rust-bundle/target");
            const run = b.addSystemCommand(&.{ "cargo", "build", "--release", "--locked" });
            run.addPrefixedFileArg("--manifest-path=", b.path("rust-bundle/Cargo.toml"));
            run.addPrefixedDirectoryArg("--target-dir=", target_dir);
            // RUSTFLAGS replaces the repository's `.cargo/config.toml` rustflags
            // (`target-cpu=native`), which would otherwise apply below the repository root.
            run.setEnvironmentVariable("RUSTFLAGS", b.fmt("-C target-cpu={s}", .{rust_cpu}));
            run.has_side_effects = true; // cargo decides what is stale
            cargo = run;
            archive = target_dir.path(b, "release/libmsig_zig_bundle.a");
        },
        .glue => {
            archive = if (b.option([]const u8, "lib-dir", "directory holding libmultisig_glue.a (-Dlink=glue)")) |dir|
                cwdPath(b, b.pathJoin(&.{ dir, "libmultisig_glue.a" }))
            else
                b.path("../target/release/libmultisig_glue.a");
        },
    }

    // Tells src/main.zig which archive it is linked with (the bundle adds a function of its own).
    const options = b.addOptions();
    options.addOption(bool, "bundle", link == .bundle);
    // The slot flow's number of validators (src/slot.zig): even, at least 4.
    options.addOption(usize, "validators", b.option(usize, "validators", "validators in the slot flow (even, at least 4; default 4)") orelse 4);

    // The C header, translated once and imported as the module `c`.
    const translate = b.addTranslateC(.{
        .root_source_file = b.path("../include/multisig.h"),
        .target = target,
        .optimize = optimize,
    });
    const c_mod = translate.createModule();

    const parts: Parts = .{ .c_mod = c_mod, .options = options, .vector = vector, .single = single, .archive = archive, .unwind_lib = unwind_lib };
    const exe = b.addExecutable(.{ .name = "msig-zig-example", .root_module = makeModule(b, target, optimize, parts, "src/main.zig") });
    const tests = b.addTest(.{ .name = "msig-zig-test", .root_module = makeModule(b, target, optimize, parts, "src/main.zig") });
    // zeam's slot flow end to end (src/slot.zig); always optimized, it proves dozens of times.
    const slot = b.addExecutable(.{ .name = "msig-zig-slot", .root_module = makeModule(b, target, .ReleaseSafe, parts, "src/slot.zig") });
    if (cargo) |run| {
        exe.step.dependOn(&run.step);
        tests.step.dependOn(&run.step);
        slot.step.dependOn(&run.step);
    }
    b.installArtifact(exe);
    b.installArtifact(slot);

    const run_exe = b.addRunArtifact(exe);
    b.step("run", "aggregate the shared 4-signer vector and verify it; merge a Type-2 proof").dependOn(&run_exe.step);
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "aggregate and verify the shared vector, plus error paths").dependOn(&run_tests.step);
    const run_slot = b.addRunArtifact(slot);
    b.step("slot", "zeam's slot flow on keys the library makes: subnets, cross-subnet children, the proposer's Type-2, the importer's check (-Dvalidators)").dependOn(&run_slot.step);
}

const Parts = struct {
    c_mod: *std.Build.Module,
    options: *std.Build.Step.Options,
    vector: std.Build.LazyPath,
    single: std.Build.LazyPath,
    archive: std.Build.LazyPath,
    unwind_lib: []const u8,
};

fn makeModule(
    b: *std.Build,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    parts: Parts,
    root: []const u8,
) *std.Build.Module {
    const m = b.createModule(.{
        .root_source_file = b.path(root),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    m.addImport("c", parts.c_mod);
    m.addOptions("build_options", parts.options);
    // The real 4-signer vector, embedded at compile time (`@embedFile("aggregate_vector")`).
    m.addAnonymousImport("aggregate_vector", .{ .root_source_file = parts.vector });
    // leanMultisig's one-signature vector (`@embedFile("single_vector")`).
    m.addAnonymousImport("single_vector", .{ .root_source_file = parts.single });
    // The one Rust static library and what it needs from the system: libc (pthread, dl, m are
    // part of glibc >= 2.34; named for older glibc and musl) and an unwinder for Rust's panic
    // machinery (`_Unwind_*`; the glue catches every panic, but the code is linked).
    m.addObjectFile(parts.archive);
    m.linkSystemLibrary(parts.unwind_lib, .{});
    m.linkSystemLibrary("pthread", .{});
    m.linkSystemLibrary("dl", .{});
    m.linkSystemLibrary("m", .{});
    return m;
}

/// A path relative to the current directory. Zig 0.17 deprecates `LazyPath.cwd_relative` in
/// favour of `Graph.cwdRelativePath`, which Zig 0.16 does not have.
fn cwdPath(b: *std.Build, p: []const u8) std.Build.LazyPath {
    if (comptime @hasDecl(std.Build.Graph, "cwdRelativePath")) return b.graph.cwdRelativePath(p);
    return .{ .cwd_relative = p };
}
