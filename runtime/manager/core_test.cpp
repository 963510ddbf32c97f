// ManagerCore against a real TPM (Debian's swtpm 0.7.1, tpm_test_support.h), driven only through
// its public API with messages the codec encodes and answers the codec parses: provisioning and
// restart, generations, requests for another instance's UUID, malformed messages at every field,
// a crash at every write point, a replaced SRK, a counter/records mismatch, a damaged header
// (issue 8 "Bad input and faults"). Without /usr/bin/swtpm every test fails.
#include "manager/core.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "manager/approval.h"
#include "manager/approval_test_support.h"
#include "manager/tpm_test_support.h"
#include "store/openssl_crypto.h"
#include "store/store_test_support.h"

namespace vtpm::manager {
namespace {

using store::testing::read_path;
using store::testing::TempDir;
using store::testing::write_path;
using testing::Swtpm;

constexpr int64_t kNow = 1000;

Uuid uuid_of(uint8_t n) {
  Uuid u;
  u.fill(n);
  return u;
}
Digest digest_of(uint8_t n) {
  Digest d;
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(n * 3 + i);
  return d;
}

uint32_t be32_at(const std::vector<uint8_t>& m, size_t at) {
  return (uint32_t{m[at]} << 24) | (uint32_t{m[at + 1]} << 16) | (uint32_t{m[at + 2]} << 8) | m[at + 3];
}
void put_be32_at(std::vector<uint8_t>& m, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) m[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// ---- requests, through the codec ----------------------------------------------------------

std::vector<uint8_t> encoded(const std::function<void(Request&)>& fill) {
  Request r;
  fill(r);
  std::vector<uint8_t> out;
  EXPECT_TRUE(encode_request(r, out)) << ordinal_name(static_cast<uint32_t>(r.ordinal));
  return out;
}
std::vector<uint8_t> msg_open(const Uuid& u, bool create, const std::string& group = "") {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::Open;
    r.uuid = u;
    r.flags = create ? kOpenCreate : 0;
    r.group = group;
  });
}
std::vector<uint8_t> msg_prepare(uint64_t gen, const Digest& d) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::Prepare;
    r.generation = gen;
    r.digest = d;
  });
}
std::vector<uint8_t> msg_commit(uint64_t gen) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::Commit;
    r.generation = gen;
  });
}
std::vector<uint8_t> msg_plain(Ordinal o) {
  return encoded([&](Request& r) { r.ordinal = o; });
}
std::vector<uint8_t> msg_uuid(Ordinal o, const Uuid& u) {
  return encoded([&](Request& r) {
    r.ordinal = o;
    r.uuid = u;
  });
}
std::vector<uint8_t> msg_save(size_t n) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::SaveHashKey;
    std::vector<uint8_t> blob(n);
    for (size_t i = 0; i < n; ++i) blob[i] = static_cast<uint8_t>(0x40 + i);
    r.xen_blob.assign(blob.data(), blob.size());
  });
}
std::vector<uint8_t> msg_group_create(const std::string& name, std::vector<uint8_t> spki) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::GroupCreate;
    r.group = name;
    r.spki = std::move(spki);
  });
}
std::vector<uint8_t> msg_group_approve(const std::string& name, std::vector<uint8_t> approval) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::GroupApprove;
    r.group = name;
    r.approval = std::move(approval);
  });
}

// What an answer said (Response holds secrets and does not copy).
struct Answer {
  bool parsed = false;
  std::string parse_text;
  Status status = Status::NotServing;
  uint64_t generation = 0, prepared_generation = 0;
  Digest digest{}, prepared_digest{};
  std::vector<uint8_t> key;
  std::vector<uint8_t> recovery;
  std::vector<uint8_t> approval;  // ApprovalRequest: the unsigned approval
  uint32_t state = 0, records = 0;
  uint64_t counter = 0, soft_seq = 0;
  std::vector<uint8_t> srk_name;
  std::vector<std::string> entries;  // List: "uuid state generation group"
};

std::string status_str(Status s) { return status_name(static_cast<uint32_t>(s)); }

Answer send(ManagerCore& core, const PeerId& peer, const std::vector<uint8_t>& msg) {
  std::vector<uint8_t> reply;
  core.handle(peer, msg.data(), msg.size(), reply, kNow);
  Ordinal o = Ordinal::Status;
  if (msg.size() >= kHeaderBytes && ordinal_known(be32_at(msg, 6))) o = static_cast<Ordinal>(be32_at(msg, 6));
  Response rsp;
  const ParseResult pr = parse_response(o, reply.data(), reply.size(), rsp);
  Answer a;
  a.parsed = pr.ok;
  a.parse_text = pr.text;
  if (!pr.ok) return a;
  a.status = rsp.status;
  a.generation = rsp.generation;
  a.prepared_generation = rsp.prepared_generation;
  a.digest = rsp.digest;
  a.prepared_digest = rsp.prepared_digest;
  a.key.assign(rsp.key.data(), rsp.key.data() + rsp.key.size());
  a.recovery.assign(rsp.recovery.data(), rsp.recovery.data() + rsp.recovery.size());
  a.approval = rsp.approval;
  a.state = rsp.state;
  a.records = rsp.records;
  a.counter = rsp.counter;
  a.soft_seq = rsp.soft_seq;
  a.srk_name = rsp.srk_name;
  for (const ListEntry& e : rsp.entries)
    a.entries.push_back(uuid_text(e.uuid) + " " + std::to_string(e.state) + " " + std::to_string(e.generation) + " " + e.group);
  return a;
}

const PeerId kAdmin{900, 0, true};
PeerId instance(uint64_t connection, uint32_t uid = 1000) { return PeerId{connection, uid, false}; }

// Fault injection: counts the write points it sees while armed and answers false at the k-th and
// every one after it (a crashed process writes nothing more). k = 0: never.
class FaultAt final : public WritePoints {
 public:
  bool reached(const char* point) override {
    if (!armed) return true;
    ++count;
    points.push_back(point);
    return fail_at == 0 || count < fail_at;
  }
  void arm(size_t k) {
    armed = true;
    fail_at = k;
    count = 0;
    points.clear();
  }
  bool armed = false;
  size_t fail_at = 0;
  size_t count = 0;
  std::vector<std::string> points;
};

// What the manager keeps on disk plus what List and Status say about it.
struct Stored {
  std::vector<uint8_t> header, a, b;
  std::vector<std::string> list;
  uint64_t counter = 0, soft_seq = 0;
  bool operator==(const Stored&) const = default;
};

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(swtpm_.start(why)) << why;
    use_dir(std::make_unique<TempDir>());
  }
  void TearDown() override {
    down();
    if (dir_fd_ >= 0) ::close(dir_fd_);
    swtpm_.stop();
  }
  void use_dir(std::unique_ptr<TempDir> d) {
    down();
    if (dir_fd_ >= 0) ::close(dir_fd_);
    dir_ = std::move(d);
    ASSERT_FALSE(dir_->path().empty());
    dir_fd_ = ::open(dir_->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir_fd_, 0);
  }
  // A manager process start: a new HostTpm connection and a new ManagerCore on the directory.
  bool boot(std::string& err, WritePoints* points = nullptr) { return boot_on(swtpm_, err, points); }
  bool boot_on(Swtpm& tpm, std::string& err, WritePoints* points = nullptr) {
    down();
    if (!tpm_.open(tpm.tcti(), err)) {
      ADD_FAILURE() << err;
      return false;
    }
    CoreConfig cfg;
    cfg.dir_fd = dir_fd_;
    cfg.dir_path = dir_->path();
    core_ = std::make_unique<ManagerCore>(cfg, tpm_, crypto_, [this](int, const std::string& l) { log_.push_back(l); }, points);
    if (!recovery_.empty()) core_->set_recovery_key(recovery_);
    return core_->start(kNow, err);
  }
  void boot_ok() {
    std::string err;
    ASSERT_TRUE(boot(err)) << err;
    ASSERT_EQ(core_->state(), mgr::State::Serving);
  }
  store::SecretKey recovery_;  // --recover for the next boots (empty = none)
  // The process is gone (a crash or a stop without the clean-stop commit).
  void down() {
    core_.reset();
    tpm_.close();
  }
  Answer call(const PeerId& p, const std::vector<uint8_t>& m) {
    Answer a = send(*core_, p, m);
    EXPECT_TRUE(a.parsed) << a.parse_text;
    return a;
  }
  std::vector<uint8_t> file(const char* name) {
    const std::string path = dir_->file(name);
    return std::filesystem::exists(path) ? read_path(path) : std::vector<uint8_t>{};
  }
  Stored stored() {
    Stored s;
    s.header = file(kHeaderFile);
    s.a = file(kSlotFiles[0]);
    s.b = file(kSlotFiles[1]);
    const Answer l = call(kAdmin, msg_plain(Ordinal::List));
    EXPECT_EQ(l.status, Status::Success);
    s.list = l.entries;
    const Answer st = call(kAdmin, msg_plain(Ordinal::Status));
    EXPECT_EQ(st.status, Status::Success);
    s.counter = st.counter;
    s.soft_seq = st.soft_seq;
    return s;
  }
  void expect_failed_closed() {
    ASSERT_NE(core_, nullptr);
    EXPECT_EQ(core_->state(), mgr::State::FailedClosed);
    const Answer st = call(kAdmin, msg_plain(Ordinal::Status));
    EXPECT_EQ(st.status, Status::Success);
    EXPECT_EQ(st.state, static_cast<uint32_t>(mgr::State::FailedClosed));
    EXPECT_EQ(call(instance(77), msg_open(uuid_of(0x77), true)).status, Status::FailedClosed);
    EXPECT_EQ(call(kAdmin, msg_plain(Ordinal::List)).status, Status::FailedClosed);
  }

  Swtpm swtpm_;
  std::unique_ptr<TempDir> dir_;
  int dir_fd_ = -1;
  store::OpensslCrypto crypto_;
  HostTpm tpm_;
  std::unique_ptr<ManagerCore> core_;
  std::vector<std::string> log_;
};

// ---- 1, 2: provisioning, restart, generations ---------------------------------------------

TEST_F(CoreTest, ProvisionsAnEmptyDirThenEveryRestartUnsealsServesAndMovesTheCounter) {
  boot_ok();
  EXPECT_FALSE(file(kHeaderFile).empty());
  EXPECT_FALSE(file(kSlotFiles[0]).empty());
  Answer st = call(instance(1), msg_plain(Ordinal::Status));
  ASSERT_EQ(st.status, Status::Success);
  EXPECT_EQ(st.state, static_cast<uint32_t>(mgr::State::Serving));
  EXPECT_EQ(st.counter, core_->counter());
  EXPECT_EQ(st.records, 0u);
  EXPECT_EQ(st.srk_name.size(), 34u);  // be16 SHA-256 || digest
  const std::vector<uint8_t> srk = st.srk_name;
  const Answer created = call(instance(1), msg_open(uuid_of(1), true));
  ASSERT_EQ(created.status, Status::Success);
  ASSERT_EQ(created.key.size(), kKeyBytes);

  uint64_t last = core_->counter();
  for (int restart = 0; restart < 3; ++restart) {
    boot_ok();
    EXPECT_GT(core_->counter(), last) << restart;
    last = core_->counter();
    st = call(instance(1), msg_plain(Ordinal::Status));
    EXPECT_EQ(st.counter, last);
    EXPECT_EQ(st.records, 1u);
    EXPECT_EQ(st.srk_name, srk);
    const Answer again = call(instance(1), msg_open(uuid_of(1), false));
    ASSERT_EQ(again.status, Status::Success) << status_str(again.status);
    EXPECT_EQ(again.key, created.key);
  }
}

// Back-to-back writes: the instance announces N+1 only once N is on its disk, so the Prepare of
// N+1 commits N without a Commit in between (the instance sends its Commit when idle).
TEST_F(CoreTest, APrepareBeyondThePreparedGenerationCommitsIt) {
  boot_ok();
  const PeerId me = instance(1);
  ASSERT_EQ(call(me, msg_open(uuid_of(3), true)).status, Status::Success);
  ASSERT_EQ(call(me, msg_prepare(1, digest_of(1))).status, Status::Success);
  ASSERT_EQ(call(me, msg_prepare(2, digest_of(2))).status, Status::Success);
  ASSERT_EQ(call(me, msg_prepare(2, digest_of(7))).status, Status::Success);  // a retried write: no commit
  boot_ok();
  Answer r = call(me, msg_open(uuid_of(3), false));
  ASSERT_EQ(r.status, Status::Success);
  EXPECT_EQ(r.generation, 1u);
  EXPECT_EQ(r.digest, digest_of(1));
  EXPECT_EQ(r.prepared_generation, 2u);
  EXPECT_EQ(r.prepared_digest, digest_of(7));
  ASSERT_EQ(call(me, msg_commit(2)).status, Status::Success);
  boot_ok();
  r = call(me, msg_open(uuid_of(3), false));
  EXPECT_EQ(r.generation, 2u);
  EXPECT_EQ(r.digest, digest_of(7));
  EXPECT_EQ(r.prepared_generation, 0u);
}

// PCRs will change: the root key sealed to PCR 7 no longer unseals after an extend; the offline
// recovery key (ExportRecovery, admin only) brings it back and seals it to the new value; a
// wrong recovery key changes nothing.
TEST_F(CoreTest, TheOfflineRecoveryKeyResealsAfterThePcrsChanged) {
  boot_ok();
  const PeerId me = instance(1);
  const Answer o = call(me, msg_open(uuid_of(5), true));
  ASSERT_EQ(o.status, Status::Success);
  EXPECT_EQ(call(me, msg_plain(Ordinal::ExportRecovery)).status, Status::NotAdmin);
  const Answer r = call(kAdmin, msg_plain(Ordinal::ExportRecovery));
  ASSERT_EQ(r.status, Status::Success);
  ASSERT_EQ(r.recovery.size(), 32u);
  EXPECT_NE(r.recovery, o.key);
  down();

  const std::string extend = "TPM2TOOLS_TCTI='" + swtpm_.tcti() +
                             "' tpm2_pcrextend 7:sha256=" + std::string(64, 'a') + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(extend.c_str()), 0) << "tpm2_pcrextend (tpm2-tools) is needed";
  std::string err;
  EXPECT_FALSE(boot(err));
  EXPECT_EQ(core_->state(), mgr::State::FailedClosed);
  EXPECT_NE(err.find("PCRs changed"), std::string::npos) << err;
  EXPECT_NE(err.find("--recover"), std::string::npos) << err;

  const std::vector<uint8_t> header_before = file("header");
  std::vector<uint8_t> wrong = r.recovery;
  wrong[0] ^= 1;
  recovery_.assign(wrong.data(), wrong.size());
  EXPECT_FALSE(boot(err));
  EXPECT_NE(err.find("does not open the recovery file"), std::string::npos) << err;
  EXPECT_EQ(file("header"), header_before) << "a wrong recovery key changed the header";

  recovery_.assign(r.recovery.data(), r.recovery.size());
  ASSERT_TRUE(boot(err)) << err;
  EXPECT_NE(file("header"), header_before) << "not sealed again";
  Answer back = call(me, msg_open(uuid_of(5), false));
  ASSERT_EQ(back.status, Status::Success);
  EXPECT_EQ(back.key, o.key);

  recovery_.clear();  // sealed to the new PCR 7: no recovery key needed any more
  ASSERT_TRUE(boot(err)) << err;
  back = call(me, msg_open(uuid_of(5), false));
  EXPECT_EQ(back.key, o.key);
}

TEST_F(CoreTest, GenerationsCommitDurablyAndStaleOnesChangeNothing) {
  boot_ok();
  const PeerId me = instance(1);
  const Answer o = call(me, msg_open(uuid_of(2), true));
  ASSERT_EQ(o.status, Status::Success);
  EXPECT_EQ(o.generation, 0u);
  EXPECT_EQ(o.prepared_generation, 0u);
  ASSERT_EQ(o.key.size(), kKeyBytes);
  EXPECT_NE(o.key, std::vector<uint8_t>(kKeyBytes, 0));
  ASSERT_EQ(call(me, msg_prepare(1, digest_of(1))).status, Status::Success);
  ASSERT_EQ(call(me, msg_commit(1)).status, Status::Success);

  boot_ok();
  Answer r = call(me, msg_open(uuid_of(2), false));
  ASSERT_EQ(r.status, Status::Success);
  EXPECT_EQ(r.generation, 1u);
  EXPECT_EQ(r.digest, digest_of(1));
  EXPECT_EQ(r.prepared_generation, 0u);
  EXPECT_EQ(r.key, o.key);

  const Stored before = stored();
  struct Refused {
    const char* what;
    std::vector<uint8_t> msg;
  };
  const Refused stale[] = {
      {"Prepare of the committed generation", msg_prepare(1, digest_of(9))},
      {"Prepare of an older generation", msg_prepare(0, digest_of(9))},
      {"Commit of an unprepared generation", msg_commit(2)},
      {"Commit of the committed generation", msg_commit(1)},
  };
  for (const Refused& s : stale) {
    EXPECT_EQ(call(me, s.msg).status, Status::Stale) << s.what;
    EXPECT_EQ(stored(), before) << s.what;
  }

  // A prepared generation survives a restart; only it commits.
  ASSERT_EQ(call(me, msg_prepare(3, digest_of(3))).status, Status::Success);
  boot_ok();
  r = call(me, msg_open(uuid_of(2), false));
  ASSERT_EQ(r.status, Status::Success);
  EXPECT_EQ(r.generation, 1u);
  EXPECT_EQ(r.digest, digest_of(1));
  EXPECT_EQ(r.prepared_generation, 3u);
  EXPECT_EQ(r.prepared_digest, digest_of(3));
  EXPECT_EQ(call(me, msg_commit(2)).status, Status::Stale);
  ASSERT_EQ(call(me, msg_commit(3)).status, Status::Success);
  boot_ok();
  r = call(me, msg_open(uuid_of(2), false));
  EXPECT_EQ(r.generation, 3u);
  EXPECT_EQ(r.digest, digest_of(3));
  EXPECT_EQ(r.prepared_generation, 0u);
  EXPECT_EQ(r.key, o.key);
}

// ---- 3: requests for another instance's UUID, and vtpmctl's requests ------------------------

TEST_F(CoreTest, RequestsForAnotherInstanceAreRefusedAndChangeNothing) {
  boot_ok();
  const Uuid mine = uuid_of(3), unclaimed = uuid_of(4), unknown = uuid_of(5);
  ASSERT_EQ(call(instance(1), msg_open(mine, true)).status, Status::Success);
  ASSERT_EQ(call(kAdmin, msg_uuid(Ordinal::Create, unclaimed)).status, Status::Success);

  struct Case {
    const char* what;
    PeerId peer;
    std::vector<uint8_t> msg;
    Status want;
  };
  const Case cases[] = {
      {"Open of a UUID bound by another connection", instance(2), msg_open(mine, false), Status::Busy},
      {"Open with create of a UUID bound elsewhere", instance(2), msg_open(mine, true), Status::Busy},
      {"Open from another uid", instance(3, 1001), msg_open(mine, false), Status::NotOwner},
      {"Prepare without Open", instance(4), msg_prepare(1, digest_of(1)), Status::NotBound},
      {"Commit without Open", instance(4), msg_commit(1), Status::NotBound},
      {"SaveHashKey without Open", instance(4), msg_save(52), Status::NotBound},
      {"LoadHashKey without Open", instance(4), msg_plain(Ordinal::LoadHashKey), Status::NotBound},
      {"unknown UUID without the create flag", instance(4), msg_open(unknown, false), Status::Foreign},
      {"Open of another group than the record's", instance(1), msg_open(mine, false, "g-none"), Status::Foreign},
      {"create in a group that does not exist", instance(4), msg_open(unknown, true, "g-none"), Status::NoSuchGroup},
      {"non-admin List", instance(1), msg_plain(Ordinal::List), Status::NotAdmin},
      {"non-admin Create", instance(1), msg_uuid(Ordinal::Create, unknown), Status::NotAdmin},
      {"non-admin Delete", instance(1), msg_uuid(Ordinal::Delete, mine), Status::NotAdmin},
      {"non-admin GroupCreate", instance(1), msg_group_create("g", {0x30, 0x00}), Status::NotAdmin},
      {"Create of an existing UUID", kAdmin, msg_uuid(Ordinal::Create, mine), Status::Exists},
      {"Delete of an unknown UUID", kAdmin, msg_uuid(Ordinal::Delete, unknown), Status::UnknownInstance},
      {"Delete of a UUID bound by an instance", kAdmin, msg_uuid(Ordinal::Delete, mine), Status::Busy},
  };
  const Stored before = stored();
  for (const Case& c : cases) {
    const Answer a = call(c.peer, c.msg);
    EXPECT_EQ(a.status, c.want) << c.what << ": got " << status_str(a.status);
    EXPECT_TRUE(a.key.empty()) << c.what;
    EXPECT_EQ(stored(), before) << c.what;
  }
  // The refusals left the binding of connection 1 alone.
  EXPECT_EQ(call(instance(1), msg_prepare(1, digest_of(1))).status, Status::Success);

  // vtpmctl's Create: the first uid to open it owns it (also after a restart).
  const Answer claimed = call(instance(5, 1002), msg_open(unclaimed, false));
  ASSERT_EQ(claimed.status, Status::Success);
  ASSERT_EQ(claimed.key.size(), kKeyBytes);
  core_->disconnected(5);
  EXPECT_EQ(call(instance(6, 1003), msg_open(unclaimed, false)).status, Status::NotOwner);
  boot_ok();
  EXPECT_EQ(call(instance(6, 1003), msg_open(unclaimed, false)).status, Status::NotOwner);
  const Answer again = call(instance(5, 1002), msg_open(unclaimed, false));
  ASSERT_EQ(again.status, Status::Success);
  EXPECT_EQ(again.key, claimed.key);

  // Delete, then the next Open (even with create, even by the owner) is Retired, also after a restart.
  core_->disconnected(5);
  ASSERT_EQ(call(kAdmin, msg_uuid(Ordinal::Delete, unclaimed)).status, Status::Success);
  EXPECT_EQ(call(instance(5, 1002), msg_open(unclaimed, false)).status, Status::Retired);
  EXPECT_EQ(call(instance(5, 1002), msg_open(unclaimed, true)).status, Status::Retired);
  EXPECT_EQ(call(kAdmin, msg_uuid(Ordinal::Delete, unclaimed)).status, Status::Retired);
  boot_ok();
  const Answer after = call(instance(5, 1002), msg_open(unclaimed, true));
  EXPECT_EQ(after.status, Status::Retired);
  EXPECT_TRUE(after.key.empty());
}

// ---- 4: malformed and oversized messages at every field ------------------------------------

TEST_F(CoreTest, MalformedMessagesAreRefusedTheManagerServesOnAndNothingChanges) {
  boot_ok();
  const PeerId peer{1, 0, true};  // an admin bound to a record: every ordinal would act
  const Uuid bound = uuid_of(6);
  ASSERT_EQ(call(peer, msg_open(bound, true)).status, Status::Success);
  ASSERT_EQ(call(kAdmin, msg_group_create("g1", testing::Signer(false).der())).status, Status::Success);
  ASSERT_EQ(call(peer, msg_save(64)).status, Status::Success);

  // One valid message of every ordinal, each of whose shorter prefixes (with paramSize fixed
  // up to the prefix) is invalid too: SaveHashKey at its 52-byte minimum, Open with no group.
  const std::vector<std::vector<uint8_t>> valid = {
      msg_save(52),
      msg_plain(Ordinal::LoadHashKey),
      msg_open(bound, false),
      msg_prepare(7, digest_of(7)),
      msg_commit(7),
      msg_plain(Ordinal::Status),
      msg_plain(Ordinal::List),
      encoded([&](Request& r) {
        r.ordinal = Ordinal::Create;
        r.uuid = uuid_of(8);
        r.group = "g1";
      }),
      msg_uuid(Ordinal::Delete, bound),
      msg_group_create("g2", testing::Signer(false).der()),
      msg_group_approve("g1", {1, 2, 3, 4}),
  };
  std::vector<std::pair<std::string, std::vector<uint8_t>>> bad;
  for (const std::vector<uint8_t>& m : valid) {
    Request check;
    ASSERT_TRUE(parse_request(m.data(), m.size(), check).ok);
    const std::string name = ordinal_name(be32_at(m, 6));
    const size_t len = m.size();
    for (size_t n = 0; n < len; ++n) {
      bad.emplace_back(name + " cut to " + std::to_string(n), std::vector<uint8_t>(m.begin(), m.begin() + n));
      if (n >= kHeaderBytes) {
        std::vector<uint8_t> fixed(m.begin(), m.begin() + n);
        put_be32_at(fixed, 2, static_cast<uint32_t>(n));
        bad.emplace_back(name + " cut to " + std::to_string(n) + " with paramSize " + std::to_string(n), fixed);
      }
    }
    if (be32_at(m, 6) != static_cast<uint32_t>(Ordinal::SaveHashKey) || len - kHeaderBytes == kXenBlobMax) {
      std::vector<uint8_t> longer = m;
      longer.push_back(0);
      put_be32_at(longer, 2, static_cast<uint32_t>(longer.size()));
      bad.emplace_back(name + " with one byte more", longer);
    }
    for (uint32_t size : {0u, 9u, uint32_t(len - 1), uint32_t(len + 1), 4097u, 0xffffffffu}) {
      std::vector<uint8_t> wrong = m;
      put_be32_at(wrong, 2, size);
      bad.emplace_back(name + " with paramSize " + std::to_string(size), wrong);
    }
    for (size_t at = 0; at < kHeaderBytes; ++at) {
      std::vector<uint8_t> flipped = m;
      flipped[at] ^= 0xff;
      bad.emplace_back(name + " with header byte " + std::to_string(at) + " flipped", flipped);
      if (at < 6) {  // every single bit of tag and paramSize: never a valid message
        for (int bit = 0; bit < 8; ++bit) {
          std::vector<uint8_t> one = m;
          one[at] ^= static_cast<uint8_t>(1u << bit);
          bad.emplace_back(name + " with bit " + std::to_string(bit) + " of byte " + std::to_string(at) + " flipped", one);
        }
      }
    }
  }
  std::vector<uint8_t> huge(kMaxMessageBytes + 1, 0);  // oversized, paramSize telling the truth
  huge[0] = 0x01;
  huge[1] = 0xc1;
  put_be32_at(huge, 2, static_cast<uint32_t>(huge.size()));
  put_be32_at(huge, 6, static_cast<uint32_t>(Ordinal::GroupApprove));
  bad.emplace_back("a 4097-byte GroupApprove", huge);
  std::vector<uint8_t> response = msg_plain(Ordinal::Status);
  response[1] = 0xc4;  // a response's tag on a request
  bad.emplace_back("a request with the response tag", response);

  const Stored before = stored();
  const std::vector<uint8_t> status = msg_plain(Ordinal::Status);
  for (const auto& [what, m] : bad) {
    const Answer a = send(*core_, peer, m);
    ASSERT_TRUE(a.parsed) << what << ": " << a.parse_text;
    EXPECT_NE(a.status, Status::Success) << what;
    EXPECT_TRUE(a.key.empty()) << what;
    ASSERT_EQ(send(*core_, peer, status).status, Status::Success) << "after " << what;
  }
  std::vector<uint8_t> reply;
  core_->bad_frame(reply);
  Response rsp;
  ASSERT_TRUE(parse_response(Ordinal::Status, reply.data(), reply.size(), rsp).ok);
  EXPECT_EQ(rsp.status, Status::Malformed);
  EXPECT_EQ(stored(), before);
  EXPECT_EQ(core_->state(), mgr::State::Serving);
  // The binding survived: the same connection's valid Commit path still works.
  EXPECT_EQ(call(peer, msg_prepare(7, digest_of(7))).status, Status::Success);
  EXPECT_EQ(call(peer, msg_commit(7)).status, Status::Success);
}

// ---- 5: a crash at every write point --------------------------------------------------------

// What the test knows was acknowledged, per UUID, checked after each clean restart.
struct Known {
  uint64_t generation = 0, prepared = 0;
  Digest digest{}, prepared_digest{};
  std::vector<uint8_t> key;
  bool retired = false;
};

class CoreFaults : public CoreTest {
 protected:
  // Every acknowledged record is there as acknowledged (Open answers, List's count).
  void expect_known() {
    uint64_t conn = 500;
    for (const auto& [id, k] : known_) {
      const Answer a = call(instance(++conn), msg_open(uuid_of(id), false));
      if (k.retired) {
        EXPECT_EQ(a.status, Status::Retired) << int(id);
        continue;
      }
      ASSERT_EQ(a.status, Status::Success) << int(id) << ": " << status_str(a.status);
      EXPECT_EQ(a.key, k.key) << int(id);
      EXPECT_EQ(a.generation, k.generation) << int(id);
      EXPECT_EQ(a.digest, k.digest) << int(id);
      EXPECT_EQ(a.prepared_generation, k.prepared) << int(id);
      EXPECT_EQ(a.prepared_digest, k.prepared_digest) << int(id);
      core_->disconnected(conn);
    }
    EXPECT_EQ(call(kAdmin, msg_plain(Ordinal::List)).entries.size(), known_.size());
  }
  void create_known(uint8_t id) {
    const Answer a = call(instance(1), msg_open(uuid_of(id), true));
    ASSERT_EQ(a.status, Status::Success);
    known_[id].key = a.key;
    core_->disconnected(1);
  }
  // Runs op on a booted core with the fault at every k up to the count a fault-free run
  // reached; after each, a clean restart and check(k, "fully there?"), then expect_known().
  // setup runs on the booted core before the fault is armed.
  void every_point(const std::function<void()>& setup, const std::function<Status()>& op,
                   const std::function<void(size_t)>& check) {
    std::string err;
    size_t n = 0;
    for (size_t k = 0; k == 0 || k <= n; ++k) {
      FaultAt fault;
      ASSERT_TRUE(boot(err, &fault)) << err;
      setup();
      fault.arm(k);
      const Status s = op();
      if (k == 0) {
        ASSERT_EQ(s, Status::Success) << status_str(s);
        n = fault.count;
        ASSERT_GT(n, 0u);
        for (const std::string& p : fault.points) {
          EXPECT_EQ(p.rfind("records.", 0), 0u) << p;
          EXPECT_EQ(p.find(".rename"), std::string::npos) << p << ": a slot is rewritten in place";
        }
      } else {
        EXPECT_NE(s, Status::Success) << "fault at point " << k << " (" << fault.points.back() << ")";
      }
      down();
      ASSERT_TRUE(boot(err)) << "after a fault at point " << k << ": " << err;
      check(k);
      expect_known();
    }
    points_seen_ += n;
  }
  std::map<uint8_t, Known> known_;
  size_t points_seen_ = 0;
};

TEST_F(CoreFaults, ProvisioningStoppedAtEveryPointStartsCleanlyNextTime) {
  std::string err;
  size_t n = 0;
  for (size_t k = 0; k == 0 || k <= n; ++k) {
    use_dir(std::make_unique<TempDir>());
    FaultAt fault;
    fault.arm(k);
    const bool ok = boot(err, &fault);
    if (k == 0) {
      ASSERT_TRUE(ok) << err;
      n = fault.count;
      ASSERT_GE(n, 10u);  // the header's five steps and the first slot's five
    } else {
      EXPECT_FALSE(ok) << "fault at point " << k;
      EXPECT_FALSE(err.empty());
    }
    down();
    ASSERT_TRUE(boot(err)) << "after a fault at provisioning point " << k << ": " << err;
    const Answer st = call(kAdmin, msg_plain(Ordinal::Status));
    EXPECT_EQ(st.status, Status::Success);
    EXPECT_EQ(st.records, 0u);
    EXPECT_EQ(call(instance(1), msg_open(uuid_of(1), true)).status, Status::Success) << k;
    boot_ok();  // and it starts again after that
    EXPECT_EQ(call(instance(1), msg_open(uuid_of(1), false)).status, Status::Success) << k;
  }
}

TEST_F(CoreFaults, CreatePrepareCommitDeleteAndStartStoppedAtEveryPoint) {
  boot_ok();
  uint8_t next = 10;
  // Create (Open with the create flag).
  every_point([] {}, [&] {
    const Answer a = call(instance(1), msg_open(uuid_of(next), true));
    if (a.status == Status::Success) known_[next].key = a.key;
    return a.status;
  }, [&](size_t k) {
    const uint8_t id = next++;
    if (k == 0) return;
    const Answer a = call(instance(2), msg_open(uuid_of(id), false));
    if (a.status == Status::Success) {  // fully there: a fresh record, then known
      EXPECT_EQ(a.generation, 0u);
      EXPECT_EQ(a.prepared_generation, 0u);
      EXPECT_EQ(a.key.size(), kKeyBytes);
      known_[id].key = a.key;
      core_->disconnected(2);
    } else {
      EXPECT_EQ(a.status, Status::Foreign) << "a half-created record at point " << k;
    }
    if (k == 1) {
      EXPECT_EQ(a.status, Status::Foreign) << "created though nothing was written";
    }
  });

  // Prepare, on record 10.
  const uint8_t rec = 10;
  uint64_t gen = 1;
  auto open_rec = [&] { ASSERT_EQ(call(instance(1), msg_open(uuid_of(rec), false)).status, Status::Success); };
  every_point(open_rec, [&] { return call(instance(1), msg_prepare(gen, digest_of(uint8_t(gen)))).status; },
              [&](size_t k) {
                Known& kn = known_[rec];
                const Answer a = call(instance(3), msg_open(uuid_of(rec), false));
                core_->disconnected(3);
                if (a.prepared_generation == gen) {
                  EXPECT_EQ(a.prepared_digest, digest_of(uint8_t(gen)));
                  // a Prepare beyond the prepared generation commits that one (do_prepare)
                  if (kn.prepared != 0 && gen > kn.prepared) {
                    kn.generation = kn.prepared;
                    kn.digest = kn.prepared_digest;
                  }
                  kn.prepared = gen;
                  kn.prepared_digest = digest_of(uint8_t(gen));
                } else {
                  EXPECT_NE(k, 0u) << "an acknowledged Prepare is lost";
                }
                if (k == 1) {
                  EXPECT_NE(a.prepared_generation, gen) << "prepared though nothing was written";
                }
                ++gen;
              });

  // Commit: each round prepares (acknowledged), then commits under the fault.
  every_point([&] {
    open_rec();
    ASSERT_EQ(call(instance(1), msg_prepare(gen, digest_of(uint8_t(gen)))).status, Status::Success);
    Known& kn = known_[rec];
    if (kn.prepared != 0 && gen > kn.prepared) {  // a Prepare beyond the prepared one commits it
      kn.generation = kn.prepared;
      kn.digest = kn.prepared_digest;
    }
    kn.prepared = gen;
    kn.prepared_digest = digest_of(uint8_t(gen));
  }, [&] { return call(instance(1), msg_commit(gen)).status; }, [&](size_t k) {
    Known& kn = known_[rec];
    const Answer a = call(instance(3), msg_open(uuid_of(rec), false));
    core_->disconnected(3);
    if (a.generation == gen) {
      EXPECT_EQ(a.digest, digest_of(uint8_t(gen)));
      EXPECT_EQ(a.prepared_generation, 0u);
      kn.generation = gen;
      kn.digest = digest_of(uint8_t(gen));
      kn.prepared = 0;
      kn.prepared_digest = {};
    } else {
      EXPECT_NE(k, 0u) << "an acknowledged Commit is lost";
      EXPECT_EQ(a.prepared_generation, gen) << "half a commit at point " << k;
    }
    if (k == 1) {
      EXPECT_NE(a.generation, gen) << "committed though nothing was written";
    }
    ++gen;
  });

  // Delete: each round creates a record (acknowledged), then deletes it under the fault.
  uint8_t victim = 0;
  every_point([&] {
    victim = next++;
    create_known(victim);
  }, [&] { return call(kAdmin, msg_uuid(Ordinal::Delete, uuid_of(victim))).status; }, [&](size_t k) {
    const Answer a = call(instance(3), msg_open(uuid_of(victim), false));
    core_->disconnected(3);
    if (a.status == Status::Retired) {
      known_[victim].retired = true;
    } else {
      EXPECT_NE(k, 0u) << "an acknowledged Delete is lost";
      EXPECT_EQ(a.status, Status::Success) << status_str(a.status);
    }
    if (k == 1) {
      EXPECT_EQ(a.status, Status::Success) << "retired though nothing was written";
    }
  });

  // The start-time epoch commit.
  std::string err;
  size_t n = 0;
  for (size_t k = 0; k == 0 || k <= n; ++k) {
    FaultAt fault;
    fault.arm(k);
    const bool ok = boot(err, &fault);
    if (k == 0) {
      ASSERT_TRUE(ok) << err;
      n = fault.count;
      ASSERT_GT(n, 0u);
    } else {
      EXPECT_FALSE(ok) << "fault at start point " << k;
      expect_failed_closed();
    }
    const uint64_t failed_at = core_->counter();
    down();
    ASSERT_TRUE(boot(err)) << "after a fault at start point " << k << ": " << err;
    EXPECT_GE(core_->counter(), failed_at);
    expect_known();
  }
  // create, Prepare, Commit and Delete each rewrite the spare slot in place: open, write, fsync.
  EXPECT_EQ(points_seen_, 12u);
}

// ---- 6, 7: another TPM; records and counter out of step -----------------------------------

TEST_F(CoreTest, AnotherTpmFailsClosedAndTheHomeTpmStillServes) {
  boot_ok();
  const Answer o = call(instance(1), msg_open(uuid_of(1), true));
  ASSERT_EQ(o.status, Status::Success);
  down();
  const Stored before{file(kHeaderFile), file(kSlotFiles[0]), file(kSlotFiles[1]), {}, 0, 0};

  Swtpm other;
  std::string err;
  ASSERT_TRUE(other.start(err)) << err;
  EXPECT_FALSE(boot_on(other, err));  // no SRK at all there
  EXPECT_NE(err.find("no SRK"), std::string::npos) << err;
  expect_failed_closed();
  down();
  {  // the other TPM gets an SRK of its own: its name differs
    HostTpm t;
    ASSERT_TRUE(t.open(other.tcti(), err)) << err;
    SrkInfo srk;
    ASSERT_TRUE(t.ensure_srk(srk, err)) << err;
  }
  EXPECT_FALSE(boot_on(other, err));
  EXPECT_NE(err.find("not the one this manager was provisioned with"), std::string::npos) << err;
  expect_failed_closed();
  down();
  const Stored after{file(kHeaderFile), file(kSlotFiles[0]), file(kSlotFiles[1]), {}, 0, 0};
  EXPECT_EQ(after, before);
  other.stop();

  boot_ok();
  const Answer back = call(instance(1), msg_open(uuid_of(1), false));
  ASSERT_EQ(back.status, Status::Success);
  EXPECT_EQ(back.key, o.key);
}

TEST_F(CoreTest, OldRecordsPutBackAreARollbackAndFailClosed) {
  boot_ok();
  ASSERT_EQ(call(instance(1), msg_open(uuid_of(1), true)).status, Status::Success);
  const std::vector<uint8_t> old_a = file(kSlotFiles[0]), old_b = file(kSlotFiles[1]);
  boot_ok();
  ASSERT_EQ(call(instance(1), msg_open(uuid_of(2), true)).status, Status::Success);
  boot_ok();
  const uint64_t counter = core_->counter();
  down();
  const std::vector<uint8_t> new_a = file(kSlotFiles[0]), new_b = file(kSlotFiles[1]);
  for (const auto& [name, bytes] : {std::pair{kSlotFiles[0], old_a}, std::pair{kSlotFiles[1], old_b}}) {
    if (bytes.empty()) std::filesystem::remove(dir_->file(name));
    else ASSERT_TRUE(write_path(dir_->file(name), bytes));
  }
  std::string err;
  EXPECT_FALSE(boot(err));
  EXPECT_NE(err.find("older than the TPM's counter"), std::string::npos) << err;
  expect_failed_closed();
  down();
  EXPECT_EQ(file(kSlotFiles[0]), old_a);  // the refused start wrote nothing
  EXPECT_EQ(file(kSlotFiles[1]), old_b);

  ASSERT_TRUE(write_path(dir_->file(kSlotFiles[0]), new_a));
  ASSERT_TRUE(write_path(dir_->file(kSlotFiles[1]), new_b));
  boot_ok();  // the right files back: it serves, nothing lost
  EXPECT_GT(core_->counter(), counter);
  EXPECT_EQ(call(kAdmin, msg_plain(Ordinal::List)).entries.size(), 2u);
}

// The TPM's NV put back to an older copy: the records are ahead of the counter. Ahead by one
// with nothing else is what a crash between a slot write and its increment leaves, which the
// manager finishes (nothing acknowledged is lost); anything further fails closed.
TEST_F(CoreTest, RecordsAheadOfTheCounterFailClosedBeyondOneCommit) {
  struct Case {
    const char* what;
    int starts;        // manager starts after the TPM copy was taken
    bool commit;       // an acknowledged Prepare+Commit in the last of them
    bool accepted;
  };
  const Case cases[] = {
      {"one start: looks like a crash before the increment", 1, false, true},
      {"one start with an acknowledged commit", 1, true, true},
      {"two starts, the second with an acknowledged commit", 2, true, false},
      {"three starts", 3, false, false},
  };
  int round = 0;
  for (const Case& c : cases) {
    use_dir(std::make_unique<TempDir>());
    boot_ok();
    ASSERT_EQ(call(instance(1), msg_open(uuid_of(1), true)).status, Status::Success);
    down();
    const std::string saved = dir_->file("tpm-copy-" + std::to_string(round++));
    swtpm_.halt();
    std::filesystem::copy(swtpm_.state_dir(), saved, std::filesystem::copy_options::recursive);
    std::string err;
    ASSERT_TRUE(swtpm_.resume(err)) << err;
    for (int i = 0; i < c.starts; ++i) boot_ok();
    if (c.commit) {
      ASSERT_EQ(call(instance(1), msg_open(uuid_of(1), false)).status, Status::Success);
      ASSERT_EQ(call(instance(1), msg_prepare(4, digest_of(4))).status, Status::Success);
      ASSERT_EQ(call(instance(1), msg_commit(4)).status, Status::Success);
    }
    down();
    const Stored before{file(kHeaderFile), file(kSlotFiles[0]), file(kSlotFiles[1]), {}, 0, 0};
    swtpm_.halt();
    std::filesystem::remove_all(swtpm_.state_dir());
    std::filesystem::copy(saved, swtpm_.state_dir(), std::filesystem::copy_options::recursive);
    ASSERT_TRUE(swtpm_.resume(err)) << err;
    const bool ok = boot(err);
    if (c.accepted) {
      ASSERT_TRUE(ok) << c.what << ": " << err;
      const Answer a = call(instance(1), msg_open(uuid_of(1), false));
      ASSERT_EQ(a.status, Status::Success) << c.what;
      EXPECT_EQ(a.generation, c.commit ? 4u : 0u) << c.what;
      continue;
    }
    EXPECT_FALSE(ok) << c.what;
    EXPECT_NE(err.find("ahead of the TPM's counter"), std::string::npos) << c.what << ": " << err;
    expect_failed_closed();
    down();
    const Stored after{file(kHeaderFile), file(kSlotFiles[0]), file(kSlotFiles[1]), {}, 0, 0};
    EXPECT_EQ(after, before) << c.what;
  }
}

// ---- 8: the header damaged at every byte ----------------------------------------------------

TEST_F(CoreTest, HeaderTruncatedOrFlippedAtEveryByteFailsClosedAndIsLeftAlone) {
  boot_ok();
  ASSERT_EQ(call(instance(1), msg_open(uuid_of(1), true)).status, Status::Success);
  down();
  const std::vector<uint8_t> header = file(kHeaderFile);
  ASSERT_GT(header.size(), 100u);
  const std::vector<uint8_t> a = file(kSlotFiles[0]), b = file(kSlotFiles[1]);
  std::vector<std::pair<std::string, std::vector<uint8_t>>> damaged;
  for (size_t n = 0; n < header.size(); ++n)
    damaged.emplace_back("cut to " + std::to_string(n), std::vector<uint8_t>(header.begin(), header.begin() + n));
  for (size_t at = 0; at < header.size(); ++at) {
    std::vector<uint8_t> f = header;
    f[at] ^= static_cast<uint8_t>(1u << (at % 8));
    damaged.emplace_back("bit " + std::to_string(at % 8) + " of byte " + std::to_string(at) + " flipped", f);
  }
  std::vector<uint8_t> longer = header;
  longer.push_back(0);
  damaged.emplace_back("one byte appended", longer);

  std::string err;
  ASSERT_TRUE(tpm_.open(swtpm_.tcti(), err)) << err;  // one connection for all: nothing reaches it
  CoreConfig cfg;
  cfg.dir_fd = dir_fd_;
  cfg.dir_path = dir_->path();
  const std::string path = dir_->file(kHeaderFile);
  for (const auto& [what, bytes] : damaged) {
    ASSERT_TRUE(write_path(path, bytes));
    ManagerCore core(cfg, tpm_, crypto_, [](int, const std::string&) {});
    err.clear();
    EXPECT_FALSE(core.start(kNow, err)) << what;
    EXPECT_NE(err.find(path), std::string::npos) << what << ": " << err;
    EXPECT_NE(err.find("damaged"), std::string::npos) << what << ": " << err;
    EXPECT_EQ(core.failure(), err) << what;
    EXPECT_EQ(core.state(), mgr::State::FailedClosed) << what;
    const Answer st = send(core, kAdmin, msg_plain(Ordinal::Status));
    EXPECT_EQ(st.status, Status::Success) << what;
    EXPECT_EQ(send(core, instance(1), msg_open(uuid_of(1), false)).status, Status::FailedClosed) << what;
    EXPECT_EQ(read_path(path), bytes) << what;
  }
  EXPECT_EQ(file(kSlotFiles[0]), a);
  EXPECT_EQ(file(kSlotFiles[1]), b);
  tpm_.close();
  ASSERT_TRUE(write_path(path, header));
  boot_ok();
  EXPECT_EQ(call(instance(1), msg_open(uuid_of(1), false)).status, Status::Success);
}

}  // namespace
}  // namespace vtpm::manager

// ---- groups: approvals signed offline, PolicyAuthorize by the group's key ------------------

namespace vtpm::manager {
namespace {

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
