// The differential test's trace: one fixed, seeded sequence of TPM 2.0 commands, control-channel
// requests and malformed inputs that is sent to a reference daemon (Debian's swtpm 0.7.1) and to
// a target (vtpmd), plus the masks that say which response bytes may differ and why.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tpm_bytes.h"

namespace vtpm::testtools::diff {

enum class Channel { Data, Ctrl };

// Which bytes of a successful answer are nondeterministic; see the table in differential_masks.cpp.
enum class Mask {
  None,
  GetRandom,           // randomBytes
  ReadClock,           // time, clockInfo.clock
  GetTime,             // the clock fields of the unsigned TPMS_ATTEST
  Create,              // outPrivate, outPublic.unique, creationTicket.digest
  Load,                // name
  CreatePrimaryNull,   // NULL hierarchy: outPublic.unique, creationTicket.digest, name
  ReadPublicCreated,   // outPublic.unique, name, qualifiedName of a Create'd key
  EcdsaSignature,      // signatureR, signatureS
  ContextSave,         // contextBlob
  StartAuthSession,    // nonceTPM
  StateBlobPayload,    // CMD_GET_STATEBLOB: the libtpms state inside the blob's TLVs
};
const char* mask_name(Mask m);

struct Range {
  size_t offset, length;
};
// The byte ranges of `reply` that `m` masks; empty when the reply is an error (TPM rc or ctrl
// result ≠ 0) or does not parse as the masked structure (then the bytes are compared whole).
std::vector<Range> mask_ranges(Mask m, Channel ch, const Bytes& reply);

// What a step may read from the same daemon's earlier replies (Load needs that daemon's own
// Create output, ContextLoad its own saved context).
using Saved = std::map<std::string, Bytes>;

struct Step {
  std::string name;
  Channel channel = Channel::Data;
  Bytes request;                                  // fixed bytes, or
  std::function<Bytes(const Saved&)> build;      // bytes made from this daemon's saved replies
  std::string save_as;                            // keep the reply under this name
  Mask mask = Mask::None;
  std::optional<uint32_t> expect;                 // rc / tpm_result the reference must give
  int timeout_ms = 30000;
  // Framing probe: the bytes are not one well-framed command. A missing reply is an outcome, not
  // an error; trailing bytes are collected for 200 ms; the data connection is reopened afterwards.
  bool framing = false;
  // Close this channel's connection first and send on a new one (tcti-swtpm, swtpm_ioctl and
  // libvirt open one connection per command; QEMU keeps one for its lifetime).
  bool new_connection = false;
  std::string group;                              // section of the trace, for the summary
};

struct TraceOptions {
  uint64_t seed = 0x7670746d64696666;  // "vtpmdiff"
  int random_ops_1 = 110;              // random mix before the control-channel section
  int random_ops_2 = 70;               // random mix after CMD_STOP + CMD_INIT
  bool framing = true;                 // include the framing probes
};
std::vector<Step> build_trace(const TraceOptions& opt);

}  // namespace vtpm::testtools::diff
