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

  TPM2B_PUBLIC tmpl{};
  TPMT_PUBLIC& p = tmpl.publicArea;
  p.type = TPM2_ALG_KEYEDHASH;
  p.nameAlg = TPM2_ALG_SHA256;
  // No USERWITHAUTH: only a policy session satisfies it. No SENSITIVEDATAORIGIN: we give the data.
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA;
  p.authPolicy = *digest.p;
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

}  // namespace vtpm::manager
