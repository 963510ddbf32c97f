# tests/integration/manager_lib.sh: helpers shared by the manager_*.sh scripts (sourced after
# lib.sh and it_init): start/stop vtpm-manager, vtpmctl queries, manager-keyed vtpmd instances
# and their refusals. Every wait is bounded and event-based (socket listening, pid gone).
# printf formats from hex_esc are deliberate (bytes without xxd); stop_manager's argument is optional.
# shellcheck shell=bash disable=SC2034,SC2059,SC2119,SC2120

# mgr_init VTPMD MANAGER VTPMCTL: checks the three executables; sets the manager's paths.
mgr_init() {
  VTPMD=$1 MANAGER=${2:-} VTPMCTL=${3:-}
  [[ -x $MANAGER ]] || fail "usage: $0 VTPMD VTPM-MANAGER VTPMCTL ('$MANAGER' is not executable)"
  [[ -x $VTPMCTL ]] || fail "usage: $0 VTPMD VTPM-MANAGER VTPMCTL ('$VTPMCTL' is not executable)"
  MSTATE=$IT_TMP/mgr
  MSOCK=$IT_TMP/mgr.sock
  MGR_PID=""
  MGR_N=0
}

# shellcheck disable=SC2317  # called through wait_until
mgr_up() {
  pid_alive "$MGR_PID" || fail "vtpm-manager $MGR_PID exited before serving (see $MGR_LOG)"
  unix_listening "$MSOCK"
}

# start_manager ARG…: a new vtpm-manager process on MSTATE/MSOCK (each with its own log,
# MGR_LOG); waits until its socket listens.
start_manager() {
  MGR_N=$((MGR_N + 1))
  MGR_LOG=$IT_TMP/manager.$MGR_N.log
  it_log "$MGR_LOG"
  echo "+ $MANAGER --state $MSTATE --socket $MSOCK $*" >>"$MGR_LOG"
  "$MANAGER" --state "$MSTATE" --socket "$MSOCK" "$@" >>"$MGR_LOG" 2>&1 </dev/null &
  MGR_PID=$!
  it_track "$MGR_PID"
  wait_until 60 mgr_up || fail "vtpm-manager $MGR_PID: $MSOCK not listening within 60 s"
}

# stop_manager [any]: SIGTERM (clean stop: a durable commit), the process must be gone within
# 20 s, with status 0 unless "any" is given (a failed-closed manager has nothing to commit).
stop_manager() {
  kill -TERM "$MGR_PID"
  wait_pid_gone "$MGR_PID" 20 || fail "vtpm-manager $MGR_PID still running 20 s after SIGTERM"
  [[ ${1:-} == any ]] || assert_eq "vtpm-manager exit status after SIGTERM" 0 "$GONE_RC"
}

kill_manager() {
  kill -KILL "$MGR_PID"
  wait_pid_gone "$MGR_PID" 5 || fail "vtpm-manager $MGR_PID survived SIGKILL"
}

ctl() { ok "vtpmctl $*" "$VTPMCTL" --manager "$MSOCK" "$@"; }

# status_field NAME: the value of NAME in `vtpmctl status` (sets OUT).
status_field() {
  ctl status
  local v
  v=$(awk -v k="$1" '$1 == k { print $2 }' <<<"$OUT")
  [[ $v =~ ^[0-9a-fA-F]+$|^[A-Z][A-Za-z]+$ ]] || fail "vtpmctl status has no '$1' line: $OUT"
  printf '%s' "$v"
}

# record_of UUID: "STATE GENERATION" from `vtpmctl list`, empty if there is no record.
record_of() {
  ctl list
  awk -v u="$1" '$1 == u { print $2, $3 }' <<<"$OUT"
}

# generation_of UUID: the record's generation (the record must exist and be saved).
generation_of() {
  local r
  r=$(record_of "$1")
  [[ $r =~ ^saved\ ([0-9]+)$ ]] || fail "vtpmctl list: $1 is '$r', expected 'saved GENERATION'"
  printf '%s' "${BASH_REMATCH[1]}"
}

# generation_after UUID PREV: the record's generation once it is above PREV, waiting at most 30 s
# (a write's Commit reaches the manager with the instance's next write or after 20 ms without
# input, so it lags the write's answer); prints the last value seen if it never grows, and the
# caller's check then fails with it.
generation_after() {
  local g deadline=$((${EPOCHREALTIME/[.,]/} + 30000000))
  g=$(generation_of "$1")
  while ((g <= $2)) && ((${EPOCHREALTIME/[.,]/} < deadline)); do
    sleep 0.02
    g=$(generation_of "$1")
  done
  printf '%s' "$g"
}

new_uuid() { cat /proc/sys/kernel/random/uuid; }

# start_instance STATE UUID LOG: vtpmd keyed by the manager on tcp ports; then CMD_INIT and
# TPM2_Startup(CLEAR). Sets DAEMON_PID, DATA_PORT, CTRL_PORT.
start_instance() {
  IT_DAEMON=$VTPMD
  start_tcp_daemon "$1" "$3" --key "manager=$MSOCK,uuid=$2"
  ioctl_ok "CMD_INIT ($2)" -i
  tpm_ok "TPM2_Startup ($2)" tpm2_startup -c
}

# stop_instance: CMD_SHUTDOWN, the daemon must exit 0 within 10 s.
stop_instance() {
  local pid=$DAEMON_PID
  ioctl_ok "CMD_SHUTDOWN" -s
  wait_pid_gone "$pid" 10 || fail "vtpmd $pid still running 10 s after CMD_SHUTDOWN"
  assert_eq "vtpmd exit status after CMD_SHUTDOWN" 0 "$GONE_RC"
}

# nv_write_new FILE: 16 new random bytes into FILE, written to NV_INDEX.
nv_write_new() {
  head -c 16 /dev/urandom >"$1"
  tpm_ok "nvwrite $NV_INDEX" tpm2_nvwrite "$NV_INDEX" -C o -i "$1"
}

# nv_read_is DESC FILE: NV_INDEX must hold FILE's bytes.
nv_read_is() {
  tpm_ok "nvread $NV_INDEX" tpm2_nvread "$NV_INDEX" -C o -s 16 -o "$IT_TMP/nvread.bin"
  assert_eq "$1" "$(file_hex "$2")" "$(file_hex "$IT_TMP/nvread.bin")"
}

# instance_refused DESC STATE UUID REGEX: vtpmd keyed by the manager must exit non-zero (not
# time out) with a message matching REGEX; the state dir must be unchanged by the attempt.
instance_refused() {
  local desc=$1 state=$2 uuid=$3 re=$4 port before after attempt
  before=$(cd "$state" && find . -type f ! -name '*.lock' -exec sha256sum {} + | sort)
  for ((attempt = 0; attempt < 5; attempt++)); do
    port=$(pick_port_pair) || fail "no free port pair found"
    must_fail "$desc" "$VTPMD" socket --tpm2 --tpmstate "dir=$state" --server "type=tcp,port=$port" \
      --ctrl "type=tcp,port=$((port + 1))" --key "manager=$MSOCK,uuid=$uuid"
    [[ $OUT == *'Address already in use'* ]] || break # a port taken meanwhile: other ports
  done
  assert_match "$desc: the refusal" "$re" "$OUT"
  step "refused as expected: ${OUT//$'\n'/ | }"
  after=$(cd "$state" && find . -type f ! -name '*.lock' -exec sha256sum {} + | sort)
  assert_eq "$desc: the refused start changed the state dir" "$before" "$after"
}

# flip_byte FILE OFFSET: XOR the byte at OFFSET with 0x01 in place.
flip_byte() {
  local b
  b=$(od -An -tx1 -j "$2" -N1 "$1" | tr -d ' \n')
  [[ -n $b ]] || fail "flip_byte: $1 has no byte at $2"
  printf "$(hex_esc "$(printf '%02x' $((16#$b ^ 1)))")" |
    dd of="$1" bs=1 seek="$2" conv=notrunc status=none || fail "flip_byte: dd failed"
}

# sign_approval GROUP SEQ KEY OUT [PCRS]: the offline signer's round: vtpmctl group
# approval-request writes OUT.req and OUT.req.tbs, the real openssl CLI signs OUT.req.tbs with the
# group's private key KEY, and the approval file OUT is the request followed by the signature.
sign_approval() {
  local pcrs=()
  [[ -n ${5:-} ]] && pcrs=(--pcrs "$5")
  ctl group approval-request "$1" --seq "$2" "${pcrs[@]}" "$4.req"
  openssl dgst -sha256 -sign "$3" -out "$4.sig" "$4.req.tbs" || fail "openssl could not sign $4.req.tbs"
  cat "$4.req" "$4.sig" >"$4"
}
