// State-file and migration-blob codecs (blob_codec.h). The swtpm formats were checked against
// files Debian's swtpm 0.7.1 writes (blob_codec_test.cpp, swtpm_interop_test.cpp): the IV TLV is
// as long as the key (AES-256: 32 bytes, of which CBC uses the first 16), the MAC covers the
// whole IV, the padding is 1..keylen bytes, and the inner part of a control-channel blob is a
// bare TLV stream with no header of its own.
#include "store/blob_codec.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "store/blob_format.h"

namespace vtpm::store {
namespace {

constexpr size_t kMac = Crypto::kSha256Bytes;

std::string fmt(const char* f, unsigned long long a = 0, unsigned long long b = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

BlobError fail(BlobError e, std::string& err, std::string msg) {
  err = std::move(msg);
  return e;
}

void wipe_vec(std::vector<uint8_t>& v) {
  wipe(v.data(), v.size());
  v.clear();
}

bool key_size_ok(size_t n) { return n == 16 || n == 32; }

Bytes str_bytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// swtpm's padding (swtpm_aes.c): 1..keylen bytes, each equal to the pad length.
bool strip_padding(std::vector<uint8_t>& v, size_t key_len) {
  if (v.empty()) return false;
  const size_t pad = v.back();
  if (pad == 0 || pad > key_len || pad > v.size()) return false;
  for (size_t i = v.size() - pad; i < v.size(); ++i) {
    if (v[i] != pad) return false;
  }
  wipe(v.data() + v.size() - pad, pad);
  v.resize(v.size() - pad);
  return true;
}

// Header version 1 and headerless files: AES-CBC under a zero IV over SHA-256(data)‖data.
BlobError legacy_open(Crypto& crypto, Bytes key, Bytes ct, std::vector<uint8_t>& plain,
                      std::string& err) {
  if (!key_size_ok(key.size())) return fail(BlobError::KeyMismatch, err, "key is not 128 or 256 bits");
  if (ct.size() < key.size() || ct.size() % Crypto::kAesBlock != 0) {
    return fail(BlobError::Malformed, err,
                fmt("legacy encrypted data has %llu bytes, not a whole number of AES blocks",
                    ct.size()));
  }
  const uint8_t zero_iv[Crypto::kAesBlock] = {};
  std::vector<uint8_t> dec(ct.size());
  if (!crypto.cbc_decrypt(key, Bytes(zero_iv, sizeof zero_iv), ct, dec.data())) {
    return fail(BlobError::Internal, err, "AES-CBC decryption failed");
  }
  uint8_t digest[Crypto::kSha256Bytes];
  bool ok = strip_padding(dec, key.size()) && dec.size() >= sizeof digest &&
            crypto.sha256(Bytes(dec).subspan(sizeof digest), digest) &&
            secret_equal(digest, dec.data(), sizeof digest);
  if (!ok) {
    wipe_vec(dec);
    return fail(BlobError::Integrity, err,
                "legacy encrypted data does not verify (wrong key, or not encrypted, or damaged)");
  }
  plain.assign(dec.begin() + sizeof digest, dec.end());
  wipe_vec(dec);
  return BlobError::None;
}

constexpr size_t kMarkBytes = 16;

void put_mark(uint8_t out[kMarkBytes], const JournalMark& m) {
  put_be64(out, m.epoch);
  put_be64(out + 8, m.sequence);
}

// `key_size`: the key-size TLV's byte, or empty for a file written before it existed.
void append_gcm_aad(std::vector<uint8_t>& aad, const uint8_t* hdr, const Binding& b,
                    uint64_t generation, Bytes key_size, Bytes mark) {
  const Bytes label = str_bytes(kGcmAadLabel);
  aad.insert(aad.end(), label.begin(), label.end());
  aad.insert(aad.end(), hdr, hdr + kHeaderBytes);
  aad.push_back(b.tpm_version);
  aad.push_back(static_cast<uint8_t>(b.kind));
  uint8_t n[12];
  put_be64(n, generation);
  put_be32(n + 8, static_cast<uint32_t>(b.identity.size()));
  aad.insert(aad.end(), n, n + sizeof n);
  aad.insert(aad.end(), b.identity.begin(), b.identity.end());
  aad.insert(aad.end(), key_size.begin(), key_size.end());
  aad.insert(aad.end(), mark.begin(), mark.end());
}

// The journal mark TLV, when present: 16 bytes.
bool read_mark(const Container& c, DecodedState& out, std::string& err) {
  if (!c.has(tag::kJournalMark)) return true;
  const Bytes m = c.value(tag::kJournalMark);
  if (m.size() != kMarkBytes) {
    err = fmt("journal mark has %llu bytes, expected 16", m.size());
    return false;
  }
  out.has_mark = true;
  out.mark.epoch = get_be64(m.data());
  out.mark.sequence = get_be64(m.data() + 8);
  return true;
}

// vtpmd's checked plain file: TLV 1 [, 0x15], 0x14 in that order, the digest over all before it.
BlobError decode_checked_plain(Crypto& crypto, Bytes file, const Container& c, DecodedState& out,
                               std::string& err) {
  const Bytes data = c.value(tag::kData), digest = c.value(tag::kSha256);
  const size_t mark_len = c.has(tag::kJournalMark) ? kTlvHeaderBytes + kMarkBytes : 0;
  const size_t body = kHeaderBytes + kTlvHeaderBytes + data.size() + mark_len;
  if (digest.size() != Crypto::kSha256Bytes) {
    return fail(BlobError::Malformed, err,
                fmt("SHA-256 TLV has %llu bytes, expected 32", digest.size()));
  }
  if (!read_mark(c, out, err)) return BlobError::Malformed;
  if (data.data() != file.data() + kHeaderBytes + kTlvHeaderBytes ||
      file.size() != body + kTlvHeaderBytes + Crypto::kSha256Bytes ||
      digest.data() != file.data() + body + kTlvHeaderBytes) {
    return fail(BlobError::Malformed, err,
                "the TLVs are not in the order vtpmd writes them (data, mark, SHA-256)");
  }
  uint8_t want[Crypto::kSha256Bytes];
  if (!crypto.sha256(file.first(body), want)) {
    return fail(BlobError::Internal, err, "SHA-256 failed");
  }
  if (!secret_equal(want, digest.data(), sizeof want)) {
    return fail(BlobError::Integrity, err,
                "SHA-256 of the data does not match (the file is damaged)");
  }
  out.plain.assign(data.begin(), data.end());
  out.checked = true;
  return BlobError::None;
}

BlobError decode_gcm(Crypto& crypto, const Container& c, const StateKey* key, const Binding& b,
                     DecodedState& out, std::string& err) {
  const uint32_t want = Container::tag_bit(tag::kGcmNonce) | Container::tag_bit(tag::kGcmCiphertext) |
                        Container::tag_bit(tag::kGcmTag) | Container::tag_bit(tag::kGcmGeneration);
  const uint32_t allowed =
      want | Container::tag_bit(tag::kJournalMark) | Container::tag_bit(tag::kGcmKeySize);
  if (c.header().flags != flag::kGcm) {
    return fail(BlobError::Malformed, err,
                fmt("header flags 0x%llx mix AES-256-GCM with swtpm flags", c.header().flags));
  }
  if (!c.only(allowed, err) || !c.require(want, err) || !read_mark(c, out, err)) {
    return BlobError::Malformed;
  }
  const Bytes nonce = c.value(tag::kGcmNonce), ct = c.value(tag::kGcmCiphertext),
              tg = c.value(tag::kGcmTag), gen = c.value(tag::kGcmGeneration);
  if (nonce.size() != Crypto::kGcmNonceBytes || tg.size() != Crypto::kGcmTagBytes || gen.size() != 8) {
    return fail(BlobError::Malformed, err,
                fmt("GCM nonce/tag/generation sizes are %llu/%llu, expected 12/16 and 8",
                    nonce.size(), tg.size()));
  }
  const Bytes key_size = c.value(tag::kGcmKeySize);
  if (c.has(tag::kGcmKeySize) && (key_size.size() != 1 || !key_size_ok(key_size[0]))) {
    return fail(BlobError::Malformed, err,
                fmt("key-size TLV has %llu bytes (value %llu), expected 1 byte of 16 or 32",
                    key_size.size(), key_size.empty() ? 0 : key_size[0]));
  }
  if (key == nullptr) {
    return fail(BlobError::KeyMissing, err,
                "encrypted with AES-256-GCM (vtpmd), but no key was given (--key or --pwdfile)");
  }
  // Before the tag is checked, as swtpm checks its 256-bit flag: a key of the other size is
  // named as such. The byte is authenticated (AAD), so an edited one fails the tag instead.
  if (c.has(tag::kGcmKeySize) && key_size[0] != key->raw.size()) {
    return fail(BlobError::KeyMismatch, err,
                fmt("encrypted with a %llu-bit key, but the given key has %llu bits",
                    key_size[0] * 8ull, key->raw.size() * 8));
  }
  out.generation = get_be64(gen.data());
  std::vector<uint8_t> aad;
  append_gcm_aad(aad, c.header_bytes().data(), b, out.generation, key_size,
                 c.value(tag::kJournalMark));
  out.plain.resize(ct.size());
  if (!crypto.gcm_open(key->gcm.span(), nonce, aad, ct, tg, out.plain.data())) {
    out.plain.clear();
    return fail(BlobError::Integrity, err,
                "AES-256-GCM authentication failed: wrong key, or the file belongs to another "
                "blob type, instance identity or TPM version, or it was modified");
  }
  out.format = FileFormat::Gcm;
  return BlobError::None;
}

// `key256`: the header's 256-bit flag for this layer (0x08 state key, 0x10 migration key).
BlobError decode_swtpm_encrypted(Crypto& crypto, const Container& c, Bytes key, bool key256,
                                 uint16_t t_ct, uint16_t t_iv, std::vector<uint8_t>& plain,
                                 std::string& err) {
  const size_t need = key256 ? 32 : 16;
  if (key.size() != need) {
    return fail(BlobError::KeyMismatch, err,
                fmt("encrypted with a %llu-bit key, but the given key has %llu bits", need * 8,
                    key.size() * 8));
  }
  const uint32_t allowed = Container::tag_bit(t_ct) | Container::tag_bit(tag::kHmac) |
                           Container::tag_bit(t_iv);
  const uint32_t required = Container::tag_bit(t_ct) | Container::tag_bit(tag::kHmac);
  // swtpm looks for the HMAC and the ciphertext first (TPM_FAIL without them); tags beyond
  // those three are refused here too, where swtpm would ignore them.
  if (!c.require(required, err)) return BlobError::NoCiphertext;
  if (!c.only(allowed, err)) return BlobError::Malformed;
  return swtpm_cbc_open(crypto, key, c.value(t_ct), c.value(t_iv), c.value(tag::kHmac), plain, err);
}

}  // namespace

const char* blob_error_name(BlobError e) {
  switch (e) {
    case BlobError::None: return "ok";
    case BlobError::Malformed: return "malformed";
    case BlobError::BadVersion: return "unsupported version";
    case BlobError::KeyMissing: return "key missing";
    case BlobError::KeyMismatch: return "key size mismatch";
    case BlobError::NotEncrypted: return "not encrypted";
    case BlobError::Integrity: return "integrity check failed";
    case BlobError::NoCiphertext: return "no HMAC or ciphertext";
    case BlobError::Internal: return "crypto failure";
  }
  return "?";
}

bool derive_state_key(Crypto& crypto, Bytes raw, StateKey& out, std::string& err) {
  if (!key_size_ok(raw.size())) {
    err = fmt("state key has %llu bytes, expected 16 or 32", raw.size());
    return false;
  }
  uint8_t k[Crypto::kGcmKeyBytes];
  if (!crypto.hkdf_sha256(raw, str_bytes(kGcmKeyInfo), k, sizeof k)) {
    err = "HKDF-SHA256 failed";
    return false;
  }
  out.raw.assign(raw.data(), raw.size());
  out.gcm.assign(k, sizeof k);
  wipe(k, sizeof k);
  return true;
}

bool swtpm_cbc_seal(Crypto& crypto, Bytes key, Bytes plain, std::vector<uint8_t>& ct,
                    std::vector<uint8_t>& iv, uint8_t mac[32], std::string& err) {
  if (!key_size_ok(key.size())) {
    err = "key is not 128 or 256 bits";
    return false;
  }
  const size_t pad = key.size() - plain.size() % key.size();  // 1..keylen, never 0
  std::vector<uint8_t> padded;
  padded.reserve(plain.size() + pad);
  padded.assign(plain.begin(), plain.end());
  padded.insert(padded.end(), pad, static_cast<uint8_t>(pad));
  iv.assign(key.size(), 0);  // swtpm: the IV is as long as the key
  ct.assign(padded.size(), 0);
  bool ok = crypto.random_bytes(iv.data(), iv.size()) &&
            crypto.cbc_encrypt(key, Bytes(iv).first(Crypto::kAesBlock), padded, ct.data()) &&
            crypto.hmac_sha256(key, ct, iv, mac);
  wipe_vec(padded);
  if (!ok) err = "AES-CBC/HMAC encryption failed";
  return ok;
}

BlobError swtpm_cbc_open(Crypto& crypto, Bytes key, Bytes ct, Bytes iv, Bytes mac,
                         std::vector<uint8_t>& plain, std::string& err) {
  if (mac.size() != kMac) {
    return fail(BlobError::Malformed, err, fmt("HMAC has %llu bytes, expected 32", mac.size()));
  }
  if (!iv.empty() && iv.size() != key.size()) {
    return fail(BlobError::Malformed, err,
                fmt("IV has %llu bytes, but a %llu-bit key needs an IV of its own length", iv.size(),
                    key.size() * 8));
  }
  if (ct.size() < key.size() || ct.size() % Crypto::kAesBlock != 0) {
    return fail(BlobError::Malformed, err,
                fmt("ciphertext has %llu bytes, not a whole number of %llu-byte pad blocks",
                    ct.size(), key.size()));
  }
  uint8_t want[kMac];
  if (!crypto.hmac_sha256(key, ct, iv, want)) return fail(BlobError::Internal, err, "HMAC failed");
  if (!secret_equal(want, mac.data(), kMac)) {
    return fail(BlobError::Integrity, err,
                "HMAC does not verify: wrong key, or the data was modified");
  }
  const uint8_t zero_iv[Crypto::kAesBlock] = {};
  const Bytes cbc_iv = iv.empty() ? Bytes(zero_iv, sizeof zero_iv) : iv.first(Crypto::kAesBlock);
  plain.assign(ct.size(), 0);
  if (!crypto.cbc_decrypt(key, cbc_iv, ct, plain.data())) {
    wipe_vec(plain);
    return fail(BlobError::Internal, err, "AES-CBC decryption failed");
  }
  if (!strip_padding(plain, key.size())) {
    wipe_vec(plain);
    return fail(BlobError::Integrity, err, "bad padding after a valid HMAC");
  }
  return BlobError::None;
}

BlobError decode_state_file(Crypto& crypto, Bytes file, const StateKey* key, const Binding& b,
                            DecodedState& out, std::string& err) {
  out = DecodedState();
  if (file.empty()) return fail(BlobError::Malformed, err, "the file is empty");
  if (file.size() < kHeaderBytes) {
    return fail(BlobError::Malformed, err,
                fmt("the file has %llu bytes, too few for any state file", file.size()));
  }
  Container c;
  std::string perr;
  if (!Container::parse(file, c, perr)) {
    if (looks_like_header(file)) {
      const bool version = file[1] > kFormatVersion || file[0] > kFormatVersion;
      return fail(version ? BlobError::BadVersion : BlobError::Malformed, err, perr);
    }
    // No header: a file of swtpm before blob headers (its own test data still has some).
    if (key == nullptr) {
      out.plain.assign(file.begin(), file.end());
      out.format = FileFormat::Legacy;
      return BlobError::None;
    }
    out.format = FileFormat::LegacyEncrypted;
    return legacy_open(crypto, key->raw.span(), file, out.plain, err);
  }
  const uint16_t flags = c.header().flags;
  if ((flags & (flag::kMigrationEncrypted | flag::kMigrationData | flag::kMigration256)) != 0) {
    return fail(BlobError::Malformed, err,
                fmt("header flags 0x%llx mark a control-channel (migration) blob, not a state file",
                    flags));
  }
  if ((flags & ~flag::kKnown) != 0) {
    return fail(BlobError::Malformed, err, fmt("unknown header flags 0x%llx", flags));
  }
  const bool encrypted = (flags & flag::kEncrypted) != 0;
  if (c.header().version == 1) {
    if ((flags & ~(flag::kEncrypted | flag::kEncrypted256)) != 0) {
      return fail(BlobError::Malformed, err,
                  fmt("header version 1 with flags 0x%llx it never had", flags));
    }
    if (key == nullptr) {
      if (encrypted) return fail(BlobError::KeyMissing, err, "encrypted, but no key was given");
      out.plain.assign(c.payload().begin(), c.payload().end());
      out.format = FileFormat::Legacy;
      return BlobError::None;
    }
    if (!encrypted) {
      return fail(BlobError::NotEncrypted, err,
                  "the file is not encrypted, but a key was given (refusing to downgrade)");
    }
    out.format = FileFormat::LegacyEncrypted;
    return legacy_open(crypto, key->raw.span(), c.payload(), out.plain, err);
  }
  if ((flags & flag::kGcm) != 0) return decode_gcm(crypto, c, key, b, out, err);
  if (encrypted) {
    if (key == nullptr) {
      return fail(BlobError::KeyMissing, err,
                  "encrypted with a swtpm state key (AES-CBC), but no key was given");
    }
    out.format = FileFormat::SwtpmEncrypted;
    return decode_swtpm_encrypted(crypto, c, key->raw.span(), (flags & flag::kEncrypted256) != 0,
                                  tag::kEncryptedData, tag::kIvecEncryptedData, out.plain, err);
  }
  if (flags != 0) return fail(BlobError::Malformed, err, fmt("unexpected header flags 0x%llx", flags));
  const uint32_t data = Container::tag_bit(tag::kData);
  const uint32_t checked = data | Container::tag_bit(tag::kSha256);
  if (!c.only(checked | Container::tag_bit(tag::kJournalMark), err) || !c.require(data, err)) {
    return BlobError::Malformed;
  }
  if (c.has(tag::kJournalMark) && !c.has(tag::kSha256)) {
    return fail(BlobError::Malformed, err, "journal mark without the SHA-256 TLV it comes with");
  }
  if (key != nullptr) {
    return fail(BlobError::NotEncrypted, err,
                "the file is not encrypted, but a key was given (refusing to downgrade)");
  }
  out.format = FileFormat::Plain;
  if (c.has(tag::kSha256)) {
    const BlobError e = decode_checked_plain(crypto, file, c, out, err);
    if (e != BlobError::None) out = DecodedState();
    return e;
  }
  out.plain.assign(c.value(tag::kData).begin(), c.value(tag::kData).end());
  return BlobError::None;
}

void encode_plain_file(Bytes plain, std::vector<uint8_t>& out) {
  start_blob(out, kTlvHeaderBytes + plain.size());
  append_tlv(out, tag::kData, plain);
  finish_blob(out, 1, 0);  // swtpm writes version 2, min_version 1
}

bool encode_checked_plain_file(Crypto& crypto, Bytes plain, const JournalMark* mark,
                               std::vector<uint8_t>& out, std::string& err) {
  const size_t mark_len = mark != nullptr ? kTlvHeaderBytes + kMarkBytes : 0;
  const size_t total = kHeaderBytes + kTlvHeaderBytes + plain.size() + mark_len + kTlvHeaderBytes +
                       Crypto::kSha256Bytes;
  if (total > UINT32_MAX) {
    err = "state blob too large";
    return false;
  }
  start_blob(out, total - kHeaderBytes);
  append_tlv(out, tag::kData, plain);
  if (mark != nullptr) {
    uint8_t m[kMarkBytes];
    put_mark(m, *mark);
    append_tlv(out, tag::kJournalMark, Bytes(m, sizeof m));
  }
  // The header must carry the final length before the digest covers it.
  header_bytes(out.data(), 1, 0, static_cast<uint32_t>(total));
  uint8_t d[Crypto::kSha256Bytes];
  if (!crypto.sha256(out, d)) {
    out.clear();
    err = "SHA-256 failed";
    return false;
  }
  append_tlv(out, tag::kSha256, Bytes(d, sizeof d));
  return out.size() == total;
}

bool encode_gcm_file(Crypto& crypto, const StateKey& key, const Binding& b, uint64_t generation,
                     Bytes plain, std::vector<uint8_t>& out, std::string& err,
                     const JournalMark* mark) {
  if (key.gcm.size() != Crypto::kGcmKeyBytes || !key_size_ok(key.raw.size())) {
    err = "no AES-256-GCM key";
    return false;
  }
  const uint8_t key_size = static_cast<uint8_t>(key.raw.size());
  uint8_t m[kMarkBytes];
  if (mark != nullptr) put_mark(m, *mark);
  const Bytes mark_bytes = mark != nullptr ? Bytes(m, sizeof m) : Bytes();
  const size_t total = kHeaderBytes + 5 * kTlvHeaderBytes + 8 + Crypto::kGcmNonceBytes +
                       plain.size() + Crypto::kGcmTagBytes + sizeof key_size +
                       (mark != nullptr ? kTlvHeaderBytes + kMarkBytes : 0);
  if (total > UINT32_MAX) {
    err = "state blob too large";
    return false;
  }
  uint8_t hdr[kHeaderBytes];
  header_bytes(hdr, 2, flag::kGcm, static_cast<uint32_t>(total));
  uint8_t gen[8], nonce[Crypto::kGcmNonceBytes], tg[Crypto::kGcmTagBytes];
  put_be64(gen, generation);
  if (!crypto.random_bytes(nonce, sizeof nonce)) {
    err = "no random bytes for the GCM nonce";
    return false;
  }
  std::vector<uint8_t> aad;
  append_gcm_aad(aad, hdr, b, generation, Bytes(&key_size, 1), mark_bytes);

  start_blob(out, total - kHeaderBytes);
  append_tlv(out, tag::kGcmGeneration, Bytes(gen, sizeof gen));
  append_tlv(out, tag::kGcmKeySize, Bytes(&key_size, 1));
  append_tlv(out, tag::kGcmNonce, Bytes(nonce, sizeof nonce));
  uint8_t th[kTlvHeaderBytes];
  put_be16(th, tag::kGcmCiphertext);
  put_be32(th + 2, static_cast<uint32_t>(plain.size()));
  out.insert(out.end(), th, th + sizeof th);
  const size_t ct_off = out.size();
  out.resize(ct_off + plain.size());
  if (!crypto.gcm_seal(key.gcm.span(), Bytes(nonce, sizeof nonce), aad, plain, out.data() + ct_off,
                       tg)) {
    out.clear();
    err = "AES-256-GCM encryption failed";
    return false;
  }
  append_tlv(out, tag::kGcmTag, Bytes(tg, sizeof tg));
  if (mark != nullptr) append_tlv(out, tag::kJournalMark, mark_bytes);
  std::copy(hdr, hdr + kHeaderBytes, out.begin());
  return out.size() == total;
}

bool encode_swtpm_encrypted_file(Crypto& crypto, Bytes key, Bytes plain, std::vector<uint8_t>& out,
                                 std::string& err) {
  std::vector<uint8_t> ct, iv;
  uint8_t mac[kMac];
  if (!swtpm_cbc_seal(crypto, key, plain, ct, iv, mac, err)) return false;
  start_blob(out, 3 * kTlvHeaderBytes + ct.size() + kMac + iv.size());
  append_tlv(out, tag::kEncryptedData, ct);
  append_tlv(out, tag::kHmac, Bytes(mac, kMac));
  append_tlv(out, tag::kIvecEncryptedData, iv);
  finish_blob(out, 1, flag::kEncrypted | (key.size() == 32 ? flag::kEncrypted256 : 0));
  return true;
}

bool encode_migration_blob(Crypto& crypto, Bytes plain, Bytes migration_key,
                           std::vector<uint8_t>& out, std::string& err, Bytes file_key) {
  std::vector<uint8_t> inner;
  uint16_t inner_flags = 0;
  if (file_key.empty()) {
    inner.reserve(kTlvHeaderBytes + plain.size());
    append_tlv(inner, tag::kData, plain);
  } else {  // still sealed with the state key: the receiver needs that key (swtpm's TLVs 2, 3, 6)
    std::vector<uint8_t> ct, iv;
    uint8_t mac[kMac];
    if (!swtpm_cbc_seal(crypto, file_key, plain, ct, iv, mac, err)) return false;
    inner.reserve(3 * kTlvHeaderBytes + ct.size() + kMac + iv.size());
    append_tlv(inner, tag::kEncryptedData, ct);
    append_tlv(inner, tag::kHmac, Bytes(mac, kMac));
    append_tlv(inner, tag::kIvecEncryptedData, iv);
    inner_flags = flag::kEncrypted | (file_key.size() == 32 ? flag::kEncrypted256 : 0);
  }
  if (migration_key.empty()) {
    start_blob(out, kTlvHeaderBytes + inner.size());
    append_tlv(out, tag::kMigrationData, inner);
    wipe_vec(inner);
    finish_blob(out, 1, flag::kMigrationData | inner_flags);
    return true;
  }
  std::vector<uint8_t> ct, iv;
  uint8_t mac[kMac];
  const bool ok = swtpm_cbc_seal(crypto, migration_key, inner, ct, iv, mac, err);
  wipe_vec(inner);
  if (!ok) return false;
  start_blob(out, 3 * kTlvHeaderBytes + ct.size() + kMac + iv.size());
  append_tlv(out, tag::kEncryptedMigrationData, ct);
  append_tlv(out, tag::kHmac, Bytes(mac, kMac));
  append_tlv(out, tag::kIvecMigrationData, iv);
  finish_blob(out, 1,
              flag::kMigrationEncrypted | flag::kMigrationData | inner_flags |
                  (migration_key.size() == 32 ? flag::kMigration256 : 0));
  return true;
}

BlobError decode_migration_blob(Crypto& crypto, Bytes blob, Bytes migration_key, Bytes file_key,
                                std::vector<uint8_t>& plain, std::string& err, bool said_encrypted) {
  plain.clear();
  Container c;
  if (!Container::parse(blob, c, err)) {
    const bool version = blob.size() >= 2 && (blob[1] > kFormatVersion || blob[0] > kFormatVersion);
    return version ? BlobError::BadVersion : BlobError::Malformed;
  }
  const uint16_t flags = c.header().flags;
  if ((flags & ~(flag::kKnown & ~flag::kGcm)) != 0) {
    return fail(BlobError::Malformed, err, fmt("unknown header flags 0x%llx", flags));
  }
  if (c.payload().empty()) return BlobError::None;  // swtpm: a bare header clears the blob

  // Outer layer: the migration key, if the blob says it was used.
  std::vector<uint8_t> inner;
  const bool v1 = c.header().version == 1;
  if ((flags & flag::kMigrationEncrypted) != 0) {
    if (migration_key.empty()) {
      return fail(BlobError::KeyMissing, err,
                  "encrypted with a migration key, but no --migration-key was given");
    }
    BlobError e = v1 ? legacy_open(crypto, migration_key, c.payload(), inner, err)
                     : decode_swtpm_encrypted(crypto, c, migration_key,
                                              (flags & flag::kMigration256) != 0,
                                              tag::kEncryptedMigrationData,
                                              tag::kIvecMigrationData, inner, err);
    if (e != BlobError::None) return e;
  } else if (v1) {
    inner.assign(c.payload().begin(), c.payload().end());
  } else {
    const uint32_t m = Container::tag_bit(tag::kMigrationData);
    if (!c.only(m, err) || !c.require(m, err)) return BlobError::Malformed;
    inner.assign(c.value(tag::kMigrationData).begin(), c.value(tag::kMigrationData).end());
  }

  // Inner layer: the state-file key, if the blob or the request says it was used (swtpm 0.7.1
  // SWTPM_NVRAM_SetStateBlob decrypts on either).
  BlobError e = BlobError::None;
  if ((flags & flag::kEncrypted) != 0 || said_encrypted) {
    if (file_key.empty()) {
      e = fail(BlobError::KeyMissing, err,
               "encrypted with a state key, but no --key or --pwdfile was given");
    } else if (v1) {
      e = legacy_open(crypto, file_key, inner, plain, err);
    } else {
      Container ic;
      if (!Container::parse_tlvs(inner, ic, err)) {
        e = BlobError::Malformed;
      } else {
        e = decode_swtpm_encrypted(crypto, ic, file_key, (flags & flag::kEncrypted256) != 0,
                                   tag::kEncryptedData, tag::kIvecEncryptedData, plain, err);
      }
    }
  } else if (v1) {
    plain.swap(inner);
  } else {
    Container ic;
    const uint32_t d = Container::tag_bit(tag::kData);
    if (!Container::parse_tlvs(inner, ic, err) || !ic.only(d, err) || !ic.require(d, err)) {
      e = BlobError::Malformed;
    } else {
      plain.assign(ic.value(tag::kData).begin(), ic.value(tag::kData).end());
    }
  }
  wipe_vec(inner);
  if (e != BlobError::None) err = "inner blob: " + err;
  return e;
}

}  // namespace vtpm::store
