// Thin POSIX socket helpers for vtpmd's swtpm-style channels (reference/swtpm-qemu.md §1.6-1.7):
// TCP and unix listeners (backlog 1, one client at a time), accept, recvmsg with SCM_RIGHTS for
// CMD_SET_DATAFD, bounded sends and waits. Errors are values: a negative errno plus a message in
// `err` (assigned only on failure, so the success path does not allocate). Every fd we create is
// close-on-exec.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace vtpm::transports::swtpm {

// Listens on `bindaddr` (an IPv4 or IPv6 literal, "[::1]" accepted, "fe80::1%eth0" for a scoped
// link-local address) and `port` (0 = any; see bound_port) with SO_REUSEADDR and backlog 1.
// Returns the listening fd or -errno.
int listen_tcp(const std::string& bindaddr, uint16_t port, std::string& err);

// Listens on the unix socket `path`: an existing socket there is unlinked first (anything else
// there is refused), then bind, chmod to `mode` if given, listen with backlog 1. A path that does
// not fit sockaddr_un.sun_path is refused with -ENAMETOOLONG. Returns the fd or -errno.
int listen_unix(const std::string& path, std::optional<uint32_t> mode, std::string& err);

// Accepts one client (close-on-exec; non-blocking if asked). Returns the fd or -errno.
int accept_client(int listen_fd, std::string& err, bool nonblock = false);

// The local port of a bound TCP socket, or -errno.
int bound_port(int fd);

// recvmsg into buf[0..cap) with room for SCM_RIGHTS. `passed_fd` gets the first fd that came
// along (close-on-exec) or -1; any further fds are closed. Returns the byte count (0 = the peer
// closed), or -errno. On a non-socket fd (a character device) it falls back to read().
ssize_t recv_with_fd(int fd, uint8_t* buf, size_t cap, int& passed_fd, std::string& err);

// Sends `len` bytes with one SCM_RIGHTS fd (`pass_fd`, or none if < 0). For clients and tests
// (QEMU's CMD_SET_DATAFD). Returns the byte count or -errno.
ssize_t send_with_fd(int fd, const uint8_t* data, size_t len, int pass_fd, std::string& err);

// Sends all `len` bytes within `timeout_ms` (a peer that stops reading cannot block the daemon),
// without SIGPIPE; works on blocking and non-blocking sockets and on non-socket fds (those may
// block in write()). Returns true when everything was sent.
bool send_all(int fd, const uint8_t* data, size_t len, int timeout_ms, std::string& err);

// Waits up to `timeout_ms` (-1 = forever) for `fd` to be readable or hung up. Returns 1 when it
// is, 0 on timeout, -errno on error.
int wait_readable(int fd, int timeout_ms);

// CLOCK_MONOTONIC in milliseconds: the deadlines of the server and of send_all/recv.
int64_t now_ms();

}  // namespace vtpm::transports::swtpm
