// Crypto: the primitives the state codecs need, behind one narrow interface that main() chooses
// (STYLE 13: no singletons, OpenSSL is one implementation — openssl_crypto.h). Keys are passed
// in on every call, so one provider serves the state key, the migration key and the KDFs.
// Every function returns false on failure; gcm_open's false also means "not authentic".
#pragma once

#include <cstddef>
#include <cstdint>

#include "store/secret.h"

namespace vtpm::store {

class Crypto {
 public:
  static constexpr size_t kGcmKeyBytes = 32;    // AES-256-GCM
  static constexpr size_t kGcmNonceBytes = 12;
  static constexpr size_t kGcmTagBytes = 16;
  static constexpr size_t kAesBlock = 16;
  static constexpr size_t kSha256Bytes = 32;
  static constexpr size_t kSha512Bytes = 64;

  virtual bool random_bytes(uint8_t* out, size_t n) = 0;

  // AES-256-GCM: key 32 bytes, nonce 12, tag 16; ct/plain have plain.size() bytes.
  virtual bool gcm_seal(Bytes key, Bytes nonce, Bytes ad, Bytes plain, uint8_t* ct,
                        uint8_t* tag) = 0;
  virtual bool gcm_open(Bytes key, Bytes nonce, Bytes ad, Bytes ct, Bytes tag,
                        uint8_t* plain) = 0;

  // AES-128/256-CBC without padding (key 16 or 32 bytes, iv 16, in a multiple of 16 bytes).
  virtual bool cbc_encrypt(Bytes key, Bytes iv, Bytes in, uint8_t* out) = 0;
  virtual bool cbc_decrypt(Bytes key, Bytes iv, Bytes in, uint8_t* out) = 0;

  // HMAC-SHA256 over a‖b.
  virtual bool hmac_sha256(Bytes key, Bytes a, Bytes b, uint8_t* out32) = 0;
  virtual bool sha256(Bytes in, uint8_t* out32) = 0;
  virtual bool sha512(Bytes in, uint8_t* out64) = 0;
  virtual bool pbkdf2_sha512(Bytes pass, Bytes salt, uint32_t iterations, uint8_t* out,
                             size_t n) = 0;
  // HKDF-SHA256 (RFC 5869) with an empty salt.
  virtual bool hkdf_sha256(Bytes ikm, Bytes info, uint8_t* out, size_t n) = 0;

 protected:
  ~Crypto() = default;
};

}  // namespace vtpm::store
