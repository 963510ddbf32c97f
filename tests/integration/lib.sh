# tests/integration/lib.sh: shared helpers for the integration tier (sourced, never run).
# Each test gets the daemon as "$1" (an executable that accepts `socket …` like swtpm 0.7.1), a
# private temp dir, daemons it starts itself and kills by PID, and bounded waits everywhere.
# A missing client tool is a FAIL, never a skip: these tests exist to exercise the real clients.
# Only bash, coreutils, mawk/awk and od are assumed besides the clients under test.

# Constants and result variables here are used by the sourcing scripts; printf formats built by
# hex_esc are deliberate (they are how bytes are written without xxd).
# shellcheck disable=SC2034,SC2059,SC2016
set -u -o pipefail

IT_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
IT_T0=${EPOCHREALTIME/[.,]/}
IT_TMP=""
IT_PIDS=()          # every process this test started and must stop
IT_LOGS=()          # files whose tail is printed when the test fails
IT_CLIENT_TIMEOUT=${IT_CLIENT_TIMEOUT:-20}

it_elapsed() {
  local now=${EPOCHREALTIME/[.,]/}
  local us=$((now - IT_T0))
  printf '%d.%03d' $((us / 1000000)) $((us / 1000 % 1000))
}

step() { printf '[%7ss] %s: %s\n' "$(it_elapsed)" "$IT_NAME" "$*"; }

fail() {
  printf '[%7ss] %s: FAIL: %s\n' "$(it_elapsed)" "$IT_NAME" "$*" >&2
  local f
  for f in "${IT_LOGS[@]}"; do
    if [[ -s $f ]]; then
      printf -- '--- last lines of %s ---\n' "$f" >&2
      tail -n 40 "$f" >&2
    fi
  done
  # Called inside $(…): take the test down too, or the caller would go on with a partial value.
  [[ $BASHPID == "$$" ]] || kill -USR1 "$$"
  exit 1
}

it_pass() { printf '[%7ss] %s: PASS\n' "$(it_elapsed)" "$IT_NAME"; exit 0; }

# Stop every process we started (TERM, then KILL after 3 s), then remove the temp dir.
it_cleanup() {
  local rc=$? pid i
  for pid in "${IT_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${IT_PIDS[@]}"; do
    for ((i = 0; i < 30; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ -n $IT_TMP && -d $IT_TMP ]]; then
    if [[ -n ${IT_KEEP:-} ]]; then
      echo "kept $IT_TMP" >&2
    else
      rm -rf "$IT_TMP"
    fi
  fi
  return $rc
}

# it_init "$@": checks the daemon argument, makes the temp dir, installs the cleanup trap.
it_init() {
  IT_DAEMON=${1:-}
  [[ -n $IT_DAEMON ]] || fail "usage: $0 <daemon executable accepting 'socket …'>"
  [[ -x $IT_DAEMON ]] || fail "daemon '$IT_DAEMON' is not an executable file"
  local base=${TMPDIR:-/tmp}
  # unix socket paths must stay below 108 bytes
  ((${#base} <= 60)) || base=/tmp
  IT_TMP=$(mktemp -d "$base/vtpmd-it.XXXXXXXX") || fail "mktemp -d failed"
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  trap 'exit 1' USR1
  step "daemon $IT_DAEMON, temp dir $IT_TMP"
}

# require_tool TOOL PACKAGE: a missing client fails the test with a clear message.
require_tool() {
  command -v "$1" >/dev/null 2>&1 ||
    fail "required client '$1' not found in PATH (install Debian package '$2'); this test does not skip"
}

# it_log FILE: print FILE's tail if the test fails (once, however often it is added).
it_log() {
  local f
  for f in "${IT_LOGS[@]}"; do [[ $f == "$1" ]] && return 0; done
  IT_LOGS+=("$1")
}

# Track a PID for cleanup; forget it once it is known to be gone.
it_track() { IT_PIDS+=("$1"); }
it_untrack() {
  local keep=() p
  for p in "${IT_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  IT_PIDS=("${keep[@]}")
}

# ---- running clients ---------------------------------------------------------------------------

# run CMD…: runs a client under `timeout`; sets OUT (stdout+stderr) and RC.
run() {
  OUT=$(timeout -k 2 "$IT_CLIENT_TIMEOUT" "$@" 2>&1)
  RC=$?
  if ((RC == 124 || RC == 137)); then
    OUT+=$'\n'"(timed out after ${IT_CLIENT_TIMEOUT}s)"
  fi
  return 0
}

# ok DESC CMD…: the client must exit 0.
ok() {
  local desc=$1
  shift
  run "$@"
  ((RC == 0)) || fail "$desc: '$*' exited $RC: $OUT"
}

# must_fail DESC CMD…: the client must exit non-zero (but not time out).
must_fail() {
  local desc=$1
  shift
  run "$@"
  ((RC == 124 || RC == 137)) && fail "$desc: '$*' timed out instead of failing: $OUT"
  ((RC != 0)) || fail "$desc: '$*' succeeded but must fail: $OUT"
}

assert_eq() {
  [[ $2 == "$3" ]] || fail "$1: expected '$2', got '$3'"
}

assert_ne() {
  [[ $2 != "$3" ]] || fail "$1: value must differ from '$2'"
}

assert_match() {
  [[ $3 =~ $2 ]] || fail "$1: '$3' does not match /$2/"
}

# require_tcti_swtpm: tpm2-tss' swtpm TCTI, which tpm2-tools load by name.
require_tcti_swtpm() {
  compgen -G '/usr/lib/*/libtss2-tcti-swtpm.so*' >/dev/null ||
    fail "libtss2-tcti-swtpm.so not found (install Debian package 'libtss2-tcti-swtpm0'); this test does not skip"
}

# require_swtpm_reference: Debian's swtpm 0.7.1, which a script runs beside the daemon under test.
require_swtpm_reference() {
  [[ -x /usr/bin/swtpm ]] || fail "/usr/bin/swtpm not found (install Debian package 'swtpm'); this test does not skip"
}

# ioctl_ok DESC ARG…: swtpm_ioctl over the TCP control port $CTRL_PORT must succeed; tpm_ok DESC
# CMD…: a tpm2-tools command over tcti-swtpm at $DATA_PORT must succeed. (swtpm_ioctl.sh, which
# runs over unix sockets too, defines its own.)
ioctl_ok() {
  local desc=$1
  shift
  ok "$desc" swtpm_ioctl --tcp "127.0.0.1:$CTRL_PORT" "$@"
}
tpm_ok() {
  local desc=$1
  shift
  TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT" ok "$desc" "$@"
}

# ---- bytes and digests -------------------------------------------------------------------------

# hex_esc HEX: printf-format escapes (\xHH…) for a hex string.
hex_esc() {
  local h=${1// /} out="" i
  for ((i = 0; i < ${#h}; i += 2)); do out+="\\x${h:i:2}"; done
  printf '%s' "$out"
}

# hex_to_file HEX FILE
hex_to_file() { printf "$(hex_esc "$1")" >"$2"; }

# file_hex FILE: lower-case hex of a file's bytes.
file_hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

lower() { printf '%s' "${1,,}"; }

sha256_hex_of_file() { sha256sum "$1" | cut -c1-64; }
sha256_hex_of_string() { printf '%s' "$1" | sha256sum | cut -c1-64; }

# sha256_hex_of_hex HEX: SHA-256 of the bytes HEX spells.
sha256_hex_of_hex() { printf "$(hex_esc "$1")" | sha256sum | cut -c1-64; }

# pcr_extend_sha256 OLD_HEX DIGEST_HEX: the value PCR_Extend produces: SHA-256(old || digest).
pcr_extend_sha256() { sha256_hex_of_hex "$1$2"; }

zeros_hex() { printf '%0*d' $(($1 * 2)) 0; }

# ---- ports, sockets, processes -----------------------------------------------------------------

# tcp_listening PORT: true if some local socket listens on PORT (from /proc/net/tcp{,6}).
tcp_listening() {
  local hex
  printf -v hex '%04X' "$1"
  awk -v p=":$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
                    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# unix_listening PATH: true if a listening unix socket is bound to PATH (from /proc/net/unix).
unix_listening() {
  [[ -S $1 ]] || return 1
  awk -v p="$1" 'FNR > 1 && $4 == "00010000" && $8 == p { found = 1 } END { exit !found }' /proc/net/unix
}

# pick_port_pair: prints a random P with P and P+1 not listening, outside the kernel's ephemeral
# range when there is room (below it, from 20000): a port some client connection used lingers in
# TIME-WAIT there, and a busy machine holds thousands of those, which makes bind fail.
pick_port_pair() {
  local i p lo=20000 n=39999 eph_lo eph_hi
  if read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then
    if ((eph_lo - 2 - lo >= 2000)); then
      n=$((eph_lo - 2 - lo))
    elif ((65533 - eph_hi >= 2000)); then
      lo=$((eph_hi + 1)) n=$((65533 - eph_hi - 1))
    fi
  fi
  for ((i = 0; i < 50; i++)); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % n))
    tcp_listening "$p" || tcp_listening $((p + 1)) || { echo "$p"; return 0; }
  done
  return 1
}

# wait_until SECONDS CMD…: polls CMD every 20 ms until it succeeds or the deadline passes.
wait_until() {
  local secs=$1
  shift
  local deadline=$((${EPOCHREALTIME/[.,]/} + secs * 1000000))
  while ! "$@"; do
    ((${EPOCHREALTIME/[.,]/} < deadline)) || return 1
    sleep 0.02
  done
  return 0
}

# pid_alive PID: the process exists and is not a zombie (state from /proc, no procps needed).
pid_alive() {
  local st
  { st=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
  st=${st##*) }
  [[ ${st:0:1} != Z ]]
}
pid_gone() { ! pid_alive "$1"; }

# wait_pid_gone PID SECONDS: the process must exit on its own within SECONDS; reaps it and sets
# GONE_RC to its exit status.
wait_pid_gone() {
  wait_until "$2" pid_gone "$1" || return 1
  wait "$1" 2>/dev/null
  GONE_RC=$?
  it_untrack "$1"
  return 0
}

# ---- daemons -----------------------------------------------------------------------------------

# start_daemon LOG ARG…: starts "$IT_DAEMON" ARG… in the background; sets DAEMON_PID.
start_daemon() {
  local log=$1
  shift
  it_log "$log"
  echo "+ $IT_DAEMON $*" >>"$log"
  "$IT_DAEMON" "$@" >>"$log" 2>&1 </dev/null &
  DAEMON_PID=$!
  it_track "$DAEMON_PID"
}

# await_daemon SECONDS CMD…: polls CMD until it succeeds. Returns 1 at once if the daemon
# (DAEMON_PID) exited meanwhile (its status in DAEMON_EXIT); fails the test at the deadline.
await_daemon() {
  local secs=$1
  shift
  local deadline=$((${EPOCHREALTIME/[.,]/} + secs * 1000000))
  while ! "$@"; do
    if ! pid_alive "$DAEMON_PID"; then
      wait "$DAEMON_PID" 2>/dev/null
      DAEMON_EXIT=$?
      it_untrack "$DAEMON_PID"
      return 1
    fi
    ((${EPOCHREALTIME/[.,]/} < deadline)) || fail "daemon $DAEMON_PID not ready within ${secs}s ($*)"
    sleep 0.02
  done
  return 0
}

tcp_ports_up() { tcp_listening "$DATA_PORT" && tcp_listening "$CTRL_PORT"; }

# start_tcp_daemon STATEDIR LOG EXTRA…: `socket --tpm2 --tpmstate dir=STATEDIR --server
# type=tcp,port=P --ctrl type=tcp,port=P+1 EXTRA…` (P+1 because tcti-swtpm expects it), retrying
# with other ports if the daemon exits before listening (port taken meanwhile). Sets DAEMON_PID,
# DATA_PORT and CTRL_PORT once both ports listen.
start_tcp_daemon() {
  local state=$1 log=$2 attempt
  shift 2
  for ((attempt = 0; attempt < 5; attempt++)); do
    DATA_PORT=$(pick_port_pair) || fail "no free port pair found"
    CTRL_PORT=$((DATA_PORT + 1))
    start_daemon "$log" socket --tpm2 --tpmstate "dir=$state" \
      --server "type=tcp,port=$DATA_PORT" --ctrl "type=tcp,port=$CTRL_PORT" "$@"
    await_daemon 5 tcp_ports_up && return 0
    step "daemon exited (status $DAEMON_EXIT) before listening on $DATA_PORT/$CTRL_PORT (port taken?)"
  done
  fail "daemon exited before listening in 5 attempts with different ports (see log)"
}

unix_paths_up() {
  local p
  for p in "$@"; do unix_listening "$p" || return 1; done
}

# start_unix_daemon LOG SOCKET… -- ARG…: starts the daemon with ARG… and waits until every
# SOCKET path listens; the daemon exiting first is a failure.
start_unix_daemon() {
  local log=$1 socks=()
  shift
  while [[ $1 != -- ]]; do socks+=("$1"); shift; done
  shift
  start_daemon "$log" "$@"
  await_daemon 5 unix_paths_up "${socks[@]}" ||
    fail "daemon exited (status $DAEMON_EXIT) before listening on ${socks[*]}"
}

# ctrl_raw_tcp PORT HEX NREAD: one connection to a TCP control port: sends the bytes of HEX in
# one write, reads NREAD bytes (3 s at most), prints what arrived as lower-case hex. `dd bs=1`
# because `head -c` holds back a short reply until it has NREAD bytes.
ctrl_raw_tcp() {
  timeout -k 1 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
                          printf "$2" >&3
                          dd bs=1 count="$3" status=none <&3' _ "$1" "$(hex_esc "$2")" "$3" |
    od -An -tx1 -v | tr -d ' \n'
}

# tpm_raw_tcp PORT HEX: one connection to a TCP data port: sends one TPM command, reads the
# 10-byte response header and then size-10 more bytes (5 s at most); prints the response as hex.
tpm_raw_tcp() {
  timeout -k 1 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
                          printf "$2" >&3
                          hdr=$(dd bs=1 count=10 status=none <&3 | od -An -tx1 -v | tr -d " \n")
                          printf "%s" "$hdr"
                          ((${#hdr} == 20)) || exit 1
                          rest=$((16#${hdr:4:8} - 10))
                          ((rest > 0)) || exit 0
                          dd bs=1 count="$rest" status=none <&3 | od -An -tx1 -v | tr -d " \n"' \
    _ "$1" "$(hex_esc "$2")"
}

# ---- QEMU qtest (shared by qemu_qtest.sh and qemu_boot.sh) -------------------------------------
# QEMU runs as a bash coproc with `-qtest stdio`: one command line in, one "OK …"/"FAIL …" line
# out. Debian's QEMU 7.2 has no qtest accelerator, so callers pass `-accel tcg` (plus `-S` when
# no firmware should run); qtest still serves MMIO reads/writes from the main loop.

# qt_start LOG QEMU-ARG…: starts QEMU; sets QEMU_PID. QEMU is exec'ed directly (no `timeout`
# wrapper) so that the cleanup's TERM-then-KILL reaches QEMU itself even when it hangs on a
# control reply (QEMU reads those without a timeout); every qtest reply is awaited ≤ 10 s.
qt_start() {
  local log=$1
  shift
  it_log "$log"
  echo "+ qemu-system-x86_64 $*" >>"$log"
  coproc QT { exec qemu-system-x86_64 "$@" -qtest stdio -qtest-log /dev/null 2>>"$log"; }
  QEMU_PID=$QT_PID
  QT_IN=${QT[1]} QT_OUT=${QT[0]}
  it_track "$QEMU_PID"
}

# qt CMD…: one qtest command; sets QT_VAL to the numeric value of "OK 0x…" (or empty).
qt() {
  printf '%s\n' "$*" 1>&"$QT_IN" 2>/dev/null || fail "qtest: QEMU gone (sending '$*')"
  local line
  while :; do
    IFS= read -r -t 10 -u "$QT_OUT" line || fail "qtest: no reply to '$*' within 10 s (QEMU exited?)"
    [[ $line == IRQ* ]] || break
  done
  [[ $line == OK* ]] || fail "qtest: '$*' -> '$line'"
  QT_VAL=${line#OK}
  QT_VAL=${QT_VAL# }
  [[ -z $QT_VAL ]] || QT_VAL=$((QT_VAL))
}

# qt_stop: TERM to QEMU (it then sends CMD_SHUTDOWN to the emulator), wait ≤ 10 s.
qt_stop() {
  kill -TERM "$QEMU_PID" 2>/dev/null
  wait_until 10 pid_gone "$QEMU_PID" || fail "QEMU $QEMU_PID did not exit within 10 s of SIGTERM"
  wait "$QEMU_PID" 2>/dev/null
  it_untrack "$QEMU_PID"
}

# ---- TPM TIS (PTP FIFO) driver over qtest: base 0xFED40000, locality stride 0x1000 -------------
TIS_BASE=$((0xfed40000))
TIS_ACCESS=0x0 TIS_STS=0x18 TIS_FIFO=0x24 TIS_INTF_CAP=0x14 TIS_IFACE_ID=0x30 TIS_DID_VID=0xf00
ACC_VALID=0x80 ACC_ACTIVE=0x20 ACC_SEIZED=0x10 ACC_SEIZE=0x08 ACC_PENDING=0x04 ACC_REQUEST=0x02
STS_VALID=0x80 STS_READY=0x40 STS_GO=0x20 STS_AVAIL=0x10 STS_EXPECT=0x08 STS_SELFTEST=0x04

tis_addr() { printf '0x%x' $((TIS_BASE + ($1 << 12) + $2)); }
tis_readb() { qt readb "$(tis_addr "$1" "$2")"; }
tis_readl() { qt readl "$(tis_addr "$1" "$2")"; }
tis_writeb() { qt writeb "$(tis_addr "$1" "$2")" "$(printf '0x%x' $(($3)))"; }
tis_access() { tis_readb "$1" $TIS_ACCESS; printf '0x%02x' "$QT_VAL"; }

# tis_expect_access LOC VALUE DESC
tis_expect_access() {
  assert_eq "$3: ACCESS($1)" "$(printf '0x%02x' $(($2)))" "$(tis_access "$1")"
}

tis_sts() { tis_readl "$1" $TIS_STS; TIS_STS_VAL=$QT_VAL; }

# tis_wait_sts LOC MASK VALUE SECONDS: polls STS until (STS & MASK) == VALUE.
tis_wait_sts() {
  local deadline=$((${EPOCHREALTIME/[.,]/} + $4 * 1000000))
  while :; do
    tis_sts "$1"
    (((TIS_STS_VAL & $2) == $3)) && return 0
    ((${EPOCHREALTIME/[.,]/} < deadline)) || return 1
    sleep 0.005
  done
}

# tis_command LOC HEX [checked]: runs one TPM command through the FIFO of locality LOC, which
# must be active. With "checked", asserts the per-byte STS sequence (Expect while bytes are
# missing). Sets TIS_RSP (hex).
tis_command() {
  local loc=$1 cmd=$2 mode=${3:-} i n b
  n=$((${#cmd} / 2))
  tis_writeb "$loc" $TIS_STS $STS_READY
  tis_wait_sts "$loc" $((STS_READY)) $((STS_READY)) 5 || fail "TIS loc $loc: commandReady not reached"
  [[ $mode == checked ]] &&
    assert_eq "STS after commandReady" 0x40 "$(printf '0x%02x' $((TIS_STS_VAL & 0xff & ~STS_SELFTEST)))"
  for ((i = 0; i < n; i++)); do
    b=${cmd:i*2:2}
    tis_writeb "$loc" $TIS_FIFO "0x$b"
    if [[ $mode == checked ]]; then
      tis_sts "$loc"
      local want=0x88
      ((i == n - 1)) && want=0x80
      assert_eq "STS after command byte $((i + 1))/$n" $want \
        "$(printf '0x%02x' $((TIS_STS_VAL & 0xff & ~STS_SELFTEST)))"
    fi
  done
  tis_sts "$loc"
  (((TIS_STS_VAL & (STS_VALID | STS_EXPECT)) == STS_VALID)) ||
    fail "TIS loc $loc: STS $(printf '0x%x' "$TIS_STS_VAL") still expects data after $n bytes"
  tis_writeb "$loc" $TIS_STS $STS_GO
  tis_wait_sts "$loc" $((STS_VALID | STS_AVAIL)) $((STS_VALID | STS_AVAIL)) 30 ||
    fail "TIS loc $loc: no dataAvail within 30 s of tpmGo (STS $(printf '0x%x' "$TIS_STS_VAL"))"
  local burst=$(((TIS_STS_VAL >> 8) & 0xffff))
  # header first: its size field says how many bytes follow
  TIS_RSP=""
  for ((i = 0; i < 10; i++)); do
    tis_readb "$loc" $TIS_FIFO
    TIS_RSP+=$(printf '%02x' "$QT_VAL")
  done
  local size=$((16#${TIS_RSP:4:8}))
  ((size >= 10 && size <= 4096)) || fail "TIS loc $loc: bad response size $size in ${TIS_RSP}"
  [[ $mode == checked ]] && assert_eq "burstCount at dataAvail = response size" "$size" "$burst"
  i=10
  while ((size - i >= 4)); do
    tis_readl "$loc" $TIS_FIFO # little-endian: first FIFO byte in bits 7:0
    TIS_RSP+=$(printf '%02x%02x%02x%02x' $((QT_VAL & 255)) $((QT_VAL >> 8 & 255)) \
      $((QT_VAL >> 16 & 255)) $((QT_VAL >> 24 & 255)))
    ((i += 4))
  done
  for (( ; i < size; i++)); do
    tis_readb "$loc" $TIS_FIFO
    TIS_RSP+=$(printf '%02x' "$QT_VAL")
  done
  tis_sts "$loc"
  (((TIS_STS_VAL & (STS_VALID | STS_AVAIL)) == STS_VALID)) ||
    fail "TIS loc $loc: dataAvail still set after reading $size bytes (STS $(printf '0x%x' "$TIS_STS_VAL"))"
}

# ---- TPM CRB driver over qtest (QEMU tpm-crb: locality 0 registers at 0xFED40000, command and
# response buffer at 0xFED40080, 3968 bytes) ----------------------------------------------------
CRB_BASE=$((0xfed40000))
CRB_LOC_STATE=0x00 CRB_LOC_CTRL=0x08 CRB_LOC_STS=0x0c CRB_CTRL_REQ=0x40 CRB_CTRL_STS=0x44
CRB_CTRL_START=0x4c CRB_CMD_SIZE=0x58 CRB_CMD_LADDR=0x5c CRB_RSP_SIZE=0x64 CRB_RSP_ADDR=0x68

crb_readl() { qt readl "$(printf '0x%x' $((CRB_BASE + $1)))"; }
crb_writel() { qt writel "$(printf '0x%x' $((CRB_BASE + $1)))" "$(printf '0x%x' $(($2)))"; }

# crb_command HEX: locality 0 request, cmdReady, write buffer, start, poll, read. Sets CRB_RSP.
crb_command() {
  local cmd=$1 deadline
  crb_writel $CRB_LOC_CTRL 0x1 # requestAccess
  crb_readl $CRB_LOC_STS
  ((QT_VAL & 1)) || fail "CRB: locality 0 not granted (LOC_STS $(printf '0x%x' "$QT_VAL"))"
  crb_writel $CRB_CTRL_REQ 0x1 # cmdReady
  crb_readl $CRB_CMD_LADDR
  local buf=$QT_VAL
  crb_readl $CRB_CMD_SIZE
  local bufsize=$QT_VAL
  ((${#cmd} / 2 <= bufsize)) || fail "CRB: command larger than the $bufsize-byte buffer"
  qt write "$(printf '0x%x' "$buf")" $((${#cmd} / 2)) "0x$cmd"
  crb_writel $CRB_CTRL_START 0x1
  deadline=$((${EPOCHREALTIME/[.,]/} + 30000000))
  while :; do
    crb_readl $CRB_CTRL_START
    ((QT_VAL & 1)) || break
    ((${EPOCHREALTIME/[.,]/} < deadline)) || fail "CRB: CTRL_START not cleared within 30 s"
    sleep 0.005
  done
  crb_readl $CRB_RSP_ADDR
  local rsp=$QT_VAL
  qt_read_hex "$rsp" 10
  local size=$((16#${QT_HEX:4:8}))
  ((size >= 10 && size <= bufsize)) || fail "CRB: bad response size $size in $QT_HEX"
  qt_read_hex "$rsp" "$size"
  CRB_RSP=$QT_HEX
  crb_writel $CRB_CTRL_REQ 0x2 # goIdle
  crb_writel $CRB_LOC_CTRL 0x2 # relinquish
}

# qt_read_hex ADDR N: guest-physical memory read ("read" answers "OK 0x<hex>"); sets QT_HEX.
qt_read_hex() {
  printf 'read 0x%x %d\n' "$1" "$2" 1>&"$QT_IN" 2>/dev/null || fail "qtest: QEMU gone"
  local line
  IFS= read -r -t 10 -u "$QT_OUT" line || fail "qtest: no reply to read"
  [[ $line == "OK 0x"* ]] || fail "qtest: read $1 $2 -> '$line'"
  QT_HEX=${line#OK 0x}
  QT_HEX=${QT_HEX,,}
}

# ---- TPM 2.0 command bytes used by the QEMU tests ---------------------------------------------
TPM2_STARTUP_CLEAR=80010000000c000001440000
TPM2_GETRANDOM_16=80010000000c0000017b0010
# PCR_Read(sha256, PCRs 0-7): TPML_PCR_SELECTION{1, {0x000b, 3, ff 00 00}}
TPM2_PCRREAD_SHA256_0_7=8001000000140000017e00000001000b03ff0000
TPM2_PCRREAD_SHA256_20=8001000000140000017e00000001000b03000010

# pcr_read_digests HEX-RESPONSE: checks a PCR_Read response and prints its digests, one per line.
pcr_read_digests() {
  local r=$1
  assert_eq "PCR_Read response tag+rc" 800100000000 "${r:0:4}${r:12:8}"
  # header 10, updateCounter 4, TPML_PCR_SELECTION (4 + 2 + 1 + 3), TPML_DIGEST count
  local off=$(((10 + 4 + 10) * 2)) count i sz
  count=$((16#${r:off:8}))
  ((off += 8))
  for ((i = 0; i < count; i++)); do
    sz=$((16#${r:off:4}))
    ((off += 4))
    printf '%s\n' "${r:off:sz*2}"
    ((off += sz * 2))
  done
}
