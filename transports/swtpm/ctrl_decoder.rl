// CtrlDecoder (ctrl_codec.h): the control request grammar of reference/swtpm-qemu.md §1.2 as a
// Ragel machine (`ragel -G2 -L`): a 4-byte big-endian opcode, then the body shape that opcode
// has (none, u32 fields, a locality byte, or a length-prefixed header). The machine stops at the
// end of that shape; payload bytes (HASH_DATA data, SET_STATEBLOB blob) are copied by plain C++.
#include <algorithm>
#include <cstring>

#include "transports/swtpm/ctrl_codec.h"

namespace vtpm::transports::swtpm {

namespace rc = engine::rc;

%%{
  machine ctrl_decoder;
  alphtype unsigned char;
  variable cs cs_;

  action acc_clear { acc_ = 0; }
  action acc_byte { acc_ = (acc_ << 8) | fc; }
  action word_end { if (nwords_ < 4) words_[nwords_++] = acc_; }
  action done { done_ = true; fbreak; }
  action done_rest { req_.locality = fc; done_rest_ = true; fbreak; }
  action unknown { unknown_ = true; fbreak; }
  action payload { payload_ = true; fbreak; }
  # Body sizes after the opcode, for expected_total() (payloads add their length later).
  action body0 { expect_ = 0; }
  action body1 { expect_ = 1; }
  action body4 { expect_ = 4; }
  action body12 { expect_ = 12; }
  action body16 { expect_ = 16; }

  word = any{4} >acc_clear $acc_byte @word_end;
  op = 0x00 0x00 0x00;

  # GET_CAPABILITY, SHUTDOWN, GET_TPMESTABLISHED, HASH_START, HASH_END, CANCEL_TPM_CMD,
  # STORE_VOLATILE, STOP, GET_CONFIG, SET_DATAFD (its fd rides as SCM_RIGHTS, ref §1.7).
  no_body = op ( 0x01 | 0x03 | 0x04 | 0x06 | 0x08 | 0x09 | 0x0a | 0x0e | 0x0f | 0x10 ) @body0 @done;
  # INIT init_flags, SET_BUFFERSIZE buffersize. (LOCK_STORAGE 0x13 came with swtpm 0.8; 0.7.1, whose
  # protocol we speak, answers it as an unknown command, so it falls under `unknown`.)
  one_word = op ( 0x02 | 0x11 ) @body4 word @done;
  # SET_LOCALITY, RESET_TPMESTABLISHED: loc u8, and whatever else came with it.
  locality = op ( 0x05 | 0x0b ) @body1 any @done_rest;
  # GET_STATEBLOB state_flags, type, offset.
  get_state = op 0x0c @body12 word{3} @done;
  # GET_INFO flags (u64 as two words), offset, pad.
  get_info = op 0x12 @body16 word{4} @done;
  # HASH_DATA length, then `length` bytes.
  hash_data = op 0x07 @body4 word @payload;
  # SET_STATEBLOB state_flags, type, length, then `length` bytes.
  set_state = op 0x0d @body12 word{3} @payload;

  unknown = ( any{4} - ( op 0x01 .. 0x12 ) ) @body0 @unknown;

  main := no_body | one_word | locality | get_state | get_info | hash_data | set_state | unknown;
}%%

namespace {
%% write data nofinal;
}  // namespace

size_t CtrlDecoder::feed_grammar(const uint8_t* data, size_t n) {
  const uint8_t* p = data;
  const uint8_t* pe = data + n;
  %% write exec;
  // Every 4-byte opcode is either known or `unknown` and every body byte is `any`, so the machine
  // cannot fail; if it ever did, that is a malformed message all the same.
  if (cs_ == ctrl_decoder_error) {
    fail(rc::kBadParameter, "malformed control message");
    return n;
  }
  return static_cast<size_t>(p - data);
}

void CtrlDecoder::reset() {
  cs_ = ctrl_decoder_start;
  status_ = CtrlStatus::NeedMore;
  body_ = Body::Grammar;
  req_ = CtrlRequest{};
  error_code_ = 0;
  error_text_ = "";
  received_ = 0;
  acc_ = 0;
  std::fill(std::begin(words_), std::end(words_), 0u);
  nwords_ = 0;
  expect_ = 0;
  done_ = done_rest_ = unknown_ = payload_ = false;
  remaining_ = 0;
  filled_ = 0;
}

}  // namespace vtpm::transports::swtpm
