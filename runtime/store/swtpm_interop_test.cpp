// Interop with Debian's swtpm 0.7.1: what it writes (plain, --key hex AES-128/256, pwdfile with
// both KDFs, --migration-key blobs, TPM 1.2) loads through StateStore into blobs libtpms accepts
// (TPMLIB_SetState); what we write (checked plain files, migration blobs, a compacted journal)
// swtpm loads; it refuses our GCM files and our lock, untouched. Processes are started and
// stopped by pid only, every wait has a deadline; without swtpm installed the tests fail.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>

#include <gtest/gtest.h>

#include "store/blob_format.h"
#include "store/key.h"
#include "store/openssl_crypto.h"
#include "store/state_store.h"
#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using engine::BlobKind;
using engine::LoadStatus;
using engine::TpmVersion;
using testing::read_path;
using testing::TempDir;
using testing::write_path;

constexpr char kSwtpm[] = "/usr/bin/swtpm";
constexpr char kIoctl[] = "/usr/bin/swtpm_ioctl";
constexpr int kStartMs = 10000;
constexpr int kStopMs = 10000;

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (out >= 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
  }
  const int in = ::open("/dev/null", O_RDONLY);
  if (in >= 0) ::dup2(in, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  _exit(127);
}

// The exit status of `pid` within `timeout_ms`, or -1 after killing it (by its pid) on timeout.
int wait_exit(pid_t pid, int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -2;
    if (now_ms() >= deadline) break;
    sleep_ms(10);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// swtpm accepts on its control socket: the file appears at bind(), a moment before listen(), so a
// connect is what tells that it serves.
bool accepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

bool have_swtpm() { return ::access(kSwtpm, X_OK) == 0 && ::access(kIoctl, X_OK) == 0; }

// One swtpm socket process over a state directory, with its sockets inside that directory.
class Swtpm {
 public:
  explicit Swtpm(const std::string& dir) : dir_(dir), log_(dir + "/../swtpm.log") {}
  ~Swtpm() {
    if (pid_ > 0) wait_exit(pid_, 0);  // kill what is left, by pid
  }

  // Starts it and waits (bounded) until its control socket accepts.
  bool start(bool tpm2, const std::vector<std::string>& extra, bool startup_clear = true) {
    std::vector<std::string> argv = {kSwtpm, "socket"};
    if (tpm2) argv.push_back("--tpm2");
    argv.insert(argv.end(), {"--tpmstate", "dir=" + dir_, "--flags",
                             startup_clear ? "not-need-init,startup-clear" : "not-need-init",
                             "--ctrl", "type=unixio,path=" + ctrl(), "--server",
                             "type=unixio,path=" + dir_ + "/data.sock"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    pid_ = spawn(argv, log_);
    const int64_t deadline = now_ms() + kStartMs;
    struct stat st {};
    while (now_ms() < deadline) {
      if (::stat(ctrl().c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && accepts(ctrl())) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        pid_ = -1;
        return false;
      }
      sleep_ms(10);
    }
    return false;
  }
  int ioctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kIoctl, "--unix", ctrl()};
    argv.insert(argv.end(), args.begin(), args.end());
    return wait_exit(spawn(argv, log_), kStopMs);
  }
  // CMD_SHUTDOWN, then its exit (bounded).
  bool shutdown() {
    const int r = ioctl({"-s"});
    if (pid_ <= 0) return false;
    exit_ = wait_exit(pid_, kStopMs);
    pid_ = -1;
    return r == 0 && exit_ == 0;
  }
  // Runs it until it exits by itself (it is expected to fail at start).
  // swtpm creates its sockets while parsing options, before it fails at start-up, so a control
  // socket does not mean it runs: it counts as running only if it has not exited by kStopMs.
  int run_expecting_exit(bool tpm2, const std::vector<std::string>& extra) {
    if (start(tpm2, extra)) {
      const int64_t deadline = now_ms() + kStopMs;
      int status = 0;
      while (now_ms() < deadline) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return exit_;
        }
        sleep_ms(10);
      }
      shutdown();
      return 0;
    }
    if (pid_ > 0) {
      exit_ = wait_exit(pid_, kStopMs);
      pid_ = -1;
    }
    return exit_;
  }
  std::string log() const {
    const auto b = read_path(log_);
    return std::string(b.begin(), b.end());
  }

 private:
  std::string ctrl() const { return dir_ + "/ctrl.sock"; }
  std::string dir_, log_;
  pid_t pid_ = -1;
  int exit_ = -1;
};

// libtpms' own check: TPMLIB_SetState unmarshals the blob (PERSISTENT_ALL_Unmarshal for TPM2).
uint32_t libtpms_check(TPMLIB_TPMVersion v, const std::vector<uint8_t>& blob) {
  if (TPMLIB_ChooseTPMVersion(v) != TPM_SUCCESS) return 0xffffffffu;
  const uint32_t r = TPMLIB_SetState(TPMLIB_STATE_PERMANENT, blob.data(),
                                     static_cast<uint32_t>(blob.size()));
  TPMLIB_SetState(TPMLIB_STATE_PERMANENT, nullptr, 0);
  return r;
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    // The reference is part of the test: without it the test fails, it does not skip.
    ASSERT_TRUE(have_swtpm()) << "swtpm 0.7.1 and swtpm_ioctl (Debian packages swtpm, swtpm-tools) are required";
    state = tmp.file("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  }

  // Runs swtpm once over `state` (creating its permall) and shuts it down.
  void make_state(bool tpm2, const std::vector<std::string>& extra) {
    Swtpm sw(state);
    ASSERT_TRUE(sw.start(tpm2, extra)) << sw.log();
    ASSERT_TRUE(sw.shutdown()) << sw.log();
  }

  // Loads the permall through a fresh StateDir/StateStore with the key `cfg` describes.
  LoadStatus load_permall(TpmVersion v, const instance::KeyConfig& cfg, std::vector<uint8_t>& out,
                          std::string& why) {
    StateDir dir;
    std::string err;
    if (!dir.open(state, 0600, err)) {
      why = err;
      return LoadStatus::Failed;
    }
    StateStore store(dir, v, crypto, "");
    SecretKey key;
    if (!load_key(crypto, cfg, key, err) || !store.set_key(key, err)) {
      why = err;
      return LoadStatus::Failed;
    }
    const LoadStatus s = store.load(BlobKind::Permanent, out);
    why = store.last_error();
    return s;
  }

  std::vector<uint8_t> plain_reference() {
    // A plain swtpm TPM2 permall of this machine's swtpm/libtpms, for structural comparison.
    TempDir other;
    const std::string d = other.file("s");
    EXPECT_EQ(::mkdir(d.c_str(), 0700), 0);
    Swtpm sw(d);
    EXPECT_TRUE(sw.start(true, {})) << sw.log();
    EXPECT_TRUE(sw.shutdown());
    const auto file = read_path(d + "/tpm2-00.permall");
    Container c;
    std::string err;
    EXPECT_TRUE(Container::parse(file, c, err)) << err;
    return std::vector<uint8_t>(c.value(tag::kData).begin(), c.value(tag::kData).end());
  }

  void expect_like_reference(const std::vector<uint8_t>& blob) {
    static std::vector<uint8_t> ref;
    if (ref.empty()) ref = plain_reference();
    ASSERT_GE(ref.size(), 8u);
    EXPECT_EQ(blob.size(), ref.size());  // same libtpms, same layout, different secrets
    EXPECT_EQ(std::vector<uint8_t>(blob.begin(), blob.begin() + 6),
              std::vector<uint8_t>(ref.begin(), ref.begin() + 6));  // version + PERSISTENT magic
    EXPECT_EQ(libtpms_check(TPMLIB_TPM_VERSION_2, blob), 0u);
  }

  TempDir tmp;
  std::string state;
  OpensslCrypto crypto;
};

TEST_F(Interop, PlainPermallLoadsAndIsWhatWeWrite) {
  make_state(true, {});
  const auto file = read_path(state + "/tpm2-00.permall");
  ASSERT_GT(file.size(), 16u);
  std::vector<uint8_t> blob;
  std::string why;
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, {}, blob, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(blob.size(), file.size() - kHeaderBytes - kTlvHeaderBytes);
  EXPECT_EQ(libtpms_check(TPMLIB_TPM_VERSION_2, blob), 0u);
  // The check can fail: a damaged PERSISTENT_DATA magic is refused by libtpms.
  auto bad = blob;
  bad[3] ^= 0xff;
  EXPECT_NE(libtpms_check(TPMLIB_TPM_VERSION_2, bad), 0u);
  // Our plain writer reproduces swtpm's file byte for byte.
  std::vector<uint8_t> ours;
  encode_plain_file(blob, ours);
  EXPECT_EQ(ours, file);
}

TEST_F(Interop, Aes256HexKeyFile) {
  const std::string k = tmp.file("key");
  ASSERT_TRUE(write_path(k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"));
  make_state(true, {"--key", "file=" + k + ",format=hex,mode=aes-256-cbc"});
  const auto file = read_path(state + "/tpm2-00.permall");
  ASSERT_GE(file.size(), kHeaderBytes);
  EXPECT_EQ(get_be16(&file[4]), flag::kEncrypted | flag::kEncrypted256);
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(file, c, err)) << err;
  EXPECT_EQ(c.value(tag::kIvecEncryptedData).size(), 32u);  // swtpm: IV as long as the key
  instance::KeyConfig cfg;
  cfg.source = instance::KeySource::KeyFile;
  cfg.path = k;
  cfg.key_bits = 256;
  std::vector<uint8_t> blob;
  std::string why;
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, cfg, blob, why), LoadStatus::Loaded) << why;
  expect_like_reference(blob);
  // Without the key, or with the wrong one, it fails closed with a reason.
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, {}, blob, why), LoadStatus::Failed);
  EXPECT_NE(why.find("no key was given"), std::string::npos) << why;
  ASSERT_TRUE(write_path(k, "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"));
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, cfg, blob, why), LoadStatus::WrongKey);
  EXPECT_NE(why.find("HMAC does not verify"), std::string::npos) << why;
  // A 128-bit key on swtpm's 256-bit file: told as the other size (swtpm: 0x28).
  ASSERT_TRUE(write_path(k, "000102030405060708090a0b0c0d0e0f\n"));
  cfg.key_bits = 128;
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, cfg, blob, why), LoadStatus::WrongKeySize) << why;
  EXPECT_NE(why.find("encrypted with a 256-bit key, but the given key has 128 bits"),
            std::string::npos)
      << why;
}

TEST_F(Interop, Aes128HexKeyWithPrefix) {
  const std::string k = tmp.file("key");
  ASSERT_TRUE(write_path(k, "0x00112233445566778899aabbccddeeff\n"));
  make_state(true, {"--key", "file=" + k});
  instance::KeyConfig cfg;
  cfg.source = instance::KeySource::KeyFile;
  cfg.path = k;
  std::vector<uint8_t> blob;
  std::string why;
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, cfg, blob, why), LoadStatus::Loaded) << why;
  expect_like_reference(blob);
  cfg.key_bits = 256;  // a mode that does not match the file
  EXPECT_EQ(load_permall(TpmVersion::Tpm2, cfg, blob, why), LoadStatus::Failed);
}

TEST_F(Interop, PwdfileBothKdfs) {
  const std::string p = tmp.file("pwd");
  ASSERT_TRUE(write_path(p, "secret passphrase\n"));
  struct Case {
    std::string opts;
    instance::Kdf kdf;
    uint32_t bits;
  };
  for (const Case& c : {Case{"", instance::Kdf::Pbkdf2, 128},
                        Case{",kdf=sha512,mode=aes-256-cbc", instance::Kdf::Sha512, 256},
                        Case{",kdf=pbkdf2,mode=aes-256-cbc", instance::Kdf::Pbkdf2, 256}}) {
    SCOPED_TRACE(c.opts);
    ::unlink((state + "/tpm2-00.permall").c_str());
    make_state(true, {"--key", "pwdfile=" + p + c.opts});
    instance::KeyConfig cfg;
    cfg.source = instance::KeySource::PwdFile;
    cfg.path = p;
    cfg.kdf = c.kdf;
    cfg.key_bits = c.bits;
    std::vector<uint8_t> blob;
    std::string why;
    ASSERT_EQ(load_permall(TpmVersion::Tpm2, cfg, blob, why), LoadStatus::Loaded) << why;
    expect_like_reference(blob);
  }
}

TEST_F(Interop, SwtpmEncryptedDirectoryIsUpgradedToGcmWhichSwtpmRefuses) {
  const std::string k = tmp.file("key");
  ASSERT_TRUE(write_path(k, "00112233445566778899aabbccddeeff"));
  make_state(true, {"--key", "file=" + k});
  instance::KeyConfig cfg;
  cfg.source = instance::KeySource::KeyFile;
  cfg.path = k;
  std::vector<uint8_t> blob, again;
  {
    StateDir dir;
    std::string err;
    ASSERT_TRUE(dir.open(state, 0600, err)) << err;
    StateStore store(dir, TpmVersion::Tpm2, crypto, "vm-1");
    SecretKey key;
    ASSERT_TRUE(load_key(crypto, cfg, key, err) && store.set_key(key, err)) << err;
    ASSERT_EQ(store.load(BlobKind::Permanent, blob), LoadStatus::Loaded) << store.last_error();
    ASSERT_TRUE(store.store(BlobKind::Permanent, blob.data(), static_cast<uint32_t>(blob.size())))
        << store.last_error();
    ASSERT_EQ(store.load(BlobKind::Permanent, again), LoadStatus::Loaded) << store.last_error();
    EXPECT_EQ(again, blob);
    ASSERT_TRUE(store.compact()) << store.last_error();
  }
  const auto ours = read_path(state + "/tpm2-00.permall");
  EXPECT_EQ(get_be16(&ours[4]), flag::kGcm);
  // swtpm with the same key finds no data it knows, fails to start and leaves the file alone
  // (it does not manufacture a new TPM over it).
  Swtpm sw(state);
  EXPECT_NE(sw.run_expecting_exit(true, {"--key", "file=" + k}), 0) << sw.log();
  EXPECT_EQ(read_path(state + "/tpm2-00.permall"), ours);
}

TEST_F(Interop, SwtpmLoadsOurPlainFile) {
  make_state(true, {});
  std::vector<uint8_t> blob;
  std::string why;
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, {}, blob, why), LoadStatus::Loaded) << why;
  // Rewrite it through our store, then let swtpm load it and hand it back over the control
  // channel (without Startup, so the permanent state is unchanged).
  {
    StateDir dir;
    std::string err;
    ASSERT_TRUE(dir.open(state, 0600, err));
    StateStore store(dir, TpmVersion::Tpm2, crypto, "");
    ASSERT_TRUE(store.store(BlobKind::Permanent, blob.data(), static_cast<uint32_t>(blob.size())));
    ASSERT_TRUE(store.compact()) << store.last_error();
  }
  // Our checked plain file: swtpm's TLV 1, then the SHA-256 TLV (0x14) that swtpm skips.
  {
    Container c;
    std::string err;
    const auto file = read_path(state + "/tpm2-00.permall");
    ASSERT_TRUE(Container::parse(file, c, err)) << err;
    EXPECT_TRUE(c.has(tag::kSha256));
  }
  Swtpm sw(state);
  ASSERT_TRUE(sw.start(true, {}, /*startup_clear=*/false)) << sw.log();
  const std::string saved = tmp.file("perm.blob");
  ASSERT_EQ(sw.ioctl({"--save", "permanent", saved}), 0) << sw.log();
  ASSERT_TRUE(sw.shutdown()) << sw.log();
  std::vector<uint8_t> plain;
  std::string err;
  ASSERT_EQ(decode_migration_blob(crypto, read_path(saved), {}, {}, plain, err), BlobError::None)
      << err;
  EXPECT_EQ(plain, blob);
}

// Many writes through the journal, a crash (no compact), a restart that replays the journal,
// then a clean compact: the directory has swtpm's file names only, and swtpm loads the latest.
TEST_F(Interop, SwtpmLoadsWhatACompactedJournalLeaves) {
  make_state(true, {});
  std::vector<uint8_t> blob;
  std::string why;
  ASSERT_EQ(load_permall(TpmVersion::Tpm2, {}, blob, why), LoadStatus::Loaded) << why;
  auto other = blob;
  other.back() ^= 0x5a;  // some other permall, overwritten below
  {
    StateDir dir;
    std::string err;
    ASSERT_TRUE(dir.open(state, 0600, err));
    StateStore store(dir, TpmVersion::Tpm2, crypto, "");
    for (int i = 0; i < 50; ++i) {
      const auto& b = i % 2 == 0 ? other : blob;
      ASSERT_TRUE(store.store(BlobKind::Permanent, b.data(), static_cast<uint32_t>(b.size())))
          << store.last_error();
    }
  }  // crash: the journal holds the state
  EXPECT_EQ(::access((state + "/tpm2-00.journal").c_str(), F_OK), 0);
  {
    StateDir dir;
    std::string err;
    ASSERT_TRUE(dir.open(state, 0600, err));
    StateStore store(dir, TpmVersion::Tpm2, crypto, "");
    std::vector<uint8_t> out;
    ASSERT_EQ(store.load(BlobKind::Permanent, out), LoadStatus::Loaded) << store.last_error();
    EXPECT_EQ(out, blob);
    ASSERT_TRUE(store.compact()) << store.last_error();
  }
  EXPECT_NE(::access((state + "/tpm2-00.journal").c_str(), F_OK), 0);
  Swtpm sw(state);
  ASSERT_TRUE(sw.start(true, {}, /*startup_clear=*/false)) << sw.log();
  const std::string saved = tmp.file("perm.blob");
  ASSERT_EQ(sw.ioctl({"--save", "permanent", saved}), 0) << sw.log();
  ASSERT_TRUE(sw.shutdown()) << sw.log();
  std::vector<uint8_t> plain;
  std::string err;
  ASSERT_EQ(decode_migration_blob(crypto, read_path(saved), {}, {}, plain, err), BlobError::None)
      << err;
  EXPECT_EQ(plain, blob);
}

TEST_F(Interop, MigrationBlobsBothWays) {
  const std::string mk = tmp.file("mkey");
  ASSERT_TRUE(write_path(mk, "0f0e0d0c0b0a09080706050403020100"));
  const std::vector<uint8_t> mkey = testing::from_hex("0f0e0d0c0b0a09080706050403020100");
  // swtpm -> us: GET_STATEBLOB with a migration key.
  Swtpm sw(state);
  ASSERT_TRUE(sw.start(true, {"--migration-key", "file=" + mk}, false)) << sw.log();
  const std::string saved = tmp.file("perm.blob");
  ASSERT_EQ(sw.ioctl({"--save", "permanent", saved}), 0) << sw.log();
  const auto theirs = read_path(saved);
  ASSERT_GE(theirs.size(), kHeaderBytes);
  EXPECT_EQ(get_be16(&theirs[4]), flag::kMigrationEncrypted | flag::kMigrationData);
  std::vector<uint8_t> plain;
  std::string err;
  ASSERT_EQ(decode_migration_blob(crypto, theirs, mkey, {}, plain, err), BlobError::None) << err;
  expect_like_reference(plain);
  EXPECT_EQ(decode_migration_blob(crypto, theirs, testing::from_hex("ff0e0d0c0b0a09080706050403020100"),
                                  {}, plain, err),
            BlobError::Integrity);
  // us -> swtpm: a blob of a different TPM, encrypted by us, SET_STATEBLOB into the stopped TPM.
  ASSERT_EQ(decode_migration_blob(crypto, theirs, mkey, {}, plain, err), BlobError::None);
  TempDir other;
  const std::string d2 = other.file("s");
  ASSERT_EQ(::mkdir(d2.c_str(), 0700), 0);
  Swtpm source(d2);
  ASSERT_TRUE(source.start(true, {}, false)) << source.log();
  ASSERT_TRUE(source.shutdown());
  Container c;
  const auto src_file = read_path(d2 + "/tpm2-00.permall");
  ASSERT_TRUE(Container::parse(src_file, c, err)) << err;
  const std::vector<uint8_t> src(c.value(tag::kData).begin(), c.value(tag::kData).end());
  ASSERT_NE(src, plain);
  std::vector<uint8_t> ours;
  ASSERT_TRUE(encode_migration_blob(crypto, src, mkey, ours, err)) << err;
  const std::string ours_path = tmp.file("ours.blob");
  ASSERT_TRUE(write_path(ours_path, ours));
  ASSERT_EQ(sw.ioctl({"--stop"}), 0) << sw.log();
  ASSERT_EQ(sw.ioctl({"--load", "permanent", ours_path}), 0) << sw.log();
  ASSERT_EQ(sw.ioctl({"-i"}), 0) << sw.log();
  ASSERT_TRUE(sw.shutdown()) << sw.log();
  // swtpm took it: its permall is now the source TPM's.
  const auto now = read_path(state + "/tpm2-00.permall");
  ASSERT_TRUE(Container::parse(now, c, err)) << err;
  EXPECT_EQ(std::vector<uint8_t>(c.value(tag::kData).begin(), c.value(tag::kData).end()), src);
}

TEST_F(Interop, LockExcludesSwtpmBothWays) {
  // swtpm holds the directory: we are refused, and told its pid.
  Swtpm sw(state);
  ASSERT_TRUE(sw.start(true, {})) << sw.log();
  // Its socket exists before it locks (at TPM init): an answered control command comes after.
  ASSERT_EQ(sw.ioctl({"-g"}), 0) << sw.log();
  {
    StateDir dir;
    std::string err;
    ASSERT_TRUE(dir.open(state, 0600, err));
    EXPECT_FALSE(dir.lock(err));
    EXPECT_NE(err.find("is locked by another process (pid "), std::string::npos) << err;
  }
  ASSERT_TRUE(sw.shutdown()) << sw.log();
  // We hold it: swtpm does not start on it.
  StateDir dir;
  std::string err;
  ASSERT_TRUE(dir.open(state, 0600, err));
  ASSERT_TRUE(dir.lock(err)) << err;
  const auto before = read_path(state + "/tpm2-00.permall");
  Swtpm second(state);
  EXPECT_NE(second.run_expecting_exit(true, {}), 0) << second.log();
  EXPECT_NE(second.log().find("Could not lock access to lockfile"), std::string::npos)
      << second.log();
  EXPECT_EQ(read_path(state + "/tpm2-00.permall"), before);
}

TEST_F(Interop, Tpm12FileNames) {
  make_state(false, {});
  EXPECT_EQ(::access((state + "/tpm-00.permall").c_str(), F_OK), 0);
  EXPECT_NE(::access((state + "/tpm2-00.permall").c_str(), F_OK), 0);
  std::vector<uint8_t> blob;
  std::string why;
  ASSERT_EQ(load_permall(TpmVersion::Tpm12, {}, blob, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(libtpms_check(TPMLIB_TPM_VERSION_1_2, blob), 0u);
  StateDir dir;
  std::string err;
  ASSERT_TRUE(dir.open(state, 0600, err));
  StateStore store(dir, TpmVersion::Tpm12, crypto, "");
  std::vector<StoredBlob> list;
  ASSERT_TRUE(store.list(list, err)) << err;
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list[0].name, "tpm-00.permall");
  EXPECT_EQ(list[0].file_size, read_path(state + "/tpm-00.permall").size());
}

}  // namespace
}  // namespace vtpm::store
