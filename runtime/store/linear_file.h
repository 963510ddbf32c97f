// LinearFile: `--tpmstate backend-uri=file://PATH`, swtpm's linear state file (linear_format.h)
// as vtpmd keeps it. Every change rewrites the whole file the way StateDir writes a state file —
// a new file beside it, written, fsynced, renamed over PATH, the directory fsynced — so a crash
// leaves the old file or the new one, never a torn one, and a write is durable before it
// returns. The file is a few KiB to ~20 KiB, so a rewrite costs what one state file write costs;
// a journal beside the file would add a file swtpm does not know and buys little at that size.
// swtpm instead updates its mmap in place (a crash can tear any slot). A block device is refused:
// it cannot be replaced atomically. The lock is "<name>.lock" beside the file (an fcntl OFD lock,
// as the directory's .lock), since the file itself is replaced by every write.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/linear_format.h"
#include "store/secret.h"
#include "store/state_dir.h"

namespace vtpm::store {

class LinearFile {
 public:
  LinearFile() = default;
  LinearFile(const LinearFile&) = delete;
  LinearFile& operator=(const LinearFile&) = delete;

  // Opens the directory PATH is in (nothing is read or created yet). `mode` as StateDir's.
  bool open(const std::string& path, uint32_t mode, std::string& err);
  StateDir& dir() { return dir_; }
  const std::string& path() const { return path_; }

  // Reads and checks the file once (later calls answer from memory). An absent or empty file is
  // a fresh store; one that does not parse fails with the reason and is left as it is.
  bool load(std::string& err);
  // Slot 0..2 (permall, volatilestate, savestate): its bytes, or nullptr when it holds nothing.
  const std::vector<uint8_t>* blob(size_t k) const;
  // Set (`image`) or clear (`clear`) one slot: the file is replaced durably before it returns;
  // on failure the old file and the old contents stay.
  bool put(size_t k, Bytes image, std::string& err);
  bool clear(size_t k, std::string& err);
  // An absent file becomes an empty, formatted store (swtpm 0.7.1's --print-states formats it,
  // and swtpm_setup then unlinks it to clear the state: it must exist).
  bool create_if_absent(std::string& err);

 private:
  bool write(const LinearStore& next, std::string& err);

  StateDir dir_;
  std::string path_, name_;
  bool loaded_ = false;
  bool absent_ = false;  // load() found no file
  LinearStore store_;
  std::vector<uint8_t> image_;
};

}  // namespace vtpm::store
