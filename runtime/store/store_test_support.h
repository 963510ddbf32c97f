// Helpers shared by the store's tests: a temporary directory removed at the end, whole-file
// reads and writes by path (deliberately not through StateDir, so the tests check it from the
// outside), and hex strings.
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vtpm::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vtpm-store-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> read_path(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline bool write_path(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(f);
}

inline bool write_path(const std::string& path, const std::string& text) {
  return write_path(path, std::vector<uint8_t>(text.begin(), text.end()));
}

inline uint32_t mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0xffffffffu;
  return st.st_mode & 07777;
}

inline std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// A child process that runs `hold` (take a lock, say), tells the parent whether it worked, and
// keeps what it holds until release() or the destructor ends it (by closing a pipe; reaped).
class HoldingChild {
 public:
  template <class Hold>
  explicit HoldingChild(Hold&& hold) {
    if (::pipe(ready_) != 0 || ::pipe(release_) != 0) return;
    pid_ = ::fork();
    if (pid_ != 0) {
      ::close(ready_[1]);
      ::close(release_[0]);
      return;
    }
    ::close(ready_[0]);
    ::close(release_[1]);
    const char ok = hold() ? 'y' : 'n';
    if (::write(ready_[1], &ok, 1) != 1) _exit(2);
    char c;
    while (::read(release_[0], &c, 1) > 0) {
    }
    _exit(0);
  }
  HoldingChild(const HoldingChild&) = delete;
  HoldingChild& operator=(const HoldingChild&) = delete;
  ~HoldingChild() { release(); }

  // Waits for the child's answer: true when `hold` returned true.
  bool ready() {
    char c = 0;
    return pid_ > 0 && ::read(ready_[0], &c, 1) == 1 && c == 'y';
  }
  // Ends the child and reaps it; true when it exited with 0.
  bool release() {
    if (pid_ <= 0) return false;
    ::close(release_[1]);
    ::close(ready_[0]);
    int status = 0;
    const bool ok = ::waitpid(pid_, &status, 0) == pid_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    pid_ = -1;
    return ok;
  }

 private:
  pid_t pid_ = -1;
  int ready_[2] = {-1, -1};
  int release_[2] = {-1, -1};
};

}  // namespace vtpm::store::testing
