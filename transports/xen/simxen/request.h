// transports/xen/simxen/request.h: one xs_wire request to a StoreCore call and back to the reply
// bytes (payload formats per docs/misc/xenstore.txt). Sans-I/O; the daemon and the fuzz harness
// both call it.
#pragma once

#include <string>
#include <string_view>

#include "store_core.h"
#include "wire.h"

namespace vtpm::simxen {

// The encoded reply (an ERROR message with the errno name on failure).
std::string handle_request(StoreCore& core, ConnId conn, const Header& header, std::string_view payload);

// An XS_WATCH_EVENT message for a firing.
std::string encode_watch_event(const WatchFiring& firing);

}  // namespace vtpm::simxen
