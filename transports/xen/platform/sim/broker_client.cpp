// transports/xen/platform/sim/broker_client.cpp: see broker_client.h. The broker is not written
// yet (see transports/xen/README.md "Left"): both calls report ENOSYS so callers fail clearly.
#include "broker_client.h"

#include <cerrno>

namespace vtpm::xen::sim {

Result<std::unique_ptr<Grants>> open_grants(const std::string&, DomId) { return Error{ENOSYS}; }
Result<std::unique_ptr<EventChannel>> open_event_channel(const std::string&, DomId) { return Error{ENOSYS}; }

}  // namespace vtpm::xen::sim
