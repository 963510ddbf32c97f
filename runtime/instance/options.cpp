// options: `vtpmd socket …` → ParsedCommandLine (options.h). Two passes, as swtpm 0.7.1 does:
// scan argv getopt_long-style (options_argv.h), then parse each option's value list
// (options_kv.h) and check what needs all options (startup-deactivated vs --tpm2, ctrl/server).
//
// Choices where vtpmd differs from swtpm 0.7.1 (which ignores most mistakes):
// - values are strict: unknown, unsupported, repeated or irrelevant keys are refused, numbers are
//   decimal without garbage and range-checked, ports are 1-65535, modes are octal <= 0777;
// - options swtpm has but vtpmd does not implement are refused by name (options_argv.cpp);
// - --seccomp action=kill|log|none as swtpm (default kill), but the filter is an allow-list
//   (transports/vtpmd/sandbox.h); -r/--runas USER is looked up and applied at start-up by main();
// - --pwdfile P (a swtpm_setup option, not a swtpm one) is accepted as --key pwdfile=P;
// - uid=/gid= of unix sockets are accepted (number or name) for the transport to chown;
// - a run needs a state directory, and a control channel unless the data channel is used with
//   --flags not-need-init (swtpm would start and fail at the first INIT instead).
#include "instance/options.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "instance/options_argv.h"
#include "instance/options_kv.h"

namespace vtpm::instance {

using kv::KeyKind;
using kv::KeySpec;
using argscan::RawOptions;
using argscan::ScanResult;

namespace {

constexpr size_t kMaxUnixPath = 107;  // sizeof(sockaddr_un::sun_path) - 1 (Linux)

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// ---- pass 2: option values ------------------------------------------------------------------

bool unix_path(const kv::Values& v, ChannelConfig& ch, std::string& error) {
  const std::string& path = *v.get("path");
  if (path.size() > kMaxUnixPath) {
    error = std::string(v.option()) + ": path is " + std::to_string(path.size()) +
            " bytes long; a unix socket path has at most " + std::to_string(kMaxUnixPath);
    return false;
  }
  ch.kind = Endpoint::UnixPath;
  ch.path = path;
  ch.mode = 0770;  // swtpm 0.7.1's default for unix socket files
  if (v.has("mode")) {
    uint32_t mode = 0;
    if (!v.mode("mode", mode, error)) return false;
    ch.mode = mode;
  }
  return true;
}

// uid=/gid=: a decimal id or a user/group name, as swtpm accepts.
bool owner_id(const kv::Values& v, std::string_view key, std::optional<uint32_t>& out,
              std::string& error) {
  const std::string* s = v.get(key);
  if (s == nullptr) return true;
  uint64_t n = 0;
  if (kv::parse_decimal(*s, UINT32_MAX - 1, n)) {  // (uid_t)-1 means "unchanged" to chown()
    out = static_cast<uint32_t>(n);
    return true;
  }
  if ((*s)[0] >= '0' && (*s)[0] <= '9') {
    error = std::string(v.option()) + ": " + std::string(key) + " " + quoted(*s) +
            " is not a valid id";
    return false;
  }
  std::vector<char> buf(1 << 16);  // large groups need more than sysconf's usual suggestion
  if (key == "uid") {
    passwd pw{};
    passwd* res = nullptr;
    if (getpwnam_r(s->c_str(), &pw, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
      out = res->pw_uid;
      return true;
    }
    error = std::string(v.option()) + ": unknown user " + quoted(*s);
  } else {
    group gr{};
    group* res = nullptr;
    if (getgrnam_r(s->c_str(), &gr, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
      out = res->gr_gid;
      return true;
    }
    error = std::string(v.option()) + ": unknown group " + quoted(*s);
  }
  return false;
}

bool unix_owner(const kv::Values& v, ChannelConfig& ch, std::string& error) {
  return owner_id(v, "uid", ch.uid, error) && owner_id(v, "gid", ch.gid, error);
}

// port= and bindaddr= of a listening TCP socket.
bool tcp_listen(const kv::Values& v, std::optional<uint16_t> port_fallback, ChannelConfig& ch,
                std::string& error) {
  ch.kind = Endpoint::TcpPort;
  if (v.has("port")) {
    uint64_t port = 0;
    if (!v.number("port", 1, 65535, port, error)) return false;
    ch.port = static_cast<uint16_t>(port);
  } else {
    ch.port = *port_fallback;
  }
  if (const std::string* addr = v.get("bindaddr")) {
    // swtpm: an address with ':' is IPv6, else IPv4; no host names. Link-local IPv6 needs
    // ifname=, which vtpmd does not implement.
    bool v6 = addr->find(':') != std::string::npos;
    in6_addr a6{};
    in_addr a4{};
    int ok = v6 ? inet_pton(AF_INET6, addr->c_str(), &a6) : inet_pton(AF_INET, addr->c_str(), &a4);
    if (ok != 1) {
      error = std::string(v.option()) + ": bindaddr " + quoted(*addr) +
              " is not an IPv4 or IPv6 address";
      return false;
    }
    if (v6 && IN6_IS_ADDR_LINKLOCAL(&a6)) {
      error = std::string(v.option()) + ": link-local bindaddr " + quoted(*addr) +
              " needs ifname=, which is not supported";
      return false;
    }
    ch.bindaddr = *addr;
  }
  return true;
}

constexpr KeySpec kCtrlKeys[] = {
    {"type", KeyKind::Text},       {"path", KeyKind::Text},     {"port", KeyKind::Text},
    {"bindaddr", KeyKind::Text},   {"fd", KeyKind::Text},       {"clientfd", KeyKind::Text},
    {"mode", KeyKind::Text},       {"uid", KeyKind::Text},      {"gid", KeyKind::Text},
    {"ifname", KeyKind::Unsupported}, {"terminate", KeyKind::Unsupported},
};

bool parse_ctrl(const std::string& text, ChannelConfig& ch, std::string& error) {
  kv::Values v;
  if (!v.parse("--ctrl", text, kCtrlKeys, error)) return false;
  const std::string* type = v.get("type");
  if (type == nullptr) {
    error = "--ctrl: missing type= (unixio or tcp)";
    return false;
  }
  if (*type == "unixio") {
    if (!v.only({"type", "path", "fd", "clientfd", "mode", "uid", "gid"}, "type=unixio", error) ||
        !v.at_most_one({"path", "fd", "clientfd"}, error))
      return false;
    if (v.has("path")) return unix_path(v, ch, error) && unix_owner(v, ch, error);
    if (!v.only({"type", "fd", "clientfd"}, "fd= or clientfd= (they apply to path=)", error))
      return false;
    if (v.has("fd")) {
      ch.kind = Endpoint::UnixFd;
      return v.fd("fd", ch.fd, error);
    }
    if (v.has("clientfd")) {
      ch.kind = Endpoint::UnixClientFd;
      return v.fd("clientfd", ch.fd, error);
    }
    error = "--ctrl: type=unixio needs path=, fd= or clientfd=";
    return false;
  }
  if (*type == "tcp") {
    if (!v.only({"type", "port", "bindaddr", "fd"}, "type=tcp", error) ||
        !v.at_most_one({"port", "fd"}, error))
      return false;
    if (v.has("fd")) {
      if (!v.only({"type", "fd"}, "fd= (it applies to port=)", error)) return false;
      ch.kind = Endpoint::UnixFd;  // a listening socket: see config.h
      return v.fd("fd", ch.fd, error);
    }
    if (!v.has("port")) {
      error = "--ctrl: type=tcp needs port= or fd=";
      return false;
    }
    return tcp_listen(v, std::nullopt, ch, error);
  }
  error = "--ctrl: unknown type " + quoted(*type) + " (expected unixio or tcp)";
  return false;
}

constexpr KeySpec kServerKeys[] = {
    {"type", KeyKind::Text},     {"path", KeyKind::Text},       {"port", KeyKind::Text},
    {"bindaddr", KeyKind::Text}, {"fd", KeyKind::Text},         {"disconnect", KeyKind::Bool},
    {"mode", KeyKind::Text},     {"uid", KeyKind::Text},        {"gid", KeyKind::Text},
    {"ifname", KeyKind::Unsupported},
};

bool parse_server(const RawOptions& raw, const Environment& env, ChannelConfig& ch,
                  bool& terminate, std::string& error) {
  kv::Values v;
  if (!v.parse(raw.server_from, *raw.server, kServerKeys, error)) return false;
  const std::string* type = v.get("type");
  ch.disconnect = v.flag("disconnect");
  if (type == nullptr || *type == "tcp") {
    if (!v.only({"type", "port", "bindaddr", "fd", "disconnect"}, "type=tcp", error) ||
        !v.at_most_one({"port", "fd"}, error))
      return false;
    if (v.has("fd")) {
      // An already connected socket: swtpm serves it and exits when it closes.
      if (!v.only({"type", "fd"}, "fd= (the connection is given, not accepted)", error))
        return false;
      ch.kind = Endpoint::TcpFd;
      terminate = true;
      return v.fd("fd", ch.fd, error);
    }
    std::optional<uint16_t> fallback = raw.port_from_p;
    if (!v.has("port") && !fallback) {
      if (env.tpm_port == nullptr || *env.tpm_port == '\0') {
        error = "--server: type=tcp needs port= or fd= (or TPM_PORT in the environment)";
        return false;
      }
      uint64_t port = 0;
      if (!kv::parse_decimal(env.tpm_port, 65535, port) || port == 0) {
        error = "TPM_PORT: " + quoted(env.tpm_port) + " is not a port number (1-65535)";
        return false;
      }
      fallback = static_cast<uint16_t>(port);
    }
    return tcp_listen(v, fallback, ch, error);
  }
  if (*type == "unixio") {
    if (!v.only({"type", "path", "fd", "mode", "uid", "gid", "disconnect"}, "type=unixio",
                error) ||
        !v.at_most_one({"path", "fd"}, error))
      return false;
    if (v.has("path")) return unix_path(v, ch, error) && unix_owner(v, ch, error);
    if (!v.has("fd")) {
      error = std::string(raw.server_from) + ": type=unixio needs path= or fd=";
      return false;
    }
    if (!v.only({"type", "fd", "disconnect"}, "fd= (they apply to path=)", error)) return false;
    ch.kind = Endpoint::UnixFd;  // a listening socket
    return v.fd("fd", ch.fd, error);
  }
  error = "--server: unknown type " + quoted(*type) + " (expected tcp or unixio)";
  return false;
}

constexpr KeySpec kTpmstateKeys[] = {
    {"dir", KeyKind::Text},          {"mode", KeyKind::Text},
    {"backend-uri", KeyKind::Text},  {"lock", KeyKind::Unsupported},
    {"backup", KeyKind::Unsupported}, {"fsync", KeyKind::Unsupported},
};

bool parse_tpmstate(const std::string& text, Config& cfg, std::string& error) {
  kv::Values v;
  if (!v.parse("--tpmstate", text, kTpmstateKeys, error)) return false;
  if (!v.at_most_one({"dir", "backend-uri"}, error)) return false;
  if (const std::string* dir = v.get("dir")) {
    cfg.state_dir = *dir;
  } else if (const std::string* uri = v.get("backend-uri")) {
    std::string_view u = *uri;
    if (u.substr(0, 6) == "dir://") {
      if (u.size() == 6) {
        error = "--tpmstate: backend-uri " + quoted(u) + " names no directory";
        return false;
      }
      cfg.state_dir = std::string(u.substr(6));
    } else if (u.substr(0, 7) == "file://") {
      if (u.size() == 7 || u.back() == '/') {
        error = "--tpmstate: backend-uri " + quoted(u) + " names no file";
        return false;
      }
      cfg.state_file = std::string(u.substr(7));
    } else {
      error = "--tpmstate: unknown backend-uri " + quoted(u) + " (expected dir://DIR or file://FILE)";
      return false;
    }
  } else {
    error = "--tpmstate: needs dir= or backend-uri=";
    return false;
  }
  if (v.has("mode")) {
    uint32_t mode = 0;
    if (!v.mode("mode", mode, error)) return false;
    cfg.state_mode = mode;
  }
  return true;
}

constexpr KeySpec kFlagsKeys[] = {
    {"not-need-init", KeyKind::Bool},       {"startup-clear", KeyKind::Bool},
    {"startup-state", KeyKind::Bool},       {"startup-deactivated", KeyKind::Bool},
    {"startup-none", KeyKind::Bool},        {"disable-auto-shutdown", KeyKind::Unsupported},
};

bool parse_flags(const std::string& text, Config& cfg, std::string& error) {
  kv::Values v;
  if (!v.parse("--flags", text, kFlagsKeys, error)) return false;
  struct StartupFlag {
    const char* name;
    Startup startup;
  };
  constexpr StartupFlag kStartups[] = {{"startup-clear", Startup::Clear},
                                       {"startup-state", Startup::State},
                                       {"startup-deactivated", Startup::Deactivated},
                                       {"startup-none", Startup::None}};
  int chosen = 0;
  for (const StartupFlag& s : kStartups) {
    if (!v.flag(s.name)) continue;
    if (++chosen > 1) {
      error = "--flags: give only one of startup-clear, startup-state, startup-deactivated, "
              "startup-none";
      return false;
    }
    cfg.startup = s.startup;
  }
  // swtpm 0.7.1: a Startup type other than none makes the TPM start without INIT;
  // startup-none alone leaves INIT required.
  cfg.not_need_init = v.flag("not-need-init") || cfg.startup != Startup::None;
  return true;
}

constexpr KeySpec kPidKeys[] = {{"file", KeyKind::Text}, {"fd", KeyKind::Text}};

bool parse_pid(const std::string& text, Config& cfg, std::string& error) {
  kv::Values v;
  if (!v.parse("--pid", text, kPidKeys, error) || !v.at_most_one({"file", "fd"}, error))
    return false;
  if (const std::string* file = v.get("file")) {
    cfg.pid_file = *file;
    return true;
  }
  if (v.has("fd")) return v.fd("fd", cfg.pid_fd, error);
  error = "--pid: needs file= or fd=";
  return false;
}

constexpr KeySpec kLogKeys[] = {
    {"file", KeyKind::Text},   {"fd", KeyKind::Text},       {"level", KeyKind::Text},
    {"prefix", KeyKind::Text}, {"truncate", KeyKind::Bool},
};

bool parse_log(const std::string& text, Config& cfg, std::string& error) {
  kv::Values v;
  if (!v.parse("--log", text, kLogKeys, error) || !v.at_most_one({"file", "fd"}, error))
    return false;
  if (const std::string* file = v.get("file")) cfg.log_file = *file;
  if (v.has("fd") && !v.fd("fd", cfg.log_fd, error)) return false;
  if (v.has("truncate") && !v.has("file")) {
    error = "--log: truncate applies only to file=";
    return false;
  }
  cfg.log_truncate = v.flag("truncate");
  cfg.log_level = 1;  // swtpm: --log without level= (or level=0) logs at level 1
  if (v.has("level")) {
    uint64_t level = 0;
    if (!v.number("level", 0, UINT32_MAX, level, error)) return false;
    if (level > 0) cfg.log_level = static_cast<uint32_t>(level);
  }
  if (const std::string* prefix = v.get("prefix")) cfg.log_prefix = *prefix;
  return true;
}

constexpr KeySpec kKeyKeys[] = {
    {"file", KeyKind::Text},   {"fd", KeyKind::Text},   {"pwdfile", KeyKind::Text},
    {"pwdfd", KeyKind::Text},  {"format", KeyKind::Text}, {"mode", KeyKind::Text},
    {"kdf", KeyKind::Text},    {"remove", KeyKind::Bool}, {"manager", KeyKind::Text},
    {"uuid", KeyKind::Text},
};

// A UUID in its canonical text form (RFC 4122 §3: 8-4-4-4-12 hex digits), either case;
// `out` is its lower-case spelling, which is what the manager and the sealed files bind.
bool canonical_uuid(const std::string& text, std::string& out) {
  if (text.size() != 36) return false;
  out.clear();
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
      out.push_back(c);
      continue;
    }
    if (c >= '0' && c <= '9') {
      out.push_back(c);
    } else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      out.push_back(static_cast<char>(c | 0x20));
    } else {
      return false;
    }
  }
  return true;
}

// --key manager=SOCKET,uuid=UUID: vtpmd's own form (vtpm-manager holds the key).
bool parse_manager_key(const char* option, const kv::Values& v, KeyConfig& key, std::string& error) {
  const std::string prefix = std::string(option) + ": ";
  for (const char* other : {"file", "fd", "pwdfile", "pwdfd", "format", "mode", "kdf", "remove"}) {
    if (v.has(other)) {
      error = prefix + "manager= cannot be combined with " + other + "= (the manager holds the key)";
      return false;
    }
  }
  const std::string* path = v.get("manager");
  const std::string* uuid = v.get("uuid");
  if (uuid == nullptr) {
    error = prefix + "manager= needs uuid=UUID, the instance's identity at the manager";
    return false;
  }
  if (!canonical_uuid(*uuid, key.uuid)) {
    error = prefix + "uuid " + quoted(*uuid) + " is not a UUID (expected 8-4-4-4-12 hex digits)";
    return false;
  }
  key.source = KeySource::Manager;
  key.path = *path;
  key.key_bits = 256;
  return true;
}

// --key and --migration-key share one grammar.
bool parse_key(const char* option, const std::string& text, KeyConfig& key, std::string& error) {
  kv::Values v;
  if (!v.parse(option, text, kKeyKeys, error) ||
      !v.at_most_one({"file", "fd", "pwdfile", "pwdfd"}, error))
    return false;
  const std::string prefix = std::string(option) + ": ";
  if (v.has("manager")) {
    if (std::string_view(option) != "--key") {
      error = prefix + "manager= is only for --key (the state-file key)";
      return false;
    }
    return parse_manager_key(option, v, key, error);
  }
  if (v.has("uuid")) {
    error = prefix + "uuid= applies only to manager=";
    return false;
  }
  if (const std::string* file = v.get("file")) {
    key.source = KeySource::KeyFile;
    key.path = *file;
  } else if (v.has("fd")) {
    key.source = KeySource::KeyFd;
    if (!v.fd("fd", key.fd, error)) return false;
  } else if (const std::string* pwdfile = v.get("pwdfile")) {
    key.source = KeySource::PwdFile;
    key.path = *pwdfile;
  } else if (v.has("pwdfd")) {
    key.source = KeySource::PwdFd;
    if (!v.fd("pwdfd", key.fd, error)) return false;
  } else {
    error = prefix + "needs file=, fd=, pwdfile= or pwdfd=";
    return false;
  }
  bool is_key = key.source == KeySource::KeyFile || key.source == KeySource::KeyFd;
  if (const std::string* format = v.get("format")) {
    if (!is_key) {
      error = prefix + "format= applies only to file= and fd= (a passphrase has no format)";
      return false;
    }
    if (*format == "hex") {
      key.format = KeyFormat::Hex;
    } else if (*format == "binary") {
      key.format = KeyFormat::Binary;
    } else {
      error = prefix + "unknown format " + quoted(*format) + " (expected hex or binary)";
      return false;
    }
  }
  if (const std::string* kdf = v.get("kdf")) {
    if (is_key) {
      error = prefix + "kdf= applies only to pwdfile= and pwdfd=";
      return false;
    }
    if (*kdf == "pbkdf2") {
      key.kdf = Kdf::Pbkdf2;
    } else if (*kdf == "sha512") {
      key.kdf = Kdf::Sha512;
    } else {
      error = prefix + "unknown kdf " + quoted(*kdf) + " (expected pbkdf2 or sha512)";
      return false;
    }
  }
  if (const std::string* mode = v.get("mode")) {
    // swtpm's names: aes-cbc is AES-128-CBC; aes-128-cbc is its default spelled out.
    if (*mode == "aes-cbc" || *mode == "aes-128-cbc") {
      key.key_bits = 128;
    } else if (*mode == "aes-256-cbc") {
      key.key_bits = 256;
    } else {
      error = prefix + "unknown mode " + quoted(*mode) + " (expected aes-cbc or aes-256-cbc)";
      return false;
    }
  }
  if (v.has("remove") && (key.source == KeySource::KeyFd || key.source == KeySource::PwdFd)) {
    error = prefix + "remove applies only to file= and pwdfile=";
    return false;
  }
  key.remove = v.flag("remove");
  return true;
}

constexpr KeySpec kLocalityKeys[] = {{"reject-locality-4", KeyKind::Bool},
                                     {"allow-set-locality", KeyKind::Bool}};

bool parse_locality(const std::string& text, Config& cfg, std::string& error) {
  kv::Values v;
  if (!v.parse("--locality", text, kLocalityKeys, error)) return false;
  cfg.reject_locality4 = v.flag("reject-locality-4");
  cfg.allow_set_locality = v.flag("allow-set-locality");
  return true;
}

constexpr KeySpec kSeccompKeys[] = {{"action", KeyKind::Text}};

bool parse_seccomp(const std::string& text, Config& cfg, std::string& error) {
  kv::Values v;
  if (!v.parse("--seccomp", text, kSeccompKeys, error)) return false;
  const std::string* action = v.get("action");
  // swtpm 0.7.1: action= defaults to kill; log is SCMP_ACT_LOG (the kernel logs, the call runs).
  if (action == nullptr || *action == "kill") {
    cfg.seccomp = SeccompAction::Kill;
  } else if (*action == "log") {
    cfg.seccomp = SeccompAction::Log;
  } else if (*action == "none") {
    cfg.seccomp = SeccompAction::None;
  } else {
    error = "--seccomp: unknown action " + quoted(*action) + " (expected none, kill or log)";
    return false;
  }
  return true;
}

// Pass 2 and the checks that need all options.
bool build(const RawOptions& raw, const Environment& env, ParsedCommandLine& out,
           std::string& error) {
  Config& cfg = out.config;
  cfg.tpm2 = raw.tpm2;
  cfg.terminate = raw.terminate;
  cfg.daemon = raw.daemon;

  if (raw.tpmstate) {
    if (!parse_tpmstate(*raw.tpmstate, cfg, error)) return false;
  } else if (env.tpm_path != nullptr && *env.tpm_path != '\0') {
    cfg.state_dir = env.tpm_path;
  }
  if (raw.ctrl && !parse_ctrl(*raw.ctrl, cfg.ctrl, error)) return false;
  if (raw.data_fd && raw.server) {
    error = "--fd cannot be combined with --server or --port";
    return false;
  }
  if (raw.server && !parse_server(raw, env, cfg.server, cfg.terminate, error)) return false;
  if (raw.data_fd) {
    // -f/--fd: an already connected data channel; swtpm exits when it closes.
    cfg.server.kind = Endpoint::TcpFd;
    cfg.server.fd = *raw.data_fd;
    cfg.terminate = true;
  }
  if (raw.flags && !parse_flags(*raw.flags, cfg, error)) return false;
  if (raw.pid && !parse_pid(*raw.pid, cfg, error)) return false;
  if (raw.log && !parse_log(*raw.log, cfg, error)) return false;
  if (raw.key && !parse_key("--key", *raw.key, cfg.key, error)) return false;
  if (cfg.key.source == KeySource::Manager) cfg.instance_id = cfg.key.uuid;  // bound into the files
  if (raw.migration_key &&
      !parse_key("--migration-key", *raw.migration_key, cfg.migration_key, error))
    return false;
  if (raw.pwdfile) {
    if (raw.key) {
      error = "--pwdfile and --key cannot both be given";
      return false;
    }
    cfg.key.source = KeySource::PwdFile;
    cfg.key.path = *raw.pwdfile;
  }
  if (raw.locality && !parse_locality(*raw.locality, cfg, error)) return false;
  if (raw.seccomp && !parse_seccomp(*raw.seccomp, cfg, error)) return false;
  if (raw.runas) {
    // The user is looked up when vtpmd starts (transports/vtpmd/sandbox.h), as swtpm does.
    if (raw.runas->empty()) {
      error = "--runas: needs a user name or a uid";
      return false;
    }
    cfg.runas = *raw.runas;
  }

  // TPM_ST_DEACTIVATED exists only in TPM 1.2 (swtpm: "TPM 2 does not support startup
  // deactivated").
  if (cfg.tpm2 && cfg.startup == Startup::Deactivated) {
    error = "--flags: startup-deactivated is only valid for TPM 1.2 (not with --tpm2)";
    return false;
  }

  if (raw.print_capabilities) {
    out.action = Action::PrintCapabilities;
    return true;
  }
  if (raw.print_states) {
    // swtpm 0.7.1 requires the option here; TPM_PATH is not enough.
    if (!raw.tpmstate) {
      error = "--print-states needs --tpmstate";
      return false;
    }
    out.action = Action::PrintStates;
    return true;
  }
  if (raw.fold_journal) {
    if (cfg.state_dir.empty() && cfg.state_file.empty()) {
      error = "--fold-journal needs --tpmstate dir=… (or the TPM_PATH environment variable)";
      return false;
    }
    out.action = Action::FoldJournal;
    return true;
  }
  out.action = Action::Run;
  if (cfg.state_dir.empty() && cfg.state_file.empty()) {
    error = "missing --tpmstate dir=… (or the TPM_PATH environment variable)";
    return false;
  }
  if (cfg.ctrl.kind == Endpoint::None &&
      (cfg.server.kind == Endpoint::None || !cfg.not_need_init)) {
    error = "--ctrl is needed, unless a data channel (--server, --port or --fd) is used with "
            "--flags not-need-init";
    return false;
  }
  return true;
}

}  // namespace

Environment Environment::from_process() {
  return Environment{std::getenv("TPM_PATH"), std::getenv("TPM_PORT")};
}

bool parse_command_line(int argc, char** argv, const Environment& env, ParsedCommandLine& out,
                        std::string& error) {
  out = ParsedCommandLine{};
  error.clear();
  if (argc < 2) {
    error = "Missing TPM interface type (usage: vtpmd socket [options]; vtpmd --help).";
    return false;
  }
  std::string_view iface = argv[1];
  if (iface == "-h" || iface == "--help") {
    out.action = Action::Help;
    return true;
  }
  if (iface == "-v" || iface == "--version") {
    out.action = Action::Version;
    return true;
  }
  if (iface != "socket") {
    // swtpm's wording: swtpm's tests grep "Unsupported TPM interface" to skip chardev/cuse.
    error = "Unsupported TPM interface type " + quoted(iface) + ".";
    return false;
  }
  RawOptions raw;
  switch (argscan::scan(argc, argv, 2, raw, error)) {
    case ScanResult::Error: return false;
    case ScanResult::Help: out.action = Action::Help; return true;
    case ScanResult::Version: out.action = Action::Version; return true;
    case ScanResult::Ok: break;
  }
  return build(raw, env, out, error);
}

bool parse_command_line(int argc, char** argv, ParsedCommandLine& out, std::string& error) {
  return parse_command_line(argc, argv, Environment::from_process(), out, error);
}

}  // namespace vtpm::instance
