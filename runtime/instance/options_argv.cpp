// options_argv: argv → RawOptions, getopt_long-style (options_argv.h). Options swtpm has and vtpmd
// does not implement are refused here by name.
#include "instance/options_argv.h"

#include <array>
#include <climits>
#include <string_view>

#include "instance/options_kv.h"

namespace vtpm::instance::argscan {

namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

enum class Opt : uint8_t {
  Port, Fd, Terminate, Daemon, Server, Ctrl, Tpmstate, Tpm2, Log, Key, MigrationKey, Pwdfile, Pid,
  Locality, Flags, Seccomp, RunAs, PrintCapabilities, PrintStates, FoldJournal, Help, Version,
  NotSupported
};

struct OptionSpec {
  const char* name;
  char short_name;  // 0: long only
  bool has_arg;
  Opt opt;
};

constexpr std::array kOptions{
    OptionSpec{"port", 'p', true, Opt::Port},
    OptionSpec{"fd", 'f', true, Opt::Fd},
    OptionSpec{"terminate", 't', false, Opt::Terminate},
    OptionSpec{"daemon", 'd', false, Opt::Daemon},
    OptionSpec{"server", 0, true, Opt::Server},
    OptionSpec{"ctrl", 0, true, Opt::Ctrl},
    OptionSpec{"tpmstate", 0, true, Opt::Tpmstate},
    OptionSpec{"tpm2", 0, false, Opt::Tpm2},
    OptionSpec{"log", 0, true, Opt::Log},
    OptionSpec{"key", 0, true, Opt::Key},
    OptionSpec{"migration-key", 0, true, Opt::MigrationKey},
    OptionSpec{"pwdfile", 0, true, Opt::Pwdfile},
    OptionSpec{"pid", 0, true, Opt::Pid},
    OptionSpec{"locality", 0, true, Opt::Locality},
    OptionSpec{"flags", 0, true, Opt::Flags},
    OptionSpec{"seccomp", 0, true, Opt::Seccomp},
    OptionSpec{"runas", 'r', true, Opt::RunAs},
    OptionSpec{"print-capabilities", 0, false, Opt::PrintCapabilities},
    OptionSpec{"print-states", 0, false, Opt::PrintStates},
    OptionSpec{"fold-journal", 0, false, Opt::FoldJournal},  // vtpmd's own
    OptionSpec{"help", 'h', false, Opt::Help},
    OptionSpec{"version", 'v', false, Opt::Version},
    // swtpm options (0.7.1 or later releases, or other interfaces) vtpmd refuses by name.
    OptionSpec{"chroot", 'R', true, Opt::NotSupported},
    OptionSpec{"migration", 0, true, Opt::NotSupported},
    OptionSpec{"vtpm-proxy", 0, false, Opt::NotSupported},
    OptionSpec{"profile", 0, true, Opt::NotSupported},
    OptionSpec{"print-profiles", 0, false, Opt::NotSupported},
    OptionSpec{"print-info", 0, true, Opt::NotSupported},
    OptionSpec{"pcap", 0, true, Opt::NotSupported},
};

// getopt_long's lookup: an exact name, else a unique prefix.
const OptionSpec* find_long(std::string_view name, std::string& error) {
  for (const OptionSpec& o : kOptions)
    if (name == o.name) return &o;
  const OptionSpec* found = nullptr;
  size_t count = 0;
  std::string candidates;
  for (const OptionSpec& o : kOptions) {
    if (std::string_view(o.name).substr(0, name.size()) != name) continue;
    found = &o;
    ++count;
    candidates += std::string(count == 1 ? "" : " ") + "'--" + o.name + "'";
  }
  if (count == 1) return found;
  if (count == 0)
    error = "unrecognized option '--" + std::string(name) + "'";
  else
    error = "option '--" + std::string(name) + "' is ambiguous; possibilities: " + candidates;
  return nullptr;
}

const OptionSpec* find_short(char c) {
  for (const OptionSpec& o : kOptions)
    if (o.short_name == c) return &o;
  return nullptr;
}

// Applies one option occurrence. `arg` is nullptr for options without an argument.
ScanResult apply(const OptionSpec& o, const char* arg, RawOptions& raw, std::string& error) {
  switch (o.opt) {
    case Opt::Port: {
      uint64_t port = 0;
      if (!kv::parse_decimal(arg, UINT64_MAX, port)) {
        error = "--port: port " + quoted(arg) + " is not a decimal number";
        return ScanResult::Error;
      }
      if (port < 1 || port > 65535) {
        error = "--port: port " + std::string(arg) + " out of range (1-65535)";
        return ScanResult::Error;
      }
      raw.port_from_p = static_cast<uint16_t>(port);
      raw.server = "type=tcp,disconnect";
      raw.server_from = "--port";
      return ScanResult::Ok;
    }
    case Opt::Fd: {
      uint64_t fd = 0;
      if (!kv::parse_decimal(arg, INT_MAX, fd)) {
        error = "--fd: " + quoted(arg) + " is not a file descriptor number";
        return ScanResult::Error;
      }
      if (fd <= 2) {
        error = "--fd: file descriptors 0, 1 and 2 cannot be used";
        return ScanResult::Error;
      }
      raw.data_fd = static_cast<int>(fd);
      return ScanResult::Ok;
    }
    case Opt::Terminate: raw.terminate = true; return ScanResult::Ok;
    case Opt::Daemon: raw.daemon = true; return ScanResult::Ok;
    case Opt::Server: raw.server = arg; raw.server_from = "--server"; return ScanResult::Ok;
    case Opt::Ctrl: raw.ctrl = arg; return ScanResult::Ok;
    case Opt::Tpmstate: raw.tpmstate = arg; return ScanResult::Ok;
    case Opt::Tpm2: raw.tpm2 = true; return ScanResult::Ok;
    case Opt::Log: raw.log = arg; return ScanResult::Ok;
    case Opt::Key: raw.key = arg; return ScanResult::Ok;
    case Opt::MigrationKey: raw.migration_key = arg; return ScanResult::Ok;
    case Opt::Pwdfile: raw.pwdfile = arg; return ScanResult::Ok;
    case Opt::Pid: raw.pid = arg; return ScanResult::Ok;
    case Opt::Locality: raw.locality = arg; return ScanResult::Ok;
    case Opt::Flags: raw.flags = arg; return ScanResult::Ok;
    case Opt::Seccomp: raw.seccomp = arg; return ScanResult::Ok;
    case Opt::RunAs: raw.runas = arg; return ScanResult::Ok;
    case Opt::PrintCapabilities: raw.print_capabilities = true; return ScanResult::Ok;
    case Opt::PrintStates: raw.print_states = true; return ScanResult::Ok;
    case Opt::FoldJournal: raw.fold_journal = true; return ScanResult::Ok;
    case Opt::Help: return ScanResult::Help;
    case Opt::Version: return ScanResult::Version;
    case Opt::NotSupported:
      error = "option '--" + std::string(o.name) + "' is not supported";
      return ScanResult::Error;
  }
  return ScanResult::Error;
}

}  // namespace

ScanResult scan(int argc, char** argv, int first, RawOptions& raw, std::string& error) {
  for (int i = first; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      if (i + 1 < argc) {
        error = "unknown parameter " + quoted(argv[i + 1]);
        return ScanResult::Error;
      }
      return ScanResult::Ok;
    }
    if (a.size() > 2 && a.substr(0, 2) == "--") {
      std::string_view body = a.substr(2);
      size_t eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      const OptionSpec* o = find_long(name, error);
      if (o == nullptr) return ScanResult::Error;
      const char* arg = nullptr;
      if (eq != std::string_view::npos) {
        if (!o->has_arg && o->opt != Opt::NotSupported) {
          error = "option '--" + std::string(o->name) + "' doesn't allow an argument";
          return ScanResult::Error;
        }
        arg = argv[i] + 2 + eq + 1;
      } else if (o->has_arg && o->opt != Opt::NotSupported) {
        if (i + 1 >= argc) {
          error = "option '--" + std::string(o->name) + "' requires an argument";
          return ScanResult::Error;
        }
        arg = argv[++i];
      }
      ScanResult r = apply(*o, arg, raw, error);
      if (r != ScanResult::Ok) return r;
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      // A cluster of short options: "-td", "-p2321", "-p 2321".
      for (size_t k = 1; k < a.size(); ++k) {
        const OptionSpec* o = find_short(a[k]);
        if (o == nullptr) {
          error = "invalid option -- " + quoted(a.substr(k, 1));
          return ScanResult::Error;
        }
        const char* arg = nullptr;
        if (o->has_arg && o->opt != Opt::NotSupported) {
          if (k + 1 < a.size()) {
            arg = argv[i] + k + 1;
          } else if (i + 1 < argc) {
            arg = argv[++i];
          } else {
            error = "option requires an argument -- " + quoted(a.substr(k, 1));
            return ScanResult::Error;
          }
        }
        ScanResult r = apply(*o, arg, raw, error);
        if (r != ScanResult::Ok) return r;
        if (arg != nullptr) break;
      }
      continue;
    }
    error = "unknown parameter " + quoted(a);
    return ScanResult::Error;
  }
  return ScanResult::Ok;
}

}  // namespace vtpm::instance::argscan
