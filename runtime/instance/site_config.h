// The host-wide vtpmd configuration, /etc/vtpm/vtpmd.conf (or the file $VTPMD_CONF names), for
// hosts where vtpmd is started by someone who passes swtpm's fixed command line (libvirt runs
// `swtpm socket --tpmstate dir=/var/lib/libvirt/swtpm/<domain-uuid>/tpm2 …`): when it names a
// manager, an instance started without --key takes its key from that vtpm-manager and its UUID
// from libvirt's state path. Pure: the caller reads the file.
//
//   # comment
//   manager = /run/vtpm/manager.sock
#pragma once

#include <string>

#include "instance/config.h"

namespace vtpm::instance {

struct SiteConfig {
  std::string manager;  // the manager's socket ("" = none)
};

// Parses the file's text: `name = value` lines, blank lines and `#` comments; `manager` is the one
// name known. False with `err` ("vtpmd.conf:3: …") on anything else.
bool parse_site_config(const std::string& text, const std::string& name, SiteConfig& out, std::string& err);

// libvirt's state path …/swtpm/<uuid>/tpm2 (or …/tpm1.2), trailing slashes allowed: the UUID in
// canonical lower case, or "" when the path is not libvirt's.
std::string uuid_from_libvirt_path(const std::string& state_dir);

// Applies `site` to a parsed command line that gave no --key: the manager key of `state_dir`'s
// UUID. False with `err` when the site names a manager but the path carries no UUID (vtpmd
// then does not start: the host asked for manager-held keys).
bool apply_site_config(const SiteConfig& site, const std::string& conf_name, Config& cfg, std::string& err);

}  // namespace vtpm::instance
