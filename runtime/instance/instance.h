// Instance: one vtpmd process — the swtpm-compatible data and control channels around one libtpms
// engine. It is the host of the generated InstanceCtrl machine (spec/instance_ctrl.fsm): sockets
// turn into events, the machine decides, and the outputs (perform/answer/refuse/…) are carried out
// here. One thread, one poll loop, one client per channel at a time, as `swtpm socket`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "instance/config.h"
#include "instance/log.h"
#include "instance_ctrl.h"
#include "store/state_store.h"
#include "transports/swtpm/ctrl_codec.h"
#include "transports/swtpm/data_framer.h"

namespace vtpm::instance {

namespace ctrl = fsm::machines::instance_ctrl;

class Instance {
 public:
  Instance(const Config& cfg, engine::Engine& engine, store::StateStore& store, Log& log,
           const std::vector<uint8_t>& migration_key);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Opens the listening sockets (or adopts the passed fds). Returns false with `err` set.
  bool open_channels(std::string& err);
  // Writes the pid file (after the sockets exist, as swtpm does).
  bool write_pid_file(std::string& err);
  // Delivers `start` and serves until CMD_SHUTDOWN, a terminating hang-up or SIGTERM.
  // Returns the process exit code.
  int run();

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
  void serve_ctrl_readable();
  void serve_data_readable();
  void handle_ctrl_request();
  void finish_ctrl_message();
  void close_ctrl_client();
  void close_data_client(bool hung_up);
  void send_ctrl(const uint8_t* p, size_t n);
  void send_data(const uint8_t* p, size_t n);
  void cleanup_files();
  void compact_store();
  void answer_size_error();
  void send_tpm_response(const uint8_t* resp, size_t n, bool mssim);
  void vendor_set_locality();
  void log_init_failure(const char* what, uint32_t r);

  const Config& cfg_;
  engine::Engine& engine_;
  store::StateStore& store_;
  Log& log_;
  const std::vector<uint8_t>& migration_key_;
  ctrl::InstanceCtrl m_{};

  // Channels: a listening socket (or none) and at most one client each.
  int ctrl_listen_ = -1;
  int ctrl_client_ = -1;
  int data_listen_ = -1;
  int data_client_ = -1;
  int passed_fd_ = -1;            // the fd that arrived with the current control message
  bool data_is_passed_ = false;   // data_client_ came from SET_DATAFD or --server …,fd=
  bool exiting_ = false;
  int exit_code_ = 0;

  transports::swtpm::CtrlDecoder decoder_;
  int64_t ctrl_deadline_ms_ = -1; // a partial control message must complete by then (500 ms)
  transports::swtpm::DataFramer framer_;
  int64_t data_deadline_ms_ = -1; // a partial TPM command must complete by then

  // Buffers sized at start (DESIGN §5 bounded memory).
  static constexpr size_t kIoBytes = 4096 + 64;  // a whole TPM buffer, MS-simulator wrapped
  std::unique_ptr<uint8_t[]> in_;
  std::unique_ptr<uint8_t[]> out_;
  std::vector<uint8_t> blob_;     // GET/SET_STATEBLOB payloads
  uint32_t resp_len_ = 0;
  bool resp_mssim_ = false;
  bool established_ = false;
  uint32_t buf_actual_ = 0, buf_min_ = 0, buf_max_ = 0;
  uint32_t blob_flags_ = 0;
  uint32_t hash_error_ = 0;      // the first failure among this HASH_DATA's chunks
  std::string info_;
};

}  // namespace vtpm::instance
