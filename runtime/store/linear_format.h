// swtpm's linear state file (`--tpmstate backend-uri=file://PATH`, swtpm 0.7
// swtpm_nvstore_linear.h; reference/security-reliability.md §3.1, §2.2): all blobs of one TPM in
// one file, so that swtpm reads what vtpmd writes and vtpmd reads what swtpm writes. The parser is
// the trust boundary of a file anybody with write access to it may have shaped: every header
// field is checked against the file's size in 64-bit arithmetic (swtpm #1170–#1174 did it in
// wrapping 32-bit arithmetic), and a file whose magic is not swtpm's is refused, never formatted
// (swtpm "Formatting … as new linear NVRAM store" destroys a TPM identity on a damaged magic).
//
// Layout (little-endian, 192-byte header):
//   u64 magic 0x737774706d6c696e ("nilmptws" on disk) | u8 version 1 | u8 padding | u16 hdrsize 192
//   | 15 slots × {u32 offset (0 = unallocated), u32 data_length, u32 section_length}
// Slot 0 is permall, 1 volatilestate, 2 savestate (the TPM version is not recorded); slots 3–14
// are never used by swtpm 0.7. A slot's data is the bytes a state file of the directory back end
// holds (blob_format.h). swtpm packs the sections from hdrsize on without holes, each
// section_length the next power of two ≥ data_length, and the file ends with the last section;
// encode_linear_store() writes exactly that, so swtpm's allocator can go on from our files.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/secret.h"

namespace vtpm::store {

inline constexpr uint64_t kLinearMagic = 0x737774706d6c696eull;  // 'swtpmlin'
inline constexpr uint8_t kLinearVersion = 1;
inline constexpr size_t kLinearSlots = 15;
inline constexpr size_t kLinearSlotBytes = 12;
inline constexpr size_t kLinearHeaderBytes = 8 + 1 + 1 + 2 + kLinearSlots * kLinearSlotBytes;
inline constexpr size_t kLinearBlobs = 3;  // permall, volatilestate, savestate
static_assert(kLinearHeaderBytes == 192);

struct LinearStore {
  std::array<std::optional<std::vector<uint8_t>>, kLinearBlobs> blobs;  // per slot 0..2
};

// An empty file is a fresh store (no blobs). Anything else must be a well-formed store: false
// with `err` saying which field is wrong and how (the caller prefixes the file name).
bool parse_linear_store(Bytes file, LinearStore& out, std::string& err);

// The file image swtpm would hold for these blobs. Each blob must be non-empty and at most
// kMaxLinearBlob bytes; false with `err` otherwise.
inline constexpr size_t kMaxLinearBlob = 1u << 30;
bool encode_linear_store(const LinearStore& in, std::vector<uint8_t>& out, std::string& err);

}  // namespace vtpm::store
