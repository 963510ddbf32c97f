// libFuzzer harness for the swtpm control channel codec (transports/swtpm/ctrl_codec.h,
// ctrl_decoder.rl; reference swtpm-qemu.md §1.1-1.2), calling the CtrlDecoder and encoders
// production uses. Input: byte 0 = split seed, byte 1 = payload limits (small, so the SET_STATEBLOB
// limit and HASH_DATA chunking are reached), the rest = bursts on one control connection. Each
// burst is fed in pieces; the decoder must use at most what it is given, make progress, keep its
// typed fields consistent, answer only with the codes swtpm uses, and every reply encoder must
// stay within its capacity.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/engine.h"
#include "transports/swtpm/ctrl_codec.h"

namespace sw = vtpm::transports::swtpm;
namespace rc = vtpm::engine::rc;

namespace {

#define CHECK(cond) \
  do {              \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// Every encoder with fields taken from the request, into a buffer of capacity `cap`: the return
// is 0 (too small) or the reply's length, never more than `cap`.
void check_replies(const sw::CtrlRequest& r, std::span<const uint8_t> bytes, size_t cap) {
  static uint8_t out[16 + 4096 + 64];
  cap = std::min(cap, sizeof out);
  auto ok = [&](size_t n, size_t len) { CHECK(n == 0 ? cap < len : (n == len && n <= cap)); };
  ok(sw::encode_result(out, cap, r.opcode), 4);
  ok(sw::encode_capability(out, cap, r.init_flags), 8);
  ok(sw::encode_established(out, cap, r.locality & 1), 8);
  ok(sw::encode_config(out, cap, r.state_flags), 8);
  ok(sw::encode_buffer_size(out, cap, r.buffer_size, r.offset, r.retries), 16);
  ok(sw::encode_state_blob_header(out, cap, r.opcode, r.state_flags, r.offset, r.offset), 16);
  const uint32_t result = r.init_flags & 1 ? rc::kRetry : rc::kSuccess;
  const size_t blob_left = result == rc::kSuccess && r.offset < bytes.size() ? bytes.size() - r.offset : 0;
  ok(sw::encode_state_blob(out, cap, result, r.state_flags, bytes, r.offset), 16 + blob_left);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const uint32_t off = r.info_offset % (bytes.size() + 2);
  const size_t info_len =
      off >= text.size() ? 4 : 12 + std::min<size_t>(text.size() + 1 - off, sw::kInfoChunk);
  ok(sw::encode_info(out, cap, text, off), info_len);
}

void check_complete(const sw::CtrlDecoder& d) {
  const sw::CtrlRequest& r = d.request();
  CHECK(static_cast<uint32_t>(r.cmd) == r.opcode);
  CHECK(r.opcode >= 0x01 && r.opcode <= 0x13);
  CHECK(d.received() == d.expected_total() || r.cmd == sw::CtrlCmd::SetLocality ||
        r.cmd == sw::CtrlCmd::ResetTpmEstablished);
  if (r.cmd == sw::CtrlCmd::SetStateBlob) {
    CHECK(r.blob.size() == r.blob_length && r.blob_length <= d.max_blob());
  } else {
    CHECK(r.blob.empty());
  }
  if (r.cmd != sw::CtrlCmd::HashData) CHECK(r.hash_data.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t rng = data[0];
  const uint32_t max_blob = 1u + (data[1] & 0x0f) * 37u;    // 1 .. 556
  const uint32_t hash_chunk = 1u + (data[1] >> 4) * 5u;     // 1 .. 76
  sw::CtrlDecoder d(max_blob, hash_chunk);
  const uint8_t* p = data + 2;
  const size_t n = size - 2;
  uint64_t hashed = 0;  // bytes of the current HASH_DATA delivered so far

  size_t off = 0;
  // Each pass consumes at least one byte, or ends a message (reset), which the next pass can
  // follow with at most one more; so 2 * n + 2 passes are enough.
  for (size_t pass = 0; pass < 2 * n + 2 && off < n; ++pass) {
    rng = rng * 1103515245u + 12345u;
    const size_t piece = std::min<size_t>(n - off, 1 + (rng >> 16) % 97);
    const sw::CtrlStatus before = d.status();
    const size_t used = d.feed(p + off, piece);
    CHECK(used <= piece);
    CHECK(used > 0 || before == sw::CtrlStatus::Complete || before == sw::CtrlStatus::Error);
    off += used;
    switch (d.status()) {
      case sw::CtrlStatus::NeedMore:
        CHECK(used == piece);
        CHECK(d.in_progress());
        CHECK(d.received() < d.expected_total());
        if ((rng >> 8) % 13 == 0) d.on_deadline();  // sometimes the peer is too slow
        if (d.status() == sw::CtrlStatus::Error) {
          CHECK(d.error_code() == rc::kBadParameter);
          d.reset();
          hashed = 0;
        }
        break;
      case sw::CtrlStatus::HashChunk:
        CHECK(d.request().cmd == sw::CtrlCmd::HashData);
        CHECK(d.request().hash_data.size() == d.hash_chunk());
        hashed += d.request().hash_data.size();
        CHECK(hashed < d.request().hash_length);
        break;
      case sw::CtrlStatus::Complete:
        CHECK(used == piece);  // a message ends its burst
        check_complete(d);
        if (d.request().cmd == sw::CtrlCmd::HashData) {
          CHECK(d.request().hash_data.size() <= d.hash_chunk());
          CHECK(hashed + d.request().hash_data.size() == d.request().hash_length);
        }
        check_replies(d.request(), std::span<const uint8_t>(p, off), (rng >> 4) % 200);
        d.reset();
        hashed = 0;
        break;
      case sw::CtrlStatus::Error: {
        CHECK(used == piece);
        const uint32_t code = d.error_code();
        CHECK(code == rc::kBadParameter || code == rc::kBadOrdinal || code == rc::kFail);
        uint8_t out[4];
        CHECK(sw::encode_error(out, sizeof out, code) == 4);
        d.reset();
        hashed = 0;
        break;
      }
    }
  }
  CHECK(off == n);
  d.on_deadline();
  CHECK(d.status() != sw::CtrlStatus::NeedMore || d.received() == 0);
  return 0;
}
