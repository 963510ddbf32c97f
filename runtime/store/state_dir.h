// StateDir: the --tpmstate directory, held open as a directory fd; every file is reached relative
// to it with O_NOFOLLOW (DESIGN §6), so a symlink planted in the directory is refused rather than
// followed, and renaming the directory under us changes nothing. Writes are durable before they
// return: new file (O_EXCL), write, fsync, rename over the old one, fsync the directory. The lock
// is swtpm's (reference/swtpm-qemu.md §1.8), an fcntl write lock on <dir>/.lock, taken as an
// open-file-description lock so that it excludes swtpm and survives a --daemon fork.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/secret.h"

namespace vtpm::store {

enum class FileStatus : uint8_t { Ok, Absent, Error };

class StateDir {
 public:
  static constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;  // state files are a few KiB to ~100 KiB
  static constexpr uint32_t kDefaultMode = 0600;

  StateDir() = default;
  ~StateDir();
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  // Opens `path` (which must be a directory, not a symlink to one). `file_mode` is the mode new
  // files get (--tpmstate …,mode=), exactly: it is set with fchmod, so the umask does not narrow it.
  bool open(const std::string& path, uint32_t file_mode, std::string& err);
  bool is_open() const { return dir_fd_ >= 0; }
  const std::string& path() const { return path_; }

  // Takes the write lock on <dir>/.lock (created 0600). Fails when another process (or another
  // StateDir) holds it, naming the holder's pid when it is a process lock (swtpm's). Locking
  // twice is a no-op; the lock goes with unlock() or when every copy of its fd is closed.
  bool lock(std::string& err);
  // The lock file's name (".lock"); the file:// back end locks "<file>.lock" beside its file.
  void set_lock_name(std::string name) { lock_name_ = std::move(name); }
  void unlock();
  bool locked() const { return lock_fd_ >= 0; }
  // --runas: the lock file goes to the user the process is about to become, as swtpm (which
  // creates it as that user) leaves it; one this process does not own is left as it is.
  bool give_lock_to(uint32_t uid, uint32_t gid, std::string& err);

  // Reads a regular file of at most kMaxFileBytes. Absent when it does not exist.
  FileStatus read(const std::string& name, std::vector<uint8_t>& out, std::string& err) const;
  // Size of a regular file, without opening it (for --print-states).
  FileStatus size_of(const std::string& name, uint64_t& size, std::string& err) const;
  // Replaces `name` with `data`, durably (see above). The temporary is TMP<rest> for tpm<rest>
  // (swtpm's TMP2-00.permall), else .tmp.<name>; a stale one left by a crash is replaced.
  bool write_durable(const std::string& name, Bytes data, std::string& err);
  // The same without the final directory fsync: the file is complete and synced before the rename
  // (a crash leaves the old or the new file, never a torn one), but the rename itself is durable
  // only after the next sync_dir(). For writes nobody is waiting on (vtpmd's start-up).
  bool write_atomic(const std::string& name, Bytes data, std::string& err);
  // Opens an existing regular file for pread/pwrite (the journal): O_RDWR | O_NOFOLLOW, no
  // create. Returns the fd (the caller closes it) or -1 with `err`.
  int open_rw(const std::string& name, std::string& err) const;
  // Removes `name` and syncs the directory. Absent if there was nothing to remove.
  FileStatus remove(const std::string& name, std::string& err);

 // fsync of the directory itself: makes renames and removals in it durable.
  bool sync_dir(std::string& err);

 private:
  bool check_name(const std::string& name, std::string& err) const;

  int dir_fd_ = -1;
  int lock_fd_ = -1;
  uint32_t mode_ = kDefaultMode;
  std::string path_;
  std::string lock_name_ = ".lock";
};

}  // namespace vtpm::store
