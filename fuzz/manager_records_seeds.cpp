// Writes the seed corpus of manager_records_fuzz (fuzz/corpus/manager_records/): slots sealed
// under the keys HKDF'd from manager_records_keys.h's root key, their plaintext tables, headers,
// and a few invalid files. "Random" bytes count up, so every run writes the same files. Not run
// by the build:   build/fuzz/fuzz/manager_records_seeds fuzz/corpus/manager_records
#include <cstdio>
#include <string>
#include <vector>

#include "manager/records.h"
#include "manager_records_keys.h"
#include "store/openssl_crypto.h"

namespace {

using namespace vtpm::manager;
using vtpm::store::Bytes;
using vtpm::store::Crypto;

// OpenSSL, except that "random" bytes count up: deterministic seeds.
class CountingCrypto final : public Crypto {
 public:
  bool random_bytes(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = next_++;
    return true;
  }
  bool gcm_seal(Bytes k, Bytes n, Bytes a, Bytes p, uint8_t* c, uint8_t* t) override {
    return o_.gcm_seal(k, n, a, p, c, t);
  }
  bool gcm_open(Bytes k, Bytes n, Bytes a, Bytes c, Bytes t, uint8_t* p) override {
    return o_.gcm_open(k, n, a, c, t, p);
  }
  bool cbc_encrypt(Bytes k, Bytes iv, Bytes in, uint8_t* out) override { return o_.cbc_encrypt(k, iv, in, out); }
  bool cbc_decrypt(Bytes k, Bytes iv, Bytes in, uint8_t* out) override { return o_.cbc_decrypt(k, iv, in, out); }
  bool hmac_sha256(Bytes k, Bytes a, Bytes b, uint8_t* out) override { return o_.hmac_sha256(k, a, b, out); }
  bool sha256(Bytes in, uint8_t* out) override { return o_.sha256(in, out); }
  bool sha512(Bytes in, uint8_t* out) override { return o_.sha512(in, out); }
  bool pbkdf2_sha512(Bytes p, Bytes s, uint32_t it, uint8_t* out, size_t n) override {
    return o_.pbkdf2_sha512(p, s, it, out, n);
  }
  bool hkdf_sha256(Bytes ikm, Bytes info, uint8_t* out, size_t n) override {
    return o_.hkdf_sha256(ikm, info, out, n);
  }

 private:
  vtpm::store::OpensslCrypto o_;
  uint8_t next_ = 0;
};

bool write(const std::string& dir, const char* name, const std::vector<uint8_t>& b) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  return std::fclose(f) == 0 && ok;
}

Table sample(Crypto& c, const RecordKeys& keys) {
  Table t;
  Group g;
  g.name = "tenant-a";
  g.spki = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
  g.approval_seq = 3;
  t.groups.push_back(g);
  for (uint8_t i = 0; i < 3; ++i) {
    Record r;
    r.uuid.fill(static_cast<uint8_t>(0x10 * (i + 1)));
    r.owner_uid = 1000u + i;
    r.group = i == 0 ? "" : "tenant-a";
    r.state = static_cast<RecordState>(i + 1);
    r.generation = i;
    r.digest.fill(static_cast<uint8_t>(0xd0 + i));
    r.prepared_generation = i + 1u;
    r.prepared_digest.fill(static_cast<uint8_t>(0xe0 + i));
    r.created_seq = 5u + i;
    const std::vector<uint8_t> key(32, static_cast<uint8_t>(0x40 + i));
    std::string err;
    wrap_instance_key(c, keys.wrap, r, key, r.wrapped, err);
    if (i == 1) {
      r.xen_blob.size = 52;
      for (uint8_t j = 0; j < 52; ++j) r.xen_blob.bytes[j] = static_cast<uint8_t>(j * 3);
    }
    t.records.push_back(r);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  CountingCrypto crypto;
  RecordKeys keys;
  std::string err;
  if (!derive_record_keys(crypto, Bytes(vtpm::fuzz::kManagerRootKey, 32), keys, err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  const Table t = sample(crypto, keys);
  bool ok = true;
  std::vector<uint8_t> out;
  ok &= encode_slot(crypto, t, 10, 4, keys.records, out, err) && write(dir, "slot_three_records.bin", out);
  ok &= encode_slot(crypto, Table(), 1, 0, keys.records, out, err) && write(dir, "slot_empty.bin", out);
  ok &= write(dir, "invalid_slot_truncated.bin", std::vector<uint8_t>(out.begin(), out.end() - 5));
  ok &= encode_table(t, out, err) && write(dir, "table_three_records.bin", out);
  std::vector<uint8_t> dup = out;
  ok &= write(dir, "invalid_table_trailing.bin", (dup.push_back(0), dup));
  Header h;
  h.srk_name = {0x00, 0x0b};
  h.srk_name.resize(34, 0xab);
  h.template_kind = 1;
  h.nv_index = 0x01500100;
  h.sealed_root = {0x00, 0x04, 1, 2, 3, 4, 0x00, 0x03, 5, 6, 7};
  h.pcr_mask = 0x81;
  ok &= encode_header(crypto, h, out, err) && write(dir, "header_ecc.bin", out);
  h.template_kind = 2;
  h.pcr_mask = 0;
  ok &= encode_header(crypto, h, out, err) && write(dir, "header_rsa.bin", out);
  out[20] ^= 1;
  ok &= write(dir, "invalid_header_digest.bin", out);
  if (!ok) {
    std::fprintf(stderr, "could not write the seeds: %s\n", err.c_str());
    return 1;
  }
  return 0;
}
