// State blobs under keys, vtpmd against Debian's swtpm 0.7.1 side by side: for each key
// configuration (none, state key AES-256/AES-128, migration key, both) the GET_STATEBLOB reply's
// state_flags and the blob header must equal swtpm's; blobs cross-load both ways as QEMU's
// migration moves them (swtpm→swtpm is the control leg); a wrong key on the destination is
// refused with swtpm's result code. Client, daemons and commands come from tests/tools.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "connection.h"
#include "daemon.h"
#include "swtpm_ctrl.h"
#include "tpm2_commands.h"
#include "tpm_bytes.h"

namespace {

namespace tt = vtpm::testtools;
namespace ctrl = vtpm::testtools::ctrl;
namespace tpm2 = vtpm::testtools::tpm2;
using tt::be32_at;
using tt::Bytes;
using tt::Connection;
using tt::Endpoint;

constexpr const char* kSwtpm = "/usr/bin/swtpm";
constexpr int kIoMs = 5000;       // one request and its answer
constexpr int kConnectMs = 5000;  // a freshly started daemon's control socket accepts
constexpr int kStopMs = 2000;     // SIGTERM to exit, then SIGKILL
constexpr uint32_t kFlagDecrypted = 1, kFlagEncrypted = 2;  // PTM_STATE_FLAG_*
constexpr uint32_t kRetry = 0x800;                          // TPM_RETRY: no such blob
constexpr uint32_t kNvIndex = 0x01500020;
constexpr uint16_t kNvSize = 32;

// Test keys (hex files in the work dir, removed with it); the "other" ones are the wrong keys.
const std::string kKey256 = "8f1c2a3b4d5e6f708192a3b4c5d6e7f80112233445566778899aabbccddeeff0";
const std::string kKey128 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const std::string kMig256 = "c0ffee00deadbeef0123456789abcdeffedcba9876543210a5a5a5a55a5a5a5a";
const std::string kOther256 = "1111111111111111222222222222222233333333333333334444444444444444";
const std::string kOther128 = "99999999888888887777777766666666";
const std::string kOtherMig256 = "abababababababababababababababababababababababababababababababab";

struct KeyConfig {
  std::string name;
  std::string state_key, state_mode;  // "" = no --key
  std::string mig_key, mig_mode;      // "" = no --migration-key
};

const std::vector<KeyConfig>& configs() {
  static const std::vector<KeyConfig> c = {
      {"none", "", "", "", ""},
      {"key256", kKey256, "aes-256-cbc", "", ""},
      {"key128", kKey128, "aes-cbc", "", ""},
      {"mig256", "", "", kMig256, "aes-256-cbc"},
      {"key256+mig256", kKey256, "aes-256-cbc", kMig256, "aes-256-cbc"},
  };
  return c;
}

void write_secret(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  if (!f) throw tt::IoError("cannot write " + path);
  ::chmod(path.c_str(), 0600);
}

std::string h32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", unsigned(v));
  return b;
}

std::string vtpmd_path() { return tt::required_env("VTPMD", "the path of the vtpmd under test"); }

// One work dir for the whole binary, made when the first daemon starts; kept when anything
// failed (daemon logs in it).
std::string g_work_dir;
const std::string& work_dir() {
  if (g_work_dir.empty()) g_work_dir = tt::make_temp_dir("stateblob-keys-");
  return g_work_dir;
}
int g_run_seq = 0;

// A daemon (swtpm or vtpmd) in its own run dir: state in run/state, sockets and log in run/.
// One control connection and one data connection, kept open as QEMU keeps them.
class Tpmd {
 public:
  Tpmd(std::string who, std::string exe) : who_(std::move(who)), exe_(std::move(exe)) {}
  ~Tpmd() { stop(); }

  void start(const std::string& tag, const std::string& flags, const KeyConfig& keys) {
    run_ = work_dir() + "/" + std::to_string(++g_run_seq) + "-" + who_ + "-" + tag;
    std::string state = run_ + "/state";
    if (::mkdir(run_.c_str(), 0700) != 0 || ::mkdir(state.c_str(), 0700) != 0) throw tt::IoError("mkdir " + state);
    std::vector<std::string> args = tt::socket_args(state, data_ep(), ctrl_ep(), flags);
    if (!keys.state_key.empty()) {
      write_secret(run_ + "/state.key", keys.state_key + "\n");
      args.insert(args.end(), {"--key", "file=" + run_ + "/state.key,format=hex,mode=" + keys.state_mode});
    }
    if (!keys.mig_key.empty()) {
      write_secret(run_ + "/migration.key", keys.mig_key + "\n");
      args.insert(args.end(), {"--migration-key", "file=" + run_ + "/migration.key,format=hex,mode=" + keys.mig_mode});
    }
    args.insert(args.end(), {"--log", "file=" + run_ + "/log,level=2"});
    daemon_ = tt::Daemon::spawn({exe_, args, run_ + "/out", -1});
    try {
      ctl_ = Connection::connect(ctrl_ep(), kConnectMs);
    } catch (const tt::Timeout&) {
      throw tt::IoError(who_ + " did not listen on " + ctrl_ep().describe() + "\n" + logs());
    }
  }
  void stop() {
    ctl_.close();
    data_.close();
    if (daemon_.running()) daemon_.terminate(kStopMs);
  }
  Bytes ctrl(const Bytes& req) { return ctrl::transact(ctl_, req, kIoMs); }
  uint32_t ctrl_rc(const Bytes& req) { return ctrl::result_of(ctrl(req)); }
  Bytes tpm(const Bytes& cmd) {
    if (!data_.valid()) data_ = Connection::connect(data_ep(), kConnectMs);
    return data_.transact_tpm(cmd, kIoMs);
  }
  uint32_t tpm_rc(const Bytes& cmd) { return tpm2::parse_header(tpm(cmd)).rc; }
  std::string logs() const { return "--- " + run_ + " ---\n" + tt::read_text_file(run_ + "/out") + tt::read_text_file(run_ + "/log"); }
  const std::string& who() const { return who_; }

 private:
  Endpoint data_ep() const { return Endpoint::unix_path(run_ + "/data.sock"); }
  Endpoint ctrl_ep() const { return Endpoint::unix_path(run_ + "/ctrl.sock"); }
  std::string who_, exe_, run_;
  tt::Daemon daemon_;
  Connection ctl_, data_;
};

// A GET_STATEBLOB reply taken apart: {result, state_flags, totlength, length} + blob, and the
// blob's header and TLV layout (tags only; a TAG_MIGRATION_DATA value's inner tags in []).
struct BlobReply {
  std::string error;  // the reply or the blob is malformed
  uint32_t result = 0, state_flags = 0;
  Bytes blob;
  uint8_t version = 0, min_version = 0;
  uint16_t hdrsize = 0, hdr_flags = 0;
  std::string layout;
  std::string brief() const {
    if (!error.empty()) return "ERROR " + error;
    if (result != 0) return "rc=" + h32(result);
    char b[160];
    std::snprintf(b, sizeof b, "sf=%u hdr v%u/%u size %u flags=0x%02x tlv %s", unsigned(state_flags), version,
                  min_version, hdrsize, hdr_flags, layout.c_str());
    return b;
  }
};

std::string tlv_tags(const Bytes& b, size_t at, size_t end, bool descend, std::string& err) {
  std::string out;
  while (at < end) {
    if (end - at < 6) {
      err = "truncated TLV at " + std::to_string(at);
      return out;
    }
    uint16_t tag = uint16_t(b[at] << 8 | b[at + 1]);
    uint32_t len = be32_at(b, at + 2);
    at += 6;
    if (len > end - at) {
      err = "TLV " + std::to_string(tag) + " overruns the blob";
      return out;
    }
    if (!out.empty()) out += ",";
    out += std::to_string(tag);
    if (descend && tag == 4) out += "[" + tlv_tags(b, at, at + len, false, err) + "]";
    at += len;
  }
  return out;
}

BlobReply parse_get_reply(const Bytes& r) {
  BlobReply br;
  if (r.size() < 16) {
    br.error = "short reply " + tt::hex(r);
    if (r.size() >= 4) br.result = be32_at(r, 0);
    return br;
  }
  br.result = be32_at(r, 0);
  br.state_flags = be32_at(r, 4);
  uint32_t tot = be32_at(r, 8), len = be32_at(r, 12);
  if (len != r.size() - 16 || tot != len) {
    br.error = "totlength " + std::to_string(tot) + " length " + std::to_string(len) + " with " +
               std::to_string(r.size() - 16) + " bytes";
    return br;
  }
  br.blob.assign(r.begin() + 16, r.end());
  if (br.result != 0) return br;
  const Bytes& b = br.blob;
  if (b.size() < 10) {
    br.error = "blob of " + std::to_string(b.size()) + " bytes";
    return br;
  }
  br.version = b[0];
  br.min_version = b[1];
  br.hdrsize = uint16_t(b[2] << 8 | b[3]);
  br.hdr_flags = uint16_t(b[4] << 8 | b[5]);
  if (be32_at(b, 6) != b.size()) {
    br.error = "header totlen " + std::to_string(be32_at(b, 6)) + " != " + std::to_string(b.size());
    return br;
  }
  if (br.hdrsize < 10 || br.hdrsize > b.size()) {
    br.error = "hdrsize " + std::to_string(br.hdrsize);
    return br;
  }
  br.layout = tlv_tags(b, br.hdrsize, b.size(), true, br.error);
  return br;
}

// ---- the printed table -----------------------------------------------------------------------

struct Row {
  std::string what, swtpm, vtpmd;
  const char* status;  // "ok" or "DIFF"
};
std::vector<Row>& table() {
  static std::vector<Row> t;
  return t;
}
void row(const std::string& what, const std::string& s, const std::string& v, bool ok) {
  table().push_back({what, s, v, ok ? "ok" : "DIFF"});
  if (!ok) ADD_FAILURE() << what << "\n  swtpm: " << s << "\n  vtpmd: " << v;
}
void print_table(const char* title, const char* col_a = "swtpm", const char* col_b = "vtpmd") {
  std::printf("\n== %s ==\n", title);
  size_t w = 0;
  for (const Row& r : table()) w = std::max(w, r.what.size());
  for (const Row& r : table())
    std::printf("%-5s %-*s | %s: %s | %s: %s\n", r.status, int(w), r.what.c_str(), col_a, r.swtpm.c_str(),
                col_b, r.vtpmd.c_str());
  std::fflush(stdout);
  table().clear();
}

template <class Body>
void run_case(const std::string& name, Body&& body) {
  SCOPED_TRACE(name);
  try {
    body();
  } catch (const std::exception& e) {
    ADD_FAILURE() << name << ": " << e.what();
    table().push_back({name, "exception", e.what(), "DIFF"});
  }
}

class StateblobKeys : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {
    if (g_work_dir.empty()) return;
    if (failed_) std::fprintf(stderr, "stateblob-keys: work dir kept: %s\n", g_work_dir.c_str());
    else tt::remove_tree(g_work_dir);
  }
  void SetUp() override {
    ASSERT_EQ(::access(kSwtpm, X_OK), 0) << kSwtpm << " is required (the reference); it is missing";
    ASSERT_NO_THROW(vtpmd_ = vtpmd_path());
  }
  void TearDown() override { failed_ = failed_ || HasFailure(); }
  Tpmd make(bool swtpm) const { return swtpm ? Tpmd("swtpm", kSwtpm) : Tpmd("vtpmd", vtpmd_); }
  std::string vtpmd_;
  static bool failed_;
};
bool StateblobKeys::failed_ = false;

Bytes nv_pattern(uint32_t seed) {
  Bytes p(kNvSize);
  for (size_t i = 0; i < p.size(); ++i) p[i] = uint8_t(seed * 37 + i * 11 + 1);
  return p;
}

// Defines the owner-authorised NV index and writes `data` into it.
void put_nv(Tpmd& d, const Bytes& data) {
  uint32_t rc = d.tpm_rc(tpm2::nv_define_space(kNvIndex, tpm2::NV_OWNERWRITE | tpm2::NV_OWNERREAD, kNvSize));
  if (rc != 0) throw tt::IoError(d.who() + ": NV_DefineSpace rc " + h32(rc));
  rc = d.tpm_rc(tpm2::nv_write(kNvIndex, data, 0));
  if (rc != 0) throw tt::IoError(d.who() + ": NV_Write rc " + h32(rc));
}

// NV_Read of the index against what the source wrote: "NV_Read rc=0x0 same bytes" when equal.
std::string read_nv(Tpmd& d, const Bytes& want) {
  Bytes r = d.tpm(tpm2::nv_read(kNvIndex, kNvSize, 0));
  uint32_t rc = tpm2::parse_header(r).rc;
  if (rc != 0) return "NV_Read rc=" + h32(rc);
  tt::Reader rd(r, 10);
  rd.u32();  // parameterSize
  Bytes got = rd.tpm2b();
  return got == want ? "NV_Read rc=0x0 same bytes" : "NV_Read rc=0x0 OTHER bytes " + tt::hex(got);
}

const char* type_name(uint32_t t) { return t == 1 ? "permanent" : t == 2 ? "volatile" : "savestate"; }

// ---- 1. the GET_STATEBLOB flags ---------------------------------------------------------------

TEST_F(StateblobKeys, GetStateBlobFlagsEqualSwtpm) {
  for (const KeyConfig& kc : configs()) {
    run_case("GET " + kc.name, [&] {
      Tpmd s = make(true), v = make(false);
      s.start(kc.name, "not-need-init,startup-clear", kc);
      v.start(kc.name, "not-need-init,startup-clear", kc);
      for (Tpmd* d : {&s, &v}) put_nv(*d, nv_pattern(1));  // state with content; TPM surely up
      for (uint32_t req : {0u, kFlagDecrypted}) {
        struct Step {
          uint32_t type;
          bool store_first;
          const char* label;
        };
        for (Step st : {Step{1, false, "permanent"}, Step{2, false, "volatile (running)"},
                        Step{2, true, "volatile (after STORE_VOLATILE)"}, Step{3, false, "savestate"}}) {
          if (st.store_first) {
            uint32_t a = s.ctrl_rc(ctrl::request(ctrl::STORE_VOLATILE));
            uint32_t b = v.ctrl_rc(ctrl::request(ctrl::STORE_VOLATILE));
            row(kc.name + " STORE_VOLATILE", "rc=" + h32(a), "rc=" + h32(b), a == 0 && b == 0);
          }
          BlobReply a = parse_get_reply(s.ctrl(ctrl::get_stateblob(st.type, req)));
          BlobReply b = parse_get_reply(v.ctrl(ctrl::get_stateblob(st.type, req)));
          std::string what = kc.name + " req=" + std::to_string(req) + " " + st.label;
          bool ok = a.error.empty() && b.error.empty() && a.result == b.result && a.state_flags == b.state_flags;
          if (st.type == 3) {
            ok = ok && a.result == kRetry && a.blob.empty() && b.blob.empty();
          } else {
            ok = ok && a.result == 0 && a.hdr_flags == b.hdr_flags && a.version == b.version &&
                 a.min_version == b.min_version && a.hdrsize == b.hdrsize && a.layout == b.layout;
          }
          row(what, a.brief(), b.brief(), ok);
        }
      }
    });
  }
  print_table("GET_STATEBLOB: state_flags and blob header, swtpm vs vtpmd");
}

// ---- 2. cross-loading -----------------------------------------------------------------------

struct SourceBlobs {
  uint32_t req = 0;
  std::vector<std::pair<uint32_t, BlobReply>> blobs;  // in QEMU's order: 1, 2, 3 (if any)
  std::string summary;
};

// The migration source: a fresh keyed TPM with the NV index written, then GET_STATEBLOB
// permanent, volatile, savestate as QEMU's outgoing migration asks for them (or the permanent
// blob alone: a powered-off TPM's state, after which the destination starts afresh).
SourceBlobs take_blobs(Tpmd& src, const KeyConfig& kc, uint32_t req, const Bytes& nv, bool all = true) {
  src.start(kc.name + "-src", "not-need-init,startup-clear", kc);
  put_nv(src, nv);
  SourceBlobs sb;
  sb.req = req;
  for (uint32_t type : {1u, 2u, 3u}) {
    if (type > 1 && !all) break;
    BlobReply br = parse_get_reply(src.ctrl(ctrl::get_stateblob(type, req)));
    if (!br.error.empty()) throw tt::IoError(src.who() + ": GET " + type_name(type) + ": " + br.error);
    if (type == 3 && br.result & kRetry) {  // TPM2: no savestate; QEMU carries on without it
      sb.summary += " 3:skip";
      continue;
    }
    if (br.result != 0) throw tt::IoError(src.who() + ": GET " + type_name(type) + " rc " + h32(br.result));
    sb.summary += " " + std::to_string(type) + ":sf" + std::to_string(br.state_flags);
    sb.blobs.emplace_back(type, std::move(br));
  }
  src.stop();
  return sb;
}

// The migration destination: same keys, no not-need-init; SET_STATEBLOB with the source's
// state_flags, CMD_INIT(DELETE_VOLATILE) as QEMU resumes, Startup, then the NV index.
std::string load_blobs(Tpmd& dst, const KeyConfig& kc, const SourceBlobs& sb, const Bytes& nv) {
  dst.start(kc.name + "-dst", "", kc);
  std::string out = "SET";
  for (const auto& [type, br] : sb.blobs)
    out += " " + std::to_string(type) + ":" + h32(dst.ctrl_rc(ctrl::set_stateblob(type, br.blob, br.state_flags)));
  uint32_t init = dst.ctrl_rc(ctrl::init(ctrl::INIT_FLAG_DELETE_VOLATILE));
  out += " INIT:" + h32(init);
  if (init == 0) {
    out += " Startup(CLEAR):" + h32(dst.tpm_rc(tpm2::startup(tpm2::SU_CLEAR)));
    out += " " + read_nv(dst, nv);
  }
  dst.stop();
  return out;
}

TEST_F(StateblobKeys, CrossLoadBothWays) {
  uint32_t seed = 100;
  for (const KeyConfig& kc : configs()) {
    for (uint32_t req : {0u, kFlagDecrypted}) {
      for (bool all : {true, false}) {
        // Expected on every leg: each SET 0, INIT 0; with the volatile blob the TPM resumes
        // (Startup → TPM_RC_INITIALIZE), with the permanent one alone it starts (Startup → 0);
        // the index holds the source's bytes; and the answers equal the swtpm->swtpm control
        // leg's, which runs first.
        std::string control;
        for (const auto& ends : {std::pair{true, true}, {false, true}, {true, false}, {false, false}}) {
          const bool from_swtpm = ends.first, to_swtpm = ends.second;  // (clang 14: no captured bindings)
          std::string leg = std::string(from_swtpm ? "swtpm" : "vtpmd") + "->" + (to_swtpm ? "swtpm" : "vtpmd");
          std::string what = kc.name + " req=" + std::to_string(req) + (all ? " all " : " perm ") + leg;
          run_case(what, [&] {
            Bytes nv = nv_pattern(++seed);
            Tpmd src = make(from_swtpm), dst = make(to_swtpm);
            SourceBlobs sb = take_blobs(src, kc, req, nv, all);
            std::string got = load_blobs(dst, kc, sb, nv);
            std::string want = "SET";
            for (const auto& b : sb.blobs) want += " " + std::to_string(b.first) + ":0x0";
            want += std::string(" INIT:0x0 Startup(CLEAR):") + (all ? "0x100" : "0x0") + " NV_Read rc=0x0 same bytes";
            if (from_swtpm && to_swtpm) {
              control = got;
              if (got != want) ADD_FAILURE() << "the swtpm->swtpm control leg fails: the harness is wrong\n  " << got;
            }
            row(what + " [src" + sb.summary + "]", control, got, got == want && got == control);
          });
        }
      }
    }
  }
  print_table("cross-loading: SET_STATEBLOB with the source's flags, CMD_INIT(DELETE_VOLATILE), Startup, NV_Read",
              "swtpm->swtpm", "this leg");
}

// ---- 3. the wrong key on the destination ----------------------------------------------------

constexpr int64_t kSourceFlags = -1;

struct WrongKeyCase {
  std::string name;
  KeyConfig src, dst;
  uint32_t req;          // GET request flags on the source
  int64_t set_flags;     // SET_STATEBLOB state_flags; kSourceFlags = the source's reply's, as QEMU
  bool refused;          // what swtpm does (checked: a wrong expectation is a harness error)
};


TEST_F(StateblobKeys, WrongKeyIsRefusedAsSwtpmRefusesIt) {
  const KeyConfig none = configs()[0], key256 = configs()[1], key128 = configs()[2], mig256 = configs()[3];
  const KeyConfig other256{"other256", kOther256, "aes-256-cbc", "", ""};
  const KeyConfig other128{"other128", kOther128, "aes-cbc", "", ""};
  const KeyConfig otherMig{"otherMig256", "", "", kOtherMig256, "aes-256-cbc"};
  const KeyConfig key256mig256 = configs()[4];
  const KeyConfig key256otherMig{"key256+otherMig256", kKey256, "aes-256-cbc", kOtherMig256, "aes-256-cbc"};
  const KeyConfig other256mig256{"other256+mig256", kOther256, "aes-256-cbc", kMig256, "aes-256-cbc"};
  const std::vector<WrongKeyCase> cases = {
      {"state key 256 -> other 256-bit key", key256, other256, 0, kSourceFlags, true},
      {"state key 128 -> other 128-bit key", key128, other128, 0, kSourceFlags, true},
      {"state key 256 -> a 128-bit key", key256, other128, 0, kSourceFlags, true},
      {"state key 128 -> a 256-bit key", key128, other256, 0, kSourceFlags, true},
      {"state key 256 -> no key", key256, none, 0, kSourceFlags, true},
      {"migration key -> other migration key", mig256, otherMig, 0, kSourceFlags, true},
      {"migration key -> no key", mig256, none, 0, kSourceFlags, true},
      {"both keys -> other migration key", key256mig256, key256otherMig, 0, kSourceFlags, true},
      {"both keys -> other state key", key256mig256, other256mig256, 0, kSourceFlags, true},
      {"plain blob, SET says ENCRYPTED -> same 256-bit key", key256, key256, kFlagDecrypted, kFlagEncrypted, true},
      {"plain blob, SET says ENCRYPTED -> a 128-bit key", key256, key128, kFlagDecrypted, kFlagEncrypted, true},
      {"plain blob, SET says ENCRYPTED -> no key", none, none, 0, kFlagEncrypted, true},
      {"sealed blob, SET flags 0 -> same key (header decides)", key256, key256, 0, 0, false},
  };
  uint32_t seed = 500;
  for (const WrongKeyCase& c : cases) {
    for (bool from_swtpm : {true, false}) {
      std::string what = c.name + " (blob from " + (from_swtpm ? "swtpm)" : "vtpmd)");
      run_case(what, [&] {
        Bytes nv = nv_pattern(++seed);
        Tpmd src = make(from_swtpm);
        SourceBlobs sb = take_blobs(src, c.src, c.req, nv);
        const BlobReply& perm = sb.blobs.at(0).second;
        uint32_t set_flags = c.set_flags == kSourceFlags ? perm.state_flags : uint32_t(c.set_flags);
        std::string res[2];
        uint32_t set_rc[2] = {0, 0};
        for (int i = 0; i < 2; ++i) {
          Tpmd dst = make(i == 0);
          dst.start("wrongkey", "", c.dst);
          set_rc[i] = dst.ctrl_rc(ctrl::set_stateblob(1, perm.blob, set_flags));
          res[i] = "SET:" + h32(set_rc[i]);
          uint32_t init = dst.ctrl_rc(ctrl::init(ctrl::INIT_FLAG_DELETE_VOLATILE));
          res[i] += " INIT:" + h32(init);
          if (init == 0) {
            res[i] += " Startup(CLEAR):" + h32(dst.tpm_rc(tpm2::startup(tpm2::SU_CLEAR)));
            res[i] += " NV_ReadPublic:" + h32(dst.tpm_rc(tpm2::nv_read_public(kNvIndex)));
          }
        }
        // A refused blob leaves a TPM without the source's index after CMD_INIT (a fresh one
        // is manufactured); an accepted one has it. vtpmd must answer exactly as swtpm did.
        if ((set_rc[0] != 0) != c.refused)
          ADD_FAILURE() << what << ": swtpm " << (c.refused ? "accepted" : "refused") << " the blob; the case is wrong";
        bool has_index = res[0].find("NV_ReadPublic:0x0") != std::string::npos;
        bool ok = res[0] == res[1] && has_index != c.refused;
        std::string label = what + " [src" + sb.summary + ", SET sf=" + std::to_string(set_flags) + "]";
        row(label, res[0], res[1], ok);
      });
    }
  }
  print_table("the wrong key on the destination: SET_STATEBLOB(permanent), CMD_INIT, is the index there");
}

}  // namespace
