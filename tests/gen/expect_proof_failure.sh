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
# An invariant's counterexample must replay: fed to the reference interpreter (`fsmc run`), its
# events must end in a state where that invariant does not hold. This checks the prover's
# encoding against the interpreter's semantics on every case.
if grep -q 'FAILED   invariant' <<<"$failed"; then
  name=$(awk '{print $3}' <<<"$failed" | head -n 1)
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
  last=$(printf '%s\n' "$script" | "$fsmc" run "$case" 2>&1 | tail -n 1)
  case ",${last##*| }," in
    *",$name,"*) echo "replayed: $(wc -l <<<"$script") events through fsmc run end with $name violated" ;;
    *) echo "FAIL: the counterexample of $name does not replay in fsmc run; last line: $last"; exit 1 ;;
  esac
fi
echo "ok: $want fails with a counterexample"
