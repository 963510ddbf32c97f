// TPM 2.0 command builders for the test clients. Each function returns the complete command
// bytes (header, handles, authorization area, parameters) as TPM 2.0 Part 3 lays them out; the
// names below are Part 2's. Authorizations use one password session (TPM_RS_PW, Part 1 §19.8.4)
// with an empty password unless said otherwise; HMAC and policy sessions are not built here.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tpm_bytes.h"

namespace vtpm::testtools::tpm2 {

// Part 2 §6.9 TPM_ST
constexpr uint16_t ST_NO_SESSIONS = 0x8001, ST_SESSIONS = 0x8002, ST_HASHCHECK = 0x8024;
// Part 2 §6.5 TPM_CC
enum Cc : uint32_t {
  CC_NV_UndefineSpace = 0x122, CC_NV_DefineSpace = 0x12A, CC_CreatePrimary = 0x131,
  CC_NV_Increment = 0x134, CC_NV_Write = 0x137, CC_PCR_Event = 0x13C, CC_PCR_Reset = 0x13D,
  CC_SelfTest = 0x143, CC_Startup = 0x144, CC_Shutdown = 0x145, CC_StirRandom = 0x146,
  CC_GetTime = 0x14C, CC_NV_Read = 0x14E, CC_Create = 0x153, CC_HMAC = 0x155, CC_Load = 0x157,
  CC_Sign = 0x15D, CC_ContextLoad = 0x161, CC_ContextSave = 0x162, CC_FlushContext = 0x165,
  CC_NV_ReadPublic = 0x169, CC_PolicyCommandCode = 0x16C, CC_ReadPublic = 0x173,
  CC_StartAuthSession = 0x176, CC_GetCapability = 0x17A, CC_GetRandom = 0x17B,
  CC_GetTestResult = 0x17C, CC_Hash = 0x17D, CC_PCR_Read = 0x17E, CC_PolicyPCR = 0x17F,
  CC_ReadClock = 0x181, CC_PCR_Extend = 0x182, CC_PolicyGetDigest = 0x189, CC_TestParms = 0x18A,
};
// Part 2 §6.3 TPM_ALG_ID
enum Alg : uint16_t {
  ALG_RSA = 0x01, ALG_SHA1 = 0x04, ALG_HMAC = 0x05, ALG_AES = 0x06, ALG_KEYEDHASH = 0x08,
  ALG_SHA256 = 0x0B, ALG_SHA384 = 0x0C, ALG_SHA512 = 0x0D, ALG_NULL = 0x10, ALG_RSASSA = 0x14,
  ALG_ECDSA = 0x18, ALG_ECC = 0x23, ALG_CFB = 0x43,
};
constexpr uint16_t ECC_NIST_P256 = 0x0003;
// Part 2 §7.4 TPM_RH / TPM_RS
constexpr uint32_t RH_OWNER = 0x40000001, RS_PW = 0x40000009, RH_NULL = 0x40000007,
                   RH_LOCKOUT = 0x4000000A, RH_ENDORSEMENT = 0x4000000B, RH_PLATFORM = 0x4000000C;
constexpr uint32_t TRANSIENT_FIRST = 0x80000000;
// Part 2 §6.4 TPM_SU, §6.11 TPM_SE
constexpr uint16_t SU_CLEAR = 0, SU_STATE = 1;
constexpr uint8_t SE_HMAC = 0, SE_POLICY = 1, SE_TRIAL = 3;
// Part 2 §6.12 TPM_CAP and §6.13 TPM_PT groups
enum Cap : uint32_t {
  CAP_ALGS = 0, CAP_HANDLES = 1, CAP_COMMANDS = 2, CAP_PP_COMMANDS = 3, CAP_AUDIT_COMMANDS = 4,
  CAP_PCRS = 5, CAP_TPM_PROPERTIES = 6, CAP_PCR_PROPERTIES = 7, CAP_ECC_CURVES = 8,
};
constexpr uint32_t PT_FIXED = 0x100, PT_VAR = 0x200;
// Part 2 §8.3 TPMA_OBJECT bits
constexpr uint32_t OA_FIXED_TPM = 0x2, OA_FIXED_PARENT = 0x10, OA_SENSITIVE_DATA_ORIGIN = 0x20,
                   OA_USER_WITH_AUTH = 0x40, OA_NO_DA = 0x400, OA_RESTRICTED = 0x10000,
                   OA_DECRYPT = 0x20000, OA_SIGN = 0x40000;
// Part 2 §13.4 TPMA_NV bits
constexpr uint32_t NV_OWNERWRITE = 0x2, NV_AUTHWRITE = 0x4, NV_COUNTER = 0x10,
                   NV_OWNERREAD = 0x20000, NV_AUTHREAD = 0x40000, NV_NO_DA = 0x2000000;
// Part 2 §6.6 TPM_RC values the tests look for
constexpr uint32_t RC_SUCCESS = 0, RC_INITIALIZE = 0x100, RC_FAILURE = 0x101;

// One bank of a TPML_PCR_SELECTION; `pcrs` is a bit mask of PCR 0..23 (sizeofSelect = 3).
struct PcrSelection {
  uint16_t hash;
  uint32_t pcrs;
};

// Assembles header, handles, sessions and parameters; the tag follows from whether any session
// was added (Part 1 §18.2).
class Command {
 public:
  explicit Command(uint32_t cc) : cc_(cc) {}
  Command& handle(uint32_t h);
  Command& pw_session(const Bytes& password = {});
  Writer& params() { return params_; }
  Bytes finish() const;

 private:
  uint32_t cc_;
  Writer handles_, sessions_, params_;
};

// Response header (Part 1 §18.3); throws WireError under 10 bytes.
struct ResponseHeader {
  uint16_t tag;
  uint32_t size;
  uint32_t rc;
};
ResponseHeader parse_header(const Bytes& response);

void put_pcr_selection(Writer& w, const std::vector<PcrSelection>& sel);

Bytes startup(uint16_t su);
Bytes shutdown(uint16_t su);
Bytes self_test(bool full);
Bytes get_test_result();
Bytes get_random(uint16_t n);
Bytes stir_random(const Bytes& data);
Bytes get_capability(uint32_t cap, uint32_t property, uint32_t count);
Bytes test_parms(const Bytes& public_parms);  // TPMT_PUBLIC_PARMS bytes
Bytes read_clock();
// GetTime with privacyAdmin = endorsement and signHandle = TPM_RH_NULL (unsigned attestation).
Bytes get_time_unsigned(const Bytes& qualifying_data);

Bytes pcr_extend(uint32_t pcr, const std::vector<std::pair<uint16_t, Bytes>>& digests);
Bytes pcr_event(uint32_t pcr, const Bytes& data);
Bytes pcr_read(const std::vector<PcrSelection>& sel);
Bytes pcr_reset(uint32_t pcr);

Bytes nv_define_space(uint32_t index, uint32_t attributes, uint16_t size, const Bytes& auth = {});
Bytes nv_undefine_space(uint32_t index);
Bytes nv_write(uint32_t index, const Bytes& data, uint16_t offset, uint32_t auth_handle = RH_OWNER);
Bytes nv_read(uint32_t index, uint16_t size, uint16_t offset, uint32_t auth_handle = RH_OWNER);
Bytes nv_read_public(uint32_t index);
Bytes nv_increment(uint32_t index, uint32_t auth_handle = RH_OWNER);

// Fixed templates (TPMT_PUBLIC bytes, nameAlg SHA-256, empty authPolicy).
Bytes template_ecc_p256_storage();   // restricted decrypt, AES-128-CFB, no scheme, unique 0/0
Bytes template_rsa2048_storage();    // restricted decrypt, AES-128-CFB, exponent 0, unique empty
Bytes template_ecc_p256_signing();   // sign, ECDSA-SHA256
Bytes template_hmac_sha256_key();    // keyedhash sign, HMAC-SHA256; key bytes come from inSensitive.data
// TPMT_PUBLIC_PARMS for TestParms.
Bytes parms_ecc(uint16_t curve);
Bytes parms_rsa(uint16_t bits);
Bytes parms_symcipher_aes(uint16_t bits, uint16_t mode);
Bytes parms_keyedhash_hmac(uint16_t hash);

Bytes create_primary(uint32_t hierarchy, const Bytes& public_template, const Bytes& sensitive_data = {},
                     const std::vector<PcrSelection>& creation_pcrs = {});
Bytes create(uint32_t parent, const Bytes& public_template, const Bytes& sensitive_data = {});
Bytes load(uint32_t parent, const Bytes& tpm2b_private, const Bytes& tpm2b_public);
Bytes read_public(uint32_t object);
Bytes flush_context(uint32_t handle);
Bytes context_save(uint32_t handle);
Bytes context_load(const Bytes& tpms_context);
// Sign a digest; scheme ALG_NULL uses the key's own scheme. Validation = null ticket.
Bytes sign(uint32_t key, const Bytes& digest, uint16_t scheme, uint16_t hash);
Bytes hmac(uint32_t key, const Bytes& data, uint16_t hash);
Bytes hash(const Bytes& data, uint16_t alg, uint32_t hierarchy);

// Unsalted, unbound session with symmetric NULL.
Bytes start_auth_session(uint8_t type, const Bytes& nonce_caller, uint16_t hash);
Bytes policy_pcr(uint32_t session, const std::vector<PcrSelection>& sel);
Bytes policy_command_code(uint32_t session, uint32_t cc);
Bytes policy_get_digest(uint32_t session);

// Response parsers for what a client needs to carry on (throw WireError on malformed input).
// CreatePrimary / Load answer: the object handle (first u32 after the header).
uint32_t response_handle(const Bytes& response);
// Create answer: outPrivate and outPublic as TPM2B bytes (size prefix included), for Load.
std::pair<Bytes, Bytes> create_outputs(const Bytes& response);
// GetRandom answer: the random bytes.
Bytes random_bytes(const Bytes& response);

}  // namespace vtpm::testtools::tpm2
