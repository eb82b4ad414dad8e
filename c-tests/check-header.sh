#!/usr/bin/env bash
# Regenerates include/multisig.h with cbindgen into a temporary file and fails on any difference
# from the checked-in header. Usage: c-tests/check-header.sh   (needs cbindgen on PATH)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"
cbindgen --quiet --config cbindgen.toml --crate multisig-glue --output "$tmp/multisig.h"
if ! diff -u include/multisig.h "$tmp/multisig.h"; then
    echo "check-header: include/multisig.h is stale; regenerate with:" >&2
    echo "  cbindgen --config cbindgen.toml --crate multisig-glue --output include/multisig.h" >&2
    exit 1
fi
echo "check-header: include/multisig.h matches cbindgen $(cbindgen --version | awk '{print $2}')"
