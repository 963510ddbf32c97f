// A tpm2-tss TCTI over one connected stream socket that carries plain TPM 2.0 command and
// response bytes, as swtpm's data channel does (reference/swtpm-qemu.md §1.5): vtpm-manager's
// link to the simulated hardware TPM it starts itself (a vtpmd on one end of a socketpair), so
// that TPM is reachable by nobody else. tss2_tcti.h §4.4 of reference/manager-sealing.md.
#pragma once

#include <tss2/tss2_tcti.h>

#include <cstddef>
#include <cstdint>

namespace vtpm::transports::manager {

// The context tpm2-tss sees. It begins with the common V2 block, as every TCTI context must.
struct StreamTcti {
  TSS2_TCTI_CONTEXT_COMMON_V2 common;
  int fd;                        // owned: closed by finalize
  bool awaiting_response;        // transmit done, receive not yet completed (BAD_SEQUENCE otherwise)
  size_t have;                   // response bytes read into `response` so far
  size_t want;                   // the response's size from its header (0 = header not yet read)
  uint8_t response[8192];        // TPM2 responses are at most MAX_RESPONSE_SIZE (4096) here
};

// Fills `ctx` to use `fd` (which it then owns); `ctx` must stay where it is while tpm2-tss uses it.
void stream_tcti_init(StreamTcti& ctx, int fd);
inline TSS2_TCTI_CONTEXT* as_tcti(StreamTcti& ctx) {
  return reinterpret_cast<TSS2_TCTI_CONTEXT*>(&ctx);
}

}  // namespace vtpm::transports::manager
