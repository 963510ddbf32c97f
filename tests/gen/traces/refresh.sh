#!/usr/bin/env bash
# Rewrites every regression trace tests/gen/traces/<case>.trace from the counterexample `fsmc
# prove` finds on the mutant of reject-dynamic case <case>.mut (DESIGN.md §4), after a deliberate
# spec or prover change. Usage: tests/gen/traces/refresh.sh PATH/TO/fsmc — then review `git diff`.
set -eu
FSMC=$(realpath "$1")
root=$(cd "$(dirname "$0")/../../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
for case in "$root"/tests/gen/reject-dynamic/*.mut; do
  FSM_REFRESH_TRACES=1 bash "$root/tests/gen/expect_mutant_failure.sh" "$FSMC" "$root" "$scratch" "$case" \
    >"$scratch/log" 2>&1 || { cat "$scratch/log"; echo "FAILED: $case"; failed=1; }
  grep '^refreshed: ' "$scratch/log" || true
done
exit $failed
