#!/usr/bin/env bash
# Start-time checks of passed file descriptors, vtpmd ($1) and Debian's swtpm 0.7.1 side by side
# in one test: a control fd that is not a socket (--ctrl type=unixio,clientfd=/fd=, --server
# type=unixio,fd=), a data fd that is a regular file or a directory (-f/--fd), and a pid fd that is
# not a regular file (--pid fd=) are refused at start with an error naming the option or fd, the
# process exits non-zero without serving, and a good pid fd gets the pid and its file is removed at
# exit (swtpm 0.7.1 common.c, swtpm.c, pidfile.c).
source "$(dirname "$0")/lib.sh"
it_init "$@"
SWTPM=/usr/bin/swtpm
[[ -x $SWTPM ]] || fail "Debian's swtpm (package swtpm) is the reference here and is missing"
mkdir -p "$IT_TMP/state-v" "$IT_TMP/state-s"
: >"$IT_TMP/regular"

# refused NAME REDIRECT ARGS…: both daemons exit non-zero within the client timeout.
refused() {
  local name=$1 redir=$2 d state
  shift 2
  for d in "$IT_DAEMON" "$SWTPM"; do
    state=$IT_TMP/state-v
    [[ $d == "$SWTPM" ]] && state=$IT_TMP/state-s
    run bash -c "exec $redir \"\$0\" socket --tpm2 --tpmstate dir=$state --flags not-need-init \"\$@\"" "$d" "$@"
    ((RC == 124 || RC == 137)) && fail "$name: $d served instead of refusing: $OUT"
    ((RC != 0)) || fail "$name: $d accepted it: $OUT"
    [[ -n $OUT ]] || fail "$name: $d refused it without saying why"
    step "$name: $(basename "$d") refuses: ${OUT%%$'\n'*}"
  done
}

refused "clientfd= is a regular file" "3<$IT_TMP/regular" --ctrl type=unixio,clientfd=3
refused "--ctrl fd= is a directory" "3<$IT_TMP" --ctrl type=unixio,fd=3
refused "--server unixio fd= is a regular file" "3<$IT_TMP/regular" --server type=unixio,fd=3 --ctrl type=tcp,port=1
refused "-f is a directory" "3<$IT_TMP" -f 3
refused "--pid fd= is a directory" "3<$IT_TMP" --pid fd=3 --ctrl type=unixio,path=$IT_TMP/never.sock

# The same pid option with a regular file starts and writes the pid (then SIGTERM ends it).
for d in "$IT_DAEMON" "$SWTPM"; do
  state=$IT_TMP/state-v
  [[ $d == "$SWTPM" ]] && state=$IT_TMP/state-s
  rm -f "$IT_TMP/pid"
  : >"$IT_TMP/pid"
  sock=$IT_TMP/ctrl-$(basename "$d").sock
  bash -c "exec 3>>\"$IT_TMP/pid\"; exec \"\$0\" socket --tpm2 --tpmstate dir=$state --pid fd=3 --ctrl type=unixio,path=$sock --flags not-need-init" "$d" \
    >"$IT_TMP/$(basename "$d").log" 2>&1 &
  pid=$!
  it_track "$pid"
  it_log "$IT_TMP/$(basename "$d").log"
  wait_until 10 test -s "$IT_TMP/pid" || fail "$(basename "$d") with a regular --pid fd= wrote no pid"
  assert_eq "$(basename "$d") pid file" "$pid" "$(tr -d '\n' <"$IT_TMP/pid")"
  kill -TERM "$pid"
  wait_pid_gone "$pid" 10 || fail "$(basename "$d") did not exit on SIGTERM"
  it_untrack "$pid"
  [[ -e $IT_TMP/pid ]] && fail "$(basename "$d") left the --pid fd= file behind at exit (swtpm removes it)"
  step "$(basename "$d"): a regular --pid fd= gets the pid, and the file goes at exit"
done
it_pass
