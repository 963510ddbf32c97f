// transports/xen/simxen/simxenstored_main.cpp: the simulated xenstored. One unix socket per
// simulated domain (DIR/xenstored.dom<N>.sock), so the store knows who calls (dom0 privileged);
// a single-threaded poll loop, non-blocking sockets, bounded buffers: a client that sends an
// oversized message (> 4096, xenstore.txt "immediately killed") or stops reading its replies is
// disconnected and nobody else waits for it. Usage: see usage() and transports/xen/README.md.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "broker_core.h"
#include "broker_wire.h"
#include "request.h"
#include "store_core.h"
#include "wire.h"

namespace {

using namespace vtpm::simxen;

constexpr size_t kOutMax = 1 << 20;   // replies + events queued for one client

struct Client {
  int fd = -1;
  DomId dom = 0;
  std::string in;
  std::string out;
};

void usage() {
  std::fprintf(stderr,
               "usage: simxenstored --dir DIR [--domains 0,1,2] [--eagain-first-commit]\n"
               "                    [--strict-conflicts] [--ready-fd N]\n"
               "Listens on DIR/xenstored.dom<N>.sock for each domain N (dom0 privileged),\n"
               "prints \"ready\" on stdout (and writes it to fd N) once every socket listens,\n"
               "and runs in the foreground until SIGTERM or SIGINT.\n");
}

bool parse_domains(const char* text, std::vector<DomId>* out) {
  out->clear();
  std::string s(text);
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (part.empty() || part.size() > 5 || part.find_first_not_of("0123456789") != std::string::npos)
      return false;
    out->push_back(static_cast<DomId>(std::stoul(part)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return !out->empty();
}

int listen_on(const std::string& path, int type = SOCK_STREAM) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    std::fprintf(stderr, "simxenstored: socket path too long (%zu bytes): %s\n", path.size(), path.c_str());
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 64) != 0) {
    std::fprintf(stderr, "simxenstored: %s: %s\n", path.c_str(), std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

// Reads what is there and answers every whole request. False: drop the client.
bool serve_input(StoreCore& core, ConnId id, Client& c, std::map<ConnId, Client>& clients) {
  char buf[8192];
  for (;;) {
    ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    c.in.append(buf, static_cast<size_t>(n));
    for (;;) {
      FrameResult f = parse_frame(c.in);
      if (f.status == Framing::Oversized) {
        std::fprintf(stderr, "simxenstored: dom%u client sent a %u-byte payload (> 4096): disconnected\n",
                     c.dom, f.header.len);
        return false;
      }
      if (f.status == Framing::NeedMore) break;
      c.out += handle_request(core, id, f.header, f.payload);
      c.in.erase(0, f.consumed);
      for (const auto& firing : core.take_firings()) {
        auto it = clients.find(firing.conn);
        if (it != clients.end()) it->second.out += encode_watch_event(firing);
      }
    }
    if (c.out.size() > kOutMax) return false;   // sends requests but does not read the replies
  }
  return true;
}

// One broker request (exactly one 16-byte SOCK_SEQPACKET message) and its reply with fds.
// False: drop the client (bad size, or it does not take its replies).
bool serve_broker(BrokerCore& broker, BrokerConn id, int fd) {
  for (;;) {
    BrokerRequest req;
    ssize_t n = recv(fd, &req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    if (static_cast<size_t>(n) != sizeof(req)) {
      std::fprintf(stderr, "simxenstored: broker client sent %zd bytes (want 16): disconnected\n", n);
      return false;
    }
    BrokerResult res = broker.handle(id, req);
    std::vector<int> fds = res.fds;
    fds.insert(fds.end(), res.owned.begin(), res.owned.end());
    msghdr msg{};
    iovec iov{&res.reply, sizeof(res.reply)};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
    if (!fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
      cmsghdr* cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
      std::memcpy(CMSG_DATA(cm), fds.data(), fds.size() * sizeof(int));
    }
    ssize_t sent = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    for (int o : res.owned) close(o);
    if (sent != static_cast<ssize_t>(sizeof(res.reply))) return false;
  }
}

bool flush(Client& c) {
  while (!c.out.empty()) {
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
  return c.out.size() <= kOutMax;   // a client that does not read is dropped
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int ready_fd = -1;
  StoreOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--domains" && i + 1 < argc) {
      if (!parse_domains(argv[++i], &options.domains)) {
        std::fprintf(stderr, "simxenstored: --domains wants a list like 0,1,2; got '%s'\n", argv[i]);
        return 2;
      }
    } else if (a == "--eagain-first-commit") {
      options.eagain_first_commit = true;
    } else if (a == "--strict-conflicts") {
      options.strict_conflicts = true;
    } else if (a == "--ready-fd" && i + 1 < argc) {
      ready_fd = std::atoi(argv[++i]);
    } else if (a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "simxenstored: unknown argument '%s'\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (dir.empty()) {
    usage();
    return 2;
  }
  bool has_dom0 = false;
  for (DomId d : options.domains) has_dom0 |= d == 0;
  if (!has_dom0) options.domains.insert(options.domains.begin(), 0);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  std::vector<std::pair<int, DomId>> listeners;
  std::vector<std::string> paths;
  for (DomId d : options.domains) {
    std::string path = dir + "/xenstored.dom" + std::to_string(d) + ".sock";
    int fd = listen_on(path);
    if (fd < 0) return 1;
    listeners.emplace_back(fd, d);
    paths.push_back(path);
  }
  std::vector<std::pair<int, DomId>> broker_listeners;
  for (DomId d : options.domains) {
    std::string path = dir + "/broker.dom" + std::to_string(d) + ".sock";
    int fd = listen_on(path, SOCK_SEQPACKET);
    if (fd < 0) return 1;
    broker_listeners.emplace_back(fd, d);
    paths.push_back(path);
  }
  StoreCore core(options);
  BrokerCore broker(options.domains);
  std::map<BrokerConn, int> broker_clients;   // id -> fd
  for (const auto& p : paths) std::printf("simxenstored: listening %s\n", p.c_str());
  std::printf("ready\n");
  std::fflush(stdout);
  if (ready_fd >= 0) {
    ssize_t ignored = write(ready_fd, "ready\n", 6);
    (void)ignored;
    close(ready_fd);
  }

  std::map<ConnId, Client> clients;
  ConnId next_id = 1;
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({sig_fd, POLLIN, 0});
    for (auto [fd, dom] : listeners) fds.push_back({fd, POLLIN, 0});
    for (auto [fd, dom] : broker_listeners) fds.push_back({fd, POLLIN, 0});
    std::vector<BrokerConn> broker_ids;
    for (auto& [id, fd] : broker_clients) {
      fds.push_back({fd, POLLIN, 0});
      broker_ids.push_back(id);
    }
    size_t first_client = fds.size();
    std::vector<ConnId> ids;
    for (auto& [id, c] : clients) {
      fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
      ids.push_back(id);
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) break;   // SIGTERM / SIGINT
    for (size_t i = 0; i < listeners.size(); ++i) {
      if (!(fds[1 + i].revents & POLLIN)) continue;
      int cfd = accept4(listeners[i].first, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (cfd < 0) continue;
      ConnId id = next_id++;
      clients[id] = Client{cfd, listeners[i].second, {}, {}};
      core.connect(id, listeners[i].second);
    }
    size_t base = 1 + listeners.size();
    for (size_t i = 0; i < broker_listeners.size(); ++i) {
      if (!(fds[base + i].revents & POLLIN)) continue;
      int cfd = accept4(broker_listeners[i].first, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (cfd < 0) continue;
      BrokerConn id = next_id++;
      broker_clients[id] = cfd;
      broker.connect(id, broker_listeners[i].second);
    }
    base += broker_listeners.size();
    // Hung-up clients first: a process that died before another's request was sent has released
    // its ports and maps by the time that request is handled (causal order, as in Xen).
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t k = 0; k < broker_ids.size(); ++k) {
        short ev = fds[base + k].revents;
        bool hup = ev & (POLLHUP | POLLERR);
        if (!ev || hup != (pass == 0)) continue;
        int cfd = broker_clients[broker_ids[k]];
        if (!serve_broker(broker, broker_ids[k], cfd) || hup) {
          close(cfd);
          broker.disconnect(broker_ids[k]);
          broker_clients.erase(broker_ids[k]);
        }
      }
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      auto it = clients.find(ids[k]);
      if (it == clients.end()) continue;
      short ev = fds[first_client + k].revents;
      bool keep = true;
      if (ev & (POLLIN | POLLHUP | POLLERR)) keep = serve_input(core, ids[k], it->second, clients);
      if (keep) keep = flush(it->second);
      if (!keep) {
        close(it->second.fd);
        core.disconnect(ids[k]);
        clients.erase(it);
      }
    }
    // Events queued for clients that were not polled for output this round.
    for (auto it = clients.begin(); it != clients.end();) {
      if (!it->second.out.empty() && !flush(it->second)) {
        close(it->second.fd);
        core.disconnect(it->first);
        it = clients.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [id, c] : clients) close(c.fd);
  for (auto& [id, fd] : broker_clients) close(fd);
  for (const auto& p : paths) unlink(p.c_str());
  return 0;
}
