#!/usr/bin/env bash
# tests/bench/vtpmd_run.sh: vtpmd against Debian's swtpm 0.7.1 in one run (not part of ctest).
# Builds vtpmd_bench (and vtpmd when no path is given), then runs it with the daemons pinned to
# CPU 1 and the client to CPU 0, and prints the table of ratios vtpmd/swtpm. See README.md.
#
#   bash tests/bench/vtpmd_run.sh [VTPMD [SWTPM]] [-- vtpmd_bench options…]
#   bash tests/bench/vtpmd_run.sh /usr/bin/swtpm /usr/bin/swtpm     # sanity run: ratios ~1.0
#   bash tests/bench/vtpmd_run.sh "" /usr/bin/swtpm -- --only a,c --n 2000
#   FSM_BENCH_BUILD=DIR   use an existing build directory instead of build/default
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
vtpmd=${1:-}
swtpm=${2:-/usr/bin/swtpm}
shift $(($# > 2 ? 2 : $#))
[ "${1:-}" = "--" ] && shift

targets=(vtpmd_bench)
[ -n "$vtpmd" ] || targets+=(vtpmd)
if [ -n "${FSM_BENCH_BUILD:-}" ]; then
  build=$FSM_BENCH_BUILD
  cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null
else
  build=$repo/build/default
  [ -f "$build/build.ninja" ] || cmake --preset default >/dev/null
  cmake --build --preset default -j2 --target "${targets[@]}" >/dev/null
fi
# The targets' own places (a search could find a stale binary an older layout left behind).
bench=$build/tests/bench/vtpmd_bench
if [ -z "$vtpmd" ]; then
  vtpmd=$build/transports/vtpmd/vtpmd
  [ -x "$vtpmd" ] || { echo "vtpmd_run.sh: no vtpmd built in $build; give its path" >&2; exit 2; }
fi
[ -x "$swtpm" ] || { echo "vtpmd_run.sh: $swtpm is not executable" >&2; exit 2; }

pin=()
cpus=(--daemon-cpu 1 --client-cpu 0)
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null && taskset -c 1 true 2>/dev/null; then
  pin=(taskset -c 0)
else
  cpus=(--daemon-cpu -1 --client-cpu -1)
  echo "== taskset or a second CPU missing: running unpinned"
fi
echo "== vtpmd: $vtpmd"
echo "== swtpm: $swtpm ($("$swtpm" --version 2>&1 | head -n1))"
"${pin[@]}" "$bench" --vtpmd "$vtpmd" --swtpm "$swtpm" "${cpus[@]}" "$@"
