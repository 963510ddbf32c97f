// transports/xen/platform/libxen/store.cpp: Store over libxenstore (xen:tools/include/xenstore.h).
// Absolute paths only; xs_check_watch looped until EAGAIN (reference §1.1, §6.12); results are
// malloc'ed by the library and freed here.
extern "C" {   // the libxen headers have no C++ guards
#include <xenstore.h>
}

#include <cerrno>
#include <cstdlib>
#include <map>
#include <utility>

#include "libxen.h"

namespace vtpm::xen::libxen {
namespace {

Error last_error() { return Error{errno ? errno : EIO}; }

bool absolute(std::string_view path) { return !path.empty() && path[0] == '/'; }

class LibxenStore final : public Store {
 public:
  explicit LibxenStore(xs_handle* h) : h_(h), fd_(xs_fileno(h)) {}
  ~LibxenStore() override { xs_close(h_); }

  Result<std::string> read(TxId tx, std::string_view path) override {
    if (!absolute(path)) return Error{EINVAL};
    std::string p(path);
    unsigned int len = 0;
    errno = 0;
    void* v = xs_read(h_, tx, p.c_str(), &len);
    if (!v) return last_error();
    std::string out(static_cast<char*>(v), len);
    free(v);
    return out;
  }
  Error write(TxId tx, std::string_view path, std::string_view value) override {
    if (!absolute(path)) return Error{EINVAL};
    std::string p(path);
    errno = 0;
    if (!xs_write(h_, tx, p.c_str(), value.data(), static_cast<unsigned>(value.size()))) return last_error();
    return kOk;
  }
  Error mkdir(TxId tx, std::string_view path) override {
    if (!absolute(path)) return Error{EINVAL};
    std::string p(path);
    errno = 0;
    return xs_mkdir(h_, tx, p.c_str()) ? kOk : last_error();
  }
  Error rm(TxId tx, std::string_view path) override {
    if (!absolute(path)) return Error{EINVAL};
    std::string p(path);
    errno = 0;
    return xs_rm(h_, tx, p.c_str()) ? kOk : last_error();
  }
  Result<std::vector<std::string>> directory(TxId tx, std::string_view path) override {
    if (!absolute(path)) return Error{EINVAL};
    std::string p(path);
    unsigned int num = 0;
    errno = 0;
    char** names = xs_directory(h_, tx, p.c_str(), &num);
    if (!names) return last_error();
    std::vector<std::string> out(names, names + num);
    free(names);
    return out;
  }
  Error set_perms(TxId tx, std::string_view path, const PermList& perms) override {
    if (!absolute(path) || perms.empty()) return Error{EINVAL};
    std::string p(path);
    std::vector<xs_permissions> raw;
    for (const auto& x : perms)
      raw.push_back({x.dom, static_cast<unsigned>(x.perm)});
    errno = 0;
    return xs_set_permissions(h_, tx, p.c_str(), raw.data(), static_cast<unsigned>(raw.size()))
               ? kOk : last_error();
  }
  Result<PermList> get_perms(TxId tx, std::string_view path) override {
    if (!absolute(path)) return Error{EINVAL};
    std::string p(path);
    unsigned int num = 0;
    errno = 0;
    xs_permissions* raw = xs_get_permissions(h_, tx, p.c_str(), &num);
    if (!raw) return last_error();
    PermList out;
    for (unsigned i = 0; i < num; ++i)
      out.push_back({raw[i].id, static_cast<Perm>(raw[i].perms & (XS_PERM_READ | XS_PERM_WRITE))});
    free(raw);
    return out;
  }
  Result<std::string> get_domain_path(DomId domid) override {
    errno = 0;
    char* p = xs_get_domain_path(h_, domid);
    if (!p) return last_error();
    std::string out(p);
    free(p);
    return out;
  }
  Result<WatchHandle> watch(std::string_view path, std::string_view token) override {
    if (!absolute(path) && (path.empty() || path[0] != '@')) return Error{EINVAL};
    std::string p(path), t(token);
    errno = 0;
    if (!xs_watch(h_, p.c_str(), t.c_str())) return last_error();
    WatchHandle handle = next_++;
    watches_.emplace(handle, std::make_pair(p, t));
    return handle;
  }
  Error unwatch(WatchHandle handle) override {
    auto it = watches_.find(handle);
    if (it == watches_.end()) return Error{ENOENT};
    errno = 0;
    bool ok = xs_unwatch(h_, it->second.first.c_str(), it->second.second.c_str());
    watches_.erase(it);
    return ok ? kOk : last_error();
  }
  int fd() const override { return fd_; }
  std::vector<WatchEvent> drain() override {
    std::vector<WatchEvent> out;
    // "repeatedly call xs_check_watch until it returns NULL and sets errno to EAGAIN".
    for (;;) {
      char** ev = xs_check_watch(h_);
      if (!ev) break;
      out.push_back({ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]});
      free(ev);
    }
    return out;
  }
  Result<TxId> tx_start() override {
    errno = 0;
    xs_transaction_t t = xs_transaction_start(h_);
    if (t == XBT_NULL) return last_error();
    return TxId{t};
  }
  TxOutcome tx_end(TxId tx, bool commit) override {
    errno = 0;
    if (xs_transaction_end(h_, tx, !commit)) return {TxEnd::Ok, kOk};
    if (errno == EAGAIN) return {TxEnd::Again, Error{EAGAIN}};
    return {TxEnd::Err, last_error()};
  }

 private:
  xs_handle* h_;
  int fd_;
  WatchHandle next_ = 1;
  std::map<WatchHandle, std::pair<std::string, std::string>> watches_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_store() {
  errno = 0;
  xs_handle* h = xs_open(0);
  if (!h) return last_error();
  return std::unique_ptr<Store>(new LibxenStore(h));
}

}  // namespace vtpm::xen::libxen
