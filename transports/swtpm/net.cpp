// POSIX socket helpers of net.h (reference/swtpm-qemu.md §1.6 listeners, §1.7 SCM_RIGHTS).
// Every retry loop is bounded by a deadline or a fixed count.
#include "transports/swtpm/net.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace vtpm::transports::swtpm {

namespace {

constexpr int kEintrRetries = 16;  // a signal storm cannot keep a call looping
constexpr int kMaxPassedFds = 8;   // room for a misbehaving peer's extra fds (they get closed)

int fail(std::string& err, int e, const std::string& what) {
  err = what + ": " + std::strerror(e);
  return -e;
}

}  // namespace

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

int listen_tcp(const std::string& bindaddr, uint16_t port, std::string& err) {
  std::string host = bindaddr;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                            std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0 || res == nullptr) {
    err = "listen on " + where + ": not an IPv4 or IPv6 address (" + gai_strerror(gai) + ")";
    return -EINVAL;
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return fail(err, errno, "socket for " + where);
  }
  const int one = 1;
  int r = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const char* step = "setsockopt SO_REUSEADDR";
  if (r == 0) {
    r = ::bind(fd, res->ai_addr, res->ai_addrlen);
    step = "bind";
  }
  if (r == 0) {
    r = ::listen(fd, 1);
    step = "listen";
  }
  freeaddrinfo(res);
  if (r != 0) {
    const int e = errno;
    ::close(fd);
    return fail(err, e, std::string(step) + " " + where);
  }
  return fd;
}

int listen_unix(const std::string& path, std::optional<uint32_t> mode, std::string& err) {
  sockaddr_un sa{};
  if (path.empty()) {
    err = "unix socket path is empty";
    return -EINVAL;
  }
  if (path.size() >= sizeof sa.sun_path) {
    err = "unix socket path '" + path + "' is " + std::to_string(path.size()) +
          " bytes long; at most " + std::to_string(sizeof sa.sun_path - 1) + " fit in sun_path";
    return -ENAMETOOLONG;
  }
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());

  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      err = "unix socket path '" + path + "' exists and is not a socket";
      return -EEXIST;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail(err, errno, "unlink " + path);
  } else if (errno != ENOENT) {
    return fail(err, errno, "lstat " + path);
  }

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(err, errno, "socket for " + path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(err, e, "bind " + path);
  }
  if (mode && ::chmod(path.c_str(), static_cast<mode_t>(*mode)) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return fail(err, e, "chmod " + path);
  }
  if (::listen(fd, 1) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return fail(err, e, "listen " + path);
  }
  return fd;
}

int accept_client(int listen_fd, std::string& err, bool nonblock) {
  const int flags = SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
  for (int i = 0; i < kEintrRetries; ++i) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, flags);
    if (fd >= 0) return fd;
    if (errno != EINTR) break;
  }
  return fail(err, errno, "accept");
}

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -errno;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return -EAFNOSUPPORT;
}

ssize_t recv_with_fd(int fd, uint8_t* buf, size_t cap, int& passed_fd, std::string& err) {
  passed_fd = -1;
  iovec iov{buf, cap};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = -1;
  for (int i = 0; i < kEintrRetries; ++i) {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0 || errno != EINTR) break;
  }
  if (n < 0 && errno == ENOTSOCK) {  // a character device or pipe: no fds can come along
    for (int i = 0; i < kEintrRetries; ++i) {
      n = ::read(fd, buf, cap);
      if (n >= 0 || errno != EINTR) break;
    }
    if (n < 0) return fail(err, errno, "read");
    return n;
  }
  if (n < 0) return fail(err, errno, "recvmsg");
  // MSG_CMSG_CLOEXEC set close-on-exec on every received fd; keep the first, close the rest.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count; ++k) {
      int got = -1;
      std::memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof got);
      if (got < 0) continue;
      if (passed_fd < 0) passed_fd = got;
      else ::close(got);
    }
  }
  return n;
}

ssize_t send_with_fd(int fd, const uint8_t* data, size_t len, int pass_fd, std::string& err) {
  iovec iov{const_cast<uint8_t*>(data), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (pass_fd >= 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
  }
  for (int i = 0; i < kEintrRetries; ++i) {
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno != EINTR) break;
  }
  return fail(err, errno, "sendmsg");
}

bool send_all(int fd, const uint8_t* data, size_t len, int timeout_ms, std::string& err) {
  const int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  bool is_socket = true;
  size_t off = 0;
  // Each pass either sends something (at most `len` passes) or waits for POLLOUT until the
  // deadline; an EINTR storm also ends at the deadline.
  while (off < len) {
    const ssize_t w = is_socket ? ::send(fd, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
                                : ::write(fd, data + off, len - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
      continue;
    }
    const int e = w == 0 ? EIO : errno;
    if (e == ENOTSOCK && is_socket) {
      is_socket = false;
      continue;
    }
    const int64_t left = deadline - now_ms();
    if (e != EINTR && e != EAGAIN && e != EWOULDBLOCK) {
      fail(err, e, "send");
      return false;
    }
    if (left <= 0) {
      fail(err, ETIMEDOUT, "send (" + std::to_string(off) + " of " + std::to_string(len) + " bytes)");
      return false;
    }
    if (e == EINTR) continue;
    pollfd pfd{fd, POLLOUT, 0};
    const int pr = ::poll(&pfd, 1, static_cast<int>(left));
    if (pr < 0 && errno != EINTR) {
      fail(err, errno, "poll");
      return false;
    }
  }
  return true;
}

int wait_readable(int fd, int timeout_ms) {
  const int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
  for (int i = 0; i < kEintrRetries; ++i) {
    int wait = -1;
    if (deadline >= 0) {
      const int64_t left = deadline - now_ms();
      wait = left > 0 ? static_cast<int>(left) : 0;
    }
    pollfd pfd{fd, POLLIN, 0};
    const int pr = ::poll(&pfd, 1, wait);
    if (pr > 0) return 1;
    if (pr == 0) return 0;
    if (errno != EINTR) return -errno;
  }
  return -EINTR;
}

}  // namespace vtpm::transports::swtpm
