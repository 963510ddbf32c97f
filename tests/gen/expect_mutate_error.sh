#!/usr/bin/env bash
# Runs `fsmc mutate` on a broken mutation case (tests/gen/reject-mutation/*.mut) and passes only
# when it fails with the diagnostic named on the case's first line (`# expect: TEXT`), reported
# as file:line:col: error: TEXT, and writes no mutant.
#   expect_mutate_error.sh FSMC SOURCE_DIR OUT_DIR CASE.mut
set -u
fsmc=$1 src=$2 outdir=$3 case=$4
want=$(head -n 1 "$case" | sed -n 's|^# expect: ||p')
[ -n "$want" ] || { echo "FAIL: $case has no '# expect:' first line"; exit 1; }
mkdir -p "$outdir" || exit 1
mutant=$outdir/$(basename "$case" .mut).fsm
rm -f "$mutant"
out=$("$fsmc" mutate --root "$src" -o "$mutant" "$case" 2>&1); rc=$?
if [ "$rc" -ne 1 ]; then echo "FAIL: fsmc mutate exited $rc, expected 1"; echo "$out"; exit 1; fi
if [ -e "$mutant" ]; then echo "FAIL: fsmc mutate wrote $mutant although it failed"; exit 1; fi
if ! grep -E '^[^:]+:[0-9]+:[0-9]+: error: ' <<<"$out" | grep -qF -- "$want"; then
  echo "FAIL: expected a diagnostic containing: $want"; echo "got:"; echo "$out"; exit 1
fi
echo "ok: $want"
