// Engine against the real libtpms 0.9 with an in-memory NvBackend: manufacture, reload, fail
// closed, volatile resume, state blobs, buffer size, DRTM hashing and the established bit.
// Command bytes are built by hand from TPM 2.0 Part 3 / TPM 1.2 Part 3. Each test owns the one
// Engine of the process and destroys it before the next (libtpms is process-global).
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <array>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace vtpm::engine {
namespace {

using Bytes = std::vector<uint8_t>;

class MemNv final : public NvBackend {
 public:
  std::map<BlobKind, Bytes> blobs;
  std::map<BlobKind, int> absent_loads, stores, removes;
  std::map<BlobKind, LoadStatus> forced;  // answer this instead of looking at `blobs`
  bool fail_removes = false;

  LoadStatus load(BlobKind kind, Bytes& out) override {
    if (auto f = forced.find(kind); f != forced.end()) {
      if (f->second == LoadStatus::Loaded) out = blobs[kind];
      return f->second;
    }
    auto it = blobs.find(kind);
    if (it == blobs.end()) {
      ++absent_loads[kind];
      return LoadStatus::Absent;
    }
    out = it->second;
    return LoadStatus::Loaded;
  }
  bool store(BlobKind kind, const uint8_t* data, uint32_t len) override {
    ++stores[kind];
    blobs[kind] = Bytes(data, data + len);
    return true;
  }
  bool remove(BlobKind kind, bool must_exist) override {
    ++removes[kind];
    if (fail_removes) return false;
    const bool had = blobs.erase(kind) != 0;
    return had || !must_exist;
  }
};

// A TPM command under construction: header first, size patched by done().
class Cmd {
 public:
  Cmd(uint16_t tag, uint32_t code) { u16(tag).u32(0).u32(code); }
  Cmd& u8(uint8_t v) { b_.push_back(v); return *this; }
  Cmd& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  Cmd& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  Cmd& bytes(const Bytes& v) { b_.insert(b_.end(), v.begin(), v.end()); return *this; }
  // The empty password session (TPM 2.0 Part 1 §19.8.4): TPM_RS_PW, no nonce, no hmac.
  Cmd& pw_session() { return u32(9).u32(0x40000009).u16(0).u8(0).u16(0); }
  Bytes done() {
    const auto n = uint32_t(b_.size());
    b_[2] = uint8_t(n >> 24), b_[3] = uint8_t(n >> 16), b_[4] = uint8_t(n >> 8), b_[5] = uint8_t(n);
    return b_;
  }

 private:
  Bytes b_;
};

uint32_t be32(const Bytes& b, size_t at) {
  return (uint32_t{b.at(at)} << 24) | (uint32_t{b.at(at + 1)} << 16) |
         (uint32_t{b.at(at + 2)} << 8) | b.at(at + 3);
}
uint16_t be16(const Bytes& b, size_t at) { return uint16_t((b.at(at) << 8) | b.at(at + 1)); }
uint32_t rc_of(const Bytes& r) { return be32(r, 6); }

// Runs one command; checks the response is well formed (size field == length).
Bytes run(Engine& e, const Bytes& cmd) {
  std::array<uint8_t, 4096> out{};
  uint32_t len = 0;
  EXPECT_EQ(e.process(cmd.data(), uint32_t(cmd.size()), out.data(), out.size(), len), rc::kSuccess);
  Bytes r(out.begin(), out.begin() + len);
  EXPECT_GE(r.size(), 10u);
  if (r.size() >= 10) {
    EXPECT_EQ(be32(r, 2), r.size());
  }
  return r;
}

constexpr uint16_t kNoSessions = 0x8001, kSessions = 0x8002, kSha256 = 0x000b;
constexpr uint32_t kNvIndex = 0x01500000;

Bytes pcr_read(Engine& e, unsigned pcr) {
  Bytes select(3, 0);
  select[pcr / 8] = uint8_t(1u << (pcr % 8));
  Bytes r = run(e, Cmd(kNoSessions, 0x17e).u32(1).u16(kSha256).u8(3).bytes(select).done());
  EXPECT_EQ(rc_of(r), 0u);
  // rc | updateCounter u32 | TPML_PCR_SELECTION (10) | count u32 | TPM2B_DIGEST
  EXPECT_EQ(r.size(), 62u);
  if (r.size() != 62) return {};
  EXPECT_EQ(be32(r, 24), 1u);
  EXPECT_EQ(be16(r, 28), 32u);
  return Bytes(r.begin() + 30, r.end());
}

uint32_t pcr_extend(Engine& e, unsigned pcr, const Bytes& digest) {
  return rc_of(run(e, Cmd(kSessions, 0x182).u32(pcr).pw_session().u32(1).u16(kSha256)
                          .bytes(digest).done()));
}

uint32_t nv_define(Engine& e) {
  // TPM2_NV_DefineSpace(TPM_RH_OWNER, auth {}, {index, sha256, AUTHWRITE|AUTHREAD, {}, 8})
  return rc_of(run(e, Cmd(kSessions, 0x12a).u32(0x40000001).pw_session().u16(0)
                          .u16(14).u32(kNvIndex).u16(kSha256).u32(0x00040004).u16(0).u16(8)
                          .done()));
}

uint32_t nv_read_public(Engine& e) {
  return rc_of(run(e, Cmd(kNoSessions, 0x169).u32(kNvIndex).done()));
}

uint32_t shutdown(Engine& e, uint16_t type) {
  return rc_of(run(e, Cmd(kNoSessions, 0x145).u16(type).done()));
}

Bytes sha256(const Bytes& a) {
  Bytes d(32);
  SHA256(a.data(), a.size(), d.data());
  return d;
}

TEST(Engine, ManufacturesWhenPermallIsAbsent) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  EXPECT_FALSE(e.running());
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_TRUE(e.running());
  EXPECT_GE(nv.absent_loads[BlobKind::Permanent], 1);
  EXPECT_GE(nv.stores[BlobKind::Permanent], 1);
  EXPECT_FALSE(nv.blobs[BlobKind::Permanent].empty());
  EXPECT_EQ(e.startup(0), 0u);
  EXPECT_EQ(e.startup(0), 0x100u);  // TPM_RC_INITIALIZE
  e.terminate();
  EXPECT_FALSE(e.running());
}

TEST(Engine, GetRandomAnswersSixteenBytes) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  ASSERT_EQ(e.startup(0), 0u);
  Bytes r = run(e, Cmd(kNoSessions, 0x17b).u16(16).done());
  EXPECT_EQ(be16(r, 0), kNoSessions);
  EXPECT_EQ(rc_of(r), 0u);
  ASSERT_EQ(r.size(), 28u);
  EXPECT_EQ(be16(r, 10), 16u);
}

TEST(Engine, ResponseLargerThanCallerBufferBecomesFatal) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  ASSERT_EQ(e.startup(0), 0u);
  Bytes cmd = Cmd(kNoSessions, 0x17b).u16(16).done();
  uint8_t out[20];
  uint32_t len = 0;
  EXPECT_EQ(e.process(cmd.data(), uint32_t(cmd.size()), out, sizeof(out), len), rc::kFail);
  EXPECT_EQ(Bytes(out, out + len), (Bytes{0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0x01}));
  // and the engine still answers normally afterwards
  EXPECT_EQ(rc_of(run(e, cmd)), 0u);
}

TEST(Engine, PcrExtendThenReadGivesTheHashChain) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  ASSERT_EQ(e.startup(0), 0u);
  const Bytes digest = sha256(Bytes{'v', 't', 'p', 'm'});
  EXPECT_EQ(pcr_read(e, 10), Bytes(32, 0));
  ASSERT_EQ(pcr_extend(e, 10, digest), 0u);
  Bytes chain(32, 0);
  chain.insert(chain.end(), digest.begin(), digest.end());
  EXPECT_EQ(pcr_read(e, 10), sha256(chain));
}

TEST(Engine, NvIndexSurvivesTerminateAndInit) {
  MemNv nv;
  {
    Engine e(TpmVersion::Tpm2, nv);
    ASSERT_EQ(e.init(false), rc::kSuccess);
    ASSERT_EQ(e.startup(0), 0u);
    EXPECT_EQ(nv_read_public(e), 0x18bu);  // TPM_RC_HANDLE + handle 1
    ASSERT_EQ(nv_define(e), 0u);
    EXPECT_EQ(nv_read_public(e), 0u);
    ASSERT_EQ(shutdown(e, 0), 0u);
  }
  const int absent_before = nv.absent_loads[BlobKind::Permanent];
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_EQ(nv.absent_loads[BlobKind::Permanent], absent_before);  // loaded, not manufactured
  ASSERT_EQ(e.startup(0), 0u);
  EXPECT_EQ(nv_read_public(e), 0u);
}

TEST(Engine, FailedPermallFailsClosed) {
  MemNv nv;
  nv.forced[BlobKind::Permanent] = LoadStatus::Failed;
  Engine e(TpmVersion::Tpm2, nv);
  EXPECT_EQ(e.init(false), 0x101u);  // TPM_RC_FAILURE from MainInit
  EXPECT_FALSE(e.running());
  EXPECT_EQ(nv.stores[BlobKind::Permanent], 0);  // nothing manufactured over it
  nv.forced.clear();  // the blob is gone for good now: a later init may manufacture
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_EQ(e.startup(0), 0u);
}

// The load callback's code for each failure: a TPM 1.2 MainInit returns it (CMD_INIT answers
// what swtpm 0.7.1 answers: 0x21 wrong key, 0x28 key of the other size, 0x09 otherwise); a TPM 2
// MainInit answers TPM_RC_FAILURE for every one. Fail closed each time, then recover.
TEST(Engine, LoadFailureCodeReachesInit) {
  struct Case {
    LoadStatus status;
    uint32_t tpm12, tpm2;
  };
  const Case cases[] = {{LoadStatus::Failed, 0x09, 0x101},
                        {LoadStatus::WrongKey, 0x21, 0x101},
                        {LoadStatus::WrongKeySize, 0x28, 0x101}};
  for (TpmVersion v : {TpmVersion::Tpm12, TpmVersion::Tpm2}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::to_string(int(v)) + "/" + std::to_string(int(c.status)));
      MemNv nv;
      nv.forced[BlobKind::Permanent] = c.status;
      Engine e(v, nv);
      EXPECT_EQ(e.init(false), v == TpmVersion::Tpm12 ? c.tpm12 : c.tpm2);
      EXPECT_FALSE(e.running());
      EXPECT_EQ(nv.stores[BlobKind::Permanent], 0);  // nothing manufactured over it
      uint8_t out[64];
      uint32_t len = 0;
      Bytes cmd = v == TpmVersion::Tpm2 ? Cmd(kNoSessions, 0x17b).u16(16).done()
                                        : Cmd(0x00c1, 0x46).u32(16).done();  // GetRandom
      EXPECT_EQ(e.process(cmd.data(), uint32_t(cmd.size()), out, sizeof(out), len), rc::kFail);
      EXPECT_EQ(len, 10u);
      nv.forced.clear();  // the key is right now (here: the blob is absent, so it manufactures)
      ASSERT_EQ(e.init(false), rc::kSuccess);
      EXPECT_TRUE(e.running());
    }
  }
}

TEST(Engine, GarbagePermallFailsClosed) {
  MemNv nv;
  nv.blobs[BlobKind::Permanent] = Bytes(1500, 0x5a);
  Engine e(TpmVersion::Tpm2, nv);
  EXPECT_EQ(e.init(false), 0x101u);
  EXPECT_FALSE(e.running());
  EXPECT_EQ(nv.stores[BlobKind::Permanent], 0);
  EXPECT_EQ(nv.blobs[BlobKind::Permanent], Bytes(1500, 0x5a));
  // Not running: commands get the fatal response.
  Bytes cmd = Cmd(kNoSessions, 0x17b).u16(16).done();
  uint8_t out[64];
  uint32_t len = 0;
  EXPECT_EQ(e.process(cmd.data(), uint32_t(cmd.size()), out, sizeof(out), len), rc::kFail);
  EXPECT_EQ(len, 10u);
}

TEST(Engine, StartupStateResumesAfterShutdownState) {
  MemNv nv;
  const Bytes digest = sha256(Bytes{'x'});
  Bytes extended;
  {
    Engine e(TpmVersion::Tpm2, nv);
    ASSERT_EQ(e.init(false), rc::kSuccess);
    ASSERT_EQ(e.startup(0), 0u);
    ASSERT_EQ(pcr_extend(e, 10, digest), 0u);
    extended = pcr_read(e, 10);
    ASSERT_EQ(shutdown(e, 1), 0u);  // SU_STATE: saved into the permanent state
  }
  EXPECT_EQ(nv.stores[BlobKind::Volatile], 0);
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  ASSERT_EQ(e.startup(1), 0u);  // TPM Resume
  EXPECT_EQ(pcr_read(e, 10), extended);
}

TEST(Engine, VolatileBlobResumesARunningTpm) {
  MemNv nv;
  const Bytes digest = sha256(Bytes{'y'});
  Bytes extended;
  {
    Engine e(TpmVersion::Tpm2, nv);
    ASSERT_EQ(e.init(false), rc::kSuccess);
    ASSERT_EQ(e.startup(0), 0u);
    ASSERT_EQ(pcr_extend(e, 10, digest), 0u);
    extended = pcr_read(e, 10);
    ASSERT_EQ(e.store_volatile(), rc::kSuccess);  // no Shutdown: a migration snapshot
    ASSERT_EQ(nv.stores[BlobKind::Volatile], 1);
    EXPECT_FALSE(nv.blobs[BlobKind::Volatile].empty());
  }
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(true), rc::kSuccess);
  EXPECT_EQ(nv.blobs.count(BlobKind::Volatile), 0u);  // delete_volatile removed it after loading
  EXPECT_EQ(nv.removes[BlobKind::Volatile], 1);
  EXPECT_EQ(pcr_read(e, 10), extended);  // running as it was: no Startup needed ...
  EXPECT_EQ(e.startup(0), 0x100u);       // ... nor accepted (TPM_RC_INITIALIZE)
}

// CMD_GET_STATEBLOB of the volatile state consumes the stored copy (swtpm deletes the file), so
// the next INIT does not resume from it; a copy that cannot be removed is not handed out.
TEST(Engine, HandingOutTheVolatileStateRemovesTheStoredCopy) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  ASSERT_EQ(e.startup(0), 0u);
  ASSERT_EQ(e.store_volatile(), rc::kSuccess);
  ASSERT_EQ(nv.blobs.count(BlobKind::Volatile), 1u);
  Bytes blob;
  ASSERT_EQ(e.get_state(BlobKind::Volatile, blob), rc::kSuccess);
  EXPECT_FALSE(blob.empty());
  EXPECT_EQ(nv.blobs.count(BlobKind::Volatile), 0u);
  EXPECT_EQ(nv.removes[BlobKind::Volatile], 1);
  Bytes permanent;
  ASSERT_EQ(e.get_state(BlobKind::Permanent, permanent), rc::kSuccess);
  EXPECT_EQ(nv.removes[BlobKind::Permanent], 0);  // only the volatile state is one-shot
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_EQ(e.startup(0), 0u);  // not resumed: the TPM waits for Startup
  // A store that cannot remove it: the blob is not handed out.
  ASSERT_EQ(e.store_volatile(), rc::kSuccess);
  nv.fail_removes = true;
  EXPECT_EQ(e.get_state(BlobKind::Volatile, blob), rc::kFail);
  EXPECT_TRUE(blob.empty());
  EXPECT_EQ(nv.blobs.count(BlobKind::Volatile), 1u);
}

TEST(Engine, StateBlobsRoundTripWhileStopped) {
  MemNv nv;
  Bytes permanent;
  {
    Engine e(TpmVersion::Tpm2, nv);
    std::vector<uint8_t> blob;
    EXPECT_EQ(e.get_state(BlobKind::Permanent, blob), rc::kRetry);  // stopped, nothing stored
    ASSERT_EQ(e.init(false), rc::kSuccess);
    ASSERT_EQ(e.startup(0), 0u);
    ASSERT_EQ(nv_define(e), 0u);
    EXPECT_EQ(e.get_state(BlobKind::SaveState, blob), rc::kRetry);  // TPM2: always empty
    EXPECT_TRUE(blob.empty());
    ASSERT_EQ(e.get_state(BlobKind::Permanent, permanent), rc::kSuccess);  // live marshal
    EXPECT_EQ(e.set_state(BlobKind::Permanent, permanent.data(), uint32_t(permanent.size())),
              rc::kBadOrdinal);  // refused while running
    e.terminate();
    ASSERT_EQ(e.get_state(BlobKind::Permanent, blob), rc::kSuccess);  // stopped: via loaddata
    EXPECT_EQ(blob, nv.blobs[BlobKind::Permanent]);
  }
  MemNv fresh;
  Engine e(TpmVersion::Tpm2, fresh);
  EXPECT_NE(e.set_state(BlobKind::Permanent, permanent.data(), 17), rc::kSuccess);  // truncated
  ASSERT_EQ(e.set_state(BlobKind::Permanent, permanent.data(), uint32_t(permanent.size())),
            rc::kSuccess);
  std::vector<uint8_t> cached;
  ASSERT_EQ(e.get_state(BlobKind::Permanent, cached), rc::kSuccess);  // stopped: the cached blob
  EXPECT_EQ(cached, permanent);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_FALSE(fresh.blobs[BlobKind::Permanent].empty());  // MainInit commits the set blob
  ASSERT_EQ(e.startup(0), 0u);
  EXPECT_EQ(nv_read_public(e), 0u);  // the index came with the blob
}

TEST(Engine, EmptyVolatileBlobSkipsResume) {
  MemNv nv;
  {
    Engine e(TpmVersion::Tpm2, nv);
    ASSERT_EQ(e.init(false), rc::kSuccess);
    ASSERT_EQ(e.startup(0), 0u);
    ASSERT_EQ(e.store_volatile(), rc::kSuccess);
  }
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.set_state(BlobKind::Volatile, nullptr, 0), rc::kSuccess);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_EQ(e.startup(0), 0u);  // not resumed: the TPM waits for Startup
  EXPECT_EQ(nv.blobs.count(BlobKind::Volatile), 1u);
}

TEST(Engine, EmptyPermanentBlobIsRefused) {
  MemNv nv;
  {
    Engine e(TpmVersion::Tpm2, nv);
    ASSERT_EQ(e.init(false), rc::kSuccess);
    ASSERT_EQ(e.startup(0), 0u);
    ASSERT_EQ(nv_define(e), 0u);
  }
  const Bytes stored = nv.blobs[BlobKind::Permanent];
  Engine e(TpmVersion::Tpm2, nv);
  EXPECT_EQ(e.set_state(BlobKind::Permanent, nullptr, 0), rc::kBadParameter);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_EQ(nv.blobs[BlobKind::Permanent], stored);  // not overwritten by a zeroed NV
  ASSERT_EQ(e.startup(0), 0u);
  EXPECT_EQ(nv_read_public(e), 0u);
}

TEST(Engine, BufferSizeQueryAndSetOnlyWhileStopped) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  uint32_t actual = 0, min = 0, max = 0;
  ASSERT_EQ(e.set_buffer_size(0, actual, min, max), rc::kSuccess);
  EXPECT_EQ(min, 2808u);
  EXPECT_EQ(max, 4096u);
  EXPECT_EQ(actual, 4096u);
  ASSERT_EQ(e.set_buffer_size(3000, actual, min, max), rc::kSuccess);
  EXPECT_EQ(actual, 3000u);
  EXPECT_EQ(e.buffer_size(), 3000u);
  ASSERT_EQ(e.set_buffer_size(100, actual, min, max), rc::kSuccess);
  EXPECT_EQ(actual, 2808u);  // clamped
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_EQ(e.set_buffer_size(4096, actual, min, max), rc::kBadOrdinal);
  EXPECT_EQ(e.buffer_size(), 2808u);
  ASSERT_EQ(e.set_buffer_size(0, actual, min, max), rc::kSuccess);
  EXPECT_EQ(actual, 2808u);
  e.terminate();
  ASSERT_EQ(e.set_buffer_size(4096, actual, min, max), rc::kSuccess);  // libtpms keeps it global
  EXPECT_EQ(actual, 4096u);
}

TEST(Engine, HashSequenceExtendsPcr17AndSetsEstablished) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  ASSERT_EQ(e.startup(0), 0u);
  bool established = true;
  ASSERT_EQ(e.get_established(established), rc::kSuccess);
  EXPECT_FALSE(established);
  const Bytes before = pcr_read(e, 17);
  const Bytes data = {'d', 'r', 't', 'm'};
  ASSERT_EQ(e.hash_start(), rc::kSuccess);
  ASSERT_EQ(e.hash_data(data.data(), uint32_t(data.size())), rc::kSuccess);
  ASSERT_EQ(e.hash_end(), rc::kSuccess);
  const Bytes after = pcr_read(e, 17);
  EXPECT_NE(after, before);
  Bytes chain(32, 0);  // TPM 2.0 Part 1 §34.3: PCR[17] reset to zero, then extended
  const Bytes d = sha256(data);
  chain.insert(chain.end(), d.begin(), d.end());
  EXPECT_EQ(after, sha256(chain));
  ASSERT_EQ(e.get_established(established), rc::kSuccess);
  EXPECT_TRUE(established);

  e.set_locality(2);
  EXPECT_EQ(e.reset_established(0), rc::kBadLocality);
  EXPECT_EQ(e.locality(), 2);  // restored
  ASSERT_EQ(e.get_established(established), rc::kSuccess);
  EXPECT_TRUE(established);
  EXPECT_EQ(e.reset_established(3), rc::kSuccess);
  EXPECT_EQ(e.locality(), 2);
  ASSERT_EQ(e.get_established(established), rc::kSuccess);
  EXPECT_FALSE(established);
}

TEST(Engine, NotRunningRefusesRunOnlyCalls) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  bool bit = true;
  EXPECT_EQ(e.hash_start(), rc::kBadOrdinal);
  EXPECT_EQ(e.get_established(bit), rc::kBadOrdinal);
  EXPECT_EQ(e.reset_established(3), rc::kBadOrdinal);
  EXPECT_EQ(e.store_volatile(), rc::kBadOrdinal);
  EXPECT_EQ(e.cancel(), rc::kBadOrdinal);
}

TEST(Engine, FatalResponsesAreTheSwtpmBytes) {
  MemNv nv;
  uint8_t out[16];
  uint32_t len = 0;
  const Bytes cmd = Cmd(kNoSessions, 0x17b).u16(16).done();
  {
    Engine e(TpmVersion::Tpm2, nv);
    const Bytes want = {0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0x01};
    ASSERT_EQ(e.fatal_response(out, sizeof(out)), 10u);
    EXPECT_EQ(Bytes(out, out + 10), want);
    EXPECT_EQ(e.fatal_response(out, 9), 0u);
    EXPECT_EQ(e.process(cmd.data(), uint32_t(cmd.size()), out, sizeof(out), len), rc::kFail);
    EXPECT_EQ(Bytes(out, out + len), want);  // before init: QEMU's probe answer
  }
  Engine e(TpmVersion::Tpm12, nv);
  ASSERT_EQ(e.fatal_response(out, sizeof(out)), 10u);
  EXPECT_EQ(Bytes(out, out + 10), (Bytes{0x00, 0xc4, 0, 0, 0, 0x0a, 0, 0, 0, 0x09}));
}

TEST(Engine, InfoGivesSpecificationJson) {
  MemNv nv;
  Engine e(TpmVersion::Tpm2, nv);
  const std::string json = e.info(1);
  EXPECT_NE(json.find("\"TPMSpecification\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"family\":\"2.0\""), std::string::npos) << json;
}

TEST(Engine, Tpm12StartupAndGetRandom) {
  MemNv nv;
  Engine e(TpmVersion::Tpm12, nv);
  ASSERT_EQ(e.init(false), rc::kSuccess);
  EXPECT_GE(nv.stores[BlobKind::Permanent], 1);
  EXPECT_EQ(e.startup(1), 0u);  // TPM_ST_CLEAR
  uint32_t actual = 0, min = 0, max = 0;
  ASSERT_EQ(e.set_buffer_size(0, actual, min, max), rc::kSuccess);
  EXPECT_EQ(min, 3072u);  // TPM 1.2's TPM_BUFFER_MIN
  EXPECT_EQ(max, 4096u);
  Bytes r = run(e, Cmd(0x00c1, 0x46).u32(16).done());
  EXPECT_EQ(be16(r, 0), 0x00c4);
  EXPECT_EQ(rc_of(r), 0u);
  ASSERT_EQ(r.size(), 30u);
  EXPECT_EQ(be32(r, 10), 16u);
}

}  // namespace
}  // namespace vtpm::engine
