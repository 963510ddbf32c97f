#!/bin/bash
# tests/integration/tpm2_tools.sh DAEMON: tpm2-tools 5.4 over the swtpm TCTI (tcti-swtpm opens a
# new data connection per command and needs ctrl = data port + 1) against `DAEMON socket --tpm2`.
# Proves: Startup, GetRandom, PCR_Extend arithmetic, ECC primary, a PCR-policy sealed object that
# unseals only while PCR23 matches, NV define/write/read/undefine, and TPM Resume across a daemon
# restart (Shutdown(STATE), CMD_STORE_VOLATILE, CMD_SHUTDOWN, new process, CMD_INIT, Startup(STATE)).
source "$(dirname "$0")/lib.sh"
it_init "$@"

require_tool tpm2_startup tpm2-tools
require_tool swtpm_ioctl swtpm-tools
require_tcti_swtpm

cd "$IT_TMP" || fail "cd $IT_TMP"
STATE=$IT_TMP/state
mkdir "$STATE"

# pcr_hex N: current sha256 value of PCR N, lower-case hex.
pcr_hex() {
  rm -f pcr.bin
  ok "read PCR$1" tpm2_pcrread "sha256:$1" -o pcr.bin
  [[ -f pcr.bin ]] || fail "tpm2_pcrread wrote no value for PCR$1"
  local v
  v=$(file_hex pcr.bin)
  ((${#v} == 64)) || fail "PCR$1 value has ${#v} hex digits, expected 64: $v"
  printf '%s' "$v"
}

# flush_transient: no resource manager sits between tpm2-tools and the TPM, so every tool leaves
# its transient objects loaded (3 slots in libtpms); the saved context files stay usable.
flush_transient() { ok "flush transient objects" tpm2_flushcontext -t; }

step "start daemon (tcp data+ctrl, not-need-init)"
start_tcp_daemon "$STATE" "$IT_TMP/daemon1.log" --flags not-need-init
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
CTRL="127.0.0.1:$CTRL_PORT"
step "daemon pid $DAEMON_PID, data $DATA_PORT, ctrl $CTRL_PORT"

step "TPM2_Startup(CLEAR)"
ok "tpm2_startup -c" tpm2_startup -c

step "TPM2_GetRandom(16)"
ok "getrandom" tpm2_getrandom 16 -o rnd1.bin
assert_eq "random byte count" 16 "$(stat -c %s rnd1.bin)"
ok "getrandom" tpm2_getrandom 16 -o rnd2.bin
assert_ne "two GetRandom(16) results" "$(file_hex rnd1.bin)" "$(file_hex rnd2.bin)"

step "PCR16 extend arithmetic"
assert_eq "PCR16 after Startup(CLEAR)" "$(zeros_hex 32)" "$(pcr_hex 16)"
D1=$(sha256_hex_of_string "vtpmd integration one")
D2=$(sha256_hex_of_string "vtpmd integration two")
ok "extend PCR16" tpm2_pcrextend "16:sha256=$D1"
EXP16=$(pcr_extend_sha256 "$(zeros_hex 32)" "$D1")
assert_eq "PCR16 = SHA256(0^32 || d1)" "$EXP16" "$(pcr_hex 16)"
ok "extend PCR16" tpm2_pcrextend "16:sha256=$D2"
EXP16=$(pcr_extend_sha256 "$EXP16" "$D2")
assert_eq "PCR16 = SHA256(PCR16 || d2)" "$EXP16" "$(pcr_hex 16)"

step "ECC P-256 primary in the owner hierarchy"
ok "createprimary" tpm2_createprimary -C o -g sha256 -G ecc -c primary.ctx
[[ -s primary.ctx ]] || fail "createprimary wrote no context"
flush_transient

step "PCR23 policy: compute, seal, unseal"
ok "extend PCR23" tpm2_pcrextend "23:sha256=$D1"
PCR23=$(pcr_hex 23)
assert_eq "PCR23 after one extend" "$(pcr_extend_sha256 "$(zeros_hex 32)" "$D1")" "$PCR23"
ok "trial session" tpm2_startauthsession -S trial.ctx
ok "policypcr (trial)" tpm2_policypcr -S trial.ctx -l sha256:23 -L policy.bin
ok "flush trial session" tpm2_flushcontext trial.ctx
# TPM2_PolicyPCR (Part 3 §23.7): policyDigest' = H(policyDigest || TPM_CC_PolicyPCR || pcrs ||
# H(selected PCR values)); pcrs = TPML_PCR_SELECTION{1, sha256, 3, 00 00 80} for PCR23.
PCRDIGEST=$(sha256_hex_of_hex "$PCR23")
EXPPOL=$(sha256_hex_of_hex "$(zeros_hex 32)0000017f00000001000b03000080$PCRDIGEST")
assert_eq "PolicyPCR digest" "$EXPPOL" "$(file_hex policy.bin)"

printf 'sealed by vtpmd integration %s' "$RANDOM$RANDOM" >secret.txt
ok "create sealed object" tpm2_create -C primary.ctx -g sha256 -L policy.bin -i secret.txt \
  -u seal.pub -r seal.priv
flush_transient
ok "load sealed object" tpm2_load -C primary.ctx -u seal.pub -r seal.priv -c seal.ctx
flush_transient

unseal_with_policy() {
  rm -f unsealed.txt
  ok "policy session" tpm2_startauthsession --policy-session -S session.ctx
  ok "policypcr" tpm2_policypcr -S session.ctx -l sha256:23
  run tpm2_unseal -p session:session.ctx -c seal.ctx -o unsealed.txt
  UNSEAL_RC=$RC UNSEAL_OUT=$OUT
  # the session is gone already when unseal consumed it; flushing it may fail either way
  run tpm2_flushcontext session.ctx
  flush_transient
}
unseal_with_policy
((UNSEAL_RC == 0)) || fail "unseal with matching PCR23 failed: $UNSEAL_OUT"
assert_eq "unsealed secret" "$(cat secret.txt)" "$(cat unsealed.txt)"

step "PCR23 changes: unseal must fail with TPM_RC_POLICY_FAIL"
ok "extend PCR23 again" tpm2_pcrextend "23:sha256=$D2"
unseal_with_policy
((UNSEAL_RC != 0 && UNSEAL_RC != 124)) || fail "unseal after PCR23 changed exited $UNSEAL_RC: $UNSEAL_OUT"
[[ ! -s unsealed.txt ]] || fail "unseal after PCR23 changed produced data"
assert_match "unseal error" '0x99d|policy check failed' "$UNSEAL_OUT"

step "NV index 0x1500016: define, write, read, undefine"
head -c 32 /dev/urandom >nv.bin
ok "nvdefine" tpm2_nvdefine 0x1500016 -C o -s 32 -a "ownerread|ownerwrite"
ok "nvwrite" tpm2_nvwrite 0x1500016 -C o -i nv.bin
ok "nvread" tpm2_nvread 0x1500016 -C o -s 32 -o nvread.bin
assert_eq "NV content" "$(file_hex nv.bin)" "$(file_hex nvread.bin)"
ok "nvundefine" tpm2_nvundefine 0x1500016 -C o
must_fail "nvread of undefined index" tpm2_nvread 0x1500016 -C o -s 32 -o nvread2.bin

step "state kept across a daemon restart"
head -c 16 /dev/urandom >nvkeep.bin
ok "nvdefine 0x1500017" tpm2_nvdefine 0x1500017 -C o -s 16 -a "ownerread|ownerwrite"
ok "nvwrite 0x1500017" tpm2_nvwrite 0x1500017 -C o -i nvkeep.bin
ok "extend PCR10" tpm2_pcrextend "10:sha256=$D1"
PCR10=$(pcr_hex 10)
assert_eq "PCR10 after one extend" "$(pcr_extend_sha256 "$(zeros_hex 32)" "$D1")" "$PCR10"
PCR16=$(pcr_hex 16)
ok "TPM2_Shutdown(STATE)" tpm2_shutdown
ok "CMD_STORE_VOLATILE" swtpm_ioctl --tcp "$CTRL" -v
[[ -s $STATE/tpm2-00.volatilestate ]] || fail "no tpm2-00.volatilestate in the state dir after -v"
[[ -s $STATE/tpm2-00.permall ]] || fail "no tpm2-00.permall in the state dir"
OLDPID=$DAEMON_PID
ok "CMD_SHUTDOWN" swtpm_ioctl --tcp "$CTRL" -s
wait_pid_gone "$OLDPID" 4 || fail "daemon $OLDPID still running 4 s after CMD_SHUTDOWN"
assert_eq "daemon exit status after CMD_SHUTDOWN" 0 "$GONE_RC"

step "restart without not-need-init"
start_tcp_daemon "$STATE" "$IT_TMP/daemon2.log"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$DATA_PORT"
CTRL="127.0.0.1:$CTRL_PORT"
step "daemon pid $DAEMON_PID, data $DATA_PORT, ctrl $CTRL_PORT"
must_fail "TPM command before CMD_INIT" tpm2_getrandom 8 -o rnd3.bin
assert_match "error before CMD_INIT" '0x101|failure' "$OUT"
ok "CMD_INIT" swtpm_ioctl --tcp "$CTRL" -i
ok "TPM2_Startup(STATE)" tpm2_startup
assert_eq "stateSave PCR10 after resume" "$PCR10" "$(pcr_hex 10)"
# PCR16 has no stateSave attribute: only the volatile state stored by CMD_STORE_VOLATILE and
# loaded by CMD_INIT keeps it (without -v it reads zeros after Startup(STATE); checked on swtpm 0.7.1).
assert_eq "PCR16 restored from the volatile state" "$PCR16" "$(pcr_hex 16)"
ok "nvread 0x1500017" tpm2_nvread 0x1500017 -C o -s 16 -o nvkeep2.bin
assert_eq "NV content after restart" "$(file_hex nvkeep.bin)" "$(file_hex nvkeep2.bin)"
ok "getrandom after resume" tpm2_getrandom 8 -o rnd4.bin
assert_eq "random byte count" 8 "$(stat -c %s rnd4.bin)"

step "CMD_SHUTDOWN"
OLDPID=$DAEMON_PID
ok "CMD_SHUTDOWN" swtpm_ioctl --tcp "$CTRL" -s
wait_pid_gone "$OLDPID" 4 || fail "daemon $OLDPID still running 4 s after CMD_SHUTDOWN"
assert_eq "daemon exit status after CMD_SHUTDOWN" 0 "$GONE_RC"
it_pass
