// Writes the seed corpus of manager_records_fuzz (fuzz/corpus/manager_records/): slots sealed
// under the keys HKDF'd from manager_records_keys.h's root key, their plaintext tables, headers,
// and a few invalid files. "Random" bytes count up, so every run writes the same files. Not run
// by the build:   build/fuzz/fuzz/manager_records_seeds fuzz/corpus/manager_records
#include <cstdio>
#include <string>
#include <vector>

#include "manager/records.h"
#include "manager_records_keys.h"
#include "seed_support.h"

namespace {

using vtpm::fuzz::CountingCrypto;
using vtpm::fuzz::write;

using namespace vtpm::manager;
using vtpm::store::Bytes;
using vtpm::store::Crypto;

Table sample(Crypto& c, const RecordKeys& keys) {
  Table t;
  Group g;
  g.name = "tenant-a";
  g.spki = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
  g.approval_seq = 3;
  g.nv_index = 0x01500200;
  g.sealed = {0x00, 0x02, 0xaa, 0xbb};  // shapes only: the codec does not look inside
  g.approval = {'V', 'T', 'P', 'M', 'A', 'P', 'R', '1'};
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
