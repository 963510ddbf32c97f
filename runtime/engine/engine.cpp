// Engine on libtpms 0.9.x: the callback trampolines (NVRAM names -> BlobKind, locality), the
// lifecycle (MainInit/Terminate) and thin wrappers for what the swtpm control channel needs
// (reference/swtpm-qemu.md §1.2, §6). libtpms is process-global, so the trampolines reach the one
// Engine through a file-static pointer that the constructor sets and the destructor clears.
#include "engine/engine.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_nvfilename.h>
#include <libtpms/tpm_tis.h>

#include "wire/big_endian.h"

namespace vtpm::engine {
namespace {

// The one Engine of this process (libtpms keeps one TPM per process; §6.2). Set by the
// constructor, cleared by the destructor; callbacks arriving without an Engine answer TPM_FAIL.
Engine* g_engine = nullptr;

constexpr uint32_t kTpm2RcFailure = 0x101;  // TPM 2.0 Part 2 §6.6 TPM_RC_FAILURE
constexpr uint32_t kInitialCmdCapacity = 4096;  // TPM_BUFFER_MAX: the common case never grows

using wire::get_be32;
using wire::put_be16;
using wire::put_be32;

// libtpms' NVRAM names (tpm_nvfilename.h) to the control channel's blob types.
bool kind_of_name(const char* name, BlobKind& kind) {
  if (name == nullptr) return false;
  if (std::strcmp(name, TPM_PERMANENT_ALL_NAME) == 0) {
    kind = BlobKind::Permanent;
  } else if (std::strcmp(name, TPM_VOLATILESTATE_NAME) == 0) {
    kind = BlobKind::Volatile;
  } else if (std::strcmp(name, TPM_SAVESTATE_NAME) == 0) {
    kind = BlobKind::SaveState;
  } else {
    return false;
  }
  return true;
}

TPMLIB_StateType state_type_of(BlobKind kind) {
  switch (kind) {
    case BlobKind::Permanent: return TPMLIB_STATE_PERMANENT;
    case BlobKind::Volatile: return TPMLIB_STATE_VOLATILE;
    case BlobKind::SaveState: return TPMLIB_STATE_SAVE_STATE;
  }
  return TPMLIB_STATE_PERMANENT;  // unreachable: the switch above is exhaustive
}

// Chooses `version`, dropping libtpms' cached state blobs on the way. Those blobs (set_state's,
// including the "empty" marker a NULL SetState leaves) outlive TPMLIB_Terminate and would
// otherwise reach the next Engine's MainInit; the library clears them only when the chosen
// version changes, so choose the other one first.
uint32_t choose_version_clearing_cache(TpmVersion version) {
  const bool tpm2 = version == TpmVersion::Tpm2;
  TPMLIB_ChooseTPMVersion(tpm2 ? TPMLIB_TPM_VERSION_1_2 : TPMLIB_TPM_VERSION_2);
  return TPMLIB_ChooseTPMVersion(tpm2 ? TPMLIB_TPM_VERSION_2 : TPMLIB_TPM_VERSION_1_2);
}

}  // namespace

// The callbacks libtpms makes (tpm_library.h struct libtpms_callbacks). tpm_number is always 0.
struct LibtpmsCallbacks {
  static TPM_RESULT nvram_init() { return TPM_SUCCESS; }

  // libtpms frees *data, so it must come from malloc. Absent must be exactly TPM_RETRY: only that
  // makes a TPM2 MainInit manufacture; anything else means "state exists" (§6.1). A failure's
  // code is what a TPM 1.2 MainInit returns (swtpm's callback answers the same codes); a TPM 2
  // MainInit turns every one into TPM_RC_FAILURE.
  static TPM_RESULT load(unsigned char** data, uint32_t* length, uint32_t, const char* name) {
    *data = nullptr;
    *length = 0;
    BlobKind kind;
    if (g_engine == nullptr || !kind_of_name(name, kind)) return TPM_FAIL;
    std::vector<uint8_t> blob;
    switch (g_engine->nv_.load(kind, blob)) {
      case LoadStatus::Absent: return TPM_RETRY;
      case LoadStatus::Failed: return TPM_FAIL;
      case LoadStatus::WrongKey: return TPM_DECRYPT_ERROR;
      case LoadStatus::WrongKeySize: return TPM_BAD_KEY_PROPERTY;
      case LoadStatus::Loaded: break;
    }
    auto* copy = static_cast<unsigned char*>(std::malloc(blob.empty() ? 1 : blob.size()));
    if (copy == nullptr) return TPM_SIZE;
    if (!blob.empty()) std::memcpy(copy, blob.data(), blob.size());
    *data = copy;
    *length = static_cast<uint32_t>(blob.size());
    return TPM_SUCCESS;
  }

  static TPM_RESULT store(const unsigned char* data, uint32_t length, uint32_t, const char* name) {
    BlobKind kind;
    if (g_engine == nullptr || !kind_of_name(name, kind)) return TPM_FAIL;
    return g_engine->nv_.store(kind, data, length) ? TPM_SUCCESS : TPM_FAIL;
  }

  static TPM_RESULT remove(uint32_t, const char* name, TPM_BOOL must_exist) {
    BlobKind kind;
    if (g_engine == nullptr || !kind_of_name(name, kind)) return TPM_FAIL;
    return g_engine->nv_.remove(kind, must_exist != 0) ? TPM_SUCCESS : TPM_FAIL;
  }

  static TPM_RESULT io_init() { return TPM_SUCCESS; }

  static TPM_RESULT locality(TPM_MODIFIER_INDICATOR* loc, uint32_t) {
    *loc = g_engine != nullptr ? g_engine->locality_ : 0;
    return TPM_SUCCESS;
  }

  // No physical presence assertion from the host side (TPM 1.2 only asks).
  static TPM_RESULT physical_presence(TPM_BOOL* present, uint32_t) {
    *present = 0;
    return TPM_SUCCESS;
  }
};

Engine::Engine(TpmVersion version, NvBackend& nv) : version_(version), nv_(nv) {
  if (g_engine != nullptr) {
    std::fprintf(stderr, "vtpm engine: a second Engine in one process (libtpms is global)\n");
    std::abort();
  }
  g_engine = this;
  cmd_copy_.resize(kInitialCmdCapacity);

  libtpms_callbacks cbs{};
  cbs.sizeOfStruct = sizeof(cbs);
  cbs.tpm_nvram_init = &LibtpmsCallbacks::nvram_init;
  cbs.tpm_nvram_loaddata = &LibtpmsCallbacks::load;
  cbs.tpm_nvram_storedata = &LibtpmsCallbacks::store;
  cbs.tpm_nvram_deletename = &LibtpmsCallbacks::remove;
  cbs.tpm_io_init = &LibtpmsCallbacks::io_init;
  cbs.tpm_io_getlocality = &LibtpmsCallbacks::locality;
  cbs.tpm_io_getphysicalpresence = &LibtpmsCallbacks::physical_presence;
  choose_rc_ = TPMLIB_RegisterCallbacks(&cbs);  // copies the struct
  if (choose_rc_ == TPM_SUCCESS) choose_rc_ = choose_version_clearing_cache(version_);
}

Engine::~Engine() {
  terminate();
  choose_version_clearing_cache(version_);  // unconsumed set_state blobs die with this Engine
  std::free(resp_);
  g_engine = nullptr;
}

uint32_t Engine::init(bool delete_volatile) {
  if (choose_rc_ != TPM_SUCCESS) return choose_rc_;
  terminate();  // CMD_INIT on a running TPM is a reset; the caller sent any auto-Shutdown first
  const TPM_RESULT r = TPMLIB_MainInit();
  if (r != TPM_SUCCESS) {
    // Fail closed: a permall that exists but does not load leaves the TPM stopped, never fresh.
    TPMLIB_Terminate();
    return r;
  }
  running_ = true;
  if (delete_volatile && !nv_.remove(BlobKind::Volatile, false)) return rc::kFail;
  return rc::kSuccess;
}

void Engine::terminate() {
  if (!running_) return;
  TPMLIB_Terminate();
  running_ = false;
}

uint32_t Engine::process(const uint8_t* cmd, uint32_t cmd_len, uint8_t* out, uint32_t out_cap,
                         uint32_t& out_len) {
  out_len = 0;
  if (running_) {
    if (cmd_copy_.size() < cmd_len) cmd_copy_.resize(cmd_len);  // only for oversized commands
    if (cmd_len != 0) std::memcpy(cmd_copy_.data(), cmd, cmd_len);
    uint32_t resp_len = 0;
    const TPM_RESULT r = TPMLIB_Process(&resp_, &resp_len, &resp_cap_, cmd_copy_.data(), cmd_len);
    if (r == TPM_SUCCESS && resp_ != nullptr && resp_len <= out_cap) {
      if (resp_len != 0) std::memcpy(out, resp_, resp_len);
      out_len = resp_len;
      return rc::kSuccess;
    }
  }
  out_len = fatal_response(out, out_cap);
  return rc::kFail;
}

uint32_t Engine::fatal_response(uint8_t* out, uint32_t out_cap) const {
  if (out_cap < 10) return 0;
  const bool tpm2 = version_ == TpmVersion::Tpm2;
  put_be16(out, tpm2 ? 0x8001 : 0x00c4);  // TPM_ST_NO_SESSIONS / TPM_TAG_RSP_COMMAND
  put_be32(out + 2, 10);
  put_be32(out + 6, tpm2 ? kTpm2RcFailure : TPM_FAIL);
  return 10;
}

uint32_t Engine::startup(uint16_t type) {
  // TPM 2.0 Part 3 §9.3 TPM2_Startup; TPM 1.2 Part 3 §3.2 TPM_Startup. Both are 12 bytes.
  uint8_t cmd[12];
  const bool tpm2 = version_ == TpmVersion::Tpm2;
  put_be16(cmd, tpm2 ? 0x8001 : 0x00c1);
  put_be32(cmd + 2, sizeof(cmd));
  put_be32(cmd + 6, tpm2 ? 0x144 : 0x99);
  put_be16(cmd + 10, type);
  uint8_t resp[64];
  uint32_t resp_len = 0;
  process(cmd, sizeof(cmd), resp, sizeof(resp), resp_len);
  if (resp_len < 10) return rc::kFail;
  return get_be32(resp + 6);
}

uint32_t Engine::hash_start() {
  if (!running_) return rc::kBadOrdinal;
  return TPM_IO_Hash_Start();
}

uint32_t Engine::hash_data(const uint8_t* data, uint32_t len) {
  if (!running_) return rc::kBadOrdinal;
  return TPM_IO_Hash_Data(data, len);
}

uint32_t Engine::hash_end() {
  if (!running_) return rc::kBadOrdinal;
  return TPM_IO_Hash_End();
}

uint32_t Engine::cancel() {
  if (!running_) return rc::kBadOrdinal;
  return TPMLIB_CancelCommand();
}

uint32_t Engine::get_established(bool& bit) {
  bit = false;
  if (!running_) return rc::kBadOrdinal;
  TPM_BOOL established = 0;
  const TPM_RESULT r = TPM_IO_TpmEstablished_Get(&established);
  bit = established != 0;
  return r;
}

uint32_t Engine::reset_established(uint8_t loc) {
  if (!running_) return rc::kBadOrdinal;
  // libtpms reads the locality through the callback and refuses all but 3 and 4.
  const uint8_t saved = locality_;
  locality_ = loc;
  const TPM_RESULT r = TPM_IO_TpmEstablished_Reset();
  locality_ = saved;
  return r;
}

uint32_t Engine::store_volatile() {
  if (!running_) return rc::kBadOrdinal;
  unsigned char* blob = nullptr;
  uint32_t len = 0;
  TPM_RESULT r = TPMLIB_VolatileAll_Store(&blob, &len);
  if (r == TPM_SUCCESS && !nv_.store(BlobKind::Volatile, blob, len)) r = TPM_FAIL;
  std::free(blob);
  return r;
}

uint32_t Engine::get_state(BlobKind kind, std::vector<uint8_t>& out) {
  out.clear();
  unsigned char* blob = nullptr;
  uint32_t len = 0;
  TPM_RESULT r = TPMLIB_GetState(state_type_of(kind), &blob, &len);
  if (r == TPM_SUCCESS && blob != nullptr && len != 0) out.assign(blob, blob + len);
  std::free(blob);
  if (r == TPM_SUCCESS && out.empty()) r = TPM_RETRY;  // e.g. a TPM2's savestate: no such blob
  // The running TPM's volatile state, once handed out (CMD_GET_STATEBLOB), is one-shot: the
  // stored copy goes, so that nothing resumes from it a second time (swtpm 0.7.1 deletes the
  // file too). A copy that cannot be removed is not handed out.
  if (r == TPM_SUCCESS && running_ && kind == BlobKind::Volatile &&
      !nv_.remove(BlobKind::Volatile, false)) {
    out.clear();
    r = TPM_FAIL;
  }
  return r;
}

uint32_t Engine::set_state(BlobKind kind, const uint8_t* data, uint32_t len) {
  if (running_) return rc::kBadOrdinal;
  if (len == 0) {
    // libtpms caches a NULL blob as "empty": the next MainInit uses it instead of loaddata.
    // For the volatile state that means "do not resume"; for the permanent state it would start
    // a TPM from zeroed NV and commit that over the stored state, so fail closed instead.
    if (kind == BlobKind::Permanent) return rc::kBadParameter;
    return TPMLIB_SetState(state_type_of(kind), nullptr, 0);
  }
  // libtpms validates the blob by unmarshalling it; a rejected blob drops all cached ones.
  return TPMLIB_SetState(state_type_of(kind), data, len);
}

uint32_t Engine::set_buffer_size(uint32_t wanted, uint32_t& actual, uint32_t& min,
                                 uint32_t& max) {
  if (running_ && wanted != 0) {
    actual = TPMLIB_SetBufferSize(0, &min, &max);
    return rc::kBadOrdinal;
  }
  actual = TPMLIB_SetBufferSize(wanted, &min, &max);  // clamps to [min, max]
  return rc::kSuccess;
}

uint32_t Engine::buffer_size() const { return TPMLIB_SetBufferSize(0, nullptr, nullptr); }

std::string Engine::info(uint32_t flags) const {
  // libtpms 0.9 knows flags 0x1..0x4 (the enum's whole range); 0.10's 0x8..0x80 mean nothing here.
  char* json = TPMLIB_GetInfo(static_cast<TPMLIB_InfoFlags>(flags & 0x7));
  std::string result = json != nullptr ? json : "";
  std::free(json);
  return result;
}

void Engine::set_debug(int fd, unsigned level, const char* prefix) {
  TPMLIB_SetDebugFD(fd);
  TPMLIB_SetDebugLevel(level);
  TPMLIB_SetDebugPrefix(prefix);  // libtpms copies it
}

}  // namespace vtpm::engine
