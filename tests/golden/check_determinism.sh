#!/usr/bin/env bash
# Determinism: fsmc output must be byte-identical (1) across two runs, (2) from a different
# working directory with absolute paths, and (3) for a spec whose declarations are reordered.
set -u
FSMC=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
kinds=(--cpp --smt --dot --table --rc --fuzz)
# The system example adds a system's DOT view (and its machines' outputs).
specs=($(cd "$repo" && echo spec/*.fsm) tests/golden/door.fsm tests/gen/accept/system_client_server.fsm)
fail=0
(cd "$repo" && "$FSMC" emit "${kinds[@]}" -o "$tmp/run1" "${specs[@]}") || { echo "FAIL: emit run 1"; exit 1; }
(cd "$repo" && "$FSMC" emit "${kinds[@]}" -o "$tmp/run2" "${specs[@]}") || { echo "FAIL: emit run 2"; exit 1; }
abs=(); for s in "${specs[@]}"; do abs+=("$repo/$s"); done
(cd / && "$FSMC" emit "${kinds[@]}" -o "$tmp/run3" "${abs[@]}") || { echo "FAIL: emit run 3"; exit 1; }
diff -r "$tmp/run1" "$tmp/run2" || { echo "FAIL: two runs differ"; fail=1; }
[ -f "$tmp/run1/client_server.system.dot" ] || { echo "FAIL: no system DOT view emitted"; fail=1; }
diff -r "$tmp/run1" "$tmp/run3" || { echo "FAIL: output depends on the working directory"; fail=1; }
if grep -rl -e "$repo" -e "$tmp" "$tmp/run1" ; then echo "FAIL: a host path leaked into the output"; fail=1; fi
n=$(find "$tmp/run1" -type f | wc -l)
[ "$n" -ge 10 ] || { echo "FAIL: only $n files emitted"; fail=1; }
# reordered declarations: same display path (door.fsm, relative to a directory outside any repo)
mkdir -p "$tmp/a" "$tmp/b"
cp "$repo/tests/golden/door.fsm" "$tmp/a/door.fsm"
cp "$repo/tests/golden/door_reordered.fsm" "$tmp/b/door.fsm"
cmp -s "$tmp/a/door.fsm" "$tmp/b/door.fsm" && { echo "FAIL: the reordered spec is not reordered"; fail=1; }
(cd "$tmp/a" && "$FSMC" emit "${kinds[@]}" -o "$tmp/out_a" door.fsm) || { echo "FAIL: emit a"; exit 1; }
(cd "$tmp/b" && "$FSMC" emit "${kinds[@]}" -o "$tmp/out_b" door.fsm) || { echo "FAIL: emit b"; exit 1; }
diff -r "$tmp/out_a" "$tmp/out_b" || { echo "FAIL: reordering declarations changed the output"; fail=1; }
# A system's counterexample (spec/README.md "Systems") is the same run to run (times aside).
"$FSMC" mutate --root "$repo" -o "$tmp/sys_mutant.fsm" "$repo/tests/gen/reject-dynamic/system_lost_response.mut" ||
  { echo "FAIL: fsmc mutate on the system case"; exit 1; }
for k in 1 2; do "$FSMC" prove "$tmp/sys_mutant.fsm" | sed -E 's/[0-9]+\.[0-9]+ s/T s/g' >"$tmp/sys_prove$k.txt"; done
grep -q 'counterexample (' "$tmp/sys_prove1.txt" || { echo "FAIL: the system mutant printed no counterexample"; fail=1; }
diff "$tmp/sys_prove1.txt" "$tmp/sys_prove2.txt" || { echo "FAIL: two system proofs differ"; fail=1; }
[ "$fail" -eq 0 ] && echo "ok: $n files byte-identical across runs, directories and reordering"
exit "$fail"
