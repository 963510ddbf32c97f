// Log: see log.h. Lines are written with one write(2) each so that concurrent writers (libtpms'
// own debug output on the same fd) do not interleave within a line.
#include "instance/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vtpm::instance {

Log::~Log() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

bool Log::open(const std::string& file, int fd, uint32_t level, const std::string& prefix,
               bool truncate, std::string& err) {
  level_ = level;
  prefix_ = prefix;
  if (fd >= 0) {
    fd_ = fd;
    return true;
  }
  if (file == "-") return true;
  if (file.empty()) {
    if (level > 0) fd_ = 2;  // swtpm: --log without file= or fd= writes to stderr
    return true;
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : O_APPEND);
  fd_ = ::open(file.c_str(), flags, 0600);  // swtpm: S_IRUSR|S_IWUSR
  if (fd_ < 0) {
    err = "--log: cannot open '" + file + "': " + std::strerror(errno);
    return false;
  }
  owns_fd_ = true;
  return true;
}

void Log::write_line(uint32_t indent, const char* fmt, va_list ap) {
  char line[1024];
  constexpr uint32_t kMaxIndent = 7;
  if (indent > kMaxIndent) indent = kMaxIndent;
  int n = std::snprintf(line, sizeof line, "%s%*s", prefix_.c_str(), static_cast<int>(indent), "");
  if (n < 0 || n >= static_cast<int>(sizeof line)) n = 0;
  int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, ap);
  if (m < 0) return;
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  int out = fd_ >= 0 ? fd_ : 2;
  ssize_t w = ::write(out, line, len);
  (void)w;  // a log that cannot be written must not stop the TPM
}

void Log::info(uint32_t level, const char* fmt, ...) {
  if (fd_ < 0 || level > level_) return;
  va_list ap;
  va_start(ap, fmt);
  write_line(level > 0 ? level - 1 : 0, fmt, ap);
  va_end(ap);
}

void Log::error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  write_line(0, fmt, ap);
  va_end(ap);
}

Log::LibtpmsDebug Log::libtpms_debug() const {
  LibtpmsDebug d;
  if (fd_ < 0) return d;
  d.fd = fd_;
  if (level_ >= 5) {
    d.level = level_ - 4;
    d.prefix = prefix_ + "    ";
  }
  return d;
}

}  // namespace vtpm::instance
