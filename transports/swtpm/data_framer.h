// DataFramer: cuts the swtpm data channel's byte stream into TPM commands by the header's size
// field (reference/swtpm-qemu.md §1.5), so a command may arrive in any number of reads, and
// recognises the TCG/MS-simulator TPM_SEND_COMMAND prefix (§1.5, PTM_CAP_SEND_COMMAND_HEADER).
// Sans-I/O and allocation-free after construction: the transport feeds bytes, the framer copies the
// command once into its own buffer (DESIGN §5 "parse, don't validate"). The header grammar is a
// Ragel machine (data_framer.rl).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/engine.h"

namespace vtpm::transports::swtpm {

using TpmKind = engine::TpmVersion;  // Tpm12 | Tpm2

inline constexpr uint32_t kTpmHeaderSize = 10;       // tag u16, size u32, code u32
inline constexpr uint32_t kMaxTpmBuffer = 4096;      // libtpms' largest buffer (§1.2 SET_BUFFERSIZE)
inline constexpr uint32_t kMssimSendCommand = 8;     // TPM_SEND_COMMAND
inline constexpr uint32_t kMssimPrefixSize = 9;      // cmd u32, locality u8, size u32
inline constexpr uint32_t kMssimReplyOverhead = 8;   // size u32 before, 00 00 00 00 after

enum class FrameStatus : uint8_t {
  NeedMore,  // every byte fed so far belongs to an unfinished command
  Frame,     // frame() holds one whole command; reset() before feeding the next
  Error,     // the stream is not a TPM command stream: answer error_response(), drop the peer
};

enum class FrameError : uint8_t {
  None,
  BadTag,             // not 0x8001/0x8002 (TPM2) or 0x00C1..C3 (TPM 1.2), nor a TPM_SEND_COMMAND prefix
  SizeTooSmall,       // header size < 10 (or the prefix's size)
  SizeTooLarge,       // header size > buffer_size() (or the prefix's size)
  MssimSizeMismatch,  // the prefix's size differs from the command header's size
};

const char* frame_error_name(FrameError e);

class DataFramer {
 public:
  // `buffer_size`: the negotiated TPM buffer size, the largest command accepted. The frame buffer
  // is allocated here, once, with room for max(buffer_size, kMaxTpmBuffer) bytes.
  DataFramer(TpmKind kind, uint32_t buffer_size);
  DataFramer(const DataFramer&) = delete;
  DataFramer& operator=(const DataFramer&) = delete;

  // Takes bytes of the stream. Returns how many it used: all of them while NeedMore; up to the
  // last byte of the command when it turns Frame (the rest begins the next command, feed it after
  // reset()); up to and including the offending byte on Error. Takes nothing unless NeedMore.
  size_t feed(const uint8_t* p, size_t n);
  FrameStatus status() const { return status_; }
  FrameError error() const { return error_; }
  const char* error_text() const { return frame_error_name(error_); }

  // The command (header included, prefix excluded); valid while status() == Frame.
  const uint8_t* frame() const { return buf_.get(); }
  uint32_t frame_size() const { return status_ == FrameStatus::Frame ? size_ : 0; }
  // The command came behind a TPM_SEND_COMMAND prefix: apply locality(), wrap the reply
  // (wrap_mssim_reply). Also set on Error when the prefix had been recognised.
  bool mssim() const { return mssim_; }
  bool has_locality() const { return mssim_; }
  uint8_t locality() const { return locality_; }

  // Some bytes of an unfinished command were fed (a peer that stops here is stalled, and an
  // end of stream here is a truncated command).
  bool in_progress() const { return status_ == FrameStatus::NeedMore && started_; }
  // The whole header (and any prefix) is in, the body is not: the size field is known.
  bool header_complete() const { return status_ == FrameStatus::NeedMore && header_done_; }

  // The TPM error response to send before dropping the connection after Error (wrapped when the
  // prefix was recognised). Returns its length, 0 if `cap` is too small or there is no error.
  size_t error_response(uint8_t* out, size_t cap) const;

  // Forgets the current command; the next byte fed starts a new one.
  void reset();
  // A new negotiated buffer size (CMD_SET_BUFFERSIZE); applies from the next header on. Refused
  // (false) below 10 or above capacity().
  bool set_buffer_size(uint32_t size);
  uint32_t buffer_size() const { return buffer_size_; }
  uint32_t capacity() const { return capacity_; }
  TpmKind kind() const { return kind_; }

 private:
  size_t feed_header(const uint8_t* p, size_t n);
  void check_size(uint32_t size);

  TpmKind kind_;
  uint32_t buffer_size_;
  uint32_t capacity_;
  std::unique_ptr<uint8_t[]> buf_;

  int cs_ = 0;                  // Ragel state of the header machine
  FrameStatus status_ = FrameStatus::NeedMore;
  FrameError error_ = FrameError::None;
  bool started_ = false;
  bool header_done_ = false;
  bool mssim_ = false;
  uint8_t locality_ = 0;
  uint32_t acc_ = 0;            // big-endian u32 being read
  uint32_t mssim_size_ = 0;
  uint32_t size_ = 0;           // the command header's size field
  uint32_t len_ = 0;            // bytes of the command in buf_
};

// The 10-byte TPM error response for a framing error (TPM2: tag 0x8001, TPM_RC_COMMAND_SIZE 0x142
// or TPM_RC_BAD_TAG 0x01E; TPM 1.2: tag 0x00C4, TPM_BAD_PARAM_SIZE 0x19 or TPM_BADTAG 0x1E).
// Returns 10, or 0 if `cap` < 10 or err is None.
size_t tpm_error_response(uint8_t* out, size_t cap, TpmKind kind, FrameError err);

// The MS-simulator reply: size BE32 | response | 00 00 00 00. `resp` may lie inside `out` (it is
// moved). Returns len + 8, or 0 if `cap` is too small.
size_t wrap_mssim_reply(const uint8_t* resp, size_t len, uint8_t* out, size_t cap);

}  // namespace vtpm::transports::swtpm
