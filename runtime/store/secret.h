// Secrets of the store: SecretKey holds key bytes and wipes them when it goes (DESIGN §6), and
// the two constant-time helpers everything secret goes through (STYLE 13): wipe() and
// secret_equal(). Both are OpenSSL's (OPENSSL_cleanse, CRYPTO_memcmp), which the compiler cannot
// optimise away or turn into an early-exit comparison.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vtpm::store {

using Bytes = std::span<const uint8_t>;

// Overwrites n bytes at p with zeros in a way the optimiser keeps.
void wipe(void* p, size_t n);
// Compares n bytes in time independent of where they differ.
bool secret_equal(const uint8_t* a, const uint8_t* b, size_t n);

// Up to 64 bytes of key material. The storage is reserved once, so the bytes never move (no
// stray copies left behind by a reallocation); the destructor and clear() wipe them.
class SecretKey {
 public:
  static constexpr size_t kMaxBytes = 64;

  SecretKey() { bytes_.reserve(kMaxBytes); }
  ~SecretKey() { clear(); }
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  // Replaces the key with n bytes from p (n <= kMaxBytes; more is a bug of ours and is cut).
  void assign(const uint8_t* p, size_t n);
  void clear();

  bool empty() const { return bytes_.empty(); }
  size_t size() const { return bytes_.size(); }
  const uint8_t* data() const { return bytes_.data(); }
  Bytes span() const { return Bytes(bytes_.data(), bytes_.size()); }
  // For callers that keep a reference to the raw key (the instance's migration key).
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace vtpm::store
