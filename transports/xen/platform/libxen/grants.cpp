// transports/xen/platform/libxen/grants.cpp: Grants over libxengnttab (backend maps) and
// libxengntshr (frontend shares) (reference §1.2). Compiled here; needs /dev/xen/gntdev and
// /dev/xen/gntalloc to run.
#include <sys/mman.h>
extern "C" {   // the libxen headers have no C++ guards
#include <xengnttab.h>
}

#include <cerrno>
#include <cstring>
#include <map>

#include "libxen.h"

namespace vtpm::xen::libxen {
namespace {

Error last_error() { return Error{errno ? errno : EIO}; }

class GnttabMapping final : public Mapping {
 public:
  GnttabMapping(xengnttab_handle* h, void* addr, size_t pages) : h_(h), addr_(addr), pages_(pages) {}
  ~GnttabMapping() override { release(); }
  uint8_t* data() override { return static_cast<uint8_t*>(addr_); }
  size_t pages() const override { return pages_; }
  Error release() override {
    if (!addr_) return kOk;
    errno = 0;
    int rc = xengnttab_unmap(h_, addr_, static_cast<uint32_t>(pages_));   // count must match
    addr_ = nullptr;
    return rc == 0 ? kOk : last_error();
  }
 private:
  xengnttab_handle* h_;
  void* addr_;
  size_t pages_;
};

// A page we share; end_access unshares it, so the Mapping only views it.
class SharedPage final : public Mapping {
 public:
  explicit SharedPage(void* addr) : addr_(addr) {}
  uint8_t* data() override { return static_cast<uint8_t*>(addr_); }
  size_t pages() const override { return 1; }
  Error release() override { return kOk; }   // end_access() unshares
 private:
  void* addr_;
};

class LibxenGrants final : public Grants {
 public:
  LibxenGrants(xengnttab_handle* gt, xengntshr_handle* gs) : gt_(gt), gs_(gs) {}
  ~LibxenGrants() override {
    for (auto& [ref, addr] : shared_) xengntshr_unshare(gs_, addr, 1);
    if (gs_) xengntshr_close(gs_);
    xengnttab_close(gt_);
  }
  Result<std::unique_ptr<Mapping>> map(DomId domid, const std::vector<GrantRef>& refs, Prot prot) override {
    if (refs.empty()) return Error{EINVAL};
    std::vector<uint32_t> r(refs.begin(), refs.end());
    errno = 0;
    void* addr = xengnttab_map_domain_grant_refs(gt_, static_cast<uint32_t>(r.size()), domid, r.data(),
                                                 prot == Prot::ReadWrite ? PROT_READ | PROT_WRITE : PROT_READ);
    if (!addr) return last_error();
    return std::unique_ptr<Mapping>(new GnttabMapping(gt_, addr, r.size()));
  }
  Result<std::unique_ptr<Mapping>> map_notify(DomId domid, GrantRef ref, Prot prot, uint32_t notify_offset,
                                              Port notify_port) override {
    errno = 0;
    void* addr = xengnttab_map_grant_ref_notify(
        gt_, domid, ref, prot == Prot::ReadWrite ? PROT_READ | PROT_WRITE : PROT_READ,
        notify_offset == kNoNotifyOffset ? static_cast<uint32_t>(-1) : notify_offset,
        notify_port == kNoNotifyPort ? static_cast<evtchn_port_t>(-1) : notify_port);
    if (!addr) return last_error();
    return std::unique_ptr<Mapping>(new GnttabMapping(gt_, addr, 1));
  }
  Error unmap(std::unique_ptr<Mapping> mapping) override {
    return mapping ? mapping->release() : Error{EINVAL};
  }
  Result<Shared> share_page(DomId peer, bool writable) override {
    if (!gs_) return Error{ENODEV};
    uint32_t ref = 0;
    errno = 0;
    void* addr = xengntshr_share_pages(gs_, peer, 1, &ref, writable ? 1 : 0);
    if (!addr) return last_error();
    std::memset(addr, 0, kPageSize);
    shared_[ref] = addr;
    return Shared{ref, std::unique_ptr<Mapping>(new SharedPage(addr))};
  }
  Error end_access(GrantRef ref) override {
    auto it = shared_.find(ref);
    if (it == shared_.end()) return Error{ENOENT};
    errno = 0;
    if (xengntshr_unshare(gs_, it->second, 1) != 0) return last_error();
    shared_.erase(it);
    return kOk;
  }
 private:
  xengnttab_handle* gt_;
  xengntshr_handle* gs_;
  std::map<GrantRef, void*> shared_;
};

}  // namespace

Result<std::unique_ptr<Grants>> open_grants() {
  errno = 0;
  xengnttab_handle* gt = xengnttab_open(nullptr, 0);
  if (!gt) return last_error();
  xengntshr_handle* gs = xengntshr_open(nullptr, 0);   // absent gntalloc: frontend side unavailable
  return std::unique_ptr<Grants>(new LibxenGrants(gt, gs));
}

}  // namespace vtpm::xen::libxen
