// transports/xen/platform/factory.cpp: open_platform() picks real Xen (libxen/) or the
// simulation (sim/) for the programs above platform.h, which are shared by both.
// Simulation when PlatformOptions::sim_dir or the environment's SIMXEN_DIR is set; the domain
// is PlatformOptions::self (or SIMXEN_DOMID). The simulated Store is the libxen adapter with
// XENSTORED_PATH set to DIR/xenstored.dom<self>.sock (process-wide: one domain per process).
#include <cstdlib>
#include <string>

#include "libxen/libxen.h"
#include "platform.h"
#include "sim/broker_client.h"

namespace vtpm::xen {
namespace {

class RealFactory final : public PlatformFactory {
 public:
  Result<std::unique_ptr<Store>> open_store() override { return libxen::open_store(); }
  Result<std::unique_ptr<Grants>> open_grants() override { return libxen::open_grants(); }
  Result<std::unique_ptr<EventChannel>> open_event_channel() override { return libxen::open_event_channel(); }
  DomId self() const override { return 0; }
  bool simulated() const override { return false; }
};

class SimFactory final : public PlatformFactory {
 public:
  SimFactory(std::string dir, DomId self) : dir_(std::move(dir)), self_(self) {}
  Result<std::unique_ptr<Store>> open_store() override {
    std::string path = dir_ + "/xenstored.dom" + std::to_string(self_) + ".sock";
    if (setenv("XENSTORED_PATH", path.c_str(), 1) != 0) return Error{errno};
    return libxen::open_store();
  }
  Result<std::unique_ptr<Grants>> open_grants() override { return sim::open_grants(dir_, self_); }
  Result<std::unique_ptr<EventChannel>> open_event_channel() override {
    return sim::open_event_channel(dir_, self_);
  }
  DomId self() const override { return self_; }
  bool simulated() const override { return true; }
 private:
  std::string dir_;
  DomId self_;
};

}  // namespace

Result<std::unique_ptr<PlatformFactory>> open_platform(const PlatformOptions& options) {
  std::string dir = options.sim_dir;
  DomId self = options.self;
  if (dir.empty()) {
    const char* env = std::getenv("SIMXEN_DIR");
    if (env && *env) {
      dir = env;
      if (const char* d = std::getenv("SIMXEN_DOMID")) {
        char* end = nullptr;
        unsigned long v = std::strtoul(d, &end, 10);
        if (!*d || *end || v > 0x7FF0) return Error{EINVAL};
        self = static_cast<DomId>(v);
      }
    }
  }
  if (dir.empty()) return std::unique_ptr<PlatformFactory>(new RealFactory());
  return std::unique_ptr<PlatformFactory>(new SimFactory(dir, self));
}

}  // namespace vtpm::xen
