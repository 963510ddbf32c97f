// ManagerCore: vtpm-manager without its socket (DESIGN §2, issue 8). It provisions the host TPM
// once (SRK, a non-orderly NV counter, the root key sealed to PCRs), then at every start unseals
// the root key, checks the SRK and the counter, and loads the A/B records; it answers instances
// and vtpmctl with the protocol.h messages. Its lifecycle is the Manager machine
// (spec/manager.fsm), each durable commit the Commit machine (spec/commit.fsm) and each record's
// life a KeyRecord (spec/key_record.fsm). Files through records.h, the TPM through host_tpm.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "manager/host_tpm.h"
#include "manager/protocol.h"
#include "manager/records.h"
#include "manager.h"
#include "store/crypto.h"
#include "store/secret.h"

namespace vtpm::manager {

namespace mgr = fsm::machines::manager;

// A record vtpmctl created: the first instance that opens it becomes its owner.
inline constexpr uint32_t kAnyOwner = 0xffffffffu;

struct CoreConfig {
  int dir_fd = -1;             // the --state directory, owned by the caller
  std::string dir_path;        // for messages
  uint32_t pcr_mask = 1u << 7; // the root key's PCR policy (SHA-256 bank); bit i = PCR i
  // A durable commit (NV counter increment) at most this long after an unsaved change.
  int64_t commit_interval_ms = 15 * 60 * 1000;
};

// Who sent a message: the kernel's word (SO_PEERCRED), never the message's.
struct PeerId {
  uint64_t connection = 0;
  uint32_t uid = 0;
  bool admin = false;          // root or the manager's own uid: may run vtpmctl's requests
};

using LogFn = std::function<void(int level, const std::string& line)>;

class ManagerCore {
 public:
  ManagerCore(const CoreConfig& cfg, HostTpm& tpm, store::Crypto& crypto, LogFn log,
              WritePoints* points = nullptr);
  ManagerCore(const ManagerCore&) = delete;
  ManagerCore& operator=(const ManagerCore&) = delete;
  ~ManagerCore();

  // Provisions (no header) or unseals and loads (header), then serves; `now_ms` starts the
  // commit clock. False: the manager failed closed (`err` says why); it still answers Status.
  bool start(int64_t now_ms, std::string& err);
  // --recover: the offline recovery key (vtpmctl export-recovery). Used only when the root key
  // does not unseal (the PCRs changed); then the root key is sealed to the current PCRs again.
  void set_recovery_key(const store::SecretKey& key) { recovery_.assign(key.data(), key.size()); }
  // One whole message from `peer`; `reply` gets the answer.
  void handle(const PeerId& peer, const uint8_t* msg, size_t len, std::vector<uint8_t>& reply,
              int64_t now_ms);
  // A frame whose paramSize is out of range (server.h): the Malformed answer.
  void bad_frame(std::vector<uint8_t>& reply);
  void disconnected(uint64_t connection);
  // The periodic durable commit: milliseconds until it is due (-1 = nothing unsaved), and it.
  int64_t ms_until_tick(int64_t now_ms) const;
  void tick(int64_t now_ms);
  // Clean stop: a durable commit if anything changed since the last one.
  bool shutdown(std::string& err);

  mgr::State state() const { return m_.state; }
  uint64_t counter() const { return counter_; }
  uint64_t soft_seq() const { return soft_seq_; }
  size_t record_count() const { return table_.records.size(); }
  const std::string& failure() const { return failure_; }

  // ---- the Manager host (called by the generated dispatch) ----
  void provision();
  void unseal();
  void answer(uint32_t kind);
  void refuse(uint32_t kind, uint32_t code);
  void beginCommit(uint32_t kind);
  void releaseKey();
  void failClosed(uint32_t code);
  void trace(mgr::State from, mgr::EventId ev, mgr::State to, uint32_t id);

 private:
  struct Binding {
    uint64_t connection;
    RecordUuid uuid;
  };
  void deliver(const mgr::Event& ev);
  bool do_provision(std::string& err);
  // What unseal() found: the machine's unsealed(srkMatches, counterOk) or unsealFailed.
  enum class Unsealed : uint8_t { Ok, ForeignSrk, CounterMismatch, Failed };
  Unsealed do_unseal_and_load(std::string& err);
  bool reseal(const SecretBytes& secret, std::string& err);
  bool ensure_recovery_file(std::string& err);
  bool write_slot(uint64_t slot_counter, std::string& err);
  bool cheap_commit(std::string& err);
  bool durable_commit(const char* why, std::string& err);
  Record* find(const RecordUuid& uuid);
  const Binding* binding_of(uint64_t connection) const;
  bool bound_elsewhere(const RecordUuid& uuid, uint64_t connection) const;

  void serve(const PeerId& peer, const Request& req, Response& rsp, int64_t now_ms);
  bool needs_commit(const Request& req);
  Status execute(const PeerId& peer, const Request& req, Response& rsp);
  Status do_open(const PeerId& peer, const Request& req);
  Status do_prepare(const PeerId& peer, const Request& req);
  Status do_commit(const PeerId& peer, const Request& req);
  Status do_save_xen(const PeerId& peer, const Request& req);
  Status do_load_xen(const PeerId& peer, Response& rsp);
  Status do_create(const PeerId& peer, const Request& req);
  Status do_delete(const PeerId& peer, const Request& req);
  Status do_group_create(const PeerId& peer, const Request& req);
  Status do_group_approve(const PeerId& peer, const Request& req);
  Status do_approval_request(const PeerId& peer, const Request& req, Response& rsp);
  // core_groups.cpp: the group's revocation-index auth (HKDF of the root key and the name), and
  // the key its instances' keys are wrapped under (HKDF of the unsealed group secret).
  bool group_nv_auth(const std::string& name, store::SecretKey& out);
  Status group_wrap_key(const std::string& name, store::SecretKey& out);
  Group* find_group(const std::string& name);
  void do_status(Response& rsp);
  void do_list(Response& rsp);
  Status changed(int64_t now_ms, bool durable, const char* why);

  CoreConfig cfg_;
  HostTpm& tpm_;
  store::Crypto& crypto_;
  LogFn log_;
  FileSink files_;
  mgr::Manager m_;

  Header header_;
  store::SecretKey root_;          // the manager root key (unsealed; never on disk in the clear)
  store::SecretKey counter_auth_;  // the NV counter's auth (sealed with the root key)
  store::SecretKey recovery_;      // --recover's key (empty = none)
  RecordKeys keys_;
  Table table_;
  uint64_t counter_ = 0;           // the TPM counter value the records are at (T)
  uint64_t soft_seq_ = 0;
  int slot_ = -1;                  // the slot last written (the next write goes to the other)
  int64_t unsaved_since_ = -1;     // first change since the last durable commit (-1 = none)
  std::vector<Binding> bindings_;
  std::string failure_;
  // What the host step in progress produced (the machine waits for it).
  bool step_ok_ = false;
  Unsealed unsealed_ = Unsealed::Failed;
  std::string step_err_;
  bool header_ok_ = false;         // header_ holds a parsed header (read, or just provisioned)
  std::string header_error_;       // why it does not
  // The request being served: its operation's outcome and the key an Open unwrapped, which
  // reach the answer only through the machine's answer/releaseKey outputs.
  const PeerId* cur_peer_ = nullptr;
  const Request* cur_req_ = nullptr;
  Response* cur_rsp_ = nullptr;
  Status staged_ = Status::NotServing;
  store::SecretKey staged_key_;
  int64_t now_ms_ = 0;
};

}  // namespace vtpm::manager
