// options_argv: pass 1 of the command line (options.cpp): argv scanned the way swtpm 0.7.1's
// getopt_long sees it (long options and unique prefixes, `--opt=v` and `--opt v`, clustered short
// options, the last of a repeated option wins). Option values are kept as text for pass 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vtpm::instance::argscan {

// What pass 1 collects: the last value of each option, as swtpm keeps the last optarg.
struct RawOptions {
  std::optional<std::string> server, ctrl, tpmstate, log, key, migration_key, pwdfile, pid,
      locality, flags, seccomp, runas;
  const char* server_from = "--server";  // "--port" when -p gave the --server value
  std::optional<uint16_t> port_from_p;   // swtpm's -p sets TPM_PORT for --server type=tcp
  std::optional<int> data_fd;            // -f/--fd
  bool tpm2 = false, terminate = false, daemon = false;
  bool print_capabilities = false, print_states = false, fold_journal = false;
};

enum class ScanResult : uint8_t { Ok, Error, Help, Version };

// Scans argv[first..argc) (after the interface word). Stops at the first error (`error` set,
// without the program name), or at --help/--version as swtpm exits when getopt reaches -h.
ScanResult scan(int argc, char** argv, int first, RawOptions& raw, std::string& error);

}  // namespace vtpm::instance::argscan
