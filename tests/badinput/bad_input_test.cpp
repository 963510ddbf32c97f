// Bad input, end to end: one vtpmd (path in $VTPMD) serves a table of malformed data frames,
// control messages and localities, then state files and blobs that do not verify. Each case must
// get its specific answer, leave the state files byte-identical (SHA-256), and leave the daemon
// serving (a GET_CAPABILITY and a TPM2_GetRandom answer afterwards). Issue 3, "Bad input".
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

void put32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
uint32_t get32(const Bytes& b, size_t at) {
  return at + 4 <= b.size() ? (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) |
                                  (uint32_t{b[at + 2]} << 8) | b[at + 3]
                            : 0xdeadbeefu;
}

std::string sha256_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "absent";
  std::stringstream ss;
  ss << f.rdbuf();
  std::string data = ss.str();
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  for (int i = 0; i < 200; ++i) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd);
  return -1;
}

void send_bytes(int fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads until `want` bytes, EOF, or `timeout_ms` without progress.
Bytes recv_bytes(int fd, size_t want, int timeout_ms) {
  Bytes out;
  uint8_t buf[8192];
  while (out.size() < want) {
    pollfd p{fd, POLLIN, 0};
    // The whole timeout for the first byte; once an answer has begun, its rest comes at once.
    if (::poll(&p, 1, out.empty() ? timeout_ms : 200) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

// True when the peer closed the connection within `timeout_ms`.
bool closed_by_peer(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  uint8_t b;
  return ::recv(fd, &b, 1, 0) == 0;
}

Bytes get_random_cmd() { return {0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 0x10}; }

class Daemon {
 public:
  bool start(const std::string& dir, const std::vector<std::string>& extra) {
    dir_ = dir;
    const char* exe = std::getenv("VTPMD");
    if (!exe) return false;
    std::vector<std::string> args = {exe, "socket", "--tpm2", "--tpmstate", "dir=" + dir,
                                     "--server", "type=unixio,path=" + dir + "/data.sock",
                                     "--ctrl", "type=unixio,path=" + dir + "/ctrl.sock",
                                     "--log", "file=" + dir + "/vtpmd.log,level=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 300; ++i) {
      if (::access((dir + "/ctrl.sock").c_str(), F_OK) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) { pid_ = -1; return; }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  ~Daemon() { stop(); }

  // One control message on a fresh connection, as swtpm_ioctl does.
  Bytes ctrl(const Bytes& msg, size_t want, int timeout_ms = 2000) {
    int fd = connect_unix(dir_ + "/ctrl.sock");
    if (fd < 0) return {};
    send_bytes(fd, msg);
    Bytes r = recv_bytes(fd, want, timeout_ms);
    ::close(fd);
    return r;
  }
  Bytes data(const Bytes& cmd, size_t want = 4096) {
    int fd = connect_unix(dir_ + "/data.sock");
    if (fd < 0) return {};
    send_bytes(fd, cmd);
    Bytes hdr = recv_bytes(fd, 10, 2000);
    if (hdr.size() == 10) {
      uint32_t size = get32(hdr, 2);
      if (size > 10 && size <= want) {
        Bytes rest = recv_bytes(fd, size - 10, 2000);
        hdr.insert(hdr.end(), rest.begin(), rest.end());
      }
    }
    ::close(fd);
    return hdr;
  }
  std::string state_hash() const {
    return sha256_file(dir_ + "/tpm2-00.permall") + "/" + sha256_file(dir_ + "/tpm2-00.volatilestate");
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

std::string make_dir() {
  char tmpl[] = "/tmp/vtpmd-badinput-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "";
}

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    d_ = new Daemon();
    ASSERT_TRUE(d_->start(make_dir(), {"--flags", "not-need-init,startup-clear"})) << "vtpmd did not start";
    // The sockets exist before the TPM is initialised (as with swtpm): wait for the first answer,
    // so that the manufactured permall is there before any case takes its hash.
    expect_serving();
  }
  static void TearDownTestSuite() {
    delete d_;
    d_ = nullptr;
  }
  // After every bad input: still serving on both channels.
  static void expect_serving() {
    Bytes cap = d_->ctrl({0, 0, 0, 1}, 8);
    ASSERT_EQ(cap.size(), 8u) << "GET_CAPABILITY after bad input";
    EXPECT_EQ(get32(cap, 0), 0u);
    Bytes r = d_->data(get_random_cmd());
    ASSERT_GE(r.size(), 12u) << "GetRandom after bad input";
    EXPECT_EQ(get32(r, 6), 0u) << "GetRandom rc";
    EXPECT_TRUE(d_->alive());
  }
  static Daemon* d_;
};
Daemon* BadInput::d_ = nullptr;

// ---- data channel: the size field ---------------------------------------------------------

struct SizeCase {
  const char* name;
  uint32_t size;
  size_t bytes_sent;   // header (10) plus filler
  uint32_t want_rc;    // 0 = a real answer expected
};

TEST_F(BadInput, DataSizeTable) {
  const SizeCase cases[] = {
      {"size 0", 0, 10, 0x142},
      {"size 9", 9, 10, 0x142},
      {"size buffer+1", 4097, 10, 0x142},
      {"size 2^31", 0x80000000u, 10, 0x142},
      {"size 2^32-1", 0xffffffffu, 10, 0x142},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string before = d_->state_hash();
    Bytes cmd = {0x80, 0x01};
    put32(cmd, c.size);
    put32(cmd, 0x17b);
    cmd.resize(c.bytes_sent, 0);
    Bytes r = d_->data(cmd);
    ASSERT_EQ(r.size(), 10u) << "a 10-byte error response";
    EXPECT_EQ(r[0], 0x80);
    EXPECT_EQ(r[1], 0x01);
    EXPECT_EQ(get32(r, 2), 10u);
    EXPECT_EQ(get32(r, 6), c.want_rc);
    EXPECT_EQ(d_->state_hash(), before);
    expect_serving();
  }
}

TEST_F(BadInput, SmallestCommandIsServed) {
  // size 10 exactly: TPM2_GetTestResult (0x17c) has no parameters.
  Bytes r = d_->data({0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0x7c});
  ASSERT_GE(r.size(), 10u);
  EXPECT_EQ(get32(r, 2), r.size());
  EXPECT_EQ(get32(r, 6), 0u);
}

TEST_F(BadInput, TagZeroIsRefusedByTheFramerOtherTagsByLibtpms) {
  std::string before = d_->state_hash();
  Bytes r = d_->data({0x00, 0x00, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 0x10});
  ASSERT_EQ(r.size(), 10u);
  EXPECT_EQ(get32(r, 6), 0x1eu);  // TPM_RC_BAD_TAG from the framer
  r = d_->data({0x12, 0x34, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 0x10});
  ASSERT_EQ(r.size(), 10u);       // libtpms' own answer, as behind swtpm
  EXPECT_NE(get32(r, 6), 0u);
  EXPECT_EQ(d_->state_hash(), before);
  expect_serving();
}

TEST_F(BadInput, FewerBytesThanTheSizeAreAnsweredThenDropped) {
  std::string before = d_->state_hash();
  int fd = connect_unix(d_->dir() + "/data.sock");
  ASSERT_GE(fd, 0);
  Bytes cmd = get_random_cmd();
  cmd.resize(11);  // one byte short of the 12 the header announces
  send_bytes(fd, cmd);
  Bytes r = recv_bytes(fd, 10, 3000);
  ASSERT_EQ(r.size(), 10u) << "swtpm answers what it got with the command-size error";
  EXPECT_EQ(get32(r, 6), 0x142u);
  EXPECT_TRUE(closed_by_peer(fd, 3000)) << "and the stalled client is dropped";
  ::close(fd);
  EXPECT_EQ(d_->state_hash(), before);
  expect_serving();
}

TEST_F(BadInput, AClientStalledInsideTheHeaderIsDroppedAfterTheStallTimeout) {
  int fd = connect_unix(d_->dir() + "/data.sock");
  ASSERT_GE(fd, 0);
  Bytes cmd = get_random_cmd();
  cmd.resize(9);
  send_bytes(fd, cmd);
  Bytes r = recv_bytes(fd, 1, 1000);
  EXPECT_TRUE(r.empty()) << "nothing to answer before a whole header";
  EXPECT_TRUE(closed_by_peer(fd, 15000)) << "a stalled client must be dropped";
  ::close(fd);
  expect_serving();
}

TEST_F(BadInput, MoreBytesThanTheSizeAreOneBadCommand) {
  std::string before = d_->state_hash();
  int fd = connect_unix(d_->dir() + "/data.sock");
  ASSERT_GE(fd, 0);
  Bytes cmd = get_random_cmd();
  cmd.insert(cmd.end(), {0xff, 0xff});
  send_bytes(fd, cmd);
  Bytes r = recv_bytes(fd, 64, 2000);
  ASSERT_EQ(r.size(), 10u) << "one answer, not a GetRandom";
  EXPECT_EQ(get32(r, 6), 0x142u);
  // The connection goes on: the next write is a new command.
  send_bytes(fd, get_random_cmd());
  r = recv_bytes(fd, 28, 2000);
  ASSERT_EQ(r.size(), 28u);
  EXPECT_EQ(get32(r, 6), 0u);
  ::close(fd);
  EXPECT_EQ(d_->state_hash(), before);
  expect_serving();
}

// ---- control channel: every opcode, body lengths expected-1, expected, expected+1 -------------

struct CtrlCase {
  uint32_t code;
  size_t body;        // expected body length
  bool at_least;      // body is a minimum (SET_LOCALITY, RESET_TPMESTABLISHED)
  bool destructive;   // the exact-length form changes the lifecycle (tested elsewhere)
};

TEST_F(BadInput, ControlBodyLengths) {
  const CtrlCase cases[] = {
      {0x01, 0, false, false}, {0x02, 4, false, true},  {0x03, 0, false, true},
      {0x04, 0, false, false}, {0x05, 1, true, false},  {0x06, 0, false, true},
      {0x08, 0, false, true},  {0x09, 0, false, false}, {0x0a, 0, false, true},
      {0x0b, 1, true, false},  {0x0c, 12, false, false}, {0x0e, 0, false, true},
      {0x0f, 0, false, false}, {0x11, 4, false, false}, {0x12, 16, false, false},
  };
  for (const auto& c : cases) {
    for (int delta : {-1, 0, 1}) {
      if (delta < 0 && c.body == 0) continue;
      if (delta == 0 && c.destructive) continue;
      if (delta > 0 && c.at_least) continue;  // longer bodies are accepted, as swtpm does
      SCOPED_TRACE("code 0x" + std::to_string(c.code) + " body " + std::to_string(c.body + delta));
      std::string before = d_->state_hash();
      Bytes msg;
      put32(msg, c.code);
      Bytes body(c.body + delta, 0);
      if (c.code == 0x0c && body.size() >= 8) body[7] = 1;   // GET_STATEBLOB type permanent
      if (c.code == 0x12 && body.size() >= 8) body[7] = 1;   // GET_INFO flags = spec
      if (c.code == 0x0b && !body.empty()) body[0] = 3;      // RESET_TPMESTABLISHED at locality 3
      msg.insert(msg.end(), body.begin(), body.end());
      Bytes r = d_->ctrl(msg, 4096, 2000);
      ASSERT_GE(r.size(), 4u) << "every control message is answered";
      if (delta == 0) {
        EXPECT_EQ(get32(r, 0), 0u) << "the exact length succeeds";
      } else {
        EXPECT_EQ(r.size(), 4u);
        EXPECT_EQ(get32(r, 0), 0x03u) << "TPM_BAD_PARAMETER";
        EXPECT_EQ(d_->state_hash(), before);
      }
      expect_serving();
    }
  }
}

TEST_F(BadInput, UnknownControlCodes) {
  for (uint32_t code : {0x00u, 0x13u, 0x14u, 0xffu, 0x80000000u, 0xffffffffu}) {
    SCOPED_TRACE(code);
    std::string before = d_->state_hash();
    Bytes msg;
    put32(msg, code);
    Bytes r = d_->ctrl(msg, 4);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(get32(r, 0), 0x0au) << "TPM_BAD_ORDINAL";
    EXPECT_EQ(d_->state_hash(), before);
  }
  expect_serving();
}

TEST_F(BadInput, LocalitiesFiveTo255) {
  std::string before = d_->state_hash();
  for (uint32_t loc = 5; loc <= 255; ++loc) {
    Bytes set = {0, 0, 0, 5, static_cast<uint8_t>(loc), 0, 0, 0};
    Bytes r = d_->ctrl(set, 4);
    ASSERT_EQ(r.size(), 4u);
    ASSERT_EQ(get32(r, 0), 0x3du) << "SET_LOCALITY " << loc;
    Bytes reset = {0, 0, 0, 0x0b, static_cast<uint8_t>(loc)};
    r = d_->ctrl(reset, 4);
    ASSERT_EQ(r.size(), 4u);
    ASSERT_EQ(get32(r, 0), 0x3du) << "RESET_TPMESTABLISHED " << loc;
  }
  EXPECT_EQ(d_->state_hash(), before);
  Bytes back = d_->ctrl({0, 0, 0, 5, 0}, 4);
  EXPECT_EQ(get32(back, 0), 0u);
  expect_serving();
}

TEST_F(BadInput, SetStateBlobWhileRunningAndBadBlobs) {
  std::string before = d_->state_hash();
  // While running: refused (TPM_BAD_ORDINAL) without touching anything.
  Bytes msg = {0, 0, 0, 0x0d};
  put32(msg, 0);
  put32(msg, 1);
  put32(msg, 4);
  msg.insert(msg.end(), {1, 2, 3, 4});
  Bytes r = d_->ctrl(msg, 4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(get32(r, 0), 0x0au);
  // Longer than 512 KiB: TPM_FAIL before any byte of the body is needed.
  Bytes big = {0, 0, 0, 0x0d};
  put32(big, 0);
  put32(big, 1);
  put32(big, 512 * 1024 + 1);
  r = d_->ctrl(big, 4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(get32(r, 0), 0x09u);
  EXPECT_EQ(d_->state_hash(), before);
  expect_serving();
}

// ---- state that does not verify: a clear error, never a fresh TPM ----------------------------

Bytes read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}
void write_file(const std::string& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

TEST(BadState, TruncatedAndBitFlippedPermallFailClosed) {
  // Make a real permall with one instance, then corrupt copies of it.
  std::string dir = make_dir();
  {
    Daemon d;
    ASSERT_TRUE(d.start(dir, {"--flags", "not-need-init,startup-clear"}));
    Bytes r = d.ctrl({0, 0, 0, 3}, 4);  // CMD_SHUTDOWN
    ASSERT_EQ(r.size(), 4u);
  }
  Bytes good = read_file(dir + "/tpm2-00.permall");
  ASSERT_GT(good.size(), 100u);
  struct Corruption { const char* name; Bytes bytes; };
  std::vector<Corruption> bad;
  bad.push_back({"truncated to 5", Bytes(good.begin(), good.begin() + 5)});
  bad.push_back({"truncated by 1", Bytes(good.begin(), good.end() - 1)});
  for (size_t at : {size_t{1}, size_t{9}, size_t{16}, good.size() / 2, good.size() - 1}) {
    Bytes b = good;
    b[at] ^= 0x10;
    bad.push_back({"bit flipped", b});
  }
  for (const auto& c : bad) {
    SCOPED_TRACE(c.name);
    write_file(dir + "/tpm2-00.permall", c.bytes);
    std::string before = sha256_file(dir + "/tpm2-00.permall");
    Daemon d;
    ASSERT_TRUE(d.start(dir, {}));
    Bytes r = d.ctrl({0, 0, 0, 2, 0, 0, 0, 0}, 4, 5000);  // CMD_INIT
    ASSERT_EQ(r.size(), 4u);
    EXPECT_NE(get32(r, 0), 0u) << "INIT must fail: never a silent fresh TPM";
    EXPECT_EQ(sha256_file(dir + "/tpm2-00.permall"), before) << "the bad file is left as it was";
    // Still serving: the control channel answers, the data channel gives the fatal response.
    Bytes cap = d.ctrl({0, 0, 0, 1}, 8);
    EXPECT_EQ(cap.size(), 8u);
    Bytes fatal = d.data(get_random_cmd());
    ASSERT_EQ(fatal.size(), 10u);
    EXPECT_EQ(get32(fatal, 6), 0x101u);
    EXPECT_TRUE(d.alive());
    std::string log;
    {
      std::ifstream f(dir + "/vtpmd.log");
      std::stringstream ss;
      ss << f.rdbuf();
      log = ss.str();
    }
    EXPECT_NE(log.find("permall"), std::string::npos) << "the log names the file that did not verify:\n" << log;
    d.stop();
    ::unlink((dir + "/vtpmd.log").c_str());
  }
}

}  // namespace
