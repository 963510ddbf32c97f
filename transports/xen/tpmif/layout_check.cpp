// transports/xen/tpmif/layout_check.cpp: the compile-time check of page_layout.h against
// Debian's <xen/io/tpmif.h> (package libxen-dev), as the issue asks: if either drifts, the
// build fails here. Nothing in it runs.
#include <stddef.h>
#include <stdint.h>   // the Xen public headers use the global uint*_t without including it

#include <xen/xen.h>
#include <xen/io/tpmif.h>

#include "transports/xen/tpmif/page_layout.h"

namespace vtpm::xen::tpmif {

static_assert(sizeof(struct tpmif_shared_page) == kHeaderBytes, "tpmif_shared_page header size");
static_assert(offsetof(struct tpmif_shared_page, length) == kOffLength, "length offset");
static_assert(offsetof(struct tpmif_shared_page, state) == kOffState, "state offset");
static_assert(offsetof(struct tpmif_shared_page, locality) == kOffLocality, "locality offset");
static_assert(offsetof(struct tpmif_shared_page, pad) == kOffPad, "pad offset");
static_assert(offsetof(struct tpmif_shared_page, nr_extra_pages) == kOffNrExtraPages, "nr_extra_pages offset");
static_assert(offsetof(struct tpmif_shared_page, extra_pages) == kHeaderBytes, "extra_pages offset");
static_assert(sizeof(((struct tpmif_shared_page*)nullptr)->length) == 4, "length is 32 bits");
static_assert(sizeof(((struct tpmif_shared_page*)nullptr)->extra_pages[0]) == kExtraPageRefBytes,
              "a grant ref is 32 bits");
static_assert(TPMIF_STATE_IDLE == static_cast<int>(PageState::Idle), "IDLE");
static_assert(TPMIF_STATE_SUBMIT == static_cast<int>(PageState::Submit), "SUBMIT");
static_assert(TPMIF_STATE_FINISH == static_cast<int>(PageState::Finish), "FINISH");
static_assert(TPMIF_STATE_CANCEL == static_cast<int>(PageState::Cancel), "CANCEL");
static_assert(data_offset(0) == 8 && data_offset(255) == 8 + 4 * 255, "data offset");

}  // namespace vtpm::xen::tpmif
