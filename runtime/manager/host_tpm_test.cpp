// HostTpm against a real software TPM: each test starts Debian's swtpm 0.7.1 as a child
// (TCP on loopback, its own state directory), talks to it through the swtpm TCTI, and stops it
// by pid. Without /usr/bin/swtpm the tests fail. PCR 16 (the resettable debug PCR) is extended
// by the test itself through its own ESYS context to break a PCR policy.
#include "manager/host_tpm.h"
#include "manager/tpm_test_support.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vtpm::manager {
namespace {

using testing::free_port;
using testing::kSwtpm;
using testing::Swtpm;

// Runs fn(ESYS_CONTEXT*) -> TSS2_RC on a separate ESYS context of the test's own (HostTpm must
// be closed: swtpm serves one connection at a time).
template <typename Fn>
bool with_esys(const std::string& tcti, Fn fn, std::string& why) {
  TSS2_TCTI_CONTEXT* t = nullptr;
  if (Tss2_TctiLdr_Initialize(tcti.c_str(), &t) != TSS2_RC_SUCCESS) {
    why = "TCTI init";
    return false;
  }
  ESYS_CONTEXT* c = nullptr;
  if (Esys_Initialize(&c, t, nullptr) != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&t);
    why = "Esys_Initialize";
    return false;
  }
  TSS2_RC rc = fn(c);
  Esys_Finalize(&c);
  Tss2_TctiLdr_Finalize(&t);
  if (rc != TSS2_RC_SUCCESS) why = "test ESYS call failed with rc " + std::to_string(rc);
  return rc == TSS2_RC_SUCCESS;
}

// Extends SHA-256 PCR `pcr` (TPM2_PCR_Extend with a fixed digest).
bool extend_pcr(const std::string& tcti, uint32_t pcr, std::string& why) {
  return with_esys(
      tcti,
      [pcr](ESYS_CONTEXT* c) {
        TPML_DIGEST_VALUES d{};
        d.count = 1;
        d.digests[0].hashAlg = TPM2_ALG_SHA256;
        std::memset(d.digests[0].digest.sha256, 0x5a, 32);
        return Esys_PCR_Extend(c, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &d);
      },
      why);
}

// Puts an ECC P-256 *signing* primary at 0x81000001: something there, but no storage key.
bool persist_signing_key_at_srk_handle(const std::string& tcti, std::string& why) {
  return with_esys(
      tcti,
      [](ESYS_CONTEXT* c) {
        TPM2B_PUBLIC pub{};
        pub.publicArea.type = TPM2_ALG_ECC;
        pub.publicArea.nameAlg = TPM2_ALG_SHA256;
        pub.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                                          TPMA_OBJECT_FIXEDPARENT |
                                          TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                          TPMA_OBJECT_USERWITHAUTH;
        pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        pub.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        TPM2B_SENSITIVE_CREATE sensitive{};
        TPM2B_DATA outside{};
        TPML_PCR_SELECTION creation{};
        ESYS_TR key = ESYS_TR_NONE;
        TSS2_RC rc = Esys_CreatePrimary(c, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &sensitive, &pub, &outside, &creation,
                                        &key, nullptr, nullptr, nullptr, nullptr);
        if (rc != TSS2_RC_SUCCESS) return rc;
        ESYS_TR persistent = ESYS_TR_NONE;
        rc = Esys_EvictControl(c, ESYS_TR_RH_OWNER, key, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, HostTpm::kSrkHandle, &persistent);
        Esys_FlushContext(c, key);
        return rc;
      },
      why);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 7 * i);
  return v;
}

Bytes span(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }

constexpr uint32_t kPcr16 = 1u << 16;

class HostTpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(swtpm_.start(why)) << why;
    std::string err;
    ASSERT_TRUE(tpm_.open(swtpm_.tcti(), err)) << err;
  }
  void TearDown() override {
    tpm_.close();
    swtpm_.stop();
  }
  void ensure_srk(SrkInfo& info) {
    std::string err;
    ASSERT_TRUE(tpm_.ensure_srk(info, err)) << err;
  }
  Swtpm swtpm_;
  HostTpm tpm_;
};

TEST_F(HostTpmTest, SrkCreatedOnceThenFoundWithTheSameName) {
  std::string err;
  std::vector<uint8_t> name;
  EXPECT_FALSE(tpm_.srk_name(name, err));  // a fresh TPM has no SRK
  EXPECT_NE(err.find("no SRK at 0x81000001"), std::string::npos) << err;

  SrkInfo first;
  ensure_srk(first);
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.kind, SrkKind::Ecc256);
  ASSERT_EQ(first.name.size(), 34u);  // be16 TPM2_ALG_SHA256 || SHA-256 digest
  EXPECT_EQ(first.name[0], 0x00);
  EXPECT_EQ(first.name[1], 0x0b);

  SrkInfo again;
  ensure_srk(again);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.name, first.name);

  tpm_.close();  // persisted: a new connection finds the same key
  ASSERT_TRUE(tpm_.open(swtpm_.tcti(), err)) << err;
  ASSERT_TRUE(tpm_.srk_name(name, err)) << err;
  EXPECT_EQ(name, first.name);
  SrkInfo reopened;
  ensure_srk(reopened);
  EXPECT_FALSE(reopened.created);
  EXPECT_EQ(reopened.name, first.name);

  // srk_name after ensure_srk re-reads the key and leaves a usable SRK handle behind.
  ASSERT_TRUE(tpm_.srk_name(name, err)) << err;
  EXPECT_EQ(name, first.name);
  const std::vector<uint8_t> secret = pattern(20, 40);
  std::vector<uint8_t> blob;
  ASSERT_TRUE(tpm_.seal(span(secret), kPcr16, blob, err)) << err;
  ASSERT_TRUE(tpm_.srk_name(name, err)) << err;
  SecretBytes out;
  TpmError why = TpmError::Other;
  ASSERT_TRUE(tpm_.unseal(span(blob), kPcr16, out, why, err)) << err;
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret);
}

TEST_F(HostTpmTest, SealUnsealRoundTripThenPolicyFailsAfterPcr16Extend) {
  SrkInfo srk;
  ensure_srk(srk);
  std::string err;
  const std::vector<uint8_t> secret = pattern(32, 1);
  std::vector<uint8_t> blob;
  ASSERT_TRUE(tpm_.seal(span(secret), kPcr16, blob, err)) << err;
  const std::vector<uint8_t> big = pattern(128, 9);  // the largest secret seal() takes
  std::vector<uint8_t> big_blob;
  ASSERT_TRUE(tpm_.seal(span(big), kPcr16, big_blob, err)) << err;
  std::vector<uint8_t> unbound_blob;  // mask 0: an empty PolicyPCR, independent of PCRs
  ASSERT_TRUE(tpm_.seal(span(secret), 0, unbound_blob, err)) << err;

  SecretBytes out;
  TpmError why = TpmError::Other;
  ASSERT_TRUE(tpm_.unseal(span(blob), kPcr16, out, why, err)) << err;
  EXPECT_EQ(why, TpmError::None);
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret);
  ASSERT_TRUE(tpm_.unseal(span(big_blob), kPcr16, out, why, err)) << err;
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), big);

  // Unsealed with another mask than it was sealed to: the policy does not match.
  EXPECT_FALSE(tpm_.unseal(span(blob), kPcr16 | (1u << 23), out, why, err));
  EXPECT_EQ(why, TpmError::PolicyFailed) << err;
  EXPECT_EQ(out.size(), 0u);

  tpm_.close();
  std::string ext;
  ASSERT_TRUE(extend_pcr(swtpm_.tcti(), 16, ext)) << ext;
  ASSERT_TRUE(tpm_.open(swtpm_.tcti(), err)) << err;

  EXPECT_FALSE(tpm_.unseal(span(blob), kPcr16, out, why, err));
  EXPECT_EQ(why, TpmError::PolicyFailed) << err;
  EXPECT_NE(err.find("TPM2_Unseal"), std::string::npos) << err;
  EXPECT_EQ(out.size(), 0u);
  EXPECT_FALSE(tpm_.unseal(span(big_blob), kPcr16, out, why, err));
  EXPECT_EQ(why, TpmError::PolicyFailed) << err;

  ASSERT_TRUE(tpm_.unseal(span(unbound_blob), 0, out, why, err)) << err;
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret);

  // Sealed again to the new value, it opens again.
  ASSERT_TRUE(tpm_.seal(span(secret), kPcr16, blob, err)) << err;
  ASSERT_TRUE(tpm_.unseal(span(blob), kPcr16, out, why, err)) << err;
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret);
}

TEST_F(HostTpmTest, SealRefusesBadArguments) {
  SrkInfo srk;
  ensure_srk(srk);
  std::string err;
  std::vector<uint8_t> blob;
  EXPECT_FALSE(tpm_.seal(Bytes(), kPcr16, blob, err));
  EXPECT_NE(err.find("1..128 bytes, not 0"), std::string::npos) << err;
  const std::vector<uint8_t> too_big = pattern(129, 3);
  EXPECT_FALSE(tpm_.seal(span(too_big), kPcr16, blob, err));
  EXPECT_NE(err.find("not 129"), std::string::npos) << err;
  const std::vector<uint8_t> secret = pattern(16, 3);
  EXPECT_FALSE(tpm_.seal(span(secret), 1u << 24, blob, err));
  EXPECT_NE(err.find("above 23"), std::string::npos) << err;
  EXPECT_TRUE(blob.empty());
}

TEST_F(HostTpmTest, DamagedBlobsFailCleanlyAndLeakNoHandles) {
  SrkInfo srk;
  ensure_srk(srk);
  std::string err;
  const std::vector<uint8_t> secret = pattern(32, 5);
  std::vector<uint8_t> blob;
  ASSERT_TRUE(tpm_.seal(span(secret), kPcr16, blob, err)) << err;
  SecretBytes out;
  TpmError why = TpmError::None;

  for (size_t len : {size_t{0}, size_t{1}, size_t{2}, blob.size() / 2, blob.size() - 1}) {
    std::vector<uint8_t> cut(blob.begin(), blob.begin() + len);
    EXPECT_FALSE(tpm_.unseal(span(cut), kPcr16, out, why, err)) << len;
    EXPECT_EQ(why, TpmError::BadBlob) << len << ": " << err;
  }
  std::vector<uint8_t> longer = blob;
  longer.push_back(0);
  EXPECT_FALSE(tpm_.unseal(span(longer), kPcr16, out, why, err));
  EXPECT_EQ(why, TpmError::BadBlob);
  EXPECT_NE(err.find("1 trailing bytes"), std::string::npos) << err;

  // The TPM2B_PRIVATE is be16 size || integrity HMAC (be16 32 || 32 bytes) || encrypted
  // sensitive; flipping a bit of the HMAC or of the ciphertext fails the TPM's integrity check.
  // Five times each (more than swtpm's 3 transient object slots): a leaked handle would show.
  for (size_t at : {size_t{10}, size_t{60}}) {
    std::vector<uint8_t> flipped = blob;
    flipped[at] ^= 0x01;
    for (int i = 0; i < 5; ++i) {
      EXPECT_FALSE(tpm_.unseal(span(flipped), kPcr16, out, why, err));
      EXPECT_EQ(why, TpmError::WrongTpm) << at << ": " << err;
      EXPECT_NE(err.find("TPM2_Load"), std::string::npos) << err;
    }
  }
  // The last byte is the end of the public's authPolicy: the object's name no longer matches.
  std::vector<uint8_t> flipped = blob;
  flipped[blob.size() - 1] ^= 0x80;
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(tpm_.unseal(span(flipped), kPcr16, out, why, err));
    EXPECT_EQ(why, TpmError::WrongTpm) << err;
  }
  EXPECT_EQ(out.size(), 0u);
  for (int i = 0; i < 5; ++i) {  // policy failures flush too
    EXPECT_FALSE(tpm_.unseal(span(blob), 1u << 17, out, why, err));
    EXPECT_EQ(why, TpmError::PolicyFailed) << err;
  }
  ASSERT_TRUE(tpm_.unseal(span(blob), kPcr16, out, why, err)) << err;
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret);
}

TEST_F(HostTpmTest, BlobOfAnotherTpmDoesNotLoad) {
  SrkInfo srk;
  ensure_srk(srk);
  std::string err;
  const std::vector<uint8_t> secret = pattern(32, 11);
  std::vector<uint8_t> blob;
  ASSERT_TRUE(tpm_.seal(span(secret), kPcr16, blob, err)) << err;

  Swtpm other;
  std::string why_start;
  ASSERT_TRUE(other.start(why_start)) << why_start;
  HostTpm tpm2;
  ASSERT_TRUE(tpm2.open(other.tcti(), err)) << err;
  SecretBytes out;
  TpmError why = TpmError::None;
  EXPECT_FALSE(tpm2.unseal(span(blob), kPcr16, out, why, err));  // no SRK there yet
  EXPECT_EQ(why, TpmError::Other);
  EXPECT_NE(err.find("no SRK at 0x81000001"), std::string::npos) << err;
  SrkInfo srk2;
  ASSERT_TRUE(tpm2.ensure_srk(srk2, err)) << err;
  EXPECT_TRUE(srk2.created);
  EXPECT_NE(srk2.name, srk.name);  // another TPM, other seeds, another SRK

  EXPECT_FALSE(tpm2.unseal(span(blob), kPcr16, out, why, err));
  EXPECT_EQ(why, TpmError::WrongTpm) << err;
  EXPECT_EQ(out.size(), 0u);
  tpm2.close();
  other.stop();

  ASSERT_TRUE(tpm_.unseal(span(blob), kPcr16, out, why, err)) << err;  // still fine at home
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret);
}

TEST_F(HostTpmTest, ANonStorageKeyAtTheSrkHandleIsRefused) {
  tpm_.close();
  std::string why;
  ASSERT_TRUE(persist_signing_key_at_srk_handle(swtpm_.tcti(), why)) << why;
  std::string err;
  ASSERT_TRUE(tpm_.open(swtpm_.tcti(), err)) << err;
  SrkInfo info;
  EXPECT_FALSE(tpm_.ensure_srk(info, err));
  EXPECT_NE(err.find("is not a storage key"), std::string::npos) << err;
  std::vector<uint8_t> name;
  EXPECT_FALSE(tpm_.srk_name(name, err));
  EXPECT_NE(err.find("is not a storage key"), std::string::npos) << err;
  const std::vector<uint8_t> secret = pattern(8, 1);
  std::vector<uint8_t> blob;
  EXPECT_FALSE(tpm_.seal(span(secret), kPcr16, blob, err));
  EXPECT_NE(err.find("is not a storage key"), std::string::npos) << err;
  EXPECT_TRUE(blob.empty());
}

TEST_F(HostTpmTest, CounterDefineReadIncrementAndWrongAuth) {
  SrkInfo srk;
  ensure_srk(srk);
  std::string err;
  const std::vector<uint8_t> auth = pattern(32, 21);
  const std::vector<uint8_t> wrong = pattern(32, 22);
  uint32_t index = 0;
  ASSERT_TRUE(tpm_.define_counter(span(auth), index, err)) << err;
  EXPECT_EQ(index, HostTpm::kFirstCounterIndex);

  uint64_t v = 0;
  ASSERT_TRUE(tpm_.read_counter(index, Bytes(), v, err)) << err;  // owner read
  uint64_t with_auth = ~0ull;
  ASSERT_TRUE(tpm_.read_counter(index, span(auth), with_auth, err)) << err;
  EXPECT_EQ(with_auth, v);

  ASSERT_TRUE(tpm_.increment_counter(index, span(auth), err)) << err;
  uint64_t v1 = 0;
  ASSERT_TRUE(tpm_.read_counter(index, span(auth), v1, err)) << err;
  EXPECT_EQ(v1, v + 1);

  EXPECT_FALSE(tpm_.increment_counter(index, span(wrong), err));
  EXPECT_NE(err.find("TPM2_NV_Increment of NV index 0x01500100 failed"), std::string::npos)
      << err;
  uint64_t after_wrong = 0;
  EXPECT_FALSE(tpm_.read_counter(index, span(wrong), after_wrong, err));
  EXPECT_NE(err.find("TPM2_NV_Read"), std::string::npos) << err;
  ASSERT_TRUE(tpm_.read_counter(index, Bytes(), after_wrong, err)) << err;
  EXPECT_EQ(after_wrong, v + 1);  // the refused increment did not count

  // Survives a reconnect; a second counter takes the next free index.
  tpm_.close();
  ASSERT_TRUE(tpm_.open(swtpm_.tcti(), err)) << err;
  ASSERT_TRUE(tpm_.increment_counter(index, span(auth), err)) << err;
  ASSERT_TRUE(tpm_.read_counter(index, Bytes(), v1, err)) << err;
  EXPECT_EQ(v1, v + 2);
  uint32_t second = 0;
  ASSERT_TRUE(tpm_.define_counter(span(wrong), second, err)) << err;
  EXPECT_EQ(second, HostTpm::kFirstCounterIndex + 1);

  EXPECT_FALSE(tpm_.define_counter(Bytes(auth.data(), 31), second, err));
  EXPECT_NE(err.find("32 bytes, not 31"), std::string::npos) << err;
  EXPECT_FALSE(tpm_.read_counter(0x01500180, Bytes(), v1, err));  // never defined
  EXPECT_NE(err.find("0x01500180"), std::string::npos) << err;
}

TEST(HostTpmNoServer, OpenOnAClosedPortFailsNamingTheTcti) {
  ASSERT_EQ(::access(kSwtpm, X_OK), 0) << "swtpm is required at /usr/bin/swtpm";
  uint16_t p = free_port();
  ASSERT_NE(p, 0);
  const std::string tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(p);
  HostTpm tpm;
  std::string err;
  EXPECT_FALSE(tpm.open(tcti, err));
  EXPECT_FALSE(tpm.is_open());
  EXPECT_NE(err.find("\"" + tcti + "\""), std::string::npos) << err;
  EXPECT_NE(err.find("failed: "), std::string::npos) << err;

  SrkInfo info;
  EXPECT_FALSE(tpm.ensure_srk(info, err));
  EXPECT_EQ(err, "the host TPM is not open");
  EXPECT_FALSE(tpm.open("no-such-tcti-driver", err));
  EXPECT_NE(err.find("no-such-tcti-driver"), std::string::npos) << err;
}

}  // namespace
}  // namespace vtpm::manager
