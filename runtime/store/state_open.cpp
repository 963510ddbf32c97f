// OpenedState and the offline actions (state_open.h).
#include "store/state_open.h"

#include <vector>

#include "store/key.h"
#include "store/secret.h"

namespace vtpm::store {
namespace {

engine::TpmVersion version_of(const instance::Config& cfg) {
  return cfg.tpm2 ? engine::TpmVersion::Tpm2 : engine::TpmVersion::Tpm12;
}

}  // namespace

bool OpenedState::open(const instance::Config& cfg, Crypto& crypto, bool lock, std::string& err) {
  store_.reset();
  const uint32_t mode = cfg.state_mode.value_or(StateDir::kDefaultMode);
  if (!cfg.state_file.empty()) {
    where_ = cfg.state_file;
    if (!file_.open(cfg.state_file, mode, err)) return false;
    if (lock && !file_.dir().lock(err)) return false;
    store_ = std::make_unique<StateStore>(file_, version_of(cfg), crypto, cfg.instance_id);
    return true;
  }
  where_ = cfg.state_dir;
  if (cfg.state_dir.empty()) {
    err = "missing --tpmstate dir=… (or the TPM_PATH environment variable)";
    return false;
  }
  if (!dir_.open(cfg.state_dir, mode, err)) return false;
  if (lock && !dir_.lock(err)) return false;
  store_ = std::make_unique<StateStore>(dir_, version_of(cfg), crypto, cfg.instance_id);
  return true;
}

bool print_states_json(const instance::Config& cfg, Crypto& crypto, std::string& json,
                       std::string& err) {
  OpenedState state;
  if (!state.open(cfg, crypto, false, err)) return false;
  // As swtpm 0.7.1, a file:// state that does not exist yet is formatted (empty) here:
  // swtpm_setup asks --print-states first and then unlinks the file to clear the state.
  if (!state.create_if_absent(err)) return false;
  std::vector<StoredBlob> blobs;
  if (!state.store().list(blobs, err)) return false;
  // swtpm 0.7.1's format (reference/swtpm-qemu.md §3.3).
  json = "{ \"type\": \"swtpm\", \"states\": [";
  for (size_t i = 0; i < blobs.size(); ++i) {
    json += i ? ", " : " ";
    json += "{\"name\": \"" + blobs[i].label + "\", \"size\": " +
            std::to_string(blobs[i].file_size) + "}";
  }
  json += blobs.empty() ? "] }" : " ] }";
  return true;
}

bool fold_journal_offline(const instance::Config& cfg, Crypto& crypto, std::string& report,
                          std::string& err) {
  OpenedState state;
  if (!state.open(cfg, crypto, true, err)) return false;
  StateStore& store = state.store();
  SecretKey key;
  if (!load_key(crypto, cfg.key, key, err)) {
    err = "--key: " + err;
    return false;
  }
  if (!key.empty() && !store.set_key(key, err)) {
    err = "--key: " + err;
    return false;
  }
  key.clear();
  bool folded = false;
  if (!store.fold_leftover_journal(folded)) {
    err = state.where() + ": " + store.last_error();
    return false;
  }
  if (!cfg.state_file.empty()) {
    report = "file:// state " + state.where() + " keeps no journal: nothing to fold";
  } else if (folded) {
    report = "folded " + store.journal_name() + " into the state files in " + state.where();
  } else {
    report = "no journal " + store.journal_name() + " in " + state.where() + ": nothing to fold";
    // The other TPM version's journal: a wrong --tpm2 must not pass for "nothing to do".
    const std::string other = cfg.tpm2 ? "tpm-00.journal" : "tpm2-00.journal";
    StateDir probe;
    uint64_t size = 0;
    std::string ignored;
    if (probe.open(cfg.state_dir, StateDir::kDefaultMode, ignored) &&
        probe.size_of(other, size, ignored) == FileStatus::Ok) {
      err = state.where() + " holds " + other + ", the journal of a TPM " +
            (cfg.tpm2 ? "1.2" : "2.0") + ": run again " + (cfg.tpm2 ? "without" : "with") +
            " --tpm2";
      return false;
    }
  }
  if (store.has_key()) {
    for (engine::BlobKind kind :
         {engine::BlobKind::Permanent, engine::BlobKind::Volatile, engine::BlobKind::SaveState}) {
      std::vector<uint8_t> plain;
      if (engine::load_failed(store.load(kind, plain))) {
        err = state.where() + ": " + store.last_error();
        return false;
      }
      if (!plain.empty()) wipe(plain.data(), plain.size());  // the TPM's secrets
    }
    report += " (the state files decode with the key)";
  }
  return true;
}

}  // namespace vtpm::store
