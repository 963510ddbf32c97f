// TPM 2.0 command builders (see tpm2_commands.h). Layouts are TPM 2.0 Part 3's command tables;
// structure encodings are Part 2's (TPMT_PUBLIC §12.2.4, TPMS_NV_PUBLIC §13.5, TPML_PCR_SELECTION
// §10.9.7, TPMT_SIG_SCHEME §11.2.1.5).
#include "tpm2_commands.h"

namespace vtpm::testtools::tpm2 {

Command& Command::handle(uint32_t h) {
  handles_.u32(h);
  return *this;
}

Command& Command::pw_session(const Bytes& password) {
  sessions_.u32(RS_PW).tpm2b({}).u8(0x01 /* continueSession */).tpm2b(password);
  return *this;
}

Bytes Command::finish() const {
  Writer w;
  bool with_sessions = sessions_.size() > 0;
  w.u16(with_sessions ? ST_SESSIONS : ST_NO_SESSIONS).u32(0).u32(cc_).raw(handles_.bytes());
  if (with_sessions) w.u32(uint32_t(sessions_.size())).raw(sessions_.bytes());
  w.raw(params_.bytes());
  w.patch_u32(2, uint32_t(w.size()));
  return w.take();
}

ResponseHeader parse_header(const Bytes& response) {
  Reader r(response);
  ResponseHeader h;
  h.tag = r.u16();
  h.size = r.u32();
  h.rc = r.u32();
  return h;
}

void put_pcr_selection(Writer& w, const std::vector<PcrSelection>& sel) {
  w.u32(uint32_t(sel.size()));
  for (const auto& s : sel) w.u16(s.hash).u8(3).u8(uint8_t(s.pcrs)).u8(uint8_t(s.pcrs >> 8)).u8(uint8_t(s.pcrs >> 16));
}

Bytes startup(uint16_t su) {
  Command c(CC_Startup);
  c.params().u16(su);
  return c.finish();
}
Bytes shutdown(uint16_t su) {
  Command c(CC_Shutdown);
  c.params().u16(su);
  return c.finish();
}
Bytes self_test(bool full) {
  Command c(CC_SelfTest);
  c.params().u8(full ? 1 : 0);
  return c.finish();
}
Bytes get_test_result() { return Command(CC_GetTestResult).finish(); }
Bytes get_random(uint16_t n) {
  Command c(CC_GetRandom);
  c.params().u16(n);
  return c.finish();
}
Bytes stir_random(const Bytes& data) {
  Command c(CC_StirRandom);
  c.params().tpm2b(data);
  return c.finish();
}
Bytes get_capability(uint32_t cap, uint32_t property, uint32_t count) {
  Command c(CC_GetCapability);
  c.params().u32(cap).u32(property).u32(count);
  return c.finish();
}
Bytes test_parms(const Bytes& public_parms) {
  Command c(CC_TestParms);
  c.params().raw(public_parms);
  return c.finish();
}
Bytes read_clock() { return Command(CC_ReadClock).finish(); }
Bytes get_time_unsigned(const Bytes& qualifying_data) {
  Command c(CC_GetTime);
  c.handle(RH_ENDORSEMENT).handle(RH_NULL).pw_session().pw_session();
  c.params().tpm2b(qualifying_data).u16(ALG_NULL);
  return c.finish();
}

Bytes pcr_extend(uint32_t pcr, const std::vector<std::pair<uint16_t, Bytes>>& digests) {
  Command c(CC_PCR_Extend);
  c.handle(pcr).pw_session();
  c.params().u32(uint32_t(digests.size()));
  for (const auto& [alg, d] : digests) c.params().u16(alg).raw(d);
  return c.finish();
}
Bytes pcr_event(uint32_t pcr, const Bytes& data) {
  Command c(CC_PCR_Event);
  c.handle(pcr).pw_session();
  c.params().tpm2b(data);
  return c.finish();
}
Bytes pcr_read(const std::vector<PcrSelection>& sel) {
  Command c(CC_PCR_Read);
  put_pcr_selection(c.params(), sel);
  return c.finish();
}
Bytes pcr_reset(uint32_t pcr) {
  Command c(CC_PCR_Reset);
  c.handle(pcr).pw_session();
  return c.finish();
}

Bytes nv_define_space(uint32_t index, uint32_t attributes, uint16_t size, const Bytes& auth) {
  Command c(CC_NV_DefineSpace);
  c.handle(RH_OWNER).pw_session();
  Writer& p = c.params();
  p.tpm2b(auth);
  size_t at = p.begin_sized();
  p.u32(index).u16(ALG_SHA256).u32(attributes).tpm2b({}).u16(size);
  p.end_sized(at);
  return c.finish();
}
Bytes nv_undefine_space(uint32_t index) {
  Command c(CC_NV_UndefineSpace);
  c.handle(RH_OWNER).handle(index).pw_session();
  return c.finish();
}
Bytes nv_write(uint32_t index, const Bytes& data, uint16_t offset, uint32_t auth_handle) {
  Command c(CC_NV_Write);
  c.handle(auth_handle).handle(index).pw_session();
  c.params().tpm2b(data).u16(offset);
  return c.finish();
}
Bytes nv_read(uint32_t index, uint16_t size, uint16_t offset, uint32_t auth_handle) {
  Command c(CC_NV_Read);
  c.handle(auth_handle).handle(index).pw_session();
  c.params().u16(size).u16(offset);
  return c.finish();
}
Bytes nv_read_public(uint32_t index) {
  Command c(CC_NV_ReadPublic);
  c.handle(index);
  return c.finish();
}
Bytes nv_increment(uint32_t index, uint32_t auth_handle) {
  Command c(CC_NV_Increment);
  c.handle(auth_handle).handle(index).pw_session();
  return c.finish();
}

namespace {
constexpr uint32_t kStorageAttrs = OA_FIXED_TPM | OA_FIXED_PARENT | OA_SENSITIVE_DATA_ORIGIN |
                                   OA_USER_WITH_AUTH | OA_NO_DA | OA_RESTRICTED | OA_DECRYPT;

void put_ecc_parms(Writer& w, bool storage, uint16_t curve) {
  if (storage) w.u16(ALG_AES).u16(128).u16(ALG_CFB);  // symmetric
  else w.u16(ALG_NULL);
  if (storage) w.u16(ALG_NULL);  // scheme
  else w.u16(ALG_ECDSA).u16(ALG_SHA256);
  w.u16(curve).u16(ALG_NULL);  // curveID, kdf
}
void put_rsa_parms(Writer& w, uint16_t bits) {
  w.u16(ALG_AES).u16(128).u16(ALG_CFB).u16(ALG_NULL).u16(bits).u32(0);
}
}  // namespace

Bytes template_ecc_p256_storage() {
  Writer w;
  w.u16(ALG_ECC).u16(ALG_SHA256).u32(kStorageAttrs).tpm2b({});
  put_ecc_parms(w, true, ECC_NIST_P256);
  w.tpm2b(Bytes(32, 0)).tpm2b(Bytes(32, 0));  // unique: x, y
  return w.take();
}
Bytes template_rsa2048_storage() {
  Writer w;
  w.u16(ALG_RSA).u16(ALG_SHA256).u32(kStorageAttrs).tpm2b({});
  put_rsa_parms(w, 2048);
  w.tpm2b({});  // unique
  return w.take();
}
Bytes template_ecc_p256_signing() {
  Writer w;
  w.u16(ALG_ECC).u16(ALG_SHA256)
      .u32(OA_FIXED_TPM | OA_FIXED_PARENT | OA_SENSITIVE_DATA_ORIGIN | OA_USER_WITH_AUTH | OA_NO_DA | OA_SIGN)
      .tpm2b({});
  put_ecc_parms(w, false, ECC_NIST_P256);
  w.tpm2b({}).tpm2b({});
  return w.take();
}
Bytes template_hmac_sha256_key() {
  Writer w;
  w.u16(ALG_KEYEDHASH).u16(ALG_SHA256).u32(OA_FIXED_TPM | OA_FIXED_PARENT | OA_USER_WITH_AUTH | OA_NO_DA | OA_SIGN)
      .tpm2b({});
  w.u16(ALG_HMAC).u16(ALG_SHA256);  // TPMT_KEYEDHASH_SCHEME
  w.tpm2b({});                       // unique
  return w.take();
}
Bytes parms_ecc(uint16_t curve) {
  Writer w;
  w.u16(ALG_ECC);
  put_ecc_parms(w, true, curve);
  return w.take();
}
Bytes parms_rsa(uint16_t bits) {
  Writer w;
  w.u16(ALG_RSA);
  put_rsa_parms(w, bits);
  return w.take();
}
Bytes parms_symcipher_aes(uint16_t bits, uint16_t mode) {
  Writer w;
  w.u16(0x25 /* TPM_ALG_SYMCIPHER */).u16(ALG_AES).u16(bits).u16(mode);
  return w.take();
}
Bytes parms_keyedhash_hmac(uint16_t hash) {
  Writer w;
  w.u16(ALG_KEYEDHASH).u16(ALG_HMAC).u16(hash);
  return w.take();
}

namespace {
// inSensitive (TPM2B_SENSITIVE_CREATE, empty userAuth), inPublic, outsideInfo, creationPCR.
void put_create_params(Writer& p, const Bytes& tmpl, const Bytes& data, const std::vector<PcrSelection>& pcrs) {
  size_t at = p.begin_sized();
  p.tpm2b({}).tpm2b(data);
  p.end_sized(at);
  p.tpm2b(tmpl).tpm2b({});
  put_pcr_selection(p, pcrs);
}
}  // namespace

Bytes create_primary(uint32_t hierarchy, const Bytes& tmpl, const Bytes& data, const std::vector<PcrSelection>& pcrs) {
  Command c(CC_CreatePrimary);
  c.handle(hierarchy).pw_session();
  put_create_params(c.params(), tmpl, data, pcrs);
  return c.finish();
}
Bytes create(uint32_t parent, const Bytes& tmpl, const Bytes& data) {
  Command c(CC_Create);
  c.handle(parent).pw_session();
  put_create_params(c.params(), tmpl, data, {});
  return c.finish();
}
Bytes load(uint32_t parent, const Bytes& tpm2b_private, const Bytes& tpm2b_public) {
  Command c(CC_Load);
  c.handle(parent).pw_session();
  c.params().raw(tpm2b_private).raw(tpm2b_public);
  return c.finish();
}
Bytes read_public(uint32_t object) {
  Command c(CC_ReadPublic);
  c.handle(object);
  return c.finish();
}
Bytes flush_context(uint32_t handle) {
  Command c(CC_FlushContext);
  c.params().u32(handle);  // flushHandle is a parameter, not a handle (Part 3 §28.4)
  return c.finish();
}
Bytes context_save(uint32_t handle) {
  Command c(CC_ContextSave);
  c.handle(handle);
  return c.finish();
}
Bytes context_load(const Bytes& tpms_context) {
  Command c(CC_ContextLoad);
  c.params().raw(tpms_context);
  return c.finish();
}
Bytes sign(uint32_t key, const Bytes& digest, uint16_t scheme, uint16_t hash) {
  Command c(CC_Sign);
  c.handle(key).pw_session();
  Writer& p = c.params();
  p.tpm2b(digest).u16(scheme);
  if (scheme != ALG_NULL) p.u16(hash);
  p.u16(ST_HASHCHECK).u32(RH_NULL).tpm2b({});
  return c.finish();
}
Bytes hmac(uint32_t key, const Bytes& data, uint16_t hash) {
  Command c(CC_HMAC);
  c.handle(key).pw_session();
  c.params().tpm2b(data).u16(hash);
  return c.finish();
}
Bytes hash(const Bytes& data, uint16_t alg, uint32_t hierarchy) {
  Command c(CC_Hash);
  c.params().tpm2b(data).u16(alg).u32(hierarchy);
  return c.finish();
}

Bytes start_auth_session(uint8_t type, const Bytes& nonce_caller, uint16_t hash) {
  Command c(CC_StartAuthSession);
  c.handle(RH_NULL).handle(RH_NULL);  // tpmKey, bind
  c.params().tpm2b(nonce_caller).tpm2b({}).u8(type).u16(ALG_NULL).u16(hash);
  return c.finish();
}
Bytes policy_pcr(uint32_t session, const std::vector<PcrSelection>& sel) {
  Command c(CC_PolicyPCR);
  c.handle(session);
  c.params().tpm2b({});
  put_pcr_selection(c.params(), sel);
  return c.finish();
}
Bytes policy_command_code(uint32_t session, uint32_t cc) {
  Command c(CC_PolicyCommandCode);
  c.handle(session);
  c.params().u32(cc);
  return c.finish();
}
Bytes policy_get_digest(uint32_t session) {
  Command c(CC_PolicyGetDigest);
  c.handle(session);
  return c.finish();
}

uint32_t response_handle(const Bytes& response) { return be32_at(response, 10); }

std::pair<Bytes, Bytes> create_outputs(const Bytes& response) {
  Reader r(response, 10);
  r.u32();  // parameterSize
  size_t at = r.pos();
  r.tpm2b();
  size_t mid = r.pos();
  r.tpm2b();
  Bytes priv(response.begin() + long(at), response.begin() + long(mid));
  Bytes pub(response.begin() + long(mid), response.begin() + long(r.pos()));
  return {priv, pub};
}

Bytes random_bytes(const Bytes& response) {
  Reader r(response, 10);
  return r.tpm2b();
}

}  // namespace vtpm::testtools::tpm2
