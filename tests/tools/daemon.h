// Starting and stopping `swtpm socket`-compatible daemons for tests and benchmarks: fork/exec
// with an optional CPU pin (what `taskset -c N` does), output to a log file, bounded waits, and
// the state-directory helpers (temp dirs, copies, a template state made by one run).
// Only processes started here are ever signalled, and they get SIGKILL if the process that
// started them dies (PR_SET_PDEATHSIG).
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "connection.h"

namespace vtpm::testtools {

struct DaemonSpec {
  std::string exe;
  std::vector<std::string> args;  // without argv[0]
  std::string log_path;           // stdout+stderr; "" = /dev/null
  int cpu = -1;                   // pin the child to this CPU before exec (-1 = no pin)
};

class Daemon {
 public:
  Daemon() = default;
  static Daemon spawn(const DaemonSpec& spec);
  Daemon(Daemon&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Daemon& operator=(Daemon&& o) noexcept;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon() { kill_now(); }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // Reaps the child if it exits within timeout_ms; returns true and its wait status then.
  bool wait_exit(int timeout_ms, int* status = nullptr);
  // SIGTERM, wait up to timeout_ms, then SIGKILL and reap.
  void terminate(int timeout_ms);
  void kill_now();  // SIGKILL and reap
  void signal(int sig);  // send sig to this child only; no wait

 private:
  explicit Daemon(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// `socket --tpm2 --tpmstate dir=D --server … --ctrl … --flags F`.
std::vector<std::string> socket_args(const std::string& state_dir, const Endpoint& data, const Endpoint& ctrl,
                                     const std::string& flags);

std::string make_temp_dir(const std::string& prefix);  // under $TMPDIR or /tmp
void remove_tree(const std::string& path);
// Copies the regular files of `from` (not .lock) into `to`, creating `to`.
void copy_state_dir(const std::string& from, const std::string& to);
// Runs `exe` once on the empty dir `state_dir` with --flags not-need-init,startup-clear, then
// CMD_SHUTDOWN, so the dir holds a manufactured TPM. `scratch` holds the sockets and the log.
void make_template_state(const std::string& exe, const std::string& state_dir, const std::string& scratch,
                         int timeout_ms = 20000);
std::string describe_status(int status);
// The whole of a text file ("" when it cannot be read): daemon logs for failure messages.
std::string read_text_file(const std::string& path);
// The environment variable `name`, which must be set to something (a test's daemon under test is
// never optional): IoError "NAME is not set: WHAT" otherwise.
std::string required_env(const char* name, const char* what);
// The number of online CPUs of the machine (not this process's affinity mask, which a
// `taskset -c 0` around the client narrows to one).
int online_cpus();
void pin_self_to_cpu(int cpu);  // no-op when cpu < 0 or absent

}  // namespace vtpm::testtools
