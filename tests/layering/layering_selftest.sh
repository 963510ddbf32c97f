#!/usr/bin/env bash
# The layering check must catch what it is for: a copy of the tree's runtime/ with one violation
# of each kind planted must fail with that violation named, and the clean copy must pass.
set -u
check=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $1"; exit 1; }
plant() {  # name, file, line
  rm -rf "$tmp/t"; mkdir -p "$tmp/t"; cp -r "$src/runtime" "$tmp/t/"
  printf "%s\n" "$3" >> "$tmp/t/runtime/$2"
  out=$(bash "$check" "$tmp/t" 2>&1) && fail "$1: the check passed a tree with: $3"
  grep -q "$1" <<<"$out" || fail "$1: the check failed without naming it: $out"
  echo "caught: $1"
}
rm -rf "$tmp/t"; mkdir -p "$tmp/t"; cp -r "$src/runtime" "$tmp/t/"
bash "$check" "$tmp/t" >/dev/null || fail "the unchanged runtime/ does not pass"
plant "runtime includes a transport" store/state_store.cpp '#include "transports/swtpm/net.h"'
plant "runtime includes a transport" engine/engine.h '#include <hardware/tis/tis.h>'
plant "runtime CMake links" instance/CMakeLists.txt 'target_link_libraries(vtpm_instance PUBLIC vtpm::swtpm_server)'
plant "runtime CMake links" store/CMakeLists.txt 'target_link_libraries(vtpm_store PRIVATE vtpm_transports)'
plant "I/O in the sans-I/O core" instance/core.cpp 'static int probe(int fd) { return ::poll(nullptr, 0, fd); }'
plant "I/O in the sans-I/O core" instance/core.cpp '#include <sys/socket.h>'
echo "ok: every planted violation is caught"
