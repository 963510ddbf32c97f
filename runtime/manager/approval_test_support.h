// Test helpers for group approvals (approval_test, core_test): an offline signer's key pair
// (OpenSSL, RSA-2048 or ECC P-256) that signs what `openssl dgst -sha256 -sign` signs, and PCR 16
// (the resettable debug PCR) extended or reset on a TPM connection of the test's own.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <cstring>
#include <string>
#include <vector>

namespace vtpm::manager::testing {

// The signer's private key and its SPKI PEM (what `group create --authority` gets).
struct Signer {
  EVP_PKEY* key = nullptr;
  std::string pem;
  explicit Signer(bool rsa) {
    key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* p = nullptr;
    const long n = BIO_get_mem_data(bio, &p);
    pem.assign(p, static_cast<size_t>(n));
    BIO_free(bio);
  }
  ~Signer() { EVP_PKEY_free(key); }
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;
  std::vector<uint8_t> der() const {
    uint8_t* p = nullptr;
    const int n = i2d_PUBKEY(key, &p);
    std::vector<uint8_t> v(p, p + (n > 0 ? n : 0));
    OPENSSL_free(p);
    return v;
  }
  // What `openssl dgst -sha256 -sign` does over TBS.
  std::vector<uint8_t> sign(const std::vector<uint8_t>& tbs) const {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(md, nullptr, &len, tbs.data(), tbs.size());
    std::vector<uint8_t> sig(len);
    EVP_DigestSign(md, sig.data(), &len, tbs.data(), tbs.size());
    sig.resize(len);
    EVP_MD_CTX_free(md);
    return sig;
  }
};

// Extends (or resets) SHA-256 PCR 16 on a connection of the test's own.
inline bool pcr16(const std::string& tcti, bool reset) {
  TSS2_TCTI_CONTEXT* t = nullptr;
  if (Tss2_TctiLdr_Initialize(tcti.c_str(), &t) != TSS2_RC_SUCCESS) return false;
  ESYS_CONTEXT* c = nullptr;
  if (Esys_Initialize(&c, t, nullptr) != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&t);
    return false;
  }
  TSS2_RC rc;
  if (reset) {
    rc = Esys_PCR_Reset(c, ESYS_TR_PCR0 + 16, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
  } else {
    TPML_DIGEST_VALUES d{};
    d.count = 1;
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    std::memset(d.digests[0].digest.sha256, 0x5a, 32);
    rc = Esys_PCR_Extend(c, ESYS_TR_PCR0 + 16, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d);
  }
  Esys_Finalize(&c);
  Tss2_TctiLdr_Finalize(&t);
  return rc == TSS2_RC_SUCCESS;
}

}  // namespace vtpm::manager::testing
