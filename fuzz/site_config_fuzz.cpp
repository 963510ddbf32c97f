// libFuzzer harness for vtpmd.conf (runtime/instance/site_config.h), calling what vtpmd's main
// calls. The input is the file's text; it is also taken as a state path. Invariants: a refusal
// has a sentence naming the file and leaves no manager; an accepted manager is an absolute path;
// a UUID found in a path is canonical lower case and applying the site keys only such a path.
#include <cstddef>
#include <cstdint>
#include <string>

#include "instance/site_config.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool canonical(const std::string& u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); i++) {
    const char c = u[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vtpm::instance;
  const std::string text(reinterpret_cast<const char*>(data), size);
  SiteConfig site;
  std::string err;
  if (parse_site_config(text, "vtpmd.conf", site, err)) {
    check(site.manager.empty() || site.manager[0] == '/');
  } else {
    check(err.rfind("vtpmd.conf:", 0) == 0);
    check(site.manager.empty());
  }
  const std::string uuid = uuid_from_libvirt_path(text);
  check(uuid.empty() || canonical(uuid));
  SiteConfig named;
  named.manager = "/run/vtpm/manager.sock";
  Config cfg;
  cfg.state_dir = text;
  std::string why;
  if (apply_site_config(named, "vtpmd.conf", cfg, why)) {
    check(cfg.key.source == KeySource::Manager && cfg.key.uuid == uuid && !uuid.empty());
  } else {
    check(uuid.empty() && !why.empty() && cfg.key.source == KeySource::None);
  }
  return 0;
}
