// The codecs on their own: exact plain and migration layouts (as swtpm writes them), the GCM
// format and its bindings, swtpm's CBC padding rule, legacy files, and that every truncation and
// every single-bit flip of an authenticated file is refused with a named error.
#include "store/blob_codec.h"

#include <gtest/gtest.h>

#include "store/blob_format.h"
#include "store/openssl_crypto.h"
#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using engine::BlobKind;
using testing::from_hex;
using testing::pattern;

std::vector<uint8_t> vec(Bytes b) { return std::vector<uint8_t>(b.begin(), b.end()); }

class Codec : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    const auto k = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    ASSERT_TRUE(derive_state_key(crypto, k, key, err)) << err;
    binding.tpm_version = 2;
    binding.kind = BlobKind::Permanent;
    binding.identity = "vm-1234";
  }
  std::vector<uint8_t> gcm_file(Bytes plain, uint64_t gen = 1) {
    std::vector<uint8_t> out;
    std::string err;
    EXPECT_TRUE(encode_gcm_file(crypto, key, binding, gen, plain, out, err)) << err;
    return out;
  }
  BlobError decode(Bytes file, const StateKey* k, const Binding& b, DecodedState& st) {
    std::string err;
    BlobError e = decode_state_file(crypto, file, k, b, st, err);
    if (e != BlobError::None) {
      EXPECT_FALSE(err.empty());
      EXPECT_TRUE(st.plain.empty()) << "error with plaintext left over: " << err;
    }
    last_err = err;
    return e;
  }

  OpensslCrypto crypto;
  StateKey key;
  Binding binding;
  std::string last_err;
};

TEST_F(Codec, CryptoKnownAnswers) {
  // AES-256-GCM, GCM specification test case 14.
  const std::vector<uint8_t> k(32, 0), nonce(12, 0), plain(16, 0);
  uint8_t ct[16], tag[16];
  ASSERT_TRUE(crypto.gcm_seal(k, nonce, {}, plain, ct, tag));
  EXPECT_EQ(vec(Bytes(ct, 16)), from_hex("cea7403d4d606b6e074ec5d3baf39d18"));
  EXPECT_EQ(vec(Bytes(tag, 16)), from_hex("d0d1c8a799996bf0265b98b5d48ab919"));
  uint8_t back[16];
  EXPECT_TRUE(crypto.gcm_open(k, nonce, {}, Bytes(ct, 16), Bytes(tag, 16), back));
  tag[0] ^= 1;
  EXPECT_FALSE(crypto.gcm_open(k, nonce, {}, Bytes(ct, 16), Bytes(tag, 16), back));
  // HKDF-SHA256, RFC 5869 test case 3 (empty salt and info).
  uint8_t okm[42];
  ASSERT_TRUE(crypto.hkdf_sha256(std::vector<uint8_t>(22, 0x0b), {}, okm, sizeof okm));
  EXPECT_EQ(vec(Bytes(okm, 42)),
            from_hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b6"
                     "1a96c8"));
}

TEST_F(Codec, PlainFileIsSwtpmsLayout) {
  std::vector<uint8_t> out;
  encode_plain_file(from_hex("0003ab36"), out);
  EXPECT_EQ(out, from_hex("0201000a000000000014" "000100000004" "0003ab36"));
  DecodedState st;
  ASSERT_EQ(decode(out, nullptr, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, from_hex("0003ab36"));
  EXPECT_EQ(st.format, FileFormat::Plain);
  // With a key, a plain file is a downgrade and refused.
  EXPECT_EQ(decode(out, &key, binding, st), BlobError::NotEncrypted);
  EXPECT_NE(last_err.find("not encrypted"), std::string::npos);
}

TEST_F(Codec, GcmRoundTripAndLayout) {
  const auto plain = pattern(100, 3);
  const auto f = gcm_file(plain, 41);
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(f, c, err)) << err;
  EXPECT_EQ(c.header().version, 2);
  EXPECT_EQ(c.header().min_version, 2);
  EXPECT_EQ(c.header().flags, flag::kGcm);
  EXPECT_EQ(c.value(tag::kGcmNonce).size(), 12u);
  EXPECT_EQ(c.value(tag::kGcmTag).size(), 16u);
  EXPECT_EQ(c.value(tag::kGcmCiphertext).size(), plain.size());
  EXPECT_EQ(get_be64(c.value(tag::kGcmGeneration).data()), 41u);
  EXPECT_FALSE(c.has(tag::kData));  // swtpm 0.7.1 finds no plain data in it
  DecodedState st;
  ASSERT_EQ(decode(f, &key, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, plain);
  EXPECT_EQ(st.generation, 41u);
  EXPECT_EQ(st.format, FileFormat::Gcm);
  // Fresh nonce every time.
  EXPECT_NE(gcm_file(plain, 41), f);
}

TEST_F(Codec, GcmEmptyPayload) {
  const auto f = gcm_file(Bytes(), 3);
  DecodedState st;
  ASSERT_EQ(decode(f, &key, binding, st), BlobError::None) << last_err;
  EXPECT_TRUE(st.plain.empty());
  auto g = f;
  g[g.size() - 1] ^= 1;
  EXPECT_EQ(decode(g, &key, binding, st), BlobError::Integrity);
}

TEST_F(Codec, GcmIsBoundToTypeIdentityVersionAndKey) {
  const auto f = gcm_file(pattern(64, 9));
  DecodedState st;
  Binding other = binding;
  other.kind = BlobKind::Volatile;
  EXPECT_EQ(decode(f, &key, other, st), BlobError::Integrity);
  EXPECT_NE(last_err.find("authentication failed"), std::string::npos) << last_err;
  other = binding;
  other.identity = "vm-1235";
  EXPECT_EQ(decode(f, &key, other, st), BlobError::Integrity);
  other.identity = "";
  EXPECT_EQ(decode(f, &key, other, st), BlobError::Integrity);
  other = binding;
  other.tpm_version = 1;
  EXPECT_EQ(decode(f, &key, other, st), BlobError::Integrity);
  StateKey wrong;
  std::string err;
  ASSERT_TRUE(derive_state_key(crypto, std::vector<uint8_t>(32, 0x55), wrong, err));
  EXPECT_EQ(decode(f, &wrong, binding, st), BlobError::Integrity);
  EXPECT_EQ(decode(f, nullptr, binding, st), BlobError::KeyMissing);
  EXPECT_NE(last_err.find("no key"), std::string::npos);
  EXPECT_EQ(decode(f, &key, binding, st), BlobError::None);
}

TEST_F(Codec, GcmFileNamesItsKeySize) {
  // TLV 0x16: the raw key's bytes, so that a key of the other size is told apart from a wrong
  // key (swtpm 0.7.1: TPM_BAD_KEY_PROPERTY vs TPM_DECRYPT_ERROR).
  const auto f = gcm_file(pattern(40, 2));
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(f, c, err)) << err;
  EXPECT_EQ(vec(c.value(tag::kGcmKeySize)), std::vector<uint8_t>{32});
  StateKey k128, other128;
  ASSERT_TRUE(derive_state_key(crypto, from_hex("00112233445566778899aabbccddeeff"), k128, err));
  ASSERT_TRUE(derive_state_key(crypto, from_hex("ff112233445566778899aabbccddeeff"), other128, err));
  DecodedState st;
  EXPECT_EQ(decode(f, &k128, binding, st), BlobError::KeyMismatch);
  EXPECT_EQ(last_err, "encrypted with a 256-bit key, but the given key has 128 bits");
  std::vector<uint8_t> f128;
  ASSERT_TRUE(encode_gcm_file(crypto, k128, binding, 1, pattern(40, 2), f128, err)) << err;
  ASSERT_TRUE(Container::parse(f128, c, err)) << err;
  EXPECT_EQ(vec(c.value(tag::kGcmKeySize)), std::vector<uint8_t>{16});
  EXPECT_EQ(decode(f128, &key, binding, st), BlobError::KeyMismatch);
  EXPECT_EQ(last_err, "encrypted with a 128-bit key, but the given key has 256 bits");
  EXPECT_EQ(decode(f128, &other128, binding, st), BlobError::Integrity);  // same size, wrong key
  ASSERT_EQ(decode(f128, &k128, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, pattern(40, 2));
  // The byte is authenticated: edited to the key's size, the tag fails instead.
  const size_t at = static_cast<size_t>(c.value(tag::kGcmKeySize).data() - c.header_bytes().data());
  auto edited = f128;
  edited[at] = 32;
  EXPECT_EQ(decode(edited, &key, binding, st), BlobError::Integrity);
  edited[at] = 24;
  EXPECT_EQ(decode(edited, &key, binding, st), BlobError::Malformed);
  EXPECT_NE(last_err.find("key-size TLV"), std::string::npos) << last_err;
}

TEST_F(Codec, GcmFileWithoutKeySizeStillLoads) {
  // A file as vtpmd wrote it before TLV 0x16, built here from the layout in blob_codec.h:
  // generation, nonce, ciphertext, tag; AAD without the key-size byte.
  const auto plain = pattern(33, 5);
  const size_t total = kHeaderBytes + 4 * kTlvHeaderBytes + 8 + 12 + plain.size() + 16;
  uint8_t hdr[kHeaderBytes];
  header_bytes(hdr, 2, flag::kGcm, static_cast<uint32_t>(total));
  std::vector<uint8_t> aad;
  const std::string label = kGcmAadLabel;
  aad.insert(aad.end(), label.begin(), label.end());
  aad.insert(aad.end(), hdr, hdr + kHeaderBytes);
  aad.push_back(2);
  aad.push_back(1);
  const auto gen = from_hex("0000000000000007");
  aad.insert(aad.end(), gen.begin(), gen.end());
  const auto idlen = from_hex("00000007");
  aad.insert(aad.end(), idlen.begin(), idlen.end());
  aad.insert(aad.end(), binding.identity.begin(), binding.identity.end());
  const std::vector<uint8_t> nonce(12, 0x42);
  std::vector<uint8_t> ct(plain.size());
  uint8_t tg[16];
  ASSERT_TRUE(crypto.gcm_seal(key.gcm.span(), nonce, aad, plain, ct.data(), tg));
  std::vector<uint8_t> f;
  start_blob(f, total - kHeaderBytes);
  append_tlv(f, tag::kGcmGeneration, gen);
  append_tlv(f, tag::kGcmNonce, nonce);
  append_tlv(f, tag::kGcmCiphertext, ct);
  append_tlv(f, tag::kGcmTag, Bytes(tg, sizeof tg));
  std::copy(hdr, hdr + kHeaderBytes, f.begin());
  ASSERT_EQ(f.size(), total);
  DecodedState st;
  ASSERT_EQ(decode(f, &key, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, plain);
  EXPECT_EQ(st.generation, 7u);
  // Without the size on record, a key of the other size can only fail the tag.
  StateKey k128;
  std::string err;
  ASSERT_TRUE(derive_state_key(crypto, from_hex("00112233445566778899aabbccddeeff"), k128, err));
  EXPECT_EQ(decode(f, &k128, binding, st), BlobError::Integrity);
}

TEST_F(Codec, GcmKeyIsDerivedNotRaw) {
  // A 128-bit --key still seals with AES-256-GCM; the GCM key is never the raw key.
  StateKey k128;
  std::string err;
  ASSERT_TRUE(derive_state_key(crypto, from_hex("00112233445566778899aabbccddeeff"), k128, err));
  EXPECT_EQ(k128.gcm.size(), 32u);
  EXPECT_NE(vec(key.gcm.span()), vec(key.raw.span()));
  EXPECT_FALSE(derive_state_key(crypto, std::vector<uint8_t>(20, 1), k128, err));
  EXPECT_EQ(err, "state key has 20 bytes, expected 16 or 32");
}

TEST_F(Codec, EveryBitFlipOfGcmFileIsRefused) {
  const auto f = gcm_file(pattern(20, 1));
  for (size_t i = 0; i < f.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto g = f;
      g[i] ^= static_cast<uint8_t>(1u << bit);
      DecodedState st;
      EXPECT_NE(decode(g, &key, binding, st), BlobError::None) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(Codec, EveryTruncationIsRefused) {
  std::vector<uint8_t> plain_file, cbc_file;
  std::string err;
  encode_plain_file(pattern(40, 2), plain_file);
  ASSERT_TRUE(encode_swtpm_encrypted_file(crypto, key.raw.span(), pattern(40, 2), cbc_file, err));
  const auto g = gcm_file(pattern(40, 2));
  for (size_t n = 0; n < g.size(); ++n) {
    DecodedState st;
    EXPECT_NE(decode(Bytes(g).first(n), &key, binding, st), BlobError::None) << n;
  }
  for (size_t n = 0; n < cbc_file.size(); ++n) {
    DecodedState st;
    EXPECT_NE(decode(Bytes(cbc_file).first(n), &key, binding, st), BlobError::None) << n;
  }
  for (size_t n = 1; n < plain_file.size(); ++n) {
    DecodedState st;
    EXPECT_NE(decode(Bytes(plain_file).first(n), nullptr, binding, st), BlobError::None) << n;
  }
  DecodedState st;
  EXPECT_EQ(decode(Bytes(), nullptr, binding, st), BlobError::Malformed);
  EXPECT_EQ(last_err, "the file is empty");
}

TEST_F(Codec, SwtpmCbcPaddingAndIvFollowSwtpm) {
  for (size_t keylen : {16u, 32u}) {
    const auto k = pattern(keylen, 0x40);
    for (size_t n : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 1299u}) {
      std::vector<uint8_t> ct, iv;
      uint8_t mac[32];
      std::string err;
      ASSERT_TRUE(swtpm_cbc_seal(crypto, k, pattern(n, 5), ct, iv, mac, err));
      EXPECT_EQ(ct.size(), (n / keylen + 1) * keylen) << keylen << "/" << n;  // 1..keylen pad bytes
      EXPECT_EQ(iv.size(), keylen);
      uint8_t want[32];
      ASSERT_TRUE(crypto.hmac_sha256(k, ct, iv, want));  // over ciphertext‖the whole IV
      EXPECT_EQ(vec(Bytes(mac, 32)), vec(Bytes(want, 32)));
      std::vector<uint8_t> dec(ct.size());
      ASSERT_TRUE(crypto.cbc_decrypt(k, Bytes(iv).first(16), ct, dec.data()));
      const size_t pad = ct.size() - n;
      for (size_t i = n; i < dec.size(); ++i) EXPECT_EQ(dec[i], pad);
      std::vector<uint8_t> back;
      ASSERT_EQ(swtpm_cbc_open(crypto, k, ct, iv, Bytes(mac, 32), back, err), BlobError::None) << err;
      EXPECT_EQ(back, pattern(n, 5));
    }
  }
}

TEST_F(Codec, SwtpmEncryptedFile) {
  for (size_t keylen : {16u, 32u}) {
    StateKey k;
    std::string err;
    ASSERT_TRUE(derive_state_key(crypto, pattern(keylen, 0x11), k, err));
    std::vector<uint8_t> f;
    ASSERT_TRUE(encode_swtpm_encrypted_file(crypto, k.raw.span(), pattern(50, 7), f, err));
    EXPECT_EQ(get_be16(&f[4]), keylen == 32 ? 0x09 : 0x01);
    DecodedState st;
    ASSERT_EQ(decode(f, &k, binding, st), BlobError::None) << last_err;
    EXPECT_EQ(st.plain, pattern(50, 7));
    EXPECT_EQ(st.format, FileFormat::SwtpmEncrypted);
    // Not bound to a blob type (swtpm's format has no additional data), but bound to the key.
    EXPECT_EQ(decode(f, nullptr, binding, st), BlobError::KeyMissing);
    EXPECT_EQ(decode(f, keylen == 32 ? &key : &k, binding, st),
              keylen == 32 ? BlobError::Integrity : BlobError::None);
    StateKey other;
    ASSERT_TRUE(derive_state_key(crypto, pattern(48 - keylen, 0x11), other, err));
    EXPECT_EQ(decode(f, &other, binding, st), BlobError::KeyMismatch);
    EXPECT_NE(last_err.find("-bit key"), std::string::npos) << last_err;
    // Every single-bit flip is refused: the body by the MAC, the header by its own checks.
    for (size_t i = 0; i < f.size(); ++i) {
      auto g = f;
      g[i] ^= static_cast<uint8_t>(1u << (i % 8));
      EXPECT_NE(decode(g, &k, binding, st), BlobError::None) << "byte " << i;
    }
  }
}

TEST_F(Codec, PlainFileFramingFlipsAreRefused) {
  std::vector<uint8_t> f;
  encode_plain_file(pattern(8, 1), f);
  for (size_t i = 0; i < kHeaderBytes + kTlvHeaderBytes; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto g = f;
      g[i] ^= static_cast<uint8_t>(1u << bit);
      DecodedState st;
      EXPECT_NE(decode(g, nullptr, binding, st), BlobError::None) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(Codec, CheckedPlainFileLayout) {
  const auto plain = from_hex("0003ab36");
  std::vector<uint8_t> out;
  std::string err;
  ASSERT_TRUE(encode_checked_plain_file(crypto, plain, nullptr, out, err)) << err;
  // swtpm's file, its total length grown by the digest TLV, then TLV 0x14 over all before it.
  std::vector<uint8_t> head = from_hex("0201000a00000000003a" "000100000004" "0003ab36");
  ASSERT_EQ(out.size(), head.size() + 6 + 32);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 20), head);
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 20, out.begin() + 26), from_hex("001400000020"));
  uint8_t d[32];
  ASSERT_TRUE(crypto.sha256(head, d));
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 26, out.end()), std::vector<uint8_t>(d, d + 32));
  DecodedState st;
  ASSERT_EQ(decode(out, nullptr, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, plain);
  EXPECT_EQ(st.format, FileFormat::Plain);
  EXPECT_TRUE(st.checked);
  EXPECT_FALSE(st.has_mark);
  // swtpm's own file still loads, unchecked.
  std::vector<uint8_t> sw;
  encode_plain_file(plain, sw);
  ASSERT_EQ(decode(sw, nullptr, binding, st), BlobError::None) << last_err;
  EXPECT_FALSE(st.checked);
  EXPECT_EQ(decode(out, &key, binding, st), BlobError::NotEncrypted);
}

TEST_F(Codec, CheckedPlainFileWithJournalMark) {
  const JournalMark mark{0x0102030405060708ull, 77};
  std::vector<uint8_t> out;
  std::string err;
  ASSERT_TRUE(encode_checked_plain_file(crypto, pattern(30, 5), &mark, out, err)) << err;
  Container c;
  ASSERT_TRUE(Container::parse(out, c, err)) << err;
  EXPECT_EQ(c.value(tag::kJournalMark).size(), 16u);
  DecodedState st;
  ASSERT_EQ(decode(out, nullptr, binding, st), BlobError::None) << last_err;
  EXPECT_TRUE(st.checked && st.has_mark);
  EXPECT_EQ(st.mark.epoch, mark.epoch);
  EXPECT_EQ(st.mark.sequence, 77u);
  EXPECT_EQ(st.plain, pattern(30, 5));
  // A mark without the digest, or TLVs out of order, are refused.
  std::vector<uint8_t> bare;
  start_blob(bare, 0);
  append_tlv(bare, tag::kData, pattern(4, 1));
  append_tlv(bare, tag::kJournalMark, std::vector<uint8_t>(16, 0));
  finish_blob(bare, 1, 0);
  EXPECT_EQ(decode(bare, nullptr, binding, st), BlobError::Malformed);
  EXPECT_NE(last_err.find("journal mark without"), std::string::npos) << last_err;
  std::vector<uint8_t> swapped;
  start_blob(swapped, 0);
  append_tlv(swapped, tag::kJournalMark, std::vector<uint8_t>(16, 0));
  append_tlv(swapped, tag::kData, pattern(4, 1));
  finish_blob(swapped, 1, 0);
  uint8_t d[32];
  ASSERT_TRUE(crypto.sha256(swapped, d));
  std::vector<uint8_t> fixed = swapped;
  append_tlv(fixed, tag::kSha256, Bytes(d, 32));
  put_be32(&fixed[6], static_cast<uint32_t>(fixed.size()));
  EXPECT_EQ(decode(fixed, nullptr, binding, st), BlobError::Malformed);
  EXPECT_NE(last_err.find("not in the order"), std::string::npos) << last_err;
}

TEST_F(Codec, EveryBitFlipAndTruncationOfCheckedPlainFileIsRefused) {
  const JournalMark mark{5, 9};
  for (const JournalMark* m : {static_cast<const JournalMark*>(nullptr), &mark}) {
    std::vector<uint8_t> f;
    std::string err;
    ASSERT_TRUE(encode_checked_plain_file(crypto, pattern(40, 2), m, f, err)) << err;
    for (size_t i = 0; i < f.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto g = f;
        g[i] ^= static_cast<uint8_t>(1u << bit);
        DecodedState st;
        EXPECT_NE(decode(g, nullptr, binding, st), BlobError::None) << "byte " << i << " bit " << bit;
        EXPECT_TRUE(st.plain.empty());
        EXPECT_FALSE(last_err.empty());
      }
    }
    for (size_t n = 0; n < f.size(); ++n) {
      DecodedState st;
      EXPECT_NE(decode(Bytes(f).first(n), nullptr, binding, st), BlobError::None) << n;
    }
    // A flip inside the payload is reported as damage found by the digest.
    auto g = f;
    g[20] ^= 4;
    DecodedState st;
    EXPECT_EQ(decode(g, nullptr, binding, st), BlobError::Integrity);
    EXPECT_EQ(last_err, "SHA-256 of the data does not match (the file is damaged)");
  }
}

TEST_F(Codec, GcmJournalMarkIsAuthenticated) {
  const JournalMark mark{11, 12};
  std::vector<uint8_t> f;
  std::string err;
  ASSERT_TRUE(encode_gcm_file(crypto, key, binding, 3, pattern(50, 1), f, err, &mark)) << err;
  DecodedState st;
  ASSERT_EQ(decode(f, &key, binding, st), BlobError::None) << last_err;
  EXPECT_TRUE(st.has_mark);
  EXPECT_EQ(st.mark.epoch, 11u);
  EXPECT_EQ(st.mark.sequence, 12u);
  EXPECT_EQ(st.plain, pattern(50, 1));
  // The mark is the last 16 bytes: editing it fails authentication.
  auto g = f;
  g.back() ^= 1;
  EXPECT_EQ(decode(g, &key, binding, st), BlobError::Integrity);
}

// Legacy formats: header version 1, and files from before headers (swtpm's own test data has
// both): AES-CBC with a zero IV over SHA-256(data)‖data, padded as swtpm pads.
std::vector<uint8_t> legacy_encrypt(Crypto& crypto, Bytes key, Bytes data) {
  std::vector<uint8_t> in(32);
  EXPECT_TRUE(crypto.sha256(data, in.data()));
  in.insert(in.end(), data.begin(), data.end());
  const size_t pad = key.size() - in.size() % key.size();
  in.insert(in.end(), pad, static_cast<uint8_t>(pad));
  std::vector<uint8_t> out(in.size());
  const uint8_t iv[16] = {};
  EXPECT_TRUE(crypto.cbc_encrypt(key, Bytes(iv, 16), in, out.data()));
  return out;
}

TEST_F(Codec, LegacyFiles) {
  const auto libtpms = from_hex("0002ab36472300010002c9ea6431");
  DecodedState st;
  // Headerless, no key: the libtpms blob itself.
  ASSERT_EQ(decode(libtpms, nullptr, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, libtpms);
  EXPECT_EQ(st.format, FileFormat::Legacy);
  // Headerless, encrypted.
  const auto enc = legacy_encrypt(crypto, key.raw.span(), libtpms);
  ASSERT_FALSE(looks_like_header(enc));
  ASSERT_EQ(decode(enc, &key, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, libtpms);
  EXPECT_EQ(st.format, FileFormat::LegacyEncrypted);
  auto bad = enc;
  bad[bad.size() - 20] ^= 4;
  EXPECT_EQ(decode(bad, &key, binding, st), BlobError::Integrity);
  // A plain legacy file with a key given does not decrypt.
  EXPECT_EQ(decode(libtpms, &key, binding, st), BlobError::Malformed);
  EXPECT_EQ(decode(pattern(64, 1), &key, binding, st), BlobError::Integrity);
  // Header version 1, flag 0x01.
  std::vector<uint8_t> v1 = {1, 1, 0, 10, 0, 1, 0, 0, 0, 0};
  v1.insert(v1.end(), enc.begin(), enc.end());
  put_be32(&v1[6], static_cast<uint32_t>(v1.size()));
  ASSERT_EQ(decode(v1, &key, binding, st), BlobError::None) << last_err;
  EXPECT_EQ(st.plain, libtpms);
  EXPECT_EQ(decode(v1, nullptr, binding, st), BlobError::KeyMissing);
}

TEST_F(Codec, StateFileRefusesMigrationAndUnknownFlags) {
  std::vector<uint8_t> m;
  std::string err;
  ASSERT_TRUE(encode_migration_blob(crypto, pattern(10, 1), {}, m, err));
  DecodedState st;
  EXPECT_EQ(decode(m, nullptr, binding, st), BlobError::Malformed);
  EXPECT_NE(last_err.find("migration"), std::string::npos) << last_err;
  std::vector<uint8_t> f;
  encode_plain_file(pattern(4, 1), f);
  f[4] = 0x01;  // flags 0x0100
  EXPECT_EQ(decode(f, nullptr, binding, st), BlobError::Malformed);
  EXPECT_EQ(last_err, "unknown header flags 0x100");
}

// ---- migration blobs ----------------------------------------------------------------------

TEST_F(Codec, MigrationBlobPlainIsSwtpmsLayout) {
  std::vector<uint8_t> out;
  std::string err;
  ASSERT_TRUE(encode_migration_blob(crypto, from_hex("0003ab36"), {}, out, err));
  // swtpm 0.7.1 GET_STATEBLOB: header flags 0x04, TLV 4 holding a bare TLV 1 (no inner header).
  EXPECT_EQ(out, from_hex("0201000a00040000001a" "00040000000a" "000100000004" "0003ab36"));
  std::vector<uint8_t> plain;
  ASSERT_EQ(decode_migration_blob(crypto, out, {}, {}, plain, err), BlobError::None) << err;
  EXPECT_EQ(plain, from_hex("0003ab36"));
  // Accepted even when a migration key is set (swtpm allows "upgrading" to encryption).
  ASSERT_EQ(decode_migration_blob(crypto, out, pattern(16, 1), {}, plain, err), BlobError::None);
  EXPECT_EQ(plain, from_hex("0003ab36"));
}

TEST_F(Codec, MigrationBlobEncrypted) {
  for (size_t keylen : {16u, 32u}) {
    const auto mk = pattern(keylen, 0x21);
    std::vector<uint8_t> out, plain;
    std::string err;
    ASSERT_TRUE(encode_migration_blob(crypto, pattern(300, 4), mk, out, err));
    EXPECT_EQ(get_be16(&out[4]), keylen == 32 ? 0x16 : 0x06);
    Container c;
    ASSERT_TRUE(Container::parse(out, c, err));
    EXPECT_TRUE(c.has(tag::kEncryptedMigrationData) && c.has(tag::kHmac) &&
                c.has(tag::kIvecMigrationData));
    EXPECT_EQ(c.value(tag::kIvecMigrationData).size(), keylen);
    ASSERT_EQ(decode_migration_blob(crypto, out, mk, {}, plain, err), BlobError::None) << err;
    EXPECT_EQ(plain, pattern(300, 4));
    EXPECT_EQ(decode_migration_blob(crypto, out, {}, {}, plain, err), BlobError::KeyMissing);
    EXPECT_TRUE(plain.empty());
    EXPECT_EQ(decode_migration_blob(crypto, out, pattern(keylen, 0x22), {}, plain, err),
              BlobError::Integrity);
    EXPECT_EQ(decode_migration_blob(crypto, out, pattern(48 - keylen, 0x21), {}, plain, err),
              BlobError::KeyMismatch);
    for (size_t i = 0; i < out.size(); i += 7) {
      auto g = out;
      g[i] ^= 0x10;
      EXPECT_NE(decode_migration_blob(crypto, g, mk, {}, plain, err), BlobError::None) << i;
      EXPECT_TRUE(plain.empty());
    }
  }
}

TEST_F(Codec, MigrationBlobHeaderOnlyClears) {
  std::vector<uint8_t> plain = {1};
  std::string err;
  EXPECT_EQ(decode_migration_blob(crypto, from_hex("0201000a00040000000a"), {}, {}, plain, err),
            BlobError::None);
  EXPECT_TRUE(plain.empty());
}

TEST_F(Codec, MigrationBlobWithStateKeyInside) {
  // swtpm without PTM_STATE_FLAG_DECRYPTED: flags 0x05, TLV 4 holds TLVs 2, 3, 6 (state key).
  std::vector<uint8_t> ct, iv, inner, out, plain;
  uint8_t mac[32];
  std::string err;
  const auto fk = pattern(32, 0x33);
  ASSERT_TRUE(swtpm_cbc_seal(crypto, fk, pattern(77, 8), ct, iv, mac, err));
  append_tlv(inner, tag::kEncryptedData, ct);
  append_tlv(inner, tag::kHmac, Bytes(mac, 32));
  append_tlv(inner, tag::kIvecEncryptedData, iv);
  start_blob(out, inner.size() + 6);
  append_tlv(out, tag::kMigrationData, inner);
  finish_blob(out, 1, flag::kMigrationData | flag::kEncrypted | flag::kEncrypted256);
  ASSERT_EQ(decode_migration_blob(crypto, out, {}, fk, plain, err), BlobError::None) << err;
  EXPECT_EQ(plain, pattern(77, 8));
  EXPECT_EQ(decode_migration_blob(crypto, out, {}, {}, plain, err), BlobError::KeyMissing);
  EXPECT_EQ(decode_migration_blob(crypto, out, {}, pattern(16, 0x33), plain, err),
            BlobError::KeyMismatch);
}

TEST_F(Codec, MigrationBlobVersionOne) {
  // swtpm's tests/data/migkey1 layout: header version 1, flags 0x02, legacy encryption.
  const auto mk = pattern(16, 0x44);
  const auto raw = pattern(200, 6);
  const auto enc = legacy_encrypt(crypto, mk, raw);
  std::vector<uint8_t> blob = {1, 1, 0, 10, 0, 2, 0, 0, 0, 0};
  blob.insert(blob.end(), enc.begin(), enc.end());
  put_be32(&blob[6], static_cast<uint32_t>(blob.size()));
  std::vector<uint8_t> plain;
  std::string err;
  ASSERT_EQ(decode_migration_blob(crypto, blob, mk, {}, plain, err), BlobError::None) << err;
  EXPECT_EQ(plain, raw);
  EXPECT_EQ(decode_migration_blob(crypto, blob, pattern(16, 0x45), {}, plain, err),
            BlobError::Integrity);
}

TEST_F(Codec, MigrationBlobMalformed) {
  std::vector<uint8_t> plain;
  std::string err;
  EXPECT_EQ(decode_migration_blob(crypto, from_hex("0201000a00040000000b00"), {}, {}, plain, err),
            BlobError::Malformed);
  EXPECT_EQ(decode_migration_blob(crypto, from_hex("0303000a00040000000a"), {}, {}, plain, err),
            BlobError::BadVersion);
  // TLV 1 directly under the header, where TLV 4 belongs.
  EXPECT_EQ(decode_migration_blob(crypto, from_hex("0201000a000400000011000100000001aa"), {}, {},
                                  plain, err),
            BlobError::Malformed);
  EXPECT_EQ(err, "unexpected TLV 1 in this kind of blob");
  // Inner stream broken.
  EXPECT_EQ(decode_migration_blob(crypto, from_hex("0201000a00040000001100040000000100"), {}, {},
                                  plain, err),
            BlobError::Malformed);
  EXPECT_EQ(err, "inner blob: 1 stray bytes at offset 0, too few for a TLV header");
}

}  // namespace
}  // namespace vtpm::store
