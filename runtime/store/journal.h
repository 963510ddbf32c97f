// Journal: durable state writes with one flush each. The state directory keeps swtpm's snapshot
// files (tpm2-00.permall, …); beside them, while vtpmd runs, lives an append-only journal
// (tpm2-00.journal, tpm-00.journal for TPM 1.2; opened relative to the directory fd with
// O_NOFOLLOW, with the state files' mode). Each StateStore::store() appends one record holding
// the exact bytes the snapshot file would hold (the encoded checked-plain or GCM image) with
// pwrite, then fdatasync: the write is durable before store() returns, and since the file was
// pre-filled with zeros to its full size (written and fsynced once, by the temp + fsync + rename
// + directory fsync of StateDir::write_durable), later writes overwrite allocated blocks and
// change no metadata that fdatasync must flush.
//
// Layout (kBytes = 1 MiB, all integers big-endian):
//   [0, 512)     header slot A     [512, 1024)  header slot B      [4096, kBytes)  records
//   header slot: "VTPMJNL1" | u64 counter | u64 epoch | 3 × (u8 present, 32-byte SHA-256) base
//                | SHA-256 over all the slot's bytes before it                    (= 163 bytes)
//   record:      u32 0x564A5231 ("VJR1") | u64 epoch | u64 sequence | u8 kind (1 permall,
//                2 volatilestate, 3 savestate) | u8 op (1 image, 2 removed) | u16 0 | u32 length
//                | image[length] | SHA-256 over the 28 header bytes and the image
// The valid slot with the higher counter is the header. Its `base` is, per kind, the SHA-256 of
// the snapshot file the records apply on top of (present 0: no file). Records follow each other
// from offset 4096 with sequence numbers counting up by one; the scan stops at the first record
// that does not verify (zeros, a record of an older epoch, a torn tail after a crash). If any
// valid record of the current epoch lies beyond that point, the journal was damaged in the
// middle and it is refused (Failed), never partly applied.
//
// A kind's state is its latest record, else its snapshot. A journal only applies to the
// snapshots it was started on: at open, each kind with records must have a snapshot whose
// SHA-256 is its base, or is byte-identical to its latest record (a compaction that was cut
// short had already written it; absent for a "removed" record), or is absent when some record
// of that kind is "removed" (StateStore::remove() unlinks the file right after writing that
// record). Anything else means another program (swtpm) wrote the state files after vtpmd
// stopped without compacting; the journal is then refused with a sentence saying so, rather
// than replayed over the newer files.
//
// Compaction writes each kind's latest record as its snapshot (write_durable) or removes it,
// then either resets the journal (the other header slot, counter + 1, a new random epoch, the
// new bases; one pwrite + fdatasync: a torn slot leaves the old one, which is still consistent
// by the rule above) or, at a clean shutdown, deletes it so the directory is plain swtpm state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nv_backend.h"
#include "store/crypto.h"
#include "store/secret.h"
#include "store/state_dir.h"

namespace vtpm::store {

using Digest = std::array<uint8_t, Crypto::kSha256Bytes>;

class Journal {
 public:
  static constexpr size_t kBytes = 1024 * 1024;
  static constexpr size_t kSlotBytes = 512;
  static constexpr size_t kRecordsStart = 4096;
  static constexpr size_t kRecordHeaderBytes = 28;
  static constexpr size_t kRecordOverhead = kRecordHeaderBytes + Crypto::kSha256Bytes;
  static constexpr size_t kMaxImage = kBytes - kRecordsStart - kRecordOverhead;
  static constexpr size_t kKinds = 3;

  struct Base {
    bool present = false;
    Digest sha{};
  };
  struct Latest {
    bool has = false;      // a record of this kind in the current epoch
    bool removed = false;  // the latest is a "removed" record
    bool any_removed = false;  // some record of this kind in the current epoch is "removed"
    uint64_t sequence = 0;
    std::vector<uint8_t> image;
  };
  enum class Append : uint8_t { Ok, Full, Error };

  Journal(StateDir& dir, Crypto& crypto, std::string name);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& name() const { return name_; }
  // Reads and checks the journal file if there is one (exists() says). False: it is damaged
  // (`err` names the file and the damage).
  bool open(std::string& err);
  bool exists() const { return fd_ >= 0; }
  const Base& base(size_t k) const { return base_[k]; }
  const Latest& latest(size_t k) const { return latest_[k]; }
  bool any_records() const { return next_ > kRecordsStart; }

  // Creates the pre-filled file (durably) over the given bases. The journal must not exist.
  bool create(const Base (&bases)[kKinds], std::string& err);
  // Appends one record and fdatasyncs it. Full: it does not fit (compact, then append again).
  // After an Error, every later append fails too (a failed flush may have lost pages).
  Append append(size_t k, bool removed, Bytes image, std::string& err);
  // Starts a new epoch over the given bases (the other header slot, pwrite + fdatasync).
  bool reset(const Base (&bases)[kKinds], std::string& err);
  // Deletes the journal file (and syncs the directory).
  bool remove_file(std::string& err);

  uint64_t writes() const { return writes_; }  // record and header writes, for tests

 private:
  bool write_at(const uint8_t* p, size_t n, uint64_t off, std::string& err);
  void encode_slot(uint8_t* out, uint64_t counter, uint64_t epoch, const Base (&bases)[kKinds]);
  bool parse_slot(Bytes slot, uint64_t& counter, uint64_t& epoch, Base (&bases)[kKinds]);
  // Verifies the record at `off` of `buf`; its size in `size`.
  bool record_at(Bytes buf, size_t off, uint64_t want_seq, size_t& size, size_t& kind,
                 bool& removed, Bytes& image);
  bool new_epoch(uint64_t& epoch, std::string& err);

  StateDir& dir_;
  Crypto& crypto_;
  std::string name_;
  int fd_ = -1;
  bool broken_ = false;
  uint64_t counter_ = 0;
  uint64_t epoch_ = 0;
  size_t slot_ = 0;               // the slot holding the current header
  size_t next_ = kRecordsStart;   // where the next record goes
  uint64_t next_seq_ = 1;
  uint64_t writes_ = 0;
  Base base_[kKinds];
  Latest latest_[kKinds];
  std::vector<uint8_t> rec_;      // the record being written (reused)
};

}  // namespace vtpm::store
