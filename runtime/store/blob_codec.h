// What the blobs mean: state files (what a state directory holds) and migration blobs (what
// CMD_GET/SET_STATEBLOB carry), over the container of blob_format.h. Decoding is total: every
// input gives either the plain libtpms blob or a BlobError with a sentence saying what is wrong.
// The formats, including vtpmd's own AES-256-GCM file, are described below the includes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/nv_backend.h"
#include "store/crypto.h"
#include "store/secret.h"

// State files read: plain (swtpm: TLV 1, or vtpmd's checked plain file below), swtpm-encrypted (flag 0x01 [+0x08]: TLVs 2, 3, 6 —
// AES-CBC, pad to a multiple of the key length with bytes equal to the pad length, then
// HMAC-SHA256 with the same key over ciphertext‖IV, the IV as long as the key), header version 1
// and headerless legacy files (payload raw, or with a key AES-CBC under a zero IV of
// SHA-256(data)‖data), and vtpmd's GCM files. Written: vtpmd's checked plain file (swtpm's
// layout plus two TLVs that swtpm 0.7.1 skips, so the directory stays swtpm's) or, with a key,
// GCM. A plain file is refused when a key is given.
//
// vtpmd's checked plain file (header version 2, min_version 1, flags 0, exactly this order):
//   TLV 1 data   [TLV 0x15 journal mark: BE64 epoch, BE64 sequence]   TLV 0x14 SHA-256 (32)
// where the SHA-256 covers every byte of the file before TLV 0x14 (header, TLV 1, mark), so any
// change to the file (a bit flip, a truncation, an edited length) is refused with a sentence
// naming the damage; libtpms itself does not check all of its blob. A plain file without TLV
// 0x14 is swtpm's (or one a swtpm rewrote) and loads as before, unchecked; TLV 0x15 is only
// accepted together with 0x14. TLV 0x15 (in GCM files too, where it is authenticated) is a
// journal position, epoch and sequence; the journal (journal.h) recognises its snapshots by
// SHA-256 instead, so vtpmd's StateStore does not write it at present.
//
// vtpmd's GCM state file (header version 2, min_version 2, flags 0x20 only; swtpm 0.7.1 finds
// no TLV 1 in it and refuses it):
//   TLV 0x13 generation BE64   TLV 0x16 key size (u8: 16 or 32, the --key/--pwdfile key's bytes)
//   TLV 0x10 nonce (12, random)   TLV 0x11 ciphertext   TLV 0x12 tag (16)
//   [TLV 0x15 journal mark, BE64 epoch ‖ BE64 sequence: snapshots written by the journal]
//   key  = HKDF-SHA256(ikm = the --key/--pwdfile key, salt = none, info = kGcmKeyInfo), 32 bytes
//   AAD  = kGcmAadLabel ‖ header (10 bytes, as in the file) ‖ u8 TPM version (1: 1.2, 2: 2.0)
//          ‖ u8 blob type (1 permall, 2 volatilestate, 3 savestate) ‖ BE64 generation
//          ‖ BE32 identity length ‖ identity [‖ the key-size byte] [‖ the journal mark's 16 bytes]
// The key size lets a key of the other size be refused as that (KeyMismatch, as swtpm's 256-bit
// flag does) rather than as a failed tag; files written before TLV 0x16 existed have none and
// still load (a wrong key of either size is then an Integrity failure).
// so a file renamed to another blob type, carried to another instance identity or TPM version,
// or with its header or generation edited, fails authentication. Nonces are random (96 bits):
// far below the 2^32 writes per key where random GCM nonces would need retiring the key.

namespace vtpm::store {

inline constexpr char kGcmKeyInfo[] = "vtpmd state AES-256-GCM key v1";
inline constexpr char kGcmAadLabel[] = "vtpmd state v1";

enum class BlobError : uint8_t {
  None,
  Malformed,     // header, TLV layout or field sizes are wrong
  BadVersion,    // a header version this reader does not know
  KeyMissing,    // encrypted, but no key was given
  KeyMismatch,   // the key has the wrong size for this blob (swtpm's 128/256-bit flags)
  NotEncrypted,  // plain, but a key was given: refused rather than silently downgraded
  Integrity,     // MAC, tag, hash or padding check failed: wrong key or modified data
  NoCiphertext,  // said to be encrypted, but its HMAC or ciphertext TLV is missing (swtpm: TPM_FAIL)
  Internal,      // the crypto provider failed
};

enum class FileFormat : uint8_t { Plain, SwtpmEncrypted, Legacy, LegacyEncrypted, Gcm };

// What a sealed state file is bound to (the GCM additional data).
struct Binding {
  uint8_t tpm_version = 2;                     // 1: TPM 1.2, 2: TPM 2.0
  engine::BlobKind kind = engine::BlobKind::Permanent;
  std::string_view identity;                   // "" = none
};

// The state-file key: the raw --key/--pwdfile key (swtpm formats) and the GCM key derived from it.
struct StateKey {
  SecretKey raw;
  SecretKey gcm;
};
bool derive_state_key(Crypto& crypto, Bytes raw, StateKey& out, std::string& err);

// Where a snapshot stands in the journal (journal.h): it includes every record of journal
// `epoch` up to and including `sequence`.
struct JournalMark {
  uint64_t epoch = 0;
  uint64_t sequence = 0;
};

struct DecodedState {
  std::vector<uint8_t> plain;
  FileFormat format = FileFormat::Plain;
  uint64_t generation = 0;                     // GCM files; 0 otherwise
  bool checked = false;                        // plain: TLV 0x14 present and verified
  bool has_mark = false;                       // TLV 0x15 present (then `mark` is it)
  JournalMark mark;
};

// key == nullptr: no key configured.
BlobError decode_state_file(Crypto& crypto, Bytes file, const StateKey* key, const Binding& b,
                            DecodedState& out, std::string& err);
// swtpm's own plain file, byte for byte (tests, tools; vtpmd writes the checked one).
void encode_plain_file(Bytes plain, std::vector<uint8_t>& out);
// vtpmd's checked plain file (above); `mark` nullptr: no TLV 0x15.
bool encode_checked_plain_file(Crypto& crypto, Bytes plain, const JournalMark* mark,
                               std::vector<uint8_t>& out, std::string& err);
bool encode_gcm_file(Crypto& crypto, const StateKey& key, const Binding& b, uint64_t generation,
                     Bytes plain, std::vector<uint8_t>& out, std::string& err,
                     const JournalMark* mark = nullptr);
// swtpm 0.7.1's encrypted state file, for tests and tools (vtpmd itself writes GCM).
bool encode_swtpm_encrypted_file(Crypto& crypto, Bytes key, Bytes plain, std::vector<uint8_t>& out,
                                 std::string& err);

// Control-channel blob (swtpm 0.7.1 SWTPM_NVRAM_GetStateBlob): the inner part is TLV 1 plain, or,
// with a state-file key `file_key` (raw, 16 or 32 bytes; empty = leave it plain), swtpm's AES-CBC
// TLVs 2, 3, 6 (header flags +0x01 [+0x08]); then header(flags 0x04) TLV 4 ⟨inner⟩, or with a
// migration key flags +0x02 [+0x10] TLVs 5, 3, 7 over the inner part.
bool encode_migration_blob(Crypto& crypto, Bytes plain, Bytes migration_key,
                           std::vector<uint8_t>& out, std::string& err, Bytes file_key = {});
// Accepts what swtpm's SET_STATEBLOB accepts: unencrypted blobs even when a migration key is set,
// an inner part encrypted with the state-file key (file_key, raw; empty = none), header version
// 1 blobs. A blob that is only a header gives an empty `plain` (libtpms: clear that blob).
// `said_encrypted`: the request's PTM_STATE_FLAG_ENCRYPTED; as in swtpm, the inner part is then
// decrypted with the state key even when the header does not say so.
BlobError decode_migration_blob(Crypto& crypto, Bytes blob, Bytes migration_key, Bytes file_key,
                                std::vector<uint8_t>& plain, std::string& err,
                                bool said_encrypted = false);

// The swtpm AES-CBC scheme itself (used by both of the above and by the tests).
bool swtpm_cbc_seal(Crypto& crypto, Bytes key, Bytes plain, std::vector<uint8_t>& ct,
                    std::vector<uint8_t>& iv, uint8_t mac[32], std::string& err);
BlobError swtpm_cbc_open(Crypto& crypto, Bytes key, Bytes ct, Bytes iv, Bytes mac,
                         std::vector<uint8_t>& plain, std::string& err);

const char* blob_error_name(BlobError e);

}  // namespace vtpm::store
