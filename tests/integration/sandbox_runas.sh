#!/bin/bash
# tests/integration/sandbox_runas.sh DAEMON: `--runas nobody` as swtpm's test_ctrlchannel uses it
# when run as root: the daemon serves as nobody (Uid, Gid and Groups in /proc/PID/status, no root
# group kept), state-writing TPM commands (NV define/write) work in a state directory nobody owns
# and the files they write belong to nobody; an unknown user and a non-root caller are refused.
# Needs root (it changes users), as the suite always runs here: as another user it fails, it does
# not skip.
source "$(dirname "$0")/lib.sh"

it_init "$@"
(($(id -u) == 0)) || fail "needs root to change users (the test suite runs as root); this test does not skip"
require_tool tpm2_startup tpm2-tools
require_tool swtpm_ioctl swtpm-tools
require_tool setpriv util-linux
require_tcti_swtpm
cd "$IT_TMP" || fail "cd $IT_TMP"

USER_NAME=nobody
USER_UID=$(id -u "$USER_NAME") || fail "no user $USER_NAME on this machine"
USER_GID=$(id -g "$USER_NAME")
USER_GROUPS=$(id -G "$USER_NAME" | tr ' ' '\n' | sort -n | tr '\n' ' ')

# nobody must reach the files: the temp dir is searchable, state and run dirs are nobody's.
chmod 0711 "$IT_TMP"
STATE=$IT_TMP/state
RUN=$IT_TMP/run
mkdir -m 0700 "$STATE" "$RUN"
chown "$USER_NAME:$USER_GID" "$STATE" "$RUN"

# status_ids PID FIELD: the ids of a /proc/PID/status line (Uid:/Gid: real effective saved fs).
status_ids() { awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' "/proc/$1/status"; }

step "start as root with --runas $USER_NAME"
start_tcp_daemon "$STATE" "$RUN/daemon.log" --flags not-need-init --runas "$USER_NAME" \
  --pid "file=$RUN/daemon.pid" --log "file=$RUN/tpm.log,level=2"
pid=$DAEMON_PID
CTRL="127.0.0.1:$CTRL_PORT"
wait_until 3 test -s "$RUN/daemon.pid" || fail "no pid file within 3 s"
assert_eq "pid file" "$pid" "$(<"$RUN/daemon.pid")"

step "/proc/$pid/status: Uid, Gid and Groups are $USER_NAME's"
assert_eq "Uid (real effective saved fs)" "$USER_UID $USER_UID $USER_UID $USER_UID" "$(status_ids "$pid" Uid | tr -s '\t ' ' ')"
assert_eq "Gid (real effective saved fs)" "$USER_GID $USER_GID $USER_GID $USER_GID" "$(status_ids "$pid" Gid | tr -s '\t ' ' ')"
groups=$(status_ids "$pid" Groups | tr -s '\t ' '\n' | grep . | sort -n | tr '\n' ' ')
assert_eq "Groups (initgroups of $USER_NAME)" "$USER_GROUPS" "$groups"

step "state-writing TPM commands as $USER_NAME: Startup, NV define/write/read"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
ok "tpm2_startup -c" tpm2_startup -c
ok "nvdefine" tpm2_nvdefine 0x1500017 -C o -s 16 -a "ownerread|ownerwrite|authread|authwrite"
printf 'written as nobody' | head -c 16 >nv.in
ok "nvwrite" tpm2_nvwrite 0x1500017 -C o -i nv.in
ok "nvread" tpm2_nvread 0x1500017 -C o -s 16 -o nv.out
assert_eq "NV contents" "$(file_hex nv.in)" "$(file_hex nv.out)"
ok "CMD_SHUTDOWN" swtpm_ioctl --tcp "$CTRL" -s
wait_pid_gone "$pid" 4 || fail "daemon still running 4 s after CMD_SHUTDOWN"
assert_eq "exit status after CMD_SHUTDOWN" 0 "$GONE_RC"
[[ ! -e $RUN/daemon.pid ]] || fail "the pid file was not removed at exit (as $USER_NAME)"

# owned_by_user WHEN: every file in the state directory, the lock (.lock) included, is the user's.
owned_by_user() {
  local written=0 f
  for f in "$STATE"/* "$STATE"/.[!.]*; do
    [[ -f $f ]] || continue
    ((++written))
    assert_eq "owner of $(basename "$f") $1" "$USER_UID" "$(stat -c %u "$f")"
  done
  ((written > 1)) || fail "no state file beside the lock in $STATE $1"
}

step "the state the TPM wrote, and its lock, belong to $USER_NAME"
owned_by_user "after NV writes"

# restart_as_user WHEN LOG EXPECTED: a daemon as the user on $STATE, after Startup the NV index
# holds EXPECTED's bytes. Sets pid.
restart_as_user() {
  start_tcp_daemon "$STATE" "$RUN/$2" --flags not-need-init --runas "$USER_NAME"
  pid=$DAEMON_PID
  export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
  ok "tpm2_startup -c $1" tpm2_startup -c
  ok "nvread $1" tpm2_nvread 0x1500017 -C o -s 16 -o "nv.out.$2"
  assert_eq "NV contents $1" "$(file_hex "$3")" "$(file_hex "nv.out.$2")"
}

step "restart as $USER_NAME: the NV index is still there"
restart_as_user "after restart" daemon2.log nv.in
assert_eq "Uid after restart" "$USER_UID" "$(status_ids "$pid" Uid | awk '{ print $2 }')"

step "killed after a write, restarted as $USER_NAME: the write is there and the state is still the user's"
printf 'written, then kill' | head -c 16 >nv.in2
ok "nvwrite before the kill" tpm2_nvwrite 0x1500017 -C o -i nv.in2
kill -KILL "$pid"
wait_pid_gone "$pid" 4 || fail "daemon still running 4 s after SIGKILL"
restart_as_user "after the kill" daemon3.log nv.in2
ok "CMD_SHUTDOWN" swtpm_ioctl --tcp "127.0.0.1:$CTRL_PORT" -s
wait_pid_gone "$pid" 4 || fail "daemon still running 4 s after CMD_SHUTDOWN"
owned_by_user "after a crash and a restart"

step "an unknown user is refused with a message naming it"
mkdir -p "$IT_TMP/bad"
run "$IT_DAEMON" socket --tpm2 --tpmstate "dir=$IT_TMP/bad" --ctrl "type=unixio,path=$IT_TMP/bad/c" \
  --runas no-such-user-vtpmd
((RC != 0 && RC != 124)) || fail "--runas no-such-user-vtpmd was accepted (exit $RC): $OUT"
grep -qi "user 'no-such-user-vtpmd' does not exist" <<<"$OUT" ||
  fail "--runas no-such-user-vtpmd: the message does not say the user does not exist: $OUT"

step "a caller that is not root cannot become another user"
mkdir -p "$IT_TMP/nonroot"
chown "$USER_NAME:$USER_GID" "$IT_TMP/nonroot"
run setpriv --reuid "$USER_UID" --regid "$USER_GID" --init-groups "$IT_DAEMON" socket --tpm2 \
  --tpmstate "dir=$IT_TMP/nonroot" --ctrl "type=unixio,path=$IT_TMP/nonroot/c" --runas root
((RC != 0 && RC != 124)) || fail "--runas root as $USER_NAME was accepted (exit $RC): $OUT"

it_pass
