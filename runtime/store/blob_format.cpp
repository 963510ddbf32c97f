// Container parsing and writing (blob_format.h). All arithmetic on lengths is done in size_t
// after checking against what is left, so no length in a file can move a view out of the buffer.
#include "store/blob_format.h"

#include <cstdio>

namespace vtpm::store {
namespace {

std::string fmt(const char* f, unsigned long long a, unsigned long long b = 0,
                unsigned long long c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

}  // namespace


uint32_t Container::tag_bit(uint16_t t) {
  if (t >= tag::kData && t <= tag::kIvecMigrationData) return 1u << t;
  if (t >= tag::kGcmNonce && t <= tag::kGcmKeySize) return 1u << (t - tag::kGcmNonce + 8);
  return 0;
}

bool Container::parse(Bytes in, Container& out, std::string& err) {
  out = Container();
  if (in.size() < kHeaderBytes) {
    err = fmt("blob has %llu bytes, shorter than the %llu-byte header", in.size(), kHeaderBytes);
    return false;
  }
  const uint8_t* p = in.data();
  Header h;
  h.version = p[0];
  h.min_version = p[1];
  const uint16_t hdrsize = get_be16(p + 2);
  h.flags = get_be16(p + 4);
  h.total_len = get_be32(p + 6);
  if (hdrsize != kHeaderBytes) {
    err = fmt("header size field is %llu, expected %llu", hdrsize, kHeaderBytes);
    return false;
  }
  if (h.total_len != in.size()) {
    err = fmt("header says the blob has %llu bytes, but it has %llu (truncated or extended)",
              h.total_len, in.size());
    return false;
  }
  if (h.min_version > kFormatVersion) {
    err = fmt("blob needs format version %llu; this reader knows versions 1 and 2", h.min_version);
    return false;
  }
  if (h.min_version == 0 || h.version > kFormatVersion || h.version < h.min_version) {
    err = fmt("header version %llu (minimum %llu) is not version 1 or 2", h.version, h.min_version);
    return false;
  }
  out.header_ = h;
  out.header_bytes_ = in.first(kHeaderBytes);
  out.payload_ = in.subspan(kHeaderBytes);
  if (h.version == 1) return true;  // one opaque payload, no TLVs
  return out.parse_records(in, kHeaderBytes, err);
}

bool Container::parse_tlvs(Bytes in, Container& out, std::string& err) {
  out = Container();
  out.payload_ = in;
  return out.parse_records(in, 0, err);
}

bool Container::parse_records(Bytes in, size_t off, std::string& err) {
  const uint8_t* p = in.data();
  uint32_t seen = 0;
  while (off < in.size()) {
    const size_t left = in.size() - off;
    if (left < kTlvHeaderBytes) {
      err = fmt("%llu stray bytes at offset %llu, too few for a TLV header", left, off);
      return false;
    }
    const uint16_t t = get_be16(p + off);
    const uint32_t len = get_be32(p + off + 2);
    const uint32_t bit = tag_bit(t);
    if (bit == 0) {
      err = fmt("unknown TLV tag 0x%llx at offset %llu", t, off);
      return false;
    }
    if (len > left - kTlvHeaderBytes) {
      err = fmt("TLV %llu length %llu exceeds remaining %llu bytes", t, len, left - kTlvHeaderBytes);
      return false;
    }
    if ((seen & bit) != 0) {
      err = fmt("duplicate TLV %llu at offset %llu", t, off);
      return false;
    }
    seen |= bit;
    entries_[count_++] = Entry{t, in.subspan(off + kTlvHeaderBytes, len)};
    off += kTlvHeaderBytes + len;
  }
  return true;
}

bool Container::has(uint16_t t) const {
  for (size_t i = 0; i < count_; ++i) {
    if (entries_[i].tag == t) return true;
  }
  return false;
}

Bytes Container::value(uint16_t t) const {
  for (size_t i = 0; i < count_; ++i) {
    if (entries_[i].tag == t) return entries_[i].value;
  }
  return Bytes();
}

bool Container::only(uint32_t allowed, std::string& err) const {
  for (size_t i = 0; i < count_; ++i) {
    if ((tag_bit(entries_[i].tag) & allowed) == 0) {
      err = fmt("unexpected TLV %llu in this kind of blob", entries_[i].tag);
      return false;
    }
  }
  return true;
}

bool Container::require(uint32_t required, std::string& err) const {
  static const uint16_t kAll[] = {1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16};
  for (uint16_t t : kAll) {
    if ((required & tag_bit(t)) != 0 && !has(t)) {
      err = fmt("required TLV %llu is missing", t);
      return false;
    }
  }
  return true;
}

bool looks_like_header(Bytes in) {
  if (in.size() < 4) return false;
  const int votes = (in[0] == 1 || in[0] == 2) + (in[1] == 1 || in[1] == 2) +
                    (in[2] == 0 && in[3] == kHeaderBytes);
  return votes >= 2;
}

void start_blob(std::vector<uint8_t>& out, size_t reserve) {
  out.clear();
  out.reserve(kHeaderBytes + reserve);
  out.resize(kHeaderBytes);
}

void append_tlv(std::vector<uint8_t>& out, uint16_t t, Bytes value) {
  uint8_t h[kTlvHeaderBytes];
  put_be16(h, t);
  put_be32(h + 2, static_cast<uint32_t>(value.size()));
  out.insert(out.end(), h, h + kTlvHeaderBytes);
  out.insert(out.end(), value.begin(), value.end());
}

void header_bytes(uint8_t out[kHeaderBytes], uint8_t min_version, uint16_t flags, uint32_t total) {
  out[0] = kFormatVersion;
  out[1] = min_version;
  put_be16(out + 2, kHeaderBytes);
  put_be16(out + 4, flags);
  put_be32(out + 6, total);
}

void finish_blob(std::vector<uint8_t>& out, uint8_t min_version, uint16_t flags) {
  header_bytes(out.data(), min_version, flags, static_cast<uint32_t>(out.size()));
}

}  // namespace vtpm::store
