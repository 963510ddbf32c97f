// options: the `vtpmd socket …` command line, in swtpm 0.7.1's grammar (reference/swtpm-qemu.md
// §1.6, §3.2, §7), parsed into a ParsedCommandLine; and the texts vtpmd prints instead of running
// (--help, --version, --print-capabilities). Pure: nothing is opened, bound or read here, except
// the user and group databases for uid=/gid= names.
#pragma once

#include <string>
#include <vector>

#include "instance/config.h"

namespace vtpm::instance {

// The environment variables swtpm reads while parsing: TPM_PATH (state directory when there is
// no --tpmstate) and TPM_PORT (data port of --server type=tcp without port=). nullptr = unset.
struct Environment {
  const char* tpm_path = nullptr;
  const char* tpm_port = nullptr;
  static Environment from_process();  // getenv()
};

// argv[0] is the program, argv[1] the interface: `socket`, or `-h/--help`, `-v/--version` alone.
// On failure `error` holds one line without the program name ("--ctrl: unknown type 'foo'"); the
// caller prints "vtpmd: <error>" to stderr and exits 1. `chardev`/`cuse` give swtpm's
// "Unsupported TPM interface type 'chardev'." so that swtpm's test suite skips those tests.
bool parse_command_line(int argc, char** argv, const Environment& env, ParsedCommandLine& out,
                        std::string& error);
// The same, reading the process environment.
bool parse_command_line(int argc, char** argv, ParsedCommandLine& out, std::string& error);

// --help: what vtpmd accepts, ending in a newline. Mentions --seccomp, which swtpm's tests take as
// a promise of an active filter ("Seccomp: 2"), and never cuse.
std::string usage_text();
// --version, one line without newline: "TPM emulator version 0.7.1, vtpmd <version>".
std::string version_text();
// --print-capabilities, one line of JSON without newline, in swtpm 0.7.1's exact format and
// order, listing only what vtpmd implements; "rsa-keysize-N" entries only when `tpm2`.
std::string capabilities_json(bool tpm2, const std::vector<unsigned>& rsa_key_sizes);

}  // namespace vtpm::instance
