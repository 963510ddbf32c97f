// The stream TCTI (stream_tcti.h): transmit writes the whole command; receive reads a response
// header, checks its size field against the buffer, then the rest, within the caller's timeout.
#include "manager/stream_tcti.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vtpm::transports::manager {
namespace {

constexpr uint64_t kMagic = 0x7674706d73747231ULL;  // "vtpmstr1"
constexpr size_t kHeader = 10;                      // tag BE16, size BE32, code BE32 (Part 1 §18)

StreamTcti* from(TSS2_TCTI_CONTEXT* c) {
  auto* ctx = reinterpret_cast<StreamTcti*>(c);
  return ctx != nullptr && ctx->common.v1.magic == kMagic ? ctx : nullptr;
}

TSS2_RC transmit(TSS2_TCTI_CONTEXT* c, size_t size, const uint8_t* command) {
  StreamTcti* ctx = from(c);
  if (ctx == nullptr) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (command == nullptr) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (ctx->awaiting_response) return TSS2_TCTI_RC_BAD_SEQUENCE;
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(ctx->fd, command + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return TSS2_TCTI_RC_IO_ERROR;
    done += static_cast<size_t>(n);
  }
  ctx->awaiting_response = true;
  ctx->have = 0;
  ctx->want = 0;
  return TSS2_RC_SUCCESS;
}

// Reads until the whole response is in ctx->response, or the timeout (ms, -1 = forever) passes.
TSS2_RC fill(StreamTcti* ctx, int32_t timeout) {
  while (ctx->want == 0 || ctx->have < ctx->want) {
    const size_t need = ctx->want == 0 ? kHeader : ctx->want;
    pollfd p{ctx->fd, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout < 0 ? -1 : timeout);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return TSS2_TCTI_RC_IO_ERROR;
    if (r == 0) return TSS2_TCTI_RC_TRY_AGAIN;
    const ssize_t n = ::read(ctx->fd, ctx->response + ctx->have, need - ctx->have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return TSS2_TCTI_RC_IO_ERROR;  // the TPM went away mid-response
    ctx->have += static_cast<size_t>(n);
    if (ctx->want == 0 && ctx->have == kHeader) {
      const uint32_t size = (uint32_t{ctx->response[2]} << 24) | (uint32_t{ctx->response[3]} << 16) |
                            (uint32_t{ctx->response[4]} << 8) | ctx->response[5];
      if (size < kHeader || size > sizeof ctx->response) return TSS2_TCTI_RC_MALFORMED_RESPONSE;
      ctx->want = size;
    }
  }
  return TSS2_RC_SUCCESS;
}

TSS2_RC receive(TSS2_TCTI_CONTEXT* c, size_t* size, uint8_t* response, int32_t timeout) {
  StreamTcti* ctx = from(c);
  if (ctx == nullptr) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (size == nullptr) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (!ctx->awaiting_response) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (const TSS2_RC rc = fill(ctx, timeout); rc != TSS2_RC_SUCCESS) {
    if (rc != TSS2_TCTI_RC_TRY_AGAIN) ctx->awaiting_response = false;
    return rc;
  }
  if (response == nullptr) {  // SAPI asks for the size first
    *size = ctx->want;
    return TSS2_RC_SUCCESS;
  }
  if (*size < ctx->want) {
    *size = ctx->want;
    return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
  }
  std::memcpy(response, ctx->response, ctx->want);
  *size = ctx->want;
  ctx->awaiting_response = false;
  return TSS2_RC_SUCCESS;
}

void finalize(TSS2_TCTI_CONTEXT* c) {
  StreamTcti* ctx = from(c);
  if (ctx == nullptr) return;
  if (ctx->fd >= 0) ::close(ctx->fd);
  ctx->fd = -1;
  ctx->common.v1.magic = 0;
}

TSS2_RC get_poll_handles(TSS2_TCTI_CONTEXT* c, TSS2_TCTI_POLL_HANDLE* handles, size_t* num) {
  StreamTcti* ctx = from(c);
  if (ctx == nullptr) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (num == nullptr) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (handles != nullptr) {
    if (*num < 1) return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
    handles[0].fd = ctx->fd;
    handles[0].events = POLLIN;
  }
  *num = 1;
  return TSS2_RC_SUCCESS;
}

}  // namespace

void stream_tcti_init(StreamTcti& ctx, int fd) {
  std::memset(&ctx, 0, sizeof ctx);
  ctx.common.v1.magic = kMagic;
  ctx.common.v1.version = 2;
  ctx.common.v1.transmit = transmit;
  ctx.common.v1.receive = receive;
  ctx.common.v1.finalize = finalize;
  ctx.common.v1.getPollHandles = get_poll_handles;
  ctx.fd = fd;
}

}  // namespace vtpm::transports::manager
