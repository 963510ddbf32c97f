// DataFramer's header grammar (reference/swtpm-qemu.md §1.5) as a Ragel machine, compiled with
// `ragel -G2 -L`. The machine reads the 10-byte TPM header, or the 9-byte TPM_SEND_COMMAND prefix
// and then the header, and stops; the body is `size - 10` opaque bytes copied by plain C++.
// Size limits depend on the negotiated buffer size, so they are checked in actions.
#include "transports/swtpm/data_framer.h"

#include <algorithm>
#include <cstring>

#include "wire/big_endian.h"

namespace vtpm::transports::swtpm {

%%{
  machine data_framer;
  alphtype unsigned char;
  variable cs cs_;

  action acc_clear { acc_ = 0; }
  action acc_byte { acc_ = (acc_ << 8) | fc; }
  action keep { buf_[len_++] = fc; }
  # The header alternative kept the prefix's first two bytes before the prefix was certain.
  action mssim_seen { mssim_ = true; len_ = 0; }
  action locality { locality_ = fc; }
  action mssim_size {
    mssim_size_ = acc_;
    check_size(mssim_size_);
    if (error_ != FrameError::None) fbreak;
  }
  action cmd_size {
    size_ = acc_;
    check_size(size_);
    if (error_ == FrameError::None && mssim_ && size_ != mssim_size_) error_ = FrameError::MssimSizeMismatch;
    if (error_ != FrameError::None) fbreak;
  }
  action header_done { header_done_ = true; fbreak; }

  be32 = any{4} >acc_clear $acc_byte;

  # Any tag but 0x0000 is framed: the tag is libtpms' to judge (it answers TPM_RC_BAD_TAG and the
  # like, as it does behind swtpm, ref §1.5), so a TPM 1.2 instance also frames QEMU's TPM 2
  # version probe (ref §2.1). 0x0000 cannot begin a command: on a TPM 2 stream it begins the
  # TPM_SEND_COMMAND prefix below.
  tag = ( any any ) - ( 0x00 0x00 );

  # `keep` is embedded last on the header, so it runs before the actions that may stop the machine
  # (Ragel orders actions by embedding; inner ones come first) except on the last byte, where
  # header_done is embedded after it.
  header = ( tag be32 @cmd_size any{4} ) $keep @header_done;

  # ref §1.5: cmd BE32 = 8 | locality u8 | size BE32 | command (TPM 2 only).
  mssim_prefix = 0x00 0x00 0x00 0x08 @mssim_seen any @locality be32 @mssim_size;

  tpm2 := header | mssim_prefix header;
  tpm12 := header;
}%%

namespace {
%% write data nofinal;
}  // namespace

size_t DataFramer::feed_header(const uint8_t* data, size_t n) {
  const uint8_t* p = data;
  const uint8_t* pe = data + n;
  %% write exec;
  if (cs_ == data_framer_error && error_ == FrameError::None) {
    error_ = FrameError::BadTag;
    return static_cast<size_t>(p - data) + 1;  // p stays on the byte that matched nothing
  }
  return static_cast<size_t>(p - data);
}

void DataFramer::reset() {
  cs_ = kind_ == TpmKind::Tpm2 ? data_framer_en_tpm2 : data_framer_en_tpm12;
  status_ = FrameStatus::NeedMore;
  error_ = FrameError::None;
  started_ = false;
  header_done_ = false;
  mssim_ = false;
  locality_ = 0;
  acc_ = 0;
  mssim_size_ = 0;
  size_ = 0;
  len_ = 0;
}

namespace {

using wire::put_be16;
using wire::put_be32;

}  // namespace

const char* frame_error_name(FrameError e) {
  switch (e) {
    case FrameError::None: return "no error";
    case FrameError::BadTag: return "bad command tag";
    case FrameError::SizeTooSmall: return "command size below 10";
    case FrameError::SizeTooLarge: return "command size above the buffer size";
    case FrameError::MssimSizeMismatch: return "TPM_SEND_COMMAND size differs from the command size";
  }
  return "?";
}

DataFramer::DataFramer(TpmKind kind, uint32_t buffer_size)
    : kind_(kind),
      buffer_size_(std::max(buffer_size, kTpmHeaderSize)),
      capacity_(std::max(buffer_size_, kMaxTpmBuffer)),
      buf_(new uint8_t[capacity_]) {
  reset();
}

bool DataFramer::set_buffer_size(uint32_t size) {
  if (size < kTpmHeaderSize || size > capacity_) return false;
  buffer_size_ = size;
  return true;
}

void DataFramer::check_size(uint32_t size) {
  if (size < kTpmHeaderSize) error_ = FrameError::SizeTooSmall;
  else if (size > buffer_size_) error_ = FrameError::SizeTooLarge;
}

size_t DataFramer::feed(const uint8_t* p, size_t n) {
  if (status_ != FrameStatus::NeedMore || p == nullptr || n == 0) return 0;
  started_ = true;
  size_t used = 0;
  if (!header_done_) {
    used = feed_header(p, n);
    if (error_ != FrameError::None) {
      status_ = FrameStatus::Error;
      return used;
    }
    if (!header_done_) return used;  // == n: the header is still incomplete
  }
  // The body: size_ - 10 opaque bytes after the header (check_size bounded size_ by capacity_).
  const uint32_t want = size_ - len_;
  const uint32_t take = static_cast<uint32_t>(std::min<size_t>(want, n - used));
  std::memcpy(buf_.get() + len_, p + used, take);
  len_ += take;
  used += take;
  if (len_ == size_) status_ = FrameStatus::Frame;
  return used;
}

size_t DataFramer::error_response(uint8_t* out, size_t cap) const {
  if (status_ != FrameStatus::Error) return 0;
  if (!mssim_) return tpm_error_response(out, cap, kind_, error_);
  if (cap < kTpmHeaderSize + kMssimReplyOverhead) return 0;
  const size_t n = tpm_error_response(out + 4, cap - 4, kind_, error_);
  return wrap_mssim_reply(out + 4, n, out, cap);
}

size_t tpm_error_response(uint8_t* out, size_t cap, TpmKind kind, FrameError err) {
  if (out == nullptr || cap < kTpmHeaderSize) return 0;
  uint32_t code = 0;
  const bool tpm2 = kind == TpmKind::Tpm2;
  switch (err) {
    case FrameError::None: return 0;
    case FrameError::BadTag: code = tpm2 ? 0x01E : 0x1E; break;  // TPM_RC_BAD_TAG / TPM_BADTAG
    case FrameError::SizeTooSmall:
    case FrameError::SizeTooLarge:
    case FrameError::MssimSizeMismatch:
      code = tpm2 ? 0x142 : 0x19;  // TPM_RC_COMMAND_SIZE / TPM_BAD_PARAM_SIZE
      break;
  }
  put_be16(out, tpm2 ? 0x8001 : 0x00C4);  // TPM_ST_NO_SESSIONS / TPM_TAG_RSP_COMMAND
  put_be32(out + 2, kTpmHeaderSize);
  put_be32(out + 6, code);
  return kTpmHeaderSize;
}

size_t wrap_mssim_reply(const uint8_t* resp, size_t len, uint8_t* out, size_t cap) {
  if (out == nullptr || (resp == nullptr && len > 0)) return 0;
  if (len > 0xFFFFFFFFu || cap < kMssimReplyOverhead || len > cap - kMssimReplyOverhead) return 0;
  if (len > 0) std::memmove(out + 4, resp, len);
  put_be32(out, static_cast<uint32_t>(len));
  put_be32(out + 4 + len, 0);
  return len + kMssimReplyOverhead;
}

}  // namespace vtpm::transports::swtpm
