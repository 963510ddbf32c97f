// transports/xen/platform/store_sim_test.cpp: the production libxen Store adapter (libxen/store.cpp)
// against simxenstored through XENSTORED_PATH, and the factory's simulated mode. The daemon is
// started per test; readiness is awaited on its --ready-fd pipe, never by sleeping.
#include "transports/xen/platform/sim_fixture.h"

namespace vtpm::xen {
namespace {

TEST_F(SimStore, ReadWriteDirectoryPerms) {
  start();
  auto s = open(0);
  ASSERT_TRUE(s);
  ASSERT_FALSE(s->write(kNoTx, "/backend/vtpm/1/0/state", "1"));
  auto v = s->read(kNoTx, "/backend/vtpm/1/0/state");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), "1");
  auto d = s->directory(kNoTx, "/backend/vtpm/1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value(), std::vector<std::string>{"0"});
  EXPECT_EQ(s->read(kNoTx, "/nothing").error(), Error{ENOENT});
  EXPECT_EQ(s->read(kNoTx, "relative").error(), Error{EINVAL});
  ASSERT_FALSE(s->set_perms(kNoTx, "/backend/vtpm/1/0", {{0, Perm::None}, {1, Perm::Read}}));
  auto p = s->get_perms(kNoTx, "/backend/vtpm/1/0");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value(), (PermList{{0, Perm::None}, {1, Perm::Read}}));
  auto home = s->get_domain_path(1);
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(home.value(), "/local/domain/1");
  ASSERT_FALSE(s->mkdir(kNoTx, "/m/n"));
  ASSERT_FALSE(s->rm(kNoTx, "/m"));
  EXPECT_EQ(s->read(kNoTx, "/m/n").error(), Error{ENOENT});

  auto guest = open(1);
  ASSERT_TRUE(guest);
  EXPECT_EQ(guest->read(kNoTx, "/backend/vtpm/1/0").error(), kOk);   // r1
  EXPECT_EQ(guest->write(kNoTx, "/backend/vtpm/1/0", "x"), Error{EACCES});
  // Perms are not pushed down to existing children; new children inherit them.
  EXPECT_EQ(guest->read(kNoTx, "/backend/vtpm/1/0/state").error(), Error{EACCES});
  ASSERT_FALSE(s->write(kNoTx, "/backend/vtpm/1/0/feature-protocol-v2", "1"));
  EXPECT_EQ(guest->read(kNoTx, "/backend/vtpm/1/0/feature-protocol-v2").value(), "1");
  ASSERT_FALSE(s->write(kNoTx, "/secret", "s"));
  EXPECT_EQ(guest->read(kNoTx, "/secret").error(), Error{EACCES});
}

TEST_F(SimStore, WatchFiresOnceAtRegistrationThenOnChange) {
  start();
  auto s = open(0);
  ASSERT_TRUE(s);
  auto w = s->watch("/local/domain/1/device", "tok");
  ASSERT_TRUE(w.ok());
  auto ev = wait_events(*s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].path, "/local/domain/1/device");
  EXPECT_EQ(ev[0].token, "tok");
  EXPECT_EQ(s->watch("/local/domain/1/device", "tok").error(), Error{EEXIST});
  auto other = open(0);
  ASSERT_FALSE(other->write(kNoTx, "/local/domain/1/device/vtpm/0/state", "3"));
  ev = wait_events(*s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].path, "/local/domain/1/device/vtpm/0/state");
  EXPECT_FALSE(s->unwatch(w.value()));
  EXPECT_EQ(s->unwatch(w.value()), Error{ENOENT});
}

TEST_F(SimStore, TransactionRetriedOnEagainFirstCommit) {
  start({"--eagain-first-commit"});
  auto s = open(0);
  ASSERT_TRUE(s);
  int attempts = 0;
  TxOutcome out;
  do {
    ++attempts;
    auto tx = s->tx_start();
    ASSERT_TRUE(tx.ok());
    ASSERT_FALSE(s->write(tx.value(), "/t/online", "0"));
    ASSERT_FALSE(s->write(tx.value(), "/t/state", "5"));
    out = s->tx_end(tx.value(), true);
  } while (out.end == TxEnd::Again && attempts < 5);
  EXPECT_EQ(out.end, TxEnd::Ok);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(s->read(kNoTx, "/t/state").value(), "5");
}

TEST_F(SimStore, ConflictingTransactionGetsAgain) {
  start();
  auto s = open(0);
  ASSERT_FALSE(s->write(kNoTx, "/c", "0"));
  auto tx = s->tx_start();
  ASSERT_TRUE(tx.ok());
  ASSERT_EQ(s->read(tx.value(), "/c").value(), "0");
  auto other = open(0);
  ASSERT_FALSE(other->write(kNoTx, "/c", "1"));
  ASSERT_FALSE(s->write(tx.value(), "/c", "2"));
  EXPECT_EQ(s->tx_end(tx.value(), true).end, TxEnd::Again);
  EXPECT_EQ(s->read(kNoTx, "/c").value(), "1");
}

TEST_F(SimStore, FactoryPicksTheSimulation) {
  start();
  auto f = open_platform({dir, 1});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f.value()->simulated());
  EXPECT_EQ(f.value()->self(), 1u);
  auto s = f.value()->open_store();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s.value()->write(kNoTx, "/local/domain/1/x", "y"));
  EXPECT_EQ(s.value()->write(kNoTx, "/x", "y"), Error{EACCES});   // dom1 is unprivileged
}

}  // namespace
}  // namespace vtpm::xen
