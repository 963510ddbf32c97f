// Log: vtpmd's `--log file=…|fd=…,level=N,prefix=S` sink. One line per message; level 0 logs
// only errors (which also go to stderr when no log is configured). No globals: main() owns it.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string>

namespace vtpm::instance {

class Log {
 public:
  Log() = default;
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Opens `file` (appends; "-" = no log) or uses `fd`; returns false with `err` set on failure.
  bool open(const std::string& file, int fd, uint32_t level, const std::string& prefix, bool truncate,
            std::string& err);
  int fd() const { return fd_; }
  uint32_t level() const { return level_; }

  // level 1: lifecycle and errors; 2: control commands; 3: data commands.
  void info(uint32_t level, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  void error(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

 private:
  void write_line(const char* fmt, va_list ap);
  int fd_ = -1;
  bool owns_fd_ = false;
  uint32_t level_ = 0;
  std::string prefix_;
};

}  // namespace vtpm::instance
