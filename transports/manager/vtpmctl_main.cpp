// vtpmctl: the operator's tool for vtpm-manager (issue 8). One request per run over the
// manager's socket (client_link.h), answers parsed by the manager codec (protocol.h).
//
//   vtpmctl --manager PATH status | list | create UUID [--group G] | delete UUID
//           | group create G --authority PUBKEY.der | group approve G FILE | export-recovery
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "manager/client_link.h"
#include "manager.h"
#include "manager/protocol.h"

namespace {

namespace mp = vtpm::manager;

const char kUsage[] =
    "Usage: vtpmctl --manager PATH COMMAND\n"
    "  status                          the manager's state, NV counter and record count\n"
    "  list                            every instance record: UUID, state, generation, group\n"
    "  create UUID [--group G]         a record (and key) for an instance that has not started yet\n"
    "  delete UUID                     retire a record: its key is destroyed, for good\n"
    "  group create G --authority K    a group whose approvals are signed by K (DER public key)\n"
    "  export-recovery                 the offline recovery key (keep it offline; vtpm-manager\n"
    "                                  --recover FILE uses it when the PCRs changed)\n"
    "  group approve G FILE            a signed approval of PCR values for group G (the manager\n"
    "                                  does not verify approvals yet and refuses every one)\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "vtpmctl: %s\n", msg.c_str());
  return 1;
}

const char* state_name(uint32_t s) {
  switch (s) {
    case 1: return "created";
    case 2: return "saved";
    case 3: return "retired";
  }
  return "unknown";
}

int run(const std::string& path, const mp::Request& req, mp::Response& rsp) {
  vtpm::transports::manager::UnixLink link(path);
  std::string err;
  std::vector<uint8_t> msg;
  if (!mp::encode_request(req, msg)) return fail("cannot encode the request");
  if (!link.connect(err) || !link.send(msg, err) || !link.receive(msg, err))
    return fail("the manager at " + path + ": " + err);
  const mp::ParseResult r = mp::parse_response(req.ordinal, msg.data(), msg.size(), rsp);
  if (!r.ok) return fail("the manager's answer is malformed: " + r.text);
  if (rsp.status != mp::Status::Success) {
    return fail(std::string(mp::ordinal_name(static_cast<uint32_t>(req.ordinal))) + " refused: " +
                mp::status_text(static_cast<uint32_t>(rsp.status)) + " (" +
                mp::status_name(static_cast<uint32_t>(rsp.status)) + ")");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 1 && (a[0] == "--help" || a[0] == "-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (a.size() < 3 || a[0] != "--manager") {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string path = a[1];
  const std::string cmd = a[2];
  mp::Request req;
  mp::Response rsp;
  if (cmd == "status" && a.size() == 3) {
    req.ordinal = mp::Ordinal::Status;
    if (const int rc = run(path, req, rsp)) return rc;
    const char* name = rsp.state < fsm::machines::manager::kStateCount
                           ? fsm::machines::manager::state_name(static_cast<fsm::machines::manager::State>(rsp.state))
                           : "unknown";
    std::printf("state %s\ncounter %llu\nsoft-seq %llu\nrecords %u\nsrk-name ", name,
                static_cast<unsigned long long>(rsp.counter), static_cast<unsigned long long>(rsp.soft_seq),
                rsp.records);
    for (uint8_t b : rsp.srk_name) std::printf("%02x", b);
    std::printf("\n");
    return 0;
  }
  if (cmd == "export-recovery" && a.size() == 3) {
    req.ordinal = mp::Ordinal::ExportRecovery;
    if (const int rc = run(path, req, rsp)) return rc;
    for (size_t i = 0; i < rsp.recovery.size(); i++) std::printf("%02x", rsp.recovery.data()[i]);
    std::printf("\n");
    return 0;
  }
  if (cmd == "list" && a.size() == 3) {
    req.ordinal = mp::Ordinal::List;
    if (const int rc = run(path, req, rsp)) return rc;
    for (const mp::ListEntry& e : rsp.entries) {
      std::printf("%s %s %llu %s\n", mp::uuid_text(e.uuid).c_str(), state_name(e.state),
                  static_cast<unsigned long long>(e.generation), e.group.empty() ? "-" : e.group.c_str());
    }
    return 0;
  }
  if ((cmd == "create" || cmd == "delete") && a.size() >= 4) {
    if (!mp::parse_uuid(a[3], req.uuid)) return fail("'" + a[3] + "' is not a UUID (8-4-4-4-12 hex digits)");
    req.ordinal = cmd == "create" ? mp::Ordinal::Create : mp::Ordinal::Delete;
    if (cmd == "create" && a.size() == 6 && a[4] == "--group") {
      req.group = a[5];
    } else if (a.size() != 4) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    if (const int rc = run(path, req, rsp)) return rc;
    std::printf("%s %s\n", cmd == "create" ? "created" : "retired", mp::uuid_text(req.uuid).c_str());
    return 0;
  }
  if (cmd == "group" && a.size() == 7 && a[3] == "create" && a[5] == "--authority") {
    std::ifstream f(a[6], std::ios::binary);
    if (!f) return fail(a[6] + ": cannot be read");
    req.spki.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (req.spki.empty() || req.spki.size() > mp::kMaxSpkiBytes)
      return fail(a[6] + ": a DER public key of 1 to 600 bytes is expected");
    req.ordinal = mp::Ordinal::GroupCreate;
    req.group = a[4];
    if (const int rc = run(path, req, rsp)) return rc;
    std::printf("group %s created\n", req.group.c_str());
    return 0;
  }
  if (cmd == "group" && a.size() == 6 && a[3] == "approve") {
    std::ifstream f(a[5], std::ios::binary);
    if (!f) return fail(a[5] + ": cannot be read");
    req.approval.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    req.ordinal = mp::Ordinal::GroupApprove;
    req.group = a[4];
    if (const int rc = run(path, req, rsp)) return rc;
    std::printf("group %s: approval accepted\n", req.group.c_str());
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}
