// StateDir (state_dir.h): *at() system calls on the directory fd. Every call is checked; EINTR
// is retried a bounded number of times; a failed write leaves the old file in place and removes
// its temporary.
#include "store/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vtpm::store {
namespace {

constexpr int kMaxEintr = 100;

template <class F>
auto retry_eintr(F f) {
  auto r = f();
  for (int n = 0; r < 0 && errno == EINTR && n < kMaxEintr; ++n) r = f();
  return r;
}

std::string errno_text() { return std::strerror(errno); }

std::string temp_name(const std::string& name) {
  if (name.compare(0, 3, "tpm") == 0) return "TMP" + name.substr(3);  // swtpm: TMP2-00.permall
  return ".tmp." + name;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);  // not retried: on Linux the fd is gone even after EINTR
  fd = -1;
}

}  // namespace

StateDir::~StateDir() {
  unlock();
  close_fd(dir_fd_);
}

bool StateDir::open(const std::string& path, uint32_t file_mode, std::string& err) {
  close_fd(dir_fd_);
  path_ = path;
  if ((file_mode & ~07777u) != 0) {
    err = "file mode 0" + std::to_string(file_mode) + " is not a permission mode";
    return false;
  }
  mode_ = file_mode;
  dir_fd_ = retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC); });
  if (dir_fd_ < 0) {
    struct stat st {};
    const int saved = errno;
    if ((saved == ELOOP || saved == ENOTDIR) && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      err = "state directory " + path + " is a symbolic link; refusing it";
    } else {
      errno = saved;
      err = "could not open state directory " + path + ": " + errno_text();
    }
    return false;
  }
  return true;
}

bool StateDir::give_lock_to(uint32_t uid, uint32_t gid, std::string& err) {
  struct stat st {};
  if (lock_fd_ < 0 || ::fstat(lock_fd_, &st) != 0) {
    err = "the state's lock is not held";
    return false;
  }
  if (st.st_uid != ::geteuid()) return true;
  if (::fchown(lock_fd_, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
    err = "could not give " + path_ + "/" + lock_name_ + " to uid " + std::to_string(uid) + ": " + errno_text();
    return false;
  }
  return true;
}

bool StateDir::lock(std::string& err) {
  if (lock_fd_ >= 0) return true;
  if (dir_fd_ < 0) {
    err = "state directory is not open";
    return false;
  }
  lock_fd_ = retry_eintr([&] {
    return ::openat(dir_fd_, lock_name_.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                    0600);
  });
  if (lock_fd_ < 0) {
    err = "could not open " + path_ + "/" + lock_name_ + ": " + errno_text();
    return false;
  }
  struct stat st {};
  if (::fstat(lock_fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    err = path_ + "/" + lock_name_ + " is not a regular file";
    close_fd(lock_fd_);
    return false;
  }
  // An open-file-description lock: it conflicts with swtpm's F_SETLK lock (and with a second
  // StateDir in this process), and unlike a process lock it survives fork(), so --daemon keeps
  // it. Kernels without OFD locks (< 3.15) get swtpm's F_SETLK.
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int set_cmd = F_OFD_SETLK, get_cmd = F_OFD_GETLK;
  int r = retry_eintr([&] { return ::fcntl(lock_fd_, set_cmd, &fl); });
  if (r != 0 && errno == EINVAL) {
    set_cmd = F_SETLK;
    get_cmd = F_GETLK;
    r = retry_eintr([&] { return ::fcntl(lock_fd_, set_cmd, &fl); });
  }
  if (r == 0) return true;
  const int saved = errno;
  if (saved == EACCES || saved == EAGAIN) {
    struct flock who {};
    who.l_type = F_WRLCK;
    who.l_whence = SEEK_SET;
    err = (lock_name_ == ".lock" ? "state directory " + path_ : path_ + "/" + lock_name_) +
          " is locked by another process";
    // A process lock (swtpm's) names its owner; an OFD lock (another vtpmd's) has l_pid -1.
    if (::fcntl(lock_fd_, get_cmd, &who) == 0 && who.l_type != F_UNLCK && who.l_pid > 0) {
      err += " (pid " + std::to_string(who.l_pid) + ")";
    }
    err += "; is another vtpmd or swtpm using it?";
  } else {
    errno = saved;
    err = "could not lock " + path_ + "/" + lock_name_ + ": " + errno_text();
  }
  close_fd(lock_fd_);
  return false;
}

void StateDir::unlock() { close_fd(lock_fd_); }  // closing the fd drops the fcntl lock

bool StateDir::check_name(const std::string& name, std::string& err) const {
  if (dir_fd_ < 0) {
    err = "state directory is not open";
    return false;
  }
  if (name.empty() || name == "." || name == ".." || name.size() > 200 ||
      name.find('/') != std::string::npos || name.find('\0') != std::string::npos) {
    err = "invalid state file name '" + name + "'";
    return false;
  }
  return true;
}

FileStatus StateDir::read(const std::string& name, std::vector<uint8_t>& out,
                          std::string& err) const {
  out.clear();
  if (!check_name(name, err)) return FileStatus::Error;
  int fd = retry_eintr([&] {
    return ::openat(dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  });
  if (fd < 0) {
    if (errno == ENOENT) return FileStatus::Absent;
    if (errno == ELOOP) err = name + " is a symbolic link; refusing to follow it";
    else err = "could not open " + name + ": " + errno_text();
    return FileStatus::Error;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err = "could not stat " + name + ": " + errno_text();
    close_fd(fd);
    return FileStatus::Error;
  }
  if (!S_ISREG(st.st_mode)) {
    err = name + " is not a regular file";
    close_fd(fd);
    return FileStatus::Error;
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    err = name + " has " + std::to_string(st.st_size) + " bytes, more than the " +
          std::to_string(kMaxFileBytes) + " a state file may have";
    close_fd(fd);
    return FileStatus::Error;
  }
  out.resize(static_cast<size_t>(st.st_size) + 1);  // one more: notices a file that grew
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = retry_eintr([&] { return ::read(fd, out.data() + got, out.size() - got); });
    if (n < 0) {
      err = "could not read " + name + ": " + errno_text();
      close_fd(fd);
      out.clear();
      return FileStatus::Error;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close_fd(fd);
  if (got != static_cast<size_t>(st.st_size)) {
    err = name + " changed size while it was read";
    out.clear();
    return FileStatus::Error;
  }
  out.resize(got);
  return FileStatus::Ok;
}

FileStatus StateDir::size_of(const std::string& name, uint64_t& size, std::string& err) const {
  size = 0;
  if (!check_name(name, err)) return FileStatus::Error;
  struct stat st {};
  if (::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return FileStatus::Absent;
    err = "could not stat " + name + ": " + errno_text();
    return FileStatus::Error;
  }
  if (!S_ISREG(st.st_mode)) {
    err = name + " is not a regular file";
    return FileStatus::Error;
  }
  size = static_cast<uint64_t>(st.st_size);
  return FileStatus::Ok;
}

bool StateDir::sync_dir(std::string& err) {
  if (retry_eintr([&] { return ::fsync(dir_fd_); }) != 0) {
    err = "could not sync state directory " + path_ + ": " + errno_text();
    return false;
  }
  return true;
}

bool StateDir::write_durable(const std::string& name, Bytes data, std::string& err) {
  return write_atomic(name, data, err) && sync_dir(err);
}

bool StateDir::write_atomic(const std::string& name, Bytes data, std::string& err) {
  if (!check_name(name, err)) return false;
  if (data.size() > kMaxFileBytes) {
    err = name + ": " + std::to_string(data.size()) + " bytes is more than a state file may have";
    return false;
  }
  // Refuse to replace anything but a regular file (a planted symlink means tampering).
  struct stat st {};
  if (::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
    err = name + (S_ISLNK(st.st_mode) ? " is a symbolic link" : " is not a regular file") +
          "; refusing to replace it";
    return false;
  }
  const std::string tmp = temp_name(name);
  int fd = -1;
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    fd = retry_eintr([&] {
      return ::openat(dir_fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      mode_);
    });
    if (fd < 0 && errno == EEXIST && attempt == 0) {
      // A temporary left by a crash (we hold the lock, so nobody else is writing it).
      if (::unlinkat(dir_fd_, tmp.c_str(), 0) != 0) break;
    }
  }
  if (fd < 0) {
    err = "could not create " + tmp + ": " + errno_text();
    return false;
  }
  bool ok = true;
  if (::fchmod(fd, mode_) != 0) {
    err = "could not set the mode of " + tmp + ": " + errno_text();
    ok = false;
  }
  size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = retry_eintr([&] { return ::write(fd, data.data() + done, data.size() - done); });
    if (n <= 0) {
      err = "could not write " + tmp + ": " + (n < 0 ? errno_text() : std::string("no progress"));
      ok = false;
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (ok && retry_eintr([&] { return ::fsync(fd); }) != 0) {
    err = "could not sync " + tmp + ": " + errno_text();
    ok = false;
  }
  if (::close(fd) != 0 && errno != EINTR && ok) {
    err = "could not close " + tmp + ": " + errno_text();
    ok = false;
  }
  if (ok && ::renameat(dir_fd_, tmp.c_str(), dir_fd_, name.c_str()) != 0) {
    err = "could not rename " + tmp + " to " + name + ": " + errno_text();
    ok = false;
  }
  if (!ok) {
    ::unlinkat(dir_fd_, tmp.c_str(), 0);
    return false;
  }
  return true;
}

int StateDir::open_rw(const std::string& name, std::string& err) const {
  if (!check_name(name, err)) return -1;
  int fd = retry_eintr([&] {
    return ::openat(dir_fd_, name.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  });
  if (fd < 0) {
    if (errno == ELOOP) err = name + " is a symbolic link; refusing to follow it";
    else err = "could not open " + name + ": " + errno_text();
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    err = name + " is not a regular file";
    close_fd(fd);
    return -1;
  }
  return fd;
}

FileStatus StateDir::remove(const std::string& name, std::string& err) {
  if (!check_name(name, err)) return FileStatus::Error;
  if (::unlinkat(dir_fd_, name.c_str(), 0) != 0) {
    if (errno == ENOENT) return FileStatus::Absent;
    err = "could not remove " + name + ": " + errno_text();
    return FileStatus::Error;
  }
  return sync_dir(err) ? FileStatus::Ok : FileStatus::Error;
}

}  // namespace vtpm::store
