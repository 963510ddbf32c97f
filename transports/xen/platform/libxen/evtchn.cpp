// transports/xen/platform/libxen/evtchn.cpp: EventChannel over libxenevtchn (reference §1.3):
// one handle per EventChannel, and poll() before xenevtchn_pending, whose read() blocks and whose
// O_NONBLOCK "may not work". Compiled here; needs /dev/xen/evtchn to run.
#include <poll.h>
extern "C" {   // the libxen headers have no C++ guards
#include <xenevtchn.h>
}

#include <cerrno>

#include "libxen.h"

namespace vtpm::xen::libxen {
namespace {

Error last_error() { return Error{errno ? errno : EIO}; }

class LibxenEventChannel final : public EventChannel {
 public:
  explicit LibxenEventChannel(xenevtchn_handle* h) : h_(h) {}
  ~LibxenEventChannel() override { xenevtchn_close(h_); }
  Result<Port> bind_interdomain(DomId domid, Port remote_port) override {
    errno = 0;
    xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(h_, domid, remote_port);
    if (p < 0) return last_error();
    return static_cast<Port>(p);
  }
  Result<Port> alloc_unbound(DomId remote_domid) override {
    errno = 0;
    xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(h_, remote_domid);
    if (p < 0) return last_error();
    return static_cast<Port>(p);
  }
  Error notify(Port port) override {
    errno = 0;
    return xenevtchn_notify(h_, port) == 0 ? kOk : last_error();
  }
  int fd() const override { return xenevtchn_fd(h_); }
  Result<Port> pending() override {
    pollfd p{xenevtchn_fd(h_), POLLIN, 0};
    int rc = poll(&p, 1, 0);
    if (rc < 0) return last_error();
    if (rc == 0) return Error{EAGAIN};
    if (p.revents & POLLERR) return Error{EFBIG};   // the kernel's ring overflowed
    errno = 0;
    xenevtchn_port_or_error_t port = xenevtchn_pending(h_);
    if (port < 0) return last_error();
    return static_cast<Port>(port);
  }
  Error unmask(Port port) override {
    errno = 0;
    return xenevtchn_unmask(h_, port) == 0 ? kOk : last_error();
  }
  Error unbind(Port port) override {
    errno = 0;
    return xenevtchn_unbind(h_, port) == 0 ? kOk : last_error();
  }
 private:
  xenevtchn_handle* h_;
};

}  // namespace

Result<std::unique_ptr<EventChannel>> open_event_channel() {
  errno = 0;
  xenevtchn_handle* h = xenevtchn_open(nullptr, 0);
  if (!h) return last_error();
  return std::unique_ptr<EventChannel>(new LibxenEventChannel(h));
}

}  // namespace vtpm::xen::libxen
