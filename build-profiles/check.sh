#!/usr/bin/env bash
# Static checks of the vetted profile files (fast; no build): each build-profiles/*.toml parses as
# TOML, defines exactly one top-level [profile.msig-*] table that inherits from "release" or "dev",
# keeps panic = "unwind" (the C glue needs unwinding to turn panics into MSIG_PANIC), and never
# combines opt-level "z" with codegen-units = 1 (the combination of CODEGEN.md's hazard).
# Then asks Cargo itself to load the profile (`cargo clean --dry-run --config <file> --profile <name>`
# resolves the profile exactly as a build would, and deletes nothing).
# Prints one line per file and a closing "N passed, M failed" line; exit 1 on any failure.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
pass=0
fail=0
for f in build-profiles/*.toml; do
    if msg="$(python3 - "$f" <<'PY'
import sys, tomllib
def fail(exc_type, exc, tb):
    print(exc)
    sys.exit(1)
sys.excepthook = fail
path = sys.argv[1]
with open(path, "rb") as fh:
    doc = tomllib.load(fh)
profiles = doc.get("profile", {})
names = [n for n in profiles if n.startswith("msig-")]
assert len(names) == 1, f"want one [profile.msig-*] table, found {names}"
p = profiles[names[0]]
assert p.get("inherits") in ("release", "dev"), "inherits must be release or dev"
assert p.get("panic", "unwind") == "unwind", "panic must stay unwind"
opt = p.get("opt-level")
units = p.get("codegen-units")
assert not (opt == "z" and units == 1), 'opt-level "z" with codegen-units 1 is the hazard'
for pkg, over in p.get("package", {}).items():
    assert not (over.get("opt-level") == "z" and units == 1), f"package {pkg}: z with one unit"
print(f"{names[0]} opt-level={opt!r} codegen-units={units!r} lto={p.get('lto', False)!r}")
PY
)" && cargo clean --dry-run --offline --config "$f" --profile "${msg%% *}" -p multisig \
        >/dev/null 2>/tmp/check-profiles.$$; then
        echo "ok   $f ($msg)"
        pass=$((pass + 1))
    else
        echo "FAIL $f: ${msg:-$(cat /tmp/check-profiles.$$ 2>/dev/null)}"
        fail=$((fail + 1))
    fi
    rm -f /tmp/check-profiles.$$
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
