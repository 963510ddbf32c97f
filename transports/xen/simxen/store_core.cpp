// transports/xen/simxen/store_core.cpp: see store_core.h. The rules cite C xenstored 4.17
// (xenstored_core.c, xenstored_watch.c, xenstored_transaction.c) as summarised in
// reference/xen-userspace-backend.md §5.4.
#include "store_core.h"

#include <cerrno>

namespace vtpm::simxen {
namespace {

constexpr uint8_t kRead = 1, kWrite = 2, kBoth = 3;

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

bool is_below(std::string_view path, std::string_view ancestor) {   // path == or under ancestor
  if (ancestor == "/") return true;
  return path.size() >= ancestor.size() && path.substr(0, ancestor.size()) == ancestor &&
         (path.size() == ancestor.size() || path[ancestor.size()] == '/');
}

}  // namespace

bool valid_path(std::string_view path, bool allow_special) {
  if (path.empty()) return false;
  if (path[0] == '@') {
    if (!allow_special) return false;
  }
  bool absolute = path[0] == '/';
  if (path.size() > (absolute ? 3072u : 2048u)) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '/' || c == '_' || c == '@';
    if (!ok) return false;
    if (c == '/' && i + 1 < path.size() && path[i + 1] == '/') return false;
  }
  if (path.size() > 1 && path.back() == '/') return false;
  return true;
}

StoreCore::StoreCore(StoreOptions options) : options_(std::move(options)) {
  tree_["/"] = Node{"", {{0, 0}}, ++gen_};
  tree_["/local"] = Node{"", {{0, 0}}, ++gen_};
  tree_["/local/domain"] = Node{"", {{0, 0}}, ++gen_};
  for (DomId d : options_.domains)
    tree_["/local/domain/" + std::to_string(d)] = Node{"", {{d, 0}}, ++gen_};
}

void StoreCore::connect(ConnId conn, DomId dom) { conns_[conn] = Conn{dom, {}, 0, true}; }

void StoreCore::disconnect(ConnId conn) {
  for (auto it = txs_.begin(); it != txs_.end();)
    it = it->second.conn == conn ? txs_.erase(it) : std::next(it);
  conns_.erase(conn);
  std::vector<WatchFiring> kept;
  for (auto& f : firings_)
    if (f.conn != conn) kept.push_back(std::move(f));
  firings_ = std::move(kept);
}

bool StoreCore::privileged(ConnId c) const {
  auto it = conns_.find(c);
  return it != conns_.end() && it->second.dom == 0;
}

int StoreCore::canonical(ConnId c, std::string_view in, std::string* out) const {
  if (!valid_path(in, false)) return EINVAL;
  if (in[0] == '/') {
    *out = std::string(in);
    return 0;
  }
  // Relative paths are relative to the connection's home (xenstored_core.c: canonicalize).
  *out = "/local/domain/" + std::to_string(conns_.at(c).dom) + "/" + std::string(in);
  return valid_path(*out, false) ? 0 : EINVAL;
}

int StoreCore::tree_for(ConnId c, uint32_t tx, Tree** tree, Tx** txp) {
  *txp = nullptr;
  if (tx == 0) {
    *tree = &tree_;
    return 0;
  }
  auto it = txs_.find(tx);
  if (it == txs_.end() || it->second.conn != c) return ENOENT;
  *txp = &it->second;
  *tree = &it->second.tree;
  return 0;
}

uint8_t StoreCore::perm_for(ConnId c, const Node& n) const {
  DomId dom = conns_.at(c).dom;
  if (dom == 0 || n.perms[0].dom == dom) return kBoth;
  for (size_t i = 1; i < n.perms.size(); ++i)
    if (n.perms[i].dom == dom) return n.perms[i].bits;
  return n.perms[0].bits;
}

// A missing node: ENOENT if the nearest existing ancestor grants `want`, else EACCES
// (xenstored_core.c: errno_from_parents).
int StoreCore::from_parents(ConnId c, Tree& t, const std::string& path, uint8_t want) {
  std::string p = path;
  while (p != "/") {
    p = parent_of(p);
    auto it = t.find(p);
    if (it != t.end()) return (perm_for(c, it->second) & want) == want ? ENOENT : EACCES;
  }
  return ENOENT;
}

int StoreCore::access(ConnId c, Tree& t, const std::string& path, uint8_t want, Node** node) {
  auto it = t.find(path);
  if (it == t.end()) return from_parents(c, t, path, want);
  if ((perm_for(c, it->second) & want) != want) return EACCES;
  *node = &it->second;
  return 0;
}

void StoreCore::note_read(Tx* tx, Tree& t, const std::string& path) {
  if (!tx || tx->changed.count(path) || tx->reads.count(path)) return;
  auto it = t.find(path);
  tx->reads[path] = it == t.end() ? 0 : it->second.gen;
}

std::vector<std::string> StoreCore::children(const Tree& t, const std::string& path) const {
  std::vector<std::string> out;
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = t.lower_bound(prefix); it != t.end(); ++it) {
    const std::string& k = it->first;
    if (k.compare(0, prefix.size(), prefix) != 0) break;
    if (k.size() == prefix.size()) continue;
    std::string rest = k.substr(prefix.size());
    if (rest.find('/') == std::string::npos) out.push_back(rest);
  }
  return out;
}

size_t StoreCore::record_size(const Tree& t, const std::string& path, const Node& n) const {
  size_t size = 24 + 8 * n.perms.size() + n.value.size();
  for (const auto& child : children(t, path)) size += child.size() + 1;
  return size;
}

size_t StoreCore::owned_by(DomId dom) const {
  size_t count = 0;
  for (const auto& [path, node] : tree_)
    if (node.perms[0].dom == dom) ++count;
  return count;
}

// Bumps the node's generation (or marks it changed in the transaction) and, with `notify`,
// fires the watches. C xenstored fires once per request, for the node the request named
// (do_write, do_mkdir, do_rm, do_set_perms); created parents and rewritten child lists don't fire.
void StoreCore::changed(Tree& t, Tx* tx, const std::string& path, bool subtree_removed, bool notify) {
  auto it = t.find(path);
  if (it != t.end()) it->second.gen = tx ? 0 : ++gen_;
  if (tx) {
    tx->changed.insert(path);
    if (notify) tx->fires.emplace_back(path, subtree_removed);
  } else if (notify) {
    fire(path, subtree_removed);
  }
}

int StoreCore::create(ConnId c, Tree& t, Tx* tx, const std::string& path, std::string_view value) {
  // Missing ancestors first, each inheriting its parent's perms; unprivileged creators own them.
  std::vector<std::string> missing;
  for (std::string p = path; !t.count(p); p = parent_of(p)) missing.push_back(p);
  const std::string& existing = missing.empty() ? path : parent_of(missing.back());
  Node* anc = nullptr;
  if (int err = access(c, t, existing, kWrite, &anc)) return err;
  DomId dom = conns_.at(c).dom;
  if (!privileged(c) && owned_by(dom) + missing.size() > quotas.nodes) return ENOSPC;
  if (tx && !privileged(c) && tx->changed.size() + missing.size() > quotas.tx_nodes) return ENOSPC;
  std::vector<WirePerm> perms = anc->perms;
  if (!privileged(c)) perms[0].dom = dom;
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    t[*it] = Node{*it == path ? std::string(value) : std::string(), perms, 0};
    changed(t, tx, *it, false, *it == path);
    changed(t, tx, parent_of(*it), false, false);   // its child list changed (C: parent rewritten)
  }
  return 0;
}

// The shared start of every read-only request: the canonical path, the tree of the connection
// or its transaction, the read noted for the transaction's conflict check, and read access.
int StoreCore::read_node(ConnId c, uint32_t txid, std::string_view in, Tree** tree, Node** node,
                         std::string* path) {
  Tx* tx;
  if (int err = canonical(c, in, path)) return err;
  if (int err = tree_for(c, txid, tree, &tx)) return err;
  note_read(tx, **tree, *path);
  return access(c, **tree, *path, kRead, node);
}

int StoreCore::read(ConnId c, uint32_t txid, std::string_view in, std::string* value) {
  std::string path;
  Tree* t;
  Node* n = nullptr;
  if (int err = read_node(c, txid, in, &t, &n, &path)) return err;
  *value = n->value;
  return 0;
}

int StoreCore::write(ConnId c, uint32_t txid, std::string_view in, std::string_view value) {
  std::string path;
  Tree* t;
  Tx* tx;
  if (int err = canonical(c, in, &path)) return err;
  if (int err = tree_for(c, txid, &t, &tx)) return err;
  auto it = t->find(path);
  if (it == t->end()) {
    if (!privileged(c) && 24 + 8 + value.size() > quotas.node_size) return ENOSPC;
    return create(c, *t, tx, path, value);
  }
  Node* n = nullptr;
  if (int err = access(c, *t, path, kWrite, &n)) return err;
  if (!privileged(c) && record_size(*t, path, *n) - n->value.size() + value.size() > quotas.node_size)
    return ENOSPC;
  if (tx && !privileged(c) && !tx->changed.count(path) && tx->changed.size() >= quotas.tx_nodes)
    return ENOSPC;
  n->value = std::string(value);
  changed(*t, tx, path, false, true);
  return 0;
}

int StoreCore::mkdir(ConnId c, uint32_t txid, std::string_view in) {
  std::string path;
  Tree* t;
  Tx* tx;
  if (int err = canonical(c, in, &path)) return err;
  if (int err = tree_for(c, txid, &t, &tx)) return err;
  if (t->count(path)) {
    Node* n = nullptr;
    note_read(tx, *t, path);
    return access(c, *t, path, kRead, &n);
  }
  return create(c, *t, tx, path, "");
}

int StoreCore::rm(ConnId c, uint32_t txid, std::string_view in) {
  std::string path;
  Tree* t;
  Tx* tx;
  if (int err = canonical(c, in, &path)) return err;
  if (path == "/") return EINVAL;
  if (int err = tree_for(c, txid, &t, &tx)) return err;
  Node* n = nullptr;
  if (int err = access(c, *t, path, kWrite, &n)) {
    // A missing node under an existing parent is not an error (docs/misc/xenstore.txt).
    if (err == ENOENT && t->count(parent_of(path))) return 0;
    return err;
  }
  std::string prefix = path + "/";
  for (auto it = t->lower_bound(prefix); it != t->end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    if (tx) tx->changed.insert(it->first);
    it = t->erase(it);
  }
  t->erase(path);
  changed(*t, tx, path, true, true);
  changed(*t, tx, parent_of(path), false, false);
  return 0;
}

int StoreCore::directory(ConnId c, uint32_t txid, std::string_view in, std::vector<std::string>* names) {
  std::string path;
  Tree* t;
  Node* n = nullptr;
  if (int err = read_node(c, txid, in, &t, &n, &path)) return err;
  *names = children(*t, path);
  return 0;
}

int StoreCore::get_perms(ConnId c, uint32_t txid, std::string_view in, std::vector<WirePerm>* perms) {
  std::string path;
  Tree* t;
  Node* n = nullptr;
  if (int err = read_node(c, txid, in, &t, &n, &path)) return err;
  *perms = n->perms;
  return 0;
}

int StoreCore::set_perms(ConnId c, uint32_t txid, std::string_view in, const std::vector<WirePerm>& perms) {
  std::string path;
  Tree* t;
  Tx* tx;
  if (perms.empty()) return EINVAL;
  if (int err = canonical(c, in, &path)) return err;
  if (int err = tree_for(c, txid, &t, &tx)) return err;
  if (!privileged(c) && perms.size() > quotas.perms) return ENOSPC;
  Node* n = nullptr;
  if (int err = access(c, *t, path, kWrite, &n)) return err;
  if (!privileged(c)) {
    // Only the owner may set perms, and an unprivileged owner cannot give the node away.
    if (n->perms[0].dom != conns_.at(c).dom) return EACCES;
    if (perms[0].dom != n->perms[0].dom) return EPERM;
  }
  n->perms = perms;
  changed(*t, tx, path, false, true);
  return 0;
}

int StoreCore::watch(ConnId c, std::string_view in, std::string_view token) {
  Watch w;
  w.token = std::string(token);
  if (!in.empty() && in[0] == '@') {
    if (!valid_path(in, true)) return EINVAL;
    w.path = std::string(in);
  } else {
    if (int err = canonical(c, in, &w.path)) return err;
    w.relative = in[0] != '/';
  }
  Conn& conn = conns_.at(c);
  for (const auto& x : conn.watches)
    if (x.path == w.path && x.token == w.token) return EEXIST;
  if (!privileged(c) && conn.watches.size() >= quotas.watches) return E2BIG;
  conn.watches.push_back(w);
  // "We fire once up front" (xenstored_watch.c: do_watch), with the path as registered.
  firings_.push_back({c, std::string(in), w.token});
  return 0;
}

int StoreCore::unwatch(ConnId c, std::string_view in, std::string_view token) {
  std::string path;
  if (!in.empty() && in[0] == '@') {
    path = std::string(in);
  } else if (int err = canonical(c, in, &path)) {
    return err;
  }
  auto& ws = conns_.at(c).watches;
  for (auto it = ws.begin(); it != ws.end(); ++it) {
    if (it->path == path && it->token == token) {
      ws.erase(it);
      return 0;
    }
  }
  return ENOENT;
}

int StoreCore::reset_watches(ConnId c) {
  conns_.at(c).watches.clear();
  return 0;
}

void StoreCore::fire(const std::string& path, bool subtree_removed) {
  for (auto& [id, conn] : conns_) {
    for (const auto& w : conn.watches) {
      if (w.path[0] == '@') continue;
      std::string reported;
      if (is_below(path, w.path)) {
        auto it = tree_.find(path);
        if (it != tree_.end() && !(perm_for(id, it->second) & kRead)) continue;
        reported = path;
      } else if (subtree_removed && is_below(w.path, path)) {
        reported = w.path;   // recursive removal of a parent reports <wpath>
      } else {
        continue;
      }
      if (w.relative) {
        std::string home = "/local/domain/" + std::to_string(conn.dom) + "/";
        if (reported.compare(0, home.size(), home) == 0) reported = reported.substr(home.size());
      }
      firings_.push_back({id, reported, w.token});
    }
  }
}

int StoreCore::tx_start(ConnId c, uint32_t* txid) {
  Conn& conn = conns_.at(c);
  if (!privileged(c) && conn.transactions >= quotas.transactions) return ENOSPC;
  uint32_t id = next_tx_++;
  if (next_tx_ == 0) next_tx_ = 1;
  Tx tx;
  tx.conn = c;
  tx.tree = tree_;
  txs_.emplace(id, std::move(tx));
  ++conn.transactions;
  *txid = id;
  return 0;
}

int StoreCore::tx_end(ConnId c, uint32_t txid, bool commit) {
  auto it = txs_.find(txid);
  if (it == txs_.end() || it->second.conn != c) return ENOENT;
  Tx tx = std::move(it->second);
  txs_.erase(it);
  Conn& conn = conns_.at(c);
  --conn.transactions;
  if (!commit) return 0;
  if (options_.eagain_first_commit) {
    bool fail = conn.fail_next_commit;
    conn.fail_next_commit = !fail;
    if (fail) return EAGAIN;
  }
  if (tx.conflicted) return EAGAIN;
  // xenstored_transaction.c: only the nodes the transaction read are checked.
  for (const auto& [path, gen] : tx.reads) {
    auto cur = tree_.find(path);
    if ((cur == tree_.end() ? 0 : cur->second.gen) != gen) return EAGAIN;
  }
  for (const auto& path : tx.changed) {
    auto node = tx.tree.find(path);
    if (node == tx.tree.end()) {
      tree_.erase(path);
    } else {
      node->second.gen = ++gen_;
      tree_[path] = node->second;
    }
  }
  if (options_.strict_conflicts)
    for (auto& [id, other] : txs_) other.conflicted = true;
  for (const auto& [path, removed] : tx.fires) fire(path, removed);
  return 0;
}

std::vector<WatchFiring> StoreCore::take_firings() {
  std::vector<WatchFiring> out;
  out.swap(firings_);
  return out;
}

}  // namespace vtpm::simxen
