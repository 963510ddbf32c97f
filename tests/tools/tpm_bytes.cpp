// Big-endian writer/reader and hex helpers for the test clients (see tpm_bytes.h).
#include "tpm_bytes.h"

#include <cctype>
#include <cstdio>

namespace vtpm::testtools {

Writer& Writer::u8(uint8_t v) {
  bytes_.push_back(v);
  return *this;
}
Writer& Writer::u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
Writer& Writer::u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
Writer& Writer::u64(uint64_t v) { return u32(uint32_t(v >> 32)).u32(uint32_t(v)); }
Writer& Writer::raw(const Bytes& b) {
  bytes_.insert(bytes_.end(), b.begin(), b.end());
  return *this;
}
Writer& Writer::tpm2b(const Bytes& b) {
  if (b.size() > 0xffff) throw WireError("tpm2b: body over 65535 bytes");
  return u16(uint16_t(b.size())).raw(b);
}
size_t Writer::begin_sized() {
  size_t at = bytes_.size();
  u16(0);
  return at;
}
void Writer::end_sized(size_t at) {
  size_t n = bytes_.size() - at - 2;
  if (n > 0xffff) throw WireError("sized body over 65535 bytes");
  bytes_[at] = uint8_t(n >> 8);
  bytes_[at + 1] = uint8_t(n);
}
void Writer::patch_u32(size_t at, uint32_t v) {
  if (at + 4 > bytes_.size()) throw WireError("patch_u32 out of range");
  for (int i = 0; i < 4; ++i) bytes_[at + i] = uint8_t(v >> (24 - 8 * i));
}

void Reader::need(size_t n) const {
  if (left() < n)
    throw WireError("short buffer: need " + std::to_string(n) + " bytes at offset " + std::to_string(at_) +
                    ", have " + std::to_string(left()));
}
uint8_t Reader::u8() {
  need(1);
  return b_[at_++];
}
uint16_t Reader::u16() {
  uint16_t hi = u8();
  return uint16_t(hi << 8 | u8());
}
uint32_t Reader::u32() {
  uint32_t hi = u16();
  return hi << 16 | u16();
}
uint64_t Reader::u64() {
  uint64_t hi = u32();
  return hi << 32 | u32();
}
Bytes Reader::raw(size_t n) {
  need(n);
  Bytes out(b_.begin() + long(at_), b_.begin() + long(at_ + n));
  at_ += n;
  return out;
}
Bytes Reader::tpm2b() { return raw(u16()); }
void Reader::skip(size_t n) {
  need(n);
  at_ += n;
}

uint32_t be32_at(const Bytes& b, size_t at) {
  Reader r(b, at);
  return r.u32();
}

std::string hex(const Bytes& b, size_t max_bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  size_t n = b.size() < max_bytes ? b.size() : max_bytes;
  for (size_t i = 0; i < n; ++i) {
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  if (n < b.size()) s += "…(" + std::to_string(b.size()) + " bytes)";
  return s;
}

std::string hexdump(const Bytes& b, const std::string* marks) {
  std::string out;
  char buf[32];
  for (size_t line = 0; line < b.size(); line += 16) {
    std::snprintf(buf, sizeof buf, "  %04zx:", line);
    out += buf;
    for (size_t i = line; i < line + 16 && i < b.size(); ++i) {
      char m = marks && i < marks->size() ? (*marks)[i] : ' ';
      std::snprintf(buf, sizeof buf, "%c%02x", m, b[i]);
      out += buf;
    }
    out += '\n';
  }
  if (b.empty()) out += "  (empty)\n";
  return out;
}

Bytes from_hex(const std::string& s) {
  Bytes out;
  int nibble = -1;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else throw WireError(std::string("not a hex digit: ") + c);
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(uint8_t(nibble << 4 | v));
      nibble = -1;
    }
  }
  if (nibble >= 0) throw WireError("odd number of hex digits");
  return out;
}

}  // namespace vtpm::testtools
