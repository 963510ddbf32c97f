// The swtpm control channel codec (reference/swtpm-qemu.md §1.1-1.3): CtrlDecoder turns the bytes
// of one control message into a typed CtrlRequest (framed by the Ragel machine in
// ctrl_decoder.rl), and the encoders write each command's big-endian reply. Sans-I/O, no
// allocation after construction: the SET_STATEBLOB and HASH_DATA buffers are sized up front.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "engine/engine.h"
#include "instance/control.h"

namespace vtpm::transports::swtpm {

// The request and reply types are the instance core's (runtime/instance/control.h): this codec
// decodes swtpm's wire format into them and encodes the replies back.
using CtrlCmd = instance::ControlCmd;
using CtrlRequest = instance::ControlRequest;  // after an Error only `opcode` is meaningful
namespace cap = instance::cap;
using instance::capabilities;
using instance::kCapabilitiesTpm12;
using instance::kCapabilitiesTpm2;
using instance::kConfigFlagFileKey;
using instance::kConfigFlagMigrationKey;
using instance::kInitFlagDeleteVolatile;
using instance::kStateFlagDecrypted;
using instance::kStateFlagEncrypted;

const char* ctrl_cmd_name(CtrlCmd c);

inline constexpr uint32_t kCtrlOpcodeSize = 4;
inline constexpr uint32_t kMaxStateBlob = 512 * 1024;  // SET_STATEBLOB length limit (ref §1.2)
inline constexpr uint32_t kHashChunk = 4096;           // sizeof(ptm_hdata.u.req.data)
inline constexpr uint32_t kInfoChunk = 3072;           // PTM_GETINFO_SIZE

enum class CtrlStatus : uint8_t {
  NeedMore,   // the message is incomplete: feed more, or on_deadline() when 500 ms have passed
  HashChunk,  // HASH_DATA: request().hash_data holds the next kHashChunk-sized piece of data;
              // hash it, then keep feeding (no reset, no reply yet); valid until the next feed()
  Complete,   // request() is the whole message (for HASH_DATA: its last piece); reply, reset()
  Error,      // answer encode_error(error_code()), reset()
};

// Semantics of swtpm 0.7.1's ctrlchannel (ref §1.1-1.2): one request, then the client waits for
// the reply, so a message is what arrives in one burst. The transport feeds each read. Fixed-size
// bodies must be exactly their size: bytes beyond a complete message in the same feed() make it
// kBadParameter. SET_LOCALITY and RESET_TPMESTABLISHED take >= 1 byte (QEMU sends 4, tcti-swtpm
// 1): the first is the locality, the rest of that feed is ignored. HASH_DATA (u32 length, then
// data, any length, streamed) and SET_STATEBLOB (12-byte header, then `length` <= max_blob bytes,
// else kFail) may continue over later feeds. An unknown opcode is kBadOrdinal once 4 bytes are
// there; fewer than a whole message when the deadline passes is kBadParameter.
class CtrlDecoder {
 public:
  explicit CtrlDecoder(uint32_t max_blob = kMaxStateBlob, uint32_t hash_chunk = kHashChunk);
  CtrlDecoder(const CtrlDecoder&) = delete;
  CtrlDecoder& operator=(const CtrlDecoder&) = delete;

  // Takes bytes of the message. Returns how many it used: all of them unless the status turns
  // HashChunk with bytes left over (feed those next). Takes nothing when Complete or Error.
  size_t feed(const uint8_t* p, size_t n);
  CtrlStatus status() const { return status_; }
  const CtrlRequest& request() const { return req_; }
  // The result code to answer with on Error (engine::rc::kBadParameter, kBadOrdinal, kFail).
  uint32_t error_code() const { return error_code_; }
  const char* error_text() const { return error_text_; }

  // The length the message has as far as it is known: 4 until the opcode is there, then 4 + body
  // (8 + length for HASH_DATA and 16 + length for SET_STATEBLOB once the length field is there).
  uint64_t expected_total() const;
  uint64_t received() const { return received_; }
  // Some bytes of an unfinished message arrived (NeedMore or HashChunk): the deadline runs.
  bool in_progress() const {
    return (status_ == CtrlStatus::NeedMore && received_ > 0) || status_ == CtrlStatus::HashChunk;
  }

  // The transport's 500 ms deadline passed (ref §1.1): an unfinished message becomes Error
  // kBadParameter. Nothing happens when idle (no byte yet), Complete or Error.
  void on_deadline();
  void reset();

  uint32_t max_blob() const { return max_blob_; }
  uint32_t hash_chunk() const { return hash_chunk_; }

 private:
  enum class Body : uint8_t { Grammar, HashData, BlobData, Done };
  size_t feed_grammar(const uint8_t* p, size_t n);
  size_t feed_payload(const uint8_t* p, size_t n);
  void complete_fixed();
  void fail(uint32_t code, const char* text);

  uint32_t max_blob_;
  uint32_t hash_chunk_;
  std::unique_ptr<uint8_t[]> blob_buf_;
  std::unique_ptr<uint8_t[]> hash_buf_;

  int cs_ = 0;  // Ragel state of the request grammar
  CtrlStatus status_ = CtrlStatus::NeedMore;
  Body body_ = Body::Grammar;
  CtrlRequest req_{};
  uint32_t error_code_ = 0;
  const char* error_text_ = "";
  uint64_t received_ = 0;
  uint32_t acc_ = 0;          // big-endian u32 being read
  uint32_t words_[4] = {};    // the body's u32 fields, in order
  uint32_t nwords_ = 0;
  uint32_t expect_ = 0;       // body bytes after the opcode (payload not counted)
  bool done_ = false;         // grammar: a fixed-size message ended on the last byte read
  bool done_rest_ = false;    // grammar: the message ended, the rest of this feed is ignored
  bool unknown_ = false;      // grammar: 4 bytes of an unknown opcode
  bool payload_ = false;      // grammar: a length-prefixed header ended, the payload follows
  uint32_t remaining_ = 0;    // payload bytes still to come
  uint32_t filled_ = 0;       // payload bytes in the buffer (blob) or this chunk (hash)
};

// ---- replies (ref §1.2 "success reply", all big-endian) ------------------------------------
// Each writes into out[0..cap) and returns the reply's length, or 0 when `cap` is too small
// (every reply is at least 4 bytes, so 0 is never a reply).

// The plain reply {tpm_result}: every 4-byte success reply, and every error reply (ref §1.1:
// swtpm sends only the result on errors, except GET_STATEBLOB).
size_t encode_result(uint8_t* out, size_t cap, uint32_t result);
inline size_t encode_error(uint8_t* out, size_t cap, uint32_t result) {
  return encode_result(out, cap, result);
}
// GET_CAPABILITY, ptm_cap_n {0, caps} (QEMU <= 9.1 reads the same 8 bytes as one BE u64).
size_t encode_capability(uint8_t* out, size_t cap, uint32_t caps);
// GET_TPMESTABLISHED, ptm_est {0, bit u8, pad[3]}.
size_t encode_established(uint8_t* out, size_t cap, bool bit);
// GET_CONFIG, ptm_getconfig {0, flags}.
size_t encode_config(uint8_t* out, size_t cap, uint32_t flags);
// SET_BUFFERSIZE, ptm_setbuffersize {0, buffersize, minsize, maxsize}.
size_t encode_buffer_size(uint8_t* out, size_t cap, uint32_t buffersize, uint32_t minsize,
                          uint32_t maxsize);
// GET_STATEBLOB, ptm_getstate {result, state_flags, totlength, length} + data. swtpm socket mode
// sends everything from `offset` on in one reply (totlength == length == blob.size() - offset, 0
// when offset is past the end). With result != 0 only the 16-byte header, lengths 0.
size_t encode_state_blob(uint8_t* out, size_t cap, uint32_t result, uint32_t state_flags,
                         std::span<const uint8_t> blob, uint32_t offset);
// The 16-byte GET_STATEBLOB header alone, for a transport that sends the data with writev.
size_t encode_state_blob_header(uint8_t* out, size_t cap, uint32_t result, uint32_t state_flags,
                                uint32_t totlength, uint32_t length);
// GET_INFO, ptm_getinfo {0, totlength, length} + text. `text` is the JSON without its NUL;
// totlength counts the NUL; the slice from `offset` carries at most kInfoChunk bytes (the NUL
// included when it fits). offset >= text.size() gets swtpm's answer, the plain kBadParameter.
size_t encode_info(uint8_t* out, size_t cap, std::string_view text, uint32_t offset);

// The wire form of the instance core's reply: the fixed part goes into out[0..cap) (returns its
// length; 0 for ReplyShape::None or a too small `cap`), and `tail` gets the bytes that follow it
// unchanged (GET_STATEBLOB's data, sent from where it lives).
size_t encode_reply(uint8_t* out, size_t cap, const instance::ControlReply& reply,
                    std::span<const uint8_t>& tail);

}  // namespace vtpm::transports::swtpm
