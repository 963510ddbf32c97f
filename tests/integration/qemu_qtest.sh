#!/bin/bash
# tests/integration/qemu_qtest.sh DAEMON: QEMU 7.2 `-tpmdev emulator` + `-device tpm-tis` in
# front of `DAEMON socket --tpm2 --ctrl type=unixio,…` (libvirt style, data fd via CMD_SET_DATAFD),
# driven register by register over qtest with the CPU stopped (-S: no firmware runs).
# Proves: QEMU's start sequence against the daemon (SET_DATAFD, probe, caps, STOP/SET_BUFFERSIZE/
# INIT), tpmEstablished seen through ACCESS bit 0, TIS locality request/release/seize rules,
# FIFO command round trips (TPM_RC_INITIALIZE before Startup, Startup, GetRandom), the locality
# reaching the TPM through CMD_SET_LOCALITY (PCR20 reset rule), CMD_SHUTDOWN when QEMU exits.
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool qemu-system-x86_64 qemu-system-x86

STATE=$IT_TMP/state CTRL_SOCK=$IT_TMP/ctrl.sock
mkdir "$STATE"

step "start daemon (unixio ctrl only, no --server)"
start_unix_daemon "$IT_TMP/daemon.log" "$CTRL_SOCK" -- socket --tpm2 --tpmstate "dir=$STATE" \
  --ctrl "type=unixio,path=$CTRL_SOCK"
step "daemon pid $DAEMON_PID"

step "start QEMU (tcg, -S, tpm-tis, qtest on stdio)"
qt_start "$IT_TMP/qemu.log" -M pc -nodefaults -display none -monitor none -serial none -nic none \
  -accel tcg -S \
  -chardev "socket,id=chrtpm,path=$CTRL_SOCK" -tpmdev emulator,id=tpm0,chardev=chrtpm \
  -device tpm-tis,tpmdev=tpm0
# The first qtest reply only arrives once QEMU finished device setup and the machine reset,
# i.e. after the emulator answered the whole start sequence.
qt readl "$(tis_addr 0 $TIS_DID_VID)"
assert_eq "DID_VID (QEMU's TIS is mapped)" 0x00011014 "$(printf '0x%08x' "$QT_VAL")"

step "idle: every locality reads VALID | tpmEstablishment (fresh TPM: not established)"
for l in 0 1 2 3 4; do
  tis_expect_access $l 0x81 "idle"
done
tis_sts 0
assert_eq "STS of a non-active locality" 0xffffffff "$(printf '0x%08x' "$TIS_STS_VAL")"

step "request, pending, relinquish"
tis_writeb 0 $TIS_ACCESS $ACC_REQUEST
tis_expect_access 0 0xa1 "locality 0 granted at once"
tis_writeb 1 $TIS_ACCESS $ACC_REQUEST
tis_expect_access 1 0x83 "locality 1 request pending"
tis_expect_access 0 0xa5 "locality 0 sees pendingRequest"
tis_expect_access 2 0x85 "locality 2 sees pendingRequest"
tis_writeb 0 $TIS_ACCESS $ACC_ACTIVE
tis_expect_access 1 0xa1 "locality 1 active after 0 relinquished"
tis_expect_access 0 0x81 "locality 0 after relinquish"

step "seize from a higher locality; a lower one cannot seize"
tis_writeb 3 $TIS_ACCESS $ACC_SEIZE
tis_expect_access 3 0xa1 "locality 3 seized"
tis_expect_access 1 0x91 "locality 1 beenSeized"
tis_writeb 2 $TIS_ACCESS $ACC_SEIZE
tis_expect_access 2 0x81 "locality 2 seize below the active locality is ignored"
tis_expect_access 3 0xa1 "locality 3 still active"
tis_writeb 1 $TIS_ACCESS $ACC_SEIZED
tis_expect_access 1 0x81 "beenSeized cleared by writing 1"
tis_writeb 3 $TIS_ACCESS $ACC_ACTIVE
tis_writeb 4 $TIS_ACCESS $ACC_REQUEST # QEMU drops every write to locality 4
for l in 0 1 2 3 4; do
  tis_expect_access $l 0x81 "all released"
done

step "FIFO round trips at locality 0"
tis_writeb 0 $TIS_ACCESS $ACC_REQUEST
tis_expect_access 0 0xa1 "locality 0 granted"
tis_command 0 "$TPM2_GETRANDOM_16"
assert_eq "GetRandom before Startup: TPM_RC_INITIALIZE" 80010000000a00000100 "$TIS_RSP"
tis_command 0 "$TPM2_STARTUP_CLEAR" checked
assert_eq "Startup(CLEAR) response" 80010000000a00000000 "$TIS_RSP"
tis_command 0 "$TPM2_GETRANDOM_16" checked
assert_eq "GetRandom(16) header + size" 80010000001c000000000010 "${TIS_RSP:0:24}"
R1=${TIS_RSP:24}
assert_eq "GetRandom(16) byte count" 32 "${#R1}"
tis_command 0 "$TPM2_GETRANDOM_16"
assert_ne "two GetRandom(16) results" "$R1" "${TIS_RSP:24}"

step "locality reaches the TPM: PCR20 resettable from locality 2, not 0"
PCR_RESET_20=80020000001b0000013d0000001400000009400000090000000000
tis_command 0 "$PCR_RESET_20"
assert_eq "PCR_Reset(20) at locality 0: TPM_RC_LOCALITY" 80010000000a00000907 "$TIS_RSP"
tis_command 0 "$TPM2_PCRREAD_SHA256_20"
assert_eq "PCR20 after Startup" "$(printf 'f%.0s' {1..64})" "$(pcr_read_digests "$TIS_RSP")"
tis_writeb 2 $TIS_ACCESS $ACC_SEIZE
tis_expect_access 2 0xa1 "locality 2 seized"
tis_expect_access 0 0x91 "locality 0 beenSeized"
tis_command 2 "$PCR_RESET_20"
assert_eq "PCR_Reset(20) at locality 2: success" 80020000001300000000 "${TIS_RSP:0:20}"
tis_command 2 "$TPM2_PCRREAD_SHA256_20"
assert_eq "PCR20 after reset" "$(zeros_hex 32)" "$(pcr_read_digests "$TIS_RSP")"
tis_writeb 2 $TIS_ACCESS $ACC_ACTIVE
tis_writeb 0 $TIS_ACCESS $ACC_SEIZED
for l in 0 1 2 3; do
  tis_expect_access $l 0x81 "all released"
done

step "QEMU exits: the daemon gets CMD_SHUTDOWN and exits"
qt_stop
wait_pid_gone "$DAEMON_PID" 5 || fail "daemon still running 5 s after QEMU exited"
assert_eq "daemon exit status after QEMU's CMD_SHUTDOWN" 0 "$GONE_RC"
it_pass
