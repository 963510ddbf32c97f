// Group approvals (approval.h, HostTpm's PolicyAuthorize calls) against Debian's swtpm as the
// TPM: a group secret sealed under PolicyAuthorize by an RSA-2048 or ECC P-256 key, approvals
// signed with OpenSSL over PolicyPCR + PolicyNV(revocation index ≤ seq); PCR changes, revocation
// by a higher sequence, replay, bad signatures and other groups' approvals; and the approval
// file's parser at every truncated and oversized length (table-driven over every byte count).
#include "manager/approval.h"
#include "manager/host_tpm.h"
#include "manager/approval_test_support.h"
#include "manager/tpm_test_support.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vtpm::manager {
namespace {

using testing::pcr16;
using testing::Signer;
using testing::Swtpm;

constexpr uint32_t kPcr16 = 1u << 16;

Bytes span(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }
Bytes span(const std::string& s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class GroupApprovalTest : public ::testing::TestWithParam<bool> {  // true = RSA-2048
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(swtpm_.start(why)) << why;
    reopen();
    SrkInfo srk;
    std::string err;
    ASSERT_TRUE(tpm_.ensure_srk(srk, err)) << err;
    std::vector<uint8_t> spki;
    ASSERT_TRUE(parse_group_key(reinterpret_cast<const uint8_t*>(signer_.pem.data()),
                                signer_.pem.size(), key_, spki_, err))
        << err;
    ASSERT_EQ(key_.kind, GetParam() ? SigningKind::Rsa2048 : SigningKind::EccP256);
    ASSERT_TRUE(tpm_.define_revocation(span(auth_), index_, err)) << err;
    ASSERT_TRUE(tpm_.seal_authorized(span(secret_), key_, span(group_), sealed_, err)) << err;
  }
  void TearDown() override {
    tpm_.close();
    swtpm_.stop();
  }
  void reopen() {
    tpm_.close();
    std::string err;
    ASSERT_TRUE(tpm_.open(swtpm_.tcti(), err)) << err;
  }
  void change_pcr16(bool reset) {
    tpm_.close();
    ASSERT_TRUE(pcr16(swtpm_.tcti(), reset));
    reopen();
  }
  // An approval of the PCRs now, signed for `group` (what approval-request + openssl make).
  Approval approve(uint64_t seq, const std::string& group) {
    Approval a;
    a.group = group;
    a.policy.seq = seq;
    a.policy.pcr_mask = kPcr16;
    std::string err;
    EXPECT_TRUE(tpm_.pcr_digest(kPcr16, a.policy.pcr_digest, err)) << err;
    EXPECT_TRUE(tpm_.approved_policy(index_, span(auth_), a.policy, a.approved_policy, err)) << err;
    std::vector<uint8_t> tbs;
    approval_tbs(a, tbs);
    a.signature = signer_.sign(tbs);
    return a;
  }
  bool unseal(const Approval& a, TpmError& why, std::string& err) {
    TpmSignature sig;
    if (!approval_tpm_signature(key_, a, sig, err)) return false;
    SecretBytes out;
    if (!tpm_.unseal_authorized(span(sealed_), key_, span(group_), index_, span(auth_), a.policy,
                                sig, out, why, err))
      return false;
    EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret_);
    return true;
  }

  Swtpm swtpm_;
  HostTpm tpm_;
  Signer signer_{GetParam()};
  SigningKey key_;
  std::vector<uint8_t> spki_;
  const std::vector<uint8_t> auth_ = std::vector<uint8_t>(32, 0x42);
  const std::vector<uint8_t> secret_ = std::vector<uint8_t>(32, 0x17);
  const std::string group_ = "web";
  uint32_t index_ = 0;
  std::vector<uint8_t> sealed_;
};

TEST_P(GroupApprovalTest, ApproveThenUnsealThenPcrChangeNeedsANewApprovalNotAReseal) {
  std::string err;
  TpmError why = TpmError::Other;
  const Approval a1 = approve(1, group_);
  EXPECT_TRUE(verify_approval_openssl(spki_, a1, err)) << err;
  uint8_t ahash[32];
  approval_ahash(a1, ahash);
  TpmSignature sig;
  ASSERT_TRUE(approval_tpm_signature(key_, a1, sig, err)) << err;
  EXPECT_TRUE(tpm_.verify_signature(key_, Bytes(ahash, 32), sig, err)) << err;
  ASSERT_TRUE(unseal(a1, why, err)) << err;

  change_pcr16(false);  // the host changed: the old approval no longer fits
  EXPECT_FALSE(unseal(a1, why, err));
  EXPECT_EQ(why, TpmError::PolicyFailed) << err;
  EXPECT_NE(err.find("PolicyPCR"), std::string::npos) << err;

  const Approval a2 = approve(2, group_);  // a new signed approval, the same sealed blob
  ASSERT_TRUE(tpm_.write_revocation(index_, span(auth_), 2, err)) << err;
  ASSERT_TRUE(unseal(a2, why, err)) << err;
  uint64_t v = 0;
  ASSERT_TRUE(tpm_.read_counter(index_, span(auth_), v, err)) << err;
  EXPECT_EQ(v, 2u);
}

TEST_P(GroupApprovalTest, ReplayedOldApprovalIsRefusedAfterRevocation) {
  std::string err;
  TpmError why = TpmError::Other;
  const Approval a1 = approve(1, group_);
  ASSERT_TRUE(unseal(a1, why, err)) << err;
  const Approval a2 = approve(2, group_);  // the same PCRs, a higher sequence
  ASSERT_TRUE(tpm_.write_revocation(index_, span(auth_), 2, err)) << err;
  EXPECT_FALSE(unseal(a1, why, err));  // index 2 > seq 1: PolicyNV fails
  EXPECT_EQ(why, TpmError::PolicyFailed) << err;
  EXPECT_NE(err.find("PolicyNV"), std::string::npos) << err;
  ASSERT_TRUE(unseal(a2, why, err)) << err;
  // Even with the PCRs put back to what a1 named, a1 stays revoked.
  change_pcr16(false);
  change_pcr16(true);
  EXPECT_FALSE(unseal(a1, why, err));
  ASSERT_TRUE(unseal(a2, why, err)) << err;
}

TEST_P(GroupApprovalTest, BadSignatureAndOtherGroupsApprovalAreRefusedByOpenSslAndTheTpm) {
  std::string err;
  TpmError why = TpmError::Other;
  Approval bad = approve(1, group_);
  bad.signature[bad.signature.size() / 2] ^= 0x01;
  EXPECT_FALSE(verify_approval_openssl(spki_, bad, err));
  EXPECT_FALSE(unseal(bad, why, err));

  Approval tampered = approve(1, group_);  // a signed approval with another PCR digest
  tampered.policy.pcr_digest[0] ^= 1;
  EXPECT_FALSE(unseal(tampered, why, err));

  const Approval other = approve(1, "db");  // signed for group "db" by the same key
  EXPECT_TRUE(verify_approval_openssl(spki_, other, err)) << err;
  EXPECT_FALSE(unseal(other, why, err));  // policyRef "web" != "db": aHash differs
  EXPECT_EQ(why, TpmError::PolicyFailed) << err;

  Signer stranger(GetParam());  // another key's signature over the right TBS
  Approval foreign = approve(1, group_);
  std::vector<uint8_t> tbs;
  approval_tbs(foreign, tbs);
  foreign.signature = stranger.sign(tbs);
  EXPECT_FALSE(verify_approval_openssl(spki_, foreign, err));
  EXPECT_FALSE(unseal(foreign, why, err));
  ASSERT_TRUE(unseal(approve(1, group_), why, err)) << err;
}

TEST_P(GroupApprovalTest, KeyNameIsTheTpmsAndStable) {
  std::vector<uint8_t> n1, n2;
  std::string err;
  ASSERT_TRUE(tpm_.key_name(key_, n1, err)) << err;
  ASSERT_TRUE(tpm_.key_name(key_, n2, err)) << err;
  ASSERT_EQ(n1.size(), 34u);
  EXPECT_EQ(n1[0], 0x00);
  EXPECT_EQ(n1[1], 0x0b);
  EXPECT_EQ(n1, n2);
  Signer other(GetParam());
  SigningKey k2;
  std::vector<uint8_t> spki2;
  ASSERT_TRUE(parse_group_key(reinterpret_cast<const uint8_t*>(other.pem.data()),
                              other.pem.size(), k2, spki2, err));
  ASSERT_TRUE(tpm_.key_name(k2, n2, err)) << err;
  EXPECT_NE(n1, n2);
}

INSTANTIATE_TEST_SUITE_P(Keys, GroupApprovalTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("Rsa2048") : std::string("EccP256");
                         });

// ---- the file parser, no TPM ----

Approval sample(const Signer& s) {
  Approval a;
  a.group = "web";
  a.policy.seq = 7;
  a.policy.pcr_mask = 1u << 7;
  for (int i = 0; i < 32; ++i) {
    a.policy.pcr_digest[i] = static_cast<uint8_t>(i);
    a.approved_policy[i] = static_cast<uint8_t>(0xa0 + i);
  }
  std::vector<uint8_t> tbs;
  approval_tbs(a, tbs);
  a.signature = s.sign(tbs);
  return a;
}

TEST(ApprovalFile, RoundTripsAndEveryTruncationOrExtensionIsRefused) {
  for (bool rsa : {false, true}) {
    Signer s(rsa);
    SigningKey key;
    std::vector<uint8_t> spki;
    std::string err;
    ASSERT_TRUE(parse_group_key(reinterpret_cast<const uint8_t*>(s.pem.data()), s.pem.size(), key,
                                spki, err))
        << err;
    const Approval a = sample(s);
    std::vector<uint8_t> file;
    encode_approval(a, file);
    Approval back;
    ASSERT_EQ(parse_approval(file.data(), file.size(), back, err), ApprovalError::None) << err;
    EXPECT_EQ(back.group, a.group);
    EXPECT_EQ(back.policy.seq, 7u);
    EXPECT_EQ(back.signature, a.signature);
    EXPECT_TRUE(verify_approval_openssl(spki, back, err)) << err;
    TpmSignature sig;
    EXPECT_TRUE(approval_tpm_signature(key, back, sig, err)) << err;
    // Every shorter length: a parse error, or (signature cut short) a signature that fails.
    for (size_t n = 0; n < file.size(); ++n) {
      Approval got;
      const ApprovalError e = parse_approval(file.data(), n, got, err);
      if (e == ApprovalError::None) {
        EXPECT_FALSE(verify_approval_openssl(spki, got, err)) << n;
      } else {
        EXPECT_FALSE(err.empty()) << n;
        EXPECT_TRUE(n < kApprovalFixed + 3 + 8 || e == ApprovalError::BadSignature) << n;
      }
    }
    // Every longer length up to past the maximum.
    for (size_t extra = 1; extra <= kApprovalMaxBytes + 1 - file.size() + 1; ++extra) {
      std::vector<uint8_t> big = file;
      big.resize(file.size() + extra, 0);
      Approval got;
      const ApprovalError e = parse_approval(big.data(), big.size(), got, err);
      if (e == ApprovalError::None) {
        EXPECT_FALSE(verify_approval_openssl(spki, got, err)) << extra;
      }
    }
  }
}

TEST(ApprovalFile, EachFieldsBadValueHasItsError) {
  Signer s(false);
  std::vector<uint8_t> file;
  encode_approval(sample(s), file);
  std::string err;
  Approval got;
  auto with = [&](size_t at, uint8_t v) {
    std::vector<uint8_t> f = file;
    f[at] = v;
    return parse_approval(f.data(), f.size(), got, err);
  };
  EXPECT_EQ(with(0, 'X'), ApprovalError::BadMagic);
  EXPECT_EQ(with(9, 2), ApprovalError::BadVersion);
  EXPECT_EQ(with(10, 0), ApprovalError::BadName);
  EXPECT_EQ(with(10, 33), ApprovalError::BadName);
  const size_t seq = 11 + 3;
  std::vector<uint8_t> f = file;
  std::memset(f.data() + seq, 0, 8);
  EXPECT_EQ(parse_approval(f.data(), f.size(), got, err), ApprovalError::BadSeq);
  EXPECT_EQ(with(seq + 8, 1), ApprovalError::BadMask);  // PCR 24 and up
  f = file;
  std::memset(f.data() + seq + 8, 0, 4);
  EXPECT_EQ(parse_approval(f.data(), f.size(), got, err), ApprovalError::BadMask);
  std::vector<uint8_t> huge(kApprovalMaxBytes + 1, 0);
  EXPECT_EQ(parse_approval(huge.data(), huge.size(), got, err), ApprovalError::TooLong);
}

TEST(ApprovalFile, GroupKeyOnlyRsa2048OrP256) {
  std::string err;
  SigningKey k;
  std::vector<uint8_t> spki;
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, p384);
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio, &p);
  EXPECT_FALSE(parse_group_key(reinterpret_cast<const uint8_t*>(p), static_cast<size_t>(n), k,
                               spki, err));
  EXPECT_NE(err.find("P-256"), std::string::npos) << err;
  BIO_free(bio);
  EVP_PKEY_free(p384);
  const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  EXPECT_FALSE(parse_group_key(junk, sizeof junk, k, spki, err));
  Signer rsa(true);
  ASSERT_TRUE(parse_group_key(reinterpret_cast<const uint8_t*>(rsa.pem.data()), rsa.pem.size(), k,
                              spki, err));
  std::vector<uint8_t> der = spki;  // DER is taken too, trailing bytes are not
  SigningKey k2;
  std::vector<uint8_t> spki2;
  ASSERT_TRUE(parse_group_key(der.data(), der.size(), k2, spki2, err)) << err;
  EXPECT_EQ(spki2, spki);
  der.push_back(0);
  EXPECT_FALSE(parse_group_key(der.data(), der.size(), k2, spki2, err));
}

}  // namespace
}  // namespace vtpm::manager
