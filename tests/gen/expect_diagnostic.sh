#!/usr/bin/env bash
# Runs `fsmc check` on a reject-static case and passes only when it fails with the diagnostic
# named on the case's first line (`// expect: TEXT`), reported as file:line:col: error: TEXT.
set -u
fsmc=$1 case=$2
want=$(head -n 1 "$case" | sed -n 's|^// expect: ||p')
[ -n "$want" ] || { echo "FAIL: $case has no '// expect:' first line"; exit 1; }
out=$("$fsmc" check "$case" 2>&1); rc=$?
if [ "$rc" -ne 1 ]; then echo "FAIL: fsmc check exited $rc, expected 1"; echo "$out"; exit 1; fi
if ! grep -E '^[^:]+:[0-9]+:[0-9]+: error: ' <<<"$out" | grep -qF -- "$want"; then
  echo "FAIL: expected a diagnostic containing: $want"; echo "got:"; echo "$out"; exit 1
fi
echo "ok: $want"
