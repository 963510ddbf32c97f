// transports/xen/tpmif/page_layout.h: the tpmif v2 shared page as bytes (xen/io/tpmif.h,
// reference/xen-userspace-backend.md §4), shared by the backend (vtpmd xen) and the frontend
// (vtpm-front). Only offsets, the state values and the ordered accessors live here; the page's
// protocol is spec/tpmif_page.fsm (TpmifPage) and its hosts. layout_check.cpp proves these
// offsets against Debian's <xen/io/tpmif.h> at compile time.
//
// Ordering (reference §4, "Ordering actually used"): a writer stores the data, then `length`,
// then `state` with release, then notifies; a reader acts only after an event and loads `state`
// with acquire before it reads `length` or the data. The peer is another domain: every field is
// read through these accessors (one load each), never through a struct cast.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vtpm::xen::tpmif {

inline constexpr size_t kPageBytes = 4096;
inline constexpr size_t kOffLength = 0;        // uint32_t, host byte order (x86: little-endian)
inline constexpr size_t kOffState = 4;         // uint8_t, PageState
inline constexpr size_t kOffLocality = 5;      // uint8_t, for the current request
inline constexpr size_t kOffPad = 6;           // uint8_t, should be zero
inline constexpr size_t kOffNrExtraPages = 7;  // uint8_t, grant refs that follow the header
inline constexpr size_t kHeaderBytes = 8;      // sizeof(struct tpmif_shared_page)
inline constexpr size_t kExtraPageRefBytes = 4;
// The largest packet of a single-page ring: 4096 - 8 = 4088 (Xen commit f494d9f3c375).
inline constexpr size_t kMaxPacket = kPageBytes - kHeaderBytes;

enum class PageState : uint8_t { Idle = 0, Submit = 1, Finish = 2, Cancel = 3 };  // TPMIF_STATE_*

// Where the packet starts for `nr_extra_pages` (struct_size(shr, extra_pages, n) in Linux).
constexpr size_t data_offset(uint8_t nr_extra_pages) {
  return kHeaderBytes + kExtraPageRefBytes * size_t{nr_extra_pages};
}

// The raw state byte (any value 0..255: a hostile peer may write anything), acquire.
inline uint8_t load_state(uint8_t* page) {
  return std::atomic_ref<uint8_t>(page[kOffState]).load(std::memory_order_acquire);
}
// Publishes `s` after everything written before it (data, length), release.
inline void store_state(uint8_t* page, PageState s) {
  std::atomic_ref<uint8_t>(page[kOffState]).store(static_cast<uint8_t>(s), std::memory_order_release);
}
// One relaxed load of each header field; call after load_state (which orders them).
inline uint32_t load_length(uint8_t* page) {
  return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(page + kOffLength))
      .load(std::memory_order_relaxed);
}
inline void store_length(uint8_t* page, uint32_t len) {
  std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(page + kOffLength))
      .store(len, std::memory_order_relaxed);
}
inline uint8_t load_u8(uint8_t* page, size_t off) {
  return std::atomic_ref<uint8_t>(page[off]).load(std::memory_order_relaxed);
}
inline void store_u8(uint8_t* page, size_t off, uint8_t v) {
  std::atomic_ref<uint8_t>(page[off]).store(v, std::memory_order_relaxed);
}

}  // namespace vtpm::xen::tpmif
