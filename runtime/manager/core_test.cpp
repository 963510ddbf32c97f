// ManagerCore against a real TPM (Debian's swtpm 0.7.1, tpm_test_support.h), driven only through
// its public API with messages the codec encodes and answers the codec parses: provisioning and
// restart, generations, requests for another instance's UUID, malformed messages at every field,
// a crash at every write point, a replaced SRK, a counter/records mismatch, a damaged header
// (issue 8 "Bad input and faults"). Without /usr/bin/swtpm every test fails.
#include "manager/core_test_support.h"

namespace vtpm::manager {
namespace {

using namespace core_testing;  // core_test_support.h

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
