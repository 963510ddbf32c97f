// Debian's swtpm 0.7.1 as a real TPM for the manager's tests (host_tpm_test, core_test): a
// `swtpm socket --tpm2` child on a free loopback port pair with its own state directory, reached
// through the tpm2-tss swtpm TCTI and stopped by its pid. halt()/resume() stop and restart the
// same TPM (same state directory) so a test can copy or restore that directory in between.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace vtpm::manager::testing {

inline constexpr char kSwtpm[] = "/usr/bin/swtpm";

// A loopback TCP port nobody listens on now (the kernel's pick), or 0.
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// With SO_REUSEADDR, as swtpm binds its sockets.
inline bool port_bindable(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

inline bool port_accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

// The low end of the kernel's ephemeral port range (connect()'s and bind(0)'s picks), or 0.
inline uint32_t ephemeral_low() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  uint32_t lo = 0;
  f >> lo;
  return f ? lo : 0;
}

// One `swtpm socket --tpm2` child with a fresh state directory: a fresh TPM (own seeds).
class Swtpm {
 public:
  Swtpm() = default;
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;
  ~Swtpm() { stop(); }

  // Starts it on a free port pair; false with a reason if it does not come up.
  bool start(std::string& why) {
    if (::access(kSwtpm, X_OK) != 0) {
      why = "swtpm is required at /usr/bin/swtpm (Debian package swtpm)";
      return false;
    }
    char tmpl[] = "/tmp/vtpm_swtpm_test.XXXXXX";
    if (!::mkdtemp(tmpl)) {
      why = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    return resume(why);
  }

  // Stops the process (by pid) and keeps the state directory.
  void halt() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {  // up to 5 s, then SIGKILL
      if (::waitpid(pid_, &status, WNOHANG) == pid_) gone = true;
      else ::poll(nullptr, 0, 10);
    }
    if (!gone) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  // Starts the same TPM again (its state directory as halt() left it), on a new port pair.
  bool resume(std::string& why) {
    if (dir_.empty()) {
      why = "swtpm has no state directory (start() first)";
      return false;
    }
    if (pid_ > 0) return true;
    // A random pair below the kernel's ephemeral range: inside it, the TIME_WAIT left by every
    // closed client connection (a busy machine has thousands) makes most pairs unbindable.
    const uint32_t top = ephemeral_low() > 2048 ? ephemeral_low() : 32768;
    std::minstd_rand rng(std::random_device{}());
    for (int attempt = 0; attempt < 64; ++attempt) {  // another process may take the ports
      const uint16_t p = static_cast<uint16_t>(1024 + 2 * (rng() % ((top - 1024) / 2 - 1)));
      if (!port_bindable(p) || !port_bindable(p + 1)) continue;
      if (launch(p, why)) return true;
    }
    if (why.empty()) why = "no free loopback port pair for swtpm";
    return false;
  }

  // Stops it and removes its state directory.
  void stop() {
    halt();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

  std::string tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }
  const std::string& state_dir() const { return dir_; }

 private:
  bool launch(uint16_t p, std::string& why) {
    const std::string server = "type=tcp,port=" + std::to_string(p) + ",bindaddr=127.0.0.1";
    const std::string ctrl = "type=tcp,port=" + std::to_string(p + 1) + ",bindaddr=127.0.0.1";
    const std::string state = "dir=" + dir_;
    const std::string log = dir_ + "/swtpm.log";
    pid_t pid = ::fork();
    if (pid < 0) {
      why = "fork failed";
      return false;
    }
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      const char* argv[] = {kSwtpm, "socket", "--tpm2", "--server", server.c_str(), "--ctrl",
                            ctrl.c_str(), "--flags", "not-need-init,startup-clear",
                            "--tpmstate", state.c_str(), nullptr};
      ::execv(kSwtpm, const_cast<char* const*>(argv));
      ::_exit(127);
    }
    // Wait (bounded: 10 s) until the TPM port accepts, or the child exits (port taken).
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        why = "swtpm exited at start-up (status " + std::to_string(status) + "), see " + log;
        return false;
      }
      if (port_accepts(p)) {
        pid_ = pid;
        port_ = p;
        return true;
      }
      ::poll(nullptr, 0, 10);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    why = "swtpm did not accept on port " + std::to_string(p) + " within 10 s";
    return false;
  }

  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace vtpm::manager::testing
