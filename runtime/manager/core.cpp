// ManagerCore (core.h). Provisioning order (reference/manager-sealing.md "Recommended design"
// 2-12): SRK, counter, root key sealed and test-unsealed, header, then the first slot written at
// T+1 and the counter incremented (write, then increment: §5.3). Start: SRK name == header's,
// unseal, read T, load_slots(T), roll forward if the pick is at T+1, then an epoch commit.
#include "manager/core.h"

#include <algorithm>
#include <cstdio>

#include "wire/big_endian.h"

namespace vtpm::manager {
namespace {

constexpr size_t kRootBytes = 32;
constexpr size_t kAuthBytes = 32;

mgr::ReqKind kind_of(Ordinal o) {
  switch (o) {
    case Ordinal::Status:
    case Ordinal::List: return mgr::ReqKind::Status;
    case Ordinal::Open: return mgr::ReqKind::Open;
    case Ordinal::SaveHashKey: return mgr::ReqKind::Save;
    case Ordinal::LoadHashKey: return mgr::ReqKind::Load;
    case Ordinal::Prepare: return mgr::ReqKind::Prepare;
    case Ordinal::Commit: return mgr::ReqKind::Commit;
    case Ordinal::Create:
    case Ordinal::Delete:
    case Ordinal::GroupCreate:
    case Ordinal::GroupApprove:
    case Ordinal::ApprovalRequest:
    case Ordinal::ExportRecovery: return mgr::ReqKind::Admin;
  }
  return mgr::ReqKind::Admin;
}

}  // namespace

ManagerCore::ManagerCore(const CoreConfig& cfg, HostTpm& tpm, store::Crypto& crypto, LogFn log,
                         WritePoints* points)
    : cfg_(cfg), tpm_(tpm), crypto_(crypto), log_(std::move(log)), files_(cfg.dir_fd, points) {
  mgr::init(m_);
}

ManagerCore::~ManagerCore() = default;

// ---- the machine's host --------------------------------------------------------------------

void ManagerCore::trace(mgr::State from, mgr::EventId ev, mgr::State to, uint32_t) {
  if (from != to) log_(2, std::string("manager: ") + mgr::state_name(from) + " --" + mgr::event_name(ev) + "--> " + mgr::state_name(to));
}

void ManagerCore::provision() {
  step_err_.clear();
  step_ok_ = do_provision(step_err_);
  header_ok_ = step_ok_;
}
void ManagerCore::unseal() {
  step_err_.clear();
  if (!header_ok_) {
    step_err_ = header_error_;
    unsealed_ = Unsealed::Failed;
    return;
  }
  unsealed_ = do_unseal_and_load(step_err_);
}
void ManagerCore::failClosed(uint32_t code) {
  log_(1, "vtpm-manager: failed closed (0x" + [code] {
         char b[12];
         std::snprintf(b, sizeof b, "%08x", code);
         return std::string(b);
       }() + "): " + failure_);
}
// The key of a successful Open goes out only through this output (spec: key_only_after_unseal).
void ManagerCore::releaseKey() {
  if (cur_rsp_ == nullptr || staged_ != Status::Success) return;
  if (cur_req_ != nullptr && cur_req_->ordinal == Ordinal::LoadHashKey) {
    cur_rsp_->xen_blob.assign(staged_key_.data(), staged_key_.size());  // Xen's hash‖key
  } else {
    cur_rsp_->key.assign(staged_key_.data(), staged_key_.size());
  }
}
void ManagerCore::answer(uint32_t kind) {
  if (cur_rsp_ == nullptr) return;
  const bool serving = m_.state == mgr::State::Serving || m_.state == mgr::State::Committing;
  if (static_cast<mgr::ReqKind>(kind) == mgr::ReqKind::Status && !serving) {
    // Before serving and after failing closed the machine answers the Status kind only. List
    // shares that kind, but an empty list would read as "no instances": only Status itself.
    if (cur_req_ != nullptr && cur_req_->ordinal == Ordinal::Status) {
      staged_ = Status::Success;
      do_status(*cur_rsp_);
    } else {
      staged_ = m_.state == mgr::State::FailedClosed ? Status::FailedClosed : Status::NotServing;
    }
  }
  cur_rsp_->status = staged_;
}

void ManagerCore::refuse(uint32_t, uint32_t code) {
  if (cur_rsp_ == nullptr) return;
  cur_rsp_->status = static_cast<Status>(code);
  cur_rsp_->key.clear();
}
// A change runs here, inside the machine's Committing; serve() reports its outcome.
void ManagerCore::beginCommit(uint32_t) {
  if (cur_req_ != nullptr && cur_rsp_ != nullptr) staged_ = execute(*cur_peer_, *cur_req_, *cur_rsp_);
}

void ManagerCore::deliver(const mgr::Event& ev) {
  const fsm::rt::Result r = mgr::dispatch(m_, *this, ev);
  if (r.outcome != fsm::rt::Outcome::Transitioned && r.outcome != fsm::rt::Outcome::Ignored &&
      r.outcome != fsm::rt::Outcome::Rejected) {
    log_(1, std::string("vtpm-manager: internal: ") + mgr::event_name(ev.id) + " gave " +
                fsm::rt::outcome_name(r.outcome) + " in " + mgr::state_name(m_.state));
  }
}

// ---- lifecycle -----------------------------------------------------------------------------

bool ManagerCore::start(int64_t now_ms, std::string& err) {
  std::vector<uint8_t> file;
  std::string why;
  const RecordError he = files_.read(kHeaderFile, 64 * 1024, file, why);
  const bool has_header = he != RecordError::Absent;
  header_ok_ = false;
  if (he != RecordError::None && has_header) {
    header_error_ = cfg_.dir_path + "/" + kHeaderFile + ": " + why;
  } else if (has_header) {
    if (parse_header(crypto_, file, header_, why) == RecordError::None) {
      header_ok_ = true;
    } else {
      header_error_ = cfg_.dir_path + "/" + kHeaderFile + " is damaged (" + why +
                      "); the manager fails closed (restore the file from a backup, or recover)";
    }
  }
  // start emits provision() or unseal(); each runs at once (provision()/unseal() below) and its
  // outcome is the next event, until the machine serves or has failed closed.
  deliver(mgr::make_start(has_header));
  for (int steps = 0; steps < 4; steps++) {
    if (m_.state == mgr::State::Provisioning) {
      if (step_ok_) {
        deliver(mgr::make_provisioned());
      } else {
        failure_ = step_err_;
        deliver(mgr::make_provisionFailed(1));
      }
    } else if (m_.state == mgr::State::AwaitingUnseal) {
      if (unsealed_ == Unsealed::Failed) {
        failure_ = step_err_;
        deliver(mgr::make_unsealFailed(1));
      } else {
        if (unsealed_ != Unsealed::Ok) failure_ = step_err_;
        deliver(mgr::make_unsealed(unsealed_ != Unsealed::ForeignSrk, unsealed_ != Unsealed::CounterMismatch));
      }
    } else {
      break;
    }
  }
  if (m_.state != mgr::State::Serving) {
    err = failure_;
    return false;
  }
  unsaved_since_ = -1;
  (void)now_ms;
  return true;
}

bool ManagerCore::do_provision(std::string& err) {
  SrkInfo srk;
  if (!tpm_.ensure_srk(srk, err)) return false;
  uint8_t secret[kRootBytes + kAuthBytes];
  if (!crypto_.random_bytes(secret, sizeof secret)) {
    err = "no random bytes for the root key";
    return false;
  }
  root_.assign(secret, kRootBytes);
  counter_auth_.assign(secret + kRootBytes, kAuthBytes);
  uint32_t index = 0;
  std::vector<uint8_t> sealed;
  SecretBytes check;
  TpmError why = TpmError::None;
  const bool ok = tpm_.define_counter(counter_auth_.span(), index, err) &&
                  tpm_.seal(store::Bytes(secret, sizeof secret), cfg_.pcr_mask, sealed, err) &&
                  tpm_.unseal(sealed, cfg_.pcr_mask, check, why, err);  // test-unseal (§2.4)
  store::wipe(secret, sizeof secret);
  if (!ok) return false;
  if (check.size() != kRootBytes + kAuthBytes ||
      !store::secret_equal(check.data(), root_.data(), kRootBytes)) {
    err = "the test unseal of the new root key gave other bytes";
    return false;
  }
  check.clear();
  header_.srk_name = srk.name;
  header_.template_kind = static_cast<uint8_t>(srk.kind);
  header_.nv_index = index;
  header_.sealed_root = sealed;
  header_.pcr_mask = cfg_.pcr_mask;
  std::vector<uint8_t> file;
  if (!encode_header(crypto_, header_, file, err)) return false;
  if (!derive_record_keys(crypto_, root_.span(), keys_, err)) return false;
  if (!tpm_.read_counter(index, counter_auth_.span(), counter_, err)) return false;
  // The header first: a crash before the first slot is finished by the next start (below).
  if (files_.write(kHeaderFile, file, err) != RecordError::None || !ensure_recovery_file(err)) return false;
  table_ = Table{};
  soft_seq_ = 0;
  slot_ = 1;  // the first write goes to records.a
  if (!durable_commit("provisioning", err)) return false;
  log_(1, "vtpm-manager: provisioned " + cfg_.dir_path + " (NV counter 0x" + [&] {
         char b[12];
         std::snprintf(b, sizeof b, "%08x", index);
         return std::string(b);
       }() + ")");
  return true;
}

ManagerCore::Unsealed ManagerCore::do_unseal_and_load(std::string& err) {
  std::vector<uint8_t> name;
  if (!tpm_.srk_name(name, err)) {
    err = "the host TPM has no SRK at 0x81000001 (" + err +
          "): it was cleared, or it is not the TPM this manager was provisioned on; failing closed";
    return Unsealed::ForeignSrk;
  }
  if (name != header_.srk_name) {
    err = "the SRK at 0x81000001 is not the one this manager was provisioned with: a cleared or "
          "different TPM; failing closed";
    return Unsealed::ForeignSrk;
  }
  SecretBytes secret;
  TpmError why = TpmError::None;
  bool recovered = false;  // the root key came from DIR/recovery: re-seal once the records load
  if (!tpm_.unseal(header_.sealed_root, header_.pcr_mask, secret, why, err)) {
    err = std::string("the root key does not unseal (") + tpm_error_name(why) + ": " + err + ")" +
          (why == TpmError::PolicyFailed ? " (the PCRs changed since provisioning)" : "");
    if (recovery_.empty()) {
      err += "; failing closed (start with --recover FILE, the key vtpmctl export-recovery gave)";
      return Unsealed::Failed;
    }
    std::vector<uint8_t> file;
    store::SecretKey both;
    std::string why_not;
    if (files_.read(kRecoveryFile, 4096, file, why_not) != RecordError::None ||
        decode_recovery(crypto_, file, recovery_, both, why_not) != RecordError::None) {
      err += "; and --recover: " + why_not + "; failing closed";
      return Unsealed::Failed;
    }
    secret.assign(both.data(), both.size());
    recovered = true;
  }
  if (secret.size() != kRootBytes + kAuthBytes) {
    err = "the unsealed root key has the wrong size; failing closed";
    return Unsealed::Failed;
  }
  root_.assign(secret.data(), kRootBytes);
  counter_auth_.assign(secret.data() + kRootBytes, kAuthBytes);
  if (!derive_record_keys(crypto_, root_.span(), keys_, err)) return Unsealed::Failed;
  uint64_t t = 0;
  if (!tpm_.read_counter(header_.nv_index, counter_auth_.span(), t, err)) {
    err = "the NV counter cannot be read (" + err + "); failing closed";
    return Unsealed::Failed;
  }
  LoadedSlots loaded;
  const RecordError le = load_slots(crypto_, cfg_.dir_fd, keys_.records, t, loaded, err);
  if (le == RecordError::NoSlots) {
    if (recovered && !reseal(secret, err)) return Unsealed::Failed;
    secret.clear();
    if (!ensure_recovery_file(err)) return Unsealed::Failed;
    // The header was written, then the crash came before the first slot: nothing was ever
    // acknowledged, so provisioning finishes here.
    counter_ = t;
    table_ = Table{};
    soft_seq_ = 0;
    slot_ = 1;
    return durable_commit("finishing provisioning", err) ? Unsealed::Ok : Unsealed::Failed;
  }
  if (le != RecordError::None) {
    switch (le) {
      case RecordError::Rollback:
        err = "the records in " + cfg_.dir_path + " are older than the TPM's counter (" + err +
              "): an old copy of the manager's directory was put back; failing closed";
        return Unsealed::CounterMismatch;
      case RecordError::Ahead:
        err = "the records in " + cfg_.dir_path + " are ahead of the TPM's counter (" + err +
              "): the counter was advanced behind the manager's back, or this is another TPM; "
              "failing closed";
        return Unsealed::CounterMismatch;
      default:
        err = "the records in " + cfg_.dir_path + " do not load (" + err + "); failing closed";
        break;
    }
    return Unsealed::Failed;
  }
  table_ = std::move(loaded.table);
  counter_ = t;
  soft_seq_ = loaded.soft_seq;
  slot_ = loaded.slot;
  if (recovered && !reseal(secret, err)) return Unsealed::Failed;
  secret.clear();
  if (!ensure_recovery_file(err)) return Unsealed::Failed;
  if (loaded.needs_roll_forward) {  // the slot was written, the increment not done: finish it
    if (!tpm_.increment_counter(header_.nv_index, counter_auth_.span(), err)) return Unsealed::Failed;
    counter_ = loaded.counter;
    log_(1, "vtpm-manager: finished the commit a crash interrupted (counter " + std::to_string(counter_) + ")");
  }
  // The epoch: every start moves the counter, so a copy of the directory from before this start
  // is refused from now on.
  return durable_commit("start", err) ? Unsealed::Ok : Unsealed::Failed;
}

// --recover: the root key (and counter auth) came from DIR/recovery and the records loaded with
// it, so it is the right one: seal it again to the PCRs as they are now and replace the header.
bool ManagerCore::reseal(const SecretBytes& secret, std::string& err) {
  Header h = header_;
  h.pcr_mask = cfg_.pcr_mask;
  SecretBytes check;
  TpmError why = TpmError::None;
  std::vector<uint8_t> file;
  if (!tpm_.seal(secret.span(), h.pcr_mask, h.sealed_root, err) ||
      !tpm_.unseal(h.sealed_root, h.pcr_mask, check, why, err) || !encode_header(crypto_, h, file, err) ||
      files_.write(kHeaderFile, file, err) != RecordError::None) {
    err = "--recover: sealing the root key to the current PCRs failed: " + err;
    return false;
  }
  header_ = h;
  log_(1, "vtpm-manager: recovered with the offline recovery key; the root key is sealed to the "
          "current PCRs again");
  return true;
}

// DIR/recovery: written at provisioning, and again by any start that finds it missing.
bool ManagerCore::ensure_recovery_file(std::string& err) {
  std::vector<uint8_t> file;
  std::string why;
  if (files_.read(kRecoveryFile, 4096, file, why) == RecordError::None) return true;
  store::SecretKey recovery;
  uint8_t both[kRootBytes + kAuthBytes];
  std::copy(root_.data(), root_.data() + kRootBytes, both);
  std::copy(counter_auth_.data(), counter_auth_.data() + kAuthBytes, both + kRootBytes);
  const bool ok = derive_recovery_key(crypto_, root_.span(), recovery, err) &&
                  encode_recovery(crypto_, recovery, store::Bytes(both, sizeof both), file, err) &&
                  files_.write(kRecoveryFile, file, err) == RecordError::None;
  store::wipe(both, sizeof both);
  if (!ok) err = cfg_.dir_path + "/" + kRecoveryFile + ": " + err;
  return ok;
}

// ---- commits (spec/commit.fsm) -------------------------------------------------------------

bool ManagerCore::write_slot(uint64_t slot_counter, std::string& err) {
  std::vector<uint8_t> file;
  if (!encode_slot(crypto_, table_, slot_counter, soft_seq_ + 1, keys_.records, file, err)) return false;
  const int spare = slot_ == 0 ? 1 : 0;
  const RecordError we = files_.overwrite(kSlotFiles[spare], file, err);
  store::wipe(file.data(), file.size());
  if (we != RecordError::None) return false;
  slot_ = spare;
  soft_seq_++;
  return true;
}

// The soft commit (Xen's SEQ_UPDATE): the spare slot at the same counter value.
bool ManagerCore::cheap_commit(std::string& err) { return write_slot(counter_, err); }

// Write the spare slot at T+1, sync (FileSink), increment: the increment is the commit point.
bool ManagerCore::durable_commit(const char* why, std::string& err) {
  if (!write_slot(counter_ + 1, err)) return false;
  if (!tpm_.increment_counter(header_.nv_index, counter_auth_.span(), err)) {
    // The slot at T+1 stays: the next start finishes this commit (roll forward), which is the
    // state being committed, never an older one.
    err = std::string("the NV counter increment (") + why + ") failed: " + err;
    return false;
  }
  counter_++;
  unsaved_since_ = -1;
  return true;
}

Status ManagerCore::changed(int64_t now_ms, bool durable, const char* why) {
  std::string err;
  if (durable ? !durable_commit(why, err) : !cheap_commit(err)) {
    log_(1, std::string("vtpm-manager: ") + why + ": " + err);
    return Status::StorageError;
  }
  if (!durable && unsaved_since_ < 0) unsaved_since_ = now_ms;
  return Status::Success;
}

int64_t ManagerCore::ms_until_tick(int64_t now_ms) const {
  if (unsaved_since_ < 0 || m_.state != mgr::State::Serving) return -1;
  const int64_t due = unsaved_since_ + cfg_.commit_interval_ms;
  return due <= now_ms ? 0 : due - now_ms;
}

void ManagerCore::tick(int64_t now_ms) {
  if (ms_until_tick(now_ms) != 0) return;
  std::string err;
  if (!durable_commit("periodic", err)) {
    log_(1, "vtpm-manager: periodic commit: " + err);
    unsaved_since_ = now_ms;  // try again one interval later
  }
}

bool ManagerCore::shutdown(std::string& err) {
  if (m_.state != mgr::State::Serving || unsaved_since_ < 0) return true;
  return durable_commit("clean stop", err);
}

// ---- requests ------------------------------------------------------------------------------

Record* ManagerCore::find(const RecordUuid& uuid) {
  for (Record& r : table_.records)
    if (r.uuid == uuid) return &r;
  return nullptr;
}

const ManagerCore::Binding* ManagerCore::binding_of(uint64_t connection) const {
  for (const Binding& b : bindings_)
    if (b.connection == connection) return &b;
  return nullptr;
}

bool ManagerCore::bound_elsewhere(const RecordUuid& uuid, uint64_t connection) const {
  for (const Binding& b : bindings_)
    if (b.uuid == uuid && b.connection != connection) return true;
  return false;
}

void ManagerCore::disconnected(uint64_t connection) {
  bindings_.erase(std::remove_if(bindings_.begin(), bindings_.end(),
                                 [&](const Binding& b) { return b.connection == connection; }),
                  bindings_.end());
}

void ManagerCore::bad_frame(std::vector<uint8_t>& reply) {
  Response rsp;
  rsp.status = Status::Malformed;
  encode_response(rsp, reply);
}

void ManagerCore::handle(const PeerId& peer, const uint8_t* msg, size_t len, std::vector<uint8_t>& reply,
                         int64_t now_ms) {
  Request req;
  Response rsp;
  const ParseResult pr = parse_request(msg, len, req);
  if (!pr.ok) {
    log_(2, "vtpm-manager: connection " + std::to_string(peer.connection) + ": " + pr.text);
    rsp.status = status_for(pr.error);
    encode_response(rsp, reply);
    return;
  }
  rsp.ordinal = req.ordinal;
  serve(peer, req, rsp, now_ms);
  if (!encode_response(rsp, reply)) {
    Response fail;
    fail.ordinal = req.ordinal;
    fail.status = Status::StorageError;
    encode_response(fail, reply);
  }
}

// Whether a request changes the records (its answer then waits for the commit).
bool ManagerCore::needs_commit(const Request& req) {
  switch (req.ordinal) {
    case Ordinal::Status:
    case Ordinal::List:
    case Ordinal::LoadHashKey:
    case Ordinal::ApprovalRequest:
    case Ordinal::ExportRecovery: return false;
    case Ordinal::Open: {
      const Record* rec = find(req.uuid);
      return rec == nullptr ? (req.flags & kOpenCreate) != 0 : rec->owner_uid == kAnyOwner;
    }
    case Ordinal::SaveHashKey:
    case Ordinal::Prepare:
    case Ordinal::Commit:
    case Ordinal::Create:
    case Ordinal::Delete:
    case Ordinal::GroupCreate:
    case Ordinal::GroupApprove: return true;
  }
  return true;
}

Status ManagerCore::execute(const PeerId& peer, const Request& req, Response& rsp) {
  switch (req.ordinal) {
    case Ordinal::Status: do_status(rsp); return Status::Success;
    case Ordinal::List:
      if (!peer.admin) return Status::NotAdmin;
      do_list(rsp);
      return Status::Success;
    case Ordinal::Open: return do_open(peer, req);
    case Ordinal::Prepare: return do_prepare(peer, req);
    case Ordinal::Commit: return do_commit(peer, req);
    case Ordinal::SaveHashKey: return do_save_xen(peer, req);
    case Ordinal::LoadHashKey: return do_load_xen(peer, rsp);
    case Ordinal::Create: return do_create(peer, req);
    case Ordinal::Delete: return do_delete(peer, req);
    case Ordinal::GroupCreate: return do_group_create(peer, req);
    case Ordinal::ExportRecovery: {
      if (!peer.admin) return Status::NotAdmin;
      std::string err;
      return derive_recovery_key(crypto_, root_.span(), rsp.recovery, err) ? Status::Success : Status::StorageError;
    }
    case Ordinal::GroupApprove: return do_group_approve(peer, req);
    case Ordinal::ApprovalRequest: return do_approval_request(peer, req, rsp);
  }
  return Status::Malformed;
}

void ManagerCore::serve(const PeerId& peer, const Request& req, Response& rsp, int64_t now_ms) {
  now_ms_ = now_ms;
  cur_peer_ = &peer;
  cur_req_ = &req;
  cur_rsp_ = &rsp;
  staged_ = Status::NotServing;
  staged_key_.clear();
  const bool commit = m_.state == mgr::State::Serving && needs_commit(req);
  if (m_.state == mgr::State::Serving && !commit) staged_ = execute(peer, req, rsp);  // a read
  deliver(mgr::make_request(kind_of(req.ordinal), commit));
  if (m_.state == mgr::State::Committing) {
    deliver(staged_ == Status::Success ? mgr::make_commitDone()
                                       : mgr::make_commitFailed(static_cast<uint32_t>(staged_)));
  }
  if (rsp.status != Status::Success) {
    rsp.key.clear();
    rsp.xen_blob.clear();
    rsp.recovery.clear();
  }
  staged_key_.clear();
  cur_peer_ = nullptr;
  cur_req_ = nullptr;
  cur_rsp_ = nullptr;
}

Status ManagerCore::do_open(const PeerId& peer, const Request& req) {
  Record* rec = find(req.uuid);
  const std::string who = uuid_text(req.uuid);
  if (rec == nullptr) {
    if ((req.flags & kOpenCreate) == 0) {
      log_(1, "vtpm-manager: refused " + who + ": unknown, and its state directory is not empty (foreign)");
      return Status::Foreign;
    }
    if (!req.group.empty()) {
      bool known = false;
      for (const Group& g : table_.groups) known = known || g.name == req.group;
      if (!known) return Status::NoSuchGroup;
    }
    Record fresh;
    fresh.uuid = req.uuid;
    fresh.owner_uid = peer.uid;
    fresh.group = req.group;
    fresh.state = RecordState::Created;
    fresh.created_seq = soft_seq_ + 1;
    store::SecretKey group_wrap;
    if (!fresh.group.empty()) {
      if (const Status s = group_wrap_key(fresh.group, group_wrap); s != Status::Success) return s;
    }
    uint8_t key[kInstanceKeyBytes];
    std::string err;
    if (!crypto_.random_bytes(key, sizeof key) ||
        !wrap_instance_key(crypto_, fresh.group.empty() ? keys_.wrap : group_wrap, fresh,
                           store::Bytes(key, sizeof key), fresh.wrapped, err)) {
      store::wipe(key, sizeof key);
      return Status::StorageError;
    }
    store::wipe(key, sizeof key);
    table_.records.push_back(fresh);
    if (const Status s = changed(now_ms_, true, "create"); s != Status::Success) {
      table_.records.pop_back();
      return s;
    }
    rec = find(req.uuid);
    log_(1, "vtpm-manager: created the record of " + who + " (uid " + std::to_string(peer.uid) + ")");
  }
  if (rec->state == RecordState::Retired) return Status::Retired;
  if (rec->owner_uid != peer.uid && rec->owner_uid != kAnyOwner) return Status::NotOwner;
  if (!req.group.empty() && req.group != rec->group) return Status::Foreign;
  if (bound_elsewhere(req.uuid, peer.connection)) return Status::Busy;
  if (rec->owner_uid == kAnyOwner) {  // created by vtpmctl: the first instance to open it owns it
    rec->owner_uid = peer.uid;
    if (const Status s = changed(now_ms_, false, "claim"); s != Status::Success) {
      rec->owner_uid = kAnyOwner;
      return s;
    }
  }
  // A group's instance: its key is under the group's secret, which the TPM releases only with
  // a valid approval of the PCRs now (runtime/manager/README.md "Group approvals").
  store::SecretKey group_wrap;
  if (!rec->group.empty()) {
    if (const Status s = group_wrap_key(rec->group, group_wrap); s != Status::Success) return s;
  }
  std::string err;
  if (unwrap_instance_key(crypto_, rec->group.empty() ? keys_.wrap : group_wrap, *rec,
                          staged_key_, err) != RecordError::None) {
    log_(1, "vtpm-manager: the key of " + who + " does not unwrap: " + err);
    return Status::StorageError;
  }
  if (peer.connection != 0) {  // vtpmctl's Create binds nothing
    disconnected(peer.connection);  // one UUID per connection
    bindings_.push_back({peer.connection, req.uuid});
  }
  if (cur_rsp_ != nullptr) {
    cur_rsp_->generation = rec->generation;
    std::copy(rec->digest.begin(), rec->digest.end(), cur_rsp_->digest.begin());
    cur_rsp_->prepared_generation = rec->prepared_generation;
    std::copy(rec->prepared_digest.begin(), rec->prepared_digest.end(), cur_rsp_->prepared_digest.begin());
  }
  return Status::Success;
}

Status ManagerCore::do_prepare(const PeerId& peer, const Request& req) {
  const Binding* b = binding_of(peer.connection);
  if (b == nullptr) return Status::NotBound;
  Record* rec = find(b->uuid);
  if (rec == nullptr || rec->state == RecordState::Retired) return Status::Retired;
  if (req.generation <= rec->generation) return Status::Stale;
  const Record before = *rec;
  // An instance announces generation N+1 only once N is durable on its disk (its writes are one
  // at a time), so a Prepare beyond the prepared generation commits that one first: the instance
  // need not wait for a Commit between two writes (runtime/instance/manager_client.h).
  if (rec->prepared_generation != 0 && req.generation > rec->prepared_generation) {
    rec->generation = rec->prepared_generation;
    rec->digest = rec->prepared_digest;
    rec->state = RecordState::Saved;
  }
  rec->prepared_generation = req.generation;
  std::copy(req.digest.begin(), req.digest.end(), rec->prepared_digest.begin());
  const Status s = changed(now_ms_, false, "prepare");
  if (s != Status::Success) *find(b->uuid) = before;
  return s;
}

Status ManagerCore::do_commit(const PeerId& peer, const Request& req) {
  const Binding* b = binding_of(peer.connection);
  if (b == nullptr) return Status::NotBound;
  Record* rec = find(b->uuid);
  if (rec == nullptr || rec->state == RecordState::Retired) return Status::Retired;
  if (req.generation != rec->prepared_generation || req.generation <= rec->generation) return Status::Stale;
  const Record before = *rec;
  rec->generation = rec->prepared_generation;
  rec->digest = rec->prepared_digest;
  rec->prepared_generation = 0;
  rec->prepared_digest = {};
  rec->state = RecordState::Saved;
  const Status s = changed(now_ms_, false, "commit");
  if (s != Status::Success) *find(b->uuid) = before;
  return s;
}

Status ManagerCore::do_save_xen(const PeerId& peer, const Request& req) {
  const Binding* b = binding_of(peer.connection);
  if (b == nullptr) return Status::NotBound;
  Record* rec = find(b->uuid);
  if (rec == nullptr || rec->state == RecordState::Retired) return Status::Retired;
  const Record before = *rec;
  rec->xen_blob.size = static_cast<uint8_t>(req.xen_blob.size());
  std::copy(req.xen_blob.data(), req.xen_blob.data() + req.xen_blob.size(), rec->xen_blob.bytes.begin());
  const Status s = changed(now_ms_, false, "SaveHashKey");
  if (s != Status::Success) *find(b->uuid) = before;
  return s;
}

Status ManagerCore::do_load_xen(const PeerId& peer, Response& rsp) {
  const Binding* b = binding_of(peer.connection);
  if (b == nullptr) return Status::NotBound;
  Record* rec = find(b->uuid);
  if (rec == nullptr || rec->state == RecordState::Retired) return Status::Retired;
  if (rec->xen_blob.size == 0) return Status::UnknownInstance;
  staged_key_.assign(rec->xen_blob.bytes.data(), rec->xen_blob.size);  // out through releaseKey
  (void)rsp;
  return Status::Success;
}

Status ManagerCore::do_create(const PeerId& peer, const Request& req) {
  if (!peer.admin) return Status::NotAdmin;
  if (find(req.uuid) != nullptr) return Status::Exists;
  Request open;
  open.ordinal = Ordinal::Open;
  open.uuid = req.uuid;
  open.group = req.group;
  open.flags = kOpenCreate;
  PeerId as_any = peer;
  as_any.uid = kAnyOwner;  // the first instance that opens it owns it
  as_any.connection = 0;
  const Status s = do_open(as_any, open);
  staged_key_.clear();  // vtpmctl never sees an instance key
  return s;
}

Status ManagerCore::do_delete(const PeerId& peer, const Request& req) {
  if (!peer.admin) return Status::NotAdmin;
  Record* rec = find(req.uuid);
  if (rec == nullptr) return Status::UnknownInstance;
  if (rec->state == RecordState::Retired) return Status::Retired;
  if (bound_elsewhere(req.uuid, peer.connection)) return Status::Busy;
  const Record before = *rec;
  rec->state = RecordState::Retired;
  rec->wrapped = WrappedKey{};  // the key is gone for good
  rec->xen_blob = XenBlob{};
  const Status s = changed(now_ms_, true, "delete");
  if (s != Status::Success) *find(req.uuid) = before;
  return s;
}

void ManagerCore::do_status(Response& rsp) {
  rsp.state = static_cast<uint32_t>(m_.state);
  rsp.counter = counter_;
  rsp.soft_seq = soft_seq_;
  rsp.records = static_cast<uint32_t>(table_.records.size());
  rsp.srk_name = header_.srk_name;
}

void ManagerCore::do_list(Response& rsp) {
  for (const Record& r : table_.records) {
    ListEntry e;
    std::copy(r.uuid.begin(), r.uuid.end(), e.uuid.begin());
    e.state = static_cast<uint32_t>(r.state);
    e.generation = r.generation;
    e.group = r.group;
    rsp.entries.push_back(e);
  }
}

}  // namespace vtpm::manager
