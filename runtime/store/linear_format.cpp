// swtpm's linear state file (linear_format.h): the header checks and the canonical layout. All
// offset arithmetic is in uint64_t on values read as uint32_t, so nothing wraps.
#include "store/linear_format.h"

#include <cstring>

namespace vtpm::store {
namespace {

constexpr const char* kSlotNames[kLinearBlobs] = {"permall", "volatilestate", "savestate"};

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint64_t le64(const uint8_t* p) { return uint64_t{le32(p)} | (uint64_t{le32(p + 4)} << 32); }
void put_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_le64(uint8_t* p, uint64_t v) {
  put_le32(p, static_cast<uint32_t>(v));
  put_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

std::string slot_name(size_t i) {
  std::string s = "slot " + std::to_string(i);
  if (i < kLinearBlobs) s += std::string(" (") + kSlotNames[i] + ")";
  return s;
}

struct Slot {
  uint64_t offset, data_length, section_length;
};

}  // namespace

bool parse_linear_store(Bytes file, LinearStore& out, std::string& err) {
  out = LinearStore();
  if (file.empty()) return true;
  const uint64_t size = file.size();
  if (size < 8) {
    err = "has " + std::to_string(size) + " bytes, too few for swtpm's linear header (" +
          std::to_string(kLinearHeaderBytes) + ")";
    return false;
  }
  if (le64(file.data()) != kLinearMagic) {
    err = "is not a swtpm linear state file (its first 8 bytes are not the magic \"swtpmlin\"); "
          "refusing to use it, and refusing to format it as a new store";
    return false;
  }
  if (size < kLinearHeaderBytes) {
    err = "has " + std::to_string(size) + " bytes, too few for swtpm's linear header (" +
          std::to_string(kLinearHeaderBytes) + "): truncated";
    return false;
  }
  const uint8_t version = file[8];
  if (version != kLinearVersion) {
    err = "has linear format version " + std::to_string(version) + "; only version " +
          std::to_string(kLinearVersion) + " (swtpm 0.7) is known";
    return false;
  }
  const uint16_t hdrsize = le16(file.data() + 10);
  if (hdrsize != kLinearHeaderBytes) {
    err = "has header size " + std::to_string(hdrsize) + "; version 1's header has " +
          std::to_string(kLinearHeaderBytes) + " bytes";
    return false;
  }
  Slot slots[kLinearSlots];
  for (size_t i = 0; i < kLinearSlots; ++i) {
    const uint8_t* p = file.data() + 12 + i * kLinearSlotBytes;
    Slot& s = slots[i];
    s = Slot{le32(p), le32(p + 4), le32(p + 8)};
    const std::string what = slot_name(i);
    if (s.offset == 0) {
      if (s.data_length != 0 || s.section_length != 0) {
        err = what + " is unallocated (offset 0) but has data length " +
              std::to_string(s.data_length) + " and section length " +
              std::to_string(s.section_length);
        return false;
      }
      continue;
    }
    if (i >= kLinearBlobs) {
      err = what + " is in use; swtpm 0.7 uses only slots 0-2 (permall, volatilestate, savestate)";
      return false;
    }
    if (s.offset < kLinearHeaderBytes) {
      err = what + " starts at offset " + std::to_string(s.offset) + ", inside the " +
            std::to_string(kLinearHeaderBytes) + "-byte header";
      return false;
    }
    if (s.data_length == 0) {
      err = what + " is allocated but holds no data";
      return false;
    }
    if (s.data_length > s.section_length) {
      err = what + " has data length " + std::to_string(s.data_length) +
            ", more than its section length " + std::to_string(s.section_length);
      return false;
    }
    if (s.section_length > size || s.offset > size - s.section_length) {
      err = what + " (offset " + std::to_string(s.offset) + ", section length " +
            std::to_string(s.section_length) + ") extends past the end of the file (" +
            std::to_string(size) + " bytes): truncated or damaged";
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      const Slot& o = slots[j];
      if (o.offset == 0) continue;
      if (s.offset < o.offset + o.section_length && o.offset < s.offset + s.section_length) {
        err = what + " overlaps " + slot_name(j);
        return false;
      }
    }
  }
  for (size_t i = 0; i < kLinearBlobs; ++i) {
    const Slot& s = slots[i];
    if (s.offset == 0) continue;
    const uint8_t* p = file.data() + s.offset;
    out.blobs[i].emplace(p, p + s.data_length);
  }
  return true;
}

bool encode_linear_store(const LinearStore& in, std::vector<uint8_t>& out, std::string& err) {
  out.assign(kLinearHeaderBytes, 0);
  put_le64(out.data(), kLinearMagic);
  out[8] = kLinearVersion;
  put_le16(out.data() + 10, static_cast<uint16_t>(kLinearHeaderBytes));
  for (size_t i = 0; i < kLinearBlobs; ++i) {
    if (!in.blobs[i]) continue;
    const std::vector<uint8_t>& b = *in.blobs[i];
    if (b.empty() || b.size() > kMaxLinearBlob) {
      err = slot_name(i) + ": a blob of " + std::to_string(b.size()) + " bytes cannot be stored";
      return false;
    }
    size_t section = 1;
    while (section < b.size()) section *= 2;  // swtpm's ROUND_TO_NEXT_POWER_OF_2_32
    const size_t offset = out.size();
    if (offset + section > UINT32_MAX) {
      err = "the blobs do not fit into swtpm's 32-bit offsets";
      return false;
    }
    uint8_t* slot = out.data() + 12 + i * kLinearSlotBytes;
    put_le32(slot, static_cast<uint32_t>(offset));
    put_le32(slot + 4, static_cast<uint32_t>(b.size()));
    put_le32(slot + 8, static_cast<uint32_t>(section));
    out.resize(offset + section, 0);
    std::memcpy(out.data() + offset, b.data(), b.size());
  }
  return true;
}

}  // namespace vtpm::store
