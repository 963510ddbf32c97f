#!/usr/bin/env bash
# tests/integration/init_wrong_key.sh VTPMD: CMD_INIT on keyed state started with a wrong key, a
# password, the other key size or none (and plain state with a key): vtpmd and Debian's swtpm
# 0.7.1 side by side, TPM 1.2 and 2, each on state it wrote itself and on swtpm-written copies.
# `swtpm_ioctl -i` must print the same for both (TPM 1.2: 0x21, 0x28, 0x9; TPM 2: 0x101), both keep
# serving, the files stay byte-identical, and key A starts the TPM again.
source "$(dirname "$0")/lib.sh"
it_init "$@"
require_tool swtpm_ioctl swtpm-tools
SWTPM=/usr/bin/swtpm
[[ -x $SWTPM ]] || fail "Debian's swtpm (package swtpm) is the reference here and is missing"
VTPMD=$IT_DAEMON
W=$IT_TMP

printf '%s\n' 00112233445566778899aabbccddeeff >"$W/k128a"
printf '%s\n' ffeeddccbbaa99887766554433221100 >"$W/k128b"
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$W/k256a"
printf '%s\n' 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100 >"$W/k256b"
# The --key option for each name (swtpm 0.7.1's syntax; the password is key A's file, as
# swtpm's own test_save_load_encrypted_state uses it).
key_opt() {
  case $1 in
    k128a | k128b) printf 'file=%s,format=hex,mode=aes-cbc' "$W/$1" ;;
    k256a | k256b) printf 'file=%s,format=hex,mode=aes-256-cbc' "$W/$1" ;;
    pwd128) printf 'pwdfile=%s' "$W/k128a" ;;
    pwd256) printf 'pwdfile=%s,mode=aes-256-cbc' "$W/k128a" ;;
    *) fail "unknown key name $1" ;;
  esac
}

# start D VERSION STATE KEY TAG: DAEMON on STATE (no --server: only the control socket is
# needed), with KEY's --key (KEY "none": no key). Sets DAEMON_PID and SOCK.
start() {
  local d=$1 ver=$2 state=$3 key=$4 tag=$5 args=()
  SOCK=$W/$tag.ctrl
  rm -f "$SOCK"
  [[ $ver == 2 ]] && args+=(--tpm2)
  [[ $key != none ]] && args+=(--key "$(key_opt "$key")")
  IT_DAEMON=$d
  start_unix_daemon "$W/$tag.log" "$SOCK" -- socket "${args[@]}" --tpmstate "dir=$state" \
    --ctrl "type=unixio,path=$SOCK"
  IT_DAEMON=$VTPMD
}

# stop: CMD_SHUTDOWN; the daemon must exit 0 within 5 s.
stop() {
  ok "CMD_SHUTDOWN ($(basename "$SOCK"))" swtpm_ioctl --unix "$SOCK" -s
  wait_pid_gone "$DAEMON_PID" 5 || fail "daemon $DAEMON_PID still runs 5 s after CMD_SHUTDOWN"
  assert_eq "exit status after CMD_SHUTDOWN ($(basename "$SOCK"))" 0 "$GONE_RC"
}

files_sha() { (cd "$1" && sha256sum -- tpm-00.* tpm2-00.* 2>/dev/null | sort); }

# create D VERSION STATE KEY: a fresh state written by D itself with KEY.
create() {
  mkdir -p "$3"
  start "$1" "$2" "$3" "$4" "create-$(basename "$3")"
  ok "$(basename "$1") CMD_INIT on an empty state ($4)" swtpm_ioctl --unix "$SOCK" -i
  stop
  local pfx=tpm-00
  [[ $2 == 2 ]] && pfx=tpm2-00
  [[ -s $3/$pfx.permall ]] || fail "$(basename "$1") wrote no $pfx.permall in $3"
}

# attempt D VERSION STATE KEY TAG: restart D on STATE with KEY and send CMD_INIT. Sets
# INIT_OUT/INIT_RC (swtpm_ioctl's output and status) and CONF_OUT (-g: still serving). The files
# must be unchanged by it.
attempt() {
  local d=$1 before
  before=$(files_sha "$3")
  start "$d" "$2" "$3" "$4" "$5"
  run swtpm_ioctl --unix "$SOCK" -i
  INIT_OUT=$OUT INIT_RC=$RC
  ((RC == 124 || RC == 137)) && fail "$5: swtpm_ioctl -i timed out: $OUT"
  pid_alive "$DAEMON_PID" || fail "$5: $(basename "$d") exited after the failed CMD_INIT"
  ok "$5: CMD_GET_CONFIG after CMD_INIT" swtpm_ioctl --unix "$SOCK" -g
  CONF_OUT=$OUT
  stop
  assert_eq "$5: state files after CMD_INIT with key $4" "$before" "$(files_sha "$3")"
}

# compare VERSION STATE_V STATE_S KEY WANT DESC: both daemons on their state with KEY; the
# swtpm_ioctl results must be equal (and, so that the test shows what it compares, swtpm's must
# be WANT). vtpmd must log the store's reason.
compare() {
  local ver=$1 sv=$2 ss=$3 key=$4 want=$5 desc=$6 v_out v_rc v_conf
  attempt "$VTPMD" "$ver" "$sv" "$key" "v$ver-$desc"
  v_out=$INIT_OUT v_rc=$INIT_RC v_conf=$CONF_OUT
  attempt "$SWTPM" "$ver" "$ss" "$key" "s$ver-$desc"
  assert_eq "TPM $ver, $desc: swtpm's swtpm_ioctl -i" "$want" "$INIT_OUT"
  assert_eq "TPM $ver, $desc: swtpm_ioctl -i, vtpmd vs swtpm" "$INIT_OUT" "$v_out"
  assert_eq "TPM $ver, $desc: swtpm_ioctl -i status, vtpmd vs swtpm" "$INIT_RC" "$v_rc"
  assert_eq "TPM $ver, $desc: -g after CMD_INIT, vtpmd vs swtpm" "$CONF_OUT" "$v_conf"
  if [[ $want != "" ]]; then
    grep -q "CMD_INIT: TPM not initialised (${want##*: }): state file tpm2\?-00.permall: " \
      "$W/v$ver-$desc.log" || fail "TPM $ver, $desc: vtpmd's log does not give the store's reason"
  fi
  step "TPM $ver, $desc: both answer '${INIT_OUT:-success}'"
}

# scenario VERSION KEY_A WRONG… : state from each daemon with KEY_A; then each WRONG as
# "key:expected-result-code"; then KEY_A again starts both.
scenario() {
  local ver=$1 a=$2 n=$((++SCENARIO)) w key code want
  shift 2
  local sv=$W/own-$n-v ss=$W/own-$n-s
  create "$VTPMD" "$ver" "$sv" "$a"
  create "$SWTPM" "$ver" "$ss" "$a"
  for w in "$@"; do
    key=${w%%:*} code=${w#*:}
    want="TPM result from PTM_INIT: $code"
    compare "$ver" "$sv" "$ss" "$key" "$want" "own$n-$a-then-$key"
  done
  compare "$ver" "$sv" "$ss" "$a" "" "own$n-$a-again"
  [[ $INIT_RC == 0 ]] || fail "TPM $ver: key $a does not start its own state again: $INIT_OUT"
}
SCENARIO=0

# TPM 1.2: the codes swtpm 0.7.1's NVRAM load gives; TPM 2: TPM_RC_FAILURE for all.
scenario 1 k128a k128b:0x21 pwd128:0x21 pwd256:0x28 k256a:0x28 none:0x9
scenario 1 k256a k256b:0x21 pwd256:0x21 k128a:0x28
scenario 2 k128a k128b:0x101 pwd128:0x101 pwd256:0x101 none:0x101
scenario 2 k256a k128a:0x101
# Plain state and a key: refused by both (swtpm reads a file without its 256-bit flag as needing
# a 128-bit key: 0x28 for a 256-bit one, 0x9 when a 128-bit key finds no HMAC).
plain_scenario() {
  local ver=$1 n=$((++SCENARIO)) w key code
  shift
  local sv=$W/own-$n-v ss=$W/own-$n-s
  mkdir -p "$sv" "$ss"
  for d in "$VTPMD" "$SWTPM"; do
    local st=$sv
    [[ $d == "$SWTPM" ]] && st=$ss
    start "$d" "$ver" "$st" none "create-plain-$n-$(basename "$d")"
    ok "$(basename "$d") CMD_INIT on an empty plain state" swtpm_ioctl --unix "$SOCK" -i
    stop
  done
  for w in "$@"; do
    key=${w%%:*} code=${w#*:}
    compare "$ver" "$sv" "$ss" "$key" "TPM result from PTM_INIT: $code" "plain$n-then-$key"
  done
}
plain_scenario 1 k128a:0x9 k256a:0x28
plain_scenario 2 k128a:0x101 k256a:0x101

# swtpm's AES-CBC files given to both daemons (vtpmd reads them; a copy for each).
for ver in 1 2; do
  src=$W/swtpm-$ver
  create "$SWTPM" "$ver" "$src" k128a
  for w in k128b:0x21 pwd256:0x28 k256a:0x28; do
    key=${w%%:*} code=${w#*:}
    [[ $ver == 2 ]] && code=0x101
    rm -rf "$W/x-v" "$W/x-s"
    cp -a "$src" "$W/x-v"
    cp -a "$src" "$W/x-s"
    compare "$ver" "$W/x-v" "$W/x-s" "$key" "TPM result from PTM_INIT: $code" "swtpm$ver-files-$key"
  done
done
it_pass
