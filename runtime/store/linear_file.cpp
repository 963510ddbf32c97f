// LinearFile (linear_file.h): the path split into directory and name, the checked read, and the
// durable rewrite through StateDir.
#include "store/linear_file.h"

namespace vtpm::store {

bool LinearFile::open(const std::string& path, uint32_t mode, std::string& err) {
  path_ = path;
  loaded_ = false;
  store_ = LinearStore();
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  name_ = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name_.empty() || name_ == "." || name_ == "..") {
    err = "file:// state " + path + " names no file";
    return false;
  }
  if (!dir_.open(dir, mode, err)) {
    err = "file:// state " + path + ": " + err;
    return false;
  }
  dir_.set_lock_name(name_ + ".lock");
  return true;
}

bool LinearFile::load(std::string& err) {
  if (loaded_) return true;
  uint64_t size = 0;
  switch (dir_.size_of(name_, size, err)) {
    case FileStatus::Absent:
      loaded_ = true;  // a fresh store: created by the first write
      absent_ = true;
      return true;
    case FileStatus::Error:
      if (err.find("is not a regular file") != std::string::npos) {
        err = "file:// state " + path_ + " is not a regular file (a block device, a symbolic link?): vtpmd "
              "replaces the file atomically on every write, which needs a regular file";
      } else {
        err = "file:// state " + path_ + ": " + err;
      }
      return false;
    case FileStatus::Ok: break;
  }
  std::vector<uint8_t> file;
  switch (dir_.read(name_, file, err)) {
    case FileStatus::Absent: loaded_ = absent_ = true; return true;
    case FileStatus::Error: err = "file:// state " + path_ + ": " + err; return false;
    case FileStatus::Ok: break;
  }
  LinearStore parsed;
  if (!parse_linear_store(file, parsed, err)) {
    err = "file:// state " + path_ + " " + err;
    return false;
  }
  store_ = std::move(parsed);
  loaded_ = true;
  return true;
}

const std::vector<uint8_t>* LinearFile::blob(size_t k) const {
  if (k >= kLinearBlobs || !store_.blobs[k]) return nullptr;
  return &*store_.blobs[k];
}

bool LinearFile::write(const LinearStore& next, std::string& err) {
  if (!loaded_) {
    err = "file:// state " + path_ + " was not read before a write";
    return false;
  }
  if (!encode_linear_store(next, image_, err) || !dir_.write_durable(name_, image_, err)) {
    err = "file:// state " + path_ + ": " + err;
    return false;
  }
  store_ = next;
  absent_ = false;
  return true;
}

bool LinearFile::create_if_absent(std::string& err) {
  if (!load(err)) return false;
  return !absent_ || write(store_, err);
}

bool LinearFile::put(size_t k, Bytes image, std::string& err) {
  if (k >= kLinearBlobs) {
    err = "no such slot";
    return false;
  }
  LinearStore next = store_;
  next.blobs[k].emplace(image.begin(), image.end());
  return write(next, err);
}

bool LinearFile::clear(size_t k, std::string& err) {
  if (k >= kLinearBlobs) {
    err = "no such slot";
    return false;
  }
  if (!store_.blobs[k]) return true;
  LinearStore next = store_;
  next.blobs[k].reset();
  return write(next, err);
}

}  // namespace vtpm::store
