// The manager's header and record slots (records.h): codecs, key derivation and wrapping, the
// durable file writer and the A/B acceptance rule. Every length is checked against its bound
// and against what is left before it is used; decoders fill a local value and hand it out
// only when everything parsed, so a failure never leaves half a table behind.
#include "manager/records.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "wire/big_endian.h"

namespace vtpm::manager {
namespace {

using store::Bytes;
using store::Crypto;
using wire::get_be16;
using wire::get_be32;
using wire::get_be64;
using wire::put_be16;
using wire::put_be32;
using wire::put_be64;

constexpr char kHeaderMagic[8] = {'V', 'T', 'P', 'M', 'M', 'G', 'R', 'H'};
constexpr char kSlotMagic[8] = {'V', 'T', 'P', 'M', 'M', 'G', 'R', 'R'};
constexpr uint16_t kVersion = 1;
constexpr char kRecordsInfo[] = "vtpm-manager records v1";
constexpr char kWrapInfo[] = "vtpm-manager instance key v1";
constexpr char kRecoveryInfo[] = "vtpm-manager recovery v1";            // root -> recovery key
constexpr char kRecoveryFileInfo[] = "vtpm-manager recovery file v1";   // recovery key -> file key
constexpr char kRecoveryMagic[] = "VTPMMGRK";
constexpr size_t kMinGroup = 4 + 4 + 8 + 4 + 4 + 4;
constexpr size_t kMinRecord = 16 + 4 + 4 + 1 + 8 + 32 + 8 + 32 + 12 + 32 + 16 + 8 + 2;
constexpr size_t kMaxHeaderBytes = 8 + 2 + 2 + kMaxSrkName + 1 + 4 + 4 + kMaxSealedRootBytes + 4 + 32;
constexpr int kMaxEintr = 100;

std::string fmt(const char* f, unsigned long long a = 0, unsigned long long b = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

std::string errno_text() { return std::strerror(errno); }

template <class F>
auto retry_eintr(F f) {
  auto r = f();
  for (int n = 0; r < 0 && errno == EINTR && n < kMaxEintr; ++n) r = f();
  return r;
}

Bytes text_bytes(const char* s) { return Bytes(reinterpret_cast<const uint8_t*>(s), std::strlen(s)); }

// A cursor over a decoded buffer; `what` names the field in errors.
class Reader {
 public:
  Reader(Bytes in, const char* file) : in_(in), file_(file) {}
  size_t left() const { return in_.size() - off_; }
  size_t offset() const { return off_; }

  bool take(size_t n, const char* what, const uint8_t*& at, RecordError& e, std::string& err) {
    if (left() < n) {
      e = RecordError::Truncated;
      err = std::string(file_) + " ends inside " + what + fmt(" (%llu bytes needed, %llu left)", n, left());
      return false;
    }
    at = in_.data() + off_;
    off_ += n;
    return true;
  }
  bool u8(const char* what, uint8_t& v, RecordError& e, std::string& err) {
    const uint8_t* at = nullptr;
    if (!take(1, what, at, e, err)) return false;
    v = *at;
    return true;
  }
  bool u16(const char* what, uint16_t& v, RecordError& e, std::string& err) {
    const uint8_t* at = nullptr;
    if (!take(2, what, at, e, err)) return false;
    v = get_be16(at);
    return true;
  }
  bool u32(const char* what, uint32_t& v, RecordError& e, std::string& err) {
    const uint8_t* at = nullptr;
    if (!take(4, what, at, e, err)) return false;
    v = get_be32(at);
    return true;
  }
  bool u64(const char* what, uint64_t& v, RecordError& e, std::string& err) {
    const uint8_t* at = nullptr;
    if (!take(8, what, at, e, err)) return false;
    v = get_be64(at);
    return true;
  }
  template <size_t N>
  bool array(const char* what, std::array<uint8_t, N>& v, RecordError& e, std::string& err) {
    const uint8_t* at = nullptr;
    if (!take(N, what, at, e, err)) return false;
    std::copy(at, at + N, v.begin());
    return true;
  }
  // be16/be32 length then bytes, at most max.
  bool counted(const char* what, size_t prefix, size_t max, const uint8_t*& at, size_t& n,
               RecordError& e, std::string& err) {
    uint32_t len = 0;
    if (prefix == 2) {
      uint16_t l16 = 0;
      if (!u16(what, l16, e, err)) return false;
      len = l16;
    } else if (!u32(what, len, e, err)) {
      return false;
    }
    if (len > max) {
      e = RecordError::FieldTooLong;
      err = std::string(file_) + ": " + what + fmt(" is %llu bytes long, at most %llu are allowed", len, max);
      return false;
    }
    if (!take(len, what, at, e, err)) return false;
    n = len;
    return true;
  }
  bool string(const char* what, size_t max, std::string& s, RecordError& e, std::string& err) {
    const uint8_t* at = nullptr;
    size_t n = 0;
    if (!counted(what, 4, max, at, n, e, err)) return false;
    s.assign(reinterpret_cast<const char*>(at), n);
    return true;
  }
  bool bytes(const char* what, size_t prefix, size_t max, std::vector<uint8_t>& v, RecordError& e,
             std::string& err) {
    const uint8_t* at = nullptr;
    size_t n = 0;
    if (!counted(what, prefix, max, at, n, e, err)) return false;
    v.assign(at, at + n);
    return true;
  }
  // A count of entries of at least `min` bytes each: more than can fit is refused up front.
  bool count(const char* what, size_t min, uint32_t& n, RecordError& e, std::string& err) {
    if (!u32(what, n, e, err)) return false;
    if (n > left() / min) {
      e = RecordError::Truncated;
      err = std::string(file_) + fmt(": %llu entries cannot fit in the %llu bytes left", n, left()) +
            " (" + what + ")";
      return false;
    }
    return true;
  }
  bool end(RecordError& e, std::string& err) {
    if (left() == 0) return true;
    e = RecordError::TrailingBytes;
    err = std::string(file_) + fmt(": %llu bytes follow the last field", left());
    return false;
  }

 private:
  Bytes in_;
  size_t off_ = 0;
  const char* file_;
};

void put8(std::vector<uint8_t>& o, uint8_t v) { o.push_back(v); }
void put16(std::vector<uint8_t>& o, uint16_t v) {
  o.resize(o.size() + 2);
  put_be16(&o[o.size() - 2], v);
}
void put32(std::vector<uint8_t>& o, uint32_t v) {
  o.resize(o.size() + 4);
  put_be32(&o[o.size() - 4], v);
}
void put64(std::vector<uint8_t>& o, uint64_t v) {
  o.resize(o.size() + 8);
  put_be64(&o[o.size() - 8], v);
}
void put_bytes(std::vector<uint8_t>& o, const uint8_t* p, size_t n) { o.insert(o.end(), p, p + n); }
template <size_t N>
void put_array(std::vector<uint8_t>& o, const std::array<uint8_t, N>& a) {
  o.insert(o.end(), a.begin(), a.end());
}
void put_string(std::vector<uint8_t>& o, const std::string& s) {
  put32(o, static_cast<uint32_t>(s.size()));
  put_bytes(o, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

bool valid_state(uint8_t s) { return s >= 1 && s <= 3; }

// AAD of a wrapped instance key: uuid ‖ group ‖ be64 created_seq.
std::vector<uint8_t> wrap_aad(const Record& r) {
  std::vector<uint8_t> aad(r.uuid.begin(), r.uuid.end());
  put_bytes(aad, reinterpret_cast<const uint8_t*>(r.group.data()), r.group.size());
  put64(aad, r.created_seq);
  return aad;
}

void wipe_vector(std::vector<uint8_t>& v) {
  store::wipe(v.data(), v.size());
  v.clear();
}

RecordError decode_table_into(Bytes in, Table& t, std::string& err) {
  Reader r(in, "the record table");
  RecordError e = RecordError::None;
  uint32_t n = 0;
  if (!r.count("the group count", kMinGroup, n, e, err)) return e;
  t.groups.resize(n);
  for (Group& g : t.groups) {
    if (!r.string("a group name", kMaxGroupNameBytes, g.name, e, err) ||
        !r.bytes("a group's public key", 4, kMaxGroupSpkiBytes, g.spki, e, err) ||
        !r.u64("a group's approval sequence", g.approval_seq, e, err) ||
        !r.u32("a group's revocation index", g.nv_index, e, err) ||
        !r.bytes("a group's sealed secret", 4, kMaxGroupSealedBytes, g.sealed, e, err) ||
        !r.bytes("a group's approval", 4, kMaxGroupApprovalBytes, g.approval, e, err)) {
      return e;
    }
  }
  if (!r.count("the record count", kMinRecord, n, e, err)) return e;
  t.records.resize(n);
  for (Record& rec : t.records) {
    uint8_t state = 0;
    const uint8_t* xen = nullptr;
    size_t xen_len = 0;
    if (!r.array("a record's uuid", rec.uuid, e, err) ||
        !r.u32("a record's owner uid", rec.owner_uid, e, err) ||
        !r.string("a record's group", kMaxGroupNameBytes, rec.group, e, err) ||
        !r.u8("a record's state", state, e, err)) {
      return e;
    }
    if (!valid_state(state)) {
      err = fmt("the record table: a record's state is %llu, expected 1 (created), 2 (saved) or 3 "
                "(retired)",
                state);
      return RecordError::BadState;
    }
    rec.state = static_cast<RecordState>(state);
    if (!r.u64("a record's generation", rec.generation, e, err) ||
        !r.array("a record's digest", rec.digest, e, err) ||
        !r.u64("a record's prepared generation", rec.prepared_generation, e, err) ||
        !r.array("a record's prepared digest", rec.prepared_digest, e, err) ||
        !r.array("a wrapped key's nonce", rec.wrapped.nonce, e, err) ||
        !r.array("a wrapped key", rec.wrapped.ct, e, err) ||
        !r.array("a wrapped key's tag", rec.wrapped.tag, e, err) ||
        !r.u64("a record's created sequence", rec.created_seq, e, err) ||
        !r.counted("a record's Xen blob", 2, kMaxXenBlobBytes, xen, xen_len, e, err)) {
      return e;
    }
    std::copy(xen, xen + xen_len, rec.xen_blob.bytes.begin());
    rec.xen_blob.size = static_cast<uint8_t>(xen_len);
  }
  if (!r.end(e, err)) return e;

  std::vector<std::string> names;
  for (const Group& g : t.groups) names.push_back(g.name);
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
    err = "the record table has two groups named '" + *std::adjacent_find(names.begin(), names.end()) + "'";
    return RecordError::Duplicate;
  }
  std::vector<RecordUuid> uuids;
  for (const Record& rec : t.records) uuids.push_back(rec.uuid);
  std::sort(uuids.begin(), uuids.end());
  if (std::adjacent_find(uuids.begin(), uuids.end()) != uuids.end()) {
    err = "the record table has two records with one UUID";
    return RecordError::Duplicate;
  }
  return RecordError::None;
}

}  // namespace

const char* record_error_name(RecordError e) {
  switch (e) {
    case RecordError::None: return "none";
    case RecordError::Truncated: return "truncated";
    case RecordError::TooLarge: return "too large";
    case RecordError::BadMagic: return "bad magic";
    case RecordError::BadVersion: return "bad version";
    case RecordError::FieldTooLong: return "field too long";
    case RecordError::TrailingBytes: return "trailing bytes";
    case RecordError::Duplicate: return "duplicate";
    case RecordError::BadState: return "bad state";
    case RecordError::BadValue: return "bad value";
    case RecordError::BadDigest: return "bad digest";
    case RecordError::NotAuthentic: return "not authentic";
    case RecordError::CryptoFailed: return "crypto failed";
    case RecordError::Io: return "i/o error";
    case RecordError::Absent: return "absent";
    case RecordError::NoSlots: return "no slots";
    case RecordError::Corrupt: return "corrupt";
    case RecordError::Rollback: return "rollback";
    case RecordError::Ahead: return "ahead";
  }
  return "?";
}

bool derive_record_keys(Crypto& c, Bytes root, RecordKeys& out, std::string& err) {
  uint8_t k[Crypto::kGcmKeyBytes];
  if (root.size() != Crypto::kGcmKeyBytes) {
    err = fmt("the root key has %llu bytes, expected 32", root.size());
    return false;
  }
  bool ok = c.hkdf_sha256(root, text_bytes(kRecordsInfo), k, sizeof k);
  if (ok) out.records.assign(k, sizeof k);
  ok = ok && c.hkdf_sha256(root, text_bytes(kWrapInfo), k, sizeof k);
  if (ok) out.wrap.assign(k, sizeof k);
  store::wipe(k, sizeof k);
  if (!ok) {
    out.records.clear();
    out.wrap.clear();
    err = "HKDF-SHA256 failed deriving the record keys";
  }
  return ok;
}

bool wrap_instance_key(Crypto& c, const store::SecretKey& wrap_key, const Record& rec, Bytes key32,
                       WrappedKey& out, std::string& err) {
  if (key32.size() != kInstanceKeyBytes || wrap_key.size() != Crypto::kGcmKeyBytes) {
    err = "an instance key and its wrapping key must have 32 bytes";
    return false;
  }
  const std::vector<uint8_t> aad = wrap_aad(rec);
  WrappedKey w;
  if (!c.random_bytes(w.nonce.data(), w.nonce.size()) ||
      !c.gcm_seal(wrap_key.span(), Bytes(w.nonce), aad, key32, w.ct.data(), w.tag.data())) {
    err = "AES-256-GCM failed wrapping an instance key";
    return false;
  }
  out = w;
  return true;
}

RecordError unwrap_instance_key(Crypto& c, const store::SecretKey& wrap_key, const Record& rec,
                                store::SecretKey& out, std::string& err) {
  const std::vector<uint8_t> aad = wrap_aad(rec);
  uint8_t k[kInstanceKeyBytes];
  if (wrap_key.size() != Crypto::kGcmKeyBytes ||
      !c.gcm_open(wrap_key.span(), Bytes(rec.wrapped.nonce), aad, Bytes(rec.wrapped.ct),
                  Bytes(rec.wrapped.tag), k)) {
    store::wipe(k, sizeof k);
    err = "the instance key does not unwrap: wrong root key, or the record's uuid, group or "
          "created sequence changed";
    return RecordError::NotAuthentic;
  }
  out.assign(k, sizeof k);
  store::wipe(k, sizeof k);
  return RecordError::None;
}

bool encode_table(const Table& t, std::vector<uint8_t>& out, std::string& err) {
  out.clear();
  put32(out, static_cast<uint32_t>(t.groups.size()));
  for (const Group& g : t.groups) {
    if (g.name.size() > kMaxGroupNameBytes || g.spki.size() > kMaxGroupSpkiBytes ||
        g.sealed.size() > kMaxGroupSealedBytes || g.approval.size() > kMaxGroupApprovalBytes) {
      err = "group '" + g.name + "' has a name above 64, a key above 600, a sealed secret above "
            "1024 or an approval above 1024 bytes";
      wipe_vector(out);
      return false;
    }
    put_string(out, g.name);
    put32(out, static_cast<uint32_t>(g.spki.size()));
    put_bytes(out, g.spki.data(), g.spki.size());
    put64(out, g.approval_seq);
    put32(out, g.nv_index);
    put32(out, static_cast<uint32_t>(g.sealed.size()));
    put_bytes(out, g.sealed.data(), g.sealed.size());
    put32(out, static_cast<uint32_t>(g.approval.size()));
    put_bytes(out, g.approval.data(), g.approval.size());
  }
  put32(out, static_cast<uint32_t>(t.records.size()));
  for (const Record& r : t.records) {
    if (r.group.size() > kMaxGroupNameBytes || r.xen_blob.size > kMaxXenBlobBytes ||
        !valid_state(static_cast<uint8_t>(r.state))) {
      err = "a record has a group above 64 bytes, a Xen blob above 64 bytes or an unknown state";
      wipe_vector(out);
      return false;
    }
    put_array(out, r.uuid);
    put32(out, r.owner_uid);
    put_string(out, r.group);
    put8(out, static_cast<uint8_t>(r.state));
    put64(out, r.generation);
    put_array(out, r.digest);
    put64(out, r.prepared_generation);
    put_array(out, r.prepared_digest);
    put_array(out, r.wrapped.nonce);
    put_array(out, r.wrapped.ct);
    put_array(out, r.wrapped.tag);
    put64(out, r.created_seq);
    put16(out, r.xen_blob.size);
    put_bytes(out, r.xen_blob.bytes.data(), r.xen_blob.size);
  }
  // the decoder's checks, so that nothing is written that would not load
  Table check;
  if (decode_table_into(out, check, err) != RecordError::None) {
    wipe_vector(out);
    return false;
  }
  return true;
}

RecordError decode_table(Bytes in, Table& out, std::string& err) {
  Table t;
  const RecordError e = decode_table_into(in, t, err);
  if (e == RecordError::None) out = std::move(t);
  return e;
}

bool encode_slot(Crypto& c, const Table& t, uint64_t counter, uint64_t soft_seq,
                 const store::SecretKey& records_key, std::vector<uint8_t>& out, std::string& err) {
  out.clear();
  std::vector<uint8_t> plain;
  if (!encode_table(t, plain, err)) return false;
  if (kSlotPrefixBytes + plain.size() + Crypto::kGcmTagBytes > kMaxSlotFileBytes) {
    err = fmt("the record table needs %llu bytes, more than a slot's %llu", plain.size(), kMaxSlotFileBytes);
    wipe_vector(plain);
    return false;
  }
  out.assign(kSlotMagic, kSlotMagic + 8);
  put16(out, kVersion);
  put64(out, counter);
  put64(out, soft_seq);
  out.resize(out.size() + Crypto::kGcmNonceBytes);
  put32(out, static_cast<uint32_t>(plain.size()));
  out.resize(kSlotPrefixBytes + plain.size() + Crypto::kGcmTagBytes);
  uint8_t* nonce = out.data() + 26;
  const bool ok = c.random_bytes(nonce, Crypto::kGcmNonceBytes) &&
                  c.gcm_seal(records_key.span(), Bytes(nonce, Crypto::kGcmNonceBytes),
                             Bytes(out.data(), kSlotPrefixBytes), plain, out.data() + kSlotPrefixBytes,
                             out.data() + kSlotPrefixBytes + plain.size());
  wipe_vector(plain);
  if (!ok) {
    out.clear();
    err = "AES-256-GCM failed sealing the record table";
    return false;
  }
  return true;
}

RecordError decode_slot(Crypto& c, Bytes file, const store::SecretKey& records_key, Table& out,
                        uint64_t& counter, uint64_t& soft_seq, std::string& err) {
  if (file.size() > kMaxSlotFileBytes) {
    err = fmt("the slot has %llu bytes, more than the %llu a slot may have", file.size(), kMaxSlotFileBytes);
    return RecordError::TooLarge;
  }
  if (file.size() < kSlotPrefixBytes + Crypto::kGcmTagBytes) {
    err = fmt("the slot has %llu bytes, fewer than the %llu of its fixed fields", file.size(),
              kSlotPrefixBytes + Crypto::kGcmTagBytes);
    return RecordError::Truncated;
  }
  const uint8_t* p = file.data();
  if (!std::equal(kSlotMagic, kSlotMagic + 8, p)) {
    err = "the slot does not start with VTPMMGRR";
    return RecordError::BadMagic;
  }
  if (get_be16(p + 8) != kVersion) {
    err = fmt("the slot has format version %llu; this reader knows version 1", get_be16(p + 8));
    return RecordError::BadVersion;
  }
  const uint32_t ct_len = get_be32(p + 38);
  const size_t have = file.size() - kSlotPrefixBytes - Crypto::kGcmTagBytes;
  if (ct_len != have) {
    err = fmt("the slot says %llu bytes of ciphertext, but has %llu", ct_len, have);
    return ct_len > have ? RecordError::Truncated : RecordError::TrailingBytes;
  }
  std::vector<uint8_t> plain(ct_len);
  if (!c.gcm_open(records_key.span(), Bytes(p + 26, Crypto::kGcmNonceBytes), file.first(kSlotPrefixBytes),
                  Bytes(p + kSlotPrefixBytes, ct_len),
                  Bytes(p + kSlotPrefixBytes + ct_len, Crypto::kGcmTagBytes), plain.data())) {
    wipe_vector(plain);
    err = "the slot is not authentic: the wrong root key, or a byte of it changed";
    return RecordError::NotAuthentic;
  }
  Table t;
  const RecordError e = decode_table_into(plain, t, err);
  wipe_vector(plain);
  if (e != RecordError::None) return e;
  out = std::move(t);
  counter = get_be64(p + 10);
  soft_seq = get_be64(p + 18);
  return RecordError::None;
}

bool encode_header(Crypto& c, const Header& h, std::vector<uint8_t>& out, std::string& err) {
  out.assign(kHeaderMagic, kHeaderMagic + 8);
  put16(out, kVersion);
  if (h.srk_name.empty() || h.srk_name.size() > kMaxSrkName || h.sealed_root.empty() ||
      h.sealed_root.size() > kMaxSealedRootBytes || (h.template_kind != 1 && h.template_kind != 2) ||
      (h.nv_index >> 24) != 0x01) {
    err = "the header has a field out of its bound";
    out.clear();
    return false;
  }
  put16(out, static_cast<uint16_t>(h.srk_name.size()));
  put_bytes(out, h.srk_name.data(), h.srk_name.size());
  put8(out, h.template_kind);
  put32(out, h.nv_index);
  put32(out, static_cast<uint32_t>(h.sealed_root.size()));
  put_bytes(out, h.sealed_root.data(), h.sealed_root.size());
  put32(out, h.pcr_mask);
  uint8_t d[Crypto::kSha256Bytes];
  if (!c.sha256(out, d)) {
    err = "SHA-256 failed";
    out.clear();
    return false;
  }
  put_bytes(out, d, sizeof d);
  return true;
}

RecordError parse_header(Crypto& c, Bytes file, Header& out, std::string& err) {
  if (file.size() > kMaxHeaderBytes) {
    err = fmt("the header has %llu bytes, more than the %llu it may have", file.size(), kMaxHeaderBytes);
    return RecordError::TooLarge;
  }
  if (file.size() < 10 + Crypto::kSha256Bytes) {
    err = fmt("the header has %llu bytes, fewer than its magic, version and digest", file.size());
    return RecordError::Truncated;
  }
  if (!std::equal(kHeaderMagic, kHeaderMagic + 8, file.data())) {
    err = "the header does not start with VTPMMGRH";
    return RecordError::BadMagic;
  }
  if (get_be16(file.data() + 8) != kVersion) {
    err = fmt("the header has format version %llu; this reader knows version 1", get_be16(file.data() + 8));
    return RecordError::BadVersion;
  }
  const Bytes body = file.first(file.size() - Crypto::kSha256Bytes);
  uint8_t d[Crypto::kSha256Bytes];
  if (!c.sha256(body, d)) {
    err = "SHA-256 failed";
    return RecordError::CryptoFailed;
  }
  if (!std::equal(d, d + sizeof d, file.data() + body.size())) {
    err = "the header's SHA-256 does not match its contents (damaged or cut)";
    return RecordError::BadDigest;
  }
  Reader r(body.subspan(10), "the header");
  RecordError e = RecordError::None;
  Header h;
  if (!r.bytes("the SRK name", 2, kMaxSrkName, h.srk_name, e, err) ||
      !r.u8("the SRK template kind", h.template_kind, e, err) ||
      !r.u32("the NV counter index", h.nv_index, e, err) ||
      !r.bytes("the sealed root key", 4, kMaxSealedRootBytes, h.sealed_root, e, err) ||
      !r.u32("the PCR selection", h.pcr_mask, e, err) || !r.end(e, err)) {
    return e;
  }
  if (h.srk_name.empty() || h.sealed_root.empty()) {
    err = "the header has an empty SRK name or sealed root key";
    return RecordError::BadValue;
  }
  if (h.template_kind != 1 && h.template_kind != 2) {
    err = fmt("the header's SRK template kind is %llu, expected 1 (ECC P-256) or 2 (RSA-2048)",
              h.template_kind);
    return RecordError::BadValue;
  }
  if ((h.nv_index >> 24) != 0x01) {
    err = fmt("the header's NV counter index 0x%08llx is not an NV index handle (0x01xxxxxx)", h.nv_index);
    return RecordError::BadValue;
  }
  out = std::move(h);
  return RecordError::None;
}

bool FileSink::reached(const char* name, const char* step, std::string& err) {
  if (points_ == nullptr) return true;
  const std::string point = std::string(name) + "." + step;
  if (points_->reached(point.c_str())) return true;
  err = "the write of " + std::string(name) + " stopped at " + point;
  return false;
}

RecordError FileSink::write(const char* name, Bytes data, std::string& err) {
  if (!reached(name, "open", err)) return RecordError::Io;
  return write_new(name, data, err);
}

RecordError FileSink::write_new(const char* name, Bytes data, std::string& err) {
  const std::string tmp = std::string(".tmp.") + name;
  if (::unlinkat(dir_fd_, tmp.c_str(), 0) != 0 && errno != ENOENT) {
    err = "could not remove the stale " + tmp + ": " + errno_text();
    return RecordError::Io;
  }
  int fd = retry_eintr([&] {
    return ::openat(dir_fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  });
  if (fd < 0) {
    err = "could not create " + tmp + ": " + errno_text();
    return RecordError::Io;
  }
  auto fail = [&](std::string why) {
    err = std::move(why);
    ::close(fd);
    ::unlinkat(dir_fd_, tmp.c_str(), 0);
    return RecordError::Io;
  };
  if (::fchmod(fd, 0600) != 0) return fail("could not set the mode of " + tmp + ": " + errno_text());
  size_t want = data.size();
  const bool stop = !reached(name, "write", err);
  if (stop) want /= 2;  // a crash in the middle of the write leaves a torn temporary
  size_t done = 0;
  while (done < want) {
    const ssize_t n = retry_eintr([&] { return ::write(fd, data.data() + done, want - done); });
    if (n <= 0) return fail("could not write " + tmp + ": " + errno_text());
    done += static_cast<size_t>(n);
  }
  if (stop || !reached(name, "fsync", err)) {
    ::close(fd);
    return RecordError::Io;
  }
  if (retry_eintr([&] { return ::fsync(fd); }) != 0) return fail("could not fsync " + tmp + ": " + errno_text());
  ::close(fd);
  if (!reached(name, "rename", err)) return RecordError::Io;
  if (::renameat(dir_fd_, tmp.c_str(), dir_fd_, name) != 0) {
    err = "could not rename " + tmp + " to " + name + ": " + errno_text();
    ::unlinkat(dir_fd_, tmp.c_str(), 0);
    return RecordError::Io;
  }
  if (!reached(name, "fsync_dir", err)) return RecordError::Io;
  if (retry_eintr([&] { return ::fsync(dir_fd_); }) != 0) {
    err = std::string("could not fsync the directory after writing ") + name + ": " + errno_text();
    return RecordError::Io;
  }
  return RecordError::None;
}

RecordError FileSink::overwrite(const char* name, Bytes data, std::string& err) {
  if (!reached(name, "open", err)) return RecordError::Io;
  const int fd = retry_eintr([&] { return ::openat(dir_fd_, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC); });
  if (fd < 0 && errno == ENOENT) return write_new(name, data, err);  // the first write of this slot
  if (fd < 0) {
    err = errno == ELOOP ? std::string(name) + " is a symbolic link; refusing to follow it"
                         : "could not open " + std::string(name) + ": " + errno_text();
    return RecordError::Io;
  }
  auto fail = [&](std::string why) {
    err = std::move(why);
    ::close(fd);
    return RecordError::Io;
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return fail(std::string(name) + " is not a regular file");
  size_t want = data.size();
  const bool stop = !reached(name, "write", err);
  if (stop) want /= 2;  // a crash in the middle of the write leaves a torn slot (the other one holds)
  size_t done = 0;
  while (done < want) {
    const ssize_t n = retry_eintr([&] { return ::pwrite(fd, data.data() + done, want - done, static_cast<off_t>(done)); });
    if (n <= 0) return fail("could not write " + std::string(name) + ": " + errno_text());
    done += static_cast<size_t>(n);
  }
  if (stop || !reached(name, "fsync", err)) {
    ::close(fd);
    return RecordError::Io;
  }
  if (static_cast<uint64_t>(st.st_size) > data.size() && ::ftruncate(fd, static_cast<off_t>(data.size())) != 0)
    return fail("could not truncate " + std::string(name) + ": " + errno_text());
  if (retry_eintr([&] { return ::fdatasync(fd); }) != 0) return fail("could not fdatasync " + std::string(name) + ": " + errno_text());
  ::close(fd);
  return RecordError::None;
}

RecordError FileSink::read(const char* name, size_t max, std::vector<uint8_t>& out, std::string& err) const {
  out.clear();
  const int fd = retry_eintr([&] {
    return ::openat(dir_fd_, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  });
  if (fd < 0) {
    if (errno == ENOENT) {
      err = std::string(name) + " does not exist";
      return RecordError::Absent;
    }
    err = errno == ELOOP ? std::string(name) + " is a symbolic link; refusing to follow it"
                         : "could not open " + std::string(name) + ": " + errno_text();
    return RecordError::Io;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    err = std::string(name) + " is not a regular file";
    ::close(fd);
    return RecordError::Io;
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > max) {
    err = std::string(name) + fmt(" has %llu bytes, more than the %llu it may have",
                                  static_cast<unsigned long long>(st.st_size), max);
    ::close(fd);
    return RecordError::TooLarge;
  }
  out.resize(static_cast<size_t>(st.st_size) + 1);  // one more: notices a file that grew
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = retry_eintr([&] { return ::read(fd, out.data() + got, out.size() - got); });
    if (n < 0) {
      err = "could not read " + std::string(name) + ": " + errno_text();
      ::close(fd);
      out.clear();
      return RecordError::Io;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != static_cast<size_t>(st.st_size)) {
    err = std::string(name) + " changed size while it was read";
    out.clear();
    return RecordError::Io;
  }
  out.resize(got);
  return RecordError::None;
}

RecordError load_slots(Crypto& c, int dir_fd, const store::SecretKey& records_key, uint64_t tpm_counter,
                       LoadedSlots& out, std::string& err) {
  struct Slot {
    RecordError e = RecordError::Absent;
    std::string why;
    Table table;
    uint64_t counter = 0, seq = 0;
  };
  Slot slots[2];
  const FileSink sink(dir_fd);
  for (int i = 0; i < 2; ++i) {
    std::vector<uint8_t> bytes;
    Slot& s = slots[i];
    s.e = sink.read(kSlotFiles[i], kMaxSlotFileBytes, bytes, s.why);
    if (s.e == RecordError::Io) {
      err = s.why;
      return RecordError::Io;
    }
    if (s.e == RecordError::None) s.e = decode_slot(c, bytes, records_key, s.table, s.counter, s.seq, s.why);
  }
  if (slots[0].e == RecordError::Absent && slots[1].e == RecordError::Absent) {
    err = "neither records.a nor records.b exists";
    return RecordError::NoSlots;
  }
  const bool has_next = tpm_counter != UINT64_MAX;
  // The manager never writes a slot beyond T+1 (write, then increment: ref §5.3), so a valid slot
  // further ahead means the TPM's counter went back (its state restored) or another TPM: no slot
  // is trusted then, not even one in range.
  for (int i = 0; i < 2; ++i) {
    const Slot& s = slots[i];
    if (s.e == RecordError::None && s.counter > tpm_counter && !(has_next && s.counter == tpm_counter + 1)) {
      err = std::string(kSlotFiles[i]) +
            fmt(" is at counter %llu, ahead of the TPM counter %llu by more than one: the TPM's "
                "counter went back, or this is another TPM",
                s.counter, tpm_counter);
      return RecordError::Ahead;
    }
  }
  int pick = -1;
  for (int i = 0; i < 2; ++i) {
    const Slot& s = slots[i];
    if (s.e != RecordError::None) continue;
    if (s.counter != tpm_counter && !(has_next && s.counter == tpm_counter + 1)) continue;
    if (pick < 0 || s.counter > slots[pick].counter ||
        (s.counter == slots[pick].counter && s.seq > slots[pick].seq)) {
      pick = i;
    }
  }
  if (pick >= 0) {
    Slot& s = slots[pick];
    out.table = std::move(s.table);
    out.counter = s.counter;
    out.soft_seq = s.seq;
    out.slot = pick;
    out.needs_roll_forward = s.counter != tpm_counter;
    return RecordError::None;
  }
  std::string each;
  bool any_valid = false, any_ahead = false;
  for (int i = 0; i < 2; ++i) {
    const Slot& s = slots[i];
    each += std::string(i == 0 ? "" : "; ") + kSlotFiles[i] + ": ";
    if (s.e == RecordError::None) {
      any_valid = true;
      any_ahead = any_ahead || s.counter > tpm_counter;
      each += fmt("counter %llu, soft sequence %llu", s.counter, s.seq);
    } else {
      each += s.why;
    }
  }
  if (!any_valid) {
    err = "no record slot decodes (" + each + ")";
    return RecordError::Corrupt;
  }
  if (any_ahead) {
    err = fmt("a record slot is ahead of the TPM counter %llu by more than one: foreign or corrupt "
              "state (",
              tpm_counter) +
          each + ")";
    return RecordError::Ahead;
  }
  err = fmt("every valid record slot is older than the TPM counter %llu: rollback (", tpm_counter) + each + ")";
  return RecordError::Rollback;
}

bool derive_recovery_key(Crypto& c, Bytes root, store::SecretKey& out, std::string& err) {
  uint8_t k[kRecoveryKeyLen];
  if (root.size() != Crypto::kGcmKeyBytes || !c.hkdf_sha256(root, text_bytes(kRecoveryInfo), k, sizeof k)) {
    err = "HKDF-SHA256 failed deriving the recovery key";
    return false;
  }
  out.assign(k, sizeof k);
  store::wipe(k, sizeof k);
  return true;
}

namespace {

bool recovery_file_key(Crypto& c, const store::SecretKey& recovery, uint8_t (&k)[Crypto::kGcmKeyBytes],
                       std::string& err) {
  if (recovery.size() != kRecoveryKeyLen ||
      !c.hkdf_sha256(recovery.span(), text_bytes(kRecoveryFileInfo), k, sizeof k)) {
    err = "the recovery key must have 32 bytes";
    return false;
  }
  return true;
}

}  // namespace

bool encode_recovery(Crypto& c, const store::SecretKey& recovery, Bytes secret, std::vector<uint8_t>& out,
                     std::string& err) {
  out.clear();
  if (secret.size() != kRecoverySecretLen) {
    err = "the recovered secret must have 64 bytes";
    return false;
  }
  uint8_t k[Crypto::kGcmKeyBytes];
  if (!recovery_file_key(c, recovery, k, err)) return false;
  out.insert(out.end(), kRecoveryMagic, kRecoveryMagic + 8);
  out.push_back(0);
  out.push_back(1);
  const size_t nonce_at = out.size();
  out.resize(nonce_at + Crypto::kGcmNonceBytes + kRecoverySecretLen + Crypto::kGcmTagBytes);
  uint8_t* nonce = out.data() + nonce_at;
  uint8_t* ct = nonce + Crypto::kGcmNonceBytes;
  const bool ok = c.random_bytes(nonce, Crypto::kGcmNonceBytes) &&
                  c.gcm_seal(Bytes(k, sizeof k), Bytes(nonce, Crypto::kGcmNonceBytes), Bytes(out.data(), 10),
                             secret, ct, ct + kRecoverySecretLen);
  store::wipe(k, sizeof k);
  if (!ok) {
    out.clear();
    err = "AES-256-GCM failed sealing the recovery file";
  }
  return ok;
}

RecordError decode_recovery(Crypto& c, Bytes file, const store::SecretKey& recovery, store::SecretKey& out,
                            std::string& err) {
  constexpr size_t kLen = 10 + Crypto::kGcmNonceBytes + kRecoverySecretLen + Crypto::kGcmTagBytes;
  if (file.size() < 10) {
    err = "recovery: the file ends inside its header";
    return RecordError::Truncated;
  }
  if (std::memcmp(file.data(), kRecoveryMagic, 8) != 0) {
    err = "recovery: not a vtpm-manager recovery file (magic)";
    return RecordError::BadMagic;
  }
  if (file[8] != 0 || file[9] != 1) {
    err = "recovery: version other than 1";
    return RecordError::BadVersion;
  }
  if (file.size() != kLen) {
    err = fmt("recovery: %llu bytes, expected %llu", file.size(), kLen);
    return file.size() < kLen ? RecordError::Truncated : RecordError::TrailingBytes;
  }
  uint8_t k[Crypto::kGcmKeyBytes];
  if (!recovery_file_key(c, recovery, k, err)) return RecordError::CryptoFailed;
  uint8_t plain[kRecoverySecretLen];
  const uint8_t* nonce = file.data() + 10;
  const uint8_t* ct = nonce + Crypto::kGcmNonceBytes;
  const bool ok = c.gcm_open(Bytes(k, sizeof k), Bytes(nonce, Crypto::kGcmNonceBytes), file.subspan(0, 10),
                             Bytes(ct, kRecoverySecretLen), Bytes(ct + kRecoverySecretLen, Crypto::kGcmTagBytes),
                             plain);
  store::wipe(k, sizeof k);
  if (!ok) {
    store::wipe(plain, sizeof plain);
    err = "recovery: the recovery key does not open the recovery file (another key, or a changed byte)";
    return RecordError::NotAuthentic;
  }
  out.assign(plain, sizeof plain);
  store::wipe(plain, sizeof plain);
  return RecordError::None;
}

}  // namespace vtpm::manager
