// StateStore (state_store.h): names, lazy locking, and the glue from NvBackend calls to the
// codecs and the durable directory writes.
#include "store/state_store.h"

#include <utility>

namespace vtpm::store {
namespace {

using engine::BlobKind;
using engine::LoadStatus;

const BlobKind kKinds[] = {BlobKind::Permanent, BlobKind::Volatile, BlobKind::SaveState};

bool valid_kind(BlobKind kind) {
  return kind == BlobKind::Permanent || kind == BlobKind::Volatile || kind == BlobKind::SaveState;
}

}  // namespace

const char* blob_label(BlobKind kind) {
  switch (kind) {
    case BlobKind::Permanent: return "permall";
    case BlobKind::Volatile: return "volatilestate";
    case BlobKind::SaveState: return "savestate";
  }
  return "unknown";
}

uint32_t tpm_result_of(BlobError e) {
  switch (e) {
    case BlobError::None: return engine::rc::kSuccess;
    case BlobError::Malformed: return engine::rc::kBadParameter;
    case BlobError::BadVersion: return engine::rc::kBadVersion;
    case BlobError::KeyMissing: return engine::rc::kKeyNotFound;
    case BlobError::KeyMismatch: return engine::rc::kBadKeyProperty;
    case BlobError::NotEncrypted: return engine::rc::kDecryptError;
    case BlobError::Integrity: return engine::rc::kDecryptError;
    case BlobError::NoCiphertext: return engine::rc::kFail;  // swtpm 0.7.1 SWTPM_NVRAM_DecryptData
    case BlobError::Internal: return engine::rc::kFail;
  }
  return engine::rc::kFail;
}

LoadStatus load_status_of(BlobError e, bool keyed) {
  switch (e) {
    case BlobError::None: return LoadStatus::Loaded;
    case BlobError::KeyMismatch: return LoadStatus::WrongKeySize;
    // With a key, a failed check is a MAC, tag or padding: wrong key (or modified data, which
    // swtpm cannot tell apart either). Without one it is the checked plain file's SHA-256.
    case BlobError::Integrity: return keyed ? LoadStatus::WrongKey : LoadStatus::Failed;
    case BlobError::Malformed:
    case BlobError::BadVersion:
    case BlobError::KeyMissing:
    case BlobError::NotEncrypted:
    case BlobError::NoCiphertext:  // swtpm: TPM_FAIL
    case BlobError::Internal: return LoadStatus::Failed;
  }
  return LoadStatus::Failed;
}

StateStore::StateStore(StateDir& dir, engine::TpmVersion version, Crypto& crypto,
                       std::string identity)
    : dir_(dir),
      version_(version),
      crypto_(crypto),
      identity_(std::move(identity)),
      journal_(dir, crypto, version == engine::TpmVersion::Tpm2 ? "tpm2-00.journal"
                                                                : "tpm-00.journal") {}

StateStore::StateStore(LinearFile& file, engine::TpmVersion version, Crypto& crypto,
                       std::string identity)
    : StateStore(file.dir(), version, crypto, std::move(identity)) {
  linear_ = &file;
}

std::string StateStore::journal_name() const { return linear_ != nullptr ? "" : journal_.name(); }

bool StateStore::snapshot_base(size_t k, Journal::Base& out, std::string& err) {
  out = Journal::Base();
  std::vector<uint8_t> file;
  switch (dir_.read(file_name(kKinds[k]), file, err)) {
    case FileStatus::Absent: return true;
    case FileStatus::Error: return false;
    case FileStatus::Ok: break;
  }
  out.present = true;
  if (!crypto_.sha256(file, out.sha.data())) {
    err = "SHA-256 failed";
    return false;
  }
  return true;
}

// Opens the journal at first use and checks that it follows the snapshot files (journal.h).
bool StateStore::ensure_journal() {
  if (!journal_error_.empty()) {
    last_error_ = journal_error_;
    return false;
  }
  if (journal_ready_) return true;
  if (!ensure_locked()) return false;
  std::string err;
  if (linear_ != nullptr) {  // no journal: the file itself, read and checked once
    if (!linear_->load(err)) {
      journal_error_ = err;  // a file that does not parse stays refused, and is never written
      last_error_ = err;
      return false;
    }
    journal_ready_ = true;
    return true;
  }
  if (!journal_.open(err)) {
    journal_error_ = err;
    last_error_ = err;
    return false;
  }
  bool fresh_bases = false;
  for (size_t k = 0; journal_.exists() && k < Journal::kKinds; ++k) {
    Journal::Base now;
    if (!snapshot_base(k, now, err)) {
      last_error_ = err;  // not sticky: a read error may pass
      return false;
    }
    const Journal::Base& base = journal_.base(k);
    const bool on_base = now.present == base.present && (!now.present || now.sha == base.sha);
    if (on_base) continue;
    const Journal::Latest& l = journal_.latest(k);
    if (!now.present && l.any_removed) continue;  // remove() unlinked it after its record
    if (!l.has) {
      fresh_bases = true;  // changed, but nothing to replay on it: start a new epoch below
      continue;
    }
    Digest img{};
    bool written = l.removed ? !now.present : false;
    if (!l.removed && now.present && crypto_.sha256(l.image, img.data())) written = img == now.sha;
    if (!written) {
      journal_error_ = "journal " + journal_.name() + " does not follow " + file_name(kKinds[k]) +
                       ": the state file was changed after vtpmd stopped without compacting "
                       "the journal (by swtpm?); refusing to replay it over the file (remove the "
                       "journal to use the state files as they are)";
      last_error_ = journal_error_;
      return false;
    }
  }
  if (fresh_bases && !compact_journal(false, err)) {
    last_error_ = err;
    return false;
  }
  journal_ready_ = true;
  return true;
}

// Writes the journal's latest state of every kind as its snapshot file, then starts a new epoch
// over them, or deletes the journal.
bool StateStore::compact_journal(bool delete_journal, std::string& err) {
  if (!journal_.exists()) return true;
  Journal::Base bases[Journal::kKinds];
  for (size_t k = 0; k < Journal::kKinds; ++k) {
    const Journal::Latest& l = journal_.latest(k);
    const std::string name = file_name(kKinds[k]);
    if (l.has && l.removed) {
      if (dir_.remove(name, err) == FileStatus::Error) return false;
    } else if (l.has && !dir_.write_durable(name, l.image, err)) {
      return false;
    }
    if (!snapshot_base(k, bases[k], err)) return false;
  }
  ++compactions_;
  return delete_journal ? journal_.remove_file(err) : journal_.reset(bases, err);
}

bool StateStore::append(size_t k, bool removed, Bytes image, std::string& err) {
  if (linear_ != nullptr) return removed ? linear_->clear(k, err) : linear_->put(k, image, err);
  // The first write of a process without a journal goes straight to the snapshot file (new file,
  // fsync, rename, directory fsync): an instance that starts, writes once at Startup and serves
  // reads never pays for creating the 1 MiB journal, which is what its spawn time would show. The
  // journal comes with the second write, based on the snapshots as they then are.
  if (first_write_direct_ && !journal_.exists() && direct_writes_ == 0) {
    ++direct_writes_;
    const std::string name = file_name(kKinds[k]);
    if (removed) return dir_.remove(name, err) != FileStatus::Error;
    if (!dir_.write_atomic(name, image, err)) return false;
    dir_sync_pending_ = true;  // flush_pending(), or the next write, makes the rename durable
    return true;
  }
  if (!flush_pending(err)) return false;
  if (!journal_.exists()) {
    Journal::Base bases[Journal::kKinds];
    for (size_t i = 0; i < Journal::kKinds; ++i) {
      if (!snapshot_base(i, bases[i], err)) return false;
    }
    if (!journal_.create(bases, err)) return false;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    switch (journal_.append(k, removed, image, err)) {
      case Journal::Append::Ok: return true;
      case Journal::Append::Error: return false;
      case Journal::Append::Full:
        if (!compact_journal(false, err)) return false;
        break;
    }
  }
  // Larger than the whole journal: write the snapshot itself, then restart the journal on it.
  const std::string name = file_name(kKinds[k]);
  if (removed ? dir_.remove(name, err) == FileStatus::Error : !dir_.write_durable(name, image, err)) {
    return false;
  }
  Journal::Base bases[Journal::kKinds];
  for (size_t i = 0; i < Journal::kKinds; ++i) {
    if (!snapshot_base(i, bases[i], err)) return false;
  }
  ++compactions_;
  return journal_.reset(bases, err);
}

bool StateStore::flush_pending(std::string& err) {
  if (!dir_sync_pending_) return true;
  if (!dir_.sync_dir(err)) return false;
  dir_sync_pending_ = false;
  return true;
}

bool StateStore::compact() {
  last_error_.clear();
  if (!ensure_journal()) return false;
  std::string err;
  if (!flush_pending(err) || !compact_journal(true, err)) {
    last_error_ = err;
    return false;
  }
  return true;
}

bool StateStore::fold_leftover_journal(bool& folded) {
  folded = false;
  last_error_.clear();
  if (!ensure_locked()) return false;
  if (linear_ != nullptr) return true;  // a linear file keeps no journal
  uint64_t size = 0;
  std::string err;
  switch (dir_.size_of(journal_.name(), size, err)) {
    case FileStatus::Absent: return true;
    case FileStatus::Error:
      last_error_ = err;
      return false;
    case FileStatus::Ok: break;
  }
  if (!compact()) return false;
  folded = true;
  return true;
}

bool StateStore::set_key(const SecretKey& raw, std::string& err) {
  key_.raw.clear();
  key_.gcm.clear();
  if (raw.empty()) return true;
  return derive_state_key(crypto_, raw.span(), key_, err);
}

std::string StateStore::file_name(BlobKind kind) const {
  return std::string(version_ == engine::TpmVersion::Tpm2 ? "tpm2-00." : "tpm-00.") +
         blob_label(kind);
}

Binding StateStore::binding(BlobKind kind) const {
  Binding b;
  b.tpm_version = version_ == engine::TpmVersion::Tpm2 ? 2 : 1;
  b.kind = kind;
  b.identity = identity_;
  return b;
}

bool StateStore::ensure_locked() {
  if (dir_.locked()) return true;
  std::string err;
  if (dir_.lock(err)) return true;
  last_error_ = err;
  return false;
}

LoadStatus StateStore::load(BlobKind kind, std::vector<uint8_t>& out) {
  out.clear();
  last_error_.clear();
  if (!valid_kind(kind)) {
    last_error_ = "unknown blob type";
    return LoadStatus::Failed;
  }
  if (!ensure_locked() || !ensure_journal()) return LoadStatus::Failed;
  const size_t k = index(kind);
  const std::string name = file_name(kind);
  std::vector<uint8_t> file;
  std::string err;
  const Journal::Latest& l = journal_.latest(k);
  std::string where = "state file " + name;
  if (linear_ != nullptr) {
    const std::vector<uint8_t>* slot = linear_->blob(k);
    if (slot == nullptr) {
      durable_known_[k] = false;
      return LoadStatus::Absent;
    }
    where = "file:// state " + linear_->path() + " (" + blob_label(kind) + ")";
    file = *slot;
  } else if (l.has && l.removed) {
    durable_known_[k] = false;
    return LoadStatus::Absent;
  } else if (l.has) {
    where += " (journal record " + std::to_string(l.sequence) + ")";
  } else {  // the snapshot file
    switch (dir_.read(name, file, err)) {
      case FileStatus::Absent: durable_known_[k] = false; return LoadStatus::Absent;
      case FileStatus::Error:
        last_error_ = err;
        return LoadStatus::Failed;
      case FileStatus::Ok: break;
    }
  }
  DecodedState st;
  const bool from_journal = linear_ == nullptr && l.has;
  const BlobError e = decode_state_file(crypto_, from_journal ? Bytes(l.image) : Bytes(file),
                                        has_key() ? &key_ : nullptr, binding(kind), st, err);
  if (e != BlobError::None) {
    last_error_ = where + ": " + err;
    // swtpm 0.7.1 takes any file as encrypted when it has a key, and a header-version-2 file
    // without its 256-bit flag as needing a 128-bit key: a plain file and a 256-bit key give
    // TPM_BAD_KEY_PROPERTY there (a 128-bit key: TPM_FAIL, no HMAC found). So here too.
    const Bytes image = from_journal ? Bytes(l.image) : Bytes(file);
    if (e == BlobError::NotEncrypted && key_.raw.size() == 32 && !image.empty() && image[0] >= 2) {
      return LoadStatus::WrongKeySize;
    }
    return load_status_of(e, has_key());
  }
  generation_[k] = st.generation;
  // Only a file in the format store() writes counts as already written (a swtpm file is
  // rewritten by the next store, even with the same blob: checked, or sealed with GCM).
  const bool current = has_key() ? st.format == FileFormat::Gcm : st.checked;
  durable_known_[k] = current && crypto_.sha256(st.plain, durable_sha_[k].data());
  out.swap(st.plain);
  return LoadStatus::Loaded;
}

bool StateStore::store(BlobKind kind, const uint8_t* data, uint32_t len) {
  last_error_.clear();
  if (!valid_kind(kind) || (data == nullptr && len != 0)) {
    last_error_ = "bad store request";
    return false;
  }
  if (!ensure_locked() || !ensure_journal()) return false;
  const size_t k = index(kind);
  const std::string name = file_name(kind);
  const Bytes plain(data, len);
  Digest sha{};
  if (!crypto_.sha256(plain, sha.data())) {
    last_error_ = "state file " + name + ": SHA-256 failed";
    return false;
  }
  if (durable_known_[k] && sha == durable_sha_[k]) return true;  // already durable: no write
  std::string err;
  const uint64_t gen = generation_[k] + 1;
  if (has_key()) {
    if (!encode_gcm_file(crypto_, key_, binding(kind), gen, plain, image_, err)) {
      last_error_ = "state file " + name + ": " + err;
      return false;
    }
  } else if (!encode_checked_plain_file(crypto_, plain, nullptr, image_, err)) {
    last_error_ = "state file " + name + ": " + err;
    return false;
  }
  const uint64_t stored_gen = has_key() ? gen : 0;
  if (observer_ != nullptr && !observer_->before_write(kind, stored_gen, sha)) {
    last_error_ = "state file " + name + ": the write was not announced to the manager";
    return false;
  }
  durable_known_[k] = false;  // a failed write leaves it unknown
  if (!append(k, false, image_, err)) {
    last_error_ = err;
    return false;
  }
  generation_[k] = stored_gen;
  durable_sha_[k] = sha;
  durable_known_[k] = true;
  if (observer_ != nullptr && !observer_->after_write(kind, stored_gen, sha)) {
    last_error_ = "state file " + name + ": written, but the manager did not confirm it";
    return false;
  }
  return true;
}

// A removal is durable and visible before it returns (the volatile state is one-shot: INIT with
// delete-volatile and GET_STATEBLOB consume it, and nothing may resume from it again, not vtpmd's
// journal replay after a crash, nor swtpm given the directory). The order is what makes a crash
// at any point safe: first the journal's "removed" record (fdatasync; from then on a replay
// says Absent, and the snapshot file is only a stale copy), then the file is unlinked and the
// directory fsynced (from then on swtpm sees nothing either). Without a journal the file is the
// only copy, so unlinking it (and the directory fsync) is the whole removal. A file that a crash
// left behind after its "removed" record is unlinked too, though the blob counts as absent.
bool StateStore::remove(BlobKind kind, bool must_exist) {
  last_error_.clear();
  if (!valid_kind(kind)) {
    last_error_ = "unknown blob type";
    return false;
  }
  if (!ensure_locked() || !ensure_journal()) return false;
  const size_t k = index(kind);
  const std::string name = file_name(kind);
  std::string err;
  if (linear_ != nullptr) {
    const bool there = linear_->blob(k) != nullptr;
    if (!there && must_exist) last_error_ = name + " does not exist";
    if (!there) return !must_exist;
    durable_known_[k] = false;
    if (!append(k, true, Bytes(), err)) {
      last_error_ = err;
      return false;
    }
    return true;
  }
  const Journal::Latest& l = journal_.latest(k);
  bool file_present = false;
  uint64_t size = 0;
  switch (dir_.size_of(name, size, err)) {
    case FileStatus::Ok: file_present = true; break;
    case FileStatus::Absent: break;
    case FileStatus::Error:
      last_error_ = err;
      return false;
  }
  const bool exists = l.has ? !l.removed : file_present;
  if (exists) {
    durable_known_[k] = false;
    if (journal_.exists() && !append(k, true, Bytes(), err)) {
      last_error_ = err;
      return false;
    }
  }
  if (file_present) {
    switch (dir_.remove(name, err)) {
      case FileStatus::Ok: dir_sync_pending_ = false; break;  // remove() synced the directory
      case FileStatus::Absent: break;  // a compaction inside append() removed it already
      case FileStatus::Error:
        last_error_ = err;
        return false;
    }
  }
  if (!exists && must_exist) {
    last_error_ = name + " does not exist";
    return false;
  }
  return true;
}

bool StateStore::encode_migration_blob(BlobKind kind, const std::vector<uint8_t>& plain,
                                       const std::vector<uint8_t>& migration_key,
                                       std::vector<uint8_t>& out, std::string& err, bool sealed) {
  if (sealed && !has_key()) {
    err = std::string(blob_label(kind)) + " blob: no state-file key to seal it with";
    return false;
  }
  if (!store::encode_migration_blob(crypto_, plain, migration_key, out, err,
                                    sealed ? key_.raw.span() : Bytes{})) {
    err = std::string(blob_label(kind)) + " blob: " + err;
    return false;
  }
  return true;
}

uint32_t StateStore::decode_migration_blob(BlobKind kind, const uint8_t* blob, uint32_t len,
                                           const std::vector<uint8_t>& migration_key,
                                           std::vector<uint8_t>& plain, std::string& err,
                                           bool said_encrypted) {
  if (blob == nullptr && len != 0) return engine::rc::kBadParameter;
  const BlobError e = store::decode_migration_blob(crypto_, Bytes(blob, len), migration_key,
                                                   key_.raw.span(), plain, err, said_encrypted);
  if (e != BlobError::None) err = std::string(blob_label(kind)) + " blob: " + err;
  return tpm_result_of(e);
}

bool StateStore::list(std::vector<StoredBlob>& out, std::string& err) const {
  out.clear();
  if (linear_ != nullptr) {  // swtpm prints a slot's data_length
    if (!linear_->load(err)) return false;
    for (BlobKind kind : kKinds) {
      const std::vector<uint8_t>* slot = linear_->blob(index(kind));
      if (slot != nullptr) out.push_back(StoredBlob{kind, file_name(kind), blob_label(kind), slot->size()});
    }
    return true;
  }
  for (BlobKind kind : kKinds) {
    uint64_t size = 0;
    const std::string name = file_name(kind);
    // What the journal holds for it, once it was opened (a StateStore that only lists does not
    // replay a journal a crash left; compact() makes the files complete).
    const Journal::Latest& l = journal_.latest(index(kind));
    if (journal_ready_ && l.has) {
      if (!l.removed) out.push_back(StoredBlob{kind, name, blob_label(kind), l.image.size()});
      continue;
    }
    switch (dir_.size_of(name, size, err)) {
      case FileStatus::Ok: out.push_back(StoredBlob{kind, name, blob_label(kind), size}); break;
      case FileStatus::Absent: break;
      case FileStatus::Error: return false;
    }
  }
  return true;
}

}  // namespace vtpm::store
