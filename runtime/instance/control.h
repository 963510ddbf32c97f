// The instance core's control vocabulary: a decoded control request and the typed reply the core
// gives, as plain values. The requests are swtpm's control commands (tpm_ioctl.h CMD_*,
// reference/swtpm-qemu.md §1.1-1.3) because that is what an instance can be asked to do; a
// transport decodes its wire format into ControlRequest and encodes ControlReply back (the swtpm
// socket codec does both in transports/swtpm/ctrl_codec.h). Nothing here touches I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "engine/engine.h"

namespace vtpm::instance {

// tpm_ioctl.h CMD_* (ref §1.2).
enum class ControlCmd : uint32_t {
  GetCapability = 0x01,
  Init = 0x02,
  Shutdown = 0x03,
  GetTpmEstablished = 0x04,
  SetLocality = 0x05,
  HashStart = 0x06,
  HashData = 0x07,
  HashEnd = 0x08,
  CancelTpmCmd = 0x09,
  StoreVolatile = 0x0a,
  ResetTpmEstablished = 0x0b,
  GetStateBlob = 0x0c,
  SetStateBlob = 0x0d,
  Stop = 0x0e,
  GetConfig = 0x0f,
  SetDataFd = 0x10,
  SetBufferSize = 0x11,
  GetInfo = 0x12,
  LockStorage = 0x13,  // swtpm >= 0.8; 0.7.1 answers it as unknown (0x0a)
};

// PTM_CAP_* (ref §1.3).
namespace cap {
inline constexpr uint32_t kInit = 1u << 0;
inline constexpr uint32_t kShutdown = 1u << 1;
inline constexpr uint32_t kGetTpmEstablished = 1u << 2;
inline constexpr uint32_t kSetLocality = 1u << 3;
inline constexpr uint32_t kHashing = 1u << 4;
inline constexpr uint32_t kCancelTpmCmd = 1u << 5;
inline constexpr uint32_t kStoreVolatile = 1u << 6;
inline constexpr uint32_t kResetTpmEstablished = 1u << 7;
inline constexpr uint32_t kGetStateBlob = 1u << 8;
inline constexpr uint32_t kSetStateBlob = 1u << 9;
inline constexpr uint32_t kStop = 1u << 10;
inline constexpr uint32_t kGetConfig = 1u << 11;
inline constexpr uint32_t kSetDataFd = 1u << 12;
inline constexpr uint32_t kSetBufferSize = 1u << 13;
inline constexpr uint32_t kGetInfo = 1u << 14;
inline constexpr uint32_t kSendCommandHeader = 1u << 15;  // TPM 2 only
inline constexpr uint32_t kLockStorage = 1u << 16;        // swtpm >= 0.8: not advertised
}  // namespace cap

// What swtpm 0.7.1 reports (ref §1.3, observed): bits 0-15 for TPM 2 = 0xffff, bits 0-14 for
// TPM 1.2 = 0x7fff.
inline constexpr uint32_t kCapabilitiesTpm2 = 0xffff;
inline constexpr uint32_t kCapabilitiesTpm12 = 0x7fff;
constexpr uint32_t capabilities(engine::TpmVersion v) {
  return v == engine::TpmVersion::Tpm2 ? kCapabilitiesTpm2 : kCapabilitiesTpm12;
}

inline constexpr uint32_t kInitFlagDeleteVolatile = 1;  // PTM_INIT_FLAG_DELETE_VOLATILE
inline constexpr uint32_t kStateFlagDecrypted = 1;      // PTM_STATE_FLAG_DECRYPTED
inline constexpr uint32_t kStateFlagEncrypted = 2;      // PTM_STATE_FLAG_ENCRYPTED
inline constexpr uint32_t kConfigFlagFileKey = 1;       // PTM_CONFIG_FLAG_FILE_KEY
inline constexpr uint32_t kConfigFlagMigrationKey = 2;  // PTM_CONFIG_FLAG_MIGRATION_KEY

// One decoded request. Only the fields of `cmd` are meaningful; the rest are zero.
struct ControlRequest {
  ControlCmd cmd = ControlCmd::GetCapability;
  uint32_t opcode = 0;                 // the raw code (also for unknown ones, for logs)
  uint32_t init_flags = 0;             // Init
  uint8_t locality = 0;                // SetLocality, ResetTpmEstablished: the first body byte
  uint32_t hash_length = 0;            // HashData: the announced total length
  std::span<const uint8_t> hash_data;  // HashData: the last chunk (earlier ones: hash_chunk())
  uint32_t state_flags = 0;            // GetStateBlob, SetStateBlob
  uint32_t blob_type = 0;              // GetStateBlob, SetStateBlob (PTM_BLOB_TYPE_*)
  uint32_t offset = 0;                 // GetStateBlob
  uint32_t blob_length = 0;            // SetStateBlob: the announced length
  std::span<const uint8_t> blob;       // SetStateBlob: all blob_length bytes
  uint32_t buffer_size = 0;            // SetBufferSize (0 = query)
  uint64_t info_flags = 0;             // GetInfo (SWTPM_INFO_*)
  uint32_t info_offset = 0;            // GetInfo
  uint32_t retries = 0;                // LockStorage
};

// The shape of a reply, which decides its wire layout (ref §1.2: every error is the plain result,
// except GET_STATEBLOB, which always has its 16-byte header).
enum class ReplyShape : uint8_t {
  None,         // nothing is answered (the instance has terminated)
  Result,       // {result}
  Capability,   // {0, value = PTM_CAP_* word}
  Established,  // {0, established}
  Config,       // {0, value = PTM_CONFIG_FLAG_*}
  BufferSize,   // {0, buffer_size, min_size, max_size}
  Info,         // {0, totlength, length} + info from info_offset
  StateBlob,    // {result, value = state flags, totlength, length} + blob (from the request's offset)
};

// The core's answer to one control request. Spans point into the core and stay valid until its
// next call.
struct ControlReply {
  ReplyShape shape = ReplyShape::None;
  uint32_t result = 0;
  uint32_t value = 0;
  bool established = false;
  uint32_t buffer_size = 0, min_size = 0, max_size = 0;
  std::string_view info;
  uint32_t info_offset = 0;
  std::span<const uint8_t> blob;
  // SET_DATAFD was accepted: the transport makes the fd that came with the request its data
  // channel (and tells the core data_closed() when that channel hangs up).
  bool adopt_data_fd = false;
};

}  // namespace vtpm::instance
