// libFuzzer harness for the swtpm data channel framer (transports/swtpm/data_framer.rl, reference
// swtpm-qemu.md §1.5), calling the DataFramer production uses. Input: byte 0 = TPM kind (bit 0),
// bytes 1-2 = buffer size, byte 3 = seed of the split points; the rest is the stream. The stream
// is framed twice, whole and in fuzzer-chosen pieces: both must give the same frames and errors
// (framing does not depend on how reads cut the stream), and every frame obeys the header rules.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <vector>

#include "transports/swtpm/data_framer.h"

namespace sw = vtpm::transports::swtpm;

namespace {

#define CHECK(cond) \
  do {              \
    if (!(cond)) __builtin_trap(); \
  } while (0)

struct Event {
  sw::FrameStatus status;
  sw::FrameError error;
  uint32_t size;
  uint32_t sum;  // of the frame bytes, so frames are compared by content
  bool mssim;
  uint8_t locality;
  bool operator==(const Event&) const = default;
};

uint32_t be(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// The frame must be a well-formed command of `kind` within the buffer size, and the replies built
// around it must respect their capacities.
void check_frame(const sw::DataFramer& f) {
  const uint32_t n = f.frame_size();
  const uint8_t* p = f.frame();
  CHECK(n >= sw::kTpmHeaderSize && n <= f.buffer_size() && n <= f.capacity());
  CHECK(be(p + 2, 4) == n);
  const uint32_t tag = be(p, 2);
  CHECK(tag != 0x0000);  // any other tag is framed and left to libtpms (data_framer.rl)
  CHECK(f.mssim() == f.has_locality());
  if (f.mssim()) CHECK(f.kind() == sw::TpmKind::Tpm2);
  uint8_t out[64];
  const size_t cap = n % sizeof out;
  const size_t w = sw::wrap_mssim_reply(p, n, out, cap);
  CHECK(w <= cap && (w == 0 || w == n + 8));
}

// Frames `data` fed in pieces of 1..23 bytes drawn from `seed`, or all at once when `seed` is 0.
std::vector<Event> frame_all(sw::TpmKind kind, uint32_t bufsize, const uint8_t* data, size_t size,
                             uint8_t seed) {
  std::vector<Event> events;
  sw::DataFramer f(kind, bufsize);
  size_t off = 0;
  uint32_t rng = seed;
  // Each pass consumes at least one byte or ends the run, so at most `size` + 1 passes.
  for (size_t pass = 0; pass <= size + 1 && off < size; ++pass) {
    size_t piece = size - off;
    if (seed != 0) {
      rng = rng * 1103515245u + 12345u;
      piece = std::min<size_t>(piece, 1 + (rng >> 16) % 23);
    }
    const size_t used = f.feed(data + off, piece);
    CHECK(used <= piece);
    off += used;
    switch (f.status()) {
      case sw::FrameStatus::NeedMore:
        CHECK(used == piece);
        CHECK(f.in_progress());
        break;
      case sw::FrameStatus::Frame: {
        check_frame(f);
        uint32_t sum = 0;
        for (uint32_t i = 0; i < f.frame_size(); ++i) sum = sum * 31 + f.frame()[i];
        events.push_back({f.status(), f.error(), f.frame_size(), sum, f.mssim(), f.locality()});
        f.reset();
        break;
      }
      case sw::FrameStatus::Error: {
        CHECK(f.error() != sw::FrameError::None);
        uint8_t out[32];
        const size_t n = f.error_response(out, sizeof out);
        CHECK(n == (f.mssim() ? 18u : 10u));
        CHECK(f.error_response(out, n - 1) == 0);
        events.push_back({f.status(), f.error(), 0, 0, f.mssim(), 0});
        return events;  // the transport drops the connection
      }
    }
  }
  CHECK(off == size);
  events.push_back({f.status(), f.error(), 0, 0, false, 0});  // where the stream ended
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const sw::TpmKind kind = (data[0] & 1) ? sw::TpmKind::Tpm12 : sw::TpmKind::Tpm2;
  const uint32_t bufsize = 10 + be(data + 1, 2) % 4087;  // 10 .. 4096
  const uint8_t seed = data[3] == 0 ? 1 : data[3];
  const uint8_t* stream = data + 4;
  const size_t n = size - 4;
  const std::vector<Event> whole = frame_all(kind, bufsize, stream, n, 0);
  const std::vector<Event> pieces = frame_all(kind, bufsize, stream, n, seed);
  CHECK(whole == pieces);
  return 0;
}
