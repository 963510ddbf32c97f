// transports/xen/platform/platform.h: the one narrow interface between the Xen transport
// (backend, frontend, toolstack step) and the platform: xenstore, grant tables, event channels.
// Two implementations: libxen/ (Debian 12's libxenstore, libxengnttab/gntshr, libxenevtchn) and
// sim/ (the same libxenstore adapter pointed at simxenstored, grants and event channels from its
// broker). No libxen type crosses this header; errors are values carrying errno (no exceptions).
// Shape: reference/xen-userspace-backend.md "Recommended design" (QEMU 8.x xen_backend_ops.h).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vtpm::xen {

using DomId = uint32_t;
using GrantRef = uint32_t;
using Port = uint32_t;   // evtchn_port_t
using TxId = uint32_t;   // xs_transaction_t; kNoTx = XBT_NULL
inline constexpr TxId kNoTx = 0;
inline constexpr size_t kPageSize = 4096;

// An errno value; 0 is success. Every call below reports failure as one of these.
struct Error {
  int code = 0;
  constexpr explicit operator bool() const { return code != 0; }
  friend constexpr bool operator==(Error, Error) = default;
};
inline constexpr Error kOk{};

// A value or an errno. `ok()` before `value()`; value() of a failed result is our bug.
template <class T>
class Result {
 public:
  Result(T v) : value_(std::move(v)) {}                   // NOLINT: implicit on purpose
  Result(Error e) : error_(e.code ? e : Error{EIO}) {}     // NOLINT: an Error{0} is still a failure
  bool ok() const { return error_.code == 0; }
  Error error() const { return error_; }
  T& value() { return value_; }
  const T& value() const { return value_; }
 private:
  T value_{};
  Error error_{};
};

// ---------------------------------------------------------------------------------------------
// xenstore. Paths are absolute ("/local/domain/1/..."); a relative path is refused (EINVAL) by
// the adapter, since socket connections' home is dom0's (reference §1.1).
enum class Perm : uint8_t { None = 0, Read = 1, Write = 2, Both = 3 };   // XS_PERM_*
struct NodePerm {
  DomId dom = 0;
  Perm perm = Perm::None;
  friend bool operator==(const NodePerm&, const NodePerm&) = default;
};
// perms[0]: owner + the default for unlisted domains; later entries: per domain (first match).
using PermList = std::vector<NodePerm>;

struct WatchEvent {
  std::string path;   // the node that changed (== the watch path for the initial firing)
  std::string token;  // the token given to watch()
};
using WatchHandle = uint64_t;   // names one (path, token) registration of this Store

enum class TxEnd { Ok, Again, Err };   // Again: restart the transaction (EAGAIN)
struct TxOutcome {
  TxEnd end = TxEnd::Err;
  Error error{};   // set when end == Err
};

class Store {
 public:
  virtual ~Store() = default;
  // Value of `path` (ENOENT if absent, EACCES without read permission).
  virtual Result<std::string> read(TxId tx, std::string_view path) = 0;
  // Sets `path` to `value`, creating it and any missing parents (with empty values).
  virtual Error write(TxId tx, std::string_view path, std::string_view value) = 0;
  // Creates `path` (and parents) empty if absent; an existing node is left as it is.
  virtual Error mkdir(TxId tx, std::string_view path) = 0;
  // Removes `path` and its children. Absent node with an existing parent: success.
  virtual Error rm(TxId tx, std::string_view path) = 0;
  // Names (not paths) of the children of `path`, in the store's order.
  virtual Result<std::vector<std::string>> directory(TxId tx, std::string_view path) = 0;
  // The caller must own the node (or be dom0); an unprivileged caller cannot change the owner.
  virtual Error set_perms(TxId tx, std::string_view path, const PermList& perms) = 0;
  virtual Result<PermList> get_perms(TxId tx, std::string_view path) = 0;
  // "/local/domain/<domid>".
  virtual Result<std::string> get_domain_path(DomId domid) = 0;

  // Registers a watch on `path` and its descendants. It fires once straight away with the watch
  // path itself, then on every create/delete/change/perms change below it (spurious firings are
  // allowed; stale ones may follow unwatch). A duplicate (path, token) gives EEXIST.
  virtual Result<WatchHandle> watch(std::string_view path, std::string_view token) = 0;
  virtual Error unwatch(WatchHandle handle) = 0;
  // Readable (POLLIN) while watch events are queued. Owned by the Store.
  virtual int fd() const = 0;
  // Every queued event, in arrival order; never blocks (loops xs_check_watch until EAGAIN).
  virtual std::vector<WatchEvent> drain() = 0;

  // A transaction: reads and writes with its id see a snapshot; changes become visible (and fire
  // watches) only when tx_end(commit=true) returns Ok. Again means another writer changed a node
  // this transaction read: start over. tx_end(abort) always discards.
  virtual Result<TxId> tx_start() = 0;
  virtual TxOutcome tx_end(TxId tx, bool commit) = 0;
};

// ---------------------------------------------------------------------------------------------
// Grant tables.
enum class Prot : uint8_t { Read = 1, ReadWrite = 3 };

// A mapping of `pages` consecutive pages; unmapped when destroyed (or by Grants::unmap).
class Mapping {
 public:
  virtual ~Mapping() = default;
  virtual uint8_t* data() = 0;       // kPageSize * pages() bytes
  virtual size_t pages() const = 0;
  size_t size() const { return pages() * kPageSize; }
  // Unmaps now and reports the error; data() is invalid afterwards, destruction does nothing.
  virtual Error release() = 0;
};

class Grants {
 public:
  virtual ~Grants() = default;
  // Backend side. Maps the pages `refs` granted by `domid` contiguously. A ReadWrite map of a
  // read-only grant gives EACCES (real Xen: EINVAL/EPERM from the hypercall, reported as is);
  // an unknown ref or domid gives ENOENT/EINVAL/ESRCH. All-or-nothing.
  virtual Result<std::unique_ptr<Mapping>> map(DomId domid, const std::vector<GrantRef>& refs,
                                               Prot prot) = 0;
  // As map() of one page, plus an unmap notification: when the mapping goes away (unmap or the
  // process dies) the byte at `notify_offset` is zeroed (if not kNoNotifyOffset) and `notify_port`
  // is signalled (if not kNoNotifyPort). Optional in the simulation (ENOSYS allowed).
  static constexpr uint32_t kNoNotifyOffset = UINT32_MAX;
  static constexpr Port kNoNotifyPort = UINT32_MAX;
  virtual Result<std::unique_ptr<Mapping>> map_notify(DomId domid, GrantRef ref, Prot prot,
                                                      uint32_t notify_offset, Port notify_port) = 0;
  // Explicit unmap (destroying the Mapping does the same; errors are then dropped).
  virtual Error unmap(std::unique_ptr<Mapping> mapping) = 0;

  // Frontend side. Shares one zeroed page with `peer` (read-only if !writable): the page's
  // memory and the grant ref the peer maps. The Mapping stays valid until end_access succeeds.
  struct Shared {
    GrantRef ref = 0;
    std::unique_ptr<Mapping> page;
  };
  virtual Result<Shared> share_page(DomId peer, bool writable) = 0;
  // Revokes the grant. EBUSY while the peer still has it mapped (retry later, as Linux defers).
  virtual Error end_access(GrantRef ref) = 0;
};

// ---------------------------------------------------------------------------------------------
// Event channels. One EventChannel per device (libxenevtchn handles are not thread-safe).
class EventChannel {
 public:
  virtual ~EventChannel() = default;
  // Backend side: binds to `remote_port` of `domid` (which must be unbound and offered to us);
  // returns the local port, which starts pending (Xen sets it on every bind).
  virtual Result<Port> bind_interdomain(DomId domid, Port remote_port) = 0;
  // Frontend side: a new port that `remote_domid` may bind to.
  virtual Result<Port> alloc_unbound(DomId remote_domid) = 0;
  // Signals the peer of `port`. A notify while the peer end is unbound is silently dropped.
  virtual Error notify(Port port) = 0;
  // Readable (POLLIN) while a port is pending. Poll it before pending().
  virtual int fd() const = 0;
  // The next pending port, or EAGAIN if none. A delivered port stays masked until unmask().
  virtual Result<Port> pending() = 0;
  virtual Error unmask(Port port) = 0;
  // Closes `port`; the peer's end returns to unbound (and may be bound again).
  virtual Error unbind(Port port) = 0;
};

// ---------------------------------------------------------------------------------------------
// One process's platform, acting as domain self(). Chooses the implementation: simulated when `sim_dir` is non-empty (or, if `sim_dir` is empty,
// when the environment has SIMXEN_DIR), real Xen otherwise. `self` is the simulated domain id
// (ignored on real Xen, where the kernel knows who we are).
struct PlatformOptions {
  std::string sim_dir;
  DomId self = 0;
};
class PlatformFactory {
 public:
  virtual ~PlatformFactory() = default;
  virtual Result<std::unique_ptr<Store>> open_store() = 0;
  virtual Result<std::unique_ptr<Grants>> open_grants() = 0;
  virtual Result<std::unique_ptr<EventChannel>> open_event_channel() = 0;
  virtual DomId self() const = 0;
  virtual bool simulated() const = 0;
};
Result<std::unique_ptr<PlatformFactory>> open_platform(const PlatformOptions& options);

}  // namespace vtpm::xen
