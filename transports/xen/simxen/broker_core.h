// transports/xen/simxen/broker_core.h: the broker's rules for simulated grant tables and event
// channels (reference/xen-userspace-backend.md §1.2-1.3, "Recommended design"), free of sockets:
// pages are memfds, channels eventfds; the daemon passes them with SCM_RIGHTS.
// Grants: only the named peer may map; a RW map of a RO grant is refused (EACCES); a mapped
// grant cannot be ended (EBUSY); a client's maps go away with its connection.
// Event channels: alloc_unbound offers a port to one remote domain; bind needs that port unbound
// and offered to the caller (else EINVAL), and marks the new local port pending (Xen does, on
// every bind); unbind (or a closed connection) returns the peer to unbound so it can be bound
// again; unknown domains give ESRCH, bad ports EINVAL.
// Notify never passes through here: each end holds the eventfd of the other. The offering end
// writes to a per-port eventfd that every binder of that port receives; its writes while the
// port is unbound are read by nobody, and every bind marks the binder pending anyway, so this is
// Xen's "notify on an unbound port is dropped" as far as any end can observe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "broker_wire.h"

namespace vtpm::simxen {

using BrokerConn = uint64_t;

struct BrokerResult {
  BrokerReply reply;
  std::vector<int> fds;           // to send (borrowed: the core keeps them)
  std::vector<int> owned;         // to send and then close
};

class BrokerCore {
 public:
  explicit BrokerCore(std::vector<uint32_t> domains);
  ~BrokerCore();
  BrokerCore(const BrokerCore&) = delete;
  BrokerCore& operator=(const BrokerCore&) = delete;

  void connect(BrokerConn conn, uint32_t dom);
  void disconnect(BrokerConn conn);
  BrokerResult handle(BrokerConn conn, const BrokerRequest& request);

 private:
  struct Grant {
    uint32_t peer = 0;
    bool writable = false;
    int memfd = -1;
    BrokerConn owner = 0;
    bool ended = false;      // owner gone: removed once unmapped
    std::map<BrokerConn, uint32_t> maps;   // mapping connection -> count
  };
  struct Port {
    BrokerConn owner = 0;
    bool bound = false;
    uint32_t remote_dom = 0;
    uint32_t remote_port = 0;
    int own_fd = -1;         // this end's eventfd (readable = pending here)
    int offer_fd = -1;       // alloc_unbound ports: the eventfd the binder gets as its own
    bool owns_own_fd = true;
  };

  BrokerResult grant_share(BrokerConn c, uint32_t dom, uint32_t peer, bool writable);
  BrokerResult grant_map(BrokerConn c, uint32_t dom, uint32_t granter, uint32_t ref, bool rw);
  BrokerResult grant_unmap(BrokerConn c, uint32_t granter, uint32_t ref);
  BrokerResult grant_end(BrokerConn c, uint32_t dom, uint32_t ref);
  BrokerResult alloc_unbound(BrokerConn c, uint32_t dom, uint32_t remote);
  BrokerResult bind(BrokerConn c, uint32_t dom, uint32_t remote, uint32_t rport);
  BrokerResult unbind(BrokerConn c, uint32_t dom, uint32_t port);
  void close_port(uint32_t dom, uint32_t port);
  void drop_grant_if_unused(uint32_t dom, uint32_t ref);
  uint32_t free_port(uint32_t dom) const;

  std::set<uint32_t> domains_;
  std::map<BrokerConn, uint32_t> conns_;
  std::map<uint32_t, std::map<uint32_t, Grant>> grants_;   // granting dom -> ref -> grant
  std::map<uint32_t, uint32_t> next_ref_;
  std::map<uint32_t, std::map<uint32_t, Port>> ports_;     // dom -> port -> state
};

}  // namespace vtpm::simxen
