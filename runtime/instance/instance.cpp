// Instance: see instance.h. The poll loop, the mapping of decoded control requests to InstanceCtrl
// events, and the host side of the machine's outputs. Reply layouts follow swtpm 0.7.1
// (reference/swtpm-qemu.md §1.2): a failed command answers with its 4-byte result only, except
// GET_STATEBLOB, which always sends its 16-byte header.
#include "instance/instance.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>

#include "transports/swtpm/net.h"
#include "wire/big_endian.h"

namespace vtpm::instance {

namespace sw = transports::swtpm;
using engine::BlobKind;
namespace rc = engine::rc;

namespace {

constexpr int64_t kCtrlDeadlineMs = 500;    // swtpm: the rest of a control message within 500 ms
constexpr int64_t kDataStallMs = 5000;      // a client stalled inside a header is dropped after this
constexpr int64_t kDataQuietMs = 200;       // a header whose body stops coming: answered, dropped
constexpr uint32_t kVendorSetLocality = 0x20001000;  // TPM2_SetLocality/TPM_SetLocality (ref §1.5)

volatile sig_atomic_t g_terminate = 0;      // SIGTERM/SIGINT: the only state a handler may touch
void on_terminate(int) { g_terminate = 1; }

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

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

Instance::Instance(const Config& cfg, engine::Engine& engine, store::StateStore& store, Log& log,
                   const std::vector<uint8_t>& migration_key)
    : cfg_(cfg),
      engine_(engine),
      store_(store),
      log_(log),
      migration_key_(migration_key),
      framer_(engine.version(), engine.buffer_size()) {
  // One input and one output buffer serve both channels: the loop finishes each read (and its
  // reply) before the next, so they are never in use twice. Left uninitialised, so an idle
  // instance keeps only the pages it has used (memory per instance is a figure of merit).
  in_.reset(new uint8_t[kIoBytes]);
  out_.reset(new uint8_t[kIoBytes]);
}

Instance::~Instance() {
  for (int fd : {ctrl_listen_, ctrl_client_, data_listen_, data_client_, passed_fd_})
    if (fd >= 0) ::close(fd);
}

bool Instance::open_channels(std::string& err) {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_terminate;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  auto open_one = [&](const ChannelConfig& c, const char* what, int& listen_fd, int& client_fd) {
    switch (c.kind) {
      case Endpoint::None: return true;
      case Endpoint::TcpPort: listen_fd = sw::listen_tcp(c.bindaddr, c.port, err); break;
      case Endpoint::UnixPath: listen_fd = sw::listen_unix(c.path, c.mode, err); break;
      case Endpoint::UnixFd: listen_fd = c.fd; break;
      case Endpoint::TcpFd:
      case Endpoint::UnixClientFd: client_fd = c.fd; return true;
    }
    if (listen_fd < 0) {
      err = std::string(what) + ": " + err;
      return false;
    }
    // uid=/gid= (ref §1.6): the socket file's owner, as swtpm sets it after bind.
    if (c.kind == Endpoint::UnixPath && (c.uid || c.gid) &&
        ::chown(c.path.c_str(), c.uid ? static_cast<uid_t>(*c.uid) : static_cast<uid_t>(-1),
                c.gid ? static_cast<gid_t>(*c.gid) : static_cast<gid_t>(-1)) != 0) {
      err = std::string(what) + ": cannot set the owner of " + c.path + ": " + std::strerror(errno);
      return false;
    }
    return true;
  };
  if (!open_one(cfg_.ctrl, "--ctrl", ctrl_listen_, ctrl_client_)) return false;
  if (!open_one(cfg_.server, "--server", data_listen_, data_client_)) return false;
  if (data_client_ >= 0) data_is_passed_ = true;  // --server type=tcp,fd=N: terminate on close
  return true;
}

bool Instance::write_pid_file(std::string& err) {
  if (cfg_.pid_file.empty() && cfg_.pid_fd < 0) return true;
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%d", static_cast<int>(getpid()));
  int fd = cfg_.pid_fd;
  if (fd < 0) {
    fd = ::open(cfg_.pid_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      err = "--pid: cannot write '" + cfg_.pid_file + "': " + std::strerror(errno);
      return false;
    }
  }
  bool ok = ::write(fd, buf, static_cast<size_t>(n)) == n;
  if (cfg_.pid_fd < 0) ::close(fd);
  if (!ok) err = "--pid: short write";
  return ok;
}

void Instance::cleanup_files() {
  if (!cfg_.pid_file.empty()) ::unlink(cfg_.pid_file.c_str());
  if (cfg_.ctrl.kind == Endpoint::UnixPath) ::unlink(cfg_.ctrl.path.c_str());
  if (cfg_.server.kind == Endpoint::UnixPath) ::unlink(cfg_.server.path.c_str());
}

// ---- event delivery -------------------------------------------------------------------------

void Instance::deliver(const ctrl::Event& ev) {
  fsm::rt::Result r = ctrl::dispatch(m_, *this, ev);
  switch (r.outcome) {
    case fsm::rt::Outcome::Transitioned:
    case fsm::rt::Outcome::Ignored:
      break;
    case fsm::rt::Outcome::Rejected: {
      uint8_t out[4];
      log_.info(2, "ctrl: %s refused in %s: 0x%x", ctrl::event_name(ev.id), ctrl::state_name(m_.state), r.code);
      send_ctrl(out, sw::encode_result(out, sizeof out, r.code));
      break;
    }
    case fsm::rt::Outcome::BadPayload:
    case fsm::rt::Outcome::NoGuard:
    case fsm::rt::Outcome::Deferred: {
      // Unreachable by the proofs (payloads are full-width, guards exhaustive, the host
      // synchronous); answer rather than leave a control client waiting forever.
      uint8_t out[4];
      log_.error("vtpmd: internal: %s gave %s in %s", ctrl::event_name(ev.id),
                 fsm::rt::outcome_name(r.outcome), ctrl::state_name(m_.state));
      send_ctrl(out, sw::encode_result(out, sizeof out, rc::kFail));
      break;
    }
  }
  // Two-phase engine operations: the machine waits in AwaitingEngine for the result.
  while (m_.state == ctrl::State::AwaitingEngine) {
    auto op = static_cast<ctrl::Op>(m_.pending);
    uint32_t code = run_engine(op);
    ctrl::Event done = code == rc::kSuccess ? ctrl::make_engineDone() : ctrl::make_engineFailed(code);
    r = ctrl::dispatch(m_, *this, done);
    if (r.outcome != fsm::rt::Outcome::Transitioned) {
      log_.error("vtpmd: internal: engine result not taken in %s", ctrl::state_name(m_.state));
      exiting_ = true;
      exit_code_ = 1;
      return;
    }
  }
}

void Instance::trace(ctrl::State from, ctrl::EventId ev, ctrl::State to, uint32_t id) {
  log_.info(3, "ctrl-machine: %s --%s--> %s (#%u)", ctrl::state_name(from), ctrl::event_name(ev),
            ctrl::state_name(to), id);
}

// Fail closed, and say why (DESIGN §5): the store's reason when a file did not decode or verify,
// else libtpms refused what the files held.
void Instance::log_init_failure(const char* what, uint32_t r) {
  if (!store_.last_error().empty())
    log_.error("vtpmd: %s: TPM not initialised (0x%x): %s", what, r, store_.last_error().c_str());
  else
    log_.error("vtpmd: %s: TPM not initialised (0x%x): libtpms did not accept the state in %s (%s)",
               what, r, cfg_.state_dir.c_str(), store_.file_name(BlobKind::Permanent).c_str());
}

// The journal's writes go into the swtpm-format snapshot files whenever the TPM stops, so that a
// state directory left by vtpmd is plain swtpm state (runtime/store/journal.h). A failure loses
// nothing (the journal stays and is replayed next time); it is logged.
void Instance::compact_store() {
  if (!store_.compact()) log_.error("vtpmd: could not fold the journal into the state files: %s", store_.last_error().c_str());
}

// ---- outputs ---------------------------------------------------------------------------------

void Instance::perform(uint32_t) {
  // Nothing here: deliver() runs the pending operation once dispatch has returned, so that the
  // engine never runs inside a transition.
}

uint32_t Instance::run_engine(ctrl::Op op) {
  const sw::CtrlRequest& req = decoder_.request();
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
      framer_.set_buffer_size(engine_.buffer_size());
      return rc::kSuccess;
    }
    case ctrl::Op::Init: {
      engine_.terminate();
      uint32_t r = engine_.init((req.init_flags & sw::kInitFlagDeleteVolatile) != 0);
      if (r != rc::kSuccess) log_init_failure("CMD_INIT", r);
      framer_.set_buffer_size(engine_.buffer_size());
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
      blob_.clear();
      blob_flags_ = 0;
      if (r != rc::kSuccess) return r;
      if (plain.empty()) return rc::kRetry;
      std::string err;
      if (!store_.encode_migration_blob(kind, plain, migration_key_, blob_, err)) {
        log_.error("vtpmd: GET_STATEBLOB: %s", err.c_str());
        return rc::kFail;
      }
      if (!migration_key_.empty()) blob_flags_ |= sw::kStateFlagEncrypted;
      return rc::kSuccess;
    }
    case ctrl::Op::SetStateBlob: {
      auto kind = static_cast<BlobKind>(req.blob_type);
      if (req.blob_length == 0) return engine_.set_state(kind, nullptr, 0);
      std::vector<uint8_t> plain;
      std::string err;
      uint32_t r = store_.decode_migration_blob(kind, req.blob.data(), req.blob_length, migration_key_, plain, err);
      if (r != rc::kSuccess) {
        log_.error("vtpmd: SET_STATEBLOB: %s", err.c_str());
        return r;
      }
      return engine_.set_state(kind, plain.data(), static_cast<uint32_t>(plain.size()));
    }
    case ctrl::Op::BufferSet: {
      uint32_t r = engine_.set_buffer_size(req.buffer_size, buf_actual_, buf_min_, buf_max_);
      if (r == rc::kSuccess) framer_.set_buffer_size(buf_actual_);
      return r;
    }
    case ctrl::Op::TpmCommand: {
      if (framer_.has_locality()) engine_.set_locality(framer_.locality());
      uint32_t r = engine_.process(framer_.frame(), framer_.frame_size(), out_.get() + sw::kMssimReplyOverhead,
                                   engine_.buffer_size(), resp_len_);
      resp_mssim_ = framer_.mssim();
      // A TPM error is inside the response; kFail still came with a well-formed fatal response.
      (void)r;
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

void Instance::answer(uint32_t op_value) {
  auto op = static_cast<ctrl::Op>(op_value);
  const sw::CtrlRequest& req = decoder_.request();
  uint8_t* out = out_.get();
  const size_t cap = kIoBytes;
  size_t n = 0;
  log_.info(2, "ctrl: %s ok", op_name(op));
  switch (op) {
    case ctrl::Op::TpmCommand:  // run_engine left the response behind room for the wrapper
      send_tpm_response(out_.get() + sw::kMssimReplyOverhead, resp_len_, resp_mssim_);
      return;
    case ctrl::Op::AutoInit: return;  // nobody asked
    case ctrl::Op::Capability: n = sw::encode_capability(out, cap, sw::capabilities(engine_.version())); break;
    case ctrl::Op::Established: n = sw::encode_established(out, cap, established_); break;
    case ctrl::Op::Config: {
      uint32_t flags = 0;
      if (cfg_.key.source != KeySource::None) flags |= sw::kConfigFlagFileKey;
      if (cfg_.migration_key.source != KeySource::None) flags |= sw::kConfigFlagMigrationKey;
      n = sw::encode_config(out, cap, flags);
      break;
    }
    case ctrl::Op::BufferQuery: {
      uint32_t actual = 0, mn = 0, mx = 0;
      engine_.set_buffer_size(0, actual, mn, mx);
      n = sw::encode_buffer_size(out, cap, actual, mn, mx);
      break;
    }
    case ctrl::Op::BufferSet:
      n = sw::encode_buffer_size(out, cap, buf_actual_, buf_min_, buf_max_);
      break;
    case ctrl::Op::Info: {
      info_ = engine_.info(static_cast<uint32_t>(req.info_flags));
      n = sw::encode_info(out, cap, info_, req.info_offset);
      break;
    }
    case ctrl::Op::GetStateBlob: {  // the 16-byte header, then the blob from where it lives
      uint32_t off = req.offset;
      uint32_t len = off < blob_.size() ? static_cast<uint32_t>(blob_.size()) - off : 0;
      n = sw::encode_state_blob_header(out, cap, rc::kSuccess, blob_flags_, len, len);
      send_ctrl(out, n);
      if (len > 0) send_ctrl(blob_.data() + off, len);
      return;
    }
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
    case ctrl::Op::DataFd:
    case ctrl::Op::Unknown:
    case ctrl::Op::Malformed:
    case ctrl::Op::None:
      n = sw::encode_result(out, cap, rc::kSuccess);
      break;
  }
  send_ctrl(out, n);
}

void Instance::refuse(uint32_t op_value, uint32_t code) {
  auto op = static_cast<ctrl::Op>(op_value);
  log_.info(2, "ctrl: %s failed: 0x%x", op_name(op), code);
  if (op == ctrl::Op::TpmCommand) {  // the engine could not run it: the fatal response
    fatalResponse();
    return;
  }
  if (op == ctrl::Op::AutoInit) return;
  uint8_t* out = out_.get();
  const size_t cap = kIoBytes;
  size_t n;
  if (op == ctrl::Op::GetStateBlob)  // swtpm sends the 16-byte header even on errors
    n = sw::encode_state_blob(out, cap, code, 0, {}, 0);
  else
    n = sw::encode_result(out, cap, code);
  send_ctrl(out, n);
}

void Instance::fatalResponse() {
  uint8_t out[16];
  send_tpm_response(out, engine_.fatal_response(out, sizeof out), framer_.mssim());
}

// A TPM response on the data channel, behind the MS-simulator size and trailer when the command
// came with the TPM_SEND_COMMAND prefix (ref §1.5). `resp` may lie inside out_ (it is moved).
void Instance::send_tpm_response(const uint8_t* resp, size_t n, bool mssim) {
  if (mssim) send_data(out_.get(), sw::wrap_mssim_reply(resp, n, out_.get(), kIoBytes));
  else send_data(resp, n);
}

void Instance::setEngineLocality(uint32_t loc) { engine_.set_locality(static_cast<uint8_t>(loc)); }

void Instance::adoptDataFd() {
  if (data_client_ >= 0) ::close(data_client_);
  data_client_ = passed_fd_;
  passed_fd_ = -1;
  data_is_passed_ = true;
  framer_.reset();
  log_.info(1, "vtpmd: data channel installed by CMD_SET_DATAFD");
}

void Instance::exitProcess(uint32_t code) {
  exiting_ = true;
  exit_code_ = static_cast<int>(code);
}

// ---- I/O -------------------------------------------------------------------------------------

void Instance::send_ctrl(const uint8_t* p, size_t n) {
  if (ctrl_client_ < 0 || n == 0) return;
  std::string err;
  if (!sw::send_all(ctrl_client_, p, n, 2000, err)) {
    log_.info(1, "vtpmd: control reply lost: %s", err.c_str());
    close_ctrl_client();
  }
}

void Instance::send_data(const uint8_t* p, size_t n) {
  if (data_client_ < 0 || n == 0) return;
  std::string err;
  if (!sw::send_all(data_client_, p, n, 2000, err)) {
    log_.info(1, "vtpmd: data reply lost: %s", err.c_str());
    close_data_client(true);
    return;
  }
  if (cfg_.server.disconnect && !data_is_passed_) close_data_client(false);
}

void Instance::close_ctrl_client() {
  if (ctrl_client_ >= 0) ::close(ctrl_client_);
  ctrl_client_ = -1;
  decoder_.reset();
  ctrl_deadline_ms_ = -1;
  // A connected control fd (clientfd=) cannot be replaced: like swtpm, the instance ends.
  if (ctrl_listen_ < 0 && cfg_.ctrl.kind != Endpoint::None) {
    exiting_ = true;
    log_.info(1, "vtpmd: control client closed");
  }
}

void Instance::close_data_client(bool hung_up) {
  if (data_client_ >= 0) ::close(data_client_);
  data_client_ = -1;
  framer_.reset();
  data_deadline_ms_ = -1;
  bool was_passed = data_is_passed_;
  data_is_passed_ = false;
  if (hung_up) log_.info(1, "vtpmd: data client disconnected");
  if (was_passed) deliver(ctrl::make_dataClosed());
  if (hung_up && (cfg_.terminate || (was_passed && cfg_.server.kind == Endpoint::TcpFd))) exiting_ = true;
}

void Instance::serve_ctrl_readable() {
  int fd = -1;
  std::string err;
  ssize_t n = sw::recv_with_fd(ctrl_client_, in_.get(), kIoBytes, fd, err);
  if (n <= 0) {
    if (fd >= 0) ::close(fd);
    close_ctrl_client();
    return;
  }
  if (fd >= 0) {
    if (passed_fd_ >= 0) ::close(passed_fd_);
    passed_fd_ = fd;
  }
  // One burst feeds one message (swtpm's semantics, see ctrl_codec.h); bytes beyond a complete
  // message are the codec's error to report. HASH_DATA arrives in chunks, hashed as they come
  // while the TPM runs (the machine decides about the message as a whole when it completes).
  size_t off = 0;
  size_t total = static_cast<size_t>(n);
  for (uint32_t guard = 0; guard <= total; ++guard) {
    off += decoder_.feed(in_.get() + off, total - off);
    if (decoder_.status() != sw::CtrlStatus::HashChunk) break;
    const auto& chunk = decoder_.request().hash_data;
    if (m_.state == ctrl::State::Running && hash_error_ == rc::kSuccess)
      hash_error_ = engine_.hash_data(chunk.data(), static_cast<uint32_t>(chunk.size()));
    if (off >= total) break;
  }
  if (decoder_.status() == sw::CtrlStatus::NeedMore || decoder_.status() == sw::CtrlStatus::HashChunk) {
    if (ctrl_deadline_ms_ < 0) ctrl_deadline_ms_ = now_ms() + kCtrlDeadlineMs;
    return;
  }
  finish_ctrl_message();
}

void Instance::finish_ctrl_message() {
  ctrl_deadline_ms_ = -1;
  if (decoder_.status() == sw::CtrlStatus::Error) {
    log_.info(1, "vtpmd: bad control message: %s", decoder_.error_text());
    deliver(ctrl::make_malformed(decoder_.error_code()));
  } else {
    handle_ctrl_request();
  }
  decoder_.reset();
  hash_error_ = rc::kSuccess;
  if (passed_fd_ >= 0) {  // an fd that came with anything but an accepted SET_DATAFD
    ::close(passed_fd_);
    passed_fd_ = -1;
  }
}

void Instance::handle_ctrl_request() {
  const sw::CtrlRequest& q = decoder_.request();
  log_.info(2, "ctrl: request 0x%02x", static_cast<unsigned>(q.cmd));
  switch (q.cmd) {
    case sw::CtrlCmd::GetCapability: deliver(ctrl::make_getCapability()); break;
    case sw::CtrlCmd::Init: deliver(ctrl::make_init((q.init_flags & sw::kInitFlagDeleteVolatile) != 0)); break;
    case sw::CtrlCmd::Shutdown: deliver(ctrl::make_shutdown()); break;
    case sw::CtrlCmd::GetTpmEstablished: deliver(ctrl::make_getEstablished()); break;
    case sw::CtrlCmd::SetLocality: deliver(ctrl::make_setLocality(q.locality)); break;
    case sw::CtrlCmd::HashStart: deliver(ctrl::make_hashStart()); break;
    case sw::CtrlCmd::HashData: deliver(ctrl::make_hashData()); break;
    case sw::CtrlCmd::HashEnd: deliver(ctrl::make_hashEnd()); break;
    case sw::CtrlCmd::CancelTpmCmd: deliver(ctrl::make_cancel()); break;
    case sw::CtrlCmd::StoreVolatile: deliver(ctrl::make_storeVolatile()); break;
    case sw::CtrlCmd::ResetTpmEstablished: deliver(ctrl::make_resetEstablished(q.locality)); break;
    case sw::CtrlCmd::GetStateBlob: deliver(ctrl::make_getStateBlob(q.blob_type)); break;
    case sw::CtrlCmd::SetStateBlob: deliver(ctrl::make_setStateBlob(q.blob_type)); break;
    case sw::CtrlCmd::Stop: deliver(ctrl::make_stop()); break;
    case sw::CtrlCmd::GetConfig: deliver(ctrl::make_getConfig()); break;
    case sw::CtrlCmd::SetDataFd: deliver(ctrl::make_setDataFd(passed_fd_ >= 0)); break;
    case sw::CtrlCmd::SetBufferSize: deliver(ctrl::make_setBufferSize(q.buffer_size)); break;
    case sw::CtrlCmd::GetInfo: deliver(ctrl::make_getInfo()); break;
    case sw::CtrlCmd::LockStorage: deliver(ctrl::make_unknownCmd()); break;  // not in swtpm 0.7.1
  }
}

// swtpm 0.7.1 takes what one read returns as one command (ref §1.5); we frame by the size field
// (a command may come in several reads) and keep swtpm's answers for the malformed cases: bytes
// beyond the size field in the same read, a size outside 10..buffer, or a body that stops coming
// all get the TPM's command-size error. After an answered error the rest of the read is
// discarded and the next read starts a new command.
void Instance::serve_data_readable() {
  ssize_t n = ::read(data_client_, in_.get(), kIoBytes);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close_data_client(true);
    return;
  }
  size_t off = 0;
  const size_t total = static_cast<size_t>(n);
  while (off < total && data_client_ >= 0 && !exiting_) {
    off += framer_.feed(in_.get() + off, total - off);
    if (framer_.status() == sw::FrameStatus::NeedMore) break;
    if (framer_.status() == sw::FrameStatus::Error) {
      log_.info(1, "vtpmd: bad TPM command frame: %s", framer_.error_text());
      uint8_t out[32];
      send_data(out, framer_.error_response(out, sizeof out));
      framer_.reset();
      break;
    }
    if (off < total) {  // the size field says less than the client sent
      log_.info(1, "vtpmd: TPM command of %u bytes followed by %zu more in the same write",
                framer_.frame_size(), total - off);
      answer_size_error();
      framer_.reset();
      break;
    }
    if (framer_.frame_size() >= 10 && wire::get_be32(framer_.frame() + 6) == kVendorSetLocality) {
      vendor_set_locality();
    } else {
      deliver(ctrl::make_tpmCommand());
    }
    framer_.reset();
  }
  if (framer_.header_complete()) data_deadline_ms_ = now_ms() + kDataQuietMs;
  else if (framer_.in_progress()) data_deadline_ms_ = now_ms() + kDataStallMs;
  else data_deadline_ms_ = -1;
}

void Instance::answer_size_error() {
  uint8_t out[16];
  send_tpm_response(out, sw::tpm_error_response(out, sizeof out, engine_.version(), sw::FrameError::SizeTooLarge),
                    framer_.mssim());
}

// The vendor command TPM2_SetLocality is honoured only with --locality allow-set-locality (ref
// §1.5); otherwise, as swtpm, it gets the fatal-error response.
void Instance::vendor_set_locality() {
  const uint8_t* f = framer_.frame();
  uint32_t size = framer_.frame_size();
  if (!cfg_.allow_set_locality || m_.state != ctrl::State::Running || size != 11) {
    fatalResponse();
    return;
  }
  uint8_t loc = f[10];
  bool ok = loc <= 4 && !(loc == 4 && cfg_.reject_locality4);
  if (ok) engine_.set_locality(loc);
  // A header-only response: TPM_ST_NO_SESSIONS / TPM_TAG_RSP_COMMAND, size 10, and success or
  // TPM_RC_LOCALITY (0x107) / TPM_BAD_LOCALITY (0x3d).
  uint8_t out[10];
  wire::put_be16(out, cfg_.tpm2 ? 0x8001 : 0x00c4);
  wire::put_be32(out + 2, sizeof out);
  wire::put_be32(out + 6, ok ? 0 : cfg_.tpm2 ? 0x107 : 0x3d);
  send_tpm_response(out, sizeof out, framer_.mssim());
}

int Instance::run() {
  deliver(ctrl::make_start(cfg_.not_need_init, cfg_.reject_locality4));
  while (!exiting_ && !g_terminate) {
    pollfd fds[2];
    int nfds = 0;
    int ctrl_idx = -1, data_idx = -1;
    int ctrl_fd = ctrl_client_ >= 0 ? ctrl_client_ : ctrl_listen_;
    int data_fd = data_client_ >= 0 ? data_client_ : data_listen_;
    if (ctrl_fd >= 0) { ctrl_idx = nfds; fds[nfds++] = {ctrl_fd, POLLIN, 0}; }
    if (data_fd >= 0) { data_idx = nfds; fds[nfds++] = {data_fd, POLLIN, 0}; }
    if (nfds == 0) {
      log_.error("vtpmd: no channel left to serve");
      return 1;
    }
    // Until the earliest deadline (0 if it has passed), or without end when there is none.
    int64_t now = now_ms();
    int timeout = -1;
    for (int64_t d : {ctrl_deadline_ms_, data_deadline_ms_}) {
      if (d < 0) continue;
      int left = static_cast<int>(std::max<int64_t>(d - now, 0));
      timeout = timeout < 0 ? left : std::min(timeout, left);
    }
    if (store_.has_pending_sync()) {  // durable as soon as nothing else is waiting
      int ready = ::poll(fds, static_cast<nfds_t>(nfds), 0);
      if (ready == 0) {
        std::string err;
        if (!store_.flush_pending(err)) log_.error("vtpmd: state directory sync failed: %s", err.c_str());
      }
    }
    int pr = ::poll(fds, static_cast<nfds_t>(nfds), timeout);
    if (pr < 0) {
      if (errno == EINTR) continue;
      log_.error("vtpmd: poll: %s", std::strerror(errno));
      return 1;
    }
    now = now_ms();
    if (ctrl_deadline_ms_ >= 0 && now >= ctrl_deadline_ms_ && ctrl_client_ >= 0) {
      decoder_.on_deadline();
      finish_ctrl_message();
    }
    if (data_deadline_ms_ >= 0 && now >= data_deadline_ms_ && data_client_ >= 0) {
      data_deadline_ms_ = -1;
      if (framer_.header_complete()) {  // swtpm answers what it got: the size does not match
        log_.info(1, "vtpmd: TPM command shorter than its size field; answered and dropped");
        answer_size_error();
      } else {
        log_.info(1, "vtpmd: data client stalled inside a command header; dropped");
      }
      close_data_client(true);
    }
    if (ctrl_idx >= 0 && (fds[ctrl_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (ctrl_client_ >= 0 && fds[ctrl_idx].fd == ctrl_client_) {
        serve_ctrl_readable();
      } else if (ctrl_listen_ >= 0) {
        std::string err;
        ctrl_client_ = sw::accept_client(ctrl_listen_, err);
      }
    }
    if (exiting_) break;
    if (data_idx >= 0 && (fds[data_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (data_client_ >= 0 && fds[data_idx].fd == data_client_) {
        serve_data_readable();
      } else if (data_listen_ >= 0 && data_client_ < 0) {
        std::string err;
        data_client_ = sw::accept_client(data_listen_, err);
        framer_.reset();
      }
    }
  }
  if (engine_.running()) engine_.terminate();
  compact_store();
  cleanup_files();
  return g_terminate ? 0 : exit_code_;
}

}  // namespace vtpm::instance
