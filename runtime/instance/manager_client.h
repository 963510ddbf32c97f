// ManagerClient: an instance's side of vtpm-manager (issue 8; protocol runtime/manager/protocol.h).
// At start it gets the state key and the latest generation and digest the manager knows for this
// UUID, and checks the state directory against them (an older copy, another instance's directory
// or a damaged file is refused); afterwards the store tells it about every durable write of the
// permanent state, and it reports each one: Prepare before the write (so the manager's own sync
// overlaps the instance's), its answer awaited once the write is durable, Commit when idle (or
// implied by the next write's Prepare). Sans-I/O:
// the bytes go through a ManagerLink the composition root supplies (a unix socket in vtpmd).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "instance/log.h"
#include "manager/protocol.h"
#include "store/secret.h"
#include "store/state_store.h"

namespace vtpm::instance {

// One connection to the manager: whole messages out and in.
class ManagerLink {
 public:
  // (Re)connects; false with `err` when the manager cannot be reached.
  virtual bool connect(std::string& err) = 0;
  virtual bool connected() const = 0;
  virtual bool send(const std::vector<uint8_t>& msg, std::string& err) = 0;
  // One whole message (framed by its header), waiting at most the link's timeout.
  virtual bool receive(std::vector<uint8_t>& msg, std::string& err) = 0;
  virtual void disconnect() = 0;

 protected:
  ~ManagerLink() = default;
};

class ManagerClient final : public store::WriteObserver {
 public:
  // `uuid`: canonical text (config.h KeyConfig::uuid); `path` is only for messages.
  ManagerClient(ManagerLink& link, Log& log, std::string uuid, std::string path);

  // At start: connect, Open (creating the record when `state_is_empty`), set the key on `store`,
  // load the permanent state and check it against the manager's generation and digest. Any
  // failure is a sentence in `err` and the instance must not start (fail closed).
  bool open_and_check(store::StateStore& store, engine::BlobKind permanent, bool state_is_empty,
                      std::string& err);

  // store::WriteObserver: only the permanent state is reported (the volatile state is one-shot
  // and the savestate is not a TPM's memory across restarts).
  bool before_write(engine::BlobKind kind, uint64_t generation, const store::Digest& sha) override;
  bool after_write(engine::BlobKind kind, uint64_t generation, const store::Digest& sha) override;

  // Reports that could not be delivered (the manager went away) are retried from on_idle().
  bool has_idle_work() const { return behind_; }
  void on_idle();
  // The last write's Commit waits for a quiet moment (no input for a while, the transport's
  // call): writes in a burst are committed by each next Prepare instead.
  bool has_quiet_work() const { return commit_due_ != 0 && !behind_; }
  void on_quiet();
  // The instance stops: the last write's Commit goes now (it would otherwise wait for the next
  // start, and until then the state before that write would also be accepted).
  void finish();

 private:
  bool exchange(const manager::Request& req, manager::Response& rsp, std::string& err);
  bool send_request(const manager::Request& req, std::string& err);
  bool read_response(manager::Ordinal ord, manager::Response& rsp, std::string& err);
  bool drain_commit(std::string& err);
  bool send_commit(std::string& err);
  bool open_once(bool create, manager::Response& rsp, std::string& err);
  void fell_behind(const std::string& why);

  ManagerLink& link_;
  Log& log_;
  std::string uuid_text_;
  manager::Uuid uuid_{};
  std::string path_;
  bool prepare_sent_ = false;     // a Prepare is in flight (its answer is read in after_write)
  bool commit_unread_ = false;    // a Commit was sent; its answer is read before the next request
  uint64_t commit_due_ = 0;       // a durable write to commit when idle (0 = none)
  bool behind_ = false;           // the manager missed reports: catch up when it is back
  uint64_t latest_generation_ = 0;
  store::Digest latest_sha_{};
};

}  // namespace vtpm::instance
