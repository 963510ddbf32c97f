#!/usr/bin/env bash
# Runs `fsmc prove` on a reject-dynamic case: a well-formed spec whose proof must fail. Passes
# only when `fsmc check` accepts it, `fsmc prove` exits 1, the obligation named on the first line
# (`// expect-fail: NAME`) is reported FAILED, and a counterexample event sequence is printed —
# except for a reachability obligation (a state or goal no trace reaches), which has no trace:
# there the prover must say why (`unreachable: …`).
set -u
fsmc=$1 case=$2
want=$(head -n 1 "$case" | sed -n 's|^// expect-fail: ||p')
[ -n "$want" ] || { echo "FAIL: $case has no '// expect-fail:' first line"; exit 1; }
"$fsmc" check "$case" || { echo "FAIL: the case does not compile; it must be well-formed"; exit 1; }
out=$("$fsmc" prove "$case" 2>&1); rc=$?
echo "$out"
if [ "$rc" -ne 1 ]; then echo "FAIL: fsmc prove exited $rc, expected 1"; exit 1; fi
failed=$(grep -E 'FAILED' <<<"$out" | grep -w -- "$want")
if [ -z "$failed" ]; then echo "FAIL: no FAILED line naming '$want'"; exit 1; fi
if grep -q 'FAILED   reachable' <<<"$failed"; then
  grep -q 'unreachable: ' <<<"$out" || { echo "FAIL: no explanation of the unreachable target"; exit 1; }
  echo "ok: $want fails (unreachable, no trace exists)"; exit 0
fi
if ! grep -q 'counterexample (' <<<"$out"; then echo "FAIL: no counterexample printed"; exit 1; fi
if ! grep -qE '^ +1\. ' <<<"$out"; then echo "FAIL: the counterexample has no event sequence"; exit 1; fi
echo "ok: $want fails with a counterexample"
