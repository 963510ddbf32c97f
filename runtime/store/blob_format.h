// The blob container of swtpm 0.7.1 (swtpm_nvstore.c, tlv.h; reference/swtpm-qemu.md §1.4) and
// vtpmd's additions to it. Container::parse is the checked view every state file and
// control-channel blob goes through (STYLE 11); the writer functions build the same layout.
// Meaning (what the flags and tags say) is blob_codec.h's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/secret.h"
#include "wire/big_endian.h"

//   header  version u8 (1 or 2), min_version u8, hdrsize BE16 = 10, flags BE16,
//           totlen BE32 = the whole blob including the header
//   TLV     tag BE16, length BE32, value (version 2 only; version 1 has one opaque payload)
//
// swtpm's flags and tags (0x01-0x10, 1-7) are listed below; vtpmd's own, for its AES-256-GCM
// state files, are flag 0x20 and tags 0x10-0x13, and for any file it writes, tags 0x14 (SHA-256
// of the file before it, always the last TLV of a plain file) and 0x15 (journal mark: epoch and
// sequence the snapshot includes) — blob_codec.h documents both formats. swtpm 0.7.1 looks TLV 1
// up by tag and skips the others, so a plain file with 0x14/0x15 still loads in swtpm (checked
// by swtpm_interop_test.cpp). The parser refuses unknown tags and duplicates, which swtpm would
// skip or take the first of.

namespace vtpm::store {

inline constexpr size_t kHeaderBytes = 10;
inline constexpr size_t kTlvHeaderBytes = 6;
inline constexpr uint8_t kFormatVersion = 2;  // the newest header version this reader knows

namespace flag {
inline constexpr uint16_t kEncrypted = 0x01;            // swtpm: AES-CBC with the state-file key
inline constexpr uint16_t kMigrationEncrypted = 0x02;   // swtpm: AES-CBC with the migration key
inline constexpr uint16_t kMigrationData = 0x04;        // swtpm: a control-channel blob
inline constexpr uint16_t kEncrypted256 = 0x08;         // swtpm: the state-file key has 256 bits
inline constexpr uint16_t kMigration256 = 0x10;         // swtpm: the migration key has 256 bits
inline constexpr uint16_t kGcm = 0x20;                  // vtpmd: AES-256-GCM state file
inline constexpr uint16_t kKnown = 0x3f;
}  // namespace flag

namespace tag {
inline constexpr uint16_t kData = 1;                     // swtpm: plain payload
inline constexpr uint16_t kEncryptedData = 2;            // swtpm: CBC ciphertext (file key)
inline constexpr uint16_t kHmac = 3;                     // swtpm: HMAC-SHA256(ciphertext‖iv)
inline constexpr uint16_t kMigrationData = 4;            // swtpm: plain inner blob
inline constexpr uint16_t kEncryptedMigrationData = 5;   // swtpm: CBC ciphertext (migration key)
inline constexpr uint16_t kIvecEncryptedData = 6;        // swtpm: IV for tag 2
inline constexpr uint16_t kIvecMigrationData = 7;        // swtpm: IV for tag 5
inline constexpr uint16_t kGcmNonce = 0x10;              // vtpmd: 12-byte nonce
inline constexpr uint16_t kGcmCiphertext = 0x11;         // vtpmd: ciphertext, plain's length
inline constexpr uint16_t kGcmTag = 0x12;                // vtpmd: 16-byte GCM tag
inline constexpr uint16_t kGcmGeneration = 0x13;         // vtpmd: BE64 write counter
inline constexpr uint16_t kSha256 = 0x14;                // vtpmd: SHA-256 of the bytes before it
inline constexpr uint16_t kJournalMark = 0x15;           // vtpmd: BE64 epoch, BE64 sequence
inline constexpr uint16_t kGcmKeySize = 0x16;            // vtpmd: u8, the raw key's bytes (16/32)
}  // namespace tag

struct Header {
  uint8_t version = 0;
  uint8_t min_version = 0;
  uint16_t flags = 0;
  uint32_t total_len = 0;
};

// A parsed blob: the header and views into the caller's buffer, which must outlive it.
class Container {
 public:
  // Checks the header (size, hdrsize, totlen == in.size(), version) and, for version 2, that the
  // TLVs tile the rest exactly with known, unique tags. Errors say what was expected and found.
  static bool parse(Bytes in, Container& out, std::string& err);
  // The same TLV checks on a headerless TLV stream (the inner part of a migration blob); the
  // header is left zero and payload() is the whole stream.
  static bool parse_tlvs(Bytes in, Container& out, std::string& err);

  const Header& header() const { return header_; }
  Bytes header_bytes() const { return header_bytes_; }
  Bytes payload() const { return payload_; }  // everything after the header
  bool has(uint16_t t) const;
  Bytes value(uint16_t t) const;              // empty when absent
  // Names the first tag outside `allowed` (a bit set of tag_bit()s), for "unexpected TLV" errors.
  bool only(uint32_t allowed, std::string& err) const;
  // Names the first tag of `required` that is missing.
  bool require(uint32_t required, std::string& err) const;

  static uint32_t tag_bit(uint16_t t);  // 0 for unknown tags

 private:
  struct Entry {
    uint16_t tag = 0;
    Bytes value;
  };
  static constexpr size_t kMaxEntries = 14;  // one of each known tag
  bool parse_records(Bytes in, size_t off, std::string& err);

  Header header_;
  Bytes header_bytes_;
  Bytes payload_;
  Entry entries_[kMaxEntries];
  size_t count_ = 0;
};

// True when the first bytes look like a blob header (at least two of: version 1|2, min_version
// 1|2, hdrsize 10), so a damaged header is reported rather than read as a headerless legacy file.
bool looks_like_header(Bytes in);

// Writers: start_blob() reserves the header, append_tlv() adds records, finish_blob() writes
// the header with the final length.
void start_blob(std::vector<uint8_t>& out, size_t reserve);
void append_tlv(std::vector<uint8_t>& out, uint16_t t, Bytes value);
void finish_blob(std::vector<uint8_t>& out, uint8_t min_version, uint16_t flags);
// The header bytes a blob of `total` bytes with `flags` will carry (for additional data).
void header_bytes(uint8_t out[kHeaderBytes], uint8_t min_version, uint16_t flags, uint32_t total);

// The store's codecs and journal read and write with the shared big-endian helpers.
using wire::get_be16;
using wire::get_be32;
using wire::get_be64;
using wire::put_be16;
using wire::put_be32;
using wire::put_be64;

}  // namespace vtpm::store
