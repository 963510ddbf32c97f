// vtpmd.conf (site_config.h).
#include "instance/site_config.h"

namespace vtpm::instance {
namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r')) a++;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) b--;
  return s.substr(a, b - a);
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool parse_site_config(const std::string& text, const std::string& name, SiteConfig& result, std::string& err) {
  result = SiteConfig{};
  SiteConfig out;  // given to the caller only when the whole file parsed
  size_t start = 0;
  int line_no = 0;
  bool seen_manager = false;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(text.substr(start, end - start));
    start = end + 1;
    line_no++;
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    const std::string where = name + ":" + std::to_string(line_no) + ": ";
    if (eq == std::string::npos) {
      err = where + "expected 'name = value', found '" + line + "'";
      return false;
    }
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key != "manager") {
      err = where + "unknown setting '" + key + "' (known: manager)";
      return false;
    }
    if (seen_manager) {
      err = where + "manager is set twice";
      return false;
    }
    if (value.empty() || value[0] != '/') {
      err = where + "manager needs the absolute path of the manager's socket";
      return false;
    }
    seen_manager = true;
    out.manager = value;
  }
  result = out;
  return true;
}

std::string uuid_from_libvirt_path(const std::string& state_dir) {
  std::string p = state_dir;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t leaf = p.rfind('/');
  if (leaf == std::string::npos) return "";
  const std::string last = p.substr(leaf + 1);
  if (last != "tpm2" && last != "tpm1.2") return "";
  p.resize(leaf);
  const size_t u = p.rfind('/');
  if (u == std::string::npos) return "";
  std::string uuid = p.substr(u + 1);
  p.resize(u);
  if (!is_uuid(uuid) || p.size() < 6 || p.compare(p.size() - 6, 6, "/swtpm") != 0) return "";
  for (char& c : uuid)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c | 0x20);
  return uuid;
}

bool apply_site_config(const SiteConfig& site, const std::string& conf_name, Config& cfg, std::string& err) {
  if (site.manager.empty() || cfg.key.source != KeySource::None) return true;  // --key wins
  const std::string uuid = uuid_from_libvirt_path(cfg.state_dir);
  if (uuid.empty()) {
    err = conf_name + " names the manager " + site.manager + ", but the state path '" + cfg.state_dir +
          "' is not libvirt's …/swtpm/<uuid>/tpm2, so the instance has no UUID: give --key manager=" +
          site.manager + ",uuid=UUID";
    return false;
  }
  cfg.key.source = KeySource::Manager;
  cfg.key.path = site.manager;
  cfg.key.uuid = uuid;
  cfg.key.key_bits = 256;
  cfg.instance_id = uuid;
  return true;
}

}  // namespace vtpm::instance
