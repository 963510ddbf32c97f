#!/bin/bash
# tests/integration/sandbox_seccomp.sh DAEMON: the seccomp filter as swtpm 0.7.1's own test suite
# probes it (tests/common has_seccomp_support, _test_tpm2_probe's check_seccomp_profile): --help
# names --seccomp, --print-capabilities has "cmdarg-seccomp" where swtpm has it, a daemon started
# the way run_swtpm starts it runs with "Seccomp: 2" in /proc/PID/status and still serves real
# clients (state-writing NV commands included), so does libvirt's command line, action=log also
# filters, action=none gives "Seccomp: 0", and SIGTERM and CMD_SHUTDOWN end it with status 0,
# never by SIGSYS (159).
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool tpm2_startup tpm2-tools
require_tool swtpm_ioctl swtpm-tools
require_tcti_swtpm
cd "$IT_TMP" || fail "cd $IT_TMP"

step "--help names --seccomp (swtpm's has_seccomp_support probe)"
run "$IT_DAEMON" socket --help
((RC == 0)) || fail "socket --help exited $RC: $OUT"
grep -q -- '--seccomp' <<<"$OUT" || fail "socket --help does not mention --seccomp"

step "--print-capabilities lists cmdarg-seccomp between flags-opt-startup and cmdarg-key-fd"
run "$IT_DAEMON" socket --print-capabilities --tpm2
((RC == 0)) || fail "--print-capabilities exited $RC: $OUT"
assert_match "capabilities" '"flags-opt-startup", "cmdarg-seccomp", "cmdarg-key-fd"' "$OUT"

# seccomp_field PID: the "Seccomp:" value of /proc/PID/status (0 none, 1 strict, 2 filter).
seccomp_field() { awk '$1 == "Seccomp:" { print $2 }' "/proc/$1/status"; }

# start_probe_daemon NAME EXTRA…: run_swtpm socket+socket's command line (state from TPM_PATH,
# --server …,disconnect, --ctrl type=tcp), retried on a port race. Sets DAEMON_PID, the ports.
start_probe_daemon() {
  local name=$1 attempt
  shift
  mkdir -p "$IT_TMP/$name"
  for ((attempt = 0; attempt < 5; attempt++)); do
    DATA_PORT=$(pick_port_pair) || fail "no free port pair found"
    CTRL_PORT=$((DATA_PORT + 1))
    TPM_PATH=$IT_TMP/$name start_daemon "$IT_TMP/$name.log" socket --tpm2 "$@" \
      --server "type=tcp,port=$DATA_PORT,disconnect" --ctrl "type=tcp,port=$CTRL_PORT"
    await_daemon 5 tcp_ports_up && return 0
    step "daemon exited (status $DAEMON_EXIT) before listening (port taken?)"
  done
  fail "daemon did not start in 5 attempts (see log)"
}

# expect_exit PID STATUS DESC: the daemon ends within 4 s with STATUS (159 = killed by SIGSYS).
expect_exit() {
  wait_pid_gone "$1" 4 || fail "$3: daemon $1 still running after 4 s"
  ((GONE_RC != 159)) || fail "$3: daemon was killed by SIGSYS (a call outside the filter)"
  assert_eq "$3: exit status" "$2" "$GONE_RC"
}

step "default (kill): started as swtpm's _test_tpm2_probe starts it"
start_probe_daemon kill
pid=$DAEMON_PID
CTRL="127.0.0.1:$CTRL_PORT"
assert_eq "Seccomp in /proc/$pid/status (default action)" 2 "$(seccomp_field "$pid")"
ok "CMD_STOP" swtpm_ioctl --tcp "$CTRL" --stop
# PCR_Read(sha256, PCR17) before CMD_INIT: the fatal-error response, then TPM_RC_INITIALIZE.
PCRREAD17=8001000000140000017e00000001000b03000002
rsp=$(tpm_raw_tcp "$DATA_PORT" "$PCRREAD17")
assert_eq "PCR_Read before CMD_INIT" 80010000000a00000101 "$rsp"
ok "CMD_INIT" swtpm_ioctl --tcp "$CTRL" -i
rsp=$(tpm_raw_tcp "$DATA_PORT" "$PCRREAD17")
assert_eq "PCR_Read before TPM2_Startup" 80010000000a00000100 "$rsp"

step "real clients under the filter: Startup, GetRandom, NV define/write/read (state written)"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
ok "tpm2_startup -c" tpm2_startup -c
ok "getrandom" tpm2_getrandom 32 -o rnd.bin
assert_eq "random byte count" 32 "$(stat -c %s rnd.bin)"
ok "nvdefine" tpm2_nvdefine 0x1500016 -C o -s 32 -a "ownerread|ownerwrite|authread|authwrite"
printf 'sandboxed NV contents 0123456789' >nv.in
ok "nvwrite" tpm2_nvwrite 0x1500016 -C o -i nv.in
ok "nvread" tpm2_nvread 0x1500016 -C o -s 32 -o nv.out
assert_eq "NV contents" "$(file_hex nv.in)" "$(file_hex nv.out)"
assert_eq "Seccomp after serving" 2 "$(seccomp_field "$pid")"
ok "CMD_SHUTDOWN" swtpm_ioctl --tcp "$CTRL" -s
expect_exit "$pid" 0 "CMD_SHUTDOWN under the filter"

step "SIGTERM under the filter (the handler returns through rt_sigreturn)"
start_probe_daemon kill --flags not-need-init
pid=$DAEMON_PID
assert_eq "Seccomp (restart on the same state)" 2 "$(seccomp_field "$pid")"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
ok "tpm2_startup -c" tpm2_startup -c
ok "nvread after restart" tpm2_nvread 0x1500016 -C o -s 32 -o nv.out2
assert_eq "NV contents after restart" "$(file_hex nv.in)" "$(file_hex nv.out2)"
kill -TERM "$pid"
expect_exit "$pid" 0 "SIGTERM under the filter"

step "libvirt's command line: Seccomp: 2 too"
mkdir -p "$IT_TMP/libvirt"
CTRL_SOCK=$IT_TMP/libvirt/ctrl.sock
start_unix_daemon "$IT_TMP/libvirt.out" "$CTRL_SOCK" -- socket --ctrl "type=unixio,path=$CTRL_SOCK,mode=0600" \
  --tpmstate "dir=$IT_TMP/libvirt,mode=0600" --log "file=$IT_TMP/libvirt/tpm.log" --terminate --tpm2
pid=$DAEMON_PID
assert_eq "Seccomp (libvirt's line)" 2 "$(seccomp_field "$pid")"
ok "CMD_INIT" swtpm_ioctl --unix "$CTRL_SOCK" -i
ok "CMD_SHUTDOWN" swtpm_ioctl --unix "$CTRL_SOCK" -s
expect_exit "$pid" 0 "CMD_SHUTDOWN (libvirt's line)"

# action=log: the filter is installed, calls outside it are only logged (Seccomp: 2);
# action=none: no filter (Seccomp: 0). Both serve and shut down cleanly.
for leg in "log 2" "none 0"; do
  read -r action want <<<"$leg"
  step "action=$action: Seccomp: $want"
  start_probe_daemon "$action" --seccomp "action=$action" --flags not-need-init,startup-clear
  pid=$DAEMON_PID
  assert_eq "Seccomp with action=$action" "$want" "$(seccomp_field "$pid")"
  export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
  ok "getrandom (action=$action)" tpm2_getrandom 8 -o "rnd-$action.bin"
  ok "CMD_SHUTDOWN" swtpm_ioctl --tcp "127.0.0.1:$CTRL_PORT" -s
  expect_exit "$pid" 0 "CMD_SHUTDOWN with action=$action"
done

step "an unknown action is refused before anything starts"
mkdir -p "$IT_TMP/bad"
run "$IT_DAEMON" socket --tpm2 --tpmstate "dir=$IT_TMP/bad" --ctrl "type=unixio,path=$IT_TMP/bad/c" \
  --seccomp action=trap
((RC != 0 && RC != 124)) || fail "--seccomp action=trap was accepted (exit $RC): $OUT"
[[ ! -e $IT_TMP/bad/c ]] || fail "--seccomp action=trap left a control socket behind"

it_pass
