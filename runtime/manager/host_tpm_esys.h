// Shared by host_tpm.cpp (SRK, seal, counters) and host_tpm_groups.cpp (PolicyAuthorize groups):
// the ESYS helpers both use. Private to HostTpm's implementation; nothing outside
// runtime/manager/host_tpm*.cpp includes it. Every function is inline so each file may use a subset.
#pragma once

#include "manager/host_tpm.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace vtpm::manager::esys {

// TPM2_RC_PCR_CHANGED: a PCR moved between PolicyPCR and Unseal
inline constexpr int kUnsealAttempts = 3;
inline constexpr int kNvAttempts = 6;  // TPM2_RC_NV_RATE / RETRY / NV_UNAVAILABLE
inline constexpr int kFirstBackoffMs = 10;  // doubled per attempt: ~0.3 s in all

static_assert(ESYS_TR_NONE == 0xfff, "host_tpm.h initialises srk_ to ESYS_TR_NONE as 0xfff");
static_assert(sizeof(ESYS_TR) == sizeof(uint32_t), "host_tpm.h keeps an ESYS_TR in a uint32_t");

inline ESYS_CONTEXT* ctx_of(void* p) { return static_cast<ESYS_CONTEXT*>(p); }

// The TPM's own response code without the handle/session/parameter number, or 0 if rc is not
// from the TPM layer (a TSS or TCTI error).
inline uint32_t tpm_rc(TSS2_RC rc) {
  if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER) return 0;
  if (rc & TPM2_RC_FMT1) return rc & (TPM2_RC_FMT1 | 0x3f);
  return rc & 0xffff;
}

inline std::string rc_text(TSS2_RC rc) {
  char code[16];
  std::snprintf(code, sizeof(code), "0x%08x", static_cast<unsigned>(rc));
  return std::string(Tss2_RC_Decode(rc)) + " (" + code + ")";
}

inline std::string failed(const std::string& what, TSS2_RC rc) { return what + " failed: " + rc_text(rc); }

inline std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof(b), "0x%08x", static_cast<unsigned>(v));
  return b;
}

inline void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

inline bool retryable_nv(TSS2_RC rc) {
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
inline void scrub_and_close(ESYS_CONTEXT* c, ESYS_TR& handle) {
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

inline const TPMT_SYM_DEF kAes128Cfb = {
    .algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};

// A session salted to the SRK's public key (the salt is encrypted to it, so only this TPM can
// learn the session key), AES-128-CFB parameter encryption. attrs: which of DECRYPT (first
// command TPM2B) and ENCRYPT (first response TPM2B) the command it is used on allows.
inline TSS2_RC start_salted(ESYS_CONTEXT* c, ESYS_TR srk, TPMA_SESSION attrs, ESYS_TR* out) {
  TSS2_RC rc = Esys_StartAuthSession(c, srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &kAes128Cfb,
                                     TPM2_ALG_SHA256, out);
  if (rc != TSS2_RC_SUCCESS) return rc;
  return Esys_TRSess_SetAttributes(c, *out, attrs | TPMA_SESSION_CONTINUESESSION, 0xff);
}

inline TPML_PCR_SELECTION pcr_selection(uint32_t mask) {
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
inline TSS2_RC policy_pcr(ESYS_CONTEXT* c, ESYS_TR session, uint32_t mask) {
  TPM2B_DIGEST none{};
  TPML_PCR_SELECTION sel = pcr_selection(mask);
  return Esys_PolicyPCR(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &none, &sel);
}

// The ESYS_TR of NV index `index`, fresh (its name changes when WRITTEN is first set, reference
// §4.3), with `auth32` set on it unless it is empty (owner auth is used then).
inline bool open_nv_index(ESYS_CONTEXT* c, uint32_t index, Bytes auth32, Closed& nv, std::string& err) {
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
inline TSS2_RC with_nv_retry(F command) {
  int backoff = kFirstBackoffMs;
  for (int attempt = 1;; ++attempt) {
    const TSS2_RC rc = command();
    if (rc == TSS2_RC_SUCCESS || !retryable_nv(rc) || attempt == kNvAttempts) return rc;
    sleep_ms(backoff);
    backoff *= 2;
  }
}

// Defines an 8-byte NV index with auth `auth32` at the first free index of
// [first, first + HostTpm::kCounterIndexSpan), through an SRK-salted session so the auth travels encrypted.
// `what` names the index in errors ("the counter"); `where` ends the "no free index" sentence.
inline bool define_nv_index(ESYS_CONTEXT* c, ESYS_TR srk, Bytes auth32, uint32_t first,
                            TPMA_NV attrs, const std::string& what, const std::string& where,
                            uint32_t& index_out, std::string& err) {
  TPM2B_AUTH auth{};
  auth.size = 32;
  std::memcpy(auth.buffer, auth32.data(), 32);
  struct Wipe {
    TPM2B_AUTH& a;
    ~Wipe() { vtpm::store::wipe(&a, sizeof(a)); }
  } wipe{auth};
  Flushed salted(c);
  TSS2_RC rc = start_salted(c, srk, TPMA_SESSION_DECRYPT, &salted.handle);
  if (rc != TSS2_RC_SUCCESS) {
    err = failed("starting the SRK-salted session (TPM2_StartAuthSession)", rc);
    return false;
  }
  TPM2B_NV_PUBLIC info{};
  info.nvPublic.nameAlg = TPM2_ALG_SHA256;
  info.nvPublic.attributes = attrs;
  info.nvPublic.dataSize = 8;
  for (uint32_t index = first; index != first + HostTpm::kCounterIndexSpan; ++index) {
    info.nvPublic.nvIndex = index;
    ESYS_TR nv = ESYS_TR_NONE;
    rc = Esys_NV_DefineSpace(c, ESYS_TR_RH_OWNER, salted.handle, ESYS_TR_NONE, ESYS_TR_NONE,
                             &auth, &info, &nv);
    if (rc == TSS2_RC_SUCCESS) {
      // Closed at once: the index's users make their own, and ESYS 3.2.1's FromTPMPublic hands
      // back (and its caller closes) an existing ESYS_TR of the same TPM handle.
      scrub_and_close(c, nv);
      index_out = index;
      return true;
    }
    if (tpm_rc(rc) != TPM2_RC_NV_DEFINED) {
      err = failed("TPM2_NV_DefineSpace of " + what + " at " + hex32(index), rc);
      return false;
    }
  }
  err = "no free NV index in " + hex32(first) + ".." + hex32(first + HostTpm::kCounterIndexSpan - 1) +
        " for " + where;
  return false;
}

// Leaves no half-made index behind (owner auth undefines an AUTHWRITE index).
inline void undefine_nv_index(ESYS_CONTEXT* c, uint32_t index) {
  ESYS_TR nv = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(c, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) !=
      TSS2_RC_SUCCESS)
    return;
  if (Esys_NV_UndefineSpace(c, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE) != TSS2_RC_SUCCESS)
    scrub_and_close(c, nv);  // on success ESYS already dropped the ESYS_TR
}

}  // namespace vtpm::manager::esys
