#!/usr/bin/env bash
# Everything that tests the C ABI, from a clean clone:
#   1. release build of the glue (libmultisig_glue.a / .so), reused if up to date
#   2. header check: cbindgen regenerates include/multisig.h, any difference fails
#   3. TLS check: the static library's .tdata is 16-aligned (readelf)
#   4. C tests built with -fsanitize=address,undefined, run
#   5. C tests under valgrind (separate plain build; leaks are errors)
#   6. cargo cinstall into a temporary prefix + pkg-config consumers (shared and static)
#   7. Zig example with Zig 0.16.0 (zeam's pin) and 0.17.1: the single-staticlib route (cargo
#      builds zig-example/rust-bundle, which bundles the glue as an rlib, with
#      -C target-cpu=x86-64-v3 into target-zig-bundle/: a second full build of Plonky3) linked
#      with Zig's `unwind`, as zeam links; and the direct route (libmultisig_glue.a from step 1)
#      linked with gcc_s; then zeam's slot flow (zig-example/src/slot.zig) once, Zig 0.16.0, bundle
# Installs what is missing: valgrind and pkg-config (apt-get), ziglang 0.16.0 and 0.17.1 (pip,
# each into its own --target directory under $MSIG_ZIG_ROOT), cbindgen and cargo-c (cargo install,
# pinned versions that build with the repository's toolchain).
#
# Usage: c-tests/run.sh [--quick]     (--quick: skip steps 5-7)
# Environment: MSIG_VECTORS (vectors dir; default ../shared/vectors beside the repository),
#   MSIG_VALGRIND_TESTS (C tests to run under valgrind; default below: the fast ones; test_keygen
#   and test_threads build XMSS trees for tens of seconds natively and would take hours there),
#   MSIG_ZIG_ROOT (where the Zig versions are installed; default ~/.cache/multisig-zig).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

CBINDGEN_VERSION=0.29.4
CARGO_C_VERSION=0.10.24   # the newest cargo-c that builds with rustc 1.95
ZIG_VERSIONS="0.16.0 0.17.1"  # zeam pins 0.16.0; 0.17.1 is the newest on PyPI
ZIG_ROOT="${MSIG_ZIG_ROOT:-$HOME/.cache/multisig-zig}"

passed=0
failed=0
failures=()
t0=$SECONDS
step() { echo; echo "=== $*"; t0=$SECONDS; }
record() { # record <name> <exit code>; prints the seconds since the previous step or record
    local took=$((SECONDS - t0)); t0=$SECONDS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "--- ok: $1 (${took} s)"
    else failed=$((failed + 1)); failures+=("$1"); echo "--- FAILED: $1 (exit $2, ${took} s)"; fi
}
# zig <version> <args...>: one of the pinned Zig versions, from its own pip --target directory.
zig() { local v="$1"; shift; PYTHONPATH="$ZIG_ROOT/$v" python3 -m ziglang "$@"; }

# ---- vectors ---------------------------------------------------------------------------------
VECTORS="${MSIG_VECTORS:-}"
if [ -z "$VECTORS" ]; then
    for d in "$ROOT/../shared/vectors" "$ROOT/../../shared/vectors" /work/shared/vectors; do
        [ -f "$d/leansig_devnet4_aggregate_4.json" ] && { VECTORS="$(cd "$d" && pwd)"; break; }
    done
fi
[ -n "$VECTORS" ] || { echo "run.sh: shared vectors not found; set MSIG_VECTORS" >&2; exit 2; }
export MSIG_VECTORS="$VECTORS"

# ---- tools -----------------------------------------------------------------------------------
apt_install() {
    local missing=()
    for pkg in "$@"; do command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "run.sh: installing ${missing[*]} (apt-get)"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}
apt_install pkg-config valgrind
command -v cbindgen >/dev/null 2>&1 ||
    cargo install cbindgen --locked --version "$CBINDGEN_VERSION"
if [ $QUICK -eq 0 ]; then
    command -v cargo-cinstall >/dev/null 2>&1 ||
        cargo install cargo-c --locked --version "$CARGO_C_VERSION"
    for v in $ZIG_VERSIONS; do
        [ "$(zig "$v" version 2>/dev/null)" = "$v" ] ||
            python3 -m pip install --quiet --upgrade --target "$ZIG_ROOT/$v" "ziglang==$v"
    done
fi

# ---- 1. release build ------------------------------------------------------------------------
step "1. cargo build --release -p multisig-glue"
cargo build --release --locked -p multisig-glue
record "release build" $?
LIBDIR="$ROOT/target/release"
ls -l "$LIBDIR/libmultisig_glue.a" "$LIBDIR/libmultisig_glue.so" 2>/dev/null

# ---- 2. header -------------------------------------------------------------------------------
step "2. header regenerated and diffed"
c-tests/check-header.sh
record "header diff" $?

# ---- 3. TLS alignment ------------------------------------------------------------------------
step "3. .tdata alignment of libmultisig_glue.a"
c-tests/check-tdata.sh "$LIBDIR/libmultisig_glue.a"
record "tdata alignment" $?

# ---- 4. C tests under ASan + UBSan -----------------------------------------------------------
TESTS="test_abi test_vectors test_aggregate test_children test_type2 test_keygen test_threads"
step "4. C tests with -fsanitize=address,undefined"
make -s -C c-tests asan LIBDIR="$LIBDIR"
record "C tests build (asan)" $?
for t in $TESTS; do
    echo "--- $t (asan)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "c-tests/build/asan/$t" "$VECTORS"
    record "$t (asan)" $?
done

if [ $QUICK -eq 1 ]; then
    echo; echo "run.sh --quick: skipped valgrind, pkg-config and Zig"
else
    # ---- 5. valgrind -----------------------------------------------------------------------
    step "5. C tests under valgrind"
    VGLIBDIR="$LIBDIR"
    if [ "$(uname -m)" = x86_64 ]; then
        # valgrind 3.19 (Debian 12) decodes neither AVX-512 nor every AVX2 encoding LLVM emits
        # (the register form of VEX `vmovq` with opcode D6, in Plonky3's packed quintic
        # multiplication, stops it with SIGILL): build the library once more for x86-64-v2
        # (SSE4.2, no AVX; Plonky3 then uses its scalar field code) in its own target directory.
        echo "run.sh: x86-64: building an x86-64-v2 copy of the glue for valgrind"
        # Its speed does not matter: 16 codegen units for `multisig` too (the workspace builds
        # it in one, CODEGEN.md), which takes minutes off this build.
        RUSTFLAGS="-C target-cpu=x86-64-v2" CARGO_TARGET_DIR="$ROOT/target-valgrind-v2" \
            cargo build --release --locked -p multisig-glue \
            --config 'profile.release.package.multisig.codegen-units=16'
        record "valgrind library build (x86-64-v2)" $?
        VGLIBDIR="$ROOT/target-valgrind-v2/release"
    fi
    make -s -C c-tests valgrind LIBDIR="$LIBDIR" VGLIBDIR="$VGLIBDIR"
    record "C tests build (valgrind)" $?
    for t in ${MSIG_VALGRIND_TESTS:-test_abi test_vectors test_aggregate}; do
        echo "--- $t (valgrind)"
        valgrind --quiet --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
            "c-tests/build/valgrind/$t" "$VECTORS"
        record "$t (valgrind)" $?
    done

    # ---- 6. cargo cinstall + pkg-config ----------------------------------------------------
    step "6. cargo cinstall + pkg-config consumers"
    c-tests/check-pkgconfig.sh "$VECTORS"
    record "pkg-config consumers" $?

    # ---- 7. Zig ----------------------------------------------------------------------------
    step "7. Zig example (Zig $ZIG_VERSIONS)"
    # The single-staticlib route: one Rust archive for the client, built for x86-64-v3 in its own
    # target directory (RUSTFLAGS replaces the repository's target-cpu=native). build.zig would
    # run this cargo command itself; running it here first records its time separately.
    BUNDLE_DIR="$ROOT/target-zig-bundle"
    case "$(uname -m)" in x86_64) RUST_CPU=x86-64-v3 ;; *) RUST_CPU=generic ;; esac
    RUSTFLAGS="-C target-cpu=$RUST_CPU" cargo build --release --locked \
        --manifest-path zig-example/rust-bundle/Cargo.toml --target-dir "$BUNDLE_DIR"
    record "bundle staticlib build (zig-example/rust-bundle, $RUST_CPU)" $?
    ls -l "$BUNDLE_DIR/release/libmsig_zig_bundle.a"
    if [ "$RUST_CPU" = x86-64-v3 ]; then
        # x86-64-v3 means AVX2 (ymm registers) and no AVX-512 (zmm): check the flag took effect.
        objdump -d --no-show-raw-insn "$BUNDLE_DIR/release/libmsig_zig_bundle.a" 2>/dev/null |
            awk '/%ymm/ {y++} /%zmm/ {z++} END {
                printf "bundle: %d instructions on ymm, %d on zmm\n", y, z; exit !(y > 0 && z == 0) }'
        record "bundle is x86-64-v3 code (AVX2, no AVX-512)" $?
    fi
    # The glue's 16-aligned thread-local travels in the bundle archive too.
    c-tests/check-tdata.sh "$BUNDLE_DIR/release/libmsig_zig_bundle.a"
    record "bundle tdata alignment" $?
    for v in $ZIG_VERSIONS; do
        bundle=(-Dlink=bundle -Dbundle-target-dir="$BUNDLE_DIR" -Drust-cpu="$RUST_CPU" -Dvectors="$VECTORS")
        (cd zig-example && zig "$v" build test "${bundle[@]}" --summary all)
        record "zig $v: build test (bundle staticlib, -lunwind)" $?
        (cd zig-example && zig "$v" build run "${bundle[@]}")
        record "zig $v: build run (bundle staticlib, -lunwind)" $?
        (cd zig-example && zig "$v" build test -Dlink=glue -Dlib-dir="$LIBDIR" -Dunwind-lib=gcc_s \
            -Dvectors="$VECTORS" --summary all)
        record "zig $v: build test (libmultisig_glue.a, -lgcc_s)" $?
    done
    # zeam's slot flow end to end (keys made by the library, subnets, cross-subnet children, the
    # proposer's Type-2 of nine components, the importer's checks), once, with zeam's Zig and link.
    v="${ZIG_VERSIONS%% *}"
    (cd zig-example && zig "$v" build slot "${bundle[@]}")
    record "zig $v: build slot (zeam's slot flow, 4 validators, bundle staticlib)" $?
fi

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "c-tests/run.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
