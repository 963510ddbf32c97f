// transports/xen/platform/sim/broker_client.h: the simulated Grants and EventChannel, clients of
// simxenstored's broker on DIR/broker.dom<self>.sock (pages as memfds, channels as eventfds,
// passed with SCM_RIGHTS; transports/xen/simxen/broker.h holds the rules).
#pragma once

#include <memory>
#include <string>

#include "../platform.h"

namespace vtpm::xen::sim {

Result<std::unique_ptr<Grants>> open_grants(const std::string& dir, DomId self);
Result<std::unique_ptr<EventChannel>> open_event_channel(const std::string& dir, DomId self);

}  // namespace vtpm::xen::sim
