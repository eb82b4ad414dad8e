#!/usr/bin/env bash
# Checks that the static library's thread-local data is 16-aligned (see glue/src/tls.rs): the
# glue's thread-local MSIG_TLS_ALIGN16 must sit in an initialized TLS data section (.tdata*,
# PROGBITS, flags W A T) aligned to >= 16, so every link that pulls in the glue gets a TLS data
# section (ELF .tdata / Mach-O __thread_data) aligned to at least 16.
# Usage: c-tests/check-tdata.sh [path/to/libmultisig_glue.a]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="${1:-$ROOT/target/release/libmultisig_glue.a}"
[ -f "$LIB" ] || { echo "check-tdata: $LIB not found" >&2; exit 1; }

sections="$(readelf -S -W "$LIB")"
# Section lines look like:
#   [120] .tdata._ZN13multisig_glue3tls16MSIG_TLS_ALIGN16...E PROGBITS 0... off size es WAT 0 0 16
# (the last column is the alignment). With one section per item or without, our section is the
# .tdata section of the member object that defines the symbol.
line="$(printf '%s\n' "$sections" | awk '/\] \.tdata/ && /MSIG_TLS_ALIGN16/ { print; n++ } END { if (!n) exit 1 }')" || {
    echo "check-tdata: no .tdata section for MSIG_TLS_ALIGN16 in $LIB" >&2
    exit 1
}
type="$(printf '%s\n' "$line" | awk '{ for (i = 1; i <= NF; i++) if ($i == "PROGBITS" || $i == "NOBITS") print $i }')"
align="$(printf '%s\n' "$line" | awk '{ print $NF }')"
max="$(printf '%s\n' "$sections" | awk '/\] \.tdata/ { if ($NF + 0 > m) m = $NF + 0 } END { print m + 0 }')"
echo "check-tdata: $(printf '%s\n' "$line" | awk '{print $2}' | cut -c1-60)... type $type, alignment $align"
echo "check-tdata: largest .tdata alignment in the archive: $max"
if [ "$type" != "PROGBITS" ]; then
    echo "check-tdata: the thread-local is not initialized data (.tdata PROGBITS)" >&2
    exit 1
fi
if [ "$align" -lt 16 ]; then
    echo "check-tdata: alignment $align < 16" >&2
    exit 1
fi
echo "check-tdata: OK (.tdata alignment $align >= 16)"
