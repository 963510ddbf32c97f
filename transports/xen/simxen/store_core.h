// transports/xen/simxen/store_core.h: simxenstored's sans-I/O store: the node tree with
// per-node permissions, watches, transactions and quotas, with C xenstored 4.17's rules
// (reference/xen-userspace-backend.md §5.4): path syntax and lengths, WRITE creates parents,
// perms (owner, first match, inherit on create, unprivileged creators own), watches (fire at
// registration, on create/delete/change/perms of a path or descendant, EEXIST, 128 limit,
// transactional changes fire on commit), transactions conflicting on the generation of nodes they
// read, quotas for unprivileged domains. Callers are connections of a domain; dom0 is privileged.
// Every call returns an errno (0 = success). Unit-tested in store_core_test.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "wire.h"

namespace vtpm::simxen {

using ConnId = uint64_t;
using DomId = uint32_t;

struct StoreOptions {
  bool eagain_first_commit = false;   // per connection, every other commit fails with EAGAIN:
                                      // the first attempt of each retry loop fails, the retry passes
  bool strict_conflicts = false;      // a commit fails (EAGAIN) every other open transaction
  std::vector<DomId> domains{0};      // /local/domain/<N> created, owned by N
};

// C xenstored 4.17 quotas for unprivileged domains (xenstored_core.c:105-114).
struct Quotas {
  size_t nodes = 1000, watches = 128, transactions = 10, perms = 5, tx_nodes = 1024,
         node_size = 2048;
};

struct WatchFiring {
  ConnId conn = 0;
  std::string path;
  std::string token;
};

class StoreCore {
 public:
  explicit StoreCore(StoreOptions options);

  void connect(ConnId conn, DomId dom);
  void disconnect(ConnId conn);   // aborts its transactions, drops its watches

  int read(ConnId c, uint32_t tx, std::string_view path, std::string* value);
  int write(ConnId c, uint32_t tx, std::string_view path, std::string_view value);
  int mkdir(ConnId c, uint32_t tx, std::string_view path);
  int rm(ConnId c, uint32_t tx, std::string_view path);
  int directory(ConnId c, uint32_t tx, std::string_view path, std::vector<std::string>* names);
  int get_perms(ConnId c, uint32_t tx, std::string_view path, std::vector<WirePerm>* perms);
  int set_perms(ConnId c, uint32_t tx, std::string_view path, const std::vector<WirePerm>& perms);
  int watch(ConnId c, std::string_view path, std::string_view token);
  int unwatch(ConnId c, std::string_view path, std::string_view token);
  int reset_watches(ConnId c);
  int tx_start(ConnId c, uint32_t* tx);
  int tx_end(ConnId c, uint32_t tx, bool commit);

  // Watch events produced since the last call, in order.
  std::vector<WatchFiring> take_firings();

  Quotas quotas;

 private:
  struct Node {
    std::string value;
    std::vector<WirePerm> perms;   // [0] = owner + default
    uint64_t gen = 0;
  };
  using Tree = std::map<std::string, Node, std::less<>>;
  struct Tx {
    ConnId conn = 0;
    Tree tree;
    std::map<std::string, uint64_t> reads;   // path -> generation seen (0: absent)
    std::set<std::string> changed;
    std::vector<std::pair<std::string, bool>> fires;   // (path, subtree removed)
    bool conflicted = false;
  };
  struct Watch {
    std::string path;    // canonical absolute, or "@..."
    std::string token;
    bool relative = false;
  };
  struct Conn {
    DomId dom = 0;
    std::vector<Watch> watches;
    size_t transactions = 0;
    bool fail_next_commit = true;
  };

  bool privileged(ConnId c) const;
  int canonical(ConnId c, std::string_view in, std::string* out) const;
  int tree_for(ConnId c, uint32_t tx, Tree** tree, Tx** txp);
  uint8_t perm_for(ConnId c, const Node& n) const;
  int access(ConnId c, Tree& t, const std::string& path, uint8_t want, Node** node);
  int from_parents(ConnId c, Tree& t, const std::string& path, uint8_t want);
  void note_read(Tx* tx, Tree& t, const std::string& path);
  int read_node(ConnId c, uint32_t txid, std::string_view in, Tree** tree, Node** node,
                std::string* path);
  int create(ConnId c, Tree& t, Tx* tx, const std::string& path, std::string_view value);
  void changed(Tree& t, Tx* tx, const std::string& path, bool subtree_removed, bool notify);
  void fire(const std::string& path, bool subtree_removed);
  size_t owned_by(DomId dom) const;
  size_t record_size(const Tree& t, const std::string& path, const Node& n) const;
  std::vector<std::string> children(const Tree& t, const std::string& path) const;

  StoreOptions options_;
  Tree tree_;
  std::map<uint32_t, Tx> txs_;
  std::map<ConnId, Conn> conns_;
  std::vector<WatchFiring> firings_;
  uint64_t gen_ = 0;
  uint32_t next_tx_ = 1;
};

// Path rules (§5.4.1): absolute ≤ 3072 bytes, relative ≤ 2048, chars [A-Za-z0-9-/_@], no "//",
// no trailing "/" except the root; "@" names only as watch paths.
bool valid_path(std::string_view path, bool allow_special);

}  // namespace vtpm::simxen
