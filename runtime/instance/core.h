// InstanceCore: one vTPM instance without its transports (DESIGN §3, STYLE 9 sans-I/O). It is the
// host of the generated InstanceCtrl machine (spec/instance_ctrl.fsm) and owns the engine's
// lifecycle and the state store's: a transport hands it a framed TPM command or a decoded control
// request (with whether an fd came with it) and gets the response back; it tells the core when
// the data channel hangs up and when it is idle. No socket, poll or read/write here — the swtpm
// socket server (transports/swtpm/server.h) and, later, the Xen backend drive the same core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "instance/config.h"
#include "instance/control.h"
#include "instance/log.h"
#include "instance/manager_client.h"
#include "instance_ctrl.h"
#include "store/state_store.h"

namespace vtpm::instance {

namespace ctrl = fsm::machines::instance_ctrl;

class InstanceCore {
 public:
  // `migration_key` (empty = none) wraps GET/SET_STATEBLOB bodies. All references outlive the core.
  InstanceCore(const Config& cfg, engine::Engine& engine, store::StateStore& store, Log& log,
               const std::vector<uint8_t>& migration_key);
  InstanceCore(const InstanceCore&) = delete;
  InstanceCore& operator=(const InstanceCore&) = delete;

  // --key manager=…: before start(), get the key from vtpm-manager and check the state directory
  // against its record (manager_client.h); from then on every durable write is reported. False
  // with `err`: the instance must not start.
  bool attach_manager(ManagerClient& client, bool state_is_empty, std::string& err);

  // Delivers `start`: with not-need-init the TPM is initialised now (a failure asks for exit 1).
  void start();

  // One control request. `fd_attached`: an fd came with it (only SET_DATAFD takes one).
  const ControlReply& control(const ControlRequest& req, bool fd_attached);
  // A control message the transport could not decode: answered with `code`.
  const ControlReply& malformed(uint32_t code);
  // A HASH_DATA chunk before the message's last one, hashed as it comes (swtpm streams them).
  void hash_chunk(std::span<const uint8_t> chunk);

  // One framed TPM command (header included, transport prefix excluded). `locality` >= 0 applies
  // a locality that came with it (the MS-simulator prefix), -1 none. The response is written
  // into out[0..cap) (cap >= the negotiated buffer size) and its length returned; 0 means no
  // response (the instance has terminated).
  size_t tpm_command(const uint8_t* cmd, uint32_t len, int locality, uint8_t* out, size_t cap);
  // The 10-byte fatal-error response of a TPM that cannot run a command.
  size_t fatal_response(uint8_t* out, size_t cap) const;

  // The data channel installed by SET_DATAFD hung up: a new SET_DATAFD is accepted.
  void data_closed();
  // Work nobody is waiting on is pending (the store's deferred directory sync): call on_idle()
  // when no input is waiting.
  bool has_idle_work() const {
    return store_.has_pending_sync() || (manager_ != nullptr && manager_->has_idle_work());
  }
  void on_idle();
  // Work for when no input has come for a while (kQuietMs): the manager client's last Commit.
  static constexpr int kQuietMs = 20;
  bool has_quiet_work() const { return manager_ != nullptr && manager_->has_quiet_work(); }
  void on_quiet() {
    if (manager_ != nullptr) manager_->on_quiet();
  }
  // The process ends (clean exit or signal): terminate the TPM and fold the journal.
  void finish();

  bool exit_requested() const { return exit_requested_; }
  int exit_code() const { return exit_code_; }
  engine::TpmVersion version() const { return engine_.version(); }
  // The negotiated TPM buffer size: the largest command a transport should accept.
  uint32_t buffer_size() const { return buffer_size_; }
  ctrl::State state() const { return m_.state; }

  // ---- the InstanceCtrl host (called by the generated dispatch) ----
  void perform(uint32_t op);
  void answer(uint32_t op);
  void refuse(uint32_t op, uint32_t code);
  void fatalResponse();
  void setEngineLocality(uint32_t loc);
  void adoptDataFd();
  void exitProcess(uint32_t code);
  void trace(ctrl::State from, ctrl::EventId ev, ctrl::State to, uint32_t id);

 private:
  void deliver(const ctrl::Event& ev);
  uint32_t run_engine(ctrl::Op op);
  void compact_store();
  void vendor_set_locality(const uint8_t* cmd, uint32_t len);
  void log_init_failure(const char* what, uint32_t r);
  void set_reply(ReplyShape shape, uint32_t result);

  const Config& cfg_;
  engine::Engine& engine_;
  store::StateStore& store_;
  ManagerClient* manager_ = nullptr;
  Log& log_;
  const std::vector<uint8_t>& migration_key_;
  ctrl::InstanceCtrl m_{};

  // The request being served and where its answer goes.
  const ControlRequest* req_ = nullptr;
  ControlReply reply_{};
  const uint8_t* cmd_ = nullptr;  // the TPM command being served
  uint32_t cmd_len_ = 0;
  int cmd_locality_ = -1;         // the locality that came with it (-1 none)
  uint8_t* data_out_ = nullptr;   // its response buffer
  size_t data_cap_ = 0;
  size_t data_len_ = 0;

  bool exit_requested_ = false;
  int exit_code_ = 0;
  std::vector<uint8_t> blob_;     // GET_STATEBLOB payload
  bool established_ = false;
  uint32_t buf_actual_ = 0, buf_min_ = 0, buf_max_ = 0;
  uint32_t buffer_size_;          // as negotiated: SET_BUFFERSIZE's answer, or the engine's at init
  uint32_t blob_flags_ = 0;
  uint32_t hash_error_ = 0;       // the first failure among this HASH_DATA's chunks
  std::string info_;
};

}  // namespace vtpm::instance
