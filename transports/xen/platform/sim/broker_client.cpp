// transports/xen/platform/sim/broker_client.cpp: see broker_client.h. Requests go to the broker;
// pages are mmap()ed memfds; notify is one write(2) to the peer's eventfd and pending/unmask are
// local (an epoll set of the unmasked ports' eventfds), so the event path never touches the daemon.
#include "broker_client.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "transports/xen/simxen/broker_wire.h"

namespace vtpm::xen::sim {
namespace {

using simxen::BrokerOp;
using simxen::BrokerReply;
using simxen::BrokerRequest;

Error sys_error() { return Error{errno ? errno : EIO}; }

class Broker {
 public:
  explicit Broker(int fd) : fd_(fd) {}
  ~Broker() { close(fd_); }
  // One request, its reply and up to two fds (the caller owns them).
  Error call(BrokerOp op, uint32_t a, uint32_t b, uint32_t c, uint32_t* value, std::vector<int>* fds) {
    BrokerRequest req{static_cast<uint32_t>(op), a, b, c};
    if (send(fd_, &req, sizeof(req), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(req))) return sys_error();
    BrokerReply reply;
    iovec iov{&reply, sizeof(reply)};
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do n = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return sys_error();
    std::vector<int> got;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int f;
        std::memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
        got.push_back(f);
      }
    }
    bool bad = n != static_cast<ssize_t>(sizeof(reply)) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
    if (bad || reply.err != 0 || !fds) {
      for (int f : got) close(f);
      if (bad) return Error{EPROTO};
      if (reply.err != 0) return Error{reply.err};
    } else {
      *fds = std::move(got);
    }
    if (value) *value = reply.value;
    return kOk;
  }
 private:
  int fd_;
};

Result<std::shared_ptr<Broker>> connect_broker(const std::string& dir, DomId self) {
  std::string path = dir + "/broker.dom" + std::to_string(self) + ".sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return Error{ENAMETOOLONG};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error();
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Error e = sys_error();
    close(fd);
    return e;
  }
  return std::make_shared<Broker>(fd);
}

class SimMapping final : public Mapping {
 public:
  SimMapping(std::shared_ptr<Broker> b, DomId dom, std::vector<GrantRef> refs, uint8_t* addr)
      : broker_(std::move(b)), dom_(dom), refs_(std::move(refs)), addr_(addr) {}
  ~SimMapping() override { release(); }
  uint8_t* data() override { return addr_; }
  size_t pages() const override { return refs_.size(); }
  Error release() override {
    if (!addr_) return kOk;
    munmap(addr_, refs_.size() * kPageSize);
    addr_ = nullptr;
    Error first = kOk;
    for (GrantRef r : refs_) {
      Error e = broker_->call(BrokerOp::GrantUnmap, dom_, r, 0, nullptr, nullptr);
      if (e && !first) first = e;
    }
    return first;
  }
 private:
  std::shared_ptr<Broker> broker_;
  DomId dom_;
  std::vector<GrantRef> refs_;
  uint8_t* addr_;
};

class PageView final : public Mapping {   // a page we share; end_access() unmaps it
 public:
  explicit PageView(uint8_t* addr) : addr_(addr) {}
  uint8_t* data() override { return addr_; }
  size_t pages() const override { return 1; }
  Error release() override { return kOk; }
 private:
  uint8_t* addr_;
};

class SimGrants final : public Grants {
 public:
  explicit SimGrants(std::shared_ptr<Broker> b) : broker_(std::move(b)) {}
  ~SimGrants() override {
    for (auto& [ref, addr] : shared_) munmap(addr, kPageSize);
  }
  Result<std::unique_ptr<Mapping>> map(DomId domid, const std::vector<GrantRef>& refs, Prot prot) override {
    if (refs.empty() || refs.size() > 256) return Error{EINVAL};
    bool rw = prot == Prot::ReadWrite;
    void* base = mmap(nullptr, refs.size() * kPageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return sys_error();
    auto* addr = static_cast<uint8_t*>(base);
    for (size_t i = 0; i < refs.size(); ++i) {
      std::vector<int> fds;
      Error e = broker_->call(BrokerOp::GrantMap, domid, refs[i], rw ? 1 : 0, nullptr, &fds);
      void* at = MAP_FAILED;
      if (!e && fds.size() == 1)
        at = mmap(addr + i * kPageSize, kPageSize, rw ? PROT_READ | PROT_WRITE : PROT_READ,
                  MAP_SHARED | MAP_FIXED, fds[0], 0);
      if (!e && at == MAP_FAILED) e = fds.size() == 1 ? sys_error() : Error{EPROTO};
      for (int f : fds) close(f);
      if (e) {   // all-or-nothing, as xengnttab_map_domain_grant_refs
        if (!fds.empty()) broker_->call(BrokerOp::GrantUnmap, domid, refs[i], 0, nullptr, nullptr);
        for (size_t j = 0; j < i; ++j) broker_->call(BrokerOp::GrantUnmap, domid, refs[j], 0, nullptr, nullptr);
        munmap(base, refs.size() * kPageSize);
        return e;
      }
    }
    return std::unique_ptr<Mapping>(new SimMapping(broker_, domid, refs, addr));
  }
  Result<std::unique_ptr<Mapping>> map_notify(DomId, GrantRef, Prot, uint32_t, Port) override {
    return Error{ENOSYS};   // optional in the simulation (platform.h)
  }
  Error unmap(std::unique_ptr<Mapping> mapping) override {
    return mapping ? mapping->release() : Error{EINVAL};
  }
  Result<Shared> share_page(DomId peer, bool writable) override {
    uint32_t ref = 0;
    std::vector<int> fds;
    if (Error e = broker_->call(BrokerOp::GrantShare, peer, writable ? 1 : 0, 0, &ref, &fds)) return e;
    if (fds.size() != 1) {
      for (int f : fds) close(f);
      return Error{EPROTO};
    }
    void* addr = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    close(fds[0]);
    if (addr == MAP_FAILED) return sys_error();
    shared_[ref] = addr;
    return Shared{ref, std::unique_ptr<Mapping>(new PageView(static_cast<uint8_t*>(addr)))};
  }
  Error end_access(GrantRef ref) override {
    auto it = shared_.find(ref);
    if (it == shared_.end()) return Error{ENOENT};
    if (Error e = broker_->call(BrokerOp::GrantEnd, ref, 0, 0, nullptr, nullptr)) return e;
    munmap(it->second, kPageSize);
    shared_.erase(it);
    return kOk;
  }
 private:
  std::shared_ptr<Broker> broker_;
  std::map<GrantRef, void*> shared_;
};

class SimEventChannel final : public EventChannel {
 public:
  SimEventChannel(std::shared_ptr<Broker> b, int ep) : broker_(std::move(b)), ep_(ep) {}
  ~SimEventChannel() override {
    for (auto& [port, p] : ports_) {
      close(p.own);
      close(p.peer);
    }
    close(ep_);
  }
  Result<Port> bind_interdomain(DomId domid, Port remote_port) override {
    return add(BrokerOp::EvtBind, domid, remote_port);
  }
  Result<Port> alloc_unbound(DomId remote_domid) override { return add(BrokerOp::EvtAllocUnbound, remote_domid, 0); }
  Error notify(Port port) override {
    auto it = ports_.find(port);
    if (it == ports_.end()) return Error{EINVAL};
    uint64_t one = 1;
    if (write(it->second.peer, &one, sizeof(one)) < 0 && errno != EAGAIN) return sys_error();
    return kOk;
  }
  int fd() const override { return ep_; }
  Result<Port> pending() override {
    epoll_event ev{};
    int n = epoll_wait(ep_, &ev, 1, 0);
    if (n < 0) return sys_error();
    if (n == 0) return Error{EAGAIN};
    Port port = ev.data.u32;
    auto it = ports_.find(port);
    if (it == ports_.end()) return Error{EAGAIN};
    uint64_t count;
    ssize_t r = read(it->second.own, &count, sizeof(count));   // consume: one delivery
    (void)r;
    epoll_ctl(ep_, EPOLL_CTL_DEL, it->second.own, nullptr);       // masked until unmask()
    it->second.masked = true;
    return port;
  }
  Error unmask(Port port) override {
    auto it = ports_.find(port);
    if (it == ports_.end()) return Error{EINVAL};
    if (!it->second.masked) return kOk;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = port;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, it->second.own, &ev) != 0) return sys_error();
    it->second.masked = false;
    return kOk;
  }
  Error unbind(Port port) override {
    auto it = ports_.find(port);
    if (it == ports_.end()) return Error{EINVAL};
    if (Error e = broker_->call(BrokerOp::EvtUnbind, port, 0, 0, nullptr, nullptr)) return e;
    if (!it->second.masked) epoll_ctl(ep_, EPOLL_CTL_DEL, it->second.own, nullptr);
    close(it->second.own);
    close(it->second.peer);
    ports_.erase(it);
    return kOk;
  }

 private:
  struct Local {
    int own = -1;    // readable: pending here
    int peer = -1;   // written by notify()
    bool masked = false;
  };
  Result<Port> add(BrokerOp op, uint32_t a, uint32_t b) {
    uint32_t port = 0;
    std::vector<int> fds;
    if (Error e = broker_->call(op, a, b, 0, &port, &fds)) return e;
    if (fds.size() != 2 || ports_.count(port)) {
      for (int f : fds) close(f);
      return Error{EPROTO};
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = port;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fds[0], &ev) != 0) {
      Error e = sys_error();
      for (int f : fds) close(f);
      return e;
    }
    ports_[port] = Local{fds[0], fds[1], false};
    return port;
  }
  std::shared_ptr<Broker> broker_;
  int ep_;
  std::map<Port, Local> ports_;
};

}  // namespace

Result<std::unique_ptr<Grants>> open_grants(const std::string& dir, DomId self) {
  auto b = connect_broker(dir, self);
  if (!b.ok()) return b.error();
  return std::unique_ptr<Grants>(new SimGrants(std::move(b.value())));
}

Result<std::unique_ptr<EventChannel>> open_event_channel(const std::string& dir, DomId self) {
  auto b = connect_broker(dir, self);
  if (!b.ok()) return b.error();
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return sys_error();
  return std::unique_ptr<EventChannel>(new SimEventChannel(std::move(b.value()), ep));
}

}  // namespace vtpm::xen::sim
