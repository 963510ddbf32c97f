#!/bin/bash
# tests/integration/manager_hw_swtpm.sh VTPMD VTPM-MANAGER VTPMCTL: the manager chain with Debian's
# swtpm 0.7.1 as the host TPM (--tpm swtpm:…), so the manager is checked against a TPM we did not
# write: start, write, restart, read back, old copy refused; then a different TPM (a fresh swtpm:
# no/other SRK) and a TPM whose NV counter went back (an older copy of swtpm's own state: the
# counter's auth is the manager's secret and it has no ownerwrite, so it cannot be advanced from
# outside — checked below) both make the manager fail closed. And PCR 7 changing under the sealed
# root key (a host update): fail closed, a wrong recovery key changes nothing, the offline
# recovery key (vtpmctl export-recovery; vtpm-manager --recover FILE) seals it again; a group
# instance (ECC P-256 authority, approvals signed with the openssl CLI) is refused after the PCR 7
# change until a new approval (sequence 2) is given, which revokes approval 1.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/manager_lib.sh"
it_init "$@"
mgr_init "$@"

require_tool swtpm_ioctl swtpm-tools
require_tool tpm2_nvdefine tpm2-tools
require_tcti_swtpm
require_swtpm_reference

W=$IT_TMP
NV_INDEX=0x1500017
U1=$(new_uuid)
S1=$W/s1
mkdir -p "$S1"

# start_hwtpm DIR: Debian's swtpm on DIR, ready for commands; sets HW_PORT, HW_PID.
HW_N=0
start_hwtpm() {
  HW_N=$((HW_N + 1))
  mkdir -p "$1"
  IT_DAEMON=/usr/bin/swtpm
  start_tcp_daemon "$1" "$W/hwtpm.$HW_N.log" --flags not-need-init,startup-clear
  HW_PORT=$DATA_PORT HW_PID=$DAEMON_PID
  # shellcheck disable=SC2034  # read by start_tcp_daemon (lib.sh)
  IT_DAEMON=$VTPMD
}
stop_hwtpm() {
  ok "swtpm CMD_SHUTDOWN" swtpm_ioctl --tcp "127.0.0.1:$((HW_PORT + 1))" -s
  wait_pid_gone "$HW_PID" 10 || fail "swtpm $HW_PID still running 10 s after CMD_SHUTDOWN"
}
start_manager_hw() { start_manager --tpm "swtpm:host=127.0.0.1,port=$HW_PORT" "$@"; }

# expect_failed_closed DESC LOG-REGEX: status answers in a state other than serving, instances
# are refused with a sentence, and the manager's log says why.
expect_failed_closed() {
  local st
  st=$(status_field state)
  assert_eq "$1: vtpmctl status state" FailedClosed "$st"
  instance_refused "$1: instance start" "$S1" "$U1" 'refused instance .*: .+'
  grep -Eq "$2" "$MGR_LOG" || fail "$1: the manager log does not match /$2/"
  grep -E "$2" "$MGR_LOG" | head -n 1 | while IFS= read -r l; do step "manager: $l"; done
  stop_manager any
}

step "Debian swtpm as the host TPM; manager provisions on it"
start_hwtpm "$W/hw1"
start_manager_hw
SERVING_STATE=$(status_field state)
assert_eq "vtpmctl status state of a serving manager" Serving "$SERVING_STATE"
C1=$(status_field counter)
assert_eq "records at the first start" 0 "$(status_field records)"
[[ $(status_field srk-name) =~ ^[0-9a-f]{68}$ ]] || fail "srk-name is not a SHA-256 TPM name: $OUT"
NV_COUNTER=$(grep -o 'NV counter 0x[0-9a-f]*' "$MGR_LOG" | head -n 1 | cut -d' ' -f3)
[[ -n $NV_COUNTER ]] || fail "the manager log names no NV counter at provisioning"
step "the manager's NV counter is $NV_COUNTER"

step "instance: write, copy, write again"
start_instance "$S1" "$U1" "$W/v1.log"
tpm_ok "nvdefine" tpm2_nvdefine "$NV_INDEX" -C o -s 16 -a "ownerread|ownerwrite"
nv_write_new "$W/d1.bin"
G1=$(generation_after "$U1" 0)
cp -a "$S1" "$W/s1.old"
nv_write_new "$W/d2.bin"
G2=$(generation_after "$U1" "$G1")
((G2 > G1 && G1 > 0)) || fail "generations $G1 then $G2: must be > 0 and grow"
stop_instance
step "restart vtpmd and read back"
start_instance "$S1" "$U1" "$W/v2.log"
nv_read_is "NV after a vtpmd restart" "$W/d2.bin"
stop_instance
step "manager restart on the same swtpm; old copy refused"
stop_manager
start_manager_hw
C2=$(status_field counter)
((C2 > C1)) || fail "the counter did not grow at the restart ($C1 -> $C2)"
mv "$S1" "$W/s1.new"
mv "$W/s1.old" "$S1"
instance_refused "old copy" "$S1" "$U1" 'older than the manager'
rm -rf "$S1"
mv "$W/s1.new" "$S1"
start_instance "$S1" "$U1" "$W/v3.log"
nv_read_is "NV after the manager's restart" "$W/d2.bin"
stop_instance
stop_manager

step "the counter cannot be advanced from outside: no ownerwrite, secret auth"
TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$HW_PORT" must_fail "owner increments $NV_COUNTER" \
  tpm2_nvincrement "$NV_COUNTER" -C o
TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$HW_PORT" must_fail "empty-auth increment of $NV_COUNTER" \
  tpm2_nvincrement "$NV_COUNTER"

step "a group (ECC P-256 authority): approval of PCR 7 signed by openssl, its instance starts"
start_manager_hw
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/authority.pem" 2>/dev/null ||
  fail "openssl could not make the group's authority key"
openssl pkey -in "$W/authority.pem" -pubout -out "$W/authority.pub.pem" ||
  fail "openssl could not write the authority's public key"
ctl group create hosts --authority "$W/authority.pub.pem"
UG=$(new_uuid)
SG=$W/sg
mkdir -p "$SG"
sign_approval hosts 1 "$W/authority.pem" "$W/approval.1" 7
ctl group approve hosts "$W/approval.1"
ctl create "$UG" --group hosts
start_instance "$SG" "$UG" "$W/vg1.log"
tpm_ok "nvdefine ($UG)" tpm2_nvdefine "$NV_INDEX" -C o -s 16 -a "ownerread|ownerwrite"
nv_write_new "$W/g1.bin"
stop_instance

step "PCR 7 changes (a host update): fail closed, then the offline recovery key reseals"
ctl export-recovery
[[ $OUT =~ ^[0-9a-f]{64}$ ]] || fail "vtpmctl export-recovery printed no 64-digit key: $OUT"
printf '%s\n' "$OUT" >"$W/recovery.key"
printf '%064x\n' 1 >"$W/wrong.key"
stop_manager
TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$HW_PORT" ok "extend PCR 7" \
  tpm2_pcrextend "7:sha256=$(printf 'host update' | sha256sum | cut -d' ' -f1)"
start_manager_hw
expect_failed_closed "PCR 7 changed" 'PCRs changed since provisioning'
start_manager_hw --recover "$W/wrong.key"
expect_failed_closed "a wrong recovery key" 'does not open the recovery file'
start_manager_hw --recover "$W/recovery.key"
assert_eq "vtpmctl status state after --recover" Serving "$(status_field state)"
grep -q 'recovered with the offline recovery key' "$MGR_LOG" || fail "the manager log does not say it recovered"
start_instance "$S1" "$U1" "$W/v4.log"
nv_read_is "NV after the recovery" "$W/d2.bin"
stop_instance
step "the group instance after the host update: refused until a new signed approval"
instance_refused "$UG under approval 1 (old PCR 7)" "$SG" "$UG" 'No signed approval of the instance.s group'
grep -q 'no stored approval matches the PCRs now' "$MGR_LOG" || fail "the manager log does not say no approval matches"
sign_approval hosts 2 "$W/authority.pem" "$W/approval.2" 7
ctl group approve hosts "$W/approval.2"
must_fail "approval 1 again (revoked)" "$VTPMCTL" --manager "$MSOCK" group approve hosts "$W/approval.1"
assert_match "approval 1 again (revoked)" 'VTPM_MGR_STALE' "$OUT"
start_instance "$SG" "$UG" "$W/vg2.log"
nv_read_is "NV of $UG under approval 2" "$W/g1.bin"
stop_instance
stop_manager
start_manager_hw  # sealed to the new PCR 7: no recovery key needed any more
assert_eq "vtpmctl status state after the reseal" Serving "$(status_field state)"
stop_manager
step "the TPM restarts (PCR 7 back to zero): the recovery key reseals once more"
stop_hwtpm
start_hwtpm "$W/hw1"
start_manager_hw --recover "$W/recovery.key"
assert_eq "vtpmctl status state after the second --recover" Serving "$(status_field state)"
C2=$(status_field counter)
stop_manager

step "the SRK replaced: the same --state against a second, fresh swtpm"
stop_hwtpm
start_hwtpm "$W/hw2"
start_manager_hw
expect_failed_closed "another TPM" 'no SRK at 0x81000001|SRK at 0x81000001 is not the one'
stop_hwtpm

step "the TPM's counter goes back: an older copy of swtpm's own state"
# Two manager runs (one increment at each start) after the copy: the newer record slot is two
# ahead of the old counter, which the manager never writes (write, then increment), so even the
# slot at T+1 beside it is not taken as an interrupted commit.
cp -a "$W/hw1" "$W/hw1.old"
start_hwtpm "$W/hw1"
C3=$C2
for run in 1 2; do
  start_manager_hw
  C=$(status_field counter)
  ((C > C3)) || fail "the counter did not grow at restart $run ($C3 -> $C)"
  C3=$C
  stop_manager
done
stop_hwtpm
rm -rf "$W/hw1"
mv "$W/hw1.old" "$W/hw1"
start_hwtpm "$W/hw1"
start_manager_hw
expect_failed_closed "counter rolled back" 'ahead of the TPM.s counter'
stop_hwtpm
it_pass
