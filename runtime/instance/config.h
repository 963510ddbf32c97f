// Config: what `vtpmd socket …` was asked to do, as parsed from the swtpm 0.7.1 command line
// (options.cpp). Plain data: the instance core (core.h), the socket server and main() act on it;
// nothing here opens anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vtpm::instance {

enum class Endpoint : uint8_t { None, TcpPort, TcpFd, UnixPath, UnixFd, UnixClientFd };

struct ChannelConfig {
  Endpoint kind = Endpoint::None;
  std::string path;              // UnixPath
  std::string bindaddr = "127.0.0.1";  // TcpPort
  uint16_t port = 0;             // TcpPort
  int fd = -1;                   // TcpFd, UnixFd, UnixClientFd
  std::optional<uint32_t> mode;  // unix socket file mode (mode=0600); options.cpp sets it for
                                 // every UnixPath: mode= or swtpm 0.7.1's default 0770
  std::optional<uint32_t> uid;   // UnixPath: chown the socket file after bind (uid=, number or name)
  std::optional<uint32_t> gid;   // UnixPath: chown the socket file after bind (gid=, number or name)
  bool disconnect = false;       // --server …,disconnect: close after each response
};
// What each kind means (swtpm 0.7.1 semantics, options.cpp): TcpFd is an already connected data
// channel (--server type=tcp,fd=N, -f/--fd N; implies terminate); UnixFd is a listening socket to
// accept on (--server type=unixio,fd=N, --ctrl type=unixio,fd=N, and also --ctrl type=tcp,fd=N,
// a listening TCP socket: accept() is the same, only SCM_RIGHTS never arrives on it);
// UnixClientFd is an already connected control channel (--ctrl type=unixio,clientfd=N).

// Manager: the key comes from vtpm-manager (--key manager=SOCKET,uuid=UUID, runtime/manager/).
enum class KeySource : uint8_t { None, KeyFile, KeyFd, PwdFile, PwdFd, Manager };
enum class KeyFormat : uint8_t { Hex, Binary };
enum class Kdf : uint8_t { Pbkdf2, Sha512 };

struct KeyConfig {
  KeySource source = KeySource::None;
  std::string path;              // KeyFile / PwdFile
  int fd = -1;                   // KeyFd / PwdFd
  KeyFormat format = KeyFormat::Hex;
  uint32_t key_bits = 128;       // mode=aes-cbc -> 128, aes-256-cbc -> 256 (swtpm's default: 128)
  Kdf kdf = Kdf::Pbkdf2;
  bool remove = false;           // remove the key file after reading it
  std::string uuid;              // Manager: the instance's UUID, canonical lower-case 8-4-4-4-12
};

enum class Startup : uint8_t { None, Clear, State, Deactivated };

// --seccomp action=: what a system call outside vtpmd's allow-list does (transports/vtpmd/sandbox.h).
enum class SeccompAction : uint8_t { Kill, Log, None };

struct Config {
  bool tpm2 = false;             // without --tpm2: TPM 1.2, as swtpm
  std::string state_dir;         // --tpmstate dir= / backend-uri=dir:// / env TPM_PATH
  std::string state_file;        // --tpmstate backend-uri=file://PATH (then state_dir is "")
  std::optional<uint32_t> state_mode;  // --tpmstate …,mode=
  ChannelConfig server;          // --server (None: only CMD_SET_DATAFD gives a data channel)
  ChannelConfig ctrl;            // --ctrl (None allowed only with --server … and not-need-init)
  bool not_need_init = false;
  Startup startup = Startup::None;
  std::string pid_file;          // --pid file=
  int pid_fd = -1;               // --pid fd=
  std::string log_file;          // --log file= ("-" = none); neither file nor fd: stderr
  int log_fd = -1;               // --log fd=
  uint32_t log_level = 0;        // --log level=; --log without level= gives 1, as swtpm
  std::string log_prefix;
  bool log_truncate = false;     // --log …,truncate: truncate the log file when opening it
  KeyConfig key;                 // --key (state files), or --pwdfile P (= --key pwdfile=P)
  KeyConfig migration_key;       // --migration-key (state blobs on the control channel)
  bool reject_locality4 = false;
  bool allow_set_locality = false;
  bool terminate = false;        // -t/--terminate: exit when the data connection closes
  bool daemon = false;           // -d/--daemon
  SeccompAction seccomp = SeccompAction::Kill;  // --seccomp action=; kill by default, as swtpm
  std::string runas;             // -r/--runas USER: a name or a uid ("" = keep the current user)
  std::string instance_id;       // --vmid-style identity bound into sealed blobs ("" = none)
};

// What the command line asks for besides running an instance.
// FoldJournal: fold a journal a crash left into swtpm's state files, then exit (vtpmd only).
enum class Action : uint8_t { Run, PrintCapabilities, PrintStates, FoldJournal, Help, Version };

struct ParsedCommandLine {
  Action action = Action::Run;
  Config config;
};

}  // namespace vtpm::instance
