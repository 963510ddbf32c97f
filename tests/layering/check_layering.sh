#!/usr/bin/env bash
# DESIGN §3 layering, checked on a source tree: libraries under runtime/ include nothing from
# transports/ or hardware/ and link no transport target; the instance core (runtime/instance's
# core.*) makes no socket, poll or read/write call. Only executables (transports/vtpmd/) join a
# core to its transports. Usage: check_layering.sh ROOT — exits 1 and lists every violation.
set -u
root=${1:?usage: check_layering.sh ROOT}
cd "$root" || { echo "no such tree: $root"; exit 2; }
[ -d runtime ] || { echo "no runtime/ under $root"; exit 2; }
bad=0
report() { echo "layering: $1"; bad=1; }

# 1. includes of transports/ or hardware/ headers from any runtime file (tests included: a runtime
#    test that needs a transport belongs under tests/ or transports/)
while IFS= read -r hit; do report "runtime includes a transport or hardware header: $hit"; done < <(
  grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<](transports|hardware)/' runtime \
    --include='*.h' --include='*.hpp' --include='*.cpp' --include='*.cc' --include='*.rl' 2>/dev/null)

# 2. runtime CMake files naming a transport or hardware target or folder
while IFS= read -r hit; do report "runtime CMake links or names a transport/hardware part: $hit"; done < <(
  grep -rnE 'vtpm(::|_)(transports|swtpm_server|sandbox|xen|tis|crb)|\$\{CMAKE_SOURCE_DIR\}/(transports|hardware)' \
    runtime --include=CMakeLists.txt 2>/dev/null)

# 3. the sans-I/O core: no socket, poll or read/write (STYLE 9)
for f in runtime/instance/core.h runtime/instance/core.cpp; do
  [ -f "$f" ] || { report "$f is missing (the instance core)"; continue; }
  while IFS= read -r hit; do report "I/O in the sans-I/O core: $f:$hit"; done < <(
    grep -nE '#include[[:space:]]*<(sys/socket\.h|poll\.h|sys/epoll\.h|sys/un\.h|netinet/[a-z]+\.h)>|(^|[^_a-zA-Z.>])(::)?(socket|poll|ppoll|epoll_wait|accept4?|recv|recvmsg|send|sendmsg|read|write|connect|listen|bind)[[:space:]]*\(' "$f" \
      | grep -vE '^[0-9]+:[[:space:]]*//')
done

if [ "$bad" -ne 0 ]; then exit 1; fi
echo "layering: ok (runtime/ free of transports/ and hardware/; the instance core does no I/O)"
