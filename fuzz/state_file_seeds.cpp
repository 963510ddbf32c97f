// Writes the seed corpus of state_file_fuzz (fuzz/corpus/state_file/): small valid blobs of every
// format the decoders know, sealed under state_file_keys.h with a counter for "random" bytes so
// the output is the same on every run, and a few invalid ones. Not run by the build:
//   build/<fuzz>/fuzz/state_file_seeds fuzz/corpus/state_file
#include <cstdio>
#include <string>
#include <vector>

#include "state_file_keys.h"
#include "store/blob_codec.h"
#include "store/blob_format.h"
#include "seed_support.h"

namespace {

using vtpm::fuzz::CountingCrypto;
using vtpm::fuzz::write;

using namespace vtpm::store;

// Header version 1 / headerless encryption: AES-CBC, zero IV, over SHA-256(data)‖data, padded.
std::vector<uint8_t> legacy(Crypto& c, Bytes key, Bytes data) {
  std::vector<uint8_t> in(32);
  c.sha256(data, in.data());
  in.insert(in.end(), data.begin(), data.end());
  const size_t pad = key.size() - in.size() % key.size();
  in.insert(in.end(), pad, static_cast<uint8_t>(pad));
  std::vector<uint8_t> out(in.size());
  const uint8_t iv[16] = {};
  c.cbc_encrypt(key, Bytes(iv, 16), in, out.data());
  return out;
}

std::vector<uint8_t> v1_blob(uint16_t flags, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b = {1, 1, 0, 10, static_cast<uint8_t>(flags >> 8),
                            static_cast<uint8_t>(flags), 0, 0, 0, 0};
  b.insert(b.end(), payload.begin(), payload.end());
  put_be32(&b[6], static_cast<uint32_t>(b.size()));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  CountingCrypto crypto;
  std::string err;
  StateKey k16, k32;
  if (!derive_state_key(crypto, Bytes(vtpm::fuzz::kStateKey16, 16), k16, err) ||
      !derive_state_key(crypto, Bytes(vtpm::fuzz::kStateKey32, 32), k32, err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  Binding b;
  b.tpm_version = vtpm::fuzz::kTpmVersion;
  b.kind = vtpm::fuzz::kKind;
  b.identity = vtpm::fuzz::kIdentity;
  // A tiny stand-in for a libtpms blob: version 2 and the PERSISTENT_DATA magic, then filler.
  std::vector<uint8_t> state = {0x00, 0x02, 0xab, 0x36, 0x47, 0x23};
  for (uint8_t i = 0; i < 26; ++i) state.push_back(static_cast<uint8_t>(i * 9));
  const Bytes mk(vtpm::fuzz::kMigrationKey16, 16);

  bool ok = true;
  std::vector<uint8_t> out;
  encode_plain_file(state, out);
  ok &= write(dir, "plain.bin", out);
  ok &= encode_swtpm_encrypted_file(crypto, k16.raw.span(), state, out, err) &&
        write(dir, "swtpm_aes128.bin", out);
  ok &= encode_swtpm_encrypted_file(crypto, k32.raw.span(), state, out, err) &&
        write(dir, "swtpm_aes256.bin", out);
  ok &= encode_gcm_file(crypto, k32, b, 7, state, out, err) && write(dir, "gcm_key256.bin", out);
  ok &= encode_gcm_file(crypto, k16, b, 1, state, out, err) && write(dir, "gcm_key128.bin", out);
  ok &= write(dir, "legacy_headerless.bin", state);
  ok &= write(dir, "legacy_v1_aes128.bin", v1_blob(flag::kEncrypted, legacy(crypto, k16.raw.span(), state)));
  ok &= encode_migration_blob(crypto, state, {}, out, err) && write(dir, "migration_plain.bin", out);
  ok &= encode_migration_blob(crypto, state, mk, out, err) && write(dir, "migration_aes128.bin", out);
  ok &= write(dir, "migration_v1_aes128.bin",
              v1_blob(flag::kMigrationEncrypted, legacy(crypto, mk, state)));
  {
    // Migration blob whose inner part is encrypted with the 256-bit state key (flags 0x0d).
    std::vector<uint8_t> ct, iv, inner;
    uint8_t mac[32];
    ok &= swtpm_cbc_seal(crypto, k32.raw.span(), state, ct, iv, mac, err);
    append_tlv(inner, tag::kEncryptedData, ct);
    append_tlv(inner, tag::kHmac, Bytes(mac, 32));
    append_tlv(inner, tag::kIvecEncryptedData, iv);
    start_blob(out, inner.size() + 6);
    append_tlv(out, tag::kMigrationData, inner);
    finish_blob(out, 1, flag::kMigrationData | flag::kEncrypted | flag::kEncrypted256);
    ok &= write(dir, "migration_inner_state_key.bin", out);
  }
  // Invalid ones.
  encode_plain_file(state, out);
  ok &= write(dir, "invalid_truncated.bin", std::vector<uint8_t>(out.begin(), out.end() - 3));
  std::vector<uint8_t> bad = out;
  bad[15] = 0x7f;  // TLV length past the end
  ok &= write(dir, "invalid_tlv_length.bin", bad);
  start_blob(out, 32);
  append_tlv(out, tag::kData, Bytes(state).first(4));
  append_tlv(out, tag::kData, Bytes(state).first(4));
  finish_blob(out, 1, 0);
  ok &= write(dir, "invalid_duplicate_tlv.bin", out);
  ok &= write(dir, "header_only_migration.bin", {2, 1, 0, 10, 0, 4, 0, 0, 0, 10});
  // vtpmd's checked plain files and a GCM file with a journal mark (last: the counter above).
  const JournalMark mark{0x1122334455667788ull, 42};
  ok &= encode_checked_plain_file(crypto, state, nullptr, out, err) &&
        write(dir, "plain_checked.bin", out);
  ok &= encode_checked_plain_file(crypto, state, &mark, out, err) &&
        write(dir, "plain_checked_mark.bin", out);
  ok &= encode_gcm_file(crypto, k32, b, 8, state, out, err, &mark) &&
        write(dir, "gcm_key256_mark.bin", out);
  if (!ok) {
    std::fprintf(stderr, "could not write the seeds: %s\n", err.c_str());
    return 1;
  }
  return 0;
}
