#!/usr/bin/env bash
# Runs a reject-dynamic mutation case (`tests/gen/reject-dynamic/*.mut`, format in spec/README.md
# "Mutation cases"): `fsmc mutate` applies its hunks to today's spec — the test FAILS when a hunk
# no longer matches exactly once — and expect_proof_failure.sh proves the mutant in the build tree
# and checks the expected failure and the case's regression trace (tests/gen/traces/<case>.trace).
#   expect_mutant_failure.sh FSMC SOURCE_DIR MUTANT_DIR CASE.mut
set -u
fsmc=$1 src=$2 outdir=$3 case=$4
name=$(basename "$case" .mut)
mutant=$outdir/$name.fsm
mkdir -p "$outdir" || { echo "FAIL: cannot create $outdir"; exit 1; }
if ! "$fsmc" mutate --root "$src" -o "$mutant" "$case"; then
  echo "FAIL: the mutation $case no longer applies to today's spec (see the error above)"; exit 1
fi
exec bash "$(dirname "$0")/expect_proof_failure.sh" "$fsmc" "$mutant" "$src/tests/gen/traces/$name.trace"
