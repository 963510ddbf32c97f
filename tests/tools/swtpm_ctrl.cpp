// Control-channel requests and reply framing (see swtpm_ctrl.h; layouts from
// reference/swtpm-qemu.md §1.2).
#include "swtpm_ctrl.h"

#include <cstdio>

namespace vtpm::testtools::ctrl {

const char* name(uint32_t cmd) {
  switch (cmd) {
    case GET_CAPABILITY: return "CMD_GET_CAPABILITY";
    case INIT: return "CMD_INIT";
    case SHUTDOWN: return "CMD_SHUTDOWN";
    case GET_TPMESTABLISHED: return "CMD_GET_TPMESTABLISHED";
    case SET_LOCALITY: return "CMD_SET_LOCALITY";
    case HASH_START: return "CMD_HASH_START";
    case HASH_DATA: return "CMD_HASH_DATA";
    case HASH_END: return "CMD_HASH_END";
    case CANCEL_TPM_CMD: return "CMD_CANCEL_TPM_CMD";
    case STORE_VOLATILE: return "CMD_STORE_VOLATILE";
    case RESET_TPMESTABLISHED: return "CMD_RESET_TPMESTABLISHED";
    case GET_STATEBLOB: return "CMD_GET_STATEBLOB";
    case SET_STATEBLOB: return "CMD_SET_STATEBLOB";
    case STOP: return "CMD_STOP";
    case GET_CONFIG: return "CMD_GET_CONFIG";
    case SET_DATAFD: return "CMD_SET_DATAFD";
    case SET_BUFFERSIZE: return "CMD_SET_BUFFERSIZE";
    case GET_INFO: return "CMD_GET_INFO";
    case LOCK_STORAGE: return "CMD_LOCK_STORAGE";
  }
  static thread_local char buf[24];
  std::snprintf(buf, sizeof buf, "CMD_0x%x", unsigned(cmd));
  return buf;
}

Bytes request(uint32_t cmd, const Bytes& body) {
  Writer w;
  w.u32(cmd).raw(body);
  return w.take();
}
Bytes init(uint32_t flags) { return request(INIT, Writer().u32(flags).bytes()); }
Bytes set_locality(uint8_t loc) { return request(SET_LOCALITY, {loc}); }
Bytes set_locality_qemu(uint8_t loc) { return request(SET_LOCALITY, Writer().u8(loc).u8(0).u8(0).u8(0).bytes()); }
Bytes reset_tpmestablished(uint8_t loc) { return request(RESET_TPMESTABLISHED, {loc}); }
Bytes hash_data(const Bytes& data) {
  Writer w;
  w.u32(HASH_DATA).u32(uint32_t(data.size())).raw(data);
  return w.take();
}
Bytes get_stateblob(uint32_t type, uint32_t flags, uint32_t offset) {
  Writer w;
  w.u32(GET_STATEBLOB).u32(flags).u32(type).u32(offset);
  return w.take();
}
Bytes set_stateblob(uint32_t type, const Bytes& blob, uint32_t flags) {
  Writer w;
  w.u32(SET_STATEBLOB).u32(flags).u32(type).u32(uint32_t(blob.size())).raw(blob);
  return w.take();
}
Bytes set_buffersize(uint32_t size) { return request(SET_BUFFERSIZE, Writer().u32(size).bytes()); }
Bytes get_info(uint64_t flags, uint32_t offset) {
  Writer w;
  w.u32(GET_INFO).u64(flags).u32(offset).u32(0);
  return w.take();
}

uint32_t result_of(const Bytes& reply) { return be32_at(reply, 0); }

namespace {
void append(Bytes& to, const Bytes& more) { to.insert(to.end(), more.begin(), more.end()); }
}  // namespace

Bytes transact(Connection& c, const Bytes& req, int timeout_ms, int tail_ms) {
  uint32_t cmd = be32_at(req, 0);
  c.send_all(req, timeout_ms);
  Bytes reply = c.recv_exact(4, timeout_ms);
  uint32_t result = result_of(reply);
  switch (cmd) {
    case GET_CAPABILITY:  // always succeeds: caps u32
      if (result == 0) append(reply, c.recv_exact(4, timeout_ms));
      break;
    case GET_TPMESTABLISHED:  // bit u8, pad[3]
    case GET_CONFIG:          // flags u32
      if (result == 0) append(reply, c.recv_exact(4, timeout_ms));
      break;
    case SET_BUFFERSIZE:  // buffersize, minsize, maxsize
      if (result == 0) append(reply, c.recv_exact(12, timeout_ms));
      break;
    case GET_INFO:  // totlength, length, then length bytes
      if (result == 0) {
        Bytes h = c.recv_exact(8, timeout_ms);
        append(reply, h);
        append(reply, c.recv_exact(be32_at(h, 4), timeout_ms));
      }
      break;
    case GET_STATEBLOB: {  // state_flags, totlength, length, then length bytes
      if (result == 0) {
        Bytes h = c.recv_exact(12, timeout_ms);
        append(reply, h);
        append(reply, c.recv_exact(be32_at(h, 8), timeout_ms));
        break;
      }
      // Error: the header follows only while the TPM runs; whatever comes within tail_ms is kept.
      Bytes extra = c.recv_until_quiet(tail_ms);
      append(reply, extra);
      if (extra.size() >= 12) {
        size_t want = be32_at(extra, 8), have = extra.size() - 12;
        if (have < want) append(reply, c.recv_exact(want - have, timeout_ms));
      }
      break;
    }
    default:
      break;  // every other reply is the 4-byte result alone
  }
  return reply;
}

}  // namespace vtpm::testtools::ctrl
