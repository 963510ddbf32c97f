// Server: the `swtpm socket` transport around one InstanceCore (runtime/instance/core.h) — the
// data and control channels (listening or passed sockets, one client each, as swtpm 0.7.1), the
// poll loop and its deadlines, TPM command framing (data_framer.h) and the control codec
// (ctrl_codec.h). It turns bytes into the core's inputs and the core's replies into bytes;
// every protocol decision is the core's machine's. One thread.
#pragma once

#include <signal.h>

#include <cstdint>
#include <memory>
#include <string>

#include "instance/config.h"
#include "instance/core.h"
#include "instance/log.h"
#include "transports/swtpm/ctrl_codec.h"
#include "transports/swtpm/data_framer.h"

namespace vtpm::transports::swtpm {

class Server {
 public:
  Server(const instance::Config& cfg, instance::InstanceCore& core, instance::Log& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listening sockets (or adopts the passed fds) and installs the SIGTERM/SIGINT
  // handler. Returns false with `err` set.
  bool open_channels(std::string& err);
  // Starts the core and serves until it asks to exit (CMD_SHUTDOWN), a terminating hang-up or
  // SIGTERM; then finishes the core and removes the socket files. Returns the exit code.
  int run();

 private:
  void serve_ctrl_readable();
  void serve_data_readable();
  void finish_ctrl_message();
  void send_reply(const instance::ControlReply& reply);
  void close_ctrl_client();
  void close_data_client(bool hung_up);
  void send_ctrl(const uint8_t* p, size_t n);
  void send_data(const uint8_t* p, size_t n);
  void send_tpm_response(const uint8_t* resp, size_t n, bool mssim);
  void answer_size_error();
  void run_tpm_command();
  void sync_buffer_size();
  void cleanup_files();
  bool exiting() const { return exiting_ || core_.exit_requested(); }

  const instance::Config& cfg_;
  instance::InstanceCore& core_;
  instance::Log& log_;

  // Channels: a listening socket (or none) and at most one client each.
  int ctrl_listen_ = -1;
  int ctrl_client_ = -1;
  int data_listen_ = -1;
  int data_client_ = -1;
  int passed_fd_ = -1;            // the fd that arrived with the current control message
  bool data_is_passed_ = false;   // data_client_ came from SET_DATAFD or --server …,fd=
  bool exiting_ = false;
  int exit_code_ = 0;
  sigset_t wait_mask_{};          // the signal mask inside ppoll: SIGTERM/SIGINT deliverable

  CtrlDecoder decoder_;
  int64_t ctrl_deadline_ms_ = -1; // a partial control message must complete by then (500 ms)
  DataFramer framer_;
  int64_t data_deadline_ms_ = -1; // a partial TPM command must complete by then

  // Buffers sized at start (DESIGN §5 bounded memory). One input and one output buffer serve
  // both channels: the loop finishes each read (and its reply) before the next.
  static constexpr size_t kIoBytes = kMaxTpmBuffer + 64;  // a whole TPM buffer, MS-simulator wrapped
  std::unique_ptr<uint8_t[]> in_;
  std::unique_ptr<uint8_t[]> out_;
};

}  // namespace vtpm::transports::swtpm
