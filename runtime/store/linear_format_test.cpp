// swtpm's linear state file: the parser refuses every corrupted or truncated header field with a
// sentence naming it (no crash, no wrap: the swtpm #1170–#1174 inputs), never formats a file
// whose magic is not swtpm's, and the layout we write is swtpm's canonical one. Through
// StateStore: a refused file stays byte-identical and nothing is written over it; a fresh store
// creates the file on the first write; writes replace it durably; the lock is <file>.lock.
#include "store/linear_format.h"

#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "store/linear_file.h"
#include "store/openssl_crypto.h"
#include "store/state_store.h"
#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using engine::BlobKind;
using engine::LoadStatus;
using engine::TpmVersion;
using testing::pattern;
using testing::read_path;
using testing::TempDir;
using testing::write_path;

void put32(std::vector<uint8_t>& f, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) f[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
size_t slot_at(size_t i) { return 12 + i * kLinearSlotBytes; }

// permall 300 bytes, volatilestate 1000 bytes, as swtpm lays them out.
std::vector<uint8_t> sample() {
  LinearStore s;
  s.blobs[0] = pattern(300, 1);
  s.blobs[1] = pattern(1000, 2);
  std::vector<uint8_t> f;
  std::string err;
  EXPECT_TRUE(encode_linear_store(s, f, err)) << err;
  return f;
}

std::string parse_error(const std::vector<uint8_t>& f) {
  LinearStore out;
  std::string err;
  if (parse_linear_store(f, out, err)) return "(accepted)";
  return err;
}

TEST(LinearFormat, CanonicalLayoutAsSwtpmAllocates) {
  const auto f = sample();
  // header 192, permall at 192 in a 512-byte section, volatilestate at 704 in 1024: 1728 bytes.
  ASSERT_EQ(f.size(), 192u + 512 + 1024);
  EXPECT_EQ(std::string(f.begin(), f.begin() + 8), "nilmptws");  // 'swtpmlin' little-endian
  EXPECT_EQ(f[8], 1);
  EXPECT_EQ(f[10] | (f[11] << 8), 192);
  auto u32 = [&](size_t at) { return f[at] | (f[at + 1] << 8) | (f[at + 2] << 16) | (f[at + 3] << 24); };
  EXPECT_EQ(u32(slot_at(0)), 192);
  EXPECT_EQ(u32(slot_at(0) + 4), 300);
  EXPECT_EQ(u32(slot_at(0) + 8), 512);
  EXPECT_EQ(u32(slot_at(1)), 704);
  EXPECT_EQ(u32(slot_at(1) + 4), 1000);
  EXPECT_EQ(u32(slot_at(1) + 8), 1024);
  for (size_t i = 2; i < kLinearSlots; ++i) EXPECT_EQ(u32(slot_at(i)), 0) << i;
  LinearStore back;
  std::string err;
  ASSERT_TRUE(parse_linear_store(f, back, err)) << err;
  EXPECT_EQ(*back.blobs[0], pattern(300, 1));
  EXPECT_EQ(*back.blobs[1], pattern(1000, 2));
  EXPECT_FALSE(back.blobs[2]);
  // An exact power of two keeps its size; an empty store is the bare header.
  LinearStore p2;
  p2.blobs[2] = pattern(256, 3);
  ASSERT_TRUE(encode_linear_store(p2, back.blobs[0].emplace(), err));
  EXPECT_EQ(back.blobs[0]->size(), 192u + 256);
  std::vector<uint8_t> empty;
  ASSERT_TRUE(encode_linear_store(LinearStore(), empty, err));
  EXPECT_EQ(empty.size(), 192u);
  ASSERT_TRUE(parse_linear_store(empty, back, err)) << err;
  EXPECT_FALSE(back.blobs[0] || back.blobs[1] || back.blobs[2]);
  ASSERT_TRUE(parse_linear_store({}, back, err)) << err;  // an empty file: fresh
  LinearStore bad;
  bad.blobs[0].emplace();
  EXPECT_FALSE(encode_linear_store(bad, empty, err));
}

TEST(LinearFormat, MagicVersionAndHeaderSize) {
  const auto good = sample();
  for (size_t i = 0; i < 8; ++i) {
    auto f = good;
    f[i] ^= 0x20;
    EXPECT_EQ(parse_error(f),
              "is not a swtpm linear state file (its first 8 bytes are not the magic \"swtpmlin\"); "
              "refusing to use it, and refusing to format it as a new store")
        << i;
  }
  EXPECT_EQ(parse_error(std::vector<uint8_t>(192, 0)).rfind("is not a swtpm linear state file", 0), 0u);
  auto f = good;
  f[8] = 2;
  EXPECT_EQ(parse_error(f), "has linear format version 2; only version 1 (swtpm 0.7) is known");
  f[8] = 0;
  EXPECT_EQ(parse_error(f), "has linear format version 0; only version 1 (swtpm 0.7) is known");
  f = good;
  f[9] = 0xff;  // padding: swtpm never reads it
  EXPECT_EQ(parse_error(f), "(accepted)");
  f = good;
  f[10] = 180;
  EXPECT_EQ(parse_error(f), "has header size 180; version 1's header has 192 bytes");
  f[10] = 192;
  f[11] = 1;
  EXPECT_EQ(parse_error(f), "has header size 448; version 1's header has 192 bytes");
}

TEST(LinearFormat, EveryTruncationIsRefused) {
  const auto good = sample();
  for (size_t n = 1; n < good.size(); ++n) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    const std::string e = parse_error(cut);
    if (n < 8) {
      EXPECT_EQ(e, "has " + std::to_string(n) + " bytes, too few for swtpm's linear header (192)");
    } else if (n < 192) {
      EXPECT_EQ(e, "has " + std::to_string(n) +
                       " bytes, too few for swtpm's linear header (192): truncated");
    } else {
      EXPECT_NE(e.find("extends past the end of the file (" + std::to_string(n) + " bytes)"),
                std::string::npos)
          << n << ": " << e;
    }
  }
}

TEST(LinearFormat, SlotFieldsAreBoundsChecked) {
  const auto good = sample();
  struct Case {
    size_t slot, field;  // field 0 offset, 4 data_length, 8 section_length
    uint32_t value;
    std::string error;
  };
  const Case cases[] = {
      {0, 0, 100, "slot 0 (permall) starts at offset 100, inside the 192-byte header"},
      {0, 0, 1, "slot 0 (permall) starts at offset 1, inside the 192-byte header"},
      {0, 4, 0, "slot 0 (permall) is allocated but holds no data"},
      {0, 4, 513, "slot 0 (permall) has data length 513, more than its section length 512"},
      {0, 4, 0xffffffffu,
       "slot 0 (permall) has data length 4294967295, more than its section length 512"},
      {0, 8, 0x100, "slot 0 (permall) has data length 300, more than its section length 256"},
      {0, 8, 0xffffffffu,
       "slot 0 (permall) (offset 192, section length 4294967295) extends past the end of the "
       "file (1728 bytes): truncated or damaged"},
      // offset + length wraps in 32 bits to a small number (swtpm #1170's load check).
      {1, 0, 0xfffffe00u,
       "slot 1 (volatilestate) (offset 4294966784, section length 1024) extends past the end of "
       "the file (1728 bytes): truncated or damaged"},
      {1, 0, 705, "slot 1 (volatilestate) (offset 705, section length 1024) extends past the end "
                  "of the file (1728 bytes): truncated or damaged"},
      {1, 0, 600, "slot 1 (volatilestate) overlaps slot 0 (permall)"},
      {1, 0, 192, "slot 1 (volatilestate) overlaps slot 0 (permall)"},
      {2, 4, 5, "slot 2 (savestate) is unallocated (offset 0) but has data length 5 and section "
                "length 0"},
      {2, 8, 64, "slot 2 (savestate) is unallocated (offset 0) but has data length 0 and section "
                 "length 64"},
      {3, 0, 192, "slot 3 is in use; swtpm 0.7 uses only slots 0-2 (permall, volatilestate, "
                  "savestate)"},
      {14, 0, 704, "slot 14 is in use; swtpm 0.7 uses only slots 0-2 (permall, volatilestate, "
                   "savestate)"},
      {14, 4, 1, "slot 14 is unallocated (offset 0) but has data length 1 and section length 0"},
  };
  for (const Case& c : cases) {
    auto f = good;
    put32(f, slot_at(c.slot) + c.field, c.value);
    EXPECT_EQ(parse_error(f), c.error) << c.slot << "/" << c.field << "=" << c.value;
  }
  // Every single-byte change of the header is either refused or yields the same blobs (e.g. the
  // padding byte): never a read outside the file.
  for (size_t i = 0; i < kLinearHeaderBytes; ++i) {
    for (uint8_t x : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      auto f = good;
      f[i] ^= x;
      LinearStore out;
      std::string err;
      if (parse_linear_store(f, out, err)) {
        for (const auto& b : out.blobs) {
          if (b) {
            EXPECT_LE(b->size(), f.size());
          }
        }
      } else {
        EXPECT_FALSE(err.empty()) << i;
      }
    }
  }
}

class LinearStoreTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp.file("tpm.img"); }
  bool open(LinearFile& f) {
    std::string err;
    const bool ok = f.open(path(), 0600, err);
    EXPECT_TRUE(ok) << err;
    return ok;
  }
  TempDir tmp;
  OpensslCrypto crypto;
};

TEST_F(LinearStoreTest, FreshStoreIsCreatedByTheFirstWriteAndReadBack) {
  {
    LinearFile f;
    ASSERT_TRUE(open(f));
    StateStore s(f, TpmVersion::Tpm2, crypto, "");
    std::vector<uint8_t> out;
    EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Absent) << s.last_error();
    EXPECT_FALSE(std::filesystem::exists(path()));  // reading creates nothing
    EXPECT_TRUE(std::filesystem::exists(tmp.file("tpm.img.lock")));
    ASSERT_TRUE(s.store(BlobKind::Permanent, pattern(1300, 1).data(), 1300)) << s.last_error();
    ASSERT_TRUE(s.store(BlobKind::Volatile, pattern(9000, 2).data(), 9000)) << s.last_error();
    EXPECT_TRUE(s.compact());
    EXPECT_TRUE(s.journal_name().empty());
    std::vector<StoredBlob> list;
    std::string err;
    ASSERT_TRUE(s.list(list, err)) << err;
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].file_size, 1300u + 54);  // the slot's data_length, as swtpm prints
    ASSERT_TRUE(s.remove(BlobKind::Volatile, true)) << s.last_error();
    EXPECT_FALSE(s.remove(BlobKind::Volatile, true));
  }
  // swtpm's layout on disk, the blob in swtpm's state-file format (TLV 1 first).
  const auto file = read_path(path());
  LinearStore parsed;
  std::string err;
  ASSERT_TRUE(parse_linear_store(file, parsed, err)) << err;
  ASSERT_TRUE(parsed.blobs[0]);
  EXPECT_FALSE(parsed.blobs[1]);
  EXPECT_EQ(file.size(), 192u + 2048);
  EXPECT_EQ(mode_t{testing::mode_of(path())}, mode_t{0600});
  LinearFile f;
  ASSERT_TRUE(open(f));
  StateStore s(f, TpmVersion::Tpm2, crypto, "");
  std::vector<uint8_t> out;
  ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
  EXPECT_EQ(out, pattern(1300, 1));
  EXPECT_EQ(s.load(BlobKind::Volatile, out), LoadStatus::Absent);
}

TEST_F(LinearStoreTest, RefusedFileStaysByteIdenticalAndIsNeverWritten) {
  const auto good = sample();
  std::vector<std::vector<uint8_t>> bad;
  auto f = good;
  f[0] = 0;  // magic
  bad.push_back(f);
  bad.push_back(std::vector<uint8_t>(192, 0));  // what swtpm's ftruncate leaves
  bad.push_back(std::vector<uint8_t>(good.begin(), good.begin() + 1000));
  f = good;
  put32(f, slot_at(1), 0xfffffe00u);
  bad.push_back(f);
  for (const auto& b : bad) {
    ASSERT_TRUE(write_path(path(), b));
    LinearFile lf;
    ASSERT_TRUE(open(lf));
    StateStore s(lf, TpmVersion::Tpm2, crypto, "");
    std::vector<uint8_t> out;
    EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed);
    EXPECT_EQ(s.last_error().rfind("file:// state " + path() + " ", 0), 0u) << s.last_error();
    EXPECT_FALSE(s.store(BlobKind::Permanent, pattern(10, 1).data(), 10));
    EXPECT_FALSE(s.remove(BlobKind::Volatile, false));
    EXPECT_FALSE(s.compact());
    EXPECT_EQ(read_path(path()), b);
  }
}

// A crash in the middle of a rewrite leaves the old file and a stray temporary beside it (what
// StateDir::write_durable's order guarantees): the old state loads, the next write replaces the
// temporary, and the file is never seen half-written.
TEST_F(LinearStoreTest, CrashDuringARewriteLeavesTheOldFile) {
  {
    LinearFile f;
    ASSERT_TRUE(open(f));
    StateStore s(f, TpmVersion::Tpm2, crypto, "");
    ASSERT_TRUE(s.store(BlobKind::Permanent, pattern(700, 1).data(), 700)) << s.last_error();
  }
  const auto old = read_path(path());
  ASSERT_TRUE(write_path(tmp.file("TMP.img"), std::vector<uint8_t>(old.begin(), old.begin() + 300)));
  LinearFile f;
  ASSERT_TRUE(open(f));
  StateStore s(f, TpmVersion::Tpm2, crypto, "");
  std::vector<uint8_t> out;
  ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
  EXPECT_EQ(out, pattern(700, 1));
  ASSERT_TRUE(s.store(BlobKind::Volatile, pattern(50, 2).data(), 50)) << s.last_error();
  EXPECT_FALSE(std::filesystem::exists(tmp.file("TMP.img")));
  LinearStore parsed;
  std::string err;
  ASSERT_TRUE(parse_linear_store(read_path(path()), parsed, err)) << err;
  EXPECT_TRUE(parsed.blobs[0] && parsed.blobs[1]);
}

TEST_F(LinearStoreTest, SecondInstanceIsLockedOut) {
  LinearFile a, b;
  ASSERT_TRUE(open(a));
  ASSERT_TRUE(open(b));
  StateStore sa(a, TpmVersion::Tpm2, crypto, "");
  StateStore sb(b, TpmVersion::Tpm2, crypto, "");
  std::vector<uint8_t> out;
  EXPECT_EQ(sa.load(BlobKind::Permanent, out), LoadStatus::Absent);
  EXPECT_EQ(sb.load(BlobKind::Permanent, out), LoadStatus::Failed);
  EXPECT_NE(sb.last_error().find(tmp.path() + "/tpm.img.lock is locked by another process"),
            std::string::npos)
      << sb.last_error();
  // A second file in the same directory has its own lock.
  LinearFile c;
  std::string err;
  ASSERT_TRUE(c.open(tmp.file("other.img"), 0600, err)) << err;
  StateStore sc(c, TpmVersion::Tpm2, crypto, "");
  EXPECT_EQ(sc.load(BlobKind::Permanent, out), LoadStatus::Absent) << sc.last_error();
}

TEST_F(LinearStoreTest, NotARegularFileIsRefused) {
  std::filesystem::create_directory(path());
  LinearFile f;
  ASSERT_TRUE(open(f));
  StateStore s(f, TpmVersion::Tpm2, crypto, "");
  std::vector<uint8_t> out;
  EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed);
  EXPECT_NE(s.last_error().find("is not a regular file (a block device, a symbolic link?)"),
            std::string::npos)
      << s.last_error();
  std::filesystem::remove(path());
  std::filesystem::create_symlink("/dev/null", path());
  LinearFile g;
  ASSERT_TRUE(open(g));
  StateStore t(g, TpmVersion::Tpm2, crypto, "");
  EXPECT_EQ(t.load(BlobKind::Permanent, out), LoadStatus::Failed);
  LinearFile h;
  std::string err;
  EXPECT_FALSE(h.open(tmp.path() + "/", 0600, err));
  EXPECT_EQ(err, "file:// state " + tmp.path() + "/ names no file");
}

}  // namespace
}  // namespace vtpm::store
