// Key loading: the hex and binary key files swtpm accepts (and the ones it refuses), the two
// passphrase KDFs with known answers (Python hashlib), fd sources, and remove=true.
#include "store/key.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "store/openssl_crypto.h"
#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using instance::Kdf;
using instance::KeyConfig;
using instance::KeyFormat;
using instance::KeySource;
using testing::from_hex;
using testing::TempDir;

std::vector<uint8_t> text(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
std::vector<uint8_t> key_of(const SecretKey& k) { return k.bytes(); }

TEST(Key, HexForms) {
  SecretKey k;
  std::string err;
  const std::string h128 = "00112233445566778899aabbccddeeff";
  const std::string h256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  ASSERT_TRUE(parse_key_file(text(h128), KeyFormat::Hex, 128, k, err)) << err;
  EXPECT_EQ(key_of(k), from_hex(h128));
  ASSERT_TRUE(parse_key_file(text("0x" + h128 + "\n"), KeyFormat::Hex, 128, k, err)) << err;
  EXPECT_EQ(key_of(k), from_hex(h128));
  ASSERT_TRUE(parse_key_file(text(h256 + "\r\n  \n"), KeyFormat::Hex, 256, k, err)) << err;
  EXPECT_EQ(key_of(k), from_hex(h256));
  ASSERT_TRUE(parse_key_file(text("00112233445566778899AABBCCDDEEFF"), KeyFormat::Hex, 128, k, err));
  EXPECT_EQ(key_of(k), from_hex(h128));
}

TEST(Key, HexRefusals) {
  SecretKey k;
  std::string err;
  const std::string h128 = "00112233445566778899aabbccddeeff";
  // swtpm: a 128-bit key with mode=aes-256-cbc is "too short"; 256 bits with aes-cbc too long.
  EXPECT_FALSE(parse_key_file(text(h128), KeyFormat::Hex, 256, k, err));
  EXPECT_EQ(err, "hex key has 32 digits; a 256-bit key (mode aes-256-cbc) needs 64");
  EXPECT_FALSE(parse_key_file(text(h128 + h128), KeyFormat::Hex, 128, k, err));
  EXPECT_EQ(err, "hex key has 64 digits; a 128-bit key (mode aes-cbc) needs 32");
  EXPECT_FALSE(parse_key_file(text(h128 + h128 + "00"), KeyFormat::Hex, 256, k, err));
  EXPECT_EQ(err, "hex key has 66 digits; a 256-bit key (mode aes-256-cbc) needs 64");
  EXPECT_FALSE(parse_key_file(text(h128.substr(0, 31)), KeyFormat::Hex, 128, k, err));
  EXPECT_FALSE(parse_key_file(text(h128 + "g"), KeyFormat::Hex, 128, k, err));
  EXPECT_EQ(err, "hex key: unexpected character at offset 32");
  EXPECT_FALSE(parse_key_file(text(h128 + "\nxx"), KeyFormat::Hex, 128, k, err));
  EXPECT_FALSE(parse_key_file(text(""), KeyFormat::Hex, 128, k, err));
  EXPECT_FALSE(parse_key_file(text(h128), KeyFormat::Hex, 192, k, err));
  EXPECT_TRUE(k.empty());
}

TEST(Key, Binary) {
  SecretKey k;
  std::string err;
  const auto b16 = from_hex("00112233445566778899aabbccddeeff");
  auto b32 = b16;
  b32.insert(b32.end(), b16.begin(), b16.end());
  ASSERT_TRUE(parse_key_file(b16, KeyFormat::Binary, 128, k, err));
  EXPECT_EQ(key_of(k), b16);
  ASSERT_TRUE(parse_key_file(b32, KeyFormat::Binary, 256, k, err));
  EXPECT_EQ(key_of(k), b32);
  // swtpm quirk: a 16-byte binary key is taken as AES-128 even with mode=aes-256-cbc.
  ASSERT_TRUE(parse_key_file(b16, KeyFormat::Binary, 256, k, err));
  EXPECT_EQ(k.size(), 16u);
  EXPECT_FALSE(parse_key_file(b32, KeyFormat::Binary, 128, k, err));
  EXPECT_EQ(err, "binary key has 32 bytes; expected 16");
  auto b17 = b16;
  b17.push_back('\n');
  EXPECT_FALSE(parse_key_file(b17, KeyFormat::Binary, 256, k, err));
}

TEST(Key, PassphraseKdfsKnownAnswers) {
  OpensslCrypto crypto;
  SecretKey k;
  std::string err;
  const auto pw = text("secret passphrase\n");  // the newline is part of the passphrase
  ASSERT_TRUE(derive_passphrase_key(crypto, pw, Kdf::Pbkdf2, 128, k, err));
  EXPECT_EQ(key_of(k), from_hex("34a18501d3b3a89ea7a4f53c562670f1"));
  ASSERT_TRUE(derive_passphrase_key(crypto, pw, Kdf::Pbkdf2, 256, k, err));
  EXPECT_EQ(key_of(k),
            from_hex("34a18501d3b3a89ea7a4f53c562670f130d1468eee14c57fcd1a0bdf7198f931"));
  ASSERT_TRUE(derive_passphrase_key(crypto, pw, Kdf::Sha512, 256, k, err));
  EXPECT_EQ(key_of(k),
            from_hex("b1f6c38fb2c38ee922ffe177044a4078629dd993296a88eb27e4fedf5908e705"));
  ASSERT_TRUE(derive_passphrase_key(crypto, pw, Kdf::Sha512, 128, k, err));
  EXPECT_EQ(key_of(k), from_hex("b1f6c38fb2c38ee922ffe177044a4078"));
}

TEST(Key, LoadFromFileAndRemove) {
  OpensslCrypto crypto;
  TempDir dir;
  KeyConfig cfg;
  cfg.source = KeySource::KeyFile;
  cfg.path = dir.file("key");
  cfg.key_bits = 128;
  ASSERT_TRUE(testing::write_path(cfg.path, "0x00112233445566778899aabbccddeeff\n"));
  SecretKey k;
  std::string err;
  ASSERT_TRUE(load_key(crypto, cfg, k, err)) << err;
  EXPECT_EQ(key_of(k), from_hex("00112233445566778899aabbccddeeff"));
  EXPECT_EQ(::access(cfg.path.c_str(), F_OK), 0);  // kept without remove
  cfg.remove = true;
  ASSERT_TRUE(load_key(crypto, cfg, k, err)) << err;
  EXPECT_NE(::access(cfg.path.c_str(), F_OK), 0);  // gone
  EXPECT_FALSE(load_key(crypto, cfg, k, err));
  EXPECT_NE(err.find("could not open " + cfg.path), std::string::npos) << err;
  EXPECT_TRUE(k.empty());
}

TEST(Key, BadKeyFileIsKeptAndNamed) {
  OpensslCrypto crypto;
  TempDir dir;
  KeyConfig cfg;
  cfg.source = KeySource::KeyFile;
  cfg.path = dir.file("key");
  cfg.remove = true;
  ASSERT_TRUE(testing::write_path(cfg.path, "0011\n"));
  SecretKey k;
  std::string err;
  EXPECT_FALSE(load_key(crypto, cfg, k, err));
  EXPECT_EQ(err, cfg.path + ": hex key has 4 digits; a 128-bit key (mode aes-cbc) needs 32");
  EXPECT_EQ(::access(cfg.path.c_str(), F_OK), 0);  // swtpm removes only after a good read
}

TEST(Key, LoadPassphraseFromFd) {
  OpensslCrypto crypto;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const std::string pw = "secret passphrase\n";
  ASSERT_EQ(::write(p[1], pw.data(), pw.size()), static_cast<ssize_t>(pw.size()));
  ::close(p[1]);
  KeyConfig cfg;
  cfg.source = KeySource::PwdFd;
  cfg.fd = p[0];
  cfg.key_bits = 256;
  cfg.kdf = Kdf::Sha512;
  SecretKey k;
  std::string err;
  ASSERT_TRUE(load_key(crypto, cfg, k, err)) << err;
  EXPECT_EQ(key_of(k),
            from_hex("b1f6c38fb2c38ee922ffe177044a4078629dd993296a88eb27e4fedf5908e705"));
  ::close(p[0]);
}

TEST(Key, NoSourceIsNoKey) {
  OpensslCrypto crypto;
  KeyConfig cfg;
  SecretKey k;
  std::string err;
  EXPECT_TRUE(load_key(crypto, cfg, k, err));
  EXPECT_TRUE(k.empty());
}

TEST(Key, SecretKeyWipesOnClear) {
  SecretKey k;
  const auto b = from_hex("ffeeddccbbaa99887766554433221100");
  k.assign(b.data(), b.size());
  const uint8_t* p = k.data();
  k.clear();
  // The storage was reserved once and is still ours: it must read as zeros now.
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(p[i], 0) << i;
  EXPECT_TRUE(k.empty());
}

}  // namespace
}  // namespace vtpm::store
