// NvBackend: where the engine's NVRAM callbacks go. libtpms asks for its "permall",
// "volatilestate" and "savestate" blobs by name (libtpms tpm_nvfilename.h); the engine maps those
// names to BlobKind and calls this interface, which the store (runtime/store/) implements over the
// state directory. Kept apart from both so neither depends on the other.
#pragma once

#include <cstdint>
#include <vector>

namespace vtpm::engine {

// The swtpm control channel's blob types (tpm_ioctl.h PTM_BLOB_TYPE_*), one per libtpms name.
enum class BlobKind : uint8_t { Permanent = 1, Volatile = 2, SaveState = 3 };

// Every status but Loaded and Absent is a failure: the blob exists but does not load, and the
// engine fails closed. The failures differ only in the result code libtpms gets from the load
// callback, which a TPM 1.2 MainInit hands back to CMD_INIT as swtpm 0.7.1's does (its
// swtpm_nvstore.c answers these codes; a TPM 2 MainInit answers TPM_RC_FAILURE for all of them).
enum class LoadStatus : uint8_t {
  Loaded,        // `out` holds the plain libtpms blob
  Absent,        // no such blob: libtpms gets exactly TPM_RETRY and manufactures (permall)
  Failed,        // unreadable, damaged, or encrypted without a key given: TPM_FAIL (0x09)
  WrongKey,      // encrypted, but the given key does not open it (MAC or tag fails):
                 // TPM_DECRYPT_ERROR (0x21)
  WrongKeySize,  // encrypted with a key of the other size (128 vs 256 bits):
                 // TPM_BAD_KEY_PROPERTY (0x28)
};

inline bool load_failed(LoadStatus s) { return s != LoadStatus::Loaded && s != LoadStatus::Absent; }

class NvBackend {
 public:
  virtual LoadStatus load(BlobKind kind, std::vector<uint8_t>& out) = 0;
  // Durable before it returns true (the store's write-new, fsync, rename, fsync-dir).
  virtual bool store(BlobKind kind, const uint8_t* data, uint32_t len) = 0;
  // Removing an absent blob succeeds unless must_exist.
  virtual bool remove(BlobKind kind, bool must_exist) = 0;

 protected:
  ~NvBackend() = default;
};

}  // namespace vtpm::engine
