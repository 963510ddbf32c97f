// Byte buffers for the test clients: a big-endian writer and a bounds-checked reader (TPM 2.0
// Part 1 §18: every integer on the wire is big-endian; TPM2B = u16 size + bytes), and hex dumps.
// Test code: a short or malformed buffer throws WireError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vtpm::testtools {

using Bytes = std::vector<uint8_t>;

struct WireError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Writer {
 public:
  Writer& u8(uint8_t v);
  Writer& u16(uint16_t v);
  Writer& u32(uint32_t v);
  Writer& u64(uint64_t v);
  Writer& raw(const Bytes& b);
  Writer& tpm2b(const Bytes& b);  // u16 size, then the bytes
  // A TPM2B whose body is written by the caller: returns the offset to give to end_sized().
  size_t begin_sized();
  void end_sized(size_t at);
  void patch_u32(size_t at, uint32_t v);
  size_t size() const { return bytes_.size(); }
  const Bytes& bytes() const { return bytes_; }
  Bytes take() { return std::move(bytes_); }

 private:
  Bytes bytes_;
};

class Reader {
 public:
  explicit Reader(const Bytes& b, size_t at = 0) : b_(b), at_(at) {}
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  Bytes raw(size_t n);
  Bytes tpm2b();
  void skip(size_t n);
  size_t pos() const { return at_; }
  size_t left() const { return b_.size() - at_; }

 private:
  void need(size_t n) const;
  const Bytes& b_;
  size_t at_;
};

uint32_t be32_at(const Bytes& b, size_t at);  // throws WireError when out of range
std::string hex(const Bytes& b, size_t max_bytes = SIZE_MAX);
// Multi-line dump: 16 bytes a line with the offset; byte i is preceded by marks[i] when given
// (e.g. '*' masked, '!' differs), else by a space.
std::string hexdump(const Bytes& b, const std::string* marks = nullptr);
Bytes from_hex(const std::string& s);  // whitespace allowed; throws WireError

}  // namespace vtpm::testtools
