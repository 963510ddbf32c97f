// StateStore: the engine's NvBackend over a state directory, plus the control channel's blob
// codecs. Files are named as swtpm names them (reference/swtpm-qemu.md §3.4); without a key they
// are written in swtpm's layout plus a SHA-256 TLV swtpm skips, with one as AES-256-GCM files
// (blob_codec.h). A file that exists but does not decode makes load() answer a failure (Failed,
// WrongKey or WrongKeySize: load_status_of()) with the reason kept in last_error(), so the
// instance stops with that sentence (DESIGN §5 fail closed).
//
// Writes go to the journal (journal.h): one pwrite + fdatasync per store(), durable before it
// returns; a store() of exactly the bytes already durable for that kind writes nothing. remove()
// is visible in the directory at once: a "removed" journal record, then unlink + directory fsync
// (the volatile state is one-shot; state_store.cpp says why that order is crash-safe). compact() (clean shutdown) writes the snapshot files and deletes the journal, so the
// directory is plain swtpm state again; after a crash, the next StateStore replays the journal.
// set_key() must come before the first load/store/remove/compact (the journal holds sealed
// images and is checked at first use).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/nv_backend.h"
#include "store/blob_codec.h"
#include "store/crypto.h"
#include "store/journal.h"
#include "store/linear_file.h"
#include "store/state_dir.h"

namespace vtpm::store {

struct StoredBlob {
  engine::BlobKind kind;
  std::string name;     // file name, e.g. tpm2-00.permall
  std::string label;    // libtpms name, e.g. permall (what --print-states prints)
  uint64_t file_size;   // what swtpm's --print-states reports
};

// Told about every durable write of a blob, so that someone outside (vtpm-manager, through the
// instance core's manager client) can know the latest state: `before_write` runs before the
// write starts (so a report can travel while the write syncs), `after_write` once it is durable
// and before store() returns. A false answer fails the write (the TPM command then fails).
class WriteObserver {
 public:
  virtual bool before_write(engine::BlobKind kind, uint64_t generation, const Digest& sha) = 0;
  virtual bool after_write(engine::BlobKind kind, uint64_t generation, const Digest& sha) = 0;

 protected:
  ~WriteObserver() = default;
};

class StateStore final : public engine::NvBackend {
 public:
  // `dir` must be open and outlive the store. `identity` ("" = none) is bound into sealed files.
  StateStore(StateDir& dir, engine::TpmVersion version, Crypto& crypto, std::string identity);
  // The same over swtpm's linear file (backend-uri=file://, linear_file.h): each blob is a slot
  // holding the bytes its state file would hold; there is no journal (every write replaces the
  // file durably), so compact() and fold_leftover_journal() have nothing to do.
  StateStore(LinearFile& file, engine::TpmVersion version, Crypto& crypto, std::string identity);
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // The state-file key (--key/--pwdfile; 16 or 32 bytes). Without one, files are plain.
  bool set_key(const SecretKey& raw, std::string& err);
  bool has_key() const { return !key_.raw.empty(); }

  // NvBackend. The first call takes the directory lock if the caller has not (swtpm locks at INIT).
  engine::LoadStatus load(engine::BlobKind kind, std::vector<uint8_t>& out) override;
  bool store(engine::BlobKind kind, const uint8_t* data, uint32_t len) override;
  // Gone durably before it returns, from the journal and from the directory: after INIT with
  // delete-volatile (the engine calls it) and after GET_STATEBLOB handed the volatile state out
  // (the instance core calls remove(BlobKind::Volatile, false)), no restart of vtpmd or swtpm can
  // resume from that state again.
  bool remove(engine::BlobKind kind, bool must_exist) override;

  // Writes every blob's latest state as its snapshot file (temp + fsync + rename + directory
  // fsync) and deletes the journal: afterwards the directory is what swtpm 0.7.1 reads. Call it
  // at a clean stop (CMD_SHUTDOWN, CMD_STOP, SIGTERM); later stores start a new journal. False
  // (with last_error()) when the journal is damaged or a write fails; nothing is lost then.
  bool compact();
  // A journal left in the directory by a process that did not stop cleanly (SIGKILL, a crash,
  // power loss) is folded into the snapshot files and deleted (compact()), so that the directory
  // is swtpm's again. vtpmd calls it before it serves, and `vtpmd socket --fold-journal` offline.
  // `folded` says whether there was a journal. False with last_error(): the lock is held by
  // another process, or the journal is damaged or does not follow the files (nothing changed).
  bool fold_leftover_journal(bool& folded);
  // For tests and benchmarks: journal writes so far (records and headers) and compactions.
  uint64_t journal_writes() const { return journal_.writes(); }
  uint64_t compactions() const { return compactions_; }
  std::string journal_name() const;  // "" for a linear file

  // The process's first write goes to the snapshot file itself when there is no journal yet
  // (vtpmd: start-up then writes once without creating the journal); the journal begins with the
  // second write.
  void set_first_write_direct(bool on) { first_write_direct_ = on; }
  // That first write is synced and renamed into place before store() returns, but the directory
  // fsync that makes the rename durable is left to flush_pending() (vtpmd calls it as soon as it
  // is idle) or to the next write. No answered command depends on it: it is the start-up's own
  // write, and a crash before the flush leaves the previous, complete file.
  bool has_pending_sync() const { return dir_sync_pending_; }
  bool flush_pending(std::string& err);
  uint32_t direct_writes() const { return direct_writes_; }

  // Why the last load/store/remove failed ("" when it did not).
  const std::string& last_error() const { return last_error_; }
  std::string file_name(engine::BlobKind kind) const;
  // The generation of the blob last loaded or stored (GCM files count their writes).
  uint64_t generation(engine::BlobKind kind) const { return generation_[index(kind)]; }
  // SHA-256 of the plain blob last loaded or stored; false if none is known to be durable.
  bool durable_digest(engine::BlobKind kind, Digest& out) const {
    if (!durable_known_[index(kind)]) return false;
    out = durable_sha_[index(kind)];
    return true;
  }
  // nullptr = nobody; the observer must outlive the store's writes.
  void set_observer(WriteObserver* observer) { observer_ = observer; }

  // CMD_GET_STATEBLOB / CMD_SET_STATEBLOB bodies (swtpm 0.7.1 format; `migration_key` empty =
  // none). `sealed`: the inner part stays encrypted with the state-file key, as swtpm hands it
  // out when the client did not ask for PTM_STATE_FLAG_DECRYPTED (needs has_key()). decode
  // answers a TPM result code for the control channel (0 = success) and `err`.
  bool encode_migration_blob(engine::BlobKind kind, const std::vector<uint8_t>& plain,
                             const std::vector<uint8_t>& migration_key, std::vector<uint8_t>& out,
                             std::string& err, bool sealed = false);
  uint32_t decode_migration_blob(engine::BlobKind kind, const uint8_t* blob, uint32_t len,
                                 const std::vector<uint8_t>& migration_key,
                                 std::vector<uint8_t>& plain, std::string& err,
                                 bool said_encrypted = false);

  // The blobs present, in the order permall, volatilestate, savestate (for --print-states).
  bool list(std::vector<StoredBlob>& out, std::string& err) const;

 private:
  static size_t index(engine::BlobKind kind) { return static_cast<size_t>(kind) - 1; }
  bool ensure_locked();
  bool ensure_journal();
  bool snapshot_base(size_t k, Journal::Base& out, std::string& err);
  bool compact_journal(bool delete_journal, std::string& err);
  bool append(size_t k, bool removed, Bytes image, std::string& err);
  Binding binding(engine::BlobKind kind) const;

  StateDir& dir_;
  LinearFile* linear_ = nullptr;  // backend-uri=file://: the blobs live there, not in dir_
  engine::TpmVersion version_;
  Crypto& crypto_;
  std::string identity_;
  StateKey key_;
  std::string last_error_;
  bool first_write_direct_ = false;
  bool dir_sync_pending_ = false;
  uint32_t direct_writes_ = 0;  // writes that went straight to a snapshot (append())
  uint64_t generation_[3] = {0, 0, 0};
  Journal journal_;
  bool journal_ready_ = false;    // opened and checked against the snapshots
  std::string journal_error_;     // a journal that did not check: every later call fails with it
  bool durable_known_[3] = {false, false, false};
  Digest durable_sha_[3] = {};    // SHA-256 of the plain blob last loaded or stored, per kind
  uint64_t compactions_ = 0;
  std::vector<uint8_t> image_;    // the file image being written (reused)
  WriteObserver* observer_ = nullptr;
};

// The control channel's answer for a decode failure (swtpm: 0x21 bad MAC, 0x0d key missing, …).
uint32_t tpm_result_of(BlobError e);
// What load() answers for a state file that did not decode (`keyed`: a state-file key is set),
// so that the engine hands libtpms the code swtpm 0.7.1's NVRAM load gives: a wrong key's MAC or
// tag failure is WrongKey (0x21), a key of the other size WrongKeySize (0x28), all else Failed.
engine::LoadStatus load_status_of(BlobError e, bool keyed);
// libtpms's name of a blob: permall, volatilestate, savestate.
const char* blob_label(engine::BlobKind kind);

}  // namespace vtpm::store
