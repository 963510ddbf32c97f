// libFuzzer harness for the state store's parsers (STYLE.md 11: the functions production calls):
// the input goes to Container::parse, to decode_state_file without a key and with the fixed
// 128- and 256-bit keys (plain, swtpm AES-CBC, legacy and AES-256-GCM paths), and to
// decode_migration_blob with and without the migration and state keys. Invariants: an error
// always has a sentence and never leaves plaintext behind; whatever decodes as a plain state
// file re-encodes to the same bytes (but min_version, and for vtpmd's checked plain file the
// digest that covers it); the parser's views stay inside the input.
// Seeds: fuzz/corpus/state_file/, written by state_file_seeds.cpp under the keys of
// state_file_keys.h.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "state_file_keys.h"
#include "store/blob_codec.h"
#include "store/blob_format.h"
#include "store/openssl_crypto.h"

namespace {

using namespace vtpm::store;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// A decode result is either success, or an error with a message and no plaintext.
void check_result(BlobError e, const std::string& err, const std::vector<uint8_t>& plain) {
  if (e != BlobError::None) check(!err.empty() && plain.empty());
}

bool within(Bytes inner, Bytes outer) {
  return inner.empty() ||
         (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

struct Keys {
  OpensslCrypto crypto;
  StateKey k16, k32;
  Keys() {
    std::string err;
    check(derive_state_key(crypto, Bytes(vtpm::fuzz::kStateKey16, 16), k16, err));
    check(derive_state_key(crypto, Bytes(vtpm::fuzz::kStateKey32, 32), k32, err));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Keys keys;  // derived once: HKDF per input would only slow the fuzzer down
  const Bytes in(data, size);
  std::string err;

  Container c;
  if (Container::parse(in, c, err)) {
    check(c.header().total_len == size && within(c.payload(), in));
    for (uint16_t t : {1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15}) {
      check(within(c.value(t), in));
    }
  } else {
    check(!err.empty());
  }

  Binding b;
  b.tpm_version = vtpm::fuzz::kTpmVersion;
  b.kind = vtpm::fuzz::kKind;
  b.identity = vtpm::fuzz::kIdentity;
  const StateKey* const state_keys[] = {nullptr, &keys.k16, &keys.k32};
  for (const StateKey* k : state_keys) {
    DecodedState st;
    err.clear();
    const BlobError e = decode_state_file(keys.crypto, in, k, b, st, err);
    check_result(e, err, st.plain);
    if (e == BlobError::None && st.format == FileFormat::Plain && !st.checked) {
      check(!st.has_mark);
      std::vector<uint8_t> again;
      encode_plain_file(st.plain, again);
      // byte 1 (min_version) may be 1 or 2 in a valid file; we write swtpm's 1
      check(again.size() == size && std::equal(again.begin() + 2, again.end(), in.begin() + 2));
    } else if (e == BlobError::None && st.format == FileFormat::Plain) {
      // vtpmd's checked file: the same bytes again, but min_version and so the digest over it
      std::vector<uint8_t> again;
      check(encode_checked_plain_file(keys.crypto, st.plain, st.has_mark ? &st.mark : nullptr,
                                      again, err));
      check(again.size() == size && size >= 32 &&
            std::equal(again.begin() + 2, again.end() - 32, in.begin() + 2));
      if (in[1] == 1) check(std::equal(again.begin(), again.end(), in.begin()));
    }
  }

  const Bytes mk(vtpm::fuzz::kMigrationKey16, 16);
  const Bytes fk(vtpm::fuzz::kStateKey32, 32);
  for (int variant = 0; variant < 3; ++variant) {
    std::vector<uint8_t> plain;
    err.clear();
    const BlobError e = decode_migration_blob(keys.crypto, in, variant >= 1 ? mk : Bytes(),
                                              variant == 2 ? fk : Bytes(), plain, err);
    check_result(e, err, plain);
  }
  return 0;
}
