#!/usr/bin/env bash
# The README's main job: start one vtpmd on embedded defaults (TPM 2.0, a fresh state directory
# under out/demo, TCP data port and control port = data + 1 as tpm2-tss's swtpm TCTI expects),
# use it with tpm2-tools, shut it down over the control channel, and show the state it left.
# Usage: demo.sh <vtpmd> [port]
set -euo pipefail
VTPMD=$1
PORT=${2:-2321}
STATE=out/demo/tpmstate
rm -rf "$STATE" && mkdir -p "$STATE"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"

"$VTPMD" socket --tpm2 --tpmstate dir="$STATE" --server type=tcp,port="$PORT" \
  --ctrl type=tcp,port=$((PORT + 1)) --flags not-need-init --pid file=out/demo/vtpmd.pid \
  --log file=out/demo/vtpmd.log,level=1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s out/demo/vtpmd.pid ] && break; sleep 0.05; done
[ -s out/demo/vtpmd.pid ] || { echo "vtpmd did not start"; exit 1; }
echo "== vtpmd pid $PID: data 127.0.0.1:$PORT, control :$((PORT + 1)), state $STATE"

run() { echo "\$ $*"; timeout 30 "$@"; }
run tpm2_startup -c
run tpm2_getrandom --hex 16; echo
run tpm2_pcrextend 16:sha256=$(printf 'vtpmd demo' | sha256sum | cut -d' ' -f1)
run tpm2_pcrread sha256:16
run tpm2_createprimary -C o -g sha256 -G ecc -c out/demo/primary.ctx > out/demo/primary.yaml
echo "primary key: ECC $(grep -A1 '^curve-id:' out/demo/primary.yaml | sed -n '2s/ *value: //p'), context in out/demo/primary.ctx"
run tpm2_nvdefine 0x1500016 -C o -s 32 -a "ownerread|ownerwrite"
printf '%-32.32s' 'kept across restarts, durably' | run tpm2_nvwrite 0x1500016 -C o -i -
run tpm2_nvread 0x1500016 -C o -s 32 -o out/demo/nv.bin; cat out/demo/nv.bin; echo
run tpm2_shutdown
run swtpm_ioctl --tcp 127.0.0.1:$((PORT + 1)) -s
for _ in $(seq 1 80); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
trap - EXIT
echo "== vtpmd exited; state left in $STATE:"
ls -l "$STATE"
