// ManagerCore's groups (issue 8, runtime/manager/README.md "Group approvals"): group create
// seals a fresh group secret under PolicyAuthorize by the group's key and defines its NV
// revocation index; approval-request tells an offline signer what to sign; group approve checks
// an approval (OpenSSL and the TPM) and advances the revocation index before storing it; and a
// group instance's key unwraps only under the secret the TPM releases with that approval.
#include <cstring>

#include "manager/approval.h"
#include "manager/core.h"

namespace vtpm::manager {

namespace {

constexpr size_t kGroupSecretBytes = 32;

store::Bytes bytes_of(const std::string& s) {
  return store::Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

Group* ManagerCore::find_group(const std::string& name) {
  for (Group& g : table_.groups)
    if (g.name == name) return &g;
  return nullptr;
}

bool ManagerCore::group_nv_auth(const std::string& name, store::SecretKey& out) {
  std::vector<uint8_t> info = {'v', 't', 'p', 'm', '-', 'm', 'a', 'n', 'a', 'g', 'e', 'r', ' ',
                               'g', 'r', 'o', 'u', 'p', ' ', 'n', 'v', ' ', 'v', '1', 0};
  info.insert(info.end(), name.begin(), name.end());
  uint8_t k[32];
  const bool ok = crypto_.hkdf_sha256(root_.span(), store::Bytes(info.data(), info.size()), k, 32);
  if (ok) out.assign(k, 32);
  store::wipe(k, sizeof k);
  return ok;
}

Status ManagerCore::do_group_create(const PeerId& peer, const Request& req) {
  if (!peer.admin) return Status::NotAdmin;
  if (find_group(req.group) != nullptr) return Status::Exists;
  std::string err;
  if (req.group.empty() || req.group.size() > kApprovalMaxName) {
    log_(1, "vtpm-manager: group create: a group name is 1.." + std::to_string(kApprovalMaxName) +
                " bytes (it is the approvals' policyRef)");
    return Status::Malformed;
  }
  Group g;
  g.name = req.group;
  SigningKey key;
  if (!parse_group_key(req.spki.data(), req.spki.size(), key, g.spki, err)) {
    log_(1, "vtpm-manager: group create " + g.name + ": " + err);
    return Status::BadApproval;
  }
  store::SecretKey auth;
  if (!group_nv_auth(g.name, auth)) return Status::StorageError;
  uint8_t secret[kGroupSecretBytes];
  if (!crypto_.random_bytes(secret, sizeof secret)) return Status::StorageError;
  const bool sealed =
      tpm_.seal_authorized(store::Bytes(secret, sizeof secret), key, bytes_of(g.name), g.sealed, err);
  store::wipe(secret, sizeof secret);
  if (!sealed || !tpm_.define_revocation(auth.span(), g.nv_index, err)) {
    log_(1, "vtpm-manager: group create " + g.name + ": " + err);
    return Status::TpmError;
  }
  table_.groups.push_back(g);
  const Status s = changed(now_ms_, true, "group create");
  if (s != Status::Success) table_.groups.pop_back();  // its NV index stays defined, unused
  else log_(1, "vtpm-manager: group " + g.name + " created (revocation index " +
                   std::to_string(g.nv_index) + "); it needs a signed approval before use");
  return s;
}

Status ManagerCore::do_approval_request(const PeerId& peer, const Request& req, Response& rsp) {
  if (!peer.admin) return Status::NotAdmin;
  const Group* g = find_group(req.group);
  if (g == nullptr) return Status::NoSuchGroup;
  if (req.seq == 0 || req.pcr_mask == 0 || (req.pcr_mask >> 24)) return Status::Malformed;
  Approval a;
  a.group = g->name;
  a.policy.seq = req.seq;
  a.policy.pcr_mask = req.pcr_mask;
  store::SecretKey auth;
  std::string err;
  if (!group_nv_auth(g->name, auth) ||
      !tpm_.pcr_digest(req.pcr_mask, a.policy.pcr_digest, err) ||
      !tpm_.approved_policy(g->nv_index, auth.span(), a.policy, a.approved_policy, err)) {
    log_(1, "vtpm-manager: approval request for group " + g->name + ": " + err);
    return Status::TpmError;
  }
  encode_approval_request(a, rsp.approval);
  return Status::Success;
}

Status ManagerCore::do_group_approve(const PeerId& peer, const Request& req) {
  if (!peer.admin) return Status::NotAdmin;
  Group* g = find_group(req.group);
  if (g == nullptr) return Status::NoSuchGroup;
  const std::string who = "vtpm-manager: group approve " + req.group + ": ";
  Approval a;
  std::string err;
  if (parse_approval(req.approval.data(), req.approval.size(), a, err) != ApprovalError::None) {
    log_(1, who + err);
    return Status::BadApproval;
  }
  if (a.group != g->name) {
    log_(1, who + "the approval is for group \"" + a.group + "\", not this one");
    return Status::Foreign;
  }
  store::SecretKey auth;
  uint64_t revoked_below = 0;
  if (!group_nv_auth(g->name, auth) ||
      !tpm_.read_counter(g->nv_index, auth.span(), revoked_below, err)) {
    log_(1, who + err);
    return Status::TpmError;
  }
  if (a.policy.seq <= g->approval_seq || a.policy.seq < revoked_below) {
    log_(1, who + "the approval's sequence " + std::to_string(a.policy.seq) +
                " is not above the stored approval's " + std::to_string(g->approval_seq) +
                " (revocation index at " + std::to_string(revoked_below) + ")");
    return Status::Stale;
  }
  uint8_t expect[32];
  if (!tpm_.approved_policy(g->nv_index, auth.span(), a.policy, expect, err)) {
    log_(1, who + err);
    return Status::TpmError;
  }
  if (std::memcmp(expect, a.approved_policy, 32) != 0) {
    log_(1, who + "the approval's approvedPolicy is not PolicyPCR + PolicyNV of its own fields "
                  "on this manager's revocation index");
    return Status::BadApproval;
  }
  SigningKey key;
  TpmSignature sig;
  uint8_t ahash[32];
  approval_ahash(a, ahash);
  std::vector<uint8_t> spki_der;
  if (!parse_group_key(g->spki.data(), g->spki.size(), key, spki_der, err) ||
      !verify_approval_openssl(g->spki, a, err) || !approval_tpm_signature(key, a, sig, err) ||
      !tpm_.verify_signature(key, store::Bytes(ahash, 32), sig, err)) {
    log_(1, who + err);
    return Status::BadApproval;
  }
  // Revoke first, then store (a crash between leaves the old approval revoked and the new one
  // not stored: the group fails closed until the same approval is given again).
  if (a.policy.seq != revoked_below &&
      !tpm_.write_revocation(g->nv_index, auth.span(), a.policy.seq, err)) {
    log_(1, who + err);
    return Status::TpmError;
  }
  const Group before = *g;
  g->approval_seq = a.policy.seq;
  g->approval = req.approval;
  const Status s = changed(now_ms_, true, "group approve");
  if (s != Status::Success) *find_group(req.group) = before;
  else log_(1, who + "approval " + std::to_string(a.policy.seq) + " accepted; older ones revoked");
  return s;
}

Status ManagerCore::group_wrap_key(const std::string& name, store::SecretKey& out) {
  const Group* g = find_group(name);
  if (g == nullptr) return Status::NoSuchGroup;
  const std::string who = "vtpm-manager: group " + name + ": ";
  if (g->approval.empty()) {
    log_(1, who + "no signed approval is stored; its instances' keys stay sealed");
    return Status::NoApproval;
  }
  Approval a;
  std::string err;
  SigningKey key;
  TpmSignature sig;
  std::vector<uint8_t> spki_der;
  if (parse_approval(g->approval.data(), g->approval.size(), a, err) != ApprovalError::None ||
      !parse_group_key(g->spki.data(), g->spki.size(), key, spki_der, err) ||
      !approval_tpm_signature(key, a, sig, err)) {
    log_(1, who + "the stored approval does not parse: " + err);
    return Status::StorageError;
  }
  uint8_t now[32];
  if (!tpm_.pcr_digest(a.policy.pcr_mask, now, err)) {
    log_(1, who + err);
    return Status::TpmError;
  }
  if (std::memcmp(now, a.policy.pcr_digest, 32) != 0) {
    log_(1, who + "no stored approval matches the PCRs now (approval " +
                std::to_string(a.policy.seq) +
                " names other values): a new signed approval is needed (vtpmctl group "
                "approval-request, then group approve)");
    return Status::NoApproval;
  }
  store::SecretKey auth;
  if (!group_nv_auth(name, auth)) return Status::StorageError;
  SecretBytes secret;
  TpmError why = TpmError::Other;
  if (!tpm_.unseal_authorized(store::Bytes(g->sealed.data(), g->sealed.size()), key,
                              bytes_of(name), g->nv_index, auth.span(), a.policy, sig, secret,
                              why, err)) {
    log_(1, who + "the TPM does not release the group's secret: " + err);
    return why == TpmError::PolicyFailed ? Status::NoApproval : Status::TpmError;
  }
  static const char kInfo[] = "vtpm-manager group instance key v1";
  uint8_t k[32];
  const bool ok = crypto_.hkdf_sha256(
      secret.span(), store::Bytes(reinterpret_cast<const uint8_t*>(kInfo), sizeof kInfo - 1), k, 32);
  if (ok) out.assign(k, 32);
  store::wipe(k, sizeof k);
  return ok ? Status::Success : Status::StorageError;
}

}  // namespace vtpm::manager
