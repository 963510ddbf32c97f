#!/bin/bash
# tests/integration/libvirt_flow.sh DAEMON: what libvirt does with a vTPM, end to end, with the
# daemon in swtpm's place (reference/swtpm-qemu.md §3.1, §3.4):
#   1. first start: Debian's swtpm_setup manufactures the state with `--tpm "DAEMON socket"`
#      (EK + certificates, PCR banks; it talks to the daemon over a socketpair: `--server
#      type=tcp,fd=`, `--ctrl type=unixio,clientfd=`, and reads --print-capabilities/-states);
#   2. `DAEMON socket --print-states` lists the manufactured permall;
#   3. the daemon under libvirt's exact command line (ctrl socket mode=0600, --tpmstate …,mode=0600,
#      --log, --terminate, --tpm2) with QEMU attached over qtest; the EK certificate NV index that
#      swtpm_setup wrote is read back through QEMU's TIS (the state really was swtpm_setup's);
#   4. QEMU is killed (no CMD_SHUTDOWN): with --terminate the daemon exits when its data channel
#      closes, and removes its socket file.
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool swtpm_setup swtpm-tools
require_tool qemu-system-x86_64 qemu-system-x86

STATE=$IT_TMP/tpm2 CTRL_SOCK=$IT_TMP/vm-swtpm.sock LOG=$IT_TMP/vm-swtpm.log
mkdir -m 0700 "$STATE"

step "swtpm_setup --tpm '$IT_DAEMON socket': EK, EK certificate, platform certificate"
ok "swtpm_setup" swtpm_setup --tpm2 --tpm "$IT_DAEMON socket" --tpm-state "$STATE" \
  --vmid vm1:00000000-0000-0000-0000-000000000001 --logfile "$IT_TMP/setup.log" \
  --createek --create-ek-cert --create-platform-cert --lock-nvram --not-overwrite
it_log "$IT_TMP/setup.log"
grep -q "Successfully authored TPM state" "$IT_TMP/setup.log" || fail "swtpm_setup did not finish"
[[ -s $STATE/tpm2-00.permall ]] || fail "no tpm2-00.permall after swtpm_setup"

step "--print-states sees the manufactured state"
run "$IT_DAEMON" socket --tpm2 --print-states --tpmstate "dir=$STATE"
((RC == 0)) || fail "--print-states exited $RC: $OUT"
size=$(stat -c %s "$STATE/tpm2-00.permall")
assert_eq "--print-states" "{ \"type\": \"swtpm\", \"states\": [ {\"name\": \"permall\", \"size\": $size} ] }" "$OUT"

step "start the daemon with libvirt's command line"
start_unix_daemon "$IT_TMP/daemon.out" "$CTRL_SOCK" -- socket --ctrl "type=unixio,path=$CTRL_SOCK,mode=0600" \
  --tpmstate "dir=$STATE,mode=0600" --log "file=$LOG" --terminate --tpm2
it_log "$LOG"
assert_eq "control socket mode" 600 "$(stat -c %a "$CTRL_SOCK")"

step "QEMU attaches (tpm-tis, qtest)"
qt_start "$IT_TMP/qemu.log" -M pc -nodefaults -display none -monitor none -serial none -nic none \
  -accel tcg -S -chardev "socket,id=chrtpm,path=$CTRL_SOCK" -tpmdev emulator,id=tpm0,chardev=chrtpm \
  -device tpm-tis,tpmdev=tpm0
qt readl "$(tis_addr 0 $TIS_DID_VID)"

tis_writeb 0 $TIS_ACCESS $ACC_REQUEST
tis_expect_access 0 $((ACC_VALID | ACC_ACTIVE | 1)) "locality 0 granted (bit 0: tpmEstablishment, reads 1 until a DRTM hash)"
step "TPM2_Startup, then NV_ReadPublic of swtpm_setup's RSA EK certificate index 0x01c00002"
tis_command 0 80010000000c000001440000
assert_eq "Startup rc" 80010000000a00000000 "$TIS_RSP"
tis_command 0 80010000000e0000016901c00002
assert_eq "NV_ReadPublic tag+rc" 800100000000 "${TIS_RSP:0:4}${TIS_RSP:12:8}"
# TPM2B_NV_PUBLIC: size u16, nvIndex u32 — the index swtpm_setup defined is there.
assert_eq "NV index in the answer" 01c00002 "${TIS_RSP:24:8}"

step "QEMU is killed: --terminate makes the daemon exit when the data channel closes"
kill -KILL "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null
it_untrack "$QEMU_PID"
wait_pid_gone "$DAEMON_PID" 5 || fail "daemon still running 5 s after its data channel closed (--terminate)"
[[ ! -e $CTRL_SOCK ]] || fail "control socket file left behind"

step "the socket file's owner and mode, as unprivileged set-ups ask (uid=, gid=, mode=)"
OWNED=$IT_TMP/owned.sock
start_unix_daemon "$IT_TMP/daemon2.out" "$OWNED" -- socket --tpm2 --tpmstate "dir=$STATE" \
  --ctrl "type=unixio,path=$OWNED,mode=0660,uid=65534,gid=65534"
assert_eq "socket owner and mode" "65534:65534 660" "$(stat -c '%u:%g %a' "$OWNED")"
ok "CMD_SHUTDOWN" swtpm_ioctl --unix "$OWNED" -s
wait_pid_gone "$DAEMON_PID" 5 || fail "daemon still running after CMD_SHUTDOWN"
it_pass
