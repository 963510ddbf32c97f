#!/bin/bash
# tests/integration/fold_journal.sh VTPMD: a state directory is swtpm's after a crash, too.
# vtpmd killed with SIGKILL leaves its journal (tpm2-00.journal) beside swtpm's files; then
#  (1) `VTPMD socket --tpmstate dir=D --tpm2 --fold-journal` refuses while an instance holds the
#      lock, folds the journal once the instance is gone (exit 0), and finds nothing the second
#      time; Debian's swtpm then serves D and reads the NV index written before the kill;
#  (2) a vtpmd started on such a directory folds the journal before it serves (the journal is
#      gone by its first answer, CMD_GET_CAPABILITY, which touches no state; the sockets listen
#      before the fold, because --runas drops privileges between the two), and swtpm again sees
#      what was written before the kill.
# vtpmd only: --fold-journal is vtpmd's own option (swtpm has no journal to fold).
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool swtpm_ioctl swtpm-tools
require_tool tpm2_nvdefine tpm2-tools
require_swtpm_reference
require_tcti_swtpm

W=$IT_TMP
VTPMD=$IT_DAEMON

# write_nv_then_kill STATE INDEX FILE LOG: a vtpmd on STATE defines INDEX and writes FILE's 16
# bytes into it, then dies by SIGKILL; its journal must be left.
write_nv_then_kill() {
  local state=$1 index=$2 data=$3 log=$4
  IT_DAEMON=$VTPMD
  start_tcp_daemon "$state" "$log"
  ioctl_ok "CMD_INIT" -i
  tpm_ok "TPM2_Startup" tpm2_startup -c
  head -c 16 /dev/urandom >"$data"
  tpm_ok "nvdefine $index" tpm2_nvdefine "$index" -C o -s 16 -a "ownerread|ownerwrite"
  tpm_ok "nvwrite $index" tpm2_nvwrite "$index" -C o -i "$data"
  [[ -s $state/tpm2-00.journal ]] || fail "vtpmd wrote no journal (nothing for this test to fold)"
  KILLED_PID=$DAEMON_PID
}
kill_daemon() {
  kill -KILL "$KILLED_PID"
  wait_pid_gone "$KILLED_PID" 4 || fail "daemon $KILLED_PID survived SIGKILL"
  [[ -s $1/tpm2-00.journal ]] || fail "the journal is gone after SIGKILL (no crash to recover from)"
}
# swtpm_reads STATE INDEX FILE LOG: Debian's swtpm serves STATE and reads INDEX back as FILE.
swtpm_reads() {
  local state=$1 index=$2 data=$3 log=$4
  IT_DAEMON=/usr/bin/swtpm
  start_tcp_daemon "$state" "$log"
  ioctl_ok "swtpm: CMD_INIT" -i
  tpm_ok "swtpm: TPM2_Startup" tpm2_startup -c
  tpm_ok "swtpm: nvread $index" tpm2_nvread "$index" -C o -s 16 -o "$W/read.bin"
  assert_eq "swtpm: NV $index written by vtpmd before SIGKILL" "$(file_hex "$data")" \
    "$(file_hex "$W/read.bin")"
  local pid=$DAEMON_PID
  ioctl_ok "swtpm: CMD_SHUTDOWN" -s
  wait_pid_gone "$pid" 4 || fail "swtpm $pid still running 4 s after CMD_SHUTDOWN"
  IT_DAEMON=$VTPMD
}

step "(1) offline fold after SIGKILL"
S=$W/a
mkdir -p "$S"
write_nv_then_kill "$S" 0x1500040 "$W/nv1.bin" "$W/a1.log"
must_fail "--fold-journal while the instance holds the lock" \
  "$VTPMD" socket --tpmstate "dir=$S" --tpm2 --fold-journal
assert_match "refusal names the lock" 'locked by another process' "$OUT"
[[ -s $S/tpm2-00.journal ]] || fail "a refused --fold-journal removed the journal"
kill_daemon "$S"
ok "--fold-journal" "$VTPMD" socket --tpmstate "dir=$S" --tpm2 --fold-journal
assert_match "fold report" '^folded tpm2-00\.journal into the state files in ' "$OUT"
[[ ! -e $S/tpm2-00.journal ]] || fail "the journal is still there after --fold-journal"
ok "--fold-journal again" "$VTPMD" socket --tpmstate "dir=$S" --tpm2 --fold-journal
assert_match "second fold" 'nothing to fold' "$OUT"
swtpm_reads "$S" 0x1500040 "$W/nv1.bin" "$W/a2.log"

step "(2) vtpmd folds a leftover journal before it serves"
S=$W/b
mkdir -p "$S"
write_nv_then_kill "$S" 0x1500041 "$W/nv2.bin" "$W/b1.log"
kill_daemon "$S"
start_tcp_daemon "$S" "$W/b2.log"
ioctl_ok "CMD_GET_CAPABILITY, the first answer after the restart" -c
[[ ! -e $S/tpm2-00.journal ]] || fail "vtpmd serves, but the journal left by the crash is still there"
ioctl_ok "CMD_INIT after the restart" -i
PID=$DAEMON_PID
ioctl_ok "CMD_SHUTDOWN" -s
wait_pid_gone "$PID" 4 || fail "vtpmd $PID still running 4 s after CMD_SHUTDOWN"
swtpm_reads "$S" 0x1500041 "$W/nv2.bin" "$W/b3.log"
it_pass
