// The approval file's codec, the group key's SPKI reader and the OpenSSL signature check
// (approval.h). Every length is checked against what remains before it is used.
#include "manager/approval.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cstring>

namespace vtpm::manager {

const char* approval_error_name(ApprovalError e) {
  switch (e) {
    case ApprovalError::None: return "none";
    case ApprovalError::Truncated: return "truncated";
    case ApprovalError::TooLong: return "too long";
    case ApprovalError::BadMagic: return "bad magic";
    case ApprovalError::BadVersion: return "bad version";
    case ApprovalError::BadName: return "bad group name";
    case ApprovalError::BadSeq: return "bad sequence";
    case ApprovalError::BadMask: return "bad PCR mask";
    case ApprovalError::BadSignature: return "bad signature length";
  }
  return "?";
}

namespace {

uint64_t be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

void put(std::vector<uint8_t>& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

ApprovalError fail(ApprovalError e, std::string& err, const std::string& text) {
  err = "the approval " + text;
  return e;
}

struct PkeyFree {
  EVP_PKEY* p = nullptr;
  ~PkeyFree() { EVP_PKEY_free(p); }
};

bool bn_param(EVP_PKEY* k, const char* name, std::vector<uint8_t>& out, size_t width) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) return false;
  out.assign(width, 0);
  const bool ok = BN_bn2binpad(bn, out.data(), static_cast<int>(width)) == static_cast<int>(width);
  BN_free(bn);
  return ok;
}

}  // namespace

ApprovalError parse_approval(const uint8_t* p, size_t n, Approval& out, std::string& err) {
  if (n > kApprovalMaxBytes)
    return fail(ApprovalError::TooLong, err,
                "is " + std::to_string(n) + " bytes, over the " +
                    std::to_string(kApprovalMaxBytes) + " an approval can be");
  if (n < 11)
    return fail(ApprovalError::Truncated, err,
                "is " + std::to_string(n) + " bytes, shorter than its 11-byte header");
  if (std::memcmp(p, kApprovalMagic, 8) != 0)
    return fail(ApprovalError::BadMagic, err, "does not start with \"VTPMAPR1\"");
  if (be(p + 8, 2) != 1)
    return fail(ApprovalError::BadVersion, err,
                "has version " + std::to_string(be(p + 8, 2)) + ", not 1");
  const size_t name_len = p[10];
  if (name_len == 0 || name_len > kApprovalMaxName)
    return fail(ApprovalError::BadName, err,
                "names a group of " + std::to_string(name_len) + " bytes (1.." +
                    std::to_string(kApprovalMaxName) + ")");
  if (n < kApprovalFixed + name_len)
    return fail(ApprovalError::Truncated, err,
                "is " + std::to_string(n) + " bytes, shorter than its " +
                    std::to_string(kApprovalFixed + name_len) + " bytes of fields");
  const uint8_t* q = p + 11;
  Approval a;
  a.group.assign(reinterpret_cast<const char*>(q), name_len);
  q += name_len;
  a.policy.seq = be(q, 8);
  q += 8;
  a.policy.pcr_mask = static_cast<uint32_t>(be(q, 4));
  q += 4;
  std::memcpy(a.policy.pcr_digest, q, 32);
  q += 32;
  std::memcpy(a.approved_policy, q, 32);
  q += 32;
  if (a.policy.seq == 0) return fail(ApprovalError::BadSeq, err, "has sequence 0 (they start at 1)");
  if (a.policy.pcr_mask == 0 || (a.policy.pcr_mask >> 24))
    return fail(ApprovalError::BadMask, err, "selects no PCR, or PCRs above 23");
  const size_t sig_len = n - static_cast<size_t>(q - p);
  if (sig_len < 8 || sig_len > kApprovalMaxSignature)
    return fail(ApprovalError::BadSignature, err,
                "has a signature of " + std::to_string(sig_len) + " bytes (8.." +
                    std::to_string(kApprovalMaxSignature) + ")");
  a.signature.assign(q, q + sig_len);
  out = std::move(a);
  return ApprovalError::None;
}

void encode_approval_request(const Approval& a, std::vector<uint8_t>& out) {
  out.assign(kApprovalMagic, kApprovalMagic + 8);
  put(out, 1, 2);
  put(out, a.group.size(), 1);
  out.insert(out.end(), a.group.begin(), a.group.end());
  put(out, a.policy.seq, 8);
  put(out, a.policy.pcr_mask, 4);
  out.insert(out.end(), a.policy.pcr_digest, a.policy.pcr_digest + 32);
  out.insert(out.end(), a.approved_policy, a.approved_policy + 32);
}

void encode_approval(const Approval& a, std::vector<uint8_t>& out) {
  encode_approval_request(a, out);
  out.insert(out.end(), a.signature.begin(), a.signature.end());
}

void approval_tbs(const Approval& a, std::vector<uint8_t>& out) {
  out.assign(a.approved_policy, a.approved_policy + 32);
  out.insert(out.end(), a.group.begin(), a.group.end());
}

void approval_ahash(const Approval& a, uint8_t out[32]) {
  std::vector<uint8_t> tbs;
  approval_tbs(a, tbs);
  SHA256(tbs.data(), tbs.size(), out);
}

bool parse_group_key(const uint8_t* p, size_t n, SigningKey& key, std::vector<uint8_t>& spki_der,
                     std::string& err) {
  if (n == 0 || n > 4096) {
    err = "the group's public key is " + std::to_string(n) + " bytes (1..4096)";
    return false;
  }
  PkeyFree k;
  static constexpr char kPem[] = "-----BEGIN PUBLIC KEY-----";
  if (n >= sizeof(kPem) - 1 && std::memcmp(p, kPem, sizeof(kPem) - 1) == 0) {
    BIO* bio = BIO_new_mem_buf(p, static_cast<int>(n));
    if (bio) k.p = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  } else {
    const uint8_t* q = p;
    k.p = d2i_PUBKEY(nullptr, &q, static_cast<long>(n));
    if (k.p && q != p + n) {
      err = "the group's public key has bytes after its SubjectPublicKeyInfo";
      return false;
    }
  }
  if (!k.p) {
    err = "the group's public key is not a PEM or DER SubjectPublicKeyInfo";
    return false;
  }
  SigningKey out;
  if (EVP_PKEY_is_a(k.p, "RSA")) {
    if (EVP_PKEY_get_bits(k.p) != 2048) {
      err = "the group's RSA key has " + std::to_string(EVP_PKEY_get_bits(k.p)) +
            " bits; only RSA-2048 is accepted";
      return false;
    }
    std::vector<uint8_t> e;
    if (!bn_param(k.p, OSSL_PKEY_PARAM_RSA_N, out.a, 256) ||
        !bn_param(k.p, OSSL_PKEY_PARAM_RSA_E, e, 4)) {
      err = "the group's RSA key has an exponent over 32 bits, or no modulus";
      return false;
    }
    out.kind = SigningKind::Rsa2048;
    out.exponent = static_cast<uint32_t>(be(e.data(), 4));
  } else if (EVP_PKEY_is_a(k.p, "EC")) {
    char curve[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k.p, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                       &len) != 1 ||
        std::strcmp(curve, "prime256v1") != 0) {
      err = "the group's EC key is not on P-256 (prime256v1)";
      return false;
    }
    if (!bn_param(k.p, OSSL_PKEY_PARAM_EC_PUB_X, out.a, 32) ||
        !bn_param(k.p, OSSL_PKEY_PARAM_EC_PUB_Y, out.b, 32)) {
      err = "the group's EC key has no public point";
      return false;
    }
    out.kind = SigningKind::EccP256;
  } else {
    err = "the group's public key is neither RSA-2048 nor ECC P-256";
    return false;
  }
  uint8_t* der = nullptr;
  const int der_len = i2d_PUBKEY(k.p, &der);
  if (der_len <= 0) {
    err = "re-encoding the group's public key failed";
    return false;
  }
  spki_der.assign(der, der + der_len);
  OPENSSL_free(der);
  key = std::move(out);
  return true;
}

bool verify_approval_openssl(const std::vector<uint8_t>& spki_der, const Approval& a,
                             std::string& err) {
  const uint8_t* q = spki_der.data();
  PkeyFree k;
  k.p = d2i_PUBKEY(nullptr, &q, static_cast<long>(spki_der.size()));
  if (!k.p) {
    err = "the group's stored public key does not parse";
    return false;
  }
  std::vector<uint8_t> tbs;
  approval_tbs(a, tbs);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, k.p) == 1 &&
            EVP_DigestVerify(md, a.signature.data(), a.signature.size(), tbs.data(),
                             tbs.size()) == 1;
  EVP_MD_CTX_free(md);
  if (!ok) err = "the approval's signature does not verify with group \"" + a.group + "\"'s key";
  return ok;
}

bool approval_tpm_signature(const SigningKey& key, const Approval& a, TpmSignature& out,
                            std::string& err) {
  out = TpmSignature{};
  if (key.kind == SigningKind::Rsa2048) {
    if (a.signature.size() != 256) {
      err = "an RSA-2048 approval signature is 256 bytes, not " +
            std::to_string(a.signature.size());
      return false;
    }
    out.a = a.signature;
    return true;
  }
  const uint8_t* q = a.signature.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &q, static_cast<long>(a.signature.size()));
  if (!sig || q != a.signature.data() + a.signature.size()) {
    ECDSA_SIG_free(sig);
    err = "the approval's ECDSA signature is not one DER ECDSA-Sig-Value";
    return false;
  }
  out.a.assign(32, 0);
  out.b.assign(32, 0);
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.a.data(), 32) == 32 &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.b.data(), 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) err = "the approval's ECDSA signature has r or s over 32 bytes";
  return ok;
}

}  // namespace vtpm::manager
