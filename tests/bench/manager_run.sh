#!/usr/bin/env bash
# tests/bench/manager_run.sh: what vtpm-manager costs, in one run (not part of ctest). Builds
# manager_bench, vtpmd, vtpm-manager and vtpmctl in the build directory, runs manager_bench with
# the daemons pinned to CPU 1 and the client to CPU 0, and prints its summary table. See README.md.
#
#   bash tests/bench/manager_run.sh [BUILD_DIR] [-- manager_bench options…]
#   bash tests/bench/manager_run.sh build/default -- --only n --reps 7
#   SWTPM=/usr/bin/swtpm   the reference swtpm (default /usr/bin/swtpm)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build=${1:-$repo/build/default}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
swtpm=${SWTPM:-/usr/bin/swtpm}

if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  [ "$build" = "$repo/build/default" ] || { echo "manager_run.sh: $build is not a configured build directory" >&2; exit 2; }
  cmake --preset default >/dev/null
fi
cmake --build "$build" -j2 --target manager_bench vtpmd vtpm-manager vtpmctl >/dev/null
# The targets' own places (a search could find a stale binary an older layout left behind).
bench=$build/tests/bench/manager_bench
vtpmd=$build/transports/vtpmd/vtpmd
manager=$build/transports/manager/vtpm-manager
for x in "$bench" "$vtpmd" "$manager"; do
  [ -x "$x" ] || { echo "manager_run.sh: $x is missing" >&2; exit 2; }
done
[ -x "$swtpm" ] || { echo "manager_run.sh: $swtpm is not executable" >&2; exit 2; }

pin=()
cpus=(--daemon-cpu 1 --client-cpu 0)
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null && taskset -c 1 true 2>/dev/null; then
  pin=(taskset -c 0)
else
  cpus=(--daemon-cpu -1 --client-cpu -1)
  echo "== taskset or a second CPU missing: running unpinned"
fi
echo "== vtpmd: $vtpmd"
echo "== vtpm-manager: $manager"
echo "== swtpm: $swtpm ($("$swtpm" --version 2>&1 | head -n1))"
echo "== file system of \$TMPDIR: $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}')"
"${pin[@]}" "$bench" --vtpmd "$vtpmd" --manager "$manager" --swtpm "$swtpm" "${cpus[@]}" "$@"
