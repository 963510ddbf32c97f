#!/bin/bash
# tests/integration/manager_qemu.sh VTPMD VTPM-MANAGER VTPMCTL: QEMU 7.2 boots SeaBIOS (TCG, no
# disk, tpm-tis) on a manager-keyed vtpmd (libvirt style: unixio ctrl, QEMU hands over the data fd),
# and SeaBIOS's measurements survive a vtpmd restart. PCRs are reset by TPM2_Startup(CLEAR), so
# the test does what a suspending host does: after SeaBIOS is done it sends TPM2_Shutdown(STATE)
# through the TIS FIFO (qtest), which makes libtpms save PCRs 0-15 into its permanent state; QEMU
# quits, vtpmd is restarted on the same dir with the same manager key (the manager checks that
# the state it loads is its latest generation) and TPM2_Startup(STATE) must restore the very PCR
# values SeaBIOS extended. A control: Startup(CLEAR) afterwards resets PCR0 to zeros.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/manager_lib.sh"
it_init "$@"
mgr_init "$@"

require_tool qemu-system-x86_64 qemu-system-x86
require_tool swtpm_ioctl swtpm-tools
require_tool tpm2_pcrread tpm2-tools
require_tcti_swtpm

W=$IT_TMP
U1=$(new_uuid)
S1=$W/state
mkdir -p "$S1"
SEPARATOR_ONLY=$(pcr_extend_sha256 "$(zeros_hex 32)" "$(sha256_hex_of_hex ffffffff)")

# shellcheck disable=SC2317  # called through wait_until
seabios_done() {
  pid_alive "$QEMU_PID" || fail "QEMU exited during boot (see qemu log)"
  grep -qs 'No bootable device' "$1"
}

step "manager start (simulated TPM)"
start_manager --vtpmd "$VTPMD"

step "vtpmd keyed by the manager, ctrl over a unix socket for QEMU"
SOCK=$W/ctrl.sock
IT_DAEMON=$VTPMD
start_unix_daemon "$W/v1.log" "$SOCK" -- socket --tpm2 --tpmstate "dir=$S1" \
  --ctrl "type=unixio,path=$SOCK" --key "manager=$MSOCK,uuid=$U1"
DPID=$DAEMON_PID
qt_start "$W/qemu.log" -M pc -nodefaults -display none -monitor none -nic none -accel tcg \
  -serial "file:$W/serial.txt" \
  -chardev "file,id=seabios,path=$W/seabios.txt" -device isa-debugcon,iobase=0x402,chardev=seabios \
  -chardev "socket,id=chrtpm,path=$SOCK" -tpmdev emulator,id=tpm0,chardev=chrtpm \
  -device tpm-tis,tpmdev=tpm0
it_log "$W/seabios.txt"
wait_until 60 seabios_done "$W/seabios.txt" || fail "SeaBIOS did not reach 'No bootable device' within 60 s"

step "SeaBIOS done: PCR_Read(sha256, 0-7), then TPM2_Shutdown(STATE) through tpm-tis"
loc=-1
for l in 0 1 2 3; do
  (($(tis_access $l) & ACC_ACTIVE)) && loc=$l
done
if ((loc < 0)); then
  loc=0
  tis_writeb 0 $TIS_ACCESS $ACC_REQUEST
  tis_expect_access 0 0xa1 "locality 0 granted"
fi
tis_command "$loc" "$TPM2_PCRREAD_SHA256_0_7"
assert_eq "PCR_Read selection out" 00000001000b03ff0000 "${TIS_RSP:28:20}"
BOOT_PCRS=$(pcr_read_digests "$TIS_RSP")
assert_eq "digests returned" 8 "$(grep -c . <<<"$BOOT_PCRS")"
assert_eq "PCR7 = SeaBIOS separator only" "$SEPARATOR_ONLY" "$(sed -n 8p <<<"$BOOT_PCRS")"
assert_ne "PCR4 holds boot-attempt events" "$SEPARATOR_ONLY" "$(sed -n 5p <<<"$BOOT_PCRS")"
tis_command "$loc" 80010000000c000001450001 # TPM2_Shutdown(TPM_SU_STATE)
assert_eq "TPM2_Shutdown(STATE) response" 80010000000a00000000 "$TIS_RSP"
GEN_BOOT=$(generation_of "$U1")
step "manager's record after the boot: generation $GEN_BOOT"
qt_stop
wait_pid_gone "$DPID" 10 || fail "vtpmd still running 10 s after QEMU exited"
assert_eq "vtpmd exit status after QEMU" 0 "$GONE_RC"

step "restart vtpmd (same state, same manager key): TPM2_Startup(STATE) restores SeaBIOS's PCRs"
start_tcp_daemon "$S1" "$W/v2.log" --key "manager=$MSOCK,uuid=$U1"
ioctl_ok "CMD_INIT" -i
tpm_ok "TPM2_Startup(STATE)" tpm2_startup
tpm_ok "tpm2_pcrread" tpm2_pcrread sha256:0,1,2,3,4,5,6,7
AFTER_PCRS=$(awk '/^ *[0-7] *: *0x/ { sub(/^0x/, "", $3); print tolower($3) }' <<<"$OUT")
assert_eq "PCRs 0-7 after the vtpmd restart = what SeaBIOS measured" "$BOOT_PCRS" "$AFTER_PCRS"
printf '%s\n' "$AFTER_PCRS" | awk '{ printf "PCR%d = %s\n", NR - 1, $0 }'
GEN_AFTER=$(generation_of "$U1")
((GEN_AFTER >= GEN_BOOT)) || fail "the manager's generation went back ($GEN_BOOT -> $GEN_AFTER)"

step "control: Startup(CLEAR) after a reset clears them"
ioctl_ok "CMD_INIT (reset)" -i
tpm_ok "TPM2_Startup(CLEAR)" tpm2_startup -c
tpm_ok "tpm2_pcrread 0" tpm2_pcrread sha256:0
assert_match "PCR0 after Startup(CLEAR)" "0x$(zeros_hex 32)" "$OUT"
stop_instance
stop_manager
it_pass
