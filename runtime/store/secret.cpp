// SecretKey and the constant-time helpers (secret.h), on OpenSSL's cleanse and memcmp.
#include "store/secret.h"

#include <openssl/crypto.h>

namespace vtpm::store {

void wipe(void* p, size_t n) {
  if (p != nullptr && n != 0) OPENSSL_cleanse(p, n);
}

bool secret_equal(const uint8_t* a, const uint8_t* b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}

void SecretKey::assign(const uint8_t* p, size_t n) {
  clear();
  if (n > kMaxBytes) n = kMaxBytes;
  bytes_.insert(bytes_.end(), p, p + n);  // within the reserved capacity: no reallocation
}

void SecretKey::clear() {
  wipe(bytes_.data(), bytes_.size());
  bytes_.clear();
}

}  // namespace vtpm::store
