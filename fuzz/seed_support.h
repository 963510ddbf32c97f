// What the seed-corpus writers share (state_file_seeds.cpp, manager_records_seeds.cpp): a Crypto
// that is OpenSSL except that "random" bytes count up, so every run writes the same files, and
// the file writer. Not part of any harness.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "store/crypto.h"
#include "store/openssl_crypto.h"

namespace vtpm::fuzz {

using store::Bytes;
using store::Crypto;
using store::OpensslCrypto;

class CountingCrypto final : public Crypto {
 public:
  bool random_bytes(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = next_++;
    return true;
  }
  bool gcm_seal(Bytes k, Bytes n, Bytes a, Bytes p, uint8_t* c, uint8_t* t) override {
    return o_.gcm_seal(k, n, a, p, c, t);
  }
  bool gcm_open(Bytes k, Bytes n, Bytes a, Bytes c, Bytes t, uint8_t* p) override {
    return o_.gcm_open(k, n, a, c, t, p);
  }
  bool cbc_encrypt(Bytes k, Bytes iv, Bytes in, uint8_t* out) override {
    return o_.cbc_encrypt(k, iv, in, out);
  }
  bool cbc_decrypt(Bytes k, Bytes iv, Bytes in, uint8_t* out) override {
    return o_.cbc_decrypt(k, iv, in, out);
  }
  bool hmac_sha256(Bytes k, Bytes a, Bytes b, uint8_t* out) override {
    return o_.hmac_sha256(k, a, b, out);
  }
  bool sha256(Bytes in, uint8_t* out) override { return o_.sha256(in, out); }
  bool sha512(Bytes in, uint8_t* out) override { return o_.sha512(in, out); }
  bool pbkdf2_sha512(Bytes p, Bytes s, uint32_t it, uint8_t* out, size_t n) override {
    return o_.pbkdf2_sha512(p, s, it, out, n);
  }
  bool hkdf_sha256(Bytes ikm, Bytes info, uint8_t* out, size_t n) override {
    return o_.hkdf_sha256(ikm, info, out, n);
  }

 private:
  OpensslCrypto o_;
  uint8_t next_ = 0;
};


inline bool write(const std::string& dir, const char* name, const std::vector<uint8_t>& b) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace vtpm::fuzz
