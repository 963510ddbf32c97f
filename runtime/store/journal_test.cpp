// The write journal through StateStore: records round-trip, a crash (a StateStore destroyed
// without compact()) loses nothing, a torn last record is ignored, damage in the middle and a
// journal that no longer follows its snapshot files fail closed, a full journal compacts, a
// clean compact() leaves swtpm's files only, remove() is journaled and unlinks at once (a crash
// between the two included), and a store() of the bytes already durable does not touch the
// disk. Timing is printed, not asserted.
#include "store/journal.h"

#include <sys/stat.h>
#include <time.h>

#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "store/blob_format.h"
#include "store/openssl_crypto.h"
#include "store/state_store.h"
#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using engine::BlobKind;
using engine::LoadStatus;
using engine::TpmVersion;
using testing::from_hex;
using testing::mode_of;
using testing::pattern;
using testing::read_path;
using testing::TempDir;
using testing::write_path;

constexpr char kJournal[] = "tpm2-00.journal";

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(dir.open(tmp.path(), 0640, err)) << err;
  }
  bool put(StateStore& s, BlobKind kind, const std::vector<uint8_t>& data) {
    return s.store(kind, data.data(), static_cast<uint32_t>(data.size()));
  }
  // A new StateDir + StateStore over the same directory, as after a crash: the old ones must be
  // gone first (they hold the lock).
  LoadStatus reload(BlobKind kind, std::vector<uint8_t>& out, std::string& why,
                    const SecretKey* key = nullptr) {
    StateDir d;
    std::string err;
    if (!d.open(tmp.path(), 0640, err)) {
      why = err;
      return LoadStatus::Failed;
    }
    StateStore s(d, TpmVersion::Tpm2, crypto, "vm");
    if (key != nullptr && !s.set_key(*key, err)) {
      why = err;
      return LoadStatus::Failed;
    }
    const LoadStatus r = s.load(kind, out);
    why = s.last_error();
    return r;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
      v.push_back(e.path().filename().string());
    }
    std::sort(v.begin(), v.end());
    return v;
  }
  // Offset of record `n` (0-based) when every record holds a checked plain file of `plain` bytes.
  static size_t record_offset(size_t n, size_t plain) {
    return Journal::kRecordsStart + n * (Journal::kRecordOverhead + plain + 54);
  }
  TempDir tmp;
  StateDir dir;
  OpensslCrypto crypto;
};

TEST_F(JournalTest, StoresGoToThePrefilledJournal) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    EXPECT_EQ(s.journal_name(), kJournal);
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2048, 1))) << s.last_error();
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(700, 2))) << s.last_error();
    std::vector<uint8_t> out;
    ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
    EXPECT_EQ(out, pattern(2048, 1));
    ASSERT_EQ(s.load(BlobKind::Volatile, out), LoadStatus::Loaded) << s.last_error();
    EXPECT_EQ(out, pattern(700, 2));
    EXPECT_EQ(s.load(BlobKind::SaveState, out), LoadStatus::Absent);
    // Only the journal was written: full size, the state files' mode, no snapshot yet.
    EXPECT_EQ(names(), (std::vector<std::string>{".lock", kJournal}));
    EXPECT_EQ(std::filesystem::file_size(tmp.file(kJournal)), Journal::kBytes);
    EXPECT_EQ(mode_of(tmp.file(kJournal)), 0640u);
    EXPECT_EQ(s.journal_writes(), 3u);  // creation, two records
    std::vector<StoredBlob> list;
    std::string err;
    ASSERT_TRUE(s.list(list, err)) << err;
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].file_size, 2048u + 54);
  }
  StateStore t1(dir, TpmVersion::Tpm12, crypto, "");
  EXPECT_EQ(t1.journal_name(), "tpm-00.journal");
}

TEST_F(JournalTest, CrashAfterManyWritesLosesNothing) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    for (uint8_t i = 0; i < 100; ++i) {
      ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2048, i))) << s.last_error();
      if (i % 10 == 0) {
        ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(900, i)));
      }
    }
    EXPECT_EQ(s.compactions(), 0u);
  }  // no compact(): a crash
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(2048, 99));
  ASSERT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(900, 90));
}

TEST_F(JournalTest, SealedImagesReplayToo) {
  SecretKey key;
  const auto k = from_hex("00112233445566778899aabbccddeeff");
  key.assign(k.data(), k.size());
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    std::string err;
    ASSERT_TRUE(s.set_key(key, err)) << err;
    for (uint8_t i = 0; i < 5; ++i) ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, i)));
    EXPECT_EQ(s.generation(BlobKind::Permanent), 5u);
  }
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Permanent, out, why, &key), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(1500, 4));
  EXPECT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Failed);  // no key
  EXPECT_NE(why.find("no key was given"), std::string::npos) << why;
}

TEST_F(JournalTest, TornLastRecordLeavesThePreviousOne) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    for (uint8_t i = 0; i < 3; ++i) ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2000, i)));
  }
  dir.unlock();
  const std::string path = tmp.file(kJournal);
  const auto good = read_path(path);
  const size_t last = record_offset(2, 2000), end = record_offset(3, 2000);
  ASSERT_NE(good[end - 1], 0);
  ASSERT_EQ(good[end], 0);
  // Its tail never reached the disk, or only its first sector did, or garbage did.
  for (size_t keep : {end - last - 1, end - last - 40, size_t{512}, size_t{0}}) {
    SCOPED_TRACE(keep);
    auto torn = good;
    std::fill(torn.begin() + static_cast<long>(last + keep), torn.begin() + static_cast<long>(end), 0);
    ASSERT_TRUE(write_path(path, torn));
    std::vector<uint8_t> out;
    std::string why;
    ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
    EXPECT_EQ(out, pattern(2000, 1));
  }
  auto garbage = good;
  for (size_t i = last + 100; i < end; ++i) garbage[i] = static_cast<uint8_t>(i * 31);
  ASSERT_TRUE(write_path(path, garbage));
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(2000, 1));
  // The next writer appends after the valid records, over the torn one.
  {
    StateDir d;
    std::string err;
    ASSERT_TRUE(d.open(tmp.path(), 0640, err));
    StateStore s(d, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2000, 7))) << s.last_error();
  }
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(2000, 7));
}

TEST_F(JournalTest, DamageInTheMiddleFailsClosed) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    for (uint8_t i = 0; i < 4; ++i) ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1000, i)));
  }
  dir.unlock();
  const std::string path = tmp.file(kJournal);
  const auto good = read_path(path);
  for (size_t at : {record_offset(1, 1000) + 3, record_offset(1, 1000) + 500,
                    record_offset(2, 1000) - 1, record_offset(0, 1000) + 20}) {
    SCOPED_TRACE(at);
    auto bad = good;
    bad[at] ^= 0x01;
    ASSERT_TRUE(write_path(path, bad));
    std::vector<uint8_t> out;
    std::string why;
    EXPECT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Failed);
    EXPECT_TRUE(out.empty());
    EXPECT_NE(why.find("journal tpm2-00.journal: the record at offset"), std::string::npos) << why;
    EXPECT_NE(why.find("later records are intact"), std::string::npos) << why;
    EXPECT_EQ(read_path(path), bad);  // left as it was
  }
  // Both header copies damaged.
  auto bad = good;
  bad[100] ^= 1;
  bad[Journal::kSlotBytes + 100] ^= 1;
  ASSERT_TRUE(write_path(path, bad));
  std::vector<uint8_t> out;
  std::string why;
  EXPECT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Failed);
  EXPECT_NE(why.find("neither header copy verifies"), std::string::npos) << why;
  // Truncated.
  ASSERT_TRUE(write_path(path, std::vector<uint8_t>(good.begin(), good.begin() + 9000)));
  EXPECT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Failed);
  EXPECT_NE(why.find("has 9000 bytes"), std::string::npos) << why;
}

TEST_F(JournalTest, FullJournalCompactsAndEverythingStillLoads) {
  size_t compactions = 0;
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    for (int i = 0; i < 1200; ++i) {
      ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2048, static_cast<uint8_t>(i))))
          << i << ": " << s.last_error();
      if (i % 7 == 0) {
        ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(500, static_cast<uint8_t>(i))));
      }
      if (i == 600) {
        ASSERT_TRUE(put(s, BlobKind::SaveState, pattern(300, 1)));
      }
      if (i == 1100) {
        ASSERT_TRUE(s.remove(BlobKind::SaveState, true)) << s.last_error();
      }
    }
    compactions = s.compactions();
    std::vector<uint8_t> out;
    ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
    EXPECT_EQ(out, pattern(2048, static_cast<uint8_t>(1199)));
  }
  EXPECT_GE(compactions, 2u);
  // The snapshots exist (written by compaction), the journal holds the rest; the removed
  // savestate is gone from the directory too.
  EXPECT_EQ(names(), (std::vector<std::string>{".lock", kJournal, "tpm2-00.permall",
                                               "tpm2-00.volatilestate"}));
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(2048, static_cast<uint8_t>(1199)));
  ASSERT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(500, static_cast<uint8_t>(1197)));
  EXPECT_EQ(reload(BlobKind::SaveState, out, why), LoadStatus::Absent) << why;
}

TEST_F(JournalTest, CleanCompactLeavesSwtpmFilesOnly) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    for (uint8_t i = 0; i < 20; ++i) ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1299, i)));
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(800, 3)));
    ASSERT_TRUE(put(s, BlobKind::SaveState, pattern(100, 3)));
    ASSERT_TRUE(s.remove(BlobKind::SaveState, true));
    ASSERT_TRUE(s.compact()) << s.last_error();
    EXPECT_EQ(names(), (std::vector<std::string>{".lock", "tpm2-00.permall", "tpm2-00.volatilestate"}));
    // Still usable: the next store starts a new journal.
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(800, 4)));
    ASSERT_TRUE(s.compact()) << s.last_error();
    ASSERT_TRUE(s.compact()) << s.last_error();  // nothing to do
  }
  EXPECT_EQ(names(), (std::vector<std::string>{".lock", "tpm2-00.permall", "tpm2-00.volatilestate"}));
  // Checked plain files: swtpm's layout, TLV 1 first.
  const auto file = read_path(tmp.file("tpm2-00.permall"));
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(file, c, err)) << err;
  EXPECT_EQ(std::vector<uint8_t>(c.value(tag::kData).begin(), c.value(tag::kData).end()),
            pattern(1299, 19));
  EXPECT_EQ(file.size(), 1315u + 38);
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(800, 4));
}

TEST_F(JournalTest, CompactionCutShortStillLoads) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    for (uint8_t i = 0; i < 3; ++i) ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(600, i)));
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(60, 1)));
    ASSERT_TRUE(s.remove(BlobKind::Volatile, true));
  }
  const auto journal = read_path(tmp.file(kJournal));
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(s.compact()) << s.last_error();
  }
  // As if the crash came after the snapshots were written but before the journal was deleted.
  ASSERT_TRUE(write_path(tmp.file(kJournal), journal));
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(600, 2));
  EXPECT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Absent) << why;
}

TEST_F(JournalTest, SnapshotChangedBehindTheJournalFailsClosed) {
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.permall"), std::vector<uint8_t>{}));
  {
    std::vector<uint8_t> f;
    encode_plain_file(pattern(400, 1), f);
    ASSERT_TRUE(write_path(tmp.file("tpm2-00.permall"), f));  // a swtpm directory
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(400, 2)));
  }  // crash
  std::vector<uint8_t> f;
  encode_plain_file(pattern(400, 3), f);
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.permall"), f));  // then swtpm ran on it
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  EXPECT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Failed);
  EXPECT_NE(why.find("journal tpm2-00.journal does not follow tpm2-00.permall"), std::string::npos)
      << why;
  EXPECT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Failed);  // the whole journal
  EXPECT_EQ(read_path(tmp.file("tpm2-00.permall")), f);
  // A kind the journal has no record of may change: it is taken as it is, and a new epoch starts.
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.permall"), std::vector<uint8_t>{}));
  std::filesystem::remove(tmp.file(kJournal));
  {
    StateDir d;
    std::string err;
    ASSERT_TRUE(d.open(tmp.path(), 0640, err));
    StateStore s(d, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(400, 4)));
  }
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.volatilestate"), f));
  {
    StateDir d;
    std::string err;
    ASSERT_TRUE(d.open(tmp.path(), 0640, err));
    StateStore s(d, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_EQ(s.load(BlobKind::Volatile, out), LoadStatus::Loaded) << s.last_error();
    EXPECT_EQ(out, pattern(400, 3));
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(400, 5)));
  }
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(400, 4));
  ASSERT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(400, 5));
}

TEST_F(JournalTest, IdenticalStoreDoesNotTouchTheDisk) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, 1)));
    const uint64_t w = s.journal_writes();
    struct stat before {};
    ASSERT_EQ(::stat(tmp.file(kJournal).c_str(), &before), 0);
    const timespec pause{0, 20 * 1000 * 1000};
    nanosleep(&pause, nullptr);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, 1)));
    EXPECT_EQ(s.journal_writes(), w);
    struct stat after {};
    ASSERT_EQ(::stat(tmp.file(kJournal).c_str(), &after), 0);
    EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, 2)));
    EXPECT_EQ(s.journal_writes(), w + 1);
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, 1)));  // back to an older one: written
    EXPECT_EQ(s.journal_writes(), w + 2);
    ASSERT_TRUE(s.remove(BlobKind::Permanent, true));
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, 1)));  // after a remove: written
    EXPECT_EQ(s.journal_writes(), w + 4);
  }
  // After a restart, what was loaded is known to be durable.
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
  std::vector<uint8_t> out;
  ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
  ASSERT_TRUE(put(s, BlobKind::Permanent, out));
  EXPECT_EQ(s.journal_writes(), 0u);
  // But a swtpm file is rewritten in our format even when the blob is the same.
  ASSERT_TRUE(s.compact());
  std::vector<uint8_t> f;
  encode_plain_file(out, f);
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.permall"), f));
  StateStore t(dir, TpmVersion::Tpm2, crypto, "vm");
  ASSERT_EQ(t.load(BlobKind::Permanent, out), LoadStatus::Loaded) << t.last_error();
  ASSERT_TRUE(put(t, BlobKind::Permanent, out));
  EXPECT_EQ(t.journal_writes(), 2u);
}

// The volatile state is one-shot: remove() journals the removal and unlinks the file before it
// returns, so the directory (what swtpm reads) and a replay after a crash agree that it is gone.
TEST_F(JournalTest, RemoveIsJournaledAndUnlinkedAtOnce) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(100, 1)));
    ASSERT_TRUE(s.compact());
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(300, 1)));  // a journal again
    ASSERT_TRUE(std::filesystem::exists(tmp.file("tpm2-00.volatilestate")));
    const uint64_t w = s.journal_writes();
    ASSERT_TRUE(s.remove(BlobKind::Volatile, true)) << s.last_error();
    EXPECT_EQ(s.journal_writes(), w + 1);  // the "removed" record
    EXPECT_FALSE(std::filesystem::exists(tmp.file("tpm2-00.volatilestate")));
    EXPECT_FALSE(s.remove(BlobKind::Volatile, true));
    EXPECT_EQ(s.last_error(), "tpm2-00.volatilestate does not exist");
    EXPECT_TRUE(s.remove(BlobKind::Volatile, false));
    EXPECT_EQ(s.journal_writes(), w + 1);  // removing an absent blob writes nothing
    std::vector<uint8_t> out;
    EXPECT_EQ(s.load(BlobKind::Volatile, out), LoadStatus::Absent);
    // Only in the journal, never a file: the record is all there is to write.
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(100, 2)));
    ASSERT_TRUE(s.remove(BlobKind::Volatile, true)) << s.last_error();
    EXPECT_EQ(s.load(BlobKind::Volatile, out), LoadStatus::Absent);
  }  // crash
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  EXPECT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Absent) << why;
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(300, 1));
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
  ASSERT_TRUE(s.compact()) << s.last_error();
  EXPECT_EQ(names(), (std::vector<std::string>{".lock", "tpm2-00.permall"}));
}

// Without a journal the file is the only copy: unlinking it (and the directory fsync) is the
// whole removal, and no journal is created for it.
TEST_F(JournalTest, RemoveWithoutAJournalOnlyUnlinks) {
  std::vector<uint8_t> f;
  encode_plain_file(pattern(200, 5), f);
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.volatilestate"), f));  // swtpm's file
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
  s.set_first_write_direct(true);
  ASSERT_TRUE(s.remove(BlobKind::Volatile, true)) << s.last_error();
  EXPECT_EQ(s.journal_writes(), 0u);
  EXPECT_EQ(s.direct_writes(), 0u);  // the start-up's direct write is still to come
  EXPECT_EQ(names(), std::vector<std::string>{".lock"});
  std::vector<uint8_t> out;
  EXPECT_EQ(s.load(BlobKind::Volatile, out), LoadStatus::Absent);
}

// A crash between the journal's "removed" record and the unlink leaves the file beside a journal
// that says it is gone: the replay does not resurrect it, the next remove() or compaction
// unlinks it, and a remove() that must find the blob still fails.
TEST_F(JournalTest, CrashBetweenRemovedRecordAndUnlink) {
  std::vector<uint8_t> file;
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(900, 1)));
    ASSERT_TRUE(s.compact());
    file = read_path(tmp.file("tpm2-00.volatilestate"));
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(300, 1)));
    ASSERT_TRUE(s.remove(BlobKind::Volatile, false)) << s.last_error();
  }
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.volatilestate"), file));  // the unlink never happened
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  EXPECT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Absent) << why;
  EXPECT_TRUE(out.empty());
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    EXPECT_FALSE(s.remove(BlobKind::Volatile, true));
    EXPECT_EQ(s.last_error(), "tpm2-00.volatilestate does not exist");
    EXPECT_FALSE(std::filesystem::exists(tmp.file("tpm2-00.volatilestate")));  // but unlinked
  }
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.volatilestate"), file));
  dir.unlock();
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
  ASSERT_TRUE(s.compact()) << s.last_error();
  EXPECT_EQ(names(), (std::vector<std::string>{".lock", "tpm2-00.permall"}));
}

// After the unlink the snapshot no longer matches the journal's base; later records of that kind
// still replay (the "removed" record explains the missing file), as does everything else.
TEST_F(JournalTest, RecordsAfterARemovalReplayOverTheMissingFile) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(900, 1)));
    ASSERT_TRUE(s.compact());
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(300, 1)));
    ASSERT_TRUE(s.remove(BlobKind::Volatile, true)) << s.last_error();
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(900, 2)));
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(300, 2)));
  }  // crash
  dir.unlock();
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(900, 2));
  ASSERT_EQ(reload(BlobKind::Permanent, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(300, 2));
  // The same journal over a volatilestate that someone else (swtpm) wrote meanwhile is refused.
  std::vector<uint8_t> f;
  encode_plain_file(pattern(900, 3), f);
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.volatilestate"), f));
  EXPECT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Failed);
  EXPECT_NE(why.find("does not follow tpm2-00.volatilestate"), std::string::npos) << why;
}

// A torn "removed" record (the crash came while it was written): the removal was never
// acknowledged, and the blob is what it was before.
TEST_F(JournalTest, TornRemovedRecordLeavesTheBlob) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2000, 1)));
    ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(2000, 2)));
    ASSERT_TRUE(s.remove(BlobKind::Volatile, true));
  }
  dir.unlock();
  const std::string path = tmp.file(kJournal);
  auto torn = read_path(path);
  const size_t at = record_offset(2, 2000);
  ASSERT_NE(torn[at], 0);
  std::fill(torn.begin() + static_cast<long>(at) + 20, torn.begin() + static_cast<long>(at) + 60, 0);
  ASSERT_TRUE(write_path(path, torn));
  std::vector<uint8_t> out;
  std::string why;
  ASSERT_EQ(reload(BlobKind::Volatile, out, why), LoadStatus::Loaded) << why;
  EXPECT_EQ(out, pattern(2000, 2));
}

// Not a check: stores/s of a 2 KiB blob, one write_durable per store (the previous method) and
// through the journal, on this machine's disk.
TEST_F(JournalTest, TimingPrintout) {
  auto now = [] {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  constexpr int kN = 300;
  std::vector<uint8_t> file;
  std::string err;
  double t0 = now();
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(encode_checked_plain_file(crypto, pattern(2048, static_cast<uint8_t>(i)), nullptr,
                                          file, err));
    ASSERT_TRUE(dir.write_durable("bench.permall", file, err)) << err;
  }
  const double durable = kN / (now() - t0);
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2048, 255)));  // creates the journal
  t0 = now();
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(2048, static_cast<uint8_t>(i))));
  }
  const double journal = kN / (now() - t0);
  std::printf("[ timing ] 2 KiB stores/s: write_durable %.0f, journal %.0f (%.1fx), %llu compactions\n",
              durable, journal, journal / durable, static_cast<unsigned long long>(s.compactions()));
}

// vtpmd's start-up: the first write of a process goes to the snapshot itself, without creating the
// journal; the second one starts the journal on that snapshot, and both reload after a crash.
TEST_F(JournalTest, FirstWriteDirectSkipsTheJournalOnce) {
  {
    StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
    s.set_first_write_direct(true);
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, 1)));
    EXPECT_EQ(s.direct_writes(), 1u);
    EXPECT_EQ(s.journal_writes(), 0u);
    struct stat st {};
    EXPECT_NE(::stat(tmp.file(kJournal).c_str(), &st), 0) << "no journal after one write";
    EXPECT_TRUE(s.has_pending_sync()) << "the directory fsync is left for later";
    std::string err;
    ASSERT_TRUE(s.flush_pending(err)) << err;
    EXPECT_FALSE(s.has_pending_sync());
    ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(1500, 2)));
    EXPECT_EQ(s.direct_writes(), 1u);
    EXPECT_GE(s.journal_writes(), 1u);
    EXPECT_EQ(::stat(tmp.file(kJournal).c_str(), &st), 0) << "the journal comes with the second";
  }  // a crash: no compact()
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm");
  std::vector<uint8_t> out;
  ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
  EXPECT_EQ(out, pattern(1500, 2));
}

}  // namespace
}  // namespace vtpm::store
