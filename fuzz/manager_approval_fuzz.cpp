// libFuzzer harness for the group approval file (runtime/manager/approval.h): any input either
// parses into fields that re-encode to exactly the input, or is refused with a sentence; a parsed
// signature goes through the ECDSA DER and RSA length checks; the same bytes as a group key
// (PEM/DER SubjectPublicKeyInfo) either give an RSA-2048/P-256 key of the right sizes or fail.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "manager/approval.h"

using namespace vtpm::manager;

namespace {
void check(bool ok) {
  if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Approval a;
  std::string err;
  const ApprovalError e = parse_approval(data, size, a, err);
  if (e == ApprovalError::None) {
    std::vector<uint8_t> out;
    encode_approval(a, out);
    check(out.size() == size && std::memcmp(out.data(), data, size) == 0);
    check(!a.group.empty() && a.group.size() <= kApprovalMaxName && a.policy.seq != 0);
    for (SigningKind kind : {SigningKind::EccP256, SigningKind::Rsa2048}) {
      SigningKey key;
      key.kind = kind;
      TpmSignature sig;
      std::string why;
      if (approval_tpm_signature(key, a, sig, why)) {
        check(kind == SigningKind::Rsa2048 ? sig.a.size() == 256 && sig.b.empty()
                                           : sig.a.size() == 32 && sig.b.size() == 32);
      } else {
        check(!why.empty());
      }
    }
  } else {
    check(!err.empty());
  }
  SigningKey key;
  std::vector<uint8_t> spki;
  std::string why;
  if (parse_group_key(data, size, key, spki, why)) {
    check(key.kind == SigningKind::Rsa2048 ? key.a.size() == 256 && key.b.empty()
                                           : key.a.size() == 32 && key.b.size() == 32);
    check(!spki.empty());
  } else {
    check(!why.empty());
  }
  return 0;
}
