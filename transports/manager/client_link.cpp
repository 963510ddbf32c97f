// UnixLink (client_link.h): connect, send all, read one framed message within the timeout.
#include "manager/client_link.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "manager/protocol.h"
#include "store/secret.h"
#include "swtpm/net.h"

namespace vtpm::transports::manager {

bool UnixLink::connect(std::string& err) {
  disconnect();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) {
    err = path_ + ": the socket path is too long";
    return false;
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    err = "connect to " + path_ + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

void UnixLink::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool UnixLink::send(const std::vector<uint8_t>& msg, std::string& err) {
  if (fd_ < 0) {
    err = "not connected to " + path_;
    return false;
  }
  if (!swtpm::send_all(fd_, msg.data(), msg.size(), timeout_ms_, err)) {
    err = "send to " + path_ + ": " + err;
    disconnect();
    return false;
  }
  return true;
}

bool UnixLink::receive(std::vector<uint8_t>& msg, std::string& err) {
  msg.clear();
  if (fd_ < 0) {
    err = "not connected to " + path_;
    return false;
  }
  const int64_t deadline = swtpm::now_ms() + timeout_ms_;
  size_t need = ::vtpm::manager::kHeaderBytes;
  uint8_t buf[::vtpm::manager::kMaxMessageBytes];
  size_t have = 0;
  while (have < need) {
    const int64_t left = deadline - swtpm::now_ms();
    const int r = left > 0 ? swtpm::wait_readable(fd_, static_cast<int>(left)) : 0;
    if (r <= 0) {
      err = r == 0 ? "no answer from " + path_ + " within " + std::to_string(timeout_ms_) + " ms"
                   : "waiting for " + path_ + ": " + std::strerror(-r);
      disconnect();
      return false;
    }
    const ssize_t n = ::read(fd_, buf + have, need - have);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      err = n == 0 ? path_ + " closed the connection" : "read from " + path_ + ": " + std::strerror(errno);
      disconnect();
      return false;
    }
    have += static_cast<size_t>(n);
    if (have == ::vtpm::manager::kHeaderBytes) {
      size_t total = 0;
      const ::vtpm::manager::ParseResult f = ::vtpm::manager::frame_length(buf, have, total);
      if (!f.ok) {
        err = "the answer from " + path_ + " is not a manager message: " + f.text;
        disconnect();
        return false;
      }
      need = total;
    }
  }
  msg.assign(buf, buf + have);
  store::wipe(buf, have);  // it may have carried a key
  return true;
}

}  // namespace vtpm::transports::manager
