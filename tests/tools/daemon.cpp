// Daemon processes and state directories for the test tools (see daemon.h).
#include "daemon.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "swtpm_ctrl.h"

namespace vtpm::testtools {

namespace fs = std::filesystem;

Daemon& Daemon::operator=(Daemon&& o) noexcept {
  if (this != &o) {
    kill_now();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

Daemon Daemon::spawn(const DaemonSpec& spec) {
  std::vector<std::string> argv_s{spec.exe};
  argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = spec.log_path.empty() ? "/dev/null" : spec.log_path;

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw IoError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. If the test process dies (a crash, a
    // closed pipe, ^C) its daemons die with it instead of outliving it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      if (fd > 2) ::close(fd);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0 && devnull != 0) {
      ::dup2(devnull, 0);
      ::close(devnull);
    }
    if (spec.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(spec.cpu, &set);
      ::sched_setaffinity(0, sizeof set, &set);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return Daemon(pid);
}

bool Daemon::wait_exit(int timeout_ms, int* status) {
  if (pid_ <= 0) return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int sleep_us = 200;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      if (status) *status = st;
      pid_ = -1;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    sleep_us = std::min(sleep_us * 2, 20000);
  }
}

void Daemon::terminate(int timeout_ms) {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  if (!wait_exit(timeout_ms)) kill_now();
}

void Daemon::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void Daemon::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::vector<std::string> socket_args(const std::string& state_dir, const Endpoint& data, const Endpoint& ctrl,
                                     const std::string& flags) {
  std::vector<std::string> a{"socket", "--tpm2", "--tpmstate", "dir=" + state_dir, "--server", data.swtpm_option(),
                             "--ctrl", ctrl.swtpm_option()};
  if (!flags.empty()) {
    a.push_back("--flags");
    a.push_back(flags);
  }
  return a;
}

std::string make_temp_dir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw IoError("mkdtemp " + tmpl + ": " + std::strerror(errno));
  return tmpl;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

void copy_state_dir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    if (!e.is_regular_file() || e.path().filename() == ".lock") continue;
    fs::copy_file(e.path(), fs::path(to) / e.path().filename(), fs::copy_options::overwrite_existing);
  }
}

void make_template_state(const std::string& exe, const std::string& state_dir, const std::string& scratch,
                         int timeout_ms) {
  fs::create_directories(state_dir);
  Endpoint data = Endpoint::unix_path(scratch + "/template.data");
  Endpoint ctl = Endpoint::unix_path(scratch + "/template.ctrl");
  Daemon d = Daemon::spawn({exe, socket_args(state_dir, data, ctl, "not-need-init,startup-clear"),
                            scratch + "/template.log", -1});
  Connection c = Connection::connect(ctl, timeout_ms);
  Bytes reply = ctrl::transact(c, ctrl::request(ctrl::SHUTDOWN), timeout_ms);
  if (ctrl::result_of(reply) != 0) throw IoError("template run: CMD_SHUTDOWN answered " + hex(reply));
  int status = 0;
  if (!d.wait_exit(timeout_ms, &status)) throw IoError("template run: daemon did not exit after CMD_SHUTDOWN");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw IoError("template run: daemon " + describe_status(status));
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

int online_cpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

void pin_self_to_cpu(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string required_env(const char* name, const char* what) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') throw IoError(std::string(name) + " is not set: " + what);
  return v;
}

}  // namespace vtpm::testtools
