#!/usr/bin/env bash
# Installs the library with cargo-c into a temporary prefix, then builds c-tests/pkgconfig/consumer.c
# with nothing but `pkg-config --cflags --libs multisig` (shared) and
# `pkg-config --static --cflags --libs multisig` (static), and runs both on a real vector.
# Usage: c-tests/check-pkgconfig.sh [vectors dir]   (needs cargo-c and pkg-config)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VECTORS="${1:-${MSIG_VECTORS:-$ROOT/../shared/vectors}}"
PREFIX="$(mktemp -d)"
trap 'rm -rf "$PREFIX"' EXIT

cd "$ROOT"
cargo cinstall --release --locked -p multisig-glue --prefix "$PREFIX" --libdir lib >"$PREFIX.log" 2>&1 || {
    tail -n 40 "$PREFIX.log" >&2; exit 1; }
rm -f "$PREFIX.log"
echo "check-pkgconfig: installed into $PREFIX:"
(cd "$PREFIX" && find . -type f -o -type l | sort | sed 's/^/  /')

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
cflags="$(pkg-config --cflags multisig)"
libs="$(pkg-config --libs multisig)"
static_libs="$(pkg-config --static --libs multisig)"
echo "check-pkgconfig: cflags: $cflags"
echo "check-pkgconfig: libs: $libs"
echo "check-pkgconfig: static libs: $static_libs"

so="$(ls "$PREFIX"/lib/libmultisig_glue.so.* | head -n 1)"
soname="$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
echo "check-pkgconfig: soname: ${soname:-<none>}"
[ -n "$soname" ] || { echo "check-pkgconfig: no soname" >&2; exit 1; }
[ -f "$PREFIX/include/multisig.h" ] || { echo "check-pkgconfig: header not installed" >&2; exit 1; }
[ -f "$PREFIX/lib/libmultisig_glue.a" ] || { echo "check-pkgconfig: static library not installed" >&2; exit 1; }

work="$PREFIX/build"
mkdir -p "$work"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror c-tests/pkgconfig/consumer.c $cflags $libs -o "$work/consumer-shared"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror c-tests/pkgconfig/consumer.c $cflags \
    -Wl,-Bstatic -lmultisig_glue -Wl,-Bdynamic $(pkg-config --static --libs-only-L multisig) \
    $(pkg-config --static --libs-only-l multisig | sed 's/-lmultisig_glue//') -o "$work/consumer-static"

args="$(python3 - "$VECTORS/leanmultisig_devnet4_prod_vector.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
print(v["public_key"], v["slot"], v["message"], v["signature_ssz"])
PY
)"
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$PREFIX/lib" "$work/consumer-shared" $args
# shellcheck disable=SC2086
"$work/consumer-static" $args
ldd "$work/consumer-static" | grep -q multisig_glue && { echo "static consumer links the .so" >&2; exit 1; }
echo "check-pkgconfig: shared and static consumers OK"
