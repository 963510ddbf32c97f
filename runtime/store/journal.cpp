// Journal (journal.h): the file format, the scan, and pwrite + fdatasync. Every length read from
// the file is checked against what is left before it is used; the scans are bounded by the
// file's size.
#include "store/journal.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "store/blob_format.h"

namespace vtpm::store {
namespace {

constexpr uint8_t kSlotMagic[8] = {'V', 'T', 'P', 'M', 'J', 'N', 'L', '1'};
constexpr uint32_t kRecordMagic = 0x564A5231;  // "VJR1"
constexpr size_t kSlotBody = 8 + 8 + 8 + Journal::kKinds * (1 + Crypto::kSha256Bytes);
constexpr int kMaxEintr = 100;
constexpr uint8_t kOpImage = 1;
constexpr uint8_t kOpRemoved = 2;
static_assert(kSlotBody + Crypto::kSha256Bytes <= Journal::kSlotBytes);
static_assert(2 * Journal::kSlotBytes <= Journal::kRecordsStart);

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Journal::Journal(StateDir& dir, Crypto& crypto, std::string name)
    : dir_(dir), crypto_(crypto), name_(std::move(name)) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::encode_slot(uint8_t* out, uint64_t counter, uint64_t epoch,
                          const Base (&bases)[kKinds]) {
  std::memset(out, 0, kSlotBytes);
  std::memcpy(out, kSlotMagic, sizeof kSlotMagic);
  put_be64(out + 8, counter);
  put_be64(out + 16, epoch);
  uint8_t* p = out + 24;
  for (const Base& b : bases) {
    p[0] = b.present ? 1 : 0;
    if (b.present) std::memcpy(p + 1, b.sha.data(), b.sha.size());
    p += 1 + Crypto::kSha256Bytes;
  }
  crypto_.sha256(Bytes(out, kSlotBody), out + kSlotBody);
}

bool Journal::parse_slot(Bytes slot, uint64_t& counter, uint64_t& epoch, Base (&bases)[kKinds]) {
  if (slot.size() < kSlotBody + Crypto::kSha256Bytes) return false;
  if (std::memcmp(slot.data(), kSlotMagic, sizeof kSlotMagic) != 0) return false;
  uint8_t d[Crypto::kSha256Bytes];
  if (!crypto_.sha256(slot.first(kSlotBody), d) ||
      std::memcmp(d, slot.data() + kSlotBody, sizeof d) != 0) {
    return false;
  }
  counter = get_be64(slot.data() + 8);
  epoch = get_be64(slot.data() + 16);
  const uint8_t* p = slot.data() + 24;
  for (Base& b : bases) {
    if (p[0] > 1) return false;
    b.present = p[0] == 1;
    b.sha.fill(0);
    if (b.present) std::memcpy(b.sha.data(), p + 1, b.sha.size());
    p += 1 + Crypto::kSha256Bytes;
  }
  return true;
}

bool Journal::record_at(Bytes buf, size_t off, uint64_t want_seq, size_t& size, size_t& kind,
                        bool& removed, Bytes& image) {
  if (off > buf.size() || buf.size() - off < kRecordOverhead) return false;
  const uint8_t* p = buf.data() + off;
  if (get_be32(p) != kRecordMagic || get_be64(p + 4) != epoch_) return false;
  const uint64_t seq = get_be64(p + 12);
  const uint8_t k = p[20], op = p[21];
  const uint32_t len = get_be32(p + 24);
  if ((want_seq != 0 && seq != want_seq) || seq == 0 || k < 1 || k > kKinds ||
      (op != kOpImage && op != kOpRemoved) || get_be16(p + 22) != 0 ||
      len > buf.size() - off - kRecordOverhead || (op == kOpRemoved && len != 0)) {
    return false;
  }
  uint8_t d[Crypto::kSha256Bytes];
  if (!crypto_.sha256(Bytes(p, kRecordHeaderBytes + len), d) ||
      std::memcmp(d, p + kRecordHeaderBytes + len, sizeof d) != 0) {
    return false;
  }
  size = kRecordOverhead + len;
  kind = k - 1u;
  removed = op == kOpRemoved;
  image = Bytes(p + kRecordHeaderBytes, len);
  return true;
}

bool Journal::open(std::string& err) {
  if (fd_ >= 0) return true;
  std::vector<uint8_t> buf;
  switch (dir_.read(name_, buf, err)) {
    case FileStatus::Absent: return true;
    case FileStatus::Error: return false;
    case FileStatus::Ok: break;
  }
  if (buf.size() != kBytes) {
    err = "journal " + name_ + " has " + std::to_string(buf.size()) + " bytes, expected " +
          std::to_string(kBytes) + " (it is damaged)";
    return false;
  }
  // The header: the valid slot with the higher counter.
  bool found = false;
  for (size_t s = 0; s < 2; ++s) {
    uint64_t counter = 0, epoch = 0;
    Base bases[kKinds];
    if (!parse_slot(Bytes(buf).subspan(s * kSlotBytes, kSlotBytes), counter, epoch, bases)) continue;
    if (found && counter <= counter_) continue;
    found = true;
    counter_ = counter;
    epoch_ = epoch;
    slot_ = s;
    for (size_t k = 0; k < kKinds; ++k) base_[k] = bases[k];
  }
  if (!found) {
    err = "journal " + name_ + ": neither header copy verifies (the file is damaged)";
    return false;
  }
  // The records, up to the first that does not verify.
  size_t off = kRecordsStart;
  uint64_t want = 0;
  for (size_t n = 0; n < kBytes / kRecordOverhead && off < kBytes; ++n) {
    size_t size = 0, kind = 0;
    bool removed = false;
    Bytes image;
    if (!record_at(buf, off, want, size, kind, removed, image)) break;
    Latest& l = latest_[kind];
    l.has = true;
    l.removed = removed;
    l.any_removed = l.any_removed || removed;
    l.sequence = get_be64(buf.data() + off + 12);
    l.image.assign(image.begin(), image.end());
    want = l.sequence + 1;
    off += size;
  }
  // Nothing valid of this epoch may follow: that would be damage in the middle, not a torn tail.
  for (size_t p = off + 1; p + kRecordOverhead <= kBytes; ++p) {
    if (buf[p] != 0x56 || get_be32(&buf[p]) != kRecordMagic) continue;
    size_t size = 0, kind = 0;
    bool removed = false;
    Bytes image;
    if (record_at(buf, p, 0, size, kind, removed, image)) {
      for (Latest& l : latest_) l = Latest();
      err = "journal " + name_ + ": the record at offset " + std::to_string(off) +
            " is damaged, but later records are intact (the file is damaged)";
      return false;
    }
  }
  next_ = off;
  next_seq_ = want == 0 ? 1 : want;
  fd_ = dir_.open_rw(name_, err);
  return fd_ >= 0;
}

bool Journal::new_epoch(uint64_t& epoch, std::string& err) {
  uint8_t r[8];
  for (int n = 0; n < 4; ++n) {
    if (!crypto_.random_bytes(r, sizeof r)) {
      err = "journal " + name_ + ": no random bytes for a new epoch";
      return false;
    }
    epoch = get_be64(r);
    if (epoch != 0 && epoch != epoch_) return true;
  }
  err = "journal " + name_ + ": the random generator repeats itself";
  return false;
}

bool Journal::create(const Base (&bases)[kKinds], std::string& err) {
  if (fd_ >= 0) {
    err = "journal " + name_ + " is already open";
    return false;
  }
  uint64_t epoch = 0;
  if (!new_epoch(epoch, err)) return false;
  std::vector<uint8_t> file(kBytes, 0);
  encode_slot(file.data(), 1, epoch, bases);
  if (!dir_.write_durable(name_, file, err)) return false;
  fd_ = dir_.open_rw(name_, err);
  if (fd_ < 0) return false;
  counter_ = 1;
  epoch_ = epoch;
  slot_ = 0;
  next_ = kRecordsStart;
  for (size_t k = 0; k < kKinds; ++k) {
    base_[k] = bases[k];
    latest_[k] = Latest();
  }
  ++writes_;
  return true;
}

bool Journal::write_at(const uint8_t* p, size_t n, uint64_t off, std::string& err) {
  size_t done = 0;
  for (int stalls = 0; done < n && stalls < kMaxEintr;) {
    const ssize_t w = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(off + done));
    if (w > 0) {
      done += static_cast<size_t>(w);
    } else if (w < 0 && errno != EINTR) {
      err = "could not write journal " + name_ + ": " + errno_text();
      broken_ = true;
      return false;
    } else {
      ++stalls;
    }
  }
  int r = -1;
  for (int n_try = 0; done == n && n_try < kMaxEintr; ++n_try) {
    r = ::fdatasync(fd_);
    if (r == 0 || errno != EINTR) break;
  }
  if (done != n || r != 0) {
    err = "could not write journal " + name_ + ": " +
          (done != n ? std::string("no progress") : errno_text());
    broken_ = true;  // after a failed flush the page cache may no longer hold what we wrote
    return false;
  }
  ++writes_;
  return true;
}

Journal::Append Journal::append(size_t k, bool removed, Bytes image, std::string& err) {
  if (fd_ < 0 || broken_ || k >= kKinds) {
    err = "journal " + name_ + (broken_ ? " failed earlier; refusing to write" : " is not open");
    return Append::Error;
  }
  if (image.size() > kBytes - next_ || kBytes - next_ - image.size() < kRecordOverhead) {
    return Append::Full;
  }
  rec_.assign(kRecordHeaderBytes, 0);
  uint8_t* h = rec_.data();
  put_be32(h, kRecordMagic);
  put_be64(h + 4, epoch_);
  put_be64(h + 12, next_seq_);
  h[20] = static_cast<uint8_t>(k + 1);
  h[21] = removed ? kOpRemoved : kOpImage;
  put_be32(h + 24, static_cast<uint32_t>(image.size()));
  rec_.insert(rec_.end(), image.begin(), image.end());
  uint8_t d[Crypto::kSha256Bytes];
  if (!crypto_.sha256(rec_, d)) {
    err = "journal " + name_ + ": SHA-256 failed";
    return Append::Error;
  }
  rec_.insert(rec_.end(), d, d + sizeof d);
  if (!write_at(rec_.data(), rec_.size(), next_, err)) return Append::Error;
  next_ += rec_.size();
  Latest& l = latest_[k];
  l.has = true;
  l.removed = removed;
  l.any_removed = l.any_removed || removed;
  l.sequence = next_seq_++;
  l.image.assign(image.begin(), image.end());
  return Append::Ok;
}

bool Journal::reset(const Base (&bases)[kKinds], std::string& err) {
  if (fd_ < 0 || broken_) {
    err = "journal " + name_ + (broken_ ? " failed earlier; refusing to write" : " is not open");
    return false;
  }
  uint64_t epoch = 0;
  if (!new_epoch(epoch, err)) return false;
  uint8_t slot[kSlotBytes];
  encode_slot(slot, counter_ + 1, epoch, bases);
  const size_t other = 1 - slot_;
  if (!write_at(slot, sizeof slot, other * kSlotBytes, err)) return false;
  ++counter_;
  epoch_ = epoch;
  slot_ = other;
  next_ = kRecordsStart;
  for (size_t k = 0; k < kKinds; ++k) {
    base_[k] = bases[k];
    latest_[k] = Latest();
  }
  return true;
}

bool Journal::remove_file(std::string& err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  for (Latest& l : latest_) l = Latest();
  next_ = kRecordsStart;
  broken_ = false;
  return dir_.remove(name_, err) != FileStatus::Error;
}

}  // namespace vtpm::store
