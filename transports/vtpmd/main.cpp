// vtpmd: one software TPM per process, a drop-in for `swtpm socket` (swtpm 0.7.1 command line and
// protocols; reference/swtpm-qemu.md §3, §7). The composition root (DESIGN §3): main() parses the
// command line, opens and locks the state directory, loads the keys, builds the engine and the
// instance core (runtime/instance/core.h), and joins it to its transport, the swtpm socket server
// (transports/swtpm/server.h). A new transport is another server driving the same core.
#include <fcntl.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/rand.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "instance/core.h"
#include "instance/log.h"
#include "instance/options.h"
#include "instance/site_config.h"
#include "store/key.h"
#include "store/openssl_crypto.h"
#include "store/state_open.h"
#include "transports/swtpm/server.h"
#include "manager/client_link.h"
#include "transports/vtpmd/sandbox.h"

namespace {

using namespace vtpm;
using instance::Action;
using instance::Config;

int fail(const std::string& msg) {
  std::fprintf(stderr, "vtpmd: %s\n", msg.c_str());
  return 1;
}

// RSA key sizes libtpms offers, from TPMLIB_GetInfo(TPMFEATURES): {"TPMFeatures":{"RSAKeySizes":[…]}}.
std::vector<unsigned> rsa_key_sizes(const std::string& json) {
  std::vector<unsigned> out;
  size_t p = json.find("\"RSAKeySizes\"");
  if (p == std::string::npos) return out;
  p = json.find('[', p);
  size_t e = p == std::string::npos ? p : json.find(']', p);
  if (e == std::string::npos) return out;
  unsigned v = 0;
  bool in = false;
  for (size_t i = p + 1; i <= e; ++i) {
    char c = json[i];
    if (c >= '0' && c <= '9' && v < 100000) { v = v * 10 + static_cast<unsigned>(c - '0'); in = true; }
    else if (in) { out.push_back(v); v = 0; in = false; }
  }
  return out;
}

// The NvBackend used only to ask libtpms for its features: nothing is stored.
class NoStore final : public engine::NvBackend {
 public:
  engine::LoadStatus load(engine::BlobKind, std::vector<uint8_t>&) override { return engine::LoadStatus::Absent; }
  bool store(engine::BlobKind, const uint8_t*, uint32_t) override { return false; }
  bool remove(engine::BlobKind, bool) override { return true; }
};

int print_capabilities(const Config& cfg) {
  std::vector<unsigned> sizes;
  if (cfg.tpm2) {
    NoStore none;
    engine::Engine probe(engine::TpmVersion::Tpm2, none);
    sizes = rsa_key_sizes(probe.info(4 /* TPMLIB_INFO_TPMFEATURES */));
  }
  std::printf("%s\n", instance::capabilities_json(cfg.tpm2, sizes).c_str());
  return 0;
}

int print_states(const Config& cfg) {
  store::OpensslCrypto crypto;
  std::string json, err;
  if (!store::print_states_json(cfg, crypto, json, err)) return fail(err);
  std::printf("%s\n", json.c_str());
  return 0;
}

// /etc/vtpm/vtpmd.conf, or the file $VTPMD_CONF names (which must then exist): a manager named
// there keys every instance started without --key (runtime/instance/site_config.h).
bool apply_site_config(Config& cfg, std::string& err) {
  const char* env = std::getenv("VTPMD_CONF");
  const std::string name = env != nullptr && *env != '\0' ? env : "/etc/vtpm/vtpmd.conf";
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && env == nullptr) return true;  // no site configuration: nothing to do
    err = name + ": " + std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = name + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 65536) {
      err = name + ": larger than 64 KiB";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  instance::SiteConfig site;
  return instance::parse_site_config(text, name, site, err) && instance::apply_site_config(site, name, cfg, err);
}

int fold_journal(const Config& cfg) {
  store::OpensslCrypto crypto;
  std::string report, err;
  if (!store::fold_journal_offline(cfg, crypto, report, err)) return fail("--fold-journal: " + err);
  std::printf("%s\n", report.c_str());
  return 0;
}

// The pid file, written after the sockets exist, as swtpm does. With --pid fd=N, swtpm 0.7.1
// (pidfile.c, utils.c fd_to_filename) writes the pid into that fd, closes it, and removes the file
// the fd named at exit, as it does for --pid file=: `path` gets the file to remove ("" = none).
bool write_pid_file(const Config& cfg, std::string& path, std::string& err) {
  path.clear();
  if (cfg.pid_file.empty() && cfg.pid_fd < 0) return true;
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%d", static_cast<int>(getpid()));
  int fd = cfg.pid_fd;
  if (fd >= 0) {
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      err = "--pid: file descriptor " + std::to_string(fd) + " is not a regular file";
      return false;
    }
    char link[PATH_MAX];
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    ssize_t len = ::readlink(proc.c_str(), link, sizeof link - 1);
    if (len <= 0) {
      err = "--pid: cannot tell which file descriptor " + std::to_string(fd) + " names: " + std::strerror(errno);
      return false;
    }
    path.assign(link, static_cast<size_t>(len));
  } else {
    fd = ::open(cfg.pid_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      err = "--pid: cannot write '" + cfg.pid_file + "': " + std::strerror(errno);
      return false;
    }
    path = cfg.pid_file;
  }
  bool ok = ::write(fd, buf, static_cast<size_t>(n)) == n;
  ::close(fd);
  if (!ok) err = "--pid: short write";
  return ok;
}

bool daemonize(std::string& err) {
  pid_t pid = fork();
  if (pid < 0) { err = "--daemon: fork failed"; return false; }
  if (pid > 0) _exit(0);
  setsid();
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) ::close(null);
  }
  return true;
}

// OpenSSL's random bytes (libtpms draws its entropy through RAND_bytes, our GCM nonces too) come
// straight from the kernel's CSPRNG, getrandom(2). OpenSSL 3's own DRBG would be instantiated at
// the first random byte, and fetching its algorithm builds OpenSSL's whole method table: about
// half of an instance's start-up instructions (callgrind). RAND_set_rand_method is deprecated in
// OpenSSL 3 but supported, and it is the documented way to replace the default generator.
int kernel_random_bytes(unsigned char* buf, int num) {
  size_t done = 0;
  const size_t want = num > 0 ? static_cast<size_t>(num) : 0;
  for (int guard = 0; done < want && guard < 1000; ++guard) {
    ssize_t n = getrandom(buf + done, want - done, 0);
    if (n > 0) done += static_cast<size_t>(n);
    else if (n < 0 && errno != EINTR) return 0;
  }
  return done == want ? 1 : 0;
}
int kernel_random_status() { return 1; }
int kernel_random_seed(const void*, int) { return 1; }
int kernel_random_add(const void*, int, double) { return 1; }

const RAND_METHOD kKernelRandom = {kernel_random_seed, kernel_random_bytes, nullptr,
                                   kernel_random_add,  kernel_random_bytes, kernel_random_status};

bool use_kernel_random() { return RAND_set_rand_method(&kKernelRandom) == 1; }

// Started with stdin, stdout or stderr closed, the state directory's lock or a socket could get
// fd 0-2, and --daemon's dup2 of /dev/null over them would then drop it: fill them first.
bool standard_fds_open() {
  for (int guard = 0; guard < 3; ++guard) {
    const int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    if (fd > 2) {
      ::close(fd);
      return true;
    }
    // fd 0-2 was closed: /dev/null keeps it taken (inherited by nothing: O_CLOEXEC)
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!standard_fds_open()) return 1;
  instance::ParsedCommandLine cl;
  std::string err;
  if (!instance::parse_command_line(argc, argv, cl, err)) return fail(err);
  if (cl.action == Action::Run && !apply_site_config(cl.config, err)) return fail(err);
  const Config& cfg = cl.config;
  switch (cl.action) {
    case Action::Help: std::fputs(instance::usage_text().c_str(), stdout); return 0;
    case Action::Version: std::printf("%s\n", instance::version_text().c_str()); return 0;
    case Action::PrintCapabilities: return print_capabilities(cfg);
    case Action::PrintStates: return print_states(cfg);
    case Action::FoldJournal: return fold_journal(cfg);
    case Action::Run: break;
  }

  if (!use_kernel_random()) return fail("could not install the kernel random source");
  sandbox::User runas;  // looked up now, so that an unknown user fails before anything is opened
  if (!cfg.runas.empty() && !sandbox::resolve_user(cfg.runas, runas, err)) return fail(err);

  instance::Log log;
  if (!log.open(cfg.log_file, cfg.log_fd, cfg.log_level, cfg.log_prefix, cfg.log_truncate, err)) return fail(err);
  store::OpensslCrypto crypto;
  store::OpenedState state;
  if (!state.open(cfg, crypto, true, err)) return fail(err);
  store::SecretKey key, migration_key;
  const bool keyed_by_manager = cfg.key.source == instance::KeySource::Manager;
  if (!keyed_by_manager && !store::load_key(crypto, cfg.key, key, err)) return fail("--key: " + err);
  if (!store::load_key(crypto, cfg.migration_key, migration_key, err))
    return fail("--migration-key: " + err);

  const auto version = cfg.tpm2 ? engine::TpmVersion::Tpm2 : engine::TpmVersion::Tpm12;
  store::StateStore& states = state.store();
  if (!key.empty() && !states.set_key(key, err)) return fail("--key: " + err);
  states.set_first_write_direct(true);  // spawn to first answer: see StateStore

  key.clear();
  engine::Engine tpm(version, states);
  if (auto d = log.libtpms_debug(); d.fd >= 0) engine::Engine::set_debug(d.fd, d.level, d.prefix.c_str());

  instance::InstanceCore core(cfg, tpm, states, log, migration_key.bytes());
  transports::swtpm::Server server(cfg, core, log);
  if (!server.open_channels(err)) return fail(err);
  if (cfg.daemon && !daemonize(err)) return fail(err);
  std::string pid_path;
  if (!write_pid_file(cfg, pid_path, err)) return fail(err);
  // --runas after the sockets, pid file and state are open (the order); the lock file
  // becomes the user's, and everything written from here on, a crash's journal fold first, is
  // written by the user, so the directory stays usable by that user and by swtpm run as it.
  if (!cfg.runas.empty() && (!state.give_lock_to(runas.uid, runas.gid, err) || !sandbox::drop_to_user(runas, err)))
    return fail(err);
  // --key manager=…: the key and the latest generation come from vtpm-manager (as the user
  // --runas named: the manager checks the uid the kernel reports), and the state is checked
  // against them before anything else reads it.
  transports::manager::UnixLink manager_link(cfg.key.path);
  instance::ManagerClient manager(manager_link, log, cfg.key.uuid, cfg.key.path);
  if (keyed_by_manager) {
    std::vector<store::StoredBlob> present;
    if (!states.list(present, err)) return fail(state.where() + ": " + err);
    if (!core.attach_manager(manager, present.empty(), err)) return fail(err);
  }
  bool folded = false;  // a journal left by a crash: swtpm's files again before serving
  if (!states.fold_leftover_journal(folded)) return fail(state.where() + ": " + states.last_error());
  if (folded) log.info(1, "vtpmd: folded %s, left by an unclean stop, into the state files", states.journal_name().c_str());
  if (!sandbox::install_seccomp(cfg.seccomp, keyed_by_manager, err)) return fail(err);  // last, just before serving
  log.info(1, "vtpmd: serving (%s)", cfg.tpm2 ? "TPM 2.0" : "TPM 1.2");
  int rc = server.run();
  if (!pid_path.empty()) ::unlink(pid_path.c_str());
  return rc;
}
