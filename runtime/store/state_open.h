// OpenedState: what --tpmstate names, opened the way vtpmd's main() needs it — the state
// directory or (backend-uri=file://) swtpm's linear file, held open, locked, with the StateStore
// over it — and the two things vtpmd does with
// a state directory instead of serving: --print-states and --fold-journal. Kept here, not in
// main(), so that every composition root (transports/vtpmd, tests) opens state the same way.
#pragma once

#include <memory>
#include <string>

#include "instance/config.h"
#include "store/crypto.h"
#include "store/linear_file.h"
#include "store/state_dir.h"
#include "store/state_store.h"

namespace vtpm::store {

class OpenedState {
 public:
  OpenedState() = default;
  OpenedState(const OpenedState&) = delete;
  OpenedState& operator=(const OpenedState&) = delete;

  // Opens cfg's --tpmstate (its mode= for new files) and, when `lock`, takes its lock. The store
  // then exists (cfg.tpm2 chooses the file names, cfg.instance_id the binding); it has no key.
  bool open(const instance::Config& cfg, Crypto& crypto, bool lock, std::string& err);
  StateStore& store() { return *store_; }
  // file:// only: an absent file is created as an empty store (what --print-states does).
  bool create_if_absent(std::string& err) { return file_.path().empty() || file_.create_if_absent(err); }
  // --runas: its lock file to the user the process becomes (StateDir::give_lock_to).
  bool give_lock_to(uint32_t uid, uint32_t gid, std::string& err) {
    return (file_.path().empty() ? dir_ : file_.dir()).give_lock_to(uid, gid, err);
  }
  const std::string& where() const { return where_; }  // the path, for messages

 private:
  StateDir dir_;
  LinearFile file_;
  std::unique_ptr<StateStore> store_;
  std::string where_;
};

// --print-states: swtpm 0.7.1's one-line JSON, without the newline. Takes no lock and changes
// nothing (a journal left by a crash is not replayed: compact or fold first), except that an
// absent file:// state is created empty, as swtpm does and swtpm_setup relies on.
bool print_states_json(const instance::Config& cfg, Crypto& crypto, std::string& json,
                       std::string& err);

// --fold-journal: takes the lock (fails if an instance holds it), folds a leftover journal into
// swtpm's files (StateStore::fold_leftover_journal) and, when --key/--pwdfile is given, checks
// that every state file then decodes with that key. `report` is one line for stdout.
bool fold_journal_offline(const instance::Config& cfg, Crypto& crypto, std::string& report,
                          std::string& err);

}  // namespace vtpm::store
