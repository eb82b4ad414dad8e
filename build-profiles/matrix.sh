#!/usr/bin/env bash
# Profile matrix: builds the C glue (libmultisig_glue.a/.so) and the `multisig` CLI under several
# (opt-level, codegen-units) settings, each in its own target directory under target/matrix/, runs
# the aggregation round trip and the C tests against each build, and prints a Markdown table
# (also written to build-profiles/matrix.md). See CODEGEN.md for what the rows mean.
#
# Usage: build-profiles/matrix.sh [--quick] [--rows "3:16 3:1 s:1 z:16 z:1"] [--profiles]
#                                 [--signatures N] [--probe] [--out FILE] [--no-ctests]
#   --quick         rows "z:1 3:16" only (the hazard row and Cargo's release default; the (3,16)
#                   row reuses target/, rebuilding the multisig crate at 16 units), C tests
#                   without test_keygen
#   --rows LIST     space-separated rows: opt-level:codegen-units pairs (Cargo's release profile
#                   with those two knobs changed) or profile:<file> (build-profiles/<file>.toml,
#                   built with --config <file> --profile msig-*); default: the five pairs above
#   --profiles      append the rows profile:speed profile:size
#   --signatures N  signatures aggregated by the round trip (default 64)
#   --probe         also build and run build-profiles/probe (`codegen-probe check`) in each row
#   --out FILE      where to write the table (default build-profiles/matrix.md)
#   --no-ctests     skip the C tests
#   --prune         delete each row's target directory once its row is done (not target/ itself,
#                   which the (3, 16) row reuses); its logs go first to target/matrix/<row>.logs/
#   --tag NAME      suffix of the rows' target directories (o<opt>-cgu<n>-NAME), for runs with other
#                   RUSTFLAGS, e.g. RUSTFLAGS="-C target-cpu=x86-64-v3" matrix.sh --tag v3
#
# Every row sets, for every cargo command it runs (ours and the C tests' own):
#   CARGO_TARGET_DIR=target/matrix/o<opt>-cgu<n>
#   CARGO_PROFILE_RELEASE_OPT_LEVEL=<opt> CARGO_PROFILE_RELEASE_CODEGEN_UNITS=<n>
# and passes --config profile.<profile>.package.multisig.codegen-units=<n> to its own builds (the
# workspace's one-unit override of the multisig crate would beat the variable). A C test driver
# that runs `cargo build --release` itself must pass the same --config to reuse the row's build.
# The C tests: `make -C c-tests asan LIBDIR=<row's output dir>` and every c-tests/test_* program
# run with the shared vectors (ASan + UBSan), or $MSIG_MATRIX_CTEST_CMD if set (run from the
# repository root with MSIG_LIB_DIR and MSIG_VECTORS exported); "absent" if neither exists.
#
# Exit status: 0 if every row built and passed what it ran; 1 otherwise (the table is written
# either way). Logs: target/matrix/<row>/*.log.
set -u
set -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROWS="3:16 3:1 s:1 z:16 z:1"
SIGS=64
PROBE=0
CTESTS=1
PRUNE=0
# C test programs the matrix does not run (--quick skips test_keygen: one production 2^17-epoch
# key generation, minutes at opt-level "z"; and test_type2, whose merges prove the same verifier
# AIRs over WHIR as test_children's compact parents, for CI's time; c-tests/run.sh runs both
# against the default build).
CTEST_SKIP=""
OUT="$ROOT/build-profiles/matrix.md"
EXTRA_ROWS=""
TAG=""

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) ROWS="z:1 3:16"; CTEST_SKIP="test_keygen test_type2" ;;
        --profiles) EXTRA_ROWS="profile:speed profile:size" ;;
        --rows) shift; ROWS="${1:?--rows needs a list}" ;;
        --signatures) shift; SIGS="${1:?--signatures needs a number}" ;;
        --probe) PROBE=1 ;;
        --no-ctests) CTESTS=0 ;;
        --prune) PRUNE=1 ;;
        --out) shift; OUT="${1:?--out needs a file}" ;;
        --tag) shift; TAG="-${1:?--tag needs a name}" ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) echo "matrix.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
ROWS="$ROWS $EXTRA_ROWS"
case "$SIGS" in ''|*[!0-9]*) echo "matrix.sh: --signatures must be a positive integer" >&2; exit 2 ;; esac

cd "$ROOT" || exit 2
MATRIX_DIR="$ROOT/target/matrix"
mkdir -p "$MATRIX_DIR"

# Seconds since the epoch with a fraction, for durations.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }
size_of() { if [ -f "$1" ]; then stat -c %s "$1"; else echo ""; fi; }
# Size after `strip --strip-debug` (the release profile keeps line tables, which dominate).
stripped_size_of() {
    [ -f "$1" ] || { echo ""; return; }
    local tmp; tmp="$(mktemp)"
    if strip --strip-debug -o "$tmp" "$1" 2>/dev/null; then stat -c %s "$tmp"; else echo ""; fi
    rm -f "$tmp"
}
human() { # bytes -> "12.3 MiB"
    if [ -z "$1" ]; then echo "-"; else awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; fi
}

# Largest alignment of any .tdata section in an archive or object ("-" if none).
tdata_align() {
    [ -f "$1" ] || { echo "-"; return; }
    readelf -SW "$1" 2>/dev/null | awk '
        /\.tdata/ { for (i = 1; i <= NF; i++) if ($i ~ /^\.tdata/) { al = $(i + 9); if (al + 0 > max) max = al + 0 } }
        END { if (max == "") print "-"; else print max }'
}

# Extracts the proving throughput from `multisig bench --json` output: the value of
# "xmss_per_s" (signatures proven per wall-clock second); empty if none.
throughput_of() {
    grep -oE '"xmss_per_s": *[0-9]+(\.[0-9]+)?' "$1" 2>/dev/null | head -1 | grep -oE '[0-9]+(\.[0-9]+)?$'
}

# The shared test vectors (the same search as c-tests/run.sh).
VECTORS="${MSIG_VECTORS:-}"
if [ -z "$VECTORS" ]; then
    for d in "$ROOT/../shared/vectors" "$ROOT/../../shared/vectors" /work/shared/vectors; do
        [ -f "$d/leansig_devnet4_aggregate_4.json" ] && { VECTORS="$(cd "$d" && pwd)"; break; }
    done
fi

run_ctests() { # $1 = dir holding libmultisig_glue.a, $2 = log file; prints the C tests' verdict
    local libdir="$1" log="$2" rc=0 t src failed_progs="" sums
    if [ -n "${MSIG_MATRIX_CTEST_CMD:-}" ]; then
        MSIG_LIB_DIR="$libdir" MSIG_VECTORS="$VECTORS" bash -c "$MSIG_MATRIX_CTEST_CMD" >"$log" 2>&1 || rc=$?
        if [ "$rc" -eq 0 ]; then echo pass; else echo "FAIL (see $log)"; fi
        return
    fi
    if [ ! -f c-tests/Makefile ]; then echo absent; return; fi
    # The C tests under ASan + UBSan, linked against this row's static library (c-tests/run.sh
    # always tests target/release, so the matrix drives the Makefile itself; -B because every row
    # links a different library into the same c-tests/build/asan/ binaries). Every program runs;
    # each prints "<name>: N passed, M failed", which are summed.
    if ! make -s -B -C c-tests asan LIBDIR="$libdir" >"$log" 2>&1; then
        echo "FAIL (build; see $log)"; return
    fi
    for src in c-tests/test_*.c; do
        t="$(basename "$src" .c)"
        case " $CTEST_SKIP " in *" $t "*) echo "--- $t: skipped" >>"$log"; continue ;; esac
        echo "--- $t" >>"$log"
        rc=0
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            "c-tests/build/asan/$t" "$VECTORS" >>"$log" 2>&1 || rc=$?
        if [ "$rc" -ge 128 ]; then failed_progs="$failed_progs $t(signal $((rc - 128)))"
        elif [ "$rc" -ne 0 ]; then failed_progs="$failed_progs $t"; fi
    done
    sums="$(grep -oE '^test_[a-z0-9_]+: [0-9]+ passed, [0-9]+ failed' "$log" |
        awk '{ p += $2; f += $4 } END { printf "%d %d", p, f }')"
    set -- $sums
    if [ -z "$failed_progs" ]; then
        echo "pass ($1 checks)"
    else
        echo "FAIL: $2 of $(($1 + $2)) checks, in${failed_progs}"
    fi
}

HOST_CPU="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
RUSTC="$(rustc --version 2>/dev/null)"
FLAGS="${RUSTFLAGS:-$(sed -n 's/^rustflags *= *//p' .cargo/config.toml 2>/dev/null | head -1)}"
ALL_OK=1
TABLE_ROWS=()
FIRST_BIN=""; FIRST_SUM=""; FIRST_NAME=""

for row in $ROWS; do
    unset CARGO_PROFILE_RELEASE_OPT_LEVEL CARGO_PROFILE_RELEASE_CODEGEN_UNITS
    case "$row" in
        profile:*)
            # A vetted profile file: build-profiles/<file>.toml defining [profile.msig-<...>].
            file="${row#profile:}"
            cfg="build-profiles/$file.toml"
            [ -f "$cfg" ] || { echo "matrix.sh: no $cfg" >&2; exit 2; }
            prof="$(sed -n 's/^\[profile\.\(msig-[a-z-]*\)\]$/\1/p' "$cfg" | head -1)"
            [ -n "$prof" ] || { echo "matrix.sh: no [profile.msig-*] in $cfg" >&2; exit 2; }
            opt="$(sed -n "/^\[profile\.$prof\]/,/^\[/s/^opt-level *= *//p" "$cfg" | head -1 | tr -d '"')"
            cgu="$(sed -n "/^\[profile\.$prof\]/,/^\[/s/^codegen-units *= *//p" "$cfg" | head -1)"
            lto="$(sed -n "/^\[profile\.$prof\]/,/^\[/s/^lto *= *//p" "$cfg" | head -1 | tr -d '"')"
            name="p-$file"
            label="$file.toml"
            cargo_profile=(--config "$cfg" --profile "$prof")
            # The workspace's [profile.release.package.multisig] override is inherited by every
            # custom profile and beats the profile's own codegen-units: pin it to the row's.
            [ -n "$cgu" ] && cargo_profile+=(--config "profile.$prof.package.multisig.codegen-units=$cgu")
            outdir="$prof"
            ;;
        *:*)
            opt="${row%%:*}"
            cgu="${row##*:}"
            case "$opt" in 0|1|2|3|s|z) ;; *) echo "matrix.sh: bad opt-level in $row" >&2; exit 2 ;; esac
            case "$cgu" in ''|*[!0-9]*) echo "matrix.sh: bad codegen-units in $row" >&2; exit 2 ;; esac
            name="o${opt}-cgu${cgu}"
            label="release"
            lto="false"
            export CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt"
            export CARGO_PROFILE_RELEASE_CODEGEN_UNITS="$cgu"
            # Cargo's release profile with these two knobs: the workspace's one-unit override of
            # the multisig crate is pinned to the row's units too.
            cargo_profile=(--release --config "profile.release.package.multisig.codegen-units=$cgu")
            outdir="release"
            ;;
        *) echo "matrix.sh: bad row $row (want opt:units or profile:file)" >&2; exit 2 ;;
    esac
    td="$MATRIX_DIR/$name$TAG"
    # Cargo's release default (3, 16) differs from the repository's own release build only in the
    # multisig crate's units (one there): reuse target/, so that only multisig and the glue are
    # rebuilt (at 16 units, replacing the one-unit build there), not every dependency.
    if [ "$name" = "o3-cgu16" ] && [ -z "$TAG" ]; then
        td="$ROOT/target"
    fi
    mkdir -p "$td"
    export CARGO_TARGET_DIR="$td"
    echo "== row $name: building (log $td/build.log)" >&2

    t0="$(now)"
    if cargo build "${cargo_profile[@]}" --locked -p multisig-glue -p multisig >"$td/build.log" 2>&1; then
        built=yes
    else
        built=no
    fi
    build_s="$(elapsed "$t0")"
    bin="$td/$outdir"
    a_size="$(size_of "$bin/libmultisig_glue.a")"
    so_size="$(size_of "$bin/libmultisig_glue.so")"
    a_nodebug="$(stripped_size_of "$bin/libmultisig_glue.a")"
    so_nodebug="$(stripped_size_of "$bin/libmultisig_glue.so")"
    tls="$(tdata_align "$bin/libmultisig_glue.a")"
    rt="-"; thr="-"; ct="-"; probe="-"; cross="-"
    if [ "$built" = yes ]; then
        echo "== row $name: round trip, $SIGS signatures" >&2
        t1="$(now)"
        "$bin/multisig" bench --signatures "$SIGS" --json >"$td/roundtrip.log" 2>&1
        rc=$?
        rt_s="$(elapsed "$t1")"
        thr="$(throughput_of "$td/roundtrip.log")"
        if [ "$rc" -eq 0 ] && [ -n "$thr" ]; then
            rt=pass
            thr="$thr XMSS/s"
        elif [ "$rc" -eq 0 ]; then
            # Exit 0 but no throughput line: the bench did not report a proof, so no pass.
            rt="no result (exit 0, ${rt_s} s)"
            thr="-"
        elif [ "$rc" -ge 128 ]; then
            rt="CRASH (signal $((rc - 128)))"; thr="-"
        else
            rt="FAIL (exit $rc)"; thr="-"
        fi
        # Cross-build check on the real 4-signer vector: this row's proof must verify with this
        # row's binary and with the first row's, and be byte-identical to the first row's proof.
        # The prover is deterministic except for the FRI proof-of-work witness, which Plonky3
        # finds with a parallel `find_any` (whichever thread wins); on one rayon thread the search
        # is sequential, so every correct build must produce the same bytes.
        vec="$VECTORS/leansig_devnet4_aggregate_4.json"
        if [ -f "$vec" ]; then
            if RAYON_NUM_THREADS=1 "$bin/multisig" aggregate --input "$vec" --out "$td/agg4.proof" >"$td/agg4.log" 2>&1 &&
                "$bin/multisig" verify-aggregate --input "$vec" --proof "$td/agg4.proof" >>"$td/agg4.log" 2>&1; then
                sum="$(sha256sum "$td/agg4.proof" | cut -c1-12)"
                if [ -z "$FIRST_BIN" ]; then
                    # A copy outside the row's directory, which --prune deletes.
                    FIRST_BIN="$MATRIX_DIR/$name$TAG.multisig"; cp "$bin/multisig" "$FIRST_BIN"
                    FIRST_SUM="$sum"; FIRST_NAME="$name"
                    cross="$sum (reference)"
                elif "$FIRST_BIN" verify-aggregate --input "$vec" --proof "$td/agg4.proof" >>"$td/agg4.log" 2>&1; then
                    if [ "$sum" = "$FIRST_SUM" ]; then cross="$sum (= $FIRST_NAME)"
                    else cross="$sum (DIFFERS from $FIRST_NAME; verifies there)"; ALL_OK=0; fi
                else
                    cross="REJECTED by $FIRST_NAME"
                fi
            else
                cross="FAIL (see $td/agg4.log)"
            fi
        fi
        if [ "$CTESTS" -eq 1 ]; then
            echo "== row $name: C tests" >&2
            ct="$(run_ctests "$bin" "$td/ctests.log")"
        fi
        if [ "$PROBE" -eq 1 ]; then
            echo "== row $name: codegen probe" >&2
            if (cd build-profiles/probe && cargo build "${cargo_profile[@]/#build-profiles\//../}" --locked) \
                >"$td/probe-build.log" 2>&1; then
                "$bin/codegen-probe" check >"$td/probe.log" 2>&1
                rc=$?
                if [ "$rc" -eq 0 ]; then probe=pass
                elif [ "$rc" -ge 128 ]; then probe="CRASH (signal $((rc - 128)))"
                else probe="FAIL (exit $rc)"; fi
            else
                probe="build failed"
            fi
        fi
    fi
    case "$built/$rt/$ct/$probe" in
        yes/pass/pass*/pass|yes/pass/pass*/-|yes/pass/absent/*|yes/pass/-/*) ;;
        *) ALL_OK=0 ;;
    esac
    case "$cross" in FAIL*|REJECTED*) ALL_OK=0 ;; esac
    if [ "$opt" = s ] || [ "$opt" = z ]; then optq="\"$opt\""; else optq="$opt"; fi
    line="| $label | $optq | $cgu | $lto | $built | ${build_s} s | $rt | $cross | $ct"
    [ "$PROBE" -eq 1 ] && line="$line | $probe"
    line="$line | $thr | $(human "$a_size") ($(human "$a_nodebug")) | $(human "$so_size") ($(human "$so_nodebug")) | $tls |"
    TABLE_ROWS+=("$line")
    echo "   $line" >&2
    if [ "$PRUNE" -eq 1 ] && [ "$td" != "$ROOT/target" ]; then
        mkdir -p "$td.logs" && cp "$td"/*.log "$td.logs/" 2>/dev/null
        rm -rf "$td"
    fi
done
unset CARGO_TARGET_DIR CARGO_PROFILE_RELEASE_OPT_LEVEL CARGO_PROFILE_RELEASE_CODEGEN_UNITS

{
    echo "# Profile matrix"
    echo
    echo "Generated by \`build-profiles/matrix.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Host: ${HOST_CPU:-unknown}, $(nproc) cores; ${RUSTC:-rustc ?}; rustflags: ${FLAGS:-none};"
    echo "Rows named \"release\" are Cargo's release profile with the opt-level and codegen-units shown"
    echo "(lto = false: Cargo's default thin-local LTO); rows named after a file are the vetted profiles"
    echo "in build-profiles/, built with \`--config <file> --profile msig-*\`."
    echo "Round trip: \`multisig bench --signatures $SIGS --json\` (benchmark signers, aggregate, prove, verify);"
    echo "throughput = signatures proven per wall-clock second (xmss_per_s), so it moves with machine load."
    echo "4-signer proof: \`RAYON_NUM_THREADS=1 multisig aggregate\` on the real vector leansig_devnet4_aggregate_4.json"
    echo "(one thread makes the proof-of-work search, hence the bytes, deterministic), verified by the row's own"
    echo "binary and by the first row's; its sha256 prefix, which must equal the first row's."
    echo "C tests: c-tests/test_* under ASan + UBSan, linked against the row's libmultisig_glue.a."
    echo
    hdr="| profile | opt-level | codegen-units | lto | built | build time | round trip | 4-signer proof (sha256) | C tests"
    sep="| --- | --- | --- | --- | --- | --- | --- | --- | ---"
    [ "$PROBE" -eq 1 ] && { hdr="$hdr | probe"; sep="$sep | ---"; }
    echo "$hdr | proving throughput (N = $SIGS) | libmultisig_glue.a (without debug info) | libmultisig_glue.so (without debug info) | .tdata align |"
    echo "$sep | --- | --- | --- | --- |"
    for l in "${TABLE_ROWS[@]}"; do echo "$l"; done
} >"$OUT"
cat "$OUT"
[ "$ALL_OK" -eq 1 ] && exit 0 || exit 1
