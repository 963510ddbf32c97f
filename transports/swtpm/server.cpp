// Server: see server.h. swtpm 0.7.1's socket semantics (reference/swtpm-qemu.md §1.1, §1.5-1.7):
// one client per channel, a control message is what one burst brings (500 ms for the rest), a
// TPM command is framed by its size field with swtpm's answers for the malformed cases.
#include "transports/swtpm/server.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "transports/swtpm/net.h"

namespace vtpm::transports::swtpm {

using instance::Endpoint;

namespace {

constexpr int64_t kCtrlDeadlineMs = 500;    // swtpm: the rest of a control message within 500 ms
constexpr int64_t kDataStallMs = 5000;      // a client stalled inside a header is dropped after this
constexpr int64_t kDataQuietMs = 200;       // a header whose body stops coming: answered, dropped

volatile sig_atomic_t g_terminate = 0;      // SIGTERM/SIGINT: the only state a handler may touch
void on_terminate(int) { g_terminate = 1; }

// swtpm 0.7.1's start-time checks of a passed fd (src/swtpm/common.c, swtpm.c): listening and
// control fds must be sockets; a connected data fd (-f/--fd, --server type=tcp,fd=) may be any
// stream but a regular file, directory, block device or symlink.
bool check_passed_fd(int fd, bool socket_only, const char* what, std::string& err) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    err = std::string(what) + ": cannot use file descriptor " + std::to_string(fd) + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = socket_only ? S_ISSOCK(st.st_mode)
                              : !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode) ||
                                  S_ISLNK(st.st_mode));
  if (!ok) {
    err = std::string(what) + ": file descriptor " + std::to_string(fd) +
          (socket_only ? " is not a socket" : " is a file, directory or block device, not a stream");
    return false;
  }
  return true;
}

}  // namespace

Server::Server(const instance::Config& cfg, instance::InstanceCore& core, instance::Log& log)
    : cfg_(cfg), core_(core), log_(log), framer_(core.version(), core.buffer_size()) {
  // Left uninitialised, so an idle instance keeps only the pages it has used (memory per
  // instance is a figure of merit).
  in_.reset(new uint8_t[kIoBytes]);
  out_.reset(new uint8_t[kIoBytes]);
}

Server::~Server() {
  for (int fd : {ctrl_listen_, ctrl_client_, data_listen_, data_client_, passed_fd_})
    if (fd >= 0) ::close(fd);
}

bool Server::open_channels(std::string& err) {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_terminate;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // SIGTERM/SIGINT stay blocked except inside the loop's ppoll, which unblocks them atomically:
  // a signal that comes between the loop's check of g_terminate and the wait cannot be missed.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  sigprocmask(SIG_BLOCK, &term, &wait_mask_);
  sigdelset(&wait_mask_, SIGTERM);
  sigdelset(&wait_mask_, SIGINT);

  auto open_one = [&](const instance::ChannelConfig& c, const char* what, int& listen_fd, int& client_fd) {
    switch (c.kind) {
      case Endpoint::None: return true;
      case Endpoint::TcpPort: listen_fd = listen_tcp(c.bindaddr, c.port, err); break;
      case Endpoint::UnixPath: listen_fd = listen_unix(c.path, c.mode, err); break;
      case Endpoint::UnixFd:
        if (!check_passed_fd(c.fd, true, what, err)) return false;
        listen_fd = c.fd;
        break;
      case Endpoint::TcpFd:
      case Endpoint::UnixClientFd:
        if (!check_passed_fd(c.fd, c.kind == Endpoint::UnixClientFd, what, err)) return false;
        client_fd = c.fd;
        return true;
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

void Server::cleanup_files() {
  if (cfg_.ctrl.kind == Endpoint::UnixPath) ::unlink(cfg_.ctrl.path.c_str());
  if (cfg_.server.kind == Endpoint::UnixPath) ::unlink(cfg_.server.path.c_str());
}

// INIT and SET_BUFFERSIZE change the largest command the TPM takes; the framer follows.
void Server::sync_buffer_size() {
  if (framer_.buffer_size() != core_.buffer_size()) framer_.set_buffer_size(core_.buffer_size());
}

// ---- I/O -------------------------------------------------------------------------------------

void Server::send_reply(const instance::ControlReply& reply) {
  if (reply.adopt_data_fd) {  // SET_DATAFD accepted: the fd that came with it is the data channel
    if (data_client_ >= 0) ::close(data_client_);
    data_client_ = passed_fd_;
    passed_fd_ = -1;
    data_is_passed_ = true;
    framer_.reset();
  }
  std::span<const uint8_t> tail;
  uint8_t* out = out_.get();
  send_ctrl(out, encode_reply(out, kIoBytes, reply, tail));
  if (!tail.empty()) send_ctrl(tail.data(), tail.size());
  sync_buffer_size();
}

void Server::send_ctrl(const uint8_t* p, size_t n) {
  if (ctrl_client_ < 0 || n == 0) return;
  std::string err;
  if (!send_all(ctrl_client_, p, n, 2000, err)) {
    log_.info(1, "vtpmd: control reply lost: %s", err.c_str());
    close_ctrl_client();
  }
}

void Server::send_data(const uint8_t* p, size_t n) {
  if (data_client_ < 0 || n == 0) return;
  std::string err;
  if (!send_all(data_client_, p, n, 2000, err)) {
    log_.info(1, "vtpmd: data reply lost: %s", err.c_str());
    close_data_client(true);
    return;
  }
  if (cfg_.server.disconnect && !data_is_passed_) close_data_client(false);
}

// A TPM response on the data channel, behind the MS-simulator size and trailer when the command
// came with the TPM_SEND_COMMAND prefix (ref §1.5). `resp` may lie inside out_ (it is moved).
void Server::send_tpm_response(const uint8_t* resp, size_t n, bool mssim) {
  if (mssim) send_data(out_.get(), wrap_mssim_reply(resp, n, out_.get(), kIoBytes));
  else send_data(resp, n);
}

void Server::close_ctrl_client() {
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

void Server::close_data_client(bool hung_up) {
  if (data_client_ >= 0) ::close(data_client_);
  data_client_ = -1;
  framer_.reset();
  data_deadline_ms_ = -1;
  bool was_passed = data_is_passed_;
  data_is_passed_ = false;
  if (hung_up) log_.info(1, "vtpmd: data client disconnected");
  if (was_passed) core_.data_closed();
  if (hung_up && (cfg_.terminate || (was_passed && cfg_.server.kind == Endpoint::TcpFd))) exiting_ = true;
}

void Server::serve_ctrl_readable() {
  int fd = -1;
  std::string err;
  ssize_t n = recv_with_fd(ctrl_client_, in_.get(), kIoBytes, fd, err);
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
  // (the machine decides about the message as a whole when it completes).
  size_t off = 0;
  size_t total = static_cast<size_t>(n);
  for (uint32_t guard = 0; guard <= total; ++guard) {
    off += decoder_.feed(in_.get() + off, total - off);
    if (decoder_.status() != CtrlStatus::HashChunk) break;
    core_.hash_chunk(decoder_.request().hash_data);
    if (off >= total) break;
  }
  if (decoder_.status() == CtrlStatus::NeedMore || decoder_.status() == CtrlStatus::HashChunk) {
    if (ctrl_deadline_ms_ < 0) ctrl_deadline_ms_ = now_ms() + kCtrlDeadlineMs;
    return;
  }
  finish_ctrl_message();
}

void Server::finish_ctrl_message() {
  ctrl_deadline_ms_ = -1;
  if (decoder_.status() == CtrlStatus::Error) {
    log_.info(1, "vtpmd: bad control message: %s", decoder_.error_text());
    send_reply(core_.malformed(decoder_.error_code()));
  } else {
    send_reply(core_.control(decoder_.request(), passed_fd_ >= 0));
  }
  decoder_.reset();
  if (passed_fd_ >= 0) {  // an fd that came with anything but an accepted SET_DATAFD
    ::close(passed_fd_);
    passed_fd_ = -1;
  }
}

// The framed command goes to the core; its response is written behind room for the
// MS-simulator wrapper, so that wrapping moves nothing.
void Server::run_tpm_command() {
  uint8_t* resp = out_.get() + kMssimReplyOverhead;
  size_t n = core_.tpm_command(framer_.frame(), framer_.frame_size(),
                               framer_.has_locality() ? framer_.locality() : -1, resp,
                               kIoBytes - kMssimReplyOverhead);
  send_tpm_response(resp, n, framer_.mssim());
}

// swtpm 0.7.1 takes what one read returns as one command (ref §1.5); we frame by the size field
// (a command may come in several reads) and keep swtpm's answers for the malformed cases: bytes
// beyond the size field in the same read, a size outside 10..buffer, or a body that stops coming
// all get the TPM's command-size error. After an answered error the rest of the read is
// discarded and the next read starts a new command.
void Server::serve_data_readable() {
  ssize_t n = ::read(data_client_, in_.get(), kIoBytes);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close_data_client(true);
    return;
  }
  size_t off = 0;
  const size_t total = static_cast<size_t>(n);
  while (off < total && data_client_ >= 0 && !exiting()) {
    off += framer_.feed(in_.get() + off, total - off);
    if (framer_.status() == FrameStatus::NeedMore) break;
    if (framer_.status() == FrameStatus::Error) {
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
    run_tpm_command();
    framer_.reset();
  }
  if (framer_.header_complete()) data_deadline_ms_ = now_ms() + kDataQuietMs;
  else if (framer_.in_progress()) data_deadline_ms_ = now_ms() + kDataStallMs;
  else data_deadline_ms_ = -1;
}

void Server::answer_size_error() {
  uint8_t out[16];
  send_tpm_response(out, tpm_error_response(out, sizeof out, core_.version(), FrameError::SizeTooLarge),
                    framer_.mssim());
}

int Server::run() {
  core_.start();
  sync_buffer_size();
  while (!exiting() && !g_terminate) {
    pollfd fds[2];
    int nfds = 0;
    int ctrl_idx = -1, data_idx = -1;
    int ctrl_fd = ctrl_client_ >= 0 ? ctrl_client_ : ctrl_listen_;
    int data_fd = data_client_ >= 0 ? data_client_ : data_listen_;
    if (ctrl_fd >= 0) { ctrl_idx = nfds; fds[nfds++] = {ctrl_fd, POLLIN, 0}; }
    if (data_fd >= 0) { data_idx = nfds; fds[nfds++] = {data_fd, POLLIN, 0}; }
    if (nfds == 0) {
      log_.error("vtpmd: no channel left to serve");
      exit_code_ = 1;
      break;
    }
    // Until the earliest deadline (0 if it has passed), or without end when there is none.
    int64_t now = now_ms();
    int timeout = -1;
    for (int64_t d : {ctrl_deadline_ms_, data_deadline_ms_}) {
      if (d < 0) continue;
      int left = static_cast<int>(std::max<int64_t>(d - now, 0));
      timeout = timeout < 0 ? left : std::min(timeout, left);
    }
    if (core_.has_idle_work() && ::poll(fds, static_cast<nfds_t>(nfds), 0) == 0) core_.on_idle();
    const bool quiet_work = core_.has_quiet_work();
    if (quiet_work) timeout = timeout < 0 ? instance::InstanceCore::kQuietMs : std::min(timeout, instance::InstanceCore::kQuietMs);
    timespec ts{timeout / 1000, (timeout % 1000) * 1000000L};
    int pr = ::ppoll(fds, static_cast<nfds_t>(nfds), timeout < 0 ? nullptr : &ts, &wait_mask_);
    if (pr == 0 && quiet_work) core_.on_quiet();  // nothing came for up to kQuietMs
    if (pr < 0) {
      if (errno == EINTR) continue;
      log_.error("vtpmd: poll: %s", std::strerror(errno));
      exit_code_ = 1;
      break;
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
        ctrl_client_ = accept_client(ctrl_listen_, err);
      }
    }
    if (exiting()) break;
    if (data_idx >= 0 && (fds[data_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (data_client_ >= 0 && fds[data_idx].fd == data_client_) {
        serve_data_readable();
      } else if (data_listen_ >= 0 && data_client_ < 0) {
        std::string err;
        data_client_ = accept_client(data_listen_, err);
        framer_.reset();
      }
    }
  }
  core_.finish();
  cleanup_files();
  if (g_terminate) return 0;
  return core_.exit_requested() ? core_.exit_code() : exit_code_;
}

}  // namespace vtpm::transports::swtpm
