// transports/xen/platform/libxen/libxen.h: the real-Xen implementation of platform.h on Debian
// 12's libxenstore, libxengnttab (+ gntshr) and libxenevtchn (reference §1, "Recommended
// design"). The Store also serves the simulation: libxenstore honours XENSTORED_PATH, so the
// same adapter talks to simxenstored. Grants and event channels need /dev/xen and cannot run here.
#pragma once

#include <memory>

#include "../platform.h"

namespace vtpm::xen::libxen {

// xs_open(0): the daemon socket or /dev/xen/xenbus, or XENSTORED_PATH when set.
Result<std::unique_ptr<Store>> open_store();
// xengnttab_open + xengntshr_open.
Result<std::unique_ptr<Grants>> open_grants();
// One xenevtchn handle per call (one per device: the handles are not thread-safe).
Result<std::unique_ptr<EventChannel>> open_event_channel();

}  // namespace vtpm::xen::libxen
