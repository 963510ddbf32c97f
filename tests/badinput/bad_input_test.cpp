// Bad input, end to end: one vtpmd (path in $VTPMD) serves a table of malformed data frames,
// control messages and localities, then state files and blobs that do not verify. Each case must
// get its specific answer, leave the state files byte-identical (SHA-256), and leave the daemon
// serving (a GET_CAPABILITY and a TPM2_GetRandom answer afterwards). Issue 3, "Bad input".
// Client, daemon and command bytes come from tests/tools (vtpm::testclient).
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "connection.h"
#include "daemon.h"
#include "swtpm_ctrl.h"
#include "tpm2_commands.h"
#include "tpm_bytes.h"

namespace {

namespace tt = vtpm::testtools;
namespace ctrl = vtpm::testtools::ctrl;
namespace tpm2 = vtpm::testtools::tpm2;
using tt::be32_at;
using tt::Bytes;
using tt::Connection;
using tt::Endpoint;

constexpr int kIoMs = 2000;       // one request and its answer
constexpr int kConnectMs = 5000;  // a freshly started daemon's sockets accept
constexpr int kStopMs = 2000;     // SIGTERM to exit, then SIGKILL

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

// Runs one case of a table. An exception from the client library (IoError, Timeout, WireError)
// fails this case, with its name and the reason, and the table goes on with the next case.
template <class Body>
void run_case(const std::string& name, Body&& body) {
  SCOPED_TRACE(name);
  try {
    body();
  } catch (const tt::Timeout& e) {
    ADD_FAILURE() << name << ": timed out: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << name << ": " << e.what();
  }
}

// True when the peer closes the connection within timeout_ms without sending a byte first.
bool closed_by_peer(Connection& c, int timeout_ms) { return c.readable(timeout_ms) && c.recv_until_quiet(0).empty(); }

// After a complete answer: the client half-closes, and the daemon (which serves a connection's
// requests one after another) must then close without a byte more, so the answer had no tail.
void expect_no_trailing_bytes(Connection& c, const std::string& what) {
  c.shutdown_write();
  ASSERT_TRUE(c.readable(kIoMs)) << what << ": the daemon did not close after the client's EOF";
  Bytes extra = c.recv_until_quiet(0);
  EXPECT_TRUE(extra.empty()) << what << ": " << extra.size() << " bytes after the answer: " << tt::hex(extra);
}

// TPM command bytes with any header: tag, size field and code, then `params` as they are.
Bytes raw_command(uint16_t tag, uint32_t size, uint32_t cc, const Bytes& params = {}) {
  tt::Writer w;
  w.u16(tag).u32(size).u32(cc).raw(params);
  return w.take();
}

// $VTPMD, the daemon under test; a missing one fails the test (it is never skipped).
std::string vtpmd_path() { return tt::required_env("VTPMD", "the path of the vtpmd under test"); }

// One vtpmd on unix sockets whose state directory also holds its sockets and its log.
class Vtpmd {
 public:
  // Starts $VTPMD on `dir` and waits until its control socket accepts a connection.
  void start(const std::string& dir, const std::string& flags) {
    std::string exe = vtpmd_path();
    dir_ = dir;
    std::vector<std::string> args = tt::socket_args(dir, data_ep(), ctrl_ep(), flags);
    args.insert(args.end(), {"--log", "file=" + log_path() + ",level=2"});
    exit_text_.clear();
    daemon_ = tt::Daemon::spawn({exe, args, dir + "/vtpmd.out", -1});
    try {
      Connection::connect(ctrl_ep(), kConnectMs);
    } catch (const tt::Timeout&) {
      std::string why = exited();
      throw tt::IoError("vtpmd did not listen on " + ctrl_ep().describe() +
                        (why.empty() ? " within " + std::to_string(kConnectMs) + " ms" : ": it " + why) +
                        "\n" + tt::read_text_file(dir + "/vtpmd.out") + tt::read_text_file(log_path()));
    }
  }
  void stop() { daemon_.terminate(kStopMs); }
  // "" while the daemon runs; how it ended once it has.
  std::string exited() {
    int status = 0;
    if (exit_text_.empty() && daemon_.wait_exit(0, &status)) exit_text_ = tt::describe_status(status);
    return exit_text_;
  }

  // One control request on a fresh connection, as swtpm_ioctl does; the answer is read by the
  // request's reply layout and must be all the daemon sends.
  Bytes ctrl(const Bytes& request, int timeout_ms = kIoMs) {
    Connection c = Connection::connect(ctrl_ep(), kConnectMs);
    Bytes reply = ctrl::transact(c, request, timeout_ms, /*tail_ms=*/0);
    expect_no_trailing_bytes(c, std::string(ctrl::name(be32_at(request, 0))) + " reply");
    return reply;
  }
  // One TPM command on a fresh connection; the answer is read by its size field.
  Bytes data(const Bytes& command) {
    Connection c = data_connection();
    Bytes answer = c.transact_tpm(command, kIoMs);
    expect_no_trailing_bytes(c, "TPM answer");
    return answer;
  }
  Connection data_connection() { return Connection::connect(data_ep(), kConnectMs); }

  std::string state_hash() const {
    return sha256_file(dir_ + "/tpm2-00.permall") + "/" + sha256_file(dir_ + "/tpm2-00.volatilestate");
  }
  std::string log_path() const { return dir_ + "/vtpmd.log"; }

 private:
  Endpoint data_ep() const { return Endpoint::unix_path(dir_ + "/data.sock"); }
  Endpoint ctrl_ep() const { return Endpoint::unix_path(dir_ + "/ctrl.sock"); }
  std::string dir_;
  tt::Daemon daemon_;
  std::string exit_text_;
};

// Still serving on both channels: GET_CAPABILITY, TPM2_GetRandom(16), and the process runs.
void expect_vtpmd_serving(Vtpmd& d, const char* after) {
  Bytes cap = d.ctrl(ctrl::request(ctrl::GET_CAPABILITY));
  ASSERT_EQ(cap.size(), 8u) << "GET_CAPABILITY " << after;
  EXPECT_EQ(be32_at(cap, 0), 0u);
  Bytes r = d.data(tpm2::get_random(16));
  ASSERT_GE(r.size(), 12u) << "GetRandom " << after;
  EXPECT_EQ(be32_at(r, 6), 0u) << "GetRandom rc";
  EXPECT_EQ(d.exited(), "") << "vtpmd must keep running " << after;
}

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_case("starting vtpmd", [] {
      vtpmd_path();
      dir_ = tt::make_temp_dir("vtpmd-badinput-");
      d_ = new Vtpmd();
      d_->start(dir_, "not-need-init,startup-clear");
      // The sockets exist before the TPM is initialised (as with swtpm): wait for the first
      // answer, so that the manufactured permall is there before any case takes its hash.
      expect_vtpmd_serving(*d_, "after start");
    });
    if (::testing::Test::HasFailure()) TearDownTestSuite();
  }
  static void TearDownTestSuite() {
    if (d_) d_->stop();
    delete d_;
    d_ = nullptr;
    if (dir_.empty()) return;
    if (failed_ || ::testing::Test::HasFailure()) std::fprintf(stderr, "bad-input: work dir kept: %s\n", dir_.c_str());
    else tt::remove_tree(dir_);
    dir_.clear();
  }
  void SetUp() override { ASSERT_NE(d_, nullptr) << "no vtpmd: starting it failed (see above)"; }
  void TearDown() override { failed_ = failed_ || HasFailure(); }
  static void expect_serving() { expect_vtpmd_serving(*d_, "after bad input"); }
  static Vtpmd* d_;
  static std::string dir_;
  static bool failed_;  // some case failed: keep the work dir (state files, log) for a look
};
Vtpmd* BadInput::d_ = nullptr;
std::string BadInput::dir_;
bool BadInput::failed_ = false;

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
    run_case(c.name, [&] {
      std::string before = d_->state_hash();
      Bytes r = d_->data(raw_command(tpm2::ST_NO_SESSIONS, c.size, tpm2::CC_GetRandom, Bytes(c.bytes_sent - 10, 0)));
      ASSERT_EQ(r.size(), 10u) << "a 10-byte error response";
      EXPECT_EQ(r[0], 0x80);
      EXPECT_EQ(r[1], 0x01);
      EXPECT_EQ(be32_at(r, 2), 10u);
      EXPECT_EQ(be32_at(r, 6), c.want_rc);
      EXPECT_EQ(d_->state_hash(), before);
      expect_serving();
    });
  }
}

TEST_F(BadInput, SmallestCommandIsServed) {
  run_case("size 10", [] {
    // size 10 exactly: TPM2_GetTestResult (0x17c) has no parameters.
    Bytes r = d_->data(tpm2::get_test_result());
    ASSERT_GE(r.size(), 10u);
    EXPECT_EQ(be32_at(r, 2), r.size());
    EXPECT_EQ(be32_at(r, 6), 0u);
  });
}

TEST_F(BadInput, TagZeroIsRefusedByTheFramerOtherTagsByLibtpms) {
  run_case("tags 0x0000 and 0x1234", [] {
    std::string before = d_->state_hash();
    Bytes r = d_->data(raw_command(0x0000, 12, tpm2::CC_GetRandom, {0x00, 0x10}));
    ASSERT_EQ(r.size(), 10u);
    EXPECT_EQ(be32_at(r, 6), 0x1eu);  // TPM_RC_BAD_TAG from the framer
    r = d_->data(raw_command(0x1234, 12, tpm2::CC_GetRandom, {0x00, 0x10}));
    ASSERT_EQ(r.size(), 10u);         // libtpms' own answer, as behind swtpm
    EXPECT_NE(be32_at(r, 6), 0u);
    EXPECT_EQ(d_->state_hash(), before);
    expect_serving();
  });
}

TEST_F(BadInput, FewerBytesThanTheSizeAreAnsweredThenDropped) {
  run_case("11 of 12 bytes", [] {
    std::string before = d_->state_hash();
    Connection c = d_->data_connection();
    Bytes cmd = tpm2::get_random(16);
    cmd.resize(11);  // one byte short of the 12 the header announces
    c.send_all(cmd, kIoMs);
    Bytes r = c.recv_exact(10, 3000);  // swtpm answers what it got with the command-size error
    EXPECT_EQ(be32_at(r, 6), 0x142u);
    EXPECT_TRUE(closed_by_peer(c, 3000)) << "and the stalled client is dropped";
    c.close();
    EXPECT_EQ(d_->state_hash(), before);
    expect_serving();
  });
}

TEST_F(BadInput, AClientStalledInsideTheHeaderIsDroppedAfterTheStallTimeout) {
  run_case("9 header bytes", [] {
    Connection c = d_->data_connection();
    Bytes cmd = tpm2::get_random(16);
    cmd.resize(9);
    c.send_all(cmd, kIoMs);
    // Nothing to answer before a whole header: no byte within 1 s (a close would be allowed).
    Bytes early = c.readable(1000) ? c.recv_until_quiet(0) : Bytes{};
    EXPECT_TRUE(early.empty()) << "nothing to answer before a whole header, got " << tt::hex(early);
    EXPECT_TRUE(closed_by_peer(c, 15000)) << "a stalled client must be dropped";
    c.close();
    expect_serving();
  });
}

TEST_F(BadInput, MoreBytesThanTheSizeAreOneBadCommand) {
  run_case("12-byte GetRandom and 2 bytes more", [] {
    std::string before = d_->state_hash();
    Connection c = d_->data_connection();
    Bytes cmd = tpm2::get_random(16);
    cmd.insert(cmd.end(), {0xff, 0xff});
    c.send_all(cmd, kIoMs);
    Bytes r = c.recv_exact(10, kIoMs);
    EXPECT_EQ(be32_at(r, 2), 10u) << "one 10-byte answer, not a GetRandom";
    EXPECT_EQ(be32_at(r, 6), 0x142u);
    // The connection goes on: the next write is a new command, and its answer is the next bytes
    // (so nothing came after the 10-byte answer), and nothing follows it either.
    r = c.transact_tpm(tpm2::get_random(16), kIoMs);
    ASSERT_EQ(r.size(), 28u);
    EXPECT_EQ(be32_at(r, 6), 0u);
    expect_no_trailing_bytes(c, "GetRandom answer");
    c.close();
    EXPECT_EQ(d_->state_hash(), before);
    expect_serving();
  });
}

// ---- control channel: every opcode, body lengths expected-1, expected, expected+1 -------------

struct CtrlCase {
  uint32_t code;
  size_t body;        // expected body length
  bool at_least;      // body is a minimum (SET_LOCALITY, RESET_TPMESTABLISHED)
  bool destructive;   // the exact-length form changes the lifecycle (tested elsewhere)
};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%02x", unsigned(v));
  return buf;
}

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
      run_case(std::string(ctrl::name(c.code)) + " (" + hex32(c.code) + ") body " + std::to_string(c.body + delta), [&] {
        std::string before = d_->state_hash();
        Bytes body(c.body + delta, 0);
        if (c.code == 0x0c && body.size() >= 8) body[7] = 1;   // GET_STATEBLOB type permanent
        if (c.code == 0x12 && body.size() >= 8) body[7] = 1;   // GET_INFO flags = spec
        if (c.code == 0x0b && !body.empty()) body[0] = 3;      // RESET_TPMESTABLISHED at locality 3
        Bytes r = d_->ctrl(ctrl::request(c.code, body));     // every control message is answered
        ASSERT_GE(r.size(), 4u);
        if (delta == 0) {
          EXPECT_EQ(be32_at(r, 0), 0u) << "the exact length succeeds";
        } else {
          EXPECT_EQ(r.size(), 4u);
          EXPECT_EQ(be32_at(r, 0), 0x03u) << "TPM_BAD_PARAMETER";
          EXPECT_EQ(d_->state_hash(), before);
        }
        expect_serving();
      });
    }
  }
}

TEST_F(BadInput, UnknownControlCodes) {
  for (uint32_t code : {0x00u, 0x13u, 0x14u, 0xffu, 0x80000000u, 0xffffffffu}) {
    run_case("code " + hex32(code), [&] {
      std::string before = d_->state_hash();
      Bytes r = d_->ctrl(ctrl::request(code));
      ASSERT_EQ(r.size(), 4u);
      EXPECT_EQ(be32_at(r, 0), 0x0au) << "TPM_BAD_ORDINAL";
      EXPECT_EQ(d_->state_hash(), before);
    });
  }
  run_case("afterwards", [] { expect_serving(); });
}

TEST_F(BadInput, LocalitiesFiveTo255) {
  run_case("localities 5..255", [] {
    std::string before = d_->state_hash();
    for (uint32_t loc = 5; loc <= 255; ++loc) {
      // QEMU's 4-byte SET_LOCALITY body, then RESET_TPMESTABLISHED's 1-byte one.
      Bytes r = d_->ctrl(ctrl::set_locality_qemu(static_cast<uint8_t>(loc)));
      ASSERT_EQ(r.size(), 4u);
      ASSERT_EQ(be32_at(r, 0), 0x3du) << "SET_LOCALITY " << loc;
      r = d_->ctrl(ctrl::reset_tpmestablished(static_cast<uint8_t>(loc)));
      ASSERT_EQ(r.size(), 4u);
      ASSERT_EQ(be32_at(r, 0), 0x3du) << "RESET_TPMESTABLISHED " << loc;
    }
    EXPECT_EQ(d_->state_hash(), before);
    Bytes back = d_->ctrl(ctrl::set_locality(0));
    EXPECT_EQ(be32_at(back, 0), 0u);
    expect_serving();
  });
}

TEST_F(BadInput, SetStateBlobWhileRunningAndBadBlobs) {
  run_case("SET_STATEBLOB", [] {
    std::string before = d_->state_hash();
    // While running: refused (TPM_BAD_ORDINAL) without touching anything.
    Bytes r = d_->ctrl(ctrl::set_stateblob(ctrl::BLOB_PERMANENT, {1, 2, 3, 4}));
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(be32_at(r, 0), 0x0au);
    // Longer than 512 KiB: TPM_FAIL before any byte of the body is needed.
    Bytes big = ctrl::request(ctrl::SET_STATEBLOB, tt::Writer().u32(0).u32(ctrl::BLOB_PERMANENT).u32(512 * 1024 + 1).bytes());
    r = d_->ctrl(big);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(be32_at(r, 0), 0x09u);
    EXPECT_EQ(d_->state_hash(), before);
    expect_serving();
  });
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
  std::string dir;
  struct Corruption { std::string name; Bytes bytes; };
  std::vector<Corruption> bad;
  run_case("manufacturing a TPM", [&] {
    // Make a real permall with one instance (CMD_SHUTDOWN, then the exit), then corrupt copies.
    std::string exe = vtpmd_path();
    dir = tt::make_temp_dir("vtpmd-badinput-");
    tt::make_template_state(exe, dir, dir);
    Bytes good = read_file(dir + "/tpm2-00.permall");
    ASSERT_GT(good.size(), 100u);
    bad.push_back({"truncated to 5", Bytes(good.begin(), good.begin() + 5)});
    bad.push_back({"truncated by 1", Bytes(good.begin(), good.end() - 1)});
    for (size_t at : {size_t{1}, size_t{9}, size_t{16}, good.size() / 2, good.size() - 1}) {
      Bytes b = good;
      b[at] ^= 0x10;
      bad.push_back({"bit flipped at " + std::to_string(at), b});
    }
  });
  ASSERT_FALSE(bad.empty()) << "no TPM to corrupt";
  for (const auto& c : bad) {
    run_case(c.name, [&] {
      write_file(dir + "/tpm2-00.permall", c.bytes);
      std::string before = sha256_file(dir + "/tpm2-00.permall");
      Vtpmd d;
      d.start(dir, "");
      Bytes r = d.ctrl(ctrl::init(0), 5000);
      ASSERT_EQ(r.size(), 4u);
      EXPECT_NE(be32_at(r, 0), 0u) << "INIT must fail: never a silent fresh TPM";
      EXPECT_EQ(sha256_file(dir + "/tpm2-00.permall"), before) << "the bad file is left as it was";
      // Still serving: the control channel answers, the data channel gives the fatal response.
      Bytes cap = d.ctrl(ctrl::request(ctrl::GET_CAPABILITY));
      EXPECT_EQ(cap.size(), 8u);
      Bytes fatal = d.data(tpm2::get_random(16));
      ASSERT_EQ(fatal.size(), 10u);
      EXPECT_EQ(be32_at(fatal, 6), tpm2::RC_FAILURE);
      EXPECT_EQ(d.exited(), "") << "vtpmd must keep running";
      std::string log = tt::read_text_file(d.log_path());
      EXPECT_NE(log.find("permall"), std::string::npos) << "the log names the file that did not verify:\n" << log;
      d.stop();
      ::unlink(d.log_path().c_str());
    });
  }
  if (dir.empty()) return;
  if (::testing::Test::HasFailure()) std::fprintf(stderr, "bad-state: work dir kept: %s\n", dir.c_str());
  else tt::remove_tree(dir);
}

}  // namespace
