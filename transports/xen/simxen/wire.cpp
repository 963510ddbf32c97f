// transports/xen/simxen/wire.cpp: see wire.h.
#include "wire.h"

#include <cerrno>
#include <cstring>

namespace vtpm::simxen {
namespace {

uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void store32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

struct ErrName {
  int err;
  const char* name;
};
// xs_wire.h xsd_errors[], in its order.
constexpr ErrName kErrors[] = {
    {EINVAL, "EINVAL"}, {EACCES, "EACCES"}, {EEXIST, "EEXIST"}, {EISDIR, "EISDIR"},
    {ENOENT, "ENOENT"}, {ENOMEM, "ENOMEM"}, {ENOSPC, "ENOSPC"}, {EIO, "EIO"},
    {ENOTEMPTY, "ENOTEMPTY"}, {ENOSYS, "ENOSYS"}, {EROFS, "EROFS"}, {EBUSY, "EBUSY"},
    {EAGAIN, "EAGAIN"}, {EISCONN, "EISCONN"}, {E2BIG, "E2BIG"}, {EPERM, "EPERM"},
};

}  // namespace

FrameResult parse_frame(std::string_view in) {
  FrameResult r;
  if (in.size() < kHeaderSize) return r;
  r.header.type = load32(in.data());
  r.header.req_id = load32(in.data() + 4);
  r.header.tx_id = load32(in.data() + 8);
  r.header.len = load32(in.data() + 12);
  if (r.header.len > kPayloadMax) {
    r.status = Framing::Oversized;
    return r;
  }
  if (in.size() - kHeaderSize < r.header.len) return r;
  r.status = Framing::Complete;
  r.payload = in.substr(kHeaderSize, r.header.len);
  r.consumed = kHeaderSize + r.header.len;
  return r;
}

std::vector<std::string_view> split_fields(std::string_view payload) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (start < payload.size()) {
    size_t nul = payload.find('\0', start);
    if (nul == std::string_view::npos) {
      fields.push_back(payload.substr(start));
      break;
    }
    fields.push_back(payload.substr(start, nul - start));
    start = nul + 1;
  }
  return fields;
}

std::string encode(MsgType type, uint32_t req_id, uint32_t tx_id, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  store32(out, static_cast<uint32_t>(type));
  store32(out, req_id);
  store32(out, tx_id);
  store32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string encode_error(uint32_t req_id, uint32_t tx_id, int err) {
  std::string body = errno_name(err);
  body.push_back('\0');
  return encode(MsgType::Error, req_id, tx_id, body);
}

const char* errno_name(int err) {
  for (const auto& e : kErrors)
    if (e.err == err) return e.name;
  return "EIO";
}

int errno_from_name(std::string_view name) {
  for (const auto& e : kErrors)
    if (name == e.name) return e.err;
  return EIO;
}

bool parse_perm(std::string_view text, WirePerm* out) {
  if (text.size() < 2 || text.size() > 11) return false;
  uint8_t bits;
  switch (text[0]) {
    case 'n': bits = 0; break;
    case 'r': bits = 1; break;
    case 'w': bits = 2; break;
    case 'b': bits = 3; break;
    default: return false;
  }
  uint64_t dom = 0;
  for (char c : text.substr(1)) {
    if (c < '0' || c > '9') return false;
    dom = dom * 10 + static_cast<uint64_t>(c - '0');
    if (dom > 0xFFFFFFFFu) return false;
  }
  out->dom = static_cast<uint32_t>(dom);
  out->bits = bits;
  return true;
}

std::string format_perm(WirePerm perm) {
  static constexpr char kLetters[] = {'n', 'r', 'w', 'b'};
  return kLetters[perm.bits & 3] + std::to_string(perm.dom);
}

}  // namespace vtpm::simxen
