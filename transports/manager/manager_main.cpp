// vtpm-manager: the composition root (DESIGN §3) that joins the manager core
// (runtime/manager/core.h) to its unix socket (server.h) and to the host's TPM: a tpm2-tss TCTI
// string (--tpm), or, without one, a simulated hardware TPM it starts itself — a vtpmd on one
// end of a socketpair, its state under DIR/hwtpm — reached through the stream TCTI.
//
//   vtpm-manager --state DIR --socket PATH [--tpm TCTI] [--pcrs 7|0,7|none]
//                [--allow-uid UID]... [--commit-interval SECONDS] [--log-level N] [--vtpmd PATH]
//                [--recover FILE]
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "manager/core.h"
#include "manager/server.h"
#include "manager/stream_tcti.h"
#include "store/openssl_crypto.h"
#include "store/secret.h"
#include "swtpm/net.h"

namespace {

using vtpm::transports::manager::Peer;

struct Options {
  std::string state;
  std::string socket;
  std::string tpm;
  std::string vtpmd;
  std::string recover;  // --recover FILE: the offline recovery key, 64 hex digits
  uint32_t pcr_mask = 1u << 7;
  std::vector<uid_t> allow_uids;
  int64_t commit_interval_s = 15 * 60;
  int log_level = 1;
};

const char kUsage[] =
    "Usage: vtpm-manager --state DIR --socket PATH [options]\n"
    "Keeps every vTPM instance's state key sealed to the host's TPM 2.0 and knows each\n"
    "instance's latest state (vtpmd socket ... --key manager=PATH,uuid=UUID).\n"
    "\n"
    "  --state DIR              the manager's directory (created 0700; provisioned on first start)\n"
    "  --socket PATH            the unix socket instances and vtpmctl connect to (mode 0660)\n"
    "  --tpm TCTI               the host TPM as a tpm2-tss TCTI (device:/dev/tpmrm0,\n"
    "                           swtpm:host=127.0.0.1,port=2321, ...); default: a simulated TPM\n"
    "                           (a vtpmd child, state in DIR/hwtpm)\n"
    "  --pcrs LIST|none         SHA-256 PCRs the root key is sealed to (default 7)\n"
    "  --allow-uid UID          also serve this uid (root and the manager's own uid always are)\n"
    "  --commit-interval SECS   NV counter increment at most this long after a change (default 900)\n"
    "  --log-level N            0 quiet, 1 lifecycle (default), 2 every transition\n"
    "  --vtpmd PATH             the vtpmd that runs the simulated TPM\n"
    "  --recover FILE           the recovery key (vtpmctl export-recovery, 64 hex digits): when\n"
    "                           the root key no longer unseals (the PCRs changed), take it from\n"
    "                           DIR/recovery and seal it to the current PCRs again\n"
    "  --help, --version\n";

bool parse_u32(const char* s, uint32_t max, uint32_t& out) {
  if (*s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max || s[0] == '-' || s[0] == '+') return false;
  out = static_cast<uint32_t>(v);
  return true;
}

bool parse_pcrs(const std::string& text, uint32_t& mask) {
  if (text == "none") {
    mask = 0;
    return true;
  }
  mask = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    uint32_t pcr = 0;
    if (!parse_u32(item.c_str(), 23, pcr)) return false;
    mask |= 1u << pcr;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return mask != 0;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "vtpm-manager: %s\n(vtpm-manager --help lists the options)\n", msg.c_str());
  return 2;
}

int parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("vtpm-manager %s\n", VTPM_VERSION);
      return 0;
    } else if (a == "--state") {
      if (!value(o.state) || o.state.empty()) return usage_error("--state needs a directory");
    } else if (a == "--socket") {
      if (!value(o.socket) || o.socket.empty()) return usage_error("--socket needs a path");
    } else if (a == "--tpm") {
      if (!value(o.tpm) || o.tpm.empty()) return usage_error("--tpm needs a TCTI string");
    } else if (a == "--recover") {
      if (!value(o.recover) || o.recover.empty()) return usage_error("--recover needs a file");
    } else if (a == "--vtpmd") {
      if (!value(o.vtpmd) || o.vtpmd.empty()) return usage_error("--vtpmd needs a path");
    } else if (a == "--pcrs") {
      if (!value(v) || !parse_pcrs(v, o.pcr_mask))
        return usage_error("--pcrs needs PCR numbers 0-23 separated by commas, or none");
    } else if (a == "--allow-uid") {
      uint32_t uid = 0;
      if (!value(v) || !parse_u32(v.c_str(), 0xfffffffeu, uid)) return usage_error("--allow-uid needs a numeric uid");
      o.allow_uids.push_back(uid);
    } else if (a == "--commit-interval") {
      uint32_t s = 0;
      if (!value(v) || !parse_u32(v.c_str(), 7 * 24 * 3600, s) || s == 0)
        return usage_error("--commit-interval needs seconds, 1 to 604800");
      o.commit_interval_s = s;
    } else if (a == "--log-level") {
      uint32_t l = 0;
      if (!value(v) || !parse_u32(v.c_str(), 5, l)) return usage_error("--log-level needs 0-5");
      o.log_level = static_cast<int>(l);
    } else {
      return usage_error("unknown option '" + a + "'");
    }
  }
  if (o.state.empty()) return usage_error("missing --state DIR");
  if (o.socket.empty()) return usage_error("missing --socket PATH");
  return -1;
}

int64_t now_ms() { return vtpm::transports::swtpm::now_ms(); }

// The vtpmd beside this executable (the build tree: ../vtpmd/vtpmd; installed: the same dir).
std::string find_vtpmd(const std::string& given) {
  if (!given.empty()) return given;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir = dir.substr(0, dir.rfind('/'));
    for (const std::string& c : {dir + "/vtpmd", dir + "/../vtpmd/vtpmd"})
      if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "vtpmd";  // from PATH
}

// Starts the simulated TPM: vtpmd with its data channel on one end of a socketpair (so no one
// else can reach it) and not-need-init,startup-clear. Returns our end, or -1 with `err`.
int start_simulated_tpm(const std::string& vtpmd, const std::string& dir, pid_t& pid, std::string& err) {
  const std::string state = dir + "/hwtpm";
  if (::mkdir(state.c_str(), 0700) != 0 && errno != EEXIST) {
    err = state + ": " + std::strerror(errno);
    return -1;
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    err = std::string("socketpair: ") + std::strerror(errno);
    return -1;
  }
  pid = ::fork();
  if (pid < 0) {
    err = std::string("fork: ") + std::strerror(errno);
    ::close(sv[0]);
    ::close(sv[1]);
    return -1;
  }
  if (pid == 0) {
    ::dup2(sv[1], 3);  // dup2 clears close-on-exec on fd 3
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const std::string tpmstate = "dir=" + state;
    ::execl(vtpmd.c_str(), vtpmd.c_str(), "socket", "--tpm2", "--tpmstate", tpmstate.c_str(), "--server",
            "type=tcp,fd=3", "--flags", "not-need-init,startup-clear", static_cast<char*>(nullptr));
    ::execlp(vtpmd.c_str(), vtpmd.c_str(), "socket", "--tpm2", "--tpmstate", tpmstate.c_str(), "--server",
             "type=tcp,fd=3", "--flags", "not-need-init,startup-clear", static_cast<char*>(nullptr));
    std::fprintf(stderr, "vtpm-manager: cannot run %s: %s\n", vtpmd.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(sv[1]);
  return sv[0];
}

// --recover FILE: 64 hex digits, surrounding white space allowed; the buffers are wiped.
bool read_recovery_key(const std::string& path, vtpm::store::SecretKey& out, std::string& err) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 0) n = 0;
  uint8_t key[32];
  size_t digits = 0;
  bool ok = true;
  for (ssize_t i = 0; i < n && ok; i++) {
    const char c = buf[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0 || digits >= 64) {
      ok = false;
      break;
    }
    if (digits % 2 == 0) key[digits / 2] = static_cast<uint8_t>(v << 4);
    else key[digits / 2] = static_cast<uint8_t>(key[digits / 2] | v);
    digits++;
  }
  ok = ok && digits == 64;
  if (ok) out.assign(key, sizeof key);
  vtpm::store::wipe(key, sizeof key);
  vtpm::store::wipe(buf, sizeof buf);
  if (!ok) err = path + ": expected the recovery key as 64 hex digits";
  return ok;
}

class Handler final : public vtpm::transports::manager::ServerHandler {
 public:
  explicit Handler(vtpm::manager::ManagerCore& core) : core_(core) {}
  void message(const Peer& peer, const uint8_t* msg, size_t len, std::vector<uint8_t>& reply) override {
    vtpm::manager::PeerId id;
    id.connection = peer.connection;
    id.uid = peer.uid;
    id.admin = peer.uid == 0 || peer.uid == ::geteuid();
    core_.handle(id, msg, len, reply, now_ms());
  }
  void bad_frame(const Peer&, uint32_t, std::vector<uint8_t>& reply) override { core_.bad_frame(reply); }
  void closed(const Peer& peer) override { core_.disconnected(peer.connection); }
  int ms_until_tick() override {
    const int64_t ms = core_.ms_until_tick(now_ms());
    return ms < 0 ? -1 : static_cast<int>(ms > 60000 ? 60000 : ms);
  }
  void tick() override { core_.tick(now_ms()); }

 private:
  vtpm::manager::ManagerCore& core_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int rc = parse(argc, argv, o); rc >= 0) return rc;
  int log_level = o.log_level;
  auto log = [log_level](int level, const std::string& line) {
    if (level <= log_level) std::fprintf(stderr, "%s\n", line.c_str());
  };
  ::setenv("TSS2_LOG", "all+none", 0);  // tpm2-tss's own warnings: our messages say it better

  if (::mkdir(o.state.c_str(), 0700) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "vtpm-manager: --state %s: %s\n", o.state.c_str(), std::strerror(errno));
    return 1;
  }
  const int dir_fd = ::open(o.state.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dir_fd < 0) {
    std::fprintf(stderr, "vtpm-manager: --state %s: %s\n", o.state.c_str(), std::strerror(errno));
    return 1;
  }
  const int lock_fd = ::openat(dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr, "vtpm-manager: --state %s is in use by another vtpm-manager (%s)\n", o.state.c_str(),
                 std::strerror(errno));
    return 1;
  }

  vtpm::manager::HostTpm tpm;
  std::string err;
  pid_t sim_pid = -1;
  static vtpm::transports::manager::StreamTcti sim_tcti;  // lives as long as the TPM context
  if (!o.tpm.empty()) {
    if (!tpm.open(o.tpm, err)) {
      std::fprintf(stderr, "vtpm-manager: the host TPM: %s\n", err.c_str());
      return 1;
    }
  } else {
    const int fd = start_simulated_tpm(find_vtpmd(o.vtpmd), o.state, sim_pid, err);
    if (fd < 0) {
      std::fprintf(stderr, "vtpm-manager: the simulated TPM: %s\n", err.c_str());
      return 1;
    }
    vtpm::transports::manager::stream_tcti_init(sim_tcti, fd);
    if (!tpm.open_context(vtpm::transports::manager::as_tcti(sim_tcti), "simulated TPM (vtpmd)", err)) {
      std::fprintf(stderr, "vtpm-manager: the simulated TPM: %s\n", err.c_str());
      return 1;
    }
    log(1, "vtpm-manager: no --tpm: a simulated TPM (vtpmd pid " + std::to_string(sim_pid) + ", state " +
               o.state + "/hwtpm)");
  }

  vtpm::store::OpensslCrypto crypto;
  vtpm::manager::CoreConfig cfg;
  cfg.dir_fd = dir_fd;
  cfg.dir_path = o.state;
  cfg.pcr_mask = o.pcr_mask;
  cfg.commit_interval_ms = o.commit_interval_s * 1000;
  vtpm::manager::ManagerCore core(cfg, tpm, crypto, log);
  if (!o.recover.empty()) {
    vtpm::store::SecretKey recovery;
    if (!read_recovery_key(o.recover, recovery, err)) {
      std::fprintf(stderr, "vtpm-manager: --recover %s\n", err.c_str());
      return 1;
    }
    core.set_recovery_key(recovery);
  }
  if (!core.start(now_ms(), err)) {
    std::fprintf(stderr, "vtpm-manager: %s\n", err.c_str());  // still serves Status (failed closed)
  } else {
    log(1, "vtpm-manager: serving " + std::to_string(core.record_count()) + " record(s), counter " +
               std::to_string(core.counter()));
  }

  vtpm::transports::manager::ServerConfig scfg;
  scfg.socket_path = o.socket;
  scfg.allowed_uids = o.allow_uids;
  Handler handler(core);
  vtpm::transports::manager::Server server(scfg, handler);
  if (!server.open(err)) {
    std::fprintf(stderr, "vtpm-manager: %s\n", err.c_str());
    return 1;
  }
  int rc = server.run(err);
  if (rc != 0) std::fprintf(stderr, "vtpm-manager: %s\n", err.c_str());
  if (!core.shutdown(err)) {
    std::fprintf(stderr, "vtpm-manager: clean stop: %s\n", err.c_str());
    rc = 1;
  }
  tpm.close();  // the simulated TPM's data channel closes: it exits (--server fd= terminates)
  if (sim_pid > 0) {  // it exits once its data channel is closed; wait for that, 5 s at most
    const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, sim_pid, 0));
    if (pfd < 0 || vtpm::transports::swtpm::wait_readable(pfd, 5000) != 1) ::kill(sim_pid, SIGKILL);
    if (pfd >= 0) ::close(pfd);
    ::waitpid(sim_pid, nullptr, 0);
  }
  log(1, "vtpm-manager: stopped");
  return rc;
}
