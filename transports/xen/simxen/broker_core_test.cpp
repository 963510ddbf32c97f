// transports/xen/simxen/broker_core_test.cpp: the broker's rules on BrokerCore directly (no
// sockets; the memfds and eventfds are real): grant refs, RO/RW, EBUSY, cleanup on disconnect;
// port states, bind-pending, unbind returning the peer to unbound, error codes.
#include "broker_core.h"

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>

namespace vtpm::simxen {
namespace {

constexpr BrokerConn kFront = 1, kBack = 2, kOther = 3;

struct BrokerFixture : ::testing::Test {
  BrokerFixture() : core({0, 1, 2}) {
    core.connect(kFront, 1);
    core.connect(kBack, 0);
    core.connect(kOther, 2);
  }
  BrokerResult call(BrokerConn c, BrokerOp op, uint32_t a = 0, uint32_t b = 0, uint32_t d = 0) {
    BrokerResult r = core.handle(c, {static_cast<uint32_t>(op), a, b, d});
    for (int fd : r.owned) owned.push_back(fd);
    return r;
  }
  ~BrokerFixture() override {
    for (int fd : owned) close(fd);
  }
  static uint64_t counter(int fd) {
    uint64_t v = 0;
    return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
  }
  BrokerCore core;
  std::vector<int> owned;
};

TEST_F(BrokerFixture, GrantRefsStartAfterReservedAndMapRules) {
  auto g = call(kFront, BrokerOp::GrantShare, 0, 1);
  ASSERT_EQ(g.reply.err, 0);
  EXPECT_EQ(g.reply.value, 8u);
  ASSERT_EQ(g.fds.size(), 1u);
  auto ro = call(kFront, BrokerOp::GrantShare, 0, 0);
  EXPECT_EQ(ro.reply.value, 9u);
  EXPECT_EQ(call(kBack, BrokerOp::GrantMap, 1, 9, 1).reply.err, EACCES);   // RW of RO
  auto rom = call(kBack, BrokerOp::GrantMap, 1, 9, 0);
  ASSERT_EQ(rom.reply.err, 0);
  ASSERT_EQ(rom.owned.size(), 1u);
  // The read-only fd refuses a shared writable mapping.
  EXPECT_EQ(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rom.owned[0], 0), MAP_FAILED);
  void* r = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, rom.owned[0], 0);
  ASSERT_NE(r, MAP_FAILED);
  munmap(r, 4096);
  EXPECT_EQ(call(kOther, BrokerOp::GrantMap, 1, 8, 0).reply.err, EACCES);   // not the peer
  EXPECT_EQ(call(kBack, BrokerOp::GrantMap, 1, 100, 0).reply.err, EINVAL);
  EXPECT_EQ(call(kBack, BrokerOp::GrantMap, 9, 8, 0).reply.err, ESRCH);
  EXPECT_EQ(call(kBack, BrokerOp::GrantMap, 1, 8, 1).reply.err, 0);
  EXPECT_EQ(call(kFront, BrokerOp::GrantEnd, 8).reply.err, EBUSY);
  EXPECT_EQ(call(kOther, BrokerOp::GrantEnd, 8).reply.err, ENOENT);   // not the granter
  EXPECT_EQ(call(kBack, BrokerOp::GrantUnmap, 1, 8).reply.err, 0);
  EXPECT_EQ(call(kBack, BrokerOp::GrantUnmap, 1, 8).reply.err, EINVAL);
  EXPECT_EQ(call(kFront, BrokerOp::GrantEnd, 8).reply.err, 0);
  EXPECT_EQ(call(kFront, BrokerOp::GrantEnd, 8).reply.err, ENOENT);
  // The mapper's disconnect releases its map of 9.
  EXPECT_EQ(call(kFront, BrokerOp::GrantEnd, 9).reply.err, EBUSY);
  core.disconnect(kBack);
  EXPECT_EQ(call(kFront, BrokerOp::GrantEnd, 9).reply.err, 0);
}

TEST_F(BrokerFixture, GranterGoneGrantLivesUntilUnmapped) {
  auto g = call(kFront, BrokerOp::GrantShare, 0, 1);
  ASSERT_EQ(call(kBack, BrokerOp::GrantMap, 1, g.reply.value, 1).reply.err, 0);
  core.disconnect(kFront);
  EXPECT_EQ(call(kBack, BrokerOp::GrantMap, 1, g.reply.value, 1).reply.err, EINVAL);   // ended
  EXPECT_EQ(call(kBack, BrokerOp::GrantUnmap, 1, g.reply.value).reply.err, 0);
}

TEST_F(BrokerFixture, EventChannelStates) {
  auto a = call(kFront, BrokerOp::EvtAllocUnbound, 0);
  ASSERT_EQ(a.reply.err, 0);
  EXPECT_EQ(a.reply.value, 1u);
  ASSERT_EQ(a.fds.size(), 2u);
  EXPECT_EQ(call(kFront, BrokerOp::EvtAllocUnbound, 9).reply.err, ESRCH);
  EXPECT_EQ(call(kOther, BrokerOp::EvtBind, 1, 1).reply.err, EINVAL);   // offered to dom0 only
  EXPECT_EQ(call(kBack, BrokerOp::EvtBind, 1, 2).reply.err, EINVAL);
  auto b = call(kBack, BrokerOp::EvtBind, 1, 1);
  ASSERT_EQ(b.reply.err, 0);
  ASSERT_EQ(b.fds.size(), 2u);
  EXPECT_EQ(b.fds[0], a.fds[1]);   // the binder's own eventfd is the offered one
  EXPECT_EQ(b.fds[1], a.fds[0]);   // and it notifies the offerer's
  EXPECT_EQ(counter(b.fds[0]), 1u);   // bind marked it pending
  EXPECT_EQ(call(kBack, BrokerOp::EvtBind, 1, 1).reply.err, EINVAL);   // already bound
  EXPECT_EQ(call(kOther, BrokerOp::EvtUnbind, 1).reply.err, EINVAL);   // dom2 has no port 1
  EXPECT_EQ(call(kBack, BrokerOp::EvtUnbind, b.reply.value).reply.err, 0);
  auto again = call(kBack, BrokerOp::EvtBind, 1, 1);
  ASSERT_EQ(again.reply.err, 0);
  EXPECT_EQ(counter(again.fds[0]), 1u);
  core.disconnect(kBack);   // a dead backend: the port is offered again
  core.connect(kBack, 0);
  EXPECT_EQ(call(kBack, BrokerOp::EvtBind, 1, 1).reply.err, 0);
  EXPECT_EQ(call(kBack, static_cast<BrokerOp>(99)).reply.err, ENOSYS);
}

}  // namespace
}  // namespace vtpm::simxen
