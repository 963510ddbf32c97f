#!/bin/bash
# tests/integration/manager_chain.sh VTPMD VTPM-MANAGER VTPMCTL: the issue-8 chain on the
# manager's simulated TPM: vtpmd --key manager=… started, written with tpm2-tools, restarted and
# read back; refused on an old copy, another UUID's dir, a flipped byte, a retired record, a
# manager that is down; a group instance starts under an approval signed with openssl; a running instance outlives a SIGKILLed manager and catches up; the
# manager's counter grows at every start and an old copy of its records makes it fail closed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/manager_lib.sh"
it_init "$@"
mgr_init "$@"

require_tool swtpm_ioctl swtpm-tools
require_tool tpm2_nvdefine tpm2-tools
require_tcti_swtpm

W=$IT_TMP
NV_INDEX=0x1500016
U1=$(new_uuid)
U2=$(new_uuid)
S1=$W/s1
S2=$W/s2
mkdir -p "$S1" "$S2"

step "manager start (simulated TPM)"
start_manager --vtpmd "$VTPMD"
C1=$(status_field counter)
assert_eq "records at the first start" 0 "$(status_field records)"
SERVING_STATE=$(status_field state)
assert_eq "vtpmctl status state of a serving manager" Serving "$SERVING_STATE"
((C1 > 0)) || fail "the NV counter is $C1 after provisioning"

step "instance $U1: first start creates its record; write"
start_instance "$S1" "$U1" "$W/v1.log"
tpm_ok "nvdefine" tpm2_nvdefine "$NV_INDEX" -C o -s 16 -a "ownerread|ownerwrite"
nv_write_new "$W/d1.bin"
G1=$(generation_after "$U1" 0)
((G1 > 0)) || fail "generation $G1 after the first write"
cp -a "$S1" "$W/s1.old"
nv_write_new "$W/d2.bin"
G2=$(generation_after "$U1" "$G1")
((G2 > G1)) || fail "the generation did not grow with a new write ($G1 -> $G2)"
stop_instance

step "restart: the latest data is there"
start_instance "$S1" "$U1" "$W/v2.log"
nv_read_is "NV after a vtpmd restart" "$W/d2.bin"
stop_instance
[[ -s $S1/tpm2-00.permall ]] || fail "no tpm2-00.permall in $S1 after CMD_SHUTDOWN"

step "an old copy of the state dir is refused"
mv "$S1" "$W/s1.new"
mv "$W/s1.old" "$S1"
instance_refused "old copy of $U1" "$S1" "$U1" 'older than the manager'
rm -rf "$S1"
mv "$W/s1.new" "$S1"

step "another UUID's state dir is refused"
start_instance "$S2" "$U2" "$W/v3.log"
tpm_ok "nvdefine ($U2)" tpm2_nvdefine "$NV_INDEX" -C o -s 16 -a "ownerread|ownerwrite"
nv_write_new "$W/e1.bin"
stop_instance
instance_refused "$U1 on $U2's dir" "$S2" "$U1" 'cannot be opened with the key'

step "one byte flipped in tpm2-00.permall is refused"
cp -a "$S1" "$W/s1.flip"
F=$W/s1.flip/tpm2-00.permall
flip_byte "$F" $(($(stat -c %s "$F") / 2))
instance_refused "$U1 with a flipped byte" "$W/s1.flip" "$U1" 'cannot be opened with the key'

step "a deleted (retired) record is refused"
ctl delete "$U2"
assert_eq "record of $U2 after delete" retired "$(record_of "$U2" | cut -d' ' -f1)"
instance_refused "retired $U2" "$S2" "$U2" 'retired'

step "groups: an authority key, an approval signed by openssl, a group instance starts"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/authority.pem" 2>/dev/null ||
  fail "openssl could not make the group's authority key"
openssl pkey -in "$W/authority.pem" -pubout -outform DER -out "$W/authority.der" ||
  fail "openssl could not write the authority's public key"
ctl group create hosts --authority "$W/authority.der"
assert_match "group create" '^group hosts created$' "$OUT"
must_fail "a second group of the same name" "$VTPMCTL" --manager "$MSOCK" group create hosts --authority "$W/authority.der"
assert_match "a second group of the same name" 'VTPM_MGR_EXISTS' "$OUT"
U3=$(new_uuid)
S3=$W/s3
mkdir -p "$S3"
must_fail "create in the group before any approval" "$VTPMCTL" --manager "$MSOCK" create "$U3" --group hosts
assert_match "create in the group before any approval" 'VTPM_MGR_NO_APPROVAL' "$OUT"
printf 'not a signed approval' >"$W/approval.bin"
must_fail "group approve of garbage" "$VTPMCTL" --manager "$MSOCK" group approve hosts "$W/approval.bin"
assert_match "group approve of garbage" 'The group approval did not verify' "$OUT"
sign_approval hosts 1 "$W/authority.pem" "$W/approval.1"
head -c -1 "$W/approval.1" >"$W/approval.cut"
must_fail "a truncated approval" "$VTPMCTL" --manager "$MSOCK" group approve hosts "$W/approval.cut"
ctl group approve hosts "$W/approval.1"
assert_match "group approve" '^group hosts: approval accepted$' "$OUT"
must_fail "the same approval again" "$VTPMCTL" --manager "$MSOCK" group approve hosts "$W/approval.1"
assert_match "the same approval again" 'VTPM_MGR_STALE' "$OUT"
ctl create "$U3" --group hosts
start_instance "$S3" "$U3" "$W/v-g1.log"
tpm_ok "nvdefine ($U3)" tpm2_nvdefine "$NV_INDEX" -C o -s 16 -a "ownerread|ownerwrite"
nv_write_new "$W/g1.bin"
stop_instance
start_instance "$S3" "$U3" "$W/v-g2.log"
nv_read_is "NV of group instance $U3 after a restart" "$W/g1.bin"
stop_instance

step "a running instance outlives a SIGKILLed manager, then catches up"
start_instance "$S1" "$U1" "$W/v4.log"
nv_read_is "NV before the manager dies" "$W/d2.bin"
G3=$(generation_of "$U1")
kill_manager
nv_write_new "$W/d3.bin"
nv_read_is "NV written while the manager is down" "$W/d3.bin"
start_manager --vtpmd "$VTPMD"
C2=$(status_field counter)
((C2 > C1)) || fail "the counter did not grow at the manager's restart ($C1 -> $C2)"
nv_write_new "$W/d4.bin"
# shellcheck disable=SC2317  # called through wait_until
caught_up() { (($(generation_of "$U1") > G3)); }
wait_until 30 caught_up ||
  fail "the manager's record of $U1 stayed at generation $G3 (now $(generation_of "$U1")) 30 s after the restart and a write"
stop_instance
G4=$(generation_of "$U1")
step "generations $G3 -> $G4 across the manager's SIGKILL"
start_instance "$S1" "$U1" "$W/v5.log"
nv_read_is "NV after the catch-up and a vtpmd restart" "$W/d4.bin"
stop_instance

step "manager stopped: starts are refused"
stop_manager
instance_refused "$U1 without a manager" "$S1" "$U1" 'is not reachable'
rm -rf "$W/mgr.copy"
cp -a "$MSTATE" "$W/mgr.copy"

step "counter grows at each start"
start_manager --vtpmd "$VTPMD"
C3=$(status_field counter)
((C3 > C2)) || fail "the counter did not grow at the manager's restart ($C2 -> $C3)"
assert_eq "records kept across restarts" 3 "$(status_field records)"
stop_manager
start_manager --vtpmd "$VTPMD"
C4=$(status_field counter)
((C4 > C3)) || fail "the counter did not grow at the manager's restart ($C3 -> $C4)"
stop_manager

# The simulated TPM (its NV counter) lives in MSTATE/hwtpm: putting it back too would roll back
# the TPM with the records, which no TPM-backed scheme can see. The old records go back, the TPM
# stays as it is, as with a real host TPM.
step "an old copy of the manager's records: fail closed"
for f in "$W/mgr.copy"/*; do
  [[ $(basename "$f") == hwtpm ]] && continue
  cp -a "$f" "$MSTATE/"
done
start_manager --vtpmd "$VTPMD"
FAILED_STATE=$(status_field state)
assert_eq "vtpmctl status state after the rollback" FailedClosed "$FAILED_STATE"
must_fail "vtpmctl list on a failed-closed manager" "$VTPMCTL" --manager "$MSOCK" list
assert_match "vtpmctl list on a failed-closed manager" 'failed closed' "$OUT"
instance_refused "$U1 on a failed-closed manager" "$S1" "$U1" 'refused instance .*: .+'
grep -q 'older than the TPM.s counter' "$MGR_LOG" || fail "the manager log does not name the rollback"
grep 'older than' "$MGR_LOG" | head -n 1 | while IFS= read -r l; do step "manager: $l"; done
stop_manager any
it_pass
