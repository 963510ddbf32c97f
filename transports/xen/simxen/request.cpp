// transports/xen/simxen/request.cpp: see request.h.
#include "request.h"

#include <cerrno>

namespace vtpm::simxen {
namespace {

const std::string kOk("OK\0", 3);

// A single NUL-terminated string argument (the terminator is required, nothing may follow).
bool one_arg(std::string_view payload, std::string_view* arg) {
  if (payload.empty() || payload.back() != '\0') return false;
  *arg = payload.substr(0, payload.size() - 1);
  return arg->find('\0') == std::string_view::npos;
}

bool parse_u32(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFFu) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

std::string nul_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    out += s;
    out.push_back('\0');
  }
  return out;
}

}  // namespace

std::string handle_request(StoreCore& core, ConnId conn, const Header& h, std::string_view payload) {
  auto type = static_cast<MsgType>(h.type);
  auto reply = [&](std::string_view body) {
    if (body.size() > kPayloadMax) return encode_error(h.req_id, h.tx_id, E2BIG);
    return encode(type, h.req_id, h.tx_id, body);
  };
  auto result = [&](int err) { return err ? encode_error(h.req_id, h.tx_id, err) : reply(kOk); };
  std::string_view arg;
  switch (type) {
    case MsgType::Read: {
      if (!one_arg(payload, &arg)) return result(EINVAL);
      std::string value;
      if (int err = core.read(conn, h.tx_id, arg, &value)) return result(err);
      return reply(value);
    }
    case MsgType::Write: {
      size_t nul = payload.find('\0');
      if (nul == std::string_view::npos) return result(EINVAL);
      return result(core.write(conn, h.tx_id, payload.substr(0, nul), payload.substr(nul + 1)));
    }
    case MsgType::Mkdir:
      return one_arg(payload, &arg) ? result(core.mkdir(conn, h.tx_id, arg)) : result(EINVAL);
    case MsgType::Rm:
      return one_arg(payload, &arg) ? result(core.rm(conn, h.tx_id, arg)) : result(EINVAL);
    case MsgType::Directory: {
      if (!one_arg(payload, &arg)) return result(EINVAL);
      std::vector<std::string> names;
      if (int err = core.directory(conn, h.tx_id, arg, &names)) return result(err);
      return reply(nul_list(names));
    }
    case MsgType::GetPerms: {
      if (!one_arg(payload, &arg)) return result(EINVAL);
      std::vector<WirePerm> perms;
      if (int err = core.get_perms(conn, h.tx_id, arg, &perms)) return result(err);
      std::vector<std::string> text;
      for (auto p : perms) text.push_back(format_perm(p));
      return reply(nul_list(text));
    }
    case MsgType::SetPerms: {
      if (payload.empty() || payload.back() != '\0') return result(EINVAL);
      auto fields = split_fields(payload);
      if (fields.size() < 2) return result(EINVAL);
      std::vector<WirePerm> perms;
      for (size_t i = 1; i < fields.size(); ++i) {
        WirePerm p;
        if (!parse_perm(fields[i], &p)) return result(EINVAL);
        perms.push_back(p);
      }
      return result(core.set_perms(conn, h.tx_id, fields[0], perms));
    }
    case MsgType::Watch:
    case MsgType::Unwatch: {
      if (payload.empty() || payload.back() != '\0') return result(EINVAL);
      auto fields = split_fields(payload);
      if (fields.size() != 2) return result(EINVAL);
      return result(type == MsgType::Watch ? core.watch(conn, fields[0], fields[1])
                                           : core.unwatch(conn, fields[0], fields[1]));
    }
    case MsgType::ResetWatches:
      return result(core.reset_watches(conn));
    case MsgType::TxStart: {
      if (h.tx_id != 0) return result(EBUSY);   // no nested transactions
      uint32_t id = 0;
      if (int err = core.tx_start(conn, &id)) return result(err);
      std::string body = std::to_string(id);
      body.push_back('\0');
      return reply(body);
    }
    case MsgType::TxEnd: {
      if (!one_arg(payload, &arg) || (arg != "T" && arg != "F")) return result(EINVAL);
      return result(core.tx_end(conn, h.tx_id, arg == "T"));
    }
    case MsgType::GetDomainPath: {
      uint32_t dom = 0;
      if (!one_arg(payload, &arg) || !parse_u32(arg, &dom)) return result(EINVAL);
      std::string body = "/local/domain/" + std::to_string(dom);
      body.push_back('\0');
      return reply(body);
    }
    case MsgType::IsDomainIntroduced: {
      std::string body("T\0", 2);
      return reply(body);
    }
    default:
      return result(ENOSYS);
  }
}

std::string encode_watch_event(const WatchFiring& f) {
  std::string body = f.path;
  body.push_back('\0');
  body += f.token;
  body.push_back('\0');
  if (body.size() > kPayloadMax) body.resize(kPayloadMax);
  return encode(MsgType::WatchEvent, 0, 0, body);
}

}  // namespace vtpm::simxen
