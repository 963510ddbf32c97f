// HostTpm over tpm2-tss 3.2.1 ESYS (reference/manager-sealing.md §4, "Recommended design" 1-10):
// systemd's SRK pattern (§2.2), salted HMAC sessions for parameter encryption (§2.3), a PolicyPCR
// KEYEDHASH object for the sealed secret (§2.4, §2.6) and a non-orderly NV counter (§5.2-5.3).
// Every transient handle is flushed and every buffer that held a secret is wiped on every path.
#include "manager/host_tpm.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <cstdio>
#include <cstring>
#include <ctime>

namespace vtpm::manager {

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

constexpr int kUnsealAttempts = 3;   // TPM2_RC_PCR_CHANGED: a PCR moved between PolicyPCR and Unseal
constexpr int kNvAttempts = 6;       // TPM2_RC_NV_RATE / RETRY / NV_UNAVAILABLE
constexpr int kFirstBackoffMs = 10;  // doubled per attempt: at most ~0.3 s in all

static_assert(ESYS_TR_NONE == 0xfff, "host_tpm.h initialises srk_ to ESYS_TR_NONE as 0xfff");
static_assert(sizeof(ESYS_TR) == sizeof(uint32_t), "host_tpm.h keeps an ESYS_TR in a uint32_t");

ESYS_CONTEXT* ctx_of(void* p) { return static_cast<ESYS_CONTEXT*>(p); }

// The TPM's own response code without the handle/session/parameter number, or 0 if rc is not
// from the TPM layer (a TSS or TCTI error).
uint32_t tpm_rc(TSS2_RC rc) {
  if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER) return 0;
  if (rc & TPM2_RC_FMT1) return rc & (TPM2_RC_FMT1 | 0x3f);
  return rc & 0xffff;
}

std::string rc_text(TSS2_RC rc) {
  char code[16];
  std::snprintf(code, sizeof(code), "0x%08x", static_cast<unsigned>(rc));
  return std::string(Tss2_RC_Decode(rc)) + " (" + code + ")";
}

std::string failed(const std::string& what, TSS2_RC rc) { return what + " failed: " + rc_text(rc); }

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof(b), "0x%08x", static_cast<unsigned>(v));
  return b;
}

void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

bool retryable_nv(TSS2_RC rc) {
  uint32_t t = tpm_rc(rc);
  return t == TPM2_RC_NV_RATE || t == TPM2_RC_RETRY || t == TPM2_RC_NV_UNAVAILABLE ||
         t == TPM2_RC_YIELDED || t == TPM2_RC_TESTING;
}

// Flushes a transient object or session when it goes out of scope.
struct Flushed {
  ESYS_CONTEXT* ctx;
  ESYS_TR handle = ESYS_TR_NONE;
  explicit Flushed(ESYS_CONTEXT* c) : ctx(c) {}
  ~Flushed() {
    if (handle != ESYS_TR_NONE) Esys_FlushContext(ctx, handle);
  }
  Flushed(const Flushed&) = delete;
  Flushed& operator=(const Flushed&) = delete;
};

// Overwrites the auth value ESYS keeps in an ESYS_TR (it copies the whole TPM2B_AUTH, so a
// zeroed one wipes the old bytes; Esys_TR_Close frees the node without wiping), then closes it.
void scrub_and_close(ESYS_CONTEXT* c, ESYS_TR& handle) {
  const TPM2B_AUTH zero{};
  Esys_TR_SetAuth(c, handle, &zero);
  Esys_TR_Close(c, &handle);
}

// Closes (without flushing: NV and persistent handles stay in the TPM) an ESYS_TR.
struct Closed {
  ESYS_CONTEXT* ctx;
  ESYS_TR handle = ESYS_TR_NONE;
  explicit Closed(ESYS_CONTEXT* c) : ctx(c) {}
  ~Closed() {
    if (handle != ESYS_TR_NONE) scrub_and_close(ctx, handle);
  }
  Closed(const Closed&) = delete;
  Closed& operator=(const Closed&) = delete;
};

// Holds memory ESYS allocated; frees it (after an optional wipe) when it goes.
template <typename T>
struct EsysOut {
  T* p = nullptr;
  size_t wipe_bytes = 0;
  ~EsysOut() {
    if (p && wipe_bytes) vtpm::store::wipe(p, wipe_bytes);
    Esys_Free(p);
  }
  EsysOut() = default;
  EsysOut(const EsysOut&) = delete;
  EsysOut& operator=(const EsysOut&) = delete;
};

const TPMT_SYM_DEF kAes128Cfb = {
    .algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};

// A session salted to the SRK's public key (the salt is encrypted to it, so only this TPM can
// learn the session key), AES-128-CFB parameter encryption. attrs: which of DECRYPT (first
// command TPM2B) and ENCRYPT (first response TPM2B) the command it is used on allows.
TSS2_RC start_salted(ESYS_CONTEXT* c, ESYS_TR srk, TPMA_SESSION attrs, ESYS_TR* out) {
  TSS2_RC rc = Esys_StartAuthSession(c, srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &kAes128Cfb,
                                     TPM2_ALG_SHA256, out);
  if (rc != TSS2_RC_SUCCESS) return rc;
  return Esys_TRSess_SetAttributes(c, *out, attrs | TPMA_SESSION_CONTINUESESSION, 0xff);
}

TPML_PCR_SELECTION pcr_selection(uint32_t mask) {
  TPML_PCR_SELECTION sel{};
  if (mask == 0) return sel;  // count 0: the empty selection (see host_tpm.h, seal)
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;  // PCRs 0..23
  for (int i = 0; i < 3; ++i) sel.pcrSelections[0].pcrSelect[i] = (mask >> (8 * i)) & 0xff;
  return sel;
}

// PolicyPCR with an empty pcrDigest: the TPM takes the current values of the selected PCRs
// (TPM 2.0 Part 3 §23.7). In a trial session that yields the digest to seal to; in a real one
// the digest is then compared by Unseal against the object's authPolicy.
TSS2_RC policy_pcr(ESYS_CONTEXT* c, ESYS_TR session, uint32_t mask) {
  TPM2B_DIGEST none{};
  TPML_PCR_SELECTION sel = pcr_selection(mask);
  return Esys_PolicyPCR(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &none, &sel);
}

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

// The ESYS_TR of NV index `index`, fresh (its name changes when WRITTEN is first set, reference
// §4.3), with `auth32` set on it unless it is empty (owner auth is used then).
bool open_nv_index(ESYS_CONTEXT* c, uint32_t index, Bytes auth32, Closed& nv, std::string& err) {
  TSS2_RC rc = Esys_TR_FromTPMPublic(c, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = tpm_rc(rc) == TPM2_RC_HANDLE
              ? "there is no NV index " + hex32(index) + " in the TPM (" + rc_text(rc) + ")"
              : failed("reading NV index " + hex32(index) + " (Esys_TR_FromTPMPublic)", rc);
    return false;
  }
  if (auth32.empty()) return true;
  TPM2B_AUTH auth{};
  auth.size = 32;
  std::memcpy(auth.buffer, auth32.data(), 32);
  rc = Esys_TR_SetAuth(c, nv.handle, &auth);
  vtpm::store::wipe(&auth, sizeof(auth));
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("Esys_TR_SetAuth on NV index " + hex32(index), rc);
    return false;
  }
  return true;
}

// Runs an NV command until it succeeds or fails for good: the TPM's NV rate limit (NV_RATE,
// RETRY, NV_UNAVAILABLE) has no event to wait for, so a doubling backoff, kNvAttempts at most.
template <typename F>
TSS2_RC with_nv_retry(F command) {
  int backoff = kFirstBackoffMs;
  for (int attempt = 1;; ++attempt) {
    const TSS2_RC rc = command();
    if (rc == TSS2_RC_SUCCESS || !retryable_nv(rc) || attempt == kNvAttempts) return rc;
    sleep_ms(backoff);
    backoff *= 2;
  }
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
  TPM2B_AUTH auth{};
  auth.size = 32;
  std::memcpy(auth.buffer, auth32.data(), 32);
  // The auth is DefineSpace's first parameter: the salted session (DECRYPT) carries it encrypted.
  Flushed salted(c);
  TSS2_RC rc = start_salted(c, srk_, TPMA_SESSION_DECRYPT, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    vtpm::store::wipe(&auth, sizeof(auth));
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  TPM2B_NV_PUBLIC info{};
  info.nvPublic.nameAlg = TPM2_ALG_SHA256;
  // Not ORDERLY: every increment reaches NV, so a crash never makes it jump (reference §5.3).
  info.nvPublic.attributes = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |
                             TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA;
  info.nvPublic.dataSize = 8;
  uint32_t index = kFirstCounterIndex;
  for (;; ++index) {
    if (index == kFirstCounterIndex + kCounterIndexSpan) {
      vtpm::store::wipe(&auth, sizeof(auth));
      err = "no free NV index in " + hex32(kFirstCounterIndex) + ".." +
            hex32(kFirstCounterIndex + kCounterIndexSpan - 1) + " for the counter";
      return false;
    }
    info.nvPublic.nvIndex = index;
    ESYS_TR nv = ESYS_TR_NONE;
    rc = Esys_NV_DefineSpace(c, ESYS_TR_RH_OWNER, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE,
                             &auth, &info, &nv);
    if (rc == TSS2_RC_SUCCESS) {
      // Closed at once: increment_counter makes its own, and ESYS 3.2.1's FromTPMPublic hands
      // back (and its caller closes) an existing ESYS_TR of the same TPM handle.
      scrub_and_close(c, nv);
      break;
    }
    if (tpm_rc(rc) == TPM2_RC_NV_DEFINED) continue;
    vtpm::store::wipe(&auth, sizeof(auth));
    err = failed("TPM2_NV_DefineSpace of the counter at " + hex32(index), rc);
    return false;
  }
  vtpm::store::wipe(&auth, sizeof(auth));
  // An unwritten counter cannot be read; its first increment sets it to the highest value any
  // deleted counter reached (reference §5.2), so a re-defined counter never goes back.
  if (!increment_counter(index, auth32, err)) {
    // Leave no half-made counter behind (owner auth undefines an AUTHWRITE index).
    ESYS_TR nv = ESYS_TR_NONE;
    if (Esys_TR_FromTPMPublic(c, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) ==
        TSS2_RC_SUCCESS) {
      if (Esys_NV_UndefineSpace(c, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                ESYS_TR_NONE) != TSS2_RC_SUCCESS)
        scrub_and_close(c, nv);  // on success ESYS already dropped the ESYS_TR
    }
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
  TPM2B_AUTH auth{};
  auth.size = 32;
  std::memcpy(auth.buffer, auth32.data(), 32);
  Flushed salted(c);
  TSS2_RC rc = start_salted(c, srk_, TPMA_SESSION_DECRYPT, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    vtpm::store::wipe(&auth, sizeof(auth));
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  TPM2B_NV_PUBLIC info{};
  info.nvPublic.nameAlg = TPM2_ALG_SHA256;
  info.nvPublic.attributes = (TPM2_NT_ORDINARY << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |
                             TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA;
  info.nvPublic.dataSize = 8;
  uint32_t index = kFirstRevocationIndex;
  for (;; ++index) {
    if (index == kFirstRevocationIndex + kCounterIndexSpan) {
      vtpm::store::wipe(&auth, sizeof(auth));
      err = "no free NV index in " + hex32(kFirstRevocationIndex) + ".." +
            hex32(kFirstRevocationIndex + kCounterIndexSpan - 1) + " for a revocation index";
      return false;
    }
    info.nvPublic.nvIndex = index;
    ESYS_TR nv = ESYS_TR_NONE;
    rc = Esys_NV_DefineSpace(c, ESYS_TR_RH_OWNER, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE,
                             &auth, &info, &nv);
    if (rc == TSS2_RC_SUCCESS) {
      scrub_and_close(c, nv);
      break;
    }
    if (tpm_rc(rc) == TPM2_RC_NV_DEFINED) continue;
    vtpm::store::wipe(&auth, sizeof(auth));
    err = failed("TPM2_NV_DefineSpace of the revocation index at " + hex32(index), rc);
    return false;
  }
  vtpm::store::wipe(&auth, sizeof(auth));
  if (!write_revocation(index, auth32, 0, err)) {
    ESYS_TR nv = ESYS_TR_NONE;
    if (Esys_TR_FromTPMPublic(c, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) ==
        TSS2_RC_SUCCESS) {
      if (Esys_NV_UndefineSpace(c, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                ESYS_TR_NONE) != TSS2_RC_SUCCESS)
        scrub_and_close(c, nv);
    }
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
