// tpmcmd: send TPM 2.0 commands or control-channel requests to a running `swtpm socket`-style
// daemon and print the answers in hex; a debugging aid for the differential test and benchmarks.
//
//   tpmcmd --unix D.sock startup clear getrandom 16 pcr-read 16
//   tpmcmd --tcp 2321 raw 80010000000c0000017b0008
//   tpmcmd --ctrl-unix C.sock ctrl 00000001        (raw control request: CMD_GET_CAPABILITY)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "connection.h"
#include "swtpm_ctrl.h"
#include "tpm2_commands.h"

using namespace vtpm::testtools;

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: tpmcmd [--unix PATH | --tcp PORT] [--ctrl-unix PATH | --ctrl-tcp PORT] [--timeout MS] ACTION...\n"
               "actions: raw HEX | ctrl HEX | startup clear|state | shutdown clear|state | getrandom N |\n"
               "         pcr-extend PCR | pcr-read PCR | pcr-reset PCR | readclock | selftest |\n"
               "         getcap CAP PROP COUNT | create-primary ecc|rsa | flush HANDLE\n");
  std::exit(2);
}

uint32_t num(const char* s) { return uint32_t(std::strtoul(s, nullptr, 0)); }

}  // namespace

int main(int argc, char** argv) {
  Endpoint data, ctl;
  bool have_data = false, have_ctl = false;
  int timeout = 30000;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string o = argv[i];
    if (i + 1 >= argc) usage();
    if (o == "--unix") data = Endpoint::unix_path(argv[++i]), have_data = true;
    else if (o == "--tcp") data = Endpoint::tcp(uint16_t(num(argv[++i]))), have_data = true;
    else if (o == "--ctrl-unix") ctl = Endpoint::unix_path(argv[++i]), have_ctl = true;
    else if (o == "--ctrl-tcp") ctl = Endpoint::tcp(uint16_t(num(argv[++i]))), have_ctl = true;
    else if (o == "--timeout") timeout = int(num(argv[++i]));
    else usage();
  }
  if (i >= argc) usage();
  try {
    Connection dc, cc;
    auto tpm = [&](const Bytes& cmd) {
      if (!have_data) usage();
      if (!dc.valid()) dc = Connection::connect(data, timeout);
      Bytes r = dc.transact_tpm(cmd, timeout);
      std::printf("%s\n", hex(r).c_str());
    };
    for (; i < argc; ++i) {
      std::string a = argv[i];
      auto arg = [&]() -> const char* {
        if (i + 1 >= argc) usage();
        return argv[++i];
      };
      if (a == "raw") {
        tpm(from_hex(arg()));
      } else if (a == "ctrl") {
        if (!have_ctl) usage();
        if (!cc.valid()) cc = Connection::connect(ctl, timeout);
        std::printf("%s\n", hex(ctrl::transact(cc, from_hex(arg()), timeout)).c_str());
      } else if (a == "startup" || a == "shutdown") {
        uint16_t su = std::string(arg()) == "state" ? tpm2::SU_STATE : tpm2::SU_CLEAR;
        tpm(a == "startup" ? tpm2::startup(su) : tpm2::shutdown(su));
      } else if (a == "getrandom") {
        tpm(tpm2::get_random(uint16_t(num(arg()))));
      } else if (a == "pcr-extend") {
        tpm(tpm2::pcr_extend(num(arg()), {{tpm2::ALG_SHA256, Bytes(32, 0x5a)}}));
      } else if (a == "pcr-read") {
        tpm(tpm2::pcr_read({{tpm2::ALG_SHA256, 1u << num(arg())}}));
      } else if (a == "pcr-reset") {
        tpm(tpm2::pcr_reset(num(arg())));
      } else if (a == "readclock") {
        tpm(tpm2::read_clock());
      } else if (a == "selftest") {
        tpm(tpm2::self_test(true));
      } else if (a == "getcap") {
        uint32_t cap = num(arg()), prop = num(arg()), count = num(arg());
        tpm(tpm2::get_capability(cap, prop, count));
      } else if (a == "create-primary") {
        bool rsa = std::string(arg()) == "rsa";
        tpm(tpm2::create_primary(tpm2::RH_OWNER, rsa ? tpm2::template_rsa2048_storage() : tpm2::template_ecc_p256_storage()));
      } else if (a == "flush") {
        tpm(tpm2::flush_context(num(arg())));
      } else {
        usage();
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tpmcmd: %s\n", e.what());
    return 1;
  }
  return 0;
}
