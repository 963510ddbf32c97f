// The manager's one door to the host's TPM 2.0 (runtime/manager/README.md): the standard SRK at
// 0x81000001, sealing a small secret to SHA-256 PCR values under it, and a non-orderly NV
// counter for rollback detection. Everything goes through tpm2-tss ESYS over a TCTI string
// (reference/manager-sealing.md §4); this header includes no tss2 header, so callers do not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/secret.h"

namespace vtpm::manager {

using Bytes = vtpm::store::Bytes;  // std::span<const uint8_t>

// Why an unseal failed, for the manager to decide between "fail closed" and "try again".
enum class TpmError {
  None,
  BadBlob,       // the blob does not parse (lengths, trailing bytes, not a HostTpm sealed object)
  WrongTpm,      // the TPM refused to load it: sealed under another SRK (another or cleared
                 // TPM) or its protected part was altered; the TPM cannot tell these apart
  PolicyFailed,  // loaded, but the PCR policy does not hold (PCRs changed, or another mask)
  Lockout,       // the TPM is in dictionary-attack lockout (TPM2_RC_LOCKOUT)
  Other,         // transport, resources, no SRK, anything else (the text says which)
};
const char* tpm_error_name(TpmError e);

enum class SrkKind : uint8_t { Ecc256 = 1, Rsa2048 = 2 };  // the header's template-kind byte

struct SrkInfo {
  std::vector<uint8_t> name;  // TPM2B_NAME contents: be16 nameAlg || digest of the public area
  SrkKind kind = SrkKind::Ecc256;
  bool created = false;  // this call made it (CreatePrimary + EvictControl)
};

// An unsealed secret (at most kMaxSecret bytes) in storage that never moves and is wiped on
// clear() and destruction.
class SecretBytes {
 public:
  static constexpr size_t kMaxSecret = 128;
  SecretBytes() = default;
  ~SecretBytes() { clear(); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  void assign(const uint8_t* p, size_t n);  // n > kMaxSecret is cut (a bug of the caller's)
  void clear();
  const uint8_t* data() const { return bytes_; }
  size_t size() const { return size_; }
  Bytes span() const { return Bytes(bytes_, size_); }

 private:
  uint8_t bytes_[kMaxSecret] = {};
  size_t size_ = 0;
};

class HostTpm {
 public:
  static constexpr uint32_t kSrkHandle = 0x81000001;
  static constexpr uint32_t kFirstCounterIndex = 0x01500100;
  static constexpr uint32_t kCounterIndexSpan = 256;  // define_counter tries this many indexes

  HostTpm() = default;
  ~HostTpm() { close(); }
  HostTpm(const HostTpm&) = delete;
  HostTpm& operator=(const HostTpm&) = delete;

  // Tss2_TctiLdr_Initialize(tcti), Esys_Initialize, Esys_Startup(CLEAR) (TPM2_RC_INITIALIZE
  // = already started is fine). Fails if already open.
  bool open(const std::string& tcti, std::string& err);
  // The same over an in-process TCTI the caller built (a TSS2_TCTI_CONTEXT*, e.g. vtpm-manager's
  // stream TCTI to the simulated TPM it started); close() runs its finalize. `name` is for messages.
  bool open_context(void* tcti_context, const std::string& name, std::string& err);
  bool is_open() const { return esys_ != nullptr; }
  // Finalizes ESYS and then the TCTI (ESYS does not finalize a TCTI it was given). Idempotent.
  void close();

  // Finds the SRK at 0x81000001 or creates it (ECC P-256 L-2 template, RSA-2048 L-1 if ECC
  // fails; NODA, AES-128-CFB, SHA-256, empty auth) and persists it. A key there that is not a
  // restricted decryption key is refused. Caches the handle for the calls below.
  bool ensure_srk(SrkInfo& out, std::string& err);
  // The name of the key at 0x81000001 now, read afresh (and the cached handle with it); fails
  // if there is none or it is not a storage key.
  bool srk_name(std::vector<uint8_t>& name_out, std::string& err);

  // Seals secret (1..128 bytes) under the SRK to the current SHA-256 values of the PCRs in
  // pcr_mask (bit i = PCR i, 0..23). pcr_mask 0 = PolicyPCR over an empty selection: no PCR
  // binding, but still only a policy session can unseal it (USERWITHAUTH stays clear).
  // sealed_out = MU(TPM2B_PRIVATE) || MU(TPM2B_PUBLIC). Needs the SRK (ensure_srk).
  bool seal(Bytes secret, uint32_t pcr_mask, std::vector<uint8_t>& sealed_out, std::string& err);
  // The inverse; pcr_mask must be the one given to seal. On failure why says which kind.
  bool unseal(Bytes sealed, uint32_t pcr_mask, SecretBytes& out, TpmError& why, std::string& err);

  // Defines a non-orderly NV counter (NT_COUNTER, AUTHWRITE|AUTHREAD|OWNERREAD|NO_DA, 8 bytes)
  // with auth (exactly 32 bytes) at the first free index from kFirstCounterIndex, increments it
  // once (so it can be read) and returns the index. Needs the SRK (salted session).
  bool define_counter(Bytes auth32, uint32_t& index_out, std::string& err);
  // NV_Increment with the index's auth; retries a few times on TPM2_RC_NV_RATE / RETRY.
  bool increment_counter(uint32_t index, Bytes auth32, std::string& err);
  // NV_Read of the be64 value: with the index's auth, or with owner auth when auth32 is empty.
  bool read_counter(uint32_t index, Bytes auth32, uint64_t& value, std::string& err);

 private:
  bool need_srk(std::string& err);
  bool start(void* tcti, const std::string& name, std::string& err);  // srk_ from 0x81000001 if not cached yet

  void* tcti_ = nullptr;  // TSS2_TCTI_CONTEXT* (tss2 types stay out of this header)
  void* esys_ = nullptr;  // ESYS_CONTEXT*
  uint32_t srk_ = 0xfff;  // ESYS_TR of the SRK; 0xfff = ESYS_TR_NONE
  std::string tcti_conf_;
  bool tcti_from_loader_ = false;  // Tss2_TctiLdr_Finalize (frees it) rather than its finalize
};

}  // namespace vtpm::manager
