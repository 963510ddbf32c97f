// transports/xen/platform/broker_sim_test.cpp: the simulated Grants and EventChannel (sim/) against
// simxenstored's broker, two domains' clients in one test with real memfds and eventfds: each
// Xen rule of broker_core.h.
#include "transports/xen/platform/sim/broker_client.h"
#include "transports/xen/platform/sim_fixture.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

namespace vtpm::xen {
namespace {

using Broker = SimStore;

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 5000) == 1;
}
bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

TEST_F(Broker, SharedPageIsTheSameMemoryBothWays) {
  start();
  auto front = sim::open_grants(dir, 1);
  auto back = sim::open_grants(dir, 0);
  ASSERT_TRUE(front.ok() && back.ok());
  auto shared = front.value()->share_page(0, true);
  ASSERT_TRUE(shared.ok()) << shared.error().code;
  uint8_t* fpage = shared.value().page->data();
  for (size_t i = 0; i < kPageSize; ++i) ASSERT_EQ(fpage[i], 0) << "not zeroed at " << i;
  std::memcpy(fpage, "SUBMIT", 6);
  auto m = back.value()->map(1, {shared.value().ref}, Prot::ReadWrite);
  ASSERT_TRUE(m.ok()) << m.error().code;
  EXPECT_EQ(std::memcmp(m.value()->data(), "SUBMIT", 6), 0);
  std::memcpy(m.value()->data(), "FINISH", 6);
  EXPECT_EQ(std::memcmp(fpage, "FINISH", 6), 0);
  // A mapped grant cannot be revoked.
  EXPECT_EQ(front.value()->end_access(shared.value().ref), Error{EBUSY});
  EXPECT_FALSE(back.value()->unmap(std::move(m.value())));
  EXPECT_FALSE(front.value()->end_access(shared.value().ref));
  EXPECT_EQ(back.value()->map(1, {shared.value().ref}, Prot::Read).error(), Error{EINVAL});
}

TEST_F(Broker, GrantRules) {
  start();
  auto front = sim::open_grants(dir, 1);
  auto back = sim::open_grants(dir, 0);
  auto other = sim::open_grants(dir, 2);
  ASSERT_TRUE(front.ok() && back.ok() && other.ok());
  auto ro = front.value()->share_page(0, false);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(back.value()->map(1, {ro.value().ref}, Prot::ReadWrite).error(), Error{EACCES});
  auto m = back.value()->map(1, {ro.value().ref}, Prot::Read);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(other.value()->map(1, {ro.value().ref}, Prot::Read).error(), Error{EACCES});   // not the peer
  EXPECT_EQ(back.value()->map(1, {999}, Prot::Read).error(), Error{EINVAL});
  EXPECT_EQ(back.value()->map(77, {ro.value().ref}, Prot::Read).error(), Error{ESRCH});
  EXPECT_EQ(front.value()->share_page(77, true).error(), Error{ESRCH});
  // Two pages mapped contiguously; one bad ref fails the whole map.
  auto rw = front.value()->share_page(0, true);
  ASSERT_TRUE(rw.ok());
  rw.value().page->data()[0] = 42;
  auto two = back.value()->map(1, {ro.value().ref, rw.value().ref}, Prot::Read);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two.value()->data()[kPageSize], 42);
  EXPECT_EQ(back.value()->map(1, {rw.value().ref, 999}, Prot::Read).error(), Error{EINVAL});
  // The back end's death unmaps everything it held.
  m.value().reset();
  two.value().reset();
  back.value().reset();
  EXPECT_FALSE(front.value()->end_access(rw.value().ref));
  EXPECT_FALSE(front.value()->end_access(ro.value().ref));
}

TEST_F(Broker, EventChannelRules) {
  start();
  auto front = sim::open_event_channel(dir, 1);
  auto back = sim::open_event_channel(dir, 0);
  ASSERT_TRUE(front.ok() && back.ok());
  EventChannel& f = *front.value();
  EventChannel& b = *back.value();
  auto p = f.alloc_unbound(0);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(f.notify(p.value()));   // unbound peer: dropped, not an error
  EXPECT_EQ(b.bind_interdomain(1, p.value() + 100).error(), Error{EINVAL});
  EXPECT_EQ(b.bind_interdomain(77, p.value()).error(), Error{ESRCH});
  auto q = b.bind_interdomain(1, p.value());
  ASSERT_TRUE(q.ok());
  // Bind marks the new local port pending, once.
  ASSERT_TRUE(readable(b.fd()));
  EXPECT_EQ(b.pending().value(), q.value());
  EXPECT_EQ(b.pending().error(), Error{EAGAIN});
  // A delivered port stays masked: a notify now shows only after unmask.
  EXPECT_FALSE(f.notify(p.value()));
  EXPECT_FALSE(readable_now(b.fd()));
  EXPECT_FALSE(b.unmask(q.value()));
  ASSERT_TRUE(readable(b.fd()));
  EXPECT_EQ(b.pending().value(), q.value());
  EXPECT_FALSE(b.unmask(q.value()));
  EXPECT_FALSE(readable_now(b.fd()));
  // The other direction.
  EXPECT_FALSE(b.notify(q.value()));
  ASSERT_TRUE(readable(f.fd()));
  EXPECT_EQ(f.pending().value(), p.value());
  EXPECT_FALSE(f.unmask(p.value()));
  // A bound port cannot be bound twice.
  auto third = sim::open_event_channel(dir, 0);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third.value()->bind_interdomain(1, p.value()).error(), Error{EINVAL});
  // Close by the backend returns the frontend port to unbound: it can be bound again.
  EXPECT_FALSE(b.unbind(q.value()));
  EXPECT_EQ(b.notify(q.value()), Error{EINVAL});
  EXPECT_FALSE(f.notify(p.value()));   // dropped
  auto q2 = third.value()->bind_interdomain(1, p.value());
  ASSERT_TRUE(q2.ok());
  ASSERT_TRUE(readable(third.value()->fd()));
  EXPECT_EQ(third.value()->pending().value(), q2.value());
  EXPECT_FALSE(third.value()->unmask(q2.value()));
  EXPECT_FALSE(readable_now(third.value()->fd()));   // the dropped notify left nothing behind
  // A backend process dying has the same effect as unbind.
  third.value().reset();
  auto q3 = b.bind_interdomain(1, p.value());
  ASSERT_TRUE(q3.ok());
  EXPECT_EQ(b.pending().value(), q3.value());
  // Only the domain the port was offered to may bind it.
  auto dom2 = sim::open_event_channel(dir, 2);
  auto p2 = f.alloc_unbound(0);
  ASSERT_TRUE(dom2.ok() && p2.ok());
  EXPECT_EQ(dom2.value()->bind_interdomain(1, p2.value()).error(), Error{EINVAL});
}

TEST_F(Broker, MalformedRequestEndsOnlyThatClient) {
  start();
  auto good = sim::open_event_channel(dir, 1);
  ASSERT_TRUE(good.ok());
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = dir + "/broker.dom1.sock";
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(send(fd, "short", 5, 0), 5);
  ASSERT_TRUE(readable(fd));
  char buf[16];
  EXPECT_EQ(recv(fd, buf, sizeof(buf), 0), 0);   // closed by the daemon, no reply
  close(fd);
  EXPECT_TRUE(good.value()->alloc_unbound(0).ok());
}

TEST_F(Broker, FactoryGivesSimulatedGrantsAndChannels) {
  start();
  auto f = open_platform({dir, 1});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f.value()->open_grants().ok());
  EXPECT_TRUE(f.value()->open_event_channel().ok());
}

}  // namespace
}  // namespace vtpm::xen
