// Client sockets with bounded waits (see connection.h).
#include "connection.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace vtpm::testtools {

namespace {
using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : int(left);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Waits for `events` on fd; false on timeout.
bool wait_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw IoError(errno_text("poll"));
  }
}
}  // namespace

std::string Endpoint::describe() const {
  return kind == Kind::Tcp ? "tcp 127.0.0.1:" + std::to_string(port) : "unix " + path;
}

std::string Endpoint::swtpm_option() const {
  return kind == Kind::Tcp ? "type=tcp,port=" + std::to_string(port) : "type=unixio,path=" + path;
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Connection::shutdown_write() {
  if (::shutdown(fd_, SHUT_WR) != 0) throw IoError(errno_text("shutdown"));
}

Connection Connection::try_connect(const Endpoint& ep) {
  int fd;
  int rc;
  if (ep.kind == Endpoint::Kind::Unix) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (ep.path.size() >= sizeof sa.sun_path) throw IoError("unix socket path too long: " + ep.path);
    std::memcpy(sa.sun_path, ep.path.c_str(), ep.path.size() + 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw IoError(errno_text("socket"));
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(ep.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw IoError(errno_text("socket"));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc == 0) return Connection(fd);
  int err = errno;
  ::close(fd);
  if (err == ENOENT || err == ECONNREFUSED || err == EAGAIN) return Connection();
  errno = err;
  throw IoError(errno_text(("connect " + ep.describe()).c_str()));
}

Connection Connection::connect(const Endpoint& ep, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int backoff_ms = 1;
  for (;;) {
    Connection c = try_connect(ep);
    if (c.valid()) return c;
    if (Clock::now() >= deadline) throw Timeout("no listener at " + ep.describe() + " after " + std::to_string(timeout_ms) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(backoff_ms, ms_left(deadline) + 1)));
    backoff_ms = std::min(backoff_ms * 2, 50);
  }
}

void Connection::send_all(const Bytes& b, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t done = 0;
  while (done < b.size()) {
    ssize_t n = ::send(fd_, b.data() + done, b.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd_, POLLOUT, ms_left(deadline))) throw Timeout("send timed out");
      continue;
    }
    throw IoError(errno_text("send"));
  }
}

Bytes Connection::recv_exact(size_t n, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Bytes out(n);
  size_t done = 0;
  while (done < n) {
    if (!wait_fd(fd_, POLLIN, ms_left(deadline)))
      throw Timeout("no reply within " + std::to_string(timeout_ms) + " ms (" + std::to_string(done) + " of " +
                    std::to_string(n) + " bytes)");
    ssize_t r = ::recv(fd_, out.data() + done, n - done, MSG_DONTWAIT);
    if (r > 0) done += size_t(r);
    else if (r == 0) throw IoError("connection closed by peer after " + std::to_string(done) + " of " + std::to_string(n) + " bytes");
    else if (errno != EINTR && errno != EAGAIN) throw IoError(errno_text("recv"));
  }
  return out;
}

bool Connection::readable(int timeout_ms) { return wait_fd(fd_, POLLIN, timeout_ms); }

Bytes Connection::recv_until_quiet(int quiet_ms) {
  Bytes out;
  uint8_t buf[4096];
  while (wait_fd(fd_, POLLIN, quiet_ms)) {
    ssize_t r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) out.insert(out.end(), buf, buf + r);
    else if (r == 0) break;
    else if (errno != EINTR && errno != EAGAIN) throw IoError(errno_text("recv"));
  }
  return out;
}

Bytes Connection::transact_tpm(const Bytes& command, int timeout_ms) {
  send_all(command, timeout_ms);
  Bytes resp = recv_exact(10, timeout_ms);
  uint32_t size = be32_at(resp, 2);
  if (size < 10 || size > 65536) throw IoError("response size field " + std::to_string(size) + " out of range: " + hex(resp));
  Bytes rest = recv_exact(size - 10, timeout_ms);
  resp.insert(resp.end(), rest.begin(), rest.end());
  return resp;
}

uint16_t pick_free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw IoError(errno_text("socket"));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    throw IoError(errno_text("bind/getsockname"));
  }
  ::close(fd);
  return ntohs(sa.sin_port);
}

}  // namespace vtpm::testtools
