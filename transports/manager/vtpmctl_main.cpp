// vtpmctl: the operator's tool for vtpm-manager (issue 8). One request per run over the
// manager's socket (client_link.h), answers parsed by the manager codec (protocol.h).
//
//   vtpmctl --manager PATH status | list | create UUID [--group G] | delete UUID
//           | group create G --authority PUBKEY | group approve G FILE | export-recovery
//           | group approval-request G --seq N [--pcrs LIST] OUT   (writes OUT and OUT.tbs)
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>
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
    "  group create G --authority K    a group whose approvals are signed by K (PEM or DER\n"
    "                                  SubjectPublicKeyInfo, RSA-2048 or ECC P-256)\n"
    "  export-recovery                 the offline recovery key (keep it offline; vtpm-manager\n"
    "                                  --recover FILE uses it when the PCRs changed)\n"
    "  group approval-request G --seq N [--pcrs LIST] OUT\n"
    "                                  the unsigned approval of the PCRs in LIST (default 7, e.g.\n"
    "                                  0,7) as they are now, sequence N, into OUT; what to sign into\n"
    "                                  OUT.tbs. Sign offline: openssl dgst -sha256 -sign KEY -out SIG\n"
    "                                  OUT.tbs; the approval FILE is OUT followed by SIG\n"
    "  group approve G FILE            store a signed approval for group G (checked by OpenSSL and\n"
    "                                  the TPM; it revokes every approval with a lower sequence)\n";

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
      return fail(a[6] + ": a PEM or DER public key of 1 to 600 bytes is expected");
    req.ordinal = mp::Ordinal::GroupCreate;
    req.group = a[4];
    if (const int rc = run(path, req, rsp)) return rc;
    std::printf("group %s created\n", req.group.c_str());
    return 0;
  }
  if (cmd == "group" && (a.size() == 8 || a.size() == 10) && a[3] == "approval-request" &&
      a[5] == "--seq") {
    char* end = nullptr;
    errno = 0;
    const unsigned long long seq = std::strtoull(a[6].c_str(), &end, 10);
    if (a[6].empty() || *end != '\0' || errno != 0 || seq == 0 || a[6][0] == '-')
      return fail("--seq '" + a[6] + "' is not a sequence number (1 and up)");
    uint32_t mask = 1u << 7;
    if (a.size() == 10) {
      if (a[7] != "--pcrs") {
        std::fputs(kUsage, stderr);
        return 2;
      }
      mask = 0;
      size_t at = 0;
      const std::string& list = a[8];
      while (at <= list.size()) {
        const size_t comma = std::min(list.find(',', at), list.size());
        const std::string one = list.substr(at, comma - at);
        if (one.empty() || one.size() > 2 || one.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(one) > 23)
          return fail("--pcrs '" + list + "' is not a comma-separated list of PCRs 0..23");
        mask |= 1u << std::stoi(one);
        at = comma + 1;
      }
    }
    const std::string out = a.back();
    req.ordinal = mp::Ordinal::ApprovalRequest;
    req.group = a[4];
    req.seq = seq;
    req.pcr_mask = mask;
    if (const int rc = run(path, req, rsp)) return rc;
    // TBS = approved_policy || group name: the last 32 bytes of the request, then the name.
    if (rsp.approval.size() < 32) return fail("the manager's approval request is too short");
    std::vector<uint8_t> tbs;
    for (size_t i = rsp.approval.size() - 32; i < rsp.approval.size(); ++i) tbs.push_back(rsp.approval[i]);
    for (char ch : req.group) tbs.push_back(static_cast<uint8_t>(ch));
    for (const auto& [name, bytes] : {std::pair{out, &rsp.approval}, std::pair{out + ".tbs", &tbs}}) {
      std::ofstream f(name, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
      if (!f.flush()) return fail(name + ": cannot be written");
    }
    std::printf("group %s: approval request %llu written to %s; sign %s.tbs\n", req.group.c_str(),
                seq, out.c_str(), out.c_str());
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
