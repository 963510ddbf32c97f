#!/usr/bin/env bash
# Staleness test: the generator's output for the golden specs must equal the reviewed files.
# On a difference it shows the diff and the one command that refreshes them.
set -u
FSMC=$(realpath "$1")
cd "$(dirname "$0")/../.."
. tests/golden/outputs.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
produce "$tmp" || { echo "FAIL: fsmc could not produce the golden outputs"; exit 1; }
stale=0
for f in "${golden_files[@]}"; do
  if ! diff -u "tests/golden/$f" "$tmp/$f"; then stale=1; fi
done
if [ "$stale" -ne 0 ]; then
  echo "FAIL: goldens are stale. If the change is intended, run:"
  echo "  tests/golden/refresh.sh $FSMC && git diff tests/golden"
  exit 1
fi
echo "ok: ${#golden_files[@]} golden files match"
