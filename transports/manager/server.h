// vtpm-manager's unix socket server: accepts instances and vtpmctl on one socket, takes each
// peer's credentials from the kernel (SO_PEERCRED), reassembles whole messages (the 10-byte
// vtpmmgr header's paramSize, runtime/manager/protocol.h) and hands them to the manager core.
// One thread, one poll loop; SIGTERM/SIGINT end it cleanly (signalfd).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vtpm::transports::manager {

struct Peer {
  uint64_t connection;  // unique for the server's lifetime
  uid_t uid;
  gid_t gid;
  pid_t pid;
};

// What the server drives. `message` gets one whole message (framing checked: paramSize within
// [10, max]); `reply` empty = no answer. A peer that sends a bad frame is dropped after the
// core's error answer; others are unaffected.
class ServerHandler {
 public:
  virtual void message(const Peer& peer, const uint8_t* msg, size_t len, std::vector<uint8_t>& reply) = 0;
  // A frame the codec refused before any ordinal could be read: the answer to send, then close.
  virtual void bad_frame(const Peer& peer, uint32_t error, std::vector<uint8_t>& reply) = 0;
  virtual void closed(const Peer& peer) = 0;
  // Milliseconds until tick() is due (-1 = none), and the periodic work itself.
  virtual int ms_until_tick() = 0;
  virtual void tick() = 0;

 protected:
  ~ServerHandler() = default;
};

struct ServerConfig {
  std::string socket_path;
  uint32_t socket_mode = 0660;
  std::vector<uid_t> allowed_uids;  // besides root and the manager's own uid
  size_t max_connections = 1024;
  int send_timeout_ms = 2000;
};

class Server {
 public:
  Server(const ServerConfig& cfg, ServerHandler& handler) : cfg_(cfg), handler_(handler) {}
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  bool open(std::string& err);  // listens (an old socket file is replaced)
  // Serves until SIGTERM or SIGINT; returns 0, or 1 with `err` if the loop itself failed.
  int run(std::string& err);
  // For tests and the pid-file order: the listening socket exists once open() returned.
  const std::string& path() const { return cfg_.socket_path; }

 private:
  struct Conn {
    int fd;
    Peer peer;
    std::vector<uint8_t> in;
  };
  bool accept_one(std::string& err);
  bool serve(Conn& c);  // false: drop the connection

  ServerConfig cfg_;
  ServerHandler& handler_;
  int listen_fd_ = -1;
  int signal_fd_ = -1;
  uint64_t next_id_ = 1;
  std::vector<Conn> conns_;
};

}  // namespace vtpm::transports::manager
