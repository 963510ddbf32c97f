#!/usr/bin/env bash
# Runs `fsmc prove` on a reject-dynamic case: a well-formed spec whose proof must fail. Passes
# only when `fsmc check` accepts it, `fsmc prove` exits 1, the obligation named on the first line
# (`// expect-fail: NAME`) is reported FAILED, no other obligation fails unless a header line
# `// also-fails: NAME…` names it, and a counterexample event sequence is printed — except for a
# reachability obligation (a state or goal no trace reaches), which has no trace: there the
# prover must say why (`unreachable: …`). Another obligation left undecided by a time limit is
# reported and not counted.
#   expect_proof_failure.sh FSMC CASE.fsm [TRACE]
# With TRACE (mutation cases, expect_mutant_failure.sh) an invariant's counterexample must equal
# that checked-in regression trace, which must replay to the violation; FSM_REFRESH_TRACES=1
# (tests/gen/traces/refresh.sh) rewrites the trace from the prover's counterexample instead.
set -u
fsmc=$1 case=$2 trace=${3:-}
want=$(head -n 1 "$case" | sed -n 's|^// expect-fail: ||p')
[ -n "$want" ] || { echo "FAIL: $case has no '// expect-fail:' first line"; exit 1; }
also=$(head -n 8 "$case" | sed -n 's|^// also-fails: ||p')
"$fsmc" check "$case" || { echo "FAIL: the case does not compile; it must be well-formed"; exit 1; }
out=$("$fsmc" prove "$case" 2>&1); rc=$?
echo "$out"
if [ "$rc" -ne 1 ]; then echo "FAIL: fsmc prove exited $rc, expected 1"; exit 1; fi
failed=$(grep -E 'FAILED' <<<"$out" | grep -w -F -- "$want")
if [ -z "$failed" ]; then echo "FAIL: no FAILED line naming '$want'"; exit 1; fi
# Every other failure must be expected: a mutation that breaks more than it says is not minimal.
# An obligation the engine could not decide within its time limit ("unknown", e.g. under the
# sanitizers' slowdown) is not a failure of the mutant: it is reported, not counted.
while IFS= read -r line; do
  grep -q -w -F -- "$want" <<<"$line" && continue
  if grep -q 'unknown, time limit' <<<"$line"; then echo "undecided (time limit): $line"; continue; fi
  ok=0
  for a in $also; do grep -q -w -F -- "$a" <<<"$line" && ok=1; done
  [ "$ok" = 1 ] || { echo "FAIL: unexpected failure (not in expect-fail or also-fails): $line"; exit 1; }
done < <(grep -E '^ +FAILED ' <<<"$out")
for a in $also; do
  grep -E '^ +FAILED ' <<<"$out" | grep -q -w -F -- "$a" || { echo "FAIL: also-fails names '$a', which did not fail"; exit 1; }
done
if grep -q 'FAILED   reachable' <<<"$failed"; then
  grep -q 'unreachable: ' <<<"$out" || { echo "FAIL: no explanation of the unreachable target"; exit 1; }
  echo "ok: $want fails (unreachable, no trace exists)"; exit 0
fi
if ! grep -q 'counterexample (' <<<"$out"; then echo "FAIL: no counterexample printed"; exit 1; fi
if ! grep -qE '^ +1\. ' <<<"$out"; then echo "FAIL: the counterexample has no event sequence"; exit 1; fi
# An invariant's counterexample must replay: fed to the reference interpreter (`fsmc run`), its
# events must end in a state where that invariant does not hold. This checks the prover's
# encoding against the interpreter's semantics on every case.
# A system's counterexample (spec/README.md "Systems") names events across instances; `fsmc run`
# runs one machine, so it is checked as printed (above), not replayed, and has no regression trace.
if grep -q 'FAILED   invariant' <<<"$failed"; then
  name=$(awk '{print $3}' <<<"$failed" | head -n 1)
  kind=$(awk -v n="$name" '/^(machine|system) /{k=$1} $1 == "FAILED" && $2 == "invariant" && $3 == n {print k; exit}' <<<"$out")
  if [ "$kind" = system ]; then
    [ -z "$trace" ] || [ ! -f "$trace" ] || { echo "FAIL: $trace exists, but a system's counterexample is not replayed"; exit 1; }
    grep -qE '^ +state: .*\.len=' <<<"$out" || { echo "FAIL: the system counterexample shows no queue"; exit 1; }
    echo "ok: $want fails with a counterexample across instances (not replayed: fsmc run runs one machine)"; exit 0
  fi
  script=$(awk -v n="$name" '
    $1 == "FAILED" && $2 == "invariant" { inblk = ($3 == n); next }
    inblk && /^ +[0-9]+\. / {
      line = $0; sub(/^ +[0-9]+\. /, "", line); sub(/ -> .*$/, "", line)
      if (index(line, "(") == 0) { print line; next }   # an event without payload
      ev = line; sub(/\(.*$/, "", ev)
      args = line; sub(/^[^(]*\(/, "", args); sub(/\)$/, "", args)
      n2 = split(args, parts, ", "); out = ev
      for (i = 1; i <= n2; i++) { v = parts[i]; sub(/^[^=]*=/, "", v); if (v != "") out = out " " v }
      print out; next }
    inblk && /^ +state:/ { inblk = 0 }' <<<"$out")
  [ -n "$script" ] || { echo "FAIL: could not read the counterexample of $name"; exit 1; }
  violated() {  # stdin: events; true when `fsmc run` ends with $name violated
    local last; last=$("$fsmc" run "$case" 2>&1 | tail -n 1)
    case ",${last##*| }," in *",$name,"*) return 0 ;; *) echo "last line: $last"; return 1 ;; esac
  }
  printf '%s\n' "$script" | violated || { echo "FAIL: the counterexample of $name does not replay in fsmc run"; exit 1; }
  echo "replayed: $(wc -l <<<"$script") events through fsmc run end with $name violated"
  if [ -n "$trace" ]; then
    spec=$(head -n 8 "$case" | sed -n 's|^// spec: ||p')
    from=$(head -n 8 "$case" | sed -n 's|^// case: ||p')
    machine=$(sed -n 's|^machine \([A-Za-z_][A-Za-z0-9_]*\) (.*|\1|p' <<<"$out" | head -n 1)
    base=$(basename "$spec" .fsm) cname=$(basename "$from" .mut)
    expected=$(printf '%s\n' \
      "# Regression trace (DESIGN.md §4): the counterexample \`fsmc prove\` finds for invariant" \
      "# $name on the mutant $from." \
      "# The real spec must run it with every invariant holding (ctest property.$base.traces);" \
      "# the mutant must still end with $name violated (ctest unit.reject-dynamic.$cname)." \
      "# Written by tests/gen/traces/refresh.sh from the prover's output; do not edit." \
      "# spec: $spec" "# machine: $machine" "# invariant: $name" "$script")
    if [ "${FSM_REFRESH_TRACES:-0}" = 1 ]; then
      printf '%s\n' "$expected" >"$trace" || { echo "FAIL: cannot write $trace"; exit 1; }
      echo "refreshed: $trace"
    fi
    [ -f "$trace" ] || { echo "FAIL: no regression trace $trace; run tests/gen/traces/refresh.sh"; exit 1; }
    # The checked-in trace is a regression input, not the prover's expected output: another Z3
    # or search order may find another counterexample. What must hold is that it still breaks
    # the mutant (here) and that the real spec runs it cleanly (property.<spec>.traces).
    if ! diff -q "$trace" <(printf '%s\n' "$expected") >/dev/null; then
      echo "note: the prover now finds another counterexample than $trace; that one must still break the mutant"
    fi
    violated <"$trace" || { echo "FAIL: the regression trace $trace does not end with $name violated on the mutant"; exit 1; }
    echo "replayed: the regression trace $trace ends with $name violated on the mutant"
  fi
fi
echo "ok: $want fails with a counterexample"
