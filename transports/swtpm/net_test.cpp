// The socket helpers of net.h on real sockets: SCM_RIGHTS fd passing over a socketpair as QEMU's
// CMD_SET_DATAFD does (reference/swtpm-qemu.md §1.7), unix listeners (long path, stale socket,
// mode), TCP on 127.0.0.1 port 0, bounded sends and waits.
#include "transports/swtpm/net.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace sw = vtpm::transports::swtpm;

namespace {

struct SocketPair {
  int a = -1, b = -1;
  explicit SocketPair(int type = SOCK_STREAM) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), 0);
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    ::close(a);
    ::close(b);
  }
};

int open_fd_count() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  for (int guard = 0; guard < 100000 && ::readdir(d) != nullptr; ++guard) ++n;
  ::closedir(d);
  return n;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/vtpm-net-test-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d ? d : "/tmp";
}

}  // namespace

TEST(Net, PassesAnFdWithSetDataFd) {
  SocketPair ctrl;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const uint8_t set_datafd[] = {0x00, 0x00, 0x00, 0x10};
  std::string err;
  ASSERT_EQ(sw::send_with_fd(ctrl.a, set_datafd, sizeof set_datafd, pipe_fds[1], err), 4) << err;
  ::close(pipe_fds[1]);  // QEMU closes its copy of the end it sent

  uint8_t buf[64];
  int passed = -1;
  ASSERT_EQ(sw::recv_with_fd(ctrl.b, buf, sizeof buf, passed, err), 4) << err;
  EXPECT_EQ(std::vector<uint8_t>(buf, buf + 4), std::vector<uint8_t>(set_datafd, set_datafd + 4));
  ASSERT_GE(passed, 0);
  EXPECT_NE(::fcntl(passed, F_GETFD) & FD_CLOEXEC, 0) << "the received fd is close-on-exec";
  ASSERT_EQ(::write(passed, "hi", 2), 2);
  char got[2];
  EXPECT_EQ(::read(pipe_fds[0], got, 2), 2);
  EXPECT_EQ(std::string(got, 2), "hi");
  ::close(passed);
  ::close(pipe_fds[0]);
}

TEST(Net, NoFdMeansMinusOne) {
  SocketPair ctrl;
  const uint8_t msg[] = {0, 0, 0, 1};
  ASSERT_EQ(::write(ctrl.a, msg, 4), 4);
  uint8_t buf[8];
  int passed = 123;
  std::string err;
  EXPECT_EQ(sw::recv_with_fd(ctrl.b, buf, sizeof buf, passed, err), 4);
  EXPECT_EQ(passed, -1);
}

TEST(Net, ExtraPassedFdsAreClosed) {
  SocketPair ctrl;
  int p1[2], p2[2];
  ASSERT_EQ(::pipe(p1), 0);
  ASSERT_EQ(::pipe(p2), 0);
  // Two fds in one SCM_RIGHTS message.
  const uint8_t byte = 0x10;
  iovec iov{const_cast<uint8_t*>(&byte), 1};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  const int two[2] = {p1[1], p2[1]};
  std::memcpy(CMSG_DATA(c), two, sizeof two);
  ASSERT_EQ(::sendmsg(ctrl.a, &msg, 0), 1);
  ::close(p1[1]);
  ::close(p2[1]);

  const int before = open_fd_count();
  uint8_t buf[8];
  int passed = -1;
  std::string err;
  ASSERT_EQ(sw::recv_with_fd(ctrl.b, buf, sizeof buf, passed, err), 1);
  ASSERT_GE(passed, 0);
  EXPECT_EQ(open_fd_count(), before + 1) << "only the first fd stays open";
  // The second pipe's write end is gone everywhere: its reader sees EOF.
  char x;
  EXPECT_EQ(::read(p2[0], &x, 1), 0);
  ::close(passed);
  ::close(p1[0]);
  ::close(p2[0]);
}

TEST(Net, RecvReportsPeerClose) {
  SocketPair ctrl;
  ::shutdown(ctrl.a, SHUT_WR);
  uint8_t buf[8];
  int passed = -1;
  std::string err;
  EXPECT_EQ(sw::recv_with_fd(ctrl.b, buf, sizeof buf, passed, err), 0);
}

TEST(Net, RecvOnABadFdIsAnErrorValue) {
  uint8_t buf[8];
  int passed = -1;
  std::string err;
  EXPECT_EQ(sw::recv_with_fd(-1, buf, sizeof buf, passed, err), -EBADF);
  EXPECT_NE(err.find("recvmsg"), std::string::npos) << err;
}

TEST(Net, UnixPathLongerThanSunPathIsRefused) {
  sockaddr_un sa{};
  const std::string path = "/tmp/" + std::string(sizeof sa.sun_path, 'p');
  std::string err;
  EXPECT_EQ(sw::listen_unix(path, std::nullopt, err), -ENAMETOOLONG);
  EXPECT_NE(err.find("sun_path"), std::string::npos) << err;
  const std::string just_fits = "/tmp/" + std::string(sizeof sa.sun_path - 6, 'q');
  ASSERT_EQ(just_fits.size(), sizeof sa.sun_path - 1);
  const int fd = sw::listen_unix(just_fits, std::nullopt, err);
  EXPECT_GE(fd, 0) << err;
  ::close(fd);
  ::unlink(just_fits.c_str());
}

TEST(Net, UnixListenerReplacesAStaleSocketAndSetsTheMode) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/ctrl.sock";
  std::string err;
  const int first = sw::listen_unix(path, std::nullopt, err);
  ASSERT_GE(first, 0) << err;
  ::close(first);  // the socket file stays behind, as after a crash
  const int fd = sw::listen_unix(path, 0600, err);
  ASSERT_GE(fd, 0) << err;
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A client connects, the server accepts and they talk.
  const int cl = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  ASSERT_EQ(::connect(cl, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const int srv = sw::accept_client(fd, err, true);
  ASSERT_GE(srv, 0) << err;
  EXPECT_NE(::fcntl(srv, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(srv, F_GETFD) & FD_CLOEXEC, 0);
  const uint8_t reply[] = {0, 0, 0, 0};
  EXPECT_TRUE(sw::send_all(srv, reply, 4, 1000, err)) << err;
  EXPECT_EQ(sw::wait_readable(cl, 1000), 1);
  uint8_t got[4];
  EXPECT_EQ(::read(cl, got, 4), 4);
  ::close(cl);
  ::close(srv);
  ::close(fd);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(Net, UnixListenerDoesNotDeleteARegularFile) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/not-a-socket";
  const int f = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(f, 0);
  ::close(f);
  std::string err;
  EXPECT_EQ(sw::listen_unix(path, std::nullopt, err), -EEXIST);
  EXPECT_NE(err.find("not a socket"), std::string::npos) << err;
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << "still there";
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(Net, TcpListenOnLoopbackPortZero) {
  std::string err;
  const int fd = sw::listen_tcp("127.0.0.1", 0, err);
  ASSERT_GE(fd, 0) << err;
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  int reuse = 0;
  socklen_t len = sizeof reuse;
  ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, &len), 0);
  EXPECT_NE(reuse, 0);
  const int port = sw::bound_port(fd);
  ASSERT_GT(port, 0);

  const int cl = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(cl, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const int srv = sw::accept_client(fd, err);
  ASSERT_GE(srv, 0) << err;
  const uint8_t probe[] = {0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x81};
  EXPECT_TRUE(sw::send_all(cl, probe, sizeof probe, 1000, err)) << err;
  EXPECT_EQ(sw::wait_readable(srv, 1000), 1);
  uint8_t got[16];
  EXPECT_EQ(::read(srv, got, sizeof got), 10);
  ::close(cl);
  ::close(srv);
  ::close(fd);
}

TEST(Net, TcpListenOnIpv6Loopback) {
  std::string err;
  const int fd = sw::listen_tcp("[::1]", 0, err);
  ASSERT_GE(fd, 0) << err;
  EXPECT_GT(sw::bound_port(fd), 0);
  ::close(fd);
}

TEST(Net, TcpListenRefusesAHostName) {
  std::string err;
  EXPECT_EQ(sw::listen_tcp("localhost", 0, err), -EINVAL);
  EXPECT_NE(err.find("not an IPv4 or IPv6 address"), std::string::npos) << err;
}

TEST(Net, TcpListenOnABusyPortIsAnErrorValue) {
  std::string err;
  const int fd = sw::listen_tcp("127.0.0.1", 0, err);
  ASSERT_GE(fd, 0) << err;
  const int port = sw::bound_port(fd);
  EXPECT_EQ(sw::listen_tcp("127.0.0.1", static_cast<uint16_t>(port), err), -EADDRINUSE);
  EXPECT_NE(err.find("bind 127.0.0.1:"), std::string::npos) << err;
  ::close(fd);
}

TEST(Net, SendAllGivesUpWhenThePeerStopsReading) {
  SocketPair p;
  const std::vector<uint8_t> big(8 << 20, 0x5a);
  std::string err;
  EXPECT_FALSE(sw::send_all(p.a, big.data(), big.size(), 50, err));
  EXPECT_NE(err.find(strerror(ETIMEDOUT)), std::string::npos) << err;
}

TEST(Net, SendAllToAClosedPeerFailsWithoutSigpipe) {
  SocketPair p;
  ::close(p.b);
  p.b = ::socket(AF_UNIX, SOCK_STREAM, 0);  // keep the destructor's close harmless
  const uint8_t b[4] = {};
  std::string err;
  EXPECT_FALSE(sw::send_all(p.a, b, sizeof b, 100, err));
  EXPECT_NE(err.find(strerror(EPIPE)), std::string::npos) << err;
}

TEST(Net, SendAllWorksOnAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const uint8_t b[3] = {1, 2, 3};
  std::string err;
  EXPECT_TRUE(sw::send_all(fds[1], b, sizeof b, 100, err)) << err;
  uint8_t got[3];
  EXPECT_EQ(::read(fds[0], got, 3), 3);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Net, WaitReadableTimesOut) {
  SocketPair p;
  EXPECT_EQ(sw::wait_readable(p.b, 0), 0);
  EXPECT_EQ(sw::wait_readable(p.b, 20), 0);
  ASSERT_EQ(::write(p.a, "x", 1), 1);
  EXPECT_EQ(sw::wait_readable(p.b, 0), 1);
}
