#!/usr/bin/env bash
# `fsmc run` must refuse malformed event lines with a specific error and exit 2, and answer
# a well-formed script with exactly one line per event.
set -u
fsmc=$1 spec=$2
check() {  # input, expected stderr fragment
  out=$(printf '%b' "$1" | "$fsmc" run "$spec" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne 2 ] || ! grep -qF -- "$2" <<<"$out"; then
    echo "FAIL: input '$1': rc=$rc, stderr: $out (expected: $2)"; exit 1
  fi
}
check 'nosuch 1\n' "error: line 1: unknown event 'nosuch'"
check 'code\n' "error: line 1: event 'code' takes 1 values, found 0"
check 'code 1 2\n' "takes 1 values, found 2"
check 'close\ncode x\n' "error: line 2: expected an unsigned 32-bit value, found 'x'"
check 'code 4294967296\n' "expected an unsigned 32-bit value, found '4294967296'"
n=$(printf 'code 1\n# comment\n\ncode 70000\nreset\nclose\n' | "$fsmc" run "$spec" | wc -l)
[ "$n" -eq 5 ] || { echo "FAIL: expected 5 lines (init, 2 events, reset, 1 event), got $n"; exit 1; }
line=$(printf 'code 70000\n' | "$fsmc" run "$spec" | tail -n 1)
case "$line" in badpayload*) ;; *) echo "FAIL: out-of-domain payload gave: $line"; exit 1;; esac
echo "ok: malformed input refused, well-formed input answered"
