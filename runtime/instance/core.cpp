// InstanceCore: see core.h. The mapping of control requests to InstanceCtrl events, the engine
// operations the machine asks for, and the replies they produce. Reply shapes follow swtpm 0.7.1
// (reference/swtpm-qemu.md §1.2): a failed command answers with its result only, except
// GET_STATEBLOB, which always has its 16-byte header.
#include "instance/core.h"

#include <algorithm>

#include "store/secret.h"
#include "wire/big_endian.h"

namespace vtpm::instance {

using engine::BlobKind;
namespace rc = engine::rc;

namespace {

constexpr uint32_t kVendorSetLocality = 0x20001000;  // TPM2_SetLocality/TPM_SetLocality (ref §1.5)

const char* op_name(ctrl::Op op) {
  switch (op) {
    case ctrl::Op::Capability: return "GET_CAPABILITY";
    case ctrl::Op::Init: return "INIT";
    case ctrl::Op::Shutdown: return "SHUTDOWN";
    case ctrl::Op::Established: return "GET_TPMESTABLISHED";
    case ctrl::Op::Locality: return "SET_LOCALITY";
    case ctrl::Op::HashStart: return "HASH_START";
    case ctrl::Op::HashData: return "HASH_DATA";
    case ctrl::Op::HashEnd: return "HASH_END";
    case ctrl::Op::Cancel: return "CANCEL_TPM_CMD";
    case ctrl::Op::StoreVolatile: return "STORE_VOLATILE";
    case ctrl::Op::ResetEstablished: return "RESET_TPMESTABLISHED";
    case ctrl::Op::GetStateBlob: return "GET_STATEBLOB";
    case ctrl::Op::SetStateBlob: return "SET_STATEBLOB";
    case ctrl::Op::Stop: return "STOP";
    case ctrl::Op::Config: return "GET_CONFIG";
    case ctrl::Op::DataFd: return "SET_DATAFD";
    case ctrl::Op::BufferQuery: return "SET_BUFFERSIZE(query)";
    case ctrl::Op::BufferSet: return "SET_BUFFERSIZE";
    case ctrl::Op::Info: return "GET_INFO";
    case ctrl::Op::Unknown: return "unknown";
    case ctrl::Op::Malformed: return "malformed";
    case ctrl::Op::TpmCommand: return "TPM command";
    case ctrl::Op::AutoInit: return "start-up init";
    case ctrl::Op::None: return "none";
  }
  return "?";
}

}  // namespace

InstanceCore::InstanceCore(const Config& cfg, engine::Engine& engine, store::StateStore& store,
                           Log& log, const std::vector<uint8_t>& migration_key)
    : cfg_(cfg),
      engine_(engine),
      store_(store),
      log_(log),
      migration_key_(migration_key),
      buffer_size_(engine.buffer_size()) {}

// ---- inputs ----------------------------------------------------------------------------------

void InstanceCore::start() {
  reply_ = {};
  deliver(ctrl::make_start(cfg_.not_need_init, cfg_.reject_locality4));
}

const ControlReply& InstanceCore::control(const ControlRequest& q, bool fd_attached) {
  reply_ = {};
  req_ = &q;
  log_.info(2, "ctrl: request 0x%02x", static_cast<unsigned>(q.cmd));
  switch (q.cmd) {
    case ControlCmd::GetCapability: deliver(ctrl::make_getCapability()); break;
    case ControlCmd::Init: deliver(ctrl::make_init((q.init_flags & kInitFlagDeleteVolatile) != 0)); break;
    case ControlCmd::Shutdown: deliver(ctrl::make_shutdown()); break;
    case ControlCmd::GetTpmEstablished: deliver(ctrl::make_getEstablished()); break;
    case ControlCmd::SetLocality: deliver(ctrl::make_setLocality(q.locality)); break;
    case ControlCmd::HashStart: deliver(ctrl::make_hashStart()); break;
    case ControlCmd::HashData: deliver(ctrl::make_hashData()); break;
    case ControlCmd::HashEnd: deliver(ctrl::make_hashEnd()); break;
    case ControlCmd::CancelTpmCmd: deliver(ctrl::make_cancel()); break;
    case ControlCmd::StoreVolatile: deliver(ctrl::make_storeVolatile()); break;
    case ControlCmd::ResetTpmEstablished: deliver(ctrl::make_resetEstablished(q.locality)); break;
    case ControlCmd::GetStateBlob: deliver(ctrl::make_getStateBlob(q.blob_type)); break;
    case ControlCmd::SetStateBlob: deliver(ctrl::make_setStateBlob(q.blob_type)); break;
    case ControlCmd::Stop: deliver(ctrl::make_stop()); break;
    case ControlCmd::GetConfig: deliver(ctrl::make_getConfig()); break;
    case ControlCmd::SetDataFd: deliver(ctrl::make_setDataFd(fd_attached)); break;
    case ControlCmd::SetBufferSize: deliver(ctrl::make_setBufferSize(q.buffer_size)); break;
    case ControlCmd::GetInfo: deliver(ctrl::make_getInfo()); break;
    case ControlCmd::LockStorage: deliver(ctrl::make_unknownCmd()); break;  // not in swtpm 0.7.1
  }
  req_ = nullptr;
  hash_error_ = rc::kSuccess;
  return reply_;
}

const ControlReply& InstanceCore::malformed(uint32_t code) {
  reply_ = {};
  deliver(ctrl::make_malformed(code));
  hash_error_ = rc::kSuccess;
  return reply_;
}

void InstanceCore::hash_chunk(std::span<const uint8_t> chunk) {
  if (m_.state == ctrl::State::Running && hash_error_ == rc::kSuccess)
    hash_error_ = engine_.hash_data(chunk.data(), static_cast<uint32_t>(chunk.size()));
}

size_t InstanceCore::tpm_command(const uint8_t* cmd, uint32_t len, int locality, uint8_t* out, size_t cap) {
  data_out_ = out;
  data_cap_ = cap;
  data_len_ = 0;
  if (len >= 10 && wire::get_be32(cmd + 6) == kVendorSetLocality) {
    vendor_set_locality(cmd, len);
  } else {
    cmd_ = cmd;
    cmd_len_ = len;
    cmd_locality_ = locality;
    reply_ = {};
    deliver(ctrl::make_tpmCommand());
    cmd_ = nullptr;
    cmd_len_ = 0;
  }
  data_out_ = nullptr;
  data_cap_ = 0;
  return data_len_;
}

size_t InstanceCore::fatal_response(uint8_t* out, size_t cap) const {
  return engine_.fatal_response(out, static_cast<uint32_t>(std::min<size_t>(cap, UINT32_MAX)));
}

void InstanceCore::data_closed() { deliver(ctrl::make_dataClosed()); }

bool InstanceCore::attach_manager(ManagerClient& client, bool state_is_empty, std::string& err) {
  if (!client.open_and_check(store_, engine::BlobKind::Permanent, state_is_empty, err)) return false;
  manager_ = &client;
  store_.set_observer(&client);
  return true;
}

void InstanceCore::on_idle() {
  if (manager_ != nullptr) manager_->on_idle();
  std::string err;
  if (store_.has_pending_sync() && !store_.flush_pending(err))
    log_.error("vtpmd: state directory sync failed: %s", err.c_str());
}

void InstanceCore::finish() {
  if (engine_.running()) engine_.terminate();
  compact_store();
  if (manager_ != nullptr) manager_->finish();
}

// ---- event delivery -------------------------------------------------------------------------

void InstanceCore::set_reply(ReplyShape shape, uint32_t result) {
  reply_.shape = shape;
  reply_.result = result;
}

void InstanceCore::deliver(const ctrl::Event& ev) {
  fsm::rt::Result r = ctrl::dispatch(m_, *this, ev);
  switch (r.outcome) {
    case fsm::rt::Outcome::Transitioned:
    case fsm::rt::Outcome::Ignored:
      break;
    case fsm::rt::Outcome::Rejected:
      log_.info(2, "ctrl: %s refused in %s: 0x%x", ctrl::event_name(ev.id), ctrl::state_name(m_.state), r.code);
      set_reply(ReplyShape::Result, r.code);
      break;
    case fsm::rt::Outcome::BadPayload:
    case fsm::rt::Outcome::NoGuard:
    case fsm::rt::Outcome::Deferred:
      // Unreachable by the proofs (payloads are full-width, guards exhaustive, the host
      // synchronous); answer rather than leave a control client waiting forever.
      log_.error("vtpmd: internal: %s gave %s in %s", ctrl::event_name(ev.id),
                 fsm::rt::outcome_name(r.outcome), ctrl::state_name(m_.state));
      set_reply(ReplyShape::Result, rc::kFail);
      break;
  }
  // Two-phase engine operations: the machine waits in AwaitingEngine for the result.
  while (m_.state == ctrl::State::AwaitingEngine) {
    auto op = static_cast<ctrl::Op>(m_.pending);
    uint32_t code = run_engine(op);
    ctrl::Event done = code == rc::kSuccess ? ctrl::make_engineDone() : ctrl::make_engineFailed(code);
    r = ctrl::dispatch(m_, *this, done);
    if (r.outcome != fsm::rt::Outcome::Transitioned) {
      log_.error("vtpmd: internal: engine result not taken in %s", ctrl::state_name(m_.state));
      exit_requested_ = true;
      exit_code_ = 1;
      return;
    }
  }
}

void InstanceCore::trace(ctrl::State from, ctrl::EventId ev, ctrl::State to, uint32_t id) {
  log_.info(3, "ctrl-machine: %s --%s--> %s (#%u)", ctrl::state_name(from), ctrl::event_name(ev),
            ctrl::state_name(to), id);
}

// Fail closed, and say why (DESIGN §5): the store's reason when a file did not decode or verify,
// else libtpms refused what the files held.
void InstanceCore::log_init_failure(const char* what, uint32_t r) {
  if (!store_.last_error().empty())
    log_.error("vtpmd: %s: TPM not initialised (0x%x): %s", what, r, store_.last_error().c_str());
  else
    log_.error("vtpmd: %s: TPM not initialised (0x%x): libtpms did not accept the state in %s (%s)",
               what, r, cfg_.state_dir.empty() ? cfg_.state_file.c_str() : cfg_.state_dir.c_str(),
               store_.file_name(BlobKind::Permanent).c_str());
}

// The journal's writes go into the swtpm-format snapshot files whenever the TPM stops, so that a
// state directory left by vtpmd is plain swtpm state (runtime/store/journal.h). A failure loses
// nothing (the journal stays and is replayed next time); it is logged.
void InstanceCore::compact_store() {
  if (!store_.compact())
    log_.error("vtpmd: could not bring the state %s up to date (nothing is lost; it is retried at the next stop): %s",
               cfg_.state_file.empty() ? "files" : "file", store_.last_error().c_str());
}

// ---- outputs ---------------------------------------------------------------------------------

void InstanceCore::perform(uint32_t) {
  // Nothing here: deliver() runs the pending operation once dispatch has returned, so that the
  // engine never runs inside a transition.
}

uint32_t InstanceCore::run_engine(ctrl::Op op) {
  static const ControlRequest kNoRequest{};
  const ControlRequest& req = req_ ? *req_ : kNoRequest;
  switch (op) {
    case ctrl::Op::AutoInit: {
      uint32_t r = engine_.init(false);
      if (r != rc::kSuccess) {
        log_init_failure("start-up", r);
        return r;
      }
      if (cfg_.startup != Startup::None) {
        uint16_t type = 0;
        if (cfg_.tpm2) type = cfg_.startup == Startup::State ? 1 : 0;
        else type = cfg_.startup == Startup::Clear ? 1 : cfg_.startup == Startup::State ? 2 : 3;
        uint32_t s = engine_.startup(type);
        if (s != 0) log_.info(1, "vtpmd: start-up Startup(%u) answered 0x%x", type, s);
      }
      buffer_size_ = engine_.buffer_size();
      return rc::kSuccess;
    }
    case ctrl::Op::Init: {
      engine_.terminate();
      uint32_t r = engine_.init((req.init_flags & kInitFlagDeleteVolatile) != 0);
      if (r != rc::kSuccess) log_init_failure("CMD_INIT", r);
      buffer_size_ = engine_.buffer_size();
      return r;
    }
    case ctrl::Op::Shutdown:
    case ctrl::Op::Stop:
      engine_.terminate();
      compact_store();
      return rc::kSuccess;
    case ctrl::Op::Established: {
      bool bit = false;
      uint32_t r = engine_.get_established(bit);
      established_ = bit;
      return r;
    }
    case ctrl::Op::HashStart: return engine_.hash_start();
    case ctrl::Op::HashData: {
      uint32_t r = engine_.hash_data(req.hash_data.data(), static_cast<uint32_t>(req.hash_data.size()));
      return hash_error_ != rc::kSuccess ? hash_error_ : r;
    }
    case ctrl::Op::HashEnd: return engine_.hash_end();
    case ctrl::Op::Cancel: return engine_.cancel();
    case ctrl::Op::StoreVolatile: {  // swtpm's users look for the volatilestate file: fold it in
      uint32_t r = engine_.store_volatile();
      if (r == rc::kSuccess) compact_store();
      return r;
    }
    case ctrl::Op::ResetEstablished: return engine_.reset_established(req.locality);
    case ctrl::Op::GetStateBlob: {
      std::vector<uint8_t> plain;
      auto kind = static_cast<BlobKind>(req.blob_type);
      uint32_t r = engine_.get_state(kind, plain);
      store::wipe(blob_.data(), blob_.size());  // the previous blob (plain TPM state, maybe)
      blob_.clear();
      blob_flags_ = 0;
      if (r != rc::kSuccess) return r;
      if (plain.empty()) return rc::kRetry;
      // As swtpm 0.7.1 (SWTPM_NVRAM_GetStateBlob): without PTM_STATE_FLAG_DECRYPTED the blob
      // stays sealed with the state-file key, and only that is what the ENCRYPTED flag says
      // (QEMU hands the flags back to SET_STATEBLOB); the migration key wraps it either way.
      const bool sealed = (req.state_flags & kStateFlagDecrypted) == 0 && store_.has_key();
      std::string err;
      if (!store_.encode_migration_blob(kind, plain, migration_key_, blob_, err, sealed)) {
        log_.error("vtpmd: GET_STATEBLOB: %s", err.c_str());
        return rc::kFail;
      }
      if (sealed) blob_flags_ |= kStateFlagEncrypted;
      // (A volatile blob handed out is one-shot: get_state removed the stored copy.)
      return rc::kSuccess;
    }
    case ctrl::Op::SetStateBlob: {
      auto kind = static_cast<BlobKind>(req.blob_type);
      if (req.blob_length == 0) return engine_.set_state(kind, nullptr, 0);
      std::vector<uint8_t> plain;
      std::string err;
      // PTM_STATE_FLAG_ENCRYPTED: the client says the blob is sealed with the state key.
      const bool said_encrypted = (req.state_flags & kStateFlagEncrypted) != 0;
      uint32_t r = store_.decode_migration_blob(kind, req.blob.data(), req.blob_length, migration_key_,
                                                plain, err, said_encrypted);
      if (r != rc::kSuccess) {
        log_.error("vtpmd: SET_STATEBLOB: %s", err.c_str());
        return r;
      }
      return engine_.set_state(kind, plain.data(), static_cast<uint32_t>(plain.size()));
    }
    case ctrl::Op::BufferSet: {
      uint32_t r = engine_.set_buffer_size(req.buffer_size, buf_actual_, buf_min_, buf_max_);
      if (r == rc::kSuccess) buffer_size_ = buf_actual_;
      return r;
    }
    case ctrl::Op::TpmCommand: {
      // The TPM_SEND_COMMAND prefix's locality applies to this command, once the machine runs it.
      if (cmd_locality_ >= 0) engine_.set_locality(static_cast<uint8_t>(cmd_locality_));
      uint32_t out_len = 0;
      const auto cap = static_cast<uint32_t>(std::min<size_t>(data_cap_, engine_.buffer_size()));
      // A TPM error is inside the response; kFail still came with a well-formed fatal response.
      (void)engine_.process(cmd_, cmd_len_, data_out_, cap, out_len);
      data_len_ = out_len;
      return rc::kSuccess;
    }
    case ctrl::Op::Capability:
    case ctrl::Op::Locality:
    case ctrl::Op::Config:
    case ctrl::Op::DataFd:
    case ctrl::Op::BufferQuery:
    case ctrl::Op::Info:
    case ctrl::Op::Unknown:
    case ctrl::Op::Malformed:
    case ctrl::Op::None:
      break;  // awaiting_has_real_op: never pending
  }
  return rc::kFail;
}

void InstanceCore::answer(uint32_t op_value) {
  auto op = static_cast<ctrl::Op>(op_value);
  log_.info(2, "ctrl: %s ok", op_name(op));
  switch (op) {
    case ctrl::Op::TpmCommand: return;  // run_engine wrote the response
    case ctrl::Op::AutoInit: return;    // nobody asked
    case ctrl::Op::Capability:
      set_reply(ReplyShape::Capability, rc::kSuccess);
      reply_.value = capabilities(engine_.version());
      return;
    case ctrl::Op::Established:
      set_reply(ReplyShape::Established, rc::kSuccess);
      reply_.established = established_;
      return;
    case ctrl::Op::Config:
      set_reply(ReplyShape::Config, rc::kSuccess);
      if (cfg_.key.source != KeySource::None) reply_.value |= kConfigFlagFileKey;
      if (cfg_.migration_key.source != KeySource::None) reply_.value |= kConfigFlagMigrationKey;
      return;
    case ctrl::Op::BufferQuery:
      set_reply(ReplyShape::BufferSize, rc::kSuccess);
      engine_.set_buffer_size(0, reply_.buffer_size, reply_.min_size, reply_.max_size);
      return;
    case ctrl::Op::BufferSet:
      set_reply(ReplyShape::BufferSize, rc::kSuccess);
      reply_.buffer_size = buf_actual_;
      reply_.min_size = buf_min_;
      reply_.max_size = buf_max_;
      return;
    case ctrl::Op::Info:
      set_reply(ReplyShape::Info, rc::kSuccess);
      info_ = engine_.info(req_ ? static_cast<uint32_t>(req_->info_flags) : 0);
      reply_.info = info_;
      reply_.info_offset = req_ ? req_->info_offset : 0;
      return;
    case ctrl::Op::GetStateBlob: {  // everything from the request's offset on
      set_reply(ReplyShape::StateBlob, rc::kSuccess);
      const uint32_t off = req_ ? req_->offset : 0;
      reply_.value = blob_flags_;
      if (off < blob_.size()) reply_.blob = std::span<const uint8_t>(blob_).subspan(off);
      return;
    }
    case ctrl::Op::DataFd:
      set_reply(ReplyShape::Result, rc::kSuccess);
      reply_.adopt_data_fd = true;
      return;
    case ctrl::Op::Init:
    case ctrl::Op::Shutdown:
    case ctrl::Op::Locality:
    case ctrl::Op::HashStart:
    case ctrl::Op::HashData:
    case ctrl::Op::HashEnd:
    case ctrl::Op::Cancel:
    case ctrl::Op::StoreVolatile:
    case ctrl::Op::ResetEstablished:
    case ctrl::Op::SetStateBlob:
    case ctrl::Op::Stop:
    case ctrl::Op::Unknown:
    case ctrl::Op::Malformed:
    case ctrl::Op::None:
      set_reply(ReplyShape::Result, rc::kSuccess);
      return;
  }
}

void InstanceCore::refuse(uint32_t op_value, uint32_t code) {
  auto op = static_cast<ctrl::Op>(op_value);
  log_.info(2, "ctrl: %s failed: 0x%x", op_name(op), code);
  if (op == ctrl::Op::TpmCommand) {  // the engine could not run it: the fatal response
    fatalResponse();
    return;
  }
  if (op == ctrl::Op::AutoInit) return;
  // swtpm sends the 16-byte header even on GET_STATEBLOB's errors
  set_reply(op == ctrl::Op::GetStateBlob ? ReplyShape::StateBlob : ReplyShape::Result, code);
}

void InstanceCore::fatalResponse() {
  if (data_out_ != nullptr) data_len_ = fatal_response(data_out_, data_cap_);
}

void InstanceCore::setEngineLocality(uint32_t loc) { engine_.set_locality(static_cast<uint8_t>(loc)); }

void InstanceCore::adoptDataFd() { log_.info(1, "vtpmd: data channel installed by CMD_SET_DATAFD"); }

void InstanceCore::exitProcess(uint32_t code) {
  exit_requested_ = true;
  exit_code_ = static_cast<int>(code);
}

// The vendor command TPM2_SetLocality is honoured only with --locality allow-set-locality (ref
// §1.5); otherwise, as swtpm, it gets the fatal-error response.
void InstanceCore::vendor_set_locality(const uint8_t* cmd, uint32_t len) {
  if (!cfg_.allow_set_locality || m_.state != ctrl::State::Running || len != 11) {
    fatalResponse();
    return;
  }
  uint8_t loc = cmd[10];
  bool ok = loc <= 4 && !(loc == 4 && cfg_.reject_locality4);
  if (ok) engine_.set_locality(loc);
  // A header-only response: TPM_ST_NO_SESSIONS / TPM_TAG_RSP_COMMAND, size 10, and success or
  // TPM_RC_LOCALITY (0x107) / TPM_BAD_LOCALITY (0x3d).
  if (data_cap_ < 10) return;
  wire::put_be16(data_out_, cfg_.tpm2 ? 0x8001 : 0x00c4);
  wire::put_be32(data_out_ + 2, 10);
  wire::put_be32(data_out_ + 6, ok ? 0 : cfg_.tpm2 ? 0x107 : 0x3d);
  data_len_ = 10;
}

}  // namespace vtpm::instance
