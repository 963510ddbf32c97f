#!/bin/bash
# tests/integration/linear_file.sh DAEMON: `--tpmstate backend-uri=file://F`, swtpm 0.7's linear
# state file, in both directions between DAEMON and Debian's swtpm 0.7.1:
#  (1) swtpm creates F and defines an NV index (tpm2-tools over tcti-swtpm); DAEMON serves F,
#      reads the index back, prints the same --print-states as swtpm, and writes a second index;
#      swtpm then serves F again and reads both;
#  (2) DAEMON creates F2 from nothing (absent file) with an NV index; swtpm serves it and reads it;
#      swtpm_setup authors a state onto an absent file through DAEMON (--print-states formats it,
#      as swtpm does, and swtpm_setup unlinks it to clear it), then leaves it with --not-overwrite.
#  (3) vtpmd only (swtpm 0.7.1 neither locks a file:// store nor refuses a damaged one — it
#      formats it): a second instance on the same file is refused while the first one runs, and
#      a file whose magic is not swtpm's fails CMD_INIT and stays byte-identical.
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool swtpm_ioctl swtpm-tools
require_tool tpm2_nvdefine tpm2-tools
require_swtpm_reference
require_tcti_swtpm

W=$IT_TMP
DAEMON=$IT_DAEMON

# start_file_daemon EXE FILE LOG: EXE socket --tpm2 --tpmstate backend-uri=file://FILE on a free
# TCP port pair (retried as start_tcp_daemon does). Sets DAEMON_PID, DATA_PORT, CTRL_PORT.
start_file_daemon() {
  local exe=$1 file=$2 log=$3 attempt
  IT_DAEMON=$exe
  for ((attempt = 0; attempt < 5; attempt++)); do
    DATA_PORT=$(pick_port_pair) || fail "no free port pair found"
    CTRL_PORT=$((DATA_PORT + 1))
    start_daemon "$log" socket --tpm2 --tpmstate "backend-uri=file://$file" \
      --server "type=tcp,port=$DATA_PORT" --ctrl "type=tcp,port=$CTRL_PORT"
    await_daemon 5 tcp_ports_up && return 0
    step "$exe exited (status $DAEMON_EXIT) before listening (port taken?)"
  done
  fail "$exe exited before listening in 5 attempts (see $log)"
}
init_and_start() {
  ioctl_ok "$1: CMD_INIT" -i
  tpm_ok "$1: TPM2_Startup" tpm2_startup -c
}
define_nv() {  # WHO INDEX DATAFILE
  head -c 16 /dev/urandom >"$3"
  tpm_ok "$1: nvdefine $2" tpm2_nvdefine "$2" -C o -s 16 -a "ownerread|ownerwrite"
  tpm_ok "$1: nvwrite $2" tpm2_nvwrite "$2" -C o -i "$3"
}
expect_nv() {  # WHO INDEX DATAFILE
  rm -f "$W/read.bin"
  tpm_ok "$1: nvread $2" tpm2_nvread "$2" -C o -s 16 -o "$W/read.bin"
  assert_eq "$1: NV $2" "$(file_hex "$3")" "$(file_hex "$W/read.bin")"
}
shutdown_daemon() {
  local pid=$DAEMON_PID
  ioctl_ok "$1: CMD_SHUTDOWN" -s
  wait_pid_gone "$pid" 4 || fail "$1: $pid still running 4 s after CMD_SHUTDOWN"
  assert_eq "$1: exit status after CMD_SHUTDOWN" 0 "$GONE_RC"
}
magic_of() { head -c 8 "$1"; }

step "(1) swtpm writes a linear file, the daemon reads and extends it, swtpm reads it again"
F=$W/tpm2.img
start_file_daemon /usr/bin/swtpm "$F" "$W/s1.log"
init_and_start swtpm
define_nv swtpm 0x1500060 "$W/nv1.bin"
shutdown_daemon swtpm
assert_eq "swtpm's file starts with the linear magic" nilmptws "$(magic_of "$F")"
ok "swtpm --print-states" /usr/bin/swtpm socket --print-states --tpm2 --tpmstate "backend-uri=file://$F"
SWTPM_STATES=$OUT
ok "daemon --print-states" "$DAEMON" socket --print-states --tpm2 --tpmstate "backend-uri=file://$F"
assert_eq "--print-states of swtpm's file" "$SWTPM_STATES" "$OUT"
assert_match "the permall is listed" '"name": "permall", "size": [0-9]+' "$OUT"
start_file_daemon "$DAEMON" "$F" "$W/d1.log"
init_and_start daemon
expect_nv daemon 0x1500060 "$W/nv1.bin"
define_nv daemon 0x1500061 "$W/nv2.bin"
shutdown_daemon daemon
assert_eq "the daemon's file starts with the linear magic" nilmptws "$(magic_of "$F")"
start_file_daemon /usr/bin/swtpm "$F" "$W/s2.log"
init_and_start swtpm
expect_nv swtpm 0x1500060 "$W/nv1.bin"
expect_nv swtpm 0x1500061 "$W/nv2.bin"
shutdown_daemon swtpm

step "(2) the daemon creates a linear file from nothing, swtpm reads it"
F2=$W/fresh.img
[[ ! -e $F2 ]] || fail "$F2 exists before the test"
start_file_daemon "$DAEMON" "$F2" "$W/d2.log"
init_and_start daemon
define_nv daemon 0x1500062 "$W/nv3.bin"
shutdown_daemon daemon
ok "swtpm --print-states of the daemon's file" /usr/bin/swtpm socket --print-states --tpm2 \
  --tpmstate "backend-uri=file://$F2"
assert_match "swtpm lists the daemon's permall" '"name": "permall", "size": [0-9]+' "$OUT"
start_file_daemon /usr/bin/swtpm "$F2" "$W/s3.log"
init_and_start swtpm
expect_nv swtpm 0x1500062 "$W/nv3.bin"
shutdown_daemon swtpm

step "(2b) swtpm_setup --tpm-state file://F3 --tpm '$DAEMON socket' (its --print-states, then unlink)"
F3=$W/setup.img
require_tool swtpm_setup swtpm-tools
ok "swtpm_setup onto an absent file" swtpm_setup --tpm2 --tpm "$DAEMON socket" --tpm-state "file://$F3" \
  --createek --logfile "$W/setup.log" --not-overwrite
it_log "$W/setup.log"
grep -q "Successfully authored TPM state" "$W/setup.log" || fail "swtpm_setup did not finish"
ok "--print-states of swtpm_setup's file" "$DAEMON" socket --print-states --tpm2 --tpmstate "backend-uri=file://$F3"
assert_match "the file holds a permall" '"name": "permall", "size": [0-9]+' "$OUT"
ok "swtpm_setup --not-overwrite leaves it" swtpm_setup --tpm2 --tpm "$DAEMON socket" --tpm-state "file://$F3" \
  --createek --logfile "$W/setup2.log" --not-overwrite
grep -q "Not overwriting existing state file" "$W/setup2.log" || fail "swtpm_setup overwrote the state: $(cat "$W/setup2.log")"

if [[ $("$DAEMON" --version 2>&1) != *vtpmd* ]]; then
  step "(3) not run: it checks vtpmd's locking and fail-closed parsing, which swtpm 0.7.1 lacks"
  it_pass
fi

step "(3) vtpmd: one instance per file; a damaged magic fails closed and the file stays"
start_file_daemon "$DAEMON" "$F2" "$W/d3.log"
FIRST=$DAEMON_PID
must_fail "a second instance on the same file" "$DAEMON" socket --tpm2 \
  --tpmstate "backend-uri=file://$F2" --ctrl "type=unixio,path=$W/second.sock"
assert_match "the refusal names the lock" 'locked by another process' "$OUT"
DAEMON_PID=$FIRST
shutdown_daemon daemon
F3=$W/damaged.img
cp "$F" "$F3"
printf 'XXXXXXXX' | dd of="$F3" bs=1 seek=0 conv=notrunc status=none
BEFORE=$(sha256_hex_of_file "$F3")
start_file_daemon "$DAEMON" "$F3" "$W/d4.log"
must_fail "CMD_INIT on a file with a damaged magic" swtpm_ioctl --tcp "127.0.0.1:$CTRL_PORT" -i
ok "the log says why" grep -q 'refusing to format it' "$W/d4.log"
must_fail "TPM commands after the refused INIT" \
  env TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT" tpm2_getrandom 8
shutdown_daemon daemon
assert_eq "the damaged file is unchanged" "$BEFORE" "$(sha256_hex_of_file "$F3")"
it_pass
