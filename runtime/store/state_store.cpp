// StateStore (state_store.h): names, lazy locking, and the glue from NvBackend calls to the
// codecs and the durable directory writes.
#include "store/state_store.h"

#include <utility>

namespace vtpm::store {
namespace {

using engine::BlobKind;
using engine::LoadStatus;

constexpr uint32_t kTpmBadKeyProperty = 0x28;  // libtpms tpm_error.h TPM_BAD_KEY_PROPERTY

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
    case BlobError::KeyMismatch: return kTpmBadKeyProperty;
    case BlobError::NotEncrypted: return engine::rc::kDecryptError;
    case BlobError::Integrity: return engine::rc::kDecryptError;
    case BlobError::Internal: return engine::rc::kFail;
  }
  return engine::rc::kFail;
}

StateStore::StateStore(StateDir& dir, engine::TpmVersion version, Crypto& crypto,
                       std::string identity)
    : dir_(dir), version_(version), crypto_(crypto), identity_(std::move(identity)) {}

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
  if (!ensure_locked()) return LoadStatus::Failed;
  const std::string name = file_name(kind);
  std::vector<uint8_t> file;
  std::string err;
  switch (dir_.read(name, file, err)) {
    case FileStatus::Absent: return LoadStatus::Absent;
    case FileStatus::Error:
      last_error_ = err;
      return LoadStatus::Failed;
    case FileStatus::Ok: break;
  }
  DecodedState st;
  const BlobError e = decode_state_file(crypto_, file, has_key() ? &key_ : nullptr, binding(kind),
                                        st, err);
  if (e != BlobError::None) {
    last_error_ = "state file " + name + ": " + err;
    return LoadStatus::Failed;
  }
  generation_[index(kind)] = st.generation;
  out.swap(st.plain);
  return LoadStatus::Loaded;
}

bool StateStore::store(BlobKind kind, const uint8_t* data, uint32_t len) {
  last_error_.clear();
  if (!valid_kind(kind) || (data == nullptr && len != 0)) {
    last_error_ = "bad store request";
    return false;
  }
  if (!ensure_locked()) return false;
  const std::string name = file_name(kind);
  const Bytes plain(data, len);
  std::vector<uint8_t> file;
  std::string err;
  const uint64_t gen = generation_[index(kind)] + 1;
  if (has_key()) {
    if (!encode_gcm_file(crypto_, key_, binding(kind), gen, plain, file, err)) {
      last_error_ = "state file " + name + ": " + err;
      return false;
    }
  } else {
    encode_plain_file(plain, file);
  }
  if (!dir_.write_durable(name, file, err)) {
    last_error_ = err;
    return false;
  }
  generation_[index(kind)] = has_key() ? gen : 0;
  return true;
}

bool StateStore::remove(BlobKind kind, bool must_exist) {
  last_error_.clear();
  if (!valid_kind(kind)) {
    last_error_ = "unknown blob type";
    return false;
  }
  if (!ensure_locked()) return false;
  const std::string name = file_name(kind);
  std::string err;
  switch (dir_.remove(name, err)) {
    case FileStatus::Ok: return true;
    case FileStatus::Absent:
      if (must_exist) last_error_ = name + " does not exist";
      return !must_exist;
    case FileStatus::Error:
      last_error_ = err;
      return false;
  }
  return false;
}

bool StateStore::encode_migration_blob(BlobKind kind, const std::vector<uint8_t>& plain,
                                       const std::vector<uint8_t>& migration_key,
                                       std::vector<uint8_t>& out, std::string& err) {
  if (!store::encode_migration_blob(crypto_, plain, migration_key, out, err)) {
    err = std::string(blob_label(kind)) + " blob: " + err;
    return false;
  }
  return true;
}

uint32_t StateStore::decode_migration_blob(BlobKind kind, const uint8_t* blob, uint32_t len,
                                           const std::vector<uint8_t>& migration_key,
                                           std::vector<uint8_t>& plain, std::string& err) {
  if (blob == nullptr && len != 0) return engine::rc::kBadParameter;
  const BlobError e = store::decode_migration_blob(crypto_, Bytes(blob, len), migration_key,
                                                   key_.raw.span(), plain, err);
  if (e != BlobError::None) err = std::string(blob_label(kind)) + " blob: " + err;
  return tpm_result_of(e);
}

bool StateStore::list(std::vector<StoredBlob>& out, std::string& err) const {
  out.clear();
  for (BlobKind kind : kKinds) {
    uint64_t size = 0;
    const std::string name = file_name(kind);
    switch (dir_.size_of(name, size, err)) {
      case FileStatus::Ok: out.push_back(StoredBlob{kind, name, blob_label(kind), size}); break;
      case FileStatus::Absent: break;
      case FileStatus::Error: return false;
    }
  }
  return true;
}

}  // namespace vtpm::store
