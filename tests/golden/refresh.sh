#!/usr/bin/env bash
# Regenerates the reviewed goldens in tests/golden/ after a deliberate generator change.
# Usage (from anywhere): tests/golden/refresh.sh PATH/TO/fsmc   — then review `git diff`.
set -eu
FSMC=$(realpath "$1")
cd "$(dirname "$0")/../.."
. tests/golden/outputs.sh
produce tests/golden
echo "refreshed: ${golden_files[*]} (review with: git diff tests/golden)"
