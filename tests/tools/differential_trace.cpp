// The differential trace (see differential_trace.h). Sections, in order:
//   prelude   control-channel queries, Startup, self test, capabilities, TestParms
//   pcr       reads, resets allowed and refused at locality 0 (TPM_RC_LOCALITY 0x907)
//   nv        an ordinary index, a counter, a spare; errors on undefined / uninitialized indices
//   objects   primaries (ECC P-256, RSA-2048: deterministic from the shared seeds), a keyed-hash
//             child whose key bytes we supply (so HMAC and Sign answers are deterministic), an
//             ECDSA child, context save/load, a trial policy session, the permanent state blob
//   random-1  a seeded mix of deterministic commands
//   ctrl      DRTM hash sequence, tpmEstablished, localities, store-volatile, blobs, bad requests
//   stop-init Shutdown(STATE), CMD_STOP, commands while stopped, buffer size, CMD_INIT, Startup(STATE)
//   random-2  the mix again on the resumed TPM
//   malformed bad tags, unknown codes, truncated and over-long parameters, size-field mismatches
//   teardown  flush, undefine, Shutdown(CLEAR)
// Transient handles are predicted: libtpms gives TRANSIENT_FIRST + the lowest free object slot
// (3 slots), and policy sessions POLICY_SESSION_FIRST + the lowest free context slot; every step
// that must succeed carries `expect`, so a wrong prediction shows up as a trace error.
#include "differential_trace.h"

#include <cstdio>

#include "swtpm_ctrl.h"
#include "tpm2_commands.h"

namespace vtpm::testtools::diff {

using namespace tpm2;

namespace {

constexpr uint32_t kNvData = 0x01500010, kNvCounter = 0x01500011, kNvSpare = 0x01500012, kNvNever = 0x01500099;
constexpr uint16_t kNvDataSize = 64;
constexpr uint32_t kPolicySession = 0x03000000;
constexpr uint32_t kHmacKey = TRANSIENT_FIRST + 1, kPrimary = TRANSIENT_FIRST;

// splitmix64: small, fixed, the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return uint32_t(next() % n); }
  uint32_t range(uint32_t lo, uint32_t hi) { return lo + below(hi - lo + 1); }  // inclusive
  Bytes bytes(size_t n) {
    Bytes b(n);
    for (auto& x : b) x = uint8_t(next());
    return b;
  }

 private:
  uint64_t s_;
};

std::string fmt(const char* f, unsigned a, unsigned b = 0, unsigned c = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

size_t digest_size(uint16_t alg) {
  switch (alg) {
    case ALG_SHA1: return 20;
    case ALG_SHA256: return 32;
    case ALG_SHA384: return 48;
    default: return 64;
  }
}
const uint16_t kBanks[] = {ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512};

class Builder {
 public:
  explicit Builder(const TraceOptions& o) : opt_(o), rng_(o.seed) {}

  std::vector<Step> take() { return std::move(steps_); }

  Step& tpm(std::string name, Bytes cmd, std::optional<uint32_t> expect = std::nullopt, Mask m = Mask::None) {
    Step s;
    s.name = std::move(name);
    s.request = std::move(cmd);
    s.expect = expect;
    s.mask = m;
    s.group = group_;
    steps_.push_back(std::move(s));
    return steps_.back();
  }
  Step& ctl(std::string name, Bytes req, std::optional<uint32_t> expect = std::nullopt, Mask m = Mask::None) {
    Step& s = tpm(std::move(name), std::move(req), expect, m);
    s.channel = Channel::Ctrl;
    return s;
  }
  Step& framing(std::string name, Bytes raw, int timeout_ms = 1500) {
    Step& s = tpm(std::move(name), std::move(raw));
    s.framing = true;
    s.timeout_ms = timeout_ms;
    return s;
  }

  void prelude();
  void pcr();
  void nv();
  void objects();
  void random_mix(int n);
  void ctrl_section();
  void stop_init();
  void malformed();
  void teardown();
  void section(const char* g) { group_ = g; }

 private:
  void load_hmac_key();
  void random_op();
  std::vector<PcrSelection> random_selection();

  const TraceOptions& opt_;
  Rng rng_;
  std::vector<Step> steps_;
  std::string group_;
  bool nv_written_ = false;
};

void Builder::prelude() {
  section("prelude");
  ctl("CMD_GET_CAPABILITY", ctrl::request(ctrl::GET_CAPABILITY), 0);
  ctl("CMD_GET_CONFIG", ctrl::request(ctrl::GET_CONFIG), 0);
  ctl("CMD_GET_INFO(spec)", ctrl::get_info(1), 0);
  ctl("CMD_GET_INFO(attributes)", ctrl::get_info(2), 0);
  ctl("CMD_GET_INFO(spec|attributes, offset 20)", ctrl::get_info(3, 20), 0);
  ctl("CMD_SET_BUFFERSIZE(query)", ctrl::set_buffersize(0), 0);
  ctl("CMD_GET_TPMESTABLISHED", ctrl::request(ctrl::GET_TPMESTABLISHED), 0);
  ctl("CMD_GET_CAPABILITY [new connection]", ctrl::request(ctrl::GET_CAPABILITY), 0).new_connection = true;
  ctl("CMD_GET_CONFIG [new connection]", ctrl::request(ctrl::GET_CONFIG), 0).new_connection = true;
  tpm("Startup(CLEAR)", startup(SU_CLEAR), RC_SUCCESS);
  tpm("Startup(CLEAR) again", startup(SU_CLEAR), RC_INITIALIZE);
  tpm("SelfTest(full)", self_test(true), 0);
  tpm("GetTestResult", get_test_result(), 0);
  tpm("SelfTest(incremental)", self_test(false), 0);
  struct {
    const char* what;
    uint32_t cap, prop, count;
  } caps[] = {
      {"ALGS", CAP_ALGS, 0, 64},
      {"COMMANDS", CAP_COMMANDS, 0x11f, 128},
      {"PCRS", CAP_PCRS, 0, 1},
      {"TPM_PROPERTIES fixed", CAP_TPM_PROPERTIES, PT_FIXED, 64},
      {"TPM_PROPERTIES var", CAP_TPM_PROPERTIES, PT_VAR, 64},
      {"PCR_PROPERTIES", CAP_PCR_PROPERTIES, 0, 32},
      {"ECC_CURVES", CAP_ECC_CURVES, 0, 16},
      {"PP_COMMANDS", CAP_PP_COMMANDS, 0, 32},
      {"AUDIT_COMMANDS", CAP_AUDIT_COMMANDS, 0, 32},
      {"HANDLES persistent", CAP_HANDLES, 0x81000000, 16},
      {"HANDLES permanent", CAP_HANDLES, 0x40000000, 32},
  };
  for (const auto& c : caps) tpm(std::string("GetCapability(") + c.what + ")", get_capability(c.cap, c.prop, c.count), 0);
  tpm("GetCapability(0x99: no such capability)", get_capability(0x99, 0, 1));
  struct {
    const char* what;
    Bytes parms;
    bool ok;
  } parms[] = {
      {"ECC P-256", parms_ecc(ECC_NIST_P256), true},  {"ECC P-384", parms_ecc(0x0004), true},
      {"ECC curve 0x99", parms_ecc(0x0099), false},   {"RSA-1024", parms_rsa(1024), true},
      {"RSA-2048", parms_rsa(2048), true},            {"RSA-3072", parms_rsa(3072), true},
      {"RSA-1000", parms_rsa(1000), false},           {"AES-128-CFB", parms_symcipher_aes(128, ALG_CFB), true},
      {"AES-256-CFB", parms_symcipher_aes(256, ALG_CFB), true}, {"AES-100-CFB", parms_symcipher_aes(100, ALG_CFB), false},
      {"HMAC-SHA256", parms_keyedhash_hmac(ALG_SHA256), true}, {"HMAC-SHA512", parms_keyedhash_hmac(ALG_SHA512), true},
      {"type 0x99", Bytes{0x00, 0x99}, false},
  };
  for (auto& p : parms) {
    Step& s = tpm(std::string("TestParms(") + p.what + ")", test_parms(p.parms));
    if (p.ok) s.expect = 0;
  }
}

void Builder::pcr() {
  section("pcr");
  tpm("PCR_Read(sha256 0-7)", pcr_read({{ALG_SHA256, 0xff}}), 0);
  tpm("PCR_Read(sha1+sha384 16-23)", pcr_read({{ALG_SHA1, 0xff0000}, {ALG_SHA384, 0xff0000}}), 0);
  tpm("PCR_Reset(0) at locality 0", pcr_reset(0), 0x907);
  tpm("PCR_Reset(17) at locality 0", pcr_reset(17));
  tpm("PCR_Reset(16)", pcr_reset(16), 0);
  tpm("PCR_Reset(23)", pcr_reset(23), 0);
  tpm("PCR_Extend(16, sha256)", pcr_extend(16, {{ALG_SHA256, Bytes(32, 0x11)}}), 0);
  tpm("PCR_Extend(0, all banks)", pcr_extend(0, {{ALG_SHA1, Bytes(20, 1)}, {ALG_SHA256, Bytes(32, 2)},
                                                 {ALG_SHA384, Bytes(48, 3)}, {ALG_SHA512, Bytes(64, 4)}}), 0);
  tpm("PCR_Extend(30: no such PCR)", pcr_extend(30, {{ALG_SHA256, Bytes(32, 0x11)}}));
  tpm("PCR_Event(7, 40 bytes)", pcr_event(7, Bytes(40, 0x42)), 0);
  tpm("PCR_Read(all banks 0,7,16)", pcr_read({{ALG_SHA1, 0x10081}, {ALG_SHA256, 0x10081}, {ALG_SHA384, 0x10081}, {ALG_SHA512, 0x10081}}), 0);
}

void Builder::nv() {
  section("nv");
  const uint32_t attrs = NV_OWNERWRITE | NV_AUTHWRITE | NV_OWNERREAD | NV_AUTHREAD | NV_NO_DA;
  tpm("NV_ReadPublic(undefined)", nv_read_public(kNvData));
  tpm("NV_Read(undefined)", nv_read(kNvData, 8, 0));
  tpm("NV_DefineSpace(data, 64)", nv_define_space(kNvData, attrs, kNvDataSize), 0);
  tpm("NV_DefineSpace(data) again", nv_define_space(kNvData, attrs, kNvDataSize));
  tpm("NV_ReadPublic(data)", nv_read_public(kNvData), 0);
  tpm("NV_Read(data, never written)", nv_read(kNvData, 8, 0));
  tpm("NV_Write(data, 32 @0)", nv_write(kNvData, Bytes(32, 0xa5), 0), 0);
  nv_written_ = true;
  tpm("NV_Read(data, 32 @0)", nv_read(kNvData, 32, 0), 0);
  tpm("NV_ReadPublic(data, written)", nv_read_public(kNvData), 0);
  tpm("NV_Write(data, 16 @56: past the end)", nv_write(kNvData, Bytes(16, 1), 56));
  tpm("NV_DefineSpace(counter)", nv_define_space(kNvCounter, attrs | NV_COUNTER, 8), 0);
  tpm("NV_Read(counter, not incremented)", nv_read(kNvCounter, 8, 0));
  tpm("NV_Increment(counter)", nv_increment(kNvCounter), 0);
  tpm("NV_Read(counter)", nv_read(kNvCounter, 8, 0), 0);
  tpm("NV_Write(counter: not allowed)", nv_write(kNvCounter, Bytes(8, 0), 0));
  tpm("NV_DefineSpace(spare, 16, password)", nv_define_space(kNvSpare, attrs, 16, Bytes{'p', 'w'}), 0);
  tpm("NV_Write(spare via its own auth)", nv_write(kNvSpare, Bytes(16, 7), 0, kNvSpare));  // no password given: refused
  tpm("NV_UndefineSpace(never defined)", nv_undefine_space(kNvNever));
}

void Builder::load_hmac_key() {
  // The key bytes are ours, so every HMAC and Sign with it is deterministic; the object's
  // seedValue is not, hence the masks on Create and Load.
  Step& c = tpm("Create(keyedhash HMAC-SHA256 under ECC primary)", create(kPrimary, template_hmac_sha256_key(), Bytes(32, 0x3c)),
                0, Mask::Create);
  c.save_as = "hmac_create";
  Step& l = tpm("Load(keyedhash)", {}, 0, Mask::Load);
  l.build = [](const Saved& s) {
    auto [priv, pub] = create_outputs(s.at("hmac_create"));
    return load(kPrimary, priv, pub);
  };
}

void Builder::objects() {
  section("objects");
  tpm("CreatePrimary(owner, ECC P-256 storage)", create_primary(RH_OWNER, template_ecc_p256_storage()), 0);  // 0x80000000
  tpm("ReadPublic(ECC primary)", read_public(kPrimary), 0);
  tpm("CreatePrimary(owner, RSA-2048 storage)", create_primary(RH_OWNER, template_rsa2048_storage()), 0);  // 0x80000001
  tpm("ReadPublic(RSA primary)", read_public(TRANSIENT_FIRST + 1), 0);
  tpm("CreatePrimary(endorsement, ECC, creationPCR sha256 0,16)",
      create_primary(RH_ENDORSEMENT, template_ecc_p256_storage(), {}, {{ALG_SHA256, 0x10001}}), 0);  // 0x80000002
  tpm("CreatePrimary(4th object: no slot)", create_primary(RH_OWNER, template_ecc_p256_storage()));
  tpm("FlushContext(0x80000002)", flush_context(TRANSIENT_FIRST + 2), 0);
  tpm("CreatePrimary(NULL hierarchy, ECC)", create_primary(RH_NULL, template_ecc_p256_storage()), 0, Mask::CreatePrimaryNull);
  tpm("FlushContext(0x80000002)", flush_context(TRANSIENT_FIRST + 2), 0);
  tpm("FlushContext(RSA primary)", flush_context(TRANSIENT_FIRST + 1), 0);
  tpm("FlushContext(RSA primary) again", flush_context(TRANSIENT_FIRST + 1));
  load_hmac_key();  // 0x80000001
  tpm("ReadPublic(keyedhash)", read_public(kHmacKey), 0, Mask::ReadPublicCreated);
  tpm("HMAC(keyedhash, 'abc', key's hash)", hmac(kHmacKey, Bytes{'a', 'b', 'c'}, ALG_NULL), 0);
  tpm("HMAC(keyedhash, 200 bytes, SHA256)", hmac(kHmacKey, Bytes(200, 0x61), ALG_SHA256), 0);
  tpm("Sign(keyedhash, 32-byte digest, key's scheme)", sign(kHmacKey, Bytes(32, 0x77), ALG_NULL, 0), 0);
  Step& save = tpm("ContextSave(keyedhash)", context_save(kHmacKey), 0, Mask::ContextSave);
  save.save_as = "hmac_context";
  Step& load_ctx = tpm("ContextLoad(keyedhash)", {}, 0);  // 0x80000002
  load_ctx.build = [](const Saved& s) {
    Reader r(s.at("hmac_context"), 10);
    return context_load(r.raw(r.left()));
  };
  tpm("HMAC(reloaded keyedhash, 'abc')", hmac(TRANSIENT_FIRST + 2, Bytes{'a', 'b', 'c'}, ALG_NULL), 0);
  tpm("FlushContext(reloaded keyedhash)", flush_context(TRANSIENT_FIRST + 2), 0);
  Step& ce = tpm("Create(ECC P-256 ECDSA signing key)", create(kPrimary, template_ecc_p256_signing()), 0, Mask::Create);
  ce.save_as = "ecc_create";
  Step& le = tpm("Load(ECC signing key)", {}, 0, Mask::Load);  // 0x80000002
  le.build = [](const Saved& s) {
    auto [priv, pub] = create_outputs(s.at("ecc_create"));
    return load(kPrimary, priv, pub);
  };
  tpm("ReadPublic(ECC signing key)", read_public(TRANSIENT_FIRST + 2), 0, Mask::ReadPublicCreated);
  tpm("Sign(ECC key, ECDSA-SHA256)", sign(TRANSIENT_FIRST + 2, Bytes(32, 0x42), ALG_ECDSA, ALG_SHA256), 0, Mask::EcdsaSignature);
  tpm("Sign(ECC key, 20-byte digest: wrong size)", sign(TRANSIENT_FIRST + 2, Bytes(20, 0x42), ALG_ECDSA, ALG_SHA256));
  tpm("FlushContext(ECC signing key)", flush_context(TRANSIENT_FIRST + 2), 0);
  tpm("StartAuthSession(trial, SHA256)", start_auth_session(SE_TRIAL, Bytes(16, 0x99), ALG_SHA256), 0,
      Mask::StartAuthSession);
  tpm("PolicyPCR(sha256 0,16)", policy_pcr(kPolicySession, {{ALG_SHA256, 0x10001}}), 0);
  tpm("PolicyCommandCode(NV_Read)", policy_command_code(kPolicySession, CC_NV_Read), 0);
  tpm("PolicyGetDigest", policy_get_digest(kPolicySession), 0);
  tpm("FlushContext(policy session)", flush_context(kPolicySession), 0);
  tpm("GetCapability(HANDLES transient)", get_capability(CAP_HANDLES, TRANSIENT_FIRST, 16), 0);
  tpm("GetCapability(HANDLES nv)", get_capability(CAP_HANDLES, 0x01000000, 16), 0);
  tpm("GetTime(endorsement, NULL signer)", get_time_unsigned(Bytes{'q', 'd'}), 0, Mask::GetTime);
  tpm("ReadClock", read_clock(), 0, Mask::ReadClock);
  // Before any Shutdown(STATE) the permanent state holds no per-process randomness.
  ctl("CMD_GET_STATEBLOB(permanent)", ctrl::get_stateblob(ctrl::BLOB_PERMANENT), 0);
}

std::vector<PcrSelection> Builder::random_selection() {
  std::vector<PcrSelection> sel;
  uint32_t nbanks = rng_.range(1, 2);
  for (uint32_t i = 0; i < nbanks; ++i) sel.push_back({kBanks[rng_.below(4)], uint32_t(rng_.next() & 0xffffff)});
  return sel;
}

void Builder::random_op() {
  switch (rng_.below(16)) {
    case 0: {
      uint32_t n = rng_.range(1, 48);
      tpm(fmt("GetRandom(%u)", n), get_random(uint16_t(n)), 0, Mask::GetRandom);
      break;
    }
    case 1: {
      uint32_t n = rng_.range(1, 64);
      tpm(fmt("StirRandom(%u bytes)", n), stir_random(rng_.bytes(n)), 0);
      break;
    }
    case 2:
    case 3: {
      static const uint32_t pcrs[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 23};
      uint32_t pcr = pcrs[rng_.below(15)];
      std::vector<std::pair<uint16_t, Bytes>> d;
      uint32_t mask = rng_.range(1, 15);
      for (int b = 0; b < 4; ++b)
        if (mask & (1u << b)) d.push_back({kBanks[b], rng_.bytes(digest_size(kBanks[b]))});
      tpm(fmt("PCR_Extend(%u, banks 0x%x)", pcr, mask), pcr_extend(pcr, d), 0);
      break;
    }
    case 4: {
      uint32_t pcr = rng_.below(17), n = rng_.range(0, 64);
      tpm(fmt("PCR_Event(%u, %u bytes)", pcr, n), pcr_event(pcr, rng_.bytes(n)), 0);
      break;
    }
    case 5:
    case 6: {
      auto sel = random_selection();
      tpm(fmt("PCR_Read(bank 0x%x mask 0x%06x, %u banks)", sel[0].hash, sel[0].pcrs, unsigned(sel.size())), pcr_read(sel), 0);
      break;
    }
    case 7: {
      uint32_t n = rng_.range(0, 128);
      uint16_t alg = kBanks[rng_.below(4)];
      uint32_t hier = rng_.below(2) ? RH_OWNER : RH_NULL;
      tpm(fmt("Hash(%u bytes, alg 0x%x, hierarchy 0x%08x)", n, alg, hier), hash(rng_.bytes(n), alg, hier), 0);
      break;
    }
    case 8: {
      uint32_t len = rng_.range(1, 40), off = rng_.range(0, kNvDataSize - 1);
      bool fits = off + len <= kNvDataSize;
      tpm(fmt("NV_Write(data, %u @%u)", len, off), nv_write(kNvData, rng_.bytes(len), uint16_t(off)),
          fits ? std::optional<uint32_t>(0) : std::nullopt);
      break;
    }
    case 9: {
      uint32_t len = rng_.range(1, 64), off = rng_.range(0, kNvDataSize - 1);
      bool fits = off + len <= kNvDataSize;
      tpm(fmt("NV_Read(data, %u @%u)", len, off), nv_read(kNvData, uint16_t(len), uint16_t(off)),
          fits ? std::optional<uint32_t>(0) : std::nullopt);
      break;
    }
    case 10:
      tpm("NV_Increment(counter)", nv_increment(kNvCounter), 0);
      tpm("NV_Read(counter)", nv_read(kNvCounter, 8, 0), 0);
      break;
    case 11: {
      uint32_t n = rng_.range(0, 256);
      tpm(fmt("HMAC(keyedhash, %u bytes)", n), hmac(kHmacKey, rng_.bytes(n), rng_.below(2) ? ALG_NULL : ALG_SHA256), 0);
      break;
    }
    case 12:
      tpm("Sign(keyedhash, random digest)", sign(kHmacKey, rng_.bytes(32), ALG_NULL, 0), 0);
      break;
    case 13: {
      static const struct {
        uint32_t cap, first, last, count_max;
      } caps[] = {{CAP_ALGS, 0, 0x50, 40}, {CAP_COMMANDS, 0x11f, 0x19f, 60}, {CAP_TPM_PROPERTIES, 0x100, 0x12f, 50},
                  {CAP_TPM_PROPERTIES, 0x200, 0x215, 30}, {CAP_PCR_PROPERTIES, 0, 0x14, 24}, {CAP_HANDLES, 0x01500000, 0x01500020, 8},
                  {CAP_ECC_CURVES, 0, 5, 8}, {CAP_PCRS, 0, 0, 1}};
      const auto& c = caps[rng_.below(8)];
      uint32_t prop = rng_.range(c.first, c.last), count = rng_.range(1, c.count_max);
      tpm(fmt("GetCapability(%u, 0x%x, %u)", c.cap, prop, count), get_capability(c.cap, prop, count), 0);
      break;
    }
    case 14:
      if (rng_.below(2)) tpm("ReadClock", read_clock(), 0, Mask::ReadClock);
      else tpm("ReadPublic(ECC primary)", read_public(kPrimary), 0);
      break;
    default: {
      switch (rng_.below(4)) {
        case 0: tpm("GetTestResult", get_test_result(), 0); break;
        case 1: tpm("NV_ReadPublic(data)", nv_read_public(kNvData), 0); break;
        case 2: tpm("TestParms(RSA-2048)", test_parms(parms_rsa(2048)), 0); break;
        default: tpm("TestParms(ECC P-256)", test_parms(parms_ecc(ECC_NIST_P256)), 0); break;
      }
      break;
    }
  }
}

void Builder::random_mix(int n) {
  for (int i = 0; i < n; ++i) {
    bool fresh = rng_.below(10) == 0;
    size_t first = steps_.size();
    random_op();
    if (fresh) {
      steps_[first].new_connection = true;
      steps_[first].name += " [new connection]";
    }
  }
}

void Builder::ctrl_section() {
  section("ctrl");
  ctl("CMD_HASH_START", ctrl::request(ctrl::HASH_START), 0);
  ctl("CMD_HASH_DATA(100)", ctrl::hash_data(rng_.bytes(100)), 0);
  ctl("CMD_HASH_DATA(4096)", ctrl::hash_data(rng_.bytes(4096)), 0);
  ctl("CMD_HASH_DATA(1)", ctrl::hash_data(rng_.bytes(1)), 0);
  ctl("CMD_HASH_END", ctrl::request(ctrl::HASH_END), 0);
  tpm("PCR_Read(sha1+sha256 17)", pcr_read({{ALG_SHA1, 1u << 17}, {ALG_SHA256, 1u << 17}}), 0);
  ctl("CMD_GET_TPMESTABLISHED (after HASH_END)", ctrl::request(ctrl::GET_TPMESTABLISHED), 0);
  ctl("CMD_RESET_TPMESTABLISHED(0)", ctrl::reset_tpmestablished(0), 0x3d);
  ctl("CMD_RESET_TPMESTABLISHED(3)", ctrl::reset_tpmestablished(3), 0);
  ctl("CMD_GET_TPMESTABLISHED (after reset)", ctrl::request(ctrl::GET_TPMESTABLISHED), 0);
  ctl("CMD_SET_LOCALITY(2)", ctrl::set_locality(2), 0);
  tpm("PCR_Reset(20) at locality 2", pcr_reset(20));
  tpm("PCR_Extend(20) at locality 2", pcr_extend(20, {{ALG_SHA256, Bytes(32, 0x20)}}));
  tpm("PCR_Read(sha256 20) at locality 2", pcr_read({{ALG_SHA256, 1u << 20}}), 0);
  ctl("CMD_SET_LOCALITY(3), QEMU's 4-byte form", ctrl::set_locality_qemu(3), 0);
  tpm("PCR_Reset(0) at locality 3", pcr_reset(0));
  tpm("PCR_Extend(17) at locality 3", pcr_extend(17, {{ALG_SHA256, Bytes(32, 0x17)}}));
  ctl("CMD_SET_LOCALITY(5)", ctrl::set_locality(5), 0x3d);
  ctl("CMD_SET_LOCALITY(4)", ctrl::set_locality(4), 0);
  tpm("PCR_Reset(17) at locality 4", pcr_reset(17));
  tpm("GetRandom(8) at locality 4", get_random(8), 0, Mask::GetRandom);
  ctl("CMD_SET_LOCALITY(0)", ctrl::set_locality(0), 0);
  tpm("PCR_Reset(20) at locality 0", pcr_reset(20));
  tpm("PCR_Read(sha256 17-22)", pcr_read({{ALG_SHA256, 0x7e0000}}), 0);
  ctl("CMD_CANCEL_TPM_CMD", ctrl::request(ctrl::CANCEL_TPM_CMD), 0);
  ctl("CMD_STORE_VOLATILE", ctrl::request(ctrl::STORE_VOLATILE), 0);
  ctl("CMD_GET_STATEBLOB(savestate)", ctrl::get_stateblob(ctrl::BLOB_SAVESTATE));
  ctl("CMD_GET_STATEBLOB(type 7)", ctrl::get_stateblob(7));
  ctl("CMD_SET_BUFFERSIZE(3000) while running", ctrl::set_buffersize(3000));
  ctl("CMD_SET_STATEBLOB while running", ctrl::set_stateblob(ctrl::BLOB_VOLATILE, Bytes{}));
  ctl("CMD_GET_INFO(0)", ctrl::get_info(0));
  ctl("unknown control code 0x99", ctrl::request(0x99));
  ctl("CMD_GET_CONFIG", ctrl::request(ctrl::GET_CONFIG), 0);
  ctl("CMD_GET_CAPABILITY", ctrl::request(ctrl::GET_CAPABILITY), 0);
}

void Builder::stop_init() {
  section("stop-init");
  tpm("Shutdown(STATE)", shutdown(SU_STATE), 0);
  ctl("CMD_STOP", ctrl::request(ctrl::STOP), 0);
  tpm("GetRandom(8) while stopped", get_random(8), RC_FAILURE);
  tpm("PCR_Read while stopped", pcr_read({{ALG_SHA256, 1}}), RC_FAILURE);
  ctl("CMD_GET_TPMESTABLISHED while stopped", ctrl::request(ctrl::GET_TPMESTABLISHED));
  ctl("CMD_STORE_VOLATILE while stopped", ctrl::request(ctrl::STORE_VOLATILE));
  ctl("CMD_HASH_START while stopped", ctrl::request(ctrl::HASH_START));
  ctl("CMD_GET_STATEBLOB(permanent) while stopped", ctrl::get_stateblob(ctrl::BLOB_PERMANENT));
  ctl("CMD_SET_BUFFERSIZE(3000) while stopped", ctrl::set_buffersize(3000), 0);
  ctl("CMD_SET_BUFFERSIZE(query)", ctrl::set_buffersize(0), 0);
  ctl("CMD_SET_BUFFERSIZE(100000): clamped", ctrl::set_buffersize(100000), 0);
  ctl("CMD_SET_BUFFERSIZE(4096)", ctrl::set_buffersize(4096), 0);
  ctl("CMD_GET_CAPABILITY while stopped", ctrl::request(ctrl::GET_CAPABILITY), 0);
  // CMD_INIT loads the volatile state that CMD_STORE_VOLATILE wrote in the ctrl section, so the
  // TPM comes back as it was then: started, with its objects loaded (DELETE_VOLATILE removes the
  // file only after loading it).
  ctl("CMD_INIT(DELETE_VOLATILE)", ctrl::init(ctrl::INIT_FLAG_DELETE_VOLATILE), 0);
  tpm("Startup(CLEAR) on the restored volatile state", startup(SU_CLEAR), RC_INITIALIZE);
  tpm("GetCapability(HANDLES transient) restored", get_capability(CAP_HANDLES, TRANSIENT_FIRST, 16), 0);
  tpm("HMAC(restored keyedhash, 'abc')", hmac(kHmacKey, Bytes{'a', 'b', 'c'}, ALG_NULL), 0);
  tpm("ReadClock on the restored state", read_clock(), 0, Mask::ReadClock);
  tpm("Shutdown(STATE) again", shutdown(SU_STATE), 0);
  ctl("CMD_STOP", ctrl::request(ctrl::STOP), 0);
  ctl("CMD_INIT(0): no volatile file now", ctrl::init(0), 0);
  tpm("GetRandom(8) before Startup", get_random(8));
  tpm("Startup(STATE)", startup(SU_STATE), 0);
  tpm("ReadClock after resume", read_clock(), 0, Mask::ReadClock);
  tpm("PCR_Read(sha256 0-23) after resume", pcr_read({{ALG_SHA256, 0xffffff}}), 0);
  tpm("GetCapability(HANDLES transient) after resume", get_capability(CAP_HANDLES, TRANSIENT_FIRST, 16), 0);
  tpm("NV_Read(counter) after resume", nv_read(kNvCounter, 8, 0), 0);
  // Shutdown(STATE) stored state-reset data (fresh random proofs and seeds) in NV.
  ctl("CMD_GET_STATEBLOB(permanent) after Shutdown(STATE)", ctrl::get_stateblob(ctrl::BLOB_PERMANENT), 0,
      Mask::StateBlobPayload);
  tpm("CreatePrimary(owner, ECC P-256) again", create_primary(RH_OWNER, template_ecc_p256_storage()), 0);
  load_hmac_key();
}

void Builder::malformed() {
  section("malformed");
  Bytes gr = get_random(8);  // 80 01 0000000c 0000017b 0008
  auto with = [](Bytes b, size_t at, std::initializer_list<uint8_t> v) {
    for (uint8_t x : v) b.at(at++) = x;
    return b;
  };
  tpm("bad tag 0x1234", with(gr, 0, {0x12, 0x34}));
  tpm("tag 0x8003", with(gr, 0, {0x80, 0x03}));
  tpm("TPM 1.2 tag 0x00c1", with(gr, 0, {0x00, 0xc1}));
  tpm("ST_SESSIONS without an auth area", with(gr, 0, {0x80, 0x02}));
  {
    Command c(CC_PCR_Extend);
    c.handle(16);
    c.params().u32(1).u16(ALG_SHA256).raw(Bytes(32, 1));
    tpm("PCR_Extend without authorization", c.finish());
  }
  tpm("unknown command code 0x0fff", with(gr, 6, {0x00, 0x00, 0x0f, 0xff}));
  tpm("vendor command code 0x20000000", with(gr, 6, {0x20, 0x00, 0x00, 0x00}));
  tpm("TPM2_SetLocality vendor code 0x20001000", Writer().u16(ST_NO_SESSIONS).u32(11).u32(0x20001000).u8(1).take());
  tpm("GetRandom without its parameter", Writer().u16(ST_NO_SESSIONS).u32(10).u32(CC_GetRandom).take());
  tpm("GetRandom with one parameter byte", Writer().u16(ST_NO_SESSIONS).u32(11).u32(CC_GetRandom).u8(0).take());
  tpm("GetRandom with 2 trailing bytes", Writer().raw(with(gr, 2, {0, 0, 0, 14})).u16(0).take());
  {
    Bytes b = nv_read(kNvData, 8, 0);
    b.resize(b.size() - 2);
    Writer w;
    w.raw(b);
    w.patch_u32(2, uint32_t(b.size()));
    tpm("NV_Read without offset", w.take());
  }
  {
    Bytes b = create_primary(RH_OWNER, template_ecc_p256_storage());
    b.resize(40);
    Writer w;
    w.raw(b);
    w.patch_u32(2, 40);
    tpm("CreatePrimary cut at 40 bytes", w.take());
  }
  tpm("PCR_Extend with count 1 and no digest", [] {
    Command c(CC_PCR_Extend);
    c.handle(16).pw_session();
    c.params().u32(1);
    return c.finish();
  }());
  tpm("PCR_Extend with count 9", [] {
    Command c(CC_PCR_Extend);
    c.handle(16).pw_session();
    c.params().u32(9);
    return c.finish();
  }());
  tpm("password session with handle 0x40000000", [] {
    Writer w;
    w.u16(ST_SESSIONS).u32(0).u32(CC_PCR_Reset).u32(16).u32(9).u32(0x40000000).u16(0).u8(1).u16(0);
    w.patch_u32(2, uint32_t(w.size()));
    return w.take();
  }());
  tpm("NV_Read with a wrong owner password", [] {
    Command c(CC_NV_Read);
    c.handle(RH_OWNER).handle(kNvData).pw_session(Bytes{'x'});
    c.params().u16(8).u16(0);
    return c.finish();
  }());
  tpm("ReadPublic(0x80000002: not loaded)", read_public(TRANSIENT_FIRST + 2));
  tpm("FlushContext(0x80000002: not loaded)", flush_context(TRANSIENT_FIRST + 2));
  tpm("ContextLoad(garbage)", context_load(Writer().u64(5).u32(TRANSIENT_FIRST).u32(RH_OWNER).tpm2b(Bytes(64, 0xee)).take()));
  tpm("Hash(alg 0x99)", hash(Bytes{1, 2, 3}, 0x99, RH_OWNER));
  tpm("GetRandom(0)", get_random(0), 0);
  tpm("GetRandom(1000): capped", get_random(1000), 0, Mask::GetRandom);
  tpm("NV_Read(undefined index)", nv_read(kNvNever, 8, 0));
  tpm("PCR_Reset(1) at locality 0", pcr_reset(1), 0x907);
  if (opt_.framing) {
    // swtpm 0.7.1 hands libtpms whatever one read() returned (reference/swtpm-qemu.md §1.5), so a
    // size field that disagrees with the bytes sent gets TPM_RC_COMMAND_SIZE at once, and fewer
    // than 10 bytes get no answer at all.
    framing("size field 10, 12 bytes sent", with(gr, 2, {0, 0, 0, 10}));
    framing("size field 20, 12 bytes sent", with(gr, 2, {0, 0, 0, 20}));
    framing("size field 4096, 12 bytes sent", with(gr, 2, {0, 0, 0x10, 0}));
    framing("size field 0xffffffff, 12 bytes sent", with(gr, 2, {0xff, 0xff, 0xff, 0xff}));
    framing("size field 6, 12 bytes sent", with(gr, 2, {0, 0, 0, 6}));
    framing("9 bytes only", Bytes(gr.begin(), gr.begin() + 9), 1000);
  }
  tpm("GetRandom after the framing probes", get_random(4), 0, Mask::GetRandom);
}

void Builder::teardown() {
  section("teardown");
  tpm("FlushContext(keyedhash)", flush_context(kHmacKey), 0);
  tpm("FlushContext(ECC primary)", flush_context(kPrimary), 0);
  tpm("GetCapability(HANDLES transient)", get_capability(CAP_HANDLES, TRANSIENT_FIRST, 16), 0);
  tpm("NV_UndefineSpace(data)", nv_undefine_space(kNvData), 0);
  tpm("NV_UndefineSpace(counter)", nv_undefine_space(kNvCounter), 0);
  tpm("NV_UndefineSpace(spare)", nv_undefine_space(kNvSpare), 0);
  tpm("NV_UndefineSpace(data) again", nv_undefine_space(kNvData));
  tpm("GetCapability(HANDLES nv)", get_capability(CAP_HANDLES, 0x01000000, 16), 0);
  tpm("Shutdown(CLEAR)", shutdown(SU_CLEAR), 0);
  tpm("GetRandom after Shutdown", get_random(4), 0, Mask::GetRandom);
  ctl("CMD_GET_CAPABILITY", ctrl::request(ctrl::GET_CAPABILITY), 0);
}

}  // namespace

std::vector<Step> build_trace(const TraceOptions& opt) {
  Builder b(opt);
  b.prelude();
  b.pcr();
  b.nv();
  b.objects();
  b.section("random-1");
  b.random_mix(opt.random_ops_1);
  b.ctrl_section();
  b.stop_init();
  b.section("random-2");
  b.random_mix(opt.random_ops_2);
  b.malformed();
  b.teardown();
  return b.take();
}

}  // namespace vtpm::testtools::diff
