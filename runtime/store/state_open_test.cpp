// OpenedState and the offline actions: --fold-journal folds what a crash left (and says so), does
// nothing on a clean directory, names a journal of the other TPM version, refuses while another
// process holds the lock, checks the files with the key; --print-states in swtpm's format.
#include "store/state_open.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "store/blob_format.h"
#include "store/openssl_crypto.h"
#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using engine::BlobKind;
using engine::LoadStatus;
using engine::TpmVersion;
using testing::HoldingChild;
using testing::pattern;
using testing::read_path;
using testing::TempDir;
using testing::write_path;

class Offline : public ::testing::Test {
 protected:
  instance::Config config(bool tpm2 = true) const {
    instance::Config c;
    c.tpm2 = tpm2;
    c.state_dir = tmp.path();
    return c;
  }
  // Writes through a StateStore that is then dropped without compact(): a crash.
  void crash_after_writes(TpmVersion v, const SecretKey* key = nullptr) {
    StateDir d;
    std::string err;
    ASSERT_TRUE(d.open(tmp.path(), 0600, err)) << err;
    StateStore s(d, v, crypto, "");
    if (key != nullptr) {
      ASSERT_TRUE(s.set_key(*key, err)) << err;
    }
    for (uint8_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(s.store(BlobKind::Permanent, pattern(500, i).data(), 500)) << s.last_error();
    }
    ASSERT_TRUE(s.store(BlobKind::Volatile, pattern(90, 9).data(), 90)) << s.last_error();
  }
  bool exists(const std::string& name) const { return std::filesystem::exists(tmp.file(name)); }
  TempDir tmp;
  OpensslCrypto crypto;
};

TEST_F(Offline, FoldJournalLeavesSwtpmFiles) {
  crash_after_writes(TpmVersion::Tpm2);
  ASSERT_TRUE(exists("tpm2-00.journal"));
  ASSERT_FALSE(exists("tpm2-00.permall"));
  std::string report, err;
  ASSERT_TRUE(fold_journal_offline(config(), crypto, report, err)) << err;
  EXPECT_EQ(report, "folded tpm2-00.journal into the state files in " + tmp.path());
  EXPECT_FALSE(exists("tpm2-00.journal"));
  // What swtpm reads: its layout, the latest blob.
  const auto file = read_path(tmp.file("tpm2-00.permall"));
  Container c;
  ASSERT_TRUE(Container::parse(file, c, err)) << err;  // c keeps views into `file`
  EXPECT_EQ(std::vector<uint8_t>(c.value(tag::kData).begin(), c.value(tag::kData).end()),
            pattern(500, 2));
  ASSERT_TRUE(fold_journal_offline(config(), crypto, report, err)) << err;
  EXPECT_EQ(report, "no journal tpm2-00.journal in " + tmp.path() + ": nothing to fold");
}

TEST_F(Offline, FoldJournalOfTheOtherVersionIsNamed) {
  crash_after_writes(TpmVersion::Tpm12);
  std::string report, err;
  EXPECT_FALSE(fold_journal_offline(config(true), crypto, report, err));
  EXPECT_EQ(err, tmp.path() + " holds tpm-00.journal, the journal of a TPM 1.2: run again "
                              "without --tpm2");
  EXPECT_TRUE(exists("tpm-00.journal"));
  ASSERT_TRUE(fold_journal_offline(config(false), crypto, report, err)) << err;
  EXPECT_FALSE(exists("tpm-00.journal"));
  EXPECT_TRUE(exists("tpm-00.permall"));
}

TEST_F(Offline, FoldJournalChecksTheFilesWithTheKey) {
  const auto raw = testing::from_hex("00112233445566778899aabbccddeeff");
  SecretKey key;
  key.assign(raw.data(), raw.size());
  crash_after_writes(TpmVersion::Tpm2, &key);
  const std::string keyfile = tmp.path() + "/../" + std::filesystem::path(tmp.path()).filename().string() + ".key";
  ASSERT_TRUE(write_path(keyfile, std::string("ffeeddccbbaa99887766554433221100\n")));
  instance::Config c = config();
  c.key.source = instance::KeySource::KeyFile;
  c.key.path = keyfile;
  std::string report, err;
  EXPECT_FALSE(fold_journal_offline(c, crypto, report, err));  // the wrong key
  EXPECT_NE(err.find("AES-256-GCM authentication failed"), std::string::npos) << err;
  EXPECT_FALSE(exists("tpm2-00.journal"));  // folded all the same: the fold needs no key
  ASSERT_TRUE(write_path(keyfile, std::string("00112233445566778899aabbccddeeff\n")));
  ASSERT_TRUE(fold_journal_offline(c, crypto, report, err)) << err;
  EXPECT_EQ(report, "no journal tpm2-00.journal in " + tmp.path() +
                        ": nothing to fold (the state files decode with the key)");
  std::filesystem::remove(keyfile);
}

TEST_F(Offline, FoldJournalRefusesWhileLocked) {
  crash_after_writes(TpmVersion::Tpm2);
  StateDir d;
  HoldingChild holder([&] {
    std::string e;
    return d.open(tmp.path(), 0600, e) && d.lock(e);
  });
  ASSERT_TRUE(holder.ready());
  std::string report, err;
  EXPECT_FALSE(fold_journal_offline(config(), crypto, report, err));
  EXPECT_NE(err.find("is locked by another process"), std::string::npos) << err;
  EXPECT_TRUE(exists("tpm2-00.journal"));
  ASSERT_TRUE(holder.release());
  EXPECT_TRUE(fold_journal_offline(config(), crypto, report, err)) << err;
}

TEST_F(Offline, PrintStatesInSwtpmsFormat) {
  std::string json, err;
  ASSERT_TRUE(print_states_json(config(), crypto, json, err)) << err;
  EXPECT_EQ(json, "{ \"type\": \"swtpm\", \"states\": [] }");
  crash_after_writes(TpmVersion::Tpm2);
  std::string report;
  ASSERT_TRUE(fold_journal_offline(config(), crypto, report, err)) << err;
  ASSERT_TRUE(print_states_json(config(), crypto, json, err)) << err;
  EXPECT_EQ(json, "{ \"type\": \"swtpm\", \"states\": [ {\"name\": \"permall\", \"size\": 554}, "
                  "{\"name\": \"volatilestate\", \"size\": 144} ] }");
  instance::Config none = config();
  none.state_dir = tmp.path() + "/missing";
  EXPECT_FALSE(print_states_json(none, crypto, json, err));
  EXPECT_NE(err.find("could not open state directory"), std::string::npos) << err;
}

}  // namespace
}  // namespace vtpm::store
