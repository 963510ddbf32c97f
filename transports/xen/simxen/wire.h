// transports/xen/simxen/wire.h: xenstore's wire protocol (xen/io/xs_wire.h) as a sans-I/O codec
// for simxenstored: a 16-byte header {type, req_id, tx_id, len} in host order, a payload of at
// most 4096 bytes (reference/xen-userspace-backend.md §1.1, §5.4.1), NUL-separated fields.
// Every length is checked; the fuzz harness fuzz/xenstore_wire.cpp calls the same functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vtpm::simxen {

enum class MsgType : uint32_t {   // xs_wire.h enum xsd_sockmsg_type
  Control = 0, Directory = 1, Read = 2, GetPerms = 3, Watch = 4, Unwatch = 5, TxStart = 6,
  TxEnd = 7, Introduce = 8, Release = 9, GetDomainPath = 10, Write = 11, Mkdir = 12, Rm = 13,
  SetPerms = 14, WatchEvent = 15, Error = 16, IsDomainIntroduced = 17, Resume = 18,
  SetTarget = 19, ResetWatches = 21, DirectoryPart = 22,
};

inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kPayloadMax = 4096;   // XENSTORE_PAYLOAD_MAX

struct Header {
  uint32_t type = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  uint32_t len = 0;
};

enum class Framing { NeedMore, Complete, Oversized };
struct FrameResult {
  Framing status = Framing::NeedMore;
  Header header{};
  std::string_view payload;   // into the input, valid when Complete
  size_t consumed = 0;        // bytes of the input the frame took
};
// Looks for one whole message at the start of `in`. Oversized: len > 4096 (kill the connection).
FrameResult parse_frame(std::string_view in);

// Splits a payload into its NUL-terminated fields. A trailing part without a NUL is returned as
// the last field (WRITE's value has none). Nothing is dropped or merged.
std::vector<std::string_view> split_fields(std::string_view payload);

// Encodes header + payload (the caller keeps payload ≤ 4096).
std::string encode(MsgType type, uint32_t req_id, uint32_t tx_id, std::string_view payload);
std::string encode_error(uint32_t req_id, uint32_t tx_id, int err);   // "ENOENT\0"

// errno <-> xsd_errors[] name; unknown errno encodes as "EIO", unknown name decodes as EIO.
const char* errno_name(int err);
int errno_from_name(std::string_view name);

// Permission strings ("b0", "r1", "w2", "n3"): parse one, format one.
struct WirePerm {
  uint32_t dom = 0;
  uint8_t bits = 0;   // 1 read, 2 write
};
bool parse_perm(std::string_view text, WirePerm* out);
std::string format_perm(WirePerm perm);

}  // namespace vtpm::simxen
