#!/bin/bash
# tests/integration/qemu_boot.sh DAEMON: SeaBIOS (QEMU 7.2, TCG, no disk) initialises and measures
# into a TPM served by `DAEMON socket --tpm2 --ctrl type=unixio,…` (libvirt style: no --server,
# QEMU hands over the data fd with CMD_SET_DATAFD), once behind tpm-tis and once behind tpm-crb.
# After SeaBIOS reports "No bootable device." the test reads PCRs 0–7 through the same device
# with qtest MMIO (TPM2_PCR_Read over the TIS FIFO or the CRB buffer) and checks the firmware's
# measurements arrived: no PCR at its reset value, PCR7 = SeaBIOS's lone separator event, and
# both interfaces yield identical PCRs. QEMU's exit must then shut the daemon down.
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool qemu-system-x86_64 qemu-system-x86

# SeaBIOS measures a 0xFFFFFFFF separator into PCRs 0–7 before booting (and, in 1.16, nothing
# else into PCR 0, 3, 5, 6, 7): PCR7 = SHA-256(0^32 || SHA-256(ff ff ff ff)).
SEPARATOR_ONLY=$(pcr_extend_sha256 "$(zeros_hex 32)" "$(sha256_hex_of_hex ffffffff)")

# shellcheck disable=SC2317  # called through wait_until
seabios_done() {
  pid_alive "$QEMU_PID" || fail "QEMU exited during boot (see qemu log)"
  grep -qs 'No bootable device' "$1"
}

# boot_and_read DEVICE: one VM run; sets PCRS (8 lines of hex).
boot_and_read() {
  local dev=$1 dir=$IT_TMP/$1
  mkdir -p "$dir/state"
  local sock=$dir/ctrl.sock
  step "[$dev] start daemon"
  start_unix_daemon "$dir/daemon.log" "$sock" -- socket --tpm2 --tpmstate "dir=$dir/state" \
    --ctrl "type=unixio,path=$sock"
  local dpid=$DAEMON_PID
  step "[$dev] start QEMU with SeaBIOS (tcg), daemon pid $dpid"
  qt_start "$dir/qemu.log" -M pc -nodefaults -display none -monitor none -nic none -accel tcg \
    -serial "file:$dir/serial.txt" \
    -chardev "file,id=seabios,path=$dir/seabios.txt" -device isa-debugcon,iobase=0x402,chardev=seabios \
    -chardev "socket,id=chrtpm,path=$sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device "tpm-$dev,tpmdev=tpm0"
  it_log "$dir/seabios.txt"
  wait_until 60 seabios_done "$dir/seabios.txt" ||
    fail "[$dev] SeaBIOS did not reach 'No bootable device' within 60 s"
  step "[$dev] SeaBIOS done; PCR_Read(sha256, 0-7) through the $dev interface"
  local rsp
  if [[ $dev == tis ]]; then
    # SeaBIOS may leave a locality active; use it, else request locality 0.
    local l loc=-1
    for l in 0 1 2 3; do
      (($(tis_access $l) & ACC_ACTIVE)) && loc=$l
    done
    if ((loc < 0)); then
      loc=0
      tis_writeb 0 $TIS_ACCESS $ACC_REQUEST
      tis_expect_access 0 0xa1 "[$dev] locality 0 granted"
    fi
    tis_command "$loc" "$TPM2_PCRREAD_SHA256_0_7"
    rsp=$TIS_RSP
  else
    crb_readl $CRB_LOC_STATE
    ((QT_VAL & 0x80)) || fail "[$dev] CRB LOC_STATE $(printf '0x%x' "$QT_VAL") lacks tpmRegValidSts"
    crb_command "$TPM2_PCRREAD_SHA256_0_7"
    rsp=$CRB_RSP
  fi
  # the selection echoed back must be exactly sha256 {0..7}
  assert_eq "[$dev] PCR_Read selection out" 00000001000b03ff0000 "${rsp:28:20}"
  PCRS=$(pcr_read_digests "$rsp")
  local n
  n=$(printf '%s\n' "$PCRS" | grep -c .)
  assert_eq "[$dev] digests returned" 8 "$n"
  printf '%s\n' "$PCRS" | awk -v d="$dev" '{ printf "[%s] PCR%d = %s\n", d, NR - 1, $0 }'

  step "[$dev] QEMU exits; the daemon must get CMD_SHUTDOWN and exit"
  qt_stop
  wait_pid_gone "$dpid" 5 || fail "[$dev] daemon still running 5 s after QEMU exited"
  assert_eq "[$dev] daemon exit status" 0 "$GONE_RC"
}

check_pcrs() {
  local dev=$1 i=0 v
  while read -r v; do
    ((${#v} == 64)) || fail "[$dev] PCR$i has ${#v} hex digits"
    assert_ne "[$dev] PCR$i must not be the reset value (firmware measured nothing?)" "$(zeros_hex 32)" "$v"
    [[ $v != "$(printf 'f%.0s' {1..64})" ]] || fail "[$dev] PCR$i is all ones"
    ((i++))
  done <<<"$PCRS"
  assert_eq "[$dev] PCR7 = SeaBIOS separator only" "$SEPARATOR_ONLY" "$(sed -n 8p <<<"$PCRS")"
  assert_eq "[$dev] PCR0 = SeaBIOS separator only" "$SEPARATOR_ONLY" "$(sed -n 1p <<<"$PCRS")"
  assert_ne "[$dev] PCR4 must hold boot-attempt events besides the separator" "$SEPARATOR_ONLY" \
    "$(sed -n 5p <<<"$PCRS")"
}

boot_and_read tis
check_pcrs tis
TIS_PCRS=$PCRS
boot_and_read crb
check_pcrs crb
assert_eq "PCRs 0-7 via tpm-crb equal those via tpm-tis (same firmware, fresh TPM)" "$TIS_PCRS" "$PCRS"
it_pass
