#!/usr/bin/env bash
# tests/bench/run.sh: the on-demand benchmark (not part of ctest). Builds what it needs, then
# prints how the generated TisLocality compares with the hand-written one (time and
# instructions per event) and how long fsmc takes over every spec. See tests/bench/README.md.
#
#   bash tests/bench/run.sh
#   FSM_BENCH_BUILD=DIR   use an existing build directory instead of build/default
#   EVENTS=N              events per timed run (default 20000000)
#   CG_EVENTS=N           events per callgrind run (default 2000000)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
events=${EVENTS:-20000000}
cg_events=${CG_EVENTS:-2000000}

if [ -n "${FSM_BENCH_BUILD:-}" ]; then
  build=$FSM_BENCH_BUILD
  cmake --build "$build" -j2 --target tis_bench fsmc >/dev/null
else
  build=$repo/build/default
  [ -f "$build/build.ninja" ] || cmake --preset default >/dev/null
  cmake --build --preset default -j2 --target tis_bench fsmc >/dev/null
fi
bench=$build/tests/bench/tis_bench
fsmc=$build/gen/fsmc

pin=()
if command -v taskset >/dev/null && taskset -c 1 true 2>/dev/null; then pin=(taskset -c 1); fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== tis_bench --events $events ${pin[*]:+(pinned: ${pin[*]})}"
"${pin[@]}" "$bench" --events "$events" | tee "$tmp/bench.txt"
field() { sed -n "s/^$1 *\([0-9.]*\) M events\/s.*/\1/p" "$tmp/bench.txt"; }
gen_eps=$(field generated:)
hand_eps=$(field handwritten:)
ratio=$(sed -n 's/^ratio generated\/handwritten: //p' "$tmp/bench.txt")

# Instructions per event: callgrind's Ir of a run of one version minus that of a run that only
# builds the stream (--only none).
ir_gen=n/a ir_hand=n/a ir_ratio=n/a
if command -v valgrind >/dev/null; then
  echo "== callgrind, $cg_events events"
  ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" --only "$1" --events "$cg_events" 2>&1 |
      sed -n 's/.*Collected : *//p' | tr -d ,
  }
  base=$(ir none)
  g=$(ir generated)
  h=$(ir handwritten)
  read -r ir_gen ir_hand ir_ratio < <(awk -v b="$base" -v g="$g" -v h="$h" -v n="$cg_events" \
    'BEGIN { printf "%.2f %.2f %.3f\n", (g - b) / n, (h - b) / n, (g - b) / (h - b) }')
  echo "instructions/event generated: $ir_gen handwritten: $ir_hand ratio: $ir_ratio"
else
  echo "== valgrind not installed: no instruction counts"
fi

# Wall time of fsmc over every spec, median of 3 (milliseconds).
median_ms() {
  local t=()
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    t+=($(((t1 - t0) / 1000000)))
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n 2p
}
specs=(spec/*.fsm)
echo "== fsmc over ${specs[*]}"
emit_ms=$(median_ms "$fsmc" emit --cpp --dot --table --rc --fuzz --smt -o "$tmp/emit" "${specs[@]}")
prove_ms=$(median_ms "$fsmc" prove "${specs[@]}")

echo
echo "| figure | value |"
echo "|---|---|"
echo "| generated dispatch | $gen_eps M events/s |"
echo "| hand-written dispatch | $hand_eps M events/s |"
echo "| time ratio generated/handwritten (goal <= 1.05) | $ratio |"
echo "| instructions/event generated (callgrind) | $ir_gen |"
echo "| instructions/event hand-written (callgrind) | $ir_hand |"
echo "| instruction ratio generated/handwritten | $ir_ratio |"
echo "| fsmc emit --cpp --dot --table --rc --fuzz --smt spec/*.fsm (median of 3) | $emit_ms ms |"
echo "| fsmc prove spec/*.fsm (median of 3) | $prove_ms ms |"
