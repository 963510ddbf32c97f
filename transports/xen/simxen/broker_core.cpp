// transports/xen/simxen/broker_core.cpp: see broker_core.h.
#include "broker_core.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace vtpm::simxen {
namespace {

constexpr uint32_t kFirstRef = 8;        // Xen reserves the first grant entries
constexpr size_t kPageSize = 4096;
constexpr uint32_t kMaxPorts = 1024;     // per domain
constexpr uint32_t kMaxGrants = 1024;    // per domain

BrokerResult fail(int err) { return {{err, 0}, {}, {}}; }
BrokerResult ok(uint32_t value = 0) { return {{0, value}, {}, {}}; }

void signal_fd(int fd) {
  uint64_t one = 1;
  ssize_t n = write(fd, &one, sizeof(one));
  (void)n;   // EAGAIN: the counter is already non-zero, so the port is pending anyway
}

}  // namespace

BrokerCore::BrokerCore(std::vector<uint32_t> domains) : domains_(domains.begin(), domains.end()) {}

BrokerCore::~BrokerCore() {
  for (auto& [dom, refs] : grants_)
    for (auto& [ref, g] : refs) close(g.memfd);
  for (auto& [dom, ports] : ports_)
    for (auto& [port, p] : ports) {
      if (p.owns_own_fd) close(p.own_fd);
      if (p.offer_fd >= 0) close(p.offer_fd);
    }
}

void BrokerCore::connect(BrokerConn conn, uint32_t dom) { conns_[conn] = dom; }

void BrokerCore::disconnect(BrokerConn conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  uint32_t dom = it->second;
  // Its maps go away (as gntdev's do when the process dies), then its grants and ports.
  for (auto& [granter, refs] : grants_) {
    std::vector<uint32_t> touched;
    for (auto& [ref, g] : refs)
      if (g.maps.erase(conn)) touched.push_back(ref);
    for (uint32_t ref : touched) drop_grant_if_unused(granter, ref);
  }
  std::vector<uint32_t> mine;
  for (auto& [ref, g] : grants_[dom])
    if (g.owner == conn) {
      g.ended = true;
      mine.push_back(ref);
    }
  for (uint32_t ref : mine) drop_grant_if_unused(dom, ref);
  std::vector<uint32_t> ports;
  for (auto& [port, p] : ports_[dom])
    if (p.owner == conn) ports.push_back(port);
  for (uint32_t port : ports) close_port(dom, port);
  conns_.erase(it);
}

BrokerResult BrokerCore::handle(BrokerConn conn, const BrokerRequest& r) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return fail(EINVAL);
  uint32_t dom = it->second;
  switch (static_cast<BrokerOp>(r.op)) {
    case BrokerOp::GrantShare: return grant_share(conn, dom, r.a, r.b != 0);
    case BrokerOp::GrantMap: return grant_map(conn, dom, r.a, r.b, r.c != 0);
    case BrokerOp::GrantUnmap: return grant_unmap(conn, r.a, r.b);
    case BrokerOp::GrantEnd: return grant_end(conn, dom, r.a);
    case BrokerOp::EvtAllocUnbound: return alloc_unbound(conn, dom, r.a);
    case BrokerOp::EvtBind: return bind(conn, dom, r.a, r.b);
    case BrokerOp::EvtUnbind: return unbind(conn, dom, r.a);
  }
  return fail(ENOSYS);
}

BrokerResult BrokerCore::grant_share(BrokerConn c, uint32_t dom, uint32_t peer, bool writable) {
  if (!domains_.count(peer)) return fail(ESRCH);
  if (grants_[dom].size() >= kMaxGrants) return fail(ENOSPC);
  std::string name = "simxen-grant-dom" + std::to_string(dom);
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return fail(errno);
  if (ftruncate(fd, kPageSize) != 0) {   // a fresh memfd page reads as zeroes
    int err = errno;
    close(fd);
    return fail(err);
  }
  uint32_t& next = next_ref_.try_emplace(dom, kFirstRef).first->second;
  while (grants_[dom].count(next)) ++next;
  uint32_t ref = next++;
  Grant g;
  g.peer = peer;
  g.writable = writable;
  g.memfd = fd;
  g.owner = c;
  grants_[dom][ref] = std::move(g);
  BrokerResult res = ok(ref);
  res.fds.push_back(fd);
  return res;
}

BrokerResult BrokerCore::grant_map(BrokerConn c, uint32_t dom, uint32_t granter, uint32_t ref, bool rw) {
  if (!domains_.count(granter)) return fail(ESRCH);
  auto refs = grants_.find(granter);
  if (refs == grants_.end()) return fail(EINVAL);
  auto it = refs->second.find(ref);
  if (it == refs->second.end() || it->second.ended) return fail(EINVAL);
  Grant& g = it->second;
  if (g.peer != dom) return fail(EACCES);
  if (rw && !g.writable) return fail(EACCES);
  int fd = -1;
  if (!rw) {
    // A read-only descriptor: a PROT_WRITE MAP_SHARED mmap of it fails, as a RO grant map would.
    std::string proc = "/proc/self/fd/" + std::to_string(g.memfd);
    fd = open(proc.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno);
  }
  ++g.maps[c];
  BrokerResult res = ok(ref);
  if (rw) res.fds.push_back(g.memfd);
  else res.owned.push_back(fd);
  return res;
}

BrokerResult BrokerCore::grant_unmap(BrokerConn c, uint32_t granter, uint32_t ref) {
  auto refs = grants_.find(granter);
  if (refs == grants_.end()) return fail(EINVAL);
  auto it = refs->second.find(ref);
  if (it == refs->second.end()) return fail(EINVAL);
  auto m = it->second.maps.find(c);
  if (m == it->second.maps.end()) return fail(EINVAL);
  if (--m->second == 0) it->second.maps.erase(m);
  drop_grant_if_unused(granter, ref);
  return ok();
}

BrokerResult BrokerCore::grant_end(BrokerConn c, uint32_t dom, uint32_t ref) {
  auto it = grants_[dom].find(ref);
  if (it == grants_[dom].end() || it->second.owner != c || it->second.ended) return fail(ENOENT);
  if (!it->second.maps.empty()) return fail(EBUSY);
  close(it->second.memfd);
  grants_[dom].erase(it);
  return ok();
}

void BrokerCore::drop_grant_if_unused(uint32_t dom, uint32_t ref) {
  auto it = grants_[dom].find(ref);
  if (it == grants_[dom].end() || !it->second.ended || !it->second.maps.empty()) return;
  close(it->second.memfd);
  grants_[dom].erase(it);
}

uint32_t BrokerCore::free_port(uint32_t dom) const {
  auto it = ports_.find(dom);
  uint32_t p = 1;
  if (it == ports_.end()) return p;
  while (it->second.count(p)) ++p;
  return p;
}

BrokerResult BrokerCore::alloc_unbound(BrokerConn c, uint32_t dom, uint32_t remote) {
  if (!domains_.count(remote)) return fail(ESRCH);
  uint32_t port = free_port(dom);
  if (port > kMaxPorts) return fail(ENOSPC);
  Port p;
  p.owner = c;
  p.remote_dom = remote;
  p.own_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  p.offer_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p.own_fd < 0 || p.offer_fd < 0) {
    int err = errno;
    if (p.own_fd >= 0) close(p.own_fd);
    if (p.offer_fd >= 0) close(p.offer_fd);
    return fail(err);
  }
  ports_[dom][port] = p;
  BrokerResult res = ok(port);
  res.fds = {p.own_fd, p.offer_fd};
  return res;
}

BrokerResult BrokerCore::bind(BrokerConn c, uint32_t dom, uint32_t remote, uint32_t rport) {
  if (!domains_.count(remote)) return fail(ESRCH);
  auto& theirs = ports_[remote];
  auto it = theirs.find(rport);
  if (it == theirs.end()) return fail(EINVAL);
  Port& r = it->second;
  if (r.bound || r.remote_dom != dom || r.offer_fd < 0) return fail(EINVAL);
  uint32_t port = free_port(dom);
  if (port > kMaxPorts) return fail(ENOSPC);
  Port p;
  p.owner = c;
  p.bound = true;
  p.remote_dom = remote;
  p.remote_port = rport;
  p.own_fd = r.offer_fd;
  p.owns_own_fd = false;
  ports_[dom][port] = p;
  r.bound = true;
  r.remote_port = port;
  // event_channel.c: evtchn_bind_interdomain "conservatively always set[s] a notification".
  signal_fd(p.own_fd);
  BrokerResult res = ok(port);
  res.fds = {p.own_fd, r.own_fd};
  return res;
}

BrokerResult BrokerCore::unbind(BrokerConn c, uint32_t dom, uint32_t port) {
  auto it = ports_[dom].find(port);
  if (it == ports_[dom].end() || it->second.owner != c) return fail(EINVAL);
  close_port(dom, port);
  return ok();
}

// evtchn_close: the peer returns to unbound, remote_domid = the closer.
void BrokerCore::close_port(uint32_t dom, uint32_t port) {
  auto it = ports_[dom].find(port);
  if (it == ports_[dom].end()) return;
  Port p = it->second;
  ports_[dom].erase(it);
  if (p.bound) {
    auto peer = ports_[p.remote_dom].find(p.remote_port);
    if (peer != ports_[p.remote_dom].end()) {
      peer->second.bound = false;
      peer->second.remote_dom = dom;
      peer->second.remote_port = 0;
      if (p.offer_fd >= 0) peer->second.own_fd = -1;   // the binder's end was our offer fd
    }
  }
  if (p.owns_own_fd) close(p.own_fd);
  if (p.offer_fd >= 0) {
    // A binder still holds its end: it keeps the fd (shared through SCM_RIGHTS), we drop ours
    // only when nobody can bind any more.
    close(p.offer_fd);
  }
}

}  // namespace vtpm::simxen
