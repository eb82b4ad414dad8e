#!/usr/bin/env bash
# Everything that tests the C ABI, from a clean clone:
#   1. release build of the glue (libmultisig_glue.a / .so), reused if up to date
#   2. header check: cbindgen regenerates include/multisig.h, any difference fails
#   3. TLS check: the static library's .tdata is 16-aligned (readelf)
#   4. C tests built with -fsanitize=address,undefined, run
#   5. C tests under valgrind (separate plain build; leaks are errors)
#   6. cargo cinstall into a temporary prefix + pkg-config consumers (shared and static)
#   7. Zig example: zig build test, zig build run
# Installs what is missing: valgrind and pkg-config (apt-get), ziglang (pip), cbindgen and
# cargo-c (cargo install, pinned versions that build with the repository's toolchain).
#
# Usage: c-tests/run.sh [--quick]     (--quick: skip steps 5-7)
# Environment: MSIG_VECTORS (vectors dir; default ../shared/vectors beside the repository),
#   MSIG_VALGRIND_TESTS (C tests to run under valgrind; default below).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

CBINDGEN_VERSION=0.29.4
CARGO_C_VERSION=0.10.24   # the newest cargo-c that builds with rustc 1.95
ZIG_VERSION=0.17.1

passed=0
failed=0
failures=()
step() { echo; echo "=== $*"; }
record() { # record <name> <exit code>
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "--- ok: $1"
    else failed=$((failed + 1)); failures+=("$1"); echo "--- FAILED: $1 (exit $2)"; fi
}

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
    python3 -m ziglang version >/dev/null 2>&1 ||
        python3 -m pip install --quiet "ziglang==$ZIG_VERSION"
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
TESTS="test_abi test_vectors test_aggregate test_keygen test_threads"
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
        RUSTFLAGS="-C target-cpu=x86-64-v2" CARGO_TARGET_DIR="$ROOT/target-valgrind-v2" \
            cargo build --release --locked -p multisig-glue
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
    step "7. Zig example"
    (cd zig-example && python3 -m ziglang build test -Dlib-dir="$LIBDIR" -Dvectors="$VECTORS" --summary all)
    record "zig build test" $?
    (cd zig-example && python3 -m ziglang build run -Dlib-dir="$LIBDIR" -Dvectors="$VECTORS")
    record "zig build run" $?
fi

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "c-tests/run.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
