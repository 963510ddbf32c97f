// ManagerCore's groups (issue 8 "Key hierarchy"): approvals signed offline, PolicyAuthorize by the
// group's key, revocation, and bad approvals at every length, against Debian's swtpm
// (core_test_support.h). Without /usr/bin/swtpm every test fails.
#include "manager/core_test_support.h"

// ---- groups: approvals signed offline, PolicyAuthorize by the group's key ------------------

namespace vtpm::manager {
namespace {

using namespace core_testing;  // core_test_support.h

constexpr uint32_t kPcr16 = 1u << 16;

std::vector<uint8_t> msg_approval_request(const std::string& group, uint64_t seq, uint32_t mask) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::ApprovalRequest;
    r.group = group;
    r.seq = seq;
    r.pcr_mask = mask;
  });
}

// What the offline signer does with approval-request's answer: sign TBS, append the signature.
std::vector<uint8_t> signed_approval(const std::vector<uint8_t>& request, const testing::Signer& s) {
  std::vector<uint8_t> padded = request;
  padded.resize(padded.size() + 8, 0);
  Approval a;
  std::string err;
  EXPECT_EQ(parse_approval(padded.data(), padded.size(), a, err), ApprovalError::None) << err;
  std::vector<uint8_t> tbs;
  approval_tbs(a, tbs);
  std::vector<uint8_t> file = request;
  const std::vector<uint8_t> sig = s.sign(tbs);
  file.insert(file.end(), sig.begin(), sig.end());
  return file;
}

class GroupCoreTest : public CoreTest {
 protected:
  std::vector<uint8_t> request(const std::string& g, uint64_t seq) {
    const Answer a = call(kAdmin, msg_approval_request(g, seq, kPcr16));
    EXPECT_EQ(a.status, Status::Success) << status_str(a.status);
    return a.approval;
  }
  Status approve(const std::string& g, const std::vector<uint8_t>& file) {
    return call(kAdmin, msg_group_approve(g, file)).status;
  }
  // The manager stops, PCR 16 moves, the manager starts again (its root key is on PCR 7).
  void host_update() {
    down();
    ASSERT_TRUE(testing::pcr16(swtpm_.tcti(), false));
    boot_ok();
  }
  bool logged(const std::string& text) const {
    for (const std::string& l : log_)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  testing::Signer signer_{false};
};

TEST_F(GroupCoreTest, GroupInstanceKeyIsReleasedOnlyUnderAnApprovalOfThePcrsNow) {
  boot_ok();
  const std::vector<uint8_t> pem(signer_.pem.begin(), signer_.pem.end());
  ASSERT_EQ(call(kAdmin, msg_group_create("web", pem)).status, Status::Success);
  const Uuid u = uuid_of(0x31);
  // No approval yet: the group's secret stays sealed, no record is made.
  Stored before = stored();
  EXPECT_EQ(call(kAdmin, encoded([&](Request& r) {
              r.ordinal = Ordinal::Create;
              r.uuid = u;
              r.group = "web";
            })).status,
            Status::NoApproval);
  EXPECT_EQ(stored(), before);
  EXPECT_TRUE(logged("no signed approval is stored"));

  ASSERT_EQ(approve("web", signed_approval(request("web", 1), signer_)), Status::Success);
  ASSERT_EQ(call(kAdmin, encoded([&](Request& r) {
              r.ordinal = Ordinal::Create;
              r.uuid = u;
              r.group = "web";
            })).status,
            Status::Success);
  const Answer first = call(instance(1), msg_open(u, false, "web"));
  ASSERT_EQ(first.status, Status::Success);
  ASSERT_EQ(first.key.size(), kKeyBytes);
  boot_ok();  // a restart: the same key under the same approval
  EXPECT_EQ(call(instance(2), msg_open(u, false)).key, first.key);

  host_update();  // PCR 16 changed: approval 1 no longer fits, start refused
  EXPECT_EQ(call(instance(3), msg_open(u, false)).status, Status::NoApproval);
  EXPECT_TRUE(logged("no stored approval matches the PCRs now"));

  const std::vector<uint8_t> old_file = signed_approval(request("web", 1), signer_);
  const std::vector<uint8_t> second = signed_approval(request("web", 2), signer_);
  ASSERT_EQ(approve("web", second), Status::Success);  // a new approval, no re-seal
  const Answer again = call(instance(4), msg_open(u, false));
  ASSERT_EQ(again.status, Status::Success);
  EXPECT_EQ(again.key, first.key);

  // Stale: the same sequence again, or an older one (even one signed for the PCRs now).
  before = stored();
  EXPECT_EQ(approve("web", second), Status::Stale);
  EXPECT_EQ(approve("web", old_file), Status::Stale);
  EXPECT_EQ(stored(), before);
}

TEST_F(GroupCoreTest, RevokedApprovalReplayBadSignatureAndOtherGroupsAreRefusedNothingChanges) {
  boot_ok();
  const std::vector<uint8_t> pem(signer_.pem.begin(), signer_.pem.end());
  ASSERT_EQ(call(kAdmin, msg_group_create("web", pem)).status, Status::Success);
  ASSERT_EQ(call(kAdmin, msg_group_create("db", signer_.der())).status, Status::Success);
  const std::vector<uint8_t> a1 = signed_approval(request("web", 1), signer_);
  const std::vector<uint8_t> a2 = signed_approval(request("web", 2), signer_);
  ASSERT_EQ(approve("web", a2), Status::Success);
  const Stored before = stored();
  EXPECT_EQ(approve("web", a1), Status::Stale);  // revoked by approval 2

  std::vector<uint8_t> bad = signed_approval(request("web", 3), signer_);
  bad.back() ^= 0x01;
  EXPECT_EQ(approve("web", bad), Status::BadApproval);
  testing::Signer stranger(false);
  EXPECT_EQ(approve("web", signed_approval(request("web", 3), stranger)), Status::BadApproval);
  const std::vector<uint8_t> for_db = signed_approval(request("db", 5), signer_);
  EXPECT_EQ(approve("web", for_db), Status::Foreign);  // same key, another group
  EXPECT_EQ(approve("nope", for_db), Status::NoSuchGroup);
  // An approval whose approvedPolicy does not match its own fields (signed as it is).
  std::vector<uint8_t> req = request("web", 3);
  req[req.size() - 1] ^= 0x40;  // the last byte of approved_policy
  EXPECT_EQ(approve("web", signed_approval(req, signer_)), Status::BadApproval);
  EXPECT_EQ(call(instance(1), msg_approval_request("web", 3, kPcr16)).status, Status::NotAdmin);
  EXPECT_EQ(call(instance(1), msg_group_approve("web", a2)).status, Status::NotAdmin);

  // Truncated at every length, and oversized, from a valid approval 3.
  const std::vector<uint8_t> good = signed_approval(request("web", 3), signer_);
  for (size_t n = 0; n < good.size(); ++n) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_NE(approve("web", cut), Status::Success) << n;
  }
  for (size_t extra : {size_t{1}, size_t{7}, kApprovalMaxBytes - good.size() + 1, size_t{2000}}) {
    std::vector<uint8_t> big = good;
    big.resize(good.size() + extra, 0x5a);
    EXPECT_NE(approve("web", big), Status::Success) << extra;
  }
  EXPECT_EQ(stored(), before);
  ASSERT_EQ(approve("web", good), Status::Success);  // the untouched one still goes in
}

}  // namespace
}  // namespace vtpm::manager
