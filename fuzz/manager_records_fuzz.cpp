// libFuzzer harness for the vtpm-manager's record files (runtime/manager/records.h; runtime/manager/README.md
// §2), calling the decoders the manager calls on DIR/records.{a,b} and DIR/header. The input goes
// to decode_recovery (the offline recovery file), to decode_slot under the keys of manager_records_keys.h, to decode_table (the slot's plaintext,
// which the fuzzer cannot reach through GCM otherwise), and to parse_header as it is and with its
// trailing SHA-256 recomputed (so the field parser behind the digest is reached). Invariants: an
// error has a sentence and leaves the output as it was; what decodes re-encodes to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "manager/records.h"
#include "manager_records_keys.h"
#include "store/openssl_crypto.h"

namespace {

using namespace vtpm::manager;
using vtpm::store::Bytes;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Keys {
  vtpm::store::OpensslCrypto crypto;
  RecordKeys keys;
  vtpm::store::SecretKey recovery;
  Keys() {
    std::string err;
    check(derive_record_keys(crypto, Bytes(vtpm::fuzz::kManagerRootKey, 32), keys, err));
    check(derive_recovery_key(crypto, Bytes(vtpm::fuzz::kManagerRootKey, 32), recovery, err));
  }
};

void header_case(Keys& k, Bytes in) {
  Header h;
  h.pcr_mask = 0x5a5a;
  std::string err;
  const RecordError e = parse_header(k.crypto, in, h, err);
  if (e == RecordError::None) {
    std::vector<uint8_t> again;
    check(encode_header(k.crypto, h, again, err));
    check(again.size() == in.size() && std::equal(again.begin(), again.end(), in.begin()));
  } else {
    check(!err.empty() && h.pcr_mask == 0x5a5a && h.srk_name.empty() && h.sealed_root.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Keys k;  // derived once: HKDF per input would only slow the fuzzer down
  const Bytes in(data, size);
  std::string err;

  Table t;
  uint64_t counter = 7, seq = 9;
  RecordError e = decode_slot(k.crypto, in, k.keys.records, t, counter, seq, err);
  if (e == RecordError::None) {
    std::vector<uint8_t> out;
    check(encode_slot(k.crypto, t, counter, seq, k.keys.records, out, err));
    check(out.size() == size);
    for (const Record& r : t.records) {
      vtpm::store::SecretKey key;
      unwrap_instance_key(k.crypto, k.keys.wrap, r, key, err);  // either result is fine
    }
  } else {
    check(!err.empty() && counter == 7 && seq == 9 && t.groups.empty() && t.records.empty());
  }

  vtpm::store::SecretKey secret;  // the recovery file: only a whole, authentic file opens
  err.clear();
  if (decode_recovery(k.crypto, in, k.recovery, secret, err) == RecordError::None) {
    check(secret.size() == kRecoverySecretLen);
  } else {
    check(!err.empty() && secret.empty());
  }

  Table plain;
  err.clear();
  e = decode_table(in, plain, err);
  if (e == RecordError::None) {
    std::vector<uint8_t> again;
    check(encode_table(plain, again, err));
    check(again.size() == size && std::equal(again.begin(), again.end(), in.begin()));
  } else {
    check(!err.empty() && plain.groups.empty() && plain.records.empty());
  }

  header_case(k, in);
  if (size >= 32 && size <= 4096) {
    std::vector<uint8_t> fixed(data, data + size - 32);
    uint8_t d[32];
    check(k.crypto.sha256(fixed, d));
    fixed.insert(fixed.end(), d, d + 32);
    header_case(k, fixed);
  }
  return 0;
}
