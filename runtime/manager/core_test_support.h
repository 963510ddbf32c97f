// The fixture and message builders core_test.cpp and core_group_test.cpp share: a ManagerCore
// on Debian's swtpm (tpm_test_support.h), requests the codec encodes, answers it parses. Test-only.
#pragma once

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


namespace vtpm::manager::core_testing {

using store::testing::read_path;
using store::testing::TempDir;
using store::testing::write_path;
using testing::Swtpm;

constexpr int64_t kNow = 1000;

inline Uuid uuid_of(uint8_t n) {
  Uuid u;
  u.fill(n);
  return u;
}
inline Digest digest_of(uint8_t n) {
  Digest d;
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(n * 3 + i);
  return d;
}

inline uint32_t be32_at(const std::vector<uint8_t>& m, size_t at) {
  return (uint32_t{m[at]} << 24) | (uint32_t{m[at + 1]} << 16) | (uint32_t{m[at + 2]} << 8) | m[at + 3];
}
inline void put_be32_at(std::vector<uint8_t>& m, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) m[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// ---- requests, through the codec ----------------------------------------------------------

inline std::vector<uint8_t> encoded(const std::function<void(Request&)>& fill) {
  Request r;
  fill(r);
  std::vector<uint8_t> out;
  EXPECT_TRUE(encode_request(r, out)) << ordinal_name(static_cast<uint32_t>(r.ordinal));
  return out;
}
inline std::vector<uint8_t> msg_open(const Uuid& u, bool create, const std::string& group = "") {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::Open;
    r.uuid = u;
    r.flags = create ? kOpenCreate : 0;
    r.group = group;
  });
}
inline std::vector<uint8_t> msg_prepare(uint64_t gen, const Digest& d) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::Prepare;
    r.generation = gen;
    r.digest = d;
  });
}
inline std::vector<uint8_t> msg_commit(uint64_t gen) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::Commit;
    r.generation = gen;
  });
}
inline std::vector<uint8_t> msg_plain(Ordinal o) {
  return encoded([&](Request& r) { r.ordinal = o; });
}
inline std::vector<uint8_t> msg_uuid(Ordinal o, const Uuid& u) {
  return encoded([&](Request& r) {
    r.ordinal = o;
    r.uuid = u;
  });
}
inline std::vector<uint8_t> msg_save(size_t n) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::SaveHashKey;
    std::vector<uint8_t> blob(n);
    for (size_t i = 0; i < n; ++i) blob[i] = static_cast<uint8_t>(0x40 + i);
    r.xen_blob.assign(blob.data(), blob.size());
  });
}
inline std::vector<uint8_t> msg_group_create(const std::string& name, std::vector<uint8_t> spki) {
  return encoded([&](Request& r) {
    r.ordinal = Ordinal::GroupCreate;
    r.group = name;
    r.spki = std::move(spki);
  });
}
inline std::vector<uint8_t> msg_group_approve(const std::string& name, std::vector<uint8_t> approval) {
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

inline Answer send(ManagerCore& core, const PeerId& peer, const std::vector<uint8_t>& msg) {
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

}  // namespace vtpm::manager::core_testing
