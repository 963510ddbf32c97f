// Engine: the one libtpms TPM of this process (libtpms keeps global state, so one per process;
// reference/swtpm-qemu.md §6.2). Sans-I/O: bytes in, bytes out; storage goes through NvBackend.
// Every call returns a TPM 1.2-style result code (TPM_SUCCESS = 0), which is what the swtpm
// control channel answers with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nv_backend.h"

namespace vtpm::engine {

enum class TpmVersion : uint8_t { Tpm12, Tpm2 };

// Result codes the control channel uses (libtpms tpm_error.h values).
namespace rc {
inline constexpr uint32_t kSuccess = 0x00;
inline constexpr uint32_t kBadParameter = 0x03;
inline constexpr uint32_t kFail = 0x09;
inline constexpr uint32_t kBadOrdinal = 0x0a;
inline constexpr uint32_t kKeyNotFound = 0x0d;
inline constexpr uint32_t kSize = 0x17;
inline constexpr uint32_t kIoError = 0x1f;
inline constexpr uint32_t kDecryptError = 0x21;
inline constexpr uint32_t kBadKeyProperty = 0x28;
inline constexpr uint32_t kBadDataSize = 0x2b;
inline constexpr uint32_t kBadVersion = 0x2e;
inline constexpr uint32_t kBadLocality = 0x3d;
inline constexpr uint32_t kInvalidPostInit = 0x26;
inline constexpr uint32_t kRetry = 0x800;
}  // namespace rc

class Engine {
 public:
  // Registers the NVRAM/IO callbacks and chooses the TPM version. At most one Engine may exist.
  Engine(TpmVersion version, NvBackend& nv);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  TpmVersion version() const { return version_; }
  bool running() const { return running_; }

  // TPMLIB_MainInit: manufactures when there is no permanent state (load gave Absent), else loads
  // permall and resumes from volatilestate. delete_volatile removes the volatile blob afterwards
  // (PTM_INIT_FLAG_DELETE_VOLATILE). Fails closed when a blob exists but does not load.
  uint32_t init(bool delete_volatile);
  // TPMLIB_Terminate. No-op when not running.
  void terminate();

  // Runs one command. The response is written into `out` (capacity `out_cap`, at least the buffer
  // size); `out_len` gets its length. Returns kSuccess or kFail (then `out` holds a well-formed
  // fatal-error response all the same).
  uint32_t process(const uint8_t* cmd, uint32_t cmd_len, uint8_t* out, uint32_t out_cap,
                   uint32_t& out_len);
  // The 10-byte response a TPM that is not running gives (TPM2: 80 01 00 00 00 0a 00 00 01 01;
  // TPM 1.2: 00 c4 00 00 00 0a 00 00 00 09). Returns its length.
  uint32_t fatal_response(uint8_t* out, uint32_t out_cap) const;
  // Sends TPM2_Startup / TPM_Startup with `type` (TPM2: SU_CLEAR 0, SU_STATE 1; TPM 1.2: 1 clear,
  // 2 state, 3 deactivated); for --flags startup-*. Returns the TPM response code.
  uint32_t startup(uint16_t type);

  void set_locality(uint8_t loc) { locality_ = loc; }
  uint8_t locality() const { return locality_; }

  uint32_t hash_start();
  uint32_t hash_data(const uint8_t* data, uint32_t len);
  uint32_t hash_end();
  uint32_t cancel();
  uint32_t get_established(bool& bit);
  uint32_t reset_established(uint8_t loc);   // temporarily at `loc`
  uint32_t store_volatile();                  // TPMLIB_VolatileAll_Store -> NvBackend Volatile

  // Blobs as libtpms marshals them (plain). Running: the live state; stopped: the cached or
  // stored one. SaveState of a TPM2 is empty (returns kRetry with `out` empty). The running
  // TPM's Volatile blob is one-shot: handing it out removes the stored one (NvBackend::remove),
  // and kFail with `out` empty when that fails.
  uint32_t get_state(BlobKind kind, std::vector<uint8_t>& out);
  // Only while stopped (else kBadOrdinal); consumed by the next init(). Empty `data` makes the
  // next init() treat that blob as empty instead of loading it (Volatile: do not resume); an empty
  // Permanent is refused with kBadParameter (libtpms would run, and commit, a zeroed NV).
  uint32_t set_state(BlobKind kind, const uint8_t* data, uint32_t len);

  // TPMLIB_SetBufferSize: wanted 0 = query. Setting needs the TPM stopped (else kBadOrdinal).
  uint32_t set_buffer_size(uint32_t wanted, uint32_t& actual, uint32_t& min, uint32_t& max);
  uint32_t buffer_size() const;
  // TPMLIB_GetInfo(flags) JSON, "" if libtpms gives nothing.
  std::string info(uint32_t flags) const;

  // Routes libtpms' own debug output (TPMLIB_SetDebugFD/Level/Prefix; process-global) to `fd`,
  // as instance::Log::libtpms_debug() maps --log (reference/swtpm-qemu.md §7.12). With fd -1 debug
  // output is off, but libtpms still writes its error lines ("Entering failure mode") to stderr;
  // with an fd and level 0 only those go to `fd`.
  static void set_debug(int fd, unsigned level, const char* prefix);

 private:
  friend struct LibtpmsCallbacks;  // engine.cpp: the trampolines libtpms calls back into

  TpmVersion version_;
  NvBackend& nv_;
  uint32_t choose_rc_ = 0;         // TPMLIB_ChooseTPMVersion's answer; init() reports it
  bool running_ = false;
  uint8_t locality_ = 0;
  std::vector<uint8_t> cmd_copy_;  // libtpms decrypts parameters in place: never hand it `cmd`
  unsigned char* resp_ = nullptr;  // libtpms' response buffer, kept and reused (malloc'd)
  uint32_t resp_cap_ = 0;
};

}  // namespace vtpm::engine
