// The instance core driven alone (no socket, no poll): real libtpms behind the engine and a real
// state directory behind the store. Expected answers are swtpm 0.7.1's, from
// reference/swtpm-qemu.md §1.2-1.5 (result codes, reply shapes) and TPM 2.0 Part 3 (responses).
#include "instance/core.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/openssl_crypto.h"
#include "store/state_dir.h"
#include "store/state_store.h"

namespace vtpm::instance {
namespace {

using Bytes = std::vector<uint8_t>;

const Bytes kStartupClear = {0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x44, 0, 0};
const Bytes kGetRandom16 = {0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 0x10};
const Bytes kFatal = {0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0x01};  // TPM_RC_FAILURE, ref §1.5
const Bytes kVendorSetLocality3 = {0x80, 0x01, 0, 0, 0, 0x0b, 0x20, 0x00, 0x10, 0x00, 3};

uint32_t rc_of(const Bytes& r) { return r.size() < 10 ? 0xffffffffu : (uint32_t(r[6]) << 24) | (r[7] << 16) | (r[8] << 8) | r[9]; }

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// One core over a fresh temporary state directory, TPM 2.0.
class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vtpm-core-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
    cfg_.tpm2 = true;
    cfg_.state_dir = path_;
  }
  void TearDown() override {
    core_.reset();
    engine_.reset();
    store_.reset();
    dir_.reset();
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  void make() {
    std::string err;
    dir_ = std::make_unique<store::StateDir>();
    ASSERT_TRUE(dir_->open(path_, 0600, err)) << err;
    ASSERT_TRUE(dir_->lock(err)) << err;
    store_ = std::make_unique<store::StateStore>(*dir_, engine::TpmVersion::Tpm2, crypto_, "");
    engine_ = std::make_unique<engine::Engine>(engine::TpmVersion::Tpm2, *store_);
    core_ = std::make_unique<InstanceCore>(cfg_, *engine_, *store_, log_, no_key_);
    core_->start();
  }
  const ControlReply& ctl(ControlCmd cmd, bool fd = false) {
    req_ = {};
    req_.cmd = cmd;
    req_.opcode = static_cast<uint32_t>(cmd);
    return core_->control(req_, fd);
  }
  Bytes tpm(const Bytes& cmd) {
    uint8_t out[4096];
    size_t n = core_->tpm_command(cmd.data(), static_cast<uint32_t>(cmd.size()), -1, out, sizeof out);
    return Bytes(out, out + n);
  }
  void run_tpm() {
    ASSERT_EQ(ctl(ControlCmd::Init).result, 0u);
    ASSERT_EQ(rc_of(tpm(kStartupClear)), 0u);
  }
  std::string file(const char* name) const { return path_ + "/" + name; }

  std::string path_;
  Config cfg_;
  Log log_;
  store::OpensslCrypto crypto_;
  std::vector<uint8_t> no_key_;
  ControlRequest req_;
  std::unique_ptr<store::StateDir> dir_;
  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<InstanceCore> core_;
};

TEST_F(CoreTest, BeforeInitTpmCommandsGetTheFatalResponse) {
  make();
  EXPECT_EQ(tpm(kGetRandom16), kFatal);
  const ControlReply& cap = ctl(ControlCmd::GetCapability);
  EXPECT_EQ(cap.shape, ReplyShape::Capability);
  EXPECT_EQ(cap.value, 0xffffu);  // swtpm 0.7.1 TPM 2 (ref §1.3)
  EXPECT_FALSE(exists(file("tpm2-00.permall")));  // nothing manufactured yet
}

TEST_F(CoreTest, InitManufacturesAndCommandsRun) {
  make();
  run_tpm();
  Bytes r = tpm(kGetRandom16);
  ASSERT_EQ(r.size(), 28u);
  EXPECT_EQ(rc_of(r), 0u);
  ASSERT_EQ(ctl(ControlCmd::Stop).result, 0u);
  EXPECT_TRUE(exists(file("tpm2-00.permall")));  // STOP folded the journal into swtpm's file
}

TEST_F(CoreTest, NotNeedInitStartsTheTpmAtStart) {
  cfg_.not_need_init = true;
  make();
  EXPECT_EQ(core_->state(), ctrl::State::Running);
  EXPECT_EQ(rc_of(tpm(kStartupClear)), 0u);
}

TEST_F(CoreTest, SetDataFdNeedsAnFdAndTakesOneAtATime) {
  make();
  const ControlReply& none = ctl(ControlCmd::SetDataFd, false);
  EXPECT_EQ(none.result, 0x03u);  // TPM_BAD_PARAMETER (ref §1.7)
  EXPECT_FALSE(none.adopt_data_fd);
  const ControlReply& first = ctl(ControlCmd::SetDataFd, true);
  EXPECT_EQ(first.result, 0u);
  EXPECT_TRUE(first.adopt_data_fd);
  const ControlReply& second = ctl(ControlCmd::SetDataFd, true);
  EXPECT_EQ(second.result, 0x1fu);  // TPM_IOERROR: one data channel at a time
  EXPECT_FALSE(second.adopt_data_fd);
  core_->data_closed();
  EXPECT_TRUE(ctl(ControlCmd::SetDataFd, true).adopt_data_fd);
}

TEST_F(CoreTest, ShutdownAnswersThenAsksToExitAndAnswersNothingMore) {
  make();
  run_tpm();
  const ControlReply& r = ctl(ControlCmd::Shutdown);
  EXPECT_EQ(r.shape, ReplyShape::Result);
  EXPECT_EQ(r.result, 0u);
  EXPECT_TRUE(core_->exit_requested());
  EXPECT_EQ(core_->exit_code(), 0);
  EXPECT_EQ(ctl(ControlCmd::GetCapability).shape, ReplyShape::None);
  EXPECT_TRUE(tpm(kGetRandom16).empty());
  // STOP/SHUTDOWN fold the journal: the directory is plain swtpm state
  EXPECT_FALSE(exists(file("tpm2-00.journal")));
}

TEST_F(CoreTest, StateBlobOfUnknownTypeIsRetryWithTheHeader) {
  make();
  run_tpm();
  req_ = {};
  req_.cmd = ControlCmd::GetStateBlob;
  req_.blob_type = 5;
  const ControlReply& r = core_->control(req_, false);
  EXPECT_EQ(r.shape, ReplyShape::StateBlob);  // the 16-byte header even on errors (ref §1.1)
  EXPECT_EQ(r.result, 0x800u);               // TPM_RETRY
  EXPECT_TRUE(r.blob.empty());
}

TEST_F(CoreTest, VolatileStateIsHandedOutOnce) {
  make();
  run_tpm();
  ASSERT_EQ(ctl(ControlCmd::StoreVolatile).result, 0u);
  ASSERT_TRUE(exists(file("tpm2-00.volatilestate")));
  req_ = {};
  req_.cmd = ControlCmd::GetStateBlob;
  req_.blob_type = 2;  // PTM_BLOB_TYPE_VOLATILE
  const ControlReply& r = core_->control(req_, false);
  EXPECT_EQ(r.result, 0u);
  EXPECT_GT(r.blob.size(), 1000u);
  // gone when the command is answered, not at the next compaction (swtpm deletes it, ref §1.2)
  EXPECT_FALSE(exists(file("tpm2-00.volatilestate")));
}

TEST_F(CoreTest, InitWithDeleteVolatileLeavesNoVolatileFile) {
  make();
  run_tpm();
  ASSERT_EQ(ctl(ControlCmd::StoreVolatile).result, 0u);
  ASSERT_TRUE(exists(file("tpm2-00.volatilestate")));
  req_ = {};
  req_.cmd = ControlCmd::Init;
  req_.init_flags = kInitFlagDeleteVolatile;
  EXPECT_EQ(core_->control(req_, false).result, 0u);
  EXPECT_FALSE(exists(file("tpm2-00.volatilestate")));
}

TEST_F(CoreTest, BufferSizeIsQueriedWhileRunningButSetOnlyWhenStopped) {
  make();
  run_tpm();
  req_ = {};
  req_.cmd = ControlCmd::SetBufferSize;
  req_.buffer_size = 3000;
  EXPECT_EQ(core_->control(req_, false).result, 0x0au);  // TPM_BAD_ORDINAL while running
  req_.buffer_size = 0;
  const ControlReply& q = core_->control(req_, false);
  EXPECT_EQ(q.shape, ReplyShape::BufferSize);
  EXPECT_EQ(q.buffer_size, 4096u);
  ASSERT_EQ(ctl(ControlCmd::Stop).result, 0u);
  req_ = {};
  req_.cmd = ControlCmd::SetBufferSize;
  req_.buffer_size = 3000;
  const ControlReply& s = core_->control(req_, false);
  EXPECT_EQ(s.result, 0u);
  EXPECT_EQ(s.buffer_size, 3000u);
  EXPECT_EQ(core_->buffer_size(), 3000u);
}

TEST_F(CoreTest, MalformedMessagesAreAnsweredWithTheirCode) {
  make();
  const ControlReply& r = core_->malformed(0x03);
  EXPECT_EQ(r.shape, ReplyShape::Result);
  EXPECT_EQ(r.result, 0x03u);
}

TEST_F(CoreTest, VendorSetLocalityNeedsAllowSetLocality) {
  make();
  run_tpm();
  EXPECT_EQ(tpm(kVendorSetLocality3), kFatal);
}

TEST_F(CoreTest, VendorSetLocalityAnswersHeaderOnlyWhenAllowed) {
  cfg_.allow_set_locality = true;
  make();
  run_tpm();
  EXPECT_EQ(tpm(kVendorSetLocality3), (Bytes{0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0, 0}));
}

TEST_F(CoreTest, DamagedStateFailsInitAndTheCoreKeepsServing) {
  make();
  run_tpm();
  ASSERT_EQ(ctl(ControlCmd::Stop).result, 0u);
  // flip one byte of the permanent state
  std::string p = file("tpm2-00.permall");
  FILE* f = std::fopen(p.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 40, SEEK_SET);
  int c = std::fgetc(f);
  std::fseek(f, 40, SEEK_SET);
  std::fputc(c ^ 0x01, f);
  std::fclose(f);
  EXPECT_NE(ctl(ControlCmd::Init).result, 0u);
  EXPECT_EQ(tpm(kGetRandom16), kFatal);
  EXPECT_EQ(ctl(ControlCmd::GetCapability).shape, ReplyShape::Capability);
  EXPECT_FALSE(core_->exit_requested());
}

}  // namespace
}  // namespace vtpm::instance
