// The manager's record files against runtime/manager/README.md "Record files": layouts checked byte by byte from
// the design (the plaintext and header bytes are written out here, the slot is opened with the
// key HKDF'd here), every truncation and bit flip refused without yielding a table, the A/B
// acceptance rule, and a write stopped at every point leaving the previous file loadable.
#include "manager/records.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "store/openssl_crypto.h"
#include "store/store_test_support.h"
#include "wire/big_endian.h"

namespace vtpm::manager {
namespace {

using store::Bytes;
using store::OpensslCrypto;
using store::testing::TempDir;

std::vector<uint8_t> hex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < s.size();) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    } else if (s[i] == '*') {
      const size_t colon = s.find(':', i);
      const size_t n = std::stoul(s.substr(i + 1, colon - i - 1));
      out.insert(out.end(), n, static_cast<uint8_t>(std::stoul(s.substr(colon + 1, 2), nullptr, 16)));
      i = colon + 3;
    } else {
      out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

std::vector<uint8_t> ascii_hex(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

class Records : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = hex("*32:07");
    std::string err;
    ASSERT_TRUE(derive_record_keys(crypto_, root_, keys_, err)) << err;
    ASSERT_FALSE(dir_.path().empty());
    dir_fd_ = ::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir_fd_, 0);
  }
  void TearDown() override {
    if (dir_fd_ >= 0) ::close(dir_fd_);
  }

  // One group and two records, one with a Xen blob; the same table for the same seed (the
  // wrapped keys' nonces are random, so each seed's table is made once).
  Table sample(uint8_t seed = 1) {
    auto it = samples_.find(seed);
    if (it == samples_.end()) it = samples_.emplace(seed, make_sample(seed)).first;
    return it->second;
  }
  Table make_sample(uint8_t seed) {
    Table t;
    Group g;
    g.name = "g1";
    g.spki = {0x30, 0x03, 0x02, 0x01, seed};
    g.approval_seq = 4;
    g.nv_index = 0x01500200;
    g.sealed = {1, 2, 3, seed};
    g.approval = {'V', seed};
    t.groups.push_back(g);
    Record r;
    r.uuid.fill(0x10);
    r.owner_uid = 1000;
    r.group = "g1";
    r.state = RecordState::Saved;
    r.generation = 3;
    r.digest.fill(0xd1);
    r.prepared_generation = 4;
    r.prepared_digest.fill(0xd2);
    r.created_seq = 9;
    std::string err;
    const auto key = hex("*32:4b");
    EXPECT_TRUE(wrap_instance_key(crypto_, keys_.wrap, r, key, r.wrapped, err)) << err;
    r.xen_blob.size = 52;
    r.xen_blob.bytes.fill(0);
    for (size_t i = 0; i < 52; ++i) r.xen_blob.bytes[i] = static_cast<uint8_t>(seed + i);
    t.records.push_back(r);
    r.uuid.fill(0x20);
    r.group = "";
    r.state = RecordState::Created;
    r.xen_blob = XenBlob();
    EXPECT_TRUE(wrap_instance_key(crypto_, keys_.wrap, r, key, r.wrapped, err)) << err;
    t.records.push_back(r);
    return t;
  }

  std::vector<uint8_t> slot(const Table& t, uint64_t counter, uint64_t seq,
                            const store::SecretKey* key = nullptr) {
    std::vector<uint8_t> out;
    std::string err;
    EXPECT_TRUE(encode_slot(crypto_, t, counter, seq, key ? *key : keys_.records, out, err)) << err;
    return out;
  }

  void put(const char* name, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(store::testing::write_path(dir_.file(name), bytes));
  }

  Header sample_header() {
    Header h;
    h.srk_name = hex("000b *32:ab");
    h.template_kind = 1;
    h.nv_index = 0x01500100;
    h.sealed_root = hex("0004 01020304 0003 050607");
    h.pcr_mask = 0x00000081;
    return h;
  }

  OpensslCrypto crypto_;
  std::vector<uint8_t> root_;
  RecordKeys keys_;
  TempDir dir_;
  int dir_fd_ = -1;
  std::map<uint8_t, Table> samples_;
};

TEST_F(Records, SlotLayoutIsTheDesignsOne) {
  Table t;
  Group g;
  g.name = "ab";
  g.spki = {0x30, 0x00};
  g.approval_seq = 5;
  t.groups.push_back(g);
  Record r;
  r.uuid.fill(0x11);
  r.owner_uid = 0x3e8;
  r.group = "ab";
  r.state = RecordState::Retired;
  r.generation = 2;
  r.digest.fill(0x22);
  r.prepared_generation = 3;
  r.prepared_digest.fill(0x33);
  r.wrapped.nonce.fill(0x44);
  r.wrapped.ct.fill(0x55);
  r.wrapped.tag.fill(0x66);
  r.created_seq = 7;
  r.xen_blob.size = 2;
  r.xen_blob.bytes[0] = 0xaa;
  r.xen_blob.bytes[1] = 0xbb;
  t.records.push_back(r);
  const auto plain = hex(
      "00000001 00000002 6162 00000002 3000 0000000000000005 00000000 00000000 00000000 "
      "00000001 *16:11 000003e8 00000002 6162 03 0000000000000002 *32:22 0000000000000003 *32:33 "
      "*12:44 *32:55 *16:66 0000000000000007 0002 aabb");

  std::vector<uint8_t> got;
  std::string err;
  ASSERT_TRUE(encode_table(t, got, err)) << err;
  EXPECT_EQ(got, plain);

  const auto file = slot(t, 0x0102030405060708, 0x1112131415161718);
  ASSERT_EQ(file.size(), 42 + plain.size() + 16);
  auto prefix = ascii_hex("VTPMMGRR");
  const auto rest = hex("0001 0102030405060708 1112131415161718");
  prefix.insert(prefix.end(), rest.begin(), rest.end());
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), file.begin()));
  EXPECT_EQ(wire::get_be32(&file[38]), plain.size());

  // open it with the key derived here from the design's info string
  const std::string info = "vtpm-manager records v1";
  uint8_t key[32];
  ASSERT_TRUE(crypto_.hkdf_sha256(root_, Bytes(reinterpret_cast<const uint8_t*>(info.data()), info.size()),
                                  key, 32));
  std::vector<uint8_t> opened(plain.size());
  ASSERT_TRUE(crypto_.gcm_open(Bytes(key, 32), Bytes(&file[26], 12), Bytes(file.data(), 42),
                               Bytes(&file[42], plain.size()), Bytes(&file[42 + plain.size()], 16),
                               opened.data()));
  EXPECT_EQ(opened, plain);
}

TEST_F(Records, SlotRoundTrips) {
  const Table t = sample();
  const auto file = slot(t, 41, 77);
  Table back;
  uint64_t counter = 0, seq = 0;
  std::string err;
  ASSERT_EQ(decode_slot(crypto_, file, keys_.records, back, counter, seq, err), RecordError::None) << err;
  EXPECT_EQ(back, t);
  EXPECT_EQ(counter, 41u);
  EXPECT_EQ(seq, 77u);
  // an empty table too
  const auto empty = slot(Table(), 1, 1);
  ASSERT_EQ(decode_slot(crypto_, empty, keys_.records, back, counter, seq, err), RecordError::None) << err;
  EXPECT_TRUE(back.groups.empty() && back.records.empty());
}

TEST_F(Records, InstanceKeysUnwrapOnlyInTheirRecord) {
  Table t = sample();
  store::SecretKey k;
  std::string err;
  ASSERT_EQ(unwrap_instance_key(crypto_, keys_.wrap, t.records[0], k, err), RecordError::None) << err;
  EXPECT_EQ(std::vector<uint8_t>(k.data(), k.data() + k.size()), hex("*32:4b"));

  // the AAD is uuid ‖ group ‖ be64 created_seq, computed here
  std::vector<uint8_t> aad(t.records[0].uuid.begin(), t.records[0].uuid.end());
  aad.push_back('g');
  aad.push_back('1');
  const auto seq = hex("0000000000000009");
  aad.insert(aad.end(), seq.begin(), seq.end());
  const std::string info = "vtpm-manager instance key v1";
  uint8_t wk[32], plain[32];
  ASSERT_TRUE(crypto_.hkdf_sha256(root_, Bytes(reinterpret_cast<const uint8_t*>(info.data()), info.size()),
                                  wk, 32));
  const WrappedKey& w = t.records[0].wrapped;
  EXPECT_TRUE(crypto_.gcm_open(Bytes(wk, 32), Bytes(w.nonce), aad, Bytes(w.ct), Bytes(w.tag), plain));

  Record moved = t.records[0];
  moved.uuid[0] ^= 1;
  EXPECT_EQ(unwrap_instance_key(crypto_, keys_.wrap, moved, k, err), RecordError::NotAuthentic);
  moved = t.records[0];
  moved.group = "g2";
  EXPECT_EQ(unwrap_instance_key(crypto_, keys_.wrap, moved, k, err), RecordError::NotAuthentic);
  moved = t.records[0];
  moved.created_seq = 10;
  EXPECT_EQ(unwrap_instance_key(crypto_, keys_.wrap, moved, k, err), RecordError::NotAuthentic);
  EXPECT_EQ(unwrap_instance_key(crypto_, keys_.records, t.records[0], k, err), RecordError::NotAuthentic);
}

// Every prefix and every single-bit change of a slot is refused, and the output is untouched.
TEST_F(Records, EveryTruncationAndBitFlipOfASlotIsRefused) {
  const auto file = slot(sample(), 5, 6);
  const Table sentinel = sample(9);
  auto refused = [&](const std::vector<uint8_t>& b, const std::string& what) {
    Table out = sentinel;
    uint64_t counter = 123, seq = 456;
    std::string err;
    const RecordError e = decode_slot(crypto_, b, keys_.records, out, counter, seq, err);
    EXPECT_NE(e, RecordError::None) << what;
    EXPECT_FALSE(err.empty()) << what;
    EXPECT_EQ(out, sentinel) << what;
    EXPECT_EQ(counter, 123u) << what;
    EXPECT_EQ(seq, 456u) << what;
  };
  for (size_t k = 0; k < file.size(); ++k) {
    refused(std::vector<uint8_t>(file.begin(), file.begin() + static_cast<long>(k)), "cut at " + std::to_string(k));
  }
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto b = file;
      b[i] ^= static_cast<uint8_t>(1u << bit);
      refused(b, "bit " + std::to_string(bit) + " of byte " + std::to_string(i));
    }
  }
  auto longer = file;
  longer.push_back(0);
  refused(longer, "one byte more");
}

TEST_F(Records, SlotFieldErrorsAreNamed) {
  const auto file = slot(sample(), 5, 6);
  Table out;
  uint64_t c = 0, s = 0;
  std::string err;
  auto b = file;
  b[0] = 'X';
  EXPECT_EQ(decode_slot(crypto_, b, keys_.records, out, c, s, err), RecordError::BadMagic);
  b = file;
  b[9] = 2;
  EXPECT_EQ(decode_slot(crypto_, b, keys_.records, out, c, s, err), RecordError::BadVersion);
  b = file;
  b[41] ^= 1;  // ct_len one off (it is even: sample's plaintext)
  const RecordError e = decode_slot(crypto_, b, keys_.records, out, c, s, err);
  EXPECT_TRUE(e == RecordError::Truncated || e == RecordError::TrailingBytes) << record_error_name(e);
  b = file;
  b[12] ^= 1;  // the counter is in the AAD
  EXPECT_EQ(decode_slot(crypto_, b, keys_.records, out, c, s, err), RecordError::NotAuthentic);
  RecordKeys other;
  ASSERT_TRUE(derive_record_keys(crypto_, hex("*32:08"), other, err));
  EXPECT_EQ(decode_slot(crypto_, file, other.records, out, c, s, err), RecordError::NotAuthentic);
  EXPECT_EQ(decode_slot(crypto_, file, keys_.wrap, out, c, s, err), RecordError::NotAuthentic);
}

// Plaintexts that decrypt but do not parse: sealed here by hand, so the parser sees them.
TEST_F(Records, AuthenticButBadTablesAreRefused) {
  const std::string rec_tail =
      "0000000000000002 *32:22 0000000000000003 *32:33 *12:44 *32:55 *16:66 0000000000000007 ";
  struct Bad {
    const char* name;
    std::string plain;
    RecordError want;
  };
  const std::vector<Bad> cases = {
      {"dup_uuid", "00000000 00000002 *16:11 00000001 00000000 01 " + rec_tail + "0000 *16:11 00000001 00000000 01 " + rec_tail + "0000",
       RecordError::Duplicate},
      {"dup_group", "00000002 00000001 61 00000000 0000000000000000 00000000 00000000 00000000 00000001 61 00000000 0000000000000000 00000000 00000000 00000000 00000000",
       RecordError::Duplicate},
      {"state0", "00000000 00000001 *16:11 00000001 00000000 00 " + rec_tail + "0000", RecordError::BadState},
      {"state4", "00000000 00000001 *16:11 00000001 00000000 04 " + rec_tail + "0000", RecordError::BadState},
      {"xen65", "00000000 00000001 *16:11 00000001 00000000 01 " + rec_tail + "0041 *65:01", RecordError::FieldTooLong},
      {"group65", "00000001 00000041 *65:61 00000000 0000000000000000 00000000 00000000 00000000 00000000", RecordError::FieldTooLong},
      {"spki601", "00000001 00000001 61 00000259 *601:30 0000000000000000 00000000 00000000 00000000 00000000", RecordError::FieldTooLong},
      {"sealed1025", "00000001 00000001 61 00000000 0000000000000000 01500200 00000401 *1025:00 00000000 00000000", RecordError::FieldTooLong},
      {"approval1025", "00000001 00000001 61 00000000 0000000000000000 01500200 00000000 00000401 *1025:00 00000000", RecordError::FieldTooLong},
      {"rec_group65", "00000000 00000001 *16:11 00000001 00000041 *65:61 01 " + rec_tail + "0000",
       RecordError::FieldTooLong},
      {"trailing", "00000000 00000000 00", RecordError::TrailingBytes},
      {"n_groups_huge", "7fffffff 00000000", RecordError::Truncated},
      {"n_records_huge", "00000000 00010000", RecordError::Truncated},
      {"xen_overrun", "00000000 00000001 *16:11 00000001 00000000 01 " + rec_tail + "0010 0102", RecordError::Truncated},
  };
  for (const Bad& c : cases) {
    const auto plain = hex(c.plain);
    Table t;
    std::string err;
    EXPECT_EQ(decode_table(plain, t, err), c.want) << c.name << ": " << err;
    std::vector<uint8_t> file = ascii_hex("VTPMMGRR");
    const auto hdr = hex("0001 0000000000000001 0000000000000001 *12:00");
    file.insert(file.end(), hdr.begin(), hdr.end());
    file.resize(42 + plain.size() + 16);
    wire::put_be32(&file[38], static_cast<uint32_t>(plain.size()));
    ASSERT_TRUE(crypto_.gcm_seal(keys_.records.span(), Bytes(&file[26], 12), Bytes(file.data(), 42), plain,
                                 &file[42], &file[42 + plain.size()]));
    uint64_t counter = 0, seq = 0;
    const Table sentinel = sample();
    t = sentinel;
    EXPECT_EQ(decode_slot(crypto_, file, keys_.records, t, counter, seq, err), c.want) << c.name << ": " << err;
    EXPECT_EQ(t, sentinel) << c.name;
  }
  // and the encoder refuses to write what would not load
  Table t = sample();
  t.records.push_back(t.records[0]);
  std::vector<uint8_t> out;
  std::string err;
  EXPECT_FALSE(encode_slot(crypto_, t, 1, 1, keys_.records, out, err));
  EXPECT_TRUE(out.empty());
}

TEST_F(Records, HeaderLayoutAndRoundTrip) {
  const Header h = sample_header();
  std::vector<uint8_t> file;
  std::string err;
  ASSERT_TRUE(encode_header(crypto_, h, file, err)) << err;
  auto want = ascii_hex("VTPMMGRH");
  const auto body = hex("0001 0022 000b *32:ab 01 01500100 0000000b 0004 01020304 0003 050607 00000081");
  want.insert(want.end(), body.begin(), body.end());
  uint8_t d[32];
  ASSERT_TRUE(crypto_.sha256(want, d));
  want.insert(want.end(), d, d + 32);
  EXPECT_EQ(file, want);
  Header back;
  ASSERT_EQ(parse_header(crypto_, file, back, err), RecordError::None) << err;
  EXPECT_EQ(back, h);
}

TEST_F(Records, EveryTruncationAndBitFlipOfTheHeaderIsRefused) {
  std::vector<uint8_t> file;
  std::string err;
  ASSERT_TRUE(encode_header(crypto_, sample_header(), file, err));
  Header sentinel = sample_header();
  sentinel.pcr_mask = 0xdead;
  auto refused = [&](const std::vector<uint8_t>& b, const std::string& what) {
    Header out = sentinel;
    std::string e;
    EXPECT_NE(parse_header(crypto_, b, out, e), RecordError::None) << what;
    EXPECT_FALSE(e.empty()) << what;
    EXPECT_EQ(out, sentinel) << what;
  };
  for (size_t k = 0; k < file.size(); ++k) {
    refused(std::vector<uint8_t>(file.begin(), file.begin() + static_cast<long>(k)), "cut at " + std::to_string(k));
  }
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto b = file;
      b[i] ^= static_cast<uint8_t>(1u << bit);
      refused(b, "bit " + std::to_string(bit) + " of byte " + std::to_string(i));
    }
  }
}

// The recovery file: its layout, a round trip, the key it is bound to, every truncation and
// every bit flip refused with nothing given out.
TEST_F(Records, TheRecoveryFileOpensOnlyWithItsKeyAndWhole) {
  std::string err;
  const auto root = hex("*32:41");
  store::SecretKey recovery, other;
  ASSERT_TRUE(derive_recovery_key(crypto_, root, recovery, err)) << err;
  ASSERT_EQ(recovery.size(), 32u);
  uint8_t expect[32];
  const char info[] = "vtpm-manager recovery v1";
  ASSERT_TRUE(crypto_.hkdf_sha256(root, store::Bytes(reinterpret_cast<const uint8_t*>(info), sizeof info - 1), expect, 32));
  EXPECT_EQ(std::vector<uint8_t>(recovery.data(), recovery.data() + 32), std::vector<uint8_t>(expect, expect + 32));
  const auto secret = hex("*32:41 *32:42");
  std::vector<uint8_t> file;
  ASSERT_TRUE(encode_recovery(crypto_, recovery, secret, file, err)) << err;
  ASSERT_EQ(file.size(), 10u + 12 + 64 + 16);
  EXPECT_EQ(std::vector<uint8_t>(file.begin(), file.begin() + 10), hex("56 54 50 4d 4d 47 52 4b 0001"));
  store::SecretKey out;
  ASSERT_EQ(decode_recovery(crypto_, file, recovery, out, err), RecordError::None) << err;
  EXPECT_EQ(std::vector<uint8_t>(out.data(), out.data() + out.size()), secret);
  ASSERT_TRUE(derive_recovery_key(crypto_, hex("*32:43"), other, err));
  store::SecretKey none;
  EXPECT_EQ(decode_recovery(crypto_, file, other, none, err), RecordError::NotAuthentic);
  EXPECT_TRUE(none.empty());
  for (size_t k = 0; k < file.size(); ++k) {
    store::SecretKey got;
    EXPECT_NE(decode_recovery(crypto_, std::vector<uint8_t>(file.begin(), file.begin() + static_cast<long>(k)), recovery, got, err),
              RecordError::None) << "cut at " << k;
    EXPECT_TRUE(got.empty());
  }
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto b = file;
      b[i] ^= static_cast<uint8_t>(1u << bit);
      store::SecretKey got;
      EXPECT_NE(decode_recovery(crypto_, b, recovery, got, err), RecordError::None) << "bit " << bit << " of byte " << i;
      EXPECT_TRUE(got.empty());
    }
  }
  auto longer = file;
  longer.push_back(0);
  store::SecretKey got;
  EXPECT_EQ(decode_recovery(crypto_, longer, recovery, got, err), RecordError::TrailingBytes);
}

// Header field errors behind a correct digest (re-digested here).
TEST_F(Records, HeaderFieldErrorsAreNamed) {
  auto with_digest = [&](const std::string& body_hex) {
    auto b = ascii_hex("VTPMMGRH");
    const auto body = hex(body_hex);
    b.insert(b.end(), body.begin(), body.end());
    uint8_t d[32];
    crypto_.sha256(b, d);
    b.insert(b.end(), d, d + 32);
    return b;
  };
  struct Bad {
    const char* name;
    std::string body;
    RecordError want;
  };
  const std::vector<Bad> cases = {
      {"version2", "0002 0002 000b 01 01500100 00000001 00 00000000", RecordError::BadVersion},
      {"kind3", "0001 0002 000b 03 01500100 00000001 00 00000000", RecordError::BadValue},
      {"kind0", "0001 0002 000b 00 01500100 00000001 00 00000000", RecordError::BadValue},
      {"index", "0001 0002 000b 01 81000001 00000001 00 00000000", RecordError::BadValue},
      {"name_empty", "0001 0000 01 01500100 00000001 00 00000000", RecordError::BadValue},
      {"sealed_empty", "0001 0002 000b 01 01500100 00000000 00000000", RecordError::BadValue},
      {"name67", "0001 0043 *67:00 01 01500100 00000001 00 00000000", RecordError::FieldTooLong},
      {"sealed2049", "0001 0002 000b 01 01500100 00000801 00000000", RecordError::FieldTooLong},
      {"name_overrun", "0001 0010 000b 01 01500100 00000001 00 00000000", RecordError::Truncated},
      {"sealed_overrun", "0001 0002 000b 01 01500100 00000009 00 00000000", RecordError::Truncated},
      {"trailing", "0001 0002 000b 01 01500100 00000001 00 00000000 00", RecordError::TrailingBytes},
      {"short", "0001 0002 000b 01 01500100 00000001 00 0000", RecordError::Truncated},
  };
  for (const Bad& c : cases) {
    Header out;
    std::string err;
    EXPECT_EQ(parse_header(crypto_, with_digest(c.body), out, err), c.want) << c.name << ": " << err;
    EXPECT_FALSE(err.empty());
  }
  Header ok;
  std::string err;
  EXPECT_EQ(parse_header(crypto_, with_digest("0001 0002 000b 02 01500100 00000001 00 00000000"), ok, err),
            RecordError::None)
      << err;
  auto b = with_digest("0001 0002 000b 02 01500100 00000001 00 00000000");
  b[0] = 'v';
  EXPECT_EQ(parse_header(crypto_, b, ok, err), RecordError::BadMagic);
}

struct LoadCase {
  const char* name;
  int64_t a_ctr, a_seq;  // -1: absent, -2: torn (cut in half), -3: sealed under another key
  int64_t b_ctr, b_seq;
  RecordError want;
  int slot;
  bool roll_forward;
};

TEST_F(Records, LoadSlotsAcceptanceRule) {
  constexpr uint64_t T = 10;
  const std::vector<LoadCase> cases = {
      {"a_at_T", 10, 1, -1, 0, RecordError::None, 0, false},
      {"b_at_T", -1, 0, 10, 1, RecordError::None, 1, false},
      {"higher_seq", 10, 5, 10, 6, RecordError::None, 1, false},
      {"higher_seq_a", 10, 7, 10, 6, RecordError::None, 0, false},
      {"tie_prefers_a", 10, 6, 10, 6, RecordError::None, 0, false},
      {"T_plus_1", 10, 9, 11, 1, RecordError::None, 1, true},
      {"T_plus_1_only", 11, 1, -1, 0, RecordError::None, 0, true},
      {"old_and_T", 9, 50, 10, 1, RecordError::None, 1, false},
      // a slot beyond T+1 is never written by the manager: the counter went back, trust neither
      {"ahead_and_T", 12, 1, 10, 1, RecordError::Ahead, -1, false},
      {"ahead_and_T_plus_1", 11, 4, 12, 1, RecordError::Ahead, -1, false},
      {"torn_a", -2, 0, 10, 3, RecordError::None, 1, false},
      {"torn_b", 10, 3, -2, 0, RecordError::None, 0, false},
      {"foreign_key_b", 10, 3, -3, 0, RecordError::None, 0, false},
      {"rollback", 9, 1, 8, 1, RecordError::Rollback, -1, false},
      {"rollback_torn", 9, 1, -2, 0, RecordError::Rollback, -1, false},
      {"ahead", 12, 1, -1, 0, RecordError::Ahead, -1, false},
      {"ahead_and_old", 12, 1, 9, 1, RecordError::Ahead, -1, false},
      {"none_valid", -2, 0, -3, 0, RecordError::Corrupt, -1, false},
      {"none", -1, 0, -1, 0, RecordError::NoSlots, -1, false},
  };
  RecordKeys other;
  std::string err;
  ASSERT_TRUE(derive_record_keys(crypto_, hex("*32:99"), other, err));
  for (const LoadCase& c : cases) {
    for (int i = 0; i < 2; ++i) ::unlinkat(dir_fd_, kSlotFiles[i], 0);
    const int64_t ctr[2] = {c.a_ctr, c.b_ctr}, seq[2] = {c.a_seq, c.b_seq};
    for (int i = 0; i < 2; ++i) {
      if (ctr[i] == -1) continue;
      std::vector<uint8_t> f;
      if (ctr[i] == -3) f = slot(sample(), T, 1, &other.records);
      else f = slot(sample(static_cast<uint8_t>(i + 1)), static_cast<uint64_t>(ctr[i] < 0 ? T : ctr[i]),
                    static_cast<uint64_t>(seq[i]));
      if (ctr[i] == -2) f.resize(f.size() / 2);
      put(kSlotFiles[i], f);
    }
    LoadedSlots got;
    err.clear();
    const RecordError e = load_slots(crypto_, dir_fd_, keys_.records, T, got, err);
    EXPECT_EQ(e, c.want) << c.name << ": " << err;
    if (e == RecordError::None) {
      EXPECT_EQ(got.slot, c.slot) << c.name;
      EXPECT_EQ(got.needs_roll_forward, c.roll_forward) << c.name;
      EXPECT_EQ(got.counter, static_cast<uint64_t>(ctr[c.slot])) << c.name;
      EXPECT_EQ(got.soft_seq, static_cast<uint64_t>(seq[c.slot])) << c.name;
      EXPECT_EQ(got.table, sample(static_cast<uint8_t>(c.slot + 1))) << c.name;
    } else {
      EXPECT_FALSE(err.empty()) << c.name;
      EXPECT_TRUE(got.table.records.empty()) << c.name;
    }
  }
}

TEST_F(Records, LoadSlotsRefusesASymlinkedSlot) {
  put("elsewhere", slot(sample(), 10, 1));
  ASSERT_EQ(::symlinkat("elsewhere", dir_fd_, "records.a"), 0);
  LoadedSlots got;
  std::string err;
  EXPECT_EQ(load_slots(crypto_, dir_fd_, keys_.records, 10, got, err), RecordError::Io);
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
}

TEST_F(Records, FileSinkWritesDurablyWithMode0600) {
  FileSink sink(dir_fd_);
  std::string err;
  const auto data = hex("010203");
  ASSERT_EQ(sink.write("records.a", data, err), RecordError::None) << err;
  EXPECT_EQ(store::testing::read_path(dir_.file("records.a")), data);
  EXPECT_EQ(store::testing::mode_of(dir_.file("records.a")), 0600u);
  EXPECT_EQ(::faccessat(dir_fd_, ".tmp.records.a", F_OK, 0), -1);
  std::vector<uint8_t> back;
  EXPECT_EQ(sink.read("records.a", 16, back, err), RecordError::None);
  EXPECT_EQ(back, data);
  EXPECT_EQ(sink.read("records.a", 2, back, err), RecordError::TooLarge);
  EXPECT_EQ(sink.read("records.b", 16, back, err), RecordError::Absent);
}

// Stops at the n-th write point; records the names of the points reached.
class StopAt final : public WritePoints {
 public:
  explicit StopAt(int n) : n_(n) {}
  bool reached(const char* point) override {
    names.push_back(point);
    return static_cast<int>(names.size()) != n_;
  }
  std::vector<std::string> names;

 private:
  int n_;
};

TEST_F(Records, ASlotWriteStoppedAtEveryPointLeavesTheLastCommitLoadable) {
  const std::vector<std::string> points = {"records.b.open", "records.b.write", "records.b.fsync",
                                           "records.b.rename", "records.b.fsync_dir"};
  for (int stop = 1; stop <= 6; ++stop) {
    for (int i = 0; i < 2; ++i) ::unlinkat(dir_fd_, kSlotFiles[i], 0);
    put("records.a", slot(sample(1), 10, 4));
    const auto next = slot(sample(2), 11, 5);  // the commit's spare slot, written before the increment
    StopAt at(stop);
    FileSink sink(dir_fd_, &at);
    std::string err;
    const RecordError e = sink.write("records.b", next, err);
    const bool completed = stop > static_cast<int>(points.size());
    EXPECT_EQ(e, completed ? RecordError::None : RecordError::Io) << stop << ": " << err;
    EXPECT_EQ(at.names, std::vector<std::string>(points.begin(), points.begin() + std::min<size_t>(stop, points.size())));
    LoadedSlots got;
    ASSERT_EQ(load_slots(crypto_, dir_fd_, keys_.records, 10, got, err), RecordError::None) << stop << ": " << err;
    const bool renamed = stop >= 5;  // the rename happened before fsync_dir was asked
    EXPECT_EQ(got.slot, renamed ? 1 : 0) << stop;
    EXPECT_EQ(got.table, sample(renamed ? 2 : 1)) << stop;
    EXPECT_EQ(got.needs_roll_forward, renamed) << stop;
    // a later write replaces the stale temporary and completes
    FileSink again(dir_fd_);
    ASSERT_EQ(again.write("records.b", next, err), RecordError::None) << err;
    EXPECT_EQ(::faccessat(dir_fd_, ".tmp.records.b", F_OK, 0), -1);
  }
}

TEST_F(Records, AnOverwriteStoppedAtEveryPointLeavesTheOldOrTheNewFile) {
  std::string err;
  std::vector<uint8_t> old_h, new_h;
  Header h1 = sample_header(), h2 = sample_header();
  h2.pcr_mask = 0x7;
  ASSERT_TRUE(encode_header(crypto_, h1, old_h, err));
  ASSERT_TRUE(encode_header(crypto_, h2, new_h, err));
  const auto old_slot = slot(sample(1), 10, 4), new_slot = slot(sample(2), 10, 5);
  for (int stop = 1; stop <= 6; ++stop) {
    put("header", old_h);
    put("records.a", old_slot);
    ::unlinkat(dir_fd_, "records.b", 0);
    StopAt at_h(stop), at_s(stop);
    FileSink(dir_fd_, &at_h).write("header", new_h, err);
    FileSink(dir_fd_, &at_s).write("records.a", new_slot, err);
    const bool renamed = stop >= 5;
    std::vector<uint8_t> bytes;
    ASSERT_EQ(FileSink(dir_fd_).read("header", 4096, bytes, err), RecordError::None);
    Header got;
    ASSERT_EQ(parse_header(crypto_, bytes, got, err), RecordError::None) << stop << ": " << err;
    EXPECT_EQ(got, renamed ? h2 : h1) << stop;
    LoadedSlots s;
    ASSERT_EQ(load_slots(crypto_, dir_fd_, keys_.records, 10, s, err), RecordError::None) << stop << ": " << err;
    EXPECT_EQ(s.table, sample(renamed ? 2 : 1)) << stop;
  }
}

// The spare slot rewritten in place (the core's soft and durable commits): stopped at open the
// old spare stays, stopped at write it is torn (its tag fails, the other slot is loaded), stopped
// at fsync the new bytes may be there; never is anything but the last commit or the new one loaded.
TEST_F(Records, AnInPlaceSlotRewriteStoppedAtEveryPointLeavesTheLastCommitLoadable) {
  const std::vector<std::string> points = {"records.b.open", "records.b.write", "records.b.fsync"};
  for (int stop = 1; stop <= 4; ++stop) {
    put("records.a", slot(sample(1), 10, 4));
    put("records.b", slot(sample(3), 10, 3));  // the older one: the spare
    const auto next = slot(sample(2), 10, 5);
    StopAt at(stop);
    FileSink sink(dir_fd_, &at);
    std::string err;
    const RecordError e = sink.overwrite("records.b", next, err);
    const bool completed = stop > static_cast<int>(points.size());
    EXPECT_EQ(e, completed ? RecordError::None : RecordError::Io) << stop << ": " << err;
    EXPECT_EQ(at.names, std::vector<std::string>(points.begin(), points.begin() + std::min<size_t>(stop, points.size())));
    LoadedSlots got;
    ASSERT_EQ(load_slots(crypto_, dir_fd_, keys_.records, 10, got, err), RecordError::None) << stop << ": " << err;
    const bool written = stop >= 3;  // the write completed before fsync was asked
    EXPECT_EQ(got.slot, written ? 1 : 0) << stop;
    EXPECT_EQ(got.table, sample(written ? 2 : 1)) << stop;
    EXPECT_EQ(::faccessat(dir_fd_, ".tmp.records.b", F_OK, 0), -1) << "an in-place rewrite needs no temporary";
  }
}

TEST_F(Records, AnInPlaceRewriteTruncatesCreatesAndRefusesSymlinks) {
  FileSink sink(dir_fd_);
  std::string err;
  ASSERT_EQ(sink.overwrite("records.a", hex("0102030405"), err), RecordError::None) << err;  // absent: created
  EXPECT_EQ(store::testing::read_path(dir_.file("records.a")), hex("0102030405"));
  EXPECT_EQ(store::testing::mode_of(dir_.file("records.a")), 0600u);
  ASSERT_EQ(sink.overwrite("records.a", hex("0a0b"), err), RecordError::None) << err;  // shorter: truncated
  EXPECT_EQ(store::testing::read_path(dir_.file("records.a")), hex("0a0b"));
  ASSERT_EQ(::symlinkat("records.a", dir_fd_, "records.b"), 0);
  EXPECT_EQ(sink.overwrite("records.b", hex("ff"), err), RecordError::Io);
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  EXPECT_EQ(store::testing::read_path(dir_.file("records.a")), hex("0a0b"));
}

}  // namespace
}  // namespace vtpm::manager
