// HostTpm's group half (reference/manager-sealing.md §1.7, "Recommended design"): a group secret
// sealed under PolicyAuthorize by the group's signing key, approvals = PolicyPCR + PolicyNV on a
// per-group revocation index, checked by TPM2_VerifySignature. Split from host_tpm.cpp to keep
// each file readable; the ESYS helpers both use are in host_tpm_esys.h.
#include "manager/host_tpm.h"
#include "manager/host_tpm_esys.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include <cstring>

namespace vtpm::manager {

using namespace esys;

// ---- groups: PolicyAuthorize by a signing key over PolicyPCR + PolicyNV approvals ----
namespace {

const TPMT_SYM_DEF kNoSym = {.algorithm = TPM2_ALG_NULL, .keyBits = {}, .mode = {}};

TPM2B_PUBLIC external_public(const SigningKey& key) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
  if (key.kind == SigningKind::Rsa2048) {
    p.type = TPM2_ALG_RSA;
    p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    p.parameters.rsaDetail.keyBits = 2048;
    p.parameters.rsaDetail.exponent = key.exponent == 65537 ? 0 : key.exponent;
    p.unique.rsa.size = static_cast<UINT16>(key.a.size());
    std::memcpy(p.unique.rsa.buffer, key.a.data(), key.a.size());
  } else {
    p.type = TPM2_ALG_ECC;
    p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = static_cast<UINT16>(key.a.size());
    std::memcpy(p.unique.ecc.x.buffer, key.a.data(), key.a.size());
    p.unique.ecc.y.size = static_cast<UINT16>(key.b.size());
    std::memcpy(p.unique.ecc.y.buffer, key.b.data(), key.b.size());
  }
  return t;
}

bool key_shape_ok(const SigningKey& key, std::string& err) {
  const bool ok = key.kind == SigningKind::Rsa2048
                      ? key.a.size() == 256 && key.b.empty()
                      : key.kind == SigningKind::EccP256 && key.a.size() == 32 && key.b.size() == 32;
  if (!ok) err = "the group's signing key is neither an RSA-2048 nor an ECC P-256 public key";
  return ok;
}

bool tpm_signature(const SigningKey& key, const TpmSignature& sig, TPMT_SIGNATURE& out,
                   std::string& err) {
  out = TPMT_SIGNATURE{};
  if (key.kind == SigningKind::Rsa2048) {
    if (sig.a.size() != 256 || !sig.b.empty()) {
      err = "an RSA-2048 signature is 256 bytes, not " + std::to_string(sig.a.size());
      return false;
    }
    out.sigAlg = TPM2_ALG_RSASSA;
    out.signature.rsassa.hash = TPM2_ALG_SHA256;
    out.signature.rsassa.sig.size = 256;
    std::memcpy(out.signature.rsassa.sig.buffer, sig.a.data(), 256);
    return true;
  }
  if (sig.a.size() != 32 || sig.b.size() != 32) {
    err = "an ECDSA P-256 signature is r and s of 32 bytes each";
    return false;
  }
  out.sigAlg = TPM2_ALG_ECDSA;
  out.signature.ecdsa.hash = TPM2_ALG_SHA256;
  out.signature.ecdsa.signatureR.size = 32;
  std::memcpy(out.signature.ecdsa.signatureR.buffer, sig.a.data(), 32);
  out.signature.ecdsa.signatureS.size = 32;
  std::memcpy(out.signature.ecdsa.signatureS.buffer, sig.b.data(), 32);
  return true;
}

// PolicyPCR with the approval's explicit digest (a real session checks it against the PCRs
// now, TPM_RC_VALUE if they differ; a trial one just takes it), then PolicyNV: the index's
// be64 value <= seq (Part 3 §23.9: operandA = NV data at offset, operandB = ours, A <op> B).
TSS2_RC approved_steps(ESYS_CONTEXT* c, ESYS_TR session, ESYS_TR nv, ESYS_TR auth_session,
                       const ApprovedPolicy& p, const char*& step) {
  TPM2B_DIGEST digest{};
  digest.size = 32;
  std::memcpy(digest.buffer, p.pcr_digest, 32);
  TPML_PCR_SELECTION sel = pcr_selection(p.pcr_mask);
  step = "TPM2_PolicyPCR";
  TSS2_RC rc = Esys_PolicyPCR(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &sel);
  if (rc != TSS2_RC_SUCCESS) return rc;
  TPM2B_OPERAND operand{};
  operand.size = 8;
  for (int i = 0; i < 8; ++i) operand.buffer[i] = static_cast<uint8_t>(p.seq >> (56 - 8 * i));
  step = "TPM2_PolicyNV";
  return Esys_PolicyNV(c, nv, nv, session, auth_session, ESYS_TR_NONE, ESYS_TR_NONE, &operand, 0,
                       TPM2_EO_UNSIGNED_LE);
}

// The sealed blob's two halves, checked as unseal() checks them.
bool parse_sealed(Bytes sealed, TPM2B_PRIVATE& priv, TPM2B_PUBLIC& pub, std::string& err) {
  size_t off = 0;
  if (sealed.empty() ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(sealed.data(), sealed.size(), &off, &priv) != TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PUBLIC_Unmarshal(sealed.data(), sealed.size(), &off, &pub) != TSS2_RC_SUCCESS ||
      off != sealed.size()) {
    err = "the group's sealed blob (" + std::to_string(sealed.size()) +
          " bytes) is not MU(TPM2B_PRIVATE) || MU(TPM2B_PUBLIC) with nothing after it";
    return false;
  }
  const TPMT_PUBLIC& a = pub.publicArea;
  if (a.type != TPM2_ALG_KEYEDHASH || a.nameAlg != TPM2_ALG_SHA256 ||
      (a.objectAttributes & TPMA_OBJECT_USERWITHAUTH) || a.authPolicy.size != 32) {
    err = "the group's sealed blob is not a policy KEYEDHASH object made by seal_authorized()";
    return false;
  }
  return true;
}

bool nonce_of(Bytes policy_ref, TPM2B_NONCE& out, std::string& err) {
  out = TPM2B_NONCE{};
  if (policy_ref.size() > 32) {  // the policy hash's size: what every TPM accepts
    err = "a policyRef is at most 32 bytes, not " + std::to_string(policy_ref.size());
    return false;
  }
  out.size = static_cast<UINT16>(policy_ref.size());
  if (!policy_ref.empty()) std::memcpy(out.buffer, policy_ref.data(), policy_ref.size());
  return true;
}

}  // namespace

bool HostTpm::load_external(const SigningKey& key, uint32_t& handle_out, std::string& err) {
  if (!key_shape_ok(key, err)) return false;
  if (!esys_) {
    err = "the host TPM is not open";
    return false;
  }
  ESYS_CONTEXT* c = ctx_of(esys_);
  TPM2B_PUBLIC pub = external_public(key);
  ESYS_TR h = ESYS_TR_NONE;
  // The owner hierarchy, not NULL: a key loaded under NULL gets NULL tickets (reference §4.3).
  TSS2_RC rc = Esys_LoadExternal(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, &pub,
                                 ESYS_TR_RH_OWNER, &h);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_LoadExternal of the group's signing key", rc);
    return false;
  }
  handle_out = h;
  return true;
}

bool HostTpm::key_name(const SigningKey& key, std::vector<uint8_t>& name_out, std::string& err) {
  uint32_t h = ESYS_TR_NONE;
  if (!load_external(key, h, err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  Flushed loaded(c);
  loaded.handle = h;
  EsysOut<TPM2B_NAME> name;
  TSS2_RC rc = Esys_TR_GetName(c, h, &name.p);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("Esys_TR_GetName of the group's signing key", rc);
    return false;
  }
  name_out.assign(name.p->name, name.p->name + name.p->size);
  return true;
}

bool HostTpm::pcr_digest(uint32_t pcr_mask, uint8_t out[32], std::string& err) {
  if (pcr_mask >> 24) {
    err = "PCR mask " + hex32(pcr_mask) + " selects PCRs above 23";
    return false;
  }
  if (!esys_) {
    err = "the host TPM is not open";
    return false;
  }
  ESYS_CONTEXT* c = ctx_of(esys_);
  TPM2B_MAX_BUFFER values{};
  // PCR_Read answers at most 8 digests per call: read until every selected PCR is in.
  uint32_t left = pcr_mask;
  for (int round = 0; left && round < 24; ++round) {
    TPML_PCR_SELECTION sel = pcr_selection(left);
    EsysOut<TPML_PCR_SELECTION> got;
    EsysOut<TPML_DIGEST> digests;
    UINT32 counter = 0;
    TSS2_RC rc = Esys_PCR_Read(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
                               &got.p, &digests.p);
    if (rc != TSS2_RC_SUCCESS) {
      err = failed("TPM2_PCR_Read of PCR mask " + hex32(left), rc);
      return false;
    }
    uint32_t read = 0;
    if (got.p->count == 1 && got.p->pcrSelections[0].hash == TPM2_ALG_SHA256)
      for (int i = 0; i < 3 && i < got.p->pcrSelections[0].sizeofSelect; ++i)
        read |= uint32_t{got.p->pcrSelections[0].pcrSelect[i]} << (8 * i);
    read &= left;
    if (read == 0 || static_cast<uint32_t>(__builtin_popcount(read)) != digests.p->count) {
      err = "TPM2_PCR_Read did not answer the SHA-256 PCRs of mask " + hex32(left) +
            " (is the SHA-256 bank allocated?)";
      return false;
    }
    // The answer is the lowest selected PCRs, in index order (Part 3 §22.4).
    uint32_t expect = 0, rest = left;
    for (uint32_t k = 0; k < digests.p->count; ++k) {
      expect |= rest & (0u - rest);
      rest &= rest - 1;
    }
    if (read != expect) {
      err = "TPM2_PCR_Read answered PCRs out of order";
      return false;
    }
    for (uint32_t k = 0; k < digests.p->count; ++k) {
      const TPM2B_DIGEST& d = digests.p->digests[k];
      if (d.size != 32 || size_t{values.size} + 32 > sizeof(values.buffer)) {
        err = "TPM2_PCR_Read returned a digest that is not SHA-256";
        return false;
      }
      std::memcpy(values.buffer + values.size, d.buffer, 32);
      values.size = static_cast<UINT16>(values.size + 32);
    }
    left &= ~read;
  }
  if (left) {
    err = "TPM2_PCR_Read did not answer every PCR of mask " + hex32(pcr_mask);
    return false;
  }
  EsysOut<TPM2B_DIGEST> hash;
  EsysOut<TPMT_TK_HASHCHECK> ticket;
  TSS2_RC rc = Esys_Hash(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &values, TPM2_ALG_SHA256,
                         ESYS_TR_RH_NULL, &hash.p, &ticket.p);
  if (rc != TSS2_RC_SUCCESS || hash.p->size != 32) {
    err = failed("TPM2_Hash of the PCR values", rc);
    return false;
  }
  std::memcpy(out, hash.p->buffer, 32);
  return true;
}

bool HostTpm::seal_authorized(Bytes secret, const SigningKey& key, Bytes policy_ref,
                              std::vector<uint8_t>& sealed_out, std::string& err) {
  if (secret.empty() || secret.size() > SecretBytes::kMaxSecret) {
    err = "a sealed secret must be 1.." + std::to_string(SecretBytes::kMaxSecret) + " bytes";
    return false;
  }
  TPM2B_NONCE ref{};
  if (!nonce_of(policy_ref, ref, err)) return false;
  std::vector<uint8_t> name;
  if (!key_name(key, name, err)) return false;
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  Flushed trial(c);
  TSS2_RC rc = Esys_StartAuthSession(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, nullptr, TPM2_SE_TRIAL, &kNoSym,
                                     TPM2_ALG_SHA256, &trial.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_StartAuthSession(TRIAL)", rc);
    return false;
  }
  TPM2B_DIGEST approved{};
  TPM2B_NAME key_sign{};
  key_sign.size = static_cast<UINT16>(name.size());
  std::memcpy(key_sign.name, name.data(), name.size());
  TPMT_TK_VERIFIED none{};
  none.tag = TPM2_ST_VERIFIED;
  none.hierarchy = TPM2_RH_NULL;
  rc = Esys_PolicyAuthorize(c, trial.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &approved,
                            &ref, &key_sign, &none);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_PolicyAuthorize (trial)", rc);
    return false;
  }
  EsysOut<TPM2B_DIGEST> digest;
  rc = Esys_PolicyGetDigest(c, trial.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest.p);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_PolicyGetDigest", rc);
    return false;
  }
  return create_sealed(secret, digest.p->buffer, digest.p->size, sealed_out, err);
}

bool HostTpm::define_revocation(Bytes auth32, uint32_t& index_out, std::string& err) {
  if (auth32.size() != 32) {
    err = "a revocation index's auth must be 32 bytes";
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  const TPMA_NV attrs = (TPM2_NT_ORDINARY << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |
                        TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA;
  uint32_t index = 0;
  if (!define_nv_index(c, srk_, auth32, kFirstRevocationIndex, attrs, "the revocation index",
                       "a revocation index", index, err))
    return false;
  if (!write_revocation(index, auth32, 0, err)) {
    undefine_nv_index(c, index);
    return false;
  }
  index_out = index;
  return true;
}

bool HostTpm::write_revocation(uint32_t index, Bytes auth32, uint64_t value, std::string& err) {
  if (auth32.size() != 32) {
    err = "a revocation index's auth must be 32 bytes";
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  Closed nv(c);
  if (!open_nv_index(c, index, auth32, nv, err)) return false;
  Flushed salted(c);
  TSS2_RC rc = start_salted(c, srk_, 0, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  TPM2B_MAX_NV_BUFFER data{};
  data.size = 8;
  for (int i = 0; i < 8; ++i) data.buffer[i] = static_cast<uint8_t>(value >> (56 - 8 * i));
  rc = with_nv_retry([&] {
    return Esys_NV_Write(c, nv.handle, nv.handle, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE,
                         &data, 0);
  });
  if (rc == TSS2_RC_SUCCESS) return true;
  err = failed("TPM2_NV_Write of revocation index " + hex32(index), rc);
  return false;
}

bool HostTpm::approved_policy(uint32_t index, Bytes auth32, const ApprovedPolicy& p,
                              uint8_t out[32], std::string& err) {
  if (p.pcr_mask >> 24) {
    err = "PCR mask " + hex32(p.pcr_mask) + " selects PCRs above 23";
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  Closed nv(c);
  if (!open_nv_index(c, index, auth32, nv, err)) return false;
  Flushed salted(c);
  TSS2_RC rc = start_salted(c, srk_, 0, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  Flushed trial(c);
  rc = Esys_StartAuthSession(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                             ESYS_TR_NONE, nullptr, TPM2_SE_TRIAL, &kNoSym, TPM2_ALG_SHA256,
                             &trial.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_StartAuthSession(TRIAL)", rc);
    return false;
  }
  const char* step = "";
  rc = approved_steps(c, trial.handle, nv.handle, salted.handle, p, step);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed(std::string(step) + " (trial)", rc);
    return false;
  }
  EsysOut<TPM2B_DIGEST> digest;
  rc = Esys_PolicyGetDigest(c, trial.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest.p);
  if (rc != TSS2_RC_SUCCESS || digest.p->size != 32) {
    err = failed("TPM2_PolicyGetDigest", rc);
    return false;
  }
  std::memcpy(out, digest.p->buffer, 32);
  return true;
}

bool HostTpm::verify_signature(const SigningKey& key, Bytes digest32, const TpmSignature& sig,
                               std::string& err) {
  if (digest32.size() != 32) {
    err = "the signed digest must be 32 bytes";
    return false;
  }
  TPMT_SIGNATURE s{};
  if (!tpm_signature(key, sig, s, err)) return false;
  uint32_t h = ESYS_TR_NONE;
  if (!load_external(key, h, err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  Flushed loaded(c);
  loaded.handle = h;
  TPM2B_DIGEST d{};
  d.size = 32;
  std::memcpy(d.buffer, digest32.data(), 32);
  EsysOut<TPMT_TK_VERIFIED> ticket;
  TSS2_RC rc = Esys_VerifySignature(c, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d, &s,
                                    &ticket.p);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_VerifySignature (the approval is not signed by the group's key)", rc);
    return false;
  }
  return true;
}

bool HostTpm::unseal_authorized(Bytes sealed, const SigningKey& key, Bytes policy_ref,
                                uint32_t index, Bytes auth32, const ApprovedPolicy& p,
                                const TpmSignature& sig, SecretBytes& out, TpmError& why,
                                std::string& err) {
  out.clear();
  why = TpmError::Other;
  TPM2B_PRIVATE priv{};
  TPM2B_PUBLIC pub{};
  if (!parse_sealed(sealed, priv, pub, err)) {
    why = TpmError::BadBlob;
    return false;
  }
  TPM2B_NONCE ref{};
  TPMT_SIGNATURE s{};
  if (!nonce_of(policy_ref, ref, err) || !tpm_signature(key, sig, s, err)) return false;
  if (p.pcr_mask >> 24) {
    err = "PCR mask " + hex32(p.pcr_mask) + " selects PCRs above 23";
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  uint32_t kh = ESYS_TR_NONE;
  if (!load_external(key, kh, err)) return false;
  Flushed signer(c);
  signer.handle = kh;
  EsysOut<TPM2B_NAME> key_name_out;
  TSS2_RC rc = Esys_TR_GetName(c, kh, &key_name_out.p);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("Esys_TR_GetName of the group's signing key", rc);
    return false;
  }
  Closed nv(c);
  if (!open_nv_index(c, index, auth32, nv, err)) return false;
  Flushed salted(c);
  rc = start_salted(c, srk_, 0, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  Flushed object(c);
  rc = Esys_Load(c, srk_, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &object.handle);
  if (rc != TSS2_RC_SUCCESS) {
    const uint32_t t = tpm_rc(rc);
    if (t == TPM2_RC_LOCKOUT) why = TpmError::Lockout;
    else if (t & TPM2_RC_FMT1) why = TpmError::WrongTpm;
    err = failed("TPM2_Load of the group's sealed object under the SRK", rc);
    return false;
  }
  for (int attempt = 1;; ++attempt) {
    Flushed policy(c);
    rc = Esys_StartAuthSession(c, srk_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               nullptr, TPM2_SE_POLICY, &kAes128Cfb, TPM2_ALG_SHA256,
                               &policy.handle);
    if (rc != TSS2_RC_SUCCESS) {
      err = failed("TPM2_StartAuthSession(POLICY, salted)", rc);
      return false;
    }
    const char* step = "";
    rc = approved_steps(c, policy.handle, nv.handle, salted.handle, p, step);
    if (rc != TSS2_RC_SUCCESS) {
      const uint32_t t = tpm_rc(rc);
      if (t == TPM2_RC_PCR_CHANGED && attempt < kUnsealAttempts) continue;
      // PolicyPCR: TPM_RC_VALUE = the PCRs are not the approved ones; PolicyNV: POLICY = the
      // index is above the approval's sequence (a newer approval revoked it).
      if (t == TPM2_RC_VALUE || t == TPM2_RC_POLICY || t == TPM2_RC_PCR_CHANGED) why = TpmError::PolicyFailed;
      err = std::string(step) == "TPM2_PolicyPCR"
                ? failed("TPM2_PolicyPCR (the PCRs now are not the ones the approval names)", rc)
                : failed("TPM2_PolicyNV (the approval's sequence " + std::to_string(p.seq) +
                             " was revoked by a newer approval)",
                         rc);
      return false;
    }
    EsysOut<TPM2B_DIGEST> approved;
    rc = Esys_PolicyGetDigest(c, policy.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              &approved.p);
    if (rc != TSS2_RC_SUCCESS || approved.p->size != 32) {
      err = failed("TPM2_PolicyGetDigest", rc);
      return false;
    }
    // aHash = H(approvedPolicy || policyRef) (Part 3 §23.16), hashed by the TPM.
    TPM2B_MAX_BUFFER tbs{};
    std::memcpy(tbs.buffer, approved.p->buffer, 32);
    if (ref.size) std::memcpy(tbs.buffer + 32, ref.buffer, ref.size);
    tbs.size = static_cast<UINT16>(32 + ref.size);
    EsysOut<TPM2B_DIGEST> ahash;
    EsysOut<TPMT_TK_HASHCHECK> hash_ticket;
    rc = Esys_Hash(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tbs, TPM2_ALG_SHA256,
                   ESYS_TR_RH_NULL, &ahash.p, &hash_ticket.p);
    if (rc != TSS2_RC_SUCCESS) {
      err = failed("TPM2_Hash of approvedPolicy || policyRef", rc);
      return false;
    }
    EsysOut<TPMT_TK_VERIFIED> ticket;
    rc = Esys_VerifySignature(c, kh, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ahash.p, &s,
                              &ticket.p);
    if (rc != TSS2_RC_SUCCESS) {
      why = TpmError::PolicyFailed;
      err = failed("TPM2_VerifySignature (the approval is not signed by the group's key)", rc);
      return false;
    }
    rc = Esys_PolicyAuthorize(c, policy.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              approved.p, &ref, key_name_out.p, ticket.p);
    if (rc != TSS2_RC_SUCCESS) {
      why = TpmError::PolicyFailed;
      err = failed("TPM2_PolicyAuthorize", rc);
      return false;
    }
    rc = Esys_TRSess_SetAttributes(c, salted.handle,
                                   TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, 0xff);
    if (rc != TSS2_RC_SUCCESS) {
      err = failed("Esys_TRSess_SetAttributes", rc);
      return false;
    }
    EsysOut<TPM2B_SENSITIVE_DATA> data;
    data.wipe_bytes = sizeof(TPM2B_SENSITIVE_DATA);
    rc = Esys_Unseal(c, object.handle, policy.handle, salted.handle, ESYS_TR_NONE, &data.p);
    // Back to no encryption for the PolicyNV authorizations of a retry.
    Esys_TRSess_SetAttributes(c, salted.handle, TPMA_SESSION_CONTINUESESSION, 0xff);
    if (rc == TSS2_RC_SUCCESS) {
      if (data.p->size == 0 || data.p->size > SecretBytes::kMaxSecret) {
        err = "TPM2_Unseal returned " + std::to_string(data.p->size) + " bytes";
        return false;
      }
      out.assign(data.p->buffer, data.p->size);
      why = TpmError::None;
      return true;
    }
    const uint32_t t = tpm_rc(rc);
    if (t == TPM2_RC_PCR_CHANGED && attempt < kUnsealAttempts) continue;
    if (t == TPM2_RC_POLICY_FAIL || t == TPM2_RC_PCR_CHANGED) why = TpmError::PolicyFailed;
    err = failed("TPM2_Unseal of the group's secret", rc);
    return false;
  }
}


}  // namespace vtpm::manager
