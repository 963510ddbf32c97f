#!/bin/bash
# tests/integration/volatile_once.sh DAEMON: the volatile state is one-shot, as in swtpm 0.7.1.
# `swtpm_ioctl -i` (CMD_INIT with delete-volatile) resumes from tpm2-00.volatilestate and
# `--save volatile` (CMD_GET_STATEBLOB) hands it out; after either the file must be gone from the
# state directory when the command is answered, and the next INIT must not resume again — also
# after the daemon is killed with SIGKILL, and when Debian's swtpm is then given the directory.
# "Resumed" is told by PCR16 (kept only by the volatile state) and by TPM2_Startup's answer
# (TPM_RC_INITIALIZE 0x100 on a resumed, running TPM; 0 on one waiting for Startup).
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool swtpm_ioctl swtpm-tools
require_tool tpm2_pcrextend tpm2-tools
require_swtpm_reference
require_tcti_swtpm

W=$IT_TMP
D16=$(sha256_hex_of_string "volatile once")
PCR16_EXTENDED=$(pcr_extend_sha256 "$(zeros_hex 32)" "$D16")

pcr16() {
  rm -f "$W/pcr.bin"
  tpm_ok "read PCR16" tpm2_pcrread sha256:16 -o "$W/pcr.bin"
  file_hex "$W/pcr.bin"
}
# startup_rc: TPM2_Startup(CLEAR) sent raw, prints its response code (tpm2_startup hides 0x100).
startup_rc() {
  local r
  r=$(tpm_raw_tcp "$DATA_PORT" "$TPM2_STARTUP_CLEAR") || fail "TPM2_Startup: no response ($r)"
  printf '%s' "${r:12:8}"
}
expect_resumed() {
  assert_eq "$1: TPM2_Startup on the resumed TPM" 00000100 "$(startup_rc)"
  assert_eq "$1: PCR16 from the volatile state" "$PCR16_EXTENDED" "$(pcr16)"
}
expect_not_resumed() {
  assert_eq "$1: TPM2_Startup (the TPM must wait for it: not resumed)" 00000000 "$(startup_rc)"
  assert_eq "$1: PCR16 after Startup(CLEAR)" "$(zeros_hex 32)" "$(pcr16)"
}
expect_no_volatile() {
  [[ ! -e $1/tpm2-00.volatilestate ]] || fail "$2: $1/tpm2-00.volatilestate still exists"
}
started_and_extended() {
  assert_eq "$1: TPM2_Startup" 00000000 "$(startup_rc)"
  tpm_ok "$1: extend PCR16" tpm2_pcrextend "16:sha256=$D16"
  assert_eq "$1: PCR16 after one extend" "$PCR16_EXTENDED" "$(pcr16)"
}
store_volatile() {
  ioctl_ok "$1: CMD_STORE_VOLATILE" -v
  [[ -s $2/tpm2-00.volatilestate ]] || fail "$1: no tpm2-00.volatilestate after -v"
}
shutdown_daemon() {
  local pid=$DAEMON_PID
  ioctl_ok "CMD_SHUTDOWN" -s
  wait_pid_gone "$pid" 4 || fail "daemon $pid still running 4 s after CMD_SHUTDOWN"
  assert_eq "exit status after CMD_SHUTDOWN" 0 "$GONE_RC"
}

step "TPM 2.0: CMD_INIT with delete-volatile consumes the volatile state"
S=$W/a
mkdir -p "$S"
start_tcp_daemon "$S" "$W/a.log"
ioctl_ok "CMD_INIT" -i
started_and_extended "INIT"
store_volatile "INIT" "$S"
ioctl_ok "CMD_INIT (resume, delete volatile)" -i
expect_no_volatile "$S" "answered CMD_INIT with delete-volatile"
expect_resumed "first INIT"
ioctl_ok "CMD_INIT again" -i
expect_not_resumed "second INIT"

step "TPM 2.0: CMD_GET_STATEBLOB of the volatile state consumes it"
tpm_ok "extend PCR16" tpm2_pcrextend "16:sha256=$D16"
store_volatile "GET_STATEBLOB" "$S"
ioctl_ok "CMD_GET_STATEBLOB volatile" --save volatile "$W/volatile.blob"
[[ -s $W/volatile.blob ]] || fail "--save volatile wrote no blob"
expect_no_volatile "$S" "answered CMD_GET_STATEBLOB(volatile)"
ioctl_ok "CMD_INIT after GET_STATEBLOB" -i
expect_not_resumed "INIT after GET_STATEBLOB"
shutdown_daemon

step "TPM 2.0: SIGKILL after the volatile state was consumed; restart; then swtpm"
S=$W/b
mkdir -p "$S"
start_tcp_daemon "$S" "$W/b1.log"
ioctl_ok "CMD_INIT" -i
started_and_extended "crash"
store_volatile "crash" "$S"
head -c 16 /dev/urandom >"$W/nv.bin"
tpm_ok "nvdefine 0x1500020" tpm2_nvdefine 0x1500020 -C o -s 16 -a "ownerread|ownerwrite"
tpm_ok "nvwrite 0x1500020" tpm2_nvwrite 0x1500020 -C o -i "$W/nv.bin"
ioctl_ok "CMD_INIT (resume, delete volatile)" -i
expect_no_volatile "$S" "answered CMD_INIT before the kill"
expect_resumed "INIT before the kill"
kill -KILL "$DAEMON_PID"
wait_pid_gone "$DAEMON_PID" 4 || fail "daemon $DAEMON_PID survived SIGKILL"
expect_no_volatile "$S" "after SIGKILL"
start_tcp_daemon "$S" "$W/b2.log"
ioctl_ok "CMD_INIT after the restart" -i
expect_not_resumed "INIT after SIGKILL and restart"
tpm_ok "nvread 0x1500020" tpm2_nvread 0x1500020 -C o -s 16 -o "$W/nv2.bin"
assert_eq "NV content written before the kill" "$(file_hex "$W/nv.bin")" "$(file_hex "$W/nv2.bin")"
shutdown_daemon
expect_no_volatile "$S" "after CMD_SHUTDOWN"
SAVED_DAEMON=$IT_DAEMON
IT_DAEMON=/usr/bin/swtpm
start_tcp_daemon "$S" "$W/b3.log"
ioctl_ok "swtpm: CMD_INIT on the directory" -i
expect_not_resumed "swtpm given the directory"
tpm_ok "swtpm: nvread 0x1500020" tpm2_nvread 0x1500020 -C o -s 16 -o "$W/nv3.bin"
assert_eq "swtpm: NV content" "$(file_hex "$W/nv.bin")" "$(file_hex "$W/nv3.bin")"
shutdown_daemon
IT_DAEMON=$SAVED_DAEMON

step "TPM 1.2: tpm-00.volatilestate after CMD_INIT and CMD_GET_STATEBLOB"
S=$W/c
mkdir -p "$S"
SOCK=$W/c.ctrl
start_unix_daemon "$W/c.log" "$SOCK" -- socket --tpmstate "dir=$S" --ctrl "type=unixio,path=$SOCK"
ok "TPM 1.2: CMD_INIT" swtpm_ioctl --unix "$SOCK" -i
ok "TPM 1.2: CMD_STORE_VOLATILE" swtpm_ioctl --unix "$SOCK" -v
[[ -s $S/tpm-00.volatilestate ]] || fail "TPM 1.2: no tpm-00.volatilestate after -v"
ok "TPM 1.2: CMD_INIT (delete volatile)" swtpm_ioctl --unix "$SOCK" -i
[[ ! -e $S/tpm-00.volatilestate ]] || fail "TPM 1.2: tpm-00.volatilestate still there after -i"
ok "TPM 1.2: CMD_STORE_VOLATILE" swtpm_ioctl --unix "$SOCK" -v
[[ -s $S/tpm-00.volatilestate ]] || fail "TPM 1.2: no tpm-00.volatilestate after the second -v"
ok "TPM 1.2: CMD_GET_STATEBLOB volatile" swtpm_ioctl --unix "$SOCK" --save volatile "$W/v12.blob"
[[ -s $W/v12.blob ]] || fail "TPM 1.2: --save volatile wrote no blob"
[[ ! -e $S/tpm-00.volatilestate ]] || fail "TPM 1.2: tpm-00.volatilestate still there after --save"
PID=$DAEMON_PID
ok "TPM 1.2: CMD_SHUTDOWN" swtpm_ioctl --unix "$SOCK" -s
wait_pid_gone "$PID" 4 || fail "TPM 1.2 daemon $PID still running 4 s after CMD_SHUTDOWN"
[[ ! -e $S/tpm-00.volatilestate ]] || fail "TPM 1.2: tpm-00.volatilestate back after CMD_SHUTDOWN"
it_pass
