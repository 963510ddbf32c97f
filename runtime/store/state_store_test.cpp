// StateStore as the engine sees it: Absent / Loaded / a failure (Failed, WrongKey, WrongKeySize)
// with a kept reason, swtpm's file names and plain layout, GCM files bound to their name and
// instance, damaged files refused and left byte-identical on disk, the lazy lock, and the
// control-channel result codes.
#include "store/state_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "store/openssl_crypto.h"
#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using engine::BlobKind;
using engine::LoadStatus;
using engine::TpmVersion;
using testing::from_hex;
using testing::HoldingChild;
using testing::pattern;
using testing::read_path;
using testing::TempDir;
using testing::write_path;

class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(dir.open(tmp.path(), 0600, err)) << err;
    const auto k = from_hex("00112233445566778899aabbccddeeff");
    key.assign(k.data(), k.size());
  }
  bool put(StateStore& s, BlobKind kind, const std::vector<uint8_t>& data) {
    return s.store(kind, data.data(), static_cast<uint32_t>(data.size()));
  }
  TempDir tmp;
  StateDir dir;
  OpensslCrypto crypto;
  SecretKey key;
};

TEST_F(Store, FileNames) {
  StateStore t2(dir, TpmVersion::Tpm2, crypto, "");
  StateStore t1(dir, TpmVersion::Tpm12, crypto, "");
  EXPECT_EQ(t2.file_name(BlobKind::Permanent), "tpm2-00.permall");
  EXPECT_EQ(t2.file_name(BlobKind::Volatile), "tpm2-00.volatilestate");
  EXPECT_EQ(t2.file_name(BlobKind::SaveState), "tpm2-00.savestate");
  EXPECT_EQ(t1.file_name(BlobKind::Permanent), "tpm-00.permall");
  EXPECT_EQ(t1.file_name(BlobKind::SaveState), "tpm-00.savestate");
}

TEST_F(Store, AbsentThenPlainRoundTripAsSwtpmWritesIt) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "");
  std::vector<uint8_t> out = {9};
  EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Absent);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(dir.locked());  // first use took the lock
  EXPECT_EQ(s.last_error(), "");
  const auto blob = pattern(1299, 4);
  ASSERT_TRUE(put(s, BlobKind::Permanent, blob)) << s.last_error();
  ASSERT_TRUE(s.compact()) << s.last_error();  // the snapshot file (stores go to the journal)
  // swtpm's layout (1315 bytes for a fresh TPM2's 1299), then the SHA-256 TLV swtpm skips.
  std::vector<uint8_t> swtpms;
  encode_plain_file(blob, swtpms);
  EXPECT_EQ(swtpms.size(), 1315u);
  const auto file = read_path(tmp.file("tpm2-00.permall"));
  ASSERT_EQ(file.size(), 1315u + 6 + 32);
  EXPECT_TRUE(std::equal(swtpms.begin() + 10, swtpms.end(), file.begin() + 10));
  ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
  EXPECT_EQ(out, blob);
}

TEST_F(Store, SealedRoundTripCountsGenerations) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm-a");
  std::string err;
  ASSERT_TRUE(s.set_key(key, err)) << err;
  ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(900, 1)));
  ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(901, 2)));
  EXPECT_EQ(s.generation(BlobKind::Volatile), 2u);
  ASSERT_TRUE(s.compact()) << s.last_error();
  const auto file = read_path(tmp.file("tpm2-00.volatilestate"));
  ASSERT_GE(file.size(), 10u);
  EXPECT_EQ(file[5], 0x20);  // flags: vtpmd GCM
  StateStore fresh(dir, TpmVersion::Tpm2, crypto, "vm-a");
  ASSERT_TRUE(fresh.set_key(key, err));
  std::vector<uint8_t> out;
  ASSERT_EQ(fresh.load(BlobKind::Volatile, out), LoadStatus::Loaded) << fresh.last_error();
  EXPECT_EQ(out, pattern(901, 2));
  EXPECT_EQ(fresh.generation(BlobKind::Volatile), 2u);
}

// Records what the store tells its observer; `refuse_before` makes the next announcement fail.
struct RecordingObserver final : WriteObserver {
  struct Call {
    bool before;
    BlobKind kind;
    uint64_t generation;
    Digest sha;
  };
  bool before_write(BlobKind kind, uint64_t generation, const Digest& sha) override {
    calls.push_back({true, kind, generation, sha});
    return !refuse_before;
  }
  bool after_write(BlobKind kind, uint64_t generation, const Digest& sha) override {
    calls.push_back({false, kind, generation, sha});
    return true;
  }
  std::vector<Call> calls;
  bool refuse_before = false;
};

Digest sha256_of(const std::vector<uint8_t>& data) {
  Digest d{};
  OpensslCrypto c;
  EXPECT_TRUE(c.sha256(Bytes(data.data(), data.size()), d.data()));
  return d;
}

TEST_F(Store, ObserverHearsEveryDurableWriteBeforeAndAfter) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "6b29fc40-ca47-1067-b31d-00dd010662da");
  std::string err;
  ASSERT_TRUE(s.set_key(key, err)) << err;
  RecordingObserver seen;
  s.set_observer(&seen);
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(700, 1)));
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(700, 1)));  // already durable: no write, no report
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(701, 2)));
  ASSERT_EQ(seen.calls.size(), 4u);
  const uint64_t gens[] = {1, 1, 2, 2};
  const Digest shas[] = {sha256_of(pattern(700, 1)), sha256_of(pattern(700, 1)),
                         sha256_of(pattern(701, 2)), sha256_of(pattern(701, 2))};
  for (size_t i = 0; i < 4; i++) {
    SCOPED_TRACE(i);
    EXPECT_EQ(seen.calls[i].before, i % 2 == 0);
    EXPECT_EQ(seen.calls[i].kind, BlobKind::Permanent);
    EXPECT_EQ(seen.calls[i].generation, gens[i]);
    EXPECT_EQ(seen.calls[i].sha, shas[i]);
  }
  Digest d{};
  ASSERT_TRUE(s.durable_digest(BlobKind::Permanent, d));
  EXPECT_EQ(d, sha256_of(pattern(701, 2)));

  // An announcement the observer refuses fails the write, and nothing changes on disk.
  seen.refuse_before = true;
  EXPECT_FALSE(put(s, BlobKind::Permanent, pattern(702, 3)));
  EXPECT_NE(s.last_error().find("not announced to the manager"), std::string::npos) << s.last_error();
  ASSERT_TRUE(s.compact()) << s.last_error();
  StateStore fresh(dir, TpmVersion::Tpm2, crypto, "6b29fc40-ca47-1067-b31d-00dd010662da");
  ASSERT_TRUE(fresh.set_key(key, err));
  std::vector<uint8_t> out;
  ASSERT_EQ(fresh.load(BlobKind::Permanent, out), LoadStatus::Loaded) << fresh.last_error();
  EXPECT_EQ(out, pattern(701, 2));
  EXPECT_EQ(fresh.generation(BlobKind::Permanent), 2u);
  ASSERT_TRUE(fresh.durable_digest(BlobKind::Permanent, d));
  EXPECT_EQ(d, sha256_of(pattern(701, 2)));
}

TEST_F(Store, SealedFileMovedToAnotherNameOrInstanceFails) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm-a");
  std::string err;
  ASSERT_TRUE(s.set_key(key, err));
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(300, 7)));
  ASSERT_TRUE(s.compact()) << s.last_error();
  // Type swap: permall copied over volatilestate.
  ASSERT_TRUE(write_path(tmp.file("tpm2-00.volatilestate"), read_path(tmp.file("tpm2-00.permall"))));
  std::vector<uint8_t> out;
  // The tag fails, which a wrong key cannot be told apart from (swtpm: TPM_DECRYPT_ERROR).
  EXPECT_EQ(s.load(BlobKind::Volatile, out), LoadStatus::WrongKey);
  EXPECT_TRUE(out.empty());
  EXPECT_NE(s.last_error().find("state file tpm2-00.volatilestate: AES-256-GCM authentication failed"),
            std::string::npos)
      << s.last_error();
  // Identity swap: the same directory opened as another instance.
  StateStore other(dir, TpmVersion::Tpm2, crypto, "vm-b");
  ASSERT_TRUE(other.set_key(key, err));
  EXPECT_EQ(other.load(BlobKind::Permanent, out), LoadStatus::WrongKey);
  // TPM version swap.
  ASSERT_TRUE(write_path(tmp.file("tpm-00.permall"), read_path(tmp.file("tpm2-00.permall"))));
  StateStore t12(dir, TpmVersion::Tpm12, crypto, "vm-a");
  ASSERT_TRUE(t12.set_key(key, err));
  EXPECT_EQ(t12.load(BlobKind::Permanent, out), LoadStatus::WrongKey);
  // The owner still reads it.
  EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
}

TEST_F(Store, KeyPolicyFailsClosed) {
  StateStore plain(dir, TpmVersion::Tpm2, crypto, "");
  ASSERT_TRUE(put(plain, BlobKind::Permanent, pattern(40, 1)));
  ASSERT_TRUE(plain.compact()) << plain.last_error();
  StateStore keyed(dir, TpmVersion::Tpm2, crypto, "");
  std::string err;
  ASSERT_TRUE(keyed.set_key(key, err));
  std::vector<uint8_t> out;
  EXPECT_EQ(keyed.load(BlobKind::Permanent, out), LoadStatus::Failed);
  EXPECT_NE(keyed.last_error().find("not encrypted, but a key was given"), std::string::npos);
  ASSERT_TRUE(put(keyed, BlobKind::Permanent, pattern(40, 1)));
  ASSERT_TRUE(keyed.compact()) << keyed.last_error();
  EXPECT_EQ(plain.load(BlobKind::Permanent, out), LoadStatus::Failed);
  EXPECT_NE(plain.last_error().find("no key was given"), std::string::npos) << plain.last_error();
}

TEST_F(Store, DamagedFilesFailAndStayByteIdentical) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "vm-a");
  std::string err;
  ASSERT_TRUE(s.set_key(key, err));
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(24, 3)));
  ASSERT_TRUE(s.compact()) << s.last_error();
  const std::string path = tmp.file("tpm2-00.permall");
  const auto good = read_path(path);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= static_cast<uint8_t>(0x80u >> (i % 8));
    ASSERT_TRUE(write_path(path, bad));
    // Failed (layout), WrongKey (the tag) or WrongKeySize (the key-size byte): never loaded.
    EXPECT_TRUE(engine::load_failed(s.load(BlobKind::Permanent, out))) << "byte " << i;
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(s.last_error().rfind("state file tpm2-00.permall: ", 0), 0u) << s.last_error();
    EXPECT_EQ(read_path(path), bad) << "load changed the file at byte " << i;
  }
  for (size_t n = 0; n < good.size(); n += 5) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    ASSERT_TRUE(write_path(path, cut));
    EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed) << n;
    EXPECT_EQ(read_path(path), cut);
  }
  ASSERT_TRUE(write_path(path, std::vector<uint8_t>(good.begin(), good.end() - 1)));
  EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed);
  EXPECT_EQ(s.last_error(), "state file tpm2-00.permall: header says the blob has " +
                                std::to_string(good.size()) + " bytes, but it has " +
                                std::to_string(good.size() - 1) + " (truncated or extended)");
}

// What the engine hands libtpms (and a TPM 1.2 CMD_INIT answers) for each decode error.
TEST(LoadStatusOf, MapsAsSwtpmsNvramLoad) {
  EXPECT_EQ(load_status_of(BlobError::None, true), LoadStatus::Loaded);
  EXPECT_EQ(load_status_of(BlobError::KeyMismatch, true), LoadStatus::WrongKeySize);
  EXPECT_EQ(load_status_of(BlobError::Integrity, true), LoadStatus::WrongKey);
  EXPECT_EQ(load_status_of(BlobError::Integrity, false), LoadStatus::Failed);  // plain SHA-256
  for (BlobError e : {BlobError::Malformed, BlobError::BadVersion, BlobError::KeyMissing,
                      BlobError::NotEncrypted, BlobError::Internal}) {
    EXPECT_EQ(load_status_of(e, true), LoadStatus::Failed) << blob_error_name(e);
    EXPECT_EQ(load_status_of(e, false), LoadStatus::Failed) << blob_error_name(e);
  }
}

// Files of both encrypted formats, opened with a wrong key of the same size and with a key of
// the other size: WrongKey / WrongKeySize, the store's sentence, the file left as it was.
TEST_F(Store, WrongKeyAndOtherKeySizeAreTold) {
  const auto k256 = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const auto wrong128 = from_hex("ffeeddccbbaa99887766554433221100");
  struct Case {
    const char* name;
    bool swtpm_cbc;
    std::vector<uint8_t> write_key;
  };
  const Case cases[] = {{"gcm-128", false, from_hex("00112233445566778899aabbccddeeff")},
                        {"gcm-256", false, k256},
                        {"swtpm-cbc-128", true, from_hex("00112233445566778899aabbccddeeff")},
                        {"swtpm-cbc-256", true, k256}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = tmp.file("tpm-00.permall");
    const auto plain = pattern(200, 6);
    std::string err;
    if (c.swtpm_cbc) {
      std::vector<uint8_t> file;
      ASSERT_TRUE(encode_swtpm_encrypted_file(crypto, c.write_key, plain, file, err)) << err;
      ASSERT_TRUE(write_path(path, file));
    } else {
      StateStore w(dir, TpmVersion::Tpm12, crypto, "");
      SecretKey k;
      k.assign(c.write_key.data(), c.write_key.size());
      ASSERT_TRUE(w.set_key(k, err)) << err;
      ASSERT_TRUE(put(w, BlobKind::Permanent, plain)) << w.last_error();
      ASSERT_TRUE(w.compact()) << w.last_error();
      dir.unlock();
    }
    const auto before = read_path(path);
    const bool was128 = c.write_key.size() == 16;
    // Same size, other bytes; and the other size.
    auto same_size = was128 ? wrong128 : k256;
    if (!was128) same_size[0] ^= 0xff;
    const auto other_size = was128 ? k256 : wrong128;
    std::vector<uint8_t> out;
    {
      StateStore r(dir, TpmVersion::Tpm12, crypto, "");
      SecretKey k;
      k.assign(same_size.data(), same_size.size());
      ASSERT_TRUE(r.set_key(k, err)) << err;
      EXPECT_EQ(r.load(BlobKind::Permanent, out), LoadStatus::WrongKey) << r.last_error();
      EXPECT_TRUE(out.empty());
      EXPECT_EQ(r.last_error().rfind("state file tpm-00.permall: ", 0), 0u) << r.last_error();
      EXPECT_NE(r.last_error().find(c.swtpm_cbc ? "HMAC does not verify" : "authentication failed"),
                std::string::npos)
          << r.last_error();
      dir.unlock();
    }
    {
      StateStore r(dir, TpmVersion::Tpm12, crypto, "");
      SecretKey k;
      k.assign(other_size.data(), other_size.size());
      ASSERT_TRUE(r.set_key(k, err)) << err;
      EXPECT_EQ(r.load(BlobKind::Permanent, out), LoadStatus::WrongKeySize) << r.last_error();
      EXPECT_TRUE(out.empty());
      EXPECT_EQ(r.last_error(), std::string("state file tpm-00.permall: encrypted with a ") +
                                    (was128 ? "128" : "256") + "-bit key, but the given key has " +
                                    (was128 ? "256" : "128") + " bits");
      dir.unlock();
    }
    {
      StateStore r(dir, TpmVersion::Tpm12, crypto, "");  // no key: Failed, as swtpm's TPM_FAIL
      EXPECT_EQ(r.load(BlobKind::Permanent, out), LoadStatus::Failed) << r.last_error();
      dir.unlock();
    }
    EXPECT_EQ(read_path(path), before);
    StateStore ok(dir, TpmVersion::Tpm12, crypto, "");
    SecretKey k;
    k.assign(c.write_key.data(), c.write_key.size());
    ASSERT_TRUE(ok.set_key(k, err)) << err;
    ASSERT_EQ(ok.load(BlobKind::Permanent, out), LoadStatus::Loaded) << ok.last_error();
    EXPECT_EQ(out, plain);
    dir.unlock();
    ASSERT_EQ(::unlink(path.c_str()), 0);
  }
}

// A plain file and a key: refused (no downgrade), with swtpm's code: a 256-bit key is the wrong
// size for a file without the 256-bit flag (swtpm: 0x28), a 128-bit key finds no MAC (0x09).
TEST_F(Store, PlainFileWithKeyIsRefusedWithSwtpmsCode) {
  for (bool checked : {true, false}) {
    SCOPED_TRACE(checked ? "vtpmd's checked plain file" : "swtpm's plain file");
    const std::string path = tmp.file("tpm-00.permall");
    std::vector<uint8_t> file;
    std::string err;
    if (checked) {
      ASSERT_TRUE(encode_checked_plain_file(crypto, pattern(50, 8), nullptr, file, err)) << err;
    } else {
      encode_plain_file(pattern(50, 8), file);
    }
    ASSERT_TRUE(write_path(path, file));
    std::vector<uint8_t> out;
    {
      StateStore r(dir, TpmVersion::Tpm12, crypto, "");
      ASSERT_TRUE(r.set_key(key, err)) << err;  // 128 bits
      EXPECT_EQ(r.load(BlobKind::Permanent, out), LoadStatus::Failed);
      EXPECT_NE(r.last_error().find("not encrypted, but a key was given"), std::string::npos)
          << r.last_error();
    }
    {
      StateStore r(dir, TpmVersion::Tpm12, crypto, "");
      SecretKey k256;
      const auto raw = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
      k256.assign(raw.data(), raw.size());
      ASSERT_TRUE(r.set_key(k256, err)) << err;
      EXPECT_EQ(r.load(BlobKind::Permanent, out), LoadStatus::WrongKeySize);
      EXPECT_TRUE(out.empty());
      EXPECT_NE(r.last_error().find("not encrypted, but a key was given"), std::string::npos)
          << r.last_error();
    }
    EXPECT_EQ(read_path(path), file);
    StateStore plain(dir, TpmVersion::Tpm12, crypto, "");
    ASSERT_EQ(plain.load(BlobKind::Permanent, out), LoadStatus::Loaded) << plain.last_error();
    EXPECT_EQ(out, pattern(50, 8));
    ASSERT_EQ(::unlink(path.c_str()), 0);
  }
}

TEST_F(Store, DamagedPlainFilesWeWroteFailAndStayByteIdentical) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "");
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(64, 3)));
  ASSERT_TRUE(s.compact()) << s.last_error();
  const std::string path = tmp.file("tpm2-00.permall");
  const auto good = read_path(path);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[i] ^= static_cast<uint8_t>(1u << bit);
      ASSERT_TRUE(write_path(path, bad));
      ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed) << i << "/" << bit;
      EXPECT_TRUE(out.empty());
      EXPECT_EQ(s.last_error().rfind("state file tpm2-00.permall: ", 0), 0u) << s.last_error();
      EXPECT_EQ(read_path(path), bad) << "load changed the file at byte " << i;
    }
  }
  for (size_t n = 0; n < good.size(); ++n) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    ASSERT_TRUE(write_path(path, cut));
    EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed) << n;
    EXPECT_EQ(read_path(path), cut);
  }
  auto bad = good;
  bad[30] ^= 0x10;  // inside the libtpms payload
  ASSERT_TRUE(write_path(path, bad));
  EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed);
  EXPECT_EQ(s.last_error(),
            "state file tpm2-00.permall: SHA-256 of the data does not match (the file is damaged)");
  ASSERT_TRUE(write_path(path, good));
  ASSERT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Loaded) << s.last_error();
  EXPECT_EQ(out, pattern(64, 3));
}

TEST_F(Store, RemoveAndList) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "");
  EXPECT_TRUE(s.remove(BlobKind::Volatile, false));
  EXPECT_FALSE(s.remove(BlobKind::Volatile, true));
  EXPECT_EQ(s.last_error(), "tpm2-00.volatilestate does not exist");
  ASSERT_TRUE(put(s, BlobKind::Permanent, pattern(100, 1)));
  ASSERT_TRUE(put(s, BlobKind::Volatile, pattern(50, 1)));
  std::vector<StoredBlob> blobs;
  std::string err;
  ASSERT_TRUE(s.list(blobs, err)) << err;
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0].label, "permall");
  EXPECT_EQ(blobs[0].name, "tpm2-00.permall");
  EXPECT_EQ(blobs[0].file_size, 116u + 38);  // swtpm: 116, plus the SHA-256 TLV
  EXPECT_EQ(blobs[1].label, "volatilestate");
  EXPECT_EQ(blobs[1].file_size, 66u + 38);
  EXPECT_TRUE(s.remove(BlobKind::Volatile, true));
  ASSERT_TRUE(s.list(blobs, err));
  EXPECT_EQ(blobs.size(), 1u);
}

TEST_F(Store, LockedByAnotherProcessFailsWithReason) {
  StateDir d;
  HoldingChild holder([&] {
    std::string e;
    return d.open(tmp.path(), 0600, e) && d.lock(e);
  });
  ASSERT_TRUE(holder.ready());
  StateStore s(dir, TpmVersion::Tpm2, crypto, "");
  std::vector<uint8_t> out;
  EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Failed);
  EXPECT_NE(s.last_error().find("is locked by another process"), std::string::npos)
      << s.last_error();
  EXPECT_FALSE(put(s, BlobKind::Permanent, pattern(4, 1)));
  ASSERT_TRUE(holder.release());
  EXPECT_EQ(s.load(BlobKind::Permanent, out), LoadStatus::Absent) << s.last_error();
}

TEST_F(Store, MigrationBlobResultCodes) {
  StateStore s(dir, TpmVersion::Tpm2, crypto, "");
  const std::vector<uint8_t> mk = from_hex("0f0e0d0c0b0a09080706050403020100");
  const std::vector<uint8_t> other = from_hex("1f0e0d0c0b0a09080706050403020100");
  std::vector<uint8_t> blob, plain;
  std::string err;
  ASSERT_TRUE(s.encode_migration_blob(BlobKind::Permanent, pattern(64, 1), mk, blob, err)) << err;
  EXPECT_EQ(s.decode_migration_blob(BlobKind::Permanent, blob.data(),
                                    static_cast<uint32_t>(blob.size()), mk, plain, err),
            0u)
      << err;
  EXPECT_EQ(plain, pattern(64, 1));
  EXPECT_EQ(s.decode_migration_blob(BlobKind::Permanent, blob.data(),
                                    static_cast<uint32_t>(blob.size()), other, plain, err),
            0x21u);  // TPM_DECRYPT_ERROR, as swtpm
  EXPECT_EQ(err.rfind("permall blob: HMAC does not verify", 0), 0u) << err;
  EXPECT_EQ(s.decode_migration_blob(BlobKind::Volatile, blob.data(),
                                    static_cast<uint32_t>(blob.size()), {}, plain, err),
            0x0du);  // TPM_KEYNOTFOUND
  EXPECT_EQ(s.decode_migration_blob(BlobKind::Volatile, blob.data(), 9, {}, plain, err), 0x03u);
}

}  // namespace
}  // namespace vtpm::store
