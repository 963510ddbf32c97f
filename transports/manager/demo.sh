#!/usr/bin/env bash
# The README's main job, second half: vtpm-manager on its simulated hardware TPM (embedded
# defaults: state under out/demo-manager), one vtpmd keyed by it, a tpm2-tools session, a vtpmd
# restart that shows the NV data survived, and an old copy of the state directory refused.
# Usage: demo.sh <build dir> [port]
set -euo pipefail
BUILD=$1
PORT=${2:-2331}
MANAGER=$BUILD/transports/manager/vtpm-manager
VTPMCTL=$BUILD/transports/manager/vtpmctl
VTPMD=$BUILD/transports/vtpmd/vtpmd
OUT=out/demo-manager
SOCK=$OUT/manager.sock
STATE=$OUT/instance
UUID=6b29fc40-ca47-1067-b31d-00dd010662da
rm -rf "$OUT" && mkdir -p "$STATE"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"

# wait_for TEST… : up to 5 s for the test to hold (each try is an event check, not a sleep guess).
wait_for() {
  for _ in $(seq 1 100); do "$@" && return 0; sleep 0.05; done
  return 1
}
run() { echo "\$ $*"; timeout 30 "$@"; }

"$MANAGER" --state "$OUT/manager" --socket "$SOCK" 2>"$OUT/manager.log" &
MPID=$!
VPID=
trap 'kill $MPID $VPID 2>/dev/null || true' EXIT
wait_for test -S "$SOCK" || { cat "$OUT/manager.log"; echo "vtpm-manager did not start"; exit 1; }
echo "== vtpm-manager pid $MPID on a simulated TPM, socket $SOCK:"
sed 's/^/   /' "$OUT/manager.log"
run "$VTPMCTL" --manager "$SOCK" status

start_vtpmd() {
  rm -f "$OUT/vtpmd.pid"
  "$VTPMD" socket --tpm2 --tpmstate dir="$STATE" --server type=tcp,port="$PORT" \
    --ctrl type=tcp,port=$((PORT + 1)) --key "manager=$SOCK,uuid=$UUID" --flags not-need-init \
    --pid file="$OUT/vtpmd.pid" --log file="$OUT/vtpmd.log",level=1 &
  VPID=$!
  wait_for test -s "$OUT/vtpmd.pid" || { cat "$OUT/vtpmd.log"; echo "vtpmd did not start"; exit 1; }
}
stop_vtpmd() {
  run swtpm_ioctl --tcp 127.0.0.1:$((PORT + 1)) -s
  wait_for bash -c "! kill -0 $VPID 2>/dev/null" || { echo "vtpmd did not stop"; exit 1; }
  VPID=
}

echo "== vtpmd, its key from the manager (--key manager=$SOCK,uuid=$UUID)"
start_vtpmd
run tpm2_startup -c
run tpm2_getrandom --hex 16; echo
run tpm2_nvdefine 0x1500016 -C o -s 32 -a "ownerread|ownerwrite"
printf '%-32.32s' 'first write, kept by the manager' | run tpm2_nvwrite 0x1500016 -C o -i -
run tpm2_shutdown
stop_vtpmd
cp -a "$STATE" "$OUT/instance.old"
echo "== (a copy of the state directory kept in $OUT/instance.old)"
start_vtpmd
run tpm2_startup -c
printf '%-32.32s' 'second write, the latest state' | run tpm2_nvwrite 0x1500016 -C o -i -
run tpm2_shutdown
stop_vtpmd
echo "== vtpmd restarted: the NV data survived"
start_vtpmd
run tpm2_startup -c
run tpm2_nvread 0x1500016 -C o -s 32 -o "$OUT/nv.bin"; cat "$OUT/nv.bin"; echo
run tpm2_shutdown
stop_vtpmd
run "$VTPMCTL" --manager "$SOCK" list
echo "== the old copy put back: vtpmd refuses it"
rm -rf "$STATE" && mv "$OUT/instance.old" "$STATE"
set +e
"$VTPMD" socket --tpm2 --tpmstate dir="$STATE" --server type=tcp,port="$PORT" \
  --ctrl type=tcp,port=$((PORT + 1)) --key "manager=$SOCK,uuid=$UUID" --flags not-need-init
rc=$?
set -e
[ "$rc" -ne 0 ] || { echo "vtpmd started on an old copy of its state"; exit 1; }
echo "== vtpmd exited with $rc: rollback refused"
kill -TERM "$MPID"
wait_for bash -c "! kill -0 $MPID 2>/dev/null" || { echo "vtpm-manager did not stop"; exit 1; }
trap - EXIT
echo "== vtpm-manager stopped cleanly; its directory:"
ls -l "$OUT/manager"
