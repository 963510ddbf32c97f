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

// A group's signing key (vtpmctl group create --authority) as the TPM needs it: built from the
// PEM/DER SubjectPublicKeyInfo by approval.h; the TPM computes its name (Esys_LoadExternal).
enum class SigningKind : uint8_t { Rsa2048 = 1, EccP256 = 2 };
struct SigningKey {
  SigningKind kind = SigningKind::EccP256;
  std::vector<uint8_t> a;  // RSA modulus (256 bytes) or the ECC point's x (32 bytes)
  std::vector<uint8_t> b;  // the ECC point's y (32 bytes); empty for RSA
  uint32_t exponent = 65537;
};
// A signature over aHash in the TPM's terms: RSASSA-PKCS1-v1_5/SHA-256 (a = the 256-byte
// signature) or ECDSA/SHA-256 (a = r, b = s, each 32 bytes big-endian).
struct TpmSignature {
  std::vector<uint8_t> a;
  std::vector<uint8_t> b;
};
// What a group's approval authorizes (approval.h has the file): PolicyPCR(pcr_mask, pcr_digest)
// then PolicyNV(revocation index, be64 seq, offset 0, TPM_EO_UNSIGNED_LE).
struct ApprovedPolicy {
  uint32_t pcr_mask = 0;
  uint8_t pcr_digest[32] = {};
  uint64_t seq = 0;
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

  // ---- groups: PolicyAuthorize by the group's signing key (runtime/manager/README.md) ----
  static constexpr uint32_t kFirstRevocationIndex = 0x01500200;
  // The TPM's name of `key` (be16 nameAlg SHA-256 || digest): Esys_LoadExternal under the owner
  // hierarchy, Esys_TR_GetName, flushed.
  bool key_name(const SigningKey& key, std::vector<uint8_t>& name_out, std::string& err);
  // SHA-256 over the current SHA-256-bank values of the PCRs in pcr_mask, in index order: the
  // pcrDigest PolicyPCR compares (TPM2_PCR_Read, then TPM2_Hash: no hashing outside the TPM).
  bool pcr_digest(uint32_t pcr_mask, uint8_t out[32], std::string& err);
  // Seals secret under the SRK with authPolicy = PolicyAuthorize(name of key, policy_ref)
  // (computed by the TPM in a trial session). Same blob format as seal().
  bool seal_authorized(Bytes secret, const SigningKey& key, Bytes policy_ref,
                       std::vector<uint8_t>& sealed_out, std::string& err);
  // An ordinary 8-byte NV index (AUTHWRITE|AUTHREAD|NO_DA, auth32) at the first free index from
  // kFirstRevocationIndex, written once with be64 0 (PolicyNV needs it written; its name is
  // fixed from then on). Its value is the lowest approval sequence still valid.
  bool define_revocation(Bytes auth32, uint32_t& index_out, std::string& err);
  // NV_Write of be64 value (the caller only ever raises it). read_counter reads it.
  bool write_revocation(uint32_t index, Bytes auth32, uint64_t value, std::string& err);
  // The approvedPolicy digest of `p` against revocation index `index` (a trial session:
  // PolicyPCR(p.pcr_digest), PolicyNV(index, be64 p.seq, 0, UNSIGNED_LE), PolicyGetDigest).
  bool approved_policy(uint32_t index, Bytes auth32, const ApprovedPolicy& p, uint8_t out[32],
                       std::string& err);
  // TPM2_VerifySignature of sig over digest32 by key (loaded external, owner hierarchy).
  bool verify_signature(const SigningKey& key, Bytes digest32, const TpmSignature& sig,
                        std::string& err);
  // Unseals a seal_authorized blob: policy session, PolicyPCR(p) + PolicyNV(index, p.seq),
  // VerifySignature(SHA-256(approvedPolicy || policy_ref)) -> ticket, PolicyAuthorize, Unseal
  // (response encrypted by the salted session). PolicyFailed: the PCRs differ from p's digest,
  // or the index is above p.seq (revoked), or the signature does not verify.
  bool unseal_authorized(Bytes sealed, const SigningKey& key, Bytes policy_ref, uint32_t index,
                         Bytes auth32, const ApprovedPolicy& p, const TpmSignature& sig,
                         SecretBytes& out, TpmError& why, std::string& err);

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
  bool create_sealed(Bytes secret, const uint8_t* policy, size_t policy_len,
                     std::vector<uint8_t>& sealed_out, std::string& err);
  bool load_external(const SigningKey& key, uint32_t& handle_out, std::string& err);
  bool start(void* tcti, const std::string& name, std::string& err);  // srk_ from 0x81000001 if not cached yet

  void* tcti_ = nullptr;  // TSS2_TCTI_CONTEXT* (tss2 types stay out of this header)
  void* esys_ = nullptr;  // ESYS_CONTEXT*
  uint32_t srk_ = 0xfff;  // ESYS_TR of the SRK; 0xfff = ESYS_TR_NONE
  std::string tcti_conf_;
  bool tcti_from_loader_ = false;  // Tss2_TctiLdr_Finalize (frees it) rather than its finalize
};

}  // namespace vtpm::manager
