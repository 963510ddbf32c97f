#!/usr/bin/env bash
# transports/xen/simxen/xenstore_utils_test.sh SIMXENSTORED: Debian's xenstore-utils against the
# simulated xenstored (issue 9): write/read/ls/list/rm/exists/chmod/watch through XENSTORED_PATH,
# outputs compared with what was written; dom1's socket refused dom0-owned nodes with the real
# tool's error; an oversized message kills only its own connection. Waits on events, never sleeps.
set -u
SIM=$1
for tool in xenstore-write xenstore-read xenstore-ls xenstore-list xenstore-rm xenstore-exists \
            xenstore-chmod xenstore-watch; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing (Debian package xenstore-utils)"; exit 1; }
done
DIR=$(mktemp -d)
fail=0
check() {  # name expected actual
  if [ "$2" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1"; echo "  expected: $2"; echo "  actual:   $3"; fail=1; fi
}
mkfifo "$DIR/sim.out" "$DIR/watch.out"
"$SIM" --dir "$DIR" --domains 0,1 >"$DIR/sim.out" 2>&1 &
SIM_PID=$!
WATCH_PID=
cleanup() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
  kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$DIR"
}
trap cleanup EXIT
exec 3<"$DIR/sim.out"
ready=
for _ in $(seq 20); do
  read -r -t 10 line <&3 || break
  [ "$line" == ready ] && { ready=1; break; }
done
[ -n "$ready" ] || { echo "FAIL: simxenstored did not print ready"; exit 1; }
D0=$DIR/xenstored.dom0.sock
D1=$DIR/xenstored.dom1.sock
x0() { XENSTORED_PATH=$D0 timeout 10 "$@"; }
x1() { XENSTORED_PATH=$D1 timeout 10 "$@"; }

x0 xenstore-write /vtpm/a "hello world" /vtpm/b/c 42
check "write+read" "hello world" "$(x0 xenstore-read /vtpm/a)"
check "parent created empty" "" "$(x0 xenstore-read /vtpm/b)"
check "list" "$(printf 'a\nb')" "$(x0 xenstore-list /vtpm)"
check "ls" "$(printf 'a = "hello world"\nb = ""\n c = "42"')" "$(x0 xenstore-ls /vtpm)"
x0 xenstore-chmod /vtpm/a n0 r1
check "ls -p perms" '(n0,r1)' "$(x0 xenstore-ls -p /vtpm | head -1 | grep -o '(.*)')"
check "dom1 reads r1 node" "hello world" "$(x1 xenstore-read /vtpm/a)"
check "dom1 refused dom0 node" "xenstore-read: couldn't read path /vtpm/b/c|1" \
      "$(x1 xenstore-read /vtpm/b/c 2>&1)|$?"
x1 xenstore-write /vtpm/a evil 2>/dev/null
check "dom1 write refused" "1|hello world" "$?|$(x0 xenstore-read /vtpm/a)"
check "dom1 ls / refused" "xenstore-ls: xs_directory (/vtpm): Permission denied" \
      "$(x1 xenstore-ls /vtpm 2>&1 >/dev/null)"
x1 xenstore-write /local/domain/1/mine yes
check "dom1 writes its home" "yes" "$(x0 xenstore-read /local/domain/1/mine)"
check "dom1 owns what it creates" "(n1)" "$(x0 xenstore-ls -p /local/domain/1 | grep -o '(n1)')"
x0 xenstore-rm /vtpm/b
x0 xenstore-exists /vtpm/b
check "rm" "1" "$?"
check "rm missing under parent" "0" "$(x0 xenstore-rm /vtpm/none; echo $?)"

# Watch: the initial firing, then one event per change (path or descendant).
XENSTORED_PATH=$D0 stdbuf -oL timeout 20 xenstore-watch -n 3 /vtpm/w >"$DIR/watch.out" 2>&1 &
WATCH_PID=$!
exec 4<"$DIR/watch.out"
read -r -t 10 w1 <&4
check "watch fires at registration" "/vtpm/w" "$w1"
x0 xenstore-write /vtpm/w/k v
read -r -t 10 w2 <&4
check "watch fires on create below" "/vtpm/w/k" "$w2"
x0 xenstore-rm /vtpm/w
read -r -t 10 w3 <&4
check "watch fires on rm" "/vtpm/w" "$w3"
wait "$WATCH_PID"
check "xenstore-watch -n 3 exits 0" "0" "$?"
WATCH_PID=

# An oversized payload (> 4096) kills that connection; the daemon still serves others.
python3 - "$D0" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(struct.pack("<IIII", 11, 1, 0, 5000) + b"x" * 5000)
s.settimeout(10)
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
sys.exit(0 if data == b"" else 1)
PY
check "oversized message disconnects" "0" "$?"
check "still serving after a bad client" "hello world" "$(x0 xenstore-read /vtpm/a)"

exit $fail
