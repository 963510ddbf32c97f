#!/usr/bin/env bash
# The reviewed golden outputs: which spec produces which files under tests/golden/.
# Sourced by refresh.sh and check_golden.sh so the two never disagree.
golden_specs=(tests/golden/door.fsm)
golden_kinds=(--cpp --dot --table)
golden_files=(door.h door.dot door.md door.ir.txt)
# produce DIR: writes every golden file for the current tree into DIR (run from the repo root)
produce() {
  "$FSMC" emit "${golden_kinds[@]}" -o "$1" "${golden_specs[@]}" || return 1
  "$FSMC" --dump=ir "${golden_specs[@]}" > "$1/door.ir.txt" || return 1
}
