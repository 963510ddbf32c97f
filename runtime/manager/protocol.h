// The vtpm-manager wire codec (runtime/manager/README.md "Wire protocol"): Xen vtpmmgr's framing
// (reference/manager-sealing.md §1.8) with its SaveHashKey/LoadHashKey ordinals and our own
// 0x4000xxxx ordinals. parse_request/parse_response are the checked views every byte from a
// socket goes through (STYLE 11): each length is checked and each failure is a distinct
// ParseError with a sentence. Sans-I/O: frame_length() tells a transport how much to read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/secret.h"

//   header   be16 tag | be32 paramSize (the whole message) | be32 ordinal (request) / status
//   tags     0x01c1 request (VTPM_TAG_REQ), 0x01c4 response (VTPM_TAG_RSP)
//   bodies   per ordinal, the table of runtime/manager/README.md "Wire protocol" (the Open answer: be64 generation,
//            digest[32], be64 prepared_generation, prepared_digest[32], key[32]); a response has
//            a body only when its status is 0.

namespace vtpm::manager {

inline constexpr uint16_t kTagRequest = 0x01c1;
inline constexpr uint16_t kTagResponse = 0x01c4;
inline constexpr size_t kHeaderBytes = 10;
inline constexpr size_t kMaxMessageBytes = 4096;
inline constexpr size_t kUuidBytes = 16;
inline constexpr size_t kDigestBytes = 32;
inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kRecoveryKeyBytes = 32;
inline constexpr size_t kMaxGroupBytes = 64;     // group names (Open, Create, Group*)
inline constexpr size_t kMaxSpkiBytes = 600;     // GroupCreate's SubjectPublicKeyInfo DER
inline constexpr size_t kMaxSrkNameBytes = 66;   // TPM2B_NAME: nameAlg + a SHA-512 digest
inline constexpr size_t kXenBlobMin = 52;        // Xen: SHA1(ciphertext)[20] || AES-256 key[32]
inline constexpr size_t kXenBlobMax = 64;        // Xen pads to 64 (vtpm_cmd_handler.c:133-212)
inline constexpr uint32_t kOpenCreate = 0x1;     // Open flags bit 0: create if unknown, state empty
inline constexpr uint32_t kOpenKnownFlags = kOpenCreate;

enum class Ordinal : uint32_t {
  SaveHashKey = 0x00000001,
  LoadHashKey = 0x00000002,
  Open = 0x40000001,
  Prepare = 0x40000002,
  Commit = 0x40000003,
  Status = 0x40000010,
  List = 0x40000011,
  Create = 0x40000012,
  Delete = 0x40000013,
  GroupCreate = 0x40000014,
  GroupApprove = 0x40000015,
  ExportRecovery = 0x40000016,
  ApprovalRequest = 0x40000017,  // what an offline signer signs for a group approval
};
// True for the thirteen ordinals above.
bool ordinal_known(uint32_t ordinal);
// "SaveHashKey", …; "unknown" for others.
const char* ordinal_name(uint32_t ordinal);

// Response status codes (runtime/manager/README.md "Wire protocol").
enum class Status : uint32_t {
  Success = 0,
  BadParameter = 0x03,  // TPM_BAD_PARAMETER: Xen's answer to a SaveHashKey blob of a bad length
  Malformed = 0x40000001,
  UnknownOrdinal = 0x40000002,
  NotBound = 0x40000003,
  UnknownInstance = 0x40000004,
  Foreign = 0x40000005,
  NotOwner = 0x40000006,
  Busy = 0x40000007,
  Retired = 0x40000008,
  Stale = 0x40000009,
  FailedClosed = 0x4000000a,
  NotServing = 0x4000000b,
  StorageError = 0x4000000c,
  TpmError = 0x4000000d,
  Exists = 0x4000000e,
  NoSuchGroup = 0x4000000f,
  BadApproval = 0x40000010,
  NotAdmin = 0x40000011,
  NoApproval = 0x40000012,  // a group instance: no stored approval fits the PCRs now
};
bool status_known(uint32_t status);
// The code's name ("TPM_BAD_PARAMETER", "VTPM_MGR_MALFORMED", …) or "unknown status".
const char* status_name(uint32_t status);
// One sentence saying what the code means, for the manager's log and the instance's error.
const char* status_text(uint32_t status);

enum class ParseError : uint8_t {
  None,
  Truncated,          // fewer bytes than the header or than paramSize
  TrailingBytes,      // more bytes than paramSize
  SizeTooSmall,       // paramSize < 10
  SizeTooLarge,       // paramSize > 4096
  WrongTag,
  UnknownOrdinal,
  UnknownStatus,      // responses only
  BodyLength,         // a fixed-size body of the wrong length
  XenBlobLength,      // SaveHashKey not 52..64 bytes / LoadHashKey answer not 52 or 64 (canonical)
  FieldTooLong,       // a length field above its bound (group 64, spki 600, srk name 66)
  FieldOverrun,       // a length field larger than what is left of the body
  TrailingBody,       // bytes left in the body after its last field
  UnknownFlags,       // Open flags other than bit 0
  BodyOnError,        // a response with status != 0 that has a body
};
const char* parse_error_name(ParseError e);
// The status the manager answers a request that failed to parse with: TPM_BAD_PARAMETER for
// XenBlobLength (Xen's behaviour), UnknownOrdinal for an unknown ordinal, else Malformed.
Status status_for(ParseError e);

struct ParseResult {
  bool ok = false;
  ParseError error = ParseError::None;
  std::string text;  // a sentence saying what was expected and what was found
};

using Uuid = std::array<uint8_t, kUuidBytes>;
using Digest = std::array<uint8_t, kDigestBytes>;

// A request: the ordinal and the typed fields of every ordinal (only the ordinal's own fields
// are meaningful; parse_request leaves the others empty/zero).
struct Request {
  Ordinal ordinal = Ordinal::Status;
  Uuid uuid{};                    // Open, Create, Delete
  uint32_t flags = 0;             // Open
  std::string group;              // Open, Create: group; GroupCreate, GroupApprove: name
  uint64_t generation = 0;        // Prepare, Commit
  Digest digest{};                // Prepare
  store::SecretKey xen_blob;      // SaveHashKey: 52..64 bytes (hash and key: secret)
  std::vector<uint8_t> spki;      // GroupCreate: SubjectPublicKeyInfo DER
  std::vector<uint8_t> approval;  // GroupApprove
  uint64_t seq = 0;               // ApprovalRequest: the approval's sequence number
  uint32_t pcr_mask = 0;          // ApprovalRequest: the PCRs it approves (bit i = PCR i)

  void reset();
};

struct ListEntry {
  Uuid uuid{};
  uint32_t state = 0;
  uint64_t generation = 0;
  std::string group;
};

// A response to `ordinal`; the body fields are meaningful only when status == Success.
struct Response {
  Ordinal ordinal = Ordinal::Status;
  Status status = Status::Success;
  uint64_t generation = 0;        // Open: the latest committed state's generation (0 = none)
  Digest digest{};                // Open: and its digest
  uint64_t prepared_generation = 0;  // Open: a write announced (Prepare) and not yet committed
  Digest prepared_digest{};          // Open: and its digest
  store::SecretKey key;           // Open: the instance's 32-byte key
  store::SecretKey xen_blob;      // LoadHashKey: 52..64 bytes (sent as 64 iff bytes 52..63 ≠ 0)
  uint32_t state = 0;             // Status: the manager machine's state index
  uint64_t counter = 0;           // Status
  uint64_t soft_seq = 0;          // Status
  uint32_t records = 0;           // Status
  std::vector<uint8_t> srk_name;  // Status: ≤ 66 bytes
  std::vector<ListEntry> entries; // List
  store::SecretKey recovery;      // ExportRecovery: the 32-byte offline recovery key
  std::vector<uint8_t> approval;  // ApprovalRequest: the unsigned approval file (approval.h)

  void reset();
};

// Stream reassembly: how many bytes the message starting at buf needs. need = 0 and ok when
// fewer than 10 bytes are there; need = paramSize once the header is there. Refuses (ok false)
// a tag that is neither 0x01c1 nor 0x01c4 and a paramSize outside 10..4096, so a transport can
// drop the connection before reading a body it would never parse.
ParseResult frame_length(const uint8_t* buf, size_t len, size_t& need);

// Parses exactly one whole message: len must equal paramSize. `out` is reset first, and on an
// error holds nothing of the input.
ParseResult parse_request(const uint8_t* buf, size_t len, Request& out);
ParseResult parse_response(Ordinal for_request, const uint8_t* buf, size_t len, Response& out);

// Encoders: the exact layout parse_* accepts. They return false (and leave `out` empty) when a
// field is out of its bound or the message would exceed 4096 bytes — a bug of the caller's.
// `out` may carry key bytes (Open, SaveHashKey, LoadHashKey): the caller wipes it after use.
bool encode_request(const Request& req, std::vector<uint8_t>& out);
bool encode_response(const Response& rsp, std::vector<uint8_t>& out);

// A UUID's canonical text (RFC 4122 §3, 8-4-4-4-12 hex digits; either case accepted) and back
// (lower case), as vtpmd's --key uuid= and vtpmctl spell it.
bool parse_uuid(const std::string& text, Uuid& out);
std::string uuid_text(const Uuid& u);

}  // namespace vtpm::manager
