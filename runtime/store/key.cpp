// Key loading (key.h): bounded reads of the key or passphrase source, the hex/binary parsers and
// the two passphrase KDFs. Every buffer that held key material is wiped before it is released.
#include "store/key.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace vtpm::store {
namespace {

using instance::KeyConfig;
using instance::KeySource;

constexpr size_t kMaxKeyFile = 4096;        // a hex key with whitespace fits many times over
constexpr size_t kMaxPassphrase = 64 * 1024;
constexpr uint32_t kPbkdf2Iterations = 1000;  // swtpm key.c
constexpr uint8_t kPbkdf2Salt[] = {'s', 'w', 't', 'p', 'm'};
constexpr int kMaxEintr = 100;

std::string sys_err(const char* what, const std::string& name) {
  return std::string(what) + " " + name + ": " + std::strerror(errno);
}

// Reads fd to EOF into `out` (capacity reserved up front, so key bytes are never reallocated).
bool read_all(int fd, size_t max, const std::string& name, std::vector<uint8_t>& out,
              std::string& err) {
  out.clear();
  out.reserve(max + 1);
  uint8_t buf[512];
  int interrupted = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR && ++interrupted < kMaxEintr) continue;
      err = sys_err("could not read", name);
      wipe(buf, sizeof buf);
      return false;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max) {
      wipe(buf, sizeof buf);
      err = name + " is larger than " + std::to_string(max) + " bytes";
      return false;
    }
    out.insert(out.end(), buf, buf + n);
  }
  wipe(buf, sizeof buf);
  return true;
}

bool read_source(const KeyConfig& cfg, size_t max, std::vector<uint8_t>& out, std::string& name,
                 std::string& err) {
  const bool by_path = cfg.source == KeySource::KeyFile || cfg.source == KeySource::PwdFile;
  if (!by_path) {
    name = "key fd " + std::to_string(cfg.fd);
    if (cfg.fd < 0) {
      err = "no file descriptor given for the key";
      return false;
    }
    return read_all(cfg.fd, max, name, out, err);
  }
  name = cfg.path;
  const int fd = ::open(cfg.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    err = sys_err("could not open", name);
    return false;
  }
  const bool ok = read_all(fd, max, name, out, err);
  ::close(fd);
  return ok;
}

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(uint8_t c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

bool parse_key_file(Bytes content, instance::KeyFormat format, uint32_t key_bits, SecretKey& out,
                    std::string& err) {
  out.clear();
  if (key_bits != 128 && key_bits != 256) {
    err = "key length " + std::to_string(key_bits) + " bits is not 128 or 256";
    return false;
  }
  const size_t want = key_bits / 8;
  if (format == instance::KeyFormat::Binary) {
    if ((content.size() != 16 && content.size() != 32) || content.size() > want) {
      err = "binary key has " + std::to_string(content.size()) + " bytes; expected " +
            (want == 16 ? std::string("16") : std::string("16 or 32"));
      return false;
    }
    out.assign(content.data(), content.size());
    return true;
  }
  size_t i = 0;
  if (content.size() >= 2 && content[0] == '0' && content[1] == 'x') i = 2;
  uint8_t key[32];
  size_t digits = 0;
  for (; i < content.size() && hex_value(content[i]) >= 0; ++i, ++digits) {
    if (digits / 2 >= sizeof key) continue;  // counted, not stored: reported below
    const uint8_t v = static_cast<uint8_t>(hex_value(content[i]));
    key[digits / 2] = (digits % 2 == 0) ? static_cast<uint8_t>(v << 4)
                                        : static_cast<uint8_t>(key[digits / 2] | v);
  }
  bool ok = true;
  for (size_t j = i; j < content.size(); ++j) {
    if (!is_space(content[j])) {
      err = "hex key: unexpected character at offset " + std::to_string(j);
      ok = false;
      break;
    }
  }
  if (ok && digits != want * 2) {
    err = "hex key has " + std::to_string(digits) + " digits; a " + std::to_string(key_bits) +
          "-bit key (mode " + (key_bits == 128 ? "aes-cbc" : "aes-256-cbc") + ") needs " +
          std::to_string(want * 2);
    ok = false;
  }
  if (ok) out.assign(key, want);
  wipe(key, sizeof key);
  return ok;
}

bool derive_passphrase_key(Crypto& crypto, Bytes passphrase, instance::Kdf kdf, uint32_t key_bits,
                           SecretKey& out, std::string& err) {
  out.clear();
  if (key_bits != 128 && key_bits != 256) {
    err = "key length " + std::to_string(key_bits) + " bits is not 128 or 256";
    return false;
  }
  const size_t want = key_bits / 8;
  uint8_t buf[Crypto::kSha512Bytes];
  bool ok = false;
  switch (kdf) {
    case instance::Kdf::Pbkdf2:
      ok = crypto.pbkdf2_sha512(passphrase, Bytes(kPbkdf2Salt, sizeof kPbkdf2Salt),
                                kPbkdf2Iterations, buf, want);
      break;
    case instance::Kdf::Sha512:
      ok = crypto.sha512(passphrase, buf);
      break;
  }
  if (ok) out.assign(buf, want);
  else err = "key derivation from the passphrase failed";
  wipe(buf, sizeof buf);
  return ok;
}

bool load_key(Crypto& crypto, const KeyConfig& cfg, SecretKey& out, std::string& err) {
  out.clear();
  std::vector<uint8_t> content;
  std::string name;
  bool ok = false;
  switch (cfg.source) {
    case KeySource::None:
      return true;
    case KeySource::Manager:  // released by vtpm-manager at start (runtime/instance/manager_client.h)
      err = "the key of manager=" + cfg.path + " comes from the manager, not from a file";
      return false;
    case KeySource::KeyFile:
    case KeySource::KeyFd:
      ok = read_source(cfg, kMaxKeyFile, content, name, err) &&
           parse_key_file(content, cfg.format, cfg.key_bits, out, err);
      if (!ok && !name.empty() && err.find(name) == std::string::npos) err = name + ": " + err;
      break;
    case KeySource::PwdFile:
    case KeySource::PwdFd:
      ok = read_source(cfg, kMaxPassphrase, content, name, err) &&
           derive_passphrase_key(crypto, content, cfg.kdf, cfg.key_bits, out, err);
      break;
  }
  wipe(content.data(), content.size());
  if (ok && cfg.remove && (cfg.source == KeySource::KeyFile || cfg.source == KeySource::PwdFile)) {
    if (::unlink(cfg.path.c_str()) != 0 && errno != ENOENT) {
      err = sys_err("could not remove", cfg.path);
      out.clear();
      return false;
    }
  }
  if (!ok) out.clear();
  return ok;
}

}  // namespace vtpm::store
