// libFuzzer harness for the vtpm-manager wire codec (runtime/manager/protocol.h; runtime/manager/README.md
// §1), calling the functions the manager and the vTPM client call. The input is one message,
// parsed as a request and as the response to each ordinal. Invariants: an error has a sentence
// and leaves the output empty; frame_length agrees with the parser (a refused frame never
// parses, a parsed message is exactly paramSize bytes); whatever parses re-encodes to the same
// bytes (the codec is canonical); the status names are total.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "manager/protocol.h"

namespace {

using namespace vtpm::manager;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr Ordinal kOrdinals[] = {
    Ordinal::SaveHashKey, Ordinal::LoadHashKey, Ordinal::Open,   Ordinal::Prepare,
    Ordinal::Commit,      Ordinal::Status,      Ordinal::List,   Ordinal::Create,
    Ordinal::Delete,      Ordinal::GroupCreate, Ordinal::GroupApprove, Ordinal::ExportRecovery,
    Ordinal::ApprovalRequest};

bool same(const std::vector<uint8_t>& a, const uint8_t* b, size_t n) {
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t need = 0;
  const ParseResult frame = frame_length(data, size, need);
  check(frame.ok || (!frame.text.empty() && need == 0));
  check(!frame.ok || need == 0 || (need >= kHeaderBytes && need <= kMaxMessageBytes));

  Request q;
  const ParseResult r = parse_request(data, size, q);
  if (r.ok) {
    check(frame.ok && need == size);
    std::vector<uint8_t> out;
    check(encode_request(q, out));
    check(same(out, data, size));
  } else {
    check(!r.text.empty() && r.error != ParseError::None);
    check(q.group.empty() && q.xen_blob.empty() && q.spki.empty() && q.approval.empty());
  }

  for (Ordinal ord : kOrdinals) {
    Response s;
    const ParseResult rr = parse_response(ord, data, size, s);
    if (rr.ok) {
      check(frame.ok && need == size);
      std::vector<uint8_t> out;
      check(encode_response(s, out));
      check(same(out, data, size));
      check(status_known(static_cast<uint32_t>(s.status)));
    } else {
      check(!rr.text.empty() && rr.error != ParseError::None);
      check(s.key.empty() && s.xen_blob.empty() && s.srk_name.empty() && s.entries.empty());
    }
  }
  if (size >= kHeaderBytes) {
    const uint32_t word = (uint32_t{data[6]} << 24) | (uint32_t{data[7]} << 16) |
                          (uint32_t{data[8]} << 8) | data[9];
    check(status_name(word) != nullptr && status_text(word) != nullptr);
    check(ordinal_name(word) != nullptr);
  }
  return 0;
}
