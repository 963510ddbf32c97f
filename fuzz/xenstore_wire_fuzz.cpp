// fuzz/xenstore_wire_fuzz.cpp: bytes as simxenstored would read them. The first byte picks the
// calling domain (dom0 privileged or dom1) and whether the rest goes to the xenstore side (frames
// through parse_frame + handle_request, as the daemon loop does) or to the broker (16-byte
// requests through BrokerCore::handle). Every reply must itself be a well-formed frame.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "broker_core.h"
#include "request.h"
#include "store_core.h"
#include "wire.h"

using namespace vtpm::simxen;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  DomId dom = mode & 1;
  if (mode & 2) {
    BrokerCore broker({0, 1});
    broker.connect(1, dom);
    broker.connect(2, dom ^ 1);
    for (size_t off = 0; off + sizeof(BrokerRequest) <= in.size(); off += sizeof(BrokerRequest)) {
      BrokerRequest req;
      std::memcpy(&req, in.data() + off, sizeof(req));
      BrokerResult res = broker.handle(((off / 16) & 1) ? 2 : 1, req);
      for (int fd : res.owned) close(fd);
    }
    broker.disconnect(1);
    return 0;
  }
  StoreOptions options;
  options.domains = {0, 1};
  options.eagain_first_commit = mode & 4;
  options.strict_conflicts = mode & 8;
  StoreCore core(options);
  core.connect(1, dom);
  core.connect(2, 0);
  while (!in.empty()) {
    FrameResult f = parse_frame(in);
    if (f.status != Framing::Complete) break;   // NeedMore waits; Oversized kills the connection
    std::string reply = handle_request(core, 1, f.header, f.payload);
    if (parse_frame(reply).status != Framing::Complete) abort();
    for (const auto& firing : core.take_firings())
      if (parse_frame(encode_watch_event(firing)).status != Framing::Complete) abort();
    in.remove_prefix(f.consumed);
  }
  core.disconnect(1);
  return 0;
}
