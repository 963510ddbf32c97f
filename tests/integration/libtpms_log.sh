#!/bin/bash
# tests/integration/libtpms_log.sh DAEMON: `--log level=N` routes libtpms' own debug output into
# the log as swtpm 0.7.1 does (logging.c: libtpms level N-4 from level 5 on, prefix + 4 spaces).
# DAEMON and Debian's swtpm (the reference, required) run the same TPM 1.2 session (CMD_INIT,
# swtpm_bios: Startup, physical presence, enable, activate; CMD_SHUTDOWN) at level 20, 5 and 4,
# with prefix=, and with --log that names no file (stderr). The libtpms lines of both logs must
# have the same forms — (indentation, first word) pairs, taken from swtpm's log, not written here.
source "$(dirname "$0")/lib.sh"
it_init "$@"
require_tool swtpm_ioctl swtpm-tools
require_tool swtpm_bios swtpm-tools
REFERENCE=/usr/bin/swtpm
[[ -x $REFERENCE ]] || fail "reference $REFERENCE not found (install Debian package 'swtpm'); this test does not skip"
cd "$IT_TMP" || fail "cd $IT_TMP"

PREFIX=vm7:

# session DAEMON NAME LOGOPT: one TPM 1.2 session; its --log file is $IT_TMP/NAME.log (when
# LOGOPT has file=), the daemon's stdout+stderr $IT_TMP/NAME.out.
session() {
  local daemon=$1 name=$2 logopt=$3
  mkdir -p "$IT_TMP/$name.state"
  local saved=$IT_DAEMON
  IT_DAEMON=$daemon
  start_tcp_daemon_12 "$IT_TMP/$name.state" "$IT_TMP/$name.out" --log "$logopt"
  IT_DAEMON=$saved
  ok "$name: CMD_INIT" swtpm_ioctl --tcp "127.0.0.1:$CTRL_PORT" -i
  ok "$name: swtpm_bios" swtpm_bios --tcp "127.0.0.1:$DATA_PORT"
  ok "$name: CMD_SHUTDOWN" swtpm_ioctl --tcp "127.0.0.1:$CTRL_PORT" -s
  wait_pid_gone "$DAEMON_PID" 4 || fail "$name: daemon still running 4 s after CMD_SHUTDOWN"
  assert_eq "$name: exit status" 0 "$GONE_RC"
}

# start_tcp_daemon_12 STATE LOG EXTRA…: as lib.sh's start_tcp_daemon, but TPM 1.2 (libtpms
# prints its debug lines for TPM 1.2; its TPM 2 code prints next to nothing).
start_tcp_daemon_12() {
  local state=$1 log=$2 attempt
  shift 2
  for ((attempt = 0; attempt < 5; attempt++)); do
    DATA_PORT=$(pick_port_pair) || fail "no free port pair found"
    CTRL_PORT=$((DATA_PORT + 1))
    start_daemon "$log" socket --tpmstate "dir=$state" \
      --server "type=tcp,port=$DATA_PORT" --ctrl "type=tcp,port=$CTRL_PORT" "$@"
    await_daemon 5 tcp_ports_up && return 0
  done
  fail "daemon exited before listening in 5 attempts (see $log)"
}

# forms FILE PREFIX: the sorted set of "<spaces><first word>" of FILE's libtpms lines: after
# PREFIX, four or more spaces and a name (libtpms' functions: "    TPM_MainInit: …").
forms() {
  grep -E "^$2    +[A-Za-z_]" "$1" | cut -c$((${#2} + 1))- |
    sed -E 's/^( +)([A-Za-z_0-9]+).*/\1\2/' | sort -u
}

# same_forms DESC A B PREFIX: both files have libtpms lines, of the same forms.
same_forms() {
  local a b
  a=$(forms "$2" "$4")
  b=$(forms "$3" "$4")
  [[ -n $a ]] || fail "$1: the reference's log has no libtpms lines ($2)"
  [[ -n $b ]] || fail "$1: no libtpms lines in the daemon's log ($3)"
  [[ $a == "$b" ]] || fail "$1: libtpms line forms differ (< reference, > daemon):
$(diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -20)"
  FORMS=$a
}

step "level=20,prefix=$PREFIX: libtpms debug at level 16, every line prefixed"
session "$REFERENCE" ref20 "file=$IT_TMP/ref20.log,level=20,prefix=$PREFIX"
session "$IT_DAEMON" dut20 "file=$IT_TMP/dut20.log,level=20,prefix=$PREFIX"
same_forms "level 20" "$IT_TMP/ref20.log" "$IT_TMP/dut20.log" "$PREFIX"
depths=$(printf '%s\n' "$FORMS" | sed -E 's/[^ ].*//' | awk '{ print length($0) }' | sort -nu | tr '\n' ' ')
assert_match "level 20: libtpms indentation depths" '^4 5 6 7 ' "$depths"
for f in ref20 dut20; do
  bad=$(grep -cv "^$PREFIX" "$IT_TMP/$f.log")
  assert_eq "$f: log lines without the prefix" 0 "$bad"
done

step "level=5: libtpms level 1, only its unindented lines (prefix + 4 spaces)"
session "$REFERENCE" ref5 "file=$IT_TMP/ref5.log,level=5"
session "$IT_DAEMON" dut5 "file=$IT_TMP/dut5.log,level=5"
same_forms "level 5" "$IT_TMP/ref5.log" "$IT_TMP/dut5.log" ""
deeper=$(grep -cE '^     +[A-Za-z_]' "$IT_TMP/dut5.log")
assert_eq "level 5: libtpms lines indented deeper than 4" 0 "$deeper"

step "level=4: no libtpms debug lines"
session "$REFERENCE" ref4 "file=$IT_TMP/ref4.log,level=4"
session "$IT_DAEMON" dut4 "file=$IT_TMP/dut4.log,level=4"
for f in ref4 dut4; do
  n=$(grep -cE '^    +TPM_' "$IT_TMP/$f.log")
  assert_eq "$f: libtpms lines at level 4" 0 "$n"
done

step "--log level=20 without file=: the log, libtpms lines included, goes to stderr"
session "$REFERENCE" refstderr "level=20"
session "$IT_DAEMON" dutstderr "level=20"
same_forms "stderr log" "$IT_TMP/refstderr.out" "$IT_TMP/dutstderr.out" ""

step "level=1: no line is indented (swtpm reads a line's level from its indentation)"
session "$REFERENCE" ref1 "file=$IT_TMP/ref1.log"
session "$IT_DAEMON" dut1 "file=$IT_TMP/dut1.log"
for f in ref1 dut1; do
  n=$(grep -c '^ ' "$IT_TMP/$f.log")
  assert_eq "$f: indented lines at level 1" 0 "$n"
done

it_pass
