// The swtpm control channel (reference/swtpm-qemu.md §1.1–1.4, swtpm's tpm_ioctl.h): a request
// is a 4-byte big-endian CMD_* code and the request half of its ptm_* struct; the reply is the
// response half, starting with the u32 tpm_result. On an error swtpm sends only those 4 bytes,
// except GET_STATEBLOB, whose 16-byte header comes whenever the TPM runs.
#pragma once

#include <cstdint>

#include "connection.h"
#include "tpm_bytes.h"

namespace vtpm::testtools::ctrl {

enum Cmd : uint32_t {
  GET_CAPABILITY = 0x01, INIT = 0x02, SHUTDOWN = 0x03, GET_TPMESTABLISHED = 0x04,
  SET_LOCALITY = 0x05, HASH_START = 0x06, HASH_DATA = 0x07, HASH_END = 0x08,
  CANCEL_TPM_CMD = 0x09, STORE_VOLATILE = 0x0a, RESET_TPMESTABLISHED = 0x0b,
  GET_STATEBLOB = 0x0c, SET_STATEBLOB = 0x0d, STOP = 0x0e, GET_CONFIG = 0x0f,
  SET_DATAFD = 0x10, SET_BUFFERSIZE = 0x11, GET_INFO = 0x12, LOCK_STORAGE = 0x13,
};
constexpr uint32_t BLOB_PERMANENT = 1, BLOB_VOLATILE = 2, BLOB_SAVESTATE = 3;
constexpr uint32_t INIT_FLAG_DELETE_VOLATILE = 1;

const char* name(uint32_t cmd);  // "CMD_GET_CAPABILITY", or "CMD_0x…" for unknown codes

// Request bytes: the code followed by `body`.
Bytes request(uint32_t cmd, const Bytes& body = {});
Bytes init(uint32_t flags);
Bytes set_locality(uint8_t loc);           // 1-byte body, as tcti-swtpm sends it
Bytes set_locality_qemu(uint8_t loc);      // 4-byte body, as QEMU sends it
Bytes reset_tpmestablished(uint8_t loc);
Bytes hash_data(const Bytes& data);
Bytes get_stateblob(uint32_t type, uint32_t flags = 0, uint32_t offset = 0);
Bytes set_stateblob(uint32_t type, const Bytes& blob, uint32_t flags = 0);
Bytes set_buffersize(uint32_t size);       // 0 = query
Bytes get_info(uint64_t flags, uint32_t offset = 0);

// Sends one request and reads its reply by the command's reply layout. If the result is not 0,
// reads only the 4 result bytes, except GET_STATEBLOB (header read if it comes within
// `tail_ms`). Returns the raw reply bytes.
Bytes transact(Connection& c, const Bytes& request, int timeout_ms, int tail_ms = 50);

uint32_t result_of(const Bytes& reply);  // the leading tpm_result (throws WireError if < 4 bytes)

}  // namespace vtpm::testtools::ctrl
