// transports/xen/simxen/store_core_test.cpp: the store core's rules (§5.4): paths, perms,
// watches, transactions and their conflict modes, quotas.
#include "store_core.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace vtpm::simxen {
namespace {

constexpr ConnId kDom0 = 1, kDom1 = 2, kDom2 = 3;

struct Fixture : ::testing::Test {
  explicit Fixture(StoreOptions o = {}) : core([&] { o.domains = {0, 1, 2}; return o; }()) {
    core.connect(kDom0, 0);
    core.connect(kDom1, 1);
    core.connect(kDom2, 2);
  }
  std::string read(ConnId c, const std::string& p, int* err = nullptr) {
    std::string v;
    int e = core.read(c, 0, p, &v);
    if (err) *err = e;
    return e ? "<" + std::to_string(e) + ">" : v;
  }
  StoreCore core;
};

TEST_F(Fixture, WriteCreatesParentsWithEmptyValues) {
  ASSERT_EQ(core.write(kDom0, 0, "/a/b/c", "v"), 0);
  EXPECT_EQ(read(kDom0, "/a/b/c"), "v");
  EXPECT_EQ(read(kDom0, "/a/b"), "");
  std::vector<std::string> names;
  ASSERT_EQ(core.directory(kDom0, 0, "/a", &names), 0);
  EXPECT_EQ(names, std::vector<std::string>{"b"});
}

TEST_F(Fixture, PathRules) {
  EXPECT_EQ(core.write(kDom0, 0, "/a//b", "v"), EINVAL);
  EXPECT_EQ(core.write(kDom0, 0, "/a/", "v"), EINVAL);
  EXPECT_EQ(core.write(kDom0, 0, "/a b", "v"), EINVAL);
  EXPECT_EQ(core.write(kDom0, 0, "@x", "v"), EINVAL);
  EXPECT_EQ(core.write(kDom0, 0, "/" + std::string(3071, 'a'), "v"), 0);
  EXPECT_EQ(core.write(kDom0, 0, "/" + std::string(3072, 'a'), "v"), EINVAL);
  EXPECT_EQ(core.rm(kDom0, 0, "/"), EINVAL);
  // Relative paths are under the caller's home.
  ASSERT_EQ(core.write(kDom1, 0, "data/x", "1"), 0);
  EXPECT_EQ(read(kDom0, "/local/domain/1/data/x"), "1");
}

TEST_F(Fixture, RmMissingUnderExistingParentIsFine) {
  EXPECT_EQ(core.rm(kDom0, 0, "/local/nothing"), 0);
  EXPECT_EQ(core.rm(kDom0, 0, "/nope/nothing"), ENOENT);
  ASSERT_EQ(core.write(kDom0, 0, "/t/a/b", "1"), 0);
  ASSERT_EQ(core.rm(kDom0, 0, "/t"), 0);
  int err;
  read(kDom0, "/t/a/b", &err);
  EXPECT_EQ(err, ENOENT);
}

TEST_F(Fixture, PermissionsOwnerFirstMatchDefault) {
  ASSERT_EQ(core.write(kDom0, 0, "/p", "secret"), 0);
  int err;
  read(kDom1, "/p", &err);
  EXPECT_EQ(err, EACCES);   // root's perms n0 inherited: dom1 has none
  read(kDom1, "/p/missing", &err);
  EXPECT_EQ(err, EACCES);   // absent under an unreadable parent
  ASSERT_EQ(core.set_perms(kDom0, 0, "/p", {{0, 1}, {1, 3}, {1, 0}}), 0);   // default read
  EXPECT_EQ(read(kDom1, "/p"), "secret");
  EXPECT_EQ(core.write(kDom1, 0, "/p", "x"), 0);   // first match (b1) wins over n1
  EXPECT_EQ(read(kDom2, "/p"), "x");             // default r
  EXPECT_EQ(core.write(kDom2, 0, "/p", "y"), EACCES);
}

TEST_F(Fixture, UnprivilegedCreatorOwnsAndCannotGiveAway) {
  ASSERT_EQ(core.write(kDom1, 0, "/local/domain/1/dev/x", "1"), 0);
  std::vector<WirePerm> perms;
  ASSERT_EQ(core.get_perms(kDom0, 0, "/local/domain/1/dev/x", &perms), 0);
  ASSERT_EQ(perms.size(), 1u);
  EXPECT_EQ(perms[0].dom, 1u);
  EXPECT_EQ(core.set_perms(kDom1, 0, "/local/domain/1/dev/x", {{2, 0}}), EPERM);
  EXPECT_EQ(core.set_perms(kDom1, 0, "/local/domain/1/dev/x", {{1, 0}, {2, 1}}), 0);
  EXPECT_EQ(read(kDom2, "/local/domain/1/dev/x"), "1");
  EXPECT_EQ(core.set_perms(kDom2, 0, "/local/domain/1/dev/x", {{2, 3}}), EACCES);
  // Dom0 creates under dom1's home: the node inherits dom1 as owner.
  ASSERT_EQ(core.write(kDom0, 0, "/local/domain/1/by0", "z"), 0);
  ASSERT_EQ(core.get_perms(kDom0, 0, "/local/domain/1/by0", &perms), 0);
  EXPECT_EQ(perms[0].dom, 1u);
}

TEST_F(Fixture, WatchFiresOnceAtRegistrationThenOnChanges) {
  ASSERT_EQ(core.watch(kDom1, "/local/domain/1/w", "tok"), 0);
  auto f = core.take_firings();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].path, "/local/domain/1/w");
  EXPECT_EQ(f[0].token, "tok");
  EXPECT_EQ(core.watch(kDom1, "/local/domain/1/w", "tok"), EEXIST);
  core.take_firings();
  ASSERT_EQ(core.write(kDom0, 0, "/local/domain/1/w/a", "1"), 0);   // creates w and w/a
  f = core.take_firings();
  ASSERT_EQ(f.size(), 1u);   // one firing per request, for the node it named
  EXPECT_EQ(f[0].path, "/local/domain/1/w/a");
  ASSERT_EQ(core.write(kDom0, 0, "/local/domain/1/other", "1"), 0);
  for (const auto& x : core.take_firings()) EXPECT_NE(x.conn, kDom1) << x.path;
  ASSERT_EQ(core.set_perms(kDom0, 0, "/local/domain/1/w/a", {{1, 0}}), 0);
  f = core.take_firings();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].path, "/local/domain/1/w/a");
  ASSERT_EQ(core.unwatch(kDom1, "/local/domain/1/w", "tok"), 0);
  EXPECT_EQ(core.unwatch(kDom1, "/local/domain/1/w", "tok"), ENOENT);
}

TEST_F(Fixture, RemovingAParentReportsTheWatchPath) {
  ASSERT_EQ(core.write(kDom0, 0, "/r/a/b", "1"), 0);
  ASSERT_EQ(core.watch(kDom0, "/r/a/b", "t"), 0);
  core.take_firings();
  ASSERT_EQ(core.rm(kDom0, 0, "/r"), 0);
  auto f = core.take_firings();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].path, "/r/a/b");
}

TEST_F(Fixture, WatchQuotaForUnprivileged) {
  for (int i = 0; i < 128; ++i) ASSERT_EQ(core.watch(kDom1, "/local/domain/1", std::to_string(i)), 0);
  EXPECT_EQ(core.watch(kDom1, "/local/domain/1", "x"), E2BIG);
  EXPECT_EQ(core.watch(kDom0, "/", "x"), 0);
}

TEST_F(Fixture, TransactionIsIsolatedAndFiresOnCommit) {
  ASSERT_EQ(core.watch(kDom0, "/tx", "t"), 0);
  core.take_firings();
  uint32_t tx;
  ASSERT_EQ(core.tx_start(kDom0, &tx), 0);
  ASSERT_EQ(core.write(kDom0, tx, "/tx/a", "1"), 0);
  int err;
  read(kDom0, "/tx/a", &err);
  EXPECT_EQ(err, ENOENT);
  std::string v;
  ASSERT_EQ(core.read(kDom0, tx, "/tx/a", &v), 0);
  EXPECT_EQ(v, "1");
  EXPECT_TRUE(core.take_firings().empty());
  ASSERT_EQ(core.tx_end(kDom0, tx, true), 0);
  EXPECT_EQ(read(kDom0, "/tx/a"), "1");
  EXPECT_FALSE(core.take_firings().empty());
  EXPECT_EQ(core.tx_end(kDom0, tx, true), ENOENT);
  EXPECT_EQ(core.read(kDom1, tx, "/tx/a", &v), ENOENT);
}

TEST_F(Fixture, ConflictOnlyOnNodesRead) {
  ASSERT_EQ(core.write(kDom0, 0, "/c/x", "0"), 0);
  ASSERT_EQ(core.write(kDom0, 0, "/c/y", "0"), 0);
  uint32_t t1, t2;
  ASSERT_EQ(core.tx_start(kDom0, &t1), 0);
  ASSERT_EQ(core.tx_start(kDom0, &t2), 0);
  std::string v;
  ASSERT_EQ(core.read(kDom0, t1, "/c/x", &v), 0);
  ASSERT_EQ(core.write(kDom0, t1, "/c/y", "1"), 0);
  ASSERT_EQ(core.write(kDom0, t2, "/c/y", "2"), 0);   // t2 only writes
  ASSERT_EQ(core.write(kDom0, 0, "/c/x", "9"), 0);    // intervening write to what t1 read
  EXPECT_EQ(core.tx_end(kDom0, t1, true), EAGAIN);
  EXPECT_EQ(core.tx_end(kDom0, t2, true), 0);
  EXPECT_EQ(read(kDom0, "/c/y"), "2");
  // Abort discards.
  ASSERT_EQ(core.tx_start(kDom0, &t1), 0);
  ASSERT_EQ(core.write(kDom0, t1, "/c/z", "1"), 0);
  ASSERT_EQ(core.tx_end(kDom0, t1, false), 0);
  int err;
  read(kDom0, "/c/z", &err);
  EXPECT_EQ(err, ENOENT);
}

TEST_F(Fixture, TransactionQuota) {
  uint32_t tx;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(core.tx_start(kDom1, &tx), 0);
  EXPECT_EQ(core.tx_start(kDom1, &tx), ENOSPC);
  core.disconnect(kDom1);
  core.connect(kDom1, 1);
  EXPECT_EQ(core.tx_start(kDom1, &tx), 0);
}

TEST_F(Fixture, NodeSizeAndPermsQuota) {
  EXPECT_EQ(core.write(kDom1, 0, "/local/domain/1/big", std::string(4000, 'x')), ENOSPC);
  EXPECT_EQ(core.write(kDom0, 0, "/local/domain/1/big", std::string(4000, 'x')), 0);
  ASSERT_EQ(core.write(kDom1, 0, "/local/domain/1/p", "1"), 0);
  std::vector<WirePerm> six(6, {1, 0});
  EXPECT_EQ(core.set_perms(kDom1, 0, "/local/domain/1/p", six), ENOSPC);
}

TEST_F(Fixture, NodeCountQuota) {
  core.quotas.nodes = 5;
  int err = 0;
  int created = 0;
  for (int i = 0; i < 10 && !err; ++i) {
    err = core.write(kDom1, 0, "/local/domain/1/n" + std::to_string(i), "1");
    if (!err) ++created;
  }
  EXPECT_EQ(err, ENOSPC);
  EXPECT_EQ(created, 4);   // the home node counts as one of dom1's
}

struct EagainFixture : Fixture {
  EagainFixture() : Fixture([] { StoreOptions o; o.eagain_first_commit = true; return o; }()) {}
};
TEST_F(EagainFixture, FirstCommitFailsRetryPasses) {
  for (int round = 0; round < 3; ++round) {
    uint32_t tx;
    ASSERT_EQ(core.tx_start(kDom0, &tx), 0);
    ASSERT_EQ(core.write(kDom0, tx, "/e", std::to_string(round)), 0);
    EXPECT_EQ(core.tx_end(kDom0, tx, true), EAGAIN);
    ASSERT_EQ(core.tx_start(kDom0, &tx), 0);
    ASSERT_EQ(core.write(kDom0, tx, "/e", std::to_string(round)), 0);
    EXPECT_EQ(core.tx_end(kDom0, tx, true), 0);
    EXPECT_EQ(read(kDom0, "/e"), std::to_string(round));
  }
}

struct StrictFixture : Fixture {
  StrictFixture() : Fixture([] { StoreOptions o; o.strict_conflicts = true; return o; }()) {}
};
TEST_F(StrictFixture, ACommitFailsEveryOtherOpenTransaction) {
  uint32_t t1, t2;
  ASSERT_EQ(core.tx_start(kDom0, &t1), 0);
  ASSERT_EQ(core.tx_start(kDom1, &t2), 0);
  ASSERT_EQ(core.write(kDom0, t1, "/s1", "1"), 0);
  ASSERT_EQ(core.write(kDom1, t2, "/local/domain/1/s2", "1"), 0);   // disjoint nodes
  EXPECT_EQ(core.tx_end(kDom0, t1, true), 0);
  EXPECT_EQ(core.tx_end(kDom1, t2, true), EAGAIN);
}

}  // namespace
}  // namespace vtpm::simxen
