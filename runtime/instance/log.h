// Log: vtpmd's `--log file=…|fd=…,level=N,prefix=S` sink, with swtpm 0.7.1's conventions
// (logging.c): --log without file= or fd= logs to stderr, a level-N line is indented by N-1
// spaces after the prefix, and libtpms' own debug output joins the log (libtpms_debug()). One line
// per message; without --log (level 0) only errors are written, to stderr. main() owns the Log.
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

  // Opens `file` (appends; "-" = no log) or uses `fd`, or stderr when neither is given and
  // `level` > 0 (--log was given); returns false with `err` set on failure.
  bool open(const std::string& file, int fd, uint32_t level, const std::string& prefix, bool truncate,
            std::string& err);
  int fd() const { return fd_; }
  uint32_t level() const { return level_; }

  // level 1: lifecycle and errors; 2: control commands; 3: data commands. Written only when
  // `level` <= the --log level, after the prefix and level-1 spaces (swtpm's log_check_string
  // reads a line's level from its indentation).
  void info(uint32_t level, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  void error(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  // Where libtpms' debug output goes, as swtpm 0.7.1 routes it (logging.c log_set_level): to the
  // log's fd whenever there is a log (then also libtpms' forced lines, "Entering failure mode",
  // which otherwise go to stderr); from level 5 on with libtpms debug level N-4 and, before each
  // libtpms line, the prefix and four spaces. fd -1: leave libtpms alone (no --log, or file=-).
  struct LibtpmsDebug {
    int fd = -1;
    unsigned level = 0;
    std::string prefix;
  };
  LibtpmsDebug libtpms_debug() const;

 private:
  void write_line(uint32_t indent, const char* fmt, va_list ap);
  int fd_ = -1;
  bool owns_fd_ = false;
  uint32_t level_ = 0;
  std::string prefix_;
};

}  // namespace vtpm::instance
