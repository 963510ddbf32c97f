// libFuzzer harness for swtpm's linear state file (STYLE.md 11: the function production calls,
// parse_linear_store). Invariants: a refusal always has a sentence and yields no blob; an
// accepted file yields non-empty blobs no larger than the input, and re-encoding them gives a
// file that parses to the same blobs and is canonical (encoding it again gives the same bytes).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/linear_format.h"

namespace {

using namespace vtpm::store;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Bytes in(data, size);
  LinearStore parsed;
  std::string err;
  if (!parse_linear_store(in, parsed, err)) {
    check(!err.empty());
    for (const auto& b : parsed.blobs) check(!b);
    return 0;
  }
  for (const auto& b : parsed.blobs) check(!b || (!b->empty() && b->size() <= size));
  std::vector<uint8_t> again;
  check(encode_linear_store(parsed, again, err));
  LinearStore back;
  check(parse_linear_store(again, back, err));
  for (size_t i = 0; i < kLinearBlobs; ++i) check(back.blobs[i] == parsed.blobs[i]);
  std::vector<uint8_t> third;
  check(encode_linear_store(back, third, err));
  check(third == again);
  return 0;
}
