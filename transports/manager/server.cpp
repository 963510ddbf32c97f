// The manager's socket loop (server.h). Frames are cut by the vtpmmgr header's paramSize
// (reference/manager-sealing.md §1.8); a peer whose paramSize is out of range gets the core's
// answer for that and is dropped, and a peer that sends more than one message at a time is
// served in order. Nothing a peer sends can block the loop: sends are bounded by a timeout.
#include "manager/server.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "swtpm/net.h"
#include "wire/big_endian.h"

namespace vtpm::transports::manager {
namespace {

constexpr size_t kHeader = 10;
constexpr size_t kMaxMessage = 4096;  // runtime/manager/protocol.h: the largest message
constexpr uint32_t kFrameTooShort = 1;
constexpr uint32_t kFrameTooLong = 2;

}  // namespace

Server::~Server() {
  for (Conn& c : conns_) ::close(c.fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(cfg_.socket_path.c_str());
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

bool Server::open(std::string& err) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGPIPE);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    err = std::string("sigprocmask: ") + std::strerror(errno);
    return false;
  }
  sigdelset(&set, SIGPIPE);
  signal_fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) {
    err = std::string("signalfd: ") + std::strerror(errno);
    return false;
  }
  const int fd = swtpm::listen_unix(cfg_.socket_path, cfg_.socket_mode, err);
  if (fd < 0) {
    err = "--socket " + cfg_.socket_path + ": " + err;
    return false;
  }
  listen_fd_ = fd;
  if (::listen(listen_fd_, 128) != 0) {  // many instances may start at once
    err = "--socket " + cfg_.socket_path + ": listen: " + std::strerror(errno);
    return false;
  }
  return true;
}

bool Server::accept_one(std::string& err) {
  const int fd = swtpm::accept_client(listen_fd_, err, true);
  if (fd < 0) return fd == -EAGAIN || fd == -ECONNABORTED;  // a client that gave up
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    ::close(fd);
    return true;
  }
  const bool allowed = cred.uid == 0 || cred.uid == ::geteuid() ||
                       std::find(cfg_.allowed_uids.begin(), cfg_.allowed_uids.end(), cred.uid) !=
                           cfg_.allowed_uids.end();
  if (!allowed || conns_.size() >= cfg_.max_connections) {
    ::close(fd);  // not ours to serve: the socket mode should have kept it out already
    return true;
  }
  conns_.push_back(Conn{fd, Peer{next_id_++, cred.uid, cred.gid, cred.pid}, {}});
  return true;
}

// Reads what is there; answers every whole message in it. False: drop the connection.
bool Server::serve(Conn& c) {
  uint8_t buf[kMaxMessage];
  const ssize_t n = ::read(c.fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  c.in.insert(c.in.end(), buf, buf + n);
  std::vector<uint8_t> reply;
  std::string err;
  while (c.in.size() >= kHeader) {
    const uint32_t size = wire::get_be32(c.in.data() + 2);
    if (size < kHeader || size > kMaxMessage) {
      reply.clear();
      handler_.bad_frame(c.peer, size < kHeader ? kFrameTooShort : kFrameTooLong, reply);
      if (!reply.empty()) swtpm::send_all(c.fd, reply.data(), reply.size(), cfg_.send_timeout_ms, err);
      return false;
    }
    if (c.in.size() < size) break;
    reply.clear();
    handler_.message(c.peer, c.in.data(), size, reply);
    c.in.erase(c.in.begin(), c.in.begin() + size);
    if (!reply.empty() && !swtpm::send_all(c.fd, reply.data(), reply.size(), cfg_.send_timeout_ms, err))
      return false;
  }
  return true;
}

int Server::run(std::string& err) {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({signal_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Conn& c : conns_) fds.push_back({c.fd, POLLIN, 0});
    const int r = ::poll(fds.data(), fds.size(), handler_.ms_until_tick());
    if (r < 0 && errno != EINTR) {
      err = std::string("poll: ") + std::strerror(errno);
      return 1;
    }
    if (r == 0) {
      handler_.tick();
      continue;
    }
    if (fds[0].revents != 0) return 0;  // SIGTERM or SIGINT
    // Connections first (their fds are in order), then new ones.
    size_t kept = 0;
    for (size_t i = 0; i < conns_.size(); i++) {
      Conn& c = conns_[i];
      const short ev = fds[i + 2].revents;
      bool keep = true;
      if (ev & POLLIN) {
        keep = serve(c);
      } else if (ev & (POLLHUP | POLLERR | POLLNVAL)) {
        keep = false;
      }
      if (!keep) {
        handler_.closed(c.peer);
        ::close(c.fd);
        continue;
      }
      if (kept != i) conns_[kept] = std::move(c);
      kept++;
    }
    conns_.resize(kept);
    if (fds[1].revents & POLLIN) {
      if (!accept_one(err)) return 1;
    }
    if (handler_.ms_until_tick() == 0) handler_.tick();
  }
}

}  // namespace vtpm::transports::manager
