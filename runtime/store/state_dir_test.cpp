// StateDir against the real file system: durable round trips, exact file modes, refusal of
// symlinks and other non-regular files (with the target untouched), stale temporaries, the size
// limit, and the .lock held against a second process (fork).
#include "store/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using testing::mode_of;
using testing::HoldingChild;
using testing::pattern;
using testing::read_path;
using testing::TempDir;
using testing::write_path;

class Dir : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp.path().empty());
    std::string err;
    ASSERT_TRUE(dir.open(tmp.path(), StateDir::kDefaultMode, err)) << err;
  }
  TempDir tmp;
  StateDir dir;
};

TEST_F(Dir, DurableWriteReadRoundTrip) {
  std::string err;
  const auto data = pattern(5000, 3);
  ASSERT_TRUE(dir.write_durable("tpm2-00.permall", data, err)) << err;
  EXPECT_EQ(read_path(tmp.file("tpm2-00.permall")), data);
  std::vector<uint8_t> back;
  ASSERT_EQ(dir.read("tpm2-00.permall", back, err), FileStatus::Ok) << err;
  EXPECT_EQ(back, data);
  // Replacing keeps one file and leaves no temporary behind.
  ASSERT_TRUE(dir.write_durable("tpm2-00.permall", pattern(10, 1), err)) << err;
  EXPECT_EQ(read_path(tmp.file("tpm2-00.permall")), pattern(10, 1));
  EXPECT_NE(::access(tmp.file("TMP2-00.permall").c_str(), F_OK), 0);
  // Empty files round-trip too.
  ASSERT_TRUE(dir.write_durable("tpm-00.savestate", {}, err)) << err;
  ASSERT_EQ(dir.read("tpm-00.savestate", back, err), FileStatus::Ok);
  EXPECT_TRUE(back.empty());
}

TEST_F(Dir, AbsentAndRemove) {
  std::string err;
  std::vector<uint8_t> back = {1};
  EXPECT_EQ(dir.read("tpm2-00.volatilestate", back, err), FileStatus::Absent);
  EXPECT_TRUE(back.empty());
  EXPECT_EQ(dir.remove("tpm2-00.volatilestate", err), FileStatus::Absent);
  ASSERT_TRUE(dir.write_durable("tpm2-00.volatilestate", pattern(3, 1), err));
  EXPECT_EQ(dir.remove("tpm2-00.volatilestate", err), FileStatus::Ok);
  EXPECT_NE(::access(tmp.file("tpm2-00.volatilestate").c_str(), F_OK), 0);
  uint64_t size = 7;
  EXPECT_EQ(dir.size_of("tpm2-00.volatilestate", size, err), FileStatus::Absent);
}

TEST_F(Dir, FileModeIsExact) {
  std::string err;
  const mode_t old = ::umask(0077);
  ASSERT_TRUE(dir.write_durable("tpm2-00.permall", pattern(4, 1), err)) << err;
  EXPECT_EQ(mode_of(tmp.file("tpm2-00.permall")), 0600u);
  StateDir other;
  ASSERT_TRUE(other.open(tmp.path(), 0640, err)) << err;
  ASSERT_TRUE(other.write_durable("tpm2-00.permall", pattern(4, 1), err)) << err;
  EXPECT_EQ(mode_of(tmp.file("tpm2-00.permall")), 0640u);  // honoured despite umask 077
  ::umask(old);
  EXPECT_FALSE(other.open(tmp.path(), 010000, err));
}

TEST_F(Dir, SymlinkAtFileNameIsRefusedAndTargetUntouched) {
  std::string err;
  const std::string target = tmp.file("victim");
  ASSERT_TRUE(write_path(target, std::string("precious")));
  ASSERT_EQ(::symlink(target.c_str(), tmp.file("tpm2-00.permall").c_str()), 0);
  std::vector<uint8_t> back;
  EXPECT_EQ(dir.read("tpm2-00.permall", back, err), FileStatus::Error);
  EXPECT_EQ(err, "tpm2-00.permall is a symbolic link; refusing to follow it");
  EXPECT_FALSE(dir.write_durable("tpm2-00.permall", pattern(4, 1), err));
  EXPECT_EQ(err, "tpm2-00.permall is a symbolic link; refusing to replace it");
  EXPECT_EQ(read_path(target), std::vector<uint8_t>({'p', 'r', 'e', 'c', 'i', 'o', 'u', 's'}));
  uint64_t size = 0;
  EXPECT_EQ(dir.size_of("tpm2-00.permall", size, err), FileStatus::Error);
  // A symlink planted at the temporary name is not followed either: it is replaced.
  ASSERT_EQ(::unlink(tmp.file("tpm2-00.permall").c_str()), 0);
  ASSERT_EQ(::symlink(target.c_str(), tmp.file("TMP2-00.permall").c_str()), 0);
  ASSERT_TRUE(dir.write_durable("tpm2-00.permall", pattern(4, 1), err)) << err;
  EXPECT_EQ(read_path(target), std::vector<uint8_t>({'p', 'r', 'e', 'c', 'i', 'o', 'u', 's'}));
  EXPECT_EQ(read_path(tmp.file("tpm2-00.permall")), pattern(4, 1));
}

TEST_F(Dir, SymlinkedDirectoryIsRefused) {
  std::string err;
  const std::string link = tmp.file("link");
  ASSERT_EQ(::mkdir(tmp.file("real").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(tmp.file("real").c_str(), link.c_str()), 0);
  StateDir d;
  EXPECT_FALSE(d.open(link, 0600, err));
  EXPECT_EQ(err, "state directory " + link + " is a symbolic link; refusing it");
  EXPECT_FALSE(d.open(tmp.file("missing"), 0600, err));
}

TEST_F(Dir, NonRegularFilesAreRefused) {
  std::string err;
  ASSERT_EQ(::mkfifo(tmp.file("tpm2-00.permall").c_str(), 0600), 0);
  std::vector<uint8_t> back;
  EXPECT_EQ(dir.read("tpm2-00.permall", back, err), FileStatus::Error);  // and does not block
  EXPECT_EQ(err, "tpm2-00.permall is not a regular file");
  ASSERT_EQ(::mkdir(tmp.file("tpm2-00.volatilestate").c_str(), 0700), 0);
  EXPECT_EQ(dir.read("tpm2-00.volatilestate", back, err), FileStatus::Error);
  EXPECT_FALSE(dir.write_durable("tpm2-00.volatilestate", pattern(2, 1), err));
}

TEST_F(Dir, OversizedFileIsRefused) {
  std::string err;
  std::vector<uint8_t> big(StateDir::kMaxFileBytes + 1, 0);
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.permall"), big));
  std::vector<uint8_t> back;
  EXPECT_EQ(dir.read("tpm2-00.permall", back, err), FileStatus::Error);
  EXPECT_NE(err.find("more than the 4194304"), std::string::npos) << err;
  EXPECT_FALSE(dir.write_durable("tpm2-00.permall", big, err));
}

TEST_F(Dir, StaleTemporaryIsReplaced) {
  std::string err;
  ASSERT_TRUE(write_path(tmp.file("TMP2-00.permall"), std::string("left by a crash")));
  ASSERT_TRUE(dir.write_durable("tpm2-00.permall", pattern(6, 2), err)) << err;
  EXPECT_EQ(read_path(tmp.file("tpm2-00.permall")), pattern(6, 2));
  EXPECT_NE(::access(tmp.file("TMP2-00.permall").c_str(), F_OK), 0);
}

TEST_F(Dir, BadNamesAreRefused) {
  std::string err;
  std::vector<uint8_t> back;
  for (const char* name : {"", ".", "..", "../x", "a/b"}) {
    EXPECT_EQ(dir.read(name, back, err), FileStatus::Error) << name;
    EXPECT_FALSE(dir.write_durable(name, pattern(1, 1), err)) << name;
  }
}

TEST_F(Dir, SecondProcessCannotLock) {
  std::string err;
  ASSERT_TRUE(dir.lock(err)) << err;
  EXPECT_TRUE(dir.locked());
  EXPECT_TRUE(dir.lock(err));  // idempotent
  EXPECT_EQ(mode_of(tmp.file(".lock")), 0600u);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    StateDir d;
    std::string e;
    bool opened = d.open(tmp.path(), 0600, e);
    bool locked = opened && d.lock(e);
    if (::write(p[1], e.data(), e.size()) < 0) _exit(3);
    _exit(locked ? 0 : 1);
  }
  ::close(p[1]);
  std::string child_err;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) child_err.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << "the child took a lock this process holds";
  EXPECT_EQ(child_err, "state directory " + tmp.path() +
                           " is locked by another process; is another vtpmd or swtpm using it?");
  // A second StateDir of the same process is refused as well (an open-file-description lock).
  StateDir second;
  ASSERT_TRUE(second.open(tmp.path(), 0600, err));
  EXPECT_FALSE(second.lock(err));
  // Released: now a second process gets it.
  dir.unlock();
  const pid_t again = ::fork();
  ASSERT_GE(again, 0);
  if (again == 0) {
    StateDir d;
    std::string e;
    _exit(d.open(tmp.path(), 0600, e) && d.lock(e) ? 0 : 1);
  }
  ASSERT_EQ(::waitpid(again, &status, 0), again);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(Dir, LockSurvivesForkLikeDaemonize) {
  // --daemon: the parent forks and exits; the child must still hold the lock.
  std::string err;
  ASSERT_TRUE(dir.lock(err)) << err;
  HoldingChild child([&] { return dir.locked(); });  // the inherited fd carries the lock
  EXPECT_TRUE(child.ready());
  dir.unlock();  // "the parent exits": only the child's copy is left
  StateDir other;
  ASSERT_TRUE(other.open(tmp.path(), 0600, err));
  EXPECT_FALSE(other.lock(err)) << "the lock did not survive the fork";
  ASSERT_TRUE(child.release());
  EXPECT_TRUE(other.lock(err)) << err;
}

TEST_F(Dir, LockFileSymlinkIsRefused) {
  std::string err;
  ASSERT_TRUE(write_path(tmp.file("victim"), std::string("x")));
  ASSERT_EQ(::symlink(tmp.file("victim").c_str(), tmp.file(".lock").c_str()), 0);
  EXPECT_FALSE(dir.lock(err));
  EXPECT_NE(err.find(".lock"), std::string::npos) << err;
}

}  // namespace
}  // namespace vtpm::store
