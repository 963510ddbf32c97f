// transports/xen/simxen/broker_wire.h: the grant/event-channel broker's wire format, shared by
// simxenstored and the simulated platform (transports/xen/platform/sim/). One request per
// SOCK_SEQPACKET message, exactly 16 bytes; one 8-byte reply per request, with 0-2 fds in
// SCM_RIGHTS. Anything else from a client ends its connection.
#pragma once

#include <cstdint>

namespace vtpm::simxen {

enum class BrokerOp : uint32_t {
  GrantShare = 1,       // a = peer domid, b = writable (0/1)   -> value = ref, fds {memfd RW}
  GrantMap = 2,         // a = granting domid, b = ref, c = rw  -> fds {memfd, O_RDONLY unless rw}
  GrantUnmap = 3,       // a = granting domid, b = ref
  GrantEnd = 4,         // a = ref                              -> EBUSY while mapped
  EvtAllocUnbound = 5,  // a = remote domid   -> value = port, fds {own eventfd, peer-side eventfd}
  EvtBind = 6,          // a = remote domid, b = remote port -> value = port, fds {own, peer's}
  EvtUnbind = 7,        // a = port
};

struct BrokerRequest {
  uint32_t op = 0;
  uint32_t a = 0, b = 0, c = 0;
};
struct BrokerReply {
  int32_t err = 0;      // errno, 0 = success
  uint32_t value = 0;
};
static_assert(sizeof(BrokerRequest) == 16 && sizeof(BrokerReply) == 8);

}  // namespace vtpm::simxen
