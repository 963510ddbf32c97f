// Client sockets for the swtpm socket protocol (reference/swtpm-qemu.md §1.5–1.6): TCP loopback or
// unix stream sockets; every read and write bounded by a poll() timeout. A TPM response is read
// as its 10-byte header and then `size − 10` more bytes, as QEMU and tcti-swtpm do.
#pragma once

#include <cstdint>
#include <string>

#include "tpm_bytes.h"

namespace vtpm::testtools {

struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Timeout : IoError {
  using IoError::IoError;
};

struct Endpoint {
  enum class Kind { Tcp, Unix };
  Kind kind = Kind::Unix;
  std::string path;  // Unix
  uint16_t port = 0; // Tcp, on 127.0.0.1
  static Endpoint tcp(uint16_t port) { return {Kind::Tcp, {}, port}; }
  static Endpoint unix_path(std::string p) { return {Kind::Unix, std::move(p), 0}; }
  std::string describe() const;
  // The swtpm --server/--ctrl option value, e.g. "type=unixio,path=/tmp/x" or "type=tcp,port=N".
  std::string swtpm_option() const;
};

class Connection {
 public:
  Connection() = default;
  explicit Connection(int fd) : fd_(fd) {}
  Connection(Connection&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { close(); }

  // Retries refused/absent endpoints with a doubling back-off (1 ms … 50 ms) until timeout_ms.
  static Connection connect(const Endpoint& ep, int timeout_ms);
  // One non-blocking attempt; returns an invalid Connection when the daemon is not listening yet.
  // The returned socket may still be connecting (TCP): wait for POLLOUT before writing.
  static Connection try_connect(const Endpoint& ep);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close();
  // Half-close: the peer reads EOF, this side can still read what the peer sends after it.
  void shutdown_write();

  void send_all(const Bytes& b, int timeout_ms);
  // Exactly n bytes; throws Timeout if they do not arrive in time, IoError on EOF.
  Bytes recv_exact(size_t n, int timeout_ms);
  // True when bytes (or EOF) are ready within timeout_ms.
  bool readable(int timeout_ms);
  // Whatever arrives until `quiet_ms` pass with nothing new (or EOF); used to catch trailing bytes.
  Bytes recv_until_quiet(int quiet_ms);

  // Write one TPM command (one write) and read its response by the header's size field.
  Bytes transact_tpm(const Bytes& command, int timeout_ms);

 private:
  int fd_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
uint16_t pick_free_tcp_port();

}  // namespace vtpm::testtools
