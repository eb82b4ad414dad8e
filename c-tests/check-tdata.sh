#!/usr/bin/env bash
# Checks that the static library's thread-local data is 16-aligned (see glue/src/tls.rs): the
# object defining MSIG_TLS_ALIGN16 must have an initialized .tdata section aligned to >= 16, so
# every link that pulls in the glue gets a TLS data section aligned to at least 16.
# Usage: c-tests/check-tdata.sh [path/to/libmultisig_glue.a]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="${1:-$ROOT/target/release/libmultisig_glue.a}"
[ -f "$LIB" ] || { echo "check-tdata: $LIB not found" >&2; exit 1; }

# The member object that defines the glue's aligned thread-local.
member="$(nm -A "$LIB" 2>/dev/null | awk '/MSIG_TLS_ALIGN16/ && ($(NF-1) ~ /^[dD]$/) {print $1; exit}')"
if [ -z "$member" ]; then
    echo "check-tdata: no initialized (.tdata) symbol MSIG_TLS_ALIGN16 in $LIB" >&2
    nm -A "$LIB" 2>/dev/null | grep MSIG_TLS_ALIGN16 >&2 || true
    exit 1
fi
member="${member%:}"             # "lib.a:member.o:" -> "lib.a:member.o"
member="${member##*:}"           # -> "member.o"

# readelf -S -W over the archive, keep the .tdata alignment of that member.
align="$(readelf -S -W "$LIB" | awk -v m="$member" '
    /^File: / { cur = $2; next }
    cur ~ ("\\(" m "\\)$") && $0 ~ /\] \.tdata[ .]/ {
        # The last column of a section line is the alignment (Al).
        print $NF; exit
    }')"
if [ -z "$align" ]; then
    echo "check-tdata: member $member has no .tdata section" >&2
    exit 1
fi
# Largest .tdata alignment across all members, for information.
max="$(readelf -S -W "$LIB" | awk '$0 ~ /\] \.tdata[ .]/ { if ($NF + 0 > m) m = $NF + 0 } END { print m + 0 }')"
if [ "$align" -ge 16 ]; then
    echo "check-tdata: .tdata of $member aligned to $align (>= 16); largest .tdata alignment in the archive: $max"
else
    echo "check-tdata: .tdata of $member aligned to $align, want >= 16" >&2
    exit 1
fi
