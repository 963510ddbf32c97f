// The manager's files (runtime/manager/README.md "Record files"): DIR/header (written once at provisioning) and the
// A/B record slots DIR/records.a, DIR/records.b (AES-256-GCM under a key HKDF'd from the root
// key), their checked decoders (STYLE 11), the durable writer with its fault-injection points,
// and load_slots(), the A/B + NV-counter acceptance rule of reference/manager-sealing.md §5.3.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/crypto.h"
#include "store/secret.h"

//   header   "VTPMMGRH" | be16 1 | be16 srk_name_len, srk_name | u8 template (1 ECC P-256,
//            2 RSA-2048) | be32 nv_index | be32 sealed_len, MU(TPM2B_PRIVATE)||MU(TPM2B_PUBLIC)
//            | be32 pcr_mask | SHA-256 of every byte before it
//   slot     "VTPMMGRR" | be16 1 | be64 counter | be64 soft_seq | nonce[12] | be32 ct_len |
//            ciphertext | tag[16];  AAD = the 42 bytes before the ciphertext
//   table    be32 n_groups, { be32 name_len, name, be32 spki_len, spki, be64 approval_seq,
//            be32 nv_index, be32 sealed_len, sealed (≤ 1024), be32 approval_len, approval (≤ 1024) }
//            be32 n_records, { uuid[16], be32 owner_uid, be32 group_len, group, u8 state,
//            be64 generation, digest[32], be64 prepared_generation, prepared_digest[32],
//            wrapped key nonce[12] ct[32] tag[16], be64 created_seq, be16 xen_len, xen[≤64] }

namespace vtpm::manager {

inline constexpr size_t kRecordUuidBytes = 16;
inline constexpr size_t kRecordDigestBytes = 32;
inline constexpr size_t kInstanceKeyBytes = 32;
inline constexpr size_t kMaxGroupNameBytes = 64;
inline constexpr size_t kMaxGroupSpkiBytes = 600;
inline constexpr size_t kMaxGroupSealedBytes = 1024;    // MU(TPM2B_PRIVATE) || MU(TPM2B_PUBLIC)
inline constexpr size_t kMaxGroupApprovalBytes = 1024;  // an approval file (approval.h)
inline constexpr size_t kMaxXenBlobBytes = 64;
inline constexpr size_t kMaxSrkName = 66;           // TPM2B_NAME
inline constexpr size_t kMaxSealedRootBytes = 2048; // MU(TPM2B_PRIVATE) || MU(TPM2B_PUBLIC)
inline constexpr size_t kMaxSlotFileBytes = 1024 * 1024;
inline constexpr size_t kSlotPrefixBytes = 8 + 2 + 8 + 8 + 12 + 4;  // the AAD
inline constexpr char kHeaderFile[] = "header";
inline constexpr char kRecoveryFile[] = "recovery";
inline constexpr size_t kRecoveryKeyLen = 32;      // the offline recovery key vtpmctl exports
inline constexpr size_t kRecoverySecretLen = 64;   // what the recovery file holds: root key ‖ counter auth
inline constexpr char kSlotFiles[2][10] = {"records.a", "records.b"};

enum class RecordState : uint8_t { Created = 1, Saved = 2, Retired = 3 };

using RecordUuid = std::array<uint8_t, kRecordUuidBytes>;
using RecordDigest = std::array<uint8_t, kRecordDigestBytes>;

struct WrappedKey {
  std::array<uint8_t, store::Crypto::kGcmNonceBytes> nonce{};
  std::array<uint8_t, kInstanceKeyBytes> ct{};
  std::array<uint8_t, store::Crypto::kGcmTagBytes> tag{};
  bool operator==(const WrappedKey&) const = default;
};

// Xen's hash‖key blob, held as a secret: wiped when it goes.
struct XenBlob {
  std::array<uint8_t, kMaxXenBlobBytes> bytes{};
  uint8_t size = 0;
  XenBlob() = default;
  XenBlob(const XenBlob&) = default;
  XenBlob& operator=(const XenBlob&) = default;
  ~XenBlob() { store::wipe(bytes.data(), bytes.size()); }
  bool operator==(const XenBlob& o) const { return size == o.size && bytes == o.bytes; }
};

struct Group {
  std::string name;
  std::vector<uint8_t> spki;
  uint64_t approval_seq = 0;         // the stored approval's sequence (0 = none yet)
  uint32_t nv_index = 0;             // its revocation index (HostTpm::define_revocation)
  std::vector<uint8_t> sealed;       // the group secret sealed under PolicyAuthorize
  std::vector<uint8_t> approval;     // the latest accepted approval file (empty = none)
  bool operator==(const Group&) const = default;
};

struct Record {
  RecordUuid uuid{};
  uint32_t owner_uid = 0;
  std::string group;
  RecordState state = RecordState::Created;
  uint64_t generation = 0;
  RecordDigest digest{};
  uint64_t prepared_generation = 0;
  RecordDigest prepared_digest{};
  WrappedKey wrapped;
  uint64_t created_seq = 0;
  XenBlob xen_blob;
  bool operator==(const Record&) const = default;
};

struct Table {
  std::vector<Group> groups;
  std::vector<Record> records;
  bool operator==(const Table&) const = default;
};

struct Header {
  std::vector<uint8_t> srk_name;   // ≤ 66 bytes
  uint8_t template_kind = 0;       // 1 ECC P-256, 2 RSA-2048
  uint32_t nv_index = 0;           // an NV index handle, 0x01xxxxxx
  std::vector<uint8_t> sealed_root;
  uint32_t pcr_mask = 0;           // SHA-256 bank
  bool operator==(const Header&) const = default;
};

enum class RecordError : uint8_t {
  None,
  Truncated,       // the file or a field ends early
  TooLarge,        // a file above its maximum size
  BadMagic,
  BadVersion,
  FieldTooLong,    // a length above its bound
  TrailingBytes,   // bytes after the last field
  Duplicate,       // two records with one UUID, or two groups with one name
  BadState,        // a record state other than 1..3
  BadValue,        // a header value out of range (template kind, NV index)
  BadDigest,       // the header's SHA-256 does not match
  NotAuthentic,    // AES-GCM refused: the wrong key or a changed byte
  CryptoFailed,    // the provider failed (not a property of the input)
  Io,              // a system call failed, or a write point stopped the write
  Absent,          // the file does not exist
  NoSlots,         // load_slots: neither slot exists
  Corrupt,         // load_slots: slots exist but none decodes
  Rollback,        // load_slots: every valid slot is older than the counter
  Ahead,           // load_slots: a valid slot is beyond counter + 1 (foreign or corrupt state)
};
const char* record_error_name(RecordError e);

// The two keys HKDF-SHA256 derives from the 32-byte root key.
struct RecordKeys {
  store::SecretKey records;  // info "vtpm-manager records v1"
  store::SecretKey wrap;     // info "vtpm-manager instance key v1"
};
bool derive_record_keys(store::Crypto& c, store::Bytes root, RecordKeys& out, std::string& err);

// Per-instance key wrapping: AES-256-GCM under keys.wrap, fresh nonce, AAD uuid‖group‖be64
// created_seq, so a wrapped key moved to another record does not open.
bool wrap_instance_key(store::Crypto& c, const store::SecretKey& wrap_key, const Record& rec,
                       store::Bytes key32, WrappedKey& out, std::string& err);
RecordError unwrap_instance_key(store::Crypto& c, const store::SecretKey& wrap_key,
                                const Record& rec, store::SecretKey& out, std::string& err);

// The table's plaintext codec (used inside the slot; exposed for tests and the fuzzer).
bool encode_table(const Table& t, std::vector<uint8_t>& out, std::string& err);
RecordError decode_table(store::Bytes in, Table& out, std::string& err);

// A slot file. encode_slot refuses a table that breaks a bound. decode_slot leaves `out`,
// counter and soft_seq untouched unless it returns None.
bool encode_slot(store::Crypto& c, const Table& t, uint64_t counter, uint64_t soft_seq,
                 const store::SecretKey& records_key, std::vector<uint8_t>& out, std::string& err);
RecordError decode_slot(store::Crypto& c, store::Bytes file, const store::SecretKey& records_key,
                        Table& out, uint64_t& counter, uint64_t& soft_seq, std::string& err);

bool encode_header(store::Crypto& c, const Header& h, std::vector<uint8_t>& out, std::string& err);
RecordError parse_header(store::Crypto& c, store::Bytes file, Header& out, std::string& err);

// The offline recovery path (PCRs will change): the recovery key is HKDF(root key, "vtpm-manager
// recovery v1"), exported once to the operator (vtpmctl export-recovery); DIR/recovery holds the
// sealed secret (root key ‖ counter auth) under AES-256-GCM with a key HKDF'd from it:
//   "VTPMMGRK" | be16 1 | nonce[12] | ciphertext[64] | tag[16];  AAD = the 10 header bytes
bool derive_recovery_key(store::Crypto& c, store::Bytes root, store::SecretKey& out, std::string& err);
bool encode_recovery(store::Crypto& c, const store::SecretKey& recovery, store::Bytes secret,
                     std::vector<uint8_t>& out, std::string& err);
RecordError decode_recovery(store::Crypto& c, store::Bytes file, const store::SecretKey& recovery,
                            store::SecretKey& out, std::string& err);

// Fault injection: every step of a durable write asks reached("<file>.<step>") first, steps
// being open, write, fsync, rename, fsync_dir; a false answer stops the write there with
// RecordError::Io, as a crash would (the temporary is left behind, as a crash leaves it).
struct WritePoints {
  virtual bool reached(const char* point) = 0;

 protected:
  ~WritePoints() = default;
};

// Files relative to a directory fd the caller owns: openat with O_NOFOLLOW, mode 0600; a
// write goes to ".tmp.<name>" (created O_EXCL after removing a stale one), is fsynced, renamed
// over <name>, and the directory is fsynced.
class FileSink {
 public:
  explicit FileSink(int dir_fd, WritePoints* points = nullptr) : dir_fd_(dir_fd), points_(points) {}
  RecordError write(const char* name, store::Bytes data, std::string& err);
  // An A/B slot: the spare slot is rewritten in place (pwrite, fdatasync: one sync, not four),
  // since a torn slot fails its GCM tag and the other slot still holds the acknowledged records;
  // a slot that does not exist yet is created as write() does. Points: open, write, fsync.
  RecordError overwrite(const char* name, store::Bytes data, std::string& err);
  // A regular file of at most `max` bytes; Absent when it does not exist.
  RecordError read(const char* name, size_t max, std::vector<uint8_t>& out, std::string& err) const;

 private:
  bool reached(const char* name, const char* step, std::string& err);
  RecordError write_new(const char* name, store::Bytes data, std::string& err);
  int dir_fd_;
  WritePoints* points_;
};

// load_slots: decodes both slots; considers the valid ones with counter ∈ {T, T+1}; picks the
// highest (counter, soft_seq) (A on a tie); needs_roll_forward when the pick has T+1 (the
// commit's increment has to be done once). Errors: NoSlots, Corrupt (none decodes; `err` has
// each slot's reason), Rollback (all valid slots < T), Ahead (a valid slot > T+1 and none in
// range), Io. A slot that does not decode is skipped when the other is usable (a torn write).
struct LoadedSlots {
  Table table;
  uint64_t counter = 0;
  uint64_t soft_seq = 0;
  int slot = -1;  // 0 = records.a, 1 = records.b; the next write goes to the other
  bool needs_roll_forward = false;
};
RecordError load_slots(store::Crypto& c, int dir_fd, const store::SecretKey& records_key,
                       uint64_t tpm_counter, LoadedSlots& out, std::string& err);

}  // namespace vtpm::manager
