// OpensslCrypto: the Crypto interface (crypto.h) on OpenSSL 3's EVP API. Stateless apart from
// what OpenSSL keeps itself; main() makes one and hands it to the store and the key loader.
#pragma once

#include "store/crypto.h"

namespace vtpm::store {

class OpensslCrypto final : public Crypto {
 public:
  bool random_bytes(uint8_t* out, size_t n) override;
  bool gcm_seal(Bytes key, Bytes nonce, Bytes ad, Bytes plain, uint8_t* ct, uint8_t* tag) override;
  bool gcm_open(Bytes key, Bytes nonce, Bytes ad, Bytes ct, Bytes tag, uint8_t* plain) override;
  bool cbc_encrypt(Bytes key, Bytes iv, Bytes in, uint8_t* out) override;
  bool cbc_decrypt(Bytes key, Bytes iv, Bytes in, uint8_t* out) override;
  bool hmac_sha256(Bytes key, Bytes a, Bytes b, uint8_t* out32) override;
  bool sha256(Bytes in, uint8_t* out32) override;
  bool sha512(Bytes in, uint8_t* out64) override;
  bool pbkdf2_sha512(Bytes pass, Bytes salt, uint32_t iterations, uint8_t* out, size_t n) override;
  bool hkdf_sha256(Bytes ikm, Bytes info, uint8_t* out, size_t n) override;
};

}  // namespace vtpm::store
