// CtrlDecoder's byte handling around the Ragel grammar (ctrl_decoder.rl) and the reply encoders of
// the swtpm control channel (reference/swtpm-qemu.md §1.1-1.2): what happens at the end of a
// message, payload streaming for HASH_DATA and SET_STATEBLOB, and each ptm_* reply layout.
#include "transports/swtpm/ctrl_codec.h"

#include <algorithm>
#include <cstring>

#include "wire/big_endian.h"

namespace vtpm::transports::swtpm {

namespace rc = engine::rc;

namespace {

using wire::put_be32;

bool fits(const uint8_t* out, size_t cap, size_t need) { return out != nullptr && cap >= need; }

}  // namespace

const char* ctrl_cmd_name(CtrlCmd c) {
  switch (c) {
    case CtrlCmd::GetCapability: return "CMD_GET_CAPABILITY";
    case CtrlCmd::Init: return "CMD_INIT";
    case CtrlCmd::Shutdown: return "CMD_SHUTDOWN";
    case CtrlCmd::GetTpmEstablished: return "CMD_GET_TPMESTABLISHED";
    case CtrlCmd::SetLocality: return "CMD_SET_LOCALITY";
    case CtrlCmd::HashStart: return "CMD_HASH_START";
    case CtrlCmd::HashData: return "CMD_HASH_DATA";
    case CtrlCmd::HashEnd: return "CMD_HASH_END";
    case CtrlCmd::CancelTpmCmd: return "CMD_CANCEL_TPM_CMD";
    case CtrlCmd::StoreVolatile: return "CMD_STORE_VOLATILE";
    case CtrlCmd::ResetTpmEstablished: return "CMD_RESET_TPMESTABLISHED";
    case CtrlCmd::GetStateBlob: return "CMD_GET_STATEBLOB";
    case CtrlCmd::SetStateBlob: return "CMD_SET_STATEBLOB";
    case CtrlCmd::Stop: return "CMD_STOP";
    case CtrlCmd::GetConfig: return "CMD_GET_CONFIG";
    case CtrlCmd::SetDataFd: return "CMD_SET_DATAFD";
    case CtrlCmd::SetBufferSize: return "CMD_SET_BUFFERSIZE";
    case CtrlCmd::GetInfo: return "CMD_GET_INFO";
    case CtrlCmd::LockStorage: return "CMD_LOCK_STORAGE";
  }
  return "CMD_?";
}

// ---- CtrlDecoder -------------------------------------------------------------------------------

CtrlDecoder::CtrlDecoder(uint32_t max_blob, uint32_t hash_chunk)
    : max_blob_(max_blob),
      hash_chunk_(std::max<uint32_t>(hash_chunk, 1)),
      blob_buf_(new uint8_t[std::max<uint32_t>(max_blob, 1)]),
      hash_buf_(new uint8_t[hash_chunk_]) {
  reset();
}

void CtrlDecoder::fail(uint32_t code, const char* text) {
  status_ = CtrlStatus::Error;
  error_code_ = code;
  error_text_ = text;
}

// The grammar recognised a whole fixed-shape message: give its words their names.
void CtrlDecoder::complete_fixed() {
  req_.cmd = static_cast<CtrlCmd>(req_.opcode);  // the grammar admits only known opcodes here
  switch (req_.cmd) {
    case CtrlCmd::Init: req_.init_flags = words_[0]; break;
    case CtrlCmd::SetBufferSize: req_.buffer_size = words_[0]; break;
    case CtrlCmd::LockStorage: req_.retries = words_[0]; break;
    case CtrlCmd::GetStateBlob:
      req_.state_flags = words_[0];
      req_.blob_type = words_[1];
      req_.offset = words_[2];
      break;
    case CtrlCmd::GetInfo:
      req_.info_flags = (uint64_t{words_[0]} << 32) | words_[1];
      req_.info_offset = words_[2];
      break;
    case CtrlCmd::GetCapability:
    case CtrlCmd::Shutdown:
    case CtrlCmd::GetTpmEstablished:
    case CtrlCmd::SetLocality:          // locality set by the grammar
    case CtrlCmd::HashStart:
    case CtrlCmd::HashData:             // not fixed: see feed_payload
    case CtrlCmd::HashEnd:
    case CtrlCmd::CancelTpmCmd:
    case CtrlCmd::StoreVolatile:
    case CtrlCmd::ResetTpmEstablished:  // locality set by the grammar
    case CtrlCmd::SetStateBlob:         // not fixed: see feed_payload
    case CtrlCmd::Stop:
    case CtrlCmd::GetConfig:
    case CtrlCmd::SetDataFd:
      break;
  }
  body_ = Body::Done;
  status_ = CtrlStatus::Complete;
}

size_t CtrlDecoder::feed(const uint8_t* p, size_t n) {
  if (p == nullptr || n == 0) return 0;
  switch (status_) {
    case CtrlStatus::Complete:
    case CtrlStatus::Error:
      return 0;
    case CtrlStatus::HashChunk:  // the caller has hashed the previous chunk
      filled_ = 0;
      req_.hash_data = {};
      status_ = CtrlStatus::NeedMore;
      break;
    case CtrlStatus::NeedMore:
      break;
  }
  if (body_ != Body::Grammar) return feed_payload(p, n);

  for (size_t i = 0; i < n && received_ + i < kCtrlOpcodeSize; ++i)
    req_.opcode = (req_.opcode << 8) | p[i];
  const size_t used = feed_grammar(p, n);
  received_ += used;
  if (status_ == CtrlStatus::Error) return n;
  // What the burst carries beyond a message is discarded with it (ref §1.1: one read per message).
  const size_t rest = n - used;
  if (unknown_) {
    fail(rc::kBadOrdinal, "unknown control command");
    received_ += rest;
    return n;
  }
  if (done_rest_) {
    received_ += rest;
    complete_fixed();
    return n;
  }
  if (done_) {
    if (rest > 0) {
      fail(rc::kBadParameter, "bytes beyond the end of a fixed-size control message");
      received_ += rest;
      return n;
    }
    complete_fixed();
    return n;
  }
  if (!payload_) return n;  // the grammar wants more
  payload_ = false;
  if (req_.opcode == static_cast<uint32_t>(CtrlCmd::HashData)) {
    req_.cmd = CtrlCmd::HashData;
    req_.hash_length = words_[0];
    remaining_ = req_.hash_length;
    body_ = Body::HashData;
  } else {
    req_.cmd = CtrlCmd::SetStateBlob;
    req_.state_flags = words_[0];
    req_.blob_type = words_[1];
    req_.blob_length = words_[2];
    if (req_.blob_length > max_blob_) {  // ref §1.2: swtpm answers TPM_FAIL
      fail(rc::kFail, "SET_STATEBLOB length above the limit");
      received_ += rest;
      return n;
    }
    remaining_ = req_.blob_length;
    body_ = Body::BlobData;
  }
  filled_ = 0;
  return used + feed_payload(p + used, rest);
}

// Payload bytes of HASH_DATA (in chunks of hash_chunk_) or SET_STATEBLOB (whole). May be called
// with n == 0 right after the header, to finish a zero-length payload.
size_t CtrlDecoder::feed_payload(const uint8_t* p, size_t n) {
  uint8_t* buf = body_ == Body::HashData ? hash_buf_.get() : blob_buf_.get();
  const uint32_t room = body_ == Body::HashData ? hash_chunk_ - filled_ : max_blob_ - filled_;
  const uint32_t take = static_cast<uint32_t>(std::min<uint64_t>({remaining_, room, n}));
  if (take > 0) std::memcpy(buf + filled_, p, take);
  filled_ += take;
  remaining_ -= take;
  received_ += take;
  const std::span<const uint8_t> got(buf, filled_);
  if (body_ == Body::HashData) req_.hash_data = got;
  else req_.blob = got;
  if (remaining_ > 0) {
    if (body_ == Body::HashData && filled_ == hash_chunk_) status_ = CtrlStatus::HashChunk;
    return take;
  }
  body_ = Body::Done;
  if (take < n) {
    fail(rc::kBadParameter, "bytes beyond the end of the control message payload");
    received_ += n - take;
    return n;
  }
  status_ = CtrlStatus::Complete;
  return take;
}

uint64_t CtrlDecoder::expected_total() const {
  if (received_ < kCtrlOpcodeSize) return kCtrlOpcodeSize;
  uint64_t total = kCtrlOpcodeSize + uint64_t{expect_};
  if (req_.cmd == CtrlCmd::HashData && body_ != Body::Grammar) total += req_.hash_length;
  if (req_.cmd == CtrlCmd::SetStateBlob && body_ != Body::Grammar) total += req_.blob_length;
  return total;
}

void CtrlDecoder::on_deadline() {
  if (!in_progress()) return;
  fail(rc::kBadParameter, "control message incomplete at the deadline");
}

// ---- replies -----------------------------------------------------------------------------------

size_t encode_result(uint8_t* out, size_t cap, uint32_t result) {
  if (!fits(out, cap, 4)) return 0;
  put_be32(out, result);
  return 4;
}

size_t encode_capability(uint8_t* out, size_t cap, uint32_t caps) {
  if (!fits(out, cap, 8)) return 0;
  put_be32(out, rc::kSuccess);
  put_be32(out + 4, caps);
  return 8;
}

size_t encode_established(uint8_t* out, size_t cap, bool bit) {
  if (!fits(out, cap, 8)) return 0;
  put_be32(out, rc::kSuccess);
  out[4] = bit ? 1 : 0;
  out[5] = out[6] = out[7] = 0;
  return 8;
}

size_t encode_config(uint8_t* out, size_t cap, uint32_t flags) {
  if (!fits(out, cap, 8)) return 0;
  put_be32(out, rc::kSuccess);
  put_be32(out + 4, flags);
  return 8;
}

size_t encode_buffer_size(uint8_t* out, size_t cap, uint32_t buffersize, uint32_t minsize,
                          uint32_t maxsize) {
  if (!fits(out, cap, 16)) return 0;
  put_be32(out, rc::kSuccess);
  put_be32(out + 4, buffersize);
  put_be32(out + 8, minsize);
  put_be32(out + 12, maxsize);
  return 16;
}

size_t encode_state_blob_header(uint8_t* out, size_t cap, uint32_t result, uint32_t state_flags,
                                uint32_t totlength, uint32_t length) {
  if (!fits(out, cap, 16)) return 0;
  put_be32(out, result);
  put_be32(out + 4, state_flags);
  put_be32(out + 8, totlength);
  put_be32(out + 12, length);
  return 16;
}

size_t encode_state_blob(uint8_t* out, size_t cap, uint32_t result, uint32_t state_flags,
                         std::span<const uint8_t> blob, uint32_t offset) {
  if (blob.size() > 0xFFFFFFFFu) return 0;
  uint32_t length = 0;
  if (result == rc::kSuccess && offset < blob.size()) length = static_cast<uint32_t>(blob.size() - offset);
  if (!fits(out, cap, 16) || cap - 16 < length) return 0;
  encode_state_blob_header(out, cap, result, state_flags, length, length);
  if (length > 0) std::memcpy(out + 16, blob.data() + offset, length);
  return 16 + size_t{length};
}

size_t encode_info(uint8_t* out, size_t cap, std::string_view text, uint32_t offset) {
  if (offset >= text.size()) return encode_result(out, cap, rc::kBadParameter);
  if (text.size() >= 0xFFFFFFFFu) return 0;
  const uint32_t totlength = static_cast<uint32_t>(text.size()) + 1;  // with the NUL
  const uint32_t length = std::min(totlength - offset, kInfoChunk);
  if (!fits(out, cap, 12) || cap - 12 < length) return 0;
  put_be32(out, rc::kSuccess);
  put_be32(out + 4, totlength);
  put_be32(out + 8, length);
  // The slice may end with the NUL, which string_view does not hold.
  const size_t from_text = std::min<size_t>(length, text.size() - offset);
  std::memcpy(out + 12, text.data() + offset, from_text);
  if (from_text < length) out[12 + from_text] = 0;
  return 12 + size_t{length};
}

size_t encode_reply(uint8_t* out, size_t cap, const instance::ControlReply& r,
                    std::span<const uint8_t>& tail) {
  using instance::ReplyShape;
  tail = {};
  switch (r.shape) {
    case ReplyShape::None: return 0;
    case ReplyShape::Result: return encode_result(out, cap, r.result);
    case ReplyShape::Capability: return encode_capability(out, cap, r.value);
    case ReplyShape::Established: return encode_established(out, cap, r.established);
    case ReplyShape::Config: return encode_config(out, cap, r.value);
    case ReplyShape::BufferSize:
      return encode_buffer_size(out, cap, r.buffer_size, r.min_size, r.max_size);
    case ReplyShape::Info: return encode_info(out, cap, r.info, r.info_offset);
    case ReplyShape::StateBlob: {
      if (r.blob.size() >= 0xFFFFFFFFu) return 0;
      const auto len = static_cast<uint32_t>(r.blob.size());
      tail = r.blob;
      return encode_state_blob_header(out, cap, r.result, r.value, len, len);
    }
  }
  return 0;
}

}  // namespace vtpm::transports::swtpm
