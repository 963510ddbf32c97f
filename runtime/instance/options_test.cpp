// options_test: the command lines vtpmd must accept (libvirt, swtpm_setup, the QEMU docs, swtpm
// 0.7.1's test suite) and the Config each gives; every refusal with its exact message; the texts
// (--print-capabilities JSON written by hand from swtpm 0.7.1's observed output, --help,
// --version).
#include <cstdlib>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "instance/options.h"

namespace vtpm::instance {
namespace {

struct Outcome {
  bool ok = false;
  ParsedCommandLine cl;
  std::string error;
};

// Runs `vtpmd <args…>` through the parser with the given environment.
Outcome parse(const std::vector<std::string>& args, Environment env = {}) {
  std::vector<std::string> storage = {"vtpmd"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  Outcome o;
  o.ok = parse_command_line(static_cast<int>(storage.size()), argv.data(), env, o.cl, o.error);
  return o;
}

void expect_channel(const char* what, const ChannelConfig& want, const ChannelConfig& got) {
  SCOPED_TRACE(what);
  EXPECT_EQ(want.kind, got.kind);
  EXPECT_EQ(want.path, got.path);
  EXPECT_EQ(want.bindaddr, got.bindaddr);
  EXPECT_EQ(want.port, got.port);
  EXPECT_EQ(want.fd, got.fd);
  EXPECT_EQ(want.mode, got.mode);
  EXPECT_EQ(want.uid, got.uid);
  EXPECT_EQ(want.gid, got.gid);
  EXPECT_EQ(want.disconnect, got.disconnect);
}

void expect_key(const char* what, const KeyConfig& want, const KeyConfig& got) {
  SCOPED_TRACE(what);
  EXPECT_EQ(want.source, got.source);
  EXPECT_EQ(want.path, got.path);
  EXPECT_EQ(want.fd, got.fd);
  EXPECT_EQ(want.format, got.format);
  EXPECT_EQ(want.key_bits, got.key_bits);
  EXPECT_EQ(want.kdf, got.kdf);
  EXPECT_EQ(want.remove, got.remove);
  EXPECT_EQ(want.uuid, got.uuid);
}

void expect_config(const Config& want, const Config& got) {
  EXPECT_EQ(want.tpm2, got.tpm2);
  EXPECT_EQ(want.state_dir, got.state_dir);
  EXPECT_EQ(want.state_file, got.state_file);
  EXPECT_EQ(want.state_mode, got.state_mode);
  expect_channel("server", want.server, got.server);
  expect_channel("ctrl", want.ctrl, got.ctrl);
  EXPECT_EQ(want.not_need_init, got.not_need_init);
  EXPECT_EQ(want.startup, got.startup);
  EXPECT_EQ(want.pid_file, got.pid_file);
  EXPECT_EQ(want.pid_fd, got.pid_fd);
  EXPECT_EQ(want.log_file, got.log_file);
  EXPECT_EQ(want.log_fd, got.log_fd);
  EXPECT_EQ(want.log_level, got.log_level);
  EXPECT_EQ(want.log_prefix, got.log_prefix);
  EXPECT_EQ(want.log_truncate, got.log_truncate);
  expect_key("key", want.key, got.key);
  expect_key("migration_key", want.migration_key, got.migration_key);
  EXPECT_EQ(want.reject_locality4, got.reject_locality4);
  EXPECT_EQ(want.allow_set_locality, got.allow_set_locality);
  EXPECT_EQ(want.terminate, got.terminate);
  EXPECT_EQ(want.daemon, got.daemon);
  EXPECT_EQ(want.seccomp, got.seccomp);
  EXPECT_EQ(want.runas, got.runas);
  EXPECT_EQ(want.instance_id, got.instance_id);
}

ChannelConfig unix_path(const std::string& path, uint32_t mode = 0770) {
  ChannelConfig c;
  c.kind = Endpoint::UnixPath;
  c.path = path;
  c.mode = mode;
  return c;
}
ChannelConfig tcp_port(uint16_t port, bool disconnect = false) {
  ChannelConfig c;
  c.kind = Endpoint::TcpPort;
  c.port = port;
  c.disconnect = disconnect;
  return c;
}
ChannelConfig with_fd(Endpoint kind, int fd) {
  ChannelConfig c;
  c.kind = kind;
  c.fd = fd;
  return c;
}
KeyConfig key(KeySource source, const std::string& path, int fd = -1) {
  KeyConfig k;
  k.source = source;
  k.path = path;
  k.fd = fd;
  return k;
}

// ---- accepted command lines -----------------------------------------------------------------

struct Accepted {
  const char* name;
  std::vector<std::string> args;
  Environment env;
  Action action;
  std::function<void(Config&)> expect;  // applied to a default Config
};

const char kLibvirtSock[] = "/run/libvirt/qemu/swtpm/1-guest-swtpm.sock";
const char kLibvirtState[] = "/var/lib/libvirt/swtpm/8e0c5b4a-1c1f-4c43-9e2b-3f2d7a1b9c11/tpm2";
const char kLibvirtLog[] = "/var/log/swtpm/libvirt/qemu/guest-swtpm.log";

std::vector<Accepted> accepted_cases() {
  const std::string sock = kLibvirtSock, state = kLibvirtState, log = kLibvirtLog;
  auto libvirt = [=](Config& c) {
    c.ctrl = unix_path(sock, 0600);
    c.state_dir = state;
    c.state_mode = 0600;
    c.log_file = log;
    c.log_level = 1;
    c.terminate = true;
  };
  return {
      // libvirt src/qemu/qemu_tpm.c (reference §3.1)
      {"libvirt_tpm2",
       {"socket", "--ctrl", "type=unixio,path=" + sock + ",mode=0600", "--tpmstate",
        "dir=" + state + ",mode=0600", "--log", "file=" + log, "--terminate", "--tpm2"},
       {}, Action::Run,
       [=](Config& c) { libvirt(c); c.tpm2 = true; }},
      {"libvirt_tpm12",
       {"socket", "--ctrl", "type=unixio,path=" + sock + ",mode=0600", "--tpmstate",
        "dir=" + state + ",mode=0600", "--log", "file=" + log, "--terminate"},
       {}, Action::Run, libvirt},
      {"libvirt_encrypted",
       {"socket", "--ctrl", "type=unixio,path=" + sock + ",mode=0600", "--tpmstate",
        "dir=" + state + ",mode=0600", "--log", "file=" + log, "--terminate", "--tpm2", "--key",
        "pwdfd=23,mode=aes-256-cbc", "--migration-key", "pwdfd=24,mode=aes-256-cbc"},
       {}, Action::Run,
       [=](Config& c) {
         libvirt(c);
         c.tpm2 = true;
         c.key = key(KeySource::PwdFd, "", 23);
         c.key.key_bits = 256;
         c.migration_key = key(KeySource::PwdFd, "", 24);
         c.migration_key.key_bits = 256;
       }},
      {"libvirt_2018_daemon_pid",
       {"socket", "--daemon", "--ctrl",
        "type=unixio,path=/var/run/libvirt/qemu/swtpm/guest-swtpm.sock",
        "--tpmstate", "dir=" + state, "--log", "file=" + log, "--pid",
        "file=/var/run/libvirt/qemu/swtpm/guest-swtpm.pid", "--tpm2"},
       {}, Action::Run,
       [=](Config& c) {
         c.daemon = true;
         c.ctrl = unix_path("/var/run/libvirt/qemu/swtpm/guest-swtpm.sock");
         c.state_dir = state;
         c.log_file = log;
         c.log_level = 1;
         c.pid_file = "/var/run/libvirt/qemu/swtpm/guest-swtpm.pid";
         c.tpm2 = true;
       }},
      {"libvirt_capabilities", {"socket", "--print-capabilities"}, {}, Action::PrintCapabilities,
       [](Config&) {}},

      // swtpm_setup 0.7.1 (reference §3.4)
      {"swtpm_setup_tpm2",
       {"socket", "--flags", "not-need-init,startup-clear", "--tpmstate",
        "backend-uri=dir:///var/lib/swtpm/vm1", "--pid", "file=/tmp/.swtpm_setup.pidfile.x",
        "--tpm2", "--server", "type=tcp,fd=5", "--ctrl", "type=unixio,clientfd=6"},
       {}, Action::Run,
       [](Config& c) {
         c.not_need_init = true;
         c.startup = Startup::Clear;
         c.state_dir = "/var/lib/swtpm/vm1";
         c.pid_file = "/tmp/.swtpm_setup.pidfile.x";
         c.tpm2 = true;
         c.server = with_fd(Endpoint::TcpFd, 5);
         c.terminate = true;
         c.ctrl = with_fd(Endpoint::UnixClientFd, 6);
       }},
      {"swtpm_setup_tpm12_key",
       {"socket", "--flags", "not-need-init,startup-clear", "--tpmstate",
        "backend-uri=dir:///var/lib/swtpm/vm2", "--pid", "file=/tmp/p", "--key",
        "pwdfd=9,mode=aes-256-cbc,kdf=sha512", "--log", "file=/var/log/swtpm_setup.log",
        "--server", "type=tcp,fd=5", "--ctrl", "type=unixio,clientfd=6"},
       {}, Action::Run,
       [](Config& c) {
         c.not_need_init = true;
         c.startup = Startup::Clear;
         c.state_dir = "/var/lib/swtpm/vm2";
         c.pid_file = "/tmp/p";
         c.key = key(KeySource::PwdFd, "", 9);
         c.key.key_bits = 256;
         c.key.kdf = Kdf::Sha512;
         c.log_file = "/var/log/swtpm_setup.log";
         c.log_level = 1;
         c.server = with_fd(Endpoint::TcpFd, 5);
         c.terminate = true;
         c.ctrl = with_fd(Endpoint::UnixClientFd, 6);
       }},
      {"swtpm_setup_capabilities", {"socket", "--print-capabilities", "--tpm2"}, {},
       Action::PrintCapabilities, [](Config& c) { c.tpm2 = true; }},
      {"swtpm_setup_states",
       {"socket", "--print-states", "--tpmstate", "backend-uri=dir:///var/lib/swtpm/vm1", "--tpm2"},
       {}, Action::PrintStates,
       [](Config& c) {
         c.state_dir = "/var/lib/swtpm/vm1";
         c.tpm2 = true;
       }},

      {"fold_journal",
       {"socket", "--tpmstate", "dir=/var/lib/swtpm/vm1", "--tpm2", "--pwdfile", "/p",
        "--fold-journal"},
       {}, Action::FoldJournal,
       [](Config& c) {
         c.state_dir = "/var/lib/swtpm/vm1";
         c.tpm2 = true;
         c.key = key(KeySource::PwdFile, "/p");
       }},
      {"libvirt_file_backend",
       {"socket", "--ctrl", "type=unixio,path=/run/s.sock,mode=0600", "--tpmstate",
        "backend-uri=file:///var/lib/libvirt/swtpm/vm.img,mode=0600", "--tpm2"},
       {}, Action::Run,
       [](Config& c) {
         c.ctrl = unix_path("/run/s.sock", 0600);
         c.state_file = "/var/lib/libvirt/swtpm/vm.img";
         c.state_mode = 0600;
         c.tpm2 = true;
       }},
      {"fold_journal_tpm_path", {"socket", "--fold-journal"}, {"/tmp/tpm", nullptr},
       Action::FoldJournal, [](Config& c) { c.state_dir = "/tmp/tpm"; }},

      // QEMU docs/specs/tpm.rst
      {"qemu_docs_tpm2",
       {"socket", "--tpmstate", "dir=/tmp/mytpm1", "--ctrl",
        "type=unixio,path=/tmp/mytpm1/swtpm-sock", "--tpm2", "--log", "level=20"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/tmp/mytpm1";
         c.ctrl = unix_path("/tmp/mytpm1/swtpm-sock");
         c.tpm2 = true;
         c.log_level = 20;
       }},
      {"qemu_docs_tpm12",
       {"socket", "--tpmstate", "dir=/tmp/mytpm1", "--ctrl",
        "type=unixio,path=/tmp/mytpm1/swtpm-sock", "--log", "level=20"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/tmp/mytpm1";
         c.ctrl = unix_path("/tmp/mytpm1/swtpm-sock");
         c.log_level = 20;
       }},

      // swtpm 0.7.1 tests/common run_swtpm: TPM_PATH from the environment, no --tpmstate
      {"harness_socket_socket",
       {"socket", "--tpm2", "--server", "type=tcp,port=65526,disconnect", "--ctrl",
        "type=tcp,port=65527"},
       {"/tmp/tpm.abc", nullptr}, Action::Run,
       [](Config& c) {
         c.tpm2 = true;
         c.state_dir = "/tmp/tpm.abc";
         c.server = tcp_port(65526, true);
         c.ctrl = tcp_port(65527);
       }},
      {"harness_socket_unix",
       {"socket", "--tpm2", "--server", "type=tcp,port=65526,disconnect", "--ctrl",
        "type=unixio,path=/tmp/tpm.abc/unix-ctrl.sock"},
       {"/tmp/tpm.abc", nullptr}, Action::Run,
       [](Config& c) {
         c.tpm2 = true;
         c.state_dir = "/tmp/tpm.abc";
         c.server = tcp_port(65526, true);
         c.ctrl = unix_path("/tmp/tpm.abc/unix-ctrl.sock");
       }},
      {"harness_unix_unix",
       {"socket", "--server", "type=unixio,path=/tmp/tpm.abc/unix-cmd.sock", "--ctrl",
        "type=unixio,path=/tmp/tpm.abc/unix-ctrl.sock"},
       {"/tmp/tpm.abc", nullptr}, Action::Run,
       [](Config& c) {
         c.state_dir = "/tmp/tpm.abc";
         c.server = unix_path("/tmp/tpm.abc/unix-cmd.sock");
         c.ctrl = unix_path("/tmp/tpm.abc/unix-ctrl.sock");
       }},
      {"harness_no_disconnect_tpm_port_env",
       {"socket", "--server", "type=tcp", "--ctrl", "type=tcp,port=65527"},
       {"/tmp/tpm.abc", "65526"}, Action::Run,
       [](Config& c) {
         c.state_dir = "/tmp/tpm.abc";
         c.server = tcp_port(65526);
         c.ctrl = tcp_port(65527);
       }},
      {"tpmstate_option_beats_tpm_path",
       {"socket", "--tpmstate", "dir=/opt/s", "--ctrl", "type=unixio,path=/c"},
       {"/tmp/ignored", nullptr}, Action::Run,
       [](Config& c) {
         c.state_dir = "/opt/s";
         c.ctrl = unix_path("/c");
       }},
      // tests/test_commandline
      {"commandline_port_logfd",
       {"socket", "-p", "65525", "--tpmstate", "dir=/tmp/d,mode=641", "--pid",
        "file=/tmp/d/swtpm.pid", "--log", "fd=100,level=20", "--flags", "not-need-init"},
       {}, Action::Run,
       [](Config& c) {
         c.server = tcp_port(65525, true);
         c.state_dir = "/tmp/d";
         c.state_mode = 0641;
         c.pid_file = "/tmp/d/swtpm.pid";
         c.log_fd = 100;
         c.log_level = 20;
         c.not_need_init = true;
       }},
      {"commandline_terminate",
       {"socket", "--flags", "not-need-init", "-p", "65525", "--tpmstate", "dir=/tmp/d", "-t"},
       {}, Action::Run,
       [](Config& c) {
         c.not_need_init = true;
         c.server = tcp_port(65525, true);
         c.state_dir = "/tmp/d";
         c.terminate = true;
       }},
      {"commandline_backend_uri_mode",
       {"socket", "-p", "65525", "--tpmstate", "backend-uri=dir:///tmp/d,mode=641", "--pid",
        "file=/tmp/d/swtpm.pid", "--flags", "not-need-init"},
       {}, Action::Run,
       [](Config& c) {
         c.server = tcp_port(65525, true);
         c.state_dir = "/tmp/d";
         c.state_mode = 0641;
         c.pid_file = "/tmp/d/swtpm.pid";
         c.not_need_init = true;
       }},
      // tests/test_clientfds.py
      {"clientfds",
       {"socket", "--fd=7", "--ctrl", "type=unixio,clientfd=8", "--pid", "file=/tmp/d/swtpm.pid",
        "--tpmstate", "dir=/tmp/d"},
       {}, Action::Run,
       [](Config& c) {
         c.server = with_fd(Endpoint::TcpFd, 7);
         c.terminate = true;
         c.ctrl = with_fd(Endpoint::UnixClientFd, 8);
         c.pid_file = "/tmp/d/swtpm.pid";
         c.state_dir = "/tmp/d";
       }},
      // tests/test_ctrlchannel as root (--runas nobody; owner as numbers and as names)
      {"ctrlchannel_fd_pidfd_owner_runas",
       {"socket", "--fd", "100", "--tpmstate", "dir=/tmp/d", "--pid", "fd=101", "--ctrl",
        "type=unixio,path=/tmp/d/ctrl.sock,mode=0660,uid=0,gid=root", "--log",
        "file=/tmp/d/log,level=20", "--daemon", "--runas", "nobody"},
       {}, Action::Run,
       [](Config& c) {
         c.server = with_fd(Endpoint::TcpFd, 100);
         c.terminate = true;
         c.state_dir = "/tmp/d";
         c.pid_fd = 101;
         c.ctrl = unix_path("/tmp/d/ctrl.sock", 0660);
         c.ctrl.uid = 0;
         c.ctrl.gid = 0;
         c.log_file = "/tmp/d/log";
         c.log_level = 20;
         c.daemon = true;
         c.runas = "nobody";
       }},
      // tests/test_tpm2_ctrlchannel2
      {"ctrlchannel2_startup_clear",
       {"socket", "--server", "port=65532,disconnect=true", "--tpmstate", "dir=/tmp/d", "--pid",
        "file=/tmp/d/pid", "--ctrl", "type=unixio,path=/tmp/d/sock", "--log",
        "file=/tmp/d/log,level=20", "--tpm2", "--flags", "startup-clear"},
       {}, Action::Run,
       [](Config& c) {
         c.server = tcp_port(65532, true);
         c.state_dir = "/tmp/d";
         c.pid_file = "/tmp/d/pid";
         c.ctrl = unix_path("/tmp/d/sock");
         c.log_file = "/tmp/d/log";
         c.log_level = 20;
         c.tpm2 = true;
         c.startup = Startup::Clear;
         c.not_need_init = true;
       }},
      // the --key / --migration-key forms of the encrypted-state and migration-key tests
      {"keys_pwdfile_sha512_migration",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--key",
        "pwdfile=/data/pwdfile.txt,kdf=sha512", "--migration-key",
        "pwdfile=/data/migpwd.txt,remove=false,kdf=sha512"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.key = key(KeySource::PwdFile, "/data/pwdfile.txt");
         c.key.kdf = Kdf::Sha512;
         c.migration_key = key(KeySource::PwdFile, "/data/migpwd.txt");
         c.migration_key.kdf = Kdf::Sha512;
       }},
      // vtpmd's own: the key is held by vtpm-manager; the UUID is bound into the sealed files
      {"key_from_manager",
       {"socket", "--tpm2", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--key",
        "manager=/run/vtpm/manager.sock,uuid=6B29FC40-CA47-1067-B31D-00DD010662DA"},
       {}, Action::Run,
       [](Config& c) {
         c.tpm2 = true;
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.key = key(KeySource::Manager, "/run/vtpm/manager.sock");
         c.key.key_bits = 256;
         c.key.uuid = "6b29fc40-ca47-1067-b31d-00dd010662da";
         c.instance_id = "6b29fc40-ca47-1067-b31d-00dd010662da";
       }},
      {"keys_hex_file_remove",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--key",
        "file=/data/key,mode=aes-cbc,format=hex,remove", "--migration-key",
        "file=/data/binkey,mode=aes-cbc,format=binary,remove=TRUE"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.key = key(KeySource::KeyFile, "/data/key");
         c.key.remove = true;
         c.migration_key = key(KeySource::KeyFile, "/data/binkey");
         c.migration_key.format = KeyFormat::Binary;
         c.migration_key.remove = true;
       }},
      {"keys_fd_and_pwdfd",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--key",
        "fd=101,mode=aes-cbc,format=hex", "--migration-key", "pwdfd=102"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.key = key(KeySource::KeyFd, "", 101);
         c.migration_key = key(KeySource::PwdFd, "", 102);
       }},
      {"pwdfile_option",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--pwdfile",
        "/data/pwdfile.txt"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.key = key(KeySource::PwdFile, "/data/pwdfile.txt");
       }},
      {"locality_seccomp_none_log_prefix",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--locality",
        "reject-locality-4,allow-set-locality", "--seccomp", "action=none", "--log",
        "file=/l,prefix=vm1:,truncate,level=0"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.reject_locality4 = true;
         c.allow_set_locality = true;
         c.seccomp = SeccompAction::None;
         c.log_file = "/l";
         c.log_prefix = "vm1:";
         c.log_truncate = true;
         c.log_level = 1;
       }},
      // --seccomp as swtpm 0.7.1: kill by default and when action= is left out; log; -r USER
      {"seccomp_kill_runas_short",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--seccomp",
        "action=kill", "-r", "tss"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.runas = "tss";
       }},
      {"seccomp_log_runas_uid",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--seccomp",
        "action=log", "--runas=65534"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.seccomp = SeccompAction::Log;
         c.runas = "65534";
       }},
      {"seccomp_without_action_is_kill",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c", "--seccomp",
        "action=none", "--seccomp", ""},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
       }},
      {"bindaddr_ipv6_and_tcp_ctrl_fd",
       {"socket", "--tpmstate", "dir=/d", "--server", "type=tcp,port=2321,bindaddr=::1",
        "--ctrl", "type=tcp,fd=9"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.server = tcp_port(2321);
         c.server.bindaddr = "::1";
         c.ctrl = with_fd(Endpoint::UnixFd, 9);
       }},
      {"unixio_listening_fds",
       {"socket", "--tpmstate", "dir=/d", "--server", "type=unixio,fd=10,disconnect", "--ctrl",
        "type=unixio,fd=11"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.server = with_fd(Endpoint::UnixFd, 10);
         c.server.disconnect = true;
         c.ctrl = with_fd(Endpoint::UnixFd, 11);
       }},

      // getopt_long forms
      {"long_equals_forms",
       {"socket", "--tpmstate=dir=/d", "--ctrl=type=unixio,path=/c", "--tpm2"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.tpm2 = true;
       }},
      {"short_cluster_and_attached_arg",
       {"socket", "-tdp2321", "--tpmstate", "dir=/d", "--flags", "not-need-init"},
       {}, Action::Run,
       [](Config& c) {
         c.terminate = true;
         c.daemon = true;
         c.server = tcp_port(2321, true);
         c.state_dir = "/d";
         c.not_need_init = true;
       }},
      {"unique_prefixes",
       {"socket", "--tpmst", "dir=/d", "--ct", "type=unixio,path=/c", "--tpm2", "--daem"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
         c.tpm2 = true;
         c.daemon = true;
       }},
      {"last_repeated_option_wins",
       {"socket", "--tpmstate", "dir=/first", "--tpmstate", "dir=/second", "--server",
        "type=unixio,path=/s", "--server", "type=tcp,port=1,disconnect=0", "--ctrl",
        "type=unixio,path=/c"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/second";
         c.server = tcp_port(1);
         c.ctrl = unix_path("/c");
       }},
      {"port_option_feeds_server_without_port",
       {"socket", "-p", "4000", "--server", "type=tcp", "--tpmstate", "dir=/d", "--ctrl",
        "type=tcp,port=4001"},
       {nullptr, "5000"}, Action::Run,
       [](Config& c) {
         c.server = tcp_port(4000);
         c.state_dir = "/d";
         c.ctrl = tcp_port(4001);
       }},
      {"empty_items_and_startup_state",
       {"socket", "--flags", "startup-state,", "--tpmstate", "dir=/d,,", "-p", "1"},
       {}, Action::Run,
       [](Config& c) {
         c.startup = Startup::State;
         c.not_need_init = true;
         c.state_dir = "/d";
         c.server = tcp_port(1, true);
       }},
      {"startup_none_still_needs_init",
       {"socket", "--flags", "startup-none", "--tpmstate", "dir=/d", "--ctrl",
        "type=unixio,path=/c"},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/c");
       }},
      {"startup_deactivated_tpm12",
       {"socket", "--flags", "startup-deactivated", "--tpmstate", "dir=/d", "-p", "1"},
       {}, Action::Run,
       [](Config& c) {
         c.startup = Startup::Deactivated;
         c.not_need_init = true;
         c.state_dir = "/d";
         c.server = tcp_port(1, true);
       }},
      {"unix_path_107_bytes",
       {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/" + std::string(106, 'a')},
       {}, Action::Run,
       [](Config& c) {
         c.state_dir = "/d";
         c.ctrl = unix_path("/" + std::string(106, 'a'));
       }},

      // what vtpmd does instead of running
      {"top_help", {"--help"}, {}, Action::Help, [](Config&) {}},
      {"top_h", {"-h"}, {}, Action::Help, [](Config&) {}},
      {"socket_help", {"socket", "--help"}, {}, Action::Help, [](Config&) {}},
      {"help_before_bad_value", {"socket", "--ctrl", "type=bogus", "-h"}, {}, Action::Help,
       [](Config&) {}},
      {"top_version", {"--version"}, {}, Action::Version, [](Config&) {}},
      {"top_v", {"-v"}, {}, Action::Version, [](Config&) {}},
      {"socket_version", {"socket", "--version"}, {}, Action::Version, [](Config&) {}},
      {"print_capabilities_prefix", {"socket", "--print-cap"}, {}, Action::PrintCapabilities,
       [](Config&) {}},
  };
}

class AcceptedCommandLine : public ::testing::TestWithParam<Accepted> {};

TEST_P(AcceptedCommandLine, GivesExpectedConfig) {
  const Accepted& c = GetParam();
  Outcome o = parse(c.args, c.env);
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_EQ(c.action, o.cl.action);
  Config want;
  c.expect(want);
  expect_config(want, o.cl.config);
}

INSTANTIATE_TEST_SUITE_P(Options, AcceptedCommandLine, ::testing::ValuesIn(accepted_cases()),
                         [](const ::testing::TestParamInfo<Accepted>& i) { return i.param.name; });

// ---- refused command lines ------------------------------------------------------------------

struct Refused {
  std::vector<std::string> args;
  Environment env;
  std::string error;
};

// A run that would otherwise be complete, so each case fails only on what it adds.
std::vector<std::string> run(std::vector<std::string> extra) {
  std::vector<std::string> a = {"socket", "--tpmstate", "dir=/d", "--ctrl", "type=unixio,path=/c"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<Refused> refused_cases() {
  const std::string long_path = "/" + std::string(107, 'a');
  return {
      // interface word
      {{}, {}, "Missing TPM interface type (usage: vtpmd socket [options]; vtpmd --help)."},
      {{"chardev", "--help"}, {}, "Unsupported TPM interface type 'chardev'."},
      {{"cuse", "--help"}, {}, "Unsupported TPM interface type 'cuse'."},
      {{"sockets"}, {}, "Unsupported TPM interface type 'sockets'."},
      // --key manager=
      {run({"--key", "manager=/m"}), {},
       "--key: manager= needs uuid=UUID, the instance's identity at the manager"},
      {run({"--key", "manager=,uuid=6b29fc40-ca47-1067-b31d-00dd010662da"}), {},
       "--key: parameter 'manager' needs a value (manager=…)"},
      {run({"--key", "manager=/m,uuid=6b29fc40ca47-1067-b31d-00dd010662da0"}), {},
       "--key: uuid '6b29fc40ca47-1067-b31d-00dd010662da0' is not a UUID (expected 8-4-4-4-12 hex digits)"},
      {run({"--key", "manager=/m,uuid=6b29fc40-ca47-1067-b31d-00dd010662dg"}), {},
       "--key: uuid '6b29fc40-ca47-1067-b31d-00dd010662dg' is not a UUID (expected 8-4-4-4-12 hex digits)"},
      {run({"--key", "manager=/m,uuid=6b29fc40-ca47-1067-b31d-00dd010662da,file=/k"}), {},
       "--key: manager= cannot be combined with file= (the manager holds the key)"},
      {run({"--key", "file=/k,uuid=6b29fc40-ca47-1067-b31d-00dd010662da"}), {},
       "--key: uuid= applies only to manager="},
      {run({"--migration-key", "manager=/m,uuid=6b29fc40-ca47-1067-b31d-00dd010662da"}), {},
       "--migration-key: manager= is only for --key (the state-file key)"},
      // swtpm options vtpmd does not implement
      {run({"--runas"}), {}, "option '--runas' requires an argument"},
      {run({"-r"}), {}, "option requires an argument -- 'r'"},
      {run({"--runas="}), {}, "--runas: needs a user name or a uid"},
      {run({"--chroot", "/var/empty"}), {}, "option '--chroot' is not supported"},
      {run({"-R", "/var/empty"}), {}, "option '--chroot' is not supported"},
      {run({"--migration", "incoming"}), {}, "option '--migration' is not supported"},
      {run({"--vtpm-proxy"}), {}, "option '--vtpm-proxy' is not supported"},
      {run({"--profile", "name=default-v1"}), {}, "option '--profile' is not supported"},
      {run({"--print-profiles"}), {}, "option '--print-profiles' is not supported"},
      {run({"--print-info", "1"}), {}, "option '--print-info' is not supported"},
      {run({"--pcap", "file=/x"}), {}, "option '--pcap' is not supported"},
      // argv shape
      {run({"--bogus"}), {}, "unrecognized option '--bogus'"},
      {run({"-x"}), {}, "invalid option -- 'x'"},
      {run({"--tpm"}), {}, "option '--tpm' is ambiguous; possibilities: '--tpmstate' '--tpm2'"},
      {run({"--tpm2=yes"}), {}, "option '--tpm2' doesn't allow an argument"},
      {run({"--ctrl"}), {}, "option '--ctrl' requires an argument"},
      {run({"-p"}), {}, "option requires an argument -- 'p'"},
      {run({"foo"}), {}, "unknown parameter 'foo'"},
      {run({"--", "foo"}), {}, "unknown parameter 'foo'"},
      // --ctrl
      {{"socket", "--ctrl", "type=foo"}, {}, "--ctrl: unknown type 'foo' (expected unixio or tcp)"},
      {{"socket", "--ctrl", "path=/c"}, {}, "--ctrl: missing type= (unixio or tcp)"},
      {{"socket", "--ctrl", "type=unixio"}, {},
       "--ctrl: type=unixio needs path=, fd= or clientfd="},
      {{"socket", "--ctrl", "type=tcp"}, {}, "--ctrl: type=tcp needs port= or fd="},
      {{"socket", "--ctrl", "type=tcp,port=99999"}, {},
       "--ctrl: port 99999 out of range (1-65535)"},
      {{"socket", "--ctrl", "type=tcp,port=0"}, {}, "--ctrl: port 0 out of range (1-65535)"},
      {{"socket", "--ctrl", "type=tcp,port=12x"}, {}, "--ctrl: port '12x' is not a decimal number"},
      {{"socket", "--ctrl", "type=tcp,port=-1"}, {}, "--ctrl: port '-1' is not a decimal number"},
      {{"socket", "--ctrl", "type=tcp,port=+80"}, {}, "--ctrl: port '+80' is not a decimal number"},
      {{"socket", "--ctrl", "type=tcp,port= 80"}, {}, "--ctrl: port ' 80' is not a decimal number"},
      {{"socket", "--ctrl", "type=tcp,port=0x50"}, {},
       "--ctrl: port '0x50' is not a decimal number"},
      {{"socket", "--ctrl", "type=tcp,port=99999999999999999999999"}, {},
       "--ctrl: port '99999999999999999999999' is not a decimal number"},
      {{"socket", "--ctrl", "type=tcp,clientfd=5"}, {},
       "--ctrl: 'clientfd' is not valid with type=tcp"},
      {{"socket", "--ctrl", "type=tcp,port=1,path=/c"}, {},
       "--ctrl: 'path' is not valid with type=tcp"},
      {{"socket", "--ctrl", "type=tcp,fd=3,bindaddr=127.0.0.1"}, {},
       "--ctrl: 'bindaddr' is not valid with fd= (it applies to port=)"},
      {{"socket", "--ctrl", "type=unixio,path=/a,fd=5"}, {},
       "--ctrl: give only one of path=, fd=, clientfd="},
      {{"socket", "--ctrl", "type=unixio,fd=5,mode=0600"}, {},
       "--ctrl: 'mode' is not valid with fd= or clientfd= (they apply to path=)"},
      {{"socket", "--ctrl", "type=unixio,path=/a,terminate"}, {},
       "--ctrl: parameter 'terminate' is not supported"},
      {{"socket", "--ctrl", "type=tcp,port=1,ifname=eth0"}, {},
       "--ctrl: parameter 'ifname' is not supported"},
      {{"socket", "--ctrl", "type=unixio,path=" + long_path}, {},
       "--ctrl: path is 108 bytes long; a unix socket path has at most 107"},
      {{"socket", "--ctrl", "type=unixio,path=/a,mode=0x180"}, {},
       "--ctrl: mode '0x180' is not an octal file mode (0000-0777)"},
      {{"socket", "--ctrl", "type=unixio,path=/a,mode=01777"}, {},
       "--ctrl: mode '01777' is not an octal file mode (0000-0777)"},
      {{"socket", "--ctrl", "type=unixio,path=/a,mode=0680"}, {},
       "--ctrl: mode '0680' is not an octal file mode (0000-0777)"},
      {{"socket", "--ctrl", "type=unixio,path=/a,uid=no-such-user-vtpmd"}, {},
       "--ctrl: unknown user 'no-such-user-vtpmd'"},
      {{"socket", "--ctrl", "type=unixio,path=/a,gid=no-such-group-vtpmd"}, {},
       "--ctrl: unknown group 'no-such-group-vtpmd'"},
      {{"socket", "--ctrl", "type=unixio,path=/a,uid=4294967295"}, {},
       "--ctrl: uid '4294967295' is not a valid id"},
      {{"socket", "--ctrl", "type=unixio,clientfd=-1"}, {},
       "--ctrl: clientfd '-1' is not a decimal number"},
      {{"socket", "--ctrl", "type=unixio,fd=2147483648"}, {},
       "--ctrl: fd 2147483648 out of range (0-2147483647)"},
      {{"socket", "--ctrl", "type=unixio,path="}, {},
       "--ctrl: parameter 'path' needs a value (path=…)"},
      {{"socket", "--ctrl", "type=unixio,path"}, {},
       "--ctrl: parameter 'path' needs a value (path=…)"},
      {{"socket", "--ctrl", "type=unixio,path=/a,path=/b"}, {},
       "--ctrl: parameter 'path' given twice"},
      {{"socket", "--ctrl", "type=unixio,foo=bar"}, {}, "--ctrl: unknown parameter 'foo'"},
      {{"socket", "--ctrl", "type=unixio,=x"}, {}, "--ctrl: unknown parameter '=x'"},
      // --server, -p, -f
      {{"socket", "--server", "type=tcp,port=70000"}, {},
       "--server: port 70000 out of range (1-65535)"},
      {{"socket", "--server", "type=foo"}, {},
       "--server: unknown type 'foo' (expected tcp or unixio)"},
      {{"socket", "--server", "type=tcp"}, {},
       "--server: type=tcp needs port= or fd= (or TPM_PORT in the environment)"},
      {{"socket", "--server", "disconnect"}, {nullptr, ""},
       "--server: type=tcp needs port= or fd= (or TPM_PORT in the environment)"},
      {{"socket", "--server", "type=tcp"}, {nullptr, "23x"},
       "TPM_PORT: '23x' is not a port number (1-65535)"},
      {{"socket", "--server", "type=tcp"}, {nullptr, "65536"},
       "TPM_PORT: '65536' is not a port number (1-65535)"},
      {{"socket", "--server", "type=tcp,port=1,disconnect=yes"}, {},
       "--server: 'disconnect=yes': expected disconnect=true or disconnect=false"},
      {{"socket", "--server", "type=tcp,fd=5,disconnect"}, {},
       "--server: 'disconnect' is not valid with fd= (the connection is given, not accepted)"},
      {{"socket", "--server", "type=tcp,port=1,fd=5"}, {}, "--server: give only one of port=, fd="},
      {{"socket", "--server", "type=tcp,port=1,bindaddr=localhost"}, {},
       "--server: bindaddr 'localhost' is not an IPv4 or IPv6 address"},
      {{"socket", "--server", "type=tcp,port=1,bindaddr=127.0.0.256"}, {},
       "--server: bindaddr '127.0.0.256' is not an IPv4 or IPv6 address"},
      {{"socket", "--server", "type=tcp,port=1,bindaddr=fe80::1"}, {},
       "--server: link-local bindaddr 'fe80::1' needs ifname=, which is not supported"},
      {{"socket", "--server", "type=unixio,path=/a,port=5"}, {},
       "--server: 'port' is not valid with type=unixio"},
      {{"socket", "--server", "type=unixio"}, {}, "--server: type=unixio needs path= or fd="},
      {{"socket", "--server", "type=unixio,fd=4,uid=0"}, {},
       "--server: 'uid' is not valid with fd= (they apply to path=)"},
      {{"socket", "--server", "type=unixio,path=" + long_path}, {},
       "--server: path is 108 bytes long; a unix socket path has at most 107"},
      {{"socket", "-p", "70000"}, {}, "--port: port 70000 out of range (1-65535)"},
      {{"socket", "--port", "0"}, {}, "--port: port 0 out of range (1-65535)"},
      {{"socket", "-p", "abc"}, {}, "--port: port 'abc' is not a decimal number"},
      {{"socket", "-p", "0x910"}, {}, "--port: port '0x910' is not a decimal number"},
      {{"socket", "-f", "1"}, {}, "--fd: file descriptors 0, 1 and 2 cannot be used"},
      {{"socket", "--fd=0"}, {}, "--fd: file descriptors 0, 1 and 2 cannot be used"},
      {{"socket", "--fd", "x"}, {}, "--fd: 'x' is not a file descriptor number"},
      {{"socket", "--fd="}, {}, "--fd: '' is not a file descriptor number"},
      {run({"--fd", "7", "--server", "type=tcp,port=1"}), {},
       "--fd cannot be combined with --server or --port"},
      {run({"-p", "1", "-f", "7"}), {}, "--fd cannot be combined with --server or --port"},
      // --tpmstate
      {{"socket", "--tpmstate", "mode=0600"}, {}, "--tpmstate: needs dir= or backend-uri="},
      {{"socket", "--tpmstate", "dir=/a,backend-uri=dir:///b"}, {},
       "--tpmstate: give only one of dir=, backend-uri="},
      {{"socket", "--tpmstate", "backend-uri=file://"}, {},
       "--tpmstate: backend-uri 'file://' names no file"},
      {{"socket", "--tpmstate", "backend-uri=file:///var/lib/swtpm/"}, {},
       "--tpmstate: backend-uri 'file:///var/lib/swtpm/' names no file"},
      {{"socket", "--tpmstate", "backend-uri=nvram:x"}, {},
       "--tpmstate: unknown backend-uri 'nvram:x' (expected dir://DIR or file://FILE)"},
      {{"socket", "--tpmstate", "backend-uri=dir://"}, {},
       "--tpmstate: backend-uri 'dir://' names no directory"},
      {{"socket", "--tpmstate", "dir=/a,lock"}, {},
       "--tpmstate: parameter 'lock' is not supported"},
      {{"socket", "--tpmstate", "dir=/a,fsync"}, {},
       "--tpmstate: parameter 'fsync' is not supported"},
      {{"socket", "--tpmstate", "dir=/a,foo=bar"}, {}, "--tpmstate: unknown parameter 'foo'"},
      {{"socket", "--tpmstate", "dir=/a,mode=08"}, {},
       "--tpmstate: mode '08' is not an octal file mode (0000-0777)"},
      // --flags
      {{"socket", "--flags", "foo"}, {}, "--flags: unknown parameter 'foo'"},
      {{"socket", "--flags", "startup-clear,startup-state"}, {},
       "--flags: give only one of startup-clear, startup-state, startup-deactivated, startup-none"},
      {{"socket", "--flags", "disable-auto-shutdown"}, {},
       "--flags: parameter 'disable-auto-shutdown' is not supported"},
      {run({"--flags", "startup-deactivated", "--tpm2"}), {},
       "--flags: startup-deactivated is only valid for TPM 1.2 (not with --tpm2)"},
      {run({"--tpm2", "--flags", "not-need-init=maybe"}), {},
       "--flags: 'not-need-init=maybe': expected not-need-init=true or not-need-init=false"},
      // --pid, --log
      {{"socket", "--pid", "file=/a,fd=5"}, {}, "--pid: give only one of file=, fd="},
      {{"socket", "--pid", ","}, {}, "--pid: needs file= or fd="},
      {{"socket", "--pid", "fd=x"}, {}, "--pid: fd 'x' is not a decimal number"},
      {{"socket", "--log", "file=/a,fd=3"}, {}, "--log: give only one of file=, fd="},
      {{"socket", "--log", "level=abc"}, {}, "--log: level 'abc' is not a decimal number"},
      {{"socket", "--log", "level=4294967296"}, {},
       "--log: level 4294967296 out of range (0-4294967295)"},
      {{"socket", "--log", "fd=3,truncate"}, {}, "--log: truncate applies only to file="},
      {{"socket", "--log", "file=/a,prefix="}, {},
       "--log: parameter 'prefix' needs a value (prefix=…)"},
      // --key, --migration-key, --pwdfile
      {{"socket", "--key", "file=/k,mode=foo"}, {},
       "--key: unknown mode 'foo' (expected aes-cbc or aes-256-cbc)"},
      {{"socket", "--key", "file=/k,format=base64"}, {},
       "--key: unknown format 'base64' (expected hex or binary)"},
      {{"socket", "--key", "pwdfile=/p,kdf=md5"}, {},
       "--key: unknown kdf 'md5' (expected pbkdf2 or sha512)"},
      {{"socket", "--key", "file=/k,kdf=sha512"}, {},
       "--key: kdf= applies only to pwdfile= and pwdfd="},
      {{"socket", "--key", "pwdfile=/p,format=hex"}, {},
       "--key: format= applies only to file= and fd= (a passphrase has no format)"},
      {{"socket", "--key", "pwdfd=5,remove"}, {},
       "--key: remove applies only to file= and pwdfile="},
      {{"socket", "--key", "mode=aes-cbc"}, {}, "--key: needs file=, fd=, pwdfile= or pwdfd="},
      {{"socket", "--key", "file=/k,pwdfile=/p"}, {},
       "--key: give only one of file=, fd=, pwdfile=, pwdfd="},
      {{"socket", "--migration-key", "file=/k,mode=aes-512-cbc"}, {},
       "--migration-key: unknown mode 'aes-512-cbc' (expected aes-cbc or aes-256-cbc)"},
      {{"socket", "--migration-key", "pwdfd=-3"}, {},
       "--migration-key: pwdfd '-3' is not a decimal number"},
      {run({"--pwdfile", "/p", "--key", "file=/k"}), {},
       "--pwdfile and --key cannot both be given"},
      // --locality, --seccomp
      {{"socket", "--locality", "reject-locality-5"}, {},
       "--locality: unknown parameter 'reject-locality-5'"},
      {run({"--seccomp", "action=trap"}), {},
       "--seccomp: unknown action 'trap' (expected none, kill or log)"},
      {run({"--seccomp", "none"}), {}, "--seccomp: unknown parameter 'none'"},
      // what needs all the options
      {{"socket", "--print-states"}, {"/tmp/tpm", nullptr}, "--print-states needs --tpmstate"},
      {{"socket", "--fold-journal"}, {},
       "--fold-journal needs --tpmstate dir=… (or the TPM_PATH environment variable)"},
      {{"socket", "--ctrl", "type=unixio,path=/c"}, {},
       "missing --tpmstate dir=… (or the TPM_PATH environment variable)"},
      {{"socket", "--ctrl", "type=unixio,path=/c"}, {"", nullptr},
       "missing --tpmstate dir=… (or the TPM_PATH environment variable)"},
      {{"socket", "--tpmstate", "dir=/d"}, {},
       "--ctrl is needed, unless a data channel (--server, --port or --fd) is used with --flags "
       "not-need-init"},
      {{"socket", "--tpmstate", "dir=/d", "-p", "2321"}, {},
       "--ctrl is needed, unless a data channel (--server, --port or --fd) is used with --flags "
       "not-need-init"},
  };
}

// Failures name the command line rather than dumping the struct's bytes.
void PrintTo(const Refused& r, std::ostream* os) {
  *os << "vtpmd";
  for (const std::string& a : r.args) *os << " " << a;
}

class RefusedCommandLine : public ::testing::TestWithParam<Refused> {};

TEST_P(RefusedCommandLine, GivesSpecificMessage) {
  const Refused& c = GetParam();
  Outcome o = parse(c.args, c.env);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(c.error, o.error);
}

INSTANTIATE_TEST_SUITE_P(Options, RefusedCommandLine, ::testing::ValuesIn(refused_cases()));

// ---- texts ----------------------------------------------------------------------------------

// swtpm 0.7.1 `socket --print-capabilities --tpm2`, observed (reference §3.3): the same
// features in the same order.
TEST(Capabilities, Tpm2WithKeySizes) {
  EXPECT_EQ(
      "{ \"type\": \"swtpm\", \"features\": [ \"tpm-1.2\", \"tpm-2.0\", "
      "\"tpm-send-command-header\", \"flags-opt-startup\", \"cmdarg-seccomp\", \"cmdarg-key-fd\", "
      "\"cmdarg-pwd-fd\", \"cmdarg-print-states\", \"nvram-backend-dir\", \"nvram-backend-file\", "
      "\"rsa-keysize-1024\", "
      "\"rsa-keysize-2048\", \"rsa-keysize-3072\" ], \"version\": \"0.7.1\" }",
      capabilities_json(true, {1024, 2048, 3072}));
}

TEST(Capabilities, Tpm12HasNoKeySizes) {
  EXPECT_EQ(
      "{ \"type\": \"swtpm\", \"features\": [ \"tpm-1.2\", \"tpm-2.0\", "
      "\"tpm-send-command-header\", \"flags-opt-startup\", \"cmdarg-seccomp\", \"cmdarg-key-fd\", "
      "\"cmdarg-pwd-fd\", \"cmdarg-print-states\", \"nvram-backend-dir\", \"nvram-backend-file\" ], "
      "\"version\": \"0.7.1\" }",
      capabilities_json(false, {1024, 2048, 3072}));
}

TEST(Capabilities, Tpm2WithoutKeySizes) {
  EXPECT_EQ(capabilities_json(false, {}), capabilities_json(true, {}));
}

TEST(Capabilities, OneLine) {
  EXPECT_EQ(std::string::npos, capabilities_json(true, {2048}).find('\n'));
}

TEST(Usage, ListsWhatIsAcceptedAndNothingElse) {
  const std::string u = usage_text();
  for (const char* opt :
       {"--tpmstate", "--ctrl", "--server", "--port", "--fd", "--terminate", "--daemon", "--tpm2",
        "--flags", "--pid", "--log", "--key", "--pwdfile", "--migration-key", "--locality",
        "--print-capabilities", "--print-states", "--fold-journal", "--help", "--version",
        "TPM_PATH", "TPM_PORT", "-r|--runas <user>", "--seccomp action=none|kill|log"})
    EXPECT_NE(std::string::npos, u.find(opt)) << opt;
  // swtpm's tests: "--seccomp" in the help means "an active filter" (vtpmd installs one);
  // "cuse" means CUSE support, which vtpmd has not.
  EXPECT_EQ(std::string::npos, u.find("cuse"));
  EXPECT_EQ('\n', u.back());
}

TEST(Version, SaysWhichSwtpmItSpeaks) {
  const std::string v = version_text();
  EXPECT_EQ(0u, v.rfind("TPM emulator version 0.7.1, vtpmd ", 0)) << v;
  EXPECT_EQ(std::string::npos, v.find('\n'));
}

TEST(Environment, FromProcessReadsTpmPathAndPort) {
  setenv("TPM_PATH", "/tmp/from-env", 1);
  setenv("TPM_PORT", "4321", 1);
  Environment env = Environment::from_process();
  ASSERT_NE(nullptr, env.tpm_path);
  ASSERT_NE(nullptr, env.tpm_port);
  EXPECT_STREQ("/tmp/from-env", env.tpm_path);
  EXPECT_STREQ("4321", env.tpm_port);
  unsetenv("TPM_PATH");
  unsetenv("TPM_PORT");
}

}  // namespace
}  // namespace vtpm::instance
