// A group's signed approval (vtpmctl group approval-request / group approve, issue 8): the file
// format and its checked parser, the group's signing key from its PEM/DER SubjectPublicKeyInfo,
// and the OpenSSL check of the signature. The TPM's own check is HostTpm::verify_signature and
// unseal_authorized. Format (runtime/manager/README.md, "Group approvals"):
//   "VTPMAPR1" | be16 version 1 | u8 name_len (1..64) | name | be64 seq (≥ 1) |
//   be32 pcr_mask (PCRs 0..23) | pcr_digest[32] | approved_policy[32] | signature (the rest)
// The signer signs TBS = approved_policy || name (policyRef = the group name) with SHA-256:
// `openssl dgst -sha256 -sign KEY -out SIG TBS`; RSA-2048 PKCS#1 v1.5 (256 bytes) or ECDSA P-256
// (DER, 8..72 bytes). aHash = SHA-256(TBS), what TPM2_PolicyAuthorize's ticket covers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "manager/host_tpm.h"

namespace vtpm::manager {

inline constexpr char kApprovalMagic[8] = {'V', 'T', 'P', 'M', 'A', 'P', 'R', '1'};
inline constexpr size_t kApprovalMaxName = 32;  // policyRef ≤ 32 bytes on every TPM
inline constexpr size_t kApprovalFixed = 8 + 2 + 1 + 8 + 4 + 32 + 32;  // without name, signature
inline constexpr size_t kApprovalMaxSignature = 256;
inline constexpr size_t kApprovalMaxBytes = kApprovalFixed + kApprovalMaxName + kApprovalMaxSignature;

struct Approval {
  std::string group;
  ApprovedPolicy policy;             // pcr_mask, pcr_digest, seq
  uint8_t approved_policy[32] = {};  // the signer's copy; the manager recomputes and compares
  std::vector<uint8_t> signature;    // as openssl wrote it (RSA raw, ECDSA DER)
};

enum class ApprovalError : uint8_t {
  None,
  Truncated,     // shorter than its fields say
  TooLong,       // over kApprovalMaxBytes
  BadMagic,
  BadVersion,
  BadName,       // name_len 0 or over kApprovalMaxName
  BadSeq,        // 0
  BadMask,       // 0 or PCRs above 23
  BadSignature,  // signature length out of range
};
const char* approval_error_name(ApprovalError e);

ApprovalError parse_approval(const uint8_t* p, size_t n, Approval& out, std::string& err);
// The file without its signature (what approval-request writes), and TBS.
void encode_approval_request(const Approval& a, std::vector<uint8_t>& out);
void approval_tbs(const Approval& a, std::vector<uint8_t>& out);
void encode_approval(const Approval& a, std::vector<uint8_t>& out);  // request || signature

// PEM or DER SubjectPublicKeyInfo -> the key (RSA-2048 or ECC P-256 only) and its DER form.
bool parse_group_key(const uint8_t* p, size_t n, SigningKey& key, std::vector<uint8_t>& spki_der,
                     std::string& err);
// OpenSSL: the signature over TBS with SHA-256 by the SPKI's key; and the TPM form of it.
bool verify_approval_openssl(const std::vector<uint8_t>& spki_der, const Approval& a,
                             std::string& err);
bool approval_tpm_signature(const SigningKey& key, const Approval& a, TpmSignature& out,
                            std::string& err);
// SHA-256(approved_policy || name).
void approval_ahash(const Approval& a, uint8_t out[32]);

}  // namespace vtpm::manager
