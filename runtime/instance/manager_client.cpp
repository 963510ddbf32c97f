// ManagerClient (manager_client.h): the start-time check and the per-write reports. Every answer
// is parsed by the manager codec; a status other than success is told with the manager's own
// sentence for it (protocol.h status_text).
#include "instance/manager_client.h"

#include <algorithm>
#include <cstdio>

namespace vtpm::instance {
namespace {

std::string status_sentence(manager::Status s) {
  char code[16];
  std::snprintf(code, sizeof code, "0x%08x", static_cast<uint32_t>(s));
  return std::string(manager::status_text(static_cast<uint32_t>(s))) + " (" +
         manager::status_name(static_cast<uint32_t>(s)) + ", " + code + ")";
}

std::string gen_text(uint64_t g) { return std::to_string(g); }

}  // namespace

ManagerClient::ManagerClient(ManagerLink& link, Log& log, std::string uuid, std::string path)
    : link_(link), log_(log), uuid_text_(std::move(uuid)), path_(std::move(path)) {
  if (!manager::parse_uuid(uuid_text_, uuid_)) uuid_ = {};  // options.cpp accepted only canonical UUIDs
}

bool ManagerClient::send_request(const manager::Request& req, std::string& err) {
  std::vector<uint8_t> msg;
  if (!manager::encode_request(req, msg)) {
    err = std::string("cannot encode a ") + manager::ordinal_name(static_cast<uint32_t>(req.ordinal)) +
          " request";
    return false;
  }
  const bool ok = link_.send(msg, err);
  store::wipe(msg.data(), msg.size());
  return ok;
}

bool ManagerClient::read_response(manager::Ordinal ord, manager::Response& rsp, std::string& err) {
  std::vector<uint8_t> msg;
  if (!link_.receive(msg, err)) return false;
  const manager::ParseResult r = manager::parse_response(ord, msg.data(), msg.size(), rsp);
  store::wipe(msg.data(), msg.size());
  if (!r.ok) {
    err = "the manager's answer to " + std::string(manager::ordinal_name(static_cast<uint32_t>(ord))) +
          " is malformed: " + r.text;
    link_.disconnect();  // out of step with the peer: start over
    return false;
  }
  return true;
}

// The answer to a Commit sent earlier comes before anything else on the connection.
bool ManagerClient::drain_commit(std::string& err) {
  if (!commit_unread_) return true;
  commit_unread_ = false;
  manager::Response rsp;
  if (!read_response(manager::Ordinal::Commit, rsp, err)) return false;
  if (rsp.status != manager::Status::Success) {
    err = "the manager refused a commit: " + status_sentence(rsp.status);
    return false;
  }
  return true;
}

bool ManagerClient::exchange(const manager::Request& req, manager::Response& rsp, std::string& err) {
  return drain_commit(err) && send_request(req, err) && read_response(req.ordinal, rsp, err);
}

bool ManagerClient::open_once(bool create, manager::Response& rsp, std::string& err) {
  if (!link_.connected() && !link_.connect(err)) return false;
  manager::Request req;
  req.ordinal = manager::Ordinal::Open;
  req.uuid = uuid_;
  req.flags = create ? manager::kOpenCreate : 0;
  return exchange(req, rsp, err);
}

bool ManagerClient::open_and_check(store::StateStore& store, engine::BlobKind permanent,
                                   bool state_is_empty, std::string& err) {
  const std::string who = "vtpm-manager at " + path_;
  manager::Response rsp;
  std::string why;
  if (!open_once(state_is_empty, rsp, why)) {
    err = who + " is not reachable (" + why + "): instance " + uuid_text_ +
          " cannot get its state key and does not start";
    return false;
  }
  if (rsp.status != manager::Status::Success) {
    err = who + " refused instance " + uuid_text_ + ": " + status_sentence(rsp.status);
    return false;
  }
  if (!store.set_key(rsp.key, why)) {
    err = "the key from " + who + ": " + why;
    return false;
  }
  rsp.key.clear();

  std::vector<uint8_t> plain;
  const engine::LoadStatus st = store.load(permanent, plain);
  store::wipe(plain.data(), plain.size());
  const std::string where = "the state of instance " + uuid_text_;
  uint64_t disk_gen = 0;
  store::Digest disk_sha{};
  switch (st) {
    case engine::LoadStatus::Absent:
      break;
    case engine::LoadStatus::Loaded:
      disk_gen = store.generation(permanent);
      if (!store.durable_digest(permanent, disk_sha)) {
        err = where + ": its digest is unknown after loading it";
        return false;
      }
      break;
    case engine::LoadStatus::WrongKey:
    case engine::LoadStatus::WrongKeySize:
    case engine::LoadStatus::Failed:
      err = where + " cannot be opened with the key the manager keeps for it (" + store.last_error() +
            "): another instance's state directory, or a damaged file; vtpmd does not start on it";
      return false;
  }
  const bool matches_latest = disk_gen == rsp.generation && (disk_gen == 0 || disk_sha == rsp.digest);
  const bool matches_prepared = rsp.prepared_generation != 0 && disk_gen == rsp.prepared_generation &&
                                disk_sha == rsp.prepared_digest;
  // A crash between the Prepare and the write leaves the manager one step ahead: the state on
  // disk is then the latest acknowledged one, which is what matches_latest accepts.
  if (!matches_latest && !matches_prepared) {
    if (disk_gen < rsp.generation) {
      err = where + " is older than the manager's record (generation " + gen_text(disk_gen) +
            " on disk, the manager knows " + gen_text(rsp.generation) +
            "): an old copy of the state directory? vtpmd does not start on it";
    } else if (disk_gen > rsp.generation && disk_gen != rsp.prepared_generation) {
      err = where + " is newer than the manager's record (generation " + gen_text(disk_gen) +
            " on disk, the manager knows " + gen_text(rsp.generation) +
            "): it was written without the manager; vtpmd does not start on it";
    } else {
      err = where + " does not match the manager's record (generation " + gen_text(disk_gen) +
            ", different content): not this instance's state, or damaged; vtpmd does not start on it";
    }
    return false;
  }
  latest_generation_ = disk_gen;
  latest_sha_ = disk_sha;
  if (matches_prepared) {  // the write the manager was told about did complete: commit it now
    manager::Request req;
    req.ordinal = manager::Ordinal::Commit;
    req.generation = disk_gen;
    if (!exchange(req, rsp, why) || rsp.status != manager::Status::Success) {
      err = who + " did not take the commit of generation " + gen_text(disk_gen) + ": " +
            (why.empty() ? status_sentence(rsp.status) : why);
      return false;
    }
  }
  log_.info(1, "vtpmd: instance %s: key from %s, state generation %llu checked", uuid_text_.c_str(),
            path_.c_str(), static_cast<unsigned long long>(disk_gen));
  return true;
}

void ManagerClient::fell_behind(const std::string& why) {
  if (!behind_) {
    log_.error("vtpmd: instance %s: the manager at %s missed a state report (%s); still serving, "
               "retrying",
               uuid_text_.c_str(), path_.c_str(), why.c_str());
  }
  behind_ = true;
  prepare_sent_ = false;
  commit_unread_ = false;
  commit_due_ = 0;  // the catch-up (on_idle) reports the latest generation
  link_.disconnect();
}

bool ManagerClient::before_write(engine::BlobKind kind, uint64_t generation, const store::Digest& sha) {
  if (kind != engine::BlobKind::Permanent) return true;
  latest_generation_ = generation;
  latest_sha_ = sha;
  if (behind_) return true;  // on_idle() catches up with the latest write
  std::string err;
  manager::Request req;
  req.ordinal = manager::Ordinal::Prepare;
  req.generation = generation;
  std::copy(sha.begin(), sha.end(), req.digest.begin());
  commit_due_ = 0;  // this Prepare commits the generation before it (ManagerCore::do_prepare)
  if (!drain_commit(err) || !send_request(req, err)) {
    fell_behind(err);
    return true;
  }
  prepare_sent_ = true;
  return true;
}

bool ManagerClient::after_write(engine::BlobKind kind, uint64_t generation, const store::Digest&) {
  if (kind != engine::BlobKind::Permanent || !prepare_sent_) return true;
  prepare_sent_ = false;
  std::string err;
  manager::Response rsp;
  if (!read_response(manager::Ordinal::Prepare, rsp, err)) {
    fell_behind(err);
    return true;
  }
  if (rsp.status != manager::Status::Success) {
    // The manager knows better (another process writes this UUID's state?): the TPM command fails.
    log_.error("vtpmd: instance %s: the manager refused state generation %llu: %s", uuid_text_.c_str(),
               static_cast<unsigned long long>(generation), status_sentence(rsp.status).c_str());
    return false;
  }
  // The Commit goes when the instance is quiet (on_quiet, finish); a next write's Prepare commits
  // this generation by itself, so back-to-back writes wait for one manager answer each, not two.
  commit_due_ = generation;
  return true;
}

bool ManagerClient::send_commit(std::string& err) {
  if (commit_due_ == 0) return true;
  manager::Request req;
  req.ordinal = manager::Ordinal::Commit;
  req.generation = commit_due_;
  if (!drain_commit(err) || !send_request(req, err)) return false;
  commit_due_ = 0;
  commit_unread_ = true;  // read before the next request
  return true;
}

void ManagerClient::finish() {
  std::string err;
  if (behind_ || commit_due_ == 0) return;
  if (!send_commit(err) || !drain_commit(err)) fell_behind(err);
}

void ManagerClient::on_quiet() {
  std::string err;
  if (!behind_ && !send_commit(err)) fell_behind(err);
}

void ManagerClient::on_idle() {
  if (!behind_) return;
  manager::Response rsp;
  std::string err;
  if (!open_once(false, rsp, err) || rsp.status != manager::Status::Success) return;  // later
  rsp.key.clear();
  if (latest_generation_ > rsp.generation) {
    manager::Request req;
    req.ordinal = manager::Ordinal::Prepare;
    req.generation = latest_generation_;
    std::copy(latest_sha_.begin(), latest_sha_.end(), req.digest.begin());
    if (!exchange(req, rsp, err) || rsp.status != manager::Status::Success) return;
    req.ordinal = manager::Ordinal::Commit;
    if (!exchange(req, rsp, err) || rsp.status != manager::Status::Success) return;
  }
  behind_ = false;
  log_.info(1, "vtpmd: instance %s: the manager at %s is back and has state generation %llu",
            uuid_text_.c_str(), path_.c_str(), static_cast<unsigned long long>(latest_generation_));
}

}  // namespace vtpm::instance
