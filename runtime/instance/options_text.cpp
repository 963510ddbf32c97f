// options_text: what vtpmd prints instead of running: --help, --version and
// --print-capabilities (reference/swtpm-qemu.md §3.3). libvirt and swtpm_setup parse the
// capabilities JSON; swtpm's tests match it with exact per-release regexes, so its spacing and
// order are swtpm 0.7.1's.
#include <string>
#include <vector>

#include "instance/options.h"

#ifndef VTPMD_VERSION
#define VTPMD_VERSION "0.1"
#endif

namespace vtpm::instance {

namespace {

// The swtpm release whose command line, control channel and data channel vtpmd speaks. Tools
// compare this "version" (and the feature names) against what they know of swtpm, so it is
// 0.7.1, not vtpmd's own version.
constexpr const char* kSwtpmVersion = "0.7.1";

}  // namespace

std::string usage_text() {
  return R"(Usage: vtpmd socket [options]
       vtpmd -v|--version

vtpmd runs one software TPM (libtpms) per process and accepts the command line,
control channel and data channel of swtpm 0.7.1 ('swtpm socket').

The following options are supported:

--tpmstate dir=<dir>[,mode=0...] | backend-uri=dir://<dir>[,mode=0...]
                 : directory of the TPM's state files; the TPM_PATH environment
                   variable is used when --tpmstate is not given; mode sets the
                   file mode bits of the state files (octal)
--tpmstate backend-uri=file://<file>[,mode=0...]
                 : all state in one file in swtpm's linear format (readable by
                   swtpm's file:// back end, and the other way round); replaced
                   atomically on every write, locked with <file>.lock; an absent
                   or empty file is a fresh TPM, any other file must be a valid
                   linear store (it is never formatted); no block devices
--ctrl type=unixio,path=<path>[,mode=0...][,uid=<uid>][,gid=<gid>]
--ctrl type=unixio,fd=<fd> | type=unixio,clientfd=<fd>
--ctrl type=tcp,port=<port>[,bindaddr=<address>] | type=tcp,fd=<fd>
                 : control channel: a unix socket file (mode 0770 unless given,
                   owner set by uid and gid), a listening socket (fd) or an
                   already connected one (clientfd); or a TCP socket bound to
                   127.0.0.1 unless bindaddr is given
--server [type=tcp,]port=<port>[,bindaddr=<address>][,disconnect] | type=tcp,fd=<fd>
--server type=unixio,path=<path>[,mode=0...][,uid=<uid>][,gid=<gid>][,disconnect]
--server type=unixio,fd=<fd>
                 : data channel; the TPM_PORT environment variable gives the
                   port when type=tcp has none; disconnect closes the connection
                   after every response; type=tcp,fd is an already connected
                   socket (implies --terminate), type=unixio,fd a listening one;
                   without --server the data channel comes over the control
                   channel (CMD_SET_DATAFD)
-p|--port <port> : same as --server type=tcp,port=<port>,disconnect
-f|--fd <fd>     : use the connected socket <fd> (not 0, 1 or 2) as the data
                   channel; implies --terminate
-t|--terminate   : exit when the data connection is closed
-d|--daemon      : run in the background
--tpm2           : TPM 2.0 (the default is TPM 1.2)
--flags [not-need-init][,startup-clear|startup-state|startup-deactivated|startup-none]
                 : not-need-init: serve TPM commands without an INIT on the
                   control channel; startup-...: send TPM_Startup of this type
                   at start (implies not-need-init, except startup-none);
                   startup-deactivated is TPM 1.2 only
--pid file=<path>|fd=<fd>
                 : write the process ID
--log file=<path>|fd=<fd>[,level=<n>][,prefix=<prefix>][,truncate]
                 : write the log to <path> ('-' for none) or <fd> instead of
                   stderr; level 5 and higher add libtpms debug output; every
                   line starts with prefix; truncate empties the file first
--key file=<path>[,format=hex|binary][,mode=aes-cbc|aes-256-cbc][,remove[=true|false]]
--key fd=<fd>[,format=hex|binary][,mode=aes-cbc|aes-256-cbc]
                 : encrypt the state files with this AES key (hex by default;
                   remove deletes the key file after reading it)
--key pwdfile=<path>[,mode=aes-cbc|aes-256-cbc][,kdf=pbkdf2|sha512][,remove[=true|false]]
--key pwdfd=<fd>[,mode=aes-cbc|aes-256-cbc][,kdf=pbkdf2|sha512]
                 : derive the key from a passphrase (kdf pbkdf2 by default)
--key manager=<socket>,uuid=<uuid>
                 : take the key from vtpm-manager, which also checks that the
                   state is the latest this instance wrote (an old copy is refused);
                   without --key, /etc/vtpm/vtpmd.conf ($VTPMD_CONF) may name the
                   manager (manager = <socket>) and libvirt's state path the UUID
--pwdfile <path> : same as --key pwdfile=<path>
--migration-key <same forms as --key>
                 : encrypt the state blobs read over the control channel
--locality [reject-locality-4][,allow-set-locality]
                 : reject commands in locality 4; accept TPM_SetLocality
-r|--runas <user>: change to the given user (a name or a uid; needs root) once
                   the sockets, pid file, log and state directory are open
--seccomp action=none|kill|log
                 : Choose the action of the seccomp profile when a system
                   call outside its allow-list is executed; default is kill
--print-capabilities
                 : print the supported features as JSON and exit
--print-states   : print the state blobs in --tpmstate as JSON and exit
--fold-journal   : fold the journal that a vtpmd stopped without a clean exit
                   (SIGKILL, crash, power loss) left in --tpmstate into swtpm's
                   state files, then exit; afterwards swtpm can use the state;
                   refused while a vtpmd or swtpm holds the state's lock; with
                   --key/--pwdfile also checks that the files decode with it
-h|--help        : print this text and exit
-v|--version     : print the version and exit
)";
}

std::string version_text() {
  return std::string("TPM emulator version ") + kSwtpmVersion + ", vtpmd " VTPMD_VERSION;
}

std::string capabilities_json(bool tpm2, const std::vector<unsigned>& rsa_key_sizes) {
  // swtpm 0.7.1's order, with every feature of 0.7.1.
  std::vector<std::string> features = {
      "tpm-1.2",           "tpm-2.0",        "tpm-send-command-header", "flags-opt-startup",
      "cmdarg-seccomp",    "cmdarg-key-fd",  "cmdarg-pwd-fd",           "cmdarg-print-states",
      "nvram-backend-dir", "nvram-backend-file",
  };
  if (tpm2)
    for (unsigned bits : rsa_key_sizes) features.push_back("rsa-keysize-" + std::to_string(bits));

  std::string out = R"({ "type": "swtpm", "features": [ )";
  for (size_t i = 0; i < features.size(); ++i) out += (i ? ", \"" : "\"") + features[i] + "\"";
  out += std::string(R"( ], "version": ")") + kSwtpmVersion + R"(" })";
  return out;
}

}  // namespace vtpm::instance
