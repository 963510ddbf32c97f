#!/usr/bin/env bash
# The project's one set-up script for a fresh Debian 12 machine, run as root. It installs the
# Debian packages that are missing, builds, and runs either the main job or the test suite:
#   ./setup.sh main   build; prove every spec and write diagrams; start a vTPM (vtpmd) and use it
#   ./setup.sh test   build every preset and run the whole test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ make pkg-config ragel z3 libz3-dev librapidcheck-dev libgtest-dev
          clang-14 libclang-rt-14-dev libfuzzer-14-dev binutils graphviz valgrind
          libtpms-dev libssl-dev swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0
          qemu-system-x86 seabios ipxe-qemu procps iproute2 libseccomp-dev libtss2-dev
          libxen-dev xenstore-utils python3)
JOBS=${JOBS:-2}

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() {  # preset
  echo "== build ($1)"
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$JOBS"
}

TOTAL_PASS=0
TOTAL_FAIL=0
run_ctest() {  # build dir, extra ctest args...
  local dir=$1; shift
  local log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local line
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  rm -f "$log"
  if [ -z "$line" ]; then echo "== no tests ran in $dir $*"; TOTAL_FAIL=$((TOTAL_FAIL + 1)); return; fi
  local failed total
  failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.*failed out of ([0-9]+).*/\1/' <<<"$line")
  TOTAL_PASS=$((TOTAL_PASS + total - failed))
  TOTAL_FAIL=$((TOTAL_FAIL + failed))
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then TOTAL_FAIL=$((TOTAL_FAIL + 1)); fi
}

main_job() {
  install_missing
  build default
  local fsmc=build/default/gen/fsmc
  echo "== fsmc check spec/*.fsm"
  "$fsmc" check spec/*.fsm
  echo "== fsmc prove spec/*.fsm"
  "$fsmc" prove spec/*.fsm
  mkdir -p out/diagrams
  "$fsmc" emit --dot --table -o out/diagrams spec/*.fsm
  for d in out/diagrams/*.dot; do dot -Tsvg "$d" -o "${d%.dot}.svg"; done
  echo "== diagrams and transition tables written to out/diagrams/:"
  ls out/diagrams
  echo "== a vTPM: vtpmd on embedded defaults, used by tpm2-tools"
  bash transports/vtpmd/demo.sh build/default/transports/vtpmd/vtpmd
  echo "== vTPMs under vtpm-manager: the key sealed to a (simulated) TPM, rollback refused"
  bash transports/manager/demo.sh build/default
}

test_job() {
  install_missing
  build default
  run_ctest build/default
  build assurance
  run_ctest build/assurance -L 'unit|property'
  build fuzz
  run_ctest build/fuzz -L fuzz-smoke
  build sanitize
  run_ctest build/sanitize -L 'unit|property|golden|integration|differential'
  echo
  echo "total: $TOTAL_PASS passed, $TOTAL_FAIL failed"
  [ "$TOTAL_FAIL" -eq 0 ]
}

case "${1:-}" in
  main) main_job ;;
  test) test_job ;;
  *) echo "usage: $0 main|test" >&2; exit 2 ;;
esac
