#!/bin/bash
# measure_syscalls.sh: how sandbox.cpp's allow-list was measured, to be rerun when vtpmd changes.
# Runs the integration scripts against vtpmd under `strace -ff` with `--seccomp action=log` (the
# filter is installed, nothing is killed) and counts, per system call, the calls each vtpmd process
# made after its seccomp(SECCOMP_SET_MODE_FILTER) — i.e. while serving and exiting.
# Usage: measure_syscalls.sh VTPMD [SCRIPT…]   (default: every tests/integration/*.sh but lib.sh,
# and the integration.bad-input binary of the same build tree, which starts $VTPMD itself)
# MODE=audit: no strace (LeakSanitizer refuses to run under ptrace, so sanitizer builds need this):
# the kernel's seccomp log records (dmesg, "audit: type=1326 … code=0x7ffc0000") of this VTPMD
# binary name every call outside the allow-list that action=log let through (or kill mode killed:
# run the sanitizer build in kill mode, add what killed it, repeat; the kernel rate-limits these).
set -u -o pipefail
vtpmd=$(realpath "${1:?usage: $0 VTPMD [SCRIPT…]}")
shift
here=$(cd "$(dirname "$0")" && pwd)
it=$here/../../tests/integration
scripts=("$@")
if ((${#scripts[@]} == 0)); then
  # sandbox_seccomp.sh is left out: it checks action=none, which the wrapper overrides.
  for f in "$it"/*.sh; do
    case $(basename "$f") in lib.sh | sandbox_seccomp.sh) ;; *) scripts+=("$f") ;; esac
  done
  bad_input=$(dirname "$vtpmd")/../../tests/badinput/bad_input_test
  [[ -x $bad_input ]] || { echo "build $bad_input first (target bad_input_test)" >&2; exit 1; }
  scripts+=("$(realpath "$bad_input")")
fi
mode=${MODE:-strace}
if [[ $mode == strace ]]; then
  command -v strace >/dev/null || { echo "strace is needed (Debian package strace)" >&2; exit 1; }
else
  dmesg >/dev/null || { echo "MODE=audit needs to read the kernel log (dmesg)" >&2; exit 1; }
  dmesg_before=$(dmesg | wc -l)
fi

work=$(mktemp -d /tmp/vtpmd-measure.XXXXXX)
mkdir "$work/traces"
# The wrapper the scripts start instead of vtpmd: the last --seccomp wins, so action=log is used;
# -D keeps vtpmd at the PID the script started (the tracer is a detached grandchild).
if [[ $mode == strace ]]; then
  cat >"$work/vtpmd" <<EOF
#!/bin/bash
exec strace -D -ff -qq -o "$work/traces/t.\$\$" "$vtpmd" "\$@" --seccomp action=log
EOF
else
  cat >"$work/vtpmd" <<EOF
#!/bin/bash
exec "$vtpmd" "\$@" --seccomp action=log
EOF
fi
chmod +x "$work/vtpmd"

for s in "${scripts[@]}"; do
  if [[ $s == *.sh ]]; then run=(bash "$s" "$work/vtpmd"); else run=(env VTPMD="$work/vtpmd" "$s"); fi
  if "${run[@]}" >"$work/$(basename "$s").log" 2>&1; then
    echo "pass: $(basename "$s")"
  else
    echo "FAIL: $(basename "$s") (see $work/$(basename "$s").log)"
  fi
done

if [[ $mode != strace ]]; then
  # syscall numbers of this machine's ABI -> names, from the C library's headers.
  echo '#include <sys/syscall.h>' | gcc -dM -E - |
    awk '$2 ~ /^__NR_/ && $3 ~ /^[0-9]+$/ { print $3, substr($2, 6) }' >"$work/nr.txt"
  dmesg | tail -n +"$((dmesg_before + 1))" | grep -F "exe=\"$vtpmd\"" | grep -E 'code=0x7ffc0000|sig=31 ' |
    sed -n 's/.* syscall=\([0-9]*\) .*/\1/p' | sort -n | uniq -c |
    awk 'NR == FNR { name[$1] = $2; next } { printf "%8d %s (outside the list)\n", $1, name[$2] }' \
      "$work/nr.txt" -
  echo "work dir $work"
  exit 0
fi

# After the filter's install line, every line that starts with a call name is one call.
awk 'FNR == 1 { on = 0 }
     /^seccomp\(SECCOMP_SET_MODE_FILTER, [^,]*, \{len=/ { on = 1; next }
     on && match($0, /^[a-z_0-9]+\(/) { n[substr($0, 1, RLENGTH - 1)]++ }
     on && /killed by SIGSYS/ { sigsys++ }
     END { for (c in n) printf "%8d %s\n", n[c], c; printf "%8d SIGSYS\n", sigsys }' \
  "$work"/traces/t.* | sort -k2
echo "traces in $work"
