// The manager wire codec (protocol.h). The header is checked first (size, tag, ordinal), then a
// Body reader walks the body: every read checks what is left, every length is compared with its
// bound and with what is left before it is used, and the body must be used up exactly.
#include "manager/protocol.h"

#include <cstdio>

#include "wire/big_endian.h"

namespace vtpm::manager {
namespace {

using wire::get_be16;
using wire::get_be32;
using wire::get_be64;
using wire::put_be16;
using wire::put_be32;
using wire::put_be64;

std::string fmt(const char* f, unsigned long long a = 0, unsigned long long b = 0,
                unsigned long long c = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

ParseResult fail(ParseError e, std::string text) {
  ParseResult r;
  r.error = e;
  r.text = std::move(text);
  return r;
}

ParseResult good() {
  ParseResult r;
  r.ok = true;
  return r;
}

// A cursor over a message body; `what` names the field in errors.
class Body {
 public:
  Body(const uint8_t* p, size_t n, const char* ord) : p_(p), n_(n), ord_(ord) {}

  size_t left() const { return n_ - off_; }

  bool take(size_t k, const char* what, const uint8_t*& at, ParseResult& r) {
    if (left() < k) {
      r = fail(ParseError::Truncated,
               std::string(ord_) + ": the body ends inside " + what +
                   fmt(" (%llu bytes needed, %llu left)", k, left()));
      return false;
    }
    at = p_ + off_;
    off_ += k;
    return true;
  }
  bool u32(const char* what, uint32_t& v, ParseResult& r) {
    const uint8_t* at = nullptr;
    if (!take(4, what, at, r)) return false;
    v = get_be32(at);
    return true;
  }
  bool u64(const char* what, uint64_t& v, ParseResult& r) {
    const uint8_t* at = nullptr;
    if (!take(8, what, at, r)) return false;
    v = get_be64(at);
    return true;
  }
  template <size_t N>
  bool array(const char* what, std::array<uint8_t, N>& v, ParseResult& r) {
    const uint8_t* at = nullptr;
    if (!take(N, what, at, r)) return false;
    for (size_t i = 0; i < N; ++i) v[i] = at[i];
    return true;
  }
  // A length prefix of `prefix` bytes (2 or 4) then that many bytes, at most `max`.
  bool counted(const char* what, size_t prefix, size_t max, const uint8_t*& at, size_t& n,
               ParseResult& r) {
    const uint8_t* lp = nullptr;
    if (!take(prefix, what, lp, r)) return false;
    const uint32_t len = prefix == 2 ? get_be16(lp) : get_be32(lp);
    if (len > max) {
      r = fail(ParseError::FieldTooLong, std::string(ord_) + ": " + what +
                                             fmt(" is %llu bytes long, at most %llu are allowed",
                                                 len, max));
      return false;
    }
    if (len > left()) {
      r = fail(ParseError::FieldOverrun,
               std::string(ord_) + ": " + what +
                   fmt(" says %llu bytes, but only %llu are left in the body", len, left()));
      return false;
    }
    at = p_ + off_;
    n = len;
    off_ += len;
    return true;
  }
  bool string(const char* what, size_t max, std::string& s, ParseResult& r) {
    const uint8_t* at = nullptr;
    size_t n = 0;
    if (!counted(what, 4, max, at, n, r)) return false;
    s.assign(reinterpret_cast<const char*>(at), n);
    return true;
  }
  bool bytes(const char* what, size_t prefix, size_t max, std::vector<uint8_t>& v,
             ParseResult& r) {
    const uint8_t* at = nullptr;
    size_t n = 0;
    if (!counted(what, prefix, max, at, n, r)) return false;
    v.assign(at, at + n);
    return true;
  }
  bool end(ParseResult& r) {
    if (left() != 0) {
      r = fail(ParseError::TrailingBody,
               std::string(ord_) + fmt(": %llu bytes follow the last field of the body", left()));
      return false;
    }
    return true;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t off_ = 0;
  const char* ord_;
};

// A fixed-size body.
bool exact(const char* ord, size_t body, size_t want, ParseResult& r) {
  if (body == want) return true;
  r = fail(ParseError::BodyLength,
           std::string(ord) + fmt(": the body has %llu bytes, expected %llu", body, want));
  return false;
}

// The header checks shared by requests and responses; on success body/n are the body.
bool check_header(const uint8_t* buf, size_t len, uint16_t want_tag, const char* kind,
                  uint32_t& word, ParseResult& r) {
  if (len < kHeaderBytes) {
    r = fail(ParseError::Truncated, std::string(kind) + fmt(" has %llu bytes, fewer than the "
                                                            "%llu-byte header",
                                                            len, kHeaderBytes));
    return false;
  }
  const uint16_t tag = get_be16(buf);
  const uint32_t size = get_be32(buf + 2);
  if (tag != want_tag) {
    r = fail(ParseError::WrongTag,
             std::string(kind) + fmt(" tag is 0x%04llx, expected 0x%04llx", tag, want_tag));
    return false;
  }
  if (size < kHeaderBytes) {
    r = fail(ParseError::SizeTooSmall,
             std::string(kind) + fmt(" paramSize is %llu, less than the %llu-byte header", size,
                                     kHeaderBytes));
    return false;
  }
  if (size > kMaxMessageBytes) {
    r = fail(ParseError::SizeTooLarge,
             std::string(kind) + fmt(" paramSize is %llu, more than the %llu bytes a message "
                                     "may have",
                                     size, kMaxMessageBytes));
    return false;
  }
  if (len < size) {
    r = fail(ParseError::Truncated, std::string(kind) + fmt(" paramSize is %llu, but only %llu "
                                                            "bytes are there",
                                                            size, len));
    return false;
  }
  if (len > size) {
    r = fail(ParseError::TrailingBytes,
             std::string(kind) + fmt(" paramSize is %llu, but %llu bytes were given", size, len));
    return false;
  }
  word = get_be32(buf + 6);
  return true;
}

bool xen_blob_length(const char* ord, size_t n, ParseResult& r) {
  if (n >= kXenBlobMin && n <= kXenBlobMax) return true;
  r = fail(ParseError::XenBlobLength,
           std::string(ord) + fmt(": the key blob has %llu bytes, expected %llu to %llu", n,
                                  kXenBlobMin, kXenBlobMax));
  return false;
}

ParseResult parse_request_body(Ordinal ord, const uint8_t* p, size_t n, Request& out) {
  const char* name = ordinal_name(static_cast<uint32_t>(ord));
  ParseResult r = good();
  Body b(p, n, name);
  switch (ord) {
    case Ordinal::SaveHashKey:
      if (!xen_blob_length(name, n, r)) return r;
      out.xen_blob.assign(p, n);
      return r;
    case Ordinal::LoadHashKey:
    case Ordinal::Status:
    case Ordinal::List:
    case Ordinal::ExportRecovery:
      exact(name, n, 0, r);
      return r;
    case Ordinal::Open:
      if (!b.array("the uuid", out.uuid, r) || !b.u32("the flags", out.flags, r)) return r;
      if ((out.flags & ~kOpenKnownFlags) != 0) {
        return fail(ParseError::UnknownFlags,
                    fmt("Open: flags 0x%08llx has bits other than bit 0 (create)", out.flags));
      }
      if (!b.string("the group name", kMaxGroupBytes, out.group, r)) return r;
      b.end(r);
      return r;
    case Ordinal::Prepare:
      if (!exact(name, n, 8 + kDigestBytes, r)) return r;
      b.u64("the generation", out.generation, r);
      b.array("the digest", out.digest, r);
      return r;
    case Ordinal::Commit:
      if (!exact(name, n, 8, r)) return r;
      b.u64("the generation", out.generation, r);
      return r;
    case Ordinal::Create:
      if (!b.array("the uuid", out.uuid, r) ||
          !b.string("the group name", kMaxGroupBytes, out.group, r)) {
        return r;
      }
      b.end(r);
      return r;
    case Ordinal::Delete:
      if (!exact(name, n, kUuidBytes, r)) return r;
      b.array("the uuid", out.uuid, r);
      return r;
    case Ordinal::GroupCreate:
      if (!b.string("the group name", kMaxGroupBytes, out.group, r) ||
          !b.bytes("the public key", 4, kMaxSpkiBytes, out.spki, r)) {
        return r;
      }
      b.end(r);
      return r;
    case Ordinal::GroupApprove:
      if (!b.string("the group name", kMaxGroupBytes, out.group, r) ||
          !b.bytes("the approval", 4, kMaxMessageBytes, out.approval, r)) {
        return r;
      }
      b.end(r);
      return r;
    case Ordinal::ApprovalRequest:
      if (!b.string("the group name", kMaxGroupBytes, out.group, r) ||
          !b.u64("the sequence", out.seq, r) || !b.u32("the PCR mask", out.pcr_mask, r)) {
        return r;
      }
      b.end(r);
      return r;
  }
  return fail(ParseError::UnknownOrdinal, "unknown ordinal");  // not reached: checked before
}

ParseResult parse_response_body(Ordinal ord, const uint8_t* p, size_t n, Response& out) {
  const char* name = ordinal_name(static_cast<uint32_t>(ord));
  ParseResult r = good();
  Body b(p, n, name);
  switch (ord) {
    case Ordinal::SaveHashKey:
    case Ordinal::Prepare:
    case Ordinal::Commit:
    case Ordinal::Create:
    case Ordinal::Delete:
    case Ordinal::GroupCreate:
    case Ordinal::GroupApprove:
      exact(name, n, 0, r);
      return r;
    case Ordinal::LoadHashKey: {
      if (n != kXenBlobMin && n != kXenBlobMax) {
        return fail(ParseError::XenBlobLength,
                    fmt("LoadHashKey: the answer's key blob has %llu bytes, expected 52 or 64", n));
      }
      bool tail = false;
      for (size_t i = kXenBlobMin; i < n; ++i) tail = tail || p[i] != 0;
      if (n == kXenBlobMax && !tail) {
        return fail(ParseError::XenBlobLength,
                    "LoadHashKey: the answer has 64 bytes whose last 12 are zero; it must have 52");
      }
      out.xen_blob.assign(p, n);
      return r;
    }
    case Ordinal::Open:
      if (!exact(name, n, 2 * (8 + kDigestBytes) + kKeyBytes, r)) return r;
      b.u64("the generation", out.generation, r);
      b.array("the digest", out.digest, r);
      b.u64("the prepared generation", out.prepared_generation, r);
      b.array("the prepared digest", out.prepared_digest, r);
      out.key.assign(p + 2 * (8 + kDigestBytes), kKeyBytes);
      return r;
    case Ordinal::ExportRecovery:
      if (!exact(name, n, kRecoveryKeyBytes, r)) return r;
      out.recovery.assign(p, kRecoveryKeyBytes);
      return r;
    case Ordinal::ApprovalRequest:
      if (!b.bytes("the approval request", 4, kMaxMessageBytes, out.approval, r)) return r;
      b.end(r);
      return r;
    case Ordinal::Status:
      if (!b.u32("the state", out.state, r) || !b.u64("the counter", out.counter, r) ||
          !b.u64("the soft sequence", out.soft_seq, r) || !b.u32("the record count", out.records, r) ||
          !b.bytes("the SRK name", 2, kMaxSrkNameBytes, out.srk_name, r)) {
        return r;
      }
      b.end(r);
      return r;
    case Ordinal::List: {
      uint32_t count = 0;
      if (!b.u32("the entry count", count, r)) return r;
      // each entry has at least uuid + state + generation + group_len bytes
      constexpr size_t kMinEntry = kUuidBytes + 4 + 8 + 4;
      if (count > b.left() / kMinEntry) {
        return fail(ParseError::FieldOverrun,
                    fmt("List: %llu entries cannot fit in the %llu bytes left (%llu each at least)",
                        count, b.left(), kMinEntry));
      }
      out.entries.resize(count);
      for (ListEntry& e : out.entries) {
        if (!b.array("an entry's uuid", e.uuid, r) || !b.u32("an entry's state", e.state, r) ||
            !b.u64("an entry's generation", e.generation, r) ||
            !b.string("an entry's group name", kMaxGroupBytes, e.group, r)) {
          return r;
        }
      }
      b.end(r);
      return r;
    }
  }
  return fail(ParseError::UnknownOrdinal, "unknown ordinal");  // not reached
}

void put_string(std::vector<uint8_t>& out, const uint8_t* p, size_t n, size_t prefix) {
  const size_t at = out.size();
  out.resize(at + prefix);
  if (prefix == 2) put_be16(&out[at], static_cast<uint16_t>(n));
  else put_be32(&out[at], static_cast<uint32_t>(n));
  out.insert(out.end(), p, p + n);
}
void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put_string(out, reinterpret_cast<const uint8_t*>(s.data()), s.size(), 4);
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  const size_t at = out.size();
  out.resize(at + 4);
  put_be32(&out[at], v);
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  const size_t at = out.size();
  out.resize(at + 8);
  put_be64(&out[at], v);
}
template <size_t N>
void put_array(std::vector<uint8_t>& out, const std::array<uint8_t, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}

void start(std::vector<uint8_t>& out, uint16_t tag, uint32_t word) {
  out.assign(kHeaderBytes, 0);
  put_be16(&out[0], tag);
  put_be32(&out[6], word);
}

bool finish(std::vector<uint8_t>& out) {
  if (out.size() > kMaxMessageBytes) {
    store::wipe(out.data(), out.size());
    out.clear();
    return false;
  }
  put_be32(&out[2], static_cast<uint32_t>(out.size()));
  return true;
}

bool refuse(std::vector<uint8_t>& out) {
  store::wipe(out.data(), out.size());
  out.clear();
  return false;
}

}  // namespace

bool ordinal_known(uint32_t o) {
  return (o >= 1 && o <= 2) || (o >= 0x40000001 && o <= 0x40000003) ||
         (o >= 0x40000010 && o <= 0x40000017);
}

const char* ordinal_name(uint32_t o) {
  switch (o) {
    case 0x00000001: return "SaveHashKey";
    case 0x00000002: return "LoadHashKey";
    case 0x40000001: return "Open";
    case 0x40000002: return "Prepare";
    case 0x40000003: return "Commit";
    case 0x40000010: return "Status";
    case 0x40000011: return "List";
    case 0x40000012: return "Create";
    case 0x40000013: return "Delete";
    case 0x40000014: return "GroupCreate";
    case 0x40000015: return "GroupApprove";
    case 0x40000016: return "ExportRecovery";
    case 0x40000017: return "ApprovalRequest";
    default: return "unknown";
  }
}

bool status_known(uint32_t s) { return s == 0 || s == 3 || (s >= 0x40000001 && s <= 0x40000012); }

const char* status_name(uint32_t s) {
  switch (s) {
    case 0x00: return "TPM_SUCCESS";
    case 0x03: return "TPM_BAD_PARAMETER";
    case 0x40000001: return "VTPM_MGR_MALFORMED";
    case 0x40000002: return "VTPM_MGR_UNKNOWN_ORDINAL";
    case 0x40000003: return "VTPM_MGR_NOT_BOUND";
    case 0x40000004: return "VTPM_MGR_UNKNOWN_INSTANCE";
    case 0x40000005: return "VTPM_MGR_FOREIGN";
    case 0x40000006: return "VTPM_MGR_NOT_OWNER";
    case 0x40000007: return "VTPM_MGR_BUSY";
    case 0x40000008: return "VTPM_MGR_RETIRED";
    case 0x40000009: return "VTPM_MGR_STALE";
    case 0x4000000a: return "VTPM_MGR_FAILED_CLOSED";
    case 0x4000000b: return "VTPM_MGR_NOT_SERVING";
    case 0x4000000c: return "VTPM_MGR_STORAGE_ERROR";
    case 0x4000000d: return "VTPM_MGR_TPM_ERROR";
    case 0x4000000e: return "VTPM_MGR_EXISTS";
    case 0x4000000f: return "VTPM_MGR_NO_SUCH_GROUP";
    case 0x40000010: return "VTPM_MGR_BAD_APPROVAL";
    case 0x40000011: return "VTPM_MGR_NOT_ADMIN";
    case 0x40000012: return "VTPM_MGR_NO_APPROVAL";
    default: return "unknown status";
  }
}

const char* status_text(uint32_t s) {
  switch (s) {
    case 0x00: return "The request succeeded.";
    case 0x03: return "The key blob must have 52 to 64 bytes.";
    case 0x40000001: return "The request was malformed (a length or field is out of bounds).";
    case 0x40000002: return "The manager does not know the request's ordinal.";
    case 0x40000003: return "The connection is not bound to an instance; send Open first.";
    case 0x40000004: return "The manager has no record of this instance.";
    case 0x40000005:
      return "The instance is foreign: unknown with existing state, or recorded in another group.";
    case 0x40000006: return "The caller's uid is not the owner of this instance's record.";
    case 0x40000007: return "The instance is bound by another connection.";
    case 0x40000008: return "The instance has been retired and can no longer be opened.";
    case 0x40000009:
      return "The generation is stale: not greater than the stored one, or not the prepared one.";
    case 0x4000000a: return "The manager has failed closed and answers only Status.";
    case 0x4000000b: return "The manager is not serving yet (its root key is not unsealed).";
    case 0x4000000c: return "The manager could not store its records durably.";
    case 0x4000000d: return "The host TPM refused or failed a command.";
    case 0x4000000e: return "A record or group of that name already exists.";
    case 0x4000000f: return "There is no group of that name.";
    case 0x40000010: return "The group approval did not verify.";
    case 0x40000011: return "Only the manager's administrator may do this.";
    case 0x40000012:
      return "No signed approval of the instance's group matches the host's PCRs now (vtpmctl "
             "group approval-request, then group approve).";
    default: return "The status code is not one the manager defines.";
  }
}

const char* parse_error_name(ParseError e) {
  switch (e) {
    case ParseError::None: return "none";
    case ParseError::Truncated: return "truncated";
    case ParseError::TrailingBytes: return "trailing bytes";
    case ParseError::SizeTooSmall: return "paramSize too small";
    case ParseError::SizeTooLarge: return "paramSize too large";
    case ParseError::WrongTag: return "wrong tag";
    case ParseError::UnknownOrdinal: return "unknown ordinal";
    case ParseError::UnknownStatus: return "unknown status";
    case ParseError::BodyLength: return "wrong body length";
    case ParseError::XenBlobLength: return "bad key blob length";
    case ParseError::FieldTooLong: return "field too long";
    case ParseError::FieldOverrun: return "field overruns the body";
    case ParseError::TrailingBody: return "trailing bytes in the body";
    case ParseError::UnknownFlags: return "unknown flags";
    case ParseError::BodyOnError: return "body on an error status";
  }
  return "?";
}

Status status_for(ParseError e) {
  if (e == ParseError::XenBlobLength) return Status::BadParameter;
  if (e == ParseError::UnknownOrdinal) return Status::UnknownOrdinal;
  return Status::Malformed;
}

void Request::reset() {
  ordinal = Ordinal::Status;
  uuid = {};
  flags = 0;
  group.clear();
  generation = 0;
  digest = {};
  xen_blob.clear();
  spki.clear();
  approval.clear();
  seq = 0;
  pcr_mask = 0;
}

void Response::reset() {
  ordinal = Ordinal::Status;
  status = Status::Success;
  generation = 0;
  digest = {};
  prepared_generation = 0;
  prepared_digest = {};
  key.clear();
  xen_blob.clear();
  state = 0;
  counter = 0;
  soft_seq = 0;
  records = 0;
  srk_name.clear();
  entries.clear();
  recovery.clear();
  approval.clear();
}

ParseResult frame_length(const uint8_t* buf, size_t len, size_t& need) {
  need = 0;
  if (len < kHeaderBytes) return good();
  const uint16_t tag = get_be16(buf);
  const uint32_t size = get_be32(buf + 2);
  if (tag != kTagRequest && tag != kTagResponse) {
    return fail(ParseError::WrongTag, fmt("message tag is 0x%04llx, expected 0x01c1 or 0x01c4", tag));
  }
  if (size < kHeaderBytes) {
    return fail(ParseError::SizeTooSmall,
                fmt("message paramSize is %llu, less than the 10-byte header", size));
  }
  if (size > kMaxMessageBytes) {
    return fail(ParseError::SizeTooLarge,
                fmt("message paramSize is %llu, more than the %llu bytes a message may have", size,
                    kMaxMessageBytes));
  }
  need = size;
  return good();
}

ParseResult parse_request(const uint8_t* buf, size_t len, Request& out) {
  out.reset();
  ParseResult r;
  uint32_t ord = 0;
  if (!check_header(buf, len, kTagRequest, "request", ord, r)) return r;
  if (!ordinal_known(ord)) {
    return fail(ParseError::UnknownOrdinal, fmt("request ordinal 0x%08llx is not known", ord));
  }
  out.ordinal = static_cast<Ordinal>(ord);
  r = parse_request_body(out.ordinal, buf + kHeaderBytes, len - kHeaderBytes, out);
  if (!r.ok) out.reset();
  return r;
}

ParseResult parse_response(Ordinal for_request, const uint8_t* buf, size_t len, Response& out) {
  out.reset();
  ParseResult r;
  uint32_t status = 0;
  if (!check_header(buf, len, kTagResponse, "response", status, r)) return r;
  if (!status_known(status)) {
    return fail(ParseError::UnknownStatus, fmt("response status 0x%08llx is not known", status));
  }
  if (!ordinal_known(static_cast<uint32_t>(for_request))) {
    return fail(ParseError::UnknownOrdinal,
                fmt("a response to ordinal 0x%08llx cannot be parsed: the ordinal is not known",
                    static_cast<uint32_t>(for_request)));
  }
  out.ordinal = for_request;
  out.status = static_cast<Status>(status);
  if (status != 0) {
    if (len != kHeaderBytes) {
      out.reset();
      return fail(ParseError::BodyOnError,
                  std::string(ordinal_name(static_cast<uint32_t>(for_request))) +
                      fmt(": the response with status 0x%08llx has a %llu-byte body; an error "
                          "has none",
                          status, len - kHeaderBytes));
    }
    return good();
  }
  r = parse_response_body(for_request, buf + kHeaderBytes, len - kHeaderBytes, out);
  if (!r.ok) out.reset();
  return r;
}

bool encode_request(const Request& q, std::vector<uint8_t>& out) {
  start(out, kTagRequest, static_cast<uint32_t>(q.ordinal));
  switch (q.ordinal) {
    case Ordinal::SaveHashKey:
      if (q.xen_blob.size() < kXenBlobMin || q.xen_blob.size() > kXenBlobMax) return refuse(out);
      out.insert(out.end(), q.xen_blob.data(), q.xen_blob.data() + q.xen_blob.size());
      break;
    case Ordinal::LoadHashKey:
    case Ordinal::Status:
    case Ordinal::List:
    case Ordinal::ExportRecovery:
      break;
    case Ordinal::Open:
      if (q.group.size() > kMaxGroupBytes || (q.flags & ~kOpenKnownFlags) != 0) return refuse(out);
      put_array(out, q.uuid);
      put_u32(out, q.flags);
      put_string(out, q.group);
      break;
    case Ordinal::Prepare:
      put_u64(out, q.generation);
      put_array(out, q.digest);
      break;
    case Ordinal::Commit:
      put_u64(out, q.generation);
      break;
    case Ordinal::Create:
      if (q.group.size() > kMaxGroupBytes) return refuse(out);
      put_array(out, q.uuid);
      put_string(out, q.group);
      break;
    case Ordinal::Delete:
      put_array(out, q.uuid);
      break;
    case Ordinal::GroupCreate:
      if (q.group.size() > kMaxGroupBytes || q.spki.size() > kMaxSpkiBytes) return refuse(out);
      put_string(out, q.group);
      put_string(out, q.spki.data(), q.spki.size(), 4);
      break;
    case Ordinal::GroupApprove:
      if (q.group.size() > kMaxGroupBytes || q.approval.size() > kMaxMessageBytes) {
        return refuse(out);
      }
      put_string(out, q.group);
      put_string(out, q.approval.data(), q.approval.size(), 4);
      break;
    case Ordinal::ApprovalRequest:
      if (q.group.size() > kMaxGroupBytes) return refuse(out);
      put_string(out, q.group);
      put_u64(out, q.seq);
      put_u32(out, q.pcr_mask);
      break;
    default:
      return refuse(out);
  }
  return finish(out);
}

bool encode_response(const Response& s, std::vector<uint8_t>& out) {
  start(out, kTagResponse, static_cast<uint32_t>(s.status));
  if (!status_known(static_cast<uint32_t>(s.status))) return refuse(out);
  if (s.status != Status::Success) return finish(out);
  switch (s.ordinal) {
    case Ordinal::SaveHashKey:
    case Ordinal::Prepare:
    case Ordinal::Commit:
    case Ordinal::Create:
    case Ordinal::Delete:
    case Ordinal::GroupCreate:
    case Ordinal::GroupApprove:
      break;
    case Ordinal::LoadHashKey: {
      // Xen: the stored blob is zero-padded to 64; 64 bytes go out iff bytes 52..63 are not all 0
      const size_t n = s.xen_blob.size();
      if (n < kXenBlobMin || n > kXenBlobMax) return refuse(out);
      bool tail = false;
      for (size_t i = kXenBlobMin; i < n; ++i) tail = tail || s.xen_blob.data()[i] != 0;
      out.insert(out.end(), s.xen_blob.data(), s.xen_blob.data() + n);
      if (tail) out.resize(kHeaderBytes + kXenBlobMax, 0);
      else out.resize(kHeaderBytes + kXenBlobMin);
      break;
    }
    case Ordinal::Open:
      if (s.key.size() != kKeyBytes) return refuse(out);
      put_u64(out, s.generation);
      put_array(out, s.digest);
      put_u64(out, s.prepared_generation);
      put_array(out, s.prepared_digest);
      out.insert(out.end(), s.key.data(), s.key.data() + kKeyBytes);
      break;
    case Ordinal::ExportRecovery:
      if (s.recovery.size() != kRecoveryKeyBytes) return refuse(out);
      out.insert(out.end(), s.recovery.data(), s.recovery.data() + kRecoveryKeyBytes);
      break;
    case Ordinal::ApprovalRequest:
      if (s.approval.size() > kMaxMessageBytes - kHeaderBytes - 4) return refuse(out);
      put_string(out, s.approval.data(), s.approval.size(), 4);
      break;
    case Ordinal::Status:
      if (s.srk_name.size() > kMaxSrkNameBytes) return refuse(out);
      put_u32(out, s.state);
      put_u64(out, s.counter);
      put_u64(out, s.soft_seq);
      put_u32(out, s.records);
      put_string(out, s.srk_name.data(), s.srk_name.size(), 2);
      break;
    case Ordinal::List:
      put_u32(out, static_cast<uint32_t>(s.entries.size()));
      for (const ListEntry& e : s.entries) {
        if (e.group.size() > kMaxGroupBytes || out.size() > kMaxMessageBytes) return refuse(out);
        put_array(out, e.uuid);
        put_u32(out, e.state);
        put_u64(out, e.generation);
        put_string(out, e.group);
      }
      break;
    default:
      return refuse(out);
  }
  return finish(out);
}

bool parse_uuid(const std::string& text, Uuid& out) {
  if (text.size() != 36) return false;
  Uuid u{};
  size_t j = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
      i++;
      continue;
    }
    uint8_t byte = 0;
    for (int k = 0; k < 2; k++, i++) {
      const char c = text[i];
      byte = static_cast<uint8_t>(byte << 4);
      if (c >= '0' && c <= '9') {
        byte = static_cast<uint8_t>(byte | (c - '0'));
      } else if (c >= 'a' && c <= 'f') {
        byte = static_cast<uint8_t>(byte | (c - 'a' + 10));
      } else if (c >= 'A' && c <= 'F') {
        byte = static_cast<uint8_t>(byte | (c - 'A' + 10));
      } else {
        return false;
      }
    }
    u[j++] = byte;
  }
  out = u;
  return true;
}

std::string uuid_text(const Uuid& u) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < u.size(); i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(digits[u[i] >> 4]);
    s.push_back(digits[u[i] & 15]);
  }
  return s;
}

}  // namespace vtpm::manager
