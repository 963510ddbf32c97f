#!/bin/bash
# tests/integration/swtpm_ioctl.sh DAEMON: every operation of swtpm_ioctl 0.7.1 against
# `DAEMON socket --tpm2`, once with TCP data+ctrl channels and once with unix-socket ones.
# Proves: capability word, CMD_INIT gating, tpmEstablished + hashing (PCR17 value), locality
# rules of SET_LOCALITY / RESET_TPMESTABLISHED, cancel, store volatile, stop, buffer size limits,
# config flags, info JSON, state blob save/load into a second daemon, shutdown with pidfile removal.
# The TCP leg also sends raw control and TPM bytes (bash /dev/tcp) for what swtpm_ioctl checks
# client-side (locality 5) and to see that SET_LOCALITY reaches the TPM (PCR20 reset rule).
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool swtpm_ioctl swtpm-tools
require_tool tpm2_startup tpm2-tools
require_tcti_swtpm

# PTM_CAP_* bits of every operation exercised below plus what QEMU needs (0x348f):
# INIT SHUTDOWN GET_TPMESTABLISHED SET_LOCALITY HASHING CANCEL STORE_VOLATILE RESET_TPMESTABLISHED
# GET_STATEBLOB SET_STATEBLOB STOP GET_CONFIG SET_DATAFD SET_BUFFERSIZE GET_INFO.
REQUIRED_CAPS=$((0x7fff))

# TPM2_PCR_Reset(PCR20) with an empty password session (Part 3 §22.3). PC Client: PCR20 can be
# reset from localities 2 and 4 only (libtpms resetLocality 0x14), so the response code tells
# which locality the TPM saw.
PCR_RESET_20=80020000001b0000013d0000001400000009400000090000000000

# ---- per-leg helpers (set by start_leg_daemon) -------------------------------------------------
# IOCTL=(swtpm_ioctl --tcp host:port | --unix path), TCTI for tpm2-tools, STATE dir.

# lib.sh's ok/must_fail, with the leg in the message.
ioctl() { run swtpm_ioctl "${IOCTL[@]}" "$@"; }
ioctl_ok() {
  local desc=$1
  shift
  ok "[$LEG] $desc" swtpm_ioctl "${IOCTL[@]}" "$@"
}
ioctl_fail() {
  local desc=$1
  shift
  must_fail "[$LEG] $desc" swtpm_ioctl "${IOCTL[@]}" "$@"
}
tpm() { TPM2TOOLS_TCTI=$TCTI run "$@"; }
tpm_ok() {
  local desc=$1
  shift
  TPM2TOOLS_TCTI=$TCTI ok "[$LEG] $desc" "$@"
}
pcr_hex() {
  rm -f "$W/pcr.bin"
  tpm_ok "read PCR$1" tpm2_pcrread "sha256:$1" -o "$W/pcr.bin"
  file_hex "$W/pcr.bin"
}

# start_leg_daemon NAME STATEDIR EXTRA…: daemon for this leg; sets DAEMON_PID, IOCTL, TCTI.
start_leg_daemon() {
  local name=$1 state=$2
  shift 2
  mkdir -p "$state"
  if [[ $LEG == tcp ]]; then
    start_tcp_daemon "$state" "$W/$name.log" "$@"
    IOCTL=(--tcp "127.0.0.1:$CTRL_PORT")
    TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
  else
    # tcti-swtpm with path=P uses P for data and P.ctrl for control
    local sock=$W/$name.sock
    start_unix_daemon "$W/$name.log" "$sock" "$sock.ctrl" -- socket --tpm2 --tpmstate "dir=$state" \
      --server "type=unixio,path=$sock" --ctrl "type=unixio,path=$sock.ctrl" "$@"
    IOCTL=(--unix "$sock.ctrl")
    TCTI="swtpm:path=$sock"
    UNIX_SOCK=$sock
  fi
  step "[$LEG] $name: pid $DAEMON_PID, ${IOCTL[*]}"
}

# shutdown_daemon PID: CMD_SHUTDOWN; the process must be gone within 4 s with exit status 0.
shutdown_daemon() {
  local pid=$1
  ioctl_ok "CMD_SHUTDOWN" -s
  wait_pid_gone "$pid" 4 || fail "[$LEG] daemon $pid still running 4 s after CMD_SHUTDOWN"
  assert_eq "[$LEG] exit status after CMD_SHUTDOWN" 0 "$GONE_RC"
}

run_leg() {
  LEG=$1
  W=$IT_TMP/$LEG
  mkdir -p "$W"
  local state=$W/stateA pidfile=$W/a.pid

  step "[$LEG] daemon A: stopped until CMD_INIT, with --pid"
  start_leg_daemon a "$state" --pid "file=$pidfile"
  local apid=$DAEMON_PID a_ioctl=("${IOCTL[@]}") a_tcti=$TCTI a_ctrl=${CTRL_PORT:-} a_data=${DATA_PORT:-}
  local a_sock=${UNIX_SOCK:-}
  wait_until 3 test -s "$pidfile" || fail "[$LEG] pidfile $pidfile not written"
  assert_eq "[$LEG] pidfile content" "$apid" "$(tr -d ' \n' <"$pidfile")"

  step "[$LEG] -c GET_CAPABILITY"
  ioctl_ok "get capability" -c
  [[ $OUT =~ ptm\ capability\ is\ 0x([0-9a-fA-F]+) ]] || fail "[$LEG] unexpected -c output: $OUT"
  local caps=$((16#${BASH_REMATCH[1]}))
  step "[$LEG] caps 0x$(printf '%x' "$caps")"
  (((caps & REQUIRED_CAPS) == REQUIRED_CAPS)) ||
    fail "[$LEG] caps 0x$(printf '%x' "$caps") lack bits 0x$(printf '%x' $((REQUIRED_CAPS & ~caps)))"

  step "[$LEG] before CMD_INIT: ctrl commands needing a running TPM and TPM commands fail"
  ioctl_fail "-e before INIT" -e
  assert_match "[$LEG] -e before INIT" '0xa$' "$OUT"
  tpm tpm2_getrandom 8 -o "$W/r.bin"
  ((RC != 0)) || fail "[$LEG] TPM command before CMD_INIT succeeded"
  assert_match "[$LEG] TPM command before CMD_INIT" '0x101|failure' "$OUT"

  step "[$LEG] -i CMD_INIT, TPM2_Startup"
  ioctl_ok "CMD_INIT" -i
  ioctl_ok "-e" -e
  assert_eq "[$LEG] -e after INIT" "tpmEstablished is 0" "$OUT"
  tpm_ok "startup" tpm2_startup -c

  step "[$LEG] -l SET_LOCALITY 0..4; 5 rejected"
  local l
  for l in 0 1 2 3 4; do ioctl_ok "set locality $l" -l "$l"; done
  ioctl_fail "set locality 5" -l 5
  if [[ $LEG == tcp ]]; then
    # swtpm_ioctl refuses 5 itself; the daemon must answer TPM_BAD_LOCALITY on its own.
    assert_eq "[$LEG] raw CMD_SET_LOCALITY(5)" 0000003d "$(ctrl_raw_tcp "$a_ctrl" 0000000505 4)"
    assert_eq "[$LEG] raw CMD_SET_LOCALITY(2)" 00000000 "$(ctrl_raw_tcp "$a_ctrl" 0000000502 4)"
    local rsp
    rsp=$(tpm_raw_tcp "$a_data" "$PCR_RESET_20")
    assert_eq "[$LEG] PCR_Reset(20) at locality 2: header" 80020000001300000000 "${rsp:0:20}"
    assert_eq "[$LEG] raw CMD_SET_LOCALITY(0)" 00000000 "$(ctrl_raw_tcp "$a_ctrl" 0000000500 4)"
    rsp=$(tpm_raw_tcp "$a_data" "$PCR_RESET_20")
    assert_eq "[$LEG] PCR_Reset(20) at locality 0: TPM_RC_LOCALITY" 80010000000a00000907 "$rsp"
    assert_eq "[$LEG] raw unknown ctrl command 0xff" 0000000a "$(ctrl_raw_tcp "$a_ctrl" 000000ff 4)"
    assert_eq "[$LEG] raw GET_CAPABILITY" "00000000$(printf '%08x' "$caps")" \
      "$(ctrl_raw_tcp "$a_ctrl" 00000001 8)"
    assert_eq "[$LEG] raw GET_TPMESTABLISHED (8-byte reply)" 0000000000000000 \
      "$(ctrl_raw_tcp "$a_ctrl" 00000004 8)"
    assert_eq "[$LEG] raw RESET_TPMESTABLISHED(1)" 0000003d "$(ctrl_raw_tcp "$a_ctrl" 0000000b01 4)"
  fi
  ioctl_ok "back to locality 0" -l 0

  step "[$LEG] -h hash start/data/end: PCR17 and tpmEstablished"
  assert_eq "[$LEG] PCR17 before hashing" "$(printf 'f%.0s' {1..64})" "$(pcr_hex 17)"
  local data="vtpmd hashing sequence $LEG"
  ioctl_ok "hash" -h "$data"
  local dig
  dig=$(sha256_hex_of_string "$data")
  assert_eq "[$LEG] PCR17 = SHA256(0^32 || SHA256(data))" \
    "$(pcr_extend_sha256 "$(zeros_hex 32)" "$dig")" "$(pcr_hex 17)"
  ioctl_ok "-e" -e
  assert_eq "[$LEG] -e after hashing" "tpmEstablished is 1" "$OUT"
  # 10000 bytes from stdin: more than one 4096-byte HASH_DATA chunk
  head -c 10000 /dev/urandom >"$W/big.bin"
  OUT=$(timeout -k 2 "$IT_CLIENT_TIMEOUT" swtpm_ioctl "${IOCTL[@]}" -h - <"$W/big.bin" 2>&1)
  RC=$?
  ((RC == 0)) || fail "[$LEG] hash from stdin exited $RC: $OUT"
  assert_eq "[$LEG] PCR17 after hashing 10000 bytes" \
    "$(pcr_extend_sha256 "$(zeros_hex 32)" "$(sha256_hex_of_file "$W/big.bin")")" "$(pcr_hex 17)"

  step "[$LEG] -r RESET_TPMESTABLISHED: only localities 3 and 4"
  for l in 0 1 2; do
    ioctl_fail "reset established from locality $l" -r "$l"
    assert_match "[$LEG] -r $l" '0x3d' "$OUT"
  done
  ioctl_ok "-e" -e
  assert_eq "[$LEG] -e after refused resets" "tpmEstablished is 1" "$OUT"
  ioctl_ok "reset established from locality 3" -r 3
  ioctl_ok "-e" -e
  assert_eq "[$LEG] -e after -r 3" "tpmEstablished is 0" "$OUT"
  ioctl_ok "hash again" -h x
  ioctl_ok "reset established from locality 4" -r 4
  ioctl_ok "-e" -e
  assert_eq "[$LEG] -e after -r 4" "tpmEstablished is 0" "$OUT"
  tpm_ok "getrandom after the hash sequences" tpm2_getrandom 8 -o "$W/r.bin"

  step "[$LEG] -C CANCEL_TPM_CMD"
  ioctl_ok "cancel" -C
  tpm_ok "getrandom after cancel" tpm2_getrandom 8 -o "$W/r.bin"
  assert_eq "[$LEG] random byte count" 8 "$(stat -c %s "$W/r.bin")"

  step "[$LEG] -g GET_CONFIG, --info 1/2"
  ioctl_ok "get config" -g
  assert_eq "[$LEG] config flags without keys" "ptm configuration flags: 0x0" "$OUT"
  ioctl_ok "info 1" --info 1
  assert_match "[$LEG] --info 1" '^\{"TPMSpecification":\{"family":"2.0",' "$OUT"
  ioctl_ok "info 2" --info 2
  assert_match "[$LEG] --info 2" '^\{"TPMAttributes":\{"manufacturer":"id:[0-9A-Fa-f]{8}"' "$OUT"

  step "[$LEG] -v STORE_VOLATILE"
  [[ ! -e $state/tpm2-00.volatilestate ]] || fail "[$LEG] volatilestate exists before -v"
  ioctl_ok "store volatile" -v
  [[ -s $state/tpm2-00.volatilestate ]] || fail "[$LEG] -v wrote no tpm2-00.volatilestate"

  step "[$LEG] --save permanent/volatile/savestate from A"
  head -c 24 /dev/urandom >"$W/nv.bin"
  tpm_ok "nvdefine" tpm2_nvdefine 0x1500020 -C o -s 24 -a "ownerread|ownerwrite"
  tpm_ok "nvwrite" tpm2_nvwrite 0x1500020 -C o -i "$W/nv.bin"
  local d
  d=$(sha256_hex_of_string "blob $LEG")
  tpm_ok "extend PCR16" tpm2_pcrextend "16:sha256=$d"
  local pcr16
  pcr16=$(pcr_hex 16)
  assert_eq "[$LEG] PCR16 after extend" "$(pcr_extend_sha256 "$(zeros_hex 32)" "$d")" "$pcr16"
  ioctl_ok "save permanent" --save permanent "$W/perm.blob"
  ioctl_ok "save volatile" --save volatile "$W/vol.blob"
  ioctl_ok "save savestate" --save savestate "$W/save.blob"
  [[ -s $W/perm.blob && -s $W/vol.blob ]] || fail "[$LEG] empty permanent or volatile blob"
  [[ -e $W/save.blob && ! -s $W/save.blob ]] || fail "[$LEG] TPM2 savestate blob must be empty"
  step "[$LEG] blobs: permanent $(stat -c %s "$W/perm.blob") B, volatile $(stat -c %s "$W/vol.blob") B"
  ioctl_fail "load while running" --load permanent "$W/perm.blob"
  assert_match "[$LEG] --load while running" '0xa$' "$OUT"

  step "[$LEG] --load into daemon B (fresh state dir), CMD_INIT, see A's NV index and PCR16"
  start_leg_daemon b "$W/stateB"
  local bpid=$DAEMON_PID
  ioctl_ok "B load permanent" --load permanent "$W/perm.blob"
  ioctl_ok "B load volatile" --load volatile "$W/vol.blob"
  ioctl_ok "B init" -i
  tpm_ok "B nvread" tpm2_nvread 0x1500020 -C o -s 24 -o "$W/nvB.bin"
  assert_eq "[$LEG] NV index from A read on B" "$(file_hex "$W/nv.bin")" "$(file_hex "$W/nvB.bin")"
  assert_eq "[$LEG] PCR16 from A read on B" "$pcr16" "$(pcr_hex 16)"
  shutdown_daemon "$bpid"

  IOCTL=("${a_ioctl[@]}") TCTI=$a_tcti DAEMON_PID=$apid
  step "[$LEG] --stop; -b SET_BUFFERSIZE while stopped"
  ioctl_ok "stop" --stop
  ioctl_fail "-e while stopped" -e
  tpm tpm2_getrandom 8 -o "$W/r.bin"
  ((RC != 0)) || fail "[$LEG] TPM command after CMD_STOP succeeded"
  assert_match "[$LEG] TPM command after CMD_STOP" '0x101|failure' "$OUT"
  pid_alive "$apid" || fail "[$LEG] daemon exited on CMD_STOP"
  buffersize() {
    ioctl_ok "buffer size $1" -b "$1"
    [[ $OUT =~ TPM\ buffersize:\ *([0-9]+).*minimum\ size\ *:\ *([0-9]+).*maximum\ size\ *:\ *([0-9]+) ]] ||
      fail "[$LEG] unexpected -b output: $OUT"
    BS="${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
  }
  buffersize 0
  assert_eq "[$LEG] -b 0 (size min max)" "4096 2808 4096" "$BS"
  buffersize 3000
  assert_eq "[$LEG] -b 3000" "3000 2808 4096" "$BS"
  buffersize 0
  assert_eq "[$LEG] -b 0 after set" "3000 2808 4096" "$BS"
  buffersize 100000
  assert_eq "[$LEG] -b 100000 clamps to max" "4096 2808 4096" "$BS"
  buffersize 1
  assert_eq "[$LEG] -b 1 clamps to min" "2808 2808 4096" "$BS"
  buffersize 4096
  assert_eq "[$LEG] -b 4096" "4096 2808 4096" "$BS"

  step "[$LEG] -i after --stop; -b only queries while running"
  ioctl_ok "init after stop" -i
  tpm_ok "startup after re-init" tpm2_startup -c
  tpm_ok "getrandom after re-init" tpm2_getrandom 8 -o "$W/r.bin"
  ioctl_fail "set buffer size while running" -b 3000
  assert_match "[$LEG] -b 3000 while running" '0xa$' "$OUT"
  buffersize 0
  assert_eq "[$LEG] -b 0 while running" "4096 2808 4096" "$BS"
  tpm_ok "A nvread after stop/init" tpm2_nvread 0x1500020 -C o -s 24 -o "$W/nvA.bin"
  assert_eq "[$LEG] NV index kept by A" "$(file_hex "$W/nv.bin")" "$(file_hex "$W/nvA.bin")"

  step "[$LEG] -s CMD_SHUTDOWN: exit, pidfile and sockets removed"
  shutdown_daemon "$apid"
  [[ ! -e $pidfile ]] || fail "[$LEG] pidfile $pidfile still present after CMD_SHUTDOWN"
  if [[ $LEG == unix ]]; then
    [[ ! -e $a_sock && ! -e $a_sock.ctrl ]] || fail "[$LEG] socket files still present after CMD_SHUTDOWN"
  fi
}

run_leg tcp
run_leg unix
it_pass
