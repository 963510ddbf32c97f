// OpensslCrypto (openssl_crypto.h): EVP ciphers, EVP_MAC HMAC, EVP_KDF HKDF, PKCS5 PBKDF2.
// Every length is checked against int before it reaches an int-typed EVP parameter.
// SHA256()/SHA512() one-shots are OpenSSL 3 "deprecated" low-level APIs, kept on purpose: they
// hash without EVP's algorithm fetch, whose first use in a process builds OpenSSL's whole digest
// table (about 5 M instructions, half of an instance's start-up, callgrind).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "store/openssl_crypto.h"

#include <climits>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace vtpm::store {
namespace {

const uint8_t kEmpty[1] = {0};
const uint8_t* ptr(Bytes b) { return b.data() != nullptr ? b.data() : kEmpty; }
bool fits_int(size_t n) { return n <= static_cast<size_t>(INT_MAX); }

const EVP_CIPHER* cbc_for(size_t key_bytes) {
  if (key_bytes == 16) return EVP_aes_128_cbc();
  if (key_bytes == 32) return EVP_aes_256_cbc();
  return nullptr;
}

// One EVP_CIPHER_CTX pass over `in` without padding; out gets exactly in.size() bytes.
bool cbc_run(bool encrypt, Bytes key, Bytes iv, Bytes in, uint8_t* out) {
  const EVP_CIPHER* cipher = cbc_for(key.size());
  if (cipher == nullptr || iv.size() != Crypto::kAesBlock || in.size() % Crypto::kAesBlock != 0 ||
      !fits_int(in.size())) {
    return false;
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return false;
  int n1 = 0, n2 = 0;
  bool ok = EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), iv.data(), encrypt ? 1 : 0) == 1 &&
            EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
            EVP_CipherUpdate(ctx, out, &n1, ptr(in), static_cast<int>(in.size())) == 1 &&
            EVP_CipherFinal_ex(ctx, out + n1, &n2) == 1 &&
            static_cast<size_t>(n1) + static_cast<size_t>(n2) == in.size();
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

}  // namespace

bool OpensslCrypto::random_bytes(uint8_t* out, size_t n) {
  return fits_int(n) && RAND_bytes(out, static_cast<int>(n)) == 1;
}

bool OpensslCrypto::gcm_seal(Bytes key, Bytes nonce, Bytes ad, Bytes plain, uint8_t* ct,
                             uint8_t* tag) {
  if (key.size() != kGcmKeyBytes || nonce.size() != kGcmNonceBytes || !fits_int(ad.size()) ||
      !fits_int(plain.size())) {
    return false;
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return false;
  int n = 0, fin = 0;
  bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmNonceBytes),
                                nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) == 1 &&
            EVP_EncryptUpdate(ctx, nullptr, &n, ptr(ad), static_cast<int>(ad.size())) == 1 &&
            EVP_EncryptUpdate(ctx, ct, &n, ptr(plain), static_cast<int>(plain.size())) == 1 &&
            static_cast<size_t>(n) == plain.size() && EVP_EncryptFinal_ex(ctx, ct + n, &fin) == 1 &&
            fin == 0 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes), tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

bool OpensslCrypto::gcm_open(Bytes key, Bytes nonce, Bytes ad, Bytes ct, Bytes tag,
                             uint8_t* plain) {
  if (key.size() != kGcmKeyBytes || nonce.size() != kGcmNonceBytes ||
      tag.size() != kGcmTagBytes || !fits_int(ad.size()) || !fits_int(ct.size())) {
    return false;
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return false;
  // OpenSSL wants a writable tag buffer for SET_TAG.
  uint8_t tag_copy[kGcmTagBytes];
  for (size_t i = 0; i < kGcmTagBytes; ++i) tag_copy[i] = tag[i];
  int n = 0, fin = 0;
  bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmNonceBytes),
                                nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) == 1 &&
            EVP_DecryptUpdate(ctx, nullptr, &n, ptr(ad), static_cast<int>(ad.size())) == 1 &&
            EVP_DecryptUpdate(ctx, plain, &n, ptr(ct), static_cast<int>(ct.size())) == 1 &&
            static_cast<size_t>(n) == ct.size() &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes),
                                tag_copy) == 1 &&
            EVP_DecryptFinal_ex(ctx, plain + n, &fin) == 1;  // the tag check
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) wipe(plain, ct.size());  // never hand out unauthenticated plaintext
  return ok;
}

bool OpensslCrypto::cbc_encrypt(Bytes key, Bytes iv, Bytes in, uint8_t* out) {
  return cbc_run(true, key, iv, in, out);
}

bool OpensslCrypto::cbc_decrypt(Bytes key, Bytes iv, Bytes in, uint8_t* out) {
  return cbc_run(false, key, iv, in, out);
}

bool OpensslCrypto::hmac_sha256(Bytes key, Bytes a, Bytes b, uint8_t* out32) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (mac == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  size_t outl = 0;
  bool ok = ctx != nullptr && EVP_MAC_init(ctx, ptr(key), key.size(), params) == 1 &&
            EVP_MAC_update(ctx, ptr(a), a.size()) == 1 &&
            EVP_MAC_update(ctx, ptr(b), b.size()) == 1 &&
            EVP_MAC_final(ctx, out32, &outl, kSha256Bytes) == 1 && outl == kSha256Bytes;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok;
}

bool OpensslCrypto::sha256(Bytes in, uint8_t* out32) {
  SHA256_CTX c;
  bool ok = SHA256_Init(&c) == 1 && SHA256_Update(&c, ptr(in), in.size()) == 1 && SHA256_Final(out32, &c) == 1;
  OPENSSL_cleanse(&c, sizeof c);
  return ok;
}

bool OpensslCrypto::sha512(Bytes in, uint8_t* out64) {
  SHA512_CTX c;
  bool ok = SHA512_Init(&c) == 1 && SHA512_Update(&c, ptr(in), in.size()) == 1 && SHA512_Final(out64, &c) == 1;
  OPENSSL_cleanse(&c, sizeof c);
  return ok;
}

bool OpensslCrypto::pbkdf2_sha512(Bytes pass, Bytes salt, uint32_t iterations, uint8_t* out,
                                  size_t n) {
  if (!fits_int(pass.size()) || !fits_int(salt.size()) || !fits_int(n) || iterations == 0 ||
      iterations > static_cast<uint32_t>(INT_MAX)) {
    return false;
  }
  return PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(ptr(pass)), static_cast<int>(pass.size()),
                           ptr(salt), static_cast<int>(salt.size()), static_cast<int>(iterations),
                           EVP_sha512(), static_cast<int>(n), out) == 1;
}

bool OpensslCrypto::hkdf_sha256(Bytes ikm, Bytes info, uint8_t* out, size_t n) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ptr(ikm)),
                                        ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(ptr(info)),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  bool ok = ctx != nullptr && EVP_KDF_derive(ctx, out, n, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok;
}

}  // namespace vtpm::store
