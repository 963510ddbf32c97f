// HostTpm over tpm2-tss 3.2.1 ESYS (reference/manager-sealing.md §4, "Recommended design" 1-10):
// systemd's SRK pattern (§2.2), salted HMAC sessions for parameter encryption (§2.3), a PolicyPCR
// KEYEDHASH object for the sealed secret (§2.4, §2.6) and a non-orderly NV counter (§5.2-5.3).
// Groups (PolicyAuthorize, revocation indexes, approvals) are in host_tpm_groups.cpp.
// Every transient handle is flushed and every buffer that held a secret is wiped on every path.
#include "manager/host_tpm.h"
#include "manager/host_tpm_esys.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <cstdio>
#include <cstring>
#include <ctime>

namespace vtpm::manager {

using namespace esys;  // host_tpm_esys.h: the ESYS helpers shared with host_tpm_groups.cpp

const char* tpm_error_name(TpmError e) {
  switch (e) {
    case TpmError::None: return "none";
    case TpmError::BadBlob: return "bad blob";
    case TpmError::WrongTpm: return "wrong TPM";
    case TpmError::PolicyFailed: return "policy failed";
    case TpmError::Lockout: return "lockout";
    case TpmError::Other: return "other";
  }
  return "?";
}

void SecretBytes::assign(const uint8_t* p, size_t n) {
  clear();
  if (n > kMaxSecret) n = kMaxSecret;
  if (n) std::memcpy(bytes_, p, n);
  size_ = n;
}

void SecretBytes::clear() {
  vtpm::store::wipe(bytes_, sizeof(bytes_));
  size_ = 0;
}

namespace {

const TPMT_SYM_DEF_OBJECT kAes128CfbObject = {
    .algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};

TPM2B_PUBLIC srk_template(SrkKind kind) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_FIXEDTPM |
                       TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
  if (kind == SrkKind::Ecc256) {  // TCG Provisioning Guidance template L-2
    p.type = TPM2_ALG_ECC;
    p.parameters.eccDetail.symmetric = kAes128CfbObject;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  } else {  // L-1
    p.type = TPM2_ALG_RSA;
    p.parameters.rsaDetail.symmetric = kAes128CfbObject;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.rsaDetail.keyBits = 2048;
    p.parameters.rsaDetail.exponent = 0;
  }
  return t;
}

// GetCapability(HANDLES) from 0x81000001: is a persistent object there?
TSS2_RC srk_present(ESYS_CONTEXT* c, bool& present) {
  EsysOut<TPMS_CAPABILITY_DATA> data;
  TPMI_YES_NO more = 0;
  TSS2_RC rc = Esys_GetCapability(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                  HostTpm::kSrkHandle, 1, &more, &data.p);
  if (rc != TSS2_RC_SUCCESS) return rc;
  present = data.p->data.handles.count >= 1 &&
            data.p->data.handles.handle[0] == HostTpm::kSrkHandle;
  return TSS2_RC_SUCCESS;
}

// The key at 0x81000001 as an ESYS_TR with its kind and name; refuses one that cannot be a
// storage parent (not a restricted decryption ECC/RSA key).
bool read_srk(ESYS_CONTEXT* c, ESYS_TR& handle, SrkInfo& info, std::string& err) {
  handle = ESYS_TR_NONE;
  ESYS_TR h = ESYS_TR_NONE;
  TSS2_RC rc = Esys_TR_FromTPMPublic(c, HostTpm::kSrkHandle, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &h);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("reading the SRK at 0x81000001 (Esys_TR_FromTPMPublic)", rc);
    return false;
  }
  Closed closer(c);
  closer.handle = h;
  EsysOut<TPM2B_PUBLIC> pub;
  EsysOut<TPM2B_NAME> name;
  EsysOut<TPM2B_NAME> qname;
  rc = Esys_ReadPublic(c, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub.p, &name.p, &qname.p);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_ReadPublic of the SRK at 0x81000001", rc);
    return false;
  }
  const TPMT_PUBLIC& a = pub.p->publicArea;
  const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
                           TPMA_OBJECT_FIXEDPARENT;
  if ((a.type != TPM2_ALG_ECC && a.type != TPM2_ALG_RSA) || (a.objectAttributes & need) != need ||
      (a.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
    err = "the persistent object at 0x81000001 is not a storage key (type " + hex32(a.type) +
          ", attributes " + hex32(a.objectAttributes) + "); refusing to use it as the SRK";
    return false;
  }
  info.kind = a.type == TPM2_ALG_ECC ? SrkKind::Ecc256 : SrkKind::Rsa2048;
  info.name.assign(name.p->name, name.p->name + name.p->size);
  closer.handle = ESYS_TR_NONE;  // keep it
  handle = h;
  return true;
}

}  // namespace

bool HostTpm::open(const std::string& tcti, std::string& err) {
  if (esys_) {
    err = "the host TPM is already open (TCTI \"" + tcti_conf_ + "\")";
    return false;
  }
  TSS2_TCTI_CONTEXT* t = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &t);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("loading the TCTI \"" + tcti + "\" (Tss2_TctiLdr_Initialize)", rc);
    return false;
  }
  tcti_from_loader_ = true;
  return start(t, tcti, err);
}

bool HostTpm::open_context(void* tcti_context, const std::string& name, std::string& err) {
  if (esys_) {
    err = "the host TPM is already open (TCTI \"" + tcti_conf_ + "\")";
    return false;
  }
  tcti_from_loader_ = false;
  return start(static_cast<TSS2_TCTI_CONTEXT*>(tcti_context), name, err);
}

// Esys_Initialize and TPM2_Startup(CLEAR) over `t`, which this object then owns.
bool HostTpm::start(void* tcti, const std::string& name, std::string& err) {
  TSS2_TCTI_CONTEXT* t = static_cast<TSS2_TCTI_CONTEXT*>(tcti);
  tcti_ = t;
  ESYS_CONTEXT* c = nullptr;
  TSS2_RC rc = Esys_Initialize(&c, t, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    close();
    err = failed("Esys_Initialize over the TCTI \"" + name + "\"", rc);
    return false;
  }
  esys_ = c;
  rc = Esys_Startup(c, TPM2_SU_CLEAR);
  if (rc != TSS2_RC_SUCCESS && tpm_rc(rc) != TPM2_RC_INITIALIZE) {
    close();
    err = failed("TPM2_Startup(CLEAR) over the TCTI \"" + name + "\"", rc);
    return false;
  }
  tcti_conf_ = name;
  srk_ = ESYS_TR_NONE;
  return true;
}

void HostTpm::close() {
  if (esys_) {
    ESYS_CONTEXT* c = ctx_of(esys_);
    Esys_Finalize(&c);  // frees every ESYS_TR (the SRK's included); flushes nothing in the TPM
    esys_ = nullptr;
  }
  if (tcti_) {
    TSS2_TCTI_CONTEXT* t = static_cast<TSS2_TCTI_CONTEXT*>(tcti_);
    if (tcti_from_loader_) {
      Tss2_TctiLdr_Finalize(&t);
    } else {
      Tss2_Tcti_Finalize(t);  // the caller's in-process TCTI: its own finalize, no free
    }
    tcti_ = nullptr;
  }
  srk_ = ESYS_TR_NONE;
}

bool HostTpm::ensure_srk(SrkInfo& out, std::string& err) {
  if (!esys_) {
    err = "the host TPM is not open";
    return false;
  }
  ESYS_CONTEXT* c = ctx_of(esys_);
  if (srk_ != ESYS_TR_NONE) {
    ESYS_TR old = srk_;
    Esys_TR_Close(c, &old);
    srk_ = ESYS_TR_NONE;
  }
  out = SrkInfo{};
  bool present = false;
  TSS2_RC rc = srk_present(c, present);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_GetCapability(HANDLES) looking for the SRK at 0x81000001", rc);
    return false;
  }
  if (!present) {
    TPM2B_SENSITIVE_CREATE sensitive{};  // empty auth, no data: the TPM makes the key
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION creation{};
    Flushed primary(c);
    TSS2_RC ecc_rc = TSS2_RC_SUCCESS;
    for (SrkKind kind : {SrkKind::Ecc256, SrkKind::Rsa2048}) {
      TPM2B_PUBLIC tmpl = srk_template(kind);
      rc = Esys_CreatePrimary(c, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                              &sensitive, &tmpl, &outside, &creation, &primary.handle, nullptr,
                              nullptr, nullptr, nullptr);
      if (rc == TSS2_RC_SUCCESS) break;
      if (kind == SrkKind::Ecc256) ecc_rc = rc;
    }
    if (rc != TSS2_RC_SUCCESS) {
      err = failed("TPM2_CreatePrimary of the SRK (ECC P-256 failed: " + rc_text(ecc_rc) +
                       "; then RSA-2048)",
                   rc);
      return false;
    }
    ESYS_TR persistent = ESYS_TR_NONE;
    rc = Esys_EvictControl(c, ESYS_TR_RH_OWNER, primary.handle, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, kSrkHandle, &persistent);
    if (rc == TSS2_RC_SUCCESS) {
      Esys_TR_Close(c, &persistent);  // read_srk below makes the handle we keep
      out.created = true;
    } else if (tpm_rc(rc) != TPM2_RC_NV_DEFINED) {  // NV_DEFINED: another process won the race
      err = failed("TPM2_EvictControl of the new SRK to 0x81000001", rc);
      return false;
    }
  }
  ESYS_TR h = ESYS_TR_NONE;
  bool created = out.created;
  if (!read_srk(c, h, out, err)) return false;
  out.created = created;
  srk_ = h;
  return true;
}

bool HostTpm::srk_name(std::vector<uint8_t>& name_out, std::string& err) {
  if (!esys_) {
    err = "the host TPM is not open";
    return false;
  }
  ESYS_CONTEXT* c = ctx_of(esys_);
  bool present = false;
  TSS2_RC rc = srk_present(c, present);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_GetCapability(HANDLES) looking for the SRK at 0x81000001", rc);
    return false;
  }
  if (!present) {
    err = "there is no SRK at 0x81000001 (the TPM was cleared, or this is another TPM)";
    return false;
  }
  // One ESYS_TR per TPM handle (ESYS 3.2.1's FromTPMPublic returns an existing one and fails
  // if its name changed): drop the cached SRK handle and keep the one read afresh instead.
  if (srk_ != ESYS_TR_NONE) {
    ESYS_TR old = srk_;
    Esys_TR_Close(c, &old);
    srk_ = ESYS_TR_NONE;
  }
  SrkInfo info;
  ESYS_TR h = ESYS_TR_NONE;
  if (!read_srk(c, h, info, err)) return false;
  srk_ = h;
  name_out = std::move(info.name);
  return true;
}

bool HostTpm::need_srk(std::string& err) {
  if (!esys_) {
    err = "the host TPM is not open";
    return false;
  }
  if (srk_ != ESYS_TR_NONE) return true;
  ESYS_CONTEXT* c = ctx_of(esys_);
  bool present = false;
  TSS2_RC rc = srk_present(c, present);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_GetCapability(HANDLES) looking for the SRK at 0x81000001", rc);
    return false;
  }
  if (!present) {
    err = "there is no SRK at 0x81000001 (ensure_srk first)";
    return false;
  }
  SrkInfo info;
  ESYS_TR h = ESYS_TR_NONE;
  if (!read_srk(c, h, info, err)) return false;
  srk_ = h;
  return true;
}

bool HostTpm::seal(Bytes secret, uint32_t pcr_mask, std::vector<uint8_t>& sealed_out,
                   std::string& err) {
  if (secret.empty() || secret.size() > SecretBytes::kMaxSecret) {
    err = "a sealed secret must be 1.." + std::to_string(SecretBytes::kMaxSecret) +
          " bytes, not " + std::to_string(secret.size());
    return false;
  }
  if (pcr_mask >> 24) {
    err = "PCR mask " + hex32(pcr_mask) + " selects PCRs above 23";
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);

  // The policy digest: a trial session replays PolicyPCR over the current values.
  Flushed trial(c);
  const TPMT_SYM_DEF no_sym = {.algorithm = TPM2_ALG_NULL, .keyBits = {}, .mode = {}};
  TSS2_RC rc = Esys_StartAuthSession(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, nullptr, TPM2_SE_TRIAL, &no_sym,
                                     TPM2_ALG_SHA256, &trial.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_StartAuthSession(TRIAL)", rc);
    return false;
  }
  rc = policy_pcr(c, trial.handle, pcr_mask);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_PolicyPCR (trial) over PCR mask " + hex32(pcr_mask), rc);
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

// TPM2_Create of the KEYEDHASH object holding secret with authPolicy = policy (a salted session
// carries the secret encrypted), then MU(TPM2B_PRIVATE) || MU(TPM2B_PUBLIC).
bool HostTpm::create_sealed(Bytes secret, const uint8_t* policy, size_t policy_len,
                            std::vector<uint8_t>& sealed_out, std::string& err) {
  ESYS_CONTEXT* c = ctx_of(esys_);
  TSS2_RC rc = TSS2_RC_SUCCESS;
  TPM2B_PUBLIC tmpl{};
  TPMT_PUBLIC& p = tmpl.publicArea;
  p.type = TPM2_ALG_KEYEDHASH;
  p.nameAlg = TPM2_ALG_SHA256;
  // No USERWITHAUTH: only a policy session satisfies it. No SENSITIVEDATAORIGIN: we give the data.
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA;
  p.authPolicy.size = static_cast<UINT16>(policy_len);
  std::memcpy(p.authPolicy.buffer, policy, policy_len);
  p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;

  TPM2B_SENSITIVE_CREATE sensitive{};
  std::memcpy(sensitive.sensitive.data.buffer, secret.data(), secret.size());
  sensitive.sensitive.data.size = static_cast<UINT16>(secret.size());
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation{};

  Flushed salted(c);
  rc = start_salted(c, srk_, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    vtpm::store::wipe(&sensitive, sizeof(sensitive));
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  EsysOut<TPM2B_PRIVATE> priv;
  EsysOut<TPM2B_PUBLIC> pub;
  rc = Esys_Create(c, srk_, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &tmpl,
                   &outside, &creation, &priv.p, &pub.p, nullptr, nullptr, nullptr);
  vtpm::store::wipe(&sensitive, sizeof(sensitive));
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("TPM2_Create of the sealed object under the SRK", rc);
    return false;
  }

  std::vector<uint8_t> out(sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_PUBLIC));
  size_t off = 0;
  rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv.p, out.data(), out.size(), &off);
  if (rc == TSS2_RC_SUCCESS) rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub.p, out.data(), out.size(), &off);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("marshalling the sealed object (Tss2_MU)", rc);
    return false;
  }
  out.resize(off);
  sealed_out = std::move(out);
  return true;
}

bool HostTpm::unseal(Bytes sealed, uint32_t pcr_mask, SecretBytes& out, TpmError& why,
                     std::string& err) {
  out.clear();
  why = TpmError::Other;
  if (pcr_mask >> 24) {
    err = "PCR mask " + hex32(pcr_mask) + " selects PCRs above 23";
    return false;
  }
  // Parse first: a bad blob is reported as such whatever the TPM's state.
  if (sealed.empty()) {
    why = TpmError::BadBlob;
    err = "the sealed blob is empty";
    return false;
  }
  TPM2B_PRIVATE priv{};
  TPM2B_PUBLIC pub{};
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(sealed.data(), sealed.size(), &off, &priv);
  if (rc != TSS2_RC_SUCCESS) {
    why = TpmError::BadBlob;
    err = "the sealed blob (" + std::to_string(sealed.size()) +
          " bytes) does not start with a valid TPM2B_PRIVATE: " + Tss2_RC_Decode(rc);
    return false;
  }
  rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(sealed.data(), sealed.size(), &off, &pub);
  if (rc != TSS2_RC_SUCCESS) {
    why = TpmError::BadBlob;
    err = "the sealed blob has no valid TPM2B_PUBLIC at offset " + std::to_string(off) + ": " +
          Tss2_RC_Decode(rc);
    return false;
  }
  if (off != sealed.size()) {
    why = TpmError::BadBlob;
    err = "the sealed blob has " + std::to_string(sealed.size() - off) +
          " trailing bytes after its TPM2B_PUBLIC";
    return false;
  }
  const TPMT_PUBLIC& a = pub.publicArea;
  if (a.type != TPM2_ALG_KEYEDHASH || a.nameAlg != TPM2_ALG_SHA256 ||
      (a.objectAttributes & TPMA_OBJECT_USERWITHAUTH) || a.authPolicy.size != 32) {
    why = TpmError::BadBlob;
    err = "the sealed blob is not a PCR-policy KEYEDHASH object made by seal()";
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);

  Flushed salted(c);
  rc = start_salted(c, srk_, 0, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  Flushed object(c);
  rc = Esys_Load(c, srk_, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &object.handle);
  if (rc != TSS2_RC_SUCCESS) {
    uint32_t t = tpm_rc(rc);
    if (t == TPM2_RC_LOCKOUT) {
      why = TpmError::Lockout;
    } else if (t & TPM2_RC_FMT1) {  // INTEGRITY, SIZE, KEY, ...: the TPM refuses this blob
      why = TpmError::WrongTpm;
    }
    err = failed("TPM2_Load of the sealed object under the SRK (another TPM or SRK, or an altered "
                 "blob)",
                 rc);
    return false;
  }
  // The response's first parameter (the secret) is encrypted by the salted session.
  rc = Esys_TRSess_SetAttributes(c, salted.handle,
                                 TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, 0xff);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("Esys_TRSess_SetAttributes", rc);
    return false;
  }
  for (int attempt = 1;; ++attempt) {
    Flushed policy(c);
    rc = Esys_StartAuthSession(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &kAes128Cfb,
                               TPM2_ALG_SHA256, &policy.handle);
    if (rc != TSS2_RC_SUCCESS) {
      err = failed("TPM2_StartAuthSession(POLICY)", rc);
      return false;
    }
    rc = policy_pcr(c, policy.handle, pcr_mask);
    if (rc != TSS2_RC_SUCCESS) {
      err = failed("TPM2_PolicyPCR over PCR mask " + hex32(pcr_mask), rc);
      return false;
    }
    EsysOut<TPM2B_SENSITIVE_DATA> data;
    data.wipe_bytes = sizeof(TPM2B_SENSITIVE_DATA);
    rc = Esys_Unseal(c, object.handle, policy.handle, salted.handle, ESYS_TR_NONE, &data.p);
    if (rc == TSS2_RC_SUCCESS) {
      if (data.p->size == 0 || data.p->size > SecretBytes::kMaxSecret) {
        err = "TPM2_Unseal returned " + std::to_string(data.p->size) +
              " bytes, not the 1..128 seal() stores";
        return false;
      }
      out.assign(data.p->buffer, data.p->size);
      why = TpmError::None;
      return true;
    }
    uint32_t t = tpm_rc(rc);
    if (t == TPM2_RC_PCR_CHANGED && attempt < kUnsealAttempts) continue;
    if (t == TPM2_RC_POLICY_FAIL || t == TPM2_RC_PCR_CHANGED) {
      why = TpmError::PolicyFailed;
      err = failed("TPM2_Unseal (the PCRs in mask " + hex32(pcr_mask) +
                       " do not hold the values it was sealed to, or it was sealed to another mask)",
                   rc);
    } else {
      if (t == TPM2_RC_LOCKOUT) why = TpmError::Lockout;
      err = failed("TPM2_Unseal", rc);
    }
    return false;
  }
}

bool HostTpm::define_counter(Bytes auth32, uint32_t& index_out, std::string& err) {
  if (auth32.size() != 32) {
    err = "a counter's auth must be 32 bytes, not " + std::to_string(auth32.size());
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  // Not ORDERLY: every increment reaches NV, so a crash never makes it jump (reference §5.3).
  const TPMA_NV attrs = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |
                        TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA;
  uint32_t index = 0;
  if (!define_nv_index(c, srk_, auth32, kFirstCounterIndex, attrs, "the counter", "the counter",
                       index, err))
    return false;
  // An unwritten counter cannot be read; its first increment sets it to the highest value any
  // deleted counter reached (reference §5.2), so a re-defined counter never goes back.
  if (!increment_counter(index, auth32, err)) {
    undefine_nv_index(c, index);
    return false;
  }
  index_out = index;
  return true;
}

bool HostTpm::increment_counter(uint32_t index, Bytes auth32, std::string& err) {
  if (auth32.size() != 32) {
    err = "a counter's auth must be 32 bytes, not " + std::to_string(auth32.size());
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  Closed nv(c);
  if (!open_nv_index(c, index, auth32, nv, err)) return false;
  Flushed salted(c);
  TSS2_RC rc = start_salted(c, srk_, 0, &salted.handle);  // NV_Increment has no parameters to encrypt
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  rc = with_nv_retry([&] { return Esys_NV_Increment(c, nv.handle, nv.handle, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE); });
  if (rc == TSS2_RC_SUCCESS) return true;
  err = failed("TPM2_NV_Increment of NV index " + hex32(index), rc);
  return false;
}

bool HostTpm::read_counter(uint32_t index, Bytes auth32, uint64_t& value, std::string& err) {
  if (!auth32.empty() && auth32.size() != 32) {
    err = "a counter's auth must be 32 bytes (or none, for owner auth), not " +
          std::to_string(auth32.size());
    return false;
  }
  if (!need_srk(err)) return false;
  ESYS_CONTEXT* c = ctx_of(esys_);
  Closed nv(c);
  if (!open_nv_index(c, index, auth32, nv, err)) return false;
  const ESYS_TR authorizer = auth32.empty() ? ESYS_TR_RH_OWNER : nv.handle;
  Flushed salted(c);
  TSS2_RC rc = start_salted(c, srk_, TPMA_SESSION_ENCRYPT, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  EsysOut<TPM2B_MAX_NV_BUFFER> data;
  rc = with_nv_retry([&] {
    return Esys_NV_Read(c, authorizer, nv.handle, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &data.p);
  });
  if (rc != TSS2_RC_SUCCESS) {
    err = failed(std::string("TPM2_NV_Read of NV index ") + hex32(index) +
                     (auth32.empty() ? " with owner auth" : " with its auth"),
                 rc);
    return false;
  }
  if (data.p->size != 8) {
    err = "TPM2_NV_Read of NV index " + hex32(index) + " returned " +
          std::to_string(data.p->size) + " bytes, not a counter's 8";
    return false;
  }
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | data.p->buffer[i];  // TPM counters are big-endian
  value = v;
  return true;
}


}  // namespace vtpm::manager
